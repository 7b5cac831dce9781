//! The ops users see: their parameters, validation, and the drawing of random
//! parameters. Defined once here and shared by both backends: the types in
//! this file, keys in `keys.rs`, the op table and reading in `parse.rs`,
//! limits in `check.rs`, and per family (`Family`) one file with each op's
//! draw and lowering: `geometry.rs`, `color.rs`, `field.rs`, `policy.rs`
//! (`lower.rs` drives them).

mod check;
pub(crate) mod color;
pub(crate) mod field;
pub(crate) mod geometry;
pub mod keys;
pub(crate) mod lower;
mod parse;
pub mod policy;

pub use geometry::canvas_after;
pub use geometry::resize_target as resize_output;
pub use keys::{Key, KeyDefault, Reader};
pub(crate) use parse::describe as describe_value;
pub(crate) use parse::parse_size as parse_size_value;
pub use parse::{
    op_def, op_names, parse_op, read_op, read_padding, Family, OpDef, MAX_LENGTH_SCALE,
    MIN_LENGTH_SCALE, OP_DEFS,
};

/// Draws one op's parameters for a canvas of `w` x `h` (the size of the
/// image as that op sees it); returns what was drawn. Output sizes follow
/// from `Drawn` (see `plan`). Each family draws its own ops.
pub fn draw_op(op: &Op, rng: &mut impl rand::Rng, w: u32, h: u32) -> Drawn {
    geometry::draw(op, rng, w, h)
        .or_else(|| color::draw(op, rng, w, h))
        .or_else(|| field::draw(op, rng, w, h))
        .or_else(|| policy::draw(op, rng, w, h))
        .expect("every op belongs to a family that draws it")
}

/// How a sample's overrides change its ops (see `crate::Overrides`):
/// `strength` in [0, 1] moves every random op's range toward the op's
/// identity (1: the file's ranges), `p_scale` in [0, 1] multiplies every
/// probability. Each family defines its ops' identities (`steer` in
/// geometry.rs, color.rs, field.rs, policy.rs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Steer {
    /// 0: every op at its identity; 1: the file's ranges.
    pub strength: f64,
    /// Multiplies every op's probability.
    pub p_scale: f64,
}

impl Steer {
    /// The file's own ranges and probabilities.
    pub const NONE: Steer = Steer {
        strength: 1.0,
        p_scale: 1.0,
    };
    /// Whether this changes nothing.
    pub fn is_none(&self) -> bool {
        self.strength == 1.0 && self.p_scale == 1.0
    }
}

/// `id + s * (v - id)`: `v` moved toward `id` (s = 0: `id`, s = 1: `v`).
pub(crate) fn toward(id: f64, v: f64, s: f64) -> f64 {
    if s == 1.0 {
        v
    } else {
        id + s * (v - id)
    }
}

/// Op `op` under `st` for a canvas of `w` x `h` (the op itself when `st`
/// changes nothing, so strength 1 draws bit for bit what the file does).
pub fn steer_op(op: &Op, st: Steer, w: u32, h: u32) -> Op {
    if st.is_none() {
        return op.clone();
    }
    geometry::steer(op, st, w, h)
        .or_else(|| color::steer(op, st))
        .or_else(|| field::steer(op, st))
        .or_else(|| policy::steer(op, st))
        .expect("every op belongs to a family that steers it")
}

/// What a steered op `op` drew, mapped by `st` where the family maps drawn
/// values (random_crop's offset, policy steps, AugMix's weights); further
/// uniforms come from the op's own generator `rng`, after its draws.
pub fn steer_drawn(
    op: &Op,
    d: Drawn,
    st: Steer,
    rng: &mut impl rand::Rng,
    w: u32,
    h: u32,
) -> Drawn {
    if st.is_none() {
        return d;
    }
    let d = geometry::steer_drawn(op, d, st, w, h);
    policy::steer_drawn(d, st, rng)
}

use serde::{Deserialize, Serialize};

