//! StyleGAN2 (`model.arch = "stylegan2"`, Karras et al. 2020, as StyleGAN2-ADA's
//! `StyleGAN2Loss`): the run's adversarial loss (the paper: non-saturating logistic), lazy R1 on D
//! (`reg.r1`, `reg.every`), style mixing regularisation (`reg.style_mixing`), lazy path length
//! regularisation on G (`reg.pl_weight` every `reg.pl_every` G steps on `1/reg.pl_batch_shrink`
//! of the batch), w̄ tracking for truncation in W, and the EMA generator (`train.ema`), which
//! draws every sample.
//!
//! Phases (`reg.lazy = "separate"`, the presets): StyleGAN2-ADA's training loop, step for step —
//! `Gmain`, `Greg` (path length, every `reg.pl_every` steps), `Dmain`, `Dreg` (R1, every
//! `reg.every` steps), each lazy phase an optimiser step of its own with its loss × its interval
//! and Adam's lr and β's rescaled by `interval / (interval + 1)`; w̄ moved by each phase's
//! mapping of fresh latents, the EMA after `Dreg` with its ramp-up counted in the images seen
//! before the step (`tests/parity.rs` checks all of it against their code). `reg.lazy = "summed"`
//! (runs made before it existed) is gantry's first schedule: `D` (× `train.d_steps`, R1 added to
//! the loss of the steps it falls on, scaled by its interval), then `G` (path length likewise, on
//! detached ws), the optimiser's settings as given. Samples use the stored per-layer noise maps
//! (`noise_mode = const`, as StyleGAN2-ADA's snapshots), so a latent always draws the same image;
//! training uses fresh noise.

use crate::error::{bail, Result};
use gantry_core::optim::AdamConfig;
use gantry_nn::EmaConfig;
use gantry_stylegan::{Discriminator, Generator, NoiseMode, StyleGan2Config, SynthesisOptions, Truncation};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::adversarial::{Game, LossChoice, Penalties, TrainConfig};
use crate::capability::{Sampler, StyleBased, TruncateInW};
use crate::config::{EvalConfig, FamilyConfig, LogConfig, Recipe, RunConfig};
use crate::family::BuildContext;
use crate::family::{Batch, DataNeeds, Family, Phase, Scalars};
use crate::presets::{base, features, loader, Preset};

/// StyleGAN2's regularisers (`[reg]`): D's penalties plus path length and style mixing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleReg {
    /// D's penalties (`reg.r1`, `reg.every`, …), at the top level of `[reg]`.
    #[serde(flatten)]
    pub base: Penalties,
    /// Weight of the path length regulariser on G (the paper: 2; 0 = off).
    #[serde(default)]
    pub pl_weight: f64,
    /// It is applied every this many G steps, scaled by it (4) ...
    #[serde(default = "default_pl_every")]
    pub pl_every: u64,
    /// ... on this fraction's inverse of the batch (2: half) ...
    #[serde(default = "default_pl_batch_shrink")]
    pub pl_batch_shrink: u64,
    /// ... with the running mean of path lengths decaying at this rate (0.01).
    #[serde(default = "default_pl_decay")]
    pub pl_decay: f64,
    /// Probability of style mixing regularisation (the papers: 0.9; 0 = off).
    #[serde(default)]
    pub style_mixing: f64,
    /// How the lazy regularisers step (see the module docs): `separate` (StyleGAN2-ADA's Greg
    /// and Dreg phases; the presets) or `summed` (into the main step's loss; configs written
    /// before this setting existed).
    #[serde(default)]
    pub lazy: Lazy,
}

/// How lazy regularisation takes its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lazy {
    /// Added to the loss of the main step it falls on, × its interval.
    #[default]
    Summed,
    /// Steps of its own, as StyleGAN2-ADA's `Greg`/`Dreg`, with Adam rescaled.
    Separate,
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

impl Default for StyleReg {
    fn default() -> Self {
        Self {
            base: Penalties::default(),
            pl_weight: 0.0,
            pl_every: default_pl_every(),
            pl_batch_shrink: default_pl_batch_shrink(),
            pl_decay: default_pl_decay(),
            style_mixing: 0.0,
            lazy: Lazy::Summed,
        }
    }
}

