//! `gpu-augment apply`: one op with explicit (not random) parameters, like
//! torchvision's functional API.

use gpu_augment::ops::{ColorStep, Drawn, FieldAmps, Interpolation, Op, ResizeTo, Size};
use gpu_augment::{Augmenter, Batch, Error, OutputFormat, Pipeline, Request, Result, RgbImage};
use std::collections::BTreeMap;

/// Ops `apply` knows, with their keys.
pub const APPLY_OPS: &[(&str, &str)] = &[
    ("crop", "top, left, height, width, size (output; default the box)"),
    ("resize", "size (shorter side) or height,width; interpolation"),
    ("center_crop", "size or height,width"),
    ("pad", "padding (l,t,r,b or one value), fill"),
    ("horizontal_flip", "-"),
    ("vertical_flip", "-"),
    ("affine", "angle, translate (tx,ty pixels), scale, shear (sx,sy degrees), fill, interpolation, center (x,y)"),
    ("rotate", "angle, fill, interpolation"),
    ("brightness", "factor"),
    ("contrast", "factor"),
    ("saturation", "factor"),
    ("hue", "factor (-0.5..0.5)"),
    ("color_jitter", "brightness, contrast, saturation, hue, order (e.g. hue,brightness)"),
    ("grayscale", "-"),
    ("random_field", "l (pixels), dx, dy (pixels), rotation (degrees), log_scale, brightness, contrast, saturation, hue (amplitudes), fill, seed"),
    ("elastic", "alpha (or alpha_x,alpha_y), sigma, fill, seed"),
    ("invert", "-"),
    ("solarize", "threshold (0..255)"),
    ("posterize", "bits (1..8)"),
    ("autocontrast", "-"),
    ("equalize", "-"),
    ("sharpness", "factor"),
    ("gaussian_blur", "kernel_size (odd), sigma"),
    ("gaussian_noise", "sigma, seed"),
    ("gamma", "gamma, gain"),
    ("random_erasing", "top, left, height, width, value (r,g,b 0..255 or random), seed"),
    ("perspective", "endpoints (8 numbers: top-left x,y, top-right, bottom-right, bottom-left), fill, interpolation"),
    ("normalize", "mean (r,g,b), std (r,g,b); writes f32 .npy"),
];

struct Sets {
    op: String,
    map: BTreeMap<String, String>,
}

