//! Checkpoints and rollback: every completed task is a point a ticket can be put back to.
//!
//! A [`Checkpoint`] is written when a task is done: its commit (on the task branch, pushed),
//! the branch, and the ticket's status at that moment. [`CheckpointStore::rollback_ticket`]
//! puts a ticket back to one of them in one compare-and-set: the tasks completed after it go
//! back to `pending` (their spend stays on them and in the LLM call history), their
//! checkpoints go, and the ticket is queued again. The rules are the pure functions here,
//! called by every store.
//!
//! The git side is two ports the adapters implement over the project's repository:
//! [`DiffSource`] (what a ticket and each task changed) and [`BranchRewind`] (moving the ticket
//! branch back to a checkpoint's commit).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::git::{Diff, GitResult};
use crate::ids::{FencingToken, TaskId, TicketId};
use crate::status::{TaskStatus, TicketStatus};
use crate::task::{Task, TaskCheckpoint};
use crate::ticket::Ticket;
use crate::transition::{reset_task, transitioned_ticket};

/// A completed task as a point to roll a ticket back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Id (a time-ordered UUID).
    pub id: String,
    /// The ticket.
    pub ticket_id: TicketId,
    /// The completed task.
    pub task_id: TaskId,
    /// The task's sequence in the plan.
    pub sequence: i32,
    /// The task's title.
    pub title: String,
    /// The task's commit.
    pub commit_sha: String,
    /// The branch holding it (the task branch, pushed).
    pub branch: String,
    /// The ticket's status when the task completed.
    pub ticket_status: TicketStatus,
    /// When the task completed: checkpoints of a ticket are ordered by it (then by id).
    pub created_at: DateTime<Utc>,
}

/// A checkpoint to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheckpoint {
    /// The ticket.
    pub ticket_id: TicketId,
    /// The completed task.
    pub task_id: TaskId,
    /// Its sequence.
    pub sequence: i32,
    /// Its title.
    pub title: String,
    /// Its commit.
    pub commit_sha: String,
    /// The branch holding the commit.
    pub branch: String,
    /// The ticket's status now.
    pub ticket_status: TicketStatus,
}

impl Checkpoint {
    /// The checkpoint a store records from `new` at `now`.
    #[must_use]
    pub fn from_new(new: NewCheckpoint, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            ticket_id: new.ticket_id,
            task_id: new.task_id,
            sequence: new.sequence,
            title: new.title,
            commit_sha: new.commit_sha,
            branch: new.branch,
            ticket_status: new.ticket_status,
            created_at: now,
        }
    }
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollback {
    /// The ticket, now `queued`.
    pub ticket: Ticket,
    /// The status it left.
    pub from: TicketStatus,
    /// The checkpoint it went back to.
    pub checkpoint: Checkpoint,
    /// The tasks put back to `pending`, by sequence.
    pub tasks_reset: Vec<TaskId>,
    /// The checkpoints dropped with them (those recorded after the target).
    pub checkpoints_dropped: Vec<String>,
}

/// Whether the ticket is being worked on: in an active status, or its lease is held at `now`.
#[must_use]
pub fn is_running(ticket: &Ticket, now: DateTime<Utc>) -> bool {
    ticket.status.is_active()
        || (ticket.lease_owner.is_some() && ticket.lease_expires_at.is_some_and(|at| at > now))
}

/// The statuses a ticket may be rolled back from: stopped (failed, blocked), finished with
/// some tasks (partial), or with a pull request that is not merged (awaiting merge, closed).
/// A rollback is its own edge to `queued`, beside the status machine's retry edges.
#[must_use]
pub const fn can_roll_back(status: TicketStatus) -> bool {
    matches!(
        status,
        TicketStatus::Failed
            | TicketStatus::Blocked
            | TicketStatus::Partial
            | TicketStatus::AwaitingMerge
            | TicketStatus::PrClosed
    )
}

fn rollbackable() -> String {
    TicketStatus::ALL
        .iter()
        .filter(|s| can_roll_back(**s))
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that `ticket` may be rolled back at `now`: not running and in a
/// [`can_roll_back`] status.
///
/// # Errors
/// [`StoreError::Conflict`] naming the current status (`running` when only its lease is held).
pub fn check_rollback(ticket: &Ticket, now: DateTime<Utc>) -> StoreResult<()> {
    if is_running(ticket, now) || !can_roll_back(ticket.status) {
        let current = if can_roll_back(ticket.status) {
            format!("{} (running)", ticket.status)
        } else {
            ticket.status.to_string()
        };
        return Err(StoreError::Conflict {
            entity: "ticket",
            id: ticket.id.to_string(),
            current,
            expected: format!(
                "a ticket that is not running, in one of: {}",
                rollbackable()
            ),
        });
    }
    Ok(())
}

/// What a rollback to `target` changes, decided from the ticket's checkpoints and tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackPlan {
    /// The target checkpoint.
    pub target: Checkpoint,
    /// Checkpoints recorded after it, to drop.
    pub dropped: Vec<Checkpoint>,
    /// Tasks to put back to `pending` (their reset form), by sequence.
    pub resets: Vec<(Task, Task)>,
    /// The highest sequence among the tasks that stay done.
    pub last_completed_task_seq: i32,
}

