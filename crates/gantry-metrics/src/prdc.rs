//! Precision and recall (Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing
//! Generative Models", NeurIPS 2019) and density and coverage (Naeem et al., "Reliable Fidelity and
//! Diversity Metrics for Generative Models", ICML 2020), on feature vectors.
//!
//! Each sample of a reference set gets a ball whose radius is the distance to its k-th nearest
//! neighbour in its own set (itself excluded):
//!
//! ```text
//! precision = share of fakes inside some real ball                   (k = 3)
//! recall    = share of reals inside some fake ball                   (k = 3)
//! density   = 1/(k·M) Σ_fakes #{real balls containing the fake}       (k = 5)
//! coverage  = share of reals whose ball contains some fake            (k = 5)
//! ```
//!
//! Distances are squared L2 (monotone in L2, so the balls are the same), membership is `≤`, and
//! everything is computed in row × column blocks so that 50k × 50k distance matrices never exist.
//! Distances come from `‖x‖² + ‖y‖² − 2xᵀy` in f32 (as StyleGAN2-ADA's), so block shapes change
//! them only by rounding.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::{MetricError, Result};

/// The protocol and the block sizes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrdcConfig {
    /// Neighbour index of precision/recall radii (3 in Kynkäänniemi et al.).
    pub k_pr: usize,
    /// Neighbour index of density/coverage radii (5 in Naeem et al.).
    pub k_dc: usize,
    /// Rows per block.
    pub row_block: i64,
    /// Columns per block.
    pub col_block: i64,
}

impl Default for PrdcConfig {
    fn default() -> Self {
        Self { k_pr: 3, k_dc: 5, row_block: 1024, col_block: 8192 }
    }
}

/// The four numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prdc {
    pub precision: f64,
    pub recall: f64,
    pub density: f64,
    pub coverage: f64,
}

/// Squared L2 distances `[a, b]` between the rows of `x` `[a, d]` and `y` `[b, d]`.
pub fn squared_distances(x: &Tensor, y: &Tensor) -> Tensor {
    let xx = x.square().sum_dim_intlist([1i64].as_slice(), true, Kind::Float); // [a, 1]
    let yy = y.square().sum_dim_intlist([1i64].as_slice(), true, Kind::Float).tr(); // [1, b]
    (xx + yy - x.matmul(&y.tr()) * 2.0).clamp_min(0.0)
}

/// Blocks of `[start, len)` covering `0..n`.
fn blocks(n: i64, size: i64) -> impl Iterator<Item = (i64, i64)> {
    (0..n).step_by(size.max(1) as usize).map(move |s| (s, size.max(1).min(n - s)))
}

/// The squared distance from each row of `x` `[N, d]` to its k-th nearest other row (the
/// (k+1)-th smallest including itself at distance 0, as StyleGAN2-ADA computes it).
pub fn kth_neighbour_radii(x: &Tensor, k: usize, cfg: &PrdcConfig) -> Tensor {
    let n = x.size()[0];
    let keep = (k as i64 + 1).min(n);
    let mut out = Vec::new();
    for (rs, rl) in blocks(n, cfg.row_block) {
        let rows = x.narrow(0, rs, rl);
        let mut best: Option<Tensor> = None;
        for (cs, cl) in blocks(n, cfg.col_block) {
            let d = squared_distances(&rows, &x.narrow(0, cs, cl));
            let cand = match &best {
                Some(b) => Tensor::cat(&[b.shallow_clone(), d], 1),
                None => d,
            };
            let kk = keep.min(cand.size()[1]);
            best = Some(cand.topk(kk, 1, false, true).0);
        }
        out.push(best.expect("at least one column block").select(1, keep - 1));
    }
    Tensor::cat(&out, 0)
}

/// For each probe row: the number of reference balls (centres `refs`, squared radii `radii`)
/// containing it, and the distance to its nearest reference.
fn probe(probes: &Tensor, refs: &Tensor, radii: &Tensor, cfg: &PrdcConfig) -> (Tensor, Tensor) {
    let (p, r) = (probes.size()[0], refs.size()[0]);
    let (mut counts, mut nearest) = (Vec::new(), Vec::new());
    for (rs, rl) in blocks(p, cfg.row_block) {
        let rows = probes.narrow(0, rs, rl);
        let mut count = Tensor::zeros([rl], (Kind::Int64, probes.device()));
        let mut near = Tensor::full([rl], f64::INFINITY, (Kind::Float, probes.device()));
        for (cs, cl) in blocks(r, cfg.col_block) {
            let d = squared_distances(&rows, &refs.narrow(0, cs, cl)); // [rl, cl]
            let inside = d.le_tensor(&radii.narrow(0, cs, cl).unsqueeze(0));
            count += inside.sum_dim_intlist([1i64].as_slice(), false, Kind::Int64);
            near = near.minimum(&d.amin([1i64].as_slice(), false));
        }
        counts.push(count);
        nearest.push(near);
    }
    (Tensor::cat(&counts, 0), Tensor::cat(&nearest, 0))
}

