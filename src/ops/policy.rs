//! The policy family: the auto-augment policies, as torchvision v2 defines
//! them (the op spaces, the magnitude of each bin, the drawing of a sample's
//! ops), and AugMix. Per op, in this file: its random draw (`draw`) and its
//! lowering to the per-sample program (`lower`: each drawn step becomes a
//! map stage or a colour step). Its name, keys and validation: `OP_DEFS`
//! (src/ops/parse.rs), `keys::policy` (src/ops/keys.rs), `Op::check`
//! (src/ops/check.rs). AugMix's chains run in src/engine.rs.

use super::lower::{barrier, op_err, Lowering, Stage};
use super::{Drawn, Interpolation, Op, PolicyKind, PolicyOp, PolicyStep};
use crate::codes::code;
use crate::error::Result;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// RandAugment's and TrivialAugmentWide's 14 ops, in torchvision's order.
pub const RAND_AUGMENT_OPS: [PolicyOp; 14] = [
    PolicyOp::Identity,
    PolicyOp::ShearX,
    PolicyOp::ShearY,
    PolicyOp::TranslateX,
    PolicyOp::TranslateY,
    PolicyOp::Rotate,
    PolicyOp::Brightness,
    PolicyOp::Color,
    PolicyOp::Contrast,
    PolicyOp::Sharpness,
    PolicyOp::Posterize,
    PolicyOp::Solarize,
    PolicyOp::AutoContrast,
    PolicyOp::Equalize,
];

/// torchvision's AutoAugmentPolicy.IMAGENET: 25 sub-policies of two
/// (op, probability, magnitude bin of 10).
#[rustfmt::skip]
pub const IMAGENET_POLICY: [[(PolicyOp, f64, Option<u32>); 2]; 25] = {
    use PolicyOp::*;
    [
        [(Posterize, 0.4, Some(8)), (Rotate, 0.6, Some(9))],
        [(Solarize, 0.6, Some(5)), (AutoContrast, 0.6, None)],
        [(Equalize, 0.8, None), (Equalize, 0.6, None)],
        [(Posterize, 0.6, Some(7)), (Posterize, 0.6, Some(6))],
        [(Equalize, 0.4, None), (Solarize, 0.2, Some(4))],
        [(Equalize, 0.4, None), (Rotate, 0.8, Some(8))],
        [(Solarize, 0.6, Some(3)), (Equalize, 0.6, None)],
        [(Posterize, 0.8, Some(5)), (Equalize, 1.0, None)],
        [(Rotate, 0.2, Some(3)), (Solarize, 0.6, Some(8))],
        [(Equalize, 0.6, None), (Posterize, 0.4, Some(6))],
        [(Rotate, 0.8, Some(8)), (Color, 0.4, Some(0))],
        [(Rotate, 0.4, Some(9)), (Equalize, 0.6, None)],
        [(Equalize, 0.0, None), (Equalize, 0.8, None)],
        [(Invert, 0.6, None), (Equalize, 1.0, None)],
        [(Color, 0.6, Some(4)), (Contrast, 1.0, Some(8))],
        [(Rotate, 0.8, Some(8)), (Color, 1.0, Some(2))],
        [(Color, 0.8, Some(8)), (Solarize, 0.8, Some(7))],
        [(Sharpness, 0.4, Some(7)), (Invert, 0.6, None)],
        [(ShearX, 0.6, Some(5)), (Equalize, 1.0, None)],
        [(Color, 0.4, Some(0)), (Equalize, 0.6, None)],
        [(Equalize, 0.4, None), (Solarize, 0.2, Some(4))],
        [(Solarize, 0.6, Some(5)), (AutoContrast, 0.6, None)],
        [(Invert, 0.6, None), (Equalize, 1.0, None)],
        [(Color, 0.6, Some(4)), (Contrast, 1.0, Some(8))],
        [(Equalize, 0.8, None), (Equalize, 0.6, None)],
    ]
};

/// AugMix's op space: the 9 of `_PARTIAL_AUGMENTATION_SPACE`, then the 4
/// colour factors `all_ops` adds (torchvision's order).
pub const AUGMIX_OPS: [PolicyOp; 13] = [
    PolicyOp::ShearX,
    PolicyOp::ShearY,
    PolicyOp::TranslateX,
    PolicyOp::TranslateY,
    PolicyOp::Rotate,
    PolicyOp::Posterize,
    PolicyOp::Solarize,
    PolicyOp::AutoContrast,
    PolicyOp::Equalize,
    PolicyOp::Brightness,
    PolicyOp::Color,
    PolicyOp::Contrast,
    PolicyOp::Sharpness,
];

