//! The loader over many files: resident memory stays bounded, and dropping
//! it mid-epoch ends its threads. The two tests share the process's RSS and
//! thread list, so they run one at a time (a lock), each in this binary only.

use gpu_augment::synthetic_image;
use gpu_augment::{Backend, Dataset, Loader, LoaderOptions, Pipeline};
use std::path::Path;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// 16x16 sources up-sampled to 64x64 f32 CHW (48 KiB per output): keeping
/// every batch would take ~940 MiB for 20,000 images.
const PIPE: &str = r#"
size = 64
format = "f32_chw"
[[ops]]
op = "random_resized_crop"
scale = [0.5, 1.0]
[[ops]]
op = "horizontal_flip"
[[ops]]
op = "normalize"
mean = [0.5, 0.5, 0.5]
std = [0.25, 0.25, 0.25]
"#;

/// The generous bound on resident-memory growth while streaming 20,000
/// images (batches of 64, 4 in flight: ~12 MiB of outputs and sources).
const RSS_GROWTH_LIMIT_MIB: f64 = 64.0;

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Threads of this process whose name starts with `ga-` (the loader's).
fn loader_threads() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.starts_with("ga-"))
        })
        .count()
}

/// `loader_threads()` once it equals `expect`, or after 2 s (a joined
/// thread can stay listed for a moment while the kernel reaps it, and a new
/// one carries its name only once it has first run).
fn settled_threads(expect: usize) -> usize {
    for _ in 0..100 {
        let n = loader_threads();
        if n == expect {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    loader_threads()
}

fn write_pngs(dir: &Path, n: u64) {
    // Fifty distinct images, written over and over (PNG encoding is the slow part).
    let bytes: Vec<Vec<u8>> = (0..50)
        .map(|i| {
            let mut v = Vec::new();
            synthetic_image(i, 16, 16)
                .write_to(&mut std::io::Cursor::new(&mut v), image::ImageFormat::Png)
                .unwrap();
            v
        })
        .collect();
    for i in 0..n {
        let sub = dir.join(format!("{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&sub).unwrap();
        }
        std::fs::write(sub.join(format!("{i:05}.png")), &bytes[(i % 50) as usize]).unwrap();
    }
}

#[test]
fn twenty_thousand_images_stream_in_bounded_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    write_pngs(tmp.path(), 20_000);
    let ds = Dataset::folder(tmp.path()).unwrap();
    assert_eq!(ds.len(), 20_000);
    let opts = LoaderOptions {
        batch_size: 64,
        backend: Backend::Cpu,
        shuffle: true,
        decode_threads: 2,
        prefetch: 4,
        ..Default::default()
    };
    let loader = Loader::new(ds, Pipeline::from_toml(PIPE).unwrap(), opts).unwrap();
    let before = rss_kib();
    let (mut peak, mut images, mut checksum) = (before, 0usize, 0.0f64);
    let start = std::time::Instant::now();
    for b in loader.epoch(0).unwrap() {
        let b = b.unwrap();
        images += b.items.len();
        if let gpu_augment::Tensor::F32(v) = &b.batch.data {
            checksum += v[0] as f64;
        }
        peak = peak.max(rss_kib());
    }
    let growth = (peak.saturating_sub(before)) as f64 / 1024.0;
    eprintln!(
        "20,000 images of 16x16 -> 64x64 f32 in {:.1} s: RSS {:.1} MiB before, peak {:.1} MiB (growth {growth:.1} MiB, limit {RSS_GROWTH_LIMIT_MIB}); checksum {checksum:.3}",
        start.elapsed().as_secs_f64(),
        before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    assert_eq!(images, 20_000);
    assert_eq!(loader.skipped(), 0);
    assert!(
        growth < RSS_GROWTH_LIMIT_MIB,
        "RSS grew by {growth:.1} MiB streaming 20,000 images"
    );
}

#[test]
fn dropping_the_loader_mid_epoch_ends_its_threads() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    write_pngs(tmp.path(), 400);
    assert_eq!(loader_threads(), 0);
    for augment_threads in [None, Some(2)] {
        let opts = LoaderOptions {
            batch_size: 8,
            backend: Backend::Cpu,
            decode_threads: 3,
            augment_threads,
            prefetch: 3,
            ..Default::default()
        };
        let loader = Loader::new(
            Dataset::folder(tmp.path()).unwrap(),
            Pipeline::from_toml(PIPE).unwrap(),
            opts,
        )
        .unwrap();
        let mut epoch = loader.epoch(0).unwrap();
        epoch.next().unwrap().unwrap();
        epoch.next().unwrap().unwrap();
        // 3 decoders and 1 augment worker (plus 2 pool threads when owned),
        // decoders now blocked on the in-flight limit or still decoding.
        // (A thread takes its name once it first runs: allow it a moment.)
        let expect = 4 + augment_threads.unwrap_or(0);
        let running = settled_threads(expect);
        assert_eq!(running, expect, "threads while running");
        assert!(epoch.remaining() > 10);
        drop(epoch);
        let pool = augment_threads.unwrap_or(0);
        assert_eq!(settled_threads(pool), pool, "after the epoch");
        drop(loader);
        assert_eq!(settled_threads(0), 0, "after the loader");
    }
}
