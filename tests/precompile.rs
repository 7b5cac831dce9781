//! Issue 14: the kernel variant an augmenter compiles when it is created
//! covers every batch of its pipeline, and a batch renders to the same bytes
//! on that variant as on its own exact one (and on the exact one compiled
//! in the background, once ready).

mod common;

use gpu_augment::gpu::{GpuContext, VariantMode};
use gpu_augment::{synthetic_image, Augmenter, Backend, BatchKey, Pipeline, Request, RgbImage};
use std::sync::Arc;

fn pipelines_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipelines")
}

/// The example pipelines the checks run over (no AugMix: its internal
/// batch is planned when it runs), each with its views' pipelines for a
/// multi-view file.
fn examples() -> Vec<(String, Pipeline)> {
    let names = [
        "randaugment",
        "trivial_augment",
        "imagenet_train",
        "affine",
        "elastic",
        "random_field_ssl",
        "cutmix",
        "segmentation",
        "detection",
        "rotation_cutout",
        "colorful_cutout",
        "color_jitter",
        "cifar_train",
        "fixmatch",
        "curriculum",
    ];
    let mut v = Vec::new();
    for n in names.iter().chain(&["dino_multicrop", "ssl_two_views"]) {
        let path = pipelines_dir().join(format!("{n}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        if gpu_augment::Views::declared_in(&text) {
            let views = gpu_augment::Views::from_toml(&text).unwrap_or_else(|e| panic!("{n}: {e}"));
            for view in views.views() {
                v.push((format!("{n}/{}", view.name), view.pipeline.clone()));
            }
        } else {
            v.push((
                n.to_string(),
                Pipeline::from_toml(&text).unwrap_or_else(|e| panic!("{n}: {e}")),
            ));
        }
    }
    v
}

fn images(n: usize, seed: u64) -> Vec<RgbImage> {
    let sizes = [(64, 48), (37, 53), (96, 96), (40, 33), (128, 72)];
    (0..n)
        .map(|i| {
            let (w, h) = sizes[i % sizes.len()];
            synthetic_image(seed + i as u64, w, h)
        })
        .collect()
}

// Every batch key drawn covers: each flag of the batch's exact variant
// implies the precompiled one's, its hue steps are no more, its op codes
// and field kinds a subset. Pure planning (the CPU backend), no device.
#[test]
fn the_precompiled_variant_covers_every_drawn_batch() {
    let imgs = images(8, 3);
    for (name, p) in examples() {
        let aug = Augmenter::new(p, Backend::Cpu).unwrap();
        for epoch in 0..40u64 {
            for (seed, size) in [(0u64, 1usize), (7, 3), (11, 8)] {
                let req = Request::new(&imgs[..size]).key(BatchKey::new(seed, epoch, epoch * 8));
                assert!(
                    aug.precompiled_covers(req).unwrap(),
                    "{name}: batch (seed {seed}, epoch {epoch}, {size} images) not covered"
                );
            }
        }
    }
}

fn bytes(b: &gpu_augment::Batch) -> Vec<u8> {
    match &b.data {
        gpu_augment::Tensor::U8(v) => v.clone(),
        gpu_augment::Tensor::F32(v) => v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect(),
        gpu_augment::Tensor::F16(v) => v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect(),
    }
}

// The same batches on the precompiled cover (every batch, VariantMode::Cover)
// and on their exact variants (VariantMode::Exact, compiled when needed):
// the same bytes, and the stats say which ran.
#[test]
fn cover_and_exact_variants_render_the_same_bytes() {
    if common::gpu().is_none() {
        return;
    }
    let cover = Arc::new(GpuContext::new().unwrap());
    cover.set_variant_mode(VariantMode::Cover);
    let exact = Arc::new(GpuContext::new().unwrap());
    exact.set_variant_mode(VariantMode::Exact);
    let imgs = images(6, 17);
    let picked = [
        "randaugment",
        "trivial_augment",
        "imagenet_train",
        "affine",
        "elastic",
        "random_field_ssl",
        "cutmix",
        "rotation_cutout",
        "colorful_cutout",
        "cifar_train",
    ];
    for (name, p) in examples() {
        if !picked.contains(&name.as_str()) && !name.contains('/') {
            continue;
        }
        let a = Augmenter::with_gpu(p.clone(), cover.clone()).unwrap();
        let b = Augmenter::with_gpu(p, exact.clone()).unwrap();
        for epoch in 0..2u64 {
            let key = BatchKey::new(5, epoch, 0);
            let x = a.augment(Request::new(&imgs).key(key)).unwrap();
            let y = b.augment(Request::new(&imgs).key(key)).unwrap();
            let (sx, sy) = (x.gpu_stats.unwrap(), y.gpu_stats.unwrap());
            assert!(sx.covered >= 1, "{name}: the cover did not run ({sx:?})");
            assert_eq!(sy.covered, 0, "{name}: the exact variant did not run");
            assert_eq!(sx.dispatches, sy.dispatches, "{name}: dispatches");
            assert!(
                bytes(&x) == bytes(&y),
                "{name}, epoch {epoch}: the cover and the exact variant differ"
            );
        }
    }
}

// The default mode: a batch whose exact variant is missing runs on the
// cover at once, its exact variant compiles in the background, and a later
// batch of the same key runs on it, with the same bytes.
#[test]
fn the_exact_variant_compiles_in_the_background() {
    if common::gpu().is_none() {
        return;
    }
    let g = Arc::new(GpuContext::new().unwrap());
    let p = Pipeline::from_file(pipelines_dir().join("imagenet_train.toml")).unwrap();
    let aug = Augmenter::with_gpu(p, g).unwrap();
    let imgs = images(4, 29);
    let key = BatchKey::new(1, 0, 0);
    let first = aug.augment(Request::new(&imgs).key(key)).unwrap();
    assert_eq!(
        first.gpu_stats.unwrap().covered,
        1,
        "the first batch waits for no compile"
    );
    let t = std::time::Instant::now();
    loop {
        let b = aug.augment(Request::new(&imgs).key(key)).unwrap();
        assert!(bytes(&b) == bytes(&first), "a later batch differs");
        if b.gpu_stats.unwrap().covered == 0 {
            break;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(120),
            "the exact variant never arrived"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `bench` in a fresh process with `env`, over `dir`.
fn bench_with(dir: &std::path::Path, env: &[(&str, &std::ffi::OsStr)]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gpu-augment"));
    c.args([
        "bench",
        "--backend",
        "gpu",
        "--repeats",
        "1",
        "--batch-size",
        "2",
    ])
    .arg("--input")
    .arg(dir)
    .arg("--pipeline")
    .arg(pipelines_dir().join("color_jitter.toml"));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

// The pipeline cache file: written under $XDG_CACHE_HOME/gpu-augment/ (named
// by wgpu's cache key) when the adapter supports a cache, not with
// GPU_AUGMENT_PIPELINE_CACHE=0, and an unusable cache directory is no error.
#[test]
fn the_pipeline_cache_is_saved_where_the_readme_says() {
    let Some(g) = common::gpu() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..2 {
        synthetic_image(i, 40, 30)
            .save(input.join(format!("{i}.png")))
            .unwrap();
    }
    let files = |d: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(d.join("gpu-augment"))
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let on = tmp.path().join("on");
    let o = bench_with(&input, &[("XDG_CACHE_HOME", on.as_os_str())]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let saved = files(&on);
    match g.pipeline_cache_file() {
        // Vulkan (lavapipe): one file, the key's, no temporary left.
        Some(_) => {
            assert_eq!(saved.len(), 1, "{saved:?}");
            assert!(saved[0].starts_with("wgpu_pipeline_cache_"), "{saved:?}");
            // A second start reads it (and rewrites nothing torn).
            let o = bench_with(&input, &[("XDG_CACHE_HOME", on.as_os_str())]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(files(&on), saved);
        }
        None => assert!(saved.is_empty(), "{saved:?}"),
    }
    let off = tmp.path().join("off");
    let o = bench_with(
        &input,
        &[
            ("XDG_CACHE_HOME", off.as_os_str()),
            ("GPU_AUGMENT_PIPELINE_CACHE", std::ffi::OsStr::new("0")),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        files(&off).is_empty(),
        "cache written with GPU_AUGMENT_PIPELINE_CACHE=0"
    );
    // A cache "directory" under a regular file cannot be created: no save, no error.
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let o = bench_with(&input, &[("XDG_CACHE_HOME", blocker.as_os_str())]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
