//! What enters a task's branch. The implementer's written work (`TaskRun::write`, the tests or
//! the code) is committed there as a checkpoint when the commit gate would let it through, and
//! pushed best effort once the unpushed work took `checkpoint_push_after`; the approved change becomes the task's commit (`TaskRun::commit`, after
//! the commit gate); and the committed task is marked done with its recorded checkpoint
//! (`TaskRun::finish_done`). Also the task's whole change as one diff (`TaskRun::change`), which
//! the reviews and the commit gate read.

use foreman_domain::checkpoint::NewCheckpoint;
use foreman_domain::git::{DiffSpec, GitError, Lease as PushLease, Worktree};
use foreman_domain::pipeline::{FailureClass, Phase};
use foreman_domain::{
    EventType, Task, TaskCheckpoint, TaskPatch, TaskPhase, TaskStatus, TicketPatch,
};
use serde_json::json;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::base::TICKET_WORKTREE;
use super::implement::{Next, TaskRun, Why, event};
use super::transcript::agent_records;
use crate::error::PipelineResult;

impl TaskRun {
    /// The implementer's step of `phase` (the tests, or the code), answering the feedback the
    /// checkpoint holds; what it wrote is committed on the task branch and checkpointed.
    pub(super) async fn write(
        &self,
        task: &mut Task,
        wt: &Worktree,
        phase: Phase,
    ) -> PipelineResult<Next> {
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
        // Recorded first (what a restart here resumes from), then offered to other nodes once
        // the work they would otherwise repeat is worth a push (each costs a handful of git
        // processes; the pushed branch carries every earlier checkpoint with it).
        let after = self.ctx.engine.settings.checkpoint_push_after;
        {
            let mut unpushed = self.unpushed.lock().unwrap_or_else(PoisonError::into_inner);
            if unpushed.0.elapsed() < after {
                unpushed.1 = Some(wt.branch.clone());
                return Ok(Next::Pass);
            }
        }
        match self
            .ctx
            .project
            .repo
            .push(&wt.branch, &PushLease::Tracking)
            .await
        {
            Ok(()) => {
                *self.unpushed.lock().unwrap_or_else(PoisonError::into_inner) =
                    (Instant::now(), None);
            }
            Err(e) => {
                self.unpushed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .1 = Some(wt.branch.clone());
                tracing::warn!(task = %task.id, error = %e, "cannot push a task checkpoint");
            }
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
    pub(super) async fn change(&self, wt: &Worktree) -> PipelineResult<String> {
        let change = self
            .ctx
            .project
            .repo
            .diff(
                wt,
                &DiffSpec::Since {
                    base: self.ticket.branch_name.clone(),
                },
            )
            .await?;
        Ok(change.text)
    }

    /// Commits the approved change on the task branch, pushes it and records the commit.
    /// The commit gate first ([`TaskRun::commit_gate`]): a refusal goes back to the
    /// implementer. The implementer's last checkpoint usually holds the whole change already:
    /// its commit is then the task's.
    pub(super) async fn commit(&self, task: &mut Task, wt: &Worktree) -> PipelineResult<Next> {
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
    pub(super) async fn finish_done(
        &self,
        task: &Task,
        sha: &str,
        wt: &Worktree,
    ) -> PipelineResult<()> {
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
