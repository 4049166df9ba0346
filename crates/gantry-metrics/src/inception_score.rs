//! Inception Score (Salimans et al., "Improved Techniques for Training GANs", 2016):
//!
//! ```text
//! IS = exp(E_x KL(p(y|x) ‖ p(y))),   p(y) = E_x p(y|x)
//! ```
//!
//! computed on class probabilities from a classifier's logits, over 10 splits of the samples
//! (in order), reporting the mean and standard deviation over splits — the protocol of the
//! original code, StyleGAN2-ADA and torch-fidelity (with its shuffle off).

use serde::Serialize;
use tch::{Kind, Tensor};

use crate::{MetricError, Result};

/// The Inception Score's mean and standard deviation over splits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InceptionScore {
    /// Mean of the per-split scores; 1 (uniform or collapsed predictions) up to the number of classes.
    pub mean: f64,
    /// Population standard deviation of the per-split scores.
    pub std: f64,
    /// The number of consecutive splits the samples were divided into.
    pub splits: usize,
}

/// IS from logits `[N, C]` in `splits` consecutive splits.
pub fn inception_score(logits: &Tensor, splits: usize) -> Result<InceptionScore> {
    let n = logits.size()[0] as usize;
    if splits == 0 || n < splits {
        return Err(MetricError::TooFew {
            what: format!("the Inception Score in {splits} splits"),
            need: splits.max(1),
            found: n,
        });
    }
    let p = logits.to_kind(Kind::Double).softmax(1, Kind::Double); // [N, C]
    let mut scores = Vec::with_capacity(splits);
    for k in 0..splits {
        let (start, end) = (k * n / splits, (k + 1) * n / splits);
        let part = p.narrow(0, start as i64, (end - start) as i64);
        let py = part.mean_dim(0, true, Kind::Double); // [1, C]
                                                       // KL(p(y|x) ‖ p(y)) with 0·log 0 = 0 (xlogy).
        let kl =
            (part.xlogy(&part) - part.xlogy(&py)).sum_dim_intlist([1i64].as_slice(), false, Kind::Double);
        scores.push(kl.mean(Kind::Double).double_value(&[]).exp());
    }
    let mean = scores.iter().sum::<f64>() / splits as f64;
    let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / splits as f64).sqrt();
    Ok(InceptionScore { mean, std, splits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes() {
        // Confident, evenly spread over C classes: IS = C. Uniform predictions: IS = 1.
        let c = 10;
        let confident = (Tensor::eye(c, tch::kind::FLOAT_CPU) * 50.0).repeat([10, 1]);
        let s = inception_score(&confident, 10).unwrap();
        assert!((s.mean - 10.0).abs() < 1e-6 && s.std < 1e-9, "{s:?}");
        let uniform = Tensor::zeros([100, c], tch::kind::FLOAT_CPU);
        assert!((inception_score(&uniform, 10).unwrap().mean - 1.0).abs() < 1e-12);
        // Collapsed onto one class, confidently: IS = 1.
        let collapsed =
            Tensor::zeros([100, c], tch::kind::FLOAT_CPU).index_fill(1, &Tensor::from_slice(&[3i64]), 50.0);
        assert!((inception_score(&collapsed, 10).unwrap().mean - 1.0).abs() < 1e-9);
        assert!(inception_score(&uniform, 101).is_err());
    }
}
