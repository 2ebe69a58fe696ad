//! The `PromptSource` port: role prompts rendered from templates, each with a version hash that
//! is recorded on every LLM call made with it.

use serde::{Deserialize, Serialize};

/// A rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedPrompt {
    /// The text to send.
    pub text: String,
    /// SHA-256 (hex) of the template it came from.
    pub version: String,
}

/// A prompt template that could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("prompt {name}: {message}")]
pub struct PromptError {
    /// Template name.
    pub name: String,
    /// What went wrong.
    pub message: String,
}

/// Renders named role prompts (`planner`, `implementer`, `spec-reviewer`, ...).
pub trait PromptSource: Send + Sync {
    /// Renders `name` with `vars` (a JSON object).
    ///
    /// # Errors
    /// Unknown template or a rendering error.
    fn render(&self, name: &str, vars: &serde_json::Value) -> Result<RenderedPrompt, PromptError>;

    /// Every template name with its version hash.
    fn versions(&self) -> Vec<(String, String)>;
}
