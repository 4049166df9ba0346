//! A run's configuration: model + loss + optimisers + data + schedule, saved as `config.toml` beside
//! the checkpoints (and inside each checkpoint) so that a run can be rebuilt from its folder alone.
//!
//! `--set key=value` overrides any field by its dotted path (`model.g_width=64`, `train.g_opt.lr=1e-4`,
//! `data=mnist`); an unknown key or a value of the wrong type is a one-line error naming the key.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use gantry_cond::{CondConfig, InfoGanConfig};
use gantry_core::optim::AdamConfig;
use gantry_data::{Fit, LastBatch, Split};
use gantry_dcgan::{DcganConfig, MlpConfig};
use gantry_losses::{AdversarialLoss, GpSide};
use gantry_nn::EmaConfig;
use gantry_progan::ProganConfig;
use gantry_stylegan::StyleGan2Config;
use serde::{Deserialize, Serialize};

/// Everything that defines a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The preset this configuration started from (informational).
    pub preset: String,
    /// Training data: a dataset name (`mnist-5k`, `mnist`, `fashion-mnist`, `cifar10`, `cifar10-jpg`,
    /// `orl-faces`), a path (image folder/archive, IDX folder, CIFAR batches, CSV), or for MLP
    /// models a toy distribution (`ring`, `grid`, `gaussian1d`).
    pub data: String,
    /// Run seed: weights, noise, data order and sample latents all derive from it.
    pub seed: u64,
    /// Generator updates to reach.
    pub steps: u64,
    /// Real images per discriminator step (and fakes per step).
    pub batch_size: usize,
    /// CPU threads (0 = all available). Part of the run: it changes floating-point reduction order.
    pub threads: usize,
    /// The objective: `minimax`, `non-saturating`, `lsgan`, `hinge`, `ragan`, `wgan` (no
    /// constraint: for critics constrained otherwise), `wgan-clip`, `wgan-gp`, `wgan-gp-one-sided`.
    pub loss: LossChoice,
    /// Penalty weights and constraints (see [`RegConfig`]). Absent in configs written before it
    /// existed, which then get the defaults.
    #[serde(default)]
    pub reg: RegConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub loader: LoaderConfig,
    pub log: LogConfig,
    /// FID during training (off unless `eval.every` > 0).
    #[serde(default)]
    pub eval: EvalConfig,
}

/// Evaluation during training: every `every` steps, FID between `n` samples from fixed latents
/// and the training data (up to 10,000 images, a seeded subset), logged to `metrics.jsonl` as
/// `fid_<features>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Steps between evaluations; 0 turns it off.
    pub every: u64,
    /// `inception`, `mnist` or `fashion-mnist`.
    pub features: String,
    /// Generated samples per evaluation.
    pub n: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self { every: 0, features: "inception".into(), n: 1000 }
    }
}

/// A named objective: an adversarial loss and the Lipschitz constraint it comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossChoice {
    Minimax,
    NonSaturating,
    Lsgan,
    Hinge,
    Ragan,
    /// Wasserstein loss without a built-in constraint.
    Wgan,
    /// Wasserstein loss + weight clipping to [−reg.clip, reg.clip] (Arjovsky et al. 2017).
    WganClip,
    /// Wasserstein loss + reg.gp × two-sided gradient penalty (Gulrajani et al. 2017).
    WganGp,
    /// Wasserstein loss + reg.gp × one-sided gradient penalty.
    WganGpOneSided,
}

/// The constraint a [`LossChoice`] brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    None,
    Clip,
    GradientPenalty(GpSide),
}

