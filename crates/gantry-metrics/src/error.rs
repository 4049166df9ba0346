//! The error type of gantry-metrics.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MetricError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("feature dimensions differ: {a} vs {b}")]
    Dims { a: i64, b: i64 },
    #[error("{what}: expected at least {need} samples, found {found}")]
    TooFew { what: String, need: usize, found: usize },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Core(#[from] gantry_core::CoreError),
}

pub type Result<T> = std::result::Result<T, MetricError>;
