//! Fuzz targets on stable Rust: property-based (proptest) generation and
//! byte mutation of the engine's untrusted inputs, checking that nothing
//! panics and that what is accepted runs.
//!
//! - `pipeline_files`: pipeline TOML, generated (ops, keys and values drawn
//!   from the real names plus wrong ones) and byte-mutated shipped
//!   pipelines; accepted pipelines with a small output run on a tiny image.
//! - `image_files`: images in every format the engine reads, byte-mutated,
//!   truncated and spliced, through `decode_image` (with and without EXIF
//!   orientation).
//! - `apply_keys`: `apply`'s op names and `key=value` strings.
//! - `records`: `params.jsonl` lines (`SampleRecord::from_json`, what
//!   `run --replay` reads): real records of the shipped pipelines,
//!   byte-mutated and cut; accepted records are replayed on tiny images.
//!
//! In `cargo test` each target runs 2000 cases (about a second). For a
//! long run, `GA_FUZZ_SECS=600` runs each target for that many seconds (the
//! four in parallel), and `GA_FUZZ_CASES=N` sets a case count instead:
//!
//! ```sh
//! GA_FUZZ_SECS=600 cargo test --test fuzz -- --nocapture
//! ```
//!
//! Each target prints its cases, seconds and cases per second. A failure is
//! shrunk by proptest and its seed saved in `tests/fuzz.proptest-regressions`
//! (replayed first on every later run); the inputs of failures found so far
//! are kept as the regression tests at the end of this file.

use gpu_augment::{Augmenter, Backend, BatchKey, Pipeline};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Inputs a target accepted (parsed, decoded, applied), for the summary line.
static ACCEPTED: [AtomicU64; 4] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

fn budget() -> (u32, Option<Duration>) {
    let secs = std::env::var("GA_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok());
    let cases = std::env::var("GA_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse::<u32>().ok());
    match (secs, cases) {
        (Some(s), _) => (256, Some(Duration::from_secs_f64(s))),
        (None, Some(c)) => (c, None),
        (None, None) => (2000, None),
    }
}

/// Runs `test` on `strategy` for the configured cases or seconds (in rounds
/// of fresh random cases), failing with proptest's shrunk input.
fn fuzz<S: Strategy>(
    name: &str,
    slot: usize,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let (cases, time) = budget();
    let start = Instant::now();
    let mut total = 0u64;
    loop {
        let config = Config {
            cases,
            failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
                "proptest-regressions",
            ))),
            source_file: Some(file!()),
            max_shrink_iters: 2048,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("fuzz target {name}: {e}");
        }
        total += cases as u64;
        match time {
            Some(t) if start.elapsed() < t => continue,
            _ => break,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "fuzz target {name}: {total} cases in {secs:.1} s ({:.0} cases/s), {} accepted",
        total as f64 / secs.max(1e-9),
        ACCEPTED[slot].load(Ordering::Relaxed)
    );
}

/// Every op name of the library's tables (pipeline ops, mixing ops), and
/// wrong ones.
fn op_names() -> Vec<&'static str> {
    let defs = gpu_augment::ops::OP_DEFS
        .iter()
        .chain(gpu_augment::mix::MIX_DEFS);
    defs.map(|d| d.name).chain(["no_such_op", ""]).collect()
}

/// Every key any op of those tables takes, and wrong ones.
fn key_names() -> Vec<&'static str> {
    let defs = gpu_augment::ops::OP_DEFS
        .iter()
        .chain(gpu_augment::mix::MIX_DEFS);
    let mut keys: Vec<&'static str> = defs.flat_map(|d| d.keys.iter().map(|k| k.name)).collect();
    keys.extend(["seed", "bogus"]);
    keys.sort_unstable();
    keys.dedup();
    keys
}

const NUMS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "0.5",
    "0.1",
    "1.5",
    "7",
    "16",
    "31",
    "90",
    "128",
    "255",
    "256",
    "1e-40",
    "1e40",
    "-0.0",
    "nan",
    "inf",
    "-inf",
    "9223372036854775807",
    "-9223372036854775808",
    "65535",
    "65536",
    "0.999999",
    "1e5",
];

const STRS: &[&str] = &[
    "bilinear",
    "nearest",
    "constant",
    "reflect",
    "imagenet",
    "random",
    "u8_hwc",
    "f32_chw",
    "Rotate",
    "Equalize",
    "",
    "\u{1F600}",
];

