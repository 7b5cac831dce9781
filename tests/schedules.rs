//! Schedules in pipeline files: recorded values follow the schedule at
//! epochs 0, E/2, E and beyond, `by = "strength"` follows the override, the
//! output equals the pipeline written with the value of that epoch, and
//! every bad schedule is an error naming op, key and value.

mod common;

use common::backends;
use gpu_augment::schedule::ScheduledValue;
use gpu_augment::{
    synthetic_image, Augmenter, Backend, BatchKey, Drawn, Overrides, Pipeline, Request, RgbImage,
    SampleRecord,
};

fn images(n: usize) -> Vec<RgbImage> {
    (0..n)
        .map(|i| synthetic_image(i as u64, 40 + i as u32, 36))
        .collect()
}

const SCHEDULED: &str = "size = 32
[[ops]]
op = \"affine\"
degrees = { from = 0, to = 30, epochs = 10 }
translate = { from = [0.0, 0.0], to = [0.2, 0.1], epochs = 10 }
[[ops]]
op = \"rand_augment\"
num_ops = 2
magnitude = { from = 0, to = 9, epochs = 10 }
";

/// The same pipeline with the values written in.
fn literal(deg: f64, tr: [f64; 2], mag: i64) -> Pipeline {
    Pipeline::from_toml(&format!(
        "size = 32
[[ops]]
op = \"affine\"
degrees = {deg:?}
translate = [{:?}, {:?}]
[[ops]]
op = \"rand_augment\"
num_ops = 2
magnitude = {mag}
",
        tr[0], tr[1]
    ))
    .unwrap()
}

#[test]
fn recorded_values_follow_the_schedule() {
    let p = Pipeline::from_toml(SCHEDULED).unwrap();
    assert_eq!(p.schedules.items.len(), 3);
    let ims = images(3);
    // (epoch, degrees, translate, magnitude): linear, held after E = 10;
    // integer keys round half to even (4.5 -> 4).
    let cases = [
        (0, 0.0, [0.0, 0.0], 0),
        (5, 15.0, [0.1, 0.05], 4),
        (10, 30.0, [0.2, 0.1], 9),
        (25, 30.0, [0.2, 0.1], 9),
    ];
    for (name, aug) in backends(&p) {
        for (epoch, deg, tr, mag) in cases {
            let key = BatchKey::new(3, epoch, 100);
            let b = aug.augment(Request::new(&ims).key(key)).unwrap();
            for r in &b.records {
                let s = r.schedule.as_ref().expect("a schedule map");
                assert_eq!(
                    s["0.degrees"],
                    ScheduledValue::Num(deg),
                    "{name} epoch {epoch}"
                );
                let ScheduledValue::List(t) = &s["0.translate"] else {
                    panic!("translate is a list")
                };
                assert!(
                    (t[0] - tr[0]).abs() < 1e-12 && (t[1] - tr[1]).abs() < 1e-12,
                    "{t:?}"
                );
                assert_eq!(s["1.magnitude"], ScheduledValue::Num(mag as f64));
                if let Drawn::Affine { angle, .. } = r.ops[0] {
                    assert!(angle.abs() <= deg + 1e-9, "{angle} beyond {deg}");
                }
            }
            // Exactly the pipeline written with those values, same keys.
            let lit = Augmenter::new(literal(deg, tr, mag), Backend::Cpu).unwrap();
            let want = lit.augment(Request::new(&ims).key(key)).unwrap();
            let ops: Vec<_> = b.records.iter().map(|r| r.ops.clone()).collect();
            let want_ops: Vec<_> = want.records.iter().map(|r| r.ops.clone()).collect();
            assert_eq!(ops, want_ops, "{name} epoch {epoch}");
            if name == "cpu" {
                assert_eq!(b.data, want.data, "epoch {epoch}");
            }
            // Replay renders the recorded values exactly.
            let text: Vec<String> = b
                .records
                .iter()
                .map(|r| serde_json::to_string(r).unwrap())
                .collect();
            assert!(
                text[0].contains("\"schedule\":{\"0.degrees\":"),
                "{}",
                text[0]
            );
            let back: Vec<SampleRecord> = text
                .iter()
                .map(|t| SampleRecord::from_json(t).unwrap())
                .collect();
            let again = aug.augment(Request::new(&ims).replay(&back)).unwrap();
            assert_eq!(again.data, b.data, "{name} epoch {epoch}");
        }
    }
}

