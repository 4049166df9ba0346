//! gantry-runner: the training loop, recipes, presets, run folders and the `gantry` command line.
//!
//! - [`config::RunConfig`]: model + loss + optimisers + data + schedule; `--set key=value` overrides.
//! - [`presets`]: the named configurations (`gantry presets`).
//! - [`recipe::Recipe`]: what a step means for a family; [`recipe::GanRecipe`] serves DCGAN and the
//!   toy MLPs, [`cond_recipe`] the class-conditional models and InfoGAN, [`stylegan_recipe`]
//!   StyleGAN2, [`progan_recipe`] progressive growing.
//! - [`train`]: start or resume a run; [`generate`]: sample and interpolate from checkpoints.
//! - [`eval`]: FID, KID, IS, precision/recall/density/coverage between sources.
//! - [`run_dir::RunDir`]: `config.toml`, `checkpoints/`, `samples/`, `metrics.jsonl`.
//! - [`repro`]: the figures `cargo xtask repro NAME` regenerates.

pub mod cond_recipe;
pub mod config;
pub mod eval;
pub mod generate;
pub mod invert;
pub mod plot;
pub mod presets;
pub mod progan_recipe;
pub mod recipe;
pub mod repro;
pub mod run_dir;
pub mod style;
pub mod stylegan_recipe;
pub mod train;
