//! What the GAN families share: the objective ([`LossChoice`]: an adversarial loss and the
//! Lipschitz constraint it brings), the discriminator's penalties ([`Penalties`]), the
//! optimisation settings ([`TrainConfig`]), and the G/D pair itself ([`Game`]: both networks on
//! stores of their own with their Adams, G's EMA, D's update with penalties and clipping).

use crate::error::{bail, Result};
use gantry_core::optim::AdamConfig;
use gantry_losses::{penalty, AdversarialLoss, GpSide};
use gantry_nn::{Ema, EmaConfig};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::config::AugmentConfig;
use crate::family::{NetId, Networks, Phase, Scalars};

/// A named objective: an adversarial loss and the Lipschitz constraint it comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossChoice {
    /// The original minimax game (Goodfellow et al. 2014): G minimises E log(1 − D(G(z))).
    Minimax,
    /// The non-saturating GAN loss (Goodfellow et al. 2014, §3): G maximises E log D(G(z)).
    NonSaturating,
    /// Least-squares GAN (Mao et al. 2017): targets 1 for real and 0 for fake.
    Lsgan,
    /// Hinge loss with margin 1 (Lim & Ye 2017; SNGAN, BigGAN).
    Hinge,
    /// Relativistic average standard GAN (Jolicoeur-Martineau 2018).
    Ragan,
    /// Wasserstein loss without a built-in constraint.
    Wgan,
    /// Wasserstein loss + weight clipping to [−reg.clip, reg.clip] (Arjovsky et al. 2017).
    WganClip,
    /// Wasserstein loss + reg.gp × two-sided gradient penalty (Gulrajani et al. 2017).
    WganGp,
    /// Wasserstein loss + reg.gp × one-sided gradient penalty.
    WganGpOneSided,
}

/// The constraint a [`LossChoice`] brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// No constraint from the objective (a network may still bring its own, e.g. spectral norm).
    None,
    /// Weight clipping of D's parameters to [−reg.clip, reg.clip] after each D update.
    Clip,
    /// A gradient penalty, two- or one-sided, weighted by reg.gp.
    GradientPenalty(GpSide),
}

impl LossChoice {
    /// Every objective.
    pub const ALL: &'static [LossChoice] = &[
        LossChoice::Minimax,
        LossChoice::NonSaturating,
        LossChoice::Lsgan,
        LossChoice::Hinge,
        LossChoice::Ragan,
        LossChoice::Wgan,
        LossChoice::WganClip,
        LossChoice::WganGp,
        LossChoice::WganGpOneSided,
    ];

    /// The name configs use.
    pub fn name(self) -> &'static str {
        match self {
            LossChoice::Minimax => "minimax",
            LossChoice::NonSaturating => "non-saturating",
            LossChoice::Lsgan => "lsgan",
            LossChoice::Hinge => "hinge",
            LossChoice::Ragan => "ragan",
            LossChoice::Wgan => "wgan",
            LossChoice::WganClip => "wgan-clip",
            LossChoice::WganGp => "wgan-gp",
            LossChoice::WganGpOneSided => "wgan-gp-one-sided",
        }
    }

    /// The adversarial loss function.
    pub fn adversarial(self) -> AdversarialLoss {
        match self {
            LossChoice::Minimax => AdversarialLoss::Minimax,
            LossChoice::NonSaturating => AdversarialLoss::NonSaturating,
            LossChoice::Lsgan => AdversarialLoss::Lsgan,
            LossChoice::Hinge => AdversarialLoss::Hinge,
            LossChoice::Ragan => AdversarialLoss::Ragan,
            LossChoice::Wgan | LossChoice::WganClip | LossChoice::WganGp | LossChoice::WganGpOneSided => {
                AdversarialLoss::Wasserstein
            }
        }
    }

    /// The constraint on the critic.
    pub fn constraint(self) -> Constraint {
        match self {
            LossChoice::WganClip => Constraint::Clip,
            LossChoice::WganGp => Constraint::GradientPenalty(GpSide::TwoSided),
            LossChoice::WganGpOneSided => Constraint::GradientPenalty(GpSide::OneSided),
            _ => Constraint::None,
        }
    }
}

/// The factor that turns gantry's per-term loss into the pix2pix/CycleGAN authors' `GANLoss`:
/// 2 for LSGAN (gantry's terms are ½(D − 1)² and ½D², theirs the mean squared error), 1 for the
/// others (theirs is the same binary cross-entropy). The translation families scale G's
/// adversarial term by it and D's loss by half of it (the authors halve D's loss).
pub fn authors_scale(loss: AdversarialLoss) -> f64 {
    if loss == AdversarialLoss::Lsgan {
        2.0
    } else {
        1.0
    }
}

