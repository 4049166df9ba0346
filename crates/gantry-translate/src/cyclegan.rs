//! CycleGAN's four networks as one configuration (Zhu et al. 2017; the authors' defaults for
//! `--model cycle_gan`: `resnet_9blocks` generators, the `basic` 70×70 PatchGAN, instance norm,
//! no dropout, `ngf = ndf = 64`).

use gantry_nn::InvalidConfig;
use serde::{Deserialize, Serialize};

use crate::norm::Norm;
use crate::patchgan::PatchGanConfig;
use crate::resnet::ResnetConfig;

/// CycleGAN's networks: G: A → B, F: B → A, D_A on A, D_B on B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CycleGanConfig {
    /// Image side S of both domains (a multiple of 4).
    pub size: i64,
    /// Channels of domain A.
    pub channels_a: i64,
    /// Channels of domain B.
    pub channels_b: i64,
    /// G's first-layer filters (64).
    pub ngf: i64,
    /// D's first-layer filters (64).
    pub ndf: i64,
    /// Residual blocks of each generator (9 for 256×256, 6 for 128×128 and below).
    pub n_blocks: i64,
    /// PatchGAN strided layers (3: 70×70 patches).
    pub n_layers_d: i64,
    /// Normalisation: the authors' `batch` or `instance`.
    pub norm: Norm,
    /// Dropout in the residual blocks (the authors' `--no_dropout` is CycleGAN's default: off).
    pub dropout: bool,
}

impl CycleGanConfig {
    /// The paper's 256×256 RGB ↔ RGB setting (horse2zebra, monet2photo).
    pub fn paper256() -> Self {
        Self {
            size: 256,
            channels_a: 3,
            channels_b: 3,
            ngf: 64,
            ndf: 64,
            n_blocks: 9,
            n_layers_d: 3,
            norm: Norm::Instance,
            dropout: false,
        }
    }

    /// A → B and B → A.
    pub fn generators(&self) -> [ResnetConfig; 2] {
        let g = |input_nc, output_nc| ResnetConfig {
            input_nc,
            output_nc,
            ngf: self.ngf,
            n_blocks: self.n_blocks,
            norm: self.norm,
            dropout: self.dropout,
        };
        [g(self.channels_a, self.channels_b), g(self.channels_b, self.channels_a)]
    }

    /// D_A (judges domain A) and D_B.
    pub fn discriminators(&self) -> [PatchGanConfig; 2] {
        let d =
            |input_nc| PatchGanConfig { input_nc, ndf: self.ndf, n_layers: self.n_layers_d, norm: self.norm };
        [d(self.channels_a), d(self.channels_b)]
    }

    /// Checks every size; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        for (k, c) in [("channels_a", self.channels_a), ("channels_b", self.channels_b)] {
            if !(1..=4).contains(&c) {
                return Err(InvalidConfig(format!("model.{k}: expected 1 to 4, found {c}")));
            }
        }
        self.generators()[0].validate(self.size)?;
        self.discriminators()[0].validate(self.size)
    }
}
