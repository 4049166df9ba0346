//! The StyleGAN2 recipe (Karras et al. 2020, as StyleGAN2-ADA's `StyleGAN2Loss`): the run's
//! adversarial loss (the paper: non-saturating logistic), lazy R1 on D (`reg.r1`, `reg.every`),
//! style mixing regularisation (`reg.style_mixing`), lazy path length regularisation on G
//! (`reg.pl_weight` every `reg.pl_every` G steps on `1/reg.pl_batch_shrink` of the batch), w̄
//! tracking for truncation in W, and the EMA generator (`train.ema`), which draws every sample.
//!
//! Lazy terms are added to the loss of the step they fall on, scaled by their interval (the
//! reference takes separate optimiser steps for them and rescales Adam's lr and β's by
//! `interval / (interval + 1)`; presets keep the reference's hyper-parameters).
//! Samples use the stored per-layer noise maps (`noise_mode = const`, as StyleGAN2-ADA's
//! snapshots), so a latent always draws the same image; training uses fresh noise.

use anyhow::Result;
use gantry_stylegan::{Discriminator, Generator, NoiseMode, StyleGan2Config, SynthesisOptions, Truncation};
use tch::{Device, Kind, Tensor};

use crate::config::{LossChoice, RegConfig, TrainConfig};
use crate::recipe::{Core, Real, Recipe, Scalars};

/// StyleGAN2: mapping + synthesis G, residual D.
pub struct StyleRecipe {
    cfg: StyleGan2Config,
    core: Core,
    g: Generator,
    d: Discriminator,
    /// The averaged generator (draws the samples).
    g_ema: Option<Generator>,
    /// The path length running mean `a` (`aux.pl_mean` in the core's store).
    pl_mean: Tensor,
}

impl StyleRecipe {
    /// `cfg.channels` must be resolved (≥ 1). Seed libtorch's generator first.
    pub fn new(
        cfg: &StyleGan2Config,
        loss: LossChoice,
        reg: &RegConfig,
        train: &TrainConfig,
        device: Device,
    ) -> Result<Self> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            cfg.c_dim == 0,
            "model.c_dim: the training recipe is unconditional for now, found c_dim = {} (the networks take labels)",
            cfg.c_dim
        );
        let (core, g, d, g_ema) = Core::build(
            loss,
            reg,
            train,
            device,
            |p| Ok(Generator::new(p, cfg)),
            |p| Ok(Discriminator::new(p, cfg)),
        )?;
        let pl_mean = core.aux.root().zeros_no_train("pl_mean", &[]);
        Ok(Self { cfg: cfg.clone(), core, g, d, g_ema, pl_mean })
    }

    fn z(&self, n: i64) -> Tensor {
        Tensor::randn([n, self.cfg.z_dim], (Kind::Float, self.core.device))
    }

    /// ws of fresh latents, with style mixing: with probability `reg.style_mixing`, the ws from a
    /// random layer index on come from a second latent (Karras et al. 2019, §3.1).
    fn ws(&self, n: i64) -> Tensor {
        let m = &self.g.mapping;
        let ws = m.forward(Some(&self.z(n)), None, Truncation::default(), true);
        let p = self.core.reg.style_mixing;
        if p <= 0.0 {
            return ws;
        }
        let num_ws = ws.size()[1];
        // Drawn on every call so the generator's stream does not depend on the outcome.
        let cutoff = Tensor::randint_low(1, num_ws.max(2), [], (Kind::Int64, Device::Cpu)).int64_value(&[]);
        let mix = Tensor::rand([], (Kind::Float, Device::Cpu)).double_value(&[]) < p;
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

    /// The generator that draws samples: the EMA copy when there is one.
    fn sampler(&self) -> &Generator {
        self.g_ema.as_ref().unwrap_or(&self.g)
    }
}

impl Recipe for StyleRecipe {
    fn d_step(&mut self, real: &Real, k: u64) -> Scalars {
        let x = &real.images;
        let b = x.size()[0];
        let fake = tch::no_grad(|| {
            let ws = self.ws(b);
            self.synth(&ws)
        });
        let real_out = self.d.forward(x, None);
        let fake_out = self.d.forward(&fake, None);
        let adv = self.core.loss.d_loss(&real_out, &fake_out);
        let d = &self.d;
        let critic = |t: &Tensor| d.forward(t, None);
        let extra = self.core.penalties(&critic, x, &fake, k);
        self.core.d_update(&adv, &extra, &real_out, &fake_out)
    }

    fn g_step(&mut self, real: &Real) -> Scalars {
        let b = real.images.size()[0];
        let ws = self.ws(b);
        let fake = self.synth(&ws);
        let fake_out = self.d.forward(&fake, None);
        let real_out = self.core.loss.g_needs_real().then(|| self.d.forward(&real.images, None));
        let adv = self.core.loss.g_loss(&fake_out, real_out.as_ref());
        let reg = &self.core.reg;
        let mut out = vec![("g_loss", adv.double_value(&[]))];
        let step = self.core.opt_g.steps() as u64;
        let every = reg.pl_every.max(1);
        let loss = if reg.pl_weight > 0.0 && step % every == 0 {
            let n = (b / reg.pl_batch_shrink.max(1) as i64).max(1);
            let ws = self.ws(n).detach().set_requires_grad(true);
            let img = self.synth(&ws);
            let (pen, mean) = gantry_losses::path_length_penalty(&img, &ws, &self.pl_mean, reg.pl_decay);
            tch::no_grad(|| self.pl_mean.shallow_clone().copy_(&mean));
            out.push(("g_pl", pen.double_value(&[])));
            out.push(("pl_mean", mean.double_value(&[])));
            &adv + pen * (reg.pl_weight * every as f64)
        } else {
            adv
        };
        self.core.opt_g.backward_step(&loss);
        self.core.update_ema(b);
        out
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        self.generate_psi(z, 1.0, None).expect("ψ = 1 needs no w̄")
    }

    fn truncates_in_w(&self) -> bool {
        true
    }

    fn generate_psi(&self, z: &Tensor, psi: f64, cutoff: Option<i64>) -> Result<Tensor> {
        let g = self.sampler();
        let z = z.to_device(self.core.device);
        let o = SynthesisOptions { noise: NoiseMode::Const, fused: true };
        Ok(tch::no_grad(|| g.forward(&z, None, Truncation { psi, cutoff }, o)))
    }

    fn z_dim(&self) -> i64 {
        self.cfg.z_dim
    }

    crate::recipe::core_state_methods!();
}
