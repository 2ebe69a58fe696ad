//! Pipeline events: an append-only log with a global, monotonically increasing `seq`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{EventId, TaskId, TicketId};

/// An event type or severity string that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownEventString {
    /// `event type` or `severity`.
    pub kind: &'static str,
    /// What was given.
    pub value: String,
}

macro_rules! event_types {
    ($( $(#[$vdoc:meta])* $variant:ident = $s:literal => $sev:ident ),+ $(,)?) => {
        /// Every event the pipeline, the daemon and the API emit.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum EventType {
            $( $(#[$vdoc])* $variant, )+
        }

        impl EventType {
            /// Every event type.
            pub const ALL: &'static [Self] = &[ $( Self::$variant, )+ ];

            /// The wire and storage string.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $s, )+ }
            }

            /// The severity this event is normally emitted with.
            #[must_use]
            pub const fn default_severity(self) -> Severity {
                match self { $( Self::$variant => Severity::$sev, )+ }
            }
        }

        impl FromStr for EventType {
            type Err = UnknownEventString;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $s => Ok(Self::$variant), )+
                    _ => Err(UnknownEventString { kind: "event type", value: s.to_owned() }),
                }
            }
        }
    };
}

event_types! {
    // intake and lifecycle
    /// A ticket entered Foreman.
    TicketCreated = "ticket_created" => Info,
    /// A worker took the ticket's lease.
    TicketClaimed = "ticket_claimed" => Info,
    /// A ticket moved between statuses.
    TicketStatusChanged = "ticket_status_changed" => Info,
    /// A ticket was reset to `queued` by a person.
    TicketRetried = "ticket_retried" => Info,
    /// A ticket was deleted.
    TicketDeleted = "ticket_deleted" => Warning,
    /// A ticket finished with every task done.
    TicketCompleted = "ticket_completed" => Info,
    /// A ticket failed.
    TicketFailed = "ticket_failed" => Error,
    /// A ticket is blocked and needs a person.
    TicketBlocked = "ticket_blocked" => Warning,
    // clarification
    /// The clarifier asked questions.
    ClarificationRequested = "clarification_requested" => Warning,
    /// Answers arrived; the ticket is re-queued.
    ClarificationReceived = "clarification_received" => Info,
    /// No answer within the timeout.
    ClarificationTimeout = "clarification_timeout" => Error,
    // planning
    /// The planner started.
    PlanningStarted = "planning_started" => Info,
    /// The planner returned a plan.
    PlanCreated = "plan_created" => Info,
    /// The plan passed validation.
    PlanValidated = "plan_validated" => Info,
    /// The plan failed validation and was sent back to the planner.
    PlanRejected = "plan_rejected" => Warning,
    /// The plan failed validation too often.
    TicketPlanValidationFailed = "ticket_plan_validation_failed" => Error,
    // decomposition
    /// The ticket is too large and is being split.
    DecompositionStarted = "decomposition_started" => Info,
    /// A child ticket was created.
    ChildTicketCreated = "child_ticket_created" => Info,
    /// The ticket was split into children.
    TicketDecomposed = "ticket_decomposed" => Info,
    // tasks
    /// A task was created from the plan.
    TaskCreated = "task_created" => Info,
    /// A task started.
    TaskStarted = "task_started" => Info,
    /// A task's last implementation attempt runs on the escalation model.
    TaskEscalated = "task_escalated" => Info,
    /// The new tests failed for an assertion reason before the change and passed after.
    TaskTddVerifyPass = "task_tdd_verify_pass" => Info,
    /// The red/green proof failed.
    TaskTddVerifyFail = "task_tdd_verify_fail" => Warning,
    /// The tests did not fail for an assertion reason before the change.
    TaskTddVerifyInvalidRed = "task_tdd_verify_invalid_red" => Warning,
    /// The lint gate passed.
    TaskLintPass = "task_lint_pass" => Info,
    /// The lint gate failed.
    TaskLintFail = "task_lint_fail" => Warning,
    /// The project's accepted validation rules found no `error` violation in the task's diff
    /// (`details.warnings`: the warning violations, capped).
    TaskRulesPass = "task_rules_pass" => Info,
    /// The project's validation rules found `error` violations (`details.violations`, capped).
    TaskRulesFail = "task_rules_fail" => Warning,
    /// The task's tests passed.
    TaskTestsPass = "task_tests_pass" => Info,
    /// The task's tests failed.
    TaskTestsFail = "task_tests_fail" => Warning,
    /// The spec reviewer approved.
    TaskSpecReviewPass = "task_spec_review_pass" => Info,
    /// The spec reviewer asked for changes.
    TaskSpecReviewFail = "task_spec_review_fail" => Warning,
    /// The quality reviewer approved.
    TaskQualityReviewPass = "task_quality_review_pass" => Info,
    /// The quality reviewer asked for changes.
    TaskQualityReviewFail = "task_quality_review_fail" => Warning,
    /// The task's change was committed.
    TaskCommitted = "task_committed" => Info,
    /// The task is done.
    TaskDone = "task_done" => Info,
    /// The task failed.
    TaskFailed = "task_failed" => Error,
    /// The task was skipped because a dependency failed.
    TaskSkipped = "task_skipped" => Warning,
    /// A person reset the task to pending.
    TaskRetried = "task_retried" => Info,
    /// The task waits for files another ticket has reserved.
    TaskWaitingForFiles = "task_waiting_for_files" => Info,
    // agent
    /// One agent turn finished.
    AgentTurn = "agent_turn" => Info,
    /// The agent repeated itself or stopped changing files.
    AgentStalled = "agent_stalled" => Warning,
    /// Secrets were found and redacted before reaching an LLM.
    SecretsDetected = "secrets_detected" => Warning,
    // integration
    /// A task branch conflicted with the ticket branch.
    MergeConflict = "merge_conflict" => Warning,
    /// The conflict resolver fixed a conflict.
    MergeConflictResolved = "merge_conflict_resolved" => Info,
    /// Rebasing onto the default branch conflicted.
    RebaseConflict = "rebase_conflict" => Warning,
    /// The conflict resolver fixed a rebase conflict.
    RebaseConflictResolved = "rebase_conflict_resolved" => Info,
    /// Every done task's branch is merged into the ticket branch and the ticket branch is
    /// rebased onto the default branch (`details.head`, `details.tasks`): a run resumed after
    /// this point does not merge (nor resolve conflicts) again.
    TicketIntegrated = "ticket_integrated" => Info,
    /// The full test suite passed.
    FullTestPass = "full_test_pass" => Info,
    /// The full test suite failed.
    FullTestFail = "full_test_fail" => Warning,
    /// The final reviewer approved the whole change.
    FinalReviewPass = "final_review_pass" => Info,
    /// The final reviewer rejected the change.
    FinalReviewFail = "final_review_fail" => Warning,
    // pull requests
    /// A pull request was opened.
    PrCreated = "pr_created" => Info,
    /// A draft pull request with only some tasks was opened.
    PartialPrCreated = "partial_pr_created" => Warning,
    /// The pull request's head moved.
    PrUpdated = "pr_updated" => Info,
    /// The pull request was merged.
    PrMerged = "pr_merged" => Info,
    /// Merging the pull request (auto_merge) failed; it is retried on the next poll.
    PrMergeFailed = "pr_merge_failed" => Warning,
    /// The pull request was closed unmerged.
    PrClosed = "pr_closed" => Warning,
    /// A comment was posted on the tracker ticket.
    TrackerCommentPosted = "tracker_comment_posted" => Info,
    /// A write to the tracker (comment, pull request link, status, label) failed; it is retried
    /// from the outbox with backoff, or was given up (`details.gave_up`). The ticket goes on.
    TrackerUpdateFailed = "tracker_update_failed" => Warning,
    /// A tracker or git host webhook was verified and acted on.
    WebhookReceived = "webhook_received" => Info,
    /// A webhook was verified but could not be used (malformed payload, storage failure).
    /// Deliveries with a bad signature are never stored.
    WebhookRejected = "webhook_rejected" => Warning,
    // costs and providers
    /// Spending crossed a budget's alert threshold.
    CostAlert = "cost_alert" => Warning,
    /// A budget is exhausted.
    CostExceeded = "cost_exceeded" => Error,
    /// A provider rate limit was hit.
    RateLimitHit = "rate_limit_hit" => Warning,
    /// Foreman is waiting before calling a provider again.
    RateLimitBackoff = "rate_limit_backoff" => Info,
    /// A provider's circuit breaker opened.
    ProviderDown = "provider_down" => Error,
    /// A provider's circuit breaker closed again.
    ProviderRecovered = "provider_recovered" => Info,
    /// An LLM call failed.
    LlmCallFailed = "llm_call_failed" => Warning,
    /// A model had no price and the fallback price was used.
    UnknownModelPricing = "unknown_model_pricing" => Warning,
    // workspace
    /// A worktree was created.
    WorktreeCreated = "worktree_created" => Info,
    /// A worktree was removed.
    WorktreeRemoved = "worktree_removed" => Info,
    /// The repository's disk quota would be exceeded; the ticket waits.
    DiskQuotaExceeded = "disk_quota_exceeded" => Warning,
    // daemon
    /// The daemon started.
    DaemonStarted = "daemon_started" => Info,
    /// The daemon is shutting down.
    DaemonStopping = "daemon_stopping" => Info,
    /// The daemon was paused.
    DaemonPaused = "daemon_paused" => Info,
    /// The daemon was resumed.
    DaemonResumed = "daemon_resumed" => Info,
    /// A ticket's pipeline started.
    PipelineStarted = "pipeline_started" => Info,
    /// A ticket's pipeline finished.
    PipelineCompleted = "pipeline_completed" => Info,
    /// A ticket's pipeline was resumed after a crash.
    PipelineResumedAfterCrash = "pipeline_resumed_after_crash" => Warning,
    /// A worker lost a ticket's lease and stopped working on it.
    LeaseLost = "lease_lost" => Warning,
    /// A configured hook ran.
    HookExecuted = "hook_executed" => Info,
    /// A skill ran.
    SkillExecuted = "skill_executed" => Info,
    /// A hook started running its skills (`details.point`, `details.skills`,
    /// `details.blocking`).
    HookStarted = "hook_started" => Info,
    /// Every skill of a hook succeeded (`details.point`, `details.skills`).
    HookPassed = "hook_passed" => Info,
    /// A hook's skill failed or the hook timed out (`details.point`, `details.skills`,
    /// `details.skill`, `details.step`, `details.reason`, `details.blocking`).
    HookFailed = "hook_failed" => Warning,
    /// One step of a skill ended (`details.skill`, `details.step`, `details.type`,
    /// `details.status` ok, failed or skipped, `details.duration_ms`, `details.output`: a
    /// capped, redacted tail).
    SkillStepCompleted = "skill_step_completed" => Info,
    // notifications and retrospectives
    /// A notification trigger fired (`details.notification_id`, `details.trigger`); the
    /// notification is stored for `GET /api/notifications`.
    NotificationCreated = "notification_created" => Warning,
    /// A retrospective over the last finished tickets was written (`details.retrospective_id`,
    /// `details.number`).
    RetrospectiveWritten = "retrospective_written" => Info,
    // outbound webhooks
    /// A webhook subscription was disabled after failed deliveries in a row
    /// (`details.subscription_id`, `details.url`, `details.failures`, `details.reason`).
    WebhookDisabled = "webhook_disabled" => Warning,
    // MCP servers
    /// The built-in agent called a tool of an MCP server (`details.server`, `details.tool`,
    /// `details.name`, `details.duration_ms`, `details.ok`, `details.error`).
    McpToolCalled = "mcp_tool_called" => Info,
    // validation rules
    /// The quality reviewer proposed a validation rule (`details.project`, `details.rule`): not
    /// enforced until a person accepts it.
    RuleProposed = "rule_proposed" => Warning,
    /// A person accepted a proposed validation rule (`details.project`, `details.rule_id`).
    RuleAccepted = "rule_accepted" => Info,
    /// A person rejected a validation rule (`details.project`, `details.rule_id`).
    RuleRejected = "rule_rejected" => Info,
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Progress.
    Info,
    /// Something a person may want to look at.
    Warning,
    /// Something failed.
    Error,
}

