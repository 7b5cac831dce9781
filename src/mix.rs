//! Batch mixing (MixUp, CutMix, ResizeMix, a random choice among them) and
//! soft labels: the ops, their validation, the drawing of partners, lambdas
//! and boxes, and the per-sample record both backends read.
//!
//! Mixing runs after every per-sample op, on the augmented batch (as
//! torchvision applies `MixUp` / `CutMix` to an already transformed batch): a
//! sample's partner is read *after* the partner's own augmentation. Kernels:
//! `shaders/mix.wgsl` and its CPU twin `src/cpu/mix.rs`.
//!
//! Randomness (all ChaCha8 streams of the key's `op_rng`, at the op
//! position `pipeline.ops.len()`, i.e. right after the per-sample ops):
//! - the partners are one random cycle through the whole batch (Sattolo's
//!   algorithm), keyed on the batch: seed, epoch and a hash of every sample's
//!   (index, view). Like torchvision's `roll(1)` no sample is its own partner
//!   (except in a batch of one, where the image and label come out unchanged);
//!   unlike it the order is random;
//! - per sample (the default): the mixer choice (`mix_one_of`), lambda, and the
//!   box, keyed on the sample's (index, view), so they do not depend on the
//!   batch; with `per_batch = true` one draw, keyed on the batch, serves every
//!   sample (torchvision's behaviour).

use crate::error::{Error, Result};
use crate::key::{op_rng, randint, uniform};
use crate::ops::keys::{self, At, Key, KeyDefault, Reader};
use crate::ops::{describe_value as describe, OpDef, Size};
use rand::Rng;
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};
use toml::Value;

/// One way of mixing a sample with its partner.
#[derive(Clone, Debug, PartialEq)]
pub enum Mixer {
    /// MixUp: lam ~ Beta(alpha, alpha); x = lam * x_i + (1 - lam) * x_j.
    MixUp {
        /// Beta parameter (> 0).
        alpha: f64,
    },
    /// CutMix: lam ~ Beta(alpha, alpha); a box of W*sqrt(1-lam) by
    /// H*sqrt(1-lam) around a uniform centre, clipped to the image, comes from
    /// the partner; lam becomes 1 - box area / (H*W) (torchvision's box rule).
    CutMix {
        /// Beta parameter (> 0).
        alpha: f64,
    },
    /// ResizeMix: tau ~ U(tau); the whole partner is resized to
    /// (floor(tau*H), floor(tau*W)) (at least 1x1) with the core's
    /// antialiased resampler (the same fixed-point weights as a `resize`;
    /// beyond its reach, a shrink of more than about 31x, the core's
    /// supersampled gather, as the core does) and pasted at a uniform
    /// position; lam = 1 - pasted area / (H*W).
    ResizeMix {
        /// Range of the scale, inside (0, 1).
        tau: [f64; 2],
    },
}

impl Mixer {
    /// The op's name in pipeline files.
    pub fn name(&self) -> &'static str {
        match self {
            Mixer::MixUp { .. } => "mixup",
            Mixer::CutMix { .. } => "cutmix",
            Mixer::ResizeMix { .. } => "resizemix",
        }
    }
}

/// A pipeline's mixing step: one mixer, or (`mix_one_of`) several with
/// probabilities.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    /// The mixers and their probabilities (summing to 1).
    pub mixers: Vec<(Mixer, f64)>,
    /// Written as `mix_one_of` (a choice, even of one mixer).
    pub one_of: bool,
    /// Classes of the soft labels.
    pub num_classes: usize,
    /// One draw (mixer, lambda, box) per batch instead of per sample.
    pub per_batch: bool,
}

/// The names of the mixing ops.
pub fn mix_names() -> Vec<&'static str> {
    MIX_DEFS.iter().map(|d| d.name).collect()
}

/// How a sample was mixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MixKind {
    /// Blend of the whole images.
    Mixup,
    /// A box of the partner pasted at the same place.
    Cutmix,
    /// The whole partner resized into a box.
    Resizemix,
}

/// An output pixel rectangle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// First row.
    pub top: u32,
    /// First column.
    pub left: u32,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
}

