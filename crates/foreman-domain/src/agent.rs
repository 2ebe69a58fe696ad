//! The `AgentRunner` port: hand a coding agent one task and a worktree, get back what it did.
//!
//! A runner (the built-in tool-use loop, or an external CLI such as Claude Code or Codex) works
//! inside the worktree it is given, within the limits it is given, reporting progress while it
//! runs. It returns an [`AgentOutcome`]: why it stopped, the files it changed, its transcript,
//! the commands it ran, the tokens and money it spent and the context-selection statistics the
//! pipeline stores with `TaskStore::update_task`. Nothing here does I/O.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{TaskId, TicketId};
use crate::llm::Usage;
use crate::money::Micros;
use crate::task::{Task, TaskContextStats};
use crate::ticket::Ticket;

/// What the agent is asked to do with the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    /// Implement the task test-first.
    #[default]
    Implementer,
    /// Resolve merge or rebase conflicts left in the worktree.
    ConflictResolver,
}

impl AgentRole {
    /// The pipeline role string recorded on LLM calls.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Implementer => "implementer",
            Self::ConflictResolver => "conflict_resolver",
        }
    }
}

/// The task as the agent sees it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentTask {
    /// The ticket, for records and events.
    #[serde(default)]
    pub ticket_id: Option<TicketId>,
    /// The task, for records and events.
    #[serde(default)]
    pub task_id: Option<TaskId>,
    /// What to do.
    #[serde(default)]
    pub role: AgentRole,
    /// 1-based attempt number; later attempts use the retry prompt.
    #[serde(default = "one")]
    pub attempt: u32,
    /// The ticket's title.
    #[serde(default)]
    pub ticket_title: String,
    /// The ticket's description.
    #[serde(default)]
    pub ticket_description: String,
    /// The task's title.
    pub title: String,
    /// What to do.
    #[serde(default)]
    pub description: String,
    /// How to tell it is done.
    #[serde(default)]
    pub acceptance_criteria: String,
    /// Files the plan expects it to read or change (worktree-relative).
    #[serde(default)]
    pub files: Vec<String>,
    /// Planner's estimate (1 = trivial ... 5 = large); scales the context budget.
    #[serde(default = "three")]
    pub complexity: i32,
    /// Why the previous attempt was rejected (review findings, failing test output).
    #[serde(default)]
    pub feedback: Option<String>,
}

const fn one() -> u32 {
    1
}

const fn three() -> i32 {
    3
}

impl AgentTask {
    /// A first-attempt implementation task with only a title.
    #[must_use]
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            attempt: 1,
            complexity: 3,
            ..Self::default()
        }
    }

    /// The agent's view of a stored task of `ticket`.
    #[must_use]
    pub fn from_task(ticket: &Ticket, task: &Task) -> Self {
        Self {
            ticket_id: Some(task.ticket_id.clone()),
            task_id: Some(task.id.clone()),
            role: AgentRole::Implementer,
            attempt: u32::try_from(task.implementation_attempts.max(0))
                .unwrap_or(0)
                .saturating_add(1),
            ticket_title: ticket.title.clone(),
            ticket_description: ticket.description.clone(),
            title: task.title.clone(),
            description: task.description.clone(),
            acceptance_criteria: task.acceptance_criteria.clone(),
            files: task.files.clone(),
            complexity: task.complexity,
            feedback: None,
        }
    }

    /// Whether this is a retry (a later attempt, or one with feedback to address).
    #[must_use]
    pub fn is_retry(&self) -> bool {
        self.attempt > 1
            || self
                .feedback
                .as_deref()
                .is_some_and(|f| !f.trim().is_empty())
    }
}

/// How far a run may go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLimits {
    /// Model turns (LLM calls) at most.
    pub max_turns: u32,
    /// Tokens (input, cached input and output) at most; 0 is unlimited.
    #[serde(default)]
    pub token_budget: u64,
    /// Money at most, where the runner can enforce or pass it down.
    #[serde(default)]
    pub cost_budget: Option<Micros>,
    /// Wall time at most.
    #[serde(default, with = "opt_duration_ms")]
    pub timeout: Option<Duration>,
}

