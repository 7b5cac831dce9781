//! Auto-augment policies: op frequencies match the policy (chi-square tests
//! with a fixed seed and stated thresholds), magnitudes map onto the
//! documented ranges, a sample's draw does not depend on its batch, the GPU
//! runs a fixed number of dispatches whatever the draws, and bad parameters
//! are clear errors.

mod common;

use common::gpu;
use gpu_augment::ops::policy::{IMAGENET_POLICY, RAND_AUGMENT_OPS};
use gpu_augment::ops::{PolicyOp, PolicyStep};
use gpu_augment::synthetic_image;
use gpu_augment::{Augmenter, BatchKey, Drawn, Pipeline, Request, RgbImage};
use std::collections::HashMap;

fn pipeline(text: &str) -> Pipeline {
    Pipeline::from_toml(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The policy steps of `n` samples (224x224 canvas).
fn draws(p: &Pipeline, n: u64) -> Vec<Vec<PolicyStep>> {
    (0..n)
        .map(|i| match &p.draw(99, 0, i, 0, 224, 224)[0] {
            Drawn::Policy { steps } => steps.clone(),
            d => panic!("{d:?}"),
        })
        .collect()
}

/// Pearson's chi-square of observed counts against expected counts.
fn chi_square(observed: &[f64], expected: &[f64]) -> f64 {
    observed
        .iter()
        .zip(expected)
        .map(|(o, e)| (o - e) * (o - e) / e)
        .sum()
}

fn counts(steps: &[Vec<PolicyStep>]) -> HashMap<PolicyOp, f64> {
    let mut c = HashMap::new();
    for s in steps.iter().flatten() {
        *c.entry(s.op).or_insert(0.0) += 1.0;
    }
    c
}

#[test]
fn rand_augment_draws_its_14_ops_uniformly_with_documented_magnitudes() {
    let p = pipeline("size = 224\n[[ops]]\nop = \"rand_augment\"");
    let steps = draws(&p, 7000);
    assert!(steps.iter().all(|s| s.len() == 2), "num_ops = 2 per sample");
    let c = counts(&steps);
    let observed: Vec<f64> = RAND_AUGMENT_OPS
        .iter()
        .map(|op| c.get(op).copied().unwrap_or(0.0))
        .collect();
    let expected = vec![14000.0 / 14.0; 14];
    // 13 degrees of freedom: P(chi2 > 34.53) = 0.001.
    let x2 = chi_square(&observed, &expected);
    assert!(x2 < 34.53, "chi-square {x2} for {observed:?}");
    // Magnitude 9 of 31 bins: torchvision's linspace values, random sign.
    let want = |op: PolicyOp| -> Option<f64> {
        Some(match op {
            PolicyOp::ShearX | PolicyOp::ShearY => 0.3 * 9.0 / 30.0,
            PolicyOp::TranslateX | PolicyOp::TranslateY => 150.0 / 331.0 * 224.0 * 9.0 / 30.0,
            PolicyOp::Rotate => 30.0 * 9.0 / 30.0,
            PolicyOp::Brightness | PolicyOp::Color | PolicyOp::Contrast | PolicyOp::Sharpness => {
                0.9 * 9.0 / 30.0
            }
            PolicyOp::Posterize => 7.0, // round(8 - 9 / 7.5)
            PolicyOp::Solarize => 1.0 - 9.0 / 30.0,
            _ => 0.0,
        })
    };
    let mut negative = 0;
    for s in steps.iter().flatten() {
        let w = want(s.op).unwrap();
        assert!(
            (s.magnitude.abs() - w).abs() < 1e-9,
            "{s:?}: |magnitude| should be {w}"
        );
        negative += (s.magnitude < 0.0) as u32;
        if matches!(s.op, PolicyOp::Posterize | PolicyOp::Solarize) {
            assert!(s.magnitude >= 0.0, "{s:?} is unsigned");
        }
    }
    // Signed ops (9 of 14: shears, translates, rotate, and the four factors)
    // flip with p = 0.5: 9/28 of all steps.
    let frac = negative as f64 / 14000.0;
    assert!((frac - 9.0 / 28.0).abs() < 0.02, "negative fraction {frac}");
}

#[test]
fn trivial_augment_wide_draws_one_op_and_a_uniform_bin() {
    let p = pipeline("size = 224\n[[ops]]\nop = \"trivial_augment_wide\"");
    let steps = draws(&p, 7000);
    assert!(steps.iter().all(|s| s.len() == 1));
    let c = counts(&steps);
    let observed: Vec<f64> = RAND_AUGMENT_OPS
        .iter()
        .map(|op| c.get(op).copied().unwrap_or(0.0))
        .collect();
    let x2 = chi_square(&observed, &[7000.0 / 14.0; 14]);
    assert!(x2 < 34.53, "chi-square {x2}");
    // Rotate's magnitudes are 135 * b / 30 for a uniform bin b: 31 values, uniform.
    let mut bins = [0.0f64; 31];
    for s in steps.iter().flatten().filter(|s| s.op == PolicyOp::Rotate) {
        let b = (s.magnitude.abs() / 135.0 * 30.0).round() as usize;
        assert!((s.magnitude.abs() - 135.0 * b as f64 / 30.0).abs() < 1e-9);
        bins[b] += 1.0;
    }
    let n: f64 = bins.iter().sum();
    // 30 degrees of freedom: P(chi2 > 59.70) = 0.001.
    let x2 = chi_square(&bins, &[n / 31.0; 31]);
    assert!(x2 < 59.70, "bins chi-square {x2}");
}

#[test]
fn auto_augment_op_frequencies_follow_the_imagenet_policy() {
    let p = pipeline("size = 224\n[[ops]]\nop = \"auto_augment\"");
    let n = 20000u64;
    let steps = draws(&p, n);
    let mut expected: HashMap<PolicyOp, f64> = HashMap::new();
    for sub in IMAGENET_POLICY {
        for (op, prob, _) in sub {
            *expected.entry(op).or_insert(0.0) += prob * n as f64 / 25.0;
        }
    }
    let c = counts(&steps);
    let ops: Vec<PolicyOp> = expected
        .keys()
        .copied()
        .filter(|o| expected[o] > 0.0)
        .collect();
    let observed: Vec<f64> = ops
        .iter()
        .map(|o| c.get(o).copied().unwrap_or(0.0))
        .collect();
    let exp: Vec<f64> = ops.iter().map(|o| expected[o]).collect();
    // The step counts are not independent multinomial cells (a sample has 0-2
    // steps), so the statistic is only roughly chi-square with len - 1 dof;
    // the threshold leaves room: P(chi2_10 > 35.6) = 1e-4.
    let x2 = chi_square(&observed, &exp);
    assert!(x2 < 35.6, "chi-square {x2}: {observed:?} vs {exp:?}");
    assert!(steps.iter().all(|s| s.len() <= 2));
}

#[test]
fn a_samples_policy_draw_does_not_depend_on_its_batch() {
    let p = pipeline("size = 32\n[[ops]]\nop = \"rand_augment\"\nnum_ops = 3");
    let aug = Augmenter::new(p, gpu_augment::Backend::Cpu).expect("augmenter");
    let imgs: Vec<RgbImage> = (0..6)
        .map(|i| synthetic_image(i, 40 + i as u32, 30))
        .collect();
    let whole = aug
        .augment(Request::new(&imgs).key(BatchKey::new(4, 1, 100)))
        .expect("batch");
    let tail = aug
        .augment(Request::new(&imgs[3..]).key(BatchKey::new(4, 1, 103)))
        .expect("batch");
    for i in 0..3 {
        assert_eq!(whole.records[3 + i].ops, tail.records[i].ops);
        assert!(whole.sample_u8(3 + i) == tail.sample_u8(i));
    }
    let json = serde_json::to_string(&whole.records[0]).expect("json");
    assert!(
        json.contains("\"op\":\"rand_augment\"") || json.contains("\"op\":\"policy\""),
        "{json}"
    );
    assert!(json.contains("magnitude"), "{json}");
}

#[test]
fn gpu_dispatches_do_not_depend_on_the_draws() {
    let Some(g) = gpu() else { return };
    let p = pipeline("size = 32\n[[ops]]\nop = \"rand_augment\"\nnum_ops = 2");
    let aug = Augmenter::with_gpu(p, g).expect("gpu augmenter");
    for (n, seed) in [(1usize, 0u64), (1, 5), (7, 1), (20, 2)] {
        let imgs: Vec<RgbImage> = (0..n).map(|i| synthetic_image(i as u64, 36, 30)).collect();
        let b = aug
            .augment(Request::new(&imgs).key(BatchKey::new(seed, 0, 0)))
            .expect("batch");
        let s = b.gpu_stats.expect("gpu stats");
        // Two segment passes (num_ops barriers at most) + the main pass.
        assert_eq!(
            (s.dispatches, s.submits),
            (3, 1),
            "batch of {n}, seed {seed}"
        );
    }
}

fn refused(text: &str, parts: &[&str]) {
    let e = match Pipeline::from_toml(text) {
        Ok(p) => panic!("accepted {text}: {p:?}"),
        Err(e) => e.to_string(),
    };
    for part in parts {
        assert!(e.contains(part), "{text}: message lacks {part:?}: {e}");
    }
}

#[test]
fn bad_policy_and_op_parameters_are_clear_errors() {
    let op = |s: &str| format!("size = 32\n[[ops]]\n{s}");
    refused(
        &op("op = \"rand_augment\"\nnum_ops = 0"),
        &["rand_augment", "`num_ops`", "[1, 14]", "0"],
    );
    refused(
        &op("op = \"rand_augment\"\nnum_ops = 15"),
        &["`num_ops`", "15"],
    );
    refused(
        &op("op = \"rand_augment\"\nmagnitude = 31"),
        &["`magnitude`", "[0, 30]", "31"],
    );
    refused(
        &op("op = \"rand_augment\"\nnum_bins = 10\nmagnitude = -1"),
        &["`magnitude`", "[0, 9]"],
    );
    refused(
        &op("op = \"rand_augment\"\nops = [\"Rotate\", \"Twirl\"]"),
        &["`ops`", "Twirl", "Equalize"],
    );
    refused(
        &op("op = \"gaussian_blur\"\nkernel_size = 4"),
        &["gaussian_blur", "`kernel_size`", "odd", "4"],
    );
    refused(
        &op("op = \"gaussian_blur\"\nkernel_size = 5\nsigma = 0"),
        &["`sigma`", "> 0"],
    );
    refused(
        &op("op = \"gaussian_blur\"\nkernel_size = 5\nsigma = [-1, 2]"),
        &["`sigma`"],
    );
    refused(
        &op("op = \"posterize\"\nbits = 9"),
        &["posterize", "`bits`", "[1, 8]"],
    );
    refused(
        &op("op = \"solarize\"\nthreshold = 300"),
        &["`threshold`", "[0, 255]"],
    );
    refused(
        &op("op = \"auto_augment\"\npolicy = \"cifar10\""),
        &["`policy`", "imagenet"],
    );
    refused(
        &op("op = \"random_erasing\"\nvalue = \"noise\""),
        &["`value`", "random"],
    );
    refused(&op("op = \"gamma\"\ngamma = 0"), &["`gamma`", "> 0"]);
    refused(
        &op("op = \"augmix\"\nalpha = 0"),
        &["augmix", "`alpha`", "> 0"],
    );
    refused(
        &op("op = \"augmix\"\nseverity = 11"),
        &["`severity`", "[1, 10]"],
    );
    refused(&op("op = \"augmix\"\ndepth = 5"), &["`depth`", "-1"]);
    refused(
        &op("op = \"augmix\"\n[[ops]]\nop = \"invert\""),
        &["invert (op #1)", "augmix (op #0)", "last op"],
    );
}

#[test]
fn restricted_op_sets_draw_only_their_ops() {
    let p =
        pipeline("size = 224\n[[ops]]\nop = \"rand_augment\"\nops = [\"Rotate\", \"Equalize\"]");
    for s in draws(&p, 500).iter().flatten() {
        assert!(
            matches!(s.op, PolicyOp::Rotate | PolicyOp::Equalize),
            "{s:?}"
        );
    }
}

#[test]
fn augmix_mixes_the_original_and_its_chains_with_the_drawn_weights() {
    use gpu_augment::ops::PolicyStep;
    let img = RgbImage::from_fn(20, 10, |x, y| {
        image::Rgb([(x * 12) as u8, (y * 25) as u8, 200])
    });
    let p = pipeline("size = [10, 20]\n[[ops]]\nop = \"augmix\"\nwidth = 2");
    let step = |op| PolicyStep { op, magnitude: 0.0 };
    let drawn = vec![vec![Drawn::AugMix {
        original: 0.25,
        weights: vec![0.5, 0.25],
        chains: vec![vec![step(PolicyOp::Invert)], vec![step(PolicyOp::Identity)]],
    }]];
    let mut backends = vec![Augmenter::new(p.clone(), gpu_augment::Backend::Cpu).expect("cpu")];
    if let Some(g) = gpu() {
        backends.push(Augmenter::with_gpu(p, g).expect("gpu"));
    }
    for aug in backends {
        let b = aug
            .augment(
                Request::new(std::slice::from_ref(&img))
                    .params(&drawn)
                    .indices(&[0]),
            )
            .expect("batch");
        let got = b.sample_u8(0).expect("u8");
        for (g, &x) in got.iter().zip(img.as_raw()) {
            // 0.25 x + 0.5 (255 - x) + 0.25 x = 127.5 (x cancels), rounded half up.
            let want = 0.5 * x as f64 + 0.5 * (255.0 - x as f64);
            assert!((*g as f64 - want).abs() <= 0.5 + 1e-3, "{} vs {want}", g);
        }
    }
}

#[test]
fn augmix_weights_sum_to_one_and_follow_beta() {
    let p = pipeline("size = 32\n[[ops]]\nop = \"augmix\"\nwidth = 3");
    let mut originals = Vec::new();
    for i in 0..4000 {
        let Drawn::AugMix {
            original,
            weights,
            chains,
        } = &p.draw(5, 0, i, 0, 32, 32)[0]
        else {
            panic!()
        };
        let total = original + weights.iter().sum::<f64>();
        assert!((total - 1.0).abs() < 1e-9, "weights sum to {total}");
        assert_eq!(chains.len(), 3);
        assert!(chains.iter().all(|c| (1..=3).contains(&c.len())));
        originals.push(*original);
    }
    // Beta(1, 1) is uniform: mean 1/2, variance 1/12.
    let n = originals.len() as f64;
    let mean = originals.iter().sum::<f64>() / n;
    let var = originals
        .iter()
        .map(|x| (x - mean) * (x - mean))
        .sum::<f64>()
        / n;
    assert!(
        (mean - 0.5).abs() < 0.02 && (var - 1.0 / 12.0).abs() < 0.01,
        "mean {mean}, var {var}"
    );
}
