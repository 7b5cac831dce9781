//! The geometry family: ops that fold into the sample's inverse map (and
//! clip stages of ops that fill). Per op, in this file: its random draw
//! (`draw`), the check of explicit parameters (`check_drawn`) and its
//! lowering to the per-sample program (`lower`). Its name, keys and
//! validation: `OP_DEFS` (src/ops/parse.rs), `keys::geometry`
//! (src/ops/keys.rs), `Op::check` (src/ops/check.rs). Kernels: the warp in
//! shaders/common/sample.wgsl; CPU twin: src/cpu/sample.rs.

use super::lower::{op_err, Lowering, Stage, M3};
use super::{Drawn, Interpolation, Op, ResizeTo, Size};
use crate::error::Result;
use crate::key::{randint, uniform};
use rand::Rng;

/// Python's `round` (half to even), as torchvision's integer boxes use it.
pub(crate) fn pyround(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// Output size of torchvision's `resize` for an image of `w` x `h`.
pub fn resize_target(to: ResizeTo, max_size: Option<u32>, w: u32, h: u32) -> Size {
    match to {
        ResizeTo::Exact(s) => s,
        ResizeTo::Shorter(s) => {
            let (short, long) = if w <= h { (w, h) } else { (h, w) };
            let mut new_short = s as u64;
            let mut new_long = (s as u64 * long as u64) / short.max(1) as u64;
            if let Some(m) = max_size {
                if new_long > m as u64 {
                    new_short = (m as u64 * new_short) / new_long.max(1);
                    new_long = m as u64;
                }
            }
            let (new_short, new_long) = (new_short.max(1) as u32, new_long.max(1) as u32);
            if w <= h {
                Size::new(new_long, new_short)
            } else {
                Size::new(new_short, new_long)
            }
        }
    }
}

/// Draws the parameters of one of this family's ops for a canvas of `w` x
/// `h`; `None` for an op of another family.
pub(crate) fn draw(op: &Op, rng: &mut impl Rng, w: u32, h: u32) -> Option<Drawn> {
    let (wf, hf) = (w as f64, h as f64);
    Some(match op {
        Op::RandomResizedCrop { scale, ratio, .. } => {
            let area = wf * hf;
            let log_ratio = [ratio[0].ln(), ratio[1].ln()];
            for _ in 0..10 {
                let target_area = area * uniform(rng, scale[0], scale[1]);
                let aspect = uniform(rng, log_ratio[0], log_ratio[1]).exp();
                let cw = pyround((target_area * aspect).sqrt());
                let ch = pyround((target_area / aspect).sqrt());
                if 0 < cw && cw <= w as i64 && 0 < ch && ch <= h as i64 {
                    let top = randint(rng, 0, h as i64 - ch);
                    let left = randint(rng, 0, w as i64 - cw);
                    return Some(Drawn::RandomResizedCrop {
                        top,
                        left,
                        height: ch,
                        width: cw,
                    });
                }
            }
            let in_ratio = wf / hf;
            let (cw, ch) = if in_ratio < ratio[0] {
                (w as i64, pyround(wf / ratio[0]))
            } else if in_ratio > ratio[1] {
                (pyround(hf * ratio[1]), h as i64)
            } else {
                (w as i64, h as i64)
            };
            let (cw, ch) = (cw.max(1), ch.max(1));
            Drawn::RandomResizedCrop {
                top: (h as i64 - ch) / 2,
                left: (w as i64 - cw) / 2,
                height: ch,
                width: cw,
            }
        }
        Op::Crop {
            top,
            left,
            height,
            width,
            ..
        } => Drawn::Crop {
            top: *top,
            left: *left,
            height: *height,
            width: *width,
        },
        Op::Resize { size, max_size, .. } => {
            let s = resize_target(*size, *max_size, w, h);
            Drawn::Resize {
                height: s.height,
                width: s.width,
            }
        }
        Op::CenterCrop { size } => {
            let (ch, cw) = (size.height as i64, size.width as i64);
            let top = if ch > h as i64 {
                -((ch - h as i64) / 2)
            } else {
                pyround((hf - ch as f64) / 2.0)
            };
            let left = if cw > w as i64 {
                -((cw - w as i64) / 2)
            } else {
                pyround((wf - cw as f64) / 2.0)
            };
            Drawn::CenterCrop {
                top,
                left,
                height: ch,
                width: cw,
            }
        }
        Op::RandomCrop {
            size,
            padding,
            pad_if_needed,
            ..
        } => {
            let (ch, cw) = (size.height as i64, size.width as i64);
            // Padded canvas in the original image's coordinates: [x0, x1) x [y0, y1).
            let (x0, x1, y0, y1) = random_crop_canvas(*size, *padding, *pad_if_needed, w, h);
            // A crop larger than the padded canvas is checked in `plan` (an error).
            let top = y0 + randint(rng, 0, (y1 - y0 - ch).max(0));
            let left = x0 + randint(rng, 0, (x1 - x0 - cw).max(0));
            Drawn::RandomCrop {
                top,
                left,
                height: ch,
                width: cw,
            }
        }
        Op::HorizontalFlip { p } => Drawn::HorizontalFlip {
            applied: rng.random::<f64>() < *p,
        },
        Op::VerticalFlip { p } => Drawn::VerticalFlip {
            applied: rng.random::<f64>() < *p,
        },
        // With `all_views` the pipeline sets k to the view index after the draw.
        Op::RotationLabel { .. } => Drawn::RotationLabel {
            k: randint(rng, 0, 3) as u32,
        },
        Op::Affine {
            degrees,
            translate,
            scale,
            shear,
            p,
            ..
        } => {
            let applied = rng.random::<f64>() < *p;
            let angle = uniform(rng, degrees[0], degrees[1]);
            let translate = match translate {
                Some([a, b]) => {
                    let (mx, my) = (a * wf, b * hf);
                    [
                        uniform(rng, -mx, mx).round_ties_even(),
                        uniform(rng, -my, my).round_ties_even(),
                    ]
                }
                None => [0.0, 0.0],
            };
            let scale = match scale {
                Some([a, b]) => uniform(rng, *a, *b),
                None => 1.0,
            };
            let shear = match shear {
                Some(s) => [uniform(rng, s[0], s[1]), uniform(rng, s[2], s[3])],
                None => [0.0, 0.0],
            };
            if applied {
                Drawn::Affine {
                    applied,
                    angle,
                    translate,
                    scale,
                    shear,
                }
            } else {
                Drawn::Affine {
                    applied,
                    angle: 0.0,
                    translate: [0.0, 0.0],
                    scale: 1.0,
                    shear: [0.0, 0.0],
                }
            }
        }
        Op::Perspective { distortion, p, .. } => {
            // torchvision's RandomPerspective.get_params (randint's high is exclusive).
            let applied = rng.random::<f64>() < *p;
            let (wi, hi) = (w as i64, h as i64);
            let bw = (distortion * (wi / 2) as f64) as i64 + 1;
            let bh = (distortion * (hi / 2) as f64) as i64 + 1;
            let r = |rng: &mut _, lo: i64, hi: i64| randint(rng, lo, hi - 1);
            let tl = [r(rng, 0, bw), r(rng, 0, bh)];
            let tr = [r(rng, wi - bw, wi), r(rng, 0, bh)];
            let br = [r(rng, wi - bw, wi), r(rng, hi - bh, hi)];
            let bl = [r(rng, 0, bw), r(rng, hi - bh, hi)];
            // Corners that stay put (distortion 0, or a draw of no
            // displacement) are no perspective: recorded as not applied.
            let endpoints = [tl, tr, br, bl];
            let start = [[0, 0], [wi - 1, 0], [wi - 1, hi - 1], [0, hi - 1]];
            Drawn::Perspective {
                applied: applied && endpoints != start,
                endpoints,
                startpoints: None,
            }
        }
        _ => return None,
    })
}

/// The canvas size after one drawn op (for drawing the next op's parameters).
pub fn canvas_after(op: &Op, d: &Drawn, out: Size, w: u32, h: u32) -> (u32, u32) {
    match (op, d) {
        (Op::RandomResizedCrop { size, .. }, _) => {
            let s = size.unwrap_or(out);
            (s.width, s.height)
        }
        (Op::Crop { size: Some(s), .. }, _) => (s.width, s.height),
        (Op::RotationLabel { .. }, Drawn::RotationLabel { k }) if k % 2 == 1 => (h, w),
        (_, Drawn::Resize { height, width }) => (*width, *height),
        (_, Drawn::CenterCrop { height, width, .. })
        | (_, Drawn::RandomCrop { height, width, .. })
        | (_, Drawn::Crop { height, width, .. }) => (*width as u32, *height as u32),
        _ => (w, h),
    }
}

/// Explicit parameters (from `apply` or a saved record): boxes must be
/// non-empty and of sane size, affine parameters finite and in range.
pub(crate) fn check_drawn(index: usize, op: &Op, d: &Drawn) -> Result<()> {
    const LIM: i64 = 1 << 24;
    let b = match d {
        Drawn::RandomResizedCrop {
            top,
            left,
            height,
            width,
        }
        | Drawn::CenterCrop {
            top,
            left,
            height,
            width,
        }
        | Drawn::RandomCrop {
            top,
            left,
            height,
            width,
        }
        | Drawn::Crop {
            top,
            left,
            height,
            width,
        } => Some((*top, *left, *height, *width)),
        Drawn::Resize { height, width } => Some((0, 0, *height as i64, *width as i64)),
        _ => None,
    };
    if let Some((t, l, h, w)) = b {
        if h < 1 || w < 1 || h > LIM || w > LIM || t.abs() > LIM || l.abs() > LIM {
            return Err(op_err(
                index,
                op,
                format!("box top {t}, left {l}, height {h}, width {w} is empty or too large"),
            ));
        }
    }
    if let Drawn::Affine {
        angle,
        translate,
        scale,
        shear,
        ..
    } = d
    {
        let finite = [
            *angle,
            translate[0],
            translate[1],
            *scale,
            shear[0],
            shear[1],
        ]
        .iter()
        .all(|x| x.is_finite());
        if !finite || *scale <= 0.0 || shear[0].abs() >= 90.0 || shear[1].abs() >= 90.0 {
            return Err(op_err(index, op, format!(
                "affine parameters must be finite with scale > 0 and |shear| < 90 (angle {angle}, translate {translate:?}, scale {scale}, shear {shear:?})"
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
            Op::RandomResizedCrop {
                size,
                interpolation,
                ..
            },
            Drawn::RandomResizedCrop {
                top,
                left,
                height,
                width,
            },
        ) => {
            let s = size.unwrap_or(pl.out);
            let (sx, sy) = (
                *width as f64 / s.width as f64,
                *height as f64 / s.height as f64,
            );
            let (nx, ny) = nearest_shift(*interpolation, sx, sy);
            pl.stages.push(Stage {
                map: M3::scale_translate(sx, sy, *left as f64 + nx, *top as f64 + ny),
                clip: None,
            });
            pl.nearest |= interpolation.is_nearest();
            (pl.cw, pl.ch) = (s.width as f64, s.height as f64);
        }
        (
            Op::Crop {
                size,
                interpolation,
                ..
            },
            Drawn::Crop {
                top,
                left,
                height,
                width,
            },
        ) => {
            let s = size.unwrap_or(Size::new(*height as u32, *width as u32));
            // Outside the image: zeros, as F.crop pads.
            let outside = *top < 0
                || *left < 0
                || (*left + *width) as f64 > pl.cw
                || (*top + *height) as f64 > pl.ch;
            let (sx, sy) = (
                *width as f64 / s.width as f64,
                *height as f64 / s.height as f64,
            );
            let (nx, ny) = nearest_shift(*interpolation, sx, sy);
            pl.stages.push(Stage {
                map: M3::scale_translate(sx, sy, *left as f64 + nx, *top as f64 + ny),
                clip: outside.then_some((pl.cw, pl.ch, [0.0; 3], false)),
            });
            pl.nearest |= interpolation.is_nearest();
            (pl.cw, pl.ch) = (s.width as f64, s.height as f64);
        }
        (Op::Resize { interpolation, .. }, Drawn::Resize { height, width }) => {
            let (sx, sy) = (pl.cw / *width as f64, pl.ch / *height as f64);
            let (nx, ny) = nearest_shift(*interpolation, sx, sy);
            pl.stages.push(Stage {
                map: M3::scale_translate(sx, sy, nx, ny),
                clip: None,
            });
            pl.nearest |= interpolation.is_nearest();
            (pl.cw, pl.ch) = (*width as f64, *height as f64);
        }
        (
            Op::CenterCrop { .. },
            Drawn::CenterCrop {
                top,
                left,
                height,
                width,
            },
        )
        | (
            Op::RandomCrop { .. },
            Drawn::RandomCrop {
                top,
                left,
                height,
                width,
            },
        ) => {
            if let Op::RandomCrop {
                padding,
                pad_if_needed,
                ..
            } = op
            {
                let pw = pl.cw + (padding[0] + padding[2]) as f64;
                let ph = pl.ch + (padding[1] + padding[3]) as f64;
                if !pad_if_needed && (pw < *width as f64 || ph < *height as f64) {
                    return Err(op_err(pl.index, op, format!(
                            "crop {}x{} is larger than the padded image {}x{} (set pad_if_needed = true)",
                            width, height, pw, ph
                        )));
                }
            }
            let (fill, mode) = match op {
                Op::RandomCrop {
                    fill, padding_mode, ..
                } => (*fill, *padding_mode),
                _ => ([0.0; 3], crate::codes::pad_mode::CONSTANT),
            };
            let outside = *top < 0
                || *left < 0
                || (*left + *width) as f64 > pl.cw
                || (*top + *height) as f64 > pl.ch;
            // Edge, reflect and symmetric padding fold the source taps back
            // into the image: only where the op pads the source itself.
            let fold = outside && mode != crate::codes::pad_mode::CONSTANT;
            if fold {
                if !pl.stages.is_empty() || (pl.fold != 0 && pl.fold != mode) {
                    return Err(op_err(
                        pl.index,
                        op,
                        "padding_mode other than \"constant\" pads the source image: the op must be the first geometric op".into(),
                    ));
                }
                pl.fold = mode;
            }
            pl.stages.push(Stage {
                map: M3::scale_translate(1.0, 1.0, *left as f64, *top as f64),
                clip: (outside && !fold).then_some((pl.cw, pl.ch, fill, false)),
            });
            (pl.cw, pl.ch) = (*width as f64, *height as f64);
        }
        (Op::HorizontalFlip { .. }, Drawn::HorizontalFlip { applied }) => {
            if *applied {
                pl.stages.push(Stage {
                    map: M3::scale_translate(-1.0, 1.0, pl.cw, 0.0),
                    clip: None,
                });
            }
        }
        (Op::VerticalFlip { .. }, Drawn::VerticalFlip { applied }) => {
            if *applied {
                pl.stages.push(Stage {
                    map: M3::scale_translate(1.0, -1.0, 0.0, pl.ch),
                    clip: None,
                });
            }
        }
        (Op::RotationLabel { .. }, Drawn::RotationLabel { k }) => {
            // numpy's rot90 (counter-clockwise) as an inverse map: output
            // (u, v) -> input; pixel centres land on pixel centres exactly.
            let (w, h) = (pl.cw, pl.ch);
            let m = match k {
                0 => None,
                1 => Some([[0.0, -1.0, w], [1.0, 0.0, 0.0]]),
                2 => Some([[-1.0, 0.0, w], [0.0, -1.0, h]]),
                3 => Some([[0.0, 1.0, 0.0], [-1.0, 0.0, h]]),
                _ => {
                    return Err(op_err(
                        pl.index,
                        op,
                        format!("k must be 0, 1, 2 or 3, got {k}"),
                    ))
                }
            };
            if let Some([r0, r1]) = m {
                pl.stages.push(Stage {
                    map: M3([r0, r1, [0.0, 0.0, 1.0]]),
                    clip: None,
                });
            }
            if k % 2 == 1 {
                (pl.cw, pl.ch) = (h, w);
            }
        }
        (
            Op::Affine {
                interpolation,
                fill,
                center,
                expand,
                ..
            },
            Drawn::Affine {
                applied,
                angle,
                translate,
                scale,
                shear,
            },
        ) => {
            if *applied {
                let c = center
                    .map(|[x, y]| (x, y))
                    .unwrap_or((pl.cw / 2.0, pl.ch / 2.0));
                let hard = interpolation.is_nearest();
                let mut map = inverse_affine(c, *angle, *translate, *scale, *shear);
                // expand: the output canvas's centre maps to the input's.
                let grown = expand.then(|| expanded_size(pl.cw, pl.ch, *angle, *scale, *shear));
                if let Some((ew, eh)) = grown {
                    map = map.mul(&M3::scale_translate(
                        1.0,
                        1.0,
                        pl.cw / 2.0 - ew / 2.0,
                        pl.ch / 2.0 - eh / 2.0,
                    ));
                }
                pl.stages.push(Stage {
                    map,
                    clip: Some((pl.cw, pl.ch, *fill, hard)),
                });
                pl.nearest |= hard;
                if let Some((ew, eh)) = grown {
                    (pl.cw, pl.ch) = (ew, eh);
                }
            }
        }
        (
            Op::Perspective {
                interpolation,
                fill,
                ..
            },
            Drawn::Perspective {
                applied: true,
                endpoints,
                startpoints,
            },
        ) => {
            let start = match startpoints {
                Some(sp) => sp.map(|[x, y]| [x as f64, y as f64]),
                None => [
                    [0.0, 0.0],
                    [pl.cw - 1.0, 0.0],
                    [pl.cw - 1.0, pl.ch - 1.0],
                    [0.0, pl.ch - 1.0],
                ],
            };
            let end = endpoints.map(|[x, y]| [x as f64, y as f64]);
            // Corners that define no perspective (a 1-pixel side makes them
            // coincide) leave the image unchanged.
            if let Some(map) = perspective_map(&start, &end) {
                let hard = interpolation.is_nearest();
                pl.stages.push(Stage {
                    map,
                    clip: Some((pl.cw, pl.ch, *fill, hard)),
                });
                pl.nearest |= hard;
            }
        }
        (Op::Perspective { .. }, Drawn::Perspective { .. }) => {}
        _ => return Ok(false),
    }
    Ok(true)
}

/// The shift of a resize's map that turns the nearest sampler's floor(u) at
/// output centre i + 0.5 into torchvision's NEAREST index floor(i * s): half
/// a scaled pixel back, and a thousandth of a pixel forward so that an index
/// i * s that is a whole number is not lost to f32 rounding. NEAREST_EXACT
/// (floor((i + 0.5) s)) and the filters need no shift.
fn nearest_shift(interpolation: Interpolation, sx: f64, sy: f64) -> (f64, f64) {
    if interpolation == Interpolation::Nearest {
        (1e-3 - 0.5 * sx, 1e-3 - 0.5 * sy)
    } else {
        (0.0, 0.0)
    }
}

/// F.rotate's `expand`: the canvas (width, height) that holds the whole
/// turned image, torchvision's `_compute_affine_output_size` (the corners
/// about the centre through the map's linear part, truncated to 1e-4, then
/// ceil of the largest minus floor of the smallest). At least 1x1. Whole
/// quarter turns are F.rotate's exact transposes (its fast path): the sides
/// swap or stay.
pub fn expanded_size(w: f64, h: f64, angle: f64, scale: f64, shear: [f64; 2]) -> (f64, f64) {
    if scale == 1.0 && shear == [0.0, 0.0] && angle.rem_euclid(90.0) == 0.0 {
        return if angle.rem_euclid(180.0) == 0.0 {
            (w, h)
        } else {
            (h, w)
        };
    }
    let m = inverse_affine((0.0, 0.0), angle, [0.0, 0.0], scale, shear).0;
    let (hw, hh) = (0.5 * w, 0.5 * h);
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for (x, y) in [(-hw, -hh), (-hw, hh), (hw, hh), (hw, -hh)] {
        let p = [
            m[0][0] * x + m[0][1] * y + hw,
            m[1][0] * x + m[1][1] * y + hh,
        ];
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let cut = |v: f64| (v * 1e4).trunc() / 1e4;
    let side = |k: usize| (cut(hi[k]).ceil() - cut(lo[k]).floor()).clamp(1.0, (1 << 24) as f64);
    (side(0), side(1))
}

/// torchvision's `_get_inverse_affine_matrix`: output -> input, about `center`,
/// in continuous pixel coordinates.
pub(crate) fn inverse_affine(
    center: (f64, f64),
    angle: f64,
    translate: [f64; 2],
    scale: f64,
    shear: [f64; 2],
) -> M3 {
    let rot = angle.to_radians();
    let (sx, sy) = (shear[0].to_radians(), shear[1].to_radians());
    let (cx, cy) = center;
    let (tx, ty) = (translate[0], translate[1]);
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    let mut m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0];
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
    m[2] += cx;
    m[5] += cy;
    M3([[m[0], m[1], m[2]], [m[3], m[4], m[5]], [0.0, 0.0, 1.0]])
}

/// Whether four points (x, y each) can be the corners of a projective map:
/// no three on a line (nor two the same).
pub(crate) fn general_position(p: &[[i64; 2]; 4]) -> bool {
    let cross = |a: [i64; 2], b: [i64; 2], c: [i64; 2]| {
        (b[0] - a[0]) as i128 * (c[1] - a[1]) as i128
            - (b[1] - a[1]) as i128 * (c[0] - a[0]) as i128
    };
    [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]
        .iter()
        .all(|&(i, j, k)| cross(p[i], p[j], p[k]) != 0)
}

/// Whether moving the points `start` to `end` defines a projective map
/// (`perspective`'s explicit points).
pub(crate) fn defines_perspective(start: &[[i64; 2]; 4], end: &[[i64; 2]; 4]) -> bool {
    let f = |p: &[[i64; 2]; 4]| p.map(|[x, y]| [x as f64, y as f64]);
    general_position(start)
        && general_position(end)
        && perspective_map(&f(start), &f(end)).is_some()
}

/// torchvision's `_get_perspective_coeffs`: the projective map taking each
/// `end` point to its `start` point (output to input), by solving the 8x8
/// system (Gaussian elimination with partial pivoting, f64).
fn perspective_map(start: &[[f64; 2]; 4], end: &[[f64; 2]; 4]) -> Option<M3> {
    let mut a = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let ([x, y], [u, v]) = (end[i], start[i]);
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for col in 0..8 {
        let piv = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *v -= f * p;
                }
            }
        }
    }
    let x: Vec<f64> = (0..8).map(|i| a[i][8] / a[i][i]).collect();
    Some(M3([
        [x[0], x[1], x[2]],
        [x[3], x[4], x[5]],
        [x[6], x[7], 1.0],
    ]))
}

/// This family's ops under a sample's overrides (see [`super::Steer`]): the
/// ranges moved toward the op's identity by `strength`, probabilities times
/// `p_scale`, for a canvas of `w` x `h`; `None` for an op of another family.
///
/// - random_resized_crop: `scale` toward [1, 1], `ratio` toward the
///   canvas's own ratio (log-linearly): at 0 the whole canvas, resized.
/// - random_crop: `padding` times the strength (rounded); the crop's offset
///   is pulled toward the centre (`steer_drawn`).
/// - flips: `p` times the strength (they have no magnitude).
/// - affine: degrees, translate and shear times the strength, scale toward 1.
/// - perspective: `distortion` times the strength.
/// - crop, resize, center_crop: deterministic, unchanged; rotation_label
///   too (its k is part of the joint label, not a magnitude).
pub(crate) fn steer(op: &Op, st: super::Steer, w: u32, h: u32) -> Option<Op> {
    use super::toward;
    let (s, ps) = (st.strength, st.p_scale);
    Some(match op {
        Op::RandomResizedCrop {
            size,
            scale,
            ratio,
            interpolation,
        } => {
            let own = (w.max(1) as f64 / h.max(1) as f64).ln();
            Op::RandomResizedCrop {
                size: *size,
                scale: scale.map(|x| toward(1.0, x, s)),
                ratio: ratio.map(|x| toward(own, x.ln(), s).exp()),
                interpolation: *interpolation,
            }
        }
        Op::RandomCrop {
            size,
            padding,
            pad_if_needed,
            fill,
            padding_mode,
        } => Op::RandomCrop {
            size: *size,
            padding: padding.map(|p| (p as f64 * s).round_ties_even() as u32),
            pad_if_needed: *pad_if_needed,
            fill: *fill,
            padding_mode: *padding_mode,
        },
        Op::HorizontalFlip { p } => Op::HorizontalFlip { p: p * s * ps },
        Op::VerticalFlip { p } => Op::VerticalFlip { p: p * s * ps },
        Op::Affine {
            degrees,
            translate,
            scale,
            shear,
            interpolation,
            fill,
            center,
            antialias,
            expand,
            p,
        } => Op::Affine {
            degrees: degrees.map(|x| x * s),
            translate: translate.map(|t| t.map(|x| x * s)),
            scale: scale.map(|r| r.map(|x| toward(1.0, x, s))),
            shear: shear.map(|r| r.map(|x| x * s)),
            interpolation: *interpolation,
            fill: *fill,
            center: *center,
            antialias: *antialias,
            expand: *expand,
            p: p * ps,
        },
        Op::Perspective {
            distortion,
            p,
            interpolation,
            fill,
        } => Op::Perspective {
            distortion: distortion * s,
            p: p * ps,
            interpolation: *interpolation,
            fill: *fill,
        },
        Op::Crop { .. } | Op::Resize { .. } | Op::CenterCrop { .. } => op.clone(),
        // Its k is half of the joint label, not a magnitude: unchanged.
        Op::RotationLabel { .. } => op.clone(),
        Op::ColorJitter { .. }
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
        | Op::Cutout { .. }
        | Op::ColorfulCutout { .. }
        | Op::Policy { .. }
        | Op::AugMix { .. }
        | Op::Normalize { .. } => return None,
    })
}

/// The padded canvas random_crop draws its box from, in the unpadded
/// image's coordinates: (x0, x1, y0, y1), half-open.
fn random_crop_canvas(
    size: Size,
    padding: [u32; 4],
    pad_if_needed: bool,
    w: u32,
    h: u32,
) -> (i64, i64, i64, i64) {
    let [pl, pt, pr, pb] = padding.map(|p| p as i64);
    let (ch, cw) = (size.height as i64, size.width as i64);
    let (mut x0, mut x1) = (-pl, w as i64 + pr);
    let (mut y0, mut y1) = (-pt, h as i64 + pb);
    if pad_if_needed {
        if x1 - x0 < cw {
            let extra = cw - (x1 - x0);
            x0 -= extra;
            x1 += extra;
        }
        if y1 - y0 < ch {
            let extra = ch - (y1 - y0);
            y0 -= extra;
            y1 += extra;
        }
    }
    (x0, x1, y0, y1)
}

/// This family's drawn parameters under a sample's strength (after the draw
/// of the steered op): random_crop's offset is pulled toward the centre of
/// its canvas, `centre + round(strength * (drawn - centre))`. Other ops are
/// returned as drawn.
pub(crate) fn steer_drawn(op: &Op, d: Drawn, st: super::Steer, w: u32, h: u32) -> Drawn {
    match (op, d) {
        (
            Op::RandomCrop {
                size,
                padding,
                pad_if_needed,
                ..
            },
            Drawn::RandomCrop {
                top,
                left,
                height,
                width,
            },
        ) => {
            let (x0, x1, y0, y1) = random_crop_canvas(*size, *padding, *pad_if_needed, w, h);
            let ct = y0 + (y1 - y0 - height).max(0) / 2;
            let cl = x0 + (x1 - x0 - width).max(0) / 2;
            let pull = |c: i64, v: i64| c + pyround(st.strength * (v - c) as f64);
            Drawn::RandomCrop {
                top: pull(ct, top),
                left: pull(cl, left),
                height,
                width,
            }
        }
        (_, d) => d,
    }
}
