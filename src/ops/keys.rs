//! Op keys, defined once: each key's name, what it holds, its default and the
//! values allowed, and the one reader every front end goes through (pipeline
//! files give TOML values, `apply` and other command lines give strings).
//!
//! A reader only turns a value into its shape (a number, a range, three
//! numbers...) and fills in the key's default; the ranges are checked by
//! [`Key::check`] and friends, which `Op::check` (src/ops/check.rs) calls for
//! ops from files, from `apply` and built in code alike.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use toml::Value;

/// A key's default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyDefault {
    /// The key must be given.
    Required,
    /// Absent means "off" (e.g. no translation).
    Off,
    /// A number.
    Num(f64),
    /// A [min, max] range.
    Range([f64; 2]),
    /// Three numbers (r, g, b).
    Rgb([f64; 3]),
    /// A boolean.
    Flag(bool),
    /// A name.
    Name(&'static str),
}

/// One key of an op: its name, its shape, its default and its allowed values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Key {
    /// The key as written in pipeline files and `--set`.
    pub name: &'static str,
    /// What the value holds, in words (README and `--help`).
    pub shape: &'static str,
    /// Its default.
    pub default: KeyDefault,
    /// Smallest allowed value.
    pub lo: f64,
    /// Largest allowed value.
    pub hi: f64,
    /// `lo` itself is excluded (`> lo`).
    pub gt: bool,
    /// Smallest allowed value above `lo` when `gt` (values in (lo, min) would
    /// vanish or overflow in the kernels' f32); `lo` otherwise.
    pub min: f64,
}

const fn key(
    name: &'static str,
    shape: &'static str,
    default: KeyDefault,
    lo: f64,
    hi: f64,
) -> Key {
    Key {
        name,
        shape,
        default,
        lo,
        hi,
        gt: false,
        min: lo,
    }
}

/// A key whose values must be > 0, at least `min`, at most `hi`.
const fn positive(
    name: &'static str,
    shape: &'static str,
    default: KeyDefault,
    min: f64,
    hi: f64,
) -> Key {
    Key {
        name,
        shape,
        default,
        lo: 0.0,
        hi,
        gt: true,
        min,
    }
}

/// Keys several ops share.
pub mod common {
    use super::*;
    /// Probability of applying (default 0.5; see [`Key::with_default`]).
    pub const P: Key = key("p", "number", KeyDefault::Num(0.5), 0.0, 1.0);
    /// A fill colour on the 0..255 scale.
    pub const FILL: Key = key(
        "fill",
        "0..255 or [r, g, b]",
        KeyDefault::Rgb([0.0; 3]),
        0.0,
        255.0,
    );
    /// Sampling of a resize (resize, crop, random_resized_crop): torchvision's names.
    pub const RESAMPLING: Key = key(
        "interpolation",
        "\"bilinear\", \"bicubic\", \"nearest\" or \"nearest_exact\"",
        KeyDefault::Name("bilinear"),
        0.0,
        0.0,
    );
    /// Sampling of a geometric op.
    pub const INTERPOLATION: Key = key(
        "interpolation",
        "\"bilinear\" or \"nearest\"",
        KeyDefault::Name("bilinear"),
        0.0,
        0.0,
    );
    /// An output size: one integer (square) or [height, width].
    pub const SIZE: Key = key(
        "size",
        "integer or [height, width]",
        KeyDefault::Required,
        1.0,
        65535.0,
    );
}

