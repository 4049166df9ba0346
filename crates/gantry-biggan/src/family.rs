//! BigGAN as a gantry family (`model.arch = "biggan"`), registered from this crate with
//! [`register`]: gantry's loop, resume, sampling, evaluation, reports and data parallelism work
//! for it through gantry-train's open core, and no file of gantry-train names it.
//!
//! One step is BigGAN-PyTorch's `GAN_training_function`: `train.d_steps` D steps, each on a fresh
//! real batch and fresh latents and classes (z first, then y, as their `z_.sample_()`,
//! `y_.sample_()`), G in training mode making the fakes without gradient, D judging fakes and
//! reals in one concatenated forward; then one G step on fresh latents and classes; then the EMA
//! of G over its whole state (BatchNorm statistics and spectral-norm vectors included), pegged to
//! G before `train.ema_start` G steps and decaying by `train.ema_decay` after (their `utils.ema`).
//! Orthogonal regularisation (`train.g_ortho`, `train.d_ortho`) in their code's strength or the
//! paper's (`train.ortho_form`, see [`crate::ortho`]).

use std::cell::RefCell;

use gantry_core::optim::AdamConfig;
use gantry_train::capability::{check_range, ClassSampler, Sampler};
use gantry_train::config::{EvalConfig, FamilyConfig, LogConfig, Recipe, RunConfig};
use gantry_train::error::{bail, Error, Result};
use gantry_train::family::{Batch, BuildContext, DataNeeds, Family, NetId, Networks, Phase, Scalars};
use gantry_train::presets::{base, Preset};
use gantry_train::recipes::adversarial::{validate_adams, Game, LossChoice, Penalties, TrainConfig};
use gantry_train::registry::Registry;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::layers::{Classes, InitStyle};
use crate::networks::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};

/// How samples (and evaluation) use G's BatchNorms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleBn {
    /// The stored running statistics (evaluation mode; their `--G_eval_mode`).
    Eval,
    /// Each batch's own statistics (training mode, their CIFAR script's habit: it evaluates
    /// without `--G_eval_mode`); the buffers are put back after, so sampling changes nothing.
    Batch,
    /// Standing statistics: each BatchNorm's statistics averaged over `model.standing_passes`
    /// training-mode forwards of 64 samples (fixed latents, classes in turn), then evaluation
    /// mode; the model's own buffers are left as they were.
    Standing,
}

/// The networks (`[model]`): their `Generator`/`Discriminator` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BigGanModel {
    /// Image side: 32, 64, 128, 256 (G also 512).
    pub size: i64,
    /// Number of classes.
    pub classes: i64,
    /// `G_ch`.
    pub g_ch: i64,
    /// `D_ch`.
    pub d_ch: i64,
    /// `dim_z` (rounded down to a multiple of G's blocks + 1 under `hier`).
    pub dim_z: i64,
    /// `G_attn` (`"0"`: none).
    pub g_attention: String,
    /// `D_attn` (`"0"`: none; at 32×32 their D labels every block 16).
    pub d_attention: String,
    /// `G_shared`.
    pub shared: bool,
    /// `shared_dim` (0: `dim_z`).
    pub shared_dim: i64,
    /// `hier` (needs `shared`).
    pub hier: bool,
    /// `BN_eps`.
    pub bn_eps: f64,
    /// `SN_eps`.
    pub sn_eps: f64,
    /// `G_init`.
    pub g_init: InitStyle,
    /// `D_init`.
    pub d_init: InitStyle,
    /// How samples use G's BatchNorms.
    pub sample_bn: SampleBn,
    /// Forwards averaged by `sample_bn = "standing"` (their `--num_standing_accumulations`: 16).
    pub standing_passes: u32,
}

impl BigGanModel {
    fn g(&self) -> GeneratorConfig {
        GeneratorConfig {
            ch: self.g_ch,
            dim_z: self.dim_z,
            resolution: self.size,
            attention: self.g_attention.clone(),
            n_classes: self.classes,
            shared: self.shared,
            shared_dim: self.shared_dim,
            hier: self.hier,
            bn_eps: self.bn_eps,
            sn_eps: self.sn_eps,
            init: self.g_init,
        }
    }

    fn d(&self) -> DiscriminatorConfig {
        DiscriminatorConfig {
            ch: self.d_ch,
            resolution: self.size,
            attention: self.d_attention.clone(),
            n_classes: self.classes,
            sn_eps: self.sn_eps,
            init: self.d_init,
        }
    }
}

