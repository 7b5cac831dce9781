//! `gpu-augment` with no arguments: built-in images, the ImageNet pipeline, a
//! labelled contact sheet, and a throughput figure.

use super::synth::synthetic_image;
use super::text::draw_text;
use crate::engine::{Augmenter, Backend};
use crate::error::{Error, Result};
use crate::key::BatchKey;
use crate::ops::Op;
use crate::pipeline::{OutputFormat, Pipeline};
use image::{imageops, Rgb, RgbImage};
use std::path::{Path, PathBuf};

/// The ImageNet training pipeline shipped in examples/pipelines/.
pub const IMAGENET_TRAIN: &str = include_str!("../../examples/pipelines/imagenet_train.toml");

/// What the demo produced.
#[derive(Debug)]
pub struct DemoSummary {
    /// The contact sheet.
    pub contact_sheet: PathBuf,
    /// Backend and adapter.
    pub backend: String,
    /// Images per second of the f32 pipeline over the throughput set.
    pub images_per_sec: f64,
    /// Images in the throughput set.
    pub images: usize,
}

/// The pipeline as a viewable u8 image (normalisation dropped).
fn viewable(p: &Pipeline) -> Pipeline {
    let ops = p
        .ops
        .iter()
        .filter(|o| !matches!(o, Op::Normalize { .. }))
        .cloned()
        .collect();
    Pipeline {
        size: p.size,
        format: OutputFormat::U8Hwc,
        ops,
        views: 1,
        mix: None,
    }
}

const CELL: u32 = 224;
const LABEL: u32 = 20;
const PAD: u32 = 6;

/// Runs the demo, writing `out_dir/contact_sheet.png`.
pub fn run_demo(out_dir: &Path, backend: Backend) -> Result<DemoSummary> {
    let pipeline = Pipeline::from_toml(IMAGENET_TRAIN)?;
    let view_aug = Augmenter::new(viewable(&pipeline), backend)?;
    let sizes = [
        (500, 375),
        (375, 500),
        (320, 320),
        (640, 360),
        (256, 192),
        (300, 420),
    ];
    let sources: Vec<RgbImage> = sizes
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| synthetic_image(i as u64, w, h))
        .collect();
    let views = 5u32;
    let title = 28;
    let sheet_w = PAD + (views + 1) * (CELL + PAD);
    let sheet_h = title + sources.len() as u32 * (CELL + LABEL + PAD) + PAD;
    let mut sheet = RgbImage::from_pixel(sheet_w, sheet_h, Rgb([245, 245, 245]));
    draw_text(
        &mut sheet,
        PAD,
        8,
        &format!("gpu-augment: imagenet_train on {}", view_aug.backend_name()),
        2,
        Rgb([0, 0, 0]),
    );
    // One batch per view: every source is a sample; each view is its own epoch.
    let mut per_view = Vec::new();
    for v in 0..views {
        per_view.push(view_aug.augment(&sources, BatchKey::new(7, v as u64, 0))?);
    }
    for (r, src) in sources.iter().enumerate() {
        let y = title + r as u32 * (CELL + LABEL + PAD);
        let scale = CELL as f32 / src.width().max(src.height()) as f32;
        let thumb = imageops::resize(
            src,
            ((src.width() as f32 * scale).round() as u32).max(1),
            ((src.height() as f32 * scale).round() as u32).max(1),
            imageops::FilterType::Triangle,
        );
        imageops::replace(&mut sheet, &thumb, PAD as i64, y as i64);
        draw_text(
            &mut sheet,
            PAD,
            y + CELL + 6,
            &format!("source {}x{}", src.width(), src.height()),
            1,
            Rgb([0, 0, 0]),
        );
        for (v, batch) in per_view.iter().enumerate() {
            let px = batch.sample_u8(r).unwrap_or_default().to_vec();
            let size = view_aug.pipeline().size;
            let img = RgbImage::from_raw(size.width, size.height, px)
                .ok_or_else(|| Error::InvalidArgument("view has the wrong size".into()))?;
            let x = PAD + (v as u32 + 1) * (CELL + PAD);
            imageops::replace(&mut sheet, &img, x as i64, y as i64);
            let rec = &batch.records[r];
            let flip = rec
                .ops
                .iter()
                .any(|d| matches!(d, crate::ops::Drawn::HorizontalFlip { applied: true }));
            draw_text(
                &mut sheet,
                x,
                y + CELL + 6,
                &format!("epoch {v}{}", if flip { " flip" } else { "" }),
                1,
                Rgb([0, 0, 0]),
            );
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|e| Error::Io {
        path: out_dir.to_path_buf(),
        source: e,
    })?;
    let path = out_dir.join("contact_sheet.png");
    sheet.save(&path).map_err(|e| Error::Io {
        path: path.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;

    // Throughput of the real (f32, normalised) pipeline.
    let aug = Augmenter::new(pipeline, backend)?;
    let set: Vec<RgbImage> = (0..256)
        .map(|i| synthetic_image(100 + i, 500, 375))
        .collect();
    let result = super::bench::bench(&aug, &set, 64, 3)?;
    Ok(DemoSummary {
        contact_sheet: path,
        backend: aug.backend_name(),
        images_per_sec: result.images_per_sec,
        images: set.len(),
    })
}
