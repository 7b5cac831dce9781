//! The ops users see: their parameters, validation, and the drawing of random
//! parameters. Defined once here and shared by both backends.

mod parse;
mod sample;

pub(crate) use parse::describe as describe_value;
pub(crate) use parse::parse_size as parse_size_value;
pub use parse::{op_names, parse_op};
pub use sample::draw_op;
pub use sample::resize_target as resize_output;

use serde::Serialize;

/// How a geometric op samples its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Nearest neighbour (`floor` of the mapped position).
    Nearest,
    /// Bilinear, supersampled when downscaling by more than 2x.
    Bilinear,
}

/// An output size, height by width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Size {
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
}

impl Size {
    /// A size of `height` rows by `width` columns.
    pub fn new(height: u32, width: u32) -> Self {
        Self { height, width }
    }
    /// A square size.
    pub fn square(side: u32) -> Self {
        Self::new(side, side)
    }
}

/// The target of `resize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeTo {
    /// The shorter side becomes this, keeping the aspect ratio (torchvision's int size).
    Shorter(u32),
    /// Exactly this size.
    Exact(Size),
}

/// One op of a pipeline with its (random) parameter ranges. Meanings follow
/// `SEMANTICS.md` (torchvision v2 names); deviations are noted per variant.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Op {
    /// torchvision's RandomResizedCrop: area fraction in `scale`, aspect ratio in
    /// `ratio` (log-uniform), up to 10 tries then a centre crop; resized to
    /// `size` (the pipeline's size when `None`).
    RandomResizedCrop {
        /// Output size; the pipeline's when `None`.
        size: Option<Size>,
        /// Range of the crop's area as a fraction of the image.
        scale: [f64; 2],
        /// Range of the crop's aspect ratio (width / height).
        ratio: [f64; 2],
        /// Sampling.
        interpolation: Interpolation,
    },
    /// torchvision's Resize.
    Resize {
        /// Target.
        size: ResizeTo,
        /// With `Shorter`: cap on the longer side.
        max_size: Option<u32>,
        /// Sampling.
        interpolation: Interpolation,
    },
    /// torchvision's CenterCrop; pads with zeros when the crop is larger than the image.
    CenterCrop {
        /// Crop size.
        size: Size,
    },
    /// torchvision's RandomCrop with constant padding (left, top, right, bottom).
    RandomCrop {
        /// Crop size.
        size: Size,
        /// Padding left, top, right, bottom.
        padding: [u32; 4],
        /// Pad the image up to the crop size when it is smaller.
        pad_if_needed: bool,
        /// Padding colour, 0..255 per channel.
        fill: [f64; 3],
    },
    /// Flip left-right with probability `p`.
    HorizontalFlip {
        /// Probability.
        p: f64,
    },
    /// Flip top-bottom with probability `p`.
    VerticalFlip {
        /// Probability.
        p: f64,
    },
    /// torchvision's RandomAffine about the image centre (or `center`). Unlike
    /// torchvision the default interpolation is bilinear, and pixels outside
    /// the image are bilinear taps of the fill colour.
    Affine {
        /// Rotation range in degrees (clockwise, as torchvision).
        degrees: [f64; 2],
        /// Maximum translation as fractions of width and height.
        translate: Option<[f64; 2]>,
        /// Scale range.
        scale: Option<[f64; 2]>,
        /// Shear ranges in degrees: x in [0, 1], y in [2, 3].
        shear: Option<[f64; 4]>,
        /// Sampling.
        interpolation: Interpolation,
        /// Fill colour, 0..255.
        fill: [f64; 3],
        /// Centre of rotation in pixels (top-left corner origin); image centre when `None`.
        center: Option<[f64; 2]>,
        /// Probability of applying.
        p: f64,
    },
    /// torchvision's ColorJitter, but each sample draws its own factors and order.
    ColorJitter {
        /// Brightness factor range.
        brightness: Option<[f64; 2]>,
        /// Contrast factor range.
        contrast: Option<[f64; 2]>,
        /// Saturation factor range.
        saturation: Option<[f64; 2]>,
        /// Hue shift range, within [-0.5, 0.5].
        hue: Option<[f64; 2]>,
        /// Probability of applying.
        p: f64,
    },
    /// Grayscale (3 equal channels) with probability `p`.
    Grayscale {
        /// Probability.
        p: f64,
    },
    /// (x - mean) / std on [0, 1] values; must be the last op, f32 output only.
    Normalize {
        /// Per-channel mean.
        mean: [f64; 3],
        /// Per-channel std (> 0).
        std: [f64; 3],
    },
}

