//! Adversarial losses on raw discriminator outputs (logits or critic scores).
//!
//! Notation: `r = D(x)` on a real batch `[N]`, `f = D(G(z))` on a fake batch `[M]`; σ is the
//! logistic sigmoid, `softplus(t) = log(1 + eᵗ)`, so `−log σ(t) = softplus(−t)` and
//! `−log(1 − σ(t)) = softplus(t)` — the forms used here, finite for outputs of ±1e4.
//!
//! | loss | D minimises | G minimises | reference |
//! |---|---|---|---|
//! | `minimax` | E softplus(−r) + E softplus(f) | −E softplus(f) = E log(1 − σ(f)) | Goodfellow et al. 2014, eq. 1 |
//! | `non-saturating` | E softplus(−r) + E softplus(f) | E softplus(−f) = −E log σ(f) | Goodfellow et al. 2014, §3 |
//! | `lsgan` | ½E(r − 1)² + ½E f² | ½E(f − 1)² | Mao et al. 2017, eq. 9 (a = 0, b = c = 1) |
//! | `hinge` | E relu(1 − r) + E relu(1 + f) | −E f | Lim & Ye 2017; Miyato et al. 2018 |
//! | `wasserstein` | E f − E r | −E f | Arjovsky et al. 2017, eq. 3 |
//! | `ragan` | E softplus(−(r − E f)) + E softplus(f − E r) | E softplus(−(f − E r)) + E softplus(r − E f) | Jolicoeur-Martineau 2018 (RaSGAN) |
//!
//! The Wasserstein loss needs a Lipschitz constraint on D: weight clipping, a gradient penalty
//! ([`crate::penalty`]) or spectral normalisation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// How per-sample losses are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Mean over samples (of each term separately, for two-term losses).
    #[default]
    Mean,
    /// Sum over samples.
    Sum,
    /// No reduction: per-sample values (for two-term losses, real terms then fake terms, concatenated).
    None,
}

fn reduce(t: Tensor, r: Reduction) -> Tensor {
    match r {
        Reduction::Mean => t.mean(Kind::Float),
        Reduction::Sum => t.sum(Kind::Float),
        Reduction::None => t,
    }
}

/// Two per-sample terms (real `[N]`, fake `[M]`) combined by `r`.
fn two_terms(real_term: Tensor, fake_term: Tensor, r: Reduction) -> Tensor {
    match r {
        Reduction::None => Tensor::cat(&[real_term, fake_term], 0),
        _ => reduce(real_term, r) + reduce(fake_term, r),
    }
}

/// An adversarial loss, selectable by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdversarialLoss {
    /// Goodfellow et al.'s minimax game: G minimises E log(1 − D(G(z))). Saturates when D wins.
    Minimax,
    /// G maximises E log D(G(z)) instead: the same fixed point, strong gradients when D wins.
    NonSaturating,
    /// Least squares (LSGAN), targets 1 for real and 0 for fake, on raw outputs.
    Lsgan,
    /// Hinge loss (SNGAN, BigGAN), margin 1.
    Hinge,
    /// Wasserstein (WGAN): D is a critic estimating W1 up to its Lipschitz constant.
    Wasserstein,
    /// Relativistic average standard GAN: each side judged against the other's mean.
    Ragan,
}