/// Which magnitude table an op uses.
#[derive(Clone, Copy, PartialEq)]
pub enum Space {
    /// RandAugment's and AutoAugment's ranges.
    Standard,
    /// TrivialAugmentWide's wider ranges.
    Wide,
    /// AugMix's: translations up to a third of the side, posterize 4..0 bits.
    AugMix,
}

/// torch.linspace(lo, hi, n)[i] in f64.
fn linspace(lo: f64, hi: f64, n: u32, i: u32) -> f64 {
    if n <= 1 {
        return lo;
    }
    lo + (hi - lo) * i as f64 / (n - 1) as f64
}

/// The magnitude of bin `bin` of `bins` for `op` on a `w` x `h` image, and
/// whether the op's sign is random. None: the op has no magnitude.
pub fn magnitude(
    op: PolicyOp,
    space: Space,
    bins: u32,
    bin: u32,
    w: u32,
    h: u32,
) -> Option<(f64, bool)> {
    use PolicyOp::*;
    let wide = space == Space::Wide;
    let lin = |hi: f64| linspace(0.0, hi, bins, bin);
    Some(match op {
        Identity | AutoContrast | Equalize | Invert => return None,
        ShearX | ShearY => (lin(if wide { 0.99 } else { 0.3 }), true),
        TranslateX => (
            lin(if wide { 32.0 } else { 150.0 / 331.0 * w as f64 }),
            true,
        ),
        TranslateY => (
            lin(if wide { 32.0 } else { 150.0 / 331.0 * h as f64 }),
            true,
        ),
        Rotate => (lin(if wide { 135.0 } else { 30.0 }), true),
        Brightness | Color | Contrast | Sharpness => (lin(if wide { 0.99 } else { 0.9 }), true),
        Posterize => {
            // (top - arange(bins) / ((bins - 1) / k)).round().int(), top 8 (AugMix 4),
            // k = 4 (6 wide), in f32 as torch.
            let k = if wide { 6.0f32 } else { 4.0 };
            let top = if space == Space::AugMix { 4.0f32 } else { 8.0 };
            let v = top - bin as f32 / ((bins - 1) as f32 / k);
            (v.round_ties_even() as f64, false)
        }
        Solarize => (linspace(1.0, 0.0, bins, bin), false),
    })
}

/// All 14 ops of `RAND_AUGMENT_OPS`.
pub const ALL_OPS: u16 = (1 << 14) - 1;

/// An op drawn uniformly from the set bits of `ops`.
fn pick(rng: &mut impl Rng, ops: u16) -> PolicyOp {
    let set: Vec<PolicyOp> = RAND_AUGMENT_OPS
        .iter()
        .enumerate()
        .filter(|(i, _)| (ops >> i) & 1 == 1)
        .map(|(_, op)| *op)
        .collect();
    if set.is_empty() {
        return PolicyOp::Identity;
    }
    set[rng.random_range(0..set.len())]
}

/// The op-set bit of a torchvision op name, or None.
pub fn op_bit(name: &str) -> Option<u16> {
    RAND_AUGMENT_OPS
        .iter()
        .position(|op| format!("{op:?}") == name)
        .map(|i| 1 << i)
}

/// Draws the ops of one sample from the policy on a `w` x `h` canvas.
pub fn draw_steps(kind: &PolicyKind, rng: &mut impl Rng, w: u32, h: u32) -> Vec<PolicyStep> {
    draw_steps_with(kind, rng, w, h, None)
}

/// A sample's own choice of a policy's ops (MADAug's pattern), given by the
/// caller instead of the policy's uniform pick (see `crate::Overrides`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyChoice {
    /// Exactly these ops, in order (at most the policy's `num_ops`; one for
    /// trivial_augment_wide), each at the magnitude the policy gives it.
    Ops(Vec<PolicyOp>),
    /// Each op drawn with these weights instead of uniformly: one weight per
    /// entry of `RAND_AUGMENT_OPS`, in its order (ops outside the policy's
    /// op set must weigh 0).
    Weights(Vec<f64>),
}

