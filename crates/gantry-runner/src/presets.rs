//! Named starting points, each a complete [`RunConfig`]. `gantry presets` lists them.

use anyhow::{bail, Result};
use gantry_cond::{CondConfig, DCond, GCond, InfoGanConfig};
use gantry_core::optim::AdamConfig;
use gantry_data::{Fit, LastBatch, Split};
use gantry_dcgan::{DNorm, DcganConfig, MlpConfig};
use gantry_nn::EmaConfig;
use gantry_progan::ProganConfig;
use gantry_stylegan::StyleGan2Config;

use crate::config::{
    EvalConfig, LoaderConfig, LogConfig, LossChoice, ModelConfig, RegConfig, RunConfig, TrainConfig,
};

/// A named configuration.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    pub summary: &'static str,
    build: fn() -> RunConfig,
}

impl Preset {
    pub fn config(&self) -> RunConfig {
        (self.build)()
    }
}

fn loader(hflip: bool) -> LoaderConfig {
    LoaderConfig { split: Split::Train, fit: Fit::Auto, hflip, last_batch: LastBatch::Drop }
}

fn dcgan_train() -> TrainConfig {
    TrainConfig::plain(AdamConfig::dcgan(), AdamConfig::dcgan())
}

/// DCGAN on MNIST padded to 32×32, by default the embedded 5k digits: the demo.
fn dcgan_mnist() -> RunConfig {
    RunConfig {
        preset: "dcgan-mnist".into(),
        data: "mnist-5k".into(),
        seed: 0,
        steps: 5000,
        batch_size: 64,
        threads: 0,
        loss: LossChoice::NonSaturating,
        reg: RegConfig::default(),
        model: ModelConfig::Dcgan(DcganConfig::mnist()),
        train: dcgan_train(),
        loader: loader(false),
        log: LogConfig { every: 50, sample_every: 500, checkpoint_every: 1000, ..Default::default() },
        eval: EvalConfig { features: "mnist".into(), ..Default::default() },
    }
}

/// SN-DCGAN on MNIST (Miyato et al. 2018): spectrally normalised D without BatchNorm, hinge loss,
/// the TTUR Adam pair (β1 = 0, β2 = 0.9, lr_G 1e-4, lr_D 4e-4), and an EMA generator.
fn sngan_mnist() -> RunConfig {
    let (g_opt, d_opt) = AdamConfig::ttur();
    RunConfig {
        preset: "sngan-mnist".into(),
        loss: LossChoice::Hinge,
        model: ModelConfig::Dcgan(DcganConfig { d_norm: DNorm::Spectral, ..DcganConfig::mnist() }),
        train: TrainConfig {
            ema: EmaConfig { half_life_kimg: 10.0, rampup: 0.05 },
            ..TrainConfig::plain(g_opt, d_opt)
        },
        ..dcgan_mnist()
    }
}

/// WGAN-GP on MNIST (Gulrajani et al. 2017, Algorithm 1): λ = 10, n_critic = 5, Adam(1e-4, 0, 0.9),
/// a critic without BatchNorm.
fn wgan_gp_mnist() -> RunConfig {
    let adam = AdamConfig::wgan_gp();
    RunConfig {
        preset: "wgan-gp-mnist".into(),
        loss: LossChoice::WganGp,
        model: ModelConfig::Dcgan(DcganConfig { d_norm: DNorm::None, ..DcganConfig::mnist() }),
        train: TrainConfig { d_steps: 5, ..TrainConfig::plain(adam, adam) },
        ..dcgan_mnist()
    }
}

/// A class-conditional DCGAN on MNIST (or Fashion-MNIST when `fashion`): a 10×10 sample grid,
/// one class per column.
fn conditional(name: &str, fashion: bool, model: ModelConfig) -> RunConfig {
    let base = dcgan_mnist();
    RunConfig {
        preset: name.into(),
        data: if fashion { "fashion-mnist".into() } else { "mnist-5k".into() },
        model,
        log: LogConfig { grid: 100, ..base.log.clone() },
        eval: EvalConfig {
            features: if fashion { "fashion-mnist".into() } else { "mnist".into() },
            ..base.eval.clone()
        },
        ..base
    }
}

/// cGAN (Mirza & Osindero 2014): label embedding concatenated to z, label maps to D's input.
fn cgan(fashion: bool) -> RunConfig {
    let name = if fashion { "cgan-fashion" } else { "cgan-mnist" };
    conditional(name, fashion, ModelConfig::Cond(CondConfig::cgan_mnist()))
}

