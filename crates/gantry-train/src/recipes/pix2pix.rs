//! pix2pix (`model.arch = "pix2pix"`, Isola et al. 2017, as the authors' `pix2pix_model.py`):
//! a U-Net G translates the input A, a PatchGAN D judges (A, B) pairs, and G's objective is the
//! adversarial term plus λ·L1 to the target:
//!
//! ```text
//! G* = arg min_G max_D  L_cGAN(G, D) + λ·L_L1(G),    L_L1 = E ‖B − G(A)‖₁,  λ = 100
//! L_D = ½·(ℓ(D(A, B), real) + ℓ(D(A, G(A)), fake))    (D's loss halved "to slow D")
//! ```
//!
//! The adversarial term is the run's `loss` (the paper: the non-saturating "vanilla" GAN loss on
//! each patch's logit; any of gantry's objectives and penalties work), λ is `train.l1_weight`,
//! and `train.gan_weight` = 0 gives the "L1 only" ablation (D is then not trained), `l1_weight` = 0
//! the "cGAN only" one. Adam(2e-4, β = (0.5, 0.999)); the learning rate stays for
//! `train.epochs` epochs, then decays linearly over `train.epochs_decay` more (the authors'
//! `lambda_rule`: in 1-based epoch e, lr·(1 − max(0, e − epochs)/(epochs_decay + 1))).
//!
//! Phases: `D` on a fresh batch (G's forward pass happens here, once, with its dropout), then `G`
//! on the same batch and the same G output, as the authors' `optimize_parameters`. Inference runs
//! G as the paper does (`model.test_mode = paper`: dropout on, BatchNorm on the statistics of the
//! test image itself, one image at a time as the authors' `test.py`) or in eval mode (`eval`).

use crate::error::{bail, Result};
use gantry_core::optim::AdamConfig;
use gantry_translate::{Mode, PatchGan, Pix2pixConfig, TestMode, UnetGenerator};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Tensor};

use super::adversarial::{
    authors_scale, critic_update, validate_adams, validate_nonnegative, LossChoice, Penalties,
};
use crate::capability::Translator;
use crate::config::{FamilyConfig, LoaderConfig, LogConfig, Recipe, RunConfig};
use crate::family::BuildContext;
use crate::family::{Batch, DataNeeds, Family, NetId, Networks, Phase, Scalars};
use crate::presets::Preset;

/// pix2pix's optimisation (`[train]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pix2pixTrain {
    /// G's Adam (`train.g_opt`; the paper: lr 2e-4, β = (0.5, 0.999)); its lr is the schedule's base.
    pub g_opt: AdamConfig,
    /// D's Adam (`train.d_opt`; the paper: as G's).
    pub d_opt: AdamConfig,
    /// λ of the L1 term (the paper: 100; 0: cGAN only).
    pub l1_weight: f64,
    /// Weight of G's adversarial term (1; 0: L1 only, and D is not trained).
    pub gan_weight: f64,
    /// Epochs at the initial learning rate (the authors' `n_epochs`) ...
    pub epochs: u64,
    /// ... then epochs of linear decay (`n_epochs_decay`).
    pub epochs_decay: u64,
}

/// The learning-rate factor in 1-based epoch `epoch` of a run of `epochs` constant epochs then
/// `epochs_decay` decaying ones (the pix2pix/CycleGAN authors' `lambda_rule`).
pub fn lr_factor(epochs: u64, epochs_decay: u64, epoch: u64) -> f64 {
    1.0 - epoch.saturating_sub(epochs) as f64 / (epochs_decay + 1) as f64
}

/// Sets each optimiser's learning rate (`(network, base lr)`) for the epoch of step `k` (0-based,
/// `batches_per_epoch` steps an epoch) by [`lr_factor`]; returns the factor.
pub(crate) fn epoch_schedule(
    nets: &mut Networks,
    opts: &[(NetId, f64)],
    batches_per_epoch: Option<u64>,
    (epochs, epochs_decay): (u64, u64),
    k: u64,
) -> Result<f64> {
    let Some(bpe) = batches_per_epoch.filter(|&n| n > 0) else {
        bail!("this family's learning-rate schedule counts epochs: build it with its training data");
    };
    let factor = lr_factor(epochs, epochs_decay, k / bpe + 1);
    for &(id, lr) in opts {
        nets.opt_mut(id).config.lr = lr * factor;
    }
    Ok(factor)
}

