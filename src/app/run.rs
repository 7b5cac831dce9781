//! `gpu-augment run`: augment every image under a folder.

use super::files::{decode_all, find_images, write_npy, write_png};
use crate::engine::{Augmenter, Tensor};
use crate::error::{Error, Result};
use crate::mix::Labels;
use crate::pipeline::SampleRecord;
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
    /// Seconds, all included.
    pub seconds: f64,
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

/// Class labels from an ImageFolder layout (`DIR/class_name/image.png`):
/// sorted class names and each file's class index. `None` when some file is
/// not inside a class folder.
pub fn folder_classes(files: &[(PathBuf, PathBuf)]) -> Option<(Vec<String>, Vec<u32>)> {
    let class_of = |rel: &Path| -> Option<String> {
        let mut parts = rel.components();
        let first = parts.next()?;
        parts.next()?;
        Some(first.as_os_str().to_string_lossy().into_owned())
    };
    let names: Vec<String> = files
        .iter()
        .map(|(_, rel)| class_of(rel))
        .collect::<Option<_>>()?;
    let mut classes = names.clone();
    classes.sort();
    classes.dedup();
    let ids = names
        .iter()
        .map(|n| classes.binary_search(n).map(|i| i as u32).ok())
        .collect::<Option<_>>()?;
    Some((classes, ids))
}

/// The output file of source `rel`, view `view` of `views`.
fn output_name(rel: &Path, view: u32, views: u32, ext: &str) -> PathBuf {
    if views <= 1 {
        return rel.with_extension(ext);
    }
    let stem = rel
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    rel.with_file_name(format!("{stem}_v{view}.{ext}"))
}

/// Augments every image under `input` into `out` (same relative names; .png
/// for u8 output, .npy for f32; with `views = k`, `NAME_v0.png` ...
/// `NAME_v{k-1}.png`), writing `params.jsonl`. Sample indices are the files'
/// positions in sorted order, so per-sample results do not depend on batch
/// size or on which other files failed; mixing pairs samples within a batch of
/// `batch_size` files.
///
/// When every image sits in a class folder (`DIR/class_name/image.png`, the
/// ImageFolder layout, classes in sorted order), the class is its label:
/// `labels.jsonl` gets each output's soft label and `classes.txt` the class
/// names. A pipeline with a mixing op needs that layout.
pub fn run_folder(
    aug: &Augmenter,
    input: &Path,
    out: &Path,
    seed: u64,
    epoch: u64,
    batch_size: usize,
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
    let views = aug.pipeline().views.max(1);
    let classes = folder_classes(&files);
    let num_classes = match (&aug.pipeline().mix, &classes) {
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
        (Some(m), Some(_)) => m.num_classes,
        (None, Some((names, _))) => names.len(),
        (None, None) => 0,
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut label_out = match &classes {
        Some((names, _)) => {
            let names_path = out.join("classes.txt");
            std::fs::write(&names_path, names.join("\n") + "\n").map_err(io(&names_path))?;
            let path = out.join("labels.jsonl");
            let f = std::fs::File::create(&path).map_err(io(&path))?;
            Some((path, std::io::BufWriter::new(f)))
        }
        None => None,
    };
    let params_path = out.join("params.jsonl");
    let mut params =
        std::io::BufWriter::new(std::fs::File::create(&params_path).map_err(io(&params_path))?);
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(files.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let mut summary = RunSummary::default();
    let size = aug.pipeline().size;
    for (chunk_no, chunk) in files.chunks(batch_size.max(1)).enumerate() {
        let base = chunk_no * batch_size.max(1);
        let paths: Vec<PathBuf> = chunk.iter().map(|(p, _)| p.clone()).collect();
        let mut images = Vec::new();
        let mut kept = Vec::new();
        for (i, r) in decode_all(&paths).into_iter().enumerate() {
            match r {
                Ok(img) => {
                    images.push(img);
                    kept.push(i);
                }
                Err(e) => {
                    let reason = match e {
                        Error::Decode { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    bar.suspend(|| eprintln!("error: {}: {reason}", paths[i].display()));
                    summary.failed.push((paths[i].clone(), reason));
                }
            }
        }
        bar.inc((chunk.len() - kept.len()) as u64);
        if images.is_empty() {
            continue;
        }
        let indices: Vec<u64> = kept.iter().map(|&i| (base + i) as u64).collect();
        let class_ids: Option<Vec<u32>> = classes
            .as_ref()
            .map(|(_, ids)| kept.iter().map(|&i| ids[base + i]).collect());
        let labels = class_ids.as_ref().map(|c| Labels::Classes {
            classes: c,
            num_classes,
        });
        let batch = aug.augment_indexed_labeled(&images, labels.as_ref(), seed, epoch, &indices)?;
        let ext = match batch.data {
            Tensor::U8(_) => "png",
            Tensor::F32(_) => "npy",
        };
        // Output sample j of the batch is view j % views of kept source j / views.
        let outs: Vec<(usize, PathBuf)> = (0..kept.len() * views as usize)
            .map(|j| {
                let rel = &chunk[kept[j / views as usize]].1;
                (
                    j,
                    out.join(output_name(rel, (j % views as usize) as u32, views, ext)),
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
                    let rel = chunk[kept[*j / views as usize]]
                        .1
                        .to_string_lossy()
                        .replace('\\', "/");
                    let record = &batch.records[*j];
                    if let (Some((path, w)), Some(l)) = (&mut label_out, &batch.labels) {
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
                    let line = Line { file: rel, record };
                    let text = serde_json::to_string(&line)
                        .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                    writeln!(params, "{text}").map_err(io(&params_path))?;
                    summary.written += 1;
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("error: {}: {e}", path.display()));
                    summary.failed.push((path.clone(), e.to_string()));
                }
            }
        }
        bar.inc(kept.len() as u64);
    }
    params.flush().map_err(io(&params_path))?;
    if let Some((path, w)) = &mut label_out {
        w.flush().map_err(io(path))?;
    }
    bar.finish_and_clear();
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}
