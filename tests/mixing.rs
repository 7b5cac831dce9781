//! Batch mixing (MixUp, CutMix, ResizeMix, mix_one_of), soft labels and
//! multi-view output, on the CPU reference and (where an adapter exists) the
//! GPU.
//!
//! Tolerances: mixing copies (cutmix boxes, unmixed pixels) are exact; blends
//! and resizes follow the parity rule of tests/common (u8: |diff| <= 1, at most
//! 0.1% beyond; f32 compared in u8 units after undoing the normalisation);
//! label rows sum to 1 within 1e-6.

mod common;

use common::{gpu, test_images};
use gpu_augment::mix::{MixKind, MixRecord};
use gpu_augment::synthetic_image;
use gpu_augment::{
    Augmenter, Backend, Batch, BatchKey, Labels, Mix, Mixer, Pipeline, Request, RgbImage, Size,
    Tensor,
};

const PER_SAMPLE: &str = r#"
[[ops]]
op = "random_resized_crop"
scale = [0.3, 1.0]
[[ops]]
op = "horizontal_flip"
[[ops]]
op = "color_jitter"
brightness = 0.4
saturation = 0.4
"#;

fn pipeline(head: &str, mix: &str) -> Pipeline {
    let text = format!("{head}\n{PER_SAMPLE}\n{mix}");
    Pipeline::from_toml(&text).unwrap_or_else(|e| panic!("{text}\n{e}"))
}

fn cpu(p: &Pipeline) -> Augmenter {
    Augmenter::new(p.clone(), Backend::Cpu).expect("cpu augmenter")
}

/// The same pipeline without its mixing step.
fn unmixed(p: &Pipeline) -> Pipeline {
    let mut q = p.clone();
    q.mix = None;
    q
}

fn images(n: u64) -> Vec<RgbImage> {
    (0..n)
        .map(|i| synthetic_image(i, 60 + 13 * i as u32 % 50, 48 + 7 * i as u32 % 30))
        .collect()
}

const MIXUP: &str = "[[ops]]\nop = \"mixup\"\nalpha = 1.0\nnum_classes = 5";
const CUTMIX: &str = "[[ops]]\nop = \"cutmix\"\nalpha = 1.0\nnum_classes = 5";
const RESIZEMIX: &str = "[[ops]]\nop = \"resizemix\"\ntau = [0.1, 0.8]\nnum_classes = 5";
/// Pastes of a few pixels: some shrink the partner beyond the resampler's reach.
const RESIZEMIX_TINY: &str = "[[ops]]\nop = \"resizemix\"\ntau = [0.01, 0.06]\nnum_classes = 5";
const ONE_OF: &str = r#"[[ops]]
op = "mix_one_of"
num_classes = 5
mixers = [{ op = "mixup", alpha = 0.8, p = 0.4 }, { op = "cutmix", alpha = 1.0, p = 0.3 }, { op = "resizemix", p = 0.3 }]"#;

fn u8_values(b: &Batch) -> &[u8] {
    match &b.data {
        Tensor::U8(v) => v,
        _ => panic!("expected u8 output"),
    }
}

fn mixes(b: &Batch) -> Vec<MixRecord> {
    b.records
        .iter()
        .map(|r| r.mix.clone().expect("a mix record"))
        .collect()
}

