//! Ops with explicit (not random) parameters, like torchvision's functional
//! API: what `gpu-augment apply --op NAME --set key=value` runs. The values
//! are read by the same [`Reader`] and checked against the same keys as a
//! pipeline file's (a drawn value such as `angle` within `degrees`' limits).

use crate::error::{Error, Result};
use crate::ops::keys::{color, common, field, geometry as g, Key, KeyDefault, Reader};
use crate::ops::{read_op, ColorStep, Drawn, FieldAmps, Op, ResizeTo, Size};
use crate::pipeline::{OutputFormat, Pipeline};
use std::collections::BTreeMap;

/// One op `apply` knows: its name and keys.
#[derive(Clone, Copy, Debug)]
pub struct ExplicitOp {
    /// The name given to `--op`.
    pub name: &'static str,
    /// Its keys.
    pub keys: &'static [Key],
}

const FACTOR: Key = Key {
    name: "factor",
    shape: "number",
    default: KeyDefault::Num(1.0),
    lo: 0.0,
    hi: f64::MAX,
    gt: false,
    min: 0.0,
};
const HUE_FACTOR: Key = color::HUE
    .renamed("factor")
    .with_default(KeyDefault::Num(0.0));
const ANGLE: Key = g::DEGREES
    .renamed("angle")
    .with_default(KeyDefault::Num(0.0));
const PIXELS: Key = Key {
    name: "translate",
    shape: "tx,ty (pixels)",
    default: KeyDefault::Range([0.0, 0.0]),
    lo: -1e9,
    hi: 1e9,
    gt: false,
    min: -1e9,
};
const SCALE: Key = Key {
    name: "scale",
    shape: "number",
    default: KeyDefault::Num(1.0),
    ..g::AFFINE_SCALE
};
const SHEAR: Key = g::SHEAR.with_default(KeyDefault::Range([0.0, 0.0]));
const BLUR_SIGMA: Key = color::BLUR_SIGMA.with_default(KeyDefault::Num(1.0));
const GAMMA: Key = color::GAMMA.with_default(KeyDefault::Num(1.0));
const L: Key = field::L.with_default(KeyDefault::Num(16.0));
const ENDPOINTS: Key = Key {
    name: "endpoints",
    shape: "8 integers: where the top-left, top-right, bottom-right and bottom-left corners go (x,y each)",
    default: KeyDefault::Required,
    lo: -1e6,
    hi: 1e6,
    gt: false,
    min: -1e6,
};
const STARTPOINTS: Key = Key {
    name: "startpoints",
    shape: "8 integers: the points (x,y each) that move to endpoints, in the same order; default the corners 0,0,W-1,0,W-1,H-1,0,H-1",
    default: KeyDefault::Off,
    ..ENDPOINTS
};
const JITTER_ORDER: Key = Key {
    name: "order",
    shape: "steps, e.g. hue,brightness",
    default: KeyDefault::Off,
    lo: 0.0,
    hi: 0.0,
    gt: false,
    min: 0.0,
};
const ERASE_H: Key = Key {
    lo: 0.0,
    ..g::HEIGHT
};
const ERASE_W: Key = Key {
    lo: 0.0,
    ..g::WIDTH
};

const CENTERS: Key = Key {
    name: "centers",
    shape: "x,y pairs: each hole's centre in pixels (default the image centre)",
    default: KeyDefault::Off,
    lo: -1e6,
    hi: 1e6,
    gt: false,
    min: -1e6,
};
const ROT_K: Key = Key {
    name: "k",
    shape: "0, 1, 2 or 3 (quarter turns counter-clockwise)",
    default: KeyDefault::Num(1.0),
    lo: 0.0,
    hi: 3.0,
    gt: false,
    min: 0.0,
};

/// `apply`'s hole centres (`centers`): x,y pairs, the image centre by default.
fn read_centers(r: &Reader, w: u32, h: u32) -> Result<Vec<[i64; 2]>> {
    match r.numbers(CENTERS.name)?.as_deref() {
        None => Ok(vec![[(w / 2) as i64, (h / 2) as i64]]),
        Some(v)
            if !v.is_empty()
                && v.len() % 2 == 0
                && v.iter().all(|x| x.fract() == 0.0 && x.abs() <= CENTERS.hi) =>
        {
            Ok(v.chunks_exact(2)
                .map(|p| [p[0] as i64, p[1] as i64])
                .collect())
        }
        Some(v) => Err(r.err(
            CENTERS.name,
            format!("expected {}, got {v:?}", CENTERS.shape),
        )),
    }
}