/// What one output sample drew for mixing (part of its parameter record).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixRecord {
    /// The mixer.
    pub op: MixKind,
    /// Position of the partner in the output batch.
    pub partner: usize,
    /// The partner's global sample index.
    pub partner_index: u64,
    /// The partner's view.
    pub partner_view: u32,
    /// Weight of the sample itself; the partner has 1 - lam. For cutmix and
    /// resizemix, exactly 1 - region area / (H*W).
    pub lam: f64,
    /// Cutmix: the box taken from the partner; resizemix: where the resized
    /// partner is pasted. None for mixup.
    pub region: Option<Region>,
}

/// Labels given with a batch: one per source image (views repeat them).
#[derive(Clone, Copy, Debug)]
pub enum Labels<'a> {
    /// Class indices in [0, num_classes).
    Classes {
        /// One per image.
        classes: &'a [u32],
        /// Number of classes.
        num_classes: usize,
    },
    /// One-hot or soft rows, each summing to 1: images x num_classes values.
    Soft {
        /// Row-major, one row per image.
        rows: &'a [f32],
        /// Number of classes (the row length).
        num_classes: usize,
    },
}

/// Soft labels out: one row of `num_classes` f32 per output sample, each row
/// summing to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftLabels {
    /// Row length.
    pub num_classes: usize,
    /// Rows, output sample by output sample.
    pub data: Vec<f32>,
}

impl SoftLabels {
    /// The label of output sample `i`.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        self.data
            .get(i * self.num_classes..(i + 1) * self.num_classes)
    }
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len() / self.num_classes.max(1)
    }
}

// Not part of the API (the mixing kernel's ABI): public only because
// tests/wgsl.rs checks its size against shaders/mix.wgsl.
#[doc(hidden)]
/// Per-sample mixing parameters as both kernels read them.
/// Keep in sync with `MixSample` in `shaders/mix.wgsl` (size checked by tests/wgsl.rs).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuMix {
    /// Kind (see [`kind`]), partner position, supersampling taps x and y (resizemix).
    pub kind: [u32; 4],
    /// Region: left, top, width, height (cutmix box / resizemix paste).
    pub rect: [u32; 4],
    /// lam, source pixels per pasted pixel in x and y (resizemix), unused.
    pub f: [f32; 4],
    /// Resizemix: the antialiased resampler's parameters for the partner
    /// resized to the paste region (`crate::resample::resize`); off: the
    /// supersampled gather of `kind`'s taps.
    pub resample: crate::resample::GpuResample,
}
const _: () = assert!(std::mem::size_of::<GpuMix>() == 112);

// Not part of the API: see `GpuMix`.
#[doc(hidden)]
/// Output size and format of the mixing pass.
/// Keep in sync with `MixGlobals` in `shaders/mix.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuMixGlobals {
    /// Width, height, samples, format (`GpuGlobals::out[3]`'s bits: 1 f32
    /// CHW, 2 one channel).
    pub out: [u32; 4],
}
const _: () = assert!(std::mem::size_of::<GpuMixGlobals>() == 16);

// Not part of the API: see `GpuMix`.
#[doc(hidden)]
/// Kind codes of [`GpuMix::kind`].
pub mod kind {
    /// Copy the sample (no mixing).
    pub const COPY: u32 = 0;
    /// lam * a + (1 - lam) * b.
    pub const BLEND: u32 = 1;
    /// The partner inside the region.
    pub const BOX: u32 = 2;
    /// The resized partner inside the region.
    pub const RESIZE: u32 = 3;

    /// The kinds with their WGSL names (emitted as `MIX_X: u32`).
    pub const ALL: &[(&str, u32)] = &[
        ("COPY", COPY),
        ("BLEND", BLEND),
        ("BOX", BOX),
        ("RESIZE", RESIZE),
    ];
}

/// Stream markers in the `view` slot of `op_rng` for batch-level draws (no
/// real view reaches them: views are at most [`MAX_VIEWS`]).
const PERMUTATION_STREAM: u32 = u32::MAX;
const PER_BATCH_STREAM: u32 = u32::MAX - 1;

