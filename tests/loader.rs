//! The streaming loader: sharding (DistributedSampler semantics), resume,
//! corrupt files, backpressure, multiple devices, bad options.

mod common;

use gpu_augment::gpu::GpuContext;
use gpu_augment::loader::ShardTail;
use gpu_augment::synthetic_image;
use gpu_augment::{Backend, Dataset, Loader, LoaderBatch, LoaderOptions, Pipeline, Tensor};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const PLAIN: &str = r#"
size = [20, 16]
format = "u8_hwc"
[[ops]]
op = "random_resized_crop"
scale = [0.2, 1.0]
[[ops]]
op = "horizontal_flip"
[[ops]]
op = "color_jitter"
brightness = 0.4
contrast = 0.4
saturation = 0.4
hue = 0.1
"#;

const MIXUP: &str = r#"
size = 16
format = "f32_chw"
[[ops]]
op = "random_resized_crop"
[[ops]]
op = "normalize"
mean = [0.5, 0.5, 0.5]
std = [0.25, 0.25, 0.25]
[[ops]]
op = "mixup"
alpha = 1.0
num_classes = 3
"#;

/// `n` images of assorted sizes in DIR/class{0,1,2}/img{i}.png.
fn image_folder(dir: &Path, n: u64) {
    for i in 0..n {
        let c = dir.join(format!("class{}", i % 3));
        std::fs::create_dir_all(&c).unwrap();
        synthetic_image(i, 24 + (i % 7) as u32 * 3, 18 + (i % 5) as u32 * 4)
            .save(c.join(format!("img{i:03}.png")))
            .unwrap();
    }
}

fn pipeline(text: &str) -> Pipeline {
    Pipeline::from_toml(text).unwrap()
}

fn cpu_opts(batch_size: usize) -> LoaderOptions {
    LoaderOptions {
        batch_size,
        backend: Backend::Cpu,
        seed: 11,
        shuffle: true,
        decode_threads: 2,
        ..Default::default()
    }
}

fn bytes(b: &LoaderBatch, j: usize) -> Vec<u8> {
    let per = b.batch.shape[1] * b.batch.shape[2] * b.batch.shape[3];
    match &b.batch.data {
        Tensor::U8(v) => v[j * per..(j + 1) * per].to_vec(),
        Tensor::F32(v) => bytemuck_f32(&v[j * per..(j + 1) * per]),
        Tensor::F16(v) => v[j * per..(j + 1) * per]
            .iter()
            .flat_map(|x| x.to_bits().to_le_bytes())
            .collect(),
    }
}

fn bytemuck_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Every output of an epoch, by dataset index: (pixels, soft label, record as JSON).
fn by_item(batches: &[LoaderBatch]) -> BTreeMap<usize, (Vec<u8>, Vec<f32>, String)> {
    let mut m = BTreeMap::new();
    for b in batches {
        for (j, &item) in b.items.iter().enumerate() {
            let label = b
                .batch
                .labels
                .as_ref()
                .and_then(|l| l.row(j))
                .unwrap_or_default()
                .to_vec();
            let rec = serde_json::to_string(&b.batch.records[j]).unwrap();
            m.insert(item, (bytes(b, j), label, rec));
        }
    }
    m
}

fn collect(loader: &Loader, epoch: u64) -> Vec<LoaderBatch> {
    loader
        .epoch(epoch)
        .unwrap()
        .collect::<gpu_augment::Result<Vec<_>>>()
        .unwrap()
}

