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

/// FNV-1a, 32 bits, over `bytes`: the stable hash behind [`view_key`]
/// (offset basis 0x811c9dc5, prime 0x01000193).
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The key id of copy `k` of the named view `name`: FNV-1a (32 bits) over
/// the bytes of `name` followed by the 4 little-endian bytes of `k`. It is
/// the `view` argument of [`op_rng`] for every op of that view, so a named
/// view's draws depend on its name and copy alone, never on which other
/// views a file declares or in what order. A single pipeline run with
/// `Request::view_keys(&[view_key(name, 0), ..])` draws exactly what the
/// named view draws.
pub fn view_key(name: &str, k: u32) -> u32 {
    let mut bytes = Vec::with_capacity(name.len() + 4);
    bytes.extend_from_slice(name.as_bytes());
    bytes.extend_from_slice(&k.to_le_bytes());
    fnv1a32(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a32_matches_the_published_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn view_keys_are_pinned() {
        // Computed independently (Python: FNV-1a over name + struct.pack("<I", k)).
        // Changing these changes every named view's draws: a format break.
        assert_eq!(view_key("global", 0), 0x467c_438e);
        assert_eq!(view_key("global", 1), 0x96a8_829f);
        assert_eq!(view_key("local", 0), 0x2c34_cf88);
        assert_eq!(view_key("weak", 0), 0xf38e_9259);
    }
}
