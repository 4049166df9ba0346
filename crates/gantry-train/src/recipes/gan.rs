//! Unconditional GANs: DCGAN (`model.arch = "dcgan"`, Radford et al. 2015) and the MLP GANs of
//! the toy distributions (`"mlp"`). G(z) against D(x) → logit with any of gantry's objectives and
//! penalties, and the stabilisers of [`GanTrain`]: G's EMA, a first-order unrolled D (Metz et al.
//! 2017) and annealed instance noise (Sønderby et al. 2017).
//!
//! Phases: `D` (× `train.d_steps`, each on a fresh batch), `G` (on D's last batch).

use std::fmt::Debug;

use crate::error::{bail, Result};
use gantry_core::optim::{Adam, AdamConfig};
use gantry_dcgan::{DNorm, DcganConfig, MlpConfig};
use gantry_nn::EmaConfig;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tch::nn::{ModuleT, VarStore};
use tch::{Kind, Tensor};

use super::adversarial::{game_phases, Game, LossChoice, Penalties, TrainConfig};
use crate::capability::Sampler;
use crate::config::{EvalConfig, FamilyConfig, LogConfig, Recipe, RunConfig};
use crate::family::BuildContext;
use crate::family::{Batch, DataNeeds, Family, Scalars};
use crate::presets::{base, features, loader, Preset};

/// An architecture this family trains: G and D as modules, a latent size, its data.
pub trait GanModel: Serialize + DeserializeOwned + Clone + PartialEq + Debug + Send + Sync + 'static {
    /// `model.arch` of its runs (`dcgan`, `mlp`).
    const ARCH: &'static str;
    /// Checks the `model` settings; errors name the key.
    fn check(&self) -> Result<()>;
    /// G under `p`: latents `[N, z_dim]` → samples (images `[N, C, S, S]` in (−1, 1), or points).
    fn generator(&self, p: tch::nn::Path) -> Box<dyn ModuleT>;
    /// D under `p`: samples → logits `[N]`.
    fn discriminator(&self, p: tch::nn::Path) -> Box<dyn ModuleT>;
    /// The latent size (`model.z_dim`).
    fn z_dim(&self) -> i64;
    /// What it trains on: images of its size and channels, or points of a toy distribution.
    fn data(&self) -> DataNeeds;
    /// Sets the image channels once the data is loaded (a no-op for toy models).
    fn set_channels(&mut self, channels: i64);
    /// D as a function of its parameters (`param(name)` for each of the store's variable names):
    /// what the second-order unrolled GAN evaluates at parameters inside the autograd graph.
    /// None (the default) where D has no such form.
    fn d_with(&self, _x: &Tensor, _param: &dyn Fn(&str) -> Tensor) -> Option<Tensor> {
        None
    }
    /// Whether [`Self::d_with`] gives D.
    fn has_d_with(&self) -> bool {
        false
    }
}

impl GanModel for DcganConfig {
    const ARCH: &'static str = "dcgan";

    fn check(&self) -> Result<()> {
        // channels = 0 is resolved from the data before the model is built.
        DcganConfig { channels: self.channels.max(1), ..self.clone() }.validate()?;
        if self.channels < 0 {
            bail!("invalid model.channels: expected 0 (from the data), 1 or 3, found {}", self.channels);
        }
        Ok(())
    }

    fn generator(&self, p: tch::nn::Path) -> Box<dyn ModuleT> {
        Box::new(gantry_dcgan::dcgan::generator(p, self))
    }

    fn discriminator(&self, p: tch::nn::Path) -> Box<dyn ModuleT> {
        Box::new(gantry_dcgan::dcgan::discriminator(p, self))
    }

    fn z_dim(&self) -> i64 {
        self.z_dim
    }

    fn data(&self) -> DataNeeds {
        DataNeeds::Images { channels: self.channels, size: self.image_size, classes: None }
    }

    fn set_channels(&mut self, channels: i64) {
        self.channels = channels;
    }
}

impl GanModel for MlpConfig {
    const ARCH: &'static str = "mlp";

