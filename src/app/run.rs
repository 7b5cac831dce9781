//! `gpu-augment run`: augment every image under a folder.

use super::files::{rel_name, write_sample, write_text};
use gpu_augment::loader::{folder_classes, scan_images, ShardTail};
use gpu_augment::{
    Backend, Dataset, Error, Loader, LoaderOptions, OutputFormat, Pipeline, Result, SampleRecord,
};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// What `run` did.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Images written.
    pub written: usize,
    /// Files that failed, with the reason.
    pub failed: Vec<(PathBuf, String)>,
    /// Outputs already there (kept; their batches were not run again).
    pub existing: usize,
    /// Seconds, all included.
    pub seconds: f64,
    /// The loader's backend, e.g. "cpu (2 threads)".
    pub backend: String,
    /// GPU backend: inputs that ran on the CPU twin because the device
    /// cannot hold them (same values), with the reason.
    pub cpu_fallback: Vec<(PathBuf, String)>,
    /// What the run changed or left out, for the user: a batch size lowered
    /// to fit memory, an output folder inside the input folder.
    pub notes: Vec<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    file: String,
    seed: u64,
    epoch: u64,
    #[serde(flatten)]
    record: &'a SampleRecord,
}

#[derive(Serialize)]
struct LabelLine<'a> {
    file: String,
    index: u64,
    view: u32,
    label: &'a [f32],
}

/// The (file, view, index) triples a record file of an earlier run holds
/// (lines whose `seed` or `epoch` differ from `run`'s are not counted). A
/// line that does not parse (a run stopped mid-line) is dropped: the file is
/// rewritten (atomically) with the complete lines only, so new records start
/// on a line of their own and the file stays valid JSON lines.
fn recorded(path: &Path, run: (u64, u64)) -> Result<HashSet<(String, u32, u64)>> {
    let io = |e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(io(e)),
    };
    let mut keep = String::new();
    let mut done = HashSet::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let field = |k: &str| v.get(k).and_then(|x| x.as_u64());
        let same_run =
            field("seed").is_none_or(|s| s == run.0) && field("epoch").is_none_or(|e| e == run.1);
        if let (Some(file), Some(index), true) = (
            v.get("file").and_then(|f| f.as_str()),
            field("index"),
            same_run,
        ) {
            let view = field("view").unwrap_or(0) as u32;
            done.insert((file.to_string(), view, index));
        }
        keep.push_str(line);
        keep.push('\n');
    }
    if keep != text {
        write_text(path, &keep)?;
    }
    Ok(done)
}

/// The output of source base name `base` (relative, extension removed),
/// view `view` of `views`.
pub(super) fn output_name(base: &str, view: u32, views: u32, ext: &str) -> String {
    if views <= 1 {
        format!("{base}.{ext}")
    } else {
        format!("{base}_v{view}.{ext}")
    }
}

/// One output base name per input (relative, `/`-separated, no extension):
/// the relative path without its extension; where two inputs would share one
/// (`a.png`, `a.jpg` and `a.bmp` in one folder; compared without case, as a
/// case-insensitive file system would), each of them keeps its extension
/// (`a.png`, `a.jpg`, `a.bmp` -> outputs `a.png.png`, `a.jpg.png`,
/// `a.bmp.png`); should that collide again, the input's index is added
/// (`a.jpg.3`). The rule depends on the file list alone, never on the run.
pub fn output_bases(rels: &[String]) -> Result<Vec<String>> {
    let strip = |r: &str| -> String {
        let (dir, name) = r.rsplit_once('/').map_or(("", r), |(d, n)| (d, n));
        let stem = match name.rsplit_once('.') {
            Some((s, _)) if !s.is_empty() => s,
            _ => name,
        };
        if dir.is_empty() {
            stem.to_string()
        } else {
            format!("{dir}/{stem}")
        }
    };
    let mut level = vec![0u8; rels.len()];
    let name = |i: usize, level: u8| match level {
        0 => strip(&rels[i]),
        1 => rels[i].clone(),
        _ => format!("{}.{i}", rels[i]),
    };
    for _ in 0..3 {
        let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, &lv) in level.iter().enumerate() {
            groups
                .entry(name(i, lv).to_lowercase())
                .or_default()
                .push(i);
        }
        let clashes: Vec<usize> = groups
            .into_values()
            .filter(|g| g.len() > 1)
            .flatten()
            .collect();
        if clashes.is_empty() {
            return Ok((0..rels.len()).map(|i| name(i, level[i])).collect());
        }
        for i in clashes {
            level[i] += 1;
        }
    }
    Err(Error::InvalidArgument(
        "cannot give every input its own output name (inputs whose names differ only in case or extension, many times over)".into(),
    ))
}

/// What a run wrote into its output folder, beside the outputs
/// (`manifest.json`, or `manifest.I-of-N.json` for shard I of N): the
/// settings that shape the outputs and the input list they came from. A
/// rerun into the folder compares its own with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Manifest {
    /// "gpu-augment VERSION".
    engine: String,
    /// FNV-1a hash (hex) of the parsed pipeline.
    pipeline: String,
    seed: u64,
    epoch: u64,
    /// [rank, world].
    shard: [usize; 2],
    /// Mixing pipelines only (partners come from the batch).
    batch_size: Option<usize>,
    exif_orientation: bool,
    inputs: Vec<ManifestInput>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ManifestInput {
    file: String,
    bytes: u64,
    /// Modification time: seconds and nanoseconds since the Unix epoch.
    mtime: [u64; 2],
    /// The outputs it gives (one per view).
    outputs: Vec<String>,
}

