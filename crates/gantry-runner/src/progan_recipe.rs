//! The progressive growing recipe (Karras et al. 2018): G and D grow from 4×4 to the model's
//! resolution on the schedule of `model.fade_kimg` / `model.stable_kimg`, taken from the images
//! seen (so a resumed run grows exactly where an uninterrupted one would). Real batches are
//! brought to the current resolution and faded as G's output is ([`reals_at`]). The loss, the
//! gradient penalty and the ε-drift term (`reg.drift`) come from the run's configuration (the
//! paper: WGAN-GP with λ = 10, ε = 0.001). Samples are drawn by the EMA generator at the
//! current stage, upsampled (nearest) to the final resolution.

use anyhow::Result;
use gantry_progan::networks::reals_at;
use gantry_progan::{Discriminator, Generator, Growth, ProganConfig, Schedule};
use tch::{Device, Kind, Tensor};

use crate::config::{LossChoice, RegConfig, TrainConfig};
use crate::recipe::{Core, Real, Recipe, Scalars};

/// ProGAN: growing G and D.
pub struct ProganRecipe {
    cfg: ProganConfig,
    schedule: Schedule,
    core: Core,
    g: Generator,
    d: Discriminator,
    /// The averaged generator (draws the samples).
    g_ema: Option<Generator>,
    /// The stage and α samples are drawn at (`aux.growth` = [stage, α] in the core's store).
    growth: Tensor,
}

impl ProganRecipe {
    /// `cfg.channels` must be resolved (≥ 1). Seed libtorch's generator first.
    pub fn new(
        cfg: &ProganConfig,
        loss: LossChoice,
        reg: &RegConfig,
        train: &TrainConfig,
        device: Device,
    ) -> Result<Self> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let (core, g, d, g_ema) = Core::build(
            loss,
            reg,
            train,
            device,
            |p| Ok(Generator::new(p, cfg)),
            |p| Ok(Discriminator::new(p, cfg)),
        )?;
        let growth = core.aux.root().zeros_no_train("growth", &[2]);
        let schedule = cfg.schedule();
        let recipe = Self { cfg: cfg.clone(), schedule, core, g, d, g_ema, growth };
        recipe.set_growth(schedule.at(0));
        Ok(recipe)
    }

    /// Where training is before the next G step on batches of `b`.
    fn now(&self, b: i64) -> Growth {
        self.schedule.at(self.core.images_seen(b))
    }

    fn set_growth(&self, g: Growth) {
        let t = Tensor::from_slice(&[g.stage as f32, g.alpha as f32]).to_device(self.core.device);
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
        Tensor::randn([n, self.cfg.z_dim], (Kind::Float, self.core.device))
    }

    fn growth_scalars(growth: Growth) -> Scalars {
        vec![("resolution", growth.resolution() as f64), ("alpha", growth.alpha)]
    }
}

impl Recipe for ProganRecipe {
    fn d_step(&mut self, real: &Real, k: u64) -> Scalars {
        let b = real.images.size()[0];
        let growth = self.now(b);
        let x = reals_at(&real.images, growth, self.cfg.resolution);
        let fake = tch::no_grad(|| self.g.forward(&self.z(b), growth));
        let real_out = self.d.forward(&x, growth);
        let fake_out = self.d.forward(&fake, growth);
        let adv = self.core.loss.d_loss(&real_out, &fake_out);
        let d = &self.d;
        let critic = |t: &Tensor| d.forward(t, growth);
        let extra = self.core.penalties(&critic, &x, &fake, k);
        let mut out = self.core.d_update(&adv, &extra, &real_out, &fake_out);
        out.extend(Self::growth_scalars(growth));
        out
    }

    fn g_step(&mut self, real: &Real) -> Scalars {
        let b = real.images.size()[0];
        let growth = self.now(b);
        let fake = self.g.forward(&self.z(b), growth);
        let fake_out = self.d.forward(&fake, growth);
        let real_out = self.core.loss.g_needs_real().then(|| {
            let x = reals_at(&real.images, growth, self.cfg.resolution);
            self.d.forward(&x, growth)
        });
        let loss = self.core.loss.g_loss(&fake_out, real_out.as_ref());
        self.core.opt_g.backward_step(&loss);
        self.core.update_ema(b);
        self.set_growth(growth);
        vec![("g_loss", loss.double_value(&[]))]
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        let g = self.g_ema.as_ref().unwrap_or(&self.g);
        let growth = self.sample_growth();
        tch::no_grad(|| g.forward_full(&z.to_device(self.core.device), growth))
    }

    fn z_dim(&self) -> i64 {
        self.cfg.z_dim
    }

    crate::recipe::core_state_methods!();
}
