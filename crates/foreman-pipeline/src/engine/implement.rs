//! One task, test-first: the implementer writes the tests ([`TaskRun::write`]),
//! [`TaskRun::prove_red`] (they fail on an assertion), the implementer changes the code,
//! [`TaskRun::prove_green`] (the tests pass), [`TaskRun::gates`] (the linter),
//! [`TaskRun::review_round`] (spec, then quality), [`TaskRun::commit`]. A step that rejects
//! the attempt sends it back to the implementer with feedback, until the attempts run out.
//!
//! Each phase is checkpointed as it completes (`Task::checkpoint`: the phase in the store, the
//! written work as a commit on the task branch), so a run that resumes the task after a crash
//! or a lost lease starts at the first unfinished phase: an interrupted attempt is continued,
//! not counted again, and finished LLM work (the tests, the code, a review's verdict) is not
//! asked for again.

use foreman_domain::checkpoint::NewCheckpoint;
use foreman_domain::git::{DiffSpec, GitError, Lease as PushLease, Worktree};
use foreman_domain::pipeline::{FailureClass, Phase, ReviewKind, Role};
use foreman_domain::transcript::RecordKind;
use foreman_domain::{
    EventType, NewEvent, Task, TaskCheckpoint, TaskFeedback, TaskPatch, TaskPhase, TaskStatus,
    Ticket, TicketPatch,
};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};

use super::base::{TICKET_WORKTREE, kept_tail, tail};
use super::context::Ctx;
use super::llm::{Instruction, Review, Tool, ticket_brief};
use super::transcript::{agent_records, record};
use super::worktree::task_worktree;
use crate::classify::TestOutcome;
use crate::error::PipelineResult;

/// Most bytes of a test or lint run's output kept in the transcript (its tail).
const MAX_TRANSCRIPT_OUTPUT: usize = 6 * 1024;

