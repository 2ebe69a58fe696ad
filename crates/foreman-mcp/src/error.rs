//! What can go wrong talking to an MCP server.

use std::time::Duration;

/// A failure starting, initialising or calling an MCP server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// The server process could not be started (sandbox unavailable, program missing).
    #[error("cannot start the server: {0}")]
    Spawn(String),
    /// Reading from or writing to the server failed (pipe closed, connection refused).
    #[error("transport failed: {0}")]
    Transport(String),
    /// The server answered something that is not MCP.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server answered with a JSON-RPC error.
    #[error("the server answered error {code}: {message}")]
    Rpc {
        /// The JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
    /// The HTTP endpoint answered a non-success status.
    #[error("the server answered HTTP {status}: {body}")]
    Http {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// No answer in time.
    #[error("{method} got no answer within {}s", after.as_secs())]
    Timeout {
        /// The request's method.
        method: String,
        /// The limit.
        after: Duration,
    },
    /// The server is gone (exited, or its session ended).
    #[error("the server is gone: {0}")]
    Closed(String),
}

impl McpError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Spawn(_) => "mcp_spawn",
            Self::Transport(_) => "mcp_transport",
            Self::Protocol(_) => "mcp_protocol",
            Self::Rpc { .. } => "mcp_rpc",
            Self::Http { .. } => "mcp_http",
            Self::Timeout { .. } => "mcp_timeout",
            Self::Closed(_) => "mcp_closed",
        }
    }
}
