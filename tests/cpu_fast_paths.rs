//! The CPU backend's fast paths (separable rows and columns, texel copies,
//! row-wise generic warp) give exactly the bytes of the per-pixel reference
//! `cpu::sample::warp_pixel`, the line-for-line twin of the shader's warp.
//! Runs without a GPU, so machines without an adapter still check them.

use gpu_augment::cpu::sample::{warp_pixel, Src};
use gpu_augment::plan::plan_sample;
use gpu_augment::{synthetic_image, Augmenter, Backend, BatchKey, Pipeline, Request};

fn check(text: &str) {
    let p = Pipeline::from_toml(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(
        p.ops.iter().all(|o| o.is_geometric()),
        "geometry only, so the output is the warp itself"
    );
    let aug = Augmenter::new(p.clone(), Backend::Cpu).unwrap();
    let sizes = [(1, 1), (7, 5), (33, 17), (500, 375), (64, 64), (40, 90)];
    let images: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| synthetic_image(i as u64 + 50, w, h))
        .collect();
    for seed in 0..6u64 {
        let key = BatchKey::new(seed, 0, 0);
        let batch = aug.augment(Request::new(&images).key(key)).unwrap();
        for (i, img) in images.iter().enumerate() {
            let drawn = p.draw(seed, 0, i as u64, 0, img.width(), img.height());
            let g = plan_sample(&p, &drawn, img.width(), img.height(), i).unwrap();
            let src = Src {
                data: img.as_raw(),
                width: img.width(),
                height: img.height(),
            };
            let got = batch.sample_u8(i).unwrap();
            let (w, h) = (p.size.width, p.size.height);
            for oy in 0..h {
                for ox in 0..w {
                    let want = warp_pixel(&g, &src, ox, oy);
                    let o = ((oy * w + ox) * 3) as usize;
                    assert_eq!(
                        &got[o..o + 3],
                        &want,
                        "{text}\nseed {seed}, image {i}, pixel ({ox}, {oy})"
                    );
                }
            }
        }
    }
}

#[test]
fn separable_resize_and_crops() {
    check("size = [24, 30]\n[[ops]]\nop = \"random_resized_crop\"\nscale = [0.05, 1.0]");
    check("size = [90, 70]\n[[ops]]\nop = \"resize\"\nsize = [90, 70]");
    check(
        "size = 13\n[[ops]]\nop = \"resize\"\nsize = 13\n[[ops]]\nop = \"center_crop\"\nsize = 13",
    );
}

#[test]
fn texel_copies_with_and_without_padding() {
    check("size = 32\n[[ops]]\nop = \"random_crop\"\nsize = 32\npadding = 4\npad_if_needed = true\nfill = [9, 99, 199]\n[[ops]]\nop = \"horizontal_flip\"");
    check("size = [17, 21]\n[[ops]]\nop = \"center_crop\"\nsize = [17, 21]\n[[ops]]\nop = \"vertical_flip\"\np = 1.0");
}

#[test]
fn separable_clips_with_resampling() {
    check("size = 16\n[[ops]]\nop = \"random_crop\"\nsize = 60\npadding = [9, 3, 5, 12]\npad_if_needed = true\nfill = 250");
    check("size = 77\n[[ops]]\nop = \"center_crop\"\nsize = [80, 120]\n[[ops]]\nop = \"resize\"\nsize = [77, 77]");
}

#[test]
fn generic_rows_rotations_nearest_and_fill() {
    check("size = 40\n[[ops]]\nop = \"affine\"\ndegrees = 60\nscale = [0.3, 1.7]\nshear = 20\nfill = [255, 0, 128]");
    // Rows whose width leaves a scalar tail after the 8-pixel gathers, with
    // soft and hard clip stages, and affine.toml's resize + affine.
    check("size = [37, 29]\n[[ops]]\nop = \"affine\"\ndegrees = 45\nscale = [0.5, 1.5]\nshear = 15\nfill = [3, 250, 77]\n[[ops]]\nop = \"random_crop\"\nsize = [37, 29]\npadding = 5\npad_if_needed = true");
    check("size = 27\n[[ops]]\nop = \"resize\"\nsize = 27\n[[ops]]\nop = \"affine\"\ndegrees = 30\ntranslate = [0.1, 0.1]\nscale = [0.8, 1.2]\nshear = 10");
    check("size = 40\n[[ops]]\nop = \"affine\"\ndegrees = 180\ninterpolation = \"nearest\"\ntranslate = [0.2, 0.2]");
    check("size = 24\n[[ops]]\nop = \"random_resized_crop\"\ninterpolation = \"nearest\"");
    check("size = 36\n[[ops]]\nop = \"center_crop\"\nsize = 50\n[[ops]]\nop = \"affine\"\ndegrees = 30\nfill = 200\n[[ops]]\nop = \"random_crop\"\nsize = 36\npadding = 3");
}
