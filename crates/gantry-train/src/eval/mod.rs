//! `gantry eval fid|kid|is|prdc`: metrics between a real and a fake source.
//!
//! A source is a `.npz` statistics file (pytorch-fid's `mu`/`sigma`; FID only), a `.npy` feature
//! matrix, a checkpoint file or run folder (N samples are generated from seeded latents), or
//! anything `gantry train` accepts as data (dataset name, image folder or archive), optionally with
//! a split suffix (`cifar10-jpg@test`, `mnist@train`, `@all`). When one side
//! is a checkpoint, a dataset on the other side is prepared as that model saw its training data
//! (same size, channels and fit), so that padding or resizing does not show up in the metric.
//!
//! Features come from the FID Inception network (`inception`, 2048-d, the reference protocol) or
//! gantry's domain classifiers (`mnist`, `fashion-mnist`: 128-d features, 10 logits for IS).
//!
//! By concern: [`sources`] (what a source is and its features), [`features`] (the networks),
//! [`distance`] (FID, KID, IS, PRDC), [`training`] (FID during training), [`accuracy`] (class
//! accuracy and code-to-class matching), [`intra`] (intra-FID of conditional models), [`similarity`] (PSNR, SSIM, held-out translation data).

pub mod accuracy;
pub mod distance;
pub mod features;
pub mod intra;
pub mod similarity;
pub mod sources;
pub mod training;

pub use accuracy::*;
pub use distance::*;
pub use features::*;
pub use intra::*;
pub use similarity::*;
pub use sources::*;
pub use training::*;
// What the concerns share inside eval.
pub(crate) use sources::{classify, draw, subset, EvalInputs, Kind2};
