//! Tracker write-backs through the outbox: one entry per external side effect (each comment,
//! the pull request link, each status update, each label change), each under its own
//! idempotency key, performed at most once at a time and retried with backoff until done.
//!
//! How a stage tells the tracker something:
//!
//! ```ignore
//! use crate::outbox::{TrackerEffect, write_to_tracker};
//! write_to_tracker(engine.ports(), &project, &ticket, "claim", TrackerEffect::Status {
//!     status: TrackerStatus::InProgress,
//! })
//! .await?; // Err only when the store fails; a tracker failure is never returned
//! ```
//!
//! The key is `tracker:<ticket id>:<occasion>:<effect>` ([`tracker_key`]): the *occasion* names
//! why the write happens (`pr1` for the pull request #1 being opened, `merged`, `claim`,
//! `failed`, …) and must be the same every time the stage runs again for the same reason
//! (after a crash, a lost lease), and different when the reason recurs (a retried ticket that
//! fails again should use e.g. the number of its attempt). The first write under a key wins;
//! later ones find it done (or pending, and leave it to the drain).
//!
//! What happens to an entry: the writer claims it ([`foreman_domain::Outbox::claim_outbox`]:
//! one attempt, held for [`OutboxRetry::hold`]) and performs it; success completes it; a failure is kept with the next
//! attempt time ([`OutboxRetry::backoff`]: capped exponential with jitter) and reported as a
//! `tracker_update_failed` event, and the caller goes on as if it had succeeded — a tracker
//! write-back never fails a ticket. [`drain`], called by the daemon's housekeeping, retries
//! every due entry; after [`OutboxRetry::max_attempts`] attempts, or at once for an error that
//! cannot heal (refused, misconfigured), the entry is given up (`failed`, with a last event).
//! A writer that dies between its claim and its answer leaves the entry held until the hold
//! ends; then the drain takes it. For a comment, an attempt after the first looks for the same
//! text on the tracker before posting, so a crash after the tracker accepted it but before the
//! outbox recorded it does not post it twice.
//!
//! This file holds the writers (`write_to_tracker`, `write_status`, `write_with`) and the
//! drain. What an entry is (its effect, key, payload, retry policy and outcome) is defined in
//! `entry` and re-exported here; making one entry's write (the claim, the ticket's turn, the
//! tracker call, the answer recorded) is `perform`, which uses `entry` only.

mod entry;
mod perform;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use foreman_domain::tracker::{Tracker, TrackerStatus};
use foreman_domain::{EventLog, Store, StoreError, Ticket, TicketId};
use serde_json::Value;

pub use self::entry::{
    OutboxRetry, TRACKER_KIND, TrackerEffect, TrackerWrite, WriteOutcome, heals, tracker_key,
};
use self::perform::{perform, stale_status, status_lock};
use crate::settings::{Ports, ProjectRuntime};

/// Enqueues `effect` for `ticket` under `occasion` ([`tracker_key`]) and performs it now with
/// the project's tracker. A tracker failure is recorded for a retry and reported, never
/// returned.
///
/// # Errors
/// Only the store's.
pub async fn write_to_tracker(
    ports: &Ports,
    project: &ProjectRuntime,
    ticket: &Ticket,
    occasion: &str,
    effect: TrackerEffect,
) -> Result<WriteOutcome, StoreError> {
    write_with(
        ports.store.as_ref(),
        ports.events.as_ref(),
        project.tracker.as_ref(),
        &project.name,
        ticket,
        occasion,
        effect,
    )
    .await
}

/// Tells the tracker a new status of `ticket` through the outbox, newest last: under the
/// ticket's turn (a lock per ticket in this process, so an older status whose call is in
/// flight lands first), every pending status update of the ticket other than this one is
/// completed as superseded (never performed, so a late retry cannot move the tracker back),
/// then this one is written ([`write_with`]).
///
/// `done` is last whatever comes after it: a status other than done, asked for once the ticket
/// has merged (a stage that reported late), supersedes nothing and is itself skipped, and a
/// pending done is never superseded, so it is still made when its retry comes.
///
/// # Errors
/// Only the store's.
pub async fn write_status(
    store: &dyn Store,
    events: &dyn EventLog,
    tracker: &dyn Tracker,
    project: &str,
    ticket: &Ticket,
    occasion: &str,
    status: TrackerStatus,
) -> Result<WriteOutcome, StoreError> {
    let effect = TrackerEffect::Status { status };
    let key = tracker_key(&ticket.id, occasion, &effect);
    {
        let _turn = status_lock(&ticket.id).await;
        if !stale_status(store, Some(&ticket.id), &effect).await? {
            supersede_status_updates(store, &ticket.id, &key).await?;
        }
    }
    write_with(store, events, tracker, project, ticket, occasion, effect).await
}