impl std::ops::Deref for StyleReg {
    type Target = Penalties;
    fn deref(&self) -> &Penalties {
        &self.base
    }
}

/// A StyleGAN2 run's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleRun {
    /// The adversarial objective (the paper and the presets: `non-saturating`).
    pub loss: LossChoice,
    /// D's penalties, path length and style mixing (`[reg]`; the presets: lazy R1 every 16 D
    /// steps, `reg.pl_weight` = 2, `reg.style_mixing` = 0.9); configs without it get the defaults.
    #[serde(default)]
    pub reg: StyleReg,
    /// The mapping and synthesis networks and D (`[model]`; `model.c_dim` must be 0).
    pub model: StyleGan2Config,
    /// Optimisation (`[train]`; the presets: Adam(0.0025, β = (0, 0.99)) for both and G's EMA).
    pub train: TrainConfig,
}

impl Recipe for StyleRun {
    const ARCH: &'static str = "stylegan2";

    fn data(&self) -> DataNeeds {
        DataNeeds::Images { channels: self.model.channels, size: self.model.resolution, classes: None }
    }

    fn set_channels(&mut self, channels: i64) {
        self.model.channels = channels;
    }

    fn augments(&self) -> bool {
        true
    }

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        self.train.validate()?;
        let r = &self.reg;
        r.base.validate(self.loss)?;
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
        if r.lazy == Lazy::Separate {
            let b = &r.base;
            if matches!(self.loss.constraint(), super::adversarial::Constraint::GradientPenalty(_)) {
                bail!("invalid loss: reg.lazy = \"separate\" (StyleGAN2-ADA's Dreg phase) regularises D with R1 only, not a WGAN-GP gradient penalty; set reg.lazy = \"summed\"");
            }
            let others = [("reg.r2", b.r2), ("reg.dragan", b.dragan)];
            if let Some((key, v)) = others.iter().find(|(_, v)| *v != 0.0) {
                bail!("invalid {key} = {v}: reg.lazy = \"separate\" (StyleGAN2-ADA's Dreg phase) regularises D with R1 only; set reg.lazy = \"summed\" for other penalties");
            }
            if self.train.d_steps != 1 {
                bail!("invalid train.d_steps = {}: reg.lazy = \"separate\" takes StyleGAN2-ADA's one D step per G step", self.train.d_steps);
            }
        }
        StyleGan2Config { channels: self.model.channels.max(1), ..self.model.clone() }
            .validate()
            .map_err(|e| crate::error::err!("invalid {e}"))?;
        if self.model.c_dim != 0 {
            bail!(
                "invalid model.c_dim: gantry trains unconditional StyleGAN2 for now, found {}",
                self.model.c_dim
            );
        }
        Ok(())
    }

    fn build(&self, run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        let mut family = StyleFamily::new(self, cx)?;
        family.game.augment_with(&run.augment);
        Ok(Box::new(family))
    }

    /// Configs of the single schema carried the GAN stabilisers.
    fn migrate(table: &mut toml::Table) -> crate::error::Result<()> {
        super::adversarial::drop_legacy(table, Self::ARCH, super::adversarial::STABILISER_LEGACY)
    }
}

/// StyleGAN2 in training: mapping + synthesis G, residual D.
#[derive(Debug)]
pub struct StyleFamily {
    cfg: StyleGan2Config,
    reg: StyleReg,
    game: Game,
    g: Generator,
    d: Discriminator,
    /// The averaged generator (draws the samples).
    g_ema: Option<Generator>,
    /// The path length running mean `a` (`aux.pl_mean`).
    pl_mean: Tensor,
    /// `D`, `G` (summed) or `Gmain`, `Greg`, `Dmain`, `Dreg` (separate).
    phases: Vec<Phase>,
}