/// The geometric ops' keys.
pub mod geometry {
    use super::*;
    /// random_resized_crop: area fraction range.
    pub const RRC_SCALE: Key = key(
        "scale",
        "[min, max]",
        KeyDefault::Range([0.08, 1.0]),
        0.0,
        1.0,
    );
    /// random_resized_crop: aspect-ratio range.
    pub const RRC_RATIO: Key = key(
        "ratio",
        "[min, max]",
        KeyDefault::Range([3.0 / 4.0, 4.0 / 3.0]),
        1e-6,
        1e6,
    );
    /// resize: cap on the longer side.
    pub const MAX_SIZE: Key = key("max_size", "integer", KeyDefault::Off, 1.0, 65535.0);
    /// random_crop: padding left, top, right, bottom.
    pub const PADDING: Key = key(
        "padding",
        "1, 2 or 4 integers",
        KeyDefault::Off,
        0.0,
        65535.0,
    );
    /// resize: widen the filter with the downscale factor (torchvision's antialias).
    pub const ANTIALIAS: Key = key(
        "antialias",
        "true or false",
        KeyDefault::Flag(true),
        0.0,
        0.0,
    );
    /// rotate (apply): grow the canvas to hold the whole turned image.
    pub const EXPAND: Key = key("expand", "true or false", KeyDefault::Flag(false), 0.0, 0.0);
    /// affine: supersample in proportion to the map's own downscaling
    /// (torchvision never antialiases affine; off by default, as there).
    pub const AFFINE_ANTIALIAS: Key = key(
        "antialias",
        "true or false",
        KeyDefault::Flag(false),
        0.0,
        0.0,
    );
    /// random_crop: pad up to the crop size.
    pub const PAD_IF_NEEDED: Key = key(
        "pad_if_needed",
        "true or false",
        KeyDefault::Flag(false),
        0.0,
        0.0,
    );
    /// random_crop / pad: torchvision's padding modes.
    pub const PADDING_MODE: Key = key(
        "padding_mode",
        "\"constant\", \"edge\", \"reflect\" or \"symmetric\"",
        KeyDefault::Name("constant"),
        0.0,
        0.0,
    );
    /// affine: rotation in degrees (d: [-d, d]; or [min, max]). `apply`'s `angle` has the same limits.
    pub const DEGREES: Key = key(
        "degrees",
        "d or [min, max]",
        KeyDefault::Range([0.0, 0.0]),
        -360.0,
        360.0,
    );
    /// affine: largest translation as fractions of width and height.
    pub const TRANSLATE: Key = key("translate", "[fx, fy]", KeyDefault::Off, 0.0, 1.0);
    /// affine: scale range.
    pub const AFFINE_SCALE: Key = key("scale", "[min, max]", KeyDefault::Off, 1e-3, 1e3);
    /// affine: shear ranges in degrees.
    pub const SHEAR: Key = key(
        "shear",
        "s, [min, max] or [xmin, xmax, ymin, ymax]",
        KeyDefault::Off,
        -89.0,
        89.0,
    );
    /// affine: centre of rotation in pixels.
    pub const CENTER: Key = key("center", "[x, y]", KeyDefault::Off, -1e9, 1e9);
    /// perspective: distortion scale.
    pub const DISTORTION: Key = key("distortion", "number", KeyDefault::Num(0.5), 0.0, 1.0);
    /// crop (explicit box): top row, left column (negative: padding).
    pub const TOP: Key = key(
        "top",
        "integer",
        KeyDefault::Num(0.0),
        -16777216.0,
        16777216.0,
    );
    /// crop: left column.
    pub const LEFT: Key = key(
        "left",
        "integer",
        KeyDefault::Num(0.0),
        -16777216.0,
        16777216.0,
    );
    /// crop: rows.
    pub const HEIGHT: Key = key("height", "integer", KeyDefault::Off, 1.0, 65535.0);
    /// crop: columns.
    pub const WIDTH: Key = key("width", "integer", KeyDefault::Off, 1.0, 65535.0);
}

