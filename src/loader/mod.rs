//! A streaming loader for training loops: a dataset of image files, a
//! pipeline and a backend in; augmented batches (tensor, soft labels,
//! parameter records, which items they were) out, epoch after epoch.
//!
//! Inside, one epoch runs as three overlapped stages:
//! - **decode**: `decode_threads` threads take the epoch's items one at a
//!   time, in order, read and decode them; the last item of a batch to finish
//!   hands the whole batch on;
//! - **augment**: one worker per CPU engine, or `streams_per_device` workers
//!   per GPU device, take decoded batches as they come and run the pipeline
//!   (on the GPU each worker has its own buffer set, so one worker packs and
//!   uploads while another's results are read back; with several devices the
//!   batches spread over them);
//! - **consume**: the iterator hands the batches out in order (a small reorder
//!   buffer absorbs workers finishing out of order).
//!
//! Backpressure: a batch is *in flight* from the moment its first item is
//! claimed for decoding until the consumer takes it; at most `prefetch`
//! batches are in flight, so a slow consumer stops decoding ahead of it and
//! memory stays bounded (`prefetch` batches of decoded sources and outputs)
//! however long the dataset.
//!
//! Randomness: a sample's augmentation is keyed on (seed, epoch, **dataset
//! index**), never on its position in the stream, so shuffling, sharding,
//! batch size, resuming, skipped files and the number of devices never change
//! a sample's result. Mixing ops pair samples within each batch as the loader
//! forms it (the batch is part of the mixing key), so mixed samples are equal
//! across runs with the same batches: resuming, devices, backends; not across
//! different shardings or batch sizes.

mod folder;
mod sampler;
mod workers;

pub use folder::{find_images, folder_classes, scan_images, Scan, IMAGE_EXTENSIONS};
pub use sampler::{batches, epoch_order, shard, ShardTail};

use crate::engine::{Augmenter, Backend, Batch};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::pipeline::Pipeline;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A list of image files, optionally with a class label each.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    paths: Vec<PathBuf>,
    labels: Option<Vec<u32>>,
    classes: Vec<String>,
    num_classes: usize,
    /// What each item carries beside its image, and how it is transformed.
    targets: Option<Arc<(Vec<ItemTargets>, crate::targets::TargetOptions)>>,
}

/// What the loader reads and carries beside one item's image
/// ([`Dataset::with_targets`]): its masks are read (PNG label maps, see
/// [`crate::targets::io::load_mask`]) by the worker that augments its batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemTargets {
    /// Label-map files, each of the image's size.
    pub masks: Vec<PathBuf>,
    /// Boxes with classes.
    pub boxes: Option<crate::targets::Boxes>,
    /// Keypoints.
    pub keypoints: Option<crate::targets::Keypoints>,
}

impl Dataset {
    /// The same items, each with its targets (one per item, in order):
    /// every batch's `Batch::targets` then holds its outputs' transformed
    /// targets. A mask that cannot be read, or targets that do not fit their
    /// image, make the item a skipped file, reported with the reason.
    pub fn with_targets(
        mut self,
        targets: Vec<ItemTargets>,
        options: crate::targets::TargetOptions,
    ) -> Result<Self> {
        if targets.len() != self.paths.len() {
            return Err(Error::InvalidArgument(format!(
                "{} targets for a dataset of {} items",
                targets.len(),
                self.paths.len()
            )));
        }
        options.check()?;
        self.targets = Some(Arc::new((targets, options)));
        Ok(self)
    }

    /// The targets of item `i`, when the dataset has targets.
    pub fn targets(&self, i: usize) -> Option<&ItemTargets> {
        self.targets.as_ref().and_then(|t| t.0.get(i))
    }

