//! gantry-repro: reproducible figures. Each set writes PNG plots and a JSON/markdown summary,
//! and has a `--check` mode (tiny budget, assertions on the numbers) that tests run so the code
//! behind a figure cannot silently rot. Driven by `cargo xtask repro NAME` through the
//! `gantry-repro` binary; everything is trained and measured through gantry-train.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;
use tch::Device;

use gantry_train::capability::Model;
use gantry_train::config::RunConfig;

pub mod autoencoders;
pub mod biggan;
/// The figures' charts live in gantry-train (run reports draw them too).
pub use gantry_train::chart;
pub mod collapse;
pub mod conditioning;
pub mod divergences;
pub mod few_shot;
pub mod stylegan;
pub mod translation;
pub mod truncation;

/// The figure sets, with one line each.
pub const FIGURES: &[(&str, &str)] = &[
    (
        "divergences",
        "JSD vs W1 under separation, vanishing gradients, the toy GAN, mode collapse on the ring",
    ),
    (
        "collapse",
        "mode collapse on the ring and MNIST: NS vs minibatch discrimination vs unrolled vs WGAN-GP; unrolled k = 0/1/5/10, first vs second order",
    ),
    (
        "conditioning",
        "cGAN, projection and ACGAN class accuracy, InfoGAN code purity and traversals, on MNIST",
    ),
    (
        "truncation",
        "precision, recall, density, coverage and FID as the truncation τ or ψ varies (MNIST DCGAN)",
    ),
    (
        "translation",
        "pix2pix's two losses (edges -> Fashion-MNIST), CycleGAN with/without the cycle loss (digits -> MNIST), bicubic vs SRResNet vs SRGAN x4 (CIFAR-10)",
    ),
    (
        "autoencoders",
        "AAE latent scatter / MMD / digit-per-component with the mixture prior, Parzen log-likelihood, VAE vs VAE-GAN (MNIST)",
    ),
    (
        "few-shot",
        "500 digits three ways (none, DiffAugment, ADA): FID, D's train vs held-out scores, ADA's p; the leak check (blit at p 0.5, 0.9)",
    ),
    (
        "biggan",
        "BigGAN on CIFAR-10 at CPU width: precision/recall and FID/IS as the truncation τ varies, BatchNorm in eval/batch/standing mode; shared embedding + hierarchical z vs per-class CBN",
    ),
    (
        "stylegan",
        "StyleGAN2 on MNIST: progress, style mixing, noise, truncation in W, inversion PSNR, curves",
    ),
];

/// Where to write, how big a budget, which device.
#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    /// Tiny budgets and assertions instead of the full figures.
    pub check: bool,
    /// One section of a figure set that has several (`translation`: pix2pix, cyclegan, superres).
    pub only: Option<String>,
    pub device: Device,
    /// Keep a run folder that already holds this configuration's finished run ([`trained`]).
    pub reuse: bool,
}

/// Removes `dir` if it exists (figures start from a clean slate).
pub fn clear(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    Ok(())
}

/// Trains `cfg` into a cleared `dir` and returns the model of its final checkpoint. With
/// `o.reuse`, a `dir` whose final checkpoint was written under the same configuration (its
/// `gantry.config` equals `cfg`'s) is kept and measured again without training: for re-measuring
/// after a change to a figure's measurements, not to gantry's training code.
pub fn trained(cfg: RunConfig, dir: &Path, o: &Options) -> Result<Model> {
    let last = gantry_train::run_dir::RunDir::new(dir).checkpoint(cfg.steps);
    if o.reuse && last.is_file() {
        let saved = gantry_core::checkpoint::Checkpoint::load(&last)?;
        // As the run saved it: with its thread count resolved.
        let mut ours = cfg.clone();
        ours.threads = gantry_train::train::resolve_threads(ours.threads);
        let (theirs, ours) =
            (saved.metadata.get("gantry.config").cloned().unwrap_or_default(), ours.to_toml()?);
        if theirs == ours {
            eprintln!("{}: reusing the finished run (same configuration)", dir.display());
            return Ok(Model::load(&last, o.device)?);
        }
        let differs = theirs.lines().zip(ours.lines()).find(|(a, b)| a != b);
        eprintln!(
            "{}: retraining: its configuration differs ({})",
            dir.display(),
            differs.map(|(a, b)| format!("'{a}' there, '{b}' here")).unwrap_or_else(|| "in length".into())
        );
    }
    clear(dir)?;
    gantry_train::train::start(cfg, dir, o.device)?;
    Ok(Model::load(&last, o.device)?)
}

