//! `gpu-augment run --replay PARAMS.jsonl`: a run, then a replay of its
//! records into another folder, gives the same bytes for every shipped
//! pipeline (mixing ones included); a malformed record line is an error naming
//! its line and field; an edited record changes that sample only. CPU
//! backend, so these run anywhere.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gpu-augment"))
}

fn pipelines() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipelines")
}

/// An ImageFolder of 7 images in 2 classes, odd sizes, PNG and JPEG.
fn image_folder(dir: &Path) {
    for i in 0..7u64 {
        let class = if i % 3 == 0 { "cat" } else { "dog" };
        std::fs::create_dir_all(dir.join(class)).unwrap();
        let img = gpu_augment::synthetic_image(i, 37 + 13 * i as u32, 29 + 7 * i as u32);
        let ext = if i % 2 == 0 { "png" } else { "jpg" };
        img.save(dir.join(format!("{class}/img{i}.{ext}"))).unwrap();
    }
}

fn run(input: &Path, out: &Path, pipeline: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["run", "--backend", "cpu", "--batch-size", "3"])
        .args(extra)
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--pipeline")
        .arg(pipeline)
        .output()
        .unwrap()
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every file under `dir` (relative name -> bytes).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(dir).unwrap();
            m.insert(
                rel.to_string_lossy().replace('\\', "/"),
                std::fs::read(e.path()).unwrap(),
            );
        }
    }
    m
}

#[test]
fn a_replay_of_a_run_gives_identical_bytes_for_every_example_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    image_folder(&input);
    let mut names: Vec<PathBuf> = std::fs::read_dir(pipelines())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 11, "{names:?}");
    let mut mixing = 0;
    for shipped in &names {
        let name = shipped.file_stem().unwrap().to_string_lossy().to_string();
        // The mixing examples' num_classes must be the folder's 2 classes
        // (`run` refuses a mismatch).
        let text = std::fs::read_to_string(shipped).unwrap();
        let pipeline = &tmp.path().join(format!("{name}.toml"));
        std::fs::write(
            pipeline,
            text.replace("num_classes = 10", "num_classes = 2"),
        )
        .unwrap();
        let first = tmp.path().join(format!("{name}-run"));
        let again = tmp.path().join(format!("{name}-replay"));
        ok(&run(&input, &first, pipeline, &["--seed", "5"]), &name);
        let params = first.join("params.jsonl");
        // Another batch size: a mixing pipeline replays the recorded batches.
        let o = bin()
            .args(["run", "--backend", "cpu", "--batch-size", "2", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(&again)
            .arg("--pipeline")
            .arg(pipeline)
            .arg("--replay")
            .arg(&params)
            .output()
            .unwrap();
        ok(&o, &format!("{name} replay"));
        // Every file but the run's manifest.json (its settings and input list
        // for resuming `run`; a replay's settings are the records themselves).
        let (mut a, b) = (files(&first), files(&again));
        assert!(
            a.remove("manifest.json").is_some(),
            "{name}: the run wrote no manifest"
        );
        let outputs = a
            .keys()
            .filter(|k| k.ends_with(".png") || k.ends_with(".npy"))
            .count();
        assert!(outputs >= 7, "{name}: {} outputs", outputs);
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{name}: the same files"
        );
        for (k, v) in &a {
            assert!(b[k] == *v, "{name}: {k} differs after the replay");
        }
        if std::fs::read_to_string(&params)
            .unwrap()
            .contains("\"mix\"")
        {
            mixing += 1;
        }
    }
    assert!(mixing >= 2, "mixing pipelines covered: {mixing}");
}

fn affine_run(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let input = tmp.join("in");
    image_folder(&input);
    let out = tmp.join("run");
    let pipeline = pipelines().join("affine.toml");
    ok(&run(&input, &out, &pipeline, &[]), "run");
    (input, out, pipeline)
}

