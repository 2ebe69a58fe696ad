//! Making one entry's write: the entry is claimed (one attempt, held for a while), a status
//! update waits for its ticket's turn (`status_lock`) and is dropped when the ticket has
//! finished since (`stale_status`), the tracker is called (`apply`: a comment or link an earlier
//! attempt may have posted is looked for first), and the answer is recorded — done, or failed
//! with the next attempt's time or given up, reported as a `tracker_update_failed` event.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};

use foreman_domain::tracker::{Tracker, TrackerError, TrackerStatus};
use foreman_domain::{EventLog, EventType, NewEvent, Store, StoreError, TicketId};
use serde_json::{Value, json};

use super::entry::{OutboxRetry, TrackerEffect, TrackerWrite, WriteOutcome, heals};

/// Claims the entry, performs it, records the answer.
pub(super) async fn perform(
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
pub(super) async fn status_lock(ticket: &TicketId) -> tokio::sync::OwnedMutexGuard<()> {
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
pub(super) async fn stale_status(
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
