//! One task, test-first: the implementer writes the tests (`TaskRun::write`),
//! `TaskRun::prove_red` (they fail on an assertion), the implementer changes the code,
//! `TaskRun::prove_green` (the tests pass), `TaskRun::gates` (the linter),
//! `TaskRun::review_round` (spec, then quality), `TaskRun::commit`. A step that rejects
//! the attempt sends it back to the implementer with feedback, until the attempts run out.
//!
//! Each phase is checkpointed as it completes (`Task::checkpoint`: the phase in the store, the
//! written work as a commit on the task branch), so a run that resumes the task after a crash
//! or a lost lease starts at the first unfinished phase: an interrupted attempt is continued,
//! not counted again, and finished LLM work (the tests, the code, a review's verdict) is not
//! asked for again.
//!
//! This file holds the attempt loop: `TaskRun`, what a step decides (`Next`), the feedback an
//! attempt goes back with (`Why`), and the checkpoint writes every step ends with. The steps
//! are methods of `TaskRun` in the files beside it, which import this one and are imported by
//! none: `commit` (the written work checkpointed, the task's commit, the task done), `prove`
//! (red and green), `review` (the gates and the review rounds), `execute` (the agent and the
//! test command) and `commit_gate`.

use foreman_domain::git::{Lease as PushLease, Worktree};
use foreman_domain::pipeline::{FailureClass, Phase, ReviewKind, Role};
use foreman_domain::{
    EventType, NewEvent, Task, TaskCheckpoint, TaskFeedback, TaskPatch, TaskPhase, TaskStatus,
    Ticket,
};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::context::Ctx;
use super::llm::Instruction;
use super::worktree::task_worktree;
use crate::error::PipelineResult;

/// Runs one task of a ticket on its own clone of the context.
pub(crate) struct TaskRun {
    pub(super) ctx: Ctx,
    pub(super) ticket: Ticket,
    /// The worktree holds work the commit gate would refuse, so it was not checkpointed: until
    /// a later checkpoint commits it, phases are tracked in memory only (a restart goes back to
    /// the last recorded phase and its commit).
    pub(super) unrecorded: AtomicBool,
    /// Since when the task branch holds work not yet pushed (the run's start, then each push
    /// of a checkpoint), and the branch when a checkpoint on it was not pushed: see
    /// `PipelineSettings::checkpoint_push_after`. A run that stops early (a cancel, a drain,
    /// a shutdown) pushes it on the way out.
    pub(super) unpushed: Mutex<(Instant, Option<String>)>,
}

/// What a step decided about the attempt.
pub(super) enum Next {
    /// Go on with the next step (the step checkpointed its phase).
    Pass,
    /// Back to the implementer with this feedback.
    Retry(Feedback),
    /// Back to the implementer; the step recorded the rejection itself, in the same write as
    /// what it counted.
    Rejected,
    /// The task fails now.
    Fail(FailureClass, String),
}

/// Feedback for the implementer's next attempt, with the class the task fails under if the
/// attempts run out on it (kept in the task's checkpoint until the implementer has answered).
pub(super) type Feedback = TaskFeedback;

/// Why an attempt goes back to the implementer: the `kind` of the feedback template.
#[derive(Debug, Clone, Copy)]
pub(super) enum Why {
    /// A failed run of this task, recorded before this run.
    PreviousAttempt,
    /// The agent stopped without calling `complete`.
    Incomplete,
    /// The new tests pass (or none ran) before the change.
    RedPasses,
    /// The new tests do not build or import.
    RedInvalid,
    /// The tests fail after the change.
    GreenFails,
    /// The linter failed.
    LintFails,
    /// A reviewer asked for changes.
    Review,
    /// The change adds secrets.
    Secret,
    /// The change breaks the commit path policy.
    CommitPolicy,
    /// The change breaks the project's validation rules (`error` violations).
    RulesFail,
    /// A blocking hook failed (`post_lint`, `post_task`).
    HookFailed,
}

impl Why {
    const fn kind(self) -> &'static str {
        match self {
            Self::PreviousAttempt => "previous_attempt",
            Self::Incomplete => "incomplete",
            Self::RedPasses => "red_passes",
            Self::RedInvalid => "red_invalid",
            Self::GreenFails => "green_fails",
            Self::LintFails => "lint_fails",
            Self::Review => "review",
            Self::Secret => "secret",
            Self::CommitPolicy => "commit_policy",
            Self::RulesFail => "rules_fail",
            Self::HookFailed => "hook_failed",
        }
    }
}

pub(super) fn event(kind: EventType, message: String, task: &Task) -> NewEvent {
    NewEvent::new(kind, message)
        .ticket(&task.ticket_id)
        .task(&task.id)
}

