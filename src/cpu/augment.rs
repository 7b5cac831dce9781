//! CPU twin of `shaders/augment.wgsl` (and the warp of `shaders/stats.wgsl`).
//!
//! The GPU works pixel by pixel; the CPU does the same arithmetic stage by
//! stage so that it vectorises: warp every output pixel into a u8 image (what
//! the GPU keeps in scratch), then run each colour step over planar f32
//! buffers (reducing statistics where a step needs them, in the lanes and tree
//! of the GPU's reduction), then convert to the output format. Every value is
//! computed with the same operations in the same order as the shader.

use super::color::{adjust_hue, blend1, gray, planar_step, quantize, INV_255};
use super::field::{render, FieldScratch};
use super::gather::{
    bilinear, interleave_rgb, nearest as gather_nearest, pack_rgba, prefetch, prefetch_write, Taps,
};
use super::sample::Src;
use super::stats::lane_mean;
use crate::plan::{code, kind, GpuClip, GpuGlobals, GpuSample};
use std::cell::RefCell;

/// One sample's part of the output tensor.
pub enum OutSlice<'a> {
    /// u8 HWC.
    U8(&'a mut [u8]),
    /// f32 CHW.
    F32(&'a mut [f32]),
}

#[derive(Default)]
struct Scratch {
    q: Vec<u8>,
    r: Vec<f32>,
    g: Vec<f32>,
    b: Vec<f32>,
    rowbufs: Vec<Vec<f32>>,
    cols: Vec<Tap>,
    rows: Vec<Tap>,
    fields: [Vec<f32>; 8],
    field_scratch: FieldScratch,
    cs: Vec<f32>,
    sn: Vec<f32>,
    taps: Taps,
    words: Vec<u32>,
    tmp: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Augments one sample into `out` (u8 HWC: npx * C bytes; f32 CHW: C * npx
/// floats; C = `gl.channels()`, with 1 channel 0 of the final image).
pub fn augment_sample(gl: &GpuGlobals, g: &GpuSample, src: &Src, out: OutSlice) {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        augment_with(gl, g, src, out, &mut s)
    })
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1",
    "aarch64+neon"
))]
fn augment_with(gl: &GpuGlobals, g: &GpuSample, src: &Src, mut out: OutSlice, s: &mut Scratch) {
    let (w, h) = (gl.out[0] as usize, gl.out[1] as usize);
    let npx = w * h;
    let Scratch {
        q,
        r,
        g: gg,
        b,
        rowbufs,
        cols,
        rows,
        fields,
        field_scratch,
        cs,
        sn,
        taps,
        words,
        tmp,
    } = s;
    r.resize(npx, 0.0);
    gg.resize(npx, 0.0);
    b.resize(npx, 0.0);
    let (r, gg, b) = (&mut r[..npx], &mut gg[..npx], &mut b[..npx]);
    // The warped image (u8 values, as the GPU keeps in scratch) goes straight
    // to planar [0, 1] floats: q as f32 * INV_255, as the shader unpacks it.
    let mask = g.field.mask();
    if mask != 0 {
        render(&g.field, w, h, fields, field_scratch);
    } else {
        fields.iter_mut().for_each(Vec::clear);
    }
    if g.resample.active() {
        super::resample::resample(g, src, w, h, [&mut *r, &mut *gg, &mut *b]);
    } else if g.src[3] >> crate::codes::pad_mode::SHIFT != 0 {
        // Folded padding (edge, reflect, symmetric): the shader's warp pixel
        // by pixel (the fast paths clamp their taps).
        for y in 0..h {
            for x in 0..w {
                let c = super::sample::warp_pixel(g, src, x as u32, y as u32);
                let p = y * w + x;
                r[p] = c[0] as f32 * INV_255;
                gg[p] = c[1] as f32 * INV_255;
                b[p] = c[2] as f32 * INV_255;
            }
        }
    } else if is_axis_aligned(g) {
        warp_separable(
            g,
            src,
            w,
            h,
            [&mut *r, &mut *gg, &mut *b],
            rowbufs,
            cols,
            rows,
        );
    } else {
        let field = (mask & kind::GEOMETRIC != 0).then(|| {
            let rs = (mask & kind::ROTATE_SCALE != 0).then(|| {
                // As the shader: s = exp(log-scale); (cos, sin)(theta) * s.
                let plane = |k: usize| (!fields[k].is_empty()).then_some(&fields[k]);
                cs.clear();
                sn.clear();
                for p in 0..npx {
                    let th = plane(kind::ROTATION).map_or(0.0, |f| f[p]);
                    let sc = plane(kind::LOG_SCALE).map_or(0.0, |f| f[p]).exp();
                    cs.push(th.cos() * sc);
                    sn.push(th.sin() * sc);
                }
                (&cs[..], &sn[..])
            });
            let plane = |k: usize| (!fields[k].is_empty()).then_some(&fields[k][..]);
            FieldGeo {
                dx: plane(kind::DX),
                dy: plane(kind::DY),
                rs,
                cen: (g.field.shape[1], g.field.shape[2]),
            }
        });
        // With no colour steps and u8 RGB out, the warped values are the
        // output: written straight to it (see `warp_rows`).
        let direct = match &mut out {
            OutSlice::U8(o) if g.counts[0] == 0 && gl.channels() == 3 => Some(&mut o[..npx * 3]),
            _ => None,
        };
        let direct = direct.map(|o| (o, &mut *q));
        if warp_rows(
            g,
            src,
            w,
            h,
            [&mut *r, &mut *gg, &mut *b],
            rowbufs,
            (taps, words),
            field.as_ref(),
            direct,
        ) {
            return;
        }
    }
    for step in &g.prog[..g.counts[0] as usize] {
        let (op, f) = (step[0], step[1]);
        if op >= code::INVERT {
            planar_step(
                step,
                (g.erase, g.erase_value),
                [&mut *r, &mut *gg, &mut *b],
                w,
                h,
                tmp,
            );
        } else if op >= code::FIELD_BRIGHTNESS {
            // A field step: the plain step with a per-pixel factor (hue: shift).
            // Zipped loops (no indexing) so they vectorise.
            let fv = &fields[kind::BRIGHTNESS + (op - code::FIELD_BRIGHTNESS) as usize][..npx];
            if op == code::FIELD_BRIGHTNESS || op == code::FIELD_CONTRAST {
                let m = if op == code::FIELD_CONTRAST {
                    lane_mean(r, gg, b)
                } else {
                    0.0
                };
                for plane in [&mut *r, &mut *gg, &mut *b] {
                    for (x, &f) in plane.iter_mut().zip(fv) {
                        *x = blend1(*x, m, (1.0 + f).max(0.0));
                    }
                }
            } else if op == code::FIELD_SATURATION {
                for (((r, g), b), &f) in r.iter_mut().zip(gg.iter_mut()).zip(b.iter_mut()).zip(fv) {
                    let gr = gray([*r, *g, *b]);
                    let fp = (1.0 + f).max(0.0);
                    *r = blend1(*r, gr, fp);
                    *g = blend1(*g, gr, fp);
                    *b = blend1(*b, gr, fp);
                }
            } else if op == code::FIELD_HUE {
                for (((r, g), b), &f) in r.iter_mut().zip(gg.iter_mut()).zip(b.iter_mut()).zip(fv) {
                    [*r, *g, *b] = adjust_hue([*r, *g, *b], f);
                }
            }
        } else if op == code::BRIGHTNESS || op == code::CONTRAST {
            let m = if op == code::CONTRAST {
                lane_mean(r, gg, b)
            } else {
                0.0
            };
            for plane in [&mut *r, &mut *gg, &mut *b] {
                for x in plane.iter_mut() {
                    *x = blend1(*x, m, f);
                }
            }
        } else if op == code::SATURATION {
            // Zipped loops (no indexing, no bounds checks) so they vectorise.
            for ((r, g), b) in r.iter_mut().zip(gg.iter_mut()).zip(b.iter_mut()) {
                let gr = gray([*r, *g, *b]);
                *r = blend1(*r, gr, f);
                *g = blend1(*g, gr, f);
                *b = blend1(*b, gr, f);
            }
        } else if op == code::HUE {
            for ((r, g), b) in r.iter_mut().zip(gg.iter_mut()).zip(b.iter_mut()) {
                [*r, *g, *b] = adjust_hue([*r, *g, *b], f);
            }
        } else if op == code::GRAYSCALE {
            for ((r, g), b) in r.iter_mut().zip(gg.iter_mut()).zip(b.iter_mut()) {
                let gr = gray([*r, *g, *b]);
                (*r, *g, *b) = (gr, gr, gr);
            }
        }
    }
    match out {
        // One output channel: channel 0 of the final image.
        OutSlice::U8(o) if gl.channels() == 1 => {
            for (d, x) in o.iter_mut().zip(r.iter()) {
                *d = quantize(*x) as u8;
            }
        }
        OutSlice::F32(o) if gl.channels() == 1 => {
            let (m, sd) = (gl.mean[0], gl.std[0]);
            for (d, x) in o.iter_mut().zip(r.iter()) {
                *d = (x - m) / sd;
            }
        }
        OutSlice::U8(o) => {
            // floor(clamp(x, 0, 1) * 255 + 0.5): the cast truncates a non-negative
            // value. Quantised plane by plane (vectorises), then interleaved.
            q.resize(npx * 3, 0);
            let (qr, rest) = q.split_at_mut(npx);
            let (qg, qb) = rest.split_at_mut(npx);
            for (dst, src) in [(&mut *qr, &*r), (&mut *qg, &*gg), (&mut *qb, &*b)] {
                for (d, x) in dst.iter_mut().zip(src) {
                    *d = quantize(*x) as u8;
                }
            }
            interleave_rgb(qr, qg, qb, &mut o[..npx * 3]);
        }
        OutSlice::F32(o) => {
            let (o0, rest) = o.split_at_mut(npx);
            let (o1, o2) = rest.split_at_mut(npx);
            for (plane, (dst, val)) in [(o0, &*r), (o1, &*gg), (o2, &*b)].into_iter().enumerate() {
                let (m, sd) = (gl.mean[plane], gl.std[plane]);
                for (d, x) in dst.iter_mut().zip(val.iter()) {
                    *d = (x - m) / sd;
                }
            }
        }
    }
}