    fn check(&self) -> Result<()> {
        Ok(self.validate()?)
    }

    fn generator(&self, p: tch::nn::Path) -> Box<dyn ModuleT> {
        Box::new(gantry_dcgan::mlp::generator(p, self))
    }

    fn discriminator(&self, p: tch::nn::Path) -> Box<dyn ModuleT> {
        Box::new(gantry_dcgan::mlp::discriminator(p, self))
    }

    fn d_with(&self, x: &Tensor, param: &dyn Fn(&str) -> Tensor) -> Option<Tensor> {
        gantry_dcgan::mlp::discriminator_with(x, param, self)
    }

    fn has_d_with(&self) -> bool {
        !self.spectral_norm && self.minibatch_kernels == 0
    }

    fn z_dim(&self) -> i64 {
        self.z_dim
    }

    fn data(&self) -> DataNeeds {
        DataNeeds::Toy { dim: self.data_dim }
    }

    fn set_channels(&mut self, _channels: i64) {}
}

/// Optimisation and the stabilisers of the unconditional GANs (`[train]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanTrain {
    /// The settings every G/D pair has (`train.d_steps`, `train.g_opt`, `train.d_opt`,
    /// `train.ema`), at the top level of `[train]`.
    #[serde(flatten)]
    pub base: TrainConfig,
    /// Unrolled GAN (Metz et al. 2017): G's loss is taken against a copy of D advanced this many
    /// Adam steps on the current real batch and fresh fakes (0 = off).
    #[serde(default)]
    pub unroll: u32,
    /// 1: first order — G's gradient does not flow through the unrolled updates (they are taken
    /// on fakes without gradient). 2: the paper's surrogate — the unrolled updates are
    /// differentiable Adam steps ([`gantry_core::optim::adam_step`]) on fakes with gradient, and
    /// G's gradient flows through them (double backward through the optimiser; MLP D without
    /// spectral norm or minibatch discrimination).
    #[serde(default = "first_order")]
    pub unroll_order: u32,
    /// Instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017): N(0, σ²) added to every
    /// image D sees, real and fake; σ starts here (0 = off) ...
    #[serde(default)]
    pub instance_noise: f64,
    /// ... and decreases linearly to 0 over this many G steps (0: constant σ).
    #[serde(default)]
    pub instance_noise_steps: u64,
}

fn first_order() -> u32 {
    1
}

impl std::ops::Deref for GanTrain {
    type Target = TrainConfig;
    fn deref(&self) -> &TrainConfig {
        &self.base
    }
}

impl std::ops::DerefMut for GanTrain {
    fn deref_mut(&mut self) -> &mut TrainConfig {
        &mut self.base
    }
}

/// The objective, penalties and training settings of a DCGAN or MLP run (None for another
/// family): what the stabiliser comparisons vary.
pub fn gan_parts_mut(cfg: &mut RunConfig) -> Option<(&mut LossChoice, &mut Penalties, &mut GanTrain)> {
    if cfg.family.get::<DcganRun>().is_some() {
        let s = cfg.family.get_mut::<DcganRun>()?;
        return Some((&mut s.loss, &mut s.reg, &mut s.train));
    }
    let s = cfg.family.get_mut::<MlpRun>()?;
    Some((&mut s.loss, &mut s.reg, &mut s.train))
}

impl GanTrain {
    /// The given optimisers, one D step per G step, no stabilisers.
    pub fn plain(g_opt: AdamConfig, d_opt: AdamConfig) -> Self {
        Self::from(TrainConfig::plain(g_opt, d_opt))
    }

    /// σ of the instance noise after `g_steps` generator steps.
    pub fn instance_noise_at(&self, g_steps: u64) -> f64 {
        if self.instance_noise_steps == 0 {
            self.instance_noise
        } else {
            self.instance_noise * (1.0 - g_steps as f64 / self.instance_noise_steps as f64).max(0.0)
        }
    }
}

