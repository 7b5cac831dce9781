//! Pipelines built in code are checked by the same rules as pipeline files,
//! before any draw. Every key of every op gets edge values (0, 1, u32::MAX,
//! negative, NaN, +-infinity, subnormal): the result is Ok, or an error that
//! names the op and the key; never a panic, a hang or a non-finite output,
//! on the CPU and (when an adapter exists) the GPU.
//!
//! A seeded loop over an exhaustive case list rather than proptest: the cases
//! are a fixed product (op x key x edge value), so shrinking buys nothing,
//! and it needs no extra crate on a 2-core CI machine. Multi-op pipelines are
//! drawn from a fixed-seed ChaCha8 stream, so failures reproduce.

mod common;

use gpu_augment::ops::{FieldAmps, PolicyKind};
use gpu_augment::{
    Augmenter, Backend, BatchKey, Error, Interpolation, Op, OutputFormat, Pipeline, Request,
    ResizeTo, RgbImage, Size, Tensor,
};
use rand::{Rng, SeedableRng};
use std::sync::mpsc;
use std::time::Duration;

const EDGES: [f64; 11] = [
    0.0,
    1.0,
    u32::MAX as f64,
    -1.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e-310, // subnormal
    -1e-310,
    0.5,
    1e9,
];
const INT_EDGES: [u32; 7] = [0, 1, 2, 3, 9, 65536, u32::MAX];

type Set = fn(&mut Op, f64);
type Make = Box<dyn FnOnce(Pipeline) -> gpu_augment::Result<Augmenter> + Send>;

macro_rules! num {
    ($v:ident, $f:ident) => {
        |o: &mut Op, x: f64| {
            if let Op::$v { $f, .. } = o {
                *$f = x;
            }
        }
    };
}
macro_rules! int {
    ($v:ident, $f:ident) => {
        |o: &mut Op, x: f64| {
            if let Op::$v { $f, .. } = o {
                *$f = x as u32;
            }
        }
    };
}
macro_rules! pair {
    ($v:ident, $f:ident, $i:expr) => {
        |o: &mut Op, x: f64| {
            if let Op::$v { $f, .. } = o {
                $f[$i] = x;
            }
        }
    };
}
macro_rules! opt_pair {
    ($v:ident, $f:ident) => {
        |o: &mut Op, x: f64| {
            if let Op::$v { $f, .. } = o {
                *$f = Some([x.min(1.0), x]);
            }
        }
    };
}
macro_rules! rgb {
    ($v:ident, $f:ident) => {
        |o: &mut Op, x: f64| {
            if let Op::$v { $f, .. } = o {
                $f[1] = x;
            }
        }
    };
}

