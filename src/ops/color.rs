//! The colour family: ops that become steps of the sample's colour program
//! (and random erasing's box). Per op, in this file: its random draw
//! (`draw`), the check of explicit parameters (`check_drawn`) and its
//! lowering to the per-sample program (`lower`). Its name, keys and
//! validation: `OP_DEFS` (src/ops/parse.rs), `keys::color`
//! (src/ops/keys.rs), `Op::check` (src/ops/check.rs). Its codes: `code` in
//! src/codes.rs; kernels: shaders/common/color.wgsl; CPU twin: src/cpu/color.rs.

use super::geometry::pyround;
use super::lower::{barrier, key_bits, op_err, Lowering};
use super::{ColorStep, Drawn, Op};
use crate::codes::code;
use crate::error::Result;
use crate::key::{randint, uniform};
use rand::seq::SliceRandom;
use rand::Rng;

/// Draws the parameters of one of this family's ops for a canvas of `w` x
/// `h`; `None` for an op of another family.
pub(crate) fn draw(op: &Op, rng: &mut impl Rng, w: u32, h: u32) -> Option<Drawn> {
    let (wf, hf) = (w as f64, h as f64);
    Some(match op {
        Op::ColorJitter {
            brightness,
            contrast,
            saturation,
            hue,
            p,
        } => {
            let applied = rng.random::<f64>() < *p;
            let mut order = [
                ColorStep::Brightness,
                ColorStep::Contrast,
                ColorStep::Saturation,
                ColorStep::Hue,
            ];
            order.shuffle(rng);
            let f = |rng: &mut _, r: &Option<[f64; 2]>, neutral: f64| match r {
                Some([a, b]) => uniform(rng, *a, *b),
                None => neutral,
            };
            let b = f(rng, brightness, 1.0);
            let c = f(rng, contrast, 1.0);
            let s = f(rng, saturation, 1.0);
            let hh = f(rng, hue, 0.0);
            let present = |step: &ColorStep| match step {
                ColorStep::Brightness => brightness.is_some(),
                ColorStep::Contrast => contrast.is_some(),
                ColorStep::Saturation => saturation.is_some(),
                ColorStep::Hue => hue.is_some(),
            };
            let order: Vec<ColorStep> = if applied {
                order.into_iter().filter(present).collect()
            } else {
                vec![]
            };
            if applied {
                Drawn::ColorJitter {
                    applied,
                    brightness: b,
                    contrast: c,
                    saturation: s,
                    hue: hh,
                    order,
                }
            } else {
                Drawn::ColorJitter {
                    applied,
                    brightness: 1.0,
                    contrast: 1.0,
                    saturation: 1.0,
                    hue: 0.0,
                    order,
                }
            }
        }
        Op::Grayscale { p, .. } => Drawn::Grayscale {
            applied: rng.random::<f64>() < *p,
        },
        Op::PermuteChannels { p } => {
            let applied = rng.random::<f64>() < *p;
            let mut order = [0u32, 1, 2];
            order.shuffle(rng);
            Drawn::PermuteChannels { applied, order }
        }
        Op::Invert { p } => Drawn::Invert {
            applied: rng.random::<f64>() < *p,
        },
        Op::Solarize { p, .. } => Drawn::Solarize {
            applied: rng.random::<f64>() < *p,
        },
        Op::Posterize { p, .. } => Drawn::Posterize {
            applied: rng.random::<f64>() < *p,
        },
        Op::Autocontrast { p } => Drawn::Autocontrast {
            applied: rng.random::<f64>() < *p,
        },
        Op::Equalize { p } => Drawn::Equalize {
            applied: rng.random::<f64>() < *p,
        },
        Op::Sharpness { p, .. } => Drawn::Sharpness {
            applied: rng.random::<f64>() < *p,
        },
        Op::GaussianBlur { sigma, p, .. } => {
            let applied = rng.random::<f64>() < *p;
            Drawn::GaussianBlur {
                applied,
                sigma: uniform(rng, sigma[0], sigma[1]),
                sigma_y: None,
            }
        }
        Op::GaussianNoise { p, .. } => Drawn::GaussianNoise {
            applied: rng.random::<f64>() < *p,
            seed: rng.random(),
        },
        Op::Gamma { gamma, p, .. } => {
            let applied = rng.random::<f64>() < *p;
            Drawn::Gamma {
                applied,
                gamma: uniform(rng, gamma[0], gamma[1]),
            }
        }
        Op::RandomErasing {
            p, scale, ratio, ..
        } => {
            // torchvision's RandomErasing.get_params; `w` x `h` is the output canvas.
            let applied = rng.random::<f64>() < *p;
            let seed: u64 = rng.random();
            let area = wf * hf;
            let log_ratio = [ratio[0].ln(), ratio[1].ln()];
            for _ in 0..10 {
                let erase_area = area * uniform(rng, scale[0], scale[1]);
                let aspect = uniform(rng, log_ratio[0], log_ratio[1]).exp();
                let eh = pyround((erase_area * aspect).sqrt());
                let ew = pyround((erase_area / aspect).sqrt());
                if !(eh < h as i64 && ew < w as i64) {
                    continue;
                }
                let top = randint(rng, 0, h as i64 - eh);
                let left = randint(rng, 0, w as i64 - ew);
                return Some(Drawn::RandomErasing {
                    applied,
                    top,
                    left,
                    height: eh,
                    width: ew,
                    seed,
                });
            }
            // No box fits: torchvision returns the image unchanged.
            Drawn::RandomErasing {
                applied: false,
                top: 0,
                left: 0,
                height: 0,
                width: 0,
                seed,
            }
        }
        Op::Cutout {
            n_holes, length, p, ..
        } => {
            // DeVries & Taylor's Cutout: y = randint(h), x = randint(w) per hole.
            let applied = rng.random::<f64>() < *p;
            Drawn::Cutout {
                applied,
                length: *length,
                centers: hole_centers(rng, *n_holes, w, h),
            }
        }
        Op::ColorfulCutout {
            n_holes,
            length,
            grid,
            p,
        } => {
            let applied = rng.random::<f64>() < *p;
            let seed: u64 = rng.random();
            Drawn::ColorfulCutout {
                applied,
                length: *length,
                grid: *grid,
                centers: hole_centers(rng, *n_holes, w, h),
                seed,
            }
        }
        Op::Normalize { .. } => Drawn::Normalize {},
        _ => return None,
    })
}

