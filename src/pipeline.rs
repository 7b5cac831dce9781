//! A pipeline: an output size and format, then an ordered list of ops.

use crate::codes::{MAX_CLIPS, MAX_PROG, MAX_STATS};
use crate::error::{Error, Result};
use crate::key::op_rng;
use crate::mix::{mix_names, Mix, MixRecord, MAX_VIEWS};
use crate::ops::{self, canvas_after, draw_op, steer_drawn, steer_op, Drawn, Op, Size, Steer};
use crate::schedule::{ScheduleValues, Schedules};
use crate::steer::SampleOverrides;
use serde::Serialize;
use std::borrow::Cow;
use std::path::Path;

/// How the output tensor is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// u8, N x H x W x C (C = 3, or 1 after `grayscale` with
    /// `num_output_channels = 1`: see [`Pipeline::out_channels`]).
    U8Hwc,
    /// f32, N x C x H x W, in [0, 1] or normalised by `normalize`.
    F32Chw,
    /// u8, N x C x H x W: the u8 HWC values (rounded the same way),
    /// channel-planar, for consumers that normalise on their own device. A
    /// trailing `normalize` is deferred to the consumer:
    /// out = (u8 / 255 - mean) / std, with the mean and std of
    /// [`Pipeline::normalization`]. The deferred `normalize` still counts
    /// as an op, so a mixing op draws as in the `F32Chw` pipeline (its
    /// stream position is the number of per-sample ops).
    U8Chw,
    /// IEEE binary16, N x C x H x W: the `F32Chw` values (normalised by a
    /// trailing `normalize` as there), each rounded to the nearest half
    /// (ties to even; beyond 65504 to infinity; NaN stays a quiet NaN), the
    /// same bits on both backends. Half the bytes of `F32Chw`, for
    /// consumers that train in half precision on their own device.
    F16Chw,
}

impl OutputFormat {
    /// Every format, in the order the parser's error message lists them.
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::U8Hwc,
        OutputFormat::F32Chw,
        OutputFormat::U8Chw,
        OutputFormat::F16Chw,
    ];

    /// The format a pipeline file names (`name`'s inverse).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }

    /// The pipeline-file name ("u8_hwc", "f32_chw", "u8_chw", "f16_chw").
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::U8Hwc => "u8_hwc",
            OutputFormat::F32Chw => "f32_chw",
            OutputFormat::U8Chw => "u8_chw",
            OutputFormat::F16Chw => "f16_chw",
        }
    }

    /// Whether the tensor holds f32 values.
    pub fn is_f32(self) -> bool {
        self == OutputFormat::F32Chw
    }

    /// Whether the tensor holds f16 values (the kernels compute the f32
    /// values and round them as their last step).
    pub fn is_f16(self) -> bool {
        self == OutputFormat::F16Chw
    }

    /// Whether the kernels compute f32 values (f32 and f16 output).
    pub fn kernels_f32(self) -> bool {
        self.is_f32() || self.is_f16()
    }

    /// Whether the tensor is channel-planar (N x C x H x W).
    pub fn is_chw(self) -> bool {
        self != OutputFormat::U8Hwc
    }
}

/// An ordered list of ops and the size and format of what comes out.
///
/// Geometric ops compose into one inverse map per sample, whatever their
/// position; colour ops run after all geometry, in their listed order. If the
/// geometry leaves a canvas of another size than `size`, a final resize to
/// `size` is applied.
///
/// `views` augments each source image that many times, independently
/// (SimCLR / BYOL style); `mix` mixes the augmented batch (MixUp, CutMix,
/// ResizeMix) after every per-sample op, making soft labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    /// Output size of every sample.
    pub size: Size,
    /// Output layout and type.
    pub format: OutputFormat,
    /// The per-sample ops in order.
    pub ops: Vec<Op>,
    /// Views per source image (1 to 1024; default 1).
    pub views: u32,
    /// The mixing step over the batch, after every per-sample op.
    pub mix: Option<Mix>,
    /// Keys given as schedules (`{ from, to, epochs | by }`); their ops in
    /// `ops` are read at the end that needs the most room (see
    /// [`crate::schedule`]).
    pub schedules: Schedules,
}