/// Every op `apply` knows, with its keys.
pub const EXPLICIT_OPS: &[ExplicitOp] = {
    const fn op(name: &'static str, keys: &'static [Key]) -> ExplicitOp {
        ExplicitOp { name, keys }
    }
    &[
        op(
            "crop",
            &[
                g::TOP,
                g::LEFT,
                g::HEIGHT,
                g::WIDTH,
                common::SIZE,
                common::RESAMPLING,
            ],
        ),
        op(
            "resize",
            &[common::SIZE, g::MAX_SIZE, common::RESAMPLING, g::ANTIALIAS],
        ),
        op("center_crop", &[common::SIZE]),
        op("pad", &[g::PADDING, common::FILL, g::PADDING_MODE]),
        op("horizontal_flip", &[]),
        op("vertical_flip", &[]),
        op(
            "affine",
            &[
                ANGLE,
                PIXELS,
                SCALE,
                SHEAR,
                common::FILL,
                common::INTERPOLATION,
                g::CENTER,
                g::AFFINE_ANTIALIAS,
            ],
        ),
        op(
            "rotate",
            &[ANGLE, common::FILL, common::INTERPOLATION, g::EXPAND],
        ),
        op("brightness", &[FACTOR]),
        op("contrast", &[FACTOR]),
        op("saturation", &[FACTOR]),
        op("hue", &[HUE_FACTOR]),
        op(
            "color_jitter",
            &[
                color::BRIGHTNESS,
                color::CONTRAST,
                color::SATURATION,
                color::HUE,
                JITTER_ORDER,
            ],
        ),
        op("grayscale", &[color::NUM_OUTPUT_CHANNELS]),
        op("permute_channels", &[color::ORDER]),
        op(
            "random_field",
            &[
                L,
                FieldAmps::KEYS[0],
                FieldAmps::KEYS[1],
                FieldAmps::KEYS[2],
                FieldAmps::KEYS[3],
                FieldAmps::KEYS[4],
                FieldAmps::KEYS[5],
                FieldAmps::KEYS[6],
                FieldAmps::KEYS[7],
                common::FILL,
                field::SEED,
            ],
        ),
        op(
            "elastic",
            &[field::ALPHA, field::SIGMA, common::FILL, field::SEED],
        ),
        op("invert", &[]),
        op("solarize", &[color::THRESHOLD]),
        op("posterize", &[color::BITS]),
        op("autocontrast", &[]),
        op("equalize", &[]),
        op(
            "sharpness",
            &[color::SHARPNESS_FACTOR.with_default(KeyDefault::Num(1.0))],
        ),
        op("gaussian_blur", &[color::KERNEL_SIZE, BLUR_SIGMA]),
        op("gaussian_noise", &[color::NOISE_SIGMA, field::SEED]),
        op("gamma", &[GAMMA, color::GAIN]),
        op(
            "random_erasing",
            &[
                g::TOP,
                g::LEFT,
                ERASE_H,
                ERASE_W,
                color::ERASE_VALUE,
                field::SEED,
            ],
        ),
        op(
            "perspective",
            &[ENDPOINTS, STARTPOINTS, common::FILL, common::INTERPOLATION],
        ),
        op(
            "cutout",
            &[color::CUTOUT_LENGTH, color::CUTOUT_VALUE, CENTERS],
        ),
        op(
            "colorful_cutout",
            &[color::CUTOUT_LENGTH, color::GRID, CENTERS, field::SEED],
        ),
        op("rotation_label", &[ROT_K]),
        op("normalize", &[color::MEAN, color::STD]),
    ]
};

/// The keys of `apply`'s op `name`, in words (for `--help` and errors).
pub fn explicit_keys(name: &str) -> Option<String> {
    EXPLICIT_OPS.iter().find(|o| o.name == name).map(|o| {
        if o.keys.is_empty() {
            "-".to_string()
        } else {
            o.keys
                .iter()
                .map(|k| format!("{} ({})", k.name, k.shape))
                .collect::<Vec<_>>()
                .join(", ")
        }
    })
}

