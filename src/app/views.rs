//! `gpu-augment run` with a `[[views]]` pipeline file: every image through
//! every named view, written as `<stem>_<name>.png` (`<stem>_<name><k>.png`
//! for a view of count > 1; `.npy` for f32 views), each output's record (with
//! its `view_name`) appended to `params.jsonl`; and `run --replay` of such a
//! run.
//!
//! The run streams the folder in batches of `--batch-size` files: decode (in
//! parallel), one [`ViewAugmenter`] call (one batch per view), write (in
//! parallel). Sample indices are the files' positions in sorted order, so
//! outputs do not depend on batch size or shard; records are written image
//! by image (every view of a file, in file order), so `params.jsonl` does
//! not depend on the batch size either. A file's outputs are its item: a
//! rerun skips a batch only when every output of every file in it exists and
//! is recorded with this run's seed and epoch; `manifest.json` (per shard:
//! `manifest.I-of-N.json`) holds the settings, and a rerun with other
//! settings or inputs is refused unless `--overwrite`. Shard `I` of `N`
//! takes the files at positions `I, I + N, ...`.

use super::files::{rel_name, write_sample, write_text};
use super::run::{output_bases, RunOptions, RunSummary};
use gpu_augment::loader::scan_images;
use gpu_augment::{
    load_image_with, Error, OutputFormat, Request, Result, RgbImage, SampleRecord, ViewAugmenter,
    ViewBatch, Views,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Serialize)]
struct Line<'a> {
    file: &'a str,
    seed: u64,
    epoch: u64,
    #[serde(flatten)]
    record: &'a SampleRecord,
}

/// The settings of a views run (`manifest.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Manifest {
    engine: String,
    /// FNV-1a (hex) of the parsed views.
    pipeline: String,
    seed: u64,
    epoch: u64,
    shard: [usize; 2],
    exif_orientation: bool,
    /// (relative input, its outputs), in order.
    inputs: Vec<(String, Vec<String>)>,
}

fn fnv1a(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn ext(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::U8Hwc => "png",
        OutputFormat::F32Chw | OutputFormat::U8Chw | OutputFormat::F16Chw => "npy",
    }
}

