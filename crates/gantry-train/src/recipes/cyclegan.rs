//! CycleGAN (`model.arch = "cyclegan"`, Zhu et al. 2017, as the authors' `cycle_gan_model.py`):
//! two generators G: A → B and F: B → A, two PatchGANs D_B (judges B) and D_A, trained on
//! unpaired data with
//!
//! ```text
//! L = L_GAN(G, D_B) + L_GAN(F, D_A) + λ·(E‖F(G(a)) − a‖₁ + E‖G(F(b)) − b‖₁)
//!       + λ·λ_id·(E‖G(b) − b‖₁ + E‖F(a) − a‖₁)          λ = 10, λ_id = 0.5
//! ```
//!
//! The cycle terms are what make it work without pairs: nothing else ties an output to its
//! input. The adversarial loss is the run's `loss` (the paper: LSGAN), scaled to the authors'
//! `GANLoss` (`authors_scale`); D's loss is halved; each D sees generated images through an
//! image pool of 50 (`train.pool_size`; `gantry_translate::ImagePool`), whose contents are part of
//! the checkpoint (`aux.pool_a.*`, `aux.pool_b.*`) and whose draws come from the loop-seeded RNG,
//! so resume stays bit-identical. One Adam(2e-4, 0.5, 0.999) over both generators (`g.a2b.*`,
//! `g.b2a.*`), one over both discriminators (`d.a.*`, `d.b.*`); the learning rate stays for
//! `train.epochs` epochs and decays linearly over `train.epochs_decay` (an epoch being the larger
//! domain's).
//!
//! Phases: `G` on a fresh (a, b) batch, then `D` on the same batch with the generated images of
//! G's phase, as `optimize_parameters`.

use crate::error::{bail, Result};
use gantry_core::optim::AdamConfig;
use gantry_losses::content::l1;
use gantry_translate::{CycleGanConfig, ImagePool, Mode, PatchGan, ResnetGenerator};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Tensor};

use super::adversarial::{
    authors_scale, critic_step, validate_adams, validate_nonnegative, Critic, LossChoice, Penalties,
};
use super::pix2pix::epoch_schedule;
use crate::capability::Translator;
use crate::config::{FamilyConfig, LoaderConfig, LogConfig, Recipe, RunConfig};
use crate::family::BuildContext;
use crate::family::{Batch, DataNeeds, Family, NetId, Networks, Phase, Scalars};
use crate::presets::Preset;

/// CycleGAN's optimisation (`[train]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleTrain {
    /// The Adam over both generators (`train.g_opt`; the paper: lr 2e-4, β = (0.5, 0.999)); its lr
    /// is the schedule's base.
    pub g_opt: AdamConfig,
    /// The Adam over both discriminators (`train.d_opt`; the paper: as G's).
    pub d_opt: AdamConfig,
    /// λ of each cycle-consistency term (the paper: 10; 0: no cycle loss, the ablation).
    pub cycle_weight: f64,
    /// λ_id, the identity terms' weight relative to λ (the authors: 0.5; 0: none).
    pub identity_weight: f64,
    /// Generated images each D's pool keeps (50; 0: no pool).
    pub pool_size: i64,
    /// Epochs at the initial learning rate, then epochs of linear decay (the authors' 100 + 100).
    pub epochs: u64,
    /// Epochs of linear decay after `train.epochs` (the authors' `n_epochs_decay`).
    pub epochs_decay: u64,
}

/// A CycleGAN run's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleRun {
    /// The adversarial objective (the paper: `lsgan`).
    pub loss: LossChoice,
    /// Each D's penalties.
    #[serde(default)]
    pub reg: Penalties,
    /// Both ResNet generators and both PatchGANs, image size and each domain's channels
    /// (`[model]`).
    pub model: CycleGanConfig,
    /// Optimisation, cycle and identity weights, the image pool and the epoch schedule
    /// (`[train]`).
    pub train: CycleTrain,
}

impl Recipe for CycleRun {
    const ARCH: &'static str = "cyclegan";

    fn data(&self) -> DataNeeds {
        DataNeeds::Unpaired {
            channels_a: self.model.channels_a,
            channels_b: self.model.channels_b,
            size: self.model.size,
        }
    }

    fn set_channels(&mut self, _channels: i64) {}

