//! gantry-train: the training library — run configs, presets, the model families, the loop,
//! run folders, sampling and evaluation. The `gantry` binary (gantry-cli) and the figures
//! (gantry-repro) are thin layers over it; it builds and tests without them.
//!
//! - [`config::RunConfig`]: the common settings plus the family's own ([`config::Recipe`]);
//!   `--set key=value` overrides.
//! - [`family`]: what a family is to the loop — its [`family::Networks`], its [`family::Phase`]s,
//!   its [`family::DataNeeds`]; [`capability`]: what a trained model can do (draw from latents,
//!   draw a class, translate an image, …), asked one capability at a time.
//! - [`registry::Registry`]: the families a process knows (gantry's, plus any a crate registers).
//! - [`recipes`]: one file per family (DCGAN and the toy MLPs, conditional GANs, InfoGAN,
//!   StyleGAN2, ProGAN, pix2pix) with its presets ([`presets`]).
//! - [`train`]: start or resume a run; [`data`]: the training data; [`preview`]: the sample
//!   grids; [`run_dir::RunDir`]: `config.toml`, `checkpoints/`, `samples/`, `metrics.jsonl`;
//!   [`tensorboard`]: the run's TensorBoard event files; [`report`]: `report.html` and run
//!   comparisons; [`chart`]: the line charts of reports and figures.
//! - [`generate`]: sample, interpolate, traverse from checkpoints; [`eval`]: FID, KID, IS,
//!   precision/recall/density/coverage between sources; [`inversion`]: StyleGAN2 inversion with
//!   gantry's domain classifiers.

#![warn(missing_docs, missing_debug_implementations)]

pub mod augment;
pub mod capability;
pub mod chart;
pub mod config;
pub mod data;
pub mod dist;
pub mod error;
pub use error::{Error, Result};
pub mod eval;
pub mod explore;
pub mod family;
pub mod generate;
pub mod harness;
pub mod inversion;
pub mod perf;
pub mod plot;
pub mod presets;
pub mod preview;
pub mod recipes;
pub mod registry;
pub mod report;
pub mod run_dir;
pub mod stop;
pub mod tensorboard;
pub mod tile;
pub mod train;
