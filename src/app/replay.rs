//! `gpu-augment run --replay PARAMS.jsonl`: renders again exactly the
//! augmentation a parameter record file holds, for every file it names.
//!
//! Each line of a `params.jsonl` is a record (see `gpu_augment::RECORD_FORMAT`)
//! with the `file` it was made for: the path relative to `--input`, with `/`
//! separators, as `run` writes it. Replay finds each named file under
//! `--input`, renders it with its recorded parameters (and mixing record),
//! and writes the output under the same name as `run` would, with
//! `params.jsonl` (the records rendered, so a replay of a replay is the same)
//! and, for an ImageFolder input, `labels.jsonl` and `classes.txt`. The other
//! settings (size, format, ops, views, mixing op) come from the pipeline file;
//! the records must fit it (one record per view of each file, one entry per
//! op). Files under `--input` that no record names are left alone.
//!
//! Mixing: a sample is mixed with the partner its record names (a position
//! in its batch), so replay re-forms the run's batches from the records: a
//! batch is the shortest run of consecutive files whose records' partners all
//! lie inside it (a run's partners form one cycle through its batch).

use super::files::rel_name;
use super::files::{decode_all, write_sample};
use super::run::{output_bases, output_name, RunSummary};
use anyhow::{bail, Context, Result};
use gpu_augment::loader::{find_images, folder_classes};
use gpu_augment::{
    Augmenter, Backend, Labels, OutputFormat, Pipeline, Request, RgbImage, SampleRecord,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How `replay_folder` runs.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// Where the pixels run.
    pub backend: Backend,
    /// Source files per batch for pipelines without a mixing op (mixing
    /// pipelines replay the recorded batches).
    pub batch_size: usize,
    /// Decoding threads (None: the machine's parallelism).
    pub decode_threads: Option<usize>,
}

/// One record of the file, with where it came from.
struct Entry {
    line: usize,
    file: String,
    /// The run's seed and epoch as the line holds them (written back).
    seed: Option<u64>,
    epoch: Option<u64>,
    record: SampleRecord,
}

#[derive(Deserialize)]
struct FileOf {
    file: String,
    seed: Option<u64>,
    epoch: Option<u64>,
}

#[derive(Serialize)]
struct Line<'a> {
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    epoch: Option<u64>,
    #[serde(flatten)]
    record: &'a SampleRecord,
}

#[derive(Serialize)]
struct LabelLine<'a> {
    file: &'a str,
    index: u64,
    view: u32,
    label: &'a [f32],
}

/// Reads a parameter record file: one record per non-empty line. A line that
/// is not a record is an error naming the file, the line and the field.
fn read_records(path: &Path) -> Result<Vec<Entry>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{} line {}", path.display(), i + 1);
        let record = SampleRecord::from_json(line).with_context(at)?;
        let of = match serde_json::from_str::<FileOf>(line) {
            Ok(f) => f,
            Err(e) => bail!(
                "{}: record field `file`: {e} (a params.jsonl line names the file it was made for)",
                at()
            ),
        };
        entries.push(Entry {
            line: i + 1,
            file: of.file,
            seed: of.seed,
            epoch: of.epoch,
            record,
        });
    }
    if entries.is_empty() {
        bail!("{} holds no records", path.display());
    }
    Ok(entries)
}

/// A source file and its records, one per view, in view order.
struct Source {
    file: String,
    path: PathBuf,
    class: Option<u32>,
    entries: Vec<Entry>,
}

