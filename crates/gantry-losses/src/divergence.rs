//! Exact divergences between known distributions, in f64 (no autograd): what a GAN's loss
//! estimates, computed where it can be computed exactly.
//!
//! Discrete distributions are slices of probabilities; densities are values on a uniform grid
//! of spacing `dx` (integrals become sums times `dx`). With `0·log 0 = 0`:
//!
//! ```text
//! KL(p‖q)  = Σ p log(p / q)                       (+∞ when some p > 0 meets q = 0)
//! JS(p, q) = ½ KL(p‖m) + ½ KL(q‖m),  m = (p + q)/2     (0 ≤ JS ≤ log 2)
//! D*(x)    = p_data(x) / (p_data(x) + p_G(x))          (Goodfellow et al. 2014, Prop. 1)
//! V(D*, G) = E_data log D* + E_G log(1 − D*) = 2·JS(p_data, p_G) − log 4   (ibid., Thm. 1)
//! W1 (1-D) = ∫ |F_p(t) − F_q(t)| dt                   (the CDF formula)
//! ```
//!
//! # Panics
//! On slices of different lengths or negative entries (programming errors, not data errors).

fn check(p: &[f64], q: &[f64]) {
    assert_eq!(p.len(), q.len(), "distributions of different lengths");
    assert!(p.iter().chain(q).all(|&x| x >= 0.0), "negative probability or density");
}

/// `x log(x / y)` with `0 log 0 = 0` and `x log(x / 0) = +∞`.
fn xlogy_ratio(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else if y == 0.0 {
        f64::INFINITY
    } else {
        x * (x / y).ln()
    }
}

/// Scales non-negative weights to sum to 1.
///
/// # Panics
/// If every weight is 0.
pub fn normalize(w: &[f64]) -> Vec<f64> {
    let s: f64 = w.iter().sum();
    assert!(s > 0.0, "cannot normalise weights that sum to {s}");
    w.iter().map(|x| x / s).collect()
}

/// KL(p‖q) between discrete distributions (natural log).
pub fn kl(p: &[f64], q: &[f64]) -> f64 {
    check(p, q);
    p.iter().zip(q).map(|(&a, &b)| xlogy_ratio(a, b)).sum()
}

/// Jensen–Shannon divergence between discrete distributions, in [0, log 2].
pub fn js(p: &[f64], q: &[f64]) -> f64 {
    check(p, q);
    // a·log(a/m) with m = (a + b)/2, written as a·log(2a/(a + b)) so that a subnormal a (whose
    // half underflows to 0) cannot produce log(a/0).
    let half_term = |a: f64, b: f64| if a == 0.0 { 0.0 } else { 0.5 * a * (2.0 * a / (a + b)).ln() };
    p.iter().zip(q).map(|(&a, &b)| half_term(a, b) + half_term(b, a)).sum()
}

/// KL between densities sampled on a uniform grid of spacing `dx`.
pub fn kl_density(p: &[f64], q: &[f64], dx: f64) -> f64 {
    kl(p, q) * dx
}

/// JS between densities sampled on a uniform grid of spacing `dx`.
pub fn js_density(p: &[f64], q: &[f64], dx: f64) -> f64 {
    js(p, q) * dx
}

/// The optimal discriminator `D*(x) = p_data / (p_data + p_G)` pointwise (½ where both vanish,
/// where D* is undetermined and irrelevant).
pub fn optimal_discriminator(p_data: &[f64], p_g: &[f64]) -> Vec<f64> {
    check(p_data, p_g);
    p_data.iter().zip(p_g).map(|(&a, &b)| if a + b == 0.0 { 0.5 } else { a / (a + b) }).collect()
}

/// The value `V(D, G) = E_data log D + E_G log(1 − D)` for discrete distributions and a
/// discriminator `d` on the same points (`0·log 0 = 0`).
pub fn value(p_data: &[f64], p_g: &[f64], d: &[f64]) -> f64 {
    check(p_data, p_g);
    assert_eq!(d.len(), p_data.len(), "discriminator of a different length");
    let term = |w: f64, x: f64| if w == 0.0 { 0.0 } else { w * x.ln() };
    p_data.iter().zip(p_g).zip(d).map(|((&a, &b), &di)| term(a, di) + term(b, 1.0 - di)).sum()
}

/// `V(D*, G)`, the value of the game at the optimal discriminator.
pub fn value_at_optimum(p_data: &[f64], p_g: &[f64]) -> f64 {
    value(p_data, p_g, &optimal_discriminator(p_data, p_g))
}

/// W1 between two weighted point sets on the line, `Σ wx δ(xs)` and `Σ wy δ(ys)` (weights are
/// normalised), by the CDF formula `∫ |F − G| dt`.
pub fn w1_1d(xs: &[f64], wx: &[f64], ys: &[f64], wy: &[f64]) -> f64 {
    assert_eq!(xs.len(), wx.len(), "points and weights differ in length");
    assert_eq!(ys.len(), wy.len(), "points and weights differ in length");
    let (wx, wy) = (normalize(wx), normalize(wy));
    // Signed mass at each support point: +p for xs, −q for ys; sweep in order.
    let mut events: Vec<(f64, f64)> =
        xs.iter().copied().zip(wx).chain(ys.iter().copied().zip(wy.into_iter().map(|w| -w))).collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut total, mut diff) = (0.0, 0.0);
    for pair in events.windows(2) {
        diff += pair[0].1;
        total += diff.abs() * (pair[1].0 - pair[0].0);
    }
    total
}