/// Most views per source image.
pub const MAX_VIEWS: u32 = 1024;

fn param_err(index: usize, op: &str, key: &str, message: String) -> Error {
    Error::InvalidParam {
        index,
        op: op.into(),
        key: key.into(),
        message,
    }
}

/// The mixing ops of pipeline files: names and keys (read through the same
/// [`Reader`] as every other op; limits in `ops::keys::mix`).
pub const MIX_DEFS: &[OpDef] = {
    use crate::ops::Family::Mix;
    use keys::mix::{ALPHA, NUM_CLASSES, PER_BATCH, TAU};
    const MIXERS: Key = Key {
        name: "mixers",
        shape: "[{ op = \"mixup\", alpha = 0.8, p = 0.5 }, ...]",
        default: KeyDefault::Required,
        lo: 0.0,
        hi: 0.0,
        gt: false,
        min: 0.0,
    };
    &[
        OpDef {
            name: "mixup",
            family: Mix,
            keys: &[ALPHA, NUM_CLASSES, PER_BATCH],
            summary: "MixUp",
        },
        OpDef {
            name: "cutmix",
            family: Mix,
            keys: &[ALPHA, NUM_CLASSES, PER_BATCH],
            summary: "CutMix",
        },
        OpDef {
            name: "resizemix",
            family: Mix,
            keys: &[TAU, NUM_CLASSES, PER_BATCH],
            summary: "ResizeMix",
        },
        OpDef {
            name: "mix_one_of",
            family: Mix,
            keys: &[MIXERS, NUM_CLASSES, PER_BATCH],
            summary: "one of several mixers per sample",
        },
    ]
};

/// Parses one mixer table (`mixup`, `cutmix`, `resizemix`); `extra` keys are
/// the caller's (read by it).
fn parse_mixer(r: &Reader, extra: &[Key]) -> Result<Mixer> {
    let name = r.at.op;
    let mut allowed: Vec<&Key> = match name {
        "mixup" | "cutmix" => vec![&keys::mix::ALPHA],
        "resizemix" => vec![&keys::mix::TAU],
        other => {
            return Err(Error::UnknownOp {
                index: r.at.index,
                name: other.into(),
                known: "mixup, cutmix, resizemix".into(),
            })
        }
    };
    allowed.extend(extra.iter());
    r.only(&allowed)?;
    let mixer = match name {
        "mixup" | "cutmix" => {
            let alpha = r.num(&keys::mix::ALPHA)?;
            if name == "mixup" {
                Mixer::MixUp { alpha }
            } else {
                Mixer::CutMix { alpha }
            }
        }
        _ => {
            let tau = match r.numbers(keys::mix::TAU.name) {
                Ok(None) => [0.1, 0.8],
                Ok(Some(t)) if t.len() == 2 => [t[0], t[1]],
                Err(e) => return Err(e),
                _ => {
                    return Err(r.err(
                        "tau",
                        format!(
                            "expected [min, max], got {}",
                            r.get("tau").map(|v| v.describe()).unwrap_or_default()
                        ),
                    ))
                }
            };
            Mixer::ResizeMix { tau }
        }
    };
    check_mixer(r.at.index, name, &mixer)?;
    Ok(mixer)
}