impl PolicyChoice {
    /// Checks the choice against policy op `op` (position `index`): an
    /// error names the sample, the op and the value.
    pub fn check(&self, index: usize, op: &Op, sample: usize) -> Result<()> {
        let err = |key: &str, m: String| {
            Err(op_err(index, op, format!("overrides.{key}[{sample}]: {m}")))
        };
        let (kind, set) = match op {
            Op::Policy {
                kind: kind @ PolicyKind::RandAugment { ops, .. },
                ..
            }
            | Op::Policy {
                kind: kind @ PolicyKind::TrivialAugmentWide { ops, .. },
                ..
            } => (kind, *ops),
            _ => {
                let key = match self {
                    PolicyChoice::Ops(_) => "policy_ops",
                    PolicyChoice::Weights(_) => "policy_weights",
                };
                return err(key, format!("{} draws its own sub-policies or chains: an explicit op choice applies to rand_augment and trivial_augment_wide", op.name()));
            }
        };
        let names: Vec<String> = RAND_AUGMENT_OPS
            .iter()
            .enumerate()
            .filter(|(i, _)| (set >> i) & 1 == 1)
            .map(|(_, o)| format!("{o:?}"))
            .collect();
        match self {
            PolicyChoice::Ops(list) => {
                if list.len() > kind.max_ops() {
                    return err(
                        "policy_ops",
                        format!(
                            "{} ops given but {} draws at most {}",
                            list.len(),
                            op.name(),
                            kind.max_ops()
                        ),
                    );
                }
                for o in list {
                    let bit = RAND_AUGMENT_OPS.iter().position(|x| x == o);
                    if bit.is_none_or(|b| (set >> b) & 1 != 1) {
                        return err(
                            "policy_ops",
                            format!("{o:?} is not in the policy's op set ({})", names.join(", ")),
                        );
                    }
                }
            }
            PolicyChoice::Weights(wt) => {
                if wt.len() != RAND_AUGMENT_OPS.len() {
                    return err(
                        "policy_weights",
                        format!(
                            "{} weights given; give one per op of {:?}",
                            wt.len(),
                            RAND_AUGMENT_OPS
                        ),
                    );
                }
                let mut total = 0.0;
                for (i, x) in wt.iter().enumerate() {
                    if !x.is_finite() || *x < 0.0 {
                        return err(
                            "policy_weights",
                            format!(
                                "weight of {:?} is {x}: expected a finite number >= 0",
                                RAND_AUGMENT_OPS[i]
                            ),
                        );
                    }
                    if (set >> i) & 1 == 0 && *x > 0.0 {
                        return err(
                            "policy_weights",
                            format!(
                                "weight of {:?} is {x} but it is not in the policy's op set ({})",
                                RAND_AUGMENT_OPS[i],
                                names.join(", ")
                            ),
                        );
                    }
                    total += x;
                }
                if total <= 0.0 {
                    return err("policy_weights", "every weight is 0".into());
                }
            }
        }
        Ok(())
    }
}

/// An op of `RAND_AUGMENT_OPS` drawn with `weights` (one uniform draw).
fn pick_weighted(rng: &mut impl Rng, weights: &[f64]) -> PolicyOp {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    let mut last = PolicyOp::Identity;
    for (op, w) in RAND_AUGMENT_OPS.iter().zip(weights) {
        if *w <= 0.0 {
            continue;
        }
        last = *op;
        if u < *w {
            return *op;
        }
        u -= w;
    }
    last
}

