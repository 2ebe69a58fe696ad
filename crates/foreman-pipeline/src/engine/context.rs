//! The one context every stage works through: the lease check, reads, fenced transitions and
//! patches of tickets and tasks, events, and recording failures.

use foreman_domain::pipeline::FailureClass;
use foreman_domain::{
    EventType, FencingToken, NewEvent, StoreError, Task, TaskId, TaskPatch, TaskStatus, Ticket,
    TicketId, TicketPatch, TicketStatus,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::base::{Engine, kept_tail};
use crate::error::{PipelineError, PipelineResult};
use crate::settings::{PipelineSettings, ProjectRuntime};

/// What a stage works with: the engine, the ticket's project, the lease's fencing token and
/// the cancellation that fires when the lease is lost. Cheap to clone (a task runs on a clone).
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) engine: Engine,
    pub(crate) project: ProjectRuntime,
    fence: FencingToken,
    cancel: CancellationToken,
}

/// One claimed ticket being worked on: the shared context, and whether the daemon was paused
/// (checked between tasks).
pub(crate) struct TicketRun<'a> {
    pub(crate) ctx: Ctx,
    pub(crate) paused: &'a (dyn Fn() -> bool + Send + Sync),
}

impl Ctx {
    pub(crate) fn new(
        engine: Engine,
        project: ProjectRuntime,
        fence: FencingToken,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            engine,
            project,
            fence,
            cancel,
        }
    }

    pub(crate) fn store(&self) -> &dyn foreman_domain::Store {
        self.engine.ports.store.as_ref()
    }

    pub(crate) fn settings(&self) -> &PipelineSettings {
        &self.engine.settings
    }

    pub(crate) fn fence(&self) -> FencingToken {
        self.fence
    }

    /// Fails once the lease is lost (or the ticket was cancelled, which takes the lease).
    pub(crate) fn check(&self) -> PipelineResult<()> {
        if self.cancel.is_cancelled() {
            Err(PipelineError::LeaseLost)
        } else {
            Ok(())
        }
    }

    /// Runs `work` (a model call, the agent, a command) unless the lease is lost or the ticket
    /// cancelled first: then `work` is dropped where it stands, which ends its HTTP request
    /// and kills its process group, and the run stops with [`PipelineError::LeaseLost`]. What
    /// was committed or recorded before stays (commits on the branch, settled calls).
    pub(crate) async fn interruptible<T>(
        &self,
        work: impl Future<Output = T>,
    ) -> PipelineResult<T> {
        self.check()?;
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(PipelineError::LeaseLost),
            out = work => Ok(out),
        }
    }

    /// Runs one task's `work` under the ticket's per-task timeout (`timeout` at submission),
    /// counted from the task's first start so a resumed task keeps its clock. Past it the work
    /// is dropped (its model call and command stop with it), the task fails with the class
    /// `timeout`, and [`PipelineError::TaskTimedOut`] says so.
    pub(crate) async fn within_task_timeout(
        &self,
        task: &Task,
        timeout: Option<std::time::Duration>,
        work: impl Future<Output = PipelineResult<()>>,
    ) -> PipelineResult<()> {
        let Some(limit) = timeout else {
            return work.await;
        };
        let elapsed = task
            .started_at
            .and_then(|s| (foreman_domain::now() - s).to_std().ok())
            .unwrap_or_default();
        let Ok(result) = tokio::time::timeout(limit.saturating_sub(elapsed), work).await else {
            let message = format!(
                "task {} ran past its timeout of {} s and was stopped",
                task.sequence,
                limit.as_secs()
            );
            let current = self.task(&task.id).await?;
            if !current.status.is_terminal() {
                self.fail_task(&current, FailureClass::Timeout, &message)
                    .await?;
            }
            return Err(PipelineError::TaskTimedOut(message));
        };
        result
    }

    pub(crate) async fn emit(&self, event: NewEvent) {
        self.engine.emit(event).await;
    }

    pub(crate) async fn emit_once(&self, event: NewEvent) {
        self.engine.emit_once(event).await;
    }

    // ----- tickets ---------------------------------------------------------------------------

    pub(crate) async fn ticket(&self, id: &TicketId) -> PipelineResult<Ticket> {
        self.store()
            .get_ticket(id)
            .await?
            .ok_or_else(|| PipelineError::Store(StoreError::not_found("ticket", id.as_str())))
    }

    /// Moves the ticket (fenced), with its `ticket_status_changed` event.
    pub(crate) async fn move_to(&self, t: &Ticket, to: TicketStatus) -> PipelineResult<Ticket> {
        self.check()?;
        let next = self
            .store()
            .transition_ticket(&t.id, t.status, to, Some(self.fence))
            .await?;
        self.emit(
            NewEvent::new(
                EventType::TicketStatusChanged,
                format!("{} → {}", t.status, to),
            )
            .ticket(&t.id)
            .details(json!({"from": t.status, "to": to})),
        )
        .await;
        if to.is_terminal() {
            metrics::counter!("foreman_tickets_total", "status" => to.as_str()).increment(1);
        }
        Ok(next)
    }

    pub(crate) async fn patch(&self, id: &TicketId, patch: TicketPatch) -> PipelineResult<Ticket> {
        self.check()?;
        Ok(self
            .store()
            .update_ticket(id, patch, Some(self.fence))
            .await?)
    }

    /// Records a failure: `failed` (or `blocked` for budgets) with the error and its class.
    pub(crate) async fn fail_ticket(
        &self,
        id: &TicketId,
        class: FailureClass,
        message: &str,
    ) -> PipelineResult<()> {
        let t = self.ticket(id).await?;
        if t.status.is_terminal() {
            return Ok(());
        }
        self.patch(
            id,
            TicketPatch {
                last_error: Some(Some(message.chars().take(2000).collect())),
                last_error_type: Some(Some(class.as_str().to_owned())),
                ..TicketPatch::default()
            },
        )
        .await?;
        let (to, event) = if class.blocks() {
            (TicketStatus::Blocked, EventType::TicketBlocked)
        } else {
            (TicketStatus::Failed, EventType::TicketFailed)
        };
        if class.blocks() {
            self.emit(
                NewEvent::new(
                    EventType::CostExceeded,
                    "budget exhausted; the ticket keeps its work",
                )
                .ticket(id),
            )
            .await;
        }
        self.move_to(&t, to).await?;
        self.emit(
            NewEvent::new(event, format!("{class}: {message}"))
                .ticket(id)
                .details(json!({"error_type": class})),
        )
        .await;
        Ok(())
    }

    // ----- tasks -----------------------------------------------------------------------------

    pub(crate) async fn task(&self, id: &TaskId) -> PipelineResult<Task> {
        self.store()
            .get_task(id)
            .await?
            .ok_or_else(|| PipelineError::Store(StoreError::not_found("task", id.as_str())))
    }

    /// Moves the task (fenced; a move to where it is already is a no-op).
    pub(crate) async fn set_task_status(
        &self,
        task: &Task,
        to: TaskStatus,
    ) -> PipelineResult<Task> {
        self.check()?;
        if task.status == to {
            return Ok(task.clone());
        }
        let next = self
            .store()
            .transition_task(&task.id, task.status, to, Some(self.fence))
            .await?;
        if to.is_terminal() {
            metrics::counter!("foreman_tasks_total", "status" => to.as_str()).increment(1);
        }
        Ok(next)
    }

    pub(crate) async fn patch_task(&self, task: &Task, patch: TaskPatch) -> PipelineResult<Task> {
        self.check()?;
        Ok(self
            .store()
            .update_task(&task.id, patch, Some(self.fence))
            .await?)
    }

    /// Records a task's failure: its last error, `failed`, and `task_failed` carrying the
    /// class as `error_type` (where the ticket's class is read back from).
    pub(crate) async fn fail_task(
        &self,
        task: &Task,
        class: FailureClass,
        message: &str,
    ) -> PipelineResult<()> {
        let task = self
            .patch_task(
                task,
                TaskPatch {
                    last_error: Some(Some(format!("{class}: {}", kept_tail(message, 1500)))),
                    ..TaskPatch::default()
                },
            )
            .await?;
        if !task.status.is_terminal() {
            self.set_task_status(&task, TaskStatus::Failed).await?;
        }
        self.emit(
            NewEvent::new(
                EventType::TaskFailed,
                format!("task {} failed: {class}", task.sequence),
            )
            .ticket(&task.ticket_id)
            .task(&task.id)
            .details(json!({"error_type": class, "error": kept_tail(message, 1500)})),
        )
        .await;
        Ok(())
    }

    /// The class of a task's last recorded failure (from its latest `task_failed` event).
    pub(crate) async fn task_failure_class(&self, task: &Task) -> Option<FailureClass> {
        let filter = foreman_domain::EventFilter {
            ticket_id: Some(task.ticket_id.clone()),
            types: vec![EventType::TaskFailed],
            limit: foreman_domain::MAX_PAGE_LIMIT,
            newest_first: true,
            ..foreman_domain::EventFilter::default()
        };
        let events = match self.engine.ports.events.list_events(&filter).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(task = %task.id, error = %e, "cannot read task failures");
                return None;
            }
        };
        events
            .into_iter()
            .filter(|e| e.task_id.as_ref() == Some(&task.id))
            .find_map(|e| serde_json::from_value(e.details?.get("error_type")?.clone()).ok())
    }
}
