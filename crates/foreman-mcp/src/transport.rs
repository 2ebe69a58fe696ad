//! The two transports behind one interface: a request gets its answer, a notification is
//! sent, and [`Ended`] says when the connection is gone for good.

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::watch;

use crate::error::McpError;

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// What happened (the exit status and the last lines of stderr, or the transport error).
    pub message: String,
    /// Whether it ended in failure (a non-zero exit, a signal, a transport error) rather than
    /// a clean exit.
    pub failure: bool,
}

/// One connection to one MCP server.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Sends request `method` and waits for its answer (no timeout: the client adds one).
    async fn request(&self, method: &str, params: &Value) -> Result<Value, McpError>;
    /// Sends notification `method`.
    async fn notify(&self, method: &str, params: &Value) -> Result<(), McpError>;
    /// Becomes `Some` when the connection is gone.
    fn ended(&self) -> watch::Receiver<Option<Ended>>;
}

/// Waits until `rx` reports the end.
pub(crate) async fn wait_ended(mut rx: watch::Receiver<Option<Ended>>) -> Ended {
    loop {
        if let Some(e) = rx.borrow_and_update().clone() {
            return e;
        }
        if rx.changed().await.is_err() {
            return rx.borrow().clone().unwrap_or(Ended {
                message: "the connection was dropped".into(),
                failure: true,
            });
        }
    }
}
