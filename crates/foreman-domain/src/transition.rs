//! Status-change guards and effects every store applies, and the requeue rules.
//!
//! The edge tables live in [`crate::status`]; this module turns them into the checks and field
//! changes of a compare-and-set write, with the typed errors stores return. A store reads the
//! row inside its transaction (or critical section), calls the guard, and writes what the effect
//! functions say, so SQLite, PostgreSQL and memory follow one rule.

use chrono::{DateTime, Utc};

use crate::error::{StoreError, StoreResult};
use crate::ids::TaskId;
use crate::status::{TaskStatus, TicketStatus};
use crate::task::Task;
use crate::ticket::Ticket;

/// What a status change does to `completed_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletedAt {
    /// Entering a terminal status: set it to now.
    Set,
    /// Leaving a terminal status for a working one (a retry): clear it.
    Clear,
    /// Neither: leave it.
    Keep,
}

impl CompletedAt {
    /// The effect of moving from a status that is (`from_terminal`) or is not terminal to one
    /// that is (`to_terminal`) or is not.
    #[must_use]
    pub const fn of(from_terminal: bool, to_terminal: bool) -> Self {
        if to_terminal {
            Self::Set
        } else if from_terminal {
            Self::Clear
        } else {
            Self::Keep
        }
    }

    /// Applies the effect to a stored value.
    #[must_use]
    pub fn apply(self, old: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Set => Some(now),
            Self::Clear => None,
            Self::Keep => old,
        }
    }
}

/// Checks a compare-and-set ticket change: the ticket must still be in `from`, and `from -> to`
/// must be an edge of [`TicketStatus::can_transition`]. The fence is checked before (see
/// [`crate::fence::check_fence`]).
///
/// # Errors
/// [`StoreError::Conflict`] naming the current status, or [`StoreError::InvalidTransition`].
pub fn check_ticket_transition(
    ticket: &Ticket,
    from: TicketStatus,
    to: TicketStatus,
) -> StoreResult<()> {
    if ticket.status != from {
        return Err(conflict("ticket", ticket.id.as_str(), ticket.status, from));
    }
    if !TicketStatus::can_transition(from, to) {
        return Err(invalid("ticket", ticket.id.as_str(), from, to));
    }
    Ok(())
}

/// Checks a compare-and-set task change, like [`check_ticket_transition`] along
/// [`TaskStatus::can_transition`].
///
/// # Errors
/// [`StoreError::Conflict`] naming the current status, or [`StoreError::InvalidTransition`].
pub fn check_task_transition(task: &Task, from: TaskStatus, to: TaskStatus) -> StoreResult<()> {
    if task.status != from {
        return Err(conflict("task", task.id.as_str(), task.status, from));
    }
    if !TaskStatus::can_transition(from, to) {
        return Err(invalid("task", task.id.as_str(), from, to));
    }
    Ok(())
}

/// The ticket after a checked move to `to` at `now` (status, `updated_at`, `completed_at`).
#[must_use]
pub fn transitioned_ticket(ticket: &Ticket, to: TicketStatus, now: DateTime<Utc>) -> Ticket {
    let mut t = ticket.clone();
    t.completed_at = CompletedAt::of(ticket.status.is_terminal(), to.is_terminal())
        .apply(ticket.completed_at, now);
    t.status = to;
    t.updated_at = now;
    t
}

/// The task after a checked move to `to` at `now`: status, `completed_at`, and `started_at` on
/// its first move to `implementing`.
#[must_use]
pub fn transitioned_task(task: &Task, to: TaskStatus, now: DateTime<Utc>) -> Task {
    let mut t = task.clone();
    t.completed_at =
        CompletedAt::of(task.status.is_terminal(), to.is_terminal()).apply(task.completed_at, now);
    if to == TaskStatus::Implementing && task.started_at.is_none() {
        t.started_at = Some(now);
    }
    t.status = to;
    t
}

/// What requeueing a ticket did.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRequeue {
    /// The ticket, now `queued`.
    pub ticket: Ticket,
    /// The status it left.
    pub from: TicketStatus,
    /// The tasks reset to `pending` with it (failed and skipped ones), by sequence.
    pub tasks_reset: Vec<TaskId>,
}

/// What requeueing a task did.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequeue {
    /// The task, now `pending`.
    pub task: Task,
    /// The status it left.
    pub from: TaskStatus,
}

