//! `gpu-augment bench`: decode once, then time augmentation alone.

use crate::engine::Augmenter;
use crate::error::Result;
use crate::key::BatchKey;
use crate::RgbImage;

/// One benchmark's figures.
#[derive(Clone, Debug)]
pub struct BenchResult {
    /// Images per pass.
    pub images: usize,
    /// Seconds of each timed pass.
    pub seconds: Vec<f64>,
    /// Median seconds per pass.
    pub median: f64,
    /// Images per second at the median.
    pub images_per_sec: f64,
    /// Dispatches per batch on the GPU (None on the CPU).
    pub dispatches_per_batch: Option<u32>,
}

/// Runs `repeats` timed passes (after one warm-up) over `images` in batches of
/// `batch_size`; every pass draws new parameters (a new epoch).
pub fn bench(
    aug: &Augmenter,
    images: &[RgbImage],
    batch_size: usize,
    repeats: usize,
) -> Result<BenchResult> {
    let bs = batch_size.max(1);
    let mut dispatches = None;
    let mut pass = |epoch: u64| -> Result<f64> {
        let t = std::time::Instant::now();
        for (i, chunk) in images.chunks(bs).enumerate() {
            let b = aug.augment(chunk, BatchKey::new(0, epoch, (i * bs) as u64))?;
            dispatches = b.gpu_stats.map(|s| s.dispatches / s.chunks.max(1));
            std::hint::black_box(&b.data);
        }
        Ok(t.elapsed().as_secs_f64())
    };
    pass(0)?;
    let mut seconds = Vec::new();
    for r in 0..repeats.max(1) {
        seconds.push(pass(r as u64 + 1)?);
    }
    Ok(summarise(images.len(), seconds, dispatches))
}

/// Times the mixing step alone, as the CPU backend runs it: every batch is
/// augmented once beforehand (without mixing); each timed pass then draws
/// every batch's mixing records (partners, lambdas, boxes; a new epoch per
/// pass) and runs the CPU mixing pass as the CPU backend does (in place,
/// `cpu::mix::run_mix_in_place`) on a copy of the batch made once (so later
/// passes mix already mixed values: the same work). An error when the
/// pipeline has no mixing op.
pub fn bench_mixing(
    aug: &Augmenter,
    images: &[RgbImage],
    batch_size: usize,
    repeats: usize,
) -> Result<BenchResult> {
    use crate::mix::{plan_mix, GpuMixGlobals};
    use crate::{Tensor, TensorMut};
    let p = aug.pipeline();
    let Some(mix) = &p.mix else {
        return Err(crate::Error::InvalidArgument(
            "the pipeline has no mixing op to time".into(),
        ));
    };
    let mut plain = p.clone();
    plain.mix = None;
    let pre = Augmenter::new(plain, crate::Backend::Cpu)?;
    let bs = batch_size.max(1);
    let mut batches = Vec::new();
    for (i, chunk) in images.chunks(bs).enumerate() {
        let first = (i * bs) as u64;
        let b = pre.augment(chunk, BatchKey::new(0, 0, first))?;
        let indices: Vec<u64> = (first..first + chunk.len() as u64).collect();
        batches.push((indices, b.shape[0] as u32, b.data));
    }
    let mut outs: Vec<Tensor> = batches.iter().map(|b| b.2.clone()).collect();
    let size = p.size;
    let format = match p.format {
        crate::OutputFormat::U8Hwc => 0,
        crate::OutputFormat::F32Chw => 1,
    };
    let mut pass = |epoch: u64| -> f64 {
        let t = std::time::Instant::now();
        for ((indices, n, data), out) in batches.iter().zip(outs.iter_mut()) {
            let ids: Vec<(u64, u32)> = indices
                .iter()
                .flat_map(|&i| (0..p.views).map(move |v| (i, v)))
                .collect();
            let records = mix.draw(0, epoch, p.ops.len() as u32, &ids, size);
            let gm = plan_mix(&records, size);
            let mg = GpuMixGlobals {
                out: [size.width, size.height, *n, format],
            };
            let o = match out {
                Tensor::U8(v) => TensorMut::U8(v),
                Tensor::F32(v) => TensorMut::F32(v),
            };
            if !crate::cpu::mix::run_mix_in_place(&mg, &gm, o) {
                let o = match out {
                    Tensor::U8(v) => TensorMut::U8(v),
                    Tensor::F32(v) => TensorMut::F32(v),
                };
                crate::cpu::mix::run_mix(&mg, &gm, data, o);
            }
            std::hint::black_box(&*out);
        }
        t.elapsed().as_secs_f64()
    };
    pass(0);
    let seconds: Vec<f64> = (0..repeats.max(1)).map(|r| pass(r as u64 + 1)).collect();
    Ok(summarise(images.len(), seconds, None))
}

/// The median pass of `seconds` over `images` images.
fn summarise(images: usize, seconds: Vec<f64>, dispatches: Option<u32>) -> BenchResult {
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    BenchResult {
        images,
        seconds,
        median,
        images_per_sec: images as f64 / median.max(1e-12),
        dispatches_per_batch: dispatches,
    }
}
