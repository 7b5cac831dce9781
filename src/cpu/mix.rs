//! CPU twin of `shaders/mix.wgsl`: the mixing pass over an augmented batch.
//!
//! The shader works pixel by pixel; this twin works a row span at a time so
//! that it vectorises, with the same arithmetic per value: blends are
//! `a * lam + b * (1 - lam)` in f32; resizes are the core's antialiased
//! resampler (`src/cpu/resample.rs`: the same fixed-point weights and integer
//! sums on u8; on f32 the same weights as f32, w / 2^prec, without rounding
//! between the passes), or where the resampler cannot reach, the core's
//! bilinear taps (columns first, edge-clamped) averaged over the
//! supersampling grid; u8 results round half up (the shader's
//! `clamp(floor(x + 0.5), 0, 255)`; for x >= 0 truncation is floor).

use super::resample::{resample_u8, AxisTaps};
use crate::mix::{kind, GpuMix, GpuMixGlobals};
use crate::plan::FORMAT_GREY;
use crate::resample::{to_u8, GpuResample};
use crate::{Tensor, TensorMut};
use rayon::prelude::*;

/// Mixes the whole augmented batch `input` into `out` (same layout): output
/// sample i reads sample i and its partner. Works for any partner table.
pub fn run_mix(gl: &GpuMixGlobals, mixes: &[GpuMix], input: &Tensor, out: TensorMut) {
    if let Some(rgb) = grey_as_rgb(gl) {
        let npx = (gl.out[0] * gl.out[1]) as usize;
        let wide = expand(input, npx);
        let mut mixed = wide.clone();
        run_mix(&rgb, mixes, &wide, mixed.view_mut());
        compact(&mixed, npx, out);
        return;
    }
    let (w, h) = (gl.out[0] as usize, gl.out[1] as usize);
    let per = w * h * 3;
    match (input, out) {
        (Tensor::U8(a), TensorMut::U8(o)) => {
            o.par_chunks_mut(per)
                .zip(mixes.par_iter())
                .enumerate()
                .for_each(|(i, (o, m))| {
                    o.copy_from_slice(&a[i * per..(i + 1) * per]);
                    mix_u8(w, h, m, o, partner(a, m, per));
                });
        }
        (Tensor::F32(a), TensorMut::F32(o)) => {
            o.par_chunks_mut(per)
                .zip(mixes.par_iter())
                .enumerate()
                .for_each(|(i, (o, m))| {
                    o.copy_from_slice(&a[i * per..(i + 1) * per]);
                    mix_f32(w, h, m, o, partner(a, m, per));
                });
        }
        // f16 (not what the engine runs: it mixes the f32 values and rounds
        // once): the f16 values widened (exactly), mixed, rounded again.
        (Tensor::F16(a), TensorMut::F16(o)) => {
            let wide = Tensor::F32(a.iter().map(|x| x.to_f32()).collect());
            let mut mixed = vec![0f32; o.len()];
            run_mix(gl, mixes, &wide, TensorMut::F32(&mut mixed));
            crate::half_out::round_into(&mixed, o);
        }
        // Layouts always match (the engine allocates both); nothing to do otherwise.
        _ => {}
    }
}

/// Mixes the augmented batch in `data` in place, with the same values as
/// [`run_mix`], when the partners form a permutation (what `Mix::draw`
/// gives); returns false, leaving `data` as it was, otherwise.
///
/// Every output needs its partner's *unmixed* values, so each cycle of the
/// permutation is walked in order (sample c_k, whose partner is c_k+1, before
/// c_k+1 is overwritten), cut into pieces that run in parallel; the first
/// sample of every piece is copied aside beforehand for the piece before it.
/// This saves the second tensor and a third of the memory traffic.
pub fn run_mix_in_place(gl: &GpuMixGlobals, mixes: &[GpuMix], data: TensorMut) -> bool {
    if let Some(rgb) = grey_as_rgb(gl) {
        let npx = (gl.out[0] * gl.out[1]) as usize;
        let wide = expand(&tensor_ref(&data), npx);
        let mut mixed = wide.clone();
        if !run_mix_in_place(&rgb, mixes, mixed.view_mut()) {
            run_mix(&rgb, mixes, &wide, mixed.view_mut());
        }
        compact(&mixed, npx, data);
        return true;
    }
    let (w, h) = (gl.out[0] as usize, gl.out[1] as usize);
    let Some(pieces) = cycle_pieces(mixes, rayon::current_num_threads()) else {
        return false;
    };
    match data {
        TensorMut::U8(d) => HEADS_U8.with(|heads| {
            in_place(d, w * h * 3, &pieces, &mut heads.borrow_mut(), |i, o, b| {
                mix_u8(w, h, &mixes[i], o, b)
            })
        }),
        TensorMut::F32(d) => HEADS_F32.with(|heads| {
            in_place(d, w * h * 3, &pieces, &mut heads.borrow_mut(), |i, o, b| {
                mix_f32(w, h, &mixes[i], o, b)
            })
        }),
        // f16: as in `run_mix`, through the widened values.
        TensorMut::F16(d) => {
            let mut wide: Vec<f32> = d.iter().map(|x| x.to_f32()).collect();
            run_mix_in_place(gl, mixes, TensorMut::F32(&mut wide));
            crate::half_out::round_into(&wide, d);
        }
    }
    true
}

