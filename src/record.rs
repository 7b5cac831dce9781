//! Parameter records on disk: the versioned JSON form of [`SampleRecord`]
//! (one line of `params.jsonl`), written and read back with serde.
//!
//! A record serialises as
//! `{"format":1,"index":..,"view":..,"source_size":[w,h],"ops":[..],"mix":{..}}`
//! (`mix` only for pipelines with a mixing op; `"view_name":".."` after
//! `view` only for the named views of a `[[views]]` file; `"overrides":{..}`
//! only for samples drawn with overrides, `"schedule":{"<op>.<key>":..}`
//! only for pipelines with schedules). Reading accepts other
//! top-level keys (a `params.jsonl` line also holds its `file`) and ignores
//! them; a missing `format` reads as format 1, the layout records had before
//! the field existed; any other format is an error. Inside `ops` and `mix`
//! an unknown key is an error, so a misspelt edit does not pass unnoticed.

use crate::error::{Error, Result};
use crate::mix::MixRecord;
use crate::ops::Drawn;
use crate::pipeline::SampleRecord;
use crate::schedule::ScheduleValues;
use crate::steer::SampleOverrides;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The version of the record layout this build writes and reads (the
/// `"format"` key of every record).
pub const RECORD_FORMAT: u32 = 1;

#[derive(Serialize)]
struct RecordOut<'a> {
    format: u32,
    index: u64,
    view: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    view_name: Option<&'a str>,
    source_size: [u32; 2],
    ops: &'a [Drawn],
    #[serde(skip_serializing_if = "Option::is_none")]
    mix: Option<&'a MixRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    overrides: Option<&'a SampleOverrides>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<&'a ScheduleValues>,
}

impl Serialize for SampleRecord {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        RecordOut {
            format: RECORD_FORMAT,
            index: self.index,
            view: self.view,
            view_name: self.view_name.as_deref(),
            source_size: self.source_size,
            ops: &self.ops,
            mix: self.mix.as_ref(),
            overrides: self.overrides.as_ref(),
            schedule: self.schedule.as_ref(),
        }
        .serialize(s)
    }
}

fn format_1() -> u32 {
    1
}

#[derive(Deserialize)]
struct RecordIn {
    #[serde(default = "format_1")]
    format: u32,
    index: u64,
    view: u32,
    #[serde(default)]
    view_name: Option<String>,
    source_size: [u32; 2],
    ops: Vec<Drawn>,
    #[serde(default)]
    mix: Option<MixRecord>,
    #[serde(default)]
    overrides: Option<SampleOverrides>,
    #[serde(default)]
    schedule: Option<ScheduleValues>,
}

fn format_message(format: u32) -> Option<String> {
    (format != RECORD_FORMAT).then(|| {
        format!("unsupported record format {format} (this version reads format {RECORD_FORMAT})")
    })
}

impl<'de> Deserialize<'de> for SampleRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let r = RecordIn::deserialize(d)?;
        if let Some(m) = format_message(r.format) {
            return Err(D::Error::custom(m));
        }
        Ok(SampleRecord {
            index: r.index,
            view: r.view,
            source_size: r.source_size,
            ops: r.ops,
            mix: r.mix,
            overrides: r.overrides,
            schedule: r.schedule,
            view_name: r.view_name,
        })
    }
}

impl SampleRecord {
    /// Reads one record from JSON (a line of `params.jsonl`). An error names
    /// the field that is wrong, e.g. `ops[1].angle` or `mix.lam`, and why.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str::<SampleRecord>(text).map_err(|e| diagnose(text, e))
    }
}

fn record_err(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::InvalidRecord {
        field: field.into(),
        message: message.into(),
    }
}