impl Sets {
    fn err(&self, key: &str, message: impl Into<String>) -> Error {
        Error::InvalidParam {
            index: 0,
            op: self.op.clone(),
            key: key.into(),
            message: message.into(),
        }
    }
    fn take(&mut self, key: &str) -> Option<String> {
        self.map.remove(key)
    }
    fn nums(&mut self, key: &str) -> Result<Option<Vec<f64>>> {
        let Some(v) = self.take(key) else {
            return Ok(None);
        };
        let xs: std::result::Result<Vec<f64>, _> =
            v.split(',').map(|t| t.trim().parse::<f64>()).collect();
        match xs {
            Ok(xs) if xs.iter().all(|x| x.is_finite()) => Ok(Some(xs)),
            _ => Err(self.err(
                key,
                format!("expected finite numbers separated by commas, got {v:?}"),
            )),
        }
    }
    fn num(&mut self, key: &str, default: f64) -> Result<f64> {
        match self.nums(key)?.as_deref() {
            None => Ok(default),
            Some([x]) => Ok(*x),
            Some(_) => Err(self.err(key, "expected one number")),
        }
    }
    fn pair(&mut self, key: &str, default: [f64; 2]) -> Result<[f64; 2]> {
        match self.nums(key)?.as_deref() {
            None => Ok(default),
            Some([x]) => Ok([*x, *x]),
            Some([x, y]) => Ok([*x, *y]),
            Some(_) => Err(self.err(key, "expected one or two numbers")),
        }
    }
    fn triple(&mut self, key: &str, default: [f64; 3]) -> Result<[f64; 3]> {
        match self.nums(key)?.as_deref() {
            None => Ok(default),
            Some([x]) => Ok([*x; 3]),
            Some([x, y, z]) => Ok([*x, *y, *z]),
            Some(_) => Err(self.err(key, "expected one or three numbers")),
        }
    }
    fn int(&mut self, key: &str, default: Option<i64>) -> Result<i64> {
        let x = match (self.nums(key)?.as_deref(), default) {
            (None, Some(d)) => return Ok(d),
            (None, None) => return Err(self.err(key, "missing")),
            (Some([x]), _) => *x,
            (Some(_), _) => return Err(self.err(key, "expected one integer")),
        };
        if x.fract() != 0.0 || x.abs() > 1e9 {
            return Err(self.err(key, format!("expected an integer, got {x}")));
        }
        Ok(x as i64)
    }
    fn size(&mut self, key: &str) -> Result<Option<Size>> {
        let Some(xs) = self.nums(key)? else {
            return Ok(None);
        };
        let ok = |x: f64| (1.0..=65535.0).contains(&x) && x.fract() == 0.0;
        match xs.as_slice() {
            [s] if ok(*s) => Ok(Some(Size::square(*s as u32))),
            [h, w] if ok(*h) && ok(*w) => Ok(Some(Size::new(*h as u32, *w as u32))),
            _ => Err(self.err(key, "expected a size in [1, 65535] or height,width")),
        }
    }
    /// A number in [lo, hi].
    fn num_in(&mut self, key: &str, default: f64, lo: f64, hi: f64) -> Result<f64> {
        let x = self.num(key, default)?;
        if !(lo..=hi).contains(&x) {
            return Err(self.err(key, format!("must be in [{lo}, {hi}], got {x}")));
        }
        Ok(x)
    }
    /// The field noise seed (an unsigned 64-bit integer, as in params.jsonl).
    fn seed(&mut self) -> Result<u64> {
        match self.take("seed") {
            None => Ok(0),
            Some(v) => v.trim().parse::<u64>().map_err(|_| {
                self.err(
                    "seed",
                    format!("expected an unsigned 64-bit integer, got {v:?}"),
                )
            }),
        }
    }
    fn interpolation(&mut self) -> Result<Interpolation> {
        match self.take("interpolation").as_deref() {
            None | Some("bilinear") => Ok(Interpolation::Bilinear),
            Some("nearest") => Ok(Interpolation::Nearest),
            Some(o) => Err(self.err(
                "interpolation",
                format!("expected bilinear or nearest, got {o:?}"),
            )),
        }
    }
    fn factor(&mut self, key: &str, default: f64) -> Result<f64> {
        let f = self.num(key, default)?;
        if key == "hue" && !(-0.5..=0.5).contains(&f) {
            return Err(self.err(key, format!("must be in [-0.5, 0.5], got {f}")));
        }
        if key != "hue" && f < 0.0 {
            return Err(self.err(key, format!("must be >= 0, got {f}")));
        }
        Ok(f)
    }
}

fn jitter(b: f64, c: f64, s: f64, h: f64, order: Vec<ColorStep>) -> (Op, Drawn) {
    let r = |x: f64| Some([x, x]);
    (
        Op::ColorJitter {
            brightness: r(b),
            contrast: r(c),
            saturation: r(s),
            hue: r(h),
            p: 1.0,
        },
        Drawn::ColorJitter {
            applied: true,
            brightness: b,
            contrast: c,
            saturation: s,
            hue: h,
            order,
        },
    )
}