/// The colour ops' keys.
pub mod color {
    use super::*;
    /// color_jitter brightness, contrast, saturation: b gives [max(0, 1 - b), 1 + b].
    pub const BRIGHTNESS: Key = key(
        "brightness",
        "b or [min, max]",
        KeyDefault::Off,
        0.0,
        f64::MAX,
    );
    /// See [`BRIGHTNESS`].
    pub const CONTRAST: Key = key(
        "contrast",
        "b or [min, max]",
        KeyDefault::Off,
        0.0,
        f64::MAX,
    );
    /// See [`BRIGHTNESS`].
    pub const SATURATION: Key = key(
        "saturation",
        "b or [min, max]",
        KeyDefault::Off,
        0.0,
        f64::MAX,
    );
    /// Hue shift in turns (signed): h gives [-h, h].
    pub const HUE: Key = key("hue", "h or [min, max]", KeyDefault::Off, -0.5, 0.5);
    /// solarize threshold.
    pub const THRESHOLD: Key = key("threshold", "number", KeyDefault::Num(128.0), 0.0, 255.0);
    /// posterize bits.
    pub const BITS: Key = key("bits", "integer", KeyDefault::Num(4.0), 1.0, 8.0);
    /// sharpness factor.
    pub const SHARPNESS_FACTOR: Key = key("factor", "number", KeyDefault::Required, 0.0, 100.0);
    /// gaussian_blur kernel size (odd).
    pub const KERNEL_SIZE: Key = key(
        "kernel_size",
        "odd integer",
        KeyDefault::Required,
        1.0,
        255.0,
    );
    /// gaussian_blur sigma (number or range).
    pub const BLUR_SIGMA: Key = positive(
        "sigma",
        "number or [min, max]",
        KeyDefault::Range([0.1, 2.0]),
        1e-6,
        1e4,
    );
    /// gaussian_noise sigma.
    pub const NOISE_SIGMA: Key = key("sigma", "number", KeyDefault::Num(0.1), 0.0, 10.0);
    /// gamma exponent (number or range).
    pub const GAMMA: Key = positive(
        "gamma",
        "number or [min, max]",
        KeyDefault::Range([0.8, 1.2]),
        1e-6,
        100.0,
    );
    /// gamma gain.
    pub const GAIN: Key = key("gain", "number", KeyDefault::Num(1.0), 0.0, 100.0);
    /// random_erasing area fraction.
    pub const ERASE_SCALE: Key = key(
        "scale",
        "[min, max]",
        KeyDefault::Range([0.02, 0.33]),
        0.0,
        1.0,
    );
    /// random_erasing aspect ratio.
    pub const ERASE_RATIO: Key = key(
        "ratio",
        "[min, max]",
        KeyDefault::Range([0.3, 3.3]),
        1e-6,
        1e6,
    );
    /// random_erasing value (0..255, [r, g, b] or "random").
    pub const ERASE_VALUE: Key = key(
        "value",
        "0..255, [r, g, b] or \"random\"",
        KeyDefault::Rgb([0.0; 3]),
        0.0,
        255.0,
    );
    /// cutout / colorful_cutout: holes per sample (0: no change).
    pub const N_HOLES: Key = key("n_holes", "integer", KeyDefault::Num(1.0), 0.0, 16.0);
    /// cutout / colorful_cutout: side of each square hole in pixels (0: no change).
    pub const CUTOUT_LENGTH: Key = key(
        "length",
        "integer (pixels)",
        KeyDefault::Num(16.0),
        0.0,
        65535.0,
    );
    /// cutout fill (0..255 integers, one or [r, g, b]).
    pub const CUTOUT_VALUE: Key = key(
        "value",
        "0..255 or [r, g, b] (integers)",
        KeyDefault::Rgb([0.0; 3]),
        0.0,
        255.0,
    );
    /// colorful_cutout: sub-patches per side of a hole.
    pub const GRID: Key = key("grid", "integer", KeyDefault::Num(2.0), 1.0, 64.0);
    /// rotation_label: k = the view index (pipelines with views = 4).
    pub const ALL_VIEWS: Key = key(
        "all_views",
        "true or false",
        KeyDefault::Flag(false),
        0.0,
        0.0,
    );
    /// grayscale: channels of the pipeline's output, 1 or 3 (torchvision's
    /// `num_output_channels`).
    pub const NUM_OUTPUT_CHANNELS: Key = key(
        "num_output_channels",
        "1 or 3",
        KeyDefault::Num(3.0),
        1.0,
        3.0,
    );
    /// normalize mean.
    pub const MEAN: Key = key(
        "mean",
        "[r, g, b]",
        KeyDefault::Rgb([0.485, 0.456, 0.406]),
        -1e6,
        1e6,
    );
    /// normalize std (> 0; at least 1e-6, so (x - mean) / std stays finite in f32).
    pub const STD: Key = positive(
        "std",
        "[r, g, b]",
        KeyDefault::Rgb([0.229, 0.224, 0.225]),
        1e-6,
        1e6,
    );
    /// permute_channels order (`apply`): a permutation of 0, 1, 2.
    pub const ORDER: Key = key(
        "order",
        "three channel indices, e.g. 2,0,1",
        KeyDefault::Off,
        0.0,
        2.0,
    );
}