/// Finds the field behind a failed read of `text` (which serde's own message
/// does not always name).
fn diagnose(text: &str, e: serde_json::Error) -> Error {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return record_err("(json)", e.to_string()),
    };
    let Value::Object(obj) = &value else {
        return record_err("(record)", "expected a JSON object");
    };
    if let Some(v) = obj.get("format") {
        match u32::deserialize(v) {
            Ok(f) => {
                if let Some(m) = format_message(f) {
                    return record_err("format", m);
                }
            }
            Err(e) => return record_err("format", e.to_string()),
        }
    }
    type Check = fn(&Value) -> std::result::Result<(), serde_json::Error>;
    let checks: [(&str, Check); 3] = [
        ("index", |v| u64::deserialize(v).map(drop)),
        ("view", |v| u32::deserialize(v).map(drop)),
        ("source_size", |v| <[u32; 2]>::deserialize(v).map(drop)),
    ];
    for (key, check) in checks {
        match obj.get(key).map(check) {
            None => return record_err(key, "missing"),
            Some(Err(e)) => return record_err(key, e.to_string()),
            Some(Ok(())) => {}
        }
    }
    match obj.get("ops") {
        None => return record_err("ops", "missing"),
        Some(Value::Array(ops)) => {
            for (i, op) in ops.iter().enumerate() {
                if let Err(e) = Drawn::deserialize(op) {
                    let name = op.get("op").and_then(Value::as_str).unwrap_or("?");
                    let path = match culprit::<Drawn>(op, &e, Some("op")) {
                        Some(f) => format!("ops[{i}].{f}"),
                        None => format!("ops[{i}]"),
                    };
                    return record_err(path, format!("(op `{name}`) {e}"));
                }
            }
        }
        Some(other) => {
            return record_err(
                "ops",
                format!("expected an array of op parameters, got {other}"),
            )
        }
    }
    if let Some(m) = obj.get("overrides").filter(|m| !m.is_null()) {
        if let Err(e) = SampleOverrides::deserialize(m) {
            let path = match culprit::<SampleOverrides>(m, &e, None) {
                Some(f) => format!("overrides.{f}"),
                None => "overrides".into(),
            };
            return record_err(path, e.to_string());
        }
    }
    if let Some(m) = obj.get("schedule").filter(|m| !m.is_null()) {
        if let Err(e) = ScheduleValues::deserialize(m) {
            return record_err("schedule", e.to_string());
        }
    }
    if let Some(v) = obj.get("view_name").filter(|v| !v.is_null()) {
        if !v.is_string() {
            return record_err(
                "view_name",
                format!("expected a view's name (a string), got {v}"),
            );
        }
    }
    if let Some(m) = obj.get("mix").filter(|m| !m.is_null()) {
        if let Err(e) = MixRecord::deserialize(m) {
            let path = match culprit::<MixRecord>(m, &e, None) {
                Some(f) => format!("mix.{f}"),
                None => "mix".into(),
            };
            return record_err(path, e.to_string());
        }
    }
    record_err("(record)", e.to_string())
}