/// Parses `--set key=value` pairs for op `name` on an image of `w` x `h`;
/// returns the one-op pipeline and its explicit parameters.
pub fn explicit_op(
    name: &str,
    sets: &[(String, String)],
    w: u32,
    h: u32,
) -> Result<(Pipeline, Drawn)> {
    let mut s = Sets {
        op: name.to_string(),
        map: BTreeMap::new(),
    };
    for (k, v) in sets {
        if s.map.insert(k.clone(), v.clone()).is_some() {
            return Err(s.err(k, "given twice"));
        }
    }
    let same = Size::new(h, w);
    let mut format = OutputFormat::U8Hwc;
    let (op, drawn, size) = match name {
        "crop" => {
            let top = s.int("top", Some(0))?;
            let left = s.int("left", Some(0))?;
            let height = s.int("height", Some(h as i64))?;
            let width = s.int("width", Some(w as i64))?;
            if height < 1 || width < 1 || height > 65535 || width > 65535 {
                return Err(s.err("height", "crop box must be 1..65535 on each side"));
            }
            let out = s
                .size("size")?
                .unwrap_or(Size::new(height as u32, width as u32));
            (
                Op::RandomResizedCrop {
                    size: Some(out),
                    scale: [1.0, 1.0],
                    ratio: [1.0, 1.0],
                    interpolation: s.interpolation()?,
                },
                Drawn::RandomResizedCrop {
                    top,
                    left,
                    height,
                    width,
                },
                out,
            )
        }
        "resize" => {
            let interpolation = s.interpolation()?;
            let to = match s.nums("size")?.as_deref() {
                Some([x]) if *x >= 1.0 && x.fract() == 0.0 => ResizeTo::Shorter(*x as u32),
                Some([a, b]) if *a >= 1.0 && *b >= 1.0 => {
                    ResizeTo::Exact(Size::new(*a as u32, *b as u32))
                }
                _ => return Err(s.err("size", "expected a positive integer or height,width")),
            };
            let t = gpu_augment::ops::resize_output(to, None, w, h);
            (
                Op::Resize {
                    size: to,
                    max_size: None,
                    interpolation,
                },
                Drawn::Resize {
                    height: t.height,
                    width: t.width,
                },
                t,
            )
        }
        "center_crop" => {
            let size = s.size("size")?.ok_or_else(|| s.err("size", "missing"))?;
            let op = Op::CenterCrop { size };
            // Centre crops draw nothing random: the box of a one-op pipeline's draw.
            let mut d = Pipeline::new(size, OutputFormat::U8Hwc)
                .with(op.clone())?
                .draw(0, 0, 0, 0, w, h);
            (op, d.remove(0), size)
        }
        "pad" => {
            let p = match s.nums("padding")?.as_deref() {
                Some([a]) => [*a; 4],
                Some([a, b]) => [*a, *b, *a, *b],
                Some([l, t, r, b]) => [*l, *t, *r, *b],
                _ => return Err(s.err("padding", "expected 1, 2 or 4 non-negative integers")),
            };
            if p.iter()
                .any(|x| *x < 0.0 || x.fract() != 0.0 || *x > 65535.0)
            {
                return Err(s.err("padding", "values must be integers in [0, 65535]"));
            }
            let p = p.map(|x| x as u32);
            let size = Size::new(h + p[1] + p[3], w + p[0] + p[2]);
            let fill = s.triple("fill", [0.0; 3])?;
            (
                Op::RandomCrop {
                    size,
                    padding: p,
                    pad_if_needed: false,
                    fill,
                },
                Drawn::RandomCrop {
                    top: -(p[1] as i64),
                    left: -(p[0] as i64),
                    height: size.height as i64,
                    width: size.width as i64,
                },
                size,
            )
        }
        "horizontal_flip" => (
            Op::HorizontalFlip { p: 1.0 },
            Drawn::HorizontalFlip { applied: true },
            same,
        ),
        "vertical_flip" => (
            Op::VerticalFlip { p: 1.0 },
            Drawn::VerticalFlip { applied: true },
            same,
        ),
        "affine" | "rotate" => {
            let angle = s.num("angle", 0.0)?;
            let (translate, scale, shear) = if name == "affine" {
                (
                    s.pair("translate", [0.0, 0.0])?,
                    s.num("scale", 1.0)?,
                    s.pair("shear", [0.0, 0.0])?,
                )
            } else {
                ([0.0, 0.0], 1.0, [0.0, 0.0])
            };
            if scale <= 0.0 {
                return Err(s.err("scale", format!("must be > 0, got {scale}")));
            }
            let center = match s.nums("center")?.as_deref() {
                None => None,
                Some([x, y]) => Some([*x, *y]),
                Some(_) => return Err(s.err("center", "expected x,y")),
            };
            let fill = s.triple("fill", [0.0; 3])?;
            let interpolation = s.interpolation()?;
            (
                Op::Affine {
                    degrees: [angle, angle],
                    translate: None,
                    scale: None,
                    shear: None,
                    interpolation,
                    fill,
                    center,
                    p: 1.0,
                },
                Drawn::Affine {
                    applied: true,
                    angle,
                    translate,
                    scale,
                    shear,
                },
                same,
            )
        }
        "brightness" | "contrast" | "saturation" | "hue" => {
            let neutral = if name == "hue" { 0.0 } else { 1.0 };
            let f = s.factor("factor", neutral)?;
            let (step, b, c, sa, hu) = match name {
                "brightness" => (ColorStep::Brightness, f, 1.0, 1.0, 0.0),
                "contrast" => (ColorStep::Contrast, 1.0, f, 1.0, 0.0),
                "saturation" => (ColorStep::Saturation, 1.0, 1.0, f, 0.0),
                _ => (ColorStep::Hue, 1.0, 1.0, 1.0, f),
            };
            let (op, d) = jitter(b, c, sa, hu, vec![step]);
            (op, d, same)
        }
        "color_jitter" => {
            let b = s.factor("brightness", 1.0)?;
            let c = s.factor("contrast", 1.0)?;
            let sa = s.factor("saturation", 1.0)?;
            let hu = s.factor("hue", 0.0)?;
            let order = match s.take("order") {
                None => vec![
                    ColorStep::Brightness,
                    ColorStep::Contrast,
                    ColorStep::Saturation,
                    ColorStep::Hue,
                ],
                Some(o) => o
                    .split(',')
                    .map(|t| match t.trim() {
                        "brightness" => Ok(ColorStep::Brightness),
                        "contrast" => Ok(ColorStep::Contrast),
                        "saturation" => Ok(ColorStep::Saturation),
                        "hue" => Ok(ColorStep::Hue),
                        other => Err(s.err(
                            "order",
                            format!(
                                "unknown step {other:?} (brightness, contrast, saturation, hue)"
                            ),
                        )),
                    })
                    .collect::<Result<Vec<_>>>()?,
            };
            let (op, d) = jitter(b, c, sa, hu, order);
            (op, d, same)
        }
        "grayscale" => (
            Op::Grayscale { p: 1.0 },
            Drawn::Grayscale { applied: true },
            same,
        ),
        "random_field" => {
            use gpu_augment::ops::{MAX_LENGTH_SCALE, MIN_LENGTH_SCALE};
            let l = s.num_in("l", 16.0, MIN_LENGTH_SCALE, MAX_LENGTH_SCALE)?;
            let amp = FieldAmps::read(|key, max| s.num_in(key, 0.0, 0.0, max))?;
            let fill = s.triple("fill", [0.0; 3])?;
            let seed = s.seed()?;
            (
                Op::RandomField {
                    l: [l, l],
                    amp,
                    fill,
                    p: 1.0,
                },
                Drawn::RandomField {
                    applied: true,
                    l,
                    seed,
                },
                same,
            )
        }
        "elastic" => {
            let alpha = s.pair("alpha", [50.0, 50.0])?;
            if alpha.iter().any(|a| *a < 0.0) {
                return Err(s.err("alpha", format!("must be >= 0, got {alpha:?}")));
            }
            let sigma = s.num_in(
                "sigma",
                5.0,
                gpu_augment::ops::MIN_LENGTH_SCALE,
                gpu_augment::ops::MAX_LENGTH_SCALE,
            )?;
            let fill = s.triple("fill", [0.0; 3])?;
            let seed = s.seed()?;
            (
                Op::Elastic {
                    alpha,
                    sigma,
                    fill,
                    p: 1.0,
                },
                Drawn::Elastic {
                    applied: true,
                    seed,
                },
                same,
            )
        }
        "invert" => (Op::Invert { p: 1.0 }, Drawn::Invert { applied: true }, same),
        "autocontrast" => (
            Op::Autocontrast { p: 1.0 },
            Drawn::Autocontrast { applied: true },
            same,
        ),
        "equalize" => (
            Op::Equalize { p: 1.0 },
            Drawn::Equalize { applied: true },
            same,
        ),
        "solarize" => (
            Op::Solarize {
                threshold: s.num_in("threshold", 128.0, 0.0, 255.0)?,
                p: 1.0,
            },
            Drawn::Solarize { applied: true },
            same,
        ),
        "posterize" => {
            let bits = s.num_in("bits", 4.0, 1.0, 8.0)?;
            if bits.fract() != 0.0 {
                return Err(s.err("bits", format!("must be an integer, got {bits}")));
            }
            (
                Op::Posterize {
                    bits: bits as u32,
                    p: 1.0,
                },
                Drawn::Posterize { applied: true },
                same,
            )
        }
        "sharpness" => (
            Op::Sharpness {
                factor: s.num_in("factor", 1.0, 0.0, 100.0)?,
                p: 1.0,
            },
            Drawn::Sharpness { applied: true },
            same,
        ),
        "gaussian_blur" => {
            let k = s.int("kernel_size", None)?;
            if !(1..=255).contains(&k) || k % 2 == 0 {
                return Err(s.err(
                    "kernel_size",
                    format!("must be odd and in [1, 255], got {k}"),
                ));
            }
            let sigma = s.num_in("sigma", 1.0, 1e-6, 1e4)?;
            (
                Op::GaussianBlur {
                    kernel_size: k as u32,
                    sigma: [sigma, sigma],
                    p: 1.0,
                },
                Drawn::GaussianBlur {
                    applied: true,
                    sigma,
                },
                same,
            )
        }
        "gaussian_noise" => {
            let sigma = s.num_in("sigma", 0.1, 0.0, 10.0)?;
            let seed = s.seed()?;
            (
                Op::GaussianNoise { sigma, p: 1.0 },
                Drawn::GaussianNoise {
                    applied: true,
                    seed,
                },
                same,
            )
        }
        "gamma" => {
            let gamma = s.num_in("gamma", 1.0, 1e-6, 100.0)?;
            (
                Op::Gamma {
                    gamma: [gamma, gamma],
                    gain: s.num_in("gain", 1.0, 0.0, 100.0)?,
                    p: 1.0,
                },
                Drawn::Gamma {
                    applied: true,
                    gamma,
                },
                same,
            )
        }
        "random_erasing" => {
            let top = s.int("top", Some(0))?;
            let left = s.int("left", Some(0))?;
            let height = s.int("height", Some(h as i64 / 2))?;
            let width = s.int("width", Some(w as i64 / 2))?;
            let value = match s.take("value").as_deref() {
                Some("random") => None,
                Some(v) => {
                    s.map.insert("value".into(), v.to_string());
                    Some(s.triple("value", [0.0; 3])?)
                }
                None => Some([0.0; 3]),
            };
            let seed = s.seed()?;
            (
                Op::RandomErasing {
                    p: 1.0,
                    scale: [0.0, 1.0],
                    ratio: [1.0, 1.0],
                    value,
                },
                Drawn::RandomErasing {
                    applied: true,
                    top,
                    left,
                    height,
                    width,
                    seed,
                },
                same,
            )
        }
        "perspective" => {
            let e = match s.nums("endpoints")?.as_deref() {
                Some(v) if v.len() == 8 && v.iter().all(|x| x.fract() == 0.0 && x.abs() < 1e6) => {
                    [[v[0], v[1]], [v[2], v[3]], [v[4], v[5]], [v[6], v[7]]].map(|[x, y]| [x as i64, y as i64])
                }
                _ => {
                    return Err(s.err(
                        "endpoints",
                        "expected 8 integers: where the top-left, top-right, bottom-right and bottom-left corners go (x,y each)",
                    ))
                }
            };
            let fill = s.triple("fill", [0.0; 3])?;
            (
                Op::Perspective {
                    distortion: 0.0,
                    p: 1.0,
                    interpolation: s.interpolation()?,
                    fill,
                },
                Drawn::Perspective {
                    applied: true,
                    endpoints: e,
                },
                same,
            )
        }
        "normalize" => {
            let mean = s.triple("mean", [0.485, 0.456, 0.406])?;
            let std = s.triple("std", [0.229, 0.224, 0.225])?;
            if std.iter().any(|x| *x <= 0.0) {
                return Err(s.err("std", "values must be > 0"));
            }
            format = OutputFormat::F32Chw;
            (Op::Normalize { mean, std }, Drawn::Normalize {}, same)
        }
        other => {
            return Err(Error::UnknownOp {
                index: 0,
                name: other.into(),
                known: APPLY_OPS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    };
    if let Some(k) = s.map.keys().next() {
        let allowed = APPLY_OPS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
            .unwrap_or("");
        return Err(Error::UnknownKey {
            index: 0,
            op: name.into(),
            key: k.clone(),
            allowed: allowed.into(),
        });
    }
    let pipeline = Pipeline {
        size,
        format,
        ops: vec![op],
        views: 1,
        mix: None,
    };
    pipeline.validate()?;
    Ok((pipeline, drawn))
}

/// Applies one explicit op to `image`.
pub fn apply_op(
    aug_for: impl Fn(Pipeline) -> Result<Augmenter>,
    name: &str,
    sets: &[(String, String)],
    image: RgbImage,
) -> Result<Batch> {
    let (pipeline, drawn) = explicit_op(name, sets, image.width(), image.height())?;
    let aug = aug_for(pipeline)?;
    aug.augment(Request::new(&[image]).params(&[vec![drawn]]))
}
