//! The OpenAI Chat Completions adapter, also used for OpenAI-compatible servers (OpenRouter,
//! Ollama, vLLM, llama.cpp server): only the base URL, the key and a few knobs differ.
//!
//! Maps tools to `tools`/`tool_calls` (arguments travel as JSON strings), tool results to
//! `tool` messages, forced tool choice to `tool_choice`, output limits to
//! `max_completion_tokens` (or `max_tokens` for servers that only know that), cached prompt
//! tokens to cache-read usage, and streams with `stream_options.include_usage`.

use std::collections::BTreeMap;
use std::time::Duration;

use foreman_domain::llm::{ContentBlock, LlmRequest, MessageRole, ToolChoice};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::secret::Secret;

#[cfg(any(feature = "anthropic", feature = "openai"))]
use crate::SetupError;
// The HTTP adapter itself (everything below but the settings and the request body).
#[cfg(feature = "openai")]
use {
    crate::sse::SseParser,
    crate::wire::{clip, header_string, parse_retry_after, transport_error},
    async_trait::async_trait,
    foreman_domain::llm::{
        LlmError, LlmProgress, LlmProvider, LlmResponse, LlmResult, ProgressSink, StopReason, Usage,
    },
    futures::StreamExt,
    std::time::Instant,
};

/// Which request field carries the output limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// `max_completion_tokens` (current OpenAI API; required by reasoning models).
    #[default]
    MaxCompletionTokens,
    /// `max_tokens` (older OpenAI-compatible servers).
    MaxTokens,
}

/// OpenAI-compatible settings (`[llm.openai]`, `[llm.openrouter]`, `[llm.local]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    /// Provider name recorded with each call (`openai`, `openrouter`, `local`, ...).
    pub name: String,
    /// API key; empty means read `api_key_env`.
    pub api_key: Secret,
    /// The environment variable read when `api_key` is empty.
    pub api_key_env: String,
    /// Whether a key is required (local servers usually need none).
    pub require_api_key: bool,
    /// Base URL including the version path (`https://api.openai.com/v1`).
    pub base_url: String,
    /// Longest a whole call may take, streaming included.
    #[serde(with = "crate::wire::duration_ms")]
    pub timeout: Duration,
    /// Longest a connection attempt may take.
    #[serde(with = "crate::wire::duration_ms")]
    pub connect_timeout: Duration,
    /// Which field carries `max_tokens`.
    pub max_tokens_field: MaxTokensField,
    /// Extra headers sent with every request (e.g. OpenRouter's `HTTP-Referer`, `X-Title`).
    pub headers: BTreeMap<String, String>,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self::openai()
    }
}

impl OpenAiConfig {
    /// OpenAI itself.
    #[must_use]
    pub fn openai() -> Self {
        Self {
            name: "openai".to_owned(),
            api_key: Secret::default(),
            api_key_env: "OPENAI_API_KEY".to_owned(),
            require_api_key: true,
            base_url: "https://api.openai.com/v1".to_owned(),
            timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
            max_tokens_field: MaxTokensField::MaxCompletionTokens,
            headers: BTreeMap::new(),
        }
    }

    /// OpenRouter.
    #[must_use]
    pub fn openrouter() -> Self {
        Self {
            name: "openrouter".to_owned(),
            api_key_env: "OPENROUTER_API_KEY".to_owned(),
            base_url: "https://openrouter.ai/api/v1".to_owned(),
            headers: BTreeMap::from([("X-Title".to_owned(), "Foreman".to_owned())]),
            ..Self::openai()
        }
    }

    /// A local OpenAI-compatible server (Ollama's default address; vLLM and llama.cpp server
    /// work the same with their own `base_url`). No key needed; sends `max_tokens`.
    #[must_use]
    pub fn local() -> Self {
        Self {
            name: "local".to_owned(),
            api_key_env: "LOCAL_LLM_API_KEY".to_owned(),
            require_api_key: false,
            base_url: "http://127.0.0.1:11434/v1".to_owned(),
            max_tokens_field: MaxTokensField::MaxTokens,
            ..Self::openai()
        }
    }

    /// The preset for a provider name (`openai`, `openrouter`, `local`), if there is one.
    #[must_use]
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "openai" => Some(Self::openai()),
            "openrouter" => Some(Self::openrouter()),
            "local" => Some(Self::local()),
            _ => None,
        }
    }
}

/// Checks a base URL and returns it without a trailing slash.
#[cfg(any(feature = "anthropic", feature = "openai"))]
pub(crate) fn check_base_url(url: &str) -> Result<&str, SetupError> {
    let u = url.trim_end_matches('/');
    let invalid = |reason| SetupError::InvalidBaseUrl {
        url: url.to_owned(),
        reason,
    };
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("has no host"));
    }
    if u.contains(char::is_whitespace) {
        return Err(invalid("contains whitespace"));
    }
    Ok(u)
}

