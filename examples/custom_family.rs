//! A GAN family gantry does not have, defined here and trained by gantry's loop.
//!
//! The family is an LSGAN (Mao et al. 2017) whose generator uses *self-modulated* BatchNorm
//! (Chen, Lucic, Houlsby, Gelly 2019, "On Self Modulation for Generative Adversarial Networks"):
//! each BatchNorm of G normalises without affine parameters and is then scaled and shifted by
//! `γ_ℓ(z) = 1 + MLP_ℓ(z)`, `β_ℓ(z) = MLP_ℓ(z)`, two-layer MLPs of the latent. The example
//! registers it beside gantry's own families ([`Registry::register`]) and then, through the same
//! API the `gantry` command uses:
//!
//! 1. trains it on the 5,000 MNIST digits gantry embeds, into a run folder (`config.toml`,
//!    checkpoints, sample grids, `metrics.jsonl`, TensorBoard files, `report.html`);
//! 2. trains it again to half the steps, resumes to the end, and checks the result equals the
//!    uninterrupted run's bit for bit;
//! 3. samples a grid from the checkpoint and measures FID against the digits (with gantry's MNIST
//!    classifier as the feature network, which gantry ships, so it runs offline).
//!
//! Run it:
//!
//! ```text
//! cargo run --release --example custom_family -- demo [--steps 300] [--out runs/selfmod]
//! ```
//!
//! `check DIR` puts the family through the checks every gantry family passes
//! (`gantry_train::harness`: two steps, a bit-identical resume, its capabilities, every `reg.*`
//! switch taking effect). With any other first argument the example *is* the `gantry` command
//! line with this family registered (`gantry_cli::run_with`): every command works on its runs.
//!
//! ```text
//! cargo run --release --example custom_family -- check /tmp/selfmod-check
//! cargo run --release --example custom_family -- presets
//! cargo run --release --example custom_family -- train --preset selfmod-lsgan-mnist --out runs/sm
//! cargo run --release --example custom_family -- eval fid --real mnist-5k --fake runs/sm --features mnist
//! ```
//!
//! What it took: this file. No line of gantry changed for it.

use std::path::{Path, PathBuf};

use gantry::core::checkpoint::Checkpoint;
use gantry::core::optim::AdamConfig;
use gantry::train::capability::{Model, Sampler};
use gantry::train::config::{FamilyConfig, LogConfig, Recipe, RunConfig};
use gantry::train::error::{bail, Context, Result};
use gantry::train::family::{Batch, BuildContext, DataNeeds, Family, Networks, Phase, Scalars};
use gantry::train::presets::{base, features, Preset};
use gantry::train::recipes::adversarial::{Critic, Game, LossChoice, Penalties, TrainConfig};
use gantry::train::registry::Registry;
use gantry::train::{eval, generate, train};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

// ---------------------------------------------------------------------------------------------
// The settings: what `config.toml` holds for this family (`model.arch = "selfmod"`).

/// The networks' sizes (`[model]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfModModel {
    /// Latent size.
    pub z_dim: i64,
    /// Channels of G's first 4×4 map (halved at each of its three upsamplings).
    pub width: i64,
    /// Hidden units of each modulation MLP.
    pub hidden: i64,
    /// Image channels (0: the data's).
    pub channels: i64,
}

/// A run's own settings: the model, the objective, D's penalties, the optimisers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfModRun {
    pub loss: LossChoice,
    #[serde(default)]
    pub reg: Penalties,
    pub model: SelfModModel,
    pub train: TrainConfig,
}

impl Recipe for SelfModRun {
    const ARCH: &'static str = "selfmod";

    fn data(&self) -> DataNeeds {
        DataNeeds::Images { channels: self.model.channels, size: 32, classes: None }
    }

    fn set_channels(&mut self, channels: i64) {
        self.model.channels = channels;
    }

    /// Its D sees images, through `Game::seen`: `--set augment.diffaug=color,translation,cutout`
    /// works for it as for gantry's families.
    fn augments(&self) -> bool {
        true
    }

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        for (key, v) in [
            ("model.z_dim", self.model.z_dim),
            ("model.width", self.model.width),
            ("model.hidden", self.model.hidden),
        ] {
            if v < 1 {
                bail!("invalid {key}: expected ≥ 1, found {v}");
            }
        }
        if self.model.width % 8 != 0 {
            bail!("invalid model.width: expected a multiple of 8, found {}", self.model.width);
        }
        self.train.validate()?;
        self.reg.validate(self.loss)
    }

    fn build(&self, run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        let mut family = SelfModFamily::new(self, cx.device)?;
        family.game.augment_with(&run.augment);
        Ok(Box::new(family))
    }
}

