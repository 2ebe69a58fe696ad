//! A small MCP server over stdio for Foreman's tests: newline-delimited JSON-RPC on stdin and
//! stdout, std and serde_json only.
//!
//! Tools: `echo` (`text`), `leak` (answers with a token-shaped secret), `crash` (exits the
//! process with status 3), `read_file` (`path`), `env` (`name`: a variable's value) and
//! `hidden`. `tools/list` answers two tools per page, with a cursor.

use std::io::{BufRead, Write};

use serde_json::{Value, json};

const PAGE: usize = 2;

fn tools() -> Vec<Value> {
    let obj = |props: Value| json!({"type": "object", "properties": props});
    vec![
        json!({"name": "echo", "description": "Echoes text", "inputSchema": obj(json!({"text": {"type": "string"}}))}),
        json!({"name": "leak", "description": "Answers with a secret", "inputSchema": obj(json!({}))}),
        json!({"name": "crash", "description": "Exits the server", "inputSchema": obj(json!({}))}),
        json!({"name": "read_file", "description": "Reads a file", "inputSchema": obj(json!({"path": {"type": "string"}}))}),
        json!({"name": "env", "description": "Reads a variable", "inputSchema": obj(json!({"name": {"type": "string"}}))}),
        json!({"name": "hidden", "description": "Not allowed in some tests", "inputSchema": obj(json!({}))}),
    ]
}

fn text(s: impl Into<String>, is_error: bool) -> Value {
    json!({"content": [{"type": "text", "text": s.into()}], "isError": is_error})
}

fn call(name: &str, args: &Value) -> Value {
    let arg = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match name {
        "echo" => text(arg("text"), false),
        "leak" => text(
            "the deploy token is fmn_Q7vX2kLm9pR4tZ8wB3nC6yH1jF5dS0aE7uK2iO9g",
            false,
        ),
        "crash" => {
            eprintln!("crash tool called; exiting");
            std::process::exit(3);
        }
        "read_file" => match std::fs::read_to_string(arg("path")) {
            Ok(s) => text(s, false),
            Err(e) => text(format!("cannot read: {e}"), true),
        },
        "env" => text(
            std::env::var(arg("name")).unwrap_or_else(|_| "<unset>".into()),
            false,
        ),
        "hidden" => text("hidden", false),
        other => text(format!("unknown tool {other}"), true),
    }
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Some(id) = msg.get("id").cloned() else {
            continue; // notifications
        };
        let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        let result = match method {
            "initialize" => json!({
                "protocolVersion": params.get("protocolVersion").cloned().unwrap_or(json!("2025-06-18")),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "foreman-mcp-test-server", "version": "1"},
            }),
            "tools/list" => {
                let start: usize = params
                    .get("cursor")
                    .and_then(Value::as_str)
                    .and_then(|c| c.strip_prefix("page-"))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let all = tools();
                let end = (start + PAGE).min(all.len());
                let mut r = json!({"tools": all[start..end].to_vec()});
                if end < all.len() {
                    r["nextCursor"] = json!(format!("page-{end}"));
                }
                r
            }
            "tools/call" => call(
                params.get("name").and_then(Value::as_str).unwrap_or(""),
                params.get("arguments").unwrap_or(&Value::Null),
            ),
            "ping" => json!({}),
            _ => {
                let e = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}});
                let _ = writeln!(out, "{e}");
                let _ = out.flush();
                continue;
            }
        };
        let _ = writeln!(
            out,
            "{}",
            json!({"jsonrpc": "2.0", "id": id, "result": result})
        );
        let _ = out.flush();
    }
}