/// Calls an OpenAI-compatible Chat Completions API.
#[cfg(feature = "openai")]
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    config: OpenAiConfig,
    api_key: Option<Secret>,
    client: reqwest::Client,
    url: String,
}

#[cfg(feature = "openai")]
impl OpenAiProvider {
    /// Builds the provider; the API key comes from the config or `api_key_env`.
    ///
    /// # Errors
    /// [`SetupError::MissingApiKey`] when a key is required and none is found;
    /// [`SetupError::InvalidBaseUrl`]; [`SetupError::Http`].
    pub fn new(config: OpenAiConfig) -> Result<Self, SetupError> {
        let api_key = if config.api_key.is_empty() {
            Secret::from_env(&config.api_key_env)
        } else {
            Some(config.api_key.clone())
        };
        if api_key.is_none() && config.require_api_key {
            return Err(SetupError::MissingApiKey {
                provider: config.name.clone(),
                env: config.api_key_env.clone(),
            });
        }
        let base = check_base_url(&config.base_url)?;
        let client = crate::http::client_builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(SetupError::Http)?;
        Ok(Self {
            url: format!("{base}/chat/completions"),
            api_key,
            client,
            config,
        })
    }

    /// The configured key, for redaction.
    #[must_use]
    pub fn api_key(&self) -> Option<&Secret> {
        self.api_key.as_ref()
    }
}

/// Builds the JSON body of a Chat Completions request.
#[must_use]
pub fn request_body(req: &LlmRequest, field: MaxTokensField) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = req.system.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &req.messages {
        match m.role {
            MessageRole::User => {
                let mut texts = Vec::new();
                for b in &m.content {
                    match b {
                        ContentBlock::ToolResult {
                            tool_use_id,
                            content,
                            is_error,
                        } => {
                            let content = if *is_error {
                                format!("error: {content}")
                            } else {
                                content.clone()
                            };
                            messages.push(json!({"role": "tool", "tool_call_id": tool_use_id, "content": content}));
                        }
                        ContentBlock::Text { text } => texts.push(text.as_str()),
                        _ => {}
                    }
                }
                if !texts.is_empty() {
                    messages.push(json!({"role": "user", "content": texts.join("\n")}));
                }
            }
            MessageRole::Assistant => {
                let text = m.text();
                let calls: Vec<Value> = m
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        ContentBlock::ToolUse { id, name, input } => Some(json!({
                            "id": id,
                            "type": "function",
                            "function": {"name": name, "arguments": input.to_string()},
                        })),
                        _ => None,
                    })
                    .collect();
                let mut msg = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
                if !calls.is_empty() {
                    msg["tool_calls"] = Value::Array(calls);
                }
                messages.push(msg);
            }
        }
    }
    let mut body = json!({"model": req.model, "messages": messages});
    let limit_key = match field {
        MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        MaxTokensField::MaxTokens => "max_tokens",
    };
    body[limit_key] = json!(req.max_tokens);
    if !req.tools.is_empty() {
        body["tools"] = Value::Array(
            req.tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.input_schema,
                    }})
                })
                .collect(),
        );
    }
    if let Some(choice) = &req.tool_choice {
        body["tool_choice"] = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Any => json!("required"),
            ToolChoice::Tool { name } => json!({"type": "function", "function": {"name": name}}),
        };
    }
    // Reasoning models accept only the default temperature.
    if let Some(t) = req.temperature
        && !is_reasoning_model(&req.model)
    {
        body["temperature"] = json!(t);
    }
    if !req.stop_sequences.is_empty() {
        body["stop"] = json!(req.stop_sequences);
    }
    if let Some(budget) = req.thinking_budget {
        body["reasoning_effort"] = json!(match budget {
            0..=2_048 => "low",
            2_049..=8_192 => "medium",
            _ => "high",
        });
    }
    if req.stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// OpenAI's reasoning models (o-series, gpt-5 family), which take `max_completion_tokens` and
/// only the default temperature.
#[must_use]
pub fn is_reasoning_model(model: &str) -> bool {
    let m = model.rsplit_once('/').map_or(model, |(_, m)| m);
    ["o1", "o3", "o4", "gpt-5"].iter().any(|p| m.starts_with(p))
}

#[cfg(feature = "openai")]
fn finish_reason(s: Option<&str>) -> StopReason {
    match s {
        Some("stop") => StopReason::EndTurn,
        Some("length") => StopReason::MaxTokens,
        Some("tool_calls" | "function_call") => StopReason::ToolUse,
        Some("content_filter") => StopReason::Refusal,
        _ => StopReason::Other,
    }
}