impl From<TrainConfig> for GanTrain {
    fn from(base: TrainConfig) -> Self {
        Self { base, unroll: 0, unroll_order: 1, instance_noise: 0.0, instance_noise_steps: 0 }
    }
}

/// A DCGAN or MLP run's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GanRun<M> {
    /// The objective: `minimax`, `non-saturating`, `lsgan`, `hinge`, `ragan`, `wgan` (no
    /// constraint: for critics constrained otherwise), `wgan-clip`, `wgan-gp`, `wgan-gp-one-sided`.
    pub loss: LossChoice,
    /// D's penalties. Absent in configs written before it existed, which then get the defaults.
    #[serde(default)]
    pub reg: Penalties,
    /// The architecture (`[model]`): [`DcganConfig`] or [`MlpConfig`].
    pub model: M,
    /// Optimisation and stabilisers (`[train]`).
    pub train: GanTrain,
}

/// A DCGAN run's settings.
pub type DcganRun = GanRun<DcganConfig>;
/// An MLP (toy) run's settings.
pub type MlpRun = GanRun<MlpConfig>;

impl<M: GanModel> Recipe for GanRun<M> {
    const ARCH: &'static str = M::ARCH;

    fn data(&self) -> DataNeeds {
        self.model.data()
    }

    fn set_channels(&mut self, channels: i64) {
        self.model.set_channels(channels);
    }

    /// DCGAN's D sees images; the toy MLPs' sees points.
    fn augments(&self) -> bool {
        self.model.data().image().is_some()
    }

    /// NHWC: the DCGAN-32 step took 140.5 ms against NCHW's 155.3 (medians of 3 interleaved
    /// rounds, 2 threads; README's `[perf]` table); the toy MLPs have no 4-D tensors.
    fn memory_format(&self) -> gantry_core::layout::MemoryFormat {
        gantry_core::layout::MemoryFormat::Nhwc
    }

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        self.train.validate()?;
        super::adversarial::validate_nonnegative(&[("train.instance_noise", self.train.instance_noise)])?;
        match self.train.unroll_order {
            1 => {}
            2 if self.train.unroll == 0 => {
                bail!("invalid train.unroll_order: 2 differentiates through train.unroll steps, and train.unroll is 0")
            }
            2 => {
                if !self.model.has_d_with() {
                    bail!("invalid train.unroll_order: 2 needs a D that is a function of its parameters (model.arch = \"mlp\" without spectral norm or minibatch discrimination)")
                }
            }
            n => bail!("invalid train.unroll_order: expected 1 or 2, found {n}"),
        }
        self.reg.validate(self.loss)?;
        self.model.check()
    }

    fn build(&self, run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        let mut family = GanFamily::new(self, cx)?;
        family.game.augment_with(&run.augment);
        Ok(Box::new(family))
    }

    /// Configs of the single schema carried StyleGAN2's regularisers.
    fn migrate(table: &mut toml::Table) -> crate::error::Result<()> {
        super::adversarial::drop_legacy(table, Self::ARCH, super::adversarial::STYLEGAN2_LEGACY)
    }
}

/// The copy of D that unrolled GANs advance before G's step, with its optimiser.
struct Unrolled {
    /// (copy's variable, D's variable), matched by name once.
    pairs: Vec<(Tensor, Tensor)>,
    d: Box<dyn ModuleT>,
    opt: Adam,
    steps: u32,
    _vs: VarStore,
}

/// An unconditional GAN in training.
pub struct GanFamily {
    game: Game,
    g: Box<dyn ModuleT>,
    d: Box<dyn ModuleT>,
    train: GanTrain,
    /// The averaged generator (draws the samples).
    g_ema: Option<Box<dyn ModuleT>>,
    unrolled: Option<Unrolled>,
    /// D as a function of its parameters, for `train.unroll_order = 2`.
    d_with: Option<DWith>,
    z_dim: i64,
}

/// [`GanModel::d_with`] of the run's model.
type DWith = Box<dyn Fn(&Tensor, &dyn Fn(&str) -> Tensor) -> Option<Tensor>>;

