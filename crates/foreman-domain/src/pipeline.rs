//! The pipeline's vocabulary: the roles that call a model, the phases of an implementer run,
//! the kinds of task review, and the classes a failure is recorded under.
//!
//! Inside the process these are typed values; their strings exist only on the wire (LLM call
//! records, events, configuration keys) and in the database (`last_error_type`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::TaskStatus;
use crate::status::{UnknownStatus, string_enum};

string_enum!(
    /// A pipeline role: who a model call or an agent run works as. The string is the role
    /// recorded on LLM calls and the key of the `[llm.models]` table.
    Role, "role" {
        /// Splits a ticket into tasks.
        Planner = "planner",
        /// Writes the tests and the code of a task.
        Implementer = "implementer",
        /// Checks a task's change against its specification.
        SpecReviewer = "spec_reviewer",
        /// Checks a task's change for code quality.
        QualityReviewer = "quality_reviewer",
        /// Checks the whole change of a ticket before its pull request.
        FinalReviewer = "final_reviewer",
        /// Decides whether a ticket can be implemented as written.
        Clarifier = "clarifier",
        /// Resolves merge and rebase conflicts.
        ConflictResolver = "conflict_resolver",
    }
);

impl Role {
    /// The name of the role's prompt template.
    #[must_use]
    pub const fn prompt(self) -> &'static str {
        match self {
            Self::Planner => "planner",
            Self::Implementer => "implementer",
            Self::SpecReviewer => "spec-reviewer",
            Self::QualityReviewer => "quality-reviewer",
            Self::FinalReviewer => "final-reviewer",
            Self::Clarifier => "clarifier",
            Self::ConflictResolver => "conflict-resolver",
        }
    }

    /// The `provider:model` the role uses when the configuration names none.
    #[must_use]
    pub const fn default_model(self) -> &'static str {
        match self {
            Self::Planner | Self::Implementer | Self::FinalReviewer | Self::ConflictResolver => {
                "anthropic:claude-sonnet-4-6"
            }
            Self::SpecReviewer | Self::QualityReviewer | Self::Clarifier => {
                "anthropic:claude-haiku-4-5"
            }
        }
    }

    /// The default role → `provider:model` table: every role with its
    /// [`Role::default_model`]. The one place these defaults live.
    #[must_use]
    pub fn default_models() -> BTreeMap<String, String> {
        Self::ALL
            .iter()
            .map(|r| (r.as_str().to_owned(), r.default_model().to_owned()))
            .collect()
    }
}

string_enum!(
    /// The phase of an implementer run within a task attempt.
    Phase, "phase" {
        /// Write the failing tests only (the red half of the proof).
        Tests = "tests",
        /// Implement the change so the tests pass (the green half).
        Implement = "implement",
    }
);

string_enum!(
    /// The kind of a review round of a task's change.
    ReviewKind, "review kind" {
        /// Does the change do what the task asks?
        Spec = "spec",
        /// Is the change well made?
        Quality = "quality",
    }
);

impl ReviewKind {
    /// The role that reviews.
    #[must_use]
    pub const fn role(self) -> Role {
        match self {
            Self::Spec => Role::SpecReviewer,
            Self::Quality => Role::QualityReviewer,
        }
    }

    /// The task status while the review runs.
    #[must_use]
    pub const fn task_status(self) -> TaskStatus {
        match self {
            Self::Spec => TaskStatus::SpecReview,
            Self::Quality => TaskStatus::QualityReview,
        }
    }

    /// The class a task fails under when this review keeps rejecting it.
    #[must_use]
    pub const fn failure_class(self) -> FailureClass {
        match self {
            Self::Spec => FailureClass::Spec,
            Self::Quality => FailureClass::Quality,
        }
    }
}

