//! f16_chw output on the host: the f32 values rounded to IEEE binary16 with
//! the `half` crate (`f16::from_f32`: round to nearest, ties to even), the
//! CPU twin of `shaders/half.wgsl`, which does the same rounding with
//! integer operations on the bits (the unit test below mirrors it).

use half::f16;
use rayon::prelude::*;

/// `dst[i] = f16::from_f32(src[i])` (the lengths are equal; a shorter side
/// bounds the copy), in parallel over large tensors.
pub(crate) fn round_into(src: &[f32], dst: &mut [f16]) {
    const CHUNK: usize = 1 << 16;
    dst.par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(d, s)| {
            for (d, &s) in d.iter_mut().zip(s) {
                *d = f16::from_f32(s);
            }
        });
}

/// A zeroed tensor's f32 twin of `len` values for a pass that computes in
/// f32 and rounds at the end (see `round_into`).
/// Allocated fallibly (a request larger than the process can hold is an
/// error, not an abort), as the engine's tensors are.
pub(crate) fn f32_twin(len: usize, what: &dyn Fn() -> String) -> crate::Result<Vec<f32>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| crate::Error::OutOfMemory {
            what: what(),
            bytes: (len as u64).saturating_mul(4),
        })?;
    v.resize(len, 0.0);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use half::f16;

    /// `shaders/half.wgsl`'s `f16_bits`, line by line.
    fn f16_bits(x: u32) -> u32 {
        let sign = (x >> 16) & 0x8000;
        let a = x & 0x7fff_ffff;
        if a > 0x7f80_0000 {
            return sign | 0x7e00 | ((a >> 13) & 0x3ff);
        }
        if a >= 0x477f_f000 {
            return sign | 0x7c00;
        }
        if a >= 0x3880_0000 {
            let m = a - 0x3800_0000;
            return sign | ((m + 0xfff + ((m >> 13) & 1)) >> 13);
        }
        if a < 0x3300_0000 {
            return sign;
        }
        let e = a >> 23;
        let mant = (a & 0x7f_ffff) | 0x80_0000;
        let shift = 126 - e;
        let q = mant >> shift;
        let rem = mant & ((1 << shift) - 1);
        let half = 1 << (shift - 1);
        let up = u32::from(rem > half || (rem == half && q & 1 == 1));
        sign | (q + up)
    }

    fn check(x: u32) {
        let want = f16::from_f32(f32::from_bits(x)).to_bits();
        let got = f16_bits(x);
        assert!(got <= 0xffff, "{x:#010x}: {got:#x} is not 16 bits");
        assert_eq!(
            got as u16,
            want,
            "{x:#010x} ({:e}): shader rounding {got:#06x}, half {want:#06x}",
            f32::from_bits(x)
        );
    }

    /// The shader's rounding equals `half`'s on every exponent and sign with
    /// the low mantissa bits that decide the rounding (0, 1, just below,
    /// at and above the half-way point of every shift from 13 to 24, all
    /// ones), and on a pseudo-random million more.
    #[test]
    fn shader_rounding_matches_half() {
        let mut lows: Vec<u32> = vec![0, 1, 0x7f_ffff, 0x7f_fffe];
        for s in 13..=24u32 {
            let h = 1u32 << (s - 1);
            lows.extend([
                h - 1,
                h,
                h + 1,
                (1 << s) - 1,
                h | (1 << s),
                (h - 1) | (1 << s),
            ]);
        }
        for sign in [0u32, 1 << 31] {
            for e in 0..=255u32 {
                for hi in [0u32, 0x40_0000, 0x2a_aaaa & !0xfff] {
                    for &lo in &lows {
                        check(sign | e << 23 | ((hi | lo) & 0x7f_ffff));
                    }
                }
            }
        }
        let mut r = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..1_000_000 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            check((r >> 32) as u32);
        }
    }

    /// The named edge cases, with the bits IEEE 754 gives.
    #[test]
    fn edge_cases() {
        let cases: [(f32, u16); 18] = [
            (0.0, 0x0000),
            (-0.0, 0x8000),
            (1.0, 0x3c00),
            (65504.0, 0x7bff),
            // Below the half-way point to 65536: down; at it (a tie, 65504
            // odd): up, to infinity.
            (65519.996, 0x7bff),
            (65520.0, 0x7c00),
            (-65520.0, 0xfc00),
            (f32::INFINITY, 0x7c00),
            (f32::NEG_INFINITY, 0xfc00),
            // The smallest subnormal, half of it (a tie: to 0), a bit more.
            (5.960_464_5e-8, 0x0001),
            (2.980_232_2e-8, 0x0000),
            (2.980_232_5e-8, 0x0001),
            // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: to even (1).
            (1.000_488_3, 0x3c00),
            // 1 + 3 * 2^-11: a tie, to even (1 + 2^-9).
            (1.001_464_8, 0x3c02),
            // The smallest normal, and the tie between it and the largest
            // subnormal (0x3ff, odd): up into the normals.
            (6.103_515_6e-5, 0x0400),
            (f32::from_bits(0x387f_e000), 0x0400),
            (f32::from_bits(0x387f_dfff), 0x03ff),
            (f32::MIN_POSITIVE, 0x0000),
        ];
        for (x, want) in cases {
            assert_eq!(f16::from_f32(x).to_bits(), want, "half: {x:e}");
            assert_eq!(f16_bits(x.to_bits()) as u16, want, "shader: {x:e}");
        }
        for nan in [
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::from_bits(0xffc1_2345),
        ] {
            let b = f16_bits(nan.to_bits()) as u16;
            assert!(f16::from_bits(b).is_nan(), "{:#x} -> {b:#x}", nan.to_bits());
            assert_eq!(b & 0x0200, 0x0200, "quiet");
            assert_eq!(b, f16::from_f32(nan).to_bits());
        }
    }
}
