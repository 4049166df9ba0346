//! The priors an adversarial autoencoder matches its codes to, each written as a transform of
//! standard normal noise so that one noise vector gives one prior sample:
//!
//! | `prior.kind` | p(z) | noise |
//! |---|---|---|
//! | `gaussian` | N(0, σ²I) (the paper's MNIST: σ = 5) | `[N, d]`: z = σ·g |
//! | `mixture` | K Gaussians on a circle in 2-D | `[N, 3]`: g₀, g₁ shape the point, Φ(g₂) picks the component |
//! | `swiss-roll` | the 2-D swiss roll, K segments along it | `[N, 3]`: Φ(g₂) is the position along the roll |
//! | `empirical` | samples read from a `.npy` file (`prior.file`) | `[N, d + 1]`: Φ(g_d) picks a sample |
//!
//! Φ is the standard normal CDF, so Φ(g) is uniform on (0, 1). The mixture and the swiss roll are
//! the ones the widely used AAE code draws (hwalsuklee/tensorflow-mnist-AAE, `prior_factory.py`):
//! component k of the mixture is N(0, diag(0.5², 0.1²)) shifted by 1.4 along x and rotated by
//! 2πk/K; the swiss roll's point at t ∈ [0, 1) is (3√t cos 4π√t, 3√t sin 4π√t), segment k being
//! t ∈ [k/K, (k+1)/K).
//!
//! Labels (the supervised AAE) pick the component or segment instead of the noise.
//!
//! The gantry latent of an AAE is this noise: `gantry sample` draws it from gantry's seeded
//! generator and decodes the prior sample it makes.

use gantry_nn::InvalidConfig;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// Which prior.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriorKind {
    /// N(0, σ²I).
    Gaussian,
    /// The 2-D mixture of 10 Gaussians on a circle.
    Mixture,
    /// The 2-D swiss roll.
    SwissRoll,
    /// Samples from a `.npy` file.
    Empirical,
}

impl PriorKind {
    /// Its name in configs.
    pub fn name(self) -> &'static str {
        match self {
            PriorKind::Gaussian => "gaussian",
            PriorKind::Mixture => "mixture",
            PriorKind::SwissRoll => "swiss-roll",
            PriorKind::Empirical => "empirical",
        }
    }
}

fn five() -> f64 {
    5.0
}

fn ten() -> i64 {
    10
}

/// The prior of a run (`[prior]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorConfig {
    /// Which distribution.
    pub kind: PriorKind,
    /// σ of the Gaussian prior.
    #[serde(default = "five")]
    pub sigma: f64,
    /// Components of the mixture, segments of the swiss roll (the classes labels tie to).
    #[serde(default = "ten")]
    pub components: i64,
    /// The `.npy` file of samples `[N, code_dim]` (float32 or float64) of the empirical prior.
    #[serde(default)]
    pub file: String,
}

impl PriorConfig {
    /// N(0, σ²I).
    pub fn gaussian(sigma: f64) -> Self {
        Self { kind: PriorKind::Gaussian, sigma, components: 10, file: String::new() }
    }

    /// The 2-D mixture of `k` Gaussians.
    pub fn mixture(k: i64) -> Self {
        Self { kind: PriorKind::Mixture, components: k, ..Self::gaussian(5.0) }
    }

    /// The 2-D swiss roll in `k` segments.
    pub fn swiss_roll(k: i64) -> Self {
        Self { kind: PriorKind::SwissRoll, components: k, ..Self::gaussian(5.0) }
    }

    /// Samples from a file.
    pub fn empirical(file: &str) -> Self {
        Self { kind: PriorKind::Empirical, file: file.into(), ..Self::gaussian(5.0) }
    }