    /// A folder in the ImageFolder layout (`DIR/class_name/image.ext`): the
    /// classes are the sub-folders in sorted order, the items every image
    /// file in sorted path order (dataset index = position in that order).
    /// An error when some image is not inside a class folder.
    pub fn image_folder(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let files = find_images(dir)?;
        let (classes, ids) = folder_classes(&files).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} is not in the ImageFolder layout (every image in DIR/class_name/)",
                dir.display()
            ))
        })?;
        Ok(Self {
            paths: files.into_iter().map(|(p, _)| p).collect(),
            labels: Some(ids),
            num_classes: classes.len(),
            classes,
            targets: None,
        })
    }

    /// Every image file under `dir` (recursively, sorted), without labels.
    pub fn folder(dir: impl AsRef<Path>) -> Result<Self> {
        let files = find_images(dir.as_ref())?;
        Ok(Self::from_paths(
            files.into_iter().map(|(p, _)| p).collect(),
        ))
    }

    /// Files without labels.
    pub fn from_paths(paths: Vec<PathBuf>) -> Self {
        Self {
            paths,
            ..Self::default()
        }
    }

    /// Files with class labels in `[0, num_classes)`.
    pub fn from_labeled(items: Vec<(PathBuf, u32)>, num_classes: usize) -> Result<Self> {
        if let Some((p, l)) = items.iter().find(|(_, l)| *l as usize >= num_classes) {
            return Err(Error::InvalidArgument(format!(
                "{}: label {l} is not below num_classes = {num_classes}",
                p.display()
            )));
        }
        let (paths, labels) = items.into_iter().unzip();
        Ok(Self {
            paths,
            labels: Some(labels),
            classes: (0..num_classes).map(|c| c.to_string()).collect(),
            num_classes,
            targets: None,
        })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The file of item `i`.
    pub fn path(&self, i: usize) -> Option<&Path> {
        self.paths.get(i).map(PathBuf::as_path)
    }

    /// The class of item `i` (None without labels).
    pub fn label(&self, i: usize) -> Option<u32> {
        self.labels.as_ref()?.get(i).copied()
    }

    /// Whether the items carry labels.
    pub fn has_labels(&self) -> bool {
        self.labels.is_some()
    }

    /// Class names (folder names for `image_folder`, "0", "1", ... for
    /// `from_labeled`, empty without labels).
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Number of classes (0 without labels).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }
}

/// How the loader cuts, orders and runs an epoch. Build with
/// `LoaderOptions { batch_size: 64, ..Default::default() }`.
#[derive(Clone, Debug)]
pub struct LoaderOptions {
    /// Source images per batch (a batch has `batch_size * views` outputs,
    /// fewer when files fail to decode). Default 64.
    pub batch_size: usize,
    /// Where the pixels run. Default `Backend::Auto`.
    pub backend: Backend,
    /// The run's seed (augmentation and shuffling). Default 0.
    pub seed: u64,
    /// A new permutation of the dataset every epoch, keyed on (seed, epoch).
    /// Default false (dataset order).
    pub shuffle: bool,
    /// Drop each rank's last batch when it is short, like
    /// `DataLoader(drop_last=True)`. Default false.
    pub drop_last: bool,
    /// The items that do not divide evenly among ranks: padded by wrapping
    /// round (`DistributedSampler(drop_last=False)`, the default), dropped
    /// (`drop_last=True`), or left uneven.
    pub shard_tail: ShardTail,
    /// This process's rank in `[0, world_size)`. Default 0.
    pub rank: usize,
    /// Number of ranks sharing the epoch. Default 1.
    pub world_size: usize,
    /// Decoding threads. Default: the machine's parallelism.
    pub decode_threads: usize,
    /// CPU backend: threads of a rayon pool owned by the loader (None: the
    /// global rayon pool). Default None.
    pub augment_threads: Option<usize>,
    /// Batches in flight at most (decoding, augmenting or waiting for the
    /// consumer). Default 4.
    pub prefetch: usize,
    /// GPU backend: devices to open. 1: `GpuContext::new()` (the
    /// high-performance adapter); more: `GpuContext::open_many` (one per
    /// GPU, then several per GPU). Default 1.
    pub devices: usize,
    /// GPU backend: workers per device, each with its own buffer set
    /// (2: double buffering). Default 2.
    pub streams_per_device: usize,
    /// Apply each image's EXIF orientation when decoding (PIL's
    /// `exif_transpose`). Default false, as torchvision's `decode_image`.
    pub exif_orientation: bool,
    /// Region decode: when every sample of an item reads a box of its source
    /// known from the header alone (a first crop or resize on the
    /// antialiased resampler, e.g. `random_resized_crop`), a JPEG is decoded
    /// over that box only. The outputs and records are those of a full
    /// decode, byte for byte; it falls back to the full decode whenever
    /// that is not certain (see the README's loader section). Default true,
    /// unless the environment variable `GPU_AUGMENT_FULL_DECODE` is set to
    /// anything but `0` (a switch for comparing, and for ruling it out).
    pub region_decode: bool,
}