/// How a geometric op samples its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Nearest neighbour. Warps: `floor` of the mapped position. Resizes
    /// (resize, crop with a size, random_resized_crop): torchvision's NEAREST,
    /// source index floor(i * s) for output index i and scale s.
    Nearest,
    /// Bilinear: antialiased like torchvision's antialias=True for axis-aligned
    /// maps, else one tap (supersampled when resizes downscale by more than 2x).
    Bilinear,
    /// Resizes only: torchvision's NEAREST_EXACT, floor((i + 0.5) * s).
    NearestExact,
    /// Resizes only: bicubic (Keys' cubic, a = -0.5 antialiased as PIL and
    /// torchvision, a = -0.75 with antialias=false). A map that is not
    /// axis-aligned samples it bilinearly.
    Bicubic,
}

impl Interpolation {
    /// Samples one texel (nearest or nearest-exact).
    pub fn is_nearest(self) -> bool {
        matches!(self, Interpolation::Nearest | Interpolation::NearestExact)
    }
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
    /// A fixed box (torchvision's `crop` / `resized_crop`): rows `top..top +
    /// height`, columns `left..left + width` of the current image (outside
    /// it: zeros, as `F.crop` pads), resized to `size` (the box's size when `None`).
    Crop {
        /// Top row (negative: above the image).
        top: i64,
        /// Left column.
        left: i64,
        /// Rows.
        height: i64,
        /// Columns.
        width: i64,
        /// Output size; the box's when `None`.
        size: Option<Size>,
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
        /// torchvision's antialias (default true): widen the filter with the
        /// downscale factor. false: the filter at its own width (one bilinear
        /// tap pair, 4 cubic taps), as torchvision's antialias=False.
        antialias: bool,
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
        /// `crate::codes::pad_mode`: constant (the fill), edge, reflect or
        /// symmetric (the source's pixels folded back; the op must then be
        /// the first geometric op, padding the source itself).
        padding_mode: u32,
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
        /// Supersample in proportion to the map's own downscaling (torchvision
        /// never antialiases affine: false by default).
        antialias: bool,
        /// Grow the canvas to hold the whole turned image (F.rotate's
        /// `expand`; `apply --op rotate` only, a pipeline's affine keeps its canvas).
        expand: bool,
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
    /// Grayscale with probability `p`: the ITU-R 601 grey in all three
    /// channels. With `num_output_channels = 1` (torchvision's
    /// `Grayscale(num_output_channels=1)`) the pipeline's output has one
    /// channel, channel 0 of the final image; that needs `p = 1`.
    Grayscale {
        /// Probability.
        p: f64,
        /// Channels of the pipeline's output: 3 (default) or 1.
        num_output_channels: u32,
    },
    /// torchvision's RandomChannelPermutation: with probability `p`, the
    /// three channels in an order drawn per sample (each of the 6 equally likely).
    PermuteChannels {
        /// Probability.
        p: f64,
    },
    /// Gaussian random fields (SEMANTICS.md, "Random fields"): per-pixel
    /// translation, rotation, log-scale and colour factors, each an independent
    /// field of length scale `l` and the given amplitude (std). Must be the
    /// last geometric op; it works on the output canvas (a canvas of another
    /// size is first resized to the output size). Pixels moved in from outside
    /// the canvas are bilinear taps of `fill`. The colour fields run as colour
    /// steps at the op's place in the chain, in the order brightness,
    /// contrast, saturation, hue, with factors max(0, 1 + F(p)) and hue shift F(p).
    RandomField {
        /// Length scale range in pixels (drawn per sample; equal ends for a fixed one).
        l: [f64; 2],
        /// Amplitudes (field std).
        amp: FieldAmps,
        /// Fill colour, 0..255.
        fill: [f64; 3],
        /// Probability of applying.
        p: f64,
    },
    /// torchvision's ElasticTransform: a translation field only, whose
    /// displacement has the standard deviation torchvision's blurred uniform
    /// noise gives for `alpha` and `sigma` (see `elastic_amplitudes`);
    /// length scale `sigma`.
    Elastic {
        /// Displacement scale, x and y (torchvision's alpha).
        alpha: [f64; 2],
        /// Smoothing std in pixels (the field's length scale).
        sigma: f64,
        /// Fill colour, 0..255.
        fill: [f64; 3],
        /// Probability of applying.
        p: f64,
    },
    /// torchvision's RandomInvert: 1 - x.
    Invert {
        /// Probability.
        p: f64,
    },
    /// torchvision's RandomSolarize: values >= threshold (0..255 scale) are inverted.
    Solarize {
        /// Threshold, 0..255.
        threshold: f64,
        /// Probability.
        p: f64,
    },
    /// torchvision's RandomPosterize on u8 values: keep the top `bits` bits
    /// (the value rounded to u8 first).
    Posterize {
        /// Bits kept, 1..8.
        bits: u32,
        /// Probability.
        p: f64,
    },
    /// torchvision's RandomAutocontrast: each channel stretched to [0, 1].
    Autocontrast {
        /// Probability.
        p: f64,
    },
    /// torchvision's RandomEqualize: per-channel histogram equalisation of the
    /// image rounded to u8 (torchvision's lookup table).
    Equalize {
        /// Probability.
        p: f64,
    },
    /// torchvision's RandomAdjustSharpness: blend with the 3x3 smoothed image
    /// (border pixels unchanged).
    Sharpness {
        /// Sharpness factor (0: smoothed, 1: unchanged, 2: sharpened).
        factor: f64,
        /// Probability.
        p: f64,
    },
    /// torchvision's GaussianBlur: a separable Gaussian of the given odd
    /// kernel size, sigma drawn per sample, reflect padding.
    GaussianBlur {
        /// Kernel size (odd); the kernel's width when `kernel_size_y` is set.
        kernel_size: u32,
        /// The kernel's height (odd) when it differs from its width
        /// (F.gaussian_blur's [kx, ky]; `apply` only).
        kernel_size_y: Option<u32>,
        /// Sigma range.
        sigma: [f64; 2],
        /// Probability.
        p: f64,
    },
    /// torchvision's GaussianNoise (clipped): x + N(0, sigma) per value, with
    /// the noise from the counter-based hash (a centred sum of four uniforms,
    /// variance sigma^2; its tails end at 3.46 sigma).
    GaussianNoise {
        /// Standard deviation on [0, 1] values.
        sigma: f64,
        /// Probability.
        p: f64,
    },
    /// Gamma correction gain * x^gamma, gamma drawn per sample.
    Gamma {
        /// Gamma range (> 0).
        gamma: [f64; 2],
        /// Gain.
        gain: f64,
        /// Probability.
        p: f64,
    },
    /// torchvision's RandomErasing on the output canvas: a box of area fraction
    /// in `scale` and aspect ratio in `ratio` takes `value` (0..255), or
    /// uniform per-value noise in [0, 1] when `value` is None ("random").
    RandomErasing {
        /// Probability.
        p: f64,
        /// Area fraction range.
        scale: [f64; 2],
        /// Aspect ratio range.
        ratio: [f64; 2],
        /// Fill value 0..255, or None for random noise.
        value: Option<[f64; 3]>,
    },
    /// Cutout (DeVries & Taylor 2017): `n_holes` squares of side `length`
    /// pixels on the output canvas, centres uniform over the whole canvas
    /// (holes are clipped at the border, as the paper's code does), filled
    /// with `value` (0..255 integers per channel).
    Cutout {
        /// Holes per sample (0..16; 0: no change).
        n_holes: u32,
        /// Side of each square, pixels (0: no change).
        length: u32,
        /// Fill, 0..255 integers per channel.
        value: [f64; 3],
        /// Probability of applying.
        p: f64,
    },
    /// Colorful Cutout: cutout whose squares are divided into `grid` x `grid`
    /// sub-patches, each filled with its own colour, uniform in 0..255 per
    /// channel from the counter-based hash of the sample's key. `grid`,
    /// `n_holes` and `length` are the difficulty a curriculum raises.
    ColorfulCutout {
        /// Holes per sample (0..16; 0: no change).
        n_holes: u32,
        /// Side of each square, pixels (0: no change).
        length: u32,
        /// Sub-patches per side of a square (1..64).
        grid: u32,
        /// Probability of applying.
        p: f64,
    },
    /// Self-supervised label augmentation (Lee et al. 2020): rotate by
    /// k x 90 degrees counter-clockwise (numpy's rot90, an exact pixel
    /// permutation), k uniform in 0..3 per sample, or k = the view index with
    /// `all_views` (pipelines with `views = 4`). Labels become the joint
    /// index `label * 4 + k` of `num_classes * 4` classes. On a non-square
    /// canvas an odd k swaps its sides (the final resize then brings it to
    /// the output size).
    RotationLabel {
        /// k = view index (views = 4) instead of a draw.
        all_views: bool,
    },
    /// torchvision's RandomPerspective.
    Perspective {
        /// Distortion scale in [0, 1].
        distortion: f64,
        /// Probability.
        p: f64,
        /// Sampling.
        interpolation: Interpolation,
        /// Fill colour, 0..255.
        fill: [f64; 3],
    },
    /// An auto-augment policy: every sample draws its own ops and magnitudes.
    Policy {
        /// Which policy.
        kind: PolicyKind,
        /// Sampling of the geometric ops.
        interpolation: Interpolation,
        /// Fill colour of the geometric ops, 0..255.
        fill: [f64; 3],
    },
    /// torchvision's AugMix: `width` chains of 1-3 (or `depth`) ops from the
    /// AugMix op space at a magnitude bin below `severity`, mixed with
    /// Dirichlet(alpha) weights, then mixed with the image as it was before
    /// the op with a Beta(alpha, alpha) weight. Last op (only `normalize` may
    /// follow).
    AugMix {
        /// Magnitude bins drawn from: 0..severity of 10 (1..10).
        severity: u32,
        /// Chains (1..8).
        width: u32,
        /// Ops per chain (1..3), or 0 for a random 1..3 per chain.
        depth: u32,
        /// Dirichlet and Beta parameter (> 0).
        alpha: f64,
        /// The 13-op space (true) or the 9 geometric and histogram ops.
        all_ops: bool,
        /// Sampling of the geometric ops.
        interpolation: Interpolation,
        /// Fill colour of the geometric ops, 0..255.
        fill: [f64; 3],
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
            Op::Crop { .. } => "crop",
            Op::Resize { .. } => "resize",
            Op::CenterCrop { .. } => "center_crop",
            Op::RandomCrop { .. } => "random_crop",
            Op::HorizontalFlip { .. } => "horizontal_flip",
            Op::VerticalFlip { .. } => "vertical_flip",
            Op::Affine { .. } => "affine",
            Op::ColorJitter { .. } => "color_jitter",
            Op::Grayscale { .. } => "grayscale",
            Op::PermuteChannels { .. } => "permute_channels",
            Op::RandomField { .. } => "random_field",
            Op::Elastic { .. } => "elastic",
            Op::Invert { .. } => "invert",
            Op::Solarize { .. } => "solarize",
            Op::Posterize { .. } => "posterize",
            Op::Autocontrast { .. } => "autocontrast",
            Op::Equalize { .. } => "equalize",
            Op::Sharpness { .. } => "sharpness",
            Op::GaussianBlur { .. } => "gaussian_blur",
            Op::GaussianNoise { .. } => "gaussian_noise",
            Op::Gamma { .. } => "gamma",
            Op::RandomErasing { .. } => "random_erasing",
            Op::Cutout { .. } => "cutout",
            Op::ColorfulCutout { .. } => "colorful_cutout",
            Op::RotationLabel { .. } => "rotation_label",
            Op::Perspective { .. } => "perspective",
            Op::Policy { kind, .. } => kind.name(),
            Op::AugMix { .. } => "augmix",
            Op::Normalize { .. } => "normalize",
        }
    }

