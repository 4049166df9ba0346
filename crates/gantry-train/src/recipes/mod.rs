//! The model families, one file each: its settings (a [`Recipe`]), its [`Family`] (networks,
//! phases, capabilities) and its presets. [`FAMILIES`] is the one list that names them; adding a
//! family is a file here and a line there.
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

use anyhow::{bail, Result};
use tch::Device;

use crate::config::{parse_settings, FamilySettings, Recipe, RunConfig};
use crate::family::Family;
use crate::presets::Preset;

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

/// One family as the registry knows it.
pub struct Kind {
    pub arch: &'static str,
    parse: fn(toml::Table) -> Result<Box<dyn FamilySettings>, String>,
    /// Its presets.
    pub presets: &'static [Preset],
}

const fn kind<T: Recipe>(presets: &'static [Preset]) -> Kind {
    Kind { arch: T::ARCH, parse: parse_settings::<T>, presets }
}

/// Every family, in the order `gantry presets` lists them.
pub const FAMILIES: &[Kind] = &[
    kind::<gan::DcganRun>(gan::DCGAN_PRESETS),
    kind::<cond::CondRun>(cond::PRESETS),
    kind::<infogan::InfoganRun>(infogan::PRESETS),
    kind::<stylegan2::StyleRun>(stylegan2::PRESETS),
    kind::<progan::ProganRun>(progan::PRESETS),
    kind::<pix2pix::Pix2pixRun>(pix2pix::PRESETS),
    kind::<cyclegan::CycleRun>(cyclegan::PRESETS),
    kind::<srgan::SrganRun>(srgan::PRESETS),
    kind::<aae::AaeRun>(aae::PRESETS),
    kind::<vaegan::VaeganRun>(vaegan::PRESETS),
    kind::<gan::MlpRun>(gan::MLP_PRESETS),
];

/// Parses the family sections of a config whose `model.arch` is `arch`.
pub(crate) fn parse(arch: &str, table: toml::Table) -> Result<Box<dyn FamilySettings>, String> {
    match FAMILIES.iter().find(|k| k.arch == arch) {
        Some(k) => (k.parse)(table),
        None => Err(format!(
            "unknown model.arch '{arch}': expected one of {}",
            FAMILIES.iter().map(|k| k.arch).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The families whose configs have the dotted `key` (judged by each family's first preset).
pub fn archs_with_key(key: &str) -> Vec<&'static str> {
    FAMILIES
        .iter()
        .filter(|k| {
            let Some(p) = k.presets.first() else { return false };
            let Ok(v) = toml::Value::try_from(p.config()) else { return false };
            key.split('.').try_fold(&v, |node, part| node.get(part)).is_some()
        })
        .map(|k| k.arch)
        .collect()
}

/// What building a family may depend on besides its settings.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext {
    pub device: Device,
    /// Batches in one epoch of the training data (epoch-based schedules); None when building
    /// for inference.
    pub batches_per_epoch: Option<u64>,
}

impl BuildContext {
    /// Building to draw samples from a checkpoint.
    pub fn inference(device: Device) -> Self {
        Self { device, batches_per_epoch: None }
    }

    /// The epoch length, which training needs for epoch-based schedules.
    pub fn epoch_length(&self) -> Result<u64> {
        match self.batches_per_epoch {
            Some(n) if n > 0 => Ok(n),
            _ => bail!("this family's schedule counts epochs: build it with its training data"),
        }
    }
}

/// The family of a run (channels resolved), on `cx.device`. Seed libtorch's generator first.
pub fn build(run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
    run.family.build(run, cx)
}
