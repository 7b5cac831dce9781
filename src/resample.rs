//! Antialiased resampling of axis-aligned maps, as torchvision's
//! `antialias=True` on uint8 images (ATen's `_upsample_bilinear2d_aa`, the
//! PIL-style separable filter in `UpSampleKernelAVXAntialias.h`): per output
//! pixel and axis, the taps of a filter whose support grows with the
//! downscale factor, weights normalised to sum 1 and rounded to fixed point
//! with a precision chosen per axis; a horizontal pass rounded to u8, then a
//! vertical pass on it, in integer arithmetic.
//!
//! The filter parameters (scale, offset, window, support, precision) are
//! computed here once per sample and handed to both backends in
//! [`GpuResample`]; each backend derives the weights with [`weights`]'s f32
//! arithmetic (the shader twin is `shaders/common/resample.wgsl`), so the
//! fixed-point weights, and with them the integer sums, agree.
//!
//! Non-axis-aligned maps (affine, perspective, random fields) keep the single
//! gather of `shaders/common/sample.wgsl`.

use crate::ops::{Drawn, Interpolation, Op, Size};
use bytemuck::{Pod, Zeroable};

pub use crate::codes::{resample_kind, MAX_RESAMPLE_TAPS};

/// The resampler's parameters for one sample. Keep in sync with `Resample` in
/// `shaders/common/params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuResample {
    /// x axis: scale a and offset b of the map from output pixel centre to the
    /// window (centre = a * (o + 0.5) + b), filter support, 1 / filter scale.
    pub x: [f32; 4],
    /// y axis, as `x`.
    pub y: [f32; 4],
    /// Window in the source: first column, columns, first row, rows.
    pub win: [u32; 4],
    /// Filter kind (`resample_kind`; 0: off), x precision bits, y precision
    /// bits, most taps per axis (x in the low 16 bits, y in the high 16).
    pub mode: [u32; 4],
}

const _: () = assert!(std::mem::size_of::<GpuResample>() == 64);

impl GpuResample {
    /// The sample is resampled by this filter (not the gather).
    pub fn active(&self) -> bool {
        self.mode[0] != resample_kind::OFF
    }
}

