//! The ticket and task status machines.
//!
//! Status strings are part of the API contract: they are spelled exactly as here, and an unknown
//! string (from a client or from the database) is an [`UnknownStatus`] error, never a panic.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A status string that is not one of the known values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} status {value:?}; valid values: {valid}")]
pub struct UnknownStatus {
    /// `ticket` or `task`.
    pub kind: &'static str,
    /// What was given.
    pub value: String,
    /// The valid values, comma separated.
    pub valid: String,
}

macro_rules! string_enum {
    (
        $(#[$doc:meta])* $name:ident, $kind:literal {
            $( $(#[$vdoc:meta])* $variant:ident = $s:literal ),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $s)] $variant, )+
        }

        impl $name {
            /// Every value, in lifecycle order.
            pub const ALL: &'static [Self] = &[ $( Self::$variant, )+ ];

            /// The wire and storage string.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $s, )+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $s => Ok(Self::$variant), )+
                    _ => Err(UnknownStatus {
                        kind: $kind,
                        value: s.to_owned(),
                        valid: Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                    }),
                }
            }
        }
    };
}

pub(crate) use string_enum;

string_enum!(
    /// Where a ticket is in its lifecycle.
    TicketStatus, "ticket" {
        /// Waiting to be claimed by the daemon.
        Queued = "queued",
        /// Waiting for answers to the clarifier's questions.
        ClarificationNeeded = "clarification_needed",
        /// The planner is splitting the ticket into tasks.
        Planning = "planning",
        /// The plan is being checked (paths, cycles, limits).
        PlanValidating = "plan_validating",
        /// Tasks are being implemented.
        Implementing = "implementing",
        /// Integration, full test suite and final review.
        Reviewing = "reviewing",
        /// The pull request exists at the host.
        PrCreated = "pr_created",
        /// Waiting for the pull request to be merged.
        AwaitingMerge = "awaiting_merge",
        /// The pull request was merged.
        Merged = "merged",
        /// The pull request was closed without merging.
        PrClosed = "pr_closed",
        /// Child tickets are being created.
        Decomposing = "decomposing",
        /// Split into child tickets; waiting for them.
        Decomposed = "decomposed",
        /// Finished without a pull request of its own (e.g. all children merged).
        Done = "done",
        /// Failed; can be retried.
        Failed = "failed",
        /// Cannot proceed without a person (budget, clarification timeout); can be retried.
        Blocked = "blocked",
        /// A draft pull request with only some tasks done.
        Partial = "partial",
    }
);

string_enum!(
    /// Where a task is in its lifecycle.
    TaskStatus, "task" {
        /// Not started (or reset for a retry).
        Pending = "pending",
        /// The agent is writing tests and code.
        Implementing = "implementing",
        /// Red/green verification, lint and test gates.
        Verifying = "verifying",
        /// The spec reviewer is checking the change.
        SpecReview = "spec_review",
        /// The quality reviewer is checking the change.
        QualityReview = "quality_review",
        /// Committed on its branch.
        Done = "done",
        /// Gave up after its retries.
        Failed = "failed",
        /// Not run because a dependency failed.
        Skipped = "skipped",
    }
);

impl TicketStatus {
    /// Statuses that end a ticket's lifecycle. They are left only by an explicit retry back to
    /// [`TicketStatus::Queued`], and only where [`TicketStatus::can_retry`] allows it.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Merged | Self::PrClosed | Self::Done | Self::Failed | Self::Blocked
        )
    }

    /// Statuses in which the daemon actively works on the ticket (a lease is held).
    #[must_use]
    pub const fn is_active(self) -> bool {
        matches!(
            self,
            Self::Planning
                | Self::PlanValidating
                | Self::Implementing
                | Self::Reviewing
                | Self::PrCreated
                | Self::Decomposing
        )
    }

    /// Whether `POST /api/tickets/{id}/retry` may reset the ticket to `queued`.
    #[must_use]
    pub const fn can_retry(self) -> bool {
        matches!(self, Self::Failed | Self::Blocked | Self::Partial)
    }

    /// The statuses this one may move to.
    #[must_use]
    pub fn successors(self) -> &'static [Self] {
        use TicketStatus as S;
        match self {
            S::Queued => &[S::Planning, S::ClarificationNeeded, S::Failed, S::Blocked],
            S::ClarificationNeeded => &[S::Queued, S::Failed, S::Blocked],
            S::Planning => &[
                S::PlanValidating,
                S::ClarificationNeeded,
                S::Decomposing,
                S::Failed,
                S::Blocked,
            ],
            S::PlanValidating => &[
                S::Planning,
                S::Implementing,
                S::Decomposing,
                S::Failed,
                S::Blocked,
            ],
            S::Decomposing => &[S::Decomposed, S::Failed, S::Blocked],
            S::Decomposed => &[S::Done, S::Failed, S::Blocked],
            S::Implementing => &[S::Reviewing, S::Partial, S::Failed, S::Blocked],
            S::Reviewing => &[
                S::Implementing,
                S::PrCreated,
                S::Partial,
                S::Failed,
                S::Blocked,
            ],
            S::PrCreated => &[S::AwaitingMerge, S::Partial, S::Failed, S::Blocked],
            S::AwaitingMerge => &[S::Merged, S::PrClosed, S::Failed, S::Blocked],
            S::Partial => &[S::Merged, S::PrClosed, S::Queued, S::Failed, S::Blocked],
            S::Failed | S::Blocked => &[S::Queued],
            S::Merged | S::PrClosed | S::Done => &[],
        }
    }

    /// Whether `from -> to` is an allowed edge.
    #[must_use]
    pub fn can_transition(from: Self, to: Self) -> bool {
        from.successors().contains(&to)
    }
}

