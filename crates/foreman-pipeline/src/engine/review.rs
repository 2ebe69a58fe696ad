//! What a green change passes before its commit: the project's gates (`TaskRun::gates`: its
//! linter, when one is configured) and the review rounds (`TaskRun::review_round`: the spec
//! review, then the quality review, each over the task's whole change). A failing gate or a
//! reviewer's issues send the attempt back to the implementer; a review kind's rounds are
//! counted on the task, and the task fails once they are used up.

use foreman_domain::git::Worktree;
use foreman_domain::pipeline::{FailureClass, ReviewKind};
use foreman_domain::transcript::RecordKind;
use foreman_domain::{EventType, Task, TaskPatch, TaskPhase};
use serde_json::json;

use super::base::{kept_tail, tail};
use super::implement::{Next, TaskRun, Why, event};
use super::llm::{Review, Tool, ticket_brief};
use super::transcript::{MAX_TRANSCRIPT_OUTPUT, record};
use crate::error::PipelineResult;

impl TaskRun {
    /// The project's gates on a green change: its linter (when one is configured), the
    /// `post_lint` hook, then the project's accepted validation rules over the task's diff.
    pub(super) async fn gates(&self, task: &mut Task, wt: &Worktree) -> PipelineResult<Next> {
        if let Some(next) = self.lint_gate(task, wt).await? {
            return Ok(next);
        }
        if let Some(next) = self.post_lint_hook(task, wt).await? {
            return Ok(next);
        }
        if let Some(next) = self.rule_gate(task, wt).await? {
            return Ok(next);
        }
        self.reach(task, TaskPhase::GatesPassed, TaskPatch::default())
            .await
    }

    /// The linter, when one is configured: `None` when it passes (or there is none).
    async fn lint_gate(&self, task: &Task, wt: &Worktree) -> PipelineResult<Option<Next>> {
        let ctx = &self.ctx;
        let Some(lint) = &ctx.project.lint_command else {
            return Ok(None);
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
            return Ok(Some(Next::Retry(self.feedback(
                Why::LintFails,
                FailureClass::TestAssertion,
                json!({"lint": lint, "output": kept_tail(&out.output, 3000)}),
            )?)));
        }
        ctx.emit(event(
            EventType::TaskLintPass,
            format!("task {}: lint passed", task.sequence),
            task,
        ))
        .await;
        Ok(None)
    }

    /// One review round of `kind` over the change: pass, back to the implementer with the
    /// issues, or — once the kind's rounds (counted on the task, so a crash does not reset
    /// them) are used up — fail. The verdict and its count are one write.
    pub(super) async fn review_round(
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
        let mut user = format!(
            "{}\n\n## Task {}: {}\n{}\n\n### Acceptance criteria\n{}\n\n## The change\n```diff\n{}\n```",
            ticket_brief(&self.ticket),
            task.sequence,
            task.title,
            task.description,
            task.acceptance_criteria,
            tail(&diff, 60_000)
        );
        if matches!(kind, ReviewKind::Quality) {
            let warnings = self.rule_warnings(task).await;
            if !warnings.is_empty() {
                user.push_str("\n\n## Validation rule warnings\n- ");
                user.push_str(&warnings.join("\n- "));
            }
        }
        let review: Review = ctx
            .ask(kind.role(), &self.ticket, Some(task), user, Tool::review())
            .await?;
        if matches!(kind, ReviewKind::Quality) {
            self.store_proposals(task, &review.proposed_rules).await;
        }
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
}
