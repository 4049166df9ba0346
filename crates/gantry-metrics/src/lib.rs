//! gantry-metrics: evaluating generative models with the numbers the reference tools print.
//!
//! - [`stats`]: streaming f64 mean and covariance of features.
//! - [`frechet`]: the Fréchet distance (FID's formula), robust and never NaN for finite input.
//! - [`npy`]: pytorch-fid's `.npz` statistics and `.npy` feature matrices.

pub mod error;
pub mod frechet;
pub mod npy;
pub mod stats;

pub use error::{MetricError, Result};
pub use frechet::frechet_distance;
pub use stats::FeatureStats;