impl TaskRun {
    pub(crate) fn new(ctx: Ctx, ticket: Ticket) -> Self {
        Self {
            ctx,
            ticket,
            unrecorded: AtomicBool::new(false),
            unpushed: Mutex::new((Instant::now(), None)),
        }
    }

    /// Runs the task; a failure other than an interruption or a budget is recorded on it.
    pub(crate) async fn run(self, task: Task) -> PipelineResult<()> {
        match self.attempt(task.clone()).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_interruption() => {
                self.push_unpushed(&task).await;
                Err(e)
            }
            Err(e) if e.class().blocks() => Err(e),
            Err(e) => {
                let current = self.ctx.task(&task.id).await?;
                self.ctx
                    .fail_task(&current, e.class(), &e.to_string())
                    .await?;
                Err(e)
            }
        }
    }

    /// Pushes a checkpoint `write` kept back, best effort: the run stops here, and the work is
    /// then on the remote for whoever resumes the task (or looks at a cancelled one).
    async fn push_unpushed(&self, task: &Task) {
        let branch = self
            .unpushed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .take();
        if let Some(branch) = branch
            && let Err(e) = self
                .ctx
                .project
                .repo
                .push(&branch, &PushLease::Tracking)
                .await
        {
            tracing::warn!(task = %task.id, error = %e, "cannot push a task checkpoint");
        }
    }

    /// Renders the implementer's feedback.
    pub(super) fn feedback(
        &self,
        why: Why,
        class: FailureClass,
        vars: Value,
    ) -> PipelineResult<Feedback> {
        let mut vars = vars;
        vars["kind"] = why.kind().into();
        let text = self
            .ctx
            .instruction(Instruction::ImplementerFeedback, &vars)?;
        Ok(Feedback { class, text })
    }

    async fn attempt(&self, task: Task) -> PipelineResult<()> {
        let ctx = &self.ctx;
        let settings = ctx.engine.settings.clone();
        let (wt, restored) = task_worktree(ctx, &self.ticket, &task).await?;
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
            ctx.project
                .repo
                .push(&wt.branch, &PushLease::Tracking)
                .await?;
            return self.finish_done(&task, &sha, &wt).await;
        }
        if task.status == TaskStatus::Pending {
            task = self.start(&task).await?;
        } else if !restored && task.checkpoint.sha.is_some() {
            // The checkpointed work is not here (another node wrote it and never pushed it):
            // the open attempt starts over from unchanged code, still not counted again.
            let cp = TaskCheckpoint {
                phase: if task.checkpoint.attempt_open() {
                    TaskPhase::Started
                } else {
                    TaskPhase::Idle
                },
                red_proven: false,
                sha: None,
                feedback: task.checkpoint.feedback.clone(),
            };
            task = self.checkpoint(&task, cp, TaskPatch::default()).await?;
        }
        let mut previous = self.previous_failure(&task).await?;
        loop {
            ctx.check()?;
            task = ctx.task(&task.id).await?;
            if !task.checkpoint.attempt_open() {
                if u32::try_from(task.implementation_attempts).unwrap_or(0)
                    >= settings.max_implementation_retries
                {
                    let (class, msg) = task.checkpoint.feedback.clone().or(previous).map_or(
                        (
                            FailureClass::TestAssertion,
                            "no passing implementation".to_owned(),
                        ),
                        |f| (f.class, f.text),
                    );
                    ctx.fail_task(&task, class, &msg).await?;
                    return Ok(());
                }
                // A new attempt: counted and opened in one write, so an attempt a crash
                // interrupts is continued by the next run, never counted twice.
                let mut cp = task.checkpoint.clone();
                cp.phase = TaskPhase::Started;
                if cp.feedback.is_none() {
                    cp.feedback = previous.take();
                }
                task = self
                    .checkpoint(
                        &task,
                        cp,
                        TaskPatch {
                            implementation_attempts: Some(task.implementation_attempts + 1),
                            ..TaskPatch::default()
                        },
                    )
                    .await?;
                if task.implementation_attempts > 1 {
                    metrics::counter!("foreman_retries_total", "role" => Role::Implementer.as_str())
                        .increment(1);
                }
            }
            match self.steps(&mut task, &wt).await? {
                Next::Pass => {
                    let sha = task.commit_sha.clone().unwrap_or_default();
                    return self.finish_done(&task, &sha, &wt).await;
                }
                Next::Retry(f) => {
                    self.reject(&task, f, TaskPatch::default()).await?;
                }
                Next::Rejected => {}
                Next::Fail(class, msg) => {
                    ctx.fail_task(&task, class, &msg).await?;
                    return Ok(());
                }
            }
        }
    }

    /// The failure an earlier run recorded on the task (its last error), as feedback for the
    /// first attempt this run opens.
    async fn previous_failure(&self, task: &Task) -> PipelineResult<Option<Feedback>> {
        let Some(error) = task.last_error.clone() else {
            return Ok(None);
        };
        let mut f = self.feedback(
            Why::PreviousAttempt,
            FailureClass::TestAssertion,
            json!({"error": error}),
        )?;
        // attempts that ran out on a rejection keep the rejection's class
        if let Some(class) = self.ctx.task_failure_class(task).await.filter(|c| {
            matches!(
                c,
                FailureClass::Spec
                    | FailureClass::Quality
                    | FailureClass::Secret
                    | FailureClass::SandboxViolation
            )
        }) {
            f.class = class;
        }
        Ok(Some(f))
    }

    /// Runs the open attempt from the phase after its checkpoint up to the commit, each step
    /// checkpointing the phase it completes.
    async fn steps(&self, task: &mut Task, wt: &Worktree) -> PipelineResult<Next> {
        let tdd = self.ctx.settings().enable_tdd_verification;
        loop {
            self.ctx.check()?;
            let cp = &task.checkpoint;
            let next = match cp.phase {
                TaskPhase::Idle | TaskPhase::Started if tdd && !cp.red_proven => {
                    self.write(task, wt, Phase::Tests).await?
                }
                TaskPhase::Idle | TaskPhase::Started | TaskPhase::RedProven => {
                    self.write(task, wt, Phase::Implement).await?
                }
                TaskPhase::TestsWritten => self.prove_red(task, wt).await?,
                TaskPhase::ImplementationWritten => self.prove_green(task, wt).await?,
                TaskPhase::GreenProven => self.gates(task, wt).await?,
                TaskPhase::GatesPassed => self.post_task_then_review(task, wt).await?,
                TaskPhase::SpecReviewPassed => {
                    self.review_round(ReviewKind::Quality, task, wt).await?
                }
                TaskPhase::QualityReviewPassed => self.commit(task, wt).await?,
                TaskPhase::Committed => return Ok(Next::Pass),
            };
            if !matches!(next, Next::Pass) {
                return Ok(next);
            }
        }
    }

    /// Writes `cp` (and `also`) in one fenced write.
    pub(super) async fn checkpoint(
        &self,
        task: &Task,
        cp: TaskCheckpoint,
        also: TaskPatch,
    ) -> PipelineResult<Task> {
        self.ctx
            .patch_task(
                task,
                TaskPatch {
                    checkpoint: Some(cp),
                    ..also
                },
            )
            .await
    }

    /// Checkpoints `phase` as completed by the open attempt (with `also` in the same write).
    pub(super) async fn reach(
        &self,
        task: &mut Task,
        phase: TaskPhase,
        also: TaskPatch,
    ) -> PipelineResult<Next> {
        let mut cp = task.checkpoint.clone();
        cp.phase = phase;
        if phase == TaskPhase::RedProven {
            cp.red_proven = true;
        }
        if self.unrecorded.load(Ordering::Relaxed) {
            // the work this phase stands on is not committed: count what `also` counts, but
            // keep the phase in memory
            if also != TaskPatch::default() {
                *task = self.ctx.patch_task(task, also).await?;
            }
            task.checkpoint = cp;
            return Ok(Next::Pass);
        }
        *task = self.checkpoint(task, cp, also).await?;
        Ok(Next::Pass)
    }

    /// Closes the open attempt on a rejection: the feedback waits in the checkpoint for the
    /// implementer's next run (with `also` in the same write).
    pub(super) async fn reject(
        &self,
        task: &Task,
        feedback: Feedback,
        also: TaskPatch,
    ) -> PipelineResult<Task> {
        // with unrecorded work, the phases since the last checkpoint exist only in memory: the
        // recorded checkpoint is the one to close (the work stays in the worktree meanwhile)
        let mut cp = if self.unrecorded.load(Ordering::Relaxed) {
            self.ctx.task(&task.id).await?.checkpoint
        } else {
            task.checkpoint.clone()
        };
        cp.phase = TaskPhase::Idle;
        cp.feedback = Some(feedback);
        self.checkpoint(task, cp, also).await
    }

    /// `pending` → `implementing`, with `started_at` and `task_started`. A checkpoint left from
    /// before a retry is cleared first: the retried task starts from unchanged code.
    async fn start(&self, task: &Task) -> PipelineResult<Task> {
        let ctx = &self.ctx;
        let task = ctx
            .patch_task(
                task,
                TaskPatch {
                    started_at: Some(Some(foreman_domain::now())),
                    checkpoint: Some(TaskCheckpoint::default()),
                    ..TaskPatch::default()
                },
            )
            .await?;
        let task = ctx.set_task_status(&task, TaskStatus::Implementing).await?;
        ctx.emit(event(
            EventType::TaskStarted,
            format!("task {}: {}", task.sequence, task.title),
            &task,
        ))
        .await;
        Ok(task)
    }
}
