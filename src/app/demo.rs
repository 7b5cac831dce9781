//! `gpu-augment` with no arguments: built-in images, the ImageNet pipeline, a
//! labelled contact sheet, and a throughput figure.

use super::text::draw_text;
use gpu_augment::ops::Op;
use gpu_augment::{
    synthetic_image, Augmenter, Backend, BatchKey, Error, OutputFormat, Pipeline, Request, Result,
};
use image::{imageops, Rgb, RgbImage};
use std::path::{Path, PathBuf};

/// The ImageNet training pipeline shipped in examples/pipelines/.
pub const IMAGENET_TRAIN: &str = include_str!("../../examples/pipelines/imagenet_train.toml");
/// The RandAugment pipeline shipped in examples/pipelines/.
pub const RANDAUGMENT: &str = include_str!("../../examples/pipelines/randaugment.toml");
/// The self-supervised random-field pipeline shipped in examples/pipelines/.
pub const RANDOM_FIELD_SSL: &str = include_str!("../../examples/pipelines/random_field_ssl.toml");

/// What the demo produced.
#[derive(Debug)]
pub struct DemoSummary {
    /// The contact sheet.
    pub contact_sheet: PathBuf,
    /// Random fields of increasing strength on one image.
    pub field_strip: PathBuf,
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
        schedules: Default::default(),
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
    // One row per source, then rows of random-field and RandAugment views of source 0.
    let sheet_h = title + (sources.len() as u32 + 2) * (CELL + LABEL + PAD) + PAD;
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
        per_view.push(view_aug.augment(Request::new(&sources).key(BatchKey::new(7, v as u64, 0)))?);
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
                .any(|d| matches!(d, gpu_augment::ops::Drawn::HorizontalFlip { applied: true }));
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
    // The random-field row: views of source 0 through random_field_ssl.
    let field_aug = Augmenter::new(viewable(&Pipeline::from_toml(RANDOM_FIELD_SSL)?), backend)?;
    let y = title + sources.len() as u32 * (CELL + LABEL + PAD);
    draw_text(
        &mut sheet,
        PAD,
        y + 6,
        "random_field_ssl",
        1,
        Rgb([0, 0, 0]),
    );
    draw_text(
        &mut sheet,
        PAD,
        y + 20,
        "(same source as",
        1,
        Rgb([0, 0, 0]),
    );
    draw_text(
        &mut sheet,
        PAD,
        y + 32,
        " the first row)",
        1,
        Rgb([0, 0, 0]),
    );
    let first = std::slice::from_ref(&sources[0]);
    for v in 0..views {
        let batch = field_aug.augment(Request::new(first).key(BatchKey::new(11, v as u64, 0)))?;
        let x = PAD + (v + 1) * (CELL + PAD);
        imageops::replace(
            &mut sheet,
            &cell(&batch, 0, field_aug.pipeline())?,
            x as i64,
            y as i64,
        );
        let l = batch.records[0].ops.iter().find_map(|d| match d {
            gpu_augment::ops::Drawn::RandomField {
                applied: true, l, ..
            } => Some(*l),
            _ => None,
        });
        let label = match l {
            Some(l) => format!("epoch {v} l={l:.0}"),
            None => format!("epoch {v}"),
        };
        draw_text(&mut sheet, x, y + CELL + 6, &label, 1, Rgb([0, 0, 0]));
    }
    // The RandAugment row: each view names the ops it drew.
    let ra_aug = Augmenter::new(Pipeline::from_toml(RANDAUGMENT)?, backend)?;
    let y = y + CELL + LABEL + PAD;
    draw_text(&mut sheet, PAD, y + 6, "randaugment", 1, Rgb([0, 0, 0]));
    draw_text(
        &mut sheet,
        PAD,
        y + 20,
        "(2 ops, magnitude 9)",
        1,
        Rgb([0, 0, 0]),
    );
    for v in 0..views {
        let batch = ra_aug.augment(Request::new(first).key(BatchKey::new(13, v as u64, 0)))?;
        let x = PAD + (v + 1) * (CELL + PAD);
        imageops::replace(
            &mut sheet,
            &cell(&batch, 0, ra_aug.pipeline())?,
            x as i64,
            y as i64,
        );
        let names: Vec<String> = batch.records[0]
            .ops
            .iter()
            .filter_map(|d| match d {
                gpu_augment::ops::Drawn::Policy { steps } => Some(steps),
                _ => None,
            })
            .flatten()
            .map(|s| {
                if s.magnitude == 0.0 {
                    format!("{:?}", s.op)
                } else {
                    format!("{:?} {:.2}", s.op, s.magnitude)
                }
            })
            .collect();
        draw_text(
            &mut sheet,
            x,
            y + CELL + 6,
            &names.join(", "),
            1,
            Rgb([0, 0, 0]),
        );
    }
    let save = |img: &RgbImage, name: &str| -> Result<PathBuf> {
        let path = out_dir.join(name);
        img.save(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(path)
    };
    std::fs::create_dir_all(out_dir).map_err(|e| Error::Io {
        path: out_dir.to_path_buf(),
        source: e,
    })?;
    let path = save(&sheet, "contact_sheet.png")?;
    let field_strip = save(
        &field_strength_strip(&sources[2], backend)?,
        "random_fields.png",
    )?;

    // Throughput of the real (f32, normalised) pipeline.
    let aug = Augmenter::new(pipeline, backend)?;
    let set: Vec<RgbImage> = (0..256)
        .map(|i| synthetic_image(100 + i, 500, 375))
        .collect();
    let result = super::bench::bench(&aug, &set, 64, 3)?;
    Ok(DemoSummary {
        contact_sheet: path,
        field_strip,
        backend: aug.backend_name(),
        images_per_sec: result.images_per_sec,
        images: set.len(),
    })
}

/// Sample `i` of a u8 batch as an image.
fn cell(batch: &gpu_augment::Batch, i: usize, p: &Pipeline) -> Result<RgbImage> {
    let px = batch.sample_u8(i).unwrap_or_default().to_vec();
    RgbImage::from_raw(p.size.width, p.size.height, px)
        .ok_or_else(|| Error::InvalidArgument("view has the wrong size".into()))
}

/// One image under the same random fields (one seed, l = 24) at amplitudes
/// 0, 1, 2, 4 and 8 times a mild base: the README's picture.
pub fn field_strength_strip(src: &RgbImage, backend: Backend) -> Result<RgbImage> {
    let gains = [0.0, 1.0, 2.0, 4.0, 8.0];
    let mut strip = RgbImage::from_pixel(
        PAD + gains.len() as u32 * (CELL + PAD),
        CELL + LABEL + PAD,
        Rgb([245, 245, 245]),
    );
    for (i, k) in gains.iter().enumerate() {
        let p = Pipeline::from_toml(&format!(
            "size = {CELL}\n[[ops]]\nop = \"random_field\"\nl = 24\ndx = {}\ndy = {}\nrotation = {}\nlog_scale = {}\nbrightness = {}\nhue = {}",
            1.5 * k,
            1.5 * k,
            2.0 * k,
            0.02 * k,
            0.05 * k,
            0.01 * k
        ))?;
        let aug = Augmenter::new(p, backend)?;
        let drawn = vec![vec![gpu_augment::ops::Drawn::RandomField {
            applied: true,
            l: 24.0,
            seed: 2023,
        }]];
        let batch = aug.augment(Request::new(std::slice::from_ref(src)).params(&drawn))?;
        let x = PAD + i as u32 * (CELL + PAD);
        imageops::replace(
            &mut strip,
            &cell(&batch, 0, aug.pipeline())?,
            x as i64,
            PAD as i64,
        );
        draw_text(
            &mut strip,
            x,
            PAD + CELL + 6,
            &format!("amplitude x{k}"),
            1,
            Rgb([0, 0, 0]),
        );
    }
    Ok(strip)
}
