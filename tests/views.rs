//! Named views (`[[views]]` tables): each view equals a single-view run of
//! its pipeline with the same keys; sizes and counts as declared; a view's
//! outputs do not depend on the other views; replay is exact; CPU vs GPU
//! parity for batches of several sizes; every error names the view and key.

mod common;

use common::{assert_close, gpu};
use gpu_augment::{
    synthetic_image, view_key, Augmenter, Backend, BatchKey, Error, Labels, NamedView, Pipeline,
    Request, RgbImage, SampleRecord, Tensor, ViewAugmenter, Views,
};

fn example(name: &str) -> String {
    let path = format!(
        "{}/examples/pipelines/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn images() -> Vec<RgbImage> {
    [(64, 48), (33, 17), (500, 375), (7, 5)]
        .iter()
        .enumerate()
        .map(|(i, &(w, h))| synthetic_image(i as u64 + 3, w, h))
        .collect()
}

const TWO_SIZES: &str = r#"
size = 64
[[views]]
name = "big"
count = 2
[[views.ops]]
op = "random_resized_crop"
size = 64
scale = [0.3, 1.0]
[[views.ops]]
op = "horizontal_flip"
[[views.ops]]
op = "color_jitter"
brightness = 0.4
contrast = 0.4
saturation = 0.2
hue = 0.1
[[views]]
name = "small"
count = 3
size = 32
[[views.ops]]
op = "random_resized_crop"
size = 32
scale = [0.05, 0.3]
[[views.ops]]
op = "grayscale"
p = 0.5
[[views.ops]]
op = "gaussian_blur"
kernel_size = 5
sigma = [0.1, 2.0]
"#;

fn views(text: &str) -> Views {
    Views::from_toml(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The view `name` of `v` run alone: its pipeline with its key ids.
fn alone(v: &Views, name: &str, images: &[RgbImage], key: BatchKey) -> gpu_augment::Batch {
    let view = v.get(name).expect("view");
    let aug = Augmenter::new(view.pipeline.clone(), Backend::Cpu).expect("augmenter");
    aug.augment(Request::new(images).key(key).view_keys(&view.keys()))
        .expect("single-view run")
}

#[test]
fn each_view_equals_a_single_view_run_of_its_pipeline_with_its_keys() {
    let imgs = images();
    let key = BatchKey::new(11, 2, 40);
    for text in [
        TWO_SIZES.to_string(),
        example("fixmatch"),
        example("dino_multicrop"),
    ] {
        let v = views(&text);
        let aug = ViewAugmenter::new(v.clone(), Backend::Cpu).unwrap();
        let out = aug.augment(Request::new(&imgs).key(key)).unwrap();
        assert_eq!(out.len(), v.views().len());
        for (vb, nv) in out.iter().zip(v.views()) {
            assert_eq!(vb.name, nv.name);
            let single = alone(&v, &nv.name, &imgs, key);
            assert!(
                single.data == vb.batch.data,
                "view {}: pixels differ",
                nv.name
            );
            assert_eq!(single.shape, vb.batch.shape);
            for (a, b) in single.records.iter().zip(&vb.batch.records) {
                assert_eq!(a.ops, b.ops, "view {}", nv.name);
                assert_eq!((a.index, a.view), (b.index, b.view));
                assert_eq!(a.view_name, None);
                assert_eq!(b.view_name.as_deref(), Some(nv.name.as_str()));
            }
        }
    }
}

#[test]
fn copy_k_is_keyed_on_view_key_of_name_and_k() {
    // Copy k of a count-3 view equals a one-copy run keyed on view_key(name, k).
    let imgs = images();
    let key = BatchKey::new(5, 0, 0);
    let v = views(TWO_SIZES);
    let out = ViewAugmenter::new(v.clone(), Backend::Cpu)
        .unwrap()
        .augment(Request::new(&imgs).key(key))
        .unwrap();
    let small = &out[1];
    let mut one = v.get("small").unwrap().pipeline.clone();
    one.views = 1;
    let aug = Augmenter::new(one, Backend::Cpu).unwrap();
    let per = 32 * 32 * 3;
    let Tensor::U8(all) = &small.batch.data else {
        panic!("u8 expected")
    };
    for k in 0..3u32 {
        let b = aug
            .augment(
                Request::new(&imgs)
                    .key(key)
                    .view_keys(&[view_key("small", k)]),
            )
            .unwrap();
        let Tensor::U8(d) = &b.data else { panic!() };
        for i in 0..imgs.len() {
            let o = i * 3 + k as usize;
            assert!(
                d[i * per..(i + 1) * per] == all[o * per..(o + 1) * per],
                "image {i} copy {k}"
            );
        }
    }
    // Different copies draw differently.
    assert_ne!(small.batch.records[0].ops, small.batch.records[1].ops);
}

#[test]
fn sizes_counts_and_records_are_as_declared() {
    let imgs = images();
    let v = views(&example("dino_multicrop"));
    let out = ViewAugmenter::new(v, Backend::Cpu)
        .unwrap()
        .augment(Request::new(&imgs).key(BatchKey::new(1, 0, 7)))
        .unwrap();
    let n = imgs.len();
    assert_eq!(out[0].name, "global");
    // f32 CHW: images x count x 3 x H x W.
    assert_eq!(out[0].grouped_shape(), [n, 2, 3, 224, 224]);
    assert_eq!(out[0].batch.shape, [n * 2, 3, 224, 224]);
    assert_eq!(out[1].name, "local");
    assert_eq!(out[1].grouped_shape(), [n, 6, 3, 96, 96]);
    for vb in &out {
        let c = vb.count as usize;
        assert_eq!(vb.batch.records.len(), n * c);
        for (o, r) in vb.batch.records.iter().enumerate() {
            assert_eq!(r.index, 7 + (o / c) as u64);
            assert_eq!(r.view as usize, o % c);
            assert_eq!(r.view_name.as_deref(), Some(vb.name.as_str()));
            assert_eq!(r.source_size, [imgs[o / c].width(), imgs[o / c].height()]);
        }
    }
    let fix = views(&example("fixmatch"));
    assert_eq!(
        fix.views()
            .iter()
            .map(|v| (v.name.as_str(), v.count()))
            .collect::<Vec<_>>(),
        vec![("weak", 1), ("strong", 1)]
    );
}

#[test]
fn other_views_do_not_change_a_view() {
    let imgs = images();
    let key = BatchKey::new(3, 1, 0);
    let run = |text: &str| {
        ViewAugmenter::new(views(text), Backend::Cpu)
            .unwrap()
            .augment(Request::new(&imgs).key(key))
            .unwrap()
    };
    let both = run(TWO_SIZES);
    // `small` alone, `small` first, and beside a third view.
    let (big_part, small_part) =
        TWO_SIZES.split_at(TWO_SIZES.find("[[views]]\nname = \"small\"").unwrap());
    let big_part = big_part.trim_start_matches("\nsize = 64\n");
    let only_small = format!("size = 64\n{small_part}");
    let reordered = format!("size = 64\n{small_part}\n{big_part}");
    let third = format!(
        "{TWO_SIZES}\n[[views]]\nname = \"extra\"\nsize = 16\n[[views.ops]]\nop = \"invert\"\n"
    );
    let a = run(&only_small);
    assert_eq!(a.len(), 1);
    assert!(a[0].batch.data == both[1].batch.data, "small alone");
    let b = run(&reordered);
    assert_eq!((b[0].name.as_str(), b[1].name.as_str()), ("small", "big"));
    assert!(b[0].batch.data == both[1].batch.data, "small first");
    assert!(b[1].batch.data == both[0].batch.data, "big second");
    let c = run(&third);
    assert_eq!(c.len(), 3);
    assert!(c[0].batch.data == both[0].batch.data);
    assert!(c[1].batch.data == both[1].batch.data);
    // Renaming a view changes its draws (the name is its key).
    let renamed = run(&TWO_SIZES.replace("\"small\"", "\"tiny\""));
    assert!(renamed[1].batch.data != both[1].batch.data);
    assert!(renamed[0].batch.data == both[0].batch.data);
}

#[test]
fn replay_of_every_view_is_exact_also_through_json() {
    let imgs = images();
    for text in [TWO_SIZES.to_string(), example("fixmatch")] {
        let aug = ViewAugmenter::new(views(&text), Backend::Cpu).unwrap();
        let out = aug
            .augment(Request::new(&imgs).key(BatchKey::new(9, 4, 100)))
            .unwrap();
        let records: Vec<SampleRecord> = out
            .iter()
            .flat_map(|v| v.batch.records.iter())
            .map(|r| {
                let line = serde_json::to_string(r).unwrap();
                assert!(line.contains("\"view_name\""), "{line}");
                SampleRecord::from_json(&line).unwrap()
            })
            .collect();
        // Records of the views interleaved: grouped by their view_name.
        let mut shuffled: Vec<SampleRecord> = Vec::new();
        let (a, b): (Vec<_>, Vec<_>) = records
            .iter()
            .cloned()
            .partition(|r| r.view_name.as_deref() == Some(out[0].name.as_str()));
        shuffled.extend(b);
        shuffled.extend(a);
        let again = aug.augment(Request::new(&imgs).replay(&shuffled)).unwrap();
        for (x, y) in out.iter().zip(&again) {
            assert!(x.batch.data == y.batch.data, "view {} replays", x.name);
            assert_eq!(x.batch.records, y.batch.records);
        }
        let drawn = aug
            .draw(&Request::new(&imgs).key(BatchKey::new(9, 4, 100)))
            .unwrap();
        for ((name, recs), vb) in drawn.iter().zip(&out) {
            assert_eq!(name, &vb.name);
            assert_eq!(recs, &vb.batch.records);
        }
    }
}

#[test]
fn a_mixing_view_replays_and_labels_follow_each_view() {
    let text = r#"
size = 32
[[views]]
name = "plain"
[[views.ops]]
op = "horizontal_flip"
[[views]]
name = "mixed"
count = 2
[[views.ops]]
op = "random_resized_crop"
size = 32
[[views.ops]]
op = "mixup"
alpha = 0.4
num_classes = 3
"#;
    let imgs = images();
    let labels = [0u32, 1, 2, 1];
    let aug = ViewAugmenter::new(views(text), Backend::Cpu).unwrap();
    let out = aug
        .augment(
            Request::new(&imgs)
                .key(BatchKey::new(2, 0, 0))
                .labels(Labels::Classes {
                    classes: &labels,
                    num_classes: 3,
                }),
        )
        .unwrap();
    let plain = out[0].batch.labels.as_ref().expect("labels");
    assert_eq!(plain.num_classes, 3);
    for (i, &l) in labels.iter().enumerate() {
        assert_eq!(plain.row(i).unwrap()[l as usize], 1.0);
    }
    let mixed = &out[1].batch;
    assert_eq!(mixed.labels.as_ref().unwrap().data.len(), 8 * 3);
    for r in &mixed.records {
        let m = r.mix.as_ref().expect("mix record");
        assert!(m.partner_view < 2, "partner_view is a copy number");
        let p = &mixed.records[m.partner];
        assert_eq!((p.index, p.view), (m.partner_index, m.partner_view));
    }
    let records: Vec<SampleRecord> = out.iter().flat_map(|v| v.batch.records.clone()).collect();
    let again = aug.augment(Request::new(&imgs).replay(&records)).unwrap();
    assert!(again[1].batch.data == mixed.data);
}

#[test]
fn gpu_matches_cpu_for_views_of_two_sizes() {
    let Some(g) = gpu() else { return };
    let v = views(TWO_SIZES);
    let cpu = ViewAugmenter::new(v.clone(), Backend::Cpu).unwrap();
    let gpu = ViewAugmenter::with_gpu(v, g).unwrap();
    assert_eq!(gpu.backend_kind(), "gpu");
    let imgs = common::test_images();
    for seed in [0u64, 7] {
        let key = BatchKey::new(seed, 1, seed * 10);
        let a = cpu.augment(Request::new(&imgs).key(key)).unwrap();
        let b = gpu.augment(Request::new(&imgs).key(key)).unwrap();
        assert_eq!(a.len(), 2);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.batch.records, y.batch.records, "{}", x.name);
            assert_close(
                &format!("views-{}-seed{seed}", x.name),
                &x.batch,
                &y.batch,
                [0.0; 3],
                [1.0; 3],
            );
            assert!(x.batch.gpu_stats.is_none());
            let s = y.batch.gpu_stats.as_ref().expect("gpu stats");
            assert!(s.dispatches >= 1 && s.submits >= 1, "{s:?}");
        }
        assert_eq!(b[0].batch.shape, [imgs.len() * 2, 64, 64, 3]);
        assert_eq!(b[1].batch.shape, [imgs.len() * 3, 32, 32, 3]);
    }
}

fn view_error(text: &str) -> (String, String, String) {
    match Views::from_toml(text) {
        Err(Error::InvalidView { view, key, message }) => (view, key, message),
        other => panic!("expected a view error for\n{text}\ngot {other:?}"),
    }
}

#[test]
fn bad_views_are_errors_naming_the_view_and_key() {
    let op = "[[views.ops]]\nop = \"horizontal_flip\"\n";
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            "size = 8\n[[views]]\nname = \"a\"\n".into(),
            "a",
            "ops",
            "no ops",
        ),
        (
            "size = 8\n[[views]]\nname = \"a\"\nops = []\n".into(),
            "a",
            "ops",
            "no ops",
        ),
        (
            format!("size = 8\n[[views]]\nname = \"a\"\n{op}[[views]]\nname = \"a\"\n{op}"),
            "a",
            "name",
            "both named",
        ),
        (
            format!("size = 8\n[[views]]\nname = \"a\"\ncount = 0\n{op}"),
            "a",
            "count",
            "[1, 1024]",
        ),
        (
            format!("size = 8\n[[views]]\nname = \"a\"\ncount = 1025\n{op}"),
            "a",
            "count",
            "[1, 1024]",
        ),
        (
            format!("size = 8\n[[views]]\nname = \"a\"\ncount = \"two\"\n{op}"),
            "a",
            "count",
            "integer",
        ),
        (
            format!("size = 8\n[[views]]\nname = \"a/b\"\n{op}"),
            "#0",
            "name",
            "'/'",
        ),
        (
            format!("size = 8\n[[views]]\nname = \"\"\n{op}"),
            "#0",
            "name",
            "empty",
        ),
        (
            format!("size = 8\n[[views]]\nname = \"{}\"\n{op}", "x".repeat(65)),
            "#0",
            "name",
            "at most 64",
        ),
        (
            format!("size = 8\n[[views]]\n{op}"),
            "#0",
            "name",
            "missing",
        ),
        (
            format!("size = 8\n[[views]]\nname = 3\n{op}"),
            "#0",
            "name",
            "string",
        ),
        (
            format!("size = 8\n[[views]]\nname = \"a\"\ncuont = 2\n{op}"),
            "a",
            "cuont",
            "unknown key",
        ),
        (
            format!("[[views]]\nname = \"a\"\n{op}"),
            "a",
            "size",
            "missing",
        ),
        (
            format!("size = 8\n[[views]]\nname = \"a\"\nformat = \"rgb\"\n{op}"),
            "a",
            "format",
            "u8_hwc",
        ),
        (
            "size = 8\n[[views]]\nname = \"a\"\n[[views.ops]]\nop = \"flipp\"\n".into(),
            "a",
            "ops",
            "flipp",
        ),
        (
            "size = 8\n[[views]]\nname = \"a\"\n[[views.ops]]\nop = \"affine\"\ndegrees = -5\n"
                .into(),
            "a",
            "ops",
            "degrees",
        ),
        (
            format!(
                "size = 8\n[[views]]\nname = \"v332789\"\n{op}[[views]]\nname = \"v529192\"\n{op}"
            ),
            "v529192",
            "name",
            "same key id",
        ),
    ];
    for (text, view, key, words) in cases {
        let (v, k, m) = view_error(&text);
        assert_eq!((v.as_str(), k.as_str()), (view, key), "{text}: {m}");
        assert!(m.contains(words), "{text}: {m}");
        let shown = Views::from_toml(&text).unwrap_err().to_string();
        assert!(shown.contains(&format!("view `{view}`")), "{shown}");
    }
}