    /// Whether the op changes geometry (it then folds into the sample's inverse map).
    pub fn is_geometric(&self) -> bool {
        matches!(
            self,
            Op::RandomResizedCrop { .. }
                | Op::Crop { .. }
                | Op::Resize { .. }
                | Op::CenterCrop { .. }
                | Op::RandomCrop { .. }
                | Op::HorizontalFlip { .. }
                | Op::VerticalFlip { .. }
                | Op::Affine { .. }
                | Op::RandomField { .. }
                | Op::Elastic { .. }
                | Op::Perspective { .. }
                | Op::Policy { .. }
                | Op::AugMix { .. }
                | Op::RotationLabel { .. }
        )
    }

    /// Whether the op is a random-field op (at most one per pipeline, the last geometric op).
    pub fn is_field(&self) -> bool {
        matches!(self, Op::RandomField { .. } | Op::Elastic { .. })
    }

    /// Whether the op may show pixels outside its input (a fill), needing a clip stage.
    pub fn may_fill(&self) -> bool {
        matches!(
            self,
            Op::Affine { .. }
                | Op::CenterCrop { .. }
                | Op::RandomCrop { .. }
                | Op::RandomField { .. }
                | Op::Elastic { .. }
                | Op::Perspective { .. }
                | Op::Policy { .. }
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
            Op::Grayscale { .. }
            | Op::PermuteChannels { .. }
            | Op::Invert { .. }
            | Op::Solarize { .. }
            | Op::Posterize { .. }
            | Op::Autocontrast { .. }
            | Op::Equalize { .. }
            | Op::Sharpness { .. }
            | Op::GaussianNoise { .. }
            | Op::Gamma { .. }
            | Op::RandomErasing { .. } => 1,
            Op::GaussianBlur { .. } => 2,
            // One step per hole.
            Op::Cutout { n_holes, .. } | Op::ColorfulCutout { n_holes, .. } => *n_holes as usize,
            Op::Policy { kind, .. } => kind.max_ops(),
            Op::AugMix { depth, .. } => augmix_depth(*depth) as usize,
            Op::RandomField { amp, .. } => [amp.brightness, amp.contrast, amp.saturation, amp.hue]
                .iter()
                .filter(|a| **a > 0.0)
                .count(),
            _ => 0,
        }
    }

