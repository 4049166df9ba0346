//! The minimax game and its non-saturating variant (Goodfellow et al., "Generative Adversarial
//! Nets", NeurIPS 2014), on logits.
//!
//! The value function is V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))]. D maximises it, i.e.
//! minimises the binary cross-entropy
//!
//! ```text
//! L_D = E_x[softplus(−D(x))] + E_z[softplus(D(G(z)))]
//! ```
//!
//! G minimises V (minimax, saturating): `L_G = E_z[log(1 − σ(D(G(z))))] = −E_z[softplus(D(G(z)))]`,
//! or maximises log D(G(z)) (non-saturating): `L_G = E_z[softplus(−D(G(z)))]`.

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

/// Adversarial losses selectable by name (`loss = "non-saturating"` in a config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdversarialLoss {
    /// Goodfellow et al.'s minimax game: G minimises E log(1 − D(G(z))). Saturates early in training.
    Minimax,
    /// G maximises E log D(G(z)) instead; the same fixed point, strong gradients when D wins.
    NonSaturating,
}

impl AdversarialLoss {
    /// Every loss with its name as configs spell it.
    pub const ALL: &'static [(&'static str, AdversarialLoss)] =
        &[("minimax", AdversarialLoss::Minimax), ("non-saturating", AdversarialLoss::NonSaturating)];

    /// The name configs use.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, l)| *l == self).map(|(n, _)| *n).unwrap_or("?")
    }

    /// The discriminator's loss on real logits `[N]` and fake logits `[M]` (mean of each term).
    pub fn d_loss(self, real: &Tensor, fake: &Tensor) -> Tensor {
        d_loss(self, real, fake, Reduction::Mean)
    }

    /// The generator's loss on fake logits `[M]` (mean).
    pub fn g_loss(self, fake: &Tensor) -> Tensor {
        g_loss(self, fake, Reduction::Mean)
    }
}

impl fmt::Display for AdversarialLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown loss name.
#[derive(Debug, thiserror::Error)]
#[error("unknown loss '{0}': expected one of minimax, non-saturating")]
pub struct UnknownLoss(pub String);

impl FromStr for AdversarialLoss {
    type Err = UnknownLoss;
    fn from_str(s: &str) -> Result<Self, UnknownLoss> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, l)| *l).ok_or_else(|| UnknownLoss(s.to_string()))
    }
}

/// Discriminator loss `E_x[softplus(−l_real)] + E_z[softplus(l_fake)]` (binary cross-entropy with
/// real = 1, fake = 0). The same for both losses of this module. `real`: `[N]`, `fake`: `[M]`.
pub fn d_loss(_loss: AdversarialLoss, real: &Tensor, fake: &Tensor, r: Reduction) -> Tensor {
    let real_term = (-real.flatten(0, -1)).softplus();
    let fake_term = fake.flatten(0, -1).softplus();
    match r {
        Reduction::None => Tensor::cat(&[real_term, fake_term], 0),
        _ => reduce(real_term, r) + reduce(fake_term, r),
    }
}

