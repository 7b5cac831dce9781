//! `gpu-augment run`: augment every image under a folder.

use super::files::{decode_all, find_images, write_npy, write_png};
use crate::engine::{Augmenter, Tensor};
use crate::error::{Error, Result};
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

/// Augments every image under `input` into `out` (same relative names; .png
/// for u8 output, .npy for f32), writing `params.jsonl`. Sample indices are the
/// files' positions in sorted order, so results do not depend on batch size or
/// on which other files failed.
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
    std::fs::create_dir_all(out).map_err(io(out))?;
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
        let batch = aug.augment_indexed(&images, seed, epoch, &indices)?;
        let outs: Vec<(usize, PathBuf)> = kept
            .iter()
            .enumerate()
            .map(|(j, &i)| {
                let ext = match batch.data {
                    Tensor::U8(_) => "png",
                    Tensor::F32(_) => "npy",
                };
                (j, out.join(&chunk[i].1).with_extension(ext))
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
                    let rel = chunk[kept[*j]].1.to_string_lossy().replace('\\', "/");
                    let line = Line {
                        file: rel,
                        record: &batch.records[*j],
                    };
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
    bar.finish_and_clear();
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}