#[test]
fn label_rows_sum_to_one_and_are_the_mix_of_the_partners() {
    let imgs = images(9);
    let classes: Vec<u32> = (0..9).map(|i| (i * 3 % 5) as u32).collect();
    // Soft input rows (label smoothing 0.1), each summing to 1.
    let soft: Vec<f32> = classes
        .iter()
        .flat_map(|&c| (0..5).map(move |k| if k == c { 0.92 } else { 0.02 }))
        .collect();
    for mix in [MIXUP, CUTMIX, RESIZEMIX, ONE_OF] {
        for per_batch in [false, true] {
            let mix = if per_batch {
                format!("{mix}\nper_batch = true")
            } else {
                mix.to_string()
            };
            let p = pipeline("size = 24", &mix);
            let aug = cpu(&p);
            for labels in [
                Labels::Classes {
                    classes: &classes,
                    num_classes: 5,
                },
                Labels::Soft {
                    rows: &soft,
                    num_classes: 5,
                },
            ] {
                let b = aug
                    .augment(
                        Request::new(&imgs)
                            .labels(labels)
                            .key(BatchKey::new(4, 1, 50)),
                    )
                    .unwrap();
                let l = b.labels.as_ref().expect("labels");
                assert_eq!(l.rows(), 9);
                let m = mixes(&b);
                for (i, r) in m.iter().enumerate() {
                    let row = l.row(i).unwrap();
                    let s: f64 = row.iter().map(|&x| x as f64).sum();
                    assert!((s - 1.0).abs() <= 1e-6, "{mix}: row {i} sums to {s}");
                    let y = |j: usize, k: usize| match labels {
                        Labels::Classes { classes, .. } => (classes[j] as usize == k) as u8 as f64,
                        Labels::Soft { rows, .. } => rows[j * 5 + k] as f64,
                    };
                    for (k, &v) in row.iter().enumerate() {
                        let want = r.lam * y(i, k) + (1.0 - r.lam) * y(r.partner, k);
                        assert!((v as f64 - want).abs() < 1e-6, "{mix}: row {i} class {k}");
                    }
                    if per_batch {
                        assert_eq!(r.lam, m[0].lam, "per_batch: one lambda per batch");
                    }
                }
            }
        }
    }
}

#[test]
fn mixup_pixels_are_the_blend_of_the_augmented_partners() {
    let imgs = images(7);
    for head in ["size = [20, 28]", "size = 24\nformat = \"f32_chw\""] {
        let p = pipeline(head, MIXUP);
        let key = BatchKey::new(9, 2, 300);
        let mixed = cpu(&p).augment(Request::new(&imgs).key(key)).unwrap();
        let plain = cpu(&unmixed(&p))
            .augment(Request::new(&imgs).key(key))
            .unwrap();
        let per = mixed.shape[1] * mixed.shape[2] * mixed.shape[3];
        let m = mixes(&mixed);
        let mut lams = Vec::new();
        for (i, r) in m.iter().enumerate() {
            assert_eq!(r.op, MixKind::Mixup);
            assert_ne!(r.partner, i, "a partner is another sample");
            lams.push(r.lam);
            let (a, b) = (i * per, r.partner * per);
            let l = r.lam;
            match (&mixed.data, &plain.data) {
                (Tensor::U8(o), Tensor::U8(x)) => {
                    for k in 0..per {
                        let want = l * x[a + k] as f64 + (1.0 - l) * x[b + k] as f64;
                        assert!(
                            (o[a + k] as f64 - want).abs() <= 0.5 + 1e-3,
                            "sample {i} value {k}: {} vs {want}",
                            o[a + k]
                        );
                    }
                }
                (Tensor::F32(o), Tensor::F32(x)) => {
                    for k in 0..per {
                        let want = l * x[a + k] as f64 + (1.0 - l) * x[b + k] as f64;
                        assert!((o[a + k] as f64 - want).abs() <= 1e-5);
                    }
                }
                _ => unreachable!(),
            }
        }
        assert!(
            lams.iter().any(|&l| (l - lams[0]).abs() > 1e-9),
            "per-sample lambdas"
        );
    }
}