/// Every output name of the file with output base `base`, view by view,
/// copy by copy (the order of a [`ViewAugmenter`] call's outputs per image).
pub fn view_output_names(views: &Views, base: &str) -> Vec<String> {
    views
        .views()
        .iter()
        .flat_map(|v| (0..v.count()).map(move |k| v.output_name(base, k, ext(v.pipeline.format))))
        .collect()
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Writes output `o` of a view batch to `path` (temporary name, then rename).
fn write_output(vb: &ViewBatch, o: usize, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    write_sample(path, &vb.batch, o)
}

/// For each image of a call, its outputs as (view batch, output position,
/// output name index), view by view and copy by copy.
fn outputs_of_image(batches: &[ViewBatch], i: usize) -> Vec<(usize, usize, usize)> {
    let mut v = Vec::new();
    let mut name = 0;
    for (g, vb) in batches.iter().enumerate() {
        let c = vb.count as usize;
        for k in 0..c {
            v.push((g, i * c + k, name));
            name += 1;
        }
    }
    v
}

/// `run` of a `[[views]]` file (see the module's doc). Masks, COCO and YOLO
/// targets, labels files and `--devices` are not supported with named views
/// (an error says so).
pub fn run_views_folder(
    views: Views,
    input: &Path,
    out: &Path,
    opts: &RunOptions,
) -> Result<RunSummary> {
    let start = std::time::Instant::now();
    super::run::check_count("--batch-size", opts.batch_size)?;
    if opts.masks.is_some() || opts.annotations.is_some() || opts.yolo.is_some() {
        return Err(Error::InvalidArgument(
            "--masks, --annotations and --yolo are not supported with a [[views]] pipeline yet: run each view as a pipeline of its own".into(),
        ));
    }
    if opts.devices > 1 {
        return Err(Error::InvalidArgument(
            "--devices > 1 is not supported with a [[views]] pipeline yet".into(),
        ));
    }
    let (rank, world) = opts.shard;
    if world == 0 || rank >= world {
        return Err(Error::InvalidArgument(format!(
            "--shard {rank}/{world}: the rank must be below the count"
        )));
    }
    let (input_abs, out_abs) = (super::run::resolved(input), super::run::resolved(out));
    if input_abs == out_abs {
        return Err(Error::InvalidArgument(format!(
            "--out {} is the input folder {}: the outputs would overwrite the inputs; choose another folder",
            out.display(),
            input.display()
        )));
    }
    let mut summary = RunSummary::default();
    if !input.is_dir() {
        return Err(Error::Decode {
            path: input.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    std::fs::create_dir_all(out).map_err(io_err(out))?;
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
    if files.is_empty() && failed.is_empty() {
        return Err(super::files::no_images(input));
    }
    let rels: Vec<String> = files.iter().map(|(_, r)| rel_name(r)).collect();
    let bases = output_bases(&rels)?;
    let names: Vec<Vec<String>> = bases.iter().map(|b| view_output_names(&views, b)).collect();
    if let Ok(sub) = input_abs.strip_prefix(&out_abs) {
        let inputs: HashSet<PathBuf> = files.iter().map(|(_, r)| sub.join(r)).collect();
        if let Some(o) = names
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
    let mine: Vec<usize> = (rank..files.len()).step_by(world).collect();
    let suffix = if world > 1 {
        format!(".{rank}-of-{world}")
    } else {
        String::new()
    };
    let manifest = Manifest {
        engine: format!("gpu-augment {}", env!("CARGO_PKG_VERSION")),
        pipeline: fnv1a(&format!("{views:?}")),
        seed: opts.seed,
        epoch: opts.epoch,
        shard: [rank, world],
        exif_orientation: opts.exif_orientation,
        inputs: mine
            .iter()
            .map(|&i| (rels[i].clone(), names[i].clone()))
            .collect(),
    };
    let manifest_path = out.join(format!("manifest{suffix}.json"));
    let params_path = out.join(format!("params{suffix}.jsonl"));
    if let Ok(text) = std::fs::read_to_string(&manifest_path) {
        let same = serde_json::from_str::<Manifest>(&text).is_ok_and(|m| m == manifest);
        if !same {
            if !opts.overwrite {
                return Err(Error::InvalidArgument(format!(
                    "{} holds another run's settings or inputs (pipeline, seed, epoch, shard or input files differ): use --overwrite to start over, or another --out",
                    manifest_path.display()
                )));
            }
            let _ = std::fs::remove_file(&params_path);
        }
    } else if opts.overwrite {
        let _ = std::fs::remove_file(&params_path);
    }
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    write_text(&manifest_path, &(text + "\n"))?;
    // Outputs recorded by an earlier run with these settings: (file, view name, copy, index).
    let mut done: HashSet<(String, String, u32, u64)> = HashSet::new();
    if let Ok(text) = std::fs::read_to_string(&params_path) {
        let mut keep = String::new();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let u = |k: &str| v.get(k).and_then(|x| x.as_u64());
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
            if let (Some(f), Some(n), Some(k), Some(i), Some(seed), Some(epoch)) = (
                s("file"),
                s("view_name"),
                u("view"),
                u("index"),
                u("seed"),
                u("epoch"),
            ) {
                if (seed, epoch) == (opts.seed, opts.epoch) {
                    done.insert((f, n, k as u32, i));
                }
            }
            keep.push_str(line);
            keep.push('\n');
        }
        if keep != text {
            write_text(&params_path, &keep)?;
        }
    }
    let aug = ViewAugmenter::new(views.clone(), opts.backend)?;
    summary.backend = aug.backend_name();
    let mut params = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&params_path)
            .map_err(io_err(&params_path))?,
    );
    // (view name, copy) of each output name position.
    let slots: Vec<(String, u32)> = views
        .views()
        .iter()
        .flat_map(|v| (0..v.count()).map(move |k| (v.name.clone(), k)))
        .collect();
    let pool = match opts.decode_threads {
        Some(t) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map_err(|e| Error::InvalidArgument(format!("decode threads: {e}")))?,
        ),
        None => None,
    };
    for chunk in mine.chunks(opts.batch_size) {
        let complete = chunk.iter().all(|&i| {
            names[i].iter().zip(&slots).all(|(n, (v, k))| {
                out.join(n).exists() && done.contains(&(rels[i].clone(), v.clone(), *k, i as u64))
            })
        });
        if complete {
            summary.existing += chunk.len() * slots.len();
            continue;
        }
        let decode = || -> Vec<Result<RgbImage>> {
            chunk
                .par_iter()
                .map(|&i| load_image_with(&files[i].0, opts.exif_orientation))
                .collect()
        };
        let decoded = match &pool {
            Some(p) => p.install(decode),
            None => decode(),
        };
        let mut items = Vec::new();
        let mut images = Vec::new();
        for (&i, d) in chunk.iter().zip(decoded) {
            match d {
                Ok(im) => {
                    items.push(i);
                    images.push(im);
                }
                Err(e) => {
                    eprintln!("error: {}: {e}", files[i].0.display());
                    failed.push((files[i].0.clone(), e.to_string()));
                }
            }
        }
        if images.is_empty() {
            continue;
        }
        let indices: Vec<u64> = items.iter().map(|&i| i as u64).collect();
        let batches = aug.augment(
            Request::new(&images)
                .seed(opts.seed)
                .epoch(opts.epoch)
                .indices(&indices),
        )?;
        for vb in &batches {
            for (o, r) in &vb.batch.cpu_fallback {
                let path = files[items[o / vb.count as usize]].0.clone();
                summary.cpu_fallback.push((path, r.clone()));
            }
        }
        let jobs: Vec<(usize, usize, usize, usize)> = (0..items.len())
            .flat_map(|j| {
                outputs_of_image(&batches, j)
                    .into_iter()
                    .map(move |(g, o, n)| (j, g, o, n))
            })
            .collect();
        let results: Vec<Result<()>> = jobs
            .par_iter()
            .map(|&(j, g, o, n)| write_output(&batches[g], o, &out.join(&names[items[j]][n])))
            .collect();
        for (&(j, g, o, n), r) in jobs.iter().zip(results) {
            let item = items[j];
            match r {
                Ok(()) => {
                    let record = &batches[g].batch.records[o];
                    let key = (
                        rels[item].clone(),
                        slots[n].0.clone(),
                        slots[n].1,
                        item as u64,
                    );
                    if !done.contains(&key) {
                        let line = Line {
                            file: &rels[item],
                            seed: opts.seed,
                            epoch: opts.epoch,
                            record,
                        };
                        let text = serde_json::to_string(&line)
                            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                        writeln!(params, "{text}").map_err(io_err(&params_path))?;
                        done.insert(key);
                    }
                    summary.written += 1;
                }
                Err(e) => {
                    let p = out.join(&names[item][n]);
                    eprintln!("error: {}: {e}", p.display());
                    failed.push((p, e.to_string()));
                }
            }
        }
        params.flush().map_err(io_err(&params_path))?;
        aug.recycle(batches);
    }
    summary.failed = failed;
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

#[derive(Deserialize)]
struct FileOf {
    file: String,
    seed: Option<u64>,
    epoch: Option<u64>,
}

/// What `replay_views_folder` did.
#[derive(Debug, Default)]
pub struct ReplaySummary {
    /// Outputs written.
    pub written: usize,
    /// Seconds.
    pub seconds: f64,
    /// The backend.
    pub backend: String,
}

/// `run --replay` of a `[[views]]` file: renders every file `params` names
/// from its records (one per copy of every view, each with its
/// `view_name`), `batch_size` files at a time, into `out` under the names
/// `run` gives, and writes the records again to `params.jsonl` (the same
/// lines, in the same order, as the run wrote them).
pub fn replay_views_folder(
    views: Views,
    input: &Path,
    out: &Path,
    params: &Path,
    backend: gpu_augment::Backend,
    batch_size: usize,
) -> Result<ReplaySummary> {
    let start = std::time::Instant::now();
    super::run::check_count("--batch-size", batch_size)?;
    let text = std::fs::read_to_string(params).map_err(io_err(params))?;
    // Per file (in first-seen order): its records by (view name, copy), and
    // the seed and epoch its lines hold.
    type Recs = HashMap<(String, u32), SampleRecord>;
    let mut order: Vec<String> = Vec::new();
    let mut by_file: HashMap<String, (Recs, Option<u64>, Option<u64>)> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad =
            |m: String| Error::InvalidArgument(format!("{} line {}: {m}", params.display(), n + 1));
        let f: FileOf = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        let r = SampleRecord::from_json(line).map_err(|e| bad(e.to_string()))?;
        let Some(name) = r.view_name.clone() else {
            return Err(bad(
                "a record without view_name, but the pipeline declares named views".into(),
            ));
        };
        if views.get(&name).is_none() {
            return Err(bad(format!(
                "view_name {name:?} is not a view of the pipeline"
            )));
        }
        let e = by_file.entry(f.file.clone()).or_insert_with(|| {
            order.push(f.file.clone());
            (HashMap::new(), f.seed, f.epoch)
        });
        e.0.insert((name, r.view), r);
    }
    let bases = output_bases(&order)?;
    let aug = ViewAugmenter::new(views.clone(), backend)?;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let params_out = out.join("params.jsonl");
    let mut w =
        std::io::BufWriter::new(std::fs::File::create(&params_out).map_err(io_err(&params_out))?);
    let mut summary = ReplaySummary {
        backend: aug.backend_name(),
        ..Default::default()
    };
    let positions: Vec<usize> = (0..order.len()).collect();
    for chunk in positions.chunks(batch_size) {
        let images: Vec<RgbImage> = chunk
            .par_iter()
            .map(|&i| {
                let p = input.join(&order[i]);
                load_image_with(&p, false)
            })
            .collect::<Result<_>>()?;
        let mut records = Vec::new();
        for v in views.views() {
            for &i in chunk {
                for k in 0..v.count() {
                    let r = by_file[&order[i]]
                        .0
                        .get(&(v.name.clone(), k))
                        .ok_or_else(|| {
                            Error::InvalidArgument(format!(
                                "{}: no record of view {:?} copy {k} for {}",
                                params.display(),
                                v.name,
                                order[i]
                            ))
                        })?;
                    records.push(r.clone());
                }
            }
        }
        let batches = aug.augment(Request::new(&images).replay(&records))?;
        let names: Vec<Vec<String>> = chunk
            .iter()
            .map(|&i| view_output_names(&views, &bases[i]))
            .collect();
        let jobs: Vec<(usize, usize, usize, usize)> = (0..chunk.len())
            .flat_map(|j| {
                outputs_of_image(&batches, j)
                    .into_iter()
                    .map(move |(g, o, n)| (j, g, o, n))
            })
            .collect();
        jobs.par_iter()
            .map(|&(j, g, o, n)| write_output(&batches[g], o, &out.join(&names[j][n])))
            .collect::<Result<()>>()?;
        for &(j, g, o, _) in &jobs {
            let file = &order[chunk[j]];
            let (_, seed, epoch) = &by_file[file];
            let line = Line {
                file,
                seed: seed.unwrap_or(0),
                epoch: epoch.unwrap_or(0),
                record: &batches[g].batch.records[o],
            };
            let text =
                serde_json::to_string(&line).map_err(|e| Error::InvalidArgument(e.to_string()))?;
            writeln!(w, "{text}").map_err(io_err(&params_out))?;
            summary.written += 1;
        }
        aug.recycle(batches);
    }
    w.flush().map_err(io_err(&params_out))?;
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}
