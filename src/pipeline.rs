//! A pipeline: an output size and format, then an ordered list of ops.

use crate::error::{Error, Result};
use crate::key::op_rng;
use crate::ops::{self, draw_op, Drawn, Op, Size};
use crate::plan::{canvas_after, MAX_CLIPS, MAX_PROG, MAX_STATS};
use serde::Serialize;
use std::path::Path;

/// How the output tensor is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// u8, N x H x W x 3.
    U8Hwc,
    /// f32, N x 3 x H x W, in [0, 1] or normalised by `normalize`.
    F32Chw,
}

/// An ordered list of ops and the size and format of what comes out.
///
/// Geometric ops compose into one inverse map per sample, whatever their
/// position; colour ops run after all geometry, in their listed order. If the
/// geometry leaves a canvas of another size than `size`, a final resize to
/// `size` is applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    /// Output size of every sample.
    pub size: Size,
    /// Output layout and type.
    pub format: OutputFormat,
    /// The ops in order.
    pub ops: Vec<Op>,
}

/// The parameters one sample drew: what `params.jsonl` holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampleRecord {
    /// Global sample index.
    pub index: u64,
    /// Source width and height.
    pub source_size: [u32; 2],
    /// One entry per op, in pipeline order.
    pub ops: Vec<Drawn>,
}

impl Pipeline {
    /// An empty pipeline: images are resized to `size`.
    pub fn new(size: Size, format: OutputFormat) -> Self {
        Self {
            size,
            format,
            ops: Vec::new(),
        }
    }

    /// Appends an op, then checks the whole pipeline.
    pub fn with(mut self, op: Op) -> Result<Self> {
        self.ops.push(op);
        self.validate()?;
        Ok(self)
    }

    /// Reads a pipeline file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::PipelineIo {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses a pipeline from TOML text (schema in the README).
    pub fn from_toml(text: &str) -> Result<Self> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| Error::PipelineSyntax(e.to_string()))?;
        let key_err = |key: &str, message: String| Error::PipelineKey {
            key: key.into(),
            message,
        };
        for key in table.keys() {
            if !["size", "format", "ops"].contains(&key.as_str()) {
                return Err(key_err(
                    key,
                    "unknown key (allowed: size, format, ops)".into(),
                ));
            }
        }
        let size = match table.get("size") {
            Some(v) => ops::parse_size_value(v).map_err(|m| key_err("size", m))?,
            None => {
                return Err(key_err(
                    "size",
                    "missing: give an integer or [height, width]".into(),
                ))
            }
        };
        let format = match table.get("format").map(|v| v.as_str()) {
            None | Some(Some("u8_hwc")) => OutputFormat::U8Hwc,
            Some(Some("f32_chw")) => OutputFormat::F32Chw,
            Some(_) => {
                let given = table
                    .get("format")
                    .map(crate::ops::describe_value)
                    .unwrap_or_default();
                return Err(key_err(
                    "format",
                    format!("expected \"u8_hwc\" or \"f32_chw\", got {given}"),
                ));
            }
        };
        let mut ops = Vec::new();
        match table.get("ops") {
            None => {}
            Some(toml::Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let t = item.as_table().ok_or_else(|| {
                        key_err("ops", format!("entry {i} is not a table (use [[ops]])"))
                    })?;
                    ops.push(ops::parse_op(i, t)?);
                }
            }
            Some(_) => {
                return Err(key_err(
                    "ops",
                    "expected an array of tables ([[ops]])".into(),
                ))
            }
        }
        let p = Self { size, format, ops };
        p.validate()?;
        Ok(p)
    }

    /// Checks that the ops fit together.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidPipeline(m));
        if self.size.width == 0 || self.size.height == 0 {
            return bad(format!(
                "output size {}x{} is empty",
                self.size.width, self.size.height
            ));
        }
        if self.size.width as u64 * self.size.height as u64 > 65535 * 256 {
            return bad(format!(
                "output size {}x{} has more than {} pixels",
                self.size.width,
                self.size.height,
                65535 * 256
            ));
        }
        for (i, op) in self.ops.iter().enumerate() {
            if let Op::Normalize { .. } = op {
                if i + 1 != self.ops.len() {
                    return bad(format!("normalize (op #{i}) must be the last op"));
                }
                if self.format != OutputFormat::F32Chw {
                    return bad("normalize needs format = \"f32_chw\"".into());
                }
            }
        }
        if let Some(f) = self.ops.iter().position(|o| o.is_field()) {
            if let Some(j) = self.ops[f + 1..].iter().position(|o| o.is_geometric()) {
                let j = f + 1 + j;
                return bad(format!(
                    "{} (op #{j}) is geometric and comes after {} (op #{f}): a random-field op must be the last geometric op (and there can be only one)",
                    self.ops[j].name(),
                    self.ops[f].name()
                ));
            }
        }
        let clips = self.ops.iter().filter(|o| o.may_fill()).count();
        if clips > MAX_CLIPS {
            return bad(format!("{clips} ops that fill outside the image (affine, center_crop, random_crop, random_field, elastic); at most {MAX_CLIPS}"));
        }
        let steps: usize = self.ops.iter().map(|o| o.max_color_steps()).sum();
        if steps > MAX_PROG {
            return bad(format!("{steps} colour steps; at most {MAX_PROG}"));
        }
        if self.stat_slots() > MAX_STATS {
            return bad(format!(
                "{} contrast adjustments; at most {MAX_STATS}",
                self.stat_slots()
            ));
        }
        Ok(())
    }

    /// How many image statistics (reduction passes) a sample may need.
    pub fn stat_slots(&self) -> usize {
        self.ops.iter().map(|o| o.stat_slots()).sum()
    }

    /// Normalisation mean and std (0 and 1 without `normalize`).
    pub fn normalization(&self) -> ([f64; 3], [f64; 3]) {
        match self.ops.last() {
            Some(Op::Normalize { mean, std }) => (*mean, *std),
            _ => ([0.0; 3], [1.0; 3]),
        }
    }

    /// Draws every op's parameters for the sample with global index `index`
    /// and source size `w` x `h`: a pure function of its arguments.
    pub fn draw(&self, seed: u64, epoch: u64, index: u64, view: u32, w: u32, h: u32) -> Vec<Drawn> {
        let (mut cw, mut ch) = (w, h);
        let mut drawn = Vec::with_capacity(self.ops.len());
        for (pos, op) in self.ops.iter().enumerate() {
            let mut rng = op_rng(seed, epoch, index, view, pos as u32);
            let d = draw_op(op, &mut rng, cw, ch);
            (cw, ch) = canvas_after(op, &d, self.size, cw, ch);
            drawn.push(d);
        }
        drawn
    }
}
