//! Recorded LLM calls: every attempt, failed ones included, with tokens and cost.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
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
    /// The ticket it was made for, once that ticket was deleted: the call is then a tombstone
    /// (`ticket_id` and `task_id` empty) that every spend window and budget still counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_ticket_id: Option<TicketId>,
}

impl NewLlmCall {
    /// Checks what every store requires of a call: no negative cost or token count.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] naming what is negative.
    pub fn validate(&self) -> StoreResult<()> {
        if self.cost.0 < 0 {
            return Err(StoreError::Invalid(
                "llm call cost must not be negative".into(),
            ));
        }
        if self.tokens_input < 0
            || self.tokens_output < 0
            || self.cache_read_tokens < 0
            || self.cache_write_tokens < 0
        {
            return Err(StoreError::Invalid(
                "llm call token counts must not be negative".into(),
            ));
        }
        Ok(())
    }

    /// The ticket the call is charged to, given the ticket owning its task (when it names one):
    /// a call naming only its task is charged to the task's ticket.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] when the call names a ticket other than its task's.
    pub fn charged_ticket(&self, task_ticket: Option<&TicketId>) -> StoreResult<Option<TicketId>> {
        match (&self.ticket_id, task_ticket) {
            (Some(named), Some(owner)) if named != owner => Err(StoreError::Invalid(format!(
                "task {} belongs to ticket {owner}, not {named}",
                self.task_id.as_ref().map_or("", TaskId::as_str),
            ))),
            (Some(named), _) => Ok(Some(named.clone())),
            (None, owner) => Ok(owner.cloned()),
        }
    }
}

impl LlmCall {
    /// The call as a tombstone of its deleted ticket: no ticket or task any more, the ticket's
    /// id kept in `deleted_ticket_id`, cost and tokens unchanged (spend stays spent).
    #[must_use]
    pub fn tombstoned(mut self) -> Self {
        if let Some(t) = self.ticket_id.take() {
            self.deleted_ticket_id = Some(t);
        }
        self.task_id = None;
        self
    }

    /// The record a store keeps for `new` (checked with [`NewLlmCall::validate`]), charged to
    /// `ticket_id` (from [`NewLlmCall::charged_ticket`]); a call without a status succeeded.
    #[must_use]
    pub fn record(
        id: LlmCallId,
        new: NewLlmCall,
        ticket_id: Option<TicketId>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            ticket_id,
            task_id: new.task_id,
            role: new.role,
            provider: new.provider,
            model: new.model,
            runner: new.runner,
            attempt: new.attempt,
            tokens_input: new.tokens_input,
            tokens_output: new.tokens_output,
            cache_read_tokens: new.cache_read_tokens,
            cache_write_tokens: new.cache_write_tokens,
            cost: new.cost,
            duration_ms: new.duration_ms,
            status: new.status.unwrap_or(LlmCallStatus::Success),
            error: new.error,
            prompt_version: new.prompt_version,
            request_id: new.request_id,
            created_at: now,
            deleted_ticket_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn negative_amounts_are_refused() {
        let ok = NewLlmCall::default();
        assert!(ok.validate().is_ok());
        for bad in [
            NewLlmCall {
                cost: Micros(-1),
                ..NewLlmCall::default()
            },
            NewLlmCall {
                tokens_input: -1,
                ..NewLlmCall::default()
            },
            NewLlmCall {
                cache_write_tokens: -1,
                ..NewLlmCall::default()
            },
        ] {
            assert!(matches!(bad.validate(), Err(StoreError::Invalid(_))));
        }
    }

    #[test]
    fn calls_are_charged_to_their_tasks_ticket() {
        let owner = TicketId::new();
        let other = TicketId::new();
        let only_task = NewLlmCall {
            task_id: Some(TaskId::new()),
            ..NewLlmCall::default()
        };
        assert_eq!(
            only_task.charged_ticket(Some(&owner)).unwrap(),
            Some(owner.clone())
        );
        let named = NewLlmCall {
            ticket_id: Some(other.clone()),
            ..only_task.clone()
        };
        assert!(matches!(
            named.charged_ticket(Some(&owner)),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(named.charged_ticket(None).unwrap(), Some(other));
        assert_eq!(NewLlmCall::default().charged_ticket(None).unwrap(), None);
    }

    #[test]
    fn a_call_without_status_succeeded() {
        let at = crate::micros_to_time(5);
        let call = LlmCall::record(LlmCallId::new(), NewLlmCall::default(), None, at);
        assert_eq!(call.status, LlmCallStatus::Success);
        assert_eq!(call.created_at, at);
    }

    proptest! {
        #[test]
        fn recording_keeps_every_amount(cost in 0i64..1_000_000, tin in 0i64..1_000_000, tout in 0i64..1_000_000) {
            let new = NewLlmCall { cost: Micros(cost), tokens_input: tin, tokens_output: tout, ..NewLlmCall::default() };
            prop_assert!(new.validate().is_ok());
            let call = LlmCall::record(LlmCallId::new(), new, None, crate::micros_to_time(0));
            prop_assert_eq!((call.cost, call.tokens_input, call.tokens_output), (Micros(cost), tin, tout));
        }
    }
}