    /// How many image statistics (reductions) this op can need.
    pub fn stat_slots(&self) -> usize {
        match self {
            Op::ColorJitter {
                contrast: Some(_), ..
            } => 1,
            Op::RandomField { amp, .. } if amp.contrast > 0.0 => 1,
            Op::Autocontrast { .. } | Op::Equalize { .. } | Op::Sharpness { .. } => 1,
            // Horizontal, then vertical: each reads the neighbours of its input.
            Op::GaussianBlur { .. } => 2,
            Op::Policy { kind, .. } => kind.max_ops(),
            Op::AugMix { depth, .. } => augmix_depth(*depth) as usize,
            _ => 0,
        }
    }
}

/// The most ops an AugMix chain can draw (depth 0: a random 1..3).
pub fn augmix_depth(depth: u32) -> u32 {
    if depth == 0 {
        3
    } else {
        depth
    }
}

/// The auto-augment policies (torchvision v2's, op chosen per sample).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// RandAugment: `num_ops` ops drawn uniformly (with replacement) from 14,
    /// each at magnitude bin `magnitude` of `num_bins`.
    RandAugment {
        /// Ops per sample, 1..14.
        num_ops: u32,
        /// Magnitude bin, 0..num_bins-1.
        magnitude: u32,
        /// Magnitude bins, >= 2.
        num_bins: u32,
        /// The ops drawn from (bit i: `policy::RAND_AUGMENT_OPS[i]`; all 14 by default).
        ops: u16,
    },
    /// TrivialAugmentWide: one op, with a uniformly drawn magnitude bin.
    TrivialAugmentWide {
        /// Magnitude bins, >= 2.
        num_bins: u32,
        /// The ops drawn from (bit i: `policy::RAND_AUGMENT_OPS[i]`).
        ops: u16,
    },
    /// AutoAugment's ImageNet policy: one of 25 sub-policies of two ops.
    AutoAugmentImagenet,
}

