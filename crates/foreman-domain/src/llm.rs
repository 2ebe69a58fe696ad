//! The `LlmProvider` port: what the pipeline sends to a language model and what comes back.
//!
//! Requests and responses are provider-neutral. Adapters (Anthropic Messages, OpenAI Chat
//! Completions, the scripted replay provider in `foreman-llm`) translate them to and from their
//! wire formats. Nothing here does I/O.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::budget::BudgetExceeded;
use crate::ids::{TaskId, TicketId};
use crate::llm_call::LlmCallStatus;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    /// The caller (prompts and tool results).
    User,
    /// The model.
    Assistant,
}

impl MessageRole {
    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One block of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// The model asks for a tool to be run.
    ToolUse {
        /// Id the result must reference.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments, matching the tool's input schema.
        input: serde_json::Value,
    },
    /// The result of a tool the model asked for.
    ToolResult {
        /// The `ToolUse` id this answers.
        tool_use_id: String,
        /// The result text.
        content: String,
        /// Whether the tool failed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    /// The model's visible reasoning (when a thinking budget is set). Must be sent back
    /// unchanged in later turns of a tool-use loop.
    Thinking {
        /// The reasoning text.
        thinking: String,
        /// The provider's integrity signature.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
}

impl ContentBlock {
    /// A text block.
    #[must_use]
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// A tool-use block.
    #[must_use]
    pub fn tool_use(
        id: impl Into<String>,
        name: impl Into<String>,
        input: serde_json::Value,
    ) -> Self {
        Self::ToolUse {
            id: id.into(),
            name: name.into(),
            input,
        }
    }

    /// A successful tool-result block.
    #[must_use]
    pub fn tool_result(tool_use_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self::ToolResult {
            tool_use_id: tool_use_id.into(),
            content: content.into(),
            is_error: false,
        }
    }
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: MessageRole,
    /// Its blocks.
    pub content: Vec<ContentBlock>,
    /// Caching hint: everything up to and including this message is stable across calls
    /// (repository context, earlier agent turns) and worth caching.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cache_breakpoint: bool,
}

impl Message {
    /// A user message with one text block.
    #[must_use]
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: MessageRole::User,
            content: vec![ContentBlock::text(text)],
            cache_breakpoint: false,
        }
    }

    /// An assistant message with one text block.
    #[must_use]
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: MessageRole::Assistant,
            content: vec![ContentBlock::text(text)],
            cache_breakpoint: false,
        }
    }

    /// A message with the given blocks.
    #[must_use]
    pub fn with_blocks(role: MessageRole, content: Vec<ContentBlock>) -> Self {
        Self {
            role,
            content,
            cache_breakpoint: false,
        }
    }

    /// Marks the message as the end of the stable, cacheable prefix.
    #[must_use]
    pub fn cached(mut self) -> Self {
        self.cache_breakpoint = true;
        self
    }

    /// The text blocks joined by newlines.
    #[must_use]
    pub fn text(&self) -> String {
        join_text(&self.content)
    }
}

/// A tool the model may call, described by a JSON Schema for its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// Name (`[a-zA-Z0-9_-]{1,64}`).
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of the input object.
    pub input_schema: serde_json::Value,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// The model must call some tool.
    Any,
    /// The model must call this tool (structured output).
    Tool {
        /// The tool's name.
        name: String,
    },
}

/// Which parts of the prompt to mark for the provider's prompt cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CacheHints {
    /// Cache the system prompt.
    #[serde(default)]
    pub system: bool,
    /// Cache the tool definitions.
    #[serde(default)]
    pub tools: bool,
}

/// Who a call is made for: used for routing, budgets and records, never sent to the provider.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CallContext {
    /// Pipeline role (`planner`, `implementer`, `spec_reviewer`, `quality_reviewer`,
    /// `final_reviewer`, `clarifier`).
    #[serde(default)]
    pub role: String,
    /// The ticket.
    #[serde(default)]
    pub ticket_id: Option<TicketId>,
    /// The task.
    #[serde(default)]
    pub task_id: Option<TaskId>,
    /// Which runner makes the call (`builtin`, ...); empty means `builtin`.
    #[serde(default)]
    pub runner: String,
    /// SHA-256 of the prompt template.
    #[serde(default)]
    pub prompt_version: Option<String>,
}