#[test]
fn file_level_mistakes_are_errors() {
    let op = "[[views.ops]]\nop = \"horizontal_flip\"\n";
    let key_of = |text: &str| match Views::from_toml(text) {
        Err(Error::PipelineKey { key, message }) => (key, message),
        other => panic!("{text}: {other:?}"),
    };
    let (k, m) = key_of(&format!(
        "size = 8\n[[ops]]\nop = \"invert\"\n[[views]]\nname = \"a\"\n{op}"
    ));
    assert_eq!(k, "ops");
    assert!(m.contains("together with [[views]]"), "{m}");
    let (k, m) = key_of(&format!(
        "size = 8\nseed = 3\n[[views]]\nname = \"a\"\n{op}"
    ));
    assert_eq!(k, "seed");
    assert!(m.contains("unknown key"), "{m}");
    let (k, m) = key_of("size = 8\nviews = 2\n[[ops]]\nop = \"invert\"\n");
    assert_eq!(k, "ops", "{m}");
    let (k, m) = key_of("size = 8\n");
    assert_eq!(k, "views");
    assert!(m.contains("no [[views]]"), "{m}");
    // A [[views]] file read as a single pipeline: pointed to Views.
    let e = Pipeline::from_toml(&format!("size = 8\n[[views]]\nname = \"a\"\n{op}")).unwrap_err();
    assert!(e.to_string().contains("Views::from_toml"), "{e}");
    assert!(Views::declared_in(&format!(
        "size = 8\n[[views]]\nname = \"a\"\n{op}"
    )));
    assert!(!Views::declared_in("size = 8\nviews = 2\n"));
    // `views = k` is unchanged.
    let p = Pipeline::from_toml("size = 8\nviews = 3\n[[ops]]\nop = \"invert\"\n").unwrap();
    assert_eq!(p.views, 3);
    assert!(Views::new(vec![]).is_err());
    let p = Pipeline::from_toml("size = 8\n[[ops]]\nop = \"invert\"\n").unwrap();
    assert!(matches!(
        NamedView::new("bad name", 1, p.clone()),
        Err(Error::InvalidView { ref key, .. }) if key == "name"
    ));
    let a = NamedView::new("a", 2, p.clone()).unwrap();
    assert_eq!(a.keys(), vec![view_key("a", 0), view_key("a", 1)]);
    assert_eq!(a.output_name("dir/cat", 1, "png"), "dir/cat_a1.png");
    let one = NamedView::new("weak", 1, p.clone()).unwrap();
    assert_eq!(one.output_name("cat", 0, "npy"), "cat_weak.npy");
    assert!(Views::new(vec![a.clone(), a]).is_err());
}

