//! Worktrees: the ticket's own (planning, integration, a single task's work) and each task's.

use foreman_domain::git::{Worktree, WorktreeSpec, task_branch_name, ticket_branch_name};
use foreman_domain::{EventType, NewEvent, Task, TaskStatus, Ticket, TicketPatch};
use serde_json::json;

use super::base::TICKET_WORKTREE;
use super::context::Ctx;
use crate::error::PipelineResult;

impl Ctx {
    /// The ticket's branch: recorded, or named from the ticket.
    pub(crate) fn ticket_branch(&self, t: &Ticket) -> String {
        if t.branch_name.is_empty() {
            ticket_branch_name(&self.project.branch_prefix, &t.external_id, &t.title)
        } else {
            t.branch_name.clone()
        }
    }

    /// The ticket's own worktree on its branch (created from the default branch once).
    pub(crate) async fn ticket_worktree(&self, t: &Ticket) -> PipelineResult<(Ticket, Worktree)> {
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
        self.post_clone_hook(&t, None, &wt).await?;
        Ok((t, wt))
    }
}

/// The task's worktree for this run, and whether the work its checkpoint names is restored.
///
/// - A task whose commit was recorded keeps its branch as it is.
/// - A task with a checkpoint (the implementer's tests or code, committed on the task branch
///   as the phase completed) resumes from exactly that commit: the branch is reset to it and
///   anything later (work the process died before recording) is discarded. When that commit
///   is not here (another node made it and its push was lost), the branch restarts from the
///   ticket branch and `false` tells the caller so.
/// - Any other task (a new one, a retried one, one whose run died before its first checkpoint)
///   restarts from the ticket branch, so the red→green proof always starts from unchanged code.
pub(crate) async fn task_worktree(
    ctx: &Ctx,
    ticket: &Ticket,
    task: &Task,
) -> PipelineResult<(Worktree, bool)> {
    let repo = &ctx.project.repo;
    let ticket_branch = ticket.branch_name.clone();
    let branch = task_branch_name(&ticket_branch, task.sequence);
    let committed = task.commit_sha.is_some();
    // a pending task is new or retried: a checkpoint left from before the retry is not resumed
    let resume_at = if committed || task.status == TaskStatus::Pending {
        None
    } else {
        task.checkpoint.sha.clone()
    };
    let keep = committed || resume_at.is_some();
    let name = format!("task-{}", task.sequence);
    let worktrees = repo.ticket_worktrees(&ticket.id).await?;
    if ctx.store().list_tasks(&ticket.id).await?.len() == 1
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
            w.path != wt.path && (w.branch == branch || w.path.file_name() == Some(name.as_ref()))
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
        if let Some(sha) = &resume_at {
            return restore(ctx, &wt, &branch, sha, &ticket_branch).await;
        }
        let start = (!committed).then_some(ticket_branch.as_str());
        return Ok((repo.switch_branch(&wt, &branch, start).await?, true));
    }
    let existing = worktrees
        .into_iter()
        .find(|w| w.branch == branch || w.path.file_name() == Some(name.as_ref()));
    if let Some(wt) = existing {
        // stops what a dead run may still have running in it
        let wt = Worktree {
            branch: branch.clone(),
            ..wt
        };
        repo.recover_worktree(&wt).await?;
        if let Some(sha) = &resume_at {
            return restore(ctx, &wt, &branch, sha, &ticket_branch).await;
        }
        repo.remove_worktree(&wt, !keep).await?;
    } else if !keep {
        repo.delete_branch(&branch).await?;
    }
    let wt = repo
        .add_worktree(&WorktreeSpec {
            ticket_id: ticket.id.clone(),
            name,
            branch: branch.clone(),
            start_point: ticket_branch.clone(),
        })
        .await?;
    ctx.post_clone_hook(ticket, Some(task), &wt).await?;
    if let Some(sha) = &resume_at {
        return restore(ctx, &wt, &branch, sha, &ticket_branch).await;
    }
    Ok((wt, true))
}

/// Puts the task branch (checked out, clean, in `wt`) on its checkpoint `sha`; when that
/// commit cannot be checked out, on the ticket branch instead (`false`).
async fn restore(
    ctx: &Ctx,
    wt: &Worktree,
    branch: &str,
    sha: &str,
    ticket_branch: &str,
) -> PipelineResult<(Worktree, bool)> {
    let repo = &ctx.project.repo;
    match repo.switch_branch(wt, branch, Some(sha)).await {
        Ok(wt) => Ok((wt, true)),
        Err(e) => {
            tracing::warn!(branch, sha, error = %e, "cannot restore a task checkpoint; the attempt starts over");
            Ok((
                repo.switch_branch(wt, branch, Some(ticket_branch)).await?,
                false,
            ))
        }
    }
}