/// A request to a language model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmRequest {
    /// Model: a bare name for a provider adapter, or `provider:model` (or empty, to let a router
    /// pick by role) for a router.
    pub model: String,
    /// System prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// The conversation; starts with a user message.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    #[serde(default)]
    pub tools: Vec<ToolDefinition>,
    /// Tool choice; `None` leaves the provider default (auto when tools are given).
    #[serde(default)]
    pub tool_choice: Option<ToolChoice>,
    /// Maximum output tokens (thinking included).
    pub max_tokens: u32,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Stop sequences.
    #[serde(default)]
    pub stop_sequences: Vec<String>,
    /// Prompt caching hints.
    #[serde(default)]
    pub cache: CacheHints,
    /// Extended-thinking budget in tokens, where the provider supports it.
    #[serde(default)]
    pub thinking_budget: Option<u32>,
    /// Stream the response (progress is reported while it arrives).
    #[serde(default)]
    pub stream: bool,
    /// Who the call is for.
    #[serde(default)]
    pub context: CallContext,
}

impl LlmRequest {
    /// A request for `model` with one user message and default settings.
    #[must_use]
    pub fn new(model: impl Into<String>, user: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            system: None,
            messages: vec![Message::user(user)],
            tools: Vec::new(),
            tool_choice: None,
            max_tokens: 1024,
            temperature: None,
            stop_sequences: Vec::new(),
            cache: CacheHints::default(),
            thinking_budget: None,
            stream: false,
            context: CallContext::default(),
        }
    }

    /// The text of the last user message, tool results included (for script matching and
    /// logs): a message that only carries tool results reads as their contents.
    #[must_use]
    pub fn last_user_text(&self) -> String {
        let Some(m) = self
            .messages
            .iter()
            .rev()
            .find(|m| m.role == MessageRole::User)
        else {
            return String::new();
        };
        let mut out = String::new();
        for b in &m.content {
            let part = match b {
                ContentBlock::Text { text } => text.as_str(),
                ContentBlock::ToolResult { content, .. } => content.as_str(),
                ContentBlock::ToolUse { .. } | ContentBlock::Thinking { .. } => continue,
            };
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(part);
        }
        out
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// It finished its turn.
    EndTurn,
    /// It hit `max_tokens`.
    MaxTokens,
    /// It produced a stop sequence.
    StopSequence,
    /// It wants tools run.
    ToolUse,
    /// It refused (or the provider's content filter stopped it).
    Refusal,
    /// A reason this version does not know.
    Other,
}

impl StopReason {
    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EndTurn => "end_turn",
            Self::MaxTokens => "max_tokens",
            Self::StopSequence => "stop_sequence",
            Self::ToolUse => "tool_use",
            Self::Refusal => "refusal",
            Self::Other => "other",
        }
    }
}

/// Tokens a call used. `input_tokens` excludes tokens read from or written to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens (thinking included).
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
}

impl Usage {
    /// Every input token, cached or not.
    #[must_use]
    pub const fn total_input(&self) -> u64 {
        self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
    }
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmResponse {
    /// The blocks of the assistant message.
    pub content: Vec<ContentBlock>,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Tokens used.
    pub usage: Usage,
    /// The model the provider says answered.
    pub model: String,
    /// Wall time of the call.
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    /// The provider's request id.
    #[serde(default)]
    pub request_id: Option<String>,
}

impl LlmResponse {
    /// The text blocks joined by newlines.
    #[must_use]
    pub fn text(&self) -> String {
        join_text(&self.content)
    }

    /// The tool calls, in order, as `(id, name, input)`.
    #[must_use]
    pub fn tool_uses(&self) -> Vec<(&str, &str, &serde_json::Value)> {
        self.content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::ToolUse { id, name, input } => {
                    Some((id.as_str(), name.as_str(), input))
                }
                _ => None,
            })
            .collect()
    }

    /// The input of the first call of tool `name` (structured output).
    #[must_use]
    pub fn tool_input(&self, name: &str) -> Option<&serde_json::Value> {
        self.tool_uses()
            .into_iter()
            .find(|(_, n, _)| *n == name)
            .map(|(_, _, input)| input)
    }

    /// The response as the assistant message to append to the conversation.
    #[must_use]
    pub fn to_message(&self) -> Message {
        Message::with_blocks(MessageRole::Assistant, self.content.clone())
    }
}

