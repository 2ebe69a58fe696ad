//! The engine: one function per stage, driven by the ticket's persisted status so that a
//! ticket claimed after a crash resumes from its last completed step.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use foreman_domain::agent::{AgentOutcome, AgentRequest, AgentRole, AgentStopReason, AgentTask};
use foreman_domain::git::{
    DiffSpec, Lease as PushLease, MergeOutcome, NewPullRequest, PullRequest, RebaseOutcome,
    Worktree, WorktreeSpec, task_branch_name, ticket_branch_name,
};
use foreman_domain::llm::{CallContext, LlmRequest, ToolChoice, ToolDefinition};
use foreman_domain::tracker::{NewTrackerTicket, TrackerStatus};
use foreman_domain::{
    Claim, EventFilter, EventType, FencingToken, NewEvent, NewTicket, Task, TaskPatch, TaskStatus,
    Ticket, TicketId, TicketPatch, TicketStatus,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::classify::{FailureClass, TestOutcome, classify_test_run};
use crate::dag::{Node, schedule};
use crate::error::{PipelineError, PipelineResult};
use crate::plan::{Plan, PlanLimits, is_safe_repo_path};
use crate::pr_body::{self, TestEvidence};
use crate::settings::{PipelineSettings, Ports, ProjectRuntime};

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

/// A structured review verdict.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Review {
    approved: bool,
    issues: Vec<String>,
    summary: String,
}

/// A clarifier verdict.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Clarification {
    clear: bool,
    questions: Vec<String>,
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