impl PolicyKind {
    /// The op name in pipeline files.
    pub fn name(&self) -> &'static str {
        match self {
            PolicyKind::RandAugment { .. } => "rand_augment",
            PolicyKind::TrivialAugmentWide { .. } => "trivial_augment_wide",
            PolicyKind::AutoAugmentImagenet => "auto_augment",
        }
    }
    /// The most ops a sample can draw.
    pub fn max_ops(&self) -> usize {
        match self {
            PolicyKind::RandAugment { num_ops, .. } => *num_ops as usize,
            PolicyKind::TrivialAugmentWide { .. } => 1,
            PolicyKind::AutoAugmentImagenet => 2,
        }
    }
}

/// The ops the policies choose from (torchvision's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PolicyOp {
    /// No change.
    Identity,
    /// Shear along x by atan(m) about the top-left corner.
    ShearX,
    /// Shear along y.
    ShearY,
    /// Translate along x by int(m) pixels.
    TranslateX,
    /// Translate along y.
    TranslateY,
    /// Rotate counter-clockwise by m degrees about the centre.
    Rotate,
    /// Brightness factor 1 + m.
    Brightness,
    /// Saturation factor 1 + m.
    Color,
    /// Contrast factor 1 + m.
    Contrast,
    /// Sharpness factor 1 + m.
    Sharpness,
    /// Keep int(m) bits.
    Posterize,
    /// Invert values >= 255 m.
    Solarize,
    /// Stretch each channel to [0, 1].
    AutoContrast,
    /// Histogram equalisation.
    Equalize,
    /// 1 - x.
    Invert,
}

