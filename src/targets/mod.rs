//! Targets that move with their image: label maps (masks), boxes with a
//! class each, and keypoints. Given per source image beside the images
//! (`Request::targets`), returned per output sample (`Batch::targets`).
//!
//! The sample's inverse map (the one the image's gather reads) is the single
//! source of truth:
//! - masks are gathered with nearest sampling on that same map, on the
//!   backend that runs the image (`shaders/masks.wgsl`, its twin
//!   `src/cpu/masks.rs`), exact between the two; pixels from outside the
//!   source or a clip stage's canvas take `ignore_index`;
//! - boxes and keypoints go through its forward map, computed once per
//!   sample in Rust for both backends (`forward.rs`).
//!
//! Coordinates are continuous pixel coordinates, the convention of the
//! engine (SEMANTICS.md): pixel (x, y) covers [x, x + 1) x [y, y + 1), its
//! centre at (x + 0.5, y + 0.5); a horizontal flip sends x to W - x.
//! Photometric ops and random_erasing leave every target alone; targets
//! never change a sample's random draws.

pub mod coco;
pub(crate) mod forward;
pub mod io;
pub(crate) mod mix;
pub mod yolo;

use crate::error::{Error, Result};
pub use crate::target_types::{Mask, MaskData, TargetOptions};
pub(crate) use forward::ForwardMap;
use serde::{Deserialize, Serialize};

/// How a box's four numbers read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoxFormat {
    /// x1, y1, x2, y2 (corners).
    #[default]
    Xyxy,
    /// x, y, width, height (COCO).
    Xywh,
    /// centre x, centre y, width, height (YOLO).
    Cxcywh,
}

impl std::str::FromStr for BoxFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "xyxy" => Ok(Self::Xyxy),
            "xywh" => Ok(Self::Xywh),
            "cxcywh" => Ok(Self::Cxcywh),
            other => Err(Error::InvalidArgument(format!(
                "box format must be xyxy, xywh or cxcywh, got {other:?}"
            ))),
        }
    }
}

/// Boxes of one image, each with a class.
#[derive(Clone, Debug, PartialEq)]
pub struct Boxes {
    /// How the coordinates read.
    pub format: BoxFormat,
    /// Coordinates are fractions of the image's width and height (YOLO)
    /// rather than pixels; the output is normalised by the output size.
    pub normalized: bool,
    /// One entry per box.
    pub coords: Vec<[f64; 4]>,
    /// One class per box.
    pub labels: Vec<u32>,
}

impl Boxes {
    /// Pixel boxes in `format`.
    pub fn new(format: BoxFormat, coords: Vec<[f64; 4]>, labels: Vec<u32>) -> Self {
        Self {
            format,
            normalized: false,
            coords,
            labels,
        }
    }
    /// Box `i` as pixel corners (x1, y1, x2, y2) of a `w` x `h` image.
    fn xyxy(&self, i: usize, w: f64, h: f64) -> [f64; 4] {
        self.xyxy_of(self.coords[i], w, h)
    }
    /// Coordinates `c` in this format as pixel corners of a `w` x `h` image.
    pub fn xyxy_of(&self, c: [f64; 4], w: f64, h: f64) -> [f64; 4] {
        let [a, b, c, d] = c;
        let (sx, sy) = if self.normalized { (w, h) } else { (1.0, 1.0) };
        let (a, b, c, d) = (a * sx, b * sy, c * sx, d * sy);
        match self.format {
            BoxFormat::Xyxy => [a, b, c, d],
            BoxFormat::Xywh => [a, b, a + c, b + d],
            BoxFormat::Cxcywh => [a - c / 2.0, b - d / 2.0, a + c / 2.0, b + d / 2.0],
        }
    }
    /// Pixel corners back in `format` (normalised by `w` x `h` when `normalized`).
    fn from_xyxy(format: BoxFormat, normalized: bool, b: [f64; 4], w: f64, h: f64) -> [f64; 4] {
        let [x1, y1, x2, y2] = b;
        let r = match format {
            BoxFormat::Xyxy => [x1, y1, x2, y2],
            BoxFormat::Xywh => [x1, y1, x2 - x1, y2 - y1],
            BoxFormat::Cxcywh => [(x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1],
        };
        if normalized {
            [r[0] / w, r[1] / h, r[2] / w, r[3] / h]
        } else {
            r
        }
    }
}

/// Keypoints of one image: x, y and a visibility flag each (COCO: 0 not
/// labelled, 1 labelled but hidden, 2 visible; any value > 0 counts as
/// labelled). With `num_keypoints = K` in the options, the points are
/// instances of K points each, in order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Keypoints {
    /// (x, y, visibility) per point.
    pub points: Vec<[f64; 3]>,
}

/// Everything one image carries beside its pixels. Every image of a batch
/// gives the same number of masks, all of one type.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Targets {
    /// Label maps of the image's size.
    pub masks: Vec<Mask>,
    /// Boxes with classes.
    pub boxes: Option<Boxes>,
    /// Keypoints.
    pub keypoints: Option<Keypoints>,
}

