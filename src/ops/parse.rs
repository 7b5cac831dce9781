//! The op table (every op's name, family and keys) and the reading of one op
//! from its keys. Every value's limits are checked by `Op::check`
//! (src/ops/check.rs), the same rules for files, `apply` and ops built in code.

use super::keys::{self, color, common, field, geometry, policy, KeyDefault, Reader};
use super::{FieldAmps, Op, PolicyKind, ResizeTo};
use crate::error::{Error, Result};
pub use keys::field::{MAX_LENGTH_SCALE, MIN_LENGTH_SCALE};
use keys::Key;

/// The op families: the file that holds an op's draw and lowering (see
/// "Adding an op" in the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Folds into the sample's inverse map (and clip stages): src/ops/geometry.rs.
    Geometry,
    /// Steps of the sample's colour program: src/ops/color.rs.
    Color,
    /// Random fields, per-pixel geometry and colour: src/ops/field.rs.
    Field,
    /// Auto-augment policies and AugMix, per-sample op choices: src/ops/policy.rs.
    Policy,
    /// Batch mixing (src/mix.rs).
    Mix,
}

/// One op of pipeline files: its name, family, keys and a line of doc.
#[derive(Clone, Copy, Debug)]
pub struct OpDef {
    /// The name in pipeline files (and `apply --op`).
    pub name: &'static str,
    /// Its family.
    pub family: Family,
    /// Its keys (besides `op`).
    pub keys: &'static [Key],
    /// What it does, in a line.
    pub summary: &'static str,
}

const P05: Key = common::P;
const P1: Key = common::P.with_default(KeyDefault::Num(1.0));
const SIZE_OPT: Key = common::SIZE.with_default(KeyDefault::Off);

const fn def(
    name: &'static str,
    family: Family,
    keys: &'static [Key],
    summary: &'static str,
) -> OpDef {
    OpDef {
        name,
        family,
        keys,
        summary,
    }
}