#[test]
fn shards_cover_the_epoch_once_and_match_the_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    image_folder(tmp.path(), 24);
    let ds = Dataset::image_folder(tmp.path()).unwrap();
    assert_eq!(ds.num_classes(), 3);
    let whole = Loader::new(ds.clone(), pipeline(PLAIN), cpu_opts(5)).unwrap();
    let reference = by_item(&collect(&whole, 3));
    assert_eq!(reference.len(), 24);
    // Labels are the class folders, one-hot.
    for (item, (_, label, _)) in &reference {
        let class = ds.label(*item).unwrap() as usize;
        let hot: Vec<f32> = (0..3).map(|c| (c == class) as u32 as f32).collect();
        assert_eq!(label, &hot, "item {item}");
    }
    // 24 items over 3 or 4 ranks: disjoint, together exactly the epoch, and
    // every sample identical to the unsharded run.
    for world in [3usize, 4] {
        let mut seen = Vec::new();
        for rank in 0..world {
            let opts = LoaderOptions {
                rank,
                world_size: world,
                ..cpu_opts(3)
            };
            let l = Loader::new(ds.clone(), pipeline(PLAIN), opts).unwrap();
            let part = by_item(&collect(&l, 3));
            assert_eq!(part.len(), 24 / world, "rank {rank} of {world}");
            for (item, out) in part {
                assert_eq!(
                    &out, &reference[&item],
                    "item {item}, rank {rank} of {world}"
                );
                seen.push(item);
            }
        }
        seen.sort();
        assert_eq!(seen, (0..24).collect::<Vec<_>>(), "world {world}");
    }
    // 24 over 5 ranks without drop_last: padded to 25 by wrapping (one item
    // twice, every rank 5 items); with ShardTail::Drop: 20 items, 4 per rank.
    for (tail, per_rank, total_distinct) in [(ShardTail::Pad, 5, 24), (ShardTail::Drop, 4, 20)] {
        let mut all = Vec::new();
        for rank in 0..5 {
            let opts = LoaderOptions {
                rank,
                world_size: 5,
                shard_tail: tail,
                drop_last: true,
                ..cpu_opts(2)
            };
            let l = Loader::new(ds.clone(), pipeline(PLAIN), opts).unwrap();
            let order = l.order(3);
            assert_eq!(order.len(), per_rank);
            // drop_last drops each rank's short last batch (5 items in batches of 2: one).
            let got: Vec<usize> = collect(&l, 3)
                .iter()
                .flat_map(|b| b.items.clone())
                .collect();
            assert_eq!(got, order[..order.len() / 2 * 2], "rank {rank}, {tail:?}");
            all.extend(order);
        }
        assert_eq!(all.len(), per_rank * 5);
        assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), total_distinct);
    }
    // Uneven: 24 over 5 ranks, every item exactly once (5, 5, 5, 5, 4).
    let mut all = Vec::new();
    for rank in 0..5 {
        let opts = LoaderOptions {
            rank,
            world_size: 5,
            shard_tail: ShardTail::Uneven,
            ..cpu_opts(2)
        };
        let l = Loader::new(ds.clone(), pipeline(PLAIN), opts).unwrap();
        let part = by_item(&collect(&l, 3));
        assert_eq!(part.len(), if rank < 4 { 5 } else { 4 });
        for (item, out) in part {
            assert_eq!(&out, &reference[&item], "item {item}");
            all.push(item);
        }
    }
    all.sort();
    assert_eq!(all, (0..24).collect::<Vec<_>>());
    // Another epoch: another permutation, other parameters.
    assert_ne!(whole.order(3), whole.order(4));
    let e4 = by_item(&collect(&whole, 4));
    assert_ne!(e4[&0].0, reference[&0].0);
}

