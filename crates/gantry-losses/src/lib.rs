//! gantry-losses: adversarial losses as pure functions of tensors.
//!
//! Every loss takes the discriminator's *logits* `l = D(x)` (the sigmoid lives here, not in D),
//! shaped `[N]` or `[N, 1]`, and is computed with softplus identities so that it stays finite for
//! logits of ±1e4:
//!
//! ```text
//! −log σ(l)      = softplus(−l)
//! −log(1 − σ(l)) = softplus(l)
//! ```
//!
//! | name | D minimises | G minimises | reference |
//! |---|---|---|---|
//! | `minimax` | −E log D(x) − E log(1 − D(G(z))) | E log(1 − D(G(z))) | Goodfellow et al. 2014, eq. 1 |
//! | `non-saturating` | same as minimax | −E log D(G(z)) | Goodfellow et al. 2014, §3 |
//!
//! The minimax generator loss saturates: when D confidently rejects fakes (l → −∞) its gradient
//! σ(l) vanishes, while the non-saturating loss's gradient σ(l) − 1 → −1 stays strong.

pub mod adversarial;
pub mod divergence;
pub mod gaussian;
pub mod penalty;
pub mod transport;

pub use adversarial::{d_loss, g_loss, AdversarialLoss, Reduction};
pub use penalty::{clip_weights, dragan_penalty, gradient_penalty, r1_penalty, r2_penalty, GpSide};
