//! Label maps on disk: PNG in (8- or 16-bit grey, or a palette image's
//! indices, as Pascal VOC and Cityscapes store classes), PNG out.

use super::{Mask, MaskData};
use crate::error::{Error, Result};
use std::path::Path;

/// Reads a label-map PNG: 8-bit grey or palette indices (1, 2, 4 or 8 bits)
/// become a u8 mask, 16-bit grey a u16 one. Colour images are refused (a
/// label map has one value per pixel).
pub fn load_mask(path: &Path) -> Result<Mask> {
    let err = |reason: String| Error::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    // No expansion: palette images keep their indices.
    dec.set_transformations(png::Transformations::IDENTITY);
    let mut reader = dec
        .read_info()
        .map_err(|e| err(format!("not a PNG label map: {e}")))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| err("label map too large".into()))?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| err(format!("cannot decode the label map: {e}")))?;
    let (w, h) = (info.width, info.height);
    let bits = info.bit_depth as u8;
    match info.color_type {
        png::ColorType::Grayscale | png::ColorType::Indexed => {}
        other => {
            return Err(err(format!(
            "a label map has one value per pixel (8/16-bit grey or palette), this PNG is {other:?}"
        )))
        }
    }
    let line = info.line_size;
    let mut data8 = Vec::with_capacity((w * h) as usize);
    let mut data16 = Vec::new();
    for y in 0..h as usize {
        let row = &buf[y * line..(y + 1) * line];
        match bits {
            16 => data16.extend(
                row.chunks_exact(2)
                    .take(w as usize)
                    .map(|b| u16::from_be_bytes([b[0], b[1]])),
            ),
            8 => data8.extend_from_slice(&row[..w as usize]),
            b @ (1 | 2 | 4) => {
                let per = 8 / b as usize;
                let mask = (1u16 << b) as u8 - 1;
                data8.extend((0..w as usize).map(|x| {
                    let byte = row[x / per];
                    let shift = 8 - b as usize * (x % per + 1);
                    (byte >> shift) & mask
                }));
            }
            other => return Err(err(format!("unsupported bit depth {other}"))),
        }
    }
    Ok(if bits == 16 {
        Mask::u16(w, h, data16)
    } else {
        Mask::u8(w, h, data8)
    })
}

/// Writes a label map as an 8- or 16-bit grey PNG (as its type).
pub fn save_mask(path: &Path, m: &Mask) -> Result<()> {
    let err = |e: image::ImageError| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    match &m.data {
        MaskData::U8(v) => image::save_buffer_with_format(
            path,
            v,
            m.width,
            m.height,
            image::ExtendedColorType::L8,
            image::ImageFormat::Png,
        )
        .map_err(err),
        MaskData::U16(v) => {
            // 16-bit PNG samples are big-endian; `image` takes native u16s.
            let img = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(
                m.width,
                m.height,
                v.clone(),
            )
            .ok_or_else(|| Error::InvalidArgument("mask size does not match its data".into()))?;
            img.save_with_format(path, image::ImageFormat::Png)
                .map_err(err)
        }
    }
}
