//! Region decode in the loader (`LoaderOptions::region_decode`): JPEGs whose
//! samples read a box known from the header are decoded over that box only.
//! The outputs must be those of a full decode byte for byte (tensors,
//! records, labels, skipped files), on the CPU and the GPU, for every chroma
//! subsampling, progressive and restart-marker files, odd sizes, views; and
//! the pipelines that cannot know their box beforehand must fall back to the
//! full decode (counted by `LoaderStats::region_decoded`).

mod common;

use gpu_augment::gpu::GpuContext;
use gpu_augment::{Backend, Dataset, Loader, LoaderBatch, LoaderOptions, Pipeline, Tensor};
use std::path::Path;
use std::sync::Arc;
use turbojpeg_sys as tj;

/// A photo-like image: gradients plus a hashed texture, so that chroma
/// changes from pixel to pixel (a region decode with too small a margin
/// differs from a full decode at its edges).
fn texture(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let n =
                (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ seed.wrapping_mul(97)) >> 7;
            v.push(((x * 255 / w.max(1)) as u8).wrapping_add((n & 63) as u8));
            v.push(((y * 255 / h.max(1)) as u8).wrapping_add((n >> 6 & 63) as u8));
            v.push((((x + y) * 127 / (w + h)) as u8).wrapping_add((n >> 12 & 31) as u8));
        }
    }
    v
}

/// Encodes RGB pixels with libjpeg-turbo: quality 90, subsampling `ss`
/// (TurboJPEG's code), progressive or with a restart marker every `restart` MCU rows.
fn encode(px: &[u8], w: u32, h: u32, ss: i32, progressive: bool, restart: i32) -> Vec<u8> {
    // SAFETY: a fresh compressor; `px` holds w * h RGB pixels; the output
    // buffer is allocated by TurboJPEG and freed with tj3Free.
    unsafe {
        let c = tj::tj3Init(tj::TJINIT_TJINIT_COMPRESS as i32);
        assert!(!c.is_null());
        tj::tj3Set(c, tj::TJPARAM_TJPARAM_QUALITY as i32, 90);
        tj::tj3Set(c, tj::TJPARAM_TJPARAM_SUBSAMP as i32, ss);
        tj::tj3Set(
            c,
            tj::TJPARAM_TJPARAM_PROGRESSIVE as i32,
            progressive as i32,
        );
        tj::tj3Set(c, tj::TJPARAM_TJPARAM_RESTARTROWS as i32, restart);
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
        assert_eq!(r, 0, "tj3Compress8");
        let out = std::slice::from_raw_parts(buf, size as usize).to_vec();
        tj::tj3Free(buf as *mut _);
        tj::tj3Destroy(c);
        out
    }
}

/// An ImageFolder of JPEGs of every subsampling TurboJPEG writes (4:4:4,
/// 4:2:2, 4:2:0, grey, 4:4:0, 4:1:1), several sizes (photo-like, portrait,
/// odd, tiny), progressive and restart-marker files, plus a PNG (never
/// region-decoded) and a truncated JPEG (skipped, with the same reason).
/// Returns the number of JPEGs that decode.
fn folder(dir: &Path) -> usize {
    let sizes = [(500, 375), (375, 500), (97, 61), (17, 9), (1, 1)];
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut put = |name: String, bytes: &[u8]| files.push((name, bytes.to_vec()));
    for ss in 0..6 {
        for (i, &(w, h)) in sizes.iter().enumerate() {
            let px = texture(w, h, (ss * 7 + i as i32) as u32);
            put(
                format!("s{ss}_{w}x{h}.jpg"),
                &encode(&px, w, h, ss, false, 0),
            );
        }
    }
    for (ss, (w, h)) in [(2, (333, 250)), (0, (250, 333)), (1, (123, 77))] {
        let px = texture(w, h, 99 + ss as u32);
        put(
            format!("prog{ss}_{w}x{h}.jpg"),
            &encode(&px, w, h, ss, true, 0),
        );
        put(
            format!("rst{ss}_{w}x{h}.jpg"),
            &encode(&px, w, h, ss, false, 2),
        );
    }
    let png = gpu_augment::synthetic_image(5, 120, 90);
    let mut png_bytes = std::io::Cursor::new(Vec::new());
    png.write_to(&mut png_bytes, image::ImageFormat::Png)
        .unwrap();
    put("plain.png".into(), png_bytes.get_ref());
    let whole = encode(&texture(200, 150, 3), 200, 150, 2, false, 0);
    put("truncated.jpg".into(), &whole[..whole.len() * 2 / 3]);
    // All but the PNG and the truncated file.
    let jpegs = files.len() - 2;
    for (i, (name, bytes)) in files.iter().enumerate() {
        let c = dir.join(format!("class{}", i % 3));
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join(name), bytes).unwrap();
    }
    jpegs
}

