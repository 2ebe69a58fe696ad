//! A fake Anthropic Messages API (`POST /v1/messages`).

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State as AxumState;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use foreman_domain::llm::{ContentBlock, StopReason, Usage};
use serde_json::{Value, json};

use super::server::{
    FakeReply, FakeServer, State, default_stop, hangup_body, json_response, lock, pieces,
    raw_response, sse_body, tokens_of,
};

/// The fake Anthropic server.
#[derive(Debug, Clone, Copy)]
pub struct FakeAnthropic;

impl FakeAnthropic {
    /// Starts a fake that accepts `api_key`. Its base URL has no `/v1`, like the real one.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start(api_key: &str) -> std::io::Result<FakeServer> {
        let state = State::new(api_key);
        let router = axum::Router::new()
            .route("/v1/messages", post(handle))
            .with_state(state.clone());
        FakeServer::spawn(router, state, "").await
    }
}

fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

fn reject(
    state: &State,
    headers: &HeaderMap,
    body: Value,
    status: u16,
    kind: &str,
    message: &str,
) -> Response {
    state.record(headers, body, status);
    json_response(
        status,
        &[("request-id", format!("req_fake_err_{}", state.next_id()))],
        &error_body(kind, message),
    )
}

async fn handle(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        None => {
            return reject(
                &state,
                &headers,
                parsed,
                401,
                "authentication_error",
                "x-api-key header is required",
            );
        }
        Some(k) if k != state.api_key => {
            return reject(
                &state,
                &headers,
                parsed,
                401,
                "authentication_error",
                "invalid x-api-key",
            );
        }
        Some(_) => {}
    }
    if headers.get("anthropic-version").is_none() {
        return reject(
            &state,
            &headers,
            parsed,
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    if parsed.is_null() {
        return reject(
            &state,
            &headers,
            parsed,
            400,
            "invalid_request_error",
            "There was an error parsing the body of your request",
        );
    }
    if let Err(message) = validate(&parsed) {
        return reject(
            &state,
            &headers,
            parsed,
            400,
            "invalid_request_error",
            &message,
        );
    }
    let prompt_tokens = tokens_of(body.len());
    let window = *lock(&state.context_window);
    if prompt_tokens > window {
        return reject(
            &state,
            &headers,
            parsed,
            400,
            "invalid_request_error",
            &format!("prompt is too long: {prompt_tokens} tokens > {window} maximum"),
        );
    }
    let mut reply = state.next_reply();
    while let FakeReply::Delayed(d, inner) = reply {
        tokio::time::sleep(d).await;
        reply = *inner;
    }
    let n = state.next_id();
    let request_id = format!("req_fake_{n}");
    let stream = parsed
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match reply {
        FakeReply::Error {
            status,
            kind,
            message,
            retry_after,
        } => {
            state.record(&headers, parsed, status);
            let mut h = vec![("request-id", request_id)];
            if let Some(s) = retry_after {
                h.push(("retry-after", s.to_string()));
            }
            json_response(status, &h, &error_body(&kind, &message))
        }
        FakeReply::Raw {
            status,
            content_type,
            body,
        } => {
            state.record(&headers, parsed, status);
            raw_response(
                status,
                &content_type,
                &[("request-id", request_id)],
                Body::from(body),
            )
        }
        FakeReply::Hangup => {
            state.record(&headers, parsed, 200);
            let ct = if stream {
                "text/event-stream"
            } else {
                "application/json"
            };
            raw_response(
                200,
                ct,
                &[("request-id", request_id)],
                hangup_body("{\"id\":\"msg_"),
            )
        }
        FakeReply::Truncated => {
            state.record(&headers, parsed.clone(), 200);
            let usage = usage_for(&state, &parsed, prompt_tokens, &[]);
            let model = parsed["model"].as_str().unwrap_or("").to_owned();
            if stream {
                let mut events = stream_events(
                    n,
                    &model,
                    &[ContentBlock::text("this answer is cut sh")],
                    StopReason::EndTurn,
                    usage,
                );
                events.truncate(3);
                raw_response(
                    200,
                    "text/event-stream",
                    &[("request-id", request_id)],
                    sse_body(events),
                )
            } else {
                let full = message_json(
                    n,
                    &model,
                    &[ContentBlock::text("this answer is cut short")],
                    StopReason::EndTurn,
                    usage,
                )
                .to_string();
                let half = full[..full.len() / 2].to_owned();
                raw_response(
                    200,
                    "application/json",
                    &[("request-id", request_id)],
                    Body::from(half),
                )
            }
        }
        FakeReply::Message {
            content,
            stop_reason,
            usage,
        } => {
            state.record(&headers, parsed.clone(), 200);
            let content: Vec<ContentBlock> = content
                .into_iter()
                .enumerate()
                .map(|(i, b)| match b {
                    ContentBlock::ToolUse { id, name, input } if id.is_empty() => {
                        ContentBlock::ToolUse {
                            id: format!("toolu_fake_{n}_{i}"),
                            name,
                            input,
                        }
                    }
                    other => other,
                })
                .collect();
            let stop = stop_reason.unwrap_or_else(|| default_stop(&content));
            let usage =
                usage.unwrap_or_else(|| usage_for(&state, &parsed, prompt_tokens, &content));
            let model = parsed["model"].as_str().unwrap_or("").to_owned();
            if stream {
                let events = stream_events(n, &model, &content, stop, usage);
                raw_response(
                    200,
                    "text/event-stream",
                    &[("request-id", request_id)],
                    sse_body(events),
                )
            } else {
                json_response(
                    200,
                    &[("request-id", request_id)],
                    &message_json(n, &model, &content, stop, usage),
                )
            }
        }
        FakeReply::Delayed(..) => unreachable_delayed(),
    }
}

fn unreachable_delayed() -> Response {
    raw_response(500, "text/plain", &[], Body::from("nested delay"))
}

/// Usage derived from the request: the cacheable prefix is written the first time it is
/// seen and read afterwards.
fn usage_for(state: &State, req: &Value, prompt_tokens: u64, content: &[ContentBlock]) -> Usage {
    let mut prefix = String::new();
    let mut has_cache = false;
    let mut cached_prefix = String::new();
    let mut add = |v: &Value, prefix: &mut String| {
        prefix.push_str(&v.to_string());
        if v.get("cache_control").is_some() {
            has_cache = true;
            cached_prefix.clone_from(prefix);
        }
    };
    for v in req["tools"].as_array().into_iter().flatten() {
        add(v, &mut prefix);
    }
    for v in req["system"].as_array().into_iter().flatten() {
        add(v, &mut prefix);
    }
    for m in req["messages"].as_array().into_iter().flatten() {
        for b in m["content"].as_array().into_iter().flatten() {
            add(b, &mut prefix);
        }
    }
    let output_tokens = tokens_of(serde_json::to_string(content).map_or(0, |s| s.len()));
    if !has_cache {
        return Usage {
            input_tokens: prompt_tokens,
            output_tokens,
            ..Usage::default()
        };
    }
    let cached = tokens_of(cached_prefix.len()).min(prompt_tokens);
    let hit = state.cache_hit(&cached_prefix);
    Usage {
        input_tokens: prompt_tokens - cached,
        output_tokens,
        cache_read_tokens: if hit { cached } else { 0 },
        cache_write_tokens: if hit { 0 } else { cached },
    }
}

fn block_json(b: &ContentBlock) -> Value {
    match b {
        ContentBlock::Text { text } => json!({"type": "text", "text": text}),
        ContentBlock::ToolUse { id, name, input } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
        ContentBlock::Thinking {
            thinking,
            signature,
        } => {
            json!({"type": "thinking", "thinking": thinking, "signature": signature.clone().unwrap_or_else(|| "sig".into())})
        }
        ContentBlock::ToolResult { .. } => json!({"type": "text", "text": ""}),
    }
}

fn usage_json(u: Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
    })
}