/// Draws the ops of one sample from the policy on a `w` x `h` canvas, with
/// the sample's own choice of ops when it has one (checked by
/// `PolicyChoice::check`): the same keys, another mapping.
pub fn draw_steps_with(
    kind: &PolicyKind,
    rng: &mut impl Rng,
    w: u32,
    h: u32,
    choice: Option<&PolicyChoice>,
) -> Vec<PolicyStep> {
    let choose = |rng: &mut _, i: usize, ops: u16| match choice {
        None => pick(rng, ops),
        Some(PolicyChoice::Ops(list)) => list.get(i).copied().unwrap_or(PolicyOp::Identity),
        Some(PolicyChoice::Weights(wt)) => pick_weighted(rng, wt),
    };
    let signed = |rng: &mut dyn rand::RngCore, m: Option<(f64, bool)>| match m {
        None => 0.0,
        Some((v, true)) if rng.random::<f64>() <= 0.5 => -v,
        Some((v, _)) => v,
    };
    match *kind {
        PolicyKind::RandAugment {
            num_ops,
            magnitude: bin,
            num_bins,
            ops,
        } => (0..match choice {
            Some(PolicyChoice::Ops(list)) => list.len() as u32,
            _ => num_ops,
        })
            .map(|i| {
                let op = choose(rng, i as usize, ops);
                let m = magnitude(op, Space::Standard, num_bins, bin, w, h);
                PolicyStep {
                    op,
                    magnitude: signed(rng, m),
                }
            })
            .collect(),
        PolicyKind::TrivialAugmentWide { num_bins, ops } => {
            if matches!(choice, Some(PolicyChoice::Ops(l)) if l.is_empty()) {
                return vec![];
            }
            let op = choose(rng, 0, ops);
            let bin = rng.random_range(0..num_bins);
            let m = magnitude(op, Space::Wide, num_bins, bin, w, h);
            vec![PolicyStep {
                op,
                magnitude: signed(rng, m),
            }]
        }
        PolicyKind::AutoAugmentImagenet => {
            let sub = IMAGENET_POLICY[rng.random_range(0..IMAGENET_POLICY.len())];
            let mut steps = Vec::new();
            for (op, prob, bin) in sub {
                // torchvision: `if not torch.rand(()) <= p: continue`.
                if rng.random::<f64>() > prob {
                    continue;
                }
                let m = bin.and_then(|b| magnitude(op, Space::Standard, 10, b, w, h));
                steps.push(PolicyStep {
                    op,
                    magnitude: signed(rng, m),
                });
            }
            steps
        }
    }
}

/// Gamma(alpha, 1) variates normalised: a Dirichlet(alpha, ..., alpha) draw.
fn dirichlet(rng: &mut impl Rng, alpha: f64, n: usize) -> Vec<f64> {
    use rand_distr::{Distribution, Gamma};
    // alpha > 0 is checked when the pipeline is read.
    let g = Gamma::new(alpha, 1.0).unwrap_or_else(|_| Gamma::new(1.0, 1.0).expect("Gamma(1, 1)"));
    let v: Vec<f64> = (0..n).map(|_| g.sample(rng)).collect();
    let sum: f64 = v.iter().sum();
    if sum > 0.0 {
        v.iter().map(|x| x / sum).collect()
    } else {
        vec![1.0 / n as f64; n]
    }
}

/// Draws AugMix's weights and chains (torchvision's AugMix.forward) for a
/// `w` x `h` canvas: (weight of the original, chain weights, chains).
#[allow(clippy::too_many_arguments)]
pub fn draw_augmix(
    rng: &mut impl Rng,
    severity: u32,
    width: u32,
    depth: u32,
    alpha: f64,
    all_ops: bool,
    w: u32,
    h: u32,
) -> (f64, Vec<f64>, Vec<Vec<PolicyStep>>) {
    let m = dirichlet(rng, alpha, 2);
    let weights: Vec<f64> = dirichlet(rng, alpha, width as usize)
        .into_iter()
        .map(|x| x * m[1])
        .collect();
    let space = if all_ops {
        &AUGMIX_OPS[..]
    } else {
        &AUGMIX_OPS[..9]
    };
    let chains = (0..width)
        .map(|_| {
            let d = if depth > 0 {
                depth
            } else {
                rng.random_range(1..4)
            };
            (0..d)
                .map(|_| {
                    let op = space[rng.random_range(0..space.len())];
                    let bin = rng.random_range(0..severity.max(1));
                    let mag = magnitude(op, Space::AugMix, 10, bin, w, h);
                    let magnitude = match mag {
                        None => 0.0,
                        Some((v, true)) if rng.random::<f64>() <= 0.5 => -v,
                        Some((v, _)) => v,
                    };
                    PolicyStep { op, magnitude }
                })
                .collect()
        })
        .collect();
    (m[0], weights, chains)
}

