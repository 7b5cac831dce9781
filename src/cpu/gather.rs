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

/// Packs RGB bytes as RGBA words (alpha 0), as the GPU backend uploads them.
pub fn pack_rgba(rgb: &[u8], out: &mut Vec<u32>) {
    out.clear();
    out.extend(
        rgb.chunks_exact(3)
            .map(|p| p[0] as u32 | (p[1] as u32) << 8 | (p[2] as u32) << 16),
    );
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
/// Every index in `t` must be below `src.len()` (checked).
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
            // SAFETY: AVX2 is present; every index was checked against src above,
            // and the loads and stores stay below n.
            let mut out = out;
            let ptrs = out.each_mut().map(|o| o.as_mut_ptr());
            let done = unsafe { avx2::bilinear(src, t, fx, fy, ptrs, n) };
            scalar(src, t, fx, fy, out, done..n);
            return;
        }
    }
    scalar(src, t, fx, fy, out, 0..n);
}

/// Nearest sampling: the bilinear formula with both weights 0 gives exactly
/// the top-left tap, so only that texel is read (same values as `bilinear`).
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

    /// Pixels in whole groups of 8; returns how many were done.
    ///
    /// # Safety
    /// AVX2 must be present, every index of `t` below `n` must be in `src`,
    /// and `fx`, `fy` and the three `out` rows must hold `n` values.
    #[target_feature(enable = "avx2")]
    pub unsafe fn bilinear(
        src: &[u32],
        t: &Taps,
        fx: &[f32],
        fy: &[f32],
        out: [*mut f32; 3],
        n: usize,
    ) -> usize {
        let base = src.as_ptr() as *const i32;
        let mask = _mm256_set1_epi32(255);
        let mut x = 0;
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
        while x + 8 <= n {
            let (a, b, c, d) = (gather!(t.a), gather!(t.b), gather!(t.c), gather!(t.d));
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