impl LoaderOptions {
    /// Threads a loader with these options runs at most while an epoch
    /// streams: decoders, augment workers, the CPU pool (its own or
    /// rayon's global one) and, on the GPU backend, wgpu's device thread.
    /// Under an address-space limit each one reserves memory (its stack and,
    /// with glibc, a malloc arena), which a caller sizing batches to fit
    /// must leave room for.
    pub fn threads(&self) -> usize {
        // The loader starts rayon's global pool in any case.
        let global = rayon::current_num_threads();
        self.epoch_threads() + self.augment_threads.unwrap_or(0) + global
    }

    /// The threads of [`threads`](Self::threads) that an epoch starts (the
    /// rest start with the loader): decoders, augment workers and one more.
    pub fn epoch_threads(&self) -> usize {
        let workers = match self.backend {
            Backend::Cpu => 1,
            _ => self.devices.max(1) * self.streams_per_device.max(1),
        };
        self.decode_threads + workers + 1
    }
}

impl Default for LoaderOptions {
    fn default() -> Self {
        Self {
            batch_size: 64,
            backend: Backend::Auto,
            seed: 0,
            shuffle: false,
            drop_last: false,
            shard_tail: ShardTail::Pad,
            rank: 0,
            world_size: 1,
            decode_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            augment_threads: None,
            prefetch: 4,
            devices: 1,
            streams_per_device: 2,
            exif_orientation: false,
            region_decode: !matches!(
                std::env::var("GPU_AUGMENT_FULL_DECODE").as_deref(),
                Ok(v) if !v.is_empty() && v != "0"
            ),
        }
    }
}

/// One batch out of the loader.
#[derive(Clone, Debug)]
pub struct LoaderBatch {
    /// The epoch.
    pub epoch: u64,
    /// The batch's position in this rank's epoch (resume at `index + 1`).
    pub index: usize,
    /// Dataset indices of the sources, in batch order (files that failed to
    /// decode left out). Output sample `j` comes from `items[j / views]`.
    pub items: Vec<usize>,
    /// The tensor, its shape, each output's parameter record (its `index` is
    /// the dataset index) and soft labels (when the dataset has labels).
    pub batch: Batch,
    /// Files of this batch that could not be read or decoded: (path, reason).
    pub skipped: Vec<(PathBuf, String)>,
}

/// Cumulative counters over the loader's life.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoaderStats {
    /// Images decoded.
    pub decoded: u64,
    /// Of those, JPEGs decoded over the region their samples read only
    /// (region decode, see [`LoaderOptions::region_decode`]).
    pub region_decoded: u64,
    /// Files skipped (unreadable or corrupt).
    pub skipped: u64,
    /// Batches handed to the consumer.
    pub batches: u64,
    /// Seconds the decode threads spent decoding, summed over threads.
    pub decode_busy_s: f64,
    /// Seconds the augment workers spent augmenting (pack, upload, compute,
    /// readback), summed over workers.
    pub augment_busy_s: f64,
    /// Seconds the consumer spent waiting in `next()`.
    pub consumer_wait_s: f64,
    /// GPU backend, part of `augment_busy_s`: packing sources, writing
    /// buffers and encoding, up to the submit.
    pub gpu_pack_s: f64,
    /// GPU backend, part of `augment_busy_s`: waiting for the device
    /// (compute and the copy to the readback buffer).
    pub gpu_device_s: f64,
    /// GPU backend, part of `augment_busy_s`: copying mapped results out.
    pub gpu_readback_s: f64,
    /// Decode threads per epoch.
    pub decode_threads: usize,
    /// Augment workers per epoch.
    pub augment_workers: usize,
}

