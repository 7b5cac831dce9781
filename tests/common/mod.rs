//! Helpers shared by the integration tests.
#![allow(dead_code)]

use gpu_augment::gpu::GpuContext;
use gpu_augment::{synthetic_image, Batch, RgbImage, Tensor};
use std::sync::{Arc, OnceLock};

/// Parity tolerances (STYLE.md):
/// - integer-only ops (flips, integer crops, pads): exact;
/// - u8 resampling: |diff| <= 1 per channel, at most 0.1% of values above that;
/// - f32 outputs are compared after undoing the normalisation, in u8 units, with the same rule.
pub const U8_TOL: f32 = 1.0;
/// Fraction of values allowed beyond `U8_TOL` (edge pixels).
pub const OUTLIER_FRACTION: f64 = 0.001;

/// The shared GPU device. Without an adapter: `None` locally (the test returns
/// early and says so), a panic when CI=true (GPU tests never skip in CI).
pub fn gpu() -> Option<Arc<GpuContext>> {
    static G: OnceLock<Option<Arc<GpuContext>>> = OnceLock::new();
    G.get_or_init(|| match GpuContext::new() {
        Ok(g) => Some(Arc::new(g)),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("CI=true but the GPU backend cannot start: {e}");
            }
            eprintln!("NOTE: no GPU adapter ({e}); GPU tests are not run outside CI");
            None
        }
    })
    .clone()
}

/// Sizes every parity test covers: 1x1, odd, non-square, 500x375-like.
pub fn test_images() -> Vec<RgbImage> {
    [(1, 1), (7, 5), (33, 17), (17, 40), (500, 375), (96, 64)]
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| synthetic_image(i as u64, w, h))
        .collect()
}

fn write_png(path: &std::path::Path, w: u32, h: u32, data: Vec<u8>) {
    if let Some(img) = RgbImage::from_raw(w, h, data) {
        let _ = img.save(path);
    }
}

/// Compares two batches of the same pipeline within the parity tolerance;
/// on failure writes cpu / gpu / diff PNGs to target/parity-failures/.
pub fn assert_close(name: &str, cpu: &Batch, gpu: &Batch, mean: [f32; 3], std: [f32; 3]) {
    assert_eq!(cpu.shape, gpu.shape, "{name}: shapes differ");
    let (a, b, hwc): (Vec<f32>, Vec<f32>, bool) = match (&cpu.data, &gpu.data) {
        (Tensor::U8(a), Tensor::U8(b)) => (
            a.iter().map(|&x| x as f32).collect(),
            b.iter().map(|&x| x as f32).collect(),
            true,
        ),
        (Tensor::F32(_), Tensor::F32(_)) | (Tensor::F16(_), Tensor::F16(_)) => {
            let [_, c, h, w] = cpu.shape;
            let plane = h * w;
            // f16 compares as its (exact) f32 values, by the f32 rule.
            let wide = |t: &Tensor| -> Vec<f32> {
                match t {
                    Tensor::F32(v) => v.clone(),
                    Tensor::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
                    Tensor::U8(_) => unreachable!(),
                }
            };
            let un = |v: Vec<f32>| -> Vec<f32> {
                v.iter()
                    .enumerate()
                    .map(|(i, &x)| (x * std[(i / plane) % c] + mean[(i / plane) % c]) * 255.0)
                    .collect()
            };
            (un(wide(&cpu.data)), un(wide(&gpu.data)), false)
        }
        _ => panic!("{name}: formats differ"),
    };
    let diffs: Vec<f32> = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).collect();
    let max = diffs.iter().cloned().fold(0.0f32, f32::max);
    let outliers = diffs.iter().filter(|d| **d > U8_TOL + 1e-3).count();
    let frac = outliers as f64 / diffs.len().max(1) as f64;
    if frac > OUTLIER_FRACTION || diffs.iter().any(|d| d.is_nan()) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/parity-failures");
        let _ = std::fs::create_dir_all(&dir);
        let n = cpu.shape[0];
        let (h, w) = if hwc {
            (cpu.shape[1], cpu.shape[2])
        } else {
            (cpu.shape[2], cpu.shape[3])
        };
        // Channels (3, or 1: written as grey RGB).
        let c = if hwc { cpu.shape[3] } else { cpu.shape[1] };
        let per = h * w * c;
        for i in 0..n {
            let to_hwc = |v: &[f32]| -> Vec<u8> {
                (0..h * w * 3)
                    .map(|j| {
                        let (p, k) = (j / 3, (j % 3).min(c - 1));
                        let idx = if hwc {
                            i * per + p * c + k
                        } else {
                            i * per + k * h * w + p
                        };
                        v[idx].round().clamp(0.0, 255.0) as u8
                    })
                    .collect()
            };
            let (ca, cb) = (to_hwc(&a), to_hwc(&b));
            let diff: Vec<u8> = ca
                .iter()
                .zip(&cb)
                .map(|(x, y)| (x.abs_diff(*y)).saturating_mul(32))
                .collect();
            write_png(
                &dir.join(format!("{name}-{i}-cpu.png")),
                w as u32,
                h as u32,
                ca,
            );
            write_png(
                &dir.join(format!("{name}-{i}-gpu.png")),
                w as u32,
                h as u32,
                cb,
            );
            write_png(
                &dir.join(format!("{name}-{i}-diff.png")),
                w as u32,
                h as u32,
                diff,
            );
        }
        panic!(
            "{name}: GPU and CPU differ: max |diff| {max:.3} (u8 units), {outliers} of {} values ({:.4}%) beyond {U8_TOL}; images in {}",
            diffs.len(),
            frac * 100.0,
            dir.display()
        );
    }
}

/// The CPU backend always, and the GPU one when an adapter exists (a panic
/// under CI=true when none does), for `p`.
pub fn backends(p: &gpu_augment::Pipeline) -> Vec<(&'static str, gpu_augment::Augmenter)> {
    use gpu_augment::{Augmenter, Backend};
    let mut v = vec![(
        "cpu",
        Augmenter::new(p.clone(), Backend::Cpu).expect("cpu augmenter"),
    )];
    if let Some(g) = gpu() {
        v.push((
            "gpu",
            Augmenter::with_gpu(p.clone(), g).expect("gpu augmenter"),
        ));
    }
    v
}
