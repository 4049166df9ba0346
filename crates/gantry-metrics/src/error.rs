//! The error type of gantry-metrics.

use std::path::PathBuf;

/// Everything that can go wrong while loading, accumulating or computing a metric.
#[derive(Debug, thiserror::Error)]
pub enum MetricError {
    /// A file (statistics, features or network weights) could not be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file that failed.
        path: PathBuf,
        /// What went wrong with it.
        message: String,
    },
    /// Two feature sets (or a set and a batch) have different feature dimensions.
    #[error("feature dimensions differ: {a} vs {b}")]
    Dims {
        /// The first set's feature dimension.
        a: i64,
        /// The second set's feature dimension.
        b: i64,
    },
    /// Too few samples for the requested computation.
    #[error("{what}: expected at least {need} samples, found {found}")]
    TooFew {
        /// What was being computed.
        what: String,
        /// The smallest number of samples it accepts.
        need: usize,
        /// The number of samples given.
        found: usize,
    },
    /// Any other invalid input (wrong shape, bad parameter, missing data), described in words.
    #[error("{0}")]
    Invalid(String),
    /// An error from libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// An error from gantry-core.
    #[error(transparent)]
    Core(#[from] gantry_core::CoreError),
}

/// The result type of gantry-metrics.
pub type Result<T> = std::result::Result<T, MetricError>;
