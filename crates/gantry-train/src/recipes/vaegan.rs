//! The VAE-GAN (`model.arch = "vaegan"`, Larsen et al. 2016) and, on the same networks, the plain
//! VAE it improves on (`train.gan = false`, `train.recon = "pixels"`).
//!
//! One phase per step: x → E → (μ, log σ²) → z = μ + σ·ε → x̃ = Dec(z); x_p = Dec(z_p) with
//! z_p ~ N(0, I); D sees x, x̃ (with `train.discriminate_recon`) and x_p. The paper's losses,
//! routed per network (its Algorithm 1) from that one forward pass:
//!
//! ```text
//! L_prior = KL(q(z|x) ‖ N(0, I))                          (summed over z, mean over the batch)
//! L_llike = ½ Σ (Dis_l(x) − Dis_l(x̃))²                   D's l-th layer: the learned similarity
//!           (a plain VAE: ½ Σ (x − x̃)² / s², s = train.pixel_sigma)
//! L_GAN   = the objective `loss` on D(x) vs D(x̃), D(x_p)
//! E   ← ∇ (train.kl_weight · L_prior + L_llike)
//! Dec ← ∇ (w · L_llike + (1 − w) · L_GAN,G)              w = train.recon_vs_gan
//! D   ← ∇ L_GAN,D
//! ```
//!
//! Every gradient is taken before any network changes (a simultaneous update), as the paper's
//! algorithm states it. The authors' equilibrium rule (`train.margin`, `train.equilibrium`, for
//! objectives on logits): D is not updated while its real or fake cost (−log D(x), −log(1 − D(x̃)))
//! is below equilibrium − margin, the decoder's GAN update is skipped while either is above
//! equilibrium + margin, both are updated when both would be skipped.
//!
//! Deviations from andersbll/autoencoding_beyond_pixels, said here: Adam instead of RMSProp;
//! the non-saturating objective by default (`loss = "minimax"` is the authors' saturating one);
//! the decoder's term weighted w and 1 − w on the losses rather than on the gradients (the same).

use crate::error::{bail, Result};
use gantry_autoenc::{AutoencoderConfig, Decoder, Encoder, FeatureCritic, Posterior};
use gantry_core::optim::AdamConfig;
use gantry_losses::vae::{gaussian_nll, kl_standard_normal, reparameterise_with};
use gantry_losses::AdversarialLoss;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::adversarial::{validate_adam, LossChoice};
use crate::capability::{Autoencoder, Sampler};
use crate::config::{FamilyConfig, LogConfig, Recipe, RunConfig};
use crate::family::BuildContext;
use crate::family::{Batch, DataNeeds, Family, NetId, Networks, Phase, Scalars};
use crate::presets::{base, features, Preset};

/// What the reconstruction error is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recon {
    /// Pixels: a Gaussian with standard deviation `train.pixel_sigma` (the plain VAE).
    Pixels,
    /// D's l-th layer (the VAE-GAN's learned similarity).
    Features,
}

/// Optimisation and the loss routing (`[train]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeganTrain {
    /// The encoder's and the decoder's Adam (one each, same settings).
    pub opt: AdamConfig,
    /// D's Adam (`train.d_opt`; the presets: Adam(2e-4, 0.5, 0.999), as `train.opt`).
    pub d_opt: AdamConfig,
    /// Train D and the decoder's GAN term (false: a plain VAE).
    pub gan: bool,
    /// What L_llike measures (`train.recon`: `pixels` for the VAE, `features` for the VAE-GAN).
    pub recon: Recon,
    /// s of the pixel likelihood, in [−1, 1] image units.
    pub pixel_sigma: f64,
    /// w: the decoder's weight on L_llike; 1 − w goes to its GAN term.
    pub recon_vs_gan: f64,
    /// Weight of L_prior in the encoder's loss (1: the paper).
    pub kl_weight: f64,
    /// D also sees reconstructions x̃ as fakes (the paper's L_GAN; the authors' scripts set it
    /// off, using prior samples only).
    pub discriminate_recon: bool,
    /// The equilibrium rule's margin (0: off) and equilibrium (the authors: 0.35, 0.68).
    pub margin: f64,
    /// The equilibrium rule's target for D's real and fake costs (the authors: 0.68).
    pub equilibrium: f64,
    /// l: the conv layer of D whose output (before BN) is the learned similarity: 3 or 4 (the
    /// authors: 4 for 64×64 faces, 3 for 32×32 CIFAR).
    pub similarity_layer: i64,
}

