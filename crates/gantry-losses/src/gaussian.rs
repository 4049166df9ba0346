//! Closed forms between Gaussians (f64), the lectures' exercise on why W1 behaves where KL does
//! not: for N(μ1, σ²I) and N(μ2, σ²I),
//!
//! ```text
//! W1 = W2 = ‖μ1 − μ2‖            (a translation; Jensen: E‖X − Y‖ ≥ ‖E[X − Y]‖ for any coupling)
//! KL      = ‖μ1 − μ2‖² / (2σ²)   (explodes as σ → 0 while W stays put)
//! ```
//!
//! and in general `KL(N0‖N1) = ½ [tr(Σ1⁻¹Σ0) + (μ1 − μ0)ᵀ Σ1⁻¹ (μ1 − μ0) − k + ln(det Σ1 / det Σ0)]`,
//! W2 between 1-D Gaussians `√((μ1 − μ2)² + (σ1 − σ2)²)`. (The Fréchet distance between general
//! Gaussians lives in gantry-metrics, with FID.)

/// ‖μ1 − μ2‖.
fn distance(mu1: &[f64], mu2: &[f64]) -> f64 {
    assert_eq!(mu1.len(), mu2.len(), "means of different dimensions");
    mu1.iter().zip(mu2).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()
}

/// W1 between two Gaussians with the same covariance: ‖μ1 − μ2‖.
pub fn w1_equal_covariance(mu1: &[f64], mu2: &[f64]) -> f64 {
    distance(mu1, mu2)
}

/// W2 between two Gaussians with the same covariance: ‖μ1 − μ2‖.
pub fn w2_equal_covariance(mu1: &[f64], mu2: &[f64]) -> f64 {
    distance(mu1, mu2)
}

/// W2 between N(μ1, σ1²) and N(μ2, σ2²) on the line.
pub fn w2_1d(mu1: f64, sigma1: f64, mu2: f64, sigma2: f64) -> f64 {
    ((mu1 - mu2).powi(2) + (sigma1 - sigma2).powi(2)).sqrt()
}

/// KL(N(μ1, σ²I) ‖ N(μ2, σ²I)) = ‖μ1 − μ2‖² / (2σ²).
pub fn kl_isotropic(mu1: &[f64], mu2: &[f64], sigma: f64) -> f64 {
    distance(mu1, mu2).powi(2) / (2.0 * sigma * sigma)
}

/// Cholesky factor L (row-major k×k, lower) of a symmetric positive-definite matrix.
fn cholesky(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|t| l[i * k + t] * l[j * k + t]).sum();
            if i == j {
                let d = a[i * k + i] - s;
                if d <= 0.0 {
                    return None;
                }
                l[i * k + i] = d.sqrt();
            } else {
                l[i * k + j] = (a[i * k + j] - s) / l[j * k + j];
            }
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b`.
fn cholesky_solve(l: &[f64], k: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; k];
    for i in 0..k {
        y[i] = (b[i] - (0..i).map(|t| l[i * k + t] * y[t]).sum::<f64>()) / l[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        x[i] = (y[i] - (i + 1..k).map(|t| l[t * k + i] * x[t]).sum::<f64>()) / l[i * k + i];
    }
    x
}

/// KL(N(μ0, Σ0) ‖ N(μ1, Σ1)) for k-dimensional Gaussians; covariances row-major k×k, symmetric
/// positive definite.
///
/// # Panics
/// If the dimensions disagree or a covariance is not positive definite.
pub fn kl_gaussians(mu0: &[f64], cov0: &[f64], mu1: &[f64], cov1: &[f64]) -> f64 {
    let k = mu0.len();
    assert!(mu1.len() == k && cov0.len() == k * k && cov1.len() == k * k, "dimensions disagree");
    let l0 = cholesky(cov0, k).expect("Σ0 is not positive definite");
    let l1 = cholesky(cov1, k).expect("Σ1 is not positive definite");
    // tr(Σ1⁻¹ Σ0): solve Σ1 X = Σ0 column by column.
    let trace: f64 = (0..k)
        .map(|c| {
            let col: Vec<f64> = (0..k).map(|r| cov0[r * k + c]).collect();
            cholesky_solve(&l1, k, &col)[c]
        })
        .sum();
    let diff: Vec<f64> = mu1.iter().zip(mu0).map(|(a, b)| a - b).collect();
    let maha: f64 = cholesky_solve(&l1, k, &diff).iter().zip(&diff).map(|(a, b)| a * b).sum();
    let logdet = |l: &[f64]| 2.0 * (0..k).map(|i| l[i * k + i].ln()).sum::<f64>();
    0.5 * (trace + maha - k as f64 + logdet(&l1) - logdet(&l0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lecture_exercise() {
        let (mu1, mu2) = ([0.0, 0.0], [3.0, 4.0]);
        assert_eq!(w1_equal_covariance(&mu1, &mu2), 5.0);
        assert_eq!(w2_equal_covariance(&mu1, &mu2), 5.0);
        // As σ shrinks, KL = 25/(2σ²) blows up; W1 does not move.
        for sigma in [1.0, 0.1, 0.01] {
            assert!(
                (kl_isotropic(&mu1, &mu2, sigma) - 12.5 / (sigma * sigma)).abs() < 1e-9 / (sigma * sigma)
            );
        }
    }

    #[test]
    fn general_kl_matches_the_isotropic_and_1d_forms() {
        let s2 = 0.25;
        let cov = [s2, 0.0, 0.0, s2];
        let got = kl_gaussians(&[1.0, -1.0], &cov, &[2.0, 1.0], &cov);
        assert!((got - kl_isotropic(&[1.0, -1.0], &[2.0, 1.0], 0.5)).abs() < 1e-12);
        // 1-D: KL(N(0, 1) ‖ N(1, 4)) = ln 2 + (1 + 1)/8 − ½.
        let want = 2f64.ln() + 2.0 / 8.0 - 0.5;
        assert!((kl_gaussians(&[0.0], &[1.0], &[1.0], &[4.0]) - want).abs() < 1e-12);
        // A correlated covariance: KL(N(0, Σ) ‖ N(0, Σ)) = 0.
        let c = [2.0, 0.6, 0.6, 1.0];
        assert!(kl_gaussians(&[0.0, 0.0], &c, &[0.0, 0.0], &c).abs() < 1e-12);
        assert!((w2_1d(0.0, 1.0, 3.0, 5.0) - 5.0).abs() < 1e-15);
    }
}