impl std::fmt::Debug for GanFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GanFamily")
            .field("game", &self.game)
            .field("train", &self.train)
            .field("z_dim", &self.z_dim)
            .field("unrolled", &self.unrolled.as_ref().map(|u| u.steps))
            .finish_non_exhaustive()
    }
}

impl GanFamily {
    /// Builds the networks on `cx.device` (their initial weights come from libtorch's generator:
    /// seed it first). `s.model` must be resolved (DCGAN channels ≥ 1).
    pub fn new<M: GanModel>(s: &GanRun<M>, cx: &BuildContext) -> Result<Self> {
        s.model.check()?;
        let model = &s.model;
        let device = cx.device;
        let (game, g, d, g_ema) = Game::build(
            s.loss,
            &s.reg,
            &s.train,
            device,
            |p| Ok(model.generator(p)),
            |p| Ok(model.discriminator(p)),
        )?;
        let unrolled = if s.train.unroll > 0 {
            let vs = VarStore::new(device);
            let d = model.discriminator(vs.root());
            let opt = Adam::new(&vs, s.train.d_opt);
            let from = game.nets.vs(game.d).variables();
            let pairs =
                vs.variables().into_iter().map(|(name, t)| (t, from[&name].shallow_clone())).collect();
            Some(Unrolled { pairs, d, opt, steps: s.train.unroll, _vs: vs })
        } else {
            None
        };
        let d_with: Option<DWith> = (s.train.unroll > 0 && s.train.unroll_order == 2).then(|| {
            let m = model.clone();
            Box::new(move |x: &Tensor, p: &dyn Fn(&str) -> Tensor| m.d_with(x, p)) as DWith
        });
        if s.train.unroll > 0 && gantry_core::parallel::accumulation() > 1 {
            bail!(
                "train.unroll = {} takes its look-ahead D steps within each G step, which train.accumulate = {} would hold back until the last micro-batch: use one of them",
                s.train.unroll,
                gantry_core::parallel::accumulation()
            );
        }
        if d_with.is_some() && gantry_core::parallel::shard().1 > 1 {
            bail!(
                "train.unroll_order = 2 runs in one process: its unrolled steps are not averaged over ranks"
            );
        }
        Ok(Self { game, g, d, train: s.train.clone(), g_ema, unrolled, d_with, z_dim: model.z_dim() })
    }

    /// Applies `augment` to what D sees from now on (what a run's `[augment]` does at build).
    pub fn augment_with(&mut self, augment: &crate::config::AugmentConfig) {
        self.game.augment_with(augment);
    }

    fn noise(&self, n: i64) -> Tensor {
        gantry_core::parallel::randn(&[n, self.z_dim], (Kind::Float, self.game.device))
    }

    /// `x` as D sees it this step (see [`perturbed`]).
    fn perturb(&self, x: &Tensor) -> Tensor {
        perturbed(&self.game, &self.train, x)
    }

    /// G's loss against the unrolled copy of D: copy D and its optimiser state, take `steps`
    /// adversarial D updates on `real` and fresh fakes, then evaluate G's fakes there.
    fn unrolled_d_out(&mut self, u_fake: &Tensor, real: &Tensor) -> Option<Tensor> {
        let u = self.unrolled.as_mut()?;
        tch::no_grad(|| {
            for (t, src) in &u.pairs {
                t.shallow_clone().copy_(src);
            }
        });
        u.opt.copy_state_from(self.game.nets.opt(self.game.d));
        let b = real.size()[0];
        for _ in 0..u.steps {
            let z = gantry_core::parallel::randn(&[b, self.z_dim], (Kind::Float, self.game.device));
            let fake = tch::no_grad(|| self.g.forward_t(&z, true));
            let (game, train) = (&self.game, &self.train);
            let loss = game.loss.d_loss(
                &u.d.forward_t(&perturbed(game, train, real), true),
                &u.d.forward_t(&perturbed(game, train, &fake), true),
            );
            u.opt.backward_step(&loss);
        }
        Some(u.d.forward_t(u_fake, true))
    }