fn check_mixer(index: usize, op: &str, m: &Mixer) -> Result<()> {
    match m {
        Mixer::MixUp { alpha } | Mixer::CutMix { alpha } => {
            keys::mix::ALPHA.check(&At { index, op }, *alpha)?;
        }
        Mixer::ResizeMix { tau } => {
            if !(tau[0] > 0.0 && tau[1] < 1.0 && tau[0] <= tau[1]) {
                return Err(param_err(
                    index,
                    op,
                    "tau",
                    format!(
                        "must be [min, max] with 0 < min <= max < 1, got [{}, {}]",
                        tau[0], tau[1]
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl Mix {
    /// A single mixer.
    pub fn one(mixer: Mixer, num_classes: usize, per_batch: bool) -> Self {
        Self {
            mixers: vec![(mixer, 1.0)],
            one_of: false,
            num_classes,
            per_batch,
        }
    }

    /// The op's name in pipeline files.
    pub fn name(&self) -> &'static str {
        match (self.one_of, self.mixers.first()) {
            (false, Some((m, _))) => m.name(),
            _ => "mix_one_of",
        }
    }

    /// Parses a mixing op table; `index` is its position in the pipeline file.
    pub fn parse(index: usize, t: &toml::Table) -> Result<Self> {
        use keys::mix::{NUM_CLASSES, P, PER_BATCH};
        let name = t.get("op").and_then(Value::as_str).unwrap_or("?");
        let r = Reader::toml(index, name, t);
        let num_classes = match t.get("num_classes") {
            Some(Value::Integer(k))
                if *k as f64 >= NUM_CLASSES.lo && *k as f64 <= NUM_CLASSES.hi =>
            {
                *k as usize
            }
            Some(other) => {
                return Err(r.err(
                    "num_classes",
                    format!(
                        "must be an integer in [{}, {}], got {}",
                        NUM_CLASSES.lo,
                        NUM_CLASSES.hi,
                        describe(other)
                    ),
                ))
            }
            None => {
                return Err(r.err(
                    "num_classes",
                    "missing: mixing makes soft labels of num_classes classes",
                ))
            }
        };
        let per_batch = r.flag(&PER_BATCH)?;
        let mix = if name == "mix_one_of" {
            let def = &MIX_DEFS[3];
            r.only(&def.keys.iter().collect::<Vec<_>>())?;
            let Some(Value::Array(items)) = t.get("mixers") else {
                return Err(r.err(
                    "mixers",
                    "missing or not an array: give mixers = [{ op = \"mixup\", alpha = 0.8, p = 0.5 }, ...]",
                ));
            };
            let mut mixers = Vec::new();
            for (k, item) in items.iter().enumerate() {
                let Some(mt) = item.as_table() else {
                    return Err(r.err("mixers", format!("entry {k} is not a table")));
                };
                let Some(sub) = mt.get("op").and_then(Value::as_str) else {
                    return Err(r.err(
                        "mixers",
                        format!("entry {k} needs op = \"mixup\", \"cutmix\" or \"resizemix\""),
                    ));
                };
                let sr = Reader::toml(index, sub, mt);
                let mixer = parse_mixer(&sr, &[P])?;
                if !sr.has(P.name) {
                    return Err(sr.err(
                        "p",
                        "missing: every mixer of mix_one_of needs its probability p",
                    ));
                }
                mixers.push((mixer, sr.num(&P)?));
            }
            Mix {
                mixers,
                one_of: true,
                num_classes,
                per_batch,
            }
        } else {
            let mixer = parse_mixer(&r, &[NUM_CLASSES, PER_BATCH])?;
            Mix::one(mixer, num_classes, per_batch)
        };
        mix.validate(index)?;
        Ok(mix)
    }

    /// Checks parameters; `index` is the op's position (for messages).
    pub fn validate(&self, index: usize) -> Result<()> {
        let name = self.name();
        if self.num_classes == 0 {
            return Err(param_err(
                index,
                name,
                "num_classes",
                "must be at least 1".into(),
            ));
        }
        if self.mixers.is_empty() {
            return Err(param_err(
                index,
                name,
                "mixers",
                "needs at least one mixer".into(),
            ));
        }
        let mut sum = 0.0;
        for (m, p) in &self.mixers {
            check_mixer(index, m.name(), m)?;
            keys::mix::P.check(
                &At {
                    index,
                    op: m.name(),
                },
                *p,
            )?;
            sum += p;
        }
        if (sum - 1.0).abs() > 1e-6 {
            return Err(param_err(
                index,
                name,
                "p",
                format!("the mixers' probabilities must sum to 1, got {sum}"),
            ));
        }
        Ok(())
    }

    /// Draws every output sample's partner, mixer, lambda and region.
    /// `ids` are the output samples' (global index, view) in batch order;
    /// `op_pos` the stream position (the number of per-sample ops); `size`
    /// the output size. A pure function of its arguments.
    pub fn draw(
        &self,
        seed: u64,
        epoch: u64,
        op_pos: u32,
        ids: &[(u64, u32)],
        size: Size,
    ) -> Vec<MixRecord> {
        let n = ids.len();
        let batch = batch_hash(ids);
        let partners = random_cycle(
            &mut op_rng(seed, epoch, batch, PERMUTATION_STREAM, op_pos),
            n,
        );
        let shared = self.per_batch.then(|| {
            self.draw_one(
                &mut op_rng(seed, epoch, batch, PER_BATCH_STREAM, op_pos),
                size,
            )
        });
        ids.iter()
            .zip(partners)
            .map(|(&(index, view), j)| {
                let (op, lam, region) = match shared {
                    Some(s) => s,
                    None => self.draw_one(&mut op_rng(seed, epoch, index, view, op_pos), size),
                };
                MixRecord {
                    op,
                    partner: j,
                    partner_index: ids[j].0,
                    partner_view: ids[j].1,
                    lam,
                    region,
                }
            })
            .collect()
    }

    /// One draw: the mixer (when there is a choice), then its parameters.
    fn draw_one(&self, rng: &mut impl Rng, size: Size) -> (MixKind, f64, Option<Region>) {
        // No mixer (a Mix built by hand and never validated): no mixing.
        let Some((last, _)) = self.mixers.last() else {
            return (MixKind::Mixup, 1.0, None);
        };
        let mixer = if self.mixers.len() == 1 {
            last
        } else {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut pick = last;
            for (m, p) in &self.mixers {
                acc += p;
                if u < acc {
                    pick = m;
                    break;
                }
            }
            pick
        };
        let (h, w) = (size.height as i64, size.width as i64);
        let area = (h * w) as f64;
        match mixer {
            Mixer::MixUp { alpha } => (MixKind::Mixup, beta(rng, *alpha), None),
            Mixer::CutMix { alpha } => {
                let lam = beta(rng, *alpha);
                // torchvision's CutMix box: a uniform centre, half-sizes
                // int(0.5 * sqrt(1 - lam) * side), clipped to the image.
                let cx = randint(rng, 0, w - 1);
                let cy = randint(rng, 0, h - 1);
                let r = 0.5 * (1.0 - lam).max(0.0).sqrt();
                let (rw, rh) = ((r * w as f64) as i64, (r * h as f64) as i64);
                let (x1, x2) = ((cx - rw).max(0), (cx + rw).min(w));
                let (y1, y2) = ((cy - rh).max(0), (cy + rh).min(h));
                let region = Region {
                    top: y1 as u32,
                    left: x1 as u32,
                    height: (y2 - y1) as u32,
                    width: (x2 - x1) as u32,
                };
                let lam = 1.0 - ((x2 - x1) * (y2 - y1)) as f64 / area;
                (MixKind::Cutmix, lam, Some(region))
            }
            Mixer::ResizeMix { tau } => {
                let t = uniform(rng, tau[0], tau[1]);
                let ph = ((t * h as f64) as i64).clamp(1, h);
                let pw = ((t * w as f64) as i64).clamp(1, w);
                let top = randint(rng, 0, h - ph);
                let left = randint(rng, 0, w - pw);
                let region = Region {
                    top: top as u32,
                    left: left as u32,
                    height: ph as u32,
                    width: pw as u32,
                };
                (
                    MixKind::Resizemix,
                    1.0 - (ph * pw) as f64 / area,
                    Some(region),
                )
            }
        }
    }
}

/// Beta(alpha, alpha); alpha was validated > 0 (a degenerate value gives 0.5).
fn beta(rng: &mut impl Rng, alpha: f64) -> f64 {
    match Beta::new(alpha, alpha) {
        Ok(b) => b.sample(rng),
        Err(_) => 0.5,
    }
}

/// A random cyclic permutation of 0..n (Sattolo's algorithm): `p[i]` is the
/// partner of i, and no i is its own partner when n > 1.
pub fn random_cycle(rng: &mut impl Rng, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..i);
        order.swap(i, j);
    }
    // `order` is a uniformly random cycle as a sequence; i's partner follows it.
    let mut p = vec![0; n];
    for k in 0..n {
        p[order[k]] = order[(k + 1) % n];
    }
    p
}

/// A 64-bit digest of the batch's (index, view) list: the batch's key for the
/// permutation (SplitMix64 steps, order-sensitive).
fn batch_hash(ids: &[(u64, u32)]) -> u64 {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut h = mix(ids.len() as u64);
    for &(i, v) in ids {
        h = mix(h ^ i);
        h = mix(h ^ v as u64);
    }
    h
}

/// Taps per axis for a resize by `scale` source pixels per output pixel: the
/// core's rule (one bilinear tap up to 2x, then ceil(scale), at most 8).
fn taps(scale: f64) -> u32 {
    if scale <= 2.0 || !scale.is_finite() {
        1
    } else {
        (scale.ceil() as u32).min(crate::codes::MAX_SUPERSAMPLE)
    }
}

/// The kernels' per-sample table for the records of a batch of `size` outputs.
pub(crate) fn plan_mix(records: &[MixRecord], size: Size) -> Vec<GpuMix> {
    records
        .iter()
        .map(|r| {
            let code = match r.op {
                MixKind::Mixup => kind::BLEND,
                MixKind::Cutmix => kind::BOX,
                MixKind::Resizemix => kind::RESIZE,
            };
            let g = r.region.unwrap_or(Region {
                top: 0,
                left: 0,
                height: 0,
                width: 0,
            });
            let (sx, sy) = if g.width > 0 && g.height > 0 {
                (
                    size.width as f64 / g.width as f64,
                    size.height as f64 / g.height as f64,
                )
            } else {
                (1.0, 1.0)
            };
            let resize = r.op == MixKind::Resizemix;
            let resample = if resize && g.width > 0 && g.height > 0 {
                crate::resample::resize(size.width, size.height, g.width, g.height)
                    .unwrap_or_default()
            } else {
                crate::resample::GpuResample::default()
            };
            GpuMix {
                kind: [
                    code,
                    r.partner as u32,
                    if resize { taps(sx) } else { 1 },
                    if resize { taps(sy) } else { 1 },
                ],
                rect: [g.left, g.top, g.width, g.height],
                f: [r.lam as f32, sx as f32, sy as f32, 0.0],
                resample,
            }
        })
        .collect()
}

/// Checks explicit mix records against a batch of `n` outputs of `size`.
pub(crate) fn check_records(records: &[MixRecord], n: usize, size: Size) -> Result<()> {
    if records.len() != n {
        return Err(Error::InvalidArgument(format!(
            "{} mix records for {n} output samples",
            records.len()
        )));
    }
    for (i, r) in records.iter().enumerate() {
        if r.partner >= n {
            return Err(Error::InvalidArgument(format!(
                "mix record {i}: partner {} is outside the batch of {n}",
                r.partner
            )));
        }
        if !(r.lam.is_finite() && (0.0..=1.0).contains(&r.lam)) {
            return Err(Error::InvalidArgument(format!(
                "mix record {i}: lam must be in [0, 1], got {}",
                r.lam
            )));
        }
        match (r.op, r.region) {
            (MixKind::Mixup, _) => {}
            (_, None) => {
                return Err(Error::InvalidArgument(format!(
                    "mix record {i}: {:?} needs a region",
                    r.op
                )))
            }
            (_, Some(g)) => {
                if g.left as u64 + g.width as u64 > size.width as u64
                    || g.top as u64 + g.height as u64 > size.height as u64
                    || (r.op == MixKind::Resizemix && (g.width == 0 || g.height == 0))
                {
                    return Err(Error::InvalidArgument(format!(
                        "mix record {i}: region {g:?} does not fit the {}x{} output",
                        size.width, size.height
                    )));
                }
            }
        }
    }
    Ok(())
}

/// One f64 row per source image, checked: class indices in range, soft rows
/// finite, non-negative and summing to 1 (within 1e-4).
pub(crate) fn label_rows(labels: &Labels, n_images: usize) -> Result<(usize, Vec<f64>)> {
    match *labels {
        Labels::Classes {
            classes,
            num_classes,
        } => {
            if num_classes == 0 {
                return Err(Error::InvalidArgument(
                    "labels: num_classes must be at least 1".into(),
                ));
            }
            if classes.len() != n_images {
                return Err(Error::InvalidArgument(format!(
                    "labels: {} class indices for {n_images} images",
                    classes.len()
                )));
            }
            let mut rows = vec![0.0; n_images * num_classes];
            for (i, &c) in classes.iter().enumerate() {
                if c as usize >= num_classes {
                    return Err(Error::InvalidArgument(format!(
                        "labels: class {c} of image {i} is out of range for num_classes = {num_classes}"
                    )));
                }
                rows[i * num_classes + c as usize] = 1.0;
            }
            Ok((num_classes, rows))
        }
        Labels::Soft { rows, num_classes } => {
            if num_classes == 0 {
                return Err(Error::InvalidArgument(
                    "labels: num_classes must be at least 1".into(),
                ));
            }
            if rows.len() != n_images * num_classes {
                return Err(Error::InvalidArgument(format!(
                    "labels: {} values for {n_images} images of {num_classes} classes (expected {})",
                    rows.len(),
                    n_images * num_classes
                )));
            }
            for (i, row) in rows.chunks_exact(num_classes).enumerate() {
                if row.iter().any(|x| !x.is_finite() || *x < 0.0) {
                    return Err(Error::InvalidArgument(format!(
                        "labels: row {i} has a negative or non-finite value"
                    )));
                }
                let s: f64 = row.iter().map(|&x| x as f64).sum();
                if (s - 1.0).abs() > 1e-4 {
                    return Err(Error::InvalidArgument(format!(
                        "labels: row {i} sums to {s}, not 1"
                    )));
                }
            }
            Ok((num_classes, rows.iter().map(|&x| x as f64).collect()))
        }
    }
}

/// The output labels: each source row repeated for its views, then mixed as
/// lam * y_i + (1 - lam) * y_partner.
pub(crate) fn output_labels(
    num_classes: usize,
    rows: &[f64],
    views: usize,
    mix: Option<&[MixRecord]>,
) -> SoftLabels {
    let k = num_classes;
    let src = |o: usize| &rows[(o / views) * k..(o / views + 1) * k];
    let n = rows.len() / k * views;
    let mut data = Vec::with_capacity(n * k);
    for o in 0..n {
        match mix {
            Some(m) => {
                let (lam, j) = (m[o].lam, m[o].partner);
                for (a, b) in src(o).iter().zip(src(j)) {
                    data.push((lam * a + (1.0 - lam) * b) as f32);
                }
            }
            None => data.extend(src(o).iter().map(|&x| x as f32)),
        }
    }
    SoftLabels {
        num_classes: k,
        data,
    }
}

/// rotation_label's joint labels (Self-supervised Label Augmentation): output
/// `o` (view `o % views` of source row `o / views`, rotated by `ks[o]`) gets
/// a row of `num_classes * 4` values, value `c * 4 + k` being the source's
/// value for class `c`. Mixing (`output_labels` on these rows, one per
/// output) then blends the joint rows of the two partners.
pub(crate) fn rotation_joint_rows(
    num_classes: usize,
    rows: &[f64],
    views: usize,
    ks: &[u32],
) -> Vec<f64> {
    let nc = num_classes;
    let mut out = vec![0.0; ks.len() * nc * 4];
    for (o, &k) in ks.iter().enumerate() {
        let src = &rows[(o / views) * nc..(o / views + 1) * nc];
        for (c, &v) in src.iter().enumerate() {
            out[o * nc * 4 + c * 4 + k as usize % 4] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn random_cycle_is_one_cycle() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for n in [1usize, 2, 3, 10, 64] {
            let p = random_cycle(&mut rng, n);
            let (mut i, mut steps) = (0, 0);
            loop {
                i = p[i];
                steps += 1;
                if i == 0 {
                    break;
                }
            }
            assert_eq!(steps, n, "one cycle through all {n}");
        }
    }

    #[test]
    fn taps_follow_the_core_rule() {
        assert_eq!(taps(1.0), 1);
        assert_eq!(taps(2.0), 1);
        assert_eq!(taps(2.1), 3);
        assert_eq!(taps(50.0), 8);
    }
}