/// One claimed ticket being worked on.
struct Run<'a> {
    engine: &'a Engine,
    project: &'a ProjectRuntime,
    fence: FencingToken,
    cancel: CancellationToken,
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
        let run = Run {
            engine: self,
            project,
            fence: claim.fencing_token,
            cancel,
            paused,
        };
        let started = Instant::now();
        let result = run.drive(&ticket.id).await;
        if let Err(e) = self.ports.store.release_files(&ticket.id).await {
            // They stop blocking others once the daemon gives the lease up.
            tracing::warn!(ticket_id = %ticket.id, error = %e, "cannot release file reservations");
        }
        match &result {
            Ok(()) => {}
            Err(e) if e.is_interruption() => {}
            Err(e) => {
                run.fail_ticket(&ticket.id, e.class(), &e.to_string())
                    .await?
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
}

impl Run<'_> {
    fn store(&self) -> &dyn foreman_domain::Store {
        self.engine.ports.store.as_ref()
    }

    fn settings(&self) -> &PipelineSettings {
        &self.engine.settings
    }

    fn check(&self) -> PipelineResult<()> {
        if self.cancel.is_cancelled() {
            Err(PipelineError::LeaseLost)
        } else {
            Ok(())
        }
    }

    async fn ticket(&self, id: &TicketId) -> PipelineResult<Ticket> {
        self.store().get_ticket(id).await?.ok_or_else(|| {
            PipelineError::Store(foreman_domain::StoreError::not_found("ticket", id.as_str()))
        })
    }

    async fn emit(&self, event: NewEvent) {
        self.engine.emit(event).await;
    }

    async fn move_to(&self, t: &Ticket, to: TicketStatus) -> PipelineResult<Ticket> {
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

    async fn patch(&self, id: &TicketId, patch: TicketPatch) -> PipelineResult<Ticket> {
        self.check()?;
        Ok(self
            .store()
            .update_ticket(id, patch, Some(self.fence))
            .await?)
    }

    /// Records a failure: `failed` (or `blocked` for budgets) with the error and its class.
    async fn fail_ticket(
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
        let (to, event) = if class == FailureClass::Budget {
            (TicketStatus::Blocked, EventType::TicketBlocked)
        } else {
            (TicketStatus::Failed, EventType::TicketFailed)
        };
        if class == FailureClass::Budget {
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
            NewEvent::new(event, format!("{}: {message}", class.as_str()))
                .ticket(id)
                .details(json!({"error_type": class.as_str()})),
        )
        .await;
        Ok(())
    }

    async fn drive(&self, id: &TicketId) -> PipelineResult<()> {
        loop {
            self.check()?;
            let t = self.ticket(id).await?;
            let step = match t.status {
                TicketStatus::Queued => self.start(&t).await?,
                TicketStatus::Planning | TicketStatus::PlanValidating => self.plan(&t).await?,
                TicketStatus::Decomposing => self.decompose(&t).await?,
                TicketStatus::Implementing => self.implement(&t).await?,
                TicketStatus::Reviewing => self.integrate(&t).await?,
                TicketStatus::PrCreated => self.after_pr(&t).await?,
                _ => Step::Release,
            };
            if step == Step::Release {
                return Ok(());
            }
        }
    }

    // ----- queued: clarification or start ---------------------------------------------------

    async fn start(&self, t: &Ticket) -> PipelineResult<Step> {
        if self.settings().enable_clarification
            && !t.labels.iter().any(|l| l == "foreman-clarified")
        {
            let verdict: Clarification = self
                .ask(
                    "clarifier",
                    "clarifier",
                    t,
                    None,
                    ticket_brief(t),
                    tool(
                        "submit_clarification",
                        "Say whether the ticket can be implemented as written, or ask questions.",
                        json!({"type": "object", "required": ["clear"], "properties": {
                            "clear": {"type": "boolean"},
                            "questions": {"type": "array", "items": {"type": "string"}}
                        }}),
                    ),
                )
                .await?;
            if !verdict.clear && !verdict.questions.is_empty() {
                let body = format!(
                    "Foreman needs answers before it can start:\n\n{}\n\nReply in a comment; the ticket is picked up again when you do.",
                    verdict
                        .questions
                        .iter()
                        .map(|q| format!("- {q}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                let tracker = &self.project.tracker;
                tracker.add_comment(&t.external_id, &body).await?;
                tracker
                    .add_label(&t.external_id, &self.settings().clarification_label)
                    .await?;
                self.move_to(t, TicketStatus::ClarificationNeeded).await?;
                metrics::counter!("foreman_clarifications_total").increment(1);
                self.emit(
                    NewEvent::new(
                        EventType::ClarificationRequested,
                        "questions posted to the tracker",
                    )
                    .ticket(&t.id)
                    .details(json!({"questions": verdict.questions})),
                )
                .await;
                return Ok(Step::Release);
            }
        }
        let t = self
            .patch(
                &t.id,
                TicketPatch {
                    started_at: Some(Some(foreman_domain::now())),
                    ..TicketPatch::default()
                },
            )
            .await?;
        self.move_to(&t, TicketStatus::Planning).await?;
        self.emit(NewEvent::new(EventType::PipelineStarted, "pipeline started").ticket(&t.id))
            .await;
        Ok(Step::Continue)
    }

    // ----- planning --------------------------------------------------------------------------

    fn ticket_branch(&self, t: &Ticket) -> String {
        if t.branch_name.is_empty() {
            ticket_branch_name(&self.project.branch_prefix, &t.external_id, &t.title)
        } else {
            t.branch_name.clone()
        }
    }

    /// The ticket's own worktree on its branch (created from the default branch once).
    async fn ticket_worktree(&self, t: &Ticket) -> PipelineResult<(Ticket, Worktree)> {
        let branch = self.ticket_branch(t);
        // a ticket without a branch name was never worked on, here or on another node
        let fresh = t.branch_name.is_empty();
        let t = if fresh {
            self.patch(
                &t.id,
                TicketPatch {
                    branch_name: Some(branch.clone()),
                    ..TicketPatch::default()
                },
            )
            .await?
        } else {
            t.clone()
        };
        let repo = &self.project.repo;
        // found by name too: a run that died mid-rebase left it on a detached HEAD
        if let Some(wt) =
            repo.ticket_worktrees(&t.id).await?.into_iter().find(|w| {
                w.branch == branch || w.path.file_name() == Some(TICKET_WORKTREE.as_ref())
            })
        {
            // A ticket's only task works in this worktree on its task branch: back to the
            // ticket branch (integration merges the task branch next).
            if wt.branch.starts_with(&format!("{branch}--task-")) {
                repo.recover_worktree(&wt).await?;
                let wt = repo.switch_branch(&wt, &branch, None).await?;
                return Ok((t, wt));
            }
            // Left by an earlier run of this ticket: only committed work counts.
            let wt = Worktree {
                branch: branch.clone(),
                ..wt
            };
            repo.recover_worktree(&wt).await?;
            return Ok((t, wt));
        }
        // the default branch to start from (a fetch other tickets can share), and for a ticket
        // worked on before, its branches, in case another node checkpointed them
        if fresh {
            repo.sync_default().await?;
        } else {
            repo.sync_branch(&branch).await?;
        }
        let start = format!("origin/{}", repo.default_branch());
        let wt = repo
            .add_worktree(&WorktreeSpec {
                ticket_id: t.id.clone(),
                name: TICKET_WORKTREE.into(),
                branch: branch.clone(),
                start_point: start,
            })
            .await?;
        self.emit(
            NewEvent::new(EventType::WorktreeCreated, format!("worktree for {branch}"))
                .ticket(&t.id)
                .details(json!({"path": wt.path, "branch": branch})),
        )
        .await;
        Ok((t, wt))
    }

    async fn plan(&self, t: &Ticket) -> PipelineResult<Step> {
        let tasks = self.store().list_tasks(&t.id).await?;
        let mut t = t.clone();
        if !tasks.is_empty() {
            // The plan was validated and stored before a crash: move on.
            if t.status == TicketStatus::Planning {
                t = self.move_to(&t, TicketStatus::PlanValidating).await?;
            }
            self.move_to(&t, TicketStatus::Implementing).await?;
            return Ok(Step::Continue);
        }
        if t.status == TicketStatus::PlanValidating {
            t = self.move_to(&t, TicketStatus::Planning).await?;
        }
        let (t2, wt) = self.ticket_worktree(&t).await?;
        t = t2;
        let files = list_files(&wt.path, 400);
        self.emit(NewEvent::new(EventType::PlanningStarted, "planning").ticket(&t.id))
            .await;
        let limits = PlanLimits {
            max_tasks: self.settings().max_tasks_per_ticket,
        };
        let mut feedback: Option<String> = None;
        for round in 0..=self.settings().max_replans {
            let mut brief = format!(
                "{}\n\n## Repository files\n{}",
                ticket_brief(&t),
                files
                    .iter()
                    .map(|f| format!("- {f}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            if let Some(f) = &feedback {
                brief.push_str(&format!(
                    "\n\n## Your previous plan was rejected\n{f}\nReturn a corrected plan."
                ));
            }
            let plan: Plan = self
                .ask(
                    "planner",
                    "planner",
                    &t,
                    None,
                    brief,
                    tool(
                        "submit_plan",
                        "Submit the implementation plan.",
                        Plan::json_schema(),
                    ),
                )
                .await?;
            self.emit(
                NewEvent::new(EventType::PlanCreated, format!("plan with {} tasks", plan.tasks.len()))
                    .ticket(&t.id)
                    .details(json!({"summary": plan.summary, "tasks": plan.tasks.len(), "too_large": plan.too_large, "round": round + 1})),
            )
            .await;
            t = self.move_to(&t, TicketStatus::PlanValidating).await?;
            let root = wt.path.clone();
            let errors = plan.validate(&limits, |p| is_safe_repo_path(p) && root.join(p).exists());
            if errors.is_empty() {
                if plan.too_large {
                    self.store_children_plan(&t, &plan).await?;
                    self.move_to(&t, TicketStatus::Decomposing).await?;
                    return Ok(Step::Continue);
                }
                let created = self
                    .store()
                    .create_tasks(&t.id, plan.to_new_tasks(), Some(self.fence))
                    .await?;
                for task in &created {
                    self.emit(
                        NewEvent::new(
                            EventType::TaskCreated,
                            format!("task {}: {}", task.sequence, task.title),
                        )
                        .ticket(&t.id)
                        .task(&task.id),
                    )
                    .await;
                }
                self.emit(NewEvent::new(EventType::PlanValidated, "plan validated").ticket(&t.id))
                    .await;
                self.move_to(&t, TicketStatus::Implementing).await?;
                return Ok(Step::Continue);
            }
            let text = errors
                .iter()
                .map(|e| format!("- {e}"))
                .collect::<Vec<_>>()
                .join("\n");
            if round == self.settings().max_replans {
                self.emit(
                    NewEvent::new(EventType::TicketPlanValidationFailed, "the plan failed validation")
                        .ticket(&t.id)
                        .details(json!({"errors": errors.iter().map(ToString::to_string).collect::<Vec<_>>()})),
                )
                .await;
                self.fail_ticket(
                    &t.id,
                    FailureClass::Plan,
                    &format!("plan validation failed:\n{text}"),
                )
                .await?;
                return Ok(Step::Release);
            }
            self.emit(
                NewEvent::new(
                    EventType::PlanRejected,
                    "plan rejected; asking the planner again",
                )
                .ticket(&t.id)
                .details(
                    json!({"errors": errors.iter().map(ToString::to_string).collect::<Vec<_>>()}),
                ),
            )
            .await;
            t = self.move_to(&t, TicketStatus::Planning).await?;
            feedback = Some(text);
        }
        Ok(Step::Continue)
    }

    async fn store_children_plan(&self, t: &Ticket, plan: &Plan) -> PipelineResult<()> {
        let key = format!("decompose:{}", t.id);
        self.store()
            .enqueue(
                &key,
                Some(&t.id),
                "decompose",
                json!({"children": plan.children}),
            )
            .await?;
        Ok(())
    }

    async fn decompose(&self, t: &Ticket) -> PipelineResult<Step> {
        let key = format!("decompose:{}", t.id);
        let entry = self.store().get_outbox(&key).await?;
        let children: Vec<crate::plan::ChildTicket> = entry
            .as_ref()
            .and_then(|e| serde_json::from_value(e.payload["children"].clone()).ok())
            .unwrap_or_default();
        self.emit(
            NewEvent::new(
                EventType::DecompositionStarted,
                format!("splitting into {} tickets", children.len()),
            )
            .ticket(&t.id),
        )
        .await;
        for (i, child) in children.iter().enumerate() {
            let child_key = format!("{key}:{i}");
            if let Some(done) = self.store().get_outbox(&child_key).await?
                && done.state == "done"
            {
                continue;
            }
            self.store()
                .enqueue(
                    &child_key,
                    Some(&t.id),
                    "create_child",
                    json!({"title": child.title}),
                )
                .await?;
            let created = self
                .project
                .tracker
                .create_ticket(&NewTrackerTicket {
                    title: child.title.clone(),
                    description: format!("{}\n\nPart of {}.", child.description, t.external_id),
                    acceptance_criteria: child.acceptance_criteria.clone(),
                    labels: t.labels.clone(),
                    parent: Some(t.external_id.clone()),
                })
                .await?;
            let local = self
                .store()
                .create_ticket(NewTicket {
                    project: t.project.clone(),
                    external_id: created.external_id.clone(),
                    title: child.title.clone(),
                    description: child.description.clone(),
                    acceptance_criteria: child.acceptance_criteria.clone(),
                    priority: t.priority,
                    labels: t.labels.clone(),
                    submitter: t.submitter.clone(),
                    parent_id: Some(t.id.clone()),
                })
                .await;
            let child_id = match local {
                Ok(c) => c.id,
                Err(foreman_domain::StoreError::Duplicate { .. }) => self
                    .store()
                    .get_ticket_by_external_id(&t.project, &created.external_id)
                    .await?
                    .map(|c| c.id)
                    .unwrap_or_default(),
                Err(e) => return Err(e.into()),
            };
            self.store()
                .complete_outbox(
                    &child_key,
                    json!({"external_id": created.external_id, "ticket_id": child_id}),
                )
                .await?;
            self.emit(
                NewEvent::new(
                    EventType::ChildTicketCreated,
                    format!("created {}", created.external_id),
                )
                .ticket(&t.id)
                .details(json!({"child_ticket_id": child_id, "external_id": created.external_id})),
            )
            .await;
        }
        self.store()
            .complete_outbox(&key, json!({"children": children.len()}))
            .await?;
        self.move_to(t, TicketStatus::Decomposed).await?;
        self.emit(
            NewEvent::new(EventType::TicketDecomposed, "split into child tickets").ticket(&t.id),
        )
        .await;
        Ok(Step::Release)
    }

    // ----- implementing ----------------------------------------------------------------------

    /// Waits until no other ticket of the project holds a file this ticket's open tasks will
    /// modify, then reserves them (released when this run ends).
    async fn reserve_files(&self, t: &Ticket) -> PipelineResult<()> {
        let files = crate::reservations::planned_files(&self.store().list_tasks(&t.id).await?);
        if files.is_empty() {
            return Ok(());
        }
        let mut announced = false;
        loop {
            match self.store().try_reserve(&t.project, &t.id, &files).await? {
                foreman_domain::FileReservationOutcome::Granted => return Ok(()),
                foreman_domain::FileReservationOutcome::Held { path, holder } => {
                    if !announced {
                        announced = true;
                        self.emit(
                            NewEvent::new(
                                EventType::TaskWaitingForFiles,
                                format!("waiting for {path}, which another ticket is changing"),
                            )
                            .ticket(&t.id)
                            .details(json!({"path": path, "held_by": holder})),
                        )
                        .await;
                    }
                    self.check()?;
                    tokio::time::sleep(self.settings().poll_interval).await;
                }
            }
        }
    }

    async fn implement(&self, t: &Ticket) -> PipelineResult<Step> {
        self.reserve_files(t).await?;
        let (t, _ticket_wt) = self.ticket_worktree(t).await?;
        let mut running: tokio::task::JoinSet<(i32, PipelineResult<()>)> =
            tokio::task::JoinSet::new();
        let mut in_flight: Vec<i32> = Vec::new();
        loop {
            self.check()?;
            let tasks = self.store().list_tasks(&t.id).await?;
            let nodes: Vec<Node> = tasks.iter().map(Node::from).collect();
            let plan = schedule(&nodes);
            for seq in &plan.skip {
                if let Some(task) = tasks.iter().find(|x| x.sequence == *seq) {
                    self.store()
                        .transition_task(
                            &task.id,
                            task.status,
                            TaskStatus::Skipped,
                            Some(self.fence),
                        )
                        .await?;
                    metrics::counter!("foreman_tasks_total", "status" => "skipped").increment(1);
                    self.emit(
                        NewEvent::new(
                            EventType::TaskSkipped,
                            format!("task {} skipped: a dependency failed", task.sequence),
                        )
                        .ticket(&t.id)
                        .task(&task.id),
                    )
                    .await;
                }
            }
            if plan.finished && running.is_empty() {
                break;
            }
            let stop_starting = (self.paused)();
            // Tasks left mid-way by a crash are resumed like ready ones.
            let resumable = plan
                .running
                .iter()
                .filter(|s| !in_flight.contains(s))
                .copied();
            let startable: Vec<i32> = resumable.chain(plan.ready.iter().copied()).collect();
            for seq in startable {
                if stop_starting || running.len() >= self.settings().max_parallel_tasks {
                    break;
                }
                if in_flight.contains(&seq) {
                    continue;
                }
                let Some(task) = tasks.iter().find(|x| x.sequence == seq).cloned() else {
                    continue;
                };
                in_flight.push(seq);
                let runner = TaskRunner {
                    engine: self.engine.clone(),
                    project: self.project.clone(),
                    fence: self.fence,
                    cancel: self.cancel.clone(),
                    ticket: t.clone(),
                };
                running.spawn(async move { (seq, runner.run(task).await) });
            }
            if running.is_empty() {
                if stop_starting {
                    return Err(PipelineError::Stopped("daemon paused"));
                }
                if plan.finished {
                    break;
                }
                // Nothing startable and nothing running: wait for the next poll.
                tokio::time::sleep(self.settings().poll_interval).await;
                continue;
            }
            if let Some(joined) = running.join_next().await {
                let (seq, result) = joined.map_err(|e| {
                    PipelineError::Stopped(if e.is_cancelled() {
                        "task cancelled"
                    } else {
                        "task panicked"
                    })
                })?;
                in_flight.retain(|s| *s != seq);
                if let Err(e) = result {
                    if e.is_interruption() {
                        running.abort_all();
                        return Err(e);
                    }
                    if e.class() == FailureClass::Budget {
                        running.abort_all();
                        return Err(e);
                    }
                    tracing::warn!(ticket = %t.id, task = seq, error = %e, "task failed");
                }
            }
        }
        let tasks = self.store().list_tasks(&t.id).await?;
        let done = tasks
            .iter()
            .filter(|x| x.status == TaskStatus::Done)
            .count();
        let t = self.ticket(&t.id).await?;
        if done == tasks.len() {
            let t = if t.is_partial {
                // a retried partial ticket is complete now
                self.patch(
                    &t.id,
                    TicketPatch {
                        is_partial: Some(false),
                        ..TicketPatch::default()
                    },
                )
                .await?
            } else {
                t
            };
            self.move_to(&t, TicketStatus::Reviewing).await?;
        } else if done > 0 && self.settings().enable_partial_pr {
            let t = self
                .patch(
                    &t.id,
                    TicketPatch {
                        is_partial: Some(true),
                        ..TicketPatch::default()
                    },
                )
                .await?;
            self.move_to(&t, TicketStatus::Reviewing).await?;
        } else {
            let failed: Vec<String> = tasks
                .iter()
                .filter(|x| x.status != TaskStatus::Done)
                .map(|x| {
                    format!(
                        "task {} {}: {}",
                        x.sequence,
                        x.status,
                        x.last_error.clone().unwrap_or_default()
                    )
                })
                .collect();
            let class = tasks
                .iter()
                .find_map(|x| x.last_error.as_deref().and_then(error_class_of))
                .unwrap_or(FailureClass::TestAssertion);
            self.fail_ticket(&t.id, class, &failed.join("\n")).await?;
            return Ok(Step::Release);
        }
        Ok(Step::Continue)
    }

    // ----- integration, final checks and the pull request ------------------------------------

    async fn integrate(&self, t: &Ticket) -> PipelineResult<Step> {
        let (t, wt) = self.ticket_worktree(t).await?;
        let repo = &self.project.repo;
        let mut tasks = self.store().list_tasks(&t.id).await?;
        tasks.sort_by_key(|x| x.sequence);
        for task in tasks.iter().filter(|x| x.status == TaskStatus::Done) {
            self.check()?;
            let branch = task_branch_name(&self.ticket_branch(&t), task.sequence);
            let outcome = repo
                .merge(
                    &wt,
                    &branch,
                    &format!("Merge task {}: {}", task.sequence, task.title),
                )
                .await?;
            if let MergeOutcome::Conflicts { files } = outcome {
                self.emit(
                    NewEvent::new(
                        EventType::MergeConflict,
                        format!("task {} conflicts", task.sequence),
                    )
                    .ticket(&t.id)
                    .task(&task.id)
                    .details(
                        json!({"files": files.iter().map(|f| f.path.clone()).collect::<Vec<_>>()}),
                    ),
                )
                .await;
                let resolved = self
                    .resolve_conflicts(
                        &t,
                        &wt,
                        &files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
                        "merge",
                    )
                    .await?;
                if resolved {
                    repo.conclude_merge(&wt).await?;
                    self.emit(
                        NewEvent::new(
                            EventType::MergeConflictResolved,
                            format!("task {} merged after resolution", task.sequence),
                        )
                        .ticket(&t.id)
                        .task(&task.id),
                    )
                    .await;
                } else {
                    repo.abort_merge(&wt).await?;
                    self.fail_ticket(
                        &t.id,
                        FailureClass::Conflict,
                        &format!("task {} could not be merged", task.sequence),
                    )
                    .await?;
                    return Ok(Step::Release);
                }
            }
        }
        // Rebase onto the updated default branch.
        repo.sync_default().await?;
        let onto = format!("origin/{}", repo.default_branch());
        let mut outcome = repo.rebase(&wt, &onto).await?;
        let mut rounds = 0;
        while let RebaseOutcome::Conflicts { files, .. } = &outcome {
            rounds += 1;
            self.emit(
                NewEvent::new(
                    EventType::RebaseConflict,
                    "rebase onto the default branch conflicts",
                )
                .ticket(&t.id),
            )
            .await;
            let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
            if rounds > 5 || !self.resolve_conflicts(&t, &wt, &paths, "rebase").await? {
                repo.abort_rebase(&wt).await?;
                self.fail_ticket(
                    &t.id,
                    FailureClass::Conflict,
                    "rebase onto the default branch could not be resolved",
                )
                .await?;
                return Ok(Step::Release);
            }
            self.emit(
                NewEvent::new(
                    EventType::RebaseConflictResolved,
                    "rebase conflict resolved",
                )
                .ticket(&t.id),
            )
            .await;
            outcome = repo.continue_rebase(&wt).await?;
        }
        // The full suite.
        let test_command = self.project.test_command_for(&wt.path);
        let run = self
            .engine
            .ports
            .commands
            .run(&wt.path, &test_command, self.settings().command_timeout)
            .await?;
        let passed = run.success();
        metrics::counter!("foreman_test_runs_total", "result" => if passed { "pass" } else { "fail" }).increment(1);
        self.emit(
            NewEvent::new(if passed { EventType::FullTestPass } else { EventType::FullTestFail }, format!("full test suite {}", if passed { "passed" } else { "failed" }))
                .ticket(&t.id)
                .details(json!({"command": test_command, "exit_code": run.exit_code, "output_tail": tail(&run.output, 2000)})),
        )
        .await;
        if !passed {
            self.fail_ticket(
                &t.id,
                FailureClass::TestAssertion,
                &format!("full test suite failed:\n{}", tail(&run.output, 1500)),
            )
            .await?;
            return Ok(Step::Release);
        }
        let evidence = TestEvidence {
            command: test_command.clone(),
            passed,
            summary: tail(&run.output, 800),
        };
        // The final review of the whole change.
        let diff = repo
            .diff(
                &wt,
                &DiffSpec::Range {
                    base: onto.clone(),
                    head: "HEAD".into(),
                },
            )
            .await?;
        let review: Review = self
            .ask(
                "final_reviewer",
                "final-reviewer",
                &t,
                None,
                format!(
                    "{}\n\n## The whole change\n```diff\n{}\n```",
                    ticket_brief(&t),
                    diff.text
                ),
                review_tool(),
            )
            .await?;
        if !review.approved {
            self.emit(
                NewEvent::new(
                    EventType::FinalReviewFail,
                    "final review rejected the change",
                )
                .ticket(&t.id)
                .details(json!({"issues": review.issues, "summary": review.summary})),
            )
            .await;
            self.fail_ticket(
                &t.id,
                FailureClass::Quality,
                &format!("final review: {}", review.issues.join("; ")),
            )
            .await?;
            return Ok(Step::Release);
        }
        self.emit(
            NewEvent::new(EventType::FinalReviewPass, "final review passed")
                .ticket(&t.id)
                .details(json!({"summary": review.summary})),
        )
        .await;
        self.open_pr(&t, &wt, &tasks, &evidence).await
    }

    async fn open_pr(
        &self,
        t: &Ticket,
        wt: &Worktree,
        tasks: &[Task],
        evidence: &TestEvidence,
    ) -> PipelineResult<Step> {
        let repo = &self.project.repo;
        repo.push(&wt.branch, &PushLease::Tracking).await?;
        let t = self.ticket(&t.id).await?;
        let partial = t.is_partial;
        let new = NewPullRequest {
            title: pr_body::title(&t, partial),
            body: pr_body::body(&t, None, tasks, evidence),
            head: wt.branch.clone(),
            base: repo.default_branch().to_owned(),
            draft: partial,
            labels: vec!["foreman".into()],
            reviewers: Vec::new(),
        };
        let mut pr = self.create_pr_once(&t, &new).await?;
        if pr.draft != new.draft || pr.title != new.title {
            // the pull request of an earlier (partial) run: bring it up to date
            match self
                .project
                .host
                .update_pr(pr.number, &new.title, &new.body, new.draft)
                .await
            {
                Ok(updated) => pr = updated,
                Err(e) => {
                    self.emit(
                        NewEvent::new(
                            EventType::PrUpdated,
                            format!("pull request #{} could not be updated: {e}", pr.number),
                        )
                        .ticket(&t.id)
                        .details(json!({"error": e.code()})),
                    )
                    .await;
                }
            }
        }
        let t = self
            .patch(
                &t.id,
                TicketPatch {
                    pr_url: Some(pr.url.clone()),
                    pr_number: Some(Some(pr.number)),
                    ..TicketPatch::default()
                },
            )
            .await?;
        let (event, msg) = if partial {
            metrics::counter!("foreman_partial_prs_total").increment(1);
            (
                EventType::PartialPrCreated,
                format!("draft partial pull request #{} opened", pr.number),
            )
        } else {
            (
                EventType::PrCreated,
                format!("pull request #{} opened", pr.number),
            )
        };
        // once: a run that died before the status change below comes back through here
        self.engine
            .emit_once(
                NewEvent::new(event, msg)
                    .ticket(&t.id)
                    .details(json!({"url": pr.url, "number": pr.number, "head_sha": pr.head_sha})),
            )
            .await;
        self.move_to(&t, TicketStatus::PrCreated).await?;
        Ok(Step::Continue)
    }

    /// Creates the pull request through the outbox: a crash between "created at the host" and
    /// "recorded here" finds the existing pull request instead of opening a second one.
    async fn create_pr_once(
        &self,
        t: &Ticket,
        new: &NewPullRequest,
    ) -> PipelineResult<PullRequest> {
        let key = format!("pr:{}", t.id);
        let entry = self
            .store()
            .enqueue(
                &key,
                Some(&t.id),
                "create_pr",
                serde_json::to_value(new).unwrap_or(Value::Null),
            )
            .await?;
        if entry.state == "done"
            && let Some(result) = entry.result
            && let Ok(pr) = serde_json::from_value::<PullRequest>(result)
        {
            return Ok(pr);
        }
        let host = &self.project.host;
        let pr = match host.find_pr(&new.head).await? {
            Some(existing) => existing,
            None => host.create_pr(new).await?,
        };
        self.store()
            .complete_outbox(&key, serde_json::to_value(&pr).unwrap_or(Value::Null))
            .await?;
        Ok(pr)
    }

    async fn after_pr(&self, t: &Ticket) -> PipelineResult<Step> {
        let key = format!("comment:pr:{}", t.id);
        let entry = self
            .store()
            .enqueue(
                &key,
                Some(&t.id),
                "tracker_comment",
                json!({"pr_url": t.pr_url}),
            )
            .await?;
        if entry.state != "done" {
            let tracker = &self.project.tracker;
            let body = format!("Foreman opened a pull request: {}", t.pr_url);
            tracker.add_comment(&t.external_id, &body).await?;
            tracker
                .attach_pr(&t.external_id, &t.pr_url, &t.title)
                .await?;
            tracker
                .update_status(&t.external_id, TrackerStatus::InReview)
                .await?;
            self.store()
                .complete_outbox(&key, json!({"posted": true}))
                .await?;
            self.emit(
                NewEvent::new(
                    EventType::TrackerCommentPosted,
                    "pull request link posted to the tracker",
                )
                .ticket(&t.id),
            )
            .await;
        }
        let to = if t.is_partial {
            TicketStatus::Partial
        } else {
            TicketStatus::AwaitingMerge
        };
        self.move_to(t, to).await?;
        // the work is on pushed branches (a retry checks them out again), and every live
        // worktree makes git's worktree bookkeeping, which scans them all, slower
        self.engine.remove_worktrees(t).await;
        Ok(Step::Release)
    }

    async fn resolve_conflicts(
        &self,
        t: &Ticket,
        wt: &Worktree,
        files: &[String],
        kind: &str,
    ) -> PipelineResult<bool> {
        let mut task = AgentTask::new(format!("Resolve the {kind} conflicts"));
        task.ticket_id = Some(t.id.clone());
        task.role = AgentRole::ConflictResolver;
        task.ticket_title = t.title.clone();
        task.ticket_description = t.description.clone();
        task.description = format!(
            "These files have {kind} conflict markers: {}. Resolve every conflict keeping the intent of both sides, remove all markers, and make the tests pass.",
            files.join(", ")
        );
        task.files = files.to_vec();
        let mut limits = self.settings().agent_limits.clone();
        limits.token_budget = self.settings().conflict_resolution_token_budget;
        let outcome = self
            .engine
            .ports
            .agent
            .run(
                &AgentRequest::new(task, &wt.path).with_limits(limits),
                &foreman_domain::agent::NoAgentProgress,
            )
            .await?;
        if !outcome.is_completed() {
            return Ok(false);
        }
        for f in files {
            let text = std::fs::read_to_string(wt.path.join(f)).unwrap_or_default();
            if text.contains("<<<<<<<") || text.contains(">>>>>>>") {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn ask<T: for<'de> Deserialize<'de>>(
        &self,
        role: &'static str,
        prompt: &str,
        t: &Ticket,
        task: Option<&Task>,
        user: String,
        def: ToolDefinition,
    ) -> PipelineResult<T> {
        ask(self.engine, role, prompt, t, task, user, def).await
    }
}

/// Asks a role for structured output through a forced tool call.
async fn ask<T: for<'de> Deserialize<'de>>(
    engine: &Engine,
    role: &'static str,
    prompt: &str,
    t: &Ticket,
    task: Option<&Task>,
    user: String,
    def: ToolDefinition,
) -> PipelineResult<T> {
    let vars = json!({
        "ticket": {"id": t.id, "external_id": t.external_id, "title": t.title, "description": t.description, "acceptance_criteria": t.acceptance_criteria},
        "task": task.map(|x| json!({"sequence": x.sequence, "title": x.title, "description": x.description, "acceptance_criteria": x.acceptance_criteria})),
    });
    let rendered = engine.ports.prompts.render(prompt, &vars)?;
    let name = def.name.clone();
    let mut request = LlmRequest::new(engine.settings.model_for(role), user);
    request.system = Some(rendered.text);
    request.tools = vec![def];
    request.tool_choice = Some(ToolChoice::Tool { name: name.clone() });
    request.max_tokens = 8192;
    request.cache.system = true;
    request.cache.tools = true;
    request.context = CallContext {
        role: role.to_owned(),
        ticket_id: Some(t.id.clone()),
        task_id: task.map(|x| x.id.clone()),
        runner: "builtin".into(),
        prompt_version: Some(rendered.version),
    };
    let response = engine.ports.llm.complete(&request).await?;
    let input = response.tool_input(&name).cloned();
    let tool_name: &'static str = match name.as_str() {
        "submit_plan" => "submit_plan",
        "submit_review" => "submit_review",
        "submit_clarification" => "submit_clarification",
        _ => "structured output",
    };
    let input = input.ok_or(PipelineError::MissingToolOutput {
        role,
        tool: tool_name,
    })?;
    serde_json::from_value(input).map_err(|_| PipelineError::MissingToolOutput {
        role,
        tool: tool_name,
    })
}

fn tool(name: &str, description: &str, schema: Value) -> ToolDefinition {
    ToolDefinition {
        name: name.to_owned(),
        description: description.to_owned(),
        input_schema: schema,
    }
}

fn review_tool() -> ToolDefinition {
    tool(
        "submit_review",
        "Submit the review verdict.",
        json!({"type": "object", "required": ["approved"], "properties": {
            "approved": {"type": "boolean"},
            "issues": {"type": "array", "items": {"type": "string"}},
            "summary": {"type": "string"}
        }}),
    )
}

fn ticket_brief(t: &Ticket) -> String {
    format!(
        "# {} {}\n\n{}\n\n## Acceptance criteria\n{}",
        t.external_id,
        t.title,
        t.description.trim(),
        if t.acceptance_criteria.trim().is_empty() {
            "(none given)"
        } else {
            t.acceptance_criteria.trim()
        }
    )
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

/// Files of a worktree (relative, sorted, `.git` skipped), at most `max`.
fn list_files(root: &Path, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == ".git" || name == "node_modules" || name == "target" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out.truncate(max);
    out
}

fn error_class_of(error: &str) -> Option<FailureClass> {
    let prefix = error.split(':').next()?;
    [
        FailureClass::Compile,
        FailureClass::TestAssertion,
        FailureClass::Lint,
        FailureClass::Spec,
        FailureClass::Quality,
        FailureClass::Budget,
        FailureClass::RateLimit,
        FailureClass::Infrastructure,
    ]
    .into_iter()
    .find(|c| c.as_str() == prefix)
}

/// Runs one task: red, green, gates, reviews, commit.
struct TaskRunner {
    engine: Engine,
    project: ProjectRuntime,
    fence: FencingToken,
    cancel: CancellationToken,
    ticket: Ticket,
}

impl TaskRunner {
    fn check(&self) -> PipelineResult<()> {
        if self.cancel.is_cancelled() {
            Err(PipelineError::LeaseLost)
        } else {
            Ok(())
        }
    }

    async fn emit(&self, event: NewEvent) {
        self.engine.emit(event).await;
    }

    async fn task(&self, id: &foreman_domain::TaskId) -> PipelineResult<Task> {
        self.engine.ports.store.get_task(id).await?.ok_or_else(|| {
            PipelineError::Store(foreman_domain::StoreError::not_found("task", id.as_str()))
        })
    }

    async fn set_status(&self, task: &Task, to: TaskStatus) -> PipelineResult<Task> {
        self.check()?;
        if task.status == to {
            return Ok(task.clone());
        }
        let next = self
            .engine
            .ports
            .store
            .transition_task(&task.id, task.status, to, Some(self.fence))
            .await?;
        if to.is_terminal() {
            metrics::counter!("foreman_tasks_total", "status" => to.as_str()).increment(1);
        }
        Ok(next)
    }

    async fn update(&self, task: &Task, patch: TaskPatch) -> PipelineResult<Task> {
        self.check()?;
        Ok(self
            .engine
            .ports
            .store
            .update_task(&task.id, patch, Some(self.fence))
            .await?)
    }

    async fn run(self, task: Task) -> PipelineResult<()> {
        let result = self.attempt(task.clone()).await;
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.is_interruption() || e.class() == FailureClass::Budget => Err(e),
            Err(e) => {
                let current = self.task(&task.id).await?;
                self.fail(&current, e.class(), &e.to_string()).await?;
                Err(e)
            }
        }
    }

    async fn fail(&self, task: &Task, class: FailureClass, message: &str) -> PipelineResult<()> {
        let task = self
            .update(
                task,
                TaskPatch {
                    last_error: Some(Some(format!("{}: {}", class.as_str(), tail(message, 1500)))),
                    ..TaskPatch::default()
                },
            )
            .await?;
        if !task.status.is_terminal() {
            self.set_status(&task, TaskStatus::Failed).await?;
        }
        self.emit(
            NewEvent::new(
                EventType::TaskFailed,
                format!("task {} failed: {}", task.sequence, class.as_str()),
            )
            .ticket(&task.ticket_id)
            .task(&task.id)
            .details(json!({"error_type": class.as_str(), "error": tail(message, 1500)})),
        )
        .await;
        Ok(())
    }

    /// Marks a committed task done and advances the ticket's last completed step. `task_done`
    /// is written first (once): a run that dies before the status change comes back here and
    /// finds it written, so the event is neither lost nor doubled.
    async fn finish_done(&self, task: &Task, sha: &str, wt: &Worktree) -> PipelineResult<()> {
        self.engine
            .emit_once(
                NewEvent::new(EventType::TaskDone, format!("task {} done", task.sequence))
                    .ticket(&task.ticket_id)
                    .task(&task.id)
                    .details(json!({"commit_sha": sha})),
            )
            .await;
        self.set_status(task, TaskStatus::Done).await?;
        let store = &self.engine.ports.store;
        if let Some(t) = store.get_ticket(&self.ticket.id).await?
            && task.sequence > t.last_completed_task_seq
        {
            store
                .update_ticket(
                    &t.id,
                    TicketPatch {
                        last_completed_task_seq: Some(task.sequence),
                        ..TicketPatch::default()
                    },
                    Some(self.fence),
                )
                .await?;
        }
        // The commit is on the task branch and pushed: the worktree has served. Every live
        // worktree makes git's worktree bookkeeping (which scans them all) slower. The ticket's
        // own worktree (a ticket's only task works in it) stays for integration.
        if wt.path.file_name() != Some(TICKET_WORKTREE.as_ref())
            && let Err(e) = self.project.repo.remove_worktree(wt, false).await
        {
            tracing::warn!(task = %task.id, error = %e, "cannot remove a done task's worktree");
        }
        Ok(())
    }

    /// The task's worktree, fresh for this run. Work of an earlier run that was never
    /// recorded as committed (the process died mid-task, or a failed task is retried) is
    /// discarded and the task branch restarts from the ticket branch, so the red→green proof
    /// always starts from unchanged code. A task whose commit was recorded keeps its branch.
    async fn worktree(&self, task: &Task) -> PipelineResult<Worktree> {
        let repo = &self.project.repo;
        let ticket_branch = self.ticket.branch_name.clone();
        let branch = task_branch_name(&ticket_branch, task.sequence);
        let committed = task.commit_sha.is_some();
        let name = format!("task-{}", task.sequence);
        let worktrees = repo.ticket_worktrees(&self.ticket.id).await?;
        if self
            .engine
            .ports
            .store
            .list_tasks(&self.ticket.id)
            .await?
            .len()
            == 1
            && let Some(wt) = worktrees
                .iter()
                .find(|w| w.path.file_name() == Some(TICKET_WORKTREE.as_ref()))
        {
            // The only task works in the ticket's worktree on its own branch: switching a
            // worktree's branch costs a fraction of adding a worktree, and integration
            // switches it back. A branch other than the ticket's or this task's (a detached
            // HEAD after a crash mid-rebase) is the ticket branch's to restore.
            let on = if wt.branch == branch || wt.branch == ticket_branch {
                wt.branch.clone()
            } else {
                ticket_branch.clone()
            };
            // a worktree of this task's own (left by a run of an earlier version) would hold
            // the task branch: git checks a branch out in one worktree at a time
            if let Some(own) = worktrees.iter().find(|w| {
                w.path != wt.path
                    && (w.branch == branch || w.path.file_name() == Some(name.as_ref()))
            }) {
                // stops what a dead run may still have running in it; the removal follows
                // whatever state it is in
                if let Err(e) = repo.recover_worktree(own).await {
                    tracing::warn!(path = %own.path.display(), error = %e, "cannot recover a leftover task worktree");
                }
                repo.remove_worktree(own, false).await?;
            }
            let wt = Worktree {
                branch: on,
                ..wt.clone()
            };
            repo.recover_worktree(&wt).await?;
            let start = (!committed).then_some(ticket_branch.as_str());
            return Ok(repo.switch_branch(&wt, &branch, start).await?);
        }
        if let Some(wt) = worktrees
            .into_iter()
            .find(|w| w.branch == branch || w.path.file_name() == Some(name.as_ref()))
        {
            // stops what a dead run may still have running in it
            let wt = Worktree {
                branch: branch.clone(),
                ..wt
            };
            repo.recover_worktree(&wt).await?;
            repo.remove_worktree(&wt, !committed).await?;
        } else if !committed {
            repo.delete_branch(&branch).await?;
        }
        let wt = repo
            .add_worktree(&WorktreeSpec {
                ticket_id: self.ticket.id.clone(),
                name,
                branch,
                start_point: ticket_branch,
            })
            .await?;
        Ok(wt)
    }

    async fn run_tests(&self, wt: &Worktree) -> PipelineResult<(TestOutcome, String)> {
        let out = self
            .engine
            .ports
            .commands
            .run(
                &wt.path,
                &self.project.test_command_for(&wt.path),
                self.engine.settings.command_timeout,
            )
            .await?;
        let exit = if out.timed_out { None } else { out.exit_code };
        let outcome = classify_test_run(exit, &out.output);
        metrics::counter!("foreman_test_runs_total", "result" => match outcome {
            TestOutcome::Passed => "pass",
            TestOutcome::AssertionFailure => "fail",
            TestOutcome::BuildFailure => "error",
            TestOutcome::NoTests => "no_tests",
            TestOutcome::TimedOut => "timeout",
        })
        .increment(1);
        Ok((outcome, out.output))
    }

    async fn agent(
        &self,
        task: &Task,
        wt: &Worktree,
        phase: &str,
        feedback: Option<String>,
    ) -> PipelineResult<AgentOutcome> {
        self.check()?;
        if task.total_llm_calls >= self.engine.settings.max_llm_calls_per_task {
            return Err(PipelineError::LimitReached(format!(
                "task {} made {} LLM calls (max_llm_calls_per_task = {})",
                task.sequence, task.total_llm_calls, self.engine.settings.max_llm_calls_per_task
            )));
        }
        let mut spec = AgentTask::from_task(&self.ticket, task);
        let instructions = match phase {
            "tests" => {
                "PHASE: TESTS. Write the failing tests for this task only; do not implement the change yet. The tests must fail because the behaviour is missing (an assertion), not because of a syntax or import error."
            }
            _ => {
                "PHASE: IMPLEMENT. Implement the change so that the tests pass. Do not weaken or delete the tests."
            }
        };
        spec.feedback = Some(match feedback {
            Some(f) => format!("{instructions}\n\n{f}"),
            None => instructions.to_owned(),
        });
        // The last implementation attempt may run on a stronger model.
        let last_attempt = phase != "tests"
            && u32::try_from(task.implementation_attempts).unwrap_or(0)
                >= self.engine.settings.max_implementation_retries
            && self.engine.settings.max_implementation_retries > 1;
        let model = self
            .engine
            .settings
            .escalation_model
            .clone()
            .filter(|_| last_attempt);
        if let Some(m) = &model {
            self.emit(
                NewEvent::new(
                    EventType::TaskEscalated,
                    format!("task {}: last attempt escalated to {m}", task.sequence),
                )
                .ticket(&task.ticket_id)
                .task(&task.id)
                .details(json!({"escalation_model": m})),
            )
            .await;
        }
        let request = AgentRequest::new(spec, &wt.path)
            .with_limits(self.engine.settings.agent_limits.clone())
            .with_model(model);
        let outcome = self
            .engine
            .ports
            .agent
            .run(&request, &foreman_domain::agent::NoAgentProgress)
            .await?;
        let mut ctx = outcome.context;
        ctx.files_touched = i64::try_from(outcome.files_changed.len()).unwrap_or(i64::MAX);
        self.update(
            task,
            TaskPatch {
                context: Some(ctx),
                ..TaskPatch::default()
            },
        )
        .await?;
        if outcome.stop_reason == AgentStopReason::CostBudget
            || (outcome.stop_reason == AgentStopReason::LlmError
                && outcome
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("budget")))
        {
            return Err(PipelineError::BudgetExhausted(
                outcome
                    .error
                    .unwrap_or_else(|| "the agent ran out of budget".into()),
            ));
        }
        Ok(outcome)
    }

    async fn attempt(&self, task: Task) -> PipelineResult<()> {
        let settings = self.engine.settings.clone();
        let wt = self.worktree(&task).await?;
        let mut task = task;
        if let Some(sha) = task.commit_sha.clone()
            && matches!(
                task.status,
                TaskStatus::Implementing
                    | TaskStatus::Verifying
                    | TaskStatus::SpecReview
                    | TaskStatus::QualityReview
            )
        {
            // Committed and recorded before the process stopped (in whichever step committed
            // it, the quality review when there is one): only the push and the status change
            // may be missing.
            self.project
                .repo
                .push(&wt.branch, &PushLease::Tracking)
                .await?;
            return self.finish_done(&task, &sha, &wt).await;
        }
        if task.status == TaskStatus::Pending {
            task = self.set_status(&task, TaskStatus::Implementing).await?;
            task = self
                .update(
                    &task,
                    TaskPatch {
                        started_at: Some(Some(foreman_domain::now())),
                        ..TaskPatch::default()
                    },
                )
                .await?;
            self.emit(
                NewEvent::new(
                    EventType::TaskStarted,
                    format!("task {}: {}", task.sequence, task.title),
                )
                .ticket(&task.ticket_id)
                .task(&task.id),
            )
            .await;
        }
        let ev = |t: EventType, msg: String, task: &Task| {
            NewEvent::new(t, msg).ticket(&task.ticket_id).task(&task.id)
        };
        let mut feedback: Option<String> = task
            .last_error
            .clone()
            .map(|e| format!("The previous attempt failed:\n{e}"));
        let mut red_proven = !settings.enable_tdd_verification;
        let mut spec_rounds = 0u32;
        let mut quality_rounds = 0u32;
        loop {
            self.check()?;
            task = self.task(&task.id).await?;
            if u32::try_from(task.implementation_attempts).unwrap_or(0)
                >= settings.max_implementation_retries
            {
                let msg = feedback.unwrap_or_else(|| "no passing implementation".into());
                let class = if msg.contains("spec review") {
                    FailureClass::Spec
                } else if msg.contains("quality review") {
                    FailureClass::Quality
                } else {
                    FailureClass::TestAssertion
                };
                self.fail(&task, class, &msg).await?;
                return Ok(());
            }
            task = self
                .update(
                    &task,
                    TaskPatch {
                        implementation_attempts: Some(task.implementation_attempts + 1),
                        ..TaskPatch::default()
                    },
                )
                .await?;
            if task.status != TaskStatus::Implementing {
                task = self.set_status(&task, TaskStatus::Implementing).await?;
            }
            if task.implementation_attempts > 1 {
                metrics::counter!("foreman_retries_total", "role" => "implementer").increment(1);
            }
            // Red: the new tests fail for an assertion reason before the change.
            if !red_proven {
                let outcome = self.agent(&task, &wt, "tests", feedback.take()).await?;
                if !outcome.is_completed() {
                    feedback = Some(format!(
                        "You stopped without completing ({}). Write the tests and call complete.",
                        outcome.stop_reason
                    ));
                    continue;
                }
                task = self
                    .set_status(&self.task(&task.id).await?, TaskStatus::Verifying)
                    .await?;
                let (red, output) = self.run_tests(&wt).await?;
                match red {
                    TestOutcome::AssertionFailure => {
                        red_proven = true;
                    }
                    TestOutcome::Passed | TestOutcome::NoTests => {
                        metrics::counter!("foreman_tdd_verify_total", "result" => "fail")
                            .increment(1);
                        self.emit(ev(
                            EventType::TaskTddVerifyFail,
                            format!(
                                "task {}: the new tests pass before the change",
                                task.sequence
                            ),
                            &task,
                        ))
                        .await;
                        feedback = Some(format!(
                            "TDD check failed: the tests you wrote already pass (or none ran) before the change, so they prove nothing. Write tests that fail until the task is implemented.\n\nTest output:\n{}",
                            tail(&output, 3000)
                        ));
                        continue;
                    }
                    TestOutcome::BuildFailure | TestOutcome::TimedOut => {
                        metrics::counter!("foreman_tdd_verify_total", "result" => "invalid_red")
                            .increment(1);
                        self.emit(
                            ev(
                                EventType::TaskTddVerifyInvalidRed,
                                format!(
                                    "task {}: the new tests fail for a build or import reason",
                                    task.sequence
                                ),
                                &task,
                            )
                            .details(json!({"output_tail": tail(&output, 1500)})),
                        )
                        .await;
                        feedback = Some(format!(
                            "TDD check failed: the tests must fail on an assertion, but they do not build or import. Add whatever stubs are needed so they compile and fail on an assertion.\n\nTest output:\n{}",
                            tail(&output, 3000)
                        ));
                        continue;
                    }
                }
                task = self
                    .set_status(&self.task(&task.id).await?, TaskStatus::Implementing)
                    .await?;
            }
            // Green: implement, then the tests pass.
            let outcome = self.agent(&task, &wt, "implement", feedback.take()).await?;
            if !outcome.is_completed() {
                feedback = Some(format!(
                    "You stopped without completing ({}).",
                    outcome.stop_reason
                ));
                continue;
            }
            task = self
                .set_status(&self.task(&task.id).await?, TaskStatus::Verifying)
                .await?;
            let (green, output) = self.run_tests(&wt).await?;
            if green != TestOutcome::Passed {
                if settings.enable_tdd_verification {
                    metrics::counter!("foreman_tdd_verify_total", "result" => "fail").increment(1);
                    self.emit(ev(
                        EventType::TaskTddVerifyFail,
                        format!("task {}: tests still fail after the change", task.sequence),
                        &task,
                    ))
                    .await;
                }
                self.emit(
                    ev(
                        EventType::TaskTestsFail,
                        format!("task {}: tests fail", task.sequence),
                        &task,
                    )
                    .details(json!({"output_tail": tail(&output, 1500)})),
                )
                .await;
                feedback = Some(format!(
                    "The tests fail after your change:\n{}",
                    tail(&output, 3000)
                ));
                continue;
            }
            if settings.enable_tdd_verification {
                metrics::counter!("foreman_tdd_verify_total", "result" => "pass").increment(1);
                self.emit(ev(
                    EventType::TaskTddVerifyPass,
                    format!("task {}: red → green verified", task.sequence),
                    &task,
                ))
                .await;
            }
            self.emit(ev(
                EventType::TaskTestsPass,
                format!("task {}: tests pass", task.sequence),
                &task,
            ))
            .await;
            if let Some(lint) = &self.project.lint_command {
                let out = self
                    .engine
                    .ports
                    .commands
                    .run(&wt.path, lint, settings.command_timeout)
                    .await?;
                if !out.success() {
                    self.emit(ev(
                        EventType::TaskLintFail,
                        format!("task {}: lint failed", task.sequence),
                        &task,
                    ))
                    .await;
                    feedback = Some(format!(
                        "The linter ({lint}) failed:\n{}",
                        tail(&out.output, 3000)
                    ));
                    continue;
                }
                self.emit(ev(
                    EventType::TaskLintPass,
                    format!("task {}: lint passed", task.sequence),
                    &task,
                ))
                .await;
            }
            // Reviews.
            let diff = self.project.repo.diff(&wt, &DiffSpec::WorkingTree).await?;
            task = self
                .set_status(&self.task(&task.id).await?, TaskStatus::SpecReview)
                .await?;
            let spec: Review = self
                .review(&task, "spec_reviewer", "spec-reviewer", &diff.text)
                .await?;
            spec_rounds += 1;
            task = self
                .update(
                    &task,
                    TaskPatch {
                        spec_review_attempts: Some(task.spec_review_attempts + 1),
                        ..TaskPatch::default()
                    },
                )
                .await?;
            if !spec.approved {
                self.emit(
                    ev(
                        EventType::TaskSpecReviewFail,
                        format!("task {}: spec review asked for changes", task.sequence),
                        &task,
                    )
                    .details(json!({"issues": spec.issues})),
                )
                .await;
                metrics::counter!("foreman_retries_total", "role" => "spec_reviewer").increment(1);
                let msg = format!(
                    "The spec review asked for changes:\n- {}",
                    spec.issues.join("\n- ")
                );
                if spec_rounds >= settings.max_spec_review_cycles {
                    self.fail(&task, FailureClass::Spec, &msg).await?;
                    return Ok(());
                }
                feedback = Some(msg);
                continue;
            }
            self.emit(ev(
                EventType::TaskSpecReviewPass,
                format!("task {}: spec review passed", task.sequence),
                &task,
            ))
            .await;
            task = self.set_status(&task, TaskStatus::QualityReview).await?;
            let quality: Review = self
                .review(&task, "quality_reviewer", "quality-reviewer", &diff.text)
                .await?;
            quality_rounds += 1;
            task = self
                .update(
                    &task,
                    TaskPatch {
                        quality_review_attempts: Some(task.quality_review_attempts + 1),
                        ..TaskPatch::default()
                    },
                )
                .await?;
            if !quality.approved {
                self.emit(
                    ev(
                        EventType::TaskQualityReviewFail,
                        format!("task {}: quality review asked for changes", task.sequence),
                        &task,
                    )
                    .details(json!({"issues": quality.issues})),
                )
                .await;
                metrics::counter!("foreman_retries_total", "role" => "quality_reviewer")
                    .increment(1);
                let msg = format!(
                    "The quality review asked for changes:\n- {}",
                    quality.issues.join("\n- ")
                );
                if quality_rounds >= settings.max_quality_review_cycles {
                    self.fail(&task, FailureClass::Quality, &msg).await?;
                    return Ok(());
                }
                feedback = Some(msg);
                continue;
            }
            self.emit(ev(
                EventType::TaskQualityReviewPass,
                format!("task {}: quality review passed", task.sequence),
                &task,
            ))
            .await;
            // Commit and checkpoint.
            let message = format!(
                "{}: {}\n\nTask {} of {}.",
                self.ticket.external_id, task.title, task.sequence, self.ticket.title
            );
            let sha = match self.project.repo.commit_all(&wt, &message).await? {
                Some(sha) => sha,
                None => self.project.repo.head(&wt).await?,
            };
            self.project
                .repo
                .push(&wt.branch, &PushLease::Tracking)
                .await?;
            task = self
                .update(
                    &task,
                    TaskPatch {
                        commit_sha: Some(Some(sha.clone())),
                        last_error: Some(None),
                        ..TaskPatch::default()
                    },
                )
                .await?;
            self.emit(
                ev(
                    EventType::TaskCommitted,
                    format!(
                        "task {} committed {}",
                        task.sequence,
                        &sha[..sha.len().min(10)]
                    ),
                    &task,
                )
                .details(json!({"commit_sha": sha})),
            )
            .await;
            return self.finish_done(&task, &sha, &wt).await;
        }
    }

    async fn review(
        &self,
        task: &Task,
        role: &'static str,
        prompt: &str,
        diff: &str,
    ) -> PipelineResult<Review> {
        let user = format!(
            "{}\n\n## Task {}: {}\n{}\n\n### Acceptance criteria\n{}\n\n## The change\n```diff\n{}\n```",
            ticket_brief(&self.ticket),
            task.sequence,
            task.title,
            task.description,
            task.acceptance_criteria,
            tail(diff, 60_000)
        );
        ask(
            &self.engine,
            role,
            prompt,
            &self.ticket,
            Some(task),
            user,
            review_tool(),
        )
        .await
    }
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