/// The parameters one sample drew: what `params.jsonl` holds. It
/// serialises with a `"format"` version (see [`crate::RECORD_FORMAT`]) and
/// reads back with serde or [`SampleRecord::from_json`], so
/// `Request::replay` renders it again.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleRecord {
    /// Global sample index.
    pub index: u64,
    /// Which view of the source image (0 without `views`).
    pub view: u32,
    /// Source width and height.
    pub source_size: [u32; 2],
    /// One entry per op, in pipeline order.
    pub ops: Vec<Drawn>,
    /// How the sample was mixed with its partner (pipelines with a mixing op).
    pub mix: Option<MixRecord>,
    /// The sample's overrides (requests with overrides only; see [`crate::Overrides`]).
    pub overrides: Option<SampleOverrides>,
    /// The value each scheduled key took, by `"<op position>.<key>"`
    /// (pipelines with schedules only).
    pub schedule: Option<ScheduleValues>,
    /// The named view the sample belongs to (`[[views]]` files, see
    /// [`crate::Views`]); `None` otherwise, and then not serialised.
    pub view_name: Option<String>,
}

impl Pipeline {
    /// An empty pipeline: images are resized to `size`.
    pub fn new(size: Size, format: OutputFormat) -> Self {
        Self {
            size,
            format,
            ops: Vec::new(),
            views: 1,
            mix: None,
            schedules: Schedules::default(),
        }
    }

    /// Sets the mixing step, then checks the whole pipeline.
    pub fn with_mix(mut self, mix: Mix) -> Result<Self> {
        self.mix = Some(mix);
        self.validate()?;
        Ok(self)
    }

