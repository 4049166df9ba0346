//! Recipes: what one training step means for a family of models. The loop in [`crate::train`]
//! drives a [`Recipe`] (D steps, G step, samples, state to save) and owns everything else.

use anyhow::Result;
use gantry_core::checkpoint::Checkpoint;
use gantry_core::optim::Adam;
use gantry_losses::AdversarialLoss;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

use crate::config::{ModelConfig, TrainConfig};

/// Named scalars a step reports (averaged by the loop into `metrics.jsonl`).
pub type Scalars = Vec<(&'static str, f64)>;

/// One family's training step.
pub trait Recipe {
    /// One discriminator update on a real batch `[B, ...]`.
    fn d_step(&mut self, real: &Tensor) -> Scalars;
    /// One generator update with `batch` fresh latents.
    fn g_step(&mut self, batch: i64) -> Scalars;
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
    z_dim: i64,
    device: Device,
}

impl GanRecipe {
    /// Builds both networks on `device` (their initial weights come from libtorch's generator:
    /// seed it first). `model` must be resolved (DCGAN channels ≥ 1).
    pub fn new(
        model: &ModelConfig,
        loss: AdversarialLoss,
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
        Ok(Self { vs_g, vs_d, g, d, opt_g, opt_d, loss, z_dim: model.z_dim(), device })
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

fn mean_sigmoid(logits: &Tensor) -> f64 {
    logits.sigmoid().mean(Kind::Float).double_value(&[])
}

impl Recipe for GanRecipe {
    fn d_step(&mut self, real: &Tensor) -> Scalars {
        let b = real.size()[0];
        let z = self.noise(b);
        let fake = tch::no_grad(|| self.g.forward_t(&z, true)); // [B, ...], no graph into G
                                                                // Real and fake go through D as separate batches (separate BatchNorm statistics), as in
                                                                // the DCGAN reference implementation.
        let real_logits = self.d.forward_t(real, true); // [B]
        let fake_logits = self.d.forward_t(&fake, true); // [B]
        let loss = self.loss.d_loss(&real_logits, &fake_logits);
        self.opt_d.backward_step(&loss);
        vec![
            ("d_loss", loss.double_value(&[])),
            ("d_real", mean_sigmoid(&real_logits)),
            ("d_fake", mean_sigmoid(&fake_logits)),
        ]
    }

    fn g_step(&mut self, batch: i64) -> Scalars {
        let z = self.noise(batch);
        let fake = self.g.forward_t(&z, true);
        let logits = self.d.forward_t(&fake, true);
        let loss = self.loss.g_loss(&logits);
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
