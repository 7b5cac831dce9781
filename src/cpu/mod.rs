//! The CPU backend: the reference twin of every shader (same file names as
//! `shaders/`), parallel over samples with rayon.

pub mod augment;
pub mod augmix;
pub mod color;
pub mod field;
pub mod gather;
pub mod mix;
pub mod sample;
pub mod stats;

use crate::plan::{GpuGlobals, GpuSample};
use augment::{augment_sample, OutSlice};
use rayon::prelude::*;
pub use sample::Src;

/// Runs a batch: `out` is the whole tensor (u8 HWC or f32 CHW).
pub fn run_batch(gl: &GpuGlobals, samples: &[GpuSample], srcs: &[Src], out: crate::TensorMut) {
    let per = (gl.out[0] * gl.out[1]) as usize * 3;
    match out {
        crate::TensorMut::U8(o) => run_samples(gl, samples, srcs, o, per, |o| OutSlice::U8(o)),
        crate::TensorMut::F32(o) => run_samples(gl, samples, srcs, o, per, |o| OutSlice::F32(o)),
    }
}

/// One sample per chunk of `per` values of `out`, in parallel.
fn run_samples<T: Send>(
    gl: &GpuGlobals,
    samples: &[GpuSample],
    srcs: &[Src],
    out: &mut [T],
    per: usize,
    slice: impl Fn(&mut [T]) -> OutSlice<'_> + Sync,
) {
    out.par_chunks_mut(per)
        .zip(samples.par_iter().zip(srcs.par_iter()))
        .for_each(|(o, (g, s))| augment_sample(gl, g, s, slice(o)));
}
