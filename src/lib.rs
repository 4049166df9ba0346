//! gantry: generative adversarial networks on libtorch.
//!
//! This facade re-exports every gantry crate under one name; depend on the individual crates
//! (`gantry-losses`, `gantry-data`, …) to take only what you need.
//!
//! | module | crate | holds |
//! |---|---|---|
//! | [`augment`] | gantry-augment | DiffAugment's policies, as the authors' PyTorch code draws them |
//! | [`biggan`] | gantry-biggan | BigGAN as BigGAN-PyTorch: class-conditional BN, shared embedding, hierarchical z, attention, projection D; its family and presets |
//! | [`autoenc`] | gantry-autoenc | the adversarial autoencoder (priors, latent D) and the VAE-GAN's networks |
//! | [`core`] | gantry-core | tensors ↔ images, devices and seeds, checkpoints, Adam with exportable state |
//! | [`data`] | gantry-data | IDX, CIFAR binary, image folders/archives, CSV digits, toys, the seeded batcher |
//! | [`losses`] | gantry-losses | adversarial losses on logits, penalties, content and VAE terms, each with its equation |
//! | [`dcgan`] | gantry-dcgan | DCGAN and the toy MLP GANs |
//! | [`dist`] | gantry-dist | PyTorch's c10d from Rust: process groups (Gloo; NCCL under a feature) and their collectives |
//! | [`cond`] | gantry-cond | cGAN, conditional BN, projection discriminator, ACGAN, InfoGAN |
//! | [`metrics`] | gantry-metrics | Fréchet distance/FID, KID, IS, precision/recall, density/coverage, Inception and domain classifiers |
//! | [`nn`] | gantry-nn | spectral norm, minibatch discrimination and stddev, truncation, generator EMA, LeakyReLU |
//! | [`progan`] | gantry-progan | progressive growing: equalised lr, pixel norm, fade-in growth of G and D, the schedule |
//! | [`stylegan`] | gantry-stylegan | StyleGAN2 as StyleGAN2-ADA: modulated convolution, mapping, skip G, residual D |
//! | [`translate`] | gantry-translate | image-to-image networks as the pix2pix authors': U-Net, PatchGAN |
//! | [`train`] | gantry-train | run configs, presets, the model families, the training loop, sampling and evaluation |
//!
//! The `gantry` binary is the gantry-cli package; the figures are gantry-repro.

pub use gantry_augment as augment;
pub use gantry_autoenc as autoenc;
pub use gantry_biggan as biggan;
pub use gantry_cond as cond;
pub use gantry_core as core;
pub use gantry_data as data;
pub use gantry_dcgan as dcgan;
pub use gantry_dist as dist;
pub use gantry_losses as losses;
pub use gantry_metrics as metrics;
pub use gantry_nn as nn;
pub use gantry_progan as progan;
pub use gantry_stylegan as stylegan;
pub use gantry_train as train;
pub use gantry_translate as translate;
pub use tch;