/// Groups the records by file (in the order files first appear), checks one
/// record per view, and finds each file under the input folder.
fn sources(
    entries: Vec<Entry>,
    views: u32,
    found: &HashMap<String, (PathBuf, Option<u32>)>,
    input: &Path,
    params: &Path,
) -> Result<Vec<Source>> {
    let mut order: Vec<Source> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for e in entries {
        let i = match at.get(&e.file) {
            Some(&i) => i,
            None => {
                let Some((path, class)) = found.get(&e.file) else {
                    bail!(
                        "{} line {}: file `{}` is not under {}",
                        params.display(),
                        e.line,
                        e.file,
                        input.display()
                    );
                };
                at.insert(e.file.clone(), order.len());
                order.push(Source {
                    file: e.file.clone(),
                    path: path.clone(),
                    class: *class,
                    entries: Vec::new(),
                });
                order.len() - 1
            }
        };
        let s = &mut order[i];
        if e.record.view >= views {
            bail!(
                "{} line {}: view {} of `{}`, but the pipeline has {views} view(s)",
                params.display(),
                e.line,
                e.record.view,
                e.file
            );
        }
        if let Some(d) = s.entries.iter().find(|d| d.record.view == e.record.view) {
            bail!(
                "{} lines {} and {}: two records of `{}` view {}",
                params.display(),
                d.line,
                e.line,
                e.file,
                e.record.view
            );
        }
        s.entries.push(e);
    }
    for s in &mut order {
        if s.entries.len() != views as usize {
            bail!(
                "{} line {}: `{}` has {} record(s) but the pipeline has {views} view(s)",
                params.display(),
                s.entries[0].line,
                s.file,
                s.entries.len()
            );
        }
        s.entries.sort_by_key(|e| e.record.view);
    }
    Ok(order)
}

/// Cuts the sources into batches: `batch_size` at a time without mixing;
/// with mixing, the recorded batches (the shortest runs of sources whose
/// partners lie inside them).
fn batches(
    sources: &[Source],
    mixing: bool,
    batch_size: usize,
    views: usize,
    params: &Path,
) -> Result<Vec<std::ops::Range<usize>>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < sources.len() {
        let end = if !mixing {
            (start + batch_size.max(1)).min(sources.len())
        } else {
            let mut need = 1;
            let mut end = start;
            while (end - start) * views < need {
                let Some(s) = sources.get(end) else {
                    let e = &sources[start].entries[0];
                    bail!(
                        "{} line {}: its batch (from `{}` on) has mix partners up to position {} but only {} record(s) follow",
                        params.display(),
                        e.line,
                        sources[start].file,
                        need - 1,
                        (end - start) * views
                    );
                };
                for e in &s.entries {
                    let Some(m) = &e.record.mix else {
                        bail!(
                            "{} line {}: no `mix` record, but the pipeline mixes",
                            params.display(),
                            e.line
                        );
                    };
                    need = need.max(m.partner + 1);
                }
                end += 1;
            }
            end
        };
        out.push(start..end);
        start = end;
    }
    Ok(out)
}

