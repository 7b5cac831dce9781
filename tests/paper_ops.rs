//! The seed papers' ops: `cutout` (DeVries & Taylor 2017), `colorful_cutout`
//! (Colorful Cutout) and `rotation_label` (Lee et al. 2020). Hand-computed
//! cases, exact CPU vs GPU parity (all three are integer-only: pixel copies
//! and fills, so the tolerance is zero), the hole-area and k frequency
//! properties, the joint labels (also mixed), bad keys, and the CLI.

mod common;

use common::{gpu, test_images};
use gpu_augment::{
    Augmenter, Backend, Batch, BatchKey, Drawn, Labels, Pipeline, Request, RgbImage, Tensor,
};
use std::process::Command;

fn pipeline(text: &str) -> Pipeline {
    Pipeline::from_toml(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The CPU backend, and the GPU one when an adapter exists (CI: always).
fn backends(p: &Pipeline) -> Vec<(&'static str, Augmenter)> {
    let mut v = vec![(
        "cpu",
        Augmenter::new(p.clone(), Backend::Cpu).expect("cpu augmenter"),
    )];
    if let Some(g) = gpu() {
        v.push(("gpu", Augmenter::with_gpu(p.clone(), g).expect("gpu")));
    }
    v
}

fn u8_data(b: &Batch) -> &[u8] {
    match &b.data {
        Tensor::U8(v) => v,
        _ => panic!("expected u8 output"),
    }
}

/// An image whose every pixel differs: (x, y) -> [x, y, 7x + 13y].
fn asymmetric(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([x as u8, y as u8, ((7 * x + 13 * y) % 256) as u8])
    })
}

/// The clipped box [x0, x1) x [y0, y1) of a hole centred at `c`.
fn hole_box(c: [i64; 2], length: i64, w: i64, h: i64) -> [i64; 4] {
    let (x0, y0) = (c[0] - length / 2, c[1] - length / 2);
    [
        x0.clamp(0, w),
        y0.clamp(0, h),
        (x0 + length).clamp(0, w),
        (y0 + length).clamp(0, h),
    ]
}

fn inside(b: &[i64; 4], x: i64, y: i64) -> bool {
    x >= b[0] && x < b[2] && y >= b[1] && y < b[3]
}

#[test]
fn cutout_fills_exactly_its_drawn_holes() {
    let img = RgbImage::from_pixel(40, 30, image::Rgb([200, 100, 50]));
    let p = pipeline(
        "size = [30, 40]\n[[ops]]\nop = \"cutout\"\nn_holes = 3\nlength = 10\nvalue = [1, 2, 3]",
    );
    for (name, aug) in backends(&p) {
        for seed in 0..6 {
            let b = aug
                .augment(Request::new(std::slice::from_ref(&img)).key(BatchKey::new(seed, 0, 0)))
                .expect("batch");
            let Drawn::Cutout {
                applied,
                length,
                centers,
            } = &b.records[0].ops[0]
            else {
                panic!("{name}: record {:?}", b.records[0].ops[0])
            };
            assert!(applied);
            assert_eq!(*length, 10);
            assert_eq!(centers.len(), 3);
            let boxes: Vec<[i64; 4]> = centers.iter().map(|c| hole_box(*c, 10, 40, 30)).collect();
            for c in centers {
                assert!((0..40).contains(&c[0]) && (0..30).contains(&c[1]), "{c:?}");
            }
            let v = u8_data(&b);
            for y in 0..30i64 {
                for x in 0..40i64 {
                    let hit = boxes.iter().any(|bx| inside(bx, x, y));
                    let px = &v[((y * 40 + x) * 3) as usize..][..3];
                    assert_eq!(
                        px,
                        if hit { [1, 2, 3] } else { [200, 100, 50] },
                        "{name} seed {seed}: ({x}, {y})"
                    );
                }
            }
        }
    }
}