#[test]
fn bad_requests_are_errors() {
    let imgs = images();
    let v = views(TWO_SIZES);
    let aug = ViewAugmenter::new(v.clone(), Backend::Cpu).unwrap();
    let msg = |r: gpu_augment::Result<Vec<gpu_augment::ViewBatch>>| match r {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error"),
    };
    let m = msg(aug.augment(Request::new(&imgs).view_keys(&[1, 2])));
    assert!(m.contains("view_keys"), "{m}");
    let params: Vec<Vec<gpu_augment::Drawn>> = vec![];
    let m = msg(aug.augment(Request::new(&imgs).params(&params)));
    assert!(m.contains("params"), "{m}");
    // Records without a view name, of an unknown view, or too few.
    let out = aug.augment(Request::new(&imgs)).unwrap();
    let mut recs: Vec<SampleRecord> = out.iter().flat_map(|v| v.batch.records.clone()).collect();
    recs[0].view_name = None;
    let m = msg(aug.augment(Request::new(&imgs).replay(&recs)));
    assert!(m.contains("no view_name"), "{m}");
    recs[0].view_name = Some("huge".into());
    let m = msg(aug.augment(Request::new(&imgs).replay(&recs)));
    assert!(m.contains("\"huge\""), "{m}");
    recs.remove(0);
    let m = msg(aug.augment(Request::new(&imgs).replay(&recs)));
    assert!(m.contains("view `big`"), "{m}");
    // A single pipeline with the wrong number of view keys.
    let big = Augmenter::new(v.get("big").unwrap().pipeline.clone(), Backend::Cpu).unwrap();
    let e = big
        .augment(Request::new(&imgs).view_keys(&[1]))
        .unwrap_err();
    assert!(e.to_string().contains("1 view keys"), "{e}");
}

