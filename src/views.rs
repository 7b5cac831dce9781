//! Named views: several pipelines over the same source images, each with its
//! own name, output size, format and number of copies (`[[views]]` tables of
//! a pipeline file). FixMatch's weak and strong views, DINO's 2 global and 6
//! local crops.
//!
//! ```toml
//! size = 224                 # the default of every view
//! [[views]]
//! name = "global"
//! count = 2                  # copies of this view per image (default 1)
//! [[views.ops]]
//! op = "random_resized_crop"
//! size = 224
//! scale = [0.32, 1.0]
//! [[views]]
//! name = "local"
//! count = 6
//! size = 96                  # its own output size (and `format`)
//! [[views.ops]]
//! op = "random_resized_crop"
//! size = 96
//! scale = [0.05, 0.32]
//! ```
//!
//! Each view is a [`Pipeline`] (its `views` is the view's `count`) whose
//! copy `k` draws with the key id [`view_key`]`(name, k)` in place of the
//! view number: a view's output is a function of (seed, epoch, index, name,
//! k) alone, whatever other views the file declares, in whatever order.
//! [`ViewAugmenter`] returns one [`Batch`] per view (images x count), every
//! record carrying the view's name (`view_name`).

use crate::engine::{render_plan, Augmenter, Backend, Batch, PlanKey, Prepared};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::key::view_key;
use crate::mix::MAX_VIEWS;
use crate::pipeline::{Pipeline, SampleRecord};
use crate::request::Request;
use crate::targets::TargetOptions;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The longest view name (it goes into output file names).
pub const MAX_VIEW_NAME: usize = 64;

/// One named view: its name, copies per image, and the pipeline every copy
/// runs (with `views = count`).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedView {
    /// The name: `[A-Za-z0-9_-]+`, at most [`MAX_VIEW_NAME`] bytes.
    pub name: String,
    /// The pipeline of every copy (its `views` is the copy count).
    pub pipeline: Pipeline,
}

impl NamedView {
    /// A view `name` of `count` copies of `pipeline` (whose own `views` is
    /// replaced by `count`), checked.
    pub fn new(name: &str, count: u32, mut pipeline: Pipeline) -> Result<Self> {
        check_name(name).map_err(|m| view_err(name, "name", m))?;
        check_count(count).map_err(|m| view_err(name, "count", m))?;
        pipeline.views = count;
        pipeline
            .validate()
            .map_err(|e| view_err(name, "ops", e.to_string()))?;
        Ok(Self {
            name: name.to_string(),
            pipeline,
        })
    }

    /// Copies of the view per source image.
    pub fn count(&self) -> u32 {
        self.pipeline.views.max(1)
    }

    /// The key id of every copy, `view_key(name, k)` for k in 0..count: what
    /// [`Request::view_keys`] takes to run this view's pipeline alone.
    pub fn keys(&self) -> Vec<u32> {
        (0..self.count()).map(|k| view_key(&self.name, k)).collect()
    }

    /// The output file name of copy `k` for source stem `stem`:
    /// `<stem>_<name>.<ext>`, or `<stem>_<name><k>.<ext>` when the view has
    /// more than one copy.
    pub fn output_name(&self, stem: &str, k: u32, ext: &str) -> String {
        if self.count() <= 1 {
            format!("{stem}_{}.{ext}", self.name)
        } else {
            format!("{stem}_{}{k}.{ext}", self.name)
        }
    }
}

/// The named views of a pipeline file, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Views {
    views: Vec<NamedView>,
    targets: TargetOptions,
}

fn view_err(view: &str, key: &str, message: impl Into<String>) -> Error {
    Error::InvalidView {
        view: view.to_string(),
        key: key.to_string(),
        message: message.into(),
    }
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("empty: give a name of letters, digits, `_` and `-`".into());
    }
    if name.len() > MAX_VIEW_NAME {
        return Err(format!(
            "{} bytes long; at most {MAX_VIEW_NAME} (it goes into file names)",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "{name:?} has {c:?}: use only letters, digits, `_` and `-` (the name goes into file names)"
        ));
    }
    Ok(())
}