// ---------------------------------------------------------------------------------------------
// The networks.

/// BatchNorm without affine parameters, then x·γ(z) + β(z).
#[derive(Debug)]
struct SelfModBn {
    bn: gantry::nn::batch_norm::BatchNorm,
    hidden: nn::Linear,
    gamma: nn::Linear,
    beta: nn::Linear,
}

impl SelfModBn {
    fn new(p: nn::Path, c: i64, z_dim: i64, hidden: i64) -> Self {
        let bn = gantry::nn::batch_norm::batch_norm2d(
            &p / "bn",
            c,
            nn::BatchNormConfig { affine: false, ..Default::default() },
        );
        Self {
            bn,
            hidden: nn::linear(&p / "hidden", z_dim, hidden, Default::default()),
            gamma: nn::linear(&p / "gamma", hidden, c, Default::default()),
            beta: nn::linear(&p / "beta", hidden, c, Default::default()),
        }
    }

    fn forward(&self, x: &Tensor, z: &Tensor, train: bool) -> Tensor {
        let h = self.hidden.forward(z).relu();
        let gamma = (self.gamma.forward(&h) + 1.0).unsqueeze(-1).unsqueeze(-1);
        let beta = self.beta.forward(&h).unsqueeze(-1).unsqueeze(-1);
        self.bn.forward_t(x, train) * gamma + beta
    }
}

/// z → 4×4 → 8×8 → 16×16 → 32×32 images in [−1, 1].
#[derive(Debug)]
struct Generator {
    fc: nn::Linear,
    width: i64,
    blocks: Vec<(SelfModBn, nn::ConvTranspose2D)>,
    out_bn: SelfModBn,
    out: nn::Conv2D,
}

impl Generator {
    fn new(p: nn::Path, m: &SelfModModel) -> Self {
        let up = nn::ConvTransposeConfig { stride: 2, padding: 1, ..Default::default() };
        let blocks = (0..3)
            .map(|i| {
                let c = m.width >> i;
                let q = &p / format!("block{i}");
                (
                    SelfModBn::new(&q / "norm", c, m.z_dim, m.hidden),
                    nn::conv_transpose2d(&q / "up", c, c / 2, 4, up),
                )
            })
            .collect();
        let last = m.width / 8;
        Self {
            fc: nn::linear(&p / "fc", m.z_dim, m.width * 16, Default::default()),
            width: m.width,
            blocks,
            out_bn: SelfModBn::new(&p / "out_norm", last, m.z_dim, m.hidden),
            out: nn::conv2d(
                &p / "out",
                last,
                m.channels,
                3,
                nn::ConvConfig { padding: 1, ..Default::default() },
            ),
        }
    }
}

impl ModuleT for Generator {
    fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        let mut x = self.fc.forward(z).view([-1, self.width, 4, 4]);
        for (norm, up) in &self.blocks {
            x = up.forward(&norm.forward(&x, z, train).relu());
        }
        self.out.forward(&self.out_bn.forward(&x, z, train).relu()).tanh()
    }
}

/// 32×32 images → one score each (strided convolutions, LeakyReLU 0.2).
fn discriminator(p: nn::Path, m: &SelfModModel) -> impl ModuleT {
    let down = nn::ConvConfig { stride: 2, padding: 1, ..Default::default() };
    let w = m.width / 2;
    nn::seq_t()
        .add(nn::conv2d(&p / "c1", m.channels, w / 4, 4, down))
        .add_fn(|x| gantry::nn::leaky_relu(x, 0.2))
        .add(nn::conv2d(&p / "c2", w / 4, w / 2, 4, down))
        .add_fn(|x| gantry::nn::leaky_relu(x, 0.2))
        .add(nn::conv2d(&p / "c3", w / 2, w, 4, down))
        .add_fn(|x| gantry::nn::leaky_relu(x, 0.2))
        .add_fn(|x| x.flatten(1, -1))
        .add(nn::linear(&p / "score", w * 16, 1, Default::default()))
        .add_fn(|x| x.squeeze_dim(1))
}

// ---------------------------------------------------------------------------------------------
// The family: its phases, its networks, what a trained one can do.

struct SelfModFamily {
    /// G and D with their optimisers (and G's EMA when `train.ema` asks), the objective, the
    /// penalties: gantry's shared G/D pair.
    game: Game,
    g: Generator,
    d: Box<dyn ModuleT>,
    g_ema: Option<Generator>,
    z_dim: i64,
}

