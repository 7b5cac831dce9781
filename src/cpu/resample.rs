//! CPU twin of `shaders/common/resample.wgsl`: the antialiased resampler of
//! axis-aligned maps. The weights come from [`crate::resample::weights`] (the
//! shader's f32 steps) and are rounded to the same fixed point; the sums are
//! integers, so the two backends agree bit for bit wherever the f32 weights
//! do. The shader recomputes a row's horizontal sum per output pixel; here
//! each needed source row is summed once into a u8 row (the values are the
//! same), then the vertical pass reads those rows.

use super::color::INV_255;
use super::sample::Src;
use crate::plan::GpuSample;
use crate::resample::{fixed, to_u8, weights, GpuResample, MAX_RESAMPLE_TAPS};

/// One axis's taps for every output position, `k` per position: the first
/// tap (source index) and `k` fixed-point weights. Positions with fewer taps
/// are padded with zero weights (their first tap moved back where the window
/// ends), so every position sums exactly `k` taps: the integer sums are those
/// of the taps alone, and the loops have a fixed length.
#[derive(Default)]
pub struct AxisTaps {
    first: Vec<u32>,
    w: Vec<i32>,
    k: usize,
    /// The x axis's weights in the layout of the SIMD horizontal pass
    /// ([`x86::hpass_avx2`]): per position, `steps` blocks of 16 i16, taps
    /// 4s and 4s+1 as (a, b) pairs for R, G and B then two zeros, then taps
    /// 4s+2 and 4s+3 likewise (zero past `k`). Empty (`steps` 0) for the y
    /// axis, or when a weight does not fit in an i16.
    simd: Vec<i16>,
    steps: usize,
}

impl AxisTaps {
    /// The taps of the x axis (or, with `y_axis`, the y axis) of `r` for
    /// `n_out` output positions.
    pub fn build(&mut self, r: &GpuResample, y_axis: bool, n_out: usize) {
        let (p, lo, n, prec, k) = if y_axis {
            (r.y, r.win[2], r.win[3], r.mode[2], r.mode[3] >> 16)
        } else {
            (r.x, r.win[0], r.win[1], r.mode[1], r.mode[3] & 0xffff)
        };
        let k = k.min(MAX_RESAMPLE_TAPS);
        // Every position has at most min(k, n) taps (a window of n).
        let kk = k.min(n).max(1) as usize;
        self.k = kk;
        self.first.clear();
        self.w.clear();
        self.w.resize(n_out * kk, 0);
        let mut wf = [0.0f32; MAX_RESAMPLE_TAPS as usize];
        for o in 0..n_out {
            let (first, size) = weights(r.mode[0], p, n, k, o as u32, &mut wf);
            // The kk taps from `start` stay inside the window [0, n).
            let start = first.min(n.saturating_sub(kk as u32));
            let d = (first - start) as usize;
            self.first.push(lo + start);
            for (dst, &v) in self.w[o * kk + d..].iter_mut().zip(&wf[..size as usize]) {
                *dst = fixed(v, prec);
            }
        }
        self.simd.clear();
        self.steps = 0;
        if !y_axis {
            self.build_simd(n_out);
        }
    }
    /// Fills `simd` from `w` (see the field); leaves `steps` 0 when a weight
    /// is out of i16's range (ATen's precision keeps them in it).
    fn build_simd(&mut self, n_out: usize) {
        let (kk, steps) = (self.k, self.k.div_ceil(4));
        self.simd.resize(n_out * steps * 16, 0);
        for o in 0..n_out {
            let w = &self.w[o * kk..(o + 1) * kk];
            let dst = &mut self.simd[o * steps * 16..(o + 1) * steps * 16];
            for (t, &wt) in w.iter().enumerate() {
                let Ok(v) = i16::try_from(wt) else {
                    self.simd.clear();
                    return;
                };
                // Block t / 4, half (t % 4) / 2, slot t % 2 of each pair.
                let base = (t / 4) * 16 + ((t % 4) / 2) * 8 + t % 2;
                for c in 0..3 {
                    dst[base + 2 * c] = v;
                }
            }
        }
        self.steps = steps;
    }
    /// Output position `o`'s first source index and its `k` fixed-point
    /// weights (zero-padded).
    #[inline(always)]
    pub fn taps(&self, o: usize) -> (usize, &[i32]) {
        (
            self.first[o] as usize,
            &self.w[o * self.k..(o + 1) * self.k],
        )
    }
    /// The source indices any tap touches: lo..hi (empty: lo >= hi).
    pub fn span(&self) -> (usize, usize) {
        (0..self.first.len()).fold((usize::MAX, 0), |(lo, hi), o| {
            let (f, t) = self.taps(o);
            (lo.min(f), hi.max(f + t.len()))
        })
    }
}

