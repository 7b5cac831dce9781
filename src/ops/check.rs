//! Every op's value limits, checked on the typed op: the one set of rules for
//! ops read from a pipeline file, given to `apply`, or built in code
//! (`Pipeline::validate`, before any draw). The limits are the keys' (src/ops/keys.rs).

use super::keys::{color, common, field, geometry as g, policy, At, Key};
use super::{FieldAmps, Op, PolicyKind, ResizeTo, Size};
use crate::error::Result;

/// The longest output side colorful_cutout works on (its kernel step packs
/// a hole's corner, offset by 32768, in 16 bits a coordinate).
pub(crate) const MAX_COLORFUL_SIDE: u32 = 32767;

fn p(at: &At, x: f64) -> Result<()> {
    common::P.check(at, x).map(|_| ())
}

fn fill(at: &At, f: &[f64; 3]) -> Result<()> {
    common::FILL.check_each(at, f)
}

fn size(at: &At, s: Size) -> Result<()> {
    common::SIZE.check_size(at, s).map(|_| ())
}

fn range(at: &At, k: &Key, r: &[f64; 2]) -> Result<()> {
    k.check_range(at, *r).map(|_| ())
}

impl Op {
    /// Checks every parameter against its key's limits; `index` is the op's
    /// position in the pipeline (named in the error with the op and the key).
    pub fn check(&self, index: usize) -> Result<()> {
        let at = &At {
            index,
            op: self.name(),
        };
        match self {
            Op::RandomResizedCrop {
                size: s,
                scale,
                ratio,
                ..
            } => {
                if let Some(s) = s {
                    size(at, *s)?;
                }
                range(at, &g::RRC_SCALE, scale)?;
                if scale[1] <= 0.0 {
                    return Err(at.err("scale", "max must be > 0"));
                }
                range(at, &g::RRC_RATIO, ratio)?;
            }
            Op::Crop {
                top,
                left,
                height,
                width,
                size: s,
                ..
            } => {
                g::TOP.check(at, *top as f64)?;
                g::LEFT.check(at, *left as f64)?;
                g::HEIGHT.check(at, *height as f64)?;
                g::WIDTH.check(at, *width as f64)?;
                if let Some(s) = s {
                    size(at, *s)?;
                }
            }
            Op::Resize {
                size: to, max_size, ..
            } => {
                match to {
                    ResizeTo::Shorter(s) => size(at, Size::square(*s))?,
                    ResizeTo::Exact(s) => size(at, *s)?,
                }
                if let Some(m) = max_size {
                    g::MAX_SIZE.check(at, *m as f64)?;
                    match to {
                        ResizeTo::Shorter(s) if m <= s => {
                            return Err(at.err(
                                "max_size",
                                format!("must be greater than size {s}, got {m}"),
                            ))
                        }
                        ResizeTo::Exact(_) => {
                            return Err(
                                at.err("max_size", "only allowed when size is a single integer")
                            )
                        }
                        _ => {}
                    }
                }
            }
            Op::CenterCrop { size: s } => size(at, *s)?,
            Op::RandomCrop {
                size: s,
                padding,
                fill: f,
                ..
            } => {
                size(at, *s)?;
                if padding.iter().any(|x| *x as f64 > g::PADDING.hi) {
                    return Err(at.err("padding", "values must be integers in [0, 65535]"));
                }
                fill(at, f)?;
            }
            Op::HorizontalFlip { p: x }
            | Op::VerticalFlip { p: x }
            | Op::PermuteChannels { p: x }
            | Op::Invert { p: x }
            | Op::Autocontrast { p: x }
            | Op::Equalize { p: x } => p(at, *x)?,
            Op::Grayscale {
                p: x,
                num_output_channels: c,
            } => {
                p(at, *x)?;
                if *c != 1 && *c != 3 {
                    return Err(at.err(
                        "num_output_channels",
                        format!("must be 1 or 3 (as torchvision's Grayscale), got {c}"),
                    ));
                }
            }
            Op::Affine {
                degrees,
                translate,
                scale,
                shear,
                fill: f,
                center,
                p: x,
                ..
            } => {
                range(at, &g::DEGREES, degrees)?;
                if let Some(t) = translate {
                    if !t
                        .iter()
                        .all(|v| (g::TRANSLATE.lo..=g::TRANSLATE.hi).contains(v))
                    {
                        return Err(at.err(
                            "translate",
                            "expected [fx, fy], fractions of width and height in [0, 1]",
                        ));
                    }
                }
                if let Some(s) = scale {
                    range(at, &g::AFFINE_SCALE, s)?;
                }
                if let Some(s) = shear {
                    range(at, &g::SHEAR, &[s[0], s[1]])?;
                    range(at, &g::SHEAR, &[s[2], s[3]])?;
                }
                fill(at, f)?;
                if let Some(c) = center {
                    g::CENTER.check_each(at, c)?;
                }
                p(at, *x)?;
            }
            Op::ColorJitter {
                brightness,
                contrast,
                saturation,
                hue,
                p: x,
            } => {
                for (k, r) in [
                    (&color::BRIGHTNESS, brightness),
                    (&color::CONTRAST, contrast),
                    (&color::SATURATION, saturation),
                    (&color::HUE, hue),
                ] {
                    if let Some(r) = r {
                        range(at, k, r)?;
                    }
                }
                p(at, *x)?;
            }
            Op::RandomField {
                l,
                amp,
                fill: f,
                p: x,
            } => {
                range(at, &field::L, l)?;
                for (k, a) in FieldAmps::KEYS.iter().zip(amp.by_kind()) {
                    k.check(at, a)?;
                }
                fill(at, f)?;
                p(at, *x)?;
            }
            Op::Elastic {
                alpha,
                sigma,
                fill: f,
                p: x,
            } => {
                range(
                    at,
                    &field::ALPHA,
                    &[alpha[0].min(alpha[1]), alpha[0].max(alpha[1])],
                )?;
                if alpha.iter().any(|a| a.is_nan()) {
                    return Err(at.err("alpha", "must be a number"));
                }
                field::SIGMA.check(at, *sigma)?;
                fill(at, f)?;
                p(at, *x)?;
            }
            Op::Solarize { threshold, p: x } => {
                color::THRESHOLD.check(at, *threshold)?;
                p(at, *x)?;
            }
            Op::Posterize { bits, p: x } => {
                color::BITS.check(at, *bits as f64)?;
                p(at, *x)?;
            }
            Op::Sharpness { factor, p: x } => {
                color::SHARPNESS_FACTOR.check(at, *factor)?;
                p(at, *x)?;
            }
            Op::GaussianBlur {
                kernel_size,
                kernel_size_y,
                sigma,
                p: x,
            } => {
                for k in std::iter::once(kernel_size).chain(kernel_size_y) {
                    color::KERNEL_SIZE.check(at, *k as f64)?;
                    if k % 2 == 0 {
                        return Err(at.err("kernel_size", format!("must be odd, got {k}")));
                    }
                }
                range(at, &color::BLUR_SIGMA, sigma)?;
                p(at, *x)?;
            }
            Op::GaussianNoise { sigma, p: x } => {
                color::NOISE_SIGMA.check(at, *sigma)?;
                p(at, *x)?;
            }
            Op::Gamma { gamma, gain, p: x } => {
                range(at, &color::GAMMA, gamma)?;
                color::GAIN.check(at, *gain)?;
                p(at, *x)?;
            }
            Op::RandomErasing {
                p: x,
                scale,
                ratio,
                value,
            } => {
                p(at, *x)?;
                range(at, &color::ERASE_SCALE, scale)?;
                range(at, &color::ERASE_RATIO, ratio)?;
                if let Some(v) = value {
                    color::ERASE_VALUE.check_each(at, v)?;
                }
            }
            Op::Cutout {
                n_holes,
                length,
                value,
                p: x,
            } => {
                color::N_HOLES.check_int(at, *n_holes as f64)?;
                color::CUTOUT_LENGTH.check_int(at, *length as f64)?;
                color::CUTOUT_VALUE.check_each(at, value)?;
                if let Some(v) = value.iter().find(|v| v.fract() != 0.0) {
                    return Err(at.err(
                        color::CUTOUT_VALUE.name,
                        format!("must be integers in [0, 255], got {v}"),
                    ));
                }
                p(at, *x)?;
            }
            Op::ColorfulCutout {
                n_holes,
                length,
                grid,
                p: x,
            } => {
                color::N_HOLES.check_int(at, *n_holes as f64)?;
                color::CUTOUT_LENGTH.check_int(at, *length as f64)?;
                color::GRID.check_int(at, *grid as f64)?;
                p(at, *x)?;
            }
            Op::RotationLabel { .. } => {}
            Op::Perspective {
                distortion,
                p: x,
                fill: f,
                ..
            } => {
                g::DISTORTION.check(at, *distortion)?;
                p(at, *x)?;
                fill(at, f)?;
            }
            Op::Policy { kind, fill: f, .. } => {
                match kind {
                    PolicyKind::RandAugment {
                        num_ops,
                        magnitude,
                        num_bins,
                        ops,
                    } => {
                        policy::NUM_BINS.check(at, *num_bins as f64)?;
                        policy::NUM_OPS.check(at, *num_ops as f64)?;
                        Key {
                            hi: *num_bins as f64 - 1.0,
                            ..policy::MAGNITUDE
                        }
                        .check(at, *magnitude as f64)?;
                        policy_ops(at, *ops)?;
                    }
                    PolicyKind::TrivialAugmentWide { num_bins, ops } => {
                        policy::NUM_BINS.check(at, *num_bins as f64)?;
                        policy_ops(at, *ops)?;
                    }
                    PolicyKind::AutoAugmentImagenet => {}
                }
                fill(at, f)?;
            }
            Op::AugMix {
                severity,
                width,
                depth,
                alpha,
                fill: f,
                ..
            } => {
                policy::ALPHA.check(at, *alpha)?;
                policy::SEVERITY.check(at, *severity as f64)?;
                policy::WIDTH.check(at, *width as f64)?;
                if *depth != 0 {
                    policy::DEPTH.check(at, *depth as f64).map_err(|_| {
                        at.err(
                            "depth",
                            "expected -1 (a random 1..3 per chain) or 1, 2 or 3",
                        )
                    })?;
                }
                fill(at, f)?;
            }
            Op::Normalize { mean, std } => {
                color::MEAN.check_each(at, mean)?;
                color::STD.check_each(at, std)?;
            }
        }
        Ok(())
    }

