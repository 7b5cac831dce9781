//! The GPU backend: device, pipelines, buffers and the batch scheduler.
//! Nothing outside this module touches wgpu types.
//!
//! Per batch (or per chunk, when a batch exceeds a storage-binding limit):
//! one upload of the sources (their RGB bytes, copied straight into the
//! staging memory; each distinct image once, however many of the batch's
//! samples read it: the copies of `views = k`, the named views sharing a
//! plan) and the per-sample table; 2 field
//! dispatches when the pipeline has random fields; one segment pass per
//! barrier a sample of the pipeline can draw; one main dispatch; the mixing
//! dispatch when the pipeline mixes (a fixed number for a given pipeline,
//! whatever the batch size or the draws); for f16_chw, the rounding
//! dispatch (`shaders/half.wgsl`); one copy to the readback buffer, one
//! submit.

mod half;
mod mix;
mod shaders;
mod variants;

#[doc(hidden)]
pub use variants::VariantMode;

// Not part of the API: the WGSL sources, public only because tests/wgsl.rs
// parses every kernel with naga.
#[doc(hidden)]
pub use shaders::{half_source, kernel_source, mix_source, prelude, KERNELS};

use crate::cpu::Src;
use crate::error::{Error, Result};
use crate::mix::{GpuMix, GpuMixGlobals};
use crate::plan::{code, GpuGlobals, GpuSample, MAX_STATS, STAT_STRIDE};
use crate::target_types::{Mask, MaskData};
use std::sync::{Arc, Mutex};

/// What `info` prints about an adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    /// Adapter name (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)").
    pub name: String,
    /// Backend (Vulkan, Metal, Dx12).
    pub backend: String,
    /// Discrete, integrated, CPU...
    pub device_type: String,
    /// Driver and its version.
    pub driver: String,
}

fn summary(info: &wgpu::AdapterInfo) -> AdapterSummary {
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
    }
}

/// Keeps a headless machine's first GPU run quiet: wgpu's Vulkan instance
/// always enables the window-system surface extensions it finds, and with
/// them enabled Mesa's device-selection layer (an implicit layer that only
/// reorders GPUs) tries to reach a Wayland display and prints `error:
/// XDG_RUNTIME_DIR is invalid or not set in the environment.` once per
/// instance. When no display can be reached (no `XDG_RUNTIME_DIR`, no
/// `WAYLAND_DISPLAY`, no `DISPLAY`) this sets the layer's own switch,
/// `NODEVICE_SELECT=1`, unless the user set it. Call it before any thread
/// starts (it changes the process environment); the binary does, first thing.
pub fn quiet_headless_vulkan() {
    let unset = |k: &str| std::env::var_os(k).is_none_or(|v| v.is_empty());
    if unset("XDG_RUNTIME_DIR")
        && unset("WAYLAND_DISPLAY")
        && unset("DISPLAY")
        && std::env::var_os("NODEVICE_SELECT").is_none()
    {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if std::env::var_os("WGPU_BACKEND").is_none() {
        desc.backends = wgpu::Backends::PRIMARY;
    }
    wgpu::Instance::new(desc)
}

/// Every adapter wgpu finds.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let inst = instance();
    pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|a| summary(&a.get_info()))
        .collect()
}

/// Limits that matter for batching.
#[derive(Clone, Debug)]
pub struct DeviceLimits {
    /// Largest storage binding, bytes.
    pub max_storage_binding: u64,
    /// Largest buffer, bytes.
    pub max_buffer: u64,
    /// Largest workgroup count per dimension.
    pub max_workgroups_per_dim: u32,
}

struct Buffers {
    globals: wgpu::Buffer,
    samples: Option<wgpu::Buffer>,
    src: Option<wgpu::Buffer>,
    scratch: Option<wgpu::Buffer>,
    stats: Option<wgpu::Buffer>,
    field: Option<wgpu::Buffer>,
    out: Option<wgpu::Buffer>,
    readback: Option<wgpu::Buffer>,
    mix: mix::MixBuffers,
    /// The f16 rounding pass's count and output.
    half: half::HalfBuffers,
    /// Label maps in (header and planes) and out, and their readback.
    mask_in: Option<wgpu::Buffer>,
    mask_out: Option<wgpu::Buffer>,
    mask_readback: Option<wgpu::Buffer>,
    mask_pack: Vec<u32>,
    /// The upload buffers of the globals, the sample table, the sources and
    /// the label maps, kept from batch to batch.
    up_globals: Upload,
    up_table: Upload,
    up_src: Upload,
    up_masks: Upload,
    /// The submission whose results `readback` will hold (what `read_back` waits for).
    submitted: Option<wgpu::SubmissionIndex>,
}

/// A host-visible upload buffer kept from batch to batch (MAP_WRITE |
/// COPY_SRC): written while mapped, copied into its device buffer at the
/// start of the batch's command buffer, and mapped for writing again as
/// soon as the device is done with it (the callback runs in the poll that
/// waits for the batch's results). Steady state allocates nothing, where
/// `queue.write_buffer` has wgpu allocate a staging buffer a call.
#[derive(Default)]
struct Upload {
    buf: Option<wgpu::Buffer>,
    /// The buffer is mapped for writing (at creation, then by the callback).
    ready: Arc<std::sync::atomic::AtomicBool>,
    /// Copied by the batch being encoded: map it again after the submit.
    used: bool,
    /// The bytes the last `put` wrote.
    len: u64,
}

impl Upload {
    /// Writes `len` bytes (a multiple of 4) through `write` into a mapped
    /// buffer of at least that size, created (grown as `grow` grows) when
    /// the kept one is too small or could not be mapped again: 1 then, else
    /// 0. `copy_to` copies those bytes.
    fn put(
        &mut self,
        device: &wgpu::Device,
        len: u64,
        label: &str,
        write: impl FnOnce(&mut wgpu::BufferViewMut),
    ) -> Result<u32> {
        use std::sync::atomic::Ordering;
        let len = len.max(4);
        let mut created = 0;
        if self.buf.is_some() && !self.ready.load(Ordering::Acquire) {
            // Its map is pending; the batch that used it has finished (its
            // results were read), so a poll completes the map.
            let _ = device.poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: Some(DEVICE_TIMEOUT),
            });
        }
        let fits = self
            .buf
            .as_ref()
            .is_some_and(|b| b.size() >= len && self.ready.load(Ordering::Acquire));
        if !fits {
            let size = grown_size(device, self.buf.as_ref(), len, u64::MAX);
            self.buf = Some(device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: true,
            }));
            self.ready = Arc::new(std::sync::atomic::AtomicBool::new(true));
            created = 1;
        }
        let b = self.buf.as_ref().expect("just staged");
        let mut view = b
            .get_mapped_range_mut(0..len)
            .map_err(|e| Error::Gpu(format!("mapping an upload buffer: {e:?}")))?;
        write(&mut view);
        self.len = len;
        Ok(created)
    }

    /// Unmaps the buffer and records the copy of the bytes `put` wrote
    /// into `dst` (before the passes that read `dst`).
    fn copy_to(&mut self, enc: &mut wgpu::CommandEncoder, dst: &wgpu::Buffer) {
        if let Some(b) = &self.buf {
            b.unmap();
            self.ready
                .store(false, std::sync::atomic::Ordering::Release);
            enc.copy_buffer_to_buffer(b, 0, dst, 0, self.len);
            self.used = true;
        }
    }

    /// After the submit: map the buffer for the next batch's writes.
    fn remap(&mut self) {
        if let (Some(b), true) = (&self.buf, self.used) {
            let ready = self.ready.clone();
            b.map_async(wgpu::MapMode::Write, .., move |r| {
                ready.store(r.is_ok(), std::sync::atomic::Ordering::Release);
            });
        }
        self.used = false;
    }
}

