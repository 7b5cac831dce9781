//! The entry point a training loop embeds: a pipeline on a backend, called on
//! batches of images of any sizes.

use crate::cpu::{self, Src};
use crate::error::{Error, Result};
use crate::gpu::{BatchStats, GpuContext};
use crate::mix::GpuMixGlobals;
use crate::mix::{
    check_records, label_rows, output_labels, plan_mix, rotation_joint_rows, Labels, MixRecord,
    SoftLabels,
};
use crate::ops::{Drawn, Op, PolicyKind};
use crate::pipeline::{OutputFormat, Pipeline, SampleRecord};
use crate::plan::{globals, plan_sample, GpuSample};
use crate::request::{Request, SourceWindow};
use crate::schedule::ScheduleValues;
use crate::steer::SampleOverrides;
use crate::targets::{self, ForwardMap, Mask, SampleTargets, TargetOptions, Targets};
pub use crate::Tensor;
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

/// What one call returns: the tensor, its shape, and each sample's drawn parameters.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The pixels.
    pub data: Tensor,
    /// [N, H, W, C] for u8 HWC, [N, C, H, W] for f32, f16 and u8 CHW: C
    /// is 3, or 1 after `grayscale` with `num_output_channels = 1`.
    pub shape: [usize; 4],
    /// The pipeline's output format (what `data` and `shape` hold).
    pub format: OutputFormat,
    /// One record per sample.
    pub records: Vec<SampleRecord>,
    /// GPU counters (dispatches, submits, bytes), `None` on the CPU.
    pub gpu_stats: Option<BatchStats>,
    /// The output samples' soft labels (N x num_classes, rows summing to 1),
    /// when labels were given.
    pub labels: Option<SoftLabels>,
    /// GPU backend: the output samples that ran on the CPU twin instead,
    /// because the device cannot hold their source or output (a binding or
    /// buffer limit), with the reason. Same values either way (the CPU twin
    /// matches the shader); empty on the CPU backend.
    pub cpu_fallback: Vec<(usize, String)>,
    /// Every output sample's transformed targets, when targets were given
    /// (see [`crate::targets`]).
    pub targets: Option<Vec<SampleTargets>>,
}

impl Batch {
    /// Sample `i` as u8 bytes, HWC (or CHW for u8_chw; None for f32 and
    /// f16 output).
    pub fn sample_u8(&self, i: usize) -> Option<&[u8]> {
        let per = self.shape[1] * self.shape[2] * self.shape[3];
        match &self.data {
            Tensor::U8(v) => v.get(i * per..(i + 1) * per),
            Tensor::F32(_) | Tensor::F16(_) => None,
        }
    }
    /// Sample `i` as f32 CHW (None for u8 and f16 output).
    pub fn sample_f32(&self, i: usize) -> Option<&[f32]> {
        let per = self.shape[1] * self.shape[2] * self.shape[3];
        match &self.data {
            Tensor::F32(v) => v.get(i * per..(i + 1) * per),
            Tensor::U8(_) | Tensor::F16(_) => None,
        }
    }
    /// Sample `i` as f16 CHW (None for u8 and f32 output).
    pub fn sample_f16(&self, i: usize) -> Option<&[half::f16]> {
        let per = self.shape[1] * self.shape[2] * self.shape[3];
        match &self.data {
            Tensor::F16(v) => v.get(i * per..(i + 1) * per),
            Tensor::U8(_) | Tensor::F32(_) => None,
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
    /// Output tensors handed back with [`Augmenter::recycle`], oldest first,
    /// reused by the next batches of the same size (at most `POOL` kept).
    pool: std::sync::Mutex<Vec<Tensor>>,
}

/// Tensors the pool keeps (a loop that recycles each batch needs one; the
/// Loader's workers, one each).
const POOL: usize = 4;

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
        let a = Self {
            pipeline,
            engine,
            pool: Default::default(),
        };
        a.precompile(false)?;
        Ok(a)
    }

    /// Binds `pipeline` to an already open GPU device (several pipelines can share one).
    pub fn with_gpu(pipeline: Pipeline, gpu: Arc<GpuContext>) -> Result<Self> {
        pipeline.validate()?;
        let a = Self {
            pipeline,
            engine: Engine::Gpu(gpu),
            pool: Default::default(),
        };
        a.precompile(false)?;
        Ok(a)
    }

    /// GPU backend: compiles the kernel variant that covers every batch of
    /// the pipeline (and, with `masks`, its label-map kernel), so no batch
    /// waits for a compile (see `gpu::variants`). Nothing on the CPU.
    pub(crate) fn precompile(&self, masks: bool) -> Result<()> {
        match self.gpu() {
            Some(g) => {
                let (gl, bounds) = self.kernel_bounds()?;
                let mix = self.pipeline.mix.is_some();
                g.precompile(
                    &gl,
                    bounds,
                    masks,
                    mix.then(|| globals(&self.pipeline, 0, 0).out[3]),
                )
            }
            None => Ok(()),
        }
    }

    /// The globals the GPU kernels run the pipeline's batches with, and the
    /// bounds of their samples (`plan::kernel_bounds`): the pipeline's own,
    /// or with AugMix those of its internal pipeline (`run_augmix`).
    pub(crate) fn kernel_bounds(
        &self,
    ) -> Result<(crate::plan::GpuGlobals, crate::plan::KernelBounds)> {
        let augmix = self
            .pipeline
            .ops
            .iter()
            .position(|o| matches!(o, Op::AugMix { .. }));
        let inner;
        let p = match augmix {
            Some(pos) => {
                inner = augmix_inner(&self.pipeline, pos)?;
                &inner
            }
            None => &self.pipeline,
        };
        Ok((globals(p, 0, 0), crate::plan::kernel_bounds(p)))
    }

    /// Hands a batch's tensor back for reuse: the next batch of the same
    /// format and size is written into it (every value) instead of a fresh
    /// allocation, which saves the kernel's zeroing and page faults of tens
    /// of MB per batch (a tenth of the CPU backend's time on imagenet_train).
    /// For loops that are done with a batch once it is consumed (copied to
    /// the device, say). The pool keeps the `POOL` most recent tensors: one
    /// of a size no batch asks for again (an epoch's short last batch) is
    /// pushed out by later ones instead of taking a place for good.
    pub fn recycle(&self, batch: Batch) {
        self.recycle_tensor(batch.data);
    }