#[test]
fn cutout_hand_computed_hole_clipped_at_the_corner() {
    // A hole of side 4 centred at (1, 0): columns -1..3 and rows -2..2, clipped
    // to columns 0..3 and rows 0..2.
    let img = asymmetric(6, 5);
    let p = pipeline("size = [5, 6]\n[[ops]]\nop = \"cutout\"\nvalue = 9\nlength = 4");
    let params = vec![vec![Drawn::Cutout {
        applied: true,
        length: 4,
        centers: vec![[1, 0]],
    }]];
    for (name, aug) in backends(&p) {
        let b = aug
            .augment(Request::new(std::slice::from_ref(&img)).params(&params))
            .expect("batch");
        let v = u8_data(&b);
        for y in 0..5u32 {
            for x in 0..6u32 {
                let px = &v[((y * 6 + x) * 3) as usize..][..3];
                let want = if x < 3 && y < 2 {
                    [9, 9, 9]
                } else {
                    img.get_pixel(x, y).0
                };
                assert_eq!(px, want, "{name}: ({x}, {y})");
            }
        }
    }
}

#[test]
fn colorful_cutout_2x2_grid_has_four_colours_in_the_quadrants() {
    // A hole of side 8 at centre (10, 6): columns 6..14, rows 2..10; its
    // quadrants are 4 x 4 each.
    let img = RgbImage::from_pixel(20, 16, image::Rgb([1, 2, 3]));
    let p = pipeline("size = [16, 20]\n[[ops]]\nop = \"colorful_cutout\"\nlength = 8\ngrid = 2");
    let mut outs = Vec::new();
    for seed in [5u64, 77] {
        let params = vec![vec![Drawn::ColorfulCutout {
            applied: true,
            length: 8,
            grid: 2,
            centers: vec![[10, 6]],
            seed,
        }]];
        for (name, aug) in backends(&p) {
            let b = aug
                .augment(Request::new(std::slice::from_ref(&img)).params(&params))
                .expect("batch");
            let v = u8_data(&b).to_vec();
            let at = |x: u32, y: u32| -> [u8; 3] {
                let i = ((y * 20 + x) * 3) as usize;
                [v[i], v[i + 1], v[i + 2]]
            };
            let mut colours = Vec::new();
            for (qx, qy) in [(6, 2), (10, 2), (6, 6), (10, 6)] {
                let c = at(qx, qy);
                for y in qy..qy + 4 {
                    for x in qx..qx + 4 {
                        assert_eq!(at(x, y), c, "{name}: quadrant ({qx}, {qy}) not uniform");
                    }
                }
                colours.push(c);
            }
            for i in 0..4 {
                for j in i + 1..4 {
                    assert_ne!(colours[i], colours[j], "{name}: quadrants {i} and {j}");
                }
            }
            for y in 0..16 {
                for x in 0..20 {
                    if !((6..14).contains(&x) && (2..10).contains(&y)) {
                        assert_eq!(at(x, y), [1, 2, 3], "{name}: ({x}, {y}) outside");
                    }
                }
            }
            outs.push((seed, name, colours));
        }
    }
    // Backends agree; another seed gives other colours.
    let first: Vec<_> = outs.iter().filter(|o| o.0 == 5).collect();
    let second: Vec<_> = outs.iter().filter(|o| o.0 == 77).collect();
    for o in &first[1..] {
        assert_eq!(o.2, first[0].2, "backends disagree");
    }
    assert_ne!(first[0].2, second[0].2, "colours do not depend on the seed");
}

#[test]
fn colorful_cutout_colours_are_uniform_over_0_255() {
    // One big hole of a 16 x 16 grid over a 64 x 64 canvas: 256 cells x 3
    // channels, each uniform in 0..255 (mean 127.5, std 73.9).
    let img = RgbImage::new(64, 64);
    let p = pipeline("size = 64\n[[ops]]\nop = \"colorful_cutout\"\nlength = 64\ngrid = 16");
    let params = vec![vec![Drawn::ColorfulCutout {
        applied: true,
        length: 64,
        grid: 16,
        centers: vec![[32, 32]],
        seed: 1234,
    }]];
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let b = aug
        .augment(Request::new(std::slice::from_ref(&img)).params(&params))
        .unwrap();
    let v = u8_data(&b);
    let mut vals = Vec::new();
    for cy in 0..16 {
        for cx in 0..16 {
            let i = ((cy * 4 * 64 + cx * 4) * 3) as usize;
            vals.extend_from_slice(&v[i..i + 3]);
        }
    }
    let n = vals.len() as f64;
    let mean = vals.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = vals.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    assert!((mean - 127.5).abs() < 8.0, "mean {mean}");
    assert!((var.sqrt() - 73.9).abs() < 6.0, "std {}", var.sqrt());
    assert!(vals.iter().any(|&x| x < 16) && vals.iter().any(|&x| x > 240));
}

