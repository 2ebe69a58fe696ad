//! The `CommandRunner` port: running a project's configured commands (tests, lint, build) in a
//! worktree, with a timeout, for the pipeline's gates.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What a finished command left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// Exit code; `None` when killed (timeout or signal).
    pub exit_code: Option<i32>,
    /// Combined stdout and stderr, possibly truncated head and tail with a note.
    pub output: String,
    /// Whether it was killed for running past its timeout.
    pub timed_out: bool,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

impl CommandOutput {
    /// Exit code 0.
    #[must_use]
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// A command that could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot run {command:?}: {message}")]
pub struct CommandError {
    /// The command line.
    pub command: String,
    /// Why.
    pub message: String,
}

/// Runs configured command lines inside a directory.
#[async_trait]
pub trait CommandRunner: Send + Sync {
    /// Runs `command` (a configured command line) in `dir`, killing it after `timeout`.
    async fn run(
        &self,
        dir: &Path,
        command: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, CommandError>;
}
