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
    // One row per source, then rows of random-field, RandAugment and
    // targets views of source 0.
    let sheet_h = title + (sources.len() as u32 + 3) * (CELL + LABEL + PAD) + PAD;
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
    // The targets row: a mask, two boxes and five keypoints on source 0,
    // moved with each view's own geometry and drawn over it.
    let y = y + CELL + LABEL + PAD;
    targets_row(&mut sheet, &first[0], y, views, backend)?;
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

/// The geometry of the targets row: boxes, keypoints and masks move with it.
const TARGETS_PIPELINE: &str = "size = 224
[[ops]]
op = \"random_resized_crop\"
scale = [0.35, 1.0]
[[ops]]
op = \"horizontal_flip\"
[[ops]]
op = \"affine\"
degrees = 25
fill = 128
[[ops]]
op = \"color_jitter\"
brightness = 0.3
contrast = 0.3
";

/// Source `src` with an ellipse as mask label 1 (0 elsewhere), the
/// ellipse's box and a box in another corner, and five keypoints (its
/// centre and its four extreme points).
fn demo_targets(src: &RgbImage) -> gpu_augment::Targets {
    let (w, h) = (src.width() as f64, src.height() as f64);
    let (cx, cy, rx, ry) = (w * 0.42, h * 0.45, w * 0.22, h * 0.16);
    let mask = gpu_augment::Mask::u8(
        src.width(),
        src.height(),
        (0..src.height())
            .flat_map(|y| {
                (0..src.width()).map(move |x| {
                    let (dx, dy) = ((x as f64 + 0.5 - cx) / rx, (y as f64 + 0.5 - cy) / ry);
                    u8::from(dx * dx + dy * dy <= 1.0)
                })
            })
            .collect(),
    );
    gpu_augment::Targets {
        masks: vec![mask],
        boxes: Some(gpu_augment::Boxes::new(
            gpu_augment::BoxFormat::Xyxy,
            vec![
                [cx - rx, cy - ry, cx + rx, cy + ry],
                [w * 0.70, h * 0.68, w * 0.92, h * 0.90],
            ],
            vec![1, 2],
        )),
        keypoints: Some(gpu_augment::Keypoints {
            points: vec![
                [cx, cy, 2.0],
                [cx - rx, cy, 2.0],
                [cx + rx, cy, 2.0],
                [cx, cy - ry, 2.0],
                [cx, cy + ry, 2.0],
            ],
        }),
    }
}

/// Draws `t` over `img`: the mask's outline (yellow), the boxes (red) and
/// the visible keypoints (green crosses).
fn draw_targets(img: &mut RgbImage, t: &gpu_augment::SampleTargets) {
    let (w, h) = (img.width(), img.height());
    let put = |img: &mut RgbImage, x: i64, y: i64, c: [u8; 3]| {
        if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
            img.put_pixel(x as u32, y as u32, Rgb(c));
        }
    };
    if let Some(m) = t.masks.first() {
        for y in 0..h.min(m.height) {
            for x in 0..w.min(m.width) {
                let v = m.get(x, y);
                let edge = (x + 1 < m.width && m.get(x + 1, y) != v)
                    || (y + 1 < m.height && m.get(x, y + 1) != v);
                if edge {
                    put(img, x as i64, y as i64, [255, 220, 0]);
                }
            }
        }
    }
    if let Some(b) = &t.boxes {
        for c in &b.coords {
            let [x1, y1, x2, y2] = c.map(|v| v.round() as i64);
            for x in x1..=x2 {
                put(img, x, y1, [230, 30, 30]);
                put(img, x, y2, [230, 30, 30]);
            }
            for y in y1..=y2 {
                put(img, x1, y, [230, 30, 30]);
                put(img, x2, y, [230, 30, 30]);
            }
        }
    }
    if let Some(k) = &t.keypoints {
        for p in k.points.iter().filter(|p| p[2] > 0.0) {
            let (x, y) = (p[0].floor() as i64, p[1].floor() as i64);
            for d in -3..=3 {
                put(img, x + d, y, [20, 200, 60]);
                put(img, x, y + d, [20, 200, 60]);
            }
        }
    }
}

/// The contact sheet's targets row at height `y`: source 0 with its
/// targets, then `views` augmented views with theirs.
fn targets_row(
    sheet: &mut RgbImage,
    src: &RgbImage,
    y: u32,
    views: u32,
    backend: Backend,
) -> Result<()> {
    let aug = Augmenter::new(Pipeline::from_toml(TARGETS_PIPELINE)?, backend)?;
    let targets = vec![demo_targets(src)];
    // The source with its own targets (an identity crop of the same size).
    let ident = Augmenter::new(
        Pipeline::from_toml(&format!(
            "size = [{}, {}]\n[[ops]]\nop = \"center_crop\"\nsize = [{}, {}]",
            src.height(),
            src.width(),
            src.height(),
            src.width()
        ))?,
        Backend::Cpu,
    )?;
    let one = std::slice::from_ref(src);
    let b = ident.augment(Request::new(one).targets(&targets))?;
    let mut shown = cell(&b, 0, ident.pipeline())?;
    if let Some(t) = b.targets.as_ref().and_then(|t| t.first()) {
        draw_targets(&mut shown, t);
    }
    let scale = CELL as f32 / src.width().max(src.height()) as f32;
    let thumb = imageops::resize(
        &shown,
        ((src.width() as f32 * scale).round() as u32).max(1),
        ((src.height() as f32 * scale).round() as u32).max(1),
        imageops::FilterType::Triangle,
    );
    imageops::replace(sheet, &thumb, PAD as i64, y as i64);
    draw_text(
        sheet,
        PAD,
        y + CELL + 6,
        "mask, boxes, points",
        1,
        Rgb([0, 0, 0]),
    );
    for v in 0..views {
        let batch = aug.augment(
            Request::new(one)
                .key(BatchKey::new(17, v as u64, 0))
                .targets(&targets),
        )?;
        let mut img = cell(&batch, 0, aug.pipeline())?;
        let t = batch.targets.as_ref().and_then(|t| t.first());
        if let Some(t) = t {
            draw_targets(&mut img, t);
        }
        let x = PAD + (v + 1) * (CELL + PAD);
        imageops::replace(sheet, &img, x as i64, y as i64);
        let (nb, nk) = t.map_or((0, 0), |t| {
            (
                t.boxes.as_ref().map_or(0, |b| b.coords.len()),
                t.keypoints
                    .as_ref()
                    .map_or(0, |k| k.points.iter().filter(|p| p[2] > 0.0).count()),
            )
        });
        draw_text(
            sheet,
            x,
            y + CELL + 6,
            &format!("{nb} box{}, {nk}/5 points", if nb == 1 { "" } else { "es" }),
            1,
            Rgb([0, 0, 0]),
        );
    }
    Ok(())
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