#[test]
fn cutmix_lambda_is_exactly_the_area_taken_from_the_partner() {
    let imgs = images(8);
    for per_batch in ["", "\nper_batch = true"] {
        let p = pipeline("size = [30, 22]", &format!("{CUTMIX}{per_batch}"));
        let key = BatchKey::new(1, 0, 0);
        let mixed = cpu(&p).augment(Request::new(&imgs).key(key)).unwrap();
        let plain = cpu(&unmixed(&p))
            .augment(Request::new(&imgs).key(key))
            .unwrap();
        let (o, x) = (u8_values(&mixed), u8_values(&plain));
        let (h, w) = (30usize, 22usize);
        let per = h * w * 3;
        let mut areas = 0;
        for (i, r) in mixes(&mixed).iter().enumerate() {
            let g = r.region.expect("a box");
            let mut taken = 0usize;
            for y in 0..h {
                for xx in 0..w {
                    let inside = (g.top as usize..(g.top + g.height) as usize).contains(&y)
                        && (g.left as usize..(g.left + g.width) as usize).contains(&xx);
                    let at = (y * w + xx) * 3;
                    let from = if inside { r.partner } else { i };
                    assert_eq!(
                        o[i * per + at..i * per + at + 3],
                        x[from * per + at..from * per + at + 3],
                        "sample {i} pixel ({xx}, {y}) inside={inside}"
                    );
                    taken += inside as usize;
                }
            }
            assert_eq!(r.lam, 1.0 - taken as f64 / (h * w) as f64, "sample {i}");
            areas += taken;
        }
        assert!(areas > 0, "some box is not empty");
    }
}

#[test]
fn resizemix_pastes_the_partner_resized_by_the_core_and_lambda_is_the_pasted_area() {
    let imgs = images(6);
    // Pastes the resampler reaches, and pastes shrunk beyond its reach (more
    // than about 31x: the core's supersampled gather, in both).
    for (head, mix, tau) in [
        ("size = [40, 36]", RESIZEMIX, [0.1, 0.8]),
        ("size = [70, 66]", RESIZEMIX_TINY, [0.01, 0.06]),
    ] {
        let p = pipeline(head, mix);
        let (h, w) = (p.size.height as usize, p.size.width as usize);
        let per = h * w * 3;
        let mut far = 0;
        for seed in [5u64, 6] {
            let key = BatchKey::new(seed, 0, 10);
            let mixed = cpu(&p).augment(Request::new(&imgs).key(key)).unwrap();
            let plain = cpu(&unmixed(&p))
                .augment(Request::new(&imgs).key(key))
                .unwrap();
            let (o, x) = (u8_values(&mixed), u8_values(&plain));
            for (i, r) in mixes(&mixed).iter().enumerate() {
                let g = r.region.expect("a paste box");
                assert!(g.height >= 1 && g.width >= 1);
                assert!(g.height as f64 <= tau[1] * h as f64);
                assert!(g.height as f64 >= (tau[0] * h as f64).floor());
                assert_eq!(
                    r.lam,
                    1.0 - (g.height * g.width) as f64 / (h * w) as f64,
                    "sample {i}"
                );
                far += (h as f64 / g.height as f64 > 32.0) as usize;
                // The reference: the augmented partner resized by the core (a
                // resize-only pipeline): the same pixels, exactly.
                let partner = RgbImage::from_raw(
                    w as u32,
                    h as u32,
                    x[r.partner * per..(r.partner + 1) * per].to_vec(),
                )
                .unwrap();
                let resize = Pipeline::new(
                    Size::new(g.height, g.width),
                    gpu_augment::OutputFormat::U8Hwc,
                );
                let small = cpu(&resize)
                    .augment(Request::new(&[partner]).key(key))
                    .unwrap();
                let small = u8_values(&small);
                for y in 0..h {
                    for xx in 0..w {
                        let at = i * per + (y * w + xx) * 3;
                        let (ry, rx) = (y as i64 - g.top as i64, xx as i64 - g.left as i64);
                        if ry >= 0 && rx >= 0 && ry < g.height as i64 && rx < g.width as i64 {
                            let s = (ry as usize * g.width as usize + rx as usize) * 3;
                            assert_eq!(
                                o[at..at + 3],
                                small[s..s + 3],
                                "{head}, seed {seed}, sample {i} ({xx}, {y}): the core's resize"
                            );
                        } else {
                            assert_eq!(o[at..at + 3], x[at..at + 3], "outside the paste box");
                        }
                    }
                }
            }
        }
        if tau[1] < 0.1 {
            assert!(far > 0, "{head}: some paste is beyond the resampler");
        }
    }
}

/// Kolmogorov-Smirnov statistic of `xs` against `cdf`.
fn ks(mut xs: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    xs.iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).abs().max((i as f64 + 1.0) / n - f)
        })
        .fold(0.0, f64::max)
}