impl Default for AgentLimits {
    fn default() -> Self {
        Self {
            max_turns: 20,
            token_budget: 0,
            cost_budget: None,
            timeout: None,
        }
    }
}

mod opt_duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

/// One run: the task, where to work and how far to go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRequest {
    /// The task.
    pub task: AgentTask,
    /// The worktree the agent works in; it must not touch anything outside it.
    pub worktree: PathBuf,
    /// Limits.
    #[serde(default)]
    pub limits: AgentLimits,
    /// A `provider:model` for this run instead of the runner's own choice (the escalation
    /// model of a task's last attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The tools the agent may use, by name (`None`: all of them). The built-in runner offers
    /// only these (and `complete`, which ends every run); external runners (Claude Code,
    /// Codex, a command) choose their own tools and ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_tools: Option<Vec<String>>,
}

impl AgentRequest {
    /// A request with default limits.
    #[must_use]
    pub fn new(task: AgentTask, worktree: impl Into<PathBuf>) -> Self {
        Self {
            task,
            worktree: worktree.into(),
            limits: AgentLimits::default(),
            model: None,
            allowed_tools: None,
        }
    }

    /// Offers only `tools` (by name; `None`: every tool).
    #[must_use]
    pub fn with_allowed_tools(mut self, tools: Option<Vec<String>>) -> Self {
        self.allowed_tools = tools;
        self
    }

    /// Runs on `model` instead of the runner's default.
    #[must_use]
    pub fn with_model(mut self, model: Option<String>) -> Self {
        self.model = model;
        self
    }

    /// Replaces the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: AgentLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStopReason {
    /// The agent reported completion.
    Completed,
    /// It used every turn.
    MaxTurns,
    /// It used its token budget.
    TokenBudget,
    /// It used its money budget (or budget admission refused a call).
    CostBudget,
    /// It repeated itself or stopped changing files.
    Stalled,
    /// It ran out of wall time.
    TimedOut,
    /// The model stopped answering with tools without reporting completion.
    NoCompletion,
    /// An LLM call failed.
    LlmError,
    /// An external runner failed (non-zero exit, unreadable output).
    RunnerFailed,
}

impl AgentStopReason {
    /// Every reason.
    pub const ALL: &'static [Self] = &[
        Self::Completed,
        Self::MaxTurns,
        Self::TokenBudget,
        Self::CostBudget,
        Self::Stalled,
        Self::TimedOut,
        Self::NoCompletion,
        Self::LlmError,
        Self::RunnerFailed,
    ];

    /// The wire string (`agent_stalled` for [`Self::Stalled`], matching the event type).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::MaxTurns => "max_turns",
            Self::TokenBudget => "token_budget",
            Self::CostBudget => "cost_budget",
            Self::Stalled => "agent_stalled",
            Self::TimedOut => "timed_out",
            Self::NoCompletion => "no_completion",
            Self::LlmError => "llm_error",
            Self::RunnerFailed => "runner_failed",
        }
    }
}

impl fmt::Display for AgentStopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

/// A file the agent changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileChange {
    /// Worktree-relative path with `/` separators.
    pub path: String,
    /// How.
    pub kind: ChangeKind,
}

/// The agent's structured final report (the `complete` tool's input).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CompletionReport {
    /// What was done.
    pub summary: String,
    /// Tests written or changed.
    #[serde(default)]
    pub tests: Vec<String>,
    /// Whether the agent says the task is done (`false`: it is blocked and says why in
    /// `notes`).
    #[serde(default = "yes")]
    pub done: bool,
    /// Anything reviewers should know.
    #[serde(default)]
    pub notes: Option<String>,
}

const fn yes() -> bool {
    true
}

