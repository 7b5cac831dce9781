// Label maps through each sample's own inverse map, nearest, never blended:
// one dispatch after the main pass, in the same submit, reading the same
// sample table and random fields (group 0). Per output pixel the centre goes
// through the field transform, the map and the projective divide as in
// `warp_pixel`; outside a clip stage's canvas or the source it takes the
// ignore value, else the label at (floor(u), floor(v)) (folded for edge /
// reflect / symmetric padding).
// CPU twin: src/cpu/masks.rs.
//
// mask_in: [0] masks per sample K, [1] the words of one output plane,
// [2] the ignore values (u8 in bits 0..8, u16 in bits 16..32), [3] the
// index T of the split tables, [4 + si * K + j] the first word of sample
// si's plane j (bit 31 set: u16 values, 2 a word; else u8, 4 a word,
// little-endian); then the planes, each of its source's size; then at
// [T + si] the first word S of sample si's split tables, or MASK_OUTSIDE:
// for an axis-aligned map (resize, crop, flip, scale jitter) the host gives
// the source column of each output column at [S + ox] and the source row of
// each output row at [S + width + oy] (MASK_OUTSIDE where a clip stage or
// the source is left), the very decisions `mask_source` would take pixel by
// pixel (src/cpu/masks.rs `separable_indices`, tested against the general
// loop bit for bit), so the kernel only looks them up. mask_out: sample si's plane j at (si * K + j) times
// [1] words, packed as it is stored (u8: 4 values a word, u16: 2), pixels
// from outside already holding their plane's ignore value: the readback is
// the masks' own bytes (a quarter of one word a pixel for u8).

@group(1) @binding(0) var<storage, read> mask_in: array<u32>;
@group(1) @binding(1) var<storage, read_write> mask_out: array<u32>;

const MASK_OUTSIDE: u32 = 0xffffffffu;

// A product the compiler cannot fuse with the add that follows (a fused
// multiply-add rounds once where the CPU twin rounds twice): the select on
// a value only known at run time (Globals.stage.w is always 0) sits between
// them. The sums of the map are then rounded as in Rust, term by term.
fn mul(a: f32, b: f32) -> f32 {
    return select(a * b, 0.0, g.stage.w == 0xffffffffu);
}

// floor(a / b) decided by products (correctly rounded on both backends,
// where a divide may be off by ulps): q b <= a < (q + 1) b, b made positive.
fn div_floor(a_in: f32, b_in: f32) -> f32 {
    var a = a_in;
    var b = b_in;
    if (b < 0.0) {
        a = -a;
        b = -b;
    }
    var q = floor(a / b);
    if (mul(q, b) > a) {
        q = q - 1.0;
    } else if (mul(q + 1.0, b) <= a) {
        q = q + 1.0;
    }
    return q;
}

// The hard centre test of a clip stage: 0 <= u / w < width (and v), by products.
fn inside_clip(c: Clip, px: f32, py: f32) -> bool {
    var u = mul(c.r0.x, px) + mul(c.r0.y, py) + c.r0.z;
    var v = mul(c.r1.x, px) + mul(c.r1.y, py) + c.r1.z;
    var w = mul(c.r2.x, px) + mul(c.r2.y, py) + c.r2.z;
    if (w < 0.0) {
        u = -u;
        v = -v;
        w = -w;
    }
    return u >= 0.0 && u < mul(c.r0.w, w) && v >= 0.0 && v < mul(c.r1.w, w);
}

