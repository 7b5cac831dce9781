//! From drawn parameters to what the kernels read: per sample, one inverse map
//! (output pixel centre -> source position), the clip stages of ops that fill,
//! the supersampling counts and the colour program. Computed once in Rust and
//! handed to both backends.
//!
//! Keep in sync with `shaders/common/params.wgsl` (sizes are checked by
//! `tests/wgsl.rs`).

use crate::error::{Error, Result};
use crate::ops::{ColorStep, Drawn, Interpolation, Op, Size};
use crate::pipeline::{OutputFormat, Pipeline};
use bytemuck::{Pod, Zeroable};

pub use crate::codes::{
    code, kind, FIELD_TAPS, MAX_CLIPS, MAX_PROG, MAX_STATS, MAX_SUPERSAMPLE, STAT_STRIDE,
};

/// A sample's random fields (`shaders/common/field.wgsl`): white noise on a
/// lattice of spacing l, weighted by a Gaussian of std l at each pixel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuField {
    /// Lattice columns, lattice rows, kind mask (bit k: kind k active; 0: no field), unused.
    pub grid: [u32; 4],
    /// Noise key (2 words), then the offsets (floats into the field buffer) of
    /// the sample's noise lattice and of its column sums; set per chunk.
    pub key: [u32; 4],
    /// Amplitudes of dx, dy (pixels), rotation (radians), log-scale.
    pub geo: [f32; 4],
    /// Amplitudes of brightness, contrast, saturation, hue.
    pub color: [f32; 4],
    /// 1 / l, canvas centre x and y, unused.
    pub shape: [f32; 4],
}

const _: () = assert!(std::mem::size_of::<GpuField>() == 80);

impl GpuField {
    /// Active kinds.
    pub fn mask(&self) -> u32 {
        self.grid[2]
    }
    /// Lattice columns and rows.
    pub fn lattice(&self) -> (usize, usize) {
        (self.grid[0] as usize, self.grid[1] as usize)
    }
    /// Floats of noise lattice and of column sums for an output `w` columns wide.
    pub fn buffer_floats(&self, w: u32) -> (u64, u64) {
        let n = self.mask().count_ones() as u64;
        let (kx, ky) = (self.grid[0] as u64, self.grid[1] as u64);
        (n * kx * ky, n * ky * w as u64)
    }
    /// The amplitude of kind `k` as the kernels use it.
    pub fn amplitude(&self, k: usize) -> f32 {
        if k < 4 {
            self.geo[k]
        } else {
            self.color[k - 4]
        }
    }
    /// The compact slot of kind `k` among the active kinds.
    pub fn slot(&self, k: usize) -> u32 {
        (self.mask() & ((1u32 << k) - 1)).count_ones()
    }
}

/// A clip stage: where an op's input canvas ends, and the fill beyond it.
/// `r0`, `r1`, `r2` map an output pixel centre to that canvas (projective rows);
/// `r0.w` and `r1.w` hold the canvas width and height, `r2.w` is 1 for a hard
/// (nearest) edge and 0 for a bilinear one; `fill` is RGB in [0, 1].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuClip {
    /// Row 0 of the map, width in `w`.
    pub r0: [f32; 4],
    /// Row 1 of the map, height in `w`.
    pub r1: [f32; 4],
    /// Row 2 of the map, hard edge flag in `w`.
    pub r2: [f32; 4],
    /// Fill colour in [0, 1].
    pub fill: [f32; 4],
}

