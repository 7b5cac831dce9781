//! The compact hand-off format u8_chw: the u8 HWC values (same rounding),
//! channel-planar, with a trailing `normalize` deferred to the consumer.
//!
//! Tolerances: u8_chw against u8_hwc is exact (the same kernels, transposed
//! on the host); GPU against CPU follows the u8 parity rule (common/mod.rs);
//! (u8 / 255 - mean) / std against the same pipeline's f32_chw is within
//! half an LSB, 0.5 / 255 / std, plus f32 rounding (1e-4), for all but 0.1%
//! of values.

mod common;

use common::{assert_close, backends, test_images};
use gpu_augment::{
    Augmenter, Backend, Batch, BatchKey, MixRecord, Op, OutputFormat, Pipeline, Request, Tensor,
};

fn example(name: &str) -> Pipeline {
    let path = format!(
        "{}/examples/pipelines/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    Pipeline::from_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run(aug: &Augmenter, key: BatchKey) -> Batch {
    aug.augment(Request::new(&test_images()).key(key))
        .unwrap_or_else(|e| panic!("{} batch: {e}", aug.backend_kind()))
}

fn u8s(b: &Batch) -> &[u8] {
    match &b.data {
        Tensor::U8(v) => v,
        Tensor::F32(_) => panic!("expected a u8 tensor"),
    }
}

/// A pipeline of the examples, or `resizemix`: cutmix.toml with its mixer
/// replaced by resizemix.
fn pipeline(name: &str) -> Pipeline {
    if name != "resizemix" {
        return example(name);
    }
    let path = format!(
        "{}/examples/pipelines/cutmix.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text.replace(
        "op = \"cutmix\"\nalpha = 1.0",
        "op = \"resizemix\"\ntau = [0.1, 0.8]",
    );
    assert!(text.contains("resizemix"), "cutmix.toml changed: {path}");
    Pipeline::from_toml(&text).unwrap_or_else(|e| panic!("resizemix: {e}"))
}

/// The pipelines with a batch mix (each with a trailing normalize, then the
/// mixing op).
const MIXING: [&str; 3] = ["cutmix", "mixup", "resizemix"];

/// Each sample's mixing record (None for a pipeline that does not mix).
fn mix_records(b: &Batch) -> Option<Vec<MixRecord>> {
    b.records.iter().map(|r| r.mix.clone()).collect()
}

/// `chw` (u8 N x C x H x W) is `hwc` (u8 N x H x W x C) transposed, exactly.
fn assert_transposed(what: &str, chw: &Batch, hwc: &Batch) {
    let [n, h, w, c] = hwc.shape;
    assert_eq!(chw.shape, [n, c, h, w], "{what}");
    assert_eq!(chw.format, OutputFormat::U8Chw, "{what}");
    assert_eq!(hwc.format, OutputFormat::U8Hwc, "{what}");
    let (x, y) = (u8s(chw), u8s(hwc));
    assert_eq!(x.len(), y.len(), "{what}");
    for i in 0..n {
        for ch in 0..c {
            for p in 0..h * w {
                let (got, want) = (
                    x[i * c * h * w + ch * h * w + p],
                    y[i * c * h * w + p * c + ch],
                );
                assert_eq!(got, want, "{what}: sample {i} channel {ch} pixel {p}");
            }
        }
    }
}

/// The pipeline, its normalize dropped, as u8 HWC.
fn without_normalize(p: &Pipeline) -> Pipeline {
    let mut q = Pipeline {
        format: OutputFormat::U8Hwc,
        ..p.clone()
    };
    q.ops.retain(|o| !matches!(o, Op::Normalize { .. }));
    q
}

/// u8_chw (normalize kept, deferred) against u8_hwc (normalize dropped),
/// both backends. Dropping the op shifts the mixing op's stream position
/// (the number of per-sample ops, see `Mix::draw`), so a mixing pipeline's
/// reference is rendered with the u8_chw batch's mixing records; the
/// per-sample ops draw the same either way (normalize draws nothing and is
/// last).
#[test]
fn u8_chw_is_u8_hwc_transposed_with_normalize_deferred() {
    let key = BatchKey::new(7, 2, 100);
    let names = ["imagenet_train", "affine"].into_iter().chain(MIXING);
    for name in names {
        let p = Pipeline {
            format: OutputFormat::U8Chw,
            ..pipeline(name)
        };
        p.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let hwc = without_normalize(&p);
        for ((backend, a), (_, b)) in backends(&p).into_iter().zip(backends(&hwc)) {
            let chw = run(&a, key);
            let mix = mix_records(&chw);
            assert_eq!(mix.is_some(), MIXING.contains(&name), "{name}");
            let images = test_images();
            let mut req = Request::new(&images).key(key);
            if let Some(m) = &mix {
                req = req.mix_records(m);
            }
            let ref_ = b
                .augment(req)
                .unwrap_or_else(|e| panic!("{name} on {backend}: {e}"));
            assert_eq!(mix_records(&ref_), mix, "{name} on {backend}");
            assert_transposed(&format!("{name} on {backend}"), &chw, &ref_);
        }
    }
}

/// A batch mix drawn from the key: u8_chw is u8_hwc transposed when the
/// two pipelines hold the same ops (here both without normalize), on both
/// backends; and u8_chw with normalize draws its mixes as f32_chw does.
#[test]
fn u8_chw_with_a_batch_mix_is_u8_hwc_transposed() {
    let key = BatchKey::new(11, 3, 40);
    for name in MIXING {
        let hwc = without_normalize(&pipeline(name));
        let chw = Pipeline {
            format: OutputFormat::U8Chw,
            ..hwc.clone()
        };
        for ((backend, a), (_, b)) in backends(&chw).into_iter().zip(backends(&hwc)) {
            let (x, y) = (run(&a, key), run(&b, key));
            assert!(mix_records(&x).is_some(), "{name}: no mix");
            assert_eq!(mix_records(&x), mix_records(&y), "{name} on {backend}");
            assert_transposed(&format!("{name} (no normalize) on {backend}"), &x, &y);
        }
        let f32p = pipeline(name);
        let u8p = Pipeline {
            format: OutputFormat::U8Chw,
            ..f32p.clone()
        };
        let (a, b) = (
            Augmenter::new(f32p, Backend::Cpu).unwrap(),
            Augmenter::new(u8p, Backend::Cpu).unwrap(),
        );
        assert_eq!(
            mix_records(&run(&a, key)),
            mix_records(&run(&b, key)),
            "{name}: u8_chw and f32_chw draw different mixes"
        );
    }
}

/// `Augmenter::mix_batch` (the host mix alone, `bench --mix-only`) on a
/// u8_chw batch: mixing the unmixed batch gives the mixed one, as for u8_hwc.
#[test]
fn u8_chw_mix_batch_matches_augment() {
    let key = BatchKey::new(5, 0, 8);
    for name in MIXING {
        for format in [OutputFormat::U8Chw, OutputFormat::U8Hwc] {
            let p = Pipeline {
                format,
                ..without_normalize(&pipeline(name))
            };
            let unmixed = Pipeline {
                mix: None,
                ..p.clone()
            };
            let a = Augmenter::new(p, Backend::Cpu).unwrap();
            let mixed = run(&a, key);
            let mut data = run(&Augmenter::new(unmixed, Backend::Cpu).unwrap(), key).data;
            let records = mix_records(&mixed).expect("mixing records");
            a.mix_batch(&mut data, &records)
                .unwrap_or_else(|e| panic!("{name} {}: {e}", format.name()));
            assert!(
                u8s(&mixed) == u8s_of(&data),
                "{name} {}: mix_batch differs from augment",
                format.name()
            );
        }
    }
}

fn u8s_of(t: &Tensor) -> &[u8] {
    match t {
        Tensor::U8(v) => v,
        Tensor::F32(_) => panic!("expected a u8 tensor"),
    }
}

#[test]
fn u8_chw_gpu_matches_cpu_and_is_deterministic() {
    for name in ["imagenet_train"].into_iter().chain(MIXING) {
        let p = Pipeline {
            format: OutputFormat::U8Chw,
            ..pipeline(name)
        };
        let runs: Vec<(&str, Batch, Batch)> = backends(&p)
            .into_iter()
            .map(|(b, a)| {
                let key = BatchKey::new(42, 0, 0);
                (b, run(&a, key), run(&a, key))
            })
            .collect();
        for (b, x, y) in &runs {
            assert_eq!(u8s(x), u8s(y), "{name} on {b}: the same key twice");
        }
        if let [(_, cpu, _), (_, gpu, _)] = &runs[..] {
            assert_eq!(mix_records(cpu), mix_records(gpu), "{name}");
            assert_close(&format!("u8_chw {name}"), cpu, gpu, [0.0; 3], [1.0; 3]);
        }
    }
}

#[test]
fn deferred_normalize_matches_f32_chw_within_half_an_lsb() {
    let f32p = example("imagenet_train");
    let (mean, std) = f32p.normalization();
    let u8p = Pipeline {
        format: OutputFormat::U8Chw,
        ..f32p.clone()
    };
    let key = BatchKey::new(3, 1, 10);
    for ((backend, a), (_, b)) in backends(&f32p).into_iter().zip(backends(&u8p)) {
        let (f, u) = (run(&a, key), run(&b, key));
        assert_eq!(f.shape, u.shape, "{backend}");
        let Tensor::F32(fv) = &f.data else {
            panic!("f32_chw gave u8")
        };
        let [_, c, h, w] = f.shape;
        let mut over = 0usize;
        for (i, (&x, &q)) in fv.iter().zip(u8s(&u)).enumerate() {
            let ch = (i / (h * w)) % c;
            let (m, s) = (mean[ch] as f32, std[ch] as f32);
            let y = (q as f32 / 255.0 - m) / s;
            if (x - y).abs() > 0.5 / 255.0 / s + 1e-4 {
                over += 1;
            }
        }
        assert!(
            over as f64 <= fv.len() as f64 * 0.001,
            "{backend}: {over} of {} values beyond half an LSB",
            fv.len()
        );
    }
}

#[test]
fn u8_hwc_still_rejects_normalize() {
    let p = Pipeline {
        format: OutputFormat::U8Hwc,
        ..example("imagenet_train")
    };
    let e = p.validate().expect_err("normalize with u8_hwc").to_string();
    assert!(e.contains("u8_chw"), "{e}");
}
