//! Class-conditional GANs (`model.arch = "cond"`, `gantry-cond`): cGAN (Mirza & Osindero 2014),
//! conditional BatchNorm in G, the projection discriminator (Miyato & Koyama 2018) and ACGAN
//! (Odena et al. 2017), with the run's objective, penalties and EMA.
//!
//! Fake classes are drawn from libtorch's generator, which the loop seeds per step, so runs replay
//! and resume exactly. Phases: `D` (× `train.d_steps`), `G`.

use crate::error::Result;
use gantry_cond::{CondConfig, CondDiscriminator, CondGenerator, DCond, GCond};
use gantry_core::optim::AdamConfig;
use gantry_dcgan::DNorm;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Reduction, Tensor};

use super::adversarial::{game_phases, Game, LossChoice, Penalties, TrainConfig};
use crate::capability::{check_range, ClassSampler, Sampler};
use crate::config::{EvalConfig, FamilyConfig, LogConfig, Recipe, RunConfig};
use crate::family::BuildContext;
use crate::family::{Batch, DataNeeds, Family, Scalars};
use crate::presets::Preset;

/// Sample i's class: i mod K, on `device`.
pub(crate) fn cycling(n: i64, k: i64, device: Device) -> Tensor {
    Tensor::arange(n, (Kind::Int64, device)).remainder(k)
}

pub(crate) fn cross_entropy(logits: &Tensor, y: &Tensor) -> Tensor {
    logits.cross_entropy_loss::<Tensor>(y, None, Reduction::Mean, -100, 0.0)
}

pub(crate) fn accuracy(logits: &Tensor, y: &Tensor) -> f64 {
    logits.argmax(1, false).eq_tensor(y).to_kind(Kind::Float).mean(Kind::Float).double_value(&[])
}

/// A conditional run's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CondRun {
    /// The adversarial objective (the presets: `non-saturating` for cGAN and ACGAN, `hinge` for
    /// the projection discriminator).
    pub loss: LossChoice,
    /// D's penalties (`[reg]`); configs without it get the defaults.
    #[serde(default)]
    pub reg: Penalties,
    /// The networks and how each takes the class (`[model]`: `model.g_cond`, `model.d_cond`, …).
    pub model: CondConfig,
    /// Optimisation (`[train]`; the presets: Adam(2e-4, 0.5, 0.999) for both, one D step, no EMA).
    pub train: TrainConfig,
}

impl Recipe for CondRun {
    const ARCH: &'static str = "cond";

    fn data(&self) -> DataNeeds {
        DataNeeds::Images {
            channels: self.model.channels,
            size: self.model.image_size,
            classes: Some(self.model.classes),
        }
    }

    fn set_channels(&mut self, channels: i64) {
        self.model.channels = channels;
    }

    fn augments(&self) -> bool {
        true
    }

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        self.train.validate()?;
        self.reg.validate(self.loss)?;
        Ok(CondConfig { channels: self.model.channels.max(1), ..self.model.clone() }.validate()?)
    }

    fn build(&self, run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        let mut family = CondFamily::new(self, cx)?;
        family.game.augment_with(&run.augment);
        Ok(Box::new(family))
    }

    /// Configs of the single schema carried StyleGAN2's regularisers and the GAN stabilisers.
    fn migrate(table: &mut toml::Table) -> crate::error::Result<()> {
        super::adversarial::drop_legacy(table, Self::ARCH, super::adversarial::STYLEGAN2_LEGACY)?;
        super::adversarial::drop_legacy(table, Self::ARCH, super::adversarial::STABILISER_LEGACY)
    }
}

/// cGAN, conditional-BN G, projection D and ACGAN in training.
#[derive(Debug)]
pub struct CondFamily {
    cfg: CondConfig,
    game: Game,
    g: CondGenerator,
    d: CondDiscriminator,
    g_ema: Option<CondGenerator>,
}

