//! Progressive growing (`model.arch = "progan"`, Karras et al. 2018): G and D grow from 4×4 to
//! the model's resolution on the schedule of `model.fade_kimg` / `model.stable_kimg`, taken from
//! the images seen (so a resumed run grows exactly where an uninterrupted one would). Real batches
//! are brought to the current resolution and faded as G's output is ([`reals_at`]). The loss, the
//! gradient penalty and the ε-drift term (`reg.drift`) come from the run's configuration (the
//! paper: WGAN-GP with λ = 10, ε = 0.001). Samples are drawn by the EMA generator at the current
//! stage (`aux.growth`), upsampled (nearest) to the final resolution. Phases: `D`, `G`.

use crate::error::Result;
use gantry_core::optim::AdamConfig;
use gantry_nn::EmaConfig;
use gantry_progan::networks::reals_at;
use gantry_progan::{Discriminator, Generator, Growth, ProganConfig, Schedule};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::adversarial::{game_phases, Game, LossChoice, Penalties, TrainConfig};
use crate::capability::Sampler;
use crate::config::{FamilyConfig, Recipe, RunConfig};
use crate::family::BuildContext;
use crate::family::{Batch, DataNeeds, Family, Scalars};
use crate::presets::{self, base, loader, Preset};

/// A ProGAN run's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProganRun {
    /// The adversarial objective (the paper and the presets: `wgan-gp`).
    pub loss: LossChoice,
    /// D's penalties (`[reg]`; the presets: `reg.gp` = 10, `reg.drift` = 0.001); configs without
    /// it get the defaults.
    #[serde(default)]
    pub reg: Penalties,
    /// The growing networks and their schedule (`[model]`: resolution, `fade_kimg`, `stable_kimg`).
    pub model: ProganConfig,
    /// Optimisation (`[train]`; the presets: Adam(0.001, β = (0, 0.99)) for both, G's EMA with a
    /// half-life of 10k images).
    pub train: TrainConfig,
}

impl Recipe for ProganRun {
    const ARCH: &'static str = "progan";

    fn data(&self) -> DataNeeds {
        DataNeeds::Images { channels: self.model.channels, size: self.model.resolution, classes: None }
    }

    fn set_channels(&mut self, channels: i64) {
        self.model.channels = channels;
    }

    /// Translation and cutout scale with the resolution of the moment (no shift at 4×4).
    fn augments(&self) -> bool {
        true
    }

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        self.train.validate()?;
        self.reg.validate(self.loss)?;
        ProganConfig { channels: self.model.channels.max(1), ..self.model.clone() }
            .validate()
            .map_err(|e| crate::error::err!("invalid {e}"))
    }

    fn build(&self, run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        let mut family = ProganFamily::new(self, cx)?;
        family.game.augment_with(&run.augment);
        Ok(Box::new(family))
    }

    /// Configs of the single schema carried StyleGAN2's regularisers and the GAN stabilisers.
    fn migrate(table: &mut toml::Table) -> crate::error::Result<()> {
        super::adversarial::drop_legacy(table, Self::ARCH, super::adversarial::STYLEGAN2_LEGACY)?;
        super::adversarial::drop_legacy(table, Self::ARCH, super::adversarial::STABILISER_LEGACY)
    }
}

/// ProGAN in training: growing G and D.
#[derive(Debug)]
pub struct ProganFamily {
    cfg: ProganConfig,
    schedule: Schedule,
    game: Game,
    g: Generator,
    d: Discriminator,
    /// The averaged generator (draws the samples).
    g_ema: Option<Generator>,
    /// The stage and α samples are drawn at (`aux.growth` = [stage, α]).
    growth: Tensor,
}

impl ProganFamily {
    /// `s.model.channels` must be resolved (≥ 1). Seed libtorch's generator first.
    pub fn new(s: &ProganRun, cx: &BuildContext) -> Result<Self> {
        let cfg = &s.model;
        cfg.validate().map_err(crate::error::Error::msg)?;
        let (mut game, g, d, g_ema) = Game::build(
            s.loss,
            &s.reg,
            &s.train,
            cx.device,
            |p| Ok(Generator::new(p, cfg)),
            |p| Ok(Discriminator::new(p, cfg)),
        )?;
        let aux = VarStore::new(cx.device);
        let growth = aux.root().zeros_no_train("growth", &[2]);
        game.nets.state("aux", aux);
        let schedule = cfg.schedule();
        let family = Self { cfg: cfg.clone(), schedule, game, g, d, g_ema, growth };
        family.set_growth(schedule.at(0));
        Ok(family)
    }

    /// Where training is before the next G step on batches of `b` (this rank's micro-batch: the
    /// schedule counts the whole update's images, over ranks and micro-batches).
    fn now(&self, b: i64) -> Growth {
        self.schedule.at(self.game.images_seen(b * gantry_core::parallel::shard().1))
    }

    fn set_growth(&self, g: Growth) {
        let t = Tensor::from_slice(&[g.stage as f32, g.alpha as f32]).to_device(self.game.device);
        tch::no_grad(|| self.growth.shallow_clone().copy_(&t));
    }

