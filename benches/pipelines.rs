//! Criterion benches of the shipped pipelines on both backends: batch of 64,
//! per-sample random parameters, 500x375 sources (32x32 for CIFAR).
//! `cargo bench --bench pipelines`; the README table comes from
//! `gpu-augment bench` runs of the same pipelines (see README).
//! The `mixing` group times the mixing pass alone (CPU, in place, as the CPU
//! backend runs it) on a batch of 64 already augmented 224x224 samples.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gpu_augment::{synthetic_image, Augmenter, Backend, BatchKey, Pipeline, Request};
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
        "mixup",
        "cutmix",
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
                    aug.augment(Request::new(images).key(BatchKey::new(1, epoch, 0)))
                        .expect("batch")
                })
            });
        }
    }
    group.finish();
}

/// The mixing pass alone: draw the batch's partners and lambdas, then mix in
/// place (f32 CHW as the shipped pipelines, and u8 HWC).
fn mixing(c: &mut Criterion) {
    let root = env!("CARGO_MANIFEST_DIR");
    let photos: Vec<_> = (0..64).map(|i| synthetic_image(i, 500, 375)).collect();
    let mut group = c.benchmark_group("mixing");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(64));
    for name in ["mixup", "cutmix"] {
        for u8_out in [false, true] {
            let mut p = Pipeline::from_file(format!("{root}/examples/pipelines/{name}.toml"))
                .expect("pipeline file");
            if u8_out {
                p.ops.pop(); // normalize
                p.format = gpu_augment::OutputFormat::U8Hwc;
            }
            let aug = Augmenter::new(p.clone(), Backend::Cpu).expect("augmenter");
            let mut plain = p.clone();
            plain.mix = None;
            let mut data = Augmenter::new(plain, Backend::Cpu)
                .expect("augmenter")
                .augment(Request::new(&photos).key(BatchKey::new(1, 0, 0)))
                .expect("batch")
                .data;
            let ids: Vec<(u64, u32)> = (0..64).map(|i| (i, 0)).collect();
            let mix = p.mix.clone().expect("mixing op");
            let mut epoch = 0;
            let fmt = if u8_out { "u8" } else { "f32" };
            group.bench_function(format!("{name}-pass/{fmt}/cpu"), |b| {
                b.iter(|| {
                    epoch += 1;
                    let records = mix.draw(1, epoch, p.ops.len() as u32, &ids, p.size);
                    aug.mix_batch(&mut data, &records).expect("mixing pass");
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, pipelines, mixing);
criterion_main!(benches);