    /// [`Augmenter::recycle`] for a batch's tensor alone (what a consumer
    /// that took the batch apart keeps, such as the Python package's arrays).
    pub fn recycle_tensor(&self, tensor: Tensor) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() == POOL {
            pool.remove(0);
        }
        pool.push(tensor);
    }

    /// A tensor of `values` values in the pipeline's format: a recycled one
    /// when the pool has one of that size (`true`; its old contents, all
    /// overwritten by the batch), else a fresh one of zeros.
    fn take_tensor(&self, values: usize, what: &dyn Fn() -> String) -> Result<(Tensor, bool)> {
        let format = self.pipeline.format;
        let reused = {
            let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            let fits = |t: &Tensor| {
                t.len() == values
                    && match t {
                        Tensor::U8(_) => !format.is_f32() && !format.is_f16(),
                        Tensor::F32(_) => format.is_f32(),
                        Tensor::F16(_) => format.is_f16(),
                    }
            };
            pool.iter().position(fits).map(|i| pool.remove(i))
        };
        // A recycled tensor is not cleared: every backend path writes every
        // value of every sample (tests/determinism.rs poisons recycled
        // tensors to check it). Clearing cost a single-threaded pass over
        // tens of MB per batch, while the workers waited.
        Ok(match reused {
            Some(t) => (t, true),
            None if format.is_f32() => (Tensor::F32(zeroed(values, what)?), false),
            None if format.is_f16() => (Tensor::F16(zeroed(values, what)?), false),
            None => (Tensor::U8(zeroed(values, what)?), false),
        })
    }

    /// The GPU device, on the GPU backend.
    pub(crate) fn gpu(&self) -> Option<&Arc<GpuContext>> {
        match &self.engine {
            Engine::Cpu => None,
            Engine::Gpu(g) => Some(g),
        }
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

    /// Whether this augmenter's device keeps its buffers in host memory (a
    /// CPU adapter such as lavapipe). False on the CPU backend.
    pub fn device_memory_is_host(&self) -> bool {
        matches!(&self.engine, Engine::Gpu(g) if g.adapter().device_type == "Cpu")
    }

    /// The backend and, on the GPU, the adapter's name.
    pub fn backend_name(&self) -> String {
        match &self.engine {
            Engine::Cpu => format!("cpu ({} threads)", rayon::current_num_threads()),
            Engine::Gpu(g) => format!("gpu ({}, {})", g.adapter().name, g.adapter().backend),
        }
    }

    /// What `augment` would render for `request`, without rendering it: one
    /// record per output sample (image-major: output `o` is view `o % views`
    /// of image `o / views`) with its global index, view, source size, every
    /// op's parameters and its mixing record. Drawn parameters are a pure
    /// function of (seed, epoch, index, view, op position); parts the request
    /// gives explicitly (`params`, `mix_records`, `replay`) are checked and
    /// taken as they are.
    pub fn draw(&self, request: &Request<'_>) -> Result<Vec<SampleRecord>> {
        let r = request;
        r.check_conflicts()?;
        check_images(r.images)?;
        let k = self.pipeline.views.max(1) as usize;
        let n = r.images.len() * k;
        // The sources' sizes: a partly decoded image's whole source's.
        let sizes = r.source_sizes()?;
        if let Some(records) = r.replay {
            self.check_replay(&sizes, records)?;
            return Ok(records.to_vec());
        }
        let indices = match r.indices {
            Some(ix) if ix.len() != r.images.len() => {
                return Err(Error::InvalidArgument(format!(
                    "{} images but {} indices",
                    r.images.len(),
                    ix.len()
                )))
            }
            Some(ix) => ix.to_vec(),
            None => batch_indices(r.first_index, r.images.len())?,
        };
        let keys: Vec<u32> = match r.view_keys {
            Some(v) if v.len() != k => {
                return Err(Error::InvalidArgument(format!(
                    "request: {} view keys but the pipeline has {k} view(s): give one key per view",
                    v.len()
                )))
            }
            Some(v) => v.to_vec(),
            None => (0..k as u32).collect(),
        };
        let overrides = match r.overrides {
            Some(o) => Some(o.per_sample(r.images.len(), &self.pipeline.ops)?),
            None => None,
        };
        let (drawn, schedule): (Vec<Vec<Drawn>>, Vec<Option<ScheduleValues>>) = match r.params {
            Some(p) if p.len() != n => {
                return Err(Error::InvalidArgument(format!(
                    "{} images of {k} view(s) but {} parameter sets",
                    r.images.len(),
                    p.len()
                )))
            }
            Some(p) => {
                let sched = (!self.pipeline.schedules.is_empty())
                    .then(|| self.pipeline.schedules.values(r.epoch, 1.0));
                (p.to_vec(), vec![sched; n])
            }
            None => self
                .draw_indexed(
                    &sizes,
                    r.seed,
                    r.epoch,
                    &indices,
                    &keys,
                    overrides.as_deref(),
                )?
                .into_iter()
                .unzip(),
        };
        let mix = match r.mix {
            Some(m) => Some(m.to_vec()),
            None => self.draw_mix(r.seed, r.epoch, &indices, &keys),
        };
        if let Some(m) = &mix {
            check_records(m, n, self.pipeline.size)?;
        }
        Ok(drawn
            .into_iter()
            .zip(schedule)
            .enumerate()
            .map(|(o, (ops, schedule))| SampleRecord {
                index: indices[o / k],
                view: (o % k) as u32,
                source_size: sizes[o / k],
                ops,
                mix: mix.as_ref().map(|m| m[o].clone()),
                overrides: overrides.as_ref().map(|v| v[o / k].clone()),
                schedule,
                view_name: None,
            })
            .collect())
    }

    /// Augments a batch of images of any sizes as `request` asks (see
    /// [`Request`]): draws (or takes) every output sample's parameters, runs
    /// the pipeline on the backend, mixes the batch when the pipeline has a
    /// mixing op, and mixes the labels when they are given.
    pub fn augment(&self, request: Request<'_>) -> Result<Batch> {
        let records = self.draw(&request)?;
        let default_options = TargetOptions::default();
        let targets = request.targets_with(&default_options);
        self.render(
            request.images,
            request.windows,
            records,
            request.labels.as_ref(),
            targets,
        )
    }

    /// Whether the GPU kernel variant this augmenter precompiles (see
    /// `gpu::variants`) covers the batch `request` would run: its exact
    /// variant's flags each implied, hue steps and op codes within. A pure
    /// check on the planned samples (any backend; for tests). An error for
    /// AugMix, whose internal batch is planned when it runs.
    #[doc(hidden)]
    pub fn precompiled_covers(&self, request: Request<'_>) -> Result<bool> {
        let records = self.draw(&request)?;
        let default_options = TargetOptions::default();
        let targets = request.targets_with(&default_options);
        let p = self.prepare(
            request.images,
            request.windows,
            records,
            request.labels.as_ref(),
            targets,
        )?;
        if p.augmix.is_some() {
            return Err(Error::InvalidArgument(
                "augmix: its internal batch is planned when it runs".into(),
            ));
        }
        let (gl, bounds) = self.kernel_bounds()?;
        Ok(crate::gpu::superset_covers(&gl, bounds, &p.gl, &p.samples))
    }

    /// The box (x0, y0, x1, y1, exclusive) of a `w` x `h` source that its
    /// output samples read, when it is known before the source is decoded:
    /// for source index `index` in a request keyed on `seed` and `epoch`
    /// that draws every parameter (no overrides, params, view keys or
    /// replay), every view's sample planned as `augment` plans it runs on the
    /// antialiased resampler, which reads its window and nothing else; the
    /// box is the union of the windows. `None` when some sample may read
    /// anywhere (the gather: rotations, affine and other warps, fills, random
    /// fields, nearest sampling, plain whole-pixel crops), when the pipeline
    /// mixes (resizemix reads a partner's whole source) or has AugMix.
    /// What the Loader's decode threads ask before a region decode.
    pub(crate) fn read_box(
        &self,
        seed: u64,
        epoch: u64,
        index: u64,
        w: u32,
        h: u32,
    ) -> Option<[u32; 4]> {
        let p = &self.pipeline;
        if p.mix.is_some() || p.ops.iter().any(|o| matches!(o, Op::AugMix { .. })) {
            return None;
        }
        let k = p.views.max(1);
        let keys: Vec<u32> = (0..k).collect();
        let drawn = self
            .draw_indexed(&[[w, h]], seed, epoch, &[index], &keys, None)
            .ok()?;
        let mut bx: Option<[u32; 4]> = None;
        for (v, (ops, schedule)) in (0u32..).zip(drawn) {
            // The record `draw` makes of it (the plan reads its schedule).
            let r = SampleRecord {
                index,
                view: v,
                source_size: [w, h],
                ops,
                mix: None,
                overrides: None,
                schedule,
                view_name: None,
            };
            let own = p.for_record(&r).ok()?;
            let g = plan_sample(&own, &r.ops, w, h, 0).ok()?;
            if !g.resample.active() {
                return None;
            }
            let [x, nx, y, ny] = g.resample.win;
            let b = [x, y, x + nx, y + ny];
            bx = Some(match bx {
                None => b,
                Some(a) => [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ],
            });
        }
        bx
    }

    /// Every output sample's parameters drawn for source images of `sizes`
    /// (width, height) with global indices `indices`; with `views = k` image `i`'s views are outputs
    /// `i * k .. i * k + k`, view `v` keyed on `keys[v]` (`v` by default); with overrides, image
    /// `i`'s apply to all its views. Each comes with the values its
    /// scheduled keys took (pipelines with schedules).
    fn draw_indexed(
        &self,
        sizes: &[[u32; 2]],
        seed: u64,
        epoch: u64,
        indices: &[u64],
        keys: &[u32],
        overrides: Option<&[SampleOverrides]>,
    ) -> Result<Vec<(Vec<Drawn>, Option<ScheduleValues>)>> {
        let mut out = Vec::with_capacity(sizes.len() * keys.len());
        for (j, (&[w, h], &i)) in sizes.iter().zip(indices).enumerate() {
            let ov = overrides.map(|o| &o[j]);
            for (copy, &v) in (0u32..).zip(keys) {
                out.push(
                    self.pipeline
                        .draw_sample(seed, epoch, i, v, copy, w, h, ov)?,
                );
            }
        }
        Ok(out)
    }

    /// The mixing records of a batch whose sources have global indices
    /// `indices` (None when the pipeline does not mix). The partners are a
    /// random cycle keyed on the whole batch; lambdas and boxes are keyed on
    /// each output sample's (index, view), or on the batch with `per_batch`.
    /// With view keys, the draws are keyed on them and `partner_view` is
    /// still the partner's view number (its position among its image's views).
    fn draw_mix(
        &self,
        seed: u64,
        epoch: u64,
        indices: &[u64],
        keys: &[u32],
    ) -> Option<Vec<MixRecord>> {
        let mix = self.pipeline.mix.as_ref()?;
        let ids: Vec<(u64, u32)> = indices
            .iter()
            .flat_map(|&i| keys.iter().map(move |&v| (i, v)))
            .collect();
        let mut records = mix.draw(
            seed,
            epoch,
            self.pipeline.ops.len() as u32,
            &ids,
            self.pipeline.size,
        );
        let k = keys.len().max(1);
        for r in &mut records {
            r.partner_view = (r.partner % k) as u32;
        }
        Some(records)
    }

    /// Checks saved records against the images' source sizes and the
    /// pipeline before a replay: one per output sample, each of its image's
    /// size and view, the
    /// views of an image with one index, one drawn entry per op, mixing
    /// records exactly when the pipeline mixes, each partner the record at
    /// its position.
    fn check_replay(&self, sizes: &[[u32; 2]], records: &[SampleRecord]) -> Result<()> {
        let k = self.pipeline.views.max(1) as usize;
        let n = sizes.len() * k;
        let bad = |m: String| Err(Error::InvalidArgument(format!("replay: {m}")));
        if records.len() != n {
            return bad(format!(
                "{} records for {} images of {k} view(s) ({n} output samples)",
                records.len(),
                sizes.len()
            ));
        }
        let nops = self.pipeline.ops.len();
        for (o, r) in records.iter().enumerate() {
            let [w, h] = sizes[o / k];
            if r.source_size != [w, h] {
                return bad(format!(
                    "record {o} (index {}) was drawn for a {}x{} source but image {} is {w}x{h}",
                    r.index,
                    r.source_size[0],
                    r.source_size[1],
                    o / k,
                ));
            }
            if r.view as usize != o % k {
                return bad(format!(
                    "record {o} (index {}) is view {} but output {o} is view {} of image {} (records are image-major)",
                    r.index,
                    r.view,
                    o % k,
                    o / k
                ));
            }
            if o % k != 0 && r.index != records[o - o % k].index {
                return bad(format!(
                    "record {o} has index {} but the other views of image {} have index {}",
                    r.index,
                    o / k,
                    records[o - o % k].index
                ));
            }
            if r.ops.len() != nops {
                return bad(format!(
                    "record {o} (index {}) has {} op parameters but the pipeline has {nops} ops",
                    r.index,
                    r.ops.len()
                ));
            }
            if o % k != 0 && r.overrides != records[o - o % k].overrides {
                return bad(format!(
                    "record {o} (index {}) has other overrides than the other views of image {} (overrides are per source image)",
                    r.index,
                    o / k
                ));
            }
            // The schedule's values and the overrides read back into ops.
            self.pipeline
                .for_record(r)
                .map_err(|e| Error::InvalidArgument(format!("replay: record {o}: {e}")))?;
            match (&r.mix, &self.pipeline.mix) {
                (None, Some(m)) => {
                    return bad(format!(
                    "record {o} (index {}) has no mixing record but the pipeline mixes (op `{}`)",
                    r.index,
                    m.name()
                ))
                }
                (Some(_), None) => {
                    return bad(format!(
                    "record {o} (index {}) has a mixing record but the pipeline has no mixing op",
                    r.index
                ))
                }
                (Some(m), Some(_)) => {
                    if let Some(p) = records.get(m.partner) {
                        if (p.index, p.view) != (m.partner_index, m.partner_view) {
                            return bad(format!(
                                "record {o} (index {}): its mixing partner, index {} view {}, is at position {} but the record there is index {} view {} (replay a batch's records together, in their order)",
                                r.index, m.partner_index, m.partner_view, m.partner, p.index, p.view
                            ));
                        }
                    }
                }
                (None, None) => {}
            }
        }
        Ok(())
    }

    /// Renders `records` (one per output sample, checked by `draw`) of
    /// `images`: the pixels, the batch mix, the labels.
    fn render(
        &self,
        images: &[RgbImage],
        windows: Option<&[Option<SourceWindow>]>,
        records: Vec<SampleRecord>,
        labels: Option<&Labels>,
        targets: Option<(&[Targets], &TargetOptions)>,
    ) -> Result<Batch> {
        let p = self.prepare(images, windows, records, labels, targets)?;
        self.render_prepared(p)
    }

    /// Runs a prepared batch on the backend alone and finishes it.
    pub(crate) fn render_prepared(&self, mut p: Prepared<'_>) -> Result<Batch> {
        let mut cpu_fallback = Vec::new();
        let mut masks_out: Option<Vec<Vec<Mask>>> = None;
        let gpu_stats = match p.augmix {
            None => self.run(
                &p.gl,
                &p.samples,
                &p.srcs,
                &mut p.data,
                p.gmix.as_deref(),
                &mut cpu_fallback,
                p.mask_refs.as_ref().map(|(m, i)| (&m[..], *i)),
                &mut masks_out,
            )?,
            Some(pos) => {
                // f16 with a batch mix: AugMix and the mix on the f32
                // values, rounded once at the end (as the f32 pipeline's
                // values would be).
                let mut twin = match &p.data {
                    Tensor::F16(v) if p.gmix.is_some() => {
                        Some(Tensor::F32(crate::half_out::f32_twin(v.len(), &|| {
                            format!("the f32 values of {} f16 outputs", p.records.len())
                        })?))
                    }
                    _ => None,
                };
                let target = twin.as_mut().unwrap_or(&mut p.data);
                let stats =
                    self.run_augmix(pos, p.images, &p.records, p.k, target, &mut cpu_fallback)?;
                // The batch mix follows AugMix's, on the host (both backends).
                if let Some(gm) = &p.gmix {
                    mix_on_host(&p.gl.as_f32(), gm, target);
                }
                if let (Some(Tensor::F32(f)), Tensor::F16(h)) = (&twin, &mut p.data) {
                    crate::half_out::round_into(f, h);
                }
                stats
            }
        };
        self.finish(p, gpu_stats, cpu_fallback, masks_out)
    }

    /// Everything `render` does before the backend runs: the checks, the
    /// output tensor, every sample's plan and source, the mixing table, the
    /// label rows and the mask job. With `windows` (images that hold only
    /// part of their source, see [`SourceWindow`]) every sample is planned
    /// for its whole source and moved onto its image.
    pub(crate) fn prepare<'a>(
        &self,
        images: &'a [RgbImage],
        windows: Option<&[Option<SourceWindow>]>,
        records: Vec<SampleRecord>,
        labels: Option<&Labels>,
        targets: Option<(&'a [Targets], &'a TargetOptions)>,
    ) -> Result<Prepared<'a>> {
        let k = self.pipeline.views.max(1) as usize;
        let n = images.len() * k;
        if records.len() != n {
            return Err(Error::InvalidArgument(format!(
                "{} images of {k} view(s) but {} records",
                images.len(),
                records.len()
            )));
        }
        let size = self.pipeline.size;
        let mix: Option<Vec<MixRecord>> = match records.iter().filter(|r| r.mix.is_some()).count() {
            0 => None,
            c if c == n => Some(records.iter().filter_map(|r| r.mix.clone()).collect()),
            c => {
                return Err(Error::InvalidArgument(format!(
                "{c} of {n} output samples have a mixing record: give one for every sample or none"
            )))
            }
        };
        if let Some(m) = &mix {
            check_records(m, n, size)?;
        }
        let label_rows = match labels {
            Some(l) => {
                let (nc, rows) = label_rows(l, images.len())?;
                if let Some(m) = &self.pipeline.mix {
                    if m.num_classes != nc {
                        return Err(Error::InvalidArgument(format!(
                            "labels have {nc} classes but op #{} `{}` has num_classes = {}",
                            self.pipeline.ops.len(),
                            m.name(),
                            m.num_classes
                        )));
                    }
                }
                Some((nc, rows))
            }
            None => None,
        };
        let tjob = match targets {
            Some((t, o)) => Some(self.check_targets(images, t, o)?),
            None => None,
        };
        let gl = globals(&self.pipeline, n as u32, 0);
        let gmix = mix.as_deref().map(|m| plan_mix(m, size));
        let (h, w) = (size.height as usize, size.width as usize);
        let what = || format!("the output tensor ({n} samples of {w}x{h})");
        let c = self.pipeline.out_channels();
        let values = n.checked_mul(h * w * c).ok_or_else(|| Error::OutOfMemory {
            what: what(),
            bytes: u64::MAX,
        })?;
        let shape = match self.pipeline.format {
            OutputFormat::U8Hwc => [n, h, w, c],
            OutputFormat::F32Chw | OutputFormat::U8Chw | OutputFormat::F16Chw => [n, c, h, w],
        };
        let (data, reused) = self.take_tensor(values, &what)?;
        let augmix = self
            .pipeline
            .ops
            .iter()
            .position(|o| matches!(o, Op::AugMix { .. }));
        crate::request::check_windows(images, windows)?;
        let window = |i: usize| windows.and_then(|w| w[i].as_ref());
        if (augmix.is_some() || targets.is_some()) && (0..images.len()).any(|i| window(i).is_some())
        {
            return Err(Error::InvalidArgument(
                "source windows with augmix or targets: both need whole images".into(),
            ));
        }
        let (mut samples, mut srcs, mut mask_refs) = (Vec::new(), Vec::new(), None);
        if augmix.is_none() {
            samples = records
                .iter()
                .enumerate()
                .map(|(o, r)| {
                    let im = &images[o / k];
                    let p = self.pipeline.for_record(r)?;
                    let Some(win) = window(o / k) else {
                        return plan_sample(&p, &r.ops, im.width(), im.height(), o / k);
                    };
                    let [w, h] = win.full;
                    let mut g = plan_sample(&p, &r.ops, w, h, o / k)?;
                    if !g.onto_window(win.origin, win.valid, im.width(), im.height()) {
                        return Err(Error::InvalidArgument(format!(
                            "output sample {o} (index {}) reads outside the decoded part {:?} of its {w}x{h} source (region decode; GPU_AUGMENT_FULL_DECODE=1 turns it off)",
                            r.index, win.valid
                        )));
                    }
                    Ok(g)
                })
                .collect::<Result<_>>()?;
            srcs = (0..n)
                .map(|o| {
                    let im = &images[o / k];
                    Src {
                        data: im.as_raw(),
                        width: im.width(),
                        height: im.height(),
                    }
                })
                .collect();
            mask_refs = tjob.as_ref().filter(|j| j.per_image > 0).map(|j| {
                let t = targets.map_or(&[][..], |(t, _)| t);
                (
                    (0..n).map(|o| t[o / k].masks.iter().collect()).collect(),
                    j.ignore,
                )
            });
        }
        Ok(Prepared {
            images,
            k,
            records,
            mix,
            label_rows,
            targets: targets.zip(tjob),
            gl,
            gmix,
            data,
            reused,
            shape,
            augmix,
            samples,
            srcs,
            mask_refs,
        })
    }

    /// Everything `render` does after the backend ran: the labels, the
    /// targets and the batch.
    pub(crate) fn finish(
        &self,
        p: Prepared<'_>,
        gpu_stats: Option<BatchStats>,
        cpu_fallback: Vec<(usize, String)>,
        masks_out: Option<Vec<Vec<Mask>>>,
    ) -> Result<Batch> {
        let Prepared {
            images,
            k,
            records,
            mix,
            label_rows,
            targets,
            mut data,
            reused,
            shape,
            samples: planned,
            ..
        } = p;
        let n = records.len();
        let size = self.pipeline.size;
        // u8 CHW: the kernels wrote u8 HWC (mixed, when the batch mixes).
        if let (OutputFormat::U8Chw, Tensor::U8(v)) = (self.pipeline.format, &mut data) {
            hwc_to_chw(v, size.width as usize * size.height as usize, shape[1]);
        }
        let mix = mix.as_deref();
        // The output tensor, when it was allocated for this batch.
        let gpu_stats = gpu_stats.map(|s| BatchStats {
            allocations: s.allocations + u32::from(!reused),
            ..s
        });
        let labels = label_rows.map(|(nc, rows)| match self.rotation_ks(&records) {
            // rotation_label: joint rows of nc * 4 classes, one per output.
            Some(ks) => output_labels(nc * 4, &rotation_joint_rows(nc, &rows, k, &ks), 1, mix),
            None => output_labels(nc, &rows, k, mix),
        });
        let targets = match targets {
            Some(((t, o), _)) => {
                let mut masks = masks_out.unwrap_or_default();
                let mut out = Vec::with_capacity(n);
                for (i, (r, g)) in records.iter().zip(&planned).enumerate() {
                    let im = &images[i / k];
                    let p = self.pipeline.for_record(r)?;
                    let map =
                        ForwardMap::new(&p, &r.ops, im.width(), im.height(), i / k, &g.field)?;
                    let (boxes, box_origin, keypoints) =
                        targets::transform_geometry(&t[i / k], &map, o, i);
                    out.push(SampleTargets {
                        masks: masks.get_mut(i).map(std::mem::take).unwrap_or_default(),
                        boxes,
                        box_origin,
                        keypoints,
                        forward_error: map.error_bound(),
                        weight: 1.0,
                    });
                }
                // The batch mix moves targets as it moves pixels.
                if let Some(m) = mix {
                    out = targets::mix::mix_targets(out, m, (size.width, size.height), o);
                }
                Some(out)
            }
            None => None,
        };
        Ok(Batch {
            data,
            shape,
            format: self.pipeline.format,
            records,
            gpu_stats,
            labels,
            cpu_fallback,
            targets,
        })
    }

    /// Each output sample's rotation_label k (None without the op).
    fn rotation_ks(&self, records: &[SampleRecord]) -> Option<Vec<u32>> {
        let pos = self
            .pipeline
            .ops
            .iter()
            .position(|o| matches!(o, Op::RotationLabel { .. }))?;
        Some(
            records
                .iter()
                .map(|r| match r.ops.get(pos) {
                    Some(Drawn::RotationLabel { k }) => *k,
                    _ => 0,
                })
                .collect(),
        )
    }

    /// Mixes an already augmented batch `data` (this pipeline's size and
    /// format, one output per record) in place as `records` say, on the host
    /// with the CPU twin of the mixing kernel: the step `augment` runs after
    /// the per-sample ops on the CPU backend (`gpu-augment bench --mix-only`
    /// times it alone).
    pub fn mix_batch(&self, data: &mut Tensor, records: &[MixRecord]) -> Result<()> {
        let size = self.pipeline.size;
        let n = records.len();
        check_records(records, n, size)?;
        let want = n * size.width as usize * size.height as usize * self.pipeline.out_channels();
        let (len, f32_data) = match data {
            Tensor::U8(v) => (v.len(), false),
            Tensor::F32(v) => (v.len(), true),
            Tensor::F16(_) => {
                return Err(Error::InvalidArgument(
                    "mix_batch: f16_chw batches cannot be mixed after the fact (the mix would round twice, unlike the f16_chw pipeline's output): mix the f32_chw batch, then round".into(),
                ))
            }
        };
        if len != want || f32_data != self.pipeline.format.is_f32() {
            return Err(Error::InvalidArgument(format!(
                "mix_batch: a tensor of {len} values is not {n} outputs of {}x{} in the pipeline's format",
                size.width, size.height
            )));
        }
        let gl = globals(&self.pipeline, n as u32, 0);
        // u8 CHW: the mix runs on the HWC layout the kernels write.
        let planar = self.pipeline.format == OutputFormat::U8Chw;
        let c = self.pipeline.out_channels();
        let npx = size.width as usize * size.height as usize;
        if let (true, Tensor::U8(v)) = (planar, &mut *data) {
            chw_to_hwc(v, npx, c);
        }
        mix_on_host(&gl, &plan_mix(records, size), data);
        if let (true, Tensor::U8(v)) = (planar, &mut *data) {
            hwc_to_chw(v, npx, c);
        }
        Ok(())
    }

    /// Runs planned samples on the backend into `data`, with the batch mix.
    /// On the GPU, a sample the device cannot hold (its source or output
    /// beyond a binding or buffer limit) runs on the CPU twin instead, in its
    /// place in the tensor (listed in `fallback` with the reason); the
    /// samples around it still run on the GPU, and the batch mix then runs
    /// on the host. With `masks` (each output sample's label maps and the
    /// ignore value) the masks are gathered on the same maps into `masks_out`.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        gl: &crate::plan::GpuGlobals,
        samples: &[GpuSample],
        srcs: &[Src],
        data: &mut Tensor,
        gmix: Option<&[crate::mix::GpuMix]>,
        fallback: &mut Vec<(usize, String)>,
        masks: Option<crate::cpu::masks::MaskJob<'_>>,
        masks_out: &mut Option<Vec<Vec<Mask>>>,
    ) -> Result<Option<BatchStats>> {
        // f16 output: the GPU rounds on the device (its last pass) when the
        // whole batch runs there; otherwise (the CPU backend, samples that
        // fall back to the CPU twin) the f32 values, the batch mix on them,
        // then one rounding on the host.
        if let Tensor::F16(h) = data {
            let on_device = match &self.engine {
                Engine::Cpu => false,
                Engine::Gpu(g) => samples
                    .iter()
                    .zip(srcs)
                    .all(|(s, src)| g.sample_misfit(gl, s, src).is_none()),
            };
            if !on_device {
                let mut twin = Tensor::F32(crate::half_out::f32_twin(h.len(), &|| {
                    format!("the f32 values of {} f16 outputs", samples.len())
                })?);
                let stats = self.run(
                    &gl.as_f32(),
                    samples,
                    srcs,
                    &mut twin,
                    gmix,
                    fallback,
                    masks,
                    masks_out,
                )?;
                if let (Tensor::F32(f), Tensor::F16(h)) = (&twin, &mut *data) {
                    crate::half_out::round_into(f, h);
                }
                return Ok(stats);
            }
        }
        Ok(match &self.engine {
            Engine::Cpu => {
                cpu::run_batch(gl, samples, srcs, data.view_mut())?;
                if let Some((m, ignore)) = masks {
                    *masks_out = Some(cpu::masks::run_masks(gl, samples, m, ignore));
                }
                if let Some(gm) = gmix {
                    mix_on_host(gl, gm, data);
                }
                None
            }
            Engine::Gpu(g) => {
                let too_big: Vec<(usize, String)> = samples
                    .iter()
                    .zip(srcs)
                    .enumerate()
                    .filter_map(|(i, (s, src))| g.sample_misfit(gl, s, src).map(|r| (i, r)))
                    .collect();
                if too_big.is_empty() {
                    let (stats, m) =
                        g.run_batch_masks(gl, samples, srcs, data.view_mut(), gmix, masks)?;
                    *masks_out = m;
                    return Ok(Some(stats));
                }
                // Samples the device cannot hold: the masks of the whole
                // batch on the CPU twin (the same values).
                if let Some((m, ignore)) = masks {
                    *masks_out = Some(cpu::masks::run_masks(gl, samples, m, ignore));
                }
                let per = gl.values_per_sample();
                let mut stats = BatchStats::default();
                let mut start = 0;
                let run_gpu = |range: std::ops::Range<usize>,
                               data: &mut Tensor,
                               stats: &mut BatchStats|
                 -> Result<()> {
                    if range.is_empty() {
                        return Ok(());
                    }
                    let mut sub = *gl;
                    sub.out[2] = range.len() as u32;
                    let out = tensor_range(data, range.start * per..range.end * per);
                    let s = g.run_batch(&sub, &samples[range.clone()], &srcs[range], out, None)?;
                    stats.dispatches += s.dispatches;
                    stats.submits += s.submits;
                    stats.chunks += s.chunks;
                    stats.bytes_up += s.bytes_up;
                    stats.bytes_down += s.bytes_down;
                    stats.pack_ns += s.pack_ns;
                    stats.device_ns += s.device_ns;
                    stats.readback_ns += s.readback_ns;
                    stats.allocations += s.allocations;
                    stats.covered += s.covered;
                    Ok(())
                };
                for (i, _) in &too_big {
                    run_gpu(start..*i, data, &mut stats)?;
                    let mut one = *gl;
                    one.out[2] = 1;
                    cpu::run_batch(
                        &one,
                        &samples[*i..=*i],
                        &srcs[*i..=*i],
                        tensor_range(data, *i * per..(*i + 1) * per),
                    )?;
                    start = i + 1;
                }
                run_gpu(start..samples.len(), data, &mut stats)?;
                if let Some(gm) = gmix {
                    mix_on_host(gl, gm, data);
                }
                fallback.extend(too_big);
                Some(stats)
            }
        })
    }

    /// Checks a batch's targets (one per image) against the images, the
    /// options and the pipeline; what the backends need to gather the masks.
    fn check_targets(
        &self,
        images: &[RgbImage],
        targets: &[Targets],
        options: &TargetOptions,
    ) -> Result<TargetJob> {
        if targets.len() != images.len() {
            return Err(Error::InvalidArgument(format!(
                "{} images but {} targets (give one `Targets` per image, empty where it has none)",
                images.len(),
                targets.len()
            )));
        }
        options.check()?;
        if let Some(pos) = self
            .pipeline
            .ops
            .iter()
            .position(|o| matches!(o, Op::AugMix { .. }))
        {
            return Err(Error::InvalidPipeline(format!(
                "op #{pos} `augmix` blends chains of different geometry: targets cannot follow it (drop augmix or the targets)"
            )));
        }
        for (i, (t, im)) in targets.iter().zip(images).enumerate() {
            targets::check(i, t, im.width(), im.height(), options)?;
        }
        let (per_image, any_u8) = targets::mask_layout(targets)?;
        let ignore = options.ignore_values(any_u8)?;
        Ok(TargetJob { per_image, ignore })
    }

    /// AugMix (op `pos`, the last before an optional normalize): every output
    /// sample becomes (width + 1) internal samples, the ops before AugMix and
    /// then each chain (the first: no chain), run as one f32 batch on the
    /// backend; then the weighted mix and the output conversion on the host.
    fn run_augmix(
        &self,
        pos: usize,
        images: &[RgbImage],
        records: &[SampleRecord],
        k: usize,
        data: &mut Tensor,
        fallback: &mut Vec<(usize, String)>,
    ) -> Result<Option<BatchStats>> {
        let inner = augmix_inner(&self.pipeline, pos)?;
        let mut samples = Vec::new();
        let mut srcs = Vec::new();
        let mut weights = Vec::new();
        for (o, r) in records.iter().enumerate() {
            let d = &r.ops;
            let im = &images[o / k];
            let Some(Drawn::AugMix {
                original,
                weights: w,
                chains,
            }) = d.get(pos)
            else {
                return Err(Error::InvalidArgument(format!(
                    "sample {o}: drawn parameters of op #{pos} are not augmix's"
                )));
            };
            if w.len() != chains.len() {
                return Err(Error::InvalidArgument(format!(
                    "sample {o}: augmix has {} weights for {} chains",
                    w.len(),
                    chains.len()
                )));
            }
            let empty = Vec::new();
            // The ops before AugMix as this sample has them (its schedule
            // values and overrides).
            let own = self.pipeline.for_record(r)?;
            let inner_own = match &own {
                std::borrow::Cow::Borrowed(_) => None,
                std::borrow::Cow::Owned(p) => {
                    let mut ops: Vec<Op> = p.ops[..pos].iter().map(three_channels).collect();
                    ops.push(inner.ops[pos].clone());
                    Some(Pipeline {
                        ops,
                        ..inner.clone()
                    })
                }
            };
            let inner_o = inner_own.as_ref().unwrap_or(&inner);
            for steps in std::iter::once(&empty).chain(chains) {
                let mut dj = d[..pos].to_vec();
                dj.push(Drawn::Policy {
                    steps: steps.clone(),
                });
                samples.push(plan_sample(inner_o, &dj, im.width(), im.height(), o / k)?);
                srcs.push(Src {
                    data: im.as_raw(),
                    width: im.width(),
                    height: im.height(),
                });
            }
            weights.push(cpu::augmix::AugMixWeights {
                original: *original as f32,
                chains: w.iter().map(|x| *x as f32).collect(),
            });
        }
        let size = self.pipeline.size;
        let (h, w) = (size.height as usize, size.width as usize);
        let gl = globals(&inner, samples.len() as u32, 0);
        let values = samples.len() * 3 * h * w;
        let what = || {
            format!(
                "augmix's internal batch ({} images of {w}x{h})",
                samples.len()
            )
        };
        let mut internal = Tensor::F32(zeroed(values, &what)?);
        let mut inner_fallback = Vec::new();
        let stats = self.run(
            &gl,
            &samples,
            &srcs,
            &mut internal,
            None,
            &mut inner_fallback,
            None,
            &mut None,
        )?;
        // Internal sample j is chain j % (width + 1) of output sample j / (width + 1).
        let per_out = samples.len() / records.len().max(1);
        for (j, r) in inner_fallback {
            let o = j / per_out.max(1);
            if fallback.last().is_none_or(|(last, _)| *last != o) {
                fallback.push((o, r));
            }
        }
        let Tensor::F32(internal) = internal else {
            return Err(Error::InvalidArgument(
                "augmix: f32 internal batch expected".into(),
            ));
        };
        let (mean, std) = self.pipeline.normalization();
        cpu::augmix::combine(
            &internal,
            &weights,
            (w, h),
            mean.map(|x| x as f32),
            std.map(|x| x as f32),
            self.pipeline.out_channels(),
            data.view_mut(),
        );
        Ok(stats)
    }
}

