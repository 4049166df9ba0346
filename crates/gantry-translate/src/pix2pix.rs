//! pix2pix's two networks as one configuration (Isola et al. 2017; the authors' defaults for
//! `--model pix2pix`: `unet_256`, `basic` (70×70) D, BatchNorm, dropout, `ngf = ndf = 64`).

use gantry_nn::InvalidConfig;
use serde::{Deserialize, Serialize};

use crate::norm::Norm;
use crate::patchgan::PatchGanConfig;
use crate::unet::UnetConfig;

/// How the trained generator translates (see [`crate::norm::Mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TestMode {
    /// As the paper: dropout on and BatchNorm with the test batch's statistics (the authors'
    /// `test.py` without `--eval`).
    #[default]
    Paper,
    /// Running statistics and no dropout (`--eval`).
    Eval,
}

/// pix2pix's networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pix2pixConfig {
    /// Image side S (a multiple of 2^num_downs).
    pub size: i64,
    /// Channels of the input A (the authors' `input_nc`).
    pub input_channels: i64,
    /// Channels of the output B (`output_nc`).
    pub output_channels: i64,
    /// G's first-layer filters (64).
    pub ngf: i64,
    /// D's first-layer filters (64).
    pub ndf: i64,
    /// U-Net downsamplings (log₂ S: 8 for 256×256, the paper's unet_256).
    pub num_downs: i64,
    /// PatchGAN strided layers (3: 70×70 patches).
    pub n_layers_d: i64,
    /// Normalisation: the authors' `batch` or `instance`.
    pub norm: Norm,
    /// Dropout in G's inner decoder blocks (the paper's noise z).
    pub dropout: bool,
    /// Which half of an A|B file is the input: true for A (the authors' `--direction AtoB`).
    pub a_to_b: bool,
    /// How `gantry translate` and the sample grids run G: `paper` or `eval`.
    pub test_mode: TestMode,
}

impl Pix2pixConfig {
    /// The paper's 256×256 setting (facades, maps, edges2shoes: RGB → RGB).
    pub fn paper256() -> Self {
        Self {
            size: 256,
            input_channels: 3,
            output_channels: 3,
            ngf: 64,
            ndf: 64,
            num_downs: 8,
            n_layers_d: 3,
            norm: Norm::Batch,
            dropout: true,
            a_to_b: true,
            test_mode: TestMode::Paper,
        }
    }

    /// The same at `size` (num_downs = log₂ size) with other channel counts.
    pub fn at(size: i64, input_channels: i64, output_channels: i64) -> Self {
        Self {
            size,
            input_channels,
            output_channels,
            num_downs: 63 - size.max(1).leading_zeros() as i64,
            ..Self::paper256()
        }
    }

    /// G's U-Net.
    pub fn generator(&self) -> UnetConfig {
        UnetConfig {
            input_nc: self.input_channels,
            output_nc: self.output_channels,
            ngf: self.ngf,
            num_downs: self.num_downs,
            norm: self.norm,
            dropout: self.dropout,
        }
    }

    /// D judges (A, B) pairs: input and output channels together.
    pub fn discriminator(&self) -> PatchGanConfig {
        PatchGanConfig {
            input_nc: self.input_channels + self.output_channels,
            ndf: self.ndf,
            n_layers: self.n_layers_d,
            norm: self.norm,
        }
    }

    /// Checks every size; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        self.generator().validate(self.size)?;
        self.discriminator().validate(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_the_size() {
        assert_eq!(Pix2pixConfig::paper256().num_downs, 8);
        assert_eq!(Pix2pixConfig::at(32, 1, 1).num_downs, 5);
        assert_eq!(Pix2pixConfig::at(64, 1, 3).num_downs, 6);
        assert!(Pix2pixConfig::at(32, 1, 3).validate().is_ok());
        assert!(Pix2pixConfig { size: 48, ..Pix2pixConfig::at(32, 1, 1) }.validate().is_err());
    }
}
