//! Finding, decoding and writing files for the command line.

use crate::engine::load_image;
use crate::error::{Error, Result};
use crate::RgbImage;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Extensions treated as images (what the `image` crate is built to read here).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp", "pnm", "pbm", "pgm", "ppm", "tga",
];

/// Every image file under `dir`, sorted, as (absolute path, path relative to `dir`).
pub fn find_images(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    if !dir.is_dir() {
        return Err(Error::Decode {
            path: dir.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| Error::Decode {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| dir.to_path_buf()),
            reason: e.to_string(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let ext = entry
            .path()
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap_or(entry.path())
                .to_path_buf();
            files.push((entry.path().to_path_buf(), rel));
        }
    }
    Ok(files)
}

/// Decodes files in parallel; each result keeps its position.
pub fn decode_all(paths: &[PathBuf]) -> Vec<Result<RgbImage>> {
    paths.par_iter().map(|p| load_image(p)).collect()
}

/// Writes an f32 array as a .npy file.
pub fn write_npy(path: &Path, shape: &[u64], data: &[f32]) -> Result<()> {
    use npyz::WriterBuilder;
    let io = |e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(file)
        .begin_nd()
        .map_err(io)?;
    w.extend(data.iter().copied()).map_err(io)?;
    w.finish().map_err(io)?;
    Ok(())
}

/// Writes u8 HWC RGB as PNG.
pub fn write_png(path: &Path, width: u32, height: u32, data: &[u8]) -> Result<()> {
    let img = RgbImage::from_raw(width, height, data.to_vec()).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{} bytes are not a {width}x{height} RGB image",
            data.len()
        ))
    })?;
    img.save(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}