fn base_ops() -> Vec<Op> {
    let bi = Interpolation::Bilinear;
    vec![
        Op::RandomResizedCrop {
            size: None,
            scale: [0.08, 1.0],
            ratio: [0.75, 1.333],
            interpolation: bi,
        },
        Op::Crop {
            top: 1,
            left: 1,
            height: 4,
            width: 3,
            size: None,
            interpolation: bi,
        },
        Op::Resize {
            size: ResizeTo::Shorter(6),
            max_size: None,
            interpolation: bi,
            antialias: true,
        },
        Op::CenterCrop {
            size: Size::new(5, 6),
        },
        Op::RandomCrop {
            size: Size::new(4, 4),
            padding: [1, 1, 1, 1],
            pad_if_needed: true,
            fill: [0.0; 3],
            padding_mode: 0,
        },
        Op::HorizontalFlip { p: 0.5 },
        Op::VerticalFlip { p: 0.5 },
        Op::Affine {
            degrees: [-10.0, 10.0],
            translate: Some([0.1, 0.1]),
            scale: Some([0.9, 1.1]),
            shear: Some([-5.0, 5.0, 0.0, 0.0]),
            interpolation: bi,
            fill: [0.0; 3],
            center: None,
            antialias: false,
            expand: false,
            p: 1.0,
        },
        Op::ColorJitter {
            brightness: Some([0.8, 1.2]),
            contrast: Some([0.8, 1.2]),
            saturation: Some([0.8, 1.2]),
            hue: Some([-0.1, 0.1]),
            p: 1.0,
        },
        Op::Grayscale {
            p: 1.0,
            num_output_channels: 3,
        },
        Op::PermuteChannels { p: 1.0 },
        Op::RandomField {
            l: [2.0, 4.0],
            amp: FieldAmps {
                dx: 1.0,
                contrast: 0.2,
                ..Default::default()
            },
            fill: [0.0; 3],
            p: 1.0,
        },
        Op::Elastic {
            alpha: [50.0, 50.0],
            sigma: 5.0,
            fill: [0.0; 3],
            p: 1.0,
        },
        Op::Invert { p: 0.5 },
        Op::Solarize {
            threshold: 128.0,
            p: 0.5,
        },
        Op::Posterize { bits: 4, p: 1.0 },
        Op::Autocontrast { p: 1.0 },
        Op::Equalize { p: 1.0 },
        Op::Sharpness {
            factor: 2.0,
            p: 1.0,
        },
        Op::GaussianBlur {
            kernel_size: 3,
            kernel_size_y: None,
            sigma: [0.1, 2.0],
            p: 1.0,
        },
        Op::GaussianNoise { sigma: 0.1, p: 1.0 },
        Op::Gamma {
            gamma: [0.8, 1.2],
            gain: 1.0,
            p: 1.0,
        },
        Op::RandomErasing {
            p: 1.0,
            scale: [0.02, 0.33],
            ratio: [0.3, 3.3],
            value: Some([0.0; 3]),
        },
        Op::Cutout {
            n_holes: 2,
            length: 3,
            value: [10.0, 20.0, 30.0],
            p: 1.0,
        },
        Op::ColorfulCutout {
            n_holes: 2,
            length: 4,
            grid: 2,
            p: 1.0,
        },
        Op::RotationLabel { all_views: false },
        Op::Perspective {
            distortion: 0.5,
            p: 1.0,
            interpolation: bi,
            fill: [0.0; 3],
        },
        Op::Policy {
            kind: PolicyKind::RandAugment {
                num_ops: 2,
                magnitude: 9,
                num_bins: 31,
                ops: gpu_augment::ops::policy::ALL_OPS,
            },
            interpolation: Interpolation::Nearest,
            fill: [128.0; 3],
        },
        Op::Policy {
            kind: PolicyKind::TrivialAugmentWide {
                num_bins: 31,
                ops: gpu_augment::ops::policy::ALL_OPS,
            },
            interpolation: Interpolation::Nearest,
            fill: [128.0; 3],
        },
        Op::AugMix {
            severity: 3,
            width: 2,
            depth: 0,
            alpha: 1.0,
            all_ops: true,
            interpolation: bi,
            fill: [128.0; 3],
        },
        Op::Normalize {
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        },
    ]
}