fn check_count(count: u32) -> std::result::Result<(), String> {
    if count == 0 || count > MAX_VIEWS {
        return Err(format!("{count}: must be in [1, {MAX_VIEWS}]"));
    }
    Ok(())
}

const VIEW_KEYS: [&str; 5] = ["name", "count", "size", "format", "ops"];

impl Views {
    /// Named views from a list, checked: at least one, distinct names, and
    /// no two copies whose key ids collide.
    pub fn new(views: Vec<NamedView>) -> Result<Self> {
        let v = Self {
            views,
            targets: TargetOptions::default(),
        };
        v.validate()?;
        Ok(v)
    }

    /// Whether a pipeline file's text declares named views (`[[views]]`
    /// tables) rather than a single pipeline; false when it does not parse.
    pub fn declared_in(text: &str) -> bool {
        text.parse::<toml::Table>()
            .is_ok_and(|t| matches!(t.get("views"), Some(toml::Value::Array(_))))
    }

    /// Reads a pipeline file with `[[views]]` tables.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::PipelineIo {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses `[[views]]` tables: each with `name`, optional `count`
    /// (default 1), `size` and `format` (defaults: the file's top-level
    /// ones) and its own `[[views.ops]]` (as a pipeline's `[[ops]]`, mixing
    /// ops included). The top level may hold `size`, `format`, `targets`
    /// and `views`, not `ops`.
    pub fn from_toml(text: &str) -> Result<Self> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| Error::PipelineSyntax(e.to_string()))?;
        let key_err = |key: &str, message: String| Error::PipelineKey {
            key: key.into(),
            message,
        };
        for key in table.keys() {
            match key.as_str() {
                "size" | "format" | "views" | "targets" => {}
                "ops" => return Err(key_err(
                    "ops",
                    "top-level [[ops]] together with [[views]]: every view has its own ops ([[views.ops]] after its [[views]] table); move these ops into the views that need them".into(),
                )),
                other => {
                    return Err(key_err(
                        other,
                        "unknown key (allowed beside [[views]]: size, format, targets, views)"
                            .into(),
                    ))
                }
            }
        }
        let targets = TargetOptions::from_pipeline_toml(text)?;
        let items = match table.get("views") {
            Some(toml::Value::Array(items)) => items,
            _ => {
                return Err(key_err(
                    "views",
                    "no [[views]] tables: this is a single pipeline (read it with `Pipeline::from_toml`)".into(),
                ))
            }
        };
        let mut views = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let anon = format!("#{i}");
            let Some(t) = item.as_table() else {
                return Err(view_err(
                    &anon,
                    "views",
                    "not a table: declare views as [[views]] tables",
                ));
            };
            let name = match t.get("name") {
                Some(toml::Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(view_err(
                        &anon,
                        "name",
                        format!(
                            "expected a string, got {}",
                            crate::ops::describe_value(other)
                        ),
                    ))
                }
                None => return Err(view_err(&anon, "name", "missing: every view needs a name")),
            };
            check_name(&name).map_err(|m| view_err(&anon, "name", m))?;
            for key in t.keys() {
                if !VIEW_KEYS.contains(&key.as_str()) {
                    return Err(view_err(
                        &name,
                        key,
                        format!("unknown key (allowed: {})", VIEW_KEYS.join(", ")),
                    ));
                }
            }
            let count = match t.get("count") {
                None => 1,
                Some(toml::Value::Integer(c)) if *c >= 1 && *c <= MAX_VIEWS as i64 => *c as u32,
                Some(other) => {
                    return Err(view_err(
                        &name,
                        "count",
                        format!(
                            "expected an integer in [1, {MAX_VIEWS}], got {}",
                            crate::ops::describe_value(other)
                        ),
                    ))
                }
            };
            match t.get("ops") {
                Some(toml::Value::Array(a)) if !a.is_empty() => {}
                Some(toml::Value::Array(_)) | None => return Err(view_err(
                    &name,
                    "ops",
                    "the view has no ops: give it [[views.ops]] tables after its [[views]] table",
                )),
                Some(_) => {
                    return Err(view_err(
                        &name,
                        "ops",
                        "expected an array of tables ([[views.ops]])",
                    ))
                }
            }
            // The view as a pipeline of its own, read by the pipeline parser.
            let mut p = toml::Table::new();
            for key in ["size", "format"] {
                if let Some(v) = t.get(key).or_else(|| table.get(key)) {
                    p.insert(key.into(), v.clone());
                }
            }
            if !p.contains_key("size") {
                return Err(view_err(
                    &name,
                    "size",
                    "missing: give the view a size, or the file a top-level size",
                ));
            }
            p.insert("views".into(), toml::Value::Integer(count as i64));
            if let Some(ops) = t.get("ops") {
                p.insert("ops".into(), ops.clone());
            }
            let text = toml::to_string(&p).map_err(|e| view_err(&name, "ops", e.to_string()))?;
            let pipeline = Pipeline::from_toml(&text).map_err(|e| match e {
                Error::PipelineKey { key, message } => view_err(&name, &key, message),
                other => view_err(&name, "ops", other.to_string()),
            })?;
            views.push(NamedView { name, pipeline });
        }
        let v = Self { views, targets };
        v.validate()?;
        Ok(v)
    }

    /// Checks the views: at least one, each valid, names distinct, and every
    /// copy's key id distinct from every other's.
    pub fn validate(&self) -> Result<()> {
        if self.views.is_empty() {
            return Err(Error::PipelineKey {
                key: "views".into(),
                message: "no views: give at least one [[views]] table".into(),
            });
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut keys: HashMap<u32, (&str, u32)> = HashMap::new();
        for (i, v) in self.views.iter().enumerate() {
            check_name(&v.name).map_err(|m| view_err(&v.name, "name", m))?;
            check_count(v.count()).map_err(|m| view_err(&v.name, "count", m))?;
            v.pipeline
                .validate()
                .map_err(|e| view_err(&v.name, "ops", e.to_string()))?;
            if let Some(j) = names.insert(&v.name, i) {
                return Err(view_err(
                    &v.name,
                    "name",
                    format!("views #{j} and #{i} are both named {:?}: names must differ (they key the draws and name the outputs)", v.name),
                ));
            }
            for k in 0..v.count() {
                let id = view_key(&v.name, k);
                if let Some((other, ok)) = keys.insert(id, (&v.name, k)) {
                    return Err(view_err(
                        &v.name,
                        "name",
                        format!("copy {k} of {:?} and copy {ok} of {other:?} have the same key id {id:#010x} (a hash collision): rename one of them", v.name),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The views, in file order.
    pub fn views(&self) -> &[NamedView] {
        &self.views
    }

    /// The view named `name`.
    pub fn get(&self, name: &str) -> Option<&NamedView> {
        self.views.iter().find(|v| v.name == name)
    }

    /// The file's `[targets]` options (defaults without one).
    pub fn target_options(&self) -> &TargetOptions {
        &self.targets
    }

    /// Output samples per source image, over every view.
    pub fn outputs_per_image(&self) -> usize {
        self.views.iter().map(|v| v.count() as usize).sum()
    }
}

/// One view's part of a [`ViewAugmenter`] call.
#[derive(Clone, Debug)]
pub struct ViewBatch {
    /// The view's name.
    pub name: String,
    /// Copies per source image.
    pub count: u32,
    /// The view's outputs, image-major: output `o` is copy `o % count` of
    /// source image `o / count` (so `data` reshapes to images x count x ...
    /// for free, see [`ViewBatch::grouped_shape`]); every record carries
    /// `view_name`.
    pub batch: Batch,
    /// The plan this view ran in, counted from 0 within the call. On the
    /// GPU the views of one output size, format and normalisation share
    /// one plan (one sample table, one upload of the sources, one submit
    /// per chunk), and each of them carries that plan's `gpu_stats`: sum
    /// the stats of distinct plans for a call's totals. On the CPU every
    /// view is a plan of its own.
    pub plan: usize,
}

impl ViewBatch {
    /// The shape as images x count x (the per-sample shape): [N, count, H,
    /// W, 3] for u8 HWC, [N, count, 3, H, W] for f32 CHW.
    pub fn grouped_shape(&self) -> [usize; 5] {
        let s = self.batch.shape;
        let c = self.count.max(1) as usize;
        [s[0] / c, c, s[1], s[2], s[3]]
    }
}

/// Named views bound to a backend: one [`Augmenter`] per view, sharing one
/// GPU device. Each call returns one [`ViewBatch`] per view, in file order;
/// on the GPU the views of one output size, format and normalisation run as
/// one plan (see [`ViewAugmenter::augment`]).
///
/// ```
/// use gpu_augment::{synthetic_image, view_key, Augmenter, Backend, BatchKey, Request, ViewAugmenter, Views};
///
/// # fn main() -> gpu_augment::Result<()> {
/// let views = Views::from_toml(
///     "size = 32\n\
///      [[views]]\nname = \"weak\"\n[[views.ops]]\nop = \"horizontal_flip\"\n\
///      [[views]]\nname = \"strong\"\ncount = 2\nsize = 16\n[[views.ops]]\nop = \"rand_augment\"",
/// )?;
/// let aug = ViewAugmenter::new(views.clone(), Backend::Cpu)?;
/// let images = vec![synthetic_image(0, 40, 30), synthetic_image(1, 50, 50)];
/// let out = aug.augment(Request::new(&images).key(BatchKey::new(7, 0, 100)))?;
/// assert_eq!(out[1].name, "strong");
/// assert_eq!(out[1].grouped_shape(), [2, 2, 16, 16, 3]);
/// // A view alone: its pipeline with its key ids.
/// let strong = views.get("strong").unwrap();
/// let alone = Augmenter::new(strong.pipeline.clone(), Backend::Cpu)?;
/// let keys = [view_key("strong", 0), view_key("strong", 1)];
/// let b = alone.augment(Request::new(&images).key(BatchKey::new(7, 0, 100)).view_keys(&keys))?;
/// assert_eq!(b.data, out[1].batch.data);
/// // Replay from every view's records at once.
/// let records: Vec<_> = out.iter().flat_map(|v| v.batch.records.clone()).collect();
/// let again = aug.augment(Request::new(&images).replay(&records))?;
/// assert_eq!(again[1].batch.data, out[1].batch.data);
/// # Ok(())
/// # }
/// ```
pub struct ViewAugmenter {
    views: Views,
    augmenters: Vec<Augmenter>,
}

impl ViewAugmenter {
    /// Binds every view to `backend` (one GPU device for all of them).
    pub fn new(views: Views, backend: Backend) -> Result<Self> {
        views.validate()?;
        let gpu = match backend {
            Backend::Cpu => None,
            Backend::Gpu => Some(Arc::new(GpuContext::new()?)),
            Backend::Auto => match GpuContext::new() {
                Ok(g) => Some(Arc::new(g)),
                Err(Error::NoAdapter | Error::Gpu(_)) => None,
                Err(e) => return Err(e),
            },
        };
        let augmenters = views
            .views
            .iter()
            .map(|v| match &gpu {
                Some(g) => Augmenter::with_gpu(v.pipeline.clone(), g.clone()),
                None => Augmenter::new(v.pipeline.clone(), Backend::Cpu),
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(g) = &gpu {
            crate::engine::precompile_plans(g, &augmenters, false)?;
        }
        Ok(Self { views, augmenters })
    }

    /// Binds every view to an already open GPU device.
    pub fn with_gpu(views: Views, gpu: Arc<GpuContext>) -> Result<Self> {
        views.validate()?;
        let augmenters = views
            .views
            .iter()
            .map(|v| Augmenter::with_gpu(v.pipeline.clone(), gpu.clone()))
            .collect::<Result<Vec<_>>>()?;
        crate::engine::precompile_plans(&gpu, &augmenters, false)?;
        Ok(Self { views, augmenters })
    }

    /// The views.
    pub fn views(&self) -> &Views {
        &self.views
    }

    /// The augmenter of view `name` (its pipeline alone; run it with
    /// `Request::view_keys(&view.keys())` to get that view's outputs).
    pub fn augmenter(&self, name: &str) -> Option<&Augmenter> {
        let i = self.views.views.iter().position(|v| v.name == name)?;
        self.augmenters.get(i)
    }

    /// The backend and, on the GPU, the adapter's name.
    pub fn backend_name(&self) -> String {
        self.augmenters
            .first()
            .map(|a| a.backend_name())
            .unwrap_or_default()
    }

    /// "gpu" or "cpu".
    pub fn backend_kind(&self) -> &'static str {
        self.augmenters.first().map_or("cpu", |a| a.backend_kind())
    }

    /// Hands a call's tensors back for reuse by the next call of the same sizes.
    pub fn recycle(&self, batches: Vec<ViewBatch>) {
        for b in batches {
            if let Some(a) = self.augmenter(&b.name) {
                a.recycle(b.batch);
            }
        }
    }

    /// What `augment` would render, without rendering: every view's records.
    pub fn draw(&self, request: &Request<'_>) -> Result<Vec<(String, Vec<SampleRecord>)>> {
        self.check(request)?;
        let replay = self.split_replay(request)?;
        self.views
            .views
            .iter()
            .zip(&self.augmenters)
            .enumerate()
            .map(|(i, (v, a))| {
                let keys = v.keys();
                let mut records = match &replay {
                    Some(groups) => a.draw(&request.replay(&groups[i]))?,
                    None => a.draw(&request.view_keys(&keys))?,
                };
                for r in &mut records {
                    r.view_name = Some(v.name.clone());
                }
                Ok((v.name.clone(), records))
            })
            .collect()
    }

    /// Augments `request`'s images through every view: one [`ViewBatch`]
    /// per view, in file order. Seed, epoch, indices, labels and targets
    /// apply to every view; `replay` takes the records of every view at
    /// once (each with its `view_name`, a view's records in its image-major
    /// order, e.g. the concatenation of a call's `records`). `params`,
    /// `mix_records` and `view_keys` are per pipeline: give them to a view's
    /// own [`augmenter`](Self::augmenter).
    ///
    /// On the GPU the views of one output size, format and normalisation
    /// run as one plan (one sample table, one upload of the sources, one
    /// submit per chunk; see [`ViewBatch::plan`]), views of other sizes as
    /// one plan per size; each view's pixels are those of its pipeline run
    /// alone. A view with AugMix runs alone.
    pub fn augment(&self, request: Request<'_>) -> Result<Vec<ViewBatch>> {
        self.check(&request)?;
        let replay = self.split_replay(&request)?;
        let named = |names: &[&str]| {
            let what = match names {
                [one] => format!("view `{one}`"),
                _ => format!("views `{}`", names.join("`, `")),
            };
            move |e| match e {
                Error::InvalidArgument(m) => Error::InvalidArgument(format!("{what}: {m}")),
                other => other,
            }
        };
        let default_options = TargetOptions::default();
        let targets = request.targets_with(&default_options);
        // Every view's batch prepared (drawn, planned, its tensor taken) ...
        let mut prepared = Vec::with_capacity(self.views.views.len());
        for (i, (v, a)) in self.views.views.iter().zip(&self.augmenters).enumerate() {
            let keys = v.keys();
            let batch = match &replay {
                Some(groups) => a.draw(&request.replay(&groups[i])),
                None => a.draw(&request.view_keys(&keys)),
            }
            .and_then(|r| {
                a.prepare(
                    request.images,
                    request.windows,
                    r,
                    request.labels.as_ref(),
                    targets,
                )
            })
            .map_err(named(&[&v.name]))?;
            prepared.push(Some(batch));
        }
        // ... then grouped into plans: on the GPU, the views that share a
        // plan key, in the order of their first view; on the CPU, each alone.
        let gpu = self.augmenters.first().and_then(|a| a.gpu());
        let mut plans: Vec<(Option<PlanKey>, Vec<usize>)> = Vec::new();
        for (i, p) in prepared.iter().enumerate() {
            let key = gpu.and(p.as_ref().and_then(|p| p.plan_key()));
            match plans.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
                Some((_, members)) => members.push(i),
                None => plans.push((key, vec![i])),
            }
        }
        let mut out: Vec<Option<ViewBatch>> = (0..prepared.len()).map(|_| None).collect();
        for (plan, (_, members)) in plans.iter().enumerate() {
            let names: Vec<&str> = members
                .iter()
                .map(|&i| self.views.views[i].name.as_str())
                .collect();
            let parts: Vec<(&Augmenter, Prepared<'_>)> = members
                .iter()
                .filter_map(|&i| Some((&self.augmenters[i], prepared[i].take()?)))
                .collect();
            let batches = match gpu {
                Some(g) => render_plan(g, parts),
                None => parts
                    .into_iter()
                    .map(|(a, p)| a.render_prepared(p))
                    .collect(),
            }
            .map_err(named(&names))?;
            for (&i, mut batch) in members.iter().zip(batches) {
                let v = &self.views.views[i];
                for r in &mut batch.records {
                    r.view_name = Some(v.name.clone());
                }
                out[i] = Some(ViewBatch {
                    name: v.name.clone(),
                    count: v.count(),
                    plan,
                    batch,
                });
            }
        }
        out.into_iter()
            .zip(&self.views.views)
            .map(|(b, v)| {
                b.ok_or_else(|| {
                    Error::InvalidArgument(format!("view `{}`: no batch was rendered", v.name))
                })
            })
            .collect()
    }

    fn check(&self, r: &Request<'_>) -> Result<()> {
        let bad = |what: &str| {
            Err(Error::InvalidArgument(format!(
                "request: {what} are per pipeline, but these are named views: give them to a view's own augmenter (`ViewAugmenter::augmenter(name)`)"
            )))
        };
        if r.params.is_some() {
            return bad("params");
        }
        if r.mix.is_some() {
            return bad("mix_records");
        }
        if r.view_keys.is_some() {
            return bad("view_keys (every view's are its name's)");
        }
        Ok(())
    }

    /// A replay's records split by view (in view order), each record's
    /// `view_name` naming its view.
    fn split_replay(&self, r: &Request<'_>) -> Result<Option<Vec<Vec<SampleRecord>>>> {
        let Some(records) = r.replay else {
            return Ok(None);
        };
        let mut groups = vec![Vec::new(); self.views.views.len()];
        for (o, rec) in records.iter().enumerate() {
            let Some(name) = &rec.view_name else {
                return Err(Error::InvalidArgument(format!(
                    "replay: record {o} (index {}) has no view_name, but these are named views ({})",
                    rec.index,
                    self.names()
                )));
            };
            let Some(i) = self.views.views.iter().position(|v| &v.name == name) else {
                return Err(Error::InvalidArgument(format!(
                    "replay: record {o} (index {}) is of view {name:?}, which this file does not declare ({})",
                    rec.index,
                    self.names()
                )));
            };
            groups[i].push(rec.clone());
        }
        Ok(Some(groups))
    }

    fn names(&self) -> String {
        self.views
            .views
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
