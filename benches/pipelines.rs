//! Criterion benches of the shipped pipelines on both backends: batch of 64,
//! per-sample random parameters, 500x375 sources (32x32 for CIFAR).
//! `cargo bench --bench pipelines`; the README table comes from
//! `gpu-augment bench` runs of the same pipelines (see README).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gpu_augment::{app::synth::synthetic_image, Augmenter, Backend, BatchKey, Pipeline};
use std::time::Duration;

fn pipelines(c: &mut Criterion) {
    let root = env!("CARGO_MANIFEST_DIR");
    let photos: Vec<_> = (0..64).map(|i| synthetic_image(i, 500, 375)).collect();
    let tiny: Vec<_> = (0..64).map(|i| synthetic_image(i, 32, 32)).collect();
    let mut group = c.benchmark_group("pipelines");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(64));
    let backends: Vec<Backend> = match Augmenter::new(
        Pipeline::from_toml("size = 8").expect("pipeline"),
        Backend::Gpu,
    ) {
        Ok(_) => vec![Backend::Cpu, Backend::Gpu],
        Err(_) => vec![Backend::Cpu],
    };
    for name in ["imagenet_train", "color_jitter", "affine", "cifar_train"] {
        let p = Pipeline::from_file(format!("{root}/examples/pipelines/{name}.toml"))
            .expect("pipeline file");
        let images = if name == "cifar_train" {
            &tiny
        } else {
            &photos
        };
        for &backend in &backends {
            let aug = Augmenter::new(p.clone(), backend).expect("augmenter");
            let mut epoch = 0;
            group.bench_function(format!("{name}/{}", aug.backend_kind()), |b| {
                b.iter(|| {
                    epoch += 1;
                    aug.augment(images, BatchKey::new(1, epoch, 0))
                        .expect("batch")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, pipelines);
criterion_main!(benches);
