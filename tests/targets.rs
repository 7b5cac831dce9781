//! Boxes, masks and keypoints move with their image.
//!
//! Tolerances: masks are exact (nearest, integer) against hand results and
//! between the backends; boxes and keypoints of flips, crops, resizes and
//! 90-degree rotations are exact up to f64 rounding (1e-9 px); over random
//! pipelines the targets agree with what the image shows (mask IoU >= 0.97
//! away from resampling edges, box IoU >= 0.9, keypoint within 1 px of the
//! painted dot's centre of mass).

mod common;

use gpu_augment::{
    Augmenter, Backend, BatchKey, BoxFormat, Boxes, Error, Keypoints, Mask, MaskData, Pipeline,
    Request, RgbImage, SampleTargets, TargetOptions, Targets, Tensor,
};

fn pipeline(text: &str) -> Pipeline {
    Pipeline::from_toml(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn cpu(text: &str) -> Augmenter {
    Augmenter::new(pipeline(text), Backend::Cpu).expect("cpu augmenter")
}

/// A w x h image whose pixel (x, y) has a distinct colour, and a u8 mask of
/// the same labels (x + 7 y mod 250), and a u16 one (x + w y).
fn labelled(w: u32, h: u32) -> (RgbImage, Mask, Mask) {
    let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 5) as u8, (y * 7) as u8, 9]));
    let m8 = Mask::u8(
        w,
        h,
        (0..h)
            .flat_map(|y| (0..w).map(move |x| ((x + 7 * y) % 250) as u8))
            .collect(),
    );
    let m16 = Mask::u16(
        w,
        h,
        (0..h)
            .flat_map(|y| (0..w).map(move |x| (x + w * y) as u16))
            .collect(),
    );
    (img, m8, m16)
}

fn one(aug: &Augmenter, img: &RgbImage, t: Targets) -> SampleTargets {
    let images = vec![img.clone()];
    let ts = vec![t];
    let b = aug
        .augment(Request::new(&images).targets(&ts))
        .expect("batch");
    b.targets.expect("targets").remove(0)
}

fn targets(masks: Vec<Mask>, boxes: Vec<[f64; 4]>, points: Vec<[f64; 3]>) -> Targets {
    let n = boxes.len();
    Targets {
        masks,
        boxes: Some(Boxes::new(BoxFormat::Xyxy, boxes, (0..n as u32).collect())),
        keypoints: Some(Keypoints { points }),
    }
}

fn close(a: [f64; 4], b: [f64; 4]) {
    for k in 0..4 {
        assert!((a[k] - b[k]).abs() < 1e-9, "{a:?} != {b:?}");
    }
}

/// Checks the output masks against `expect(x, y) -> Some((sx, sy))` (the
/// source pixel) or None (ignore).
fn check_masks(
    name: &str,
    st: &SampleTargets,
    src: (&Mask, &Mask),
    ow: u32,
    oh: u32,
    expect: impl Fn(u32, u32) -> Option<(u32, u32)>,
) {
    assert_eq!(st.masks.len(), 2, "{name}");
    for (m, s, ignore) in [(&st.masks[0], src.0, 255), (&st.masks[1], src.1, 65535)] {
        assert_eq!((m.width, m.height), (ow, oh), "{name}");
        for y in 0..oh {
            for x in 0..ow {
                let want = expect(x, y).map_or(ignore, |(sx, sy)| s.get(sx, sy));
                assert_eq!(m.get(x, y), want, "{name}: mask at ({x}, {y})");
            }
        }
    }
}

#[test]
fn horizontal_flip_is_exact() {
    let (img, m8, m16) = labelled(40, 30);
    let aug = cpu("size = [30, 40]\n[[ops]]\nop = \"horizontal_flip\"\np = 1.0");
    let t = targets(
        vec![m8.clone(), m16.clone()],
        vec![[5.0, 6.0, 15.0, 20.0]],
        vec![[5.5, 7.5, 2.0]],
    );
    let st = one(&aug, &img, t);
    close(
        st.boxes.as_ref().unwrap().coords[0],
        [25.0, 6.0, 35.0, 20.0],
    );
    assert_eq!(st.keypoints.as_ref().unwrap().points[0], [34.5, 7.5, 2.0]);
    check_masks("hflip", &st, (&m8, &m16), 40, 30, |x, y| Some((39 - x, y)));
    assert_eq!(st.forward_error, 0.0);
}

