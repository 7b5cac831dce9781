//! Kernel variants: which feature sets are compiled when, and the wgpu
//! pipeline cache on disk.
//!
//! The kernels are specialised per batch (`Features`, WGSL override
//! constants). Creating an `Augmenter` compiles its pipeline's *superset*
//! variant (`Features::superset`): the exact pipeline-level flags with every
//! per-sample path enabled. A batch whose exact variant is not compiled yet
//! runs on a compiled variant that covers it (`Features::covers`) and its
//! exact variant compiles on a background thread, for later batches. Every
//! flag the superset sets beyond a batch's own only enables a path that each
//! sample still selects by its own data (see `Features::covers`), so the
//! bytes are the same whichever variant ran (tests/precompile.rs).

use super::{Features, Kernels};
use crate::error::{Error, Result};
use crate::plan::{GpuGlobals, KernelBounds, MAX_PROG};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

impl Features {
    /// The variant that covers every batch a pipeline with globals `gl` can
    /// run (`gl` from `plan::globals`, for AugMix of its internal pipeline):
    /// the flags the pipeline fixes exactly (output format and channels, the
    /// segment pass, its field kinds), the nearest, clip and resampler paths
    /// on, and the rest as its `KernelBounds` say (`plan::kernel_bounds`:
    /// projective maps, folding, the most hue steps one program holds, at
    /// most `MAX_PROG`, and the op codes). None: every path, op code and
    /// `MAX_PROG` hue steps, a cover of any batch (several times slower to
    /// run on lavapipe).
    pub(super) fn superset(gl: &GpuGlobals, bounds: Option<KernelBounds>) -> Self {
        let b = bounds.unwrap_or(KernelBounds {
            hue_steps: MAX_PROG as u32,
            ops: u32::MAX,
            projective: true,
            fold: true,
        });
        Features {
            out_f32: gl.f32_out(),
            out_grey: gl.channels() == 1,
            use_scratch: gl.pass[1] > 0,
            may_nearest: true,
            may_clip: true,
            may_projective: b.projective,
            may_resample: true,
            may_fold: b.fold,
            hue_steps: b.hue_steps,
            field_kinds: gl.pass[2],
            ops: b.ops,
        }
    }

    /// Whether the kernels of `self` render every batch of feature set `f`
    /// to the same bytes as `f`'s own. The format flags and the segment pass
    /// must agree (they change the buffers and the dispatches). Each other
    /// flag only guards a path a sample still selects by its own data
    /// (shaders/common/sample.wgsl, color.wgsl, field.wgsl, masks.wgsl):
    /// MAY_NEAREST selects by `src.w & 1`, MAY_FOLD by the pad mode (constant:
    /// the plain clamp), MAY_PROJECTIVE divides by w = 0 * x + 0 * y + 1 = 1
    /// exactly for an affine map, MAY_CLIP loops over `counts.w` stages (0:
    /// none), MAY_RESAMPLE tests the sample's mode, FIELD_KINDS and the field
    /// kernels test the sample's own kind mask, OPS only gates codes a
    /// program holds, and HUE_STEPS bounds the hue loop, whose later rounds
    /// do nothing once the program is exhausted: more is the same, fewer
    /// than a program holds would drop hue steps.
    pub(super) fn covers(&self, f: &Features) -> bool {
        let implies = |a: bool, b: bool| !a || b;
        self.out_f32 == f.out_f32
            && self.out_grey == f.out_grey
            && self.use_scratch == f.use_scratch
            && implies(f.may_nearest, self.may_nearest)
            && implies(f.may_clip, self.may_clip)
            && implies(f.may_projective, self.may_projective)
            && implies(f.may_resample, self.may_resample)
            && implies(f.may_fold, self.may_fold)
            && f.hue_steps <= self.hue_steps
            && f.field_kinds & !self.field_kinds == 0
            && f.ops & !self.ops == 0
            // The field pass runs for a variant with field kinds: the
            // same dispatches either way.
            && (f.field_kinds == 0) == (self.field_kinds == 0)
    }

    /// What running `self` costs per pixel relative to other covering
    /// variants (smaller first): the cheapest compiled cover is used.
    fn weight(&self) -> u32 {
        let flags = [
            self.may_nearest,
            self.may_clip,
            self.may_projective,
            self.may_resample,
            self.may_fold,
        ];
        self.hue_steps * 64 + self.ops.count_ones() + flags.iter().filter(|&&b| b).count() as u32
    }
}

/// Which variant a batch runs (a switch for tests and measurements,
/// `GpuContext::set_variant_mode`).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VariantMode {
    /// The exact variant when compiled, else a compiled cover while the
    /// exact one compiles on a background thread (else, with no cover, the
    /// exact one compiled there and then).
    #[default]
    Auto,
    /// Always the exact variant, compiled there and then when missing (the
    /// behaviour before precompilation).
    Exact,
    /// Always a compiled cover when there is one, never a background compile.
    Cover,
}