const SMALL: &str = r#"
size = [40, 32]
format = "u8_hwc"
[[ops]]
op = "random_resized_crop"
scale = [0.05, 0.5]
interpolation = "bicubic"
[[ops]]
op = "vertical_flip"
[[ops]]
op = "color_jitter"
brightness = 0.4
contrast = 0.4
saturation = 0.4
hue = 0.1
[[ops]]
op = "random_erasing"
p = 0.5
"#;

/// Two views: the region is the union of both crops.
const VIEWS: &str = r#"
size = 48
format = "f32_chw"
views = 2
[[ops]]
op = "random_resized_crop"
scale = [0.02, 0.3]
[[ops]]
op = "horizontal_flip"
[[ops]]
op = "grayscale"
p = 0.3
[[ops]]
op = "normalize"
mean = [0.5, 0.4, 0.3]
std = [0.2, 0.25, 0.3]
"#;

/// Evaluation: a resize of the whole image, then a centre crop.
const EVAL: &str = r#"
size = 56
format = "u8_hwc"
[[ops]]
op = "resize"
size = 64
[[ops]]
op = "center_crop"
size = 56
"#;

/// Warps read anywhere: never region-decoded.
const AFFINE: &str = r#"
size = 32
format = "u8_hwc"
[[ops]]
op = "random_resized_crop"
[[ops]]
op = "affine"
degrees = 30
"#;

/// Mixing: resizemix would read a partner's whole source; no region decode.
const MIXUP: &str = r#"
size = 24
format = "f32_chw"
[[ops]]
op = "random_resized_crop"
[[ops]]
op = "mixup"
alpha = 1.0
num_classes = 3
"#;

/// Epochs `epochs` of `p` over `ds` on the CPU (or `gpu`), region decode
/// on or off; with the loader's count of region decodes.
fn run(
    ds: &Dataset,
    p: &Pipeline,
    gpu: Option<&Arc<GpuContext>>,
    region: bool,
    epochs: &[u64],
) -> (Vec<LoaderBatch>, u64) {
    let opts = LoaderOptions {
        batch_size: 5,
        backend: Backend::Cpu,
        seed: 17,
        shuffle: true,
        decode_threads: 2,
        region_decode: region,
        ..Default::default()
    };
    let loader = match gpu {
        Some(g) => Loader::with_gpus(ds.clone(), p.clone(), opts, vec![g.clone()]),
        None => Loader::new(ds.clone(), p.clone(), opts),
    }
    .unwrap();
    let mut out = Vec::new();
    for &e in epochs {
        for b in loader.epoch(e).unwrap() {
            out.push(b.unwrap());
        }
    }
    let st = loader.stats();
    (out, st.region_decoded)
}

