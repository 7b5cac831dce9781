//! CPU twin of `shaders/masks.wgsl`: label maps gathered through a sample's
//! own inverse map by nearest neighbour, never blended. Per output pixel the
//! same f32 operations in the same order as `warp_pixel` at the pixel centre
//! (field transform, map, projective divide), then: outside any clip
//! stage's canvas, or outside the source, the pixel takes `ignore`; else the
//! source pixel at (floor(u), floor(v)) (folded for edge / reflect /
//! symmetric padding, as the image's taps are).

use super::field::{render, FieldScratch};
use super::sample::fold_index;
use crate::codes::pad_mode;
use crate::plan::{kind, GpuClip, GpuGlobals, GpuSample};
use crate::target_types::{Mask, MaskData};

/// A batch's label maps to gather: each sample's masks (each of its
/// source's size) and the ignore values of u8 and u16 masks.
pub type MaskJob<'a> = (&'a [Vec<&'a Mask>], (u8, u16));

/// Marks an output pixel whose source lies outside (it takes `ignore`).
pub const OUTSIDE: u32 = u32::MAX;

/// floor(a / b), decided by products: the quotient's floor corrected so
/// that q b <= a < (q + 1) b (b made positive). A divide may be off by a few
/// ulps on a GPU (Vulkan allows 2.5), products are correctly rounded on
/// both sides, so both backends pick the same pixel. b = 1 (affine maps)
/// gives floor(a).
#[inline(always)]
pub fn div_floor(a: f32, b: f32) -> f32 {
    let (a, b) = if b < 0.0 { (-a, -b) } else { (a, b) };
    let mut q = (a / b).floor();
    if q * b > a {
        q -= 1.0;
    } else if (q + 1.0) * b <= a {
        q += 1.0;
    }
    q
}

/// The hard centre test of one clip stage: the point maps inside its
/// canvas, 0 <= u / w < width (and v), decided by products as `div_floor`.
#[inline(always)]
fn inside_clip(c: &GpuClip, px: f32, py: f32) -> bool {
    let u = c.r0[0] * px + c.r0[1] * py + c.r0[2];
    let v = c.r1[0] * px + c.r1[1] * py + c.r1[2];
    let w = c.r2[0] * px + c.r2[1] * py + c.r2[2];
    let (u, v, w) = if w < 0.0 { (-u, -v, -w) } else { (u, v, w) };
    u >= 0.0 && u < c.r0[3] * w && v >= 0.0 && v < c.r1[3] * w
}

/// Per output pixel (row-major, `gl.out` wide and high) of sample `g` (a
/// source of `g.src[1]` x `g.src[2]`): the index of the source pixel its
/// centre maps to, or [`OUTSIDE`].
pub fn source_indices(gl: &GpuGlobals, g: &GpuSample, out: &mut Vec<u32>) {
    let (w, h) = (gl.out[0] as usize, gl.out[1] as usize);
    let (sw, sh) = (g.src[1], g.src[2]);
    let mode = (g.src[3] >> pad_mode::SHIFT) & 3;
    let mask = g.field.mask();
    let mut planes: [Vec<f32>; 8] = Default::default();
    if mask & kind::GEOMETRIC != 0 {
        render(&g.field, w, h, &mut planes, &mut FieldScratch::default());
    }
    let plane = |k: usize, p: usize| planes[k].get(p).copied().unwrap_or(0.0);
    let (cx, cy) = (g.field.shape[1], g.field.shape[2]);
    let affine = g.is_affine();
    out.clear();
    out.reserve(w * h);
    for oy in 0..h {
        for ox in 0..w {
            let p = oy * w + ox;
            let mut px = ox as f32 + 0.5;
            let mut py = oy as f32 + 0.5;
            if mask & kind::GEOMETRIC != 0 {
                if mask & kind::ROTATE_SCALE != 0 {
                    let s = plane(kind::LOG_SCALE, p).exp();
                    let th = plane(kind::ROTATION, p);
                    let (cs, sn) = (th.cos() * s, th.sin() * s);
                    let (ddx, ddy) = (px - cx, py - cy);
                    px = cx + (cs * ddx - sn * ddy);
                    py = cy + (sn * ddx + cs * ddy);
                }
                px += plane(kind::DX, p);
                py += plane(kind::DY, p);
            }
            let u = g.m0[0] * px + g.m0[1] * py + g.m0[2];
            let v = g.m1[0] * px + g.m1[1] * py + g.m1[2];
            // Affine: w = 1 exactly (the shader without MAY_PROJECTIVE).
            let ww = if affine {
                1.0
            } else {
                g.m2[0] * px + g.m2[1] * py + g.m2[2]
            };
            if !g.active_clips().iter().all(|c| inside_clip(c, px, py)) {
                out.push(OUTSIDE);
                continue;
            }
            // div_floor(a, 1) is floor(a): skip the divide for affine maps.
            let (x, y) = if affine {
                (u.floor(), v.floor())
            } else {
                (div_floor(u, ww), div_floor(v, ww))
            };
            let idx = if mode != pad_mode::CONSTANT {
                // NaN or -inf (a degenerate map) stays outside, as in the shader.
                if !(x >= -3.0e38 && y >= -3.0e38) {
                    OUTSIDE
                } else {
                    fold_index(y, sh, mode) * sw + fold_index(x, sw, mode)
                }
            } else if x >= 0.0 && x < sw as f32 && y >= 0.0 && y < sh as f32 {
                y as u32 * sw + x as u32
            } else {
                OUTSIDE
            };
            out.push(idx);
        }
    }
}

/// Gathers one label map (`src`, the source's size) at `indices` into `out`
/// (one value per output pixel), `ignore` where the index is [`OUTSIDE`].
pub fn gather<T: Copy>(src: &[T], indices: &[u32], ignore: T, out: &mut [T]) {
    for (o, &i) in out.iter_mut().zip(indices) {
        *o = if i == OUTSIDE {
            ignore
        } else {
            src[i as usize]
        };
    }
}

/// Every output sample's label maps: sample `i`'s masks `masks[i]` (each of
/// its source's size) gathered through `samples[i]`'s map, in parallel.
pub fn run_masks(
    gl: &GpuGlobals,
    samples: &[GpuSample],
    masks: &[Vec<&Mask>],
    (ignore8, ignore16): (u8, u16),
) -> Vec<Vec<Mask>> {
    use rayon::prelude::*;
    let (w, h) = (gl.out[0], gl.out[1]);
    let npx = w as usize * h as usize;
    samples
        .par_iter()
        .zip(masks.par_iter())
        .map(|(g, ms)| {
            if ms.is_empty() {
                return Vec::new();
            }
            let mut idx = Vec::new();
            source_indices(gl, g, &mut idx);
            ms.iter()
                .map(|m| match &m.data {
                    MaskData::U8(src) => {
                        let mut out = vec![0u8; npx];
                        gather(src, &idx, ignore8, &mut out);
                        Mask::u8(w, h, out)
                    }
                    MaskData::U16(src) => {
                        let mut out = vec![0u16; npx];
                        gather(src, &idx, ignore16, &mut out);
                        Mask::u16(w, h, out)
                    }
                })
                .collect()
        })
        .collect()
}