/// The internal pipeline of AugMix at op `pos`: the ops before it (three
/// channels) and a RandAugment of its depth, f32 output. What the backend
/// runs for an AugMix pipeline (`run_augmix`), so what its GPU kernels are
/// specialised for (`Augmenter::precompile`).
fn augmix_inner(pipeline: &Pipeline, pos: usize) -> Result<Pipeline> {
    let Op::AugMix {
        depth,
        interpolation,
        fill,
        ..
    } = &pipeline.ops[pos]
    else {
        return Err(Error::InvalidArgument(format!("op #{pos} is not augmix")));
    };
    // The chains run as three-channel images; `combine` writes the
    // one-channel output (channel 0) when the pipeline asks for it.
    let mut ops: Vec<Op> = pipeline.ops[..pos].iter().map(three_channels).collect();
    ops.push(Op::Policy {
        kind: PolicyKind::RandAugment {
            num_ops: crate::ops::augmix_depth(*depth),
            magnitude: 0,
            num_bins: 2,
            ops: crate::ops::policy::ALL_OPS,
        },
        interpolation: *interpolation,
        fill: *fill,
    });
    Ok(Pipeline {
        size: pipeline.size,
        format: OutputFormat::F32Chw,
        ops,
        views: 1,
        mix: None,
        schedules: Default::default(),
    })
}