/// The filter of `kind` at distance `x` (in filter units): a triangle for
/// bilinear, Keys' cubic with a = -0.5 (PIL's, torchvision's antialiased
/// bicubic) or a = -0.75 (torchvision's bicubic without antialias). Same
/// operations as `rs_filter` in the shader.
#[inline(always)]
pub fn filter(kind: u32, x: f32) -> f32 {
    let x = x.abs();
    if kind == resample_kind::CUBIC || kind == resample_kind::CUBIC_SHARP {
        let a = if kind == resample_kind::CUBIC {
            -0.5f32
        } else {
            -0.75f32
        };
        if x < 1.0 {
            ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
        } else if x < 2.0 {
            (((x - 5.0) * x + 8.0) * x - 4.0) * a
        } else {
            0.0
        }
    } else if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// The taps of output pixel `o` along one axis: first tap (in the window),
/// count, and the normalised f32 weights in `w` (`MAX_RESAMPLE_TAPS` long).
/// `p` is the axis row of [`GpuResample`] (a, b, support, 1 / filter scale),
/// `n` the window length. Mirrors `taps` in the shader step for step.
#[inline(always)]
pub fn weights(kind: u32, p: [f32; 4], n: u32, k: u32, o: u32, w: &mut [f32]) -> (u32, u32) {
    let center = p[0] * (o as f32 + 0.5) + p[1];
    let support = p[2];
    let lo = ((center - support + 0.5).floor() as i32).max(0);
    let hi = ((center + support + 0.5).floor() as i32).min(n as i32);
    let size = (hi - lo).clamp(0, k as i32);
    let mut total = 0.0f32;
    for j in 0..size {
        let v = filter(kind, ((j + lo) as f32 - center + 0.5) * p[3]);
        w[j as usize] = v;
        total += v;
    }
    if total != 0.0 {
        for v in &mut w[..size as usize] {
            *v /= total;
        }
    }
    (lo as u32, size as u32)
}

/// A normalised weight in fixed point with `prec` fraction bits, rounded half
/// away from zero (ATen's `_compute_index_ranges_int16_weights`).
#[inline(always)]
pub fn fixed(w: f32, prec: u32) -> i32 {
    let v = w * (1u32 << prec) as f32;
    if v < 0.0 {
        (v - 0.5) as i32
    } else {
        (v + 0.5) as i32
    }
}

/// A fixed-point sum back to a u8 value: round half up, shift, clamp.
#[inline(always)]
pub fn to_u8(acc: i32, prec: u32) -> i32 {
    ((acc + (1 << (prec - 1))) >> prec).clamp(0, 255)
}

/// ATen's precision: the most fraction bits (< 22) for which twice the
/// largest weight of the axis still fits in an int16.
fn precision(kind: u32, p: [f32; 4], n: u32, k: u32, n_out: u32) -> u32 {
    let mut w = [0.0f32; MAX_RESAMPLE_TAPS as usize];
    let mut max = 0.0f64;
    for o in 0..n_out {
        let (_, size) = weights(kind, p, n, k, o, &mut w);
        for v in &w[..size as usize] {
            max = max.max(*v as f64);
        }
    }
    let mut prec = 0;
    while prec < 22 {
        if (0.5 + max * (1u64 << (prec + 1)) as f64) as i64 >= 1 << 15 {
            break;
        }
        prec += 1;
    }
    prec.max(1)
}

/// Per axis: the canvas maps to the source as `src = k * c + t`.
#[derive(Clone, Copy)]
struct Axis {
    k: f64,
    t: f64,
    len: f64,
    /// The source window of the last resampling (lo, hi), when one happened.
    win: Option<(f64, f64)>,
}

impl Axis {
    /// The identity map of a source side of `len` pixels.
    fn identity(len: u32) -> Self {
        Axis {
            k: 1.0,
            t: 0.0,
            len: len as f64,
            win: None,
        }
    }
    fn crop(&mut self, off: f64, len: f64) -> bool {
        let inside = off >= 0.0 && off + len <= self.len;
        self.t += self.k * off;
        self.len = len;
        inside
    }
    fn resize(&mut self, len: f64) {
        if len != self.len {
            let (a, b) = (self.t, self.t + self.k * self.len);
            self.win = Some((a.min(b), a.max(b)));
            self.k *= self.len / len;
            self.len = len;
        }
    }
    fn flip(&mut self) {
        self.t += self.k * self.len;
        self.k = -self.k;
    }
}

/// The filter kind and antialias flag of a resize's interpolation; `None`
/// for nearest (the gather's single texel).
fn filter_of(i: Interpolation, antialias: bool) -> Option<(u32, bool)> {
    match i {
        Interpolation::Bilinear => Some((resample_kind::TRIANGLE, antialias)),
        Interpolation::Bicubic if antialias => Some((resample_kind::CUBIC, true)),
        Interpolation::Bicubic => Some((resample_kind::CUBIC_SHARP, false)),
        Interpolation::Nearest | Interpolation::NearestExact => None,
    }
}

/// The resampler's parameters for a sample whose drawn ops are all
/// axis-aligned (crops inside their canvas, resizes, flips, colour ops), with
/// bilinear or bicubic sampling; `None` for any other sample (it keeps the
/// gather). The filter is that of the last resize (antialiased unless it is a
/// `resize` with `antialias = false`). `ops` are the pipeline's per-sample
/// ops, `out` its output size (the module needs no `Pipeline`, so the mixing
/// module can use it without a cycle).
pub fn plan(ops: &[Op], out: Size, drawn: &[Drawn], src_w: u32, src_h: u32) -> Option<GpuResample> {
    let (mut ax, mut ay) = (Axis::identity(src_w), Axis::identity(src_h));
    let mut filt = (resample_kind::TRIANGLE, true);
    for (op, d) in ops.iter().zip(drawn) {
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
                let inside =
                    ax.crop(*left as f64, *width as f64) & ay.crop(*top as f64, *height as f64);
                if !inside {
                    return None;
                }
                filt = filter_of(*interpolation, true)?;
                ax.resize(s.width as f64);
                ay.resize(s.height as f64);
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
                let inside =
                    ax.crop(*left as f64, *width as f64) & ay.crop(*top as f64, *height as f64);
                if !inside {
                    return None;
                }
                if let Some(s) = size {
                    filt = filter_of(*interpolation, true)?;
                    ax.resize(s.width as f64);
                    ay.resize(s.height as f64);
                }
            }
            (
                Op::Resize {
                    interpolation,
                    antialias,
                    ..
                },
                Drawn::Resize { height, width },
            ) => {
                filt = filter_of(*interpolation, *antialias)?;
                ax.resize(*width as f64);
                ay.resize(*height as f64);
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
                let inside =
                    ax.crop(*left as f64, *width as f64) & ay.crop(*top as f64, *height as f64);
                if !inside {
                    return None;
                }
            }
            (Op::HorizontalFlip { .. }, Drawn::HorizontalFlip { applied }) => {
                if *applied {
                    ax.flip();
                }
            }
            (Op::VerticalFlip { .. }, Drawn::VerticalFlip { applied }) => {
                if *applied {
                    ay.flip();
                }
            }
            // A half turn is both flips; a quarter turn swaps the axes (the gather).
            (Op::RotationLabel { .. }, Drawn::RotationLabel { k }) => match k {
                0 => {}
                2 => {
                    ax.flip();
                    ay.flip();
                }
                _ => return None,
            },
            (op, _) if !op.is_geometric() => {}
            // A random field without geometric kinds: none at all changes
            // nothing; colour kinds bring the canvas to the output size.
            (Op::RandomField { .. } | Op::Elastic { .. }, _)
                if crate::ops::field::kinds(op) & crate::codes::kind::GEOMETRIC == 0 =>
            {
                if crate::ops::field::kinds(op) != 0 {
                    ax.resize(out.width as f64);
                    ay.resize(out.height as f64);
                }
            }
            // Geometric ops that did not apply leave the map as it is.
            (_, Drawn::Affine { applied: false, .. })
            | (_, Drawn::Perspective { applied: false, .. })
            | (_, Drawn::RandomField { applied: false, .. })
            | (_, Drawn::Elastic { applied: false, .. }) => {}
            _ => return None,
        }
    }
    // The tensor has one size: a canvas of any other size is resized to it.
    ax.resize(out.width as f64);
    ay.resize(out.height as f64);
    // No resampling on either axis: the map is a whole-pixel copy (crops and
    // flips only), which the gather does exactly and at a fraction of the
    // filter's cost (weights of exactly 1 would give the same values).
    if ax.win.is_none() && ay.win.is_none() {
        return None;
    }
    let (kind, antialias) = filt;
    let (px, lx, nx, precx, kx) = axis_params(&ax, kind, antialias, src_w, out.width)?;
    let (py, ly, ny, precy, ky) = axis_params(&ay, kind, antialias, src_h, out.height)?;
    Some(GpuResample {
        x: px,
        y: py,
        win: [lx, nx, ly, ny],
        mode: [kind, precx, precy, kx | ky << 16],
    })
}

