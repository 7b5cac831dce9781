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
    let mode = (g.src[3] >> pad_mode::SHIFT) & 3;
    if g.field.mask() & kind::GEOMETRIC == 0 && g.is_affine() && mode == pad_mode::CONSTANT {
        let (w, h) = (gl.out[0] as usize, gl.out[1] as usize);
        out.clear();
        out.resize(w * h, 0);
        affine_rows(g, w, out);
        // Outside any clip stage's canvas: OUTSIDE, whatever the map gave
        // (the general loop tests the clips first, to the same effect).
        for c in g.active_clips() {
            clip_rows(c, w, out);
        }
    } else {
        general_indices(gl, g, out);
    }
}

/// `source_indices` pixel by pixel, for every kind of map.
fn general_indices(gl: &GpuGlobals, g: &GpuSample, out: &mut Vec<u32>) {
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

/// `source_indices` for the common case, row by row: an affine map, no
/// geometric field, no clip stage, constant padding. The same f32
/// operations in the same order as the general loop (`m0[1] * py` is the
/// same product whichever pixel of the row it is computed for), so the
/// same indices; without the per-pixel branches the row loop vectorises
/// (compiled for AVX2 / SSE4.1 / NEON, where `floor` is one instruction).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1",
    "aarch64+neon"
))]
fn affine_rows(g: &GpuSample, w: usize, out: &mut [u32]) {
    let (sw, sh) = (g.src[1], g.src[2]);
    let (fw, fh) = (sw as f32, sh as f32);
    for (oy, row) in out.chunks_exact_mut(w.max(1)).enumerate() {
        let py = oy as f32 + 0.5;
        let (bu, bv) = (g.m0[1] * py, g.m1[1] * py);
        for (ox, o) in (0i32..).zip(row.iter_mut()) {
            // i32 -> f32 is one SIMD instruction (usize's is not); exact
            // below 2^24, as `ox as f32` in the general loop.
            let px = ox as f32 + 0.5;
            let x = (g.m0[0] * px + bu + g.m0[2]).floor();
            let y = (g.m1[0] * px + bv + g.m1[2]).floor();
            let inside = x >= 0.0 && x < fw && y >= 0.0 && y < fh;
            // Inside, x and y are whole numbers below the source's sides, so
            // the clamp changes nothing there and the conversion is exact;
            // outside (NaN included: `max` returns the other operand) the
            // value is unused. Clamped, the unchecked i32 conversion is one
            // SIMD instruction (the saturating `as` is scalar).
            // SAFETY: the clamped value is finite and in [0, side - 1],
            // which an i32 holds (sides are u32 pixel counts below 2^31).
            let xi = unsafe { x.max(0.0).min(fw - 1.0).to_int_unchecked::<i32>() } as u32;
            let yi = unsafe { y.max(0.0).min(fh - 1.0).to_int_unchecked::<i32>() } as u32;
            *o = if inside {
                yi.wrapping_mul(sw).wrapping_add(xi)
            } else {
                OUTSIDE
            };
        }
    }
}

/// Marks [`OUTSIDE`] the output pixels whose centres fall outside clip
/// stage `c`'s canvas: `inside_clip`'s products in its order, row by row
/// (`r0[1] * py` and friends once a row), so the same decisions.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1",
    "aarch64+neon"
))]
fn clip_rows(c: &GpuClip, w: usize, out: &mut [u32]) {
    for (oy, row) in out.chunks_exact_mut(w.max(1)).enumerate() {
        let py = oy as f32 + 0.5;
        let (bu, bv, bw) = (c.r0[1] * py, c.r1[1] * py, c.r2[1] * py);
        for (ox, o) in (0i32..).zip(row.iter_mut()) {
            let px = ox as f32 + 0.5;
            let u = c.r0[0] * px + bu + c.r0[2];
            let v = c.r1[0] * px + bv + c.r1[2];
            let ww = c.r2[0] * px + bw + c.r2[2];
            let (u, v, ww) = if ww < 0.0 { (-u, -v, -ww) } else { (u, v, ww) };
            let inside = u >= 0.0 && u < c.r0[3] * ww && v >= 0.0 && v < c.r1[3] * ww;
            if !inside {
                *o = OUTSIDE;
            }
        }
    }
}

