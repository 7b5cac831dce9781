//! Keys of randomness: every drawn number is a pure function of
//! (seed, epoch, sample index, view, op position).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Where a batch sits in the stream of samples: the run's seed, the epoch and
/// the global index of the batch's first sample. Sample `i` of the batch has
/// index `first_index + i`, so its result does not depend on how the stream
/// is cut into batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BatchKey {
    /// The run's seed.
    pub seed: u64,
    /// The epoch.
    pub epoch: u64,
    /// Global index of the batch's first sample.
    pub first_index: u64,
}

impl BatchKey {
    /// A key for a batch.
    pub fn new(seed: u64, epoch: u64, first_index: u64) -> Self {
        Self {
            seed,
            epoch,
            first_index,
        }
    }
}

/// The generator for one op of one sample. ChaCha8 is a keyed PRF: the key is
/// the whole tuple, so streams of different samples or ops never overlap and
/// no state carries from one sample to the next.
pub fn op_rng(seed: u64, epoch: u64, index: u64, view: u32, op_pos: u32) -> ChaCha8Rng {
    let mut s = [0u8; 32];
    s[0..8].copy_from_slice(&seed.to_le_bytes());
    s[8..16].copy_from_slice(&epoch.to_le_bytes());
    s[16..24].copy_from_slice(&index.to_le_bytes());
    s[24..28].copy_from_slice(&view.to_le_bytes());
    s[28..32].copy_from_slice(&op_pos.to_le_bytes());
    ChaCha8Rng::from_seed(s)
}

/// U(lo, hi) in f64 without panicking on an empty range (lo == hi gives lo).
pub fn uniform(rng: &mut impl rand::Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// A uniform integer in [lo, hi] inclusive (torchvision's `randint(lo, hi + 1)`).
pub fn randint(rng: &mut impl rand::Rng, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}
