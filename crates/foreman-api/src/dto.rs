//! Request and response bodies. Field names are the API contract; money is rendered as USD
//! floats here and nowhere else.

#![allow(
    unused_qualifications,
    reason = "utoipa's inline schema expansion qualifies the field type"
)]

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use foreman_domain::{
    ApiToken, Event, EventType, LlmCall, LlmCallStatus, Micros, Scope, Severity, Task, TaskStatus,
    Ticket, TicketOptions, TicketStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

use crate::health::{ChannelHealth, McpHealth};
use crate::validate::{
    Batch, BudgetUsd, ExpiryDays, HttpUrl, NonEmpty, PriorityInput, ProjectName, Tags, Text,
    TimeoutSecs,
};

/// Dollars from micro-dollars, for the wire.
#[must_use]
pub fn usd(m: Micros) -> f64 {
    m.to_usd()
}

fn string_enum(values: impl IntoIterator<Item = &'static str>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

pub(crate) fn ticket_status_schema() -> RefOr<Schema> {
    string_enum(
        TicketStatus::ALL.iter().map(|s| s.as_str()),
        "ticket status",
    )
}

pub(crate) fn task_status_schema() -> RefOr<Schema> {
    string_enum(TaskStatus::ALL.iter().map(|s| s.as_str()), "task status")
}

pub(crate) fn event_type_schema() -> RefOr<Schema> {
    string_enum(EventType::ALL.iter().map(|s| s.as_str()), "event type")
}

pub(crate) fn severity_schema() -> RefOr<Schema> {
    string_enum(Severity::ALL.iter().map(|s| s.as_str()), "severity")
}

pub(crate) fn llm_status_schema() -> RefOr<Schema> {
    string_enum(
        LlmCallStatus::ALL.iter().map(|s| s.as_str()),
        "llm call outcome",
    )
}

pub(crate) fn scopes_schema() -> RefOr<Schema> {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(string_enum(
            Scope::ALL.iter().map(|s| s.as_str()),
            "token scope: read < write < admin",
        ))
        .into()
}

/// A ticket in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TicketListItem {
    /// Internal id.
    pub id: String,
    /// Project.
    pub project: String,
    /// Tracker id.
    #[schema(example = "PROJ-123")]
    pub external_id: String,
    /// Title.
    pub title: String,
    /// Status.
    #[schema(schema_with = ticket_status_schema)]
    pub status: TicketStatus,
    /// Priority (higher runs first).
    pub priority: i32,
    /// Who asked for it.
    pub submitter: Option<String>,
    /// Spend in USD.
    pub cost_usd: f64,
    /// Pull request URL (empty before one exists).
    pub pr_url: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// 1-based place in the queue, in claim order; null unless `queued`.
    #[serde(default)]
    pub queue_position: Option<u32>,
    /// When it is expected to start (free slots, then the recent mean duration per round of
    /// slots ahead); null unless `queued` or before any ticket has finished.
    #[serde(default)]
    pub estimated_start: Option<DateTime<Utc>>,
}

impl TicketListItem {
    /// The item with its place in the queue.
    #[must_use]
    pub fn queued(mut self, entry: Option<QueueEntry>) -> Self {
        if let Some(e) = entry {
            self.queue_position = Some(e.position);
            self.estimated_start = e.estimated_start;
        }
        self
    }
}

/// Where a queued ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueEntry {
    /// 1-based place in claim order.
    pub position: u32,
    /// Expected start.
    pub estimated_start: Option<DateTime<Utc>>,
}

impl From<&Ticket> for TicketListItem {
    fn from(t: &Ticket) -> Self {
        Self {
            id: t.id.to_string(),
            project: t.project.clone(),
            external_id: t.external_id.clone(),
            title: t.title.clone(),
            status: t.status,
            priority: t.priority,
            submitter: t.submitter.clone(),
            cost_usd: usd(t.cost),
            pr_url: t.pr_url.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            queue_position: None,
            estimated_start: None,
        }
    }
}

