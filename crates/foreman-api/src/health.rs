//! The connectivity of optional integrations (chat channels, MCP servers) that `/api/status`
//! reports, and the probe that supplies it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A chat channel's connectivity, as `/api/status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct ChannelHealth {
    /// Whether the channel is connected (its last poll succeeded).
    pub connected: bool,
    /// Why the last poll failed, when it did (`telegram: credentials rejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the channel last answered a poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An MCP server's health, as `/api/status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct McpHealth {
    /// Whether the server answered its last probe.
    pub healthy: bool,
    /// Why the server last stopped or failed to start (`exited with exit status: 3; stderr:
    /// ...`), kept after a successful restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Tools offered to the agent (after `allowed_tools`); 0 while the server is down.
    #[serde(default)]
    pub tool_count: u64,
    /// Restarts since the server started.
    #[serde(default)]
    pub restarts: u32,
}

/// Reports the connectivity of optional integrations (chat channels, MCP servers) for
/// `/api/status`. Without one, both maps are empty.
#[async_trait]
pub trait Connectivity: Send + Sync {
    /// Chat channels by name.
    async fn channels(&self) -> BTreeMap<String, ChannelHealth>;
    /// MCP servers by name.
    async fn mcp_servers(&self) -> BTreeMap<String, McpHealth>;
}
