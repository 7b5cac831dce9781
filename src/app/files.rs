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

/// What a scan of a folder found: the image files, and the entries that
/// could not be listed or taken.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Image files, sorted, as (path, path relative to the folder).
    pub files: Vec<(PathBuf, PathBuf)>,
    /// Entries that could not be read (a dangling symlink with an image
    /// extension, a symlink loop, an unreadable folder, a name that is not
    /// UTF-8), with the reason.
    pub failed: Vec<(PathBuf, String)>,
}

fn has_image_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// Every image file under `dir` (recursively, following symlinks, sorted),
/// leaving out the folder `skip` (an output folder inside `dir`) and
/// reporting, instead of stopping at, entries that cannot be read: a symlink
/// loop, an unreadable folder, a dangling symlink named like an image, a
/// name that is not valid UTF-8. An error only when `dir` itself is no
/// readable folder.
pub fn scan_images(dir: &Path, skip: Option<&Path>) -> Result<Scan> {
    if !dir.is_dir() {
        return Err(Error::Decode {
            path: dir.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    if let Err(e) = std::fs::read_dir(dir) {
        return Err(Error::Decode {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        });
    }
    let skip = skip.and_then(|s| std::fs::canonicalize(s).ok());
    let mut scan = Scan::default();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !(e.depth() > 0
                && e.file_type().is_dir()
                && skip
                    .as_ref()
                    .is_some_and(|s| std::fs::canonicalize(e.path()).is_ok_and(|c| &c == s)))
        });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| dir.to_path_buf());
                // A dangling symlink that is not named like an image is no
                // input: passed over like any other non-image file.
                let dangling = e.loop_ancestor().is_none()
                    && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink())
                    && std::fs::metadata(&path).is_err();
                if dangling && !has_image_extension(&path) {
                    continue;
                }
                let reason = if e.loop_ancestor().is_some() {
                    "symlink loop (the link points to a folder above it)".to_string()
                } else if dangling {
                    "dangling symlink (its target does not exist)".to_string()
                } else {
                    e.io_error()
                        .map(|io| io.to_string())
                        .unwrap_or_else(|| e.to_string())
                };
                scan.failed.push((path, reason));
                continue;
            }
        };
        if !entry.file_type().is_file() || !has_image_extension(entry.path()) {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .to_path_buf();
        if rel.to_str().is_none() {
            scan.failed.push((
                entry.path().to_path_buf(),
                "the file name is not valid UTF-8 (not supported: outputs and records name files in UTF-8; rename it)".into(),
            ));
            continue;
        }
        scan.files.push((entry.path().to_path_buf(), rel));
    }
    Ok(scan)
}

/// The one error for a folder with no image in it (`run`, `bench` and
/// `bench --end-to-end` alike).
pub fn no_images(dir: &Path) -> Error {
    Error::InvalidArgument(format!(
        "no images under {} (extensions: {})",
        dir.display(),
        IMAGE_EXTENSIONS.join(", ")
    ))
}

/// Every image file under `dir`, sorted, as (absolute path, path relative to
/// `dir`). An error at the first entry that cannot be read (see
/// [`scan_images`] for a scan that reports them and goes on).
pub fn find_images(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let scan = scan_images(dir, None)?;
    if let Some((path, reason)) = scan.failed.into_iter().next() {
        return Err(Error::Decode { path, reason });
    }
    Ok(scan.files)
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

/// Writes an f32 array as a .npy file (atomically: temporary file, then rename).
pub fn write_npy(path: &Path, shape: &[u64], data: &[f32]) -> Result<()> {
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

/// Writes u8 HWC RGB as an image file, in the format its extension names
/// (PNG when it names none; atomically: temporary file, then rename).
pub fn write_png(path: &Path, width: u32, height: u32, data: &[u8]) -> Result<()> {
    let img = RgbImage::from_raw(width, height, data.to_vec()).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{} bytes are not a {width}x{height} RGB image",
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
