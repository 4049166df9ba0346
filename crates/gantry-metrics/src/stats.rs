//! Streaming feature statistics in f64: the mean and the unbiased covariance of every feature
//! batch seen, merged batch by batch with Chan et al.'s pairwise update, so that 50k × 2048
//! features never have to sit in memory and the result does not suffer the cancellation of
//! `E[xxᵀ] − μμᵀ`.
//!
//! ```text
//! merge (n_a, μ_a, M_a) with a batch (n_b, μ_b, M_b = Σ (x − μ_b)(x − μ_b)ᵀ):
//!   δ = μ_b − μ_a,  n = n_a + n_b,  μ = μ_a + δ·n_b/n,  M = M_a + M_b + δδᵀ·n_a·n_b/n
//! Σ = M / (n − 1)
//! ```

use tch::{Device, Kind, Tensor};

use crate::{MetricError, Result};

/// Mean and covariance of a stream of feature vectors (f64, on the CPU).
#[derive(Debug)]
pub struct FeatureStats {
    n: i64,
    mean: Tensor,
    m2: Tensor,
}

impl Default for FeatureStats {
    fn default() -> Self {
        Self::new()
    }
}

impl FeatureStats {
    /// Empty statistics: no samples, dimension unset until the first batch.
    pub fn new() -> Self {
        Self { n: 0, mean: Tensor::new(), m2: Tensor::new() }
    }

    /// Samples seen.
    pub fn count(&self) -> i64 {
        self.n
    }

    /// Feature dimension (0 before the first batch).
    pub fn dim(&self) -> i64 {
        if self.n == 0 {
            0
        } else {
            self.mean.size()[0]
        }
    }

    /// Adds a batch `[B, d]` of features (any float kind, any device).
    pub fn update(&mut self, feats: &Tensor) -> Result<()> {
        let size = feats.size();
        if size.len() != 2 || size[0] == 0 {
            return Err(MetricError::Invalid(format!("features must be [B, d] with B > 0, found {size:?}")));
        }
        if self.n > 0 && size[1] != self.dim() {
            return Err(MetricError::Dims { a: self.dim(), b: size[1] });
        }
        let x = feats.to_device(Device::Cpu).to_kind(Kind::Double);
        let nb = size[0];
        let mb = x.mean_dim(0, false, Kind::Double); // [d]
        let xc = &x - &mb;
        let m2b = xc.tr().matmul(&xc); // [d, d]
        if self.n == 0 {
            self.mean = mb;
            self.m2 = m2b;
        } else {
            let n = self.n + nb;
            let delta = &mb - &self.mean;
            self.mean = &self.mean + &delta * (nb as f64 / n as f64);
            let outer = delta.unsqueeze(1).matmul(&delta.unsqueeze(0));
            self.m2 = &self.m2 + m2b + outer * (self.n as f64 * nb as f64 / n as f64);
        }
        self.n += nb;
        Ok(())
    }

    /// The mean `[d]` (f64).
    pub fn mean(&self) -> Result<Tensor> {
        self.need(1)?;
        Ok(self.mean.shallow_clone())
    }

    /// The unbiased covariance `[d, d]` (f64), as `np.cov(x, rowvar=False)`.
    pub fn cov(&self) -> Result<Tensor> {
        self.need(2)?;
        Ok(&self.m2 / (self.n - 1) as f64)
    }

    fn need(&self, k: i64) -> Result<()> {
        if self.n < k {
            return Err(MetricError::TooFew {
                what: "feature statistics".into(),
                need: k as usize,
                found: self.n as usize,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Tensor {
        // Features with a large common offset: the case where E[xxᵀ] − μμᵀ cancels badly.
        let t = Tensor::arange(600, (Kind::Double, Device::Cpu)).reshape([200, 3]);
        (t.sin() * 0.5 + 1e4).to_kind(Kind::Float)
    }

    #[test]
    fn batched_equals_all_at_once_and_numpy_conventions() {
        let x = data().to_kind(Kind::Double);
        let mut one = FeatureStats::new();
        one.update(&x).unwrap();
        let mut many = FeatureStats::new();
        for chunk in x.split(37, 0) {
            many.update(&chunk).unwrap();
        }
        assert_eq!(many.count(), 200);
        assert!(one.mean().unwrap().allclose(&many.mean().unwrap(), 1e-12, 1e-12, false));
        assert!(one.cov().unwrap().allclose(&many.cov().unwrap(), 1e-10, 1e-12, false));
        // The covariance of the centred data, unbiased (n − 1), as np.cov.
        let xc = &x - x.mean_dim(0, true, Kind::Double);
        let want = xc.tr().matmul(&xc) / 199.0;
        assert!(many.cov().unwrap().allclose(&want, 1e-9, 1e-12, false));
    }

    #[test]
    fn misuse_is_an_error() {
        let mut s = FeatureStats::new();
        assert!(s.cov().is_err());
        s.update(&Tensor::ones([1, 4], tch::kind::FLOAT_CPU)).unwrap();
        assert!(s.cov().unwrap_err().to_string().contains("at least 2"));
        assert!(matches!(
            s.update(&Tensor::ones([2, 5], tch::kind::FLOAT_CPU)),
            Err(MetricError::Dims { a: 4, b: 5 })
        ));
        assert!(s.update(&Tensor::ones([4], tch::kind::FLOAT_CPU)).is_err());
    }
}
