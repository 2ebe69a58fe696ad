//! One task, test-first: [`TaskRun::prove_red`] (the new tests fail on an assertion),
//! [`TaskRun::prove_green`] (they pass after the change), [`TaskRun::gates`] (the linter),
//! [`TaskRun::review_round`] (spec, then quality), [`TaskRun::commit`]. A step that rejects
//! the attempt sends it back to the implementer with feedback, until the attempts run out.

use foreman_domain::git::{DiffSpec, Lease as PushLease, Worktree};
use foreman_domain::pipeline::{FailureClass, Phase, ReviewKind, Role};
use foreman_domain::{EventType, NewEvent, Task, TaskPatch, TaskStatus, Ticket, TicketPatch};
use serde_json::{Value, json};

use super::base::{TICKET_WORKTREE, kept_tail, tail};
use super::context::Ctx;
use super::llm::{Instruction, Review, Tool, ticket_brief};
use super::worktree::task_worktree;
use crate::classify::TestOutcome;
use crate::error::PipelineResult;

/// Runs one task of a ticket on its own clone of the context.
pub(crate) struct TaskRun {
    pub(super) ctx: Ctx,
    pub(super) ticket: Ticket,
}

/// What a step decided about the attempt.
enum Next {
    /// Go on with the next step.
    Pass,
    /// Back to the implementer with this feedback.
    Retry(Feedback),
    /// The task fails now.
    Fail(FailureClass, String),
}

/// Feedback for the implementer's next attempt, with the class the task fails under if the
/// attempts run out on it.
pub(super) struct Feedback {
    pub(super) class: FailureClass,
    pub(super) text: String,
}

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

/// Review rounds taken in this run, by kind.
#[derive(Debug, Default)]
struct Rounds {
    spec: u32,
    quality: u32,
}

impl Rounds {
    fn count(&mut self, kind: ReviewKind) -> u32 {
        let n = match kind {
            ReviewKind::Spec => &mut self.spec,
            ReviewKind::Quality => &mut self.quality,
        };
        *n += 1;
        *n
    }
}

pub(super) fn event(kind: EventType, message: String, task: &Task) -> NewEvent {
    NewEvent::new(kind, message)
        .ticket(&task.ticket_id)
        .task(&task.id)
}

