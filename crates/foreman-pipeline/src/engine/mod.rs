//! The engine: one module per stage, driven by the ticket's persisted status so that a ticket
//! claimed after a crash resumes from its last completed step.
//!
//! Start at `Engine::drive`: it reads the ticket's status and calls the stage that owns it
//! (`clarify`, `plan`, `tasks` → `implement`, `integrate`, `pull_request`). Every stage reads,
//! writes and reports through one `context::Ctx`, whether it works on the ticket or, in
//! `implement`, on one of its tasks. The modules form layers: `base` (the engine, `Step`),
//! then `context`, then `llm` and `worktree`, then the stages; none imports one above it.

mod base;
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

use std::time::Instant;

use foreman_domain::{Claim, TicketId, TicketStatus};
use tokio_util::sync::CancellationToken;

pub(crate) use self::base::last_event_type;
pub use self::base::{Engine, Step};
use self::context::{Ctx, TicketRun};
use crate::error::{PipelineError, PipelineResult};

impl Engine {
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
