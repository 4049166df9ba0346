//! Recipes: what one training step means for a family of models. The loop in [`crate::train`]
//! drives a [`Recipe`] (D steps, G step, samples, state to save) and owns everything else.

use anyhow::Result;
use gantry_core::checkpoint::Checkpoint;
use gantry_core::optim::Adam;
use gantry_losses::{penalty, AdversarialLoss};
use gantry_nn::Ema;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

use crate::config::{Constraint, LossChoice, ModelConfig, RegConfig, TrainConfig};

/// Named scalars a step reports (averaged by the loop into `metrics.jsonl`).
pub type Scalars = Vec<(&'static str, f64)>;

/// A real batch: samples `[B, ...]` and, for labelled data, their classes `[B]` (i64).
#[derive(Debug)]
pub struct Real {
    pub images: Tensor,
    pub labels: Option<Tensor>,
}

impl Real {
    /// An unlabelled batch.
    pub fn unlabelled(images: Tensor) -> Self {
        Self { images, labels: None }
    }
}

/// One family's training step.
pub trait Recipe {
    /// Discriminator update number `k` (counted over the whole run, from 0) on a real batch.
    /// `k` schedules lazy regularisation, so a resumed run schedules it identically.
    fn d_step(&mut self, real: &Real, k: u64) -> Scalars;
    /// One generator update with as many fresh latents as `real` has samples; `real` is the last
    /// real batch (relativistic losses compare against it).
    fn g_step(&mut self, real: &Real) -> Scalars;
    /// G's output for latents `[N, z_dim]` in eval mode, without touching any training state.
    /// Conditional models draw sample i with class i mod K (InfoGAN: categorical code i mod K,
    /// continuous codes 0).
    fn generate(&self, z: &Tensor) -> Tensor;
    /// Latent dimension.
    fn z_dim(&self) -> i64;
    /// Trainable parameters of (G, D).
    fn parameter_counts(&self) -> (i64, i64);
    /// Number of classes of a class-conditional model (or of InfoGAN's categorical code).
    fn classes(&self) -> Option<i64> {
        None
    }
    /// G's output for latents `[N, z_dim]` and classes `[N]` (class-conditional models; InfoGAN:
    /// the categorical code, continuous codes 0).
    fn generate_class(&self, _z: &Tensor, _classes: &Tensor) -> Result<Tensor> {
        anyhow::bail!("this model is not conditional: it takes no class")
    }
    /// InfoGAN: G's output for noise `[N, z_dim]`, categorical codes `[N]` and continuous codes
    /// `[N, C]`.
    fn generate_codes(&self, _z: &Tensor, _cat: &Tensor, _cont: &Tensor) -> Result<Tensor> {
        anyhow::bail!("this model has no latent codes (only InfoGAN has)")
    }
    /// InfoGAN: (categorical values, continuous codes).
    fn codes(&self) -> Option<(i64, i64)> {
        None
    }
    /// Whether ψ truncates in W (StyleGAN) rather than shrinking z.
    fn truncates_in_w(&self) -> bool {
        false
    }
    /// StyleGAN: G's output for latents `[N, z_dim]` truncated in W, `w̄ + ψ·(w − w̄)` for the
    /// first `cutoff` ws (all when None).
    fn generate_psi(&self, _z: &Tensor, _psi: f64, _cutoff: Option<i64>) -> Result<Tensor> {
        anyhow::bail!("truncation in W needs a StyleGAN model")
    }
    /// Writes the full training state (networks, optimisers) into `ck`.
    fn save(&self, ck: &mut Checkpoint);
    /// Restores the full training state.
    fn load(&mut self, ck: &Checkpoint) -> Result<()>;
    /// Restores the generator only (for sampling).
    fn load_generator(&mut self, ck: &Checkpoint) -> Result<()>;
}

/// The gradient penalty of a `wgan-gp*` loss plus the R1, R2 and DRAGAN terms of `reg`, applied
/// lazily (Karras et al. 2020: every `reg.every` D steps, scaled by it) for D update `k`, with
/// `critic` the discriminator as a function of its input.
pub fn penalties(
    constraint: Constraint,
    reg: &RegConfig,
    critic: &dyn Fn(&Tensor) -> Tensor,
    real: &Tensor,
    fake: &Tensor,
    k: u64,
) -> Tensor {
    let mut total = Tensor::zeros([], (Kind::Float, real.device()));
    if let Constraint::GradientPenalty(side) = constraint {
        total += penalty::gradient_penalty(critic, real, fake, side) * reg.gp;
    }
    let every = reg.every.max(1);
    if k % every == 0 {
        let scale = every as f64;
        if reg.r1 > 0.0 {
            total += penalty::r1_penalty(critic, real, reg.r1) * scale;
        }
        if reg.r2 > 0.0 {
            total += penalty::r2_penalty(critic, fake, reg.r2) * scale;
        }
        if reg.dragan > 0.0 {
            total += penalty::dragan_penalty(critic, real) * (reg.dragan * scale);
        }
    }
    total
}

/// Number of trainable scalars in `vs`.
pub fn trainable(vs: &VarStore) -> i64 {
    vs.trainable_variables().iter().map(Tensor::numel).sum::<usize>() as i64
}

/// The pieces the conditional and StyleGAN recipes share: both stores, optimisers, the loss and
/// penalties, saving and loading.
pub(crate) struct Core {
    pub(crate) vs_g: VarStore,
    pub(crate) vs_d: VarStore,
    pub(crate) opt_g: Adam,
    pub(crate) opt_d: Adam,
    pub(crate) loss: AdversarialLoss,
    pub(crate) constraint: Constraint,
    pub(crate) reg: RegConfig,
    pub(crate) device: Device,
    /// G's moving average (`train.ema`), bound to `vs_g`; saved as `g_ema`.
    pub(crate) ema: Option<Ema>,
    /// A recipe's own state besides the networks (StyleGAN2's path length mean, ProGAN's stage),
    /// saved as `aux` when it holds anything and loaded with G (sampling may need it).
    pub(crate) aux: VarStore,
}

/// The [`Recipe`] methods of a recipe whose state is its `core` field ([`Core`]): parameter
/// counts, saving, loading, loading G.
macro_rules! core_state_methods {
    () => {
        fn parameter_counts(&self) -> (i64, i64) {
            self.core.parameter_counts()
        }

        fn save(&self, ck: &mut gantry_core::checkpoint::Checkpoint) {
            self.core.save(ck);
        }

        fn load(&mut self, ck: &gantry_core::checkpoint::Checkpoint) -> anyhow::Result<()> {
            self.core.load(ck)
        }

        fn load_generator(&mut self, ck: &gantry_core::checkpoint::Checkpoint) -> anyhow::Result<()> {
            self.core.load_generator(ck)
        }
    };
}
pub(crate) use core_state_methods;

impl Core {
    /// G and D on stores of their own, G's moving average when `train.ema` asks for one (a
    /// second G, bound to the first by the returned core's [`Ema`]), and the core over them:
    /// (core, G, D, EMA G). The networks are built in that order, the order libtorch's generator
    /// is drawn in.
    pub(crate) fn build<G, D>(
        loss: LossChoice,
        reg: &RegConfig,
        train: &TrainConfig,
        device: Device,
        build_g: impl Fn(tch::nn::Path) -> Result<G>,
        build_d: impl FnOnce(tch::nn::Path) -> Result<D>,
    ) -> Result<(Self, G, D, Option<G>)> {
        let (vs_g, vs_d) = (VarStore::new(device), VarStore::new(device));
        let g = build_g(vs_g.root())?;
        let d = build_d(vs_d.root())?;
        let (ema, g_ema) = if train.ema.enabled() {
            let vs = VarStore::new(device);
            let net = build_g(vs.root())?;
            (Some(Ema::new(train.ema, vs, &vs_g).map_err(anyhow::Error::msg)?), Some(net))
        } else {
            (None, None)
        };
        let opt_g = Adam::new(&vs_g, train.g_opt);
        let opt_d = Adam::new(&vs_d, train.d_opt);
        let core = Self {
            vs_g,
            vs_d,
            opt_g,
            opt_d,
            loss: loss.adversarial(),
            constraint: loss.constraint(),
            reg: reg.clone(),
            device,
            ema,
            aux: VarStore::new(device),
        };
        Ok((core, g, d, g_ema))
    }

    /// Trainable parameters of (G, D).
    pub(crate) fn parameter_counts(&self) -> (i64, i64) {
        (trainable(&self.vs_g), trainable(&self.vs_d))
    }

    fn has_aux(&self) -> bool {
        !self.aux.variables().is_empty()
    }

    /// The gradient penalty and lazy R1/R2/DRAGAN terms for a critic `d`.
    pub(crate) fn penalties(
        &self,
        d: &dyn Fn(&Tensor) -> Tensor,
        real: &Tensor,
        fake: &Tensor,
        k: u64,
    ) -> Tensor {
        crate::recipe::penalties(self.constraint, &self.reg, d, real, fake, k)
    }

    /// D's update, weight clipping included; the usual scalars.
    pub(crate) fn d_update(
        &mut self,
        adv: &Tensor,
        extra: &Tensor,
        real_out: &Tensor,
        fake_out: &Tensor,
    ) -> Scalars {
        // ProGAN's drift term needs D's real scores, which only this point has for every recipe.
        let extra = match self.reg.drift {
            e if e > 0.0 => extra + penalty::drift_penalty(real_out, e),
            _ => extra.shallow_clone(),
        };
        self.opt_d.backward_step(&(adv + &extra));
        if self.constraint == Constraint::Clip {
            penalty::clip_weights(&self.vs_d, self.reg.clip);
        }
        let mean = |t: &Tensor| t.mean(Kind::Float).double_value(&[]);
        vec![
            ("d_loss", adv.double_value(&[])),
            ("d_reg", extra.double_value(&[])),
            ("d_real", mean(real_out)),
            ("d_fake", mean(fake_out)),
        ]
    }

    pub(crate) fn images_seen(&self, batch: i64) -> u64 {
        self.opt_g.steps() as u64 * batch as u64
    }

    /// Moves the EMA after a G step on `batch` images; its β (None without EMA).
    pub(crate) fn update_ema(&self, batch: i64) -> Option<f64> {
        let e = self.ema.as_ref()?;
        let seen = self.images_seen(batch);
        e.update(batch as usize, seen);
        Some(e.config.beta(batch as usize, seen))
    }

    pub(crate) fn save(&self, ck: &mut Checkpoint) {
        ck.insert_varstore("g", &self.vs_g);
        ck.insert_varstore("d", &self.vs_d);
        if let Some(e) = &self.ema {
            ck.insert_varstore("g_ema", &e.vs);
        }
        self.opt_g.save_state("opt_g", ck);
        self.opt_d.save_state("opt_d", ck);
        if self.has_aux() {
            ck.insert_varstore("aux", &self.aux);
        }
    }

    pub(crate) fn load(&mut self, ck: &Checkpoint) -> Result<()> {
        ck.load_varstore("g", &self.vs_g)?;
        ck.load_varstore("d", &self.vs_d)?;
        if let Some(e) = &self.ema {
            ck.load_varstore("g_ema", &e.vs)?;
        }
        self.opt_g.load_state("opt_g", ck)?;
        self.opt_d.load_state("opt_d", ck)?;
        if self.has_aux() {
            ck.load_varstore("aux", &self.aux)?;
        }
        Ok(())
    }

    pub(crate) fn load_generator(&self, ck: &Checkpoint) -> Result<()> {
        ck.load_varstore("g", &self.vs_g)?;
        if let Some(e) = &self.ema {
            ck.load_varstore("g_ema", &e.vs)?;
        }
        if self.has_aux() {
            ck.load_varstore("aux", &self.aux)?;
        }
        Ok(())
    }
}

/// The recipe a run's model needs: [`GanRecipe`] for DCGAN and the MLPs,
/// [`crate::cond_recipe::CondRecipe`] for class-conditional models,
/// [`crate::cond_recipe::InfoRecipe`] for InfoGAN. Seed libtorch's generator first.
pub fn build(
    model: &ModelConfig,
    loss: LossChoice,
    reg: &RegConfig,
    train: &TrainConfig,
    device: Device,
) -> Result<Box<dyn Recipe>> {
    Ok(match model {
        ModelConfig::Dcgan(_) | ModelConfig::Mlp(_) => {
            Box::new(GanRecipe::new(model, loss, reg, train, device)?)
        }
        ModelConfig::Cond(c) => Box::new(crate::cond_recipe::CondRecipe::new(c, loss, reg, train, device)?),
        ModelConfig::Infogan(c) => {
            Box::new(crate::cond_recipe::InfoRecipe::new(c, loss, reg, train, device)?)
        }
        ModelConfig::Stylegan2(c) => {
            Box::new(crate::stylegan_recipe::StyleRecipe::new(c, loss, reg, train, device)?)
        }
        ModelConfig::Progan(c) => {
            Box::new(crate::progan_recipe::ProganRecipe::new(c, loss, reg, train, device)?)
        }
    })
}

/// G or D of an architecture, on `p`.
fn build_net(model: &ModelConfig, p: tch::nn::Path, generator: bool) -> Result<Box<dyn ModuleT>> {
    Ok(match model {
        ModelConfig::Dcgan(c) => {
            c.validate()?;
            if generator {
                Box::new(gantry_dcgan::dcgan::generator(p, c))
            } else {
                Box::new(gantry_dcgan::dcgan::discriminator(p, c))
            }
        }
        ModelConfig::Mlp(c) => {
            c.validate()?;
            if generator {
                Box::new(gantry_dcgan::mlp::generator(p, c))
            } else {
                Box::new(gantry_dcgan::mlp::discriminator(p, c))
            }
        }
        other => anyhow::bail!("GanRecipe serves dcgan and mlp models, not {}", other.arch()),
    })
}

/// The copy of D that unrolled GANs advance before G's step, with its optimiser.
struct Unrolled {
    /// (copy's variable, D's variable), matched by name once.
    pairs: Vec<(Tensor, Tensor)>,
    d: Box<dyn ModuleT>,
    opt: Adam,
    steps: u32,
}

/// An unconditional GAN: G(z) against D(x) → logit, with an adversarial loss and one Adam each,
/// and the stabilisers of [`TrainConfig`] (EMA, unrolling, instance noise). Serves DCGAN and the
/// toy MLPs.
pub struct GanRecipe {
    core: Core,
    g: Box<dyn ModuleT>,
    d: Box<dyn ModuleT>,
    train: TrainConfig,
    /// The averaged generator (draws the samples).
    g_ema: Option<Box<dyn ModuleT>>,
    unrolled: Option<Unrolled>,
    z_dim: i64,
}

impl GanRecipe {
    /// Builds the networks on `device` (their initial weights come from libtorch's generator:
    /// seed it first). `model` must be resolved (DCGAN channels ≥ 1).
    pub fn new(
        model: &ModelConfig,
        loss: LossChoice,
        reg: &RegConfig,
        train: &TrainConfig,
        device: Device,
    ) -> Result<Self> {
        let (core, g, d, g_ema) = Core::build(
            loss,
            reg,
            train,
            device,
            |p| build_net(model, p, true),
            |p| build_net(model, p, false),
        )?;
        let unrolled = if train.unroll > 0 {
            let vs = VarStore::new(device);
            let d = build_net(model, vs.root(), false)?;
            let opt = Adam::new(&vs, train.d_opt);
            let from = core.vs_d.variables();
            let pairs =
                vs.variables().into_iter().map(|(name, t)| (t, from[&name].shallow_clone())).collect();
            Some(Unrolled { pairs, d, opt, steps: train.unroll })
        } else {
            None
        };
        Ok(Self { core, g, d, train: train.clone(), g_ema, unrolled, z_dim: model.z_dim() })
    }

    fn noise(&self, n: i64) -> Tensor {
        Tensor::randn([n, self.z_dim], (Kind::Float, self.core.device))
    }

    /// `x` with this step's instance noise added (unchanged when it is off or annealed away).
    fn perturb(&self, x: &Tensor) -> Tensor {
        let sigma = self.train.instance_noise_at(self.core.opt_g.steps() as u64);
        if sigma > 0.0 {
            x + x.randn_like() * sigma
        } else {
            x.shallow_clone()
        }
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
        u.opt.copy_state_from(&self.core.opt_d);
        let b = real.size()[0];
        for _ in 0..u.steps {
            let z = Tensor::randn([b, self.z_dim], (Kind::Float, self.core.device));
            let fake = tch::no_grad(|| self.g.forward_t(&z, true));
            let sigma = self.train.instance_noise_at(self.core.opt_g.steps() as u64);
            let noisy = |x: &Tensor| if sigma > 0.0 { x + x.randn_like() * sigma } else { x.shallow_clone() };
            let loss = self
                .core
                .loss
                .d_loss(&u.d.forward_t(&noisy(real), true), &u.d.forward_t(&noisy(&fake), true));
            u.opt.backward_step(&loss);
        }
        Some(u.d.forward_t(u_fake, true))
    }

    /// The generator used for samples: the EMA copy when there is one.
    fn sampler(&self) -> &dyn ModuleT {
        self.g_ema.as_ref().unwrap_or(&self.g).as_ref()
    }
}

impl Recipe for GanRecipe {
    fn d_step(&mut self, real: &Real, k: u64) -> Scalars {
        let real = &real.images;
        let b = real.size()[0];
        let z = self.noise(b);
        let fake = tch::no_grad(|| self.g.forward_t(&z, true)); // [B, ...], no graph into G
        let (real, fake) = (self.perturb(real), self.perturb(&fake));
        // Real and fake go through D as separate batches (separate BatchNorm statistics), as in
        // the DCGAN reference implementation.
        let real_out = self.d.forward_t(&real, true); // [B]
        let fake_out = self.d.forward_t(&fake, true); // [B]
        let adv = self.core.loss.d_loss(&real_out, &fake_out);
        let d = &self.d;
        let critic = |x: &Tensor| d.forward_t(x, true);
        let reg = self.core.penalties(&critic, &real, &fake, k);
        let mut out = self.core.d_update(&adv, &reg, &real_out, &fake_out);
        let mean = |t: &Tensor| t.mean(Kind::Float).double_value(&[]);
        if self.core.loss.uses_logits() {
            out.push(("p_real", mean(&real_out.sigmoid())));
            out.push(("p_fake", mean(&fake_out.sigmoid())));
        }
        out
    }

    fn g_step(&mut self, real: &Real) -> Scalars {
        let real = &real.images;
        let b = real.size()[0];
        let z = self.noise(b);
        let fake = self.perturb(&self.g.forward_t(&z, true));
        let real_in = self.core.loss.g_needs_real().then(|| self.perturb(real));
        let fake_out = match self.unrolled_d_out(&fake, real) {
            Some(out) => out,
            None => self.d.forward_t(&fake, true),
        };
        let d = match &self.unrolled {
            Some(u) => u.d.as_ref(),
            None => self.d.as_ref(),
        };
        let real_out = real_in.map(|r| d.forward_t(&r, true));
        let loss = self.core.loss.g_loss(&fake_out, real_out.as_ref());
        // Differentiates w.r.t. G's parameters only: D's weight gradients are never computed.
        self.core.opt_g.backward_step(&loss);
        let mut out = vec![("g_loss", loss.double_value(&[]))];
        if let Some(beta) = self.core.update_ema(b) {
            out.push(("ema_beta", beta));
        }
        if self.train.instance_noise > 0.0 {
            out.push(("instance_noise", self.train.instance_noise_at(self.core.opt_g.steps() as u64)));
        }
        out
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        tch::no_grad(|| self.sampler().forward_t(&z.to_device(self.core.device), false))
    }

    fn z_dim(&self) -> i64 {
        self.z_dim
    }

    core_state_methods!();
}