/// The shader's `clamp(floor(v + 0.5), 0, 255)`: a warped value rounded to u8 (as f32).
#[inline(always)]
fn round_u8(v: f32) -> f32 {
    (v + 0.5).floor().clamp(0.0, 255.0)
}

/// `round_u8` as a byte, for the u8 output: `quantize(round_u8(v) * INV_255)`
/// (NaN included: both give 0). `max` and `min` map NaN to 0, so the value
/// is finite and the unchecked conversion (one vector instruction, where
/// `as u8` is a saturating scalar conversion per lane) is sound.
#[inline(always)]
#[allow(clippy::manual_clamp)] // max/min, not clamp: NaN must map to 0, not stay NaN
fn round_u8_byte(v: f32) -> u8 {
    let c = (v + 0.5).floor().max(0.0).min(255.0);
    debug_assert!((0.0..=255.0).contains(&c));
    // SAFETY: c is finite and in [0, 255].
    unsafe { c.to_int_unchecked::<i32>() as u8 }
}

/// `v` clamped to [0, hi] as an index: the shader's `u32(clamp(v, 0, hi))`.
/// `max` returns 0 for NaN, so the clamped value is always finite and the
/// unchecked conversion (one instruction, where `as` adds saturation fix-ups
/// to every lane) is sound.
#[inline(always)]
fn clamp_index(v: f32, hi: f32) -> u32 {
    let c = v.max(0.0).min(hi);
    debug_assert!(c.is_finite() && (0.0..=hi).contains(&c));
    // SAFETY: c is finite and in [0, hi] with hi < 2^31 (an image side).
    unsafe { c.to_int_unchecked::<i32>() as u32 }
}

