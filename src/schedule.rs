//! Schedules in pipeline files: a numeric op key given as
//! `{ from = A, to = B, epochs = E }` (linear in the epoch, held after E) or
//! `{ from = A, to = B, by = "strength" }` (following the sample's
//! strength override). The pipeline keeps plain `Op`s: a schedule's op is
//! read again, with the key's value at (epoch, strength) put in its table,
//! by the one key reader (`ops::parse_op`), so its checks are the key's own.

use crate::error::{Error, Result};
use crate::ops::{self, KeyDefault, Op};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a schedule follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleBy {
    /// Linear from epoch 0 to this epoch, then held.
    Epochs(u64),
    /// The sample's strength override (1 without one).
    Strength,
}

/// One scheduled key of one op.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// The op's position.
    pub op: usize,
    /// The key.
    pub key: String,
    /// The value at the start (one number, or a range's two ends).
    pub from: Vec<f64>,
    /// The value at the end.
    pub to: Vec<f64>,
    /// What it follows.
    pub by: ScheduleBy,
    /// The key takes integers (the value is rounded, half to even).
    pub integer: bool,
    /// The key was given one number (not a list).
    pub scalar: bool,
}

/// A scheduled key's value in a record: a number or a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScheduledValue {
    /// One number.
    Num(f64),
    /// A range (or other list).
    List(Vec<f64>),
}

/// The values a sample used, by `"<op position>.<key>"` (the record's `schedule`).
pub type ScheduleValues = BTreeMap<String, ScheduledValue>;

/// A pipeline's schedules and the tables of the ops they are in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedules {
    /// Every scheduled key.
    pub items: Vec<Schedule>,
    /// The op tables (without their schedules) by op position.
    tables: BTreeMap<usize, toml::Table>,
}

impl Schedule {
    /// The record's name of the key: `"<op position>.<key>"`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.op, self.key)
    }

    /// The value at `epoch` for a sample of strength `strength`.
    pub fn value(&self, epoch: u64, strength: f64) -> ScheduledValue {
        let t = match self.by {
            ScheduleBy::Epochs(e) => epoch.min(e) as f64 / e.max(1) as f64,
            ScheduleBy::Strength => strength,
        };
        let v: Vec<f64> = self
            .from
            .iter()
            .zip(&self.to)
            .map(|(a, b)| {
                let x = if t >= 1.0 { *b } else { a + t * (b - a) };
                if self.integer {
                    x.round_ties_even()
                } else {
                    x
                }
            })
            .collect();
        if self.scalar {
            ScheduledValue::Num(v[0])
        } else {
            ScheduledValue::List(v)
        }
    }
}

fn toml_value(v: &ScheduledValue, integer: bool) -> toml::Value {
    let num = |x: f64| {
        if integer {
            toml::Value::Integer(x as i64)
        } else {
            toml::Value::Float(x)
        }
    };
    match v {
        ScheduledValue::Num(x) => num(*x),
        ScheduledValue::List(xs) => toml::Value::Array(xs.iter().map(|x| num(*x)).collect()),
    }
}

/// An error naming the op, the key and the schedule's value.
fn sched_err(index: usize, op: &str, key: &str, message: String) -> Error {
    Error::InvalidParam {
        index,
        op: op.into(),
        key: key.into(),
        message: format!("schedule: {message}"),
    }
}

/// The numbers of a schedule's `from` or `to`.
fn numbers(
    index: usize,
    op: &str,
    key: &str,
    end: &str,
    v: &toml::Value,
) -> Result<(Vec<f64>, bool)> {
    let num = |v: &toml::Value| match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    };
    let bad = || {
        sched_err(
            index,
            op,
            key,
            format!(
                "`{end}` must be a number or a list of numbers, got {}",
                ops::describe_value(v)
            ),
        )
    };
    match v {
        toml::Value::Array(a) if !a.is_empty() => Ok((
            a.iter()
                .map(|x| num(x).ok_or_else(bad))
                .collect::<Result<_>>()?,
            false,
        )),
        other => Ok((vec![num(other).ok_or_else(bad)?], true)),
    }
}

impl Schedules {
    /// Whether the pipeline has none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether op `pos` has a key that follows the strength.
    pub fn follows_strength(&self, pos: usize) -> bool {
        self.items
            .iter()
            .any(|s| s.op == pos && s.by == ScheduleBy::Strength)
    }