/// Runs one task of a ticket on its own clone of the context.
pub(crate) struct TaskRun {
    pub(super) ctx: Ctx,
    pub(super) ticket: Ticket,
    /// The worktree holds work the commit gate would refuse, so it was not checkpointed: until
    /// a later checkpoint commits it, phases are tracked in memory only (a restart goes back to
    /// the last recorded phase and its commit).
    unrecorded: AtomicBool,
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
        }
    }

    /// Runs the task; a failure other than an interruption or a budget is recorded on it.
    pub(crate) async fn run(self, task: Task) -> PipelineResult<()> {
        match self.attempt(task.clone()).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_interruption() || e.class().blocks() => Err(e),
            Err(e) => {
                let current = self.ctx.task(&task.id).await?;
                self.ctx
                    .fail_task(&current, e.class(), &e.to_string())
                    .await?;
                Err(e)
            }
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
                TaskPhase::GatesPassed => self.review_round(ReviewKind::Spec, task, wt).await?,
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
    async fn checkpoint(
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
    async fn reach(
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
    async fn reject(
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

    /// The implementer's step of `phase` (the tests, or the code), answering the feedback the
    /// checkpoint holds; what it wrote is committed on the task branch and checkpointed.
    async fn write(&self, task: &mut Task, wt: &Worktree, phase: Phase) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        *task = ctx
            .set_task_status(&ctx.task(&task.id).await?, TaskStatus::Implementing)
            .await?;
        let feedback = task.checkpoint.feedback.clone();
        let outcome = self.agent(task, wt, phase, feedback).await?;
        let phase_name = match phase {
            Phase::Tests => "tests",
            Phase::Implement => "implement",
        };
        ctx.transcribe(agent_records(task, phase_name, &outcome))
            .await;
        if !outcome.is_completed() {
            return Ok(Next::Retry(self.feedback(
                Why::Incomplete,
                FailureClass::TestAssertion,
                json!({"stop_reason": outcome.stop_reason.to_string(), "phase": phase}),
            )?));
        }
        let sha = self.checkpoint_work(task, wt, phase).await?;
        let mut cp = task.checkpoint.clone();
        cp.phase = match phase {
            Phase::Tests => TaskPhase::TestsWritten,
            Phase::Implement => TaskPhase::ImplementationWritten,
        };
        cp.feedback = None;
        let Some(sha) = sha else {
            self.unrecorded.store(true, Ordering::Relaxed);
            task.checkpoint = cp;
            return Ok(Next::Pass);
        };
        self.unrecorded.store(false, Ordering::Relaxed);
        cp.sha = Some(sha);
        *task = self.checkpoint(task, cp, TaskPatch::default()).await?;
        // recorded first (what a restart here resumes from), then offered to other nodes
        if let Err(e) = self
            .ctx
            .project
            .repo
            .push(&wt.branch, &PushLease::Tracking)
            .await
        {
            tracing::warn!(task = %task.id, error = %e, "cannot push a task checkpoint");
        }
        Ok(Next::Pass)
    }

    /// Commits what the implementer wrote on the task branch (pushed, best effort, once
    /// recorded: the local commit is what a restart on this node resumes from; the pushed one
    /// lets another node resume). `None` when the commit gate
    /// would refuse the work (or `foreman-git`'s commit policy refuses it): it stays in the
    /// worktree, uncommitted, for the commit gate to send back.
    async fn checkpoint_work(
        &self,
        task: &Task,
        wt: &Worktree,
        phase: Phase,
    ) -> PipelineResult<Option<String>> {
        let repo = &self.ctx.project.repo;
        let pending = repo.diff(wt, &DiffSpec::WorkingTree).await?;
        if pending.truncated || !self.gate_would_pass(task, &pending.text).await {
            tracing::info!(task = %task.id, "work not checkpointed: the commit gate would refuse it");
            return Ok(None);
        }
        let message = match phase {
            Phase::Tests => format!(
                "{}: tests for {}\n\nTask {} of {}, written first.",
                self.ticket.external_id, task.title, task.sequence, self.ticket.title
            ),
            Phase::Implement => self.commit_message(task),
        };
        let sha = match repo.commit_all(wt, &message).await {
            Ok(Some(sha)) => sha,
            Ok(None) => repo.head(wt).await?,
            Err(GitError::CommitRefused { violations }) => {
                tracing::info!(task = %task.id, refused = violations.len(), "work not checkpointed: the commit policy refuses it");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Some(sha))
    }

    /// The task's commit message.
    fn commit_message(&self, task: &Task) -> String {
        format!(
            "{}: {}\n\nTask {} of {}.",
            self.ticket.external_id, task.title, task.sequence, self.ticket.title
        )
    }

    /// The task's whole change: what its branch has committed since it left the ticket branch,
    /// and anything not committed yet.
    async fn change(&self, wt: &Worktree) -> PipelineResult<String> {
        let repo = &self.ctx.project.repo;
        let committed = repo
            .diff(
                wt,
                &DiffSpec::Range {
                    base: self.ticket.branch_name.clone(),
                    head: wt.branch.clone(),
                },
            )
            .await?;
        let pending = repo.diff(wt, &DiffSpec::WorkingTree).await?;
        Ok(committed.text + &pending.text)
    }

    /// Red: the tests the implementer wrote must fail on an assertion before the change.
    async fn prove_red(&self, task: &mut Task, wt: &Worktree) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        *task = ctx
            .set_task_status(&ctx.task(&task.id).await?, TaskStatus::Verifying)
            .await?;
        let (red, output) = self.run_tests(wt).await?;
        self.transcribe_tests(task, "red", red, &output).await;
        let why = match red {
            TestOutcome::AssertionFailure => {
                return self
                    .reach(task, TaskPhase::RedProven, TaskPatch::default())
                    .await;
            }
            TestOutcome::Passed | TestOutcome::NoTests => {
                self.tdd_verdict(
                    "fail",
                    event(
                        EventType::TaskTddVerifyFail,
                        format!(
                            "task {}: the new tests pass before the change",
                            task.sequence
                        ),
                        task,
                    ),
                )
                .await;
                Why::RedPasses
            }
            TestOutcome::BuildFailure | TestOutcome::TimedOut => {
                self.tdd_verdict(
                    "invalid_red",
                    event(
                        EventType::TaskTddVerifyInvalidRed,
                        format!(
                            "task {}: the new tests fail for a build or import reason",
                            task.sequence
                        ),
                        task,
                    )
                    .details(json!({"output_tail": kept_tail(&output, 1500)})),
                )
                .await;
                Why::RedInvalid
            }
        };
        Ok(Next::Retry(self.feedback(
            why,
            FailureClass::TestAssertion,
            json!({"output": kept_tail(&output, 3000)}),
        )?))
    }

    /// Records a test run in the transcript: the output's tail (redacted), what it showed.
    async fn transcribe_tests(&self, task: &Task, phase: &str, outcome: TestOutcome, output: &str) {
        let passed = outcome == TestOutcome::Passed;
        self.ctx
            .transcribe(vec![record(
                task,
                0,
                RecordKind::TestRun,
                None,
                &kept_tail(output, MAX_TRANSCRIPT_OUTPUT),
                (phase == "green") != passed,
                json!({"phase": phase, "outcome": outcome, "output_bytes": output.len()}),
            )])
            .await;
    }

    /// Green: after the implementer's change, the tests pass.
    async fn prove_green(&self, task: &mut Task, wt: &Worktree) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        let tdd = ctx.settings().enable_tdd_verification;
        *task = ctx
            .set_task_status(&ctx.task(&task.id).await?, TaskStatus::Verifying)
            .await?;
        let (green, output) = self.run_tests(wt).await?;
        self.transcribe_tests(task, "green", green, &output).await;
        let passed = green == TestOutcome::Passed;
        let (result, tdd_event, tdd_message, tests_event, tests_message) = if passed {
            (
                "pass",
                EventType::TaskTddVerifyPass,
                "red → green verified",
                EventType::TaskTestsPass,
                "tests pass",
            )
        } else {
            (
                "fail",
                EventType::TaskTddVerifyFail,
                "tests still fail after the change",
                EventType::TaskTestsFail,
                "tests fail",
            )
        };
        let message = |m: &str| format!("task {}: {m}", task.sequence);
        if tdd {
            self.tdd_verdict(result, event(tdd_event, message(tdd_message), task))
                .await;
        }
        let tests = event(tests_event, message(tests_message), task);
        if passed {
            ctx.emit(tests).await;
            return self
                .reach(task, TaskPhase::GreenProven, TaskPatch::default())
                .await;
        }
        ctx.emit(tests.details(json!({"output_tail": kept_tail(&output, 1500)})))
            .await;
        Ok(Next::Retry(self.feedback(
            Why::GreenFails,
            FailureClass::TestAssertion,
            json!({"output": kept_tail(&output, 3000)}),
        )?))
    }

    /// The project's gates on a green change: its linter, when one is configured.
    async fn gates(&self, task: &mut Task, wt: &Worktree) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        let Some(lint) = &ctx.project.lint_command else {
            return self
                .reach(task, TaskPhase::GatesPassed, TaskPatch::default())
                .await;
        };
        let out = ctx
            .engine
            .ports
            .commands
            .run(&wt.path, lint, ctx.settings().command_timeout)
            .await?;
        ctx.transcribe(vec![record(
            task,
            0,
            RecordKind::Lint,
            None,
            &kept_tail(&out.output, MAX_TRANSCRIPT_OUTPUT),
            !out.success(),
            json!({"command": lint, "passed": out.success(), "output_bytes": out.output.len()}),
        )])
        .await;
        if !out.success() {
            ctx.emit(event(
                EventType::TaskLintFail,
                format!("task {}: lint failed", task.sequence),
                task,
            ))
            .await;
            // recorded as a test failure when the attempts run out, as it always was
            return Ok(Next::Retry(self.feedback(
                Why::LintFails,
                FailureClass::TestAssertion,
                json!({"lint": lint, "output": kept_tail(&out.output, 3000)}),
            )?));
        }
        ctx.emit(event(
            EventType::TaskLintPass,
            format!("task {}: lint passed", task.sequence),
            task,
        ))
        .await;
        self.reach(task, TaskPhase::GatesPassed, TaskPatch::default())
            .await
    }

    /// One review round of `kind` over the change: pass, back to the implementer with the
    /// issues, or — once the kind's rounds (counted on the task, so a crash does not reset
    /// them) are used up — fail. The verdict and its count are one write.
    async fn review_round(
        &self,
        kind: ReviewKind,
        task: &mut Task,
        wt: &Worktree,
    ) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        let (max_rounds, fail_event, pass_event, passed) = match kind {
            ReviewKind::Spec => (
                ctx.settings().max_spec_review_cycles,
                EventType::TaskSpecReviewFail,
                EventType::TaskSpecReviewPass,
                TaskPhase::SpecReviewPassed,
            ),
            ReviewKind::Quality => (
                ctx.settings().max_quality_review_cycles,
                EventType::TaskQualityReviewFail,
                EventType::TaskQualityReviewPass,
                TaskPhase::QualityReviewPassed,
            ),
        };
        *task = ctx
            .set_task_status(&ctx.task(&task.id).await?, kind.task_status())
            .await?;
        let diff = self.change(wt).await?;
        let user = format!(
            "{}\n\n## Task {}: {}\n{}\n\n### Acceptance criteria\n{}\n\n## The change\n```diff\n{}\n```",
            ticket_brief(&self.ticket),
            task.sequence,
            task.title,
            task.description,
            task.acceptance_criteria,
            tail(&diff, 60_000)
        );
        let review: Review = ctx
            .ask(kind.role(), &self.ticket, Some(task), user, Tool::review())
            .await?;
        ctx.transcribe(vec![record(
            task,
            0,
            RecordKind::Review,
            None,
            &if review.approved {
                format!("{kind} review approved: {}", review.summary)
            } else {
                format!(
                    "{kind} review asked for changes: {}\n- {}",
                    review.summary,
                    review.issues.join("\n- ")
                )
            },
            !review.approved,
            json!({"review": kind, "approved": review.approved, "issues": review.issues, "summary": review.summary}),
        )])
        .await;
        let (round, count) = match kind {
            ReviewKind::Spec => (
                task.spec_review_attempts + 1,
                TaskPatch {
                    spec_review_attempts: Some(task.spec_review_attempts + 1),
                    ..TaskPatch::default()
                },
            ),
            ReviewKind::Quality => (
                task.quality_review_attempts + 1,
                TaskPatch {
                    quality_review_attempts: Some(task.quality_review_attempts + 1),
                    ..TaskPatch::default()
                },
            ),
        };
        if review.approved {
            ctx.emit(event(
                pass_event,
                format!("task {}: {kind} review passed", task.sequence),
                task,
            ))
            .await;
            return self.reach(task, passed, count).await;
        }
        ctx.emit(
            event(
                fail_event,
                format!("task {}: {kind} review asked for changes", task.sequence),
                task,
            )
            .details(json!({"issues": review.issues})),
        )
        .await;
        metrics::counter!("foreman_retries_total", "role" => kind.role().as_str()).increment(1);
        let feedback = self.feedback(
            Why::Review,
            kind.failure_class(),
            json!({"review": kind, "issues": review.issues}),
        )?;
        if u32::try_from(round).unwrap_or(u32::MAX) >= max_rounds {
            *task = ctx.patch_task(task, count).await?;
            return Ok(Next::Fail(feedback.class, feedback.text));
        }
        *task = self.reject(task, feedback, count).await?;
        Ok(Next::Rejected)
    }

    /// Commits the approved change on the task branch, pushes it and records the commit.
    /// The commit gate first ([`TaskRun::commit_gate`]): a refusal goes back to the
    /// implementer. The implementer's last checkpoint usually holds the whole change already:
    /// its commit is then the task's.
    async fn commit(&self, task: &mut Task, wt: &Worktree) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        let repo = &ctx.project.repo;
        let diff = self.change(wt).await?;
        if let Some(refused) = self.commit_gate(task, &diff).await? {
            return Ok(Next::Retry(refused));
        }
        let sha = match repo.commit_all(wt, &self.commit_message(task)).await? {
            Some(sha) => sha,
            None => repo.head(wt).await?,
        };
        repo.push(&wt.branch, &PushLease::Tracking).await?;
        // the commit and the phase in one write
        let cp = TaskCheckpoint {
            phase: TaskPhase::Committed,
            sha: Some(sha.clone()),
            ..task.checkpoint.clone()
        };
        let recorded = TaskPatch {
            commit_sha: Some(Some(sha.clone())),
            last_error: Some(None),
            ..TaskPatch::default()
        };
        *task = self.checkpoint(task, cp, recorded).await?;
        ctx.emit(
            event(
                EventType::TaskCommitted,
                format!(
                    "task {} committed {}",
                    task.sequence,
                    &sha[..sha.len().min(10)]
                ),
                task,
            )
            .details(json!({"commit_sha": sha})),
        )
        .await;
        Ok(Next::Pass)
    }

    /// Marks a committed task done and advances the ticket's last completed step. `task_done`
    /// is written first (once): a run that dies before the status change comes back here and
    /// finds it written, so the event is neither lost nor doubled.
    async fn finish_done(&self, task: &Task, sha: &str, wt: &Worktree) -> PipelineResult<()> {
        let ctx = &self.ctx;
        ctx.emit_once(
            event(
                EventType::TaskDone,
                format!("task {} done", task.sequence),
                task,
            )
            .details(json!({"commit_sha": sha})),
        )
        .await;
        // the checkpoint before the status change: a run that dies in between comes back
        // here and records it again (one per task)
        let status = ctx.ticket(&self.ticket.id).await?.status;
        ctx.store()
            .record_checkpoint(
                NewCheckpoint {
                    ticket_id: task.ticket_id.clone(),
                    task_id: task.id.clone(),
                    sequence: task.sequence,
                    title: task.title.clone(),
                    commit_sha: sha.to_owned(),
                    branch: wt.branch.clone(),
                    ticket_status: status,
                },
                Some(ctx.fence()),
            )
            .await?;
        ctx.set_task_status(task, TaskStatus::Done).await?;
        if let Some(t) = ctx.store().get_ticket(&self.ticket.id).await?
            && task.sequence > t.last_completed_task_seq
        {
            ctx.store()
                .update_ticket(
                    &t.id,
                    TicketPatch {
                        last_completed_task_seq: Some(task.sequence),
                        ..TicketPatch::default()
                    },
                    Some(ctx.fence()),
                )
                .await?;
        }
        // The commit is on the task branch and pushed: the worktree has served. Every live
        // worktree makes git's worktree bookkeeping (which scans them all) slower. The ticket's
        // own worktree (a ticket's only task works in it) stays for integration.
        if wt.path.file_name() != Some(TICKET_WORKTREE.as_ref())
            && let Err(e) = ctx.project.repo.remove_worktree(wt, false).await
        {
            tracing::warn!(task = %task.id, error = %e, "cannot remove a done task's worktree");
        }
        Ok(())
    }
}