/// The per-pixel geometry of a sample's random fields (planes of the output size).
pub(crate) struct FieldGeo<'a> {
    /// Displacement planes (None: that kind is off, a displacement of 0).
    dx: Option<&'a [f32]>,
    dy: Option<&'a [f32]>,
    /// cos(theta) exp(s) and sin(theta) exp(s) per pixel, with rotation or scale fields.
    rs: Option<(&'a [f32], &'a [f32])>,
    /// Canvas centre.
    cen: (f32, f32),
}

/// `warp_pixel` for every pixel, a row at a time: per tap, the coordinates,
/// weights and clip coverages of the whole row are computed in vectorisable
/// loops, then the texels are gathered. Per pixel the values and their order
/// (row tap, column tap, field transform, clip stages in order) are those of
/// `warp_pixel`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn warp_rows(
    g: &GpuSample,
    src: &Src,
    w: usize,
    h: usize,
    mut planes: [&mut [f32]; 3],
    bufs: &mut Vec<Vec<f32>>,
    gather: (&mut Taps, &mut Vec<u32>),
    field: Option<&FieldGeo>,
    mut direct: Option<(&mut [u8], &mut Vec<u8>)>,
) -> bool {
    let (nx, ny) = (g.counts[1], g.counts[2]);
    let affine = g.is_affine();
    let nearest = g.src[3] & 1 != 0;
    let clips = g.active_clips();
    let (hx, hy) = (src.width as f32 - 1.0, src.height as f32 - 1.0);
    bufs.resize_with(bufs.len().max(12), Vec::new);
    for b in bufs.iter_mut() {
        b.resize(w, 0.0);
    }
    let [acc_r, acc_g, acc_b, us, vs, fxs, fys, pxs, pys, cr, cg, cb] = &mut bufs[..12] else {
        return false;
    };
    // One tap per pixel: its value is the sum (0 + v and v / 1 are v, but
    // for the sign of a zero, which rounding ignores), so no accumulators.
    let single = nx * ny == 1;
    let (taps, words) = gather;
    taps.resize(w);
    pack_rgba(src.data, words);
    let sw = src.width;
    let n = (nx * ny) as f32;
    // Column numbers as f32 (an i32 cast vectorises; usize does not).
    let colf: Vec<f32> = (0..w as i32).map(|x| x as f32).collect();
    if let Some((_, q)) = &mut direct {
        q.resize(3 * w, 0);
    }
    // Per column tap: where the first clip may cover each row (see below).
    let plain_first = clips
        .first()
        .filter(|c| fill_is_plain(c) && field.is_none());
    let mut bounds = [None; crate::codes::MAX_SUPERSAMPLE as usize];
    for (i, b) in bounds.iter_mut().enumerate().take(nx as usize) {
        let off = (i as f32 + 0.5) / nx as f32;
        *b = plain_first.and_then(|c| CoverBound::new(c, off, w, h as f32 + 1.0));
    }
    for oy in 0..h {
        if !single {
            acc_r.fill(0.0);
            acc_g.fill(0.0);
            acc_b.fill(0.0);
        }
        let row = oy * w..(oy + 1) * w;
        for j in 0..ny {
            let py = oy as f32 + (j as f32 + 0.5) / ny as f32;
            for i in 0..nx {
                let off = (i as f32 + 0.5) / nx as f32;
                for ((px, qy), &xf) in pxs.iter_mut().zip(pys.iter_mut()).zip(&colf) {
                    *px = xf + off;
                    *qy = py;
                }
                if let Some(f) = field {
                    if let Some((cs, sn)) = f.rs {
                        let (cx, cy) = f.cen;
                        for (((px, qy), &c), &s) in pxs
                            .iter_mut()
                            .zip(pys.iter_mut())
                            .zip(&cs[row.clone()])
                            .zip(&sn[row.clone()])
                        {
                            let (ddx, ddy) = (*px - cx, *qy - cy);
                            *px = cx + (c * ddx - s * ddy);
                            *qy = cy + (s * ddx + c * ddy);
                        }
                    }
                    if let Some(dx) = f.dx {
                        for (px, &d) in pxs.iter_mut().zip(&dx[row.clone()]) {
                            *px += d;
                        }
                    }
                    if let Some(dy) = f.dy {
                        for (qy, &d) in pys.iter_mut().zip(&dy[row.clone()]) {
                            *qy += d;
                        }
                    }
                }
                // With no field, the pixels where the first clip's coverage is
                // provably 0 (`CoverBound`) take its fill whatever their
                // value: they are neither mapped nor gathered.
                let (x0, x1) = match &bounds[i as usize] {
                    Some(b) => b.span8(py),
                    None => (0, w),
                };
                let uv = us[x0..x1]
                    .iter_mut()
                    .zip(vs[x0..x1].iter_mut())
                    .zip(pxs[x0..x1].iter().zip(pys[x0..x1].iter()));
                if affine {
                    // w = 1 exactly: no divide (as the shader without MAY_PROJECTIVE).
                    for ((u, v), (&px, &qy)) in uv {
                        *u = g.m0[0] * px + g.m0[1] * qy + g.m0[2];
                        *v = g.m1[0] * px + g.m1[1] * qy + g.m1[2];
                    }
                } else {
                    for ((u, v), (&px, &qy)) in uv {
                        let ww = g.m2[0] * px + g.m2[1] * qy + g.m2[2];
                        *u = (g.m0[0] * px + g.m0[1] * qy + g.m0[2]) / ww;
                        *v = (g.m1[0] * px + g.m1[1] * qy + g.m1[2]) / ww;
                    }
                }
                // Taps and weights of pixel x0 + k at k.
                for (((((u, v), (fx, fy)), ta), tb), (tc, td)) in us[x0..x1]
                    .iter()
                    .zip(vs[x0..x1].iter())
                    .zip(fxs.iter_mut().zip(fys.iter_mut()))
                    .zip(taps.a.iter_mut())
                    .zip(taps.b.iter_mut())
                    .zip(taps.c.iter_mut().zip(taps.d.iter_mut()))
                {
                    let (xx, yy) = if nearest {
                        (u.floor(), v.floor())
                    } else {
                        (u - 0.5, v - 0.5)
                    };
                    let (x0, y0) = (xx.floor(), yy.floor());
                    *fx = xx - x0;
                    *fy = yy - y0;
                    let xa = clamp_index(x0, hx);
                    let xb = clamp_index(x0 + 1.0, hx);
                    let ya = clamp_index(y0, hy) * sw;
                    let yb = clamp_index(y0 + 1.0, hy) * sw;
                    (*ta, *tb, *tc, *td) = (ya + xa, ya + xb, yb + xa, yb + xb);
                }
                let (cr, cg, cb) = (&mut cr[..w], &mut cg[..w], &mut cb[..w]);
                let gathered = [&mut cr[x0..x1], &mut cg[x0..x1], &mut cb[x0..x1]];
                if nearest {
                    gather_nearest(words, taps, gathered, x1 - x0);
                } else {
                    bilinear(words, taps, fxs, fys, gathered, x1 - x0);
                }
                for (k, clip) in clips.iter().enumerate() {
                    let fill = clip.fill.map(|f| f * 255.0);
                    // The first clip: its fill outside x0..x1, where
                    // `v * cv + fill * (1 - cv)` with cv = 0 gives
                    // `0 + fill * 1` for every finite v >= 0 (all gathered
                    // values) and fill >= +0 (`fill_is_plain`).
                    let (lo, hi) = if k == 0 {
                        for (c, f) in [&mut *cr, &mut *cg, &mut *cb].into_iter().zip(fill) {
                            let outside = 0.0 + f * (1.0 - 0.0);
                            c[..x0].fill(outside);
                            c[x1..].fill(outside);
                        }
                        (x0, x1)
                    } else {
                        (0, w)
                    };
                    let px_rgb = pxs[lo..hi]
                        .iter()
                        .zip(pys[lo..hi].iter())
                        .zip(cr[lo..hi].iter_mut())
                        .zip(cg[lo..hi].iter_mut())
                        .zip(cb[lo..hi].iter_mut());
                    if clip.is_affine() && clip.r2[3] <= 0.5 {
                        // `coverage` for a soft affine clip, inlined so the loop vectorises.
                        for ((((&px, &py), r), g), b) in px_rgb {
                            let u = clip.r0[0] * px + clip.r0[1] * py + clip.r0[2];
                            let v = clip.r1[0] * px + clip.r1[1] * py + clip.r1[2];
                            let cv = (u + 0.5).clamp(0.0, 1.0)
                                * (clip.r0[3] + 0.5 - u).clamp(0.0, 1.0)
                                * (v + 0.5).clamp(0.0, 1.0)
                                * (clip.r1[3] + 0.5 - v).clamp(0.0, 1.0);
                            *r = *r * cv + fill[0] * (1.0 - cv);
                            *g = *g * cv + fill[1] * (1.0 - cv);
                            *b = *b * cv + fill[2] * (1.0 - cv);
                        }
                    } else if clip.is_affine() {
                        // `coverage` for a hard affine clip, branch-free so it vectorises.
                        for ((((&px, &py), r), g), b) in px_rgb {
                            let u = clip.r0[0] * px + clip.r0[1] * py + clip.r0[2];
                            let v = clip.r1[0] * px + clip.r1[1] * py + clip.r1[2];
                            let inside =
                                (u >= 0.0) & (u < clip.r0[3]) & (v >= 0.0) & (v < clip.r1[3]);
                            let cv = inside as u32 as f32;
                            *r = *r * cv + fill[0] * (1.0 - cv);
                            *g = *g * cv + fill[1] * (1.0 - cv);
                            *b = *b * cv + fill[2] * (1.0 - cv);
                        }
                    } else {
                        for ((((&px, &py), r), g), b) in px_rgb {
                            let cv = super::sample::coverage(clip, px, py);
                            *r = *r * cv + fill[0] * (1.0 - cv);
                            *g = *g * cv + fill[1] * (1.0 - cv);
                            *b = *b * cv + fill[2] * (1.0 - cv);
                        }
                    }
                }
                if !single {
                    for (acc, c) in [
                        (&mut **acc_r, &*cr),
                        (&mut **acc_g, &*cg),
                        (&mut **acc_b, &*cb),
                    ] {
                        for (a, &v) in acc.iter_mut().zip(c) {
                            *a += v;
                        }
                    }
                }
            }
        }
        let sums = if single {
            [&**cr, &**cg, &**cb]
        } else {
            [&**acc_r, &**acc_g, &**acc_b]
        };
        if let Some((o, q)) = &mut direct {
            // The u8 output itself: `quantize(round_u8(v) * INV_255)` is
            // `round_u8(v)` for each of the 256 values (a unit test checks).
            let (qr, rest) = q.split_at_mut(w);
            let (qg, qb) = rest.split_at_mut(w);
            for (dst, acc) in [
                (&mut *qr, sums[0]),
                (&mut *qg, sums[1]),
                (&mut *qb, sums[2]),
            ] {
                for (d, &a) in dst.iter_mut().zip(acc) {
                    *d = round_u8_byte(a / n);
                }
            }
            // The output 2 rows on, fetched for writing (the batch tensor
            // is out of cache).
            if let Some(ahead) = o.get(3 * (row.start + 2 * w)..3 * (row.end + 2 * w)) {
                prefetch_write(ahead);
            }
            interleave_rgb(qr, qg, qb, &mut o[3 * row.start..3 * row.end]);
            continue;
        }
        let [r, gg, b] = &mut planes;
        for (dst, acc) in [
            (&mut r[row.clone()], sums[0]),
            (&mut gg[row.clone()], sums[1]),
            (&mut b[row], sums[2]),
        ] {
            for (d, &a) in dst.iter_mut().zip(acc) {
                *d = round_u8(a / n) * INV_255;
            }
        }
    }
    direct.is_some()
}

