//! CPU twin of `shaders/common/resample.wgsl`: the antialiased resampler of
//! axis-aligned maps. The weights come from [`crate::resample::weights`] (the
//! shader's f32 steps) and are rounded to the same fixed point; the sums are
//! integers, so the two backends agree bit for bit wherever the f32 weights
//! do. The shader recomputes a row's horizontal sum per output pixel; here
//! each needed source row is summed once into a u8 row (the values are the
//! same), then the vertical pass reads those rows.

use super::color::INV_255;
use super::sample::Src;
use crate::plan::GpuSample;
use crate::resample::{fixed, to_u8, weights, GpuResample, MAX_RESAMPLE_TAPS};

/// One axis's taps for every output position: first tap (source index),
/// count, fixed-point weights (`k` per position).
#[derive(Default)]
pub struct AxisTaps {
    first: Vec<u32>,
    count: Vec<u32>,
    w: Vec<i32>,
    k: usize,
}

impl AxisTaps {
    /// The taps of the x axis (or, with `y_axis`, the y axis) of `r` for
    /// `n_out` output positions.
    pub fn build(r: &GpuResample, y_axis: bool, n_out: usize) -> Self {
        let (p, lo, n, prec, k) = if y_axis {
            (r.y, r.win[2], r.win[3], r.mode[2], r.mode[3] >> 16)
        } else {
            (r.x, r.win[0], r.win[1], r.mode[1], r.mode[3] & 0xffff)
        };
        let k = k.min(MAX_RESAMPLE_TAPS);
        let mut t = AxisTaps {
            first: Vec::with_capacity(n_out),
            count: Vec::with_capacity(n_out),
            w: vec![0; n_out * k as usize],
            k: k as usize,
        };
        let mut wf = [0.0f32; MAX_RESAMPLE_TAPS as usize];
        for o in 0..n_out {
            let (first, size) = weights(r.mode[0], p, n, k, o as u32, &mut wf);
            t.first.push(lo + first);
            t.count.push(size);
            for (d, &v) in t.w[o * k as usize..].iter_mut().zip(&wf[..size as usize]) {
                *d = fixed(v, prec);
            }
        }
        t
    }
    /// Output position `o`'s first source index and fixed-point weights.
    pub fn taps(&self, o: usize) -> (usize, &[i32]) {
        let n = self.count[o] as usize;
        (self.first[o] as usize, &self.w[o * self.k..o * self.k + n])
    }
    /// The source indices any tap touches: lo..hi (empty: lo >= hi).
    pub fn span(&self) -> (usize, usize) {
        (0..self.first.len()).fold((usize::MAX, 0), |(lo, hi), o| {
            let (f, t) = self.taps(o);
            (lo.min(f), hi.max(f + t.len()))
        })
    }
}

/// The resampled pixel at output pixel (ox, oy): the shader's
/// `resample_pixel` line for line (u8 values).
pub fn resample_pixel(g: &GpuSample, s: &Src, ox: u32, oy: u32) -> [u8; 3] {
    let r = &g.resample;
    let mut wf = [0.0f32; MAX_RESAMPLE_TAPS as usize];
    let (kx, ky) = (r.mode[3] & 0xffff, r.mode[3] >> 16);
    let (fx, nx) = weights(r.mode[0], r.x, r.win[1], kx, ox, &mut wf);
    let wx: Vec<i32> = wf[..nx as usize]
        .iter()
        .map(|&v| fixed(v, r.mode[1]))
        .collect();
    let (fy, ny) = weights(r.mode[0], r.y, r.win[3], ky, oy, &mut wf);
    let wy: Vec<i32> = wf[..ny as usize]
        .iter()
        .map(|&v| fixed(v, r.mode[2]))
        .collect();
    let mut acc = [0i32; 3];
    for (j, &wyj) in wy.iter().enumerate() {
        let row = (r.win[2] + fy) as usize + j;
        let mut h = [0i32; 3];
        for (i, &wxi) in wx.iter().enumerate() {
            let x = (r.win[0] + fx) as usize + i;
            let o = (row * s.width as usize + x) * 3;
            for (c, hc) in h.iter_mut().enumerate() {
                *hc += s.data[o + c] as i32 * wxi;
            }
        }
        for (a, hc) in acc.iter_mut().zip(h) {
            *a += to_u8(hc, r.mode[1]) * wyj;
        }
    }
    acc.map(|a| to_u8(a, r.mode[2]) as u8)
}

