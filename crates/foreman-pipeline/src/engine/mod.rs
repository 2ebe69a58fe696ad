//! The engine: one module per stage, driven by the ticket's persisted status so that a ticket
//! claimed after a crash resumes from its last completed step.
//!
//! Start at `Engine::drive`: it reads the ticket's status and calls the stage that owns it
//! (`clarify`, `plan`, `tasks` → `implement`, `integrate`, `pull_request`). Every stage reads,
//! writes and reports through one `context::Ctx`, whether it works on the ticket or, in
//! `implement`, on one of its tasks. The modules form layers: `base` (the engine, `Step`),
//! then `context`, then `llm` and `worktree`, then the stages; none imports one above it.
//! A task's run is `implement` (the attempt loop) with its steps in the files that add methods
//! to its `TaskRun`: `commit`, `prove`, `review`, `execute` and `commit_gate`.

mod base;
mod clarify;
mod commit;
mod commit_gate;
mod context;
mod execute;
mod hook_points;
mod implement;
mod integrate;
mod llm;
mod plan;
mod prove;
mod pull_request;
mod review;
mod rules_gate;
mod tasks;
mod transcript;
mod worktree;

use std::time::Instant;

use foreman_domain::git::HostError;
use foreman_domain::llm::LlmError;
use foreman_domain::remote::RemoteError;
use foreman_domain::tracker::{TrackerError, TrackerStatus};
use foreman_domain::{Claim, EventType, NewEvent, TicketId, TicketStatus};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use self::base::kept_tail;
pub(crate) use self::base::last_event_type;
pub use self::base::{Engine, Step};
use self::context::{Ctx, TicketRun};
use crate::error::{PipelineError, PipelineResult};

impl Engine {
    /// Works on a claimed ticket until it waits on something outside (a merge, answers), is
    /// done, fails, or `cancel` fires (lease lost) or `paused` turns true between tasks.
    ///
    /// A step stopped by a transient fault ([`PipelineError::is_transient`]) is run again from
    /// the ticket's last completed step after a backoff; the ticket
    /// fails under the fault's class only when the retries run out. However the run ends, the
    /// tracker is told when the ticket failed or is blocked.
    ///
    /// # Errors
    /// Lease interruptions ([`PipelineError::is_lease_interruption`]) and failures the caller
    /// records.
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
        let result = self.drive_healing(&run, &ticket.id).await;
        if let Err(e) = self.ports.store.release_files(&ticket.id).await {
            // They stop blocking others once the daemon gives the lease up.
            tracing::warn!(ticket_id = %ticket.id, error = %e, "cannot release file reservations");
        }
        match &result {
            Ok(()) => {}
            Err(e) if e.is_lease_interruption() => {}
            Err(Healing::GaveUp { error, retries }) => {
                let message = format!("{error} (still failing after {retries} retries)");
                run.ctx
                    .fail_ticket(&ticket.id, error.class(), &message)
                    .await?;
            }
            Err(Healing::Failed(e)) => {
                run.ctx
                    .fail_ticket(&ticket.id, e.class(), &e.to_string())
                    .await?;
            }
        }
        let after = self.ports.store.get_ticket(&ticket.id).await?;
        if let Some(t) = &after {
            let told = match t.status {
                TicketStatus::Failed => Some(TrackerStatus::Failed),
                TicketStatus::Blocked | TicketStatus::ClarificationNeeded => {
                    Some(TrackerStatus::Blocked)
                }
                _ => None,
            };
            if let Some(status) = told {
                self.tell_tracker(t, status).await;
            }
            if t.status.is_terminal() {
                metrics::histogram!("foreman_pipeline_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
        }
        match result {
            Err(e) if e.is_lease_interruption() => Err(e.into_error()),
            _ => Ok(()),
        }
    }

    /// [`Engine::drive`], run again after a transient fault: the ticket keeps its status, so
    /// the next run resumes at the step the fault stopped. Retries of one step (the ticket's
    /// status unchanged since the last fault) are bounded by
    /// [`crate::settings::TransientRetry::max_retries`] and spaced by its backoff, with a
    /// `rate_limit_backoff` event (`details.source = "pipeline"`) before each.
    async fn drive_healing(&self, run: &TicketRun<'_>, id: &TicketId) -> Result<(), Healing> {
        let policy = &self.settings.transient_retry;
        let mut retries = 0u32;
        let mut step: Option<TicketStatus> = None;
        loop {
            let error = match self.drive(run, id).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_lease_interruption() || !e.is_transient() => {
                    return Err(Healing::Failed(e));
                }
                Err(e) => e,
            };
            let status = run.ctx.ticket(id).await.map_err(Healing::Failed)?.status;
            if step != Some(status) {
                step = Some(status);
                retries = 0;
            }
            if retries >= policy.max_retries {
                return Err(Healing::GaveUp { error, retries });
            }
            retries += 1;
            let class = error.class();
            metrics::counter!("foreman_transient_retries_total", "class" => class.as_str())
                .increment(1);
            let delay = policy.backoff(retries, jitter(), retry_after(&error));
            tracing::info!(ticket = %id, %class, retry = retries, ?delay, error = %error, "transient fault; retrying the step");
            run.ctx
                .emit(
                    NewEvent::new(
                        EventType::RateLimitBackoff,
                        format!(
                            "{class} in {status}: retry {retries} of {} in {} ms",
                            policy.max_retries,
                            delay.as_millis()
                        ),
                    )
                    .ticket(id)
                    .details(json!({
                        "source": "pipeline",
                        "class": class,
                        "status": status,
                        "retry": retries,
                        "max_retries": policy.max_retries,
                        "delay_ms": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "error": kept_tail(&error.to_string(), 1000),
                    })),
                )
                .await;
            let until = Instant::now() + delay;
            while Instant::now() < until {
                run.ctx.check().map_err(Healing::Failed)?;
                if (run.paused)() {
                    return Err(Healing::Failed(PipelineError::Stopped("daemon paused")));
                }
                let left = until.saturating_duration_since(Instant::now());
                tokio::time::sleep(left.min(std::time::Duration::from_millis(100))).await;
            }
        }
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

/// How [`Engine::drive_healing`] ended without success.
enum Healing {
    /// A failure that is not retried (or a lease interruption).
    Failed(PipelineError),
    /// A transient fault that kept coming back after `retries` retries of the same step.
    GaveUp {
        /// The last fault.
        error: PipelineError,
        /// Retries made.
        retries: u32,
    },
}

impl Healing {
    fn is_lease_interruption(&self) -> bool {
        matches!(self, Self::Failed(e) if e.is_lease_interruption())
    }

    fn into_error(self) -> PipelineError {
        match self {
            Self::Failed(e) | Self::GaveUp { error: e, .. } => e,
        }
    }
}

/// A number in `[0, 1)` for the backoff's jitter, from the process's randomly seeded hasher.
fn jitter() -> f64 {
    use std::hash::BuildHasher;
    let bits = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    // 53 random bits over 2^53
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// How long the service behind a fault asked to wait, if it said.
fn retry_after(e: &PipelineError) -> Option<std::time::Duration> {
    match e {
        PipelineError::Llm(e @ (LlmError::RateLimited { .. } | LlmError::Overloaded { .. })) => {
            e.retry_after()
        }
        PipelineError::Host(HostError::Remote(r))
        | PipelineError::Tracker(TrackerError::Remote(r)) => RemoteError::retry_after(r),
        _ => None,
    }
}
