//! The bilinear gather of `warp_rows`: per output pixel, four source texels
//! (RGBA words, as the shader reads them) blended as `sample_at` does,
//! columns first. On x86-64 with AVX2 eight pixels go at once through
//! hardware gathers; elsewhere (and for the tail of a row) a scalar loop with
//! the same operations in the same order, so both give identical bits (no
//! fused multiply-add: Rust never contracts separate mul and add).

/// Texel word indices of the four taps of each pixel (structure of arrays).
#[derive(Default)]
pub struct Taps {
    /// Top-left.
    pub a: Vec<u32>,
    /// Top-right.
    pub b: Vec<u32>,
    /// Bottom-left.
    pub c: Vec<u32>,
    /// Bottom-right.
    pub d: Vec<u32>,
}

impl Taps {
    /// Room for `n` pixels.
    pub fn resize(&mut self, n: usize) {
        for v in [&mut self.a, &mut self.b, &mut self.c, &mut self.d] {
            v.resize(n, 0);
        }
    }
}

/// Packs RGB bytes as RGBA words (alpha 0), as the GPU backend uploads them:
/// 8 pixels a step with AVX2 (two 12-byte groups shuffled to 16), the rest
/// (and CPUs without it) scalar.
pub fn pack_rgba(rgb: &[u8], out: &mut Vec<u32>) {
    let n = rgb.len() / 3;
    out.clear();
    out.resize(n, 0);
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // Blocks of 1,024 pixels, each packed while the next one's bytes
        // are prefetched (the pass is bound by reading the source; an
        // AVX-512 VBMI version was no faster).
        const BLOCK: usize = 1024;
        while done < n {
            let end = (done + BLOCK).min(n);
            prefetch(&rgb[3 * end..(3 * (end + BLOCK)).min(rgb.len())]);
            // SAFETY: the CPU has AVX2. (The bytes after the block let its
            // last group load in full; only the last block leaves a tail.)
            done += unsafe { avx2::pack_rgba(&rgb[3 * done..], &mut out[done..end]) };
            if done < end {
                break;
            }
        }
    }
    for (o, p) in out[done..].iter_mut().zip(rgb[done * 3..].chunks_exact(3)) {
        *o = p[0] as u32 | (p[1] as u32) << 8 | (p[2] as u32) << 16;
    }
}

/// Asks the CPU to bring `bytes` into the cache ahead of use (a hint; on
/// x86-64 one prefetch per 64-byte line, elsewhere nothing).
#[inline]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    prefetch_lines::<{ std::arch::x86_64::_MM_HINT_T0 }>(bytes);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// `prefetch` for bytes about to be written (PREFETCHW where the CPU has it:
/// the lines arrive ready to be modified).
#[inline]
pub fn prefetch_write(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    prefetch_lines::<{ std::arch::x86_64::_MM_HINT_ET0 }>(bytes);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// One `_mm_prefetch` with `HINT` per 64-byte line of `bytes`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn prefetch_lines<const HINT: i32>(bytes: &[u8]) {
    for k in (0..bytes.len()).step_by(64) {
        // SAFETY: a prefetch hint for an address inside `bytes`.
        unsafe { std::arch::x86_64::_mm_prefetch::<HINT>(bytes.as_ptr().add(k) as *const i8) };
    }
}

/// Interleaves three planes of bytes into RGB pixels (the inverse of the
/// planar split): 16 pixels a step with SSSE3 (three byte shuffles per
/// output block of 16), the rest (and CPUs without it) scalar.
pub fn interleave_rgb(r: &[u8], g: &[u8], b: &[u8], out: &mut [u8]) {
    let n = r.len();
    assert!(
        g.len() == n && b.len() == n && out.len() == 3 * n,
        "interleave: plane lengths"
    );
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("ssse3") {
        // SAFETY: the CPU has SSSE3; lengths checked above.
        done = unsafe { avx2::interleave_rgb(r, g, b, out) };
    }
    for (px, ((&a, &bb), &c)) in out[3 * done..]
        .chunks_exact_mut(3)
        .zip(r[done..].iter().zip(&g[done..]).zip(&b[done..]))
    {
        px.copy_from_slice(&[a, bb, c]);
    }
}