/// Everything a kernel needs for one sample. Keep in sync with `Sample` in
/// `shaders/common/params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuSample {
    /// Source offset (pixels into the packed buffer), width, height, flags (bit 0: nearest).
    pub src: [u32; 4],
    /// Colour-program length, supersampling taps in x and y, clip-stage count.
    pub counts: [u32; 4],
    /// Inverse map row 0: u = m0.x * x + m0.y * y + m0.z (before the divide by row 2).
    pub m0: [f32; 4],
    /// Inverse map row 1.
    pub m1: [f32; 4],
    /// Inverse map row 2 (projective; [0, 0, 1] for affine maps).
    pub m2: [f32; 4],
    /// Clip stages, innermost (nearest the source) first.
    pub clips: [GpuClip; MAX_CLIPS],
    /// Colour program: x = op code, y = parameter, z = stat slot.
    pub prog: [[f32; 4]; MAX_PROG],
    /// Random fields (none when the kind mask is 0).
    pub field: GpuField,
    /// The erasing box on the output canvas: left, top, right, bottom (exclusive).
    pub erase: [f32; 4],
    /// The erasing value (RGB in [0, 1]); w = 1 for random values.
    pub erase_value: [f32; 4],
    /// The antialiased resampler's parameters (off: the gather above).
    pub resample: crate::resample::GpuResample,
}

const _: () = assert!(std::mem::size_of::<GpuClip>() == 64);

/// True when a projective row 2 is (0, 0, 1): the divide is by exactly 1.
fn affine_row(r2: &[f32; 4]) -> bool {
    r2[0] == 0.0 && r2[1] == 0.0 && r2[2] == 1.0
}

impl GpuClip {
    /// The clip map is affine (no divide needed).
    pub fn is_affine(&self) -> bool {
        affine_row(&self.r2)
    }
}

impl GpuSample {
    /// The inverse map is affine (no divide needed).
    pub fn is_affine(&self) -> bool {
        affine_row(&self.m2)
    }
    /// The clip stages in use.
    pub fn active_clips(&self) -> &[GpuClip] {
        &self.clips[..self.counts[3] as usize]
    }
}
const _: () = assert!(std::mem::size_of::<GpuSample>() == 768);

/// Values the whole batch shares. Keep in sync with `Globals` in `shaders/common/params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuGlobals {
    /// Output width, height, samples in this dispatch, format (0 u8 HWC, 1 f32 CHW).
    pub out: [u32; 4],
    /// Stat slot this pass reduces, stat slots in the pipeline, the field kinds
    /// the pipeline can draw (so the field pass runs for every batch of a
    /// pipeline with fields, whatever the draws), one unused word.
    pub pass: [u32; 4],
    /// Normalisation mean (0 when none).
    pub mean: [f32; 4],
    /// Normalisation std (1 when none).
    pub std: [f32; 4],
}

const _: () = assert!(std::mem::size_of::<GpuGlobals>() == 64);

/// A 3x3 projective map in f64, row-major.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct M3(pub [[f64; 3]; 3]);