    /// Checks the settings against the code size; the error names the key.
    pub fn validate(&self, code_dim: i64) -> Result<(), InvalidConfig> {
        match self.kind {
            PriorKind::Gaussian if !(self.sigma > 0.0 && self.sigma.is_finite()) => {
                Err(InvalidConfig(format!("prior.sigma: expected a finite value > 0, found {}", self.sigma)))
            }
            PriorKind::Mixture | PriorKind::SwissRoll if code_dim != 2 => Err(InvalidConfig(format!(
                "model.code_dim: the {} prior is 2-D, found code_dim = {code_dim}",
                self.kind.name()
            ))),
            PriorKind::Mixture | PriorKind::SwissRoll if !(1..=1000).contains(&self.components) => {
                Err(InvalidConfig(format!("prior.components: expected 1 to 1000, found {}", self.components)))
            }
            PriorKind::Empirical if self.file.is_empty() => {
                Err(InvalidConfig("prior.file: the empirical prior needs a .npy file of samples".to_string()))
            }
            _ => Ok(()),
        }
    }

    /// The classes labels can tie to (components or segments); None for priors without any.
    pub fn classes(&self) -> Option<i64> {
        matches!(self.kind, PriorKind::Mixture | PriorKind::SwissRoll).then_some(self.components)
    }
}

/// The mixture's component shape and placement (hwalsuklee/tensorflow-mnist-AAE).
pub const MIXTURE_STD: (f64, f64) = (0.5, 0.1);
/// Distance of each mixture component's mean from the origin.
pub const MIXTURE_SHIFT: f64 = 1.4;

/// A prior ready to draw from: its settings, the code size, and the empirical samples.
#[derive(Debug)]
pub struct Prior {
    /// Its settings.
    pub cfg: PriorConfig,
    /// The code size it draws.
    pub code_dim: i64,
    samples: Option<Tensor>,
}

/// Φ(g): the standard normal CDF, uniform noise from normal noise.
pub fn normal_cdf(g: &Tensor) -> Tensor {
    ((g / std::f64::consts::SQRT_2).erf() + 1.0) * 0.5
}

impl Prior {
    /// A prior over `code_dim`-dimensional codes; `samples` `[N, code_dim]` for the empirical one.
    pub fn new(cfg: PriorConfig, code_dim: i64, samples: Option<Tensor>) -> Result<Self, InvalidConfig> {
        cfg.validate(code_dim)?;
        let samples = match (cfg.kind, samples) {
            (PriorKind::Empirical, Some(s)) => {
                let sz = s.size();
                if sz.len() != 2 || sz[1] != code_dim || sz[0] < 1 {
                    return Err(InvalidConfig(format!(
                        "{}: expected samples [N, {code_dim}] (model.code_dim), found {sz:?}",
                        cfg.file
                    )));
                }
                Some(s.to_kind(Kind::Float))
            }
            (PriorKind::Empirical, None) => {
                return Err(InvalidConfig("the empirical prior needs its samples".to_string()))
            }
            _ => None,
        };
        Ok(Self { cfg, code_dim, samples })
    }

    /// The noise one sample is made from.
    pub fn noise_dim(&self) -> i64 {
        match self.cfg.kind {
            PriorKind::Gaussian => self.code_dim,
            _ => self.code_dim + 1,
        }
    }

    /// Prior samples `[N, code_dim]` from standard normal noise `[N, noise_dim]`; `labels` `[N]`
    /// (in `0..components`) pick the mixture component / swiss-roll segment.
    pub fn transform(&self, g: &Tensor, labels: Option<&Tensor>) -> Tensor {
        let g = g.to_kind(Kind::Float);
        let k = self.cfg.components;
        match self.cfg.kind {
            PriorKind::Gaussian => g * self.cfg.sigma,
            PriorKind::Mixture => {
                let u = normal_cdf(&g.select(1, 2));
                let comp = match labels {
                    Some(l) => l.to_device(g.device()).to_kind(Kind::Float),
                    None => (u * k as f64).floor().clamp(0.0, (k - 1) as f64),
                };
                let x = g.select(1, 0) * MIXTURE_STD.0 + MIXTURE_SHIFT;
                let y = g.select(1, 1) * MIXTURE_STD.1;
                let r = comp * (2.0 * std::f64::consts::PI / k as f64);
                let (c, s) = (r.cos(), r.sin());
                Tensor::stack(&[&x * &c - &y * &s, &x * &s + &y * &c], 1)
            }
            PriorKind::SwissRoll => {
                let u = normal_cdf(&g.select(1, 2));
                let t = match labels {
                    Some(l) => (u + l.to_device(g.device()).to_kind(Kind::Float)) / k as f64,
                    None => u,
                };
                let root = t.sqrt();
                let (r, theta) = (&root * 3.0, &root * (4.0 * std::f64::consts::PI));
                Tensor::stack(&[&r * theta.cos(), &r * theta.sin()], 1)
            }
            PriorKind::Empirical => {
                let s = self.samples.as_ref().expect("checked in new");
                let n = s.size()[0];
                let u = normal_cdf(&g.select(1, self.code_dim));
                let idx = (u * n as f64).floor().clamp(0.0, (n - 1) as f64).to_kind(Kind::Int64);
                s.to_device(g.device()).index_select(0, &idx)
            }
        }
    }