/// The resampler's parameters for a whole `src_w` x `src_h` image resized to
/// `out_w` x `out_h` with the antialiased triangle filter: what [`plan`] gives
/// a pipeline without ops of that output size (resizemix's paste uses it, so
/// the pasted partner is the core's resize of it). `None` beyond the
/// resampler's reach (a downscale of more than about 31x).
pub fn resize(src_w: u32, src_h: u32, out_w: u32, out_h: u32) -> Option<GpuResample> {
    let (mut ax, mut ay) = (Axis::identity(src_w), Axis::identity(src_h));
    ax.resize(out_w as f64);
    ay.resize(out_h as f64);
    let kind = resample_kind::TRIANGLE;
    let (px, lx, nx, precx, kx) = axis_params(&ax, kind, true, src_w, out_w)?;
    let (py, ly, ny, precy, ky) = axis_params(&ay, kind, true, src_h, out_h)?;
    Some(GpuResample {
        x: px,
        y: py,
        win: [lx, nx, ly, ny],
        mode: [kind, precx, precy, kx | ky << 16],
    })
}

/// One axis of [`GpuResample`] for the map `a` from an `n_out` long output
/// axis to an `n_src` long source axis: (a, b, support, 1 / filter scale),
/// window start, window length, precision, most taps.
fn axis_params(
    a: &Axis,
    kind: u32,
    antialias: bool,
    n_src: u32,
    n_out: u32,
) -> Option<([f32; 4], u32, u32, u32, u32)> {
    // An axis without a resampling is a whole-pixel copy: a window of the
    // whole source with scale +-1 gives weights of exactly 1.
    let (lo, hi) = a.win.unwrap_or((0.0, n_src as f64));
    // Windows come from whole-pixel crops of the source; after two
    // resamplings (a resize of a resize) the window of the last one is
    // rounded outwards to whole pixels and clamped to the source.
    let (lo, hi) = (lo.floor().max(0.0), hi.ceil().min(n_src as f64));
    if hi <= lo {
        return None;
    }
    // Without antialias the filter keeps its own width (scale 1).
    let scale = if antialias { a.k.abs() } else { 1.0 };
    let support = if scale >= 1.0 { scale } else { 1.0 } * support_of(kind);
    let taps = (support.ceil() as u32) * 2 + 1;
    if taps > MAX_RESAMPLE_TAPS || !support.is_finite() {
        return None;
    }
    let inv = if scale >= 1.0 { 1.0 / scale } else { 1.0 };
    let p = [a.k as f32, (a.t - lo) as f32, support as f32, inv as f32];
    let n = (hi - lo) as u32;
    let prec = precision(kind, p, n, taps, n_out);
    Some((p, lo as u32, n, prec, taps))
}

/// Half the filter's width in filter units (torchvision's interp_size / 2).
fn support_of(kind: u32) -> f64 {
    if kind == resample_kind::CUBIC || kind == resample_kind::CUBIC_SHARP {
        2.0
    } else {
        1.0
    }
}
