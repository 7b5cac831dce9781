//! Targets from the command line and the Loader: `run --masks DIR` reads
//! label maps beside the images and writes them warped to OUT/masks/; mask
//! files in (8/16-bit grey, palette indices) and out.

use gpu_augment::targets::io::{load_mask, save_mask};
use gpu_augment::{Dataset, ItemTargets, Loader, LoaderOptions, Mask, Pipeline, TargetOptions};
use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gpu-augment"))
}

fn labels(w: u32, h: u32, seed: u32) -> Mask {
    Mask::u8(
        w,
        h,
        (0..h)
            .flat_map(|y| (0..w).map(move |x| ((x * 3 + y * 5 + seed) % 7) as u8))
            .collect(),
    )
}

#[test]
fn mask_files_round_trip_and_palette_indices_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let m = labels(13, 9, 1);
    let p = tmp.path().join("m.png");
    save_mask(&p, &m).unwrap();
    assert_eq!(load_mask(&p).unwrap(), m);
    let wide = Mask::u16(5, 4, (0..20).map(|v| v * 3000).collect());
    save_mask(&p, &wide).unwrap();
    assert_eq!(load_mask(&p).unwrap(), wide);
    // A palette PNG (as Pascal VOC stores classes): the indices, not colours.
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, 4, 2);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(vec![0, 0, 0, 128, 0, 0, 0, 128, 0, 255, 255, 255]);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[0, 1, 2, 3, 3, 2, 1, 0]).unwrap();
    }
    std::fs::write(&p, &bytes).unwrap();
    assert_eq!(
        load_mask(&p).unwrap(),
        Mask::u8(4, 2, vec![0, 1, 2, 3, 3, 2, 1, 0])
    );
    // An RGB PNG is no label map: an error naming the file.
    gpu_augment::synthetic_image(0, 4, 4).save(&p).unwrap();
    let e = load_mask(&p).unwrap_err().to_string();
    assert!(
        e.contains("m.png") && e.contains("one value per pixel"),
        "{e}"
    );
}

fn write_inputs(dir: &Path, masks: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::create_dir_all(masks.join("sub")).unwrap();
    for (i, rel) in ["a.png", "sub/b.jpg"].iter().enumerate() {
        gpu_augment::synthetic_image(i as u64, 40, 30)
            .save(dir.join(rel))
            .unwrap();
        let stem = Path::new(rel).with_extension("png");
        save_mask(&masks.join(stem), &labels(40, 30, i as u32)).unwrap();
    }
}

#[test]
fn run_with_masks_writes_the_warped_label_maps() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, masks, out) = (
        tmp.path().join("in"),
        tmp.path().join("masks"),
        tmp.path().join("out"),
    );
    write_inputs(&input, &masks);
    // A third image without its mask: reported, the others written.
    gpu_augment::synthetic_image(9, 40, 30)
        .save(input.join("c.png"))
        .unwrap();
    let pipeline = tmp.path().join("p.toml");
    std::fs::write(
        &pipeline,
        "size = [30, 40]\n[[ops]]\nop = \"horizontal_flip\"\np = 1.0\n[[ops]]\nop = \"color_jitter\"\nbrightness = 0.3\n[targets]\nignore_index = 200",
    )
    .unwrap();
    let o = bin()
        .args(["run", "--backend", "cpu", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .arg("--pipeline")
        .arg(&pipeline)
        .arg("--masks")
        .arg(&masks)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("c.png") && stderr.contains("mask"),
        "{stderr}"
    );
    for (i, rel) in ["a.png", "sub/b.png"].iter().enumerate() {
        let got = load_mask(&out.join("masks").join(rel)).unwrap();
        let src = labels(40, 30, i as u32);
        for y in 0..30 {
            for x in 0..40 {
                assert_eq!(got.get(x, y), src.get(39 - x, y), "{rel} at ({x}, {y})");
            }
        }
    }
    assert!(!out.join("masks/c.png").exists());
}

