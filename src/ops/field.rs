//! The field family: random fields, per-pixel geometry and colour (the
//! random field and elastic ops). Per op, in this file: its random draw
//! (`draw`), its lowering to the per-sample program (`lower`) and the field
//! kinds it can draw (`kinds`). Its name, keys and validation: `OP_DEFS`
//! (src/ops/parse.rs), `keys::field` (src/ops/keys.rs), `Op::check`
//! (src/ops/check.rs). Kernels: shaders/field.wgsl and
//! shaders/common/field.wgsl; CPU twin: src/cpu/field.rs.

use super::lower::{op_err, FieldParams, Lowering, Stage, M3};
use super::{Drawn, Op, Size};
use crate::codes::{code, kind, FIELD_TAPS};
use crate::error::Result;
use crate::key::uniform;
use rand::Rng;

/// Draws the parameters of one of this family's ops for a canvas of `w` x
/// `h`; `None` for an op of another family.
pub(crate) fn draw(op: &Op, rng: &mut impl Rng, _w: u32, _h: u32) -> Option<Drawn> {
    Some(match op {
        Op::RandomField { l, p, .. } => {
            let applied = rng.random::<f64>() < *p;
            let l = uniform(rng, l[0], l[1]);
            Drawn::RandomField {
                applied,
                l,
                seed: rng.random(),
            }
        }
        Op::Elastic { p, .. } => Drawn::Elastic {
            applied: rng.random::<f64>() < *p,
            seed: rng.random(),
        },
        _ => return None,
    })
}