/// Regularisation of the discriminator (`[reg]`). Weights of 0 turn a term off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Penalties {
    /// λ of the gradient penalty of `wgan-gp` / `wgan-gp-one-sided` (the paper: 10).
    pub gp: f64,
    /// c of `wgan-clip`'s weight clipping (the paper: 0.01).
    pub clip: f64,
    /// γ of R1, γ/2·E‖∇D(x)‖² on reals (StyleGAN2: 10 at 1024², less at low resolution).
    pub r1: f64,
    /// γ of R2, the same on fakes.
    pub r2: f64,
    /// λ of DRAGAN's penalty around the data (the paper: 10).
    pub dragan: f64,
    /// Lazy regularisation: R1, R2 and DRAGAN are applied every this many D steps, scaled by it
    /// (Karras et al. 2020: 16).
    pub every: u64,
    /// ε of ProGAN's drift term ε·E[D(x)²] on the critic's real scores (the paper: 0.001; 0 = off).
    #[serde(default)]
    pub drift: f64,
}

impl Default for Penalties {
    fn default() -> Self {
        Self { gp: 10.0, clip: 0.01, r1: 0.0, r2: 0.0, dragan: 0.0, every: 1, drift: 0.0 }
    }
}

impl Penalties {
    /// Finite, non-negative weights; a clipping bound for `wgan-clip`.
    pub fn validate(&self, loss: LossChoice) -> Result<()> {
        validate_nonnegative(&[
            ("reg.gp", self.gp),
            ("reg.clip", self.clip),
            ("reg.r1", self.r1),
            ("reg.r2", self.r2),
            ("reg.dragan", self.dragan),
            ("reg.drift", self.drift),
        ])?;
        if self.every == 0 {
            bail!("invalid reg.every: expected ≥ 1, found 0");
        }
        if loss == LossChoice::WganClip && self.clip <= 0.0 {
            bail!("invalid reg.clip: wgan-clip needs a clipping bound > 0, found {}", self.clip);
        }
        Ok(())
    }

    /// The gradient penalty of a `wgan-gp*` `constraint` plus the R1, R2 and DRAGAN terms,
    /// applied lazily (Karras et al. 2020: every `every` D steps, scaled by it) for D update `k`,
    /// with `critic` the discriminator as a function of its input.
    pub fn total(
        &self,
        constraint: Constraint,
        critic: &dyn Fn(&Tensor) -> Tensor,
        real: &Tensor,
        fake: &Tensor,
        k: u64,
    ) -> Tensor {
        let mut total = Tensor::zeros([], (Kind::Float, real.device()));
        if let Constraint::GradientPenalty(side) = constraint {
            let eps =
                gantry_core::parallel::rand(&penalty::per_sample_shape(real), (real.kind(), real.device()));
            total += penalty::gradient_penalty_at(critic, real, fake, &eps, side) * self.gp;
        }
        let every = self.every.max(1);
        if k.is_multiple_of(every) {
            let scale = every as f64;
            if self.r1 > 0.0 {
                total += penalty::r1_penalty(critic, real, self.r1) * scale;
            }
            if self.r2 > 0.0 {
                total += penalty::r2_penalty(critic, fake, self.r2) * scale;
            }
            if self.dragan > 0.0 {
                let u = gantry_core::parallel::rand_like(real);
                let alpha = gantry_core::parallel::rand(
                    &penalty::per_sample_shape(real),
                    (real.kind(), real.device()),
                );
                total += penalty::dragan_penalty_at(critic, real, &u, &alpha) * (self.dragan * scale);
            }
        }
        total
    }
}

/// Optimisation of a G/D pair (`[train]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Discriminator steps per generator step (WGAN's n_critic).
    pub d_steps: u32,
    /// The generator's Adam (`train.g_opt`: lr, beta1, beta2, eps).
    pub g_opt: AdamConfig,
    /// The discriminator's Adam (`train.d_opt`).
    pub d_opt: AdamConfig,
    /// Moving average of G's weights, used for samples, evaluation and `gantry sample`
    /// (`half_life_kimg` = 0: off). See `gantry_nn::ema`.
    #[serde(default)]
    pub ema: EmaConfig,
}

impl TrainConfig {
    /// One D and one G step per iteration with the given optimisers, no EMA.
    pub fn plain(g_opt: AdamConfig, d_opt: AdamConfig) -> Self {
        Self { d_steps: 1, g_opt, d_opt, ema: EmaConfig::default() }
    }

