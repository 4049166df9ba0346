//! gantry-train's error type: [`Error`], with [`Context`] to say what was being done.
//!
//! Each message is one line that names what failed, where, and what was expected. An error that
//! wraps another ([`Error::Context`]) displays only its own words; the cause is its
//! [`source`](std::error::Error::source), so a reporter that walks the chain (anyhow's `{:#}`,
//! `gantry`'s own) prints every cause once. A family written in another crate returns this type
//! too: `?` converts libtorch's and gantry's errors, and [`Error::other`] any other.

use std::fmt::Display;

/// Any error a caller's code raised, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in gantry-train. `{:?}` shows it with its causes on one line (as
/// [`Error::one_line`]), so `fn main() -> gantry_train::Result<()>` reports it readably.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input, settings or state, said in one line.
    #[error("{0}")]
    Invalid(String),
    /// `what` failed; `source` says why.
    #[error("{what}")]
    Context {
        /// What was being done (e.g. "reading runs/a/config.toml").
        what: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// From gantry-core (checkpoints, devices, files).
    #[error(transparent)]
    Core(#[from] gantry_core::CoreError),
    /// From gantry-data (datasets and image files).
    #[error(transparent)]
    Data(#[from] gantry_data::DataError),
    /// From gantry-metrics.
    #[error(transparent)]
    Metric(#[from] gantry_metrics::MetricError),
    /// From gantry-stylegan (exploration, inversion).
    #[error(transparent)]
    Style(#[from] gantry_stylegan::error::StyleError),
    /// An architecture's settings that cannot build it.
    #[error(transparent)]
    Config(#[from] gantry_nn::InvalidConfig),
    /// A DCGAN-shaped architecture's settings that cannot build it.
    #[error(transparent)]
    Dcgan(#[from] gantry_dcgan::ConfigError),
    /// From the data-parallel process group.
    #[cfg(feature = "dist")]
    #[error(transparent)]
    Dist(#[from] gantry_dist::DistError),
    /// Two networks' variables that do not match.
    #[error(transparent)]
    Store(#[from] gantry_nn::ema::StoreMismatch),
    /// Registering or looking up a family.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// libtorch's own error.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// An operating-system error (wrapped in [`Error::Context`] with the path where one is known).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Any other error: a parser's, an encoder's, a user family's own.
    #[error(transparent)]
    Other(BoxError),
}

/// [`std::result::Result`] with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Invalid`] with `message`.
    pub fn msg(message: impl Display) -> Self {
        Error::Invalid(message.to_string())
    }

    /// Wraps any other error ([`Error::Other`]).
    pub fn other(e: impl Into<BoxError>) -> Self {
        Error::Other(e.into())
    }

    /// This error and its causes on one line, joined by ": ", each cause once: one whose words
    /// the line already holds (an I/O error after "PATH: No space left on device") is left out.
    pub fn one_line(&self) -> String {
        chain_line(self)
    }

    /// This error as the cause of `what`.
    pub fn context(self, what: impl Display) -> Self {
        Error::Context { what: what.to_string(), source: Box::new(self) }
    }
}

/// An error and its causes on one line, each cause once: a cause whose words its error already
/// shows (such as "PATH: No space left on device" over the io error) is not repeated, and line
/// breaks become spaces. What [`Error::one_line`] and the `gantry` command print.
pub fn chain_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    let mut cause = Some(e);
    while let Some(e) = cause {
        let text = e.to_string();
        if !line.contains(text.trim()) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        cause = e.source();
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.one_line())
    }
}

/// Errors of the libraries gantry-train uses that reach its callers as [`Error::Other`].
macro_rules! other_from {
    ($($t:ty),* $(,)?) => {
        $(impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Other(Box::new(e))
            }
        })*
    };
}
other_from!(
    toml::de::Error,
    toml::ser::Error,
    serde_json::Error,
    image::ImageError,
    minijinja::Error,
    prost::DecodeError,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::fmt::Error,
);

impl From<BoxError> for Error {
    fn from(e: BoxError) -> Self {
        match e.downcast::<Error>() {
            Ok(e) => *e,
            Err(e) => Error::Other(e),
        }
    }
}

/// Says what was being done when a result failed or an option was empty (as anyhow's `Context`).
pub trait Context<T> {
    /// The error, if any, as the cause of `what`.
    fn context(self, what: impl Display) -> Result<T>;
    /// As [`Context::context`], with the words computed only on failure.
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| e.into().context(what()))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: impl Display) -> Result<T> {
        self.ok_or_else(|| Error::msg(what))
    }
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.ok_or_else(|| Error::msg(what()))
    }
}

/// `Error::Invalid(format!(…))`.
#[macro_export]
#[doc(hidden)]
macro_rules! __gantry_train_err {
    ($($arg:tt)*) => {
        $crate::error::Error::Invalid(format!($($arg)*))
    };
}
pub use crate::__gantry_train_err as err;

/// `return Err(Error::Invalid(format!(…)))`.
#[macro_export]
#[doc(hidden)]
macro_rules! __gantry_train_bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::Invalid(format!($($arg)*)))
    };
}
pub use crate::__gantry_train_bail as bail;

/// `if !cond { bail!(…) }`.
#[macro_export]
#[doc(hidden)]
macro_rules! __gantry_train_ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err($crate::error::Error::Invalid(format!($($arg)*)));
        }
    };
}
pub use crate::__gantry_train_ensure as ensure;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_displays_its_own_words_and_chains_the_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Err::<(), _>(io).context("reading runs/a/config.toml").unwrap_err();
        assert_eq!(e.to_string(), "reading runs/a/config.toml");
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("no such file"));
        let chained = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(chained, "reading runs/a/config.toml: no such file");
        let twice = Error::from(gantry_core::CoreError::Io {
            path: "runs/a/x".into(),
            source: std::io::Error::other("No space left on device"),
        })
        .context("saving the checkpoint");
        assert_eq!(format!("{twice:?}"), "saving the checkpoint: runs/a/x: No space left on device");
    }

    #[test]
    fn a_boxed_gantry_error_comes_back_as_itself_and_empty_options_say_what() {
        let boxed: BoxError = Box::new(Error::msg("model.arch 'x' is unknown"));
        assert!(matches!(Error::from(boxed), Error::Invalid(m) if m == "model.arch 'x' is unknown"));
        let e = None::<u8>.with_context(|| format!("no checkpoint in {}", "runs/a")).unwrap_err();
        assert_eq!(e.to_string(), "no checkpoint in runs/a");
    }

    fn checks(n: i64) -> Result<i64> {
        ensure!(n >= 0, "n: expected ≥ 0, found {n}");
        if n > 9 {
            bail!("n: expected ≤ 9, found {n}");
        }
        Err(err!("n = {n}"))
    }

    #[test]
    fn the_macros_say_invalid_in_one_line() {
        assert_eq!(checks(-1).unwrap_err().to_string(), "n: expected ≥ 0, found -1");
        assert_eq!(checks(10).unwrap_err().to_string(), "n: expected ≤ 9, found 10");
        assert_eq!(checks(3).unwrap_err().to_string(), "n = 3");
    }
}
