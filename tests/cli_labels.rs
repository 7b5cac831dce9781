//! `gpu-augment run` with labels from class folders (the ImageFolder layout):
//! labels.jsonl holds each output's soft label, mixed as the images are; views
//! write one file per view. CPU backend, so these run anywhere.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gpu-augment"))
}

/// DIR/class_name/img.png for classes b_dog, a_cat, c_fox (sorted: a_cat = 0).
fn image_folder(dir: &Path, n: u64) -> Vec<(String, usize)> {
    let classes = ["b_dog", "a_cat", "c_fox"];
    let mut files = Vec::new();
    for i in 0..n {
        let c = classes[i as usize % 3];
        std::fs::create_dir_all(dir.join(c)).unwrap();
        let img = gpu_augment::synthetic_image(i, 30 + i as u32, 20 + 2 * i as u32);
        let rel = format!("{c}/img{i}.png");
        img.save(dir.join(&rel)).unwrap();
        let sorted = match c {
            "a_cat" => 0,
            "b_dog" => 1,
            _ => 2,
        };
        files.push((rel, sorted));
    }
    files.sort();
    files
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn run(input: &Path, out: &Path, pipeline: &str, batch: &str) -> std::process::Output {
    let pfile = out.with_extension("toml");
    std::fs::write(&pfile, pipeline).unwrap();
    bin()
        .args(["run", "--backend", "cpu", "--batch-size", batch, "--input"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--pipeline")
        .arg(&pfile)
        .output()
        .unwrap()
}

#[test]
fn run_writes_mixed_soft_labels_from_class_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let files = image_folder(&input, 7);
    let out = tmp.path().join("out");
    let o = run(
        &input,
        &out,
        "size = 16\n[[ops]]\nop = \"horizontal_flip\"\n[[ops]]\nop = \"cutmix\"\nnum_classes = 3",
        "3",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(out.join("classes.txt")).unwrap(),
        "a_cat\nb_dog\nc_fox\n"
    );
    let labels = lines(&out.join("labels.jsonl"));
    let params = lines(&out.join("params.jsonl"));
    assert_eq!(labels.len(), 7);
    let class_of = |index: u64| files[index as usize].1;
    for (l, p) in labels.iter().zip(&params) {
        assert_eq!(l["file"], p["file"]);
        let index = l["index"].as_u64().unwrap();
        assert_eq!(l["file"].as_str().unwrap(), files[index as usize].0);
        let row: Vec<f64> = l["label"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(row.len(), 3, "num_classes of the op");
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-6);
        let lam = p["mix"]["lam"].as_f64().unwrap();
        let partner = p["mix"]["partner_index"].as_u64().unwrap();
        // Batches of 3 files cut from the folder's keyed shuffle (seed 0,
        // epoch 0): the partner comes from the same shuffled batch.
        let order = gpu_augment::loader::epoch_order(files.len(), 0, 0, true);
        let batch_of = |i: u64| order.iter().position(|&o| o as u64 == i).unwrap() / 3;
        assert_eq!(
            batch_of(partner),
            batch_of(index),
            "partner within the batch"
        );
        let mut want = [0.0; 3];
        want[class_of(index)] += lam;
        want[class_of(partner)] += 1.0 - lam;
        for (a, b) in row.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{row:?} vs {want:?}");
        }
        assert!(out
            .join(l["file"].as_str().unwrap())
            .with_extension("png")
            .is_file());
    }
}

#[test]
fn run_writes_one_file_and_label_per_view() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let files = image_folder(&input, 4);
    let out = tmp.path().join("out");
    let o = run(
        &input,
        &out,
        "size = 12\nviews = 2\n[[ops]]\nop = \"random_resized_crop\"",
        "64",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let labels = lines(&out.join("labels.jsonl"));
    assert_eq!(labels.len(), 8);
    for (k, l) in labels.iter().enumerate() {
        assert_eq!(l["view"].as_u64().unwrap(), k as u64 % 2);
        let (rel, class) = &files[k / 2];
        let row = l["label"].as_array().unwrap();
        assert_eq!(row.len(), 3, "three class folders");
        assert_eq!(row[*class].as_f64().unwrap(), 1.0);
        let stem = rel.trim_end_matches(".png");
        assert!(out.join(format!("{stem}_v{}.png", k % 2)).is_file());
    }
}

#[test]
fn run_refuses_to_mix_without_class_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    gpu_augment::synthetic_image(0, 20, 20)
        .save(input.join("a.png"))
        .unwrap();
    let out = tmp.path().join("out");
    let o = run(
        &input,
        &out,
        "size = 8\n[[ops]]\nop = \"mixup\"\nnum_classes = 2",
        "8",
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`mixup`") && err.contains("ImageFolder"),
        "{err}"
    );
}