/// numpy's rot90(a, k) of an H x W x 3 image.
fn rot90(img: &RgbImage, k: u32) -> RgbImage {
    let mut out = img.clone();
    for _ in 0..k % 4 {
        let (w, h) = out.dimensions();
        // out'[i][j] = out[j][W - 1 - i], shape W x H.
        out = RgbImage::from_fn(h, w, |j, i| *out.get_pixel(w - 1 - i, j));
    }
    out
}

#[test]
fn rotation_label_is_numpy_rot90_exactly() {
    let img = asymmetric(5, 3);
    for k in 0..4u32 {
        let want = rot90(&img, k);
        let (w, h) = want.dimensions();
        let p = pipeline(&format!(
            "size = [{h}, {w}]\n[[ops]]\nop = \"rotation_label\""
        ));
        let params = vec![vec![Drawn::RotationLabel { k }]];
        for (name, aug) in backends(&p) {
            let b = aug
                .augment(Request::new(std::slice::from_ref(&img)).params(&params))
                .expect("batch");
            assert_eq!(
                u8_data(&b),
                want.as_raw().as_slice(),
                "{name}: k = {k} is not rot90"
            );
        }
    }
    // k = 1 by hand: the top row of the output is the input's last column.
    let r = rot90(&img, 1);
    assert_eq!(r.dimensions(), (3, 5));
    assert_eq!(r.get_pixel(0, 0).0, img.get_pixel(4, 0).0);
    assert_eq!(r.get_pixel(2, 0).0, img.get_pixel(4, 2).0);
    assert_eq!(r.get_pixel(0, 4).0, img.get_pixel(0, 0).0);
}

#[test]
fn rotation_label_after_a_crop_and_flip_composes() {
    // crop then flip then rotate == rot90(flip(crop)).
    let img = asymmetric(9, 7);
    let p = pipeline(
        "size = 4\n[[ops]]\nop = \"crop\"\ntop = 1\nleft = 2\nheight = 4\nwidth = 4\n[[ops]]\nop = \"horizontal_flip\"\n[[ops]]\nop = \"rotation_label\"",
    );
    let crop = image::imageops::crop_imm(&img, 2, 1, 4, 4).to_image();
    let flipped = image::imageops::flip_horizontal(&crop);
    for k in 0..4 {
        let params = vec![vec![
            Drawn::Crop {
                top: 1,
                left: 2,
                height: 4,
                width: 4,
            },
            Drawn::HorizontalFlip { applied: true },
            Drawn::RotationLabel { k },
        ]];
        for (name, aug) in backends(&p) {
            let b = aug
                .augment(Request::new(std::slice::from_ref(&img)).params(&params))
                .expect("batch");
            assert_eq!(
                u8_data(&b),
                rot90(&flipped, k).as_raw().as_slice(),
                "{name}: k = {k}"
            );
        }
    }
}

#[test]
fn the_three_ops_agree_exactly_between_backends() {
    let Some(g) = gpu() else { return };
    let images = test_images();
    for text in [
        "size = [40, 36]\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"cutout\"\nn_holes = 4\nlength = 9\nvalue = [0, 128, 255]",
        "size = [40, 36]\n[[ops]]\nop = \"center_crop\"\nsize = [40, 36]\n[[ops]]\nop = \"colorful_cutout\"\nn_holes = 3\nlength = 17\ngrid = 4",
        "size = 24\n[[ops]]\nop = \"random_crop\"\nsize = 24\npad_if_needed = true\n[[ops]]\nop = \"rotation_label\"",
        "size = 24\nviews = 4\n[[ops]]\nop = \"center_crop\"\nsize = 24\n[[ops]]\nop = \"rotation_label\"\nall_views = true\n[[ops]]\nop = \"colorful_cutout\"\ngrid = 3\nlength = 10\n[[ops]]\nop = \"cutout\"\nlength = 6",
    ] {
        let p = pipeline(text);
        let cpu = Augmenter::new(p.clone(), Backend::Cpu).unwrap();
        let gpu = Augmenter::with_gpu(p, g.clone()).unwrap();
        for seed in [0u64, 3, 99] {
            let key = BatchKey::new(seed, 1, seed * 10);
            let a = cpu.augment(Request::new(&images).key(key)).unwrap();
            let b = gpu.augment(Request::new(&images).key(key)).unwrap();
            assert_eq!(a.records, b.records, "{text}");
            assert_eq!(a.data, b.data, "{text} seed {seed}: not exactly equal");
        }
    }
}

