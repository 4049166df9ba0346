//! Sampling from checkpoints: `gantry sample` and `gantry interpolate`.
//!
//! A checkpoint carries its run's config (metadata `gantry.config`), so the generator is rebuilt
//! from the file alone. Latents come from gantry's own seeded generator, never libtorch's.

use std::path::Path;

use anyhow::{bail, Context, Result};
use gantry_core::checkpoint::Checkpoint;
use gantry_core::device::derive_seed;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

use crate::config::{ModelConfig, RunConfig};
use crate::recipe::Recipe;

/// `n` latents `[n, dim]` of N(0, 1), determined by `seed` and `stream` alone.
pub fn latents(n: usize, dim: i64, seed: u64, stream: &str) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, stream, 0));
    let v: Vec<f32> =
        (0..n * dim as usize).map(|_| gantry_data::toy::standard_normal(&mut rng) as f32).collect();
    Tensor::from_slice(&v).reshape([n as i64, dim])
}

/// The truncation trick at sampling time (see `gantry_nn::truncation`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truncation {
    /// Re-draw latent coordinates with |z| > τ (Brock et al. 2019); `None`: no truncation.
    pub tau: Option<f64>,
    /// Shrink towards the mean: z ↦ ψ·z (Karras et al. 2019's form with w̄ = 0); for StyleGAN,
    /// in W: w ↦ w̄ + ψ·(w − w̄). 1 = off.
    pub psi: f64,
    /// StyleGAN: truncate only the first this many ws (the coarse layers); `None`: all.
    pub cutoff: Option<i64>,
}

impl Default for Truncation {
    fn default() -> Self {
        Self { tau: None, psi: 1.0, cutoff: None }
    }
}

impl Truncation {
    /// Checks τ > 0 and a finite ψ; the error names the flag.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.tau {
            if !(t > 0.0 && t.is_finite()) {
                bail!("invalid --truncation: expected a threshold τ > 0, found {t}");
            }
        }
        if !self.psi.is_finite() {
            bail!("invalid --psi: expected a finite number, found {}", self.psi);
        }
        if let Some(c) = self.cutoff {
            if c < 1 {
                bail!("invalid --cutoff: expected ≥ 1 layers, found {c}");
            }
        }
        Ok(())
    }
}

/// [`latents`] with the truncation trick: τ-truncated N(0, 1) coordinates, then scaled by ψ.
/// With the default (no τ, ψ = 1) this equals [`latents`].
pub fn latents_truncated(n: usize, dim: i64, seed: u64, stream: &str, t: &Truncation) -> Tensor {
    let z = match t.tau {
        None => latents(n, dim, seed, stream),
        Some(tau) => {
            let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, stream, 0));
            let v: Vec<f32> = (0..n * dim as usize)
                .map(|_| {
                    gantry_nn::truncated_normal(tau, || gantry_data::toy::standard_normal(&mut rng)) as f32
                })
                .collect();
            Tensor::from_slice(&v).reshape([n as i64, dim])
        }
    };
    if t.psi == 1.0 {
        z
    } else {
        gantry_nn::shrink(&z, &Tensor::zeros([dim], tch::kind::FLOAT_CPU), t.psi)
    }
}

/// The run config stored in a checkpoint.
pub fn config_of(ck: &Checkpoint) -> Result<RunConfig> {
    let text = ck.metadata.get("gantry.config").with_context(|| {
        format!("{}: not a gantry checkpoint (no gantry.config metadata)", ck.source.display())
    })?;
    RunConfig::from_toml(text, &format!("{} (embedded config)", ck.source.display()))
}

/// Rebuilds the generator of a checkpoint on `device`.
pub fn load_generator(path: &Path, device: Device) -> Result<(RunConfig, Box<dyn Recipe>)> {
    let ck = Checkpoint::load(path)?;
    let cfg = config_of(&ck)?;
    let mut recipe = crate::recipe::build(&cfg.model, cfg.loss, &cfg.reg, &cfg.train, device)?;
    recipe.load_generator(&ck)?;
    Ok((cfg, recipe))
}

