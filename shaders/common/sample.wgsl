// Sampling the source through the inverse map: one gather per output pixel
// (bilinear or nearest, supersampled when downscaling), clip stages, rounding.
// CPU twin: src/cpu/sample.rs.

// Tap index i (a whole number as f32) folded into [0, n) by a padding mode:
// edge clamps, reflect mirrors about the edge pixels, symmetric repeats them.
// CPU twin: `fold_index` in src/cpu/sample.rs.
fn fold_index(v: f32, n: u32, mode: u32) -> u32 {
    let i = i32(clamp(v, -1e8, 1e8));
    let m = i32(n);
    if (mode == PAD_REFLECT) {
        if (m == 1) {
            return 0u;
        }
        let p = 2 * (m - 1);
        var j = abs(i) % p;
        if (j >= m) {
            j = p - j;
        }
        return u32(j);
    }
    if (mode == PAD_SYMMETRIC) {
        let p = 2 * m;
        var j = i % p;
        if (j < 0) {
            j += p;
        }
        if (j >= m) {
            j = p - 1 - j;
        }
        return u32(j);
    }
    return u32(clamp(i, 0, m - 1));
}

fn unpack_rgb(p: u32) -> vec3<f32> {
    return vec3<f32>(f32(p & 255u), f32((p >> 8u) & 255u), f32((p >> 16u) & 255u));
}

fn pack_rgb(c: vec3<f32>) -> u32 {
    let q = vec3<u32>(c);
    return q.x | (q.y << 8u) | (q.z << 16u);
}

// Values in [0, 255]; (u, v) in continuous source coordinates (pixel centres
// at i + 0.5). Nearest is the bilinear formula at floor(u) with weight 0,
// which gives exactly the pixel at (floor(u), floor(v)).
fn sample_at(src: vec4<u32>, u: f32, v: f32) -> vec3<f32> {
    var x = u - 0.5;
    var y = v - 0.5;
    if (MAY_NEAREST) {
        let nearest = (src.w & 1u) != 0u;
        x = select(x, floor(u), nearest);
        y = select(y, floor(v), nearest);
    }
    let x0 = floor(x);
    let y0 = floor(y);
    let fx = x - x0;
    let fy = y - y0;
    let hx = f32(src.y) - 1.0;
    let hy = f32(src.z) - 1.0;
    var xa = u32(clamp(x0, 0.0, hx));
    var xb = u32(clamp(x0 + 1.0, 0.0, hx));
    var ya = src.x + u32(clamp(y0, 0.0, hy)) * src.y;
    var yb = src.x + u32(clamp(y0 + 1.0, 0.0, hy)) * src.y;
    if (MAY_FOLD) {
        let mode = (src.w >> PAD_SHIFT) & 3u;
        if (mode != PAD_CONSTANT) {
            xa = fold_index(x0, src.y, mode);
            xb = fold_index(x0 + 1.0, src.y, mode);
            ya = src.x + fold_index(y0, src.z, mode) * src.y;
            yb = src.x + fold_index(y0 + 1.0, src.z, mode) * src.y;
        }
    }
    let a = unpack_rgb(src_rgb(ya + xa));
    let b = unpack_rgb(src_rgb(ya + xb));
    let c = unpack_rgb(src_rgb(yb + xa));
    let d = unpack_rgb(src_rgb(yb + xb));
    // Columns first (the CPU twin interpolates whole source rows vertically,
    // then gathers along them), then across.
    let left = a + (c - a) * fy;
    let right = b + (d - b) * fy;
    return left + (right - left) * fx;
}

fn coverage(c: Clip, px: f32, py: f32) -> f32 {
    var u = c.r0.x * px + c.r0.y * py + c.r0.z;
    var v = c.r1.x * px + c.r1.y * py + c.r1.z;
    if (MAY_PROJECTIVE) {
        let w = c.r2.x * px + c.r2.y * py + c.r2.z;
        u = u / w;
        v = v / w;
    }
    let hard = select(0.0, 1.0, u >= 0.0 && u < c.r0.w && v >= 0.0 && v < c.r1.w);
    let soft = clamp(u + 0.5, 0.0, 1.0) * clamp(c.r0.w + 0.5 - u, 0.0, 1.0)
             * clamp(v + 0.5, 0.0, 1.0) * clamp(c.r1.w + 0.5 - v, 0.0, 1.0);
    return select(soft, hard, c.r2.w > 0.5);
}

// The warped pixel at output pixel (ox, oy), rounded to u8 values (as f32).
// `geo` holds the pixel's displacement, rotation and log-scale fields
// (field_values): with fields, each tap point p moves to
// c + exp(s) R(theta) (p - c) + t before the map and the clip stages.
// The sample is read from storage field by field (never copied whole).
fn warp_pixel(si: u32, ox: u32, oy: u32, geo: vec4<f32>) -> vec3<f32> {
    if (MAY_RESAMPLE && samples[si].resample.mode.x != RESAMPLE_OFF) {
        return resample_pixel(si, ox, oy);
    }
    let src = samples[si].src;
    let counts = samples[si].counts;
    let m0 = samples[si].m0;
    let m1 = samples[si].m1;
    let m2 = samples[si].m2;
    let nx = counts.y;
    let ny = counts.z;
    var moved = false;
    var turned = false;
    var cs = 1.0;
    var sn = 0.0;
    var cen = vec2<f32>(0.0);
    if ((FIELD_KINDS & KIND_GEOMETRIC) != 0u) {
        let fmask = samples[si].field.grid.z;
        moved = (fmask & KIND_GEOMETRIC) != 0u;
        if ((FIELD_KINDS & KIND_ROTATE_SCALE) != 0u) {
            turned = (fmask & KIND_ROTATE_SCALE) != 0u;
            let s = exp(geo.w);
            cs = cos(geo.z) * s;
            sn = sin(geo.z) * s;
            cen = samples[si].field.shape.yz;
        }
    }
    var acc = vec3<f32>(0.0);
    for (var j = 0u; j < ny; j++) {
        for (var i = 0u; i < nx; i++) {
            var px = f32(ox) + (f32(i) + 0.5) / f32(nx);
            var py = f32(oy) + (f32(j) + 0.5) / f32(ny);
            if ((FIELD_KINDS & KIND_GEOMETRIC) != 0u && moved) {
                if ((FIELD_KINDS & KIND_ROTATE_SCALE) != 0u && turned) {
                    let ddx = px - cen.x;
                    let ddy = py - cen.y;
                    px = cen.x + (cs * ddx - sn * ddy);
                    py = cen.y + (sn * ddx + cs * ddy);
                }
                px = px + geo.x;
                py = py + geo.y;
            }
            var u = m0.x * px + m0.y * py + m0.z;
            var v = m1.x * px + m1.y * py + m1.z;
            if (MAY_PROJECTIVE) {
                let w = m2.x * px + m2.y * py + m2.z;
                u = u / w;
                v = v / w;
            }
            var c = sample_at(src, u, v);
            if (MAY_CLIP) {
                for (var k = 0u; k < counts.w; k++) {
                    let clip = samples[si].clips[k];
                    let cov = coverage(clip, px, py);
                    c = c * cov + clip.fill.xyz * 255.0 * (1.0 - cov);
                }
            }
            acc += c;
        }
    }
    let n = f32(nx * ny);
    return clamp(floor(acc / n + 0.5), vec3<f32>(0.0), vec3<f32>(255.0));
}
