// The mixing pass (MixUp, CutMix, ResizeMix): runs after the main pass on the
// augmented batch, reading each sample and its partner from the main pass's
// output and writing a second buffer (a partner may be any sample, so the
// pass cannot write in place). A standalone kernel with its own bindings.
//
// Grid: workgroup (x, y, z) is a 16x16 tile of sample z, as in the main pass,
// so the sample's mixing record is uniform across the workgroup.
// Layouts: u8 is one RGBA word per pixel, f32 is CHW planes (bit patterns);
// with OUT_GREY (one output channel) f32 has one plane a sample, read as three
// equal channels and written back as its first (u8 keeps its RGBA words,
// whose first byte the host keeps).
// CPU twin: src/cpu/mix.rs. MIX_X kinds come from the generated prelude (src/mix.rs, `kind`);
// the resampler's weights (rs_taps, Resample) from common/weights.wgsl.

override OUT_F32: bool = false;
override OUT_GREY: bool = false;

// Keep in sync with GpuMixGlobals in src/mix.rs.
struct MixGlobals {
    out: vec4<u32>,   // width, height, samples, format (bit 0: f32 CHW, else u8 HWC; bit 1: one channel)
}

// Keep in sync with GpuMix in src/mix.rs (112 bytes).
struct MixSample {
    kind: vec4<u32>,  // kind (0 copy, 1 blend, 2 box, 3 resize), partner, taps x, taps y
    rect: vec4<u32>,  // left, top, width, height
    f: vec4<f32>,     // lam, source pixels per pasted pixel x, y, unused
    resample: Resample, // resize: the antialiased resampler (mode.x 0: the supersampled gather)
}

@group(0) @binding(0) var<uniform> mg: MixGlobals;
@group(0) @binding(1) var<storage, read> mixes: array<MixSample>;
@group(0) @binding(2) var<storage, read> mix_in: array<u32>;
@group(0) @binding(3) var<storage, read_write> mix_out: array<u32>;

// Channel c of pixel (x, y) of sample s.
fn load(s: u32, c: u32, x: u32, y: u32) -> f32 {
    let npx = mg.out.x * mg.out.y;
    let p = y * mg.out.x + x;
    if (OUT_F32 && OUT_GREY) {
        return bitcast<f32>(mix_in[s * npx + p]);
    }
    if (OUT_F32) {
        return bitcast<f32>(mix_in[(s * 3u + c) * npx + p]);
    }
    return f32((mix_in[s * npx + p] >> (8u * c)) & 255u);
}

fn load3(s: u32, x: u32, y: u32) -> vec3<f32> {
    return vec3<f32>(load(s, 0u, x, y), load(s, 1u, x, y), load(s, 2u, x, y));
}

// The core's bilinear tap (sample_at in common/sample.wgsl) on sample s:
// centres at i + 0.5, edge-clamped, columns first, then across.
fn bilinear(s: u32, u: f32, v: f32) -> vec3<f32> {
    let x = u - 0.5;
    let y = v - 0.5;
    let x0 = floor(x);
    let y0 = floor(y);
    let fx = x - x0;
    let fy = y - y0;
    let hx = f32(mg.out.x) - 1.0;
    let hy = f32(mg.out.y) - 1.0;
    let xa = u32(clamp(x0, 0.0, hx));
    let xb = u32(clamp(x0 + 1.0, 0.0, hx));
    let ya = u32(clamp(y0, 0.0, hy));
    let yb = u32(clamp(y0 + 1.0, 0.0, hy));
    let a = load3(s, xa, ya);
    let b = load3(s, xb, ya);
    let c = load3(s, xa, yb);
    let d = load3(s, xb, yb);
    let left = a + (c - a) * fy;
    let right = b + (d - b) * fy;
    return left + (right - left) * fx;
}

// The resized partner at pixel (rx, ry) of the paste region: the mean of the
// supersampling taps (the core's placement: (i + 0.5) / n within the pixel).
fn resize_px(si: u32, sj: u32, rx: u32, ry: u32) -> vec3<f32> {
    let nx = mixes[si].kind.z;
    let ny = mixes[si].kind.w;
    let sx = mixes[si].f.y;
    let sy = mixes[si].f.z;
    var acc = vec3<f32>(0.0);
    for (var j = 0u; j < ny; j++) {
        for (var i = 0u; i < nx; i++) {
            let px = f32(rx) + (f32(i) + 0.5) / f32(nx);
            let py = f32(ry) + (f32(j) + 0.5) / f32(ny);
            acc += bilinear(sj, sx * px, sy * py);
        }
    }
    return acc / f32(nx * ny);
}

