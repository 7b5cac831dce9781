#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod app;
pub mod cpu;
mod engine;
mod error;
pub mod gpu;
pub mod key;
pub mod ops;
pub mod pipeline;
pub mod plan;

pub use engine::{load_image, to_rgb, Augmenter, Backend, Batch, Tensor};
pub use error::{Error, Result};
pub use key::BatchKey;
pub use ops::{ColorStep, Drawn, Interpolation, Op, ResizeTo, Size};
pub use pipeline::{OutputFormat, Pipeline, SampleRecord};

/// RGB u8 images, as the `image` crate holds them: the engine's input type.
pub use image::RgbImage;

/// A mutable view of a whole output tensor.
pub enum TensorMut<'a> {
    /// u8 HWC.
    U8(&'a mut [u8]),
    /// f32 CHW.
    F32(&'a mut [f32]),
}

impl TensorMut<'_> {
    /// Copies raw bytes in at byte offset `at` (GPU readback).
    pub(crate) fn write_bytes(&mut self, at: usize, bytes: &[u8]) {
        let dst: &mut [u8] = match self {
            TensorMut::U8(o) => o,
            TensorMut::F32(o) => bytemuck::cast_slice_mut(o),
        };
        dst[at..at + bytes.len()].copy_from_slice(bytes);
    }
}