/// The resampler's buffers, kept per thread between samples.
#[derive(Default)]
struct Scratch {
    cols: AxisTaps,
    rows: AxisTaps,
    mid: Vec<u8>,
    acc: Vec<i32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The resampled pixel at output pixel (ox, oy): the shader's
/// `resample_pixel` line for line (u8 values).
pub fn resample_pixel(g: &GpuSample, s: &Src, ox: u32, oy: u32) -> [u8; 3] {
    let r = &g.resample;
    let mut wf = [0.0f32; MAX_RESAMPLE_TAPS as usize];
    let (kx, ky) = (r.mode[3] & 0xffff, r.mode[3] >> 16);
    let (fx, nx) = weights(r.mode[0], r.x, r.win[1], kx, ox, &mut wf);
    let wx: Vec<i32> = wf[..nx as usize]
        .iter()
        .map(|&v| fixed(v, r.mode[1]))
        .collect();
    let (fy, ny) = weights(r.mode[0], r.y, r.win[3], ky, oy, &mut wf);
    let wy: Vec<i32> = wf[..ny as usize]
        .iter()
        .map(|&v| fixed(v, r.mode[2]))
        .collect();
    let mut acc = [0i32; 3];
    for (j, &wyj) in wy.iter().enumerate() {
        let row = (r.win[2] + fy) as usize + j;
        let mut h = [0i32; 3];
        for (i, &wxi) in wx.iter().enumerate() {
            let x = (r.win[0] + fx) as usize + i;
            let o = (row * s.width as usize + x) * 3;
            for (c, hc) in h.iter_mut().enumerate() {
                *hc += s.data[o + c] as i32 * wxi;
            }
        }
        for (a, hc) in acc.iter_mut().zip(h) {
            *a += to_u8(hc, r.mode[1]) * wyj;
        }
    }
    acc.map(|a| to_u8(a, r.mode[2]) as u8)
}

/// Every output pixel of the sample into the planar [0, 1] rows `planes`
/// (u8 values times 1/255, as the gather leaves them): the horizontal pass
/// over each source row the vertical taps touch, rounded to u8, then the
/// vertical pass.
pub fn resample(g: &GpuSample, s: &Src, w: usize, h: usize, planes: [&mut [f32]; 3]) {
    SCRATCH.with(|sc| resample_with(g, s, w, h, planes, &mut sc.borrow_mut()))
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma",
    "x86_64+sse4.1",
    "aarch64+neon"
))]
fn resample_with(
    g: &GpuSample,
    s: &Src,
    w: usize,
    h: usize,
    planes: [&mut [f32]; 3],
    sc: &mut Scratch,
) {
    let r = &g.resample;
    let Scratch {
        cols,
        rows,
        mid,
        acc,
    } = sc;
    cols.build(r, false, w);
    rows.build(r, true, h);
    let (y_lo, y_hi) = (0..h).fold((usize::MAX, 0), |(lo, hi), o| {
        let (f, t) = rows.taps(o);
        (lo.min(f), hi.max(f + t.len()))
    });
    if y_lo >= y_hi || w == 0 {
        for p in planes {
            p[..w * h].fill(0.0);
        }
        return;
    }
    // Horizontal pass: the source rows y_lo..y_hi, each to w u8 pixels.
    let sw = s.width as usize * 3;
    mid.clear();
    mid.resize((y_hi - y_lo) * w * 3, 0);
    let px = r.mode[1];
    // The bytes of a row the columns read, prefetched 2 rows ahead (reading
    // the source bounds this pass).
    let (x_lo, x_hi) = (0..w).fold((usize::MAX, 0), |(lo, hi), o| {
        let (f, t) = cols.taps(o);
        (lo.min(f), hi.max(f + t.len()))
    });
    let end = (3 * x_hi).min(sw);
    let span = (3 * x_lo).min(end)..end;
    for (y, (line, out)) in s.data[y_lo * sw..y_hi * sw]
        .chunks_exact(sw)
        .zip(mid.chunks_exact_mut(w * 3))
        .enumerate()
    {
        if let Some(ahead) = s.data.get((y_lo + y + 2) * sw..(y_lo + y + 3) * sw) {
            super::gather::prefetch(&ahead[span.clone()]);
        }
        hpass_row(line, out, cols, px);
    }
    // Vertical pass.
    let [pr, pg, pb] = planes;
    acc.clear();
    acc.resize(w * 3, 0);
    for oy in 0..h {
        vsum(acc.as_mut_slice(), mid.as_slice(), rows, oy, y_lo, w);
        let row = oy * w..(oy + 1) * w;
        for (((a, r0), g0), b0) in acc
            .chunks_exact(3)
            .zip(&mut pr[row.clone()])
            .zip(&mut pg[row.clone()])
            .zip(&mut pb[row])
        {
            *r0 = to_u8(a[0], r.mode[2]) as f32 * INV_255;
            *g0 = to_u8(a[1], r.mode[2]) as f32 * INV_255;
            *b0 = to_u8(a[2], r.mode[2]) as f32 * INV_255;
        }
    }
}

