//! Reproducibility on both backends: a sample's bytes are a pure function of
//! (seed, epoch, global index), whatever the batch cut, the thread count or
//! the run; and the GPU does a fixed amount of work per batch.

mod common;

use common::{backends, gpu, test_images};
use gpu_augment::synthetic_image;
use gpu_augment::{
    Augmenter, Backend, Batch, BatchKey, OutputFormat, Pipeline, Request, RgbImage, Tensor,
};

fn example(name: &str) -> Pipeline {
    let path = format!(
        "{}/examples/pipelines/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    Pipeline::from_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn pipelines() -> Vec<(&'static str, Pipeline)> {
    vec![
        ("imagenet_train", example("imagenet_train")),
        ("affine", example("affine")),
        // One view, so sample i is image i (views have their own tests in mixing.rs).
        (
            "random_field_ssl",
            Pipeline {
                views: 1,
                ..example("random_field_ssl")
            },
        ),
    ]
}

/// Sample `i` as raw bytes, whatever the output format.
fn sample_bytes(b: &Batch, i: usize) -> Vec<u8> {
    match (&b.data, b.sample_u8(i), b.sample_f32(i)) {
        (Tensor::U8(_), Some(s), None) => s.to_vec(),
        (Tensor::F32(_), None, Some(s)) => s.iter().flat_map(|x| x.to_le_bytes()).collect(),
        _ => panic!("sample {i} missing from a batch of shape {:?}", b.shape),
    }
}

fn run(aug: &Augmenter, images: &[RgbImage], key: BatchKey) -> Batch {
    aug.augment(Request::new(images).key(key))
        .unwrap_or_else(|e| panic!("{} batch: {e}", aug.backend_kind()))
}

#[test]
fn same_key_gives_identical_bytes() {
    let images = test_images();
    for (name, p) in pipelines() {
        for (backend, aug) in backends(&p) {
            let key = BatchKey::new(42, 3, 1000);
            let a = run(&aug, &images, key);
            // Another batch in between (other sizes, more samples) leaves nothing behind.
            let between = small_images(33);
            run(&aug, &between, BatchKey::new(1, 1, 1));
            let b = run(&aug, &images, key);
            assert_eq!(a.shape, b.shape, "{name} on {backend}");
            assert!(
                a.data == b.data,
                "{name} on {backend}: two runs of the same key differ"
            );
            assert_eq!(a.records, b.records, "{name} on {backend}");
            // A second augmenter gives the same bytes too.
            let fresh = match backend {
                "cpu" => Augmenter::new(p.clone(), Backend::Cpu).unwrap(),
                _ => Augmenter::with_gpu(p.clone(), gpu().unwrap()).unwrap(),
            };
            let c = run(&fresh, &images, key);
            assert!(
                a.data == c.data,
                "{name} on {backend}: a second augmenter differs"
            );
            // Records carry the global indices.
            let idx: Vec<u64> = a.records.iter().map(|r| r.index).collect();
            assert_eq!(idx, (1000..1006).collect::<Vec<_>>());
        }
    }
}

/// A batch written into a recycled tensor (`Augmenter::recycle`) has the
/// bytes of one written into a fresh tensor, whatever the recycled tensor
/// held; tensors of another size are not reused.
#[test]
fn recycled_tensors_give_identical_bytes() {
    let images = test_images();
    for (name, p) in pipelines() {
        for (backend, aug) in backends(&p) {
            let key = BatchKey::new(7, 2, 500);
            let fresh = run(&aug, &images, key);
            // Fill the pool with a tensor of other contents: another key.
            let other = run(&aug, &images, BatchKey::new(8, 0, 0));
            assert!(other.data != fresh.data, "{name} on {backend}");
            let addr = |t: &Tensor| match t {
                Tensor::U8(v) => v.as_ptr() as usize,
                Tensor::F32(v) => v.as_ptr() as usize,
                Tensor::F16(v) => v.as_ptr() as usize,
            };
            let pooled = addr(&other.data);
            aug.recycle(other);
            // A batch of another size cannot take it (and leaves it there).
            let small = small_images(2);
            let s = run(&aug, &small, BatchKey::new(1, 1, 1));
            assert_eq!(s.shape[0], 2, "{name} on {backend}");
            // A live allocation of the same size: had the pool dropped the
            // tensor, this would most likely take its place in memory.
            let bytes = match &fresh.data {
                Tensor::U8(v) => v.len(),
                Tensor::F32(v) => v.len() * 4,
                Tensor::F16(v) => v.len() * 2,
            };
            let decoy = std::hint::black_box(vec![1u8; bytes]);
            let again = run(&aug, &images, key);
            drop(decoy);
            assert!(
                again.data == fresh.data,
                "{name} on {backend}: a recycled tensor changed the bytes"
            );
            assert_eq!(again.records, fresh.records, "{name} on {backend}");
            // It was written into the recycled tensor itself. (The GPU's
            // allocation count is not compared: the device's buffer sets are
            // shared with the tests running beside this one.)
            assert_eq!(
                addr(&again.data),
                pooled,
                "{name} on {backend}: the recycled tensor was not reused"
            );
        }
    }
}

/// A recycled tensor is not cleared before the batch is written into it, so
/// every path must write every value: a tensor poisoned with a pattern no
/// output holds (NaN, 0xA5 bytes) gives exactly the bytes of a fresh one, on
/// each backend, for every output format and the paths with their own writers
/// (mixing on the device and the host, AugMix, views, one channel, random
/// fields, policies).
#[test]
fn poisoned_recycled_tensors_are_fully_overwritten() {
    let images = test_images();
    let with = |name: &str, edit: &dyn Fn(&mut Pipeline)| {
        let mut p = example(name);
        edit(&mut p);
        p
    };
    let fmt = |f: OutputFormat| move |p: &mut Pipeline| p.format = f;
    let cases: Vec<(String, Pipeline)> = vec![
        ("imagenet_train".into(), example("imagenet_train")),
        (
            "imagenet_train u8_chw".into(),
            with("imagenet_train", &fmt(OutputFormat::U8Chw)),
        ),
        (
            "imagenet_train f16_chw".into(),
            with("imagenet_train", &fmt(OutputFormat::F16Chw)),
        ),
        ("affine".into(), example("affine")),
        ("color_jitter".into(), example("color_jitter")),
        ("cifar_train".into(), example("cifar_train")),
        ("elastic".into(), example("elastic")),
        ("randaugment".into(), example("randaugment")),
        ("trivial_augment".into(), example("trivial_augment")),
        ("mixup".into(), example("mixup")),
        ("cutmix".into(), example("cutmix")),
        (
            "cutmix u8_chw".into(),
            with("cutmix", &fmt(OutputFormat::U8Chw)),
        ),
        ("ssl_two_views".into(), example("ssl_two_views")),
        ("random_field_ssl".into(), example("random_field_ssl")),
        ("rotation_cutout".into(), example("rotation_cutout")),
        ("colorful_cutout".into(), example("colorful_cutout")),
    ];
    // CIFAR's crop needs sources of at least 24x24.
    let cifar: Vec<RgbImage> = (0..6).map(|i| synthetic_image(i, 32, 32)).collect();
    for (name, p) in cases {
        let images = if name == "cifar_train" {
            &cifar
        } else {
            &images
        };
        for (backend, aug) in backends(&p) {
            let key = BatchKey::new(11, 1, 40);
            let fresh = run(&aug, images, key);
            let poison = match &fresh.data {
                Tensor::U8(v) => Tensor::U8(vec![0xA5; v.len()]),
                Tensor::F32(v) => Tensor::F32(vec![f32::NAN; v.len()]),
                Tensor::F16(v) => Tensor::F16(vec![gpu_augment::half::f16::NAN; v.len()]),
            };
            let addr = |t: &Tensor| match t {
                Tensor::U8(v) => v.as_ptr() as usize,
                Tensor::F32(v) => v.as_ptr() as usize,
                Tensor::F16(v) => v.as_ptr() as usize,
            };
            let pooled = addr(&poison);
            aug.recycle_tensor(poison);
            let again = run(&aug, images, key);
            assert_eq!(
                addr(&again.data),
                pooled,
                "{name} on {backend}: the poisoned tensor was not reused"
            );
            assert!(
                again.data == fresh.data,
                "{name} on {backend}: a value of the recycled tensor was left unwritten"
            );
        }
    }
}

#[test]
fn batch_cut_does_not_change_samples() {
    let images = test_images();
    assert_eq!(images.len(), 6);
    let (seed, epoch, k) = (7, 2, 500);
    for (name, p) in pipelines() {
        for (backend, aug) in backends(&p) {
            let whole = run(&aug, &images, BatchKey::new(seed, epoch, k));
            let head = run(&aug, &images[..2], BatchKey::new(seed, epoch, k));
            let tail = run(&aug, &images[2..], BatchKey::new(seed, epoch, k + 2));
            let singles: Vec<Batch> = (0..6)
                .map(|i| {
                    run(
                        &aug,
                        &images[i..i + 1],
                        BatchKey::new(seed, epoch, k + i as u64),
                    )
                })
                .collect();
            for (i, single) in singles.iter().enumerate() {
                let (part, j) = if i < 2 { (&head, i) } else { (&tail, i - 2) };
                let want = sample_bytes(&whole, i);
                assert!(
                    sample_bytes(part, j) == want,
                    "{name} on {backend}: sample {i} differs when the batch is cut"
                );
                assert_eq!(
                    part.records[j], whole.records[i],
                    "{name} on {backend}: record {i}"
                );
                assert!(
                    sample_bytes(single, 0) == want,
                    "{name} on {backend}: sample {i} alone differs"
                );
            }
            // The same images at other global indices are other samples: the cut is
            // not trivially invisible.
            let shifted = run(&aug, &images, BatchKey::new(seed, epoch, k + 1));
            let moved = (0..6)
                .filter(|&i| sample_bytes(&shifted, i) != sample_bytes(&whole, i))
                .count();
            assert!(
                moved >= 5,
                "{name} on {backend}: only {moved} of 6 samples depend on the index"
            );
        }
    }
}

#[test]
fn different_seeds_and_epochs_give_different_outputs() {
    let images = test_images();
    for (name, p) in pipelines() {
        for (backend, aug) in backends(&p) {
            let base = run(&aug, &images, BatchKey::new(1, 0, 0));
            for other in [BatchKey::new(2, 0, 0), BatchKey::new(1, 1, 0)] {
                let b = run(&aug, &images, other);
                assert!(
                    base.data != b.data,
                    "{name} on {backend}: {other:?} gives the same tensor"
                );
                let differing = (0..images.len())
                    .filter(|&i| sample_bytes(&base, i) != sample_bytes(&b, i))
                    .count();
                assert!(
                    differing >= 5,
                    "{name} on {backend}: {other:?} changes only {differing} of 6 samples"
                );
                assert_ne!(base.records, b.records, "{name} on {backend}: {other:?}");
            }
        }
    }
}

#[test]
fn thread_count_does_not_change_cpu_results() {
    let images = test_images();
    for (name, p) in pipelines() {
        let aug = Augmenter::new(p, Backend::Cpu).unwrap();
        let key = BatchKey::new(9, 1, 77);
        let in_pool = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            pool.install(|| {
                assert_eq!(rayon::current_num_threads(), threads);
                run(&aug, &images, key)
            })
        };
        let one = in_pool(1);
        let two = in_pool(2);
        let five = in_pool(5);
        let default = run(&aug, &images, key);
        assert!(one.data == two.data, "{name}: 1 and 2 threads differ");
        assert!(one.data == five.data, "{name}: 1 and 5 threads differ");
        assert!(
            one.data == default.data,
            "{name}: 1 thread and the global pool differ"
        );
        assert_eq!(one.records, two.records);
        assert!(one.gpu_stats.is_none(), "the CPU reports no GPU counters");
    }
}

