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
    /// The epoch this batch belongs to (0-based): global batch `k` lies in epoch
    /// `k / batches_per_epoch`.
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
    /// Random jitter: resize to this size, then crop back at a random place (0 = off).
    jitter: i64,
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
        Ok(Self { n, batch_size, last, seed, hflip, jitter: 0, cache: None })
    }

    /// Random jitter as pix2pix's: each image is resized (bicubic) to `size`×`size` and cropped
    /// back to its own size at a uniformly random place; 0 turns it off.
    pub fn with_jitter(mut self, size: i64) -> Self {
        self.jitter = size;
        self
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

    /// Global batch `k` of `ds`, scaled to [-1, 1] on `device`, jittered and flipped if enabled.
    pub fn batch(&mut self, ds: &ImageDataset, k: u64, device: Device) -> Batch {
        let (mut images, labels, epoch, index) = self.batch_aligned(&[ds], k, device);
        Batch { images: images.remove(0), labels, epoch, index }
    }

    /// Global batch `k` of each of `datasets` (aligned: example i of one is example i of the
    /// others, as the two halves of paired data), with the same flips and crops for all, and the
    /// first dataset's labels: (images per dataset, labels, epoch, index within the epoch).
    pub fn batch_aligned(
        &mut self,
        datasets: &[&ImageDataset],
        k: u64,
        device: Device,
    ) -> (Vec<Tensor>, Option<Tensor>, u64, u64) {
        let (epoch, index, idx) = self.indices(k);
        let idx_t = Tensor::from_slice(&idx);
        let n = idx.len();
        let crops = (self.jitter > 0).then(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(self.seed, "jitter", k));
            let size = datasets[0].image_shape()[1];
            let room = (self.jitter - size).max(0);
            (0..n).map(|_| (rng.random_range(0..=room), rng.random_range(0..=room))).collect::<Vec<_>>()
        });
        let mask = self.hflip.then(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(self.seed, "hflip", k));
            let coins: Vec<bool> = (0..n).map(|_| rng.random::<bool>()).collect();
            Tensor::from_slice(&coins).to_device(device).view([-1, 1, 1, 1])
        });
        let images = datasets
            .iter()
            .map(|ds| {
                let mut images =
                    gantry_core::image::from_u8(&ds.images.index_select(0, &idx_t).to_device(device));
                if let Some(crops) = &crops {
                    images = jitter(&images, self.jitter, crops);
                }
                if let Some(mask) = &mask {
                    images = images.flip([3]).where_self(mask, &images);
                }
                images
            })
            .collect();
        let labels = datasets[0].labels.as_ref().map(|l| l.index_select(0, &idx_t).to_device(device));
        (images, labels, epoch, index)
    }
}

/// Images `[N, C, H, W]` resized (bicubic, clamped to [−1, 1]) to `size`×`size`, each cropped
/// back to H×W at its offset (y, x).
fn jitter(images: &Tensor, size: i64, crops: &[(i64, i64)]) -> Tensor {
    let s = images.size();
    let (h, w) = (s[2], s[3]);
    let big = images.upsample_bicubic2d([size, size], false, None, None).clamp(-1.0, 1.0);
    let parts: Vec<Tensor> = crops
        .iter()
        .enumerate()
        .map(|(i, &(y, x))| big.narrow(0, i as i64, 1).narrow(2, y, h).narrow(3, x, w))
        .collect();
    Tensor::cat(&parts, 0)
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

    /// Paired halves get the same flips and the same crops; jitter keeps the size, moves the
    /// content, and replays by (seed, k).
    #[test]
    fn aligned_batches_share_flips_and_crops() {
        let n = 16;
        // A: a horizontal ramp; B: the same ramp (so equal transforms keep them equal).
        let ramp: Vec<u8> = (0..n).flat_map(|_| (0..64u32).map(|i| (i * 4 % 256) as u8)).collect();
        let a = ImageDataset::from_pixels("a", ramp.clone(), [n, 1, 8, 8], None, vec![]).unwrap();
        let b = ImageDataset::from_pixels("b", ramp, [n, 1, 8, 8], None, vec![]).unwrap();
        let mut bt = Batcher::new(n, 4, LastBatch::Drop, 3, true).unwrap().with_jitter(12);
        let mut moved = 0;
        for k in 0..8 {
            let (x, _, _, _) = bt.batch_aligned(&[&a, &b], k, Device::Cpu);
            assert_eq!(x[0].size(), vec![4, 1, 8, 8]);
            assert!(x[0].equal(&x[1]), "batch {k}: the halves were transformed differently");
            let plain = gantry_core::image::from_u8(&a.images.narrow(0, 0, 4));
            moved += usize::from(!x[0].allclose(&plain, 1e-3, 1e-3, false));
            let again = Batcher::new(n, 4, LastBatch::Drop, 3, true).unwrap().with_jitter(12).batch_aligned(
                &[&a, &b],
                k,
                Device::Cpu,
            );
            assert!(again.0[0].equal(&x[0]), "batch {k} does not replay");
            assert!(x[0].max().double_value(&[]) <= 1.0 && x[0].min().double_value(&[]) >= -1.0);
        }
        assert!(moved >= 6, "jitter left {} of 8 batches unchanged", 8 - moved);
    }
}