fn fnv1a(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl Manifest {
    /// What differs from `new`, in words ("seed 3 -> 4"); an other shard of
    /// the same split differs only in its rank, which is no conflict.
    fn changes(&self, new: &Manifest) -> Vec<String> {
        let mut c = Vec::new();
        if self.engine != new.engine {
            c.push(format!("engine {} -> {}", self.engine, new.engine));
        }
        if self.pipeline != new.pipeline {
            c.push("the pipeline (its ops or settings)".into());
        }
        if self.seed != new.seed {
            c.push(format!("seed {} -> {}", self.seed, new.seed));
        }
        if self.epoch != new.epoch {
            c.push(format!("epoch {} -> {}", self.epoch, new.epoch));
        }
        if self.shard[1] != new.shard[1] {
            c.push(format!(
                "shards {}/{} -> {}/{}",
                self.shard[0], self.shard[1], new.shard[0], new.shard[1]
            ));
        }
        if self.batch_size != new.batch_size {
            let b = |x: Option<usize>| x.map_or("-".to_string(), |b| b.to_string());
            c.push(format!(
                "batch size (mixing pairs within a batch) {} -> {}",
                b(self.batch_size),
                b(new.batch_size)
            ));
        }
        if self.exif_orientation != new.exif_orientation {
            c.push(format!(
                "exif orientation {} -> {}",
                self.exif_orientation, new.exif_orientation
            ));
        }
        let old: BTreeMap<&str, &ManifestInput> =
            self.inputs.iter().map(|i| (i.file.as_str(), i)).collect();
        let now: BTreeMap<&str, &ManifestInput> =
            new.inputs.iter().map(|i| (i.file.as_str(), i)).collect();
        let added: Vec<&str> = now
            .keys()
            .filter(|f| !old.contains_key(*f))
            .copied()
            .collect();
        let removed: Vec<&str> = old
            .keys()
            .filter(|f| !now.contains_key(*f))
            .copied()
            .collect();
        let changed: Vec<&str> = now
            .iter()
            .filter(|(f, i)| {
                old.get(*f)
                    .is_some_and(|o| o.bytes != i.bytes || o.mtime != i.mtime)
            })
            .map(|(f, _)| *f)
            .collect();
        for (what, list) in [
            ("added", &added),
            ("removed", &removed),
            ("changed", &changed),
        ] {
            if !list.is_empty() {
                c.push(format!(
                    "{} input(s) {what} (first: {})",
                    list.len(),
                    list[0]
                ));
            }
        }
        c
    }
}

fn manifest_suffix(rank: usize, world: usize) -> String {
    if world > 1 {
        format!(".{rank}-of-{world}")
    } else {
        String::new()
    }
}

/// `p` made absolute with every symlink resolved, for the part that exists
/// (the rest appended as given), so that two spellings of one folder compare equal.
pub(super) fn resolved(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = std::fs::canonicalize(cur) {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// Bytes this process can still allocate, as far as the system says:
/// the smaller of the memory available (Linux: `MemAvailable`) and what is
/// left of the address-space limit (`ulimit -v`) above what the process
/// maps already and what `threads` threads still to start will reserve
/// (see [`thread_reserve`]). `None` where neither is known.
pub fn host_memory_budget(threads: usize) -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let kb_field = |text: &str, key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        line[key.len()..]
            .split_whitespace()
            .next()?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    let available = read("/proc/meminfo").and_then(|t| kb_field(&t, "MemAvailable:"));
    let address_space = read("/proc/self/limits").and_then(|t| {
        let line = t.lines().find(|l| l.starts_with("Max address space"))?;
        let limit: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
        let used = read("/proc/self/status").and_then(|s| kb_field(&s, "VmSize:"))?;
        Some(
            limit
                .saturating_sub(used)
                .saturating_sub(thread_reserve(threads)),
        )
    });
    match (available, address_space) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Address space that `threads` new threads reserve: a stack each (Rust's
/// default 2 MiB) and, with glibc, a malloc arena each (64 MiB reserved on
/// 64-bit, at most 8 per core). Reservations cost no memory but count
/// against `ulimit -v`; leaving them out let a run whose batches were sized
/// to fit fail to allocate once its threads had started.
pub fn thread_reserve(threads: usize) -> u64 {
    const STACK: u64 = 2 << 20;
    let arenas = if cfg!(all(target_os = "linux", target_env = "gnu")) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        threads.min(8 * cores) as u64 * (64 << 20)
    } else {
        0
    };
    threads as u64 * STACK + arenas
}

/// What a batch of a run holds, for sizing it to the memory the process
/// can allocate (`host_memory_budget`).
#[derive(Clone, Copy)]
struct BatchFit {
    /// Host bytes of one source's outputs.
    per_source: u64,
    /// Device bytes of one source, counted where the device's memory is the
    /// host's (0 otherwise).
    device_per_source: u64,
    /// Batches whose outputs are in host memory at once.
    in_flight: u64,
    /// Device buffer sets (one batch each).
    streams: u64,
    views: u32,
    size: [u32; 2],
    mixes: bool,
}

impl BatchFit {
    /// Lowers `batch_size` to what fits in half the budget (the other half
    /// is left to decoding and the rest), with a note saying so; an error
    /// when not even one source fits, or when a mixing pipeline (whose
    /// results depend on the batch) would need a smaller batch.
    fn apply(&self, batch_size: &mut usize, threads: usize) -> Result<Option<String>> {
        let Some(budget) = host_memory_budget(threads) else {
            return Ok(None);
        };
        let per_batch_source =
            self.per_source * self.in_flight + self.device_per_source * self.streams;
        let fit = (budget / 2 / per_batch_source.max(1)) as usize;
        let [w, h] = self.size;
        if fit == 0 {
            return Err(Error::OutOfMemory {
                what: format!(
                    "one source's outputs ({} x {w}x{h}, {}{}; this process can allocate about {})",
                    self.views,
                    human(self.per_source),
                    if self.device_per_source > 0 {
                        format!(
                            " and {} on the device, whose memory is the host's",
                            human(self.device_per_source)
                        )
                    } else {
                        String::new()
                    },
                    human(budget)
                ),
                bytes: per_batch_source,
            });
        }
        if fit >= *batch_size {
            return Ok(None);
        }
        let msg = format!(
            "batches of {batch_size} sources need {} of outputs each ({} batches in flight){}, more than the {} this process can allocate",
            human(self.per_source * *batch_size as u64),
            self.in_flight,
            if self.device_per_source > 0 {
                format!(
                    " and {} on the device ({} buffer sets, in host memory)",
                    human(self.device_per_source * *batch_size as u64),
                    self.streams
                )
            } else {
                String::new()
            },
            human(budget)
        );
        if self.mixes {
            return Err(Error::InvalidArgument(format!(
                "{msg}; a mixing pipeline pairs samples within a batch, so lower --batch-size to {fit} yourself"
            )));
        }
        *batch_size = fit;
        Ok(Some(format!(
            "{msg}: running batches of {fit} (results do not depend on the batch size)"
        )))
    }
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

/// One output's line of `annotations.jsonl`: its COCO image entry and annotations.
#[derive(Serialize, Deserialize)]
struct AnnotationLine {
    image: gpu_augment::targets::coco::CocoImage,
    annotations: Vec<gpu_augment::targets::coco::CocoAnnotation>,
}

/// The lines an earlier run (or this one) wrote; none when the file is absent.
fn read_annotation_lines(path: &Path) -> Result<Vec<AnnotationLine>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| Error::Decode {
                path: path.to_path_buf(),
                reason: format!("a line that is no annotation record: {e}"),
            })
        })
        .collect()
}