impl SelfModFamily {
    fn new(s: &SelfModRun, device: Device) -> Result<Self> {
        let m = &s.model;
        let (game, g, d, g_ema) = Game::build(
            s.loss,
            &s.reg,
            &s.train,
            device,
            |p| Ok(Generator::new(p, m)),
            |p| Ok(Box::new(discriminator(p, m)) as Box<dyn ModuleT>),
        )?;
        Ok(Self { game, g, d, g_ema, z_dim: m.z_dim })
    }

    /// Latents through gantry's draw path: the same on every CPU and replayed on resume (the loop
    /// seeds it per step), and split by rank in a data-parallel run.
    fn noise(&self, n: i64) -> Tensor {
        gantry::core::parallel::randn(&[n, self.z_dim], (Kind::Float, self.game.device))
    }

    /// D's phase: the adversarial loss on a real and a fake batch plus every `reg.*` penalty,
    /// through gantry's one critic step.
    fn d_step(&mut self, batch: &Batch, k: u64) -> Scalars {
        let real = &batch.images;
        let fake = tch::no_grad(|| self.g.forward_t(&self.noise(real.size()[0]), true));
        // What D sees: augmented when `augment.diffaug` asks (the penalties take the same).
        let (real, fake) = (&self.game.seen(real), self.game.seen(&fake));
        let real_out = self.d.forward_t(real, true);
        let fake_out = self.d.forward_t(&fake, true);
        let d = &self.d;
        let critic = Critic {
            adv: self.game.loss.d_loss(&real_out, &fake_out),
            extra: self.game.penalties(&|x: &Tensor| d.forward_t(x, true), real, &fake, k),
            real_out: &real_out,
            fake_out: &fake_out,
            names: ["d_real", "d_fake"],
        };
        let (d_id, constraint) = (self.game.d, self.game.constraint);
        gantry::train::recipes::adversarial::critic_step(
            &mut self.game.nets,
            d_id,
            constraint,
            &self.game.reg,
            &[critic],
        )
    }

    /// G's phase, then its EMA.
    fn g_step(&mut self, batch: &Batch) -> Scalars {
        let b = batch.images.size()[0];
        let fake = self.game.seen(&self.g.forward_t(&self.noise(b), true));
        let fake_out = self.d.forward_t(&fake, true);
        let real_out =
            self.game.loss.g_needs_real().then(|| self.d.forward_t(&self.game.seen(&batch.images), true));
        let loss = self.game.loss.g_loss(&fake_out, real_out.as_ref());
        self.game.g_update(&loss);
        let mut out = vec![("g_loss", loss.double_value(&[]))];
        if let Some(beta) = self.game.update_ema(b) {
            out.push(("ema_beta", beta));
        }
        out
    }
}

impl Family for SelfModFamily {
    fn phases(&self) -> &[Phase] {
        &self.game.phases
    }

    fn run_phase(&mut self, phase: usize, batch: &Batch, k: u64) -> Result<Scalars> {
        Ok(match phase {
            0 => self.d_step(batch, k),
            _ => self.g_step(batch),
        })
    }

    fn networks(&self) -> &Networks {
        &self.game.nets
    }

    fn networks_mut(&mut self) -> &mut Networks {
        &mut self.game.nets
    }

    /// Drawing from latents is what makes `gantry sample`, `interpolate`, `eval` and the sample
    /// grids work for it.
    fn sampler(&self) -> Option<&dyn Sampler> {
        Some(self)
    }
}

impl Sampler for SelfModFamily {
    fn z_dim(&self) -> i64 {
        self.z_dim
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        let g = self.g_ema.as_ref().unwrap_or(&self.g);
        tch::no_grad(|| g.forward_t(&z.to_device(self.game.device), false))
    }
}

// ---------------------------------------------------------------------------------------------
// Its preset, and the registration.

/// LSGAN with a self-modulated G on the embedded MNIST digits, Adam(2e-4, 0.5, 0.999).
fn selfmod_lsgan_mnist() -> RunConfig {
    let adam = AdamConfig { lr: 2e-4, beta1: 0.5, beta2: 0.999, ..Default::default() };
    let family = FamilyConfig::new(SelfModRun {
        loss: LossChoice::Lsgan,
        reg: Penalties::default(),
        model: SelfModModel { z_dim: 64, width: 128, hidden: 32, channels: 0 },
        train: TrainConfig::plain(adam, adam),
    });
    RunConfig {
        log: LogConfig { every: 25, sample_every: 500, checkpoint_every: 500, ..Default::default() },
        eval: features("mnist"),
        ..base("selfmod-lsgan-mnist", "mnist-5k", (64, 2000), family)
    }
}