/// (op name, key, setter, integer key?) for every key of every op.
fn keys() -> Vec<(&'static str, &'static str, Set, bool)> {
    vec![
        (
            "random_resized_crop",
            "scale",
            pair!(RandomResizedCrop, scale, 0),
            false,
        ),
        (
            "random_resized_crop",
            "scale",
            pair!(RandomResizedCrop, scale, 1),
            false,
        ),
        (
            "random_resized_crop",
            "ratio",
            pair!(RandomResizedCrop, ratio, 0),
            false,
        ),
        (
            "random_resized_crop",
            "ratio",
            pair!(RandomResizedCrop, ratio, 1),
            false,
        ),
        (
            "random_resized_crop",
            "size",
            |o, x| {
                if let Op::RandomResizedCrop { size, .. } = o {
                    *size = Some(Size::new(x as u32, 3))
                }
            },
            true,
        ),
        (
            "crop",
            "top",
            |o, x| {
                if let Op::Crop { top, .. } = o {
                    *top = x as i64
                }
            },
            false,
        ),
        (
            "crop",
            "height",
            |o, x| {
                if let Op::Crop { height, .. } = o {
                    *height = x as i64
                }
            },
            true,
        ),
        (
            "crop",
            "width",
            |o, x| {
                if let Op::Crop { width, .. } = o {
                    *width = x as i64
                }
            },
            true,
        ),
        (
            "resize",
            "size",
            |o, x| {
                if let Op::Resize { size, .. } = o {
                    *size = ResizeTo::Shorter(x as u32)
                }
            },
            true,
        ),
        (
            "resize",
            "size",
            |o, x| {
                if let Op::Resize { size, .. } = o {
                    *size = ResizeTo::Exact(Size::new(2, x as u32))
                }
            },
            true,
        ),
        (
            "resize",
            "max_size",
            |o, x| {
                if let Op::Resize { max_size, .. } = o {
                    *max_size = Some(x as u32)
                }
            },
            true,
        ),
        (
            "center_crop",
            "size",
            |o, x| {
                if let Op::CenterCrop { size } = o {
                    *size = Size::new(x as u32, 2)
                }
            },
            true,
        ),
        (
            "random_crop",
            "size",
            |o, x| {
                if let Op::RandomCrop { size, .. } = o {
                    *size = Size::new(3, x as u32)
                }
            },
            true,
        ),
        (
            "random_crop",
            "padding",
            |o, x| {
                if let Op::RandomCrop { padding, .. } = o {
                    padding[2] = x as u32
                }
            },
            true,
        ),
        ("random_crop", "fill", rgb!(RandomCrop, fill), false),
        ("horizontal_flip", "p", num!(HorizontalFlip, p), false),
        ("vertical_flip", "p", num!(VerticalFlip, p), false),
        ("affine", "degrees", pair!(Affine, degrees, 1), false),
        (
            "affine",
            "translate",
            |o, x| {
                if let Op::Affine { translate, .. } = o {
                    *translate = Some([0.0, x])
                }
            },
            false,
        ),
        ("affine", "scale", opt_pair!(Affine, scale), false),
        (
            "affine",
            "shear",
            |o, x| {
                if let Op::Affine { shear, .. } = o {
                    *shear = Some([0.0, 0.0, x.min(0.0), x])
                }
            },
            false,
        ),
        ("affine", "fill", rgb!(Affine, fill), false),
        (
            "affine",
            "center",
            |o, x| {
                if let Op::Affine { center, .. } = o {
                    *center = Some([x, 1.0])
                }
            },
            false,
        ),
        ("affine", "p", num!(Affine, p), false),
        (
            "color_jitter",
            "brightness",
            opt_pair!(ColorJitter, brightness),
            false,
        ),
        (
            "color_jitter",
            "contrast",
            opt_pair!(ColorJitter, contrast),
            false,
        ),
        (
            "color_jitter",
            "saturation",
            opt_pair!(ColorJitter, saturation),
            false,
        ),
        (
            "color_jitter",
            "hue",
            |o, x| {
                if let Op::ColorJitter { hue, .. } = o {
                    *hue = Some([x.min(0.0), x])
                }
            },
            false,
        ),
        ("color_jitter", "p", num!(ColorJitter, p), false),
        ("grayscale", "p", num!(Grayscale, p), false),
        (
            "grayscale",
            "num_output_channels",
            int!(Grayscale, num_output_channels),
            true,
        ),
        ("permute_channels", "p", num!(PermuteChannels, p), false),
        ("random_field", "l", pair!(RandomField, l, 1), false),
        (
            "random_field",
            "l",
            |o, x| {
                if let Op::RandomField { l, .. } = o {
                    *l = [x, x]
                }
            },
            false,
        ),
        (
            "random_field",
            "dx",
            |o, x| {
                if let Op::RandomField { amp, .. } = o {
                    amp.dx = x
                }
            },
            false,
        ),
        (
            "random_field",
            "rotation",
            |o, x| {
                if let Op::RandomField { amp, .. } = o {
                    amp.rotation = x
                }
            },
            false,
        ),
        (
            "random_field",
            "log_scale",
            |o, x| {
                if let Op::RandomField { amp, .. } = o {
                    amp.log_scale = x
                }
            },
            false,
        ),
        (
            "random_field",
            "contrast",
            |o, x| {
                if let Op::RandomField { amp, .. } = o {
                    amp.contrast = x
                }
            },
            false,
        ),
        (
            "random_field",
            "hue",
            |o, x| {
                if let Op::RandomField { amp, .. } = o {
                    amp.hue = x
                }
            },
            false,
        ),
        ("random_field", "fill", rgb!(RandomField, fill), false),
        ("random_field", "p", num!(RandomField, p), false),
        ("elastic", "alpha", pair!(Elastic, alpha, 0), false),
        ("elastic", "sigma", num!(Elastic, sigma), false),
        ("elastic", "fill", rgb!(Elastic, fill), false),
        ("elastic", "p", num!(Elastic, p), false),
        ("invert", "p", num!(Invert, p), false),
        ("solarize", "threshold", num!(Solarize, threshold), false),
        ("solarize", "p", num!(Solarize, p), false),
        ("posterize", "bits", int!(Posterize, bits), true),
        ("posterize", "p", num!(Posterize, p), false),
        ("autocontrast", "p", num!(Autocontrast, p), false),
        ("equalize", "p", num!(Equalize, p), false),
        ("sharpness", "factor", num!(Sharpness, factor), false),
        ("sharpness", "p", num!(Sharpness, p), false),
        (
            "gaussian_blur",
            "kernel_size",
            int!(GaussianBlur, kernel_size),
            true,
        ),
        (
            "gaussian_blur",
            "sigma",
            pair!(GaussianBlur, sigma, 0),
            false,
        ),
        (
            "gaussian_blur",
            "sigma",
            pair!(GaussianBlur, sigma, 1),
            false,
        ),
        ("gaussian_blur", "p", num!(GaussianBlur, p), false),
        ("gaussian_noise", "sigma", num!(GaussianNoise, sigma), false),
        ("gaussian_noise", "p", num!(GaussianNoise, p), false),
        ("gamma", "gamma", pair!(Gamma, gamma, 0), false),
        ("gamma", "gain", num!(Gamma, gain), false),
        ("gamma", "p", num!(Gamma, p), false),
        ("random_erasing", "p", num!(RandomErasing, p), false),
        (
            "random_erasing",
            "scale",
            pair!(RandomErasing, scale, 1),
            false,
        ),
        (
            "random_erasing",
            "ratio",
            pair!(RandomErasing, ratio, 0),
            false,
        ),
        (
            "random_erasing",
            "value",
            |o, x| {
                if let Op::RandomErasing { value, .. } = o {
                    *value = Some([x, 0.0, 0.0])
                }
            },
            false,
        ),
        ("cutout", "n_holes", int!(Cutout, n_holes), true),
        ("cutout", "length", int!(Cutout, length), true),
        ("cutout", "value", rgb!(Cutout, value), false),
        ("cutout", "p", num!(Cutout, p), false),
        (
            "colorful_cutout",
            "n_holes",
            int!(ColorfulCutout, n_holes),
            true,
        ),
        (
            "colorful_cutout",
            "length",
            int!(ColorfulCutout, length),
            true,
        ),
        ("colorful_cutout", "grid", int!(ColorfulCutout, grid), true),
        ("colorful_cutout", "p", num!(ColorfulCutout, p), false),
        (
            "perspective",
            "distortion",
            num!(Perspective, distortion),
            false,
        ),
        ("perspective", "p", num!(Perspective, p), false),
        ("perspective", "fill", rgb!(Perspective, fill), false),
        (
            "rand_augment",
            "num_ops",
            |o, x| {
                if let Op::Policy {
                    kind: PolicyKind::RandAugment { num_ops, .. },
                    ..
                } = o
                {
                    *num_ops = x as u32
                }
            },
            true,
        ),
        (
            "rand_augment",
            "magnitude",
            |o, x| {
                if let Op::Policy {
                    kind: PolicyKind::RandAugment { magnitude, .. },
                    ..
                } = o
                {
                    *magnitude = x as u32
                }
            },
            true,
        ),
        (
            "rand_augment",
            "num_bins",
            |o, x| {
                if let Op::Policy {
                    kind: PolicyKind::RandAugment { num_bins, .. },
                    ..
                } = o
                {
                    *num_bins = x as u32
                }
            },
            true,
        ),
        (
            "rand_augment",
            "ops",
            |o, x| {
                if let Op::Policy {
                    kind: PolicyKind::RandAugment { ops, .. },
                    ..
                } = o
                {
                    *ops = x as u32 as u16
                }
            },
            true,
        ),
        (
            "rand_augment",
            "fill",
            |o, x| {
                if let Op::Policy { fill, .. } = o {
                    fill[0] = x
                }
            },
            false,
        ),
        (
            "trivial_augment_wide",
            "num_bins",
            |o, x| {
                if let Op::Policy {
                    kind: PolicyKind::TrivialAugmentWide { num_bins, .. },
                    ..
                } = o
                {
                    *num_bins = x as u32
                }
            },
            true,
        ),
        (
            "trivial_augment_wide",
            "ops",
            |o, x| {
                if let Op::Policy {
                    kind: PolicyKind::TrivialAugmentWide { ops, .. },
                    ..
                } = o
                {
                    *ops = x as u32 as u16
                }
            },
            true,
        ),
        ("augmix", "severity", int!(AugMix, severity), true),
        ("augmix", "width", int!(AugMix, width), true),
        ("augmix", "depth", int!(AugMix, depth), true),
        ("augmix", "alpha", num!(AugMix, alpha), false),
        ("augmix", "fill", rgb!(AugMix, fill), false),
        ("normalize", "mean", rgb!(Normalize, mean), false),
        ("normalize", "std", rgb!(Normalize, std), false),
    ]
}

