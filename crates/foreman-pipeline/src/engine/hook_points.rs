//! The engine's hook points: where configured hooks run their skills ([`crate::hooks`]).
//!
//! Every point is one call from its stage:
//! - `post_clone` (`worktree.rs`, when a ticket's or a task's worktree is created),
//! - `pre_plan` (`plan.rs`, before the planner is asked),
//! - `post_lint` (`review.rs`, after the lint gate) and `post_task` (`implement.rs`, once the
//!   gates passed, before the reviews): a blocking failure sends the attempt back to the
//!   implementer with the failure as feedback, like a failing gate,
//! - `pre_pr` (`pull_request.rs`, after the full suite and the final review, before the push;
//!   what its skills write is committed as `chore: pre_pr hooks` so it lands in the pull
//!   request) and `post_pr` (after the pull request is opened),
//! - `post_merge` (the daemon's merge tracking, once the host says the pull request is
//!   merged): it runs without a worktree (they are removed once the pull request is open), so
//!   only `llm_call` and `subskill` steps do anything there; a failure is recorded and never
//!   changes the merged ticket.
//!
//! A blocking failure at a ticket point fails the ticket ([`PipelineError::HookFailed`], class
//! `infrastructure`), the way a stage's error does; a non-blocking one is recorded
//! (`hook_failed`) and the ticket goes on.

use foreman_domain::commit_policy::{CommitRules, check_commit};
use foreman_domain::git::{DiffSpec, Worktree};
use foreman_domain::pipeline::{FailureClass, ReviewKind};
use foreman_domain::skill::HookPoint;
use foreman_domain::{EventType, NewEvent, Task, Ticket};
use foreman_secrets::{SECRETS_DETECTED_TOTAL, Where};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::base::{Engine, kept_tail};
use super::commit_gate::{changed_paths, describe, secrets_in};
use super::context::Ctx;
use super::implement::{Next, TaskRun, Why};
use crate::error::{PipelineError, PipelineResult};
use crate::hooks::{self, HookFailure, HookPorts, HookScope};

/// Whether any hook of `point` applies to `project`.
fn configured(engine: &Engine, point: HookPoint, project: &str) -> bool {
    engine
        .settings
        .hooks
        .iter()
        .any(|h| h.point == point && h.applies_to(project))
}

impl Ctx {
    /// Runs the hooks of `point` in `wt` (lease-interruptible); the first blocking failure.
    async fn hooks_at(
        &self,
        point: HookPoint,
        t: &Ticket,
        task: Option<&Task>,
        wt: &Worktree,
    ) -> PipelineResult<Option<HookFailure>> {
        if !configured(&self.engine, point, &self.project.name) {
            return Ok(None);
        }
        let base = format!("origin/{}", self.project.repo.default_branch());
        let test_command = self.project.test_command_for(&wt.path);
        let scope = HookScope {
            project: &self.project.name,
            ticket: t,
            task,
            worktree: Some((self.project.repo.as_ref(), wt)),
            base: &base,
            test_command: &test_command,
        };
        let ports = HookPorts::of(&self.engine.ports);
        let never = CancellationToken::new();
        self.interruptible(hooks::run_point(
            &ports,
            self.settings(),
            point,
            &scope,
            &never,
        ))
        .await?
    }

    /// A ticket point (or `post_clone`): a blocking failure is the stage's error.
    async fn ticket_hook(
        &self,
        point: HookPoint,
        t: &Ticket,
        task: Option<&Task>,
        wt: &Worktree,
    ) -> PipelineResult<()> {
        match self.hooks_at(point, t, task, wt).await? {
            None => Ok(()),
            Some(f) => Err(PipelineError::HookFailed(format!(
                "{point} hook failed: {f}"
            ))),
        }
    }

    /// The `post_clone` hook, in a worktree just created (a task's, with the task).
    pub(crate) async fn post_clone_hook(
        &self,
        t: &Ticket,
        task: Option<&Task>,
        wt: &Worktree,
    ) -> PipelineResult<()> {
        self.ticket_hook(HookPoint::PostClone, t, task, wt).await
    }

    /// The `pre_plan` hook, before the planner is asked.
    pub(super) async fn pre_plan_hook(&self, t: &Ticket, wt: &Worktree) -> PipelineResult<()> {
        self.ticket_hook(HookPoint::PrePlan, t, None, wt).await
    }

    /// The `pre_pr` hook, before the ticket branch is pushed for its pull request; what its
    /// skills wrote is committed so that it lands in the pull request.
    ///
    /// Once per state of the branch: the head after the hook's commit is kept in the settings
    /// store (`hooks:pre_pr:<ticket id>`), and a run that finds the branch still there (the
    /// pull request's creation failed and the step is run again, or the run died after the
    /// commit) does not run the hook a second time, so a prepended changelog entry is not
    /// written twice. A retried ticket with new work has another head and runs it again.
    pub(super) async fn pre_pr_hook(&self, t: &Ticket, wt: &Worktree) -> PipelineResult<()> {
        if !configured(&self.engine, HookPoint::PrePr, &self.project.name) {
            return Ok(());
        }
        let key = format!("hooks:pre_pr:{}", t.id);
        let head = self.project.repo.head(wt).await?;
        if self.store().get_setting(&key).await?.as_deref() == Some(head.as_str()) {
            tracing::info!(ticket = %t.id, %head, "pre_pr hooks already ran on this head");
            return Ok(());
        }
        self.ticket_hook(HookPoint::PrePr, t, None, wt).await?;
        self.pre_pr_commit_gate(t, wt).await?;
        self.project
            .repo
            .commit_all(wt, "chore: pre_pr hooks")
            .await?;
        let after = self.project.repo.head(wt).await?;
        self.store().put_setting(&key, &after).await?;
        Ok(())
    }