#[test]
fn rotation_by_90_degrees_is_exact_and_agrees_with_the_image() {
    let (img, m8, m16) = labelled(32, 32);
    let aug =
        cpu("size = 32\n[[ops]]\nop = \"affine\"\ndegrees = [90, 90]\ninterpolation = \"nearest\"");
    let t = targets(
        vec![m8.clone(), m16.clone()],
        vec![[4.0, 6.0, 10.0, 20.0]],
        vec![[5.5, 7.5, 1.0]],
    );
    let images = vec![img.clone()];
    let ts = vec![t];
    let b = aug
        .augment(Request::new(&images).targets(&ts))
        .expect("batch");
    let st = &b.targets.as_ref().unwrap()[0];
    // Source (x, y) lands on (32 - y, x): output pixel (x, y) shows source
    // pixel (y, 31 - x), in the image as in the targets.
    let bx = st.boxes.as_ref().unwrap().coords[0];
    for k in 0..4 {
        assert!(
            (bx[k] - [12.0, 4.0, 26.0, 10.0][k]).abs() < 1e-9,
            "box {bx:?}"
        );
    }
    let kp = st.keypoints.as_ref().unwrap().points[0];
    assert!(
        (kp[0] - 24.5).abs() < 1e-9 && (kp[1] - 5.5).abs() < 1e-9 && kp[2] == 1.0,
        "{kp:?}"
    );
    check_masks("rot90", st, (&m8, &m16), 32, 32, |x, y| Some((y, 31 - x)));
    let Tensor::U8(px) = &b.data else { panic!() };
    for y in 0..32u32 {
        for x in 0..32u32 {
            let o = ((y * 32 + x) * 3) as usize;
            assert_eq!(&px[o..o + 3], &img.get_pixel(y, 31 - x).0[..], "({x}, {y})");
        }
    }
}

#[test]
fn crop_is_exact_and_fills_outside_with_ignore() {
    let (img, m8, m16) = labelled(40, 30);
    let aug =
        cpu("size = [20, 25]\n[[ops]]\nop = \"crop\"\ntop = 5\nleft = 3\nheight = 20\nwidth = 25");
    let t = targets(
        vec![m8.clone(), m16.clone()],
        vec![[5.0, 6.0, 15.0, 20.0], [30.0, 1.0, 39.0, 4.0]],
        vec![[5.5, 7.5, 2.0], [1.5, 1.5, 2.0]],
    );
    let st = one(&aug, &img, t);
    let b = st.boxes.as_ref().unwrap();
    // The second box lies above the crop: dropped with its label.
    assert_eq!(b.coords.len(), 1);
    assert_eq!(b.labels, vec![0]);
    close(b.coords[0], [2.0, 1.0, 12.0, 15.0]);
    let kp = &st.keypoints.as_ref().unwrap().points;
    assert_eq!(kp[0], [2.5, 2.5, 2.0]);
    // Left the canvas: invisible but kept in its place.
    assert_eq!(kp[1][2], 0.0);
    check_masks("crop", &st, (&m8, &m16), 25, 20, |x, y| {
        Some((x + 3, y + 5))
    });
    // A crop reaching outside the image: pixels from outside take ignore.
    let aug = cpu(
        "size = [20, 25]\n[[ops]]\nop = \"crop\"\ntop = -4\nleft = -6\nheight = 20\nwidth = 25",
    );
    let st = one(
        &aug,
        &img,
        targets(vec![m8.clone(), m16.clone()], vec![], vec![]),
    );
    check_masks("crop-outside", &st, (&m8, &m16), 25, 20, |x, y| {
        (x >= 6 && y >= 4).then(|| (x - 6, y - 4))
    });
}

