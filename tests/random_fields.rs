//! Random fields (SEMANTICS.md, "Random fields"): the statistics of the
//! generated fields on both backends, zero amplitudes as a no-op, a constant
//! translation field as a translation, and a fixed dispatch count.
//!
//! Statistics are measured through the brightness field on a constant grey
//! image with f32 output: out = x * (1 + F(p)) exactly, so F = out / x - 1.

mod common;

use common::{assert_close, backends, gpu};
use gpu_augment::cpu::field::{render, FieldScratch};
use gpu_augment::synthetic_image;
use gpu_augment::{Augmenter, Batch, BatchKey, Drawn, Pipeline, Request, RgbImage, Tensor};

fn pipeline(text: &str) -> Pipeline {
    Pipeline::from_toml(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

const SIDE: usize = 128;
const GREY: u8 = 128;

/// The brightness fields of `n` samples (each SIDE x SIDE, row-major).
fn brightness_fields(aug: &Augmenter, n: usize) -> Vec<Vec<f64>> {
    let img = RgbImage::from_pixel(SIDE as u32, SIDE as u32, image::Rgb([GREY; 3]));
    let images = vec![img; n];
    let b = aug
        .augment(Request::new(&images).key(BatchKey::new(2024, 0, 0)))
        .expect("batch");
    let Tensor::F32(v) = &b.data else {
        panic!("f32 output expected")
    };
    let x = GREY as f64 / 255.0;
    (0..n)
        .map(|i| {
            // Channel 0 of sample i.
            let plane = &v[i * 3 * SIDE * SIDE..][..SIDE * SIDE];
            plane.iter().map(|&o| o as f64 / x - 1.0).collect()
        })
        .collect()
}

/// Correlation of the fields at offset (dx, dy), over every pair inside the image.
fn correlation(fields: &[Vec<f64>], dx: isize, dy: isize) -> f64 {
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for f in fields {
        for y in 0..SIDE as isize {
            for x in 0..SIDE as isize {
                let (x2, y2) = (x + dx, y + dy);
                if x2 < 0 || y2 < 0 || x2 >= SIDE as isize || y2 >= SIDE as isize {
                    continue;
                }
                let a = f[(y * SIDE as isize + x) as usize];
                let b = f[(y2 * SIDE as isize + x2) as usize];
                sxy += a * b;
                sxx += a * a;
                syy += b * b;
            }
        }
    }
    sxy / (sxx * syy).sqrt()
}

#[test]
fn field_statistics_match_the_spec_on_both_backends() {
    let (l, amp) = (10.0f64, 0.1f64);
    let p = pipeline(&format!(
        "size = {SIDE}\nformat = \"f32_chw\"\n[[ops]]\nop = \"random_field\"\nl = {l}\nbrightness = {amp}\n[[ops]]\nop = \"normalize\"\nmean = 0\nstd = 1"
    ));
    for (name, aug) in backends(&p) {
        let fields = brightness_fields(&aug, 400);
        let all: Vec<f64> = fields.iter().flatten().copied().collect();
        let n = all.len() as f64;
        let mean = all.iter().sum::<f64>() / n;
        let std = (all.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        assert!(
            mean.abs() <= 0.05 * amp,
            "{name}: field mean {mean} is not within 0.05 sigma of 0"
        );
        assert!(
            (std - amp).abs() <= 0.05 * amp,
            "{name}: field std {std} is not within 5% of the amplitude {amp}"
        );
        // Correlation at distance l: exp(-1/4) (Gaussian of std l * sqrt(2)).
        let expect = (-0.25f64).exp();
        let row = correlation(&fields, 10, 0);
        let col = correlation(&fields, 0, 10);
        let oblique = correlation(&fields, 6, 8); // also distance 10
        let anti = correlation(&fields, 8, -6);
        let diag = correlation(&fields, 7, 7); // distance 9.9
        let expect_diag = (-(98.0) / (4.0 * l * l)).exp();
        for (what, got, want) in [
            ("along rows", row, expect),
            ("along columns", col, expect),
            ("at (6, 8)", oblique, expect),
            ("at (8, -6)", anti, expect),
            ("along the diagonal (7, 7)", diag, expect_diag),
        ] {
            assert!(
                (got - want).abs() <= 0.05,
                "{name}: correlation {what} is {got}, expected {want} within 0.05"
            );
        }
        eprintln!(
            "{name}: mean {mean:.5}, std {std:.5} (amplitude {amp}), correlation at l: rows {row:.4}, columns {col:.4}, (6,8) {oblique:.4}, (8,-6) {anti:.4}, diagonal (7,7) {diag:.4} (expected {expect:.4} / {expect_diag:.4})"
        );
        // No grid artefacts: rows and diagonals agree.
        assert!(
            (row - oblique).abs() <= 0.05 && (row - diag - (expect - expect_diag)).abs() <= 0.05,
            "{name}: correlation along rows {row} and diagonals {oblique} / {diag} disagree"
        );
        // Decorrelated far away (5 l: exp(-6.25) = 0.002).
        let far = correlation(&fields, 50, 0);
        assert!(far.abs() < 0.05, "{name}: correlation at 5 l is {far}");
    }
}

#[test]
fn field_std_does_not_depend_on_the_length_scale() {
    // The CPU field generator directly: std and correlation at l for small and large l.
    for l in [0.5f32, 2.0, 4.0, 16.0, 64.0] {
        let mut f = gpu_augment::plan::GpuField {
            grid: [0, 0, 1, 0],
            key: [7, 11, 0, 0],
            geo: [1.0, 0.0, 0.0, 0.0],
            color: [0.0; 4],
            shape: [1.0 / l, 64.0, 64.0, 0.0],
        };
        let nodes = |n: f32| (n * f.shape[0]).ceil() as u32 + 10;
        f.grid[0] = nodes(SIDE as f32);
        f.grid[1] = nodes(SIDE as f32);
        let mut planes: [Vec<f32>; 8] = Default::default();
        let mut s = FieldScratch::default();
        // Four pixels per field, over many fields: the pointwise variance,
        // which for a large l no single image samples well.
        let mut values = Vec::new();
        for seed in 0..1500u32 {
            f.key = [seed, seed.wrapping_mul(7919), 0, 0];
            render(&f, SIDE, SIDE, &mut planes, &mut s);
            for (x, y) in [(16, 16), (112, 16), (16, 112), (112, 112)] {
                values.push(planes[0][y * SIDE + x] as f64);
            }
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| v * v).sum::<f64>() / n - mean * mean).sqrt();
        eprintln!("l = {l}: mean {mean:.4}, std {std:.4}");
        assert!(
            (std - 1.0).abs() < 0.05,
            "l = {l}: std {std} (expected 1 within 5%)"
        );
    }
}

#[test]
fn zero_amplitudes_reproduce_the_pipeline_without_the_op() {
    let base = "size = 48\nformat = \"f32_chw\"\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.4\ncontrast = 0.4\n";
    let without = pipeline(&format!("{base}[[ops]]\nop = \"normalize\""));
    let with = pipeline(&format!(
        "{base}[[ops]]\nop = \"random_field\"\nl = [2, 30]\nfill = 99\n[[ops]]\nop = \"normalize\""
    ));
    let images: Vec<RgbImage> = (0..5)
        .map(|i| synthetic_image(i, 90 + 7 * i as u32, 70))
        .collect();
    for ((name, a), (_, b)) in backends(&without).into_iter().zip(backends(&with)) {
        let key = BatchKey::new(5, 1, 40);
        let x = a.augment(Request::new(&images).key(key)).expect("batch");
        let y = b.augment(Request::new(&images).key(key)).expect("batch");
        assert!(
            x.data == y.data,
            "{name}: a random_field with zero amplitudes changed the output"
        );
    }
}

/// The horizontal displacement of a field of length scale far beyond the
/// image (constant across it to ~1e-4 pixels), read from the CPU generator.
fn constant_dx(l: f64, amp: f32, seed: u64) -> f32 {
    let f = gpu_augment::plan::GpuField {
        grid: [
            (SIDE as f32 / l as f32).ceil() as u32 + 10,
            (SIDE as f32 / l as f32).ceil() as u32 + 10,
            1,
            0,
        ],
        key: [seed as u32, (seed >> 32) as u32, 0, 0],
        geo: [amp, 0.0, 0.0, 0.0],
        color: [0.0; 4],
        shape: [(1.0 / l) as f32, 64.0, 64.0, 0.0],
    };
    let mut planes: [Vec<f32>; 8] = Default::default();
    render(&f, SIDE, SIDE, &mut planes, &mut FieldScratch::default());
    let (lo, hi) = planes[0]
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    // Over 128 pixels a field of length scale l varies by about amp * 128 / (sqrt(2) l).
    assert!(hi - lo < 0.05, "field not constant: {lo}..{hi}");
    planes[0][SIDE * SIDE / 2 + SIDE / 2]
}

#[test]
fn constant_translation_field_equals_a_translation() {
    let l = 100.0 * SIDE as f64;
    let seed = 77u64;
    let t = constant_dx(l, 3.0, seed);
    assert!(t.abs() > 0.2, "pick a seed with a visible shift (got {t})");
    let field = pipeline(&format!(
        "size = {SIDE}\n[[ops]]\nop = \"random_field\"\nl = {l}\ndx = 3\nfill = 40"
    ));
    let affine = pipeline(&format!(
        "size = {SIDE}\n[[ops]]\nop = \"affine\"\nfill = 40"
    ));
    // A smooth image (slopes of 2 per pixel): the field's residual variation
    // (< 0.05 pixels) moves values by < 0.1, while a wrong sign or size of
    // the shift moves them by about 4.
    let img = vec![RgbImage::from_fn(SIDE as u32, SIDE as u32, |x, y| {
        image::Rgb([(2 * x) as u8, (2 * y) as u8, (x + y) as u8])
    })];
    for ((name, a), (_, b)) in backends(&field).into_iter().zip(backends(&affine)) {
        let x = a
            .augment(
                Request::new(&img)
                    .params(&[vec![Drawn::RandomField {
                        applied: true,
                        l,
                        seed,
                    }]])
                    .indices(&[0]),
            )
            .expect("field");
        // The field maps output p to source p + t; affine's translate maps p to p - translate.
        let y = b
            .augment(
                Request::new(&img)
                    .params(&[vec![Drawn::Affine {
                        applied: true,
                        angle: 0.0,
                        translate: [-t as f64, 0.0],
                        scale: 1.0,
                        shear: [0.0, 0.0],
                    }]])
                    .indices(&[0]),
            )
            .expect("affine");
        assert_close(
            &format!("constant-translation-{name}"),
            &x,
            &y,
            [0.0; 3],
            [1.0; 3],
        );
    }
}

fn dispatches(b: &Batch) -> u32 {
    b.gpu_stats.map(|s| s.dispatches).unwrap_or(0)
}

#[test]
fn field_pass_adds_a_fixed_number_of_dispatches() {
    let Some(g) = gpu() else { return };
    let p = pipeline(
        "size = 40\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"random_field\"\nl = [2, 20]\ndx = 3\ndy = 3\nhue = 0.1\np = 0.5",
    );
    let aug = Augmenter::with_gpu(p, g).expect("gpu augmenter");
    for n in [1usize, 5, 33] {
        let images: Vec<RgbImage> = (0..n)
            .map(|i| synthetic_image(i as u64, 50 + i as u32, 41))
            .collect();
        // Some seed where at least one sample has its field on.
        let b = aug
            .augment(Request::new(&images).key(BatchKey::new(3, 0, 0)))
            .expect("batch");
        assert_eq!(
            dispatches(&b),
            3,
            "batch of {n}: noise + row sums + main pass expected"
        );
        assert_eq!(b.gpu_stats.map(|s| s.submits), Some(1));
    }
    // A draw where no sample has its field on still runs the same passes.
    let never = pipeline("size = 40\n[[ops]]\nop = \"random_field\"\nl = 4\ndx = 3\np = 0.0");
    let aug = Augmenter::with_gpu(never, gpu().expect("gpu")).expect("gpu augmenter");
    let b = aug
        .augment(Request::new(&[synthetic_image(0, 40, 40)]).key(BatchKey::new(0, 0, 0)))
        .expect("batch");
    assert_eq!(dispatches(&b), 3, "no field drawn: same dispatches");
}

#[test]
fn elastic_displacement_has_torchvision_magnitude() {
    // torchvision: std of uniform(-1, 1) noise blurred by a Gaussian of sigma
    // 5 (kernel 41) is about 0.0326; times alpha / 2 pixels on a square image.
    let [ax, ay] = gpu_augment::ops::elastic_amplitudes([50.0, 50.0], 5.0, 224, 224);
    assert!((ax - 0.0326 * 25.0).abs() < 0.01, "{ax}");
    assert_eq!(ax, ay);
    // Non-square: x scales with W / H, y with H / W.
    let [bx, by] = gpu_augment::ops::elastic_amplitudes([50.0, 50.0], 5.0, 200, 100);
    assert!((bx / ax - 2.0).abs() < 1e-9 && (by / ax - 0.5).abs() < 1e-9);
}
