//! The adversarial autoencoder (`model.arch = "aae"`, Makhzani et al. 2015): an autoencoder whose
//! aggregated posterior q(z) is matched to a prior p(z) by a discriminator in latent space. Each
//! step has the two phases of the paper's §2, each with its own optimiser:
//!
//! ```text
//! AE  reconstruction   min_{E,Dec} E_x ‖Dec(E(x)) − x‖²                    train.ae_opt (E and Dec)
//! D   regularisation   D separates prior samples z ~ p(z) from codes E(x)    train.d_opt
//! E                    E fools D: the generator's loss on D(E(x))            train.g_opt (E only)
//! ```
//!
//! Any gantry objective plays the latent game (`loss`, with `[reg]`'s penalties on the codes).
//! The supervised variant (`model.supervised`, the paper's Figure 4) gives D the one-hot label
//! (K + 1 slots, the last meaning "unlabelled"; `train.labelled` of the examples show theirs) and
//! draws each labelled example's prior sample from its class's component, so that every digit
//! takes one mixture component. The encoder is deterministic by default; `model.posterior =
//! "gaussian"` samples z = μ + σ·ε (no KL: the adversarial term regularises).
//!
//! The latent of the trained model (`gantry sample`) is the noise the prior draws from
//! ([`gantry_autoenc::prior`]); `gantry encode` and `gantry interpolate --input` use the encoder.

use crate::error::{bail, Context, Result};
use gantry_autoenc::{AutoencoderConfig, Decoder, Encoder, LatentCritic, Prior, PriorConfig};
use gantry_core::optim::AdamConfig;
use gantry_losses::AdversarialLoss;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::adversarial::{critic_update, validate_adam, Constraint, LossChoice, Penalties};
use crate::capability::{check_range, Autoencoder, ClassSampler, Sampler};
use crate::config::{FamilyConfig, LogConfig, Recipe, RunConfig};
use crate::family::BuildContext;
use crate::family::{Batch, DataNeeds, Family, NetId, Networks, OptId, Phase, Scalars};
use crate::presets::{base, features, Preset};

/// The networks of an AAE (`[model]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AaeModel {
    /// The encoder and decoder (`model.layout`, `model.code_dim`, `model.posterior`, …), at the
    /// top level of `[model]`.
    #[serde(flatten)]
    pub net: AutoencoderConfig,
    /// Units in each of the latent discriminator's two hidden layers (the paper: 1000).
    pub d_hidden: i64,
    /// D sees each code's one-hot label (the prior's K components + "unlabelled").
    pub supervised: bool,
}

/// Optimisation (`[train]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AaeTrain {
    /// The reconstruction phase's Adam, over the encoder and the decoder.
    pub ae_opt: AdamConfig,
    /// The latent discriminator's.
    pub d_opt: AdamConfig,
    /// The encoder's as the generator of the latent game.
    pub g_opt: AdamConfig,
    /// Supervised variant: the share of examples whose label D sees (the rest take the
    /// "unlabelled" slot and a prior sample from any component).
    pub labelled: f64,
}

/// An AAE run's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AaeRun {
    /// The latent game's objective (any of gantry's).
    pub loss: LossChoice,
    /// The latent D's penalties, on the codes (`[reg]`); configs without it get the defaults.
    #[serde(default)]
    pub reg: Penalties,
    /// The autoencoder and the latent discriminator (`[model]`).
    pub model: AaeModel,
    /// The prior p(z) the codes are matched to (`[prior]`: Gaussian, mixture, swiss roll or
    /// empirical).
    pub prior: PriorConfig,
    /// The three phases' optimisers and the labelled share (`[train]`).
    pub train: AaeTrain,
}

impl Recipe for AaeRun {
    const ARCH: &'static str = "aae";

    fn data(&self) -> DataNeeds {
        let classes = if self.model.supervised { self.prior.classes() } else { None };
        DataNeeds::Images { channels: self.model.net.channels, size: self.model.net.image_size, classes }
    }