/// A command the agent ran or tried to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// The command line as asked.
    pub command: String,
    /// Whether the policy allowed it (refused commands are recorded too).
    pub allowed: bool,
    /// Exit code; `None` when it was refused, killed or did not start.
    pub exit_code: Option<i32>,
    /// Killed at the timeout.
    pub timed_out: bool,
    /// Wall time.
    pub duration_ms: u64,
    /// Bytes of output produced (before truncation).
    pub output_bytes: u64,
    /// Whether the output shown to the model was truncated.
    pub truncated: bool,
}

/// What a transcript entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptKind {
    /// The prompt the run started with.
    Prompt,
    /// Model text.
    Assistant,
    /// A tool call (the text is its input as JSON).
    ToolCall,
    /// A tool result.
    ToolResult,
    /// Something the runner told the model or noted (guards, compaction).
    Note,
}

/// One entry of a run's transcript. Everything in it has passed the secret scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// 1-based turn (0 for the prompt).
    pub turn: u32,
    /// What it is.
    pub kind: TranscriptKind,
    /// The tool, for calls and results.
    #[serde(default)]
    pub tool: Option<String>,
    /// The text (long tool results are clipped).
    pub text: String,
    /// A failed tool call.
    #[serde(default)]
    pub is_error: bool,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentOutcome {
    /// The runner (`builtin`, `claude-code`, `codex`, `command`).
    pub runner: String,
    /// Why it stopped.
    pub stop_reason: AgentStopReason,
    /// What went wrong, when it did not complete.
    #[serde(default)]
    pub error: Option<String>,
    /// The final report, when the agent gave one.
    #[serde(default)]
    pub report: Option<CompletionReport>,
    /// Files changed, sorted by path.
    pub files_changed: Vec<FileChange>,
    /// The conversation.
    pub transcript: Vec<TranscriptEntry>,
    /// Commands run or refused, in order.
    pub commands: Vec<CommandRecord>,
    /// Model turns taken.
    pub turns: u32,
    /// LLM calls made.
    pub llm_calls: u32,
    /// Tokens used.
    pub usage: Usage,
    /// Money spent (as priced by the runner; zero when it cannot tell).
    pub cost: Micros,
    /// Context selection statistics, for `TaskStore::update_task`.
    pub context: TaskContextStats,
    /// Secrets redacted before reaching the model.
    pub secrets_redacted: u64,
    /// Wall time.
    pub duration_ms: u64,
}

impl AgentOutcome {
    /// An outcome with nothing done yet.
    #[must_use]
    pub fn empty(runner: impl Into<String>, stop_reason: AgentStopReason) -> Self {
        Self {
            runner: runner.into(),
            stop_reason,
            error: None,
            report: None,
            files_changed: Vec::new(),
            transcript: Vec::new(),
            commands: Vec::new(),
            turns: 0,
            llm_calls: 0,
            usage: Usage::default(),
            cost: Micros::ZERO,
            context: TaskContextStats::default(),
            secrets_redacted: 0,
            duration_ms: 0,
        }
    }

    /// Whether the agent reported the task done.
    #[must_use]
    pub fn is_completed(&self) -> bool {
        self.stop_reason == AgentStopReason::Completed
            && self.report.as_ref().is_none_or(|r| r.done)
    }
}

/// Progress of a run, reported while it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentProgress {
    /// Context was selected before the first turn.
    ContextSelected {
        /// The statistics.
        stats: TaskContextStats,
        /// The files, best first.
        files: Vec<String>,
    },
    /// A model turn started.
    TurnStarted {
        /// 1-based turn.
        turn: u32,
    },
    /// The model said something.
    Text {
        /// The text.
        text: String,
    },
    /// A tool is about to run.
    ToolCall {
        /// 1-based turn.
        turn: u32,
        /// Tool name.
        name: String,
        /// A one-line summary of the input.
        summary: String,
    },
    /// A tool finished.
    ToolResult {
        /// 1-based turn.
        turn: u32,
        /// Tool name.
        name: String,
        /// Whether it succeeded.
        ok: bool,
    },
    /// Usage so far.
    Usage {
        /// Tokens so far.
        usage: Usage,
        /// Money so far.
        cost: Micros,
    },
    /// A guard fired or something else needs attention.
    Warning {
        /// What happened.
        message: String,
    },
    /// The run ended.
    Finished {
        /// Why.
        stop_reason: AgentStopReason,
    },
}

