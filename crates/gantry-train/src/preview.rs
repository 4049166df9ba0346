//! The sample grids a run writes to `samples/step-N.png`: the same fixed latents every time for
//! families that draw from latents (a scatter over the modes for toys), or the same fixed inputs
//! with their translations and targets for families that translate.

use std::path::Path;

use crate::error::{bail, Result};
use gantry_core::latent::latents;
use gantry_data::toy::Toy;
use tch::Tensor;

use crate::config::RunConfig;
use crate::data::Source;
use crate::family::Family;
use crate::generate::{save_samples, save_translations};

/// What a run's grids show.
#[derive(Debug)]
pub enum Preview {
    /// G's output for fixed latents, `nrow` per row (toys: a scatter over the modes).
    Latents {
        /// The fixed latents `[log.grid, z_dim]`, drawn from the run's seed.
        z: Tensor,
        /// Images per row: ⌈√`log.grid`⌉.
        nrow: usize,
        /// The toy distribution whose modes the scatter shows; None for image data.
        toy: Option<Toy>,
    },
    /// Translations of fixed inputs (u8), beside their targets (paired data) or their
    /// translations back (a reversible model on unpaired data: the cycle).
    Pairs {
        /// The fixed inputs, u8 `[N, C, H, W]` (up to `log.grid` of them).
        inputs: Tensor,
        /// Their targets, u8 `[N, C, H, W]`; None on unpaired data.
        targets: Option<Tensor>,
    },
}

impl Preview {
    /// The grid of `cfg` (`log.grid` samples or pairs) for `family` on `data`.
    pub fn new(cfg: &RunConfig, data: &Source, family: &dyn Family) -> Result<Self> {
        if family.translator().is_some() {
            let Some((inputs, targets)) = data.translation_inputs(family, cfg.log.grid) else {
                bail!("a {} model translates images and needs two image domains", cfg.family.arch());
            };
            return Ok(Preview::Pairs { inputs, targets });
        }
        let Some(s) = family.sampler() else {
            bail!(
                "a {} model neither draws from latents nor translates: it has no sample grid",
                cfg.family.arch()
            );
        };
        Ok(Preview::Latents {
            z: latents(cfg.log.grid, s.z_dim(), cfg.seed, "sample-grid"),
            nrow: (cfg.log.grid as f64).sqrt().ceil() as usize,
            toy: data.toy().cloned(),
        })
    }

    /// Writes the grid of `family` now to `out`; returns the samples of a latent grid.
    pub fn write(&self, family: &dyn Family, out: &Path) -> Result<Option<Tensor>> {
        match self {
            Preview::Latents { z, nrow, toy } => {
                let s = family.sampler().expect("checked when the preview was made");
                let x = s.generate(z);
                save_samples(&x, toy.as_ref(), *nrow, out)?;
                Ok(Some(x))
            }
            Preview::Pairs { inputs, targets } => {
                let t = family.translator().expect("checked when the preview was made");
                let x = gantry_core::image::from_u8(inputs);
                let y = t.translate(&x)?;
                let third = match targets {
                    Some(t) => Some(gantry_core::image::from_u8(t)),
                    None if t.reversible() => Some(t.translate_back(&y)?),
                    None => None,
                };
                save_translations(&x, &y, third.as_ref(), out)?;
                Ok(None)
            }
        }
    }
}