#[test]
fn mixup_lambda_follows_beta_alpha_alpha() {
    // n = 4000 draws with a fixed seed; threshold 1.63 / sqrt(n) = 0.0258, the
    // KS critical value at significance 0.01.
    let n = 4000;
    let ids: Vec<(u64, u32)> = (0..n).map(|i| (i as u64, 0)).collect();
    let threshold = 1.63 / (n as f64).sqrt();
    type Cdf = fn(f64) -> f64;
    let cdfs: [(f64, Cdf); 3] = [
        (1.0, |x| x),
        (0.5, |x| 2.0 / std::f64::consts::PI * x.sqrt().asin()),
        (2.0, |x| 3.0 * x * x - 2.0 * x * x * x),
    ];
    for (alpha, cdf) in cdfs {
        let mix = Mix::one(Mixer::MixUp { alpha }, 10, false);
        let lams: Vec<f64> = mix
            .draw(12345, 0, 3, &ids, Size::square(8))
            .iter()
            .map(|r| r.lam)
            .collect();
        let d = ks(lams.clone(), cdf);
        assert!(d < threshold, "alpha {alpha}: KS D = {d} >= {threshold}");
        // And the test can fail: the same draws against another alpha's CDF.
        let wrong = ks(lams, |x| 3.0 * x * x - 2.0 * x * x * x);
        if alpha != 2.0 {
            assert!(
                wrong > threshold,
                "alpha {alpha}: KS cannot tell Beta(2, 2) apart"
            );
        }
    }
}

#[test]
fn partners_form_a_permutation_without_fixed_points() {
    for n in [2u64, 3, 7, 64] {
        let p = pipeline("size = 8", ONE_OF);
        let b = cpu(&p)
            .augment(Request::new(&images(n)).key(BatchKey::new(8, 1, 1000)))
            .unwrap();
        let m = mixes(&b);
        let mut seen = vec![false; n as usize];
        for (i, r) in m.iter().enumerate() {
            assert_ne!(r.partner, i);
            assert!(!seen[r.partner], "partner {} used twice", r.partner);
            seen[r.partner] = true;
            assert_eq!(r.partner_index, 1000 + r.partner as u64);
        }
        // Drawn from the seed: another seed gives another permutation (n > 2).
        if n > 3 {
            let other = cpu(&p)
                .augment(Request::new(&images(n)).key(BatchKey::new(9, 1, 1000)))
                .unwrap();
            let po: Vec<usize> = mixes(&other).iter().map(|r| r.partner).collect();
            let pm: Vec<usize> = m.iter().map(|r| r.partner).collect();
            assert_ne!(po, pm);
        }
    }
}

#[test]
fn a_sample_does_not_depend_on_the_batch_cut_when_its_partner_is_the_same() {
    let imgs = images(6);
    for mix in [MIXUP, CUTMIX, RESIZEMIX, ONE_OF] {
        let p = pipeline("size = 20", mix);
        let aug = cpu(&p);
        let whole = aug
            .augment(Request::new(&imgs).key(BatchKey::new(3, 4, 100)))
            .unwrap();
        let wm = mixes(&whole);
        // Sample 2 in a batch of just itself and its partner.
        let j = wm[2].partner;
        let pair = vec![imgs[2].clone(), imgs[j].clone()];
        let indices = [102, 100 + j as u64];
        // Lambda and box are keyed on the sample, not on the batch.
        let drawn_pair: Vec<MixRecord> = aug
            .draw(&Request::new(&pair).seed(3).epoch(4).indices(&indices))
            .unwrap()
            .into_iter()
            .map(|r| r.mix.expect("a mixing pipeline"))
            .collect();
        assert_eq!(
            drawn_pair[0].lam, wm[2].lam,
            "{mix}: lambda keyed on the sample"
        );
        assert_eq!(drawn_pair[0].region, wm[2].region);
        assert_eq!(drawn_pair[0].op, wm[2].op);
        // A batch of two is one cycle: the partner of sample 2 is again j.
        assert_eq!(drawn_pair[0].partner, 1);
        let drawn: Vec<_> = pair
            .iter()
            .zip(indices)
            .map(|(im, i)| p.draw(3, 4, i, 0, im.width(), im.height()))
            .collect();
        let b = aug
            .augment(
                Request::new(&pair)
                    .params(&drawn)
                    .indices(&indices)
                    .mix_records(&drawn_pair),
            )
            .unwrap();
        assert_eq!(whole.sample_u8(2), b.sample_u8(0), "{mix}");
    }
}

