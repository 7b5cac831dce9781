//! The one request form of `Augmenter::augment` / `Augmenter::draw`:
//! conflicting parts are clear errors, explicit parts give what drawing gives,
//! and saved records (through JSON) replay to the same bytes and labels on
//! both backends, an edited record changing its sample only.

mod common;

use common::{backends, gpu};
use gpu_augment::{
    synthetic_image, Augmenter, Backend, BatchKey, Drawn, Error, Labels, MixRecord, Pipeline,
    Request, RgbImage, SampleRecord,
};

fn example(name: &str) -> Pipeline {
    let path = format!(
        "{}/examples/pipelines/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    Pipeline::from_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn images(n: u64) -> Vec<RgbImage> {
    (0..n)
        .map(|i| synthetic_image(i, 45 + 11 * i as u32, 33 + 5 * i as u32))
        .collect()
}

fn invalid(r: gpu_augment::Result<gpu_augment::Batch>, what: &str, needle: &str) {
    match r {
        Err(Error::InvalidArgument(m)) => assert!(m.contains(needle), "{what}: {m}"),
        other => panic!(
            "{what}: expected InvalidArgument, got {:?}",
            other.map(|b| b.shape)
        ),
    }
}

#[test]
fn conflicting_parts_of_a_request_are_invalid_arguments() {
    let aug = Augmenter::new(example("affine"), Backend::Cpu).unwrap();
    let imgs = images(2);
    let idx = [4u64, 9];
    let batch = aug.augment(Request::new(&imgs)).unwrap();
    let records = batch.records.clone();
    let params: Vec<Vec<Drawn>> = records.iter().map(|r| r.ops.clone()).collect();
    let key = BatchKey::new(1, 2, 3);
    let base = || Request::new(&imgs);
    invalid(
        aug.augment(base().first_index(3).indices(&idx)),
        "indices + first_index",
        "first_index",
    );
    invalid(
        aug.augment(base().indices(&idx).key(key)),
        "indices + key",
        "first_index",
    );
    invalid(
        aug.augment(base().replay(&records).params(&params)),
        "replay + params",
        "params",
    );
    let mix_aug = Augmenter::new(example("mixup"), Backend::Cpu).unwrap();
    let mixed = mix_aug
        .augment(base().labels(Labels::Classes {
            classes: &[0, 1],
            num_classes: 10,
        }))
        .unwrap();
    let mix: Vec<MixRecord> = mixed.records.iter().filter_map(|r| r.mix.clone()).collect();
    invalid(
        mix_aug.augment(base().replay(&mixed.records).mix_records(&mix)),
        "replay + mix_records",
        "mix_records",
    );
    invalid(
        aug.augment(base().replay(&records).indices(&idx)),
        "replay + indices",
        "indices",
    );
    invalid(
        aug.augment(base().replay(&records).first_index(5)),
        "replay + first_index",
        "indices",
    );
    invalid(
        aug.augment(base().key(key).replay(&records)),
        "replay + key",
        "indices",
    );
    invalid(
        aug.augment(base().replay(&records).seed(7)),
        "replay + seed",
        "seed",
    );
    invalid(
        aug.augment(base().epoch(1).replay(&records)),
        "replay + epoch",
        "epoch",
    );
    // draw refuses the same.
    assert!(matches!(
        aug.draw(&base().first_index(1).indices(&idx)),
        Err(Error::InvalidArgument(_))
    ));
    // Records that do not fit the request.
    invalid(
        aug.augment(Request::new(&imgs[..1]).replay(&records)),
        "two records for one image",
        "records",
    );
    let swapped = [imgs[1].clone(), imgs[0].clone()];
    invalid(
        aug.augment(Request::new(&swapped).replay(&records)),
        "records of other images",
        "source",
    );
    let mut unmixed = mixed.records.clone();
    for r in &mut unmixed {
        r.mix = None;
    }
    invalid(
        mix_aug.augment(base().replay(&unmixed)),
        "records without mixing on a mixing pipeline",
        "mix",
    );
    let mut reordered = mixed.records.clone();
    reordered.swap(0, 1);
    let reversed = [imgs[1].clone(), imgs[0].clone()];
    let mut moved = reordered.clone();
    for r in &mut moved {
        r.mix.as_mut().unwrap().partner = 0;
    }
    invalid(
        mix_aug.augment(Request::new(&reversed).replay(&moved)),
        "a partner position that holds another record",
        "partner",
    );
    // Compatible parts are fine.
    assert!(aug.augment(base().seed(1).epoch(2).indices(&idx)).is_ok());
    assert!(aug.augment(base().params(&params).key(key)).is_ok());
}

#[test]
fn explicit_parts_give_what_drawing_gives() {
    for name in ["imagenet_train", "cutmix", "ssl_two_views"] {
        let aug = Augmenter::new(example(name), Backend::Cpu).unwrap();
        let imgs = images(3);
        let idx = [10u64, 11, 12];
        let classes = [0u32, 1, 1];
        let nc = aug.pipeline().mix.as_ref().map_or(2, |m| m.num_classes);
        let labels = Labels::Classes {
            classes: &classes,
            num_classes: nc,
        };
        let req = Request::new(&imgs)
            .key(BatchKey::new(9, 1, 10))
            .labels(labels);
        let drawn = aug.draw(&req).unwrap();
        let whole = aug.augment(req).unwrap();
        assert_eq!(drawn, whole.records, "{name}: draw = the batch's records");
        let by_index = aug
            .augment(
                Request::new(&imgs)
                    .seed(9)
                    .epoch(1)
                    .indices(&idx)
                    .labels(labels),
            )
            .unwrap();
        assert_eq!(by_index.data, whole.data, "{name}: indices = first_index");
        let params: Vec<Vec<Drawn>> = drawn.iter().map(|r| r.ops.clone()).collect();
        let mut explicit = Request::new(&imgs)
            .seed(9)
            .epoch(1)
            .indices(&idx)
            .params(&params)
            .labels(labels);
        let mix: Vec<MixRecord> = drawn.iter().filter_map(|r| r.mix.clone()).collect();
        if !mix.is_empty() {
            explicit = explicit.mix_records(&mix);
        }
        let b = aug.augment(explicit).unwrap();
        assert_eq!(b.data, whole.data, "{name}: explicit params and mix");
        assert_eq!(b.labels, whole.labels, "{name}");
        assert_eq!(b.records, whole.records, "{name}");
    }
}

/// Records through JSON and back, then replayed: the same bytes and labels.
#[test]
fn saved_records_replay_to_the_same_batch_on_both_backends() {
    let names = [
        "imagenet_train",
        "cifar_train",
        "color_jitter",
        "affine",
        "randaugment",
        "trivial_augment",
        "elastic",
        "random_field_ssl",
        "mixup",
        "cutmix",
        "ssl_two_views",
    ];
    if gpu().is_none() {
        eprintln!("NOTE: the GPU half of this test needs an adapter");
    }
    for name in names {
        let p = example(name);
        let imgs = images(4);
        let classes = [0u32, 1, 0, 1];
        let nc = p.mix.as_ref().map_or(2, |m| m.num_classes);
        let labels = Labels::Classes {
            classes: &classes,
            num_classes: nc,
        };
        for (backend, aug) in backends(&p) {
            let batch = aug
                .augment(
                    Request::new(&imgs)
                        .key(BatchKey::new(21, 3, 500))
                        .labels(labels),
                )
                .unwrap();
            let lines: Vec<String> = batch
                .records
                .iter()
                .map(|r| serde_json::to_string(r).unwrap())
                .collect();
            let records: Vec<SampleRecord> = lines
                .iter()
                .map(|l| SampleRecord::from_json(l).unwrap())
                .collect();
            assert_eq!(records, batch.records, "{name} {backend}: JSON round trip");
            // serde's own reader agrees.
            let via_serde: SampleRecord = serde_json::from_str(&lines[0]).unwrap();
            assert_eq!(via_serde, records[0]);
            let again = aug
                .augment(Request::new(&imgs).replay(&records).labels(labels))
                .unwrap();
            assert_eq!(again.data, batch.data, "{name} {backend}: replayed pixels");
            assert_eq!(again.labels, batch.labels, "{name} {backend}: labels");
            assert_eq!(again.records, batch.records, "{name} {backend}: records");
        }
    }
}

#[test]
fn an_edited_record_changes_only_its_sample_on_both_backends() {
    let p = example("affine");
    let imgs = images(4);
    for (backend, aug) in backends(&p) {
        let batch = aug
            .augment(Request::new(&imgs).key(BatchKey::new(2, 0, 0)))
            .unwrap();
        let mut records = batch.records.clone();
        let Drawn::Affine { angle, .. } = &mut records[2].ops[1] else {
            panic!("affine.toml's second op is affine");
        };
        *angle += 20.0;
        let edited = aug.augment(Request::new(&imgs).replay(&records)).unwrap();
        for i in 0..4 {
            let same = edited.sample_u8(i) == batch.sample_u8(i);
            assert_eq!(same, i != 2, "{backend}: sample {i}");
        }
        assert_eq!(edited.records, records);
    }
}