#[cfg(feature = "openai")]
fn usage_of(v: &Value) -> Usage {
    let n = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let prompt = n("/prompt_tokens");
    let cached = n("/prompt_tokens_details/cached_tokens").min(prompt);
    Usage {
        input_tokens: prompt - cached,
        output_tokens: n("/completion_tokens"),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
    }
}

#[cfg(feature = "openai")]
fn map_error(status: u16, retry_after: Option<Duration>, body: &str) -> LlmError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let mut message = field("message");
    if message.is_empty() {
        message = clip(body, 500).to_owned();
    }
    error_for(status, &field("code"), &field("type"), message, retry_after)
}

#[cfg(feature = "openai")]
fn error_for(
    status: u16,
    code: &str,
    kind: &str,
    message: String,
    retry_after: Option<Duration>,
) -> LlmError {
    if code == "context_length_exceeded" || message.contains("maximum context length") {
        return LlmError::ContextTooLong { message };
    }
    if code == "insufficient_quota" {
        // out of credit: waiting does not help
        return LlmError::InvalidRequest { message };
    }
    match status {
        401 | 403 => LlmError::Authentication { message },
        429 => LlmError::RateLimited {
            retry_after,
            message,
        },
        408 => LlmError::Timeout {
            after: Duration::ZERO,
        },
        413 => LlmError::ContextTooLong { message },
        503 | 529 => LlmError::Overloaded {
            retry_after,
            message,
        },
        s if s >= 500 => LlmError::Server { status: s, message },
        0 if kind == "server_error" => LlmError::Server {
            status: 500,
            message,
        },
        0 if code == "rate_limit_exceeded" => LlmError::RateLimited {
            retry_after,
            message,
        },
        _ => LlmError::InvalidRequest { message },
    }
}

#[cfg(feature = "openai")]
fn parse_message(msg: &Value) -> LlmResult<Vec<ContentBlock>> {
    let bad = |m: String| LlmError::InvalidResponse { message: m };
    let mut content = Vec::new();
    if let Some(text) = msg.get("content").and_then(Value::as_str)
        && !text.is_empty()
    {
        content.push(ContentBlock::text(text));
    }
    if let Some(refusal) = msg.get("refusal").and_then(Value::as_str)
        && !refusal.is_empty()
    {
        content.push(ContentBlock::text(refusal));
    }
    if let Some(calls) = msg.get("tool_calls").and_then(Value::as_array) {
        for c in calls {
            let id = c
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("tool call without id".into()))?;
            let name = c
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("tool call without a function name".into()))?;
            let args = c
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or("");
            content.push(ContentBlock::ToolUse {
                id: id.to_owned(),
                name: name.to_owned(),
                input: parse_arguments(args)?,
            });
        }
    }
    Ok(content)
}

#[cfg(feature = "openai")]
fn parse_arguments(args: &str) -> LlmResult<Value> {
    if args.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(args).map_err(|e| LlmError::InvalidResponse {
        message: format!(
            "tool call arguments are not json ({e}): {}",
            clip(args, 200)
        ),
    })
}

#[cfg(feature = "openai")]
#[async_trait]
impl LlmProvider for OpenAiProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        let started = Instant::now();
        let body = request_body(request, self.config.max_tokens_field);
        let mut rb = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(key) = &self.api_key {
            rb = rb.bearer_auth(key.expose());
        }
        for (k, v) in &self.config.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        let resp = rb
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error(&e, self.config.timeout))?;
        let status = resp.status().as_u16();
        let request_id = header_string(resp.headers(), "x-request-id");
        if !resp.status().is_success() {
            let retry_after = parse_retry_after(resp.headers());
            let text = resp.text().await.unwrap_or_default();
            return Err(map_error(status, retry_after, &text));
        }
        progress.report(LlmProgress::Started {
            request_id: request_id.clone(),
        });
        let (id, model, content, stop, usage) = if request.stream {
            read_stream(resp, progress, self.config.timeout).await?
        } else {
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| transport_error(&e, self.config.timeout))?;
            let v: Value =
                serde_json::from_slice(&bytes).map_err(|e| LlmError::InvalidResponse {
                    message: format!("{e} in {}", clip(&String::from_utf8_lossy(&bytes), 200)),
                })?;
            if v.get("error").is_some_and(|e| !e.is_null()) {
                return Err(map_error(0, None, &v.to_string()));
            }
            let choice = v
                .pointer("/choices/0")
                .ok_or_else(|| LlmError::InvalidResponse {
                    message: format!("no choices in {}", clip(&v.to_string(), 200)),
                })?;
            let content = parse_message(&choice["message"])?;
            (
                v.get("id").and_then(Value::as_str).map(str::to_owned),
                v.get("model")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                content,
                finish_reason(choice.get("finish_reason").and_then(Value::as_str)),
                usage_of(&v["usage"]),
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
            request_id: request_id.or(id),
        })
    }
}