/// The key of object `v` that makes reading it as `T` fail with `e`: the one
/// serde's message names, or the one whose removal makes the read succeed or
/// fail only for its absence. `tag` is an internally tagged enum's tag key
/// (its removal always fails).
fn culprit<T: DeserializeOwned>(
    v: &Value,
    e: &serde_json::Error,
    tag: Option<&str>,
) -> Option<String> {
    let msg = e.to_string();
    for pre in ["missing field `", "unknown field `", "duplicate field `"] {
        if let Some(rest) = msg.strip_prefix(pre) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    let Value::Object(m) = v else {
        return None;
    };
    if let (Some(tag), Some(rest)) = (tag, msg.strip_prefix("unknown variant `")) {
        if m.get(tag).and_then(Value::as_str) == rest.split('`').next() {
            return Some(tag.to_string());
        }
    }
    for k in m.keys().filter(|k| Some(k.as_str()) != tag) {
        let mut without = m.clone();
        without.remove(k);
        match T::deserialize(Value::Object(without)) {
            Ok(_) => return Some(k.clone()),
            Err(e2) if e2.to_string() == format!("missing field `{k}`") => return Some(k.clone()),
            Err(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::{MixKind, Region};
    use crate::ops::{ColorStep, PolicyOp, PolicyStep};

    fn record() -> SampleRecord {
        SampleRecord {
            index: 7,
            view: 1,
            source_size: [40, 30],
            ops: vec![
                Drawn::Affine {
                    applied: true,
                    angle: 12.345678901234567,
                    translate: [1.0, -2.0],
                    scale: 0.9,
                    shear: [0.1, 0.0],
                },
                Drawn::ColorJitter {
                    applied: true,
                    brightness: 1.1,
                    contrast: 0.7,
                    saturation: 1.0,
                    hue: -0.05,
                    order: vec![ColorStep::Hue, ColorStep::Brightness],
                },
                Drawn::Policy {
                    steps: vec![PolicyStep {
                        op: PolicyOp::Rotate,
                        magnitude: -9.0,
                    }],
                },
                Drawn::RandomField {
                    applied: true,
                    l: 16.0,
                    seed: u64::MAX,
                },
                Drawn::Normalize {},
            ],
            mix: Some(MixRecord {
                op: MixKind::Cutmix,
                partner: 3,
                partner_index: 9,
                partner_view: 0,
                lam: 0.123456789,
                region: Some(Region {
                    top: 1,
                    left: 2,
                    height: 3,
                    width: 4,
                }),
            }),
            overrides: None,
            schedule: None,
            view_name: None,
        }
    }

    #[test]
    fn a_record_round_trips_with_its_format() {
        let r = record();
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.starts_with("{\"format\":1,\"index\":7,"), "{text}");
        assert_eq!(SampleRecord::from_json(&text).unwrap(), r);
        let unmixed = SampleRecord { mix: None, ..r };
        let text = serde_json::to_string(&unmixed).unwrap();
        assert!(!text.contains("mix"), "{text}");
        assert_eq!(SampleRecord::from_json(&text).unwrap(), unmixed);
    }

    #[test]
    fn a_view_name_is_written_only_when_present() {
        let r = SampleRecord {
            view_name: Some("local".into()),
            ..record()
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            text.starts_with("{\"format\":1,\"index\":7,\"view\":1,\"view_name\":\"local\","),
            "{text}"
        );
        assert_eq!(SampleRecord::from_json(&text).unwrap(), r);
        let plain = serde_json::to_string(&record()).unwrap();
        assert!(!plain.contains("view_name"), "{plain}");
        assert_eq!(field_of(&text.replacen("\"local\"", "7", 1)).0, "view_name");
    }

    fn field_of(text: &str) -> (String, String) {
        match SampleRecord::from_json(text) {
            Err(Error::InvalidRecord { field, message }) => (field, message),
            other => panic!("expected an InvalidRecord error, got {other:?}"),
        }
    }

    #[test]
    fn a_bad_field_is_named() {
        let good = serde_json::to_string(&record()).unwrap();
        let cases = [
            (
                "\"angle\":12.345678901234567",
                "\"angle\":\"x\"",
                "ops[0].angle",
            ),
            (
                "\"angle\":12.345678901234567",
                "\"angel\":1.0",
                "ops[0].angel",
            ),
            ("\"applied\":true,\"angle\"", "\"angle\"", "ops[0].applied"),
            ("\"op\":\"affine\"", "\"op\":\"affin\"", "ops[0].op"),
            ("\"magnitude\":-9.0", "\"magnitude\":null", "ops[2].steps"),
            (
                "\"seed\":18446744073709551615",
                "\"seed\":-1",
                "ops[3].seed",
            ),
            ("\"lam\":0.123456789", "\"lam\":\"half\"", "mix.lam"),
            ("\"partner\":3", "\"partner\":-3", "mix.partner"),
            ("\"format\":1", "\"format\":2", "format"),
            ("\"index\":7", "\"index\":\"7\"", "index"),
            ("\"view\":1,", "", "view"),
            (
                "\"source_size\":[40,30]",
                "\"source_size\":[40]",
                "source_size",
            ),
        ];
        for (from, to, want) in cases {
            assert!(good.contains(from), "{from}");
            let (field, message) = field_of(&good.replacen(from, to, 1));
            assert_eq!(field, want, "{to}: {message}");
        }
        assert_eq!(field_of("{\"index\": 1,").0, "(json)");
        assert_eq!(field_of("[1]").0, "(record)");
    }

    #[test]
    fn a_record_without_format_reads_as_format_1() {
        let text = serde_json::to_string(&record()).unwrap();
        let old = text.replacen("\"format\":1,", "", 1);
        assert_eq!(SampleRecord::from_json(&old).unwrap(), record());
    }
}
