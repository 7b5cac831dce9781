//! A training loop fed by the streaming loader: epochs of shuffled,
//! augmented, labelled batches, decoded and augmented while the "training
//! step" runs. Prints per-epoch throughput and the loader's stage times.
//!
//! cargo run --release --example training_loop [-- DIR [PIPELINE.toml]]
//!
//! DIR is an ImageFolder (DIR/class_name/image.jpg); without it, 3 classes of
//! synthetic 500x375 JPEGs are written to a temporary folder. Under torchrun
//! (or any launcher that sets RANK and WORLD_SIZE) each process takes its
//! shard. RESUME=EPOCH:BATCH starts there, as if the run had gone on.

use anyhow::{Context, Result};
use gpu_augment::{synthetic_image, Dataset, Loader, LoaderOptions, Pipeline, Tensor};
use std::path::PathBuf;

fn env_num(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name}={v:?}")),
        Err(_) => Ok(default),
    }
}

fn synthetic_folder() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join("gpu-augment-training-loop");
    for c in 0..3u64 {
        let class = dir.join(format!("class{c}"));
        std::fs::create_dir_all(&class)?;
        for i in 0..64u64 {
            let path = class.join(format!("{i:03}.jpg"));
            if !path.exists() {
                synthetic_image(c * 64 + i, 500, 375).save(&path)?;
            }
        }
    }
    Ok(dir)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = match args.next() {
        Some(d) => PathBuf::from(d),
        None => synthetic_folder()?,
    };
    let pipeline_path = args
        .next()
        .unwrap_or_else(|| "examples/pipelines/imagenet_train.toml".into());
    let pipeline = Pipeline::from_file(&pipeline_path)?;
    let opts = LoaderOptions {
        batch_size: 64,
        seed: 2024,
        shuffle: true,
        rank: env_num("RANK", 0)?,
        world_size: env_num("WORLD_SIZE", 1)?,
        ..Default::default()
    };
    let dataset = Dataset::image_folder(&dir)?;
    let classes = dataset.classes().to_vec();
    let loader = Loader::new(dataset, pipeline, opts)?;
    println!(
        "{} images in {} classes from {}; backend {}; {} batches per epoch on rank {}",
        loader.dataset().len(),
        classes.len(),
        dir.display(),
        loader.backend_name(),
        loader.batches_per_epoch(),
        loader.options().rank
    );
    let (first_epoch, first_batch) = match std::env::var("RESUME") {
        Ok(v) => {
            let (e, b) = v.split_once(':').context("RESUME=EPOCH:BATCH")?;
            (e.parse()?, b.parse()?)
        }
        Err(_) => (0u64, 0usize),
    };
    for epoch in first_epoch..3 {
        let start_batch = if epoch == first_epoch { first_batch } else { 0 };
        let before = loader.stats();
        let start = std::time::Instant::now();
        let (mut images, mut checksum) = (0usize, 0.0f64);
        for batch in loader.resume(epoch, start_batch)? {
            let b = batch?;
            // Stand-in for the training step: read the tensor and the labels.
            checksum += match &b.batch.data {
                Tensor::F32(v) => v.iter().step_by(97).map(|&x| x as f64).sum::<f64>(),
                Tensor::U8(v) => v.iter().step_by(97).map(|&x| x as f64).sum::<f64>(),
                Tensor::F16(v) => v.iter().step_by(97).map(|&x| x.to_f64()).sum::<f64>(),
            };
            if let Some(l) = &b.batch.labels {
                checksum += l.data.iter().map(|&x| x as f64).sum::<f64>();
            }
            images += b.items.len();
        }
        let secs = start.elapsed().as_secs_f64();
        let s = loader.stats();
        println!(
            "epoch {epoch}: {images} images in {secs:.2} s ({:.0} images/s); decode busy {:.2} s, augment busy {:.2} s, waiting {:.2} s; skipped {}; checksum {checksum:.3}",
            images as f64 / secs,
            s.decode_busy_s - before.decode_busy_s,
            s.augment_busy_s - before.augment_busy_s,
            s.consumer_wait_s - before.consumer_wait_s,
            s.skipped
        );
    }
    Ok(())
}
