//! gantry-biggan: BigGAN (Brock, Donahue, Simonyan, "Large Scale GAN Training for High Fidelity
//! Natural Image Synthesis", ICLR 2019) on libtorch, layer for layer as ajbrock/BigGAN-PyTorch
//! (`BigGAN.py`, `layers.py`), whose state-dict names it keeps; parity with their modules is
//! tested on fixtures their code made (`tests/fixtures/make_biggan.py`).
//!
//! | module | what |
//! |---|---|
//! | [`layers`] | their spectral norm, SN convolution/linear/embedding, class-conditional BatchNorm, output BatchNorm, self-attention |
//! | [`networks`] | G (shared embedding, hierarchical z) and the projection D, their architecture tables |

#![warn(missing_docs, missing_debug_implementations)]

pub mod layers;
pub mod networks;

pub use layers::{Classes, InitStyle};
pub use networks::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig};