/// `op` with a three-channel output (AugMix's internal chains: a grayscale
/// with `num_output_channels = 1` still greys, in all three channels).
fn three_channels(op: &Op) -> Op {
    match op {
        Op::Grayscale { p, .. } => Op::Grayscale {
            p: *p,
            num_output_channels: 3,
        },
        other => other.clone(),
    }
}

/// A batch between `Augmenter::prepare` and `Augmenter::finish`: what the
/// backend runs (the globals, the planned samples and their sources, the
/// mixing table, the mask job, the output tensor) and what `finish` needs.
pub(crate) struct Prepared<'a> {
    images: &'a [RgbImage],
    /// Copies per source image.
    k: usize,
    records: Vec<SampleRecord>,
    mix: Option<Vec<MixRecord>>,
    label_rows: Option<(usize, Vec<f64>)>,
    targets: Option<((&'a [Targets], &'a TargetOptions), TargetJob)>,
    gl: crate::plan::GpuGlobals,
    gmix: Option<Vec<crate::mix::GpuMix>>,
    data: Tensor,
    reused: bool,
    shape: [usize; 4],
    /// The AugMix op's position (its batch runs apart, see `run_augmix`).
    augmix: Option<usize>,
    /// Without AugMix: every output sample's plan and source, and masks.
    samples: Vec<GpuSample>,
    srcs: Vec<Src<'a>>,
    mask_refs: Option<MaskRefs<'a>>,
}