    /// Takes the schedules out of op table `table` (op `index`): the op as
    /// the pipeline holds it (read with each schedule at whichever end
    /// needs more of the kernels' room: steps, statistics, fields), after
    /// checking both ends with the key's own limits. A table without
    /// schedules is read as it is.
    pub fn take(&mut self, index: usize, table: &toml::Table) -> Result<Op> {
        let name = table.get("op").and_then(toml::Value::as_str).unwrap_or("?");
        let mut plain = table.clone();
        let mut found = Vec::new();
        for (key, v) in table {
            let toml::Value::Table(t) = v else { continue };
            let def = ops::op_def(name);
            let Some(k) = def.and_then(|d| d.keys.iter().find(|k| k.name == key)) else {
                // An unknown op or key: the op's reader names it.
                return ops::parse_op(index, table);
            };
            if matches!(k.default, KeyDefault::Flag(_) | KeyDefault::Name(_))
                || k.shape.contains("true or false")
            {
                return Err(sched_err(
                    index,
                    name,
                    key,
                    format!(
                        "`{key}` is not a numeric key ({}), so it cannot follow a schedule",
                        k.shape
                    ),
                ));
            }
            if k.name == ops::keys::color::NUM_OUTPUT_CHANNELS.name {
                return Err(sched_err(
                    index,
                    name,
                    key,
                    "the output's channel count is the same for every epoch and sample: it cannot follow a schedule".into(),
                ));
            }
            for tk in t.keys() {
                if !["from", "to", "epochs", "by"].contains(&tk.as_str()) {
                    return Err(sched_err(index, name, key, format!("unknown key `{tk}` (a schedule has from, to, and epochs or by = \"strength\")")));
                }
            }
            let end = |e: &str| {
                t.get(e)
                    .ok_or_else(|| sched_err(index, name, key, format!("missing `{e}`")))
                    .and_then(|v| numbers(index, name, key, e, v))
            };
            let (from, scalar) = end("from")?;
            let (to, scalar_to) = end("to")?;
            if from.len() != to.len() || scalar != scalar_to {
                return Err(sched_err(
                    index,
                    name,
                    key,
                    format!("`from` has {} values but `to` has {}", from.len(), to.len()),
                ));
            }
            let by = match (t.get("epochs"), t.get("by")) {
                (Some(toml::Value::Integer(e)), None) if *e >= 1 => ScheduleBy::Epochs(*e as u64),
                (None, Some(toml::Value::String(s))) if s == "strength" => ScheduleBy::Strength,
                (Some(e), None) => {
                    return Err(sched_err(
                        index,
                        name,
                        key,
                        format!(
                            "`epochs` must be an integer >= 1, got {}",
                            ops::describe_value(e)
                        ),
                    ))
                }
                (None, Some(b)) => {
                    return Err(sched_err(
                        index,
                        name,
                        key,
                        format!("`by` must be \"strength\", got {}", ops::describe_value(b)),
                    ))
                }
                _ => {
                    return Err(sched_err(
                        index,
                        name,
                        key,
                        "give either `epochs = E` or `by = \"strength\"`".into(),
                    ))
                }
            };
            found.push(Schedule {
                op: index,
                key: key.clone(),
                from,
                to,
                by,
                integer: k.shape.contains("integer"),
                scalar,
            });
        }
        if found.is_empty() {
            return ops::parse_op(index, table);
        }
        for s in &found {
            plain.remove(&s.key);
        }
        // Both ends with the key's own checks (which name the op and key).
        let at_end = |to: bool| -> Result<Op> {
            let mut t = plain.clone();
            for s in &found {
                let v = if to { &s.to } else { &s.from };
                let v = if s.scalar {
                    ScheduledValue::Num(v[0])
                } else {
                    ScheduledValue::List(v.clone())
                };
                t.insert(s.key.clone(), toml_value(&v, s.integer));
            }
            ops::parse_op(index, &t).map_err(|e| match e {
                Error::InvalidParam {
                    index,
                    op,
                    key,
                    message,
                } => Error::InvalidParam {
                    index,
                    op,
                    key,
                    message: format!(
                        "schedule `{}` = {}: {message}",
                        if to { "to" } else { "from" },
                        found
                            .iter()
                            .map(|s| format!("{:?}", if to { &s.to } else { &s.from }))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
                other => other,
            })
        };
        let (a, b) = (at_end(false)?, at_end(true)?);
        let room = |o: &Op| {
            (
                o.max_color_steps(),
                o.stat_slots(),
                crate::ops::field::kinds(o).count_ones(),
            )
        };
        let (ra, rb) = (room(&a), room(&b));
        let base = if ra.0 >= rb.0 && ra.1 >= rb.1 && ra.2 >= rb.2 {
            a
        } else if rb.0 >= ra.0 && rb.1 >= ra.1 && rb.2 >= ra.2 {
            b
        } else {
            return Err(sched_err(index, name, &found[0].key, "one end needs more colour steps and the other more statistics or fields: schedule these keys in separate ops".into()));
        };
        self.items.extend(found);
        self.tables.insert(index, plain);
        Ok(base)
    }

    /// The values every schedule takes at `epoch` for strength `strength`.
    pub fn values(&self, epoch: u64, strength: f64) -> ScheduleValues {
        self.items
            .iter()
            .map(|s| (s.name(), s.value(epoch, strength)))
            .collect()
    }

    /// `ops` with every scheduled op read again with `values` (from
    /// `values` or a record, which must name exactly the scheduled keys).
    pub fn resolve(&self, ops: &[Op], values: &ScheduleValues) -> Result<Vec<Op>> {
        let bad = |m: String| Err(Error::InvalidArgument(format!("schedule: {m}")));
        for k in values.keys() {
            if !self.items.iter().any(|s| &s.name() == k) {
                return bad(format!("the record has a value for `{k}` but the pipeline schedules no such key (scheduled: {})", self.names().join(", ")));
            }
        }
        let mut out = ops.to_vec();
        for (&pos, table) in &self.tables {
            let mut t = table.clone();
            for s in self.items.iter().filter(|s| s.op == pos) {
                let Some(v) = values.get(&s.name()) else {
                    return bad(format!("no value for the scheduled key `{}`", s.name()));
                };
                let n = match v {
                    ScheduledValue::Num(_) => 1,
                    ScheduledValue::List(l) => l.len(),
                };
                if n != s.from.len() || matches!(v, ScheduledValue::Num(_)) != s.scalar {
                    return bad(format!("`{}` = {v:?} is not of the key's shape", s.name()));
                }
                t.insert(s.key.clone(), toml_value(v, s.integer));
            }
            if let Some(o) = out.get_mut(pos) {
                *o = ops::parse_op(pos, &t)?;
            }
        }
        Ok(out)
    }

    /// The scheduled keys' names.
    pub fn names(&self) -> Vec<String> {
        self.items.iter().map(Schedule::name).collect()
    }
}