/// The statuses a ticket may be requeued from, as the `expected` text of a conflict.
fn retryable_tickets() -> String {
    TicketStatus::ALL
        .iter()
        .filter(|s| s.can_retry())
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ticket requeued at `now`: `queued`, its error cleared, `completed_at` cleared when it
/// leaves a terminal status. Only [`TicketStatus::can_retry`] statuses qualify.
///
/// # Errors
/// [`StoreError::Conflict`] naming the current status and the retryable ones.
pub fn requeued_ticket(ticket: &Ticket, now: DateTime<Utc>) -> StoreResult<Ticket> {
    if !ticket.status.can_retry() {
        return Err(StoreError::Conflict {
            entity: "ticket",
            id: ticket.id.to_string(),
            current: ticket.status.to_string(),
            expected: retryable_tickets(),
        });
    }
    let mut t = transitioned_ticket(ticket, TicketStatus::Queued, now);
    t.last_error = None;
    t.last_error_type = None;
    Ok(t)
}

/// Whether requeueing a ticket resets this task of it: failed and skipped tasks run again,
/// finished ones are kept.
#[must_use]
pub const fn resets_with_ticket(status: TaskStatus) -> bool {
    matches!(status, TaskStatus::Failed | TaskStatus::Skipped)
}

/// The task reset at `now`: `pending`, fresh attempt counters (its own retry budget), no
/// error, `completed_at` cleared. No status check: see [`requeued_task`] and
/// [`resets_with_ticket`].
#[must_use]
pub fn reset_task(task: &Task, now: DateTime<Utc>) -> Task {
    let mut t = transitioned_task(task, TaskStatus::Pending, now);
    t.implementation_attempts = 0;
    t.spec_review_attempts = 0;
    t.quality_review_attempts = 0;
    t.last_error = None;
    t
}

/// The task requeued on its own at `now` ([`reset_task`]); only [`TaskStatus::can_retry`]
/// statuses qualify.
///
/// # Errors
/// [`StoreError::Conflict`] naming the current status.
pub fn requeued_task(task: &Task, now: DateTime<Utc>) -> StoreResult<Task> {
    if !task.status.can_retry() {
        let expected = TaskStatus::ALL
            .iter()
            .filter(|s| s.can_retry())
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(StoreError::Conflict {
            entity: "task",
            id: task.id.to_string(),
            current: task.status.to_string(),
            expected,
        });
    }
    Ok(reset_task(task, now))
}

fn conflict(
    entity: &'static str,
    id: &str,
    current: impl ToString,
    expected: impl ToString,
) -> StoreError {
    StoreError::Conflict {
        entity,
        id: id.to_owned(),
        current: current.to_string(),
        expected: expected.to_string(),
    }
}

fn invalid(entity: &'static str, id: &str, from: impl ToString, to: impl ToString) -> StoreError {
    StoreError::InvalidTransition {
        entity,
        id: id.to_owned(),
        from: from.to_string(),
        to: to.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ids::TicketId;
    use crate::task::NewTask;
    use crate::ticket::NewTicket;

    fn at(us: i64) -> DateTime<Utc> {
        crate::micros_to_time(us)
    }

    fn ticket(status: TicketStatus) -> Ticket {
        let mut t = Ticket::from_new(
            TicketId::new(),
            crate::DEFAULT_PROJECT.to_owned(),
            NewTicket {
                external_id: "T-1".into(),
                ..NewTicket::default()
            },
            at(1_000),
        );
        t.status = status;
        t
    }

    fn task(status: TaskStatus) -> Task {
        let mut t = Task::from_new(
            TicketId::new(),
            NewTask {
                sequence: 1,
                ..NewTask::default()
            },
            at(1_000),
        );
        t.status = status;
        t
    }

    #[test]
    fn wrong_current_status_is_a_conflict_before_the_edge_check() {
        let t = ticket(TicketStatus::Merged);
        // Merged -> Queued is no edge, but the writer expected Failed: the conflict wins.
        match check_ticket_transition(&t, TicketStatus::Failed, TicketStatus::Queued) {
            Err(StoreError::Conflict {
                current, expected, ..
            }) => {
                assert_eq!(current, "merged");
                assert_eq!(expected, "failed");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert!(matches!(
            check_ticket_transition(&t, TicketStatus::Merged, TicketStatus::Queued),
            Err(StoreError::InvalidTransition { .. })
        ));
    }

    #[test]
    fn completed_at_follows_terminal_statuses() {
        let failed =
            transitioned_ticket(&ticket(TicketStatus::Queued), TicketStatus::Failed, at(5));
        assert_eq!(failed.completed_at, Some(at(5)));
        assert_eq!(failed.updated_at, at(5));
        let back = transitioned_ticket(&failed, TicketStatus::Queued, at(9));
        assert_eq!(back.completed_at, None);
        let working =
            transitioned_ticket(&ticket(TicketStatus::Queued), TicketStatus::Planning, at(7));
        assert_eq!(working.completed_at, None);
    }

    #[test]
    fn first_start_sets_started_at_once() {
        let started =
            transitioned_task(&task(TaskStatus::Pending), TaskStatus::Implementing, at(3));
        assert_eq!(started.started_at, Some(at(3)));
        let verifying = transitioned_task(&started, TaskStatus::Verifying, at(4));
        let again = transitioned_task(&verifying, TaskStatus::Implementing, at(8));
        assert_eq!(again.started_at, Some(at(3)));
    }

    #[test]
    fn requeue_clears_the_error_and_completion() {
        let mut t = transitioned_ticket(&ticket(TicketStatus::Queued), TicketStatus::Failed, at(5));
        t.last_error = Some("boom".into());
        t.last_error_type = Some("test".into());
        let q = requeued_ticket(&t, at(6)).unwrap();
        assert_eq!(q.status, TicketStatus::Queued);
        assert_eq!(q.last_error, None);
        assert_eq!(q.last_error_type, None);
        assert_eq!(q.completed_at, None);
        assert_eq!(q.updated_at, at(6));
        assert_eq!(q.fencing_token, t.fencing_token);
    }

    #[test]
    fn task_requeue_resets_counters() {
        let mut t = transitioned_task(&task(TaskStatus::Implementing), TaskStatus::Failed, at(5));
        t.implementation_attempts = 3;
        t.spec_review_attempts = 2;
        t.quality_review_attempts = 1;
        t.last_error = Some("tests failed".into());
        let p = requeued_task(&t, at(6)).unwrap();
        assert_eq!(p.status, TaskStatus::Pending);
        assert_eq!(
            (
                p.implementation_attempts,
                p.spec_review_attempts,
                p.quality_review_attempts
            ),
            (0, 0, 0)
        );
        assert_eq!(p.last_error, None);
        assert_eq!(p.completed_at, None);
        assert!(matches!(
            requeued_task(&task(TaskStatus::Skipped), at(6)),
            Err(StoreError::Conflict { .. })
        ));
    }

    proptest! {
        #[test]
        fn ticket_guard_agrees_with_the_edge_table(
            c in 0usize..TicketStatus::ALL.len(),
            f in 0usize..TicketStatus::ALL.len(),
            t in 0usize..TicketStatus::ALL.len(),
        ) {
            let (current, from, to) = (TicketStatus::ALL[c], TicketStatus::ALL[f], TicketStatus::ALL[t]);
            let ok = check_ticket_transition(&ticket(current), from, to).is_ok();
            prop_assert_eq!(ok, current == from && TicketStatus::can_transition(from, to));
        }

        #[test]
        fn task_guard_agrees_with_the_edge_table(
            c in 0usize..TaskStatus::ALL.len(),
            f in 0usize..TaskStatus::ALL.len(),
            t in 0usize..TaskStatus::ALL.len(),
        ) {
            let (current, from, to) = (TaskStatus::ALL[c], TaskStatus::ALL[f], TaskStatus::ALL[t]);
            let ok = check_task_transition(&task(current), from, to).is_ok();
            prop_assert_eq!(ok, current == from && TaskStatus::can_transition(from, to));
        }

        #[test]
        fn requeue_accepts_exactly_the_retryable_statuses(i in 0usize..TicketStatus::ALL.len()) {
            let s = TicketStatus::ALL[i];
            let r = requeued_ticket(&ticket(s), at(2));
            prop_assert_eq!(r.is_ok(), s.can_retry());
            if let Ok(q) = r {
                // a requeue is always an edge of the status machine
                prop_assert!(TicketStatus::can_transition(s, q.status));
            }
        }

        #[test]
        fn task_requeue_accepts_exactly_the_retryable_statuses(i in 0usize..TaskStatus::ALL.len()) {
            let s = TaskStatus::ALL[i];
            prop_assert_eq!(requeued_task(&task(s), at(2)).is_ok(), s.can_retry());
            if resets_with_ticket(s) {
                prop_assert!(TaskStatus::can_transition(s, TaskStatus::Pending));
            }
        }
    }
}