/// Miyato & Koyama 2018: conditional BatchNorm in G, projection D with spectral norm, hinge loss,
/// Adam(2e-4, 0.5, 0.999) with one D step (Miyato et al. 2018's setting C; their TTUR-like setting
/// learned much more slowly here: 53% class accuracy after 3,000 steps).
fn projection(fashion: bool) -> RunConfig {
    let name = if fashion { "projection-fashion" } else { "projection-mnist" };
    let model = CondConfig {
        g_cond: GCond::Cbn,
        d_cond: DCond::Projection,
        d_norm: DNorm::Spectral,
        ..CondConfig::cgan_mnist()
    };
    RunConfig {
        loss: LossChoice::Hinge,
        train: TrainConfig::plain(AdamConfig::dcgan(), AdamConfig::dcgan()),
        ..conditional(name, fashion, ModelConfig::Cond(model))
    }
}

/// ACGAN (Odena et al. 2017): label embedding in G, D with a realness and a class head, D's class
/// loss on real images only, and a spectrally normalised D (with BatchNorm in D, G collapsed
/// within classes and drew a 0 as a 9: 83.2% class accuracy after 3,000 steps; with SN 97.5%).
fn acgan(fashion: bool) -> RunConfig {
    let name = if fashion { "acgan-fashion" } else { "acgan-mnist" };
    let model = CondConfig { d_cond: DCond::Acgan, d_norm: DNorm::Spectral, ..CondConfig::cgan_mnist() };
    conditional(name, fashion, ModelConfig::Cond(model))
}

/// InfoGAN (Chen et al. 2016): 62 noise dims, Cat(10), 2 continuous codes, λ = 1, the paper's
/// MNIST networks (FC 1024 in G and D, BatchNorm in Q) and learning rates (Appendix C.1: 2e-4 for
/// D, 1e-3 for G; β1 = 0.5). Without the FC layers the categorical code took 69% purity at best:
/// z carried the digit as much as c₁ did.
fn infogan(fashion: bool) -> RunConfig {
    let name = if fashion { "infogan-fashion" } else { "infogan-mnist" };
    let d_opt = AdamConfig::dcgan();
    RunConfig {
        train: TrainConfig::plain(AdamConfig { lr: 1e-3, ..d_opt }, d_opt),
        ..conditional(name, fashion, ModelConfig::Infogan(InfoGanConfig::paper_mnist()))
    }
}

/// DCGAN on CIFAR-10 (binary version), 32×32×3.
fn dcgan_cifar10() -> RunConfig {
    RunConfig {
        preset: "dcgan-cifar10".into(),
        data: "cifar10".into(),
        steps: 30_000,
        model: ModelConfig::Dcgan(DcganConfig::cifar10()),
        loader: loader(true),
        log: LogConfig { every: 100, sample_every: 1000, checkpoint_every: 5000, ..Default::default() },
        eval: EvalConfig::default(),
        ..dcgan_mnist()
    }
}

/// The paper's 64×64 DCGAN on any image folder; by default the ORL faces (grey).
fn dcgan_64() -> RunConfig {
    RunConfig {
        preset: "dcgan-64".into(),
        data: "orl-faces".into(),
        steps: 5000,
        model: ModelConfig::Dcgan(DcganConfig {
            channels: 0,
            g_width: 64,
            d_width: 64,
            ..DcganConfig::default()
        }),
        loader: loader(true),
        log: LogConfig { every: 50, sample_every: 500, checkpoint_every: 1000, ..Default::default() },
        eval: EvalConfig::default(),
        ..dcgan_mnist()
    }
}

/// StyleGAN2 (Karras et al. 2020) as StyleGAN2-ADA trains it: Adam(0.0025, β = (0, 0.99),
/// ε = 1e-8), non-saturating logistic loss, lazy R1 every 16 D steps, path length regularisation
/// (weight 2, every 4 G steps, half batch), style mixing with p = 0.9, EMA half-life 10 kimg ×
/// batch/32 with ramp-up 0.05. `data`, `model` and γ vary by preset.
fn stylegan2(name: &str, data: &str, model: StyleGan2Config, batch: usize, r1: f64) -> RunConfig {
    let adam = AdamConfig { lr: 0.0025, beta1: 0.0, beta2: 0.99, eps: 1e-8, weight_decay: 0.0 };
    RunConfig {
        preset: name.into(),
        data: data.into(),
        seed: 0,
        steps: 5000,
        batch_size: batch,
        threads: 0,
        loss: LossChoice::NonSaturating,
        reg: RegConfig { r1, every: 16, pl_weight: 2.0, style_mixing: 0.9, ..RegConfig::default() },
        model: ModelConfig::Stylegan2(model),
        train: TrainConfig { ema: EmaConfig::stylegan2(batch), ..TrainConfig::plain(adam, adam) },
        loader: loader(false),
        log: LogConfig { every: 50, sample_every: 500, checkpoint_every: 1000, ..Default::default() },
        eval: EvalConfig { features: "mnist".into(), ..Default::default() },
    }
}

