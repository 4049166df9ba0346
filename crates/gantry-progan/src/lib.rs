//! gantry-progan: progressive growing of GANs (Karras et al. 2018, "Progressive Growing of GANs
//! for Improved Quality, Stability, and Variation"), as the authors' code
//! (`tkarras/progressive_growing_of_gans`, `networks.py`) builds it.
//!
//! | module | what | paper |
//! |---|---|---|
//! | [`layers`] | equalised learning rate (`w·c` at run time, `c = gain/√fan_in`), pixel-wise feature normalisation | §4.1, §4.2 |
//! | [`networks`] | G and D that grow 4×4 → 8×8 → … with a fade-in α blending the old and the new path | §3, Fig. 2 |
//! | [`schedule`] | which resolution and α a number of images seen trains at | §3, App. A.1 |
//!
//! Training uses WGAN-GP with the ε-drift term `ε·E[D(x)²]` (ε = 0.001, App. A.1): see
//! `gantry_losses::penalty::drift_penalty`. The minibatch standard deviation layer is
//! [`gantry_nn::MinibatchStdDev`] (§3).

#![warn(missing_docs, missing_debug_implementations)]

pub mod layers;
pub mod networks;
pub mod schedule;

pub use layers::{pixel_norm, EqConv2d, EqLinear};
pub use networks::{Discriminator, Generator, ProganConfig};
pub use schedule::{Growth, Schedule};