/// The source column of every output column and the source row of every
/// output row, when sample `g`'s map is axis-aligned (resizes, crops,
/// flips, scale jitter: an affine map with `m0[1] = m1[0] = 0`, no
/// geometric field, constant padding, clip stages of the same kind), else
/// `None`. Then u depends on the column alone and v on the row alone (the
/// zero products add nothing), so these are the general loop's decisions,
/// split: an output pixel's index is `ys[oy] * width + xs[ox]`, OUTSIDE
/// when either is (a clip stage's canvas or the source left behind).
pub fn separable_indices(gl: &GpuGlobals, g: &GpuSample) -> Option<(Vec<u32>, Vec<u32>)> {
    let mode = (g.src[3] >> pad_mode::SHIFT) & 3;
    let clips = g.active_clips();
    let split = g.field.mask() & kind::GEOMETRIC == 0
        && g.is_affine()
        && mode == pad_mode::CONSTANT
        && g.m0[1] == 0.0
        && g.m1[0] == 0.0
        && clips
            .iter()
            .all(|c| c.is_affine() && c.r0[1] == 0.0 && c.r1[0] == 0.0);
    if !split {
        return None;
    }
    // One axis of the map and of the clip tests: `m[a] * p + m[b] * 0.5 +
    // m[2]` is the general loop's sum with the other coordinate's (zero)
    // product at any pixel centre; clip maps are affine, so their w is 1.
    let axis = |n: u32, side: u32, m: [f32; 4], a: usize, clip_rows: &[[f32; 4]]| {
        (0..n)
            .map(|o| {
                let p = o as f32 + 0.5;
                let (ia, ib) = (a, 1 - a);
                let inside_clips = clip_rows.iter().all(|r| {
                    let t = r[ia] * p + r[ib] * 0.5 + r[2];
                    t >= 0.0 && t < r[3] * 1.0
                });
                let t = (m[ia] * p + m[ib] * 0.5 + m[2]).floor();
                if inside_clips && t >= 0.0 && t < side as f32 {
                    t as u32
                } else {
                    OUTSIDE
                }
            })
            .collect::<Vec<u32>>()
    };
    let r0: Vec<[f32; 4]> = clips.iter().map(|c| c.r0).collect();
    let r1: Vec<[f32; 4]> = clips.iter().map(|c| c.r1).collect();
    let xs = axis(gl.out[0], g.src[1], g.m0, 0, &r0);
    let ys = axis(gl.out[1], g.src[2], g.m1, 1, &r1);
    Some((xs, ys))
}

/// One label map (`src`, `width` columns) gathered at the split indices of
/// [`separable_indices`]: a row lookup per output row, a column lookup per
/// pixel, `ignore` where either is [`OUTSIDE`].
pub fn gather_separable<T: Copy>(
    src: &[T],
    width: usize,
    xs: &[u32],
    ys: &[u32],
    ignore: T,
) -> Vec<T> {
    let w = xs.len();
    let mut out = Vec::with_capacity(w * ys.len());
    for (oy, &y) in ys.iter().enumerate() {
        if y == OUTSIDE {
            out.extend(std::iter::repeat_n(ignore, w));
            continue;
        }
        // An upscale reads a source row for several output rows: copy the
        // row just written.
        if oy > 0 && ys[oy - 1] == y {
            out.extend_from_within((oy - 1) * w..oy * w);
            continue;
        }
        let row = &src[y as usize * width..(y as usize + 1) * width];
        // OUTSIDE is beyond every row: the bounds check is the outside test.
        out.extend(
            xs.iter()
                .map(|&x| row.get(x as usize).copied().unwrap_or(ignore)),
        );
    }
    out
}

/// One label map (`src`, the source's size) gathered at `indices` (one
/// value per output pixel), `ignore` where the index is [`OUTSIDE`].
pub fn gather<T: Copy>(src: &[T], indices: &[u32], ignore: T) -> Vec<T> {
    indices
        .iter()
        .map(|&i| {
            if i == OUTSIDE {
                ignore
            } else {
                src[i as usize]
            }
        })
        .collect()
}