/// Where an output box came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxOrigin {
    /// The output sample whose source image held it (itself, or its mixing partner).
    pub sample: usize,
    /// Its index among that image's input boxes.
    pub index: usize,
}

/// One output sample's transformed targets.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleTargets {
    /// The label maps at the output size, in input order.
    pub masks: Vec<Mask>,
    /// The boxes kept (same format and normalisation as given), clipped to
    /// the canvas.
    pub boxes: Option<Boxes>,
    /// Where each kept box came from.
    pub box_origin: Vec<BoxOrigin>,
    /// Every keypoint, in order (pairs swapped after a mirroring map);
    /// those that left the canvas (or that show fill) have visibility 0.
    pub keypoints: Option<Keypoints>,
    /// The stated bound (output pixels) on the forward map's error for this
    /// sample's boxes and keypoints: 0 without a geometric random field.
    pub forward_error: f64,
    /// Mixup: the weight of the sample whose targets these are (the
    /// dominant one, lam >= 0.5); 1 without mixup.
    pub weight: f64,
}

fn target_err(index: usize, field: String, message: String) -> Error {
    Error::InvalidTarget {
        index,
        field,
        message,
    }
}

/// Checks image `index`'s targets against its `w` x `h` image and the options.
pub(crate) fn check(index: usize, t: &Targets, w: u32, h: u32, o: &TargetOptions) -> Result<()> {
    for (k, m) in t.masks.iter().enumerate() {
        if (m.width, m.height) != (w, h) {
            return Err(target_err(
                index,
                format!("masks[{k}]"),
                format!(
                    "the mask is {}x{} but its image is {w}x{h}",
                    m.width, m.height
                ),
            ));
        }
        if m.len() != w as usize * h as usize {
            return Err(target_err(
                index,
                format!("masks[{k}]"),
                format!("{} values for a {w}x{h} mask", m.len()),
            ));
        }
    }
    let (fw, fh) = (w as f64, h as f64);
    let sane = |x: f64, y: f64| x >= -fw && x <= 2.0 * fw && y >= -fh && y <= 2.0 * fh;
    if let Some(b) = &t.boxes {
        if b.labels.len() != b.coords.len() {
            return Err(target_err(
                index,
                "boxes.labels".into(),
                format!("{} labels for {} boxes", b.labels.len(), b.coords.len()),
            ));
        }
        let names = match b.format {
            BoxFormat::Xyxy => ["x1", "y1", "x2", "y2"],
            BoxFormat::Xywh => ["x", "y", "w", "h"],
            BoxFormat::Cxcywh => ["cx", "cy", "w", "h"],
        };
        for (j, c) in b.coords.iter().enumerate() {
            let field = || format!("boxes[{j}]");
            if let Some(k) = (0..4).find(|&k| !c[k].is_finite()) {
                return Err(target_err(
                    index,
                    field(),
                    format!("{} = {} is not finite", names[k], c[k]),
                ));
            }
            match b.format {
                BoxFormat::Xyxy => {
                    for (lo, hi) in [(0, 2), (1, 3)] {
                        if c[hi] < c[lo] {
                            return Err(target_err(
                                index,
                                field(),
                                format!(
                                    "{} = {} < {} = {} (xyxy needs x2 >= x1 and y2 >= y1)",
                                    names[hi], c[hi], names[lo], c[lo]
                                ),
                            ));
                        }
                    }
                }
                _ => {
                    for k in [2, 3] {
                        if c[k] < 0.0 {
                            return Err(target_err(
                                index,
                                field(),
                                format!("{} = {} is negative", names[k], c[k]),
                            ));
                        }
                    }
                }
            }
            let [x1, y1, x2, y2] = b.xyxy(j, fw, fh);
            if !sane(x1, y1) || !sane(x2, y2) {
                return Err(target_err(
                    index,
                    field(),
                    format!(
                        "{:?} ({}) is outside any sane range for a {w}x{h} image (corners ({x1}, {y1}), ({x2}, {y2}) px; at most one image size beyond each edge){}",
                        c,
                        if b.normalized { "normalised" } else { "pixels" },
                        if b.normalized { "" } else { " (normalised coordinates? set normalized)" }
                    ),
                ));
            }
        }
        if let Some(nc) = o.num_classes {
            if let Some((j, l)) = b.labels.iter().enumerate().find(|(_, &l)| l >= nc) {
                return Err(target_err(
                    index,
                    format!("boxes.labels[{j}]"),
                    format!("unknown category {l} (num_classes = {nc})"),
                ));
            }
        }
    }
    if let Some(kp) = &t.keypoints {
        let k = o.num_keypoints.unwrap_or(kp.points.len().max(1));
        if kp.points.len() % k != 0 {
            return Err(target_err(
                index,
                "keypoints".into(),
                format!(
                    "{} points is not a whole number of instances of num_keypoints = {k}",
                    kp.points.len()
                ),
            ));
        }
        for (j, p) in kp.points.iter().enumerate() {
            if !(p[2].is_finite() && p[2] >= 0.0) {
                return Err(target_err(
                    index,
                    format!("keypoints[{j}]"),
                    format!("visibility {} is not a finite value >= 0", p[2]),
                ));
            }
            if p[2] > 0.0 && !(p[0].is_finite() && p[1].is_finite() && sane(p[0], p[1])) {
                return Err(target_err(
                    index,
                    format!("keypoints[{j}]"),
                    format!(
                        "({}, {}) is outside any sane range for a {w}x{h} image (at most one image size beyond each edge)",
                        p[0], p[1]
                    ),
                ));
            }
        }
        if let Some((i, [a, b])) = o
            .flip_pairs
            .iter()
            .enumerate()
            .find(|(_, [a, b])| *a >= k || *b >= k)
        {
            return Err(target_err(
                index,
                "keypoints".into(),
                format!("flip_pairs[{i}] = [{a}, {b}] names a point beyond an instance's {k} points (set num_keypoints)"),
            ));
        }
    }
    Ok(())
}

