//! What every stage shares: the [`Engine`] (its ports and settings, events), [`Step`], the
//! name of a ticket's own worktree, and text helpers.

use std::sync::Arc;

use foreman_domain::tracker::TrackerStatus;
use foreman_domain::{EventFilter, EventType, NewEvent, Ticket, TicketId};
use serde_json::Value;

use crate::settings::{PipelineSettings, Ports};

/// The name of a ticket's own worktree (planning, integration, and the work of a ticket's
/// only task).
pub(crate) const TICKET_WORKTREE: &str = "ticket";

/// The outcome of one stage of work on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Go on with the next stage.
    Continue,
    /// Stop working on the ticket for now (waiting on people, merge, or a pause); release it.
    Release,
}

/// Runs tickets through their stages.
#[derive(Clone)]
pub struct Engine {
    pub(crate) ports: Ports,
    pub(crate) settings: Arc<PipelineSettings>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over these ports.
    #[must_use]
    pub fn new(ports: Ports, settings: PipelineSettings) -> Self {
        Self {
            ports,
            settings: Arc::new(settings),
        }
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &PipelineSettings {
        &self.settings
    }

    /// The ports.
    #[must_use]
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    pub(crate) async fn emit(&self, event: NewEvent) {
        if let Err(e) = self.ports.events.append(event).await {
            tracing::warn!(error = %e, "cannot append event");
        }
    }

    /// Appends `event` unless its ticket already has the same one: same type, same task, same
    /// pull request (`details.url`; a retried ticket's new pull request is another event). For
    /// the events that mark a step done, written just before the status change that ends the
    /// step: a run that dies in between passes the step's end a second time.
    pub(crate) async fn emit_once(&self, event: NewEvent) {
        let url = |details: &Option<Value>| details.as_ref().and_then(|d| d.get("url")).cloned();
        if let Some(ticket) = &event.ticket_id {
            let filter = EventFilter {
                ticket_id: Some(ticket.clone()),
                types: vec![event.event_type],
                limit: foreman_domain::MAX_PAGE_LIMIT,
                ..EventFilter::default()
            };
            match self.ports.events.list_events(&filter).await {
                Ok(found)
                    if found.iter().any(|e| {
                        e.task_id == event.task_id && url(&e.details) == url(&event.details)
                    }) =>
                {
                    return;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read events; appending"),
            }
        }
        self.emit(event).await;
    }

    /// Tells the ticket's tracker its new status through the outbox
    /// ([`crate::outbox::write_status`]): an entry of its own whose occasion is the run
    /// (`run<started_at>`, so a retried ticket reports again and a resumed one does not;
    /// `merged` for done), tried at once and retried by the outbox drain. An earlier status
    /// update of the ticket still waiting for its retry is superseded first (completed with
    /// `superseded_by`, never performed), so a late retry cannot move the tracker back. Never
    /// fails: a tracker that cannot be told does not fail the ticket.
    pub(crate) async fn tell_tracker(&self, t: &Ticket, status: TrackerStatus) {
        let Some(project) = self.ports.projects.get(&t.project) else {
            return;
        };
        let occasion = match status {
            TrackerStatus::Done => "merged".to_owned(),
            _ => format!("run{}", t.started_at.map_or(0, |at| at.timestamp_millis())),
        };
        if let Err(e) = crate::outbox::write_status(
            self.ports.store.as_ref(),
            self.ports.events.as_ref(),
            project.tracker.as_ref(),
            &project.name,
            t,
            &occasion,
            status,
        )
        .await
        {
            tracing::warn!(ticket = %t.id, %status, error = %e, "cannot record a tracker status update");
        }
    }

    /// Removes every worktree of `t` (`worktree_removed` for each), keeping its branches: once
    /// its pull request is open, and once it is merged or closed.
    pub(crate) async fn remove_worktrees(&self, t: &Ticket) {
        let Some(project) = self.ports.projects.get(&t.project) else {
            return;
        };
        let worktrees = match project.repo.ticket_worktrees(&t.id).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(ticket = %t.id, error = %e, "cannot list the ticket's worktrees");
                return;
            }
        };
        for wt in worktrees {
            match project.repo.remove_worktree(&wt, false).await {
                Ok(()) => {
                    self.emit(
                        NewEvent::new(EventType::WorktreeRemoved, format!("removed {}", wt.branch))
                            .ticket(&t.id),
                    )
                    .await;
                }
                Err(e) => tracing::warn!(ticket = %t.id, error = %e, "cannot remove a worktree"),
            }
        }
    }
}

/// The last `max` bytes of `s`, cut at a character boundary. For text bound for a model: the
/// egress scanner redacts (and counts) its secrets where it leaves.
pub(crate) fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &s[start..])
}

/// [`tail`] of `s` with its secrets redacted first, for text that is stored and served by the
/// API rather than sent to a model: command output in events, errors kept on tasks and tickets.
pub(crate) fn kept_tail(s: &str, max: usize) -> String {
    tail(&foreman_secrets::redact_default(s), max)
}

/// The last event's type for a ticket, if any.
pub(crate) async fn last_event_type(engine: &Engine, ticket: &TicketId) -> Option<EventType> {
    let filter = EventFilter {
        ticket_id: Some(ticket.clone()),
        limit: 1,
        newest_first: true,
        ..EventFilter::default()
    };
    engine
        .ports
        .events
        .list_events(&filter)
        .await
        .ok()?
        .into_iter()
        .next()
        .map(|e| e.event_type)
}

#[cfg(test)]
mod tests {
    use super::{kept_tail, tail};

    #[test]
    fn tails_are_redacted_before_they_are_cut() {
        let token = format!("ghp_{}", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5");
        let output = format!("FAIL: test_x\nusing {token} to log in\nmore output");
        let kept = kept_tail(&output, 40);
        assert!(!kept.contains(&token[..10]), "{kept}");
        let whole = kept_tail(&output, 10_000);
        assert!(whole.contains("[REDACTED:github_token]"), "{whole}");
        // control: text bound for a model is left to the egress scanner
        assert!(tail(&output, 10_000).contains(&token));
        assert_eq!(kept_tail("1 passed", 100), "1 passed");
    }
}