    fn set_channels(&mut self, channels: i64) {
        self.model.net.channels = channels;
    }

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        let net = AutoencoderConfig { channels: self.model.net.channels.max(1), ..self.model.net.clone() };
        net.validate().map_err(|e| crate::error::err!("invalid {e}"))?;
        self.prior.validate(net.code_dim).map_err(|e| crate::error::err!("invalid {e}"))?;
        if self.model.d_hidden < 1 {
            bail!("invalid model.d_hidden: expected ≥ 1, found {}", self.model.d_hidden);
        }
        if self.model.supervised && self.prior.classes().is_none() {
            bail!(
                "invalid model.supervised: labels tie to a prior's components; the {} prior has none (use mixture or swiss-roll)",
                self.prior.kind.name()
            );
        }
        if !(0.0..=1.0).contains(&self.train.labelled) {
            bail!("invalid train.labelled: expected a share in [0, 1], found {}", self.train.labelled);
        }
        validate_adam("train.ae_opt", &self.train.ae_opt)?;
        validate_adam("train.d_opt", &self.train.d_opt)?;
        validate_adam("train.g_opt", &self.train.g_opt)?;
        self.reg.validate(self.loss)
    }

    fn build(&self, _run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        Ok(Box::new(AaeFamily::new(self, cx.device)?))
    }
}

/// Reads the empirical prior's samples (`prior.file`), for a prior that has them.
pub fn prior_of(cfg: &PriorConfig, code_dim: i64) -> Result<Prior> {
    let samples = match cfg.kind {
        gantry_autoenc::PriorKind::Empirical => Some(
            gantry_metrics::npy::read_features(std::path::Path::new(&cfg.file))
                .with_context(|| format!("prior.file = \"{}\"", cfg.file))?,
        ),
        _ => None,
    };
    Prior::new(cfg.clone(), code_dim, samples).map_err(|e| crate::error::err!("invalid {e}"))
}

/// The Gaussian-kernel bandwidth gantry measures MMD(q(z), p(z)) with: the median distance
/// between the prior samples `z` `[N, d]` (the median heuristic); gantry takes them from
/// [`Autoencoder::prior_samples`]`(500, 0)`, so the bandwidth depends on the prior only.
pub fn mmd_bandwidth(z: &Tensor) -> f64 {
    let z = z.to_device(Device::Cpu).to_kind(Kind::Double);
    let n = z.size()[0];
    let d = (z.unsqueeze(1) - z.unsqueeze(0)).square().sum_dim_intlist(2, false, Kind::Double).sqrt();
    let off = d.masked_select(&Tensor::ones([n, n], (Kind::Bool, Device::Cpu)).triu(1));
    off.median().double_value(&[]).max(1e-6)
}

/// An adversarial autoencoder in training.
#[derive(Debug)]
pub struct AaeFamily {
    nets: Networks,
    enc: NetId,
    d: NetId,
    ae_opt: OptId,
    encoder: Encoder,
    decoder: Decoder,
    critic: LatentCritic,
    prior: Prior,
    loss: AdversarialLoss,
    constraint: Constraint,
    reg: Penalties,
    labelled: f64,
    /// K for the supervised variant.
    classes: Option<i64>,
    bandwidth: f64,
    /// (channels, size) of the images.
    shape: (i64, i64),
    phases: [Phase; 3],
    device: Device,
    /// This step's labels as D sees them (K: unlabelled), drawn in the reconstruction phase.
    step_labels: Option<Tensor>,
}

