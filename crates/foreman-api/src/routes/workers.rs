//! The daemon's execution slots and the queue in numbers: `GET /api/workers` and
//! `GET /api/stats`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Days, NaiveDate, Utc};
use foreman_domain::search::finished_at;
use foreman_domain::ticket_submission::{RECENT_DURATIONS, estimate_start};
use foreman_domain::{
    EventFilter, EventType, SlotSnapshot, TaskStatus, Ticket, TicketId, TicketStatus,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ReadAuth;
use crate::dto::{Budgets, usd};
use crate::error::ApiResult;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(queue_stats))
        .routes(routes!(workers))
}

/// The execution slots in numbers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SlotCounts {
    /// Slots (`[daemon] max_parallel_tickets`; 0 when the daemon does not run here).
    total: usize,
    /// Slots running a ticket.
    busy: usize,
    /// Slots free for the next ticket.
    available: usize,
}

/// The queue and its throughput.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueStats {
    /// Every ticket.
    total: i64,
    /// Tickets per status (statuses without tickets omitted).
    by_status: BTreeMap<String, i64>,
    /// Tickets waiting to be claimed.
    queue_length: i64,
    /// Execution slots.
    slots: SlotCounts,
    /// Whether the slots are the running daemon's own (`false`: the configured number, with
    /// busy slots counted from tickets under a live lease).
    live_slots: bool,
    /// Finished tickets the durations are taken from (the last 50 that started).
    duration_sample: usize,
    /// Mean start-to-finish time of those tickets, in seconds; `null` before any.
    mean_duration_secs: Option<f64>,
    /// 90th percentile (nearest rank) of the same, in seconds.
    p90_duration_secs: Option<f64>,
    /// How long a ticket submitted now waits before it starts, in seconds: 0 while a slot is
    /// free, else one mean duration per round of slots ahead of it; `null` when there is
    /// nothing to estimate from (no finished ticket, or no slot).
    estimated_wait_secs: Option<f64>,
    /// Spend so far today (UTC), in USD.
    cost_today_usd: f64,
    /// The configured budget limits.
    budgets: Budgets,
}

/// One execution slot.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkerDto {
    /// `<worker id>/slot-<n>`.
    name: String,
    /// Whether it runs a ticket.
    busy: bool,
    /// The ticket it runs.
    ticket_id: Option<String>,
    /// That ticket's tracker id.
    external_id: Option<String>,
    /// That ticket's title.
    title: Option<String>,
    /// The task being worked on (the first in a working status), if any.
    task_id: Option<String>,
    /// That task's place in the plan.
    task_sequence: Option<i32>,
    /// Where the work stands: the task's status while a task is worked on, else the ticket's.
    stage: Option<String>,
    /// The ticket's status.
    ticket_status: Option<String>,
    /// The worktree the work happens in (the latest one created for the ticket).
    worktree_path: Option<String>,
    /// The ticket's branch.
    branch: Option<String>,
    /// When the slot took the ticket.
    started_at: Option<DateTime<Utc>>,
    /// Tickets the slot has finished running since the daemon started.
    completed: u64,
}

/// Every execution slot.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Workers {
    /// Whether the daemon runs here (without it there are no slots).
    running: bool,
    /// The slots, in order.
    workers: Vec<WorkerDto>,
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// Start-to-finish durations of `tickets` that started, in seconds.
fn durations(tickets: &[Ticket]) -> Vec<f64> {
    tickets
        .iter()
        .filter_map(|t| {
            let started = t.started_at?;
            let ms = (finished_at(t) - started).num_milliseconds().max(0);
            #[allow(clippy::cast_precision_loss, reason = "durations far below 2^52 ms")]
            Some(ms as f64 / 1000.0)
        })
        .collect()
}

/// The mean and the nearest-rank 90th percentile of `values`.
fn mean_and_p90(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss, reason = "at most 50 values")]
    let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
    let rank = (sorted.len() * 9).div_ceil(10).max(1);
    (Some(mean), sorted.get(rank - 1).copied())
}

/// Slot counts from the daemon's own slots, else from the configuration and the tickets under
/// a live lease.
fn slot_counts(slots: Option<&[SlotSnapshot]>, configured: usize, running: usize) -> SlotCounts {
    let (total, busy) = match slots {
        Some(s) => (s.len(), s.iter().filter(|s| s.busy()).count()),
        None => (configured, running.min(configured)),
    };
    SlotCounts {
        total,
        busy,
        available: total.saturating_sub(busy),
    }
}

/// Counts by status, queue length, execution slots, recent durations, the estimated wait of a
/// new ticket, today's spend and the budget limits.
#[utoipa::path(get, path = "/api/stats", tag = "stats",
    responses((status = 200, description = "the queue in numbers", body = QueueStats)))]
