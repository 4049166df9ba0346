//! The model families, one file each: its settings (a [`Recipe`]), its [`Family`] (networks,
//! phases, capabilities) and its presets. [`Registry::builtin`] is the one list that names them;
//! adding a family is a file here and a line there (or, outside gantry, a file in your crate and a
//! [`Registry::register`] call).
//!
//! | file | `model.arch` | phases |
//! |---|---|---|
//! | [`gan`] | `dcgan`, `mlp` | `D` (× `train.d_steps`), `G` |
//! | [`cond`] | `cond` | `D`, `G` |
//! | [`infogan`] | `infogan` | `D`, `G` |
//! | [`stylegan2`] | `stylegan2` | `D` (lazy R1 inside), `G` (lazy path length inside) |
//! | [`progan`] | `progan` | `D`, `G` |
//! | [`pix2pix`] | `pix2pix` | `D`, `G` (on the same batch and the same G forward) |
//! | [`cyclegan`] | `cyclegan` | `G` (both generators), `D` (both discriminators, through image pools) |
//! | [`srgan`] | `srgan` | `D`, `G` (on the same batch and the same G forward; LR inputs made from it) |
//! | [`aae`] | `aae` | `AE` (encoder + decoder on reconstruction), `D` (latent D: prior vs codes), `E` (encoder fools D) |
//! | [`vaegan`] | `vaegan` | `VAE` (encoder, decoder and, with `train.gan`, D, each on its own loss from one forward pass) |
//!
//! [`adversarial`] holds what the GAN families share: the objective, the penalties, and the G/D
//! pair with its optimisers and EMA.

use crate::registry::{Registry, RegistryError};

pub mod aae;
pub mod adversarial;
pub mod cond;
pub mod cyclegan;
pub mod gan;
pub mod infogan;
pub mod pix2pix;
pub mod progan;
pub mod srgan;
pub mod stylegan2;
pub mod vaegan;

impl Registry {
    /// gantry's own families, in the order `gantry presets` lists them.
    pub fn builtin() -> Self {
        let all = || -> Result<Self, RegistryError> {
            Registry::empty()
                .register::<gan::DcganRun>(gan::DCGAN_PRESETS)?
                .register::<cond::CondRun>(cond::PRESETS)?
                .register::<infogan::InfoganRun>(infogan::PRESETS)?
                .register::<stylegan2::StyleRun>(stylegan2::PRESETS)?
                .register::<progan::ProganRun>(progan::PRESETS)?
                .register::<pix2pix::Pix2pixRun>(pix2pix::PRESETS)?
                .register::<cyclegan::CycleRun>(cyclegan::PRESETS)?
                .register::<srgan::SrganRun>(srgan::PRESETS)?
                .register::<aae::AaeRun>(aae::PRESETS)?
                .register::<vaegan::VaeganRun>(vaegan::PRESETS)?
                .register::<gan::MlpRun>(gan::MLP_PRESETS)
        };
        // Names are distinct and every preset builds its own family (the registry tests check).
        all().expect("gantry's own families register")
    }
}
