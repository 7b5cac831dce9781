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
    // torchvision computes rc, gc, bc = (maxc - c) / crd and picks
    // hr = bc - gc, hg = 2 + rc - bc or hb = 4 + gc - rc. Picking the two
    // numerators first divides twice instead of three times, with the same
    // bits: the same divisions and subtractions in the same order, and
    // 0 + bc == bc exactly (bc >= +0).
    let (n1, n2, base) = if maxc == c[0] {
        (maxc - c[2], maxc - c[1], 0.0)
    } else if maxc == c[1] {
        (maxc - c[0], maxc - c[2], 2.0)
    } else {
        (maxc - c[1], maxc - c[0], 4.0)
    };
    let mut h = base + n1 / crd - n2 / crd;
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

/// The value rounded to u8, as `quantize` in the shader.
#[inline(always)]
#[allow(clippy::manual_clamp)] // max/min, not clamp: NaN must map to 0, not stay NaN
pub fn quantize(x: f32) -> u32 {
    // max/min map NaN to 0, so v is finite and in [0, 255]: the unchecked
    // conversion (one instruction; `as` adds saturation fix-ups) is sound.
    let v = (x.max(0.0).min(1.0) * 255.0 + 0.5).floor();
    debug_assert!((0.0..=255.0).contains(&v));
    // SAFETY: v is finite and in [0, 255].
    unsafe { v.to_int_unchecked::<i32>() as u32 }
}