#[test]
fn resize_is_exact() {
    let (img, m8, m16) = labelled(40, 30);
    let aug = cpu("size = [60, 80]\n[[ops]]\nop = \"resize\"\nsize = [60, 80]");
    let t = targets(
        vec![m8.clone(), m16.clone()],
        vec![[5.0, 6.0, 15.0, 20.0]],
        vec![[5.5, 7.5, 2.0]],
    );
    let st = one(&aug, &img, t);
    close(
        st.boxes.as_ref().unwrap().coords[0],
        [10.0, 12.0, 30.0, 40.0],
    );
    assert_eq!(st.keypoints.as_ref().unwrap().points[0], [11.0, 15.0, 2.0]);
    check_masks("resize", &st, (&m8, &m16), 80, 60, |x, y| {
        Some((x / 2, y / 2))
    });
    // Downscale by 3 (a map that is not a power of 2).
    let aug = cpu("size = [10, 13]\n[[ops]]\nop = \"resize\"\nsize = [10, 13]");
    let st = one(
        &aug,
        &img,
        targets(
            vec![m8.clone(), m16.clone()],
            vec![[3.0, 3.0, 9.0, 6.0]],
            vec![],
        ),
    );
    let sx = 40.0 / 13.0;
    close(
        st.boxes.as_ref().unwrap().coords[0],
        [3.0 / sx, 1.0, 9.0 / sx, 2.0],
    );
    check_masks("resize-3x", &st, (&m8, &m16), 13, 10, |x, y| {
        Some((((x as f32 + 0.5) * (40.0f32 / 13.0)) as u32, 3 * y + 1))
    });
}

#[test]
fn box_formats_and_normalised_coordinates_round_trip() {
    let (img, _, _) = labelled(40, 30);
    let aug = cpu("size = [30, 40]\n[[ops]]\nop = \"horizontal_flip\"\np = 1.0");
    for (format, normalized, c, want) in [
        (
            BoxFormat::Xywh,
            false,
            [5.0, 6.0, 10.0, 14.0],
            [25.0, 6.0, 10.0, 14.0],
        ),
        (
            BoxFormat::Cxcywh,
            false,
            [10.0, 13.0, 10.0, 14.0],
            [30.0, 13.0, 10.0, 14.0],
        ),
        (
            BoxFormat::Xyxy,
            true,
            [0.125, 0.2, 0.375, 0.5],
            [0.625, 0.2, 0.875, 0.5],
        ),
    ] {
        let t = Targets {
            boxes: Some(Boxes {
                format,
                normalized,
                coords: vec![c],
                labels: vec![3],
            }),
            ..Targets::default()
        };
        let st = one(&aug, &img, t);
        let b = st.boxes.unwrap();
        assert_eq!(
            (b.format, b.normalized, b.labels.clone()),
            (format, normalized, vec![3])
        );
        close(b.coords[0], want);
    }
}

#[test]
fn flip_pairs_swap_after_a_mirroring_map_only() {
    let (img, _, _) = labelled(40, 30);
    let opts = TargetOptions {
        num_keypoints: Some(3),
        flip_pairs: vec![[0, 1]],
        ..TargetOptions::default()
    };
    let t = vec![Targets {
        keypoints: Some(Keypoints {
            points: vec![
                [5.5, 5.5, 2.0],
                [30.5, 5.5, 2.0],
                [20.5, 20.5, 2.0],
                [1.5, 1.5, 2.0],
                [2.5, 2.5, 2.0],
                [3.5, 3.5, 2.0],
            ],
        }),
        ..Targets::default()
    }];
    let images = vec![img];
    let run = |text: &str| {
        cpu(text)
            .augment(Request::new(&images).targets(&t).target_options(&opts))
            .expect("batch")
            .targets
            .unwrap()[0]
            .keypoints
            .clone()
            .unwrap()
            .points
    };
    let flipped = run("size = [30, 40]\n[[ops]]\nop = \"horizontal_flip\"\np = 1.0");
    // Point 0 (left) is now where point 1 went, and the other way round.
    assert_eq!(flipped[0], [9.5, 5.5, 2.0]);
    assert_eq!(flipped[1], [34.5, 5.5, 2.0]);
    assert_eq!(flipped[3], [37.5, 2.5, 2.0]);
    assert_eq!(flipped[4], [38.5, 1.5, 2.0]);
    // Both flips: a half turn, no mirror, no swap.
    let turned = run("size = [30, 40]\n[[ops]]\nop = \"horizontal_flip\"\np = 1.0\n[[ops]]\nop = \"vertical_flip\"\np = 1.0");
    assert_eq!(turned[0], [34.5, 24.5, 2.0]);
}