/// A VAE-GAN (or VAE) run's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeganRun {
    /// The adversarial objective, unconstrained (the presets: `non-saturating`; the authors'
    /// saturating one is `minimax`).
    pub loss: LossChoice,
    /// The encoder, decoder and D (`[model]`; must be `layout = "conv"` with
    /// `posterior = "gaussian"`, Larsen et al.'s networks).
    pub model: AutoencoderConfig,
    /// Optimisation and the loss routing (`[train]`).
    pub train: VaeganTrain,
}

impl Recipe for VaeganRun {
    const ARCH: &'static str = "vaegan";

    fn data(&self) -> DataNeeds {
        DataNeeds::Images { channels: self.model.channels, size: self.model.image_size, classes: None }
    }

    fn set_channels(&mut self, channels: i64) {
        self.model.channels = channels;
    }

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        let m = AutoencoderConfig { channels: self.model.channels.max(1), ..self.model.clone() };
        m.validate().map_err(|e| crate::error::err!("invalid {e}"))?;
        if m.layout != gantry_autoenc::Layout::Conv || m.posterior != Posterior::Gaussian {
            bail!(
                "invalid model: the VAE-GAN's networks are layout = \"conv\" with posterior = \"gaussian\""
            );
        }
        let t = &self.train;
        if !matches!(t.similarity_layer, 3 | 4) {
            bail!("invalid train.similarity_layer: expected 3 or 4, found {}", t.similarity_layer);
        }
        if t.recon == Recon::Features && !t.gan {
            bail!("invalid train.recon: \"features\" are D's, which trains only with train.gan = true");
        }
        for (k, v, lo, hi) in [
            ("train.pixel_sigma", t.pixel_sigma, f64::MIN_POSITIVE, f64::INFINITY),
            ("train.recon_vs_gan", t.recon_vs_gan, 0.0, 1.0),
            ("train.kl_weight", t.kl_weight, 0.0, f64::INFINITY),
            ("train.margin", t.margin, 0.0, f64::INFINITY),
            ("train.equilibrium", t.equilibrium, 0.0, f64::INFINITY),
        ] {
            if !(v >= lo && v <= hi && v.is_finite()) {
                bail!("invalid {k}: expected a finite value in [{lo}, {hi}], found {v}");
            }
        }
        if t.margin > 0.0 && !self.loss.adversarial().uses_logits() {
            bail!(
                "invalid train.margin: the equilibrium rule reads D's probabilities; {} has none",
                self.loss.name()
            );
        }
        if self.loss.constraint() != super::adversarial::Constraint::None {
            bail!("invalid loss: the VAE-GAN takes an unconstrained objective, found {}", self.loss.name());
        }
        validate_adam("train.opt", &t.opt)?;
        validate_adam("train.d_opt", &t.d_opt)
    }

    fn build(&self, _run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        Ok(Box::new(VaeganFamily::new(self, cx.device)))
    }
}

/// A VAE-GAN (or VAE) in training.
#[derive(Debug)]
pub struct VaeganFamily {
    nets: Networks,
    enc: NetId,
    dec: NetId,
    /// D, with the VAE-GAN.
    d: Option<(NetId, FeatureCritic)>,
    encoder: Encoder,
    decoder: Decoder,
    loss: AdversarialLoss,
    train: VaeganTrain,
    cfg: AutoencoderConfig,
    phases: [Phase; 1],
    device: Device,
}

impl VaeganFamily {
    /// Builds the networks on `device` (weights from libtorch's generator: seed it first).
    pub fn new(s: &VaeganRun, device: Device) -> Self {
        let (vs_e, vs_g) = (VarStore::new(device), VarStore::new(device));
        let encoder = Encoder::new(vs_e.root(), &s.model);
        let decoder = Decoder::new(vs_g.root(), &s.model);
        let mut nets = Networks::new();
        let enc = nets.trained("enc", vs_e, s.train.opt, true);
        let dec = nets.trained("dec", vs_g, s.train.opt, true);
        let d = s.train.gan.then(|| {
            let vs = VarStore::new(device);
            let critic = FeatureCritic::new(vs.root(), &s.model, s.train.similarity_layer);
            (nets.trained("d", vs, s.train.d_opt, false), critic)
        });
        Self {
            nets,
            enc,
            dec,
            d,
            encoder,
            decoder,
            loss: s.loss.adversarial(),
            train: s.train.clone(),
            cfg: s.model.clone(),
            phases: [Phase::fresh(if s.train.gan { "VAEGAN" } else { "VAE" })],
            device,
        }
    }

