//! A fake OpenAI Chat Completions API (`POST /v1/chat/completions`).

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

/// The fake OpenAI server.
#[derive(Debug, Clone, Copy)]
pub struct FakeOpenAi;

impl FakeOpenAi {
    /// Starts a fake that accepts `api_key` as a bearer token. Its base URL ends in `/v1`,
    /// like the real one.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start(api_key: &str) -> std::io::Result<FakeServer> {
        let state = State::new(api_key);
        let router = axum::Router::new()
            .route("/v1/chat/completions", post(handle))
            .with_state(state.clone());
        FakeServer::spawn(router, state, "/v1").await
    }
}

fn error_body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}

fn reject(state: &State, headers: &HeaderMap, body: Value, status: u16, err: &Value) -> Response {
    state.record(headers, body, status);
    json_response(
        status,
        &[("x-request-id", format!("req_fake_err_{}", state.next_id()))],
        err,
    )
}

use crate::openai::is_reasoning_model;

async fn handle(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    match auth.and_then(|a| a.strip_prefix("Bearer ")) {
        None => {
            return reject(
                &state,
                &headers,
                parsed,
                401,
                &error_body(
                    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "invalid_request_error",
                    None,
                    None,
                ),
            );
        }
        Some(k) if k != state.api_key => {
            return reject(
                &state,
                &headers,
                parsed,
                401,
                &error_body(
                    "Incorrect API key provided.",
                    "invalid_request_error",
                    None,
                    Some("invalid_api_key"),
                ),
            );
        }
        Some(_) => {}
    }
    if parsed.is_null() {
        return reject(
            &state,
            &headers,
            parsed,
            400,
            &error_body(
                "We could not parse the JSON body of your request.",
                "invalid_request_error",
                None,
                None,
            ),
        );
    }
    if let Err((message, param)) = validate(&parsed) {
        return reject(
            &state,
            &headers,
            parsed,
            400,
            &error_body(&message, "invalid_request_error", param.as_deref(), None),
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
            &error_body(
                &format!(
                    "This model's maximum context length is {window} tokens. However, your messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages."
                ),
                "invalid_request_error",
                Some("messages"),
                Some("context_length_exceeded"),
            ),
        );
    }
    let mut reply = state.next_reply();
    while let FakeReply::Delayed(d, inner) = reply {
        tokio::time::sleep(d).await;
        reply = *inner;
    }
    let n = state.next_id();
    let request_id = format!("req_fake_{n}");
    let stream = parsed["stream"].as_bool().unwrap_or(false);
    let include_usage = parsed["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    let model = parsed["model"].as_str().unwrap_or("").to_owned();
    match reply {
        FakeReply::Error {
            status,
            kind,
            message,
            retry_after,
        } => {
            state.record(&headers, parsed, status);
            // OpenAI-compatible servers say overloaded with 503.
            let status = if status == 529 { 503 } else { status };
            let (kind, code) = match kind.as_str() {
                "rate_limit_error" => (
                    "requests".to_owned(),
                    Some("rate_limit_exceeded".to_owned()),
                ),
                "overloaded_error" | "api_error" => ("server_error".to_owned(), None),
                other => (other.to_owned(), Some(other.to_owned())),
            };
            let mut h = vec![("x-request-id", request_id)];
            if let Some(s) = retry_after {
                h.push(("retry-after", s.to_string()));
            }
            json_response(
                status,
                &h,
                &error_body(&message, &kind, None, code.as_deref()),
            )
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
                &[("x-request-id", request_id)],
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
                &[("x-request-id", request_id)],
                hangup_body("{\"id\":\"chatcmpl-"),
            )
        }
        FakeReply::Truncated => {
            state.record(&headers, parsed.clone(), 200);
            let content = [ContentBlock::text("this answer is cut short")];
            let usage = usage_for(&state, &parsed, prompt_tokens, &content);
            if stream {
                let mut events = stream_events(
                    n,
                    &model,
                    &content,
                    StopReason::EndTurn,
                    usage,
                    include_usage,
                );
                events.truncate(2);
                raw_response(
                    200,
                    "text/event-stream",
                    &[("x-request-id", request_id)],
                    sse_body(events),
                )
            } else {
                let full =
                    completion_json(n, &model, &content, StopReason::EndTurn, usage).to_string();
                raw_response(
                    200,
                    "application/json",
                    &[("x-request-id", request_id)],
                    Body::from(full[..full.len() / 2].to_owned()),
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
                            id: format!("call_fake_{n}_{i}"),
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
            if stream {
                let events = stream_events(n, &model, &content, stop, usage, include_usage);
                raw_response(
                    200,
                    "text/event-stream",
                    &[("x-request-id", request_id)],
                    sse_body(events),
                )
            } else {
                json_response(
                    200,
                    &[("x-request-id", request_id)],
                    &completion_json(n, &model, &content, stop, usage),
                )
            }
        }
        FakeReply::Delayed(..) => raw_response(500, "text/plain", &[], Body::from("nested delay")),
    }
}

/// Usage derived from the request. OpenAI caches automatically: the conversation before the
/// last message counts as cached once it has been seen.
fn usage_for(state: &State, req: &Value, prompt_tokens: u64, content: &[ContentBlock]) -> Usage {
    let messages = req["messages"].as_array().cloned().unwrap_or_default();
    let output_tokens = tokens_of(serde_json::to_string(content).map_or(0, |s| s.len()));
    let mut cached = 0;
    if messages.len() > 1 {
        let prefix = format!(
            "{}{}{}",
            req["model"],
            req["tools"],
            Value::Array(messages[..messages.len() - 1].to_vec())
        );
        if state.cache_hit(&prefix) {
            cached = tokens_of(prefix.len()).min(prompt_tokens);
        }
    }
    Usage {
        input_tokens: prompt_tokens - cached,
        output_tokens,
        cache_read_tokens: cached,
        cache_write_tokens: 0,
    }
}

fn finish(stop: StopReason) -> &'static str {
    match stop {
        StopReason::ToolUse => "tool_calls",
        StopReason::MaxTokens => "length",
        StopReason::Refusal => "content_filter",
        _ => "stop",
    }
}

fn usage_json(u: Usage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens + u.cache_read_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.cache_read_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": 0},
    })
}