/// A small StyleGAN2 on 32×32 digits (the embedded 5k), γ = 0.01 (StyleGAN2-ADA's CIFAR value).
fn stylegan2_mnist() -> RunConfig {
    stylegan2("stylegan2-mnist", "mnist-5k", StyleGan2Config::small32(), 32, 0.01)
}

/// stylegan2-mnist on Fashion-MNIST.
fn stylegan2_fashion() -> RunConfig {
    RunConfig {
        eval: EvalConfig { features: "fashion-mnist".into(), ..Default::default() },
        ..stylegan2("stylegan2-fashion", "fashion-mnist", StyleGan2Config::small32(), 32, 0.01)
    }
}

/// A small StyleGAN2 on the ORL faces at 64×64 (grey), γ = 0.05, horizontal flips.
fn stylegan2_orl() -> RunConfig {
    let model = StyleGan2Config { resolution: 64, channel_base: 2048, ..StyleGan2Config::small32() };
    RunConfig {
        loader: loader(true),
        eval: EvalConfig::default(),
        ..stylegan2("stylegan2-orl", "orl-faces", model, 32, 0.05)
    }
}

/// Progressive growing as the ProGAN paper trains it (Karras et al. 2018, App. A.1): WGAN-GP
/// (λ = 10) with the ε-drift term (ε = 0.001), one D step per G step, Adam(0.001, β = (0, 0.99),
/// ε = 1e-8), G's EMA with a half-life of 10k images, equalised learning rate, pixel norm and
/// minibatch stddev in the networks. The paper's batch shrinks as the resolution grows; these
/// presets keep it fixed.
fn progan(name: &str, data: &str, model: ProganConfig, features: &str, hflip: bool) -> RunConfig {
    let adam = AdamConfig { lr: 0.001, beta1: 0.0, beta2: 0.99, eps: 1e-8, weight_decay: 0.0 };
    let steps = (model.schedule().images_to_full() + (model.stable_kimg * 1000.0) as u64) / 32;
    RunConfig {
        preset: name.into(),
        data: data.into(),
        seed: 0,
        steps,
        batch_size: 32,
        threads: 0,
        loss: LossChoice::WganGp,
        reg: RegConfig { gp: 10.0, drift: 0.001, ..RegConfig::default() },
        model: ModelConfig::Progan(model),
        train: TrainConfig {
            ema: EmaConfig { half_life_kimg: 10.0, rampup: 0.0 },
            ..TrainConfig::plain(adam, adam)
        },
        loader: loader(hflip),
        log: LogConfig { every: 50, sample_every: 500, checkpoint_every: 1000, ..Default::default() },
        eval: EvalConfig { features: features.into(), ..Default::default() },
    }
}

/// ProGAN growing 4×4 → 32×32 on the embedded 5k digits, 16k images per phase.
fn progan_mnist() -> RunConfig {
    progan("progan-mnist", "mnist-5k", ProganConfig::small32(), "mnist", false)
}

/// progan-mnist on Fashion-MNIST.
fn progan_fashion() -> RunConfig {
    progan("progan-fashion", "fashion-mnist", ProganConfig::small32(), "fashion-mnist", false)
}

/// ProGAN growing 4×4 → 64×64 on the ORL faces (grey, horizontal flips).
fn progan_orl() -> RunConfig {
    let model = ProganConfig { resolution: 64, fmap_base: 4096, ..ProganConfig::small32() };
    progan("progan-orl", "orl-faces", model, "inception", true)
}

/// StyleGAN2-ADA's `paper256` configuration (FFHQ/LSUN at 256×256, for GPU boxes): batch 64,
/// γ = 1, EMA half-life 20 kimg without ramp-up, minibatch stddev groups of 8. Point `data` at an
/// image folder; the default ORL faces are upscaled.
fn stylegan2_paper256() -> RunConfig {
    let model = StyleGan2Config { mbstd_group: 8, ..StyleGan2Config::paper256() };
    let base = stylegan2("stylegan2-paper256", "orl-faces", model, 64, 1.0);
    RunConfig {
        steps: 400_000,
        train: TrainConfig { ema: EmaConfig { half_life_kimg: 20.0, rampup: 0.0 }, ..base.train.clone() },
        loader: loader(true),
        log: LogConfig { every: 100, sample_every: 2000, checkpoint_every: 10_000, ..Default::default() },
        eval: EvalConfig::default(),
        ..base
    }
}