#[test]
fn rotation_label_all_views_turns_copy_k_of_a_named_view_by_k() {
    // In a named view the draws are keyed on the view's key ids, but
    // `all_views` still gives copy k the rotation k (not the key id mod 4).
    let v = views(
        "size = 16\n[[views]]\nname = \"rot\"\ncount = 4\n[[views.ops]]\nop = \"rotation_label\"\nall_views = true\n[[views]]\nname = \"plain\"\n[[views.ops]]\nop = \"horizontal_flip\"",
    );
    let imgs = vec![synthetic_image(1, 16, 16), synthetic_image(2, 16, 16)];
    let aug = ViewAugmenter::new(v, Backend::Cpu).unwrap();
    let out = aug
        .augment(Request::new(&imgs).key(BatchKey::new(4, 0, 9)))
        .unwrap();
    let rot = &out[0];
    assert_eq!((rot.name.as_str(), rot.count), ("rot", 4));
    for (o, r) in rot.batch.records.iter().enumerate() {
        assert_eq!(
            r.ops[0],
            gpu_augment::Drawn::RotationLabel { k: (o % 4) as u32 },
            "output {o}"
        );
    }
}

/// Every view of `v` run alone on the GPU device `g`: its pipeline with
/// its key ids, one plan of its own.
fn alone_on_gpu<'a>(
    v: &Views,
    g: &std::sync::Arc<gpu_augment::gpu::GpuContext>,
    images: &'a [RgbImage],
    request: impl Fn(Request<'a>) -> Request<'a>,
) -> Vec<gpu_augment::Batch> {
    v.views()
        .iter()
        .map(|nv| {
            let aug = Augmenter::with_gpu(nv.pipeline.clone(), g.clone()).unwrap();
            aug.augment(request(Request::new(images)).view_keys(&nv.keys()))
                .unwrap_or_else(|e| panic!("view {} alone: {e}", nv.name))
        })
        .collect()
}

