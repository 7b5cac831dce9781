//! Targets through the batch mix (after every per-sample op, as the pixels).
//!
//! - cutmix: inside the pasted box the mask takes the partner's mask pixels;
//!   the sample keeps its boxes minus the pasted box (dropped when what
//!   stays visible is below `min_visibility` of the box, below `min_area`,
//!   or nothing) and gains the partner's boxes clipped to the pasted box
//!   (same filters); keypoints: the sample's instances, then the partner's,
//!   each point visible only on its own side of the paste.
//! - resizemix: the same with the whole partner resized into the paste box
//!   (masks nearest at pixel centres, boxes and keypoints scaled into it).
//! - mixup: the pixels are a blend, the targets cannot be: the sample
//!   returns the targets of the dominant sample (itself when lam >= 0.5,
//!   else its partner) and `weight` = that sample's weight, max(lam, 1 - lam).

use super::{
    clip_box_to, BoxOrigin, Boxes, Keypoints, Mask, MaskData, SampleTargets, TargetOptions,
};
use crate::mix::{MixKind, MixRecord};

/// Every output sample's targets after the batch mix `records` (one per
/// sample, partners by position) on a `w` x `h` canvas.
pub(crate) fn mix_targets(
    st: Vec<SampleTargets>,
    records: &[MixRecord],
    (w, h): (u32, u32),
    o: &TargetOptions,
) -> Vec<SampleTargets> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let own = &st[i];
            let partner = &st[r.partner.min(st.len() - 1)];
            match (r.op, r.region) {
                (MixKind::Mixup, _) | (_, None) => {
                    let (src, weight) = if r.lam >= 0.5 {
                        (own, r.lam)
                    } else {
                        (partner, 1.0 - r.lam)
                    };
                    SampleTargets {
                        weight,
                        ..src.clone()
                    }
                }
                (kind, Some(reg)) => {
                    let rect = [
                        reg.left as f64,
                        reg.top as f64,
                        (reg.left + reg.width) as f64,
                        (reg.top + reg.height) as f64,
                    ];
                    // Partner point (output pixels) -> where it shows in this sample.
                    let (sx, sy) = if kind == MixKind::Resizemix {
                        (reg.width as f64 / w as f64, reg.height as f64 / h as f64)
                    } else {
                        (1.0, 1.0)
                    };
                    let (ox, oy) = if kind == MixKind::Resizemix {
                        (rect[0], rect[1])
                    } else {
                        (0.0, 0.0)
                    };
                    let place = |x: f64, y: f64| (ox + x * sx, oy + y * sy);
                    let inside =
                        |x: f64, y: f64| x >= rect[0] && x < rect[2] && y >= rect[1] && y < rect[3];
                    let masks = own
                        .masks
                        .iter()
                        .zip(&partner.masks)
                        .map(|(a, b)| paste_mask(a, b, reg, kind == MixKind::Resizemix))
                        .collect();
                    let (boxes, box_origin) = mix_boxes(own, partner, (w, h), rect, &place, o);
                    let keypoints = match (&own.keypoints, &partner.keypoints) {
                        (None, None) => None,
                        (a, b) => {
                            let mut points = Vec::new();
                            for p in a.iter().flat_map(|k| &k.points) {
                                let v = if inside(p[0], p[1]) { 0.0 } else { p[2] };
                                points.push([p[0], p[1], v]);
                            }
                            for p in b.iter().flat_map(|k| &k.points) {
                                let (x, y) = place(p[0], p[1]);
                                let v = if inside(x, y) { p[2] } else { 0.0 };
                                points.push([x, y, v]);
                            }
                            Some(Keypoints { points })
                        }
                    };
                    SampleTargets {
                        masks,
                        boxes,
                        box_origin,
                        keypoints,
                        forward_error: own.forward_error.max(partner.forward_error),
                        weight: 1.0,
                    }
                }
            }
        })
        .collect()
}