fn value() -> impl Strategy<Value = String> {
    let num = prop::sample::select(NUMS).prop_map(str::to_string);
    prop_oneof![
        4 => num.clone(),
        3 => prop::collection::vec(num.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
        1 => prop::sample::select(STRS).prop_map(|s| format!("{s:?}")),
        1 => prop::collection::vec(prop::sample::select(STRS), 0..4)
            .prop_map(|v| format!("[{}]", v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))),
        1 => Just("true".to_string()),
        1 => (prop::sample::select(op_names()), num).prop_map(|(o, p)| format!("[{{ op = {o:?}, p = {p} }}]")),
        1 => Just("{ a = 1 }".to_string()),
    ]
}

fn op_table() -> impl Strategy<Value = String> {
    (
        prop::sample::select(op_names()),
        prop::collection::btree_map(prop::sample::select(key_names()), value(), 0..5),
    )
        .prop_map(|(op, kvs)| {
            let mut s = format!("[[ops]]\nop = {op:?}\n");
            for (k, v) in kvs {
                s += &format!("{k} = {v}\n");
            }
            s
        })
}

const EXAMPLES: &[&str] = &[
    include_str!("../examples/pipelines/affine.toml"),
    include_str!("../examples/pipelines/cifar_train.toml"),
    include_str!("../examples/pipelines/color_jitter.toml"),
    include_str!("../examples/pipelines/cutmix.toml"),
    include_str!("../examples/pipelines/elastic.toml"),
    include_str!("../examples/pipelines/imagenet_train.toml"),
    include_str!("../examples/pipelines/mixup.toml"),
    include_str!("../examples/pipelines/randaugment.toml"),
    include_str!("../examples/pipelines/random_field_ssl.toml"),
    include_str!("../examples/pipelines/ssl_two_views.toml"),
    include_str!("../examples/pipelines/trivial_augment.toml"),
    include_str!("../examples/pipelines/rotation_cutout.toml"),
    include_str!("../examples/pipelines/colorful_cutout.toml"),
];

/// Byte mutations: (where, what) overwrites, then an optional cut.
fn mutate(
    base: &[u8],
    edits: &[(prop::sample::Index, u8)],
    cut: Option<prop::sample::Index>,
) -> Vec<u8> {
    let mut b = base.to_vec();
    if b.is_empty() {
        return b;
    }
    for (at, byte) in edits {
        let i = at.index(b.len());
        b[i] = *byte;
    }
    if let Some(c) = cut {
        b.truncate(c.index(b.len() + 1));
    }
    b
}

fn pipeline_text() -> impl Strategy<Value = String> {
    let structured = (
        prop_oneof![Just("8".to_string()), Just("[6, 10]".to_string()), value()],
        prop::option::of(prop::sample::select(&["u8_hwc", "f32_chw", "rgb"][..])),
        prop::option::of(prop::sample::select(&["1", "2", "0", "-1", "1e9"][..])),
        prop::collection::vec(op_table(), 0..5),
    )
        .prop_map(|(size, format, views, ops)| {
            let mut s = format!("size = {size}\n");
            if let Some(f) = format {
                s += &format!("format = {f:?}\n");
            }
            if let Some(v) = views {
                s += &format!("views = {v}\n");
            }
            s + &ops.concat()
        });
    let mutated = (
        prop::sample::select(EXAMPLES),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(base, edits, cut)| {
            String::from_utf8_lossy(&mutate(base.as_bytes(), &edits, cut)).into_owned()
        });
    prop_oneof![3 => structured, 1 => mutated]
}

/// The accepted pipeline on a tiny image, when its output is small enough
/// to run in a test (mutated sizes can ask for gigabytes).
fn run_small(p: Pipeline) -> Result<(), TestCaseError> {
    if p.size.width as u64 * p.size.height as u64 > 64 * 64 || p.views > 4 {
        return Ok(());
    }
    let aug = Augmenter::new(p, Backend::Cpu);
    if let Ok(aug) = aug {
        let images = vec![
            gpu_augment::synthetic_image(0, 9, 7),
            gpu_augment::synthetic_image(1, 1, 1),
        ];
        // Errors are fine (e.g. labels a mixing op needs); panics are not.
        let _ = aug.augment(gpu_augment::Request::new(&images).key(BatchKey::new(1, 2, 3)));
    }
    Ok(())
}