/// Lowers one of this family's drawn ops into the sample's program; `false`
/// for an op of another family (or drawn parameters of another op).
pub(crate) fn lower(op: &Op, d: &Drawn, pl: &mut Lowering) -> Result<bool> {
    match (op, d) {
        (Op::RandomField { amp, fill, .. }, Drawn::RandomField { applied, l, seed })
            if *applied =>
        {
            let a = amp.by_kind();
            let a = [a[0], a[1], a[2].to_radians(), a[3], a[4], a[5], a[6], a[7]];
            field_stage(
                pl.index,
                op,
                *l,
                *seed,
                a,
                *fill,
                pl.out,
                &mut pl.cw,
                &mut pl.ch,
                &mut pl.stages,
                &mut pl.field,
            )?;
            for (j, amp) in a[kind::BRIGHTNESS..].iter().enumerate() {
                if *amp > 0.0 {
                    let c = code::FIELD_BRIGHTNESS + j as f32;
                    let slot = if c == code::FIELD_CONTRAST {
                        pl.n_stats += 1;
                        (pl.n_stats - 1) as f32
                    } else {
                        0.0
                    };
                    pl.prog.push([c, 0.0, slot, 0.0]);
                }
            }
        }
        (
            Op::Elastic {
                alpha, sigma, fill, ..
            },
            Drawn::Elastic { applied, seed },
        ) if *applied => {
            let [ax, ay] = super::elastic_amplitudes(*alpha, *sigma, pl.out.width, pl.out.height);
            let a = [ax, ay, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
            field_stage(
                pl.index,
                op,
                *sigma,
                *seed,
                a,
                *fill,
                pl.out,
                &mut pl.cw,
                &mut pl.ch,
                &mut pl.stages,
                &mut pl.field,
            )?;
        }
        (Op::RandomField { .. }, Drawn::RandomField { .. })
        | (Op::Elastic { .. }, Drawn::Elastic { .. }) => {}
        _ => return Ok(false),
    }
    Ok(true)
}

/// Adds a random-field op: the canvas is brought to the output size (the
/// field lives on the output grid), a clip stage bounds the canvas (fill
/// beyond it), and the field's lattice and amplitudes are set. Kinds with a
/// zero amplitude are off; with all off, the op changes nothing.
#[allow(clippy::too_many_arguments)]
fn field_stage(
    index: usize,
    op: &Op,
    l: f64,
    seed: u64,
    amp: [f64; 8],
    fill: [f64; 3],
    out: Size,
    cw: &mut f64,
    ch: &mut f64,
    stages: &mut Vec<Stage>,
    field: &mut FieldParams,
) -> Result<()> {
    let longest = out.width.max(out.height) as f64;
    let cap = super::keys::field::MAX_L_PER_SIDE * longest;
    if !(l.is_finite() && l >= super::MIN_LENGTH_SCALE && l <= cap) {
        return Err(op_err(index, op, format!(
            "length scale {l} must be in [{}, {}] pixels (100 times the {}x{} output; a longer field is constant: use affine)",
            super::MIN_LENGTH_SCALE,
            cap,
            out.width,
            out.height
        )));
    }
    if let Some(a) = amp.iter().find(|a| !a.is_finite() || **a < 0.0) {
        return Err(op_err(
            index,
            op,
            format!("field amplitudes must be finite and >= 0, got {a}"),
        ));
    }
    let mask = amp
        .iter()
        .enumerate()
        .filter(|(_, a)| **a > 0.0)
        .fold(0u32, |m, (k, _)| m | 1 << k);
    if mask == 0 {
        return Ok(());
    }
    let (w, h) = (out.width as f64, out.height as f64);
    if *cw != w || *ch != h {
        stages.push(Stage {
            map: M3::scale_translate(*cw / w, *ch / h, 0.0, 0.0),
            clip: None,
        });
        (*cw, *ch) = (w, h);
    }
    if mask & kind::GEOMETRIC != 0 {
        stages.push(Stage {
            map: M3::identity(),
            clip: Some((w, h, fill, false)),
        });
    }
    let inv_l = (1.0 / l) as f32;
    // Lattice node k sits at (k - 4) * l. A pixel at t = (x + 0.5) / l + 4 sums
    // nodes floor(t) - 3 ..= floor(t) + 4, so ceil(n / l) + 9 nodes cover an
    // axis of n pixels; one more absorbs rounding.
    let nodes = |n: f64| (n as f32 * inv_l).ceil() as u32 + FIELD_TAPS + 2;
    *field = FieldParams {
        grid: [nodes(w), nodes(h), mask, 0],
        key: [seed as u32, (seed >> 32) as u32, 0, 0],
        geo: [amp[0] as f32, amp[1] as f32, amp[2] as f32, amp[3] as f32],
        color: [amp[4] as f32, amp[5] as f32, amp[6] as f32, amp[7] as f32],
        shape: [inv_l, (w / 2.0) as f32, (h / 2.0) as f32, 0.0],
    };
    Ok(())
}

/// The field kinds (bit k: kind k) the op can draw; 0 for an op of another family.
pub(crate) fn kinds(op: &Op) -> u32 {
    let bits = |a: [f64; 8]| {
        a.iter()
            .enumerate()
            .filter(|(_, x)| **x > 0.0)
            .fold(0u32, |m, (k, _)| m | 1 << k)
    };
    match op {
        Op::RandomField { amp, .. } => bits(amp.by_kind()),
        Op::Elastic { alpha, .. } => bits([alpha[0], alpha[1], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        _ => 0,
    }
}

/// This family's ops under a sample's overrides (see [`super::Steer`]):
/// every field amplitude (random_field) and elastic's alpha times the
/// strength (0: no displacement, factors 1), `p` times `p_scale`, the length
/// scale unchanged; `None` for an op of another family.
pub(crate) fn steer(op: &Op, st: super::Steer) -> Option<Op> {
    let (s, ps) = (st.strength, st.p_scale);
    Some(match op {
        Op::RandomField { l, amp, fill, p } => {
            let a = amp.by_kind().map(|x| x * s);
            Op::RandomField {
                l: *l,
                amp: super::FieldAmps {
                    dx: a[0],
                    dy: a[1],
                    rotation: a[2],
                    log_scale: a[3],
                    brightness: a[4],
                    contrast: a[5],
                    saturation: a[6],
                    hue: a[7],
                },
                fill: *fill,
                p: p * ps,
            }
        }
        Op::Elastic {
            alpha,
            sigma,
            fill,
            p,
        } => Op::Elastic {
            alpha: alpha.map(|x| x * s),
            sigma: *sigma,
            fill: *fill,
            p: p * ps,
        },
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
        | Op::Policy { .. }
        | Op::AugMix { .. }
        | Op::Normalize { .. } => return None,
    })
}