    /// Sets the number of views per source image, then checks the whole pipeline.
    pub fn with_views(mut self, views: u32) -> Result<Self> {
        self.views = views;
        self.validate()?;
        Ok(self)
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
            if !["size", "format", "ops", "views", "targets"].contains(&key.as_str()) {
                return Err(key_err(
                    key,
                    "unknown key (allowed: size, format, ops, views, targets)".into(),
                ));
            }
        }
        // The `[targets]` table (read by `TargetOptions::from_pipeline_toml`) is checked here too.
        crate::target_types::TargetOptions::from_pipeline_toml(text)?;
        let size = match table.get("size") {
            Some(v) => ops::parse_size_value(v).map_err(|m| key_err("size", m))?,
            None => {
                return Err(key_err(
                    "size",
                    "missing: give an integer or [height, width]".into(),
                ))
            }
        };
        let format = match table.get("format") {
            None => OutputFormat::U8Hwc,
            Some(v) => match v.as_str().and_then(OutputFormat::from_name) {
                Some(f) => f,
                None => {
                    let names: Vec<String> = OutputFormat::ALL
                        .iter()
                        .map(|f| format!("\"{}\"", f.name()))
                        .collect();
                    let (last, rest) = names.split_last().expect("formats exist");
                    return Err(key_err(
                        "format",
                        format!(
                            "expected {} or {last}, got {}",
                            rest.join(", "),
                            crate::ops::describe_value(v)
                        ),
                    ));
                }
            },
        };
        let views = match table.get("views") {
            None => 1,
            Some(toml::Value::Array(_)) => {
                return Err(key_err(
                    "views",
                    "this file declares named views ([[views]] tables): read it with `Views::from_toml` / `Views::from_file` (the CLI does so by itself); `views = k` (an integer) is k views of this pipeline".into(),
                ))
            }
            Some(toml::Value::Integer(k)) if *k >= 1 && *k <= MAX_VIEWS as i64 => *k as u32,
            Some(other) => {
                return Err(key_err(
                    "views",
                    format!(
                        "expected an integer in [1, {MAX_VIEWS}], got {}",
                        crate::ops::describe_value(other)
                    ),
                ))
            }
        };
        let mut ops = Vec::new();
        let mut mix: Option<(usize, Mix)> = None;
        let mut schedules = Schedules::default();
        match table.get("ops") {
            None => {}
            Some(toml::Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let t = item.as_table().ok_or_else(|| {
                        key_err("ops", format!("entry {i} is not a table (use [[ops]])"))
                    })?;
                    let name = t.get("op").and_then(toml::Value::as_str).unwrap_or("");
                    // Mixing ops work on the whole batch: one, after every per-sample op.
                    if let Some((j, m)) = &mix {
                        return Err(Error::InvalidPipeline(format!(
                            "op #{i} `{name}` comes after the mixing op #{j} `{}`: mixing runs on the augmented batch, so it must be the last op (and only one; use mix_one_of to choose between mixers)",
                            m.name()
                        )));
                    }
                    if mix_names().contains(&name) {
                        if let Some((k, _)) = t.iter().find(|(_, v)| v.is_table()) {
                            return Err(Error::InvalidParam {
                                index: i,
                                op: name.into(),
                                key: k.clone(),
                                message: "schedules apply to the per-sample ops, not to mixing ops"
                                    .into(),
                            });
                        }
                        mix = Some((i, Mix::parse(i, t)?));
                        continue;
                    }
                    ops.push(schedules.take(i, t).map_err(|e| match e {
                        Error::UnknownOp { index, name, known } => Error::UnknownOp {
                            index,
                            name,
                            known: format!("{known}, {}", mix_names().join(", ")),
                        },
                        other => other,
                    })?);
                }
            }
            Some(_) => {
                return Err(key_err(
                    "ops",
                    "expected an array of tables ([[ops]])".into(),
                ))
            }
        }
        let p = Self {
            size,
            format,
            ops,
            views,
            mix: mix.map(|(_, m)| m),
            schedules,
        };
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
        if self.views == 0 || self.views > MAX_VIEWS {
            return bad(format!(
                "views = {}: must be in [1, {MAX_VIEWS}]",
                self.views
            ));
        }
        if let Some(m) = &self.mix {
            m.validate(self.ops.len())?;
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
            op.check(i)?;
            op.check_with_size(i, self.size)?;
            if let Op::Normalize { .. } = op {
                if i + 1 != self.ops.len() {
                    return bad(format!("normalize (op #{i}) must be the last op"));
                }
                if self.format == OutputFormat::U8Hwc {
                    return bad(
                        "normalize needs format = \"f32_chw\" or \"f16_chw\" (or \"u8_chw\", which defers it to the consumer)"
                            .into(),
                    );
                }
            }
        }
        self.validate_channels()?;
        if let Some(a) = self.ops.iter().position(|o| matches!(o, Op::AugMix { .. })) {
            if let Some(j) = self.ops[a + 1..]
                .iter()
                .position(|o| !matches!(o, Op::Normalize { .. }))
            {
                return bad(format!(
                    "{} (op #{}) comes after augmix (op #{a}): augmix must be the last op (only normalize may follow)",
                    self.ops[a + 1 + j].name(),
                    a + 1 + j
                ));
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
        let rotations: Vec<usize> = (0..self.ops.len())
            .filter(|&i| matches!(self.ops[i], Op::RotationLabel { .. }))
            .collect();
        if rotations.len() > 1 {
            return bad(format!(
                "rotation_label (ops #{} and #{}) may appear once: its k is the label's joint index",
                rotations[0], rotations[1]
            ));
        }
        if let Some(&i) = rotations.first() {
            if matches!(self.ops[i], Op::RotationLabel { all_views: true }) && self.views != 4 {
                return bad(format!(
                    "rotation_label (op #{i}) has all_views = true, which gives view v the rotation k = v: it needs views = 4, got views = {}",
                    self.views
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

    /// The one-channel output's rules: at most one `grayscale` with
    /// `num_output_channels = 1`, with `p = 1` (else the channel count would
    /// vary per sample) and neither key scheduled; `normalize` after it
    /// takes one mean and one std (torchvision refuses three on a
    /// one-channel tensor).
    fn validate_channels(&self) -> Result<()> {
        let grey: Vec<usize> = (0..self.ops.len())
            .filter(|&i| {
                matches!(
                    self.ops[i],
                    Op::Grayscale {
                        num_output_channels: 1,
                        ..
                    }
                )
            })
            .collect();
        let Some(&g) = grey.first() else {
            return Ok(());
        };
        let err = |index: usize, op: &str, key: &str, message: String| {
            Err(Error::InvalidParam {
                index,
                op: op.into(),
                key: key.into(),
                message,
            })
        };
        if let Some(&second) = grey.get(1) {
            return err(
                second,
                "grayscale",
                "num_output_channels",
                format!("1 is given by op #{g} already: one op sets the output's channels"),
            );
        }
        if let Some(s) = self
            .schedules
            .items
            .iter()
            .find(|s| s.op == g && (s.key == "p" || s.key == "num_output_channels"))
        {
            return err(
                g,
                "grayscale",
                &s.key,
                "cannot follow a schedule with num_output_channels = 1 (it sets the output's channels)".into(),
            );
        }
        if let Op::Grayscale { p, .. } = self.ops[g] {
            if p != 1.0 {
                return err(
                    g,
                    "grayscale",
                    "p",
                    format!("must be 1 with num_output_channels = 1 (the output's channel count cannot vary per sample), got {p}"),
                );
            }
        }
        if let Some(Op::Normalize { mean, std }) = self.ops.last() {
            let n = self.ops.len() - 1;
            for (key, v) in [("mean", mean), ("std", std)] {
                if v[1] != v[0] || v[2] != v[0] {
                    return err(
                        n,
                        "normalize",
                        key,
                        format!(
                            "the output has 1 channel (grayscale with num_output_channels = 1, op #{g}): give one value, got [{}, {}, {}]",
                            v[0], v[1], v[2]
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// Channels of every output sample: 1 after a `grayscale` with
    /// `num_output_channels = 1` (channel 0 of the final image), else 3.
    pub fn out_channels(&self) -> usize {
        let grey = self.ops.iter().any(|o| {
            matches!(
                o,
                Op::Grayscale {
                    num_output_channels: 1,
                    ..
                }
            )
        });
        if grey {
            1
        } else {
            3
        }
    }

    /// How many output classes each label class becomes: 4 with
    /// `rotation_label` (the joint index label * 4 + k), else 1.
    pub fn label_factor(&self) -> usize {
        if self
            .ops
            .iter()
            .any(|o| matches!(o, Op::RotationLabel { .. }))
        {
            4
        } else {
            1
        }
    }

    /// The output classes' names for label classes `names`: the names
    /// themselves, or with `rotation_label` the joint classes `name@0`,
    /// `name@90`, `name@180`, `name@270` (index label * 4 + k).
    pub fn output_classes(&self, names: &[String]) -> Vec<String> {
        match self.label_factor() {
            1 => names.to_vec(),
            _ => names
                .iter()
                .flat_map(|n| (0..4).map(move |k| format!("{n}@{}", k * 90)))
                .collect(),
        }
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
    /// and source size `w` x `h`: a pure function of its arguments. A
    /// pipeline with schedules draws with its keys at `epoch` (and strength 1).
    pub fn draw(&self, seed: u64, epoch: u64, index: u64, view: u32, w: u32, h: u32) -> Vec<Drawn> {
        match self.draw_sample(seed, epoch, index, view, view, w, h, None) {
            Ok((d, _)) => d,
            // Values between two checked ends read back (see `Schedules::take`);
            // should one not, the ops as held are drawn.
            Err(_) => self.draw_ops(&self.ops, seed, epoch, index, view, view, w, h, None),
        }
    }

    /// Draws one sample as [`draw`](Self::draw) does, under the sample's
    /// overrides when it has them (see [`crate::Overrides`]), with every
    /// scheduled key at its value for (epoch, strength); returns the drawn
    /// parameters and, for a pipeline with schedules, the values used. The
    /// draws are keyed on `view` (the view number for `views = k`, the
    /// view's key id for named views, see [`crate::key::view_key`]); `copy`
    /// is the view number (its position among its image's views), which
    /// `rotation_label`'s `all_views` turns by `copy` quarter turns.
    #[allow(clippy::too_many_arguments)]
    pub fn draw_sample(
        &self,
        seed: u64,
        epoch: u64,
        index: u64,
        view: u32,
        copy: u32,
        w: u32,
        h: u32,
        overrides: Option<&SampleOverrides>,
    ) -> Result<(Vec<Drawn>, Option<ScheduleValues>)> {
        if self.schedules.is_empty() {
            let d = self.draw_ops(&self.ops, seed, epoch, index, view, copy, w, h, overrides);
            return Ok((d, None));
        }
        let strength = overrides.map_or(1.0, |o| o.schedule_strength());
        let values = self.schedules.values(epoch, strength);
        let ops = self.schedules.resolve(&self.ops, &values)?;
        let d = self.draw_ops(&ops, seed, epoch, index, view, copy, w, h, overrides);
        Ok((d, Some(values)))
    }

    /// How op `pos` is steered for a sample with `overrides` (ops with a key
    /// that follows the strength take it from their schedule only).
    fn steer_at(&self, pos: usize, overrides: Option<&SampleOverrides>) -> Steer {
        let Some(o) = overrides else {
            return Steer::NONE;
        };
        let st = o.steer();
        if self.schedules.follows_strength(pos) {
            Steer {
                strength: 1.0,
                ..st
            }
        } else {
            st
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn draw_ops(
        &self,
        ops: &[Op],
        seed: u64,
        epoch: u64,
        index: u64,
        view: u32,
        copy: u32,
        w: u32,
        h: u32,
        overrides: Option<&SampleOverrides>,
    ) -> Vec<Drawn> {
        let (mut cw, mut ch) = (w, h);
        let mut drawn = Vec::with_capacity(ops.len());
        for (pos, op) in ops.iter().enumerate() {
            let mut rng = op_rng(seed, epoch, index, view, pos as u32);
            // Erasing works on the output canvas, whatever the geometry before it.
            let (dw, dh) = match op {
                Op::RandomErasing { .. } | Op::Cutout { .. } | Op::ColorfulCutout { .. } => {
                    (self.size.width, self.size.height)
                }
                _ => (cw, ch),
            };
            let st = self.steer_at(pos, overrides);
            let op = steer_op(op, st, dw, dh);
            let choice = overrides.and_then(|o| o.policy.as_ref());
            let d = match (&op, choice) {
                (Op::Policy { kind, .. }, Some(c)) => Drawn::Policy {
                    steps: ops::policy::draw_steps_with(kind, &mut rng, dw, dh, Some(c)),
                },
                // The four rotations as the four views.
                (Op::RotationLabel { all_views: true }, _) => Drawn::RotationLabel { k: copy % 4 },
                _ => draw_op(&op, &mut rng, dw, dh),
            };
            let d = steer_drawn(&op, d, st, &mut rng, dw, dh);
            (cw, ch) = canvas_after(&op, &d, self.size, cw, ch);
            drawn.push(d);
        }
        drawn
    }

    /// The pipeline one recorded sample was drawn with: its scheduled keys at
    /// the record's values and its ops steered by the record's overrides
    /// (the pipeline itself for a record with neither).
    pub fn for_record(&self, r: &SampleRecord) -> Result<Cow<'_, Pipeline>> {
        if r.overrides.is_none() && r.schedule.is_none() && self.schedules.is_empty() {
            return Ok(Cow::Borrowed(self));
        }
        let mut ops = match (&r.schedule, self.schedules.is_empty()) {
            (Some(v), false) => self.schedules.resolve(&self.ops, v)?,
            (None, true) => self.ops.clone(),
            (None, false) => {
                return Err(Error::InvalidArgument(format!(
                    "record (index {}) has no `schedule` but the pipeline schedules {}",
                    r.index,
                    self.schedules.names().join(", ")
                )))
            }
            (Some(_), true) => {
                return Err(Error::InvalidArgument(format!(
                    "record (index {}) has a `schedule` but the pipeline has no schedules",
                    r.index
                )))
            }
        };
        if let Some(o) = &r.overrides {
            o.check(&ops, r.index as usize)?;
            let (mut cw, mut ch) = (r.source_size[0], r.source_size[1]);
            for (pos, (op, d)) in ops.iter_mut().zip(&r.ops).enumerate() {
                let (dw, dh) = match op {
                    Op::RandomErasing { .. } | Op::Cutout { .. } | Op::ColorfulCutout { .. } => {
                        (self.size.width, self.size.height)
                    }
                    _ => (cw, ch),
                };
                *op = steer_op(op, self.steer_at(pos, Some(o)), dw, dh);
                (cw, ch) = canvas_after(op, d, self.size, cw, ch);
            }
        }
        Ok(Cow::Owned(Pipeline {
            ops,
            ..self.clone()
        }))
    }
}
