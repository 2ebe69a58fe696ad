//! The daemon's housekeeping round, on its own cadence beside the scheduling loop: due tracker
//! writes retried from the outbox, pull requests followed, decomposed tickets completed once
//! all their children merged, clarifications answered (or timed out), and trackers polled for
//! new tickets.

use std::time::Instant;

use chrono::SubsecRound;
use foreman_domain::{EventType, NewEvent, TicketFilter, TicketStatus};

use super::Daemon;

impl Daemon {
    /// Follows pull requests, decompositions and clarifications, retries due tracker writes
    /// from the outbox, and polls trackers.
    pub(super) async fn housekeeping(&self) -> Result<(), crate::PipelineError> {
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
                let ports = self.engine.ports();
                if crate::clarification::apply_answers(
                    store.as_ref(),
                    ports.events.as_ref(),
                    &t,
                    &answers,
                )
                .await?
                {
                    // through the outbox, once per clarification round (the time it was asked)
                    let occasion = format!("clarified{}", t.updated_at.timestamp_micros());
                    let effect = crate::outbox::TrackerEffect::RemoveLabel {
                        label: label.clone(),
                    };
                    if let Err(e) =
                        crate::outbox::write_to_tracker(ports, project, &t, &occasion, effect).await
                    {
                        tracing::warn!(ticket = %t.id, error = %e, "cannot record the label removal");
                    }
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
