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

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use foreman_domain::tracker::{Tracker, TrackerError, TrackerStatus};
use foreman_domain::{EventLog, EventType, NewEvent, Store, StoreError, Ticket, TicketId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::settings::{Ports, ProjectRuntime};

/// The outbox `kind` of tracker write-backs.
pub const TRACKER_KIND: &str = "tracker";

/// One write to a tracker ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum TrackerEffect {
    /// Posts a comment.
    Comment {
        /// Its text.
        body: String,
    },
    /// Links the pull request.
    AttachPr {
        /// Its URL.
        url: String,
        /// Its title.
        title: String,
    },
    /// Moves the ticket to a status.
    Status {
        /// The status.
        status: TrackerStatus,
    },
    /// Adds a label.
    AddLabel {
        /// The label.
        label: String,
    },
    /// Removes a label.
    RemoveLabel {
        /// The label.
        label: String,
    },
}

impl TrackerEffect {
    /// The effect's part of the idempotency key: `comment`, `attach_pr`, `status:<status>`,
    /// `label+:<label>`, `label-:<label>`.
    #[must_use]
    pub fn key_part(&self) -> String {
        match self {
            Self::Comment { .. } => "comment".to_owned(),
            Self::AttachPr { .. } => "attach_pr".to_owned(),
            Self::Status { status } => format!("status:{status}"),
            Self::AddLabel { label } => format!("label+:{label}"),
            Self::RemoveLabel { label } => format!("label-:{label}"),
        }
    }
}

/// The idempotency key of `effect` on `ticket` for `occasion`.
#[must_use]
pub fn tracker_key(ticket: &TicketId, occasion: &str, effect: &TrackerEffect) -> String {
    format!("tracker:{ticket}:{occasion}:{}", effect.key_part())
}

/// An entry's payload: which tracker ticket, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerWrite {
    /// The project (whose tracker to use).
    pub project: String,
    /// The tracker's id of the ticket.
    pub external_id: String,
    /// What to do.
    pub effect: TrackerEffect,
}

/// How tracker writes are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxRetry {
    /// The wait after the first failure; it doubles with each further one.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
    /// How long a claim keeps others off an entry: longer than any one tracker call takes.
    pub hold: Duration,
}

impl Default for OutboxRetry {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max: Duration::from_secs(600),
            max_attempts: 10,
            hold: Duration::from_secs(120),
        }
    }
}

impl OutboxRetry {
    /// The wait after `attempts` failed attempts: `base · 2^(attempts-1)`, capped at `max`, less
    /// up to a quarter of it by a jitter drawn from `key` and `attempts` (so entries that failed
    /// together do not come back together, and the same entry's waits are reproducible).
    #[must_use]
    pub fn backoff(&self, key: &str, attempts: i32) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let full = self.base.saturating_mul(1 << exp).min(self.max);
        // FNV-1a over the key and the attempt: a cheap, stable spread in [0, 1).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes().chain(attempts.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let frac = (h % 1000) as f64 / 1000.0;
        full.mul_f64(1.0 - frac / 4.0)
    }
}

/// Whether a tracker error may heal by itself (an outage, a rate limit, a timeout, storage).
#[must_use]
pub fn heals(e: &TrackerError) -> bool {
    match e {
        TrackerError::Remote(r) => r.is_transient(),
        TrackerError::Store(_) => true,
        _ => false,
    }
}

/// What became of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Done now, or found done before.
    Done,
    /// Failed; it waits in the outbox for its next attempt.
    Retrying,
    /// Failed for good (refused, or out of attempts).
    GaveUp,
    /// Someone else holds it, or it is not due yet: left to them, or to the drain.
    Elsewhere,
}

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