#[derive(Default)]
pub(crate) struct Counters {
    decoded: AtomicU64,
    region_decoded: AtomicU64,
    skipped: AtomicU64,
    batches: AtomicU64,
    decode_ns: AtomicU64,
    augment_ns: AtomicU64,
    wait_ns: AtomicU64,
    gpu_pack_ns: AtomicU64,
    gpu_device_ns: AtomicU64,
    gpu_readback_ns: AtomicU64,
    skipped_files: Mutex<Vec<(PathBuf, String)>>,
}

impl Counters {
    fn add_ns(c: &AtomicU64, since: std::time::Instant) {
        c.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}

/// A rayon pool owned by the loader, whose threads are joined on drop.
struct OwnedPool {
    pool: Option<rayon::ThreadPool>,
    threads: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

impl OwnedPool {
    fn new(threads: usize) -> Result<Self> {
        let handles: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>> = Arc::default();
        let keep = handles.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            // Our own threads (rayon's would be detached), so drop can join them.
            .spawn_handler(move |t| {
                let h = std::thread::Builder::new()
                    .name(format!("ga-cpu-{}", t.index()))
                    .spawn(move || t.run())?;
                if let Ok(mut v) = keep.lock() {
                    v.push(h);
                }
                Ok(())
            })
            .build()
            .map_err(|e| Error::Loader(format!("cannot start the CPU thread pool: {e}")))?;
        Ok(Self {
            pool: Some(pool),
            threads: handles,
        })
    }
}

impl Drop for OwnedPool {
    fn drop(&mut self) {
        // Dropping the pool tells its threads to end; then wait for them.
        self.pool = None;
        let handles = self
            .threads
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        for h in handles {
            let _ = h.join();
        }
    }
}

/// The streaming loader. See the module docs for the threading design.
///
/// ```no_run
/// use gpu_augment::{Backend, Dataset, Loader, LoaderOptions, Pipeline};
/// # fn main() -> gpu_augment::Result<()> {
/// let pipeline = Pipeline::from_file("examples/pipelines/imagenet_train.toml")?;
/// let opts = LoaderOptions { batch_size: 64, shuffle: true, seed: 7, ..Default::default() };
/// let loader = Loader::new(Dataset::image_folder("data/train")?, pipeline, opts)?;
/// for epoch in 0..3 {
///     for b in loader.epoch(epoch)? {
///         let b = b?;
///         let _ = (&b.batch.data, &b.batch.labels, &b.items);
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct Loader {
    dataset: Arc<Dataset>,
    opts: LoaderOptions,
    engines: Vec<Arc<Augmenter>>,
    gpu: bool,
    num_classes: usize,
    counters: Arc<Counters>,
    /// Where each batch's overrides come from (see `set_overrides`).
    overrides: Mutex<Option<Arc<OverridesFn>>>,
    // Last field: dropped after everything that may still use it.
    cpu_pool: Option<Arc<OwnedPool>>,
}

/// A loader's source of per-sample overrides: called once per batch, from
/// an augment worker, with the epoch and the batch's dataset indices (files
/// that failed to decode left out), it returns the batch's overrides (arrays
/// of that length; `Overrides::select` picks them from a per-epoch table).
/// Batches are augmented up to `prefetch` batches ahead of the consumer, so
/// a callback that reads the training state sees it as it was then.
pub type OverridesFn = dyn Fn(u64, &[usize]) -> Result<crate::Overrides> + Send + Sync;

impl Loader {
    /// A loader over `dataset` running `pipeline` as `opts` say (opening the
    /// GPU devices when the backend needs them).
    pub fn new(dataset: Dataset, pipeline: Pipeline, opts: LoaderOptions) -> Result<Self> {
        let gpus = match opts.backend {
            Backend::Cpu => Vec::new(),
            Backend::Gpu => open_devices(opts.devices)?,
            Backend::Auto => match open_devices(opts.devices) {
                Ok(g) => g,
                Err(Error::NoAdapter | Error::Gpu(_)) => Vec::new(),
                Err(e) => return Err(e),
            },
        };
        Self::build(dataset, pipeline, opts, gpus)
    }

