//! Finding a folder's images and its ImageFolder classes (what `Dataset`
//! and the command line list).

use crate::error::{Error, Result};
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
