#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

// Not part of the API: the CPU backend's kernels, public only because
// tests/random_fields.rs and tests/cpu_fast_paths.rs check the twin's field and
// warp kernels directly.
pub mod codes;
#[doc(hidden)]
pub mod cpu;
mod engine;
mod error;
pub mod explicit;
pub mod gpu;
mod half_out;
pub mod jpeg;
mod key;
pub mod loader;
pub mod mix;
pub mod ops;
pub mod pipeline;
// Not part of the API: the kernels' per-sample program (the ABI structs shared
// with the WGSL), public only because tests/wgsl.rs checks the structs' sizes
// against the shaders and tests/cpu_fast_paths.rs and tests/random_fields.rs
// feed planned samples to the CPU twin's kernels.
#[doc(hidden)]
pub mod plan;
mod record;
mod request;
pub mod resample;
pub mod schedule;
pub mod steer;
mod synth;
mod target_types;
pub mod targets;
mod views;

pub use engine::{decode_image, load_image, load_image_with, to_rgb, Augmenter, Backend, Batch};
pub use error::{Error, Result};
pub use key::{view_key, BatchKey};
pub use loader::{Dataset, Epoch, ItemTargets, Loader, LoaderBatch, LoaderOptions, LoaderStats};
pub use mix::{Labels, Mix, MixRecord, Mixer, SoftLabels};
pub use ops::{ColorStep, Drawn, Interpolation, Op, ResizeTo, Size};
pub use pipeline::{OutputFormat, Pipeline, SampleRecord};
pub use record::RECORD_FORMAT;
pub use request::Request;
pub use schedule::{Schedule, ScheduleBy, ScheduledValue, Schedules};
pub use steer::{Overrides, SampleOverrides};
pub use synth::synthetic_image;
pub use targets::{
    BoxFormat, BoxOrigin, Boxes, Keypoints, Mask, MaskData, SampleTargets, TargetOptions, Targets,
};
pub use views::{NamedView, ViewAugmenter, ViewBatch, Views, MAX_VIEW_NAME};

/// RGB u8 images, as the `image` crate holds them: the engine's input type.
pub use image::RgbImage;

/// The `half` crate, whose [`half::f16`] is the element type of
/// [`Tensor::F16`] (`f16_chw` output).
pub use half;

/// An output tensor's data.
#[derive(Clone, Debug, PartialEq)]
pub enum Tensor {
    /// u8, N x H x W x C (C = 3, or 1: [`Pipeline::out_channels`]).
    U8(Vec<u8>),
    /// f32, N x C x H x W.
    F32(Vec<f32>),
    /// IEEE binary16, N x C x H x W (`f16_chw`: the f32 values rounded to
    /// nearest, ties to even).
    F16(Vec<half::f16>),
}

/// A mutable view of a whole output tensor.
// Not part of the API: the argument type of the hidden `cpu` kernels (see above).
#[doc(hidden)]
pub enum TensorMut<'a> {
    /// u8 HWC.
    U8(&'a mut [u8]),
    /// f32 CHW.
    F32(&'a mut [f32]),
    /// f16 CHW.
    F16(&'a mut [half::f16]),
}

impl Tensor {
    /// The whole tensor as a mutable view (what the kernels write into).
    pub(crate) fn view_mut(&mut self) -> TensorMut<'_> {
        match self {
            Tensor::U8(v) => TensorMut::U8(v),
            Tensor::F32(v) => TensorMut::F32(v),
            Tensor::F16(v) => TensorMut::F16(v),
        }
    }

    /// Values in the tensor (whatever their type).
    pub fn len(&self) -> usize {
        match self {
            Tensor::U8(v) => v.len(),
            Tensor::F32(v) => v.len(),
            Tensor::F16(v) => v.len(),
        }
    }

    /// Whether the tensor holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TensorMut<'_> {
    /// Copies raw bytes in at byte offset `at` (GPU readback).
    pub(crate) fn write_bytes(&mut self, at: usize, bytes: &[u8]) {
        let dst: &mut [u8] = match self {
            TensorMut::U8(o) => o,
            TensorMut::F32(o) => bytemuck::cast_slice_mut(o),
            TensorMut::F16(o) => bytemuck::cast_slice_mut(o),
        };
        dst[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// Copies the first byte of each RGBA word in at byte offset `at` (u8
    /// readback of a one-channel output).
    pub(crate) fn write_grey_from_rgba(&mut self, at: usize, rgba: &[u8]) {
        if let TensorMut::U8(o) = self {
            let n = rgba.len() / 4;
            for (d, s) in o[at..at + n].iter_mut().zip(rgba.chunks_exact(4)) {
                *d = s[0];
            }
        }
    }

    /// Copies RGBA words in as RGB bytes at byte offset `at` (u8 readback).
    pub(crate) fn write_rgb_from_rgba(&mut self, at: usize, rgba: &[u8]) {
        if let TensorMut::U8(o) = self {
            let n = rgba.len() / 4;
            rgba_to_rgb(&mut o[at..at + n * 3], &rgba[..n * 4]);
        }
    }
}

/// RGBA words to RGB bytes, `rgb.len() / 3 == rgba.len() / 4` pixels: 16
/// pixels (64 bytes in, 48 out) a step through fixed-size arrays, so the
/// loop has no bounds checks and the compiler unrolls it into wide moves
/// instead of sixteen 3-byte copies; the tail pixel by pixel. Bit-identical
/// to copying each word's first three bytes. (The copy is memory-bound: on
/// this machine about 10-20% faster than the per-pixel loop, not more.)
fn rgba_to_rgb(rgb: &mut [u8], rgba: &[u8]) {
    const PX: usize = 16;
    let mut d = rgb.chunks_exact_mut(PX * 3);
    let mut s = rgba.chunks_exact(PX * 4);
    for (d, s) in (&mut d).zip(&mut s) {
        let (Ok(d), Ok(s)) = (
            <&mut [u8; PX * 3]>::try_from(d),
            <&[u8; PX * 4]>::try_from(s),
        ) else {
            unreachable!("chunks_exact yields whole chunks")
        };
        for i in 0..PX {
            d[3 * i] = s[4 * i];
            d[3 * i + 1] = s[4 * i + 1];
            d[3 * i + 2] = s[4 * i + 2];
        }
    }
    for (d, s) in d
        .into_remainder()
        .chunks_exact_mut(3)
        .zip(s.remainder().chunks_exact(4))
    {
        d.copy_from_slice(&s[..3]);
    }
}

#[cfg(test)]
mod readback_tests {
    /// The four-pixel path and the tail agree with the plain per-pixel copy
    /// for every length around the step.
    #[test]
    fn rgba_to_rgb_matches_the_plain_copy() {
        for n in 0..80usize {
            let rgba: Vec<u8> = (0..n * 4).map(|i| (i * 37 + 11) as u8).collect();
            let want: Vec<u8> = rgba
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            let mut got = vec![0u8; n * 3];
            super::rgba_to_rgb(&mut got, &rgba);
            assert_eq!(got, want, "{n} pixels");
        }
    }
}