    /// Checks the op against the pipeline's output size (rules that need it).
    pub(crate) fn check_with_size(&self, index: usize, out: Size) -> Result<()> {
        let at = &At {
            index,
            op: self.name(),
        };
        if let Op::ColorfulCutout { .. } = self {
            // The kernels carry a hole's corner in 16 bits a coordinate.
            if out.width.max(out.height) > MAX_COLORFUL_SIDE {
                return Err(at.err(
                    "length",
                    format!(
                        "colorful_cutout needs an output of at most {MAX_COLORFUL_SIDE} pixels a side, got {}x{}",
                        out.width, out.height
                    ),
                ));
            }
        }
        let longest = out.width.max(out.height) as f64;
        let cap = field::MAX_L_PER_SIDE * longest;
        let (key, l) = match self {
            Op::RandomField { l, .. } => (field::L.name, l[1]),
            Op::Elastic { sigma, .. } => (field::SIGMA.name, *sigma),
            _ => return Ok(()),
        };
        if l > cap {
            return Err(at.err(
                key,
                format!(
                    "must be at most {cap} pixels ({} times the longer side of the {}x{} output; a longer field is constant: use affine), got {l}",
                    field::MAX_L_PER_SIDE,
                    out.width,
                    out.height
                ),
            ));
        }
        Ok(())
    }
}

fn policy_ops(at: &At, ops: u16) -> Result<()> {
    if ops == 0 || ops & !super::policy::ALL_OPS != 0 {
        return Err(at.err(
            policy::OPS.name,
            format!(
                "must name at least one of the {} ops (bits 0..{}), got the bit set {ops:#x}",
                super::policy::RAND_AUGMENT_OPS.len(),
                super::policy::RAND_AUGMENT_OPS.len() - 1
            ),
        ));
    }
    Ok(())
}
