//! The error type of gantry-data: one line naming what, where, expected vs found.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file whose bytes are not what its format requires.
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    /// A file with an image extension that does not decode.
    #[error("{path}: undecodable image ({message})")]
    Decode { path: String, message: String },
    #[error("{0}")]
    Empty(String),
    #[error("{0}")]
    Spec(String),
    #[error(transparent)]
    Manifest(#[from] gantry_manifest::ManifestError),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }

    pub fn format(path: impl std::fmt::Display, message: impl Into<String>) -> Self {
        DataError::Format { path: path.to_string(), message: message.into() }
    }
}

/// Reads a whole file, decompressing it when its name ends in `.gz`.
pub(crate) fn read_maybe_gz(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(|e| {
            DataError::format(path.display(), format!("corrupt or truncated gzip stream ({e})"))
        })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}
