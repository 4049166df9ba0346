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
        Self { k_pr: 3, k_dc: 5, row_block: 1024, col_block: 16384 }
    }
}

/// The four numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prdc {
    /// Share of fakes inside some real sample's k-NN ball, in [0, 1].
    pub precision: f64,
    /// Share of reals inside some fake sample's k-NN ball, in [0, 1].
    pub recall: f64,
    /// Mean count of real balls containing each fake, divided by k: about 1 when the sets match, and
    /// may exceed 1.
    pub density: f64,
    /// Share of reals whose k-NN ball contains some fake, in [0, 1].
    pub coverage: f64,
}

/// Squared L2 distances `[a, b]` between the rows of `x` `[a, d]` and `y` `[b, d]`.
pub fn squared_distances(x: &Tensor, y: &Tensor) -> Tensor {
    distances_with_norms(x, y, &row_norms(y))
}

/// Squared row norms `[1, b]` of `y` `[b, d]`.
fn row_norms(y: &Tensor) -> Tensor {
    y.square().sum_dim_intlist([1i64].as_slice(), true, Kind::Float).tr()
}

/// [`squared_distances`] with the columns' squared norms `yy` `[1, b]` given: `−2xᵀy` by a plain
/// matrix multiply, then both norms added and the result clamped at 0, all in place (a broadcast
/// `addmm` costs twice the product on CPU).
fn distances_with_norms(x: &Tensor, y: &Tensor, yy: &Tensor) -> Tensor {
    let xx = x.square().sum_dim_intlist([1i64].as_slice(), true, Kind::Float); // [a, 1]
    let mut d = (x * -2.0).mm(&y.tr()); // −2xᵀy, [a, b]
    d += xx;
    d += yy;
    let _ = d.clamp_min_(0.0);
    d
}

/// Blocks of `[start, len)` covering `0..n`.
fn blocks(n: i64, size: i64) -> impl Iterator<Item = (i64, i64)> {
    (0..n).step_by(size.max(1) as usize).map(move |s| (s, size.max(1).min(n - s)))
}

