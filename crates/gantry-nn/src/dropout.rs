//! Dropout whose masks are the same on every CPU.
//!
//! libtorch's own `dropout` draws its mask with `bernoulli_(1 − p)`, and on CPU that kernel takes
//! two roads: on Intel processors (when libtorch is built with MKL, as the PyPI wheels are) it
//! seeds an MKL VSL stream from the generator, elsewhere it draws from the generator's mt19937
//! directly. The same `manual_seed` thus gives different masks on an Intel and an AMD machine, and
//! a pix2pix run (whose U-Net keeps dropout on) does not replay from one to the other.
//!
//! [`dropout`] draws `u ~ U[0, 1)` with `rand_like` instead — one serial pass over the generator
//! on every CPU, Philox on CUDA — and keeps the units with `u ≥ p`:
//!
//! ```text
//! y = x · 1[u ≥ p] / (1 − p)        (training);        y = x        (otherwise)
//! ```
//!
//! so each unit survives with probability 1 − p and `E[y] = x`, as torch's inverted dropout.
//! The uniforms are a per-sample draw through `gantry_core::parallel` (a data-parallel rank keeps
//! its rows of the whole batch's draw; the training-parity tests replay a reference's masks).

use tch::Tensor;

/// Inverted dropout with drop probability `p` (`0 ≤ p ≤ 1`) when `train`, the identity otherwise.
/// Any shape; the mask has the shape of `x` (element-wise dropout, as `nn.Dropout`).
///
/// # Panics
/// If `p` is outside `[0, 1]` (a configuration error the caller checks first).
pub fn dropout(x: &Tensor, p: f64, train: bool) -> Tensor {
    assert!((0.0..=1.0).contains(&p), "dropout probability {p} is outside [0, 1]");
    if !train || p == 0.0 {
        return x.shallow_clone();
    }
    if p == 1.0 {
        return x.zeros_like();
    }
    let keep = gantry_core::parallel::rand_like(x).ge(p).to_kind(x.kind());
    x * keep / (1.0 - p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn the_mask_is_uniform_draws_at_or_above_p_scaled_by_one_over_keep() {
        let _generator = crate::generator_lock();
        let x = Tensor::randn([4, 8, 5, 5], (Kind::Float, Device::Cpu));
        tch::manual_seed(7);
        let y = dropout(&x, 0.3, true);
        tch::manual_seed(7);
        let u = x.rand_like();
        let want = x.where_self(&u.ge(0.3), &x.zeros_like()) / 0.7;
        assert!(y.allclose(&want, 1e-7, 1e-7, false));
    }

    #[test]
    fn keeps_one_minus_p_of_the_units_and_the_mean() {
        let _generator = crate::generator_lock();
        tch::manual_seed(0);
        let x = Tensor::ones([1_000_000], (Kind::Float, Device::Cpu));
        let y = dropout(&x, 0.5, true);
        let kept = y.ne(0.0).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
        // Binomial(10⁶, ½): standard deviation 0.0005 of the fraction; 5σ.
        assert!((kept - 0.5).abs() < 0.0025, "kept {kept}");
        let nonzero = y.masked_select(&y.ne(0.0));
        assert_eq!(nonzero.min().double_value(&[]), 2.0);
        assert_eq!(nonzero.max().double_value(&[]), 2.0);
        let mean = y.mean(Kind::Double).double_value(&[]);
        assert!((mean - 1.0).abs() < 0.005, "E[y] {mean}");
    }

    #[test]
    fn identity_when_not_training_or_p_zero_and_zero_at_p_one() {
        let _generator = crate::generator_lock();
        let x = Tensor::randn([3, 7], (Kind::Float, Device::Cpu));
        assert!(dropout(&x, 0.5, false).equal(&x));
        assert!(dropout(&x, 0.0, true).equal(&x));
        assert_eq!(dropout(&x, 1.0, true).abs().sum(Kind::Double).double_value(&[]), 0.0);
    }

    #[test]
    fn seeded_masks_replay_and_gradients_flow_through_kept_units_only() {
        let _generator = crate::generator_lock();
        let x = Tensor::randn([64], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        tch::manual_seed(3);
        let y = dropout(&x, 0.25, true);
        tch::manual_seed(3);
        assert!(dropout(&x, 0.25, true).equal(&y));
        y.sum(Kind::Float).backward();
        let g = x.grad();
        let kept = y.ne(0.0).to_kind(Kind::Float);
        assert!(g.allclose(&(kept / 0.75), 1e-6, 1e-6, false));
    }
}
