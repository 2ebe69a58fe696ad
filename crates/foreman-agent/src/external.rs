//! External runners: Claude Code, Codex, or any command, behind the same `AgentRunner` port.
//!
//! The runner renders the implementer prompt, scrubs it of secrets, starts the program in the
//! worktree (its own process group, a scrubbed environment plus the variables configured for
//! it, the prompt on stdin) and reads its streamed output line by line:
//!
//! - Claude Code: `claude -p --output-format stream-json --verbose` (`system`, `assistant`,
//!   `user` and `result` lines; usage and `total_cost_usd` from the result);
//! - Codex: `codex exec --json` (`thread.started`, `turn.*`, `item.*` lines; usage from
//!   `turn.completed`, priced with the configured [`CostEstimator`]);
//! - a generic command speaking a small JSON-lines protocol and the `FOREMAN_COST` line (see
//!   `docs/agent.md`); other lines are progress text.
//!
//! Each run is metered like an LLM call: before the program starts, its most
//! (`max_cost_usd`) is reserved against the task, ticket, daily and monthly budgets through the
//! `CostLedger` port, and a refusal means the program is never started; afterwards the
//! reservation is settled with one `llm_calls` row carrying the cost the tool reported (a crash
//! or timeout settles it with what was reported so far, which releases the rest). Permissions
//! are not skipped unless `skip_permissions` is set; a budget is passed down where the tool
//! supports it (`--max-budget-usd`); at the timeout the whole process group is killed. Every
//! program is started by [`ExternalRunner::spawn_argv`], the one place a sandbox wraps.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use foreman_domain::agent::{
    AgentError, AgentOutcome, AgentProgress, AgentProgressSink, AgentRequest, AgentRole,
    AgentRunner, AgentStopReason, AgentTask, ChangeKind, CommandRecord, CompletionReport,
    FileChange, TranscriptEntry, TranscriptKind,
};
use foreman_domain::llm::Usage;
use foreman_domain::{
    BudgetExceeded, BudgetLimits, BudgetScope, CostLedger, EventLog, EventType, LlmCallStatus,
    Micros, NewEvent, NewLlmCall, ReservationId, ReservationRequest, StoreError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::command::{HeadTail, is_sensitive_env, kill_group, scrubbed_env, spawnable};
use crate::error::SetupError;
use crate::isolation::{Isolation, IsolationOptions, Wrapped, find_program};
use crate::observe::{CostEstimator, Observer};
use crate::prompts::PromptLibrary;
use crate::secrets::SecretScanner;

/// Which external agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExternalKind {
    /// Anthropic's Claude Code CLI.
    #[default]
    #[serde(alias = "claude-code")]
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
    /// Any program speaking the generic JSON-lines protocol (or plain text).
    Command,
}

impl ExternalKind {
    /// The runner name recorded on outcomes and LLM calls (`claude_code`, `codex`,
    /// `command`).
    #[must_use]
    pub const fn runner_name(self) -> &'static str {
        match self {
            Self::ClaudeCode => "claude_code",
            Self::Codex => "codex",
            Self::Command => "command",
        }
    }

    /// The provider recorded on LLM calls: the runner's label, so external work is told
    /// apart from Foreman's own calls to the same vendor.
    #[must_use]
    pub const fn provider(self) -> &'static str {
        self.runner_name()
    }

    /// The model vendor whose `provider:model` names the tool accepts with `--model`
    /// (`None`: any, as for a command).
    #[must_use]
    pub const fn vendor(self) -> Option<&'static str> {
        match self {
            Self::ClaudeCode => Some("anthropic"),
            Self::Codex => Some("openai"),
            Self::Command => None,
        }
    }

    const fn default_program(self) -> &'static str {
        match self {
            Self::ClaudeCode => "claude",
            Self::Codex => "codex",
            Self::Command => "",
        }
    }
}

/// `[agent_runner.external]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExternalSettings {
    /// Which agent.
    pub kind: ExternalKind,
    /// The program (default `claude` or `codex`); for `command`, the first word of
    /// `command` is used instead.
    pub program: String,
    /// For `command`: the argument vector; `{worktree}`, `{prompt_file}`, `{max_turns}`,
    /// `{model}`, `{ticket_id}` and `{task_id}` are replaced.
    pub command: Vec<String>,
    /// Model passed with `--model` (empty: the tool's default).
    pub model: String,
    /// Further arguments.
    pub args: Vec<String>,
    /// Skip the tool's permission checks (`--dangerously-skip-permissions`,
    /// `--dangerously-bypass-approvals-and-sandbox`). Off by default.
    pub skip_permissions: bool,
    /// Claude Code tools allowed without asking (`--allowedTools`).
    pub allowed_tools: Vec<String>,
    /// Codex sandbox mode (`--sandbox`).
    pub codex_sandbox: String,
    /// Run time limit in seconds when the request gives none.
    pub timeout_secs: u64,
    /// Variables passed to the program besides the base set. Unlike commands run by the
    /// built-in agent, credentials named here are passed (the tool needs its own API key).
    pub env_passthrough: Vec<String>,
    /// Stderr bytes kept for error messages.
    pub max_stderr_bytes: usize,
    /// Whether the program may use the network (it needs its model API); applied by the
    /// sandbox that wraps [`ExternalRunner::spawn_argv`].
    pub network: bool,
    /// Money reserved against the budgets before a run starts, in USD (also the
    /// `--max-budget-usd` passed to Claude Code). 0 reserves nothing but still refuses runs
    /// once a budget is spent.
    pub max_cost_usd: f64,
}

impl Default for ExternalSettings {
    fn default() -> Self {
        Self {
            kind: ExternalKind::ClaudeCode,
            program: String::new(),
            command: Vec::new(),
            model: String::new(),
            args: Vec::new(),
            skip_permissions: false,
            allowed_tools: ["Read", "Edit", "MultiEdit", "Write", "Glob", "Grep", "LS"]
                .map(str::to_owned)
                .to_vec(),
            codex_sandbox: "workspace-write".into(),
            timeout_secs: 3_600,
            env_passthrough: Vec::new(),
            max_stderr_bytes: 8_192,
            network: true,
            max_cost_usd: 2.0,
        }
    }
}

/// An external coding agent.
pub struct ExternalRunner {
    settings: ExternalSettings,
    prompts: Arc<PromptLibrary>,
    scanner: Arc<SecretScanner>,
    env: Vec<(String, String)>,
    ledger: Option<Arc<dyn CostLedger>>,
    limits: BudgetLimits,
    events: Option<Arc<dyn EventLog>>,
    pricing: Option<Arc<dyn CostEstimator>>,
    isolation: Option<Isolation>,
    alerted: Mutex<HashSet<(EventType, BudgetScope, String)>>,
}