#[test]
fn the_loader_carries_targets_and_skips_items_whose_masks_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, masks) = (tmp.path().join("in"), tmp.path().join("masks"));
    write_inputs(&input, &masks);
    let paths = vec![
        input.join("a.png"),
        input.join("sub/b.jpg"),
        input.join("a.png"),
    ];
    let items = vec![
        ItemTargets {
            masks: vec![masks.join("a.png")],
            ..Default::default()
        },
        ItemTargets {
            masks: vec![masks.join("sub/b.png")],
            ..Default::default()
        },
        ItemTargets {
            masks: vec![masks.join("missing.png")],
            ..Default::default()
        },
    ];
    let ds = Dataset::from_paths(paths)
        .with_targets(items, TargetOptions::default())
        .unwrap();
    let p =
        Pipeline::from_toml("size = [30, 40]\n[[ops]]\nop = \"vertical_flip\"\np = 1.0").unwrap();
    let opts = LoaderOptions {
        batch_size: 3,
        shuffle: false,
        backend: gpu_augment::Backend::Cpu,
        ..LoaderOptions::default()
    };
    let loader = Loader::new(ds, p, opts).unwrap();
    let batches: Vec<_> = loader.epoch(0).unwrap().map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    assert_eq!(b.items, vec![0, 1]);
    assert_eq!(b.skipped.len(), 1);
    assert!(b.skipped[0].1.contains("missing.png"), "{:?}", b.skipped);
    let t = b.batch.targets.as_ref().unwrap();
    for (j, &item) in b.items.iter().enumerate() {
        let src = labels(40, 30, item as u32);
        let m = &t[j].masks[0];
        assert_eq!(m.get(3, 0), src.get(3, 29));
        assert_eq!(m.get(17, 11), src.get(17, 18));
    }
}

const COCO: &str = r#"{
  "images": [
    {"id": 7, "file_name": "a.png", "width": 40, "height": 30},
    {"id": 8, "file_name": "sub/b.jpg", "width": 40, "height": 30}
  ],
  "annotations": [
    {"id": 1, "image_id": 7, "category_id": 3, "bbox": [4, 5, 10, 8], "area": 80, "iscrowd": 0,
     "keypoints": [6.5, 7.5, 2, 0, 0, 0], "num_keypoints": 1},
    {"id": 2, "image_id": 7, "category_id": 1, "bbox": [20, 2, 12, 20], "area": 240, "iscrowd": 0,
     "keypoints": [25.5, 10.5, 2, 28.5, 12.5, 1], "num_keypoints": 2},
    {"id": 3, "image_id": 8, "category_id": 1, "bbox": [0, 0, 40, 30], "area": 1200, "iscrowd": 1}
  ],
  "categories": [
    {"id": 1, "name": "person", "keypoints": ["left_eye", "right_eye"], "skeleton": [[1, 2]]},
    {"id": 3, "name": "dog"}
  ]
}"#;

