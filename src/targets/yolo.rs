//! YOLO label files: one text file per image (`class cx cy w h`, fractions of
//! the image, a line per box; YOLO-pose lines add `x y v` per keypoint),
//! read beside the inputs and written for the outputs.

use super::{BoxFormat, Boxes, Keypoints, SampleTargets};
use crate::error::{Error, Result};
use std::path::Path;

/// The boxes (normalised cxcywh, class labels) and keypoints (normalised x,
/// y and a visibility each, when the lines carry them) of one label file;
/// a missing file is an image without objects (YOLO's convention).
pub fn read_labels(path: &Path) -> Result<(Boxes, Option<Keypoints>, usize)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::Decode {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    let mut boxes = Boxes {
        format: BoxFormat::Cxcywh,
        normalized: true,
        coords: Vec::new(),
        labels: Vec::new(),
    };
    let mut points = Vec::new();
    let mut per: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |m: String| Error::Decode {
            path: path.to_path_buf(),
            reason: format!("line {}: {m}", n + 1),
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || !(f.len() - 5).is_multiple_of(3) {
            return Err(bad(format!(
                "{} fields: a YOLO line is `class cx cy w h`, then `x y v` per keypoint",
                f.len()
            )));
        }
        let class: u32 = f[0]
            .parse()
            .map_err(|_| bad(format!("class {:?} is not a whole number", f[0])))?;
        let num = |s: &str| -> Result<f64> {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("{s:?} is not a finite number")))
        };
        boxes
            .coords
            .push([num(f[1])?, num(f[2])?, num(f[3])?, num(f[4])?]);
        boxes.labels.push(class);
        let k = (f.len() - 5) / 3;
        match per {
            None => per = Some(k),
            Some(p) if p != k => {
                return Err(bad(format!("{k} keypoints where the first line has {p}")))
            }
            _ => {}
        }
        for t in f[5..].chunks_exact(3) {
            points.push([num(t[0])?, num(t[1])?, num(t[2])?]);
        }
    }
    let k = per.unwrap_or(0);
    let kp = (k > 0).then_some(Keypoints { points });
    Ok((boxes, kp, k))
}

/// An output's label file: its kept boxes (normalised cxcywh) with their
/// classes, and with keypoints `x y v` per instance when it has them (a
/// point of visibility 0 as `0 0 0`); `k` points per instance, instance of
/// box `i` at `instance(i)`.
pub fn format_labels(
    st: &SampleTargets,
    (w, h): (u32, u32),
    k: usize,
    instance: &dyn Fn(usize) -> usize,
) -> String {
    let mut s = String::new();
    let Some(b) = &st.boxes else { return s };
    for (i, (c, l)) in b.coords.iter().zip(&b.labels).enumerate() {
        let [x1, y1, x2, y2] = b.xyxy_of(*c, w as f64, h as f64);
        let (fw, fh) = (w as f64, h as f64);
        s += &format!(
            "{l} {:.6} {:.6} {:.6} {:.6}",
            (x1 + x2) / 2.0 / fw,
            (y1 + y2) / 2.0 / fh,
            (x2 - x1) / fw,
            (y2 - y1) / fh
        );
        if let (Some(kp), true) = (&st.keypoints, k > 0) {
            let j = instance(i);
            for p in kp.points.iter().skip(j * k).take(k) {
                if p[2] > 0.0 {
                    s += &format!(" {:.6} {:.6} {}", p[0] / fw, p[1] / fh, p[2]);
                } else {
                    s += " 0 0 0";
                }
            }
        }
        s.push('\n');
    }
    s
}
