//! CPU twin of `shaders/common/sample.wgsl`: the same casts, the same order of
//! operations, on RGB u8 sources instead of packed words.

use crate::codes::pad_mode;
use crate::plan::{GpuClip, GpuSample};

/// The shader's `fold_index`: tap index `v` (a whole number) folded into
/// [0, n) by a padding mode (edge clamps, reflect mirrors about the edge
/// pixels, symmetric repeats them).
pub fn fold_index(v: f32, n: u32, mode: u32) -> u32 {
    let i = v.clamp(-1e8, 1e8) as i32;
    let m = n as i32;
    if mode == pad_mode::REFLECT {
        if m == 1 {
            return 0;
        }
        let p = 2 * (m - 1);
        let j = i.abs() % p;
        return (if j >= m { p - j } else { j }) as u32;
    }
    if mode == pad_mode::SYMMETRIC {
        let p = 2 * m;
        let mut j = i % p;
        if j < 0 {
            j += p;
        }
        return (if j >= m { p - 1 - j } else { j }) as u32;
    }
    i.clamp(0, m - 1) as u32
}

/// A source image as the CPU kernels read it: RGB u8, row-major.
#[derive(Clone, Copy)]
pub struct Src<'a> {
    /// Pixels, 3 bytes each.
    pub data: &'a [u8],
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

/// Values in [0, 255] at continuous source position (u, v). Nearest is the
/// bilinear formula at floor(u) with weight 0, as in the shader.
#[inline(always)]
pub fn sample_at(g: &GpuSample, s: &Src, u: f32, v: f32) -> [f32; 3] {
    let (x, y) = if g.src[3] & 1 != 0 {
        (u.floor(), v.floor())
    } else {
        (u - 0.5, v - 0.5)
    };
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = x - x0;
    let fy = y - y0;
    // Taps clamp to the image edge (or fold, for edge / reflect / symmetric padding).
    let (hx, hy) = (s.width as f32 - 1.0, s.height as f32 - 1.0);
    let row = s.width as usize * 3;
    let mode = (g.src[3] >> pad_mode::SHIFT) & 3;
    let ((xa, xb), (ya, yb)) = if mode != pad_mode::CONSTANT {
        let f = |v: f32, n: u32| fold_index(v, n, mode) as usize;
        (
            (f(x0, s.width) * 3, f(x0 + 1.0, s.width) * 3),
            (f(y0, s.height) * row, f(y0 + 1.0, s.height) * row),
        )
    } else {
        (
            (
                x0.clamp(0.0, hx) as i32 as usize * 3,
                (x0 + 1.0).clamp(0.0, hx) as i32 as usize * 3,
            ),
            (
                y0.clamp(0.0, hy) as i32 as usize * row,
                (y0 + 1.0).clamp(0.0, hy) as i32 as usize * row,
            ),
        )
    };
    let px =
        |o: usize| -> [f32; 3] { [s.data[o] as f32, s.data[o + 1] as f32, s.data[o + 2] as f32] };
    let (a, b, c, d) = (px(ya + xa), px(ya + xb), px(yb + xa), px(yb + xb));
    let mut r = [0.0; 3];
    for k in 0..3 {
        let left = a[k] + (c[k] - a[k]) * fy;
        let right = b[k] + (d[k] - b[k]) * fy;
        r[k] = left + (right - left) * fx;
    }
    r
}

/// Fraction of the clip stage's canvas covering point (px, py).
#[inline(always)]
pub fn coverage(c: &GpuClip, px: f32, py: f32) -> f32 {
    let (mut u, mut v) = (
        c.r0[0] * px + c.r0[1] * py + c.r0[2],
        c.r1[0] * px + c.r1[1] * py + c.r1[2],
    );
    if !c.is_affine() {
        // Projective: divide (an affine row gives w = 1 exactly, so skipping is identical).
        let w = c.r2[0] * px + c.r2[1] * py + c.r2[2];
        u /= w;
        v /= w;
    }
    if c.r2[3] > 0.5 {
        return if u >= 0.0 && u < c.r0[3] && v >= 0.0 && v < c.r1[3] {
            1.0
        } else {
            0.0
        };
    }
    (u + 0.5).clamp(0.0, 1.0)
        * (c.r0[3] + 0.5 - u).clamp(0.0, 1.0)
        * (v + 0.5).clamp(0.0, 1.0)
        * (c.r1[3] + 0.5 - v).clamp(0.0, 1.0)
}

/// The warped pixel at output pixel (ox, oy), rounded to u8 values.
#[inline(always)]
pub fn warp_pixel(g: &GpuSample, s: &Src, ox: u32, oy: u32) -> [u8; 3] {
    if g.resample.active() {
        return super::resample::resample_pixel(g, s, ox, oy);
    }
    let nx = g.counts[1];
    let ny = g.counts[2];
    // An affine map has w = 1 exactly: skipping the divide changes nothing.
    let affine = g.is_affine();
    let mut acc = [0.0f32; 3];
    for j in 0..ny {
        for i in 0..nx {
            let px = ox as f32 + (i as f32 + 0.5) / nx as f32;
            let py = oy as f32 + (j as f32 + 0.5) / ny as f32;
            let (mut u, mut v) = (
                g.m0[0] * px + g.m0[1] * py + g.m0[2],
                g.m1[0] * px + g.m1[1] * py + g.m1[2],
            );
            if !affine {
                let w = g.m2[0] * px + g.m2[1] * py + g.m2[2];
                u /= w;
                v /= w;
            }
            let mut c = sample_at(g, s, u, v);
            for clip in g.active_clips() {
                let cov = coverage(clip, px, py);
                for (ck, f) in c.iter_mut().zip(clip.fill) {
                    *ck = *ck * cov + f * 255.0 * (1.0 - cov);
                }
            }
            for (a, ck) in acc.iter_mut().zip(c) {
                *a += ck;
            }
        }
    }
    let n = (nx * ny) as f32;
    acc.map(|a| (a / n + 0.5).floor().clamp(0.0, 255.0) as u8)
}