impl TaskStatus {
    /// Statuses after which the task does not run again unless retried.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Skipped)
    }

    /// Whether `POST /api/tasks/{id}/retry` may reset the task to `pending`.
    #[must_use]
    pub const fn can_retry(self) -> bool {
        matches!(self, Self::Failed)
    }

    /// Whether `from -> to` is an allowed edge. Work moves freely between the working statuses
    /// (a review sends the task back to the implementer); `done` is final; `failed` and
    /// `skipped` return only to `pending` (a retry).
    #[must_use]
    pub fn can_transition(from: Self, to: Self) -> bool {
        use TaskStatus as S;
        match from {
            S::Done => false,
            S::Failed | S::Skipped => to == S::Pending,
            S::Pending => matches!(to, S::Implementing | S::Failed | S::Skipped),
            S::Implementing | S::Verifying | S::SpecReview | S::QualityReview => {
                from != to && to != S::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashSet, VecDeque};

    use proptest::prelude::*;

    use super::*;

    fn reachable_terminal(from: TicketStatus) -> bool {
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([from]);
        while let Some(s) = queue.pop_front() {
            if s.is_terminal() {
                return true;
            }
            if seen.insert(s) {
                queue.extend(s.successors().iter().copied());
            }
        }
        false
    }

    #[test]
    fn contract_strings_are_exact() {
        let strings: Vec<&str> = TicketStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            strings,
            [
                "queued",
                "clarification_needed",
                "planning",
                "plan_validating",
                "implementing",
                "reviewing",
                "pr_created",
                "awaiting_merge",
                "merged",
                "pr_closed",
                "decomposing",
                "decomposed",
                "done",
                "failed",
                "blocked",
                "partial",
            ]
        );
        for s in TicketStatus::ALL {
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    #[test]
    fn unknown_strings_are_errors() {
        let err = "finished".parse::<TicketStatus>().unwrap_err();
        assert_eq!(err.value, "finished");
        assert!(err.to_string().contains("queued, clarification_needed"));
        assert!("DONE".parse::<TaskStatus>().is_err());
    }

    #[test]
    fn every_non_terminal_status_reaches_a_terminal_one() {
        for &s in TicketStatus::ALL {
            assert!(reachable_terminal(s), "{s} cannot reach a terminal status");
        }
    }

    #[test]
    fn terminal_statuses_leave_only_through_retry() {
        for &s in TicketStatus::ALL.iter().filter(|s| s.is_terminal()) {
            for &next in s.successors() {
                assert_eq!(next, TicketStatus::Queued, "{s} -> {next}");
                assert!(s.can_retry(), "{s} leaves to queued but is not retryable");
            }
        }
    }

    #[test]
    fn active_statuses_are_not_terminal() {
        for &s in TicketStatus::ALL {
            assert!(!(s.is_active() && s.is_terminal()), "{s}");
        }
    }

    proptest! {
        #[test]
        fn ticket_round_trips(i in 0usize..TicketStatus::ALL.len()) {
            let s = TicketStatus::ALL[i];
            prop_assert_eq!(s.as_str().parse::<TicketStatus>().unwrap(), s);
        }

        #[test]
        fn only_retryable_statuses_return_to_queued(i in 0usize..TicketStatus::ALL.len()) {
            let s = TicketStatus::ALL[i];
            if TicketStatus::can_transition(s, TicketStatus::Queued) {
                prop_assert!(s.can_retry() || s == TicketStatus::ClarificationNeeded);
            }
        }

        #[test]
        fn random_walks_end_or_keep_an_exit(steps in proptest::collection::vec(0usize..8, 0..40)) {
            let mut s = TicketStatus::Queued;
            for pick in steps {
                let next = s.successors();
                if next.is_empty() { break; }
                s = next[pick % next.len()];
                prop_assert!(reachable_terminal(s));
            }
        }

        #[test]
        fn done_tasks_never_leave(i in 0usize..TaskStatus::ALL.len()) {
            prop_assert!(!TaskStatus::can_transition(TaskStatus::Done, TaskStatus::ALL[i]));
        }

        #[test]
        fn task_walks_reach_terminal(steps in proptest::collection::vec(0usize..8, 0..30)) {
            let mut s = TaskStatus::Pending;
            for pick in steps {
                let options: Vec<TaskStatus> = TaskStatus::ALL
                    .iter().copied().filter(|&t| TaskStatus::can_transition(s, t)).collect();
                if options.is_empty() { break; }
                s = options[pick % options.len()];
                let exits = TaskStatus::ALL.iter().any(|&t| t.is_terminal() && (t == s || TaskStatus::can_transition(s, t)));
                prop_assert!(exits, "{s} has no way to a terminal status");
            }
        }
    }
}