fn mask_source(si: u32, ox: u32, oy: u32, geo: vec4<f32>) -> u32 {
    let src = samples[si].src;
    let m0 = samples[si].m0;
    let m1 = samples[si].m1;
    let m2 = samples[si].m2;
    var px = f32(ox) + 0.5;
    var py = f32(oy) + 0.5;
    if ((FIELD_KINDS & KIND_GEOMETRIC) != 0u) {
        let fmask = samples[si].field.grid.z;
        if ((fmask & KIND_GEOMETRIC) != 0u) {
            if ((FIELD_KINDS & KIND_ROTATE_SCALE) != 0u && (fmask & KIND_ROTATE_SCALE) != 0u) {
                let s = exp(geo.w);
                let cs = cos(geo.z) * s;
                let sn = sin(geo.z) * s;
                let cen = samples[si].field.shape.yz;
                let ddx = px - cen.x;
                let ddy = py - cen.y;
                px = cen.x + (mul(cs, ddx) - mul(sn, ddy));
                py = cen.y + (mul(sn, ddx) + mul(cs, ddy));
            }
            px = px + geo.x;
            py = py + geo.y;
        }
    }
    let u = mul(m0.x, px) + mul(m0.y, py) + m0.z;
    let v = mul(m1.x, px) + mul(m1.y, py) + m1.z;
    var w = 1.0;
    if (MAY_PROJECTIVE) {
        w = mul(m2.x, px) + mul(m2.y, py) + m2.z;
    }
    if (MAY_CLIP) {
        let n = samples[si].counts.w;
        for (var k = 0u; k < n; k++) {
            if (!inside_clip(samples[si].clips[k], px, py)) {
                return MASK_OUTSIDE;
            }
        }
    }
    let x = div_floor(u, w);
    let y = div_floor(v, w);
    if (MAY_FOLD) {
        let mode = (src.w >> PAD_SHIFT) & 3u;
        if (mode != PAD_CONSTANT) {
            // NaN or -inf (a degenerate map) stays outside, as in the CPU twin.
            if (!(x >= -3.0e38 && y >= -3.0e38)) {
                return MASK_OUTSIDE;
            }
            return fold_index(y, src.z, mode) * src.y + fold_index(x, src.y, mode);
        }
    }
    if (x >= 0.0 && x < f32(src.y) && y >= 0.0 && y < f32(src.z)) {
        return u32(y) * src.y + u32(x);
    }
    return MASK_OUTSIDE;
}

// One invocation per 4 consecutive output pixels (row-major) of sample
// wg.z: one output word of each u8 plane, two of each u16 plane.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let si = wg.z;
    let t = gid.x;
    let npx = g.out.x * g.out.y;
    if (4u * t >= npx) {
        return;
    }
    // The sample's split tables (one per workgroup: si is wg.z).
    let split = mask_in[mask_in[3] + si];
    let sw = samples[si].src.y;
    // One integer divide per invocation: the 4 pixels step along the row.
    var ox = (4u * t) % g.out.x;
    var oy = (4u * t) / g.out.x;
    var idx: array<u32, 4>;
    for (var q = 0u; q < 4u; q++) {
        idx[q] = MASK_OUTSIDE;
        if (4u * t + q < npx) {
            if (split != MASK_OUTSIDE) {
                let x = mask_in[split + ox];
                let y = mask_in[split + g.out.x + oy];
                if (x != MASK_OUTSIDE && y != MASK_OUTSIDE) {
                    idx[q] = y * sw + x;
                }
            } else {
                let fv = field_values(si, ox, oy);
                idx[q] = mask_source(si, ox, oy, fv.geo);
            }
        }
        ox = ox + 1u;
        if (ox == g.out.x) {
            ox = 0u;
            oy = oy + 1u;
        }
    }
    let k = mask_in[0];
    let stride = mask_in[1];
    let ignore8 = mask_in[2] & 0xffu;
    let ignore16 = mask_in[2] >> 16u;
    for (var j = 0u; j < k; j++) {
        let entry = mask_in[4u + si * k + j];
        let base = entry & 0x7fffffffu;
        let at = (si * k + j) * stride;
        if ((entry >> 31u) != 0u) {
            var w = array<u32, 2>(0u, 0u);
            for (var q = 0u; q < 4u; q++) {
                var val = ignore16;
                if (idx[q] != MASK_OUTSIDE) {
                    val = (mask_in[base + idx[q] / 2u] >> (16u * (idx[q] % 2u))) & 0xffffu;
                }
                w[q / 2u] = w[q / 2u] | (val << (16u * (q % 2u)));
            }
            mask_out[at + 2u * t] = w[0];
            if (4u * t + 2u < npx) {
                mask_out[at + 2u * t + 1u] = w[1];
            }
        } else {
            var w = 0u;
            for (var q = 0u; q < 4u; q++) {
                var val = ignore8;
                if (idx[q] != MASK_OUTSIDE) {
                    val = (mask_in[base + idx[q] / 4u] >> (8u * (idx[q] % 4u))) & 0xffu;
                }
                w = w | (val << (8u * q));
            }
            mask_out[at + t] = w;
        }
    }
}
