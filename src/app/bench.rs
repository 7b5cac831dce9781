//! `gpu-augment bench`: decode once, then time augmentation alone.

use gpu_augment::{Augmenter, BatchKey, Error, Request, Result, RgbImage, Tensor};

/// One benchmark's figures.
#[derive(Clone, Debug)]
pub struct BenchResult {
    /// Images per pass.
    pub images: usize,
    /// Median seconds per pass.
    pub median: f64,
    /// Images per second at the median.
    pub images_per_sec: f64,
    /// Dispatches per batch on the GPU (None on the CPU).
    pub dispatches_per_batch: Option<u32>,
    /// GPU backend: what the timed passes cost per image and per batch.
    pub gpu: Option<GpuPerImage>,
    /// Seconds of the very first batch (the warm-up pass's first), the
    /// latency a fresh augmenter's first batch sees (None where not timed).
    pub first_batch: Option<f64>,
}

/// The GPU path's cost, from the timed passes of `bench --backend gpu`
/// (`Augmenter`'s `BatchStats`, summed).
#[derive(Clone, Copy, Debug, Default)]
pub struct GpuPerImage {
    /// Host nanoseconds per image outside waiting for the device: packing,
    /// uploading, encoding, copying results out, the output tensor.
    pub host_ns: f64,
    /// Bytes uploaded per image.
    pub up_bytes: f64,
    /// Bytes of results read back into the tensor per image (u8 outputs
    /// leave the device as RGBA words today: 4/3 of this).
    pub down_bytes: f64,
    /// Dispatches per batch.
    pub dispatches_per_batch: f64,
    /// Buffer and tensor allocations per batch (the last timed pass, the
    /// steady state).
    pub allocations_per_batch: f64,
}

impl std::fmt::Display for GpuPerImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gpu per image: host_ns={:.0} up_bytes={:.0} down_bytes={:.0} dispatches_per_batch={:.1} allocations_per_batch={:.1}",
            self.host_ns,
            self.up_bytes,
            self.down_bytes,
            self.dispatches_per_batch,
            self.allocations_per_batch
        )
    }
}

/// `images` used `times` times over (`bench --replicate`), refused with a
/// clear error (never an abort) when the copies would not fit in memory.
pub fn replicate(images: Vec<RgbImage>, times: usize) -> Result<Vec<RgbImage>> {
    let times = super::run::check_count("--replicate", times)?;
    let one: u64 = images.iter().map(|i| i.as_raw().len() as u64 + 64).sum();
    let need = one.saturating_mul(times as u64);
    let what = || {
        format!(
            "--replicate {times}: {} copies of the {} decoded images",
            times,
            images.len()
        )
    };
    if super::run::host_memory_budget(rayon::current_num_threads() + 1)
        .is_some_and(|b| need > b / 2)
    {
        return Err(Error::OutOfMemory {
            what: what(),
            bytes: need,
        });
    }
    let n = images.len().saturating_mul(times);
    let mut out = Vec::new();
    out.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        what: what(),
        bytes: need,
    })?;
    for _ in 1..times {
        out.extend(images.iter().cloned());
    }
    out.extend(images);
    Ok(out)
}

/// `paths` used `times` times over, refused when the list would not fit.
fn replicate_paths(paths: &[std::path::PathBuf], times: usize) -> Result<Vec<std::path::PathBuf>> {
    let times = super::run::check_count("--replicate", times)?;
    let one: u64 = paths.iter().map(|p| p.as_os_str().len() as u64 + 32).sum();
    let need = one.saturating_mul(times as u64);
    let err = || Error::OutOfMemory {
        what: format!("--replicate {times}: {times} copies of the file list"),
        bytes: need,
    };
    if super::run::host_memory_budget(rayon::current_num_threads() + 1)
        .is_some_and(|b| need > b / 2)
    {
        return Err(err());
    }
    let mut out = Vec::new();
    out.try_reserve_exact(paths.len().saturating_mul(times))
        .map_err(|_| err())?;
    for _ in 0..times {
        out.extend(paths.iter().cloned());
    }
    Ok(out)
}