fn base(name: &str) -> Op {
    base_ops()
        .into_iter()
        .find(|o| {
            o.name() == name
                || matches!(
                    (name, o),
                    (
                        "rand_augment",
                        Op::Policy {
                            kind: PolicyKind::RandAugment { .. },
                            ..
                        }
                    ) | (
                        "trivial_augment_wide",
                        Op::Policy {
                            kind: PolicyKind::TrivialAugmentWide { .. },
                            ..
                        }
                    )
                )
        })
        .unwrap_or_else(|| panic!("no base op {name}"))
}

fn images() -> Vec<RgbImage> {
    let img = |w: u32, h: u32, k: u32| {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                ((x * 37 + y * 11 + k) % 256) as u8,
                ((x * 5 + y * 71 + 3 * k) % 256) as u8,
                if (x + y) % 2 == 0 { 255 } else { 0 },
            ])
        })
    };
    vec![img(7, 5, 0), img(4, 9, 1)]
}

/// Runs `f` on a thread; a run past `limit` is a hang.
fn within<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: hung (more than {limit:?})"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// Ok, or an error naming the op (and for a parameter, the key).
fn assert_clear(what: &str, e: &Error, op: &str, key: Option<&str>) {
    let msg = e.to_string();
    match e {
        Error::InvalidParam { op: o, key: k, .. } => {
            assert_eq!(o, op, "{what}: {msg}");
            if let Some(key) = key {
                // The key changed, or another key of the op whose limit
                // depends on it (rand_augment's magnitude on num_bins).
                let of_op = gpu_augment::ops::op_def(op)
                    .is_some_and(|d| d.keys.iter().any(|x| x.name == k));
                assert!(k == key || of_op, "{what}: {msg}");
            }
        }
        Error::OpFailed { op: o, .. } => assert_eq!(o, op, "{what}: {msg}"),
        Error::InvalidPipeline(m) => assert!(!m.is_empty(), "{what}"),
        other => panic!("{what}: unexpected error {other:?}"),
    }
}