/// The squared distance from each row of `x` `[N, d]` to its k-th nearest other row (the
/// (k+1)-th smallest including itself at distance 0, as StyleGAN2-ADA computes it): the k+1
/// smallest of each column block (`topk`, ten times faster than `kthvalue` on CPU), merged.
pub fn kth_neighbour_radii(x: &Tensor, k: usize, cfg: &PrdcConfig) -> Tensor {
    let n = x.size()[0];
    let keep = (k as i64 + 1).min(n);
    let norms = row_norms(x); // [1, n]
    let mut out = Vec::new();
    for (rs, rl) in blocks(n, cfg.row_block) {
        let rows = x.narrow(0, rs, rl);
        let mut best: Option<Tensor> = None;
        for (cs, cl) in blocks(n, cfg.col_block) {
            let d = distances_with_norms(&rows, &x.narrow(0, cs, cl), &norms.narrow(1, cs, cl));
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

/// What one pass over the fake × real distances yields.
struct Cross {
    /// Per fake, how many real balls of each radii set contain it.
    counts: Vec<Tensor>,
    /// Per real, whether some fake ball (of `fake_radii`) contains it.
    in_fake: Tensor,
    /// Per real, the distance to its nearest fake.
    nearest: Tensor,
}

/// One pass over the squared distances between `fake` `[M, d]` (rows) and `real` `[N, d]`
/// (columns), each computed once: row-wise, the counts of real balls (squared radii `[N]` per
/// set in `real_radii`) containing each fake; column-wise, whether each real lies in some fake
/// ball (squared radii `fake_radii` `[M]`) and its nearest fake distance. Precision, density,
/// recall and coverage all come from this pass.
fn cross(
    fake: &Tensor,
    real: &Tensor,
    real_radii: &[&Tensor],
    fake_radii: &Tensor,
    cfg: &PrdcConfig,
) -> Cross {
    let (m, n) = (fake.size()[0], real.size()[0]);
    let dev = fake.device();
    let norms = row_norms(real); // [1, n]
    let mut counts: Vec<Vec<Tensor>> = real_radii.iter().map(|_| Vec::new()).collect();
    let in_fake = Tensor::zeros([n], (Kind::Bool, dev));
    let nearest = Tensor::full([n], f64::INFINITY, (Kind::Float, dev));
    for (rs, rl) in blocks(m, cfg.row_block) {
        let rows = fake.narrow(0, rs, rl);
        let own = fake_radii.narrow(0, rs, rl).unsqueeze(1); // [rl, 1]
        let mut c: Vec<Tensor> = real_radii.iter().map(|_| Tensor::zeros([rl], (Kind::Int64, dev))).collect();
        for (cs, cl) in blocks(n, cfg.col_block) {
            let d = distances_with_norms(&rows, &real.narrow(0, cs, cl), &norms.narrow(1, cs, cl)); // [rl, cl]
            for (acc, rad) in c.iter_mut().zip(real_radii) {
                *acc += d.le_tensor(&rad.narrow(0, cs, cl).unsqueeze(0)).sum_dim_intlist(
                    [1i64].as_slice(),
                    false,
                    Kind::Int64,
                );
            }
            let hit = d.le_tensor(&own).any_dims([0i64].as_slice(), false);
            let _ = in_fake.narrow(0, cs, cl).logical_or_(&hit);
            let mut near = nearest.narrow(0, cs, cl);
            let closest = d.amin([0i64].as_slice(), false);
            near.copy_(&near.minimum(&closest));
        }
        for (all, x) in counts.iter_mut().zip(c) {
            all.push(x);
        }
    }
    Cross { counts: counts.into_iter().map(|v| Tensor::cat(&v, 0)).collect(), in_fake, nearest }
}

fn check(real: &Tensor, fake: &Tensor, k: usize) -> Result<()> {
    if real.size()[1] != fake.size()[1] {
        return Err(MetricError::Dims { a: real.size()[1], b: fake.size()[1] });
    }
    for (what, t) in [("real features", real), ("fake features", fake)] {
        if (t.size()[0] as usize) < k + 1 {
            return Err(MetricError::TooFew { what: what.into(), need: k + 1, found: t.size()[0] as usize });
        }
    }
    Ok(())
}

/// Precision and recall alone (k = `cfg.k_pr`): the two radii passes and one cross pass.
pub fn precision_recall(real: &Tensor, fake: &Tensor, cfg: &PrdcConfig) -> Result<(f64, f64)> {
    check(real, fake, cfg.k_pr)?;
    let (real, fake) = (real.to_kind(Kind::Float), fake.to_kind(Kind::Float));
    let share = |t: &Tensor| t.to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    let real_pr = kth_neighbour_radii(&real, cfg.k_pr, cfg);
    let fake_pr = kth_neighbour_radii(&fake, cfg.k_pr, cfg);
    let x = cross(&fake, &real, &[&real_pr], &fake_pr, cfg);
    Ok((share(&x.counts[0].gt(0)), share(&x.in_fake)))
}

/// Precision, recall, density and coverage of `fake` `[M, d]` against `real` `[N, d]`: the radii
/// of each set, then a single pass over the fake × real distances.
pub fn prdc(real: &Tensor, fake: &Tensor, cfg: &PrdcConfig) -> Result<Prdc> {
    check(real, fake, cfg.k_pr.max(cfg.k_dc))?;
    let (real, fake) = (real.to_kind(Kind::Float), fake.to_kind(Kind::Float));
    let mean_f = |t: &Tensor| t.to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    let real_pr = kth_neighbour_radii(&real, cfg.k_pr, cfg);
    let fake_pr = kth_neighbour_radii(&fake, cfg.k_pr, cfg);
    let same = cfg.k_dc == cfg.k_pr;
    let real_dc = if same { real_pr.shallow_clone() } else { kth_neighbour_radii(&real, cfg.k_dc, cfg) };
    let radii: Vec<&Tensor> = if same { vec![&real_pr] } else { vec![&real_pr, &real_dc] };
    let x = cross(&fake, &real, &radii, &fake_pr, cfg);
    Ok(Prdc {
        precision: mean_f(&x.counts[0].gt(0)),
        recall: mean_f(&x.in_fake),
        density: mean_f(&x.counts[if same { 0 } else { 1 }]) / cfg.k_dc as f64,
        coverage: mean_f(&x.nearest.le_tensor(&real_dc)),
    })
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
    fn precision_recall_alone_equals_the_full_computation() {
        let (a, b) = (normal(300, 5, 1.0, 7), normal(280, 5, 1.2, 8));
        let full = prdc(&a, &b, &PrdcConfig::default()).unwrap();
        assert_eq!(precision_recall(&a, &b, &PrdcConfig::default()).unwrap(), (full.precision, full.recall));
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
