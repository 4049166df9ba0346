//! Truncated samples from a StyleGAN2 generator, drawn from Rust code.
//!
//! The generator comes from a gantry StyleGAN2 run (a run folder or one of its checkpoints) or
//! from a StyleGAN2-ADA network converted by `scripts/convert_stylegan2ada.py` (NVIDIA's `.pkl`
//! → safetensors, loaded with the preset and settings the converter records); either way
//! [`Model::load`] rebuilds it and [`Model::style_generator`] hands over the generator itself
//! (gantry_stylegan's `Generator`, the EMA copy when the run keeps one) with its configuration.
//! The example then maps seeded latents through it with the truncation trick in W,
//! `w̄ + ψ·(w − w̄)` (Karras et al. 2019; ψ = 1 is none), and writes a grid: one row per ψ, the same
//! latents in every row, so each column shows one latent pulled toward the average.
//!
//! ```text
//! cargo run --release --example stylegan2_sample -- CKPT --out grid.png [--n 8] [--psi 1,0.7,0.5,0] [--seed 0]
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use gantry::stylegan::{SynthesisOptions, Truncation};
use gantry::train::capability::Model;
use tch::{Device, Tensor};

fn main() -> Result<()> {
    let (mut ckpt, mut out, mut n, mut seed) = (None::<PathBuf>, None::<PathBuf>, 8usize, 0u64);
    let mut psis = vec![1.0, 0.7, 0.5, 0.0];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--out" => out = Some(value()?.into()),
            "--n" => n = value()?.parse().context("--n: expected a whole number")?,
            "--seed" => seed = value()?.parse().context("--seed: expected a whole number")?,
            "--psi" => {
                psis = value()?
                    .split(',')
                    .map(|p| p.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .context("--psi: expected numbers separated by commas")?
            }
            flag if flag.starts_with("--") => {
                bail!("unknown option {flag}: expected --out, --n, --psi, --seed")
            }
            _ => ckpt = Some(a.into()),
        }
    }
    let (Some(ckpt), Some(out)) = (ckpt, out) else { bail!("expected CKPT --out FILE.png") };
    if n == 0 || psis.is_empty() {
        bail!("--n and --psi need at least one value each");
    }

    let device = Device::cuda_if_available();
    let model = Model::load(&ckpt, device)?;
    let style = model.style_generator()?; // one line naming what the model can do instead, if not StyleGAN2
    let (g, cfg) = (&style.g, &style.cfg);
    println!(
        "{}: StyleGAN2 at {}x{}x{}, z {} → w {}",
        model.path.display(),
        cfg.resolution,
        cfg.resolution,
        cfg.channels,
        cfg.z_dim,
        cfg.w_dim
    );
    if cfg.c_dim > 0 {
        bail!(
            "this example draws unconditional models; {} is conditional ({} classes)",
            ckpt.display(),
            cfg.c_dim
        );
    }

    // gantry's latent generator: the same latents for a seed on every machine and device.
    let z = gantry::core::latent::latents(n, cfg.z_dim, seed, "sample").to_device(device);
    let rows: Vec<Tensor> = psis
        .iter()
        .map(|&psi| {
            // Constant noise inputs: rows differ by ψ alone.
            let opts = SynthesisOptions {
                noise: gantry::stylegan::NoiseMode::Const,
                ..SynthesisOptions::new(false)
            };
            tch::no_grad(|| g.forward(&z, None, Truncation { psi, cutoff: None }, opts))
        })
        .collect();
    let images = Tensor::cat(&rows, 0);
    for (psi, row) in psis.iter().zip(&rows) {
        println!(
            "psi {psi:<4}  pixel std across the row {:.6}",
            row.std_dim([0].as_slice(), true, false).mean(tch::Kind::Float).double_value(&[])
        );
    }
    gantry::core::image::save_grid(&images, n, &out)?;
    println!("wrote {} ({} rows of {n})", out.display(), psis.len());
    Ok(())
}
