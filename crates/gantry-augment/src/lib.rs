//! gantry-augment: augmentations applied to every image a GAN's discriminator sees, real and
//! fake, differentiably, so that G's gradient passes through them.
//!
//! - [`DiffAugment`]: Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
//!   Training" — the policies `color`, `translation` and `cutout` as the authors'
//!   `DiffAugment_pytorch.py` computes them, drawing from libtorch's generator in the same order
//!   (the same seed gives the same augmented batch as their function).
//!
//! - [`AugmentPipe`]: StyleGAN2-ADA's adaptive discriminator augmentation pipe (Karras et al.
//!   2020) — blitting, geometry, colour, filtering, corruptions, each with probability p — and
//!   [`Adaptive`], their heuristic that steers p by the sign of D's scores on reals.
//!
//! Per-sample draws go through [`gantry_core::parallel`], so a data-parallel run augments each
//! rank's rows as one process augments the whole batch.

#![warn(missing_docs, missing_debug_implementations)]

pub mod ada;
pub mod diffaug;

pub use ada::{Adaptive, AugmentPipe, Spec};
pub use diffaug::{DiffAugment, Policy, PolicyError};
