// f16_chw output: the batch's f32 values (the main pass's output, or the
// mixing pass's) rounded to IEEE binary16, two halves a word (value 2w in the
// low half of word w, 2w + 1 in the high half: the little-endian f16 array),
// the last word's high half 0 when the count is odd. The values of a chunk
// are one flat array (its samples lie back to back, N x C x H x W), so a
// sample of an odd value count needs no padding of its own.
//
// The rounding is integer arithmetic on the f32 bits, not `pack2x16float`
// (whose rounding the WGSL spec leaves to the implementation): round to
// nearest, ties to even; normals, subnormals, overflow to infinity (from
// 65520 up), NaN as a quiet NaN keeping the payload's top bits. It is what
// the `half` crate's `f16::from_f32` gives, which the CPU twin uses
// (src/half_out.rs; tests/handoff_formats.rs checks this kernel against it).

struct HalfGlobals {
    // f16 values to write.
    count: u32,
    _a: u32,
    _b: u32,
    _c: u32,
}

@group(0) @binding(0) var<uniform> hg: HalfGlobals;
@group(0) @binding(1) var<storage, read> src_f32: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst_f16: array<u32>;

// The binary16 bits (low 16 bits) of the f32 with bits `x`.
fn f16_bits(x: u32) -> u32 {
    let sign = (x >> 16u) & 0x8000u;
    let a = x & 0x7fffffffu;
    if (a > 0x7f800000u) {
        // NaN: quiet, the payload's top 9 bits kept.
        return sign | 0x7e00u | ((a >> 13u) & 0x3ffu);
    }
    if (a >= 0x477ff000u) {
        // 65520 and up (and infinity): infinity.
        return sign | 0x7c00u;
    }
    if (a >= 0x38800000u) {
        // A normal half (2^-14 and up): rebias the exponent by 127 - 15,
        // then drop 13 mantissa bits, to nearest, ties to even (a carry
        // into the exponent is the right next value).
        let m = a - 0x38000000u;
        return sign | ((m + 0xfffu + ((m >> 13u) & 1u)) >> 13u);
    }
    if (a < 0x33000000u) {
        // Below 2^-25 (half the smallest subnormal; f32 subnormals too): 0.
        return sign;
    }
    // A subnormal half (or the smallest normal, by rounding up): the value
    // in units of 2^-24 is mant * 2^(e - 126), e in [102, 112], so a right
    // shift by 14 to 24.
    let e = a >> 23u;
    let mant = (a & 0x7fffffu) | 0x800000u;
    let shift = 126u - e;
    let q = mant >> shift;
    let rem = mant & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    var up = 0u;
    if (rem > half || (rem == half && (q & 1u) == 1u)) {
        up = 1u;
    }
    return sign | (q + up);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nw: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let w = (wg.y * nw.x + wg.x) * 256u + li;
    let i = 2u * w;
    if (i >= hg.count) {
        return;
    }
    let lo = f16_bits(src_f32[i]);
    var hi = 0u;
    if (i + 1u < hg.count) {
        hi = f16_bits(src_f32[i + 1u]);
    }
    dst_f16[w] = lo | (hi << 16u);
}