fn message_json(
    n: u64,
    model: &str,
    content: &[ContentBlock],
    stop: StopReason,
    usage: Usage,
) -> Value {
    json!({
        "id": format!("msg_fake_{n}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content.iter().map(block_json).collect::<Vec<_>>(),
        "stop_reason": stop.as_str(),
        "stop_sequence": null,
        "usage": usage_json(usage),
    })
}

fn sse(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

fn stream_events(
    n: u64,
    model: &str,
    content: &[ContentBlock],
    stop: StopReason,
    usage: Usage,
) -> Vec<String> {
    let mut start_usage = usage_json(usage);
    start_usage["output_tokens"] = json!(1);
    let mut ev = vec![sse(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": format!("msg_fake_{n}"), "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage,
        }}),
    )];
    ev.push(sse("ping", &json!({"type": "ping"})));
    for (i, b) in content.iter().enumerate() {
        let (start, deltas): (Value, Vec<Value>) = match b {
            ContentBlock::Text { text } => (
                json!({"type": "text", "text": ""}),
                pieces(text, 3)
                    .into_iter()
                    .map(|p| json!({"type": "text_delta", "text": p}))
                    .collect(),
            ),
            ContentBlock::ToolUse { id, name, input } => (
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                pieces(&input.to_string(), 2)
                    .into_iter()
                    .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                    .collect(),
            ),
            ContentBlock::Thinking {
                thinking,
                signature,
            } => (
                json!({"type": "thinking", "thinking": ""}),
                vec![
                    json!({"type": "thinking_delta", "thinking": thinking}),
                    json!({"type": "signature_delta", "signature": signature.clone().unwrap_or_else(|| "sig".into())}),
                ],
            ),
            ContentBlock::ToolResult { .. } => continue,
        };
        ev.push(sse(
            "content_block_start",
            &json!({"type": "content_block_start", "index": i, "content_block": start}),
        ));
        for d in deltas {
            ev.push(sse(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": i, "delta": d}),
            ));
        }
        ev.push(sse(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": i}),
        ));
    }
    ev.push(sse(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop.as_str(), "stop_sequence": null}, "usage": {"output_tokens": usage.output_tokens}}),
    ));
    ev.push(sse("message_stop", &json!({"type": "message_stop"})));
    ev
}