    /// `n` prior samples on `device` from libtorch's generator.
    pub fn sample(&self, n: i64, labels: Option<&Tensor>, device: Device) -> Tensor {
        let g = Tensor::randn([n, self.noise_dim()], (Kind::Float, device));
        self.transform(&g, labels)
    }

    /// The component of the 2-D mixture each code `[N, 2]` is most likely under (`[N]`, i64);
    /// None for other priors.
    pub fn component_of(&self, codes: &Tensor) -> Option<Tensor> {
        if self.cfg.kind != PriorKind::Mixture {
            return None;
        }
        let k = self.cfg.components;
        let z = codes.to_kind(Kind::Float);
        let r = Tensor::arange(k, (Kind::Float, z.device())) * (2.0 * std::f64::consts::PI / k as f64);
        let (c, s) = (r.cos().unsqueeze(0), r.sin().unsqueeze(0)); // [1, K]
        let (zx, zy) = (z.select(1, 0).unsqueeze(1), z.select(1, 1).unsqueeze(1)); // [N, 1]
                                                                                   // Rotate each code back by component k's angle; its density there is N(shift, 0.5²) × N(0, 0.1²).
        let x = &zx * &c + &zy * &s - MIXTURE_SHIFT;
        let y = -&zx * &s + &zy * &c;
        let log_p =
            -(x.square() / (2.0 * MIXTURE_STD.0.powi(2)) + y.square() / (2.0 * MIXTURE_STD.1.powi(2)));
        Some(log_p.argmax(1, false))
    }

