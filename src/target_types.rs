//! The target types the backends and the pipeline file need (label maps,
//! the `[targets]` options), apart from `crate::targets` so that the CPU
//! and GPU backends and `Pipeline::from_toml` depend on them without
//! depending on the targets' maths (which uses the backends' field
//! renderer and the pipeline). Re-exported by `crate::targets`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// One label map's values, row-major, one per pixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MaskData {
    /// 8-bit labels (`ignore_index` 255 unless set).
    U8(Vec<u8>),
    /// 16-bit labels, e.g. instance ids (`ignore_index` 65535 unless set).
    U16(Vec<u16>),
}

/// A label map (semantic classes or instance ids) of one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// The labels.
    pub data: MaskData,
}

impl Mask {
    /// An 8-bit label map.
    pub fn u8(width: u32, height: u32, data: Vec<u8>) -> Self {
        Self {
            width,
            height,
            data: MaskData::U8(data),
        }
    }
    /// A 16-bit label map.
    pub fn u16(width: u32, height: u32, data: Vec<u16>) -> Self {
        Self {
            width,
            height,
            data: MaskData::U16(data),
        }
    }
    /// The label at pixel (x, y), widened.
    pub fn get(&self, x: u32, y: u32) -> u32 {
        let i = (y * self.width + x) as usize;
        match &self.data {
            MaskData::U8(v) => v[i] as u32,
            MaskData::U16(v) => v[i] as u32,
        }
    }
    /// Values held.
    pub fn len(&self) -> usize {
        match &self.data {
            MaskData::U8(v) => v.len(),
            MaskData::U16(v) => v.len(),
        }
    }
    /// No values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// 16-bit labels.
    pub fn is_u16(&self) -> bool {
        matches!(self.data, MaskData::U16(_))
    }
}

/// How targets are transformed and filtered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetOptions {
    /// The label of mask pixels brought in from outside the image (default:
    /// 255 for u8 masks, 65535 for u16).
    pub ignore_index: Option<u32>,
    /// Boxes keeping less than this fraction of their (transformed) area
    /// inside the canvas are dropped with their labels (0 to 1; default 0).
    pub min_visibility: f64,
    /// Boxes with less area (output pixels) inside the canvas are dropped (default 0).
    pub min_area: f64,
    /// Points per keypoint instance (COCO person: 17); the keypoints of an
    /// image must be a whole number of instances. None: one instance.
    pub num_keypoints: Option<usize>,
    /// Left/right keypoint pairs (indices within an instance) swapped when
    /// the sample's map mirrors (one horizontal or vertical flip).
    pub flip_pairs: Vec<[usize; 2]>,
    /// Classes are below this (an unknown category is an error); None: any.
    pub num_classes: Option<u32>,
}

impl Default for TargetOptions {
    fn default() -> Self {
        Self {
            ignore_index: None,
            min_visibility: 0.0,
            min_area: 0.0,
            num_keypoints: None,
            flip_pairs: Vec::new(),
            num_classes: None,
        }
    }
}

impl TargetOptions {
    /// The option keys, as the `[targets]` table of a pipeline file takes them.
    pub const KEYS: &'static [&'static str] = &[
        "ignore_index",
        "min_visibility",
        "min_area",
        "num_keypoints",
        "flip_pairs",
        "num_classes",
    ];

    /// Reads the `[targets]` table of a pipeline file (absent: the defaults).
    pub fn from_pipeline_toml(text: &str) -> Result<Self> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| Error::PipelineSyntax(e.to_string()))?;
        let Some(t) = table.get("targets") else {
            return Ok(Self::default());
        };
        let key_err = |key: &str, message: String| Error::PipelineKey {
            key: format!("targets.{key}"),
            message,
        };
        let Some(t) = t.as_table() else {
            return Err(key_err("", "must be a table ([targets])".into()));
        };
        for k in t.keys() {
            if !Self::KEYS.contains(&k.as_str()) {
                return Err(key_err(
                    k,
                    format!("unknown key (allowed: {})", Self::KEYS.join(", ")),
                ));
            }
        }
        let o: Self = toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e: toml::de::Error| key_err(&first_key(&e.to_string(), t), e.to_string()))?;
        o.check()?;
        Ok(o)
    }

    /// Checks the values.
    pub fn check(&self) -> Result<()> {
        let bad = |key: &str, message: String| {
            Err(Error::PipelineKey {
                key: format!("targets.{key}"),
                message,
            })
        };
        if !(0.0..=1.0).contains(&self.min_visibility) {
            return bad(
                "min_visibility",
                format!("must be in [0, 1], got {}", self.min_visibility),
            );
        }
        if !(self.min_area >= 0.0 && self.min_area.is_finite()) {
            return bad(
                "min_area",
                format!("must be >= 0 and finite, got {}", self.min_area),
            );
        }
        if self.num_keypoints == Some(0) {
            return bad("num_keypoints", "must be at least 1, got 0".into());
        }
        if let Some(v) = self.ignore_index.filter(|&v| v > u16::MAX as u32) {
            return bad(
                "ignore_index",
                format!("must fit 16 bits (0 to 65535), got {v}"),
            );
        }
        for (i, [a, b]) in self.flip_pairs.iter().enumerate() {
            if let Some(k) = self.num_keypoints.filter(|&k| *a >= k || *b >= k) {
                return bad(
                    "flip_pairs",
                    format!("pair {i} [{a}, {b}] names a keypoint beyond num_keypoints = {k}"),
                );
            }
        }
        Ok(())
    }

    /// The ignore values of u8 and u16 masks; an error when `ignore_index`
    /// does not fit the u8 masks a batch has (`any_u8`).
    pub fn ignore_values(&self, any_u8: bool) -> Result<(u8, u16)> {
        match self.ignore_index {
            None => Ok((255, u16::MAX)),
            Some(v) if v > 255 && any_u8 => Err(Error::PipelineKey {
                key: "targets.ignore_index".into(),
                message: format!("{v} does not fit u8 masks (0 to 255)"),
            }),
            Some(v) => Ok((v.min(255) as u8, v.min(u16::MAX as u32) as u16)),
        }
    }
}

/// The key serde's message names, when it names one of `t`'s keys.
fn first_key(msg: &str, t: &toml::Table) -> String {
    t.keys()
        .find(|k| msg.contains(k.as_str()))
        .cloned()
        .unwrap_or_default()
}
