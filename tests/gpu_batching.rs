//! A batch larger than the device's storage-binding limit (128 MiB on
//! lavapipe) is split into chunks automatically, with the same results as
//! smaller batches, and buffers are reused rather than grown per batch.

mod common;

use common::gpu;
use gpu_augment::{synthetic_image, Augmenter, Backend, BatchKey, Pipeline, Request};

#[test]
fn oversized_batch_is_split_and_matches_small_batches() {
    let Some(g) = gpu() else { return };
    let limit = g.limits().max_storage_binding.min(g.limits().max_buffer);
    // Enough 2048x2048 sources (12 MiB each as RGB bytes) to exceed the limit.
    let per = 2048u64 * 2048 * 3;
    let n = (limit / per + 2).min(40) as usize;
    let images: Vec<_> = (0..n)
        .map(|i| synthetic_image(i as u64, 2048, 2048))
        .collect();
    let p = Pipeline::from_toml(
        "size = 16\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"color_jitter\"\ncontrast = 0.5",
    )
    .unwrap();
    let aug = Augmenter::with_gpu(p.clone(), g).unwrap();
    let key = BatchKey::new(3, 1, 100);
    let whole = aug.augment(Request::new(&images).key(key)).unwrap();
    let stats = whole.gpu_stats.unwrap();
    assert!(
        stats.chunks >= 2,
        "{n} images of {per} bytes under a {limit}-byte limit ran in {} chunk(s)",
        stats.chunks
    );
    assert_eq!(stats.submits, stats.chunks, "one submit per chunk");
    assert_eq!(
        stats.dispatches,
        2 * stats.chunks,
        "1 stats + 1 main dispatch per chunk"
    );
    // Same bytes as one image at a time, and within parity of the CPU.
    for (i, img) in images.iter().enumerate().step_by(3) {
        let one = aug
            .augment(Request::new(std::slice::from_ref(img)).key(BatchKey::new(
                3,
                1,
                100 + i as u64,
            )))
            .unwrap();
        assert_eq!(whole.sample_u8(i), one.sample_u8(0), "sample {i}");
    }
    let cpu = Augmenter::new(p, Backend::Cpu)
        .unwrap()
        .augment(Request::new(&images).key(key))
        .unwrap();
    common::assert_close("oversized-batch", &cpu, &whole, [0.0; 3], [1.0; 3]);
}

#[test]
fn buffers_grown_by_a_later_batch_stay_within_the_binding_limit() {
    // Buffers grow by 1.5x: a batch needing more than the last one must not
    // get a buffer past the device's binding limit (an invalid buffer made
    // every later submit fail: "submission index ... not returned by a
    // successful submission"). First a batch of n1 sources (1.5x its bytes
    // is over the limit), then one of n2 > n1 that still fits in one chunk.
    let Some(g) = gpu() else { return };
    let limit = g.limits().max_storage_binding.min(g.limits().max_buffer);
    let per = 2048u64 * 2048 * 3;
    let n1 = (limit * 2 / 3 / per + 1) as usize;
    let n2 = ((limit - 65536) / per) as usize;
    assert!(n2 > n1 && n2 <= 40, "limit {limit}: {n1} then {n2} sources");
    let images: Vec<_> = (0..n2)
        .map(|i| synthetic_image(i as u64, 2048, 2048))
        .collect();
    let p = Pipeline::from_toml("size = 8\n[[ops]]\nop = \"random_resized_crop\"").unwrap();
    let aug = Augmenter::with_gpu(p.clone(), g).unwrap();
    let cpu = Augmenter::new(p, Backend::Cpu).unwrap();
    for (n, first) in [(n1, 0u64), (n2, 1000), (n1, 2000)] {
        let req = Request::new(&images[..n]).key(BatchKey::new(1, 0, first));
        let b = aug
            .augment(req)
            .unwrap_or_else(|e| panic!("batch of {n} after growth: {e}"));
        assert_eq!(b.gpu_stats.unwrap().chunks, 1, "{n} sources fit one chunk");
        common::assert_close("grown", &cpu.augment(req).unwrap(), &b, [0.0; 3], [1.0; 3]);
    }
}

/// The uploads go through kept upload buffers: once the buffers fit, a
/// batch allocates nothing (its tensor recycled), a bigger batch grows them
/// once, and every batch's bytes equal a fresh augmenter's (a reused upload
/// buffer never leaks the previous batch's sources, table or globals).
#[test]
fn steady_state_batches_allocate_nothing_and_reuse_the_uploads_exactly() {
    let Some(g) = gpu() else { return };
    let p = Pipeline::from_toml(
        "size = [24, 20]\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"color_jitter\"\ncontrast = 0.5\nbrightness = 0.3",
    )
    .unwrap();
    let aug = Augmenter::with_gpu(p.clone(), g.clone()).unwrap();
    let batch = |seed: u64, n: usize, w: u32| -> Vec<_> {
        (0..n)
            .map(|i| synthetic_image(seed * 100 + i as u64, w + i as u32, 37))
            .collect()
    };
    let mut allocs = Vec::new();
    // Same sizes, other pixels and keys; then a bigger batch; then small again.
    let plan = [
        (1, 6, 40),
        (2, 6, 40),
        (3, 6, 40),
        (4, 9, 90),
        (5, 6, 40),
        (6, 6, 40),
    ];
    for (seed, n, w) in plan {
        let images = batch(seed, n, w);
        let key = BatchKey::new(seed, 0, 0);
        let b = aug.augment(Request::new(&images).key(key)).unwrap();
        let fresh = Augmenter::with_gpu(p.clone(), g.clone())
            .unwrap()
            .augment(Request::new(&images).key(key))
            .unwrap();
        assert_eq!(
            b.data, fresh.data,
            "batch {seed}: a reused upload buffer changed the bytes"
        );
        allocs.push(b.gpu_stats.unwrap().allocations);
        aug.recycle(b);
    }
    assert!(
        allocs[0] > 0,
        "the first batch creates its buffers: {allocs:?}"
    );
    assert_eq!(
        allocs[2], 0,
        "a batch of sizes that fit allocates nothing: {allocs:?}"
    );
    assert!(
        allocs[3] > 0,
        "a bigger batch grows the buffers: {allocs:?}"
    );
    assert_eq!(allocs[5], 0, "and then fits again: {allocs:?}");
}