/// Cutout's hole centres on a `w` x `h` canvas, as the paper's code draws
/// them: the row `randint(h)`, then the column `randint(w)`; stored (x, y).
fn hole_centers(rng: &mut impl Rng, n: u32, w: u32, h: u32) -> Vec<[i64; 2]> {
    (0..n)
        .map(|_| {
            let y = randint(rng, 0, h as i64 - 1);
            let x = randint(rng, 0, w as i64 - 1);
            [x, y]
        })
        .collect()
}

/// The unclipped square of a hole of side `length` centred at `c`: its
/// top-left corner (x, y). The paper's code takes rows y - L // 2 .. y + L // 2;
/// here the end is start + L, the same for even L (an odd L keeps its side).
pub(crate) fn hole_corner(c: [i64; 2], length: u32) -> [i64; 2] {
    let half = (length / 2) as i64;
    [c[0] - half, c[1] - half]
}

/// The colour key of hole `hole` of a colorful_cutout sample drawn with
/// `seed`: SplitMix64's finaliser of the seed stepped `hole` times, folded
/// to 32 bits. Computed here once; both backends read it from the step.
pub(crate) fn hole_key(seed: u64, hole: u32) -> u32 {
    let mut z = seed.wrapping_add((hole as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    key_bits(z).to_bits()
}

/// Explicit parameters (from `apply` or a saved record): colour factors/// Explicit parameters (from `apply` or a saved record): colour factors
/// must be finite and in range.
pub(crate) fn check_drawn(index: usize, op: &Op, d: &Drawn) -> Result<()> {
    if let Drawn::ColorJitter {
        brightness,
        contrast,
        saturation,
        hue,
        ..
    } = d
    {
        let ok = [*brightness, *contrast, *saturation]
            .iter()
            .all(|f| f.is_finite() && *f >= 0.0)
            && hue.is_finite()
            && hue.abs() <= 0.5;
        if !ok {
            return Err(op_err(index, op, format!(
                "colour factors must be finite and >= 0, hue in [-0.5, 0.5] (brightness {brightness}, contrast {contrast}, saturation {saturation}, hue {hue})"
            )));
        }
    }
    Ok(())
}

/// Lowers one of this family's drawn ops into the sample's program; `false`
/// for an op of another family (or drawn parameters of another op).
pub(crate) fn lower(op: &Op, d: &Drawn, pl: &mut Lowering) -> Result<bool> {
    match (op, d) {
        (
            Op::ColorJitter { .. },
            Drawn::ColorJitter {
                applied,
                brightness,
                contrast,
                saturation,
                hue,
                order,
            },
        ) => {
            if *applied {
                for step in order {
                    pl.prog.push(match step {
                        ColorStep::Brightness => [code::BRIGHTNESS, *brightness as f32, 0.0, 0.0],
                        ColorStep::Contrast => {
                            pl.n_stats += 1;
                            [
                                code::CONTRAST,
                                *contrast as f32,
                                (pl.n_stats - 1) as f32,
                                0.0,
                            ]
                        }
                        ColorStep::Saturation => [code::SATURATION, *saturation as f32, 0.0, 0.0],
                        ColorStep::Hue => [code::HUE, *hue as f32, 0.0, 0.0],
                    });
                }
            }
        }
        (Op::Grayscale { .. }, Drawn::Grayscale { applied }) => {
            if *applied {
                pl.prog.push([code::GRAYSCALE, 0.0, 0.0, 0.0]);
            }
        }
        (Op::PermuteChannels { .. }, Drawn::PermuteChannels { applied, order }) => {
            if *applied {
                let mut seen = [false; 3];
                for o in order {
                    match seen.get_mut(*o as usize) {
                        Some(s) if !*s => *s = true,
                        _ => {
                            return Err(op_err(
                                pl.index,
                                op,
                                format!("order {order:?} is not a permutation of 0, 1, 2"),
                            ))
                        }
                    }
                }
                let packed = order
                    .iter()
                    .enumerate()
                    .fold(0, |m, (c, o)| m | o << (code::PERMUTE_SHIFT * c as u32));
                pl.prog.push([code::PERMUTE, packed as f32, 0.0, 0.0]);
            }
        }
        (Op::Invert { .. }, Drawn::Invert { applied: true }) => {
            pl.prog.push([code::INVERT, 0.0, 0.0, 0.0]);
        }
        (Op::Solarize { threshold, .. }, Drawn::Solarize { applied: true }) => {
            pl.prog.push([code::SOLARIZE, *threshold as f32, 0.0, 0.0]);
        }
        (Op::Posterize { bits, .. }, Drawn::Posterize { applied: true }) => {
            pl.prog.push([code::POSTERIZE, *bits as f32, 0.0, 0.0]);
        }
        (Op::Autocontrast { .. }, Drawn::Autocontrast { applied: true }) => {
            pl.prog
                .push(barrier(code::AUTOCONTRAST, 0.0, 0.0, &mut pl.n_stats));
        }
        (Op::Equalize { .. }, Drawn::Equalize { applied: true }) => {
            pl.prog
                .push(barrier(code::EQUALIZE, 0.0, 0.0, &mut pl.n_stats));
        }
        (Op::Sharpness { factor, .. }, Drawn::Sharpness { applied: true }) => {
            pl.prog.push(barrier(
                code::SHARPNESS,
                *factor as f32,
                0.0,
                &mut pl.n_stats,
            ));
        }
        (
            Op::GaussianBlur {
                kernel_size,
                kernel_size_y,
                ..
            },
            Drawn::GaussianBlur {
                applied: true,
                sigma,
                sigma_y,
            },
        ) => {
            let sy = sigma_y.unwrap_or(*sigma);
            if !(sigma.is_finite() && *sigma > 0.0 && sy.is_finite() && sy > 0.0) {
                return Err(op_err(
                    pl.index,
                    op,
                    format!("sigma must be > 0, got {sigma} (y: {sy})"),
                ));
            }
            let half = (kernel_size / 2) as f32;
            let half_y = (kernel_size_y.unwrap_or(*kernel_size) / 2) as f32;
            pl.prog
                .push(barrier(code::BLUR_H, *sigma as f32, half, &mut pl.n_stats));
            pl.prog
                .push(barrier(code::BLUR_V, sy as f32, half_y, &mut pl.n_stats));
        }
        (
            Op::GaussianNoise { sigma, .. },
            Drawn::GaussianNoise {
                applied: true,
                seed,
            },
        ) => {
            pl.prog
                .push([code::NOISE, *sigma as f32, 0.0, key_bits(*seed)]);
        }
        (
            Op::Gamma { gain, .. },
            Drawn::Gamma {
                applied: true,
                gamma,
            },
        ) => {
            if !(gamma.is_finite() && *gamma > 0.0) {
                return Err(op_err(
                    pl.index,
                    op,
                    format!("gamma must be > 0, got {gamma}"),
                ));
            }
            pl.prog
                .push([code::GAMMA, *gamma as f32, 0.0, *gain as f32]);
        }
        (
            Op::RandomErasing { value, .. },
            Drawn::RandomErasing {
                applied: true,
                top,
                left,
                height,
                width,
                seed,
            },
        ) => {
            if pl.erase.is_some() {
                return Err(op_err(
                    pl.index,
                    op,
                    "at most one random_erasing per sample".into(),
                ));
            }
            pl.erase = Some((
                [
                    *left as f32,
                    *top as f32,
                    (*left + *width) as f32,
                    (*top + *height) as f32,
                ],
                match value {
                    Some(v) => [
                        (v[0] / 255.0) as f32,
                        (v[1] / 255.0) as f32,
                        (v[2] / 255.0) as f32,
                        0.0,
                    ],
                    None => [0.0, 0.0, 0.0, 1.0],
                },
            ));
            pl.prog.push([code::ERASE, 0.0, 0.0, key_bits(*seed)]);
        }
        (
            Op::Cutout { value, .. },
            Drawn::Cutout {
                applied: true,
                length,
                centers,
            },
        ) => {
            let (w, h) = (pl.out.width as i64, pl.out.height as i64);
            let fill = value[0] + 256.0 * value[1] + 65536.0 * value[2];
            for c in centers {
                let [x0, y0] = hole_corner(*c, *length);
                let (l, t) = (x0.clamp(0, w), y0.clamp(0, h));
                let (r, b) = (
                    (x0 + *length as i64).clamp(0, w),
                    (y0 + *length as i64).clamp(0, h),
                );
                if l >= r || t >= b {
                    continue;
                }
                let lt = (l as u32) | (t as u32) << 16;
                let rb = (r as u32) | (b as u32) << 16;
                pl.prog.push([
                    code::CUTOUT,
                    fill as f32,
                    f32::from_bits(lt),
                    f32::from_bits(rb),
                ]);
            }
        }
        (
            Op::ColorfulCutout { .. },
            Drawn::ColorfulCutout {
                applied: true,
                length,
                grid,
                centers,
                seed,
            },
        ) => {
            if !(1..=super::keys::color::GRID.hi as u32).contains(grid) {
                return Err(op_err(
                    pl.index,
                    op,
                    format!("grid must be in [1, 64], got {grid}"),
                ));
            }
            let (w, h) = (pl.out.width as i64, pl.out.height as i64);
            for (i, c) in centers.iter().enumerate() {
                let [x0, y0] = hole_corner(*c, *length);
                let x1 = x0 + *length as i64;
                let y1 = y0 + *length as i64;
                if *length == 0 || x1 <= 0 || y1 <= 0 || x0 >= w || y0 >= h {
                    continue;
                }
                let (ox, oy) = (x0 + 32768, y0 + 32768);
                if !(0..=65535).contains(&ox) || !(0..=65535).contains(&oy) {
                    return Err(op_err(
                        pl.index,
                        op,
                        format!("hole centre {c:?} is too far outside the canvas"),
                    ));
                }
                let corner = (ox as u32) | (oy as u32) << 16;
                pl.prog.push([
                    code::COLORFUL_CUTOUT,
                    (*length + 65536 * *grid) as f32,
                    f32::from_bits(corner),
                    f32::from_bits(hole_key(*seed, i as u32)),
                ]);
            }
        }
        (Op::Cutout { .. }, Drawn::Cutout { .. })
        | (Op::ColorfulCutout { .. }, Drawn::ColorfulCutout { .. }) => {}
        (Op::Invert { .. }, Drawn::Invert { .. })
        | (Op::Solarize { .. }, Drawn::Solarize { .. })
        | (Op::Posterize { .. }, Drawn::Posterize { .. })
        | (Op::Autocontrast { .. }, Drawn::Autocontrast { .. })
        | (Op::Equalize { .. }, Drawn::Equalize { .. })
        | (Op::Sharpness { .. }, Drawn::Sharpness { .. })
        | (Op::GaussianBlur { .. }, Drawn::GaussianBlur { .. })
        | (Op::GaussianNoise { .. }, Drawn::GaussianNoise { .. })
        | (Op::Gamma { .. }, Drawn::Gamma { .. })
        | (Op::RandomErasing { .. }, Drawn::RandomErasing { .. }) => {}
        (Op::Normalize { .. }, Drawn::Normalize {}) => {}
        _ => return Ok(false),
    }
    Ok(true)
}

/// This family's ops under a sample's overrides (see [`super::Steer`]):
/// ranges moved toward the op's identity by `strength`, probabilities times
/// `p_scale`; `None` for an op of another family.
///
/// - color_jitter: brightness, contrast and saturation factors toward 1, hue
///   toward 0.
/// - solarize: threshold toward 256 (above every value: nothing inverted).
/// - posterize: bits toward 8 (rounded). sharpness: factor toward 1.
/// - gaussian_noise: sigma times the strength. gamma: gamma and gain toward 1.
/// - grayscale, permute_channels, invert, autocontrast, equalize, random
///   erasing and gaussian_blur (whose sigma range has no identity): `p`
///   times the strength; grayscale with one output channel is unchanged
///   (it sets the output's format).
/// - cutout, colorful_cutout: the squares' side times the strength
///   (rounded; 0: no change), the number of holes and the grid unchanged.
/// - normalize: deterministic, unchanged.
pub(crate) fn steer(op: &Op, st: super::Steer) -> Option<Op> {
    use super::toward;
    let (s, ps) = (st.strength, st.p_scale);
    let factor = |r: &Option<[f64; 2]>, id: f64| r.map(|r| r.map(|x| toward(id, x, s)));
    Some(match op {
        Op::ColorJitter {
            brightness,
            contrast,
            saturation,
            hue,
            p,
        } => Op::ColorJitter {
            brightness: factor(brightness, 1.0),
            contrast: factor(contrast, 1.0),
            saturation: factor(saturation, 1.0),
            hue: factor(hue, 0.0),
            p: p * ps,
        },
        // One output channel is the output's format, not a random op: kept.
        Op::Grayscale {
            num_output_channels: 1,
            ..
        } => op.clone(),
        Op::Grayscale {
            p,
            num_output_channels,
        } => Op::Grayscale {
            p: p * s * ps,
            num_output_channels: *num_output_channels,
        },
        Op::PermuteChannels { p } => Op::PermuteChannels { p: p * s * ps },
        Op::Invert { p } => Op::Invert { p: p * s * ps },
        Op::Autocontrast { p } => Op::Autocontrast { p: p * s * ps },
        Op::Equalize { p } => Op::Equalize { p: p * s * ps },
        Op::Solarize { threshold, p } => Op::Solarize {
            threshold: toward(256.0, *threshold, s),
            p: p * ps,
        },
        Op::Posterize { bits, p } => Op::Posterize {
            bits: toward(8.0, *bits as f64, s).round_ties_even() as u32,
            p: p * ps,
        },
        Op::Sharpness { factor, p } => Op::Sharpness {
            factor: toward(1.0, *factor, s),
            p: p * ps,
        },
        Op::GaussianBlur {
            kernel_size,
            kernel_size_y,
            sigma,
            p,
        } => Op::GaussianBlur {
            kernel_size: *kernel_size,
            kernel_size_y: *kernel_size_y,
            sigma: *sigma,
            p: p * s * ps,
        },
        Op::GaussianNoise { sigma, p } => Op::GaussianNoise {
            sigma: sigma * s,
            p: p * ps,
        },
        Op::Gamma { gamma, gain, p } => Op::Gamma {
            gamma: gamma.map(|x| toward(1.0, x, s)),
            gain: toward(1.0, *gain, s),
            p: p * ps,
        },
        Op::RandomErasing {
            p,
            scale,
            ratio,
            value,
        } => Op::RandomErasing {
            p: p * s * ps,
            scale: *scale,
            ratio: *ratio,
            value: *value,
        },
        Op::Cutout {
            n_holes,
            length,
            value,
            p,
        } => Op::Cutout {
            n_holes: *n_holes,
            length: (*length as f64 * s).round_ties_even() as u32,
            value: *value,
            p: p * ps,
        },
        Op::ColorfulCutout {
            n_holes,
            length,
            grid,
            p,
        } => Op::ColorfulCutout {
            n_holes: *n_holes,
            length: (*length as f64 * s).round_ties_even() as u32,
            grid: *grid,
            p: p * ps,
        },
        Op::Normalize { .. } => op.clone(),
        Op::RotationLabel { .. }
        | Op::RandomResizedCrop { .. }
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
        | Op::AugMix { .. } => return None,
    })
}
