//! JPEG decoding through libjpeg-turbo's TurboJPEG 3 API (the `turbojpeg-sys`
//! crate, which builds the bundled libjpeg-turbo 3.1 with its SIMD code).
//!
//! Why libjpeg-turbo: it is the decoder behind PIL and torchvision's
//! `decode_jpeg`, so decoded pixels are the ones those libraries see (same
//! accurate integer IDCT, same fancy chroma upsampling), and on this project's
//! photos it decodes about 1.5x faster than the `image` crate's decoder
//! (zune-jpeg). The safe `turbojpeg` crate wraps the same library but keeps
//! its handle private, so the cropping region (`tj3SetCroppingRegion`, for
//! decoding only part of an image) is out of its reach; the raw bindings are
//! used here behind a small safe type.

use image::RgbImage;
use std::cell::RefCell;
use std::ffi::CStr;
use turbojpeg_sys as tj;

/// One TurboJPEG decompressor instance (not shareable between threads).
struct Handle(tj::tjhandle);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

thread_local! {
    static HANDLE: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// What the header says: size in pixels and chroma subsampling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JpegHeader {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Width of the iMCU in pixels: a cropped decode starts on a multiple.
    pub mcu_width: u32,
}

/// The iMCU width per TurboJPEG subsampling code (`tjMCUWidth`, a static in
/// the C header and so not linkable): 4:4:4, 4:2:2, 4:2:0, grey, 4:4:0, 4:1:1, 4:4:1.
const MCU_WIDTH: [u32; 7] = [8, 16, 16, 8, 8, 32, 8];

impl Handle {
    fn error(&self) -> String {
        // SAFETY: tj3GetErrorStr returns a NUL-terminated static or per-handle string.
        let s = unsafe { CStr::from_ptr(tj::tj3GetErrorStr(self.0)) };
        s.to_string_lossy().into_owned()
    }

    fn header(&self, bytes: &[u8]) -> Result<JpegHeader, String> {
        // SAFETY: the pointer and length describe `bytes`.
        let r = unsafe { tj::tj3DecompressHeader(self.0, bytes.as_ptr(), bytes.len() as _) };
        if r != 0 {
            return Err(self.error());
        }
        // SAFETY: plain parameter reads on a valid handle.
        let (w, h, ss) = unsafe {
            (
                tj::tj3Get(self.0, tj::TJPARAM_TJPARAM_JPEGWIDTH as i32),
                tj::tj3Get(self.0, tj::TJPARAM_TJPARAM_JPEGHEIGHT as i32),
                tj::tj3Get(self.0, tj::TJPARAM_TJPARAM_SUBSAMP as i32),
            )
        };
        if w <= 0 || h <= 0 {
            return Err("image has no pixels".into());
        }
        // Unknown subsampling (-1): TurboJPEG cannot crop it; any width works
        // for the full decode.
        let mcu_width = usize::try_from(ss)
            .ok()
            .and_then(|s| MCU_WIDTH.get(s).copied())
            .unwrap_or(0);
        Ok(JpegHeader {
            width: w as u32,
            height: h as u32,
            mcu_width,
        })
    }

    /// Decodes `bytes` (whose header this handle has just read) to RGB, the
    /// region `[x, y, w, h]` only when given (x a multiple of the iMCU width).
    fn decode(
        &self,
        bytes: &[u8],
        hdr: &JpegHeader,
        region: Option<[u32; 4]>,
    ) -> Result<RgbImage, String> {
        let [x, y, w, h] = region.unwrap_or([0, 0, hdr.width, hdr.height]);
        let reg = if region.is_some() {
            tj::tjregion {
                x: x as i32,
                y: y as i32,
                w: w as i32,
                h: h as i32,
            }
        } else {
            tj::tjregion {
                x: 0,
                y: 0,
                w: 0,
                h: 0,
            }
        };
        // The decoded buffer within the `image` crate's default limit
        // (512 MiB): a header claiming a huge image is an error, not an
        // allocation failure.
        let len = w as u64 * h as u64 * 3;
        if len > 512 << 20 {
            return Err(format!(
                "the image ({w}x{h}) needs {len} bytes, beyond the 512 MiB limit"
            ));
        }
        let mut out = vec![0u8; len as usize];
        // SAFETY: valid handle; `out` holds w * h RGB pixels, which is what
        // TurboJPEG writes for the cropping region (or the whole image) with
        // pitch 0 (= w * 3).
        let r = unsafe {
            if tj::tj3SetCroppingRegion(self.0, reg) != 0 {
                return Err(self.error());
            }
            tj::tj3Decompress8(
                self.0,
                bytes.as_ptr(),
                bytes.len() as _,
                out.as_mut_ptr(),
                0,
                tj::TJPF_TJPF_RGB,
            )
        };
        if r != 0 {
            return Err(self.error());
        }
        RgbImage::from_raw(w, h, out).ok_or_else(|| "decoded buffer of the wrong size".into())
    }
}

/// Runs `f` with this thread's decompressor (created on first use).
fn with_handle<T>(f: impl FnOnce(&Handle) -> Result<T, String>) -> Result<T, String> {
    HANDLE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            // SAFETY: tj3Init has no preconditions; null means failure.
            let h = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as i32) };
            if h.is_null() {
                return Err("libjpeg-turbo: could not create a decompressor".into());
            }
            // Warnings (corrupt data the library would paper over) are errors,
            // as the truncation check makes them for missing data.
            // SAFETY: valid handle.
            unsafe { tj::tj3Set(h, tj::TJPARAM_TJPARAM_STOPONWARNING as i32, 1) };
            *slot = Some(Handle(h));
        }
        f(slot.as_ref().expect("just set"))
    })
}