/// FixMatch's weak and strong views (one size and format) on the GPU: one
/// plan (one submit, one upload of the sources), every view's bytes exactly
/// those of its pipeline run alone on the GPU and within the parity
/// tolerance of the CPU's, for odd batch sizes too.
#[test]
fn gpu_views_of_one_size_run_as_one_plan_with_each_views_bytes() {
    let Some(g) = gpu() else { return };
    let v = views(&example("fixmatch"));
    let cpu = ViewAugmenter::new(v.clone(), Backend::Cpu).unwrap();
    let aug = ViewAugmenter::with_gpu(v.clone(), g.clone()).unwrap();
    let all = common::test_images();
    for (n, seed) in [(1usize, 3u64), (3, 4), (5, 5), (6, 6)] {
        let imgs = &all[..n];
        let key = BatchKey::new(seed, 2, seed * 100);
        let out = aug.augment(Request::new(imgs).key(key)).unwrap();
        let alone = alone_on_gpu(&v, &g, imgs, |r| r.key(key));
        let want = cpu.augment(Request::new(imgs).key(key)).unwrap();
        assert_eq!(out.len(), 2);
        for ((vb, a), c) in out.iter().zip(&alone).zip(&want) {
            assert!(
                vb.batch.data == a.data,
                "{n} images: view {} differs from its pipeline alone on the GPU",
                vb.name
            );
            assert_eq!(vb.batch.records, c.batch.records, "{}", vb.name);
            assert_close(
                &format!("plan-{}-{n}", vb.name),
                &c.batch,
                &vb.batch,
                [0.0; 3],
                [1.0; 3],
            );
        }
        // One plan: the same plan number and stats in both views, one
        // submit, the dispatches of the larger view alone (weak's pass is
        // the strong view's main pass), and the sources uploaded once.
        assert_eq!((out[0].plan, out[1].plan), (0, 0));
        let s = out[0].batch.gpu_stats.expect("gpu stats");
        assert_eq!(out[1].batch.gpu_stats, Some(s));
        let (w, st) = (
            alone[0].gpu_stats.expect("weak stats"),
            alone[1].gpu_stats.expect("strong stats"),
        );
        assert_eq!((s.submits, s.chunks), (1, 1), "{s:?}");
        assert_eq!((w.submits, st.submits), (1, 1));
        assert_eq!(s.dispatches, w.dispatches.max(st.dispatches), "{s:?}");
        // Up: the weak view's globals (one 256-byte copy) and its upload
        // of the sources (RGB bytes in whole words and one more) saved.
        let src: u64 = imgs
            .iter()
            .map(|im| im.width() as u64 * im.height() as u64 * 3)
            .sum();
        let src_upload = src.div_ceil(4) * 4 + 4;
        assert_eq!(
            s.bytes_up,
            w.bytes_up + st.bytes_up - 256 - src_upload,
            "the sources ({src_upload} bytes) go up once"
        );
        assert_eq!(s.bytes_down, w.bytes_down + st.bytes_down);
    }
}

