//! A common interface for accumulating metrics batch by batch (e.g. during training):
//! `update` with real or fake features as they arrive, `compute` when enough are in, `reset` to
//! start over. FID keeps only streaming statistics; KID and PRDC keep the feature matrices; IS
//! keeps the fakes' logits.

use tch::Tensor;

use crate::{FeatureStats, InceptionScore, Kid, KidConfig, MetricError, Prdc, PrdcConfig, Result};

/// Which distribution a batch comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Training (or reference) data.
    Real,
    /// Generator output.
    Fake,
}

/// A metric accumulated from batches of features (or, for IS, logits).
pub trait Metric {
    /// What `compute` returns: a number for FID, a summary struct for the others.
    type Output;
    /// Adds a batch `[B, d]` from one side.
    fn update(&mut self, side: Side, batch: &Tensor) -> Result<()>;
    /// The metric over everything seen since the last reset.
    fn compute(&self) -> Result<Self::Output>;
    /// Forgets everything.
    fn reset(&mut self);
}

/// FID from streaming statistics.
#[derive(Debug, Default)]
pub struct Fid {
    real: FeatureStats,
    fake: FeatureStats,
}

impl Metric for Fid {
    type Output = f64;
    fn update(&mut self, side: Side, batch: &Tensor) -> Result<()> {
        match side {
            Side::Real => self.real.update(batch),
            Side::Fake => self.fake.update(batch),
        }
    }
    fn compute(&self) -> Result<f64> {
        crate::frechet_distance(&self.real.mean()?, &self.real.cov()?, &self.fake.mean()?, &self.fake.cov()?)
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Feature matrices of both sides, for the metrics that need every sample.
#[derive(Debug, Default)]
struct Both {
    real: Vec<Tensor>,
    fake: Vec<Tensor>,
}

impl Both {
    fn push(&mut self, side: Side, batch: &Tensor) -> Result<()> {
        if batch.dim() != 2 {
            return Err(MetricError::Invalid(format!("features must be [B, d], found {:?}", batch.size())));
        }
        match side {
            Side::Real => self.real.push(batch.shallow_clone()),
            Side::Fake => self.fake.push(batch.shallow_clone()),
        }
        Ok(())
    }
    fn get(&self) -> Result<(Tensor, Tensor)> {
        if self.real.is_empty() || self.fake.is_empty() {
            return Err(MetricError::Invalid("both real and fake features are needed".into()));
        }
        Ok((Tensor::cat(&self.real, 0), Tensor::cat(&self.fake, 0)))
    }
}

/// KID over every sample seen.
#[derive(Debug, Default)]
pub struct KidMetric {
    /// KID's subset protocol.
    pub config: KidConfig,
    seen: Both,
}

impl Metric for KidMetric {
    type Output = Kid;
    fn update(&mut self, side: Side, batch: &Tensor) -> Result<()> {
        self.seen.push(side, batch)
    }
    fn compute(&self) -> Result<Kid> {
        let (r, f) = self.seen.get()?;
        crate::kid(&r, &f, &self.config)
    }
    fn reset(&mut self) {
        self.seen = Both::default();
    }
}

/// Precision, recall, density and coverage over every sample seen.
#[derive(Debug, Default)]
pub struct PrdcMetric {
    /// The neighbourhood sizes and block size of the k-NN computations.
    pub config: PrdcConfig,
    seen: Both,
}

impl Metric for PrdcMetric {
    type Output = Prdc;
    fn update(&mut self, side: Side, batch: &Tensor) -> Result<()> {
        self.seen.push(side, batch)
    }
    fn compute(&self) -> Result<Prdc> {
        let (r, f) = self.seen.get()?;
        crate::prdc(&r, &f, &self.config)
    }
    fn reset(&mut self) {
        self.seen = Both::default();
    }
}

/// The Inception Score of the fakes' logits (real batches are ignored).
#[derive(Debug)]
pub struct IsMetric {
    /// The number of consecutive splits of the logits (default 10).
    pub splits: usize,
    logits: Vec<Tensor>,
}

impl Default for IsMetric {
    fn default() -> Self {
        Self { splits: 10, logits: Vec::new() }
    }
}

impl Metric for IsMetric {
    type Output = InceptionScore;
    fn update(&mut self, side: Side, batch: &Tensor) -> Result<()> {
        if side == Side::Fake {
            self.logits.push(batch.shallow_clone());
        }
        Ok(())
    }
    fn compute(&self) -> Result<InceptionScore> {
        if self.logits.is_empty() {
            return Err(MetricError::Invalid("no fake logits seen".into()));
        }
        crate::inception_score(&Tensor::cat(&self.logits, 0), self.splits)
    }
    fn reset(&mut self) {
        self.logits.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn feats(n: i64, shift: f64) -> Tensor {
        (Tensor::arange(n * 6, (Kind::Double, tch::Device::Cpu)).reshape([n, 6]) * 0.377).sin() + shift
    }

    #[test]
    fn incremental_equals_all_at_once_and_reset_forgets() {
        let (r, f) = (feats(120, 0.0), feats(100, 0.3));
        let mut fid = Fid::default();
        for c in r.split(17, 0) {
            fid.update(Side::Real, &c).unwrap();
        }
        for c in f.split(23, 0) {
            fid.update(Side::Fake, &c).unwrap();
        }
        let mut s1 = FeatureStats::new();
        s1.update(&r).unwrap();
        let mut s2 = FeatureStats::new();
        s2.update(&f).unwrap();
        let direct = crate::frechet_distance(
            &s1.mean().unwrap(),
            &s1.cov().unwrap(),
            &s2.mean().unwrap(),
            &s2.cov().unwrap(),
        )
        .unwrap();
        assert!((fid.compute().unwrap() - direct).abs() < 1e-9);
        fid.reset();
        assert!(fid.compute().is_err());

        let mut p = PrdcMetric::default();
        for c in r.split(50, 0) {
            p.update(Side::Real, &c).unwrap();
        }
        p.update(Side::Fake, &f).unwrap();
        assert_eq!(p.compute().unwrap(), crate::prdc(&r, &f, &PrdcConfig::default()).unwrap());

        let mut k =
            KidMetric { config: KidConfig { subsets: 3, subset_size: 50, seed: 1 }, ..Default::default() };
        k.update(Side::Real, &r).unwrap();
        k.update(Side::Fake, &f).unwrap();
        assert_eq!(k.compute().unwrap(), crate::kid(&r, &f, &k.config).unwrap());

        let mut is = IsMetric::default();
        is.update(Side::Real, &feats(10, 0.0)).unwrap();
        assert!(is.compute().is_err(), "real batches are not scored");
        is.update(Side::Fake, &(feats(100, 0.0) * 5.0).narrow(1, 0, 5)).unwrap();
        assert!(is.compute().unwrap().mean >= 1.0);
    }
}
