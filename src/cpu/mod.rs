//! The CPU backend: the reference twin of every shader (same file names as
//! `shaders/`), parallel over samples with rayon.

pub mod augment;
pub mod augmix;
pub mod color;
pub mod field;
pub mod gather;
pub mod masks;
pub mod mix;
pub mod resample;
pub mod sample;
pub mod stats;

use crate::error::{Error, Result};
use crate::mix::GpuMix;
use crate::plan::{GpuGlobals, GpuSample};
use augment::{augment_sample, OutSlice};
use rayon::prelude::*;
pub use sample::Src;

/// Runs a batch: `out` is the whole tensor (u8 HWC or f32 CHW). An error when
/// the slices do not describe the same batch (see [`check_batch`]).
pub(crate) fn run_batch(
    gl: &GpuGlobals,
    samples: &[GpuSample],
    srcs: &[Src],
    out: crate::TensorMut,
) -> Result<()> {
    check_batch(gl, samples, srcs, std::slice::from_ref(&out), None)?;
    let per = gl.values_per_sample();
    match out {
        crate::TensorMut::U8(o) => run_samples(gl, samples, srcs, o, per, |o| OutSlice::U8(o)),
        crate::TensorMut::F32(o) => run_samples(gl, samples, srcs, o, per, |o| OutSlice::F32(o)),
        crate::TensorMut::F16(o) => {
            // The f32 values, then rounded (the GPU's last pass, on the host).
            let mut f = crate::half_out::f32_twin(o.len(), &|| {
                format!("the f32 values of {} f16 outputs", samples.len())
            })?;
            run_samples(gl, samples, srcs, &mut f, per, |o| OutSlice::F32(o));
            crate::half_out::round_into(&f, o);
        }
    }
    Ok(())
}

/// Checks that a batch's slices fit together before either backend indexes
/// them: as many samples as sources as `gl` counts, a tensor of the format
/// and length of that many outputs, one mixing entry per sample.
pub(crate) fn check_batch(
    gl: &GpuGlobals,
    samples: &[GpuSample],
    srcs: &[Src],
    out: &[crate::TensorMut],
    mixes: Option<&[GpuMix]>,
) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidArgument(format!("batch: {m}")));
    let n = gl.out[2] as usize;
    if samples.len() != n || srcs.len() != n {
        return bad(format!(
            "{} planned samples and {} sources for a batch of {n}",
            samples.len(),
            srcs.len()
        ));
    }
    if let Some(m) = mixes.filter(|m| m.len() != n) {
        return bad(format!("{} mixing entries for a batch of {n}", m.len()));
    }
    let per = gl.values_per_sample();
    let want = n * per;
    // The tensor, or its parts (each of whole samples, all of one format).
    let mut len = 0;
    let expected = if gl.f16_out() {
        "f16"
    } else if gl.f32_out() {
        "f32"
    } else {
        "u8"
    };
    let mut kind = expected;
    for part in out {
        let (l, k) = match part {
            crate::TensorMut::U8(o) => (o.len(), "u8"),
            crate::TensorMut::F32(o) => (o.len(), "f32"),
            crate::TensorMut::F16(o) => (o.len(), "f16"),
        };
        if k != expected || l % per.max(1) != 0 {
            (kind, len) = (k, l);
            break;
        }
        len += l;
    }
    if kind != expected || len != want {
        return bad(format!(
            "an output tensor of {len} {kind} values for {n} outputs of {}x{}x{} {expected} ({want} values)",
            gl.out[0],
            gl.out[1],
            gl.channels(),
        ));
    }
    for (i, s) in srcs.iter().enumerate() {
        if s.data.len() != s.width as usize * s.height as usize * 3 {
            return bad(format!(
                "source {i} has {} bytes for {}x{} RGB",
                s.data.len(),
                s.width,
                s.height
            ));
        }
    }
    Ok(())
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
