//! Finding, decoding and writing files for the command line.

use gpu_augment::{load_image, Error, Result, RgbImage};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The one error for a folder with no image in it (`run`, `bench` and
/// `bench --end-to-end` alike).
pub fn no_images(dir: &Path) -> Error {
    Error::InvalidArgument(format!(
        "no images under {} (extensions: {})",
        dir.display(),
        gpu_augment::loader::IMAGE_EXTENSIONS.join(", ")
    ))
}

/// A relative path as records name it: its components joined by `/`, each
/// as it is (a backslash in a Unix file name stays a backslash). Lossy only
/// for names that are not UTF-8, which [`scan_images`] refuses.
pub fn rel_name(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Decodes files in parallel; each result keeps its position.
pub fn decode_all(paths: &[PathBuf]) -> Vec<Result<RgbImage>> {
    paths.par_iter().map(|p| load_image(p)).collect()
}

/// The temporary name `path` is written under before it is renamed into
/// place: hidden, in the same folder (so the rename is atomic), with the
/// process id (so two writers never share one).
pub fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.ga-tmp", std::process::id()))
}

/// Writes `path` through `write` into a temporary file, then renames it into
/// place: a stop (kill, full disk) never leaves a partial file under `path`.
pub fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = temp_name(path);
    let r = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })
    });
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// Writes `text` to `path` atomically (temporary file, then rename).
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, |tmp| {
        std::fs::write(tmp, text).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })
    })
}

/// Writes output `j` of `batch` to `path`: u8 as an image file (see
/// [`write_png`]; 8-bit grey for a one-channel output), f32, f16 and u8
/// CHW as a .npy array of shape [C, H, W] (C = 3, or 1; dtype <f4, <f2 or
/// |u1).
pub fn write_sample(path: &Path, batch: &gpu_augment::Batch, j: usize) -> Result<()> {
    match &batch.data {
        gpu_augment::Tensor::U8(_) if batch.format == gpu_augment::OutputFormat::U8Chw => {
            let [_, c, h, w] = batch.shape;
            write_npy(
                path,
                &[c as u64, h as u64, w as u64],
                batch.sample_u8(j).unwrap_or_default(),
            )
        }
        gpu_augment::Tensor::U8(_) => {
            let [_, h, w, _] = batch.shape;
            write_png(
                path,
                w as u32,
                h as u32,
                batch.sample_u8(j).unwrap_or_default(),
            )
        }
        gpu_augment::Tensor::F32(_) => {
            let [_, c, h, w] = batch.shape;
            write_npy(
                path,
                &[c as u64, h as u64, w as u64],
                batch.sample_f32(j).unwrap_or_default(),
            )
        }
        gpu_augment::Tensor::F16(_) => {
            let [_, c, h, w] = batch.shape;
            write_npy(
                path,
                &[c as u64, h as u64, w as u64],
                batch.sample_f16(j).unwrap_or_default(),
            )
        }
    }
}

/// Writes an f32 (f16, u8) array as a .npy file (atomically: temporary file,
/// then rename).
pub fn write_npy<T: npyz::AutoSerialize + Copy>(
    path: &Path,
    shape: &[u64],
    data: &[T],
) -> Result<()> {
    use npyz::WriterBuilder;
    use std::io::Write;
    let io = |e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    write_atomic(path, |tmp| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(tmp).map_err(io)?);
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut file)
            .begin_nd()
            .map_err(io)?;
        w.extend(data.iter().copied()).map_err(io)?;
        w.finish().map_err(io)?;
        file.flush().map_err(io)?;
        Ok(())
    })
}

/// Writes u8 HWC RGB (or one channel: an 8-bit grey image) as an image
/// file, in the format its extension names (PNG when it names none;
/// atomically: temporary file, then rename).
pub fn write_png(path: &Path, width: u32, height: u32, data: &[u8]) -> Result<()> {
    let npx = width as usize * height as usize;
    let img: Option<image::DynamicImage> = if data.len() == npx && npx > 0 {
        image::GrayImage::from_raw(width, height, data.to_vec()).map(Into::into)
    } else {
        RgbImage::from_raw(width, height, data.to_vec()).map(Into::into)
    };
    let img = img.ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{} bytes are not a {width}x{height} RGB or grey image",
            data.len()
        ))
    })?;
    let format = image::ImageFormat::from_path(path).unwrap_or(image::ImageFormat::Png);
    write_atomic(path, |tmp| {
        img.save_with_format(tmp, format).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })
    })
}
