//! `gpu-augment run` with a `[[views]]` pipeline: output names per view and
//! copy, records with the view's name, the outputs equal the library's,
//! reruns skip what is there, shards split the files, other settings are
//! refused. CPU backend, so these run anywhere.

use gpu_augment::{load_image, BatchKey, Request, SampleRecord, ViewAugmenter, Views};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gpu-augment"))
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/pipelines/{name}.toml"))
}

/// 5 images in 2 class folders, odd sizes, PNG and JPEG.
fn image_folder(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for i in 0..5u64 {
        let class = if i % 2 == 0 { "cat" } else { "dog" };
        std::fs::create_dir_all(dir.join(class)).unwrap();
        let img = gpu_augment::synthetic_image(i, 41 + 11 * i as u32, 33 + 5 * i as u32);
        let ext = if i % 2 == 0 { "png" } else { "jpg" };
        let p = dir.join(format!("{class}/img{i}.{ext}"));
        img.save(&p).unwrap();
        paths.push(p);
    }
    paths.sort();
    paths
}

fn run(input: &Path, out: &Path, pipeline: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["run", "--backend", "cpu", "--batch-size", "2"])
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

fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        let p = e.path();
        if e.file_type().is_file() && p.extension().is_some_and(|x| x == "png" || x == "npy") {
            let rel = p
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            m.insert(rel, std::fs::read(p).unwrap());
        }
    }
    m
}

fn records(path: &Path) -> Vec<(String, SampleRecord)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["file"].as_str().unwrap().to_string(),
                SampleRecord::from_json(l).unwrap(),
            )
        })
        .collect()
}

#[test]
fn outputs_are_named_per_view_and_copy_and_equal_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let paths = image_folder(&input);
    // FixMatch: one copy per view.
    let out = tmp.path().join("fix");
    ok(
        &run(&input, &out, &example("fixmatch"), &["--seed", "4"]),
        "fixmatch",
    );
    let got = outputs(&out);
    let mut want: Vec<String> = Vec::new();
    for (c, i) in [("cat", 0), ("dog", 1), ("cat", 2)] {
        for v in ["weak", "strong"] {
            want.push(format!("{c}/img{i}_{v}.png"));
        }
    }
    for w in &want {
        assert!(got.contains_key(w), "{w} missing: {:?}", got.keys());
    }
    assert_eq!(got.len(), 5 * 2);
    let recs = records(&out.join("params.jsonl"));
    assert_eq!(recs.len(), 10);
    // File by file, every view of a file together.
    assert_eq!(recs[0].1.view_name.as_deref(), Some("weak"));
    assert_eq!(recs[1].1.view_name.as_deref(), Some("strong"));
    assert_eq!(recs[0].0, recs[1].0);
    // The PNGs are the library's pixels.
    let views = Views::from_file(example("fixmatch")).unwrap();
    let aug = ViewAugmenter::new(views, gpu_augment::Backend::Cpu).unwrap();
    let images: Vec<_> = paths.iter().map(|p| load_image(p).unwrap()).collect();
    let lib = aug
        .augment(Request::new(&images).key(BatchKey::new(4, 0, 0)))
        .unwrap();
    let rels: Vec<String> = paths
        .iter()
        .map(|p| {
            p.strip_prefix(&input)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    for (i, rel) in rels.iter().enumerate() {
        let stem = rel.rsplit_once('.').unwrap().0;
        for vb in &lib {
            let png = image::load_from_memory(&got[&format!("{stem}_{}.png", vb.name)])
                .unwrap()
                .to_rgb8();
            assert!(
                png.as_raw().as_slice() == vb.batch.sample_u8(i).unwrap(),
                "{stem} {}",
                vb.name
            );
            let rec = recs
                .iter()
                .find(|(f, r)| f == rel && r.view_name.as_deref() == Some(vb.name.as_str()))
                .unwrap();
            assert_eq!(rec.1, vb.batch.records[i]);
        }
    }
    // DINO multi-crop: copies numbered, f32 as .npy.
    let out = tmp.path().join("dino");
    ok(&run(&input, &out, &example("dino_multicrop"), &[]), "dino");
    let got = outputs(&out);
    assert_eq!(got.len(), 5 * 8);
    for k in 0..2 {
        assert!(got.contains_key(&format!("dog/img1_global{k}.npy")));
    }
    for k in 0..6 {
        assert!(got.contains_key(&format!("dog/img1_local{k}.npy")));
    }
    let npy = &got["dog/img1_local5.npy"];
    let header = String::from_utf8_lossy(&npy[..128]);
    assert!(header.contains("(3, 96, 96,"), "{header}");
    let npy = &got["dog/img1_global0.npy"];
    let header = String::from_utf8_lossy(&npy[..128]);
    assert!(header.contains("(3, 224, 224,"), "{header}");
    let recs = records(&out.join("params.jsonl"));
    assert_eq!(recs.len(), 40);
    let locals: Vec<u32> = recs
        .iter()
        .filter(|(f, r)| f == "dog/img1.jpg" && r.view_name.as_deref() == Some("local"))
        .map(|(_, r)| r.view)
        .collect();
    assert_eq!(locals, vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn reruns_skip_complete_files_and_shards_split_them() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    image_folder(&input);
    let p = example("fixmatch");
    let out = tmp.path().join("out");
    ok(&run(&input, &out, &p, &["--seed", "2"]), "first");
    let first = outputs(&out);
    let params = std::fs::read_to_string(out.join("params.jsonl")).unwrap();
    // Everything there: nothing written, records not repeated.
    let s = ok(&run(&input, &out, &p, &["--seed", "2"]), "again");
    assert!(
        s.contains("wrote 0 images") && s.contains("10 already there"),
        "{s}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("params.jsonl")).unwrap(),
        params
    );
    // One view's output of one file removed: only its batch runs again.
    std::fs::remove_file(out.join("dog/img1_strong.png")).unwrap();
    let s = ok(&run(&input, &out, &p, &["--seed", "2"]), "resume");
    assert!(s.contains("wrote 4 images"), "{s}");
    assert_eq!(outputs(&out), first);
    assert_eq!(
        std::fs::read_to_string(out.join("params.jsonl")).unwrap(),
        params
    );
    // Other settings are refused, then allowed with --overwrite.
    let o = run(&input, &out, &p, &["--seed", "3"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--overwrite"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    ok(
        &run(&input, &out, &p, &["--seed", "3", "--overwrite"]),
        "overwrite",
    );
    assert_eq!(records(&out.join("params.jsonl")).len(), 10);
    assert_ne!(outputs(&out), first);
    // Two shards into one folder give the whole run's outputs.
    let sharded = tmp.path().join("sharded");
    for s in ["0/2", "1/2"] {
        ok(
            &run(&input, &sharded, &p, &["--seed", "2", "--shard", s]),
            s,
        );
    }
    assert_eq!(outputs(&sharded), first);
    assert_eq!(records(&sharded.join("params.0-of-2.jsonl")).len(), 6);
    assert_eq!(records(&sharded.join("params.1-of-2.jsonl")).len(), 4);
    // Targets are not supported with views: a clear error.
    let o = run(
        &input,
        &tmp.path().join("m"),
        &p,
        &["--masks", input.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("[[views]]"));
}