    /// What the `pre_pr` skills wrote passes the commit gate before it is committed and
    /// pushed, as a task's change does: no secret file (the commit path policy's secret
    /// patterns) and no secret on an added line. A refusal fails the ticket (`secret`, or
    /// `sandbox_violation` for a path) whatever the hook's `blocking` says, so nothing a skill
    /// wrote reaches the remote; a change too large to scan whole is refused too.
    async fn pre_pr_commit_gate(&self, t: &Ticket, wt: &Worktree) -> PipelineResult<()> {
        let pending = self.project.repo.diff(wt, &DiffSpec::WorkingTree).await?;
        if pending.text.trim().is_empty() {
            return Ok(());
        }
        if pending.truncated {
            return Err(PipelineError::HookFailed(format!(
                "pre_pr: the hooks' change ({} bytes) is too large to scan for secrets; not committed",
                pending.total_bytes
            )));
        }
        let refused: Vec<String> =
            check_commit(changed_paths(&pending.text), &CommitRules::secrets_only())
                .iter()
                .map(ToString::to_string)
                .collect();
        if !refused.is_empty() {
            return Err(PipelineError::HookPolicy(format!(
                "pre_pr: the hooks wrote files the commit policy refuses: {}",
                refused.join(", ")
            )));
        }
        let findings = secrets_in(&pending.text).await;
        if findings.is_empty() {
            return Ok(());
        }
        let places = describe(&findings);
        metrics::counter!(SECRETS_DETECTED_TOTAL, "where" => Where::Commit.as_str())
            .increment(findings.len() as u64);
        self.emit(
            NewEvent::new(
                EventType::SecretsDetected,
                format!(
                    "pre_pr: the hooks' change adds {} secret(s); not committed",
                    findings.len()
                ),
            )
            .ticket(&t.id)
            .details(json!({"where": Where::Commit.as_str(), "findings": places})),
        )
        .await;
        Err(PipelineError::HookSecret(format!(
            "pre_pr: the hooks' change adds secrets at {}; not committed",
            places.join(", ")
        )))
    }

    /// The `post_pr` hook, once the pull request is open.
    pub(super) async fn post_pr_hook(&self, t: &Ticket, wt: &Worktree) -> PipelineResult<()> {
        self.ticket_hook(HookPoint::PostPr, t, None, wt).await
    }
}

impl TaskRun {
    /// A task point: a blocking failure goes back to the implementer as feedback.
    async fn task_hook(
        &self,
        point: HookPoint,
        task: &Task,
        wt: &Worktree,
    ) -> PipelineResult<Option<Next>> {
        let Some(f) = self
            .ctx
            .hooks_at(point, &self.ticket, Some(task), wt)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Next::Retry(self.feedback(
            Why::HookFailed,
            FailureClass::TestAssertion,
            json!({
                "point": point.as_str(),
                "skill": f.skill,
                "step": f.step,
                "reason": kept_tail(&f.reason, 3000),
            }),
        )?)))
    }

    /// The `post_lint` hook: `None` when it passes, is not blocking, or none is configured.
    pub(super) async fn post_lint_hook(
        &self,
        task: &Task,
        wt: &Worktree,
    ) -> PipelineResult<Option<Next>> {
        self.task_hook(HookPoint::PostLint, task, wt).await
    }

    /// The `post_task` hook (the gates passed), then the spec review round.
    pub(super) async fn post_task_then_review(
        &self,
        task: &mut Task,
        wt: &Worktree,
    ) -> PipelineResult<Next> {
        if let Some(next) = self.task_hook(HookPoint::PostTask, task, wt).await? {
            return Ok(next);
        }
        self.review_round(ReviewKind::Spec, task, wt).await
    }
}

impl Engine {
    /// The `post_merge` hook, without a worktree; failures are recorded only.
    pub(crate) async fn post_merge_hook(&self, t: &Ticket) {
        if !configured(self, HookPoint::PostMerge, &t.project) {
            return;
        }
        let Some(project) = self.ports.projects.get(&t.project) else {
            return;
        };
        let base = format!("origin/{}", project.repo.default_branch());
        let scope = HookScope {
            project: &project.name,
            ticket: t,
            task: None,
            worktree: None,
            base: &base,
            test_command: &project.test_command,
        };
        let ports = HookPorts::of(&self.ports);
        if let Err(e) = hooks::run_point(
            &ports,
            &self.settings,
            HookPoint::PostMerge,
            &scope,
            &CancellationToken::new(),
        )
        .await
        {
            tracing::warn!(ticket = %t.id, error = %e, "the post_merge hook stopped");
        }
    }
}
