//! Low-dimensional toy distributions with known modes, and how well samples cover them.
//!
//! - `ring`: 8 Gaussians of σ = 0.02 on a circle of radius 2 (Metz et al., "Unrolled GANs", 2017).
//! - `grid`: 5×5 Gaussians of σ = 0.05 at {−4, −2, 0, 2, 4}² (Dumoulin et al. 2017; Srivastava et al. 2017).
//! - `gaussian1d`: one 1-D Gaussian (the lectures' toy, where G(z) = z + θ slides onto the data).
//!
//! Sampling uses gantry's own seeded generator (ChaCha8 + Box–Muller), never libtorch's global one,
//! so a batch depends on its seed alone.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// A toy distribution (in a config: `[data] toy = { kind = "ring", modes = 8, radius = 2.0, std = 0.02 }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Toy {
    /// `modes` Gaussians evenly spaced on a circle.
    Ring {
        /// Number of Gaussians on the circle (the first at angle 0).
        modes: usize,
        /// Radius of the circle the means lie on.
        radius: f64,
        /// Standard deviation σ of each Gaussian, in every coordinate.
        std: f64,
    },
    /// `side`×`side` Gaussians on a square lattice centred at the origin.
    Grid {
        /// Number of Gaussians along each axis.
        side: usize,
        /// Distance between neighbouring means along an axis.
        spacing: f64,
        /// Standard deviation σ of each Gaussian, in every coordinate.
        std: f64,
    },
    /// One Gaussian on the line.
    Gaussian1d {
        /// The mean.
        mean: f64,
        /// The standard deviation σ.
        std: f64,
    },
}

impl Toy {
    /// The ring of 8 Gaussians (radius 2, σ = 0.02).
    pub fn ring() -> Self {
        Toy::Ring { modes: 8, radius: 2.0, std: 0.02 }
    }

    /// The 5×5 grid (spacing 2, σ = 0.05).
    pub fn grid() -> Self {
        Toy::Grid { side: 5, spacing: 2.0, std: 0.05 }
    }

    /// Dimension of a sample.
    pub fn dim(&self) -> usize {
        match self {
            Toy::Gaussian1d { .. } => 1,
            _ => 2,
        }
    }

    /// The standard deviation of every component.
    pub fn std(&self) -> f64 {
        match *self {
            Toy::Ring { std, .. } | Toy::Grid { std, .. } | Toy::Gaussian1d { std, .. } => std,
        }
    }

    /// The component means.
    pub fn modes(&self) -> Vec<Vec<f64>> {
        match *self {
            Toy::Ring { modes, radius, .. } => (0..modes)
                .map(|k| {
                    let a = 2.0 * std::f64::consts::PI * k as f64 / modes as f64;
                    vec![radius * a.cos(), radius * a.sin()]
                })
                .collect(),
            Toy::Grid { side, spacing, .. } => {
                let off = (side as f64 - 1.0) / 2.0;
                (0..side * side)
                    .map(|k| vec![((k / side) as f64 - off) * spacing, ((k % side) as f64 - off) * spacing])
                    .collect()
            }
            Toy::Gaussian1d { mean, .. } => vec![vec![mean]],
        }
    }

    /// `n` samples `[n, dim]` (f32, CPU): a uniformly chosen mode plus N(0, σ²) noise.
    pub fn sample(&self, n: usize, seed: u64) -> Tensor {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let modes = self.modes();
        let (dim, std) = (self.dim(), self.std());
        let mut out = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let m = &modes[rng.random_range(0..modes.len())];
            for &mu in m {
                out.push((mu + std * standard_normal(&mut rng)) as f32);
            }
        }
        Tensor::from_slice(&out).reshape([n as i64, dim as i64])
    }
}

pub use gantry_core::latent::standard_normal;

/// How generated samples cover a toy's modes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coverage {
    /// Modes that received at least `min_share` of the samples within 3σ.
    pub modes_covered: usize,
    /// Total number of modes.
    pub modes: usize,
    /// Share of samples within 3σ of some mode ("high-quality" samples).
    pub high_quality: f64,
}