/// Adam for a network regularised lazily every `interval` steps in separate steps of their own:
/// StyleGAN2-ADA's `lr · r`, `β^r` with `r = interval / (interval + 1)`.
fn lazy_adam(adam: AdamConfig, interval: u64) -> AdamConfig {
    let r = interval as f64 / (interval as f64 + 1.0);
    AdamConfig { lr: adam.lr * r, beta1: adam.beta1.powf(r), beta2: adam.beta2.powf(r), ..adam }
}

impl StyleFamily {
    /// `s.model.channels` must be resolved (≥ 1). Seed libtorch's generator first.
    pub fn new(s: &StyleRun, cx: &BuildContext) -> Result<Self> {
        let cfg = &s.model;
        cfg.validate().map_err(crate::error::Error::msg)?;
        crate::error::ensure!(
            cfg.c_dim == 0,
            "model.c_dim: the training recipe is unconditional for now, found c_dim = {} (the networks take labels)",
            cfg.c_dim
        );
        let mut train = s.train.clone();
        if s.reg.lazy == Lazy::Separate {
            train.g_opt = lazy_adam(train.g_opt, s.reg.pl_every);
            train.d_opt = lazy_adam(train.d_opt, s.reg.base.every);
        }
        let (mut game, g, d, g_ema) = Game::build(
            s.loss,
            &s.reg.base,
            &train,
            cx.device,
            |p| Ok(Generator::new(p, cfg)),
            |p| Ok(Discriminator::new(p, cfg)),
        )?;
        let aux = VarStore::new(cx.device);
        let pl_mean = aux.root().zeros_no_train("pl_mean", &[]);
        game.nets.state("aux", aux);
        let phases = match s.reg.lazy {
            Lazy::Summed => game.phases.to_vec(),
            Lazy::Separate => vec![
                Phase::fresh("Gmain"),
                Phase::same_batch("Greg"),
                Phase::same_batch("Dmain"),
                Phase::same_batch("Dreg"),
            ],
        };
        Ok(Self { cfg: cfg.clone(), reg: s.reg.clone(), game, g, d, g_ema, pl_mean, phases })
    }

    fn z(&self, n: i64) -> Tensor {
        gantry_core::parallel::randn(&[n, self.cfg.z_dim], (Kind::Float, self.game.device))
    }

    /// ws of fresh latents, with style mixing: with probability `reg.style_mixing`, the ws from a
    /// random layer index on come from a second latent (Karras et al. 2019, §3.1).
    fn ws(&self, n: i64) -> Tensor {
        let m = &self.g.mapping;
        let ws = m.forward(Some(&self.z(n)), None, Truncation::default(), true);
        let p = self.reg.style_mixing;
        if p <= 0.0 {
            return ws;
        }
        let num_ws = ws.size()[1];
        // Drawn on every call so the generator's stream does not depend on the outcome.
        let cpu_int = (Kind::Int64, Device::Cpu);
        let cutoff = gantry_core::parallel::randint_low(1, num_ws.max(2), &[], cpu_int).int64_value(&[]);
        let mix = gantry_core::parallel::rand(&[], (Kind::Float, Device::Cpu)).double_value(&[]) < p;
        let z2 = self.z(n);
        if !mix || num_ws < 2 {
            return ws;
        }
        let ws2 = m.forward(Some(&z2), None, Truncation::default(), false);
        Tensor::cat(&[ws.narrow(1, 0, cutoff), ws2.narrow(1, cutoff, num_ws - cutoff)], 1)
    }

    fn synth(&self, ws: &Tensor) -> Tensor {
        self.g.synthesis.forward(ws, SynthesisOptions { noise: NoiseMode::Random, fused: false })
    }

    fn d_step(&mut self, real: &Batch, k: u64) -> Scalars {
        let x = &real.images;
        let b = x.size()[0];
        let fake = tch::no_grad(|| {
            let ws = self.ws(b);
            self.synth(&ws)
        });
        let (x, fake) = (&self.game.seen(x), self.game.seen(&fake));
        let real_out = self.d.forward(x, None);
        let fake_out = self.d.forward(&fake, None);
        let adv = self.game.loss.d_loss(&real_out, &fake_out);
        let d = &self.d;
        let critic = |t: &Tensor| d.forward(t, None);
        let extra = self.game.penalties(&critic, x, &fake, k);
        self.game.d_update(&adv, &extra, &real_out, &fake_out)
    }

