//! gantry-translate: image-to-image translation networks on libtorch, layer for layer as the
//! pix2pix/CycleGAN authors' PyTorch code (junyanz/pytorch-CycleGAN-and-pix2pix,
//! `models/networks.py`), whose state-dict names they keep: a `latest_net_G.pth` converted by
//! `scripts/convert_pix2pix.py` loads into them, and parity tests compare outputs with fixtures
//! the authors' modules produced (`tests/fixtures/make_fixtures.py`).
//!
//! | module | what |
//! |---|---|
//! | [`norm`] | BatchNorm with the authors' init and pix2pix's three inference behaviours; instance norm |
//! | [`unet`] | the U-Net generator (Ronneberger et al. 2015 as Isola et al. 2017 use it): skip connections, dropout |
//! | [`patchgan`] | the N-layer PatchGAN discriminator: one logit per (70×70 for 3 layers) patch |
//! | [`resnet`] | CycleGAN's ResNet generator: reflection padding, two downsamplings, residual blocks |
//! | [`pix2pix`] | pix2pix's networks as one configuration (sizes, widths, norm, inference mode) |
//! | [`cyclegan`] | CycleGAN's four networks as one configuration |
//! | [`pool`] | CycleGAN's image pool: D sees a history of generated images |
//! | [`srgan`] | SRGAN's SRResNet generator and discriminator (Ledig et al. 2017) |
//! | [`perceptual`] | frozen feature networks for content losses: torchvision's VGG19, the FID Inception's stem |

#![warn(missing_docs, missing_debug_implementations)]

pub mod cyclegan;
pub mod norm;
pub mod patchgan;
pub mod perceptual;
pub mod pix2pix;
pub mod pool;
pub mod resnet;
pub mod srgan;
pub mod unet;

pub use cyclegan::CycleGanConfig;
pub use norm::{Mode, Norm};
pub use patchgan::{receptive_field, PatchGan, PatchGanConfig};
pub use perceptual::{FeatureLayer, FeatureNet, InceptionStem, Vgg19, WeightsError};
pub use pix2pix::{Pix2pixConfig, TestMode};
pub use pool::ImagePool;
pub use resnet::{ResnetConfig, ResnetGenerator};
pub use srgan::{SrDiscriminator, SrResNet, SrganConfig};
pub use unet::{UnetConfig, UnetGenerator};

/// libtorch's generator is global to a process and this crate's tests run on threads of one: every
/// test that draws from it holds this lock, so that a seeded draw replays (network construction
/// in another test would otherwise take numbers between a `manual_seed` and its draws).
#[cfg(test)]
pub(crate) fn generator_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The authors' `init_weights(net, 'normal', 0.02)` for a convolution's weight: N(0, 0.02).
pub(crate) fn conv_init() -> tch::nn::Init {
    tch::nn::Init::Randn { mean: 0.0, stdev: 0.02 }
}