/// Images of assorted small sizes (so a 33-image batch stays cheap on lavapipe).
fn small_images(n: usize) -> Vec<RgbImage> {
    (0..n)
        .map(|i| {
            synthetic_image(
                100 + i as u64,
                9 + (i as u32 * 7) % 40,
                5 + (i as u32 * 11) % 31,
            )
        })
        .collect()
}

#[test]
fn gpu_work_per_batch_is_fixed() {
    let Some(g) = gpu() else { return };
    let two_contrasts = Pipeline::from_toml(
        "size = 48\n[[ops]]\nop = \"color_jitter\"\ncontrast = 0.5\n[[ops]]\nop = \"color_jitter\"\ncontrast = 0.3\nbrightness = 0.2",
    )
    .unwrap();
    // p = 0: no sample ever draws its contrast step, but the pass is still scheduled.
    let never_applied =
        Pipeline::from_toml("size = 48\n[[ops]]\nop = \"color_jitter\"\ncontrast = 0.5\np = 0.0")
            .unwrap();
    let cases = [
        ("imagenet_train", example("imagenet_train"), 1),
        ("affine", example("affine"), 0),
        ("two_contrasts", two_contrasts, 2),
        ("never_applied", never_applied, 1),
    ];
    for (name, p, slots) in cases {
        assert_eq!(p.stat_slots(), slots, "{name}: stat slots");
        let aug = Augmenter::with_gpu(p.clone(), g.clone()).unwrap();
        for n in [1usize, 5, 33] {
            let images = small_images(n);
            for seed in [0u64, 1, 2] {
                let b = run(&aug, &images, BatchKey::new(seed, 0, 10 * n as u64));
                let s = b
                    .gpu_stats
                    .unwrap_or_else(|| panic!("{name}: the GPU backend returned no counters"));
                assert_eq!(
                    s.chunks, 1,
                    "{name}, {n} images: small batches are not split"
                );
                assert_eq!(
                    s.dispatches as usize,
                    1 + slots,
                    "{name}, {n} images, seed {seed}: dispatches"
                );
                assert_eq!(s.submits, 1, "{name}, {n} images, seed {seed}: submits");
                let bytes = match &b.data {
                    Tensor::U8(v) => v.len() as u64,
                    Tensor::F32(v) => 4 * v.len() as u64,
                    Tensor::F16(v) => 2 * v.len() as u64,
                };
                assert_eq!(s.bytes_down, bytes, "{name}, {n} images: bytes read back");
                assert!(s.bytes_up > 0);
            }
        }
    }
}