/// One op a sample drew from a policy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyStep {
    /// The op.
    pub op: PolicyOp,
    /// Its signed magnitude (0 for ops without one).
    pub magnitude: f64,
}

/// The amplitudes (standard deviations) of `random_field`'s fields; 0 turns a field off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct FieldAmps {
    /// Horizontal displacement, pixels.
    pub dx: f64,
    /// Vertical displacement, pixels.
    pub dy: f64,
    /// Rotation about the canvas centre, degrees.
    pub rotation: f64,
    /// Natural log of the scale about the canvas centre.
    pub log_scale: f64,
    /// Brightness factor offset (factor 1 + F).
    pub brightness: f64,
    /// Contrast factor offset.
    pub contrast: f64,
    /// Saturation factor offset.
    pub saturation: f64,
    /// Hue shift, turns.
    pub hue: f64,
}

impl FieldAmps {
    /// Each amplitude's key in pipeline files and `apply` (default 0, the
    /// field off), with its largest value, in kernel order (see `by_kind`).
    pub const KEYS: [Key; 8] = {
        const fn amp(name: &'static str, hi: f64) -> Key {
            Key {
                name,
                shape: "number (field std)",
                default: KeyDefault::Num(0.0),
                lo: 0.0,
                hi,
                gt: false,
                min: 0.0,
            }
        }
        [
            amp("dx", 1e4),
            amp("dy", 1e4),
            amp("rotation", 360.0),
            amp("log_scale", 5.0),
            amp("brightness", 10.0),
            amp("contrast", 10.0),
            amp("saturation", 10.0),
            amp("hue", 0.5),
        ]
    };

    /// Reads every amplitude with `get(key)` (absent keys give the key's default, 0).
    pub fn read<E>(mut get: impl FnMut(&Key) -> Result<f64, E>) -> Result<Self, E> {
        let mut a = [0.0; 8];
        for (v, key) in a.iter_mut().zip(Self::KEYS.iter()) {
            *v = get(key)?;
        }
        let [dx, dy, rotation, log_scale, brightness, contrast, saturation, hue] = a;
        Ok(Self {
            dx,
            dy,
            rotation,
            log_scale,
            brightness,
            contrast,
            saturation,
            hue,
        })
    }

    /// The amplitudes in kernel order: dx, dy, rotation, log-scale, brightness,
    /// contrast, saturation, hue (field kinds 0..8).
    pub fn by_kind(&self) -> [f64; 8] {
        [
            self.dx,
            self.dy,
            self.rotation,
            self.log_scale,
            self.brightness,
            self.contrast,
            self.saturation,
            self.hue,
        ]
    }
}

/// The displacement std (x, y) in pixels that torchvision's ElasticTransform
/// gives on a `w` x `h` image: uniform(-1, 1) noise (std 1/sqrt(3)) blurred by
/// its discrete Gaussian kernel (size int(8 sigma + 1), made odd), scaled by
/// alpha / size[0] (x) and alpha / size[1] (y) in grid units of w / 2 and h / 2
/// pixels. Border effects of its reflect padding are ignored.
pub fn elastic_amplitudes(alpha: [f64; 2], sigma: f64, w: u32, h: u32) -> [f64; 2] {
    let mut k = (8.0 * sigma + 1.0) as i64;
    if k % 2 == 0 {
        k += 1;
    }
    let half = (k - 1) as f64 / 2.0;
    let g: Vec<f64> = (0..k)
        .map(|i| (-0.5 * ((i as f64 - half) / sigma).powi(2)).exp())
        .collect();
    let sum: f64 = g.iter().sum();
    let sum_sq: f64 = g.iter().map(|x| (x / sum) * (x / sum)).sum();
    // 2-D kernel: sum of squares is sum_sq^2, so the blurred std is sum_sq / sqrt(3).
    let std = sum_sq / 3f64.sqrt();
    let (wf, hf) = (w as f64, h as f64);
    [
        std * alpha[0] / hf * wf / 2.0,
        std * alpha[1] / wf * hf / 2.0,
    ]
}