/// Which orthogonal regularisation `train.g_ortho`/`train.d_ortho` mean (see [`crate::ortho`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrthoForm {
    /// Their code's `utils.ortho`: gradient 2β((WWᵀ)⊙(1−I))W (the paper's at β/2).
    Code,
    /// The paper's β‖WᵀW ⊙ (1 − I)‖²_F.
    Paper,
}

/// Optimisation (`[train]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BigGanTrain {
    /// D steps per G step (`num_D_steps`), each on a fresh real batch.
    pub d_steps: u32,
    /// G's Adam.
    pub g_opt: AdamConfig,
    /// D's Adam.
    pub d_opt: AdamConfig,
    /// `ema_decay` (0: no EMA).
    pub ema_decay: f64,
    /// `ema_start`: G steps before which the EMA copies G.
    pub ema_start: u64,
    /// `G_ortho` (0: off).
    pub g_ortho: f64,
    /// `D_ortho` (0: off).
    pub d_ortho: f64,
    /// What the two strengths mean.
    pub ortho_form: OrthoForm,
}

/// A BigGAN run's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BigGanRun {
    /// The objective (`hinge` in every preset, as theirs).
    pub loss: LossChoice,
    /// D's penalties (none in their code).
    #[serde(default)]
    pub reg: Penalties,
    /// The networks.
    pub model: BigGanModel,
    /// Optimisation.
    pub train: BigGanTrain,
}

impl Recipe for BigGanRun {
    const ARCH: &'static str = "biggan";

    fn data(&self) -> DataNeeds {
        DataNeeds::Images { channels: 3, size: self.model.size, classes: Some(self.model.classes) }
    }

    fn set_channels(&mut self, _channels: i64) {}

    fn augments(&self) -> bool {
        true
    }

    /// NHWC: the `biggan-cifar10-cpu` step took 489 ms against NCHW's 600 (medians of 3
    /// interleaved rounds, 2 threads; gantry's README, `[perf]`).
    fn memory_format(&self) -> gantry_core::layout::MemoryFormat {
        gantry_core::layout::MemoryFormat::Nhwc
    }

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        let m = &self.model;
        for (key, v) in [
            ("model.classes", m.classes),
            ("model.g_ch", m.g_ch),
            ("model.d_ch", m.d_ch),
            ("model.dim_z", m.dim_z),
        ] {
            if v < 1 {
                bail!("invalid {key}: expected ≥ 1, found {v}");
            }
        }
        if self.train.d_steps == 0 {
            bail!("invalid train.d_steps: expected ≥ 1, found 0");
        }
        for (key, v) in [
            ("train.g_ortho", self.train.g_ortho),
            ("train.d_ortho", self.train.d_ortho),
            ("train.ema_decay", self.train.ema_decay),
        ] {
            if !(v >= 0.0 && v.is_finite()) || (key == "train.ema_decay" && v >= 1.0) {
                bail!(
                    "invalid {key}: expected a finite value ≥ 0{}, found {v}",
                    if key == "train.ema_decay" { " and < 1" } else { "" }
                );
            }
        }
        if m.sample_bn == SampleBn::Standing && m.standing_passes == 0 {
            bail!("invalid model.standing_passes: expected ≥ 1 with model.sample_bn = \"standing\"");
        }
        validate_adams(&self.train.g_opt, &self.train.d_opt)?;
        self.reg.validate(self.loss)?;
        let at = |key: &str, e: crate::networks::ArchError| Error::msg(format!("invalid {key}: {e}"));
        // Each block's (out channels, the resolution its attention is keyed on).
        let g_blocks: Vec<(i64, i64)> = crate::networks::g_arch(m.g_ch, m.size)
            .map_err(|e| at("model.size", e))?
            .iter()
            .map(|b| (b.1, b.2))
            .collect();
        let d_blocks: Vec<(i64, i64)> = crate::networks::d_arch(m.d_ch, m.size)
            .map_err(|e| at("model.size", e))?
            .iter()
            .map(|b| (b.1, b.3))
            .collect();
        for (key, s, blocks) in
            [("model.g_attention", &m.g_attention, g_blocks), ("model.d_attention", &m.d_attention, d_blocks)]
        {
            let res = crate::networks::parse_attention(s).map_err(|e| at(key, e))?;
            for r in res.into_iter().filter(|&r| r != 0) {
                let Some((c, _)) = blocks.iter().find(|b| b.1 == r) else {
                    let have: Vec<String> = blocks.iter().map(|b| b.1.to_string()).collect();
                    bail!("invalid {key}: no block at resolution {r} (this size has {})", have.join(", "));
                };
                if c % 8 != 0 {
                    bail!("invalid {key}: attention at {r} needs channels divisible by 8, found {c}");
                }
            }
        }
        if m.hier && !m.shared {
            bail!("invalid model.hier: hierarchical z needs model.shared = true (each block's BatchNorms take the shared embedding beside a z chunk)");
        }
        Ok(())
    }

    fn build(&self, run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        let mut family = BigGanFamily::new(self, cx.device)?;
        family.game.augment_with(&run.augment);
        Ok(Box::new(family))
    }
}