    fn validate(&self, _run: &RunConfig) -> Result<()> {
        self.model.validate().map_err(|e| crate::error::err!("invalid {e}"))?;
        self.reg.validate(self.loss)?;
        let t = &self.train;
        validate_adams(&t.g_opt, &t.d_opt)?;
        validate_nonnegative(&[
            ("train.cycle_weight", t.cycle_weight),
            ("train.identity_weight", t.identity_weight),
        ])?;
        if !(0..=10_000).contains(&t.pool_size) {
            bail!("invalid train.pool_size: expected 0 to 10000 images, found {}", t.pool_size);
        }
        Ok(())
    }

    /// D_A and D_B each see one domain's images: both augment them (the pool's fakes too).
    fn augments(&self) -> bool {
        true
    }

    fn build(&self, run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        let mut family = CycleFamily::new(self, cx)?;
        family.augment = crate::augment::Augment::new(&run.augment, &mut family.nets, cx.device);
        Ok(Box::new(family))
    }
}

/// The generated images of the `G` phase, for the `D` phase.
#[derive(Debug)]
struct Generated {
    fake_a: Tensor,
    fake_b: Tensor,
}

/// CycleGAN in training.
#[derive(Debug)]
pub struct CycleFamily {
    s: CycleRun,
    nets: Networks,
    g_id: NetId,
    d_id: NetId,
    /// A → B and B → A.
    g_ab: ResnetGenerator,
    g_ba: ResnetGenerator,
    /// D_A judges A, D_B judges B.
    d_a: PatchGan,
    d_b: PatchGan,
    pool_a: ImagePool,
    pool_b: ImagePool,
    device: Device,
    batches_per_epoch: Option<u64>,
    generated: Option<Generated>,
    phases: [Phase; 2],
    /// What D_A and D_B see of every image (`[augment]`; none by default).
    augment: crate::augment::Augment,
}

impl CycleFamily {
    /// Builds both generators, both discriminators and both image pools on `cx.device` (initial
    /// weights from libtorch's generator: seed it first); the learning-rate schedule needs
    /// `cx.batches_per_epoch`.
    pub fn new(s: &CycleRun, cx: &BuildContext) -> Result<Self> {
        s.model.validate().map_err(crate::error::Error::msg)?;
        let [ab, ba] = s.model.generators();
        let [da, db] = s.model.discriminators();
        let (vs_g, vs_d, aux) =
            (VarStore::new(cx.device), VarStore::new(cx.device), VarStore::new(cx.device));
        let g_ab = ResnetGenerator::new(vs_g.root() / "a2b", &ab);
        let g_ba = ResnetGenerator::new(vs_g.root() / "b2a", &ba);
        let d_a = PatchGan::new(vs_d.root() / "a", &da);
        let d_b = PatchGan::new(vs_d.root() / "b", &db);
        let size = s.model.size;
        let pool_a = ImagePool::new(aux.root() / "pool_a", s.train.pool_size, [s.model.channels_a, size]);
        let pool_b = ImagePool::new(aux.root() / "pool_b", s.train.pool_size, [s.model.channels_b, size]);
        let mut nets = Networks::new();
        let g_id = nets.trained("g", vs_g, s.train.g_opt, true);
        let d_id = nets.trained("d", vs_d, s.train.d_opt, false);
        nets.state("aux", aux);
        Ok(Self {
            s: s.clone(),
            nets,
            g_id,
            d_id,
            g_ab,
            g_ba,
            d_a,
            d_b,
            pool_a,
            pool_b,
            device: cx.device,
            batches_per_epoch: cx.batches_per_epoch,
            generated: None,
            phases: [Phase::fresh("G"), Phase::same_batch("D")],
            augment: Default::default(),
        })
    }

    /// Sets both learning rates for the epoch of step `k` (0-based); returns the factor.
    fn schedule(&mut self, k: u64) -> Result<f64> {
        let t = &self.s.train;
        let opts = [(self.g_id, t.g_opt.lr), (self.d_id, t.d_opt.lr)];
        epoch_schedule(&mut self.nets, &opts, self.batches_per_epoch, (t.epochs, t.epochs_decay), k)
    }