#[test]
fn resume_equals_the_uninterrupted_run_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    image_folder(tmp.path(), 23);
    let ds = Dataset::image_folder(tmp.path()).unwrap();
    for text in [PLAIN, MIXUP] {
        let opts = LoaderOptions {
            prefetch: 2,
            ..cpu_opts(4)
        };
        let loader = Loader::new(ds.clone(), pipeline(text), opts).unwrap();
        assert_eq!(loader.batches_per_epoch(), 6);
        let full = collect(&loader, 2);
        assert_eq!(full.len(), 6);
        // Stop after two batches (dropping the epoch mid-way), then resume.
        let mut first: Vec<LoaderBatch> = loader
            .epoch(2)
            .unwrap()
            .take(2)
            .map(Result::unwrap)
            .collect();
        let resumed = loader.resume(2, first.last().unwrap().index + 1).unwrap();
        first.extend(resumed.map(Result::unwrap));
        assert_eq!(first.len(), full.len());
        for (a, b) in first.iter().zip(&full) {
            assert_eq!((a.epoch, a.index, &a.items), (b.epoch, b.index, &b.items));
            assert_eq!(a.batch.data, b.batch.data, "batch {}", a.index);
            assert_eq!(a.batch.labels, b.batch.labels, "batch {}", a.index);
            assert_eq!(
                serde_json::to_string(&a.batch.records).unwrap(),
                serde_json::to_string(&b.batch.records).unwrap()
            );
        }
        if text == MIXUP {
            // Mixed soft labels: not one-hot, rows summing to 1.
            let l = full[0].batch.labels.as_ref().unwrap();
            assert!(l.data.iter().any(|&x| x > 0.0 && x < 1.0));
            for r in 0..l.rows() {
                let s: f32 = l.row(r).unwrap().iter().sum();
                assert!((s - 1.0).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn owned_epochs_outlive_the_loader_handle_and_wait_in_slices() {
    use std::task::Poll;
    use std::time::Duration;
    let tmp = tempfile::tempdir().unwrap();
    image_folder(tmp.path(), 13);
    let ds = Dataset::image_folder(tmp.path()).unwrap();
    let loader = Loader::new(ds.clone(), pipeline(PLAIN), cpu_opts(4)).unwrap();
    let full = collect(&loader, 1);
    // An owned epoch holds the loader: drop the caller's handle, send the
    // epoch to another thread, and it still yields the same batches.
    let shared = Arc::new(Loader::new(ds, pipeline(PLAIN), cpu_opts(4)).unwrap());
    let epoch = shared.epoch_owned(1).unwrap();
    let resumed = shared.resume_owned(1, 2).unwrap();
    drop(shared);
    let got: Vec<LoaderBatch> = std::thread::spawn(move || {
        let mut epoch = epoch;
        let mut out = Vec::new();
        // next_timeout: Pending until a batch is there, never a lost batch.
        loop {
            match epoch.next_timeout(Duration::from_micros(50)) {
                Poll::Pending => continue,
                Poll::Ready(Some(b)) => out.push(b.unwrap()),
                Poll::Ready(None) => break,
            }
        }
        out
    })
    .join()
    .unwrap();
    assert_eq!(got.len(), full.len());
    for (a, b) in got.iter().zip(&full) {
        assert_eq!((a.index, &a.items), (b.index, &b.items));
        assert_eq!(a.batch.data, b.batch.data);
    }
    let rest: Vec<LoaderBatch> = resumed.map(Result::unwrap).collect();
    assert_eq!(rest.len(), full.len() - 2);
    assert_eq!(rest[0].batch.data, full[2].batch.data);
}

#[test]
fn corrupt_files_are_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    image_folder(&dir, 30);
    // Three bad files in the middle of the sorted order.
    let bad: Vec<PathBuf> = vec![
        dir.join("class1/img010_bad.png"),
        dir.join("class1/img013_empty.jpg"),
        dir.join("class2/img020_truncated.png"),
    ];
    std::fs::write(&bad[0], b"this is not a png at all").unwrap();
    std::fs::write(&bad[1], b"").unwrap();
    let good = std::fs::read(dir.join("class2/img020.png")).unwrap();
    std::fs::write(&bad[2], &good[..good.len() / 2]).unwrap();
    let ds = Dataset::image_folder(&dir).unwrap();
    assert_eq!(ds.len(), 33);
    let bad_items: BTreeSet<usize> = (0..ds.len())
        .filter(|&i| bad.iter().any(|b| ds.path(i) == Some(b.as_path())))
        .collect();
    assert_eq!(bad_items.len(), 3);
    let loader = Loader::new(ds.clone(), pipeline(PLAIN), cpu_opts(4)).unwrap();
    let batches = collect(&loader, 0);
    let out = by_item(&batches);
    let expect: Vec<usize> = (0..33).filter(|i| !bad_items.contains(i)).collect();
    assert_eq!(out.keys().copied().collect::<Vec<_>>(), expect);
    assert_eq!(loader.skipped(), 3);
    let reported: BTreeSet<PathBuf> = batches
        .iter()
        .flat_map(|b| b.skipped.iter().map(|(p, _)| p.clone()))
        .collect();
    assert_eq!(reported, bad.iter().cloned().collect());
    let files = loader.skipped_files();
    assert_eq!(files.len(), 3);
    assert!(files.iter().all(|(_, reason)| !reason.is_empty()));
    // The good files come out exactly as when the bad ones are fine (keys
    // are dataset indices, so a failed file shifts nothing).
    for (k, b) in bad.iter().enumerate() {
        std::fs::write(
            b,
            std::fs::read(dir.join(format!("class0/img{:03}.png", 3 * k))).unwrap(),
        )
        .unwrap();
    }
    let fixed = Loader::new(
        Dataset::image_folder(&dir).unwrap(),
        pipeline(PLAIN),
        cpu_opts(4),
    )
    .unwrap();
    let fixed_out = by_item(&collect(&fixed, 0));
    assert_eq!(fixed.skipped(), 0);
    assert_eq!(fixed_out.len(), 33);
    for (item, v) in &out {
        assert_eq!(v, &fixed_out[item], "item {item}");
    }
    assert_eq!(loader.stats().decoded, 30);
}

#[test]
fn a_slow_consumer_stops_decoding_ahead() {
    let tmp = tempfile::tempdir().unwrap();
    image_folder(tmp.path(), 60);
    let opts = LoaderOptions {
        prefetch: 2,
        shuffle: false,
        ..cpu_opts(3)
    };
    let loader = Loader::new(Dataset::folder(tmp.path()).unwrap(), pipeline(PLAIN), opts).unwrap();
    let mut epoch = loader.epoch(0).unwrap();
    let first = epoch.next().unwrap().unwrap();
    assert_eq!(first.items, vec![0, 1, 2]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    // One batch taken, at most 2 in flight: at most 3 batches decoded.
    let decoded = loader.stats().decoded;
    assert!(
        decoded <= 9,
        "{decoded} images decoded ahead of a stalled consumer"
    );
    assert!(
        decoded >= 6,
        "the loader should have decoded ahead ({decoded})"
    );
    let rest: Vec<LoaderBatch> = epoch.map(Result::unwrap).collect();
    assert_eq!(rest.len(), 19);
    assert_eq!(loader.stats().decoded, 60);
    assert_eq!(loader.stats().batches, 20);
}

#[test]
fn bad_options_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    image_folder(tmp.path(), 3);
    let ds = Dataset::image_folder(tmp.path()).unwrap();
    let try_opts = |o: LoaderOptions| Loader::new(ds.clone(), pipeline(PLAIN), o).err();
    assert!(try_opts(LoaderOptions {
        rank: 2,
        world_size: 2,
        ..cpu_opts(2)
    })
    .is_some());
    assert!(try_opts(cpu_opts(0)).is_some());
    assert!(try_opts(LoaderOptions {
        prefetch: 0,
        ..cpu_opts(2)
    })
    .is_some());
    // Mixing needs labels.
    let plain = Dataset::folder(tmp.path()).unwrap();
    let e = Loader::new(plain, pipeline(MIXUP), cpu_opts(2))
        .err()
        .unwrap();
    assert!(e.to_string().contains("mixup"), "{e}");
    assert!(Dataset::from_labeled(vec![("a.png".into(), 3)], 3).is_err());
    assert!(Dataset::image_folder(tmp.path().join("class0")).is_err());
}

#[test]
fn two_devices_equal_one_and_the_cpu() {
    let Some(g) = common::gpu() else { return };
    let tmp = tempfile::tempdir().unwrap();
    image_folder(tmp.path(), 26);
    let ds = Dataset::image_folder(tmp.path()).unwrap();
    for text in [PLAIN, MIXUP] {
        let opts = cpu_opts(4);
        let one =
            Loader::with_gpus(ds.clone(), pipeline(text), opts.clone(), vec![g.clone()]).unwrap();
        let second = Arc::new(GpuContext::new().unwrap());
        let two = Loader::with_gpus(
            ds.clone(),
            pipeline(text),
            opts.clone(),
            vec![g.clone(), second],
        )
        .unwrap();
        // The same through the option: one device per adapter, then more.
        let opened = Loader::new(
            ds.clone(),
            pipeline(text),
            LoaderOptions {
                backend: Backend::Gpu,
                devices: 3,
                streams_per_device: 1,
                ..opts.clone()
            },
        )
        .unwrap();
        assert!(
            opened.backend_name().starts_with("3 x gpu"),
            "{}",
            opened.backend_name()
        );
        assert!(
            two.backend_name().starts_with("2 x gpu"),
            "{}",
            two.backend_name()
        );
        let a = collect(&one, 1);
        assert_eq!(a.len(), 7);
        for other in [&two, &opened] {
            let b = collect(other, 1);
            assert_eq!(b.len(), 7);
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.items, y.items);
                assert_eq!(x.batch.data, y.batch.data, "batch {}", x.index);
                assert_eq!(x.batch.labels, y.batch.labels);
            }
        }
        // GPU against the CPU twin, within the parity tolerance.
        let cpu = collect(&Loader::new(ds.clone(), pipeline(text), opts).unwrap(), 1);
        let (mean, std) = pipeline(text).normalization();
        let f = |v: [f64; 3]| v.map(|x| x as f32);
        for (x, c) in a.iter().zip(&cpu) {
            assert_eq!(x.items, c.items);
            common::assert_close(
                &format!("loader-{}", x.index),
                &c.batch,
                &x.batch,
                f(mean),
                f(std),
            );
        }
    }
}

#[test]
fn an_augmentation_error_skips_the_file_not_the_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    image_folder(tmp.path(), 12);
    // A 40x40 crop of images at most 42x34 without padding fails on some:
    // those files are reported (path and reason) and the others go on.
    let text = "size = 40\n[[ops]]\nop = \"random_crop\"\nsize = 40";
    let loader = Loader::new(
        Dataset::folder(tmp.path()).unwrap(),
        pipeline(text),
        cpu_opts(4),
    )
    .unwrap();
    let results: Vec<_> = loader.epoch(0).unwrap().collect();
    assert!(results.iter().all(|r| r.is_ok()), "the epoch went on");
    let skipped = loader.skipped_files();
    assert!(!skipped.is_empty(), "some crops cannot apply");
    assert!(
        skipped.iter().all(|(_, r)| r.contains("random_crop")),
        "{skipped:?}"
    );
    let done: usize = results
        .iter()
        .map(|r| r.as_ref().unwrap().items.len())
        .sum();
    assert_eq!(done + skipped.len(), 12);
    if let Some(g) = common::gpu() {
        let l = Loader::with_gpus(
            Dataset::folder(tmp.path()).unwrap(),
            pipeline(text),
            cpu_opts(4),
            vec![g],
        )
        .unwrap();
        assert!(l.epoch(0).unwrap().all(|r| r.is_ok()));
        assert_eq!(
            l.skipped_files().len(),
            skipped.len(),
            "the same files on the GPU"
        );
    }
}

#[test]
fn threads_sharing_one_device_get_the_sequential_results() {
    use gpu_augment::{Augmenter, BatchKey, Request};
    let Some(g) = common::gpu() else { return };
    let aug = Augmenter::with_gpu(pipeline(PLAIN), g).unwrap();
    let images: Vec<_> = (0..32u64)
        .map(|i| synthetic_image(i, 30 + i as u32, 20 + (i % 4) as u32 * 9))
        .collect();
    let key = |k: usize| BatchKey::new(5, 0, (k * 4) as u64);
    let seq: Vec<_> = images
        .chunks(4)
        .enumerate()
        .map(|(k, c)| aug.augment(Request::new(c).key(key(k))).unwrap())
        .collect();
    for round in 0..3 {
        let par: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = images
                .chunks(4)
                .enumerate()
                .map(|(k, c)| {
                    let aug = &aug;
                    s.spawn(move || aug.augment(Request::new(c).key(key(k))).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (k, (a, b)) in seq.iter().zip(&par).enumerate() {
            assert_eq!(a.data, b.data, "batch {k}, round {round}");
            let st = b.gpu_stats.unwrap();
            assert!(st.pack_ns > 0 && st.device_ns > 0, "{st:?}");
        }
    }
}
