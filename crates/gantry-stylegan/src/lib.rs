//! gantry-stylegan: StyleGAN2 (Karras et al. 2020) on libtorch, layer for layer as NVIDIA's
//! StyleGAN2-ADA (`training/networks.py`), whose parameter names and shapes it keeps: a state
//! dict exported from that code loads into these networks, and parity tests compare outputs with
//! fixtures the reference produced (`tests/fixtures/make_fixtures.py`).
//!
//! | module | what |
//! |---|---|
//! | [`ops`] | `upfirdn2d`, `conv2d_resample`, `bias_act` (the reference implementations' paths) |
//! | [`layers`] | equalised-lr FC and conv, modulated convolution, AdaIN, synthesis layer, toRGB, mapping network |
//! | [`networks`] | synthesis block and network, generator, residual discriminator, configuration |
//! | [`explore`] | style-mixing and noise grids (what styles and noise control) |
//! | [`invert`] | GAN inversion: the projector (W, W⁺), encoder + optimisation, pivotal tuning; class-mean edits |

#![warn(missing_docs, missing_debug_implementations)]

pub mod error;
pub mod explore;
pub mod invert;
pub mod layers;
pub mod networks;
pub mod ops;

pub use layers::{MappingNetwork, NoiseMode, StyleOp, Truncation};
pub use networks::{Discriminator, Generator, StyleGan2Config, SynthesisOptions};