/// The random-field ops' keys (amplitudes: `FieldAmps::KEYS`).
pub mod field {
    use super::*;
    /// Smallest field length scale, pixels: below it the lattice the field is
    /// generated on would be finer than half a pixel.
    pub const MIN_LENGTH_SCALE: f64 = 0.5;
    /// Largest field length scale, pixels (a field far larger than any image
    /// is constant: use `affine`). Also at most [`MAX_L_PER_SIDE`] times the
    /// longer output side (checked with the pipeline's size).
    pub const MAX_LENGTH_SCALE: f64 = 1e5;
    /// The length scale may be at most this many times the longer output side.
    pub const MAX_L_PER_SIDE: f64 = 100.0;
    /// random_field length scale.
    pub const L: Key = key(
        "l",
        "pixels, or [min, max]",
        KeyDefault::Required,
        MIN_LENGTH_SCALE,
        MAX_LENGTH_SCALE,
    );
    /// elastic displacement scale.
    pub const ALPHA: Key = key(
        "alpha",
        "a or [ax, ay]",
        KeyDefault::Range([50.0, 50.0]),
        0.0,
        1e6,
    );
    /// elastic smoothing std (the field's length scale).
    pub const SIGMA: Key = key(
        "sigma",
        "pixels",
        KeyDefault::Num(5.0),
        MIN_LENGTH_SCALE,
        MAX_LENGTH_SCALE,
    );
    /// The field's noise seed (`apply`; a record's `seed`).
    pub const SEED: Key = key(
        "seed",
        "unsigned 64-bit integer",
        KeyDefault::Num(0.0),
        0.0,
        u64::MAX as f64,
    );
}

/// The policies' keys.
pub mod policy {
    use super::*;
    /// rand_augment: ops per sample.
    pub const NUM_OPS: Key = key("num_ops", "integer", KeyDefault::Num(2.0), 1.0, 14.0);
    /// rand_augment: magnitude bin (at most num_bins - 1).
    pub const MAGNITUDE: Key = key("magnitude", "integer", KeyDefault::Num(9.0), 0.0, 999.0);
    /// Magnitude bins.
    pub const NUM_BINS: Key = key("num_bins", "integer", KeyDefault::Num(31.0), 2.0, 1000.0);
    /// The op space (torchvision's names).
    pub const OPS: Key = key(
        "ops",
        "list of op names",
        KeyDefault::Name("all 14"),
        0.0,
        0.0,
    );
    /// auto_augment's policy.
    pub const POLICY: Key = key(
        "policy",
        "\"imagenet\"",
        KeyDefault::Name("imagenet"),
        0.0,
        0.0,
    );
    /// The policies' fill (grey).
    pub const FILL: Key = Key {
        default: KeyDefault::Rgb([128.0; 3]),
        ..common::FILL
    };
    /// The policies' interpolation.
    pub const INTERPOLATION: Key = Key {
        default: KeyDefault::Name("nearest"),
        ..common::INTERPOLATION
    };
    /// augmix severity.
    pub const SEVERITY: Key = key("severity", "integer", KeyDefault::Num(3.0), 1.0, 10.0);
    /// augmix chains.
    pub const WIDTH: Key = key("width", "integer", KeyDefault::Num(3.0), 1.0, 8.0);
    /// augmix chain depth: -1 (random 1..3) or 1..3.
    pub const DEPTH: Key = key("depth", "-1 or 1..3", KeyDefault::Num(-1.0), 1.0, 3.0);
    /// augmix Dirichlet and Beta parameter.
    pub const ALPHA: Key = positive("alpha", "number", KeyDefault::Num(1.0), 1e-3, 1e4);
    /// augmix: the 13-op space.
    pub const ALL_OPS: Key = key("all_ops", "true or false", KeyDefault::Flag(true), 0.0, 0.0);
}

/// The mixing ops' keys.
pub mod mix {
    use super::*;
    /// mixup / cutmix Beta parameter.
    pub const ALPHA: Key = positive("alpha", "number", KeyDefault::Num(1.0), 1e-3, f64::MAX);
    /// resizemix scale range, inside (0, 1).
    pub const TAU: Key = positive("tau", "[min, max]", KeyDefault::Range([0.1, 0.8]), 0.0, 1.0);
    /// Classes of the soft labels.
    pub const NUM_CLASSES: Key = key(
        "num_classes",
        "integer",
        KeyDefault::Required,
        1.0,
        16777216.0,
    );
    /// One draw per batch.
    pub const PER_BATCH: Key = key(
        "per_batch",
        "true or false",
        KeyDefault::Flag(false),
        0.0,
        0.0,
    );
    /// A mixer's probability in mix_one_of.
    pub const P: Key = key("p", "number", KeyDefault::Required, 0.0, 1.0);
}