    /// A loader on GPU devices already open (several: batches spread over
    /// them). `opts.backend` and `opts.devices` are not consulted.
    pub fn with_gpus(
        dataset: Dataset,
        pipeline: Pipeline,
        opts: LoaderOptions,
        gpus: Vec<Arc<GpuContext>>,
    ) -> Result<Self> {
        if gpus.is_empty() {
            return Err(Error::InvalidArgument(
                "Loader::with_gpus needs at least one device".into(),
            ));
        }
        Self::build(dataset, pipeline, opts, gpus)
    }

    fn build(
        dataset: Dataset,
        pipeline: Pipeline,
        opts: LoaderOptions,
        gpus: Vec<Arc<GpuContext>>,
    ) -> Result<Self> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if opts.batch_size == 0 {
            return bad("loader: batch_size must be at least 1".into());
        }
        if opts.world_size == 0 || opts.rank >= opts.world_size {
            return bad(format!(
                "loader: rank {} is not in [0, world_size = {})",
                opts.rank, opts.world_size
            ));
        }
        if opts.prefetch == 0 || opts.decode_threads == 0 || opts.streams_per_device == 0 {
            return bad(
                "loader: prefetch, decode_threads and streams_per_device must be at least 1".into(),
            );
        }
        if opts.devices == 0 {
            return bad("loader: devices must be at least 1".into());
        }
        let num_classes = match (&pipeline.mix, dataset.has_labels()) {
            (Some(m), false) => {
                return bad(format!(
                    "op `{}` mixes labels, but the dataset has none",
                    m.name()
                ))
            }
            (Some(m), true) if dataset.num_classes() > m.num_classes => {
                return bad(format!(
                    "the dataset has {} classes but op `{}` has num_classes = {}",
                    dataset.num_classes(),
                    m.name(),
                    m.num_classes
                ))
            }
            (Some(m), true) => m.num_classes,
            (None, _) => dataset.num_classes(),
        };
        let gpu = !gpus.is_empty();
        // Start rayon's global pool from the caller's thread: started from a
        // worker, its threads would inherit (on Linux) the worker's name.
        let _ = rayon::current_num_threads();
        let engines = if gpu {
            gpus.into_iter()
                .map(|g| {
                    let a = Augmenter::with_gpu(pipeline.clone(), g)?;
                    // A dataset with targets: its label-map kernel too.
                    if dataset.targets.is_some() {
                        a.precompile(true)?;
                    }
                    Ok(Arc::new(a))
                })
                .collect::<Result<_>>()?
        } else {
            vec![Arc::new(Augmenter::new(pipeline, Backend::Cpu)?)]
        };
        let cpu_pool = match (gpu, opts.augment_threads) {
            (false, Some(n)) => Some(Arc::new(OwnedPool::new(n)?)),
            _ => None,
        };
        Ok(Self {
            dataset: Arc::new(dataset),
            opts,
            engines,
            gpu,
            num_classes,
            counters: Arc::default(),
            overrides: Mutex::new(None),
            cpu_pool,
        })
    }

    /// Sets (or, with `None`, removes) the source of every later epoch's
    /// per-sample overrides (an epoch already started keeps the one it
    /// started with). Each batch's records hold the overrides it got.
    pub fn set_overrides(&self, source: Option<Arc<OverridesFn>>) {
        if let Ok(mut o) = self.overrides.lock() {
            *o = source;
        }
    }

    /// The source of overrides epochs start with.
    pub(crate) fn overrides_source(&self) -> Option<Arc<OverridesFn>> {
        self.overrides.lock().ok().and_then(|o| o.clone())
    }