    /// The empirical prior's samples.
    pub fn samples(&self) -> Option<&Tensor> {
        self.samples.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(z: &Tensor) -> (Vec<f64>, Vec<f64>) {
        let z = z.to_kind(Kind::Double);
        let mean = z.mean_dim(0, false, Kind::Double);
        let c = &z - &mean;
        let cov = c.transpose(0, 1).matmul(&c) / (z.size()[0] - 1) as f64;
        (Vec::try_from(mean).unwrap(), Vec::try_from(cov.flatten(0, -1)).unwrap())
    }

    #[test]
    fn gaussian_prior_has_sigma_squared_covariance() {
        tch::manual_seed(0);
        let p = Prior::new(PriorConfig::gaussian(5.0), 8, None).unwrap();
        let (m, c) = stats(&p.sample(200_000, None, Device::Cpu));
        for i in 0..8 {
            assert!(m[i].abs() < 0.05, "mean {m:?}");
            assert!((c[i * 8 + i] - 25.0).abs() < 0.4, "var {}", c[i * 8 + i]);
        }
    }

    #[test]
    fn mixture_moments_match_the_closed_form() {
        // Component k: mean 1.4·(cos θk, sin θk), covariance R diag(0.25, 0.01) Rᵀ. Over K = 10
        // equally likely components on a circle: mean 0, covariance
        // ((0.25 + 0.01)/2 + 1.4²/2)·I = 1.11·I.
        tch::manual_seed(1);
        let p = Prior::new(PriorConfig::mixture(10), 2, None).unwrap();
        let (m, c) = stats(&p.sample(400_000, None, Device::Cpu));
        assert!(m[0].abs() < 0.01 && m[1].abs() < 0.01, "mean {m:?}");
        assert!((c[0] - 1.11).abs() < 0.01 && (c[3] - 1.11).abs() < 0.01, "cov {c:?}");
        assert!(c[1].abs() < 0.01, "cov {c:?}");
        // One component, by label: its own mean and covariance.
        let k = 3;
        let labels = Tensor::full([200_000], k, (Kind::Int64, Device::Cpu));
        let (m, c) = stats(&p.sample(200_000, Some(&labels), Device::Cpu));
        let th = 2.0 * std::f64::consts::PI * k as f64 / 10.0;
        assert!((m[0] - 1.4 * th.cos()).abs() < 0.01 && (m[1] - 1.4 * th.sin()).abs() < 0.01, "{m:?}");
        let (cs, sn) = (th.cos(), th.sin());
        let want = [
            0.25 * cs * cs + 0.01 * sn * sn,
            (0.25 - 0.01) * cs * sn,
            (0.25 - 0.01) * cs * sn,
            0.25 * sn * sn + 0.01 * cs * cs,
        ];
        for (got, want) in c.iter().zip(want) {
            assert!((got - want).abs() < 0.005, "cov {c:?} vs {want:?}");
        }
    }

    #[test]
    fn mixture_components_are_recovered_from_their_samples() {
        tch::manual_seed(2);
        let p = Prior::new(PriorConfig::mixture(10), 2, None).unwrap();
        let labels = Tensor::arange(10, (Kind::Int64, Device::Cpu)).repeat([1000]);
        let z = p.sample(10_000, Some(&labels), Device::Cpu);
        let found = p.component_of(&z).unwrap();
        let agree = found.eq_tensor(&labels).to_kind(Kind::Float).mean(Kind::Float).double_value(&[]);
        // Neighbouring components overlap near the origin (radial σ 0.5 against a shift of 1.4):
        // about 1.6% of the samples lie closer to a neighbour's density.
        assert!(agree > 0.975, "{agree}");
    }

    #[test]
    fn swiss_roll_segments_follow_the_labels() {
        tch::manual_seed(3);
        let p = Prior::new(PriorConfig::swiss_roll(10), 2, None).unwrap();
        let labels = Tensor::full([5000], 9, (Kind::Int64, Device::Cpu));
        let z = p.sample(5000, Some(&labels), Device::Cpu);
        // Segment 9 is t ∈ [0.9, 1): radius 3√t ∈ [2.846, 3).
        let r = z.square().sum_dim_intlist(1, false, Kind::Float).sqrt();
        let (lo, hi) = (r.min().double_value(&[]), r.max().double_value(&[]));
        assert!(lo >= 3.0 * 0.9f64.sqrt() - 1e-4 && hi <= 3.0 + 1e-4, "{lo} {hi}");
        // Unlabelled: t uniform, so E[r²] = 9·E[t] = 4.5.
        let z = p.sample(200_000, None, Device::Cpu);
        let r2 = z.square().sum_dim_intlist(1, false, Kind::Double).mean(Kind::Double).double_value(&[]);
        assert!((r2 - 4.5).abs() < 0.03, "{r2}");
    }

    #[test]
    fn empirical_prior_draws_its_samples_uniformly() {
        tch::manual_seed(4);
        let s = Tensor::from_slice(&[0.0f32, 0.0, 10.0, 0.0, 0.0, 10.0, 10.0, 10.0]).reshape([4, 2]);
        let p = Prior::new(PriorConfig::empirical("x.npy"), 2, Some(s)).unwrap();
        assert_eq!(p.noise_dim(), 3);
        let z = p.sample(40_000, None, Device::Cpu);
        let (m, _) = stats(&z);
        assert!((m[0] - 5.0).abs() < 0.1 && (m[1] - 5.0).abs() < 0.1, "{m:?}");
        let e =
            Prior::new(PriorConfig::empirical("x.npy"), 3, Some(Tensor::zeros([4, 2], tch::kind::FLOAT_CPU)));
        assert!(e.unwrap_err().0.contains("[N, 3]"));
    }

    #[test]
    fn bad_settings_name_the_key() {
        assert!(PriorConfig::mixture(10).validate(8).unwrap_err().0.contains("model.code_dim"));
        assert!(PriorConfig::gaussian(0.0).validate(8).unwrap_err().0.contains("prior.sigma"));
        assert!(PriorConfig::empirical("").validate(8).unwrap_err().0.contains("prior.file"));
    }
}