/// A pix2pix run's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pix2pixRun {
    /// The adversarial objective (the paper's "vanilla" GAN loss is `non-saturating`).
    pub loss: LossChoice,
    /// D's penalties (the gradient penalty of `wgan-gp`, R1, …), on D(A, ·).
    #[serde(default)]
    pub reg: Penalties,
    /// The U-Net G and PatchGAN D, image size, channels, direction and test mode (`[model]`).
    pub model: Pix2pixConfig,
    /// Optimisation, loss weights and the epoch schedule (`[train]`).
    pub train: Pix2pixTrain,
}

impl Recipe for Pix2pixRun {
    const ARCH: &'static str = "pix2pix";

    fn data(&self) -> DataNeeds {
        DataNeeds::Paired {
            input_channels: self.model.input_channels,
            output_channels: self.model.output_channels,
            size: self.model.size,
            a_to_b: self.model.a_to_b,
        }
    }

    fn set_channels(&mut self, _channels: i64) {}

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        self.model.validate().map_err(|e| crate::error::err!("invalid {e}"))?;
        self.reg.validate(self.loss)?;
        let t = &self.train;
        validate_adams(&t.g_opt, &t.d_opt)?;
        validate_nonnegative(&[("train.l1_weight", t.l1_weight), ("train.gan_weight", t.gan_weight)])?;
        if t.l1_weight == 0.0 && t.gan_weight == 0.0 {
            bail!("invalid train.l1_weight / train.gan_weight: both are 0, so G has no objective");
        }
        Ok(())
    }

    fn build(&self, _run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        Ok(Box::new(Pix2pixFamily::new(self, cx)?))
    }
}

/// pix2pix in training.
#[derive(Debug)]
pub struct Pix2pixFamily {
    s: Pix2pixRun,
    nets: Networks,
    g_id: NetId,
    d_id: NetId,
    g: UnetGenerator,
    d: PatchGan,
    device: Device,
    batches_per_epoch: Option<u64>,
    /// G(A) of the current step, made in the D phase and used again by the G phase.
    fake: Option<Tensor>,
    phases: [Phase; 2],
}

impl Pix2pixFamily {
    /// Builds G and D on `cx.device` (their initial weights come from libtorch's generator: seed
    /// it first); the learning-rate schedule needs `cx.batches_per_epoch`.
    pub fn new(s: &Pix2pixRun, cx: &BuildContext) -> Result<Self> {
        s.model.validate().map_err(crate::error::Error::msg)?;
        let (vs_g, vs_d) = (VarStore::new(cx.device), VarStore::new(cx.device));
        let g = UnetGenerator::new(vs_g.root(), &s.model.generator());
        let d = PatchGan::new(vs_d.root(), &s.model.discriminator());
        let mut nets = Networks::new();
        let g_id = nets.trained("g", vs_g, s.train.g_opt, true);
        let d_id = nets.trained("d", vs_d, s.train.d_opt, false);
        Ok(Self {
            s: s.clone(),
            nets,
            g_id,
            d_id,
            g,
            d,
            device: cx.device,
            batches_per_epoch: cx.batches_per_epoch,
            fake: None,
            phases: [Phase::fresh("D"), Phase::same_batch("G")],
        })
    }

    /// D's logits on the pairs (A, B).
    fn judge(&self, a: &Tensor, b: &Tensor) -> Tensor {
        self.d.forward(&Tensor::cat(&[a, b], 1), Mode::Train)
    }