/// W1 between two empirical distributions on the line (uniform weights; any sample counts).
pub fn w1_samples_1d(x: &[f64], y: &[f64]) -> f64 {
    w1_1d(x, &vec![1.0; x.len()], y, &vec![1.0; y.len()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::f64::consts::LN_2;

    fn dist(n: usize) -> impl Strategy<Value = Vec<f64>> {
        proptest::collection::vec(0.0f64..1.0, n)
            .prop_filter("not all zero", |v| v.iter().sum::<f64>() > 1e-3)
            .prop_map(|v| normalize(&v))
    }

    #[test]
    fn known_values() {
        assert!(
            (kl(&[0.5, 0.5], &[0.25, 0.75]) - (0.5 * (2.0f64).ln() + 0.5 * (2.0f64 / 3.0).ln())).abs()
                < 1e-15
        );
        assert_eq!(kl(&[0.5, 0.5], &[1.0, 0.0]), f64::INFINITY);
        assert!((js(&[1.0, 0.0], &[0.0, 1.0]) - LN_2).abs() < 1e-15);
        assert_eq!(js(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
        // V at the optimum of identical distributions is −log 4 (the equilibrium of Thm. 1).
        assert!((value_at_optimum(&[0.2, 0.8], &[0.2, 0.8]) + 4f64.ln()).abs() < 1e-15);
        // Densities: two unit boxes on [0,1) and [1,2), grid 0.01.
        let p: Vec<f64> = (0..200).map(|i| if i < 100 { 1.0 } else { 0.0 }).collect();
        let q: Vec<f64> = p.iter().rev().copied().collect();
        assert!((js_density(&p, &q, 0.01) - LN_2).abs() < 1e-12);
        assert!(kl_density(&p, &p, 0.01).abs() < 1e-15);
    }

    #[test]
    fn subnormal_masses_do_not_overflow() {
        let tiny = f64::from_bits(1); // the smallest subnormal: tiny / 2 == 0
        assert!((js(&[tiny, 1.0 - tiny], &[0.0, 1.0]) - 0.0).abs() < 1e-300);
        assert!((js(&[1.0, tiny], &[0.0, 1.0]) - LN_2).abs() < 1e-15);
    }

    #[test]
    fn w1_one_dimensional_closed_forms() {
        assert_eq!(w1_samples_1d(&[0.0], &[3.5]), 3.5);
        assert!((w1_samples_1d(&[0.0, 1.0], &[0.0, 0.0, 1.0, 1.0]) - 0.0).abs() < 1e-15);
        assert!((w1_samples_1d(&[0.0, 2.0], &[1.0]) - 1.0).abs() < 1e-15);
        // Moving ¼ of the mass by 4 costs 1.
        assert!((w1_1d(&[0.0, 4.0], &[0.75, 0.25], &[0.0], &[1.0]) - 1.0).abs() < 1e-15);
    }

    proptest! {
        #[test]
        fn js_is_bounded_symmetric_and_log2_on_disjoint_supports(p in dist(6), q in dist(6), gap in 1usize..50) {
            let j = js(&p, &q);
            prop_assert!((0.0..=LN_2 + 1e-12).contains(&j));
            prop_assert!((j - js(&q, &p)).abs() < 1e-12);
            // Put p on the first 6 cells and q on 6 cells after `gap` empty ones: JS = log 2
            // whatever the gap.
            let mut pp = p.clone();
            pp.extend(std::iter::repeat_n(0.0, gap + 6));
            let mut qq = vec![0.0; 6 + gap];
            qq.extend(&q);
            prop_assert!((js(&pp, &qq) - LN_2).abs() < 1e-12);
        }

        #[test]
        fn value_at_the_optimal_discriminator_is_2js_minus_log4(p in dist(8), q in dist(8)) {
            let v = value_at_optimum(&p, &q);
            prop_assert!((v - (2.0 * js(&p, &q) - 4f64.ln())).abs() < 1e-12);
            // D* is optimal: any other discriminator does no better.
            let other: Vec<f64> = optimal_discriminator(&p, &q).iter().map(|d| (d * 0.9 + 0.05).clamp(1e-9, 1.0 - 1e-9)).collect();
            prop_assert!(value(&p, &q, &other) <= v + 1e-12);
        }

        #[test]
        fn kl_is_nonnegative_and_zero_on_equality(p in dist(5), q in dist(5)) {
            prop_assert!(kl(&p, &q) >= -1e-12);
            prop_assert!(kl(&p, &p).abs() < 1e-12);
        }

        #[test]
        fn w1_of_point_masses_is_their_distance_and_a_metric(
            d in -100.0f64..100.0,
            x in proptest::collection::vec(-5.0f64..5.0, 1..8),
            y in proptest::collection::vec(-5.0f64..5.0, 1..8),
            z in proptest::collection::vec(-5.0f64..5.0, 1..8),
        ) {
            prop_assert!((w1_samples_1d(&[0.0], &[d]) - d.abs()).abs() < 1e-12);
            let (xy, yz, xz) = (w1_samples_1d(&x, &y), w1_samples_1d(&y, &z), w1_samples_1d(&x, &z));
            prop_assert!(xz <= xy + yz + 1e-12);
            prop_assert!((xy - w1_samples_1d(&y, &x)).abs() < 1e-12);
        }
    }
}