#[test]
fn visibility_filtering_drops_boxes_below_the_thresholds() {
    let (img, _, _) = labelled(40, 30);
    let aug =
        cpu("size = [20, 20]\n[[ops]]\nop = \"crop\"\ntop = 0\nleft = 0\nheight = 20\nwidth = 20");
    // Kept fractions: 1, 0.5 (half beyond x = 20), 0.2, and a 2x2 box.
    let boxes = vec![
        [2.0, 2.0, 12.0, 12.0],
        [15.0, 2.0, 25.0, 12.0],
        [18.0, 2.0, 28.0, 12.0],
        [5.0, 15.0, 7.0, 17.0],
    ];
    let t = vec![targets(vec![], boxes, vec![])];
    let images = vec![img];
    let kept = |o: TargetOptions| {
        aug.augment(Request::new(&images).targets(&t).target_options(&o))
            .expect("batch")
            .targets
            .unwrap()[0]
            .boxes
            .clone()
            .unwrap()
            .labels
    };
    assert_eq!(kept(TargetOptions::default()), vec![0, 1, 2, 3]);
    let o = TargetOptions {
        min_visibility: 0.4,
        ..TargetOptions::default()
    };
    assert_eq!(kept(o), vec![0, 1, 3]);
    let o = TargetOptions {
        min_visibility: 0.6,
        min_area: 5.0,
        ..TargetOptions::default()
    };
    assert_eq!(kept(o), vec![0]);
}

// ---- consistency over random pipelines ----

const W: u32 = 96;
const H: u32 = 80;
/// The painted rectangle (pixels [30, 60) x [20, 50)) and dot (3x3 at 74..77, 58..61).
const RECT: [f64; 4] = [30.0, 20.0, 60.0, 50.0];
const DOT: (f64, f64) = (75.5, 59.5);

fn painted() -> (RgbImage, Targets) {
    let img = RgbImage::from_fn(W, H, |x, y| {
        let r = (30..60).contains(&x) && (20..50).contains(&y);
        let d = (74..77).contains(&x) && (58..61).contains(&y);
        image::Rgb([if r { 250 } else { 0 }, if d { 250 } else { 0 }, 0])
    });
    let mask = Mask::u8(
        W,
        H,
        (0..H)
            .flat_map(|y| {
                (0..W).map(move |x| ((30..60).contains(&x) && (20..50).contains(&y)) as u8)
            })
            .collect(),
    );
    (
        img,
        targets(vec![mask], vec![RECT], vec![[DOT.0, DOT.1, 2.0]]),
    )
}

fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let i = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) * (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = |r: [f64; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    i / (area(a) + area(b) - i)
}

/// Checks one output sample's targets against its pixels (u8 HWC, `w` x `h`).
fn consistent(name: &str, px: &[u8], w: usize, h: usize, st: &SampleTargets) {
    let m = &st.masks[0];
    let MaskData::U8(mv) = &m.data else { panic!() };
    // Mask vs image where the image is clearly in or out of the rectangle.
    let (mut inter, mut union, mut painted_px) = (0usize, 0usize, 0usize);
    let mut bb = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for y in 0..h {
        for x in 0..w {
            let r = px[(y * w + x) * 3];
            if r >= 125 {
                painted_px += 1;
                bb = [
                    bb[0].min(x as f64),
                    bb[1].min(y as f64),
                    bb[2].max(x as f64 + 1.0),
                    bb[3].max(y as f64 + 1.0),
                ];
            }
            if (40..210).contains(&r) {
                continue; // a resampling edge
            }
            let (a, b) = (r >= 210, mv[y * w + x] == 1);
            inter += (a && b) as usize;
            union += (a || b) as usize;
        }
    }
    if painted_px < 30 {
        return; // the rectangle (nearly) left the canvas
    }
    let miou = inter as f64 / union.max(1) as f64;
    assert!(miou >= 0.97, "{name}: mask IoU {miou:.3}");
    let boxes = st.boxes.as_ref().unwrap();
    assert_eq!(boxes.coords.len(), 1, "{name}: the box was dropped");
    let biou = iou(boxes.coords[0], bb);
    assert!(
        biou >= 0.9,
        "{name}: box IoU {biou:.3} ({:?} vs painted {bb:?})",
        boxes.coords[0]
    );
    // The dot's centre of mass.
    let (mut sw, mut sx, mut sy) = (0.0, 0.0, 0.0);
    for y in 0..h {
        for x in 0..w {
            let g = px[(y * w + x) * 3 + 1] as f64;
            sw += g;
            sx += g * (x as f64 + 0.5);
            sy += g * (y as f64 + 0.5);
        }
    }
    let kp = st.keypoints.as_ref().unwrap().points[0];
    let inner = kp[0] >= 4.0 && kp[1] >= 4.0 && kp[0] <= w as f64 - 4.0 && kp[1] <= h as f64 - 4.0;
    if kp[2] > 0.0 && inner && sw > 0.0 {
        let d = (sx / sw - kp[0]).hypot(sy / sw - kp[1]);
        assert!(
            d <= 1.0,
            "{name}: keypoint {kp:?} is {d:.2} px from the dot's centre of mass ({:.2}, {:.2})",
            sx / sw,
            sy / sw
        );
    }
    if kp[2] == 0.0 && inner {
        // Invisible inside the canvas: it shows fill, so no dot there.
        assert!(
            sw < 250.0 * 4.0,
            "{name}: keypoint {kp:?} invisible but the dot shows"
        );
    }
}

const RANDOM_PIPELINES: &[&str] = &[
    "[[ops]]\nop = \"affine\"\ndegrees = 40\ntranslate = [0.1, 0.1]\nscale = [0.8, 1.2]\nshear = 10",
    "[[ops]]\nop = \"perspective\"\ndistortion = 0.4\np = 1.0",
    "[[ops]]\nop = \"random_resized_crop\"\nscale = [0.5, 1.0]",
    "[[ops]]\nop = \"random_field\"\nl = 16\ndx = 2\ndy = 2\nrotation = 3\nlog_scale = 0.05",
    "[[ops]]\nop = \"elastic\"\nalpha = 40\nsigma = 8",
    "[[ops]]\nop = \"rand_augment\"\nnum_ops = 2\nmagnitude = 9\nfill = 0\nops = [\"ShearX\", \"ShearY\", \"TranslateX\", \"TranslateY\", \"Rotate\"]",
    "[[ops]]\nop = \"horizontal_flip\"\n[[ops]]\nop = \"affine\"\ndegrees = 15\n[[ops]]\nop = \"random_resized_crop\"\nscale = [0.6, 1.0]\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.0",
];

#[test]
fn targets_follow_the_image_over_random_pipelines() {
    let (img, t) = painted();
    let images = vec![img; 8];
    let ts = vec![t; 8];
    for (p, body) in RANDOM_PIPELINES.iter().enumerate() {
        let text = format!("size = [{H}, {W}]\n{body}");
        let aug = cpu(&text);
        for seed in 0..6u64 {
            let b = aug
                .augment(
                    Request::new(&images)
                        .key(BatchKey::new(seed, 0, 0))
                        .targets(&ts),
                )
                .expect("batch");
            let st = b.targets.as_ref().unwrap();
            for (i, s) in st.iter().enumerate() {
                let px = b.sample_u8(i).unwrap();
                consistent(
                    &format!("pipeline {p} seed {seed} sample {i}"),
                    px,
                    W as usize,
                    H as usize,
                    s,
                );
                // A stated bound: 0 for matrices, finite and small for the smooth fields here.
                let field = body.contains("random_field") || body.contains("elastic");
                assert!(
                    if field {
                        s.forward_error < 1.0
                    } else {
                        s.forward_error == 0.0
                    },
                    "pipeline {p}: forward error bound {}",
                    s.forward_error
                );
            }
        }
    }
}

#[test]
fn targets_never_change_the_images_or_the_draws() {
    let (img, t) = painted();
    let images = vec![img; 4];
    let ts = vec![t; 4];
    for body in RANDOM_PIPELINES {
        let aug = cpu(&format!("size = [{H}, {W}]\n{body}"));
        let key = BatchKey::new(3, 1, 10);
        let a = aug.augment(Request::new(&images).key(key)).expect("plain");
        let b = aug
            .augment(Request::new(&images).key(key).targets(&ts))
            .expect("with targets");
        assert_eq!(a.records, b.records, "{body}");
        assert_eq!(a.data, b.data, "{body}");
        assert!(a.targets.is_none() && b.targets.is_some());
    }
}

#[test]
fn gpu_masks_match_the_cpu_exactly_and_images_are_unchanged() {
    let Some(g) = common::gpu() else { return };
    let (img, t) = painted();
    let (lab, m8, m16) = labelled(50, 37);
    let images = vec![img.clone(), lab.clone(), img, lab];
    let tl = Targets {
        masks: vec![m8, m16],
        ..Targets::default()
    };
    let wide = |t: &Targets| Targets {
        masks: vec![
            t.masks[0].clone(),
            Mask::u16(W, H, vec![7; (W * H) as usize]),
        ],
        ..t.clone()
    };
    // u8 and u16 masks cannot share a batch: one of each type per batch.
    let ts16 = [wide(&t), tl.clone(), wide(&t), tl];
    let mut bodies: Vec<String> = RANDOM_PIPELINES.iter().map(|s| s.to_string()).collect();
    bodies.push("[[ops]]\nop = \"random_crop\"\nsize = [40, 30]\npadding = [4, 6, 5, 3]\npad_if_needed = true\npadding_mode = \"reflect\"".into());
    bodies.push("[[ops]]\nop = \"crop\"\ntop = -5\nleft = -7\nheight = 60\nwidth = 70\n[[ops]]\nop = \"resize\"\nsize = [40, 36]\ninterpolation = \"nearest\"".into());
    bodies.push("[[ops]]\nop = \"random_erasing\"\np = 1.0\n[[ops]]\nop = \"grayscale\"".into());
    for body in &bodies {
        let text = format!("size = [{H}, {W}]\n{body}");
        let p = pipeline(&text);
        let c = Augmenter::new(p.clone(), Backend::Cpu).unwrap();
        let gg = Augmenter::with_gpu(p, g.clone()).unwrap();
        for seed in [0u64, 5] {
            let key = BatchKey::new(seed, 0, 0);
            let ts = &ts16[..];
            let a = c
                .augment(Request::new(&images).key(key).targets(ts))
                .unwrap();
            let b = gg
                .augment(Request::new(&images).key(key).targets(ts))
                .unwrap();
            let plain = gg.augment(Request::new(&images).key(key)).unwrap();
            assert_eq!(plain.data, b.data, "{body}: GPU image changed by targets");
            common::assert_close(&format!("targets-{seed}"), &a, &b, [0.0; 3], [1.0; 3]);
            let (ta, tb) = (a.targets.unwrap(), b.targets.unwrap());
            for (i, (x, y)) in ta.iter().zip(&tb).enumerate() {
                for (j, (mx, my)) in x.masks.iter().zip(&y.masks).enumerate() {
                    let (w, h) = (mx.width, mx.height);
                    assert_eq!((w, h), (my.width, my.height));
                    let differ: Vec<(u32, u32, u32, u32)> = (0..h)
                        .flat_map(|yy| (0..w).map(move |xx| (xx, yy)))
                        .filter(|&(xx, yy)| mx.get(xx, yy) != my.get(xx, yy))
                        .map(|(xx, yy)| (xx, yy, mx.get(xx, yy), my.get(xx, yy)))
                        .collect();
                    assert!(
                        differ.is_empty(),
                        "{body} seed {seed}: sample {i} mask {j}: {} of {} pixels differ (x, y, cpu, gpu): {:?}",
                        differ.len(),
                        w * h,
                        &differ[..differ.len().min(8)]
                    );
                }
                assert_eq!(x.boxes, y.boxes, "{body}: boxes");
                assert_eq!(x.keypoints, y.keypoints, "{body}: keypoints");
            }
            let st = b.gpu_stats.unwrap();
            assert_eq!(st.submits, 1, "{body}: one submit with masks");
        }
    }
}

#[test]
fn gpu_u8_masks_of_odd_sizes_come_back_packed_and_exact() {
    let Some(g) = common::gpu() else { return };
    // 37 x 23 = 851 pixels: the last output word of each plane is partial.
    let (img, m8, _) = labelled(50, 37);
    let (img2, m8b, _) = labelled(31, 44);
    let images = vec![img, img2];
    let flipped = match &m8.data {
        gpu_augment::MaskData::U8(v) => Mask::u8(50, 37, v.iter().rev().copied().collect()),
        _ => unreachable!("labelled gives a u8 map first"),
    };
    let ts = vec![
        Targets {
            masks: vec![m8, flipped],
            ..Targets::default()
        },
        Targets {
            masks: vec![m8b.clone(), m8b],
            ..Targets::default()
        },
    ];
    for body in RANDOM_PIPELINES {
        let p = pipeline(&format!("size = [23, 37]\n{body}"));
        let c = Augmenter::new(p.clone(), Backend::Cpu).unwrap();
        let gg = Augmenter::with_gpu(p, g.clone()).unwrap();
        let key = BatchKey::new(3, 1, 0);
        let a = c
            .augment(Request::new(&images).key(key).targets(&ts))
            .unwrap();
        let b = gg
            .augment(Request::new(&images).key(key).targets(&ts))
            .unwrap();
        let plain = gg.augment(Request::new(&images).key(key)).unwrap();
        let (ta, tb) = (a.targets.unwrap(), b.targets.unwrap());
        for (x, y) in ta.iter().zip(&tb) {
            assert_eq!(
                x.masks, y.masks,
                "{body}: u8 masks differ between the backends"
            );
        }
        // u8 planes come back one byte a pixel (4 to a word), not a word a pixel.
        let (sb, sp) = (b.gpu_stats.unwrap(), plain.gpu_stats.unwrap());
        assert_eq!(
            sb.bytes_down - sp.bytes_down,
            2 * 2 * (851u64.div_ceil(4) * 4),
            "{body}: mask readback bytes"
        );
    }
}

#[test]
fn photometric_ops_and_erasing_leave_masks_alone() {
    let (img, m8, m16) = labelled(40, 30);
    let aug = cpu("size = [30, 40]\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.5\n[[ops]]\nop = \"random_erasing\"\np = 1.0\n[[ops]]\nop = \"invert\"");
    let st = one(
        &aug,
        &img,
        targets(vec![m8.clone(), m16.clone()], vec![], vec![]),
    );
    assert_eq!(st.masks, vec![m8, m16]);
}

// ---- bad input ----

fn err(t: Targets, opts: TargetOptions) -> String {
    let (img, _, _) = labelled(40, 30);
    let aug = cpu("size = 16\n[[ops]]\nop = \"horizontal_flip\"");
    let images = vec![img];
    let ts = vec![t];
    match aug.augment(Request::new(&images).targets(&ts).target_options(&opts)) {
        Err(e @ Error::InvalidTarget { .. }) => e.to_string(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn bad_targets_are_errors_naming_the_field() {
    let d = TargetOptions::default;
    let e = err(
        targets(vec![Mask::u8(39, 30, vec![0; 39 * 30])], vec![], vec![]),
        d(),
    );
    assert!(
        e.contains("masks[0]") && e.contains("39x30") && e.contains("40x30"),
        "{e}"
    );
    let e = err(
        targets(
            vec![],
            vec![[1.0, 1.0, 4.0, 4.0], [5.0, 1.0, 3.0, 4.0]],
            vec![],
        ),
        d(),
    );
    assert!(
        e.contains("boxes[1]") && e.contains("x2 = 3 < x1 = 5"),
        "{e}"
    );
    let e = err(targets(vec![], vec![[1.0, 1.0, 4000.0, 4.0]], vec![]), d());
    assert!(e.contains("boxes[0]") && e.contains("sane range"), "{e}");
    let e = err(
        targets(vec![], vec![[1.0, f64::NAN, 4.0, 4.0]], vec![]),
        d(),
    );
    assert!(e.contains("boxes[0]") && e.contains("not finite"), "{e}");
    let o = TargetOptions {
        num_keypoints: Some(17),
        ..d()
    };
    let e = err(targets(vec![], vec![], vec![[1.0, 1.0, 2.0]; 10]), o);
    assert!(
        e.contains("keypoints") && e.contains("10 points") && e.contains("17"),
        "{e}"
    );
    let o = TargetOptions {
        num_classes: Some(3),
        ..d()
    };
    let e = err(targets(vec![], vec![[1.0, 1.0, 4.0, 4.0]; 5], vec![]), o);
    assert!(
        e.contains("boxes.labels[3]") && e.contains("unknown category 3"),
        "{e}"
    );
    let mut t = targets(vec![], vec![[1.0, 1.0, 4.0, 4.0]], vec![]);
    t.boxes.as_mut().unwrap().labels.clear();
    let e = err(t, d());
    assert!(
        e.contains("boxes.labels") && e.contains("0 labels for 1 boxes"),
        "{e}"
    );
    // Options from a pipeline file, and their errors.
    let o = TargetOptions::from_pipeline_toml(
        "size = 8\n[targets]\nmin_visibility = 0.3\nnum_keypoints = 17\nflip_pairs = [[1, 2]]",
    )
    .unwrap();
    assert_eq!(
        (o.min_visibility, o.num_keypoints, o.flip_pairs.clone()),
        (0.3, Some(17), vec![[1, 2]])
    );
    let e = Pipeline::from_toml("size = 8\n[targets]\nmin_visibility = 2.0")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("targets.min_visibility") && e.contains("got 2"),
        "{e}"
    );
    let e = Pipeline::from_toml("size = 8\n[targets]\nmin_visibilty = 0.2")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("targets.min_visibilty") && e.contains("unknown key"),
        "{e}"
    );
}

// ---- mixing ----

/// Two flat images (colours 40 and 200 in red) with masks 1 and 2, a box
/// each, a keypoint each; every sample's mix checked against its pixels.
#[test]
fn mixing_moves_targets_as_it_moves_pixels() {
    let flat = |v: u8| RgbImage::from_pixel(32, 32, image::Rgb([v, 0, 0]));
    let images = vec![flat(40), flat(200), flat(40), flat(200)];
    let t = |label: u8, b: [f64; 4], kp: [f64; 3]| Targets {
        masks: vec![Mask::u8(32, 32, vec![label; 32 * 32])],
        boxes: Some(Boxes::new(BoxFormat::Xyxy, vec![b], vec![label as u32])),
        keypoints: Some(Keypoints { points: vec![kp] }),
    };
    let ts = vec![
        t(1, [2.0, 2.0, 30.0, 30.0], [16.5, 16.5, 2.0]),
        t(2, [4.0, 4.0, 12.0, 12.0], [8.5, 8.5, 2.0]),
        t(1, [2.0, 2.0, 30.0, 30.0], [16.5, 16.5, 2.0]),
        t(2, [4.0, 4.0, 12.0, 12.0], [8.5, 8.5, 2.0]),
    ];
    for mixer in [
        "[[ops]]\nop = \"cutmix\"\nalpha = 1.0\nnum_classes = 3",
        "[[ops]]\nop = \"resizemix\"\ntau = [0.3, 0.8]\nnum_classes = 3",
    ] {
        let aug = cpu(&format!("size = 32\n{mixer}"));
        for seed in 0..8u64 {
            let b = aug
                .augment(
                    Request::new(&images)
                        .key(BatchKey::new(seed, 0, 0))
                        .targets(&ts),
                )
                .expect("batch");
            for (i, st) in b.targets.as_ref().unwrap().iter().enumerate() {
                let px = b.sample_u8(i).unwrap();
                let r = b.records[i].mix.as_ref().unwrap();
                let reg = r.region.unwrap();
                let MaskData::U8(m) = &st.masks[0].data else {
                    panic!()
                };
                for p in 0..32 * 32 {
                    let want = if px[p * 3] == 200 { 2 } else { 1 };
                    assert_eq!(
                        m[p],
                        want,
                        "{mixer} seed {seed} sample {i}: mask at {p} vs its pixel {}",
                        px[p * 3]
                    );
                }
                let rect = [
                    reg.left as f64,
                    reg.top as f64,
                    (reg.left + reg.width) as f64,
                    (reg.top + reg.height) as f64,
                ];
                let bx = st.boxes.as_ref().unwrap();
                for (c, o) in bx.coords.iter().zip(&st.box_origin) {
                    if o.sample != i {
                        // A partner's box lies inside the paste.
                        assert!(
                            c[0] >= rect[0]
                                && c[1] >= rect[1]
                                && c[2] <= rect[2]
                                && c[3] <= rect[3],
                            "{mixer}: {c:?} outside {rect:?}"
                        );
                        assert_eq!(o.sample, r.partner);
                    }
                }
                assert_eq!(bx.labels.len(), st.box_origin.len());
                // Own instance, then the partner's; visible on its side only.
                let kp = &st.keypoints.as_ref().unwrap().points;
                assert_eq!(kp.len(), 2);
                for (k, p) in kp.iter().enumerate() {
                    let inside =
                        p[0] >= rect[0] && p[0] < rect[2] && p[1] >= rect[1] && p[1] < rect[3];
                    assert_eq!(
                        p[2] > 0.0,
                        inside == (k == 1),
                        "{mixer}: keypoint {k} {p:?} region {rect:?}"
                    );
                }
            }
        }
    }
    // Mixup: the dominant sample's targets and its weight.
    let aug = cpu("size = 32\n[[ops]]\nop = \"mixup\"\nalpha = 1.0\nnum_classes = 3");
    let b = aug
        .augment(
            Request::new(&images)
                .key(BatchKey::new(2, 0, 0))
                .targets(&ts),
        )
        .expect("batch");
    for (i, st) in b.targets.as_ref().unwrap().iter().enumerate() {
        let r = b.records[i].mix.as_ref().unwrap();
        let dominant = if r.lam >= 0.5 { i } else { r.partner };
        assert_eq!(st.masks, ts[dominant].masks, "mixup sample {i}");
        assert_eq!(st.weight, r.lam.max(1.0 - r.lam));
        assert!(st.weight >= 0.5);
    }
}