/// Claims the entry, performs it, records the answer.
async fn perform(
    store: &dyn Store,
    events: &dyn EventLog,
    tracker: &dyn Tracker,
    key: &str,
    now: DateTime<Utc>,
) -> Result<WriteOutcome, StoreError> {
    let retry = OutboxRetry::default();
    let hold = chrono::Duration::from_std(retry.hold).unwrap_or(chrono::TimeDelta::MAX);
    let Some(entry) = store.claim_outbox(key, now, now + hold).await? else {
        return Ok(WriteOutcome::Elsewhere);
    };
    let write: TrackerWrite = match serde_json::from_value(entry.payload.clone()) {
        Ok(w) => w,
        Err(e) => {
            store
                .fail_outbox(key, &format!("unreadable payload: {e}"), None)
                .await?;
            return Ok(WriteOutcome::GaveUp);
        }
    };
    // Status updates of one ticket are made one at a time, newest last: a write in flight is
    // finished before a newer status supersedes it ([`status_lock`]), and one superseded while
    // it waited for the lock is not made at all.
    let _turn = match (&write.effect, entry.ticket_id.as_ref()) {
        (TrackerEffect::Status { .. }, Some(ticket)) => {
            let turn = status_lock(ticket).await;
            if store
                .get_outbox(key)
                .await?
                .is_none_or(|e| e.state != "pending")
            {
                return Ok(WriteOutcome::Elsewhere);
            }
            Some(turn)
        }
        _ => None,
    };
    if stale_status(store, entry.ticket_id.as_ref(), &write.effect).await? {
        // the ticket merged while this earlier status waited for its retry: writing it now
        // would label (or move back) a finished issue
        store
            .complete_outbox(key, json!({"superseded": "the ticket has finished"}))
            .await?;
        return Ok(WriteOutcome::Done);
    }
    let started = std::time::Instant::now();
    match apply(tracker, &write, entry.attempts > 1).await {
        Ok(result) => {
            store.complete_outbox(key, result).await?;
            tracing::info!(
                key,
                attempt = entry.attempts,
                took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "tracker write made"
            );
            if matches!(write.effect, TrackerEffect::Comment { .. }) {
                let mut event = NewEvent::new(
                    EventType::TrackerCommentPosted,
                    "comment posted to the tracker",
                )
                .details(json!({"key": key}));
                event.ticket_id.clone_from(&entry.ticket_id);
                emit(events, event).await;
            }
            Ok(WriteOutcome::Done)
        }
        Err(e) => {
            let out_of_attempts =
                u32::try_from(entry.attempts).unwrap_or(u32::MAX) >= retry.max_attempts;
            let give_up = out_of_attempts || !heals(&e);
            let retry_at = (!give_up).then(|| {
                now + chrono::Duration::from_std(retry.backoff(key, entry.attempts))
                    .unwrap_or(chrono::TimeDelta::MAX)
            });
            store.fail_outbox(key, &e.to_string(), retry_at).await?;
            tracing::warn!(key, attempt = entry.attempts, code = e.code(), error = %e, give_up, "tracker write failed");
            let message = if give_up {
                format!("tracker write {} given up: {e}", write.effect.key_part())
            } else {
                format!(
                    "tracker write {} failed, will retry: {e}",
                    write.effect.key_part()
                )
            };
            let mut event = NewEvent::new(EventType::TrackerUpdateFailed, message).details(json!({
                            "key": key,
                            "effect": write.effect.key_part(),
                            "error": e.code(),
                            "attempt": entry.attempts,
                            "retry_at": retry_at,
                "gave_up": give_up,
            }));
            event.ticket_id.clone_from(&entry.ticket_id);
            emit(events, event).await;
            Ok(if give_up {
                WriteOutcome::GaveUp
            } else {
                WriteOutcome::Retrying
            })
        }
    }
}

/// The turn of one ticket's tracker status updates in this process: held while one is made
/// (its last check and its call), and while a newer status supersedes the pending ones, so an
/// older status whose call is in flight lands before the newer one, never after it.
///
/// Per process: nodes sharing a database each hold their own (see `docs/status.md`).
async fn status_lock(ticket: &TicketId) -> tokio::sync::OwnedMutexGuard<()> {
    type Turns = std::sync::Mutex<HashMap<TicketId, Arc<tokio::sync::Mutex<()>>>>;
    static TURNS: LazyLock<Turns> = LazyLock::new(Turns::default);
    let lock = {
        let mut turns = TURNS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // tickets nobody is writing for any more are forgotten
        turns.retain(|_, l| Arc::strong_count(l) > 1);
        Arc::clone(turns.entry(ticket.clone()).or_default())
    };
    lock.lock_owned().await
}

async fn emit(events: &dyn EventLog, event: NewEvent) {
    if let Err(e) = events.append(event).await {
        tracing::warn!(error = %e, "cannot append event");
    }
}

