//! Latents from gantry's own seeded generator (never libtorch's, whose state cannot be saved): the
//! same (seed, stream) gives the same latents on every machine and in every process.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

use crate::device::derive_seed;

/// One N(0, 1) draw (Box–Muller).
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A generator for stream `stream` of a run seeded with `seed`.
pub fn rng(seed: u64, stream: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive_seed(seed, stream, 0))
}

/// `n` latents `[n, dim]` of N(0, 1) on the CPU, determined by `seed` and `stream` alone.
pub fn latents(n: usize, dim: i64, seed: u64, stream: &str) -> Tensor {
    let mut rng = rng(seed, stream);
    let v: Vec<f32> = (0..n * dim as usize).map(|_| standard_normal(&mut rng) as f32).collect();
    Tensor::from_slice(&v).reshape([n as i64, dim])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latents_are_seeded_and_standard_normal() {
        let a = latents(4000, 25, 3, "x");
        assert!(a.equal(&latents(4000, 25, 3, "x")));
        assert!(!a.equal(&latents(4000, 25, 3, "y")));
        let mean = a.mean(tch::Kind::Double).double_value(&[]);
        let std = a.std(true).double_value(&[]);
        assert!(mean.abs() < 0.01 && (std - 1.0).abs() < 0.01, "{mean} {std}");
    }
}