/// A clip whose fill is finite and not negative (nor -0): outside its canvas
/// the blend then gives exactly `0 + fill * 1`, whatever the (finite, >= 0)
/// value it replaces.
fn fill_is_plain(c: &GpuClip) -> bool {
    c.fill[..3]
        .iter()
        .all(|f| f.is_finite() && f.is_sign_positive())
}

/// Where an affine clip's coverage may be above 0 along the rows of a warp
/// with no field (points `x + off`, `py` for pixel x of the row at `py`).
/// The canvas coordinates are linear in x, so the pixels whose coordinate
/// may fall where an edge factor is not 0 (soft: t in [-0.5, size + 0.5],
/// hard: [0, size]) form an interval; it is solved in f64 and widened by a
/// bound on the f32 evaluation's error (every operand's magnitude times
/// 2^-20, more than the four roundings and the point's own can add) and by
/// two pixels. Outside it the coverage is exactly 0.
#[derive(Clone, Copy, Debug)]
struct CoverBound {
    w: usize,
    /// Per canvas axis: slope a, 1 / a, a * off + k, b (the row's factor),
    /// and the widened range of t.
    axes: [(f64, f64, f64, f64, f64, f64); 2],
}

impl CoverBound {
    /// The bound for rows of `w` pixels with |py| at most `py_max`, or None
    /// for a projective clip or values that are not finite.
    fn new(c: &GpuClip, off: f32, w: usize, py_max: f32) -> Option<CoverBound> {
        let finite = c.r0.iter().chain(&c.r1).all(|v| v.is_finite())
            && off.is_finite()
            && py_max.is_finite();
        if !c.is_affine() || !finite {
            return None;
        }
        let hard = c.r2[3] > 0.5;
        let (off, py_max) = (f64::from(off), f64::from(py_max.abs()));
        let axis = |r: &[f32; 4]| {
            let [a, b, k, size] = r.map(f64::from);
            let err = (a.abs() * (w as f64 + off.abs()) + b.abs() * py_max + k.abs() + size + 1.0)
                * (1.0 / (1u64 << 20) as f64);
            let (t0, t1) = if hard {
                (0.0, size)
            } else {
                (-0.5, size + 0.5)
            };
            (a, 1.0 / a, a * off + k, b, t0 - err, t1 + err)
        };
        Some(CoverBound {
            w,
            axes: [axis(&c.r0), axis(&c.r1)],
        })
    }

