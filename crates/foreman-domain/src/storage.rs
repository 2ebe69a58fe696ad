//! Storage port traits: what the pipeline and the API need from storage, split by capability.
//!
//! The rules the implementations share (fences, status guards, requeues, budget windows, LLM
//! call records) are pure functions in [`crate::fence`], [`crate::transition`],
//! [`crate::budget_window`] and [`crate::llm_call`]; each store reads inside its transaction,
//! calls them, and writes what they return.
//!
//! Adapters (`foreman-store` on SQLite/PostgreSQL, the in-memory fakes of `foreman-testkit`)
//! implement them; every other crate holds them as `Arc<dyn Port>`. One contract test suite in
//! `foreman-testkit` checks every implementation against the same behaviour.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::budget::{DailySpend, Reservation, ReservationRequest};
use crate::error::StoreResult;
use crate::event::{Event, EventFilter, NewEvent};
use crate::file_reservation::FileReservationStore;
use crate::ids::{ReservationId, TaskId, TicketId, TokenId};
use crate::llm_call::{LlmCall, NewLlmCall};
use crate::money::Micros;
use crate::status::{TaskStatus, TicketStatus};
use crate::task::{NewTask, Task, TaskPatch};
use crate::ticket::{
    Claim, ClaimRequest, FencingToken, NewTicket, Page, Ticket, TicketFilter, TicketPatch,
};
use crate::token::{ApiToken, NewApiToken};
use crate::transition::{TaskRequeue, TicketRequeue};

/// Tickets: creation, lookup, listing, compare-and-set status changes and leases.
#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Creates a ticket in `queued`. `(project, external_id)` is unique:
    /// [`crate::StoreError::Duplicate`] when taken.
    async fn create_ticket(&self, new: NewTicket) -> StoreResult<Ticket>;

    /// A ticket by id.
    async fn get_ticket(&self, id: &TicketId) -> StoreResult<Option<Ticket>>;

    /// A ticket by its tracker id within a project.
    async fn get_ticket_by_external_id(
        &self,
        project: &str,
        external_id: &str,
    ) -> StoreResult<Option<Ticket>>;

    /// A page of tickets.
    async fn list_tickets(&self, filter: &TicketFilter) -> StoreResult<Page<Ticket>>;

    /// A number that moves whenever a ticket may have changed, by this process or any other
    /// writer of the database; `None` when the store cannot tell (then every answer must be
    /// read). Two equal answers mean every ticket read between them is still current, so a
    /// caller may keep what it derived from tickets under that number.
    async fn tickets_generation(&self) -> StoreResult<Option<u64>> {
        Ok(None)
    }

    /// Ticket counts per status (statuses with no tickets omitted).
    async fn count_tickets_by_status(
        &self,
        project: Option<&str>,
    ) -> StoreResult<Vec<(TicketStatus, i64)>>;

    /// Moves a ticket from `from` to `to` if it is still in `from` (compare-and-set) and the
    /// edge is allowed. With `fence`, the ticket's fencing token must equal it.
    /// Sets `completed_at` when `to` is terminal and clears it when leaving a terminal status.
    async fn transition_ticket(
        &self,
        id: &TicketId,
        from: TicketStatus,
        to: TicketStatus,
        fence: Option<FencingToken>,
    ) -> StoreResult<Ticket>;

    /// Puts a failed, blocked or partial ticket back in the queue, in one transaction: the
    /// ticket moves to `queued` with its error cleared (and `completed_at` when it leaves a
    /// terminal status), and its failed and skipped tasks go back to `pending` with fresh
    /// attempt counters and no error; done tasks are kept. With `fence`, the ticket's fencing
    /// token must equal it. Concurrent requeues of one ticket: exactly one succeeds.
    ///
    /// Errors: [`crate::StoreError::NotFound`], [`crate::StoreError::StaleFence`], or
    /// [`crate::StoreError::Conflict`] naming the current status when it is not retryable
    /// ([`TicketStatus::can_retry`]); nothing changes then.
    async fn requeue_ticket(
        &self,
        id: &TicketId,
        fence: Option<FencingToken>,
    ) -> StoreResult<TicketRequeue>;

    /// Changes fields. With `fence`, the ticket's fencing token must equal it.
    async fn update_ticket(
        &self,
        id: &TicketId,
        patch: TicketPatch,
        fence: Option<FencingToken>,
    ) -> StoreResult<Ticket>;

    /// Deletes a ticket with its tasks, events and reservations. `false` when it did not exist.
    /// Its LLM calls are kept as tombstones ([`LlmCall::tombstoned`]: no ticket or task, the
    /// deleted ticket's id in `deleted_ticket_id`): spend already made stays counted in every
    /// spend window and budget.
    async fn delete_ticket(&self, id: &TicketId) -> StoreResult<bool>;

    /// Stops a ticket for good, keeping everything it cost: in one transaction it moves to
    /// `failed` with the error `cancelled`, loses its lease and gets a new fencing token (so a
    /// worker still running it is refused at its next write), and its budget reservations are
    /// released; its tasks, LLM calls and events stay ([`crate::fence::cancelled_ticket`]).
    /// A cancelled ticket can be retried like any failed one.
    ///
    /// Errors: [`crate::StoreError::NotFound`], or [`crate::StoreError::Conflict`] naming the
    /// current status when it cannot fail any more (finished, failed, blocked).
    async fn cancel_ticket(&self, id: &TicketId) -> StoreResult<Ticket>;

    /// Claims the highest-priority, oldest ticket in one of `req.statuses` whose lease is free or
    /// expired, bumping its fencing token. `None` when nothing is claimable. Correct under
    /// concurrency: a ticket is held by at most one worker at a time. An empty `worker_id` or
    /// `statuses` is [`crate::StoreError::Invalid`]. Budget reservations are owned by the lease:
    /// those the ticket still has belong to the previous holder (a worker that died or lost the
    /// lease during an LLM call) and are released in the same transaction.
    async fn claim_next(&self, req: &ClaimRequest) -> StoreResult<Option<Claim>>;

    /// Extends a held lease; [`crate::StoreError::LeaseNotHeld`] if it was lost.
    async fn renew_lease(
        &self,
        id: &TicketId,
        worker_id: &str,
        fence: FencingToken,
        lease: Duration,
    ) -> StoreResult<DateTime<Utc>>;

    /// Gives a lease up, releasing the ticket's budget reservations with it (a node restarting
    /// releases the leases its previous run held, and so their reservations);
    /// [`crate::StoreError::LeaseNotHeld`] if it was lost.
    async fn release_lease(
        &self,
        id: &TicketId,
        worker_id: &str,
        fence: FencingToken,
    ) -> StoreResult<()>;
}