/// A ticket in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TicketDetail {
    /// Internal id.
    pub id: String,
    /// Project.
    pub project: String,
    /// Tracker id.
    pub external_id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub description: String,
    /// Acceptance criteria.
    pub acceptance_criteria: String,
    /// Status.
    #[schema(schema_with = ticket_status_schema)]
    pub status: TicketStatus,
    /// Priority.
    pub priority: i32,
    /// Labels.
    pub labels: Vec<String>,
    /// Who asked for it.
    pub submitter: Option<String>,
    /// Parent ticket (decomposition).
    pub parent_id: Option<String>,
    /// Ticket branch.
    pub branch_name: String,
    /// Pull request URL (empty before one exists).
    pub pr_url: String,
    /// Pull request number.
    pub pr_number: Option<i64>,
    /// Spend in USD.
    pub cost_usd: f64,
    /// Input tokens.
    pub tokens_input: i64,
    /// Output tokens.
    pub tokens_output: i64,
    /// LLM calls recorded.
    pub total_llm_calls: i64,
    /// Whether the pull request is partial.
    pub is_partial: bool,
    /// Highest completed task sequence.
    pub last_completed_task_seq: i32,
    /// Last error.
    pub last_error: Option<String>,
    /// Last error class.
    pub last_error_type: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Work started.
    pub started_at: Option<DateTime<Utc>>,
    /// Reached a terminal status.
    pub completed_at: Option<DateTime<Utc>>,
    /// 1-based place in the queue, in claim order; null unless `queued`.
    #[serde(default)]
    pub queue_position: Option<u32>,
    /// When it is expected to start; null unless `queued` or before any ticket has finished.
    #[serde(default)]
    pub estimated_start: Option<DateTime<Utc>>,
    /// Seconds one of its tasks may take (null: the configured limits only).
    #[serde(default)]
    pub timeout: Option<u32>,
    /// Its own budget in USD (null: the configured per-ticket limit only).
    #[serde(default)]
    pub max_budget_usd: Option<f64>,
    /// Tags given at submission.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Webhook given at submission.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Coding agent runner asked for at submission (null: the project's).
    #[serde(default)]
    pub agent: Option<String>,
}

impl TicketDetail {
    /// The detail with what the ticket was submitted with and its place in the queue.
    #[must_use]
    pub fn submitted(mut self, options: &TicketOptions, entry: Option<QueueEntry>) -> Self {
        self.timeout = options.timeout_secs;
        self.max_budget_usd = options.max_budget.map(usd);
        self.tags.clone_from(&options.tags);
        self.webhook_url.clone_from(&options.webhook_url);
        self.agent.clone_from(&options.agent);
        if let Some(e) = entry {
            self.queue_position = Some(e.position);
            self.estimated_start = e.estimated_start;
        }
        self
    }
}

impl From<&Ticket> for TicketDetail {
    fn from(t: &Ticket) -> Self {
        Self {
            id: t.id.to_string(),
            project: t.project.clone(),
            external_id: t.external_id.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            acceptance_criteria: t.acceptance_criteria.clone(),
            status: t.status,
            priority: t.priority,
            labels: t.labels.clone(),
            submitter: t.submitter.clone(),
            parent_id: t.parent_id.as_ref().map(ToString::to_string),
            branch_name: t.branch_name.clone(),
            pr_url: t.pr_url.clone(),
            pr_number: t.pr_number,
            cost_usd: usd(t.cost),
            tokens_input: t.tokens_input,
            tokens_output: t.tokens_output,
            total_llm_calls: t.total_llm_calls,
            is_partial: t.is_partial,
            last_completed_task_seq: t.last_completed_task_seq,
            last_error: t.last_error.clone(),
            last_error_type: t.last_error_type.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            started_at: t.started_at,
            completed_at: t.completed_at,
            queue_position: None,
            estimated_start: None,
            timeout: None,
            max_budget_usd: None,
            tags: Vec::new(),
            webhook_url: None,
            agent: None,
        }
    }
}