/// Views of two sizes and a third of the first size: 2 plans (one per
/// size), every view exactly its pipeline alone on the GPU.
#[test]
fn gpu_views_of_two_sizes_run_as_one_plan_per_size() {
    let Some(g) = gpu() else { return };
    let text = format!(
        "{TWO_SIZES}\n[[views]]\nname = \"big2\"\ncount = 3\n[[views.ops]]\nop = \"rand_augment\"\n[[views.ops]]\nop = \"center_crop\"\nsize = 40\n"
    );
    let v = views(&text);
    let aug = ViewAugmenter::with_gpu(v.clone(), g.clone()).unwrap();
    let cpu = ViewAugmenter::new(v.clone(), Backend::Cpu).unwrap();
    let imgs = common::test_images();
    for n in [imgs.len(), 3] {
        let key = BatchKey::new(8, 0, 5);
        let out = aug.augment(Request::new(&imgs[..n]).key(key)).unwrap();
        let alone = alone_on_gpu(&v, &g, &imgs[..n], |r| r.key(key));
        let want = cpu.augment(Request::new(&imgs[..n]).key(key)).unwrap();
        let names: Vec<(&str, usize)> = out.iter().map(|b| (b.name.as_str(), b.plan)).collect();
        assert_eq!(names, vec![("big", 0), ("small", 1), ("big2", 0)]);
        for ((vb, a), c) in out.iter().zip(&alone).zip(&want) {
            assert!(vb.batch.data == a.data, "view {}", vb.name);
            assert_close(
                &format!("sizes-{}-{n}", vb.name),
                &c.batch,
                &vb.batch,
                [0.0; 3],
                [1.0; 3],
            );
        }
        let big = out[0].batch.gpu_stats.unwrap();
        assert_eq!(out[2].batch.gpu_stats, Some(big));
        assert_eq!(big.submits, 1);
        assert_eq!(
            big.bytes_down,
            alone[0].gpu_stats.unwrap().bytes_down * 5 / 2
        );
        // The other size: its own plan, as the view alone.
        let (small, own) = (out[1].batch.gpu_stats.unwrap(), alone[1].gpu_stats.unwrap());
        assert_eq!(
            (
                small.dispatches,
                small.submits,
                small.bytes_up,
                small.bytes_down
            ),
            (own.dispatches, own.submits, own.bytes_up, own.bytes_down)
        );
    }
}

