//! The Fréchet distance between two Gaussians, the core of FID (Heusel et al. 2017):
//!
//! ```text
//! d² = ‖μ1 − μ2‖² + tr(Σ1) + tr(Σ2) − 2·tr((Σ1 Σ2)^½)
//! ```
//!
//! pytorch-fid computes `tr((Σ1Σ2)^½)` with `scipy.linalg.sqrtm` on the non-symmetric product.
//! Here it is computed in the symmetric form `tr((Σ1^½ Σ2 Σ1^½)^½) = Σ √λᵢ` (the two matrices are
//! similar, so they share eigenvalues) with a symmetric eigensolver in f64: `Σ1^½ = V·diag(√λ)·Vᵀ`
//! from `eigh(Σ1)`, then the eigenvalues of `Σ1^½ Σ2 Σ1^½`. Eigenvalues below the rank cutoff
//! `λ_max · d · ε_f64` (numpy's `matrix_rank` tolerance) are rounding noise of true zeros and are
//! set to 0 before the square root (which would otherwise amplify 1e-15 into 3e-8), so
//! rank-deficient covariances (fewer samples than dimensions) give finite, exact answers; if a
//! result is still not finite, pytorch-fid's fallback is applied: ε = 1e-6 added to both
//! diagonals.

use tch::{Kind, Tensor};

use crate::{MetricError, Result};

/// Eigenvalues with rounding noise removed: below `λ_max · d · ε` (and negatives) become 0.
fn denoise(lambda: Tensor) -> Tensor {
    let d = lambda.size()[0] as f64;
    let max = lambda.abs().max().double_value(&[]);
    let cutoff = max * d * f64::EPSILON;
    lambda.where_self(&lambda.gt(cutoff), &lambda.zeros_like())
}

/// The symmetric square root of a symmetric positive semi-definite matrix (f64).
fn sqrtm_psd(a: &Tensor) -> Tensor {
    let (lambda, v) = a.linalg_eigh("L");
    let s = denoise(lambda).sqrt();
    (&v * s.unsqueeze(0)).matmul(&v.tr())
}

/// `tr((Σ1 Σ2)^½)` through the symmetric form.
pub fn trace_sqrt_product(sigma1: &Tensor, sigma2: &Tensor) -> f64 {
    let s1 = sqrtm_psd(sigma1);
    let m = s1.matmul(sigma2).matmul(&s1);
    let m = (&m + m.tr()) * 0.5; // symmetric up to rounding; make it exactly so
    denoise(m.linalg_eigvalsh("L")).sqrt().sum(Kind::Double).double_value(&[])
}

/// The squared Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2): `mu` `[d]`, `sigma` `[d, d]`
/// (any float kind; computed in f64).
pub fn frechet_distance(mu1: &Tensor, sigma1: &Tensor, mu2: &Tensor, sigma2: &Tensor) -> Result<f64> {
    let d = mu1.size();
    for (name, t, want) in
        [("mu2", mu2, d.clone()), ("sigma1", sigma1, vec![d[0], d[0]]), ("sigma2", sigma2, vec![d[0], d[0]])]
    {
        if t.size() != want {
            return Err(MetricError::Invalid(format!("{name} has shape {:?}, expected {want:?}", t.size())));
        }
    }
    let f = |t: &Tensor| t.to_device(tch::Device::Cpu).to_kind(Kind::Double);
    let (mu1, mu2, s1, s2) = (f(mu1), f(mu2), f(sigma1), f(sigma2));
    let diff = (&mu1 - &mu2).square().sum(Kind::Double).double_value(&[]);
    let tr = |t: &Tensor| t.trace().double_value(&[]);
    let mut covmean = trace_sqrt_product(&s1, &s2);
    if !covmean.is_finite() {
        let eps = Tensor::eye(d[0], (Kind::Double, tch::Device::Cpu)) * 1e-6;
        covmean = trace_sqrt_product(&(&s1 + &eps), &(&s2 + &eps));
    }
    let fid = diff + tr(&s1) + tr(&s2) - 2.0 * covmean;
    if !fid.is_finite() {
        return Err(MetricError::Invalid(
            "the Fréchet distance is not finite (non-finite statistics?)".into(),
        ));
    }
    Ok(fid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn eye(d: i64) -> Tensor {
        Tensor::eye(d, (Kind::Double, Device::Cpu))
    }

    #[test]
    fn pytorch_fid_test_vector() {
        // μ = 0 vs μ = 1, Σ = I in 2048-d: FID = 2048.
        let d = 2048;
        let z = Tensor::zeros([d], (Kind::Double, Device::Cpu));
        let fid = frechet_distance(&z, &eye(d), &(&z + 1.0), &eye(d)).unwrap();
        assert!((fid - 2048.0).abs() < 1e-6, "{fid}");
    }

    #[test]
    fn closed_forms_and_degenerate_inputs() {
        // Diagonal covariances: tr((Σ1Σ2)^½) = Σ √(a_i b_i).
        let a = Tensor::from_slice(&[1.0f64, 4.0, 9.0]);
        let b = Tensor::from_slice(&[4.0f64, 1.0, 0.0]);
        let got = trace_sqrt_product(&a.diag(0), &b.diag(0));
        assert!((got - (2.0 + 2.0 + 0.0)).abs() < 1e-12, "{got}");
        // Identical statistics: 0, also when rank-deficient (2 samples in 5-d).
        let x = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0, 5.0, -1.0, 0.5, 2.0, 0.0, 3.0]).reshape([2, 5]);
        let mu = x.mean_dim(0, false, Kind::Double);
        let xc = &x - &mu;
        let cov = xc.tr().matmul(&xc);
        let fid = frechet_distance(&mu, &cov, &mu, &cov).unwrap();
        assert!(fid.abs() < 1e-9, "{fid}");
        // All-zero covariances: just the mean term.
        let zero = Tensor::zeros([5, 5], (Kind::Double, Device::Cpu));
        assert!((frechet_distance(&mu, &zero, &(&mu + 2.0), &zero).unwrap() - 20.0).abs() < 1e-12);
        let e = frechet_distance(&mu, &zero, &mu, &eye(4)).unwrap_err().to_string();
        assert!(e.contains("sigma2"), "{e}");
    }
}