#[inline(always)]
fn scalar(
    src: &[u32],
    t: &Taps,
    fx: &[f32],
    fy: &[f32],
    out: [&mut [f32]; 3],
    range: std::ops::Range<usize>,
) {
    let [cr, cg, cb] = out;
    for x in range {
        let (a, b, c, d) = (
            src[t.a[x] as usize],
            src[t.b[x] as usize],
            src[t.c[x] as usize],
            src[t.d[x] as usize],
        );
        let (fx, fy) = (fx[x], fy[x]);
        let ch = |v: u32, s: u32| ((v >> s) & 255) as f32;
        let mut rgb = [0.0f32; 3];
        for (k, o) in rgb.iter_mut().enumerate() {
            let s = 8 * k as u32;
            let (a, b, c, d) = (ch(a, s), ch(b, s), ch(c, s), ch(d, s));
            let left = a + (c - a) * fy;
            let right = b + (d - b) * fy;
            *o = left + (right - left) * fx;
        }
        (cr[x], cg[x], cb[x]) = (rgb[0], rgb[1], rgb[2]);
    }
}

/// Blends the four taps of pixels `0..n` into the planar rows `out`.
/// Every index in `t` must be below `src.len()` (checked). Inlined, so the
/// check vectorises in the caller's multiversion clone (compiled alone for
/// baseline x86-64, its unsigned max took 13% of affine's time).
#[inline(always)]
pub fn bilinear(src: &[u32], t: &Taps, fx: &[f32], fy: &[f32], out: [&mut [f32]; 3], n: usize) {
    let len = src.len() as u32;
    // The largest index of each tap (a max vectorises; a short-circuit `all` does not).
    let ok = [&t.a, &t.b, &t.c, &t.d]
        .iter()
        .all(|v| v.len() >= n && (n == 0 || v[..n].iter().fold(0, |m, &i| m.max(i)) < len));
    assert!(
        ok && fx.len() >= n && fy.len() >= n && out.iter().all(|o| o.len() >= n),
        "gather indices out of range"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            let mut out = out;
            let ptrs = out.each_mut().map(|o| o.as_mut_ptr());
            let mut done = 0;
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
            {
                // SAFETY: AVX-512 F and BW are present; indices checked above;
                // loads and stores stay below n.
                done = unsafe { avx512::bilinear(src, t, fx, fy, ptrs, n) };
            }
            // SAFETY: AVX2 is present; every index was checked against src above,
            // and the loads and stores stay below n.
            done += unsafe { avx2::bilinear_from(src, t, fx, fy, ptrs, n, done) };
            scalar(src, t, fx, fy, out, done..n);
            return;
        }
    }
    scalar(src, t, fx, fy, out, 0..n);
}

