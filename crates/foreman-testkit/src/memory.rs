//! [`MemoryStore`]: every storage port of `foreman_domain::ports`, held in memory.
//!
//! This is a real implementation, not a mock: it keeps state and enforces the same rules as the
//! SQL store (compare-and-set transitions, fencing tokens, leases with expiry, budget
//! reservations, file reservations with takeover, cascade delete, keyset paging). The contract suite in [`crate::contract`] runs
//! against it and against SQLite and PostgreSQL, so code tested on it behaves the same in
//! production.
//!
//! All state sits behind one mutex; every port method takes it once, so each call is atomic
//! exactly like a database transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use foreman_domain::budget::{BudgetScope, DailySpend, Reservation, ReservationRequest};
use foreman_domain::file_reservation::{holder_blocks, normalise_paths};
use foreman_domain::{
    ApiToken, Claim, ClaimRequest, CostLedger, Event, EventFilter, EventId, EventLog, FencingToken,
    FileReservation, FileReservationOutcome, FileReservationStore, LlmCall, LlmCallId,
    LlmCallStatus, MAX_PAGE_LIMIT, Micros, NewApiToken, NewEvent, NewLlmCall, NewTask, NewTicket,
    Outbox, OutboxEntry, Page, ReservationId, SettingsStore, StoreError, StoreResult, Task, TaskId,
    TaskPatch, TaskStatus, TaskStore, Ticket, TicketCursor, TicketFilter, TicketId, TicketPatch,
    TicketSort, TicketStatus, TicketStore, TokenId, TokenStore, UsageKey, UsageRow,
};

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
}

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

fn check_fence(ticket: &Ticket, fence: Option<FencingToken>) -> StoreResult<()> {
    match fence {
        Some(presented) if presented != ticket.fencing_token => Err(StoreError::StaleFence {
            ticket_id: ticket.id.to_string(),
            presented,
            current: ticket.fencing_token,
        }),
        _ => Ok(()),
    }
}

fn lease_until(now: DateTime<Utc>, lease: Duration) -> StoreResult<DateTime<Utc>> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .map(|t| foreman_domain::micros_to_time(foreman_domain::time_to_micros(t)))
        .ok_or_else(|| StoreError::Invalid(format!("lease of {lease:?} is too long")))
}

fn lease_is_free(t: &Ticket, now: DateTime<Utc>) -> bool {
    t.lease_owner.is_none() || t.lease_expires_at.is_none_or(|e| e <= now)
}

/// UTC day and month windows containing `at`, as `[start, end)`.
pub(crate) fn day_window(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = at.date_naive();
    let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
    (start, start + chrono::Duration::days(1))
}

pub(crate) fn month_window(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = NaiveDate::from_ymd_opt(at.year(), at.month(), 1).unwrap_or_default();
    let next = if at.month() == 12 {
        NaiveDate::from_ymd_opt(at.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(at.year(), at.month() + 1, 1)
    }
    .unwrap_or_default();
    let start = Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default());
    let end = Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0).unwrap_or_default());
    (start, end)
}

fn ticket_order(sort: TicketSort, a: &Ticket, b: &Ticket) -> std::cmp::Ordering {
    let ka = (sort.key_micros(a), a.id.as_str());
    let kb = (sort.key_micros(b), b.id.as_str());
    if sort.is_descending() {
        kb.cmp(&ka)
    } else {
        ka.cmp(&kb)
    }
}

