//! `gpu-augment run`: augment every image under a folder.

use super::files::{write_npy, write_png};
use gpu_augment::loader::{find_images, folder_classes, ShardTail};
use gpu_augment::{
    Backend, Dataset, Error, Loader, LoaderOptions, OutputFormat, Pipeline, Result, SampleRecord,
    Tensor,
};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
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
}

#[derive(Serialize)]
struct Line<'a> {
    file: String,
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

/// The (file, view) pairs a record file of an earlier run holds. A line that
/// does not parse (a run stopped mid-line) is dropped: the file is rewritten
/// with the complete lines only, so new records start on a line of their own
/// and the file stays valid JSON lines.
fn recorded(path: &Path) -> Result<std::collections::HashSet<(String, u32)>> {
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
    let mut done = std::collections::HashSet::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(file) = v.get("file").and_then(|f| f.as_str()) {
            let view = v.get("view").and_then(|x| x.as_u64()).unwrap_or(0) as u32;
            done.insert((file.to_string(), view));
        }
        keep.push_str(line);
        keep.push('\n');
    }
    if keep != text {
        std::fs::write(path, &keep).map_err(io)?;
    }
    Ok(done)
}

/// The output file of source `rel`, view `view` of `views`.
pub(super) fn output_name(rel: &Path, view: u32, views: u32, ext: &str) -> PathBuf {
    if views <= 1 {
        return rel.with_extension(ext);
    }
    let stem = rel
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    rel.with_file_name(format!("{stem}_v{view}.{ext}"))
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
    /// Source images per batch (mixing pairs samples within a batch).
    pub batch_size: usize,
    /// (rank, world size): this process writes the files of shard `rank` of
    /// `world`: files `rank, rank + world, ...` in sorted order (the loader's
    /// sharding with `ShardTail::Uneven`: every file in exactly one shard).
    pub shard: (usize, usize),
    /// GPU devices to spread the batches over.
    pub devices: usize,
    /// Decoding threads (None: the machine's parallelism).
    pub decode_threads: Option<usize>,
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
        }
    }
}

