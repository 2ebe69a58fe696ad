//! JSON-RPC 2.0 as MCP uses it: what a posted message is, and the answers and errors.

use serde_json::{Map, Value, json};

/// The body is not JSON.
pub(crate) const PARSE_ERROR: i64 = -32700;
/// The JSON is not a JSON-RPC message (or not one allowed here).
pub(crate) const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
/// The params do not fit the method (an unknown tool, a bad argument).
pub(crate) const INVALID_PARAMS: i64 = -32602;
/// The server failed.
pub(crate) const INTERNAL_ERROR: i64 = -32603;
/// MCP's code for a resource that does not exist.
pub(crate) const RESOURCE_NOT_FOUND: i64 = -32002;
/// Foreman's code for a refusal of the token (the scope a method needs is missing).
pub(crate) const FORBIDDEN: i64 = -32003;

/// A JSON-RPC error object, with an optional `data` member.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub(crate) fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    pub(crate) fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    fn to_json(&self) -> Value {
        let mut e = json!({ "code": self.code, "message": self.message });
        if let (Some(data), Some(obj)) = (&self.data, e.as_object_mut()) {
            obj.insert("data".to_owned(), data.clone());
        }
        e
    }
}

/// What one posted message is.
#[derive(Debug)]
pub(crate) enum Message {
    /// A request: it gets an answer with its id.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A notification: no answer.
    Notification,
    /// A response or error from the client (to a request this server never sends): ignored.
    Response,
    /// Not a JSON-RPC message; answered with this error (and the id, when one could be read).
    Invalid { id: Value, error: RpcError },
}

impl Message {
    /// Classifies one JSON value of a posted body.
    pub(crate) fn parse(value: Value) -> Self {
        let Value::Object(mut obj) = value else {
            return Self::invalid(Value::Null, "a message must be a json object");
        };
        let id = obj.remove("id");
        if let Some(id) = &id
            && !(id.is_string() || id.is_i64() || id.is_u64())
        {
            return Self::invalid(Value::Null, "id must be a string or an integer");
        }
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Self::invalid(id.unwrap_or(Value::Null), "jsonrpc must be \"2.0\"");
        }
        let method = match obj.remove("method") {
            Some(Value::String(m)) => m,
            Some(_) => return Self::invalid(id.unwrap_or(Value::Null), "method must be a string"),
            None if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) => {
                return Self::Response;
            }
            None => return Self::invalid(id.unwrap_or(Value::Null), "method is missing"),
        };
        let params = obj.remove("params").unwrap_or(Value::Object(Map::new()));
        if !params.is_object() {
            return Self::invalid(id.unwrap_or(Value::Null), "params must be an object");
        }
        match id {
            Some(id) => Self::Request { id, method, params },
            None => Self::Notification,
        }
    }

    fn invalid(id: Value, why: &str) -> Self {
        Self::Invalid {
            id,
            error: RpcError::new(INVALID_REQUEST, format!("invalid request: {why}")),
        }
    }
}

/// The answer to the request with `id`.
pub(crate) fn answer(id: Value, outcome: Result<Value, RpcError>) -> Value {
    match outcome {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(e) => json!({ "jsonrpc": "2.0", "id": id, "error": e.to_json() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_told_apart_by_their_members() {
        let m = Message::parse(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}));
        assert!(matches!(m, Message::Request { ref method, .. } if method == "ping"));
        let m = Message::parse(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        assert!(matches!(m, Message::Notification));
        let m = Message::parse(json!({"jsonrpc": "2.0", "id": "a", "result": {}}));
        assert!(matches!(m, Message::Response));
        for bad in [
            json!([1]),
            json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": 1, "method": 7}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}),
            json!({"jsonrpc": "2.0", "id": 1}),
        ] {
            assert!(
                matches!(Message::parse(bad.clone()), Message::Invalid { ref error, .. } if error.code == INVALID_REQUEST),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_error_answer_carries_its_data() {
        let a = answer(
            json!(3),
            Err(RpcError::new(FORBIDDEN, "no").with_data(json!({"scope": "write"}))),
        );
        assert_eq!(
            a,
            json!({"jsonrpc": "2.0", "id": 3, "error": {"code": -32003, "message": "no", "data": {"scope": "write"}}})
        );
    }
}
