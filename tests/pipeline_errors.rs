//! Bad pipelines and bad inputs are refused with messages that say what to
//! fix: the op (and its position), the key, the allowed range and the value given.

use gpu_augment::{
    Augmenter, Backend, BatchKey, Drawn, Error, OutputFormat, Pipeline, Request, RgbImage, Size,
};

/// The error a pipeline text gives (a panic if it is accepted).
fn refused(text: &str) -> Error {
    match Pipeline::from_toml(text) {
        Ok(p) => panic!("accepted a bad pipeline:\n{text}\nas {p:?}"),
        Err(e) => e,
    }
}

/// Checks that the error message of `text` holds every one of `parts`.
fn assert_refused(text: &str, parts: &[&str]) -> Error {
    let e = refused(text);
    let msg = e.to_string();
    for part in parts {
        assert!(
            msg.contains(part),
            "message for\n{text}\nlacks {part:?}: {msg}"
        );
    }
    e
}

fn one_op(op: &str, keys: &str) -> String {
    format!("size = 32\n[[ops]]\nop = \"{op}\"\n{keys}")
}

#[test]
fn unknown_op_is_named_with_the_known_ones() {
    let e = assert_refused(
        &one_op("flip_horizontal", ""),
        &[
            "op #0",
            "unknown op",
            "`flip_horizontal`",
            "horizontal_flip",
        ],
    );
    assert!(
        matches!(e, Error::UnknownOp { index: 0, ref name, .. } if name == "flip_horizontal"),
        "{e:?}"
    );
    // The position counts from 0 in file order.
    let text = "size = 32\n[[ops]]\nop = \"horizontal_flip\"\n[[ops]]\nop = \"solarise\"";
    assert_refused(
        text,
        &["op #1", "`solarise`", "random_resized_crop", "normalize"],
    );
}

#[test]
fn unknown_key_is_named_with_the_allowed_ones() {
    let e = assert_refused(
        &one_op("horizontal_flip", "prob = 0.5"),
        &["op #0", "`horizontal_flip`", "unknown key", "`prob`", "p"],
    );
    assert!(
        matches!(e, Error::UnknownKey { ref key, .. } if key == "prob"),
        "{e:?}"
    );
    assert_refused(
        &one_op("color_jitter", "brightness = 0.4\nhue_shift = 0.1"),
        &[
            "`color_jitter`",
            "`hue_shift`",
            "brightness, contrast, saturation, hue, p",
        ],
    );
    assert_refused(
        &one_op("center_crop", "size = 8\npadding = 2"),
        &["`center_crop`", "`padding`", "allowed keys: size"],
    );
}

#[test]
fn probability_out_of_range() {
    let e = assert_refused(
        &one_op("horizontal_flip", "p = 1.5"),
        &["`horizontal_flip`", "key `p`", "[0, 1]", "1.5"],
    );
    assert!(
        matches!(e, Error::InvalidParam { ref op, ref key, .. } if op == "horizontal_flip" && key == "p"),
        "{e:?}"
    );
    assert_refused(
        &one_op("grayscale", "p = -0.1"),
        &["`grayscale`", "key `p`", "[0, 1]", "-0.1"],
    );
    assert_refused(
        &one_op("affine", "degrees = 10\np = 2"),
        &["`affine`", "key `p`", "[0, 1]", "2"],
    );
}

#[test]
fn hue_out_of_range() {
    assert_refused(
        &one_op("color_jitter", "hue = 0.7"),
        &["`color_jitter`", "key `hue`", "[0, 0.5]", "0.7"],
    );
    assert_refused(
        &one_op("color_jitter", "hue = [-0.6, 0.1]"),
        &["`color_jitter`", "key `hue`", "[-0.5, 0.5]", "-0.6"],
    );
}

#[test]
fn negative_jitter_factor() {
    for key in ["brightness", "contrast", "saturation"] {
        assert_refused(
            &one_op("color_jitter", &format!("{key} = -0.2")),
            &["`color_jitter`", &format!("key `{key}`"), ">= 0", "-0.2"],
        );
    }
    assert_refused(
        &one_op("color_jitter", "brightness = [1.2, 0.8]"),
        &["key `brightness`", "1.2", "0.8"],
    );
}