/// Augments every image under `input` into `out` through the streaming
/// [`Loader`] (same relative names; .png for u8 output, .npy for f32; with
/// `views = k`, `NAME_v0.png` ... `NAME_v{k-1}.png`), appending each output's
/// parameters to `params.jsonl`. Sample indices are the files' positions in
/// sorted order, so per-sample results do not depend on batch size, shard or
/// on which other files failed; mixing pairs samples within a batch of
/// `batch_size` files.
///
/// Resuming: a batch whose outputs all exist already and are all in the
/// record files is neither decoded nor written again, so re-running a
/// stopped run finishes it, records included, each record once (delete
/// `out` to start over). With a shard `(i, n)` other than `(0, 1)` the record files
/// are `params.{i}-of-{n}.jsonl` and `labels.{i}-of-{n}.jsonl`, so shards
/// can share `out`.
///
/// When every image sits in a class folder (`DIR/class_name/image.png`, the
/// ImageFolder layout, classes in sorted order), the class is its label:
/// `labels.jsonl` gets each output's soft label and `classes.txt` the class
/// names. A pipeline with a mixing op needs that layout.
pub fn run_folder(
    pipeline: Pipeline,
    input: &Path,
    out: &Path,
    opts: &RunOptions,
    on_start: impl FnOnce(&Loader),
) -> Result<RunSummary> {
    let start = std::time::Instant::now();
    let files = find_images(input)?;
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| Error::Io {
            path: p.clone(),
            source: e,
        }
    };
    let views = pipeline.views.max(1);
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
        (Some(m), Some((names, _))) if names.len() > m.num_classes => {
            return Err(Error::InvalidArgument(format!(
                "{} class folders in {} but op `{}` has num_classes = {}",
                names.len(),
                input.display(),
                m.name(),
                m.num_classes
            )))
        }
        (_, Some((names, ids))) => Dataset::from_labeled(
            paths.into_iter().zip(ids.iter().copied()).collect(),
            names.len(),
        )?,
        (None, None) => Dataset::from_paths(paths),
    };
    let (rank, world) = opts.shard;
    let mut lopts = LoaderOptions {
        batch_size: opts.batch_size.max(1),
        backend: opts.backend,
        seed: opts.seed,
        rank,
        world_size: world,
        // Every file in exactly one shard.
        shard_tail: ShardTail::Uneven,
        devices: opts.devices.max(1),
        ..LoaderOptions::default()
    };
    if let Some(t) = opts.decode_threads {
        lopts.decode_threads = t.max(1);
    }
    let loader = Loader::new(dataset, pipeline, lopts)?;
    on_start(&loader);
    let ext = match loader.pipeline().format {
        OutputFormat::U8Hwc => "png",
        OutputFormat::F32Chw => "npy",
    };
    let output_of =
        |item: usize, view: u32| out.join(output_name(&files[item].1, view, views, ext));
    std::fs::create_dir_all(out).map_err(io(out))?;
    let suffix = if world > 1 {
        format!(".{rank}-of-{world}")
    } else {
        String::new()
    };
    let append = |path: &Path| -> Result<std::io::BufWriter<std::fs::File>> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        Ok(std::io::BufWriter::new(f))
    };
    let mut label_out = match &classes {
        Some((names, _)) => {
            let names_path = out.join("classes.txt");
            std::fs::write(&names_path, names.join("\n") + "\n").map_err(io(&names_path))?;
            let path = out.join(format!("labels{suffix}.jsonl"));
            let done = recorded(&path)?;
            let w = append(&path)?;
            Some((path, w, done))
        }
        None => None,
    };
    let params_path = out.join(format!("params{suffix}.jsonl"));
    // Outputs a previous run recorded: a batch counts as done only when its
    // outputs exist and are recorded, and no record is written twice.
    let params_done = recorded(&params_path)?;
    let mut params = append(&params_path)?;
    let rel_of = |item: usize| files[item].1.to_string_lossy().replace('\\', "/");
    let is_recorded = |item: usize, view: u32| {
        let key = (rel_of(item), view);
        params_done.contains(&key)
            && label_out
                .as_ref()
                .is_none_or(|(_, _, done)| done.contains(&key))
    };
    let total: usize = loader.plan(opts.epoch).iter().map(Vec::len).sum::<usize>() * views as usize;
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
    let mut summary = RunSummary::default();
    let epoch = loader.epoch_where(opts.epoch, |_, items| {
        let missing = items
            .iter()
            .any(|&i| (0..views).any(|v| !output_of(i, v).exists() || !is_recorded(i, v)));
        if !missing {
            summary.existing += items.len() * views as usize;
        }
        missing
    })?;
    bar.inc(summary.existing as u64);
    let size = loader.pipeline().size;
    for lb in epoch {
        let lb = lb?;
        for (p, reason) in &lb.skipped {
            bar.suspend(|| eprintln!("error: {}: {reason}", p.display()));
        }
        bar.inc((lb.skipped.len() * views as usize) as u64);
        let batch = &lb.batch;
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
                match &batch.data {
                    Tensor::U8(_) => write_png(
                        path,
                        size.width,
                        size.height,
                        batch.sample_u8(*j).unwrap_or_default(),
                    ),
                    Tensor::F32(_) => write_npy(
                        path,
                        &[3, size.height as u64, size.width as u64],
                        batch.sample_f32(*j).unwrap_or_default(),
                    ),
                }
            })
            .collect();
        for ((j, path), r) in outs.iter().zip(results) {
            match r {
                Ok(()) => {
                    let rel = files[lb.items[*j / views as usize]]
                        .1
                        .to_string_lossy()
                        .replace('\\', "/");
                    let record = &batch.records[*j];
                    let key = (rel.clone(), record.view);
                    if let (Some((path, w, done)), Some(l)) = (&mut label_out, &batch.labels) {
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
                        }
                    }
                    if !params_done.contains(&key) {
                        let line = Line { file: rel, record };
                        let text = serde_json::to_string(&line)
                            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                        writeln!(params, "{text}").map_err(io(&params_path))?;
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
        if let Some((path, w, _)) = &mut label_out {
            w.flush().map_err(io(path))?;
        }
        bar.inc(outs.len() as u64);
    }
    // Every decode failure, including batches in which every file failed.
    let mut failed = loader.skipped_files();
    failed.append(&mut summary.failed);
    summary.failed = failed;
    summary.backend = loader.backend_name();
    bar.finish_and_clear();
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}
