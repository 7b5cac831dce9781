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
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    Ok(BenchResult {
        images: images.len(),
        seconds,
        median,
        images_per_sec: images.len() as f64 / median.max(1e-12),
        dispatches_per_batch: dispatches,
    })
}
