//! One output channel: `grayscale` with `num_output_channels = 1`
//! (torchvision's `Grayscale(num_output_channels=1)`). The output is channel
//! 0 of what the three-channel pipeline gives with the same key, bit for bit
//! (same draws, same arithmetic), on every path: plain, later colour ops,
//! per-channel noise, policies, AugMix, every mixing op, named views, replay,
//! overrides. Shapes, the rules (p = 1, one such op, one normalize value) and
//! errors. GPU vs CPU parity is in tests/parity.rs.

mod common;

use gpu_augment::{
    Augmenter, Backend, Batch, BatchKey, Overrides, Pipeline, Request, RgbImage, Tensor,
    ViewAugmenter, Views,
};

fn images() -> Vec<RgbImage> {
    vec![
        gpu_augment::synthetic_image(0, 41, 30),
        gpu_augment::synthetic_image(1, 30, 47),
        gpu_augment::synthetic_image(2, 64, 64),
        gpu_augment::synthetic_image(3, 9, 13),
    ]
}

/// `body` (ops, with `{C}` for the channel count) as a pipeline of that many channels.
fn with_channels(head: &str, body: &str, c: u32) -> Pipeline {
    let text = format!("{head}\n{}", body.replace("{C}", &c.to_string()));
    Pipeline::from_toml(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Channel 0 of every output sample.
fn channel0(b: &Batch) -> Vec<f32> {
    match &b.data {
        Tensor::U8(v) => {
            let c = b.shape[3];
            v.iter().step_by(c).map(|&x| x as f32).collect()
        }
        Tensor::F32(v) => {
            let [n, c, h, w] = b.shape;
            (0..n)
                .flat_map(|i| v[i * c * h * w..i * c * h * w + h * w].iter().copied())
                .collect()
        }
        Tensor::F16(v) => {
            let [n, c, h, w] = b.shape;
            (0..n)
                .flat_map(|i| {
                    v[i * c * h * w..i * c * h * w + h * w]
                        .iter()
                        .map(|x| x.to_f32())
                })
                .collect()
        }
    }
}

/// A backend: its name and how it binds a pipeline.
type Make = (&'static str, Box<dyn Fn(Pipeline) -> Augmenter>);

fn backends() -> Vec<Make> {
    let mut v: Vec<Make> = vec![(
        "cpu",
        Box::new(|p| Augmenter::new(p, Backend::Cpu).expect("cpu")),
    )];
    if let Some(g) = common::gpu() {
        v.push((
            "gpu",
            Box::new(move |p| Augmenter::with_gpu(p, g.clone()).expect("gpu")),
        ));
    }
    v
}

/// The one-channel run is channel 0 of the three-channel run, bit for bit,
/// with the same records.
fn check_channel0(name: &str, head: &str, body: &str) {
    let imgs = images();
    for (bk, make) in backends() {
        let one = make(with_channels(head, body, 1));
        let three = make(with_channels(head, body, 3));
        for seed in [0u64, 5, 99] {
            let key = BatchKey::new(seed, seed % 2, 10 * seed);
            let a = one
                .augment(Request::new(&imgs).key(key))
                .expect("1 channel");
            let b = three
                .augment(Request::new(&imgs).key(key))
                .expect("3 channels");
            let s = b.shape;
            let [n, h, w] = match b.data {
                Tensor::U8(_) => [s[0], s[1], s[2]],
                Tensor::F32(_) | Tensor::F16(_) => [s[0], s[2], s[3]],
            };
            let want = match b.data {
                Tensor::U8(_) => [n, h, w, 1],
                Tensor::F32(_) | Tensor::F16(_) => [n, 1, h, w],
            };
            assert_eq!(a.shape, want, "{name} [{bk}]: shape");
            assert_eq!(a.records, b.records, "{name} [{bk}]: records differ");
            let (x, y) = (channel0(&a), channel0(&b));
            assert_eq!(x.len(), n * h * w);
            let same = x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(
                same,
                "{name} [{bk}] seed {seed}: channel 0 differs from the 3-channel run"
            );
        }
    }
}

const GREY: &str = "[[ops]]\nop = \"grayscale\"\nnum_output_channels = {C}";

#[test]
fn one_channel_is_channel_0_of_the_three_channel_run() {
    check_channel0(
        "plain u8",
        "size = [20, 24]",
        &format!("[[ops]]\nop = \"random_resized_crop\"\n{GREY}"),
    );
    check_channel0(
        "later colour ops u8",
        "size = 24",
        &format!("{GREY}\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.5\ncontrast = 0.5\nsaturation = 0.5\nhue = 0.2\n[[ops]]\nop = \"equalize\"\np = 1.0"),
    );
    check_channel0(
        "per-channel noise after it (erasing, gaussian_noise, colorful_cutout)",
        "size = 24",
        &format!("{GREY}\n[[ops]]\nop = \"random_erasing\"\np = 1.0\nvalue = \"random\"\n[[ops]]\nop = \"gaussian_noise\"\n[[ops]]\nop = \"colorful_cutout\""),
    );
    check_channel0(
        "f32 normalised",
        "size = [17, 21]\nformat = \"f32_chw\"",
        &format!("[[ops]]\nop = \"affine\"\ndegrees = 30\n{GREY}\n[[ops]]\nop = \"normalize\"\nmean = 0.45\nstd = 0.226"),
    );
    check_channel0(
        "policy after it",
        "size = 24",
        &format!("{GREY}\n[[ops]]\nop = \"rand_augment\"\nnum_ops = 3"),
    );
    check_channel0(
        "augmix f32",
        "size = 20\nformat = \"f32_chw\"",
        &format!("{GREY}\n[[ops]]\nop = \"augmix\"\n[[ops]]\nop = \"normalize\"\nmean = [0.5]\nstd = [0.2]"),
    );
    check_channel0(
        "augmix u8",
        "size = 20",
        &format!("{GREY}\n[[ops]]\nop = \"augmix\""),
    );
    for (mix, fmt) in [
        ("mixup", "u8_hwc"),
        ("mixup", "f32_chw"),
        ("cutmix", "u8_hwc"),
        ("cutmix", "f32_chw"),
        ("resizemix", "u8_hwc"),
        ("resizemix", "f32_chw"),
    ] {
        check_channel0(
            &format!("{mix} {fmt}"),
            &format!("size = 24\nformat = \"{fmt}\""),
            &format!("{GREY}\n[[ops]]\nop = \"{mix}\"\nnum_classes = 3"),
        );
    }
}

#[test]
fn the_grey_is_torchvisions_itu601_luma() {
    // A flat colour: grey = round(0.299 r + 0.587 g + 0.114 b) on every pixel.
    let img = RgbImage::from_pixel(5, 4, image::Rgb([200, 100, 30]));
    let p =
        Pipeline::from_toml("size = [4, 5]\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1")
            .unwrap();
    let want = (0.299f64 * 200.0 + 0.587 * 100.0 + 0.114 * 30.0).round() as u8;
    for (bk, make) in backends() {
        let b = make(p.clone())
            .augment(Request::new(std::slice::from_ref(&img)))
            .unwrap();
        assert_eq!(b.shape, [1, 4, 5, 1], "[{bk}]");
        assert_eq!(b.sample_u8(0), Some(&[want; 20][..]), "[{bk}]");
    }
}

#[test]
fn replay_overrides_and_views_keep_one_channel() {
    let p = Pipeline::from_toml(
        "size = 16\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.4",
    )
    .unwrap();
    let imgs = images();
    let aug = Augmenter::new(p.clone(), Backend::Cpu).unwrap();
    let b = aug
        .augment(Request::new(&imgs).key(BatchKey::new(3, 1, 0)))
        .unwrap();
    let again = aug.augment(Request::new(&imgs).replay(&b.records)).unwrap();
    assert_eq!(again.data, b.data);
    // Strength 0 and skip: the random ops stop, the output stays grey with one channel.
    let ov = Overrides::new()
        .strength(vec![0.0, 0.0, 1.0, 1.0])
        .skip(vec![false, false, false, true]);
    let s = aug
        .augment(
            Request::new(&imgs)
                .key(BatchKey::new(3, 1, 0))
                .overrides(&ov),
        )
        .unwrap();
    assert_eq!(s.shape, [4, 16, 16, 1]);
    for r in &s.records {
        assert_eq!(
            r.ops[1],
            gpu_augment::Drawn::Grayscale { applied: true },
            "the grey op is the output's format: never steered off"
        );
    }
    let replayed = aug.augment(Request::new(&imgs).replay(&s.records)).unwrap();
    assert_eq!(replayed.data, s.data);
    // Named views: one grey view beside an RGB one.
    let views = Views::from_toml(
        "size = 16\n[[views]]\nname = \"grey\"\ncount = 2\nformat = \"f32_chw\"\n[[views.ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[views]]\nname = \"rgb\"\n[[views.ops]]\nop = \"horizontal_flip\"",
    )
    .unwrap();
    let va = ViewAugmenter::new(views, Backend::Cpu).unwrap();
    let out = va.augment(Request::new(&imgs)).unwrap();
    assert_eq!(out[0].grouped_shape(), [4, 2, 1, 16, 16]);
    assert_eq!(out[1].grouped_shape(), [4, 1, 16, 16, 3]);
}

fn refused(text: &str, needles: &[&str]) {
    let e = Pipeline::from_toml(text).expect_err(text).to_string();
    for n in needles {
        assert!(e.contains(n), "{text}\n-> {e}\n(missing {n:?})");
    }
}

#[test]
fn the_rules_are_clear_errors() {
    refused(
        "size = 8\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\np = 0.5",
        &[
            "op #0",
            "`grayscale`",
            "key `p`",
            "0.5",
            "num_output_channels = 1",
        ],
    );
    refused(
        "size = 8\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 2",
        &["`grayscale`", "key `num_output_channels`", "1 or 3", "2"],
    );
    refused(
        "size = 8\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1",
        &["op #1", "`grayscale`", "key `num_output_channels`", "op #0"],
    );
    // ImageNet's three means on a one-channel output (the default), and three given.
    refused(
        "size = 8\nformat = \"f32_chw\"\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"normalize\"",
        &["op #1", "`normalize`", "key `mean`", "1 channel", "0.485"],
    );
    refused(
        "size = 8\nformat = \"f32_chw\"\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"normalize\"\nmean = 0.5\nstd = [0.2, 0.3, 0.2]",
        &["`normalize`", "key `std`", "0.3"],
    );
    refused(
        "size = 8\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\np = { from = 0.5, to = 1.0, epochs = 3 }",
        &["`grayscale`", "key `p`", "schedule"],
    );
    refused(
        "size = 8\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = { from = 1, to = 3, epochs = 3 }",
        &["`grayscale`", "`num_output_channels`", "schedule"],
    );
    // One normalize value, or three equal ones, are fine; so is p < 1 with 3 channels.
    for ok in [
        "size = 8\nformat = \"f32_chw\"\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"normalize\"\nmean = [0.5]\nstd = 0.25",
        "size = 8\n[[ops]]\nop = \"grayscale\"\np = 0.5",
    ] {
        Pipeline::from_toml(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    // `apply`: the same key.
    let sets = [("num_output_channels".to_string(), "1".to_string())];
    let (p, _) = gpu_augment::explicit::explicit_op("grayscale", &sets, 7, 5).unwrap();
    assert_eq!(p.out_channels(), 1);
    let bad = [("num_output_channels".to_string(), "2".to_string())];
    let e = gpu_augment::explicit::explicit_op("grayscale", &bad, 7, 5)
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("num_output_channels") && e.contains("1 or 3"),
        "{e}"
    );
}