/// One-channel outputs (format bit `FORMAT_GREY`) mix as three equal
/// channels: every kind mixes channel by channel, so channel 0 of the
/// three-channel mix is the one-channel mix (the kernel reads a one-channel
/// f32 plane as three equal channels too; on u8 it mixes the main pass's
/// RGB words, whose first byte is the output). The globals for that, or
/// None for three-channel outputs.
fn grey_as_rgb(gl: &GpuMixGlobals) -> Option<GpuMixGlobals> {
    (gl.out[3] & FORMAT_GREY != 0).then(|| GpuMixGlobals {
        out: [gl.out[0], gl.out[1], gl.out[2], gl.out[3] & !FORMAT_GREY],
    })
}

/// A one-channel batch (`npx` pixels a sample) as three equal channels, in
/// the same layout (u8 HWC, f32 CHW).
fn expand(t: &Tensor, npx: usize) -> Tensor {
    match t {
        Tensor::U8(v) => Tensor::U8(v.iter().flat_map(|&x| [x; 3]).collect()),
        Tensor::F32(v) => Tensor::F32(
            v.chunks(npx.max(1))
                .flat_map(|plane| plane.iter().chain(plane).chain(plane).copied())
                .collect(),
        ),
        Tensor::F16(v) => Tensor::F16(
            v.chunks(npx.max(1))
                .flat_map(|plane| plane.iter().chain(plane).chain(plane).copied())
                .collect(),
        ),
    }
}

/// Channel 0 of a three-channel batch into the one-channel `out`.
fn compact(t: &Tensor, npx: usize, out: TensorMut) {
    match (t, out) {
        (Tensor::U8(v), TensorMut::U8(o)) => {
            for (d, px) in o.iter_mut().zip(v.chunks_exact(3)) {
                *d = px[0];
            }
        }
        (Tensor::F32(v), TensorMut::F32(o)) => {
            for (d, s) in o.chunks_mut(npx.max(1)).zip(v.chunks(3 * npx.max(1))) {
                d.copy_from_slice(&s[..d.len()]);
            }
        }
        (Tensor::F16(v), TensorMut::F16(o)) => {
            for (d, s) in o.chunks_mut(npx.max(1)).zip(v.chunks(3 * npx.max(1))) {
                d.copy_from_slice(&s[..d.len()]);
            }
        }
        _ => {}
    }
}

fn tensor_ref(t: &TensorMut<'_>) -> Tensor {
    match t {
        TensorMut::U8(v) => Tensor::U8(v.to_vec()),
        TensorMut::F32(v) => Tensor::F32(v.to_vec()),
        TensorMut::F16(v) => Tensor::F16(v.to_vec()),
    }
}