fn run_coco(pipeline_text: &str, coco: &str) -> (std::process::Output, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let (input, masks) = (tmp.path().join("in"), tmp.path().join("masks"));
    write_inputs(&input, &masks);
    let ann = tmp.path().join("instances.json");
    std::fs::write(&ann, coco).unwrap();
    let pipeline = tmp.path().join("p.toml");
    std::fs::write(&pipeline, pipeline_text).unwrap();
    let o = bin()
        .args(["run", "--backend", "cpu", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .arg("--pipeline")
        .arg(&pipeline)
        .arg("--annotations")
        .arg(&ann)
        .output()
        .unwrap();
    (o, tmp)
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn coco_round_trip_through_an_identity_pipeline_gives_the_same_annotations() {
    let (o, tmp) = run_coco("size = [30, 40]\n", COCO);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = read_json(&tmp.path().join("out/annotations.json"));
    let want: serde_json::Value = serde_json::from_str(COCO).unwrap();
    assert_eq!(got["categories"], want["categories"]);
    let names: Vec<&str> = got["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.png", "sub/b.png"]);
    let anns = got["annotations"].as_array().unwrap();
    assert_eq!(anns.len(), 3);
    for (g, w) in anns.iter().zip(want["annotations"].as_array().unwrap()) {
        for key in [
            "bbox",
            "category_id",
            "iscrowd",
            "area",
            "keypoints",
            "num_keypoints",
        ] {
            let (a, b) = (&g[key], &w[key]);
            if let (Some(a), Some(b)) = (a.as_array(), b.as_array()) {
                let a: Vec<f64> = a.iter().map(|v| v.as_f64().unwrap()).collect();
                let b: Vec<f64> = b.iter().map(|v| v.as_f64().unwrap()).collect();
                assert_eq!(a, b, "{key}");
            } else if let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) {
                assert_eq!(a, b, "{key}");
            } else {
                assert_eq!(a, b, "{key}");
            }
        }
    }
}

#[test]
fn coco_boxes_and_keypoints_follow_a_flip_and_bad_files_are_errors() {
    let (o, tmp) = run_coco(
        "size = [30, 40]\n[[ops]]\nop = \"horizontal_flip\"\np = 1.0\n[targets]\nflip_pairs = [[0, 1]]",
        COCO,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = read_json(&tmp.path().join("out/annotations.json"));
    let a = &got["annotations"][1];
    let bbox: Vec<f64> = a["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(bbox, [8.0, 2.0, 12.0, 20.0]);
    // Left and right eye swap places after the mirror.
    let kp: Vec<f64> = a["keypoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(kp, [11.5, 12.5, 1.0, 14.5, 10.5, 2.0]);
    let bad = COCO.replace("\"category_id\": 3", "\"category_id\": 5");
    let (o, _tmp) = run_coco("size = [30, 40]\n", &bad);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("instances.json")
            && stderr.contains("annotation 1")
            && stderr.contains("unknown category_id 5"),
        "{stderr}"
    );
}

#[test]
fn yolo_labels_follow_a_flip_and_bad_lines_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, masks, labels_dir) = (
        tmp.path().join("in"),
        tmp.path().join("masks"),
        tmp.path().join("labels"),
    );
    write_inputs(&input, &masks);
    std::fs::create_dir_all(&labels_dir).unwrap();
    // a.png: a box and a 2-point pose instance; sub/b.jpg: no file, no objects.
    std::fs::write(
        labels_dir.join("a.txt"),
        "3 0.25 0.5 0.25 0.4 0.2 0.5 2 0.3 0.5 1\n",
    )
    .unwrap();
    let pipeline = tmp.path().join("p.toml");
    std::fs::write(
        &pipeline,
        "size = [30, 40]\n[[ops]]\nop = \"horizontal_flip\"\np = 1.0\n[targets]\nflip_pairs = [[0, 1]]",
    )
    .unwrap();
    let run = |out: &Path| {
        bin()
            .args(["run", "--backend", "cpu", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(out)
            .arg("--pipeline")
            .arg(&pipeline)
            .arg("--yolo")
            .arg(&labels_dir)
            .output()
            .unwrap()
    };
    let out = tmp.path().join("out");
    let o = run(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // x -> 1 - x; the pair swapped after the mirror.
    assert_eq!(
        std::fs::read_to_string(out.join("labels/a.txt")).unwrap(),
        "3 0.750000 0.500000 0.250000 0.400000 0.700000 0.500000 1 0.800000 0.500000 2\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("labels/sub/b.txt")).unwrap(),
        ""
    );
    std::fs::write(labels_dir.join("a.txt"), "3 0.25 0.5 0.25\n").unwrap();
    let o = run(&tmp.path().join("out2"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("a.txt") && stderr.contains("line 1") && stderr.contains("4 fields"),
        "{stderr}"
    );
}