fn valid_tool_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The checks the real API makes that matter to an adapter.
fn validate(v: &Value) -> Result<(), String> {
    if !v["model"].is_string() {
        return Err("model: Field required".into());
    }
    match v.get("max_tokens") {
        None => return Err("max_tokens: Field required".into()),
        Some(m) => match m.as_u64() {
            Some(n) if n >= 1 => {}
            _ => {
                return Err(
                    "max_tokens: Input should be a valid integer greater than or equal to 1".into(),
                );
            }
        },
    }
    let max_tokens = v["max_tokens"].as_u64().unwrap_or(0);
    if let Some(t) = v.get("temperature") {
        match t.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => {}
            _ => return Err("temperature: Input should be less than or equal to 1".into()),
        }
    }
    let mut cache_controls = 0usize;
    match v.get("system") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(blocks)) => {
            for (i, b) in blocks.iter().enumerate() {
                if b["type"] != "text" || !b["text"].is_string() {
                    return Err(format!("system.{i}: Input should be a valid text block"));
                }
                cache_controls += usize::from(b.get("cache_control").is_some());
            }
        }
        Some(_) => {
            return Err("system: Input should be a valid string or list of text blocks".into());
        }
    }
    let mut tool_names = HashSet::new();
    if let Some(tools) = v.get("tools") {
        let tools = tools
            .as_array()
            .ok_or("tools: Input should be a valid list")?;
        for (i, t) in tools.iter().enumerate() {
            let name = t["name"].as_str().unwrap_or("");
            if !valid_tool_name(name) {
                return Err(format!(
                    "tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
                ));
            }
            if t["input_schema"]["type"] != "object" {
                return Err(format!(
                    "tools.{i}.custom.input_schema.type: Input should be 'object'"
                ));
            }
            if !tool_names.insert(name.to_owned()) {
                return Err(format!(
                    "tools: Tool names must be unique. Found duplicate: {name}"
                ));
            }
            cache_controls += usize::from(t.get("cache_control").is_some());
        }
    }
    let mut forced_tool = false;
    if let Some(tc) = v.get("tool_choice") {
        if tool_names.is_empty() && tc["type"] != "none" {
            return Err(
                "tool_choice: tool_choice may only be specified while providing tools.".into(),
            );
        }
        match tc["type"].as_str() {
            Some("auto" | "none") => {}
            Some("any") => forced_tool = true,
            Some("tool") => {
                forced_tool = true;
                let name = tc["name"].as_str().unwrap_or("");
                if !tool_names.contains(name) {
                    return Err(format!(
                        "tool_choice.tool.name: tool {name:?} not found in tools"
                    ));
                }
            }
            _ => {
                return Err(
                    "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'".into(),
                );
            }
        }
    }
    if let Some(th) = v.get("thinking")
        && th["type"] == "enabled"
    {
        let budget = th["budget_tokens"].as_u64().unwrap_or(0);
        if budget < 1024 {
            return Err(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
                    .into(),
            );
        }
        if budget >= max_tokens {
            return Err("`max_tokens` must be greater than `thinking.budget_tokens`".into());
        }
        if forced_tool {
            return Err("Thinking may not be enabled when tool_choice forces tool use.".into());
        }
        if v.get("temperature")
            .is_some_and(|t| t.as_f64() != Some(1.0))
        {
            return Err("`temperature` may only be set to 1 when thinking is enabled.".into());
        }
    }
    let messages = v["messages"].as_array().ok_or("messages: Field required")?;
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    let mut prev_role = "";
    let mut pending_tool_uses: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("");
        if role != "user" && role != "assistant" {
            return Err(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
        if i == 0 && role != "user" {
            return Err("messages: first message must use the \"user\" role".into());
        }
        if role == prev_role {
            return Err(format!(
                "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"{role}\" roles in a row"
            ));
        }
        let blocks: Vec<Value> = match &m["content"] {
            Value::String(s) => vec![json!({"type": "text", "text": s})],
            Value::Array(a) => a.clone(),
            _ => {
                return Err(format!(
                    "messages.{i}.content: Input should be a valid list"
                ));
            }
        };
        if blocks.is_empty() && i + 1 < messages.len() {
            return Err(format!(
                "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
            ));
        }
        let mut answered = HashSet::new();
        let mut uses = Vec::new();
        for (j, b) in blocks.iter().enumerate() {
            cache_controls += usize::from(b.get("cache_control").is_some());
            match b["type"].as_str() {
                Some("text") => {
                    if !b["text"].is_string() {
                        return Err(format!(
                            "messages.{i}.content.{j}.text.text: Field required"
                        ));
                    }
                }
                Some("tool_use") => {
                    if role != "assistant" {
                        return Err(format!(
                            "messages.{i}.content.{j}: `tool_use` blocks can only be in `assistant` messages"
                        ));
                    }
                    if !b["id"].is_string() || !b["name"].is_string() || !b["input"].is_object() {
                        return Err(format!(
                            "messages.{i}.content.{j}.tool_use: id, name and an object input are required"
                        ));
                    }
                    uses.push(b["id"].as_str().unwrap_or("").to_owned());
                }
                Some("tool_result") => {
                    if role != "user" {
                        return Err(format!(
                            "messages.{i}.content.{j}: `tool_result` blocks can only be in `user` messages"
                        ));
                    }
                    let id = b["tool_use_id"].as_str().unwrap_or("");
                    if !pending_tool_uses.iter().any(|p| p == id) {
                        return Err(format!(
                            "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        ));
                    }
                    answered.insert(id.to_owned());
                }
                Some("thinking" | "redacted_thinking") => {}
                other => {
                    return Err(format!(
                        "messages.{i}.content.{j}.type: unknown block type {other:?}"
                    ));
                }
            }
        }
        if role == "user" {
            let missing: Vec<&String> = pending_tool_uses
                .iter()
                .filter(|p| !answered.contains(*p))
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            pending_tool_uses.clear();
        } else {
            pending_tool_uses = uses;
        }
        prev_role = role;
    }
    if cache_controls > 4 {
        return Err(format!(
            "A maximum of 4 blocks with cache_control may be provided. Found {cache_controls}."
        ));
    }
    if let Some(s) = v.get("stream")
        && !s.is_boolean()
    {
        return Err("stream: Input should be a valid boolean".into());
    }
    Ok(())
}
