//! Sample-based measures for models without a tractable likelihood: the Parzen-window
//! log-likelihood (Breuleux et al. 2010, as Goodfellow et al. 2014 and Makhzani et al. 2015 report
//! it on MNIST) and the Gaussian-kernel MMD between two sample sets (for an autoencoder's codes
//! against its prior).
//!
//! ```text
//! Parzen:  log p̂(x) = log (1/N) Σᵢ exp(−‖x − μᵢ‖² / (2σ²)) − (d/2)·log(2πσ²)
//!          μᵢ: N model samples; σ: the grid value with the best mean log p̂ on validation data
//!          (goodfeli/adversarial `parzen_ll.py`: 10 values logspace(−1, 0), pixels in [0, 1])
//! MMD²:    E k(x, x') + E k(y, y') − 2 E k(x, y),  k(a, b) = exp(−‖a − b‖² / (2h²))   (biased,
//!          V-statistic: ≥ 0, 0 iff the empirical distributions coincide)
//! ```
//!
//! The Parzen estimate is known to be poor in high dimensions (Theis et al. 2016, "A note on the
//! evaluation of generative models"): it favours models that memorise, and its value is far from
//! the true log-likelihood even with 10k samples. It is reported for comparison with the papers.

use tch::{Kind, Tensor};

use crate::{MetricError, Result};

/// ‖xᵢ − yⱼ‖² `[N, M]` in f64.
fn sq_dist(x: &Tensor, y: &Tensor) -> Tensor {
    let (x, y) = (x.to_kind(Kind::Double), y.to_kind(Kind::Double));
    let xx = x.square().sum_dim_intlist(1, true, Kind::Double); // [N, 1]
    let yy = y.square().sum_dim_intlist(1, false, Kind::Double).unsqueeze(0); // [1, M]
    (xx + yy - x.matmul(&y.tr()) * 2.0).clamp_min(0.0)
}

/// The Parzen-window log-likelihood of each row of `x` `[N, d]` under the kernel density of
/// `samples` `[M, d]` with bandwidth `sigma` (`[N]`, f64), in chunks of `chunk` rows.
pub fn parzen_log_likelihood(x: &Tensor, samples: &Tensor, sigma: f64, chunk: i64) -> Result<Tensor> {
    let (xs, ss) = (x.size(), samples.size());
    if xs.len() != 2 || ss.len() != 2 || xs[1] != ss[1] || ss[0] == 0 {
        return Err(MetricError::Invalid(format!(
            "parzen: expected points [N, d] and samples [M, d], found {xs:?} and {ss:?}"
        )));
    }
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(MetricError::Invalid(format!("parzen: sigma must be > 0, found {sigma}")));
    }
    let (m, d) = (ss[0] as f64, ss[1] as f64);
    let z = d * 0.5 * (2.0 * std::f64::consts::PI * sigma * sigma).ln();
    let mut out = Vec::new();
    for start in (0..xs[0]).step_by(chunk.max(1) as usize) {
        let part = x.narrow(0, start, chunk.min(xs[0] - start));
        let e = sq_dist(&part, samples) / (-2.0 * sigma * sigma); // [n, M]
        out.push(e.logsumexp([1], false) - m.ln() - z);
    }
    Ok(Tensor::cat(&out, 0))
}