/// Writes G's output for latents `z` as a PNG: an image grid with `nrow` per row, or for toy
/// models a scatter plot over the data's modes.
pub fn write_output(cfg: &RunConfig, recipe: &dyn Recipe, z: &Tensor, nrow: usize, out: &Path) -> Result<()> {
    write_images(cfg, &recipe.generate(z), nrow, out)
}

/// Writes samples `x` (images, or toy points) as a PNG.
fn write_images(cfg: &RunConfig, x: &Tensor, nrow: usize, out: &Path) -> Result<()> {
    let x = x.shallow_clone();
    match &cfg.model {
        ModelConfig::Dcgan(_)
        | ModelConfig::Cond(_)
        | ModelConfig::Infogan(_)
        | ModelConfig::Stylegan2(_)
        | ModelConfig::Progan(_) => gantry_core::image::save_grid(&x, nrow, out)?,
        ModelConfig::Mlp(_) => {
            let toy = crate::train::toy_of(cfg)?;
            let extent = toy.modes().iter().flatten().fold(1.0f64, |a, v| a.max(v.abs())) * 1.5;
            gantry_core::image::save_png(&crate::plot::scatter(&x, &toy.modes(), extent, 512), out)?;
        }
    }
    Ok(())
}

/// `gantry sample`: `n` samples (a grid of ⌈√n⌉ columns) from latents seeded by `seed`, with the
/// truncation trick if asked; for conditional models all of class `class` if given (otherwise
/// sample i has class i mod K).
pub fn sample(
    ckpt: &Path,
    n: usize,
    seed: u64,
    trunc: &Truncation,
    class: Option<i64>,
    out: &Path,
    device: Device,
) -> Result<()> {
    if n == 0 {
        bail!("--n must be at least 1");
    }
    trunc.validate()?;
    let (cfg, recipe) = load_generator(ckpt, device)?;
    let in_w = recipe.truncates_in_w();
    if trunc.cutoff.is_some() && !in_w {
        bail!("--cutoff truncates StyleGAN's ws; this checkpoint holds a {} model", cfg.model.arch());
    }
    // StyleGAN truncates in W: z itself is only τ-truncated.
    let z_trunc = if in_w { Truncation { psi: 1.0, ..*trunc } } else { *trunc };
    let z = latents_truncated(n, recipe.z_dim(), seed, "sample", &z_trunc);
    let nrow = (n as f64).sqrt().ceil() as usize;
    let x = match class {
        None if in_w => recipe.generate_psi(&z, trunc.psi, trunc.cutoff)?,
        None => recipe.generate(&z),
        Some(k) => {
            let Some(classes) = recipe.classes() else {
                bail!(
                    "--class needs a conditional model; this checkpoint holds a {} model",
                    cfg.model.arch()
                );
            };
            if !(0..classes).contains(&k) {
                bail!("invalid --class: expected 0..{}, found {k}", classes - 1);
            }
            recipe.generate_class(&z, &Tensor::full([n as i64], k, (tch::Kind::Int64, Device::Cpu)))?
        }
    };
    write_images(&cfg, &x, nrow, out)
}