#[test]
fn identities_leave_the_image_unchanged() {
    let img = asymmetric(12, 10);
    for text in [
        "[[ops]]\nop = \"cutout\"\nn_holes = 0",
        "[[ops]]\nop = \"cutout\"\nlength = 0",
        "[[ops]]\nop = \"cutout\"\np = 0.0",
        "[[ops]]\nop = \"colorful_cutout\"\nn_holes = 0",
        "[[ops]]\nop = \"colorful_cutout\"\np = 0.0",
    ] {
        let p = pipeline(&format!("size = [10, 12]\n{text}"));
        for (name, aug) in backends(&p) {
            for seed in 0..3 {
                let b = aug
                    .augment(
                        Request::new(std::slice::from_ref(&img)).key(BatchKey::new(seed, 0, 0)),
                    )
                    .unwrap();
                assert_eq!(u8_data(&b), img.as_raw().as_slice(), "{name}: {text}");
            }
        }
    }
}

#[test]
fn cutout_hole_area_matches_its_expectation() {
    // One hole of side 12 on a 40 x 30 canvas: the covered fraction's
    // expectation is E[clipped width] E[clipped height] / (40 * 30), the
    // centres uniform over the canvas.
    let (w, h, l) = (40i64, 30i64, 12i64);
    let mean_len = |n: i64| -> f64 {
        (0..n)
            .map(|c| ((c - l / 2 + l).min(n) - (c - l / 2).max(0)) as f64)
            .sum::<f64>()
            / n as f64
    };
    let expected = mean_len(w) * mean_len(h) / (w * h) as f64;
    let p = pipeline("size = [30, 40]\n[[ops]]\nop = \"cutout\"\nlength = 12\nvalue = 255");
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let images = vec![RgbImage::new(40, 30); 50];
    let mut fracs = Vec::new();
    for first in 0..8 {
        let b = aug
            .augment(Request::new(&images).key(BatchKey::new(9, 0, first * 50)))
            .unwrap();
        let v = u8_data(&b);
        for s in v.chunks_exact((w * h * 3) as usize) {
            let n = s.chunks_exact(3).filter(|p| p[0] == 255).count();
            fracs.push(n as f64 / (w * h) as f64);
        }
    }
    let mean = fracs.iter().sum::<f64>() / fracs.len() as f64;
    // 400 samples; the fraction's std is below 0.04, so 4 standard errors < 0.008.
    assert!(
        (mean - expected).abs() < 0.008,
        "mean area {mean}, expected {expected}"
    );
}

#[test]
fn rotation_k_is_uniform_and_the_record_holds_it() {
    let p = pipeline("size = 8\n[[ops]]\nop = \"rotation_label\"");
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let images = vec![asymmetric(8, 8); 400];
    let records = aug
        .draw(&Request::new(&images).key(BatchKey::new(4, 2, 0)))
        .unwrap();
    let mut counts = [0usize; 4];
    for r in &records {
        let Drawn::RotationLabel { k } = r.ops[0] else {
            panic!()
        };
        counts[k as usize] += 1;
    }
    // Binomial(400, 1/4): std 8.7; 4 sigma.
    for c in counts {
        assert!((100 - 35..=100 + 35).contains(&c), "counts {counts:?}");
    }
}

fn one_hot_rows(b: &Batch) -> Vec<usize> {
    let l = b.labels.as_ref().expect("labels");
    (0..l.rows())
        .map(|i| {
            let row = l.row(i).unwrap();
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            row.iter().position(|&x| x == 1.0).expect("one-hot")
        })
        .collect()
}