thread_local! {
    /// Each worker thread's source-index buffer (an output's worth of u32,
    /// 1 MiB at 512 x 512), kept from sample to sample instead of faulted
    /// in anew.
    static INDICES: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
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
    samples
        .par_iter()
        .zip(masks.par_iter())
        .map(|(g, ms)| {
            if ms.is_empty() {
                return Vec::new();
            }
            if let Some((xs, ys)) = separable_indices(gl, g) {
                let sw = g.src[1] as usize;
                return ms
                    .iter()
                    .map(|m| match &m.data {
                        MaskData::U8(src) => {
                            Mask::u8(w, h, gather_separable(src, sw, &xs, &ys, ignore8))
                        }
                        MaskData::U16(src) => {
                            Mask::u16(w, h, gather_separable(src, sw, &xs, &ys, ignore16))
                        }
                    })
                    .collect();
            }
            INDICES.with_borrow_mut(|idx| {
                source_indices(gl, g, idx);
                ms.iter()
                    .map(|m| match &m.data {
                        MaskData::U8(src) => Mask::u8(w, h, gather(src, idx, ignore8)),
                        MaskData::U16(src) => Mask::u16(w, h, gather(src, idx, ignore16)),
                    })
                    .collect()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row and split paths give the general loop's indices, bit for bit, on maps
    /// that scale, flip, shear, translate off the source and hit edges, with
    /// 0 to 2 clip stages.
    #[test]
    fn affine_rows_equal_the_general_loop() {
        let maps: [([f32; 3], [f32; 3]); 6] = [
            ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
            ([-1.0, 0.0, 40.0], [0.0, 1.0, 0.0]),
            ([0.37, 0.0, 3.1], [0.0, 2.71, -5.0]),
            ([0.8, 0.3, -2.0], [-0.25, 0.9, 4.5]),
            ([1.0 / 3.0, 0.0, 0.1], [0.0, 1.0 / 7.0, 0.2]),
            ([f32::NAN, 0.0, 0.0], [0.0, 1.0, 0.0]),
        ];
        let (mut inside, mut separable) = (0, 0);
        for (m0, m1) in maps {
            for (w, h, sw, sh) in [(37, 23, 40, 30), (1, 1, 1, 1), (64, 5, 13, 200)] {
                let mut g = GpuSample {
                    src: [0, sw, sh, 0],
                    m0: [m0[0], m0[1], m0[2], 0.0],
                    m1: [m1[0], m1[1], m1[2], 0.0],
                    m2: [0.0, 0.0, 1.0, 0.0],
                    ..Default::default()
                };
                let gl = GpuGlobals {
                    out: [w, h, 1, 0],
                    ..Default::default()
                };
                for (clips, aligned) in (0..3).flat_map(|c| [(c, false), (c, true)]) {
                    // Clip canvases of other maps and sizes (a mirrored one
                    // too); `aligned`: axis-aligned ones (crops, pads), which
                    // the split path takes.
                    let z = if aligned { 0.0 } else { 1.0 };
                    g.counts[3] = clips;
                    g.clips[0] = GpuClip {
                        r0: [0.9, 0.05 * z, -1.5, 30.0],
                        r1: [0.0, 1.1, 2.0, 17.0],
                        r2: [0.0, 0.0, 1.0, 0.0],
                        fill: [0.0; 4],
                    };
                    g.clips[1] = GpuClip {
                        r0: [-1.0, 0.0, 36.0, 33.0],
                        r1: [0.2 * z, -0.7, 22.0, 20.0],
                        r2: [0.0, 0.0, 1.0, 1.0],
                        fill: [0.0; 4],
                    };
                    let (mut fast, mut slow) = (vec![7; 3], Vec::new());
                    source_indices(&gl, &g, &mut fast);
                    general_indices(&gl, &g, &mut slow);
                    if let Some((xs, ys)) = separable_indices(&gl, &g) {
                        let split: Vec<u32> = ys
                            .iter()
                            .flat_map(|&y| {
                                xs.iter().map(move |&x| {
                                    if x == OUTSIDE || y == OUTSIDE {
                                        OUTSIDE
                                    } else {
                                        y * sw + x
                                    }
                                })
                            })
                            .collect();
                        assert_eq!(split, slow, "split: {m0:?} {m1:?} {w}x{h}, {clips} clips");
                        assert!(clips == 0 || aligned, "only axis-aligned clips split");
                        let src: Vec<u16> = (0..sw * sh).map(|i| (i * 7 % 65521) as u16).collect();
                        assert_eq!(
                            gather_separable(&src, sw as usize, &xs, &ys, 9999),
                            gather(&src, &slow, 9999)
                        );
                        separable += 1;
                    }
                    assert_eq!(
                        fast, slow,
                        "{m0:?} {m1:?} {w}x{h} from {sw}x{sh}, {clips} clips"
                    );
                    inside += fast.iter().filter(|&&i| i != OUTSIDE).count();
                }
            }
        }
        assert!(inside > 1000, "the maps must land inside the sources too");
        // Axis-aligned maps with 0 clips, or an axis-aligned clip, split.
        assert!(separable >= 15, "{separable} split cases");
    }
}