#[cfg(feature = "openai")]
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    args: String,
}

#[cfg(feature = "openai")]
type Parsed = (Option<String>, String, Vec<ContentBlock>, StopReason, Usage);

#[cfg(feature = "openai")]
async fn read_stream(
    resp: reqwest::Response,
    progress: &dyn ProgressSink,
    timeout: Duration,
) -> LlmResult<Parsed> {
    let bad = |m: String| LlmError::InvalidResponse { message: m };
    let mut parser = SseParser::default();
    let mut text = String::new();
    let mut calls: BTreeMap<u64, PartialCall> = BTreeMap::new();
    let mut id = None;
    let mut model = String::new();
    let mut finish: Option<String> = None;
    let mut usage = Usage::default();
    let mut done = false;
    let mut stream = resp.bytes_stream();
    'outer: while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport_error(&e, timeout))?;
        for ev in parser.feed(&chunk) {
            if ev.data.trim() == "[DONE]" {
                done = true;
                break 'outer;
            }
            let v: Value = serde_json::from_str(&ev.data).map_err(|e| {
                bad(format!(
                    "stream chunk is not json ({e}): {}",
                    clip(&ev.data, 200)
                ))
            })?;
            if v.get("error").is_some_and(|e| !e.is_null()) {
                return Err(map_error(0, None, &v.to_string()));
            }
            if id.is_none() {
                id = v.get("id").and_then(Value::as_str).map(str::to_owned);
            }
            if let Some(m) = v.get("model").and_then(Value::as_str) {
                m.clone_into(&mut model);
            }
            if v.get("usage").is_some_and(|u| !u.is_null()) {
                usage = usage_of(&v["usage"]);
                progress.report(LlmProgress::OutputTokens(usage.output_tokens));
            }
            let Some(choice) = v.pointer("/choices/0") else {
                continue;
            };
            let delta = &choice["delta"];
            if let Some(t) = delta.get("content").and_then(Value::as_str)
                && !t.is_empty()
            {
                text.push_str(t);
                progress.report(LlmProgress::TextDelta(t.to_owned()));
            }
            if let Some(tc) = delta.get("tool_calls").and_then(Value::as_array) {
                for c in tc {
                    let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
                    let entry = calls.entry(index).or_default();
                    if let Some(i) = c.get("id").and_then(Value::as_str) {
                        i.clone_into(&mut entry.id);
                    }
                    if let Some(n) = c.pointer("/function/name").and_then(Value::as_str) {
                        if entry.name.is_empty() {
                            progress.report(LlmProgress::ToolUseStarted { name: n.to_owned() });
                        }
                        entry.name.push_str(n);
                    }
                    if let Some(a) = c.pointer("/function/arguments").and_then(Value::as_str) {
                        entry.args.push_str(a);
                    }
                }
            }
            if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
                finish = Some(f.to_owned());
            }
        }
    }
    // A server that closes cleanly after the finish reason without `[DONE]` is tolerated;
    // one that stops before it is not.
    if !done && (finish.is_none() || parser.has_partial()) {
        return Err(LlmError::Connection {
            message: "stream ended before the response was complete".to_owned(),
        });
    }
    let mut content = Vec::new();
    if !text.is_empty() {
        content.push(ContentBlock::Text { text });
    }
    for (_, c) in calls {
        if c.id.is_empty() || c.name.is_empty() {
            return Err(bad("streamed tool call without id or name".to_owned()));
        }
        content.push(ContentBlock::ToolUse {
            id: c.id,
            name: c.name,
            input: parse_arguments(&c.args)?,
        });
    }
    Ok((id, model, content, finish_reason(finish.as_deref()), usage))
}

#[cfg(all(test, feature = "openai"))]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            check_base_url("https://api.openai.com/v1/").unwrap(),
            "https://api.openai.com/v1"
        );
        assert!(check_base_url("api.openai.com").is_err());
        assert!(check_base_url("http://").is_err());
    }

    #[test]
    fn error_mapping() {
        let e = map_error(
            400,
            None,
            r#"{"error":{"message":"This model's maximum context length is 128000 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
        );
        assert!(matches!(e, LlmError::ContextTooLong { .. }), "{e:?}");
        let e = map_error(
            429,
            Some(Duration::from_secs(2)),
            r#"{"error":{"message":"slow","type":"requests","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        let e = map_error(
            429,
            None,
            r#"{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
        );
        assert!(!e.is_retryable());
        assert!(matches!(
            map_error(502, None, "<html>bad gateway</html>"),
            LlmError::Server { status: 502, .. }
        ));
    }
}
