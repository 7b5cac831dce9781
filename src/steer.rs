//! Per-sample overrides given by the training loop, per batch: a strength
//! that moves every random op's range toward its identity, a probability
//! scale, a skip flag, and a policy's op choice (see the README's
//! "Overrides"). They change how a sample's draws map to parameters, never
//! the keys (seed, epoch, index, view, op position), and each sample's
//! record holds its own, so a replay renders it again exactly.

use crate::error::{Error, Result};
use crate::ops::policy::{PolicyChoice, RAND_AUGMENT_OPS};
use crate::ops::{Op, PolicyOp, Steer};
use serde::{Deserialize, Serialize};

/// One sample's overrides, as its record holds them (`"overrides"` in
/// `params.jsonl`). Every view of a source image has its image's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleOverrides {
    /// 0: every random op at its identity; 1: the file's ranges.
    #[serde(default = "one")]
    pub strength: f64,
    /// Multiplies every op's probability.
    #[serde(default = "one")]
    pub p_scale: f64,
    /// No random op: strength 0 and probability scale 0 (only the
    /// deterministic ops and the resizing to the output size change the image).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip: bool,
    /// The sample's choice of its policies' ops, for every rand_augment and
    /// trivial_augment_wide op of the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyChoice>,
}

fn one() -> f64 {
    1.0
}

impl Default for SampleOverrides {
    fn default() -> Self {
        Self {
            strength: 1.0,
            p_scale: 1.0,
            skip: false,
            policy: None,
        }
    }
}

impl SampleOverrides {
    /// How the sample's ops are steered (skip: strength 0, probability scale 0).
    pub fn steer(&self) -> Steer {
        if self.skip {
            Steer {
                strength: 0.0,
                p_scale: 0.0,
            }
        } else {
            Steer {
                strength: self.strength,
                p_scale: self.p_scale,
            }
        }
    }

    /// The strength schedules with `by = "strength"` follow (0 when skipped).
    pub fn schedule_strength(&self) -> f64 {
        if self.skip {
            0.0
        } else {
            self.strength
        }
    }

    /// Checks the values against `ops` (sample `sample` of the batch): an
    /// error names the field, the sample and the value.
    pub fn check(&self, ops: &[Op], sample: usize) -> Result<()> {
        unit("strength", sample, self.strength)?;
        unit("p_scale", sample, self.p_scale)?;
        if let Some(c) = &self.policy {
            let mut any = false;
            for (i, op) in ops.iter().enumerate() {
                if matches!(op, Op::Policy { .. } | Op::AugMix { .. }) {
                    c.check(i, op, sample)?;
                    any = true;
                }
            }
            if !any {
                let key = match c {
                    PolicyChoice::Ops(_) => "policy_ops",
                    PolicyChoice::Weights(_) => "policy_weights",
                };
                return Err(Error::InvalidArgument(format!(
                    "overrides.{key}[{sample}]: the pipeline has no policy op (rand_augment or trivial_augment_wide) to choose ops for"
                )));
            }
        }
        Ok(())
    }
}

fn unit(field: &str, sample: usize, x: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&x) {
        return Err(Error::InvalidArgument(format!(
            "overrides.{field}[{sample}] = {x}: expected a number in [0, 1]"
        )));
    }
    Ok(())
}

/// A policy op by its name (`"Rotate"`, `"AutoContrast"`...: torchvision's).
pub fn policy_op_named(name: &str) -> Option<PolicyOp> {
    RAND_AUGMENT_OPS
        .iter()
        .chain(&[PolicyOp::Invert])
        .find(|op| format!("{op:?}") == name)
        .copied()
}