fn after_cursor(c: &TicketCursor, t: &Ticket) -> bool {
    let key = (c.sort.key_micros(t), t.id.as_str());
    let at = (c.at_micros, c.id.as_str());
    if c.sort.is_descending() {
        key < at
    } else {
        key > at
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

    fn task_fence(&self, task: &Task, fence: Option<FencingToken>) -> StoreResult<()> {
        if fence.is_some() {
            check_fence(self.ticket(&task.ticket_id)?, fence)?;
        }
        Ok(())
    }

    fn recorded(&self, pred: impl Fn(&LlmCall) -> bool) -> Micros {
        self.calls.iter().filter(|c| pred(c)).map(|c| c.cost).sum()
    }

    fn held(&self, pred: impl Fn(&Held) -> bool) -> Micros {
        self.reservations
            .values()
            .filter(|h| pred(h))
            .map(|h| h.amount)
            .sum()
    }

    fn record_call(&mut self, new: NewLlmCall) -> StoreResult<LlmCall> {
        let mut ticket_id = new.ticket_id.clone();
        if let Some(task_id) = &new.task_id {
            let task = self
                .tasks
                .get(task_id)
                .ok_or_else(|| StoreError::not_found("task", task_id.as_str()))?;
            match &ticket_id {
                None => ticket_id = Some(task.ticket_id.clone()),
                Some(t) if *t != task.ticket_id => {
                    return Err(StoreError::Invalid(format!(
                        "task {task_id} belongs to ticket {}, not {t}",
                        task.ticket_id
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(t) = &ticket_id {
            self.ticket(t)?;
        }
        validate_call(&new)?;
        let call = LlmCall {
            id: LlmCallId::new(),
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
            created_at: foreman_domain::now(),
        };
        if let Some(task_id) = &call.task_id
            && let Some(task) = self.tasks.get_mut(task_id)
        {
            task.cost += call.cost;
            task.tokens_input += call.tokens_input;
            task.tokens_output += call.tokens_output;
            task.total_llm_calls += 1;
        }
        if let Some(ticket_id) = &call.ticket_id
            && let Some(ticket) = self.tickets.get_mut(ticket_id)
        {
            ticket.cost += call.cost;
            ticket.tokens_input += call.tokens_input;
            ticket.tokens_output += call.tokens_output;
            ticket.total_llm_calls += 1;
        }
        self.calls.push(call.clone());
        Ok(call)
    }
}

fn validate_call(new: &NewLlmCall) -> StoreResult<()> {
    if new.cost.0 < 0 {
        return Err(StoreError::Invalid(
            "llm call cost must not be negative".into(),
        ));
    }
    if new.tokens_input < 0
        || new.tokens_output < 0
        || new.cache_read_tokens < 0
        || new.cache_write_tokens < 0
    {
        return Err(StoreError::Invalid(
            "llm call token counts must not be negative".into(),
        ));
    }
    Ok(())
}

fn cap(limit: u32) -> usize {
    match limit {
        0 => 50,
        n => n.min(MAX_PAGE_LIMIT) as usize,
    }
}

#[async_trait]
impl TicketStore for MemoryStore {
    async fn create_ticket(&self, new: NewTicket) -> StoreResult<Ticket> {
        let project = new.validate()?;
        let mut s = self.lock();
        if s.tickets
            .values()
            .any(|t| t.project == project && t.external_id == new.external_id)
        {
            return Err(StoreError::Duplicate {
                entity: "ticket",
                key: format!("external_id {} in project {project}", new.external_id),
            });
        }
        if let Some(parent) = &new.parent_id {
            s.ticket(parent)?;
        }
        let ticket = Ticket::from_new(TicketId::new(), project, new, foreman_domain::now());
        s.tickets.insert(ticket.id.clone(), ticket.clone());
        Ok(ticket)
    }

    async fn get_ticket(&self, id: &TicketId) -> StoreResult<Option<Ticket>> {
        Ok(self.lock().tickets.get(id).cloned())
    }

    async fn get_ticket_by_external_id(
        &self,
        project: &str,
        external_id: &str,
    ) -> StoreResult<Option<Ticket>> {
        Ok(self
            .lock()
            .tickets
            .values()
            .find(|t| t.project == project && t.external_id == external_id)
            .cloned())
    }

    async fn list_tickets(&self, filter: &TicketFilter) -> StoreResult<Page<Ticket>> {
        let cursor = filter
            .cursor
            .as_deref()
            .map(|c| TicketCursor::decode(c, filter.sort))
            .transpose()?;
        let needle = filter.search.as_ref().map(|s| s.to_lowercase());
        let s = self.lock();
        let mut rows: Vec<&Ticket> = s
            .tickets
            .values()
            .filter(|t| filter.project.as_ref().is_none_or(|p| *p == t.project))
            .filter(|t| filter.statuses.is_empty() || filter.statuses.contains(&t.status))
            .filter(|t| filter.submitter.is_none() || filter.submitter == t.submitter)
            .filter(|t| filter.parent_id.is_none() || filter.parent_id == t.parent_id)
            .filter(|t| {
                needle.as_ref().is_none_or(|n| {
                    t.title.to_lowercase().contains(n.as_str())
                        || t.external_id.to_lowercase().contains(n.as_str())
                })
            })
            .filter(|t| cursor.as_ref().is_none_or(|c| after_cursor(c, t)))
            .collect();
        rows.sort_by(|a, b| ticket_order(filter.sort, a, b));
        let limit = filter.effective_limit() as usize;
        let skip = if cursor.is_some() {
            0
        } else {
            usize::try_from(filter.offset).unwrap_or(usize::MAX)
        };
        let mut items: Vec<Ticket> = rows
            .into_iter()
            .skip(skip)
            .take(limit + 1)
            .cloned()
            .collect();
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|t| TicketCursor::after(t, filter.sort).encode())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn count_tickets_by_status(
        &self,
        project: Option<&str>,
    ) -> StoreResult<Vec<(TicketStatus, i64)>> {
        let s = self.lock();
        let mut counts: BTreeMap<TicketStatus, i64> = BTreeMap::new();
        for t in s.tickets.values() {
            if project.is_none_or(|p| p == t.project) {
                *counts.entry(t.status).or_default() += 1;
            }
        }
        Ok(counts.into_iter().collect())
    }

    async fn transition_ticket(
        &self,
        id: &TicketId,
        from: TicketStatus,
        to: TicketStatus,
        fence: Option<FencingToken>,
    ) -> StoreResult<Ticket> {
        let mut s = self.lock();
        let t = s.ticket_mut(id)?;
        check_fence(t, fence)?;
        if t.status != from {
            return Err(StoreError::Conflict {
                entity: "ticket",
                id: id.to_string(),
                current: t.status.to_string(),
                expected: from.to_string(),
            });
        }
        if !TicketStatus::can_transition(from, to) {
            return Err(StoreError::InvalidTransition {
                entity: "ticket",
                id: id.to_string(),
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        let now = foreman_domain::now();
        t.status = to;
        t.updated_at = now;
        if to.is_terminal() {
            t.completed_at = Some(now);
        } else if from.is_terminal() {
            t.completed_at = None;
        }
        Ok(t.clone())
    }

    async fn update_ticket(
        &self,
        id: &TicketId,
        patch: TicketPatch,
        fence: Option<FencingToken>,
    ) -> StoreResult<Ticket> {
        let mut s = self.lock();
        let t = s.ticket_mut(id)?;
        check_fence(t, fence)?;
        let TicketPatch {
            title,
            description,
            acceptance_criteria,
            priority,
            labels,
            branch_name,
            pr_url,
            pr_number,
            is_partial,
            last_completed_task_seq,
            last_error,
            last_error_type,
            started_at,
        } = patch;
        if let Some(v) = title {
            t.title = v;
        }
        if let Some(v) = description {
            t.description = v;
        }
        if let Some(v) = acceptance_criteria {
            t.acceptance_criteria = v;
        }
        if let Some(v) = priority {
            t.priority = v;
        }
        if let Some(v) = labels {
            t.labels = v;
        }
        if let Some(v) = branch_name {
            t.branch_name = v;
        }
        if let Some(v) = pr_url {
            t.pr_url = v;
        }
        if let Some(v) = pr_number {
            t.pr_number = v;
        }
        if let Some(v) = is_partial {
            t.is_partial = v;
        }
        if let Some(v) = last_completed_task_seq {
            t.last_completed_task_seq = v;
        }
        if let Some(v) = last_error {
            t.last_error = v;
        }
        if let Some(v) = last_error_type {
            t.last_error_type = v;
        }
        if let Some(v) = started_at {
            t.started_at = v.map(|d| foreman_domain::micros_to_time(d.timestamp_micros()));
        }
        t.updated_at = foreman_domain::now();
        Ok(t.clone())
    }

    async fn delete_ticket(&self, id: &TicketId) -> StoreResult<bool> {
        let mut s = self.lock();
        if s.tickets.remove(id).is_none() {
            return Ok(false);
        }
        s.tasks.retain(|_, t| t.ticket_id != *id);
        s.events.retain(|e| e.ticket_id.as_ref() != Some(id));
        s.calls.retain(|c| c.ticket_id.as_ref() != Some(id));
        s.reservations
            .retain(|_, h| h.ticket_id.as_ref() != Some(id));
        s.files.retain(|_, (holder, _)| holder != id);
        for t in s.tickets.values_mut() {
            if t.parent_id.as_ref() == Some(id) {
                t.parent_id = None;
            }
        }
        Ok(true)
    }

    async fn claim_next(&self, req: &ClaimRequest) -> StoreResult<Option<Claim>> {
        if req.worker_id.is_empty() {
            return Err(StoreError::Invalid("worker_id must not be empty".into()));
        }
        if req.statuses.is_empty() {
            return Err(StoreError::Invalid(
                "claim needs at least one status to claim from".into(),
            ));
        }
        let now = foreman_domain::now();
        let expires_at = lease_until(now, req.lease)?;
        let mut s = self.lock();
        let best = s
            .tickets
            .values()
            .filter(|t| req.statuses.contains(&t.status))
            .filter(|t| req.project.as_ref().is_none_or(|p| *p == t.project))
            .filter(|t| lease_is_free(t, now))
            .min_by(|a, b| {
                b.priority
                    .cmp(&a.priority)
                    .then(a.created_at.cmp(&b.created_at))
                    .then(a.id.cmp(&b.id))
            })
            .map(|t| t.id.clone());
        let Some(id) = best else {
            return Ok(None);
        };
        let t = s.ticket_mut(&id)?;
        t.fencing_token = FencingToken(t.fencing_token.0 + 1);
        t.lease_owner = Some(req.worker_id.clone());
        t.lease_expires_at = Some(expires_at);
        t.updated_at = now;
        Ok(Some(Claim {
            ticket: t.clone(),
            fencing_token: t.fencing_token,
            expires_at,
        }))
    }

    async fn renew_lease(
        &self,
        id: &TicketId,
        worker_id: &str,
        fence: FencingToken,
        lease: Duration,
    ) -> StoreResult<DateTime<Utc>> {
        let now = foreman_domain::now();
        let expires_at = lease_until(now, lease)?;
        let mut s = self.lock();
        let t = s.ticket_mut(id)?;
        // an expired lease is lost even if nobody has claimed the ticket since
        if t.lease_owner.as_deref() != Some(worker_id)
            || t.fencing_token != fence
            || t.lease_expires_at.is_none_or(|e| e <= now)
        {
            return Err(StoreError::LeaseNotHeld {
                ticket_id: id.to_string(),
                worker_id: worker_id.to_owned(),
            });
        }
        t.lease_expires_at = Some(expires_at);
        Ok(expires_at)
    }

    async fn release_lease(
        &self,
        id: &TicketId,
        worker_id: &str,
        fence: FencingToken,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let t = s.ticket_mut(id)?;
        if t.lease_owner.as_deref() != Some(worker_id) || t.fencing_token != fence {
            return Err(StoreError::LeaseNotHeld {
                ticket_id: id.to_string(),
                worker_id: worker_id.to_owned(),
            });
        }
        t.lease_owner = None;
        t.lease_expires_at = None;
        Ok(())
    }
}

#[async_trait]
impl TaskStore for MemoryStore {
    async fn create_tasks(
        &self,
        ticket_id: &TicketId,
        tasks: Vec<NewTask>,
        fence: Option<FencingToken>,
    ) -> StoreResult<Vec<Task>> {
        let mut s = self.lock();
        check_fence(s.ticket(ticket_id)?, fence)?;
        let mut taken: Vec<i32> = s
            .tasks
            .values()
            .filter(|t| t.ticket_id == *ticket_id)
            .map(|t| t.sequence)
            .collect();
        for n in &tasks {
            if taken.contains(&n.sequence) {
                return Err(StoreError::Duplicate {
                    entity: "task",
                    key: format!("sequence {} of ticket {ticket_id}", n.sequence),
                });
            }
            taken.push(n.sequence);
        }
        let now = foreman_domain::now();
        let mut out = Vec::with_capacity(tasks.len());
        for n in tasks {
            let task = Task::from_new(ticket_id.clone(), n, now);
            s.tasks.insert(task.id.clone(), task.clone());
            out.push(task);
        }
        Ok(out)
    }

    async fn get_task(&self, id: &TaskId) -> StoreResult<Option<Task>> {
        Ok(self.lock().tasks.get(id).cloned())
    }

    async fn list_tasks(&self, ticket_id: &TicketId) -> StoreResult<Vec<Task>> {
        let s = self.lock();
        let mut tasks: Vec<Task> = s
            .tasks
            .values()
            .filter(|t| t.ticket_id == *ticket_id)
            .cloned()
            .collect();
        tasks.sort_by_key(|t| t.sequence);
        Ok(tasks)
    }

    async fn transition_task(
        &self,
        id: &TaskId,
        from: TaskStatus,
        to: TaskStatus,
        fence: Option<FencingToken>,
    ) -> StoreResult<Task> {
        let mut s = self.lock();
        let task = s
            .tasks
            .get(id)
            .ok_or_else(|| StoreError::not_found("task", id.as_str()))?;
        s.task_fence(task, fence)?;
        if task.status != from {
            return Err(StoreError::Conflict {
                entity: "task",
                id: id.to_string(),
                current: task.status.to_string(),
                expected: from.to_string(),
            });
        }
        if !TaskStatus::can_transition(from, to) {
            return Err(StoreError::InvalidTransition {
                entity: "task",
                id: id.to_string(),
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        let now = foreman_domain::now();
        let task = s
            .tasks
            .get_mut(id)
            .ok_or_else(|| StoreError::not_found("task", id.as_str()))?;
        task.status = to;
        if to == TaskStatus::Implementing && task.started_at.is_none() {
            task.started_at = Some(now);
        }
        if to.is_terminal() {
            task.completed_at = Some(now);
        } else if from.is_terminal() {
            task.completed_at = None;
        }
        Ok(task.clone())
    }

    async fn update_task(
        &self,
        id: &TaskId,
        patch: TaskPatch,
        fence: Option<FencingToken>,
    ) -> StoreResult<Task> {
        let mut s = self.lock();
        let task = s
            .tasks
            .get(id)
            .ok_or_else(|| StoreError::not_found("task", id.as_str()))?;
        s.task_fence(task, fence)?;
        let task = s
            .tasks
            .get_mut(id)
            .ok_or_else(|| StoreError::not_found("task", id.as_str()))?;
        let TaskPatch {
            implementation_attempts,
            spec_review_attempts,
            quality_review_attempts,
            commit_sha,
            context,
            last_error,
            started_at,
        } = patch;
        if let Some(v) = implementation_attempts {
            task.implementation_attempts = v;
        }
        if let Some(v) = spec_review_attempts {
            task.spec_review_attempts = v;
        }
        if let Some(v) = quality_review_attempts {
            task.quality_review_attempts = v;
        }
        if let Some(v) = commit_sha {
            task.commit_sha = v;
        }
        if let Some(v) = context {
            task.context = Some(v);
        }
        if let Some(v) = last_error {
            task.last_error = v;
        }
        if let Some(v) = started_at {
            task.started_at = v.map(|d| foreman_domain::micros_to_time(d.timestamp_micros()));
        }
        Ok(task.clone())
    }
}

#[async_trait]
impl EventLog for MemoryStore {
    async fn append(&self, event: NewEvent) -> StoreResult<Event> {
        let mut out = self.append_batch(vec![event]).await?;
        out.pop()
            .ok_or_else(|| StoreError::Invalid("no event appended".into()))
    }

    async fn append_batch(&self, events: Vec<NewEvent>) -> StoreResult<Vec<Event>> {
        let mut s = self.lock();
        let now = foreman_domain::now();
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            s.last_seq += 1;
            let event = Event {
                id: EventId::new(),
                seq: s.last_seq,
                ticket_id: e.ticket_id,
                task_id: e.task_id,
                event_type: e.event_type,
                severity: e.severity,
                message: e.message,
                details: e.details,
                created_at: now,
            };
            s.events.push(event.clone());
            out.push(event);
        }
        Ok(out)
    }

    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<Event>> {
        let s = self.lock();
        let matches = |e: &&Event| {
            filter.ticket_id.is_none() || filter.ticket_id == e.ticket_id
        } && filter.after_seq.is_none_or(|a| e.seq > a)
            && (filter.types.is_empty() || filter.types.contains(&e.event_type));
        let skip = usize::try_from(filter.offset).unwrap_or(usize::MAX);
        let limit = cap(filter.limit);
        let out = if filter.newest_first {
            s.events
                .iter()
                .rev()
                .filter(matches)
                .skip(skip)
                .take(limit)
                .cloned()
                .collect()
        } else {
            s.events
                .iter()
                .filter(matches)
                .skip(skip)
                .take(limit)
                .cloned()
                .collect()
        };
        Ok(out)
    }

    async fn latest_seq(&self) -> StoreResult<i64> {
        Ok(self.lock().events.last().map_or(0, |e| e.seq))
    }
}

fn usage_key(call: &LlmCall, key: UsageKey) -> String {
    match key {
        UsageKey::Runner => call.runner.clone(),
        UsageKey::Provider => call.provider.clone(),
        UsageKey::Model => call.model.clone(),
        UsageKey::Role => call.role.clone(),
        UsageKey::Status => call.status.as_str().to_owned(),
    }
}

#[async_trait]
impl CostLedger for MemoryStore {
    async fn record_llm_call(&self, call: NewLlmCall) -> StoreResult<LlmCall> {
        self.lock().record_call(call)
    }

    async fn list_llm_calls(&self, ticket_id: &TicketId) -> StoreResult<Vec<LlmCall>> {
        Ok(self
            .lock()
            .calls
            .iter()
            .filter(|c| c.ticket_id.as_ref() == Some(ticket_id))
            .cloned()
            .collect())
    }

    async fn recent_llm_calls(&self, limit: u32) -> StoreResult<Vec<LlmCall>> {
        Ok(self
            .lock()
            .calls
            .iter()
            .rev()
            .take(cap(limit))
            .cloned()
            .collect())
    }

    async fn spend_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Micros> {
        Ok(self
            .lock()
            .recorded(|c| c.created_at >= from && c.created_at < to))
    }

    async fn daily_spend(&self, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<DailySpend>> {
        let days = daily_range(from, to)?;
        let s = self.lock();
        Ok(days
            .into_iter()
            .map(|date| DailySpend {
                date,
                cost: s.recorded(|c| c.created_at.date_naive() == date),
            })
            .collect())
    }

    async fn usage_since(
        &self,
        since: DateTime<Utc>,
        keys: &[UsageKey],
    ) -> StoreResult<Vec<UsageRow>> {
        let s = self.lock();
        let mut groups: BTreeMap<Vec<String>, UsageRow> = BTreeMap::new();
        for c in s.calls.iter().filter(|c| c.created_at >= since) {
            let k: Vec<String> = keys.iter().map(|&k| usage_key(c, k)).collect();
            let row = groups.entry(k.clone()).or_insert_with(|| UsageRow {
                keys: k,
                ..UsageRow::default()
            });
            row.calls += 1;
            row.tokens_in += c.tokens_input;
            row.tokens_out += c.tokens_output;
            row.cost += c.cost;
        }
        let mut rows: Vec<UsageRow> = groups.into_values().collect();
        rows.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.keys.cmp(&b.keys)));
        Ok(rows)
    }

    async fn reserve(&self, req: &ReservationRequest) -> StoreResult<Reservation> {
        if req.amount.0 < 0 {
            return Err(StoreError::Invalid(
                "reservation amount must not be negative".into(),
            ));
        }
        let mut s = self.lock();
        if let Some(t) = &req.ticket_id {
            s.ticket(t)?;
        }
        if let Some(t) = &req.task_id
            && !s.tasks.contains_key(t)
        {
            return Err(StoreError::not_found("task", t.as_str()));
        }
        let mut committed = Vec::with_capacity(4);
        if let Some(task) = &req.task_id {
            let spent = s.recorded(|c| c.task_id.as_ref() == Some(task))
                + s.held(|h| h.task_id.as_ref() == Some(task));
            committed.push((BudgetScope::Task, spent));
        }
        if let Some(ticket) = &req.ticket_id {
            let spent = s.recorded(|c| c.ticket_id.as_ref() == Some(ticket))
                + s.held(|h| h.ticket_id.as_ref() == Some(ticket));
            committed.push((BudgetScope::Ticket, spent));
        }
        for (scope, (start, end)) in [
            (BudgetScope::Daily, day_window(req.at)),
            (BudgetScope::Monthly, month_window(req.at)),
        ] {
            let spent = s.recorded(|c| c.created_at >= start && c.created_at < end)
                + s.held(|h| h.at >= start && h.at < end);
            committed.push((scope, spent));
        }
        req.limits.admit(&committed, req.amount)?;
        let id = ReservationId::new();
        s.reservations.insert(
            id.clone(),
            Held {
                ticket_id: req.ticket_id.clone(),
                task_id: req.task_id.clone(),
                amount: req.amount,
                at: req.at,
            },
        );
        Ok(Reservation {
            id,
            amount: req.amount,
            committed: committed
                .into_iter()
                .map(|(scope, m)| (scope, m + req.amount))
                .collect(),
        })
    }

    async fn settle(&self, id: &ReservationId, call: NewLlmCall) -> StoreResult<LlmCall> {
        let mut s = self.lock();
        if !s.reservations.contains_key(id) {
            return Err(StoreError::not_found("reservation", id.as_str()));
        }
        let recorded = s.record_call(call)?;
        s.reservations.remove(id);
        Ok(recorded)
    }

    async fn release(&self, id: &ReservationId) -> StoreResult<()> {
        self.lock().reservations.remove(id);
        Ok(())
    }
}

/// The days `from..=to`, refusing reversed or absurdly long ranges.
pub(crate) fn daily_range(from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<NaiveDate>> {
    if from > to {
        return Err(StoreError::Invalid(format!(
            "daily spend range starts {from} after it ends {to}"
        )));
    }
    if (to - from).num_days() > 3660 {
        return Err(StoreError::Invalid(
            "daily spend range is longer than ten years".into(),
        ));
    }
    Ok(from.iter_days().take_while(|d| *d <= to).collect())
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn create_token(&self, token: NewApiToken) -> StoreResult<ApiToken> {
        if token.token_hash.is_empty() {
            return Err(StoreError::Invalid("token hash must not be empty".into()));
        }
        let mut s = self.lock();
        if s.tokens.iter().any(|t| t.token_hash == token.token_hash) {
            return Err(StoreError::Duplicate {
                entity: "token",
                key: "this hash".into(),
            });
        }
        let stored = ApiToken {
            id: TokenId::new(),
            name: token.name,
            token_hash: token.token_hash,
            prefix: token.prefix,
            scopes: token.scopes,
            created_at: foreman_domain::now(),
            last_used_at: None,
            expires_at: token
                .expires_at
                .map(|d| foreman_domain::micros_to_time(d.timestamp_micros())),
            revoked_at: None,
        };
        s.tokens.push(stored.clone());
        Ok(stored)
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        let mut out = self.lock().tokens.clone();
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(out)
    }

    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        Ok(self
            .lock()
            .tokens
            .iter()
            .find(|t| t.token_hash == hash)
            .cloned())
    }

    async fn revoke_token(&self, id: &TokenId) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(t) = s.tokens.iter_mut().find(|t| t.id == *id) else {
            return Ok(false);
        };
        if t.revoked_at.is_none() {
            t.revoked_at = Some(foreman_domain::now());
        }
        Ok(true)
    }

    async fn touch_token(&self, id: &TokenId, at: DateTime<Utc>) -> StoreResult<()> {
        let mut s = self.lock();
        let t = s
            .tokens
            .iter_mut()
            .find(|t| t.id == *id)
            .ok_or_else(|| StoreError::not_found("token", id.as_str()))?;
        t.last_used_at = Some(foreman_domain::micros_to_time(at.timestamp_micros()));
        Ok(())
    }
}

#[async_trait]
impl SettingsStore for MemoryStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.lock().settings.get(key).cloned())
    }

    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        self.lock()
            .settings
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}

#[async_trait]
impl FileReservationStore for MemoryStore {
    async fn try_reserve(
        &self,
        project: &str,
        ticket: &TicketId,
        files: &BTreeSet<String>,
    ) -> StoreResult<FileReservationOutcome> {
        let paths = normalise_paths(files);
        let now = foreman_domain::now();
        let mut s = self.lock();
        let owner = s.ticket(ticket)?;
        if owner.project != project {
            return Err(StoreError::Invalid(format!(
                "ticket {ticket} belongs to project {}, not {project}",
                owner.project
            )));
        }
        for path in &paths {
            if let Some((holder, _)) = s.files.get(&(project.to_owned(), path.clone()))
                && holder != ticket
                && s.tickets.get(holder).is_some_and(|h| holder_blocks(h, now))
            {
                return Ok(FileReservationOutcome::Held {
                    path: path.clone(),
                    holder: holder.clone(),
                });
            }
        }
        for path in paths {
            let held = s
                .files
                .entry((project.to_owned(), path))
                .or_insert_with(|| (ticket.clone(), now));
            if held.0 != *ticket {
                *held = (ticket.clone(), now);
            }
        }
        Ok(FileReservationOutcome::Granted)
    }

    async fn release_files(&self, ticket: &TicketId) -> StoreResult<u64> {
        let mut s = self.lock();
        let before = s.files.len();
        s.files.retain(|_, (holder, _)| holder != ticket);
        Ok((before - s.files.len()) as u64)
    }

    async fn list_reservations(&self, project: Option<&str>) -> StoreResult<Vec<FileReservation>> {
        Ok(self
            .lock()
            .files
            .iter()
            .filter(|((p, _), _)| project.is_none_or(|want| want == p))
            .map(
                |((project, path), (ticket_id, created_at))| FileReservation {
                    project: project.clone(),
                    path: path.clone(),
                    ticket_id: ticket_id.clone(),
                    created_at: *created_at,
                },
            )
            .collect())
    }
}

/// Outbox entry states.
pub(crate) const OUTBOX_PENDING: &str = "pending";
pub(crate) const OUTBOX_DONE: &str = "done";
pub(crate) const OUTBOX_FAILED: &str = "failed";

#[async_trait]
impl Outbox for MemoryStore {
    async fn enqueue(
        &self,
        key: &str,
        ticket_id: Option<&TicketId>,
        kind: &str,
        payload: serde_json::Value,
    ) -> StoreResult<OutboxEntry> {
        if key.is_empty() {
            return Err(StoreError::Invalid("outbox key must not be empty".into()));
        }
        let mut s = self.lock();
        if let Some(existing) = s.outbox.get(key) {
            return Ok(existing.clone());
        }
        let now = foreman_domain::now();
        let entry = OutboxEntry {
            key: key.to_owned(),
            ticket_id: ticket_id.cloned(),
            kind: kind.to_owned(),
            payload,
            state: OUTBOX_PENDING.to_owned(),
            result: None,
            attempts: 0,
            created_at: now,
            updated_at: now,
        };
        s.outbox.insert(key.to_owned(), entry.clone());
        Ok(entry)
    }

    async fn get_outbox(&self, key: &str) -> StoreResult<Option<OutboxEntry>> {
        Ok(self.lock().outbox.get(key).cloned())
    }

    async fn pending_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        let s = self.lock();
        let mut out: Vec<OutboxEntry> = s
            .outbox
            .values()
            .filter(|e| e.state == OUTBOX_PENDING)
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.key.cmp(&b.key))
        });
        out.truncate(cap(limit));
        Ok(out)
    }

    async fn complete_outbox(&self, key: &str, result: serde_json::Value) -> StoreResult<()> {
        let mut s = self.lock();
        let e = s
            .outbox
            .get_mut(key)
            .ok_or_else(|| StoreError::not_found("outbox entry", key))?;
        e.state = OUTBOX_DONE.to_owned();
        e.result = Some(result);
        e.attempts += 1;
        e.updated_at = foreman_domain::now();
        Ok(())
    }

    async fn fail_outbox(&self, key: &str, error: &str, give_up: bool) -> StoreResult<()> {
        let mut s = self.lock();
        let e = s
            .outbox
            .get_mut(key)
            .ok_or_else(|| StoreError::not_found("outbox entry", key))?;
        if e.state != OUTBOX_PENDING {
            return Err(StoreError::Conflict {
                entity: "outbox entry",
                id: key.to_owned(),
                current: e.state.clone(),
                expected: OUTBOX_PENDING.to_owned(),
            });
        }
        e.attempts += 1;
        e.result = Some(serde_json::json!({ "error": error }));
        if give_up {
            e.state = OUTBOX_FAILED.to_owned();
        }
        e.updated_at = foreman_domain::now();
        Ok(())
    }
}