impl Key {
    /// The same key with another default (e.g. `p` 1 instead of 0.5).
    pub const fn with_default(self, default: KeyDefault) -> Key {
        Key { default, ..self }
    }

    /// The same limits under another name (`apply` gives a drawn value, e.g.
    /// `angle` within `degrees`' limits).
    pub const fn renamed(self, name: &'static str) -> Key {
        Key { name, ..self }
    }

    /// The allowed values in words: "in [lo, hi]" or "in (lo, hi]".
    pub fn limits(&self) -> String {
        if self.lo == self.hi {
            return String::new();
        }
        let open = if self.gt { "(" } else { "[" };
        format!("{open}{}, {}]", self.lo, self.hi)
    }

    fn err(&self, at: &At, message: String) -> Error {
        at.err(self.name, message)
    }

    /// One number within the limits.
    pub fn check(&self, at: &At, x: f64) -> Result<f64> {
        if self.gt && x.partial_cmp(&self.lo) != Some(std::cmp::Ordering::Greater) {
            return Err(self.err(at, format!("must be > {}, got {x}", bound(self.lo))));
        }
        if !(x >= self.lo && x <= self.hi) {
            return Err(self.err(
                at,
                format!(
                    "must be in [{}, {}], got {x}",
                    bound(self.lo),
                    bound(self.hi)
                ),
            ));
        }
        self.at_least(at, x)?;
        Ok(x)
    }

    fn at_least(&self, at: &At, x: f64) -> Result<()> {
        if self.gt && x < self.min {
            return Err(self.err(
                at,
                format!(
                    "must be > {} and at least {} (smaller values vanish or overflow in f32), got {x}",
                    bound(self.lo), self.min
                ),
            ));
        }
        Ok(())
    }

    /// An integer within the limits.
    pub fn check_int(&self, at: &At, x: f64) -> Result<u32> {
        self.check(at, x)?;
        if x.fract() != 0.0 {
            return Err(self.err(at, format!("must be an integer, got {x}")));
        }
        Ok(x as u32)
    }

    /// A [min, max] range, min <= max, both within the limits.
    pub fn check_range(&self, at: &At, r: [f64; 2]) -> Result<[f64; 2]> {
        if r[0] > r[1] {
            return Err(self.err(at, format!("min {} is greater than max {}", r[0], r[1])));
        }
        if self.gt && r[0].partial_cmp(&self.lo) != Some(std::cmp::Ordering::Greater) {
            return Err(self.err(at, format!("must be > {}, got {}", bound(self.lo), r[0])));
        }
        if !(r[0] >= self.lo && r[1] <= self.hi) {
            return Err(self.err(
                at,
                format!(
                    "values must lie in [{}, {}], got [{}, {}]",
                    bound(self.lo),
                    bound(self.hi),
                    r[0],
                    r[1]
                ),
            ));
        }
        self.at_least(at, r[0])?;
        Ok(r)
    }

    /// Every value within the limits.
    pub fn check_each(&self, at: &At, xs: &[f64]) -> Result<()> {
        for x in xs {
            if self.gt && x.partial_cmp(&self.lo) != Some(std::cmp::Ordering::Greater) {
                return Err(self.err(
                    at,
                    format!("values must be > {}, got {xs:?}", bound(self.lo)),
                ));
            }
            if !(*x >= self.lo && *x <= self.hi) {
                return Err(self.err(
                    at,
                    format!(
                        "values must lie in [{}, {}], got {x}",
                        bound(self.lo),
                        bound(self.hi)
                    ),
                ));
            }
            self.at_least(at, *x)?;
        }
        Ok(())
    }

    /// A size within [1, 65535] on each side.
    pub fn check_size(&self, at: &At, s: super::Size) -> Result<super::Size> {
        for x in [s.height, s.width] {
            if !(1..=65535).contains(&x) {
                return Err(self.err(at, format!("sizes must be in [1, 65535], got {x}")));
            }
        }
        Ok(s)
    }
}

