//! Finding a folder's images and its ImageFolder classes (what `Dataset`
//! and the command line list).

use crate::error::{Error, Result};
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