#[test]
fn a_batch_of_one_mixes_with_itself_and_is_unchanged() {
    let imgs = images(1);
    for mix in [MIXUP, CUTMIX, RESIZEMIX] {
        let p = pipeline("size = 16", mix);
        let key = BatchKey::new(2, 0, 7);
        let b = cpu(&p)
            .augment(
                Request::new(&imgs)
                    .labels(Labels::Classes {
                        classes: &[3],
                        num_classes: 5,
                    })
                    .key(key),
            )
            .unwrap();
        let plain = cpu(&unmixed(&p))
            .augment(Request::new(&imgs).key(key))
            .unwrap();
        let m = mixes(&b);
        assert_eq!(m[0].partner, 0);
        if m[0].op != MixKind::Resizemix {
            assert_eq!(
                b.data, plain.data,
                "{mix}: mixing with itself changes nothing"
            );
        }
        assert_eq!(b.labels.unwrap().data, vec![0.0, 0.0, 0.0, 1.0, 0.0]);
    }
}

#[test]
fn views_differ_and_each_equals_a_single_view_run_with_its_key() {
    let imgs = images(3);
    let single = pipeline("size = 24", "");
    let p = single.clone().with_views(3).unwrap();
    let aug = cpu(&p);
    let key = BatchKey::new(11, 2, 40);
    let classes = [0u32, 2, 1];
    let b = aug
        .augment(
            Request::new(&imgs)
                .labels(Labels::Classes {
                    classes: &classes,
                    num_classes: 3,
                })
                .key(key),
        )
        .unwrap();
    assert_eq!(b.shape[0], 9);
    let one = cpu(&single);
    for (i, im) in imgs.iter().enumerate() {
        for v in 0..3u32 {
            let o = i * 3 + v as usize;
            assert_eq!(b.records[o].index, 40 + i as u64);
            assert_eq!(b.records[o].view, v);
            let l = b.labels.as_ref().unwrap().row(o).unwrap();
            assert_eq!(l[classes[i] as usize], 1.0, "views keep the image's label");
            let drawn = single.draw(11, 2, 40 + i as u64, v, im.width(), im.height());
            let want = one
                .augment(
                    Request::new(std::slice::from_ref(im))
                        .params(&[drawn])
                        .indices(&[40 + i as u64]),
                )
                .unwrap();
            assert_eq!(b.sample_u8(o), want.sample_u8(0), "image {i} view {v}");
        }
        assert_ne!(b.sample_u8(i * 3), b.sample_u8(i * 3 + 1), "views differ");
        assert_ne!(
            b.sample_u8(i * 3 + 1),
            b.sample_u8(i * 3 + 2),
            "views differ"
        );
    }
    // View 0 is what a single-view pipeline gives.
    let plain = one.augment(Request::new(&imgs).key(key)).unwrap();
    assert_eq!(b.sample_u8(3), plain.sample_u8(1));
}

#[test]
fn views_and_mixing_compose() {
    let p = pipeline("size = 16\nviews = 2", MIXUP);
    let b = cpu(&p)
        .augment(Request::new(&images(3)).key(BatchKey::new(1, 1, 1)))
        .unwrap();
    assert_eq!(b.shape[0], 6);
    let m = mixes(&b);
    for (o, r) in m.iter().enumerate() {
        assert_eq!(r.partner_index, b.records[r.partner].index);
        assert_eq!(r.partner_view, b.records[r.partner].view);
        assert_ne!(r.partner, o);
    }
}