// The resized partner at pixel (rx, ry) of the paste region by the core's
// antialiased resampler (resample_pixel in common/resample.wgsl, on the
// partner's whole image): u8, a horizontal sum per row rounded to u8, then
// the vertical sum, in integers; f32, the same fixed-point weights as f32
// (w / 2^prec), no rounding between the passes.
fn resample_px(si: u32, sj: u32, rx: u32, ry: u32) -> vec3<f32> {
    let r = mixes[si].resample;
    var wx: array<i32, MAX_RESAMPLE_TAPS>;
    var wy: array<i32, MAX_RESAMPLE_TAPS>;
    let tx = rs_taps(r.mode.x, r.x, r.win.y, r.mode.w & 0xffffu, r.mode.y, rx, &wx);
    let ty = rs_taps(r.mode.x, r.y, r.win.w, r.mode.w >> 16u, r.mode.z, ry, &wy);
    let x0 = r.win.x + tx.x;
    let y0 = r.win.z + ty.x;
    if (OUT_F32) {
        let scx = 1.0 / f32(1u << r.mode.y);
        let scy = 1.0 / f32(1u << r.mode.z);
        var acc = vec3<f32>(0.0);
        for (var j = 0u; j < ty.y; j++) {
            var h = vec3<f32>(0.0);
            for (var i = 0u; i < tx.y; i++) {
                h += load3(sj, x0 + i, y0 + j) * (f32(wx[i]) * scx);
            }
            acc += h * (f32(wy[j]) * scy);
        }
        return acc;
    }
    let npx = mg.out.x * mg.out.y;
    var acc = vec3<i32>(0);
    for (var j = 0u; j < ty.y; j++) {
        let row = sj * npx + (y0 + j) * mg.out.x + x0;
        var h = vec3<i32>(0);
        for (var i = 0u; i < tx.y; i++) {
            h += rs_unpack(mix_in[row + i]) * wx[i];
        }
        acc += rs_round(h, r.mode.y) * wy[j];
    }
    return vec3<f32>(rs_round(acc, r.mode.z));
}

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let si = wg.z;
    let ox = gid.x;
    let oy = gid.y;
    if (ox >= mg.out.x || oy >= mg.out.y) {
        return;
    }
    let k = mixes[si].kind.x;
    let sj = mixes[si].kind.y;
    let rect = mixes[si].rect;
    let inside = ox >= rect.x && ox < rect.x + rect.z && oy >= rect.y && oy < rect.y + rect.w;
    var c: vec3<f32>;
    var round = false;
    if (k == MIX_BLEND) {
        let l = mixes[si].f.x;
        c = load3(si, ox, oy) * l + load3(sj, ox, oy) * (1.0 - l);
        round = true;
    } else if (k == MIX_BOX && inside) {
        c = load3(sj, ox, oy);
    } else if (k == MIX_RESIZE && inside) {
        if (mixes[si].resample.mode.x != RESAMPLE_OFF) {
            c = resample_px(si, sj, ox - rect.x, oy - rect.y);
        } else {
            c = resize_px(si, sj, ox - rect.x, oy - rect.y);
        }
        round = true;
    } else {
        c = load3(si, ox, oy);
    }
    let npx = mg.out.x * mg.out.y;
    let p = oy * mg.out.x + ox;
    if (OUT_F32 && OUT_GREY) {
        mix_out[si * npx + p] = bitcast<u32>(c.x);
    } else if (OUT_F32) {
        let o = si * 3u * npx + p;
        mix_out[o] = bitcast<u32>(c.x);
        mix_out[o + npx] = bitcast<u32>(c.y);
        mix_out[o + 2u * npx] = bitcast<u32>(c.z);
    } else {
        if (round) {
            c = clamp(floor(c + 0.5), vec3<f32>(0.0), vec3<f32>(255.0));
        }
        let q = vec3<u32>(c);
        mix_out[si * npx + p] = q.x | (q.y << 8u) | (q.z << 16u);
    }
}
