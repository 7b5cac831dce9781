//! Drawing each op's random parameters for one sample. The canvas size
//! (`w`, `h`) is the size of the image as that op sees it.

use super::{ColorStep, Drawn, Op, ResizeTo, Size};
use crate::key::{randint, uniform};
use rand::seq::SliceRandom;
use rand::Rng;

/// Python's `round` (half to even), as torchvision's integer boxes use it.
fn pyround(x: f64) -> i64 {
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

/// Draws one op's parameters for a canvas of `w` x `h`; returns what was drawn.
/// Output sizes follow from `Drawn` (see `plan`).
pub fn draw_op(op: &Op, rng: &mut impl Rng, w: u32, h: u32) -> Drawn {
    let (wf, hf) = (w as f64, h as f64);
    match op {
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
                    return Drawn::RandomResizedCrop {
                        top,
                        left,
                        height: ch,
                        width: cw,
                    };
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
            let [pl, pt, pr, pb] = padding.map(|p| p as i64);
            let (ch, cw) = (size.height as i64, size.width as i64);
            // Padded canvas in the original image's coordinates: [x0, x1) x [y0, y1).
            let (mut x0, mut x1) = (-pl, w as i64 + pr);
            let (mut y0, mut y1) = (-pt, h as i64 + pb);
            if *pad_if_needed {
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
        Op::Grayscale { p } => Drawn::Grayscale {
            applied: rng.random::<f64>() < *p,
        },
        Op::PermuteChannels { p } => {
            let applied = rng.random::<f64>() < *p;
            let mut order = [0u32, 1, 2];
            order.shuffle(rng);
            Drawn::PermuteChannels { applied, order }
        }
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
                return Drawn::RandomErasing {
                    applied,
                    top,
                    left,
                    height: eh,
                    width: ew,
                    seed,
                };
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
            }
        }
        Op::AugMix {
            severity,
            width,
            depth,
            alpha,
            all_ops,
            ..
        } => {
            let (original, weights, chains) =
                super::policy::draw_augmix(rng, *severity, *width, *depth, *alpha, *all_ops, w, h);
            Drawn::AugMix {
                original,
                weights,
                chains,
            }
        }
        Op::Policy { kind, .. } => Drawn::Policy {
            steps: super::policy::draw(kind, rng, w, h),
        },
        Op::Normalize { .. } => Drawn::Normalize {},
    }
}

/// The canvas size after one drawn op (for drawing the next op's parameters).
pub fn canvas_after(op: &Op, d: &Drawn, out: Size, w: u32, h: u32) -> (u32, u32) {
    match (op, d) {
        (Op::RandomResizedCrop { size, .. }, _) => {
            let s = size.unwrap_or(out);
            (s.width, s.height)
        }
        (Op::Crop { size: Some(s), .. }, _) => (s.width, s.height),
        (_, Drawn::Resize { height, width }) => (*width, *height),
        (_, Drawn::CenterCrop { height, width, .. })
        | (_, Drawn::RandomCrop { height, width, .. })
        | (_, Drawn::Crop { height, width, .. }) => (*width as u32, *height as u32),
        _ => (w, h),
    }
}
