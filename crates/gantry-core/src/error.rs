//! The error type of gantry-core.

use std::path::PathBuf;

/// Errors from gantry-core. Each message names what was wrong, where, and expected vs found.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid checkpoint ({message})")]
    BadCheckpoint { path: PathBuf, message: String },
    #[error("{path}: checkpoint has no tensor '{name}' (is it from another model?)")]
    MissingTensor { path: PathBuf, name: String },
    #[error("{path}: tensor '{name}' has shape {found:?}, the model expects {expected:?} (checkpoint from another architecture?)")]
    ShapeMismatch { path: PathBuf, name: String, expected: Vec<i64>, found: Vec<i64> },
    #[error("invalid device '{0}': expected auto, cpu, cuda or cuda:N")]
    BadDevice(String),
    #[error("device {0} requested but libtorch sees no CUDA device")]
    NoCuda(String),
    #[error("image: {0}")]
    Image(String),
    #[error("{0}")]
    OutOfMemory(String),
    #[error("optimizer state: {0}")]
    OptimizerState(String),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// Result with [`CoreError`].
pub type Result<T> = std::result::Result<T, CoreError>;

impl CoreError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoreError::Io { path: path.into(), source }
    }
}
