//! A training-loop-shaped use of the library: a dataset of images of mixed
//! sizes, a pipeline file, and a loop over epochs and batches that hands
//! tensors to (here) a stand-in training step.
//!
//! cargo run --release --example epochs [-- PIPELINE.toml]

use anyhow::Result;
use gpu_augment::{synthetic_image, Augmenter, Backend, BatchKey, Pipeline, Request, Tensor};

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/pipelines/imagenet_train.toml".into());
    let pipeline = Pipeline::from_file(&path)?;
    let aug = Augmenter::new(pipeline, Backend::Auto)?;
    println!("backend: {}", aug.backend_name());

    // The "dataset": 256 images of assorted sizes.
    let dataset: Vec<_> = (0..256u64)
        .map(|i| synthetic_image(i, 300 + (i % 5) as u32 * 60, 240 + (i % 3) as u32 * 80))
        .collect();
    let batch_size = 64;
    let seed = 2024;
    for epoch in 0..3 {
        let start = std::time::Instant::now();
        let mut checksum = 0.0f64;
        for (b, images) in dataset.chunks(batch_size).enumerate() {
            let key = BatchKey::new(seed, epoch, (b * batch_size) as u64);
            let batch = aug.augment(Request::new(images).key(key))?;
            // Stand-in for the training step: consume the tensor.
            checksum += match &batch.data {
                Tensor::F32(v) => v.iter().step_by(97).map(|&x| x as f64).sum::<f64>(),
                Tensor::U8(v) => v.iter().step_by(97).map(|&x| x as f64).sum::<f64>(),
                Tensor::F16(v) => v.iter().step_by(97).map(|&x| x.to_f64()).sum::<f64>(),
            };
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "epoch {epoch}: {} images in {secs:.2} s ({:.0} images/s), checksum {checksum:.3}",
            dataset.len(),
            dataset.len() as f64 / secs
        );
    }
    Ok(())
}
