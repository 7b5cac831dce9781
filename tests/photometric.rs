//! The photometric ops on hand-computed cases, on both backends: solarize at
//! its threshold, posterize's bits, equalize of a known histogram,
//! autocontrast of a known range, blur of an impulse, sharpness, gamma,
//! invert, noise statistics, erasing and an identity perspective.

mod common;

use common::backends;
use gpu_augment::{BatchKey, Drawn, Pipeline, Request, RgbImage, Tensor};

fn pipeline(text: &str) -> Pipeline {
    Pipeline::from_toml(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Runs a one-image u8 pipeline of the image's size on both backends; returns the outputs.
fn run_u8(text: &str, img: &RgbImage) -> Vec<(&'static str, Vec<u8>)> {
    let p = pipeline(&format!(
        "size = [{}, {}]\n{text}",
        img.height(),
        img.width()
    ));
    backends(&p)
        .into_iter()
        .map(|(name, aug)| {
            let b = aug
                .augment(Request::new(std::slice::from_ref(img)).key(BatchKey::new(1, 0, 0)))
                .expect("batch");
            match b.data {
                Tensor::U8(v) => (name, v),
                _ => panic!("u8 expected"),
            }
        })
        .collect()
}

fn grey_row(values: &[u8]) -> RgbImage {
    RgbImage::from_fn(values.len() as u32, 1, |x, _| {
        image::Rgb([values[x as usize]; 3])
    })
}

#[test]
fn solarize_inverts_from_the_threshold_up() {
    let img = grey_row(&[0, 99, 100, 101, 200, 255]);
    for (name, out) in run_u8("[[ops]]\nop = \"solarize\"\nthreshold = 100\np = 1.0", &img) {
        let got: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        assert_eq!(got, vec![0, 99, 155, 154, 55, 0], "{name}");
    }
}

#[test]
fn posterize_keeps_the_top_bits() {
    let img = grey_row(&[0b1011_0111, 0b0001_1111, 255, 7]);
    for (name, out) in run_u8("[[ops]]\nop = \"posterize\"\nbits = 3\np = 1.0", &img) {
        let got: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        assert_eq!(got, vec![0b1010_0000, 0, 0b1110_0000, 0], "{name}");
    }
}

#[test]
fn invert_and_gamma_are_exact_on_known_values() {
    let img = grey_row(&[0, 64, 128, 255]);
    for (name, out) in run_u8("[[ops]]\nop = \"invert\"\np = 1.0", &img) {
        let got: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        assert_eq!(got, vec![255, 191, 127, 0], "{name}");
    }
    // gamma 2: (64/255)^2 * 255 = 16.06 -> 16; (128/255)^2 * 255 = 64.25 -> 64.
    for (name, out) in run_u8("[[ops]]\nop = \"gamma\"\ngamma = 2.0", &img) {
        let got: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        assert_eq!(got, vec![0, 16, 64, 255], "{name}");
    }
}

#[test]
fn equalize_of_a_known_histogram() {
    // 512 pixels, half 10 and half 20 (all channels): the last non-empty bin
    // (20) holds 256, so step = (512 - 256) / 255 = 1 and lut[k] = cum[k - 1]
    // clamped: lut[10] = 0, lut[20] = 256 -> 255. A third channel with one
    // value only has step 0 and stays as it is.
    let img = RgbImage::from_fn(32, 16, |x, _| {
        let v = if x < 16 { 10 } else { 20 };
        image::Rgb([v, v, 77])
    });
    for (name, out) in run_u8("[[ops]]\nop = \"equalize\"\np = 1.0", &img) {
        for (i, px) in out.chunks(3).enumerate() {
            let want = if i % 32 < 16 { 0 } else { 255 };
            assert_eq!(px, [want, want, 77], "{name}: pixel {i}");
        }
    }
}

#[test]
fn autocontrast_stretches_a_known_range() {
    let img = grey_row(&[50, 100, 150, 75]);
    for (name, out) in run_u8("[[ops]]\nop = \"autocontrast\"\np = 1.0", &img) {
        let got: Vec<u8> = out.chunks(3).map(|p| p[0]).collect();
        // (x - 50) / 100: 0, 0.5 -> 128 (half up), 1, 0.25 -> 64.
        assert_eq!(got, vec![0, 128, 255, 64], "{name}");
    }
    // A flat channel is left as it is.
    let flat = grey_row(&[90, 90, 90]);
    for (name, out) in run_u8("[[ops]]\nop = \"autocontrast\"\np = 1.0", &flat) {
        assert!(out.iter().all(|&v| v == 90), "{name}");
    }
}

#[test]
fn blur_of_an_impulse_is_the_normalised_gaussian() {
    let mut img = RgbImage::new(15, 15);
    img.put_pixel(7, 7, image::Rgb([255, 255, 255]));
    let p = pipeline("size = 15\nformat = \"f32_chw\"\n[[ops]]\nop = \"gaussian_blur\"\nkernel_size = 5\nsigma = 1.0\n[[ops]]\nop = \"normalize\"\nmean = 0\nstd = 1");
    let w: Vec<f64> = (-2..=2)
        .map(|i: i32| (-0.5 * (i * i) as f64).exp())
        .collect();
    let sum: f64 = w.iter().sum();
    for (name, aug) in backends(&p) {
        let b = aug
            .augment(Request::new(std::slice::from_ref(&img)).key(BatchKey::default()))
            .expect("batch");
        let Tensor::F32(v) = &b.data else { panic!() };
        for y in 0..15 {
            for x in 0..15 {
                let (dx, dy) = (x as i32 - 7, y as i32 - 7);
                let want = if dx.abs() <= 2 && dy.abs() <= 2 {
                    w[(dx + 2) as usize] * w[(dy + 2) as usize] / (sum * sum)
                } else {
                    0.0
                };
                let got = v[y * 15 + x] as f64;
                assert!(
                    (got - want).abs() < 1e-6,
                    "{name}: ({x}, {y}) {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn sharpness_zero_is_the_smoothed_image_inside_and_keeps_the_border() {
    let img = RgbImage::from_fn(5, 4, |x, y| {
        let v = ((x * 37 + y * 91) % 256) as u8;
        image::Rgb([v, v, v])
    });
    for (name, out) in run_u8("[[ops]]\nop = \"sharpness\"\nfactor = 0.0\np = 1.0", &img) {
        for y in 0..4u32 {
            for x in 0..5u32 {
                let got = out[((y * 5 + x) * 3) as usize];
                let c = img.get_pixel(x, y)[0] as f64;
                let want = if x == 0 || y == 0 || x == 4 || y == 3 {
                    c
                } else {
                    let mut s = 0.0;
                    for dy in -1i32..=1 {
                        for dx in -1i32..=1 {
                            if dx != 0 || dy != 0 {
                                s += img.get_pixel((x as i32 + dx) as u32, (y as i32 + dy) as u32)
                                    [0] as f64;
                            }
                        }
                    }
                    (s + 5.0 * c) / 13.0
                };
                assert!(
                    (got as f64 - want).abs() <= 0.5 + 1e-3,
                    "{name}: ({x}, {y}) {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn gaussian_noise_has_the_given_sigma() {
    let img = RgbImage::from_pixel(64, 64, image::Rgb([128; 3]));
    let p = pipeline("size = 64\nformat = \"f32_chw\"\n[[ops]]\nop = \"gaussian_noise\"\nsigma = 0.05\n[[ops]]\nop = \"normalize\"\nmean = 0\nstd = 1");
    for (name, aug) in backends(&p) {
        let imgs = vec![img.clone(); 8];
        let b = aug
            .augment(Request::new(&imgs).key(BatchKey::new(3, 0, 0)))
            .expect("batch");
        let Tensor::F32(v) = &b.data else { panic!() };
        let x0 = 128.0 / 255.0;
        let d: Vec<f64> = v.iter().map(|&o| o as f64 - x0).collect();
        let n = d.len() as f64;
        let mean = d.iter().sum::<f64>() / n;
        let std = (d.iter().map(|x| x * x).sum::<f64>() / n - mean * mean).sqrt();
        assert!(mean.abs() < 0.002, "{name}: mean {mean}");
        assert!((std - 0.05).abs() < 0.0025, "{name}: std {std}");
    }
}

#[test]
fn random_erasing_fills_its_box_and_nothing_else() {
    let img = RgbImage::from_pixel(40, 30, image::Rgb([200, 100, 50]));
    let p =
        pipeline("size = [30, 40]\n[[ops]]\nop = \"random_erasing\"\np = 1.0\nvalue = [1, 2, 3]");
    for (name, aug) in backends(&p) {
        for seed in 0..5 {
            let b = aug
                .augment(Request::new(std::slice::from_ref(&img)).key(BatchKey::new(seed, 0, 0)))
                .expect("batch");
            let Drawn::RandomErasing {
                applied,
                top,
                left,
                height,
                width,
                ..
            } = b.records[0].ops[0]
            else {
                panic!()
            };
            assert!(applied);
            let area = (height * width) as f64 / 1200.0;
            assert!(
                (0.02 - 1e-3..=0.33 + 0.05).contains(&area),
                "{name}: area {area}"
            );
            let Tensor::U8(v) = &b.data else { panic!() };
            for y in 0..30i64 {
                for x in 0..40i64 {
                    let inside = y >= top && y < top + height && x >= left && x < left + width;
                    let px = &v[((y * 40 + x) * 3) as usize..][..3];
                    assert_eq!(
                        px,
                        if inside { [1, 2, 3] } else { [200, 100, 50] },
                        "{name}: ({x}, {y})"
                    );
                }
            }
        }
    }
}

#[test]
fn perspective_without_distortion_is_the_identity() {
    let img = gpu_augment::synthetic_image(4, 37, 29);
    let out = run_u8(
        "[[ops]]\nop = \"perspective\"\ndistortion = 0.0\np = 1.0",
        &img,
    );
    for (name, v) in out {
        assert!(
            v == img.as_raw().clone(),
            "{name}: distortion 0 changed the image"
        );
    }
}
