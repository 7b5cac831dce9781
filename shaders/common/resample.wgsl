// The antialiased resampler of axis-aligned maps (torchvision's
// antialias=True on uint8 images): per output pixel, the filter taps of each
// axis with weights normalised and rounded to fixed point, a horizontal sum
// per source row rounded to u8, then the vertical sum of those, all in
// integers. The parameters come from Rust (src/resample.rs, GpuResample).
// CPU twins: `weights` in src/resample.rs (the same f32 steps) and
// src/cpu/resample.rs (the same integer sums, pass by pass). The filter and
// the weights are in common/weights.wgsl.

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