impl AdversarialLoss {
    /// Every loss with its name as configs spell it.
    pub const ALL: &'static [(&'static str, AdversarialLoss)] = &[
        ("minimax", AdversarialLoss::Minimax),
        ("non-saturating", AdversarialLoss::NonSaturating),
        ("lsgan", AdversarialLoss::Lsgan),
        ("hinge", AdversarialLoss::Hinge),
        ("wasserstein", AdversarialLoss::Wasserstein),
        ("ragan", AdversarialLoss::Ragan),
    ];

    /// The name configs use.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, l)| *l == self).map(|(n, _)| *n).unwrap_or("?")
    }

    /// Whether D's outputs are logits of a probability (so σ(D) is meaningful to report).
    pub fn uses_logits(self) -> bool {
        matches!(self, AdversarialLoss::Minimax | AdversarialLoss::NonSaturating | AdversarialLoss::Ragan)
    }

    /// Whether the generator's loss needs D's outputs on a real batch (relativistic losses).
    pub fn g_needs_real(self) -> bool {
        self == AdversarialLoss::Ragan
    }

    /// The discriminator's loss on real outputs `[N]` and fake outputs `[M]` (mean of each term).
    pub fn d_loss(self, real: &Tensor, fake: &Tensor) -> Tensor {
        d_loss(self, real, fake, Reduction::Mean)
    }

    /// The generator's loss on fake outputs `[M]` (mean). `real` (`[N]`, D's outputs on a real
    /// batch) is needed by relativistic losses only (see [`Self::g_needs_real`]).
    ///
    /// # Panics
    /// If the loss is relativistic and `real` is `None` (a programming error).
    pub fn g_loss(self, fake: &Tensor, real: Option<&Tensor>) -> Tensor {
        g_loss(self, fake, real, Reduction::Mean)
    }
}

impl fmt::Display for AdversarialLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown loss name.
#[derive(Debug, thiserror::Error)]
#[error("unknown loss '{0}': expected one of minimax, non-saturating, lsgan, hinge, wasserstein, ragan")]
pub struct UnknownLoss(pub String);

impl FromStr for AdversarialLoss {
    type Err = UnknownLoss;
    fn from_str(s: &str) -> Result<Self, UnknownLoss> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, l)| *l).ok_or_else(|| UnknownLoss(s.to_string()))
    }
}

/// The discriminator's loss (see the module table). `real`: `[N]`, `fake`: `[M]` (any shapes with
/// one value per sample are flattened). Computed in float32 from outputs in a lower precision
/// (mixed precision, `gantry_core::amp`).
pub fn d_loss(loss: AdversarialLoss, real: &Tensor, fake: &Tensor, r: Reduction) -> Tensor {
    use gantry_core::amp::fp32;
    let (r_out, f_out) = (fp32(real).flatten(0, -1), fp32(fake).flatten(0, -1));
    match loss {
        AdversarialLoss::Minimax | AdversarialLoss::NonSaturating => {
            two_terms((-r_out).softplus(), f_out.softplus(), r)
        }
        AdversarialLoss::Lsgan => two_terms((r_out - 1.0).square() * 0.5, f_out.square() * 0.5, r),
        AdversarialLoss::Hinge => two_terms((-r_out + 1.0).relu(), (f_out + 1.0).relu(), r),
        AdversarialLoss::Wasserstein => two_terms(-r_out, f_out, r),
        AdversarialLoss::Ragan => {
            let (mr, mf) = (r_out.mean(Kind::Float), f_out.mean(Kind::Float));
            two_terms((-(r_out - mf)).softplus(), (f_out - mr).softplus(), r)
        }
    }
}

