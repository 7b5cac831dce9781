// The resampler's filter and fixed-point weights, free of bindings: the main
// kernel (common/resample.wgsl) and the mixing kernel (mix.wgsl, resizemix's
// paste) both derive their taps here, from a `Resample` record computed in
// Rust (src/resample.rs, GpuResample). CPU twin: `filter`, `weights`, `fixed`
// and `to_u8` in src/resample.rs (the same f32 steps, the same rounding).

// Keep in sync with GpuResample in src/resample.rs (64 bytes; tests/wgsl.rs).
struct Resample {
    x: vec4<f32>,    // x axis: scale a, offset b (centre = a (o + 0.5) + b), support, 1 / filter scale
    y: vec4<f32>,    // y axis, as x
    win: vec4<u32>,  // window: first column, columns, first row, rows
    mode: vec4<u32>, // filter kind (0: off), x precision, y precision, taps (x | y << 16)
}

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
