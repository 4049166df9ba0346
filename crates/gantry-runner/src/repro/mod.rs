//! Reproducible figures: each writes PNG plots and a JSON/markdown summary, and has a `--check`
//! mode (tiny budget, assertions on the numbers) that tests run so the code behind a figure
//! cannot silently rot. Driven by `cargo xtask repro NAME` through the `gantry-repro` binary.

use std::path::PathBuf;

use tch::Device;

pub mod chart;
pub mod collapse;
pub mod conditioning;
pub mod divergences;
pub mod truncation;

/// The figure sets, with one line each.
pub const FIGURES: &[(&str, &str)] = &[
    (
        "divergences",
        "JSD vs W1 under separation, vanishing gradients, the toy GAN, mode collapse on the ring",
    ),
    (
        "collapse",
        "mode collapse on the ring and MNIST: NS vs minibatch discrimination vs unrolled vs WGAN-GP",
    ),
    (
        "conditioning",
        "cGAN, projection and ACGAN class accuracy, InfoGAN code purity and traversals, on MNIST",
    ),
    (
        "truncation",
        "precision, recall, density, coverage and FID as the truncation τ or ψ varies (MNIST DCGAN)",
    ),
];

/// Where to write, how big a budget, which device.
#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    /// Tiny budgets and assertions instead of the full figures.
    pub check: bool,
    pub device: Device,
}