/// The generator's loss on fake outputs `[M]` (see the module table); `real` `[N]` is required by
/// relativistic losses and ignored by the others.
///
/// # Panics
/// If `loss` is relativistic and `real` is `None`.
pub fn g_loss(loss: AdversarialLoss, fake: &Tensor, real: Option<&Tensor>, r: Reduction) -> Tensor {
    use gantry_core::amp::fp32;
    let f = fp32(fake).flatten(0, -1);
    let real = real.map(fp32);
    match loss {
        AdversarialLoss::Minimax => reduce(-f.softplus(), r),
        AdversarialLoss::NonSaturating => reduce((-f).softplus(), r),
        AdversarialLoss::Lsgan => reduce((f - 1.0).square() * 0.5, r),
        AdversarialLoss::Hinge | AdversarialLoss::Wasserstein => reduce(-f, r),
        AdversarialLoss::Ragan => {
            let real =
                real.expect("the relativistic G loss needs D's outputs on a real batch").flatten(0, -1);
            // Real outputs are constants for G: only the fake side carries G's gradient, but the
            // real term's dependence on E f does.
            let (mr, mf) = (real.mean(Kind::Float), f.mean(Kind::Float));
            two_terms((-(f - mr)).softplus(), (real - mf).softplus(), r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v)
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    const REAL: [f64; 3] = [2.0, -0.5, 0.1];
    const FAKE: [f64; 2] = [-3.0, 0.7];

    fn mean(v: impl Iterator<Item = f64>) -> f64 {
        let v: Vec<f64> = v.collect();
        v.iter().sum::<f64>() / v.len() as f64
    }

    /// Each loss against its formula evaluated in f64.
    #[test]
    fn every_loss_matches_its_formula() {
        let rt = Tensor::from_slice(&REAL).to_kind(Kind::Float);
        let ft = Tensor::from_slice(&FAKE).to_kind(Kind::Float);
        let (mr, mf) = (mean(REAL.iter().copied()), mean(FAKE.iter().copied()));
        let sp = |x: f64| (1.0 + x.exp()).ln();
        let cases: Vec<(AdversarialLoss, f64, f64)> = vec![
            (
                AdversarialLoss::Minimax,
                mean(REAL.iter().map(|&x| -sig(x).ln())) + mean(FAKE.iter().map(|&x| -(1.0 - sig(x)).ln())),
                mean(FAKE.iter().map(|&x| (1.0 - sig(x)).ln())),
            ),
            (
                AdversarialLoss::NonSaturating,
                mean(REAL.iter().map(|&x| -sig(x).ln())) + mean(FAKE.iter().map(|&x| -(1.0 - sig(x)).ln())),
                mean(FAKE.iter().map(|&x| -sig(x).ln())),
            ),
            (
                AdversarialLoss::Lsgan,
                mean(REAL.iter().map(|&x| 0.5 * (x - 1.0).powi(2))) + mean(FAKE.iter().map(|&x| 0.5 * x * x)),
                mean(FAKE.iter().map(|&x| 0.5 * (x - 1.0).powi(2))),
            ),
            (
                AdversarialLoss::Hinge,
                mean(REAL.iter().map(|&x| (1.0 - x).max(0.0)))
                    + mean(FAKE.iter().map(|&x| (1.0 + x).max(0.0))),
                -mf,
            ),
            (AdversarialLoss::Wasserstein, mf - mr, -mf),
            (
                AdversarialLoss::Ragan,
                mean(REAL.iter().map(|&x| sp(-(x - mf)))) + mean(FAKE.iter().map(|&x| sp(x - mr))),
                mean(FAKE.iter().map(|&x| sp(-(x - mr)))) + mean(REAL.iter().map(|&x| sp(x - mf))),
            ),
        ];
        for (loss, want_d, want_g) in cases {
            let d = loss.d_loss(&rt, &ft).double_value(&[]);
            let g = loss.g_loss(&ft, Some(&rt)).double_value(&[]);
            assert!(close(d, want_d, 1e-6), "{loss} D: {d} vs {want_d}");
            assert!(close(g, want_g, 1e-6), "{loss} G: {g} vs {want_g}");
            let sum = d_loss(loss, &rt, &ft, Reduction::Sum).double_value(&[]);
            let per = d_loss(loss, &rt, &ft, Reduction::None);
            assert_eq!(per.size(), vec![5]);
            assert!(close(sum, per.sum(Kind::Double).double_value(&[]), 1e-6));
        }
    }

    #[test]
    fn at_zero_logits_each_term_is_log_2() {
        let z = t(&[0.0, 0.0]);
        let ln2 = std::f64::consts::LN_2;
        let d = AdversarialLoss::NonSaturating.d_loss(&z, &z).double_value(&[]);
        assert!(close(d, 2.0 * ln2, 1e-6), "{d}");
        assert!(close(AdversarialLoss::NonSaturating.g_loss(&z, None).double_value(&[]), ln2, 1e-6));
        assert!(close(AdversarialLoss::Minimax.g_loss(&z, None).double_value(&[]), -ln2, 1e-6));
    }

    #[test]
    fn minimax_saturates_and_non_saturating_does_not() {
        // D confidently rejects the fake (logit −10): d(loss)/d(logit) is −σ(l) ≈ −4.5e-5 for
        // minimax, σ(l) − 1 ≈ −1 for non-saturating.
        for (loss, want) in [(AdversarialLoss::Minimax, -4.54e-5), (AdversarialLoss::NonSaturating, -1.0)] {
            let l = t(&[-10.0]).set_requires_grad(true);
            loss.g_loss(&l, None).backward();
            let g = l.grad().double_value(&[0]);
            assert!(close(g, want, 1e-2), "{loss}: {g}");
        }
    }

    #[test]
    #[should_panic(expected = "real batch")]
    fn ragan_g_loss_demands_real_outputs() {
        let _ = AdversarialLoss::Ragan.g_loss(&t(&[0.0]), None);
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_listed() {
        for (name, loss) in AdversarialLoss::ALL {
            assert_eq!(name.parse::<AdversarialLoss>().unwrap(), *loss);
            assert_eq!(loss.to_string(), *name);
        }
        let e = "wgan-gpp".parse::<AdversarialLoss>().unwrap_err().to_string();
        assert!(e.contains("wgan-gpp") && e.contains("hinge"));
    }

    proptest! {
        #[test]
        fn finite_on_extreme_outputs(a in -1e4f32..1e4, b in -1e4f32..1e4) {
            let r = t(&[a, -1e4, 1e4]);
            for (_, loss) in AdversarialLoss::ALL {
                let f = t(&[b, 1e4, -1e4]).set_requires_grad(true);
                let d = loss.d_loss(&r, &f);
                let g = loss.g_loss(&f, Some(&r));
                prop_assert!(d.double_value(&[]).is_finite(), "{} D", loss);
                prop_assert!(g.double_value(&[]).is_finite(), "{} G", loss);
                g.backward();
                let grad: Vec<f32> = Vec::try_from(f.grad()).unwrap();
                prop_assert!(grad.iter().all(|x| x.is_finite()), "{} grad", loss);
            }
        }

        #[test]
        fn generator_gradients_push_fake_outputs_up(l in -30f32..30.0, other in -30f32..30.0) {
            // Every G loss falls as D's output on a fake rises: d(loss)/d(output) ≤ 0 — for LSGAN
            // up to its target 1, where the pull stops.
            for (_, loss) in AdversarialLoss::ALL {
                let (l, other) = if *loss == AdversarialLoss::Lsgan { (l.min(0.99), other.min(0.99)) } else { (l, other) };
                let x = t(&[l, other]).set_requires_grad(true);
                let real = t(&[0.5, -0.5]);
                loss.g_loss(&x, Some(&real)).backward();
                let g: Vec<f32> = Vec::try_from(x.grad()).unwrap();
                prop_assert!(g.iter().all(|&v| v <= 0.0), "{}: {:?}", loss, g);
            }
        }

        #[test]
        fn discriminator_gradients_separate_real_from_fake(a in -0.9f32..0.9, b in 0.05f32..0.9) {
            // Inside the hinge margin (and above LSGAN's fake target 0) every D loss raises real
            // outputs and lowers fake ones.
            for (_, loss) in AdversarialLoss::ALL {
                let r = t(&[a]).set_requires_grad(true);
                let f = t(&[b]).set_requires_grad(true);
                loss.d_loss(&r, &f).backward();
                prop_assert!(r.grad().double_value(&[0]) < 0.0, "{} real", loss);
                prop_assert!(f.grad().double_value(&[0]) > 0.0, "{} fake", loss);
            }
        }
    }
}
