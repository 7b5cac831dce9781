//! Per-sample overrides (strength, probability scale, skip, policy choice):
//! strength 0 is the un-augmented image on both backends, strength 1 is the
//! file bit for bit, records carry the overrides and replay them exactly.

mod common;

use common::{assert_close, backends};
use gpu_augment::ops::policy::{PolicyChoice, RAND_AUGMENT_OPS};
use gpu_augment::ops::PolicyOp;
use gpu_augment::{
    synthetic_image, Augmenter, Backend, BatchKey, Drawn, Error, Overrides, Pipeline, Request,
    RgbImage, SampleRecord,
};

/// Images of one size (the pipelines' output size, so no op means no change).
fn images(n: usize) -> Vec<RgbImage> {
    (0..n)
        .map(|i| synthetic_image(i as u64 + 3, 33, 21))
        .collect()
}

fn pipeline(ops: &str) -> Pipeline {
    Pipeline::from_toml(&format!("size = [21, 33]\n{ops}")).unwrap_or_else(|e| panic!("{ops}: {e}"))
}

/// One op each, with ranges far from identity; every one has an identity
/// that strength 0 reaches.
const OPS: &[&str] = &[
    "[[ops]]\nop = \"affine\"\ndegrees = 30\ntranslate = [0.2, 0.1]\nscale = [0.7, 1.3]\nshear = [-10, 10, -5, 5]",
    "[[ops]]\nop = \"color_jitter\"\nbrightness = 0.5\ncontrast = 0.5\nsaturation = 0.5\nhue = 0.2",
    "[[ops]]\nop = \"horizontal_flip\"\np = 1.0",
    "[[ops]]\nop = \"vertical_flip\"\np = 1.0",
    "[[ops]]\nop = \"grayscale\"\np = 1.0",
    "[[ops]]\nop = \"permute_channels\"\np = 1.0",
    "[[ops]]\nop = \"invert\"\np = 1.0",
    "[[ops]]\nop = \"solarize\"\nthreshold = 100\np = 1.0",
    "[[ops]]\nop = \"posterize\"\nbits = 2\np = 1.0",
    "[[ops]]\nop = \"autocontrast\"\np = 1.0",
    "[[ops]]\nop = \"equalize\"\np = 1.0",
    "[[ops]]\nop = \"sharpness\"\nfactor = 3.0\np = 1.0",
    "[[ops]]\nop = \"gaussian_blur\"\nkernel_size = 5\nsigma = [0.5, 2.0]\np = 1.0",
    "[[ops]]\nop = \"gaussian_noise\"\nsigma = 0.2\np = 1.0",
    "[[ops]]\nop = \"gamma\"\ngamma = [0.5, 2.0]\ngain = 1.2\np = 1.0",
    "[[ops]]\nop = \"random_erasing\"\np = 1.0",
    "[[ops]]\nop = \"perspective\"\ndistortion = 0.6\np = 1.0",
    "[[ops]]\nop = \"random_crop\"\nsize = [21, 33]\npadding = 4",
    "[[ops]]\nop = \"random_field\"\nl = 8\ndx = 3\ndy = 3\nrotation = 5\nbrightness = 0.3\np = 1.0",
    "[[ops]]\nop = \"elastic\"\nalpha = 40\nsigma = 4\np = 1.0",
    "[[ops]]\nop = \"rand_augment\"\nnum_ops = 3\nmagnitude = 20",
    "[[ops]]\nop = \"trivial_augment_wide\"",
    "[[ops]]\nop = \"auto_augment\"",
    "[[ops]]\nop = \"augmix\"\nseverity = 5",
    // Indices above are referred to by position: new rows go here.
    "[[ops]]\nop = \"cutout\"\nn_holes = 3\nlength = 9",
    "[[ops]]\nop = \"colorful_cutout\"\nn_holes = 2\nlength = 12\ngrid = 3",
];

fn key() -> BatchKey {
    BatchKey::new(11, 2, 40)
}

