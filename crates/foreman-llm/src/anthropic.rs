//! The Anthropic Messages API adapter.
//!
//! Sends `POST {base_url}/v1/messages` with `x-api-key` and `anthropic-version`, maps tool use,
//! forced tool choice, prompt caching (`cache_control` on the system prompt, the tool
//! definitions and the messages marked as cache breakpoints), extended thinking and streaming
//! (SSE) to and from the port's types.

use std::time::Duration;

use foreman_domain::llm::{ContentBlock, LlmRequest, ToolChoice};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::secret::Secret;

// The HTTP adapter itself (everything below but the settings and the request body).
#[cfg(feature = "anthropic")]
use {
    crate::SetupError,
    crate::sse::SseParser,
    crate::wire::{clip, header_string, parse_retry_after, transport_error},
    async_trait::async_trait,
    foreman_domain::llm::{
        LlmError, LlmProgress, LlmProvider, LlmResponse, LlmResult, ProgressSink, StopReason, Usage,
    },
    futures::StreamExt,
    serde::Serialize,
    std::collections::BTreeMap,
    std::time::Instant,
};

/// The API version header value this adapter speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The environment variable the API key is read from when the config has none.
pub const ANTHROPIC_API_KEY_ENV: &str = "ANTHROPIC_API_KEY";

/// Anthropic settings (`[llm.anthropic]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnthropicConfig {
    /// API key; empty means read `ANTHROPIC_API_KEY`.
    pub api_key: Secret,
    /// Base URL (no trailing `/v1`).
    pub base_url: String,
    /// `anthropic-version` header.
    pub version: String,
    /// Longest a whole call may take, streaming included.
    #[serde(with = "crate::wire::duration_ms")]
    pub timeout: Duration,
    /// Longest a connection attempt may take.
    #[serde(with = "crate::wire::duration_ms")]
    pub connect_timeout: Duration,
    /// Provider name recorded with each call.
    pub name: String,
}

impl Default for AnthropicConfig {
    fn default() -> Self {
        Self {
            api_key: Secret::default(),
            base_url: "https://api.anthropic.com".to_owned(),
            version: ANTHROPIC_VERSION.to_owned(),
            timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
            name: "anthropic".to_owned(),
        }
    }
}

/// Calls the Anthropic Messages API.
#[cfg(feature = "anthropic")]
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    config: AnthropicConfig,
    api_key: Secret,
    client: reqwest::Client,
    url: String,
}

#[cfg(feature = "anthropic")]
impl AnthropicProvider {
    /// Builds the provider; the API key comes from the config or `ANTHROPIC_API_KEY`.
    ///
    /// # Errors
    /// [`SetupError::MissingApiKey`] when neither has a key; [`SetupError::InvalidBaseUrl`];
    /// [`SetupError::Http`] when the HTTP client cannot be built.
    pub fn new(config: AnthropicConfig) -> Result<Self, SetupError> {
        let api_key = if config.api_key.is_empty() {
            Secret::from_env(ANTHROPIC_API_KEY_ENV).ok_or_else(|| SetupError::MissingApiKey {
                provider: config.name.clone(),
                env: ANTHROPIC_API_KEY_ENV.to_owned(),
            })?
        } else {
            config.api_key.clone()
        };
        let base = crate::openai::check_base_url(&config.base_url)?;
        let client = crate::http::client_builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(SetupError::Http)?;
        Ok(Self {
            url: format!("{base}/v1/messages"),
            api_key,
            client,
            config,
        })
    }

    /// The configured key, for redaction.
    #[must_use]
    pub fn api_key(&self) -> &Secret {
        &self.api_key
    }
}

