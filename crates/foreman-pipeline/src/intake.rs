//! Intake: the one path by which a tracker's ready tickets become Foreman tickets, once each.
//!
//! The daemon's poll ([`intake`]) and the webhook receiver (through the
//! [`TicketIntake`] port it is handed) both call [`Intake::take_in`], so a ticket is created
//! the same way and announced by the same `ticket_created` event ([`ticket_created`]) however
//! it arrived; only the `source` detail (`poll`, `webhook`) tells them apart.
//!
//! It lives here, not in `foreman-tracker`, because it is application logic over ports
//! (`Tracker`, `TicketStore`, `EventLog`): the pipeline owns it and the tracker adapter only
//! calls it through the port, so neither depends on the other.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use foreman_domain::remote::RemoteError;
use foreman_domain::tracker::{
    IntakeReport, IntakeSource, TicketIntake, Tracker, TrackerError, TrackerResult, TrackerTicket,
};
use foreman_domain::{EventLog, EventType, NewEvent, StoreError, Ticket, TicketPatch, TicketStore};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::error::PipelineResult;
use crate::settings::ProjectRuntime;

/// The `ticket_created` event of a ticket taken in from a tracker: the same message and
/// details whichever way it arrived, `source` aside.
#[must_use]
pub fn ticket_created(
    tracker: &str,
    remote: &TrackerTicket,
    ticket: &Ticket,
    source: IntakeSource,
) -> NewEvent {
    NewEvent::new(
        EventType::TicketCreated,
        format!("ticket {} taken from {tracker}", remote.external_id),
    )
    .ticket(&ticket.id)
    .details(serde_json::json!({
        "tracker": tracker,
        "external_id": remote.external_id,
        "url": remote.url,
        "truncated": remote.truncated,
        "source": source.as_str(),
    }))
}

/// Takes one tracker's tickets into one project.
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

    /// The tracker's name (`github`, `gitlab`, `jira`, `linear`, `local`).
    #[must_use]
    pub fn tracker_name(&self) -> &'static str {
        self.tracker.name()
    }

    /// Fetches ready tickets and creates the ones Foreman does not have yet, each with its
    /// [`ticket_created`] event. Safe to run concurrently with itself: a ticket is created
    /// once (`(project, external_id)` is unique).
    ///
    /// # Errors
    /// The tracker's or the store's.
    pub async fn take_in(&self, source: IntakeSource) -> TrackerResult<IntakeReport> {
        let ready = self.tracker.fetch_ready().await?;
        let mut report = IntakeReport {
            fetched: ready.len(),
            created: Vec::new(),
        };
        for remote in ready {
            if self
                .tickets
                .get_ticket_by_external_id(&self.project, &remote.external_id)
                .await?
                .is_some()
            {
                continue;
            }
            let ticket = match self
                .tickets
                .create_ticket(remote.to_new_ticket(&self.project))
                .await
            {
                Ok(ticket) => ticket,
                Err(StoreError::Duplicate { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            self.events
                .append(ticket_created(
                    self.tracker.name(),
                    &remote,
                    &ticket,
                    source,
                ))
                .await?;
            tracing::info!(project = %self.project, tracker = self.tracker.name(), external_id = %remote.external_id, ticket_id = %ticket.id, source = source.as_str(), "ticket taken in");
            report.created.push(ticket.id);
        }
        Ok(report)
    }

    /// Re-reads a ticket Foreman already has from the tracker and copies its title,
    /// description, acceptance criteria, labels and priority when they changed. Returns
    /// whether anything changed. Meant for tickets still in `queued` (a webhook said the
    /// issue was edited before work started); it does not look at the status.
    ///
    /// # Errors
    /// The tracker's or the store's.
    pub async fn refresh_ticket(&self, ticket: &Ticket) -> TrackerResult<bool> {
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

    /// Asks the running loop ([`Intake::run`]) to poll now.
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Polls every `interval` and on every [`Intake::nudge`] until `shutdown`. Failures are
    /// logged and retried on the next tick; a rate limit waits as long as the tracker asked.
    pub async fn run(&self, interval: Duration, shutdown: CancellationToken) {
        loop {
            let mut wait = interval;
            match self.take_in(IntakeSource::Poll).await {
                Ok(r) if !r.created.is_empty() => {
                    tracing::info!(project = %self.project, created = r.created.len(), fetched = r.fetched, "poll");
                }
                Ok(_) => {}
                Err(TrackerError::Remote(RemoteError::RateLimited {
                    retry_after: Some(after),
                    ..
                })) => {
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

#[async_trait]
impl TicketIntake for Intake {
    fn project(&self) -> &str {
        &self.project
    }

    async fn take_in(&self, source: IntakeSource) -> TrackerResult<IntakeReport> {
        Intake::take_in(self, source).await
    }

    async fn refresh(&self, ticket: &Ticket) -> TrackerResult<bool> {
        self.refresh_ticket(ticket).await
    }
}

/// The daemon's poll of one project: [`Intake::take_in`] with source `poll`; returns how many
/// tickets were new.
///
/// # Errors
/// Tracker or store failures.
pub async fn intake(engine: &Engine, project: &ProjectRuntime) -> PipelineResult<usize> {
    let ports = engine.ports();
    let tickets: Arc<dyn TicketStore> = ports.store.clone();
    let intake = Intake::new(
        &project.name,
        project.tracker.clone(),
        tickets,
        ports.events.clone(),
    );
    Ok(intake.take_in(IntakeSource::Poll).await?.created.len())
}
