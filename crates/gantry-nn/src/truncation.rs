//! The truncation trick: trading variety for typicality at sampling time.
//!
//! - **Truncated normal** (Brock, Donahue & Simonyan, "Large Scale GAN Training", ICLR 2019, §3.1):
//!   each latent coordinate is drawn from N(0, 1) and re-drawn while `|z| > τ`. Small τ gives
//!   typical, less varied samples; τ → ∞ is the untruncated prior.
//! - **Shrinking towards the mean** (Karras et al., "A Style-Based Generator Architecture", CVPR
//!   2019, §B; in W for StyleGAN): `w' = w̄ + ψ·(w − w̄)`. ψ = 1 is the identity, ψ = 0 gives the
//!   mean image. For a generator without a mapping network, w̄ is the prior's mean 0 and this is
//!   `ψ·z`.

use tch::Tensor;

/// One draw of N(0, 1) truncated to [−τ, τ] by rejection, from a source of N(0, 1) draws.
/// τ must be > 0 (τ = ∞ accepts the first draw).
pub fn truncated_normal(tau: f64, mut standard_normal: impl FnMut() -> f64) -> f64 {
    assert!(tau > 0.0, "truncation threshold must be > 0, found {tau}");
    loop {
        let z = standard_normal();
        if z.abs() <= tau {
            return z;
        }
    }
}

/// `w̄ + ψ·(w − w̄)` for `w` `[N, D]` (or any shape broadcasting with `w_avg`).
pub fn shrink(w: &Tensor, w_avg: &Tensor, psi: f64) -> Tensor {
    w_avg + (w - w_avg) * psi
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn normal(rng: &mut rand_chacha::ChaCha8Rng) -> f64 {
        let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    #[test]
    fn truncated_draws_stay_inside_and_have_the_truncated_variance() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let tau = 1.0;
        let draws: Vec<f64> = (0..200_000).map(|_| truncated_normal(tau, || normal(&mut rng))).collect();
        assert!(draws.iter().all(|z| z.abs() <= tau));
        // Var of N(0,1) truncated to [−1, 1]: 1 − 2φ(1)/(2Φ(1) − 1) = 0.29112.
        let var = draws.iter().map(|z| z * z).sum::<f64>() / draws.len() as f64;
        assert!((var - 0.29112).abs() < 0.003, "{var}");
    }

    #[test]
    fn shrink_interpolates_towards_the_mean() {
        let w = Tensor::from_slice(&[2.0f32, -4.0]).reshape([1, 2]);
        let avg = Tensor::from_slice(&[1.0f32, 0.0]);
        let v: Vec<f32> = Vec::try_from(shrink(&w, &avg, 0.5).flatten(0, -1)).unwrap();
        assert_eq!(v, vec![1.5, -2.0]);
        assert!(shrink(&w, &avg, 1.0).equal(&w));
    }
}
