//! The error type of gantry-stylegan's exploration and inversion.

/// An error from a function the caller passes in (a feature network, a classifier, a copy of
/// the generator).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong; each message names the argument and what it expected.
#[derive(Debug, thiserror::Error)]
pub enum StyleError {
    /// An argument out of range or a missing aid (the message names it).
    #[error("{0}")]
    Invalid(String),
    /// A function the caller passed in failed.
    #[error(transparent)]
    Caller(#[from] BoxError),
    /// libtorch's own error.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// Result with [`StyleError`].
pub type Result<T> = std::result::Result<T, StyleError>;

/// `return Err(StyleError::Invalid(format!(…)))`.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::StyleError::Invalid(format!($($arg)*)))
    };
}
pub(crate) use bail;
