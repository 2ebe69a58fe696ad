//! An initialised MCP session over either transport: `initialize`, `tools/list` with its
//! pages, `tools/call`, each bounded by the server's timeout.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::McpError;
use crate::protocol::{self, Tool, ToolPage};
use crate::transport::{Ended, Transport, wait_ended};

/// Pages of `tools/list` read at most (a server that never stops paging is cut off).
const MAX_PAGES: usize = 100;

/// One initialised session.
pub struct Client {
    transport: Arc<dyn Transport>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Initialises a session over `transport`: `initialize`, then `notifications/initialized`.
    ///
    /// # Errors
    /// The transport's, a timeout, or an answer without a protocol version.
    pub async fn connect(
        transport: Arc<dyn Transport>,
        timeout: Duration,
    ) -> Result<Self, McpError> {
        let client = Self { transport, timeout };
        let init = client
            .request("initialize", &protocol::initialize_params())
            .await?;
        if init
            .get("protocolVersion")
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(McpError::Protocol(
                "the initialize answer has no protocolVersion".into(),
            ));
        }
        client
            .transport
            .notify("notifications/initialized", &json!({}))
            .await?;
        Ok(client)
    }

    async fn request(&self, method: &str, params: &Value) -> Result<Value, McpError> {
        tokio::time::timeout(self.timeout, self.transport.request(method, params))
            .await
            .unwrap_or_else(|_| {
                Err(McpError::Timeout {
                    method: method.to_owned(),
                    after: self.timeout,
                })
            })
    }

    /// Every tool, following `nextCursor`.
    ///
    /// # Errors
    /// The transport's, a timeout, or a page that is not a tool list.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, McpError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let page: ToolPage = serde_json::from_value(self.request("tools/list", &params).await?)
                .map_err(|e| McpError::Protocol(format!("tools/list: {e}")))?;
            tools.extend(page.tools);
            match page.next_cursor.filter(|c| !c.is_empty()) {
                Some(c) => cursor = Some(c),
                None => return Ok(tools),
            }
        }
        tracing::warn!(
            pages = MAX_PAGES,
            "mcp server kept paging tools/list; the rest is left out"
        );
        Ok(tools)
    }

    /// Calls `tool` with `arguments`; the result as text and whether the tool reported an
    /// error.
    ///
    /// # Errors
    /// The transport's, a timeout, or a JSON-RPC error.
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: &Value,
    ) -> Result<(String, bool), McpError> {
        let args = if arguments.is_null() {
            json!({})
        } else {
            arguments.clone()
        };
        let result = self
            .request("tools/call", &json!({"name": tool, "arguments": args}))
            .await?;
        Ok(protocol::render_result(&result))
    }

    /// Resolves when the connection is gone.
    pub async fn ended(&self) -> Ended {
        wait_ended(self.transport.ended()).await
    }
}