#[test]
fn zero_sizes() {
    assert_refused("size = 0", &["`size`", "[1, 65535]", "0"]);
    assert_refused("size = [32, 0]", &["`size`", "[1, 65535]", "0"]);
    assert_refused(
        &one_op("random_resized_crop", "size = 0"),
        &["`random_resized_crop`", "key `size`", "[1, 65535]", "0"],
    );
    assert_refused(
        &one_op("center_crop", "size = [0, 8]"),
        &["`center_crop`", "key `size`", "[1, 65535]", "0"],
    );
    assert_refused(
        &one_op("random_crop", "size = 0"),
        &["`random_crop`", "key `size`", "[1, 65535]"],
    );
    assert_refused(
        &one_op("resize", "size = 0"),
        &["`resize`", "key `size`", "[1, 65535]"],
    );
    // A size built in code is checked too.
    let p = Pipeline::new(Size::new(0, 4), OutputFormat::U8Hwc);
    let e = p.validate().expect_err("an empty output size");
    assert!(
        e.to_string().contains("0x4") || e.to_string().contains("4x0"),
        "{e}"
    );
    assert!(
        Augmenter::new(p, Backend::Cpu).is_err(),
        "an augmenter for an invalid pipeline"
    );
}

#[test]
fn nan_and_infinity_are_refused() {
    for (op, key) in [
        ("horizontal_flip", "p"),
        ("color_jitter", "brightness"),
        ("color_jitter", "hue"),
        ("affine", "degrees"),
        ("affine", "fill"),
        ("random_resized_crop", "scale"),
    ] {
        assert_refused(
            &one_op(op, &format!("{key} = nan")),
            &[&format!("`{op}`"), &format!("key `{key}`"), "NaN"],
        );
        assert_refused(
            &one_op(op, &format!("{key} = inf")),
            &[&format!("`{op}`"), &format!("key `{key}`"), "inf"],
        );
    }
    assert_refused(
        "size = 8\nformat = \"f32_chw\"\n[[ops]]\nop = \"normalize\"\nstd = [0.2, nan, 0.2]",
        &["`normalize`", "key `std`", "NaN"],
    );
}

#[test]
fn other_bad_values_name_the_key() {
    assert_refused(
        &one_op("random_resized_crop", "scale = [0.9, 0.1]"),
        &["key `scale`", "0.9", "0.1"],
    );
    assert_refused(
        &one_op("random_resized_crop", "scale = [0.1, 1.5]"),
        &["key `scale`", "[0, 1]", "1.5"],
    );
    // Resizes know bicubic now (torchvision's names); warps still do not.
    assert_refused(
        &one_op("random_resized_crop", "interpolation = \"lanczos\""),
        &[
            "key `interpolation`",
            "bilinear",
            "nearest_exact",
            "lanczos",
        ],
    );
    assert_refused(
        &one_op("affine", "interpolation = \"bicubic\""),
        &["key `interpolation`", "bilinear", "nearest", "bicubic"],
    );
    assert_refused(
        &one_op("affine", "degrees = 400"),
        &["`affine`", "key `degrees`", "[0, 360]", "400"],
    );
    assert_refused(
        &one_op("affine", "translate = [0.1, 1.5]"),
        &["`affine`", "key `translate`", "[0, 1]"],
    );
    assert_refused(
        &one_op("affine", "shear = 95"),
        &["`affine`", "key `shear`", "89", "95"],
    );
    assert_refused(
        &one_op("random_crop", "size = 8\npadding = -2"),
        &["`random_crop`", "key `padding`", "[0, 65535]"],
    );
    assert_refused(
        &one_op("random_crop", "size = 8\npadding_mode = \"wrap\""),
        &["key `padding_mode`", "constant", "symmetric", "wrap"],
    );
    assert_refused(
        &one_op("random_crop", "size = 8\nfill = 300"),
        &["key `fill`", "[0, 255]", "300"],
    );
    assert_refused(
        &one_op("horizontal_flip", "p = \"often\""),
        &["key `p`", "number", "often"],
    );
    assert_refused(
        &one_op("random_crop", "size = 8\npad_if_needed = 1"),
        &["key `pad_if_needed`", "true or false"],
    );
    assert_refused(
        "size = 8\nformat = \"f32_chw\"\n[[ops]]\nop = \"normalize\"\nstd = [0.2, 0, 0.2]",
        &["`normalize`", "key `std`", "> 0"],
    );
    assert_refused(
        "size = 8\n[[ops]]\nop = \"resize\"\nsize = 8\nmax_size = 4",
        &["`resize`", "key `max_size`", "greater than"],
    );
    assert_refused(
        "size = 8\n[[ops]]\nlabel = \"flip\"",
        &["op #0", "`op`", "missing"],
    );
}

