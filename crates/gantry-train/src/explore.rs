//! What a style-based generator (a model with the [`StyleBased`] capability: StyleGAN2) offers
//! beyond sampling: style-mixing and noise grids (`gantry style-mix`, `gantry noise`) and export
//! to StyleGAN2-ADA's Generator state dict (`gantry export`). Inversion is in
//! [`crate::inversion`]. Each works on a copy of the model's sampling generator
//! ([`Model::style_generator`]), whatever family provides it.
//!
//! [`StyleBased`]: crate::capability::StyleBased

use std::path::Path;

use crate::error::{bail, Result};
use gantry_core::checkpoint::Checkpoint;
use tch::{Device, Tensor};

use crate::capability::{Model, StyleGenerator};

/// The sampling generator (the EMA copy when there is one) of the checkpoint at `path`, on a
/// store of its own; a checkpoint without a style-based generator is one line.
pub fn load(path: &Path, device: Device) -> Result<StyleGenerator> {
    Model::load(path, device)?.style_generator()
}

/// `gantry export --format stylegan2-ada`: the sampling generator of the StyleGAN2 checkpoint
/// at `path` (the EMA copy when there is one, as their pickles' `G_ema`) as a state dict that
/// StyleGAN2-ADA's `training.networks.Generator` loads with `load_state_dict(strict=True)`:
/// gantry's parameter names are theirs; the constant 4×4 resample filters
/// (`setup_filter([1, 3, 3, 1])`) they keep as buffers are added, and the constructor arguments
/// go into the `stylegan2ada.init_kwargs` metadata (JSON). Written atomically to `out`; returns
/// the number of tensors.
pub fn export_stylegan2ada(path: &Path, out: &Path) -> Result<usize> {
    let loaded = load(path, Device::Cpu)?;
    let cfg = &loaded.cfg;
    if cfg.style_op != gantry_stylegan::StyleOp::Modulated {
        bail!(
            "{}: a StyleGAN2 with model.style_op = {:?}; StyleGAN2-ADA's Generator modulates weights",
            path.display(),
            cfg.style_op
        );
    }
    let mut ck = Checkpoint::new();
    for (name, t) in loaded.vs.variables() {
        ck.insert(name, &t.detach());
    }
    let f = Tensor::from_slice(&[1f32, 3., 3., 1.]);
    let filter = f.outer(&f) / 64.0;
    let mut res = 4;
    while res <= cfg.resolution {
        ck.insert(format!("synthesis.b{res}.resample_filter"), &filter);
        if res > 4 {
            ck.insert(format!("synthesis.b{res}.conv0.resample_filter"), &filter);
        }
        ck.insert(format!("synthesis.b{res}.conv1.resample_filter"), &filter);
        res *= 2;
    }
    let init_kwargs = serde_json::json!({
        "z_dim": cfg.z_dim,
        "c_dim": 0,
        "w_dim": cfg.w_dim,
        "img_resolution": cfg.resolution,
        "img_channels": cfg.channels,
        "mapping_kwargs": {
            "num_layers": cfg.mapping_layers,
            "lr_multiplier": cfg.mapping_lr_multiplier,
            "w_avg_beta": cfg.w_avg_beta,
        },
        "synthesis_kwargs": {
            "channel_base": cfg.channel_base,
            "channel_max": cfg.channel_max,
            "conv_clamp": cfg.conv_clamp,
        },
    });
    ck.metadata.insert("stylegan2ada.init_kwargs".into(), init_kwargs.to_string());
    ck.metadata.insert("gantry.source".into(), path.display().to_string());
    ck.save(out)?;
    Ok(ck.tensors.len())
}

/// `gantry style-mix`: a (rows + 1) × (cols + 1) style-mixing grid from the checkpoint at
/// `path` (see `gantry_stylegan::explore::style_mix`), latents seeded by `seed`.
#[allow(clippy::too_many_arguments)]
pub fn style_mix(
    path: &Path,
    rows: usize,
    cols: usize,
    styles: &gantry_stylegan::explore::Styles,
    psi: f64,
    seed: u64,
    out: &Path,
    device: Device,
) -> Result<()> {
    let loaded = load(path, device)?;
    let z = gantry_core::latent::latents(rows + cols, loaded.cfg.z_dim, seed, "style-mix").to_device(device);
    let grid = gantry_stylegan::explore::style_mix(&loaded.g, &z, rows, cols, styles, psi)?;
    Ok(gantry_core::image::save_grid(&grid.to_device(Device::Cpu), cols + 1, out)?)
}

/// `gantry noise`: per row one latent, `cols` fresh noise draws, no noise, and the per-pixel
/// std (see `gantry_stylegan::explore::noise`), from the checkpoint at `path`.
pub fn noise(path: &Path, rows: usize, cols: usize, seed: u64, out: &Path, device: Device) -> Result<()> {
    let loaded = load(path, device)?;
    let z = gantry_core::latent::latents(rows, loaded.cfg.z_dim, seed, "noise").to_device(device);
    tch::manual_seed(seed as i64);
    let grid = gantry_stylegan::explore::noise(&loaded.g, &z, rows, cols)?;
    Ok(gantry_core::image::save_grid(&grid.to_device(Device::Cpu), cols + 2, out)?)
}