/// Every op a pipeline file may use (the mixing ops: `mix::MIX_DEFS`).
pub const OP_DEFS: &[OpDef] = {
    use geometry as g;
    use Family::*;
    &[
        def(
            "random_resized_crop",
            Geometry,
            &[SIZE_OPT, g::RRC_SCALE, g::RRC_RATIO, common::RESAMPLING],
            "torchvision's RandomResizedCrop",
        ),
        def(
            "crop",
            Geometry,
            &[
                g::TOP,
                g::LEFT,
                g::HEIGHT.with_default(KeyDefault::Required),
                g::WIDTH.with_default(KeyDefault::Required),
                SIZE_OPT,
                common::RESAMPLING,
            ],
            "a fixed box (torchvision's crop / resized_crop)",
        ),
        def(
            "resize",
            Geometry,
            &[common::SIZE, g::MAX_SIZE, common::RESAMPLING, g::ANTIALIAS],
            "torchvision's Resize",
        ),
        def(
            "center_crop",
            Geometry,
            &[common::SIZE],
            "torchvision's CenterCrop",
        ),
        def(
            "random_crop",
            Geometry,
            &[
                common::SIZE,
                g::PADDING,
                g::PAD_IF_NEEDED,
                common::FILL,
                g::PADDING_MODE,
            ],
            "torchvision's RandomCrop (constant padding)",
        ),
        def("horizontal_flip", Geometry, &[P05], "flip left-right"),
        def("vertical_flip", Geometry, &[P05], "flip top-bottom"),
        def(
            "affine",
            Geometry,
            &[
                g::DEGREES,
                g::TRANSLATE,
                g::AFFINE_SCALE,
                g::SHEAR,
                common::INTERPOLATION,
                common::FILL,
                g::CENTER,
                g::AFFINE_ANTIALIAS,
                P1,
            ],
            "torchvision's RandomAffine",
        ),
        def(
            "color_jitter",
            Color,
            &[
                color::BRIGHTNESS,
                color::CONTRAST,
                color::SATURATION,
                color::HUE,
                P1,
            ],
            "torchvision's ColorJitter, drawn per sample",
        ),
        def(
            "grayscale",
            Color,
            &[P1, color::NUM_OUTPUT_CHANNELS],
            "grey in all three channels, or a 1-channel output",
        ),
        def(
            "random_field",
            Field,
            &[
                field::L,
                FieldAmps::KEYS[0],
                FieldAmps::KEYS[1],
                FieldAmps::KEYS[2],
                FieldAmps::KEYS[3],
                FieldAmps::KEYS[4],
                FieldAmps::KEYS[5],
                FieldAmps::KEYS[6],
                FieldAmps::KEYS[7],
                common::FILL,
                P1,
            ],
            "Gaussian random fields",
        ),
        def(
            "elastic",
            Field,
            &[field::ALPHA, field::SIGMA, common::FILL, P1],
            "torchvision's ElasticTransform",
        ),
        def("invert", Color, &[P05], "1 - x"),
        def(
            "solarize",
            Color,
            &[color::THRESHOLD, P05],
            "invert values >= threshold",
        ),
        def("posterize", Color, &[color::BITS, P05], "keep the top bits"),
        def(
            "autocontrast",
            Color,
            &[P05],
            "stretch each channel to 0..1",
        ),
        def("equalize", Color, &[P05], "histogram equalisation"),
        def(
            "sharpness",
            Color,
            &[color::SHARPNESS_FACTOR, P05],
            "blend with the smoothed image",
        ),
        def(
            "gaussian_blur",
            Color,
            &[color::KERNEL_SIZE, color::BLUR_SIGMA, P1],
            "separable Gaussian blur",
        ),
        def(
            "gaussian_noise",
            Color,
            &[color::NOISE_SIGMA, P1],
            "additive noise",
        ),
        def(
            "gamma",
            Color,
            &[color::GAMMA, color::GAIN, P1],
            "gain x^gamma",
        ),
        def(
            "random_erasing",
            Color,
            &[
                P05,
                color::ERASE_SCALE,
                color::ERASE_RATIO,
                color::ERASE_VALUE,
            ],
            "torchvision's RandomErasing",
        ),
        def(
            "cutout",
            Color,
            &[
                color::N_HOLES,
                color::CUTOUT_LENGTH,
                color::CUTOUT_VALUE,
                P1,
            ],
            "Cutout (DeVries & Taylor): square holes",
        ),
        def(
            "colorful_cutout",
            Color,
            &[color::N_HOLES, color::CUTOUT_LENGTH, color::GRID, P1],
            "Colorful Cutout: holes of coloured sub-patches",
        ),
        def(
            "rotation_label",
            Geometry,
            &[color::ALL_VIEWS],
            "rotate by k x 90 degrees, label * 4 + k",
        ),
        def(
            "perspective",
            Geometry,
            &[g::DISTORTION, P05, common::INTERPOLATION, common::FILL],
            "torchvision's RandomPerspective",
        ),
        def(
            "permute_channels",
            Color,
            &[P1],
            "torchvision's RandomChannelPermutation",
        ),
        def(
            "rand_augment",
            Policy,
            &[
                policy::NUM_OPS,
                policy::MAGNITUDE,
                policy::NUM_BINS,
                policy::OPS,
                policy::INTERPOLATION,
                policy::FILL,
            ],
            "RandAugment",
        ),
        def(
            "trivial_augment_wide",
            Policy,
            &[
                policy::NUM_BINS,
                policy::OPS,
                policy::INTERPOLATION,
                policy::FILL,
            ],
            "TrivialAugmentWide",
        ),
        def(
            "auto_augment",
            Policy,
            &[policy::POLICY, policy::INTERPOLATION, policy::FILL],
            "AutoAugment (ImageNet policy)",
        ),
        def(
            "augmix",
            Policy,
            &[
                policy::SEVERITY,
                policy::WIDTH,
                policy::DEPTH,
                policy::ALPHA,
                policy::ALL_OPS,
                Key {
                    default: KeyDefault::Name("bilinear"),
                    ..policy::INTERPOLATION
                },
                policy::FILL,
            ],
            "AugMix",
        ),
        def(
            "normalize",
            Color,
            &[color::MEAN, color::STD],
            "(x - mean) / std",
        ),
    ]
};

