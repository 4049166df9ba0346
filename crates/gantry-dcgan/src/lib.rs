//! gantry-dcgan: the first convolutional GAN and the small MLP GANs of the toy experiments.
//!
//! - [`dcgan`]: DCGAN (Radford, Metz & Chintala, ICLR 2016), any power-of-two resolution ≥ 8.
//! - [`mlp`]: MLP generator/discriminator for 2-D toy distributions (ring, grid of Gaussians).
//!
//! Both take an `nn::Path` (which carries device and dtype) and return modules; the discriminators
//! output one *logit* per sample (the sigmoid lives in `gantry-losses`).

#![warn(missing_docs, missing_debug_implementations)]

pub mod dcgan;
pub mod mlp;

pub use dcgan::{DNorm, DcganConfig};
pub use mlp::MlpConfig;

/// A configuration value out of range; names the field, expected and found.
#[derive(Debug, thiserror::Error)]
#[error("invalid {field}: expected {expected}, found {found}")]
pub struct ConfigError {
    /// The setting (`model.g_width`, …).
    pub field: &'static str,
    /// What it may be.
    pub expected: String,
    /// What it was.
    pub found: String,
}