/// Builds the JSON body of a Messages request.
#[must_use]
pub fn request_body(req: &LlmRequest) -> Value {
    let ephemeral = json!({"type": "ephemeral"});
    let mut body = serde_json::Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert("max_tokens".into(), json!(req.max_tokens));
    if let Some(system) = req.system.as_deref().filter(|s| !s.is_empty()) {
        let mut block = json!({"type": "text", "text": system});
        if req.cache.system {
            block["cache_control"] = ephemeral.clone();
        }
        body.insert("system".into(), json!([block]));
    }
    // At most 4 cache breakpoints per request: system and tools take theirs first, the last
    // marked messages get the rest.
    let used = usize::from(req.cache.system && req.system.is_some())
        + usize::from(req.cache.tools && !req.tools.is_empty());
    let marked: Vec<usize> = req
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.cache_breakpoint && !m.content.is_empty())
        .map(|(i, _)| i)
        .collect();
    let keep = marked.len().saturating_sub(4usize.saturating_sub(used));
    let cached: Vec<usize> = marked[keep..].to_vec();
    let messages: Vec<Value> = req
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut content: Vec<Value> = m.content.iter().map(block_json).collect();
            if cached.contains(&i)
                && let Some(last) = content.last_mut()
            {
                last["cache_control"] = ephemeral.clone();
            }
            json!({"role": m.role.as_str(), "content": content})
        })
        .collect();
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let n = req.tools.len();
        let tools: Vec<Value> = req
            .tools
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut v = json!({
                    "name": t.name,
                    "description": t.description,
                    "input_schema": t.input_schema,
                });
                if req.cache.tools && i + 1 == n {
                    v["cache_control"] = ephemeral.clone();
                }
                v
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &req.tool_choice {
        let v = match choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::Any => json!({"type": "any"}),
            ToolChoice::Tool { name } => json!({"type": "tool", "name": name}),
        };
        body.insert("tool_choice".into(), v);
    }
    // Extended thinking only runs at the default temperature; the API rejects any other.
    if let Some(t) = req.temperature
        && req.thinking_budget.is_none()
    {
        body.insert("temperature".into(), json!(t));
    }
    if !req.stop_sequences.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop_sequences));
    }
    if let Some(budget) = req.thinking_budget {
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if req.stream {
        body.insert("stream".into(), json!(true));
    }
    Value::Object(body)
}

fn block_json(b: &ContentBlock) -> Value {
    match b {
        ContentBlock::Text { text } => json!({"type": "text", "text": text}),
        ContentBlock::ToolUse { id, name, input } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
        ContentBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            let mut v =
                json!({"type": "tool_result", "tool_use_id": tool_use_id, "content": content});
            if *is_error {
                v["is_error"] = json!(true);
            }
            v
        }
        ContentBlock::Thinking {
            thinking,
            signature,
        } => {
            json!({"type": "thinking", "thinking": thinking, "signature": signature.clone().unwrap_or_default()})
        }
    }
}

#[cfg(feature = "anthropic")]
#[derive(Debug, Deserialize, Serialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

#[cfg(feature = "anthropic")]
impl WireUsage {
    fn merge_into(&self, u: &mut Usage) {
        if let Some(v) = self.input_tokens {
            u.input_tokens = v;
        }
        if let Some(v) = self.output_tokens {
            u.output_tokens = v;
        }
        if let Some(v) = self.cache_creation_input_tokens {
            u.cache_write_tokens = v;
        }
        if let Some(v) = self.cache_read_input_tokens {
            u.cache_read_tokens = v;
        }
    }
}

#[cfg(feature = "anthropic")]
#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    model: String,
    content: Vec<Value>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

#[cfg(feature = "anthropic")]
fn parse_block(v: &Value) -> Result<Option<ContentBlock>, LlmError> {
    let bad = |what: &str| LlmError::InvalidResponse {
        message: format!("content block {what}: {}", clip(&v.to_string(), 200)),
    };
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(match v.get("type").and_then(Value::as_str) {
        Some("text") => Some(ContentBlock::Text {
            text: s("text").ok_or_else(|| bad("without text"))?,
        }),
        Some("tool_use") => Some(ContentBlock::ToolUse {
            id: s("id").ok_or_else(|| bad("without id"))?,
            name: s("name").ok_or_else(|| bad("without name"))?,
            input: v.get("input").cloned().unwrap_or_else(|| json!({})),
        }),
        Some("thinking") => Some(ContentBlock::Thinking {
            thinking: s("thinking").unwrap_or_default(),
            signature: s("signature"),
        }),
        // Redacted thinking is opaque and not carried by the port.
        Some("redacted_thinking") => None,
        _ => return Err(bad("of unknown type")),
    })
}

#[cfg(feature = "anthropic")]
fn stop_reason(s: Option<&str>) -> StopReason {
    match s {
        Some("end_turn") => StopReason::EndTurn,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("stop_sequence") => StopReason::StopSequence,
        Some("tool_use") => StopReason::ToolUse,
        Some("refusal") => StopReason::Refusal,
        _ => StopReason::Other,
    }
}