/// A batch's overrides, one entry per source image (each array, when given,
/// of the batch's length N; views share their image's). Absent fields keep
/// the file's behaviour: strength 1, probability scale 1, no skip, the
/// policies' own choice.
///
/// ```
/// use gpu_augment::{synthetic_image, Augmenter, Backend, Overrides, Pipeline, Request};
///
/// # fn main() -> gpu_augment::Result<()> {
/// let p = Pipeline::from_toml("size = 32\n[[ops]]\nop = \"affine\"\ndegrees = 30")?;
/// let aug = Augmenter::new(p, Backend::Cpu)?;
/// let images = vec![synthetic_image(0, 32, 32), synthetic_image(1, 32, 32)];
/// let ov = Overrides::new().strength(vec![0.0, 0.5]);
/// let batch = aug.augment(Request::new(&images).overrides(&ov))?;
/// // Strength 0: no rotation at all.
/// assert_eq!(batch.sample_u8(0), Some(images[0].as_raw().as_slice()));
/// assert_eq!(batch.records[1].overrides.as_ref().map(|o| o.strength), Some(0.5));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// Per image, in [0, 1].
    pub strength: Option<Vec<f64>>,
    /// Per image, in [0, 1].
    pub p_scale: Option<Vec<f64>>,
    /// Per image: no random op.
    pub skip: Option<Vec<bool>>,
    /// Per image, the policy ops to apply (names from the policy's op set).
    pub policy_ops: Option<Vec<Vec<PolicyOp>>>,
    /// Per image, one weight per op of `ops::policy::RAND_AUGMENT_OPS`.
    pub policy_weights: Option<Vec<Vec<f64>>>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the strengths.
    pub fn strength(self, v: Vec<f64>) -> Self {
        Self {
            strength: Some(v),
            ..self
        }
    }
    /// Sets the probability scales.
    pub fn p_scale(self, v: Vec<f64>) -> Self {
        Self {
            p_scale: Some(v),
            ..self
        }
    }
    /// Sets the skip flags.
    pub fn skip(self, v: Vec<bool>) -> Self {
        Self {
            skip: Some(v),
            ..self
        }
    }
    /// Sets the explicit policy ops.
    pub fn policy_ops(self, v: Vec<Vec<PolicyOp>>) -> Self {
        Self {
            policy_ops: Some(v),
            ..self
        }
    }
    /// Sets the policy op weights.
    pub fn policy_weights(self, v: Vec<Vec<f64>>) -> Self {
        Self {
            policy_weights: Some(v),
            ..self
        }
    }

    /// The entries at `items` of a table with one entry per dataset item
    /// (a per-epoch table for the Loader): an index beyond an array is an
    /// error naming the field.
    pub fn select(&self, items: &[usize]) -> Result<Overrides> {
        fn pick<T: Clone>(
            field: &str,
            v: &Option<Vec<T>>,
            items: &[usize],
        ) -> Result<Option<Vec<T>>> {
            let Some(v) = v else { return Ok(None) };
            items
                .iter()
                .map(|&i| {
                    v.get(i).cloned().ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "overrides.{field} has {} values but item {i} was asked for",
                            v.len()
                        ))
                    })
                })
                .collect::<Result<Vec<T>>>()
                .map(Some)
        }
        Ok(Overrides {
            strength: pick("strength", &self.strength, items)?,
            p_scale: pick("p_scale", &self.p_scale, items)?,
            skip: pick("skip", &self.skip, items)?,
            policy_ops: pick("policy_ops", &self.policy_ops, items)?,
            policy_weights: pick("policy_weights", &self.policy_weights, items)?,
        })
    }

    /// Each image's overrides for a batch of `n` images, checked against
    /// `ops`: a wrong length or value is an error naming the field, the
    /// sample and the value.
    pub fn per_sample(&self, n: usize, ops: &[Op]) -> Result<Vec<SampleOverrides>> {
        fn len<T>(field: &str, v: &Option<Vec<T>>, n: usize) -> Result<()> {
            match v {
                Some(v) if v.len() != n => Err(Error::InvalidArgument(format!(
                    "overrides.{field} has {} values for {n} images: give one per source image",
                    v.len()
                ))),
                _ => Ok(()),
            }
        }
        len("strength", &self.strength, n)?;
        len("p_scale", &self.p_scale, n)?;
        len("skip", &self.skip, n)?;
        len("policy_ops", &self.policy_ops, n)?;
        len("policy_weights", &self.policy_weights, n)?;
        if self.policy_ops.is_some() && self.policy_weights.is_some() {
            return Err(Error::InvalidArgument(
                "overrides: policy_ops and policy_weights both given: choose the ops one way"
                    .into(),
            ));
        }
        (0..n)
            .map(|i| {
                let s = SampleOverrides {
                    strength: self.strength.as_ref().map_or(1.0, |v| v[i]),
                    p_scale: self.p_scale.as_ref().map_or(1.0, |v| v[i]),
                    skip: self.skip.as_ref().is_some_and(|v| v[i]),
                    policy: match (&self.policy_ops, &self.policy_weights) {
                        (Some(o), _) => Some(PolicyChoice::Ops(o[i].clone())),
                        (_, Some(w)) => Some(PolicyChoice::Weights(w[i].clone())),
                        _ => None,
                    },
                };
                s.check(ops, i)?;
                Ok(s)
            })
            .collect()
    }
}