/// Where a value came from: the op's position and name (for errors).
#[derive(Clone, Copy, Debug)]
pub struct At<'a> {
    /// Position of the op in the pipeline (0 for `apply`).
    pub index: usize,
    /// The op's name.
    pub op: &'a str,
}

impl At<'_> {
    /// An error naming the op and `key`.
    pub fn err(&self, key: &str, message: impl Into<String>) -> Error {
        Error::InvalidParam {
            index: self.index,
            op: self.op.to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// The values an op is read from.
#[derive(Clone, Copy, Debug)]
pub enum Values<'a> {
    /// A pipeline file's `[[ops]]` table.
    Toml(&'a toml::Table),
    /// `--set key=value` strings (numbers separated by commas).
    Text(&'a BTreeMap<String, String>),
}

/// One value, as given.
#[derive(Clone, Copy, Debug)]
pub enum Raw<'a> {
    /// From a pipeline file.
    Toml(&'a Value),
    /// From a command line.
    Text(&'a str),
}

impl Raw<'_> {
    /// The value as a name (a TOML string, or any command-line text).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Raw::Toml(v) => v.as_str(),
            Raw::Text(s) => Some(s.trim()),
        }
    }
    /// The value in words, for errors.
    pub fn describe(&self) -> String {
        match self {
            Raw::Toml(v) => describe(v),
            Raw::Text(s) => format!("{s:?}"),
        }
    }
}

/// Reads one op's keys, with errors that name the op and the key.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    /// The op.
    pub at: At<'a>,
    /// Its values.
    pub values: Values<'a>,
}

impl<'a> Reader<'a> {
    /// A reader of a pipeline file's op table.
    pub fn toml(index: usize, op: &'a str, table: &'a toml::Table) -> Self {
        Self {
            at: At { index, op },
            values: Values::Toml(table),
        }
    }

    /// A reader of `key=value` strings.
    pub fn text(op: &'a str, map: &'a BTreeMap<String, String>) -> Self {
        Self {
            at: At { index: 0, op },
            values: Values::Text(map),
        }
    }

    /// An error naming the op and `key`.
    pub fn err(&self, key: &str, message: impl Into<String>) -> Error {
        self.at.err(key, message)
    }

    /// The keys given (without `op`).
    pub fn given(&self) -> Vec<String> {
        match self.values {
            Values::Toml(t) => t.keys().filter(|k| *k != "op").cloned().collect(),
            Values::Text(m) => m.keys().cloned().collect(),
        }
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<Raw<'a>> {
        match self.values {
            Values::Toml(t) => t.get(key).map(Raw::Toml),
            Values::Text(m) => m.get(key).map(|s| Raw::Text(s.as_str())),
        }
    }

    /// Whether `key` is given.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
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

