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
    let square: Vec<_> = (0..64).map(|i| synthetic_image(i, 224, 224)).collect();
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
    let mut cases: Vec<(String, Pipeline)> = [
        "imagenet_train",
        "color_jitter",
        "affine",
        "cifar_train",
        "elastic",
        "random_field_ssl",
    ]
    .iter()
    .map(|name| {
        let p = Pipeline::from_file(format!("{root}/examples/pipelines/{name}.toml"))
            .expect("pipeline file");
        (name.to_string(), p)
    })
    .collect();
    // The cost of a field must not grow with its length scale.
    for l in [4, 16, 64] {
        let text = format!("size = 224\n[[ops]]\nop = \"random_field\"\nl = {l}\ndx = 3\ndy = 3");
        cases.push((
            format!("field_l{l}"),
            Pipeline::from_toml(&text).expect("pipeline"),
        ));
    }
    for (name, p) in cases {
        // CIFAR on 32x32 sources; elastic and the fields on 224x224 (the
        // warp alone, as other libraries' elastic figures); the rest on photos.
        let images = match name.as_str() {
            "cifar_train" => &tiny,
            "elastic" | "field_l4" | "field_l16" | "field_l64" => &square,
            _ => &photos,
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