    fn step(&mut self, batch: &Batch) -> Scalars {
        let x = &batch.images;
        let b = x.size()[0];
        let (mu, logvar) = self.encoder.moments(x, true);
        let logvar = logvar.expect("validated: a Gaussian posterior");
        let x_rec = self
            .decoder
            .forward_t(&reparameterise_with(&mu, &logvar, &gantry_core::parallel::randn_like(&mu)), true);
        let kl = kl_standard_normal(&mu, &logvar);
        let t = &self.train;
        let mse = tch::no_grad(|| (&x_rec - x).square().mean(Kind::Float).double_value(&[]));
        let mut out = vec![("kl", kl.double_value(&[])), ("recon_mse", mse)];
        let Some((d_id, critic)) = &self.d else {
            let llike = gaussian_nll(&x_rec, x, t.pixel_sigma);
            let loss = &kl * t.kl_weight + &llike;
            let g_enc = self.nets.opt(self.enc).gradients(&loss, true);
            let g_dec = self.nets.opt(self.dec).gradients(&loss, false);
            self.nets.opt_mut(self.enc).apply(&g_enc);
            self.nets.opt_mut(self.dec).apply(&g_dec);
            out.push(("llike", llike.double_value(&[])));
            return out;
        };
        let d_id = *d_id;
        let x_p = self.decoder.forward_t(
            &gantry_core::parallel::randn(&[b, self.cfg.code_dim], (Kind::Float, self.device)),
            true,
        );
        // One D pass over x, x̃ and x_p together, as the authors' code feeds D: with BatchNorm's
        // batch statistics (its FC layer's especially), separate batches of reals and fakes would
        // be normalised alike and D could hardly tell them apart.
        let (logits, feats) = critic.forward_t(&Tensor::cat(&[x, &x_rec, &x_p], 0), true);
        let (outs, feats) = (logits.split(b, 0), feats.split(b, 0));
        let (real_out, rec_out, p_out) = (&outs[0], &outs[1], &outs[2]);
        let (f_real, f_rec) = (&feats[0], &feats[1]);
        let llike = match t.recon {
            Recon::Features => gaussian_nll(f_rec, &f_real.detach(), 1.0),
            Recon::Pixels => gaussian_nll(&x_rec, x, t.pixel_sigma),
        };
        let fake_out =
            if t.discriminate_recon { Tensor::cat(&[rec_out, p_out], 0) } else { p_out.shallow_clone() };
        let d_loss = self.loss.d_loss(real_out, &fake_out);
        let g_adv = self.loss.g_loss(&fake_out, self.loss.g_needs_real().then_some(real_out));
        let l_enc = &kl * t.kl_weight + &llike;
        let l_dec = &llike * t.recon_vs_gan + &g_adv * (1.0 - t.recon_vs_gan);
        // The equilibrium rule on D's costs −log D(x) and −log(1 − D(fake)).
        let (mut train_d, mut train_dec) = (true, true);
        let mean = |t: &Tensor| t.mean(Kind::Float).double_value(&[]);
        let (real_cost, fake_cost) = (mean(&(-real_out).softplus()), mean(&fake_out.softplus()));
        if t.margin > 0.0 {
            let (lo, hi) = (t.equilibrium - t.margin, t.equilibrium + t.margin);
            train_d = !(real_cost < lo || fake_cost < lo);
            train_dec = !(real_cost > hi || fake_cost > hi);
            if !train_d && !train_dec {
                (train_d, train_dec) = (true, true);
            }
        }
        // Every gradient from the same forward pass, then every update.
        let g_enc = self.nets.opt(self.enc).gradients(&l_enc, true);
        let g_dec = train_dec.then(|| self.nets.opt(self.dec).gradients(&l_dec, true));
        let g_d = train_d.then(|| self.nets.opt(d_id).gradients(&d_loss, false));
        self.nets.opt_mut(self.enc).apply(&g_enc);
        if let Some(g) = g_dec {
            self.nets.opt_mut(self.dec).apply(&g);
        }
        if let Some(g) = g_d {
            self.nets.opt_mut(d_id).apply(&g);
        }
        out.extend([
            ("llike", llike.double_value(&[])),
            ("d_loss", d_loss.double_value(&[])),
            ("g_loss", g_adv.double_value(&[])),
            ("d_real", mean(real_out)),
            ("d_fake", mean(&fake_out)),
            ("d_updated", f64::from(u8::from(train_d))),
            ("dec_updated", f64::from(u8::from(train_dec))),
        ]);
        out
    }
}