#[test]
fn pipeline_files() {
    fuzz("pipeline_files", 0, pipeline_text(), |text| {
        if let Ok(p) = Pipeline::from_toml(&text) {
            ACCEPTED[0].fetch_add(1, Ordering::Relaxed);
            run_small(p)?;
        }
        Ok(())
    });
}

fn encoded(format: image::ImageFormat) -> Vec<u8> {
    let img = gpu_augment::synthetic_image(4, 13, 9);
    let mut buf = std::io::Cursor::new(Vec::new());
    let dynamic = image::DynamicImage::ImageRgb8(img);
    dynamic.write_to(&mut buf, format).expect("encode");
    buf.into_inner()
}

#[test]
fn image_files() {
    use image::ImageFormat::*;
    let seeds: Vec<Vec<u8>> = [Png, Jpeg, Bmp, Gif, Tiff, WebP, Pnm, Tga]
        .into_iter()
        .map(encoded)
        .collect();
    let strategy = (
        0..seeds.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
        prop::option::of(any::<prop::sample::Index>()),
        prop::option::of((
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..64),
        )),
        any::<bool>(),
    );
    fuzz(
        "image_files",
        1,
        strategy,
        |(which, edits, cut, splice, exif)| {
            let mut bytes = mutate(&seeds[which], &edits, cut);
            if let Some((at, chunk)) = splice {
                let i = at.index(bytes.len() + 1);
                bytes.splice(i..i, chunk);
            }
            if let Ok(img) = gpu_augment::decode_image(&bytes, exif) {
                ACCEPTED[1].fetch_add(1, Ordering::Relaxed);
                prop_assert!(img.width() > 0 && img.height() > 0);
                prop_assert_eq!(
                    img.as_raw().len(),
                    img.width() as usize * img.height() as usize * 3
                );
            }
            Ok(())
        },
    );
}

/// `apply`'s op names (its table), and a wrong one.
fn apply_names() -> Vec<&'static str> {
    let ops = gpu_augment::explicit::EXPLICIT_OPS.iter().map(|o| o.name);
    ops.chain(["nope"]).collect()
}

/// Every key of `apply`'s ops, and a wrong one.
fn apply_key_names() -> Vec<&'static str> {
    let ops = gpu_augment::explicit::EXPLICIT_OPS.iter();
    let mut keys: Vec<&'static str> = ops.flat_map(|o| o.keys.iter().map(|k| k.name)).collect();
    keys.push("zzz");
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn apply_value() -> impl Strategy<Value = String> {
    let num = prop::sample::select(NUMS).prop_map(str::to_string);
    prop_oneof![
        4 => num.clone(),
        3 => prop::collection::vec(num, 1..9).prop_map(|v| v.join(",")),
        1 => prop::sample::select(&["bilinear", "nearest", "random", "hue,brightness", "", " ", ",,", "x"][..])
            .prop_map(str::to_string),
    ]
}