    /// Sets both learning rates for the epoch of step `k` (0-based); returns the factor.
    fn schedule(&mut self, k: u64) -> Result<f64> {
        let t = &self.s.train;
        let opts = [(self.g_id, t.g_opt.lr), (self.d_id, t.d_opt.lr)];
        epoch_schedule(&mut self.nets, &opts, self.batches_per_epoch, (t.epochs, t.epochs_decay), k)
    }

    fn d_step(&mut self, batch: &Batch, k: u64) -> Result<Scalars> {
        let factor = self.schedule(k)?;
        let (a, b) = (batch.inputs()?, &batch.images);
        let fake = self.g.forward(a, Mode::Train); // [N, C_out, S, S], with G's graph
        let mut out = vec![("lr_factor", factor)];
        if self.s.train.gan_weight > 0.0 {
            let detached = fake.detach();
            // Fake pairs first, then real ones, each a batch of its own (as the reference).
            let fake_out = self.judge(a, &detached);
            let real_out = self.judge(a, b);
            let loss = self.s.loss.adversarial();
            let adv = loss.d_loss(&real_out, &fake_out) * (0.5 * authors_scale(loss));
            let d = &self.d;
            let critic = |x: &Tensor| d.forward(&Tensor::cat(&[a, x], 1), Mode::Train);
            let constraint = self.s.loss.constraint();
            let extra = self.s.reg.total(constraint, &critic, b, &detached, k);
            let (nets, reg) = (&mut self.nets, &self.s.reg);
            out.extend(critic_update(nets, self.d_id, constraint, reg, &adv, &extra, &real_out, &fake_out));
        }
        self.fake = Some(fake);
        Ok(out)
    }

    fn g_step(&mut self, batch: &Batch) -> Result<Scalars> {
        let (a, b) = (batch.inputs()?, &batch.images);
        let fake = self.fake.take().expect("the D phase made G(A)");
        let t = &self.s.train;
        let l1 = gantry_losses::content::l1(&fake, b);
        let mut loss = &l1 * t.l1_weight;
        let mut out = Vec::new();
        if t.gan_weight > 0.0 {
            let fake_out = self.judge(a, &fake);
            let real_out = self.s.loss.adversarial().g_needs_real().then(|| self.judge(a, b));
            let adversarial = self.s.loss.adversarial();
            let gan = adversarial.g_loss(&fake_out, real_out.as_ref()) * authors_scale(adversarial);
            out.push(("g_gan", gan.double_value(&[])));
            loss += gan * t.gan_weight;
        }
        self.nets.opt_mut(self.g_id).backward_step(&loss);
        out.insert(0, ("g_loss", loss.double_value(&[])));
        out.push(("g_l1", l1.double_value(&[])));
        Ok(out)
    }
}

impl Family for Pix2pixFamily {
    fn phases(&self) -> &[Phase] {
        &self.phases
    }

    fn run_phase(&mut self, phase: usize, batch: &Batch, k: u64) -> Result<Scalars> {
        match phase {
            0 => self.d_step(batch, k),
            _ => self.g_step(batch),
        }
    }

    fn networks(&self) -> &Networks {
        &self.nets
    }

    fn networks_mut(&mut self) -> &mut Networks {
        &mut self.nets
    }

    fn translator(&self) -> Option<&dyn Translator> {
        Some(self)
    }
}

impl Translator for Pix2pixFamily {
    fn input_shape(&self) -> (i64, i64) {
        (self.s.model.input_channels, self.s.model.size)
    }

    fn output_shape(&self) -> (i64, i64) {
        (self.s.model.output_channels, self.s.model.size)
    }

    fn translate(&self, inputs: &Tensor) -> Result<Tensor> {
        let (c, s) = self.input_shape();
        let size = inputs.size();
        if size.len() != 4 || size[1..] != [c, s, s] {
            bail!("pix2pix translates [N, {c}, {s}, {s}] inputs, found {size:?}");
        }
        let x = inputs.to_device(self.device);
        Ok(tch::no_grad(|| match self.s.model.test_mode {
            // The authors test one image at a time: each is normalised by its own statistics, so
            // a translation does not depend on what else is in the batch.
            TestMode::Paper => Tensor::cat(
                &x.split(1, 0).iter().map(|xi| self.g.forward(xi, Mode::Paper)).collect::<Vec<_>>(),
                0,
            ),
            TestMode::Eval => self.g.forward(&x, Mode::Eval),
        }))
    }
}

