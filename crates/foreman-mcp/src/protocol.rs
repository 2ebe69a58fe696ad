//! The slice of the Model Context Protocol a tool client needs: JSON-RPC 2.0 messages,
//! `initialize`, `tools/list` and `tools/call`, and how a call's result becomes text.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::McpError;

/// The protocol revision Foreman asks for (servers may answer an older one they support).
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// A JSON-RPC request.
#[must_use]
pub fn request(id: u64, method: &str, params: &Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A JSON-RPC notification.
#[must_use]
pub fn notification(method: &str, params: &Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params})
}

/// What one incoming message is.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    /// The answer to request `id`.
    Response(u64, Result<Value, McpError>),
    /// A request from the server (`ping`, sampling, ...), to be answered.
    Request(Value, String),
    /// A notification, or something without meaning to a client.
    Other,
}

/// Classifies one JSON-RPC message.
#[must_use]
pub fn classify(msg: &Value) -> Incoming {
    let id = msg.get("id");
    if let Some(method) = msg.get("method").and_then(Value::as_str) {
        return match id {
            Some(id) if !id.is_null() => Incoming::Request(id.clone(), method.to_owned()),
            _ => Incoming::Other,
        };
    }
    let Some(id) = id.and_then(Value::as_u64) else {
        return Incoming::Other;
    };
    if let Some(err) = msg.get("error") {
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        return Incoming::Response(id, Err(McpError::Rpc { code, message }));
    }
    match msg.get("result") {
        Some(r) => Incoming::Response(id, Ok(r.clone())),
        None => Incoming::Response(
            id,
            Err(McpError::Protocol(
                "a response without result or error".into(),
            )),
        ),
    }
}

/// The answer a client gives a server's request: `ping` is answered, everything else (the
/// client offers no sampling, roots or elicitation) is "method not found".
#[must_use]
pub fn answer(id: &Value, method: &str) -> Value {
    if method == "ping" {
        json!({"jsonrpc": "2.0", "id": id, "result": {}})
    } else {
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}})
    }
}

/// The `initialize` request's parameters.
#[must_use]
pub fn initialize_params() -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "foreman", "version": env!("CARGO_PKG_VERSION")},
    })
}

/// One tool as `tools/list` describes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Tool {
    /// Its name on the server.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// The JSON Schema of its arguments.
    #[serde(rename = "inputSchema", default = "empty_schema")]
    pub input_schema: Value,
}

fn empty_schema() -> Value {
    json!({"type": "object"})
}

/// One page of `tools/list`.
#[derive(Debug, Deserialize)]
pub struct ToolPage {
    /// The tools on it.
    #[serde(default)]
    pub tools: Vec<Tool>,
    /// The cursor of the next page.
    #[serde(rename = "nextCursor", default)]
    pub next_cursor: Option<String>,
}

/// A `tools/call` result as text for a model, and whether the tool reported an error.
/// Text items are joined by newlines; embedded text resources are included; images, audio and
/// binary resources are described, not inlined; without content items the structured result
/// is shown as JSON.
#[must_use]
pub fn render_result(result: &Value) -> (String, bool) {
    let is_error = result
        .get("isError")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut parts: Vec<String> = Vec::new();
    for item in result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        let field = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
        match kind {
            "text" => parts.push(field("text").to_owned()),
            "image" | "audio" => parts.push(format!(
                "[{kind}: {}, {} base64 bytes]",
                field("mimeType"),
                field("data").len()
            )),
            "resource" => {
                let r = item.get("resource").cloned().unwrap_or(Value::Null);
                let uri = r.get("uri").and_then(Value::as_str).unwrap_or("");
                match r.get("text").and_then(Value::as_str) {
                    Some(t) => parts.push(format!("[resource {uri}]\n{t}")),
                    None => parts.push(format!("[binary resource {uri}]")),
                }
            }
            "resource_link" => parts.push(format!("[resource link {}]", field("uri"))),
            other => parts.push(format!("[{other} content]")),
        }
    }
    if parts.is_empty()
        && let Some(s) = result.get("structuredContent")
    {
        parts.push(s.to_string());
    }
    (parts.join("\n"), is_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_classified() {
        let ok = json!({"jsonrpc": "2.0", "id": 3, "result": {"a": 1}});
        assert_eq!(classify(&ok), Incoming::Response(3, Ok(json!({"a": 1}))));
        let err = json!({"jsonrpc": "2.0", "id": 4, "error": {"code": -32602, "message": "bad"}});
        assert!(matches!(
            classify(&err),
            Incoming::Response(4, Err(McpError::Rpc { code: -32602, .. }))
        ));
        let ping = json!({"jsonrpc": "2.0", "id": "p1", "method": "ping"});
        assert_eq!(
            classify(&ping),
            Incoming::Request(json!("p1"), "ping".into())
        );
        let note = json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"});
        assert_eq!(classify(&note), Incoming::Other);
        assert_eq!(answer(&json!(1), "ping")["result"], json!({}));
        assert_eq!(
            answer(&json!(1), "sampling/createMessage")["error"]["code"],
            -32601
        );
    }

    #[test]
    fn results_become_text() {
        let r = json!({"content": [
            {"type": "text", "text": "one"},
            {"type": "image", "mimeType": "image/png", "data": "AAAA"},
            {"type": "resource", "resource": {"uri": "file:///a", "text": "body"}},
        ], "isError": true});
        let (text, err) = render_result(&r);
        assert!(err);
        assert_eq!(
            text,
            "one\n[image: image/png, 4 base64 bytes]\n[resource file:///a]\nbody"
        );
        let (text, err) = render_result(&json!({"content": [], "structuredContent": {"n": 1}}));
        assert!(!err);
        assert_eq!(text, "{\"n\":1}");
    }
}