fn expect_err(text: &str, needles: &[&str]) {
    match Pipeline::from_toml(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => {
            let msg = e.to_string();
            for n in needles {
                assert!(msg.contains(n), "error {msg:?} lacks {n:?}");
            }
        }
    }
}

#[test]
fn bad_mixing_parameters_are_clear_errors() {
    let op = |body: &str| format!("size = 8\n[[ops]]\nop = \"horizontal_flip\"\n[[ops]]\n{body}");
    expect_err(
        &op("op = \"mixup\"\nalpha = 0\nnum_classes = 3"),
        &["op #1 `mixup`", "alpha", "> 0", "got 0"],
    );
    expect_err(
        &op("op = \"cutmix\"\nalpha = -1.5\nnum_classes = 3"),
        &["`cutmix`", "alpha", "-1.5"],
    );
    expect_err(
        &op("op = \"resizemix\"\ntau = [0.0, 0.5]\nnum_classes = 3"),
        &["`resizemix`", "tau", "0 < min <= max < 1"],
    );
    expect_err(
        &op("op = \"resizemix\"\ntau = [0.2, 1.0]\nnum_classes = 3"),
        &["tau", "[0.2, 1]"],
    );
    expect_err(&op("op = \"mixup\""), &["num_classes", "missing"]);
    expect_err(
        &op("op = \"mixup\"\nnum_classes = 0"),
        &["num_classes", "got 0"],
    );
    expect_err(
        &op("op = \"mixup\"\nnum_classes = 3\nbeta = 1"),
        &["unknown key `beta`", "alpha"],
    );
    expect_err(
        &op("op = \"mix_one_of\"\nnum_classes = 3\nmixers = [{ op = \"mixup\", p = 0.5 }, { op = \"cutmix\", p = 0.4 }]"),
        &["mix_one_of", "sum to 1", "0.9"],
    );
    expect_err(
        &op("op = \"mix_one_of\"\nnum_classes = 3\nmixers = [{ op = \"mixup\" }]"),
        &["`mixup`", "key `p`", "missing"],
    );
    expect_err(
        &op("op = \"mixup\"\nnum_classes = 3\n[[ops]]\nop = \"grayscale\""),
        &[
            "op #2 `grayscale`",
            "after the mixing op #1 `mixup`",
            "last",
        ],
    );
    expect_err(
        &op("op = \"mixup\"\nnum_classes = 3\n[[ops]]\nop = \"cutmix\"\nnum_classes = 3"),
        &["mix_one_of"],
    );
    expect_err("size = 8\nviews = 0", &["views", "[1, 1024]", "got 0"]);
    expect_err(
        "size = 8\n[[ops]]\nop = \"mixupp\"",
        &["unknown op `mixupp`", "mixup"],
    );
}

#[test]
fn bad_labels_are_clear_errors() {
    let p = pipeline("size = 8", MIXUP);
    let aug = cpu(&p);
    let imgs = images(3);
    let key = BatchKey::default();
    let err = |l: Labels| {
        aug.augment(Request::new(&imgs).labels(l).key(key))
            .expect_err("bad labels accepted")
            .to_string()
    };
    let e = err(Labels::Classes {
        classes: &[0, 5, 1],
        num_classes: 5,
    });
    assert!(
        e.contains("class 5 of image 1") && e.contains("num_classes = 5"),
        "{e}"
    );
    let e = err(Labels::Classes {
        classes: &[0, 1],
        num_classes: 5,
    });
    assert!(e.contains("2 class indices for 3 images"), "{e}");
    let e = err(Labels::Classes {
        classes: &[0, 1, 2],
        num_classes: 4,
    });
    assert!(
        e.contains("4 classes") && e.contains("`mixup` has num_classes = 5"),
        "{e}"
    );
    let e = err(Labels::Soft {
        rows: &[0.5; 15],
        num_classes: 5,
    });
    assert!(e.contains("row 0 sums to 2.5"), "{e}");
    let e = err(Labels::Soft {
        rows: &[0.2; 10],
        num_classes: 5,
    });
    assert!(e.contains("10 values for 3 images"), "{e}");
}

// ---- GPU ----