impl M3 {
    pub fn identity() -> Self {
        M3([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    }
    /// (x, y) -> (sx * x + tx, sy * y + ty)
    pub fn scale_translate(sx: f64, sy: f64, tx: f64, ty: f64) -> Self {
        M3([[sx, 0.0, tx], [0.0, sy, ty], [0.0, 0.0, 1.0]])
    }
    pub fn mul(&self, o: &M3) -> M3 {
        let mut r = [[0.0; 3]; 3];
        for (i, row) in r.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (0..3).map(|k| self.0[i][k] * o.0[k][j]).sum();
            }
        }
        M3(r)
    }
    fn rows(&self, w: [f32; 3]) -> [[f32; 4]; 3] {
        let r = |i: usize| {
            [
                self.0[i][0] as f32,
                self.0[i][1] as f32,
                self.0[i][2] as f32,
                w[i],
            ]
        };
        [r(0), r(1), r(2)]
    }
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

struct Stage {
    map: M3,
    clip: Option<(f64, f64, [f64; 3], bool)>,
}

fn op_err(index: usize, op: &Op, message: String) -> Error {
    Error::OpFailed {
        index,
        op: op.name().into(),
        message,
    }
}

/// Explicit boxes (from `apply` or a saved record) must be non-empty and of sane size.
fn check_box(index: usize, op: &Op, d: &Drawn) -> Result<()> {
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

/// Builds the kernel parameters of one sample from its drawn ops.
/// `index` is the sample's position in the batch (for errors).
pub fn plan_sample(
    pipeline: &Pipeline,
    drawn: &[Drawn],
    src_w: u32,
    src_h: u32,
    index: usize,
) -> Result<GpuSample> {
    let out = pipeline.size;
    let (mut cw, mut ch) = (src_w as f64, src_h as f64);
    let mut stages: Vec<Stage> = Vec::new();
    let mut nearest = false;
    let mut prog: Vec<[f32; 4]> = Vec::new();
    let mut n_stats = 0u32;
    let mut field = GpuField::default();
    let mut erase: Option<([f32; 4], [f32; 4])> = None;
    // Stages of warps whose own scale does not drive supersampling.
    let mut warps: Vec<usize> = Vec::new();
    for (op, d) in pipeline.ops.iter().zip(drawn) {
        check_box(index, op, d)?;
        let before = stages.len();
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
                let s = size.unwrap_or(out);
                let (sx, sy) = (
                    *width as f64 / s.width as f64,
                    *height as f64 / s.height as f64,
                );
                let (nx, ny) = nearest_shift(*interpolation, sx, sy);
                stages.push(Stage {
                    map: M3::scale_translate(sx, sy, *left as f64 + nx, *top as f64 + ny),
                    clip: None,
                });
                nearest |= interpolation.is_nearest();
                (cw, ch) = (s.width as f64, s.height as f64);
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
                    || (*left + *width) as f64 > cw
                    || (*top + *height) as f64 > ch;
                let (sx, sy) = (
                    *width as f64 / s.width as f64,
                    *height as f64 / s.height as f64,
                );
                let (nx, ny) = nearest_shift(*interpolation, sx, sy);
                stages.push(Stage {
                    map: M3::scale_translate(sx, sy, *left as f64 + nx, *top as f64 + ny),
                    clip: outside.then_some((cw, ch, [0.0; 3], false)),
                });
                nearest |= interpolation.is_nearest();
                (cw, ch) = (s.width as f64, s.height as f64);
            }
            (Op::Resize { interpolation, .. }, Drawn::Resize { height, width }) => {
                let (sx, sy) = (cw / *width as f64, ch / *height as f64);
                let (nx, ny) = nearest_shift(*interpolation, sx, sy);
                stages.push(Stage {
                    map: M3::scale_translate(sx, sy, nx, ny),
                    clip: None,
                });
                nearest |= interpolation.is_nearest();
                (cw, ch) = (*width as f64, *height as f64);
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
                    let pw = cw + (padding[0] + padding[2]) as f64;
                    let ph = ch + (padding[1] + padding[3]) as f64;
                    if !pad_if_needed && (pw < *width as f64 || ph < *height as f64) {
                        return Err(op_err(index, op, format!(
                            "crop {}x{} is larger than the padded image {}x{} (set pad_if_needed = true)",
                            width, height, pw, ph
                        )));
                    }
                }
                let fill = match op {
                    Op::RandomCrop { fill, .. } => *fill,
                    _ => [0.0; 3],
                };
                let outside = *top < 0
                    || *left < 0
                    || (*left + *width) as f64 > cw
                    || (*top + *height) as f64 > ch;
                stages.push(Stage {
                    map: M3::scale_translate(1.0, 1.0, *left as f64, *top as f64),
                    clip: outside.then_some((cw, ch, fill, false)),
                });
                (cw, ch) = (*width as f64, *height as f64);
            }
            (Op::HorizontalFlip { .. }, Drawn::HorizontalFlip { applied }) => {
                if *applied {
                    stages.push(Stage {
                        map: M3::scale_translate(-1.0, 1.0, cw, 0.0),
                        clip: None,
                    });
                }
            }
            (Op::VerticalFlip { .. }, Drawn::VerticalFlip { applied }) => {
                if *applied {
                    stages.push(Stage {
                        map: M3::scale_translate(1.0, -1.0, 0.0, ch),
                        clip: None,
                    });
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
                    let c = center.map(|[x, y]| (x, y)).unwrap_or((cw / 2.0, ch / 2.0));
                    let hard = interpolation.is_nearest();
                    let mut map = inverse_affine(c, *angle, *translate, *scale, *shear);
                    // expand: the output canvas's centre maps to the input's.
                    let grown = expand.then(|| expanded_size(cw, ch, *angle, *scale, *shear));
                    if let Some((ew, eh)) = grown {
                        map = map.mul(&M3::scale_translate(
                            1.0,
                            1.0,
                            cw / 2.0 - ew / 2.0,
                            ch / 2.0 - eh / 2.0,
                        ));
                    }
                    stages.push(Stage {
                        map,
                        clip: Some((cw, ch, *fill, hard)),
                    });
                    nearest |= hard;
                    if let Some((ew, eh)) = grown {
                        (cw, ch) = (ew, eh);
                    }
                }
            }
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
                        prog.push(match step {
                            ColorStep::Brightness => {
                                [code::BRIGHTNESS, *brightness as f32, 0.0, 0.0]
                            }
                            ColorStep::Contrast => {
                                n_stats += 1;
                                [code::CONTRAST, *contrast as f32, (n_stats - 1) as f32, 0.0]
                            }
                            ColorStep::Saturation => {
                                [code::SATURATION, *saturation as f32, 0.0, 0.0]
                            }
                            ColorStep::Hue => [code::HUE, *hue as f32, 0.0, 0.0],
                        });
                    }
                }
            }
            (Op::Grayscale { .. }, Drawn::Grayscale { applied }) => {
                if *applied {
                    prog.push([code::GRAYSCALE, 0.0, 0.0, 0.0]);
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
                                    index,
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
                    prog.push([code::PERMUTE, packed as f32, 0.0, 0.0]);
                }
            }
            (Op::Invert { .. }, Drawn::Invert { applied: true }) => {
                prog.push([code::INVERT, 0.0, 0.0, 0.0]);
            }
            (Op::Solarize { threshold, .. }, Drawn::Solarize { applied: true }) => {
                prog.push([code::SOLARIZE, *threshold as f32, 0.0, 0.0]);
            }
            (Op::Posterize { bits, .. }, Drawn::Posterize { applied: true }) => {
                prog.push([code::POSTERIZE, *bits as f32, 0.0, 0.0]);
            }
            (Op::Autocontrast { .. }, Drawn::Autocontrast { applied: true }) => {
                prog.push(barrier(code::AUTOCONTRAST, 0.0, 0.0, &mut n_stats));
            }
            (Op::Equalize { .. }, Drawn::Equalize { applied: true }) => {
                prog.push(barrier(code::EQUALIZE, 0.0, 0.0, &mut n_stats));
            }
            (Op::Sharpness { factor, .. }, Drawn::Sharpness { applied: true }) => {
                prog.push(barrier(code::SHARPNESS, *factor as f32, 0.0, &mut n_stats));
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
                        index,
                        op,
                        format!("sigma must be > 0, got {sigma} (y: {sy})"),
                    ));
                }
                let half = (kernel_size / 2) as f32;
                let half_y = (kernel_size_y.unwrap_or(*kernel_size) / 2) as f32;
                prog.push(barrier(code::BLUR_H, *sigma as f32, half, &mut n_stats));
                prog.push(barrier(code::BLUR_V, sy as f32, half_y, &mut n_stats));
            }
            (
                Op::GaussianNoise { sigma, .. },
                Drawn::GaussianNoise {
                    applied: true,
                    seed,
                },
            ) => {
                prog.push([code::NOISE, *sigma as f32, 0.0, key_bits(*seed)]);
            }
            (
                Op::Gamma { gain, .. },
                Drawn::Gamma {
                    applied: true,
                    gamma,
                },
            ) => {
                if !(gamma.is_finite() && *gamma > 0.0) {
                    return Err(op_err(index, op, format!("gamma must be > 0, got {gamma}")));
                }
                prog.push([code::GAMMA, *gamma as f32, 0.0, *gain as f32]);
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
                if erase.is_some() {
                    return Err(op_err(
                        index,
                        op,
                        "at most one random_erasing per sample".into(),
                    ));
                }
                erase = Some((
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
                prog.push([code::ERASE, 0.0, 0.0, key_bits(*seed)]);
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
                },
            ) => {
                let start = [
                    [0.0, 0.0],
                    [cw - 1.0, 0.0],
                    [cw - 1.0, ch - 1.0],
                    [0.0, ch - 1.0],
                ];
                let end = endpoints.map(|[x, y]| [x as f64, y as f64]);
                // Corners that define no perspective (a 1-pixel side makes them
                // coincide) leave the image unchanged.
                if let Some(map) = perspective_map(&start, &end) {
                    let hard = interpolation.is_nearest();
                    stages.push(Stage {
                        map,
                        clip: Some((cw, ch, *fill, hard)),
                    });
                    nearest |= hard;
                }
            }
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
                        index,
                        op,
                        st,
                        *interpolation,
                        *fill,
                        cw,
                        ch,
                        &mut stages,
                        &mut nearest,
                        &mut prog,
                        &mut n_stats,
                    )?;
                }
            }
            (Op::Invert { .. }, Drawn::Invert { .. })
            | (Op::Solarize { .. }, Drawn::Solarize { .. })
            | (Op::Posterize { .. }, Drawn::Posterize { .. })
            | (Op::Autocontrast { .. }, Drawn::Autocontrast { .. })
            | (Op::Equalize { .. }, Drawn::Equalize { .. })
            | (Op::Sharpness { .. }, Drawn::Sharpness { .. })
            | (Op::GaussianBlur { .. }, Drawn::GaussianBlur { .. })
            | (Op::GaussianNoise { .. }, Drawn::GaussianNoise { .. })
            | (Op::Gamma { .. }, Drawn::Gamma { .. })
            | (Op::RandomErasing { .. }, Drawn::RandomErasing { .. })
            | (Op::Perspective { .. }, Drawn::Perspective { .. }) => {}
            (Op::RandomField { amp, fill, .. }, Drawn::RandomField { applied, l, seed })
                if *applied =>
            {
                let a = amp.by_kind();
                let a = [a[0], a[1], a[2].to_radians(), a[3], a[4], a[5], a[6], a[7]];
                field_stage(
                    index,
                    op,
                    *l,
                    *seed,
                    a,
                    *fill,
                    out,
                    &mut cw,
                    &mut ch,
                    &mut stages,
                    &mut field,
                )?;
                for (j, amp) in a[kind::BRIGHTNESS..].iter().enumerate() {
                    if *amp > 0.0 {
                        let c = code::FIELD_BRIGHTNESS + j as f32;
                        let slot = if c == code::FIELD_CONTRAST {
                            n_stats += 1;
                            (n_stats - 1) as f32
                        } else {
                            0.0
                        };
                        prog.push([c, 0.0, slot, 0.0]);
                    }
                }
            }
            (
                Op::Elastic {
                    alpha, sigma, fill, ..
                },
                Drawn::Elastic { applied, seed },
            ) if *applied => {
                let [ax, ay] =
                    crate::ops::elastic_amplitudes(*alpha, *sigma, out.width, out.height);
                let a = [ax, ay, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
                field_stage(
                    index,
                    op,
                    *sigma,
                    *seed,
                    a,
                    *fill,
                    out,
                    &mut cw,
                    &mut ch,
                    &mut stages,
                    &mut field,
                )?;
            }
            (Op::RandomField { .. }, Drawn::RandomField { .. })
            | (Op::Elastic { .. }, Drawn::Elastic { .. }) => {}
            (Op::Normalize { .. }, Drawn::Normalize {}) => {}
            (op, d) => {
                return Err(Error::InvalidArgument(format!(
                    "drawn parameters {d:?} do not belong to op `{}`",
                    op.name()
                )))
            }
        }
        if matches!(
            op,
            Op::Affine {
                antialias: false,
                ..
            } | Op::Resize {
                antialias: false,
                ..
            } | Op::Perspective { .. }
                | Op::Policy { .. }
        ) {
            warps.extend(before..stages.len());
        }
    }
    if drawn.len() != pipeline.ops.len() {
        return Err(Error::InvalidArgument(format!(
            "{} drawn records for {} ops",
            drawn.len(),
            pipeline.ops.len()
        )));
    }
    // The tensor has one size: a canvas of any other size is resized to it.
    if cw != out.width as f64 || ch != out.height as f64 {
        stages.push(Stage {
            map: M3::scale_translate(cw / out.width as f64, ch / out.height as f64, 0.0, 0.0),
            clip: None,
        });
    }
    if prog.len() > MAX_PROG || n_stats as usize > MAX_STATS {
        return Err(Error::InvalidPipeline(format!(
            "a sample drew {} colour steps and {} statistics (at most {MAX_PROG} and {MAX_STATS})",
            prog.len(),
            n_stats
        )));
    }

    // Suffix products: the map from the output to each stage's input canvas.
    let mut g = GpuSample::default();
    let mut suffix = M3::identity();
    let mut clips = Vec::new();
    for s in stages.iter().rev() {
        suffix = s.map.mul(&suffix);
        if let Some((w, h, fill, hard)) = s.clip {
            clips.push(GpuClip {
                r0: suffix.rows([w as f32, 0.0, 0.0])[0],
                r1: suffix.rows([0.0, h as f32, 0.0])[1],
                r2: suffix.rows([0.0, 0.0, if hard { 1.0 } else { 0.0 }])[2],
                fill: [
                    (fill[0] / 255.0) as f32,
                    (fill[1] / 255.0) as f32,
                    (fill[2] / 255.0) as f32,
                    0.0,
                ],
            });
        }
    }
    if clips.len() > MAX_CLIPS {
        return Err(Error::InvalidPipeline(format!(
            "more than {MAX_CLIPS} ops that fill outside the image"
        )));
    }
    clips.reverse(); // innermost (nearest the source) first
    let [m0, m1, m2] = suffix.rows([0.0; 3]);
    // Footprint of one output pixel in the source: supersample when > 2
    // pixels. Like torchvision, only resizes antialias: the footprint is that
    // of the map without the warps (affine unless `antialias = true`, the
    // policies' warps, perspective), so a warp's own scale never blurs.
    let m = &suffix.0;
    let aa = stages
        .iter()
        .enumerate()
        .rev()
        .filter(|(i, _)| !warps.contains(i))
        .fold(M3::identity(), |acc, (_, s)| s.map.mul(&acc));
    let a = &aa.0;
    let taps = |dx: f64, dy: f64| -> u32 {
        let len = (dx * dx + dy * dy).sqrt();
        if nearest || len <= 2.0 || !len.is_finite() {
            1
        } else {
            (len.ceil() as u32).min(MAX_SUPERSAMPLE)
        }
    };
    g.src = [0, src_w, src_h, nearest as u32];
    g.counts = [
        prog.len() as u32,
        taps(a[0][0], a[1][0]),
        taps(a[0][1], a[1][1]),
        clips.len() as u32,
    ];
    g.m0 = m0;
    g.m1 = m1;
    g.m2 = m2;
    for (slot, c) in g.clips.iter_mut().zip(clips) {
        *slot = c;
    }
    for (slot, p) in g.prog.iter_mut().zip(prog) {
        *slot = p;
    }
    g.field = field;
    if let Some((b, v)) = erase {
        g.erase = b;
        g.erase_value = v;
    }
    // Axis-aligned maps with bilinear taps and no fill: the antialiased
    // resampler (src/resample.rs) instead of the gather.
    if !nearest
        && g.counts[3] == 0
        && field.mask() & kind::GEOMETRIC == 0
        && g.is_affine()
        && m[0][1] == 0.0
        && m[1][0] == 0.0
    {
        g.resample = crate::resample::plan(pipeline, drawn, src_w, src_h).unwrap_or_default();
    }
    Ok(g)
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

