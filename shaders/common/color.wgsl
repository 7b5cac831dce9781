// Colour maths on [0, 1] RGB, and the per-sample colour program.
// CPU twin: src/cpu/color.rs.

// Op codes (CODE_X: f32, OP_X: u32), field kinds (KIND_X) and limits come
// from the generated prelude (src/gpu/shaders.rs, from src/codes.rs).
const INV_255: f32 = 0.003921568627450980;

fn gray(c: vec3<f32>) -> f32 {
    return 0.2989 * c.x + 0.587 * c.y + 0.114 * c.z;
}

fn blend(a: vec3<f32>, b: vec3<f32>, r: f32) -> vec3<f32> {
    return clamp(r * a + (1.0 - r) * b, vec3<f32>(0.0), vec3<f32>(1.0));
}

fn rgb_to_hsv(c: vec3<f32>) -> vec3<f32> {
    let maxc = max(c.x, max(c.y, c.z));
    let minc = min(c.x, min(c.y, c.z));
    let eqc = maxc == minc;
    let cr = maxc - minc;
    let s = cr / select(maxc, 1.0, eqc);
    let crd = select(cr, 1.0, eqc);
    let rc = (maxc - c.x) / crd;
    let gc = (maxc - c.y) / crd;
    let bc = (maxc - c.z) / crd;
    var h: f32;
    if (maxc == c.x) {
        h = bc - gc;
    } else if (maxc == c.y) {
        h = 2.0 + rc - bc;
    } else {
        h = 4.0 + gc - rc;
    }
    h = h / 6.0 + 1.0;
    h = h - floor(h);
    return vec3<f32>(h, s, maxc);
}

fn hsv_to_rgb(hsv: vec3<f32>) -> vec3<f32> {
    let h6 = hsv.x * 6.0;
    let fi = floor(h6);
    let f = h6 - fi;
    let i = u32(fi) % 6u;
    let s = hsv.y;
    let v = hsv.z;
    let p = clamp(v * (1.0 - s), 0.0, 1.0);
    let q = clamp(v * (1.0 - s * f), 0.0, 1.0);
    let t = clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0);
    switch i {
        case 0u: { return vec3<f32>(v, t, p); }
        case 1u: { return vec3<f32>(q, v, p); }
        case 2u: { return vec3<f32>(p, v, t); }
        case 3u: { return vec3<f32>(p, q, v); }
        case 4u: { return vec3<f32>(t, p, v); }
        default: { return vec3<f32>(v, p, q); }
    }
}

fn adjust_hue(c: vec3<f32>, shift: f32) -> vec3<f32> {
    var hsv = rgb_to_hsv(c);
    let h = hsv.x + shift;
    hsv.x = h - floor(h);
    return hsv_to_rgb(hsv);
}

// One brightness / contrast / saturation / grayscale step: a blend with a
// target of 0, the mean, or the pixel's grey (grayscale: factor 0), values
// identical to the CPU twin's separate formulas; branch-free. A field step
// (codes 6..8) is the plain step with the factor max(0, 1 + field value).
fn blend_step(si: u32, c: vec3<f32>, step_in: vec4<f32>, cf: vec4<f32>) -> vec3<f32> {
    var step = step_in;
    if ((FIELD_KINDS & KIND_COLOR_BLEND) != 0u && step.x >= CODE_FIELD_BRIGHTNESS) {
        let fi = u32(step.x - CODE_FIELD_BRIGHTNESS);
        step = vec4<f32>(step.x - (CODE_FIELD_BRIGHTNESS - CODE_BRIGHTNESS), max(0.0, 1.0 + cf[fi]), step.z, 0.0);
    }
    let code = step.x;
    let is_contrast = code == CODE_CONTRAST;
    let is_gray = code == CODE_GRAYSCALE;
    let target_ = select(0.0, stats[stat_base(si, u32(step.z)) + STAT_MEAN], is_contrast)
        + select(0.0, gray(c), code == CODE_SATURATION || is_gray);
    return blend(c, vec3<f32>(target_), select(step.y, 0.0, is_gray));
}

fn uses(op: u32) -> bool {
    return ((OPS >> op) & 1u) != 0u;
}

// Steps that need the whole image at their input: each starts a segment.
fn is_barrier(op: u32) -> bool {
    return op == OP_CONTRAST || op == OP_FIELD_CONTRAST || (op >= OP_AUTOCONTRAST && op <= OP_BLUR_V);
}

// Where barrier slot `slot` of sample si keeps its statistics.
fn stat_base(si: u32, slot: u32) -> u32 {
    return (si * MAX_STATS + slot) * STAT_STRIDE;
}

