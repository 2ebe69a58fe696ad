//! Tasks: the steps a plan splits a ticket into, each implemented test-first.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{TaskId, TicketId};
use crate::money::Micros;
use crate::pipeline::FailureClass;
use crate::status::{TaskStatus, UnknownStatus, string_enum};

/// A task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Id.
    pub id: TaskId,
    /// Owning ticket.
    pub ticket_id: TicketId,
    /// 1-based position in the plan.
    pub sequence: i32,
    /// Title.
    pub title: String,
    /// What to do.
    pub description: String,
    /// How to tell it is done.
    pub acceptance_criteria: String,
    /// Sequences of the tasks this one needs first.
    pub depends_on: Vec<i32>,
    /// Files the plan expects it to read or change.
    pub files: Vec<String>,
    /// Planner's estimate (1 = trivial ... 5 = large).
    pub complexity: i32,
    /// Status.
    pub status: TaskStatus,
    /// Implementation attempts made.
    pub implementation_attempts: i32,
    /// Spec review rounds made.
    pub spec_review_attempts: i32,
    /// Quality review rounds made.
    pub quality_review_attempts: i32,
    /// LLM calls recorded for it.
    pub total_llm_calls: i64,
    /// Input tokens.
    pub tokens_input: i64,
    /// Output tokens.
    pub tokens_output: i64,
    /// The commit on its branch, once done.
    pub commit_sha: Option<String>,
    /// Spend.
    pub cost: Micros,
    /// Context selection statistics.
    pub context: Option<TaskContextStats>,
    /// Last error, for people.
    pub last_error: Option<String>,
    /// How far the task's work got: checkpointed as each phase completes, so a run that
    /// resumes after a crash starts at the first unfinished phase.
    pub checkpoint: TaskCheckpoint,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Reached a terminal status.
    pub completed_at: Option<DateTime<Utc>>,
}

string_enum!(
    /// The last phase a task's open attempt completed. Phases complete in this order; a run
    /// that resumes the task starts at the phase after it, so finished work (and the LLM calls
    /// that made it) is not done again.
    TaskPhase, "task phase" {
        /// No attempt is open: the next run starts one (the first, or the one after a
        /// rejection), which counts against `max_implementation_retries`.
        Idle = "idle",
        /// An attempt is open (and counted); the implementer has not finished its first step.
        Started = "started",
        /// The implementer wrote the tests; they are committed on the task branch.
        TestsWritten = "tests_written",
        /// The new tests fail on an assertion before the change.
        RedProven = "red_proven",
        /// The implementer changed the code; the change is committed on the task branch.
        ImplementationWritten = "implementation_written",
        /// The tests pass after the change.
        GreenProven = "green_proven",
        /// The project's gates (the linter) passed.
        GatesPassed = "gates_passed",
        /// The spec reviewer approved.
        SpecReviewPassed = "spec_review_passed",
        /// The quality reviewer approved.
        QualityReviewPassed = "quality_review_passed",
        /// The change passed the commit gate and its commit is recorded.
        Committed = "committed",
    }
);

#[allow(clippy::derivable_impls)] // the variants come from `string_enum!`
impl Default for TaskPhase {
    fn default() -> Self {
        Self::Idle
    }
}

/// Why the implementer's next run must change its work: a rejection (a failed proof or gate, a
/// reviewer's issues, a refused commit) kept until that run has finished its step, so a crash
/// in between does not lose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFeedback {
    /// The class the task fails under if the attempts run out on this rejection.
    pub class: FailureClass,
    /// The rendered feedback for the implementer.
    pub text: String,
}

/// A task's checkpoint: where its work stands, in the store beside the work itself on the task
/// branch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskCheckpoint {
    /// The last phase the open attempt completed ([`TaskPhase::Idle`]: none is open).
    pub phase: TaskPhase,
    /// Red was proven in this or an earlier attempt: later attempts skip the tests phase.
    pub red_proven: bool,
    /// The commit on the task branch holding the task's work as of `phase` (`None`: nothing
    /// written yet). A resumed run resets the branch to it: anything later is unrecorded.
    pub sha: Option<String>,
    /// The rejection the implementer's next run answers.
    pub feedback: Option<TaskFeedback>,
}