string_enum!(
    /// Why a ticket or task failed, stored as `last_error_type` and sent as `error_type`.
    FailureClass, "failure class" {
        /// The code does not build.
        Compile = "compile",
        /// Tests ran and an assertion failed.
        TestAssertion = "test",
        /// The linter refused the change.
        Lint = "lint",
        /// The spec reviewer kept rejecting it.
        Spec = "spec",
        /// The quality reviewer kept rejecting it.
        Quality = "quality",
        /// A budget ran out.
        Budget = "budget",
        /// A provider kept rate-limiting.
        RateLimit = "rate_limit",
        /// Git, the host, the tracker, the network or the machine failed in a way that does
        /// not heal by waiting (credentials, a missing repository, a refused push, a full disk).
        Infrastructure = "infrastructure",
        /// A push, fetch or other network git command failed or timed out (transient).
        GitRemote = "git_remote",
        /// A git host's or tracker's API answered 5xx, 408 or 429, timed out, dropped the
        /// connection or sent an unreadable answer (transient).
        RemoteUnavailable = "remote_unavailable",
        /// The model provider was overloaded (529), failed (5xx), timed out, dropped the
        /// connection or sent an unreadable answer, after the provider's own retries
        /// (transient).
        ProviderUnavailable = "provider_unavailable",
        /// The plan could not be validated.
        Plan = "plan",
        /// A merge or rebase conflict could not be resolved.
        Conflict = "conflict",
        /// A per-task limit (LLM calls) was reached.
        Limit = "limit",
        /// The work left its sandbox: it tampered with the repository outside its worktree or
        /// changed paths it may not commit.
        SandboxViolation = "sandbox_violation",
        /// A secret was found in a task's diff.
        Secret = "secret",
        /// A task ran past the timeout its ticket was submitted with and was stopped.
        Timeout = "timeout",
        /// The ticket was cancelled while it ran (`POST /api/tickets/{id}/cancel`).
        Cancelled = "cancelled",
        /// Anything else.
        Unknown = "unknown",
    }
);

impl FailureClass {
    /// Whether the failure blocks the ticket (it keeps its work and waits for a person) rather
    /// than failing it.
    #[must_use]
    pub const fn blocks(self) -> bool {
        matches!(self, Self::Budget)
    }

    /// Whether the same step may succeed if it is simply run again later: the engine retries
    /// it with a capped exponential backoff, a bounded number of times, before the ticket
    /// fails under this class.
    #[must_use]
    pub const fn is_transient(self) -> bool {
        matches!(
            self,
            Self::GitRemote | Self::RemoteUnavailable | Self::ProviderUnavailable | Self::RateLimit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_class_serde_agrees_with_the_stored_string() {
        for &c in FailureClass::ALL {
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::from(c.as_str())
            );
            assert_eq!(c.as_str().parse::<FailureClass>().unwrap(), c);
        }
        assert_eq!(FailureClass::TestAssertion.as_str(), "test");
        assert_eq!(
            serde_json::from_str::<FailureClass>("\"test\"").unwrap(),
            FailureClass::TestAssertion
        );
        assert!(serde_json::from_str::<FailureClass>("\"test_assertion\"").is_err());
        assert_eq!(
            serde_json::to_value(FailureClass::SandboxViolation).unwrap(),
            "sandbox_violation"
        );
    }

    #[test]
    fn transient_classes_are_the_ones_that_heal_by_waiting() {
        let transient: Vec<&str> = FailureClass::ALL
            .iter()
            .filter(|c| c.is_transient())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            transient,
            [
                "rate_limit",
                "git_remote",
                "remote_unavailable",
                "provider_unavailable"
            ]
        );
        // control: the work's own failures and misconfiguration are never retried as faults
        for c in [
            FailureClass::TestAssertion,
            FailureClass::Infrastructure,
            FailureClass::Budget,
            FailureClass::SandboxViolation,
        ] {
            assert!(!c.is_transient(), "{c}");
        }
    }

    #[test]
    fn every_role_has_a_default_model_and_a_prompt() {
        let table = Role::default_models();
        assert_eq!(table.len(), Role::ALL.len());
        assert_eq!(table["conflict_resolver"], "anthropic:claude-sonnet-4-6");
        assert_eq!(table["spec_reviewer"], "anthropic:claude-haiku-4-5");
        for &r in Role::ALL {
            assert!(table[r.as_str()].contains(':'));
            assert!(!r.prompt().contains('_'), "{r}");
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }

    #[test]
    fn review_kinds_name_their_role_status_and_class() {
        assert_eq!(ReviewKind::Spec.role(), Role::SpecReviewer);
        assert_eq!(ReviewKind::Quality.task_status(), TaskStatus::QualityReview);
        assert_eq!(ReviewKind::Quality.failure_class(), FailureClass::Quality);
        assert!("final".parse::<ReviewKind>().is_err());
        assert_eq!("tests".parse::<Phase>().unwrap(), Phase::Tests);
    }
}
