//! The CPU backend: the reference twin of every shader (same file names as
//! `shaders/`), parallel over samples with rayon.

pub mod augment;
pub mod color;
pub mod sample;
pub mod stats;

use crate::plan::{GpuGlobals, GpuSample};
use augment::{augment_sample, OutSlice};
use rayon::prelude::*;
pub use sample::Src;

/// Runs a batch: `out` is the whole tensor (u8 HWC or f32 CHW).
pub fn run_batch(gl: &GpuGlobals, samples: &[GpuSample], srcs: &[Src], out: crate::TensorMut) {
    let npx = (gl.out[0] * gl.out[1]) as usize;
    match out {
        crate::TensorMut::U8(o) => o
            .par_chunks_mut(npx * 3)
            .zip(samples.par_iter().zip(srcs.par_iter()))
            .for_each(|(o, (g, s))| augment_sample(gl, g, s, OutSlice::U8(o))),
        crate::TensorMut::F32(o) => o
            .par_chunks_mut(npx * 3)
            .zip(samples.par_iter().zip(srcs.par_iter()))
            .for_each(|(o, (g, s))| augment_sample(gl, g, s, OutSlice::F32(o))),
    }
}