impl CondFamily {
    /// `s.model.channels` must be resolved (≥ 1).
    pub fn new(s: &CondRun, cx: &BuildContext) -> Result<Self> {
        let cfg = &s.model;
        cfg.validate()?;
        let (game, g, d, g_ema) = Game::build(
            s.loss,
            &s.reg,
            &s.train,
            cx.device,
            |p| Ok(CondGenerator::new(p, cfg)),
            |p| Ok(CondDiscriminator::new(p, cfg)),
        )?;
        Ok(Self { cfg: cfg.clone(), game, g, d, g_ema })
    }

    fn labels(&self, real: &Batch) -> Tensor {
        real.labels
            .as_ref()
            .expect("conditional runs load labelled data (checked at load)")
            .to_device(self.game.device)
    }

    fn fake_labels(&self, n: i64) -> Tensor {
        gantry_core::parallel::randint(self.cfg.classes, &[n], (Kind::Int64, self.game.device))
    }

    fn d_step(&mut self, real: &Batch, k: u64) -> Scalars {
        let (x, y) = (&real.images, self.labels(real));
        let b = x.size()[0];
        let z = gantry_core::parallel::randn(&[b, self.cfg.z_dim], (Kind::Float, self.game.device));
        let y_fake = self.fake_labels(b);
        let fake = tch::no_grad(|| self.g.forward(&z, &y_fake, true));
        let (x, fake) = (&self.game.seen(x), self.game.seen(&fake));
        let (real_out, real_cls) = self.d.forward(x, &y, true);
        let (fake_out, fake_cls) = self.d.forward(&fake, &y_fake, true);
        let adv = self.game.loss.d_loss(&real_out, &fake_out);
        // Penalties judge (x, y) pairs with the real labels (interpolates take the real ones).
        let d = &self.d;
        let critic = |t: &Tensor| d.forward(t, &y, true).0;
        let mut extra = self.game.penalties(&critic, x, &fake, k);
        let mut acc = None;
        if let (Some(rc), Some(fc)) = (&real_cls, &fake_cls) {
            let mut cls = cross_entropy(rc, &y);
            if self.cfg.acgan_fake_class_loss {
                cls += cross_entropy(fc, &y_fake);
            }
            extra += cls * self.cfg.class_weight;
            acc = Some(accuracy(rc, &y));
        }
        let mut out = self.game.d_update(&adv, &extra, &real_out, &fake_out);
        if let Some(a) = acc {
            out.push(("d_class_acc_real", a));
        }
        out
    }

    fn g_step(&mut self, real: &Batch) -> Scalars {
        let b = real.images.size()[0];
        let z = gantry_core::parallel::randn(&[b, self.cfg.z_dim], (Kind::Float, self.game.device));
        let y_fake = self.fake_labels(b);
        let fake = self.game.seen(&self.g.forward(&z, &y_fake, true));
        let (fake_out, fake_cls) = self.d.forward(&fake, &y_fake, true);
        let real_out = self
            .game
            .loss
            .g_needs_real()
            .then(|| self.d.forward(&self.game.seen(&real.images), &self.labels(real), true).0);
        let mut loss = self.game.loss.g_loss(&fake_out, real_out.as_ref());
        let mut out = Vec::new();
        if let Some(fc) = &fake_cls {
            loss += cross_entropy(fc, &y_fake) * self.cfg.class_weight;
            out.push(("g_class_acc_fake", accuracy(fc, &y_fake)));
        }
        self.game.g_update(&loss);
        out.insert(0, ("g_loss", loss.double_value(&[])));
        self.game.update_ema(b);
        out
    }
}

impl Family for CondFamily {
    game_phases!();

    fn sampler(&self) -> Option<&dyn Sampler> {
        Some(self)
    }

    fn class_sampler(&self) -> Option<&dyn ClassSampler> {
        Some(self)
    }
}

impl Sampler for CondFamily {
    fn z_dim(&self) -> i64 {
        self.cfg.z_dim
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        let y = cycling(z.size()[0], self.cfg.classes, self.game.device);
        self.generate_class(z, &y).expect("labels in range")
    }
}

impl ClassSampler for CondFamily {
    fn classes(&self) -> i64 {
        self.cfg.classes
    }