/// How `run_folder` runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Where the pixels run.
    pub backend: Backend,
    /// The run's seed.
    pub seed: u64,
    /// The epoch.
    pub epoch: u64,
    /// Source images per batch (mixing pairs samples within a batch); at
    /// least 1. Lowered, with a note, when a batch's outputs would not fit
    /// in memory (not for mixing pipelines: an error there).
    pub batch_size: usize,
    /// (rank, world size): this process writes the files of shard `rank` of
    /// `world`: files `rank, rank + world, ...` in sorted order (the loader's
    /// sharding with `ShardTail::Uneven`: every file in exactly one shard).
    pub shard: (usize, usize),
    /// GPU devices to spread the batches over; at least 1.
    pub devices: usize,
    /// Decoding threads (None: the machine's parallelism); at least 1.
    pub decode_threads: Option<usize>,
    /// Start over: remove what an earlier run with other settings (or any
    /// earlier run) wrote into `out`, instead of refusing to mix with it.
    pub overwrite: bool,
    /// Apply each image's EXIF orientation when decoding (PIL's
    /// `exif_transpose`); default false (torchvision's `decode_image`).
    pub exif_orientation: bool,
    /// A folder of label maps (PNG) with the inputs' relative paths and
    /// stems: each is warped with its image and written to `OUT/masks/`
    /// under its output's name (as a PNG). An image whose mask is missing
    /// or does not fit it is a failed file.
    pub masks: Option<PathBuf>,
    /// A COCO instances file: each input's boxes and keypoints (matched by
    /// `file_name`) transformed with it, `OUT/annotations.json` written for
    /// the outputs.
    pub annotations: Option<PathBuf>,
    /// A folder of YOLO label files (`DIR/<relative path>.txt`), each
    /// transformed with its image and written to `OUT/labels/<output>.txt`.
    pub yolo: Option<PathBuf>,
    /// How targets are transformed (the pipeline file's `[targets]`).
    pub target_options: gpu_augment::targets::TargetOptions,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            backend: Backend::Auto,
            seed: 0,
            epoch: 0,
            batch_size: 64,
            shard: (0, 1),
            devices: 1,
            decode_threads: None,
            overwrite: false,
            exif_orientation: false,
            masks: None,
            annotations: None,
            yolo: None,
            target_options: gpu_augment::targets::TargetOptions::default(),
        }
    }
}

/// The one rule for counts given on the command line or in `RunOptions`:
/// 0 is an error that names the option.
pub fn check_count(name: &str, n: usize) -> Result<usize> {
    if n == 0 {
        return Err(Error::InvalidArgument(format!(
            "{name} must be at least 1, got 0"
        )));
    }
    Ok(n)
}

