//! gantry-metrics: evaluating generative models with the numbers the reference tools print.
//!
//! - [`stats`]: streaming f64 mean and covariance of features.
//! - [`frechet`]: the Fréchet distance (FID's formula), robust and never NaN for finite input.
//! - [`kid`]: Kernel Inception Distance (unbiased MMD², cubic kernel, subsets).
//! - [`inception_score`]: the Inception Score from logits, over splits.
//! - [`prdc`]: precision/recall (k = 3) and density/coverage (k = 5), blocked k-NN.
//! - [`similarity`]: full-reference PSNR and SSIM (Wang et al. 2004, as scikit-image) for
//!   translation outputs against their targets.
//! - [`metric`]: the `Metric` trait (update/compute/reset) over all of them.
//! - [`npy`]: pytorch-fid's `.npz` statistics and `.npy` feature matrices.
//! - [`inception`]: the FID Inception network (TorchScript) with the reference preprocessing;
//!   [`weights`] finds its file offline.
//! - [`classifier`]: a small MNIST / Fashion-MNIST classifier for domain FID, IS and class accuracy.

#![warn(missing_docs, missing_debug_implementations)]

pub mod classifier;
pub mod error;
pub mod frechet;
pub mod inception;
pub mod inception_score;
pub mod kid;
pub mod metric;
pub mod npy;
pub mod parzen;
pub mod prdc;
pub mod similarity;
pub mod stats;
pub mod weights;

pub use error::{MetricError, Result};
pub use frechet::frechet_distance;
pub use inception_score::{inception_score, InceptionScore};
pub use kid::{kid, Kid, KidConfig};
pub use metric::{Fid, IsMetric, KidMetric, Metric, PrdcMetric, Side};
pub use prdc::{prdc, precision_recall, Prdc, PrdcConfig};
pub use stats::FeatureStats;