/// Draws the parameters of one of this family's ops for a canvas of `w` x
/// `h`; `None` for an op of another family.
pub(crate) fn draw(op: &Op, rng: &mut impl Rng, w: u32, h: u32) -> Option<Drawn> {
    Some(match op {
        Op::AugMix {
            severity,
            width,
            depth,
            alpha,
            all_ops,
            ..
        } => {
            let (original, weights, chains) =
                draw_augmix(rng, *severity, *width, *depth, *alpha, *all_ops, w, h);
            Drawn::AugMix {
                original,
                weights,
                chains,
            }
        }
        Op::Policy { kind, .. } => Drawn::Policy {
            steps: draw_steps(kind, rng, w, h),
        },
        _ => return None,
    })
}

/// Lowers one of this family's drawn ops into the sample's program; `false`
/// for an op of another family (or drawn parameters of another op).
pub(crate) fn lower(op: &Op, d: &Drawn, pl: &mut Lowering) -> Result<bool> {
    match (op, d) {
        (
            Op::Policy {
                interpolation,
                fill,
                ..
            },
            Drawn::Policy { steps },
        ) => {
            for st in steps {
                policy_step(
                    pl.index,
                    op,
                    st,
                    *interpolation,
                    *fill,
                    pl.cw,
                    pl.ch,
                    &mut pl.stages,
                    &mut pl.nearest,
                    &mut pl.prog,
                    &mut pl.n_stats,
                )?;
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// One op a sample drew from a policy: geometric ops become map stages (with
/// a clip stage of the policy's fill), the others colour steps.
#[allow(clippy::too_many_arguments)]
fn policy_step(
    index: usize,
    op: &Op,
    st: &PolicyStep,
    interpolation: Interpolation,
    fill: [f64; 3],
    cw: f64,
    ch: f64,
    stages: &mut Vec<Stage>,
    nearest: &mut bool,
    prog: &mut Vec<[f32; 4]>,
    n_stats: &mut u32,
) -> Result<()> {
    use PolicyOp as P;
    let m = st.magnitude;
    if !m.is_finite() {
        return Err(op_err(
            index,
            op,
            format!("magnitude of {:?} is {m}", st.op),
        ));
    }
    let hard = interpolation == Interpolation::Nearest;
    let centre = (cw / 2.0, ch / 2.0);
    let mut affine = |center: (f64, f64), angle: f64, translate: [f64; 2], shear: [f64; 2]| {
        stages.push(Stage {
            map: super::geometry::inverse_affine(center, angle, translate, 1.0, shear),
            clip: Some((cw, ch, fill, hard)),
        });
        *nearest |= hard;
    };
    match st.op {
        P::Identity => {}
        P::ShearX => affine((0.0, 0.0), 0.0, [0.0, 0.0], [m.atan().to_degrees(), 0.0]),
        P::ShearY => affine((0.0, 0.0), 0.0, [0.0, 0.0], [0.0, m.atan().to_degrees()]),
        P::TranslateX => affine(centre, 0.0, [m.trunc(), 0.0], [0.0, 0.0]),
        P::TranslateY => affine(centre, 0.0, [0.0, m.trunc()], [0.0, 0.0]),
        // F.rotate turns counter-clockwise; the affine angle is clockwise.
        P::Rotate => affine(centre, -m, [0.0, 0.0], [0.0, 0.0]),
        P::Brightness => prog.push([code::BRIGHTNESS, (1.0 + m) as f32, 0.0, 0.0]),
        P::Color => prog.push([code::SATURATION, (1.0 + m) as f32, 0.0, 0.0]),
        P::Contrast => prog.push(barrier(code::CONTRAST, (1.0 + m) as f32, 0.0, n_stats)),
        P::Sharpness => prog.push(barrier(code::SHARPNESS, (1.0 + m) as f32, 0.0, n_stats)),
        P::Posterize => prog.push([code::POSTERIZE, m.trunc().clamp(0.0, 8.0) as f32, 0.0, 0.0]),
        P::Solarize => prog.push([code::SOLARIZE, (255.0 * m) as f32, 0.0, 0.0]),
        P::AutoContrast => prog.push(barrier(code::AUTOCONTRAST, 0.0, 0.0, n_stats)),
        P::Equalize => prog.push(barrier(code::EQUALIZE, 0.0, 0.0, n_stats)),
        P::Invert => prog.push([code::INVERT, 0.0, 0.0, 0.0]),
    }
    Ok(())
}

/// This family's ops under a sample's overrides: policies draw their
/// magnitudes per sample, so the op is unchanged and `steer_drawn` maps
/// what it drew; `None` for an op of another family.
pub(crate) fn steer(op: &Op, _st: super::Steer) -> Option<Op> {
    Some(match op {
        Op::Policy { .. } | Op::AugMix { .. } => op.clone(),
        Op::RandomResizedCrop { .. }
        | Op::Crop { .. }
        | Op::Resize { .. }
        | Op::CenterCrop { .. }
        | Op::RandomCrop { .. }
        | Op::HorizontalFlip { .. }
        | Op::VerticalFlip { .. }
        | Op::Affine { .. }
        | Op::ColorJitter { .. }
        | Op::Grayscale { .. }
        | Op::PermuteChannels { .. }
        | Op::RandomField { .. }
        | Op::Elastic { .. }
        | Op::Invert { .. }
        | Op::Solarize { .. }
        | Op::Posterize { .. }
        | Op::Autocontrast { .. }
        | Op::Equalize { .. }
        | Op::Sharpness { .. }
        | Op::GaussianBlur { .. }
        | Op::GaussianNoise { .. }
        | Op::Gamma { .. }
        | Op::RandomErasing { .. }
        | Op::Perspective { .. }
        | Op::Cutout { .. }
        | Op::ColorfulCutout { .. }
        | Op::RotationLabel { .. }
        | Op::Normalize { .. } => return None,
    })
}

/// One drawn policy step under strength `s` and probability scale `ps`:
/// signed magnitudes times `s`, posterize bits toward 8, solarize's
/// threshold toward 256/255 (nothing inverted); the ops without a magnitude
/// (AutoContrast, Equalize, Invert) are kept with probability `s`, and every
/// step with probability `ps` (uniforms drawn after the op's own draws,
/// only when `s` or `ps` is below 1); a dropped step becomes Identity.
fn steer_step(st: PolicyStep, s: f64, ps: f64, rng: &mut impl Rng) -> PolicyStep {
    use super::toward;
    use PolicyOp as P;
    let identity = PolicyStep {
        op: P::Identity,
        magnitude: 0.0,
    };
    let keep = |rng: &mut _, q: f64| q >= 1.0 || rand::Rng::random::<f64>(rng) < q;
    let magnitude = match st.op {
        P::Identity => return st,
        P::AutoContrast | P::Equalize | P::Invert => {
            if !keep(rng, s) {
                return identity;
            }
            st.magnitude
        }
        P::Posterize => toward(8.0, st.magnitude, s),
        P::Solarize => toward(256.0 / 255.0, st.magnitude, s),
        P::ShearX
        | P::ShearY
        | P::TranslateX
        | P::TranslateY
        | P::Rotate
        | P::Brightness
        | P::Color
        | P::Contrast
        | P::Sharpness => st.magnitude * s,
    };
    if !keep(rng, ps) {
        return identity;
    }
    PolicyStep {
        op: st.op,
        magnitude,
    }
}

/// This family's drawn parameters under a sample's overrides (after the
/// op's own draws, from the same generator): policy steps as `steer_step`
/// says; AugMix's chains likewise, its original image's weight toward 1 and
/// the chains' weights times the strength, and with probability
/// 1 - `p_scale` not applied at all (weight 1 on the original).
pub(crate) fn steer_drawn(d: Drawn, st: super::Steer, rng: &mut impl Rng) -> Drawn {
    let (s, ps) = (st.strength, st.p_scale);
    match d {
        Drawn::Policy { steps } => Drawn::Policy {
            steps: steps
                .into_iter()
                .map(|x| steer_step(x, s, ps, rng))
                .collect(),
        },
        Drawn::AugMix {
            original,
            weights,
            chains,
        } => {
            let chains: Vec<Vec<PolicyStep>> = chains
                .into_iter()
                .map(|c| c.into_iter().map(|x| steer_step(x, s, 1.0, rng)).collect())
                .collect();
            let applied = ps >= 1.0 || rng.random::<f64>() < ps;
            let s = if applied { s } else { 0.0 };
            Drawn::AugMix {
                original: super::toward(1.0, original, s),
                weights: weights.into_iter().map(|x| x * s).collect(),
                chains,
            }
        }
        d => d,
    }
}
