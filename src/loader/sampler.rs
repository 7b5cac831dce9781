//! Which dataset items a rank takes in an epoch, and how they are cut into
//! batches: PyTorch's `DistributedSampler` followed by a `DataLoader`'s
//! batching, with the permutation drawn from our own keyed generator.

use crate::key::op_rng;
use rand::Rng;

/// Marker in the `view` slot of [`op_rng`] for the epoch permutation (no
/// sample view and no mixing stream reaches it; its sample index `u64::MAX`
/// is no dataset index either).
const SHUFFLE_STREAM: u32 = u32::MAX - 2;

/// The epoch's order of all `n` items: the identity, or with `shuffle` a
/// uniform permutation (Fisher-Yates) keyed on (seed, epoch) alone.
pub fn epoch_order(n: usize, seed: u64, epoch: u64, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle && n > 1 {
        let mut rng = op_rng(seed, epoch, u64::MAX, SHUFFLE_STREAM, u32::MAX);
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
    }
    order
}

/// What sharding does with the items that do not divide evenly among ranks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ShardTail {
    /// Pad the order by wrapping round to a multiple of the world size, so
    /// every rank gets the same count and a few items appear twice in the
    /// epoch: `DistributedSampler(drop_last=False)`, PyTorch's default.
    #[default]
    Pad,
    /// Drop the tail, so every rank gets the same count and some items are
    /// left out of the epoch: `DistributedSampler(drop_last=True)`.
    Drop,
    /// Neither: every item exactly once, the first `len % world` ranks one
    /// item more (for offline processing; ranks of a training job that step
    /// together need `Pad` or `Drop`).
    Uneven,
}

/// This rank's items, as `DistributedSampler(num_replicas=world, rank)`
/// takes them from `order` (the tail handled as `tail` says): rank `r` takes
/// positions `r, r + world, r + 2 * world, ...` of the (padded) order.
pub fn shard(order: &[usize], rank: usize, world: usize, tail: ShardTail) -> Vec<usize> {
    let world = world.max(1);
    let n = order.len();
    if n == 0 || rank >= world {
        return Vec::new();
    }
    let per_rank = match tail {
        ShardTail::Drop => n / world,
        ShardTail::Pad => n.div_ceil(world),
        ShardTail::Uneven => n.saturating_sub(rank).div_ceil(world),
    };
    // Position p of the padded order is order[p % n] (padding wraps round).
    (0..per_rank)
        .map(|k| order[(rank + k * world) % n])
        .collect()
}

/// This rank's batches of an epoch: consecutive runs of `batch_size` items;
/// with `drop_last` the last, shorter run is dropped.
pub fn batches(items: &[usize], batch_size: usize, drop_last: bool) -> Vec<Vec<usize>> {
    let bs = batch_size.max(1);
    items
        .chunks(bs)
        .filter(|c| !drop_last || c.len() == bs)
        .map(<[usize]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_permutation_keyed_on_seed_and_epoch() {
        let a = epoch_order(1000, 1, 0, true);
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..1000).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(1000, 1, 0, true));
        assert_ne!(a, epoch_order(1000, 1, 1, true));
        assert_ne!(a, epoch_order(1000, 2, 0, true));
        assert_eq!(epoch_order(5, 1, 0, false), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn shards_follow_distributed_sampler() {
        // torch: DistributedSampler(range(10), num_replicas=3, shuffle=False)
        // pads to 12 with [0, 1]: rank 0 -> [0, 3, 6, 9], rank 1 -> [1, 4, 7, 0],
        // rank 2 -> [2, 5, 8, 1]; with drop_last: 9 items, [0, 3, 6], [1, 4, 7], [2, 5, 8].
        let order: Vec<usize> = (0..10).collect();
        use ShardTail::*;
        assert_eq!(shard(&order, 0, 3, Pad), vec![0, 3, 6, 9]);
        assert_eq!(shard(&order, 1, 3, Pad), vec![1, 4, 7, 0]);
        assert_eq!(shard(&order, 2, 3, Pad), vec![2, 5, 8, 1]);
        assert_eq!(shard(&order, 0, 3, Drop), vec![0, 3, 6]);
        assert_eq!(shard(&order, 2, 3, Drop), vec![2, 5, 8]);
        assert_eq!(shard(&order, 0, 3, Uneven), vec![0, 3, 6, 9]);
        assert_eq!(shard(&order, 1, 3, Uneven), vec![1, 4, 7]);
        assert_eq!(shard(&order, 2, 3, Uneven), vec![2, 5, 8]);
        // More ranks than items: padding wraps round more than once.
        let two = [7usize, 9];
        assert_eq!(shard(&two, 4, 5, Pad), vec![7]);
        assert_eq!(shard(&two, 3, 5, Pad), vec![9]);
        assert!(shard(&two, 0, 5, Drop).is_empty());
        assert!(shard(&two, 3, 5, Uneven).is_empty());
        assert_eq!(shard(&two, 1, 5, Uneven), vec![9]);
        assert_eq!(shard(&order, 0, 1, Pad), order);
    }

    #[test]
    fn batching_and_drop_last() {
        let items: Vec<usize> = (0..10).collect();
        assert_eq!(batches(&items, 4, false).len(), 3);
        assert_eq!(batches(&items, 4, true).len(), 2);
        assert_eq!(batches(&items, 4, false)[2], vec![8, 9]);
        assert_eq!(batches(&items, 5, true).len(), 2);
    }
}
