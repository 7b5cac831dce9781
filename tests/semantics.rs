//! Op semantics against hand-computed values, on the CPU backend (the
//! reference the GPU is compared with): integer geometry is exact, colour
//! maths follows SEMANTICS.md (u8 results round half up), and the drawn
//! parameters follow torchvision's distributions.
//!
//! Explicit parameters go in through `Request::params`, so each case
//! states exactly what it applies.

use gpu_augment::{
    Augmenter, Backend, BatchKey, ColorStep, Drawn, Pipeline, Request, RgbImage, Tensor,
};
use std::collections::HashMap;

fn pipeline(text: &str) -> Pipeline {
    Pipeline::from_toml(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// An image from a per-pixel function.
fn image(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> RgbImage {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            data.extend_from_slice(&f(x, y));
        }
    }
    RgbImage::from_raw(w, h, data).expect("buffer matches the size")
}

/// An image whose pixels are all different (in every channel), for up to 36 pixels.
fn distinct(w: u32, h: u32) -> RgbImage {
    assert!(w * h <= 36);
    image(w, h, |x, y| {
        let i = y * w + x;
        [(7 * i + 1) as u8, (250 - 5 * i) as u8, (13 * i + 20) as u8]
    })
}

fn uniform_image(w: u32, h: u32, c: [u8; 3]) -> RgbImage {
    image(w, h, |_, _| c)
}

fn px(im: &RgbImage, x: u32, y: u32) -> [u8; 3] {
    im.get_pixel(x, y).0
}

/// Runs `images` with explicit parameters on the CPU; returns each sample's u8 HWC bytes.
fn apply_u8(p: &Pipeline, images: &[RgbImage], drawn: Vec<Vec<Drawn>>) -> Vec<Vec<u8>> {
    let aug = Augmenter::new(p.clone(), Backend::Cpu).expect("cpu augmenter");
    let indices: Vec<u64> = (0..images.len() as u64).collect();
    let batch = aug
        .augment(Request::new(images).params(&drawn).indices(&indices))
        .expect("augment with explicit parameters");
    assert_eq!(
        batch.shape,
        [
            images.len(),
            p.size.height as usize,
            p.size.width as usize,
            3
        ]
    );
    assert_eq!(batch.records.len(), images.len());
    for (r, d) in batch.records.iter().zip(&drawn) {
        assert_eq!(&r.ops, d, "the record holds the parameters that were given");
    }
    (0..images.len())
        .map(|i| batch.sample_u8(i).expect("u8 output").to_vec())
        .collect()
}

/// One op, one image, one explicit parameter record.
fn apply_one(p: &Pipeline, im: &RgbImage, d: Drawn) -> Vec<u8> {
    apply_u8(p, std::slice::from_ref(im), vec![vec![d]]).remove(0)
}

fn at(out: &[u8], w: u32, x: u32, y: u32) -> [u8; 3] {
    let o = ((y * w + x) * 3) as usize;
    [out[o], out[o + 1], out[o + 2]]
}

/// SEMANTICS.md: u8 results round half up and clamp to [0, 255].
fn round_half_up(x: f64) -> u8 {
    (x + 0.5).floor().clamp(0.0, 255.0) as u8
}

fn gray(c: [f64; 3]) -> f64 {
    0.2989 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

fn jitter(order: &[ColorStep], b: f64, c: f64, s: f64, h: f64) -> Drawn {
    Drawn::ColorJitter {
        applied: true,
        brightness: b,
        contrast: c,
        saturation: s,
        hue: h,
        order: order.to_vec(),
    }
}

const ALL_STEPS: &str = "brightness = 0.5\ncontrast = 0.5\nsaturation = 0.5\nhue = 0.5";

fn jitter_pipeline(side: u32) -> Pipeline {
    pipeline(&format!(
        "size = {side}\n[[ops]]\nop = \"color_jitter\"\n{ALL_STEPS}"
    ))
}

// ---------------------------------------------------------------- geometry

#[test]
fn horizontal_flip_mirrors_exactly() {
    let src = distinct(5, 3);
    let p = pipeline("size = [3, 5]\n[[ops]]\nop = \"horizontal_flip\"");
    let out = apply_one(&p, &src, Drawn::HorizontalFlip { applied: true });
    // By hand: the left column comes from the right one.
    assert_eq!(at(&out, 5, 0, 0), px(&src, 4, 0));
    assert_eq!(at(&out, 5, 4, 2), px(&src, 0, 2));
    assert_eq!(at(&out, 5, 2, 1), px(&src, 2, 1), "the middle column stays");
    let mirrored = image(5, 3, |x, y| px(&src, 4 - x, y));
    assert_eq!(out, mirrored.into_raw());
    let kept = apply_one(&p, &src, Drawn::HorizontalFlip { applied: false });
    assert_eq!(
        kept,
        src.clone().into_raw(),
        "a flip not applied is the identity"
    );
}

#[test]
fn vertical_flip_mirrors_exactly() {
    let src = distinct(5, 3);
    let p = pipeline("size = [3, 5]\n[[ops]]\nop = \"vertical_flip\"");
    let out = apply_one(&p, &src, Drawn::VerticalFlip { applied: true });
    assert_eq!(at(&out, 5, 0, 0), px(&src, 0, 2));
    assert_eq!(at(&out, 5, 3, 2), px(&src, 3, 0));
    assert_eq!(at(&out, 5, 1, 1), px(&src, 1, 1), "the middle row stays");
    let mirrored = image(5, 3, |x, y| px(&src, x, 2 - y));
    assert_eq!(out, mirrored.into_raw());
    let kept = apply_one(&p, &src, Drawn::VerticalFlip { applied: false });
    assert_eq!(kept, src.clone().into_raw());
}

#[test]
fn both_flips_compose_to_a_half_turn() {
    let src = distinct(4, 3);
    let p = pipeline(
        "size = [3, 4]\n[[ops]]\nop = \"horizontal_flip\"\n[[ops]]\nop = \"vertical_flip\"",
    );
    let out = apply_u8(
        &p,
        std::slice::from_ref(&src),
        vec![vec![
            Drawn::HorizontalFlip { applied: true },
            Drawn::VerticalFlip { applied: true },
        ]],
    )
    .remove(0);
    assert_eq!(out, image(4, 3, |x, y| px(&src, 3 - x, 2 - y)).into_raw());
}

fn affine(angle: f64) -> Drawn {
    Drawn::Affine {
        applied: true,
        angle,
        translate: [0.0, 0.0],
        scale: 1.0,
        shear: [0.0, 0.0],
    }
}

#[test]
fn affine_quarter_turns_are_exact_rotations() {
    // torchvision's F.affine: a positive angle turns the image clockwise as
    // displayed (y down), about the centre.
    let n = 5;
    let src = distinct(n, n);
    let last = n - 1;
    for interp in ["nearest", "bilinear"] {
        let p = pipeline(&format!(
            "size = {n}\n[[ops]]\nop = \"affine\"\ndegrees = 90\ninterpolation = \"{interp}\""
        ));
        let cw = apply_one(&p, &src, affine(90.0));
        // Clockwise: the bottom-left corner goes to the top-left, the top-left to the top-right.
        assert_eq!(at(&cw, n, 0, 0), px(&src, 0, last), "{interp}");
        assert_eq!(at(&cw, n, last, 0), px(&src, 0, 0), "{interp}");
        assert_eq!(at(&cw, n, last, last), px(&src, last, 0), "{interp}");
        assert_eq!(
            at(&cw, n, 2, 2),
            px(&src, 2, 2),
            "{interp}: the centre pixel stays"
        );
        assert_eq!(at(&cw, n, 3, 1), px(&src, 1, 1), "{interp}");
        assert_eq!(
            cw,
            image(n, n, |x, y| px(&src, y, last - x)).into_raw(),
            "{interp}: +90"
        );

        let ccw = apply_one(&p, &src, affine(-90.0));
        assert_eq!(at(&ccw, n, 0, 0), px(&src, last, 0), "{interp}");
        assert_eq!(
            ccw,
            image(n, n, |x, y| px(&src, last - y, x)).into_raw(),
            "{interp}: -90"
        );

        let half = apply_one(&p, &src, affine(180.0));
        assert_eq!(
            half,
            image(n, n, |x, y| px(&src, last - x, last - y)).into_raw(),
            "{interp}: 180"
        );

        let none = apply_one(&p, &src, affine(0.0));
        assert_eq!(
            none,
            src.clone().into_raw(),
            "{interp}: angle 0 is the identity"
        );
    }
}

#[test]
fn affine_integer_translation_shifts_and_fills() {
    // translate = [tx, ty] moves the content right and down; uncovered pixels get the fill.
    let src = distinct(5, 4);
    let p = pipeline(
        "size = [4, 5]\n[[ops]]\nop = \"affine\"\ninterpolation = \"nearest\"\nfill = [9, 99, 199]",
    );
    let d = Drawn::Affine {
        applied: true,
        angle: 0.0,
        translate: [2.0, -1.0],
        scale: 1.0,
        shear: [0.0, 0.0],
    };
    let out = apply_one(&p, &src, d);
    let expected = image(5, 4, |x, y| {
        if x >= 2 && y < 3 {
            px(&src, x - 2, y + 1)
        } else {
            [9, 99, 199]
        }
    });
    assert_eq!(out, expected.into_raw());
}

#[test]
fn random_resized_crop_without_resampling_is_a_plain_crop() {
    let src = distinct(7, 5);
    for interp in ["nearest", "bilinear"] {
        let p = pipeline(&format!(
            "size = [3, 4]\n[[ops]]\nop = \"random_resized_crop\"\ninterpolation = \"{interp}\""
        ));
        let out = apply_one(
            &p,
            &src,
            Drawn::RandomResizedCrop {
                top: 2,
                left: 1,
                height: 3,
                width: 4,
            },
        );
        assert_eq!(at(&out, 4, 0, 0), px(&src, 1, 2), "{interp}");
        assert_eq!(at(&out, 4, 3, 2), px(&src, 4, 4), "{interp}");
        assert_eq!(
            out,
            image(4, 3, |x, y| px(&src, x + 1, y + 2)).into_raw(),
            "{interp}"
        );
    }
}

#[test]
fn random_resized_crop_halving_uses_the_antialias_triangle() {
    // A 2x downscale is torchvision's antialias=True (it used to be one
    // bilinear tap, a 2x2 average, which is antialias=False): a triangle of
    // support 2 source pixels around each output centre, cut at the crop box
    // and renormalised. Along each axis of the 4-pixel box, output 0 (centre
    // 1) takes pixels 0, 1, 2 with weights 3, 3, 1 (/ 7), output 1 (centre 3)
    // pixels 1, 2, 3 with 1, 3, 3. Rows first, rounded to u8, then columns;
    // the fixed-point weights may move a value by 1.
    let src = distinct(6, 6);
    let p = pipeline("size = 2\n[[ops]]\nop = \"random_resized_crop\"");
    let out = apply_one(
        &p,
        &src,
        Drawn::RandomResizedCrop {
            top: 1,
            left: 2,
            height: 4,
            width: 4,
        },
    );
    let taps = |o: u32| -> [(u32, f64); 3] {
        if o == 0 {
            [(0, 3.0 / 7.0), (1, 3.0 / 7.0), (2, 1.0 / 7.0)]
        } else {
            [(1, 1.0 / 7.0), (2, 3.0 / 7.0), (3, 3.0 / 7.0)]
        }
    };
    let expected = image(2, 2, |x, y| {
        [0, 1, 2].map(|k| {
            let row = |r: u32| {
                round_half_up(
                    taps(x)
                        .iter()
                        .map(|&(i, w)| w * px(&src, 2 + i, 1 + r)[k] as f64)
                        .sum::<f64>(),
                )
            };
            round_half_up(taps(y).iter().map(|&(j, w)| w * row(j) as f64).sum::<f64>())
        })
    });
    for (i, (a, b)) in out.iter().zip(expected.as_raw()).enumerate() {
        assert!(a.abs_diff(*b) <= 1, "value {i}: {a} vs {b}");
    }
}

#[test]
fn center_crop_uses_torchvision_box_with_bankers_rounding() {
    // torchvision: top = int(round((H - h) / 2)), Python's round (half to even).
    // (9 - 4) / 2 = 2.5 -> 2 (half up would give 3); (7 - 4) / 2 = 1.5 -> 2 (floor would give 1).
    let src = image(7, 9, |x, y| {
        [(10 * x + y) as u8, (3 * y) as u8, (x * y) as u8]
    });
    let p = pipeline("size = 4\n[[ops]]\nop = \"center_crop\"\nsize = 4");
    let drawn = p.draw(0, 0, 0, 0, 7, 9);
    assert_eq!(
        drawn,
        vec![Drawn::CenterCrop {
            top: 2,
            left: 2,
            height: 4,
            width: 4
        }]
    );
    let aug = Augmenter::new(p.clone(), Backend::Cpu).unwrap();
    let batch = aug
        .augment(Request::new(std::slice::from_ref(&src)).key(BatchKey::new(3, 1, 5)))
        .unwrap();
    assert_eq!(
        batch.records[0].ops, drawn,
        "center_crop draws nothing random"
    );
    let out = batch.sample_u8(0).unwrap();
    assert_eq!(
        out,
        image(4, 4, |x, y| px(&src, x + 2, y + 2))
            .as_raw()
            .as_slice()
    );

    // (5 - 4) / 2 = 0.5 -> 0; [height, width] order of sizes.
    let p = pipeline("size = [4, 2]\n[[ops]]\nop = \"center_crop\"\nsize = [4, 2]");
    assert_eq!(
        p.draw(0, 0, 0, 0, 5, 5),
        vec![Drawn::CenterCrop {
            top: 0,
            left: 2,
            height: 4,
            width: 2
        }]
    );
    let p = pipeline("size = [2, 2]\n[[ops]]\nop = \"center_crop\"\nsize = 2");
    assert_eq!(
        p.draw(0, 0, 0, 0, 7, 7),
        vec![Drawn::CenterCrop {
            top: 2,
            left: 2,
            height: 2,
            width: 2
        }]
    );
}

#[test]
fn center_crop_larger_than_the_image_pads_with_zeros() {
    // torchvision pads (crop - size) // 2 on the left / top and the rest on the right / bottom.
    let src = distinct(4, 3);
    let p = pipeline("size = [6, 7]\n[[ops]]\nop = \"center_crop\"\nsize = [6, 7]");
    let drawn = p.draw(0, 0, 0, 0, 4, 3);
    assert_eq!(
        drawn,
        vec![Drawn::CenterCrop {
            top: -1,
            left: -1,
            height: 6,
            width: 7
        }]
    );
    let out = apply_u8(&p, std::slice::from_ref(&src), vec![drawn]).remove(0);
    let expected = image(7, 6, |x, y| {
        if (1..5).contains(&x) && (1..4).contains(&y) {
            px(&src, x - 1, y - 1)
        } else {
            [0, 0, 0]
        }
    });
    assert_eq!(out, expected.into_raw());
}

#[test]
fn random_crop_padding_shows_fill_and_exact_pixels() {
    let src = distinct(6, 5);
    let fill = [10, 200, 30];
    let p = pipeline("size = [4, 5]\n[[ops]]\nop = \"random_crop\"\nsize = [4, 5]\npadding = 2\nfill = [10, 200, 30]");
    // Top-left: two rows and one column of padding.
    let out = apply_one(
        &p,
        &src,
        Drawn::RandomCrop {
            top: -2,
            left: -1,
            height: 4,
            width: 5,
        },
    );
    assert_eq!(at(&out, 5, 0, 0), fill);
    assert_eq!(at(&out, 5, 4, 1), fill);
    assert_eq!(at(&out, 5, 0, 3), fill);
    assert_eq!(at(&out, 5, 1, 2), px(&src, 0, 0));
    let expected = image(5, 4, |x, y| {
        if x >= 1 && y >= 2 {
            px(&src, x - 1, y - 2)
        } else {
            fill
        }
    });
    assert_eq!(out, expected.into_raw());
    // Bottom-right: the crop runs two columns and two rows past the image.
    let out = apply_one(
        &p,
        &src,
        Drawn::RandomCrop {
            top: 3,
            left: 3,
            height: 4,
            width: 5,
        },
    );
    let expected = image(5, 4, |x, y| {
        if x < 3 && y < 2 {
            px(&src, x + 3, y + 3)
        } else {
            fill
        }
    });
    assert_eq!(out, expected.into_raw());
    // Inside: no fill at all.
    let out = apply_one(
        &p,
        &src,
        Drawn::RandomCrop {
            top: 1,
            left: 0,
            height: 4,
            width: 5,
        },
    );
    assert_eq!(out, image(5, 4, |x, y| px(&src, x, y + 1)).into_raw());
}

#[test]
fn random_crop_draws_every_offset_of_the_padded_canvas() {
    // 6x5 image, padding 2: top in [-2, 5 + 2 - 4], left in [-2, 6 + 2 - 5], uniform integers.
    let p = pipeline("size = [4, 5]\n[[ops]]\nop = \"random_crop\"\nsize = [4, 5]\npadding = 2");
    let mut tops = HashMap::new();
    let mut lefts = HashMap::new();
    let n = 6000;
    for i in 0..n {
        match p.draw(11, 0, i, 0, 6, 5).as_slice() {
            [Drawn::RandomCrop {
                top,
                left,
                height: 4,
                width: 5,
            }] => {
                *tops.entry(*top).or_insert(0u32) += 1;
                *lefts.entry(*left).or_insert(0u32) += 1;
            }
            other => panic!("unexpected draw {other:?}"),
        }
    }
    let mut t: Vec<i64> = tops.keys().copied().collect();
    let mut l: Vec<i64> = lefts.keys().copied().collect();
    t.sort();
    l.sort();
    assert_eq!(t, (-2..=3).collect::<Vec<_>>());
    assert_eq!(l, (-2..=3).collect::<Vec<_>>());
    for (k, c) in tops.iter().chain(lefts.iter()) {
        // 1000 expected each, sd about 29.
        assert!(
            (850..=1150).contains(c),
            "offset {k} drawn {c} times of {n}"
        );
    }
}

// ---------------------------------------------------------------- colour

#[test]
fn brightness_scales_and_rounds_half_up() {
    let p = pipeline("size = 2\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.5");
    let images: Vec<RgbImage> = (0..=255u8)
        .map(|v| uniform_image(2, 2, [v, v, v]))
        .collect();
    // Factors exact in binary (so v * f is exact and its ties are real ties), and 0.8 (no ties).
    for f in [0.0, 0.25, 0.5, 0.75, 0.8, 1.0, 1.25, 1.375, 2.0, 3.5] {
        let drawn = (0..images.len())
            .map(|_| vec![jitter(&[ColorStep::Brightness], f, 1.0, 1.0, 0.0)])
            .collect();
        let outs = apply_u8(&p, &images, drawn);
        for (v, out) in outs.iter().enumerate() {
            let want = round_half_up((v as f64 * f).min(255.0));
            assert!(
                out.iter().all(|&o| o == want),
                "v = {v}, f = {f}: got {:?}, want {want}",
                &out[..3]
            );
        }
    }
    // Spot values by hand: 101 * 0.5 = 50.5 -> 51; 200 * 1.3 = 260 -> 255; 77 * 0.25 = 19.25 -> 19.
    let im = [uniform_image(2, 2, [101, 200, 77])];
    let out = apply_u8(
        &p,
        &im,
        vec![vec![jitter(&[ColorStep::Brightness], 0.5, 1.0, 1.0, 0.0)]],
    )
    .remove(0);
    assert_eq!(at(&out, 2, 1, 1), [51, 100, 39]);
    let out = apply_u8(
        &p,
        &im,
        vec![vec![jitter(&[ColorStep::Brightness], 1.3, 1.0, 1.0, 0.0)]],
    )
    .remove(0);
    assert_eq!(at(&out, 2, 0, 0), [131, 255, 100]);
}

/// A 4x4 checkerboard of two colours.
fn checkerboard(a: [u8; 3], b: [u8; 3]) -> RgbImage {
    image(4, 4, |x, y| if (x + y) % 2 == 0 { a } else { b })
}

/// Reference colour program in f64 on [0, 255] values (SEMANTICS.md), for a
/// two-valued image: returns the two output colours. Hue is not modelled.
fn two_colour_reference(a: [u8; 3], b: [u8; 3], steps: &[(ColorStep, f64)]) -> ([u8; 3], [u8; 3]) {
    let mut ca = a.map(|v| v as f64);
    let mut cb = b.map(|v| v as f64);
    let blend = |x: [f64; 3], y: [f64; 3], r: f64| {
        [0, 1, 2].map(|k| (r * x[k] + (1.0 - r) * y[k]).clamp(0.0, 255.0))
    };
    for &(step, f) in steps {
        match step {
            ColorStep::Brightness => {
                ca = blend(ca, [0.0; 3], f);
                cb = blend(cb, [0.0; 3], f);
            }
            ColorStep::Contrast => {
                let m = (gray(ca) + gray(cb)) / 2.0;
                ca = blend(ca, [m; 3], f);
                cb = blend(cb, [m; 3], f);
            }
            ColorStep::Saturation => {
                ca = blend(ca, [gray(ca); 3], f);
                cb = blend(cb, [gray(cb); 3], f);
            }
            ColorStep::Hue => unreachable!("not modelled"),
        }
    }
    (ca.map(round_half_up), cb.map(round_half_up))
}

fn run_two_colour(
    a: [u8; 3],
    b: [u8; 3],
    order: &[ColorStep],
    bri: f64,
    con: f64,
    sat: f64,
) -> ([u8; 3], [u8; 3]) {
    let out = apply_u8(
        &jitter_pipeline(4),
        &[checkerboard(a, b)],
        vec![vec![jitter(order, bri, con, sat, 0.0)]],
    )
    .remove(0);
    for y in 0..4 {
        for x in 0..4 {
            let want = if (x + y) % 2 == 0 {
                at(&out, 4, 0, 0)
            } else {
                at(&out, 4, 1, 0)
            };
            assert_eq!(
                at(&out, 4, x, y),
                want,
                "a two-valued image stays two-valued"
            );
        }
    }
    (at(&out, 4, 0, 0), at(&out, 4, 1, 0))
}

#[test]
fn contrast_blends_with_the_mean_grey_of_the_image() {
    let (a, b) = ([200, 40, 90], [20, 180, 60]);
    // By hand: grey(a) = 59.78 + 23.48 + 10.26 = 93.52, grey(b) = 5.978 + 105.66 + 6.84 = 118.478,
    // mean 105.999. f = 0.6: a -> 0.6 a + 0.4 * 105.999 = (162.40, 66.40, 96.40).
    let got = run_two_colour(a, b, &[ColorStep::Contrast], 1.0, 0.6, 1.0);
    assert_eq!(got, ([162, 66, 96], [54, 150, 78]));
    assert_eq!(
        got,
        two_colour_reference(a, b, &[(ColorStep::Contrast, 0.6)])
    );
    // f = 1.8 pushes values out of range: clamped. a -> 1.8 a - 0.8 * 105.999 = (275.2, -12.8, 77.2).
    let got = run_two_colour(a, b, &[ColorStep::Contrast], 1.0, 1.8, 1.0);
    assert_eq!(got, ([255, 0, 77], [0, 239, 23]));
    assert_eq!(
        got,
        two_colour_reference(a, b, &[(ColorStep::Contrast, 1.8)])
    );
    // f = 0: every pixel becomes the mean grey, 105.999 -> 106.
    let got = run_two_colour(a, b, &[ColorStep::Contrast], 1.0, 0.0, 1.0);
    assert_eq!(got, ([106; 3], [106; 3]));
}

#[test]
fn contrast_sees_the_image_as_it_is_at_that_step() {
    // With clamping, brightness and contrast do not commute: the order drawn matters
    // and the mean is taken after the steps before it.
    let (a, b) = ([200, 40, 90], [20, 180, 60]);
    let bc = run_two_colour(
        a,
        b,
        &[ColorStep::Brightness, ColorStep::Contrast],
        0.4,
        1.8,
        1.0,
    );
    let cb = run_two_colour(
        a,
        b,
        &[ColorStep::Contrast, ColorStep::Brightness],
        0.4,
        1.8,
        1.0,
    );
    // By hand, brightness first: a' = (80, 16, 36), mean 42.3996; 1.8 * 80 - 0.8 * 42.3996 = 110.08.
    // Contrast first: 255 (clamped) * 0.4 = 102.
    assert_eq!(bc.0[0], 110);
    assert_eq!(cb.0[0], 102);
    assert_eq!(
        bc,
        two_colour_reference(
            a,
            b,
            &[(ColorStep::Brightness, 0.4), (ColorStep::Contrast, 1.8)]
        )
    );
    assert_eq!(
        cb,
        two_colour_reference(
            a,
            b,
            &[(ColorStep::Contrast, 1.8), (ColorStep::Brightness, 0.4)]
        )
    );
    // Three steps, with clamping in the saturation step.
    let order = [
        ColorStep::Saturation,
        ColorStep::Contrast,
        ColorStep::Brightness,
    ];
    let got = run_two_colour(a, b, &order, 0.9, 0.7, 1.6);
    let want = two_colour_reference(
        a,
        b,
        &[
            (ColorStep::Saturation, 1.6),
            (ColorStep::Contrast, 0.7),
            (ColorStep::Brightness, 0.9),
        ],
    );
    assert_eq!(got, want);
}

#[test]
fn saturation_zero_gives_the_itu601_grey() {
    let colours = [
        [200, 100, 50],
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [255, 255, 255],
        [0, 0, 0],
        [255, 164, 0],
        [17, 99, 240],
    ];
    let images: Vec<RgbImage> = colours.iter().map(|&c| uniform_image(2, 2, c)).collect();
    let drawn = colours
        .iter()
        .map(|_| vec![jitter(&[ColorStep::Saturation], 1.0, 1.0, 0.0, 0.0)])
        .collect();
    let outs = apply_u8(&jitter_pipeline(2), &images, drawn);
    // By hand: 0.2989 * 200 + 0.587 * 100 + 0.114 * 50 = 124.18; pure red 76.22, green 149.685,
    // blue 29.07, white 254.97; (255, 164, 0) gives 172.4875 (with 0.299 for red it would round to 173).
    let by_hand = [124, 76, 150, 29, 255, 0, 172];
    for (i, (c, out)) in colours.iter().zip(&outs).enumerate() {
        let g = round_half_up(gray(c.map(|v| v as f64)));
        if let Some(&h) = by_hand.get(i) {
            assert_eq!(g, h, "hand value for {c:?}");
        }
        assert_eq!(at(out, 2, 1, 1), [g; 3], "saturation 0 of {c:?}");
    }
    // Saturation 0.5 of (200, 100, 50): 0.5 x + 0.5 * 124.18 = (162.09, 112.09, 87.09).
    let out = apply_u8(
        &jitter_pipeline(2),
        &images[..1],
        vec![vec![jitter(&[ColorStep::Saturation], 1.0, 1.0, 0.5, 0.0)]],
    );
    assert_eq!(at(&out[0], 2, 0, 0), [162, 112, 87]);
}

#[test]
fn hue_rotates_around_the_colour_wheel() {
    let red = [255, 0, 0];
    let cases: [([u8; 3], f64, [u8; 3]); 8] = [
        (red, 0.5, [0, 255, 255]),
        (red, -0.5, [0, 255, 255]),
        (red, 1.0 / 3.0, [0, 255, 0]),
        (red, -1.0 / 3.0, [0, 0, 255]),
        (red, 1.0 / 6.0, [255, 255, 0]),
        (red, 0.0, red),
        // h = 20 degrees, s = 0.75, v = 200: + 90 degrees gives h = 110: (q, v, p) = (75, 200, 50).
        ([200, 100, 50], 0.25, [75, 200, 50]),
        // Greys have no hue.
        ([128, 128, 128], 0.3, [128, 128, 128]),
    ];
    let images: Vec<RgbImage> = cases.iter().map(|c| uniform_image(2, 2, c.0)).collect();
    let drawn = cases
        .iter()
        .map(|c| vec![jitter(&[ColorStep::Hue], 1.0, 1.0, 1.0, c.1)])
        .collect();
    let outs = apply_u8(&jitter_pipeline(2), &images, drawn);
    for (c, out) in cases.iter().zip(&outs) {
        assert_eq!(at(out, 2, 0, 1), c.2, "hue {} of {:?}", c.1, c.0);
    }
}

#[test]
fn grayscale_op_replicates_the_grey() {
    let src = distinct(3, 2);
    let p = pipeline("size = [2, 3]\n[[ops]]\nop = \"grayscale\"");
    let out = apply_one(&p, &src, Drawn::Grayscale { applied: true });
    let expected = image(3, 2, |x, y| {
        [round_half_up(gray(px(&src, x, y).map(|v| v as f64))); 3]
    });
    assert_eq!(out, expected.into_raw());
    // By hand for pixel 0 = (1, 250, 20): 0.2989 + 146.75 + 2.28 = 149.33 -> 149.
    assert_eq!(at(&out, 3, 0, 0), [149; 3]);
    let kept = apply_one(&p, &src, Drawn::Grayscale { applied: false });
    assert_eq!(kept, src.into_raw());
}

#[test]
fn color_jitter_not_applied_is_the_identity() {
    let src = distinct(4, 4);
    let d = Drawn::ColorJitter {
        applied: false,
        brightness: 1.0,
        contrast: 1.0,
        saturation: 1.0,
        hue: 0.0,
        order: vec![],
    };
    assert_eq!(
        apply_one(&jitter_pipeline(4), &src, d),
        src.clone().into_raw()
    );
    // Neutral factors in every step are the identity as well.
    let order = [
        ColorStep::Hue,
        ColorStep::Contrast,
        ColorStep::Saturation,
        ColorStep::Brightness,
    ];
    assert_eq!(
        apply_one(
            &jitter_pipeline(4),
            &src,
            jitter(&order, 1.0, 1.0, 1.0, 0.0)
        ),
        src.into_raw()
    );
}

// ---------------------------------------------------------------- output formats

#[test]
fn normalize_writes_chw_floats() {
    let src = image(3, 2, |x, y| match (x, y) {
        (0, 0) => [0, 255, 128],
        (2, 1) => [255, 0, 1],
        _ => [
            (40 * x + 9 * y) as u8,
            (17 + 60 * y) as u8,
            (200 - 30 * x) as u8,
        ],
    });
    let mean = [0.5, 0.4, 0.3];
    let std = [0.2, 0.25, 0.5];
    let p = pipeline(
        "size = [2, 3]\nformat = \"f32_chw\"\n[[ops]]\nop = \"normalize\"\nmean = [0.5, 0.4, 0.3]\nstd = [0.2, 0.25, 0.5]",
    );
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let batch = aug
        .augment(
            Request::new(std::slice::from_ref(&src))
                .params(&[vec![Drawn::Normalize {}]])
                .indices(&[0]),
        )
        .unwrap();
    assert_eq!(batch.shape, [1, 3, 2, 3]);
    assert!(batch.sample_u8(0).is_none());
    let out = batch.sample_f32(0).unwrap();
    assert_eq!(out.len(), 18);
    for c in 0..3 {
        for y in 0..2u32 {
            for x in 0..3u32 {
                let v = px(&src, x, y)[c] as f64;
                let want = (v / 255.0 - mean[c]) / std[c];
                let got = out[c * 6 + (y * 3 + x) as usize] as f64;
                assert!(
                    (got - want).abs() <= 1e-6,
                    "channel {c} at ({x}, {y}): {got} vs {want}"
                );
            }
        }
    }
    // By hand: red of (0, 0) is 0 -> (0 - 0.5) / 0.2 = -2.5; green 255 -> 0.6 / 0.25 = 2.4.
    assert!((out[0] + 2.5).abs() < 1e-6);
    assert!((out[6] - 2.4).abs() < 1e-6);
    match batch.data {
        Tensor::F32(ref v) => assert_eq!(v.len(), 18),
        _ => panic!("f32_chw gave another type"),
    }
}

#[test]
fn f32_without_normalize_is_x_over_255() {
    let src = distinct(2, 3);
    let p = pipeline("size = [3, 2]\nformat = \"f32_chw\"\n[[ops]]\nop = \"vertical_flip\"");
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let batch = aug
        .augment(
            Request::new(std::slice::from_ref(&src))
                .params(&[vec![Drawn::VerticalFlip { applied: false }]])
                .indices(&[0]),
        )
        .unwrap();
    assert_eq!(batch.shape, [1, 3, 3, 2]);
    let out = batch.sample_f32(0).unwrap();
    for c in 0..3 {
        for y in 0..3u32 {
            for x in 0..2u32 {
                let want = px(&src, x, y)[c] as f64 / 255.0;
                let got = out[c * 6 + (y * 2 + x) as usize] as f64;
                assert!(
                    (got - want).abs() <= 1e-6,
                    "channel {c} at ({x}, {y}): {got} vs {want}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- distributions

const DRAWS: u64 = 20_000;

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// E[area fraction] of torchvision's RandomResizedCrop (scale (0.08, 1), ratio
/// (3/4, 4/3)) on a 4:3 image, by quadrature over log-ratio: the crop fits when
/// s <= 0.75 r (its height), always in width; up to 10 tries, then the whole image.
fn expected_rrc_area_4_3() -> f64 {
    let (lo, hi) = ((0.75f64).ln(), (4.0f64 / 3.0).ln());
    let n = 100_000;
    let (mut p_acc, mut s_acc) = (0.0, 0.0);
    for i in 0..n {
        let t = lo + (hi - lo) * (i as f64 + 0.5) / n as f64;
        let c = (0.75 * t.exp()).min(1.0);
        p_acc += (c - 0.08).max(0.0) / 0.92;
        s_acc += (c * c - 0.0064).max(0.0) / 2.0 / 0.92;
    }
    let q = p_acc / n as f64;
    let fail = (1.0 - q).powi(10);
    (1.0 - fail) * (s_acc / p_acc) + fail
}

#[test]
fn random_resized_crop_box_distribution() {
    let p = pipeline("size = 224\n[[ops]]\nop = \"random_resized_crop\"");
    let (w, h) = (500i64, 375i64);
    let mut areas = Vec::new();
    let mut lefts = Vec::new();
    for i in 0..DRAWS {
        let d = p.draw(7, 2, i, 0, w as u32, h as u32);
        let [Drawn::RandomResizedCrop {
            top,
            left,
            height,
            width,
        }] = d.as_slice()
        else {
            panic!("unexpected draw {d:?}")
        };
        assert!(
            *top >= 0 && *left >= 0 && top + height <= h && left + width <= w,
            "box outside: {d:?}"
        );
        let frac = (width * height) as f64 / (w * h) as f64;
        // Rounding of width and height moves the area by about (w + h) / 2 pixels.
        assert!(
            (0.08 - 0.002..=1.0).contains(&frac),
            "area fraction {frac}: {d:?}"
        );
        let r = *width as f64 / *height as f64;
        assert!(
            (0.75 * 0.99..=4.0 / 3.0 * 1.01).contains(&r),
            "aspect ratio {r}: {d:?}"
        );
        areas.push(frac);
        lefts.push((*left as f64 + 0.5) / (w - width + 1) as f64);
    }
    let want = expected_rrc_area_4_3();
    let got = mean(&areas);
    // sd of the area is about 0.25: standard error 0.0018.
    assert!(
        (got - want).abs() < 0.008,
        "mean area fraction {got}, expected {want}"
    );
    assert!(
        areas.iter().any(|&a| a < 0.1) && areas.iter().any(|&a| a > 0.95),
        "the whole scale range is used"
    );
    // left is uniform over its allowed range.
    assert!(
        (mean(&lefts) - 0.5).abs() < 0.01,
        "mean relative left {}",
        mean(&lefts)
    );
}

#[test]
fn random_resized_crop_falls_back_to_a_clamped_centre_crop() {
    // No crop of area >= 0.08 * 20000 fits a 10-pixel side: all 10 tries fail.
    let p = pipeline("size = 32\n[[ops]]\nop = \"random_resized_crop\"");
    for i in 0..1000 {
        // torchvision: w = round(h * max_ratio) = round(13.33) = 13, centred with integer division.
        assert_eq!(
            p.draw(1, 0, i, 0, 2000, 10),
            vec![Drawn::RandomResizedCrop {
                top: 0,
                left: 993,
                height: 10,
                width: 13
            }],
            "wide, index {i}"
        );
        assert_eq!(
            p.draw(1, 0, i, 0, 10, 2000),
            vec![Drawn::RandomResizedCrop {
                top: 993,
                left: 0,
                height: 13,
                width: 10
            }],
            "tall, index {i}"
        );
    }
}

#[test]
fn color_jitter_factor_distribution() {
    let p = pipeline("size = 32\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.4\ncontrast = 0.4\nsaturation = 0.4\nhue = 0.1");
    let (mut b, mut c, mut s, mut h) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut orders: HashMap<Vec<&str>, u32> = HashMap::new();
    for i in 0..DRAWS {
        let d = p.draw(3, 0, i, 0, 64, 48);
        let [Drawn::ColorJitter {
            applied,
            brightness,
            contrast,
            saturation,
            hue,
            order,
        }] = d.as_slice()
        else {
            panic!("unexpected draw {d:?}")
        };
        assert!(*applied);
        for (name, f) in [
            ("brightness", brightness),
            ("contrast", contrast),
            ("saturation", saturation),
        ] {
            assert!((0.6..=1.4).contains(f), "{name} factor {f}");
        }
        assert!((-0.1..=0.1).contains(hue), "hue {hue}");
        b.push(*brightness);
        c.push(*contrast);
        s.push(*saturation);
        h.push(*hue);
        *orders
            .entry(order.iter().map(|s| s.name()).collect())
            .or_insert(0) += 1;
    }
    // U(0.6, 1.4): sd 0.23, standard error 0.0016.
    for (name, xs) in [("brightness", &b), ("contrast", &c), ("saturation", &s)] {
        assert!((mean(xs) - 1.0).abs() < 0.008, "{name} mean {}", mean(xs));
        let below = xs.iter().filter(|&&x| x < 1.0).count() as f64 / xs.len() as f64;
        assert!((below - 0.5).abs() < 0.02, "{name}: {below} below 1");
        assert!(
            xs.iter().any(|&x| x < 0.62) && xs.iter().any(|&x| x > 1.38),
            "{name} covers its range"
        );
    }
    assert!(mean(&h).abs() < 0.002, "hue mean {}", mean(&h));
    assert!(h.iter().any(|&x| x < -0.095) && h.iter().any(|&x| x > 0.095));
    // Factors are drawn independently of one another.
    let cov = mean(
        &b.iter()
            .zip(&c)
            .map(|(x, y)| (x - 1.0) * (y - 1.0))
            .collect::<Vec<_>>(),
    );
    assert!(cov.abs() < 0.002, "brightness / contrast covariance {cov}");
    // Every order of the four steps, each about 1/24 of the time (sd 28 of 833).
    assert_eq!(orders.len(), 24, "orders seen: {orders:?}");
    for (order, n) in &orders {
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, ["brightness", "contrast", "hue", "saturation"]);
        assert!((690..=980).contains(n), "order {order:?} drawn {n} times");
    }
}

#[test]
fn color_jitter_orders_only_hold_configured_steps() {
    let p = pipeline("size = 32\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.2\nhue = 0.05");
    let mut seen = HashMap::new();
    for i in 0..400 {
        let d = p.draw(0, 0, i, 0, 8, 8);
        let [Drawn::ColorJitter {
            order,
            contrast,
            saturation,
            ..
        }] = d.as_slice()
        else {
            panic!("{d:?}")
        };
        assert_eq!(
            (*contrast, *saturation),
            (1.0, 1.0),
            "unconfigured factors stay neutral"
        );
        *seen
            .entry(order.iter().map(|s| s.name()).collect::<Vec<_>>())
            .or_insert(0u32) += 1;
    }
    let mut keys: Vec<_> = seen.keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![vec!["brightness", "hue"], vec!["hue", "brightness"]]
    );
}

fn flip_frequency(text: &str) -> f64 {
    let p = pipeline(text);
    let hits = (0..DRAWS)
        .filter(|&i| match p.draw(5, 1, i, 0, 40, 30).as_slice() {
            [Drawn::HorizontalFlip { applied }] | [Drawn::VerticalFlip { applied }] => *applied,
            other => panic!("unexpected draw {other:?}"),
        })
        .count();
    hits as f64 / DRAWS as f64
}

#[test]
fn flip_probability() {
    let f = flip_frequency("size = 8\n[[ops]]\nop = \"horizontal_flip\"\np = 0.5");
    assert!(
        (f - 0.5).abs() < 0.02,
        "horizontal_flip p = 0.5 applied {f}"
    );
    let f = flip_frequency("size = 8\n[[ops]]\nop = \"horizontal_flip\"");
    assert!(
        (f - 0.5).abs() < 0.02,
        "horizontal_flip default p applied {f}"
    );
    let f = flip_frequency("size = 8\n[[ops]]\nop = \"vertical_flip\"\np = 0.2");
    assert!((f - 0.2).abs() < 0.02, "vertical_flip p = 0.2 applied {f}");
    assert_eq!(
        flip_frequency("size = 8\n[[ops]]\nop = \"vertical_flip\"\np = 0"),
        0.0
    );
    assert_eq!(
        flip_frequency("size = 8\n[[ops]]\nop = \"horizontal_flip\"\np = 1"),
        1.0
    );
}

#[test]
fn affine_parameter_distribution() {
    let p = pipeline(
        "size = [375, 500]\n[[ops]]\nop = \"affine\"\ndegrees = 30\ntranslate = [0.1, 0.1]\nscale = [0.8, 1.2]",
    );
    let (mut angles, mut txs, mut tys, mut scales) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..DRAWS {
        let d = p.draw(9, 4, i, 0, 500, 375);
        let [Drawn::Affine {
            applied,
            angle,
            translate,
            scale,
            shear,
        }] = d.as_slice()
        else {
            panic!("unexpected draw {d:?}")
        };
        assert!(*applied);
        assert!((-30.0..=30.0).contains(angle), "angle {angle}");
        let [tx, ty] = *translate;
        assert_eq!(tx.fract(), 0.0, "translate is whole pixels: {tx}");
        assert_eq!(ty.fract(), 0.0, "translate is whole pixels: {ty}");
        assert!(tx.abs() <= 50.0, "tx {tx} beyond 10% of 500");
        assert!(ty.abs() <= 37.5, "ty {ty} beyond 10% of 375");
        assert!((0.8..=1.2).contains(scale), "scale {scale}");
        assert_eq!(*shear, [0.0, 0.0], "no shear configured");
        angles.push(*angle);
        txs.push(tx);
        tys.push(ty);
        scales.push(*scale);
    }
    assert!(mean(&angles).abs() < 0.5, "angle mean {}", mean(&angles)); // se 0.12
    let inner = angles.iter().filter(|a| a.abs() < 15.0).count() as f64 / DRAWS as f64;
    assert!(
        (inner - 0.5).abs() < 0.02,
        "angles uniform: {inner} within +-15"
    );
    assert!(
        mean(&txs).abs() < 0.5 && mean(&tys).abs() < 0.4,
        "translate means {} {}",
        mean(&txs),
        mean(&tys)
    );
    assert_eq!(txs.iter().cloned().fold(f64::MIN, f64::max), 50.0);
    assert_eq!(txs.iter().cloned().fold(f64::MAX, f64::min), -50.0);
    assert_eq!(tys.iter().cloned().fold(f64::MIN, f64::max), 37.0);
    assert!(
        (mean(&scales) - 1.0).abs() < 0.004,
        "scale mean {}",
        mean(&scales)
    ); // se 0.0008
}

#[test]
fn draws_are_pure_functions_of_the_key() {
    let p = pipeline(&format!(
        "size = 32\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"horizontal_flip\"\n[[ops]]\nop = \"color_jitter\"\n{ALL_STEPS}"
    ));
    let a = p.draw(1, 2, 3, 0, 100, 80);
    assert_eq!(a, p.draw(1, 2, 3, 0, 100, 80));
    for other in [
        p.draw(2, 2, 3, 0, 100, 80),
        p.draw(1, 3, 3, 0, 100, 80),
        p.draw(1, 2, 4, 0, 100, 80),
        p.draw(1, 2, 3, 1, 100, 80),
    ] {
        assert_ne!(a, other, "seed, epoch, index and view each change the draw");
    }
}

#[test]
fn padding_modes_fold_like_torchvision() {
    // A 3-pixel row padded by 2 on each side (F.pad's modes): edge repeats
    // the end pixels, reflect mirrors about them, symmetric repeats them.
    let src = distinct(3, 2);
    for (mode, cols) in [
        ("edge", [0, 0, 0, 1, 2, 2, 2]),
        ("reflect", [2, 1, 0, 1, 2, 1, 0]),
        ("symmetric", [1, 0, 0, 1, 2, 2, 1]),
    ] {
        let p = pipeline(&format!(
            "size = [2, 7]\n[[ops]]\nop = \"random_crop\"\nsize = [2, 7]\npadding = [2, 0, 2, 0]\npadding_mode = \"{mode}\""
        ));
        let out = apply_one(
            &p,
            &src,
            Drawn::RandomCrop {
                top: 0,
                left: -2,
                height: 2,
                width: 7,
            },
        );
        let want = image(7, 2, |x, y| px(&src, cols[x as usize], y));
        assert_eq!(out, want.into_raw(), "{mode}");
    }
    // Folding pads the source: after another geometric op it is refused.
    let p = pipeline(
        "size = 8\n[[ops]]\nop = \"horizontal_flip\"\np = 1.0\n[[ops]]\nop = \"random_crop\"\nsize = 8\npadding = 2\npadding_mode = \"reflect\"",
    );
    let aug = Augmenter::new(p, Backend::Cpu).expect("cpu augmenter");
    let im = distinct(6, 6);
    let r = aug.augment(Request::new(std::slice::from_ref(&im)).params(&[vec![
        Drawn::HorizontalFlip { applied: true },
        Drawn::RandomCrop {
            top: -2,
            left: -2,
            height: 8,
            width: 8,
        },
    ]]));
    let Err(e) = r else {
        panic!("reflect padding after a flip was accepted")
    };
    assert!(e.to_string().contains("first geometric op"), "{e}");
}

/// `apply`'s op and explicit parameters on one image (CPU), u8 HWC bytes.
fn apply_explicit(op: &str, sets: &[(&str, &str)], im: &RgbImage) -> Vec<u8> {
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (p, d) = gpu_augment::explicit::explicit_op(op, &sets, im.width(), im.height())
        .unwrap_or_else(|e| panic!("{op}: {e}"));
    apply_one(&p, im, d)
}

#[test]
fn perspective_moves_the_start_points_onto_the_end_points() {
    // F.perspective(img, startpoints, endpoints): the content at each start
    // point shows at its end point. Start points 2 right and 1 down of the
    // end points: the image moves 2 left and 1 up, exactly, fill behind.
    let src = distinct(6, 5);
    let fill = [9, 99, 199];
    for interpolation in ["nearest", "bilinear"] {
        let out = apply_explicit(
            "perspective",
            &[
                ("startpoints", "2,1,5,1,5,4,2,4"),
                ("endpoints", "0,0,3,0,3,3,0,3"),
                ("fill", "9,99,199"),
                ("interpolation", interpolation),
            ],
            &src,
        );
        let want = image(6, 5, |x, y| {
            if x + 2 < 6 && y + 1 < 5 {
                px(&src, x + 2, y + 1)
            } else {
                fill
            }
        });
        assert_eq!(out, want.into_raw(), "{interpolation}");
    }
    // Start points at the corners are the default (RandomPerspective's).
    let src = image(40, 30, |x, y| {
        [(x * 6) as u8, (y * 8) as u8, ((x * y) % 251) as u8]
    });
    let end = ("endpoints", "4,2,37,0,39,29,1,25");
    assert_eq!(
        apply_explicit(
            "perspective",
            &[("startpoints", "0,0,39,0,39,29,0,29"), end],
            &src
        ),
        apply_explicit("perspective", &[end], &src)
    );
    // Start points equal to the end points: the identity.
    assert_eq!(
        apply_explicit(
            "perspective",
            &[("startpoints", "4,2,37,0,39,29,1,25"), end],
            &src
        ),
        src.clone().into_raw()
    );
}

#[test]
fn perspective_points_that_define_no_map_are_clear_errors() {
    let sets = |s: &[(&str, &str)]| -> Vec<(String, String)> {
        s.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let err = |s: &[(&str, &str)]| {
        gpu_augment::explicit::explicit_op("perspective", &sets(s), 20, 10)
            .err()
            .unwrap_or_else(|| panic!("{s:?} accepted"))
            .to_string()
    };
    let end = ("endpoints", "0,0,19,0,19,9,0,9");
    for (s, key) in [
        (vec![("startpoints", "1,2,3"), end], "startpoints"),
        (
            vec![("startpoints", "0,0,1.5,0,19,9,0,9"), end],
            "startpoints",
        ),
        // Three start points on a line.
        (
            vec![("startpoints", "0,0,5,0,10,0,0,9"), end],
            "startpoints",
        ),
        // Repeated end points.
        (vec![("endpoints", "0,0,0,0,19,9,0,9")], "endpoints"),
    ] {
        let e = err(&s);
        assert!(e.contains("`perspective`") && e.contains(key), "{s:?}: {e}");
    }
}