/// A compact ticket card for the dashboard's list view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TicketSummary {
    /// Internal id.
    pub id: String,
    /// Tracker id.
    pub external_id: String,
    /// Title.
    pub title: String,
    /// Status.
    #[schema(schema_with = ticket_status_schema)]
    pub status: TicketStatus,
    /// Project.
    pub project: String,
    /// Priority.
    pub priority: i32,
    /// Who asked for it.
    pub submitter: Option<String>,
    /// Spend in USD.
    pub cost_usd: f64,
    /// LLM calls recorded.
    pub total_llm_calls: i64,
    /// Whether the pull request is partial.
    pub is_partial: bool,
    /// Pull request URL.
    pub pr_url: String,
    /// Last error.
    pub last_error: Option<String>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<&Ticket> for TicketSummary {
    fn from(t: &Ticket) -> Self {
        Self {
            id: t.id.to_string(),
            external_id: t.external_id.clone(),
            title: t.title.clone(),
            status: t.status,
            project: t.project.clone(),
            priority: t.priority,
            submitter: t.submitter.clone(),
            cost_usd: usd(t.cost),
            total_llm_calls: t.total_llm_calls,
            is_partial: t.is_partial,
            pr_url: t.pr_url.clone(),
            last_error: t.last_error.clone(),
            updated_at: t.updated_at,
            created_at: t.created_at,
        }
    }
}

/// A ticket to create through the API (a local ticket, not from a tracker).
///
/// Give a `title` (with an optional `description`), or a `prompt` for a quick submission: its
/// first line becomes the title (cut at 120 characters) and the whole prompt the description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    /// Title: 1 to 500 characters, not all whitespace (stored trimmed); required unless
    /// `prompt` is given.
    #[serde(default)]
    #[schema(inline)]
    pub title: Option<Text<500>>,
    /// Quick submission: 1 to 5,000 characters, not all whitespace. Without `title`, its first
    /// line is the title; it is the description (with `description`, a 400).
    #[serde(default)]
    #[schema(inline)]
    pub prompt: Option<Text<{ PROMPT_CHARS }>>,
    /// Body.
    #[serde(default)]
    pub description: String,
    /// Acceptance criteria.
    #[serde(default)]
    pub acceptance_criteria: String,
    /// `urgent` (40), `high` (30), `normal` (20, the default) or `low` (10), or a number from
    /// 0 to 100; higher is claimed first. Trackers' priorities map onto the same numbers.
    #[serde(default)]
    #[schema(inline)]
    pub priority: Option<PriorityInput>,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Tracker id: 1 to 200 characters, not all whitespace (stored trimmed); generated as
    /// `LOCAL-<n>` when absent or null.
    #[serde(default)]
    #[schema(inline)]
    pub external_id: Option<Text<200>>,
    /// Project slug; the configured default when absent, null or empty.
    #[serde(default)]
    #[schema(inline)]
    pub project: Option<ProjectName>,
    /// Seconds one task may take, 1 to 3,600; a task past it is stopped and fails with the
    /// class `timeout`.
    #[serde(default)]
    #[schema(inline)]
    pub timeout: Option<TimeoutSecs>,
    /// The ticket's own budget, 0 to 100 USD; budget admission applies the lower of it and the
    /// configured per-ticket limit.
    #[serde(default)]
    #[schema(inline)]
    pub max_budget_usd: Option<BudgetUsd>,
    /// At most 10 tags of 1 to 50 characters.
    #[serde(default)]
    #[schema(inline)]
    pub tags: Option<Tags>,
    /// An `http` or `https` URL for the outcome (stored and validated).
    #[serde(default)]
    #[schema(inline)]
    pub webhook_url: Option<HttpUrl>,
    /// The name of a configured coding agent runner (`builtin`, `claude_code`, `codex`,
    /// `command`); an unknown one is a 400.
    #[serde(default)]
    pub agent: Option<String>,
}

/// Characters of a quick-submission prompt.
pub const PROMPT_CHARS: usize = 5_000;

/// What every item of a batch takes unless it says otherwise.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketDefaults {
    /// Priority of items that give none.
    #[serde(default)]
    #[schema(inline)]
    pub priority: Option<PriorityInput>,
    /// Project of items that name none.
    #[serde(default)]
    #[schema(inline)]
    pub project: Option<ProjectName>,
    /// Task timeout of items that give none.
    #[serde(default)]
    #[schema(inline)]
    pub timeout: Option<TimeoutSecs>,
    /// Budget of items that give none.
    #[serde(default)]
    #[schema(inline)]
    pub max_budget_usd: Option<BudgetUsd>,
    /// Tags of items that give none.
    #[serde(default)]
    #[schema(inline)]
    pub tags: Option<Tags>,
    /// Webhook of items that give none.
    #[serde(default)]
    #[schema(inline)]
    pub webhook_url: Option<HttpUrl>,
    /// Coding agent of items that name none.
    #[serde(default)]
    pub agent: Option<String>,
}