impl std::fmt::Debug for ExternalRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalRunner")
            .field("kind", &self.settings.kind)
            .field("program", &self.program())
            .finish_non_exhaustive()
    }
}

impl ExternalRunner {
    /// A runner with the environment of this process (base variables plus
    /// `env_passthrough`).
    ///
    /// # Errors
    /// Inconsistent settings (no command for `command`, zero timeout).
    pub fn new(
        settings: ExternalSettings,
        prompts: Arc<PromptLibrary>,
    ) -> Result<Self, SetupError> {
        let env = external_env(&settings.env_passthrough, |n| std::env::var(n).ok());
        Self::with_env(settings, prompts, env)
    }

    /// Like [`Self::new`] with an explicit environment.
    ///
    /// # Errors
    /// Inconsistent settings.
    pub fn with_env(
        settings: ExternalSettings,
        prompts: Arc<PromptLibrary>,
        env: Vec<(String, String)>,
    ) -> Result<Self, SetupError> {
        if settings.kind == ExternalKind::Command && settings.command.is_empty() {
            return Err(SetupError::InvalidSetting {
                key: "agent_runner.external.command".into(),
                value: String::new(),
                reason: "the command runner needs a command".into(),
            });
        }
        if !settings.max_cost_usd.is_finite() || settings.max_cost_usd < 0.0 {
            return Err(SetupError::InvalidSetting {
                key: "agent_runner.max_cost_usd".into(),
                value: settings.max_cost_usd.to_string(),
                reason: "must be a non-negative number of USD".into(),
            });
        }
        if settings.timeout_secs == 0 {
            return Err(SetupError::InvalidSetting {
                key: "agent_runner.external.timeout_secs".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            settings,
            prompts,
            scanner: Arc::new(SecretScanner::default_rules()),
            env,
            ledger: None,
            limits: BudgetLimits::default(),
            events: None,
            pricing: None,
            isolation: None,
            alerted: Mutex::new(HashSet::new()),
        })
    }

    /// Starts every run through `isolation` (the configured OS sandbox, with the network kept
    /// when `network` is set). Without it the program runs on the host.
    #[must_use]
    pub fn with_isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = Some(isolation);
        self
    }

