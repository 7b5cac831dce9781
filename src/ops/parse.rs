//! Pipeline-file parsing of ops: every key checked, every value range-checked,
//! and every error names the op, the key and what is allowed.

use super::{FieldAmps, Interpolation, Op, PolicyKind, ResizeTo, Size};

/// Smallest field length scale, pixels: below it the lattice the field is
/// generated on would be finer than half a pixel.
pub const MIN_LENGTH_SCALE: f64 = 0.5;
/// Largest field length scale a pipeline file may give, pixels (a field far
/// larger than any image is constant: use `affine`).
pub const MAX_LENGTH_SCALE: f64 = 1e5;
use crate::error::{Error, Result};
use toml::Value;

/// Every op name a pipeline file may use.
pub fn op_names() -> &'static [&'static str] {
    &[
        "random_resized_crop",
        "resize",
        "center_crop",
        "random_crop",
        "horizontal_flip",
        "vertical_flip",
        "affine",
        "color_jitter",
        "grayscale",
        "random_field",
        "elastic",
        "invert",
        "solarize",
        "posterize",
        "autocontrast",
        "equalize",
        "sharpness",
        "gaussian_blur",
        "gaussian_noise",
        "gamma",
        "random_erasing",
        "perspective",
        "rand_augment",
        "trivial_augment_wide",
        "auto_augment",
        "augmix",
        "normalize",
    ]
}

fn allowed_keys(op: &str) -> &'static [&'static str] {
    match op {
        "random_resized_crop" => &["size", "scale", "ratio", "interpolation"],
        "resize" => &["size", "max_size", "interpolation"],
        "center_crop" => &["size"],
        "random_crop" => &["size", "padding", "pad_if_needed", "fill", "padding_mode"],
        "horizontal_flip" | "vertical_flip" | "grayscale" => &["p"],
        "affine" => &[
            "degrees",
            "translate",
            "scale",
            "shear",
            "interpolation",
            "fill",
            "center",
            "p",
        ],
        "color_jitter" => &["brightness", "contrast", "saturation", "hue", "p"],
        "normalize" => &["mean", "std"],
        "random_field" => &[
            "l",
            "dx",
            "dy",
            "rotation",
            "log_scale",
            "brightness",
            "contrast",
            "saturation",
            "hue",
            "fill",
            "p",
        ],
        "elastic" => &["alpha", "sigma", "fill", "p"],
        "invert" | "autocontrast" | "equalize" => &["p"],
        "solarize" => &["threshold", "p"],
        "posterize" => &["bits", "p"],
        "sharpness" => &["factor", "p"],
        "gaussian_blur" => &["kernel_size", "sigma", "p"],
        "gaussian_noise" => &["sigma", "p"],
        "gamma" => &["gamma", "gain", "p"],
        "random_erasing" => &["p", "scale", "ratio", "value"],
        "perspective" => &["distortion", "p", "interpolation", "fill"],
        "rand_augment" => &[
            "num_ops",
            "magnitude",
            "num_bins",
            "ops",
            "interpolation",
            "fill",
        ],
        "trivial_augment_wide" => &["num_bins", "ops", "interpolation", "fill"],
        "auto_augment" => &["policy", "interpolation", "fill"],
        "augmix" => &[
            "severity",
            "width",
            "depth",
            "alpha",
            "all_ops",
            "interpolation",
            "fill",
        ],
        _ => &[],
    }
}

/// Reads one key of one op, with errors that name both.
pub(crate) struct Ctx<'a> {
    pub index: usize,
    pub op: &'a str,
    pub table: &'a toml::Table,
}