/// Every op `apply` knows with its keys, one per line (`apply --help`).
pub fn help() -> String {
    let mut s = String::from("Op name. The ops and their --set keys:\n");
    for o in EXPLICIT_OPS {
        s.push_str(&format!(
            "  {}: {}\n",
            o.name,
            explicit_keys(o.name).unwrap_or_default()
        ));
    }
    s
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

/// Reads `--set key=value` pairs for op `name` on an image of `w` x `h`;
/// returns the one-op pipeline and its explicit parameters.
pub fn explicit_op(
    name: &str,
    sets: &[(String, String)],
    w: u32,
    h: u32,
) -> Result<(Pipeline, Drawn)> {
    let mut map = BTreeMap::new();
    for (k, v) in sets {
        if map.insert(k.clone(), v.clone()).is_some() {
            return Err(Error::InvalidParam {
                index: 0,
                op: name.into(),
                key: k.clone(),
                message: "given twice".into(),
            });
        }
    }
    let Some(def) = EXPLICIT_OPS.iter().find(|o| o.name == name) else {
        return Err(Error::UnknownOp {
            index: 0,
            name: name.into(),
            known: EXPLICIT_OPS
                .iter()
                .map(|o| o.name)
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let r = Reader::text(def.name, &map);
    r.only(&def.keys.iter().collect::<Vec<_>>())?;
    let at = r.at;
    let same = Size::new(h, w);
    let mut format = OutputFormat::U8Hwc;
    let factor = |k: &Key| r.num(k).and_then(|x| k.check(&at, x));
    let (op, drawn, size) = match name {
        "crop" => {
            let top = r.int(&g::TOP)?;
            let left = r.int(&g::LEFT)?;
            let height = r.int(&g::HEIGHT.with_default(KeyDefault::Num(h as f64)))?;
            let width = r.int(&g::WIDTH.with_default(KeyDefault::Num(w as f64)))?;
            let out = r.size(&common::SIZE)?;
            let op = Op::Crop {
                top,
                left,
                height,
                width,
                size: out,
                interpolation: r.interpolation(&common::RESAMPLING)?,
            };
            let d = crate::ops::draw_op(&op, &mut crate::key::op_rng(0, 0, 0, 0, 0), w, h);
            let out = out.unwrap_or(Size::new(height as u32, width as u32));
            (op, d, out)
        }
        "resize" => {
            let interpolation = r.interpolation(&common::RESAMPLING)?;
            let antialias = r.flag(&g::ANTIALIAS)?;
            let max_size = match r.has(g::MAX_SIZE.name) {
                false => None,
                true => Some(r.int_in(&g::MAX_SIZE)?),
            };
            let to = match r.numbers("size")?.as_deref() {
                Some([x]) if *x >= 1.0 && x.fract() == 0.0 => ResizeTo::Shorter(*x as u32),
                Some([a, b]) if *a >= 1.0 && *b >= 1.0 => {
                    ResizeTo::Exact(Size::new(*a as u32, *b as u32))
                }
                _ => return Err(r.err("size", "expected a positive integer or height,width")),
            };
            if let (ResizeTo::Exact(_), Some(_)) = (to, max_size) {
                return Err(r.err(
                    "max_size",
                    "only with a single size (the shorter side), as torchvision",
                ));
            }
            let t = crate::ops::resize_output(to, max_size, w, h);
            (
                Op::Resize {
                    size: to,
                    max_size,
                    interpolation,
                    antialias,
                },
                Drawn::Resize {
                    height: t.height,
                    width: t.width,
                },
                t,
            )
        }
        "center_crop" => {
            let op = read_op(r)?;
            let Op::CenterCrop { size } = op else {
                unreachable!("center_crop reads as CenterCrop")
            };
            let d = crate::ops::draw_op(&op, &mut crate::key::op_rng(0, 0, 0, 0, 0), w, h);
            (op, d, size)
        }
        "pad" => {
            let p = crate::ops::read_padding(&r)?
                .ok_or_else(|| r.err("padding", "expected 1, 2 or 4 non-negative integers"))?;
            let size = Size::new(h + p[1] + p[3], w + p[0] + p[2]);
            (
                Op::RandomCrop {
                    size,
                    padding: p,
                    pad_if_needed: false,
                    fill: r.rgb(&common::FILL)?,
                    padding_mode: match r.name(&g::PADDING_MODE)?.as_deref() {
                        None => crate::codes::pad_mode::CONSTANT,
                        Some(n) => crate::codes::pad_mode::of(n).ok_or_else(|| {
                            r.err(
                                "padding_mode",
                                format!("expected {}, got \"{n}\"", g::PADDING_MODE.shape),
                            )
                        })?,
                    },
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
            let angle = ANGLE.check(&at, r.num(&ANGLE)?)?;
            // F.rotate turns counter-clockwise for positive angles, F.affine
            // clockwise: rotate by a is affine by -a (the record, an affine
            // op, holds -a).
            let angle = if name == "rotate" { -angle } else { angle };
            let expand = name == "rotate" && r.flag(&g::EXPAND)?;
            let (translate, scale, shear) = if name == "affine" {
                (
                    r.num_or_range(&PIXELS)?,
                    SCALE.check(&at, r.num(&SCALE)?)?,
                    r.num_or_range(&SHEAR)?,
                )
            } else {
                ([0.0, 0.0], 1.0, [0.0, 0.0])
            };
            if shear
                .iter()
                .any(|s| !(g::SHEAR.lo..=g::SHEAR.hi).contains(s))
            {
                return Err(r.err(
                    "shear",
                    format!(
                        "values must lie in [{}, {}], got {shear:?}",
                        g::SHEAR.lo,
                        g::SHEAR.hi
                    ),
                ));
            }
            let center = match r.numbers(g::CENTER.name)?.as_deref() {
                None => None,
                Some([x, y]) => Some([*x, *y]),
                Some(_) => return Err(r.err("center", "expected x,y")),
            };
            (
                Op::Affine {
                    degrees: [angle, angle],
                    translate: None,
                    scale: None,
                    shear: None,
                    interpolation: r.interpolation(&common::INTERPOLATION)?,
                    fill: r.rgb(&common::FILL)?,
                    center,
                    antialias: name == "affine" && r.flag(&g::AFFINE_ANTIALIAS)?,
                    expand,
                    p: 1.0,
                },
                Drawn::Affine {
                    applied: true,
                    angle,
                    translate,
                    scale,
                    shear,
                },
                if expand {
                    let (ew, eh) = crate::ops::geometry::expanded_size(
                        w as f64, h as f64, angle, scale, shear,
                    );
                    Size::new(eh as u32, ew as u32)
                } else {
                    same
                },
            )
        }
        "brightness" | "contrast" | "saturation" | "hue" => {
            let (step, b, c, sa, hu) = match name {
                "brightness" => (ColorStep::Brightness, factor(&FACTOR)?, 1.0, 1.0, 0.0),
                "contrast" => (ColorStep::Contrast, 1.0, factor(&FACTOR)?, 1.0, 0.0),
                "saturation" => (ColorStep::Saturation, 1.0, 1.0, factor(&FACTOR)?, 0.0),
                _ => (ColorStep::Hue, 1.0, 1.0, 1.0, factor(&HUE_FACTOR)?),
            };
            let (op, d) = jitter(b, c, sa, hu, vec![step]);
            (op, d, same)
        }
        "color_jitter" => {
            let one = |k: &Key, neutral: f64| factor(&k.with_default(KeyDefault::Num(neutral)));
            let b = one(&color::BRIGHTNESS, 1.0)?;
            let c = one(&color::CONTRAST, 1.0)?;
            let sa = one(&color::SATURATION, 1.0)?;
            let hu = one(&color::HUE, 0.0)?;
            let order = match r.name(&JITTER_ORDER)? {
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
                        other => Err(r.err(
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
            Op::Grayscale {
                p: 1.0,
                num_output_channels: r.int_in(&color::NUM_OUTPUT_CHANNELS)?,
            },
            Drawn::Grayscale { applied: true },
            same,
        ),
        "permute_channels" => {
            let order = match r.numbers(color::ORDER.name)?.as_deref() {
                None => [0, 1, 2],
                Some([a, b, c]) => {
                    let o = [*a, *b, *c];
                    let mut sorted = o;
                    sorted.sort_by(f64::total_cmp);
                    if sorted != [0.0, 1.0, 2.0] {
                        return Err(r.err(
                            "order",
                            format!("must be a permutation of 0, 1, 2, got {o:?}"),
                        ));
                    }
                    o.map(|x| x as u32)
                }
                Some(_) => return Err(r.err("order", "expected three channel indices, e.g. 2,0,1")),
            };
            (
                Op::PermuteChannels { p: 1.0 },
                Drawn::PermuteChannels {
                    applied: true,
                    order,
                },
                same,
            )
        }
        "random_field" => {
            let l = r.num(&L)?;
            let amp = FieldAmps::read(|k| r.num(k))?;
            (
                Op::RandomField {
                    l: [l, l],
                    amp,
                    fill: r.rgb(&common::FILL)?,
                    p: 1.0,
                },
                Drawn::RandomField {
                    applied: true,
                    l,
                    seed: r.seed(&field::SEED)?,
                },
                same,
            )
        }
        "elastic" => {
            let alpha = r.num_or_range(&field::ALPHA)?;
            (
                Op::Elastic {
                    alpha,
                    sigma: r.num(&field::SIGMA)?,
                    fill: r.rgb(&common::FILL)?,
                    p: 1.0,
                },
                Drawn::Elastic {
                    applied: true,
                    seed: r.seed(&field::SEED)?,
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
                threshold: r.num(&color::THRESHOLD)?,
                p: 1.0,
            },
            Drawn::Solarize { applied: true },
            same,
        ),
        "posterize" => (
            Op::Posterize {
                bits: r.int_in(&color::BITS)?,
                p: 1.0,
            },
            Drawn::Posterize { applied: true },
            same,
        ),
        "sharpness" => (
            Op::Sharpness {
                factor: r.num(&color::SHARPNESS_FACTOR.with_default(KeyDefault::Num(1.0)))?,
                p: 1.0,
            },
            Drawn::Sharpness { applied: true },
            same,
        ),
        "gaussian_blur" => {
            if !r.has(color::KERNEL_SIZE.name) {
                return Err(r.err("kernel_size", "missing"));
            }
            // One value for both axes, or x,y (F.gaussian_blur's [kx, ky], [sx, sy]).
            let pair = |k: &Key| -> Result<[f64; 2]> {
                match r.numbers(k.name)?.as_deref() {
                    None => Ok([r.num(k)?; 2]),
                    Some([v]) => Ok([*v, *v]),
                    Some([x, y]) => Ok([*x, *y]),
                    Some(_) => Err(r.err(k.name, "expected one value or x,y")),
                }
            };
            let [kx, ky] = pair(&color::KERNEL_SIZE)?;
            let [sx, sy] = pair(&BLUR_SIGMA)?;
            let kernel = |v: f64| -> Result<u32> {
                let v = color::KERNEL_SIZE.check(&at, v)?;
                if v.fract() != 0.0 || v % 2.0 == 0.0 {
                    return Err(r.err("kernel_size", format!("must be odd integers, got {v}")));
                }
                Ok(v as u32)
            };
            for s in [sx, sy] {
                BLUR_SIGMA.check(&at, s)?;
            }
            let (kx, ky) = (kernel(kx)?, kernel(ky)?);
            (
                Op::GaussianBlur {
                    kernel_size: kx,
                    kernel_size_y: (ky != kx).then_some(ky),
                    sigma: [sx, sx],
                    p: 1.0,
                },
                Drawn::GaussianBlur {
                    applied: true,
                    sigma: sx,
                    sigma_y: (sy != sx).then_some(sy),
                },
                same,
            )
        }
        "gaussian_noise" => (
            Op::GaussianNoise {
                sigma: r.num(&color::NOISE_SIGMA)?,
                p: 1.0,
            },
            Drawn::GaussianNoise {
                applied: true,
                seed: r.seed(&field::SEED)?,
            },
            same,
        ),
        "gamma" => {
            let gamma = r.num(&GAMMA)?;
            (
                Op::Gamma {
                    gamma: [gamma, gamma],
                    gain: r.num(&color::GAIN)?,
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
            let value = match r
                .get(color::ERASE_VALUE.name)
                .and_then(|v| v.as_str().map(String::from))
            {
                Some(v) if v == "random" => None,
                _ => Some(r.rgb(&color::ERASE_VALUE)?),
            };
            (
                Op::RandomErasing {
                    p: 1.0,
                    scale: [0.0, 1.0],
                    ratio: [1.0, 1.0],
                    value,
                },
                Drawn::RandomErasing {
                    applied: true,
                    top: r.int(&g::TOP)?,
                    left: r.int(&g::LEFT)?,
                    height: r.int(&ERASE_H.with_default(KeyDefault::Num((h / 2) as f64)))?,
                    width: r.int(&ERASE_W.with_default(KeyDefault::Num((w / 2) as f64)))?,
                    seed: r.seed(&field::SEED)?,
                },
                same,
            )
        }
        "perspective" => {
            let points = |k: &Key| -> Result<Option<[[i64; 2]; 4]>> {
                match r.numbers(k.name)?.as_deref() {
                    None => Ok(None),
                    Some(v)
                        if v.len() == 8 && v.iter().all(|x| x.fract() == 0.0 && x.abs() < k.hi) =>
                    {
                        Ok(Some(
                            [[v[0], v[1]], [v[2], v[3]], [v[4], v[5]], [v[6], v[7]]]
                                .map(|[x, y]| [x as i64, y as i64]),
                        ))
                    }
                    Some(v) => Err(r.err(k.name, format!("expected {}, got {v:?}", k.shape))),
                }
            };
            let Some(e) = points(&ENDPOINTS)? else {
                return Err(r.err("endpoints", format!("expected {}", ENDPOINTS.shape)));
            };
            let start = points(&STARTPOINTS)?;
            // The points must define a projective map: four points, no three
            // on a line (torchvision's solve would return a degenerate map).
            let corners = [
                [0, 0],
                [w as i64 - 1, 0],
                [w as i64 - 1, h as i64 - 1],
                [0, h as i64 - 1],
            ];
            let degenerate = "the four points must not have three on a line (nor two the same)";
            if let Some(sp) = start {
                if !crate::ops::geometry::general_position(&sp) {
                    return Err(r.err("startpoints", format!("{degenerate}, got {sp:?}")));
                }
            }
            // (A 1-pixel side makes the default corners coincide: the op
            // leaves such an image as it is, as a random perspective does.)
            let sp = start.unwrap_or(corners);
            if crate::ops::geometry::general_position(&sp)
                && !crate::ops::geometry::defines_perspective(&sp, &e)
            {
                return Err(r.err("endpoints", format!("{degenerate}, got {e:?}")));
            }
            (
                Op::Perspective {
                    distortion: 0.0,
                    p: 1.0,
                    interpolation: r.interpolation(&common::INTERPOLATION)?,
                    fill: r.rgb(&common::FILL)?,
                },
                Drawn::Perspective {
                    applied: true,
                    endpoints: e,
                    startpoints: start,
                },
                same,
            )
        }
        "cutout" => {
            let centers = read_centers(&r, w, h)?;
            let length = r.int_in(&color::CUTOUT_LENGTH)?;
            (
                Op::Cutout {
                    n_holes: centers.len() as u32,
                    length,
                    value: r.rgb(&color::CUTOUT_VALUE)?,
                    p: 1.0,
                },
                Drawn::Cutout {
                    applied: true,
                    length,
                    centers,
                },
                same,
            )
        }
        "colorful_cutout" => {
            let centers = read_centers(&r, w, h)?;
            let length = r.int_in(&color::CUTOUT_LENGTH)?;
            let grid = r.int_in(&color::GRID)?;
            (
                Op::ColorfulCutout {
                    n_holes: centers.len() as u32,
                    length,
                    grid,
                    p: 1.0,
                },
                Drawn::ColorfulCutout {
                    applied: true,
                    length,
                    grid,
                    centers,
                    seed: r.seed(&field::SEED)?,
                },
                same,
            )
        }
        "rotation_label" => {
            let k = r.int_in(&ROT_K)?;
            (
                Op::RotationLabel { all_views: false },
                Drawn::RotationLabel { k },
                if k % 2 == 1 { Size::new(w, h) } else { same },
            )
        }
        "normalize" => {
            format = OutputFormat::F32Chw;
            (read_op(r)?, Drawn::Normalize {}, same)
        }
        _ => unreachable!("every name of EXPLICIT_OPS is read above"),
    };
    let pipeline = Pipeline {
        size,
        format,
        ops: vec![op],
        views: 1,
        mix: None,
        schedules: Default::default(),
    };
    // The op's (degenerate) ranges hold the explicit values: the pipeline
    // file's limits apply to them, op by op and key by key.
    pipeline.validate()?;
    Ok((pipeline, drawn))
}