/// Mean and covariance of features `[N, D]`.
pub fn feature_stats(feats: &tch::Tensor) -> Result<(tch::Tensor, tch::Tensor)> {
    let mut s = gantry_metrics::FeatureStats::new();
    s.update(feats)?;
    Ok((s.mean()?, s.cov()?))
}

/// The domain metrics' reference: one of gantry's classifiers (MNIST, Fashion-MNIST), the
/// features `[N, 128]` of reference images (the embedded 5k training digits for MNIST), and
/// their (mean, covariance).
pub struct DomainReference {
    pub classifier: gantry_metrics::classifier::Classifier,
    pub images: tch::Tensor,
    pub feats: tch::Tensor,
    pub mu: tch::Tensor,
    pub sigma: tch::Tensor,
}

impl DomainReference {
    /// MNIST: the embedded 5k training digits.
    pub fn mnist(device: Device) -> Result<Self> {
        Self::load("mnist-5k", "mnist", 5000, device)
    }

    /// The first `n` training images of dataset `data`, read by the builtin classifier `features`.
    pub fn load(data: &str, features: &str, n: i64, device: Device) -> Result<Self> {
        let classifier = gantry_metrics::classifier::Classifier::builtin(features, device)?;
        let images = gantry_data::load(data, &gantry_data::LoadOptions::default())?.images;
        let images = images.narrow(0, 0, n.min(images.size()[0]));
        let feats = classifier.features_and_logits(&images)?.0;
        let (mu, sigma) = feature_stats(&feats)?;
        Ok(Self { classifier, images, feats, mu, sigma })
    }

    /// Domain FID of features `[N, 128]` against the reference.
    pub fn fid(&self, feats: &tch::Tensor) -> Result<f64> {
        let (m, s) = feature_stats(feats)?;
        Ok(gantry_metrics::frechet_distance(&m, &s, &self.mu, &self.sigma)?)
    }
}

/// Writes `summary.json` and its `markdown` rendering `summary.md` into `out`.
pub fn write_summary(out: &Path, summary: &Value, markdown: fn(&Value) -> String) -> Result<()> {
    gantry_core::fs::write_atomic(
        &out.join("summary.json"),
        serde_json::to_string_pretty(summary)?.as_bytes(),
    )?;
    gantry_core::fs::write_atomic(&out.join("summary.md"), markdown(summary).as_bytes())?;
    Ok(())
}

/// One section of a figure set: its summary.
pub type Section = fn(&Options) -> Result<Value>;

/// Runs a figure set made of `sections` into `o.out` (`o.only`: one section, the others kept
/// from an earlier `summary.json`); writes and returns the summary.
pub fn run_sections(
    o: &Options,
    set: &str,
    sections: &[(&str, Section)],
    markdown: fn(&Value) -> String,
) -> Result<Value> {
    std::fs::create_dir_all(&o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    if let Some(only) = &o.only {
        anyhow::ensure!(
            sections.iter().any(|(n, _)| n == only),
            "unknown section '{only}' of {set}: expected one of {}",
            sections.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
        );
    }
    let mut summary = match (&o.only, std::fs::read_to_string(o.out.join("summary.json"))) {
        (Some(_), Ok(text)) => serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({})),
        _ => serde_json::json!({}),
    };
    summary["check"] = serde_json::json!(o.check);
    for (name, section) in sections {
        if o.only.as_deref().is_none_or(|only| only == *name) {
            summary[*name] = section(o)?;
        }
    }
    write_summary(&o.out, &summary, markdown)?;
    Ok(summary)
}

/// `preset` on `data` for `steps` steps, logging 30 times, one checkpoint and grid at the end.
/// Sets `cfg`'s seed and steps, logs and sample grids every `every` steps, and one checkpoint
/// (the last): the cadence of the toy figure runs.
pub fn cadence(cfg: &mut RunConfig, seed: u64, steps: u64, every: u64) {
    cfg.seed = seed;
    cfg.steps = steps;
    cfg.log.every = every;
    cfg.log.sample_every = every;
    cfg.log.checkpoint_every = steps;
    cfg.log.keep_checkpoints = 1;
}

pub fn short_run(preset: &str, data: &str, steps: u64) -> Result<RunConfig> {
    let mut cfg = gantry_train::presets::find(preset)?.config();
    cfg.data = data.to_string();
    cfg.steps = steps;
    cfg.log.every = (steps / 30).max(1);
    cfg.log.sample_every = steps;
    cfg.log.checkpoint_every = steps;
    cfg.log.keep_checkpoints = 1;
    Ok(cfg)
}