impl Ctx<'_> {
    pub fn err(&self, key: &str, message: impl Into<String>) -> Error {
        Error::InvalidParam {
            index: self.index,
            op: self.op.to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn number(&self, key: &str, v: &Value) -> Result<f64> {
        let x = match v {
            Value::Integer(i) => *i as f64,
            Value::Float(f) => *f,
            other => {
                return Err(self.err(key, format!("expected a number, got {}", describe(other))))
            }
        };
        if !x.is_finite() {
            return Err(self.err(key, format!("expected a finite number, got {x}")));
        }
        Ok(x)
    }

    fn numbers(&self, key: &str, v: &Value) -> Result<Vec<f64>> {
        match v {
            Value::Array(items) => items.iter().map(|i| self.number(key, i)).collect(),
            other => Ok(vec![self.number(key, other)?]),
        }
    }

    /// A number in [lo, hi].
    pub fn f64_in(&self, key: &str, default: f64, lo: f64, hi: f64) -> Result<f64> {
        let Some(v) = self.table.get(key) else {
            return Ok(default);
        };
        let x = self.number(key, v)?;
        if !(x >= lo && x <= hi) {
            return Err(self.err(
                key,
                format!("must be in [{}, {}], got {x}", bound(lo), bound(hi)),
            ));
        }
        Ok(x)
    }

    /// The probability key `p`.
    pub fn p(&self, default: f64) -> Result<f64> {
        self.f64_in("p", default, 0.0, 1.0)
    }

    /// A [lo, hi] range, both in [min, max], lo <= hi.
    pub fn range(&self, key: &str, min: f64, max: f64) -> Result<Option<[f64; 2]>> {
        let Some(v) = self.table.get(key) else {
            return Ok(None);
        };
        let xs = self.numbers(key, v)?;
        if xs.len() != 2 {
            return Err(self.err(key, format!("expected [min, max], got {} values", xs.len())));
        }
        self.check_range(key, [xs[0], xs[1]], min, max).map(Some)
    }

    fn check_range(&self, key: &str, r: [f64; 2], min: f64, max: f64) -> Result<[f64; 2]> {
        if r[0] > r[1] {
            return Err(self.err(key, format!("min {} is greater than max {}", r[0], r[1])));
        }
        if r[0] < min || r[1] > max {
            return Err(self.err(
                key,
                format!(
                    "values must lie in [{}, {}], got [{}, {}]",
                    bound(min),
                    bound(max),
                    r[0],
                    r[1]
                ),
            ));
        }
        Ok(r)
    }

    /// A jitter factor range: a number b gives [max(0, 1 - b), 1 + b], a pair is taken as is.
    pub fn jitter(&self, key: &str) -> Result<Option<[f64; 2]>> {
        let Some(v) = self.table.get(key) else {
            return Ok(None);
        };
        let xs = self.numbers(key, v)?;
        let r = match xs.as_slice() {
            [b] if *b >= 0.0 => [(1.0 - b).max(0.0), 1.0 + b],
            [b] => return Err(self.err(key, format!("must be >= 0, got {b}"))),
            [lo, hi] => self.check_range(key, [*lo, *hi], 0.0, f64::MAX)?,
            _ => return Err(self.err(key, "expected a number or [min, max]")),
        };
        Ok(if r == [1.0, 1.0] { None } else { Some(r) })
    }

    /// A hue range: a number h in [0, 0.5] gives [-h, h].
    pub fn hue(&self) -> Result<Option<[f64; 2]>> {
        let Some(v) = self.table.get("hue") else {
            return Ok(None);
        };
        let xs = self.numbers("hue", v)?;
        let r = match xs.as_slice() {
            [h] if (0.0..=0.5).contains(h) => [-h, *h],
            [h] => return Err(self.err("hue", format!("must be in [0, 0.5], got {h}"))),
            [lo, hi] => self.check_range("hue", [*lo, *hi], -0.5, 0.5)?,
            _ => return Err(self.err("hue", "expected a number or [min, max]")),
        };
        Ok(if r == [0.0, 0.0] { None } else { Some(r) })
    }

    /// A size: one integer (square) or [height, width]; each in [1, 65535].
    pub fn size(&self, key: &str) -> Result<Option<Size>> {
        let Some(v) = self.table.get(key) else {
            return Ok(None);
        };
        parse_size(v).map(Some).map_err(|m| self.err(key, m))
    }

    /// Three numbers (or one, repeated) each in [lo, hi].
    pub fn triple(&self, key: &str, default: [f64; 3], lo: f64, hi: f64) -> Result<[f64; 3]> {
        let Some(v) = self.table.get(key) else {
            return Ok(default);
        };
        let xs = self.numbers(key, v)?;
        let t = match xs.as_slice() {
            [a] => [*a, *a, *a],
            [a, b, c] => [*a, *b, *c],
            _ => return Err(self.err(key, format!("expected 1 or 3 numbers, got {}", xs.len()))),
        };
        for x in t {
            if x < lo || x > hi {
                return Err(self.err(key, format!("values must lie in [{lo}, {hi}], got {x}")));
            }
        }
        Ok(t)
    }

    pub fn interpolation(&self, default: Interpolation) -> Result<Interpolation> {
        match self.table.get("interpolation") {
            None => Ok(default),
            Some(Value::String(s)) if s == "bilinear" => Ok(Interpolation::Bilinear),
            Some(Value::String(s)) if s == "nearest" => Ok(Interpolation::Nearest),
            Some(other) => Err(self.err(
                "interpolation",
                format!(
                    "expected \"bilinear\" or \"nearest\", got {}",
                    describe(other)
                ),
            )),
        }
    }

    /// An integer in [lo, hi].
    pub fn int_in(&self, key: &str, default: u32, lo: u32, hi: u32) -> Result<u32> {
        let x = self.f64_in(key, default as f64, lo as f64, hi as f64)?;
        if x.fract() != 0.0 {
            return Err(self.err(key, format!("must be an integer, got {x}")));
        }
        Ok(x as u32)
    }

    /// A number or [min, max] range within [lo, hi]; `default` when absent.
    pub fn num_or_range(&self, key: &str, default: [f64; 2], lo: f64, hi: f64) -> Result<[f64; 2]> {
        match self.table.get(key) {
            None => Ok(default),
            Some(v) => match self.numbers(key, v)?.as_slice() {
                [x] => self.check_range(key, [*x, *x], lo, hi),
                [a, b] => self.check_range(key, [*a, *b], lo, hi),
                _ => Err(self.err(key, "expected a number or [min, max]")),
            },
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.table.get(key) {
            None => Ok(default),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(other) => Err(self.err(
                key,
                format!("expected true or false, got {}", describe(other)),
            )),
        }
    }
}

/// Parses a size value: `224` or `[224, 320]` (height, width).
pub(crate) fn parse_size(v: &Value) -> std::result::Result<Size, String> {
    let one = |v: &Value| -> std::result::Result<u32, String> {
        match v {
            Value::Integer(i) if (1..=65535).contains(i) => Ok(*i as u32),
            Value::Integer(i) => Err(format!("sizes must be in [1, 65535], got {i}")),
            other => Err(format!(
                "expected a positive integer, got {}",
                describe(other)
            )),
        }
    };
    match v {
        Value::Array(items) if items.len() == 2 => Ok(Size::new(one(&items[0])?, one(&items[1])?)),
        Value::Array(items) => Err(format!(
            "expected [height, width], got {} values",
            items.len()
        )),
        other => one(other).map(Size::square),
    }
}

/// A range bound as messages print it: `inf` for f64::MAX (no upper bound),
/// not its 309 digits.
fn bound(x: f64) -> String {
    if x >= f64::MAX {
        "inf".into()
    } else if x <= f64::MIN {
        "-inf".into()
    } else {
        format!("{x}")
    }
}

pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {s:?}"),
        Value::Integer(i) => format!("{i}"),
        Value::Float(f) => format!("{f}"),
        Value::Boolean(b) => format!("{b}"),
        Value::Array(_) => "an array".into(),
        Value::Table(_) => "a table".into(),
        Value::Datetime(_) => "a date".into(),
    }
}

