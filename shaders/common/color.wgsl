// Colour maths on [0, 1] RGB, and the per-sample colour program.
// CPU twin: src/cpu/color.rs.

const CODE_BRIGHTNESS: f32 = 1.0;
const CODE_CONTRAST: f32 = 2.0;
const CODE_SATURATION: f32 = 3.0;
const CODE_HUE: f32 = 4.0;
const CODE_GRAYSCALE: f32 = 5.0;
const CODE_FIELD_BRIGHTNESS: f32 = 6.0;
const CODE_FIELD_CONTRAST: f32 = 7.0;
const CODE_FIELD_HUE: f32 = 9.0;
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
    if ((FIELD_KINDS & 0x70u) != 0u && step.x >= CODE_FIELD_BRIGHTNESS) {
        let fi = u32(step.x - CODE_FIELD_BRIGHTNESS);
        step = vec4<f32>(step.x - 5.0, max(0.0, 1.0 + cf[fi]), step.z, 0.0);
    }
    let code = step.x;
    let is_contrast = code == CODE_CONTRAST;
    let is_gray = code == CODE_GRAYSCALE;
    let target_ = select(0.0, stats[si * MAX_STATS + u32(step.z)], is_contrast)
        + select(0.0, gray(c), code == CODE_SATURATION || is_gray);
    return blend(c, vec3<f32>(target_), select(step.y, 0.0, is_gray));
}

// Runs the sample's colour program on c (in [0, 1]); stops before the contrast
// step whose stat slot is `stop_slot` (pass 0xffffffff to run it all). `cf`
// holds the pixel's colour fields (field_values).
// The program runs as segments: the blend steps up to a hue step, then that
// hue step, HUE_STEPS times, then the remaining blends. On a device that runs
// both sides of every branch, hue is then evaluated HUE_STEPS times per pixel
// rather than once per step.
fn run_program(si: u32, c_in: vec3<f32>, stop_slot: u32, cf: vec4<f32>) -> vec3<f32> {
    var c = c_in;
    let n = samples[si].counts.x;
    var k = 0u;
    for (var seg = 0u; seg <= HUE_STEPS; seg++) {
        loop {
            if (k >= n) {
                break;
            }
            let step = samples[si].prog[k];
            if (step.x == CODE_HUE || step.x == CODE_FIELD_HUE) {
                break;
            }
            if ((step.x == CODE_CONTRAST || step.x == CODE_FIELD_CONTRAST) && u32(step.z) == stop_slot) {
                return c;
            }
            c = blend_step(si, c, step, cf);
            k++;
        }
        if (seg < HUE_STEPS && k < n) {
            let hs = samples[si].prog[k];
            c = adjust_hue(c, select(hs.y, cf.w, hs.x == CODE_FIELD_HUE));
            k++;
        }
    }
    return c;
}