/// The status a pending outbox payload sets, if it is a status update.
fn status_of(payload: &Value) -> Option<TrackerStatus> {
    match serde_json::from_value::<TrackerWrite>(payload.clone())
        .ok()?
        .effect
    {
        TrackerEffect::Status { status } => Some(status),
        _ => None,
    }
}

/// Completes `ticket`'s pending tracker status updates other than `key` and done as
/// superseded.
async fn supersede_status_updates(
    store: &dyn Store,
    ticket: &TicketId,
    key: &str,
) -> Result<(), StoreError> {
    for entry in store.pending_outbox(1000).await?.iter().filter(|e| {
        e.ticket_id.as_ref() == Some(ticket)
            && e.kind == TRACKER_KIND
            && e.key != key
            && status_of(&e.payload).is_some_and(|s| s != TrackerStatus::Done)
    }) {
        store
            .complete_outbox(&entry.key, serde_json::json!({ "superseded_by": key }))
            .await?;
    }
    Ok(())
}

/// [`write_to_tracker`] over the ports themselves: `tracker` is the project's (`project`).
///
/// # Errors
/// Only the store's.
pub async fn write_with(
    store: &dyn Store,
    events: &dyn EventLog,
    tracker: &dyn Tracker,
    project: &str,
    ticket: &Ticket,
    occasion: &str,
    effect: TrackerEffect,
) -> Result<WriteOutcome, StoreError> {
    let key = tracker_key(&ticket.id, occasion, &effect);
    let write = TrackerWrite {
        project: project.to_owned(),
        external_id: ticket.external_id.clone(),
        effect,
    };
    let payload = serde_json::to_value(&write).unwrap_or(Value::Null);
    let entry = store
        .enqueue(&key, Some(&ticket.id), TRACKER_KIND, payload)
        .await?;
    match entry.state.as_str() {
        "done" => Ok(WriteOutcome::Done),
        "failed" => Ok(WriteOutcome::GaveUp),
        _ => perform(store, events, tracker, &key, foreman_domain::now()).await,
    }
}

/// Retries every due tracker write (up to 100 a round), each with its project's tracker.
/// Returns how many were attempted.
///
/// # Errors
/// Only the store's.
pub async fn drain(ports: &Ports) -> Result<usize, StoreError> {
    drain_with(
        ports.store.as_ref(),
        ports.events.as_ref(),
        foreman_domain::now(),
        |project| ports.projects.get(project).map(|p| Arc::clone(&p.tracker)),
    )
    .await
}

/// [`drain`] over the ports themselves, as if the clock said `now` (tests pass a later time
/// instead of waiting out a backoff); `trackers` names each project's tracker.
///
/// # Errors
/// Only the store's.
pub async fn drain_with(
    store: &dyn Store,
    events: &dyn EventLog,
    now: DateTime<Utc>,
    trackers: impl Fn(&str) -> Option<Arc<dyn Tracker>>,
) -> Result<usize, StoreError> {
    let due = store.due_outbox(now, 100).await?;
    let mut attempted = 0;
    for entry in due.iter().filter(|e| e.kind == TRACKER_KIND) {
        let project = entry
            .payload
            .get("project")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(tracker) = trackers(project) else {
            tracing::warn!(key = %entry.key, project, "tracker write names no configured project; giving up");
            store
                .fail_outbox(&entry.key, "no such project", None)
                .await?;
            continue;
        };
        if perform(store, events, tracker.as_ref(), &entry.key, now).await?
            != WriteOutcome::Elsewhere
        {
            attempted += 1;
        }
    }
    Ok(attempted)
}
