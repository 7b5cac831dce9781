//! COCO instances files: read (images, annotations with bbox, category_id
//! and keypoints, categories), matched to inputs by `file_name`, and
//! written back for augmented outputs (one image entry per output, boxes
//! and keypoints transformed, areas recomputed).
//!
//! Polygon and RLE `segmentation` fields cannot follow a warp as numbers
//! here: they are left out of the output (give masks as label maps instead).

use super::{BoxFormat, Boxes, Keypoints, SampleTargets, TargetOptions};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// One image entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoImage {
    /// Its id.
    pub id: u64,
    /// Its file, relative to the image folder.
    pub file_name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// One annotation (an object instance).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoAnnotation {
    /// Its id.
    pub id: u64,
    /// The image it belongs to.
    pub image_id: u64,
    /// Its category.
    pub category_id: u32,
    /// x, y, width, height in pixels.
    pub bbox: [f64; 4],
    /// x, y, v per keypoint (pose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keypoints: Option<Vec<f64>>,
    /// Labelled keypoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_keypoints: Option<u32>,
    /// Box area (recomputed on output).
    #[serde(default)]
    pub area: f64,
    /// Crowd flag.
    #[serde(default)]
    pub iscrowd: u32,
}

/// A COCO instances file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoFile {
    /// The images.
    pub images: Vec<CocoImage>,
    /// The annotations.
    pub annotations: Vec<CocoAnnotation>,
    /// The categories, as given (id, name, keypoints, skeleton...).
    pub categories: Vec<serde_json::Value>,
}

impl CocoFile {
    /// Reads and checks a file: every annotation's image and category exist,
    /// boxes have finite, non-negative sizes, keypoints come in threes.
    pub fn read(path: &Path) -> Result<Self> {
        let err = |reason: String| Error::Decode {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let f: CocoFile = serde_json::from_str(&text)
            .map_err(|e| err(format!("not a COCO instances file: {e}")))?;
        let cats: Vec<u64> = f
            .categories
            .iter()
            .filter_map(|c| c.get("id").and_then(|v| v.as_u64()))
            .collect();
        let images: std::collections::HashSet<u64> = f.images.iter().map(|i| i.id).collect();
        for a in &f.annotations {
            let at = |m: String| err(format!("annotation {}: {m}", a.id));
            if !images.contains(&a.image_id) {
                return Err(at(format!("image_id {} is not in images", a.image_id)));
            }
            if !cats.contains(&(a.category_id as u64)) {
                return Err(at(format!(
                    "unknown category_id {} (categories: {cats:?})",
                    a.category_id
                )));
            }
            if a.bbox.iter().any(|v| !v.is_finite()) || a.bbox[2] < 0.0 || a.bbox[3] < 0.0 {
                return Err(at(format!(
                    "bbox {:?} needs finite values and a width and height >= 0",
                    a.bbox
                )));
            }
            if let Some(k) = &a.keypoints {
                if k.len() % 3 != 0 {
                    return Err(at(format!(
                        "{} keypoint values: not x, y, v triples",
                        k.len()
                    )));
                }
            }
        }
        Ok(f)
    }

    /// Points per keypoint instance: the first category's `keypoints` list,
    /// else the first annotation's; None without keypoints.
    pub fn num_keypoints(&self) -> Option<usize> {
        self.categories
            .iter()
            .find_map(|c| c.get("keypoints").and_then(|k| k.as_array()).map(Vec::len))
            .filter(|&k| k > 0)
            .or_else(|| {
                self.annotations
                    .iter()
                    .find_map(|a| a.keypoints.as_ref().map(|k| k.len() / 3))
                    .filter(|&k| k > 0)
            })
    }

    /// Per `file_name`: the image entry and its annotations, in file order.
    pub fn by_file(&self) -> HashMap<&str, (&CocoImage, Vec<&CocoAnnotation>)> {
        let mut by_id: HashMap<u64, Vec<&CocoAnnotation>> = HashMap::new();
        for a in &self.annotations {
            by_id.entry(a.image_id).or_default().push(a);
        }
        self.images
            .iter()
            .map(|i| {
                (
                    i.file_name.as_str(),
                    (i, by_id.remove(&i.id).unwrap_or_default()),
                )
            })
            .collect()
    }
}

/// The boxes (xywh pixels, category ids as labels) and keypoints (K per
/// annotation; an annotation without keypoints gives K unlabelled points) of
/// one image's annotations.
pub fn targets_of(anns: &[&CocoAnnotation], k: Option<usize>) -> (Boxes, Option<Keypoints>) {
    let boxes = Boxes::new(
        BoxFormat::Xywh,
        anns.iter().map(|a| a.bbox).collect(),
        anns.iter().map(|a| a.category_id).collect(),
    );
    let keypoints = k.map(|k| Keypoints {
        points: anns
            .iter()
            .flat_map(|a| {
                let mut p: Vec<[f64; 3]> = a
                    .keypoints
                    .as_ref()
                    .map(|v| v.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
                    .unwrap_or_default();
                p.resize(k, [0.0, 0.0, 0.0]);
                p
            })
            .collect(),
    });
    (boxes, keypoints)
}

/// The annotations of one output (image entry `image`): its kept boxes,
/// each with the annotation it came from (`source(origin)`, with the index
/// of its keypoint instance in the output's keypoints), transformed and with
/// its area recomputed; keypoints of unlabelled points written as 0, 0, 0.
pub fn output_annotations(
    image: &CocoImage,
    st: &SampleTargets,
    source: &dyn Fn(&super::BoxOrigin) -> Option<(CocoAnnotation, usize)>,
    o: &TargetOptions,
) -> Vec<CocoAnnotation> {
    let Some(b) = &st.boxes else {
        return Vec::new();
    };
    let k = o.num_keypoints.unwrap_or(0);
    b.coords
        .iter()
        .zip(&st.box_origin)
        .filter_map(|(c, origin)| {
            let (mut a, instance) = source(origin)?;
            let [x1, y1, x2, y2] = b.xyxy_of(*c, image.width as f64, image.height as f64);
            a.image_id = image.id;
            a.bbox = [x1, y1, x2 - x1, y2 - y1];
            a.area = (x2 - x1) * (y2 - y1);
            if let (Some(kp), true) = (&st.keypoints, k > 0 && a.keypoints.is_some()) {
                let pts = kp.points.get(instance * k..(instance + 1) * k);
                let v: Vec<f64> = pts
                    .into_iter()
                    .flatten()
                    .flat_map(|p| {
                        if p[2] > 0.0 {
                            [p[0], p[1], p[2]]
                        } else {
                            [0.0, 0.0, 0.0]
                        }
                    })
                    .collect();
                a.num_keypoints =
                    Some((v.len() / 3) as u32 - v.chunks(3).filter(|t| t[2] == 0.0).count() as u32);
                a.keypoints = Some(v);
            }
            Some(a)
        })
        .collect()
}
