//! The entry point a training loop embeds: a pipeline on a backend, called on
//! batches of images of any sizes.

use crate::cpu::{self, Src};
use crate::error::{Error, Result};
use crate::gpu::{BatchStats, GpuContext};
use crate::key::BatchKey;
use crate::ops::Drawn;
use crate::pipeline::{OutputFormat, Pipeline, SampleRecord};
use crate::plan::{globals, plan_sample, GpuSample};
use crate::TensorMut;
use image::{DynamicImage, RgbImage};
use std::path::Path;
use std::sync::Arc;

/// Which engine runs the pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// The GPU when an adapter exists and its device opens, else the CPU.
    #[default]
    Auto,
    /// The GPU; an error when no adapter exists.
    Gpu,
    /// The CPU (rayon over samples).
    Cpu,
}

impl std::str::FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Backend::Auto),
            "gpu" => Ok(Backend::Gpu),
            "cpu" => Ok(Backend::Cpu),
            other => Err(Error::InvalidArgument(format!(
                "backend must be auto, gpu or cpu, got {other:?}"
            ))),
        }
    }
}

/// An output tensor's data.
#[derive(Clone, Debug, PartialEq)]
pub enum Tensor {
    /// u8, N x H x W x 3.
    U8(Vec<u8>),
    /// f32, N x 3 x H x W.
    F32(Vec<f32>),
}

/// What one call returns: the tensor, its shape, and each sample's drawn parameters.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The pixels.
    pub data: Tensor,
    /// [N, H, W, 3] for u8 HWC, [N, 3, H, W] for f32 CHW.
    pub shape: [usize; 4],
    /// One record per sample.
    pub records: Vec<SampleRecord>,
    /// GPU counters (dispatches, submits, bytes), `None` on the CPU.
    pub gpu_stats: Option<BatchStats>,
}

impl Batch {
    /// Sample `i` as u8 HWC bytes (None for f32 output).
    pub fn sample_u8(&self, i: usize) -> Option<&[u8]> {
        let per = self.shape[1] * self.shape[2] * self.shape[3];
        match &self.data {
            Tensor::U8(v) => v.get(i * per..(i + 1) * per),
            Tensor::F32(_) => None,
        }
    }
    /// Sample `i` as f32 CHW (None for u8 output).
    pub fn sample_f32(&self, i: usize) -> Option<&[f32]> {
        let per = self.shape[1] * self.shape[2] * self.shape[3];
        match &self.data {
            Tensor::F32(v) => v.get(i * per..(i + 1) * per),
            Tensor::U8(_) => None,
        }
    }
}

enum Engine {
    Cpu,
    Gpu(Arc<GpuContext>),
}

/// A pipeline bound to a backend.
pub struct Augmenter {
    pipeline: Pipeline,
    engine: Engine,
}

impl Augmenter {
    /// Binds `pipeline` to `backend` (opening a GPU device when needed).
    pub fn new(pipeline: Pipeline, backend: Backend) -> Result<Self> {
        pipeline.validate()?;
        let engine = match backend {
            Backend::Cpu => Engine::Cpu,
            Backend::Gpu => Engine::Gpu(Arc::new(GpuContext::new()?)),
            // No adapter, or one whose device cannot be opened: the CPU.
            Backend::Auto => match GpuContext::new() {
                Ok(g) => Engine::Gpu(Arc::new(g)),
                Err(Error::NoAdapter | Error::Gpu(_)) => Engine::Cpu,
                Err(e) => return Err(e),
            },
        };
        Ok(Self { pipeline, engine })
    }

    /// Binds `pipeline` to an already open GPU device (several pipelines can share one).
    pub fn with_gpu(pipeline: Pipeline, gpu: Arc<GpuContext>) -> Result<Self> {
        pipeline.validate()?;
        Ok(Self {
            pipeline,
            engine: Engine::Gpu(gpu),
        })
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// "gpu" or "cpu".
    pub fn backend_kind(&self) -> &'static str {
        match self.engine {
            Engine::Cpu => "cpu",
            Engine::Gpu(_) => "gpu",
        }
    }

    /// The backend and, on the GPU, the adapter's name.
    pub fn backend_name(&self) -> String {
        match &self.engine {
            Engine::Cpu => format!("cpu ({} threads)", rayon::current_num_threads()),
            Engine::Gpu(g) => format!("gpu ({}, {})", g.adapter().name, g.adapter().backend),
        }
    }

    /// Draws every sample's parameters: sample `i` has global index `key.first_index + i`.
    pub fn draw(&self, images: &[RgbImage], key: BatchKey) -> Result<Vec<Vec<Drawn>>> {
        let indices = batch_indices(key.first_index, images.len())?;
        Ok(images
            .iter()
            .zip(indices)
            .map(|(im, i)| {
                self.pipeline
                    .draw(key.seed, key.epoch, i, 0, im.width(), im.height())
            })
            .collect())
    }

