//! gantry-nn: the layers and training helpers that several GAN architectures share.
//!
//! | module | what | reference |
//! |---|---|---|
//! | [`batch_norm`] | BatchNorm whose statistics can be synchronised over data-parallel ranks | Ioffe & Szegedy 2015; PyTorch's SyncBatchNorm |
//! | [`activation`] | LeakyReLU with any slope, at the cost of tch's fixed-slope kernel | — |
//! | [`dropout`] | inverted dropout whose masks are the same on Intel and AMD CPUs (libtorch's are not) | Srivastava et al. 2014 |
//! | [`spectral_norm`] | `W / σ(W)` with σ by power iteration (persistent u, v), linear and conv | Miyato et al. 2018 |
//! | [`minibatch`] | minibatch discrimination; minibatch standard deviation | Salimans et al. 2016 §3.2; Karras et al. 2018 §3 |
//! | [`truncation`] | truncated-normal latents (τ) and shrinking towards the mean (ψ) | Brock et al. 2019; Karras et al. 2019 |
//! | [`shape`] | the image size and channel checks configurations share | — |
//! | [`ema`] | exponential moving average of generator weights (half-life in images, ramp-up) | Karras et al. 2018; StyleGAN2-ADA |
//!
//! Modules take an `nn::Path` (device and dtype come with it) and document their tensor shapes.

#![warn(missing_docs, missing_debug_implementations)]

pub mod activation;
pub mod batch_norm;
pub mod dropout;
pub mod ema;
pub mod minibatch;
pub mod shape;
pub mod spectral_norm;
pub mod truncation;

pub use activation::leaky_relu;
pub use batch_norm::{batch_norm1d, batch_norm2d, BatchNorm, BatchNormSync};
pub use dropout::dropout;
pub use ema::{Ema, EmaConfig};
pub use minibatch::{MinibatchDiscrimination, MinibatchStdDev};
pub use shape::{validate_image, InvalidConfig};
pub use spectral_norm::{sn_conv2d, sn_linear, MaybeSn, SnConv2d, SnLinear, SpectralNorm};
pub use truncation::{shrink, truncated_normal};

/// libtorch's generator is global to a process and this crate's unit tests run on threads of one:
/// every test that draws from it (random tensors, layer initialisation, dropout, penalties' random
/// points) holds this lock, so that a seeded draw replays (another test drawing between a
/// `manual_seed` and its draws would change them).
#[cfg(test)]
pub(crate) fn generator_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
