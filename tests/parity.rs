//! GPU vs CPU parity: every op and every example pipeline, on 1x1, odd,
//! non-square and 500x375-like images, from several seeds. Tolerances are in
//! tests/common/mod.rs.

mod common;

use common::{assert_close, gpu, test_images};
use gpu_augment::{Augmenter, Backend, BatchKey, Pipeline, Request};

fn check(name: &str, pipeline: Pipeline) {
    let Some(g) = gpu() else { return };
    let (mean, std) = pipeline.normalization();
    let mean = mean.map(|x| x as f32);
    let std = std.map(|x| x as f32);
    let cpu = Augmenter::new(pipeline.clone(), Backend::Cpu).expect("cpu augmenter");
    let gpu = Augmenter::with_gpu(pipeline, g).expect("gpu augmenter");
    let images = test_images();
    for seed in [0u64, 1, 7, 12345] {
        let key = BatchKey::new(seed, seed % 3, seed * 100);
        let a = cpu
            .augment(Request::new(&images).key(key))
            .expect("cpu batch");
        let b = gpu
            .augment(Request::new(&images).key(key))
            .expect("gpu batch");
        assert_eq!(
            a.records, b.records,
            "{name}: drawn parameters differ between backends"
        );
        assert_close(&format!("{name}-seed{seed}"), &a, &b, mean, std);
    }
}

