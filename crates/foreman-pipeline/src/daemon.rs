//! The daemon: claims tickets through leases, runs them on the engine, renews leases, follows
//! pull requests to merge, watches clarifications and decompositions, polls trackers, honours
//! pause and drains on shutdown.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use chrono::SubsecRound;
use foreman_domain::budget_window::{day_window, month_window};
use foreman_domain::git::{ChecksStatus, MergeMethod, PrState};
use foreman_domain::storage::daemon_state;
use foreman_domain::tracker::TrackerStatus;
use foreman_domain::webhook::PullRequestWatch;
use foreman_domain::{
    BudgetScope, Claim, ClaimRequest, DaemonState, EventFilter, EventType, Micros, NewEvent,
    StoreError, TicketFilter, TicketId, TicketPatch, TicketStatus,
};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, last_event_type};

/// Statuses the daemon claims: new tickets and the working ones (whose leases are free or
/// expired, e.g. after a crash or a pause).
pub const CLAIMABLE: &[TicketStatus] = &[
    TicketStatus::Queued,
    TicketStatus::Planning,
    TicketStatus::PlanValidating,
    TicketStatus::Implementing,
    TicketStatus::Reviewing,
    TicketStatus::PrCreated,
    TicketStatus::Decomposing,
];

/// How many pull request hints wait for the daemon before further ones are dropped (the next
/// housekeeping round reads every open pull request anyway).
const HINT_CAPACITY: usize = 1024;

/// The running daemon.
#[derive(Debug, Clone)]
pub struct Daemon {
    engine: Engine,
    paused: Arc<AtomicBool>,
    claims: Arc<AtomicU64>,
    last_intake: Arc<std::sync::Mutex<BTreeMap<String, Instant>>>,
    hints: PullRequestHints,
    hint_rx: Arc<std::sync::Mutex<Option<mpsc::Receiver<TicketId>>>>,
    // the last head commit seen per open pull request, to report pushes (`pr_updated`)
    heads: Arc<std::sync::Mutex<HashMap<TicketId, String>>>,
    wake: DaemonWaker,
    gate: WorkGate,
    slots: crate::slots::SlotBoard,
}

/// Wakes the daemon's scheduling loop at once (a ticket was created, retried or re-queued, or
/// the daemon was resumed) instead of at its next `poll_interval`. Wakes while the loop is busy
/// are kept as one pending wake.
#[derive(Debug, Clone, Default)]
pub struct DaemonWaker(Arc<tokio::sync::Notify>);

impl DaemonWaker {
    /// Makes the loop look for work now.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    async fn woken(&self) {
        self.0.notified().await;
    }
}

/// Drain and slot use of a running daemon, shared with whoever reports on it or drains it.
/// While draining, the daemon claims nothing new; tickets already running go on.
#[derive(Debug, Clone, Default)]
pub struct WorkGate(Arc<GateState>);

#[derive(Debug, Default)]
struct GateState {
    draining: AtomicBool,
    busy: std::sync::atomic::AtomicUsize,
    slots: std::sync::atomic::AtomicUsize,
}

impl WorkGate {
    /// Starts (`true`) or ends a drain.
    pub fn set_draining(&self, on: bool) {
        self.0.draining.store(on, Ordering::Relaxed);
    }

    /// Whether the daemon is drained.
    #[must_use]
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    /// Tickets running and slots, as the scheduling loop last saw them.
    #[must_use]
    pub fn slots(&self) -> (usize, usize) {
        (
            self.0.busy.load(Ordering::Relaxed),
            self.0.slots.load(Ordering::Relaxed),
        )
    }

    fn observe(&self, busy: usize, slots: usize) {
        self.0.busy.store(busy, Ordering::Relaxed);
        self.0.slots.store(slots, Ordering::Relaxed);
    }
}

/// Whether `event` may have made a ticket claimable, so the daemon should look for work now:
/// a new or re-queued ticket, a retry, a resume. A worker's own moves between working statuses
/// (its ticket stays leased) do not.
#[must_use]
pub fn wakes_daemon(event: &foreman_domain::Event) -> bool {
    match event.event_type {
        EventType::TicketCreated
        | EventType::ChildTicketCreated
        | EventType::TicketRetried
        | EventType::TaskRetried
        | EventType::DaemonResumed => true,
        EventType::TicketStatusChanged => {
            event
                .details
                .as_ref()
                .and_then(|d| d.get("to"))
                .and_then(serde_json::Value::as_str)
                .and_then(|to| to.parse::<TicketStatus>().ok())
                == Some(TicketStatus::Queued)
        }
        _ => false,
    }
}