/// One source row (RGB) to the `out` row's pixels: the SIMD pass where the
/// CPU has one (the same integer sums), else the scalar loops.
#[inline(always)]
fn hpass_row(line: &[u8], out: &mut [u8], cols: &AxisTaps, prec: u32) {
    #[cfg(target_arch = "x86_64")]
    if cols.steps == 1
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx2")
    {
        // SAFETY: the CPU has AVX-512 F, BW and VL (BW and VL imply F) and AVX2.
        unsafe { x86::hpass_avx512(line, out, cols, prec) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if cols.steps > 0 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { x86::hpass_avx2(line, out, cols, prec) };
        return;
    }
    hpass_scalar(line, out, cols, prec);
}

/// The scalar horizontal pass, its loops unrolled for up to 8 taps.
#[inline(always)]
fn hpass_scalar(line: &[u8], out: &mut [u8], cols: &AxisTaps, prec: u32) {
    match cols.k {
        1 => hpass::<1>(line, out, cols, prec),
        2 => hpass::<2>(line, out, cols, prec),
        3 => hpass::<3>(line, out, cols, prec),
        4 => hpass::<4>(line, out, cols, prec),
        5 => hpass::<5>(line, out, cols, prec),
        6 => hpass::<6>(line, out, cols, prec),
        7 => hpass::<7>(line, out, cols, prec),
        8 => hpass::<8>(line, out, cols, prec),
        _ => hpass_any(line, out, cols, prec),
    }
}

/// Output pixel `x` of the horizontal pass, scalar.
#[inline(always)]
fn hpass_pixel(line: &[u8], px: &mut [u8], cols: &AxisTaps, x: usize, prec: u32) {
    let (f, wx) = cols.taps(x);
    let mut acc = [0i32; 3];
    for (t, &wi) in line[f * 3..(f + wx.len()) * 3].chunks_exact(3).zip(wx) {
        acc[0] += t[0] as i32 * wi;
        acc[1] += t[1] as i32 * wi;
        acc[2] += t[2] as i32 * wi;
    }
    for (p, a) in px.iter_mut().zip(acc) {
        *p = to_u8(a, prec) as u8;
    }
}

/// The horizontal pass with AVX2 (Pillow-SIMD's and ATen's scheme): per
/// output pixel, 16 source bytes at a time (4 taps), shuffled to i16 (R, G
/// and B of taps a, b in one 128-bit half, of taps c, d in the other) and
/// multiplied by the i16 weights with `pmaddwd`, which sums each pair into
/// an i32: the same integer sums as the scalar loop, in any order, so the
/// same u8 values.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::AxisTaps;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2")]
    pub(super) fn hpass_avx2(line: &[u8], out: &mut [u8], cols: &AxisTaps, prec: u32) {
        hpass_avx2_from(line, out, cols, prec, 0);
    }

    /// `hpass_avx2` for output pixels `x0..`.
    #[target_feature(enable = "avx2")]
    fn hpass_avx2_from(line: &[u8], out: &mut [u8], cols: &AxisTaps, prec: u32, x0: usize) {
        let steps = cols.steps;
        #[rustfmt::skip]
        let mask = _mm256_setr_epi8(
            0, -128, 3, -128, 1, -128, 4, -128, 2, -128, 5, -128, -128, -128, -128, -128,
            6, -128, 9, -128, 7, -128, 10, -128, 8, -128, 11, -128, -128, -128, -128, -128,
        );
        let round = _mm_set1_epi32(1 << (prec - 1));
        let shift = _mm_cvtsi32_si128(prec as i32);
        // Bytes the loads read from a pixel's first tap.
        let need = 12 * (steps - 1) + 16;
        for (x, px) in out.chunks_exact_mut(3).enumerate().skip(x0) {
            let f = cols.first[x] as usize * 3;
            if f + need > line.len() {
                // The last pixels of a row: 16-byte loads would pass its end.
                super::hpass_pixel(line, px, cols, x, prec);
                continue;
            }
            let w = &cols.simd[x * steps * 16..(x + 1) * steps * 16];
            let mut acc = _mm256_setzero_si256();
            for s in 0..steps {
                // SAFETY: f + 12 s + 16 <= line.len() (checked above), and
                // w holds `steps` blocks of 16 i16.
                let (v, wv) = unsafe {
                    (
                        _mm_loadu_si128(line.as_ptr().add(f + 12 * s) as *const __m128i),
                        _mm256_loadu_si256(w.as_ptr().add(16 * s) as *const __m256i),
                    )
                };
                let v = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(v), mask);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(v, wv));
            }
            let sum = _mm_add_epi32(
                _mm256_castsi256_si128(acc),
                _mm256_extracti128_si256::<1>(acc),
            );
            // to_u8: round half up, arithmetic shift, clamp (saturating packs).
            let sum = _mm_sra_epi32(_mm_add_epi32(sum, round), shift);
            let p16 = _mm_packs_epi32(sum, sum);
            let p8 = _mm_packus_epi16(p16, p16);
            let b = (_mm_cvtsi128_si32(p8) as u32).to_le_bytes();
            px.copy_from_slice(&b[..3]);
        }
    }

    /// `hpass_avx2` for up to 4 taps (one 16-i16 weight block a pixel) with
    /// AVX-512: the same shuffles and `pmaddwd` sums, two pixels to a 512-bit
    /// register, and 4 pixels rounded, clamped and stored (12 bytes) at once.
    /// The pixels whose 16-byte loads would pass the row's end, and those
    /// after them, go to `hpass_avx2_from`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
    pub(super) fn hpass_avx512(line: &[u8], out: &mut [u8], cols: &AxisTaps, prec: u32) {
        debug_assert_eq!(cols.steps, 1);
        // `hpass_avx2`'s shuffle in both 256-bit halves.
        #[rustfmt::skip]
        let mask = _mm512_broadcast_i64x4(_mm256_setr_epi8(
            0, -128, 3, -128, 1, -128, 4, -128, 2, -128, 5, -128, -128, -128, -128, -128,
            6, -128, 9, -128, 7, -128, 10, -128, 8, -128, 11, -128, -128, -128, -128, -128,
        ));
        // R, G, B of 4 pixels (dropping each pixel's fourth byte).
        let pack = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
        let round = _mm512_set1_epi32(1 << (prec - 1));
        let shift = _mm_cvtsi32_si128(prec as i32);
        let (zero, top) = (_mm512_setzero_si512(), _mm512_set1_epi32(255));
        let n = out.len() / 3;
        let mut x = 0;
        while x + 4 <= n {
            let f = [0, 1, 2, 3].map(|i| cols.first[x + i] as usize * 3);
            if f.iter().any(|&f| f + 16 > line.len()) {
                break;
            }
            // Two pixels' 16 source bytes as lanes [a, a, b, b], shuffled to
            // i16 pairs (taps 0, 1 in even lanes, taps 2, 3 in odd ones) and
            // multiplied by their two 16-i16 weight blocks.
            let sums = |i: usize| {
                // SAFETY: f[i] + 16 <= line.len() (checked above); the
                // weights hold 16 i16 per pixel and x + i + 1 < n.
                let (a, b, w) = unsafe {
                    (
                        _mm_loadu_si128(line.as_ptr().add(f[i]) as *const __m128i),
                        _mm_loadu_si128(line.as_ptr().add(f[i + 1]) as *const __m128i),
                        _mm512_loadu_si512(cols.simd.as_ptr().add((x + i) * 16) as *const _),
                    )
                };
                let ab = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(a), b);
                let v = _mm512_shuffle_i64x2::<0b01_01_00_00>(
                    _mm512_castsi256_si512(ab),
                    _mm512_castsi256_si512(ab),
                );
                let m = _mm512_madd_epi16(_mm512_shuffle_epi8(v, mask), w);
                // Lanes [a, a, b, b]: each pixel's two halves summed.
                _mm512_add_epi32(m, _mm512_shuffle_i32x4::<0b10_11_00_01>(m, m))
            };
            let (s01, s23) = (sums(0), sums(2));
            // Lanes 0 and 2 of each: the 4 pixels' (R, G, B, 0) sums.
            let s = _mm512_shuffle_i32x4::<0b10_00_10_00>(s01, s23);
            // to_u8: round half up, arithmetic shift, clamp to [0, 255].
            let s = _mm512_sra_epi32(_mm512_add_epi32(s, round), shift);
            let s = _mm512_min_epi32(_mm512_max_epi32(s, zero), top);
            let bytes = _mm_shuffle_epi8(_mm512_cvtepi32_epi8(s), pack);
            // SAFETY: pixels x..x + 4 are 12 bytes of `out`.
            unsafe { _mm_mask_storeu_epi8(out.as_mut_ptr().add(3 * x) as *mut i8, 0x0fff, bytes) };
            x += 4;
        }
        hpass_avx2_from(line, out, cols, prec, x);
    }
}