impl AaeFamily {
    /// Builds the networks on `device` (weights from libtorch's generator: seed it first).
    pub fn new(s: &AaeRun, device: Device) -> Result<Self> {
        let net = &s.model.net;
        let prior = prior_of(&s.prior, net.code_dim)?;
        let classes = if s.model.supervised { s.prior.classes() } else { None };
        let (vs_e, vs_dec, vs_d) = (VarStore::new(device), VarStore::new(device), VarStore::new(device));
        let encoder = Encoder::new(vs_e.root(), net);
        let decoder = Decoder::new(vs_dec.root(), net);
        let critic =
            LatentCritic::new(vs_d.root(), net.code_dim, s.model.d_hidden, classes.map_or(0, |k| k + 1));
        let mut nets = Networks::new();
        let enc = nets.trained("enc", vs_e, s.train.g_opt, true);
        let dec = nets.trained_by_shared("dec", vs_dec, true);
        let d = nets.trained("d", vs_d, s.train.d_opt, false);
        let ae_opt = nets.shared("ae", &[enc, dec], s.train.ae_opt);
        let bandwidth = mmd_bandwidth(
            &prior.transform(&gantry_core::latent::latents(500, prior.noise_dim(), 0, "prior"), None),
        );
        Ok(Self {
            nets,
            enc,
            d,
            ae_opt,
            encoder,
            decoder,
            critic,
            prior,
            loss: s.loss.adversarial(),
            constraint: s.loss.constraint(),
            reg: s.reg.clone(),
            labelled: s.train.labelled,
            classes,
            bandwidth,
            shape: (net.channels, net.image_size),
            phases: [Phase::fresh("AE"), Phase::same_batch("D"), Phase::same_batch("E")],
            device,
            step_labels: None,
        })
    }

    /// Codes of `x` in training: E(x), or a draw z = μ + σ·ε of a Gaussian posterior.
    fn code(&self, x: &Tensor) -> Tensor {
        match self.encoder.moments(x, true) {
            (mu, Some(logvar)) => {
                gantry_losses::vae::reparameterise_with(&mu, &logvar, &gantry_core::parallel::randn_like(&mu))
            }
            (z, None) => z,
        }
    }

    /// Prior samples for this step's batch: labelled examples from their class's component.
    fn prior_batch(&self, n: i64) -> Tensor {
        match (&self.step_labels, self.classes) {
            (Some(lab), Some(k)) => {
                let any = gantry_core::parallel::randint(k, &[n], (Kind::Int64, self.device));
                let comp = lab.where_self(&lab.lt(k), &any);
                self.prior.sample(n, Some(&comp), self.device)
            }
            _ => self.prior.sample(n, None, self.device),
        }
    }

    fn reconstruction(&mut self, batch: &Batch) -> Result<Scalars> {
        let x = &batch.images;
        let b = x.size()[0];
        let rec = self.decoder.forward_t(&self.code(x), true);
        let loss = (&rec - x).square().mean(Kind::Float);
        self.nets.shared_opt_mut(self.ae_opt).backward_step(&loss);
        self.step_labels = match self.classes {
            Some(k) => {
                let Some(labels) = &batch.labels else { bail!("the supervised AAE needs labelled data") };
                let shown = gantry_core::parallel::rand(&[b], (Kind::Float, self.device)).lt(self.labelled);
                let unlabelled = Tensor::full([b], k, (Kind::Int64, self.device));
                Some(labels.to_device(self.device).where_self(&shown, &unlabelled))
            }
            None => None,
        };
        Ok(vec![("recon_mse", loss.double_value(&[]))])
    }

    fn regularise_d(&mut self, batch: &Batch, k: u64) -> Scalars {
        let x = &batch.images;
        let b = x.size()[0];
        let fake = tch::no_grad(|| self.code(x));
        let real = self.prior_batch(b);
        let labels = self.step_labels.as_ref();
        let real_out = self.critic.forward(&real, labels);
        let fake_out = self.critic.forward(&fake, labels);
        let adv = self.loss.d_loss(&real_out, &fake_out);
        let critic = |z: &Tensor| self.critic.forward(z, labels);
        let reg = self.reg.total(self.constraint, &critic, &real, &fake, k);
        let mut out = critic_update(
            &mut self.nets,
            self.d,
            self.constraint,
            &self.reg,
            &adv,
            &reg,
            &real_out,
            &fake_out,
        );
        out.push(("mmd", gantry_metrics::parzen::mmd2_gaussian(&fake, &real, self.bandwidth)));
        out
    }