/// Generator loss on fake logits `[M]`:
/// minimax `−softplus(l)` (= log(1 − σ(l))), non-saturating `softplus(−l)` (= −log σ(l)).
pub fn g_loss(loss: AdversarialLoss, fake: &Tensor, r: Reduction) -> Tensor {
    let l = fake.flatten(0, -1);
    let per_sample = match loss {
        AdversarialLoss::Minimax => -l.softplus(),
        AdversarialLoss::NonSaturating => (-l).softplus(),
    };
    reduce(per_sample, r)
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

    #[test]
    fn at_zero_logits_each_term_is_log_2() {
        let z = t(&[0.0, 0.0]);
        let ln2 = std::f64::consts::LN_2;
        let d = AdversarialLoss::NonSaturating.d_loss(&z, &z).double_value(&[]);
        assert!(close(d, 2.0 * ln2, 1e-6), "{d}");
        assert!(close(AdversarialLoss::NonSaturating.g_loss(&z).double_value(&[]), ln2, 1e-6));
        assert!(close(AdversarialLoss::Minimax.g_loss(&z).double_value(&[]), -ln2, 1e-6));
    }

    #[test]
    fn matches_binary_cross_entropy_in_f64() {
        let real = [2.0f64, -0.5, 0.1];
        let fake = [-3.0f64, 0.7];
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let want_d = real.iter().map(|&x| -sig(x).ln()).sum::<f64>() / 3.0
            + fake.iter().map(|&x| -(1.0 - sig(x)).ln()).sum::<f64>() / 2.0;
        let rt = Tensor::from_slice(&real).to_kind(Kind::Float);
        let ft = Tensor::from_slice(&fake).to_kind(Kind::Float);
        let d = d_loss(AdversarialLoss::Minimax, &rt, &ft, Reduction::Mean).double_value(&[]);
        assert!(close(d, want_d, 1e-6), "{d} vs {want_d}");
        let sum = d_loss(AdversarialLoss::Minimax, &rt, &ft, Reduction::Sum).double_value(&[]);
        let want_sum = real.iter().map(|&x| -sig(x).ln()).sum::<f64>()
            + fake.iter().map(|&x| -(1.0 - sig(x)).ln()).sum::<f64>();
        assert!(close(sum, want_sum, 1e-6));
        assert_eq!(d_loss(AdversarialLoss::Minimax, &rt, &ft, Reduction::None).size(), vec![5]);
        let g_ns = g_loss(AdversarialLoss::NonSaturating, &ft, Reduction::Mean).double_value(&[]);
        let want = fake.iter().map(|&x| -sig(x).ln()).sum::<f64>() / 2.0;
        assert!(close(g_ns, want, 1e-6));
        let g_mm = g_loss(AdversarialLoss::Minimax, &ft, Reduction::Mean).double_value(&[]);
        let want = fake.iter().map(|&x| (1.0 - sig(x)).ln()).sum::<f64>() / 2.0;
        assert!(close(g_mm, want, 1e-6));
    }

    #[test]
    fn minimax_saturates_and_non_saturating_does_not() {
        // D confidently rejects the fake (logit -10): dL/dl = σ(l) ≈ 4.5e-5 for minimax,
        // σ(l) − 1 ≈ −1 for non-saturating.
        for (loss, want) in [(AdversarialLoss::Minimax, 4.54e-5), (AdversarialLoss::NonSaturating, -1.0)] {
            let l = t(&[-10.0]).set_requires_grad(true);
            loss.g_loss(&l).backward();
            let g = l.grad().double_value(&[0]);
            // minimax: d(−softplus(l))/dl = −σ(l) — the *loss* falls as l rises, but only by σ(l).
            let g = if loss == AdversarialLoss::Minimax { -g } else { g };
            assert!(close(g, want, 1e-2), "{loss}: {g}");
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_listed() {
        for (name, loss) in AdversarialLoss::ALL {
            assert_eq!(name.parse::<AdversarialLoss>().unwrap(), *loss);
            assert_eq!(loss.to_string(), *name);
        }
        let e = "wgan-gpp".parse::<AdversarialLoss>().unwrap_err().to_string();
        assert!(e.contains("wgan-gpp") && e.contains("non-saturating"));
    }

    proptest! {
        #[test]
        fn finite_on_extreme_logits(a in -1e4f32..1e4, b in -1e4f32..1e4) {
            let (r, f) = (t(&[a, -1e4, 1e4]), t(&[b, 1e4, -1e4]));
            for (_, loss) in AdversarialLoss::ALL {
                let fr = f.set_requires_grad(true);
                let d = loss.d_loss(&r, &fr);
                let g = loss.g_loss(&fr);
                prop_assert!(d.double_value(&[]).is_finite());
                prop_assert!(g.double_value(&[]).is_finite());
                g.backward();
                let grad: Vec<f32> = Vec::try_from(fr.grad()).unwrap();
                prop_assert!(grad.iter().all(|x| x.is_finite()));
            }
        }

        #[test]
        fn generator_gradients_push_fake_logits_up(l in -30f32..30.0) {
            // Both G losses fall as D's logit on the fake rises: the gradient w.r.t. the logit is ≤ 0.
            for (_, loss) in AdversarialLoss::ALL {
                let x = t(&[l]).set_requires_grad(true);
                loss.g_loss(&x).backward();
                prop_assert!(x.grad().double_value(&[0]) <= 0.0);
            }
        }

        #[test]
        fn discriminator_gradients_separate_real_from_fake(a in -30f32..30.0, b in -30f32..30.0) {
            let r = t(&[a]).set_requires_grad(true);
            let f = t(&[b]).set_requires_grad(true);
            AdversarialLoss::NonSaturating.d_loss(&r, &f).backward();
            prop_assert!(r.grad().double_value(&[0]) < 0.0); // raise real logits
            prop_assert!(f.grad().double_value(&[0]) > 0.0); // lower fake logits
        }
    }
}