fn pipeline(ops: Vec<Op>) -> Pipeline {
    Pipeline {
        size: Size::new(6, 5),
        format: OutputFormat::F32Chw,
        ops,
        views: 1,
        mix: None,
        schedules: Default::default(),
    }
}

/// Builds and runs `p` on the CPU (and on the GPU when `gpu` is given).
fn run(what: &str, p: Pipeline, op: &str, key: Option<&str>, on_gpu: bool) -> bool {
    let mut backends: Vec<(&str, Make)> =
        vec![("cpu", Box::new(|p| Augmenter::new(p, Backend::Cpu)))];
    if on_gpu {
        if let Some(g) = common::gpu() {
            backends.push(("gpu", Box::new(move |p| Augmenter::with_gpu(p, g))));
        }
    }
    let mut ok = false;
    for (name, make) in backends {
        let what = format!("{what} [{name}]");
        let p = p.clone();
        let w2 = what.clone();
        let res = within(&what, Duration::from_secs(120), move || {
            let aug = make(p)?;
            aug.augment(Request::new(&images()).key(BatchKey::new(7, 0, 0)))
        });
        match res {
            Ok(batch) => {
                let Tensor::F32(v) = &batch.data else {
                    panic!("{w2}: f32 output expected")
                };
                assert!(v.iter().all(|x| x.is_finite()), "{w2}: non-finite output");
                ok = true;
            }
            Err(e) => assert_clear(&w2, &e, op, key),
        }
    }
    ok
}