/// The definition of op `name`.
pub fn op_def(name: &str) -> Option<&'static OpDef> {
    OP_DEFS.iter().find(|d| d.name == name)
}

/// Every op name a pipeline file may use.
pub fn op_names() -> Vec<&'static str> {
    OP_DEFS.iter().map(|d| d.name).collect()
}

pub(crate) use keys::{describe, parse_size};

/// Parses one `[[ops]]` table of a pipeline file.
pub fn parse_op(index: usize, table: &toml::Table) -> Result<Op> {
    let name = match table.get("op") {
        Some(toml::Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(Error::InvalidParam {
                index,
                op: "?".into(),
                key: "op".into(),
                message: format!("expected an op name, got {}", describe(other)),
            })
        }
        None => {
            return Err(Error::InvalidParam {
                index,
                op: "?".into(),
                key: "op".into(),
                message: "missing: every op table needs `op = \"name\"`".into(),
            })
        }
    };
    read_op(Reader::toml(index, name, table))
}

/// Reads op `r.at.op` from its keys (file or command line), then checks it.
pub fn read_op(r: Reader) -> Result<Op> {
    let name = r.at.op;
    let Some(d) = op_def(name) else {
        return Err(Error::UnknownOp {
            index: r.at.index,
            name: name.into(),
            known: op_names().join(", "),
        });
    };
    r.only(&d.keys.iter().collect::<Vec<_>>())?;
    let k = |key: &str| {
        d.keys
            .iter()
            .find(|k| k.name == key)
            .copied()
            .unwrap_or(common::P)
    };
    let p = || r.num(&k("p"));
    let interpolation = || r.interpolation(&k("interpolation"));
    let fill = || r.rgb(&k("fill"));
    let required = |key: &Key, what: &str| -> Result<()> {
        if r.has(key.name) {
            Ok(())
        } else {
            Err(r.err(key.name, format!("missing: {what}")))
        }
    };
    use geometry as g;
    let op = match name {
        "random_resized_crop" => Op::RandomResizedCrop {
            size: r.size(&SIZE_OPT)?,
            scale: r.range(&g::RRC_SCALE)?.unwrap_or([0.08, 1.0]),
            ratio: r.range(&g::RRC_RATIO)?.unwrap_or([0.75, 4.0 / 3.0]),
            interpolation: interpolation()?,
        },
        "crop" => Op::Crop {
            top: r.int(&g::TOP)?,
            left: r.int(&g::LEFT)?,
            height: r.int(&g::HEIGHT.with_default(KeyDefault::Required))?,
            width: r.int(&g::WIDTH.with_default(KeyDefault::Required))?,
            size: r.size(&SIZE_OPT)?,
            interpolation: interpolation()?,
        },
        "resize" => {
            required(
                &common::SIZE,
                "give an integer (shorter side) or [height, width]",
            )?;
            let size = match r.get("size") {
                Some(keys::Raw::Toml(toml::Value::Integer(i))) if (1..=65535).contains(i) => {
                    ResizeTo::Shorter(*i as u32)
                }
                Some(keys::Raw::Text(t)) if !t.contains(',') => {
                    ResizeTo::Shorter(r.int_in(&common::SIZE)?)
                }
                _ => ResizeTo::Exact(r.size(&common::SIZE)?.unwrap_or(super::Size::square(1))),
            };
            let max_size = match r.has(g::MAX_SIZE.name) {
                false => None,
                true => Some(r.int_in(&g::MAX_SIZE)?),
            };
            Op::Resize {
                size,
                max_size,
                interpolation: interpolation()?,
                antialias: r.flag(&g::ANTIALIAS)?,
            }
        }
        "center_crop" => Op::CenterCrop {
            size: r
                .size(&common::SIZE)?
                .ok_or_else(|| r.err("size", "missing"))?,
        },
        "random_crop" => {
            let padding_mode = match r.get(g::PADDING_MODE.name) {
                None => crate::codes::pad_mode::CONSTANT,
                Some(v) => v
                    .as_str()
                    .and_then(crate::codes::pad_mode::of)
                    .ok_or_else(|| {
                        r.err(
                            "padding_mode",
                            format!("expected {}, got {}", g::PADDING_MODE.shape, v.describe()),
                        )
                    })?,
            };
            Op::RandomCrop {
                padding_mode,
                size: r
                    .size(&common::SIZE)?
                    .ok_or_else(|| r.err("size", "missing"))?,
                padding: read_padding(&r)?.unwrap_or([0; 4]),
                pad_if_needed: r.flag(&g::PAD_IF_NEEDED)?,
                fill: fill()?,
            }
        }
        "horizontal_flip" => Op::HorizontalFlip { p: p()? },
        "vertical_flip" => Op::VerticalFlip { p: p()? },
        "grayscale" => Op::Grayscale {
            p: p()?,
            num_output_channels: r.int_in(&color::NUM_OUTPUT_CHANNELS)?,
        },
        "permute_channels" => Op::PermuteChannels { p: p()? },
        "affine" => {
            let translate = match r.numbers(g::TRANSLATE.name)?.as_deref() {
                None => None,
                Some([a, b]) => Some([*a, *b]),
                Some(_) => {
                    return Err(r.err(
                        "translate",
                        "expected [fx, fy], fractions of width and height in [0, 1]",
                    ))
                }
            };
            let shear = match r.numbers(g::SHEAR.name)?.as_deref() {
                None => None,
                Some([s]) if *s >= 0.0 => Some([-s, *s, 0.0, 0.0]),
                Some([s]) => return Err(r.err("shear", format!("must be >= 0, got {s}"))),
                Some([a, b]) => Some([*a, *b, 0.0, 0.0]),
                Some([a, b, c, d]) => Some([*a, *b, *c, *d]),
                Some(_) => return Err(r.err("shear", "expected 1, 2 or 4 numbers")),
            };
            let center = match r.numbers(g::CENTER.name)?.as_deref() {
                None => None,
                Some([x, y]) => Some([*x, *y]),
                Some(_) => return Err(r.err("center", "expected [x, y] in pixels")),
            };
            Op::Affine {
                degrees: r.symmetric(&g::DEGREES)?.unwrap_or([0.0, 0.0]),
                translate,
                scale: r.range(&g::AFFINE_SCALE)?,
                shear,
                interpolation: interpolation()?,
                fill: fill()?,
                center,
                antialias: r.flag(&g::AFFINE_ANTIALIAS)?,
                expand: false,
                p: p()?,
            }
        }
        "color_jitter" => {
            let hue = r.symmetric(&color::HUE)?;
            Op::ColorJitter {
                brightness: r.jitter(&color::BRIGHTNESS)?,
                contrast: r.jitter(&color::CONTRAST)?,
                saturation: r.jitter(&color::SATURATION)?,
                hue: hue.filter(|h| *h != [0.0, 0.0]),
                p: p()?,
            }
        }
        "random_field" => {
            required(
                &field::L,
                "the length scale in pixels, a number or [min, max]",
            )?;
            Op::RandomField {
                l: r.num_or_range(&field::L)?,
                amp: FieldAmps::read(|key| r.num(key))?,
                fill: fill()?,
                p: p()?,
            }
        }
        "elastic" => {
            let alpha = match r.numbers(field::ALPHA.name)?.as_deref() {
                None => [50.0, 50.0],
                Some([a]) => [*a, *a],
                Some([ax, ay]) => [*ax, *ay],
                Some(_) => return Err(r.err("alpha", "expected a number or [alpha_x, alpha_y]")),
            };
            Op::Elastic {
                alpha,
                sigma: r.num(&field::SIGMA)?,
                fill: fill()?,
                p: p()?,
            }
        }
        "invert" => Op::Invert { p: p()? },
        "autocontrast" => Op::Autocontrast { p: p()? },
        "equalize" => Op::Equalize { p: p()? },
        "solarize" => Op::Solarize {
            threshold: r.num(&color::THRESHOLD)?,
            p: p()?,
        },
        "posterize" => Op::Posterize {
            bits: r.int_in(&color::BITS)?,
            p: p()?,
        },
        "sharpness" => {
            required(
                &color::SHARPNESS_FACTOR,
                "the sharpness factor (0 blurs, 1 keeps, 2 sharpens)",
            )?;
            Op::Sharpness {
                factor: r.num(&color::SHARPNESS_FACTOR)?,
                p: p()?,
            }
        }
        "gaussian_blur" => {
            required(&color::KERNEL_SIZE, "an odd positive integer")?;
            Op::GaussianBlur {
                kernel_size: r.int_in(&color::KERNEL_SIZE)?,
                kernel_size_y: None,
                sigma: r.num_or_range(&color::BLUR_SIGMA)?,
                p: p()?,
            }
        }
        "gaussian_noise" => Op::GaussianNoise {
            sigma: r.num(&color::NOISE_SIGMA)?,
            p: p()?,
        },
        "gamma" => Op::Gamma {
            gamma: r.num_or_range(&color::GAMMA)?,
            gain: r.num(&color::GAIN)?,
            p: p()?,
        },
        "random_erasing" => {
            let value = match r
                .get(color::ERASE_VALUE.name)
                .and_then(|v| v.as_str().map(String::from))
            {
                Some(v) if v == "random" => None,
                Some(v) if matches!(r.values, keys::Values::Toml(_)) => {
                    return Err(r.err(
                        "value",
                        format!("expected 0..255, [r, g, b] or \"random\", got {v:?}"),
                    ))
                }
                _ => Some(r.rgb(&color::ERASE_VALUE)?),
            };
            Op::RandomErasing {
                p: p()?,
                scale: r.range(&color::ERASE_SCALE)?.unwrap_or([0.02, 0.33]),
                ratio: r.range(&color::ERASE_RATIO)?.unwrap_or([0.3, 3.3]),
                value,
            }
        }
        "cutout" => Op::Cutout {
            n_holes: r.int_in(&color::N_HOLES)?,
            length: r.int_in(&color::CUTOUT_LENGTH)?,
            value: r.rgb(&color::CUTOUT_VALUE)?,
            p: p()?,
        },
        "colorful_cutout" => Op::ColorfulCutout {
            n_holes: r.int_in(&color::N_HOLES)?,
            length: r.int_in(&color::CUTOUT_LENGTH)?,
            grid: r.int_in(&color::GRID)?,
            p: p()?,
        },
        "rotation_label" => Op::RotationLabel {
            all_views: r.flag(&color::ALL_VIEWS)?,
        },
        "perspective" => Op::Perspective {
            distortion: r.num(&g::DISTORTION)?,
            p: p()?,
            interpolation: interpolation()?,
            fill: fill()?,
        },
        "rand_augment" | "trivial_augment_wide" | "auto_augment" => {
            let ops = read_policy_ops(&r)?;
            let kind = match name {
                "rand_augment" => {
                    let num_bins = r.int_in(&policy::NUM_BINS)?;
                    PolicyKind::RandAugment {
                        num_ops: r.int_in(&policy::NUM_OPS)?,
                        magnitude: r.int_in(&Key {
                            hi: num_bins as f64 - 1.0,
                            ..policy::MAGNITUDE
                        })?,
                        num_bins,
                        ops,
                    }
                }
                "trivial_augment_wide" => PolicyKind::TrivialAugmentWide {
                    num_bins: r.int_in(&policy::NUM_BINS)?,
                    ops,
                },
                _ => match r.get(policy::POLICY.name) {
                    None => PolicyKind::AutoAugmentImagenet,
                    Some(v) if v.as_str() == Some("imagenet") => PolicyKind::AutoAugmentImagenet,
                    Some(_) => {
                        return Err(r.err(
                            "policy",
                            format!(
                                "only \"imagenet\" is available, got {}",
                                r.get("policy").map(|v| v.describe()).unwrap_or_default()
                            ),
                        ))
                    }
                },
            };
            Op::Policy {
                kind,
                interpolation: r.interpolation(&policy::INTERPOLATION)?,
                fill: r.rgb(&policy::FILL)?,
            }
        }
        "augmix" => Op::AugMix {
            severity: r.int_in(&policy::SEVERITY)?,
            width: r.int_in(&policy::WIDTH)?,
            depth: match r.num(&policy::DEPTH) {
                Ok(-1.0) => 0,
                d => d
                    .and_then(|x| policy::DEPTH.check_int(&r.at, x))
                    .map_err(|_| {
                        r.err(
                            "depth",
                            "expected -1 (a random 1..3 per chain) or 1, 2 or 3",
                        )
                    })?,
            },
            alpha: r.num(&policy::ALPHA)?,
            all_ops: r.flag(&policy::ALL_OPS)?,
            interpolation: interpolation()?,
            fill: r.rgb(&policy::FILL)?,
        },
        "normalize" => Op::Normalize {
            mean: r.rgb(&color::MEAN)?,
            std: r.rgb(&color::STD)?,
        },
        _ => unreachable!("every name of OP_DEFS is read above"),
    };
    op.check(r.at.index)?;
    Ok(op)
}

