//! The compact hand-off formats. u8_chw: the u8 HWC values (same
//! rounding), channel-planar, with a trailing `normalize` deferred to the
//! consumer. f16_chw: the f32_chw values rounded to IEEE binary16 (nearest,
//! ties to even).
//!
//! Tolerances: u8_chw against u8_hwc is exact (the same kernels, transposed
//! on the host); GPU against CPU follows the u8 parity rule (common/mod.rs);
//! (u8 / 255 - mean) / std against the same pipeline's f32_chw is within
//! half an LSB, 0.5 / 255 / std, plus f32 rounding (1e-4), for all but 0.1%
//! of values. f16_chw against `half::f16::from_f32` of the same backend's
//! f32_chw is exact, bit for bit (on the GPU the rounding kernel, on the
//! CPU the `half` crate); GPU against CPU follows the f32 parity rule, as
//! f32 GPU against CPU does (the f32 values themselves differ within it).

mod common;

use common::{assert_close, backends, gpu, test_images};
use gpu_augment::half::f16;
use gpu_augment::{
    synthetic_image, Augmenter, Backend, Batch, BatchKey, MixRecord, Op, OutputFormat, Pipeline,
    Request, Tensor,
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
        _ => panic!("expected a u8 tensor"),
    }
}

fn f32s(b: &Batch) -> &[f32] {
    match &b.data {
        Tensor::F32(v) => v,
        _ => panic!("expected an f32 tensor"),
    }
}

fn f16s(b: &Batch) -> &[f16] {
    match &b.data {
        Tensor::F16(v) => v,
        _ => panic!("expected an f16 tensor"),
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
        _ => panic!("expected a u8 tensor"),
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

/// `p` with f16_chw output (the same ops: a mixing op draws as in `p`).
fn as_f16(p: &Pipeline) -> Pipeline {
    Pipeline {
        format: OutputFormat::F16Chw,
        ..p.clone()
    }
}

/// `h` is `half::f16::from_f32` of `f`, bit for bit (same shape, N x C x H x W).
fn assert_rounded(what: &str, h: &Batch, f: &Batch) {
    assert_eq!(h.format, OutputFormat::F16Chw, "{what}");
    assert_eq!(h.shape, f.shape, "{what}");
    assert_eq!(mix_records(h), mix_records(f), "{what}: mixes");
    let (x, y) = (f16s(h), f32s(f));
    assert_eq!(x.len(), y.len(), "{what}");
    let bad = x
        .iter()
        .zip(y)
        .enumerate()
        .filter(|(_, (a, &b))| a.to_bits() != f16::from_f32(b).to_bits())
        .count();
    if let Some((i, (a, &b))) = x
        .iter()
        .zip(y)
        .enumerate()
        .find(|(_, (a, &b))| a.to_bits() != f16::from_f32(b).to_bits())
    {
        panic!(
            "{what}: {bad} of {} values are not the f32 values rounded; first at {i}: f16 {:#06x}, f32 {b:e} rounds to {:#06x}",
            x.len(),
            a.to_bits(),
            f16::from_f32(b).to_bits()
        );
    }
}

/// f16_chw is f32_chw rounded, bit for bit, on each backend: with a
/// trailing normalize (imagenet_train), geometry alone (affine), one
/// output channel (grayscale with num_output_channels = 1), and with each
/// batch mix (the pipelines differ in the format alone, so the mixes draw
/// the same; on the GPU the mix runs on the f32 values before the rounding
/// pass).
#[test]
fn f16_chw_is_f32_chw_rounded_bit_for_bit() {
    let key = BatchKey::new(7, 2, 100);
    let grey = Pipeline::from_toml(
        "size = 24\nformat = \"f32_chw\"\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"grayscale\"\np = 1.0\nnum_output_channels = 1\n[[ops]]\nop = \"normalize\"\nmean = [0.5]\nstd = [0.25]",
    )
    .expect("grey pipeline");
    let named: Vec<(String, Pipeline)> = ["imagenet_train", "affine"]
        .into_iter()
        .chain(MIXING)
        .map(|n| (n.to_string(), pipeline(n)))
        .chain([("grey".to_string(), grey)])
        .collect();
    for (name, f32p) in named {
        let f32p = Pipeline {
            format: OutputFormat::F32Chw,
            ..f32p
        };
        let h = as_f16(&f32p);
        h.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        for ((backend, a), (_, b)) in backends(&h).into_iter().zip(backends(&f32p)) {
            let (x, y) = (run(&a, key), run(&b, key));
            assert_eq!(
                mix_records(&x).is_some(),
                MIXING.contains(&name.as_str()),
                "{name}"
            );
            assert_rounded(&format!("{name} on {backend}"), &x, &y);
            if let (Some(sx), Some(sy)) = (x.gpu_stats, y.gpu_stats) {
                // Half the bytes back, one more dispatch (the rounding).
                assert_eq!(sx.bytes_down * 2, sy.bytes_down, "{name}: bytes read back");
                assert_eq!(sx.dispatches, sy.dispatches + 1, "{name}: dispatches");
            }
        }
    }
}

/// f16_chw on the GPU against the CPU: deterministic, the same mixes, and
/// within the f32 parity rule (the rule f32_chw GPU against CPU meets).
#[test]
fn f16_chw_gpu_matches_cpu_and_is_deterministic() {
    for name in ["imagenet_train"].into_iter().chain(MIXING) {
        let p = as_f16(&pipeline(name));
        let (mean, std) = p.normalization();
        let runs: Vec<(&str, Batch, Batch)> = backends(&p)
            .into_iter()
            .map(|(b, a)| {
                let key = BatchKey::new(42, 0, 0);
                (b, run(&a, key), run(&a, key))
            })
            .collect();
        for (b, x, y) in &runs {
            let bits = |b: &Batch| f16s(b).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(x), bits(y), "{name} on {b}: the same key twice");
        }
        if let [(_, cpu, _), (_, gpu, _)] = &runs[..] {
            assert_eq!(mix_records(cpu), mix_records(gpu), "{name}");
            let f = |a: [f64; 3]| a.map(|x| x as f32);
            assert_close(&format!("f16_chw {name}"), cpu, gpu, f(mean), f(std));
        }
    }
}

/// Values whose rounding is an edge case: signed zeros, the subnormal
/// range and its ties, ties between normals (to even), 65504 and the
/// overflow threshold 65520, infinities, NaNs.
fn rounding_cases() -> Vec<f32> {
    let mut v: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        1.0 / 3.0,
        65504.0,
        65519.996,
        65520.0,
        -65520.0,
        65536.0,
        1e10,
        f32::MAX,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffc1_2345),
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        5.960_464_5e-8,
        2.980_232_2e-8,
        2.980_232_5e-8,
        8.940_697e-8,
        6.103_515_6e-5,
        f32::from_bits(0x387f_e000),
        f32::from_bits(0x387f_dfff),
        1.000_488_3,
        1.001_464_8,
        2.117_904_1,
        -2.117_904_1,
    ];
    // Every half's value, the half-way points around it, and one f32 step
    // either side of those.
    for b in (0u16..0x7c00).step_by(7) {
        let x = f16::from_bits(b).to_f32();
        let next = f16::from_bits(b + 1).to_f32();
        let mid = (x as f64 + next as f64) / 2.0;
        let m = mid as f32;
        for y in [
            x,
            m,
            f32::from_bits(m.to_bits() + 1),
            f32::from_bits(m.to_bits().saturating_sub(1)),
        ] {
            v.push(y);
            v.push(-y);
        }
    }
    // Pseudo-random bit patterns.
    let mut r = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..50_000 {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        v.push(f32::from_bits((r >> 32) as u32));
    }
    v
}