fn replay(input: &Path, out: &Path, pipeline: &Path, params: &Path) -> Output {
    run(
        input,
        out,
        pipeline,
        &["--replay", params.to_str().unwrap()],
    )
}

#[test]
fn a_malformed_record_line_names_its_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out, pipeline) = affine_run(tmp.path());
    let text = std::fs::read_to_string(out.join("params.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cases: Vec<(usize, String, &str)> = vec![
        // A wrong type for one parameter.
        (
            2,
            {
                let mut v: Value = serde_json::from_str(lines[1]).unwrap();
                v["ops"][1]["angle"] = Value::String("ninety".into());
                v.to_string()
            },
            "ops[1].angle",
        ),
        // A misspelt key.
        (
            3,
            lines[2].replacen("\"angle\":", "\"angel\":", 1),
            "ops[1].angel",
        ),
        // A line cut off (a run stopped mid-write).
        (5, lines[4][..lines[4].len() / 2].to_string(), "(json)"),
        // No file.
        (
            1,
            {
                let mut v: Value = serde_json::from_str(lines[0]).unwrap();
                v.as_object_mut().unwrap().remove("file");
                v.to_string()
            },
            "file",
        ),
        // A format this build does not read.
        (
            4,
            lines[3].replacen("\"format\":1", "\"format\":9", 1),
            "format",
        ),
    ];
    for (n, line, field) in cases {
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        edited[n - 1] = line;
        let params = tmp.path().join(format!("bad{n}.jsonl"));
        std::fs::write(&params, edited.join("\n") + "\n").unwrap();
        let o = replay(&input, &tmp.path().join("never"), &pipeline, &params);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "line {n}: {stderr}");
        assert!(
            stderr.contains(&format!("line {n}:")),
            "line {n} not named: {stderr}"
        );
        assert!(
            stderr.contains(&format!("`{field}`")),
            "line {n}: field `{field}` not named: {stderr}"
        );
    }
    // A file the input folder does not have.
    let mut v: Value = serde_json::from_str(lines[1]).unwrap();
    v["file"] = Value::String("dog/missing.png".into());
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[1] = v.to_string();
    let params = tmp.path().join("missing.jsonl");
    std::fs::write(&params, edited.join("\n")).unwrap();
    let o = replay(&input, &tmp.path().join("never"), &pipeline, &params);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("dog/missing.png"),
        "{stderr}"
    );
    // --seed does not go with --replay (the records hold every parameter).
    let o = run(
        &input,
        &tmp.path().join("never"),
        &pipeline,
        &[
            "--seed",
            "3",
            "--replay",
            out.join("params.jsonl").to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
}

#[test]
fn an_edited_record_changes_only_its_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, out, pipeline) = affine_run(tmp.path());
    let text = std::fs::read_to_string(out.join("params.jsonl")).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let target = lines[3]["file"].as_str().unwrap().to_string();
    let angle = lines[3]["ops"][1]["angle"].as_f64().unwrap();
    lines[3]["ops"][1]["angle"] = serde_json::json!(angle + 15.0);
    let params = tmp.path().join("edited.jsonl");
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    std::fs::write(&params, text).unwrap();
    let again = tmp.path().join("again");
    ok(&replay(&input, &again, &pipeline, &params), "replay");
    let (a, b) = (files(&out), files(&again));
    let output = Path::new(&target)
        .with_extension("png")
        .to_string_lossy()
        .replace('\\', "/");
    let mut changed = Vec::new();
    for (k, v) in &a {
        if k.ends_with(".png") && b[k] != *v {
            changed.push(k.clone());
        }
    }
    assert_eq!(changed, vec![output], "only the edited sample changes");
    // The new params.jsonl records the edited angle.
    let replayed = std::fs::read_to_string(again.join("params.jsonl")).unwrap();
    let line: Value = serde_json::from_str(replayed.lines().nth(3).unwrap()).unwrap();
    assert_eq!(line["ops"][1]["angle"].as_f64(), Some(angle + 15.0));
}