    /// Records each run as an LLM call in `ledger`, reserving `max_cost_usd` against the
    /// budgets (see [`Self::with_budget`]) before it starts.
    #[must_use]
    pub fn with_ledger(mut self, ledger: Arc<dyn CostLedger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// The task, ticket, daily and monthly limits runs are admitted against (default:
    /// unlimited; only used with a ledger).
    #[must_use]
    pub fn with_budget(mut self, limits: BudgetLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Records `agent_turn`, `agent_stalled` and `secrets_detected` events in `log`.
    #[must_use]
    pub fn with_events(mut self, log: Arc<dyn EventLog>) -> Self {
        self.events = Some(log);
        self
    }

    /// Prices usage the tool does not price itself (Codex, generic commands).
    #[must_use]
    pub fn with_pricing(mut self, pricing: Arc<dyn CostEstimator>) -> Self {
        self.pricing = Some(pricing);
        self
    }

    /// Replaces the secret scanner (to add configured patterns).
    #[must_use]
    pub fn with_scanner(mut self, scanner: Arc<SecretScanner>) -> Self {
        self.scanner = scanner;
        self
    }

    fn program(&self) -> String {
        if self.settings.kind == ExternalKind::Command {
            return self.settings.command.first().cloned().unwrap_or_default();
        }
        if self.settings.program.is_empty() {
            self.settings.kind.default_program().to_owned()
        } else {
            self.settings.program.clone()
        }
    }

    /// The model a run of `request` uses: the request's own (the escalation model, as
    /// `provider:model`) when its vendor suits the tool, else the configured one (empty: the
    /// tool's default).
    #[must_use]
    pub fn model_for(&self, request: &AgentRequest) -> String {
        let asked = request.model.as_deref().and_then(|spec| {
            let (vendor, model) = spec
                .split_once(':')
                .map_or((None, spec), |(v, m)| (Some(v), m));
            let fits = match (self.settings.kind.vendor(), vendor) {
                (Some(want), Some(got)) => want == got,
                _ => true,
            };
            if !fits {
                tracing::warn!(
                    runner = self.name(),
                    model = spec,
                    "escalation model is for another vendor; keeping the configured model"
                );
            }
            (fits && !model.is_empty()).then(|| model.to_owned())
        });
        asked.unwrap_or_else(|| self.settings.model.clone())
    }

    /// The money held back for a run of `request`: `max_cost_usd`, or the request's own
    /// cost budget when that is smaller.
    fn run_cap(&self, request: &AgentRequest) -> Micros {
        let cap = Micros::from_usd(self.settings.max_cost_usd);
        match request.limits.cost_budget {
            Some(b) if b < cap => b,
            _ => cap,
        }
    }

    /// The command line a run of `request` starts (the prompt goes to stdin).
    #[must_use]
    pub fn command_line(&self, request: &AgentRequest) -> Vec<String> {
        self.argv(request, None)
    }

    fn argv(&self, request: &AgentRequest, prompt_file: Option<&Path>) -> Vec<String> {
        let s = &self.settings;
        let model = self.model_for(request);
        let cap = self.run_cap(request);
        let mut argv = vec![self.program()];
        match s.kind {
            ExternalKind::ClaudeCode => {
                argv.extend(
                    [
                        "-p",
                        "--output-format",
                        "stream-json",
                        "--verbose",
                        "--max-turns",
                    ]
                    .map(str::to_owned),
                );
                argv.push(request.limits.max_turns.to_string());
                if !model.is_empty() {
                    argv.extend(["--model".into(), model.clone()]);
                }
                if cap > Micros::ZERO {
                    argv.extend(["--max-budget-usd".into(), format!("{:.2}", cap.to_usd())]);
                }
                if s.skip_permissions {
                    argv.push("--dangerously-skip-permissions".into());
                } else if !s.allowed_tools.is_empty() {
                    argv.extend(["--allowedTools".into(), s.allowed_tools.join(",")]);
                }
            }
            ExternalKind::Codex => {
                argv.extend(["exec", "--json", "--cd"].map(str::to_owned));
                argv.push(request.worktree.display().to_string());
                if s.skip_permissions {
                    argv.push("--dangerously-bypass-approvals-and-sandbox".into());
                } else {
                    argv.extend(["--sandbox".into(), s.codex_sandbox.clone()]);
                }
                if !model.is_empty() {
                    argv.extend(["--model".into(), model.clone()]);
                }
            }
            ExternalKind::Command => {
                let task = &request.task;
                let prompt_file = prompt_file.map(|p| p.display().to_string());
                let fill = |a: &str| {
                    a.replace("{worktree}", &request.worktree.display().to_string())
                        .replace("{prompt_file}", prompt_file.as_deref().unwrap_or(""))
                        .replace("{max_turns}", &request.limits.max_turns.to_string())
                        .replace("{model}", &model)
                        .replace(
                            "{ticket_id}",
                            task.ticket_id.as_ref().map_or("", |t| t.as_str()),
                        )
                        .replace(
                            "{task_id}",
                            task.task_id.as_ref().map_or("", |t| t.as_str()),
                        )
                };
                argv = s.command.iter().map(|a| fill(a)).collect();
            }
        }
        argv.extend(s.args.iter().cloned());
        if s.kind == ExternalKind::Codex {
            argv.push("-".into());
        }
        argv
    }

    /// After a run settles at `cost`: `cost_exceeded` for each budget it took to its limit,
    /// else `cost_alert` past the alert threshold, each at most once per budget period.
    fn alerts(&self, hold: &Hold, cost: Micros) -> Vec<NewEvent> {
        let mut out = Vec::new();
        let runner = self.name();
        for (scope, committed, period) in &hold.periods {
            let limit = match scope {
                BudgetScope::Task => self.limits.task,
                BudgetScope::Ticket => self.limits.ticket,
                BudgetScope::Daily => self.limits.daily,
                BudgetScope::Monthly => self.limits.monthly,
            };
            let Some(limit) = limit.filter(|l| *l > Micros::ZERO) else {
                continue;
            };
            let spent = *committed - hold.amount + cost;
            let pct = self.limits.alert_threshold_pct;
            let (kind, message) = if spent >= limit {
                (
                    EventType::CostExceeded,
                    format!("{scope} budget exhausted: {spent} of {limit}"),
                )
            } else if pct > 0 && i128::from(spent.0) * 100 >= i128::from(limit.0) * i128::from(pct)
            {
                (
                    EventType::CostAlert,
                    format!(
                        "{scope} budget at {}% of its limit: {spent} of {limit}",
                        i128::from(spent.0) * 100 / i128::from(limit.0)
                    ),
                )
            } else {
                continue;
            };
            let first = self
                .alerted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert((kind, *scope, period.clone()));
            if first {
                out.push(NewEvent::new(kind, message).details(json!({
                    "runner": runner,
                    "scope": scope.as_str(),
                    "limit_usd": limit.to_usd(),
                    "spent_usd": spent.to_usd(),
                    "alert_threshold_pct": pct,
                    "period": period,
                })));
            }
        }
        out
    }

    /// Reserves the run's most against the budgets. `Ok(None)` without a ledger; `Err` is
    /// the outcome of a run that must not start (recorded as a refused call).
    async fn admit(
        &self,
        request: &AgentRequest,
        model: &str,
        version: &str,
        observer: &Observer,
        started: Instant,
    ) -> Result<Option<Hold>, Box<AgentOutcome>> {
        let Some(ledger) = &self.ledger else {
            return Ok(None);
        };
        let task = &request.task;
        let runner = self.name();
        let amount = self.run_cap(request);
        let at = foreman_domain::now();
        let reserved = ledger
            .reserve(&ReservationRequest {
                ticket_id: task.ticket_id.clone(),
                task_id: task.task_id.clone(),
                amount,
                limits: self.limits,
                at,
            })
            .await;
        let (stop, error, refusal) = match reserved {
            Ok(r) => {
                let id = |x: Option<&str>| x.unwrap_or("").to_owned();
                let periods = r
                    .committed
                    .iter()
                    .map(|&(scope, committed)| {
                        let period = match scope {
                            BudgetScope::Task => id(task.task_id.as_ref().map(|t| t.as_str())),
                            BudgetScope::Ticket => id(task.ticket_id.as_ref().map(|t| t.as_str())),
                            BudgetScope::Daily => at.date_naive().to_string(),
                            BudgetScope::Monthly => at.format("%Y-%m").to_string(),
                        };
                        (scope, committed, period)
                    })
                    .collect();
                return Ok(Some(Hold {
                    ledger: ledger.clone(),
                    id: Some(r.id),
                    amount: r.amount,
                    periods,
                }));
            }
            Err(StoreError::BudgetExceeded(b)) => {
                (AgentStopReason::CostBudget, format!("{b}"), Some(b))
            }
            Err(e) => (
                AgentStopReason::RunnerFailed,
                format!("cost ledger failed, {runner} not started: {e}"),
                None,
            ),
        };
        tracing::warn!(runner, error = %error, "external agent run not started");
        if let Some(b) = &refusal {
            let call = NewLlmCall {
                ticket_id: task.ticket_id.clone(),
                task_id: task.task_id.clone(),
                role: task.role.as_str().to_owned(),
                provider: self.settings.kind.provider().to_owned(),
                model: if model.is_empty() {
                    runner.to_owned()
                } else {
                    model.to_owned()
                },
                runner: runner.to_owned(),
                attempt: i32::try_from(task.attempt).unwrap_or(i32::MAX),
                status: Some(LlmCallStatus::BudgetExceeded),
                error: Some(error.clone()),
                prompt_version: Some(version.to_owned()),
                ..NewLlmCall::default()
            };
            if let Err(e) = ledger.record_llm_call(call).await {
                tracing::warn!(runner, error = %e, "cannot record refused external agent run");
            }
            observer.emit(budget_event(runner, b)).await;
        }
        let mut outcome = AgentOutcome::empty(runner, stop);
        outcome.error = Some(error);
        outcome.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Err(Box::new(outcome))
    }

    /// Starts `argv` in `worktree` in its own process group with the runner's environment
    /// plus `extra_env`, stdin, stdout and stderr piped, through the runner's [`Isolation`]
    /// when it has one (network kept when `settings.network`; the program's own directory and
    /// `read_only` visible read-only). This is the only place an external program is started.
    /// The returned [`Wrapped`] (the sandbox's cgroup) must live as long as the child.
    ///
    /// Credentials named in `env_passthrough` are passed even though the isolation drops
    /// credential-like names from everything else: the tool needs its API key.
    ///
    /// # Errors
    /// [`AgentError::Spawn`] when the sandbox is unavailable or the program cannot be started.
    pub fn spawn_argv(
        &self,
        argv: &[String],
        worktree: &Path,
        extra_env: &[(String, String)],
        read_only: &[PathBuf],
    ) -> Result<(tokio::process::Child, Option<Wrapped>), AgentError> {
        let runner = self.name();
        let spawn_error = |message: String| AgentError::Spawn {
            runner: runner.to_owned(),
            message,
        };
        if argv.is_empty() {
            return Err(AgentError::NotConfigured {
                message: "empty command line".into(),
            });
        }
        let mut env: Vec<(String, String)> = self.env.clone();
        env.extend(extra_env.iter().cloned());
        env.push((
            foreman_domain::git::CHILD_MARKER_ENV.to_owned(),
            "1".to_owned(),
        ));
        let (line, env, dir, wrapped) = match &self.isolation {
            None => (argv.to_vec(), env, worktree.to_owned(), None),
            Some(iso) => {
                let mut visible = read_only.to_vec();
                let program = if argv[0].contains('/') {
                    argv[0].clone()
                } else {
                    find_program(&argv[0])
                };
                if let Some(dir) = std::fs::canonicalize(&program)
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                {
                    visible.push(dir);
                }
                let opts = IsolationOptions {
                    network: self.settings.network,
                    read_only: visible,
                    read_write: Vec::new(),
                };
                let mut w = iso
                    .wrap(argv, worktree, &env, &opts)
                    .map_err(|e| spawn_error(e.to_string()))?;
                // The isolation drops credential-like names (and every `FOREMAN_*`); the ones
                // named for the tool and the run's own `FOREMAN_*` variables go back in
                // (bubblewrap passes its environment on).
                for (name, value) in &env {
                    let ours = extra_env.iter().any(|(n, _)| n == name);
                    if (ours || self.settings.env_passthrough.contains(name))
                        && !w.env.iter().any(|(n, _)| n == name)
                    {
                        w.env.push((name.clone(), value.clone()));
                    }
                }
                (w.argv.clone(), w.env.clone(), w.dir.clone(), Some(w))
            }
        };
        let (program, args) = line
            .split_first()
            .ok_or_else(|| AgentError::NotConfigured {
                message: "empty command line".into(),
            })?;
        let child = tokio::process::Command::new(spawnable(program, &env))
            .args(args)
            .current_dir(&dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| spawn_error(format!("{}: {e}", argv[0])))?;
        Ok((child, wrapped))
    }

    fn prompt(&self, task: &AgentTask) -> Result<(String, String), AgentError> {
        let name = match task.role {
            AgentRole::ConflictResolver => "conflict-resolver",
            AgentRole::Implementer if task.is_retry() => "implementer-retry",
            AgentRole::Implementer => "implementer",
        };
        let commands: Vec<String> = self
            .settings
            .allowed_tools
            .iter()
            .filter_map(|t| {
                t.strip_prefix("Bash(")
                    .and_then(|r| r.strip_suffix(')'))
                    .map(|r| r.trim_end_matches(":*").to_owned())
            })
            .collect();
        let vars = json!({
            "ticket": {"title": task.ticket_title, "description": task.ticket_description},
            "task": {
                "title": task.title,
                "description": task.description,
                "acceptance_criteria": task.acceptance_criteria,
                "files": task.files,
                "complexity": task.complexity,
                "attempt": task.attempt,
                "feedback": task.feedback,
            },
            "commands": commands,
            "test_command": null,
        });
        let r = self
            .prompts
            .render(name, &vars)
            .map_err(|e| AgentError::NotConfigured {
                message: e.to_string(),
            })?;
        let text = format!(
            "{}\n\nWhen you are done, end with a short summary of what you changed and which tests you added.",
            r.text.trim_end()
        );
        Ok((text, r.version))
    }
}

/// The prefix of the cost line a `command` runner may print: `FOREMAN_COST {"usd": 0.12,
/// "input_tokens": 1200, "output_tokens": 300, "model": "m"}` (the run's totals so far; the
/// last such line counts; without `usd` the tokens are priced by the runner's pricing).
pub const COST_LINE_PREFIX: &str = "FOREMAN_COST ";

/// A budget reservation held for one run: settled with the run's record, or released when
/// the run ends any other way, including its future being dropped.
struct Hold {
    ledger: Arc<dyn CostLedger>,
    id: Option<ReservationId>,
    /// The amount held.
    amount: Micros,
    /// Per scope: spend committed including this hold, and the budget period it counts in.
    periods: Vec<(BudgetScope, Micros, String)>,
}

impl Hold {
    /// Replaces the reservation with `call` (releasing it if that fails).
    async fn settle(mut self, call: NewLlmCall) {
        let Some(id) = self.id.take() else { return };
        if let Err(e) = self.ledger.settle(&id, call).await {
            tracing::warn!(error = %e, reservation = %id, "cannot record external agent call; releasing its reservation");
            if let Err(e) = self.ledger.release(&id).await {
                tracing::error!(error = %e, reservation = %id, "cannot release reservation");
            }
        }
    }

    /// Drops the reservation without recording anything.
    async fn release(mut self) {
        let Some(id) = self.id.take() else { return };
        if let Err(e) = self.ledger.release(&id).await {
            tracing::error!(error = %e, reservation = %id, "cannot release reservation");
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(id) = self.id.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let ledger = self.ledger.clone();
            rt.spawn(async move {
                let _ = ledger.release(&id).await;
            });
        }
    }
}

/// The prompt of a `command` run as a file outside the worktree (owner-only, removed when
/// the run ends).
struct PromptFile(PathBuf);

impl PromptFile {
    fn write(text: &str) -> Result<Self, AgentError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "foreman-prompt-{}-{nanos:x}-{n}.md",
            std::process::id()
        ));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()).map(|()| f))
            .map_err(|e| AgentError::NotConfigured {
                message: format!("cannot write the prompt file {}: {e}", path.display()),
            })?;
        let _ = f.flush();
        Ok(Self(path))
    }
}