/// Plans a rollback of a ticket to checkpoint `target` at `now`. The checkpoints up to and
/// including the target (in completion order: `created_at`, then id) stay with their tasks,
/// which stay `done`; every other task goes back to `pending` with no commit, no phase
/// checkpoint and fresh attempt counters (its cost and tokens stay: spend is history).
///
/// # Errors
/// [`StoreError::NotFound`] when `target` is not one of `checkpoints`.
pub fn plan_rollback(
    checkpoints: &[Checkpoint],
    tasks: &[Task],
    target: &str,
    now: DateTime<Utc>,
) -> StoreResult<RollbackPlan> {
    let mut ordered: Vec<&Checkpoint> = checkpoints.iter().collect();
    ordered.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let at = ordered
        .iter()
        .position(|c| c.id == target)
        .ok_or_else(|| StoreError::not_found("checkpoint", target))?;
    let kept: Vec<&TaskId> = ordered[..=at].iter().map(|c| &c.task_id).collect();
    let mut resets: Vec<(Task, Task)> = tasks
        .iter()
        .filter(|t| !kept.contains(&&t.id))
        .map(|t| (t.clone(), rolled_back_task(t, now)))
        .collect();
    resets.sort_by_key(|(t, _)| t.sequence);
    let last_completed_task_seq = tasks
        .iter()
        .filter(|t| kept.contains(&&t.id))
        .map(|t| t.sequence)
        .max()
        .unwrap_or(0);
    Ok(RollbackPlan {
        target: ordered[at].clone(),
        dropped: ordered[at + 1..].iter().map(|c| (*c).clone()).collect(),
        resets,
        last_completed_task_seq,
    })
}

/// A task put back to `pending` by a rollback: [`reset_task`], no commit, no phase
/// checkpoint, not started. Cost, tokens and calls stay.
#[must_use]
pub fn rolled_back_task(task: &Task, now: DateTime<Utc>) -> Task {
    let mut t = reset_task(task, now);
    t.status = TaskStatus::Pending;
    t.commit_sha = None;
    t.checkpoint = TaskCheckpoint::default();
    t.started_at = None;
    t.completed_at = None;
    t
}

/// The ticket after a checked rollback at `now`: `queued`, no error, not partial, its last
/// completed step the plan's, no lease and a new fencing token (a worker that still believes
/// it holds the ticket is refused at its next write).
#[must_use]
pub fn rolled_back_ticket(ticket: &Ticket, plan: &RollbackPlan, now: DateTime<Utc>) -> Ticket {
    let mut t = transitioned_ticket(ticket, TicketStatus::Queued, now);
    t.last_error = None;
    t.last_error_type = None;
    t.is_partial = false;
    t.last_completed_task_seq = plan.last_completed_task_seq;
    t.lease_owner = None;
    t.lease_expires_at = None;
    t.fencing_token = FencingToken(ticket.fencing_token.0 + 1);
    t
}

/// Checkpoints: recorded as tasks complete, listed, and rolled back to.
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Records a checkpoint; with `fence`, checked against the ticket in the same transaction.
    /// A task has at most one: recording it again replaces the earlier one's commit, branch
    /// and status (keeping its id and time).
    async fn record_checkpoint(
        &self,
        new: NewCheckpoint,
        fence: Option<FencingToken>,
    ) -> StoreResult<Checkpoint>;

    /// A ticket's checkpoints in completion order. [`StoreError::NotFound`] for an unknown
    /// ticket.
    async fn list_checkpoints(&self, ticket_id: &TicketId) -> StoreResult<Vec<Checkpoint>>;

    /// Puts a ticket back to checkpoint `checkpoint_id` in one transaction
    /// ([`check_rollback`], [`plan_rollback`], [`rolled_back_ticket`]): compare-and-set on the
    /// ticket's status and fencing token as read.
    ///
    /// Errors: [`StoreError::NotFound`] (ticket, or a checkpoint not of this ticket),
    /// [`StoreError::Conflict`] when the ticket is running or not in a rollback status (or a
    /// concurrent writer changed it); nothing changes then.
    async fn rollback_ticket(
        &self,
        ticket_id: &TicketId,
        checkpoint_id: &str,
    ) -> StoreResult<Rollback>;
}

/// What a ticket and its tasks changed, read from the project's repository.
#[async_trait]
pub trait DiffSource: Send + Sync {
    /// `branch` (the local branch, else the remote's) against its merge base with the
    /// project's default branch on the remote: what its pull request shows. At most
    /// `max_bytes` of text ([`Diff::truncated`] says when cut).
    async fn branch_diff(&self, project: &str, branch: &str, max_bytes: usize) -> GitResult<Diff>;