fn pipeline(text: &str) -> Pipeline {
    Pipeline::from_toml(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn example(name: &str) -> Pipeline {
    let path = format!(
        "{}/examples/pipelines/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    Pipeline::from_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

macro_rules! op_parity {
    ($($test:ident: $toml:expr;)*) => {$(
        #[test]
        fn $test() {
            check(stringify!($test), pipeline($toml));
        }
    )*};
}

op_parity! {
    op_random_resized_crop: "size = [48, 40]\n[[ops]]\nop = \"random_resized_crop\"";
    op_random_resized_crop_nearest: "size = 40\n[[ops]]\nop = \"random_resized_crop\"\ninterpolation = \"nearest\"";
    op_resize_shorter: "size = [30, 50]\n[[ops]]\nop = \"resize\"\nsize = 30";
    op_resize_downscale_antialias: "size = 24\n[[ops]]\nop = \"resize\"\nsize = [24, 24]";
    // The antialiased resampler (src/resample.rs) and its options.
    op_resize_bicubic: "size = [40, 30]\n[[ops]]\nop = \"resize\"\nsize = [40, 30]\ninterpolation = \"bicubic\"";
    op_resize_bicubic_up: "size = [90, 70]\n[[ops]]\nop = \"resize\"\nsize = [90, 70]\ninterpolation = \"bicubic\"";
    op_resize_no_antialias: "size = [24, 30]\n[[ops]]\nop = \"resize\"\nsize = [24, 30]\nantialias = false";
    op_resize_bicubic_no_antialias: "size = [24, 30]\n[[ops]]\nop = \"resize\"\nsize = [24, 30]\nantialias = false\ninterpolation = \"bicubic\"";
    op_resize_nearest: "size = [24, 30]\n[[ops]]\nop = \"resize\"\nsize = [24, 30]\ninterpolation = \"nearest\"";
    op_resize_nearest_exact: "size = [24, 30]\n[[ops]]\nop = \"resize\"\nsize = [24, 30]\ninterpolation = \"nearest_exact\"";
    op_resize_max_size: "size = [20, 20]\n[[ops]]\nop = \"resize\"\nsize = 16\nmax_size = 20";
    op_resize_tiny_output: "size = [6, 5]\n[[ops]]\nop = \"resize\"\nsize = [6, 5]";
    op_flips_then_resized_crop: "size = [32, 28]\n[[ops]]\nop = \"horizontal_flip\"\np = 1.0\n[[ops]]\nop = \"vertical_flip\"\np = 1.0\n[[ops]]\nop = \"random_resized_crop\"\ninterpolation = \"bicubic\"";
    op_resize_then_center_crop: "size = 24\n[[ops]]\nop = \"resize\"\nsize = 30\n[[ops]]\nop = \"center_crop\"\nsize = 24";
    op_crop_outside_zero_pad: "size = [30, 30]\n[[ops]]\nop = \"crop\"\ntop = -5\nleft = -7\nheight = 30\nwidth = 30";
    op_random_crop_edge: "size = [40, 30]\n[[ops]]\nop = \"random_crop\"\nsize = [40, 30]\npadding = [4, 6, 5, 3]\npad_if_needed = true\npadding_mode = \"edge\"";
    op_random_crop_reflect: "size = [40, 30]\n[[ops]]\nop = \"random_crop\"\nsize = [40, 30]\npadding = [4, 6, 5, 3]\npad_if_needed = true\npadding_mode = \"reflect\"\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.4";
    op_random_crop_symmetric: "size = [20, 24]\n[[ops]]\nop = \"random_crop\"\nsize = [40, 30]\npadding = 8\npad_if_needed = true\npadding_mode = \"symmetric\"\n[[ops]]\nop = \"horizontal_flip\"";
    op_affine_antialias: "size = 48\n[[ops]]\nop = \"affine\"\ndegrees = 20\nscale = [0.3, 0.5]\nantialias = true";
    op_center_crop: "size = 32\n[[ops]]\nop = \"center_crop\"\nsize = 32";
    op_random_crop_padding: "size = 32\nformat = \"u8_hwc\"\n[[ops]]\nop = \"random_crop\"\nsize = 32\npadding = 4\npad_if_needed = true\nfill = [10, 200, 30]";
    op_horizontal_flip: "size = [20, 30]\n[[ops]]\nop = \"horizontal_flip\"\np = 1.0";
    op_vertical_flip: "size = [20, 30]\n[[ops]]\nop = \"vertical_flip\"\np = 1.0";
    op_affine: "size = 48\n[[ops]]\nop = \"affine\"\ndegrees = 45\ntranslate = [0.2, 0.1]\nscale = [0.5, 1.5]\nshear = [-20, 20, -10, 10]\nfill = 128";
    op_affine_nearest: "size = 48\n[[ops]]\nop = \"affine\"\ndegrees = 180\ninterpolation = \"nearest\"";
    op_brightness: "size = 32\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.8";
    op_contrast: "size = 32\n[[ops]]\nop = \"color_jitter\"\ncontrast = 0.8";
    op_saturation: "size = 32\n[[ops]]\nop = \"color_jitter\"\nsaturation = 0.8";
    op_hue: "size = 32\n[[ops]]\nop = \"color_jitter\"\nhue = 0.5";
    op_color_jitter_two_contrasts: "size = 32\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.5\ncontrast = 0.5\n[[ops]]\nop = \"color_jitter\"\ncontrast = 0.9\nhue = 0.2";
    op_grayscale: "size = 32\n[[ops]]\nop = \"grayscale\"\np = 0.5";
    op_normalize: "size = 16\nformat = \"f32_chw\"\n[[ops]]\nop = \"normalize\"";
    op_f32_without_normalize: "size = 16\nformat = \"f32_chw\"\n[[ops]]\nop = \"affine\"\ndegrees = 20";
    op_padded_crop_then_downscale: "size = 16\n[[ops]]\nop = \"random_crop\"\nsize = 60\npadding = [9, 3, 5, 12]\npad_if_needed = true\nfill = [250, 20, 90]";
    op_padded_crop_then_upscale: "size = 90\n[[ops]]\nop = \"random_crop\"\nsize = 30\npadding = 6\npad_if_needed = true\nfill = 200\n[[ops]]\nop = \"vertical_flip\"";
    op_two_hue_steps_and_grayscale: "size = 24\n[[ops]]\nop = \"color_jitter\"\nhue = 0.3\nsaturation = 0.5\n[[ops]]\nop = \"grayscale\"\np = 0.3\n[[ops]]\nop = \"color_jitter\"\nhue = 0.4\nbrightness = 0.3\ncontrast = 0.6";
    op_field_dx_dy: "size = 40\n[[ops]]\nop = \"random_field\"\nl = [3, 12]\ndx = 4\ndy = 2.5\nfill = [20, 200, 90]";
    op_field_rotation_scale: "size = [36, 44]\n[[ops]]\nop = \"random_field\"\nl = 8\nrotation = 20\nlog_scale = 0.2";
    op_field_all_kinds: "size = 32\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"random_field\"\nl = 6\ndx = 2\ndy = 2\nrotation = 5\nlog_scale = 0.05\nbrightness = 0.3\ncontrast = 0.3\nsaturation = 0.4\nhue = 0.1\n[[ops]]\nop = \"color_jitter\"\ncontrast = 0.4";
    op_field_brightness: "size = 30\n[[ops]]\nop = \"random_field\"\nl = [0.5, 2]\nbrightness = 0.5";
    op_field_contrast_saturation_f32: "size = 30\nformat = \"f32_chw\"\n[[ops]]\nop = \"random_field\"\nl = 20\ncontrast = 0.5\nsaturation = 0.5\n[[ops]]\nop = \"normalize\"";
    op_field_hue: "size = 30\n[[ops]]\nop = \"random_field\"\nl = 5\nhue = 0.2\np = 0.7";
    op_elastic: "size = 48\n[[ops]]\nop = \"resize\"\nsize = [56, 56]\n[[ops]]\nop = \"elastic\"\nalpha = 200\nsigma = 3";
    op_elastic_downscale: "size = 24\n[[ops]]\nop = \"elastic\"\nalpha = [80, 30]\nsigma = 2\nfill = 255";
    op_invert: "size = 32\n[[ops]]\nop = \"invert\"";
    op_solarize: "size = 32\n[[ops]]\nop = \"solarize\"\nthreshold = 100\np = 0.7";
    op_posterize: "size = 32\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.5\n[[ops]]\nop = \"posterize\"\nbits = 3\np = 1.0";
    op_autocontrast: "size = 32\n[[ops]]\nop = \"color_jitter\"\ncontrast = 0.6\n[[ops]]\nop = \"autocontrast\"\np = 1.0";
    op_equalize: "size = [40, 30]\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"equalize\"\np = 1.0";
    op_sharpness: "size = 33\n[[ops]]\nop = \"sharpness\"\nfactor = 3\np = 1.0\n[[ops]]\nop = \"color_jitter\"\nhue = 0.2";
    op_gaussian_blur: "size = 40\n[[ops]]\nop = \"gaussian_blur\"\nkernel_size = 9\nsigma = [0.5, 3]";
    op_gaussian_noise_f32: "size = 24\nformat = \"f32_chw\"\n[[ops]]\nop = \"gaussian_noise\"\nsigma = 0.2\n[[ops]]\nop = \"normalize\"";
    op_gamma: "size = 32\n[[ops]]\nop = \"gamma\"\ngamma = [0.5, 2.0]\ngain = 1.1";
    op_random_erasing: "size = 40\n[[ops]]\nop = \"random_erasing\"\np = 1.0\nvalue = [10, 200, 30]";
    op_random_erasing_random: "size = 40\n[[ops]]\nop = \"random_erasing\"\np = 1.0\nvalue = \"random\"";
    op_cutout: "size = [40, 36]\n[[ops]]\nop = \"cutout\"\nn_holes = 3\nlength = 12\nvalue = [10, 200, 30]";
    op_colorful_cutout: "size = [40, 36]\n[[ops]]\nop = \"colorful_cutout\"\nn_holes = 2\nlength = 15\ngrid = 3";
    op_rotation_label: "size = 24\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"rotation_label\"";
    op_rotation_label_non_square: "size = [20, 30]\n[[ops]]\nop = \"rotation_label\"\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.3";
    op_rotation_label_all_views: "size = 24\nviews = 4\n[[ops]]\nop = \"center_crop\"\nsize = 24\n[[ops]]\nop = \"rotation_label\"\nall_views = true\n[[ops]]\nop = \"cutout\"\nlength = 8";
    op_perspective: "size = 48\n[[ops]]\nop = \"perspective\"\ndistortion = 0.6\np = 1.0\nfill = [0, 90, 250]";
    op_rand_augment: "size = 40\n[[ops]]\nop = \"rand_augment\"\nnum_ops = 3\nmagnitude = 12";
    op_trivial_augment_wide: "size = 40\n[[ops]]\nop = \"trivial_augment_wide\"\ninterpolation = \"bilinear\"";
    op_auto_augment: "size = 40\n[[ops]]\nop = \"auto_augment\"";
    op_barriers_chain: "size = 30\n[[ops]]\nop = \"equalize\"\np = 1.0\n[[ops]]\nop = \"sharpness\"\nfactor = 0.2\np = 1.0\n[[ops]]\nop = \"color_jitter\"\ncontrast = 0.5\n[[ops]]\nop = \"gaussian_blur\"\nkernel_size = 5\n[[ops]]\nop = \"autocontrast\"\np = 1.0";
    op_augmix: "size = 36\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"augmix\"";
    op_augmix_f32_deep: "size = 30\nformat = \"f32_chw\"\n[[ops]]\nop = \"augmix\"\nseverity = 10\nwidth = 4\ndepth = 3\nalpha = 0.5\n[[ops]]\nop = \"normalize\"";
    // One output channel (grayscale num_output_channels = 1): the main pass
    // writes channel 0 alone (f32: one plane), the mixing pass reads it.
    op_grayscale_one_channel_u8: "size = [40, 36]\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.4\ncontrast = 0.4\n[[ops]]\nop = \"random_erasing\"\np = 1.0\nvalue = \"random\"";
    op_grayscale_one_channel_f32: "size = [33, 30]\nformat = \"f32_chw\"\n[[ops]]\nop = \"affine\"\ndegrees = 20\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"rand_augment\"\n[[ops]]\nop = \"gaussian_noise\"\n[[ops]]\nop = \"normalize\"\nmean = 0.45\nstd = 0.226";
    op_grayscale_one_channel_mixup_u8: "size = 24\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"mixup\"\nnum_classes = 3";
    op_grayscale_one_channel_cutmix_f32: "size = 24\nformat = \"f32_chw\"\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"cutmix\"\nnum_classes = 3";
    op_grayscale_one_channel_resizemix_f32: "size = 30\nformat = \"f32_chw\"\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"colorful_cutout\"\n[[ops]]\nop = \"normalize\"\nmean = [0.5]\nstd = [0.25]\n[[ops]]\nop = \"resizemix\"\nnum_classes = 3";
    op_grayscale_one_channel_augmix: "size = 30\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1\n[[ops]]\nop = \"augmix\"";
    op_chain_crop_then_affine_fill: "size = 40\n[[ops]]\nop = \"center_crop\"\nsize = 60\n[[ops]]\nop = \"affine\"\ndegrees = 30\nfill = [255, 0, 0]\n[[ops]]\nop = \"random_crop\"\nsize = 36\npadding = 2";
}

#[test]
fn pipeline_imagenet_train() {
    check("imagenet_train", example("imagenet_train"));
}

#[test]
fn pipeline_cifar_train() {
    let p = example("cifar_train");
    // CIFAR-sized inputs: the crop needs 32x32 images (padding 4 then crop 32).
    let Some(g) = gpu() else { return };
    let images: Vec<_> = (0..8)
        .map(|i| gpu_augment::synthetic_image(i, 32, 32))
        .collect();
    let cpu = Augmenter::new(p.clone(), Backend::Cpu).unwrap();
    let gpu = Augmenter::with_gpu(p.clone(), g).unwrap();
    let (mean, std) = p.normalization();
    for seed in [0u64, 3, 9] {
        let key = BatchKey::new(seed, 0, 0);
        let a = cpu.augment(Request::new(&images).key(key)).unwrap();
        let b = gpu.augment(Request::new(&images).key(key)).unwrap();
        assert_close(
            &format!("cifar-seed{seed}"),
            &a,
            &b,
            mean.map(|x| x as f32),
            std.map(|x| x as f32),
        );
    }
}

#[test]
fn example_rotation_cutout() {
    check("rotation_cutout", example("rotation_cutout"));
}

#[test]
fn example_colorful_cutout() {
    check("colorful_cutout", example("colorful_cutout"));
}

#[test]
fn pipeline_color_jitter() {
    check("color_jitter", example("color_jitter"));
}

#[test]
fn pipeline_affine() {
    check("affine", example("affine"));
}

/// A pipeline as `apply` builds it (its op with explicit parameters).
fn applied(op: &str, sets: &[(&str, &str)], w: u32, h: u32) -> Pipeline {
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    gpu_augment::explicit::explicit_op(op, &sets, w, h)
        .unwrap_or_else(|e| panic!("{op}: {e}"))
        .0
}

#[test]
fn op_rotate_expand() {
    check(
        "rotate_expand_30",
        applied("rotate", &[("angle", "30"), ("expand", "true")], 33, 17),
    );
    check(
        "rotate_expand_90",
        applied("rotate", &[("angle", "90"), ("expand", "true")], 33, 17),
    );
}

#[test]
fn op_gaussian_blur_non_square_kernel() {
    check(
        "blur_5x9",
        applied(
            "gaussian_blur",
            &[("kernel_size", "5,9"), ("sigma", "1.5")],
            40,
            30,
        ),
    );
}

/// `apply`'s op with its explicit parameters on one image, CPU and GPU.
fn check_applied(name: &str, op: &str, sets: &[(&str, &str)], w: u32, h: u32) {
    let Some(g) = gpu() else { return };
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (p, d) =
        gpu_augment::explicit::explicit_op(op, &sets, w, h).unwrap_or_else(|e| panic!("{op}: {e}"));
    let img = [gpu_augment::synthetic_image(3, w, h)];
    let params = [vec![d]];
    let cpu = Augmenter::new(p.clone(), Backend::Cpu).unwrap();
    let gpu = Augmenter::with_gpu(p, g).unwrap();
    let a = cpu.augment(Request::new(&img).params(&params)).unwrap();
    let b = gpu.augment(Request::new(&img).params(&params)).unwrap();
    assert_close(name, &a, &b, [0.0; 3], [1.0; 3]);
}

#[test]
fn op_perspective_explicit_points() {
    check_applied(
        "perspective_start_end",
        "perspective",
        &[
            ("startpoints", "3,2,40,5,44,30,1,33"),
            ("endpoints", "0,0,47,0,45,35,6,30"),
            ("fill", "10,200,30"),
        ],
        48,
        36,
    );
    check_applied(
        "perspective_end_only_nearest",
        "perspective",
        &[
            ("endpoints", "5,1,40,4,47,35,0,30"),
            ("interpolation", "nearest"),
        ],
        48,
        36,
    );
}