/// Performs one write. `again`: an earlier attempt may have reached the tracker, so a comment
/// is looked for before it is posted.
async fn apply(
    tracker: &dyn Tracker,
    write: &TrackerWrite,
    again: bool,
) -> Result<Value, TrackerError> {
    let id = write.external_id.as_str();
    match &write.effect {
        TrackerEffect::Comment { body } => {
            if again
                && let Some(c) = tracker
                    .get_ticket(id)
                    .await?
                    .comments
                    .into_iter()
                    .find(|c| c.body == *body)
            {
                return Ok(json!({"comment_id": c.id, "found": true}));
            }
            let c = tracker.add_comment(id, body).await?;
            Ok(json!({"comment_id": c.id}))
        }
        TrackerEffect::AttachPr { url, title } => {
            // Where the link is a comment (GitHub's `[title](url)`), an attempt whose answer
            // was lost may have posted it: found, it is not posted again. (Links proper are
            // set idempotently.)
            let link = format!("]({url})");
            if again
                && let Some(c) = tracker
                    .get_ticket(id)
                    .await?
                    .comments
                    .into_iter()
                    .find(|c| c.body.contains(&link))
            {
                return Ok(json!({"attached": url, "comment_id": c.id, "found": true}));
            }
            tracker.attach_pr(id, url, title).await?;
            Ok(json!({"attached": url}))
        }
        TrackerEffect::Status { status } => {
            tracker.update_status(id, *status).await?;
            Ok(json!({"status": status}))
        }
        TrackerEffect::AddLabel { label } => {
            tracker.add_label(id, label).await?;
            Ok(json!({"added": label}))
        }
        TrackerEffect::RemoveLabel { label } => {
            tracker.remove_label(id, label).await?;
            Ok(json!({"removed": label}))
        }
    }
}

/// Whether `effect` is a status other than done for a ticket that has already finished
/// (merged or done): a late write of an earlier status, never to be made.
async fn stale_status(
    store: &dyn Store,
    ticket: Option<&TicketId>,
    effect: &TrackerEffect,
) -> Result<bool, StoreError> {
    let (Some(ticket), TrackerEffect::Status { status }) = (ticket, effect) else {
        return Ok(false);
    };
    if *status == TrackerStatus::Done {
        return Ok(false);
    }
    Ok(store.get_ticket(ticket).await?.is_some_and(|t| {
        matches!(
            t.status,
            foreman_domain::TicketStatus::Merged | foreman_domain::TicketStatus::Done
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_ticket_occasion_and_effect() {
        let t = TicketId::from("01".to_owned());
        let status = TrackerEffect::Status {
            status: TrackerStatus::InReview,
        };
        assert_eq!(
            tracker_key(&t, "pr3", &status),
            "tracker:01:pr3:status:in_review"
        );
        let label = TrackerEffect::RemoveLabel {
            label: "needs-info".into(),
        };
        assert_eq!(
            tracker_key(&t, "x", &label),
            "tracker:01:x:label-:needs-info"
        );
    }

    #[test]
    fn payloads_round_trip() {
        let w = TrackerWrite {
            project: "default".into(),
            external_id: "LOCAL-1".into(),
            effect: TrackerEffect::AttachPr {
                url: "https://example.invalid/pr/1".into(),
                title: "t".into(),
            },
        };
        let v = serde_json::to_value(&w).unwrap();
        assert_eq!(v["effect"]["effect"], "attach_pr");
        assert_eq!(serde_json::from_value::<TrackerWrite>(v).unwrap(), w);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_at_most_a_quarter_off() {
        let r = OutboxRetry::default();
        let mut last_full = Duration::ZERO;
        for attempts in 1..=15 {
            let d = r.backoff("tracker:k", attempts);
            let full = r
                .base
                .saturating_mul(1 << (attempts - 1).min(20))
                .min(r.max);
            assert!(
                d <= full && d >= full.mul_f64(0.75),
                "{attempts}: {d:?} of {full:?}"
            );
            assert!(full >= last_full);
            last_full = full;
            assert_eq!(d, r.backoff("tracker:k", attempts), "reproducible");
        }
        assert_eq!(last_full, r.max);
    }
}