/// MLP GAN on the ring of 8 Gaussians (Metz et al. 2017's setting: Adam 1e-4, β1 = 0.5).
fn toy_ring() -> RunConfig {
    let adam = AdamConfig { lr: 1e-4, beta1: 0.5, beta2: 0.999, ..Default::default() };
    RunConfig {
        preset: "toy-ring".into(),
        data: "ring".into(),
        seed: 0,
        steps: 5000,
        batch_size: 256,
        threads: 0,
        loss: LossChoice::NonSaturating,
        reg: RegConfig::default(),
        model: ModelConfig::Mlp(MlpConfig::default()),
        train: TrainConfig::plain(adam, adam),
        loader: loader(false),
        log: LogConfig {
            every: 100,
            sample_every: 1000,
            checkpoint_every: 1000,
            grid: 1024,
            ..Default::default()
        },
        eval: EvalConfig::default(),
    }
}

const PRESETS: &[Preset] = &[
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
        name: "cgan-mnist",
        summary: "cGAN on MNIST: label embedding into G, label maps into D",
        build: || cgan(false),
    },
    Preset { name: "cgan-fashion", summary: "cgan-mnist on Fashion-MNIST", build: || cgan(true) },
    Preset {
        name: "projection-mnist",
        summary: "conditional-BN G, projection D with spectral norm, hinge loss (Miyato & Koyama 2018)",
        build: || projection(false),
    },
    Preset {
        name: "projection-fashion",
        summary: "projection-mnist on Fashion-MNIST",
        build: || projection(true),
    },
    Preset {
        name: "acgan-mnist",
        summary: "ACGAN on MNIST: D with realness and class heads",
        build: || acgan(false),
    },
    Preset { name: "acgan-fashion", summary: "acgan-mnist on Fashion-MNIST", build: || acgan(true) },
    Preset {
        name: "infogan-mnist",
        summary: "InfoGAN on MNIST with the paper's networks: 62 noise dims, Cat(10), 2 continuous codes",
        build: || infogan(false),
    },
    Preset { name: "infogan-fashion", summary: "infogan-mnist on Fashion-MNIST", build: || infogan(true) },
    Preset {
        name: "dcgan-cifar10",
        summary: "DCGAN, CIFAR-10 32x32x3 (binary version; data=cifar10-jpg for the JPEG mirror)",
        build: dcgan_cifar10,
    },
    Preset {
        name: "dcgan-64",
        summary: "DCGAN at 64x64 on an image folder (default: ORL faces; data=PATH for yours)",
        build: dcgan_64,
    },
    Preset {
        name: "stylegan2-mnist",
        summary:
            "a small StyleGAN2 (32x32, 2-layer mapping) on MNIST: style mixing, path length reg, lazy R1, EMA",
        build: stylegan2_mnist,
    },
    Preset {
        name: "stylegan2-fashion",
        summary: "stylegan2-mnist on Fashion-MNIST",
        build: stylegan2_fashion,
    },
    Preset {
        name: "stylegan2-orl",
        summary: "a small StyleGAN2 on the ORL faces at 64x64",
        build: stylegan2_orl,
    },
    Preset {
        name: "stylegan2-paper256",
        summary: "StyleGAN2-ADA's paper256 settings (256x256, 8-layer mapping, batch 64) for GPU boxes",
        build: stylegan2_paper256,
    },
    Preset {
        name: "progan-mnist",
        summary:
            "progressive growing 4x4 -> 32x32 on MNIST: WGAN-GP + drift, equalised lr, pixel norm, fade-in",
        build: progan_mnist,
    },
    Preset { name: "progan-fashion", summary: "progan-mnist on Fashion-MNIST", build: progan_fashion },
    Preset {
        name: "progan-orl",
        summary: "progressive growing 4x4 -> 64x64 on the ORL faces",
        build: progan_orl,
    },
    Preset {
        name: "toy-ring",
        summary: "MLP GAN on the ring of 8 Gaussians (data=grid for the 5x5 grid)",
        build: toy_ring,
    },
];

/// Every preset.
pub fn all() -> &'static [Preset] {
    PRESETS
}

/// The preset called `name`.
pub fn find(name: &str) -> Result<Preset> {
    match PRESETS.iter().find(|p| p.name == name) {
        Some(p) => Ok(*p),
        None => bail!(
            "unknown preset '{name}': expected one of {}",
            PRESETS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
        ),
    }
}
