//! Foreman's coding agent.
//!
//! This crate owns everything behind the [`foreman_domain::agent::AgentRunner`] port:
//!
//! - [`BuiltinRunner`]: a multi-turn tool-use loop over any `LlmProvider`, with file, search,
//!   command and diff [`tools`] confined to the worktree by the [`sandbox`] and the
//!   [`command`] policy, [`context`] selection before the first turn, loop [`guards`], and
//!   [`secrets`] scanning on everything sent to the model;
//! - [`ExternalRunner`]: Claude Code, Codex or any command, with their streamed output parsed
//!   into progress, usage and cost ([`external`]);
//! - [`PromptLibrary`]: the role prompts, embedded, overridable and versioned ([`prompts`]);
//! - [`SandboxedWriter`]: the `WorktreeWriter` port (skills' `file_write` step) on the same
//!   path confinement as the agent's write tool ([`workspace`]);
//! - [`Isolation`]: the OS sandbox (bubblewrap), container or plain host process every command
//!   in a worktree runs in, the gates' [`ProcessCommandRunner`] included ([`isolation`]).
//!
//! It must not know about the pipeline, storage backends, the HTTP API or concrete LLM
//! providers: it talks to them only through the domain ports (`LlmProvider`, `EventLog`,
//! `CostLedger`). It runs no git command other than `git diff` in the worktree it is given.

pub mod builtin;
pub mod command;
pub mod context;
mod error;
pub mod external;
pub mod guards;
pub mod isolation;
mod observe;
pub mod prompts;
pub mod sandbox;
pub mod secrets;
pub mod tools;
pub mod workspace;

pub use builtin::{BUILTIN, BuiltinRunner, RunnerSettings};
pub use command::{
    CommandExecutor, CommandPolicy, CommandRefused, CommandSettings, DockerSettings, ExecMode,
    ProcessCommandRunner,
};
pub use context::{ContextSettings, SelectedContext};
pub use error::SetupError;
pub use external::{ExternalKind, ExternalRunner, ExternalSettings};
pub use isolation::{
    Isolation, IsolationError, IsolationOptions, ResourceLimits, SandboxSettings, SandboxState,
    Wrapped,
};
pub use observe::CostEstimator;
pub use prompts::PromptLibrary;
pub use sandbox::{Sandbox, SandboxError};
pub use secrets::{SecretScanner, is_secret_file};
pub use tools::{ToolResult, Toolbox};
pub use workspace::SandboxedWriter;
