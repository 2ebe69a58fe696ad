//! Conversions between entities and domain types. Reading is fallible: an unknown enum string
//! or malformed JSON in a row is [`StoreError::Corrupt`], never a panic.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use foreman_domain::{
    ApiToken, Event, EventId, EventType, FencingToken, LlmCall, LlmCallId, LlmCallStatus, Micros,
    OutboxEntry, Scope, Severity, StoreError, Task, TaskCheckpoint, TaskContextStats, TaskFeedback,
    TaskId, TaskPhase, TaskStatus, Ticket, TicketId, TicketStatus, TokenId, micros_to_time,
    time_to_micros,
};
use sea_orm::ActiveValue::{NotSet, Set};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::entity::{api_tokens, events, llm_calls, outbox, tasks, tickets};

pub(crate) fn ts(t: DateTime<Utc>) -> i64 {
    time_to_micros(t)
}

fn time(us: i64) -> DateTime<Utc> {
    micros_to_time(us)
}

fn parse<T: FromStr>(what: &str, s: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>()
        .map_err(|e| StoreError::corrupt(what, format!("{e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::corrupt(what, e))
}

pub(crate) fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(format!("not serializable: {e}")))
}

impl TryFrom<tickets::Model> for Ticket {
    type Error = StoreError;
    fn try_from(m: tickets::Model) -> Result<Self, StoreError> {
        Ok(Self {
            status: parse::<TicketStatus>("tickets.status", &m.status)?,
            labels: from_json("tickets.labels", &m.labels)?,
            id: TicketId::from(m.id),
            project: m.project,
            external_id: m.external_id,
            title: m.title,
            description: m.description,
            acceptance_criteria: m.acceptance_criteria,
            priority: m.priority,
            submitter: m.submitter,
            parent_id: m.parent_id.map(TicketId::from),
            branch_name: m.branch_name,
            pr_url: m.pr_url,
            pr_number: m.pr_number,
            cost: Micros(m.cost_micros),
            tokens_input: m.tokens_input,
            tokens_output: m.tokens_output,
            total_llm_calls: m.total_llm_calls,
            is_partial: m.is_partial,
            last_completed_task_seq: m.last_completed_task_seq,
            last_error: m.last_error,
            last_error_type: m.last_error_type,
            fencing_token: FencingToken(m.fencing_token),
            lease_owner: m.lease_owner,
            lease_expires_at: m.lease_expires_at.map(time),
            created_at: time(m.created_at),
            updated_at: time(m.updated_at),
            started_at: m.started_at.map(time),
            completed_at: m.completed_at.map(time),
        })
    }
}

pub(crate) fn ticket_row(t: &Ticket) -> Result<tickets::ActiveModel, StoreError> {
    Ok(tickets::ActiveModel {
        id: Set(t.id.to_string()),
        project: Set(t.project.clone()),
        external_id: Set(t.external_id.clone()),
        title: Set(t.title.clone()),
        description: Set(t.description.clone()),
        acceptance_criteria: Set(t.acceptance_criteria.clone()),
        status: Set(t.status.as_str().to_owned()),
        priority: Set(t.priority),
        labels: Set(to_json(&t.labels)?),
        submitter: Set(t.submitter.clone()),
        parent_id: Set(t.parent_id.as_ref().map(ToString::to_string)),
        branch_name: Set(t.branch_name.clone()),
        pr_url: Set(t.pr_url.clone()),
        pr_number: Set(t.pr_number),
        cost_micros: Set(t.cost.0),
        tokens_input: Set(t.tokens_input),
        tokens_output: Set(t.tokens_output),
        total_llm_calls: Set(t.total_llm_calls),
        is_partial: Set(t.is_partial),
        last_completed_task_seq: Set(t.last_completed_task_seq),
        last_error: Set(t.last_error.clone()),
        last_error_type: Set(t.last_error_type.clone()),
        fencing_token: Set(t.fencing_token.0),
        lease_owner: Set(t.lease_owner.clone()),
        lease_expires_at: Set(t.lease_expires_at.map(ts)),
        created_at: Set(ts(t.created_at)),
        updated_at: Set(ts(t.updated_at)),
        started_at: Set(t.started_at.map(ts)),
        completed_at: Set(t.completed_at.map(ts)),
    })
}

impl TryFrom<tasks::Model> for Task {
    type Error = StoreError;
    fn try_from(m: tasks::Model) -> Result<Self, StoreError> {
        Ok(Self {
            status: parse::<TaskStatus>("tasks.status", &m.status)?,
            depends_on: from_json("tasks.depends_on", &m.depends_on)?,
            files: from_json("tasks.files", &m.files)?,
            context: m
                .context
                .as_deref()
                .map(|c| from_json::<TaskContextStats>("tasks.context", c))
                .transpose()?,
            id: TaskId::from(m.id),
            ticket_id: TicketId::from(m.ticket_id),
            sequence: m.sequence,
            title: m.title,
            description: m.description,
            acceptance_criteria: m.acceptance_criteria,
            complexity: m.complexity,
            implementation_attempts: m.implementation_attempts,
            spec_review_attempts: m.spec_review_attempts,
            quality_review_attempts: m.quality_review_attempts,
            total_llm_calls: m.total_llm_calls,
            tokens_input: m.tokens_input,
            tokens_output: m.tokens_output,
            commit_sha: m.commit_sha,
            cost: Micros(m.cost_micros),
            last_error: m.last_error,
            checkpoint: TaskCheckpoint {
                phase: parse::<TaskPhase>("tasks.phase", &m.phase)?,
                red_proven: m.red_proven,
                sha: m.checkpoint_sha,
                feedback: m
                    .feedback
                    .as_deref()
                    .map(|f| from_json::<TaskFeedback>("tasks.feedback", f))
                    .transpose()?,
            },
            created_at: time(m.created_at),
            started_at: m.started_at.map(time),
            completed_at: m.completed_at.map(time),
        })
    }
}

pub(crate) fn task_row(t: &Task) -> Result<tasks::ActiveModel, StoreError> {
    Ok(tasks::ActiveModel {
        id: Set(t.id.to_string()),
        ticket_id: Set(t.ticket_id.to_string()),
        sequence: Set(t.sequence),
        title: Set(t.title.clone()),
        description: Set(t.description.clone()),
        acceptance_criteria: Set(t.acceptance_criteria.clone()),
        depends_on: Set(to_json(&t.depends_on)?),
        files: Set(to_json(&t.files)?),
        complexity: Set(t.complexity),
        status: Set(t.status.as_str().to_owned()),
        implementation_attempts: Set(t.implementation_attempts),
        spec_review_attempts: Set(t.spec_review_attempts),
        quality_review_attempts: Set(t.quality_review_attempts),
        total_llm_calls: Set(t.total_llm_calls),
        tokens_input: Set(t.tokens_input),
        tokens_output: Set(t.tokens_output),
        commit_sha: Set(t.commit_sha.clone()),
        cost_micros: Set(t.cost.0),
        context: Set(t.context.as_ref().map(to_json).transpose()?),
        last_error: Set(t.last_error.clone()),
        created_at: Set(ts(t.created_at)),
        started_at: Set(t.started_at.map(ts)),
        completed_at: Set(t.completed_at.map(ts)),
        phase: Set(t.checkpoint.phase.as_str().to_owned()),
        red_proven: Set(t.checkpoint.red_proven),
        checkpoint_sha: Set(t.checkpoint.sha.clone()),
        feedback: Set(t.checkpoint.feedback.as_ref().map(to_json).transpose()?),
    })
}

impl TryFrom<events::Model> for Event {
    type Error = StoreError;
    fn try_from(m: events::Model) -> Result<Self, StoreError> {
        Ok(Self {
            event_type: parse::<EventType>("events.event_type", &m.event_type)?,
            severity: parse::<Severity>("events.severity", &m.severity)?,
            details: m
                .details
                .as_deref()
                .map(|d| from_json("events.details", d))
                .transpose()?,
            id: EventId::from(m.id),
            seq: m.seq,
            ticket_id: m.ticket_id.map(TicketId::from),
            task_id: m.task_id.map(TaskId::from),
            message: m.message,
            created_at: time(m.created_at),
        })
    }
}

pub(crate) fn event_row(e: &Event) -> Result<events::ActiveModel, StoreError> {
    Ok(events::ActiveModel {
        seq: Set(e.seq),
        id: Set(e.id.to_string()),
        ticket_id: Set(e.ticket_id.as_ref().map(ToString::to_string)),
        task_id: Set(e.task_id.as_ref().map(ToString::to_string)),
        event_type: Set(e.event_type.as_str().to_owned()),
        severity: Set(e.severity.as_str().to_owned()),
        message: Set(e.message.clone()),
        details: Set(e.details.as_ref().map(to_json).transpose()?),
        created_at: Set(ts(e.created_at)),
    })
}

impl TryFrom<llm_calls::Model> for LlmCall {
    type Error = StoreError;
    fn try_from(m: llm_calls::Model) -> Result<Self, StoreError> {
        Ok(Self {
            status: parse::<LlmCallStatus>("llm_calls.status", &m.status)?,
            id: LlmCallId::from(m.id),
            ticket_id: m.ticket_id.map(TicketId::from),
            task_id: m.task_id.map(TaskId::from),
            role: m.role,
            provider: m.provider,
            model: m.model,
            runner: m.runner,
            attempt: m.attempt,
            tokens_input: m.tokens_input,
            tokens_output: m.tokens_output,
            cache_read_tokens: m.cache_read_tokens,
            cache_write_tokens: m.cache_write_tokens,
            cost: Micros(m.cost_micros),
            duration_ms: m.duration_ms,
            error: m.error,
            prompt_version: m.prompt_version,
            request_id: m.request_id,
            created_at: time(m.created_at),
            deleted_ticket_id: m.deleted_ticket_id.map(TicketId::from),
        })
    }
}

pub(crate) fn llm_call_row(c: &LlmCall) -> llm_calls::ActiveModel {
    llm_calls::ActiveModel {
        id: Set(c.id.to_string()),
        ticket_id: Set(c.ticket_id.as_ref().map(ToString::to_string)),
        task_id: Set(c.task_id.as_ref().map(ToString::to_string)),
        role: Set(c.role.clone()),
        provider: Set(c.provider.clone()),
        model: Set(c.model.clone()),
        runner: Set(c.runner.clone()),
        attempt: Set(c.attempt),
        tokens_input: Set(c.tokens_input),
        tokens_output: Set(c.tokens_output),
        cache_read_tokens: Set(c.cache_read_tokens),
        cache_write_tokens: Set(c.cache_write_tokens),
        cost_micros: Set(c.cost.0),
        duration_ms: Set(c.duration_ms),
        status: Set(c.status.as_str().to_owned()),
        error: Set(c.error.clone()),
        prompt_version: Set(c.prompt_version.clone()),
        request_id: Set(c.request_id.clone()),
        created_at: Set(ts(c.created_at)),
        deleted_ticket_id: Set(c.deleted_ticket_id.as_ref().map(ToString::to_string)),
        // Foreman's own call: the columns of reported usage keep their defaults
        source: NotSet,
        project: NotSet,
        session_tag: NotSet,
        external_id: NotSet,
    }
}

impl TryFrom<api_tokens::Model> for ApiToken {
    type Error = StoreError;
    fn try_from(m: api_tokens::Model) -> Result<Self, StoreError> {
        let names: Vec<String> = from_json("api_tokens.scopes", &m.scopes)?;
        let scopes = names
            .iter()
            .map(|s| parse::<Scope>("api_tokens.scopes", s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            id: TokenId::from(m.id),
            name: m.name,
            token_hash: m.token_hash,
            prefix: m.prefix,
            scopes,
            created_at: time(m.created_at),
            last_used_at: m.last_used_at.map(time),
            expires_at: m.expires_at.map(time),
            revoked_at: m.revoked_at.map(time),
        })
    }
}

impl TryFrom<outbox::Model> for OutboxEntry {
    type Error = StoreError;
    fn try_from(m: outbox::Model) -> Result<Self, StoreError> {
        Ok(Self {
            payload: from_json("outbox.payload", &m.payload)?,
            result: m
                .result
                .as_deref()
                .map(|r| from_json("outbox.result", r))
                .transpose()?,
            key: m.key,
            ticket_id: m.ticket_id.map(TicketId::from),
            kind: m.kind,
            state: m.state,
            attempts: m.attempts,
            next_attempt_at: time(m.next_attempt_at),
            created_at: time(m.created_at),
            updated_at: time(m.updated_at),
        })
    }
}

/// Converts a list of rows, failing on the first corrupt one.
pub(crate) fn all<M, T>(rows: Vec<M>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<M, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}