// The value rounded to u8, per channel.
fn quantize(c: vec3<f32>) -> vec3<u32> {
    return vec3<u32>(clamp(floor(clamp(c, vec3<f32>(0.0), vec3<f32>(1.0)) * 255.0 + 0.5), vec3<f32>(0.0), vec3<f32>(255.0)));
}

// A uniform value in [0, 1) for value `i` of a key (24 bits).
fn value_uniform(key: u32, i: u32) -> f32 {
    return f32(hash32(key ^ hash32(i)) >> 8u) * (1.0 / 16777216.0);
}

// Reflect padding (torchvision's "reflect": the edge is not repeated).
fn reflect(i: i32, n: i32) -> i32 {
    if (n <= 1) {
        return 0;
    }
    let period = 2 * (n - 1);
    var k = abs(i) % period;
    if (k >= n) {
        k = period - k;
    }
    return k;
}

// The pixel a step runs at: its position, its colour fields, and the half of
// scratch that holds the image at the input of the step's segment.
struct Px {
    x: u32,
    y: u32,
    cf: vec4<f32>,
    src_half: u32,
}

fn apply_step(si: u32, c: vec3<f32>, step: vec4<f32>, px: Px) -> vec3<f32> {
    let op = u32(step.x);
    var r = c;
    if (op <= OP_LAST_BLEND) {
        r = blend_step(si, c, step, px.cf);
    }
    let w = g.out.x;
    let h = g.out.y;
    if (uses(OP_INVERT) && op == OP_INVERT) {
        r = 1.0 - c;
    }
    if (uses(OP_SOLARIZE) && op == OP_SOLARIZE) {
        r = select(c, 1.0 - c, c * 255.0 >= vec3<f32>(step.y));
    }
    if (uses(OP_POSTERIZE) && op == OP_POSTERIZE) {
        let mask = (0xffu << (8u - u32(step.y))) & 0xffu;
        r = vec3<f32>(quantize(c) & vec3<u32>(mask)) * INV_255;
    }
    if (uses(OP_GAMMA) && op == OP_GAMMA) {
        let pw = pow(max(c, vec3<f32>(1e-30)), vec3<f32>(step.y));
        r = clamp(step.w * select(pw, vec3<f32>(0.0), c <= vec3<f32>(0.0)), vec3<f32>(0.0), vec3<f32>(1.0));
    }
    if (uses(OP_NOISE) && op == OP_NOISE) {
        let key = bitcast<u32>(step.w);
        let i = (px.y * w + px.x) * 3u;
        // The fields' counter-based noise (field.wgsl), keyed by the step.
        let nz = vec3<f32>(lattice_noise(key, i), lattice_noise(key, i + 1u), lattice_noise(key, i + 2u));
        r = clamp(c + step.y * nz, vec3<f32>(0.0), vec3<f32>(1.0));
    }
    if (uses(OP_AUTOCONTRAST) && op == OP_AUTOCONTRAST) {
        let b = stat_base(si, u32(step.z));
        let mn = vec3<f32>(stats[b + STAT_MIN], stats[b + STAT_MIN + 1u], stats[b + STAT_MIN + 2u]);
        let mx = vec3<f32>(stats[b + STAT_MAX], stats[b + STAT_MAX + 1u], stats[b + STAT_MAX + 2u]);
        let eq = mx == mn;
        let scale = select(1.0 / (mx - mn), vec3<f32>(1.0), eq);
        let lo = select(mn, vec3<f32>(0.0), eq);
        r = clamp((c - lo) * scale, vec3<f32>(0.0), vec3<f32>(1.0));
    }
    if (uses(OP_EQUALIZE) && op == OP_EQUALIZE) {
        let b = stat_base(si, u32(step.z));
        let q = quantize(c);
        for (var ch = 0u; ch < 3u; ch++) {
            if (stats[b + STAT_EQUALIZE + ch] > 0.5) {
                r[ch] = stats[b + STAT_LUT + ch * STAT_LEVELS + q[ch]] * INV_255;
            }
        }
    }
    if (uses(OP_SHARPNESS) && op == OP_SHARPNESS) {
        if (w > 2u && h > 2u && px.x > 0u && px.y > 0u && px.x + 1u < w && px.y + 1u < h) {
            var s = vec3<f32>(0.0);
            for (var dy = 0u; dy < 3u; dy++) {
                for (var dx = 0u; dx < 3u; dx++) {
                    if (dx != 1u || dy != 1u) {
                        s += load_img(px.src_half, si, px.x + dx - 1u, px.y + dy - 1u);
                    }
                }
            }
            let blurred = s * (1.0 / 13.0) + c * (5.0 / 13.0);
            r = clamp(c + (1.0 - step.y) * (blurred - c), vec3<f32>(0.0), vec3<f32>(1.0));
        }
    }
    if ((uses(OP_BLUR_H) && op == OP_BLUR_H) || (uses(OP_BLUR_V) && op == OP_BLUR_V)) {
        let half = i32(step.w);
        let horizontal = op == OP_BLUR_H;
        var acc = vec3<f32>(0.0);
        var norm = 0.0;
        for (var i = -half; i <= half; i++) {
            let t = f32(i) / step.y;
            let wt = exp(-0.5 * t * t);
            var sx = i32(px.x);
            var sy = i32(px.y);
            if (horizontal) {
                sx = reflect(sx + i, i32(w));
            } else {
                sy = reflect(sy + i, i32(h));
            }
            acc += wt * load_img(px.src_half, si, u32(sx), u32(sy));
            norm += wt;
        }
        r = acc / norm;
    }
    if (uses(OP_PERMUTE) && op == OP_PERMUTE) {
        // Output channel ch is input channel o_ch (src/cpu/color.rs: the same).
        let o = u32(step.y);
        r = vec3<f32>(c[o & PERMUTE_MASK], c[(o >> PERMUTE_SHIFT) & PERMUTE_MASK], c[(o >> (2u * PERMUTE_SHIFT)) & PERMUTE_MASK]);
    }
    if (uses(OP_ERASE) && op == OP_ERASE) {
        let e = samples[si].erase;
        let fx = f32(px.x);
        let fy = f32(px.y);
        if (fx >= e.x && fx < e.z && fy >= e.y && fy < e.w) {
            let v = samples[si].erase_value;
            if (v.w > 0.5) {
                let key = bitcast<u32>(step.w);
                let i = (px.y * w + px.x) * 3u;
                r = vec3<f32>(value_uniform(key, i), value_uniform(key, i + 1u), value_uniform(key, i + 2u));
            } else {
                r = v.xyz;
            }
        }
    }
    if (uses(OP_CUTOUT) && op == OP_CUTOUT) {
        // One cutout square (src/ops/color.rs packs it): clipped box in z, w.
        let lt = bitcast<u32>(step.z);
        let rb = bitcast<u32>(step.w);
        if (px.x >= (lt & 0xffffu) && px.x < (rb & 0xffffu) && px.y >= (lt >> 16u) && px.y < (rb >> 16u)) {
            let v = u32(step.y);
            r = vec3<f32>(f32(v & 0xffu), f32((v >> 8u) & 0xffu), f32(v >> 16u)) * INV_255;
        }
    }
    if (uses(OP_COLORFUL_CUTOUT) && op == OP_COLORFUL_CUTOUT) {
        // One colorful square: corner + 32768 in z, length and grid in y, key in w.
        let corner = bitcast<u32>(step.z);
        let lg = u32(step.y);
        let len = lg & 0xffffu;
        let grid = lg >> 16u;
        // Pixel minus corner, as u32 (wraps for pixels left of or above the square).
        let dx = px.x + 32768u - (corner & 0xffffu);
        let dy = px.y + 32768u - (corner >> 16u);
        if (dx < len && dy < len) {
            let cell = (dy * grid / len) * grid + dx * grid / len;
            let key = bitcast<u32>(step.w);
            let n = cell * 3u;
            r = vec3<f32>(
                f32(hash32(key ^ hash32(n)) >> 24u),
                f32(hash32(key ^ hash32(n + 1u)) >> 24u),
                f32(hash32(key ^ hash32(n + 2u)) >> 24u),
            ) * INV_255;
        }
    }
    return r;
}