/// random_crop's `padding`: 1, 2 or 4 integers in [0, 65535].
pub fn read_padding(r: &Reader) -> Result<Option<[u32; 4]>> {
    let Some(xs) = r.numbers(geometry::PADDING.name)? else {
        return Ok(None);
    };
    if xs
        .iter()
        .any(|x| *x < 0.0 || x.fract() != 0.0 || *x > geometry::PADDING.hi)
    {
        return Err(r.err("padding", "values must be integers in [0, 65535]"));
    }
    let u: Vec<u32> = xs.iter().map(|x| *x as u32).collect();
    match u.as_slice() {
        [a] => Ok(Some([*a; 4])),
        [lr, tb] => Ok(Some([*lr, *tb, *lr, *tb])),
        [l, t, rr, b] => Ok(Some([*l, *t, *rr, *b])),
        _ => Err(r.err("padding", "expected 1, 2 or 4 integers")),
    }
}

/// The policies' `ops`: torchvision's names, all 14 by default.
fn read_policy_ops(r: &Reader) -> Result<u16> {
    use toml::Value;
    let known = || {
        super::policy::RAND_AUGMENT_OPS
            .iter()
            .map(|o| format!("{o:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let names: Vec<String> = match r.get(policy::OPS.name) {
        None => return Ok(super::policy::ALL_OPS),
        Some(keys::Raw::Toml(Value::Array(items))) if !items.is_empty() => {
            let mut names = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(s) => names.push(s.to_string()),
                    None => {
                        return Err(r.err(
                            "ops",
                            format!("unknown op {} (known: {})", describe(item), known()),
                        ))
                    }
                }
            }
            names
        }
        Some(keys::Raw::Text(t)) if !t.trim().is_empty() => {
            t.split(',').map(|s| s.trim().to_string()).collect()
        }
        Some(other) => {
            return Err(r.err(
                "ops",
                format!(
                    "expected a non-empty list of op names, got {}",
                    other.describe()
                ),
            ))
        }
    };
    let mut bits = 0u16;
    for n in names {
        bits |= super::policy::op_bit(&n).ok_or_else(|| {
            r.err(
                "ops",
                format!(
                    "unknown op {} (known: {})",
                    describe(&Value::String(n.clone())),
                    known()
                ),
            )
        })?;
    }
    Ok(bits)
}