const PRESETS: &[Preset] = &[Preset {
    name: "selfmod-lsgan-mnist",
    summary:
        "LSGAN with self-modulated BatchNorm in G (Chen et al. 2019), MNIST 32x32 (the custom_family example)",
    build: selfmod_lsgan_mnist,
}];

/// gantry's families and this one.
fn registry() -> Result<Registry> {
    Ok(Registry::builtin().register::<SelfModRun>(PRESETS)?)
}

// ---------------------------------------------------------------------------------------------
// The demo.

fn main() -> Result<()> {
    let registry = registry()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => {}
        Some("check") => {
            // The checks every gantry family passes (gantry_train::harness), for this one.
            let dir = args.get(1).context("check needs a folder to work in")?;
            let kind = *registry.kind(SelfModRun::ARCH)?;
            registry.install();
            std::fs::create_dir_all(dir)?;
            println!("{}", gantry::train::harness::check(&kind, Path::new(dir))?);
            return Ok(());
        }
        _ => gantry_cli::run_with(registry),
    }
    registry.install();
    let mut steps = 300u64;
    let mut out = PathBuf::from("runs/custom-family");
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--steps" => steps = value()?.parse().context("--steps: expected a whole number")?,
            "--out" => out = PathBuf::from(value()?),
            other => bail!("unknown argument {other}: expected --steps N, --out DIR"),
        }
    }
    if steps < 2 {
        bail!("--steps: expected ≥ 2, found {steps}");
    }
    demo(steps, &out)
}

fn demo(steps: u64, out: &Path) -> Result<()> {
    let device = Device::Cpu;
    let cfg = || -> Result<RunConfig> {
        let c = gantry::train::presets::find("selfmod-lsgan-mnist")?.config();
        // Two threads: the same floating-point reduction order in both runs and on any machine.
        c.with_overrides(&[
            format!("steps={steps}"),
            "threads=2".into(),
            format!("log.checkpoint_every={}", steps / 2),
        ])
    };
    let (whole, split) = (out.join("whole"), out.join("split"));

    // 1. One run, start to end.
    let summary = train::start(cfg()?, &whole, device)?;
    println!("trained {} steps in {:.1} s: {}", summary.steps, summary.seconds, summary.run.display());

    // 2. The same run stopped half-way and resumed.
    train::start(cfg()?.with_overrides(&[format!("steps={}", steps / 2)])?, &split, device)?;
    let resumed = train::resume(&split, Some(steps), device)?;
    let (a, b) = (Checkpoint::load(&summary.checkpoint)?, Checkpoint::load(&resumed.checkpoint)?);
    let mut names: Vec<&String> = a.tensors.keys().collect();
    names.sort();
    for name in &names {
        let (x, y) =
            (&a.tensors[*name], b.tensors.get(*name).with_context(|| format!("resumed run lacks {name}"))?);
        if x.size() != y.size() || !x.equal(y) {
            bail!("resume is not exact: {name} differs from the uninterrupted run's");
        }
    }
    println!(
        "resumed from step {} to {steps}: all {} tensors equal the uninterrupted run's bit for bit",
        steps / 2,
        names.len()
    );

    // 3. Samples and FID, as `gantry sample` and `gantry eval fid` compute them.
    let model = Model::load(&summary.run, device)?; // a run folder: its newest checkpoint
    let grid = out.join("samples.png");
    generate::sample(&model, 64, 0, &Default::default(), None, generate::SampleOut::Grid(&grid))?;
    println!("64 samples: {}", grid.display());
    let ex = eval::Extractor::load("mnist", device)?;
    let opts = eval::EvalOptions { n: Some(2000), batch: 250, seed: 0, device, keep_features: false };
    let ckpt = summary.checkpoint.to_string_lossy().to_string();
    let fake = eval::side(&ckpt, None, Some(&ex), &opts)?;
    let real = eval::side("mnist-5k", Some(&model.cfg), Some(&ex), &opts)?;
    let fid = eval::compute("fid", Some(&real), &fake, Some(ex.name()), &Default::default())?;
    println!(
        "FID (MNIST classifier features, {} vs {}): {:.3}",
        fake.label,
        real.label,
        fid["fid"].as_f64().unwrap_or(f64::NAN)
    );
    println!("report: {}", summary.run.join("report.html").display());
    Ok(())
}