    /// At least one D step, non-negative EMA settings and valid Adam settings; the error names
    /// the key.
    pub fn validate(&self) -> Result<()> {
        if self.d_steps == 0 {
            bail!("invalid train.d_steps: expected ≥ 1, found 0");
        }
        validate_nonnegative(&[
            ("train.ema.half_life_kimg", self.ema.half_life_kimg),
            ("train.ema.rampup", self.ema.rampup),
        ])?;
        validate_adams(&self.g_opt, &self.d_opt)
    }
}

/// Each value finite and ≥ 0 (weights, strengths); the error names the first key that is not.
pub fn validate_nonnegative(values: &[(&str, f64)]) -> Result<()> {
    match values.iter().find(|(_, v)| !(*v >= 0.0 && v.is_finite())) {
        Some((k, v)) => bail!("invalid {k}: expected a finite value ≥ 0, found {v}"),
        None => Ok(()),
    }
}

/// `train.g_opt` and `train.d_opt` of a G/D pair ([`validate_adam`]).
pub fn validate_adams(g_opt: &AdamConfig, d_opt: &AdamConfig) -> Result<()> {
    validate_adam("train.g_opt", g_opt)?;
    validate_adam("train.d_opt", d_opt)
}

/// lr > 0, β's in [0, 1), ε > 0; the error names `key`.
pub fn validate_adam(key: &str, o: &AdamConfig) -> Result<()> {
    if !(o.lr > 0.0 && (0.0..1.0).contains(&o.beta1) && (0.0..1.0).contains(&o.beta2) && o.eps > 0.0) {
        bail!("invalid {key}: expected lr > 0, 0 ≤ beta1, beta2 < 1, eps > 0; found {o:?}");
    }
    Ok(())
}

/// A G/D pair in training: `g`, `d` and (with `train.ema`) `g_ema` in [`Networks`], the
/// objective and D's penalties. The GAN families hold one and add their own networks to it.
#[derive(Debug)]
pub struct Game {
    /// The family's networks and optimisers: `g`, `d`, `g_ema` and any the family adds.
    pub nets: Networks,
    /// The generator, trained with `train.g_opt`.
    pub g: NetId,
    /// The discriminator (critic), trained with `train.d_opt`.
    pub d: NetId,
    /// G's moving average (`train.ema`), bound to `g`; saved as `g_ema`.
    pub ema: Option<Ema>,
    /// The adversarial loss of the run's objective (its `loss` key).
    pub loss: AdversarialLoss,
    /// The constraint on D that comes with the objective.
    pub constraint: Constraint,
    /// D's penalties (`[reg]`).
    pub reg: Penalties,
    /// Where the networks live.
    pub device: Device,
    /// `D` (× `train.d_steps`, each on a fresh batch), then `G` on D's last batch.
    pub phases: [Phase; 2],
    /// What D sees of every image (`[augment]`; none unless [`Game::augment_with`]).
    pub augment: crate::augment::Augment,
}

impl Game {
    /// G and D on stores of their own, G's moving average when `train.ema` asks for one (a second
    /// G, bound to the first), and the game over them: (game, G, D, EMA G). The networks are built
    /// in that order, the order libtorch's generator is drawn in.
    pub fn build<G, D>(
        loss: LossChoice,
        reg: &Penalties,
        train: &TrainConfig,
        device: Device,
        build_g: impl Fn(tch::nn::Path) -> Result<G>,
        build_d: impl FnOnce(tch::nn::Path) -> Result<D>,
    ) -> Result<(Self, G, D, Option<G>)> {
        let (vs_g, vs_d) = (VarStore::new(device), VarStore::new(device));
        let g = build_g(vs_g.root())?;
        let d = build_d(vs_d.root())?;
        let mut nets = Networks::new();
        let (ema, g_ema, vs_ema) = if train.ema.enabled() {
            let vs = VarStore::new(device);
            let net = build_g(vs.root())?;
            (Some(Ema::new(train.ema, &vs, &vs_g)?), Some(net), Some(vs))
        } else {
            (None, None, None)
        };
        let g_id = nets.trained("g", vs_g, train.g_opt, true);
        let d_id = nets.trained("d", vs_d, train.d_opt, false);
        if let Some(vs) = vs_ema {
            nets.average("g_ema", vs);
        }
        let game = Self {
            nets,
            g: g_id,
            d: d_id,
            ema,
            loss: loss.adversarial(),
            constraint: loss.constraint(),
            reg: reg.clone(),
            device,
            phases: [Phase { name: "D", repeat: train.d_steps, fresh_batch: true }, Phase::same_batch("G")],
            augment: Default::default(),
        };
        Ok((game, g, d, g_ema))
    }