fn same(name: &str, a: &[LoaderBatch], b: &[LoaderBatch]) {
    assert_eq!(a.len(), b.len(), "{name}: batches");
    for (x, y) in a.iter().zip(b) {
        let at = format!("{name}: epoch {} batch {}", x.epoch, x.index);
        assert_eq!((x.epoch, x.index), (y.epoch, y.index), "{at}");
        assert_eq!(x.items, y.items, "{at}: items");
        assert_eq!(x.skipped, y.skipped, "{at}: skipped");
        assert_eq!(x.batch.shape, y.batch.shape, "{at}: shape");
        match (&x.batch.data, &y.batch.data) {
            (Tensor::F32(u), Tensor::F32(v)) => {
                let bits = |t: &[f32]| t.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert!(bits(u) == bits(v), "{at}: f32 tensors differ");
            }
            (Tensor::U8(u), Tensor::U8(v)) => {
                if let Some(i) = u.iter().zip(v.iter()).position(|(p, q)| p != q) {
                    panic!("{at}: u8 tensors differ from value {i} on");
                }
                assert_eq!(u.len(), v.len(), "{at}");
            }
            _ => panic!("{at}: formats differ"),
        }
        assert_eq!(
            serde_json::to_string(&x.batch.records).unwrap(),
            serde_json::to_string(&y.batch.records).unwrap(),
            "{at}: records"
        );
        assert_eq!(x.batch.labels, y.batch.labels, "{at}: labels");
    }
}

/// Every pipeline through the loader with region decode on and off, on
/// the CPU (or `gpu`): the same batches byte for byte, and region decodes
/// exactly where they may happen.
fn check_backend(gpu: Option<&Arc<GpuContext>>, tag: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let jpegs = folder(tmp.path());
    let ds = Dataset::image_folder(tmp.path()).unwrap();
    let imagenet = Pipeline::from_file("examples/pipelines/imagenet_train.toml").unwrap();
    let cases: [(&str, Pipeline, bool); 6] = [
        ("imagenet_train", imagenet, true),
        ("small", Pipeline::from_toml(SMALL).unwrap(), true),
        ("views", Pipeline::from_toml(VIEWS).unwrap(), true),
        ("eval", Pipeline::from_toml(EVAL).unwrap(), true),
        ("affine", Pipeline::from_toml(AFFINE).unwrap(), false),
        ("mixup", Pipeline::from_toml(MIXUP).unwrap(), false),
    ];
    let epochs = [0u64, 1, 2];
    for (name, p, eligible) in cases {
        let name = format!("{tag} {name}");
        let (full, none) = run(&ds, &p, gpu, false, &epochs);
        assert_eq!(none, 0, "{name}: region decodes with region_decode = false");
        let (region, n) = run(&ds, &p, gpu, true, &epochs);
        same(&name, &region, &full);
        let per_epoch = jpegs as u64;
        if eligible {
            // Every decodable JPEG of every epoch, except samples off the
            // resampler (a crop that happens to need no resampling).
            assert!(
                n * 10 >= per_epoch * epochs.len() as u64 * 9,
                "{name}: only {n} of {} JPEG decodes were region decodes",
                per_epoch * epochs.len() as u64
            );
        } else {
            assert_eq!(n, 0, "{name}: region decodes where none may happen");
        }
        let skipped: Vec<_> = full.iter().flat_map(|b| &b.skipped).collect();
        assert_eq!(
            skipped.len(),
            epochs.len(),
            "{name}: the truncated file, once an epoch"
        );
        assert!(
            skipped
                .iter()
                .all(|(p, r)| p.ends_with("truncated.jpg") && r.contains("truncated")),
            "{name}: {skipped:?}"
        );
    }
}

#[test]
fn region_decode_equals_full_decode_on_the_cpu() {
    check_backend(None, "cpu");
}

#[test]
fn region_decode_equals_full_decode_on_the_gpu() {
    let Some(g) = common::gpu() else { return };
    check_backend(Some(&g), "gpu");
}

/// EXIF orientation on: the whole image is decoded (the box would be drawn
/// on the turned image).
#[test]
fn exif_orientation_turns_region_decode_off() {
    let tmp = tempfile::tempdir().unwrap();
    folder(tmp.path());
    let ds = Dataset::image_folder(tmp.path()).unwrap();
    let p = Pipeline::from_toml(SMALL).unwrap();
    let opts = LoaderOptions {
        batch_size: 8,
        backend: Backend::Cpu,
        decode_threads: 2,
        exif_orientation: true,
        region_decode: true,
        ..Default::default()
    };
    let loader = Loader::new(ds, p, opts).unwrap();
    for b in loader.epoch(0).unwrap() {
        b.unwrap();
    }
    assert!(loader.stats().decoded > 0);
    assert_eq!(loader.stats().region_decoded, 0);
}