impl Severity {
    /// Every severity.
    pub const ALL: &'static [Self] = &[Self::Info, Self::Warning, Self::Error];

    /// The wire and storage string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = UnknownEventString;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Self::Info),
            "warning" => Ok(Self::Warning),
            "error" => Ok(Self::Error),
            _ => Err(UnknownEventString {
                kind: "severity",
                value: s.to_owned(),
            }),
        }
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// The ticket it concerns, if any.
    pub ticket_id: Option<TicketId>,
    /// The task it concerns, if any.
    pub task_id: Option<TaskId>,
    /// What happened.
    pub event_type: EventType,
    /// How serious it is.
    pub severity: Severity,
    /// One line for people.
    pub message: String,
    /// Structured details.
    pub details: Option<serde_json::Value>,
}

impl NewEvent {
    /// An event with the type's default severity.
    #[must_use]
    pub fn new(event_type: EventType, message: impl Into<String>) -> Self {
        Self {
            ticket_id: None,
            task_id: None,
            event_type,
            severity: event_type.default_severity(),
            message: message.into(),
            details: None,
        }
    }

    /// Attaches the ticket.
    #[must_use]
    pub fn ticket(mut self, id: &TicketId) -> Self {
        self.ticket_id = Some(id.clone());
        self
    }

    /// Attaches the task.
    #[must_use]
    pub fn task(mut self, id: &TaskId) -> Self {
        self.task_id = Some(id.clone());
        self
    }