    fn regularise_e(&mut self, batch: &Batch) -> Scalars {
        let x = &batch.images;
        let labels = self.step_labels.as_ref();
        let fake_out = self.critic.forward(&self.code(x), labels);
        let real_out = self.loss.g_needs_real().then(|| {
            let real = self.prior_batch(x.size()[0]);
            self.critic.forward(&real, labels)
        });
        let loss = self.loss.g_loss(&fake_out, real_out.as_ref());
        self.nets.opt_mut(self.enc).backward_step(&loss);
        vec![("g_loss", loss.double_value(&[]))]
    }

    fn decode_noise(&self, g: &Tensor, classes: Option<&Tensor>) -> Tensor {
        tch::no_grad(|| {
            let z = self.prior.transform(&g.to_device(self.device), classes);
            self.decoder.forward_t(&z, false)
        })
    }
}

impl Family for AaeFamily {
    fn phases(&self) -> &[Phase] {
        &self.phases
    }

    fn run_phase(&mut self, phase: usize, batch: &Batch, k: u64) -> Result<Scalars> {
        match phase {
            0 => self.reconstruction(batch),
            1 => Ok(self.regularise_d(batch, k)),
            _ => Ok(self.regularise_e(batch)),
        }
    }

    fn networks(&self) -> &Networks {
        &self.nets
    }

    fn networks_mut(&mut self) -> &mut Networks {
        &mut self.nets
    }

    fn sampler(&self) -> Option<&dyn Sampler> {
        Some(self)
    }

    fn class_sampler(&self) -> Option<&dyn ClassSampler> {
        self.classes.map(|_| self as &dyn ClassSampler)
    }

    fn autoencoder(&self) -> Option<&dyn Autoencoder> {
        Some(self)
    }
}

impl Sampler for AaeFamily {
    /// The prior's noise ([`Prior::noise_dim`]): one prior sample per latent.
    fn z_dim(&self) -> i64 {
        self.prior.noise_dim()
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        self.decode_noise(z, None)
    }
}

impl ClassSampler for AaeFamily {
    fn classes(&self) -> i64 {
        self.classes.unwrap_or(0)
    }

    fn generate_class(&self, z: &Tensor, classes: &Tensor) -> Result<Tensor> {
        check_range(classes, self.classes(), "class")?;
        Ok(self.decode_noise(z, Some(classes)))
    }
}

impl Autoencoder for AaeFamily {
    fn image_shape(&self) -> (i64, i64) {
        self.shape
    }

    fn code_dim(&self) -> i64 {
        self.prior.code_dim
    }

    fn encode(&self, images: &Tensor) -> Result<Tensor> {
        Ok(tch::no_grad(|| self.encoder.moments(&images.to_device(self.device), false).0))
    }

    fn decode(&self, codes: &Tensor) -> Result<Tensor> {
        Ok(tch::no_grad(|| self.decoder.forward_t(&codes.to_device(self.device), false)))
    }

    fn prior_samples(&self, n: usize, seed: u64) -> Tensor {
        let g = gantry_core::latent::latents(n, self.prior.noise_dim(), seed, "prior");
        self.prior.transform(&g, None)
    }

    fn component_of(&self, codes: &Tensor) -> Option<Tensor> {
        self.prior.component_of(codes)
    }
}