#[test]
fn every_key_of_every_op_at_edge_values() {
    // The base ops themselves are valid.
    for op in base_ops() {
        let name = op.name();
        pipeline(vec![op])
            .validate()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let (mut accepted, mut refused) = (0, 0);
    for (op, key, set, int) in keys() {
        let edges: Vec<f64> = if int {
            INT_EDGES.iter().map(|x| *x as f64).collect()
        } else {
            EDGES.to_vec()
        };
        for x in edges {
            let mut o = base(op);
            set(&mut o, x);
            let what = format!("{op}.{key} = {x:e}");
            let p = pipeline(vec![o]);
            // Checked before anything runs.
            match p.validate() {
                Err(e) => {
                    assert!(matches!(e, Error::InvalidParam { .. }), "{what}: {e}");
                    assert_clear(&what, &e, op, Some(key));
                    refused += 1;
                    // Augmenter::new refuses it with the same error.
                    let e2 = Augmenter::new(p, Backend::Cpu).err().expect("refused");
                    assert_eq!(e.to_string(), e2.to_string());
                }
                Ok(()) => {
                    // GPU for a fixed-seed third of the accepted cases (lavapipe is slow).
                    let on_gpu = rng.random_range(0..3) == 0;
                    run(&what, p, op, Some(key), on_gpu);
                    accepted += 1;
                }
            }
        }
    }
    assert!(
        accepted > 100 && refused > 100,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn random_multi_op_pipelines_at_edge_values() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    let keys = keys();
    for case in 0..40 {
        let n = rng.random_range(1..4);
        let mut ops = Vec::new();
        let mut names = Vec::new();
        for _ in 0..n {
            let (op, key, set, int) = keys[rng.random_range(0..keys.len())];
            let x = if int {
                INT_EDGES[rng.random_range(0..INT_EDGES.len())] as f64
            } else {
                EDGES[rng.random_range(0..EDGES.len())]
            };
            let mut o = base(op);
            set(&mut o, x);
            names.push(format!("{op}.{key}={x:e}"));
            ops.push(o);
        }
        // normalize / augmix must come last: move them to the end.
        ops.sort_by_key(|o| {
            matches!(o, Op::Normalize { .. }) as u8 * 2 + matches!(o, Op::AugMix { .. }) as u8
        });
        let what = format!("case {case}: {}", names.join(", "));
        let p = pipeline(ops);
        match p.validate() {
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    matches!(e, Error::InvalidParam { .. } | Error::InvalidPipeline(_)),
                    "{what}: {msg}"
                );
            }
            Ok(()) => {
                run_any(&what, p, case % 2 == 0);
            }
        }
    }
}

/// As `run`, for a pipeline of several ops: an error must name one of them.
fn run_any(what: &str, p: Pipeline, on_gpu: bool) {
    let names: Vec<String> = p.ops.iter().map(|o| o.name().to_string()).collect();
    for (name, gpu) in [("cpu", false), ("gpu", true)] {
        if gpu && !on_gpu {
            continue;
        }
        let g = if gpu {
            match common::gpu() {
                Some(g) => Some(g),
                None => continue,
            }
        } else {
            None
        };
        let p = p.clone();
        let what = format!("{what} [{name}]");
        let res = within(&what, Duration::from_secs(120), move || {
            let aug = match g {
                Some(g) => Augmenter::with_gpu(p, g)?,
                None => Augmenter::new(p, Backend::Cpu)?,
            };
            aug.augment(Request::new(&images()).key(BatchKey::new(3, 1, 0)))
        });
        match res {
            Ok(batch) => {
                let Tensor::F32(v) = &batch.data else {
                    panic!("{what}: f32 output expected")
                };
                assert!(v.iter().all(|x| x.is_finite()), "{what}: non-finite output");
            }
            Err(Error::OpFailed { op, .. }) => assert!(names.contains(&op), "{what}: {op}"),
            Err(e) => panic!("{what}: unexpected error {e}"),
        }
    }
}