impl LossChoice {
    /// Every objective.
    pub const ALL: &'static [LossChoice] = &[
        LossChoice::Minimax,
        LossChoice::NonSaturating,
        LossChoice::Lsgan,
        LossChoice::Hinge,
        LossChoice::Ragan,
        LossChoice::Wgan,
        LossChoice::WganClip,
        LossChoice::WganGp,
        LossChoice::WganGpOneSided,
    ];

    /// The name configs use.
    pub fn name(self) -> &'static str {
        match self {
            LossChoice::Minimax => "minimax",
            LossChoice::NonSaturating => "non-saturating",
            LossChoice::Lsgan => "lsgan",
            LossChoice::Hinge => "hinge",
            LossChoice::Ragan => "ragan",
            LossChoice::Wgan => "wgan",
            LossChoice::WganClip => "wgan-clip",
            LossChoice::WganGp => "wgan-gp",
            LossChoice::WganGpOneSided => "wgan-gp-one-sided",
        }
    }

    /// The adversarial loss function.
    pub fn adversarial(self) -> AdversarialLoss {
        match self {
            LossChoice::Minimax => AdversarialLoss::Minimax,
            LossChoice::NonSaturating => AdversarialLoss::NonSaturating,
            LossChoice::Lsgan => AdversarialLoss::Lsgan,
            LossChoice::Hinge => AdversarialLoss::Hinge,
            LossChoice::Ragan => AdversarialLoss::Ragan,
            LossChoice::Wgan | LossChoice::WganClip | LossChoice::WganGp | LossChoice::WganGpOneSided => {
                AdversarialLoss::Wasserstein
            }
        }
    }

    /// The constraint on the critic.
    pub fn constraint(self) -> Constraint {
        match self {
            LossChoice::WganClip => Constraint::Clip,
            LossChoice::WganGp => Constraint::GradientPenalty(GpSide::TwoSided),
            LossChoice::WganGpOneSided => Constraint::GradientPenalty(GpSide::OneSided),
            _ => Constraint::None,
        }
    }
}

/// Regularisation of the discriminator. Weights of 0 turn a term off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegConfig {
    /// λ of the gradient penalty of `wgan-gp` / `wgan-gp-one-sided` (the paper: 10).
    pub gp: f64,
    /// c of `wgan-clip`'s weight clipping (the paper: 0.01).
    pub clip: f64,
    /// γ of R1, γ/2·E‖∇D(x)‖² on reals (StyleGAN2: 10 at 1024², less at low resolution).
    pub r1: f64,
    /// γ of R2, the same on fakes.
    pub r2: f64,
    /// λ of DRAGAN's penalty around the data (the paper: 10).
    pub dragan: f64,
    /// Lazy regularisation: R1, R2 and DRAGAN are applied every this many D steps, scaled by it
    /// (Karras et al. 2020: 16).
    pub every: u64,
    /// StyleGAN2: weight of the path length regulariser on G (the paper: 2; 0 = off).
    #[serde(default)]
    pub pl_weight: f64,
    /// StyleGAN2: it is applied every this many G steps, scaled by it (4) ...
    #[serde(default = "default_pl_every")]
    pub pl_every: u64,
    /// ... on this fraction's inverse of the batch (2: half) ...
    #[serde(default = "default_pl_batch_shrink")]
    pub pl_batch_shrink: u64,
    /// ... with the running mean of path lengths decaying at this rate (0.01).
    #[serde(default = "default_pl_decay")]
    pub pl_decay: f64,
    /// StyleGAN: probability of style mixing regularisation (the papers: 0.9; 0 = off).
    #[serde(default)]
    pub style_mixing: f64,
    /// ε of ProGAN's drift term ε·E[D(x)²] on the critic's real scores (the paper: 0.001; 0 = off).
    #[serde(default)]
    pub drift: f64,
}

fn default_pl_every() -> u64 {
    4
}

fn default_pl_batch_shrink() -> u64 {
    2
}

fn default_pl_decay() -> f64 {
    0.01
}

impl Default for RegConfig {
    fn default() -> Self {
        Self {
            gp: 10.0,
            clip: 0.01,
            r1: 0.0,
            r2: 0.0,
            dragan: 0.0,
            every: 1,
            pl_weight: 0.0,
            pl_every: default_pl_every(),
            pl_batch_shrink: default_pl_batch_shrink(),
            pl_decay: default_pl_decay(),
            style_mixing: 0.0,
            drift: 0.0,
        }
    }
}

/// The architecture and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// DCGAN (Radford et al. 2015). `channels = 0` takes the dataset's channel count.
    Dcgan(DcganConfig),
    /// MLP G and D for toy distributions.
    Mlp(MlpConfig),
    /// Class-conditional DCGAN: cGAN, conditional BN, projection D, ACGAN (`gantry-cond`).
    Cond(CondConfig),
    /// InfoGAN on DCGAN's networks (`gantry-cond`).
    Infogan(InfoGanConfig),
    /// StyleGAN2 as StyleGAN2-ADA (`gantry-stylegan`).
    Stylegan2(StyleGan2Config),
    /// Progressive growing (`gantry-progan`).
    Progan(ProganConfig),
}