/// `gantry traverse`: InfoGAN's latent codes, one at a time. Code 0 is the categorical code
/// (columns: its K values); code i ≥ 1 is continuous code i (columns: `steps` values from −range to
/// range). Each row keeps one noise vector and the other codes fixed (categorical = row mod K,
/// continuous 0), as in Chen et al.'s Figure 2.
#[allow(clippy::too_many_arguments)]
pub fn traverse(
    ckpt: &Path,
    code: usize,
    steps: usize,
    range: f64,
    rows: usize,
    seed: u64,
    out: &Path,
    device: Device,
) -> Result<()> {
    let (cfg, recipe) = load_generator(ckpt, device)?;
    let Some((k, n_cont)) = recipe.codes() else {
        bail!("traverse sweeps InfoGAN codes; this checkpoint holds a {} model", cfg.model.arch());
    };
    if code > n_cont as usize {
        bail!("invalid --code: expected 0 (categorical) to {n_cont} (continuous), found {code}");
    }
    if rows == 0 || (code > 0 && steps < 2) || !(range > 0.0 && range.is_finite()) {
        bail!("--rows must be ≥ 1, --steps ≥ 2 and --range > 0 (found {rows}, {steps}, {range})");
    }
    let cols = if code == 0 { k as usize } else { steps };
    let (r, c) = (rows as i64, cols as i64);
    let z = latents(rows, recipe.z_dim(), seed, "traverse").repeat_interleave_self_int(c, 0, None); // [r·c, z]
    let idx = Tensor::arange(r * c, (tch::Kind::Int64, Device::Cpu));
    let (row, col) = (idx.divide_scalar_mode(c, "floor"), idx.remainder(c));
    let mut cat = row.remainder(k);
    let mut cont = Tensor::zeros([r * c, n_cont], tch::kind::FLOAT_CPU);
    if code == 0 {
        cat = col;
    } else {
        let values = col.to_kind(tch::Kind::Float) * (2.0 * range / (c - 1) as f64) - range;
        let _ = cont.index_copy_(1, &Tensor::from_slice(&[code as i64 - 1]), &values.unsqueeze(1));
    }
    let x = recipe.generate_codes(&z, &cat, &cont)?;
    write_images(&cfg, &x, cols, out)
}

/// `gantry interpolate`: `rows` strips of `frames` images along z(α) = (1 − α)·z1 + α·z2.
pub fn interpolate(
    ckpt: &Path,
    frames: usize,
    rows: usize,
    seed: u64,
    out: &Path,
    device: Device,
) -> Result<()> {
    if frames < 2 || rows == 0 {
        bail!("--frames must be at least 2 and --rows at least 1 (found {frames} and {rows})");
    }
    let (cfg, recipe) = load_generator(ckpt, device)?;
    if cfg.model.image().is_none() {
        bail!("interpolate draws image strips; this checkpoint holds a {} model", cfg.model.arch());
    }
    let z_dim = recipe.z_dim();
    let ends = latents(2 * rows, z_dim, seed, "interpolate").reshape([rows as i64, 2, z_dim]);
    let (z1, z2) = (ends.select(1, 0), ends.select(1, 1)); // [rows, z_dim] each
    let alpha = Tensor::linspace(0.0, 1.0, frames as i64, tch::kind::FLOAT_CPU).view([1, -1, 1]); // [1, F, 1]
    let z: Tensor = (1.0 - &alpha) * z1.unsqueeze(1) + &alpha * z2.unsqueeze(1); // [rows, F, z_dim]
    write_output(&cfg, recipe.as_ref(), &z.reshape([-1, z_dim]), frames, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latents_are_seeded_and_standard_normal() {
        let a = latents(4000, 25, 3, "x");
        assert!(a.equal(&latents(4000, 25, 3, "x")));
        assert!(!a.equal(&latents(4000, 25, 3, "y")));
        let mean = a.mean(tch::Kind::Double).double_value(&[]);
        let std = a.std(true).double_value(&[]);
        assert!(mean.abs() < 0.01 && (std - 1.0).abs() < 0.01, "{mean} {std}");
    }

    #[test]
    fn truncated_latents() {
        let plain = latents(100, 8, 1, "s");
        assert!(latents_truncated(100, 8, 1, "s", &Truncation::default()).equal(&plain));
        let t = latents_truncated(2000, 8, 1, "s", &Truncation { tau: Some(0.5), psi: 1.0, cutoff: None });
        assert!(t.abs().max().double_value(&[]) <= 0.5);
        let p = latents_truncated(100, 8, 1, "s", &Truncation { tau: None, psi: 0.7, cutoff: None });
        assert!(p.allclose(&(&plain * 0.7), 1e-6, 1e-7, false));
        assert!(Truncation { tau: Some(0.0), psi: 1.0, cutoff: None }
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--truncation"));
    }
}