    /// The pixels of the row at `py` (|py| at most the bound's `py_max`)
    /// outside which the coverage is exactly 0.
    #[inline]
    fn span(&self, py: f32) -> (usize, usize) {
        let w = self.w;
        let (mut lo, mut hi) = (0.0f64, w as f64);
        for &(a, inv, k1, b, t0, t1) in &self.axes {
            // t(x) = a x + k0 for the pixel x.
            let k0 = k1 + b * f64::from(py);
            if a == 0.0 {
                if !(t0..=t1).contains(&k0) {
                    return (0, 0);
                }
                continue;
            }
            let (e0, e1) = ((t0 - k0) * inv, (t1 - k0) * inv);
            lo = lo.max(e0.min(e1) - 2.0);
            hi = hi.min(e0.max(e1) + 2.0);
        }
        if lo >= hi {
            return (0, 0);
        }
        (
            (lo.floor().max(0.0) as usize).min(w),
            (hi.ceil().max(0.0) as usize).min(w),
        )
    }

    /// `span` in whole groups of 8 from its start (the gather's width), the
    /// end rounded up within the row.
    #[inline]
    fn span8(&self, py: f32) -> (usize, usize) {
        let (x0, x1) = self.span(py);
        let x0 = x0 & !7;
        (x0, ((x1 + 7) & !7).min(self.w).max(x0))
    }
}