/// Nearest sampling: the bilinear formula with both weights 0 gives exactly
/// the top-left tap, so only that texel is read (same values as `bilinear`).
#[inline(always)]
pub fn nearest(src: &[u32], t: &Taps, out: [&mut [f32]; 3], n: usize) {
    let len = src.len() as u32;
    let ok = t.a.len() >= n && (n == 0 || t.a[..n].iter().fold(0, |m, &i| m.max(i)) < len);
    assert!(
        ok && out.iter().all(|o| o.len() >= n),
        "gather indices out of range"
    );
    let [cr, cg, cb] = out;
    let mut x = 0;
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            let ptrs = [cr.as_mut_ptr(), cg.as_mut_ptr(), cb.as_mut_ptr()];
            // SAFETY: AVX2 is present; indices checked above; stores stay below n.
            x = unsafe { avx2::nearest(src, &t.a, ptrs, n) };
        }
    }
    for x in x..n {
        let v = src[t.a[x] as usize];
        cr[x] = (v & 255) as f32;
        cg[x] = ((v >> 8) & 255) as f32;
        cb[x] = ((v >> 16) & 255) as f32;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Taps;
    use std::arch::x86_64::*;

    /// Pixels from `from` on in whole groups of 8; returns how many were done.
    ///
    /// # Safety
    /// AVX2 must be present, every index of `t` below `n` must be in `src`,
    /// and `fx`, `fy` and the three `out` rows must hold `n` values.
    #[target_feature(enable = "avx2")]
    pub unsafe fn bilinear_from(
        src: &[u32],
        t: &Taps,
        fx: &[f32],
        fy: &[f32],
        out: [*mut f32; 3],
        n: usize,
        from: usize,
    ) -> usize {
        let base = src.as_ptr() as *const i32;
        let mask = _mm256_set1_epi32(255);
        let mut x = from;
        macro_rules! gather {
            ($v:expr) => {
                _mm256_i32gather_epi32::<4>(
                    base,
                    _mm256_loadu_si256($v.as_ptr().add(x) as *const __m256i),
                )
            };
        }
        macro_rules! channel {
            ($v:expr, $s:literal) => {
                _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32::<$s>($v), mask))
            };
        }
        let one = _mm256_set1_epi32(1);
        // Two horizontally adjacent texels as one 64-bit gather element:
        // (low word, high word) of 4 pixels per gather, 8 pixels per pair
        // of gathers, returned as the 8 left and the 8 right texels.
        macro_rules! gather_pairs {
            ($idx:expr) => {{
                let lo =
                    _mm256_i32gather_epi64::<4>(base as *const i64, _mm256_castsi256_si128($idx));
                let hi = _mm256_i32gather_epi64::<4>(
                    base as *const i64,
                    _mm256_extracti128_si256::<1>($idx),
                );
                let (lo, hi) = (_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi));
                // [l0 l1 l4 l5 | l2 l3 l6 l7] -> l0..l7 (and the right words).
                let left = _mm256_permute4x64_epi64::<0xD8>(_mm256_castps_si256(
                    _mm256_shuffle_ps::<0x88>(lo, hi),
                ));
                let right = _mm256_permute4x64_epi64::<0xD8>(_mm256_castps_si256(
                    _mm256_shuffle_ps::<0xDD>(lo, hi),
                ));
                (left, right)
            }};
        }
        while x + 8 <= n {
            let ia = _mm256_loadu_si256(t.a.as_ptr().add(x) as *const __m256i);
            let ib = _mm256_loadu_si256(t.b.as_ptr().add(x) as *const __m256i);
            let ic = _mm256_loadu_si256(t.c.as_ptr().add(x) as *const __m256i);
            let id = _mm256_loadu_si256(t.d.as_ptr().add(x) as *const __m256i);
            // Right taps next to the left ones (no clamping at the right or
            // left edge) in all 8 pixels: half the gather elements. The
            // words are the same either way.
            let adjacent = _mm256_and_si256(
                _mm256_cmpeq_epi32(ib, _mm256_add_epi32(ia, one)),
                _mm256_cmpeq_epi32(id, _mm256_add_epi32(ic, one)),
            );
            let (a, b, c, d) = if _mm256_movemask_epi8(adjacent) == -1 {
                let (a, b) = gather_pairs!(ia);
                let (c, d) = gather_pairs!(ic);
                (a, b, c, d)
            } else {
                (gather!(t.a), gather!(t.b), gather!(t.c), gather!(t.d))
            };
            let vfx = _mm256_loadu_ps(fx.as_ptr().add(x));
            let vfy = _mm256_loadu_ps(fy.as_ptr().add(x));
            macro_rules! blend {
                ($s:literal, $o:expr) => {
                    let (ca, cb) = (channel!(a, $s), channel!(b, $s));
                    let (cc, cd) = (channel!(c, $s), channel!(d, $s));
                    let left = _mm256_add_ps(ca, _mm256_mul_ps(_mm256_sub_ps(cc, ca), vfy));
                    let right = _mm256_add_ps(cb, _mm256_mul_ps(_mm256_sub_ps(cd, cb), vfy));
                    let v = _mm256_add_ps(left, _mm256_mul_ps(_mm256_sub_ps(right, left), vfx));
                    _mm256_storeu_ps($o.add(x), v);
                };
            }
            blend!(0, out[0]);
            blend!(8, out[1]);
            blend!(16, out[2]);
            x += 8;
        }
        x - from
    }

    /// `pack_rgba` for whole groups of 8 pixels while a 16-byte load at the
    /// group's 13th byte stays inside `rgb`; returns how many were done.
    /// `out` holds `rgb.len() / 3` words.
    #[target_feature(enable = "avx2")]
    pub fn pack_rgba(rgb: &[u8], out: &mut [u32]) -> usize {
        #[rustfmt::skip]
        let shuf = _mm256_setr_epi8(
            0, 1, 2, -128, 3, 4, 5, -128, 6, 7, 8, -128, 9, 10, 11, -128,
            0, 1, 2, -128, 3, 4, 5, -128, 6, 7, 8, -128, 9, 10, 11, -128,
        );
        let mut x = 0;
        while (x + 8) * 3 + 4 <= rgb.len() && x + 8 <= out.len() {
            // SAFETY: bytes 3x .. 3x + 28 are inside rgb (checked: the high
            // half loads 16 from 3x + 12), and words x .. x + 8 inside out.
            unsafe {
                let p = rgb.as_ptr().add(3 * x);
                let v = _mm256_loadu2_m128i(p.add(12) as *const __m128i, p as *const __m128i);
                let v = _mm256_shuffle_epi8(v, shuf);
                _mm256_storeu_si256(out.as_mut_ptr().add(x) as *mut __m256i, v);
            }
            x += 8;
        }
        x
    }

    /// `super::interleave_rgb` for whole groups of 16 pixels; returns how
    /// many were done. The three planes and `out` (3 bytes a pixel) must
    /// have equal pixel counts.
    #[target_feature(enable = "ssse3")]
    pub fn interleave_rgb(r: &[u8], g: &[u8], b: &[u8], out: &mut [u8]) -> usize {
        // Byte j of output block k is channel (16k + j) % 3 of pixel (16k + j) / 3.
        const M: [[[i8; 16]; 3]; 3] = {
            let mut m = [[[-128i8; 16]; 3]; 3];
            let mut p = 0;
            while p < 48 {
                m[p / 16][p % 3][p % 16] = (p / 3) as i8;
                p += 1;
            }
            m
        };
        let n = r.len().min(g.len()).min(b.len()).min(out.len() / 3);
        let mut x = 0;
        while x + 16 <= n {
            // SAFETY: pixels x .. x + 16 are inside every plane and out.
            unsafe {
                let ld = |p: &[u8]| _mm_loadu_si128(p.as_ptr().add(x) as *const __m128i);
                let (vr, vg, vb) = (ld(r), ld(g), ld(b));
                for (k, m) in M.iter().enumerate() {
                    let sh = |v, c: usize| {
                        _mm_shuffle_epi8(v, _mm_loadu_si128(m[c].as_ptr() as *const __m128i))
                    };
                    let blk = _mm_or_si128(_mm_or_si128(sh(vr, 0), sh(vg, 1)), sh(vb, 2));
                    _mm_storeu_si128(out.as_mut_ptr().add(3 * x + 16 * k) as *mut __m128i, blk);
                }
            }
            x += 16;
        }
        x
    }

    /// One texel per pixel, eight pixels at a time; returns how many were done.
    ///
    /// # Safety
    /// AVX2 must be present, every index of `idx` below `n` must be in `src`,
    /// and the three `out` rows must hold `n` values.
    #[target_feature(enable = "avx2")]
    pub unsafe fn nearest(src: &[u32], idx: &[u32], out: [*mut f32; 3], n: usize) -> usize {
        let base = src.as_ptr() as *const i32;
        let mask = _mm256_set1_epi32(255);
        let mut x = 0;
        while x + 8 <= n {
            let v = _mm256_i32gather_epi32::<4>(
                base,
                _mm256_loadu_si256(idx.as_ptr().add(x) as *const __m256i),
            );
            let r = _mm256_cvtepi32_ps(_mm256_and_si256(v, mask));
            let g = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32::<8>(v), mask));
            let b = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32::<16>(v), mask));
            _mm256_storeu_ps(out[0].add(x), r);
            _mm256_storeu_ps(out[1].add(x), g);
            _mm256_storeu_ps(out[2].add(x), b);
            x += 8;
        }
        x
    }
}

