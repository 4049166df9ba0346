//! The error type of gantry-core.

use std::path::PathBuf;

/// Errors from gantry-core. Each message names what was wrong, where, and expected vs found.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // the fields: what each variant's message names
pub enum CoreError {
    /// Reading or writing `path` failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `path` is not a safetensors file gantry can read.
    #[error("{path}: not a valid checkpoint ({message})")]
    BadCheckpoint { path: PathBuf, message: String },
    /// A variable the model has is not in the checkpoint.
    #[error("{path}: checkpoint has no tensor '{name}' (is it from another model?)")]
    MissingTensor { path: PathBuf, name: String },
    /// A variable's shape differs between the checkpoint and the model.
    #[error("{path}: tensor '{name}' has shape {found:?}, the model expects {expected:?} (checkpoint from another architecture?)")]
    ShapeMismatch { path: PathBuf, name: String, expected: Vec<i64>, found: Vec<i64> },
    /// A `--device` that is none of gantry's.
    #[error("invalid device '{0}': expected auto, cpu, cuda or cuda:N")]
    BadDevice(String),
    /// A CUDA device asked for where libtorch sees none.
    #[error("device {0} requested but libtorch sees no CUDA device")]
    NoCuda(String),
    /// Images that cannot be converted, encoded or written.
    #[error("image: {0}")]
    Image(String),
    /// A request larger than the memory available (`mem::ensure_fits`).
    #[error("{0}")]
    OutOfMemory(String),
    /// An optimiser's saved state that does not match its parameters.
    #[error("optimizer state: {0}")]
    OptimizerState(String),
    /// libtorch's own error.
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
