//! gantry-losses: the objectives of adversarial training and the divergences they estimate.
//!
//! Depend on this crate alone for:
//!
//! - [`adversarial`] — losses on raw discriminator outputs, each with its equation and paper:
//!   minimax (saturating), non-saturating, least squares (LSGAN), hinge, Wasserstein, relativistic
//!   average (RaGAN); stable softplus forms, finite for outputs of ±1e4, explicit [`Reduction`].
//! - [`penalty`] — constraints on the critic, which is any closure `x → scores` (so conditional
//!   critics work): WGAN-GP (two- and one-sided, by double backward), R1, R2, DRAGAN, weight
//!   clipping.
//! - [`content`] — content losses for translation: L1 (pix2pix's λ·E‖y − G(x)‖₁).
//! - [`divergence`] — exact KL and Jensen–Shannon (discrete and on grids), the optimal
//!   discriminator D* = p_data/(p_data + p_G) and the identity V(D*, G) = 2·JSD − log 4,
//!   Wasserstein-1 on the line by CDFs.
//! - [`transport`] — Wasserstein-1 as the lectures pose it: the optimal-transport linear program,
//!   solved exactly by the transportation simplex, with the plan, both dual potentials, both
//!   objective values (equal at the optimum), and the one-potential Kantorovich–Rubinstein dual.
//! - [`vae`] — the variational autoencoder's terms: the reparameterisation z = μ + σ⊙ε, the KL
//!   to N(0, I) in closed form, the Gaussian log-likelihood (in pixels, or in a discriminator's
//!   features for the VAE-GAN).
//! - [`gaussian`] — closed forms: W1 = W2 = ‖μ1 − μ2‖ and KL = ‖μ1 − μ2‖²/(2σ²) for equal
//!   isotropic covariances, general Gaussian KL, 1-D W2.
//!
//! Quick reference (r = D(x) on reals, f = D(G(z)) on fakes):
//!
//! ```text
//! non-saturating   L_D = E softplus(−r) + E softplus(f)      L_G = E softplus(−f)
//! hinge            L_D = E relu(1 − r) + E relu(1 + f)       L_G = −E f
//! wasserstein      L_D = E f − E r   (+ λ·GP)                L_G = −E f
//! ```
//!
//! ```
//! use gantry_losses::AdversarialLoss;
//! use tch::Tensor;
//! let (real, fake) = (Tensor::from_slice(&[2.0f32, 1.5]), Tensor::from_slice(&[-1.0f32, 0.5]));
//! let d = AdversarialLoss::Hinge.d_loss(&real, &fake); // relu(1 − r) + relu(1 + f), averaged
//! assert!((d.double_value(&[]) - 0.75).abs() < 1e-6);
//! ```

#![warn(missing_docs, missing_debug_implementations)]

pub mod adversarial;
pub mod content;
pub mod divergence;
pub mod gaussian;
pub mod penalty;
pub mod transport;
pub mod vae;

pub use adversarial::{d_loss, g_loss, AdversarialLoss, Reduction};
pub use penalty::{
    clip_weights, dragan_penalty, drift_penalty, gradient_penalty, path_length_penalty, r1_penalty,
    r2_penalty, GpSide,
};

/// libtorch's generator is global to a process and this crate's unit tests run on threads of one:
/// every test that draws from it (random tensors, layer initialisation, dropout, penalties' random
/// points) holds this lock, so that a seeded draw replays (another test drawing between a
/// `manual_seed` and its draws would change them).
#[cfg(test)]
pub(crate) fn generator_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