/// Adam as the widely used AAE code (hwalsuklee/tensorflow-mnist-AAE) sets it: lr 1e-3 for the
/// reconstruction and the encoder-as-generator, lr 2e-4 (a fifth) for D.
fn aae_train() -> AaeTrain {
    let adam = |lr| AdamConfig { lr, beta1: 0.9, beta2: 0.999, ..Default::default() };
    AaeTrain { ae_opt: adam(1e-3), d_opt: adam(2e-4), g_opt: adam(1e-3), labelled: 1.0 }
}

fn aae(model: AutoencoderConfig, prior: PriorConfig, supervised: bool) -> FamilyConfig {
    FamilyConfig::new(AaeRun {
        loss: LossChoice::NonSaturating,
        reg: Penalties::default(),
        model: AaeModel { net: model, d_hidden: 1000, supervised },
        prior,
        train: aae_train(),
    })
}

/// The paper's MNIST AAE: MLPs of 2 × 1000, an 8-D code matched to N(0, 5²I) (its likelihood
/// experiment), on the embedded 5k digits (data=mnist for all 60k). The latent game is WGAN-GP
/// with Adam(2e-4, β1 0.5) for D and the encoder: with the non-saturating loss, D separates the
/// wide 8-D prior (‖z‖ ≈ 14) from the codes so well that the encoder never catches up (MMD² 0.25
/// after 4,000 steps against 0.014 after 1,500 with WGAN-GP).
fn aae_mnist() -> RunConfig {
    let mut family = aae(AutoencoderConfig::mnist_mlp(8), PriorConfig::gaussian(5.0), false);
    let s = family.get_mut::<AaeRun>().expect("an aae run");
    s.loss = LossChoice::WganGp;
    let adam = AdamConfig { lr: 2e-4, beta1: 0.5, beta2: 0.999, ..Default::default() };
    (s.train.g_opt, s.train.d_opt) = (adam, adam);
    RunConfig {
        log: LogConfig { every: 100, sample_every: 1000, grid: 100, ..Default::default() },
        eval: features("mnist"),
        ..base("aae-mnist", "mnist-5k", (100, 5000), family)
    }
}

/// A 2-D code matched to the mixture of 10 Gaussians (the paper's Figure 4a, unsupervised),
/// with the non-saturating latent game.
fn aae_mnist_mixture() -> RunConfig {
    RunConfig {
        preset: "aae-mnist-mixture".into(),
        family: aae(AutoencoderConfig::mnist_mlp(2), PriorConfig::mixture(10), false),
        ..aae_mnist()
    }
}

/// The supervised variant: D sees each digit's label, which picks its mixture component (the
/// paper's Figure 4b).
fn aae_mnist_supervised() -> RunConfig {
    RunConfig {
        preset: "aae-mnist-supervised".into(),
        family: aae(AutoencoderConfig::mnist_mlp(2), PriorConfig::mixture(10), true),
        ..aae_mnist()
    }
}

/// The MNIST AAE on Fashion-MNIST.
fn aae_fashion() -> RunConfig {
    RunConfig {
        preset: "aae-fashion".into(),
        data: "fashion-mnist".into(),
        eval: features("fashion-mnist"),
        ..aae_mnist()
    }
}

/// The AAE presets.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "aae-mnist",
        summary: "adversarial autoencoder, MNIST 28x28 MLPs 2x1000, 8-D code, prior N(0, 5^2 I), WGAN-GP latent game; embedded 5k digits",
        build: aae_mnist,
    },
    Preset {
        name: "aae-mnist-mixture",
        summary: "adversarial autoencoder, 2-D code matched to a mixture of 10 Gaussians (prior.kind = swiss-roll too)",
        build: aae_mnist_mixture,
    },
    Preset {
        name: "aae-mnist-supervised",
        summary: "supervised AAE: D sees the one-hot label (+ unlabelled slot), each digit takes one mixture component",
        build: aae_mnist_supervised,
    },
    Preset {
        name: "aae-fashion",
        summary: "adversarial autoencoder on Fashion-MNIST, 8-D code, prior N(0, 5^2 I)",
        build: aae_fashion,
    },
];