    /// The second-order unrolled GAN (Metz et al. 2017, eq. 3–4): D's parameters θ⁰ (constants
    /// for G) advanced `train.unroll` differentiable Adam steps from D's optimiser state, each on
    /// `real` and fresh fakes *with* gradient into G, so that θᴷ is a function of G's parameters;
    /// D at θᴷ on `u_fake` (and on `real_in` for relativistic losses). G's gradient then flows
    /// through every unrolled update (a double backward through the optimiser). The draws are
    /// the first-order form's, and so are θᴷ's values.
    fn unrolled_second_order(
        &self,
        u_fake: &Tensor,
        real: &Tensor,
        real_in: Option<&Tensor>,
    ) -> Option<(Tensor, Option<Tensor>)> {
        let (f, u) = (self.d_with.as_ref()?, self.unrolled.as_ref()?);
        let opt = self.game.nets.opt(self.game.d);
        let names = opt.names();
        let (m0, v0, step) = opt.moments();
        let mut theta: Vec<Tensor> =
            opt.params().iter().map(|p| p.detach().set_requires_grad(true)).collect();
        let (mut m, mut v): (Vec<Tensor>, Vec<Tensor>) =
            (m0.iter().map(Tensor::shallow_clone).collect(), v0.iter().map(Tensor::shallow_clone).collect());
        let d_at = |x: &Tensor, theta: &[Tensor]| {
            let param =
                |n: &str| theta[names.iter().position(|k| k == n).expect("a parameter of D")].shallow_clone();
            f(x, &param).expect("a functional D (checked at validation)")
        };
        let b = real.size()[0];
        let real_seen = perturbed(&self.game, &self.train, real);
        for k in 0..u.steps {
            let z = gantry_core::parallel::randn(&[b, self.z_dim], (Kind::Float, self.game.device));
            let fake = perturbed(&self.game, &self.train, &self.g.forward_t(&z, true));
            let loss = self.game.loss.d_loss(&d_at(&real_seen, &theta), &d_at(&fake, &theta));
            let grads = Tensor::run_backward(&[loss], &theta, true, true);
            (theta, m, v) =
                gantry_core::optim::adam_step(&opt.config, &theta, &grads, &m, &v, step + k as i64);
        }
        Some((d_at(u_fake, &theta), real_in.map(|r| d_at(r, &theta))))
    }

    /// The generator used for samples: the EMA copy when there is one.
    fn sampling_g(&self) -> &dyn ModuleT {
        self.g_ema.as_ref().unwrap_or(&self.g).as_ref()
    }

    fn d_step(&mut self, real: &Batch, k: u64) -> Scalars {
        let real = &real.images;
        let b = real.size()[0];
        let z = self.noise(b);
        let fake = tch::no_grad(|| self.g.forward_t(&z, true)); // [B, ...], no graph into G
        let (real, fake) = (self.perturb(real), self.perturb(&fake));
        // Real and fake go through D as separate batches (separate BatchNorm statistics), as in
        // the DCGAN reference implementation.
        let real_out = self.d.forward_t(&real, true); // [B]
        let fake_out = self.d.forward_t(&fake, true); // [B]
        let adv = self.game.loss.d_loss(&real_out, &fake_out);
        let d = &self.d;
        let critic = |x: &Tensor| d.forward_t(x, true);
        let reg = self.game.penalties(&critic, &real, &fake, k);
        let mut out = self.game.d_update(&adv, &reg, &real_out, &fake_out);
        let mean = |t: &Tensor| t.mean(Kind::Float).double_value(&[]);
        if self.game.loss.uses_logits() {
            out.push(("p_real", mean(&real_out.sigmoid())));
            out.push(("p_fake", mean(&fake_out.sigmoid())));
        }
        out
    }

