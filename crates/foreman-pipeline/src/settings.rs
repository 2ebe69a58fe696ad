//! What the engine is given: its settings, the ports it works through, and each project's
//! repository, host and tracker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use foreman_domain::agent::{AgentLimits, AgentRunner};
use foreman_domain::exec::CommandRunner;
use foreman_domain::git::{GitHost, GitRepo};
use foreman_domain::llm::LlmProvider;
use foreman_domain::pipeline::Role;
use foreman_domain::prompt::PromptSource;
use foreman_domain::skill::{HookConfig, SkillCatalog, WorktreeWriter};
use foreman_domain::tracker::Tracker;
use foreman_domain::{EventLog, Store};

/// Tunables of the engine and the daemon.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSettings {
    /// This node's worker id prefix (leases are held as `<worker_id>/<n>`).
    pub worker_id: String,
    /// Tickets worked on at once.
    pub max_parallel_tickets: usize,
    /// Tasks of one ticket worked on at once.
    pub max_parallel_tasks: usize,
    /// How often the daemon looks for work.
    pub poll_interval: Duration,
    /// How often pull requests, decompositions, clarifications and trackers are followed.
    pub housekeeping_interval: Duration,
    /// Lease length; renewed at a third of it.
    pub lease: Duration,
    /// How long shutdown waits for running steps.
    pub shutdown_grace: Duration,
    /// Ask the clarifier before planning.
    pub enable_clarification: bool,
    /// Unanswered clarifications block the ticket after this long.
    pub clarification_timeout: Duration,
    /// Require the red→green proof for every task.
    pub enable_tdd_verification: bool,
    /// Open a draft `[PARTIAL]` pull request when some tasks failed.
    pub enable_partial_pr: bool,
    /// Most tasks in a plan.
    pub max_tasks_per_ticket: usize,
    /// Re-plans after a failed validation.
    pub max_replans: u32,
    /// Implementation attempts per task.
    pub max_implementation_retries: u32,
    /// Spec review rounds per task.
    pub max_spec_review_cycles: u32,
    /// Quality review rounds per task.
    pub max_quality_review_cycles: u32,
    /// LLM calls per task before it fails.
    pub max_llm_calls_per_task: i64,
    /// Timeout of one test, lint or build command.
    pub command_timeout: Duration,
    /// Role → `provider:model`.
    pub models: BTreeMap<String, String>,
    /// Limits handed to the coding agent per run.
    pub agent_limits: AgentLimits,
    /// Token budget of the conflict resolver per conflict.
    pub conflict_resolution_token_budget: u64,
    /// Label that marks a ticket waiting for answers.
    pub clarification_label: String,
    /// Spending limits (daily and monthly exhaustion pauses intake).
    pub budgets: foreman_domain::BudgetLimits,
    /// `provider:model` for a task's last implementation attempt.
    pub escalation_model: Option<String>,
    /// How a step stopped by a transient fault is retried.
    pub transient_retry: TransientRetry,
    /// A task checkpoint (the tests or the code the implementer wrote, committed on the task
    /// branch) is pushed for other nodes to resume from once the work not yet pushed took at
    /// least this long (zero: every checkpoint). Work done since the last push is what a node
    /// that takes the task over repeats; the task's final commit is always pushed.
    pub checkpoint_push_after: Duration,
    /// The hooks (`[[pipeline.hooks]]`): the skills run at each point of the pipeline, in
    /// configuration order (see [`crate::hooks`]).
    pub hooks: Vec<HookConfig>,
}

/// How the engine retries a step that a transient fault stopped
/// ([`foreman_domain::pipeline::FailureClass::is_transient`]): from the ticket's last completed
/// step, after a capped exponential backoff with jitter, at most `max_retries` times in a row
/// for the same step; the ticket fails under the fault's class after that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransientRetry {
    /// Retries of one step before the ticket fails (0: fail at once).
    pub max_retries: u32,
    /// Backoff before the first retry; it doubles for each further one.
    pub initial_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
}

impl Default for TransientRetry {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
        }
    }
}

impl TransientRetry {
    /// The wait before retry `retry` (1-based): `initial_backoff · 2^(retry-1)`, capped at
    /// `max_backoff`, with "equal jitter" (between half and all of it) drawn from `unit`, a
    /// number in `[0, 1)`, so that tickets hit by the same outage do not come back together. A
    /// service's own `Retry-After` (`at_least`) is honoured up to `max_backoff`.
    #[must_use]
    pub fn backoff(&self, retry: u32, unit: f64, at_least: Option<Duration>) -> Duration {
        let exp = i32::try_from(retry.saturating_sub(1).min(30)).unwrap_or(30);
        let cap = self.max_backoff.as_secs_f64();
        let base = (self.initial_backoff.as_secs_f64() * 2f64.powi(exp)).min(cap);
        let jittered = base / 2.0 + base / 2.0 * unit.clamp(0.0, 1.0);
        let wait = Duration::try_from_secs_f64(jittered).unwrap_or(self.max_backoff);
        match at_least {
            Some(floor) => wait.max(floor.min(self.max_backoff)),
            None => wait,
        }
    }
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            worker_id: "foreman".into(),
            max_parallel_tickets: 3,
            max_parallel_tasks: 3,
            poll_interval: Duration::from_secs(2),
            housekeeping_interval: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            enable_clarification: false,
            clarification_timeout: Duration::from_secs(72 * 3600),
            enable_tdd_verification: true,
            enable_partial_pr: true,
            max_tasks_per_ticket: 12,
            max_replans: 2,
            max_implementation_retries: 3,
            max_spec_review_cycles: 2,
            max_quality_review_cycles: 2,
            max_llm_calls_per_task: 60,
            command_timeout: Duration::from_secs(600),
            models: Role::default_models(),
            agent_limits: AgentLimits::default(),
            conflict_resolution_token_budget: 20_000,
            clarification_label: "foreman-needs-clarification".into(),
            budgets: foreman_domain::BudgetLimits::default(),
            escalation_model: None,
            transient_retry: TransientRetry::default(),
            checkpoint_push_after: Duration::from_secs(20),
            hooks: Vec::new(),
        }
    }
}