/// One source row (RGB) to the `out` row's pixels, `K` taps a pixel.
#[inline(always)]
fn hpass<const K: usize>(line: &[u8], out: &mut [u8], cols: &AxisTaps, prec: u32) {
    for (x, px) in out.chunks_exact_mut(3).enumerate() {
        let (f, wx) = cols.taps(x);
        let wx: &[i32; K] = wx.try_into().expect("K taps a position");
        let t = &line[f * 3..f * 3 + 3 * K];
        let mut acc = [0i32; 3];
        for j in 0..K {
            acc[0] += t[3 * j] as i32 * wx[j];
            acc[1] += t[3 * j + 1] as i32 * wx[j];
            acc[2] += t[3 * j + 2] as i32 * wx[j];
        }
        for (p, a) in px.iter_mut().zip(acc) {
            *p = to_u8(a, prec) as u8;
        }
    }
}

/// `hpass` for any tap count.
#[inline(always)]
fn hpass_any(line: &[u8], out: &mut [u8], cols: &AxisTaps, prec: u32) {
    for (x, px) in out.chunks_exact_mut(3).enumerate() {
        hpass_pixel(line, px, cols, x, prec);
    }
}

/// The resampler `r` over the u8 RGB image `data` (`width` pixels a row)
/// into `w` x `h` outputs, for resizemix's paste (`src/cpu/mix.rs`): the
/// integer sums of [`resample`] (a horizontal pass over each source row the
/// vertical taps touch, rounded to u8, then the vertical pass), whose
/// unrounded vertical sums (3 per output pixel, a row at a time) go to
/// `put(output row, sums)` (round them with `to_u8(sum, r.mode[2])`). False,
/// with nothing put, when no tap falls in the window.
pub fn resample_u8(
    r: &GpuResample,
    data: &[u8],
    width: usize,
    w: usize,
    h: usize,
    mut put: impl FnMut(usize, &[i32]),
) -> bool {
    let (mut cols, mut rows) = (AxisTaps::default(), AxisTaps::default());
    cols.build(r, false, w);
    rows.build(r, true, h);
    let (y_lo, y_hi) = rows.span();
    if y_lo >= y_hi || w == 0 {
        return false;
    }
    let sw = width * 3;
    let mut mid = vec![0u8; (y_hi - y_lo) * w * 3];
    for (line, out) in data[y_lo * sw..y_hi * sw]
        .chunks_exact(sw)
        .zip(mid.chunks_exact_mut(w * 3))
    {
        hpass_row(line, out, &cols, r.mode[1]);
    }
    let mut acc = vec![0i32; w * 3];
    for oy in 0..h {
        vsum(acc.as_mut_slice(), mid.as_slice(), &rows, oy, y_lo, w);
        put(oy, &acc);
    }
    true
}