/// `avx2::bilinear_from` 16 pixels at a time with AVX-512: the same
/// gathers (texel pairs when the right taps sit next to the left ones),
/// each channel's byte moved to its lane with one byte shuffle, and the same
/// subtractions, multiplications and additions in the same order.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::Taps;
    use std::arch::x86_64::*;

    /// Pixels in whole groups of 16; returns how many were done.
    ///
    /// # Safety
    /// AVX-512 F and BW must be present, every index of `t` below `n` must be
    /// in `src`, and `fx`, `fy` and the three `out` rows must hold `n` values.
    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    pub unsafe fn bilinear(
        src: &[u32],
        t: &Taps,
        fx: &[f32],
        fy: &[f32],
        out: [*mut f32; 3],
        n: usize,
    ) -> usize {
        let base = src.as_ptr();
        // Byte s of every word to that word's low byte, zeros above it.
        let channel = |s: i32| {
            // (Shuffle bytes with the top bit set give 0.)
            let lane = |j: i32| (4 * j + s) | !0xff;
            _mm512_broadcast_i32x4(_mm_setr_epi32(lane(0), lane(1), lane(2), lane(3)))
        };
        let chans = [channel(0), channel(1), channel(2)];
        let one = _mm512_set1_epi32(1);
        // Even and odd words of two registers of 8 texel pairs: the left and
        // the right texels of 16 pixels.
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        let mut x = 0;
        while x + 16 <= n {
            // SAFETY (all loads, gathers and stores): pixels x .. x + 16 are
            // below n, and their indices are inside src (the caller's contract).
            let ld = |v: &Vec<u32>| unsafe { _mm512_loadu_si512(v.as_ptr().add(x) as *const _) };
            let (ia, ib, ic, id) = (ld(&t.a), ld(&t.b), ld(&t.c), ld(&t.d));
            let adjacent = _mm512_cmpeq_epi32_mask(ib, _mm512_add_epi32(ia, one))
                & _mm512_cmpeq_epi32_mask(id, _mm512_add_epi32(ic, one));
            let pairs = |idx: __m512i| unsafe {
                let g4 = |i: __m128i| _mm256_i32gather_epi64::<4>(base as *const i64, i);
                let (l, h) = (
                    _mm512_castsi512_si256(idx),
                    _mm512_extracti64x4_epi64::<1>(idx),
                );
                let lo = _mm512_inserti64x4::<1>(
                    _mm512_castsi256_si512(g4(_mm256_castsi256_si128(l))),
                    g4(_mm256_extracti128_si256::<1>(l)),
                );
                let hi = _mm512_inserti64x4::<1>(
                    _mm512_castsi256_si512(g4(_mm256_castsi256_si128(h))),
                    g4(_mm256_extracti128_si256::<1>(h)),
                );
                (
                    _mm512_permutex2var_epi32(lo, even, hi),
                    _mm512_permutex2var_epi32(lo, odd, hi),
                )
            };
            let words = |idx: __m512i| unsafe {
                let g8 = |i: __m256i| _mm256_i32gather_epi32::<4>(base as *const i32, i);
                _mm512_inserti64x4::<1>(
                    _mm512_castsi256_si512(g8(_mm512_castsi512_si256(idx))),
                    g8(_mm512_extracti64x4_epi64::<1>(idx)),
                )
            };
            let (a, b, c, d) = if adjacent == 0xffff {
                let (a, b) = pairs(ia);
                let (c, d) = pairs(ic);
                (a, b, c, d)
            } else {
                (words(ia), words(ib), words(ic), words(id))
            };
            let (vfx, vfy) = unsafe {
                (
                    _mm512_loadu_ps(fx.as_ptr().add(x)),
                    _mm512_loadu_ps(fy.as_ptr().add(x)),
                )
            };
            for (k, m) in chans.iter().enumerate() {
                let ch = |v| _mm512_cvtepi32_ps(_mm512_shuffle_epi8(v, *m));
                let (ca, cb, cc, cd) = (ch(a), ch(b), ch(c), ch(d));
                let left = _mm512_add_ps(ca, _mm512_mul_ps(_mm512_sub_ps(cc, ca), vfy));
                let right = _mm512_add_ps(cb, _mm512_mul_ps(_mm512_sub_ps(cd, cb), vfy));
                let v = _mm512_add_ps(left, _mm512_mul_ps(_mm512_sub_ps(right, left), vfx));
                unsafe { _mm512_storeu_ps(out[k].add(x), v) };
            }
            x += 16;
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 packing gives the scalar words for every length (tails and
    /// the last group's bound).
    #[test]
    fn pack_rgba_simd_equals_scalar() {
        let rgb: Vec<u8> = (0..300u32).map(|i| (i * 7 + i / 5) as u8).collect();
        let mut out = Vec::new();
        for n in 0..100 {
            let part = &rgb[..3 * n + (n % 3).min(2)];
            pack_rgba(part, &mut out);
            let want: Vec<u32> = part
                .chunks_exact(3)
                .map(|p| p[0] as u32 | (p[1] as u32) << 8 | (p[2] as u32) << 16)
                .collect();
            assert_eq!(out, want, "{n} pixels");
        }
    }

    /// The SSSE3 interleave gives the scalar bytes for every length.
    #[test]
    fn interleave_rgb_simd_equals_scalar() {
        for n in 0..70usize {
            let plane =
                |c: usize| -> Vec<u8> { (0..n).map(|i| (i * 7 + c * 91 + i / 3) as u8).collect() };
            let (r, g, b) = (plane(0), plane(1), plane(2));
            let mut out = vec![0u8; 3 * n];
            interleave_rgb(&r, &g, &b, &mut out);
            let want: Vec<u8> = (0..n).flat_map(|i| [r[i], g[i], b[i]]).collect();
            assert_eq!(out, want, "{n} pixels");
        }
    }

    /// The AVX2 path (adjacent pairs through 64-bit gathers, or single
    /// texels) gives the scalar loop's bits, for taps that are adjacent,
    /// clamped (equal) or anywhere, and row lengths with a scalar tail.
    #[test]
    fn bilinear_simd_equals_scalar() {
        let mut st = 1u64;
        let mut next = move || {
            st = st
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (st >> 33) as u32
        };
        let src: Vec<u32> = (0..4096).map(|_| next() & 0xff_ffff).collect();
        for case in 0..128 {
            let n = 1 + (next() % 100) as usize;
            let mut t = Taps::default();
            t.resize(n);
            for x in 0..n {
                let a = next() % 4000;
                let c = a + 64.min(4095 - a);
                // Mostly adjacent; some groups clamped or scattered.
                let (b, d) = match (case % 4, next() % 16) {
                    (0, _) | (_, 1..) => (a + 1, c + 1),
                    (1, _) => (a, c),
                    _ => (next() % 4096, next() % 4096),
                };
                (t.a[x], t.b[x], t.c[x], t.d[x]) = (a, b, c, d);
            }
            let fx: Vec<f32> = (0..n).map(|_| (next() % 1024) as f32 / 1024.0).collect();
            let fy: Vec<f32> = (0..n).map(|_| (next() % 1024) as f32 / 1024.0).collect();
            let mut want = vec![vec![0.0f32; n]; 3];
            {
                let [r, g, b] = &mut want[..] else {
                    unreachable!()
                };
                scalar(&src, &t, &fx, &fy, [r, g, b], 0..n);
            }
            let mut got = vec![vec![-1.0f32; n]; 3];
            {
                let [r, g, b] = &mut got[..] else {
                    unreachable!()
                };
                bilinear(&src, &t, &fx, &fy, [r, g, b], n);
            }
            for c in 0..3 {
                let (w, g) = (&want[c], &got[c]);
                assert!(
                    w.iter().zip(g).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "case {case}, channel {c}"
                );
            }
            // The AVX2 loop alone too (where AVX-512 runs, `bilinear` hands
            // it only what is left after the groups of 16).
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut alone = vec![vec![-1.0f32; n]; 3];
                let ptrs = [0, 1, 2].map(|c| alone[c].as_mut_ptr());
                // SAFETY: AVX2 is present, every index is below src.len(), all rows hold n.
                let done = unsafe { avx2::bilinear_from(&src, &t, &fx, &fy, ptrs, n, 0) };
                assert_eq!(done, n / 8 * 8);
                for c in 0..3 {
                    let same = want[c][..done]
                        .iter()
                        .zip(&alone[c][..done])
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "case {case}, channel {c}, AVX2 alone");
                }
            }
        }
    }
}
