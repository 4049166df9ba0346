//! The image pool of CycleGAN (Zhu et al. 2017, §4; Shrivastava et al. 2017): D is updated on a
//! history of generated images rather than only the latest, which "reduces model oscillation".
//! As the authors' `ImagePool.query`, image by image:
//!
//! ```text
//! while the pool holds fewer than `size` images: store the image, return it
//! then, with probability ½: return a uniformly chosen stored image and store the new one in its
//!                            place; otherwise return the new image
//! ```
//!
//! The pool's images and count live in `VarStore` variables (`images`, `count`), so a checkpoint
//! holds them; its coin flips and choices are drawn from libtorch's generator (seeded per step by
//! gantry's loop), so a resumed run draws what an uninterrupted one would. They are drawn as
//! scalars through `gantry_core::parallel` (the same on every rank; replayed by the training-parity
//! test from the authors' recorded `random.uniform`/`random.randint`).

use gantry_core::parallel;
use tch::{nn, Device, Kind, Tensor};

/// A pool of up to `size` images `[C, H, W]`.
#[derive(Debug)]
pub struct ImagePool {
    size: i64,
    images: Tensor,
    count: Tensor,
}

impl ImagePool {
    /// An empty pool on `p` for images `[channels, side, side]` (`size` = 0: no pool, `query`
    /// returns its input).
    pub fn new(p: nn::Path, size: i64, [channels, side]: [i64; 2]) -> Self {
        let images = p.zeros_no_train("images", &[size.max(0), channels, side, side]);
        let count = p.zeros_no_train("count", &[]);
        Self { size, images, count }
    }

    /// Images stored so far.
    pub fn len(&self) -> i64 {
        self.count.to_device(Device::Cpu).double_value(&[]) as i64
    }

    /// Whether it holds no image yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What D sees for the generated batch `x` `[N, C, H, W]` (detached; see the module docs).
    pub fn query(&self, x: &Tensor) -> Tensor {
        let x = x.detach();
        if self.size == 0 {
            return x;
        }
        tch::no_grad(|| {
            let mut n = self.len();
            let mut out = Vec::with_capacity(x.size()[0] as usize);
            for image in x.split(1, 0) {
                if n < self.size {
                    self.images.narrow(0, n, 1).copy_(&image);
                    n += 1;
                    out.push(image);
                } else if parallel::rand(&[], (Kind::Float, Device::Cpu)).double_value(&[]) > 0.5 {
                    let id = parallel::randint(self.size, &[], (Kind::Int64, Device::Cpu)).int64_value(&[]);
                    let mut slot = self.images.narrow(0, id, 1);
                    out.push(slot.copy());
                    slot.copy_(&image);
                } else {
                    out.push(image);
                }
            }
            let _ = self.count.shallow_clone().fill_(n);
            Tensor::cat(&out, 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(values: &[f32]) -> Tensor {
        Tensor::from_slice(values).view([-1, 1, 1, 1])
    }

    #[test]
    fn fills_then_swaps_half_the_time() {
        let _generator = crate::generator_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let pool = ImagePool::new(vs.root(), 4, [1, 1]);
        tch::manual_seed(0);
        // Filling: every image comes back as it is and is stored.
        assert!(pool.query(&batch(&[1.0, 2.0, 3.0])).equal(&batch(&[1.0, 2.0, 3.0])));
        assert!(pool.query(&batch(&[4.0, 5.0])).equal(&batch(&[4.0, 5.0])), "the 5th finds the pool full");
        assert_eq!(pool.len(), 4);
        // Full: over many queries about half return an older image, which the new one replaces.
        let (mut swapped, mut total) = (0, 0);
        for k in 0..400 {
            let v = 100.0 + k as f32;
            let before: Vec<f32> = Vec::try_from(pool.images.flatten(0, -1)).unwrap();
            let got = pool.query(&batch(&[v])).double_value(&[0, 0, 0, 0]) as f32;
            let after: Vec<f32> = Vec::try_from(pool.images.flatten(0, -1)).unwrap();
            total += 1;
            if got != v {
                swapped += 1;
                assert!(
                    before.contains(&got) && after.contains(&v) && !after.contains(&got),
                    "a swap returns a stored image and stores the new one"
                );
            } else {
                assert_eq!(before, after, "a pass-through leaves the pool");
            }
        }
        assert!((150..250).contains(&swapped), "{swapped} of {total} swapped");
        // The same seed draws the same choices.
        let vs2 = nn::VarStore::new(Device::Cpu);
        let p2 = ImagePool::new(vs2.root(), 2, [1, 1]);
        let run = |p: &ImagePool| -> Vec<f32> {
            tch::manual_seed(5);
            (0..20).map(|k| p.query(&batch(&[k as f32])).double_value(&[0, 0, 0, 0]) as f32).collect()
        };
        let first = run(&p2);
        let vs3 = nn::VarStore::new(Device::Cpu);
        assert_eq!(first, run(&ImagePool::new(vs3.root(), 2, [1, 1])));
        // No pool: the input itself.
        let vs4 = nn::VarStore::new(Device::Cpu);
        assert!(ImagePool::new(vs4.root(), 0, [1, 1]).query(&batch(&[7.0])).equal(&batch(&[7.0])));
    }
}