/// Mask `a` with partner mask `b` pasted into `reg` (resized into it by
/// nearest sampling at pixel centres with `resize`, else the same pixels).
fn paste_mask(a: &Mask, b: &Mask, reg: crate::mix::Region, resize: bool) -> Mask {
    let (w, h) = (a.width as usize, a.height as usize);
    let src = |x: usize, y: usize| -> usize {
        if resize {
            let sx = ((x - reg.left as usize) as f64 + 0.5) * w as f64 / reg.width as f64;
            let sy = ((y - reg.top as usize) as f64 + 0.5) * h as f64 / reg.height as f64;
            (sy as usize).min(h - 1) * w + (sx as usize).min(w - 1)
        } else {
            y * w + x
        }
    };
    fn paste<T: Copy>(
        out: &mut [T],
        from: &[T],
        w: usize,
        reg: crate::mix::Region,
        src: &dyn Fn(usize, usize) -> usize,
    ) {
        for y in reg.top as usize..(reg.top + reg.height) as usize {
            for x in reg.left as usize..(reg.left + reg.width) as usize {
                out[y * w + x] = from[src(x, y)];
            }
        }
    }
    let mut m = a.clone();
    match (&mut m.data, &b.data) {
        (MaskData::U8(o), MaskData::U8(f)) => paste(o, f, w, reg, &src),
        (MaskData::U16(o), MaskData::U16(f)) => paste(o, f, w, reg, &src),
        // Planes of different types at one position: widened or narrowed
        // (u16 labels above 255 saturate).
        (MaskData::U8(o), MaskData::U16(f)) => {
            let f: Vec<u8> = f.iter().map(|&v| v.min(255) as u8).collect();
            paste(o, &f, w, reg, &src)
        }
        (MaskData::U16(o), MaskData::U8(f)) => {
            let f: Vec<u16> = f.iter().map(|&v| v as u16).collect();
            paste(o, &f, w, reg, &src)
        }
    }
    m
}

/// The sample's boxes less the pasted rectangle, then the partner's placed
/// and clipped to it, in the sample's format (the partner's if it has none).
fn mix_boxes(
    own: &SampleTargets,
    partner: &SampleTargets,
    (w, h): (u32, u32),
    rect: [f64; 4],
    place: &dyn Fn(f64, f64) -> (f64, f64),
    o: &TargetOptions,
) -> (Option<Boxes>, Vec<BoxOrigin>) {
    let Some(proto) = own.boxes.as_ref().or(partner.boxes.as_ref()) else {
        return (None, Vec::new());
    };
    let (fw, fh) = (w as f64, h as f64);
    let mut out = Boxes {
        format: proto.format,
        normalized: proto.normalized,
        coords: Vec::new(),
        labels: Vec::new(),
    };
    let mut origin = Vec::new();
    let area = |b: [f64; 4]| (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
    if let Some(b) = &own.boxes {
        for j in 0..b.coords.len() {
            let bx = b.xyxy(j, fw, fh);
            let covered = [
                bx[0].max(rect[0]),
                bx[1].max(rect[1]),
                bx[2].min(rect[2]),
                bx[3].min(rect[3]),
            ];
            let full = area(bx);
            let seen = full - area(covered);
            if seen <= 0.0 || seen < o.min_area || seen < o.min_visibility * full {
                continue;
            }
            out.coords
                .push(Boxes::from_xyxy(out.format, out.normalized, bx, fw, fh));
            out.labels.push(b.labels[j]);
            origin.push(own.box_origin[j]);
        }
    }
    if let Some(b) = &partner.boxes {
        for j in 0..b.coords.len() {
            let bx = b.xyxy(j, fw, fh);
            let (x1, y1) = place(bx[0], bx[1]);
            let (x2, y2) = place(bx[2], bx[3]);
            if let Some(c) = clip_box_to([x1, y1, x2, y2], rect, o) {
                out.coords
                    .push(Boxes::from_xyxy(out.format, out.normalized, c, fw, fh));
                out.labels.push(b.labels[j]);
                origin.push(partner.box_origin[j]);
            }
        }
    }
    (Some(out), origin)
}