/// Scores samples `[n, dim]` against `toy`: a sample belongs to its nearest mode when within 3σ;
/// a mode is covered when it holds at least `min_share` of all samples (1% in Srivastava et al.).
pub fn coverage(toy: &Toy, samples: &Tensor, min_share: f64) -> Coverage {
    coverage_within(toy, samples, min_share, 3.0 * toy.std())
}

/// [`coverage`] with another radius around each mode (e.g. a fraction of the distance between
/// modes, to tell "reaches every mode, not yet sharply" from "collapsed").
pub fn coverage_within(toy: &Toy, samples: &Tensor, min_share: f64, radius: f64) -> Coverage {
    let modes = toy.modes();
    let dim = toy.dim() as i64;
    let pts: Vec<f32> =
        Vec::try_from(samples.to_device(tch::Device::Cpu).reshape([-1]).to_kind(tch::Kind::Float))
            .unwrap_or_default();
    let n = pts.len() / dim as usize;
    let mut counts = vec![0usize; modes.len()];
    let mut good = 0usize;
    for p in pts.chunks_exact(dim as usize) {
        let nearest = modes
            .iter()
            .enumerate()
            .map(|(k, m)| (k, m.iter().zip(p).map(|(a, &b)| (a - b as f64).powi(2)).sum::<f64>().sqrt()))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((k, d)) = nearest {
            if d <= radius {
                counts[k] += 1;
                good += 1;
            }
        }
    }
    let need = (min_share * n as f64).ceil().max(1.0) as usize;
    Coverage {
        modes_covered: counts.iter().filter(|&&c| c >= need).count(),
        modes: modes.len(),
        high_quality: if n == 0 { 0.0 } else { good as f64 / n as f64 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_from_the_data_cover_every_mode() {
        for toy in [Toy::ring(), Toy::grid()] {
            let x = toy.sample(5000, 7);
            assert_eq!(x.size(), vec![5000, 2]);
            let c = coverage(&toy, &x, 0.01);
            assert_eq!(c.modes_covered, c.modes);
            // 3σ holds 1 − e^(−4.5) = 98.89% of a 2-D Gaussian (χ² with 2 degrees of freedom).
            assert!((c.high_quality - 0.9889).abs() < 0.006, "{c:?}");
        }
        assert!(Toy::ring().sample(10, 1).equal(&Toy::ring().sample(10, 1)));
        assert!(!Toy::ring().sample(10, 1).equal(&Toy::ring().sample(10, 2)));
    }

    #[test]
    fn a_collapsed_generator_covers_one_mode() {
        let toy = Toy::ring();
        let x = Tensor::from_slice(&[2.0f32, 0.0]).repeat([100, 1]);
        let c = coverage(&toy, &x, 0.01);
        assert_eq!((c.modes_covered, c.high_quality), (1, 1.0));
        let far = Tensor::zeros([50, 2], tch::kind::FLOAT_CPU);
        assert_eq!(coverage(&toy, &far, 0.01).high_quality, 0.0);
        // 0.1 off every mode: outside 3σ = 0.06, inside a radius of 0.25.
        let off: Vec<f32> = toy.modes().iter().flat_map(|m| [m[0] as f32 + 0.1, m[1] as f32]).collect();
        let off = Tensor::from_slice(&off).reshape([8, 2]);
        assert_eq!(coverage(&toy, &off, 0.01).modes_covered, 0);
        assert_eq!(coverage_within(&toy, &off, 0.01, 0.25).modes_covered, 8);
    }

    #[test]
    fn sample_moments() {
        let toy = Toy::Gaussian1d { mean: 4.0, std: 0.5 };
        let x = toy.sample(20000, 3);
        let mean = x.mean(tch::Kind::Double).double_value(&[]);
        let std = x.std(true).double_value(&[]);
        assert!((mean - 4.0).abs() < 0.02 && (std - 0.5).abs() < 0.02, "{mean} {std}");
    }
}