/// Every output sample's label maps, and the ignore values (u8, u16).
type MaskRefs<'a> = (Vec<Vec<&'a Mask>>, (u8, u16));

/// What makes batches of several pipelines one GPU plan: the output
/// size, the format and the normalisation (everything of `GpuGlobals`
/// but the sample count, the stat slots and the field kinds, which the
/// plan takes the most and the union of).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PlanKey {
    out: [u32; 3],
    mean: [u32; 3],
    std: [u32; 3],
}

impl Prepared<'_> {
    /// The plan this batch can share with others of the same key; None
    /// when it must run alone (AugMix runs its own internal batch).
    pub(crate) fn plan_key(&self) -> Option<PlanKey> {
        let g = &self.gl;
        let bits = |v: [f32; 4]| [v[0].to_bits(), v[1].to_bits(), v[2].to_bits()];
        self.augmix.is_none().then_some(PlanKey {
            out: [g.out[0], g.out[1], g.out[3]],
            mean: bits(g.mean),
            std: bits(g.std),
        })
    }
}

/// Runs the prepared batches of several pipelines (each with its
/// augmenter, all with one [`PlanKey`], none with AugMix) on `gpu` as ONE
/// plan: one sample table of all their samples, one upload of their
/// sources (each distinct image once), the globals' stat slots the most of
/// theirs and field kinds the union, one submit per chunk, every batch's
/// pixels read back straight into its own tensor. A pipeline's batch mix
/// stays inside its own samples (the others get copy entries in the one
/// mixing table). The same values as each batch alone: the kernels' paths
/// depend on each sample's record, never on the batch. When a sample does
/// not fit the device, or the batches' mask jobs differ, every batch runs
/// alone instead (`None` stats mark nothing: each batch gets its own).
/// Every batch's `gpu_stats` is the one plan's.
pub(crate) fn render_plan(
    gpu: &GpuContext,
    members: Vec<(&Augmenter, Prepared<'_>)>,
) -> Result<Vec<Batch>> {
    let Some((_, first)) = members.first() else {
        return Ok(Vec::new());
    };
    let mut gl = first.gl;
    let n: usize = members.iter().map(|(_, p)| p.samples.len()).sum();
    gl.out[2] = n as u32;
    for (_, p) in &members {
        gl.pass[1] = gl.pass[1].max(p.gl.pass[1]);
        gl.pass[2] |= p.gl.pass[2];
    }
    let samples: Vec<GpuSample> = members
        .iter()
        .flat_map(|(_, p)| p.samples.iter().copied())
        .collect();
    let srcs: Vec<Src> = members
        .iter()
        .flat_map(|(_, p)| p.srcs.iter().copied())
        .collect();
    let masked = members
        .iter()
        .filter(|(_, p)| p.mask_refs.is_some())
        .count();
    let alone = members.len() == 1
        || (masked != 0 && masked != members.len())
        || samples
            .iter()
            .zip(&srcs)
            .any(|(s, src)| gpu.sample_misfit(&gl, s, src).is_some());
    if alone {
        return members
            .into_iter()
            .map(|(a, p)| a.render_prepared(p))
            .collect();
    }
    // One mixing table: each mixing batch's partners shifted to its place,
    // copy entries for the batches that do not mix.
    let gmix: Option<Vec<crate::mix::GpuMix>> =
        members.iter().any(|(_, p)| p.gmix.is_some()).then(|| {
            let mut all = Vec::with_capacity(n);
            for (_, p) in &members {
                let at = all.len() as u32;
                match &p.gmix {
                    Some(m) => all.extend(m.iter().map(|x| {
                        let mut x = *x;
                        x.kind[1] += at;
                        x
                    })),
                    None => all.extend((0..p.samples.len() as u32).map(|i| crate::mix::GpuMix {
                        kind: [crate::mix::kind::COPY, at + i, 1, 1],
                        ..Default::default()
                    })),
                }
            }
            all
        });
    let mask_refs: Option<Vec<Vec<&Mask>>> = (masked != 0).then(|| {
        members
            .iter()
            .filter_map(|(_, p)| p.mask_refs.as_ref())
            .flat_map(|(m, _)| m.iter().cloned())
            .collect()
    });
    let ignore = members
        .iter()
        .find_map(|(_, p)| p.mask_refs.as_ref().map(|(_, i)| *i))
        .unwrap_or_default();
    let mut members = members;
    let (stats, masks_out) = {
        let mut outs: Vec<TensorMut> = members.iter_mut().map(|(_, p)| p.data.view_mut()).collect();
        gpu.run_batch_parts(
            &gl,
            &samples,
            &srcs,
            &mut outs,
            gmix.as_deref(),
            mask_refs.as_deref().map(|m| (m, ignore)),
        )?
    };
    let mut masks_out = masks_out.map(|m| m.into_iter());
    members
        .into_iter()
        .map(|(a, p)| {
            let own = masks_out
                .as_mut()
                .map(|m| m.by_ref().take(p.samples.len()).collect());
            a.finish(p, Some(stats), Vec::new(), own)
        })
        .collect()
}

/// Precompiles the variants of the plans `render_plan` can join
/// `augmenters` (one device's, a `ViewAugmenter`'s views) into: the
/// augmenters that share a plan key (no AugMix) run as one plan with the
/// most stat slots and the union of field kinds, which their own
/// precompiled variants need not cover.
pub(crate) fn precompile_plans(
    gpu: &GpuContext,
    augmenters: &[Augmenter],
    masks: bool,
) -> Result<()> {
    type Plan = (
        PlanKey,
        crate::plan::GpuGlobals,
        crate::plan::KernelBounds,
        usize,
    );
    let mut plans: Vec<Plan> = Vec::new();
    for a in augmenters {
        if a.pipeline
            .ops
            .iter()
            .any(|o| matches!(o, Op::AugMix { .. }))
        {
            continue;
        }
        let (g, b) = a.kernel_bounds()?;
        let bits = |v: [f32; 4]| [v[0].to_bits(), v[1].to_bits(), v[2].to_bits()];
        let key = PlanKey {
            out: [g.out[0], g.out[1], g.out[3]],
            mean: bits(g.mean),
            std: bits(g.std),
        };
        match plans.iter_mut().find(|(k, ..)| *k == key) {
            Some((_, gl, bounds, n)) => {
                gl.pass[1] = gl.pass[1].max(g.pass[1]);
                gl.pass[2] |= g.pass[2];
                *bounds = bounds.join(b);
                *n += 1;
            }
            None => plans.push((key, g, b, 1)),
        }
    }
    // The mixing kernel of each format is compiled by the augmenters.
    for (_, gl, bounds, n) in plans {
        if n > 1 {
            gpu.precompile(&gl, bounds, masks, None)?;
        }
    }
    Ok(())
}

/// What `render` needs of a batch's checked targets.
struct TargetJob {
    /// Masks per image.
    per_image: usize,
    /// The labels of pixels from outside, for u8 and u16 masks.
    ignore: (u8, u16),
}

/// The batch mix with the CPU twin (`gl` gives the size, format and sample
/// count): in place along the partner cycles; partners given explicitly that
/// are no permutation need a second tensor.
fn mix_on_host(gl: &crate::plan::GpuGlobals, gm: &[crate::mix::GpuMix], data: &mut Tensor) {
    let mg = GpuMixGlobals { out: gl.out };
    if !cpu::mix::run_mix_in_place(&mg, gm, data.view_mut()) {
        let augmented = data.clone();
        cpu::mix::run_mix(&mg, gm, &augmented, data.view_mut());
    }
}

/// A zero-filled vector of `n` values, allocated fallibly: a request larger
/// than the process can hold is an error, not an abort.
pub(crate) fn zeroed<T: Clone + Default>(n: usize, what: &dyn Fn() -> String) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        what: what(),
        bytes: (n as u64).saturating_mul(std::mem::size_of::<T>() as u64),
    })?;
    huge_pages(&mut v);
    v.resize(n, T::default());
    Ok(v)
}

