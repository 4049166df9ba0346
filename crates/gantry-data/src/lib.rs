//! gantry-data: real datasets and toy distributions, read strictly, batched reproducibly.
//!
//! - Readers with validation: [`idx`] (MNIST, Fashion-MNIST; raw or `.gz`), [`cifar`] (CIFAR-10
//!   binary batches), [`folder`] (image folders and `.tar.gz` archives with class folders, optional
//!   `train/`/`test/` split folders), [`csv`] (the mnist-5k layout).
//! - [`source::load`] resolves a data spec — a manifest name (`mnist`, `cifar10-jpg`, …), the
//!   embedded default `mnist-5k`, or a path — to an [`ImageDataset`] of u8 pixels, fitted to the
//!   model's size and channels ([`dataset::Fit`]).
//! - [`batcher::Batcher`]: every example exactly once per epoch in an order derived from
//!   (run seed, epoch); a last-partial-batch policy; random horizontal flips; output NCHW in [-1, 1].
//! - [`derive`]: gantry-made paired sets (edges → Fashion-MNIST, grey → colour CIFAR-10).
//! - [`paired`]: `A|B` image pairs in the pix2pix authors' layout (`train/`, `val/`, `test/`).
//! - [`unpaired`]: two unpaired image domains in the CycleGAN authors' layout (`trainA/`, `trainB/`, …).
//! - [`prepare`]: `gantry dataset prepare` — a messy folder of photos to S×S PNGs with a manifest,
//!   resized by [`resample`] (Pillow's filters, byte for byte).
//! - [`toy`]: the ring of 8 Gaussians, the 5×5 grid, the 1-D Gaussian, and mode-coverage scores.

#![warn(missing_docs, missing_debug_implementations)]

pub mod batcher;
pub mod cifar;
pub mod csv;
pub mod dataset;
pub mod decode;
pub mod derive;
pub mod error;
pub mod folder;
pub mod idx;
pub mod image_file;
pub mod paired;
pub mod prepare;
pub mod resample;
pub mod source;
pub mod toy;
pub mod unpaired;

pub use batcher::{Batch, Batcher, LastBatch};
pub use dataset::{Fit, ImageDataset, SkipReason, Skipped, Split};
pub use error::{DataError, Result};
pub use source::{load, LoadOptions};