    /// The stage and α of the samples (the last training step's).
    pub fn sample_growth(&self) -> Growth {
        let v: Vec<f32> = Vec::try_from(self.growth.to_device(Device::Cpu)).expect("2 floats");
        Growth {
            stage: (v[0].round() as i64).clamp(0, self.cfg.stages()),
            alpha: f64::from(v[1]).clamp(0.0, 1.0),
        }
    }

    fn z(&self, n: i64) -> Tensor {
        gantry_core::parallel::randn(&[n, self.cfg.z_dim], (Kind::Float, self.game.device))
    }

    fn growth_scalars(growth: Growth) -> Scalars {
        vec![("resolution", growth.resolution() as f64), ("alpha", growth.alpha)]
    }

    fn d_step(&mut self, real: &Batch, k: u64) -> Scalars {
        let b = real.images.size()[0];
        let growth = self.now(b);
        let x = reals_at(&real.images, growth, self.cfg.resolution);
        let fake = tch::no_grad(|| self.g.forward(&self.z(b), growth));
        let (x, fake) = (self.game.seen(&x), self.game.seen(&fake));
        let real_out = self.d.forward(&x, growth);
        let fake_out = self.d.forward(&fake, growth);
        let adv = self.game.loss.d_loss(&real_out, &fake_out);
        let d = &self.d;
        let critic = |t: &Tensor| d.forward(t, growth);
        let extra = self.game.penalties(&critic, &x, &fake, k);
        let mut out = self.game.d_update(&adv, &extra, &real_out, &fake_out);
        out.extend(Self::growth_scalars(growth));
        out
    }

    fn g_step(&mut self, real: &Batch) -> Scalars {
        let b = real.images.size()[0];
        let growth = self.now(b);
        let fake = self.game.seen(&self.g.forward(&self.z(b), growth));
        let fake_out = self.d.forward(&fake, growth);
        let real_out = self.game.loss.g_needs_real().then(|| {
            let x = reals_at(&real.images, growth, self.cfg.resolution);
            self.d.forward(&self.game.seen(&x), growth)
        });
        let loss = self.game.loss.g_loss(&fake_out, real_out.as_ref());
        self.game.g_update(&loss);
        self.game.update_ema(b);
        self.set_growth(growth);
        vec![("g_loss", loss.double_value(&[]))]
    }
}

impl Family for ProganFamily {
    game_phases!();

    fn sampler(&self) -> Option<&dyn Sampler> {
        Some(self)
    }
}

impl Sampler for ProganFamily {
    fn z_dim(&self) -> i64 {
        self.cfg.z_dim
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        let g = self.g_ema.as_ref().unwrap_or(&self.g);
        let growth = self.sample_growth();
        tch::no_grad(|| g.forward_full(&z.to_device(self.game.device), growth))
    }
}

/// Progressive growing as the ProGAN paper trains it (Karras et al. 2018, App. A.1): WGAN-GP
/// (λ = 10) with the ε-drift term (ε = 0.001), one D step per G step, Adam(0.001, β = (0, 0.99),
/// ε = 1e-8), G's EMA with a half-life of 10k images, equalised learning rate, pixel norm and
/// minibatch stddev in the networks. The paper's batch shrinks as the resolution grows; these
/// presets keep it fixed.
fn progan(name: &str, data: &str, model: ProganConfig, features: &str, hflip: bool) -> RunConfig {
    let adam = AdamConfig { lr: 0.001, beta1: 0.0, beta2: 0.99, eps: 1e-8, weight_decay: 0.0 };
    let steps = (model.schedule().images_to_full() + (model.stable_kimg * 1000.0) as u64) / 32;
    let family = FamilyConfig::new(ProganRun {
        loss: LossChoice::WganGp,
        reg: Penalties { gp: 10.0, drift: 0.001, ..Penalties::default() },
        model,
        train: TrainConfig {
            ema: EmaConfig { half_life_kimg: 10.0, rampup: 0.0 },
            ..TrainConfig::plain(adam, adam)
        },
    });
    RunConfig {
        loader: loader(hflip),
        eval: presets::features(features),
        ..base(name, data, (32, steps), family)
    }
}

/// ProGAN growing 4×4 → 32×32 on the embedded 5k digits, 16k images per phase.
fn progan_mnist() -> RunConfig {
    progan("progan-mnist", "mnist-5k", ProganConfig::small32(), "mnist", false)
}

/// progan-mnist on Fashion-MNIST.
fn progan_fashion() -> RunConfig {
    progan("progan-fashion", "fashion-mnist", ProganConfig::small32(), "fashion-mnist", false)
}

/// ProGAN growing 4×4 → 64×64 on the ORL faces (grey, horizontal flips).
fn progan_orl() -> RunConfig {
    let model = ProganConfig { resolution: 64, fmap_base: 4096, ..ProganConfig::small32() };
    progan("progan-orl", "orl-faces", model, "inception", true)
}

/// The ProGAN presets.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "progan-mnist",
        summary:
            "progressive growing 4x4 -> 32x32 on MNIST: WGAN-GP + drift, equalised lr, pixel norm, fade-in",
        build: progan_mnist,
    },
    Preset { name: "progan-fashion", summary: "progan-mnist on Fashion-MNIST", build: progan_fashion },
    Preset {
        name: "progan-orl",
        summary: "progressive growing 4x4 -> 64x64 on the ORL faces",
        build: progan_orl,
    },
];
