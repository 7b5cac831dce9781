//! CPU twin of `shaders/common/color.wgsl`: colour maths on [0, 1] RGB. The
//! program loop itself runs stage by stage in `augment.rs`.

/// 1 / 255 as the shaders write it.
pub const INV_255: f32 = 1.0 / 255.0;

/// ITU-R 601 grey, as torchvision.
#[inline(always)]
pub fn gray(c: [f32; 3]) -> f32 {
    0.2989 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// r * a + (1 - r) * b, clamped to [0, 1].
#[inline(always)]
pub fn blend(a: [f32; 3], b: [f32; 3], r: f32) -> [f32; 3] {
    [0, 1, 2].map(|k| (r * a[k] + (1.0 - r) * b[k]).clamp(0.0, 1.0))
}

/// One channel of `blend`.
#[inline(always)]
pub fn blend1(a: f32, b: f32, r: f32) -> f32 {
    (r * a + (1.0 - r) * b).clamp(0.0, 1.0)
}

/// torchvision's `_rgb2hsv`.
#[inline(always)]
pub fn rgb_to_hsv(c: [f32; 3]) -> [f32; 3] {
    let maxc = c[0].max(c[1].max(c[2]));
    let minc = c[0].min(c[1].min(c[2]));
    let eqc = maxc == minc;
    let cr = maxc - minc;
    let s = cr / if eqc { 1.0 } else { maxc };
    let crd = if eqc { 1.0 } else { cr };
    let rc = (maxc - c[0]) / crd;
    let gc = (maxc - c[1]) / crd;
    let bc = (maxc - c[2]) / crd;
    let hr = bc - gc;
    let hg = 2.0 + rc - bc;
    let hb = 4.0 + gc - rc;
    let mut h = if maxc == c[0] {
        hr
    } else if maxc == c[1] {
        hg
    } else {
        hb
    };
    h = h / 6.0 + 1.0;
    h -= h.floor();
    [h, s, maxc]
}

/// torchvision's `_hsv2rgb`.
#[inline(always)]
pub fn hsv_to_rgb(hsv: [f32; 3]) -> [f32; 3] {
    let h6 = hsv[0] * 6.0;
    let fi = h6.floor();
    let f = h6 - fi;
    // (fi as u32) % 6 with fi in [0, 6], kept in f32 so the selects vectorise.
    let i = if fi >= 6.0 { 0.0 } else { fi };
    let (s, v) = (hsv[1], hsv[2]);
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    let pick = |a: [f32; 6]| {
        let mut x = a[5];
        x = if i == 4.0 { a[4] } else { x };
        x = if i == 3.0 { a[3] } else { x };
        x = if i == 2.0 { a[2] } else { x };
        x = if i == 1.0 { a[1] } else { x };
        if i == 0.0 {
            a[0]
        } else {
            x
        }
    };
    [
        pick([v, q, p, p, t, v]),
        pick([t, v, v, q, p, p]),
        pick([p, p, t, v, v, q]),
    ]
}

/// Rotates the hue by `shift` turns.
#[inline(always)]
pub fn adjust_hue(c: [f32; 3], shift: f32) -> [f32; 3] {
    let mut hsv = rgb_to_hsv(c);
    let h = hsv[0] + shift;
    hsv[0] = h - h.floor();
    hsv_to_rgb(hsv)
}
