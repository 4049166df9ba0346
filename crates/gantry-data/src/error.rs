//! The error type of gantry-data: one line naming what, where, expected vs found.

use std::path::PathBuf;

/// Why a dataset could not be read, fitted or batched; its `Display` is one line.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder that could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file whose bytes are not what its format requires.
    #[error("{path}: {message}")]
    Format {
        /// The file (or dataset name) concerned, as shown to the user.
        path: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A file with an image extension that does not decode.
    #[error("{path}: undecodable image ({message})")]
    Decode {
        /// The image file, as shown to the user.
        path: String,
        /// The decoder's message.
        message: String,
    },
    /// A dataset, folder or split with no images (the whole line is the message).
    #[error("{0}")]
    Empty(String),
    /// A request the data cannot satisfy: an unknown split or class, an unsupported channel
    /// count or fit, a batch size of 0 (the whole line is the message).
    #[error("{0}")]
    Spec(String),
    /// An error from reading a dataset manifest or locating a named dataset's files.
    #[error(transparent)]
    Manifest(#[from] gantry_manifest::ManifestError),
    /// An error from libtorch (through `tch`).
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// `std::result::Result` with [`DataError`] as the error.
pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    /// A [`DataError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }

    /// A [`DataError::Format`] for `path` (anything displayable: a path or a dataset name).
    pub fn format(path: impl std::fmt::Display, message: impl Into<String>) -> Self {
        DataError::Format { path: path.to_string(), message: message.into() }
    }
}

/// The most one decompressed stream or archive member may hold: a quarter of the available
/// memory, at most 4 GiB (4 GiB where the available memory is unknown). Past it, a gzip or tar
/// member is one line (a decompression bomb, or a file too large for this machine).
pub(crate) fn expand_limit() -> u64 {
    let cap = 4u64 << 30;
    gantry_core::mem::available().map_or(cap, |a| cap.min(a / 4))
}

/// The error for a stream of `shown` that holds (or claims) more than [`expand_limit`].
pub(crate) fn too_large(shown: impl std::fmt::Display, what: &str, limit: u64) -> DataError {
    DataError::format(
        shown,
        format!(
            "{what} is larger than {} (a quarter of the available memory, at most 4 GiB): a decompression bomb, or a file too large for this machine",
            gantry_core::mem::human(limit as u128)
        ),
    )
}

/// Reads `r` to its end, refusing (with one line) more than `limit` bytes: memory stays within
/// the limit whatever the stream expands to.
pub(crate) fn read_bounded(r: impl std::io::Read, limit: u64, shown: &str, what: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| DataError::format(shown, format!("corrupt or truncated {what} ({e})")))?;
    if out.len() as u64 > limit {
        return Err(too_large(shown, &format!("its {what}"), limit));
    }
    Ok(out)
}

/// Reads a whole file, decompressing it when its name ends in `.gz` (at most [`expand_limit`]
/// bytes).
pub(crate) fn read_maybe_gz(path: &std::path::Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if path.extension().is_some_and(|e| e == "gz") {
        read_bounded(
            flate2::read::GzDecoder::new(&raw[..]),
            expand_limit(),
            &path.display().to_string(),
            "gzip stream",
        )
    } else {
        Ok(raw)
    }
}