    /// Overrides the severity.
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Attaches structured details.
    #[must_use]
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its id.
    pub id: EventId,
    /// Its position in the global log: strictly increasing in commit order.
    pub seq: i64,
    /// The ticket it concerns, if any.
    pub ticket_id: Option<TicketId>,
    /// The task it concerns, if any.
    pub task_id: Option<TaskId>,
    /// What happened.
    pub event_type: EventType,
    /// How serious it is.
    pub severity: Severity,
    /// One line for people.
    pub message: String,
    /// Structured details.
    pub details: Option<serde_json::Value>,
    /// When it was appended.
    pub created_at: DateTime<Utc>,
}

/// Which events to read from the log. Results are ordered by `seq` ascending unless
/// `newest_first` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this ticket's events.
    pub ticket_id: Option<TicketId>,
    /// Only events with `seq` greater than this (for replay).
    pub after_seq: Option<i64>,
    /// Only these types (empty: all).
    pub types: Vec<EventType>,
    /// At most this many (stores cap it at [`crate::MAX_PAGE_LIMIT`]).
    pub limit: u32,
    /// Skip this many.
    pub offset: u64,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn strings_round_trip_and_are_unique() {
        let mut seen = HashSet::new();
        for &t in EventType::ALL {
            assert!(seen.insert(t.as_str()), "duplicate {t}");
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert!(
                t.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
    }

    #[test]
    fn unknown_strings_are_errors() {
        assert!("task_exploded".parse::<EventType>().is_err());
        assert!("fatal".parse::<Severity>().is_err());
        assert_eq!("warning".parse::<Severity>().unwrap(), Severity::Warning);
    }

    #[test]
    fn builder_uses_default_severity() {
        let e = NewEvent::new(EventType::TaskFailed, "boom").ticket(&TicketId::from("t1"));
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.ticket_id.as_ref().map(TicketId::as_str), Some("t1"));
    }
}
