//! An exponential moving average of the generator's weights (Karras et al., "Progressive Growing
//! of GANs", ICLR 2018, §A.1; the form of StyleGAN2-ADA's `training_loop.py`):
//!
//! ```text
//! half-life h = half_life_kimg·1000 images, ramped up early as h = min(h, images_seen·rampup)
//! β = 0.5^(batch / h)
//! θ_ema ← β·θ_ema + (1 − β)·θ          (trainable variables)
//! b_ema ← b                             (other variables: BatchNorm running statistics, ũ of
//!                                        spectral norm)
//! ```
//!
//! So a weight's contribution halves every h images. The averaged generator is what samples and
//! evaluation use: a second network of the same architecture on its own `VarStore`, whose variables
//! have the same names as the trained one's.

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

/// EMA settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmaConfig {
    /// Half-life in thousands of images (StyleGAN2-ADA: 10 at batch 32); 0 turns EMA off.
    pub half_life_kimg: f64,
    /// Ramp-up: the half-life is at most `rampup` × images seen (StyleGAN2-ADA: 0.05); 0 = none.
    pub rampup: f64,
}

impl Default for EmaConfig {
    /// Off.
    fn default() -> Self {
        Self { half_life_kimg: 0.0, rampup: 0.0 }
    }
}

impl EmaConfig {
    /// StyleGAN2-ADA's setting for a batch of `batch`: half-life 10 kimg × batch/32, ramp-up 0.05.
    pub fn stylegan2(batch: usize) -> Self {
        Self { half_life_kimg: 10.0 * batch as f64 / 32.0, rampup: 0.05 }
    }

    /// Whether it averages at all (a half-life > 0).
    pub fn enabled(&self) -> bool {
        self.half_life_kimg > 0.0
    }

    /// β for an update after `images_seen` images (this batch included) at batch `batch`.
    pub fn beta(&self, batch: usize, images_seen: u64) -> f64 {
        let mut h = self.half_life_kimg * 1000.0;
        if self.rampup > 0.0 {
            h = h.min(images_seen as f64 * self.rampup);
        }
        0.5f64.powf(batch as f64 / h.max(1e-8))
    }
}

/// The averaged copy of a network, bound to the network it averages. The copy's variables live
/// in a `VarStore` its owner keeps (and checkpoints); the binding holds them as tensors.
#[derive(Debug)]
pub struct Ema {
    /// Its half-life and ramp-up.
    pub config: EmaConfig,
    /// (averaged variable, source variable, whether the source is trained), matched by name once
    /// here so that each update touches tensors only. Loading a checkpoint copies into variables
    /// in place, so the pairs stay valid.
    pairs: Vec<(Tensor, Tensor, bool)>,
}

impl Ema {
    /// Binds `avg` (a network built like `src`'s) to `src` and copies `src`'s values into it.
    /// Fails, naming the first difference, if the two stores' variable names or shapes differ.
    pub fn new(config: EmaConfig, avg: &VarStore, src: &VarStore) -> Result<Self, StoreMismatch> {
        copy(avg, src)?;
        let from = src.variables();
        let mut pairs: Vec<(String, (Tensor, Tensor, bool))> = avg
            .variables()
            .into_iter()
            .filter_map(|(name, t)| {
                let s = from.get(&name)?.shallow_clone();
                let trained = s.requires_grad();
                Some((name, (t, s, trained)))
            })
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self { config, pairs: pairs.into_iter().map(|p| p.1).collect() })
    }

    /// One update of the average from the bound network after a step on `batch` images,
    /// `images_seen` images in total.
    pub fn update(&self, batch: usize, images_seen: u64) {
        let beta = self.config.beta(batch, images_seen);
        tch::no_grad(|| {
            for (t, s, trained) in &self.pairs {
                let mut t = t.shallow_clone();
                if *trained {
                    let _ = t.lerp_(s, 1.0 - beta); // β·θ_ema + (1 − β)·θ
                } else {
                    t.copy_(s);
                }
            }
        });
    }
}

/// A network and its average that are not built alike: the first variable whose shape differs
/// (None where one of them lacks it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("EMA copy: variable '{name}' is {network:?} in the network and {average:?} in its average")]
pub struct StoreMismatch {
    /// The variable's name.
    pub name: String,
    /// Its shape in the network.
    pub network: Option<Vec<i64>>,
    /// Its shape in the average.
    pub average: Option<Vec<i64>>,
}

/// Sets every variable of `dst` to `src`'s; fails, naming the first difference, if the two stores
/// do not hold the same names and shapes.
pub fn copy(dst: &VarStore, src: &VarStore) -> Result<(), StoreMismatch> {
    let from = src.variables();
    let to = dst.variables();
    let mut names: Vec<&String> = from.keys().chain(to.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        match (from.get(name), to.get(name)) {
            (Some(a), Some(b)) if a.size() == b.size() => {}
            (a, b) => {
                return Err(StoreMismatch {
                    name: name.clone(),
                    network: a.map(Tensor::size),
                    average: b.map(Tensor::size),
                })
            }
        }
    }
    tch::no_grad(|| {
        for (name, mut t) in to {
            t.copy_(&from[&name]);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn;
    use tch::Device;

    #[test]
    fn half_life_and_rampup() {
        let c = EmaConfig { half_life_kimg: 10.0, rampup: 0.0 };
        // After 10k images at batch 32 (312.5 updates) a weight's share halves.
        assert!((c.beta(32, 1).powf(10_000.0 / 32.0) - 0.5).abs() < 1e-12);
        let r = EmaConfig { half_life_kimg: 10.0, rampup: 0.05 };
        assert_eq!(r.beta(32, 1_000_000), c.beta(32, 0)); // ramp-up over
        assert!((r.beta(32, 6400) - 0.5f64.powf(32.0 / 320.0)).abs() < 1e-15); // h = 6400·0.05
        assert_eq!(EmaConfig::stylegan2(64).half_life_kimg, 20.0);
    }

    #[test]
    fn averages_parameters_and_copies_buffers() {
        let build = |vs: &VarStore| {
            let p = vs.root();
            (p.var("w", &[3], nn::Init::Const(0.0)), p.zeros_no_train("running", &[2]))
        };
        let src = VarStore::new(Device::Cpu);
        let (mut w, mut running) = build(&src);
        let ema_vs = VarStore::new(Device::Cpu);
        let _ = build(&ema_vs);
        let ema = Ema::new(EmaConfig { half_life_kimg: 0.004, rampup: 0.0 }, &ema_vs, &src).unwrap();
        tch::no_grad(|| {
            w.copy_(&Tensor::from_slice(&[1.0f32, 2.0, 3.0]));
            running.copy_(&Tensor::from_slice(&[5.0f32, 6.0]));
        });
        let beta = ema.config.beta(2, 2); // 0.5^(2/4)
        for _ in 0..3 {
            ema.update(2, 2);
        }
        let v = ema_vs.variables();
        let want = Tensor::from_slice(&[1.0f32, 2.0, 3.0]) * (1.0 - beta.powi(3));
        assert!(v["w"].allclose(&want, 1e-6, 1e-6, false));
        assert!(v["running"].equal(&Tensor::from_slice(&[5.0f32, 6.0])));
        let other = VarStore::new(Device::Cpu);
        let _ = other.root().var("x", &[3], nn::Init::Const(0.0));
        assert!(Ema::new(EmaConfig::default(), &other, &src).is_err());
    }
}