/// A barrier step with its stat slot (the next free one) in z.
fn barrier(code: f32, y: f32, w: f32, n_stats: &mut u32) -> [f32; 4] {
    *n_stats += 1;
    [code, y, (*n_stats - 1) as f32, w]
}

/// A 32-bit noise key carried in a program step's f32 lane (bit pattern).
fn key_bits(seed: u64) -> f32 {
    f32::from_bits((seed ^ (seed >> 32)) as u32)
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

/// One op a sample drew from a policy: geometric ops become map stages (with
/// a clip stage of the policy's fill), the others colour steps.
#[allow(clippy::too_many_arguments)]
fn policy_step(
    index: usize,
    op: &Op,
    st: &crate::ops::PolicyStep,
    interpolation: Interpolation,
    fill: [f64; 3],
    cw: f64,
    ch: f64,
    stages: &mut Vec<Stage>,
    nearest: &mut bool,
    prog: &mut Vec<[f32; 4]>,
    n_stats: &mut u32,
) -> Result<()> {
    use crate::ops::PolicyOp as P;
    let m = st.magnitude;
    if !m.is_finite() {
        return Err(op_err(
            index,
            op,
            format!("magnitude of {:?} is {m}", st.op),
        ));
    }
    let hard = interpolation.is_nearest();
    let centre = (cw / 2.0, ch / 2.0);
    let mut affine = |center: (f64, f64), angle: f64, translate: [f64; 2], shear: [f64; 2]| {
        stages.push(Stage {
            map: inverse_affine(center, angle, translate, 1.0, shear),
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
    field: &mut GpuField,
) -> Result<()> {
    let longest = out.width.max(out.height) as f64;
    let cap = crate::ops::keys::field::MAX_L_PER_SIDE * longest;
    if !(l.is_finite() && l >= crate::ops::MIN_LENGTH_SCALE && l <= cap) {
        return Err(op_err(index, op, format!(
            "length scale {l} must be in [{}, {}] pixels (100 times the {}x{} output; a longer field is constant: use affine)",
            crate::ops::MIN_LENGTH_SCALE,
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
    *field = GpuField {
        grid: [nodes(w), nodes(h), mask, 0],
        key: [seed as u32, (seed >> 32) as u32, 0, 0],
        geo: [amp[0] as f32, amp[1] as f32, amp[2] as f32, amp[3] as f32],
        color: [amp[4] as f32, amp[5] as f32, amp[6] as f32, amp[7] as f32],
        shape: [inv_l, (w / 2.0) as f32, (h / 2.0) as f32, 0.0],
    };
    Ok(())
}

/// The field kinds (bit k: kind k) any sample of the pipeline can draw.
pub fn field_kinds(pipeline: &Pipeline) -> u32 {
    let bits = |a: [f64; 8]| {
        a.iter()
            .enumerate()
            .filter(|(_, x)| **x > 0.0)
            .fold(0u32, |m, (k, _)| m | 1 << k)
    };
    pipeline.ops.iter().fold(0, |m, op| {
        m | match op {
            Op::RandomField { amp, .. } => bits(amp.by_kind()),
            Op::Elastic { alpha, .. } => bits([alpha[0], alpha[1], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
            _ => 0,
        }
    })
}

/// The size and format every sample of the pipeline comes out in.
pub fn globals(pipeline: &Pipeline, n_samples: u32, pass: u32) -> GpuGlobals {
    let (mean, std) = pipeline.normalization();
    GpuGlobals {
        out: [
            pipeline.size.width,
            pipeline.size.height,
            n_samples,
            match pipeline.format {
                OutputFormat::U8Hwc => 0,
                OutputFormat::F32Chw => 1,
            },
        ],
        pass: [pass, pipeline.stat_slots() as u32, field_kinds(pipeline), 0],
        mean: [mean[0] as f32, mean[1] as f32, mean[2] as f32, 0.0],
        std: [std[0] as f32, std[1] as f32, std[2] as f32, 1.0],
    }
}
