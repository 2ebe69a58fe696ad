//! [`MemoryStore`]: every storage port of `foreman_domain::storage`, held in memory.
//!
//! This is a real implementation, not a mock: it keeps state and enforces the same rules as the
//! SQL store (compare-and-set transitions, fencing tokens, leases with expiry, requeues, budget
//! reservations, file reservations with takeover, cascade delete, keyset paging). Those rules
//! are the domain's pure functions (`foreman_domain::fence`, `transition`, `budget_window`,
//! `llm_call`), called by both stores. The contract suite in [`crate::contract`] runs against
//! it and against SQLite and PostgreSQL, so code tested on it behaves the same in production.
//!
//! All state sits behind one mutex; every port method takes it once, so each call is atomic
//! exactly like a database transaction. One file per port, named like `foreman-store`'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use foreman_domain::fence::check_fence;
use foreman_domain::{
    ApiToken, Event, FencingToken, LlmCall, MAX_PAGE_LIMIT, Micros, OutboxEntry, ReservationId,
    StoreError, StoreResult, Task, TaskId, Ticket, TicketId,
};

mod audit;
mod checkpoints;
mod costs;
mod events;
mod notifications;
mod outbox;
mod parts;
mod reservations;
mod retrospectives;
mod runs;
mod search;
mod settings;
mod submission;
mod subscriptions;
mod tasks;
mod tickets;
mod tokens;
mod transcripts;
mod usage_ingest;

/// The most matches a search ranks: the newest ones, by creation time then id (the SQL stores
/// rank the newest by the order their search documents were created, and bound them alike).
pub const SEARCH_CANDIDATES: usize = 1_000;

/// Every storage port in memory. Cheap to clone: clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    tickets: HashMap<TicketId, Ticket>,
    tasks: HashMap<TaskId, Task>,
    events: Vec<Event>,
    last_seq: i64,
    calls: Vec<LlmCall>,
    reservations: HashMap<ReservationId, Held>,
    /// File reservations by `(project, path)`: holder and when it reserved.
    files: BTreeMap<(String, String), (TicketId, DateTime<Utc>)>,
    tokens: Vec<ApiToken>,
    settings: HashMap<String, String>,
    outbox: BTreeMap<String, OutboxEntry>,
    /// Checkpoints (`CheckpointStore`), in recording order.
    checkpoints: Vec<foreman_domain::Checkpoint>,
    /// Task transcripts (`TranscriptStore`), by task.
    transcripts: HashMap<TaskId, Vec<foreman_domain::TranscriptRecord>>,
    /// Runs and log lines (`RunStore`, `LogStore`).
    runs: Runs,
    /// What submitted tickets asked for (`SubmissionStore`), by ticket.
    options: HashMap<TicketId, foreman_domain::TicketOptions>,
    /// Counters of submitted tickets by project (`SubmissionStore::submit_numbered`).
    submitted: HashMap<String, i64>,
    /// Fired notifications (`NotificationStore`), oldest first.
    notifications: Vec<foreman_domain::notification::Notification>,
    /// Retrospectives (`RetrospectiveStore`), oldest first.
    retrospectives: Vec<foreman_domain::retrospective::Retrospective>,
    /// Outbound webhook subscriptions, deliveries and the fan-out cursor (`WebhookStore`).
    webhooks: parts::Webhooks,
    /// What reported calls (`UsageIngest`) name beyond an LLM call.
    usage: Reported,
    /// The audit trail (`AuditStore`).
    audit: parts::Audit,
}

/// Runs and log lines (`memory/runs.rs`).
#[derive(Debug, Default)]
struct Runs {
    /// Every run, oldest first.
    runs: Vec<foreman_domain::runs::Run>,
    /// Every kept log line, oldest first.
    logs: Vec<foreman_domain::runs::LogLine>,
    last_log_id: i64,
}

/// Reported usage (`memory/usage_ingest.rs`): what reported calls name beyond an LLM call, by
/// call, and their idempotency keys.
#[derive(Debug, Default)]
struct Reported {
    meta: HashMap<foreman_domain::LlmCallId, ReportedMeta>,
    keys: std::collections::HashSet<String>,
}

/// What a reported call names beyond an LLM call.
#[derive(Debug, Clone, Default)]
struct ReportedMeta {
    project: Option<String>,
    session_tag: Option<String>,
    external_id: Option<String>,
}

/// An open budget reservation.
#[derive(Debug, Clone)]
struct Held {
    ticket_id: Option<TicketId>,
    task_id: Option<TaskId>,
    amount: Micros,
    at: DateTime<Utc>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The store as a shared trait object.
    #[must_use]
    pub fn shared(&self) -> Arc<dyn foreman_domain::Store> {
        Arc::new(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn ticket(&self, id: &TicketId) -> StoreResult<&Ticket> {
        self.tickets
            .get(id)
            .ok_or_else(|| StoreError::not_found("ticket", id.as_str()))
    }

    fn ticket_mut(&mut self, id: &TicketId) -> StoreResult<&mut Ticket> {
        self.tickets
            .get_mut(id)
            .ok_or_else(|| StoreError::not_found("ticket", id.as_str()))
    }

    fn task(&self, id: &TaskId) -> StoreResult<&Task> {
        self.tasks
            .get(id)
            .ok_or_else(|| StoreError::not_found("task", id.as_str()))
    }

    /// Checks `fence` against the ticket owning `task`.
    fn task_fence(&self, task: &Task, fence: Option<FencingToken>) -> StoreResult<()> {
        if fence.is_some() {
            check_fence(self.ticket(&task.ticket_id)?, fence)?;
        }
        Ok(())
    }
}

/// A page size: 0 means 50, capped at [`MAX_PAGE_LIMIT`].
fn cap(limit: u32) -> usize {
    match limit {
        0 => 50,
        n => n.min(MAX_PAGE_LIMIT) as usize,
    }
}