thread_local! {
    // The copies of the pieces' first samples, kept between batches (a fresh
    // allocation would page-fault on every batch).
    static HEADS_U8: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    static HEADS_F32: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A run of one cycle: samples in cycle order, then the sample after the last.
struct Piece {
    ids: Vec<usize>,
    next: usize,
}

/// The partner permutation's cycles cut into about `parts` pieces (None when
/// the partners are not a permutation).
fn cycle_pieces(mixes: &[GpuMix], parts: usize) -> Option<Vec<Piece>> {
    let n = mixes.len();
    let partner = |i: usize| mixes[i].kind[1] as usize;
    let mut hit = vec![false; n];
    for i in 0..n {
        let j = partner(i);
        if j >= n || hit[j] {
            return None;
        }
        hit[j] = true;
    }
    let len = n.div_ceil(parts.max(1)).max(1);
    let mut seen = vec![false; n];
    let mut pieces = Vec::new();
    for start in 0..n {
        if seen[start] {
            continue;
        }
        let mut cycle = vec![start];
        seen[start] = true;
        let mut j = partner(start);
        while j != start {
            seen[j] = true;
            cycle.push(j);
            j = partner(j);
        }
        let count = cycle.len().div_ceil(len);
        for k in 0..count {
            let ids = cycle[k * len..((k + 1) * len).min(cycle.len())].to_vec();
            // The next piece's first sample; after the last piece, the cycle's first.
            let next = cycle[((k + 1) * len).min(cycle.len()) % cycle.len()];
            pieces.push(Piece { ids, next });
        }
    }
    Some(pieces)
}

/// Runs `f(i, sample i (mixed in place), its partner's unmixed values)` piece
/// by piece, pieces in parallel.
fn in_place<T: Copy + Send + Sync>(
    data: &mut [T],
    per: usize,
    pieces: &[Piece],
    heads: &mut Vec<T>,
    f: impl Fn(usize, &mut [T], &[T]) + Sync,
) {
    // The first sample of every piece, unmixed, for the piece that ends before it.
    heads.clear();
    let mut head_at = std::collections::HashMap::new();
    for (k, p) in pieces.iter().enumerate() {
        heads.extend_from_slice(&data[p.ids[0] * per..(p.ids[0] + 1) * per]);
        head_at.insert(p.ids[0], k * per);
    }
    let heads = &heads[..];
    let mut slots: Vec<Option<&mut [T]>> = data.chunks_mut(per).map(Some).collect();
    let work: Vec<(Vec<&mut [T]>, &Piece)> = pieces
        .iter()
        .map(|p| {
            let refs = p.ids.iter().filter_map(|&i| slots[i].take()).collect();
            (refs, p)
        })
        .collect();
    work.into_par_iter().for_each(|(mut refs, p)| {
        for k in 0..refs.len() {
            let (done, rest) = refs.split_at_mut(k + 1);
            let b: &[T] = match rest.first() {
                Some(b) => b,
                // Every piece's `next` is some piece's first sample (by construction).
                None => &heads[head_at[&p.next]..head_at[&p.next] + per],
            };
            f(p.ids[k], &mut *done[k], b);
        }
    });
}

/// The partner's values of one sample (`per` values from `partner * per`).
fn partner<'a, T>(all: &'a [T], m: &GpuMix, per: usize) -> &'a [T] {
    let j = m.kind[1] as usize;
    &all[j * per..(j + 1) * per]
}

/// Whether the region of `m` covers anything.
fn region(m: &GpuMix) -> Option<(usize, usize, usize, usize)> {
    let [left, top, rw, rh] = m.rect.map(|v| v as usize);
    (rw > 0 && rh > 0).then_some((left, top, rw, rh))
}