/// Tasks of a ticket.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Creates the tasks of a plan in `pending` (sequences must be unique per ticket).
    async fn create_tasks(
        &self,
        ticket_id: &TicketId,
        tasks: Vec<NewTask>,
        fence: Option<FencingToken>,
    ) -> StoreResult<Vec<Task>>;

    /// A task by id.
    async fn get_task(&self, id: &TaskId) -> StoreResult<Option<Task>>;

    /// A ticket's tasks by sequence.
    async fn list_tasks(&self, ticket_id: &TicketId) -> StoreResult<Vec<Task>>;

    /// Compare-and-set status change along an allowed edge; with `fence`, checked against the
    /// owning ticket. Sets `completed_at` on terminal statuses and `started_at` on first start.
    async fn transition_task(
        &self,
        id: &TaskId,
        from: TaskStatus,
        to: TaskStatus,
        fence: Option<FencingToken>,
    ) -> StoreResult<Task>;

    /// Puts a failed task back to `pending` in one transaction, with fresh attempt counters, no
    /// error and no `completed_at`; with `fence`, checked against the owning ticket. Concurrent
    /// requeues of one task: exactly one succeeds.
    ///
    /// Errors: [`crate::StoreError::NotFound`], [`crate::StoreError::StaleFence`], or
    /// [`crate::StoreError::Conflict`] naming the current status when it is not retryable
    /// ([`TaskStatus::can_retry`]); nothing changes then.
    async fn requeue_task(
        &self,
        id: &TaskId,
        fence: Option<FencingToken>,
    ) -> StoreResult<TaskRequeue>;

    /// Changes fields; with `fence`, checked against the owning ticket. A checkpoint
    /// ([`TaskPatch::checkpoint`]) is written whole, with the other fields of the patch, in the
    /// same transaction as the fence check, so a worker that lost its lease cannot record a
    /// phase.
    async fn update_task(
        &self,
        id: &TaskId,
        patch: TaskPatch,
        fence: Option<FencingToken>,
    ) -> StoreResult<Task>;
}

/// The append-only event log.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Appends one event; its `seq` is greater than every committed event's.
    async fn append(&self, event: NewEvent) -> StoreResult<Event>;

    /// Appends many events in one transaction, in order.
    async fn append_batch(&self, events: Vec<NewEvent>) -> StoreResult<Vec<Event>>;

    /// Events matching the filter.
    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<Event>>;

    /// The highest committed `seq` (0 when empty).
    async fn latest_seq(&self) -> StoreResult<i64>;
}