/// A mixing view beside a plain one of its size, and masks through both:
/// one plan whose mixing table keeps each view's partners inside it; the
/// pixels, labels and masks of each view as its pipeline alone on the GPU.
#[test]
fn gpu_plan_with_a_mixing_view_and_masks_equals_each_view_alone() {
    let Some(g) = gpu() else { return };
    mixing_plan(&g);
}

fn mixing_plan(g: &std::sync::Arc<gpu_augment::gpu::GpuContext>) {
    let text = r#"
size = 32
[[views]]
name = "plain"
[[views.ops]]
op = "horizontal_flip"
[[views.ops]]
op = "random_resized_crop"
size = 32
[[views]]
name = "mixed"
count = 2
[[views.ops]]
op = "random_resized_crop"
size = 32
[[views.ops]]
op = "cutmix"
alpha = 1.0
num_classes = 3
"#;
    let v = views(text);
    let aug = ViewAugmenter::with_gpu(v.clone(), g.clone()).unwrap();
    let cpu = ViewAugmenter::new(v.clone(), Backend::Cpu).unwrap();
    let imgs: Vec<RgbImage> = common::test_images().into_iter().take(5).collect();
    let labels = [0u32, 1, 2, 1, 0];
    let targets: Vec<gpu_augment::Targets> = imgs
        .iter()
        .enumerate()
        .map(|(i, im)| gpu_augment::Targets {
            masks: vec![gpu_augment::Mask::u8(
                im.width(),
                im.height(),
                (0..im.width() * im.height())
                    .map(|p| (p as usize * 7 + i) as u8)
                    .collect(),
            )],
            ..Default::default()
        })
        .collect();
    fn with<'a>(
        r: Request<'a>,
        labels: &'a [u32],
        targets: &'a [gpu_augment::Targets],
    ) -> Request<'a> {
        r.key(BatchKey::new(4, 1, 10))
            .labels(Labels::Classes {
                classes: labels,
                num_classes: 3,
            })
            .targets(targets)
    }
    let req = |r| with(r, &labels, &targets);
    let out = aug.augment(req(Request::new(&imgs))).unwrap();
    let alone = alone_on_gpu(&v, g, &imgs, req);
    let want = cpu.augment(req(Request::new(&imgs))).unwrap();
    assert_eq!((out[0].plan, out[1].plan), (0, 0));
    let s = out[0].batch.gpu_stats.unwrap();
    assert_eq!(s.submits, 1);
    // The mixing dispatch and the mask dispatch, once for both views.
    assert_eq!(s.dispatches, alone[1].gpu_stats.unwrap().dispatches);
    for ((vb, a), c) in out.iter().zip(&alone).zip(&want) {
        assert!(vb.batch.data == a.data, "view {}", vb.name);
        assert_eq!(vb.batch.labels, a.labels, "view {}", vb.name);
        assert_eq!(vb.batch.labels, c.batch.labels, "view {}", vb.name);
        assert_eq!(vb.batch.targets, a.targets, "view {}", vb.name);
        assert_close(
            &format!("mixplan-{}", vb.name),
            &c.batch,
            &vb.batch,
            [0.0; 3],
            [1.0; 3],
        );
    }
    // The mixed view really mixes (some partner is another image).
    assert!(out[1]
        .batch
        .records
        .iter()
        .any(|r| r.mix.as_ref().is_some_and(|m| m.partner_index != r.index)));
}