impl CreateTicket {
    /// The item with `defaults` filling what it leaves out.
    #[must_use]
    pub fn with_defaults(mut self, d: &TicketDefaults) -> Self {
        self.priority = self.priority.or(d.priority);
        if self.project.is_none() {
            self.project.clone_from(&d.project);
        }
        self.timeout = self.timeout.or(d.timeout);
        self.max_budget_usd = self.max_budget_usd.or(d.max_budget_usd);
        if self.tags.is_none() {
            self.tags.clone_from(&d.tags);
        }
        if self.webhook_url.is_none() {
            self.webhook_url.clone_from(&d.webhook_url);
        }
        if self.agent.is_none() {
            self.agent.clone_from(&d.agent);
        }
        self
    }
}

/// Up to 20 tickets created together: all of them, or (on any error) none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketBatch {
    /// What every item takes unless it says otherwise.
    #[serde(default)]
    pub defaults: Option<TicketDefaults>,
    /// 1 to 20 tickets.
    #[schema(schema_with = batch_items_schema)]
    pub items: Batch<CreateTicket, { foreman_domain::ticket_submission::MAX_BATCH }>,
}

fn batch_items_schema() -> RefOr<Schema> {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("CreateTicket"))
        .min_items(Some(1))
        .max_items(Some(foreman_domain::ticket_submission::MAX_BATCH))
        .into()
}

/// The tickets a batch created, in the order given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TicketBatchCreated {
    /// Each created ticket with its place in the queue.
    pub tickets: Vec<TicketDetail>,
}