/// Checks that every image gives the same number of masks (one dispatch
/// gathers them all); returns (masks per image, whether any is u8).
pub(crate) fn mask_layout(targets: &[Targets]) -> Result<(usize, bool)> {
    let Some(first) = targets.first() else {
        return Ok((0, false));
    };
    let k = first.masks.len();
    let any_u8 = targets.iter().flat_map(|t| &t.masks).any(|m| !m.is_u16());
    for (i, t) in targets.iter().enumerate() {
        if t.masks.len() != k {
            return Err(target_err(
                i,
                "masks".into(),
                format!(
                    "{} masks but image 0 has {k} (every image of a batch gives as many)",
                    t.masks.len()
                ),
            ));
        }
    }
    Ok((k, any_u8))
}

/// Boxes and keypoints of one output sample through its forward map
/// (masks are gathered by the backend). `sample` is the output position.
pub(crate) fn transform_geometry(
    t: &Targets,
    map: &ForwardMap,
    o: &TargetOptions,
    sample: usize,
) -> (Option<Boxes>, Vec<BoxOrigin>, Option<Keypoints>) {
    let (sw, sh) = map.src;
    let (ow, oh) = map.out;
    let mut origin = Vec::new();
    let boxes = t.boxes.as_ref().map(|b| {
        let mut coords = Vec::new();
        let mut labels = Vec::new();
        for j in 0..b.coords.len() {
            let src = b.xyxy(j, sw, sh);
            // The part inside the source: only it can show in the output.
            let src = [
                src[0].clamp(0.0, sw),
                src[1].clamp(0.0, sh),
                src[2].clamp(0.0, sw),
                src[3].clamp(0.0, sh),
            ];
            let Some(tb) = map.bbox(src) else { continue };
            if let Some(kept) = clip_box(tb, ow, oh, o) {
                coords.push(Boxes::from_xyxy(b.format, b.normalized, kept, ow, oh));
                labels.push(b.labels[j]);
                origin.push(BoxOrigin { sample, index: j });
            }
        }
        Boxes {
            format: b.format,
            normalized: b.normalized,
            coords,
            labels,
        }
    });
    let keypoints = t.keypoints.as_ref().map(|kp| {
        let mut points: Vec<[f64; 3]> = kp
            .points
            .iter()
            .map(|p| {
                if p[2] <= 0.0 {
                    return [p[0], p[1], 0.0];
                }
                match map.point((p[0], p[1])) {
                    Some(q) if map.shows_source(q) => [q.0, q.1, p[2]],
                    Some(q) => [q.0, q.1, 0.0],
                    None => [p[0], p[1], 0.0],
                }
            })
            .collect();
        if !o.flip_pairs.is_empty() && map.mirrors() {
            let k = o.num_keypoints.unwrap_or(points.len().max(1));
            for inst in points.chunks_mut(k) {
                for [a, b] in &o.flip_pairs {
                    if *a < inst.len() && *b < inst.len() {
                        inst.swap(*a, *b);
                    }
                }
            }
        }
        Keypoints { points }
    });
    (boxes, origin, keypoints)
}

/// Box `b` (output pixel corners) clipped to the `w` x `h` canvas, or None
/// when what is left is empty, below `min_area` or below `min_visibility`
/// of its area.
pub(crate) fn clip_box(b: [f64; 4], w: f64, h: f64, o: &TargetOptions) -> Option<[f64; 4]> {
    clip_box_to(b, [0.0, 0.0, w, h], o)
}

/// Box `b` clipped to region `r` (xyxy), with the options' filters.
pub(crate) fn clip_box_to(b: [f64; 4], r: [f64; 4], o: &TargetOptions) -> Option<[f64; 4]> {
    let c = [
        b[0].clamp(r[0], r[2]),
        b[1].clamp(r[1], r[3]),
        b[2].clamp(r[0], r[2]),
        b[3].clamp(r[1], r[3]),
    ];
    let area = |b: [f64; 4]| (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
    let (full, kept) = (area(b), area(c));
    if kept <= 0.0 || kept < o.min_area || kept < o.min_visibility * full {
        return None;
    }
    Some(c)
}