    fn g_step(&mut self, batch: &Batch, k: u64) -> Result<Scalars> {
        let factor = self.schedule(k)?;
        let (a, b) = (batch.inputs()?, &batch.images);
        let t = &self.s.train;
        let loss = self.s.loss.adversarial();
        let scale = authors_scale(loss);
        let fake_b = self.g_ab.forward(a, Mode::Train); // G(a)
        let rec_a = self.g_ba.forward(&fake_b, Mode::Train); // F(G(a))
        let fake_a = self.g_ba.forward(b, Mode::Train); // F(b)
        let rec_b = self.g_ab.forward(&fake_a, Mode::Train); // G(F(b))
        let gan_b = loss.g_loss(&self.d_b.forward(&self.augment.apply(&fake_b), Mode::Train), None) * scale;
        let gan_a = loss.g_loss(&self.d_a.forward(&self.augment.apply(&fake_a), Mode::Train), None) * scale;
        let (cyc_a, cyc_b) = (l1(&rec_a, a), l1(&rec_b, b));
        let mut total = &gan_a + &gan_b + (&cyc_a + &cyc_b) * t.cycle_weight;
        let mut out = vec![("lr_factor", factor)];
        if t.identity_weight > 0.0 && t.cycle_weight > 0.0 {
            // Only when the domains have the same channels (a grey → colour G cannot take B).
            if self.s.model.channels_a == self.s.model.channels_b {
                let idt_b = l1(&self.g_ab.forward(b, Mode::Train), b);
                let idt_a = l1(&self.g_ba.forward(a, Mode::Train), a);
                total += (&idt_a + &idt_b) * (t.cycle_weight * t.identity_weight);
                out.push(("g_identity", (idt_a + idt_b).double_value(&[])));
            }
        }
        self.nets.opt_mut(self.g_id).backward_step(&total);
        out.extend([
            ("g_loss", total.double_value(&[])),
            ("g_gan_a", gan_a.double_value(&[])),
            ("g_gan_b", gan_b.double_value(&[])),
            ("g_cycle_a", cyc_a.double_value(&[])),
            ("g_cycle_b", cyc_b.double_value(&[])),
        ]);
        self.generated = Some(Generated { fake_a: fake_a.detach(), fake_b: fake_b.detach() });
        Ok(out)
    }

    fn d_step(&mut self, batch: &Batch, k: u64) -> Result<Scalars> {
        let (a, b) = (batch.inputs()?, &batch.images);
        let Generated { fake_a, fake_b } = self.generated.take().expect("the G phase made the fakes");
        let loss = self.s.loss.adversarial();
        let half = 0.5 * authors_scale(loss);
        let (constraint, reg) = (self.s.loss.constraint(), &self.s.reg);
        let augment = &self.augment;
        let judge = |d: &PatchGan, real: &Tensor, fake: &Tensor| {
            // What D sees (augmented when `augment.diffaug` asks); the penalties take the same.
            let (real, fake) = (&augment.apply(real), &augment.apply(fake));
            let (real_out, fake_out) = (d.forward(real, Mode::Train), d.forward(fake, Mode::Train));
            let critic = |x: &Tensor| d.forward(x, Mode::Train);
            let adv = loss.d_loss(&real_out, &fake_out) * half;
            let extra = reg.total(constraint, &critic, real, fake, k);
            (adv, extra, real_out, fake_out)
        };
        let (fake_b, fake_a) = (self.pool_b.query(&fake_b), self.pool_a.query(&fake_a));
        // D_B first, then D_A (the order their penalties draw in); summed A then B.
        let (adv_b, extra_b, real_b_out, fake_b_out) = judge(&self.d_b, b, &fake_b);
        let (adv_a, extra_a, real_a_out, fake_a_out) = judge(&self.d_a, a, &fake_a);
        let critics = [
            Critic {
                adv: adv_a,
                extra: extra_a,
                real_out: &real_a_out,
                fake_out: &fake_a_out,
                names: ["d_a_real", "d_a_fake"],
            },
            Critic {
                adv: adv_b,
                extra: extra_b,
                real_out: &real_b_out,
                fake_out: &fake_b_out,
                names: ["d_b_real", "d_b_fake"],
            },
        ];
        let mut out = critic_step(&mut self.nets, self.d_id, constraint, reg, &critics);
        out.extend(self.augment.end_d_step(&[&real_a_out, &real_b_out]));
        Ok(out)
    }

    fn run(&self, g: &ResnetGenerator, x: &Tensor, channels: i64) -> Result<Tensor> {
        let (s, size) = (self.s.model.size, x.size());
        if size.len() != 4 || size[1..] != [channels, s, s] {
            bail!("this CycleGAN direction translates [N, {channels}, {s}, {s}] inputs, found {size:?}");
        }
        Ok(tch::no_grad(|| g.forward(&x.to_device(self.device), Mode::Eval)))
    }
}

impl Family for CycleFamily {
    fn phases(&self) -> &[Phase] {
        &self.phases
    }