/// A task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskDto {
    /// Id.
    pub id: String,
    /// Owning ticket.
    pub ticket_id: String,
    /// 1-based position in the plan.
    pub sequence: i32,
    /// Title.
    pub title: String,
    /// What to do.
    pub description: String,
    /// Status.
    #[schema(schema_with = task_status_schema)]
    pub status: TaskStatus,
    /// Sequences this task depends on.
    pub depends_on: Vec<i32>,
    /// Files the plan expects it to touch.
    pub files: Vec<String>,
    /// Implementation attempts.
    pub implementation_attempts: i32,
    /// Spec review rounds.
    pub spec_review_attempts: i32,
    /// Quality review rounds.
    pub quality_review_attempts: i32,
    /// LLM calls recorded.
    pub total_llm_calls: i64,
    /// Input tokens.
    pub tokens_input: i64,
    /// Output tokens.
    pub tokens_output: i64,
    /// Commit on its branch, once done.
    pub commit_sha: Option<String>,
    /// Spend in USD.
    pub cost_usd: f64,
    /// Last error.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<&Task> for TaskDto {
    fn from(t: &Task) -> Self {
        Self {
            id: t.id.to_string(),
            ticket_id: t.ticket_id.to_string(),
            sequence: t.sequence,
            title: t.title.clone(),
            description: t.description.clone(),
            status: t.status,
            depends_on: t.depends_on.clone(),
            files: t.files.clone(),
            implementation_attempts: t.implementation_attempts,
            spec_review_attempts: t.spec_review_attempts,
            quality_review_attempts: t.quality_review_attempts,
            total_llm_calls: t.total_llm_calls,
            tokens_input: t.tokens_input,
            tokens_output: t.tokens_output,
            commit_sha: t.commit_sha.clone(),
            cost_usd: usd(t.cost),
            last_error: t.last_error.clone(),
            created_at: t.created_at,
            started_at: t.started_at,
            completed_at: t.completed_at,
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventDto {
    /// Id.
    pub id: String,
    /// Position in the global log.
    pub seq: i64,
    /// Ticket, if any.
    pub ticket_id: Option<String>,
    /// Task, if any.
    pub task_id: Option<String>,
    /// What happened.
    #[schema(schema_with = event_type_schema)]
    pub event_type: EventType,
    /// How serious it is.
    #[schema(schema_with = severity_schema)]
    pub severity: Severity,
    /// One line for people.
    pub message: String,
    /// Structured details.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

impl From<&Event> for EventDto {
    fn from(e: &Event) -> Self {
        Self {
            id: e.id.to_string(),
            seq: e.seq,
            ticket_id: e.ticket_id.as_ref().map(ToString::to_string),
            task_id: e.task_id.as_ref().map(ToString::to_string),
            event_type: e.event_type,
            severity: e.severity,
            message: e.message.clone(),
            details: e.details.clone(),
            created_at: e.created_at,
        }
    }
}

/// An event with its ticket's context: the global feed and every live message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LiveEventDto {
    /// Id.
    pub id: String,
    /// Ticket, if any.
    pub ticket_id: Option<String>,
    /// Task, if any.
    pub task_id: Option<String>,
    /// Position in the global log (resume after it with `since_seq` or `Last-Event-ID`).
    pub seq: i64,
    /// What happened.
    #[schema(schema_with = event_type_schema)]
    pub event_type: EventType,
    /// How serious it is.
    #[schema(schema_with = severity_schema)]
    pub severity: Severity,
    /// One line for people.
    pub message: String,
    /// Structured details.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// The ticket's title (null without a ticket or once deleted).
    pub ticket_title: Option<String>,
    /// The ticket's submitter.
    pub submitter: Option<String>,
}

impl LiveEventDto {
    /// Builds the message for an event and its ticket's context.
    #[must_use]
    pub fn from_event(e: &Event, ticket_title: Option<String>, submitter: Option<String>) -> Self {
        Self {
            id: e.id.to_string(),
            ticket_id: e.ticket_id.as_ref().map(ToString::to_string),
            task_id: e.task_id.as_ref().map(ToString::to_string),
            seq: e.seq,
            event_type: e.event_type,
            severity: e.severity,
            message: e.message.clone(),
            details: e.details.clone(),
            created_at: e.created_at,
            ticket_title,
            submitter,
        }
    }
}

/// A recorded LLM call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LlmCallDto {
    /// Id.
    pub id: String,
    /// Ticket.
    pub ticket_id: Option<String>,
    /// Task.
    pub task_id: Option<String>,
    /// Pipeline role.
    pub role: String,
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Runner.
    pub runner: String,
    /// Attempt number.
    pub attempt: i32,
    /// Input tokens.
    pub tokens_input: i64,
    /// Output tokens.
    pub tokens_output: i64,
    /// Prompt-cache reads.
    pub cache_read_tokens: i64,
    /// Prompt-cache writes.
    pub cache_write_tokens: i64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Wall time.
    pub duration_ms: i64,
    /// Outcome.
    #[schema(schema_with = llm_status_schema)]
    pub status: LlmCallStatus,
    /// Error text for failed calls.
    pub error: Option<String>,
    /// Prompt template hash.
    pub prompt_version: Option<String>,
    /// Recorded.
    pub created_at: DateTime<Utc>,
}

impl From<&LlmCall> for LlmCallDto {
    fn from(c: &LlmCall) -> Self {
        Self {
            id: c.id.to_string(),
            ticket_id: c.ticket_id.as_ref().map(ToString::to_string),
            task_id: c.task_id.as_ref().map(ToString::to_string),
            role: c.role.clone(),
            provider: c.provider.clone(),
            model: c.model.clone(),
            runner: c.runner.clone(),
            attempt: c.attempt,
            tokens_input: c.tokens_input,
            tokens_output: c.tokens_output,
            cache_read_tokens: c.cache_read_tokens,
            cache_write_tokens: c.cache_write_tokens,
            cost_usd: usd(c.cost),
            duration_ms: c.duration_ms,
            status: c.status,
            error: c.error.clone(),
            prompt_version: c.prompt_version.clone(),
            created_at: c.created_at,
        }
    }
}

/// `{"status": "deleted", "ticket_id": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TicketDeleted {
    /// Always `deleted`.
    #[schema(example = "deleted")]
    pub status: String,
    /// The ticket.
    pub ticket_id: String,
}

/// `{"status": "retrying", "ticket_id": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TicketRetrying {
    /// Always `retrying`.
    #[schema(example = "retrying")]
    pub status: String,
    /// The ticket.
    pub ticket_id: String,
}

/// `{"status": "cancelled", "ticket_id": ..., "from": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TicketCancelled {
    /// Always `cancelled`.
    #[schema(example = "cancelled")]
    pub status: String,
    /// The ticket.
    pub ticket_id: String,
    /// The status the ticket was cancelled from.
    #[schema(example = "implementing")]
    pub from: String,
}

