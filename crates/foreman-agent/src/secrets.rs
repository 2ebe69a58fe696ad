//! Secret scanning: finds credentials in text bound for a model and redacts them.
//!
//! The scanner is `foreman-secrets`' [`SecretScanner`], re-exported here: every piece of text
//! the agent sends to an LLM (selected files, tool results, command output, the task itself)
//! passes [`SecretScanner::redact`] first, and matches are replaced by
//! `[REDACTED:<rule_id>]`. The metered LLM wrapper scans every request once more on its way
//! out. Files whose names mark them as secret stores ([`is_secret_file`]) are never read at all,
//! and writes that would add a private key or a token are refused
//! ([`SecretScanner::strong_findings`]).

pub use foreman_secrets::{
    DiffFinding, Finding, REDACTION_PREFIX, RulesError, SecretScanner, Where,
};

use crate::error::SetupError;

impl From<RulesError> for SetupError {
    fn from(e: RulesError) -> Self {
        let pattern = match &e {
            RulesError::InvalidPattern { pattern, .. } => pattern.clone(),
            RulesError::InvalidRule { rule, .. } => rule.clone(),
            _ => String::new(),
        };
        Self::InvalidPattern {
            pattern,
            message: e.to_string(),
        }
    }
}

/// Whether a file's name marks it as a secret store that is never read, written or committed;
/// the rule lives in the domain, beside the commit policy that also applies it.
pub use foreman_domain::commit_policy::is_secret_file;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_patterns_are_setup_errors() {
        let e: SetupError = SecretScanner::with_extra(&["(open".into()])
            .unwrap_err()
            .into();
        assert_eq!(e.code(), "invalid_secret_pattern");
        assert!(e.to_string().contains("(open"), "{e}");
    }
}
