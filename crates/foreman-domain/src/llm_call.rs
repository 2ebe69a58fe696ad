//! Recorded LLM calls: every attempt, failed ones included, with tokens and cost.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::UnknownEventString;
use crate::ids::{LlmCallId, TaskId, TicketId};
use crate::money::Micros;

/// How an LLM call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmCallStatus {
    /// A response arrived.
    Success,
    /// The provider failed or the call was refused.
    Error,
    /// The provider rate-limited the call.
    RateLimited,
    /// The call timed out.
    Timeout,
    /// Budget admission refused the call (nothing was sent).
    BudgetExceeded,
}

impl LlmCallStatus {
    /// Every status.
    pub const ALL: &'static [Self] = &[
        Self::Success,
        Self::Error,
        Self::RateLimited,
        Self::Timeout,
        Self::BudgetExceeded,
    ];

    /// The wire and storage string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::BudgetExceeded => "budget_exceeded",
        }
    }
}

impl fmt::Display for LlmCallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LlmCallStatus {
    type Err = UnknownEventString;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownEventString {
                kind: "llm call status",
                value: s.to_owned(),
            })
    }
}

/// An LLM call to record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NewLlmCall {
    /// The ticket it was made for.
    pub ticket_id: Option<TicketId>,
    /// The task it was made for.
    pub task_id: Option<TaskId>,
    /// Pipeline role (`planner`, `implementer`, ...).
    pub role: String,
    /// Provider name (`anthropic`, `openai`, `scripted`, ...).
    pub provider: String,
    /// Model name as the provider reported it.
    pub model: String,
    /// Which runner made it (`builtin`, `claude-code`, ...).
    pub runner: String,
    /// 1-based attempt number.
    pub attempt: i32,
    /// Input tokens (uncached).
    pub tokens_input: i64,
    /// Output tokens.
    pub tokens_output: i64,
    /// Tokens read from the prompt cache.
    pub cache_read_tokens: i64,
    /// Tokens written to the prompt cache.
    pub cache_write_tokens: i64,
    /// Cost.
    pub cost: Micros,
    /// Wall time.
    pub duration_ms: i64,
    /// Outcome (defaults to success).
    pub status: Option<LlmCallStatus>,
    /// Error text for failed calls.
    pub error: Option<String>,
    /// SHA-256 of the prompt template used.
    pub prompt_version: Option<String>,
    /// The provider's request id.
    pub request_id: Option<String>,
}

/// A recorded LLM call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCall {
    /// Id.
    pub id: LlmCallId,
    /// The ticket it was made for.
    pub ticket_id: Option<TicketId>,
    /// The task it was made for.
    pub task_id: Option<TaskId>,
    /// Pipeline role.
    pub role: String,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Runner name.
    pub runner: String,
    /// Attempt number.
    pub attempt: i32,
    /// Input tokens.
    pub tokens_input: i64,
    /// Output tokens.
    pub tokens_output: i64,
    /// Cache read tokens.
    pub cache_read_tokens: i64,
    /// Cache write tokens.
    pub cache_write_tokens: i64,
    /// Cost.
    pub cost: Micros,
    /// Wall time.
    pub duration_ms: i64,
    /// Outcome.
    pub status: LlmCallStatus,
    /// Error text.
    pub error: Option<String>,
    /// Prompt template hash.
    pub prompt_version: Option<String>,
    /// Provider request id.
    pub request_id: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}
