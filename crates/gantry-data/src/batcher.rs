//! Reproducible minibatches: every example exactly once per epoch, in an order derived from
//! (run seed, epoch) alone, so batch `k` of a run is the same whether the run was resumed or not.

use gantry_core::device::derive_seed;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::dataset::ImageDataset;
use crate::{DataError, Result};

/// What to do with the examples left over when the dataset size is not a multiple of the batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LastBatch {
    /// Drop them (every batch is full; GAN training's usual choice, as BatchNorm dislikes tiny batches).
    #[default]
    Drop,
    /// Yield a smaller last batch.
    Keep,
}

/// One minibatch.
#[derive(Debug)]
pub struct Batch {
    /// Float `[B, C, H, W]` in [-1, 1] on the requested device.
    pub images: Tensor,
    /// i64 `[B]`, when the dataset is labelled.
    pub labels: Option<Tensor>,
    pub epoch: u64,
    /// Position of this batch within its epoch.
    pub index: u64,
}

/// Draws batches `0, 1, 2, …` over epochs of a dataset of `n` examples.
#[derive(Debug)]
pub struct Batcher {
    n: usize,
    batch_size: usize,
    last: LastBatch,
    seed: u64,
    hflip: bool,
    cache: Option<(u64, Vec<i64>)>,
}

impl Batcher {
    /// `hflip`: flip each image left-right with probability ½ (off for digits, whose mirror image is
    /// not a digit).
    pub fn new(n: usize, batch_size: usize, last: LastBatch, seed: u64, hflip: bool) -> Result<Self> {
        if batch_size == 0 {
            return Err(DataError::Spec("batch_size must be at least 1".into()));
        }
        if n == 0 || (last == LastBatch::Drop && n < batch_size) {
            return Err(DataError::Spec(format!(
                "the dataset has {n} examples, fewer than one batch of {batch_size} (lower batch_size or use last_batch = \"keep\")"
            )));
        }
        Ok(Self { n, batch_size, last, seed, hflip, cache: None })
    }

    /// Batches in one epoch.
    pub fn batches_per_epoch(&self) -> u64 {
        match self.last {
            LastBatch::Drop => (self.n / self.batch_size) as u64,
            LastBatch::Keep => self.n.div_ceil(self.batch_size) as u64,
        }
    }

    /// The permutation of `0..n` used in `epoch` (Fisher–Yates with a generator seeded from
    /// (run seed, epoch)).
    pub fn order(&self, epoch: u64) -> Vec<i64> {
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(self.seed, "data-order", epoch));
        let mut order: Vec<i64> = (0..self.n as i64).collect();
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        order
    }

    /// (epoch, index within the epoch, dataset indices) of global batch `k`.
    pub fn indices(&mut self, k: u64) -> (u64, u64, Vec<i64>) {
        let bpe = self.batches_per_epoch();
        let (epoch, i) = (k / bpe, k % bpe);
        if self.cache.as_ref().is_none_or(|(e, _)| *e != epoch) {
            self.cache = Some((epoch, self.order(epoch)));
        }
        let order = &self.cache.as_ref().expect("just set").1;
        let start = i as usize * self.batch_size;
        let end = (start + self.batch_size).min(self.n);
        (epoch, i, order[start..end].to_vec())
    }

    /// Global batch `k` of `ds`, scaled to [-1, 1] on `device`, flipped if enabled.
    pub fn batch(&mut self, ds: &ImageDataset, k: u64, device: Device) -> Batch {
        let (epoch, index, idx) = self.indices(k);
        let idx_t = Tensor::from_slice(&idx);
        let mut images = gantry_core::image::from_u8(&ds.images.index_select(0, &idx_t).to_device(device));
        if self.hflip {
            let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(self.seed, "hflip", k));
            let coins: Vec<bool> = (0..idx.len()).map(|_| rng.random::<bool>()).collect();
            let mask = Tensor::from_slice(&coins).to_device(device).view([-1, 1, 1, 1]);
            images = images.flip([3]).where_self(&mask, &images);
        }
        let labels = ds.labels.as_ref().map(|l| l.index_select(0, &idx_t).to_device(device));
        Batch { images, labels, epoch, index }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_example_once_per_epoch(n in 1usize..200, b in 1usize..50, seed in any::<u64>(), keep in any::<bool>()) {
            let last = if keep { LastBatch::Keep } else { LastBatch::Drop };
            prop_assume!(keep || n >= b);
            let mut bt = Batcher::new(n, b, last, seed, false).unwrap();
            let bpe = bt.batches_per_epoch();
            for epoch in 0..2u64 {
                let mut seen = Vec::new();
                for i in 0..bpe {
                    let (e, _, idx) = bt.indices(epoch * bpe + i);
                    prop_assert_eq!(e, epoch);
                    prop_assert!(idx.len() == b || (keep && i == bpe - 1));
                    seen.extend(idx);
                }
                seen.sort();
                seen.dedup();
                let expect = if keep { n } else { (n / b) * b };
                prop_assert_eq!(seen.len(), expect);
            }
        }
    }

    #[test]
    fn order_depends_on_seed_and_epoch_only() {
        let a = Batcher::new(100, 10, LastBatch::Drop, 5, false).unwrap();
        let b = Batcher::new(100, 10, LastBatch::Drop, 5, false).unwrap();
        assert_eq!(a.order(3), b.order(3));
        assert_ne!(a.order(3), a.order(4));
        assert_ne!(a.order(3), Batcher::new(100, 10, LastBatch::Drop, 6, false).unwrap().order(3));
        let mut c = Batcher::new(100, 10, LastBatch::Drop, 5, false).unwrap();
        // Jumping straight to batch 25 (epoch 2) gives what sequential iteration gives.
        let direct = c.indices(25).2;
        let mut d = Batcher::new(100, 10, LastBatch::Drop, 5, false).unwrap();
        let seq = (0..=25).map(|k| d.indices(k).2).last().unwrap();
        assert_eq!(direct, seq);
    }

    #[test]
    fn scales_and_flips() {
        // 4 images 1x1x2: pixel values (0, 255), labels 0..3.
        let ds = ImageDataset::from_pixels(
            "t",
            [0u8, 255].repeat(4),
            [4, 1, 1, 2],
            Some(vec![0, 1, 2, 3]),
            vec![],
        )
        .unwrap();
        let mut plain = Batcher::new(4, 4, LastBatch::Drop, 1, false).unwrap();
        let b = plain.batch(&ds, 0, Device::Cpu);
        assert_eq!(b.images.size(), vec![4, 1, 1, 2]);
        assert_eq!(b.images.double_value(&[0, 0, 0, 0]), -1.0);
        assert_eq!(b.images.double_value(&[0, 0, 0, 1]), 1.0);
        let mut flip = Batcher::new(4, 4, LastBatch::Drop, 1, true).unwrap();
        let flips: usize = (0..20)
            .map(|k| {
                let x = flip.batch(&ds, k, Device::Cpu).images;
                (0..4).filter(|&i| x.double_value(&[i, 0, 0, 0]) == 1.0).count()
            })
            .sum();
        assert!((20..60).contains(&flips), "{flips} of 80 flipped");
        assert!(Batcher::new(3, 4, LastBatch::Drop, 0, false)
            .unwrap_err()
            .to_string()
            .contains("fewer than one batch"));
    }
}