/// A plan larger than the storage-binding limit (128 MiB on lavapipe) is
/// cut into chunks that straddle its views; the mixing view then mixes on
/// the host inside its own samples: every view as its pipeline alone.
#[test]
fn gpu_plan_cut_into_chunks_keeps_each_views_bytes_and_mix() {
    let Some(g) = gpu() else { return };
    let limit = g.limits().max_storage_binding.min(g.limits().max_buffer);
    let per = 2048u64 * 2048 * 3;
    let n = (limit / per + 2).min(40) as usize;
    let imgs: Vec<RgbImage> = (0..n)
        .map(|i| synthetic_image(i as u64, 2048, 2048))
        .collect();
    let text = r#"
size = 16
[[views]]
name = "plain"
[[views.ops]]
op = "random_resized_crop"
size = 16
[[views]]
name = "mixed"
count = 2
[[views.ops]]
op = "random_resized_crop"
size = 16
[[views.ops]]
op = "mixup"
alpha = 0.4
num_classes = 2
"#;
    let v = views(text);
    let aug = ViewAugmenter::with_gpu(v.clone(), g.clone()).unwrap();
    let key = BatchKey::new(6, 0, 0);
    let out = aug.augment(Request::new(&imgs).key(key)).unwrap();
    let alone = alone_on_gpu(&v, &g, &imgs, |r| r.key(key));
    assert_eq!((out[0].plan, out[1].plan), (0, 0));
    let s = out[0].batch.gpu_stats.unwrap();
    assert!(s.chunks >= 2, "{n} sources of {per} bytes: {s:?}");
    assert_eq!(s.submits, s.chunks);
    for (vb, a) in out.iter().zip(&alone) {
        assert!(vb.batch.data == a.data, "view {}", vb.name);
    }
    assert!(out[1]
        .batch
        .records
        .iter()
        .any(|r| r.mix.as_ref().is_some_and(|m| m.partner_index != r.index)));
}