fn gpu_and_cpu(p: &Pipeline, imgs: &[RgbImage], key: BatchKey) -> Option<(Batch, Batch)> {
    let g = gpu()?;
    let gb = Augmenter::with_gpu(p.clone(), g)
        .unwrap()
        .augment(Request::new(imgs).key(key))
        .unwrap();
    let cb = cpu(p).augment(Request::new(imgs).key(key)).unwrap();
    Some((cb, gb))
}

#[test]
fn gpu_mixing_matches_the_cpu_with_one_extra_dispatch() {
    let imgs = test_images();
    for (name, mix) in [
        ("mixup", MIXUP),
        ("cutmix", CUTMIX),
        ("resizemix", RESIZEMIX),
        ("resizemix_tiny", RESIZEMIX_TINY),
        ("one_of", ONE_OF),
    ] {
        for (fmt, head) in [
            ("u8", "size = [40, 36]"),
            ("f32", "size = 32\nformat = \"f32_chw\"\nviews = 2"),
        ] {
            let p = pipeline(head, mix);
            let key = BatchKey::new(21, 3, 5);
            let Some((c, g)) = gpu_and_cpu(&p, &imgs, key) else {
                return;
            };
            assert_eq!(c.records, g.records, "{name} {fmt}: same draws");
            common::assert_close(&format!("mix-{name}-{fmt}"), &c, &g, [0.0; 3], [1.0; 3]);
            let s = g.gpu_stats.unwrap();
            assert_eq!(s.chunks, 1);
            assert_eq!(s.submits, 1);
            // color_jitter without contrast: 1 main + 1 mixing dispatch.
            assert_eq!(s.dispatches, 2, "{name} {fmt}");
        }
    }
    // The shipped pipelines (contrast adds its reduction pass).
    for name in ["mixup", "cutmix"] {
        let path = format!(
            "{}/examples/pipelines/{name}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let p = Pipeline::from_file(&path).unwrap();
        let Some((c, g)) = gpu_and_cpu(&p, &imgs, BatchKey::new(1, 0, 0)) else {
            return;
        };
        let (mean, std) = p.normalization();
        let f = |a: [f64; 3]| a.map(|x| x as f32);
        common::assert_close(&format!("example-{name}"), &c, &g, f(mean), f(std));
        let s = g.gpu_stats.unwrap();
        assert_eq!(s.dispatches, 1 + p.stat_slots() as u32 + 1, "{name}");
    }
}

#[test]
fn gpu_batch_split_into_chunks_mixes_across_chunks() {
    let Some(g) = gpu() else { return };
    let limit = g.limits().max_storage_binding.min(g.limits().max_buffer);
    // 2048x2048 sources go up as 12 MiB of RGB bytes each.
    let per = 2048u64 * 2048 * 3;
    let n = (limit / per + 2).min(40) as usize;
    let imgs: Vec<_> = (0..n)
        .map(|i| synthetic_image(i as u64, 2048, 2048))
        .collect();
    let p = Pipeline::from_toml(
        "size = 16\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"mix_one_of\"\nnum_classes = 2\nmixers = [{ op = \"mixup\", p = 0.5 }, { op = \"resizemix\", p = 0.5 }]",
    )
    .unwrap();
    let key = BatchKey::new(6, 0, 0);
    let gb = Augmenter::with_gpu(p.clone(), g)
        .unwrap()
        .augment(Request::new(&imgs).key(key))
        .unwrap();
    let s = gb.gpu_stats.unwrap();
    assert!(s.chunks >= 2, "ran in {} chunk(s)", s.chunks);
    assert_eq!(
        s.dispatches, s.chunks,
        "split: main passes only, mixing on the host"
    );
    // Some partner lies in another chunk, and the result still matches the CPU.
    let m = mixes(&gb);
    assert!(m
        .iter()
        .enumerate()
        .any(|(i, r)| (i < n / 2) != (r.partner < n / 2)));
    let cb = cpu(&p).augment(Request::new(&imgs).key(key)).unwrap();
    common::assert_close("mix-split", &cb, &gb, [0.0; 3], [1.0; 3]);
}