/// The header of a JPEG.
pub fn header(bytes: &[u8]) -> Result<JpegHeader, String> {
    with_handle(|h| h.header(bytes))
}

/// Decodes a whole JPEG to RGB u8.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, String> {
    with_handle(|h| {
        let hdr = h.header(bytes)?;
        h.decode(bytes, &hdr, None)
    })
}

/// Decodes the part of a JPEG that covers `[x, y, w, h]` (clamped to the
/// image) and returns it with its origin: the left edge moves down to a
/// multiple of the iMCU width, and the region grows by `margin` pixels on
/// every side (within the image), so that each pixel of the asked box equals
/// the same pixel of a full decode (the chroma upsampling of a pixel reads
/// its neighbours; a margin of 1 is enough, tests/jpeg.rs checks 2).
pub fn decode_region(
    bytes: &[u8],
    region: [u32; 4],
    margin: u32,
) -> Result<(RgbImage, [u32; 2]), String> {
    with_handle(|h| {
        let hdr = h.header(bytes)?;
        let [x, y, w, hh] = region;
        if hdr.mcu_width == 0 {
            return Ok((h.decode(bytes, &hdr, None)?, [0, 0]));
        }
        let x1 = x.saturating_add(w).saturating_add(margin).min(hdr.width);
        let y1 = y.saturating_add(hh).saturating_add(margin).min(hdr.height);
        let x0 = x.saturating_sub(margin).min(hdr.width - 1) / hdr.mcu_width * hdr.mcu_width;
        let y0 = y.saturating_sub(margin).min(hdr.height - 1);
        if x1 <= x0 || y1 <= y0 {
            return Err(format!(
                "empty region {region:?} of a {}x{} image",
                hdr.width, hdr.height
            ));
        }
        let img = h.decode(bytes, &hdr, Some([x0, y0, x1 - x0, y1 - y0]))?;
        Ok((img, [x0, y0]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photo-like test image: smooth gradients plus a hashed texture, so
    /// that chroma varies between neighbouring pixels.
    fn image(w: u32, h: u32) -> Vec<u8> {
        let mut v = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let n = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503)) >> 7;
                v.push(((x * 255 / w) as u8).wrapping_add((n & 31) as u8));
                v.push(((y * 255 / h) as u8).wrapping_add((n >> 5 & 63) as u8));
                v.push((((x + y) * 127 / (w + h)) as u8).wrapping_add((n >> 11 & 15) as u8));
            }
        }
        v
    }

    /// Encodes RGB pixels with libjpeg-turbo at quality 90 and subsampling `ss`.
    fn encode(px: &[u8], w: u32, h: u32, ss: i32) -> Vec<u8> {
        // SAFETY: a fresh compressor; `px` holds w * h RGB pixels; the output
        // buffer is allocated by TurboJPEG and freed with tj3Free.
        unsafe {
            let c = tj::tj3Init(tj::TJINIT_TJINIT_COMPRESS as i32);
            assert!(!c.is_null());
            tj::tj3Set(c, tj::TJPARAM_TJPARAM_QUALITY as i32, 90);
            tj::tj3Set(c, tj::TJPARAM_TJPARAM_SUBSAMP as i32, ss);
            let mut buf: *mut u8 = std::ptr::null_mut();
            let mut size = 0;
            let r = tj::tj3Compress8(
                c,
                px.as_ptr(),
                w as i32,
                0,
                h as i32,
                tj::TJPF_TJPF_RGB,
                &mut buf,
                &mut size,
            );
            assert_eq!(r, 0);
            let out = std::slice::from_raw_parts(buf, size as usize).to_vec();
            tj::tj3Free(buf as *mut _);
            tj::tj3Destroy(c);
            out
        }
    }

    /// Every pixel of a region decode equals the same pixel of a full decode,
    /// for all the common subsamplings and boxes at every offset class.
    #[test]
    fn region_decode_equals_full_decode_crop() {
        for (w, h) in [(500u32, 375u32), (333, 250)] {
            let px = image(w, h);
            for ss in [0, 1, 2, 3, 4, 5] {
                let jpg = encode(&px, w, h, ss);
                let full = decode(&jpg).unwrap();
                assert_eq!(full.dimensions(), (w, h));
                let hdr = header(&jpg).unwrap();
                assert_eq!((hdr.width, hdr.height), (w, h));
                for t in 0..40u32 {
                    let x = (t * 37 + t * t) % (w - 20);
                    let y = (t * 53) % (h - 20);
                    let bw = (17 + t * 11).min(w - x);
                    let bh = (13 + t * 7).min(h - y);
                    let (reg, [ox, oy]) = decode_region(&jpg, [x, y, bw, bh], 2).unwrap();
                    assert!(ox <= x && oy <= y);
                    assert!(ox + reg.width() >= x + bw && oy + reg.height() >= y + bh);
                    for r in y..y + bh {
                        for c in x..x + bw {
                            assert_eq!(
                                reg.get_pixel(c - ox, r - oy),
                                full.get_pixel(c, r),
                                "subsampling {ss}, box {:?}, pixel ({c}, {r})",
                                [x, y, bw, bh]
                            );
                        }
                    }
                }
            }
        }
    }

    /// Damaged data is an error, not a panic or a grey image.
    #[test]
    fn corrupt_data_is_an_error() {
        let px = image(64, 48);
        let mut jpg = encode(&px, 64, 48, 2);
        assert!(decode(&jpg[..jpg.len() / 2]).is_err());
        assert!(decode(&[0xFF, 0xD8, 0xFF]).is_err());
        let n = jpg.len();
        for b in &mut jpg[n / 3..n / 3 + 40] {
            *b = 0xFF;
        }
        assert!(decode(&jpg).is_err());
    }
}