/// The daemon's [`PullRequestWatch`]: git host webhooks about a ticket's pull request make the
/// daemon read that pull request at once instead of at its next housekeeping round.
#[derive(Debug, Clone)]
pub struct PullRequestHints {
    tx: mpsc::Sender<TicketId>,
}

impl PullRequestWatch for PullRequestHints {
    fn pull_request_changed(&self, ticket: &TicketId) {
        if self.tx.try_send(ticket.clone()).is_err() {
            tracing::debug!(ticket = %ticket, "pull request hint dropped; the next poll reads it");
        }
    }
}

impl Daemon {
    /// A daemon over an engine.
    #[must_use]
    pub fn new(engine: Engine) -> Self {
        let (tx, rx) = mpsc::channel(HINT_CAPACITY);
        let slots = crate::slots::SlotBoard::new(
            &engine.settings().worker_id,
            engine.settings().max_parallel_tickets,
        );
        Self {
            engine,
            paused: Arc::new(AtomicBool::new(false)),
            claims: Arc::new(AtomicU64::new(0)),
            last_intake: Arc::default(),
            hints: PullRequestHints { tx },
            hint_rx: Arc::new(std::sync::Mutex::new(Some(rx))),
            heads: Arc::default(),
            wake: DaemonWaker::default(),
            gate: WorkGate::default(),
            slots,
        }
    }

    /// The daemon's execution slots as the API shows them (`/api/workers`, `/api/stats`).
    #[must_use]
    pub fn worker_slots(&self) -> Arc<dyn foreman_domain::WorkerSlots> {
        Arc::new(self.slots.clone())
    }

    /// The daemon's drain switch and slot use.
    #[must_use]
    pub fn work_gate(&self) -> WorkGate {
        self.gate.clone()
    }

    /// The handle that makes the running daemon look for work at once; the server calls it for
    /// every published event that [`wakes_daemon`] accepts, so a new ticket is claimed within
    /// moments while an idle daemon only polls every `poll_interval`.
    #[must_use]
    pub fn waker(&self) -> DaemonWaker {
        self.wake.clone()
    }

    /// The watch to hand the webhook receivers: each hint makes the running daemon read the
    /// ticket's pull request from the host (merging it with `auto_merge`, moving the ticket on
    /// a merge or close, reporting a new head) within moments.
    #[must_use]
    pub fn pull_request_watch(&self) -> Arc<dyn PullRequestWatch> {
        Arc::new(self.hints.clone())
    }