fn join_text(blocks: &[ContentBlock]) -> String {
    let mut out = String::new();
    for b in blocks {
        if let ContentBlock::Text { text } = b {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(text);
        }
    }
    out
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Progress of a streamed response, reported while it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmProgress {
    /// The provider accepted the request.
    Started {
        /// The provider's request id.
        request_id: Option<String>,
    },
    /// Some text arrived.
    TextDelta(String),
    /// The model started calling a tool.
    ToolUseStarted {
        /// Tool name.
        name: String,
    },
    /// Output tokens so far, where the provider reports them.
    OutputTokens(u64),
}

/// Receives streaming progress. Called inline while the stream is read: must be quick and
/// must not block.
pub trait ProgressSink: Send + Sync {
    /// One progress report.
    fn report(&self, progress: LlmProgress);
}

/// A sink that ignores progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn report(&self, _progress: LlmProgress) {}
}

impl<F> ProgressSink for F
where
    F: Fn(LlmProgress) + Send + Sync,
{
    fn report(&self, progress: LlmProgress) {
        self(progress);
    }
}

/// Why an LLM call failed. Callers branch on the variant; [`LlmError::code`] is the
/// transport-neutral name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The provider rate-limited the call (HTTP 429).
    #[error("rate limited by provider: {message}")]
    RateLimited {
        /// How long the provider asked to wait.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },
    /// The provider is overloaded (Anthropic 529, or 503).
    #[error("provider overloaded: {message}")]
    Overloaded {
        /// How long the provider asked to wait.
        retry_after: Option<Duration>,
        /// The provider's message.
        message: String,
    },
    /// The provider failed (5xx).
    #[error("provider error (http {status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// No complete answer within the time limit.
    #[error("timed out after {}ms", after.as_millis())]
    Timeout {
        /// The limit that passed.
        after: Duration,
    },
    /// The connection failed, was reset, or the stream ended early.
    #[error("connection failed: {message}")]
    Connection {
        /// What happened.
        message: String,
    },
    /// The provider answered with something that is not a valid response.
    #[error("invalid response from provider: {message}")]
    InvalidResponse {
        /// What was wrong.
        message: String,
    },
    /// The API key was missing or refused (401/403).
    #[error("authentication failed: {message}")]
    Authentication {
        /// The provider's message.
        message: String,
    },
    /// The provider rejected the request as malformed (400/404/422).
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// The provider's message.
        message: String,
    },
    /// The prompt does not fit the model's context window.
    #[error("context too long: {message}")]
    ContextTooLong {
        /// The provider's message.
        message: String,
    },
    /// Budget admission refused the call; nothing was sent.
    #[error(transparent)]
    BudgetExceeded(BudgetExceeded),
    /// The provider's circuit breaker is open; nothing was sent.
    #[error("provider {provider} is unavailable (circuit open)")]
    Unavailable {
        /// The provider.
        provider: String,
    },
    /// The cost ledger could not be consulted, so the call was not made (budgets fail closed).
    #[error("cost ledger unavailable: {message}")]
    Storage {
        /// What failed.
        message: String,
    },
    /// Foreman is not set up to answer this request (unknown role or provider, scripted
    /// provider without a matching answer, ...).
    #[error("not configured: {message}")]
    NotConfigured {
        /// What is missing.
        message: String,
    },
}