/// The GPU's rounding kernel (shaders/half.wgsl, integer operations on the
/// bits) gives `half::f16::from_f32`'s bits on every edge case, an odd
/// count included (the last word's high half).
#[test]
fn gpu_rounding_kernel_matches_half() {
    let Some(g) = gpu() else { return };
    let cases = rounding_cases();
    for values in [&cases[..], &cases[..cases.len() - 1], &cases[..1]] {
        let got = g.round_to_f16_bits(values).expect("rounding kernel");
        assert_eq!(got.len(), values.len());
        for (&x, &b) in values.iter().zip(&got) {
            let want = f16::from_f32(x).to_bits();
            assert_eq!(
                b,
                want,
                "{:#010x} ({x:e}): kernel {b:#06x}, half {want:#06x}",
                x.to_bits()
            );
        }
    }
}

/// A batch over the device's binding limit runs in chunks: without a mix
/// each chunk rounds on the device (a rounding dispatch per chunk, half
/// the bytes back); with a batch mix the chunks bring back f32 and the mix
/// and the rounding run on the host. Both equal the f32 batch rounded.
#[test]
fn f16_chw_split_batches_are_f32_rounded() {
    let Some(g) = gpu() else { return };
    let limit = g.limits().max_storage_binding.min(g.limits().max_buffer);
    let per = 2048u64 * 2048 * 3;
    let n = (limit / per + 2).min(40) as usize;
    let imgs: Vec<_> = (0..n)
        .map(|i| synthetic_image(i as u64, 2048, 2048))
        .collect();
    let key = BatchKey::new(6, 0, 0);
    for (mixes, toml) in [
        (false, "size = 16\nformat = \"f32_chw\"\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"normalize\""),
        (true, "size = 16\nformat = \"f32_chw\"\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"mix_one_of\"\nnum_classes = 2\nmixers = [{ op = \"mixup\", p = 0.5 }, { op = \"resizemix\", p = 0.5 }]"),
    ] {
        let f32p = Pipeline::from_toml(toml).unwrap();
        let run_on = |p: Pipeline| {
            Augmenter::with_gpu(p, g.clone())
                .unwrap()
                .augment(Request::new(&imgs).key(key))
                .unwrap()
        };
        let (h, f) = (run_on(as_f16(&f32p)), run_on(f32p.clone()));
        let (sh, sf) = (h.gpu_stats.unwrap(), f.gpu_stats.unwrap());
        assert!(sh.chunks >= 2, "ran in {} chunk(s)", sh.chunks);
        if mixes {
            assert_eq!(sh.dispatches, sf.dispatches, "mixing split: no rounding pass");
            assert_eq!(sh.bytes_down, sf.bytes_down, "mixing split: f32 back");
        } else {
            assert_eq!(sh.dispatches, sf.dispatches + sh.chunks, "a rounding pass a chunk");
            assert_eq!(sh.bytes_down * 2, sf.bytes_down, "half the bytes back");
        }
        assert_rounded(&format!("split, mixes: {mixes}"), &h, &f);
    }
}