impl VariantMode {
    /// `GPU_AUGMENT_VARIANTS` = `exact` or `cover` (for measurements; unset
    /// or anything else: `Auto`).
    pub(super) fn from_env() -> Self {
        match std::env::var("GPU_AUGMENT_VARIANTS").as_deref() {
            Ok("exact") => VariantMode::Exact,
            Ok("cover") => VariantMode::Cover,
            _ => VariantMode::Auto,
        }
    }
}

/// The compiled variants of one device, shared with the background compiles.
#[derive(Default)]
pub(super) struct Variants {
    pub(super) main: HashMap<Features, Arc<Kernels>>,
    pub(super) masks: HashMap<Features, Arc<wgpu::ComputePipeline>>,
    /// A background compile is running (at most one at a time: on a
    /// CPU-emulated device compiles take the cores the batches need).
    pub(super) busy: bool,
    /// Variants whose background compile failed: never tried again (the
    /// batches keep their cover).
    pub(super) failed: HashSet<(Features, bool)>,
    pub(super) mode: VariantMode,
}

/// What a batch runs with, and whether it was a cover of its exact variant.
pub(super) struct Chosen<T> {
    pub(super) kernels: Arc<T>,
    pub(super) cover: bool,
}

/// What compiles kernels: clones of the device's handles (reference counted,
/// Send + Sync in wgpu 30), so a background thread can compile while the
/// batches run.
#[derive(Clone)]
pub(super) struct Compiler {
    pub(super) device: wgpu::Device,
    pub(super) pipeline_layout: wgpu::PipelineLayout,
    pub(super) main_module: wgpu::ShaderModule,
    pub(super) stats_module: wgpu::ShaderModule,
    pub(super) field_module: wgpu::ShaderModule,
    pub(super) masks_module: wgpu::ShaderModule,
    pub(super) mask_pipeline_layout: wgpu::PipelineLayout,
    pub(super) cache: Option<Arc<DiskCache>>,
}

impl Compiler {
    fn pipeline(
        &self,
        name: &str,
        layout: &wgpu::PipelineLayout,
        module: &wgpu::ShaderModule,
        entry: &str,
        constants: &[(&str, f64)],
    ) -> wgpu::ComputePipeline {
        self.device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: Some(layout),
                module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants,
                    ..Default::default()
                },
                cache: self.cache.as_ref().map(|c| &c.cache),
            })
    }

    /// The main, segment-pass and field kernels of `f` (error scopes are
    /// thread-local in wgpu 30, so this runs on any thread).
    pub(super) fn kernels(&self, f: Features) -> Result<Kernels> {
        let constants = f.constants();
        let mut warp_c = constants.clone();
        warp_c.push(("STATS_WARP", 1.0));
        let mut scratch_c = constants.clone();
        scratch_c.push(("STATS_WARP", 0.0));
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pl = &self.pipeline_layout;
        let make = |name: &str, module: &wgpu::ShaderModule, entry: &str, c: &[(&str, f64)]| {
            self.pipeline(name, pl, module, entry, c)
        };
        // The segment-pass pipelines exist only for pipelines with barrier steps.
        let stats = f.use_scratch.then(|| {
            (
                make("stats-warp", &self.stats_module, "main", &warp_c),
                make("stats-scratch", &self.stats_module, "main", &scratch_c),
            )
        });
        // The field kernels exist only for batches with random fields.
        let field = (f.field_kinds != 0).then(|| {
            (
                make("field-noise", &self.field_module, "noise", &constants),
                make("field-cols", &self.field_module, "cols", &constants),
            )
        });
        let k = Kernels {
            main: make("augment", &self.main_module, "main", &constants),
            stats,
            field,
        };
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "pipeline creation failed for {f:?}: {e}"
            )));
        }
        Ok(k)
    }

    /// The label-map kernel of `f`.
    pub(super) fn mask(&self, f: Features) -> Result<wgpu::ComputePipeline> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let p = self.pipeline(
            "masks",
            &self.mask_pipeline_layout,
            &self.masks_module,
            "main",
            &f.constants(),
        );
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "mask pipeline creation failed for {f:?}: {e}"
            )));
        }
        Ok(p)
    }

    /// Writes the pipeline cache back (when there is one).
    pub(super) fn save(&self) {
        if let Some(c) = &self.cache {
            c.save();
        }
    }
}

fn poisoned() -> Error {
    Error::Gpu("a previous batch panicked".into())
}