/// Output row `oy` of the vertical pass into `acc` (w RGB sums): the middle
/// rows (`mid`, the horizontal pass of source rows from `y_lo`) its taps
/// touch, times their weights.
#[inline(always)]
fn vsum(acc: &mut [i32], mid: &[u8], rows: &AxisTaps, oy: usize, y_lo: usize, w: usize) {
    acc.fill(0);
    let (f, wy) = rows.taps(oy);
    for (j, &wj) in wy.iter().enumerate() {
        let line = &mid[(f + j - y_lo) * w * 3..(f + j - y_lo + 1) * w * 3];
        for (a, &v) in acc.iter_mut().zip(line) {
            *a += v as i32 * wj;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (splitmix64) for the test's data.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The SIMD horizontal pass gives the scalar loops' bytes, for 1 to 12
    /// taps, signed weights over the whole i16 range, any precision and
    /// first taps up to the row's end (where it falls back to scalar).
    #[test]
    fn simd_hpass_equals_scalar() {
        let mut st = 7u64;
        for case in 0..600 {
            let k = 1 + case % 12;
            let width = k + (next(&mut st) % 300) as usize;
            let n_out = 1 + (next(&mut st) % 64) as usize;
            let prec = 1 + (next(&mut st) % 21) as u32;
            let line: Vec<u8> = (0..width * 3).map(|_| next(&mut st) as u8).collect();
            let mut cols = AxisTaps {
                k,
                ..AxisTaps::default()
            };
            for _ in 0..n_out {
                cols.first
                    .push((next(&mut st) % (width - k + 1) as u64) as u32);
                for _ in 0..k {
                    // Small weights most of the time (sums near u8 range),
                    // extreme ones sometimes (saturation both ways).
                    let w = if next(&mut st).is_multiple_of(4) {
                        next(&mut st) as i16
                    } else {
                        ((next(&mut st) % (1 << prec.min(14)) as u64) as i32
                            - (1 << prec.min(14)) / 8) as i16
                    };
                    cols.w.push(w as i32);
                }
            }
            cols.build_simd(n_out);
            assert_eq!(cols.steps, k.div_ceil(4));
            let mut want = vec![0u8; n_out * 3];
            hpass_scalar(&line, &mut want, &cols, prec);
            let mut got = vec![1u8; n_out * 3];
            // The AVX2 pass itself where the CPU has it (the dispatcher's pick).
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                unsafe { x86::hpass_avx2(&line, &mut got, &cols, prec) };
            }
            // And the AVX-512 pass for up to 4 taps.
            #[cfg(target_arch = "x86_64")]
            if cols.steps == 1
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                let mut wide = vec![3u8; n_out * 3];
                // SAFETY: the CPU has AVX-512 F, BW and VL, and AVX2.
                unsafe { x86::hpass_avx512(&line, &mut wide, &cols, prec) };
                assert_eq!(wide, want, "case {case}: AVX-512, k {k}, width {width}");
            }
            let mut via_row = vec![2u8; n_out * 3];
            hpass_row(&line, &mut via_row, &cols, prec);
            assert_eq!(via_row, want, "case {case}: dispatcher");
            #[cfg(not(target_arch = "x86_64"))]
            got.copy_from_slice(&via_row);
            assert_eq!(got, want, "case {case}: k {k}, width {width}, prec {prec}");
        }
    }

    /// A weight out of i16's range leaves the SIMD layout off (scalar pass).
    #[test]
    fn simd_layout_needs_i16_weights() {
        let mut cols = AxisTaps {
            first: vec![0],
            w: vec![40_000, -3],
            k: 2,
            ..AxisTaps::default()
        };
        cols.build_simd(1);
        assert_eq!(cols.steps, 0);
        let line = [10u8, 20, 30, 40, 50, 60];
        let mut out = [0u8; 3];
        hpass_row(&line, &mut out, &cols, 16);
        let want: Vec<u8> = (0..3)
            .map(|c| to_u8(line[c] as i32 * 40_000 - 3 * line[3 + c] as i32, 16) as u8)
            .collect();
        assert_eq!(out.to_vec(), want);
    }
}