#[test]
fn apply_keys() {
    let strategy = (
        prop::sample::select(apply_names()),
        prop::collection::vec(
            (prop::sample::select(apply_key_names()), apply_value()),
            0..6,
        ),
        (1u32..24, 1u32..24),
    );
    fuzz("apply_keys", 2, strategy, |(op, sets, (w, h))| {
        let sets: Vec<(String, String)> =
            sets.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let img = gpu_augment::synthetic_image(2, w, h);
        // Outputs above 512 x 512 are not run (a fuzzed size can ask for
        // gigabytes, which a test machine shared with others cannot give).
        let small = |p: Pipeline| {
            if p.size.width as u64 * p.size.height as u64 > 512 * 512 {
                return Err(gpu_augment::Error::InvalidArgument(
                    "too large for the fuzz run".into(),
                ));
            }
            Augmenter::new(p, Backend::Cpu)
        };
        // What `apply` does: the op's explicit parameters, then one request.
        let applied = gpu_augment::explicit::explicit_op(op, &sets, w, h).and_then(|(p, d)| {
            small(p)?.augment(gpu_augment::Request::new(&[img]).params(&[vec![d]]))
        });
        if applied.is_ok() {
            ACCEPTED[2].fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
}

/// Each shipped pipeline (its output shrunk to 12 x 12 so replays are
/// cheap) with the records it draws for two small sources, as JSON lines.
fn record_sets() -> &'static [(Pipeline, Vec<String>)] {
    static SETS: std::sync::OnceLock<Vec<(Pipeline, Vec<String>)>> = std::sync::OnceLock::new();
    SETS.get_or_init(|| {
        EXAMPLES
            .iter()
            .filter_map(|text| {
                let mut p = Pipeline::from_toml(text).ok()?;
                p.size = gpu_augment::Size::square(12);
                let aug = Augmenter::new(p.clone(), Backend::Cpu).ok()?;
                let images = record_images();
                let records = aug
                    .draw(&gpu_augment::Request::new(&images).key(BatchKey::new(5, 1, 0)))
                    .ok()?;
                let lines = records
                    .iter()
                    .map(|r| serde_json::to_string(r).expect("a record serialises"))
                    .collect();
                Some((p, lines))
            })
            .collect()
    })
}

fn record_images() -> Vec<gpu_augment::RgbImage> {
    vec![
        gpu_augment::synthetic_image(3, 11, 9),
        gpu_augment::synthetic_image(4, 8, 13),
    ]
}

/// Numbers a hand-edited record may hold.
const EDGE_NUMBERS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    255.0,
    256.0,
    65536.0,
    4294967295.0,
    4294967296.0,
    -1e9,
    1e9,
    1e308,
    -1e308,
    5e-324,
    1e-40,
];

/// `line` with its `leaf`-th number (in document order) replaced by `value`.
fn with_edge_number(line: &str, leaf: prop::sample::Index, value: f64) -> String {
    // JSON pointers (RFC 6901) of every number in `v`.
    fn numbers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Number(_) => out.push(at),
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    numbers(x, format!("{at}/{i}"), out);
                }
            }
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    numbers(
                        x,
                        format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(line).expect("a record is JSON");
    let mut leaves = Vec::new();
    numbers(&v, String::new(), &mut leaves);
    if !leaves.is_empty() {
        let n = if value.fract() == 0.0 && value.abs() < 1e19 {
            if value < 0.0 {
                serde_json::Value::from(value as i64)
            } else {
                serde_json::Value::from(value as u64)
            }
        } else {
            serde_json::Value::from(value)
        };
        if let Some(x) = v.pointer_mut(&leaves[leaf.index(leaves.len())]) {
            *x = n;
        }
    }
    v.to_string()
}

#[test]
fn records() {
    let sets = record_sets();
    assert!(
        sets.len() >= 8,
        "only {} shipped pipelines drew records",
        sets.len()
    );
    let strategy = (
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        prop::option::of(any::<prop::sample::Index>()),
        prop::option::weighted(
            0.7,
            (
                any::<prop::sample::Index>(),
                prop::sample::select(EDGE_NUMBERS),
            ),
        ),
    );
    fuzz("records", 3, strategy, |(set, line, edits, cut, edge)| {
        let (p, lines) = &sets[set.index(sets.len())];
        let at = line.index(lines.len());
        let text = match edge {
            // Valid JSON with one number of the record set to an edge value.
            Some((leaf, value)) => with_edge_number(&lines[at], leaf, value),
            None => {
                String::from_utf8_lossy(&mutate(lines[at].as_bytes(), &edits, cut)).into_owned()
            }
        };
        let Ok(edited) = gpu_augment::SampleRecord::from_json(&text) else {
            return Ok(());
        };
        ACCEPTED[3].fetch_add(1, Ordering::Relaxed);
        let mut records: Vec<gpu_augment::SampleRecord> = lines
            .iter()
            .map(|l| gpu_augment::SampleRecord::from_json(l).expect("an unedited record reads"))
            .collect();
        records[at] = edited;
        // Errors are fine (an edited index, an op that no longer fits);
        // panics, hangs and aborts are not.
        if let Ok(aug) = Augmenter::new(p.clone(), Backend::Cpu) {
            let images = record_images();
            let _ = aug.augment(gpu_augment::Request::new(&images).replay(&records));
        }
        Ok(())
    });
}

/// Regression cases: inputs the targets found that once failed.
#[test]
fn regressions() {
    // A GIF whose mutated header claimed a 36 GB frame: `decode_image` once
    // skipped the decoder's allocation limit and aborted the process
    // ("memory allocation of 36641439393 bytes failed").
    let mut gif = encoded(image::ImageFormat::Gif);
    // Logical screen width and height (bytes 6..10): 0xFFFF x 0xFFFF.
    gif[6..10].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    let _ = gpu_augment::decode_image(&gif, false);
    let mut png = encoded(image::ImageFormat::Png);
    // IHDR width and height (bytes 16..24): 2^31 - 1 each.
    png[16..24].copy_from_slice(&[0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF]);
    assert!(gpu_augment::decode_image(&png, false).is_err());
}
