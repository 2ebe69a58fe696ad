//! Following a ticket's pull request to merge: reading it from the host (every housekeeping
//! round, and at once on a webhook's hint), merging it with `auto_merge`, moving the ticket to
//! `merged` or `pr_closed`, and reporting new commits on it (`pr_updated`).

use std::collections::{BTreeSet, HashMap};

use foreman_domain::git::{ChecksStatus, MergeMethod, PrState};
use foreman_domain::tracker::TrackerStatus;
use foreman_domain::{
    EventFilter, EventType, NewEvent, StoreError, TicketFilter, TicketId, TicketStatus,
};
use serde_json::json;

use super::Daemon;
use crate::engine::last_event_type;

impl Daemon {
    /// Reads the hinted tickets' pull requests as hints arrive (bursts coalesced).
    pub(super) fn spawn_hint_follower(&self) -> Option<tokio::task::JoinHandle<()>> {
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

    pub(super) async fn track_pull_requests(&self) -> Result<(), crate::PipelineError> {
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
    pub(super) async fn track_pull_request(
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
                self.engine.post_merge_hook(t).await;
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
}
