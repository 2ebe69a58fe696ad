//! The connectivity of optional integrations (chat channels, MCP servers) that `/api/status`
//! reports, and the probe that supplies it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A chat channel's connectivity, as `/api/status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelHealth {
    /// Whether the channel is connected.
    pub connected: bool,
}

/// An MCP server's health, as `/api/status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct McpHealth {
    /// Whether the server answered its last probe.
    pub healthy: bool,
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
