//! Kernel Inception Distance (Bińkowski et al., "Demystifying MMD GANs", ICLR 2018): the unbiased
//! estimate of the squared MMD with the cubic polynomial kernel `k(x, y) = (xᵀy / d + 1)³`,
//! averaged over random subsets, as StyleGAN2-ADA's and clean-fid's `kernel_distance` compute it:
//!
//! ```text
//! per subset of m fakes X and m reals Y:
//! MMD²ᵤ = [Σ_{i≠j} k(xᵢ, xⱼ) + Σ_{i≠j} k(yᵢ, yⱼ)] / (m(m − 1)) − 2 Σ_{i,j} k(xᵢ, yⱼ) / m²
//! ```
//!
//! Defaults: 100 subsets of 1000 (m is capped at the smaller set's size), drawn without
//! replacement by gantry's seeded generator. Reported: the mean over subsets and their standard
//! deviation. Gram matrices are computed in f32 (as the references do), kernels and sums in f64.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::{MetricError, Result};

/// KID's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KidConfig {
    /// The number of random subsets to average over (default 100).
    pub subsets: usize,
    /// Samples drawn from each set per subset (default 1000), capped at the smaller set's size.
    pub subset_size: usize,
    /// Seed of the generator that draws the subsets (default 0).
    pub seed: u64,
}

impl Default for KidConfig {
    fn default() -> Self {
        Self { subsets: 100, subset_size: 1000, seed: 0 }
    }
}

/// KID's mean and standard deviation over subsets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Kid {
    /// Mean of the per-subset unbiased MMD² estimates; can be slightly negative for close sets.
    pub mean: f64,
    /// Population standard deviation of the per-subset estimates.
    pub std: f64,
    /// The subset size used (m).
    pub subset_size: usize,
    /// The number of subsets averaged over.
    pub subsets: usize,
}

/// `m` distinct indices of `0..n` (partial Fisher–Yates).
fn choose(rng: &mut ChaCha8Rng, n: usize, m: usize) -> Tensor {
    let mut idx: Vec<i64> = (0..n as i64).collect();
    for i in 0..m {
        let j = rng.random_range(i..n);
        idx.swap(i, j);
    }
    Tensor::from_slice(&idx[..m])
}

/// The unbiased MMD² between feature sets `x` `[m, d]` and `y` `[m, d]` (one subset).
pub fn mmd2_unbiased(x: &Tensor, y: &Tensor) -> f64 {
    let (m, d) = (x.size()[0] as f64, x.size()[1] as f64);
    let k = |a: &Tensor, b: &Tensor| (a.matmul(&b.tr()).to_kind(Kind::Double) / d + 1.0).pow_tensor_scalar(3);
    let (kxx, kyy, kxy) = (k(x, x), k(y, y), k(x, y));
    let off_diag = |g: &Tensor| g.sum(Kind::Double).double_value(&[]) - g.trace().double_value(&[]);
    (off_diag(&kxx) + off_diag(&kyy)) / (m * (m - 1.0))
        - 2.0 * kxy.sum(Kind::Double).double_value(&[]) / (m * m)
}

/// KID between real features `[N, d]` and fake features `[M, d]`.
pub fn kid(real: &Tensor, fake: &Tensor, cfg: &KidConfig) -> Result<Kid> {
    let (n, m) = (real.size()[0] as usize, fake.size()[0] as usize);
    if real.size()[1] != fake.size()[1] {
        return Err(MetricError::Dims { a: real.size()[1], b: fake.size()[1] });
    }
    let size = cfg.subset_size.min(n).min(m);
    if size < 2 || cfg.subsets == 0 {
        return Err(MetricError::TooFew {
            what: "KID (per set, and at least one subset)".into(),
            need: 2,
            found: size,
        });
    }
    let (real, fake) = (real.to_kind(Kind::Float), fake.to_kind(Kind::Float));
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let values: Vec<f64> = (0..cfg.subsets)
        .map(|_| {
            let x = fake.index_select(0, &choose(&mut rng, m, size).to_device(fake.device()));
            let y = real.index_select(0, &choose(&mut rng, n, size).to_device(real.device()));
            mmd2_unbiased(&x, &y)
        })
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
    Ok(Kid { mean, std, subset_size: size, subsets: cfg.subsets })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauss(n: i64, d: i64, shift: f64, seed: i64) -> Tensor {
        // Deterministic pseudo-Gaussian features without libtorch's global generator.
        let i = Tensor::arange(n * d, (Kind::Double, tch::Device::Cpu)).reshape([n, d]);
        ((&i * 0.7548776662 + seed as f64 * 0.1).frac() - 0.5) * 3.0 + shift
    }

    #[test]
    fn kid_of_a_set_with_itself_is_near_zero_and_shifts_raise_it() {
        let a = gauss(400, 16, 0.0, 1);
        let same = kid(&a, &a, &KidConfig { subsets: 20, subset_size: 200, seed: 3 }).unwrap();
        assert!(same.mean.abs() < 3.0 * same.std.max(1e-6), "{same:?}");
        let far =
            kid(&a, &gauss(400, 16, 1.0, 2), &KidConfig { subsets: 20, subset_size: 200, seed: 3 }).unwrap();
        assert!(far.mean > 20.0 * same.mean.abs().max(1e-4), "{far:?} vs {same:?}");
        assert_eq!(far.subset_size, 200);
    }

    #[test]
    fn full_set_kid_is_deterministic_and_matches_the_formula() {
        let (x, y) = (gauss(5, 3, 0.0, 1), gauss(5, 3, 0.3, 2));
        let k = kid(&y, &x, &KidConfig { subsets: 1, subset_size: 10, seed: 9 }).unwrap();
        // By hand: the same sums over all pairs.
        let kern = |a: &Tensor, b: &Tensor| (a.matmul(&b.tr()) / 3.0 + 1.0).pow_tensor_scalar(3);
        let off = |g: Tensor| g.sum(Kind::Double).double_value(&[]) - g.trace().double_value(&[]);
        let want = (off(kern(&x, &x)) + off(kern(&y, &y))) / 20.0
            - 2.0 * kern(&x, &y).sum(Kind::Double).double_value(&[]) / 25.0;
        assert!((k.mean - want).abs() < 1e-5 * want.abs().max(1e-3), "{} vs {want}", k.mean);
        assert_eq!(k.std, 0.0);
        assert!(kid(&x, &gauss(5, 4, 0.0, 1), &KidConfig::default()).is_err());
    }
}