impl ModelConfig {
    pub fn arch(&self) -> &'static str {
        match self {
            ModelConfig::Dcgan(_) => "dcgan",
            ModelConfig::Mlp(_) => "mlp",
            ModelConfig::Cond(_) => "cond",
            ModelConfig::Infogan(_) => "infogan",
            ModelConfig::Stylegan2(_) => "stylegan2",
            ModelConfig::Progan(_) => "progan",
        }
    }

    /// Image models: (channels — 0 until resolved from the data —, image size). `None` for MLPs.
    pub fn image(&self) -> Option<(i64, i64)> {
        match self {
            ModelConfig::Dcgan(c) => Some((c.channels, c.image_size)),
            ModelConfig::Cond(c) => Some((c.channels, c.image_size)),
            ModelConfig::Infogan(c) => Some((c.channels, c.image_size)),
            ModelConfig::Stylegan2(c) => Some((c.channels, c.resolution)),
            ModelConfig::Progan(c) => Some((c.channels, c.resolution)),
            ModelConfig::Mlp(_) => None,
        }
    }

    /// Sets the channel count of an image model (resolving `channels = 0`).
    pub fn set_channels(&mut self, channels: i64) {
        match self {
            ModelConfig::Dcgan(c) => c.channels = channels,
            ModelConfig::Cond(c) => c.channels = channels,
            ModelConfig::Infogan(c) => c.channels = channels,
            ModelConfig::Stylegan2(c) => c.channels = channels,
            ModelConfig::Progan(c) => c.channels = channels,
            ModelConfig::Mlp(_) => {}
        }
    }

    /// Whether the model needs labelled data.
    pub fn needs_labels(&self) -> bool {
        matches!(self, ModelConfig::Cond(_))
    }

    pub fn z_dim(&self) -> i64 {
        match self {
            ModelConfig::Dcgan(c) => c.z_dim,
            ModelConfig::Mlp(c) => c.z_dim,
            ModelConfig::Cond(c) => c.z_dim,
            ModelConfig::Infogan(c) => c.noise_dim,
            ModelConfig::Stylegan2(c) => c.z_dim,
            ModelConfig::Progan(c) => c.z_dim,
        }
    }
}

/// Optimisation schedule and the training-time stabilisers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Discriminator steps per generator step (WGAN's n_critic).
    pub d_steps: u32,
    pub g_opt: AdamConfig,
    pub d_opt: AdamConfig,
    /// Moving average of G's weights, used for samples, evaluation and `gantry sample`
    /// (`half_life_kimg` = 0: off). See `gantry_nn::ema`.
    #[serde(default)]
    pub ema: EmaConfig,
    /// Unrolled GAN (Metz et al. 2017): G's loss is taken against a copy of D advanced this many
    /// steps on the current real batch (0 = off). The first-order form: G's gradient does not
    /// flow through the unrolled updates.
    #[serde(default)]
    pub unroll: u32,
    /// Instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017): N(0, σ²) added to every
    /// image D sees, real and fake; σ starts here (0 = off) ...
    #[serde(default)]
    pub instance_noise: f64,
    /// ... and decreases linearly to 0 over this many G steps (0: constant σ).
    #[serde(default)]
    pub instance_noise_steps: u64,
}

impl TrainConfig {
    /// One D and one G step per iteration with the given optimisers, no stabilisers.
    pub fn plain(g_opt: AdamConfig, d_opt: AdamConfig) -> Self {
        Self {
            d_steps: 1,
            g_opt,
            d_opt,
            ema: EmaConfig::default(),
            unroll: 0,
            instance_noise: 0.0,
            instance_noise_steps: 0,
        }
    }

    /// σ of the instance noise after `g_steps` generator steps.
    pub fn instance_noise_at(&self, g_steps: u64) -> f64 {
        if self.instance_noise_steps == 0 {
            self.instance_noise
        } else {
            self.instance_noise * (1.0 - g_steps as f64 / self.instance_noise_steps as f64).max(0.0)
        }
    }
}

/// How the dataset is read and batched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoaderConfig {
    pub split: Split,
    /// How images of another size reach the model's: `auto`, `pad`, `resize`.
    pub fit: Fit,
    /// Random horizontal flips (off for digits).
    pub hflip: bool,
    /// `drop` or `keep` the last partial batch of an epoch.
    pub last_batch: LastBatch,
}