#[test]
fn by_strength_follows_the_override() {
    let p = Pipeline::from_toml(
        "size = 24
[[ops]]
op = \"solarize\"
threshold = { from = 255, to = 55, by = \"strength\" }
p = 1.0
[[ops]]
op = \"affine\"
degrees = 20
",
    )
    .unwrap();
    let ims = images(4);
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let ov = Overrides::new()
        .strength(vec![0.0, 0.25, 1.0, 0.5])
        .skip(vec![false, false, false, true]);
    let recs = aug.draw(&Request::new(&ims).overrides(&ov)).unwrap();
    let got: Vec<ScheduledValue> = recs
        .iter()
        .map(|r| r.schedule.as_ref().unwrap()["0.threshold"].clone())
        .collect();
    use ScheduledValue::Num;
    assert_eq!(got, vec![Num(255.0), Num(205.0), Num(55.0), Num(255.0)]);
    // Without overrides: strength 1, the `to` end.
    let plain = aug.draw(&Request::new(&ims)).unwrap();
    assert_eq!(
        plain[0].schedule.as_ref().unwrap()["0.threshold"],
        Num(55.0)
    );
    // The op with a strength-scheduled key is not scaled again: at
    // strength 0.25 the threshold is the schedule's 205 (not moved toward
    // 256); the affine is scaled.
    let half = Pipeline::from_toml("size = 24\n[[ops]]\nop = \"solarize\"\nthreshold = 205\np = 1.0\n[[ops]]\nop = \"affine\"\ndegrees = 20").unwrap();
    let half = Augmenter::new(half, Backend::Cpu).unwrap();
    let one = [ims[1].clone()];
    let ov1 = Overrides::new().strength(vec![0.25]);
    let a = aug
        .augment(Request::new(&one).first_index(1).overrides(&ov1))
        .unwrap();
    let b = half
        .augment(Request::new(&one).first_index(1).overrides(&ov1))
        .unwrap();
    assert_eq!(a.records[0].ops, b.records[0].ops);
    // `half` steers its threshold 205 toward 256 at strength 0.25; `aug` does not.
    assert!(a.data != b.data);
    let fixed = Augmenter::new(
        Pipeline::from_toml("size = 24\n[[ops]]\nop = \"solarize\"\nthreshold = 205\np = 1.0\n[[ops]]\nop = \"affine\"\ndegrees = 5").unwrap(),
        Backend::Cpu,
    )
    .unwrap();
    let c = fixed.augment(Request::new(&one).first_index(1)).unwrap();
    assert_eq!(a.data, c.data, "threshold 205 and degrees 20 * 0.25");
}

#[test]
fn the_curriculum_example_runs_on_both_backends() {
    let path = format!(
        "{}/examples/pipelines/curriculum.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let p = Pipeline::from_file(&path).unwrap();
    assert_eq!(p.schedules.items.len(), 4);
    let ims = vec![synthetic_image(1, 500, 375), synthetic_image(2, 300, 200)];
    for (name, aug) in backends(&p) {
        for epoch in [0, 45, 90, 200] {
            let b = aug
                .augment(Request::new(&ims).key(BatchKey::new(0, epoch, 0)))
                .unwrap();
            let s = b.records[0].schedule.as_ref().unwrap();
            let want = 30.0 * epoch.min(90) as f64 / 90.0;
            assert_eq!(s["2.degrees"], ScheduledValue::Num(want), "{name}");
            let again = aug.augment(Request::new(&ims).replay(&b.records)).unwrap();
            assert_eq!(again.data, b.data, "{name} epoch {epoch}");
        }
    }
}

fn err(text: &str) -> String {
    match Pipeline::from_toml(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_schedules_are_errors_naming_op_key_and_value() {
    let op = |body: &str| format!("size = 8\n[[ops]]\n{body}");
    let m = err(&op(
        "op = \"affine\"\ndegrees = 10\np = { from = 0.2, to = 1.5, epochs = 4 }",
    ));
    assert!(
        m.contains("affine") && m.contains("p") && m.contains("schedule `to`") && m.contains("1.5"),
        "{m}"
    );
    let m = err(&op(
        "op = \"solarize\"\nthreshold = { from = -3, to = 100, epochs = 4 }",
    ));
    assert!(
        m.contains("solarize")
            && m.contains("threshold")
            && m.contains("schedule `from`")
            && m.contains("-3"),
        "{m}"
    );
    let m = err(&op(
        "op = \"affine\"\ndegrees = 5\ninterpolation = { from = 0, to = 1, epochs = 3 }",
    ));
    assert!(
        m.contains("interpolation") && m.contains("not a numeric key"),
        "{m}"
    );
    let m = err(&op(
        "op = \"affine\"\ndegrees = 5\nantialias = { from = 0, to = 1, epochs = 3 }",
    ));
    assert!(
        m.contains("antialias") && m.contains("not a numeric key"),
        "{m}"
    );
    let m = err(&op("op = \"affine\"\ndegrees = { from = 0, to = 10 }"));
    assert!(m.contains("degrees") && m.contains("either `epochs"), "{m}");
    let m = err(&op(
        "op = \"affine\"\ndegrees = { from = 0, to = 10, epochs = 0 }",
    ));
    assert!(m.contains("`epochs` must be an integer >= 1, got 0"), "{m}");
    let m = err(&op(
        "op = \"affine\"\ndegrees = { from = 0, to = 10, by = \"loss\" }",
    ));
    assert!(m.contains("`by` must be \"strength\""), "{m}");
    let m = err(&op(
        "op = \"affine\"\ndegrees = { from = 0, to = 10, epochs = 3, step = 1 }",
    ));
    assert!(m.contains("unknown key `step`"), "{m}");
    let m = err(&op("op = \"affine\"\ndegrees = { from = 0, epochs = 3 }"));
    assert!(m.contains("missing `to`"), "{m}");
    let m = err(&op(
        "op = \"affine\"\ndegrees = { from = \"a\", to = 3, epochs = 3 }",
    ));
    assert!(m.contains("`from` must be a number"), "{m}");
    let m = err(&op(
        "op = \"affine\"\ndegrees = 4\ntranslate = { from = [0.0, 0.0], to = 0.1, epochs = 3 }",
    ));
    assert!(
        m.contains("translate") && m.contains("`from` has 2 values but `to` has 1"),
        "{m}"
    );
    let m = err("size = 8\n[[ops]]\nop = \"mixup\"\nalpha = { from = 0.1, to = 1, epochs = 3 }\nnum_classes = 3");
    assert!(
        m.contains("mixup") && m.contains("alpha") && m.contains("not to mixing ops"),
        "{m}"
    );
    // A record whose schedule names another key.
    let p = Pipeline::from_toml(SCHEDULED).unwrap();
    let aug = Augmenter::new(p, Backend::Cpu).unwrap();
    let ims = images(2);
    let mut recs = aug.draw(&Request::new(&ims)).unwrap();
    let v = recs[1]
        .schedule
        .as_mut()
        .unwrap()
        .remove("0.degrees")
        .unwrap();
    recs[1]
        .schedule
        .as_mut()
        .unwrap()
        .insert("0.degres".into(), v);
    let m = aug
        .augment(Request::new(&ims).replay(&recs))
        .unwrap_err()
        .to_string();
    assert!(m.contains("record 1") && m.contains("0.degres"), "{m}");
    recs[1].schedule = None;
    let m = aug
        .augment(Request::new(&ims).replay(&recs))
        .unwrap_err()
        .to_string();
    assert!(m.contains("no `schedule`"), "{m}");
}