    fn g_step(&mut self, real: &Batch) -> Scalars {
        let b = real.images.size()[0];
        let ws = self.ws(b);
        let fake = self.game.seen(&self.synth(&ws));
        let fake_out = self.d.forward(&fake, None);
        let real_out =
            self.game.loss.g_needs_real().then(|| self.d.forward(&self.game.seen(&real.images), None));
        let adv = self.game.loss.g_loss(&fake_out, real_out.as_ref());
        let reg = &self.reg;
        let mut out = vec![("g_loss", adv.double_value(&[]))];
        let every = reg.pl_every.max(1);
        let loss = if reg.pl_weight > 0.0 && self.game.g_steps().is_multiple_of(every) {
            let n = (b / reg.pl_batch_shrink.max(1) as i64).max(1);
            // In float32 under mixed precision: a second derivative through G.
            let (pen, mean) = gantry_core::amp::full_precision(|| {
                let ws = self.ws(n).detach().set_requires_grad(true);
                let img = self.synth(&ws);
                gantry_losses::penalty::path_length_penalty_at(
                    &img,
                    &ws,
                    &self.pl_mean,
                    reg.pl_decay,
                    &gantry_core::parallel::randn_like(&img),
                )
            });
            tch::no_grad(|| self.pl_mean.shallow_clone().copy_(&mean));
            out.push(("g_pl", pen.double_value(&[])));
            out.push(("pl_mean", mean.double_value(&[])));
            &adv + pen * (reg.pl_weight * every as f64)
        } else {
            adv
        };
        self.game.g_update(&loss);
        self.game.update_ema(b);
        out
    }
}

impl StyleFamily {
    /// StyleGAN2-ADA's `Gmain`: the adversarial loss of fresh samples.
    fn g_main(&mut self, b: i64) -> Scalars {
        let fake = self.game.seen(&self.synth(&self.ws(b)));
        let loss = self.game.loss.g_loss(&self.d.forward(&fake, None), None);
        self.game.g_update(&loss);
        vec![("g_loss", loss.double_value(&[]))]
    }

    /// `Greg`, on the steps it falls on: path length on `1/pl_batch_shrink` of the batch, × its
    /// interval, differentiated as theirs (through ws into the mapping network, and through this
    /// batch's share of the new running mean).
    fn g_reg(&mut self, b: i64, k: u64) -> Scalars {
        let reg = &self.reg;
        if reg.pl_weight <= 0.0 || !k.is_multiple_of(reg.pl_every) {
            return Vec::new();
        }
        let n = (b / reg.pl_batch_shrink as i64).max(1);
        // In float32 under mixed precision: a second derivative through G.
        let (pen, mean) = gantry_core::amp::full_precision(|| {
            let ws = self.ws(n);
            let img = self.synth(&ws);
            let noise = gantry_core::parallel::randn_like(&img);
            gantry_losses::penalty::path_length_penalty_stylegan2ada(
                &img,
                &ws,
                &self.pl_mean,
                reg.pl_decay,
                &noise,
            )
        });
        tch::no_grad(|| self.pl_mean.shallow_clone().copy_(&mean));
        let out = vec![("g_pl", pen.double_value(&[])), ("pl_mean", mean.double_value(&[]))];
        let loss = pen * (reg.pl_weight * reg.pl_every as f64);
        self.game.g_update(&loss);
        out
    }

    /// `Dmain`: D on fresh samples (G runs without a graph) and on the real batch.
    fn d_main(&mut self, real: &Batch) -> Scalars {
        let b = real.images.size()[0];
        let fake = tch::no_grad(|| self.synth(&self.ws(b)));
        let fake_out = self.d.forward(&self.game.seen(&fake), None);
        let real_out = self.d.forward(&self.game.seen(&real.images), None);
        let adv = self.game.loss.d_loss(&real_out, &fake_out);
        let none = Tensor::zeros([], (Kind::Float, self.game.device));
        // R1 is Dreg's: its `d_reg` is logged there.
        let mut out = self.game.d_update(&adv, &none, &real_out, &fake_out);
        out.retain(|(k, _)| *k != "d_reg");
        out
    }

