//! Content losses: how far an output is from what it should stay faithful to — the half of an
//! image-translation objective that is not adversarial (Isola et al. 2017, §3.1).
//!
//! ```text
//! L1(G) = E ‖y − G(x)‖₁          pix2pix: "L1 encourages less blurring" than L2, and captures
//!                                 the low frequencies; the PatchGAN term takes the high ones
//! ```
//!
//! The mean is over every element (`nn.L1Loss()`), so λ = 100 weighs it as the paper does.

use tch::{Kind, Tensor};

/// Mean absolute error between `output` and `target` (same shape): `mean |output − target|`.
/// In float32 from a lower precision (mixed precision, `gantry_core::amp`).
pub fn l1(output: &Tensor, target: &Tensor) -> Tensor {
    (gantry_core::amp::fp32(output) - gantry_core::amp::fp32(target)).abs().mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l1_by_hand_and_its_gradient() {
        let y = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 0.0]);
        let x = Tensor::from_slice(&[0.0f32, 1.0, 0.5, -1.0]).set_requires_grad(true);
        let l = l1(&x, &y);
        assert!((l.double_value(&[]) - (1.0 + 3.0 + 0.0 + 1.0) / 4.0).abs() < 1e-7);
        l.backward();
        let g: Vec<f32> = Vec::try_from(x.grad()).unwrap();
        assert_eq!(g, vec![-0.25, 0.25, 0.0, -0.25], "sign(x − y)/N, 0 at a tie");
    }
}