/// A map that scales and translates only, with no clip stages and bilinear
/// taps: rows and columns interpolate independently (supersampled or not).
fn is_axis_aligned(g: &GpuSample) -> bool {
    g.field.mask() & kind::GEOMETRIC == 0
        && g.m0[1] == 0.0
        && g.m1[0] == 0.0
        && g.is_affine()
        && g.src[3] & 1 == 0
        && g.active_clips().iter().all(|c| {
            // Soft-edged, axis-aligned clip canvases factor into x and y too.
            c.r0[1] == 0.0 && c.r1[0] == 0.0 && c.is_affine() && c.r2[3] <= 0.5
        })
}

/// One bilinear tap along an axis: source indices 0 and 1, weight of index 1.
#[derive(Clone, Copy, Default)]
pub(crate) struct Tap {
    i0: usize,
    i1: usize,
    f: f32,
}

/// The `n` taps of each of `n_out` output positions along one axis, with the
/// arithmetic of `warp_pixel` / `sample_at` (the other axis contributes an
/// exact zero, and the projective divide is by exactly 1).
#[inline(always)]
fn taps(n_out: usize, n: u32, scale: f32, offset: f32, n_src: u32, out: &mut Vec<Tap>) {
    out.clear();
    let hi = n_src as f32 - 1.0;
    for o in 0..n_out {
        for i in 0..n {
            let pc = o as f32 + (i as f32 + 0.5) / n as f32;
            let u = scale * pc + offset;
            let x = u - 0.5;
            let x0 = x.floor();
            out.push(Tap {
                i0: x0.clamp(0.0, hi) as i32 as usize,
                i1: (x0 + 1.0).clamp(0.0, hi) as i32 as usize,
                f: x - x0,
            });
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn warp_separable(
    g: &GpuSample,
    src: &Src,
    w: usize,
    h: usize,
    mut planes: [&mut [f32]; 3],
    bufs: &mut Vec<Vec<f32>>,
    cols: &mut Vec<Tap>,
    rows: &mut Vec<Tap>,
) {
    let (nx, ny) = (g.counts[1] as usize, g.counts[2] as usize);
    taps(h, ny as u32, g.m1[1], g.m1[2], src.height, rows);
    taps(w, nx as u32, g.m0[0], g.m0[2], src.width, cols);
    let clips = g.active_clips();
    // Clip stages: the x factor of `coverage` per column tap (tap-major),
    // (u + 0.5).clamp(0, 1) * (width + 0.5 - u).clamp(0, 1).
    let cux: Vec<Vec<f32>> = clips
        .iter()
        .map(|c| {
            let mut v = vec![0.0; nx * w];
            for x in 0..w {
                for i in 0..nx {
                    let px = x as f32 + (i as f32 + 0.5) / nx as f32;
                    let u = c.r0[0] * px + c.r0[2];
                    v[i * w + x] = (u + 0.5).clamp(0.0, 1.0) * (c.r0[3] + 0.5 - u).clamp(0.0, 1.0);
                }
            }
            v
        })
        .collect();
    if nx == 1 && ny == 1 && cols.iter().chain(rows.iter()).all(|t| t.f == 0.0) {
        // Every tap sits on a texel centre (flips, integer crops, identity):
        // the bilinear formula gives that texel exactly, so copy it, then
        // apply the clip stages and rounding as the general path does.
        let sw = src.width as usize * 3;
        let [r, g, b] = &mut planes;
        // Columns that step one texel at a time (identity, integer crops):
        // a contiguous run of the source row.
        let run = cols
            .first()
            .map(|c0| c0.i0)
            .filter(|&x0| cols.iter().enumerate().all(|(x, c)| c.i0 == x0 + x));
        for (oy, t) in rows.iter().enumerate() {
            let line = &src.data[t.i0 * sw..(t.i0 + 1) * sw];
            let row = oy * w..(oy + 1) * w;
            // The source row 4 rows on (reading the source bounds this loop).
            if let Some(ahead) = rows.get(oy + 4) {
                prefetch(&src.data[ahead.i0 * sw..(ahead.i0 + 1) * sw]);
            }
            if let (Some(x0), true) = (run, clips.is_empty()) {
                let texels = line[x0 * 3..(x0 + w) * 3].chunks_exact(3);
                for (((px, r), g), b) in texels
                    .zip(&mut r[row.clone()])
                    .zip(&mut g[row.clone()])
                    .zip(&mut b[row])
                {
                    *r = px[0] as f32 * INV_255;
                    *g = px[1] as f32 * INV_255;
                    *b = px[2] as f32 * INV_255;
                }
                continue;
            }
            let dst = cols
                .iter()
                .zip(&mut r[row.clone()])
                .zip(&mut g[row.clone()])
                .zip(&mut b[row]);
            if clips.is_empty() {
                for (((c, r), g), b) in dst {
                    let px = &line[c.i0 * 3..c.i0 * 3 + 3];
                    *r = px[0] as f32 * INV_255;
                    *g = px[1] as f32 * INV_255;
                    *b = px[2] as f32 * INV_255;
                }
                continue;
            }
            // The y factors of each clip's coverage for this row.
            let py = oy as f32 + 0.5;
            let mut cvs = [(0.0f32, 0.0f32); crate::plan::MAX_CLIPS];
            for (cv, c) in cvs.iter_mut().zip(clips) {
                let v = c.r1[1] * py + c.r1[2];
                *cv = (
                    (v + 0.5).clamp(0.0, 1.0),
                    (c.r1[3] + 0.5 - v).clamp(0.0, 1.0),
                );
            }
            for (x, (((col, r), g), b)) in dst.enumerate() {
                let px = &line[col.i0 * 3..col.i0 * 3 + 3];
                let mut c = [px[0] as f32, px[1] as f32, px[2] as f32];
                for ((clip, cx), (cv0, cv1)) in clips.iter().zip(&cux).zip(cvs) {
                    let cov = cx[x] * cv0 * cv1;
                    for (ck, f) in c.iter_mut().zip(clip.fill) {
                        *ck = *ck * cov + f * 255.0 * (1.0 - cov);
                    }
                }
                *r = round_u8(c[0]) * INV_255;
                *g = round_u8(c[1]) * INV_255;
                *b = round_u8(c[2]) * INV_255;
            }
        }
        return;
    }
    let n = (nx * ny) as f32;
    let mut acc = vec![0.0f32; w * 3];
    // Only the source columns the taps touch are interpolated vertically.
    let x_lo = cols.iter().map(|t| t.i0.min(t.i1)).min().unwrap_or(0);
    let x_hi = cols.iter().map(|t| t.i0.max(t.i1)).max().unwrap_or(0) + 1;
    bufs.resize_with(bufs.len().max(1), Vec::new);
    let vrow = &mut bufs[0];
    vrow.resize(src.width as usize * 3, 0.0);
    let sw = src.width as usize * 3;
    for oy in 0..h {
        acc.iter_mut().for_each(|a| *a = 0.0);
        for (j, t) in rows[oy * ny..(oy + 1) * ny].iter().enumerate() {
            // Columns first, as `sample_at`: left/right = a + (c - a) * fy, over
            // the whole span of the two source rows at once (vectorises) ...
            let (l0, l1) = (
                &src.data[t.i0 * sw..(t.i0 + 1) * sw],
                &src.data[t.i1 * sw..(t.i1 + 1) * sw],
            );
            let fy = t.f;
            for ((v, &a), &c) in vrow[x_lo * 3..x_hi * 3]
                .iter_mut()
                .zip(&l0[x_lo * 3..x_hi * 3])
                .zip(&l1[x_lo * 3..x_hi * 3])
            {
                let (a, c) = (a as f32, c as f32);
                *v = a + (c - a) * fy;
            }
            // ... then across, per column tap: left + (right - left) * fx.
            // Per pixel the taps add in the shader's order (row tap outer,
            // column tap inner).
            let py = oy as f32 + (j as f32 + 0.5) / ny as f32;
            let mut cvs = [(0.0f32, 0.0f32); crate::plan::MAX_CLIPS];
            for (cv, c) in cvs.iter_mut().zip(clips) {
                let v = c.r1[1] * py + c.r1[2];
                *cv = (
                    (v + 0.5).clamp(0.0, 1.0),
                    (c.r1[3] + 0.5 - v).clamp(0.0, 1.0),
                );
            }
            for (x, (a, taps)) in acc
                .chunks_exact_mut(3)
                .zip(cols.chunks_exact(nx))
                .enumerate()
            {
                for (i, tp) in taps.iter().enumerate() {
                    let (l, r) = (
                        &vrow[tp.i0 * 3..tp.i0 * 3 + 3],
                        &vrow[tp.i1 * 3..tp.i1 * 3 + 3],
                    );
                    let mut c = [
                        l[0] + (r[0] - l[0]) * tp.f,
                        l[1] + (r[1] - l[1]) * tp.f,
                        l[2] + (r[2] - l[2]) * tp.f,
                    ];
                    for ((clip, cx), (cv0, cv1)) in clips.iter().zip(&cux).zip(cvs) {
                        let cov = cx[i * w + x] * cv0 * cv1;
                        for (ck, f) in c.iter_mut().zip(clip.fill) {
                            *ck = *ck * cov + f * 255.0 * (1.0 - cov);
                        }
                    }
                    a[0] += c[0];
                    a[1] += c[1];
                    a[2] += c[2];
                }
            }
        }
        let [r, g, b] = &mut planes;
        let row = oy * w..(oy + 1) * w;
        for (((a, r), g), b) in acc
            .chunks_exact(3)
            .zip(&mut r[row.clone()])
            .zip(&mut g[row.clone()])
            .zip(&mut b[row])
        {
            // floor(acc / n + 0.5) clamped to [0, 255]: the cast truncates a non-negative value.
            *r = round_u8(a[0] / n) * INV_255;
            *g = round_u8(a[1] / n) * INV_255;
            *b = round_u8(a[2] / n) * INV_255;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::color::quantize;

    /// The direct u8 path of `warp_rows` writes `round_u8_byte(v)` where the
    /// planar path writes `quantize(round_u8(v) * INV_255)`: equal for every
    /// warped value, each of the 256 levels and the points between them,
    /// out of range and NaN.
    #[test]
    fn direct_u8_rounding_equals_the_planar_path() {
        let mut values: Vec<f32> = vec![f32::NAN, -1e9, -1.0, -0.0, 255.49, 255.5, 256.0, 1e9];
        for k in 0..=256 {
            for d in [-0.5f32, -0.25, -1e-3, 0.0, 1e-3, 0.25, 0.4999, 0.5] {
                values.push(k as f32 + d);
            }
        }
        for v in values {
            assert_eq!(
                round_u8_byte(v) as u32,
                quantize(round_u8(v) * INV_255),
                "warped value {v}"
            );
        }
    }

    /// `CoverBound` against `coverage` pixel by pixel: outside the span
    /// (before its rounding to groups of 8) every pixel's coverage is exactly
    /// 0, for soft and hard clips at many angles, scales, offsets and rows;
    /// it is not much wider than the pixels actually covered; and the
    /// rounded span holds it and starts on a multiple of 8.
    #[test]
    fn cover_bound_holds_every_covered_pixel() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (mut cut, mut slack) = (0usize, 0usize);
        for trial in 0..6000 {
            let w = [1usize, 2, 7, 64, 224, 301][trial % 6];
            let th = match trial % 5 {
                0 => 0.0,
                1 => std::f32::consts::FRAC_PI_2,
                _ => rng.random_range(-3.2..3.2f32),
            };
            let s: f32 = rng.random_range(0.3..3.0);
            let (c, sn) = (th.cos() * s, th.sin() * s);
            let clip = GpuClip {
                r0: [
                    c,
                    -sn,
                    rng.random_range(-300.0..300.0),
                    rng.random_range(1.0..400.0),
                ],
                r1: [
                    sn,
                    c,
                    rng.random_range(-300.0..300.0),
                    rng.random_range(1.0..400.0),
                ],
                r2: [0.0, 0.0, 1.0, if trial % 2 == 0 { 1.0 } else { 0.0 }],
                fill: [0.2, 0.4, 0.6, 0.0],
            };
            let off = [0.5f32, 0.25, 0.75, 1.0 / 6.0][trial % 4];
            let py = rng.random_range(-50.0..350.0f32).round() + off;
            let bound = CoverBound::new(&clip, off, w, 400.0).expect("an affine clip");
            let (a0, a1) = bound.span8(py);
            assert!(a0 % 8 == 0 && a0 <= a1 && a1 <= w, "{a0}..{a1} of {w}");
            let (x0, x1) = bound.span(py);
            assert!(
                a0 <= x0 && x1 <= a1 && (a1 == w || a1 % 8 == 0),
                "{a0}..{a1} {x0}..{x1}"
            );
            let covered: Vec<usize> = (0..w)
                .filter(|&x| crate::cpu::sample::coverage(&clip, x as i32 as f32 + off, py) != 0.0)
                .collect();
            for &x in &covered {
                assert!(
                    (x0..x1).contains(&x),
                    "trial {trial}: pixel {x} covered, span {x0}..{x1}"
                );
            }
            if covered.is_empty() {
                slack += x1 - x0;
            } else {
                slack += (x1 - x0) - (covered[covered.len() - 1] + 1 - covered[0]);
            }
            cut += w - (x1 - x0);
        }
        // The bound is tight: over these rows 1,157 pixels in all (a margin
        // of 9 pixels instead of 2 makes it 2,643).
        assert!(slack < 1600, "slack {slack}");
        assert!(cut > 100_000, "too few pixels skipped: {cut}");
        // Projective clips keep the whole row.
        let proj = GpuClip {
            r2: [1e-3, 0.0, 1.0, 0.0],
            ..Default::default()
        };
        assert!(CoverBound::new(&proj, 0.5, 10, 10.0).is_none());
    }
}