    /// `Dreg`, on the steps it falls on: R1 on what D sees of the real batch × `reg.every`; then,
    /// every step, the EMA, its ramp-up counted in the images seen before.
    fn d_reg(&mut self, real: &Batch, k: u64) -> Scalars {
        let b = real.images.size()[0];
        let every = self.reg.base.every.max(1);
        let mut out = Vec::new();
        if self.reg.base.r1 > 0.0 && k.is_multiple_of(every) {
            // At what D sees of the reals: theirs differentiates through the augmentation (with a
            // grid_sample whose double backward they wrote), libtorch's grid_sample has none.
            let d = &self.d;
            let critic = |t: &Tensor| d.forward(t, None);
            let seen = self.game.seen(&real.images).detach();
            let r1 = gantry_losses::penalty::r1_penalty(&critic, &seen, self.reg.base.r1);
            out.push(("d_reg", r1.double_value(&[])));
            self.game.nets.opt_mut(self.game.d).backward_step(&(r1 * every as f64));
        }
        let whole = b * gantry_core::parallel::shard().1;
        if let Some(beta) = self.game.update_ema_seen(b, k * whole as u64) {
            out.push(("ema_beta", beta));
        }
        out
    }
}

impl Family for StyleFamily {
    fn phases(&self) -> &[Phase] {
        &self.phases
    }

    fn run_phase(&mut self, phase: usize, batch: &Batch, k: u64) -> Result<Scalars> {
        let b = batch.images.size()[0];
        Ok(match (self.reg.lazy, phase) {
            (Lazy::Summed, 0) => self.d_step(batch, k),
            (Lazy::Summed, _) => self.g_step(batch),
            (Lazy::Separate, 0) => self.g_main(b),
            (Lazy::Separate, 1) => self.g_reg(b, k),
            (Lazy::Separate, 2) => self.d_main(batch),
            (Lazy::Separate, _) => self.d_reg(batch, k),
        })
    }

    fn networks(&self) -> &crate::family::Networks {
        &self.game.nets
    }

    fn networks_mut(&mut self) -> &mut crate::family::Networks {
        &mut self.game.nets
    }

    fn sampler(&self) -> Option<&dyn Sampler> {
        Some(self)
    }

    fn w_truncation(&self) -> Option<&dyn TruncateInW> {
        Some(self)
    }

    fn style(&self) -> Option<&dyn StyleBased> {
        Some(self)
    }
}

impl Sampler for StyleFamily {
    fn z_dim(&self) -> i64 {
        self.cfg.z_dim
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        self.generate_psi(z, 1.0, None).expect("ψ = 1 needs no w̄")
    }
}

impl TruncateInW for StyleFamily {
    fn generate_psi(&self, z: &Tensor, psi: f64, cutoff: Option<i64>) -> Result<Tensor> {
        let g = self.g_ema.as_ref().unwrap_or(&self.g);
        let z = z.to_device(self.game.device);
        let o = SynthesisOptions { noise: NoiseMode::Const, fused: true };
        Ok(tch::no_grad(|| g.forward(&z, None, Truncation { psi, cutoff }, o)))
    }
}

impl StyleBased for StyleFamily {
    fn copy_generator(&self) -> Result<(VarStore, Generator, StyleGan2Config)> {
        let name = if self.g_ema.is_some() { "g_ema" } else { "g" };
        let src = self.game.nets.iter().find(|n| n.name == name).expect("the family's generators");
        let mut vs = VarStore::new(self.game.device);
        let g = Generator::new(vs.root(), &self.cfg);
        vs.copy(&src.vs)?;
        Ok((vs, g, self.cfg.clone()))
    }
}