#[test]
fn normalize_must_be_last() {
    let text = "size = 8\nformat = \"f32_chw\"\n[[ops]]\nop = \"normalize\"\n[[ops]]\nop = \"horizontal_flip\"";
    let e = assert_refused(text, &["normalize", "last"]);
    assert!(matches!(e, Error::InvalidPipeline(_)), "{e:?}");
    // Built in code: the same check.
    let p = Pipeline::new(Size::square(8), OutputFormat::F32Chw)
        .with(gpu_augment::Op::Normalize {
            mean: [0.5; 3],
            std: [0.5; 3],
        })
        .expect("normalize alone is fine");
    let e = p
        .with(gpu_augment::Op::Grayscale {
            p: 1.0,
            num_output_channels: 3,
        })
        .expect_err("an op after normalize");
    assert!(e.to_string().contains("last"), "{e}");
}

#[test]
fn normalize_needs_f32_output() {
    assert_refused(
        "size = 8\n[[ops]]\nop = \"normalize\"",
        &["normalize", "f32_chw"],
    );
    assert_refused(
        "size = 8\nformat = \"u8_hwc\"\n[[ops]]\nop = \"normalize\"",
        &["normalize", "f32_chw"],
    );
    assert!(
        Pipeline::from_toml("size = 8\nformat = \"f32_chw\"\n[[ops]]\nop = \"normalize\"").is_ok()
    );
}

#[test]
fn unknown_top_level_key() {
    let e = assert_refused(
        "size = 8\nformats = \"u8_hwc\"",
        &["`formats`", "unknown key", "size, format, ops"],
    );
    assert!(
        matches!(e, Error::PipelineKey { ref key, .. } if key == "formats"),
        "{e:?}"
    );
    assert_refused("format = \"u8_hwc\"", &["`size`", "missing"]);
    assert_refused("size = 8\nops = 3", &["`ops`", "[[ops]]"]);
}

#[test]
fn bad_format_string() {
    let e = assert_refused(
        "size = 8\nformat = \"f64_chw\"",
        &["`format`", "u8_hwc", "f32_chw", "u8_chw", "f16_chw"],
    );
    assert!(
        matches!(e, Error::PipelineKey { ref key, .. } if key == "format"),
        "{e:?}"
    );
    assert_refused("size = 8\nformat = 1", &["`format`", "u8_hwc", "f32_chw"]);
}