/// Aggregated LLM usage over a window (for `/api/usage/activity` and stats).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UsageRow {
    /// Grouping key values (`runner`, `model`, `role`, ...), in the order asked for.
    pub keys: Vec<String>,
    /// Calls.
    pub calls: i64,
    /// Input tokens.
    pub tokens_in: i64,
    /// Output tokens.
    pub tokens_out: i64,
    /// Cost.
    pub cost: Micros,
}

/// What to group usage by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageKey {
    /// Runner name.
    Runner,
    /// Provider name.
    Provider,
    /// Model name.
    Model,
    /// Pipeline role.
    Role,
    /// Call status.
    Status,
}

/// LLM call records, spend and budget reservations.
#[async_trait]
pub trait CostLedger: Send + Sync {
    /// Records a call and, in the same transaction, adds its tokens, cost and call count to the
    /// task's and ticket's totals.
    async fn record_llm_call(&self, call: NewLlmCall) -> StoreResult<LlmCall>;

    /// A ticket's calls, oldest first.
    async fn list_llm_calls(&self, ticket_id: &TicketId) -> StoreResult<Vec<LlmCall>>;

    /// The most recent calls across tickets, newest first.
    async fn recent_llm_calls(&self, limit: u32) -> StoreResult<Vec<LlmCall>>;

    /// Recorded spend in `[from, to)`.
    async fn spend_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Micros>;

    /// Recorded spend per UTC day in `[from, to]`, one entry per day, zero-filled.
    async fn daily_spend(&self, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<DailySpend>>;

    /// Calls since `since`, grouped by `keys`, ordered by cost descending.
    async fn usage_since(
        &self,
        since: DateTime<Utc>,
        keys: &[UsageKey],
    ) -> StoreResult<Vec<UsageRow>>;

    /// Holds back `req.amount` if every limit still covers it, counting recorded spend and open
    /// reservations for the task, the ticket, the UTC day and month, all in one transaction.
    /// [`crate::StoreError::BudgetExceeded`] otherwise.
    async fn reserve(&self, req: &ReservationRequest) -> StoreResult<Reservation>;

    /// Replaces a reservation with the recorded call (one transaction): the spend is recorded
    /// in the same commit as the hold goes. [`crate::StoreError::NotFound`] when the reservation
    /// is gone (released with its lease by a takeover, a restart or a cancel): the caller then
    /// records the call with [`CostLedger::record_llm_call`], since the spend happened.
    async fn settle(&self, id: &ReservationId, call: NewLlmCall) -> StoreResult<LlmCall>;

    /// Drops a reservation without recording anything. Unknown ids are ignored.
    async fn release(&self, id: &ReservationId) -> StoreResult<()>;
}

/// API tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a token.
    async fn create_token(&self, token: NewApiToken) -> StoreResult<ApiToken>;

    /// Every token, newest first (revoked ones included).
    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>>;

    /// A token by the SHA-256 of its secret (usable or not; callers check).
    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>>;

    /// Revokes a token; `false` when it does not exist. Revoking twice keeps the first time.
    async fn revoke_token(&self, id: &TokenId) -> StoreResult<bool>;

    /// Records use.
    async fn touch_token(&self, id: &TokenId, at: DateTime<Utc>) -> StoreResult<()>;
}

/// Whether the daemon takes new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonState {
    /// Claims and runs tickets.
    Running,
    /// Finishes the current step, starts nothing new.
    Paused,
}

impl DaemonState {
    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
        }
    }
}

pub use crate::settings::SettingsStore;

/// The key under which the daemon state is kept.
pub const DAEMON_STATE_KEY: &str = "daemon_state";

/// Reads the persisted daemon state (running when never set).
///
/// # Errors
/// Backend errors, or an unknown stored value.
pub async fn daemon_state(settings: &dyn SettingsStore) -> StoreResult<DaemonState> {
    match settings.get_setting(DAEMON_STATE_KEY).await?.as_deref() {
        None | Some("running") => Ok(DaemonState::Running),
        Some("paused") => Ok(DaemonState::Paused),
        Some(other) => Err(crate::StoreError::corrupt(DAEMON_STATE_KEY, other)),
    }
}