impl TaskCheckpoint {
    /// Whether an attempt is open (started and counted, not yet rejected or finished), so a
    /// run that finds it continues it instead of starting (and counting) another.
    #[must_use]
    pub fn attempt_open(&self) -> bool {
        self.phase != TaskPhase::Idle
    }

    /// Whether the open attempt has completed `phase`.
    #[must_use]
    pub fn reached(&self, phase: TaskPhase) -> bool {
        self.phase >= phase
    }
}

/// Context budget and utilisation for a task (`GET /api/tasks/{id}/context`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TaskContextStats {
    /// Token budget for selected context.
    pub budget: i64,
    /// Tokens used.
    pub used: i64,
    /// Files selected before the first turn.
    pub files_selected: i64,
    /// Files the agent changed.
    pub files_touched: i64,
    /// Prompt cache hits.
    pub cache_hits: i64,
}

impl TaskContextStats {
    /// `used / budget` as a percentage truncated to one decimal (0 when there is no budget).
    #[must_use]
    pub fn utilization_pct(&self) -> f64 {
        if self.budget <= 0 {
            return 0.0;
        }
        (self.used as f64 * 1000.0 / self.budget as f64).floor() / 10.0
    }
}

/// A task to create.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NewTask {
    /// 1-based position.
    pub sequence: i32,
    /// Title.
    pub title: String,
    /// What to do.
    pub description: String,
    /// How to tell it is done.
    pub acceptance_criteria: String,
    /// Dependencies by sequence.
    pub depends_on: Vec<i32>,
    /// Files to read or change.
    pub files: Vec<String>,
    /// Estimate.
    pub complexity: i32,
}

impl Task {
    /// The task a store creates from `new` for `ticket_id`: pending, no attempts, calls, cost or
    /// commit yet.
    #[must_use]
    pub fn from_new(ticket_id: TicketId, new: NewTask, now: DateTime<Utc>) -> Self {
        Self {
            id: TaskId::new(),
            ticket_id,
            sequence: new.sequence,
            title: new.title,
            description: new.description,
            acceptance_criteria: new.acceptance_criteria,
            depends_on: new.depends_on,
            files: new.files,
            complexity: new.complexity,
            status: TaskStatus::Pending,
            implementation_attempts: 0,
            spec_review_attempts: 0,
            quality_review_attempts: 0,
            total_llm_calls: 0,
            tokens_input: 0,
            tokens_output: 0,
            commit_sha: None,
            cost: Micros::ZERO,
            context: None,
            last_error: None,
            checkpoint: TaskCheckpoint::default(),
            created_at: now,
            started_at: None,
            completed_at: None,
        }
    }
}

/// Field changes to a task; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskPatch {
    /// New attempt count.
    pub implementation_attempts: Option<i32>,
    /// New spec review count.
    pub spec_review_attempts: Option<i32>,
    /// New quality review count.
    pub quality_review_attempts: Option<i32>,
    /// New commit.
    pub commit_sha: Option<Option<String>>,
    /// New context statistics.
    pub context: Option<TaskContextStats>,
    /// New last error.
    pub last_error: Option<Option<String>>,
    /// New start time.
    pub started_at: Option<Option<DateTime<Utc>>>,
    /// New checkpoint (replaces the whole checkpoint).
    pub checkpoint: Option<TaskCheckpoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilization_matches_the_contract_example() {
        let s = TaskContextStats {
            budget: 18_000,
            used: 12_450,
            ..Default::default()
        };
        assert_eq!(s.utilization_pct(), 69.1);
        assert_eq!(TaskContextStats::default().utilization_pct(), 0.0);
    }

    #[test]
    fn phases_order_as_they_complete_and_round_trip_their_strings() {
        for pair in TaskPhase::ALL.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?}");
        }
        for &p in TaskPhase::ALL {
            assert_eq!(p.as_str().parse::<TaskPhase>().unwrap(), p);
        }
        assert!("halfway".parse::<TaskPhase>().is_err());
        let c = TaskCheckpoint {
            phase: TaskPhase::GreenProven,
            ..TaskCheckpoint::default()
        };
        assert!(c.attempt_open());
        assert!(c.reached(TaskPhase::ImplementationWritten));
        assert!(!c.reached(TaskPhase::GatesPassed));
        assert!(!TaskCheckpoint::default().attempt_open());
    }
}