/// `{"status": "retrying", "task_id": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskRetrying {
    /// Always `retrying`.
    #[schema(example = "retrying")]
    pub status: String,
    /// The task.
    pub task_id: String,
}

/// Context budget and utilisation of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskContext {
    /// Token budget for selected context (0 before the task ran).
    pub budget: i64,
    /// Tokens used.
    pub used: i64,
    /// `used / budget` in percent, one decimal.
    pub utilization_pct: f64,
    /// Files selected before the first turn.
    pub files_selected: i64,
    /// Files the agent changed.
    pub files_touched: i64,
    /// Prompt cache hits.
    pub cache_hits: i64,
}

/// A pipeline running now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActivePipeline {
    /// Ticket.
    pub ticket_id: String,
    /// Tracker id.
    pub external_id: String,
    /// Title.
    pub title: String,
    /// The ticket's current status.
    #[schema(schema_with = ticket_status_schema)]
    pub current_stage: TicketStatus,
    /// Sequence of the task being worked on (0 before planning produced tasks).
    pub current_task_seq: i32,
    /// Tasks in the plan.
    pub total_tasks: i32,
    /// When work began.
    pub started_at: Option<DateTime<Utc>>,
}

/// Spend on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DayCost {
    /// UTC day.
    #[schema(value_type = String, format = Date, example = "2026-03-05")]
    pub date: NaiveDate,
    /// Spend in USD.
    pub cost_usd: f64,
}

/// Spend in one month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonthCost {
    /// `YYYY-MM` (UTC).
    #[schema(example = "2026-03")]
    pub month: String,
    /// Spend in USD.
    pub cost_usd: f64,
}

/// Configured budget limits; `null` means unlimited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Budgets {
    /// Per UTC day.
    pub max_daily_usd: Option<f64>,
    /// Per UTC month.
    pub max_monthly_usd: Option<f64>,
    /// Per ticket.
    pub max_ticket_usd: Option<f64>,
    /// Per task.
    pub max_task_usd: Option<f64>,
    /// Percentage of a limit at which a cost alert is raised.
    pub alert_threshold_pct: u8,
}

/// One submitter's last seven days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubmitterStats {
    /// Submitter (`unknown` when a ticket has none).
    pub submitter: String,
    /// Tickets created in the window.
    pub tickets: i64,
    /// Of those, merged or done.
    pub completed: i64,
    /// Of those, failed or blocked.
    pub failed: i64,
    /// Of those, still queued or in progress.
    pub in_progress: i64,
    /// Their spend in USD.
    pub cost_usd: f64,
}

/// A ticket with a pull request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecentPr {
    /// Ticket.
    pub ticket_id: String,
    /// Tracker id.
    pub external_id: String,
    /// Title.
    pub title: String,
    /// Status.
    #[schema(schema_with = ticket_status_schema)]
    pub status: TicketStatus,
    /// Pull request URL.
    pub pr_url: String,
    /// Pull request number.
    pub pr_number: Option<i64>,
    /// Whether it is a partial (draft) pull request.
    pub is_partial: bool,
    /// Spend in USD.
    pub cost_usd: f64,
    /// Who asked for it.
    pub submitter: Option<String>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A prompt template version seen in recorded calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromptVersion {
    /// Pipeline role the template serves.
    pub role: String,
    /// SHA-256 of the template.
    pub prompt_version: String,
    /// Calls made with it (among the calls examined).
    pub calls: i64,
    /// First call with it.
    pub first_seen: DateTime<Utc>,
    /// Last call with it.
    pub last_seen: DateTime<Utc>,
}

/// A plain message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// The message.
    #[schema(example = "daemon paused")]
    pub message: String,
}

/// Process and daemon status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusDto {
    /// Always `running` while the API answers.
    #[schema(example = "running")]
    pub status: String,
    /// Server version.
    pub version: String,
    /// Time since start, like `3h24m12s`.
    #[schema(example = "3h24m12s")]
    pub uptime: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// `running` or `paused`.
    #[schema(example = "running")]
    pub daemon_state: String,
    /// Chat channel connectivity by name.
    pub channels: BTreeMap<String, ChannelHealth>,
    /// MCP server health by name.
    pub mcp_servers: BTreeMap<String, McpHealth>,
    /// Where worktree commands run: `sandbox` (OS sandbox), `docker` or `none` (no isolation).
    #[schema(example = "sandbox")]
    pub runner_mode: String,
    /// The current run's progress; absent when the process records no run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunProgressDto>,
    /// Why the daemon takes no new work: `stopping`, `draining`, `paused`, `budget_exhausted`,
    /// `no_slots` or `no_daemon`; `null` while it takes work.
    #[serde(default)]
    #[schema(example = json!(null))]
    pub not_taking_work_because: Option<String>,
}