/// Logging, sampling and checkpointing cadence (in generator steps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Append averaged losses to `metrics.jsonl` every this many steps.
    pub every: u64,
    /// Write `samples/step-N.png` from the fixed latents every this many steps (and at the end).
    pub sample_every: u64,
    /// Write `checkpoints/step-N.safetensors` every this many steps (and at the end).
    pub checkpoint_every: u64,
    /// Checkpoints kept (the newest); 0 keeps all.
    pub keep_checkpoints: usize,
    /// Samples in the grid.
    pub grid: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { every: 50, sample_every: 500, checkpoint_every: 1000, keep_checkpoints: 5, grid: 64 }
    }
}

impl RunConfig {
    /// The config as TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).context("cannot serialise the config")
    }

    /// Parses TOML; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| anyhow!("{origin}: {}", one_line(&e.to_string())))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Applies `key=value` overrides (see the module docs).
    pub fn with_overrides(self, sets: &[String]) -> Result<Self> {
        let mut value = toml::Value::try_from(&self).context("cannot serialise the config")?;
        for set in sets {
            let (key, raw) =
                set.split_once('=').ok_or_else(|| anyhow!("--set {set:?}: expected key=value"))?;
            let key = key.trim();
            set_path(&mut value, key, raw.trim())?;
            // Check each override on its own so the error names the key that broke the config.
            let text = toml::to_string(&value)?;
            toml::from_str::<RunConfig>(&text).map_err(|e| {
                anyhow!("--set {key}={raw}: invalid value for '{key}': {}", one_line(e.message()))
            })?;
        }
        let text = toml::to_string(&value)?;
        toml::from_str(&text).map_err(|e| anyhow!("invalid config after --set: {}", one_line(e.message())))
    }

    /// Checks values that types alone cannot; errors name the key.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            bail!("invalid steps: expected ≥ 1, found 0");
        }
        if self.batch_size == 0 {
            bail!("invalid batch_size: expected ≥ 1, found 0");
        }
        if self.train.d_steps == 0 {
            bail!("invalid train.d_steps: expected ≥ 1, found 0");
        }
        for (k, v) in [
            ("log.every", self.log.every),
            ("log.sample_every", self.log.sample_every),
            ("log.checkpoint_every", self.log.checkpoint_every),
        ] {
            if v == 0 {
                bail!("invalid {k}: expected ≥ 1, found 0");
            }
        }
        let t = &self.train;
        for (k, v) in [
            ("train.ema.half_life_kimg", t.ema.half_life_kimg),
            ("train.ema.rampup", t.ema.rampup),
            ("train.instance_noise", t.instance_noise),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                bail!("invalid {k}: expected a finite value ≥ 0, found {v}");
            }
        }
        let r = &self.reg;
        for (k, v) in [
            ("reg.gp", r.gp),
            ("reg.clip", r.clip),
            ("reg.r1", r.r1),
            ("reg.r2", r.r2),
            ("reg.dragan", r.dragan),
            ("reg.drift", r.drift),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                bail!("invalid {k}: expected a finite value ≥ 0, found {v}");
            }
        }
        if r.every == 0 {
            bail!("invalid reg.every: expected ≥ 1, found 0");
        }
        if !(r.pl_weight >= 0.0 && r.pl_weight.is_finite() && (0.0..=1.0).contains(&r.pl_decay)) {
            bail!("invalid reg.pl_weight / reg.pl_decay: expected a weight ≥ 0 and a decay in [0, 1], found {} and {}", r.pl_weight, r.pl_decay);
        }
        if !(0.0..=1.0).contains(&r.style_mixing) {
            bail!("invalid reg.style_mixing: expected a probability in [0, 1], found {}", r.style_mixing);
        }
        if r.pl_every == 0 || r.pl_batch_shrink == 0 {
            bail!(
                "invalid reg.pl_every / reg.pl_batch_shrink: expected ≥ 1, found {} and {}",
                r.pl_every,
                r.pl_batch_shrink
            );
        }
        if (r.pl_weight > 0.0 || r.style_mixing > 0.0) && !matches!(self.model, ModelConfig::Stylegan2(_)) {
            bail!(
                "invalid reg.pl_weight / reg.style_mixing: path length and style mixing regularisation need a stylegan2 model, this run trains a {} model",
                self.model.arch()
            );
        }
        if self.loss == LossChoice::WganClip && r.clip <= 0.0 {
            bail!("invalid reg.clip: wgan-clip needs a clipping bound > 0, found {}", r.clip);
        }
        if self.eval.every > 0 {
            if !["inception", "mnist", "fashion-mnist"].contains(&self.eval.features.as_str()) {
                bail!(
                    "invalid eval.features: expected inception, mnist or fashion-mnist, found '{}'",
                    self.eval.features
                );
            }
            if self.eval.n < 2 {
                bail!("invalid eval.n: expected ≥ 2, found {}", self.eval.n);
            }
            if self.model.image().is_none() {
                bail!(
                    "invalid eval.every: FID needs an image model, this run trains a {} model",
                    self.model.arch()
                );
            }
        }
        if self.log.grid == 0 {
            bail!("invalid log.grid: expected ≥ 1, found 0");
        }
        for (k, o) in [("train.g_opt", &self.train.g_opt), ("train.d_opt", &self.train.d_opt)] {
            if !(o.lr > 0.0 && (0.0..1.0).contains(&o.beta1) && (0.0..1.0).contains(&o.beta2) && o.eps > 0.0)
            {
                bail!("invalid {k}: expected lr > 0, 0 ≤ beta1, beta2 < 1, eps > 0; found {o:?}");
            }
        }
        match &self.model {
            ModelConfig::Dcgan(c) => {
                // channels = 0 is resolved from the data before the model is built.
                let probe = DcganConfig { channels: c.channels.max(1), ..c.clone() };
                probe.validate()?;
                if c.channels < 0 {
                    bail!("invalid model.channels: expected 0 (from the data), 1 or 3, found {}", c.channels);
                }
            }
            ModelConfig::Mlp(c) => c.validate()?,
            ModelConfig::Cond(c) => CondConfig { channels: c.channels.max(1), ..c.clone() }.validate()?,
            ModelConfig::Infogan(c) => {
                InfoGanConfig { channels: c.channels.max(1), ..c.clone() }.validate()?
            }
            ModelConfig::Stylegan2(c) => {
                StyleGan2Config { channels: c.channels.max(1), ..c.clone() }
                    .validate()
                    .map_err(|e| anyhow!("invalid {e}"))?;
                if c.c_dim != 0 {
                    bail!(
                        "invalid model.c_dim: gantry trains unconditional StyleGAN2 for now, found {}",
                        c.c_dim
                    );
                }
            }
            ModelConfig::Progan(c) => {
                ProganConfig { channels: c.channels.max(1), ..c.clone() }
                    .validate()
                    .map_err(|e| anyhow!("invalid {e}"))?;
            }
        }
        if matches!(
            self.model,
            ModelConfig::Cond(_)
                | ModelConfig::Infogan(_)
                | ModelConfig::Stylegan2(_)
                | ModelConfig::Progan(_)
        ) && (self.train.unroll > 0 || self.train.instance_noise > 0.0)
        {
            bail!(
                "invalid train.unroll / train.instance_noise: supported for dcgan and mlp models, this run trains a {} model",
                self.model.arch()
            );
        }
        if let Some((c, _)) = self.model.image() {
            if c < 0 {
                bail!("invalid model.channels: expected 0 (from the data), 1 or 3, found {c}");
            }
        }
        Ok(())
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sets `key` (dotted) in a TOML table to `raw`, keeping the existing value's type.
fn set_path(root: &mut toml::Value, key: &str, raw: &str) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        let table = node.as_table_mut().ok_or_else(|| {
            anyhow!("unknown config key '{key}': '{}' is not a table", parts[..i].join("."))
        })?;
        if !table.contains_key(*part) {
            let mut known: Vec<&String> = table.keys().collect();
            known.sort();
            let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            let here = if i == 0 { "top level".to_string() } else { format!("'{}'", parts[..i].join(".")) };
            bail!("unknown config key '{key}' (keys at {here}: {})", known.join(", "));
        }
        node = table.get_mut(*part).expect("checked");
    }
    let new = parse_value(raw, node)
        .map_err(|why| anyhow!("--set {key}={raw}: invalid value for '{key}': {why}"))?;
    *node = new;
    Ok(())
}