/// The kernels a batch of feature set `f` runs with, from `variants`
/// (`masks`: the label-map kernel's, else the main ones'), compiling them
/// with `compile` as the mode says.
pub(super) fn choose<T: Send + Sync + 'static>(
    variants: &Arc<Mutex<Variants>>,
    compiler: &Compiler,
    f: Features,
    masks: bool,
    table: fn(&mut Variants) -> &mut HashMap<Features, Arc<T>>,
    compile: fn(&Compiler, Features) -> Result<T>,
) -> Result<Chosen<T>> {
    let mut v = variants.lock().map_err(|_| poisoned())?;
    if let Some(k) = table(&mut v).get(&f) {
        return Ok(Chosen {
            kernels: k.clone(),
            cover: false,
        });
    }
    let mode = v.mode;
    let cover = match mode {
        VariantMode::Exact => None,
        VariantMode::Auto | VariantMode::Cover => table(&mut v)
            .iter()
            .filter(|(c, _)| c.covers(&f))
            .min_by_key(|(c, _)| c.weight())
            .map(|(_, k)| k.clone()),
    };
    let Some(kernels) = cover else {
        // No cover compiled (a pipeline whose augmenter did not precompile,
        // or the exact mode): compiled here, as the batch needs it.
        let k = Arc::new(compile(compiler, f)?);
        table(&mut v).insert(f, k.clone());
        drop(v);
        compiler.save();
        return Ok(Chosen {
            kernels: k,
            cover: false,
        });
    };
    if mode == VariantMode::Auto && !v.busy && !v.failed.contains(&(f, masks)) {
        v.busy = true;
        let (variants, compiler) = (variants.clone(), compiler.clone());
        let spawned = std::thread::Builder::new()
            .name("gpu-augment-compile".into())
            .spawn(move || {
                let r = compile(&compiler, f);
                if r.is_ok() {
                    compiler.save();
                }
                let mut v = variants.lock().unwrap_or_else(|e| e.into_inner());
                v.busy = false;
                match r {
                    Ok(k) => {
                        table(&mut v).insert(f, Arc::new(k));
                    }
                    Err(e) => {
                        // Nothing is lost but speed: the batches of `f`
                        // keep running on their cover. Said once.
                        v.failed.insert((f, masks));
                        eprintln!(
                            "gpu-augment: warning: the background compile of an exact kernel variant failed ({e}); its batches keep the precompiled variant"
                        );
                    }
                }
            });
        if spawned.is_err() {
            v.busy = false;
        }
    }
    Ok(Chosen {
        kernels,
        cover: true,
    })
}

/// The pipeline cache (`wgpu::PipelineCache`) and the file it is saved in.
pub(super) struct DiskCache {
    pub(super) cache: wgpu::PipelineCache,
    /// Where the data is saved; None when the directory cannot be created
    /// (saving is off, the cache still serves this process).
    path: Option<PathBuf>,
    /// The data last read or written (a save that would write the same
    /// bytes is skipped); its lock also serialises the saves.
    last: Mutex<Option<Vec<u8>>>,
}

/// `$XDG_CACHE_HOME/gpu-augment` (an absolute `XDG_CACHE_HOME`), else
/// `$HOME/.cache/gpu-augment`.
pub(super) fn cache_dir() -> Option<PathBuf> {
    let abs = |k: &str| {
        std::env::var_os(k)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    abs("XDG_CACHE_HOME")
        .or_else(|| abs("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("gpu-augment"))
}

/// Whether the pipeline cache is wanted (`GPU_AUGMENT_PIPELINE_CACHE=0` turns it off).
pub(super) fn cache_enabled() -> bool {
    std::env::var("GPU_AUGMENT_PIPELINE_CACHE").map_or(true, |v| v.trim() != "0")
}

impl DiskCache {
    /// The file the data is saved in.
    pub(super) fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// The device's pipeline cache, seeded from its file; None when the
    /// device lacks `PIPELINE_CACHE`, the backend has no cache key, or the
    /// cache is turned off.
    pub(super) fn open(device: &wgpu::Device, info: &wgpu::AdapterInfo) -> Option<Self> {
        if !cache_enabled() || !device.features().contains(wgpu::Features::PIPELINE_CACHE) {
            return None;
        }
        let key = wgpu::util::pipeline_cache_key(info)?;
        let path = cache_dir().map(|d| d.join(key));
        let data = path.as_ref().and_then(|p| std::fs::read(p).ok());
        // SAFETY: `create_pipeline_cache` requires `data` to come from
        // `PipelineCache::get_data` of an adapter with the same
        // `pipeline_cache_key`. The file is named by that key and written
        // only by `save` below, with `get_data`'s bytes, renamed into place
        // whole (never torn). wgpu also checks the data's header (its
        // version, the adapter's vendor, device and driver) and, with
        // `fallback: true`, starts an empty cache when it does not match.
        let cache = unsafe {
            device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("gpu-augment"),
                data: data.as_deref(),
                fallback: true,
            })
        };
        let path = path.filter(|p| {
            p.parent()
                .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
        });
        Some(DiskCache {
            cache,
            path,
            last: Mutex::new(data),
        })
    }

    /// Writes the cache's data to its file: to a temporary file in the same
    /// directory, then renamed over it (a crash leaves the old file or the
    /// new one, never part of one). Failures only skip the save.
    fn save(&self) {
        let Some(path) = &self.path else { return };
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let Some(data) = self.cache.get_data() else {
            return;
        };
        if last.as_deref() == Some(&data[..]) {
            return;
        }
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut tmp = path.clone().into_os_string();
        tmp.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp = PathBuf::from(tmp);
        if std::fs::write(&tmp, &data).is_ok() && std::fs::rename(&tmp, path).is_ok() {
            *last = Some(data);
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}