/// Asks the kernel to back a large fresh buffer (a batch's tensor: tens of
/// MB) with transparent huge pages where the system allows it (`madvise`
/// mode, the default of most distributions), as PyTorch's CPU allocator does
/// for its large tensors: one fault per 2 MiB instead of one per 4 KiB. A
/// fresh 224x224 f32 batch of 64 took about 9,400 page faults per batch, a
/// tenth of the CPU backend's time on imagenet_train. Only a hint: where it
/// is refused nothing changes.
fn huge_pages<T>(v: &mut Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = v.capacity() * std::mem::size_of::<T>();
        if bytes < 2 * HUGE {
            return;
        }
        let start = v.as_mut_ptr() as usize;
        // The page-aligned range inside the allocation.
        let lo = (start + 4095) & !4095;
        let hi = (start + bytes) & !4095;
        if hi > lo {
            // SAFETY: [lo, hi) lies inside the vector's own allocation and
            // MADV_HUGEPAGE changes no contents (only how pages are backed).
            unsafe {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// The values `range` of a tensor, as a mutable view.
fn tensor_range(t: &mut Tensor, range: std::ops::Range<usize>) -> TensorMut<'_> {
    match t {
        Tensor::U8(v) => TensorMut::U8(&mut v[range]),
        Tensor::F32(v) => TensorMut::F32(&mut v[range]),
        Tensor::F16(v) => TensorMut::F16(&mut v[range]),
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

/// Reads and decodes an image file (any format the `image` crate reads) to
/// RGB u8, ignoring EXIF orientation (as torchvision's `decode_image`).
pub fn load_image(path: &Path) -> Result<RgbImage> {
    load_image_with(path, false)
}

/// Reads and decodes an image file to RGB u8; with `exif_orientation`, the
/// EXIF orientation tag is applied (PIL's `ImageOps.exif_transpose`), so a
/// photo taken sideways comes out upright.
pub fn load_image_with(path: &Path, exif_orientation: bool) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    decode_image(&bytes, exif_orientation).map_err(|reason| Error::Decode {
        path: path.to_path_buf(),
        reason,
    })
}

/// Rows and columns a region decode adds around the box it is asked for, so
/// that every pixel of the box equals a full decode's (the chroma upsampling
/// of a pixel reads its neighbours: 1 is enough, `jpeg`'s tests check 2).
const REGION_MARGIN: u32 = 2;

/// Reads an image file and decodes it as the Loader's decode threads do:
/// a JPEG for which `read_box(width, height)` (its header's size) gives the
/// box its samples read ([`Augmenter::read_box`]) is decoded over that box
/// only (libjpeg-turbo's cropped decode, [`crate::jpeg::decode_region`]) and
/// comes with its [`SourceWindow`]; everything else, and every failure of
/// that path (not a JPEG, a truncated file, a header or a region that
/// libjpeg-turbo refuses), is [`load_image_with`]'s full decode, with its
/// errors naming the file. EXIF orientation turns the region path off.
pub(crate) fn load_image_region(
    path: &Path,
    exif_orientation: bool,
    read_box: impl FnOnce(u32, u32) -> Option<[u32; 4]>,
) -> Result<(RgbImage, Option<SourceWindow>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !exif_orientation {
        if let Some(r) = decode_jpeg_region(&bytes, read_box) {
            return Ok(r);
        }
    }
    let img = decode_image(&bytes, exif_orientation).map_err(|reason| Error::Decode {
        path: path.to_path_buf(),
        reason,
    })?;
    Ok((img, None))
}

/// The region path of [`load_image_region`]; `None` where the full decode
/// must run instead.
fn decode_jpeg_region(
    bytes: &[u8],
    read_box: impl FnOnce(u32, u32) -> Option<[u32; 4]>,
) -> Option<(RgbImage, Option<SourceWindow>)> {
    if image::guess_format(bytes).ok()? != image::ImageFormat::Jpeg {
        return None;
    }
    // The checks of the full path first: a truncated file stays an error.
    jpeg_complete(bytes).ok()?;
    let hdr = crate::jpeg::header(bytes).ok()?;
    let (w, h) = (hdr.width, hdr.height);
    let [x0, y0, x1, y1] = read_box(w, h)?;
    if x0 >= x1 || y0 >= y1 || x1 > w || y1 > h {
        return None;
    }
    let (img, [ox, oy]) =
        crate::jpeg::decode_region(bytes, [x0, y0, x1 - x0, y1 - y0], REGION_MARGIN).ok()?;
    // (The whole image, origin 0, when the box with its margin covers it or
    // libjpeg-turbo cannot crop the subsampling: still only the box is read.)
    let covers = ox <= x0
        && oy <= y0
        && ox as u64 + img.width() as u64 >= x1 as u64
        && oy as u64 + img.height() as u64 >= y1 as u64;
    covers.then_some((
        img,
        Some(SourceWindow {
            origin: [ox, oy],
            full: [w, h],
            valid: [x0, y0, x1, y1],
        }),
    ))
}

/// Decodes an encoded image (any format the `image` crate reads) to RGB u8,
/// strictly: an empty file, an image without pixels, and a JPEG whose data
/// ends before its end-of-image marker (a truncated file, which the JPEG
/// decoder would fill with grey) are errors, as in PIL and torchvision.
/// With `exif_orientation` the EXIF orientation is applied.
pub fn decode_image(bytes: &[u8], exif_orientation: bool) -> std::result::Result<RgbImage, String> {
    use image::ImageDecoder;
    if bytes.is_empty() {
        return Err("empty file".into());
    }
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    if reader.format() == Some(image::ImageFormat::Jpeg) {
        jpeg_complete(bytes)?;
        // libjpeg-turbo first (PIL's and torchvision's decoder, and faster);
        // what it refuses (CMYK, or data it warns about) goes to the `image`
        // crate's decoder below, as before, with that decoder's errors.
        if let Ok(mut img) = crate::jpeg::decode(bytes) {
            if exif_orientation {
                let o = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(bytes))
                    .ok()
                    .and_then(|mut d| d.orientation().ok());
                if let Some(o) = o {
                    let mut dynimg = DynamicImage::ImageRgb8(img);
                    dynimg.apply_orientation(o);
                    img = to_rgb(dynimg);
                }
            }
            return Ok(img);
        }
    }
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    // The decoded buffer within the default limits (512 MiB), as
    // `ImageReader::decode` checks: a header that claims a huge image is an
    // error, not an allocation failure (found by tests/fuzz.rs).
    let mut limits = image::Limits::default();
    limits
        .reserve(decoder.total_bytes())
        .map_err(|e| e.to_string())?;
    decoder.set_limits(limits).map_err(|e| e.to_string())?;
    let orientation = if exif_orientation {
        decoder.orientation().ok()
    } else {
        None
    };
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    if img.width() == 0 || img.height() == 0 {
        return Err("image has no pixels".into());
    }
    Ok(to_rgb(img))
}

/// Walks a JPEG's markers from SOI to EOI (skipping each segment by its
/// length, and each scan's entropy-coded data up to the next marker that is
/// neither byte stuffing nor a restart); an error when the data ends first.
/// Bytes between segments are passed over, as libjpeg does.
fn jpeg_complete(b: &[u8]) -> std::result::Result<(), String> {
    let truncated = || "truncated JPEG: premature end of data (no end-of-image marker)".to_string();
    let mut i = 2; // after SOI
    loop {
        // The next marker: 0xFF (and fill bytes), then its code.
        while i < b.len() && b[i] != 0xFF {
            i += 1;
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let Some(&code) = b.get(i) else {
            return Err(truncated());
        };
        i += 1;
        match code {
            0xD9 => return Ok(()),
            0x00 | 0x01 | 0xD0..=0xD8 => continue,
            _ => {
                let (Some(&hi), Some(&lo)) = (b.get(i), b.get(i + 1)) else {
                    return Err(truncated());
                };
                let len = (hi as usize) << 8 | lo as usize;
                if len < 2 {
                    return Err(format!("corrupt JPEG: segment length {len} at byte {i}"));
                }
                i += len;
                if i > b.len() {
                    return Err(truncated());
                }
                if code == 0xDA {
                    // Entropy-coded data: up to a 0xFF that starts a marker.
                    loop {
                        while i < b.len() && b[i] != 0xFF {
                            i += 1;
                        }
                        match b.get(i + 1) {
                            None => return Err(truncated()),
                            Some(0x00) | Some(0xD0..=0xD7) => i += 2,
                            Some(0xFF) => i += 1,
                            Some(_) => break,
                        }
                    }
                }
            }
        }
    }
}

/// Each sample of `v` (`npx` pixels of `c` channels, back to back) from
/// H x W x C to C x H x W, in place: the samples in parallel (rayon), each
/// through one sample of scratch per thread (an L2-sized buffer at training
/// sizes, so the copy back is cheap). Three channels are a loop of
/// fixed-stride pixels the compiler turns into shuffles (multiversioned
/// for AVX2 / SSE4.1 / NEON): a 224x224 sample in about 15-20 us with
/// AVX2 (30 us with SSE4.1) on one core of this machine, against 80-110 us
/// for the per-channel index loop it replaces (standalone measurement, the
/// channel count known at run time only, as here).
fn hwc_to_chw(v: &mut [u8], npx: usize, c: usize) {
    transpose_samples(v, npx, c, true);
}

/// The inverse of [`hwc_to_chw`].
fn chw_to_hwc(v: &mut [u8], npx: usize, c: usize) {
    transpose_samples(v, npx, c, false);
}

fn transpose_samples(v: &mut [u8], npx: usize, c: usize, to_planar: bool) {
    use rayon::prelude::*;
    let per = npx * c;
    if c < 2 || per == 0 {
        return;
    }
    v.par_chunks_exact_mut(per).for_each_init(
        || vec![0u8; per],
        |t, s| {
            if to_planar {
                interleaved_to_planar(s, t, npx, c);
            } else {
                planar_to_interleaved(s, t, npx, c);
            }
            s.copy_from_slice(t);
        },
    );
}

/// `hwc` (`npx` pixels of `c` channels) into `c` planes of `npx` in `chw`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1",
    "aarch64+neon"
))]
fn interleaved_to_planar(hwc: &[u8], chw: &mut [u8], npx: usize, c: usize) {
    if c == 3 {
        let (r, gb) = chw.split_at_mut(npx);
        let (g, b) = gb.split_at_mut(npx);
        for (((s, r), g), b) in hwc.chunks_exact(3).zip(r).zip(g).zip(b) {
            *r = s[0];
            *g = s[1];
            *b = s[2];
        }
        return;
    }
    for (p, px) in hwc.chunks_exact(c).enumerate() {
        for (ch, &x) in px.iter().enumerate() {
            chw[ch * npx + p] = x;
        }
    }
}

