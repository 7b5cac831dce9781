//! The pipeline file and `apply` read op keys through one definition
//! (src/ops/keys.rs), so they accept and refuse the same values. Each case
//! was a disagreement once (issue 11).

use gpu_augment::explicit::explicit_op;
use gpu_augment::{Augmenter, Backend, Error, Op, OutputFormat, Pipeline, Size};

fn file(op: &str) -> Result<Pipeline, Error> {
    Pipeline::from_toml(&format!("size = 32\n[[ops]]\n{op}"))
}

fn apply(name: &str, sets: &[(&str, String)]) -> Result<(), Error> {
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    explicit_op(name, &sets, 32, 32).map(|_| ())
}

/// Both accept, or both refuse naming the op and `key`.
fn agree(
    what: &str,
    f: Result<Pipeline, Error>,
    a: Result<(), Error>,
    accept: bool,
    keys: [&str; 2],
) {
    match (&f, &a, accept) {
        (Ok(_), Ok(()), true) => {}
        (Err(ef), Err(ea), false) => {
            for (e, key) in [(ef, keys[0]), (ea, keys[1])] {
                match e {
                    Error::InvalidParam { key: k, .. } => assert_eq!(k, key, "{what}: {e}"),
                    other => panic!("{what}: expected a parameter error, got {other}"),
                }
            }
        }
        _ => panic!(
            "{what}: file {:?} and apply {:?} disagree (expected {})",
            f.as_ref().map(|_| ()),
            a,
            if accept { "both Ok" } else { "both Err" }
        ),
    }
}

#[test]
fn gaussian_blur_sigma() {
    for (s, ok) in [
        ("1e-6", true),
        ("0.5", true),
        ("10000", true),
        ("0", false),
        ("-1", false),
        ("1e-7", false),
        ("20000", false),
    ] {
        agree(
            &format!("sigma {s}"),
            file(&format!(
                "op = \"gaussian_blur\"\nkernel_size = 3\nsigma = {s}"
            )),
            apply(
                "gaussian_blur",
                &[("kernel_size", "3".into()), ("sigma", s.into())],
            ),
            ok,
            ["sigma", "sigma"],
        );
    }
}

#[test]
fn elastic_alpha_cap() {
    for (a, ok) in [
        ("0", true),
        ("50", true),
        ("1e6", true),
        ("-1", false),
        ("1.5e6", false),
    ] {
        agree(
            &format!("alpha {a}"),
            file(&format!("op = \"elastic\"\nalpha = {a}")),
            apply("elastic", &[("alpha", a.into())]),
            ok,
            ["alpha", "alpha"],
        );
    }
}

#[test]
fn affine_degrees_limit() {
    for (d, ok) in [
        ("-360", true),
        ("0", true),
        ("359.5", true),
        ("360", true),
        ("-361", false),
        ("400", false),
    ] {
        agree(
            &format!("degrees {d}"),
            file(&format!("op = \"affine\"\ndegrees = [{d}, {d}]")),
            apply("affine", &[("angle", d.into())]),
            ok,
            ["degrees", "angle"],
        );
        agree(
            &format!("rotate {d}"),
            file(&format!("op = \"affine\"\ndegrees = [{d}, {d}]")),
            apply("rotate", &[("angle", d.into())]),
            ok,
            ["degrees", "angle"],
        );
    }
}

#[test]
fn hue_shifts_are_signed() {
    for (h, ok) in [
        ("-0.5", true),
        ("-0.2", true),
        ("0", true),
        ("0.3", true),
        ("0.5", true),
        ("-0.6", false),
        ("0.7", false),
    ] {
        agree(
            &format!("hue {h}"),
            file(&format!("op = \"color_jitter\"\nhue = [{h}, {h}]")),
            apply("hue", &[("factor", h.into())]),
            ok,
            ["hue", "factor"],
        );
        agree(
            &format!("color_jitter hue {h}"),
            file(&format!("op = \"color_jitter\"\nhue = [{h}, {h}]")),
            apply("color_jitter", &[("hue", h.into())]),
            ok,
            ["hue", "hue"],
        );
    }
}

#[test]
fn elastic_sigma_is_checked_against_the_output_size_when_read() {
    // 32 x 32 output: at most 100 x 32 = 3200 pixels.
    for (s, ok) in [("5", true), ("3200", true), ("3201", false), ("1e5", false)] {
        agree(
            &format!("sigma {s}"),
            file(&format!("op = \"elastic\"\nsigma = {s}")),
            apply("elastic", &[("sigma", s.into())]),
            ok,
            ["sigma", "sigma"],
        );
    }
    // Built in code: refused by the same rule before anything runs.
    let p = Pipeline {
        size: Size::square(32),
        format: OutputFormat::U8Hwc,
        ops: vec![Op::Elastic {
            alpha: [50.0, 50.0],
            sigma: 1e5,
            fill: [0.0; 3],
            p: 1.0,
        }],
        views: 1,
        mix: None,
        schedules: Default::default(),
    };
    let e = Augmenter::new(p, Backend::Cpu).err().expect("refused");
    assert!(
        matches!(&e, Error::InvalidParam { key, op, .. } if key == "sigma" && op == "elastic"),
        "{e}"
    );
}

#[test]
fn code_built_ops_that_used_to_panic_or_hang_are_refused() {
    use gpu_augment::ops::PolicyKind;
    use gpu_augment::Interpolation;
    let p = |op: Op| Pipeline::new(Size::square(8), OutputFormat::F32Chw).with(op);
    let cases: Vec<(Op, &str)> = vec![
        (
            Op::Policy {
                kind: PolicyKind::TrivialAugmentWide {
                    num_bins: 0,
                    ops: gpu_augment::ops::policy::ALL_OPS,
                },
                interpolation: Interpolation::Nearest,
                fill: [128.0; 3],
            },
            "num_bins",
        ),
        (Op::Posterize { bits: 9, p: 1.0 }, "bits"),
        (
            Op::GaussianBlur {
                kernel_size: u32::MAX,
                kernel_size_y: None,
                sigma: [1.0, 1.0],
                p: 1.0,
            },
            "kernel_size",
        ),
        (
            Op::Normalize {
                mean: [0.5; 3],
                std: [1e-40, 0.2, 0.2],
            },
            "std",
        ),
    ];
    for (op, key) in cases {
        let name = op.name();
        let e = p(op).err().unwrap_or_else(|| panic!("{name} accepted"));
        assert!(
            matches!(&e, Error::InvalidParam { key: k, .. } if k == key),
            "{name}: {e}"
        );
    }
}

#[test]
fn apply_crop_records_a_crop() {
    let sets = vec![
        ("top".to_string(), "1".to_string()),
        ("left".to_string(), "2".to_string()),
        ("height".to_string(), "5".to_string()),
        ("width".to_string(), "6".to_string()),
    ];
    let (p, d) = explicit_op("crop", &sets, 32, 32).unwrap();
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(
        json,
        r#"{"op":"crop","top":1,"left":2,"height":5,"width":6}"#
    );
    assert_eq!(p.ops[0].name(), "crop");
    assert_eq!(p.size, Size::new(5, 6));
}