    fn generate_class(&self, z: &Tensor, classes: &Tensor) -> Result<Tensor> {
        let y = classes.to_device(self.game.device).to_kind(Kind::Int64);
        check_range(&y, self.cfg.classes, "class")?;
        let g = self.g_ema.as_ref().unwrap_or(&self.g);
        Ok(tch::no_grad(|| g.forward(&z.to_device(self.game.device), &y, false)))
    }
}

/// A class-conditional run on MNIST (or Fashion-MNIST when `fashion`): a 10×10 sample grid, one
/// class per column, evaluated with the domain classifier.
pub(crate) fn conditional(name: &str, fashion: bool, family: FamilyConfig) -> RunConfig {
    let base = super::gan::dcgan_mnist();
    RunConfig {
        preset: name.into(),
        data: if fashion { "fashion-mnist".into() } else { "mnist-5k".into() },
        family,
        log: LogConfig { grid: 100, ..base.log.clone() },
        eval: EvalConfig {
            features: if fashion { "fashion-mnist".into() } else { "mnist".into() },
            ..base.eval.clone()
        },
        ..base
    }
}

fn cond(loss: LossChoice, model: CondConfig) -> FamilyConfig {
    FamilyConfig::new(CondRun {
        loss,
        reg: Penalties::default(),
        model,
        train: TrainConfig::plain(AdamConfig::dcgan(), AdamConfig::dcgan()),
    })
}

/// cGAN (Mirza & Osindero 2014): label embedding concatenated to z, label maps to D's input.
fn cgan(fashion: bool) -> RunConfig {
    let name = if fashion { "cgan-fashion" } else { "cgan-mnist" };
    conditional(name, fashion, cond(LossChoice::NonSaturating, CondConfig::cgan_mnist()))
}

/// Miyato & Koyama 2018: conditional BatchNorm in G, projection D with spectral norm, hinge loss,
/// Adam(2e-4, 0.5, 0.999) with one D step (Miyato et al. 2018's setting C; their TTUR-like setting
/// learned much more slowly here: 53% class accuracy after 3,000 steps).
fn projection(fashion: bool) -> RunConfig {
    let name = if fashion { "projection-fashion" } else { "projection-mnist" };
    let model = CondConfig {
        g_cond: GCond::Cbn,
        d_cond: DCond::Projection,
        d_norm: DNorm::Spectral,
        ..CondConfig::cgan_mnist()
    };
    conditional(name, fashion, cond(LossChoice::Hinge, model))
}

/// ACGAN (Odena et al. 2017): label embedding in G, D with a realness and a class head, D's class
/// loss on real images only, and a spectrally normalised D (with BatchNorm in D, G collapsed
/// within classes and drew a 0 as a 9: 83.2% class accuracy after 3,000 steps; with SN 97.5%).
fn acgan(fashion: bool) -> RunConfig {
    let name = if fashion { "acgan-fashion" } else { "acgan-mnist" };
    let model = CondConfig { d_cond: DCond::Acgan, d_norm: DNorm::Spectral, ..CondConfig::cgan_mnist() };
    conditional(name, fashion, cond(LossChoice::NonSaturating, model))
}

/// The class-conditional presets.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "cgan-mnist",
        summary: "cGAN on MNIST: label embedding into G, label maps into D",
        build: || cgan(false),
    },
    Preset { name: "cgan-fashion", summary: "cgan-mnist on Fashion-MNIST", build: || cgan(true) },
    Preset {
        name: "projection-mnist",
        summary: "conditional-BN G, projection D with spectral norm, hinge loss (Miyato & Koyama 2018)",
        build: || projection(false),
    },
    Preset {
        name: "projection-fashion",
        summary: "projection-mnist on Fashion-MNIST",
        build: || projection(true),
    },
    Preset {
        name: "acgan-mnist",
        summary: "ACGAN on MNIST: D with realness and class heads",
        build: || acgan(false),
    },
    Preset { name: "acgan-fashion", summary: "acgan-mnist on Fashion-MNIST", build: || acgan(true) },
];