/// Parses one `[[ops]]` table of a pipeline file.
pub fn parse_op(index: usize, table: &toml::Table) -> Result<Op> {
    let name = match table.get("op") {
        Some(Value::String(s)) => s.as_str(),
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
    if !op_names().contains(&name) {
        return Err(Error::UnknownOp {
            index,
            name: name.into(),
            known: op_names().join(", "),
        });
    }
    let allowed = allowed_keys(name);
    for key in table.keys() {
        if key != "op" && !allowed.contains(&key.as_str()) {
            return Err(Error::UnknownKey {
                index,
                op: name.into(),
                key: key.clone(),
                allowed: allowed.join(", "),
            });
        }
    }
    let c = Ctx {
        index,
        op: name,
        table,
    };
    let op = match name {
        "random_resized_crop" => {
            let scale = c.range("scale", 0.0, 1.0)?.unwrap_or([0.08, 1.0]);
            if scale[1] <= 0.0 {
                return Err(c.err("scale", "max must be > 0"));
            }
            let ratio = c
                .range("ratio", 1e-6, 1e6)?
                .unwrap_or([3.0 / 4.0, 4.0 / 3.0]);
            Op::RandomResizedCrop {
                size: c.size("size")?,
                scale,
                ratio,
                interpolation: c.interpolation(Interpolation::Bilinear)?,
            }
        }
        "resize" => {
            let size = match table.get("size") {
                None => {
                    return Err(c.err(
                        "size",
                        "missing: give an integer (shorter side) or [height, width]",
                    ))
                }
                Some(Value::Integer(i)) if (1..=65535).contains(i) => ResizeTo::Shorter(*i as u32),
                Some(v) => ResizeTo::Exact(parse_size(v).map_err(|m| c.err("size", m))?),
            };
            let max_size = match table.get("max_size") {
                None => None,
                Some(_) => {
                    let m = c.f64_in("max_size", 0.0, 1.0, 65535.0)?;
                    if m.fract() != 0.0 {
                        return Err(c.err("max_size", format!("must be an integer, got {m}")));
                    }
                    Some(m as u32)
                }
            };
            if let (Some(m), ResizeTo::Shorter(s)) = (max_size, size) {
                if m <= s {
                    return Err(c.err(
                        "max_size",
                        format!("must be greater than size {s}, got {m}"),
                    ));
                }
            }
            if max_size.is_some() && matches!(size, ResizeTo::Exact(_)) {
                return Err(c.err("max_size", "only allowed when size is a single integer"));
            }
            Op::Resize {
                size,
                max_size,
                interpolation: c.interpolation(Interpolation::Bilinear)?,
            }
        }
        "center_crop" => Op::CenterCrop {
            size: c.size("size")?.ok_or_else(|| c.err("size", "missing"))?,
        },
        "random_crop" => {
            if let Some(v) = table.get("padding_mode") {
                if v.as_str() != Some("constant") {
                    return Err(c.err(
                        "padding_mode",
                        format!("only \"constant\" is supported, got {}", describe(v)),
                    ));
                }
            }
            let padding = match table.get("padding") {
                None => [0; 4],
                Some(v) => {
                    let xs = c.numbers("padding", v)?;
                    if xs
                        .iter()
                        .any(|x| *x < 0.0 || x.fract() != 0.0 || *x > 65535.0)
                    {
                        return Err(c.err("padding", "values must be integers in [0, 65535]"));
                    }
                    let u: Vec<u32> = xs.iter().map(|x| *x as u32).collect();
                    match u.as_slice() {
                        [a] => [*a; 4],
                        [lr, tb] => [*lr, *tb, *lr, *tb],
                        [l, t, r, b] => [*l, *t, *r, *b],
                        _ => return Err(c.err("padding", "expected 1, 2 or 4 integers")),
                    }
                }
            };
            Op::RandomCrop {
                size: c.size("size")?.ok_or_else(|| c.err("size", "missing"))?,
                padding,
                pad_if_needed: c.bool("pad_if_needed", false)?,
                fill: c.triple("fill", [0.0; 3], 0.0, 255.0)?,
            }
        }
        "horizontal_flip" => Op::HorizontalFlip { p: c.p(0.5)? },
        "vertical_flip" => Op::VerticalFlip { p: c.p(0.5)? },
        "grayscale" => Op::Grayscale { p: c.p(1.0)? },
        "affine" => {
            let degrees = match table.get("degrees") {
                None => [0.0, 0.0],
                Some(v) => match c.numbers("degrees", v)?.as_slice() {
                    [d] if *d >= 0.0 && *d <= 360.0 => [-d, *d],
                    [d] => return Err(c.err("degrees", format!("must be in [0, 360], got {d}"))),
                    [lo, hi] => c.check_range("degrees", [*lo, *hi], -360.0, 360.0)?,
                    _ => return Err(c.err("degrees", "expected a number or [min, max]")),
                },
            };
            let translate = match table.get("translate") {
                None => None,
                Some(v) => match c.numbers("translate", v)?.as_slice() {
                    [a, b] if (0.0..=1.0).contains(a) && (0.0..=1.0).contains(b) => Some([*a, *b]),
                    _ => {
                        return Err(c.err(
                            "translate",
                            "expected [fx, fy], fractions of width and height in [0, 1]",
                        ))
                    }
                },
            };
            let scale = c.range("scale", 1e-3, 1e3)?;
            let shear = match table.get("shear") {
                None => None,
                Some(v) => {
                    let xs = c.numbers("shear", v)?;
                    let s = match xs.as_slice() {
                        [s] if *s >= 0.0 => [-s, *s, 0.0, 0.0],
                        [s] => return Err(c.err("shear", format!("must be >= 0, got {s}"))),
                        [a, b] => [*a, *b, 0.0, 0.0],
                        [a, b, cc, d] => [*a, *b, *cc, *d],
                        _ => return Err(c.err("shear", "expected 1, 2 or 4 numbers")),
                    };
                    c.check_range("shear", [s[0], s[1]], -89.0, 89.0)?;
                    c.check_range("shear", [s[2], s[3]], -89.0, 89.0)?;
                    Some(s)
                }
            };
            let center = match table.get("center") {
                None => None,
                Some(v) => match c.numbers("center", v)?.as_slice() {
                    [x, y] => Some([*x, *y]),
                    _ => return Err(c.err("center", "expected [x, y] in pixels")),
                },
            };
            Op::Affine {
                degrees,
                translate,
                scale,
                shear,
                interpolation: c.interpolation(Interpolation::Bilinear)?,
                fill: c.triple("fill", [0.0; 3], 0.0, 255.0)?,
                center,
                p: c.p(1.0)?,
            }
        }
        "color_jitter" => Op::ColorJitter {
            brightness: c.jitter("brightness")?,
            contrast: c.jitter("contrast")?,
            saturation: c.jitter("saturation")?,
            hue: c.hue()?,
            p: c.p(1.0)?,
        },
        "random_field" => {
            let l = match table.get("l") {
                None => {
                    return Err(c.err(
                        "l",
                        "missing: the length scale in pixels, a number or [min, max]",
                    ))
                }
                Some(v) => match c.numbers("l", v)?.as_slice() {
                    [x] => c.check_range("l", [*x, *x], MIN_LENGTH_SCALE, MAX_LENGTH_SCALE)?,
                    [lo, hi] => {
                        c.check_range("l", [*lo, *hi], MIN_LENGTH_SCALE, MAX_LENGTH_SCALE)?
                    }
                    _ => return Err(c.err("l", "expected a number or [min, max]")),
                },
            };
            Op::RandomField {
                l,
                amp: FieldAmps::read(|key, max| c.f64_in(key, 0.0, 0.0, max))?,
                fill: c.triple("fill", [0.0; 3], 0.0, 255.0)?,
                p: c.p(1.0)?,
            }
        }
        "elastic" => {
            let alpha = match table.get("alpha") {
                None => [50.0, 50.0],
                Some(v) => match c.numbers("alpha", v)?.as_slice() {
                    [a] => c.check_range("alpha", [*a, *a], 0.0, 1e6)?,
                    [ax, ay] => {
                        c.check_range("alpha", [ax.min(*ay), ax.max(*ay)], 0.0, 1e6)?;
                        [*ax, *ay]
                    }
                    _ => return Err(c.err("alpha", "expected a number or [alpha_x, alpha_y]")),
                },
            };
            Op::Elastic {
                alpha,
                sigma: c.f64_in("sigma", 5.0, MIN_LENGTH_SCALE, MAX_LENGTH_SCALE)?,
                fill: c.triple("fill", [0.0; 3], 0.0, 255.0)?,
                p: c.p(1.0)?,
            }
        }
        "invert" => Op::Invert { p: c.p(0.5)? },
        "autocontrast" => Op::Autocontrast { p: c.p(0.5)? },
        "equalize" => Op::Equalize { p: c.p(0.5)? },
        "solarize" => Op::Solarize {
            threshold: c.f64_in("threshold", 128.0, 0.0, 255.0)?,
            p: c.p(0.5)?,
        },
        "posterize" => Op::Posterize {
            bits: c.int_in("bits", 4, 1, 8)?,
            p: c.p(0.5)?,
        },
        "sharpness" => {
            if !table.contains_key("factor") {
                return Err(c.err(
                    "factor",
                    "missing: the sharpness factor (0 blurs, 1 keeps, 2 sharpens)",
                ));
            }
            Op::Sharpness {
                factor: c.f64_in("factor", 1.0, 0.0, 100.0)?,
                p: c.p(0.5)?,
            }
        }
        "gaussian_blur" => {
            let k = match table.get("kernel_size") {
                None => return Err(c.err("kernel_size", "missing: an odd positive integer")),
                Some(_) => c.int_in("kernel_size", 0, 1, 255)?,
            };
            if k % 2 == 0 {
                return Err(c.err("kernel_size", format!("must be odd, got {k}")));
            }
            let sigma = c.num_or_range("sigma", [0.1, 2.0], f64::MIN, 1e4)?;
            if sigma[0] <= 0.0 {
                return Err(c.err("sigma", format!("must be > 0, got {}", sigma[0])));
            }
            Op::GaussianBlur {
                kernel_size: k,
                sigma,
                p: c.p(1.0)?,
            }
        }
        "gaussian_noise" => Op::GaussianNoise {
            sigma: c.f64_in("sigma", 0.1, 0.0, 10.0)?,
            p: c.p(1.0)?,
        },
        "gamma" => {
            let gamma = c.num_or_range("gamma", [0.8, 1.2], f64::MIN, 100.0)?;
            if gamma[0] <= 0.0 {
                return Err(c.err("gamma", format!("must be > 0, got {}", gamma[0])));
            }
            Op::Gamma {
                gamma,
                gain: c.f64_in("gain", 1.0, 0.0, 100.0)?,
                p: c.p(1.0)?,
            }
        }
        "random_erasing" => {
            let scale = c.range("scale", 0.0, 1.0)?.unwrap_or([0.02, 0.33]);
            let ratio = c.range("ratio", 1e-6, 1e6)?.unwrap_or([0.3, 3.3]);
            let value = match table.get("value") {
                Some(Value::String(v)) if v == "random" => None,
                Some(Value::String(v)) => {
                    return Err(c.err(
                        "value",
                        format!("expected 0..255, [r, g, b] or \"random\", got {v:?}"),
                    ))
                }
                _ => Some(c.triple("value", [0.0; 3], 0.0, 255.0)?),
            };
            Op::RandomErasing {
                p: c.p(0.5)?,
                scale,
                ratio,
                value,
            }
        }
        "perspective" => Op::Perspective {
            distortion: c.f64_in("distortion", 0.5, 0.0, 1.0)?,
            p: c.p(0.5)?,
            interpolation: c.interpolation(Interpolation::Bilinear)?,
            fill: c.triple("fill", [0.0; 3], 0.0, 255.0)?,
        },
        "rand_augment" | "trivial_augment_wide" | "auto_augment" => {
            // The op space: torchvision's names, all 14 by default.
            let ops = match table.get("ops") {
                None => super::policy::ALL_OPS,
                Some(Value::Array(items)) if !items.is_empty() => {
                    let mut bits = 0u16;
                    for item in items {
                        let name = item.as_str().unwrap_or("");
                        bits |= super::policy::op_bit(name).ok_or_else(|| {
                            c.err(
                                "ops",
                                format!(
                                    "unknown op {} (known: {})",
                                    describe(item),
                                    super::policy::RAND_AUGMENT_OPS
                                        .iter()
                                        .map(|o| format!("{o:?}"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            )
                        })?;
                    }
                    bits
                }
                Some(other) => {
                    return Err(c.err(
                        "ops",
                        format!(
                            "expected a non-empty list of op names, got {}",
                            describe(other)
                        ),
                    ))
                }
            };
            let kind = match name {
                "rand_augment" => {
                    let num_bins = c.int_in("num_bins", 31, 2, 1000)?;
                    PolicyKind::RandAugment {
                        num_ops: c.int_in("num_ops", 2, 1, 14)?,
                        magnitude: c.int_in("magnitude", 9, 0, num_bins - 1)?,
                        num_bins,
                        ops,
                    }
                }
                "trivial_augment_wide" => PolicyKind::TrivialAugmentWide {
                    num_bins: c.int_in("num_bins", 31, 2, 1000)?,
                    ops,
                },
                _ => match table.get("policy") {
                    None => PolicyKind::AutoAugmentImagenet,
                    Some(Value::String(s)) if s == "imagenet" => PolicyKind::AutoAugmentImagenet,
                    Some(other) => {
                        return Err(c.err(
                            "policy",
                            format!("only \"imagenet\" is available, got {}", describe(other)),
                        ))
                    }
                },
            };
            Op::Policy {
                kind,
                interpolation: c.interpolation(Interpolation::Nearest)?,
                fill: c.triple("fill", [128.0; 3], 0.0, 255.0)?,
            }
        }
        "augmix" => {
            let alpha = c.f64_in("alpha", 1.0, f64::MIN, 1e4)?;
            if alpha <= 0.0 {
                return Err(c.err("alpha", format!("must be > 0, got {alpha}")));
            }
            Op::AugMix {
                severity: c.int_in("severity", 3, 1, 10)?,
                width: c.int_in("width", 3, 1, 8)?,
                depth: match table.get("depth") {
                    None => 0,
                    Some(Value::Integer(-1)) => 0,
                    Some(_) => c.int_in("depth", 0, 1, 3).map_err(|_| {
                        c.err(
                            "depth",
                            "expected -1 (a random 1..3 per chain) or 1, 2 or 3",
                        )
                    })?,
                },
                alpha,
                all_ops: c.bool("all_ops", true)?,
                interpolation: c.interpolation(Interpolation::Bilinear)?,
                fill: c.triple("fill", [128.0; 3], 0.0, 255.0)?,
            }
        }
        "normalize" => {
            let mean = c.triple("mean", [0.485, 0.456, 0.406], -1e6, 1e6)?;
            let std = c.triple("std", [0.229, 0.224, 0.225], -1e6, 1e6)?;
            if std.iter().any(|s| *s <= 0.0) {
                return Err(c.err("std", format!("values must be > 0, got {std:?}")));
            }
            Op::Normalize { mean, std }
        }
        _ => unreachable!("checked against op_names above"),
    };
    Ok(op)
}
