//! The command line end to end: run over a folder with bad files in it, apply,
//! bench, info, and pipeline errors. Uses the CPU backend (the GPU path is
//! covered by the parity tests) so these run anywhere.

mod common;

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gpu-augment"))
}

fn pipelines() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipelines")
}

fn good_images(dir: &Path, n: u64) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for i in 0..n {
        let img = gpu_augment::synthetic_image(i, 40 + i as u32 * 7, 30 + i as u32 * 3);
        let path = if i % 2 == 0 {
            dir.join(format!("img{i}.png"))
        } else {
            dir.join(format!("sub/img{i}.jpg"))
        };
        img.save(&path).unwrap();
    }
}

#[test]
fn run_reports_bad_files_and_writes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    good_images(&input, 5);
    // A truncated PNG, a zero-byte file, a text file named .jpg.
    let png = std::fs::read(input.join("img0.png")).unwrap();
    std::fs::write(input.join("truncated.png"), &png[..png.len() / 2]).unwrap();
    std::fs::write(input.join("empty.png"), b"").unwrap();
    std::fs::write(input.join("sub/notes.jpg"), b"this is not an image\n").unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args(["run", "--backend", "cpu", "--batch-size", "2", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .arg("--pipeline")
        .arg(pipelines().join("affine.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "exit status must be 1 when files fail; stderr: {stderr}"
    );
    for bad in ["truncated.png", "empty.png", "notes.jpg"] {
        assert!(stderr.contains(bad), "stderr must name {bad}: {stderr}");
    }
    for i in 0..5 {
        let rel = if i % 2 == 0 {
            format!("img{i}.png")
        } else {
            format!("sub/img{i}.png")
        };
        let img = image::open(out.join(&rel)).unwrap_or_else(|e| panic!("{rel} not written: {e}"));
        assert_eq!((img.width(), img.height()), (224, 224));
    }
    let params = std::fs::read_to_string(out.join("params.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = params
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines
        .iter()
        .all(|l| l["ops"].as_array().is_some_and(|a| a.len() == 2)));
    assert!(lines.iter().any(|l| l["file"] == "sub/img1.jpg"));
}

#[test]
fn run_is_independent_of_batch_size_and_writes_npy_for_f32() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    good_images(&input, 4);
    let mut outs = Vec::new();
    for bs in ["1", "3"] {
        let out = tmp.path().join(format!("out{bs}"));
        let o = bin()
            .args([
                "run",
                "--backend",
                "cpu",
                "--seed",
                "5",
                "--batch-size",
                bs,
                "--input",
            ])
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .arg("--pipeline")
            .arg(pipelines().join("imagenet_train.toml"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        outs.push(out);
    }
    for rel in ["img0.npy", "sub/img1.npy", "img2.npy", "sub/img3.npy"] {
        let a = std::fs::read(outs[0].join(rel)).unwrap();
        let b = std::fs::read(outs[1].join(rel)).unwrap();
        assert!(a.starts_with(b"\x93NUMPY"), "{rel} is not .npy");
        assert_eq!(a.len(), b.len());
        assert!(a == b, "{rel} differs between batch sizes 1 and 3");
        // header + 3 x 224 x 224 f32
        assert!(a.len() >= 3 * 224 * 224 * 4);
    }
}

#[test]
fn apply_rotates_by_exactly_90_degrees() {
    let tmp = tempfile::tempdir().unwrap();
    let src = gpu_augment::synthetic_image(3, 9, 9);
    let input = tmp.path().join("in.png");
    src.save(&input).unwrap();
    let out = tmp.path().join("out.png");
    let o = bin()
        .args([
            "apply",
            "--backend",
            "cpu",
            "--op",
            "rotate",
            "--set",
            "angle=90",
            "--set",
            "interpolation=nearest",
        ])
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rec: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // `rotate` turns like F.rotate: counter-clockwise for positive angles
    // (it used to follow F.affine's clockwise convention). The record is the
    // affine op it lowers to, in affine's convention: angle -90.
    assert_eq!(rec["ops"][0]["angle"], -90.0);
    let got = image::open(&out).unwrap().to_rgb8();
    // Counter-clockwise: output (x, y) comes from source (8 - y, x).
    for y in 0..9 {
        for x in 0..9 {
            assert_eq!(
                got.get_pixel(x, y),
                src.get_pixel(8 - y, x),
                "pixel ({x}, {y})"
            );
        }
    }
}

#[test]
fn apply_rejects_unknown_op_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.png");
    gpu_augment::synthetic_image(1, 8, 8).save(&input).unwrap();
    let out = tmp.path().join("o.png");
    let o = bin()
        .args(["apply", "--backend", "cpu", "--op", "twirl"])
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown op `twirl`"));
    let o = bin()
        .args([
            "apply",
            "--backend",
            "cpu",
            "--op",
            "brightness",
            "--set",
            "amount=2",
        ])
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("brightness") && e.contains("amount"), "{e}");
}

/// `gpu-augment bench` on the CPU over `dir` (color_jitter, one repeat, batches of 2, one thread).
fn bench_cli(dir: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("bench")
        .args(extra)
        .args([
            "--backend",
            "cpu",
            "--repeats",
            "1",
            "--batch-size",
            "2",
            "--threads",
            "1",
        ])
        .arg("--input")
        .arg(dir)
        .arg("--pipeline")
        .arg(pipelines().join("color_jitter.toml"))
        .output()
        .unwrap()
}

#[test]
fn bench_prints_images_per_second_last() {
    let tmp = tempfile::tempdir().unwrap();
    good_images(tmp.path(), 3);
    let o = bench_cli(tmp.path(), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let last = stdout.lines().last().unwrap();
    let rate: f64 = last
        .strip_prefix("images/s: ")
        .expect("last line is `images/s: N`")
        .parse()
        .unwrap();
    assert!(rate > 0.0);
}

// `bench --backend gpu` prints the GPU path's cost per image after its
// table: uploads of 3 bytes a source pixel (RGB) plus the sample records,
// the u8 outputs' bytes read back, 2 dispatches a batch for color_jitter
// (contrast's mean is a barrier pass), and per batch in steady state 3
// staging buffers (the buffer set and the output tensor are reused). Needs an adapter
// (lavapipe in CI).
#[test]
fn bench_on_the_gpu_prints_the_cost_per_image() {
    if common::gpu().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    good_images(tmp.path(), 4);
    let o = bin()
        .args([
            "bench",
            "--backend",
            "gpu",
            "--repeats",
            "2",
            "--batch-size",
            "2",
        ])
        .arg("--input")
        .arg(tmp.path())
        .arg("--pipeline")
        .arg(pipelines().join("color_jitter.toml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("gpu per image: "))
        .unwrap_or_else(|| panic!("no `gpu per image` line in {stdout}"));
    let field = |k: &str| -> f64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in {line}"))
            .parse()
            .unwrap()
    };
    // Sources 40x30, 47x33, 54x36, 61x39.
    let px: f64 = (0..4)
        .map(|i| ((40 + i * 7) * (30 + i * 3)) as f64)
        .sum::<f64>()
        / 4.0;
    let up = field("up_bytes");
    // Beyond the RGB bytes: the sample record (768 bytes since it carries the
    // resampler's parameters) and the image's share of the batch's globals.
    let record = std::mem::size_of::<gpu_augment::plan::GpuSample>() as f64;
    // 3 bytes a source pixel (RGB, as decoded), padded to whole words + 1.
    assert!(up >= 3.0 * px && up < 3.0 * px + record + 320.0, "{line}");
    assert_eq!(field("down_bytes"), 224.0 * 224.0 * 3.0, "{line}");
    assert_eq!(field("dispatches_per_batch"), 2.0, "{line}");
    // Steady state allocates nothing: the uploads go through the kept,
    // mapped upload buffers, and the output tensor comes from the pool
    // (bench recycles each batch, `Augmenter::recycle`).
    assert_eq!(field("allocations_per_batch"), 0.0, "{line}");
    assert!(field("host_ns") > 0.0, "{line}");
}

#[test]
fn bad_pipeline_file_names_op_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.toml");
    std::fs::write(&p, "size = 32\n[[ops]]\nop = \"color_jitter\"\nhue = 0.9\n").unwrap();
    good_images(&tmp.path().join("in"), 1);
    let o = bin()
        .args(["run", "--backend", "cpu", "--input"])
        .arg(tmp.path().join("in"))
        .arg("--out")
        .arg(tmp.path().join("out"))
        .arg("--pipeline")
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("color_jitter") && e.contains("hue") && e.contains("[0, 0.5]"),
        "{e}"
    );
}

#[test]
fn info_lists_adapters_or_says_none() {
    let o = bin().arg("info").output().unwrap();
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("adapters found:") && s.contains("chosen:"),
        "{s}"
    );
}

#[test]
fn apply_renders_the_field_a_run_drew() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    gpu_augment::synthetic_image(5, 48, 48)
        .save(input.join("a.png"))
        .unwrap();
    let pipeline = tmp.path().join("field.toml");
    std::fs::write(
        &pipeline,
        "size = 48\n[[ops]]\nop = \"random_field\"\nl = [4, 20]\ndx = 3\ndy = 2\nhue = 0.05\nfill = 9",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args(["run", "--backend", "cpu", "--seed", "42", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .arg("--pipeline")
        .arg(&pipeline)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let params = std::fs::read_to_string(out.join("params.jsonl")).unwrap();
    let rec: serde_json::Value = serde_json::from_str(params.lines().next().unwrap()).unwrap();
    let drawn = &rec["ops"][0];
    assert_eq!(drawn["op"], "random_field");
    let (l, seed) = (
        drawn["l"].as_f64().unwrap(),
        drawn["seed"].as_u64().unwrap(),
    );
    let apply = |seed: u64, name: &str| {
        let path = tmp.path().join(name);
        let o = bin()
            .args(["apply", "--backend", "cpu", "--op", "random_field"])
            .args(["--set", &format!("l={l}"), "--set", "dx=3", "--set", "dy=2"])
            .args(["--set", "hue=0.05", "--set", "fill=9"])
            .args(["--set", &format!("seed={seed}")])
            .arg(input.join("a.png"))
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        image::open(&path).unwrap().to_rgb8()
    };
    let ran = image::open(out.join("a.png")).unwrap().to_rgb8();
    assert!(
        apply(seed, "same.png") == ran,
        "apply with the recorded seed differs from the run"
    );
    assert!(
        apply(seed ^ 1, "other.png") != ran,
        "another seed gave the same field"
    );
}

fn run_cmd(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .args([
            "run",
            "--backend",
            "cpu",
            "--batch-size",
            "2",
            "--seed",
            "3",
        ])
        .args(extra)
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--pipeline")
        .arg(pipelines().join("affine.toml"))
        .output()
        .unwrap()
}

fn outputs(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut m = std::collections::BTreeMap::new();
    for rel in [
        "img0", "img2", "img4", "img6", "sub/img1", "sub/img3", "sub/img5",
    ] {
        let p = dir.join(format!("{rel}.png"));
        if let Ok(b) = std::fs::read(&p) {
            m.insert(rel.to_string(), b);
        }
    }
    m
}

#[test]
fn run_shards_and_resumes_a_stopped_run() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    good_images(&input, 7);
    let full = tmp.path().join("full");
    let o = run_cmd(&input, &full, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference = outputs(&full);
    assert_eq!(reference.len(), 7);
    // Two shards into one folder: every file once, the same bytes.
    let sharded = tmp.path().join("sharded");
    let mut lines = 0;
    for s in ["0/2", "1/2"] {
        let o = run_cmd(&input, &sharded, &["--shard", s]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let name = format!("params.{}-of-2.jsonl", &s[..1]);
        lines += std::fs::read_to_string(sharded.join(name))
            .unwrap()
            .lines()
            .count();
    }
    assert_eq!(lines, 7);
    assert_eq!(outputs(&sharded), reference);
    assert!(!run_cmd(&input, &sharded, &["--shard", "2/2"])
        .status
        .success());
    // A stopped run: the first batch's outputs (img0, img2) missing. The
    // re-run writes that batch only, identical, and keeps the rest.
    std::fs::remove_file(full.join("img0.png")).unwrap();
    std::fs::remove_file(full.join("img2.png")).unwrap();
    let o = run_cmd(&input, &full, &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.contains("wrote 2 images") && stdout.contains("5 already there"),
        "{stdout}"
    );
    assert_eq!(outputs(&full), reference);
    let records = |dir: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(dir.join("params.jsonl")).unwrap();
        let mut files: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["file"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        files.sort();
        files
    };
    let all = records(&full);
    assert_eq!(all.len(), 7, "each output recorded once: {all:?}");
    all.windows(2)
        .for_each(|w| assert_ne!(w[0], w[1], "recorded twice"));
    // Stopped after writing a batch's images but before its records (the
    // last two lines lost, the last one cut mid-line): the re-run redoes
    // that batch and records it, each output still once.
    let text = std::fs::read_to_string(full.join("params.jsonl")).unwrap();
    let kept: Vec<&str> = text.lines().collect();
    let cut = format!("{}\n{}", kept[..5].join("\n"), &kept[5][..10]);
    std::fs::write(full.join("params.jsonl"), cut).unwrap();
    let o = run_cmd(&input, &full, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(outputs(&full), reference);
    assert_eq!(records(&full), all);
}

#[test]
fn bench_end_to_end_prints_the_stages() {
    let tmp = tempfile::tempdir().unwrap();
    good_images(tmp.path(), 5);
    let o = bench_cli(tmp.path(), &["--end-to-end"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(
            "| end-to-end images/s | decode alone | augment alone | decode busy | augment busy |"
        ),
        "{stdout}"
    );
    // The row: 5 images, three rates and three percentages.
    let row = stdout.lines().nth(2).unwrap();
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(cells[5], "5", "{row}");
    for c in &cells[6..9] {
        assert!(c.parse::<f64>().unwrap() > 0.0, "{row}");
    }
    for c in &cells[9..12] {
        let pct: f64 = c.trim_end_matches('%').parse().unwrap();
        assert!((0.0..=100.5).contains(&pct), "{row}");
    }
    let rate: f64 = stdout
        .lines()
        .last()
        .unwrap()
        .strip_prefix("images/s: ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(rate > 0.0);
}

#[test]
fn one_channel_outputs_are_grey_pngs_and_one_plane_npy() {
    let tmp = tempfile::tempdir().unwrap();
    let src = gpu_augment::synthetic_image(4, 11, 7);
    let input = tmp.path().join("in.png");
    src.save(&input).unwrap();
    // apply: torchvision's rgb_to_grayscale(img, num_output_channels=1).
    let out = tmp.path().join("grey.png");
    let o = bin()
        .args(["apply", "--backend", "cpu", "--op", "grayscale"])
        .args(["--set", "num_output_channels=1"])
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = image::open(&out).unwrap();
    assert_eq!(got.color(), image::ColorType::L8, "an 8-bit grey PNG");
    let got = got.to_luma8();
    for (x, y, p) in src.enumerate_pixels() {
        let [r, g, b] = p.0.map(|v| v as f64);
        let want = (0.299 * r + 0.587 * g + 0.114 * b).round();
        assert!(
            (got.get_pixel(x, y)[0] as f64 - want).abs() <= 1.0,
            "pixel ({x}, {y})"
        );
    }
    // run: u8 pipelines write grey PNGs, f32 ones [1, H, W] arrays.
    let dir = tmp.path().join("photos");
    good_images(&dir, 2);
    for (fmt, ext) in [("u8_hwc", "png"), ("f32_chw", "npy")] {
        let pipe = tmp.path().join(format!("{fmt}.toml"));
        std::fs::write(
            &pipe,
            format!("size = [12, 10]\nformat = \"{fmt}\"\n[[ops]]\nop = \"random_resized_crop\"\n[[ops]]\nop = \"grayscale\"\nnum_output_channels = 1"),
        )
        .unwrap();
        let out = tmp.path().join(format!("out-{fmt}"));
        let o = bin()
            .args(["run", "--backend", "cpu", "--input"])
            .arg(&dir)
            .arg("--out")
            .arg(&out)
            .arg("--pipeline")
            .arg(&pipe)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let path = out.join(format!("img0.{ext}"));
        if ext == "png" {
            let img = image::open(&path).unwrap();
            assert_eq!(img.color(), image::ColorType::L8);
            assert_eq!((img.width(), img.height()), (10, 12));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
            assert_eq!(npy.shape(), &[1, 12, 10]);
        }
    }
}

/// `run` with an f16_chw pipeline writes [C, H, W] arrays of dtype `<f2`:
/// the f32_chw pipeline's arrays rounded (`half::f16::from_f32`), bit for bit.
#[test]
fn run_writes_f16_npy_the_f32_values_rounded() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    good_images(&input, 2);
    let text = std::fs::read_to_string(pipelines().join("imagenet_train.toml")).unwrap();
    let mut arrays = Vec::new();
    for fmt in ["f32_chw", "f16_chw"] {
        let pipe = tmp.path().join(format!("{fmt}.toml"));
        std::fs::write(
            &pipe,
            text.replace("format = \"f32_chw\"", &format!("format = \"{fmt}\"")),
        )
        .unwrap();
        let out = tmp.path().join(format!("out-{fmt}"));
        let o = bin()
            .args(["run", "--backend", "cpu", "--seed", "3", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .arg("--pipeline")
            .arg(&pipe)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let bytes = std::fs::read(out.join("img0.npy")).unwrap();
        let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(npy.shape(), &[3, 224, 224], "{fmt}");
        let descr = npy.header().dtype().descr();
        arrays.push((descr, bytes));
    }
    assert_eq!(arrays[0].0, "'<f4'");
    assert_eq!(arrays[1].0, "'<f2'");
    let f32s: Vec<f32> = npyz::NpyFile::new(&arrays[0].1[..])
        .unwrap()
        .into_vec()
        .unwrap();
    let f16s: Vec<gpu_augment::half::f16> = npyz::NpyFile::new(&arrays[1].1[..])
        .unwrap()
        .into_vec()
        .unwrap();
    assert_eq!(f32s.len(), f16s.len());
    for (i, (a, b)) in f32s.iter().zip(&f16s).enumerate() {
        assert_eq!(
            gpu_augment::half::f16::from_f32(*a).to_bits(),
            b.to_bits(),
            "value {i}"
        );
    }
}