#[test]
fn rotation_label_makes_joint_labels() {
    let images = vec![asymmetric(8, 8), asymmetric(8, 8), asymmetric(8, 8)];
    let classes = [3u32, 0, 4];
    // Drawn k.
    let p = pipeline("size = 8\n[[ops]]\nop = \"rotation_label\"");
    for (name, aug) in backends(&p) {
        let b =
            aug.augment(Request::new(&images).key(BatchKey::new(1, 0, 0)).labels(
                Labels::Classes {
                    classes: &classes,
                    num_classes: 5,
                },
            ))
            .unwrap();
        assert_eq!(b.labels.as_ref().unwrap().num_classes, 20, "{name}");
        let hot = one_hot_rows(&b);
        for (i, r) in b.records.iter().enumerate() {
            let Drawn::RotationLabel { k } = r.ops[0] else {
                panic!()
            };
            assert_eq!(hot[i], classes[i] as usize * 4 + k as usize, "{name}");
        }
    }
    // The four rotations as views: view v has k = v.
    let p = pipeline("size = 8\nviews = 4\n[[ops]]\nop = \"rotation_label\"\nall_views = true");
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let b = aug
        .augment(Request::new(&images).labels(Labels::Classes {
            classes: &classes,
            num_classes: 5,
        }))
        .unwrap();
    let hot = one_hot_rows(&b);
    for (o, r) in b.records.iter().enumerate() {
        assert_eq!(r.view as usize, o % 4);
        assert_eq!(r.ops[0], Drawn::RotationLabel { k: r.view });
        assert_eq!(hot[o], classes[o / 4] as usize * 4 + o % 4);
    }
    // Each view is the image turned by its quarter turns.
    for v in 0..4 {
        let s = &u8_data(&b)[v * 192..(v + 1) * 192];
        assert_eq!(s, rot90(&images[0], v as u32).as_raw().as_slice());
    }
    // Soft labels: a row's mass moves to its class's k column.
    let soft = [0.25f32, 0.75, 0.0, 1.0, 0.5, 0.5];
    let p = pipeline("size = 8\n[[ops]]\nop = \"rotation_label\"");
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let b = aug
        .augment(
            Request::new(&images[..3])
                .key(BatchKey::new(2, 0, 0))
                .labels(Labels::Soft {
                    rows: &soft,
                    num_classes: 2,
                }),
        )
        .unwrap();
    let l = b.labels.unwrap();
    assert_eq!(l.num_classes, 8);
    for (i, r) in b.records.iter().enumerate() {
        let Drawn::RotationLabel { k } = r.ops[0] else {
            panic!()
        };
        let mut want = [0.0f32; 8];
        want[k as usize] = soft[2 * i];
        want[4 + k as usize] = soft[2 * i + 1];
        assert_eq!(l.row(i).unwrap(), want);
    }
}

#[test]
fn rotation_labels_mix_as_joint_rows() {
    let images: Vec<RgbImage> = (0..6)
        .map(|i| gpu_augment::synthetic_image(i, 16, 16))
        .collect();
    let classes = [0u32, 1, 2, 0, 1, 2];
    for mixer in ["mixup", "cutmix"] {
        let p = pipeline(&format!(
            "size = 16\n[[ops]]\nop = \"rotation_label\"\n[[ops]]\nop = \"{mixer}\"\nnum_classes = 3"
        ));
        for (name, aug) in backends(&p) {
            let b = aug
                .augment(Request::new(&images).key(BatchKey::new(8, 0, 0)).labels(
                    Labels::Classes {
                        classes: &classes,
                        num_classes: 3,
                    },
                ))
                .unwrap();
            let l = b.labels.as_ref().unwrap();
            assert_eq!(l.num_classes, 12, "{name} {mixer}");
            let k = |o: usize| match b.records[o].ops[0] {
                Drawn::RotationLabel { k } => k as usize,
                _ => panic!(),
            };
            let mut mixed = 0;
            for o in 0..6 {
                let m = b.records[o].mix.as_ref().unwrap();
                let j = m.partner;
                let mut want = [0.0f64; 12];
                want[classes[o] as usize * 4 + k(o)] += m.lam;
                want[classes[j] as usize * 4 + k(j)] += 1.0 - m.lam;
                let row = l.row(o).unwrap();
                for c in 0..12 {
                    assert!(
                        (row[c] as f64 - want[c]).abs() < 1e-6,
                        "{name} {mixer} sample {o}: {row:?} vs {want:?}"
                    );
                }
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                if m.lam > 0.01 && m.lam < 0.99 {
                    mixed += 1;
                }
            }
            assert!(mixed > 0, "{mixer}: nothing was mixed");
        }
    }
}

