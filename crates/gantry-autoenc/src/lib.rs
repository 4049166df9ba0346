//! gantry-autoenc: autoencoders that meet adversaries.
//!
//! - The **adversarial autoencoder** (Makhzani et al. 2015): an autoencoder whose aggregated
//!   posterior q(z) = ∫ q(z|x) p_d(x) dx is matched to a chosen prior p(z) by a discriminator in
//!   latent space. [`prior`] holds the priors (N(0, σ²I), the 2-D mixture of 10 Gaussians, the swiss
//!   roll, samples from a file), [`nets`] the encoder, decoder and latent discriminator (the
//!   paper's MNIST MLPs: two hidden layers of 1000 ReLU units; convolutional ones for 32×32).
//! - The **VAE-GAN** (Larsen et al. 2016): a VAE whose decoder is a GAN's generator and whose
//!   reconstruction error is measured in the discriminator's l-th layer ([`nets::FeatureCritic`]).
//!
//! The losses (KL to N(0, I), the reparameterisation) are in gantry-losses; the training loops in
//! gantry-train (`recipes/aae.rs`, `recipes/vaegan.rs`).

#![warn(missing_docs, missing_debug_implementations)]

pub mod nets;
pub mod prior;

pub use nets::{AutoencoderConfig, Decoder, Encoder, FeatureCritic, LatentCritic, Layout, Posterior};
pub use prior::{Prior, PriorConfig, PriorKind};