/// One set of batch buffers; grown on demand by `grow`.
fn new_buffers(device: &wgpu::Device) -> Buffers {
    Buffers {
        globals: device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("globals"),
            size: GLOBALS_STRIDE * (MAX_STATS as u64 + 1),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }),
        samples: None,
        src: None,
        scratch: None,
        stats: None,
        field: None,
        out: None,
        readback: None,
        mix: mix::MixBuffers::default(),
        half: half::HalfBuffers::default(),
        mask_in: None,
        mask_out: None,
        mask_readback: None,
        mask_pack: Vec::new(),
        up_globals: Upload::default(),
        up_table: Upload::default(),
        up_src: Upload::default(),
        up_masks: Upload::default(),
        submitted: None,
    }
}

/// The compiled kernels of one feature set: the main pass, the segment pass
/// in its warping (pass 0) and scratch-reading (later passes) forms, and the
/// field pass's noise and column-sum kernels.
struct Kernels {
    main: wgpu::ComputePipeline,
    stats: Option<(wgpu::ComputePipeline, wgpu::ComputePipeline)>,
    field: Option<(wgpu::ComputePipeline, wgpu::ComputePipeline)>,
}

/// The code paths a batch needs. The kernels are compiled per combination
/// (WGSL override constants), so no invocation pays for a path no sample uses;
/// on a CPU-emulated device (lavapipe) every branch costs its full length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Features {
    out_f32: bool,
    out_grey: bool,
    use_scratch: bool,
    may_nearest: bool,
    may_clip: bool,
    may_projective: bool,
    may_resample: bool,
    may_fold: bool,
    hue_steps: u32,
    field_kinds: u32,
    ops: u32,
}

impl Features {
    fn of(gl: &GpuGlobals, samples: &[GpuSample]) -> Self {
        let any = |f: &dyn Fn(&GpuSample) -> bool| samples.iter().any(f);
        Features {
            out_f32: gl.f32_out(),
            out_grey: gl.channels() == 1,
            use_scratch: gl.pass[1] > 0,
            may_nearest: any(&|s| s.src[3] & 1 != 0),
            may_clip: any(&|s| s.counts[3] > 0),
            may_projective: any(&|s| {
                !s.is_affine() || s.active_clips().iter().any(|c| !c.is_affine())
            }),
            may_resample: any(&|s| s.resample.active()),
            may_fold: any(&|s| s.src[3] >> crate::codes::pad_mode::SHIFT != 0),
            hue_steps: samples
                .iter()
                .map(|s| {
                    s.prog[..s.counts[0] as usize]
                        .iter()
                        .filter(|p| p[0] == code::HUE || p[0] == code::FIELD_HUE)
                        .count() as u32
                })
                .max()
                .unwrap_or(0),
            // The pipeline's kinds, not the draws': the field pass (and its
            // 2 dispatches) runs for every batch of a pipeline with fields.
            field_kinds: gl.pass[2] | samples.iter().fold(0, |m, s| m | s.field.mask()),
            ops: samples.iter().fold(0, |m, s| {
                s.prog[..s.counts[0] as usize]
                    .iter()
                    .fold(m, |m, p| m | 1u32.checked_shl(p[0] as u32).unwrap_or(0))
            }),
        }
    }

    fn constants(&self) -> Vec<(&'static str, f64)> {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        vec![
            ("OUT_F32", b(self.out_f32)),
            ("OUT_GREY", b(self.out_grey)),
            ("USE_SCRATCH", b(self.use_scratch)),
            ("MAY_NEAREST", b(self.may_nearest)),
            ("MAY_CLIP", b(self.may_clip)),
            ("MAY_PROJECTIVE", b(self.may_projective)),
            ("MAY_RESAMPLE", b(self.may_resample)),
            ("MAY_FOLD", b(self.may_fold)),
            ("HUE_STEPS", self.hue_steps as f64),
            ("FIELD_KINDS", self.field_kinds as f64),
            ("OPS", self.ops as f64),
        ]
    }
}

/// Whether the superset variant of a pipeline with globals `gl` and
/// `bounds` (`GpuContext::precompile`) covers the exact variant of a batch
/// with globals `batch_gl` and `samples`.
pub(crate) fn superset_covers(
    gl: &GpuGlobals,
    bounds: crate::plan::KernelBounds,
    batch_gl: &GpuGlobals,
    samples: &[GpuSample],
) -> bool {
    Features::superset(gl, Some(bounds)).covers(&Features::of(batch_gl, samples))
}

/// The longest a chunk may keep the device busy before it counts as hung
/// (a chunk is bounded by the storage-binding limit: seconds, even on lavapipe).
const DEVICE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Per sample: bytes of its output on the device (u8: one RGBA word per
/// pixel, whatever the channels; f32 and f16: 4 bytes a value, the rounding
/// pass's halves apart), in the tensor, and of its segment-pass scratch.
fn per_sample_bytes(gl: &GpuGlobals) -> [u64; 3] {
    let npx = (gl.out[0] as u64) * (gl.out[1] as u64);
    let c = gl.channels() as u64;
    let out_per = if gl.f32_out() { npx * 4 * c } else { npx * 4 };
    let tensor_per = if gl.f16_out() {
        npx * 2 * c
    } else if gl.f32_out() {
        npx * 4 * c
    } else {
        npx * c
    };
    // Two halves of f32 RGB images (segment passes read one, write the other).
    let scratch_per = if gl.pass[1] > 0 { npx * 24 } else { 0 };
    [out_per, tensor_per, scratch_per]
}

/// Bytes between the per-pass copies of the globals (dynamic uniform offsets).
const GLOBALS_STRIDE: u64 = 256;

/// An open GPU device with the engine's pipelines.
pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: AdapterSummary,
    limits: DeviceLimits,
    layout: wgpu::BindGroupLayout,
    mix: mix::MixKernel,
    /// The f16 rounding kernel (`shaders/half.wgsl`).
    half: half::HalfKernel,
    /// The label-map kernel's own bindings (`shaders/masks.wgsl`, group 1,
    /// beside the main pass's group 0).
    mask_layout: wgpu::BindGroupLayout,
    /// The modules, layouts and pipeline cache the kernels compile from
    /// (cloneable, for the background compiles).
    compiler: variants::Compiler,
    /// The compiled kernels (main, segment and field passes; label maps)
    /// per feature set (see `Features` and `variants.rs`).
    variants: Arc<Mutex<variants::Variants>>,
    /// Free buffer sets. A batch takes one (or makes one when all are in
    /// use), so threads sharing the context run batches at once: one packs
    /// and uploads while another's results are read back. The pool holds as
    /// many sets as batches ever ran at once (one for a single caller).
    bufs: Mutex<Vec<Buffers>>,
    errors: Arc<Mutex<Vec<String>>>,
}

/// Counters of the last batch, for tests and benchmarks (host times in
/// nanoseconds beside them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Compute dispatches.
    pub dispatches: u32,
    /// Queue submits.
    pub submits: u32,
    /// Chunks the batch was split into.
    pub chunks: u32,
    /// Bytes uploaded.
    pub bytes_up: u64,
    /// Bytes read back.
    pub bytes_down: u64,
    /// Host nanoseconds packing the sources, writing the buffers and
    /// encoding the passes, up to the submit.
    pub pack_ns: u64,
    /// Host nanoseconds waiting for the device (compute and the copy to the
    /// readback buffer, as far as the host sees them).
    pub device_ns: u64,
    /// Host nanoseconds copying the mapped results into the tensor.
    pub readback_ns: u64,
    /// Allocations the batch made: device and upload buffers created (a
    /// buffer set grows until the largest batch fits, then is reused; the
    /// uploads go through kept, mapped buffers), the mixing pass's staging
    /// buffers (`queue.write_buffer`, one a call), and the output tensor
    /// (added by the `Augmenter` when the pool has none of its size).
    pub allocations: u32,
    /// Kernel sets (a chunk's main passes; its label-map pass) that ran on
    /// a precompiled variant covering the batch's exact one, because that
    /// one was not compiled yet (it compiles in the background). The same
    /// bytes either way.
    pub covered: u32,
}