/// StyleGAN2 as StyleGAN2-ADA trains it: Adam(0.0025, β = (0, 0.99), ε = 1e-8), non-saturating
/// logistic loss, lazy R1 every 16 D steps, path length regularisation (weight 2, every 4 G steps,
/// half batch), style mixing with p = 0.9, EMA half-life 10 kimg × batch/32 with ramp-up 0.05.
/// `data`, `model` and γ vary by preset.
fn stylegan2(name: &str, data: &str, model: StyleGan2Config, batch: usize, r1: f64) -> RunConfig {
    let adam = AdamConfig { lr: 0.0025, beta1: 0.0, beta2: 0.99, eps: 1e-8, weight_decay: 0.0 };
    let family = FamilyConfig::new(StyleRun {
        loss: LossChoice::NonSaturating,
        reg: StyleReg {
            base: Penalties { r1, every: 16, ..Penalties::default() },
            pl_weight: 2.0,
            style_mixing: 0.9,
            lazy: Lazy::Separate,
            ..StyleReg::default()
        },
        model,
        train: TrainConfig { ema: EmaConfig::stylegan2(batch), ..TrainConfig::plain(adam, adam) },
    });
    RunConfig { eval: features("mnist"), ..base(name, data, (batch, 5000), family) }
}

/// A small StyleGAN2 on 32×32 digits (the embedded 5k), γ = 0.01 (StyleGAN2-ADA's CIFAR value).
fn stylegan2_mnist() -> RunConfig {
    stylegan2("stylegan2-mnist", "mnist-5k", StyleGan2Config::small32(), 32, 0.01)
}

/// stylegan2-mnist on Fashion-MNIST.
fn stylegan2_fashion() -> RunConfig {
    RunConfig {
        eval: features("fashion-mnist"),
        ..stylegan2("stylegan2-fashion", "fashion-mnist", StyleGan2Config::small32(), 32, 0.01)
    }
}

/// A small StyleGAN2 on the ORL faces at 64×64 (grey), γ = 0.05, horizontal flips.
fn stylegan2_orl() -> RunConfig {
    let model = StyleGan2Config { resolution: 64, channel_base: 2048, ..StyleGan2Config::small32() };
    RunConfig {
        loader: loader(true),
        eval: EvalConfig::default(),
        ..stylegan2("stylegan2-orl", "orl-faces", model, 32, 0.05)
    }
}

/// StyleGAN2-ADA's `paper256` configuration (FFHQ/LSUN at 256×256, for GPU boxes): batch 64,
/// γ = 1, EMA half-life 20 kimg without ramp-up, minibatch stddev groups of 8. Point `data` at an
/// image folder; the default ORL faces are upscaled.
fn stylegan2_paper256() -> RunConfig {
    let model = StyleGan2Config { mbstd_group: 8, ..StyleGan2Config::paper256() };
    let mut base = stylegan2("stylegan2-paper256", "orl-faces", model, 64, 1.0);
    if let Some(s) = base.family.get_mut::<StyleRun>() {
        s.train.ema = EmaConfig { half_life_kimg: 20.0, rampup: 0.0 };
    }
    RunConfig {
        steps: 400_000,
        loader: loader(true),
        log: LogConfig { every: 100, sample_every: 2000, checkpoint_every: 10_000, ..Default::default() },
        eval: EvalConfig::default(),
        ..base
    }
}

/// The StyleGAN2 presets.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "stylegan2-mnist",
        summary:
            "a small StyleGAN2 (32x32, 2-layer mapping) on MNIST: style mixing, path length reg, lazy R1, EMA",
        build: stylegan2_mnist,
    },
    Preset {
        name: "stylegan2-fashion",
        summary: "stylegan2-mnist on Fashion-MNIST",
        build: stylegan2_fashion,
    },
    Preset {
        name: "stylegan2-orl",
        summary: "a small StyleGAN2 on the ORL faces at 64x64",
        build: stylegan2_orl,
    },
    Preset {
        name: "stylegan2-paper256",
        summary: "StyleGAN2-ADA's paper256 settings (256x256, 8-layer mapping, batch 64) for GPU boxes",
        build: stylegan2_paper256,
    },
];