/// The colour adjustments color_jitter draws, named as in the parameter record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
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
    /// The box of `crop` (given, not drawn).
    Crop {
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
    /// The channel order: output channel c is input channel `order[c]`.
    PermuteChannels {
        /// Applied?
        applied: bool,
        /// A permutation of 0, 1, 2.
        order: [u32; 3],
    },
    /// The field's length scale and the seed of its noise (`apply --op
    /// random_field --set seed=...` renders the same field).
    RandomField {
        /// Applied?
        applied: bool,
        /// Length scale, pixels.
        l: f64,
        /// Noise seed.
        seed: u64,
    },
    /// The seed of the displacement noise.
    Elastic {
        /// Applied?
        applied: bool,
        /// Noise seed.
        seed: u64,
    },
    /// Applied or not.
    Invert {
        /// Applied?
        applied: bool,
    },
    /// Applied or not.
    Solarize {
        /// Applied?
        applied: bool,
    },
    /// Applied or not.
    Posterize {
        /// Applied?
        applied: bool,
    },
    /// Applied or not.
    Autocontrast {
        /// Applied?
        applied: bool,
    },
    /// Applied or not.
    Equalize {
        /// Applied?
        applied: bool,
    },
    /// Applied or not.
    Sharpness {
        /// Applied?
        applied: bool,
    },
    /// The drawn sigma.
    GaussianBlur {
        /// Applied?
        applied: bool,
        /// Sigma (along x when `sigma_y` is set).
        sigma: f64,
        /// Sigma along y when it differs (F.gaussian_blur's [sx, sy]; `apply` only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sigma_y: Option<f64>,
    },
    /// The noise seed.
    GaussianNoise {
        /// Applied?
        applied: bool,
        /// Noise seed.
        seed: u64,
    },
    /// The drawn gamma.
    Gamma {
        /// Applied?
        applied: bool,
        /// Gamma.
        gamma: f64,
    },
    /// The erased box on the output canvas (and the seed of random values).
    RandomErasing {
        /// Applied?
        applied: bool,
        /// Top row.
        top: i64,
        /// Left column.
        left: i64,
        /// Rows.
        height: i64,
        /// Columns.
        width: i64,
        /// Seed of random values.
        seed: u64,
    },
    /// Cutout's holes: square `length`, centres on the output canvas.
    Cutout {
        /// Applied?
        applied: bool,
        /// Side of the squares, pixels.
        length: u32,
        /// Each hole's centre (x, y): the square covers columns
        /// x - length / 2 .. x - length / 2 + length (integer division), clipped.
        centers: Vec<[i64; 2]>,
    },
    /// Colorful Cutout's holes and the key of their colours.
    ColorfulCutout {
        /// Applied?
        applied: bool,
        /// Side of the squares, pixels.
        length: u32,
        /// Sub-patches per side.
        grid: u32,
        /// Each hole's centre (x, y), as for cutout.
        centers: Vec<[i64; 2]>,
        /// Seed of the sub-patch colours.
        seed: u64,
    },
    /// The rotation: k x 90 degrees counter-clockwise.
    RotationLabel {
        /// 0..3 (the joint label is label * 4 + k).
        k: u32,
    },
    /// Where the corners go: top-left, top-right, bottom-right, bottom-left.
    Perspective {
        /// Applied?
        applied: bool,
        /// The points' new positions (x, y).
        endpoints: [[i64; 2]; 4],
        /// The points that move to `endpoints` (torchvision's `startpoints`);
        /// none: the canvas corners (0, 0), (W-1, 0), (W-1, H-1), (0, H-1),
        /// what RandomPerspective draws from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        startpoints: Option<[[i64; 2]; 4]>,
    },
    /// The ops a sample drew from a policy, in order.
    Policy {
        /// The ops and magnitudes.
        steps: Vec<PolicyStep>,
    },
    /// AugMix's weights and chains.
    #[serde(rename = "augmix")]
    AugMix {
        /// Weight of the image before the op (Beta(alpha, alpha)).
        original: f64,
        /// Weight of each chain (Dirichlet(alpha) times 1 - original).
        weights: Vec<f64>,
        /// The ops of each chain, in order.
        chains: Vec<Vec<PolicyStep>>,
    },
    /// Normalisation (no random parameters).
    Normalize {},
}