/// The size of a buffer that must hold `size` bytes, replacing `old`:
/// whole 256-byte blocks (at least 16 bytes), grown by 1.5x so a slowly
/// growing batch does not reallocate every time, but never past what the
/// device can hold (`max_buffer_size`) or `binding` (a buffer over a limit
/// is invalid, and every later submit that used it would fail; the
/// chunking keeps every request within them).
fn grown_size(device: &wgpu::Device, old: Option<&wgpu::Buffer>, size: u64, binding: u64) -> u64 {
    let size = size.max(16).next_multiple_of(256);
    let cap = device.limits().max_buffer_size.min(binding) / 256 * 256;
    old.map_or(size, |b| {
        size.max((b.size() + b.size() / 2).next_multiple_of(256).min(cap))
    })
}

/// A compute pass's bind group layout, binding `i` the buffer kind
/// `kinds[i]` (a uniform, or storage read-only or not), and its pipeline
/// layout (that one group): the shape of the mixing and f16 passes.
pub(crate) fn buffer_layouts(
    device: &wgpu::Device,
    label: &str,
    kinds: &[wgpu::BufferBindingType],
) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
    let entries: Vec<_> = kinds
        .iter()
        .enumerate()
        .map(|(binding, &ty)| wgpu::BindGroupLayoutEntry {
            binding: binding as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    (layout, pipeline_layout)
}

/// Makes `slot` a buffer of `usage` holding at least `size` bytes
/// (`grown_size`): 1 when it had to be created, else 0.
pub(crate) fn grow(
    device: &wgpu::Device,
    slot: &mut Option<wgpu::Buffer>,
    size: u64,
    usage: wgpu::BufferUsages,
    label: &str,
) -> u32 {
    if slot
        .as_ref()
        .is_some_and(|b| b.size() >= size.max(16).next_multiple_of(256))
    {
        return 0;
    }
    let binding = if usage.contains(wgpu::BufferUsages::STORAGE) {
        device.limits().max_storage_buffer_binding_size
    } else {
        u64::MAX
    };
    let size = grown_size(device, slot.as_ref(), size, binding);
    *slot = Some(device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size,
        usage,
        mapped_at_creation: false,
    }));
    1
}

