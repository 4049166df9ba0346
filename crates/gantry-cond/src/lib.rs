//! gantry-cond: three ways to put a steering wheel on a generator.
//!
//! | module | what | reference |
//! |---|---|---|
//! | [`cbn`] | conditional BatchNorm: per-class γ and β | de Vries et al. 2017; Miyato & Koyama 2018 |
//! | [`cgan`] | class-conditional G (label embedding concatenated to z, or conditional BN) and D (label as extra input channels, projection, or ACGAN's class head) | Mirza & Osindero 2014; Miyato & Koyama 2018; Odena et al. 2017 |
//! | [`infogan`] | G on [z; c] with categorical and continuous codes, D with a Q head, the mutual-information lower bound | Chen et al. 2016 |
//!
//! The networks are DCGAN's (`gantry-dcgan`) at any power-of-two resolution; the discriminators
//! reuse its convolutional body and normalisation options (`d_norm`).

#![warn(missing_docs, missing_debug_implementations)]

pub mod cbn;
pub mod cgan;
pub mod infogan;

pub use cbn::ConditionalBatchNorm2d;
pub use cgan::{CondConfig, CondDiscriminator, CondGenerator, DCond, GCond};
pub use infogan::{info_generator, info_loss, InfoDiscriminator, InfoGanConfig};
