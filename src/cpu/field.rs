//! CPU twin of `shaders/common/field.wgsl` and `shaders/field.wgsl`: the same
//! lattice noise (integer hash, so identical bits), the same Gaussian weights,
//! and per pixel the same sums in the same order. Where the `cols` kernel
//! sums 8 lattice nodes per output column, this file adds each lattice
//! node to the contiguous run of columns it reaches (ascending nodes, so
//! every column still adds its terms in the shader's order); the pixel sums
//! along y run over whole rows. Both vectorise.

use crate::plan::{GpuField, FIELD_TAPS};

/// 1 / std of the sum of four uniform 16-bit integers.
pub const NOISE_SCALE: f32 = 2.642_899_7e-5;
/// 1 / sqrt(pi): the variance of the lattice sum is pi per unit noise variance.
pub const INV_SQRT_PI: f32 = 0.564_189_6;

/// Wellons' lowbias32, as `hash32` in the shader.
#[inline(always)]
pub fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The noise stream of one field kind of one sample.
#[inline(always)]
pub fn field_base(key: [u32; 4], kind: u32) -> u32 {
    hash32(key[0] ^ hash32(key[1] ^ hash32(kind)))
}

/// White noise of variance 1 at lattice node `n`, or value `n` of a key
/// (centred Irwin-Hall sum of four 16-bit uniforms); gaussian_noise uses it too.
#[inline(always)]
pub fn lattice_noise(base: u32, n: u32) -> f32 {
    let u = hash32(base ^ hash32(n));
    let v = hash32(u ^ 0x9e37_79b9);
    let s = (u & 0xffff) + (u >> 16) + (v & 0xffff) + (v >> 16);
    (s as f32 - 131_070.0) * NOISE_SCALE
}

/// Gaussian weight of lattice node `k` for a point at lattice coordinate `t`.
#[inline(always)]
pub fn field_weight(t: f32, k: u32) -> f32 {
    let d = t - k as f32;
    (-0.5 * d * d).exp()
}

/// Lattice coordinate of pixel centre `i`.
#[inline(always)]
pub fn lattice_coord(i: u32, inv_l: f32) -> f32 {
    (i as f32 + 0.5) * inv_l + 4.0
}

/// First lattice node and the 8 weights of each pixel along an axis of `n` pixels.
fn axis_weights(n: usize, inv_l: f32) -> (Vec<u32>, Vec<[f32; 8]>) {
    (0..n as u32)
        .map(|i| {
            let t = lattice_coord(i, inv_l);
            let k0 = t.floor() as u32 - 3;
            let mut w = [0.0f32; 8];
            for (j, wj) in w.iter_mut().enumerate() {
                *wj = field_weight(t, k0 + j as u32);
            }
            (k0, w)
        })
        .unzip()
}

/// Reusable buffers of `render`.
#[derive(Default)]
pub struct FieldScratch {
    noise: Vec<f32>,
    cols: Vec<f32>,
    span_w: Vec<f32>,
}

/// Renders every active field kind of `f` on a `w` x `h` canvas into
/// `planes[kind]` (row-major, `w * h` values; inactive kinds are left empty).
pub fn render(f: &GpuField, w: usize, h: usize, planes: &mut [Vec<f32>; 8], s: &mut FieldScratch) {
    let mask = f.mask();
    let (kx, ky) = f.lattice();
    let inv_l = f.shape[0];
    let (k0x, wx) = axis_weights(w, inv_l);
    let (m0y, wy) = axis_weights(h, inv_l);
    // Per lattice column: the run of pixels [x0, x1) it reaches and their weights.
    let mut spans = vec![(usize::MAX, 0usize, 0usize); kx];
    s.span_w.clear();
    s.span_w.resize(w * FIELD_TAPS as usize, 0.0);
    let mut starts = vec![0usize; kx + 1];
    for (x, &k0) in k0x.iter().enumerate() {
        for j in 0..FIELD_TAPS as usize {
            let sp = &mut spans[k0 as usize + j];
            sp.0 = sp.0.min(x);
            sp.1 = sp.1.max(x + 1);
        }
    }
    for k in 0..kx {
        let len = spans[k].1.saturating_sub(spans[k].0);
        starts[k + 1] = starts[k] + len;
        spans[k].2 = starts[k];
    }
    for (x, (&k0, ws)) in k0x.iter().zip(&wx).enumerate() {
        for (j, &wj) in ws.iter().enumerate() {
            let (x0, _, off) = spans[k0 as usize + j];
            s.span_w[off + x - x0] = wj;
        }
    }
    for (kind, plane) in planes.iter_mut().enumerate() {
        plane.clear();
        if (mask >> kind) & 1 == 0 {
            continue;
        }
        let base = field_base(f.key, kind as u32);
        s.noise.clear();
        s.noise
            .extend((0..(kx * ky) as u32).map(|n| lattice_noise(base, n)));
        // Column sums along x: cols[m][x], as the `cols` kernel, one lattice
        // column at a time over the run of pixels it reaches.
        let scale = f.amplitude(kind) * INV_SQRT_PI;
        s.cols.clear();
        s.cols.resize(ky * w, 0.0);
        for (acc, line) in s.cols.chunks_exact_mut(w).zip(s.noise.chunks_exact(kx)) {
            for (&nk, &(x0, x1, off)) in line.iter().zip(&spans) {
                if x0 >= x1 {
                    continue;
                }
                for (a, &wk) in acc[x0..x1].iter_mut().zip(&s.span_w[off..off + x1 - x0]) {
                    *a += nk * wk;
                }
            }
            for a in acc.iter_mut() {
                *a *= scale;
            }
        }
        // Pixels: the 8 nearest column sums along y, whole rows at a time.
        plane.resize(w * h, 0.0);
        for (out, (&m0, ws)) in plane.chunks_exact_mut(w).zip(m0y.iter().zip(&wy)) {
            for (j, &wj) in ws.iter().enumerate() {
                let c = &s.cols[(m0 as usize + j) * w..(m0 as usize + j + 1) * w];
                for (o, &cv) in out.iter_mut().zip(c) {
                    *o += cv * wj;
                }
            }
        }
    }
}