/// Precision, recall, density and coverage of `fake` `[M, d]` against `real` `[N, d]`.
pub fn prdc(real: &Tensor, fake: &Tensor, cfg: &PrdcConfig) -> Result<Prdc> {
    if real.size()[1] != fake.size()[1] {
        return Err(MetricError::Dims { a: real.size()[1], b: fake.size()[1] });
    }
    let need = cfg.k_pr.max(cfg.k_dc) + 1;
    for (what, t) in [("real features", real), ("fake features", fake)] {
        if (t.size()[0] as usize) < need {
            return Err(MetricError::TooFew { what: what.into(), need, found: t.size()[0] as usize });
        }
    }
    let (real, fake) = (real.to_kind(Kind::Float), fake.to_kind(Kind::Float));
    let mean_f = |t: &Tensor| t.to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    let real_r3 = kth_neighbour_radii(&real, cfg.k_pr, cfg);
    let fake_r3 = kth_neighbour_radii(&fake, cfg.k_pr, cfg);
    let precision = mean_f(&probe(&fake, &real, &real_r3, cfg).0.gt(0));
    let recall = mean_f(&probe(&real, &fake, &fake_r3, cfg).0.gt(0));
    let real_r5 = if cfg.k_dc == cfg.k_pr { real_r3 } else { kth_neighbour_radii(&real, cfg.k_dc, cfg) };
    let density = mean_f(&probe(&fake, &real, &real_r5, cfg).0) / cfg.k_dc as f64;
    let (_, nearest_fake) = probe(&real, &fake, &real_r5, cfg);
    let coverage = mean_f(&nearest_fake.le_tensor(&real_r5));
    Ok(Prdc { precision, recall, density, coverage })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// `n` samples of scale·N(0, I_d) from a seeded generator (Box–Muller).
    fn normal(n: i64, d: i64, scale: f64, seed: u64) -> Tensor {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let v: Vec<f32> = (0..n * d)
            .map(|_| {
                let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
                (scale * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
            })
            .collect();
        Tensor::from_slice(&v).reshape([n, d])
    }

    #[test]
    fn the_narrow_inside_wide_convention() {
        // Generated 0.1·N(0, I) inside real 3·N(0, I), 16-d: high precision, low recall.
        let (real, fake) = (normal(2000, 16, 3.0, 1), normal(2000, 16, 0.1, 2));
        let r = prdc(&real, &fake, &PrdcConfig::default()).unwrap();
        assert!(r.precision > 0.8 && r.recall < 0.3, "{r:?}");
    }

    #[test]
    fn identical_distributions_score_near_one() {
        let (a, b) = (normal(1500, 8, 1.0, 3), normal(1500, 8, 1.0, 4));
        let r = prdc(&a, &b, &PrdcConfig::default()).unwrap();
        assert!(
            r.precision > 0.6 && r.recall > 0.6 && (r.density - 1.0).abs() < 0.15 && r.coverage > 0.9,
            "{r:?}"
        );
        let same = prdc(&a, &a, &PrdcConfig::default()).unwrap();
        assert_eq!((same.precision, same.recall, same.coverage), (1.0, 1.0, 1.0));
    }

    #[test]
    fn blocking_does_not_change_the_result() {
        let (a, b) = (normal(300, 5, 1.0, 5), normal(250, 5, 1.3, 6));
        let whole =
            prdc(&a, &b, &PrdcConfig { row_block: 100_000, col_block: 100_000, ..Default::default() })
                .unwrap();
        let small = prdc(&a, &b, &PrdcConfig { row_block: 7, col_block: 13, ..Default::default() }).unwrap();
        assert_eq!(whole, small);
        let r1 = kth_neighbour_radii(
            &a,
            3,
            &PrdcConfig { row_block: 100_000, col_block: 100_000, ..Default::default() },
        );
        let r2 =
            kth_neighbour_radii(&a, 3, &PrdcConfig { row_block: 11, col_block: 2, ..Default::default() });
        // Equal up to the rounding of differently shaped matrix products.
        assert!(r1.allclose(&r2, 1e-5, 1e-6, false));
    }

    #[test]
    fn radii_by_hand() {
        // Points 0, 1, 3, 7 on a line: nearest others are at 1, 1, 2, 4 (squared: 1, 1, 4, 16).
        let x = Tensor::from_slice(&[0.0f32, 1.0, 3.0, 7.0]).reshape([4, 1]);
        let r: Vec<f32> = Vec::try_from(kth_neighbour_radii(&x, 1, &PrdcConfig::default())).unwrap();
        assert_eq!(r, vec![1.0, 1.0, 4.0, 16.0]);
        assert!(prdc(&x, &x, &PrdcConfig::default()).unwrap_err().to_string().contains("at least 6"));
    }
}