    fn g_step(&mut self, real: &Batch) -> Scalars {
        let real = &real.images;
        let b = real.size()[0];
        let z = self.noise(b);
        let fake = self.perturb(&self.g.forward_t(&z, true));
        let real_in = self.game.loss.g_needs_real().then(|| self.perturb(real));
        let (fake_out, real_out) = match self.unrolled_second_order(&fake, real, real_in.as_ref()) {
            Some(outs) => outs,
            None => {
                let fake_out = match self.unrolled_d_out(&fake, real) {
                    Some(out) => out,
                    None => self.d.forward_t(&fake, true),
                };
                let d = match &self.unrolled {
                    Some(u) => u.d.as_ref(),
                    None => self.d.as_ref(),
                };
                (fake_out, real_in.map(|r| d.forward_t(&r, true)))
            }
        };
        let loss = self.game.loss.g_loss(&fake_out, real_out.as_ref());
        // Differentiates w.r.t. G's parameters only: D's weight gradients are never computed.
        self.game.g_update(&loss);
        let mut out = vec![("g_loss", loss.double_value(&[]))];
        if let Some(beta) = self.game.update_ema(b) {
            out.push(("ema_beta", beta));
        }
        if self.train.instance_noise > 0.0 {
            out.push(("instance_noise", self.train.instance_noise_at(self.game.g_steps())));
        }
        out
    }
}

impl Family for GanFamily {
    game_phases!();

    fn sampler(&self) -> Option<&dyn Sampler> {
        Some(self)
    }
}

impl Sampler for GanFamily {
    fn z_dim(&self) -> i64 {
        self.z_dim
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        tch::no_grad(|| self.sampling_g().forward_t(&z.to_device(self.game.device), false))
    }
}

fn dcgan_train() -> GanTrain {
    GanTrain::plain(AdamConfig::dcgan(), AdamConfig::dcgan())
}

fn dcgan(loss: LossChoice, model: DcganConfig, train: GanTrain) -> FamilyConfig {
    FamilyConfig::new(DcganRun { loss, reg: Penalties::default(), model, train })
}

/// DCGAN on MNIST padded to 32×32, by default the embedded 5k digits: the demo.
pub fn dcgan_mnist() -> RunConfig {
    let family = dcgan(LossChoice::NonSaturating, DcganConfig::mnist(), dcgan_train());
    RunConfig { eval: features("mnist"), ..base("dcgan-mnist", "mnist-5k", (64, 5000), family) }
}

/// SN-DCGAN on MNIST (Miyato et al. 2018): spectrally normalised D without BatchNorm, hinge loss,
/// the TTUR Adam pair (β1 = 0, β2 = 0.9, lr_G 1e-4, lr_D 4e-4), and an EMA generator.
fn sngan_mnist() -> RunConfig {
    let (g_opt, d_opt) = AdamConfig::ttur();
    let train = TrainConfig {
        ema: EmaConfig { half_life_kimg: 10.0, rampup: 0.05 },
        ..TrainConfig::plain(g_opt, d_opt)
    };
    RunConfig {
        preset: "sngan-mnist".into(),
        family: dcgan(
            LossChoice::Hinge,
            DcganConfig { d_norm: DNorm::Spectral, ..DcganConfig::mnist() },
            train.into(),
        ),
        ..dcgan_mnist()
    }
}

/// WGAN-GP on MNIST (Gulrajani et al. 2017, Algorithm 1): λ = 10, n_critic = 5, Adam(1e-4, 0, 0.9),
/// a critic without BatchNorm.
fn wgan_gp_mnist() -> RunConfig {
    let adam = AdamConfig::wgan_gp();
    RunConfig {
        preset: "wgan-gp-mnist".into(),
        family: dcgan(
            LossChoice::WganGp,
            DcganConfig { d_norm: DNorm::None, ..DcganConfig::mnist() },
            TrainConfig { d_steps: 5, ..TrainConfig::plain(adam, adam) }.into(),
        ),
        ..dcgan_mnist()
    }
}

