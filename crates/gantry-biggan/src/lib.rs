//! gantry-biggan: BigGAN (Brock, Donahue, Simonyan, "Large Scale GAN Training for High Fidelity
//! Natural Image Synthesis", ICLR 2019) on libtorch, layer for layer as ajbrock/BigGAN-PyTorch
//! (`BigGAN.py`, `layers.py`), whose state-dict names it keeps; parity with their modules is
//! tested on fixtures their code made (`tests/fixtures/make_biggan.py`).
//!
//! | module | what |
//! |---|---|
//! | [`layers`] | their spectral norm, SN convolution/linear/embedding, class-conditional BatchNorm, output BatchNorm, self-attention |
//! | [`networks`] | G (shared embedding, hierarchical z) and the projection D, their architecture tables |
//! | [`ortho`] | orthogonal regularisation, the paper's form and their code's |
//! | [`family`] | the gantry family (`model.arch = "biggan"`), its presets, [`family::register`] |

#![warn(missing_docs, missing_debug_implementations)]

pub mod family;
pub mod layers;
pub mod networks;
pub mod ortho;

pub use layers::{Classes, InitStyle};
pub use networks::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};