impl Drop for PromptFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The environment of an external agent: the scrubbed base set plus `passthrough` as named
/// (credentials included: the tool needs its own API key).
#[must_use]
pub fn external_env(
    passthrough: &[String],
    source: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut env = scrubbed_env(&[], &source);
    for name in passthrough {
        if env.iter().any(|(n, _)| n == name) {
            continue;
        }
        if let Some(v) = source(name) {
            if is_sensitive_env(name) {
                tracing::debug!(name = %name, "passing a credential to the external agent as configured");
            }
            env.push((name.clone(), v));
        }
    }
    env
}

/// What a stream said so far.
#[derive(Debug, Default)]
struct Parsed {
    usage: Usage,
    cost: Option<Micros>,
    model: String,
    turns: u32,
    result: Option<String>,
    error: Option<String>,
    stop: Option<AgentStopReason>,
    done: Option<bool>,
    files: BTreeMap<String, ChangeKind>,
    commands: Vec<CommandRecord>,
    transcript: Vec<TranscriptEntry>,
    seen_messages: HashSet<String>,
    usage_final: bool,
    last_text: Option<String>,
}

fn u64_at(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn str_at<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

impl Parsed {
    fn note(&mut self, kind: TranscriptKind, tool: Option<&str>, text: String, is_error: bool) {
        self.transcript.push(TranscriptEntry {
            turn: self.turns,
            kind,
            tool: tool.map(str::to_owned),
            text: clip(&text, 4_000),
            is_error,
        });
    }

    fn file(&mut self, worktree: &Path, path: &str, kind: ChangeKind) {
        let rel = Path::new(path)
            .strip_prefix(worktree)
            .map_or_else(|_| path.to_owned(), |p| p.display().to_string());
        let rel = rel.trim_start_matches("./").to_owned();
        if rel.is_empty() || rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
            return;
        }
        self.files
            .entry(rel)
            .and_modify(|k| {
                if kind == ChangeKind::Deleted {
                    *k = kind;
                }
            })
            .or_insert(kind);
    }

    /// One Claude Code stream-json line.
    fn claude(&mut self, v: &Value, worktree: &Path, out: &mut Vec<AgentProgress>) {
        match str_at(v, "type") {
            Some("system") => {
                if let Some(m) = str_at(v, "model") {
                    self.model = m.to_owned();
                }
            }
            Some("assistant") => {
                let msg = v.get("message").unwrap_or(&Value::Null);
                let id = str_at(msg, "id").unwrap_or("").to_owned();
                if id.is_empty() || self.seen_messages.insert(id) {
                    self.turns += 1;
                    out.push(AgentProgress::TurnStarted { turn: self.turns });
                    if let Some(u) = msg.get("usage")
                        && !self.usage_final
                    {
                        self.usage.input_tokens += u64_at(u, "input_tokens");
                        self.usage.output_tokens += u64_at(u, "output_tokens");
                        self.usage.cache_read_tokens += u64_at(u, "cache_read_input_tokens");
                        self.usage.cache_write_tokens += u64_at(u, "cache_creation_input_tokens");
                    }
                }
                if let Some(m) = str_at(msg, "model") {
                    self.model = m.to_owned();
                }
                for block in msg
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match str_at(block, "type") {
                        Some("text") => {
                            let text = str_at(block, "text").unwrap_or("").to_owned();
                            if !text.trim().is_empty() {
                                out.push(AgentProgress::Text { text: text.clone() });
                                self.last_text = Some(text.clone());
                                self.note(TranscriptKind::Assistant, None, text, false);
                            }
                        }
                        Some("tool_use") => {
                            let name = str_at(block, "name").unwrap_or("tool").to_owned();
                            let input = block.get("input").cloned().unwrap_or(Value::Null);
                            let path = str_at(&input, "file_path")
                                .or_else(|| str_at(&input, "notebook_path"));
                            match (name.as_str(), path) {
                                ("Write", Some(p)) => self.file(worktree, p, ChangeKind::Added),
                                ("Edit" | "MultiEdit" | "NotebookEdit", Some(p)) => {
                                    self.file(worktree, p, ChangeKind::Modified);
                                }
                                _ => {}
                            }
                            if name == "Bash" {
                                self.commands.push(CommandRecord {
                                    command: str_at(&input, "command").unwrap_or("").to_owned(),
                                    allowed: true,
                                    exit_code: None,
                                    timed_out: false,
                                    duration_ms: 0,
                                    output_bytes: 0,
                                    truncated: false,
                                });
                            }
                            let summary = path
                                .or_else(|| str_at(&input, "command"))
                                .or_else(|| str_at(&input, "pattern"))
                                .unwrap_or("")
                                .chars()
                                .take(120)
                                .collect();
                            out.push(AgentProgress::ToolCall {
                                turn: self.turns,
                                name: name.clone(),
                                summary,
                            });
                            self.note(
                                TranscriptKind::ToolCall,
                                Some(&name),
                                input.to_string(),
                                false,
                            );
                        }
                        _ => {}
                    }
                }
            }
            Some("user") => {
                let msg = v.get("message").unwrap_or(&Value::Null);
                for block in msg
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if str_at(block, "type") == Some("tool_result") {
                        let is_error = block
                            .get("is_error")
                            .and_then(Value::as_bool)
                            .unwrap_or(false);
                        let text = match block.get("content") {
                            Some(Value::String(s)) => s.clone(),
                            Some(other) => other.to_string(),
                            None => String::new(),
                        };
                        out.push(AgentProgress::ToolResult {
                            turn: self.turns,
                            name: "tool".into(),
                            ok: !is_error,
                        });
                        self.note(TranscriptKind::ToolResult, None, text, is_error);
                    }
                }
            }
            Some("result") => {
                let subtype = str_at(v, "subtype").unwrap_or("");
                let is_error = v.get("is_error").and_then(Value::as_bool).unwrap_or(false);
                if let Some(u) = v.get("usage") {
                    self.usage = Usage {
                        input_tokens: u64_at(u, "input_tokens"),
                        output_tokens: u64_at(u, "output_tokens"),
                        cache_read_tokens: u64_at(u, "cache_read_input_tokens"),
                        cache_write_tokens: u64_at(u, "cache_creation_input_tokens"),
                    };
                    self.usage_final = true;
                }
                if let Some(c) = v.get("total_cost_usd").and_then(Value::as_f64) {
                    self.cost = Some(Micros::from_usd(c));
                }
                if let Some(n) = v.get("num_turns").and_then(Value::as_u64) {
                    self.turns = u32::try_from(n).unwrap_or(u32::MAX);
                }
                self.result = str_at(v, "result").map(str::to_owned);
                self.stop = Some(if subtype == "success" && !is_error {
                    AgentStopReason::Completed
                } else if subtype.contains("max_turns") {
                    AgentStopReason::MaxTurns
                } else if subtype.contains("budget") {
                    AgentStopReason::CostBudget
                } else {
                    AgentStopReason::RunnerFailed
                });
                if self.stop != Some(AgentStopReason::Completed) {
                    self.error = Some(format!(
                        "claude code ended with {}",
                        if subtype.is_empty() {
                            "an error"
                        } else {
                            subtype
                        }
                    ));
                }
            }
            _ => {}
        }
    }

    /// One Codex `exec --json` line.
    fn codex(&mut self, v: &Value, worktree: &Path, out: &mut Vec<AgentProgress>) {
        match str_at(v, "type") {
            Some("turn.started") => {
                self.turns += 1;
                out.push(AgentProgress::TurnStarted { turn: self.turns });
            }
            Some("turn.completed") => {
                if let Some(u) = v.get("usage") {
                    let input = u64_at(u, "input_tokens");
                    let cached = u64_at(u, "cached_input_tokens").min(input);
                    self.usage.input_tokens += input - cached;
                    self.usage.cache_read_tokens += cached;
                    self.usage.output_tokens += u64_at(u, "output_tokens");
                }
            }
            Some("turn.failed") => {
                let msg = v
                    .get("error")
                    .and_then(|e| str_at(e, "message"))
                    .unwrap_or("turn failed");
                self.error = Some(format!("codex turn failed: {msg}"));
                self.stop = Some(AgentStopReason::RunnerFailed);
            }
            Some("error") => {
                let msg = str_at(v, "message").unwrap_or("error");
                self.error = Some(format!("codex error: {msg}"));
                self.stop = Some(AgentStopReason::RunnerFailed);
            }
            Some(t @ ("item.started" | "item.completed")) => {
                let completed = t == "item.completed";
                let item = v.get("item").unwrap_or(&Value::Null);
                let kind = str_at(item, "type").or_else(|| str_at(item, "item_type"));
                match kind {
                    Some("agent_message") if completed => {
                        let text = str_at(item, "text").unwrap_or("").to_owned();
                        if !text.trim().is_empty() {
                            out.push(AgentProgress::Text { text: text.clone() });
                            self.last_text = Some(text.clone());
                            self.note(TranscriptKind::Assistant, None, text, false);
                        }
                    }
                    Some("command_execution") => {
                        let command = str_at(item, "command").unwrap_or("").to_owned();
                        if completed {
                            let exit = item
                                .get("exit_code")
                                .and_then(Value::as_i64)
                                .and_then(|c| i32::try_from(c).ok());
                            let output = str_at(item, "aggregated_output").unwrap_or("");
                            self.commands.push(CommandRecord {
                                command: command.clone(),
                                allowed: true,
                                exit_code: exit,
                                timed_out: false,
                                duration_ms: 0,
                                output_bytes: output.len() as u64,
                                truncated: false,
                            });
                            out.push(AgentProgress::ToolResult {
                                turn: self.turns,
                                name: "command".into(),
                                ok: exit == Some(0),
                            });
                            self.note(
                                TranscriptKind::ToolResult,
                                Some("command"),
                                output.to_owned(),
                                exit != Some(0),
                            );
                        } else {
                            out.push(AgentProgress::ToolCall {
                                turn: self.turns,
                                name: "command".into(),
                                summary: command.chars().take(120).collect(),
                            });
                            self.note(TranscriptKind::ToolCall, Some("command"), command, false);
                        }
                    }
                    Some("file_change") if completed => {
                        for c in item
                            .get("changes")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            let Some(p) = str_at(c, "path") else { continue };
                            let k = match str_at(c, "kind") {
                                Some("add") => ChangeKind::Added,
                                Some("delete") => ChangeKind::Deleted,
                                _ => ChangeKind::Modified,
                            };
                            self.file(worktree, p, k);
                        }
                    }
                    Some("mcp_tool_call") if !completed => {
                        let name = str_at(item, "tool").unwrap_or("mcp").to_owned();
                        out.push(AgentProgress::ToolCall {
                            turn: self.turns,
                            name,
                            summary: String::new(),
                        });
                    }
                    Some("error") => {
                        let msg = str_at(item, "message").unwrap_or("error").to_owned();
                        out.push(AgentProgress::Warning { message: msg });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// A `FOREMAN_COST {...}` line: the run's totals so far, replacing what was counted.
    fn cost_line(&mut self, json: &str, out: &mut Vec<AgentProgress>) {
        let v = match serde_json::from_str::<Value>(json.trim()) {
            Ok(v) if v.is_object() => v,
            _ => {
                out.push(AgentProgress::Warning {
                    message: format!("{COST_LINE_PREFIX} line is not a JSON object"),
                });
                return;
            }
        };
        self.usage = Usage {
            input_tokens: u64_at(&v, "input_tokens"),
            output_tokens: u64_at(&v, "output_tokens"),
            cache_read_tokens: u64_at(&v, "cache_read_tokens"),
            cache_write_tokens: u64_at(&v, "cache_write_tokens"),
        };
        self.usage_final = true;
        self.cost = v
            .get("usd")
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite() && *c >= 0.0)
            .map(Micros::from_usd);
        if let Some(m) = str_at(&v, "model").filter(|m| !m.is_empty()) {
            self.model = m.to_owned();
        }
    }

    /// One line of the generic protocol.
    fn generic(&mut self, line: &str, worktree: &Path, out: &mut Vec<AgentProgress>) {
        if let Some(rest) = line.trim_start().strip_prefix(COST_LINE_PREFIX) {
            self.cost_line(rest, out);
            return;
        }
        let v: Option<Value> = if line.trim_start().starts_with('{') {
            serde_json::from_str(line).ok()
        } else {
            None
        };
        let Some(v) = v.filter(|v| str_at(v, "type").is_some()) else {
            if !line.trim().is_empty() {
                out.push(AgentProgress::Text {
                    text: line.to_owned(),
                });
                self.last_text = Some(line.to_owned());
                self.note(TranscriptKind::Assistant, None, line.to_owned(), false);
            }
            return;
        };
        match str_at(&v, "type") {
            Some("turn") => {
                self.turns += 1;
                out.push(AgentProgress::TurnStarted { turn: self.turns });
            }
            Some("progress") => {
                let text = str_at(&v, "message").unwrap_or("").to_owned();
                out.push(AgentProgress::Text { text: text.clone() });
                self.note(TranscriptKind::Assistant, None, text, false);
            }
            Some("usage") => {
                self.usage.input_tokens += u64_at(&v, "input_tokens");
                self.usage.output_tokens += u64_at(&v, "output_tokens");
                self.usage.cache_read_tokens += u64_at(&v, "cache_read_tokens");
                self.usage.cache_write_tokens += u64_at(&v, "cache_write_tokens");
                if let Some(c) = v.get("cost_usd").and_then(Value::as_f64) {
                    self.cost = Some(self.cost.unwrap_or(Micros::ZERO) + Micros::from_usd(c));
                }
                if let Some(m) = str_at(&v, "model") {
                    self.model = m.to_owned();
                }
            }
            Some("file") => {
                if let Some(p) = str_at(&v, "path") {
                    let k = match str_at(&v, "kind") {
                        Some("added") => ChangeKind::Added,
                        Some("deleted") => ChangeKind::Deleted,
                        _ => ChangeKind::Modified,
                    };
                    self.file(worktree, p, k);
                }
            }
            Some("result") => {
                self.result = str_at(&v, "summary").map(str::to_owned);
                self.done = v.get("done").and_then(Value::as_bool);
                self.stop = Some(AgentStopReason::Completed);
            }
            Some("error") => {
                self.error = Some(str_at(&v, "message").unwrap_or("error").to_owned());
                self.stop = Some(AgentStopReason::RunnerFailed);
            }
            _ => {}
        }
    }
}

/// The `cost_exceeded` event of a run refused by a budget.
fn budget_event(runner: &str, b: &BudgetExceeded) -> NewEvent {
    NewEvent::new(
        EventType::CostExceeded,
        format!("{} budget exhausted: {runner} not started ({b})", b.scope),
    )
    .details(json!({
        "runner": runner,
        "scope": b.scope.as_str(),
        "limit_usd": b.limit.to_usd(),
        "spent_usd": b.spent.to_usd(),
        "requested_usd": b.requested.to_usd(),
    }))
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}[... {} bytes clipped]", &s[..cut], s.len() - cut)
}

#[async_trait]
impl AgentRunner for ExternalRunner {
    fn name(&self) -> &str {
        self.settings.kind.runner_name()
    }

    #[allow(
        clippy::too_many_lines,
        reason = "spawn, stream and account in one place"
    )]
    async fn run(
        &self,
        request: &AgentRequest,
        progress: &dyn AgentProgressSink,
    ) -> Result<AgentOutcome, AgentError> {
        let started = Instant::now();
        let runner = self.name().to_owned();
        let task = &request.task;
        if request.limits.max_turns == 0 {
            return Err(AgentError::InvalidRequest {
                message: "max_turns must be at least 1".into(),
            });
        }
        let worktree = std::fs::canonicalize(&request.worktree)
            .ok()
            .filter(|p| p.is_dir())
            .ok_or_else(|| AgentError::InvalidWorktree {
                path: request.worktree.display().to_string(),
                reason: "not an existing directory".into(),
            })?;
        let observer = Observer::new(self.events.clone(), task);
        let (prompt, version) = self.prompt(task)?;
        let (prompt, secrets) = self.scanner.redact(&prompt);
        observer
            .secrets(&secrets, crate::secrets::Where::File, "task prompt")
            .await;
        let prompt = prompt.into_owned();
        let model = self.model_for(request);
        let prompt_file = match self.settings.kind {
            ExternalKind::Command => Some(PromptFile::write(&prompt)?),
            _ => None,
        };
        let argv = self.argv(request, prompt_file.as_ref().map(|f| f.0.as_path()));
        let configured = Duration::from_secs(self.settings.timeout_secs);
        let timeout = request
            .limits
            .timeout
            .map_or(configured, |t| t.min(configured));
        let mut extra_env = Vec::new();
        if let Some(f) = &prompt_file {
            extra_env.extend([
                ("FOREMAN_PROMPT_FILE".to_owned(), f.0.display().to_string()),
                (
                    "FOREMAN_WORKTREE".to_owned(),
                    worktree.display().to_string(),
                ),
                ("FOREMAN_MODEL".to_owned(), model.clone()),
                (
                    "FOREMAN_MAX_TURNS".to_owned(),
                    request.limits.max_turns.to_string(),
                ),
                (
                    "FOREMAN_TICKET_ID".to_owned(),
                    task.ticket_id
                        .as_ref()
                        .map_or("", |t| t.as_str())
                        .to_owned(),
                ),
                (
                    "FOREMAN_TASK_ID".to_owned(),
                    task.task_id.as_ref().map_or("", |t| t.as_str()).to_owned(),
                ),
            ]);
        }

        // Admission: nothing starts unless the budgets cover the run's most.
        let hold = match self
            .admit(request, &model, &version, &observer, started)
            .await
        {
            Ok(h) => h,
            Err(refused) => {
                progress.report(AgentProgress::Finished {
                    stop_reason: refused.stop_reason,
                });
                return Ok(*refused);
            }
        };
        let read_only: Vec<PathBuf> = prompt_file.iter().map(|f| f.0.clone()).collect();
        let (mut child, wrapped) = match self.spawn_argv(&argv, &worktree, &extra_env, &read_only) {
            Ok(c) => c,
            Err(e) => {
                if let Some(h) = hold {
                    h.release().await;
                }
                return Err(e);
            }
        };
        let pid = child.id();
        if let Some(mut stdin) = child.stdin.take() {
            let data = prompt.clone().into_bytes();
            tokio::spawn(async move {
                let _ = stdin.write_all(&data).await;
                let _ = stdin.shutdown().await;
            });
        }
        let stderr = Arc::new(Mutex::new(HeadTail::new(
            self.settings.max_stderr_bytes.max(256),
        )));
        let err_task = child.stderr.take().map(|mut e| {
            let sink = stderr.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 4096];
                while let Ok(n) = e.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(&buf[..n]);
                }
            })
        });
        let mut parsed = Parsed {
            model: model.clone(),
            ..Parsed::default()
        };
        parsed.transcript.push(TranscriptEntry {
            turn: 0,
            kind: TranscriptKind::Prompt,
            tool: None,
            text: clip(&prompt, 16_000),
            is_error: false,
        });
        let deadline = tokio::time::Instant::now() + timeout;
        let mut timed_out = false;
        let mut turns_reported = 0;
        if let Some(stdout) = child.stdout.take() {
            let mut lines = BufReader::new(stdout).lines();
            loop {
                let line = match tokio::time::timeout_at(deadline, lines.next_line()).await {
                    Err(_) => {
                        timed_out = true;
                        break;
                    }
                    Ok(Ok(Some(l))) => l,
                    Ok(Ok(None) | Err(_)) => break,
                };
                let mut out = Vec::new();
                match self.settings.kind {
                    ExternalKind::ClaudeCode | ExternalKind::Codex => {
                        match serde_json::from_str::<Value>(&line) {
                            Ok(v) if self.settings.kind == ExternalKind::ClaudeCode => {
                                parsed.claude(&v, &worktree, &mut out);
                            }
                            Ok(v) => parsed.codex(&v, &worktree, &mut out),
                            Err(_) => {
                                if !line.trim().is_empty() {
                                    tracing::debug!(runner = %runner, "unparsed stream line");
                                }
                            }
                        }
                    }
                    ExternalKind::Command => parsed.generic(&line, &worktree, &mut out),
                }
                for p in out {
                    let p = match p {
                        AgentProgress::Text { text } => AgentProgress::Text {
                            text: self.scanner.redact(&text).0.into_owned(),
                        },
                        other => other,
                    };
                    progress.report(p);
                }
                while turns_reported < parsed.turns {
                    turns_reported += 1;
                    observer
                        .emit(
                            NewEvent::new(
                                EventType::AgentTurn,
                                format!("{runner} turn {turns_reported}"),
                            )
                            .details(json!({"runner": runner, "turn": turns_reported})),
                        )
                        .await;
                }
            }
        }
        let status = if timed_out {
            None
        } else {
            match tokio::time::timeout_at(deadline, child.wait()).await {
                Ok(s) => s.ok(),
                Err(_) => {
                    timed_out = true;
                    None
                }
            }
        };
        if let Some(pid) = pid {
            kill_group(pid);
        }
        if timed_out {
            let _ = child.kill().await;
        }
        if let Some(t) = err_task {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let (stderr_text, _) = stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .render();
        let exit_code = status.and_then(|s| s.code());

        let mut stop = if timed_out {
            AgentStopReason::TimedOut
        } else if exit_code != Some(0) {
            AgentStopReason::RunnerFailed
        } else {
            match (self.settings.kind, parsed.stop) {
                (_, Some(s)) => s,
                (ExternalKind::ClaudeCode, None) => AgentStopReason::RunnerFailed,
                (_, None) => AgentStopReason::Completed,
            }
        };
        let mut error = match stop {
            AgentStopReason::Completed => None,
            AgentStopReason::TimedOut => Some(format!("killed after {}s", timeout.as_secs())),
            _ => Some(parsed.error.clone().unwrap_or_else(|| {
                let tail = self.scanner.redact(stderr_text.trim()).0.into_owned();
                match exit_code {
                    Some(0) => "the stream ended without a result".to_owned(),
                    Some(c) => format!("exited with code {c}: {}", clip(&tail, 2_000)),
                    None => format!("killed by a signal: {}", clip(&tail, 2_000)),
                }
            })),
        };
        if stop == AgentStopReason::Completed && parsed.error.is_some() {
            stop = AgentStopReason::RunnerFailed;
            error.clone_from(&parsed.error);
        }
        let cost = parsed.cost.unwrap_or_else(|| {
            self.pricing
                .as_ref()
                .map_or(Micros::ZERO, |p| p.cost(&parsed.model, &parsed.usage))
        });
        let report = (stop == AgentStopReason::Completed).then(|| CompletionReport {
            summary: self
                .scanner
                .redact(
                    parsed
                        .result
                        .as_deref()
                        .or(parsed.last_text.as_deref())
                        .unwrap_or("finished without a summary"),
                )
                .0
                .into_owned(),
            tests: Vec::new(),
            done: parsed.done.unwrap_or(true),
            notes: None,
        });
        for e in &mut parsed.transcript {
            let (clean, _) = self.scanner.redact(&e.text);
            if let std::borrow::Cow::Owned(c) = clean {
                e.text = c;
            }
        }
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        drop(prompt_file);
        drop(wrapped);
        if let Some(ledger) = &self.ledger {
            let call = NewLlmCall {
                ticket_id: task.ticket_id.clone(),
                task_id: task.task_id.clone(),
                role: task.role.as_str().to_owned(),
                provider: self.settings.kind.provider().to_owned(),
                model: if parsed.model.is_empty() {
                    runner.clone()
                } else {
                    parsed.model.clone()
                },
                runner: runner.clone(),
                attempt: i32::try_from(task.attempt).unwrap_or(i32::MAX),
                tokens_input: i64::try_from(parsed.usage.input_tokens).unwrap_or(i64::MAX),
                tokens_output: i64::try_from(parsed.usage.output_tokens).unwrap_or(i64::MAX),
                cache_read_tokens: i64::try_from(parsed.usage.cache_read_tokens)
                    .unwrap_or(i64::MAX),
                cache_write_tokens: i64::try_from(parsed.usage.cache_write_tokens)
                    .unwrap_or(i64::MAX),
                cost,
                duration_ms: i64::try_from(duration_ms).unwrap_or(i64::MAX),
                status: Some(match stop {
                    AgentStopReason::Completed => LlmCallStatus::Success,
                    AgentStopReason::TimedOut => LlmCallStatus::Timeout,
                    _ => LlmCallStatus::Error,
                }),
                error: error.clone(),
                prompt_version: Some(version),
                request_id: None,
            };
            match hold {
                Some(h) => {
                    let alerts = self.alerts(&h, cost);
                    h.settle(call).await;
                    for event in alerts {
                        observer.emit(event).await;
                    }
                }
                None => {
                    if let Err(e) = ledger.record_llm_call(call).await {
                        tracing::warn!(runner = %runner, error = %e, "cannot record external agent call");
                    }
                }
            }
        }
        if stop == AgentStopReason::TimedOut {
            observer
                .stalled(
                    &runner,
                    &format!("no result within {}s", timeout.as_secs()),
                    parsed.turns,
                )
                .await;
        }
        let files_changed: Vec<FileChange> = parsed
            .files
            .iter()
            .map(|(path, kind)| FileChange {
                path: path.clone(),
                kind: *kind,
            })
            .collect();
        let mut outcome = AgentOutcome::empty(runner.clone(), stop);
        outcome.error = error;
        outcome.report = report;
        outcome.context.files_touched = i64::try_from(files_changed.len()).unwrap_or(0);
        outcome.files_changed = files_changed;
        outcome.transcript = parsed.transcript;
        outcome.commands = parsed.commands;
        outcome.turns = parsed.turns;
        outcome.llm_calls = parsed.turns.max(1);
        outcome.usage = parsed.usage;
        outcome.cost = cost;
        outcome.secrets_redacted = secrets.len() as u64;
        outcome.duration_ms = duration_ms;
        progress.report(AgentProgress::Usage {
            usage: outcome.usage,
            cost: outcome.cost,
        });
        progress.report(AgentProgress::Finished { stop_reason: stop });
        tracing::info!(runner = %runner, stop_reason = %stop, turns = outcome.turns, "external agent run finished");
        Ok(outcome)
    }
}