    fn run_phase(&mut self, phase: usize, batch: &Batch, k: u64) -> Result<Scalars> {
        match phase {
            0 => self.g_step(batch, k),
            _ => self.d_step(batch, k),
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

impl Translator for CycleFamily {
    fn input_shape(&self) -> (i64, i64) {
        (self.s.model.channels_a, self.s.model.size)
    }

    fn output_shape(&self) -> (i64, i64) {
        (self.s.model.channels_b, self.s.model.size)
    }

    fn translate(&self, inputs: &Tensor) -> Result<Tensor> {
        self.run(&self.g_ab, inputs, self.s.model.channels_a)
    }

    fn reversible(&self) -> bool {
        true
    }

    fn translate_back(&self, inputs: &Tensor) -> Result<Tensor> {
        self.run(&self.g_ba, inputs, self.s.model.channels_b)
    }
}

/// The authors' CycleGAN optimisation: Adam(2e-4, 0.5, 0.999), λ = 10, λ_id = 0.5, pools of 50.
fn paper_train(epochs: u64, epochs_decay: u64) -> CycleTrain {
    CycleTrain {
        g_opt: AdamConfig::dcgan(),
        d_opt: AdamConfig::dcgan(),
        cycle_weight: 10.0,
        identity_weight: 0.5,
        pool_size: 50,
        epochs,
        epochs_decay,
    }
}

fn cyclegan(
    name: &str,
    data: &str,
    model: CycleGanConfig,
    (batch, steps): (usize, u64),
    train: CycleTrain,
    loader: LoaderConfig,
    features: &str,
) -> RunConfig {
    let family =
        FamilyConfig::new(CycleRun { loss: LossChoice::Lsgan, reg: Penalties::default(), model, train });
    RunConfig {
        loader,
        log: LogConfig { grid: 16, ..Default::default() },
        eval: crate::presets::features(features),
        ..crate::presets::base(name, data, (batch, steps), family)
    }
}

/// The paper's horse2zebra setting (the authors' defaults): 256×256 RGB, 9-block ResNet
/// generators, the 70×70 PatchGAN, instance norm, batch 1, jitter (286 → 256) and flips, 100
/// epochs then 100 of decay over the larger domain (horse2zebra's 1,334 zebras: 266,800 steps).
/// Point `data` at a folder in the authors' layout.
fn horse2zebra() -> RunConfig {
    let loader = LoaderConfig { jitter: 286, ..crate::presets::loader(true) };
    cyclegan(
        "cyclegan-horse2zebra",
        "horse2zebra",
        CycleGanConfig::paper256(),
        (1, 266_800),
        paper_train(100, 100),
        loader,
        "inception",
    )
}

/// UCI 8×8 digits ↔ MNIST (`cargo xtask datasets derive digits2mnist`), 28×28 padded to 32×32,
/// grey both ways: 4-block generators of 16 filters, PatchGANs of 16, batch 4 (sized for a CPU:
/// 3,000 steps in minutes), identity loss off (a digit's stroke style is what changes).
fn digits2mnist() -> RunConfig {
    let model = CycleGanConfig {
        size: 32,
        channels_a: 1,
        channels_b: 1,
        ngf: 16,
        ndf: 16,
        n_blocks: 4,
        ..CycleGanConfig::paper256()
    };
    let train = CycleTrain { identity_weight: 0.0, ..paper_train(1, 1) };
    cyclegan(
        "cyclegan-digits2mnist",
        "digits2mnist",
        model,
        (4, 3000),
        train,
        crate::presets::loader(false),
        "mnist",
    )
}

/// CIFAR-10 horses ↔ deer (`cargo xtask datasets derive horse2deer`), 32×32 RGB, 6-block
/// generators of 32 filters, batch 1 as the paper, flips, 4,000 steps.
fn horse2deer() -> RunConfig {
    let model = CycleGanConfig { size: 32, ngf: 32, ndf: 32, n_blocks: 6, ..CycleGanConfig::paper256() };
    cyclegan(
        "cyclegan-horse2deer",
        "horse2deer",
        model,
        (1, 4000),
        paper_train(2, 2),
        crate::presets::loader(true),
        "inception",
    )
}

/// The CycleGAN presets.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "cyclegan-digits2mnist",
        summary: "CycleGAN, UCI digits <-> MNIST at 32x32 (xtask datasets derive digits2mnist)",
        build: digits2mnist,
    },
    Preset {
        name: "cyclegan-horse2deer",
        summary: "CycleGAN, CIFAR-10 horses <-> deer at 32x32 (xtask datasets derive horse2deer)",
        build: horse2deer,
    },
    Preset {
        name: "cyclegan-horse2zebra",
        summary: "CycleGAN with the paper's 256x256 settings; data=PATH to a trainA/trainB folder",
        build: horse2zebra,
    },
];