/// Augments every image under `input` into `out` through the streaming
/// [`Loader`] (.png for u8 output, .npy for f32; with `views = k`,
/// `NAME_v0.png` ... `NAME_v{k-1}.png`; names as [`output_bases`] gives
/// them), appending each output's parameters (with the run's seed and epoch)
/// to `params.jsonl`. Sample indices are the files' positions in sorted
/// order, so per-sample results do not depend on batch size, shard or on
/// which other files failed. Mixing pipelines pair samples within batches
/// cut from a keyed shuffle of the folder (keyed on seed and epoch), so
/// partners come from every class while outputs keep their names.
///
/// Guarantees (README, "What a run guarantees"): inputs are never written
/// (`out` equal to `input` is refused, an `out` inside `input` is left out
/// of the scan, an output that would land on an input is refused); a
/// manifest (`manifest.json`, or `manifest.{i}-of-{n}.json` per shard) holds
/// the settings and the input list, and a rerun with other settings or
/// other inputs is refused, naming what changed, unless `overwrite`; a
/// batch is skipped on a rerun only when the manifest matches and its
/// outputs exist and are recorded; every output is written to a temporary
/// name and renamed; a file that cannot be listed, read, decoded or planned
/// is reported with its path and the others go on; on the GPU, an image
/// the device cannot hold runs on the CPU twin (reported in
/// `cpu_fallback`).
///
/// When every image sits in a class folder (`DIR/class_name/image.png`, the
/// ImageFolder layout, classes in sorted order), the class is its label:
/// `labels.jsonl` gets each output's soft label and `classes.txt` the class
/// names. A pipeline with a mixing op needs that layout, and its
/// `num_classes` must equal the number of class folders.
pub fn run_folder(
    pipeline: Pipeline,
    input: &Path,
    out: &Path,
    opts: &RunOptions,
    on_start: impl FnOnce(&Loader),
) -> Result<RunSummary> {
    let start = std::time::Instant::now();
    check_count("--batch-size", opts.batch_size)?;
    check_count("--devices", opts.devices)?;
    if let Some(t) = opts.decode_threads {
        check_count("--decode-threads", t)?;
    }
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| Error::Io {
            path: p.clone(),
            source: e,
        }
    };
    let mut summary = RunSummary::default();
    // Inputs are never written.
    let (input_abs, out_abs) = (resolved(input), resolved(out));
    if input_abs == out_abs {
        return Err(Error::InvalidArgument(format!(
            "--out {} is the input folder {}: the outputs would overwrite the inputs; choose another folder",
            out.display(),
            input.display()
        )));
    }
    if !input.is_dir() {
        return Err(Error::Decode {
            path: input.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let inside = out_abs.starts_with(&input_abs);
    if inside {
        summary.notes.push(format!(
            "the output folder {} is inside the input folder: left out of the scan",
            out.display()
        ));
    }
    let scan = scan_images(input, inside.then_some(out))?;
    let files = scan.files;
    let mut failed = scan.failed;
    for (p, reason) in &failed {
        eprintln!("error: {}: {reason}", p.display());
    }
    if files.is_empty() {
        if failed.is_empty() {
            return Err(super::files::no_images(input));
        }
        summary.failed = failed;
        summary.seconds = start.elapsed().as_secs_f64();
        return Ok(summary);
    }
    let rels: Vec<String> = files.iter().map(|(_, r)| rel_name(r)).collect();
    let bases = output_bases(&rels)?;
    let views = pipeline.views.max(1);
    let ext = match pipeline.format {
        OutputFormat::U8Hwc => "png",
        OutputFormat::F32Chw | OutputFormat::U8Chw | OutputFormat::F16Chw => "npy",
    };
    let out_names: Vec<Vec<String>> = bases
        .iter()
        .map(|b| (0..views).map(|v| output_name(b, v, views, ext)).collect())
        .collect();
    // An output folder above the input folder: no output may land on an input.
    if let Ok(sub) = input_abs.strip_prefix(&out_abs) {
        let inputs: HashSet<PathBuf> = files.iter().map(|(_, r)| sub.join(r)).collect();
        if let Some(o) = out_names
            .iter()
            .flatten()
            .find(|o| inputs.contains(Path::new(o)))
        {
            return Err(Error::InvalidArgument(format!(
                "output {} would overwrite an input; choose another --out",
                out.join(o).display()
            )));
        }
    }
    let classes = folder_classes(&files);
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let dataset = match (&pipeline.mix, &classes) {
        (Some(m), None) => {
            return Err(Error::InvalidArgument(format!(
                "op `{}` mixes labels, but {} is not in the ImageFolder layout (every image in DIR/class_name/)",
                m.name(),
                input.display()
            )))
        }
        (Some(m), Some((names, _))) if names.len() != m.num_classes => {
            return Err(Error::InvalidArgument(format!(
                "{} class folders in {} but op `{}` has num_classes = {}: set num_classes = {} (class folder k, in sorted order, is label k)",
                names.len(),
                input.display(),
                m.name(),
                m.num_classes,
                names.len()
            )))
        }
        (_, Some((names, ids))) => Dataset::from_labeled(
            paths.into_iter().zip(ids.iter().copied()).collect(),
            names.len(),
        )?,
        (None, None) => Dataset::from_paths(paths),
    };
    // Label maps beside the images (DIR/<relative path with .png>) and
    // COCO annotations (matched by file_name).
    if let Some(dir) = opts.masks.as_ref().filter(|d| !d.is_dir()) {
        return Err(Error::Decode {
            path: dir.clone(),
            reason: "--masks: not a directory".into(),
        });
    }
    let coco = match &opts.annotations {
        Some(p) => Some(gpu_augment::targets::coco::CocoFile::read(p)?),
        None => None,
    };
    let mut target_options = opts.target_options.clone();
    // Per input: its annotations (what the output annotations copy).
    let mut coco_anns: Vec<Vec<gpu_augment::targets::coco::CocoAnnotation>> = Vec::new();
    if let Some(c) = &coco {
        let k = c.num_keypoints();
        match (target_options.num_keypoints, k) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::InvalidArgument(format!(
                    "--annotations: the file's keypoints come in {b}s but the pipeline's [targets] num_keypoints = {a}"
                )))
            }
            (None, Some(b)) => target_options.num_keypoints = Some(b),
            _ => {}
        }
        let by_file = c.by_file();
        coco_anns = rels
            .iter()
            .map(|rel| {
                let base = Path::new(rel)
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or("");
                by_file
                    .get(rel.as_str())
                    .or_else(|| by_file.get(base))
                    .map(|(_, a)| a.iter().map(|&a| a.clone()).collect())
                    .unwrap_or_default()
            })
            .collect();
    }
    // YOLO label files: boxes (normalised cxcywh) and pose keypoints
    // (normalised in the file, pixels in the engine: scaled by the image's
    // size, read from its header).
    let mut yolo_k = 0usize;
    let mut yolo_items: Vec<(gpu_augment::Boxes, Option<gpu_augment::Keypoints>)> = Vec::new();
    if let Some(dir) = &opts.yolo {
        if !dir.is_dir() {
            return Err(Error::Decode {
                path: dir.clone(),
                reason: "--yolo: not a directory".into(),
            });
        }
        for (p, r) in &files {
            let lp = dir.join(r).with_extension("txt");
            let (b, kp, k) = gpu_augment::targets::yolo::read_labels(&lp)?;
            let kp = match kp {
                Some(mut kp) => {
                    if yolo_k != 0 && yolo_k != k {
                        return Err(Error::Decode {
                            path: lp,
                            reason: format!("{k} keypoints a line where other files have {yolo_k}"),
                        });
                    }
                    yolo_k = k;
                    let (w, h) = image::image_dimensions(p).map_err(|e| Error::Decode {
                        path: p.clone(),
                        reason: e.to_string(),
                    })?;
                    for q in &mut kp.points {
                        q[0] *= w as f64;
                        q[1] *= h as f64;
                    }
                    Some(kp)
                }
                None => None,
            };
            yolo_items.push((b, kp));
        }
        if yolo_k > 0 {
            match target_options.num_keypoints {
                Some(a) if a != yolo_k => {
                    return Err(Error::InvalidArgument(format!(
                        "--yolo: the label files have {yolo_k} keypoints a box but the pipeline's [targets] num_keypoints = {a}"
                    )))
                }
                _ => target_options.num_keypoints = Some(yolo_k),
            }
        }
    }
    let dataset = if opts.masks.is_some() || coco.is_some() || opts.yolo.is_some() {
        let k = target_options.num_keypoints;
        let items = files
            .iter()
            .enumerate()
            .map(|(i, (_, r))| {
                let mut it = gpu_augment::ItemTargets {
                    masks: opts
                        .masks
                        .iter()
                        .map(|dir| dir.join(r).with_extension("png"))
                        .collect(),
                    ..Default::default()
                };
                if let Some((b, kp)) = yolo_items.get(i) {
                    it.boxes = Some(b.clone());
                    it.keypoints = kp.clone().or_else(|| {
                        // A file without keypoints among pose files: its
                        // boxes' instances unlabelled.
                        (yolo_k > 0).then(|| gpu_augment::Keypoints {
                            points: vec![[0.0; 3]; b.coords.len() * yolo_k],
                        })
                    });
                }
                if coco.is_some() {
                    let refs: Vec<_> = coco_anns[i].iter().collect();
                    let (b, kp) = gpu_augment::targets::coco::targets_of(&refs, k);
                    it.boxes = Some(b);
                    it.keypoints = kp;
                }
                it
            })
            .collect();
        dataset.with_targets(items, target_options.clone())?
    } else {
        dataset
    };
    let annotations_path = out.join(format!(
        "annotations{suffix_early}.jsonl",
        suffix_early = manifest_suffix(opts.shard.0, opts.shard.1)
    ));
    if opts.overwrite {
        // Starting over: the earlier run's annotation lines go with its records.
        let _ = std::fs::remove_file(&annotations_path);
    }
    let annotated: HashSet<String> = if coco.is_some() {
        read_annotation_lines(&annotations_path)?
            .into_iter()
            .map(|l| l.image.file_name)
            .collect()
    } else {
        HashSet::new()
    };
    let mut annotation_lines = match &coco {
        Some(_) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&annotations_path)
                .map(std::io::BufWriter::new)
                .map_err(io(&annotations_path))?,
        ),
        None => None,
    };
    let label_of = |item: usize, view: u32| {
        out.join("labels")
            .join(Path::new(&out_names[item][view as usize]).with_extension("txt"))
    };
    let mask_of = |item: usize, view: u32| {
        out.join("masks")
            .join(Path::new(&out_names[item][view as usize]).with_extension("png"))
    };
    let (rank, world) = opts.shard;
    let mixes = pipeline.mix.is_some();
    let mut lopts = LoaderOptions {
        batch_size: opts.batch_size,
        backend: opts.backend,
        seed: opts.seed,
        rank,
        world_size: world,
        // Every file in exactly one shard.
        shard_tail: ShardTail::Uneven,
        // Mixing partners from every class: batches cut from a keyed
        // shuffle of the folder (outputs keep their names and indices).
        shuffle: mixes,
        devices: opts.devices,
        exif_orientation: opts.exif_orientation,
        ..LoaderOptions::default()
    };
    if let Some(t) = opts.decode_threads {
        lopts.decode_threads = t;
    }
    // Memory: a batch's outputs (times the batches in flight) must fit in
    // what the process can allocate; split before allocating.
    let mut batch_size = opts.batch_size;
    let prefetch = lopts.prefetch;
    let size = pipeline.size;
    let per_output = size.width as u64
        * size.height as u64
        * pipeline.out_channels() as u64
        * match pipeline.format {
            OutputFormat::U8Hwc | OutputFormat::U8Chw => 1,
            OutputFormat::F16Chw => 2,
            OutputFormat::F32Chw => 4,
        };
    let per_source = per_output * views as u64;
    let fit = BatchFit {
        per_source,
        device_per_source: 0,
        in_flight: prefetch as u64 + 2,
        streams: 0,
        views,
        size: [size.width, size.height],
        mixes,
    };
    if let Some(note) = fit.apply(&mut batch_size, lopts.threads())? {
        summary.notes.push(note);
    }
    lopts.batch_size = batch_size;
    // The manifest: refuse to mix with what other settings wrote.
    let suffix = manifest_suffix(rank, world);
    let manifest = Manifest {
        engine: format!("gpu-augment {}", env!("CARGO_PKG_VERSION")),
        pipeline: fnv1a(&format!("{pipeline:?}")),
        seed: opts.seed,
        epoch: opts.epoch,
        shard: [rank, world],
        batch_size: mixes.then_some(batch_size),
        exif_orientation: opts.exif_orientation,
        inputs: files
            .iter()
            .zip(&rels)
            .zip(&out_names)
            .map(|(((p, _), rel), outs)| {
                let m = std::fs::metadata(p).ok();
                let mtime = m
                    .as_ref()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or([0, 0], |d| [d.as_secs(), d.subsec_nanos() as u64]);
                ManifestInput {
                    file: rel.clone(),
                    bytes: m.map_or(0, |m| m.len()),
                    mtime,
                    outputs: outs.clone(),
                }
            })
            .collect(),
    };
    let manifest_path = out.join(format!("manifest{suffix}.json"));
    settle_earlier_runs(out, &manifest_path, &manifest, opts.overwrite)?;
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    write_text(&manifest_path, &(text + "\n"))?;

    let output_of = |item: usize, view: u32| out.join(&out_names[item][view as usize]);
    let append = |path: &Path| -> Result<std::io::BufWriter<std::fs::File>> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        Ok(std::io::BufWriter::new(f))
    };
    let run_key = (opts.seed, opts.epoch);
    let mut label_out = match &classes {
        Some((names, _)) => {
            let names = pipeline.output_classes(names);
            write_text(&out.join("classes.txt"), &(names.join("\n") + "\n"))?;
            let path = out.join(format!("labels{suffix}.jsonl"));
            let done = recorded(&path, run_key)?;
            let w = append(&path)?;
            Some((path, w, done))
        }
        None => None,
    };
    let params_path = out.join(format!("params{suffix}.jsonl"));
    // Outputs this run's settings recorded (the manifest matched): a batch
    // counts as done only when its outputs exist and are recorded with the
    // same index, and no record is written twice.
    let mut params_done = recorded(&params_path, run_key)?;
    let mut params = append(&params_path)?;
    // This shard's files (ShardTail::Uneven), each `views` outputs.
    let total = files.len().saturating_sub(rank).div_ceil(world) * views as usize;
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(total as u64);
        b.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} outputs  {per_sec}  eta {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    for n in &summary.notes {
        bar.suspend(|| eprintln!("note: {n}"));
    }
    let mut on_start = Some(on_start);
    // A batch that cannot be allocated after all (the estimate above is
    // only an estimate) is run again in smaller batches: what was written
    // is recorded, so the next attempt resumes after it.
    let loader = loop {
        lopts.batch_size = batch_size;
        let loader = Loader::new(dataset.clone(), pipeline.clone(), lopts.clone())?;
        // A device whose memory is the host's (lavapipe) takes its buffers
        // and its own threads from the same budget: sized again once open.
        if loader.device_memory_is_host() {
            let npx = size.width as u64 * size.height as u64;
            // Per output on the device: the output and its readback copy
            // (u8: a word a pixel; f32: 3 floats; f16: 3 floats, then 3
            // halves in the rounded buffer and in the readback: the same
            // total), two f32 scratch images, and a source of about the
            // output's size.
            let dev_out = match pipeline.format {
                OutputFormat::U8Hwc | OutputFormat::U8Chw => npx * 4,
                OutputFormat::F32Chw | OutputFormat::F16Chw => npx * 12,
            };
            let on_device = BatchFit {
                device_per_source: (2 * dev_out + npx * 24 + npx * 4) * views as u64,
                streams: (lopts.devices.max(1) * lopts.streams_per_device.max(1)) as u64,
                ..fit
            };
            let before = batch_size;
            if let Some(note) = on_device.apply(&mut batch_size, lopts.epoch_threads())? {
                bar.suspend(|| eprintln!("note: {note}"));
                summary.notes.push(note);
            }
            if batch_size < before {
                drop(loader);
                continue;
            }
        }
        if let Some(f) = on_start.take() {
            f(&loader);
        }
        summary.existing = 0;
        bar.set_position(0);
        let attempt = (|| -> Result<()> {
            let is_recorded = |item: usize, view: u32| {
                let key = (rels[item].clone(), view, item as u64);
                params_done.contains(&key)
                    && label_out
                        .as_ref()
                        .is_none_or(|(_, _, done)| done.contains(&key))
            };
            let epoch = loader.epoch_where(opts.epoch, |_, items| {
                let missing = items.iter().any(|&i| {
                    (0..views).any(|v| {
                        !output_of(i, v).exists()
                            || !is_recorded(i, v)
                            || (opts.masks.is_some() && !mask_of(i, v).exists())
                            || (opts.yolo.is_some() && !label_of(i, v).exists())
                            || (coco.is_some() && !annotated.contains(&out_names[i][v as usize]))
                    })
                });
                if !missing {
                    summary.existing += items.len() * views as usize;
                }
                missing
            })?;
            bar.inc(summary.existing as u64);
            for lb in epoch {
                let lb = lb?;
                for (p, reason) in &lb.skipped {
                    bar.suspend(|| eprintln!("error: {}: {reason}", p.display()));
                }
                bar.inc((lb.skipped.len() * views as usize) as u64);
                let batch = &lb.batch;
                for (j, reason) in &batch.cpu_fallback {
                    let path = files[lb.items[*j / views as usize]].0.clone();
                    if summary.cpu_fallback.last().is_none_or(|(p, _)| *p != path) {
                        bar.suspend(|| {
                            eprintln!("note: {}: ran on the CPU twin: {reason}", path.display())
                        });
                        summary.cpu_fallback.push((path, reason.clone()));
                    }
                }
                // Output sample j of the batch is view j % views of source j / views.
                let outs: Vec<(usize, PathBuf)> = (0..lb.items.len() * views as usize)
                    .map(|j| {
                        (
                            j,
                            output_of(lb.items[j / views as usize], (j % views as usize) as u32),
                        )
                    })
                    .collect();
                let results: Vec<Result<()>> = outs
                    .par_iter()
                    .map(|(j, path)| {
                        if let Some(parent) = path.parent() {
                            std::fs::create_dir_all(parent).map_err(io(parent))?;
                        }
                        if let (Some(st), true) = (
                            batch.targets.as_ref().and_then(|t| t.get(*j)),
                            opts.yolo.is_some(),
                        ) {
                            let item = lb.items[*j / views as usize];
                            let lpath = label_of(item, (*j % views as usize) as u32);
                            if let Some(parent) = lpath.parent() {
                                std::fs::create_dir_all(parent).map_err(io(parent))?;
                            }
                            let own = yolo_items[item].0.coords.len();
                            let origin = &st.box_origin;
                            let instance = |i: usize| {
                                let o = origin[i];
                                if o.sample == *j {
                                    o.index
                                } else {
                                    own + o.index
                                }
                            };
                            let text = gpu_augment::targets::yolo::format_labels(
                                st,
                                (size.width, size.height),
                                yolo_k,
                                &instance,
                            );
                            write_text(&lpath, &text)?;
                        }
                        if let Some(st) = batch.targets.as_ref().and_then(|t| t.get(*j)) {
                            let item = lb.items[*j / views as usize];
                            let mpath = mask_of(item, (*j % views as usize) as u32);
                            if let Some(m) = st.masks.first() {
                                if let Some(parent) = mpath.parent() {
                                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                                }
                                let tmp = mpath.with_extension("png.tmp");
                                gpu_augment::targets::io::save_mask(&tmp, m)?;
                                std::fs::rename(&tmp, &mpath).map_err(io(&mpath))?;
                            }
                        }
                        write_sample(path, batch, *j)
                    })
                    .collect();
                for ((j, path), r) in outs.iter().zip(results) {
                    match r {
                        Ok(()) => {
                            let rel = rels[lb.items[*j / views as usize]].clone();
                            let record = &batch.records[*j];
                            let key = (rel.clone(), record.view, record.index);
                            if let (Some((path, w, done)), Some(l)) =
                                (&mut label_out, &batch.labels)
                            {
                                if !done.contains(&key) {
                                    let line = LabelLine {
                                        file: rel.clone(),
                                        index: record.index,
                                        view: record.view,
                                        label: l.row(*j).unwrap_or_default(),
                                    };
                                    let text = serde_json::to_string(&line)
                                        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                                    writeln!(w, "{text}").map_err(io(path))?;
                                    done.insert(key.clone());
                                }
                            }
                            if let (Some(w), Some(st)) = (
                                annotation_lines.as_mut(),
                                batch.targets.as_ref().and_then(|t| t.get(*j)),
                            ) {
                                let item = lb.items[*j / views as usize];
                                let view = *j % views as usize;
                                let image = gpu_augment::targets::coco::CocoImage {
                                    id: (item * views as usize + view) as u64 + 1,
                                    file_name: out_names[item][view].clone(),
                                    width: size.width,
                                    height: size.height,
                                };
                                let own = coco_anns[item].len();
                                let source = |o: &gpu_augment::BoxOrigin| {
                                    let it = lb.items.get(o.sample / views as usize)?;
                                    let a = coco_anns[*it].get(o.index)?.clone();
                                    let inst = if o.sample == *j {
                                        o.index
                                    } else {
                                        own + o.index
                                    };
                                    Some((a, inst))
                                };
                                let anns = gpu_augment::targets::coco::output_annotations(
                                    &image,
                                    st,
                                    &source,
                                    &target_options,
                                );
                                let line = AnnotationLine {
                                    image,
                                    annotations: anns,
                                };
                                let text = serde_json::to_string(&line)
                                    .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                                writeln!(w, "{text}").map_err(io(&annotations_path))?;
                            }
                            if !params_done.contains(&key) {
                                let line = Line {
                                    file: rel,
                                    seed: opts.seed,
                                    epoch: opts.epoch,
                                    record,
                                };
                                let text = serde_json::to_string(&line)
                                    .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                                writeln!(params, "{text}").map_err(io(&params_path))?;
                                params_done.insert(key);
                            }
                            summary.written += 1;
                        }
                        Err(e) => {
                            bar.suspend(|| eprintln!("error: {}: {e}", path.display()));
                            summary.failed.push((path.clone(), e.to_string()));
                        }
                    }
                }
                // A batch's records reach the disk with the batch: a stopped run
                // loses at most the records of the batch it was writing.
                params.flush().map_err(io(&params_path))?;
                if let Some(w) = annotation_lines.as_mut() {
                    w.flush().map_err(io(&annotations_path))?;
                }
                if let Some((path, w, _)) = &mut label_out {
                    w.flush().map_err(io(path))?;
                }
                bar.inc(outs.len() as u64);
                // Written: the tensor serves a later batch.
                loader.recycle(lb);
            }
            Ok(())
        })();
        match attempt {
            Ok(()) => break loader,
            Err(Error::OutOfMemory { what, bytes }) if batch_size > 1 && !mixes => {
                batch_size = (batch_size / 2).max(1);
                let n = format!(
                    "cannot allocate {} for {what}: running batches of {batch_size}",
                    human(bytes)
                );
                bar.suspend(|| eprintln!("note: {n}"));
                summary.notes.push(n);
            }
            Err(e) => return Err(e),
        }
    };
    // Every listing and decode failure, including batches in which every
    // file failed, then the write failures.
    // annotations.json: every output's line (this run's and earlier ones'),
    // the last line of an output winning, annotation ids in order.
    if let Some(c) = &coco {
        drop(annotation_lines.take());
        let mut by_file: BTreeMap<u64, AnnotationLine> = BTreeMap::new();
        for l in read_annotation_lines(&annotations_path)? {
            by_file.insert(l.image.id, l);
        }
        let mut next = 1u64;
        let mut images = Vec::new();
        let mut annotations = Vec::new();
        for (_, l) in by_file {
            images.push(l.image);
            for mut a in l.annotations {
                a.id = next;
                next += 1;
                annotations.push(a);
            }
        }
        let f = gpu_augment::targets::coco::CocoFile {
            images,
            annotations,
            categories: c.categories.clone(),
        };
        let text = serde_json::to_string(&f).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        write_text(
            &out.join(format!("annotations{}.json", manifest_suffix(rank, world))),
            &(text + "\n"),
        )?;
    }
    failed.append(&mut loader.skipped_files());
    failed.append(&mut summary.failed);
    summary.failed = failed;
    summary.backend = loader.backend_name();
    bar.finish_and_clear();
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

/// Compares this run's manifest with every manifest in `out` (and, without
/// any, with records an older version left there). A difference stops the
/// run with an error naming it, unless `overwrite`: then what the earlier
/// run wrote is removed (its records, its manifest, its outputs that no
/// shard of this run writes again) and the run starts over. With
/// `overwrite` this shard's own records are removed in any case.
///
/// The scope of `overwrite` is this shard: the manifests and records of the
/// other ranks of the same layout (same world size) are theirs to settle,
/// as they may be running now; they are left alone. Those of another layout
/// (another world size), and records with no manifest, belong to no rank of
/// this run and go.
fn settle_earlier_runs(out: &Path, mine: &Path, new: &Manifest, overwrite: bool) -> Result<()> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| Error::Io {
            path: p.clone(),
            source: e,
        }
    };
    let entries: Vec<PathBuf> = std::fs::read_dir(out)
        .map_err(io(out))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let manifests: Vec<&PathBuf> = entries
        .iter()
        .filter(|p| {
            let n = name_of(p);
            n.starts_with("manifest") && n.ends_with(".json")
        })
        .collect();
    let records: Vec<&PathBuf> = entries
        .iter()
        .filter(|p| {
            let n = name_of(p);
            (n.starts_with("params") || n.starts_with("labels")) && n.ends_with(".jsonl")
        })
        .collect();
    // The shard suffix of a manifest (`manifest.1-of-2.json`: `.1-of-2`)
    // or record (`params.1-of-2.jsonl`) file name.
    let suffix_of = |p: &Path| -> String {
        let n = name_of(p);
        let n = n
            .strip_suffix(".jsonl")
            .or(n.strip_suffix(".json"))
            .unwrap_or(&n);
        ["manifest", "params", "labels"]
            .iter()
            .find_map(|k| n.strip_prefix(k))
            .unwrap_or(n)
            .to_string()
    };
    let world_of = |suffix: &str| -> Option<usize> {
        if suffix.is_empty() {
            return Some(1);
        }
        suffix.rsplit_once("-of-")?.1.parse().ok()
    };
    let my_suffix = suffix_of(mine);
    // Another rank of this layout: not this run's to settle.
    let another_rank = |m: &Path| {
        let s = suffix_of(m);
        s != my_suffix && world_of(&s) == Some(new.shard[1])
    };
    // (manifest file, what changed, the earlier manifest when readable)
    let mut conflicts: Vec<(PathBuf, Vec<String>, Option<Manifest>)> = Vec::new();
    for m in &manifests {
        if overwrite && another_rank(m) {
            continue;
        }
        let old = std::fs::read_to_string(m)
            .ok()
            .and_then(|t| serde_json::from_str::<Manifest>(&t).ok());
        match old {
            None => conflicts.push(((*m).clone(), vec!["an unreadable manifest".into()], None)),
            Some(old) => {
                let c = old.changes(new);
                if !c.is_empty() || (overwrite && m.as_path() == mine) {
                    conflicts.push(((*m).clone(), c, Some(old)));
                }
            }
        }
    }
    if manifests.is_empty() && !records.is_empty() {
        conflicts.push((
            out.join("params.jsonl"),
            vec!["records without a manifest (an older gpu-augment, or another tool)".into()],
            None,
        ));
    }
    let real: Vec<&(PathBuf, Vec<String>, Option<Manifest>)> =
        conflicts.iter().filter(|c| !c.1.is_empty()).collect();
    if !overwrite {
        if let Some((path, changes, _)) = real.first() {
            return Err(Error::InvalidArgument(format!(
                "{} was written by a run with other settings ({}: {}); pass --overwrite to start over, or choose another --out",
                out.display(),
                name_of(path),
                changes.join(", ")
            )));
        }
        return Ok(());
    }
    let keep: HashSet<&str> = new
        .inputs
        .iter()
        .flat_map(|i| i.outputs.iter().map(String::as_str))
        .collect();
    let remove = |p: &Path| match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(p)(e)),
    };
    for (path, _, old) in &conflicts {
        if let Some(old) = old {
            for o in old.inputs.iter().flat_map(|i| &i.outputs) {
                if !keep.contains(o.as_str()) {
                    remove(&out.join(o))?;
                }
            }
        }
        if path.exists() && name_of(path).starts_with("manifest") {
            remove(path)?;
        }
    }
    // Starting over: this shard's records, those of the manifests removed
    // above, and records no manifest vouches for are not trusted.
    let settled: HashSet<String> = conflicts.iter().map(|c| suffix_of(&c.0)).collect();
    let vouched: HashSet<String> = manifests.iter().map(|m| suffix_of(m)).collect();
    for r in &records {
        let s = suffix_of(r);
        if s == my_suffix || settled.contains(&s) || !vouched.contains(&s) {
            remove(r)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::output_bases;

    // Issue 13, case 2 (tests/robust.rs runs it through the CLI): names that
    // collide without case or extension each get their own output name.
    #[test]
    fn colliding_names_get_unique_bases() {
        let names = output_bases(&[
            "a.jpg".into(),
            "a.jpg.png".into(),
            "a.png".into(),
            "A.PNG".into(),
            "d/x.png".into(),
        ])
        .unwrap();
        let unique: std::collections::HashSet<String> =
            names.iter().map(|n| n.to_lowercase()).collect();
        assert_eq!(unique.len(), 5, "{names:?}");
        assert_eq!(names[4], "d/x");
    }
}
