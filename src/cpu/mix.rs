//! CPU twin of `shaders/mix.wgsl`: the mixing pass over an augmented batch.
//!
//! The shader works pixel by pixel; this twin works a row span at a time so
//! that it vectorises, with the same arithmetic per value: blends are
//! `a * lam + b * (1 - lam)` in f32, resizes are the core's bilinear taps
//! (columns first, edge-clamped) averaged over the supersampling grid, and u8
//! results round half up (`(x + 0.5) as u8` equals the shader's
//! `clamp(floor(x + 0.5), 0, 255)` for the x >= 0 that occur).

use crate::mix::{kind, GpuMix, GpuMixGlobals};
use crate::{Tensor, TensorMut};
use rayon::prelude::*;

/// Mixes the whole augmented batch `input` into `out` (same layout): output
/// sample i reads sample i and its partner.
pub fn run_mix(gl: &GpuMixGlobals, mixes: &[GpuMix], input: &Tensor, out: TensorMut) {
    let (w, h) = (gl.out[0] as usize, gl.out[1] as usize);
    let per = w * h * 3;
    match (input, out) {
        (Tensor::U8(a), TensorMut::U8(o)) => {
            o.par_chunks_mut(per)
                .zip(mixes.par_iter())
                .enumerate()
                .for_each(|(i, (o, m))| mix_u8(w, h, m, &a[i * per..(i + 1) * per], a, o));
        }
        (Tensor::F32(a), TensorMut::F32(o)) => {
            o.par_chunks_mut(per)
                .zip(mixes.par_iter())
                .enumerate()
                .for_each(|(i, (o, m))| mix_f32(w, h, m, &a[i * per..(i + 1) * per], a, o));
        }
        // Layouts always match (the engine allocates both); nothing to do otherwise.
        _ => {}
    }
}

/// The partner's values of one sample (`per` values from `partner * per`).
fn partner<'a, T>(all: &'a [T], m: &GpuMix, per: usize) -> &'a [T] {
    let j = m.kind[1] as usize;
    &all[j * per..(j + 1) * per]
}

/// Whether the region of `m` covers anything.
fn region(m: &GpuMix) -> Option<(usize, usize, usize, usize)> {
    let [left, top, rw, rh] = m.rect.map(|v| v as usize);
    (rw > 0 && rh > 0).then_some((left, top, rw, rh))
}

/// One u8 HWC sample.
fn mix_u8(w: usize, h: usize, m: &GpuMix, a: &[u8], all: &[u8], o: &mut [u8]) {
    let b = partner(all, m, w * h * 3);
    match m.kind[0] {
        kind::BLEND => {
            let l = m.f[0];
            let r = 1.0 - l;
            for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                *o = (a as f32 * l + b as f32 * r + 0.5) as u8;
            }
        }
        kind::BOX | kind::RESIZE => {
            o.copy_from_slice(a);
            let Some((left, top, rw, rh)) = region(m) else {
                return;
            };
            let row = w * 3;
            for y in top..top + rh {
                let span = y * row + left * 3..y * row + (left + rw) * 3;
                if m.kind[0] == kind::BOX {
                    o[span.clone()].copy_from_slice(&b[span]);
                } else {
                    let dst = &mut o[span];
                    for (x, px) in dst.chunks_exact_mut(3).enumerate() {
                        let c = resize_px(
                            m,
                            x,
                            y - top,
                            |k, xx, yy| b[(yy * w + xx) * 3 + k] as f32,
                            w,
                            h,
                        );
                        for (d, v) in px.iter_mut().zip(c) {
                            *d = (v + 0.5).floor().clamp(0.0, 255.0) as u8;
                        }
                    }
                }
            }
        }
        _ => o.copy_from_slice(a),
    }
}

/// One f32 CHW sample.
fn mix_f32(w: usize, h: usize, m: &GpuMix, a: &[f32], all: &[f32], o: &mut [f32]) {
    let npx = w * h;
    let b = partner(all, m, npx * 3);
    match m.kind[0] {
        kind::BLEND => {
            let l = m.f[0];
            let r = 1.0 - l;
            for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                *o = a * l + b * r;
            }
        }
        kind::BOX | kind::RESIZE => {
            o.copy_from_slice(a);
            let Some((left, top, rw, rh)) = region(m) else {
                return;
            };
            for y in top..top + rh {
                if m.kind[0] == kind::BOX {
                    for c in 0..3 {
                        let span = c * npx + y * w + left..c * npx + y * w + left + rw;
                        o[span.clone()].copy_from_slice(&b[span]);
                    }
                } else {
                    for x in 0..rw {
                        let v =
                            resize_px(m, x, y - top, |k, xx, yy| b[k * npx + yy * w + xx], w, h);
                        for (c, v) in v.into_iter().enumerate() {
                            o[c * npx + y * w + left + x] = v;
                        }
                    }
                }
            }
        }
        _ => o.copy_from_slice(a),
    }
}

/// The resized partner at pixel (rx, ry) of the paste region: the mean of the
/// supersampling taps, each bilinear through `load(channel, x, y)`. As the
/// shader's `resize_px`.
#[inline(always)]
fn resize_px(
    m: &GpuMix,
    rx: usize,
    ry: usize,
    load: impl Fn(usize, usize, usize) -> f32,
    w: usize,
    h: usize,
) -> [f32; 3] {
    let (nx, ny) = (m.kind[2], m.kind[3]);
    let mut acc = [0.0f32; 3];
    for j in 0..ny {
        for i in 0..nx {
            let px = rx as f32 + (i as f32 + 0.5) / nx as f32;
            let py = ry as f32 + (j as f32 + 0.5) / ny as f32;
            let c = bilinear(&load, m.f[1] * px, m.f[2] * py, w, h);
            for (a, c) in acc.iter_mut().zip(c) {
                *a += c;
            }
        }
    }
    let n = (nx * ny) as f32;
    acc.map(|a| a / n)
}

/// The core's bilinear tap (`sample_at` in `src/cpu/sample.rs`): centres at
/// i + 0.5, edge-clamped, columns first, then across.
#[inline(always)]
fn bilinear(
    load: &impl Fn(usize, usize, usize) -> f32,
    u: f32,
    v: f32,
    w: usize,
    h: usize,
) -> [f32; 3] {
    let (x, y) = (u - 0.5, v - 0.5);
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = x - x0;
    let fy = y - y0;
    let (hx, hy) = (w as f32 - 1.0, h as f32 - 1.0);
    let xa = x0.clamp(0.0, hx) as u32 as usize;
    let xb = (x0 + 1.0).clamp(0.0, hx) as u32 as usize;
    let ya = y0.clamp(0.0, hy) as u32 as usize;
    let yb = (y0 + 1.0).clamp(0.0, hy) as u32 as usize;
    let mut r = [0.0; 3];
    for (k, r) in r.iter_mut().enumerate() {
        let (a, b, c, d) = (
            load(k, xa, ya),
            load(k, xb, ya),
            load(k, xa, yb),
            load(k, xb, yb),
        );
        let left = a + (c - a) * fy;
        let right = b + (d - b) * fy;
        *r = left + (right - left) * fx;
    }
    r
}