// Runs segment `seg` of the sample's colour program on c (in [0, 1]): the
// steps from its seg-th barrier up to the next barrier (segment 0: from the
// start). Hue steps run in the outer loop, HUE_STEPS times at most, so a
// device that runs both sides of every branch evaluates hue HUE_STEPS times
// per pixel rather than once per step.
fn run_segment(si: u32, c_in: vec3<f32>, seg: u32, px: Px) -> vec3<f32> {
    var c = c_in;
    let n = samples[si].counts.x;
    var k = 0u;
    var b = 0u;
    for (var hs = 0u; hs <= HUE_STEPS; hs++) {
        loop {
            if (k >= n) {
                break;
            }
            let step = samples[si].prog[k];
            let op = u32(step.x);
            if (is_barrier(op)) {
                b = u32(step.z) + 1u;
            }
            if (b > seg) {
                return c;
            }
            if (op == OP_HUE || op == OP_FIELD_HUE) {
                break;
            }
            if (b == seg) {
                c = apply_step(si, c, step, px);
            }
            k++;
        }
        if (hs < HUE_STEPS && k < n) {
            let hstep = samples[si].prog[k];
            if (b == seg) {
                c = adjust_hue(c, select(hstep.y, px.cf.w, hstep.x == CODE_FIELD_HUE));
            }
            k++;
        }
    }
    return c;
}
