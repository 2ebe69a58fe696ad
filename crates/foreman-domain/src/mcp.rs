//! Tools from outside Foreman (MCP servers) offered to the built-in agent: the
//! [`ExternalTools`] port, and the one rule that names such a tool for a model
//! ([`external_tool_name`]).
//!
//! The agent sees only this port, never the MCP client behind it, so the agent crate does not
//! depend on the protocol adapter and the adapter does not depend on the agent loop.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The longest tool name a model provider accepts.
pub const MAX_TOOL_NAME: usize = 64;

/// One tool as offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalToolSpec {
    /// The name the model calls (`mcp_<server>_<tool>`, see [`external_tool_name`]).
    pub name: String,
    /// The server that provides it.
    pub server: String,
    /// The tool's own name on that server.
    pub tool: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of the input object.
    pub input_schema: serde_json::Value,
}

/// What a call returned, before secret scanning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalToolOutput {
    /// The result as text for the model.
    pub content: String,
    /// Whether the tool reported an error.
    pub is_error: bool,
}

/// Why a call did not reach the tool or did not come back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExternalToolError {
    /// No tool of that name is offered.
    #[error("unknown tool {name:?}")]
    UnknownTool {
        /// The name called.
        name: String,
    },
    /// The server is not running (crashed, restarting or given up).
    #[error("mcp server {server} is unavailable: {message}")]
    Unavailable {
        /// The server's name.
        server: String,
        /// Why.
        message: String,
    },
    /// The call failed on the way (transport, protocol, timeout).
    #[error("mcp server {server} failed the call: {message}")]
    Failed {
        /// The server's name.
        server: String,
        /// Why.
        message: String,
    },
}

impl ExternalToolError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnknownTool { .. } => "unknown_tool",
            Self::Unavailable { .. } => "mcp_unavailable",
            Self::Failed { .. } => "mcp_call_failed",
        }
    }
}

/// Tools provided from outside Foreman, listed and called by the model-facing name.
#[async_trait]
pub trait ExternalTools: Send + Sync {
    /// The tools offered now (those of healthy servers, filtered by their allow-lists).
    async fn tools(&self) -> Vec<ExternalToolSpec>;
    /// Calls the tool offered as `name` with `input`.
    async fn call(
        &self,
        name: &str,
        input: &serde_json::Value,
    ) -> Result<ExternalToolOutput, ExternalToolError>;
}

/// FNV-1a, 32 bits: a stable hash with no dependency, for name suffixes.
fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The name a model calls for `tool` of `server`: `mcp_<server>_<tool>`, every character
/// outside `[a-zA-Z0-9_-]` replaced by `_`, at most [`MAX_TOOL_NAME`] characters. A name that
/// is cut or changed by the replacement ends in `_` and 8 hex digits of a hash of the
/// original pair, so two distinct pairs never share a name by truncation or replacement alone.
#[must_use]
pub fn external_tool_name(server: &str, tool: &str) -> String {
    let raw = format!("mcp_{server}_{tool}");
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean == raw && clean.len() <= MAX_TOOL_NAME {
        return clean;
    }
    let suffix = format!("_{:08x}", fnv1a(&format!("{server}\u{0}{tool}")));
    let keep = MAX_TOOL_NAME.min(clean.len() + suffix.len()) - suffix.len();
    format!("{}{suffix}", &clean[..keep.min(clean.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_kept() {
        assert_eq!(external_tool_name("fs", "read_file"), "mcp_fs_read_file");
        assert_eq!(external_tool_name("a-b", "c-d"), "mcp_a-b_c-d");
    }

    #[test]
    fn odd_characters_are_replaced_and_marked_with_a_hash() {
        let a = external_tool_name("fs", "read.file");
        let b = external_tool_name("fs", "read_file");
        assert!(a.starts_with("mcp_fs_read_file_"), "{a}");
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }

    #[test]
    fn long_names_are_cut_to_64_deterministically_and_stay_distinct() {
        let long = "x".repeat(100);
        let a = external_tool_name("server", &format!("{long}a"));
        let b = external_tool_name("server", &format!("{long}b"));
        assert_eq!(a.len(), MAX_TOOL_NAME);
        assert_eq!(b.len(), MAX_TOOL_NAME);
        assert_ne!(a, b);
        assert_eq!(a, external_tool_name("server", &format!("{long}a")));
    }

    proptest::proptest! {
        #[test]
        fn names_are_always_valid(server in ".{0,40}", tool in ".{0,80}") {
            let n = external_tool_name(&server, &tool);
            proptest::prop_assert!(n.len() <= MAX_TOOL_NAME && !n.is_empty());
            proptest::prop_assert!(n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        }
    }
}