/// Runs `repeats` timed passes (after one warm-up) over `images` in batches of
/// `batch_size`; every pass draws new parameters (a new epoch).
pub fn bench(
    aug: &Augmenter,
    images: &[RgbImage],
    batch_size: usize,
    repeats: usize,
) -> Result<BenchResult> {
    bench_targets(aug, images, &[], batch_size, repeats)
}

/// `bench` with `masks` u8 label maps per image (synthetic, of its size)
/// gathered with every batch: what masks add (`bench --masks N`).
pub fn bench_masks(
    aug: &Augmenter,
    images: &[RgbImage],
    masks: usize,
    batch_size: usize,
    repeats: usize,
) -> Result<BenchResult> {
    let targets: Vec<gpu_augment::Targets> = images
        .iter()
        .map(|im| gpu_augment::Targets {
            masks: (0..masks)
                .map(|k| {
                    let (w, h) = (im.width(), im.height());
                    let v = (0..h)
                        .flat_map(|y| {
                            (0..w).map(move |x| ((x / 16 + y / 16 + k as u32) % 21) as u8)
                        })
                        .collect();
                    gpu_augment::Mask::u8(w, h, v)
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    bench_targets(aug, images, &targets, batch_size, repeats)
}

/// `bench` with one `Targets` per image (none when `targets` is empty).
fn bench_targets(
    aug: &Augmenter,
    images: &[RgbImage],
    targets: &[gpu_augment::Targets],
    batch_size: usize,
    repeats: usize,
) -> Result<BenchResult> {
    let bs = batch_size.max(1);
    let mut dispatches = None;
    // Over the timed passes: wall and device-wait ns, bytes, dispatches,
    // batches; allocations of the last pass.
    let (mut wall_ns, mut wait_ns, mut up, mut down) = (0u64, 0u64, 0u64, 0u64);
    let (mut disp, mut batches, mut allocs) = (0u64, 0u64, 0u64);
    let mut gpu = false;
    let mut first_batch = None;
    let mut pass = |epoch: u64, timed: bool| -> Result<f64> {
        let t = std::time::Instant::now();
        let mut pass_allocs = 0u64;
        for (i, chunk) in images.chunks(bs).enumerate() {
            let tb = std::time::Instant::now();
            let mut req = Request::new(chunk).key(BatchKey::new(0, epoch, (i * bs) as u64));
            if !targets.is_empty() {
                req = req.targets(&targets[i * bs..i * bs + chunk.len()]);
            }
            let b = aug.augment(req)?;
            if first_batch.is_none() {
                first_batch = Some(tb.elapsed().as_secs_f64());
            }
            std::hint::black_box(&b.targets);
            dispatches = b.gpu_stats.map(|s| s.dispatches / s.chunks.max(1));
            if let (Some(s), true) = (b.gpu_stats, timed) {
                gpu = true;
                wait_ns += s.device_ns;
                up += s.bytes_up;
                down += s.bytes_down;
                disp += s.dispatches as u64;
                batches += 1;
                pass_allocs += s.allocations as u64;
            }
            std::hint::black_box(&b.data);
            // As a training loop that is done with the batch once consumed:
            // its tensor goes back to the pool for the next batch.
            aug.recycle(b);
        }
        let e = t.elapsed();
        if timed {
            wall_ns += e.as_nanos() as u64;
            allocs = pass_allocs;
        }
        Ok(e.as_secs_f64())
    };
    pass(0, false)?;
    let mut seconds = Vec::new();
    for r in 0..repeats.max(1) {
        seconds.push(pass(r as u64 + 1, true)?);
    }
    let mut r = summarise(images.len(), seconds, dispatches);
    r.first_batch = first_batch;
    if gpu {
        let passes = repeats.max(1) as f64;
        let n = images.len().max(1) as f64 * passes;
        let per_pass_batches = (batches as f64 / passes).max(1.0);
        r.gpu = Some(GpuPerImage {
            host_ns: wall_ns.saturating_sub(wait_ns) as f64 / n,
            up_bytes: up as f64 / n,
            down_bytes: down as f64 / n,
            dispatches_per_batch: disp as f64 / batches.max(1) as f64,
            allocations_per_batch: allocs as f64 / per_pass_batches,
        });
    }
    Ok(r)
}

/// Times the mixing step alone, as the CPU backend runs it: every batch is
/// augmented once beforehand (without mixing); each timed pass then draws
/// every batch's mixing records (partners, lambdas, boxes; a new epoch per
/// pass) and runs the CPU mixing pass as the CPU backend does
/// (`Augmenter::mix_batch`, in place) on a copy of the batch made once (so later
/// passes mix already mixed values: the same work). An error when the
/// pipeline has no mixing op.
pub fn bench_mixing(
    aug: &Augmenter,
    images: &[RgbImage],
    batch_size: usize,
    repeats: usize,
) -> Result<BenchResult> {
    let p = aug.pipeline();
    let Some(mix) = &p.mix else {
        return Err(gpu_augment::Error::InvalidArgument(
            "the pipeline has no mixing op to time".into(),
        ));
    };
    let mut plain = p.clone();
    plain.mix = None;
    let pre = Augmenter::new(plain, gpu_augment::Backend::Cpu)?;
    let bs = batch_size.max(1);
    let mut batches = Vec::new();
    for (i, chunk) in images.chunks(bs).enumerate() {
        let first = (i * bs) as u64;
        let b = pre.augment(Request::new(chunk).key(BatchKey::new(0, 0, first)))?;
        let indices: Vec<u64> = (first..first + chunk.len() as u64).collect();
        batches.push((indices, b.data));
    }
    let mut outs: Vec<Tensor> = batches.iter().map(|b| b.1.clone()).collect();
    let size = p.size;
    let mut pass = |epoch: u64| -> Result<f64> {
        let t = std::time::Instant::now();
        for ((indices, _), out) in batches.iter().zip(outs.iter_mut()) {
            let ids: Vec<(u64, u32)> = indices
                .iter()
                .flat_map(|&i| (0..p.views).map(move |v| (i, v)))
                .collect();
            let records = mix.draw(0, epoch, p.ops.len() as u32, &ids, size);
            aug.mix_batch(out, &records)?;
            std::hint::black_box(&*out);
        }
        Ok(t.elapsed().as_secs_f64())
    };
    pass(0)?;
    let seconds: Vec<f64> = (0..repeats.max(1))
        .map(|r| pass(r as u64 + 1))
        .collect::<Result<_>>()?;
    Ok(summarise(images.len(), seconds, None))
}

/// The median pass of `seconds` over `images` images.
fn summarise(images: usize, seconds: Vec<f64>, dispatches: Option<u32>) -> BenchResult {
    let mut sorted = seconds;
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    BenchResult {
        images,
        median,
        images_per_sec: images as f64 / median.max(1e-12),
        dispatches_per_batch: dispatches,
        gpu: None,
        first_batch: None,
    }
}

/// What `bench --end-to-end` measures: the loader over a folder (decode,
/// augment, readback overlapped) beside each stage alone.
#[derive(Clone, Debug)]
pub struct EndToEnd {
    /// The loader's backend.
    pub backend: String,
    /// Images per epoch (files that decoded).
    pub images: usize,
    /// Seconds of each timed epoch.
    pub seconds: Vec<f64>,
    /// Images per second end to end, at the median epoch.
    pub images_per_sec: f64,
    /// Images per second decoding alone (the same decode threads, nothing
    /// else running), as the loader decodes: over the region its samples
    /// read where region decode applies.
    pub decode_alone_per_sec: f64,
    /// Images per second augmenting alone (images decoded beforehand), as `bench`.
    pub augment_alone_per_sec: f64,
    /// At the median epoch: the fraction of the wall time the decode threads
    /// were busy (busy seconds / (wall * threads)).
    pub decode_busy: f64,
    /// At the median epoch: the fraction of the wall time the augment
    /// workers were busy (pack, upload, compute, readback).
    pub augment_busy: f64,
    /// At the median epoch: the fraction of the wall time the consumer
    /// waited for the next batch.
    pub consumer_wait: f64,
    /// GPU backend, at the median epoch: the augment workers' busy fractions
    /// split into [pack and upload, waiting for the device, readback copy]
    /// (each: seconds / (wall * workers)).
    pub gpu_split: Option<[f64; 3]>,
}

/// Runs the loader over `input` for one warm-up epoch and `repeats` timed
/// epochs (each a new epoch: new parameters), with `threads` decode threads
/// (and, on the CPU, an augment pool of `threads`); then times decoding alone
/// (the loader's decode step, region decode included) and augmentation alone
/// on the same images with the same threads.
pub fn bench_end_to_end(
    pipeline: gpu_augment::Pipeline,
    input: &std::path::Path,
    opts: gpu_augment::LoaderOptions,
    replicate: usize,
    repeats: usize,
) -> Result<EndToEnd> {
    use gpu_augment::{Dataset, Loader};
    let files = gpu_augment::loader::find_images(input)?;
    if files.is_empty() {
        return Err(super::files::no_images(input));
    }
    let base: Vec<std::path::PathBuf> = files.into_iter().map(|(p, _)| p).collect();
    let paths = replicate_paths(&base, replicate)?;
    let threads = opts.decode_threads;
    let batch_size = opts.batch_size;
    let loader = Loader::new(Dataset::from_paths(paths.clone()), pipeline.clone(), opts)?;
    let run_epoch = |epoch: u64| -> Result<(f64, gpu_augment::LoaderStats, usize)> {
        let before = loader.stats();
        let t = std::time::Instant::now();
        let mut n = 0;
        for b in loader.epoch(epoch)? {
            let b = b?;
            n += b.items.len();
            std::hint::black_box(&b.batch.data);
            loader.recycle(b);
        }
        let wall = t.elapsed().as_secs_f64();
        let after = loader.stats();
        let delta = gpu_augment::LoaderStats {
            decode_busy_s: after.decode_busy_s - before.decode_busy_s,
            augment_busy_s: after.augment_busy_s - before.augment_busy_s,
            consumer_wait_s: after.consumer_wait_s - before.consumer_wait_s,
            gpu_pack_s: after.gpu_pack_s - before.gpu_pack_s,
            gpu_device_s: after.gpu_device_s - before.gpu_device_s,
            gpu_readback_s: after.gpu_readback_s - before.gpu_readback_s,
            ..after
        };
        Ok((wall, delta, n))
    };
    run_epoch(0)?;
    let mut epochs = Vec::new();
    for r in 0..repeats.max(1) {
        epochs.push(run_epoch(r as u64 + 1)?);
    }
    let seconds: Vec<f64> = epochs.iter().map(|e| e.0).collect();
    let mut order: Vec<usize> = (0..epochs.len()).collect();
    order.sort_by(|&a, &b| seconds[a].total_cmp(&seconds[b]));
    let (wall, st, images) = epochs[order[order.len() / 2]].clone();
    let wall = wall.max(1e-12);

    // Decoding alone, on as many threads.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| gpu_augment::Error::Loader(format!("cannot start a thread pool: {e}")))?;
    // The loader's own decode step (a region decode where it applies), keyed
    // as the first timed epoch.
    let t = std::time::Instant::now();
    let ok: usize = pool.install(|| {
        use rayon::prelude::*;
        (0..paths.len())
            .into_par_iter()
            .filter(|&i| loader.decode_item(1, i).is_ok())
            .count()
    });
    let decode_alone = ok as f64 / t.elapsed().as_secs_f64().max(1e-12);
    // Whole images for augmenting alone (not timed).
    let decoded: Vec<RgbImage> = pool.install(|| {
        use rayon::prelude::*;
        paths
            .par_iter()
            .filter_map(|p| gpu_augment::load_image(p).ok())
            .collect()
    });
    // Augmentation alone, on the loader's backend and as many threads.
    let backend = match loader.backend_kind() {
        "gpu" => gpu_augment::Backend::Gpu,
        _ => gpu_augment::Backend::Cpu,
    };
    let aug = Augmenter::new(pipeline, backend)?;
    let alone = pool.install(|| bench(&aug, &decoded, batch_size, repeats))?;
    Ok(EndToEnd {
        backend: loader.backend_name(),
        images,
        images_per_sec: images as f64 / wall,
        seconds,
        decode_alone_per_sec: decode_alone,
        augment_alone_per_sec: alone.images_per_sec,
        decode_busy: st.decode_busy_s / (wall * st.decode_threads.max(1) as f64),
        augment_busy: st.augment_busy_s / (wall * st.augment_workers.max(1) as f64),
        consumer_wait: st.consumer_wait_s / wall,
        gpu_split: (loader.backend_kind() == "gpu").then(|| {
            let w = wall * st.augment_workers.max(1) as f64;
            [
                st.gpu_pack_s / w,
                st.gpu_device_s / w,
                st.gpu_readback_s / w,
            ]
        }),
    })
}

/// A `[[views]]` file's figures (`bench` with named views).
#[derive(Clone, Debug)]
pub struct ViewsBenchResult {
    /// Source images per pass.
    pub images: usize,
    /// Output samples per source image (over every view).
    pub outputs_per_image: usize,
    /// Median seconds per pass.
    pub median: f64,
    /// Source images per second at the median (each through every view).
    pub images_per_sec: f64,
    /// GPU: plans, dispatches and submits per batch over every view, and
    /// bytes uploaded per source image (the last timed pass); None on the CPU.
    pub gpu_per_batch: Option<ViewsGpuCounts>,
}

/// A `[[views]]` file's GPU counters (`bench` with named views): each plan
/// counted once, however many views share it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewsGpuCounts {
    /// Plans (dispatch sequences) per batch.
    pub plans: f64,
    /// Compute dispatches per batch.
    pub dispatches: f64,
    /// Queue submits per batch.
    pub submits: f64,
    /// Bytes uploaded per source image (sources, sample tables, globals).
    pub up_bytes_per_image: f64,
}

/// Runs `repeats` timed passes (after one warm-up) of every named view over
/// `images` in batches of `batch_size`; each pass a new epoch.
pub fn bench_views(
    aug: &gpu_augment::ViewAugmenter,
    images: &[RgbImage],
    batch_size: usize,
    repeats: usize,
) -> Result<ViewsBenchResult> {
    let batch_size = super::run::check_count("--batch-size", batch_size)?;
    let repeats = super::run::check_count("--repeats", repeats)?;
    let mut times = Vec::with_capacity(repeats);
    let mut gpu = None;
    for pass in 0..=repeats {
        let start = std::time::Instant::now();
        let (mut dispatches, mut submits, mut batches) = (0u64, 0u64, 0u64);
        let (mut plans, mut up) = (0u64, 0u64);
        for (b, chunk) in images.chunks(batch_size).enumerate() {
            let key = BatchKey::new(0, pass as u64, (b * batch_size) as u64);
            let out = aug.augment(Request::new(chunk).key(key))?;
            // The views of one plan carry its stats each: counted once.
            let mut seen = std::collections::HashSet::new();
            for v in &out {
                if let (Some(s), true) = (&v.batch.gpu_stats, seen.insert(v.plan)) {
                    plans += 1;
                    dispatches += s.dispatches as u64;
                    submits += s.submits as u64;
                    up += s.bytes_up;
                }
            }
            batches += 1;
            aug.recycle(out);
        }
        if pass > 0 {
            times.push(start.elapsed().as_secs_f64());
            if aug.backend_kind() == "gpu" {
                let b = batches.max(1) as f64;
                gpu = Some(ViewsGpuCounts {
                    plans: plans as f64 / b,
                    dispatches: dispatches as f64 / b,
                    submits: submits as f64 / b,
                    up_bytes_per_image: up as f64 / images.len().max(1) as f64,
                });
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    Ok(ViewsBenchResult {
        images: images.len(),
        outputs_per_image: aug.views().outputs_per_image(),
        median,
        images_per_sec: images.len() as f64 / median.max(1e-12),
        gpu_per_batch: gpu,
    })
}
