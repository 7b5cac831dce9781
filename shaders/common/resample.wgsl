// The antialiased resampler of axis-aligned maps (torchvision's
// antialias=True on uint8 images): per output pixel, the filter taps of each
// axis with weights normalised and rounded to fixed point, a horizontal sum
// per source row rounded to u8, then the vertical sum of those, all in
// integers. The parameters come from Rust (src/resample.rs, GpuResample).
// CPU twins: `weights` in src/resample.rs (the same f32 steps) and
// src/cpu/resample.rs (the same integer sums, pass by pass).

fn rs_filter(kind: u32, x0: f32) -> f32 {
    let x = abs(x0);
    if (kind == RESAMPLE_CUBIC || kind == RESAMPLE_CUBIC_SHARP) {
        let a = select(-0.75, -0.5, kind == RESAMPLE_CUBIC);
        if (x < 1.0) {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
        } else if (x < 2.0) {
            return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
        }
        return 0.0;
    }
    if (x < 1.0) {
        return 1.0 - x;
    }
    return 0.0;
}

fn rs_fixed(w: f32, prec: u32) -> i32 {
    let v = w * f32(1u << prec);
    if (v < 0.0) {
        return i32(v - 0.5);
    }
    return i32(v + 0.5);
}

// First tap and tap count of output pixel o along one axis; its fixed-point
// weights in `iw`. p: a, b, support, 1 / filter scale; n: window length;
// k: most taps.
fn rs_taps(kind: u32, p: vec4<f32>, n: u32, k: u32, prec: u32, o: u32,
           iw: ptr<function, array<i32, MAX_RESAMPLE_TAPS>>) -> vec2<u32> {
    var w: array<f32, MAX_RESAMPLE_TAPS>;
    let center = p.x * (f32(o) + 0.5) + p.y;
    let support = p.z;
    let lo = max(i32(floor(center - support + 0.5)), 0);
    let hi = min(i32(floor(center + support + 0.5)), i32(n));
    let size = clamp(hi - lo, 0, i32(k));
    var total = 0.0;
    for (var j = 0; j < size; j++) {
        let v = rs_filter(kind, (f32(j + lo) - center + 0.5) * p.w);
        w[j] = v;
        total += v;
    }
    for (var j = 0; j < size; j++) {
        var v = w[j];
        if (total != 0.0) {
            v = v / total;
        }
        (*iw)[j] = rs_fixed(v, prec);
    }
    return vec2<u32>(u32(lo), u32(size));
}

fn rs_unpack(p: u32) -> vec3<i32> {
    return vec3<i32>(i32(p & 255u), i32((p >> 8u) & 255u), i32((p >> 16u) & 255u));
}

fn rs_round(acc: vec3<i32>, prec: u32) -> vec3<i32> {
    return clamp((acc + vec3<i32>(1 << (prec - 1u))) >> vec3<u32>(prec), vec3<i32>(0), vec3<i32>(255));
}

// The resampled pixel at output pixel (ox, oy), u8 values as f32.
fn resample_pixel(si: u32, ox: u32, oy: u32) -> vec3<f32> {
    let r = samples[si].resample;
    let src = samples[si].src;
    var wx: array<i32, MAX_RESAMPLE_TAPS>;
    var wy: array<i32, MAX_RESAMPLE_TAPS>;
    let tx = rs_taps(r.mode.x, r.x, r.win.y, r.mode.w & 0xffffu, r.mode.y, ox, &wx);
    let ty = rs_taps(r.mode.x, r.y, r.win.w, r.mode.w >> 16u, r.mode.z, oy, &wy);
    var acc = vec3<i32>(0);
    for (var j = 0u; j < ty.y; j++) {
        let row = src.x + (r.win.z + ty.x + j) * src.y + r.win.x + tx.x;
        var h = vec3<i32>(0);
        for (var i = 0u; i < tx.y; i++) {
            h += rs_unpack(src_rgb(row + i)) * wx[i];
        }
        acc += rs_round(h, r.mode.y) * wy[j];
    }
    return vec3<f32>(rs_round(acc, r.mode.z));
}
