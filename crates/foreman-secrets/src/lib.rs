//! Foreman's one secret scanner: finds credentials in text before it leaves for a model, and in
//! the lines a task's diff adds before they are committed.
//!
//! Rules are data in the gitleaks configuration format ([`rules`]): the shipped default rule
//! file (`rules/default.toml`, embedded in the binary), plus plain regexes from
//! `runner.secret_patterns` and, optionally, a rules file the caller has read. A
//! [`SecretScanner`] built from them answers [`SecretScanner::scan`] (where the secrets are),
//! [`SecretScanner::redact`] (the text with each replaced by `[REDACTED:<rule_id>]`) and
//! [`SecretScanner::scan_diff`] (file, line and rule of each secret an added line carries).
//! Findings carry positions and rule ids, never the secret itself.
//!
//! The crate is pure: no I/O, no async runtime, no metrics recorder. It knows nothing of the
//! LLM request types or of where the text came from; callers label their counts with
//! [`Where`] under the metric named [`SECRETS_DETECTED_TOTAL`].

mod diff;
mod entropy;
pub mod rules;
mod scanner;

pub use diff::{DiffFinding, redact_default, scan_diff};
pub use entropy::shannon_entropy;
pub use rules::{DEFAULT_RULES, RulesError};
pub use scanner::{Finding, REDACTION_PREFIX, ScannerBuilder, SecretScanner};

/// The counter every redaction or refusal increments, labelled `where` ([`Where`]).
pub const SECRETS_DETECTED_TOTAL: &str = "foreman_secrets_detected_total";

/// Where a secret was found: the `where` label of [`SECRETS_DETECTED_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Where {
    /// A request's system prompt.
    System,
    /// The text of a message in a request.
    Message,
    /// The input of a tool call the model made, sent back in a later request.
    ToolInput,
    /// A tool result sent back in a request.
    ToolResult,
    /// A tool's output inside the coding agent, before it becomes a tool result.
    ToolOutput,
    /// A file or task text put into an agent's context.
    File,
    /// A diff shown to a model or checked before a commit.
    Diff,
    /// Content an agent tried to write or commit, refused because it holds a secret.
    Commit,
}

impl Where {
    /// Every value.
    pub const ALL: &'static [Self] = &[
        Self::System,
        Self::Message,
        Self::ToolInput,
        Self::ToolResult,
        Self::ToolOutput,
        Self::File,
        Self::Diff,
        Self::Commit,
    ];

    /// The label value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Message => "message",
            Self::ToolInput => "tool_input",
            Self::ToolResult => "tool_result",
            Self::ToolOutput => "tool_output",
            Self::File => "file",
            Self::Diff => "diff",
            Self::Commit => "commit",
        }
    }
}

impl std::fmt::Display for Where {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