/// A uniform value in [0, 1) for value `i` of a key (`value_uniform`).
#[inline(always)]
pub fn value_uniform(key: u32, i: u32) -> f32 {
    use super::field::hash32;
    (hash32(key ^ hash32(i)) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// torchvision's reflect padding (`reflect` in the shader).
#[inline(always)]
pub fn reflect(i: i32, n: i32) -> i32 {
    if n <= 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let k = i.abs() % period;
    if k >= n {
        period - k
    } else {
        k
    }
}

/// torchvision's equalize lookup tables from per-channel histograms: per
/// channel, whether to equalise (step != 0) and the 256-entry table.
pub fn equalize_luts(hist: &[[u32; 256]; 3]) -> [(bool, [f32; 256]); 3] {
    hist.map(|hc| {
        let total: u32 = hc.iter().sum();
        let last = hc.iter().rev().find(|&&v| v > 0).copied().unwrap_or(0);
        let step = (total - last) / 255;
        let st = step.max(1);
        let mut lut = [0.0f32; 256];
        let mut cum = 0u32;
        for i in 0..255 {
            cum += hc[i];
            lut[i + 1] = ((cum + step / 2) / st).min(255) as f32;
        }
        (step != 0, lut)
    })
}

/// Op codes `INVERT` and above on planar [0, 1] images of `w` x `h`: the arithmetic of
/// `apply_step` in `shaders/common/color.wgsl`, a whole plane at a time. The
/// barrier steps among them (autocontrast, equalize, sharpness, blurs) see
/// the whole image as it is at that step, which on the GPU the segment pass
/// materialised. `tmp` holds a copy for the stencils.
#[inline(always)]
pub fn planar_step(
    step: &[f32; 4],
    erase: ([f32; 4], [f32; 4]),
    planes: [&mut [f32]; 3],
    w: usize,
    h: usize,
    tmp: &mut Vec<f32>,
) {
    use crate::plan::code;
    let (op, y, param_w) = (step[0], step[1], step[3]);
    let [r, g, b] = planes;
    if op == code::INVERT {
        for plane in [r, g, b] {
            plane.iter_mut().for_each(|x| *x = 1.0 - *x);
        }
    } else if op == code::SOLARIZE {
        for plane in [r, g, b] {
            plane
                .iter_mut()
                .for_each(|x| *x = if *x * 255.0 >= y { 1.0 - *x } else { *x });
        }
    } else if op == code::POSTERIZE {
        let mask = (0xffu32 << (8 - y as u32)) & 0xff;
        for plane in [r, g, b] {
            plane
                .iter_mut()
                .for_each(|x| *x = (quantize(*x) & mask) as f32 * INV_255);
        }
    } else if op == code::GAMMA {
        for plane in [r, g, b] {
            plane.iter_mut().for_each(|x| {
                let pw = if *x <= 0.0 { 0.0 } else { x.max(1e-30).powf(y) };
                *x = (param_w * pw).clamp(0.0, 1.0);
            });
        }
    } else if op == code::NOISE {
        let key = param_w.to_bits();
        for (ch, plane) in [r, g, b].into_iter().enumerate() {
            for (p, x) in plane.iter_mut().enumerate() {
                let n = super::field::lattice_noise(key, p as u32 * 3 + ch as u32);
                *x = (*x + y * n).clamp(0.0, 1.0);
            }
        }
    } else if op == code::AUTOCONTRAST {
        for plane in [r, g, b] {
            let mn = plane.iter().fold(f32::MAX, |a, &v| a.min(v));
            let mx = plane.iter().fold(f32::MIN, |a, &v| a.max(v));
            let eq = mx == mn;
            let scale = if eq { 1.0 } else { 1.0 / (mx - mn) };
            let lo = if eq { 0.0 } else { mn };
            plane
                .iter_mut()
                .for_each(|x| *x = ((*x - lo) * scale).clamp(0.0, 1.0));
        }
    } else if op == code::EQUALIZE {
        let mut hist = [[0u32; 256]; 3];
        for (hc, plane) in hist.iter_mut().zip([&*r, &*g, &*b]) {
            for &x in plane.iter() {
                hc[quantize(x) as usize] += 1;
            }
        }
        for ((ok, lut), plane) in equalize_luts(&hist).iter().zip([r, g, b]) {
            if *ok {
                plane
                    .iter_mut()
                    .for_each(|x| *x = lut[quantize(*x) as usize] * INV_255);
            }
        }
    } else if op == code::SHARPNESS {
        if w <= 2 || h <= 2 {
            return;
        }
        for plane in [r, g, b] {
            tmp.clear();
            tmp.extend_from_slice(plane);
            for yy in 1..h - 1 {
                // The 8 neighbours in the shader's order (row above, the two
                // beside, row below; left to right), whole rows at a time.
                let (up, mid, down) = (
                    &tmp[(yy - 1) * w..yy * w],
                    &tmp[yy * w..(yy + 1) * w],
                    &tmp[(yy + 1) * w..(yy + 2) * w],
                );
                let out = &mut plane[yy * w + 1..(yy + 1) * w - 1];
                for (i, o) in out.iter_mut().enumerate() {
                    let s = up[i]
                        + up[i + 1]
                        + up[i + 2]
                        + mid[i]
                        + mid[i + 2]
                        + down[i]
                        + down[i + 1]
                        + down[i + 2];
                    let c = mid[i + 1];
                    let blurred = s * (1.0 / 13.0) + c * (5.0 / 13.0);
                    *o = (c + (1.0 - y) * (blurred - c)).clamp(0.0, 1.0);
                }
            }
        }
    } else if op == code::BLUR_H || op == code::BLUR_V {
        // Per value: acc = sum over taps i (ascending) of w_i * v[reflect(p + i)],
        // norm = sum of w_i in the same order, out = acc / norm, as the shader.
        // Here a tap at a time over whole rows (contiguous where no reflection
        // is needed), which vectorises and keeps every value's order.
        let half = param_w as i32;
        let wts: Vec<f32> = (-half..=half)
            .map(|i| {
                let t = i as f32 / y;
                (-0.5 * t * t).exp()
            })
            .collect();
        let norm = wts.iter().fold(0.0f32, |a, &w| a + w);
        let horizontal = op == code::BLUR_H;
        let mut acc = vec![0.0f32; if horizontal { w } else { w * h }];
        for plane in [r, g, b] {
            tmp.clear();
            tmp.extend_from_slice(plane);
            if horizontal {
                for yy in 0..h {
                    let row = &tmp[yy * w..(yy + 1) * w];
                    acc.iter_mut().for_each(|a| *a = 0.0);
                    for (i, &wt) in (-half..=half).zip(&wts) {
                        // Columns whose tap x + i lies inside the row: [lo, hi).
                        let lo = (-i).clamp(0, w as i32) as usize;
                        let hi = (w as i32 - i).clamp(0, w as i32) as usize;
                        for x in (0..lo).chain(hi.max(lo)..w) {
                            acc[x] += wt * row[reflect(x as i32 + i, w as i32) as usize];
                        }
                        if lo < hi {
                            let src = &row[(lo as i32 + i) as usize..(hi as i32 + i) as usize];
                            for (a, &v) in acc[lo..hi].iter_mut().zip(src) {
                                *a += wt * v;
                            }
                        }
                    }
                    for (o, &a) in plane[yy * w..(yy + 1) * w].iter_mut().zip(&acc) {
                        *o = a / norm;
                    }
                }
            } else {
                acc.iter_mut().for_each(|a| *a = 0.0);
                for yy in 0..h {
                    let dst = &mut acc[yy * w..(yy + 1) * w];
                    for (i, &wt) in (-half..=half).zip(&wts) {
                        let sy = reflect(yy as i32 + i, h as i32) as usize;
                        for (a, &v) in dst.iter_mut().zip(&tmp[sy * w..(sy + 1) * w]) {
                            *a += wt * v;
                        }
                    }
                }
                for (o, &a) in plane.iter_mut().zip(&acc) {
                    *o = a / norm;
                }
            }
        }
    } else if op == code::PERMUTE {
        // Output channel c is input channel o_c (packed in y, see `code::PERMUTE`).
        let o = y as u32;
        let npx = r.len();
        tmp.clear();
        tmp.extend_from_slice(r);
        tmp.extend_from_slice(g);
        tmp.extend_from_slice(b);
        for (c, plane) in [r, g, b].into_iter().enumerate() {
            let s = ((o >> (code::PERMUTE_SHIFT * c as u32)) & code::PERMUTE_MASK) as usize;
            plane.copy_from_slice(&tmp[s * npx..(s + 1) * npx]);
        }
    } else if op == code::CUTOUT {
        // One cutout square (src/ops/color.rs packs it): clipped box in z, w.
        let (lt, rb) = (step[2].to_bits(), step[3].to_bits());
        let (x0, y0) = ((lt & 0xffff) as usize, (lt >> 16) as usize);
        let (x1, y1) = (
            ((rb & 0xffff) as usize).min(w),
            ((rb >> 16) as usize).min(h),
        );
        let v = y as u32;
        let fill = [
            (v & 0xff) as f32 * INV_255,
            ((v >> 8) & 0xff) as f32 * INV_255,
            (v >> 16) as f32 * INV_255,
        ];
        for (plane, f) in [r, g, b].into_iter().zip(fill) {
            for yy in y0..y1.max(y0) {
                for x in plane[yy * w + x0..yy * w + x1.max(x0)].iter_mut() {
                    *x = f;
                }
            }
        }
    } else if op == code::COLORFUL_CUTOUT {
        // One colorful square: corner + 32768 in z, length and grid in y, key in w.
        use super::field::hash32;
        let corner = step[2].to_bits();
        let lg = y as u32;
        let (len, grid) = (lg & 0xffff, lg >> 16);
        let key = param_w.to_bits();
        let mut planes = [r, g, b];
        for yy in 0..h as u32 {
            let dy = yy.wrapping_add(32768).wrapping_sub(corner >> 16);
            if dy >= len {
                continue;
            }
            for xx in 0..w as u32 {
                let dx = xx.wrapping_add(32768).wrapping_sub(corner & 0xffff);
                if dx >= len {
                    continue;
                }
                let cell = (dy * grid / len) * grid + dx * grid / len;
                let n = cell * 3;
                for (ch, plane) in planes.iter_mut().enumerate() {
                    let v = hash32(key ^ hash32(n + ch as u32)) >> 24;
                    plane[yy as usize * w + xx as usize] = v as f32 * INV_255;
                }
            }
        }
    } else if op == code::ERASE {
        let (e, v) = erase;
        let key = param_w.to_bits();
        for (ch, plane) in [r, g, b].into_iter().enumerate() {
            for yy in 0..h {
                let fy = yy as f32;
                if !(fy >= e[1] && fy < e[3]) {
                    continue;
                }
                for xx in 0..w {
                    let fx = xx as f32;
                    if fx >= e[0] && fx < e[2] {
                        plane[yy * w + xx] = if v[3] > 0.5 {
                            value_uniform(key, (yy * w + xx) as u32 * 3 + ch as u32)
                        } else {
                            v[ch]
                        };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod hue_tests {
    use super::*;

    /// torchvision's `_rgb2hsv` as written there (three divisions).
    fn rgb_to_hsv_reference(c: [f32; 3]) -> [f32; 3] {
        let maxc = c[0].max(c[1].max(c[2]));
        let minc = c[0].min(c[1].min(c[2]));
        let eqc = maxc == minc;
        let cr = maxc - minc;
        let s = cr / if eqc { 1.0 } else { maxc };
        let crd = if eqc { 1.0 } else { cr };
        let rc = (maxc - c[0]) / crd;
        let gc = (maxc - c[1]) / crd;
        let bc = (maxc - c[2]) / crd;
        let h = if maxc == c[0] {
            bc - gc
        } else if maxc == c[1] {
            2.0 + rc - bc
        } else {
            4.0 + gc - rc
        };
        let h = h / 6.0 + 1.0;
        [h - h.floor(), s, maxc]
    }

    /// The two-division form gives the reference's bits: u8 colours (every
    /// 3rd value per channel; all 2^24 with GA_EXHAUSTIVE=1) and arbitrary
    /// floats in [0, 1] as earlier colour steps leave them.
    #[test]
    fn rgb_to_hsv_matches_torchvision_bits() {
        let step = if std::env::var_os("GA_EXHAUSTIVE").is_some() {
            1
        } else {
            3
        };
        let check = |c: [f32; 3]| {
            let (got, want) = (rgb_to_hsv(c), rgb_to_hsv_reference(c));
            assert_eq!(got.map(f32::to_bits), want.map(f32::to_bits), "{c:?}");
        };
        for r in (0..256).step_by(step) {
            for g in (0..256).step_by(step) {
                for b in (0..256).step_by(step) {
                    check([r, g, b].map(|v| v as f32 * INV_255));
                }
            }
        }
        let mut st = 3u32;
        let mut f = move || {
            st ^= st << 13;
            st ^= st >> 17;
            st ^= st << 5;
            (st >> 8) as f32 / (1 << 24) as f32
        };
        for _ in 0..200_000 {
            check([f(), f(), f()]);
            // Ties between channels (the branch order matters there).
            let (a, b) = (f(), f());
            check([a, a, b]);
            check([a, b, a]);
            check([b, a, a]);
        }
    }
}