/// Renders every file `params` names from its records into `out` (see the
/// module docs).
pub fn replay_folder(
    pipeline: Pipeline,
    input: &Path,
    out: &Path,
    params: &Path,
    opts: &ReplayOptions,
) -> Result<RunSummary> {
    let start = std::time::Instant::now();
    let entries = read_records(params)?;
    let files = find_images(input)?;
    let views = pipeline.views.max(1);
    let classes = folder_classes(&files);
    // Output names as `run` gives them (unique per input, see output_bases).
    let rels: Vec<String> = files.iter().map(|(_, r)| rel_name(r)).collect();
    let base_of: HashMap<String, String> = rels.iter().cloned().zip(output_bases(&rels)?).collect();
    if let (Some(m), None) = (&pipeline.mix, &classes) {
        bail!(
            "op `{}` mixes labels, but {} is not in the ImageFolder layout (every image in DIR/class_name/)",
            m.name(),
            input.display()
        );
    }
    let found: HashMap<String, (PathBuf, Option<u32>)> = files
        .iter()
        .enumerate()
        .zip(&rels)
        .map(|((i, (path, _)), rel)| {
            let class = classes.as_ref().map(|(_, ids)| ids[i]);
            (rel.clone(), (path.clone(), class))
        })
        .collect();
    let sources = sources(entries, views, &found, input, params)?;
    let groups = batches(
        &sources,
        pipeline.mix.is_some(),
        opts.batch_size,
        views as usize,
        params,
    )?;
    let num_classes = classes
        .as_ref()
        .map(|(names, _)| pipeline.mix.as_ref().map_or(names.len(), |m| m.num_classes));
    if let (Some(m), Some((names, _))) = (&pipeline.mix, &classes) {
        if names.len() > m.num_classes {
            bail!(
                "{} class folders in {} but op `{}` has num_classes = {}",
                names.len(),
                input.display(),
                m.name(),
                m.num_classes
            );
        }
    }
    let ext = match pipeline.format {
        OutputFormat::U8Hwc => "png",
        OutputFormat::F32Chw | OutputFormat::U8Chw | OutputFormat::F16Chw => "npy",
    };
    let mixing = pipeline.mix.is_some();
    let output_classes = classes
        .as_ref()
        .map(|(names, _)| pipeline.output_classes(names));
    let aug = Augmenter::new(pipeline, opts.backend)?;
    let mut summary = RunSummary {
        backend: aug.backend_name(),
        ..RunSummary::default()
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let create = |name: &str| -> Result<(PathBuf, std::io::BufWriter<std::fs::File>)> {
        let path = out.join(name);
        let f =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok((path, std::io::BufWriter::new(f)))
    };
    let (params_path, mut params_out) = create("params.jsonl")?;
    let mut labels_out = match &output_classes {
        Some(names) => {
            let path = out.join("classes.txt");
            std::fs::write(&path, names.join("\n") + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            Some(create("labels.jsonl")?)
        }
        None => None,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.decode_threads.unwrap_or(0))
        .build()
        .context("building the decode thread pool")?;
    for range in groups {
        let group = &sources[range];
        let paths: Vec<PathBuf> = group.iter().map(|s| s.path.clone()).collect();
        let decoded = pool.install(|| decode_all(&paths));
        // A file that does not decode is reported; without mixing the rest of
        // its batch still renders, with mixing (partners) none of it can.
        let mut keep: Vec<&Source> = Vec::new();
        let mut images: Vec<RgbImage> = Vec::new();
        let mut bad = None;
        for (s, d) in group.iter().zip(decoded) {
            match d {
                Ok(img) => {
                    keep.push(s);
                    images.push(img);
                }
                Err(e) => {
                    summary.failed.push((s.path.clone(), e.to_string()));
                    bad = Some(s.file.clone());
                }
            }
        }
        if let (true, Some(bad)) = (mixing, &bad) {
            for s in keep {
                summary.failed.push((
                    s.path.clone(),
                    format!("its mixing partner batch holds `{bad}`, which failed to decode"),
                ));
            }
            continue;
        }
        if keep.is_empty() {
            continue;
        }
        let records: Vec<SampleRecord> = keep
            .iter()
            .flat_map(|s| s.entries.iter().map(|e| e.record.clone()))
            .collect();
        let ids: Vec<u32> = keep.iter().filter_map(|s| s.class).collect();
        let mut request = Request::new(&images).replay(&records);
        if let (Some(nc), true) = (num_classes, ids.len() == keep.len()) {
            request = request.labels(Labels::Classes {
                classes: &ids,
                num_classes: nc,
            });
        }
        let first = &keep[0].entries[0];
        let batch = aug.augment(request).with_context(|| {
            format!(
                "{} line {}: replaying the batch from `{}` on",
                params.display(),
                first.line,
                keep[0].file
            )
        })?;
        for (j, record) in batch.records.iter().enumerate() {
            let s = keep[j / views as usize];
            let path = out.join(output_name(&base_of[&s.file], record.view, views, ext));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            let written = write_sample(&path, &batch, j);
            if let Err(e) = written {
                summary.failed.push((path, e.to_string()));
                continue;
            }
            let entry = s.entries.get(record.view as usize);
            let line = Line {
                file: &s.file,
                seed: entry.and_then(|e| e.seed),
                epoch: entry.and_then(|e| e.epoch),
                record,
            };
            writeln!(params_out, "{}", serde_json::to_string(&line)?)
                .with_context(|| format!("writing {}", params_path.display()))?;
            if let (Some((path, w)), Some(l)) = (&mut labels_out, &batch.labels) {
                let line = LabelLine {
                    file: &s.file,
                    index: record.index,
                    view: record.view,
                    label: l.row(j).unwrap_or_default(),
                };
                writeln!(w, "{}", serde_json::to_string(&line)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            summary.written += 1;
        }
    }
    params_out
        .flush()
        .with_context(|| format!("writing {}", params_path.display()))?;
    if let Some((path, w)) = &mut labels_out {
        w.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}