impl TaskRun {
    pub(crate) fn new(ctx: Ctx, ticket: Ticket) -> Self {
        Self { ctx, ticket }
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
        let wt = task_worktree(ctx, &self.ticket, &task).await?;
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
        }
        let mut feedback = match task.last_error.clone() {
            Some(error) => {
                let mut f = self.feedback(
                    Why::PreviousAttempt,
                    FailureClass::TestAssertion,
                    json!({"error": error}),
                )?;
                // attempts that ran out on a rejection keep the rejection's class
                if let Some(class) = ctx.task_failure_class(&task).await.filter(|c| {
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
                Some(f)
            }
            None => None,
        };
        let mut red_proven = !settings.enable_tdd_verification;
        let mut rounds = Rounds::default();
        loop {
            ctx.check()?;
            task = ctx.task(&task.id).await?;
            if u32::try_from(task.implementation_attempts).unwrap_or(0)
                >= settings.max_implementation_retries
            {
                let (class, msg) = feedback.map_or(
                    (
                        FailureClass::TestAssertion,
                        "no passing implementation".to_owned(),
                    ),
                    |f| (f.class, f.text),
                );
                ctx.fail_task(&task, class, &msg).await?;
                return Ok(());
            }
            task = ctx
                .patch_task(
                    &task,
                    TaskPatch {
                        implementation_attempts: Some(task.implementation_attempts + 1),
                        ..TaskPatch::default()
                    },
                )
                .await?;
            task = ctx.set_task_status(&task, TaskStatus::Implementing).await?;
            if task.implementation_attempts > 1 {
                metrics::counter!("foreman_retries_total", "role" => Role::Implementer.as_str())
                    .increment(1);
            }
            let steps = async {
                if !red_proven {
                    match self.prove_red(&mut task, &wt, feedback.take()).await? {
                        Next::Pass => red_proven = true,
                        other => return Ok(other),
                    }
                }
                let next = self.prove_green(&mut task, &wt, feedback.take()).await?;
                if !matches!(next, Next::Pass) {
                    return Ok(next);
                }
                let next = self.gates(&task, &wt).await?;
                if !matches!(next, Next::Pass) {
                    return Ok(next);
                }
                let diff = ctx.project.repo.diff(&wt, &DiffSpec::WorkingTree).await?;
                for kind in [ReviewKind::Spec, ReviewKind::Quality] {
                    let round = rounds.count(kind);
                    let next = self
                        .review_round(kind, &mut task, &diff.text, round)
                        .await?;
                    if !matches!(next, Next::Pass) {
                        return Ok(next);
                    }
                }
                self.commit(&mut task, &wt, &diff.text).await
            };
            match steps.await? {
                Next::Pass => {
                    let sha = task.commit_sha.clone().unwrap_or_default();
                    return self.finish_done(&task, &sha, &wt).await;
                }
                Next::Retry(f) => feedback = Some(f),
                Next::Fail(class, msg) => {
                    ctx.fail_task(&task, class, &msg).await?;
                    return Ok(());
                }
            }
        }
    }

    /// `pending` → `implementing`, with `started_at` and `task_started`.
    async fn start(&self, task: &Task) -> PipelineResult<Task> {
        let ctx = &self.ctx;
        let task = ctx.set_task_status(task, TaskStatus::Implementing).await?;
        let task = ctx
            .patch_task(
                &task,
                TaskPatch {
                    started_at: Some(Some(foreman_domain::now())),
                    ..TaskPatch::default()
                },
            )
            .await?;
        ctx.emit(event(
            EventType::TaskStarted,
            format!("task {}: {}", task.sequence, task.title),
            &task,
        ))
        .await;
        Ok(task)
    }

    /// Red: the implementer writes the tests, which must fail on an assertion before the
    /// change.
    async fn prove_red(
        &self,
        task: &mut Task,
        wt: &Worktree,
        feedback: Option<Feedback>,
    ) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        let (red, output) = match self
            .work_then_test(task, wt, Phase::Tests, feedback)
            .await?
        {
            Ok(run) => run,
            Err(retry) => return Ok(Next::Retry(retry)),
        };
        let why = match red {
            TestOutcome::AssertionFailure => {
                *task = ctx
                    .set_task_status(&ctx.task(&task.id).await?, TaskStatus::Implementing)
                    .await?;
                return Ok(Next::Pass);
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
            json!({"output": tail(&output, 3000)}),
        )?))
    }

    /// Green: the implementer changes the code, and the tests pass.
    async fn prove_green(
        &self,
        task: &mut Task,
        wt: &Worktree,
        feedback: Option<Feedback>,
    ) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        let tdd = ctx.settings().enable_tdd_verification;
        let (green, output) = match self
            .work_then_test(task, wt, Phase::Implement, feedback)
            .await?
        {
            Ok(run) => run,
            Err(retry) => return Ok(Next::Retry(retry)),
        };
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
            return Ok(Next::Pass);
        }
        ctx.emit(tests.details(json!({"output_tail": kept_tail(&output, 1500)})))
            .await;
        Ok(Next::Retry(self.feedback(
            Why::GreenFails,
            FailureClass::TestAssertion,
            json!({"output": tail(&output, 3000)}),
        )?))
    }

    /// The project's gates on a green change: its linter, when one is configured.
    async fn gates(&self, task: &Task, wt: &Worktree) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        let Some(lint) = &ctx.project.lint_command else {
            return Ok(Next::Pass);
        };
        let out = ctx
            .engine
            .ports
            .commands
            .run(&wt.path, lint, ctx.settings().command_timeout)
            .await?;
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
                json!({"lint": lint, "output": tail(&out.output, 3000)}),
            )?));
        }
        ctx.emit(event(
            EventType::TaskLintPass,
            format!("task {}: lint passed", task.sequence),
            task,
        ))
        .await;
        Ok(Next::Pass)
    }

    /// One review round of `kind` (this run's `round`-th) over the change: pass, back to the
    /// implementer with the issues, or — once the kind's rounds are used up — fail.
    async fn review_round(
        &self,
        kind: ReviewKind,
        task: &mut Task,
        diff: &str,
        round: u32,
    ) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        let (max_rounds, fail_event, pass_event) = match kind {
            ReviewKind::Spec => (
                ctx.settings().max_spec_review_cycles,
                EventType::TaskSpecReviewFail,
                EventType::TaskSpecReviewPass,
            ),
            ReviewKind::Quality => (
                ctx.settings().max_quality_review_cycles,
                EventType::TaskQualityReviewFail,
                EventType::TaskQualityReviewPass,
            ),
        };
        *task = ctx
            .set_task_status(&ctx.task(&task.id).await?, kind.task_status())
            .await?;
        let user = format!(
            "{}\n\n## Task {}: {}\n{}\n\n### Acceptance criteria\n{}\n\n## The change\n```diff\n{}\n```",
            ticket_brief(&self.ticket),
            task.sequence,
            task.title,
            task.description,
            task.acceptance_criteria,
            tail(diff, 60_000)
        );
        let review: Review = ctx
            .ask(kind.role(), &self.ticket, Some(task), user, Tool::review())
            .await?;
        let patch = match kind {
            ReviewKind::Spec => TaskPatch {
                spec_review_attempts: Some(task.spec_review_attempts + 1),
                ..TaskPatch::default()
            },
            ReviewKind::Quality => TaskPatch {
                quality_review_attempts: Some(task.quality_review_attempts + 1),
                ..TaskPatch::default()
            },
        };
        *task = ctx.patch_task(task, patch).await?;
        if review.approved {
            ctx.emit(event(
                pass_event,
                format!("task {}: {kind} review passed", task.sequence),
                task,
            ))
            .await;
            return Ok(Next::Pass);
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
        if round >= max_rounds {
            return Ok(Next::Fail(feedback.class, feedback.text));
        }
        Ok(Next::Retry(feedback))
    }

    /// Commits the approved change on the task branch, pushes it and records the commit.
    /// The commit gate first ([`TaskRun::commit_gate`]): a refusal goes back to the
    /// implementer.
    async fn commit(&self, task: &mut Task, wt: &Worktree, diff: &str) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        let repo = &ctx.project.repo;
        if let Some(refused) = self.commit_gate(task, diff).await? {
            return Ok(Next::Retry(refused));
        }
        let message = format!(
            "{}: {}\n\nTask {} of {}.",
            self.ticket.external_id, task.title, task.sequence, self.ticket.title
        );
        let sha = match repo.commit_all(wt, &message).await? {
            Some(sha) => sha,
            None => repo.head(wt).await?,
        };
        repo.push(&wt.branch, &PushLease::Tracking).await?;
        *task = ctx
            .patch_task(
                task,
                TaskPatch {
                    commit_sha: Some(Some(sha.clone())),
                    last_error: Some(None),
                    ..TaskPatch::default()
                },
            )
            .await?;
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