    /// Applies `augment` to what D sees from now on ([`Game::seen`]); a family that calls this
    /// says so in [`crate::config::Recipe::augments`]. ADA's state joins the networks (`ada`).
    pub fn augment_with(&mut self, augment: &AugmentConfig) {
        self.augment = crate::augment::Augment::new(augment, &mut self.nets, self.device);
    }

    /// Images `x` as D sees them: through DiffAugment's policies or ADA's pipe, differentiably,
    /// with fresh draws per call (so reals and fakes are augmented independently, as the authors
    /// do); `x` itself when augmentation is off. Every D input of a step goes through it, and the
    /// penalties take its output (R1 on augmented reals).
    pub fn seen(&self, x: &Tensor) -> Tensor {
        self.augment.apply(x)
    }

    /// The gradient penalty and lazy R1/R2/DRAGAN terms for a critic `d`.
    pub fn penalties(&self, d: &dyn Fn(&Tensor) -> Tensor, real: &Tensor, fake: &Tensor, k: u64) -> Tensor {
        self.reg.total(self.constraint, d, real, fake, k)
    }

    /// G updates taken so far.
    pub fn g_steps(&self) -> u64 {
        self.nets.opt(self.g).steps() as u64
    }

    /// D's update, ProGAN's drift term and weight clipping included; the usual scalars.
    pub fn d_update(
        &mut self,
        adv: &Tensor,
        extra: &Tensor,
        real_out: &Tensor,
        fake_out: &Tensor,
    ) -> Scalars {
        let mut out =
            critic_update(&mut self.nets, self.d, self.constraint, &self.reg, adv, extra, real_out, fake_out);
        out.extend(self.augment.end_d_step(&[real_out]));
        out
    }

    /// G's update on `loss`.
    pub fn g_update(&mut self, loss: &Tensor) {
        self.nets.opt_mut(self.g).backward_step(loss);
    }

    /// Images G has been trained on at batch `batch`.
    pub fn images_seen(&self, batch: i64) -> u64 {
        self.g_steps() * batch as u64
    }

    /// Moves the EMA after a G step on `batch` images (this rank's micro-batch: the update took
    /// `batch` × the data-parallel world size × `train.accumulate`); its β (None without EMA, and
    /// in a micro-batch before an update's last, whose G step has not moved G yet).
    pub fn update_ema(&self, batch: i64) -> Option<f64> {
        let world = gantry_core::parallel::shard().1;
        self.update_ema_seen(batch, self.images_seen(batch * world))
    }

    /// [`Self::update_ema`] with the ramp-up counted at `seen` images (the whole batch's).
    pub fn update_ema_seen(&self, batch: i64, seen: u64) -> Option<f64> {
        let e = self.ema.as_ref()?;
        if !gantry_core::parallel::completes_update() {
            return None;
        }
        let batch = batch * gantry_core::parallel::shard().1;
        e.update(batch as usize, seen);
        Some(e.config.beta(batch as usize, seen))
    }
}

/// A critic's update on its adversarial loss `adv` plus `extra` (penalties), with ProGAN's drift
/// term on `real_out` and `wgan-clip`'s weight clipping, for critic `d` of `nets` (a [`Game`]'s D,
/// the adversarial autoencoder's latent D, pix2pix's and SRGAN's D); the usual scalars.
#[allow(clippy::too_many_arguments)]
pub fn critic_update(
    nets: &mut Networks,
    d: NetId,
    constraint: Constraint,
    reg: &Penalties,
    adv: &Tensor,
    extra: &Tensor,
    real_out: &Tensor,
    fake_out: &Tensor,
) -> Scalars {
    let critic = Critic {
        adv: adv.shallow_clone(),
        extra: extra.shallow_clone(),
        real_out,
        fake_out,
        names: ["d_real", "d_fake"],
    };
    critic_step(nets, d, constraint, reg, &[critic])
}

/// One critic's share of a critic step: its adversarial loss (with the family's scale, e.g. the
/// authors' ½), its penalties ([`Penalties::total`]), its scores of the real and the fake batch,
/// and the names its mean scores are logged under.
#[derive(Debug)]
pub struct Critic<'a> {
    /// The critic's adversarial loss (a scalar), with any scale the family applies.
    pub adv: Tensor,
    /// Its penalties (a scalar), without the drift term, which [`critic_step`] adds.
    pub extra: Tensor,
    /// Its raw outputs on the real batch.
    pub real_out: &'a Tensor,
    /// Its raw outputs on the fake batch.
    pub fake_out: &'a Tensor,
    /// The scalar names of its mean real and fake scores, e.g. `["d_real", "d_fake"]`.
    pub names: [&'static str; 2],
}