    /// The engine whose planning gives the decode threads each item's read
    /// box (`Augmenter::read_box`), when region decode may apply to an epoch
    /// with `overrides`: it is on, and neither EXIF orientation, targets
    /// (boxes, masks, keypoints need the whole image) nor overrides (they
    /// steer the draws, so the box, per batch) are in play.
    pub(crate) fn region_source(&self, overrides: bool) -> Option<Arc<Augmenter>> {
        let o = &self.opts;
        (o.region_decode && !o.exif_orientation && !overrides && self.dataset.targets.is_none())
            .then(|| self.engines[0].clone())
    }

    /// Reads and decodes item `item` as the decode threads of `epoch` do
    /// (region decode where it applies) and returns the decoded image's
    /// size (a part of the source after a region decode): what
    /// `gpu-augment bench --end-to-end` times as "decode alone".
    #[doc(hidden)]
    pub fn decode_item(&self, epoch: u64, item: usize) -> Result<(u32, u32)> {
        let path = self.dataset.path(item).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "item {item} of a dataset of {}",
                self.dataset.len()
            ))
        })?;
        let region = self.region_source(self.overrides_source().is_some());
        let (img, _) = workers::decode_item(
            region.as_deref(),
            self.opts.seed,
            epoch,
            self.opts.exif_orientation,
            path,
            item,
        )?;
        Ok(img.dimensions())
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// The options.
    pub fn options(&self) -> &LoaderOptions {
        &self.opts
    }

    /// Whether the loader's device keeps its buffers in this process's own
    /// memory (a CPU adapter such as lavapipe), so that they count against
    /// the host's memory and address-space limits.
    pub fn device_memory_is_host(&self) -> bool {
        self.gpu && self.engines.iter().any(|e| e.device_memory_is_host())
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        self.engines[0].pipeline()
    }

    /// Hands a consumed batch's tensor back: a later batch of the same size
    /// is written into it instead of a fresh allocation
    /// ([`Augmenter::recycle`]).
    pub fn recycle(&self, batch: LoaderBatch) {
        let e = &self.engines[batch.index % self.engines.len()];
        e.recycle(batch.batch);
    }

    /// [`Loader::recycle`] for a batch's tensor alone, once the consumer no
    /// longer reads it (nothing may read it after: a later batch is written
    /// into it). With several engines it goes to batch `index`'s.
    pub fn recycle_tensor(&self, index: usize, tensor: crate::Tensor) {
        self.engines[index % self.engines.len()].recycle_tensor(tensor);
    }

    /// The backend, e.g. "cpu (2 threads)" or "2 x gpu (llvmpipe ..., Vulkan)".
    pub fn backend_name(&self) -> String {
        let one = self.engines[0].backend_name();
        match (self.gpu, self.engines.len(), &self.cpu_pool) {
            (true, 1, _) => one,
            (true, n, _) => format!("{n} x {one}"),
            (false, _, Some(p)) => format!(
                "cpu ({} threads)",
                p.pool.as_ref().map_or(0, |p| p.current_num_threads())
            ),
            (false, _, None) => one,
        }
    }

    /// "gpu" or "cpu".
    pub fn backend_kind(&self) -> &'static str {
        if self.gpu {
            "gpu"
        } else {
            "cpu"
        }
    }

    /// This rank's items of `epoch`, in the order they are batched.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let o = self.opts.clone();
        let all = epoch_order(self.dataset.len(), o.seed, epoch, o.shuffle);
        shard(&all, o.rank, o.world_size, o.shard_tail)
    }

    /// This rank's batches of `epoch` (dataset indices), before decoding.
    pub fn plan(&self, epoch: u64) -> Vec<Vec<usize>> {
        batches(
            &self.order(epoch),
            self.opts.batch_size,
            self.opts.drop_last,
        )
    }

    /// Batches per epoch on this rank (the same on every rank).
    pub fn batches_per_epoch(&self) -> usize {
        self.plan(0).len()
    }

    /// The batches of `epoch`, in order.
    pub fn epoch(&self, epoch: u64) -> Result<Epoch<'_>> {
        self.epoch_where(epoch, |_, _| true)
    }

    /// The batches of `epoch` from batch `batch` on: identical, byte for
    /// byte, to the same batches of an uninterrupted `epoch(epoch)`.
    pub fn resume(&self, epoch: u64, batch: usize) -> Result<Epoch<'_>> {
        self.epoch_where(epoch, |b, _| b >= batch)
    }

    /// The batches of `epoch` for which `keep(batch index, dataset indices)`
    /// holds (others are neither decoded nor augmented); each kept batch is
    /// identical to the same batch of `epoch(epoch)`.
    pub fn epoch_where(
        &self,
        epoch: u64,
        keep: impl FnMut(usize, &[usize]) -> bool,
    ) -> Result<Epoch<'_>> {
        let plan = self.kept_plan(epoch, keep);
        Epoch::start(self, None, epoch, plan)
    }

    /// `epoch` for a shared loader: the epoch holds the `Arc`, so it borrows
    /// nothing (`Epoch<'static>`) and can live in another thread or a
    /// language binding; the loader lives until its last epoch ends.
    pub fn epoch_owned(self: &Arc<Self>, epoch: u64) -> Result<Epoch<'static>> {
        self.epoch_where_owned(epoch, |_, _| true)
    }

    /// `resume` for a shared loader (see `epoch_owned`).
    pub fn resume_owned(self: &Arc<Self>, epoch: u64, batch: usize) -> Result<Epoch<'static>> {
        self.epoch_where_owned(epoch, |b, _| b >= batch)
    }

    /// `epoch_where` for a shared loader (see `epoch_owned`).
    pub fn epoch_where_owned(
        self: &Arc<Self>,
        epoch: u64,
        keep: impl FnMut(usize, &[usize]) -> bool,
    ) -> Result<Epoch<'static>> {
        let plan = self.kept_plan(epoch, keep);
        Epoch::start(self, Some(self.clone()), epoch, plan)
    }

    fn kept_plan(
        &self,
        epoch: u64,
        mut keep: impl FnMut(usize, &[usize]) -> bool,
    ) -> Vec<(usize, Vec<usize>)> {
        self.plan(epoch)
            .into_iter()
            .enumerate()
            .filter(|(b, items)| keep(*b, items))
            .collect()
    }

    /// Files skipped so far (unreadable or corrupt).
    pub fn skipped(&self) -> u64 {
        self.counters.skipped.load(Ordering::Relaxed)
    }

    /// Every file skipped so far, with the reason.
    pub fn skipped_files(&self) -> Vec<(PathBuf, String)> {
        self.counters
            .skipped_files
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Cumulative counters (busy time of each stage and more).
    pub fn stats(&self) -> LoaderStats {
        let c = &self.counters;
        let s = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 * 1e-9;
        LoaderStats {
            decoded: c.decoded.load(Ordering::Relaxed),
            region_decoded: c.region_decoded.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            decode_busy_s: s(&c.decode_ns),
            augment_busy_s: s(&c.augment_ns),
            consumer_wait_s: s(&c.wait_ns),
            gpu_pack_s: s(&c.gpu_pack_ns),
            gpu_device_s: s(&c.gpu_device_ns),
            gpu_readback_s: s(&c.gpu_readback_ns),
            decode_threads: self.opts.decode_threads,
            augment_workers: self.workers(),
        }
    }

    fn workers(&self) -> usize {
        if self.gpu {
            self.engines.len() * self.opts.streams_per_device
        } else {
            1
        }
    }
}

fn open_devices(n: usize) -> Result<Vec<Arc<GpuContext>>> {
    if n <= 1 {
        return Ok(vec![Arc::new(GpuContext::new()?)]);
    }
    Ok(GpuContext::open_many(n)?
        .into_iter()
        .map(Arc::new)
        .collect())
}

pub use workers::Epoch;
