//! Errors raised while setting a runner up (bad settings, patterns, prompt templates).

use std::path::PathBuf;

/// A runner, scanner, command policy or prompt library could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A secret pattern does not compile.
    #[error("invalid secret pattern {pattern:?}: {message}")]
    InvalidPattern {
        /// The pattern.
        pattern: String,
        /// The regex error.
        message: String,
    },
    /// An allowed command is malformed.
    #[error("invalid allowed command {command:?}: {reason}")]
    InvalidCommand {
        /// The command as configured.
        command: String,
        /// What is wrong.
        reason: String,
    },
    /// A setting is out of range.
    #[error("invalid setting {key} = {value:?}: {reason}")]
    InvalidSetting {
        /// The setting.
        key: String,
        /// Its value.
        value: String,
        /// What is expected.
        reason: String,
    },
    /// The prompt override directory or a file in it could not be read.
    #[error("cannot read prompt {path}")]
    PromptIo {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A prompt template does not parse.
    #[error("prompt template {name} is invalid: {message}")]
    PromptTemplate {
        /// The prompt.
        name: String,
        /// The template engine's message.
        message: String,
    },
    /// A prompt name is not one of the known roles.
    #[error("unknown prompt {name:?} (known: {known})")]
    UnknownPrompt {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
}

impl SetupError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidPattern { .. } => "invalid_secret_pattern",
            Self::InvalidCommand { .. } => "invalid_command",
            Self::InvalidSetting { .. } => "invalid_setting",
            Self::PromptIo { .. } => "prompt_io",
            Self::PromptTemplate { .. } => "prompt_template",
            Self::UnknownPrompt { .. } => "unknown_prompt",
        }
    }
}