impl Family for VaeganFamily {
    fn phases(&self) -> &[Phase] {
        &self.phases
    }

    fn run_phase(&mut self, _phase: usize, batch: &Batch, _k: u64) -> Result<Scalars> {
        Ok(self.step(batch))
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

    fn autoencoder(&self) -> Option<&dyn Autoencoder> {
        Some(self)
    }
}

impl Sampler for VaeganFamily {
    /// z ~ N(0, I): the prior itself.
    fn z_dim(&self) -> i64 {
        self.cfg.code_dim
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        tch::no_grad(|| self.decoder.forward_t(&z.to_device(self.device), false))
    }
}

impl Autoencoder for VaeganFamily {
    fn image_shape(&self) -> (i64, i64) {
        (self.cfg.channels, self.cfg.image_size)
    }

    fn code_dim(&self) -> i64 {
        self.cfg.code_dim
    }

    fn encode(&self, images: &Tensor) -> Result<Tensor> {
        Ok(tch::no_grad(|| self.encoder.moments(&images.to_device(self.device), false).0))
    }

    fn decode(&self, codes: &Tensor) -> Result<Tensor> {
        Ok(self.generate(codes))
    }

    fn prior_samples(&self, n: usize, seed: u64) -> Tensor {
        gantry_core::latent::latents(n, self.cfg.code_dim, seed, "prior")
    }
}

fn vae_train(gan: bool) -> VaeganTrain {
    VaeganTrain {
        opt: AdamConfig::dcgan(),
        d_opt: AdamConfig::dcgan(),
        gan,
        recon: if gan { Recon::Features } else { Recon::Pixels },
        pixel_sigma: 0.2,
        recon_vs_gan: 0.01,
        kl_weight: 1.0,
        discriminate_recon: true,
        margin: if gan { 0.35 } else { 0.0 },
        equilibrium: 0.68,
        similarity_layer: 3,
    }
}

/// The plain VAE on the VAE-GAN's networks: MNIST padded to 32×32, a 16-D code, the
/// pixel likelihood with s = 0.2 (in [−1, 1] units); width 8 (encoder 8, 16, 32 and FC 256) to train on a CPU.
fn vae_mnist() -> RunConfig {
    let family = FamilyConfig::new(VaeganRun {
        loss: LossChoice::NonSaturating,
        model: AutoencoderConfig::conv(1, 32, 16, 8),
        train: vae_train(false),
    });
    RunConfig {
        log: LogConfig { every: 100, sample_every: 1000, ..Default::default() },
        eval: features("mnist"),
        ..base("vae-mnist", "mnist-5k", (64, 4000), family)
    }
}

/// The VAE-GAN on the same networks: the learned similarity at D's third conv (as the authors' 32×32 CIFAR setting), w = 0.01, D
/// on reconstructions and prior samples, the authors' equilibrium rule.
fn vaegan_mnist() -> RunConfig {
    RunConfig {
        preset: "vaegan-mnist".into(),
        family: FamilyConfig::new(VaeganRun {
            loss: LossChoice::NonSaturating,
            model: AutoencoderConfig::conv(1, 32, 16, 8),
            train: vae_train(true),
        }),
        ..vae_mnist()
    }
}

fn fashion(mut cfg: RunConfig, name: &str) -> RunConfig {
    cfg.preset = name.into();
    cfg.data = "fashion-mnist".into();
    cfg.eval.features = "fashion-mnist".into();
    cfg
}

fn vae_fashion() -> RunConfig {
    fashion(vae_mnist(), "vae-fashion")
}

fn vaegan_fashion() -> RunConfig {
    fashion(vaegan_mnist(), "vaegan-fashion")
}

/// The VAE and VAE-GAN presets.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "vae-mnist",
        summary: "VAE on the VAE-GAN's conv networks (pixel likelihood), MNIST 32x32, 16-D code; embedded 5k digits",
        build: vae_mnist,
    },
    Preset {
        name: "vaegan-mnist",
        summary: "VAE-GAN (Larsen et al.): reconstruction in D's 3rd-conv features, KL, GAN on x~ and x_p",
        build: vaegan_mnist,
    },
    Preset { name: "vae-fashion", summary: "the VAE on Fashion-MNIST", build: vae_fashion },
    Preset { name: "vaegan-fashion", summary: "the VAE-GAN on Fashion-MNIST", build: vaegan_fashion },
];