/// DCGAN on CIFAR-10 (binary version), 32×32×3.
fn dcgan_cifar10() -> RunConfig {
    RunConfig {
        preset: "dcgan-cifar10".into(),
        data: "cifar10".into(),
        steps: 30_000,
        family: dcgan(LossChoice::NonSaturating, DcganConfig::cifar10(), dcgan_train()),
        loader: loader(true),
        log: LogConfig { every: 100, sample_every: 1000, checkpoint_every: 5000, ..Default::default() },
        eval: EvalConfig::default(),
        ..dcgan_mnist()
    }
}

/// The paper's 64×64 DCGAN on any image folder; by default the ORL faces (grey). The network and
/// its training are PyTorch's `examples/dcgan` (no biases, widths 64, z 100, batch 64, Adam 2e-4
/// with β1 = 0.5, BCE), which `tests/parity.rs` follows step for step.
fn dcgan_64() -> RunConfig {
    let model = DcganConfig { channels: 0, g_width: 64, d_width: 64, bias: false, ..DcganConfig::default() };
    RunConfig {
        preset: "dcgan-64".into(),
        data: "orl-faces".into(),
        steps: 5000,
        family: dcgan(LossChoice::NonSaturating, model, dcgan_train()),
        loader: loader(false),
        log: LogConfig { every: 50, sample_every: 500, checkpoint_every: 1000, ..Default::default() },
        eval: EvalConfig::default(),
        ..dcgan_mnist()
    }
}

/// MLP GAN on the ring of 8 Gaussians (Metz et al. 2017's setting: Adam 1e-4, β1 = 0.5).
fn toy_ring() -> RunConfig {
    let adam = AdamConfig { lr: 1e-4, beta1: 0.5, beta2: 0.999, ..Default::default() };
    let family = FamilyConfig::new(MlpRun {
        loss: LossChoice::NonSaturating,
        reg: Penalties::default(),
        model: MlpConfig::default(),
        train: GanTrain::plain(adam, adam),
    });
    RunConfig {
        log: LogConfig { every: 100, sample_every: 1000, grid: 1024, ..Default::default() },
        ..base("toy-ring", "ring", (256, 5000), family)
    }
}

/// The DCGAN presets.
pub const DCGAN_PRESETS: &[Preset] = &[
    Preset {
        name: "dcgan-mnist",
        summary:
            "DCGAN, MNIST padded to 32x32x1, embedded 5k digits (--set data=mnist for all 60k); the demo",
        build: dcgan_mnist,
    },
    Preset {
        name: "sngan-mnist",
        summary: "SN-DCGAN on MNIST: spectral-norm D, hinge loss, TTUR (lr 1e-4 / 4e-4, betas 0, 0.9), EMA G",
        build: sngan_mnist,
    },
    Preset {
        name: "wgan-gp-mnist",
        summary: "WGAN-GP on MNIST: critic without BN, lambda 10, n_critic 5, Adam(1e-4, 0, 0.9)",
        build: wgan_gp_mnist,
    },
    Preset {
        name: "dcgan-cifar10",
        summary: "DCGAN, CIFAR-10 32x32x3 (binary version; data=cifar10-jpg for the JPEG mirror)",
        build: dcgan_cifar10,
    },
    Preset {
        name: "dcgan-64",
        summary: "DCGAN at 64x64 as PyTorch's examples/dcgan, on an image folder (default: ORL faces; data=PATH for yours)",
        build: dcgan_64,
    },
];

/// The MLP presets.
pub const MLP_PRESETS: &[Preset] = &[Preset {
    name: "toy-ring",
    summary: "MLP GAN on the ring of 8 Gaussians (data=grid for the 5x5 grid)",
    build: toy_ring,
}];

/// `x` as D sees it: augmented ([`Game::seen`]), then with this step's instance noise added (none
/// when it is off or annealed away). The D steps and the unrolled copy's steps both see this.
fn perturbed(game: &Game, train: &GanTrain, x: &Tensor) -> Tensor {
    let x = game.seen(x);
    let sigma = train.instance_noise_at(game.g_steps());
    if sigma > 0.0 {
        &x + gantry_core::parallel::randn_like(&x) * sigma
    } else {
        x
    }
}