/// Parses `raw` as a value of the same TOML type as `old` (strings need no quotes).
fn parse_value(raw: &str, old: &toml::Value) -> std::result::Result<toml::Value, String> {
    use toml::Value as V;
    let parsed = toml::from_str::<toml::Table>(&format!("v = {raw}")).ok().and_then(|mut t| t.remove("v"));
    match (old, parsed) {
        (V::String(_), Some(V::String(s))) => Ok(V::String(s)),
        (V::String(_), _) => Ok(V::String(raw.to_string())),
        (V::Integer(_), Some(V::Integer(i))) => Ok(V::Integer(i)),
        (V::Float(_), Some(V::Float(f))) => Ok(V::Float(f)),
        (V::Float(_), Some(V::Integer(i))) => Ok(V::Float(i as f64)),
        (V::Boolean(_), Some(V::Boolean(b))) => Ok(V::Boolean(b)),
        (V::Table(_), _) => Err("it is a table; set one of its keys".into()),
        (old, _) => Err(format!("expected {}, found {raw:?}", old.type_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    #[test]
    fn every_preset_round_trips_through_toml_and_validates() {
        for p in presets::all() {
            let c = p.config();
            c.validate().unwrap();
            let back = RunConfig::from_toml(&c.to_toml().unwrap(), "t").unwrap();
            assert_eq!(back, c, "{}", p.name);
        }
    }

    #[test]
    fn overrides_keep_types_and_name_bad_keys() {
        let c = presets::find("dcgan-mnist").unwrap().config();
        let c2 = c
            .clone()
            .with_overrides(&[
                "data=mnist".into(),
                "model.g_width=64".into(),
                "train.g_opt.lr=1e-4".into(),
                "loss=minimax".into(),
                "loader.hflip=true".into(),
                "train.d_opt.beta1=0".into(),
            ])
            .unwrap();
        assert_eq!(c2.data, "mnist");
        assert_eq!(c2.loss, LossChoice::Minimax);
        assert!(c2.loader.hflip);
        assert_eq!(c2.train.g_opt.lr, 1e-4);
        assert_eq!(c2.train.d_opt.beta1, 0.0);
        match c2.model {
            ModelConfig::Dcgan(m) => assert_eq!(m.g_width, 64),
            _ => panic!(),
        }
        let e = c.clone().with_overrides(&["model.g_widht=3".into()]).unwrap_err().to_string();
        assert!(e.contains("'model.g_widht'") && e.contains("g_width"), "{e}");
        let e = c.clone().with_overrides(&["steps=abc".into()]).unwrap_err().to_string();
        assert!(e.contains("'steps'") && e.contains("integer"), "{e}");
        let e = c.clone().with_overrides(&["loss=wgan-gpp".into()]).unwrap_err().to_string();
        assert!(e.contains("'loss'") && e.contains("wgan-gpp") && e.contains("wgan-gp"), "{e}");
        let w = c.clone().with_overrides(&["loss=wgan-gp".into(), "reg.gp=5".into()]).unwrap();
        assert_eq!(w.loss.adversarial(), AdversarialLoss::Wasserstein);
        assert_eq!(w.loss.constraint(), Constraint::GradientPenalty(GpSide::TwoSided));
        assert_eq!(w.reg.gp, 5.0);
        let e = c.clone().with_overrides(&["reg.r1=-1".into()]).unwrap().validate().unwrap_err().to_string();
        assert!(e.contains("reg.r1"), "{e}");
        let e = c.clone().with_overrides(&["train=1".into()]).unwrap_err().to_string();
        assert!(e.contains("'train'") && e.contains("table"), "{e}");
        assert!(c.with_overrides(&["steps".into()]).unwrap_err().to_string().contains("key=value"));
    }

    #[test]
    fn loss_names_are_the_config_spellings() {
        for &loss in LossChoice::ALL {
            let parsed: LossChoice = toml::Value::String(loss.name().into()).try_into().unwrap();
            assert_eq!(parsed, loss);
            assert_eq!(toml::Value::try_from(loss).unwrap().as_str(), Some(loss.name()));
        }
    }

    #[test]
    fn configs_without_later_sections_still_load() {
        let c = presets::find("dcgan-mnist").unwrap().config();
        let text = c.to_toml().unwrap();
        let start = text.find("[reg]").unwrap();
        let end = start + text[start..].find("\n\n").unwrap();
        let old = format!("{}{}", &text[..start], &text[end..]);
        assert!(!old.contains("[reg]"));
        assert_eq!(RunConfig::from_toml(&old, "old.toml").unwrap(), c);
    }

    #[test]
    fn config_files_refuse_unknown_keys() {
        let c = presets::find("toy-ring").unwrap().config();
        let text = c.to_toml().unwrap().replace("[train]", "[train]\nmomentum = 0.9");
        let e = RunConfig::from_toml(&text, "run.toml").unwrap_err().to_string();
        assert!(e.contains("run.toml") && e.contains("momentum"), "{e}");
        assert!(!e.contains('\n'));
    }
}