/// The σ of `grid` with the best mean Parzen log-likelihood of `valid` under `samples`, with
/// every grid value's mean: (σ, [(σ, mean log p̂)]).
pub fn parzen_select_sigma(
    valid: &Tensor,
    samples: &Tensor,
    grid: &[f64],
    chunk: i64,
) -> Result<(f64, Vec<(f64, f64)>)> {
    let mut scores = Vec::with_capacity(grid.len());
    for &s in grid {
        let ll = parzen_log_likelihood(valid, samples, s, chunk)?.mean(Kind::Double).double_value(&[]);
        scores.push((s, ll));
    }
    let best = scores
        .iter()
        .copied()
        .filter(|(_, ll)| ll.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .ok_or_else(|| MetricError::Invalid("parzen: no finite log-likelihood on the grid".into()))?;
    Ok((best.0, scores))
}

/// goodfeli/adversarial's grid: `numpy.logspace(-1, 0, num=10)`.
pub fn parzen_default_grid() -> Vec<f64> {
    (0..10).map(|i| 10f64.powf(-1.0 + i as f64 / 9.0)).collect()
}

/// The biased (V-statistic) squared MMD between `x` `[N, d]` and `y` `[M, d]` with a Gaussian
/// kernel of bandwidth `h`.
pub fn mmd2_gaussian(x: &Tensor, y: &Tensor, h: f64) -> f64 {
    let k =
        |a: &Tensor, b: &Tensor| (sq_dist(a, b) / (-2.0 * h * h)).exp().mean(Kind::Double).double_value(&[]);
    k(x, x) + k(y, y) - 2.0 * k(x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn parzen_with_one_sample_is_the_gaussian_density() {
        let mu = Tensor::from_slice(&[1.0f64, -2.0]).reshape([1, 2]);
        let x = Tensor::from_slice(&[1.5f64, -1.0, 1.0, -2.0]).reshape([2, 2]);
        let ll: Vec<f64> = Vec::try_from(parzen_log_likelihood(&x, &mu, 0.5, 1).unwrap()).unwrap();
        let z = (2.0 * std::f64::consts::PI * 0.25).ln(); // d/2 · log 2πσ² with d = 2
        assert!((ll[0] - (-(0.25 + 1.0) / 0.5 - z)).abs() < 1e-9, "{ll:?}");
        assert!((ll[1] + z).abs() < 1e-9);
    }

    #[test]
    fn parzen_mixture_and_sigma_selection() {
        // Two samples at ±1 in 1-D: p̂(0) = N(0; 1, σ²) (both equal), p̂(1) = ½[N(0; 0, σ²) + N(2; 0, σ²)].
        let s = Tensor::from_slice(&[-1.0f64, 1.0]).reshape([2, 1]);
        let x = Tensor::from_slice(&[0.0f64, 1.0]).reshape([2, 1]);
        let sigma: f64 = 0.7;
        let n =
            |v: f64| (-v * v / (2.0 * sigma * sigma)).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt());
        let ll: Vec<f64> = Vec::try_from(parzen_log_likelihood(&x, &s, sigma, 8).unwrap()).unwrap();
        assert!((ll[0] - n(1.0).ln()).abs() < 1e-9);
        assert!((ll[1] - (0.5 * (n(0.0) + n(2.0))).ln()).abs() < 1e-9);
        // Validation points drawn from N(0, 1), samples from N(0, 1): the best σ is near the
        // kernel-density optimum, inside the grid, and its score is the grid's maximum.
        tch::manual_seed(0);
        let samples = Tensor::randn([2000, 1], (Kind::Double, Device::Cpu));
        let valid = Tensor::randn([2000, 1], (Kind::Double, Device::Cpu));
        let grid = parzen_default_grid();
        assert!((grid[0] - 0.1).abs() < 1e-12 && (grid[9] - 1.0).abs() < 1e-12);
        let (best, scores) = parzen_select_sigma(&valid, &samples, &grid, 500).unwrap();
        assert!((0.15..=0.5).contains(&best), "{best} {scores:?}");
        let top = scores.iter().map(|s| s.1).fold(f64::MIN, f64::max);
        assert_eq!(scores.iter().find(|s| s.0 == best).unwrap().1, top);
        // And it estimates the true mean log density of N(0, 1), −½(1 + log 2π) ≈ −1.419.
        assert!((top + 1.419).abs() < 0.05, "{top}");
        assert!(parzen_log_likelihood(&x, &Tensor::zeros([3, 2], tch::kind::DOUBLE_CPU), 1.0, 1).is_err());
    }

    #[test]
    fn mmd_is_zero_for_equal_sets_and_grows_with_a_shift() {
        tch::manual_seed(1);
        let x = Tensor::randn([500, 2], (Kind::Float, Device::Cpu));
        assert!(mmd2_gaussian(&x, &x, 1.0).abs() < 1e-12);
        let y = Tensor::randn([500, 2], (Kind::Float, Device::Cpu));
        let near = mmd2_gaussian(&x, &y, 1.0);
        let far = mmd2_gaussian(&x, &(&y + 2.0), 1.0);
        assert!(near < 0.01 && far > 0.3, "{near} {far}");
        // Closed form for point masses a, b: 2 − 2 exp(−‖a − b‖²/(2h²)).
        let (a, b) =
            (Tensor::zeros([1, 2], tch::kind::FLOAT_CPU), Tensor::ones([1, 2], tch::kind::FLOAT_CPU));
        assert!((mmd2_gaussian(&a, &b, 1.0) - (2.0 - 2.0 * (-1.0f64).exp())).abs() < 1e-9);
    }
}
