//! Finding, decoding and writing files for the command line.

use gpu_augment::{load_image, Error, Result, RgbImage};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

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