    /// Augments a batch of images of any sizes.
    pub fn augment(&self, images: &[RgbImage], key: BatchKey) -> Result<Batch> {
        let indices = batch_indices(key.first_index, images.len())?;
        self.augment_indexed(images, key.seed, key.epoch, &indices)
    }

    /// Augments images whose global sample indices are given one by one (for
    /// folders where some files failed to decode, or shuffled loaders).
    pub fn augment_indexed(
        &self,
        images: &[RgbImage],
        seed: u64,
        epoch: u64,
        indices: &[u64],
    ) -> Result<Batch> {
        check_images(images)?;
        if indices.len() != images.len() {
            return Err(Error::InvalidArgument(format!(
                "{} images but {} indices",
                images.len(),
                indices.len()
            )));
        }
        let drawn: Vec<Vec<Drawn>> = images
            .iter()
            .zip(indices)
            .map(|(im, &i)| {
                self.pipeline
                    .draw(seed, epoch, i, 0, im.width(), im.height())
            })
            .collect();
        self.augment_drawn(images, &drawn, indices)
    }

    /// Augments a batch with parameters given explicitly (one `Vec<Drawn>` per
    /// image, one `Drawn` per op), e.g. from `apply` or a saved parameter record.
    pub fn augment_drawn(
        &self,
        images: &[RgbImage],
        drawn: &[Vec<Drawn>],
        indices: &[u64],
    ) -> Result<Batch> {
        check_images(images)?;
        if drawn.len() != images.len() || indices.len() != images.len() {
            return Err(Error::InvalidArgument(format!(
                "{} images but {} parameter sets and {} indices",
                images.len(),
                drawn.len(),
                indices.len()
            )));
        }
        let samples: Vec<GpuSample> = images
            .iter()
            .zip(drawn)
            .enumerate()
            .map(|(i, (im, d))| plan_sample(&self.pipeline, d, im.width(), im.height(), i))
            .collect::<Result<_>>()?;
        let srcs: Vec<Src> = images
            .iter()
            .map(|im| Src {
                data: im.as_raw(),
                width: im.width(),
                height: im.height(),
            })
            .collect();
        let gl = globals(&self.pipeline, images.len() as u32, 0);
        let (h, w) = (
            self.pipeline.size.height as usize,
            self.pipeline.size.width as usize,
        );
        let n = images.len();
        let (mut data, shape) = match self.pipeline.format {
            OutputFormat::U8Hwc => (Tensor::U8(vec![0; n * h * w * 3]), [n, h, w, 3]),
            OutputFormat::F32Chw => (Tensor::F32(vec![0.0; n * h * w * 3]), [n, 3, h, w]),
        };
        let view = match &mut data {
            Tensor::U8(v) => TensorMut::U8(v),
            Tensor::F32(v) => TensorMut::F32(v),
        };
        let gpu_stats = match &self.engine {
            Engine::Cpu => {
                cpu::run_batch(&gl, &samples, &srcs, view);
                None
            }
            Engine::Gpu(g) => Some(g.run_batch(&gl, &samples, &srcs, view)?),
        };
        let records = images
            .iter()
            .zip(drawn)
            .zip(indices)
            .map(|((im, d), &index)| SampleRecord {
                index,
                source_size: [im.width(), im.height()],
                ops: d.clone(),
            })
            .collect();
        Ok(Batch {
            data,
            shape,
            records,
            gpu_stats,
        })
    }
}

/// first_index, first_index + 1, ...; an error instead of wrapping past u64::MAX.
fn batch_indices(first: u64, n: usize) -> Result<Vec<u64>> {
    (0..n as u64)
        .map(|i| {
            first.checked_add(i).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "sample index {first} + {i} overflows u64 (first_index too large)"
                ))
            })
        })
        .collect()
}

fn check_images(images: &[RgbImage]) -> Result<()> {
    for (i, im) in images.iter().enumerate() {
        if im.width() == 0 || im.height() == 0 {
            return Err(Error::InvalidImage {
                index: i,
                message: format!("empty image ({}x{})", im.width(), im.height()),
            });
        }
    }
    Ok(())
}

/// Converts any decoded image to RGB u8: grey is replicated, alpha is dropped
/// (not composited), 16-bit and float images are scaled to 8 bits.
pub fn to_rgb(img: DynamicImage) -> RgbImage {
    match img {
        DynamicImage::ImageRgb8(i) => i,
        other => other.to_rgb8(),
    }
}

/// Reads and decodes an image file (any format the `image` crate reads) to RGB u8.
pub fn load_image(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if bytes.is_empty() {
        return Err(Error::Decode {
            path: path.to_path_buf(),
            reason: "empty file".into(),
        });
    }
    let img = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Decode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .decode()
        .map_err(|e| Error::Decode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::Decode {
            path: path.to_path_buf(),
            reason: "image has no pixels".into(),
        });
    }
    Ok(to_rgb(img))
}