/// The current run's progress, in `/api/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunProgressDto {
    /// The run (`GET /api/runs/{id}`).
    pub run_id: String,
    /// Tickets finished in this run (done or failed).
    pub completed: i64,
    /// Those finished plus those queued or being worked on.
    pub total: i64,
    /// Seconds since the run started.
    pub elapsed_seconds: u64,
    /// Seconds left at this run's pace (elapsed per finished ticket, times the tickets left);
    /// `null` before the first ticket finishes.
    pub estimated_remaining_seconds: Option<u64>,
    /// Spend recorded in this run, USD.
    pub cost_usd: f64,
    /// LLM calls recorded in this run.
    pub llm_calls: i64,
}

/// Liveness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
    /// Server version.
    pub version: String,
    /// Time since start, like `3h24m12s`.
    pub uptime: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Server time.
    pub timestamp: DateTime<Utc>,
}

/// LLM usage by runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunnerUsage {
    /// Runner.
    pub runner: String,
    /// Calls.
    pub calls: i64,
    /// Input tokens.
    pub tokens_in: i64,
    /// Output tokens.
    pub tokens_out: i64,
    /// Spend in USD.
    pub cost_usd: f64,
}

/// LLM usage by model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelUsage {
    /// `provider:model`.
    #[schema(example = "anthropic:claude-sonnet-4-6")]
    pub model: String,
    /// Calls.
    pub calls: i64,
    /// Input tokens.
    pub tokens_in: i64,
    /// Output tokens.
    pub tokens_out: i64,
    /// Spend in USD.
    pub cost_usd: f64,
}

/// LLM usage by role (with the runner and model that served it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoleUsage {
    /// Pipeline role.
    pub role: String,
    /// Runner.
    pub runner: String,
    /// `provider:model`.
    pub model: String,
    /// Calls.
    pub calls: i64,
    /// Input tokens.
    pub tokens_in: i64,
    /// Output tokens.
    pub tokens_out: i64,
    /// Spend in USD.
    pub cost_usd: f64,
}

/// One recent LLM call with its ticket and task titles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecentCall {
    /// Ticket.
    pub ticket_id: Option<String>,
    /// Ticket title.
    pub ticket_title: Option<String>,
    /// Task title.
    pub task_title: Option<String>,
    /// Pipeline role.
    pub role: String,
    /// Runner.
    pub runner: String,
    /// `provider:model`.
    pub model: String,
    /// Outcome.
    #[schema(schema_with = llm_status_schema)]
    pub status: LlmCallStatus,
    /// When it was recorded.
    pub timestamp: DateTime<Utc>,
    /// Spend in USD.
    pub cost_usd: f64,
    /// Input tokens.
    pub tokens_in: i64,
    /// Output tokens.
    pub tokens_out: i64,
    /// Wall time.
    pub duration_ms: i64,
}

/// LLM attribution for the last seven days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Activity {
    /// By runner, most expensive first.
    pub by_runner: Vec<RunnerUsage>,
    /// By model, most expensive first.
    pub by_model: Vec<ModelUsage>,
    /// By role, runner and model, most expensive first.
    pub by_role: Vec<RoleUsage>,
    /// The 20 most recent calls, newest first.
    pub recent_calls: Vec<RecentCall>,
}

/// A token to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A name for people: 1 to 100 characters, not all whitespace (stored trimmed).
    #[schema(inline)]
    pub name: Text<100>,
    /// Scopes, at least one (default `["read"]` when absent or null).
    #[serde(default)]
    #[schema(schema_with = new_scopes_schema)]
    pub scopes: Option<NonEmpty<Scope>>,
    /// Days until it stops working (1 to 3650); never when absent or null.
    #[serde(default)]
    #[schema(inline)]
    pub expires_in_days: Option<ExpiryDays>,
}