/// Receives run progress. Called inline: must be quick and must not block.
pub trait AgentProgressSink: Send + Sync {
    /// One progress report.
    fn report(&self, progress: AgentProgress);
}

/// A sink that ignores progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAgentProgress;

impl AgentProgressSink for NoAgentProgress {
    fn report(&self, _progress: AgentProgress) {}
}

impl<F> AgentProgressSink for F
where
    F: Fn(AgentProgress) + Send + Sync,
{
    fn report(&self, progress: AgentProgress) {
        self(progress);
    }
}

/// Why a run could not be made at all. Runs that start and then fail return an
/// [`AgentOutcome`] with a stop reason instead, so the work done so far is not lost.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The worktree is missing or not a directory.
    #[error("invalid worktree {path}: {reason}")]
    InvalidWorktree {
        /// The path given.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The request is inconsistent (zero turns, empty title, ...).
    #[error("invalid agent request: {message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// The runner is not set up (unknown prompt, missing model, bad settings).
    #[error("agent runner not configured: {message}")]
    NotConfigured {
        /// What is missing.
        message: String,
    },
    /// An external runner's program could not be started.
    #[error("cannot start runner {runner}: {message}")]
    Spawn {
        /// The runner.
        runner: String,
        /// Why.
        message: String,
    },
}

impl AgentError {
    /// A transport-neutral code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidWorktree { .. } => "invalid_worktree",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::NotConfigured { .. } => "not_configured",
            Self::Spawn { .. } => "spawn_failed",
        }
    }
}

/// A coding agent.
///
/// Implementations confine themselves to `request.worktree`, stop within `request.limits`, and
/// report progress to `progress` while they run.
#[async_trait]
pub trait AgentRunner: Send + Sync {
    /// The runner's name (`builtin`, `claude-code`, `codex`, `command`), recorded as the runner
    /// of its LLM calls.
    fn name(&self) -> &str;

    /// Runs the task to completion or to a limit.
    async fn run(
        &self,
        request: &AgentRequest,
        progress: &dyn AgentProgressSink,
    ) -> Result<AgentOutcome, AgentError>;
}

impl fmt::Debug for dyn AgentRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentRunner")
            .field("name", &self.name())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_have_unique_snake_case_strings() {
        let mut seen = std::collections::HashSet::new();
        for r in AgentStopReason::ALL {
            assert!(seen.insert(r.as_str()), "duplicate {r}");
            assert!(
                r.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
        assert_eq!(AgentStopReason::Stalled.as_str(), "agent_stalled");
    }

    #[test]
    fn retry_is_a_later_attempt_or_feedback() {
        let mut t = AgentTask::new("x");
        assert!(!t.is_retry());
        t.feedback = Some("  ".into());
        assert!(!t.is_retry());
        t.feedback = Some("tests fail".into());
        assert!(t.is_retry());
        let t2 = AgentTask {
            attempt: 2,
            ..AgentTask::new("x")
        };
        assert!(t2.is_retry());
    }

    #[test]
    fn limits_serialise_timeout_as_milliseconds() {
        let l = AgentLimits {
            timeout: Some(Duration::from_millis(1500)),
            ..AgentLimits::default()
        };
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(v["timeout"], 1500);
        let back: AgentLimits = serde_json::from_value(v).unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn completed_needs_a_done_report() {
        let mut o = AgentOutcome::empty("builtin", AgentStopReason::Completed);
        assert!(o.is_completed());
        o.report = Some(CompletionReport {
            summary: "blocked".into(),
            done: false,
            ..CompletionReport::default()
        });
        assert!(!o.is_completed());
        o.stop_reason = AgentStopReason::MaxTurns;
        o.report = None;
        assert!(!o.is_completed());
    }
}
