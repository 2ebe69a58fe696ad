//! Foreman as an MCP client.
//!
//! Configured MCP servers are started and supervised here and their tools are offered to the
//! built-in agent through the domain's [`ExternalTools`](foreman_domain::mcp::ExternalTools)
//! port, implemented by [`McpManager`]:
//!
//! - transports ([`transport`]): stdio, newline-delimited JSON-RPC 2.0 with a child process
//!   started through the agent's [`Isolation`](foreman_agent::Isolation) (the OS sandbox by
//!   default, [`stdio`]); Streamable HTTP, a `POST` per message answered with JSON or an SSE
//!   stream, with the session id the server assigns ([`http`]);
//! - the session ([`client`]): `initialize` and `notifications/initialized`, `tools/list`
//!   across pages, `tools/call`, each bounded by the server's timeout;
//! - supervision ([`manager`]): a task per server that restarts it by its policy (`always`,
//!   `on_failure`, `never`) with exponential backoff up to `max_restarts`, re-lists its tools
//!   after each start and keeps its health (`healthy`, `last_error`, `tool_count`,
//!   `restarts`).
//!
//! It must not know the agent loop, the API or storage: the agent sees only the port, the
//! server composes this crate and reports its health. Results are scanned for secrets by the
//! agent, like every other tool result, not here.

pub mod client;
pub mod error;
pub mod http;
pub mod manager;
pub mod protocol;
pub mod stdio;
pub mod transport;

pub use error::McpError;
pub use http::HttpEndpoint;
pub use manager::{McpManager, RestartPolicy, ServerHealth, ServerSettings, ServerTransport};
pub use stdio::{Launcher, StdioCommand, command_argv};