#[test]
fn strength_zero_and_skip_give_the_unaugmented_image_on_both_backends() {
    let ims = images(6);
    let n = ims.len();
    for ops in OPS {
        let p = pipeline(ops);
        for (name, aug) in backends(&p) {
            let plain = aug.augment(Request::new(&ims).key(key())).unwrap();
            for ov in [
                Overrides::new().strength(vec![0.0; n]),
                Overrides::new().skip(vec![true; n]),
            ] {
                let b = aug
                    .augment(Request::new(&ims).key(key()).overrides(&ov))
                    .unwrap();
                for (i, im) in ims.iter().enumerate() {
                    assert_eq!(
                        b.sample_u8(i),
                        Some(im.as_raw().as_slice()),
                        "{name}: {ops}: {ov:?}: sample {i} is not the source image"
                    );
                }
                // The random ops did draw something different from the file.
                assert!(
                    b.data != plain.data,
                    "{name}: {ops}: the file's ops changed nothing"
                );
            }
        }
    }
}

#[test]
fn random_resized_crop_at_strength_zero_is_the_whole_image_resized() {
    let ims: Vec<RgbImage> = (0..4)
        .map(|i| synthetic_image(i, 50 + i as u32 * 7, 40))
        .collect();
    let rrc = Pipeline::from_toml(
        "size = 24\n[[ops]]\nop = \"random_resized_crop\"\nscale = [0.08, 0.5]",
    )
    .unwrap();
    let resize = Pipeline::from_toml("size = 24").unwrap();
    for ((name, a), (_, b)) in backends(&rrc).into_iter().zip(backends(&resize)) {
        let ov = Overrides::new().strength(vec![0.0; 4]);
        let x = a.augment(Request::new(&ims).overrides(&ov)).unwrap();
        let y = b.augment(Request::new(&ims)).unwrap();
        assert_eq!(x.data, y.data, "{name}");
        for (r, im) in x.records.iter().zip(&ims) {
            assert_eq!(
                r.ops[0],
                Drawn::RandomResizedCrop {
                    top: 0,
                    left: 0,
                    height: im.height() as i64,
                    width: im.width() as i64
                }
            );
        }
    }
}