impl GpuContext {
    /// Opens the best adapter (high performance first). `Err(NoAdapter)` if none.
    pub fn new() -> Result<Self> {
        let inst = instance();
        let adapter = pollster::block_on(inst.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            ..Default::default()
        }))
        .map_err(|_| Error::NoAdapter)?;
        Self::open(&adapter)
    }

    /// `n` devices for spreading batches over: one on each adapter of the
    /// best kind present (discrete GPUs, else integrated, else virtual, else
    /// software ones such as lavapipe; an adapter listed under two backends
    /// counts once), then further devices on the same adapters in turn, so
    /// `n` above the number of GPUs opens several devices per GPU.
    pub fn open_many(n: usize) -> Result<Vec<Self>> {
        let inst = instance();
        let rank = |t: wgpu::DeviceType| match t {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Cpu => 3,
            wgpu::DeviceType::Other => 4,
        };
        let mut adapters: Vec<(wgpu::Adapter, wgpu::AdapterInfo)> =
            pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()))
                .into_iter()
                .map(|a| {
                    let info = a.get_info();
                    (a, info)
                })
                .collect();
        let Some(best) = adapters.iter().map(|(_, i)| rank(i.device_type)).min() else {
            return Err(Error::NoAdapter);
        };
        adapters.retain(|(_, i)| rank(i.device_type) == best);
        let mut seen = std::collections::HashSet::new();
        adapters.retain(|(_, i)| seen.insert((i.vendor, i.device, i.name.clone())));
        (0..n.max(1))
            .map(|k| Self::open(&adapters[k % adapters.len()].0))
            .collect()
    }

    /// Opens a device on `adapter` and builds the engine's pipelines.
    fn open(adapter: &wgpu::Adapter) -> Result<Self> {
        let info = adapter.get_info();
        let alimits = adapter.limits();
        let mut required = wgpu::Limits::default();
        required.max_storage_buffer_binding_size = alimits.max_storage_buffer_binding_size;
        required.max_buffer_size = alimits.max_buffer_size;
        required.max_storage_buffers_per_shader_stage =
            required.max_storage_buffers_per_shader_stage.max(6);
        // The pipeline cache where the adapter has one (Vulkan).
        let cache_feature = if variants::cache_enabled() {
            adapter.features() & wgpu::Features::PIPELINE_CACHE
        } else {
            wgpu::Features::empty()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("gpu-augment"),
            required_features: cache_feature,
            required_limits: required,
            ..Default::default()
        }))
        .map_err(|e| Error::Gpu(format!("cannot open device on {}: {e}", info.name)))?;
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let lost = errors.clone();
        device.set_device_lost_callback(move |reason, msg| {
            if let Ok(mut v) = lost.lock() {
                v.push(format!("device lost ({reason:?}): {msg}"));
            }
        });
        let dl = device.limits();
        let limits = DeviceLimits {
            max_storage_binding: dl.max_storage_buffer_binding_size,
            max_buffer: dl.max_buffer_size,
            max_workgroups_per_dim: dl.max_compute_workgroups_per_dimension,
        };

        let storage = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("augment"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: true,
                        min_binding_size: wgpu::BufferSize::new(
                            std::mem::size_of::<GpuGlobals>() as u64
                        ),
                    },
                    count: None,
                },
                storage(1, true),
                storage(2, true),
                storage(3, false),
                storage(4, false),
                storage(5, false),
                storage(6, false),
            ],
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("augment"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = |name: &str| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(kernel_source(name).into()),
            })
        };
        let main_module = module("augment");
        let stats_module = module("stats");
        let field_module = module("field");
        let masks_module = module("masks");
        let mask_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("masks"),
            entries: &[storage(0, true), storage(1, false)],
        });
        let mask_pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("masks"),
            bind_group_layouts: &[Some(&layout), Some(&mask_layout)],
            immediate_size: 0,
        });
        let disk_cache = variants::DiskCache::open(&device, &info).map(Arc::new);
        let cache = disk_cache.as_ref().map(|c| &c.cache);
        let mix = mix::MixKernel::new(&device, cache);
        let half = half::HalfKernel::new(&device, cache);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("shader compilation failed: {e}")));
        }
        let first = new_buffers(&device);
        Ok(Self {
            device: device.clone(),
            queue,
            adapter: summary(&info),
            limits,
            compiler: variants::Compiler {
                device,
                pipeline_layout: pl,
                main_module,
                stats_module,
                field_module,
                masks_module,
                mask_pipeline_layout,
                cache: disk_cache,
            },
            layout,
            mix,
            half,
            mask_layout,
            variants: Arc::new(Mutex::new(variants::Variants {
                mode: VariantMode::from_env(),
                ..Default::default()
            })),
            bufs: Mutex::new(vec![first]),
            errors,
        })
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.adapter
    }

    /// The device limits that shape batching.
    pub fn limits(&self) -> &DeviceLimits {
        &self.limits
    }

    /// The kernels a batch of feature set `f` runs with: its exact variant
    /// when compiled, else a compiled cover while the exact one compiles on
    /// a background thread (`variants::choose`).
    fn pipelines(&self, f: Features) -> Result<variants::Chosen<Kernels>> {
        fn table(
            v: &mut variants::Variants,
        ) -> &mut std::collections::HashMap<Features, Arc<Kernels>> {
            &mut v.main
        }
        variants::choose(&self.variants, &self.compiler, f, false, table, |c, f| {
            c.kernels(f)
        })
    }

    /// The label-map pipeline for a feature set, chosen as `pipelines` does.
    fn mask_pipeline(&self, f: Features) -> Result<variants::Chosen<wgpu::ComputePipeline>> {
        fn table(
            v: &mut variants::Variants,
        ) -> &mut std::collections::HashMap<Features, Arc<wgpu::ComputePipeline>> {
            &mut v.masks
        }
        variants::choose(&self.variants, &self.compiler, f, true, table, |c, f| {
            c.mask(f)
        })
    }

    /// Compiles, now, the superset variant of a pipeline whose batches run
    /// with globals `gl` (`plan::globals`; AugMix: its internal pipeline's)
    /// and samples within `bounds` (`plan::kernel_bounds`):
    /// the main, segment-pass and field kernels, the label-map kernel with
    /// `masks`, and the mixing kernel of format word `mix_format`. Every
    /// batch of the pipeline then runs at once, on its exact variant or on
    /// this one while the exact one compiles in the background. The
    /// pipeline cache is saved after.
    pub(crate) fn precompile(
        &self,
        gl: &GpuGlobals,
        bounds: crate::plan::KernelBounds,
        masks: bool,
        mix_format: Option<u32>,
    ) -> Result<()> {
        let f = Features::superset(gl, Some(bounds));
        let missing = |v: &variants::Variants| {
            !v.main.contains_key(&f) || (masks && !v.masks.contains_key(&f))
        };
        let lock = || {
            self.variants
                .lock()
                .map_err(|_| Error::Gpu("a previous batch panicked".into()))
        };
        if missing(&*lock()?) {
            let k = if lock()?.main.contains_key(&f) {
                None
            } else {
                Some(Arc::new(self.compiler.kernels(f)?))
            };
            let m = if masks && !lock()?.masks.contains_key(&f) {
                Some(Arc::new(self.compiler.mask(f)?))
            } else {
                None
            };
            let mut v = lock()?;
            if let Some(k) = k {
                v.main.entry(f).or_insert(k);
            }
            if let Some(m) = m {
                v.masks.entry(f).or_insert(m);
            }
        }
        if let Some(format) = mix_format {
            self.mix.pipeline(&self.device, format)?;
        }
        self.compiler.save();
        Ok(())
    }

    /// Which variant batches run (`VariantMode`): for tests and
    /// measurements that compare the exact variants with their covers.
    #[doc(hidden)]
    pub fn set_variant_mode(&self, mode: VariantMode) {
        if let Ok(mut v) = self.variants.lock() {
            v.mode = mode;
        }
    }

    /// Whether the pipeline cache is in use, and the file it is saved in
    /// (None: not saved).
    #[doc(hidden)]
    pub fn pipeline_cache_file(&self) -> Option<Option<std::path::PathBuf>> {
        self.compiler.cache.as_ref().map(|c| c.path().cloned())
    }

    fn take_error(&self) -> Option<String> {
        let mut v = self.errors.lock().ok()?;
        if v.is_empty() {
            None
        } else {
            Some(v.drain(..).collect::<Vec<_>>().join("; "))
        }
    }

    /// Why the device cannot hold sample `sample` of source `src` alone (its
    /// source, field or output beyond the storage-binding or buffer limit),
    /// or `None` when it can. `run_batch` refuses a batch with such a
    /// sample; `Augmenter` runs it on the CPU twin instead.
    pub fn sample_misfit(&self, gl: &GpuGlobals, sample: &GpuSample, src: &Src) -> Option<String> {
        let [out_per, _, scratch_per] = per_sample_bytes(gl);
        let limit = self.limits.max_storage_binding.min(self.limits.max_buffer);
        let sb = src.width as u64 * src.height as u64 * 4;
        let (noise, cols) = sample.field.buffer_floats(gl.out[0]);
        let fb = (noise + cols) * 4;
        let fits = sb <= limit && fb <= limit && out_per <= limit && scratch_per <= limit;
        (!fits).then(|| {
            format!(
                "{}x{} image (or its output) exceeds the device's {} MiB storage-binding limit",
                src.width,
                src.height,
                limit >> 20
            )
        })
    }

    /// Runs a batch. `out` is the whole output tensor (u8 HWC bytes or f32 CHW).
    /// With `mixes` (one per sample), the mixing pass follows the main pass:
    /// on the GPU in the same submit when the batch fits one chunk, else on
    /// the host once every chunk is back (see `mix.rs`).
    /// An error when the slices do not describe the same batch.
    pub(crate) fn run_batch(
        &self,
        gl: &GpuGlobals,
        samples: &[GpuSample],
        srcs: &[Src],
        out: crate::TensorMut,
        mixes: Option<&[GpuMix]>,
    ) -> Result<BatchStats> {
        Ok(self.run_batch_masks(gl, samples, srcs, out, mixes, None)?.0)
    }

    /// `run_batch`, and with `masks` (every sample's label maps, each of its
    /// source's size, and the ignore value) their gather through the same
    /// maps: one more dispatch in each chunk's submit (`shaders/masks.wgsl`).
    /// Returns every sample's masks at the output size.
    #[allow(clippy::type_complexity)]
    pub(crate) fn run_batch_masks(
        &self,
        gl: &GpuGlobals,
        samples: &[GpuSample],
        srcs: &[Src],
        out: crate::TensorMut,
        mixes: Option<&[GpuMix]>,
        masks: Option<crate::cpu::masks::MaskJob<'_>>,
    ) -> Result<(BatchStats, Option<Vec<Vec<Mask>>>)> {
        self.run_batch_parts(gl, samples, srcs, &mut [out], mixes, masks)
    }

    /// `run_batch_masks` with the output in parts: `outs` holds whole
    /// samples each, in order (the batches of several pipelines run as one
    /// plan, see `engine::render_plan`), and every chunk's readback is
    /// copied straight into the parts it covers. With `mixes`, every
    /// sample's partner lies in its own part (a batch split into chunks
    /// mixes each part on the host).
    #[allow(clippy::type_complexity)]
    pub(crate) fn run_batch_parts(
        &self,
        gl: &GpuGlobals,
        samples: &[GpuSample],
        srcs: &[Src],
        outs: &mut [crate::TensorMut],
        mixes: Option<&[GpuMix]>,
        masks: Option<crate::cpu::masks::MaskJob<'_>>,
    ) -> Result<(BatchStats, Option<Vec<Vec<Mask>>>)> {
        crate::cpu::check_batch(gl, samples, srcs, outs, mixes)?;
        let values = gl.values_per_sample();
        let parts: Vec<usize> = outs
            .iter()
            .map(|o| match o {
                crate::TensorMut::U8(v) => v.len(),
                crate::TensorMut::F32(v) => v.len(),
                crate::TensorMut::F16(v) => v.len(),
            } / values.max(1))
            .collect();
        if let Some(m) = mixes {
            let mut at = 0;
            for &c in &parts {
                if let Some(i) =
                    (at..at + c).find(|&i| !(at..at + c).contains(&(m[i].kind[1] as usize)))
                {
                    return Err(Error::InvalidArgument(format!(
                        "batch: sample {i}'s mixing partner {} lies outside its part (samples {at}..{})",
                        m[i].kind[1],
                        at + c
                    )));
                }
                at += c;
            }
        }
        if let Some((m, _)) = masks {
            if m.len() != samples.len() {
                return Err(Error::InvalidArgument(format!(
                    "batch: {} mask sets for {} samples",
                    m.len(),
                    samples.len()
                )));
            }
        }
        let npx = (gl.out[0] as u64) * (gl.out[1] as u64);
        // Bytes per sample on the device and in the tensor, and of scratch.
        let [out_per, tensor_per, scratch_per] = per_sample_bytes(gl);
        let limit = self.limits.max_storage_binding.min(self.limits.max_buffer);
        // Masks per sample (their buffers grow with the batch too).
        let mask_k = masks.map_or(0, |(m, _)| m.first().map_or(0, Vec::len)) as u64;
        // Split into chunks whose every binding fits.
        let mut chunks: Vec<std::ops::Range<usize>> = Vec::new();
        let (mut start, mut src_sum, mut n) = (0usize, 0u64, 0u64);
        let mut field_sum = 0u64;
        // A chunk uploads each distinct source once (`run_chunk`).
        let mut seen = std::collections::HashSet::new();
        for (i, s) in srcs.iter().enumerate() {
            // RGB bytes (3 a pixel; the chunk's buffer adds up to 8 of padding).
            let sb = s.width as u64 * s.height as u64 * 3;
            let (noise, cols) = samples[i].field.buffer_floats(gl.out[0]);
            let fb = (noise + cols) * 4;
            let fits = |src: u64, n: u64, field: u64| {
                src + 8 <= limit
                    && field <= limit
                    && n * out_per <= limit
                    && n * scratch_per <= limit
                    && n * std::mem::size_of::<GpuSample>() as u64 <= limit
                    && n * (MAX_STATS * STAT_STRIDE * 4) as u64 <= limit
                    && n <= self.limits.max_workgroups_per_dim as u64
                    && src * mask_k + 4 * (n * mask_k + 2) <= limit
                    && n * mask_k * npx * 4 <= limit
            };
            if !fits(sb, 1, fb) {
                return Err(Error::InvalidImage {
                    index: i,
                    message: format!(
                        "{}x{} image (or its output) exceeds the device's {} MiB storage-binding limit",
                        s.width,
                        s.height,
                        limit >> 20
                    ),
                });
            }
            let new = !seen.contains(&src_id(s));
            if n > 0 && !fits(src_sum + if new { sb } else { 0 }, n + 1, field_sum + fb) {
                chunks.push(start..i);
                (start, src_sum, n, field_sum) = (i, 0, 0, 0);
                seen.clear();
            }
            if seen.insert(src_id(s)) {
                src_sum += sb;
            }
            field_sum += fb;
            n += 1;
        }
        if n > 0 {
            chunks.push(start..srcs.len());
        }
        let pool_err = || Error::Gpu("a previous batch panicked".into());
        let taken = self.bufs.lock().map_err(|_| pool_err())?.pop();
        let mut bufs = match taken {
            Some(b) => b,
            None => new_buffers(&self.device),
        };
        let r = self.run_chunks(
            &mut bufs,
            gl,
            samples,
            srcs,
            outs,
            &parts,
            mixes,
            masks,
            &chunks,
            [out_per, tensor_per, scratch_per],
        );
        // A set whose batch failed may be left mapped or half written: dropped.
        if r.is_ok() {
            self.bufs.lock().map_err(|_| pool_err())?.push(bufs);
        }
        r
    }

    /// The chunks of one batch, in order, on one buffer set.
    #[allow(clippy::too_many_arguments)]
    fn run_chunks(
        &self,
        bufs: &mut Buffers,
        gl: &GpuGlobals,
        samples: &[GpuSample],
        srcs: &[Src],
        outs: &mut [crate::TensorMut],
        parts: &[usize],
        mixes: Option<&[GpuMix]>,
        masks: Option<crate::cpu::masks::MaskJob<'_>>,
        chunks: &[std::ops::Range<usize>],
        [out_per, tensor_per, scratch_per]: [u64; 3],
    ) -> Result<(BatchStats, Option<Vec<Vec<Mask>>>)> {
        let mut stats = BatchStats::default();
        let mut masks_out: Option<Vec<Vec<Mask>>> = masks.map(|_| Vec::new());
        let mut split = chunks.len() > 1;
        let mix_gl = GpuMixGlobals {
            out: [gl.out[0], gl.out[1], samples.len() as u32, gl.out[3]],
        };
        // A chunk whose buffers the device cannot allocate is run again as
        // two halves (on a fresh buffer set, so the failed one's memory is
        // freed first), down to one sample: results do not depend on the
        // chunking. A batch split this way mixes on the host, as a batch cut
        // into chunks by the binding limits does.
        let mut queue: std::collections::VecDeque<std::ops::Range<usize>> =
            chunks.iter().cloned().collect();
        // f16: each chunk rounds on the device, but a batch that mixes and
        // is split mixes on the host, so there its chunks bring back the f32
        // values (into `host_f32`, a vector per part), mixed and then rounded
        // once on the host: the same values either way. (Whether a batch is
        // split is settled before any chunk is read back: a split for memory
        // happens at the first chunk of an unsplit batch.)
        let f16 = gl.f16_out();
        let values = gl.values_per_sample();
        let mut host_f32: Option<Vec<Vec<f32>>> = None;
        let mut rounded_on_device = false;
        while let Some(range) = queue.pop_front() {
            let cn = range.len();
            let to_f16 = f16 && !(split && mixes.is_some());
            let cs = match self.run_chunk(
                bufs,
                gl,
                &samples[range.clone()],
                &srcs[range.clone()],
                out_per,
                scratch_per,
                mixes.filter(|_| !split).map(|m| (&mix_gl, m)),
                masks.map(|(m, ignore)| (&m[range.clone()], ignore)),
                to_f16,
            ) {
                Err(Error::OutOfMemory { .. }) if cn > 1 => {
                    *bufs = new_buffers(&self.device);
                    split = true;
                    let mid = range.start + cn / 2;
                    queue.push_front(mid..range.end);
                    queue.push_front(range.start..mid);
                    continue;
                }
                r => r?,
            };
            let (down_per, [device_ns, readback_ns]) = if f16 && !to_f16 {
                if rounded_on_device {
                    return Err(Error::Gpu(
                        "f16 batch: a chunk came back unrounded after rounded ones".into(),
                    ));
                }
                if host_f32.is_none() {
                    let what = || format!("the f32 values of {} f16 outputs", samples.len());
                    host_f32 = Some(
                        parts
                            .iter()
                            .map(|&c| crate::half_out::f32_twin(c * values, &what))
                            .collect::<Result<_>>()?,
                    );
                }
                let mut views: Vec<crate::TensorMut> = host_f32
                    .iter_mut()
                    .flatten()
                    .map(|v| crate::TensorMut::F32(v))
                    .collect();
                let per = out_per as usize;
                let t = self.read_back(bufs, range.clone(), [per, per], &mut views, parts)?;
                (per, t)
            } else {
                rounded_on_device |= to_f16;
                let per = if to_f16 { tensor_per } else { out_per } as usize;
                let t =
                    self.read_back(bufs, range.clone(), [per, tensor_per as usize], outs, parts)?;
                (tensor_per as usize, t)
            };
            if let (Some(acc), Some((m, _))) = (masks_out.as_mut(), masks) {
                acc.extend(self.read_masks(bufs, gl, &m[range.clone()])?);
                let k = m.first().map_or(0, Vec::len) as u64;
                let words = mask_plane_words(&m[range.clone()], gl);
                stats.bytes_down += cn as u64 * k * words * 4;
            }
            stats.pack_ns += cs.pack_ns;
            stats.device_ns += device_ns;
            stats.readback_ns += readback_ns;
            let bytes = cn * down_per;
            stats.dispatches += cs.dispatches;
            stats.submits += cs.submits;
            stats.bytes_up += cs.bytes_up;
            stats.bytes_down += bytes as u64;
            stats.allocations += cs.allocations;
            stats.covered += cs.covered;
            stats.chunks += 1;
        }
        if let (true, Some(m)) = (split, mixes) {
            // Each part mixes within itself: its entries with partners
            // counted from its first sample. (f16: the f32 values.)
            match host_f32.as_mut() {
                Some(h) => {
                    let mut views: Vec<crate::TensorMut> =
                        h.iter_mut().map(|v| crate::TensorMut::F32(v)).collect();
                    mix_parts_on_host(gl, m, parts, &mut views);
                }
                None => mix_parts_on_host(gl, m, parts, outs),
            }
        }
        if let Some(h) = &host_f32 {
            for (out, v) in outs.iter_mut().zip(h) {
                if let crate::TensorMut::F16(o) = out {
                    crate::half_out::round_into(v, o);
                }
            }
        }
        Ok((stats, masks_out))
    }

    #[allow(clippy::too_many_arguments)]
    fn run_chunk(
        &self,
        bufs: &mut Buffers,
        gl: &GpuGlobals,
        samples: &[GpuSample],
        srcs: &[Src],
        out_per: u64,
        scratch_per: u64,
        mix: Option<(&GpuMixGlobals, &[GpuMix])>,
        masks: Option<crate::cpu::masks::MaskJob<'_>>,
        to_f16: bool,
    ) -> Result<BatchStats> {
        let started = std::time::Instant::now();
        let dev = &self.device;
        let n = samples.len() as u64;
        let scope = dev.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        // Sources go up as their own RGB bytes, back to back (3 bytes a
        // pixel; the shader's `src_rgb` unpacks them), copied by each source
        // straight into the upload's staging memory: no packing pass. The
        // sample records carry each source's first pixel.
        // A source that several samples read (the copies and views of one
        // image) goes up once: its samples share its first pixel.
        let mut first: std::collections::HashMap<(usize, usize), u64> =
            std::collections::HashMap::new();
        let mut uploads: Vec<&Src> = Vec::new();
        let mut offsets = Vec::with_capacity(srcs.len());
        let mut total_px = 0u64;
        for s in srcs {
            let at = *first.entry(src_id(s)).or_insert_with(|| {
                uploads.push(s);
                total_px += s.width as u64 * s.height as u64;
                total_px - s.width as u64 * s.height as u64
            });
            offsets.push(at);
        }
        // Whole words, and one more: a pixel's second word is read even when
        // the pixel lies in the first (a select, not a branch).
        let src_bytes = (total_px * 3).div_ceil(4) * 4 + 4;
        let mut table = samples.to_vec();
        for (t, &at) in table.iter_mut().zip(&offsets) {
            t.src[0] = u32::try_from(at).map_err(|_| Error::OutOfMemory {
                what: format!("the sources of {} images", uploads.len()),
                bytes: src_bytes,
            })?;
        }
        // Each sample's noise lattice and row sums in the field buffer.
        let mut field_floats = 0u64;
        let (mut max_kx, mut max_ky) = (0u32, 0u32);
        for t in table.iter_mut() {
            let (noise, cols) = t.field.buffer_floats(gl.out[0]);
            t.field.key[2] = field_floats as u32;
            t.field.key[3] = (field_floats + noise) as u32;
            field_floats += noise + cols;
            if t.field.mask() != 0 {
                max_kx = max_kx.max(t.field.grid[0]);
                max_ky = max_ky.max(t.field.grid[1]);
            }
        }
        let out_bytes = n * out_per;
        // What comes back: the output, or its values rounded to f16.
        let f16_count = n * gl.values_per_sample() as u64;
        let down_bytes = if to_f16 {
            half::half_bytes(f16_count)
        } else {
            out_bytes
        };
        let mut allocations = 0u32;
        allocations += grow(
            dev,
            &mut bufs.samples,
            n * std::mem::size_of::<GpuSample>() as u64,
            storage,
            "samples",
        );
        allocations += grow(dev, &mut bufs.src, src_bytes, storage, "src");
        allocations += grow(
            dev,
            &mut bufs.scratch,
            n * scratch_per,
            wgpu::BufferUsages::STORAGE,
            "scratch",
        );
        allocations += grow(
            dev,
            &mut bufs.stats,
            n * (MAX_STATS * STAT_STRIDE) as u64 * 4,
            wgpu::BufferUsages::STORAGE,
            "stats",
        );
        allocations += grow(
            dev,
            &mut bufs.field,
            field_floats * 4,
            wgpu::BufferUsages::STORAGE,
            "field",
        );
        allocations += grow(
            dev,
            &mut bufs.out,
            out_bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            "out",
        );
        allocations += grow(
            dev,
            &mut bufs.readback,
            down_bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            "readback",
        );
        // Label maps: a header (masks per sample, words per output plane, the
        // ignore values, where the split tables' index starts, then per
        // sample and plane its first word, bit 31 set for u16), then every
        // plane packed as it is stored (u8: 4 values a word, u16: 2,
        // little-endian), then per sample the first word of its split tables
        // (OUTSIDE: none) and the tables: for an axis-aligned map the source
        // column of every output column and the source row of every output
        // row (`cpu::masks::separable_indices`, computed once here for the
        // kernel as for the CPU twin). The output planes come back packed
        // the same way (`mask_plane_words`).
        let mask_k = masks.map_or(0, |(m, _)| m.first().map_or(0, Vec::len));
        let plane_words = masks.map_or(0, |(m, _)| mask_plane_words(m, gl));
        let mask_out_bytes = n * mask_k as u64 * plane_words * 4;
        if let Some((m, (ignore8, ignore16))) = masks.filter(|_| mask_k > 0) {
            let p = &mut bufs.mask_pack;
            p.clear();
            p.push(mask_k as u32);
            p.push(plane_words as u32);
            p.push(ignore8 as u32 | (ignore16 as u32) << 16);
            p.push(0);
            let head = p.len();
            p.resize(head + m.len() * mask_k, 0);
            for (si, planes) in m.iter().enumerate() {
                for (j, plane) in planes.iter().enumerate() {
                    let at = p.len() as u32;
                    match &plane.data {
                        MaskData::U8(v) => {
                            p[head + si * mask_k + j] = at;
                            let words = v.chunks_exact(4);
                            let tail = words.remainder();
                            p.extend(words.map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
                            if !tail.is_empty() {
                                let mut last = [0u8; 4];
                                last[..tail.len()].copy_from_slice(tail);
                                p.push(u32::from_le_bytes(last));
                            }
                        }
                        MaskData::U16(v) => {
                            p[head + si * mask_k + j] = at | 1 << 31;
                            let words = v.chunks_exact(2);
                            let tail = words.remainder();
                            p.extend(words.map(|c| c[0] as u32 | (c[1] as u32) << 16));
                            if let Some(&t) = tail.first() {
                                p.push(t as u32);
                            }
                        }
                    }
                }
            }
            let index = p.len();
            p[3] = index as u32;
            p.resize(index + m.len(), crate::cpu::masks::OUTSIDE);
            for (si, g) in samples.iter().enumerate() {
                if let Some((xs, ys)) = crate::cpu::masks::separable_indices(gl, g) {
                    p[index + si] = p.len() as u32;
                    p.extend_from_slice(&xs);
                    p.extend_from_slice(&ys);
                }
            }
            allocations += grow(
                dev,
                &mut bufs.mask_in,
                p.len() as u64 * 4,
                storage,
                "mask-in",
            );
            allocations += grow(
                dev,
                &mut bufs.mask_out,
                mask_out_bytes,
                wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                "mask-out",
            );
            allocations += grow(
                dev,
                &mut bufs.mask_readback,
                mask_out_bytes,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                "mask-readback",
            );
        }
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::OutOfMemory {
                what: format!("the device buffers of {n} samples ({e})"),
                bytes: out_bytes * 2 + n * scratch_per + src_bytes,
            });
        }
        let (Some(sb), Some(srcb), Some(scb), Some(stb), Some(fb), Some(ob), Some(rb)) = (
            &bufs.samples,
            &bufs.src,
            &bufs.scratch,
            &bufs.stats,
            &bufs.field,
            &bufs.out,
            &bufs.readback,
        ) else {
            return Err(Error::Gpu("buffer allocation failed".into()));
        };
        let stat_slots = gl.pass[1] as u64;
        let mut g_all = vec![0u8; (GLOBALS_STRIDE * (stat_slots + 1)) as usize];
        for k in 0..=stat_slots {
            let mut gk = *gl;
            gk.out[2] = n as u32;
            gk.pass[0] = k as u32;
            let o = (k * GLOBALS_STRIDE) as usize;
            g_all[o..o + std::mem::size_of::<GpuGlobals>()]
                .copy_from_slice(bytemuck::bytes_of(&gk));
        }
        // Into the kept upload buffers (mapped), copied to the device
        // buffers by this batch's command buffer: no staging allocation.
        let table_bytes: &[u8] = bytemuck::cast_slice(&table);
        allocations += bufs
            .up_globals
            .put(dev, g_all.len() as u64, "globals-up", |v| {
                v.slice(..).copy_from_slice(&g_all)
            })?;
        allocations += bufs
            .up_table
            .put(dev, table_bytes.len() as u64, "samples-up", |v| {
                v.slice(..).copy_from_slice(table_bytes)
            })?;
        allocations += bufs.up_src.put(dev, src_bytes, "src-up", |view| {
            let mut at = 0usize;
            for s in &uploads {
                let len = s.width as usize * s.height as usize * 3;
                view.slice(at..at + len).copy_from_slice(&s.data[..len]);
                at += len;
            }
            let tail = src_bytes as usize - at;
            view.slice(at..).copy_from_slice(&[0u8; 8][..tail]);
        })?;
        fn entire(b: &wgpu::Buffer) -> wgpu::BindingResource<'_> {
            b.as_entire_binding()
        }
        let bg = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("augment"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &bufs.globals,
                        offset: 0,
                        size: wgpu::BufferSize::new(std::mem::size_of::<GpuGlobals>() as u64),
                    }),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: entire(sb),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: entire(srcb),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: entire(scb),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: entire(stb),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: entire(ob),
                },
                wgpu::BindGroupEntry {
                    binding: 6,
                    resource: entire(fb),
                },
            ],
        });
        let maxd = self.limits.max_workgroups_per_dim as u64;
        let grid = |groups: u64| -> (u32, u32) {
            let x = groups.clamp(1, maxd);
            (x as u32, groups.div_ceil(x).max(1) as u32)
        };
        let features = Features::of(gl, samples);
        let chosen = self.pipelines(features)?;
        let mut covers = chosen.cover as u32;
        let kernels = chosen.kernels;
        let mask_pass = match (&bufs.mask_in, &bufs.mask_out) {
            (Some(mi), Some(mo)) if mask_k > 0 => {
                let pack: &[u8] = bytemuck::cast_slice(&bufs.mask_pack);
                allocations += bufs
                    .up_masks
                    .put(dev, pack.len() as u64, "mask-in-up", |v| {
                        v.slice(..).copy_from_slice(pack)
                    })?;
                let bg1 = dev.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("masks"),
                    layout: &self.mask_layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: entire(mi),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: entire(mo),
                        },
                    ],
                });
                let m = self.mask_pipeline(features)?;
                covers += m.cover as u32;
                Some((m.kernels, bg1))
            }
            _ => None,
        };
        let mix_pass = match mix {
            Some((mg, m)) => {
                Some(
                    self.mix
                        .prepare(dev, &self.queue, &mut bufs.mix, ob, mg, m, out_bytes)?,
                )
            }
            None => None,
        };
        // f16: the rounding pass reads what would be copied back.
        let half_pass = if to_f16 {
            let input = match (&mix_pass, bufs.mix.out()) {
                (Some(_), Some(mixed)) => mixed,
                _ => ob,
            };
            Some(
                self.half
                    .prepare(dev, &self.queue, &mut bufs.half, input, f16_count, maxd)?,
            )
        } else {
            None
        };
        let mut enc = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("augment"),
        });
        bufs.up_globals.copy_to(&mut enc, &bufs.globals);
        bufs.up_table.copy_to(&mut enc, sb);
        bufs.up_src.copy_to(&mut enc, srcb);
        if let (Some(_), Some(mi)) = (&mask_pass, &bufs.mask_in) {
            bufs.up_masks.copy_to(&mut enc, mi);
        }
        let mut dispatches = 0;
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("augment"),
                timestamp_writes: None,
            });
            if let Some((noise, cols)) = &kernels.field {
                // Lattice noise, then the column sums: 16x16 tiles, z = sample.
                pass.set_bind_group(0, &bg, &[0]);
                pass.set_pipeline(noise);
                pass.dispatch_workgroups(max_kx.div_ceil(16), max_ky.div_ceil(16), n as u32);
                pass.set_pipeline(cols);
                pass.dispatch_workgroups(gl.out[0].div_ceil(16), max_ky.div_ceil(16), n as u32);
                dispatches += 2;
            }
            for k in 0..stat_slots {
                let Some((warp, scratch)) = &kernels.stats else {
                    return Err(Error::Gpu("segment-pass pipelines missing".into()));
                };
                pass.set_pipeline(if k == 0 { warp } else { scratch });
                pass.set_bind_group(0, &bg, &[(k * GLOBALS_STRIDE) as u32]);
                let (x, y) = grid(n);
                pass.dispatch_workgroups(x, y, 1);
                dispatches += 1;
            }
            pass.set_pipeline(&kernels.main);
            pass.set_bind_group(0, &bg, &[(stat_slots * GLOBALS_STRIDE) as u32]);
            // 16x16 tiles of each sample; z: the sample.
            pass.dispatch_workgroups(gl.out[0].div_ceil(16), gl.out[1].div_ceil(16), n as u32);
            dispatches += 1;
            if let Some((m, _)) = &mix_pass {
                m.encode(&mut pass);
                dispatches += 1;
            }
            if let Some(h) = &half_pass {
                h.encode(&mut pass);
                dispatches += 1;
            }
            if let Some((p, bg1)) = &mask_pass {
                // The label maps on the same maps: 64 invocations of 4
                // pixels each a workgroup, z = sample.
                pass.set_pipeline(p);
                pass.set_bind_group(0, &bg, &[(stat_slots * GLOBALS_STRIDE) as u32]);
                pass.set_bind_group(1, bg1, &[]);
                let npx = gl.out[0] * gl.out[1];
                pass.dispatch_workgroups(npx.div_ceil(4).div_ceil(64), 1, n as u32);
                dispatches += 1;
            }
        }
        if let (Some(_), Some(mo), Some(mr)) = (&mask_pass, &bufs.mask_out, &bufs.mask_readback) {
            enc.copy_buffer_to_buffer(mo, 0, mr, 0, mask_out_bytes);
        }
        let copy_from = match (&mix_pass, bufs.mix.out(), &half_pass, bufs.half.out()) {
            (_, _, Some(_), Some(rounded)) => rounded,
            (Some(_), Some(mixed), _, _) => mixed,
            _ => ob,
        };
        enc.copy_buffer_to_buffer(copy_from, 0, rb, 0, down_bytes);
        let submitted = self.queue.submit([enc.finish()]);
        for u in [
            &mut bufs.up_globals,
            &mut bufs.up_table,
            &mut bufs.up_src,
            &mut bufs.up_masks,
        ] {
            u.remap();
        }
        let up = g_all.len() as u64
            + (table.len() * std::mem::size_of::<GpuSample>()) as u64
            + src_bytes
            + mix_pass.as_ref().map_or(0, |(_, b)| *b)
            + mask_pass
                .as_ref()
                .map_or(0, |_| bufs.mask_pack.len() as u64 * 4);
        bufs.submitted = Some(submitted);
        Ok(BatchStats {
            dispatches,
            submits: 1,
            chunks: 1,
            bytes_up: up,
            bytes_down: down_bytes,
            pack_ns: started.elapsed().as_nanos() as u64,
            allocations: allocations
                + mix_pass.as_ref().map_or(0, |(m, _)| m.allocations)
                + half_pass.as_ref().map_or(0, |h| h.allocations),
            covered: covers,
            ..BatchStats::default()
        })
    }

    /// The label maps of the chunk just read back (`masks`: its samples'
    /// inputs, for the count and type), from the mask readback buffer; the
    /// device finished with them in `read_back`.
    fn read_masks(
        &self,
        bufs: &Buffers,
        gl: &GpuGlobals,
        masks: &[Vec<&Mask>],
    ) -> Result<Vec<Vec<Mask>>> {
        let k = masks.first().map_or(0, Vec::len);
        let (w, h) = (gl.out[0], gl.out[1]);
        let npx = w as usize * h as usize;
        if k == 0 {
            return Ok(vec![Vec::new(); masks.len()]);
        }
        let rb = bufs
            .mask_readback
            .as_ref()
            .ok_or_else(|| Error::Gpu("no mask readback buffer".into()))?;
        let stride = mask_plane_words(masks, gl) as usize;
        let bytes = (masks.len() * k * stride * 4) as u64;
        let (tx, rx) = std::sync::mpsc::channel();
        rb.map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: bufs.submitted.clone(),
                timeout: Some(DEVICE_TIMEOUT),
            })
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Gpu(format!("mapping masks: {e}"))),
            Err(_) => return Err(Error::Gpu("device dropped the mask readback".into())),
        }
        let out = {
            let view = rb
                .get_mapped_range(0..bytes)
                .map_err(|e| Error::Gpu(format!("mapping masks: {e:?}")))?;
            let words: &[u32] = bytemuck::cast_slice(&view[..]);
            masks
                .iter()
                .enumerate()
                .map(|(si, planes)| {
                    planes
                        .iter()
                        .enumerate()
                        .map(|(j, m)| {
                            // The plane's own values, packed (the kernel
                            // wrote the ignore values already).
                            let v = &words[(si * k + j) * stride..(si * k + j + 1) * stride];
                            if m.is_u16() {
                                let v: &[u16] = bytemuck::cast_slice(v);
                                Mask::u16(w, h, v[..npx].to_vec())
                            } else {
                                let v: &[u8] = bytemuck::cast_slice(v);
                                Mask::u8(w, h, v[..npx].to_vec())
                            }
                        })
                        .collect()
                })
                .collect()
        };
        rb.unmap();
        Ok(out)
    }

    /// Copies the chunk's samples `range` of the batch, `per` device bytes
    /// each (of which `keep` are the sample's), into the tensor parts
    /// (`outs`, of `parts` samples each) that hold them. Returns the host
    /// nanoseconds spent waiting for the device and copying.
    fn read_back(
        &self,
        bufs: &Buffers,
        range: std::ops::Range<usize>,
        [per, keep]: [usize; 2],
        outs: &mut [crate::TensorMut],
        parts: &[usize],
    ) -> Result<[u64; 2]> {
        let waiting = std::time::Instant::now();
        let bytes = range.len() * per;
        let rb = bufs
            .readback
            .as_ref()
            .ok_or_else(|| Error::Gpu("no readback buffer".into()))?;
        let map_bytes = (bytes as u64).next_multiple_of(4).max(4);
        let (tx, rx) = std::sync::mpsc::channel();
        rb.map_async(wgpu::MapMode::Read, 0..map_bytes, move |r| {
            let _ = tx.send(r);
        });
        // Wait for this set's own submission, not for other threads' later
        // ones; a device that never finishes (hung, lost without telling)
        // becomes an error instead of a hang.
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: bufs.submitted.clone(),
                timeout: Some(DEVICE_TIMEOUT),
            })
            .map_err(|e| {
                Error::Gpu(format!(
                    "waiting for the device (at most {} s): {e}",
                    DEVICE_TIMEOUT.as_secs()
                ))
            })?;
        if let Some(e) = self.take_error() {
            return Err(Error::Gpu(e));
        }
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Gpu(format!("mapping results: {e}"))),
            Err(_) => return Err(Error::Gpu("device dropped the readback".into())),
        }
        let device_ns = waiting.elapsed().as_nanos() as u64;
        let copying = std::time::Instant::now();
        {
            let view = rb
                .get_mapped_range(0..map_bytes)
                .map_err(|e| Error::Gpu(format!("mapping results: {e:?}")))?;
            let mut first = 0;
            for (out, &c) in outs.iter_mut().zip(parts) {
                let (lo, hi) = (range.start.max(first), range.end.min(first + c));
                if lo < hi {
                    let from = &view[(lo - range.start) * per..(hi - range.start) * per];
                    let at = (lo - first) * keep;
                    if per == keep {
                        out.write_bytes(at, from);
                    } else if keep * 4 == per {
                        // u8, one output channel: the words' first bytes.
                        out.write_grey_from_rgba(at, from);
                    } else {
                        // u8: RGBA words to RGB bytes.
                        out.write_rgb_from_rgba(at, from);
                    }
                }
                first += c;
            }
        }
        rb.unmap();
        Ok([device_ns, copying.elapsed().as_nanos() as u64])
    }
}