    /// The change commit `head` holds: against `after` when that commit is one of its
    /// ancestors (a task started on an earlier checkpoint), else against its merge base with
    /// the default branch.
    async fn commit_diff(
        &self,
        project: &str,
        head: &str,
        after: Option<&str>,
        max_bytes: usize,
    ) -> GitResult<Diff>;
}

/// Moves a ticket branch back to a checkpoint.
#[async_trait]
pub trait BranchRewind: Send + Sync {
    /// Points `branch` at `sha` in the project's repository and, when the branch was pushed,
    /// on the remote too (with a lease on what was last fetched).
    async fn rewind_branch(&self, project: &str, branch: &str, sha: &str) -> GitResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{NewTask, TaskPhase};
    use crate::ticket::NewTicket;

    fn at(us: i64) -> DateTime<Utc> {
        crate::micros_to_time(1_700_000_000_000_000 + us)
    }

    fn ticket(status: TicketStatus) -> Ticket {
        let mut t = Ticket::from_new(
            TicketId::new(),
            crate::DEFAULT_PROJECT.to_owned(),
            NewTicket {
                external_id: "R-1".into(),
                ..NewTicket::default()
            },
            at(0),
        );
        t.status = status;
        t
    }

    fn done_task(ticket: &Ticket, seq: i32) -> Task {
        let mut t = Task::from_new(
            ticket.id.clone(),
            NewTask {
                sequence: seq,
                ..NewTask::default()
            },
            at(0),
        );
        t.status = TaskStatus::Done;
        t.commit_sha = Some(format!("sha{seq}"));
        t.implementation_attempts = 2;
        t.cost = crate::Micros(1_000);
        t.checkpoint.phase = TaskPhase::Committed;
        t.completed_at = Some(at(i64::from(seq)));
        t
    }

    fn checkpoint(task: &Task, when: i64) -> Checkpoint {
        let mut c = Checkpoint::from_new(
            NewCheckpoint {
                ticket_id: task.ticket_id.clone(),
                task_id: task.id.clone(),
                sequence: task.sequence,
                title: String::new(),
                commit_sha: task.commit_sha.clone().unwrap_or_default(),
                branch: "b".into(),
                ticket_status: TicketStatus::Implementing,
            },
            at(when),
        );
        c.created_at = at(when);
        c
    }

    #[test]
    fn only_stopped_or_unmerged_tickets_roll_back_and_never_while_leased() {
        for &s in TicketStatus::ALL {
            let t = ticket(s);
            assert_eq!(check_rollback(&t, at(5)).is_ok(), can_roll_back(s), "{s}");
        }
        let mut leased = ticket(TicketStatus::Failed);
        leased.lease_owner = Some("w".into());
        leased.lease_expires_at = Some(at(10));
        match check_rollback(&leased, at(5)) {
            Err(StoreError::Conflict { current, .. }) => assert_eq!(current, "failed (running)"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        // an expired lease does not hold it
        assert!(check_rollback(&leased, at(11)).is_ok());
        assert!(!can_roll_back(TicketStatus::Merged));
    }

    #[test]
    fn later_tasks_go_back_to_pending_in_completion_order_with_their_cost() {
        let t = ticket(TicketStatus::AwaitingMerge);
        // task 2 finished before task 1 (they ran in parallel)
        let (t1, t2, t3) = (done_task(&t, 1), done_task(&t, 2), done_task(&t, 3));
        let cps = vec![
            checkpoint(&t1, 20),
            checkpoint(&t2, 10),
            checkpoint(&t3, 30),
        ];
        let plan = plan_rollback(
            &cps,
            &[t1.clone(), t2.clone(), t3.clone()],
            &cps[0].id,
            at(40),
        )
        .unwrap();
        assert_eq!(plan.target.task_id, t1.id);
        assert_eq!(plan.dropped.len(), 1);
        assert_eq!(plan.dropped[0].task_id, t3.id);
        assert_eq!(plan.resets.len(), 1);
        let (before, after) = &plan.resets[0];
        assert_eq!(before.id, t3.id);
        assert_eq!(after.status, TaskStatus::Pending);
        assert_eq!(after.commit_sha, None);
        assert_eq!(after.checkpoint, TaskCheckpoint::default());
        assert_eq!(after.implementation_attempts, 0);
        assert_eq!(after.cost, t3.cost, "spend stays");
        assert_eq!(plan.last_completed_task_seq, 2);
        let r = rolled_back_ticket(&t, &plan, at(40));
        assert_eq!(r.status, TicketStatus::Queued);
        assert_eq!(r.fencing_token, FencingToken(t.fencing_token.0 + 1));
        assert!(matches!(
            plan_rollback(&cps, &[t1], "nope", at(40)),
            Err(StoreError::NotFound { .. })
        ));
    }
}
