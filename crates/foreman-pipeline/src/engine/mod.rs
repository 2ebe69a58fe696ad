//! The engine: one module per stage, driven by the ticket's persisted status so that a ticket
//! claimed after a crash resumes from its last completed step.
//!
//! Start at [`Engine::drive`]: it reads the ticket's status and calls the stage that owns it
//! (`clarify`, `plan`, `tasks` → `implement`, `integrate`, `pull_request`). Every stage reads,
//! writes and reports through one [`context::Ctx`], whether it works on the ticket or, in
//! `implement`, on one of its tasks.

mod clarify;
mod commit_gate;
mod context;
mod execute;
mod implement;
mod integrate;
mod llm;
mod plan;
mod pull_request;
mod tasks;
mod worktree;

use std::sync::Arc;
use std::time::Instant;

use foreman_domain::{Claim, EventFilter, EventType, NewEvent, Ticket, TicketId, TicketStatus};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{PipelineError, PipelineResult};
use crate::settings::{PipelineSettings, Ports};

use self::context::Ctx;

/// The name of a ticket's own worktree (planning, integration, and the work of a ticket's
/// only task).
const TICKET_WORKTREE: &str = "ticket";

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

/// One claimed ticket being worked on: the shared context, and whether the daemon was paused
/// (checked between tasks).
pub(crate) struct TicketRun<'a> {
    ctx: Ctx,
    paused: &'a (dyn Fn() -> bool + Send + Sync),
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

    /// Works on a claimed ticket until it waits on something outside (a merge, answers), is
    /// done, fails, or `cancel` fires (lease lost) or `paused` turns true between tasks.
    ///
    /// # Errors
    /// Interruptions ([`PipelineError::is_interruption`]) and failures the caller records.
    pub async fn run_ticket(
        &self,
        claim: &Claim,
        cancel: CancellationToken,
        paused: &(dyn Fn() -> bool + Send + Sync),
    ) -> PipelineResult<()> {
        let ticket = &claim.ticket;
        let project = self
            .ports
            .projects
            .get(&ticket.project)
            .ok_or_else(|| PipelineError::UnknownProject(ticket.project.clone()))?;
        let run = TicketRun {
            ctx: Ctx::new(self.clone(), project.clone(), claim.fencing_token, cancel),
            paused,
        };
        let started = Instant::now();
        let result = self.drive(&run, &ticket.id).await;
        if let Err(e) = self.ports.store.release_files(&ticket.id).await {
            // They stop blocking others once the daemon gives the lease up.
            tracing::warn!(ticket_id = %ticket.id, error = %e, "cannot release file reservations");
        }
        match &result {
            Ok(()) => {}
            Err(e) if e.is_interruption() => {}
            Err(e) => {
                run.ctx
                    .fail_ticket(&ticket.id, e.class(), &e.to_string())
                    .await?;
            }
        }
        if let Some(t) = self.ports.store.get_ticket(&ticket.id).await?
            && t.status.is_terminal()
        {
            metrics::histogram!("foreman_pipeline_duration_seconds")
                .record(started.elapsed().as_secs_f64());
        }
        result.or_else(|e| if e.is_interruption() { Err(e) } else { Ok(()) })
    }

    /// The stage loop: reads the ticket's persisted status and runs the stage that owns it,
    /// until a stage releases the ticket. The entry point for reading the engine.
    async fn drive(&self, run: &TicketRun<'_>, id: &TicketId) -> PipelineResult<()> {
        loop {
            run.ctx.check()?;
            let t = run.ctx.ticket(id).await?;
            let step = match t.status {
                TicketStatus::Queued => clarify::start(&run.ctx, &t).await?,
                TicketStatus::Planning | TicketStatus::PlanValidating => {
                    plan::plan(&run.ctx, &t).await?
                }
                TicketStatus::Decomposing => plan::decompose(&run.ctx, &t).await?,
                TicketStatus::Implementing => tasks::implement(run, &t).await?,
                TicketStatus::Reviewing => integrate::integrate(&run.ctx, &t).await?,
                TicketStatus::PrCreated => pull_request::after_pr(&run.ctx, &t).await?,
                _ => Step::Release,
            };
            if step == Step::Release {
                return Ok(());
            }
        }
    }
}

/// The last `max` bytes of `s`, cut at a character boundary.
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
