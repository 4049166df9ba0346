//! The variational autoencoder's terms (Kingma & Welling 2014), as the VAE-GAN (Larsen et al.
//! 2016) routes them:
//!
//! ```text
//! z = μ + σ ⊙ ε,  ε ~ N(0, I),  σ = exp(½ log σ²)     the reparameterisation: ∂z/∂μ = 1,
//!                                                      ∂z/∂log σ² = ½ σ ε
//! L_prior = KL(N(μ, σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)     per example
//! L_llike = ½ Σ (f(x) − f(x̃))² / s²        a Gaussian log-likelihood with variance s², up to a
//!                                          constant: f = the pixels (a plain VAE) or D's l-th
//!                                          layer (the VAE-GAN's learned similarity, s = 1)
//! ```
//!
//! Each term is summed over its example's elements and averaged over the batch, as the authors'
//! code does (sums over the batch with the learning rate divided by the batch size).

use tch::{Kind, Tensor};

/// z = μ + exp(½ log σ²) ⊙ ε with ε from libtorch's generator; differentiable in μ and log σ².
pub fn reparameterise(mu: &Tensor, logvar: &Tensor) -> Tensor {
    reparameterise_with(mu, logvar, &mu.randn_like())
}

/// z = μ + exp(½ log σ²) ⊙ ε for a given N(0, I) draw `eps` shaped as μ.
pub fn reparameterise_with(mu: &Tensor, logvar: &Tensor, eps: &Tensor) -> Tensor {
    mu + (logvar * 0.5).exp() * eps
}

/// KL(N(μ, diag σ²) ‖ N(0, I)), summed over the code, averaged over the batch (`[N, d]` inputs).
pub fn kl_standard_normal(mu: &Tensor, logvar: &Tensor) -> Tensor {
    // In float32 from a lower precision (mixed precision, `gantry_core::amp`).
    let (mu, logvar) = (&gantry_core::amp::fp32(mu), &gantry_core::amp::fp32(logvar));
    let per = (mu.square() + logvar.exp() - 1.0 - logvar) * 0.5;
    per.flatten(1, -1).sum_dim_intlist(1, false, Kind::Float).mean(Kind::Float)
}

/// ½ Σ (a − b)² / s² over each example's elements, averaged over the batch: the negative
/// Gaussian log-likelihood of `b` around `a` with variance s², without its constant.
pub fn gaussian_nll(a: &Tensor, b: &Tensor, s: f64) -> Tensor {
    let (a, b) = (gantry_core::amp::fp32(a), gantry_core::amp::fp32(b));
    ((a - b).square() * (0.5 / (s * s)))
        .flatten(1, -1)
        .sum_dim_intlist(1, false, Kind::Float)
        .mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn reparameterisation_gradient_is_one_and_half_sigma_epsilon() {
        let _generator = crate::generator_lock();
        tch::manual_seed(0);
        let mu = Tensor::from_slice(&[0.5f32, -1.0, 2.0]).set_requires_grad(true);
        let logvar = Tensor::from_slice(&[0.0f32, 1.0, -2.0]).set_requires_grad(true);
        tch::manual_seed(7);
        let z = reparameterise(&mu, &logvar);
        tch::manual_seed(7);
        let eps = mu.randn_like();
        z.sum(Kind::Float).backward();
        let g_mu: Vec<f32> = Vec::try_from(mu.grad()).unwrap();
        assert_eq!(g_mu, vec![1.0, 1.0, 1.0]);
        let want = (logvar.detach() * 0.5).exp() * &eps * 0.5;
        assert!(logvar.grad().allclose(&want, 1e-6, 1e-7, false));
        let z_want = mu.detach() + (logvar.detach() * 0.5).exp() * eps;
        assert!(z.detach().allclose(&z_want, 1e-6, 1e-7, false));
    }

    #[test]
    fn samples_have_the_posterior_moments() {
        let _generator = crate::generator_lock();
        tch::manual_seed(1);
        let n = 200_000;
        let mu = Tensor::full([n, 1], 1.5, (Kind::Float, Device::Cpu));
        let logvar = Tensor::full([n, 1], (0.25f64).ln(), (Kind::Float, Device::Cpu));
        let z = reparameterise(&mu, &logvar).to_kind(Kind::Double);
        let (m, v) = (z.mean(Kind::Double).double_value(&[]), z.var(true).double_value(&[]));
        assert!((m - 1.5).abs() < 0.005 && (v - 0.25).abs() < 0.005, "{m} {v}");
    }

    #[test]
    fn kl_closed_form_by_hand_and_by_monte_carlo() {
        let _generator = crate::generator_lock();
        // ½(μ² + σ² − 1 − log σ²): μ = 1, σ² = 2 → ½(1 + 2 − 1 − ln 2); μ = 0, σ² = 1 → 0.
        let mu = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 0.0]).reshape([2, 2]);
        let logvar = Tensor::from_slice(&[(2.0f32).ln(), 0.0, 0.0, 0.0]).reshape([2, 2]);
        let kl = kl_standard_normal(&mu, &logvar).double_value(&[]);
        let want = 0.5 * (1.0 + 2.0 - 1.0 - 2f64.ln()) / 2.0; // one example has it, batch of 2
        assert!((kl - want).abs() < 1e-6, "{kl} vs {want}");
        // E_q[log q(z) − log p(z)] for q = N(0.7, 0.3²) by sampling.
        tch::manual_seed(2);
        let (m, s) = (0.7f64, 0.3f64);
        let z = Tensor::randn([400_000], (Kind::Double, Device::Cpu)) * s + m;
        let log_q = -(&z - m).square() / (2.0 * s * s) - (s * (2.0 * std::f64::consts::PI).sqrt()).ln();
        let log_p = -z.square() / 2.0 - (2.0 * std::f64::consts::PI).sqrt().ln();
        let mc = (log_q - log_p).mean(Kind::Double).double_value(&[]);
        let mu = Tensor::from_slice(&[m as f32]).reshape([1, 1]);
        let lv = Tensor::from_slice(&[(s * s).ln() as f32]).reshape([1, 1]);
        let exact = kl_standard_normal(&mu, &lv).double_value(&[]);
        assert!((mc - exact).abs() < 0.005, "{mc} vs {exact}");
    }

    #[test]
    fn gaussian_nll_sums_per_example_and_averages_the_batch() {
        let a = Tensor::from_slice(&[1.0f32, 2.0, 0.0, 0.0]).reshape([2, 2]);
        let b = Tensor::zeros([2, 2], (Kind::Float, Device::Cpu));
        // Example 1: ½(1 + 4)/0.25 = 10; example 2: 0 → mean 5.
        assert!((gaussian_nll(&a, &b, 0.5).double_value(&[]) - 5.0).abs() < 1e-6);
    }
}
