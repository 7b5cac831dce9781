//! The training loop steers the augmentation (the MADAug / HARD pattern):
//! each sample's strength for the next epoch is its normalised loss from
//! this one, given per batch as `Overrides`; the curriculum pipeline's
//! schedules raise the magnitude with the epoch. Each record holds the
//! overrides and the scheduled values, so a replay renders the batch again.
//!
//! cargo run --release --example steer [-- PIPELINE.toml]

use anyhow::Result;
use gpu_augment::{synthetic_image, Augmenter, Backend, BatchKey, Overrides, Pipeline, Request};

/// A toy "model": one learned mean grey level per sample index; its loss on
/// an augmented sample is the squared error of the sample's mean grey level.
struct Toy {
    means: Vec<f64>,
}

impl Toy {
    fn loss_and_step(&mut self, index: usize, pixels: &[u8]) -> f64 {
        let mean = pixels.iter().map(|&x| x as f64).sum::<f64>() / pixels.len().max(1) as f64;
        let err = mean - self.means[index];
        self.means[index] += 0.5 * err;
        err * err
    }
}

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/pipelines/curriculum.toml".into());
    let aug = Augmenter::new(Pipeline::from_file(&path)?, Backend::Auto)?;
    println!("backend: {}", aug.backend_name());
    let n = 32usize;
    let dataset: Vec<_> = (0..n as u64)
        .map(|i| synthetic_image(i, 320 + (i % 3) as u32 * 40, 240))
        .collect();
    let mut toy = Toy {
        means: vec![128.0; n],
    };
    // Every sample starts at full strength.
    let mut strength = vec![1.0f64; n];
    let batch_size = 8;
    for epoch in [0u64, 30, 60, 90] {
        let mut losses = vec![0.0f64; n];
        for (b, images) in dataset.chunks(batch_size).enumerate() {
            let first = b * batch_size;
            let ov = Overrides::new().strength(strength[first..first + images.len()].to_vec());
            let key = BatchKey::new(7, epoch, first as u64);
            let batch = aug.augment(Request::new(images).key(key).overrides(&ov))?;
            for j in 0..images.len() {
                let px = batch.sample_u8(j).unwrap_or(&[]);
                losses[first + j] = toy.loss_and_step(first + j, px);
            }
            if b == 0 {
                println!(
                    "epoch {epoch}: record of sample 0: {}",
                    serde_json::to_string(&batch.records[0])?
                );
                // The record replays the sample exactly.
                let again = aug.augment(Request::new(images).replay(&batch.records))?;
                assert_eq!(again.data, batch.data);
            }
        }
        // HARD-style: the samples the model gets most wrong get the
        // strongest augmentation next epoch (normalised loss in [0, 1]).
        let max = losses.iter().cloned().fold(0.0, f64::max);
        for (s, l) in strength.iter_mut().zip(&losses) {
            *s = if max > 0.0 {
                (l / max).clamp(0.0, 1.0)
            } else {
                1.0
            };
        }
        let mean = strength.iter().sum::<f64>() / n as f64;
        println!("epoch {epoch}: mean strength for the next epoch {mean:.3}");
    }
    Ok(())
}