/// Maps an Anthropic error (`{"type":"error","error":{"type":..,"message":..}}`) to the port.
#[cfg(feature = "anthropic")]
fn map_error(status: u16, retry_after: Option<Duration>, body: &str) -> LlmError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let kind = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(Value::as_str)
        .map_or_else(|| clip(body, 500).to_owned(), str::to_owned);
    error_for(status, kind, message, retry_after)
}

#[cfg(feature = "anthropic")]
fn error_for(status: u16, kind: &str, message: String, retry_after: Option<Duration>) -> LlmError {
    match (status, kind) {
        (_, "rate_limit_error") | (429, _) => LlmError::RateLimited {
            retry_after,
            message,
        },
        (_, "overloaded_error") | (529 | 503, _) => LlmError::Overloaded {
            retry_after,
            message,
        },
        (_, "authentication_error" | "permission_error") | (401 | 403, _) => {
            LlmError::Authentication { message }
        }
        (_, "request_too_large") | (413, _) => LlmError::ContextTooLong { message },
        (_, "invalid_request_error") | (400, _)
            if message.contains("prompt is too long") || message.contains("context window") =>
        {
            LlmError::ContextTooLong { message }
        }
        (_, "timeout_error") => LlmError::Timeout {
            after: Duration::ZERO,
        },
        (s, _) if s >= 500 => LlmError::Server { status: s, message },
        (_, "api_error") => LlmError::Server {
            status: if status == 0 { 500 } else { status },
            message,
        },
        _ => LlmError::InvalidRequest { message },
    }
}

#[cfg(feature = "anthropic")]
#[async_trait]
impl LlmProvider for AnthropicProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        let started = Instant::now();
        let body = request_body(request);
        let resp = self
            .client
            .post(&self.url)
            .header("x-api-key", self.api_key.expose())
            .header("anthropic-version", &self.config.version)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                if request.stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error(&e, self.config.timeout))?;
        let status = resp.status().as_u16();
        let request_id = header_string(resp.headers(), "request-id");
        if !resp.status().is_success() {
            let retry_after = parse_retry_after(resp.headers());
            let text = resp.text().await.unwrap_or_default();
            return Err(map_error(status, retry_after, &text));
        }
        progress.report(LlmProgress::Started {
            request_id: request_id.clone(),
        });
        let (msg_id, model, content, stop, usage) = if request.stream {
            read_stream(resp, progress, self.config.timeout).await?
        } else {
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| transport_error(&e, self.config.timeout))?;
            let msg: WireMessage =
                serde_json::from_slice(&bytes).map_err(|e| LlmError::InvalidResponse {
                    message: format!("{e} in {}", clip(&String::from_utf8_lossy(&bytes), 200)),
                })?;
            if msg.kind.as_deref().is_some_and(|k| k != "message") {
                return Err(LlmError::InvalidResponse {
                    message: format!("unexpected object type {:?}", msg.kind),
                });
            }
            let mut content = Vec::new();
            for b in &msg.content {
                if let Some(b) = parse_block(b)? {
                    content.push(b);
                }
            }
            let mut usage = Usage::default();
            msg.usage.merge_into(&mut usage);
            (
                msg.id,
                msg.model,
                content,
                stop_reason(msg.stop_reason.as_deref()),
                usage,
            )
        };
        Ok(LlmResponse {
            content,
            stop_reason: stop,
            usage,
            model: if model.is_empty() {
                request.model.clone()
            } else {
                model
            },
            duration: started.elapsed(),
            request_id: request_id.or(msg_id),
        })
    }
}

#[cfg(feature = "anthropic")]
type Parsed = (Option<String>, String, Vec<ContentBlock>, StopReason, Usage);

#[cfg(feature = "anthropic")]
enum Partial {
    Text(String),
    Tool {
        id: String,
        name: String,
        json: String,
    },
    Thinking {
        thinking: String,
        signature: Option<String>,
    },
    Skipped,
}