#[test]
fn toml_syntax_error() {
    let e = assert_refused(
        "size = [8,\n[[ops]]\nop = horizontal_flip",
        &["not valid TOML"],
    );
    assert!(matches!(e, Error::PipelineSyntax(_)), "{e:?}");
    let e = refused("size = 8\n[[ops]\nop = \"grayscale\"");
    assert!(matches!(e, Error::PipelineSyntax(_)), "{e:?}");
    // toml reports where: the line of the error.
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn missing_pipeline_file_names_the_path() {
    let e = Pipeline::from_file("/nonexistent/dir/pipe.toml").expect_err("no such file");
    assert!(e.to_string().contains("/nonexistent/dir/pipe.toml"), "{e}");
    assert!(matches!(e, Error::PipelineIo { .. }), "{e:?}");
}

fn cpu(text: &str) -> Augmenter {
    Augmenter::new(Pipeline::from_toml(text).unwrap(), Backend::Cpu).unwrap()
}

#[test]
fn empty_image_is_an_invalid_image() {
    let aug = cpu("size = 8\n[[ops]]\nop = \"horizontal_flip\"");
    let good = RgbImage::new(4, 4);
    let e = aug
        .augment(Request::new(&[RgbImage::new(0, 5)]).key(BatchKey::default()))
        .expect_err("a 0x5 image");
    assert!(matches!(e, Error::InvalidImage { index: 0, .. }), "{e:?}");
    assert!(e.to_string().contains("0x5"), "{e}");
    let e = aug
        .augment(Request::new(&[good.clone(), RgbImage::new(5, 0)]).key(BatchKey::default()))
        .expect_err("a 5x0 image");
    assert!(matches!(e, Error::InvalidImage { index: 1, .. }), "{e:?}");
    let e = aug
        .augment(
            Request::new(&[RgbImage::new(0, 0)])
                .params(&[vec![Drawn::HorizontalFlip { applied: true }]])
                .indices(&[0]),
        )
        .expect_err("a 0x0 image with explicit parameters");
    assert!(matches!(e, Error::InvalidImage { index: 0, .. }), "{e:?}");
    assert!(aug
        .augment(Request::new(&[good]).key(BatchKey::default()))
        .is_ok());
}

#[test]
fn random_crop_larger_than_the_image() {
    let image = [RgbImage::new(32, 32)];
    let e = cpu("size = 40\n[[ops]]\nop = \"random_crop\"\nsize = 40")
        .augment(Request::new(&image).key(BatchKey::default()))
        .expect_err("a 40x40 crop of a 32x32 image");
    let msg = e.to_string();
    assert!(
        matches!(e, Error::OpFailed { index: 0, ref op, .. } if op == "random_crop"),
        "{e:?}"
    );
    assert!(
        msg.contains("random_crop") && msg.contains("pad_if_needed"),
        "{msg}"
    );
    assert!(msg.contains("40") && msg.contains("32"), "{msg}");
    // Padding that makes room, or pad_if_needed, is fine.
    assert!(
        cpu("size = 40\n[[ops]]\nop = \"random_crop\"\nsize = 40\npadding = 4")
            .augment(Request::new(&image).key(BatchKey::default()))
            .is_ok()
    );
    assert!(
        cpu("size = 40\n[[ops]]\nop = \"random_crop\"\nsize = 40\npad_if_needed = true")
            .augment(Request::new(&image).key(BatchKey::default()))
            .is_ok()
    );
    // 4 pixels of padding on one side only are not enough for 40 from 32.
    let e = cpu("size = 40\n[[ops]]\nop = \"random_crop\"\nsize = 40\npadding = [4, 4, 0, 0]")
        .augment(Request::new(&image).key(BatchKey::default()))
        .expect_err("36x36 padded");
    assert!(e.to_string().contains("random_crop"), "{e}");
}

#[test]
fn explicit_parameters_must_match_the_ops() {
    let aug = cpu("size = 8\n[[ops]]\nop = \"horizontal_flip\"\n[[ops]]\nop = \"grayscale\"");
    let im = [RgbImage::new(8, 8)];
    let ok = vec![
        Drawn::HorizontalFlip { applied: true },
        Drawn::Grayscale { applied: false },
    ];
    assert!(aug
        .augment(
            Request::new(&im)
                .params(std::slice::from_ref(&ok))
                .indices(&[0])
        )
        .is_ok());
    let swapped = vec![
        Drawn::Grayscale { applied: false },
        Drawn::HorizontalFlip { applied: true },
    ];
    let e = aug
        .augment(Request::new(&im).params(&[swapped]).indices(&[0]))
        .expect_err("records in the wrong order");
    assert!(e.to_string().contains("horizontal_flip"), "{e}");
    let e = aug
        .augment(Request::new(&im).params(&[ok[..1].to_vec()]).indices(&[0]))
        .expect_err("one record for two ops");
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    let e = aug
        .augment(Request::new(&im).params(&[ok.clone(), ok]).indices(&[0]))
        .expect_err("two records for one image");
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
}

#[test]
fn random_field_parameters_are_checked() {
    assert_refused(
        &one_op("random_field", "dx = 3"),
        &["op #0", "random_field", "`l`", "missing"],
    );
    assert_refused(
        &one_op("random_field", "l = 0\ndx = 3"),
        &["random_field", "`l`", "[0.5, 100000]", "0"],
    );
    assert_refused(
        &one_op("random_field", "l = [-4, 8]\ndx = 3"),
        &["random_field", "`l`", "-4"],
    );
    assert_refused(
        &one_op("random_field", "l = 8\ndx = nan"),
        &["random_field", "`dx`", "finite", "NaN"],
    );
    assert_refused(
        &one_op("random_field", "l = 8\nrotation = -5"),
        &["random_field", "`rotation`", "[0, 360]", "-5"],
    );
    assert_refused(
        &one_op("random_field", "l = 8\nhue = 0.7"),
        &["random_field", "`hue`", "[0, 0.5]", "0.7"],
    );
    assert_refused(
        &one_op("random_field", "l = 8\nscale = 0.1"),
        &["random_field", "`scale`", "log_scale"],
    );
    assert_refused(
        &one_op("elastic", "sigma = 0"),
        &["elastic", "`sigma`", "[0.5, 100000]"],
    );
    assert_refused(
        &one_op("elastic", "alpha = [10, -1]"),
        &["elastic", "`alpha`", "-1"],
    );
}

#[test]
fn random_field_must_be_the_last_geometric_op() {
    assert_refused(
        "size = 32\n[[ops]]\nop = \"random_field\"\nl = 8\ndx = 2\n[[ops]]\nop = \"horizontal_flip\"",
        &["horizontal_flip (op #1)", "random_field (op #0)", "last geometric op"],
    );
    assert_refused(
        "size = 32\n[[ops]]\nop = \"elastic\"\n[[ops]]\nop = \"random_field\"\nl = 8\ndx = 2",
        &["random_field (op #1)", "elastic (op #0)", "only one"],
    );
    // Colour ops may follow.
    Pipeline::from_toml(
        "size = 32\n[[ops]]\nop = \"elastic\"\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.2",
    )
    .expect("colour after a field is fine");
}

#[test]
fn length_scale_far_beyond_the_image_is_an_error_naming_the_limit() {
    // The limit depends on the output size, and is checked when the file is
    // read (issue 11: it used to pass the file check and fail at run start).
    let e = Pipeline::from_toml("size = 32\n[[ops]]\nop = \"random_field\"\nl = 5000\ndx = 2")
        .expect_err("l = 5000 on a 32x32 output");
    let msg = e.to_string();
    assert!(
        matches!(e, Error::InvalidParam { index: 0, ref op, ref key, .. } if op == "random_field" && key == "l"),
        "{e:?}"
    );
    for part in ["5000", "3200", "32x32", "affine"] {
        assert!(msg.contains(part), "message lacks {part:?}: {msg}");
    }
    // An explicit (recorded) length scale beyond the limit fails at run time,
    // naming the op and the same limit.
    let p = Pipeline::from_toml("size = 32\n[[ops]]\nop = \"random_field\"\nl = 50\ndx = 2")
        .expect("parses");
    let aug = Augmenter::new(p, Backend::Cpu).expect("augmenter");
    let mut drawn = aug.pipeline().draw(0, 0, 0, 0, 40, 30);
    if let gpu_augment::Drawn::RandomField { l, applied, .. } = &mut drawn[0] {
        *l = 5000.0;
        *applied = true;
    }
    let e = aug
        .augment(
            Request::new(&[RgbImage::new(40, 30)])
                .params(&[drawn])
                .indices(&[0]),
        )
        .expect_err("l = 5000 on a 32x32 output");
    let msg = e.to_string();
    assert!(
        matches!(e, Error::OpFailed { index: 0, ref op, .. } if op == "random_field"),
        "{e:?}"
    );
    for part in ["5000", "3200", "32x32", "affine"] {
        assert!(msg.contains(part), "message lacks {part:?}: {msg}");
    }
}