pub(crate) async fn queue_stats(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<QueueStats>> {
    let store = state.store();
    let counts = store.count_tickets_by_status(None).await?;
    let by_status: BTreeMap<String, i64> =
        counts.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    let total = counts.iter().map(|(_, n)| n).sum();
    let queue_length = counts
        .iter()
        .find(|(s, _)| *s == TicketStatus::Queued)
        .map_or(0, |(_, n)| *n);
    let recent = store
        .finished_tickets(u32::try_from(RECENT_DURATIONS).unwrap_or(50), None)
        .await?;
    let spans = durations(&recent.items);
    let (mean, p90) = mean_and_p90(&spans);
    let live = state.worker_slots().map(|w| w.snapshot());
    let running = if live.is_some() {
        0
    } else {
        store.queue_snapshot().await?.running
    };
    let slots = slot_counts(live.as_deref(), state.config().execution_slots, running);
    let now = foreman_domain::now();
    let position = usize::try_from(queue_length)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    let estimated_wait_secs = estimate_start(
        position,
        slots.total,
        slots.busy,
        mean.map(std::time::Duration::from_secs_f64),
        now,
    )
    .map(|at| {
        #[allow(clippy::cast_precision_loss, reason = "waits far below 2^52 ms")]
        let secs = (at - now).num_milliseconds().max(0) as f64 / 1000.0;
        secs
    });
    let today = now.date_naive();
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap_or(today);
    let spent = store
        .spend_between(midnight(today), midnight(tomorrow))
        .await?;
    let b = state.config().budgets;
    Ok(Json(QueueStats {
        total,
        by_status,
        queue_length,
        slots,
        live_slots: live.is_some(),
        duration_sample: spans.len(),
        mean_duration_secs: mean,
        p90_duration_secs: p90,
        estimated_wait_secs,
        cost_today_usd: usd(spent),
        budgets: Budgets {
            max_daily_usd: b.daily.map(usd),
            max_monthly_usd: b.monthly.map(usd),
            max_ticket_usd: b.ticket.map(usd),
            max_task_usd: b.task.map(usd),
            alert_threshold_pct: b.alert_threshold_pct,
        },
    }))
}

/// A slot as the API shows it: the slot, and what its ticket is doing now.
async fn worker(state: &AppState, slot: SlotSnapshot) -> ApiResult<WorkerDto> {
    let mut w = WorkerDto {
        name: slot.name,
        busy: slot.ticket_id.is_some(),
        ticket_id: slot.ticket_id.as_ref().map(ToString::to_string),
        external_id: None,
        title: None,
        task_id: None,
        task_sequence: None,
        stage: None,
        ticket_status: None,
        worktree_path: None,
        branch: None,
        started_at: slot.started_at,
        completed: slot.completed,
    };
    let Some(id) = slot.ticket_id else {
        return Ok(w);
    };
    let store = state.store();
    let Some(ticket) = store.get_ticket(&id).await? else {
        return Ok(w);
    };
    let task = store.list_tasks(&id).await?.into_iter().find(|t| {
        matches!(
            t.status,
            TaskStatus::Implementing
                | TaskStatus::Verifying
                | TaskStatus::SpecReview
                | TaskStatus::QualityReview
        )
    });
    w.stage = Some(
        task.as_ref()
            .map_or_else(|| ticket.status.to_string(), |t| t.status.to_string()),
    );
    w.task_id = task.as_ref().map(|t| t.id.to_string());
    w.task_sequence = task.as_ref().map(|t| t.sequence);
    w.worktree_path = worktree_of(state, &id).await?;
    w.ticket_status = Some(ticket.status.to_string());
    w.branch = Some(ticket.branch_name).filter(|b| !b.is_empty());
    w.external_id = Some(ticket.external_id);
    w.title = Some(ticket.title);
    Ok(w)
}

/// The path of the latest worktree created for the ticket.
async fn worktree_of(state: &AppState, id: &TicketId) -> ApiResult<Option<String>> {
    let events = state
        .store()
        .list_events(&EventFilter {
            ticket_id: Some(id.clone()),
            types: vec![EventType::WorktreeCreated],
            limit: 1,
            newest_first: true,
            ..EventFilter::default()
        })
        .await?;
    Ok(events.into_iter().find_map(|e| {
        e.details?
            .get("path")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    }))
}

/// Every execution slot of the daemon running beside this API: busy or free, the ticket, task
/// and stage it works on, the worktree and branch, when it took the ticket and how many it has
/// finished. Without a daemon, `running` is `false` and there are no slots.
#[utoipa::path(get, path = "/api/workers", tag = "stats",
    responses((status = 200, description = "the execution slots", body = Workers)))]
pub(crate) async fn workers(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Workers>> {
    let Some(slots) = state.worker_slots() else {
        return Ok(Json(Workers {
            running: false,
            workers: Vec::new(),
        }));
    };
    let mut workers = Vec::new();
    for slot in slots.snapshot() {
        workers.push(worker(&state, slot).await?);
    }
    Ok(Json(Workers {
        running: true,
        workers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_p90_use_the_nearest_rank() {
        assert_eq!(mean_and_p90(&[]), (None, None));
        assert_eq!(mean_and_p90(&[4.0]), (Some(4.0), Some(4.0)));
        let v: Vec<f64> = (1..=10).map(f64::from).rev().collect();
        assert_eq!(mean_and_p90(&v), (Some(5.5), Some(9.0)));
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(mean_and_p90(&v).1, Some(18.0));
    }

    #[test]
    fn live_slots_win_over_the_configured_number() {
        let slot = |busy: bool| SlotSnapshot {
            name: "n/slot-1".into(),
            ticket_id: busy.then(TicketId::new),
            started_at: None,
            completed: 0,
        };
        let c = slot_counts(Some(&[slot(true), slot(false), slot(true)]), 8, 0);
        assert_eq!((c.total, c.busy, c.available), (3, 2, 1));
        let c = slot_counts(None, 4, 6);
        assert_eq!((c.total, c.busy, c.available), (4, 4, 0));
    }
}