/// AugMix (its internal f32 batch, combined on the host) with and without
/// a batch mix after it: f16_chw is f32_chw rounded on each backend.
#[test]
fn f16_chw_with_augmix_is_f32_chw_rounded() {
    let key = BatchKey::new(2, 0, 5);
    for mix in ["", "\n[[ops]]\nop = \"mixup\"\nnum_classes = 2"] {
        let toml = format!(
            "size = 20\nformat = \"f32_chw\"\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"augmix\"\n[[ops]]\nop = \"normalize\"{mix}"
        );
        let f32p = Pipeline::from_toml(&toml).unwrap_or_else(|e| panic!("{toml}: {e}"));
        for ((backend, a), (_, b)) in backends(&as_f16(&f32p)).into_iter().zip(backends(&f32p)) {
            assert_rounded(
                &format!(
                    "augmix{} on {backend}",
                    if mix.is_empty() { "" } else { " + mixup" }
                ),
                &run(&a, key),
                &run(&b, key),
            );
        }
    }
}

/// The format's name round-trips, the parser's error lists it, normalize
/// is accepted with it, and mixing an f16 batch after the fact is a clear
/// error (not a second rounding).
#[test]
fn f16_chw_names_errors_and_mix_batch() {
    assert_eq!(
        OutputFormat::from_name("f16_chw"),
        Some(OutputFormat::F16Chw)
    );
    assert_eq!(OutputFormat::F16Chw.name(), "f16_chw");
    let e = Pipeline::from_toml("size = 8\nformat = \"f16\"")
        .expect_err("unknown format")
        .to_string();
    assert!(e.contains("f16_chw"), "{e}");
    let p = as_f16(&example("imagenet_train"));
    p.validate().expect("f16_chw with normalize");
    let e = Pipeline {
        format: OutputFormat::U8Hwc,
        ..p.clone()
    }
    .validate()
    .expect_err("normalize with u8_hwc")
    .to_string();
    assert!(e.contains("f16_chw"), "{e}");
    let m = as_f16(&pipeline("mixup"));
    let a = Augmenter::new(m, Backend::Cpu).unwrap();
    let b = run(&a, BatchKey::new(1, 0, 0));
    let mut data = b.data.clone();
    let e = a
        .mix_batch(&mut data, &mix_records(&b).unwrap())
        .expect_err("mix_batch on f16")
        .to_string();
    assert!(e.contains("f16_chw"), "{e}");
    assert_eq!(b.sample_f16(0).map(<[f16]>::len), Some(3 * 224 * 224));
    assert!(b.sample_f32(0).is_none() && b.sample_u8(0).is_none());
}

/// f16_chw on the GPU allocates nothing per batch once warm (the rounding
/// pass's buffers are kept and its count is written again only when it
/// changes), and the kept buffers give the bytes a fresh augmenter gives.
#[test]
fn f16_chw_gpu_steady_state_allocates_nothing() {
    let Some(g) = gpu() else { return };
    let p = as_f16(&pipeline("imagenet_train"));
    let aug = Augmenter::with_gpu(p.clone(), g.clone()).unwrap();
    let mut allocs = Vec::new();
    for seed in 0..4u64 {
        let key = BatchKey::new(seed, 0, 0);
        let b = run(&aug, key);
        let fresh = run(&Augmenter::with_gpu(p.clone(), g.clone()).unwrap(), key);
        assert_eq!(
            f16s(&b).iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            f16s(&fresh).iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "batch {seed}: kept buffers changed the values"
        );
        allocs.push(b.gpu_stats.expect("a GPU batch has stats").allocations);
        aug.recycle(b);
    }
    assert!(allocs[0] > 0, "the first batch creates buffers: {allocs:?}");
    assert_eq!(&allocs[2..], &[0, 0], "then none: {allocs:?}");
}
