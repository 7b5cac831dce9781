//! `permute_channels` (torchvision's RandomChannelPermutation): hand-computed
//! values, the draw's frequencies, `apply`'s explicit order, and CPU vs GPU
//! parity (a pure copy of channels: exact).

mod common;

use gpu_augment::explicit::explicit_op;
use gpu_augment::{
    Augmenter, Backend, BatchKey, Drawn, Op, OutputFormat, Pipeline, Request, RgbImage, Size,
    Tensor,
};

fn image() -> RgbImage {
    RgbImage::from_fn(3, 2, |x, y| {
        image::Rgb([(10 + x + 3 * y) as u8, (100 + x) as u8, (200 + 7 * y) as u8])
    })
}

fn order_of(d: &Drawn) -> Option<[u32; 3]> {
    match d {
        Drawn::PermuteChannels {
            applied: true,
            order,
        } => Some(*order),
        Drawn::PermuteChannels { applied: false, .. } => None,
        other => panic!("not a permute_channels record: {other:?}"),
    }
}

#[test]
fn output_channel_c_is_input_channel_order_c() {
    let img = image();
    let p = Pipeline::new(Size::new(2, 3), OutputFormat::U8Hwc)
        .with(Op::PermuteChannels { p: 1.0 })
        .unwrap();
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let images = vec![img.clone(); 12];
    let batch = aug
        .augment(Request::new(&images).key(BatchKey::new(5, 0, 0)))
        .unwrap();
    let Tensor::U8(out) = &batch.data else {
        panic!("u8 expected")
    };
    for (i, rec) in batch.records.iter().enumerate() {
        let order = order_of(&rec.ops[0]).expect("p = 1 always applies");
        let mut sorted = order;
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2]);
        for (k, px) in img.pixels().enumerate() {
            let o = &out[(i * 6 + k) * 3..(i * 6 + k) * 3 + 3];
            assert_eq!(
                o,
                [
                    px[order[0] as usize],
                    px[order[1] as usize],
                    px[order[2] as usize]
                ]
            );
        }
    }
}

#[test]
fn apply_with_an_explicit_order() {
    let img = image();
    let (p, d) = explicit_op(
        "permute_channels",
        &[("order".into(), "2,0,1".into())],
        3,
        2,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"op":"permute_channels","applied":true,"order":[2,0,1]}"#
    );
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let batch = aug
        .augment(
            Request::new(std::slice::from_ref(&img))
                .params(&[vec![d]])
                .indices(&[0]),
        )
        .unwrap();
    let Tensor::U8(out) = &batch.data else {
        panic!("u8 expected")
    };
    // Hand-computed: pixel (0, 0) is (10, 100, 200), so (200, 10, 100).
    assert_eq!(&out[..3], &[200, 10, 100]);
    for (k, px) in img.pixels().enumerate() {
        assert_eq!(&out[k * 3..k * 3 + 3], &[px[2], px[0], px[1]]);
    }
    for bad in ["0,0,1", "0,1", "0,1,3", "a,b,c"] {
        assert!(
            explicit_op("permute_channels", &[("order".into(), bad.into())], 3, 2).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn every_order_is_drawn_about_equally_and_p_is_honoured() {
    let p = Pipeline::new(Size::new(2, 3), OutputFormat::U8Hwc)
        .with(Op::PermuteChannels { p: 0.3 })
        .unwrap();
    let n = 3000;
    let mut counts = std::collections::BTreeMap::new();
    let mut applied = 0;
    for i in 0..n {
        let d = p.draw(9, 0, i, 0, 3, 2);
        if let Some(o) = order_of(&d[0]) {
            applied += 1;
            *counts.entry(o).or_insert(0usize) += 1;
        }
    }
    let rate = applied as f64 / n as f64;
    assert!((rate - 0.3).abs() < 0.03, "applied {rate}");
    assert_eq!(counts.len(), 6, "{counts:?}");
    for (o, c) in &counts {
        let f = *c as f64 / applied as f64;
        assert!((f - 1.0 / 6.0).abs() < 0.04, "{o:?}: {f}");
    }
}

#[test]
fn cpu_and_gpu_agree() {
    let Some(g) = common::gpu() else { return };
    let text = "size = [24, 20]\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"permute_channels\"\np = 0.8\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.3\nhue = 0.1";
    let p = Pipeline::from_toml(text).unwrap();
    let images = common::test_images();
    let cpu = Augmenter::new(p.clone(), Backend::Cpu).unwrap();
    let gpu = Augmenter::with_gpu(p, g).unwrap();
    let key = BatchKey::new(3, 1, 0);
    let a = cpu.augment(Request::new(&images).key(key)).unwrap();
    let b = gpu.augment(Request::new(&images).key(key)).unwrap();
    assert_eq!(a.records, b.records);
    common::assert_close("permute_channels", &a, &b, [0.0; 3], [1.0; 3]);
    // The permutation alone moves values exactly.
    let p = Pipeline::new(Size::new(9, 11), OutputFormat::U8Hwc)
        .with(Op::PermuteChannels { p: 1.0 })
        .unwrap();
    let imgs: Vec<RgbImage> = (0..5)
        .map(|k| {
            RgbImage::from_fn(11, 9, |x, y| {
                image::Rgb([(x * 20 + k) as u8, (y * 25) as u8, (x * y + 3) as u8])
            })
        })
        .collect();
    let a = Augmenter::new(p.clone(), Backend::Cpu)
        .unwrap()
        .augment(Request::new(&imgs).key(key))
        .unwrap();
    let b = Augmenter::with_gpu(p, common::gpu().unwrap())
        .unwrap()
        .augment(Request::new(&imgs).key(key))
        .unwrap();
    assert_eq!(a.data, b.data, "the permutation alone is exact");
}
