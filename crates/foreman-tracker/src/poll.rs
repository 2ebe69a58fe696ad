//! Intake: turning a tracker's ready tickets into Foreman tickets, on a poll interval and
//! whenever a webhook nudges.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::event::{EventType, NewEvent};
use foreman_domain::tracker::{Tracker, TrackerResult};
use foreman_domain::{EventLog, StoreError, Ticket, TicketId, TicketPatch, TicketStore};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Ready tickets the tracker returned.
    pub fetched: usize,
    /// Foreman tickets created from them (new ones only).
    pub created: Vec<TicketId>,
}

/// Polls one tracker into one project.
pub struct Intake {
    project: String,
    tracker: Arc<dyn Tracker>,
    tickets: Arc<dyn TicketStore>,
    events: Arc<dyn EventLog>,
    nudge: Notify,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("project", &self.project)
            .field("tracker", &self.tracker.name())
            .finish_non_exhaustive()
    }
}

impl Intake {
    /// Intake from `tracker` into `project`.
    #[must_use]
    pub fn new(
        project: &str,
        tracker: Arc<dyn Tracker>,
        tickets: Arc<dyn TicketStore>,
        events: Arc<dyn EventLog>,
    ) -> Self {
        Self {
            project: project.to_owned(),
            tracker,
            tickets,
            events,
            nudge: Notify::new(),
        }
    }

    /// Fetches ready tickets and creates the ones Foreman does not have yet, each with a
    /// `ticket_created` event. Safe to run concurrently with itself: a ticket is created once.
    ///
    /// # Errors
    /// The tracker's or the store's.
    pub async fn poll_once(&self) -> TrackerResult<PollReport> {
        let ready = self.tracker.fetch_ready().await?;
        let mut report = PollReport {
            fetched: ready.len(),
            created: Vec::new(),
        };
        for t in ready {
            if self
                .tickets
                .get_ticket_by_external_id(&self.project, &t.external_id)
                .await?
                .is_some()
            {
                continue;
            }
            let ticket = match self
                .tickets
                .create_ticket(t.to_new_ticket(&self.project))
                .await
            {
                Ok(ticket) => ticket,
                Err(StoreError::Duplicate { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            self.events
                .append(
                    NewEvent::new(
                        EventType::TicketCreated,
                        format!(
                            "ticket {} taken from {}",
                            t.external_id,
                            self.tracker.name()
                        ),
                    )
                    .ticket(&ticket.id)
                    .details(serde_json::json!({
                        "tracker": self.tracker.name(),
                        "external_id": t.external_id,
                        "url": t.url,
                        "truncated": t.truncated,
                    })),
                )
                .await?;
            tracing::info!(project = %self.project, tracker = self.tracker.name(), external_id = %t.external_id, ticket_id = %ticket.id, "ticket taken in");
            report.created.push(ticket.id);
        }
        Ok(report)
    }

    /// The project tickets are created in.
    #[must_use]
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The tracker's name (`github`, `gitlab`, `jira`, `linear`, `local`).
    #[must_use]
    pub fn tracker_name(&self) -> &'static str {
        self.tracker.name()
    }

    /// Re-reads a ticket Foreman already has from the tracker and copies its title,
    /// description, acceptance criteria, labels and priority when they changed. Returns
    /// whether anything changed. Meant for tickets still in `queued` (a webhook said the
    /// issue was edited before work started); it does not look at the status.
    ///
    /// # Errors
    /// The tracker's or the store's.
    pub async fn refresh(&self, ticket: &Ticket) -> TrackerResult<bool> {
        let remote = self.tracker.get_ticket(&ticket.external_id).await?;
        let new = remote.to_new_ticket(&self.project);
        let changed = |a: &str, b: &str| (a != b).then(|| b.to_owned());
        let patch = TicketPatch {
            title: changed(&ticket.title, &new.title),
            description: changed(&ticket.description, &new.description),
            acceptance_criteria: changed(&ticket.acceptance_criteria, &new.acceptance_criteria),
            priority: (ticket.priority != new.priority).then_some(new.priority),
            labels: (ticket.labels != new.labels).then(|| new.labels.clone()),
            ..TicketPatch::default()
        };
        if patch == TicketPatch::default() {
            return Ok(false);
        }
        self.tickets.update_ticket(&ticket.id, patch, None).await?;
        tracing::info!(project = %self.project, tracker = self.tracker.name(), external_id = %ticket.external_id, ticket_id = %ticket.id, "queued ticket refreshed from the tracker");
        Ok(true)
    }

    /// Asks the running loop to poll now (a webhook said something changed).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Polls every `interval` and on every [`Intake::nudge`] until `shutdown`. Failures are
    /// logged and retried on the next tick; a rate limit waits as long as the tracker asked.
    pub async fn run(&self, interval: Duration, shutdown: CancellationToken) {
        loop {
            let mut wait = interval;
            match self.poll_once().await {
                Ok(r) if !r.created.is_empty() => {
                    tracing::info!(project = %self.project, created = r.created.len(), fetched = r.fetched, "poll");
                }
                Ok(_) => {}
                Err(foreman_domain::tracker::TrackerError::RateLimited {
                    retry_after: Some(after),
                    ..
                }) => {
                    tracing::warn!(project = %self.project, wait_s = after.as_secs(), "tracker rate limit; waiting");
                    wait = wait.max(after);
                }
                Err(e) => {
                    tracing::warn!(project = %self.project, tracker = self.tracker.name(), error = %e, code = e.code(), "poll failed");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.nudge.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