impl Drop for GpuContext {
    fn drop(&mut self) {
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }
}

/// Mixes every part of a split batch within itself on the host (`m`: the
/// whole batch's mixing table, partners counted from the batch's first
/// sample; each part's entries are shifted to count from its own).
fn mix_parts_on_host(
    gl: &GpuGlobals,
    m: &[GpuMix],
    parts: &[usize],
    outs: &mut [crate::TensorMut],
) {
    let mut at = 0;
    for (out, &c) in outs.iter_mut().zip(parts) {
        let own: Vec<GpuMix> = m[at..at + c]
            .iter()
            .map(|x| {
                let mut x = *x;
                x.kind[1] -= at as u32;
                x
            })
            .collect();
        let g = GpuMixGlobals {
            out: [gl.out[0], gl.out[1], c as u32, gl.as_f32().out[3]],
        };
        mix::mix_on_host(&g, &own, out);
        at += c;
    }
}

/// What tells two sources apart for the upload: where their pixels are
/// (the same image read by several samples is one source).
fn src_id(s: &Src) -> (usize, usize) {
    (s.data.as_ptr() as usize, s.data.len())
}

/// Words of one output label-map plane on the device: the output's pixels
/// packed 4 a word when every plane of the batch is u8, else 2 a word (u16
/// planes; a u8 plane beside them uses the first half).
fn mask_plane_words(masks: &[Vec<&Mask>], gl: &GpuGlobals) -> u64 {
    let npx = gl.out[0] as u64 * gl.out[1] as u64;
    if masks.iter().flatten().any(|m| m.is_u16()) {
        npx.div_ceil(2)
    } else {
        npx.div_ceil(4)
    }
}