/// `c` planes of `npx` in `chw` into `hwc` (`npx` pixels of `c` channels).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1",
    "aarch64+neon"
))]
fn planar_to_interleaved(chw: &[u8], hwc: &mut [u8], npx: usize, c: usize) {
    if c == 3 {
        let (r, gb) = chw.split_at(npx);
        let (g, b) = gb.split_at(npx);
        for (((d, &r), &g), &b) in hwc.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
            d[0] = r;
            d[1] = g;
            d[2] = b;
        }
        return;
    }
    for (p, px) in hwc.chunks_exact_mut(c).enumerate() {
        for (ch, x) in px.iter_mut().enumerate() {
            *x = chw[ch * npx + p];
        }
    }
}

#[cfg(test)]
mod transpose_tests {
    /// The transposes against the plain index formula, for pixel counts 1 to 4 channels, several samples;
    /// and each is the other's inverse.
    #[test]
    fn transposes_match_the_plain_formula() {
        for c in 1..=4usize {
            for npx in [0usize, 1, 5, 15, 16, 17, 31, 32, 33, 100] {
                let n = 3;
                let v: Vec<u8> = (0..n * npx * c).map(|i| (i * 37 + 11) as u8).collect();
                let mut want = v.clone();
                if c > 1 {
                    for s in 0..n {
                        for p in 0..npx {
                            for ch in 0..c {
                                want[s * npx * c + ch * npx + p] = v[s * npx * c + p * c + ch];
                            }
                        }
                    }
                }
                let mut got = v.clone();
                super::hwc_to_chw(&mut got, npx, c);
                assert_eq!(got, want, "hwc_to_chw: {npx} pixels of {c}");
                super::chw_to_hwc(&mut got, npx, c);
                assert_eq!(got, v, "chw_to_hwc: {npx} pixels of {c}");
            }
        }
    }
}
