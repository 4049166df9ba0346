//! Recipes: what one training step means for a family of models. The loop in [`crate::train`]
//! drives a [`Recipe`] (D steps, G step, samples, state to save) and owns everything else.

use anyhow::Result;
use gantry_core::checkpoint::Checkpoint;
use gantry_core::optim::Adam;
use gantry_losses::{penalty, AdversarialLoss};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

use crate::config::{Constraint, LossChoice, ModelConfig, RegConfig, TrainConfig};

/// Named scalars a step reports (averaged by the loop into `metrics.jsonl`).
pub type Scalars = Vec<(&'static str, f64)>;

/// One family's training step.
pub trait Recipe {
    /// Discriminator update number `k` (counted over the whole run, from 0) on a real batch
    /// `[B, ...]`. `k` schedules lazy regularisation, so a resumed run schedules it identically.
    fn d_step(&mut self, real: &Tensor, k: u64) -> Scalars;
    /// One generator update with as many fresh latents as `real` has samples; `real` is the last
    /// real batch (relativistic losses compare against it).
    fn g_step(&mut self, real: &Tensor) -> Scalars;
    /// G's output for latents `[N, z_dim]` in eval mode, without touching any training state.
    fn generate(&self, z: &Tensor) -> Tensor;
    /// Latent dimension.
    fn z_dim(&self) -> i64;
    /// Writes the full training state (networks, optimisers) into `ck`.
    fn save(&self, ck: &mut Checkpoint);
    /// Restores the full training state.
    fn load(&mut self, ck: &Checkpoint) -> Result<()>;
    /// Restores the generator only (for sampling).
    fn load_generator(&mut self, ck: &Checkpoint) -> Result<()>;
}

/// An unconditional GAN: G(z) against D(x) → logit, with an adversarial loss and one Adam each.
/// Serves DCGAN and the toy MLPs.
pub struct GanRecipe {
    vs_g: VarStore,
    vs_d: VarStore,
    g: Box<dyn ModuleT>,
    d: Box<dyn ModuleT>,
    opt_g: Adam,
    opt_d: Adam,
    loss: AdversarialLoss,
    constraint: Constraint,
    reg: RegConfig,
    z_dim: i64,
    device: Device,
}

impl GanRecipe {
    /// Builds both networks on `device` (their initial weights come from libtorch's generator:
    /// seed it first). `model` must be resolved (DCGAN channels ≥ 1).
    pub fn new(
        model: &ModelConfig,
        loss: LossChoice,
        reg: &RegConfig,
        train: &TrainConfig,
        device: Device,
    ) -> Result<Self> {
        let vs_g = VarStore::new(device);
        let vs_d = VarStore::new(device);
        let (g, d) = match model {
            ModelConfig::Dcgan(c) => {
                c.validate()?;
                gantry_dcgan::dcgan::build(vs_g.root(), vs_d.root(), c)
            }
            ModelConfig::Mlp(c) => {
                c.validate()?;
                gantry_dcgan::mlp::build(vs_g.root(), vs_d.root(), c)
            }
        };
        let opt_g = Adam::new(&vs_g, train.g_opt);
        let opt_d = Adam::new(&vs_d, train.d_opt);
        Ok(Self {
            vs_g,
            vs_d,
            g,
            d,
            opt_g,
            opt_d,
            loss: loss.adversarial(),
            constraint: loss.constraint(),
            reg: reg.clone(),
            z_dim: model.z_dim(),
            device,
        })
    }

    fn noise(&self, n: i64) -> Tensor {
        Tensor::randn([n, self.z_dim], (Kind::Float, self.device))
    }

    /// Trainable parameters of (G, D).
    pub fn parameter_counts(&self) -> (i64, i64) {
        let count = |vs: &VarStore| vs.trainable_variables().iter().map(Tensor::numel).sum::<usize>() as i64;
        (count(&self.vs_g), count(&self.vs_d))
    }
}

impl Recipe for GanRecipe {
    fn d_step(&mut self, real: &Tensor, k: u64) -> Scalars {
        let b = real.size()[0];
        let z = self.noise(b);
        let fake = tch::no_grad(|| self.g.forward_t(&z, true)); // [B, ...], no graph into G
                                                                // Real and fake go through D as separate batches (separate BatchNorm statistics), as in
                                                                // the DCGAN reference implementation.
        let real_out = self.d.forward_t(real, true); // [B]
        let fake_out = self.d.forward_t(&fake, true); // [B]
        let adv = self.loss.d_loss(&real_out, &fake_out);
        let d = &self.d;
        let critic = |x: &Tensor| d.forward_t(x, true);
        let mut reg = Tensor::zeros([], (Kind::Float, self.device));
        if let Constraint::GradientPenalty(side) = self.constraint {
            reg += penalty::gradient_penalty(&critic, real, &fake, side) * self.reg.gp;
        }
        // Lazy regularisation (Karras et al. 2020): every `every` steps, scaled by `every`.
        let every = self.reg.every.max(1);
        if k % every == 0 {
            let scale = every as f64;
            if self.reg.r1 > 0.0 {
                reg += penalty::r1_penalty(&critic, real, self.reg.r1) * scale;
            }
            if self.reg.r2 > 0.0 {
                reg += penalty::r2_penalty(&critic, &fake, self.reg.r2) * scale;
            }
            if self.reg.dragan > 0.0 {
                reg += penalty::dragan_penalty(&critic, real) * (self.reg.dragan * scale);
            }
        }
        self.opt_d.backward_step(&(&adv + &reg));
        if self.constraint == Constraint::Clip {
            penalty::clip_weights(&self.vs_d, self.reg.clip);
        }
        let mean = |t: &Tensor| t.mean(Kind::Float).double_value(&[]);
        let mut out = vec![
            ("d_loss", adv.double_value(&[])),
            ("d_reg", reg.double_value(&[])),
            ("d_real", mean(&real_out)),
            ("d_fake", mean(&fake_out)),
        ];
        if self.loss.uses_logits() {
            out.push(("p_real", mean(&real_out.sigmoid())));
            out.push(("p_fake", mean(&fake_out.sigmoid())));
        }
        out
    }

    fn g_step(&mut self, real: &Tensor) -> Scalars {
        let z = self.noise(real.size()[0]);
        let fake = self.g.forward_t(&z, true);
        let fake_out = self.d.forward_t(&fake, true);
        let real_out = self.loss.g_needs_real().then(|| self.d.forward_t(real, true));
        let loss = self.loss.g_loss(&fake_out, real_out.as_ref());
        // Differentiates w.r.t. G's parameters only: D's weight gradients are never computed.
        self.opt_g.backward_step(&loss);
        vec![("g_loss", loss.double_value(&[]))]
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        tch::no_grad(|| self.g.forward_t(&z.to_device(self.device), false))
    }

    fn z_dim(&self) -> i64 {
        self.z_dim
    }

    fn save(&self, ck: &mut Checkpoint) {
        ck.insert_varstore("g", &self.vs_g);
        ck.insert_varstore("d", &self.vs_d);
        self.opt_g.save_state("opt_g", ck);
        self.opt_d.save_state("opt_d", ck);
    }

    fn load(&mut self, ck: &Checkpoint) -> Result<()> {
        ck.load_varstore("g", &self.vs_g)?;
        ck.load_varstore("d", &self.vs_d)?;
        self.opt_g.load_state("opt_g", ck)?;
        self.opt_d.load_state("opt_d", ck)?;
        Ok(())
    }

    fn load_generator(&mut self, ck: &Checkpoint) -> Result<()> {
        ck.load_varstore("g", &self.vs_g)?;
        Ok(())
    }
}