fn refused(text: &str, parts: &[&str]) {
    let e = Pipeline::from_toml(text)
        .err()
        .unwrap_or_else(|| panic!("accepted: {text}"));
    let msg = e.to_string();
    for p in parts {
        assert!(msg.contains(p), "`{msg}` does not name {p:?} ({text})");
    }
}

#[test]
fn bad_keys_are_clear_errors() {
    let s = "size = 16\n[[ops]]\n";
    refused(
        &format!("{s}op = \"cutout\"\nn_holes = 17"),
        &["cutout", "n_holes", "17"],
    );
    refused(
        &format!("{s}op = \"cutout\"\nn_holes = 1.5"),
        &["cutout", "n_holes", "1.5"],
    );
    refused(
        &format!("{s}op = \"cutout\"\nlength = -3"),
        &["cutout", "length", "-3"],
    );
    refused(
        &format!("{s}op = \"cutout\"\nvalue = [0, 300, 0]"),
        &["cutout", "value", "300"],
    );
    refused(
        &format!("{s}op = \"cutout\"\nvalue = 12.5"),
        &["cutout", "value", "12.5"],
    );
    refused(
        &format!("{s}op = \"cutout\"\np = 2"),
        &["cutout", "`p`", "2"],
    );
    refused(
        &format!("{s}op = \"cutout\"\nsize = 0.5"),
        &["cutout", "size", "n_holes, length, value, p"],
    );
    refused(
        &format!("{s}op = \"colorful_cutout\"\ngrid = 0"),
        &["colorful_cutout", "grid", "0"],
    );
    refused(
        &format!("{s}op = \"colorful_cutout\"\ngrid = 65"),
        &["colorful_cutout", "grid", "65"],
    );
    refused(
        &format!("{s}op = \"rotation_label\"\nall_views = 1"),
        &["rotation_label", "all_views", "1"],
    );
    refused(
        &format!("{s}op = \"rotation_label\"\nk = 1"),
        &["rotation_label", "k"],
    );
    refused(
        "size = 16\nviews = 2\n[[ops]]\nop = \"rotation_label\"\nall_views = true",
        &["rotation_label", "all_views", "views = 4", "views = 2"],
    );
    refused(
        &format!("{s}op = \"rotation_label\"\n[[ops]]\nop = \"rotation_label\""),
        &["rotation_label", "once"],
    );
    // More holes than the colour program holds.
    refused(
        &format!(
            "{s}op = \"cutout\"\nn_holes = 10\n[[ops]]\nop = \"colorful_cutout\"\nn_holes = 10"
        ),
        &["colour steps", "20"],
    );
    // Explicit parameters: a k outside 0..3 names the op.
    let p = pipeline("size = 4\n[[ops]]\nop = \"rotation_label\"");
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let img = asymmetric(4, 4);
    let params = vec![vec![Drawn::RotationLabel { k: 5 }]];
    let e = match aug.augment(Request::new(std::slice::from_ref(&img)).params(&params)) {
        Ok(_) => panic!("k = 5 accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("rotation_label") && e.contains("k") && e.contains('5'),
        "{e}"
    );
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gpu-augment"))
}

#[test]
fn apply_runs_the_three_ops() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.png");
    asymmetric(6, 4).save(&input).unwrap();
    let cases: [(&str, &[&str]); 3] = [
        ("cutout", &["length=2", "value=7", "centers=1,1,5,3"]),
        ("colorful_cutout", &["length=4", "grid=2", "seed=3"]),
        ("rotation_label", &["k=1"]),
    ];
    for (op, sets) in cases {
        let out = tmp.path().join(format!("{op}.png"));
        let mut c = bin();
        c.args(["apply", "--backend", "cpu", "--op", op]);
        for s in sets {
            c.args(["--set", s]);
        }
        let o = c.arg(&input).arg(&out).output().unwrap();
        assert!(
            o.status.success(),
            "{op}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let img = image::open(&out).unwrap().to_rgb8();
        let src = asymmetric(6, 4);
        match op {
            "cutout" => {
                // Holes of side 2 at (1, 1) and (5, 3): pixels (0..2, 0..2) and (4..6, 2..4).
                for y in 0..4 {
                    for x in 0..6 {
                        let hit = (x < 2 && y < 2) || (x >= 4 && y >= 2);
                        let want = if hit { [7; 3] } else { src.get_pixel(x, y).0 };
                        assert_eq!(img.get_pixel(x, y).0, want, "({x}, {y})");
                    }
                }
            }
            "rotation_label" => assert_eq!(img, rot90(&src, 1)),
            _ => {
                assert_eq!(img.dimensions(), (6, 4));
                assert_ne!(img, src);
            }
        }
    }
    let o = bin()
        .args([
            "apply",
            "--backend",
            "cpu",
            "--op",
            "rotation_label",
            "--set",
            "k=4",
        ])
        .arg(&input)
        .arg(tmp.path().join("bad.png"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("rotation_label") && err.contains("`k`"),
        "{err}"
    );
}

#[test]
fn run_writes_joint_labels_and_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    for (i, c) in ["cat", "dog", "cat", "dog"].iter().enumerate() {
        std::fs::create_dir_all(input.join(c)).unwrap();
        gpu_augment::synthetic_image(i as u64, 12, 12)
            .save(input.join(c).join(format!("im{i}.png")))
            .unwrap();
    }
    let out = tmp.path().join("out");
    let pfile = tmp.path().join("p.toml");
    std::fs::write(
        &pfile,
        "size = 12\nviews = 4\n[[ops]]\nop = \"rotation_label\"\nall_views = true\n[[ops]]\nop = \"mixup\"\nnum_classes = 2",
    )
    .unwrap();
    let o = bin()
        .args(["run", "--backend", "cpu", "--batch-size", "2", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .arg("--pipeline")
        .arg(&pfile)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let classes = std::fs::read_to_string(out.join("classes.txt")).unwrap();
    assert_eq!(
        classes,
        "cat@0\ncat@90\ncat@180\ncat@270\ndog@0\ndog@90\ndog@180\ndog@270\n"
    );
    let text = std::fs::read_to_string(out.join("labels.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 16);
    for l in &lines {
        let row: Vec<f64> = l["label"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(row.len(), 8);
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5);
        // The sample's own k (its view) carries at least lam of its class's mass.
        let view = l["view"].as_u64().unwrap() as usize;
        let class = if l["file"].as_str().unwrap().starts_with("cat") {
            0
        } else {
            1
        };
        assert!(row[class * 4 + view] > 0.0, "{l}");
    }
}

#[test]
fn rotation_label_moves_boxes_keypoints_and_masks() {
    use gpu_augment::{BoxFormat, Boxes, Keypoints, Mask, Targets};
    let (w, h) = (40u32, 30u32);
    let img = asymmetric(w, h);
    let mask = Mask::u8(
        w,
        h,
        (0..h)
            .flat_map(|y| (0..w).map(move |x| ((x + 7 * y) % 250) as u8))
            .collect(),
    );
    let t = vec![Targets {
        masks: vec![mask.clone()],
        boxes: Some(Boxes::new(
            BoxFormat::Xyxy,
            vec![[5.0, 6.0, 15.0, 20.0]],
            vec![0],
        )),
        keypoints: Some(Keypoints {
            points: vec![[5.5, 7.5, 2.0]],
        }),
    }];
    // k = 1 (counter-clockwise): source (x, y) lands on (y, W - x).
    let p = pipeline("size = [40, 30]\n[[ops]]\nop = \"rotation_label\"");
    let params = vec![vec![Drawn::RotationLabel { k: 1 }]];
    for (name, aug) in backends(&p) {
        let b = aug
            .augment(
                Request::new(std::slice::from_ref(&img))
                    .params(&params)
                    .targets(&t),
            )
            .expect("batch");
        let st = &b.targets.as_ref().unwrap()[0];
        let bx = st.boxes.as_ref().unwrap().coords[0];
        let want = [6.0, 25.0, 20.0, 35.0];
        for k in 0..4 {
            assert!((bx[k] - want[k]).abs() < 1e-9, "{name}: box {bx:?}");
        }
        let kp = st.keypoints.as_ref().unwrap().points[0];
        assert!(
            (kp[0] - 7.5).abs() < 1e-9 && (kp[1] - 34.5).abs() < 1e-9,
            "{name}: {kp:?}"
        );
        let m = &st.masks[0];
        assert_eq!((m.width, m.height), (h, w), "{name}");
        for y in 0..w {
            for x in 0..h {
                assert_eq!(
                    m.get(x, y),
                    mask.get(w - 1 - y, x),
                    "{name}: mask ({x}, {y})"
                );
            }
        }
    }
}
