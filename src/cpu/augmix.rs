//! AugMix's final mix: each output is `original * x_0 + sum_j w_j * x_j` of
//! its (width + 1) internal images (f32 CHW in [0, 1]: the image before the
//! op, then each chain), accumulated in that order in f32, then written as
//! the pipeline's output (u8 HWC rounded half up, or f32 CHW normalised).
//! Both backends run the chains as one batch; this mix runs on the host.

use crate::TensorMut;
use rayon::prelude::*;

/// The weights of one output: the original's, then each chain's.
pub struct AugMixWeights {
    /// Weight of the image before the op.
    pub original: f32,
    /// Weight of each chain.
    pub chains: Vec<f32>,
}

/// Mixes `internal` (outputs x (width + 1) images of `3 * h * w` floats) into
/// `out` (`channels` 3, or 1: channel 0 of the mix).
pub fn combine(
    internal: &[f32],
    weights: &[AugMixWeights],
    (w, h): (usize, usize),
    mean: [f32; 3],
    std: [f32; 3],
    channels: usize,
    out: TensorMut,
) {
    let per = 3 * w * h;
    // The output's values per sample: 3 planes, or channel 0 alone.
    let out_per = channels * w * h;
    let mix_one = |o: usize, acc: &mut Vec<f32>| {
        let wt = &weights[o];
        let parts = wt.chains.len() + 1;
        let base = &internal[o * parts * per..(o + 1) * parts * per];
        acc.clear();
        acc.extend(base[..per].iter().map(|&x| wt.original * x));
        for (j, &cw) in wt.chains.iter().enumerate() {
            let img = &base[(j + 1) * per..(j + 2) * per];
            for (a, &x) in acc.iter_mut().zip(img) {
                *a += cw * x;
            }
        }
    };
    // Float outputs: (x - mean) / std per plane, stored through `conv`
    // (f16: the f32 output's values, each rounded once).
    fn planar<T: Send>(
        o: &mut [T],
        (out_per, npx): (usize, usize),
        (mean, std): ([f32; 3], [f32; 3]),
        mix_one: &(impl Fn(usize, &mut Vec<f32>) + Sync),
        conv: impl Fn(f32) -> T + Sync,
    ) {
        o.par_chunks_mut(out_per)
            .enumerate()
            .for_each_init(Vec::new, |acc, (i, dst)| {
                mix_one(i, acc);
                for (c, (plane, src)) in dst.chunks_mut(npx).zip(acc.chunks(npx)).enumerate() {
                    for (d, &x) in plane.iter_mut().zip(src) {
                        *d = conv((x - mean[c]) / std[c]);
                    }
                }
            })
    }
    let sizes = (out_per, w * h);
    match out {
        TensorMut::F16(o) => planar(o, sizes, (mean, std), &mix_one, half::f16::from_f32),
        TensorMut::F32(o) => planar(o, sizes, (mean, std), &mix_one, |x| x),
        TensorMut::U8(o) if channels == 1 => {
            o.par_chunks_mut(out_per)
                .enumerate()
                .for_each_init(Vec::new, |acc, (i, dst)| {
                    mix_one(i, acc);
                    for (d, &r) in dst.iter_mut().zip(acc.iter()) {
                        *d = super::color::quantize(r) as u8;
                    }
                })
        }
        TensorMut::U8(o) => {
            o.par_chunks_mut(per)
                .enumerate()
                .for_each_init(Vec::new, |acc, (i, dst)| {
                    mix_one(i, acc);
                    let (r, rest) = acc.split_at(w * h);
                    let (g, b) = rest.split_at(w * h);
                    for (((px, &r), &g), &b) in dst.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
                        px.copy_from_slice(&[
                            super::color::quantize(r) as u8,
                            super::color::quantize(g) as u8,
                            super::color::quantize(b) as u8,
                        ]);
                    }
                })
        }
    }
}