/// An external side effect waiting to be done exactly once: one entry per effect (the pull
/// request, each tracker comment, the pull request link, each status update, each label
/// change), keyed by its idempotency key.
///
/// Life of an entry: [`Outbox::enqueue`] (pending, due at once) → a performer
/// [`Outbox::claim_outbox`]s it (one attempt counted, held until the claim's `until`) → it
/// performs the effect → [`Outbox::complete_outbox`] (done, with the result) or
/// [`Outbox::fail_outbox`] (pending again from `retry_at`, or failed for good). A performer that
/// dies between its claim and its answer lets the entry fall due again at `until`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Idempotency key (e.g. `pr:<ticket_id>`).
    pub key: String,
    /// The ticket it belongs to.
    pub ticket_id: Option<TicketId>,
    /// What to do (`create_pr`, `comment`, ...).
    pub kind: String,
    /// Parameters.
    pub payload: serde_json::Value,
    /// `pending`, `done` or `failed`.
    pub state: String,
    /// What the side effect returned (e.g. the PR URL).
    pub result: Option<serde_json::Value>,
    /// Attempts made (claims: [`Outbox::claim_outbox`] counts one each).
    pub attempts: i32,
    /// When a pending entry may be attempted (again): its creation, a backoff after a failure,
    /// or the end of the hold of the performer that claimed it.
    pub next_attempt_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Outbox entry states ([`OutboxEntry::state`]).
pub mod outbox_state {
    /// Waiting to be performed (or retried).
    pub const PENDING: &str = "pending";
    /// Performed; `result` holds what it returned.
    pub const DONE: &str = "done";
    /// Given up; `result` holds the last error.
    pub const FAILED: &str = "failed";
}

/// The outbox of external side effects.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds an entry, or returns the existing one with the same key (idempotent).
    async fn enqueue(
        &self,
        key: &str,
        ticket_id: Option<&TicketId>,
        kind: &str,
        payload: serde_json::Value,
    ) -> StoreResult<OutboxEntry>;

    /// An entry by key.
    async fn get_outbox(&self, key: &str) -> StoreResult<Option<OutboxEntry>>;

    /// Pending entries, oldest first (due or not).
    async fn pending_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>>;

    /// Pending entries due at `now` (`next_attempt_at <= now`), oldest first: what a drain
    /// retries.
    async fn due_outbox(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<OutboxEntry>>;

    /// Takes a pending entry that is due at `now` to perform it, in one compare-and-set: counts
    /// an attempt, moves `next_attempt_at` to `until` (so nobody else takes it meanwhile) and
    /// returns the entry as it now is. `None` when it is done, failed, not due yet or held by
    /// another performer: then the caller must not perform it. Unknown keys are
    /// [`crate::StoreError::NotFound`].
    async fn claim_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<OutboxEntry>>;

    /// Marks an entry done with its result (whatever its state: a late success counts).
    async fn complete_outbox(&self, key: &str, result: serde_json::Value) -> StoreResult<()>;

    /// Records a failed attempt of a pending entry: keeps `{"error": error}` as its result and
    /// makes it due again at `retry_at`, or, with `None`, gives up (state `failed`).
    /// [`crate::StoreError::Conflict`] when it is no longer pending.
    async fn fail_outbox(
        &self,
        key: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
}

/// Every storage port in one object, for adapters that implement them all.
pub trait Store:
    TicketStore
    + TaskStore
    + EventLog
    + CostLedger
    + TokenStore
    + SettingsStore
    + Outbox
    + FileReservationStore
    + crate::search::TicketSearch
    + crate::runs::RunStore
    + crate::runs::LogStore
    + crate::ticket_submission::SubmissionStore
    + crate::notification::NotificationStore
    + crate::retrospective::RetrospectiveStore
    + crate::cost_report::CostReport
    + crate::checkpoint::CheckpointStore
    + crate::transcript::TranscriptStore
    + crate::audit::AuditStore
    + crate::subscription::WebhookStore
    + crate::usage_ingest::UsageIngest
{
}

impl<T> Store for T where
    T: TicketStore
        + TaskStore
        + EventLog
        + CostLedger
        + TokenStore
        + SettingsStore
        + Outbox
        + FileReservationStore
        + crate::search::TicketSearch
        + crate::runs::RunStore
        + crate::runs::LogStore
        + crate::ticket_submission::SubmissionStore
        + crate::notification::NotificationStore
        + crate::retrospective::RetrospectiveStore
        + crate::cost_report::CostReport
        + crate::checkpoint::CheckpointStore
        + crate::transcript::TranscriptStore
        + crate::audit::AuditStore
        + crate::subscription::WebhookStore
        + crate::usage_ingest::UsageIngest
{
}
