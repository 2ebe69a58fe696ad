//! One claimed ticket's run (`Daemon::work`): the claim or resume event, the engine's run of the
//! ticket, a lease renewer beside it that also stops the work at once when the ticket is
//! cancelled or its lease lost, then a look at a pull request the run opened and the lease
//! released.

use std::sync::atomic::Ordering;

use foreman_domain::{Claim, EventType, NewEvent, StoreError, TicketStatus};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Daemon;
use crate::engine::last_event_type;

impl Daemon {
    pub(super) async fn work(self, claim: Claim, cancel: CancellationToken) {
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
}
