//! Exit codes, and the error that carries one through `anyhow`.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure: the server refused or failed, the server is unreachable, a check failed |
//! | 2 | usage: bad arguments (clap's own code), or input the server rejected with 400 |
//! | 3 | not found: the server answered 404 (an unknown id, or a route this server lacks) |
//! | 4 | conflict: the server answered 409 (e.g. cancelling a finished ticket), or a file that `init` would overwrite |

use std::fmt;

/// A failure with its exit code, and the server's JSON error body when there was one.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The process exit code.
    pub(crate) exit: u8,
    /// One line for people.
    pub(crate) message: String,
    /// The server's `{"error": ..., "code": ...}` body, printed as is under `--json`.
    pub(crate) body: Option<serde_json::Value>,
}

/// Exit code: failure.
pub(crate) const FAILURE: u8 = 1;
/// Exit code: usage.
pub(crate) const USAGE: u8 = 2;
/// Exit code: not found.
pub(crate) const NOT_FOUND: u8 = 3;
/// Exit code: conflict.
pub(crate) const CONFLICT: u8 = 4;

impl Failure {
    /// A failure without a server body.
    pub(crate) fn new(exit: u8, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            body: None,
        }
    }

    /// The exit code for an HTTP error status.
    pub(crate) fn exit_for_status(status: u16) -> u8 {
        match status {
            400 | 422 => USAGE,
            404 => NOT_FOUND,
            409 => CONFLICT,
            _ => FAILURE,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code and what to print for any error: a [`Failure`] keeps its code, everything
/// else is a plain failure (1).
pub(crate) fn report(e: &anyhow::Error, json: bool) -> u8 {
    match e.downcast_ref::<Failure>() {
        Some(f) => {
            match (&f.body, json) {
                (Some(body), true) => eprintln!("{body}"),
                _ => eprintln!("foreman: {e:#}"),
            }
            f.exit
        }
        None => {
            if json {
                eprintln!("{}", serde_json::json!({"error": format!("{e:#}")}));
            } else {
                eprintln!("foreman: {e:#}");
            }
            FAILURE
        }
    }
}