#[cfg(feature = "anthropic")]
async fn read_stream(
    resp: reqwest::Response,
    progress: &dyn ProgressSink,
    timeout: Duration,
) -> LlmResult<Parsed> {
    let mut parser = SseParser::default();
    let mut blocks: BTreeMap<u64, Partial> = BTreeMap::new();
    let mut id = None;
    let mut model = String::new();
    let mut usage = Usage::default();
    let mut stop = None;
    let mut finished = false;
    let mut stream = resp.bytes_stream();
    let bad = |m: String| LlmError::InvalidResponse { message: m };
    'outer: while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport_error(&e, timeout))?;
        for ev in parser.feed(&chunk) {
            let data: Value = serde_json::from_str(&ev.data).map_err(|e| {
                bad(format!(
                    "stream event is not json ({e}): {}",
                    clip(&ev.data, 200)
                ))
            })?;
            let kind = data.get("type").and_then(Value::as_str).unwrap_or("");
            let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
            match kind {
                "message_start" => {
                    let m = &data["message"];
                    id = m.get("id").and_then(Value::as_str).map(str::to_owned);
                    model = m
                        .get("model")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    if let Ok(u) = serde_json::from_value::<WireUsage>(m["usage"].clone()) {
                        u.merge_into(&mut usage);
                    }
                }
                "content_block_start" => {
                    let b = &data["content_block"];
                    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                    let partial = match b.get("type").and_then(Value::as_str) {
                        Some("text") => Partial::Text(s("text")),
                        Some("tool_use") => {
                            progress.report(LlmProgress::ToolUseStarted { name: s("name") });
                            Partial::Tool {
                                id: s("id"),
                                name: s("name"),
                                json: String::new(),
                            }
                        }
                        Some("thinking") => Partial::Thinking {
                            thinking: s("thinking"),
                            signature: None,
                        },
                        _ => Partial::Skipped,
                    };
                    blocks.insert(index, partial);
                }
                "content_block_delta" => {
                    let d = &data["delta"];
                    let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("");
                    match (
                        blocks.get_mut(&index),
                        d.get("type").and_then(Value::as_str),
                    ) {
                        (Some(Partial::Text(t)), Some("text_delta")) => {
                            t.push_str(text("text"));
                            progress.report(LlmProgress::TextDelta(text("text").to_owned()));
                        }
                        (Some(Partial::Tool { json, .. }), Some("input_json_delta")) => {
                            json.push_str(text("partial_json"));
                        }
                        (Some(Partial::Thinking { thinking, .. }), Some("thinking_delta")) => {
                            thinking.push_str(text("thinking"));
                        }
                        (Some(Partial::Thinking { signature, .. }), Some("signature_delta")) => {
                            signature
                                .get_or_insert_with(String::new)
                                .push_str(text("signature"));
                        }
                        (Some(Partial::Skipped), _) => {}
                        (None, _) => {
                            return Err(bad(format!("delta for unknown content block {index}")));
                        }
                        (Some(_), other) => {
                            return Err(bad(format!(
                                "delta {other:?} does not fit content block {index}"
                            )));
                        }
                    }
                }
                "content_block_stop" | "ping" => {}
                "message_delta" => {
                    if let Some(r) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                        stop = Some(r.to_owned());
                    }
                    if let Ok(u) = serde_json::from_value::<WireUsage>(data["usage"].clone()) {
                        u.merge_into(&mut usage);
                        progress.report(LlmProgress::OutputTokens(usage.output_tokens));
                    }
                }
                "message_stop" => {
                    finished = true;
                    break 'outer;
                }
                "error" => {
                    let kind = data
                        .pointer("/error/type")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let message = data
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("stream error")
                        .to_owned();
                    return Err(error_for(0, kind, message, None));
                }
                _ => {}
            }
        }
    }
    if !finished {
        return Err(LlmError::Connection {
            message: if parser.has_partial() {
                "stream ended in the middle of an event".to_owned()
            } else {
                "stream ended before message_stop".to_owned()
            },
        });
    }
    let mut content = Vec::new();
    for (_, p) in blocks {
        match p {
            Partial::Text(text) => content.push(ContentBlock::Text { text }),
            Partial::Tool { id, name, json } => {
                let input = if json.trim().is_empty() {
                    json!({})
                } else {
                    serde_json::from_str(&json)
                        .map_err(|e| bad(format!("tool input is not json ({e})")))?
                };
                content.push(ContentBlock::ToolUse { id, name, input });
            }
            Partial::Thinking {
                thinking,
                signature,
            } => content.push(ContentBlock::Thinking {
                thinking,
                signature,
            }),
            Partial::Skipped => {}
        }
    }
    Ok((id, model, content, stop_reason(stop.as_deref()), usage))
}