/// One u8 HWC sample: `o` holds the sample's own values and is mixed in
/// place with its partner `b`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1",
    "aarch64+neon"
))]
fn mix_u8(w: usize, h: usize, m: &GpuMix, o: &mut [u8], b: &[u8]) {
    match m.kind[0] {
        kind::BLEND => {
            let l = m.f[0];
            let r = 1.0 - l;
            for (o, &b) in o.iter_mut().zip(b) {
                // max/min never give NaN (f32::max returns the non-NaN
                // operand), and truncating a value in [0, 255] is the
                // shader's floor; a saturating `as` would not vectorise.
                #[allow(clippy::manual_clamp)] // clamp keeps NaN; max/min do not
                let x = (*o as f32 * l + b as f32 * r + 0.5).max(0.0).min(255.0);
                // SAFETY: x is finite and in [0, 255], so it fits an i32.
                *o = unsafe { x.to_int_unchecked::<i32>() } as u8;
            }
        }
        kind::BOX | kind::RESIZE => {
            let Some((left, top, rw, rh)) = region(m) else {
                return;
            };
            let row = w * 3;
            if m.kind[0] == kind::RESIZE && m.resample.active() {
                let r = &m.resample;
                let done = resample_u8(r, b, w, rw, rh, |ry, acc| {
                    let at = (top + ry) * row + left * 3;
                    for (d, &a) in o[at..at + rw * 3].iter_mut().zip(acc) {
                        *d = to_u8(a, r.mode[2]) as u8;
                    }
                });
                if !done {
                    for y in top..top + rh {
                        o[y * row + left * 3..y * row + (left + rw) * 3].fill(0);
                    }
                }
                return;
            }
            for y in top..top + rh {
                let span = y * row + left * 3..y * row + (left + rw) * 3;
                if m.kind[0] == kind::BOX {
                    o[span.clone()].copy_from_slice(&b[span]);
                } else {
                    let dst = &mut o[span];
                    for (x, px) in dst.chunks_exact_mut(3).enumerate() {
                        let c = resize_px(
                            m,
                            x,
                            y - top,
                            |k, xx, yy| b[(yy * w + xx) * 3 + k] as f32,
                            w,
                            h,
                        );
                        for (d, v) in px.iter_mut().zip(c) {
                            *d = (v + 0.5).floor().clamp(0.0, 255.0) as u8;
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// One f32 CHW sample, mixed in place as [`mix_u8`].
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1",
    "aarch64+neon"
))]
fn mix_f32(w: usize, h: usize, m: &GpuMix, o: &mut [f32], b: &[f32]) {
    let npx = w * h;
    match m.kind[0] {
        kind::BLEND => {
            let l = m.f[0];
            let r = 1.0 - l;
            for (o, &b) in o.iter_mut().zip(b) {
                *o = *o * l + b * r;
            }
        }
        kind::BOX | kind::RESIZE => {
            let Some((left, top, rw, rh)) = region(m) else {
                return;
            };
            if m.kind[0] == kind::BOX {
                // Plane by plane: two constant-stride streams the prefetcher follows.
                for c in 0..3 {
                    for y in top..top + rh {
                        let span = c * npx + y * w + left..c * npx + y * w + left + rw;
                        o[span.clone()].copy_from_slice(&b[span]);
                    }
                }
                return;
            }
            if m.resample.active() {
                resample_f32(&m.resample, b, w, h, rw, rh, |ry, acc| {
                    let at = (top + ry) * w + left;
                    for (x, v) in acc.chunks_exact(3).enumerate() {
                        for (c, &v) in v.iter().enumerate() {
                            o[c * npx + at + x] = v;
                        }
                    }
                });
                return;
            }
            for y in top..top + rh {
                for x in 0..rw {
                    let v = resize_px(m, x, y - top, |k, xx, yy| b[k * npx + yy * w + xx], w, h);
                    for (c, v) in v.into_iter().enumerate() {
                        o[c * npx + y * w + left + x] = v;
                    }
                }
            }
        }
        _ => {}
    }
}

/// The resampler `r` over the f32 CHW image `b` (`w` x `h`) into `rw` x `rh`
/// outputs, as the shader's `resample_px` on f32: per output pixel the
/// horizontal sums of the rows its vertical taps touch, each
/// `sum_i v_i (w_i / 2^prec_x)`, then `sum_j h_j (w_j / 2^prec_y)`, in tap
/// order (the CPU taps' zero padding adds exact zeros). A horizontal sum does
/// not depend on the output row, so each source row's sums are computed once
/// (the same values). `put(output row, values)` gets `rw` RGB triples a row.
fn resample_f32(
    r: &GpuResample,
    b: &[f32],
    w: usize,
    h: usize,
    rw: usize,
    rh: usize,
    mut put: impl FnMut(usize, &[f32]),
) {
    let npx = w * h;
    let (mut cols, mut rows) = (AxisTaps::default(), AxisTaps::default());
    cols.build(r, false, rw);
    rows.build(r, true, rh);
    let scx = 1.0 / (1u32 << r.mode[1]) as f32;
    let scy = 1.0 / (1u32 << r.mode[2]) as f32;
    let (y_lo, y_hi) = rows.span();
    let lines = y_hi.saturating_sub(y_lo);
    let mut mid = vec![0f32; lines * rw * 3];
    for (k, out) in mid.chunks_exact_mut(rw * 3).enumerate() {
        let y = y_lo + k;
        for (x, px) in out.chunks_exact_mut(3).enumerate() {
            let (f, wx) = cols.taps(x);
            let mut acc = [0f32; 3];
            for (i, &wi) in wx.iter().enumerate() {
                let wf = wi as f32 * scx;
                for (c, a) in acc.iter_mut().enumerate() {
                    *a += b[c * npx + y * w + f + i] * wf;
                }
            }
            px.copy_from_slice(&acc);
        }
    }
    let mut acc = vec![0f32; rw * 3];
    for oy in 0..rh {
        acc.fill(0.0);
        let (f, wy) = rows.taps(oy);
        for (j, &wj) in wy.iter().enumerate() {
            let wf = wj as f32 * scy;
            let line = &mid[(f + j - y_lo) * rw * 3..(f + j - y_lo + 1) * rw * 3];
            for (a, &v) in acc.iter_mut().zip(line) {
                *a += v * wf;
            }
        }
        put(oy, &acc);
    }
}

/// The resized partner at pixel (rx, ry) of the paste region: the mean of the
/// supersampling taps, each bilinear through `load(channel, x, y)`. As the
/// shader's `resize_px`.
#[inline(always)]
fn resize_px(
    m: &GpuMix,
    rx: usize,
    ry: usize,
    load: impl Fn(usize, usize, usize) -> f32,
    w: usize,
    h: usize,
) -> [f32; 3] {
    let (nx, ny) = (m.kind[2], m.kind[3]);
    let mut acc = [0.0f32; 3];
    for j in 0..ny {
        for i in 0..nx {
            let px = rx as f32 + (i as f32 + 0.5) / nx as f32;
            let py = ry as f32 + (j as f32 + 0.5) / ny as f32;
            let c = bilinear(&load, m.f[1] * px, m.f[2] * py, w, h);
            for (a, c) in acc.iter_mut().zip(c) {
                *a += c;
            }
        }
    }
    let n = (nx * ny) as f32;
    acc.map(|a| a / n)
}

/// The core's bilinear tap (`sample_at` in `src/cpu/sample.rs`): centres at
/// i + 0.5, edge-clamped, columns first, then across.
#[inline(always)]
fn bilinear(
    load: &impl Fn(usize, usize, usize) -> f32,
    u: f32,
    v: f32,
    w: usize,
    h: usize,
) -> [f32; 3] {
    let (x, y) = (u - 0.5, v - 0.5);
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = x - x0;
    let fy = y - y0;
    let (hx, hy) = (w as f32 - 1.0, h as f32 - 1.0);
    let xa = x0.clamp(0.0, hx) as u32 as usize;
    let xb = (x0 + 1.0).clamp(0.0, hx) as u32 as usize;
    let ya = y0.clamp(0.0, hy) as u32 as usize;
    let yb = (y0 + 1.0).clamp(0.0, hy) as u32 as usize;
    let mut r = [0.0; 3];
    for (k, r) in r.iter_mut().enumerate() {
        let (a, b, c, d) = (
            load(k, xa, ya),
            load(k, xb, ya),
            load(k, xa, yb),
            load(k, xb, yb),
        );
        let left = a + (c - a) * fy;
        let right = b + (d - b) * fy;
        *r = left + (right - left) * fx;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Mixing in place along the cycles, cut into any number of pieces, gives
    /// the out-of-place values: permutations with several cycles, fixed
    /// points, and every kind.
    #[test]
    fn in_place_equals_out_of_place() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (w, h) = (9usize, 7usize);
        let per = w * h * 3;
        for n in [1usize, 2, 5, 13] {
            let mut perm: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                perm.swap(i, rng.random_range(0..=i));
            }
            let mixes: Vec<GpuMix> = (0..n)
                .map(|i| GpuMix {
                    kind: [(i % 4) as u32, perm[i] as u32, 1 + (i % 3) as u32, 2],
                    rect: [1, 2, 5, 4],
                    f: [rng.random::<f32>(), 1.6, 1.7, 0.0],
                    // Resizes: every other one by the resampler, the rest
                    // by the supersampled gather.
                    resample: if i % 8 == 3 {
                        crate::resample::resize(w as u32, h as u32, 5, 4).unwrap_or_default()
                    } else {
                        GpuResample::default()
                    },
                })
                .collect();
            let gl = GpuMixGlobals {
                out: [w as u32, h as u32, n as u32, 0],
            };
            let src: Vec<u8> = (0..n * per).map(|_| rng.random()).collect();
            let mut want = vec![0u8; n * per];
            run_mix(
                &gl,
                &mixes,
                &Tensor::U8(src.clone()),
                TensorMut::U8(&mut want),
            );
            let srcf: Vec<f32> = src.iter().map(|&x| x as f32 / 7.0).collect();
            let mut wantf = vec![0f32; n * per];
            run_mix(
                &gl,
                &mixes,
                &Tensor::F32(srcf.clone()),
                TensorMut::F32(&mut wantf),
            );
            for parts in 1..6 {
                let pieces = cycle_pieces(&mixes, parts).expect("a permutation");
                let mut got = src.clone();
                in_place(&mut got, per, &pieces, &mut Vec::new(), |i, o, b| {
                    mix_u8(w, h, &mixes[i], o, b)
                });
                assert_eq!(got, want, "u8, n {n}, {parts} pieces");
                let mut gotf = srcf.clone();
                in_place(&mut gotf, per, &pieces, &mut Vec::new(), |i, o, b| {
                    mix_f32(w, h, &mixes[i], o, b)
                });
                assert_eq!(gotf, wantf, "f32, n {n}, {parts} pieces");
            }
        }
        // Not a permutation: refused (the caller mixes out of place).
        let two = [GpuMix::default(), GpuMix::default()];
        assert!(cycle_pieces(&two, 2).is_none());
    }
}
