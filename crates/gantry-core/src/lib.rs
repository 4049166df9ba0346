//! gantry-core: what every other gantry crate stands on.
//!
//! - [`image`]: NCHW float tensors in [-1, 1] <-> u8 pixels, sample grids, PNG files. The only place
//!   where pixels are converted.
//! - [`device`]: `--device auto|cpu|cuda|cuda:N`, and seeds derived from (run seed, stream, index).
//! - [`checkpoint`]: named tensors + string metadata in one safetensors file, written atomically;
//!   loading into a `VarStore` with shape checks.
//! - [`optim`]: Adam over a `VarStore`, with its full state exportable (tch's optimizers cannot).
//! - [`fs`]: atomic file writes (temp file + rename).
//! - [`parallel`]: data parallelism as training code sees it: this rank's share of per-sample
//!   random draws, and the gradient averaging Adam's updates go through; gradient accumulation
//!   as ranks in sequence.
//! - [`amp`]: mixed precision as training code sees it: autocast regions and float32 ones.
//! - [`mem`]: available memory and peak resident set, so large requests are refused up front.
//! - [`latent`]: N(0, 1) latents from gantry's own seeded generator (sample grids, evaluation).

#![warn(missing_docs, missing_debug_implementations)]

pub mod amp;
pub mod animation;
pub mod checkpoint;
pub mod device;
pub mod error;
pub mod fs;
pub mod image;
pub mod latent;
pub mod layout;
pub mod mem;
pub mod optim;
pub mod parallel;

pub use error::{CoreError, Result};

/// libtorch's generator is global to a process and this crate's unit tests run on threads of one:
/// every test that draws from it (random tensors, layer initialisation, dropout, penalties' random
/// points) holds this lock, so that a seeded draw replays (another test drawing between a
/// `manual_seed` and its draws would change them).
#[cfg(test)]
pub(crate) fn generator_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