impl Op {
    /// The op's name in pipeline files.
    pub fn name(&self) -> &'static str {
        match self {
            Op::RandomResizedCrop { .. } => "random_resized_crop",
            Op::Resize { .. } => "resize",
            Op::CenterCrop { .. } => "center_crop",
            Op::RandomCrop { .. } => "random_crop",
            Op::HorizontalFlip { .. } => "horizontal_flip",
            Op::VerticalFlip { .. } => "vertical_flip",
            Op::Affine { .. } => "affine",
            Op::ColorJitter { .. } => "color_jitter",
            Op::Grayscale { .. } => "grayscale",
            Op::Normalize { .. } => "normalize",
        }
    }

    /// Whether the op changes geometry (it then folds into the sample's inverse map).
    pub fn is_geometric(&self) -> bool {
        matches!(
            self,
            Op::RandomResizedCrop { .. }
                | Op::Resize { .. }
                | Op::CenterCrop { .. }
                | Op::RandomCrop { .. }
                | Op::HorizontalFlip { .. }
                | Op::VerticalFlip { .. }
                | Op::Affine { .. }
        )
    }

    /// Whether the op may show pixels outside its input (a fill), needing a clip stage.
    pub fn may_fill(&self) -> bool {
        matches!(
            self,
            Op::Affine { .. } | Op::CenterCrop { .. } | Op::RandomCrop { .. }
        )
    }

    /// The most colour-program steps this op can add to a sample.
    pub fn max_color_steps(&self) -> usize {
        match self {
            Op::ColorJitter {
                brightness,
                contrast,
                saturation,
                hue,
                ..
            } => [
                brightness.is_some(),
                contrast.is_some(),
                saturation.is_some(),
                hue.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count(),
            Op::Grayscale { .. } => 1,
            _ => 0,
        }
    }

    /// How many image statistics (reductions) this op can need.
    pub fn stat_slots(&self) -> usize {
        match self {
            Op::ColorJitter {
                contrast: Some(_), ..
            } => 1,
            _ => 0,
        }
    }
}

/// The colour adjustments color_jitter draws, named as in the parameter record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorStep {
    /// x * f
    Brightness,
    /// blend with the mean grey of the image
    Contrast,
    /// blend with the pixel's grey
    Saturation,
    /// rotate hue
    Hue,
}

impl ColorStep {
    /// Name in records and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ColorStep::Brightness => "brightness",
            ColorStep::Contrast => "contrast",
            ColorStep::Saturation => "saturation",
            ColorStep::Hue => "hue",
        }
    }
}

/// The parameters one sample drew for one op: the parameter record, and the
/// whole input of the planning step (so `apply` can give them explicitly).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Drawn {
    /// Crop box in the current image, then resized to the op's size.
    RandomResizedCrop {
        /// Top row.
        top: i64,
        /// Left column.
        left: i64,
        /// Rows.
        height: i64,
        /// Columns.
        width: i64,
    },
    /// New size.
    Resize {
        /// Rows.
        height: u32,
        /// Columns.
        width: u32,
    },
    /// Crop box (negative or oversize: zero padding).
    CenterCrop {
        /// Top row.
        top: i64,
        /// Left column.
        left: i64,
        /// Rows.
        height: i64,
        /// Columns.
        width: i64,
    },
    /// Crop box in the unpadded image's coordinates (negative: padding).
    RandomCrop {
        /// Top row.
        top: i64,
        /// Left column.
        left: i64,
        /// Rows.
        height: i64,
        /// Columns.
        width: i64,
    },
    /// Whether the flip happened.
    HorizontalFlip {
        /// Applied?
        applied: bool,
    },
    /// Whether the flip happened.
    VerticalFlip {
        /// Applied?
        applied: bool,
    },
    /// The affine parameters (torchvision's `F.affine` arguments).
    Affine {
        /// Applied?
        applied: bool,
        /// Degrees, clockwise.
        angle: f64,
        /// Pixels.
        translate: [f64; 2],
        /// Factor.
        scale: f64,
        /// Degrees.
        shear: [f64; 2],
    },
    /// The factors and the order they were applied in.
    ColorJitter {
        /// Applied?
        applied: bool,
        /// Brightness factor.
        brightness: f64,
        /// Contrast factor.
        contrast: f64,
        /// Saturation factor.
        saturation: f64,
        /// Hue shift.
        hue: f64,
        /// Order of the adjustments applied.
        order: Vec<ColorStep>,
    },
    /// Whether the image became grey.
    Grayscale {
        /// Applied?
        applied: bool,
    },
    /// Normalisation (no random parameters).
    Normalize {},
}