fn completion_json(
    n: u64,
    model: &str,
    content: &[ContentBlock],
    stop: StopReason,
    usage: Usage,
) -> Value {
    let text: Vec<&str> = content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let calls: Vec<Value> = content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::ToolUse { id, name, input } => Some(json!({
                "id": id, "type": "function", "function": {"name": name, "arguments": input.to_string()},
            })),
            _ => None,
        })
        .collect();
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() { Value::Null } else { json!(text.join("\n")) },
        "refusal": null,
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": format!("chatcmpl-fake{n}"),
        "object": "chat.completion",
        "created": 1_767_225_600,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish(stop)}],
        "usage": usage_json(usage),
        "system_fingerprint": "fp_fake",
    })
}

fn chunk(n: u64, model: &str, choices: Value, usage: Option<Value>) -> String {
    let mut v = json!({
        "id": format!("chatcmpl-fake{n}"),
        "object": "chat.completion.chunk",
        "created": 1_767_225_600,
        "model": model,
        "choices": choices,
    });
    if let Some(u) = usage {
        v["usage"] = u;
    }
    format!("data: {v}\n\n")
}

fn stream_events(
    n: u64,
    model: &str,
    content: &[ContentBlock],
    stop: StopReason,
    usage: Usage,
    include_usage: bool,
) -> Vec<String> {
    let delta =
        |d: Value| json!([{"index": 0, "delta": d, "logprobs": null, "finish_reason": null}]);
    let mut ev = vec![chunk(
        n,
        model,
        delta(json!({"role": "assistant", "content": ""})),
        None,
    )];
    let mut call_index = 0;
    for b in content {
        match b {
            ContentBlock::Text { text } => {
                for p in pieces(text, 3) {
                    ev.push(chunk(n, model, delta(json!({"content": p})), None));
                }
            }
            ContentBlock::ToolUse { id, name, input } => {
                ev.push(chunk(
                    n,
                    model,
                    delta(json!({"tool_calls": [{
                        "index": call_index, "id": id, "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }]})),
                    None,
                ));
                for p in pieces(&input.to_string(), 2) {
                    ev.push(chunk(
                        n,
                        model,
                        delta(json!({"tool_calls": [{
                            "index": call_index, "function": {"arguments": p},
                        }]})),
                        None,
                    ));
                }
                call_index += 1;
            }
            _ => {}
        }
    }
    ev.push(chunk(
        n,
        model,
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": finish(stop)}]),
        None,
    ));
    if include_usage {
        ev.push(chunk(n, model, json!([]), Some(usage_json(usage))));
    }
    ev.push("data: [DONE]\n\n".to_owned());
    ev
}

type Invalid = (String, Option<String>);

fn invalid(message: impl Into<String>, param: &str) -> Invalid {
    (message.into(), Some(param.to_owned()))
}

/// The checks the real API makes that matter to an adapter.
fn validate(v: &Value) -> Result<(), Invalid> {
    let model = v["model"]
        .as_str()
        .ok_or_else(|| invalid("you must provide a model parameter", "model"))?;
    if v.get("max_tokens").is_some() && v.get("max_completion_tokens").is_some() {
        return Err(invalid(
            "max_tokens and max_completion_tokens cannot both be set",
            "max_tokens",
        ));
    }
    if v.get("max_tokens").is_some() && is_reasoning_model(model) {
        return Err(invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "max_tokens",
        ));
    }
    for k in ["max_tokens", "max_completion_tokens"] {
        if let Some(x) = v.get(k)
            && x.as_u64().is_none_or(|n| n == 0)
        {
            return Err(invalid(
                format!("Invalid '{k}': integer below minimum value."),
                k,
            ));
        }
    }
    if is_reasoning_model(model)
        && let Some(t) = v.get("temperature")
        && t.as_f64() != Some(1.0)
    {
        return Err(invalid(
            format!(
                "Unsupported value: 'temperature' does not support {t} with this model. Only the default (1) value is supported."
            ),
            "temperature",
        ));
    }
    if v.get("stream_options").is_some() && v["stream"] != true {
        return Err(invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        ));
    }
    let mut tool_names = HashSet::new();
    if let Some(tools) = v.get("tools") {
        let tools = tools
            .as_array()
            .ok_or_else(|| invalid("'tools' must be an array", "tools"))?;
        for (i, t) in tools.iter().enumerate() {
            if t["type"] != "function" {
                return Err(invalid(
                    format!("Invalid value for 'tools[{i}].type'"),
                    &format!("tools[{i}].type"),
                ));
            }
            let name = t["function"]["name"].as_str().unwrap_or("");
            if name.is_empty() {
                return Err(invalid(
                    format!("Missing required parameter: 'tools[{i}].function.name'."),
                    &format!("tools[{i}].function.name"),
                ));
            }
            tool_names.insert(name.to_owned());
        }
    }
    if let Some(tc) = v.get("tool_choice") {
        if tool_names.is_empty() {
            return Err(invalid(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                "tool_choice",
            ));
        }
        match tc {
            Value::String(s) if ["auto", "none", "required"].contains(&s.as_str()) => {}
            Value::Object(_) if tc["type"] == "function" => {
                let name = tc["function"]["name"].as_str().unwrap_or("");
                if !tool_names.contains(name) {
                    return Err(invalid(
                        format!(
                            "Invalid value for 'tool_choice': tool '{name}' not found in 'tools'."
                        ),
                        "tool_choice",
                    ));
                }
            }
            _ => return Err(invalid("Invalid value for 'tool_choice'.", "tool_choice")),
        }
    }
    let messages = v["messages"]
        .as_array()
        .ok_or_else(|| invalid("Missing required parameter: 'messages'.", "messages"))?;
    if messages.is_empty() {
        return Err(invalid("[] is too short - 'messages'", "messages"));
    }
    let mut pending: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("");
        if role != "tool" && !pending.is_empty() {
            return Err(invalid(
                format!(
                    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                    pending.join(", ")
                ),
                &format!("messages.[{i}].role"),
            ));
        }
        match role {
            "system" | "developer" | "user" => {
                if !(m["content"].is_string() || m["content"].is_array()) {
                    return Err(invalid(
                        format!("Invalid type for 'messages[{i}].content'"),
                        &format!("messages.[{i}].content"),
                    ));
                }
            }
            "assistant" => {
                if let Some(calls) = m.get("tool_calls") {
                    let calls = calls
                        .as_array()
                        .ok_or_else(|| invalid("tool_calls must be an array", "messages"))?;
                    for (j, c) in calls.iter().enumerate() {
                        if !c["function"]["arguments"].is_string() {
                            return Err(invalid(
                                format!(
                                    "Invalid type for 'messages[{i}].tool_calls[{j}].function.arguments': expected a string"
                                ),
                                &format!("messages.[{i}].tool_calls.[{j}].function.arguments"),
                            ));
                        }
                        let id = c["id"].as_str().unwrap_or("");
                        if id.is_empty() || c["function"]["name"].as_str().is_none_or(str::is_empty)
                        {
                            return Err(invalid(
                                "tool calls need an id and a function name",
                                "messages",
                            ));
                        }
                        pending.push(id.to_owned());
                    }
                } else if m["content"].is_null() {
                    return Err(invalid(
                        format!(
                            "Invalid value for 'messages[{i}].content': expected a string, got null."
                        ),
                        &format!("messages.[{i}].content"),
                    ));
                }
            }
            "tool" => {
                let id = m["tool_call_id"].as_str().unwrap_or("");
                let Some(pos) = pending.iter().position(|p| p == id) else {
                    return Err(invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                        &format!("messages.[{i}].role"),
                    ));
                };
                pending.remove(pos);
            }
            other => {
                return Err(invalid(
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
                    ),
                    &format!("messages.[{i}].role"),
                ));
            }
        }
    }
    Ok(())
}