    /// The numbers of `key` (one, or a list), each finite; None when absent.
    pub fn numbers(&self, key: &str) -> Result<Option<Vec<f64>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Raw::Toml(Value::Array(items))) => items
                .iter()
                .map(|i| self.number(key, i))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(Raw::Toml(v)) => Ok(Some(vec![self.number(key, v)?])),
            Some(Raw::Text(s)) => {
                let xs: std::result::Result<Vec<f64>, _> =
                    s.split(',').map(|t| t.trim().parse::<f64>()).collect();
                match xs {
                    Ok(xs) if xs.iter().all(|x| x.is_finite()) => Ok(Some(xs)),
                    _ => Err(self.err(
                        key,
                        format!("expected finite numbers separated by commas, got {s:?}"),
                    )),
                }
            }
        }
    }

    fn missing(&self, k: &Key) -> Error {
        self.err(k.name, format!("missing: {}", k.shape))
    }

    /// One number (the key's default when absent).
    pub fn num(&self, k: &Key) -> Result<f64> {
        match self.numbers(k.name)?.as_deref() {
            None => match k.default {
                KeyDefault::Num(x) => Ok(x),
                _ => Err(self.missing(k)),
            },
            Some([x]) => Ok(*x),
            Some(xs) => Err(self.err(
                k.name,
                format!("expected one number, got {} values", xs.len()),
            )),
        }
    }

    /// One number, checked against the key's limits.
    pub fn num_in(&self, k: &Key) -> Result<f64> {
        let x = self.num(k)?;
        k.check(&self.at, x)
    }

    /// One integer, checked against the key's limits.
    pub fn int_in(&self, k: &Key) -> Result<u32> {
        let x = self.num(k)?;
        k.check_int(&self.at, x)
    }

    /// A [min, max] range (exactly two numbers); None when absent and the default is off.
    pub fn range(&self, k: &Key) -> Result<Option<[f64; 2]>> {
        match self.numbers(k.name)?.as_deref() {
            None => Ok(match k.default {
                KeyDefault::Range(r) => Some(r),
                _ => None,
            }),
            Some([a, b]) => Ok(Some([*a, *b])),
            Some(xs) => Err(self.err(
                k.name,
                format!("expected [min, max], got {} values", xs.len()),
            )),
        }
    }

    /// A number x (as [x, x]) or a [min, max] range; the default when absent.
    pub fn num_or_range(&self, k: &Key) -> Result<[f64; 2]> {
        match self.numbers(k.name)?.as_deref() {
            None => match k.default {
                KeyDefault::Range(r) => Ok(r),
                KeyDefault::Num(x) => Ok([x, x]),
                _ => Err(self.missing(k)),
            },
            Some([x]) => Ok([*x, *x]),
            Some([a, b]) => Ok([*a, *b]),
            Some(_) => Err(self.err(k.name, "expected a number or [min, max]")),
        }
    }

    /// A symmetric range: a number d gives [-d, d] (d >= 0, at most the key's
    /// `hi`), a pair is taken as is. None when absent and the default is off.
    pub fn symmetric(&self, k: &Key) -> Result<Option<[f64; 2]>> {
        match self.numbers(k.name)?.as_deref() {
            None => Ok(match k.default {
                KeyDefault::Range(r) => Some(r),
                _ => None,
            }),
            Some([d]) if *d >= 0.0 && *d <= k.hi => Ok(Some([-d, *d])),
            Some([d]) => Err(self.err(k.name, format!("must be in [0, {}], got {d}", bound(k.hi)))),
            Some([lo, hi]) => Ok(Some([*lo, *hi])),
            Some(_) => Err(self.err(k.name, "expected a number or [min, max]")),
        }
    }

    /// A jitter factor range: a number b gives [max(0, 1 - b), 1 + b], a pair
    /// is taken as is; [1, 1] (no change) is None.
    pub fn jitter(&self, k: &Key) -> Result<Option<[f64; 2]>> {
        let r = match self.numbers(k.name)?.as_deref() {
            None => return Ok(None),
            Some([b]) if *b >= 0.0 => [(1.0 - b).max(0.0), 1.0 + b],
            Some([b]) => return Err(self.err(k.name, format!("must be >= 0, got {b}"))),
            Some([lo, hi]) => k.check_range(&self.at, [*lo, *hi])?,
            Some(_) => return Err(self.err(k.name, "expected a number or [min, max]")),
        };
        Ok(if r == [1.0, 1.0] { None } else { Some(r) })
    }

    /// Three numbers (or one, repeated); the default when absent.
    pub fn rgb(&self, k: &Key) -> Result<[f64; 3]> {
        match self.numbers(k.name)?.as_deref() {
            None => match k.default {
                KeyDefault::Rgb(t) => Ok(t),
                KeyDefault::Num(x) => Ok([x; 3]),
                _ => Err(self.missing(k)),
            },
            Some([a]) => Ok([*a; 3]),
            Some([a, b, c]) => Ok([*a, *b, *c]),
            Some(xs) => Err(self.err(k.name, format!("expected 1 or 3 numbers, got {}", xs.len()))),
        }
    }

    /// A name; the key's default name when absent.
    pub fn name(&self, k: &Key) -> Result<Option<String>> {
        match self.get(k.name) {
            None => Ok(match k.default {
                KeyDefault::Name(n) => Some(n.to_string()),
                _ => None,
            }),
            Some(r) => match r.as_str() {
                Some(s) => Ok(Some(s.to_string())),
                None => Err(self.err(
                    k.name,
                    format!("expected {}, got {}", k.shape, r.describe()),
                )),
            },
        }
    }

    /// "bilinear" or "nearest" (key `interpolation`).
    pub fn interpolation(&self, k: &Key) -> Result<super::Interpolation> {
        use super::Interpolation;
        let given = self.get(k.name);
        // Resizes also know bicubic and nearest_exact (their key's shape says so).
        let resize = k.shape == common::RESAMPLING.shape;
        match self.name(k)?.as_deref() {
            Some("bilinear") => Ok(Interpolation::Bilinear),
            Some("nearest") => Ok(Interpolation::Nearest),
            Some("bicubic") if resize => Ok(Interpolation::Bicubic),
            Some("nearest_exact") if resize => Ok(Interpolation::NearestExact),
            _ => Err(self.err(
                k.name,
                format!(
                    "expected {}, got {}",
                    k.shape,
                    given.map(|r| r.describe()).unwrap_or_default()
                ),
            )),
        }
    }

    /// true or false; the default when absent.
    pub fn flag(&self, k: &Key) -> Result<bool> {
        let default = match k.default {
            KeyDefault::Flag(b) => b,
            _ => false,
        };
        match self.get(k.name) {
            None => Ok(default),
            Some(Raw::Toml(Value::Boolean(b))) => Ok(*b),
            Some(Raw::Text("true")) => Ok(true),
            Some(Raw::Text("false")) => Ok(false),
            Some(other) => Err(self.err(
                k.name,
                format!("expected true or false, got {}", other.describe()),
            )),
        }
    }

    /// A size: one integer (square) or [height, width], each in [1, 65535].
    pub fn size(&self, k: &Key) -> Result<Option<super::Size>> {
        match self.get(k.name) {
            None => Ok(None),
            Some(Raw::Toml(v)) => parse_size(v).map(Some).map_err(|m| self.err(k.name, m)),
            Some(Raw::Text(_)) => {
                let xs = self.numbers(k.name)?.unwrap_or_default();
                let ok = |x: f64| (1.0..=65535.0).contains(&x) && x.fract() == 0.0;
                match xs.as_slice() {
                    [s] if ok(*s) => Ok(Some(super::Size::square(*s as u32))),
                    [h, w] if ok(*h) && ok(*w) => Ok(Some(super::Size::new(*h as u32, *w as u32))),
                    _ => Err(self.err(k.name, "expected a size in [1, 65535] or height,width")),
                }
            }
        }
    }

    /// An integer in the key's limits (i64: boxes may start above or left of the image).
    pub fn int(&self, k: &Key) -> Result<i64> {
        let x = self.num(k)?;
        if x.fract() != 0.0 || !(x >= k.lo && x <= k.hi) {
            return Err(self.err(
                k.name,
                format!("expected an integer in [{}, {}], got {x}", k.lo, k.hi),
            ));
        }
        Ok(x as i64)
    }

    /// A 64-bit seed (as in params.jsonl); 0 when absent.
    pub fn seed(&self, k: &Key) -> Result<u64> {
        match self.get(k.name) {
            None => Ok(0),
            Some(Raw::Toml(Value::Integer(i))) if *i >= 0 => Ok(*i as u64),
            Some(Raw::Text(s)) if s.trim().parse::<u64>().is_ok() => {
                Ok(s.trim().parse().unwrap_or(0))
            }
            Some(other) => Err(self.err(
                k.name,
                format!(
                    "expected an unsigned 64-bit integer, got {}",
                    other.describe()
                ),
            )),
        }
    }

    /// Refuses keys that are not in `keys`.
    pub fn only(&self, keys: &[&Key]) -> Result<()> {
        for given in self.given() {
            if !keys.iter().any(|k| k.name == given) {
                return Err(Error::UnknownKey {
                    index: self.at.index,
                    op: self.at.op.into(),
                    key: given,
                    allowed: keys.iter().map(|k| k.name).collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(())
    }
}

/// Parses a size value: `224` or `[224, 320]` (height, width).
pub(crate) fn parse_size(v: &Value) -> std::result::Result<super::Size, String> {
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
        Value::Array(items) if items.len() == 2 => {
            Ok(super::Size::new(one(&items[0])?, one(&items[1])?))
        }
        Value::Array(items) => Err(format!(
            "expected [height, width], got {} values",
            items.len()
        )),
        other => one(other).map(super::Size::square),
    }
}

/// A TOML value in words, for errors.
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

/// A limit as messages print it: `inf` for f64::MAX (no upper bound), not its
/// 309 digits.
fn bound(x: f64) -> String {
    if x >= f64::MAX {
        "inf".into()
    } else if x <= f64::MIN {
        "-inf".into()
    } else {
        format!("{x}")
    }
}