/// The one critic step every adversarial family takes: the critics' adversarial losses plus
/// their penalties plus ProGAN's drift term `reg.drift`·E[D(x)²] on each critic's real scores,
/// one update of `d`'s optimiser (which may hold several critics: CycleGAN's D_A and D_B), then
/// `wgan-clip`'s weight clipping. Scalars: `d_loss` (the adversarial sum), `d_reg` (penalties and
/// drift), each critic's mean real and fake scores. The sum is Σ adv + Σ extra, in that order.
pub fn critic_step(
    nets: &mut Networks,
    d: NetId,
    constraint: Constraint,
    reg: &Penalties,
    critics: &[Critic<'_>],
) -> Scalars {
    // ProGAN's drift term needs D's real scores, which only this point has for every family.
    let extras: Vec<Tensor> = critics
        .iter()
        .map(|c| match reg.drift {
            e if e > 0.0 => &c.extra + penalty::drift_penalty(c.real_out, e),
            _ => c.extra.shallow_clone(),
        })
        .collect();
    let adv = critics[1..].iter().fold(critics[0].adv.shallow_clone(), |t, c| t + &c.adv);
    let total = extras.iter().fold(adv.shallow_clone(), |t, e| t + e);
    nets.opt_mut(d).backward_step(&total);
    if constraint == Constraint::Clip {
        penalty::clip_weights(nets.vs(d), reg.clip);
    }
    let extra = extras[1..].iter().fold(extras[0].shallow_clone(), |t, e| t + e);
    let mean = |t: &Tensor| t.mean(Kind::Float).double_value(&[]);
    let mut out = vec![("d_loss", adv.double_value(&[])), ("d_reg", extra.double_value(&[]))];
    for c in critics {
        out.extend([(c.names[0], mean(c.real_out)), (c.names[1], mean(c.fake_out))]);
    }
    out
}

/// The [`crate::family::Family`] methods of a GAN family whose [`Game`] is its `game` field and
/// which has `d_step(&mut self, &Batch, k) -> Scalars` and `g_step(&mut self, &Batch) -> Scalars`.
macro_rules! game_phases {
    () => {
        fn phases(&self) -> &[$crate::family::Phase] {
            &self.game.phases
        }

        fn run_phase(
            &mut self,
            phase: usize,
            batch: &$crate::family::Batch,
            k: u64,
        ) -> $crate::error::Result<$crate::family::Scalars> {
            Ok(match phase {
                0 => self.d_step(batch, k),
                _ => self.g_step(batch),
            })
        }

        fn networks(&self) -> &$crate::family::Networks {
            &self.game.nets
        }

        fn networks_mut(&mut self) -> &mut $crate::family::Networks {
            &mut self.game.nets
        }
    };
}
pub(crate) use game_phases;

/// A key that every run's config held before each family had its own settings (gantry before
/// commit 4639d95's successor), with the value it held when unused.
pub type LegacyKey = (&'static str, &'static str, f64);

/// StyleGAN2's regularisers, which the other families of that time carried unused.
pub const STYLEGAN2_LEGACY: &[LegacyKey] = &[
    ("reg", "pl_weight", 0.0),
    ("reg", "pl_every", 4.0),
    ("reg", "pl_batch_shrink", 2.0),
    ("reg", "pl_decay", 0.01),
    ("reg", "style_mixing", 0.0),
];

/// The unconditional GANs' stabilisers, which the other families of that time carried unused.
pub const STABILISER_LEGACY: &[LegacyKey] =
    &[("train", "unroll", 0.0), ("train", "instance_noise", 0.0), ("train", "instance_noise_steps", 0.0)];

/// Drops `keys` from an older config of an `arch` run when they hold their unused values; any
/// other value is refused with a line saying what to remove ([`crate::config::Recipe::migrate`]).
pub fn drop_legacy(table: &mut toml::Table, arch: &str, keys: &[LegacyKey]) -> Result<()> {
    for &(section, key, unused) in keys {
        let Some(sec) = table.get_mut(section).and_then(|s| s.as_table_mut()) else { continue };
        let Some(v) = sec.get(key) else { continue };
        let value = v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
        if value != Some(unused) {
            bail!(
                "{section}.{key} = {v} is not a setting of a {arch} run (written by an older gantry, which ignored it); remove the line to load this config"
            );
        }
        sec.remove(key);
    }
    Ok(())
}