/// G's EMA: its network, its id in the networks, and (average, source) variable pairs.
#[derive(Debug)]
struct Ema {
    g: Generator,
    id: NetId,
    pairs: Vec<(Tensor, Tensor)>,
}

/// BigGAN in training (or loaded for sampling).
#[derive(Debug)]
pub struct BigGanFamily {
    s: BigGanRun,
    game: Game,
    g: Generator,
    d: Discriminator,
    ema: Option<Ema>,
    g_ortho: Vec<Tensor>,
    d_ortho: Vec<Tensor>,
    /// Standing statistics of the sampling G, and the G step they were computed at.
    standing: RefCell<Option<(u64, Vec<Tensor>)>>,
}

fn arch_err(e: crate::networks::ArchError) -> Error {
    Error::msg(e.to_string())
}

/// The weights orthogonal regularisation reaches: trained variables with ≥ 2 axes, but `skip`.
fn ortho_weights(vs: &VarStore, skip: &[&str]) -> Vec<Tensor> {
    let mut vars: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(n, t)| t.requires_grad() && t.dim() >= 2 && !skip.contains(&n.as_str()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.into_iter().map(|v| v.1).collect()
}

impl BigGanFamily {
    /// Builds G, D (and G's EMA when `train.ema_decay` > 0) on `device`.
    pub fn new(s: &BigGanRun, device: Device) -> Result<Self> {
        let (gc, dc) = (s.model.g(), s.model.d());
        let t = &s.train;
        let plain =
            TrainConfig { d_steps: t.d_steps, g_opt: t.g_opt, d_opt: t.d_opt, ema: Default::default() };
        let (mut game, g, d, _) = Game::build(
            s.loss,
            &s.reg,
            &plain,
            device,
            |p| Generator::new(&p, &gc).map_err(arch_err),
            |p| Discriminator::new(&p, &dc).map_err(arch_err),
        )?;
        let g_ortho = ortho_weights(game.nets.vs(game.g), &["shared.weight"]);
        let d_ortho = ortho_weights(game.nets.vs(game.d), &[]);
        let ema = if t.ema_decay > 0.0 {
            let vs = VarStore::new(device);
            let net = Generator::new(&vs.root(), &gc).map_err(arch_err)?;
            gantry_nn::ema::copy(&vs, game.nets.vs(game.g)).map_err(Error::other)?;
            let src = game.nets.vs(game.g).variables();
            let mut pairs: Vec<(String, (Tensor, Tensor))> = vs
                .variables()
                .into_iter()
                .map(|(n, t)| {
                    let s = src[&n].shallow_clone();
                    (n, (t, s))
                })
                .collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            let id = game.nets.average("g_ema", vs);
            Some(Ema { g: net, id, pairs: pairs.into_iter().map(|p| p.1).collect() })
        } else {
            None
        };
        Ok(Self { s: s.clone(), game, g, d, ema, g_ortho, d_ortho, standing: RefCell::new(None) })
    }

    fn ortho(&self, weights: &[Tensor], beta: f64) -> Option<Tensor> {
        let scale = match self.s.train.ortho_form {
            OrthoForm::Code => beta / 2.0,
            OrthoForm::Paper => beta,
        };
        (beta > 0.0).then(|| crate::ortho::penalty(weights) * scale)
    }

    fn draw(&self, n: i64) -> (Tensor, Tensor) {
        let dev = self.game.device;
        let z = gantry_core::parallel::randn(&[n, self.g.dim_z], (Kind::Float, dev));
        let y = gantry_core::parallel::randint(self.s.model.classes, &[n], (Kind::Int64, dev));
        (z, y)
    }

    fn d_step(&mut self, batch: &Batch, k: u64) -> Result<Scalars> {
        let x = &batch.images;
        let y = batch
            .labels
            .as_ref()
            .expect("conditional runs load labelled data (checked at load)")
            .to_device(self.game.device);
        let n = x.size()[0];
        let (z, yf) = self.draw(n);
        let fake = tch::no_grad(|| self.g.forward(&z, &Classes::Index(yf.shallow_clone()), true));
        let (xs, fs) = (self.game.seen(x), self.game.seen(&fake));
        // One D forward over fakes then reals, as their G_D.
        let out = self
            .d
            .forward(&Tensor::cat(&[&fs, &xs], 0), &Classes::Index(Tensor::cat(&[&yf, &y], 0)), true)
            .flatten(0, -1);
        let (fake_out, real_out) = (out.narrow(0, 0, n), out.narrow(0, n, n));
        let adv = self.game.loss.d_loss(&real_out, &fake_out);
        let d = &self.d;
        let yr = Classes::Index(y.shallow_clone());
        let critic = |t: &Tensor| d.forward(t, &yr, true).flatten(0, -1);
        let mut extra = self.game.penalties(&critic, &xs, &fs, k);
        if let Some(o) = self.ortho(&self.d_ortho, self.s.train.d_ortho) {
            extra += o;
        }
        Ok(self.game.d_update(&adv, &extra, &real_out, &fake_out))
    }

    fn g_step(&mut self, batch: &Batch) -> Result<Scalars> {
        let n = batch.images.size()[0];
        let (z, yf) = self.draw(n);
        let classes = Classes::Index(yf);
        let fake = self.game.seen(&self.g.forward(&z, &classes, true));
        let fake_out = self.d.forward(&fake, &classes, true).flatten(0, -1);
        let real_out = self.game.loss.g_needs_real().then(|| {
            let y = batch.labels.as_ref().expect("labelled").to_device(self.game.device);
            self.d.forward(&self.game.seen(&batch.images), &Classes::Index(y), true).flatten(0, -1)
        });
        let loss = self.game.loss.g_loss(&fake_out, real_out.as_ref());
        let mut out = vec![("g_loss", loss.double_value(&[]))];
        let total = match self.ortho(&self.g_ortho, self.s.train.g_ortho) {
            Some(o) => {
                out.push(("g_ortho", o.double_value(&[])));
                &loss + o
            }
            None => loss,
        };
        self.game.g_update(&total);
        // Once per update (the last of its micro-batches with `train.accumulate`).
        let updated = gantry_core::parallel::completes_update();
        if let (Some(Ema { pairs, .. }), true) = (&self.ema, updated) {
            // Their utils.ema: pegged to G before ema_start G steps.
            let itr = self.game.g_steps();
            let decay = if itr < self.s.train.ema_start { 0.0 } else { self.s.train.ema_decay };
            tch::no_grad(|| {
                for (t, s) in pairs {
                    t.shallow_clone().copy_(&(t * decay + s * (1.0 - decay)));
                }
            });
            out.push(("ema_decay", decay));
        }
        Ok(out)
    }

    /// The generator samples come from: the EMA when there is one.
    fn sampling_g(&self) -> (&Generator, &VarStore) {
        match &self.ema {
            Some(e) => (&e.g, self.game.nets.vs(e.id)),
            None => (&self.g, self.game.nets.vs(self.game.g)),
        }
    }
}

impl Family for BigGanFamily {
    fn phases(&self) -> &[Phase] {
        &self.game.phases
    }

    fn run_phase(&mut self, phase: usize, batch: &Batch, k: u64) -> Result<Scalars> {
        match phase {
            0 => self.d_step(batch, k),
            _ => self.g_step(batch),
        }
    }

    fn networks(&self) -> &Networks {
        &self.game.nets
    }

    fn networks_mut(&mut self) -> &mut Networks {
        &mut self.game.nets
    }

    fn sampler(&self) -> Option<&dyn Sampler> {
        Some(self)
    }

    fn class_sampler(&self) -> Option<&dyn ClassSampler> {
        Some(self)
    }
}

impl Sampler for BigGanFamily {
    fn z_dim(&self) -> i64 {
        self.g.dim_z
    }

    /// Sample i has class i mod K.
    fn generate(&self, z: &Tensor) -> Tensor {
        let y = Tensor::arange(z.size()[0], (Kind::Int64, self.game.device)).remainder(self.s.model.classes);
        self.generate_class(z, &y).expect("classes in range")
    }
}

impl BigGanFamily {
    /// Samples of classes `y` (indices or mixtures) from latents `z`, with the BatchNorm use
    /// `model.sample_bn` names.
    pub fn generate_mixed(&self, z: &Tensor, y: &Classes) -> Tensor {
        let (g, vs) = self.sampling_g();
        let z = z.to_device(self.game.device);
        match self.s.model.sample_bn {
            SampleBn::Eval => tch::no_grad(|| g.forward(&z, y, false)),
            SampleBn::Batch => {
                // Training-mode BatchNorm; every buffer put back after.
                let saved = snapshot(vs);
                let out = tch::no_grad(|| g.forward(&z, y, true));
                restore(saved);
                out
            }
            SampleBn::Standing => {
                // Computed once per G step (cached), from the same latents each time; only the
                // BatchNorm statistics are swapped in for the forward, so sampling changes no
                // buffer of the model (previews during training leave the run as it was).
                let stats: Vec<Tensor> = g
                    .batch_norm_stats()
                    .into_iter()
                    .flat_map(|(m, v)| [m.shallow_clone(), v.shallow_clone()])
                    .collect();
                let key = self.game.g_steps();
                let mut cache = self.standing.borrow_mut();
                if cache.as_ref().map(|c| c.0) != Some(key) {
                    let saved = snapshot(vs);
                    let k = self.s.model.classes;
                    let dev = self.game.device;
                    g.standing_statistics(self.s.model.standing_passes as usize, |pass| {
                        let z = gantry_train::generate::latents_truncated(
                            64,
                            g.dim_z,
                            pass as u64,
                            "standing",
                            &Default::default(),
                        );
                        (
                            z.to_device(dev),
                            Classes::Index(Tensor::arange(64, (Kind::Int64, dev)).remainder(k)),
                        )
                    });
                    *cache = Some((key, stats.iter().map(Tensor::copy).collect()));
                    restore(saved);
                }
                let saved: Vec<(Tensor, Tensor)> =
                    stats.iter().map(|t| (t.copy(), t.shallow_clone())).collect();
                tch::no_grad(|| {
                    for (t, c) in stats.iter().zip(&cache.as_ref().expect("computed").1) {
                        t.shallow_clone().copy_(c);
                    }
                });
                let out = tch::no_grad(|| g.forward(&z, y, false));
                restore(saved);
                out
            }
        }
    }
}

/// Copies of `vs`'s buffers (its variables without gradient), with the variables themselves.
fn snapshot(vs: &VarStore) -> Vec<(Tensor, Tensor)> {
    vs.variables().into_values().filter(|t| !t.requires_grad()).map(|t| (t.copy(), t)).collect()
}

/// Puts back what [`snapshot`] copied.
fn restore(saved: Vec<(Tensor, Tensor)>) {
    tch::no_grad(|| {
        for (s, mut t) in saved {
            t.copy_(&s);
        }
    });
}

impl ClassSampler for BigGanFamily {
    fn classes(&self) -> i64 {
        self.s.model.classes
    }

    fn generate_class(&self, z: &Tensor, classes: &Tensor) -> Result<Tensor> {
        let y = classes.to_device(self.game.device).to_kind(Kind::Int64);
        check_range(&y, self.s.model.classes, "class")?;
        Ok(self.generate_mixed(z, &Classes::Index(y)))
    }
}

// ---------------------------------------------------------------------------------------------
// Presets.

fn adam(lr: f64, eps: f64) -> AdamConfig {
    AdamConfig { lr, beta1: 0.0, beta2: 0.999, eps, ..Default::default() }
}

/// Their `scripts/launch_cifar_ema.sh`: ch 64, dim_z 128, per-class ccbn gains, no attention,
/// N(0, 0.02) init, SN ε 1e-8, batch 50, 4 D steps, Adam(2e-4, 0, 0.999) both, EMA 0.9999 from
/// G step 1,000, no ortho; 500 epochs of 50,000 images at 200 reals per step: 125,000 steps.
fn cifar10_model() -> BigGanModel {
    BigGanModel {
        size: 32,
        classes: 10,
        g_ch: 64,
        d_ch: 64,
        dim_z: 128,
        g_attention: "0".into(),
        d_attention: "0".into(),
        shared: false,
        shared_dim: 0,
        hier: false,
        bn_eps: 1e-5,
        sn_eps: 1e-8,
        g_init: InitStyle::N02,
        d_init: InitStyle::N02,
        sample_bn: SampleBn::Eval,
        standing_passes: 16,
    }
}

fn cifar_train() -> BigGanTrain {
    BigGanTrain {
        d_steps: 4,
        g_opt: adam(2e-4, 1e-8),
        d_opt: adam(2e-4, 1e-8),
        ema_decay: 0.9999,
        ema_start: 1000,
        g_ortho: 0.0,
        d_ortho: 0.0,
        ortho_form: OrthoForm::Code,
    }
}

fn run(model: BigGanModel, train: BigGanTrain) -> FamilyConfig {
    FamilyConfig::new(BigGanRun { loss: LossChoice::Hinge, reg: Penalties::default(), model, train })
}

fn biggan_cifar10() -> RunConfig {
    RunConfig {
        log: LogConfig { grid: 100, ..LogConfig::default() },
        eval: EvalConfig { features: "inception".into(), ..Default::default() },
        ..base("biggan-cifar10", "cifar10", (50, 125_000), run(cifar10_model(), cifar_train()))
    }
}

/// The ImageNet settings at CPU width on CIFAR-10: shared embedding (128), hierarchical z (120 =
/// 4 chunks of 30), self-attention in G at 16×16, ortho init, SN ε 1e-6; ch 16, 2 D steps, EMA
/// 0.999 from step 500 (their 0.9999 would average over more steps than the run has); the JPEG
/// mirror of CIFAR-10 (what works offline here).
fn biggan_cifar10_cpu() -> RunConfig {
    let model = BigGanModel {
        g_ch: 16,
        d_ch: 16,
        dim_z: 120,
        g_attention: "16".into(),
        shared: true,
        shared_dim: 128,
        hier: true,
        sn_eps: 1e-6,
        g_init: InitStyle::Ortho,
        d_init: InitStyle::Ortho,
        ..cifar10_model()
    };
    // Their 0.9999 averages over ~10,000 G steps, longer than this preset's run: 0.999 (~1,000).
    let train = BigGanTrain { d_steps: 2, ema_decay: 0.999, ema_start: 500, ..cifar_train() };
    RunConfig {
        log: LogConfig {
            grid: 100,
            every: 25,
            sample_every: 500,
            checkpoint_every: 500,
            ..LogConfig::default()
        },
        eval: EvalConfig { features: "inception".into(), ..Default::default() },
        ..base("biggan-cifar10-cpu", "cifar10-jpg", (32, 5_000), run(model, train))
    }
}

/// Their I128 architecture (`launch_BigGAN_bs256x8.sh`): ch 96, dim_z 120 hierarchical, shared
/// 128, attention at 64 in G and D, ortho init, SN ε 1e-6, Adam G 1e-4 / D 4e-4 (β 0, 0.999,
/// ε 1e-6), 1 D step, EMA from 20,000; their batch 256 × 8 accumulations is 2,048 images, here
/// batch 256 (`--nproc` ranks multiply it). Needs `--set data=` an ImageNet-style class folder.
fn biggan_128() -> RunConfig {
    let model = BigGanModel {
        size: 128,
        classes: 1000,
        g_ch: 96,
        d_ch: 96,
        dim_z: 120,
        g_attention: "64".into(),
        d_attention: "64".into(),
        shared: true,
        shared_dim: 128,
        hier: true,
        sn_eps: 1e-6,
        g_init: InitStyle::Ortho,
        d_init: InitStyle::Ortho,
        ..cifar10_model()
    };
    let train = BigGanTrain {
        d_steps: 1,
        g_opt: adam(1e-4, 1e-6),
        d_opt: adam(4e-4, 1e-6),
        ema_start: 20_000,
        ..cifar_train()
    };
    RunConfig {
        eval: EvalConfig { features: "inception".into(), ..Default::default() },
        ..base("biggan-128", "imagenet-128", (256, 150_000), run(model, train))
    }
}

/// BigGAN's presets.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "biggan-cifar10-cpu",
        summary: "BigGAN with shared embedding, hierarchical z and attention at CPU width (ch 16), CIFAR-10 32x32",
        build: biggan_cifar10_cpu,
    },
    Preset {
        name: "biggan-cifar10",
        summary: "BigGAN as BigGAN-PyTorch's launch_cifar_ema.sh: ch 64, batch 50, 4 D steps, EMA from step 1,000 (a GPU's budget)",
        build: biggan_cifar10,
    },
    Preset {
        name: "biggan-128",
        summary: "BigGAN I128 (their launch_BigGAN_bs256x8.sh architecture), --set data=YOUR_CLASS_FOLDER (a GPU box)",
        build: biggan_128,
    },
];

/// `registry` with BigGAN and its presets added.
pub fn register(registry: Registry) -> Result<Registry> {
    Ok(registry.register::<BigGanRun>(PRESETS)?)
}