fn example(name: &str) -> Pipeline {
    let path = format!(
        "{}/examples/pipelines/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    Pipeline::from_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn strength_one_is_the_file_bit_for_bit() {
    let mut all: Vec<(Pipeline, Vec<RgbImage>)> =
        OPS.iter().map(|o| (pipeline(o), images(5))).collect();
    for e in [
        "imagenet_train",
        "randaugment",
        "trivial_augment",
        "random_field_ssl",
        "cifar_train",
    ] {
        let ims = [(40, 40), (57, 43), (500, 375)]
            .iter()
            .map(|&(w, h)| synthetic_image(w as u64, w, h))
            .collect();
        all.push((example(e), ims));
    }
    for (p, ims) in all {
        let n = ims.len();
        for (name, aug) in backends(&p) {
            let plain = aug.augment(Request::new(&ims).key(key())).unwrap();
            let ov = Overrides::new()
                .strength(vec![1.0; n])
                .p_scale(vec![1.0; n])
                .skip(vec![false; n]);
            let b = aug
                .augment(Request::new(&ims).key(key()).overrides(&ov))
                .unwrap();
            assert_eq!(b.data, plain.data, "{name}: {:?}", p.ops);
            for (r, q) in b.records.iter().zip(&plain.records) {
                assert_eq!(r.ops, q.ops);
                assert!(q.overrides.is_none());
                assert_eq!(r.overrides.as_ref().map(|o| o.strength), Some(1.0));
            }
        }
    }
}

#[test]
fn strength_scales_the_drawn_ranges() {
    let p = pipeline(OPS[0]);
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let ims = images(64);
    let full = aug.draw(&Request::new(&ims).key(key())).unwrap();
    let half = aug
        .draw(
            &Request::new(&ims)
                .key(key())
                .overrides(&Overrides::new().strength(vec![0.5; 64])),
        )
        .unwrap();
    for (f, h) in full.iter().zip(&half) {
        let (
            Drawn::Affine {
                angle: a, scale: s, ..
            },
            Drawn::Affine {
                angle: b, scale: t, ..
            },
        ) = (&f.ops[0], &h.ops[0])
        else {
            panic!("affine expected")
        };
        // Same keys, another mapping: the same uniforms on a range half as wide.
        assert!((a * 0.5 - b).abs() < 1e-9, "{a} {b}");
        assert!(((s - 1.0) * 0.5 - (t - 1.0)).abs() < 1e-9, "{s} {t}");
    }
}

#[test]
fn p_scale_multiplies_probabilities() {
    let p = pipeline("[[ops]]\nop = \"horizontal_flip\"\np = 1.0\n[[ops]]\nop = \"affine\"\ndegrees = 10\np = 1.0");
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let ims = images(400);
    let ov = |x: f64| Overrides::new().p_scale(vec![x; 400]);
    let applied = |recs: &[SampleRecord]| {
        recs.iter()
            .filter(|r| matches!(r.ops[0], Drawn::HorizontalFlip { applied: true }))
            .count()
    };
    let zero = aug.draw(&Request::new(&ims).overrides(&ov(0.0))).unwrap();
    assert_eq!(applied(&zero), 0);
    assert!(zero
        .iter()
        .all(|r| matches!(r.ops[1], Drawn::Affine { applied: false, .. })));
    let half = aug.draw(&Request::new(&ims).overrides(&ov(0.5))).unwrap();
    let k = applied(&half);
    // Binomial(400, 0.5): 5 sigma is 50.
    assert!((150..=250).contains(&k), "{k} of 400 flipped at p = 0.5");
    assert_eq!(
        applied(&aug.draw(&Request::new(&ims).overrides(&ov(1.0))).unwrap()),
        400
    );
}

#[test]
fn skip_flags_skip_only_their_samples() {
    let p = example("cifar_train");
    let ims: Vec<RgbImage> = (0..6).map(|i| synthetic_image(i, 32, 32)).collect();
    let skip = vec![true, false, false, true, false, true];
    for (name, aug) in backends(&p) {
        let plain = aug.augment(Request::new(&ims).key(key())).unwrap();
        let none = Pipeline {
            ops: p
                .ops
                .iter()
                .filter(|o| o.name() == "normalize")
                .cloned()
                .collect(),
            ..p.clone()
        };
        let none = Augmenter::new(none, Backend::Cpu)
            .unwrap()
            .augment(Request::new(&ims))
            .unwrap();
        let b = aug
            .augment(
                Request::new(&ims)
                    .key(key())
                    .overrides(&Overrides::new().skip(skip.clone())),
            )
            .unwrap();
        for (i, s) in skip.iter().enumerate() {
            let want = if *s { &none } else { &plain };
            let (x, y) = (b.sample_f32(i).unwrap(), want.sample_f32(i).unwrap());
            let d = x
                .iter()
                .zip(y)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(d < 1e-5, "{name}: sample {i} (skip {s}) differs by {d}");
            assert_eq!(b.records[i].overrides.as_ref().unwrap().skip, *s);
        }
    }
}

#[test]
fn explicit_policy_ops_are_recorded_and_applied() {
    let p = pipeline("[[ops]]\nop = \"rand_augment\"\nnum_ops = 2\nmagnitude = 12");
    use PolicyOp::*;
    let chosen = vec![
        vec![Rotate, Equalize],
        vec![ShearX],
        vec![],
        vec![Solarize, Posterize],
    ];
    let ims = images(4);
    for (name, aug) in backends(&p) {
        let ov = Overrides::new().policy_ops(chosen.clone());
        let b = aug
            .augment(Request::new(&ims).key(key()).overrides(&ov))
            .unwrap();
        let mut params = Vec::new();
        for (r, c) in b.records.iter().zip(&chosen) {
            let Drawn::Policy { steps } = &r.ops[0] else {
                panic!()
            };
            assert_eq!(&steps.iter().map(|s| s.op).collect::<Vec<_>>(), c, "{name}");
            assert_eq!(
                r.overrides.as_ref().unwrap().policy,
                Some(PolicyChoice::Ops(c.clone()))
            );
            params.push(r.ops.clone());
        }
        // Applied: the same as giving those steps explicitly.
        let again = aug.augment(Request::new(&ims).params(&params)).unwrap();
        assert_eq!(again.data, b.data, "{name}");
        assert_eq!(
            b.sample_u8(2),
            Some(ims[2].as_raw().as_slice()),
            "no ops: the image"
        );
        let text = serde_json::to_string(&b.records[0]).unwrap();
        assert!(
            text.contains("\"policy\":{\"ops\":[\"Rotate\",\"Equalize\"]}"),
            "{text}"
        );
    }
}

#[test]
fn policy_weights_change_the_op_frequencies() {
    let p = pipeline("[[ops]]\nop = \"trivial_augment_wide\"");
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let n = 2000;
    let ims: Vec<RgbImage> = (0..n).map(|_| synthetic_image(0, 8, 8)).collect();
    let mut w = vec![0.0; RAND_AUGMENT_OPS.len()];
    let rot = RAND_AUGMENT_OPS
        .iter()
        .position(|o| *o == PolicyOp::Rotate)
        .unwrap();
    let col = RAND_AUGMENT_OPS
        .iter()
        .position(|o| *o == PolicyOp::Color)
        .unwrap();
    w[rot] = 3.0;
    w[col] = 1.0;
    let ov = Overrides::new().policy_weights(vec![w; n]);
    let recs = aug.draw(&Request::new(&ims).overrides(&ov)).unwrap();
    let count = |op: PolicyOp| {
        recs.iter()
            .filter(|r| matches!(&r.ops[0], Drawn::Policy { steps } if steps[0].op == op))
            .count()
    };
    let (r, c) = (count(PolicyOp::Rotate), count(PolicyOp::Color));
    assert_eq!(r + c, n, "only the weighted ops are drawn");
    // Binomial(2000, 0.75): sigma 19.4; 5 sigma.
    assert!(
        (1403..=1597).contains(&r),
        "Rotate drawn {r} of {n} times at weight 3/4"
    );
    // Without weights: uniform over 14.
    let plain = aug.draw(&Request::new(&ims)).unwrap();
    let r0 = plain
        .iter()
        .filter(|x| matches!(&x.ops[0], Drawn::Policy { steps } if steps[0].op == PolicyOp::Rotate))
        .count();
    assert!(r0 < 250, "{r0}");
}

#[test]
fn replay_with_overrides_is_exact() {
    let p = example("imagenet_train");
    let ims = common::test_images();
    let n = ims.len();
    let ov = Overrides::new()
        .strength((0..n).map(|i| i as f64 / n as f64).collect())
        .p_scale(vec![0.7; n])
        .skip((0..n).map(|i| i == 2).collect());
    for (name, aug) in backends(&p) {
        let b = aug
            .augment(Request::new(&ims).key(key()).overrides(&ov))
            .unwrap();
        let text: Vec<String> = b
            .records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect();
        assert!(
            text[1].contains("\"overrides\":{\"strength\":"),
            "{}",
            text[1]
        );
        let back: Vec<SampleRecord> = text
            .iter()
            .map(|t| SampleRecord::from_json(t).unwrap())
            .collect();
        assert_eq!(back, b.records);
        let again = aug.augment(Request::new(&ims).replay(&back)).unwrap();
        assert_eq!(again.data, b.data, "{name}");
        // Records without overrides serialise as before.
        let plain = aug.augment(Request::new(&ims).key(key())).unwrap();
        assert!(!serde_json::to_string(&plain.records[0])
            .unwrap()
            .contains("overrides"));
    }
}

#[test]
fn fixed_values_of_ops_follow_the_strength_in_replay() {
    // posterize's bits are not drawn: replay must steer them from the record.
    let p = pipeline("[[ops]]\nop = \"posterize\"\nbits = 1\np = 1.0\n[[ops]]\nop = \"sharpness\"\nfactor = 4\np = 1.0");
    let ims = images(3);
    for (name, aug) in backends(&p) {
        let ov = Overrides::new().strength(vec![0.0, 0.5, 1.0]);
        let b = aug.augment(Request::new(&ims).overrides(&ov)).unwrap();
        let again = aug.augment(Request::new(&ims).replay(&b.records)).unwrap();
        assert_eq!(again.data, b.data, "{name}");
        assert_eq!(b.sample_u8(0), Some(ims[0].as_raw().as_slice()));
        // The overrides are what replays them: without, the same draws
        // render with the file's bits and factor.
        let stripped: Vec<SampleRecord> = b
            .records
            .iter()
            .map(|r| SampleRecord {
                overrides: None,
                ..r.clone()
            })
            .collect();
        let other = aug.augment(Request::new(&ims).replay(&stripped)).unwrap();
        for i in 0..2 {
            assert!(other.sample_u8(i) != b.sample_u8(i), "{name}: sample {i}");
        }
        assert_eq!(other.sample_u8(2), b.sample_u8(2), "{name}: strength 1");
    }
}

#[test]
fn cpu_and_gpu_agree_with_overrides() {
    let ims = common::test_images();
    let n = ims.len();
    let ov = Overrides::new()
        .strength((0..n).map(|i| (i as f64 + 0.5) / n as f64).collect())
        .p_scale(vec![0.8; n]);
    for e in ["imagenet_train", "randaugment", "random_field_ssl"] {
        let p = Pipeline {
            views: 1,
            ..example(e)
        };
        let bs = backends(&p);
        if bs.len() < 2 {
            eprintln!("NOTE: no GPU; parity not run");
            return;
        }
        let (mean, std) = p.normalization();
        let run = |a: &Augmenter| {
            a.augment(Request::new(&ims).key(key()).overrides(&ov))
                .unwrap()
        };
        let (c, g) = (run(&bs[0].1), run(&bs[1].1));
        assert_eq!(c.records, g.records);
        assert_close(e, &c, &g, mean.map(|x| x as f32), std.map(|x| x as f32));
    }
}

fn message(e: Error) -> String {
    e.to_string()
}

#[test]
fn bad_overrides_are_errors_naming_field_sample_and_value() {
    let p = pipeline("[[ops]]\nop = \"rand_augment\"\nnum_ops = 2");
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let ims = images(3);
    let err = |ov: Overrides| message(aug.draw(&Request::new(&ims).overrides(&ov)).unwrap_err());
    let m = err(Overrides::new().strength(vec![0.5, 0.5]));
    assert!(
        m.contains("overrides.strength has 2 values for 3 images"),
        "{m}"
    );
    let m = err(Overrides::new().strength(vec![0.5, 1.5, 0.0]));
    assert!(
        m.contains("overrides.strength[1] = 1.5") && m.contains("[0, 1]"),
        "{m}"
    );
    let m = err(Overrides::new().p_scale(vec![0.5, 0.0, -0.1]));
    assert!(m.contains("overrides.p_scale[2] = -0.1"), "{m}");
    let m = err(Overrides::new().strength(vec![f64::NAN; 3]));
    assert!(m.contains("overrides.strength[0] = NaN"), "{m}");
    let m = err(Overrides::new().skip(vec![true]));
    assert!(
        m.contains("overrides.skip has 1 values for 3 images"),
        "{m}"
    );
    use PolicyOp::*;
    let m = err(Overrides::new().policy_ops(vec![vec![Rotate], vec![Invert], vec![]]));
    assert!(
        m.contains("overrides.policy_ops[1]") && m.contains("Invert is not in the policy's op set"),
        "{m}"
    );
    assert!(m.contains("rand_augment"), "{m}");
    let m = err(Overrides::new().policy_ops(vec![vec![Rotate, Color, Contrast], vec![], vec![]]));
    assert!(
        m.contains("overrides.policy_ops[0]") && m.contains("3 ops given"),
        "{m}"
    );
    let m = err(Overrides::new().policy_weights(vec![vec![1.0; 3]; 3]));
    assert!(
        m.contains("overrides.policy_weights[0]") && m.contains("3 weights"),
        "{m}"
    );
    let m = err(Overrides::new().policy_weights(vec![vec![0.0; 14]; 3]));
    assert!(m.contains("every weight is 0"), "{m}");
    let m = err(Overrides::new()
        .policy_ops(vec![vec![]; 3])
        .policy_weights(vec![vec![1.0; 14]; 3]));
    assert!(
        m.contains("policy_ops and policy_weights both given"),
        "{m}"
    );
    // A choice for a pipeline without a policy.
    let flip = Augmenter::new(pipeline(OPS[2]), Backend::Cpu).unwrap();
    let m = message(
        flip.draw(
            &Request::new(&ims).overrides(&Overrides::new().policy_ops(vec![vec![Rotate]; 3])),
        )
        .unwrap_err(),
    );
    assert!(m.contains("no policy op"), "{m}");
    let auto = Augmenter::new(pipeline(OPS[22]), Backend::Cpu).unwrap();
    let m = message(
        auto.draw(
            &Request::new(&ims).overrides(&Overrides::new().policy_ops(vec![vec![Rotate]; 3])),
        )
        .unwrap_err(),
    );
    assert!(
        m.contains("auto_augment") && m.contains("explicit op choice"),
        "{m}"
    );
    // Conflicts.
    let recs = aug.draw(&Request::new(&ims)).unwrap();
    let ov = Overrides::new().strength(vec![0.5; 3]);
    let m = message(
        aug.draw(&Request::new(&ims).replay(&recs).overrides(&ov))
            .unwrap_err(),
    );
    assert!(m.contains("replay and overrides"), "{m}");
    let params: Vec<Vec<Drawn>> = recs.iter().map(|r| r.ops.clone()).collect();
    let m = message(
        aug.draw(&Request::new(&ims).params(&params).overrides(&ov))
            .unwrap_err(),
    );
    assert!(m.contains("overrides and params"), "{m}");
    // A record with an override outside [0, 1].
    let mut bad = aug.draw(&Request::new(&ims).overrides(&ov)).unwrap();
    bad[1].overrides.as_mut().unwrap().strength = 2.0;
    let m = message(aug.augment(Request::new(&ims).replay(&bad)).unwrap_err());
    assert!(m.contains("strength") && m.contains("= 2"), "{m}");
    // A record's unknown override key is named.
    let text = serde_json::to_string(&bad[0])
        .unwrap()
        .replace("\"p_scale\"", "\"p_scal\"");
    let m = message(SampleRecord::from_json(&text).unwrap_err());
    assert!(m.contains("overrides.p_scal"), "{m}");
}

#[test]
fn the_loader_takes_overrides_from_a_callback_or_a_table() {
    use gpu_augment::{Dataset, Loader, LoaderOptions};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let n = 10usize;
    for i in 0..n {
        synthetic_image(i as u64, 33, 21)
            .save(tmp.path().join(format!("img{i:02}.png")))
            .unwrap();
    }
    let p = pipeline(OPS[0]);
    let opts = LoaderOptions {
        batch_size: 4,
        backend: Backend::Cpu,
        shuffle: true,
        seed: 3,
        ..Default::default()
    };
    let loader = Loader::new(Dataset::folder(tmp.path()).unwrap(), p, opts).unwrap();
    // A per-epoch table over the dataset: item i has strength i / 10 at
    // epoch 0 and 0 from epoch 1 on (the callback sees the epoch).
    let table: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
    loader.set_overrides(Some(Arc::new(move |epoch: u64, items: &[usize]| {
        let t = if epoch == 0 {
            Overrides::new().strength(table.clone())
        } else {
            Overrides::new().strength(vec![0.0; table.len()])
        };
        t.select(items)
    })));
    for epoch in 0..2u64 {
        let mut seen = 0;
        for b in loader.epoch(epoch).unwrap() {
            let b = b.unwrap();
            for (j, r) in b.batch.records.iter().enumerate() {
                let item = b.items[j];
                let want = if epoch == 0 {
                    item as f64 / n as f64
                } else {
                    0.0
                };
                assert_eq!(r.overrides.as_ref().map(|o| o.strength), Some(want));
                if epoch == 1 {
                    let src = image::open(tmp.path().join(format!("img{item:02}.png")))
                        .unwrap()
                        .to_rgb8();
                    assert_eq!(b.batch.sample_u8(j), Some(src.as_raw().as_slice()));
                }
                seen += 1;
            }
        }
        assert_eq!(seen, n);
    }
    // A callback's error stops the epoch with that error.
    loader.set_overrides(Some(Arc::new(|_: u64, items: &[usize]| {
        Overrides::new()
            .strength(vec![2.0; items.len()])
            .select(&[0; 0])
            .map(|_| Overrides::new().strength(vec![2.0; items.len()]))
    })));
    let e = loader
        .epoch(0)
        .unwrap()
        .find_map(|b| b.err())
        .expect("an error");
    assert!(e.to_string().contains("overrides.strength[0] = 2"), "{e}");
    loader.set_overrides(None);
    let b = loader.epoch(0).unwrap().next().unwrap().unwrap();
    assert!(b.batch.records[0].overrides.is_none());
}
