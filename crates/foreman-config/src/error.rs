//! The error every configuration problem is reported as.

use std::path::PathBuf;

/// A configuration problem, always naming the key (and the file, when there is one).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has keys or values of the wrong shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file (or `<env>` for environment overrides).
        path: String,
        /// The parser's message (names unknown keys and wrong types).
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid {key} = {value:?}: {reason}")]
    Invalid {
        /// Dotted key, e.g. `dashboard.port`.
        key: String,
        /// The offending value.
        value: String,
        /// What is expected.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, value: impl ToString, reason: &str) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            value: value.to_string(),
            reason: reason.to_owned(),
        }
    }
}