impl PipelineSettings {
    /// The `provider:model` for a role (the implementer's when the role has none).
    #[must_use]
    pub fn model_for(&self, role: Role) -> String {
        self.models
            .get(role.as_str())
            .or_else(|| self.models.get(Role::Implementer.as_str()))
            .cloned()
            .unwrap_or_else(|| "scripted:demo".into())
    }
}

/// One project's repository, pull-request host, tracker and commands.
#[derive(Clone)]
pub struct ProjectRuntime {
    /// Project slug.
    pub name: String,
    /// The working copy.
    pub repo: Arc<dyn GitRepo>,
    /// Where pull requests go.
    pub host: Arc<dyn GitHost>,
    /// Where tickets come from.
    pub tracker: Arc<dyn Tracker>,
    /// Ticket branch prefix.
    pub branch_prefix: String,
    /// The test command (run for red/green and the full suite); empty: detected per checkout.
    pub test_command: String,
    /// The lint command, if any.
    pub lint_command: Option<String>,
    /// Merge pull requests once open and green.
    pub auto_merge: bool,
    /// How often to poll the tracker for ready tickets (`None`: tickets arrive through the API
    /// or webhooks only).
    pub poll_interval: Option<Duration>,
}

impl ProjectRuntime {
    /// The test command for a checkout: the configured one, else one detected from the files
    /// at its top (see [`detect_test_command`]), else `make test`.
    #[must_use]
    pub fn test_command_for(&self, root: &std::path::Path) -> String {
        if !self.test_command.trim().is_empty() {
            return self.test_command.clone();
        }
        detect_test_command(root).unwrap_or_else(|| "make test".to_owned())
    }
}

/// Guesses a project's test command from the files at the top of a checkout: Cargo, Go, npm,
/// pytest, make, or Python's unittest when there is only a `tests` directory.
#[must_use]
pub fn detect_test_command(root: &std::path::Path) -> Option<String> {
    let has = |f: &str| root.join(f).exists();
    let cmd = if has("Cargo.toml") {
        "cargo test"
    } else if has("go.mod") {
        "go test ./..."
    } else if has("package.json") {
        "npm test"
    } else if has("pyproject.toml") || has("pytest.ini") || has("setup.cfg") {
        "python3 -m pytest -q"
    } else if has("Makefile") {
        "make test"
    } else if has("tests") {
        "python3 -m unittest discover -s tests -t ."
    } else {
        return None;
    };
    Some(cmd.to_owned())
}

impl std::fmt::Debug for ProjectRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectRuntime")
            .field("name", &self.name)
            .field("host", &self.host.name())
            .field("test_command", &self.test_command)
            .finish_non_exhaustive()
    }
}

/// Every port the engine works through.
#[derive(Clone)]
pub struct Ports {
    /// Tickets, tasks, calls, outbox and settings.
    pub store: Arc<dyn Store>,
    /// The event log (publishing to live subscribers).
    pub events: Arc<dyn EventLog>,
    /// The language model (metered: budgets, retries, recording).
    pub llm: Arc<dyn LlmProvider>,
    /// The coding agent.
    pub agent: Arc<dyn AgentRunner>,
    /// Runs test and lint commands.
    pub commands: Arc<dyn CommandRunner>,
    /// Role prompts.
    pub prompts: Arc<dyn PromptSource>,
    /// Projects by name.
    pub projects: BTreeMap<String, ProjectRuntime>,
    /// The skills hooks run (built in, from the data directory, from each repository).
    pub skills: Arc<dyn SkillCatalog>,
    /// Writes files in worktrees through the agent's path confinement (`file_write` steps).
    pub files: Arc<dyn WorktreeWriter>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field("projects", &self.projects.keys())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_backoff_doubles_up_to_its_cap_with_equal_jitter() {
        let r = TransientRetry {
            max_retries: 5,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(20),
        };
        let s = Duration::from_secs;
        assert_eq!(r.backoff(1, 0.0, None), s(1));
        assert_eq!(r.backoff(1, 1.0, None), s(2));
        assert_eq!(r.backoff(2, 1.0, None), s(4));
        assert_eq!(r.backoff(3, 0.5, None), s(6));
        // capped, and never below half the cap
        assert_eq!(r.backoff(9, 1.0, None), s(20));
        assert_eq!(r.backoff(40, 0.0, None), s(10));
        // a service's Retry-After is honoured, up to the cap
        assert_eq!(r.backoff(1, 0.0, Some(s(7))), s(7));
        assert_eq!(r.backoff(1, 0.0, Some(s(700))), s(20));
        for unit in [0.0, 0.3, 0.99] {
            for retry in 1..10 {
                let d = r.backoff(retry, unit, None);
                assert!(d >= s(1) && d <= s(20), "{retry} {unit}: {d:?}");
            }
        }
    }
}