/// The authors' pix2pix optimisation: Adam(2e-4, 0.5, 0.999), λ = 100, `epochs` + `epochs_decay`.
fn paper_train(epochs: u64, epochs_decay: u64) -> Pix2pixTrain {
    Pix2pixTrain {
        g_opt: AdamConfig::dcgan(),
        d_opt: AdamConfig::dcgan(),
        l1_weight: 100.0,
        gan_weight: 1.0,
        epochs,
        epochs_decay,
    }
}

fn pix2pix(
    name: &str,
    data: &str,
    model: Pix2pixConfig,
    (batch, steps): (usize, u64),
    train: Pix2pixTrain,
    loader: LoaderConfig,
    features: &str,
) -> RunConfig {
    let family = FamilyConfig::new(Pix2pixRun {
        loss: LossChoice::NonSaturating,
        reg: Penalties::default(),
        model,
        train,
    });
    RunConfig {
        loader,
        log: LogConfig { grid: 16, ..Default::default() },
        eval: crate::presets::features(features),
        ..crate::presets::base(name, data, (batch, steps), family)
    }
}

/// The paper's facades setting (Isola et al. 2017, §4 and the authors' defaults): 256×256 RGB,
/// unet_256, the 70×70 PatchGAN, batch 1, jitter (resize to 286, random crop back) and flips,
/// 100 epochs at lr 2e-4 then 100 of decay. Point `data` at a folder in the authors' layout
/// (`facades/train/*.jpg`, each A|B): 400 training images make 80,000 steps.
fn facades() -> RunConfig {
    let loader = LoaderConfig { jitter: 286, ..crate::presets::loader(true) };
    pix2pix(
        "pix2pix-facades",
        "facades",
        Pix2pixConfig::paper256(),
        (1, 80_000),
        paper_train(100, 100),
        loader,
        "inception",
    )
}

/// Edges → Fashion-MNIST garments (edges2shoes' small cousin; `cargo xtask datasets derive
/// edges2fashion`): 28×28 padded to 32×32, grey → grey, unet at 5 downsamplings (no dropout
/// block at this depth), batch 16 for a CPU, 2 epochs + 1 of decay over 60k pairs.
fn edges2fashion() -> RunConfig {
    let model = Pix2pixConfig { ngf: 32, ndf: 32, ..Pix2pixConfig::at(32, 1, 1) };
    pix2pix(
        "pix2pix-edges2fashion",
        "edges2fashion",
        model,
        (16, 4000),
        paper_train(1, 1),
        crate::presets::loader(false),
        "fashion-mnist",
    )
}

/// Grey → colour CIFAR-10 (the paper's colourisation task; `cargo xtask datasets derive
/// colorize-cifar`): 32×32, 1 → 3 channels, batch 16, flips.
fn colorize_cifar() -> RunConfig {
    let model = Pix2pixConfig { ngf: 32, ndf: 32, ..Pix2pixConfig::at(32, 1, 3) };
    pix2pix(
        "pix2pix-colorize-cifar",
        "colorize-cifar",
        model,
        (16, 6000),
        paper_train(1, 1),
        crate::presets::loader(true),
        "inception",
    )
}

/// The pix2pix presets.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "pix2pix-edges2fashion",
        summary: "pix2pix, edges -> Fashion-MNIST garments at 32x32 (xtask datasets derive edges2fashion)",
        build: edges2fashion,
    },
    Preset {
        name: "pix2pix-colorize-cifar",
        summary: "pix2pix, grey -> colour CIFAR-10 at 32x32 (xtask datasets derive colorize-cifar)",
        build: colorize_cifar,
    },
    Preset {
        name: "pix2pix-facades",
        summary: "pix2pix with the paper's 256x256 settings; data=PATH to an A|B folder (facades, maps, ...)",
        build: facades,
    },
];