impl LlmError {
    /// A transport-neutral code for APIs, records and logs.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::Overloaded { .. } => "overloaded",
            Self::Server { .. } => "server_error",
            Self::Timeout { .. } => "timeout",
            Self::Connection { .. } => "connection",
            Self::InvalidResponse { .. } => "invalid_response",
            Self::Authentication { .. } => "authentication",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::ContextTooLong { .. } => "context_too_long",
            Self::BudgetExceeded(_) => "budget_exceeded",
            Self::Unavailable { .. } => "unavailable",
            Self::Storage { .. } => "storage",
            Self::NotConfigured { .. } => "not_configured",
        }
    }

    /// Whether the same request may succeed if sent again later.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Overloaded { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Connection { .. }
                | Self::InvalidResponse { .. }
        )
    }

    /// Whether the failure says the provider itself is in trouble (counts towards its circuit
    /// breaker and justifies falling back to another provider).
    #[must_use]
    pub const fn is_outage(&self) -> bool {
        matches!(
            self,
            Self::Overloaded { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Connection { .. }
                | Self::Unavailable { .. }
        )
    }

    /// How long the provider asked to wait, if it said.
    #[must_use]
    pub const fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Overloaded { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The status an `llm_calls` row gets for this failure.
    #[must_use]
    pub const fn call_status(&self) -> LlmCallStatus {
        match self {
            Self::RateLimited { .. } => LlmCallStatus::RateLimited,
            Self::Timeout { .. } => LlmCallStatus::Timeout,
            Self::BudgetExceeded(_) => LlmCallStatus::BudgetExceeded,
            _ => LlmCallStatus::Error,
        }
    }
}

/// Result alias for the port.
pub type LlmResult<T> = Result<T, LlmError>;

/// A language model behind some API.
///
/// Implementations translate [`LlmRequest`] to their wire format and back. They make exactly
/// one attempt: retries, rate limits, budgets and records belong to wrappers around them.
#[async_trait]
pub trait LlmProvider: Send + Sync {
    /// The provider's name (`anthropic`, `openai`, `scripted`, ...), as recorded in
    /// `llm_calls.provider`.
    fn name(&self) -> &str;

    /// Sends the request and waits for the whole response, reporting progress to `progress`
    /// while a streamed response arrives.
    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse>;

    /// Sends the request and waits for the whole response.
    async fn complete(&self, request: &LlmRequest) -> LlmResult<LlmResponse> {
        self.complete_with_progress(request, &NoProgress).await
    }
}

impl fmt::Debug for dyn LlmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmProvider")
            .field("name", &self.name())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_and_outage_classes() {
        let rl = LlmError::RateLimited {
            retry_after: Some(Duration::from_secs(3)),
            message: "slow down".into(),
        };
        assert!(rl.is_retryable());
        assert!(!rl.is_outage());
        assert_eq!(rl.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(rl.call_status(), LlmCallStatus::RateLimited);
        for e in [
            LlmError::Authentication {
                message: "bad key".into(),
            },
            LlmError::InvalidRequest {
                message: "no".into(),
            },
            LlmError::ContextTooLong {
                message: "big".into(),
            },
        ] {
            assert!(!e.is_retryable(), "{e}");
            assert!(!e.is_outage(), "{e}");
            assert_eq!(e.call_status(), LlmCallStatus::Error);
        }
        assert!(
            LlmError::Overloaded {
                retry_after: None,
                message: String::new()
            }
            .is_outage()
        );
        assert_eq!(
            LlmError::Timeout {
                after: Duration::from_millis(1500)
            }
            .to_string(),
            "timed out after 1500ms"
        );
    }

    #[test]
    fn content_blocks_use_tagged_json() {
        let b = ContentBlock::tool_use("tu_1", "submit_plan", serde_json::json!({"tasks": []}));
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["type"], "tool_use");
        assert_eq!(v["name"], "submit_plan");
        let back: ContentBlock = serde_json::from_value(v).unwrap();
        assert_eq!(back, b);
        let r: ContentBlock =
            serde_json::from_str(r#"{"type":"tool_result","tool_use_id":"tu_1","content":"ok"}"#)
                .unwrap();
        assert_eq!(r, ContentBlock::tool_result("tu_1", "ok"));
    }

    #[test]
    fn response_helpers() {
        let r = LlmResponse {
            content: vec![
                ContentBlock::text("a"),
                ContentBlock::tool_use("1", "x", serde_json::json!({"k": 1})),
                ContentBlock::text("b"),
            ],
            stop_reason: StopReason::ToolUse,
            usage: Usage {
                input_tokens: 1,
                output_tokens: 2,
                cache_read_tokens: 3,
                cache_write_tokens: 4,
            },
            model: "m".into(),
            duration: Duration::from_millis(5),
            request_id: None,
        };
        assert_eq!(r.text(), "a\nb");
        assert_eq!(r.tool_input("x"), Some(&serde_json::json!({"k": 1})));
        assert_eq!(r.usage.total_input(), 8);
        assert_eq!(r.to_message().role, MessageRole::Assistant);
        let mut req = LlmRequest::new("m", "first");
        req.messages.push(r.to_message());
        req.messages.push(Message::user("second"));
        assert_eq!(req.last_user_text(), "second");
        req.messages.push(Message {
            role: MessageRole::User,
            content: vec![ContentBlock::tool_result("1", "created calc.py (10 bytes)")],
            cache_breakpoint: false,
        });
        assert_eq!(req.last_user_text(), "created calc.py (10 bytes)");
    }
}