    /// Reads the hinted tickets' pull requests as hints arrive (bursts coalesced).
    fn spawn_hint_follower(&self) -> Option<tokio::task::JoinHandle<()>> {
        let mut rx = self
            .hint_rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()?;
        let me = self.clone();
        Some(tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut ids = BTreeSet::from([first]);
                while let Ok(more) = rx.try_recv() {
                    ids.insert(more);
                }
                for id in ids {
                    let t = match me.engine.ports().store.get_ticket(&id).await {
                        Ok(Some(t)) => t,
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!(ticket = %id, error = %e, "cannot read hinted ticket");
                            continue;
                        }
                    };
                    if matches!(
                        t.status,
                        TicketStatus::AwaitingMerge | TicketStatus::Partial
                    ) && let Err(e) = me.track_pull_request(&t).await
                    {
                        tracing::warn!(ticket = %t.id, error = %e, "cannot follow the pull request");
                    }
                }
            }
        }))
    }

    /// Runs until `shutdown` fires, then drains: running tickets finish their current task
    /// (up to the grace period), their leases are released, and the function returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let settings = self.engine.settings().clone();
        self.engine
            .emit(NewEvent::new(EventType::DaemonStarted, "daemon started"))
            .await;
        if let Err(e) = self.recover_own_leases().await {
            tracing::warn!(error = %e, "cannot recover leases of a previous run");
        }
        let mut workers: JoinSet<()> = JoinSet::new();
        let worker_cancel = CancellationToken::new();
        let follower = self.spawn_hint_follower();
        // Pull requests, decompositions, clarifications and tracker polls on their own cadence,
        // so their cost (one host call per open pull request) never delays claiming.
        let housekeeper = {
            let me = self.clone();
            let stop = shutdown.clone();
            let every = settings.housekeeping_interval;
            tokio::spawn(async move {
                loop {
                    if let Err(e) = me.housekeeping().await {
                        tracing::warn!(error = %e, "daemon housekeeping failed");
                    }
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(every) => {}
                    }
                }
            })
        };
        loop {
            self.refresh_pause().await;
            if !self.paused.load(Ordering::Relaxed)
                && !self.gate.is_draining()
                && !self.intake_blocked_by_budget().await
            {
                while workers.len() < settings.max_parallel_tickets {
                    match self.claim().await {
                        Ok(Some(claim)) => {
                            let me = self.clone();
                            let cancel = worker_cancel.child_token();
                            let slot = self.slots.take(&claim.ticket.id);
                            workers.spawn(async move {
                                let _slot = slot;
                                me.work(claim, cancel).await;
                            });
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "claim failed");
                            break;
                        }
                    }
                }
            }
            self.gate
                .observe(workers.len(), settings.max_parallel_tickets);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(settings.poll_interval) => {}
                () = self.wake.woken() => {}
                Some(_) = workers.join_next(), if !workers.is_empty() => {}
            }
        }
        housekeeper.abort();
        if let Some(follower) = follower {
            follower.abort();
        }
        self.engine
            .emit(NewEvent::new(EventType::DaemonStopping, "daemon draining"))
            .await;
        // Drain: no new tasks start; running ones get the grace period.
        self.paused.store(true, Ordering::Relaxed);
        let drained = tokio::time::timeout(settings.shutdown_grace, async {
            while workers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            worker_cancel.cancel();
            while workers.join_next().await.is_some() {}
        }
        tracing::info!("daemon stopped");
    }

    /// Leases this node held when it last stopped without releasing them (a crash or a kill)
    /// are released at start-up, so its tickets resume at once instead of after the lease
    /// expires. Leases of other nodes are left alone. The node id is stable across restarts
    /// and unique per node, so this never takes a live lease.
    async fn recover_own_leases(&self) -> Result<usize, StoreError> {
        let store = &self.engine.ports().store;
        let prefix = format!("{}/", self.engine.settings().worker_id);
        let held = store
            .list_tickets(&TicketFilter {
                statuses: CLAIMABLE.to_vec(),
                limit: 1000,
                ..TicketFilter::default()
            })
            .await?
            .items;
        let mut released = 0;
        for t in held {
            let Some(owner) = t.lease_owner.as_deref() else {
                continue;
            };
            if !owner.starts_with(&prefix) {
                continue;
            }
            match store.release_lease(&t.id, owner, t.fencing_token).await {
                Ok(()) => released += 1,
                Err(StoreError::LeaseNotHeld { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if released > 0 {
            tracing::info!(released, "released leases left by this node's previous run");
        }
        Ok(released)
    }

    async fn refresh_pause(&self) {
        let state = daemon_state(self.engine.ports().store.as_ref())
            .await
            .unwrap_or(DaemonState::Running);
        self.paused
            .store(state == DaemonState::Paused, Ordering::Relaxed);
    }

    /// Daily and monthly budgets pause intake until the period rolls over.
    async fn intake_blocked_by_budget(&self) -> bool {
        let store = &self.engine.ports().store;
        let now = foreman_domain::now();
        let limits = &self.engine.settings().budgets;
        for (scope, limit, window) in [
            (BudgetScope::Daily, limits.daily, day_window(now)),
            (BudgetScope::Monthly, limits.monthly, month_window(now)),
        ] {
            let Some(limit) = limit else { continue };
            let spent = store
                .spend_between(window.start, window.end)
                .await
                .unwrap_or(Micros::ZERO);
            if spent >= limit {
                tracing::info!(%scope, %spent, %limit, "budget exhausted; not claiming new tickets");
                return true;
            }
        }
        false
    }

    async fn claim(&self) -> Result<Option<Claim>, StoreError> {
        let n = self.claims.fetch_add(1, Ordering::Relaxed);
        let req = ClaimRequest {
            worker_id: format!("{}/{n}", self.engine.settings().worker_id),
            lease: self.engine.settings().lease,
            statuses: CLAIMABLE.to_vec(),
            project: None,
        };
        self.engine.ports().store.claim_next(&req).await
    }

    async fn work(self, claim: Claim, cancel: CancellationToken) {
        /// How often a running ticket is looked at for a cancel between lease renewals.
        const CANCEL_POLL: std::time::Duration = std::time::Duration::from_millis(250);
        let store = self.engine.ports().store.clone();
        let ticket = claim.ticket.clone();
        let worker = claim.ticket.lease_owner.clone().unwrap_or_default();
        metrics::gauge!("foreman_tickets_active").increment(1.0);
        let resumed = ticket.status.is_active();
        if resumed {
            let after_pause =
                last_event_type(&self.engine, &ticket.id).await == Some(EventType::DaemonPaused);
            let (event, message) = if after_pause {
                (EventType::PipelineStarted, "pipeline resumed after a pause")
            } else {
                (
                    EventType::PipelineResumedAfterCrash,
                    "pipeline resumed from its last completed step",
                )
            };
            self.engine
                .emit(
                    NewEvent::new(event, message)
                        .ticket(&ticket.id)
                        .details(json!({"status": ticket.status})),
                )
                .await;
        } else {
            self.engine
                .emit(
                    NewEvent::new(EventType::TicketClaimed, format!("claimed by {worker}"))
                        .ticket(&ticket.id),
                )
                .await;
        }
        // Renew the lease at a third of its length; losing it cancels the work. Between
        // renewals the ticket is looked at every `CANCEL_POLL`: a ticket cancelled through the
        // API (or whose lease went to another worker) has lost the lease already, and its
        // current model call and command are stopped at once rather than at the next renewal.
        let renew_every = self.engine.settings().lease / 3;
        let renewer = {
            let store = store.clone();
            let cancel = cancel.clone();
            let id = ticket.id.clone();
            let worker = worker.clone();
            let fence = claim.fencing_token;
            let lease = self.engine.settings().lease;
            let engine = self.engine.clone();
            tokio::spawn(async move {
                let mut renewed = tokio::time::Instant::now();
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(CANCEL_POLL.min(renew_every)) => {}
                    }
                    match store.get_ticket(&id).await {
                        Ok(Some(t))
                            if t.fencing_token == fence
                                && t.lease_owner.as_deref() == Some(worker.as_str()) => {}
                        Ok(t) => {
                            let cancelled = t.as_ref().is_some_and(|t| {
                                t.last_error_type.as_deref()
                                    == Some(foreman_domain::fence::CANCELLED)
                            });
                            let message = if cancelled {
                                "ticket cancelled; its work stops here"
                            } else {
                                "lease lost; stopping work on this ticket"
                            };
                            tracing::info!(ticket = %id, cancelled, "{message}");
                            engine
                                .emit(
                                    NewEvent::new(EventType::LeaseLost, message)
                                        .ticket(&id)
                                        .details(json!({
                                            "reason": if cancelled { "cancelled" } else { "lease_lost" }
                                        })),
                                )
                                .await;
                            cancel.cancel();
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(ticket = %id, error = %e, "cannot look at the ticket");
                        }
                    }
                    if renewed.elapsed() < renew_every {
                        continue;
                    }
                    renewed = tokio::time::Instant::now();
                    if let Err(e) = store.renew_lease(&id, &worker, fence, lease).await {
                        tracing::warn!(ticket = %id, error = %e, "lease lost");
                        engine
                            .emit(
                                NewEvent::new(
                                    EventType::LeaseLost,
                                    "lease lost; stopping work on this ticket",
                                )
                                .ticket(&id),
                            )
                            .await;
                        cancel.cancel();
                        return;
                    }
                }
            })
        };
        let paused = self.paused.clone();
        let is_paused = move || paused.load(Ordering::Relaxed);
        let result = self
            .engine
            .run_ticket(&claim, cancel.clone(), &is_paused)
            .await;
        if let Err(e) = &result {
            if matches!(e, crate::PipelineError::Stopped(_)) {
                self.engine
                    .emit(
                        NewEvent::new(
                            EventType::DaemonPaused,
                            "ticket released while the daemon is paused",
                        )
                        .ticket(&ticket.id),
                    )
                    .await;
            } else {
                tracing::info!(ticket = %ticket.id, error = %e, "ticket interrupted");
            }
        }
        renewer.abort();
        // A pull request opened by this run is looked at (and auto-merged) at once rather than
        // at the next housekeeping round.
        if !cancel.is_cancelled()
            && let Ok(Some(t)) = store.get_ticket(&ticket.id).await
            && t.status == TicketStatus::AwaitingMerge
            && let Err(e) = self.track_pull_request(&t).await
        {
            tracing::warn!(ticket = %t.id, error = %e, "cannot follow the new pull request");
        }
        if !cancel.is_cancelled() {
            match store
                .release_lease(&ticket.id, &worker, claim.fencing_token)
                .await
            {
                Ok(()) | Err(StoreError::LeaseNotHeld { .. }) => {}
                Err(e) => tracing::warn!(ticket = %ticket.id, error = %e, "cannot release lease"),
            }
        }
        metrics::gauge!("foreman_tickets_active").decrement(1.0);
    }

    /// Follows pull requests, decompositions and clarifications, retries due tracker writes
    /// from the outbox, and polls trackers.
    async fn housekeeping(&self) -> Result<(), crate::PipelineError> {
        if let Err(e) = crate::outbox::drain(self.engine.ports()).await {
            tracing::warn!(error = %e, "cannot retry tracker writes");
        }
        self.track_pull_requests().await?;
        self.track_decompositions().await?;
        if self.engine.settings().enable_clarification {
            self.track_clarifications().await?;
        }
        self.poll_trackers().await;
        Ok(())
    }

    async fn track_pull_requests(&self) -> Result<(), crate::PipelineError> {
        let store = &self.engine.ports().store;
        let filter = TicketFilter {
            statuses: vec![TicketStatus::AwaitingMerge, TicketStatus::Partial],
            limit: 500,
            ..TicketFilter::default()
        };
        for t in store.list_tickets(&filter).await?.items {
            self.track_pull_request(&t).await?;
        }
        Ok(())
    }

    /// Reads one ticket's pull request, merges it when `auto_merge` allows, and moves the
    /// ticket to `merged` or `pr_closed` when the host says so.
    async fn track_pull_request(
        &self,
        t: &foreman_domain::Ticket,
    ) -> Result<(), crate::PipelineError> {
        let store = &self.engine.ports().store;
        {
            let (Some(number), Some(project)) =
                (t.pr_number, self.engine.ports().projects.get(&t.project))
            else {
                return Ok(());
            };
            let mut pr = match project.host.get_pr(number).await {
                Ok(pr) => pr,
                Err(e) => {
                    tracing::warn!(ticket = %t.id, error = %e, "cannot read pull request");
                    return Ok(());
                }
            };
            // auto_merge: complete (not partial), non-draft pull requests whose checks have not
            // failed or are still running are merged by the host.
            if pr.state == PrState::Open
                && project.auto_merge
                && t.status == TicketStatus::AwaitingMerge
                && !pr.draft
                && matches!(pr.checks, ChecksStatus::None | ChecksStatus::Success)
            {
                match project.host.merge_pr(number, MergeMethod::Merge).await {
                    Ok(merged) => pr = merged,
                    Err(e) => {
                        tracing::warn!(ticket = %t.id, error = %e, "auto-merge failed");
                        let repeated = last_event_type(&self.engine, &t.id).await
                            == Some(EventType::PrMergeFailed);
                        if !repeated {
                            self.engine
                                .emit(
                                    NewEvent::new(
                                        EventType::PrMergeFailed,
                                        format!("auto-merge of #{number} failed: {e}"),
                                    )
                                    .ticket(&t.id)
                                    .details(json!({"error": e.code()})),
                                )
                                .await;
                        }
                    }
                }
            }
            let (to, event) = match pr.state {
                PrState::Open => {
                    self.note_head(t, &pr).await;
                    return Ok(());
                }
                PrState::Merged => (TicketStatus::Merged, EventType::PrMerged),
                PrState::Closed => (TicketStatus::PrClosed, EventType::PrClosed),
            };
            match store.transition_ticket(&t.id, t.status, to, None).await {
                Ok(_) => {}
                Err(StoreError::Conflict { .. }) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            metrics::counter!("foreman_tickets_total", "status" => to.as_str()).increment(1);
            // after the status change: it decides which of two concurrent trackers (the worker
            // that opened the pull request, housekeeping, another node) reports the merge
            self.engine
                .emit(
                    NewEvent::new(event, format!("pull request #{number} {}", pr.state))
                        .ticket(&t.id)
                        .details(json!({"url": pr.url})),
                )
                .await;
            self.engine
                .emit(
                    NewEvent::new(
                        EventType::TicketStatusChanged,
                        format!("{} → {to}", t.status),
                    )
                    .ticket(&t.id)
                    .details(json!({"from": t.status, "to": to})),
                )
                .await;
            if to == TicketStatus::Merged {
                // through the outbox: retried with backoff when the tracker fails, and never
                // overtaken by an earlier status still waiting for its retry
                self.engine.tell_tracker(t, TrackerStatus::Done).await;
                self.engine
                    .emit(NewEvent::new(EventType::PipelineCompleted, "merged").ticket(&t.id))
                    .await;
            }
            self.engine.remove_worktrees(t).await;
            self.heads().remove(&t.id);
        }
        Ok(())
    }

    /// The last head commit seen per open pull request.
    fn heads(&self) -> std::sync::MutexGuard<'_, HashMap<TicketId, String>> {
        self.heads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reports a pull request whose head moved since it was last seen (`pr_updated` with the
    /// old and new commit). The first look after a start-up takes the last head from the
    /// ticket's events, so a push while the server was down is reported too.
    async fn note_head(&self, t: &foreman_domain::Ticket, pr: &foreman_domain::git::PullRequest) {
        if pr.head_sha.is_empty() {
            return;
        }
        let known = self.heads().get(&t.id).cloned();
        let previous = match known {
            Some(sha) => Some(sha),
            None => self.last_recorded_head(&t.id).await,
        };
        self.heads().insert(t.id.clone(), pr.head_sha.clone());
        if let Some(previous) = previous
            && previous != pr.head_sha
        {
            self.engine
                .emit(
                    NewEvent::new(
                        EventType::PrUpdated,
                        format!("pull request #{} has new commits", pr.number),
                    )
                    .ticket(&t.id)
                    .details(json!({
                        "number": pr.number,
                        "url": pr.url,
                        "head_sha": pr.head_sha,
                        "previous_head_sha": previous,
                    })),
                )
                .await;
        }
    }

    /// The newest head commit the ticket's pull request events recorded.
    async fn last_recorded_head(&self, ticket: &TicketId) -> Option<String> {
        let filter = EventFilter {
            ticket_id: Some(ticket.clone()),
            types: vec![
                EventType::PrCreated,
                EventType::PartialPrCreated,
                EventType::PrUpdated,
            ],
            limit: 20,
            newest_first: true,
            ..EventFilter::default()
        };
        let events = self.engine.ports().events.list_events(&filter).await.ok()?;
        events.into_iter().find_map(|e| {
            e.details
                .as_ref()?
                .get("head_sha")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
    }

    async fn track_decompositions(&self) -> Result<(), crate::PipelineError> {
        let store = &self.engine.ports().store;
        let parents = store
            .list_tickets(&TicketFilter {
                statuses: vec![TicketStatus::Decomposed],
                limit: 200,
                ..TicketFilter::default()
            })
            .await?
            .items;
        for parent in parents {
            let children = store
                .list_tickets(&TicketFilter {
                    parent_id: Some(parent.id.clone()),
                    limit: 500,
                    ..TicketFilter::default()
                })
                .await?
                .items;
            if !children.is_empty()
                && children
                    .iter()
                    .all(|c| matches!(c.status, TicketStatus::Merged | TicketStatus::Done))
                && store
                    .transition_ticket(&parent.id, parent.status, TicketStatus::Done, None)
                    .await
                    .is_ok()
            {
                metrics::counter!("foreman_tickets_total", "status" => "done").increment(1);
                self.engine
                    .emit(
                        NewEvent::new(EventType::TicketCompleted, "all child tickets are merged")
                            .ticket(&parent.id),
                    )
                    .await;
            }
        }
        Ok(())
    }

    async fn track_clarifications(&self) -> Result<(), crate::PipelineError> {
        let store = &self.engine.ports().store;
        let waiting = store
            .list_tickets(&TicketFilter {
                statuses: vec![TicketStatus::ClarificationNeeded],
                limit: 200,
                ..TicketFilter::default()
            })
            .await?
            .items;
        let label = &self.engine.settings().clarification_label;
        for t in waiting {
            let Some(project) = self.engine.ports().projects.get(&t.project) else {
                continue;
            };
            let Ok(remote) = project.tracker.get_ticket(&t.external_id).await else {
                continue;
            };
            // Trackers keep whole seconds: a reply in the same second as the question counts.
            let asked_at = t.updated_at.trunc_subsecs(0);
            let answers: Vec<String> = remote
                .comments
                .iter()
                .filter(|c| {
                    c.created_at.is_some_and(|at| at >= asked_at)
                        && !c.body.starts_with("Foreman needs answers")
                })
                .map(|c| c.body.clone())
                .collect();
            let label_removed = !remote.labels.iter().any(|l| l == label);
            if !answers.is_empty() || label_removed {
                let mut description = t.description.clone();
                if !answers.is_empty() {
                    description.push_str("\n\n## Answers to the clarification\n");
                    for a in &answers {
                        description.push_str(&format!("\n{a}\n"));
                    }
                }
                let mut labels = t.labels.clone();
                labels.push("foreman-clarified".into());
                store
                    .update_ticket(
                        &t.id,
                        TicketPatch {
                            description: Some(description),
                            labels: Some(labels),
                            ..TicketPatch::default()
                        },
                        None,
                    )
                    .await?;
                if store
                    .transition_ticket(&t.id, t.status, TicketStatus::Queued, None)
                    .await
                    .is_ok()
                {
                    // through the outbox, once per clarification round (the time it was asked)
                    let occasion = format!("clarified{}", t.updated_at.timestamp_micros());
                    let effect = crate::outbox::TrackerEffect::RemoveLabel {
                        label: label.clone(),
                    };
                    if let Err(e) = crate::outbox::write_to_tracker(
                        self.engine.ports(),
                        project,
                        &t,
                        &occasion,
                        effect,
                    )
                    .await
                    {
                        tracing::warn!(ticket = %t.id, error = %e, "cannot record the label removal");
                    }
                    self.engine
                        .emit(
                            NewEvent::new(
                                EventType::ClarificationReceived,
                                "answers received; re-queued",
                            )
                            .ticket(&t.id),
                        )
                        .await;
                }
            } else if foreman_domain::now() - asked_at
                > chrono::Duration::from_std(self.engine.settings().clarification_timeout)
                    .unwrap_or(chrono::TimeDelta::MAX)
                && store
                    .transition_ticket(&t.id, t.status, TicketStatus::Blocked, None)
                    .await
                    .is_ok()
            {
                metrics::counter!("foreman_tickets_total", "status" => "blocked").increment(1);
                self.engine
                    .emit(
                        NewEvent::new(
                            EventType::ClarificationTimeout,
                            "no answer to the clarification in time",
                        )
                        .ticket(&t.id),
                    )
                    .await;
            }
        }
        Ok(())
    }

    async fn poll_trackers(&self) {
        for project in self.engine.ports().projects.values() {
            let Some(every) = project.poll_interval else {
                continue;
            };
            {
                let mut last = self
                    .last_intake
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if last
                    .get(&project.name)
                    .is_some_and(|at| at.elapsed() < every)
                {
                    continue;
                }
                last.insert(project.name.clone(), Instant::now());
            }
            if let Err(e) = crate::intake::intake(&self.engine, project).await {
                tracing::warn!(project = %project.name, error = %e, "tracker poll failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use foreman_domain::{Event, EventId, Severity};

    use super::*;

    fn event(event_type: EventType, details: Option<serde_json::Value>) -> Event {
        Event {
            id: EventId::new(),
            seq: 1,
            ticket_id: Some(TicketId::new()),
            task_id: None,
            event_type,
            severity: Severity::Info,
            message: String::new(),
            details,
            created_at: foreman_domain::now(),
        }
    }

    #[test]
    fn new_and_requeued_work_wakes_the_daemon_and_its_own_steps_do_not() {
        for ty in [
            EventType::TicketCreated,
            EventType::ChildTicketCreated,
            EventType::TicketRetried,
            EventType::TaskRetried,
            EventType::DaemonResumed,
        ] {
            assert!(wakes_daemon(&event(ty, None)), "{ty}");
        }
        let moved = |to: &str| {
            event(
                EventType::TicketStatusChanged,
                Some(json!({"from": "clarification_needed", "to": to})),
            )
        };
        assert!(wakes_daemon(&moved("queued")));
        assert!(!wakes_daemon(&moved("planning")));
        assert!(!wakes_daemon(&moved("awaiting_merge")));
        assert!(!wakes_daemon(&event(EventType::TicketStatusChanged, None)));
        for ty in [
            EventType::TicketClaimed,
            EventType::AgentTurn,
            EventType::PrCreated,
        ] {
            assert!(!wakes_daemon(&event(ty, None)), "{ty}");
        }
    }
}