/// Every output pixel of the sample into the planar [0, 1] rows `planes`
/// (u8 values times 1/255, as the gather leaves them): the horizontal pass
/// over each source row the vertical taps touch, rounded to u8, then the
/// vertical pass.
pub fn resample(g: &GpuSample, s: &Src, w: usize, h: usize, planes: [&mut [f32]; 3]) {
    let r = &g.resample;
    let [pr, pg, pb] = planes;
    let done = resample_u8(r, s.data, s.width as usize, w, h, |oy, acc| {
        let row = oy * w..(oy + 1) * w;
        for (((a, r0), g0), b0) in acc
            .chunks_exact(3)
            .zip(&mut pr[row.clone()])
            .zip(&mut pg[row.clone()])
            .zip(&mut pb[row])
        {
            *r0 = to_u8(a[0], r.mode[2]) as f32 * INV_255;
            *g0 = to_u8(a[1], r.mode[2]) as f32 * INV_255;
            *b0 = to_u8(a[2], r.mode[2]) as f32 * INV_255;
        }
    });
    if !done {
        for p in [pr, pg, pb] {
            p[..w * h].fill(0.0);
        }
    }
}

/// The resampler `r` over the u8 RGB image `data` (`width` pixels a row)
/// into `w` x `h` outputs: the horizontal pass over each source row the
/// vertical taps touch, rounded to u8, then the vertical pass, whose
/// unrounded fixed-point sums (3 per output pixel, a row at a time) go to
/// `put(output row, sums)` (round them with `to_u8(sum, r.mode[2])`). False,
/// with nothing put, when no tap falls in the window. Also resizemix's paste
/// (`src/cpu/mix.rs`).
pub fn resample_u8(
    r: &GpuResample,
    data: &[u8],
    width: usize,
    w: usize,
    h: usize,
    mut put: impl FnMut(usize, &[i32]),
) -> bool {
    let cols = AxisTaps::build(r, false, w);
    let rows = AxisTaps::build(r, true, h);
    let (y_lo, y_hi) = rows.span();
    if y_lo >= y_hi {
        return false;
    }
    // Horizontal pass: the source rows y_lo..y_hi, each to w u8 pixels.
    let sw = width * 3;
    let mut mid = vec![0u8; (y_hi - y_lo) * w * 3];
    for (line, out) in data[y_lo * sw..y_hi * sw]
        .chunks_exact(sw)
        .zip(mid.chunks_exact_mut(w * 3))
    {
        for (x, px) in out.chunks_exact_mut(3).enumerate() {
            let (f, wx) = cols.taps(x);
            let mut acc = [0i32; 3];
            for (t, &wi) in line[f * 3..(f + wx.len()) * 3].chunks_exact(3).zip(wx) {
                acc[0] += t[0] as i32 * wi;
                acc[1] += t[1] as i32 * wi;
                acc[2] += t[2] as i32 * wi;
            }
            for (p, a) in px.iter_mut().zip(acc) {
                *p = to_u8(a, r.mode[1]) as u8;
            }
        }
    }
    // Vertical pass.
    let mut acc = vec![0i32; w * 3];
    for oy in 0..h {
        acc.fill(0);
        let (f, wy) = rows.taps(oy);
        for (j, &wj) in wy.iter().enumerate() {
            let line = &mid[(f + j - y_lo) * w * 3..(f + j - y_lo + 1) * w * 3];
            for (a, &v) in acc.iter_mut().zip(line) {
                *a += v as i32 * wj;
            }
        }
        put(oy, &acc);
    }
    true
}