/// Scopes of a token to create: a non-empty list, or null for the default.
pub(crate) fn new_scopes_schema() -> RefOr<Schema> {
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(string_enum(
            Scope::ALL.iter().map(|s| s.as_str()),
            "token scope: read < write < admin",
        ))
        .min_items(Some(1))
        .into()
}

/// A stored token (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenDto {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The secret's first characters.
    pub prefix: String,
    /// Scopes.
    #[schema(schema_with = scopes_schema)]
    pub scopes: Vec<Scope>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last presented (recorded at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Stops working at.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revoked at.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it can be used now.
    pub active: bool,
}

impl TokenDto {
    /// The public view of a token at `now`.
    #[must_use]
    pub fn from_token(t: &ApiToken, now: DateTime<Utc>) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            scopes: t.scopes.clone(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            active: t.is_usable_at(now),
        }
    }
}

/// A created token: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token as stored.
    #[serde(flatten)]
    pub stored: TokenDto,
    /// The secret; store it now, it cannot be shown again.
    pub token: String,
}

/// `{"status": "revoked", "token_id": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenRevoked {
    /// Always `revoked`.
    #[schema(example = "revoked")]
    pub status: String,
    /// The token.
    pub token_id: String,
}

/// Claude Code usage for one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaudeCodeDay {
    /// UTC day.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// Sessions active that day.
    pub sessions: i64,
    /// Estimated spend in USD.
    pub cost_usd: f64,
}

/// Claude Code usage today.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaudeCodeToday {
    /// Sessions active today.
    pub sessions: i64,
    /// Estimated spend in USD.
    pub cost_usd: f64,
}

/// Usage parsed from the local Claude Code session logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaudeCodeUsageDto {
    /// Whether logs were found; every other field is absent when not.
    pub available: bool,
    /// Sessions found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_sessions: Option<i64>,
    /// Today (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub today: Option<ClaudeCodeToday>,
    /// The last seven days, oldest first, zero-filled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_7_days: Option<Vec<ClaudeCodeDay>>,
    /// How the costs were obtained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_note: Option<String>,
}

pub(crate) fn webhook_action_schema() -> RefOr<Schema> {
    string_enum(
        foreman_domain::webhook::WebhookAction::ALL
            .iter()
            .map(|a| a.as_str()),
        "what the webhook led to: queued (new ticket), updated (queued ticket refreshed), \
recorded (noted on a known ticket), ignored, deferred (tracker slow or failing; the next poll \
takes care of it)",
    )
}

/// A merged or closed pull request reported by a git host's webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookPullRequest {
    /// The host's pull request number (GitLab: the merge request's iid).
    #[schema(example = 7)]
    pub number: i64,
    /// `merged` or `closed`.
    #[schema(example = "merged")]
    pub state: String,
}

/// What a verified webhook delivery led to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookOutcomeDto {
    /// What happened.
    #[schema(schema_with = webhook_action_schema)]
    pub action: String,
    /// The project the delivery was routed to.
    #[schema(example = "default")]
    pub project: Option<String>,
    /// What the payload was about: `issue`, `comment`, `pull_request`, `ping` or `other`.
    #[schema(example = "issue")]
    pub kind: String,
    /// The service's own action or event name.
    #[schema(example = "labeled")]
    pub event: String,
    /// The tracker ticket (or pull request) the payload names.
    #[schema(example = "#42")]
    pub external_id: Option<String>,
    /// The Foreman ticket it concerns, when there is one.
    pub ticket_id: Option<String>,
    /// Why this action, for people.
    #[schema(example = "ticket queued")]
    pub reason: String,
    /// For merged or closed pull requests.
    pub pull_request: Option<WebhookPullRequest>,
}

impl From<foreman_domain::webhook::WebhookOutcome> for WebhookOutcomeDto {
    fn from(o: foreman_domain::webhook::WebhookOutcome) -> Self {
        Self {
            action: o.action.as_str().to_owned(),
            project: o.project,
            kind: o.kind,
            event: o.event,
            external_id: o.external_id,
            ticket_id: o.ticket_id.map(foreman_domain::TicketId::into_string),
            reason: o.reason,
            pull_request: o.pull_request.map(|p| WebhookPullRequest {
                number: p.number,
                state: p.state.as_str().to_owned(),
            }),
        }
    }
}
