//! The daemon: claims tickets through leases, runs them on the engine, renews leases, follows
//! pull requests to merge, watches clarifications and decompositions, polls trackers, honours
//! pause and drains on shutdown.
//!
//! This file holds the daemon's handles and its scheduling loop (`Daemon::run`: claims, the
//! budget and pause checks, the drain). The rest are methods of `Daemon` in its child modules,
//! which import this file and none of each other: `worker` (one claimed ticket's run, with its
//! lease renewal), `pull_requests` (following a ticket's pull request to merge) and
//! `housekeeping` (the periodic round: tracker write retries, decompositions, clarifications,
//! tracker polls).

mod housekeeping;
mod pull_requests;
mod worker;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use foreman_domain::budget_window::{day_window, month_window};
use foreman_domain::storage::daemon_state;
use foreman_domain::webhook::PullRequestWatch;
use foreman_domain::{
    BudgetScope, Claim, ClaimRequest, DaemonState, EventType, Micros, NewEvent, StoreError,
    TicketFilter, TicketId, TicketStatus,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;

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
}

#[cfg(test)]
mod tests {
    use foreman_domain::{Event, EventId, Severity};
    use serde_json::json;

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
