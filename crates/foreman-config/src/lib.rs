//! Foreman's configuration.
//!
//! Owns the shape of `foreman.toml`, `${VAR}` expansion, `FOREMAN_<SECTION>_<KEY>` environment
//! overrides for every scalar, validation with errors that name the key and the bad value, and
//! the redacted summary served by `GET /api/config/summary`. It knows nothing about how the
//! settings are used: the binaries translate them into each crate's own settings types.

mod audit;
mod channels;
mod duration;
mod env;
mod error;
mod hooks;
mod mcp;
mod operations;
mod redact;
mod summary;
mod webhooks;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use foreman_domain::{BudgetLimits, DEFAULT_PROJECT, Micros};
use serde::{Deserialize, Serialize};

pub use audit::AuditConfig;
pub use channels::{ChannelsConfig, TelegramChannelConfig};
pub use duration::parse_duration;
pub use error::ConfigError;
pub use hooks::HookEntry;
pub use mcp::{McpConfig, McpServerConfig};
pub use operations::{NotificationsConfig, PricingEntry, RetrospectivesConfig};
pub use redact::redact_secret;
pub use webhooks::WebhooksConfig;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP API and dashboard.
    pub dashboard: DashboardConfig,
    /// Storage.
    pub database: DatabaseConfig,
    /// The daemon's scheduling.
    pub daemon: DaemonConfig,
    /// LLM providers and role routing.
    pub llm: LlmConfig,
    /// The default project's tracker.
    pub tracker: TrackerConfig,
    /// The default project's repository and git host.
    pub git: GitConfig,
    /// The coding agent.
    pub agent_runner: AgentRunnerConfig,
    /// `[runner]`.
    pub runner: RunnerConfig,
    /// The pipeline's stages and limits.
    pub pipeline: PipelineConfig,
    /// Budgets.
    pub cost: CostConfig,
    /// Provider and API rate limits.
    pub rate_limit: RateLimitConfig,
    /// MCP servers made available to the agent.
    pub mcp: McpConfig,
    /// Further projects beside the default one.
    pub projects: Vec<ProjectConfig>,
    /// `[logs]`: the server's own log lines kept in the store.
    pub logs: LogsConfig,
    /// `[[pricing]]`: model prices overriding or adding to the built-in table.
    pub pricing: Vec<PricingEntry>,
    /// `[notifications]`: the notifier's intervals.
    pub notifications: NotificationsConfig,
    /// `[retrospectives]`: how often a retrospective is written.
    pub retrospectives: RetrospectivesConfig,
    /// `[webhooks]`: outbound webhook delivery (SSRF allow-list, timeouts, retries).
    pub webhooks: WebhooksConfig,
    /// `[channels]`: chat channels (`[channels.telegram]`).
    pub channels: ChannelsConfig,
    /// `[audit]`: how long the audit trail is kept, and its signing key.
    pub audit: AuditConfig,
}

/// `[dashboard]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// Serve the API and dashboard.
    pub enabled: bool,
    /// Bind address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// A static bearer token accepted beside stored tokens (empty: none).
    pub auth_token: String,
    /// Origins allowed by CORS (empty: the dashboard's own origin only).
    pub cors_allowed_origins: Vec<String>,
    /// PEM certificate; with `tls_key`, serve HTTPS.
    pub tls_cert: String,
    /// PEM private key.
    pub tls_key: String,
    /// Largest accepted request body.
    pub body_limit_bytes: u64,
    /// Request timeout, e.g. `30s`.
    pub request_timeout: String,
    /// Reads (GET, HEAD) per identity per minute on the API (0: unlimited). An identity is the
    /// authenticated token, else the client address.
    pub requests_per_minute: u32,
    /// Mutating requests (POST, PUT, PATCH, DELETE) per identity per minute (0: unlimited).
    pub write_requests_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed: addresses or networks (`10.0.0.0/8`).
    pub trusted_proxies: Vec<String>,
    /// Time a client has to send a complete request head, e.g. `10s`.
    pub header_read_timeout: String,
    /// Time an answered keep-alive connection may stay idle, e.g. `5s`.
    pub keep_alive_timeout: String,
    /// Time one write to a client may stall (responses, SSE, WebSocket), e.g. `30s`.
    pub write_timeout: String,
    /// Connections served at once (0: no cap); beyond it idle connections make room, else 503.
    pub max_connections: u32,
    /// Time a WebSocket client has to answer a ping, e.g. `30s`.
    pub ws_pong_timeout: String,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            host: "127.0.0.1".into(),
            port: 8080,
            auth_token: String::new(),
            cors_allowed_origins: Vec::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            body_limit_bytes: 1024 * 1024,
            request_timeout: "30s".into(),
            requests_per_minute: 0,
            write_requests_per_minute: 120,
            trusted_proxies: Vec::new(),
            header_read_timeout: "10s".into(),
            keep_alive_timeout: "5s".into(),
            write_timeout: "30s".into(),
            max_connections: 4096,
            ws_pong_timeout: "30s".into(),
        }
    }
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseDriver {
    /// A SQLite file (the default; zero set-up).
    #[default]
    Sqlite,
    /// PostgreSQL (teams, several nodes).
    Postgres,
}

/// `[database]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Driver.
    pub driver: DatabaseDriver,
    /// SQLite file (empty: `<data dir>/foreman.db`).
    pub path: String,
    /// PostgreSQL URL.
    pub url: String,
}

impl DatabaseConfig {
    /// The connection URL, with the SQLite file resolved against `data_dir`.
    #[must_use]
    pub fn connection_url(&self, data_dir: &Path) -> String {
        match self.driver {
            DatabaseDriver::Postgres => self.url.clone(),
            DatabaseDriver::Sqlite => {
                format!("sqlite://{}?mode=rwc", self.sqlite_path(data_dir).display())
            }
        }
    }

    /// The SQLite file.
    #[must_use]
    pub fn sqlite_path(&self, data_dir: &Path) -> PathBuf {
        if self.path.is_empty() {
            data_dir.join("foreman.db")
        } else {
            expand_home(&self.path)
        }
    }
}

/// `[logs]`: the server's structured log lines, kept in the store for `GET /api/logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Keep log lines in the store.
    pub enabled: bool,
    /// The least severe level kept: `error`, `warn`, `info`, `debug` or `trace` (lines must
    /// also pass `daemon.log_level`).
    pub level: String,
    /// How many lines are kept at most (the oldest go first).
    pub max_lines: u64,
    /// How long lines are kept.
    pub max_age: String,
    /// Lines waiting for the store; beyond it new lines are dropped (and counted) rather than
    /// slowing the code that logs.
    pub buffer: u32,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            level: "info".into(),
            max_lines: 100_000,
            max_age: "7d".into(),
            buffer: 8192,
        }
    }
}

impl LogsConfig {
    /// How long lines are kept (`max_age`; validated by [`Config::validate`]).
    #[must_use]
    pub fn max_age(&self) -> Duration {
        parse_duration(&self.max_age).unwrap_or(Duration::from_secs(7 * 86_400))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !["error", "warn", "info", "debug", "trace"].contains(&self.level.as_str()) {
            return Err(ConfigError::invalid(
                "logs.level",
                &self.level,
                "expected error, warn, info, debug or trace",
            ));
        }
        check_duration("logs.max_age", &self.max_age)?;
        if self.max_age().is_zero() {
            return Err(ConfigError::invalid(
                "logs.max_age",
                &self.max_age,
                "must be longer than zero",
            ));
        }
        if self.max_lines == 0 {
            return Err(ConfigError::invalid(
                "logs.max_lines",
                0,
                "must be at least 1",
            ));
        }
        if self.buffer == 0 {
            return Err(ConfigError::invalid("logs.buffer", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// `[daemon]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Run the pipeline daemon beside the API.
    pub enabled: bool,
    /// Clones and worktrees (empty: `<data dir>/work`).
    pub work_dir: String,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub log_level: String,
    /// Tickets worked on at once.
    pub max_parallel_tickets: u32,
    /// Tasks of one ticket worked on at once.
    pub max_parallel_tasks: u32,
    /// How often the scheduler looks for work, e.g. `2s`.
    pub poll_interval: String,
    /// How often open pull requests, decompositions and clarifications are followed, e.g.
    /// `15s` (a new pull request is looked at as soon as it is opened).
    pub housekeeping_interval: String,
    /// Lease length for a claimed ticket, e.g. `60s`.
    pub lease: String,
    /// How long shutdown waits for running steps, e.g. `30s`.
    pub shutdown_grace: String,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            work_dir: String::new(),
            log_level: "info".into(),
            max_parallel_tickets: 3,
            max_parallel_tasks: 3,
            poll_interval: "2s".into(),
            housekeeping_interval: "15s".into(),
            lease: "60s".into(),
            shutdown_grace: "30s".into(),
        }
    }
}

/// `[llm]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Default provider: `anthropic`, `openai`, `openrouter`, `local` or `scripted`
    /// (empty: `anthropic` when `ANTHROPIC_API_KEY` is set, `openai` when `OPENAI_API_KEY` is,
    /// else `scripted`).
    pub provider: String,
    /// API key for the default provider (prefer `${ANTHROPIC_API_KEY}`).
    pub api_key: String,
    /// Base URL override for OpenAI-compatible servers.
    pub base_url: String,
    /// Script file for the `scripted` provider (empty: the built-in demo script).
    pub script: String,
    /// Role → `provider:model`.
    pub models: BTreeMap<String, String>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        let models = foreman_domain::pipeline::Role::default_models();
        Self {
            provider: String::new(),
            api_key: String::new(),
            base_url: String::new(),
            script: String::new(),
            models,
        }
    }
}

/// `[tracker]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// `local`, `github`, `gitlab`, `jira` or `linear`.
    pub provider: String,
    /// How often to poll, e.g. `60s`.
    pub poll_interval: String,
    /// Label that marks a ticket ready for Foreman.
    pub pickup_label: String,
    /// Token or API key.
    pub token: String,
    /// API base URL override (self-hosted instances, tests).
    pub base_url: String,
    /// Repository (`owner/name`), project key or team, depending on the tracker.
    pub project: String,
    /// Secret for webhook signatures.
    pub webhook_secret: String,
    /// What each status Foreman reports is called at this tracker (`[tracker.statuses]`).
    pub statuses: TrackerStatusNames,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            provider: "local".into(),
            poll_interval: "60s".into(),
            pickup_label: "foreman-ready".into(),
            token: String::new(),
            base_url: String::new(),
            project: String::new(),
            webhook_secret: String::new(),
            statuses: TrackerStatusNames::default(),
        }
    }
}

/// `[tracker.statuses]`: the tracker's name for each status Foreman reports: a Jira status, a
/// Linear workflow state, or a label on GitHub and GitLab (where done closes the issue and its
/// name is not used). Empty: the adapter's default (`In Progress`, `In Review`, `Blocked`,
/// `Done`, and `Blocked` for failed on Jira and Linear; `foreman-in-progress`,
/// `foreman-in-review`, `foreman-blocked`, `foreman-failed` as labels). `"-"`: never report that
/// status. Jira and Linear names are checked against the project's statuses or the team's
/// states at start-up and by `foreman doctor`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerStatusNames {
    /// Work has started on the ticket.
    pub in_progress: String,
    /// Its pull request waits for review.
    pub in_review: String,
    /// Foreman waits for a person (questions asked, a budget ran out).
    pub blocked: String,
    /// Foreman gave up on it.
    pub failed: String,
    /// Its pull request was merged.
    pub done: String,
}

impl TrackerStatusNames {
    /// Every key with its value, in a fixed order.
    #[must_use]
    pub fn entries(&self) -> [(&'static str, &str); 5] {
        [
            ("in_progress", &self.in_progress),
            ("in_review", &self.in_review),
            ("blocked", &self.blocked),
            ("failed", &self.failed),
            ("done", &self.done),
        ]
    }

    /// The name to use for `key` given the adapter's `default`: the configured one, the
    /// default when empty, and an empty name (not reported) for `"-"`.
    #[must_use]
    pub fn resolve(configured: &str, default: &str) -> String {
        match configured.trim() {
            "" => default.to_owned(),
            "-" => String::new(),
            name => name.to_owned(),
        }
    }
}

/// `[git]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitConfig {
    /// `local`, `github` or `gitlab`.
    pub provider: String,
    /// Where to clone from.
    pub clone_url: String,
    /// The repository as the host's API names it (`owner/name` on GitHub, the project path on
    /// GitLab). Empty: taken from `clone_url`; set it when cloning from a mirror or a path.
    pub repository: String,
    /// The branch pull requests target.
    pub default_branch: String,
    /// Prefix of ticket branches.
    pub branch_prefix: String,
    /// Merge pull requests automatically once checks pass.
    pub auto_merge: bool,
    /// Token for the host API and HTTPS pushes.
    pub token: String,
    /// API base URL override.
    pub base_url: String,
    /// Commit author name.
    pub author_name: String,
    /// Commit author email.
    pub author_email: String,
}

impl Default for GitConfig {
    fn default() -> Self {
        Self {
            provider: "local".into(),
            clone_url: String::new(),
            repository: String::new(),
            default_branch: "main".into(),
            branch_prefix: "foreman".into(),
            auto_merge: false,
            token: String::new(),
            base_url: String::new(),
            author_name: "Foreman".into(),
            author_email: "foreman@localhost".into(),
        }
    }
}

/// `[agent_runner]` (and `[projects.agent_runner]`): which coding agent implements tasks, and
/// for the external ones (`claude_code`, `codex`, `command`) how it is started and metered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentRunnerConfig {
    /// `builtin`, `claude_code` (also spelt `claude-code`), `codex` or `command`.
    pub provider: String,
    /// Turns per task attempt.
    pub max_turns: u32,
    /// Tokens per task attempt (0: unlimited).
    pub token_budget: u64,
    /// The external program (empty: `claude` or `codex`; `command` uses `command[0]`).
    pub program: String,
    /// Further arguments appended to the external program's command line.
    pub args: Vec<String>,
    /// Model passed to the external program with `--model` (empty: the tool's default).
    pub model: String,
    /// Wall time of one external run; the whole process group is killed after it.
    pub timeout: String,
    /// Variables passed to the external program besides the base set. Names that look like
    /// credentials are dropped from everything else but passed when listed here.
    pub env_passthrough: Vec<String>,
    /// Whether the external program may use the network (it needs its model API).
    pub network: bool,
    /// Money held back against the budgets before an external run starts (its most), USD.
    pub max_cost_usd: f64,
    /// For `command`: the argument vector, with `{worktree}`, `{prompt_file}`, `{model}`,
    /// `{max_turns}`, `{ticket_id}` and `{task_id}` replaced.
    pub command: Vec<String>,
}

impl Default for AgentRunnerConfig {
    fn default() -> Self {
        Self {
            provider: "builtin".into(),
            max_turns: 20,
            token_budget: 0,
            program: String::new(),
            args: Vec::new(),
            model: String::new(),
            timeout: "60m".into(),
            env_passthrough: Vec::new(),
            network: true,
            max_cost_usd: 2.0,
            command: Vec::new(),
        }
    }
}

impl AgentRunnerConfig {
    /// The provider with the old `claude-code` spelling normalised to `claude_code`.
    #[must_use]
    pub fn provider_name(&self) -> &str {
        match self.provider.as_str() {
            "claude-code" => "claude_code",
            "" => "builtin",
            other => other,
        }
    }

    /// Checks the section; errors name `prefix.key`.
    fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        if !["builtin", "claude_code", "codex", "command"].contains(&self.provider_name()) {
            return Err(ConfigError::invalid(
                &format!("{prefix}.provider"),
                &self.provider,
                "expected builtin, claude_code, codex or command",
            ));
        }
        if self.max_turns == 0 {
            return Err(ConfigError::invalid(
                &format!("{prefix}.max_turns"),
                0,
                "must be at least 1",
            ));
        }
        check_duration(&format!("{prefix}.timeout"), &self.timeout)?;
        if parse_duration(&self.timeout).is_ok_and(|d| d.is_zero()) {
            return Err(ConfigError::invalid(
                &format!("{prefix}.timeout"),
                &self.timeout,
                "must be longer than zero",
            ));
        }
        if !self.max_cost_usd.is_finite() || self.max_cost_usd < 0.0 {
            return Err(ConfigError::invalid(
                &format!("{prefix}.max_cost_usd"),
                self.max_cost_usd,
                "must be a non-negative number of USD",
            ));
        }
        for name in &self.env_passthrough {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(ConfigError::invalid(
                    &format!("{prefix}.env_passthrough"),
                    name,
                    "expected an environment variable name",
                ));
            }
        }
        if self.provider_name() == "command"
            && self.command.first().is_none_or(|p| p.trim().is_empty())
        {
            return Err(ConfigError::invalid(
                &format!("{prefix}.command"),
                format!("{:?}", self.command),
                "the command runner needs a command line (program first)",
            ));
        }
        Ok(())
    }
}

/// `[runner]`: what the coding agent's `run_command` may run, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerConfig {
    /// Commands allowed besides the project's test, lint and build commands: argument
    /// prefixes (`cargo check`, `npm run lint`) or `shell: <line>` for an exact shell line.
    pub allowed_commands: Vec<String>,
    /// The project's build command (allowed, and run by the agent to check its work).
    pub build_command: String,
    /// Environment variables passed to commands besides the base set (names that look like
    /// credentials are always dropped).
    pub env_passthrough: Vec<String>,
    /// Output kept per command, head and tail, in bytes.
    pub max_output_bytes: u64,
    /// `sandbox` (the OS sandbox, bubblewrap: the default), `docker` (a container with no
    /// network) or `none` (on this machine without isolation; `local` is its deprecated name).
    pub mode: String,
    /// The bubblewrap binary for `mode = "sandbox"`.
    pub bwrap_path: String,
    /// Host paths visible read-only inside the sandbox besides the system directories
    /// (toolchains in `$HOME` such as `~/.cargo`, `~/.rustup`); `~/` is expanded.
    pub read_only_paths: Vec<String>,
    /// Host paths never visible inside the sandbox besides the data directory, the work
    /// directory, `$HOME` and its credential files; `~/` is expanded.
    pub hidden_paths: Vec<String>,
    /// CPU seconds per command (0: no limit).
    pub cpu_time_secs: u64,
    /// Address space per command in MiB (0: no limit).
    pub max_address_space_mb: u64,
    /// Processes and threads per command (a pids cgroup, else `RLIMIT_NPROC`; 0: no limit).
    pub max_processes: u32,
    /// Largest file a command may write, in MiB (0: no limit).
    pub max_file_size_mb: u64,
    /// Output bytes after which a command is killed (0: no limit; at least
    /// `max_output_bytes` otherwise).
    pub output_limit_bytes: u64,
    /// Container image for `mode = "docker"`.
    pub docker_image: String,
    /// Container network for `mode = "docker"` (`none` by default).
    pub docker_network: String,
    /// Output tokens per agent turn.
    pub max_output_tokens: u32,
    /// Further secret patterns (regular expressions) redacted before text reaches a model.
    pub secret_patterns: Vec<String>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            allowed_commands: Vec::new(),
            build_command: String::new(),
            env_passthrough: Vec::new(),
            max_output_bytes: 64 * 1024,
            mode: "sandbox".into(),
            bwrap_path: "bwrap".into(),
            read_only_paths: Vec::new(),
            hidden_paths: Vec::new(),
            cpu_time_secs: 3600,
            max_address_space_mb: 32 * 1024,
            max_processes: 1024,
            max_file_size_mb: 8 * 1024,
            output_limit_bytes: 64 * 1024 * 1024,
            docker_image: "rust:1-slim".into(),
            docker_network: "none".into(),
            max_output_tokens: 8_192,
            secret_patterns: Vec::new(),
        }
    }
}

impl RunnerConfig {
    /// The mode with the deprecated `local` read as `none`.
    #[must_use]
    pub fn effective_mode(&self) -> &str {
        match self.mode.as_str() {
            "local" => "none",
            other => other,
        }
    }

    /// A warning for deprecated settings (`mode = "local"`), to be logged at start.
    #[must_use]
    pub fn deprecation(&self) -> Option<String> {
        (self.mode == "local").then(|| {
            "runner.mode = \"local\" is deprecated: it means \"none\" (commands run on this machine without isolation); write \"none\", or remove it to use the OS sandbox".to_owned()
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.mode.as_str(), "sandbox" | "docker" | "none" | "local") {
            return Err(ConfigError::invalid(
                "runner.mode",
                &self.mode,
                "expected sandbox, docker or none",
            ));
        }
        if self.bwrap_path.trim().is_empty() {
            return Err(ConfigError::invalid(
                "runner.bwrap_path",
                &self.bwrap_path,
                "expected a program name or path",
            ));
        }
        for (key, paths) in [
            ("runner.read_only_paths", &self.read_only_paths),
            ("runner.hidden_paths", &self.hidden_paths),
        ] {
            for p in paths {
                if !(p.starts_with('/') || p.starts_with("~/")) {
                    return Err(ConfigError::invalid(
                        key,
                        p,
                        "expected an absolute path or one starting with ~/",
                    ));
                }
            }
        }
        if self.max_processes != 0 && self.max_processes < 16 {
            return Err(ConfigError::invalid(
                "runner.max_processes",
                self.max_processes,
                "must be 0 (no limit) or at least 16",
            ));
        }
        if self.max_address_space_mb != 0 && self.max_address_space_mb < 256 {
            return Err(ConfigError::invalid(
                "runner.max_address_space_mb",
                self.max_address_space_mb,
                "must be 0 (no limit) or at least 256",
            ));
        }
        if self.output_limit_bytes != 0 && self.output_limit_bytes < self.max_output_bytes {
            return Err(ConfigError::invalid(
                "runner.output_limit_bytes",
                self.output_limit_bytes,
                "must be 0 (no limit) or at least runner.max_output_bytes",
            ));
        }
        Ok(())
    }
}

/// `[pipeline]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Command that runs the default project's tests (empty: detected from the repository).
    pub test_command: String,
    /// Command that lints the default project (empty: no lint gate).
    pub lint_command: String,
    /// Ask the clarifier whether a ticket can be implemented before planning.
    pub enable_clarification: bool,
    /// Unanswered clarifications block the ticket after this many hours.
    pub clarification_timeout_hours: u32,
    /// Require each task's new tests to fail (on an assertion) before the change and pass after.
    pub enable_tdd_verification: bool,
    /// Open a draft `[PARTIAL]` pull request when only some tasks succeed.
    pub enable_partial_pr: bool,
    /// Most tasks in one plan.
    pub max_tasks_per_ticket: u32,
    /// Re-plans after a failed validation.
    pub max_replans: u32,
    /// Implementation attempts per task.
    pub max_implementation_retries: u32,
    /// Spec review rounds per task.
    pub max_spec_review_cycles: u32,
    /// Quality review rounds per task.
    pub max_quality_review_cycles: u32,
    /// LLM calls per task before it fails.
    pub max_llm_calls_per_task: u32,
    /// Token budget of the conflict resolver per conflict.
    pub conflict_resolution_token_budget: u64,
    /// Timeout of one test, lint or build command, e.g. `10m`.
    pub command_timeout: String,
    /// `provider:model` for a task's last implementation attempt (empty: the implementer's).
    pub escalation_model: String,
    /// Retries of a step stopped by a transient fault (a push or fetch, a git host's or
    /// tracker's 5xx, 429 or timeout, an overloaded provider) before the ticket fails (0: fail
    /// at once).
    pub max_transient_retries: u32,
    /// Backoff before the first such retry, e.g. `2s`; it doubles for each further one, with
    /// jitter.
    pub transient_backoff: String,
    /// Longest backoff between such retries, e.g. `5m`.
    pub transient_backoff_max: String,
    /// A task checkpoint is pushed for other nodes once the work not yet pushed took this
    /// long, e.g. `20s` (`0s`: every checkpoint; the task's final commit is always pushed).
    pub checkpoint_push_after: String,
    /// `[[pipeline.hooks]]`: the skills run at points of the pipeline.
    pub hooks: Vec<HookEntry>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            test_command: String::new(),
            lint_command: String::new(),
            enable_clarification: false,
            clarification_timeout_hours: 72,
            enable_tdd_verification: true,
            enable_partial_pr: true,
            max_tasks_per_ticket: 12,
            max_replans: 2,
            max_implementation_retries: 3,
            max_spec_review_cycles: 2,
            max_quality_review_cycles: 2,
            max_llm_calls_per_task: 60,
            conflict_resolution_token_budget: 20_000,
            command_timeout: "10m".into(),
            escalation_model: String::new(),
            max_transient_retries: 5,
            transient_backoff: "2s".into(),
            transient_backoff_max: "5m".into(),
            checkpoint_push_after: "20s".into(),
            hooks: Vec::new(),
        }
    }
}

/// `[cost]`, in USD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostConfig {
    /// Per UTC day (0: unlimited).
    pub daily_budget: f64,
    /// Per UTC month (0: unlimited).
    pub monthly_budget: f64,
    /// Per ticket (0: unlimited).
    pub per_ticket_budget: f64,
    /// Per task (0: unlimited).
    pub per_task_budget: f64,
    /// Percentage of a budget at which an alert is raised.
    pub alert_threshold: u8,
}

impl Default for CostConfig {
    fn default() -> Self {
        Self {
            daily_budget: 150.0,
            monthly_budget: 3000.0,
            per_ticket_budget: 15.0,
            per_task_budget: 0.0,
            alert_threshold: 80,
        }
    }
}

impl CostConfig {
    /// The budgets as domain limits (0 means unlimited).
    #[must_use]
    pub fn limits(&self) -> BudgetLimits {
        let limit = |usd: f64| (usd > 0.0).then(|| Micros::from_usd(usd));
        BudgetLimits {
            task: limit(self.per_task_budget),
            ticket: limit(self.per_ticket_budget),
            daily: limit(self.daily_budget),
            monthly: limit(self.monthly_budget),
            alert_threshold_pct: self.alert_threshold,
        }
    }
}

/// `[rate_limit]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// LLM requests per minute per provider.
    pub requests_per_minute: u32,
    /// LLM tokens per minute per provider (0: unlimited).
    pub tokens_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests_per_minute: 50,
            tokens_per_minute: 0,
        }
    }
}

/// `[[projects]]`: a further repository with its own tracker and git settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProjectConfig {
    /// Slug (`[a-z0-9_-]`).
    pub name: String,
    /// Its tracker.
    pub tracker: TrackerConfig,
    /// Its repository.
    pub git: GitConfig,
    /// Its test command (empty: detected).
    pub test_command: String,
    /// Its lint command (empty: none).
    pub lint_command: String,
    /// Its coding agent; when present it replaces the top-level `[agent_runner]` for this
    /// project's tickets (keys it leaves out take their defaults).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_runner: Option<AgentRunnerConfig>,
}

/// Where configuration came from, for messages.
const ENV_SOURCE: &str = "<environment>";

impl Config {
    /// Loads `path` (or the defaults when `None`), expands `${VAR}`, applies `FOREMAN_*`
    /// overrides from the process environment, and validates.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, key and value.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        Self::load_with_env(path, &vars)
    }

    /// [`Config::load`] with an explicit environment (for tests).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, key and value.
    pub fn load_with_env(
        path: Option<&Path>,
        vars: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let (text, source) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?,
                p.display().to_string(),
            ),
            None => (String::new(), "<defaults>".to_owned()),
        };
        Self::from_toml_str(&text, &source, vars)
    }

    /// Parses TOML text; `source` names it in errors.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the source, key and value.
    pub fn from_toml_str(
        text: &str,
        source: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut raw: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: source.into(),
                    message: one_line(&e.to_string()),
                })?;
        env::expand_vars(&mut raw, vars);
        // Check the file's own keys first so errors name the file.
        let parsed: Self = toml::Value::Table(raw)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: source.into(),
                message: one_line(&e.to_string()),
            })?;
        // Then overlay FOREMAN_<SECTION>_<KEY> on every scalar.
        let mut merged = toml::Value::try_from(&parsed).map_err(|e| ConfigError::Parse {
            path: source.into(),
            message: one_line(&e.to_string()),
        })?;
        env::apply_overrides(&mut merged, vars)?;
        let config: Self = merged
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: ENV_SOURCE.into(),
                message: one_line(&e.to_string()),
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and consistency.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for the first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.runner.validate()?;
        self.logs.validate()?;
        self.audit.validate()?;
        self.channels.validate()?;
        operations::validate(&self.pricing, &self.notifications, &self.retrospectives)?;
        self.webhooks.validate()?;
        for p in &self.runner.secret_patterns {
            if p.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "runner.secret_patterns",
                    p,
                    "expected a non-empty regular expression",
                ));
            }
        }
        let d = &self.dashboard;
        if d.host.parse::<std::net::IpAddr>().is_err() && d.host != "localhost" {
            return Err(ConfigError::invalid(
                "dashboard.host",
                &d.host,
                "expected an IP address or localhost",
            ));
        }
        if d.tls_cert.is_empty() != d.tls_key.is_empty() {
            return Err(ConfigError::invalid(
                "dashboard.tls_cert",
                &d.tls_cert,
                "tls_cert and tls_key must be set together",
            ));
        }
        if d.body_limit_bytes == 0 {
            return Err(ConfigError::invalid(
                "dashboard.body_limit_bytes",
                0,
                "must be positive",
            ));
        }
        check_duration("dashboard.request_timeout", &d.request_timeout)?;
        for (key, value) in [
            ("dashboard.header_read_timeout", &d.header_read_timeout),
            ("dashboard.keep_alive_timeout", &d.keep_alive_timeout),
            ("dashboard.write_timeout", &d.write_timeout),
            ("dashboard.ws_pong_timeout", &d.ws_pong_timeout),
        ] {
            check_duration(key, value)?;
            if parse_duration(value).is_ok_and(|t| t.is_zero()) {
                return Err(ConfigError::invalid(key, value, "must be positive"));
            }
        }
        for proxy in &d.trusted_proxies {
            let p = proxy.trim();
            if p.parse::<ipnet::IpNet>().is_err() && p.parse::<std::net::IpAddr>().is_err() {
                return Err(ConfigError::invalid(
                    "dashboard.trusted_proxies",
                    proxy,
                    "expected an address (10.0.0.1) or a network (10.0.0.0/8)",
                ));
            }
        }
        for origin in &d.cors_allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.ends_with('/')
            {
                return Err(ConfigError::invalid(
                    "dashboard.cors_allowed_origins",
                    origin,
                    "expected an origin like https://example.com (scheme, host, optional port, no path)",
                ));
            }
        }
        match self.database.driver {
            DatabaseDriver::Postgres
                if !self.database.url.starts_with("postgres://")
                    && !self.database.url.starts_with("postgresql://") =>
            {
                return Err(ConfigError::invalid(
                    "database.url",
                    &self.database.url,
                    "driver postgres needs a postgres:// URL",
                ));
            }
            _ => {}
        }
        let dm = &self.daemon;
        if !["error", "warn", "info", "debug", "trace"].contains(&dm.log_level.as_str()) {
            return Err(ConfigError::invalid(
                "daemon.log_level",
                &dm.log_level,
                "expected error, warn, info, debug or trace",
            ));
        }
        if dm.max_parallel_tickets == 0 {
            return Err(ConfigError::invalid(
                "daemon.max_parallel_tickets",
                0,
                "must be at least 1",
            ));
        }
        if dm.max_parallel_tasks == 0 {
            return Err(ConfigError::invalid(
                "daemon.max_parallel_tasks",
                0,
                "must be at least 1",
            ));
        }
        check_duration("daemon.poll_interval", &dm.poll_interval)?;
        check_duration("daemon.housekeeping_interval", &dm.housekeeping_interval)?;
        check_duration("daemon.lease", &dm.lease)?;
        check_duration("daemon.shutdown_grace", &dm.shutdown_grace)?;
        let p = &self.pipeline;
        check_duration("pipeline.command_timeout", &p.command_timeout)?;
        check_duration("pipeline.transient_backoff", &p.transient_backoff)?;
        check_duration("pipeline.transient_backoff_max", &p.transient_backoff_max)?;
        check_duration("pipeline.checkpoint_push_after", &p.checkpoint_push_after)?;
        if parse_duration(&p.transient_backoff_max).ok() < parse_duration(&p.transient_backoff).ok()
        {
            return Err(ConfigError::invalid(
                "pipeline.transient_backoff_max",
                &p.transient_backoff_max,
                "must not be shorter than pipeline.transient_backoff",
            ));
        }
        for (key, v) in [
            ("pipeline.max_tasks_per_ticket", p.max_tasks_per_ticket),
            (
                "pipeline.max_implementation_retries",
                p.max_implementation_retries,
            ),
            ("pipeline.max_spec_review_cycles", p.max_spec_review_cycles),
            (
                "pipeline.max_quality_review_cycles",
                p.max_quality_review_cycles,
            ),
            ("pipeline.max_llm_calls_per_task", p.max_llm_calls_per_task),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(key, 0, "must be at least 1"));
            }
        }
        if !["", "anthropic", "openai", "openrouter", "local", "scripted"]
            .contains(&self.llm.provider.as_str())
        {
            return Err(ConfigError::invalid(
                "llm.provider",
                &self.llm.provider,
                "expected anthropic, openai, openrouter, local or scripted",
            ));
        }
        for (role, model) in &self.llm.models {
            if !model.contains(':') {
                return Err(ConfigError::invalid(
                    &format!("llm.models.{role}"),
                    model,
                    "expected provider:model",
                ));
            }
        }
        check_tracker("tracker", &self.tracker)?;
        check_git("git", &self.git)?;
        self.agent_runner.validate("agent_runner")?;
        mcp::validate(&self.mcp)?;
        let c = &self.cost;
        for (key, v) in [
            ("cost.daily_budget", c.daily_budget),
            ("cost.monthly_budget", c.monthly_budget),
            ("cost.per_ticket_budget", c.per_ticket_budget),
            ("cost.per_task_budget", c.per_task_budget),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(ConfigError::invalid(
                    key,
                    v,
                    "must be a non-negative number of USD (0: unlimited)",
                ));
            }
        }
        if !(1..=100).contains(&c.alert_threshold) {
            return Err(ConfigError::invalid(
                "cost.alert_threshold",
                c.alert_threshold,
                "must be a percentage from 1 to 100",
            ));
        }
        let mut names = vec![DEFAULT_PROJECT.to_owned()];
        for (i, p) in self.projects.iter().enumerate() {
            let key = format!("projects[{i}].name");
            if !foreman_domain::project::is_valid_project_name(&p.name) {
                return Err(ConfigError::invalid(
                    &key,
                    &p.name,
                    "expected 1-64 of a-z, 0-9, - and _",
                ));
            }
            if names.contains(&p.name) {
                return Err(ConfigError::invalid(
                    &key,
                    &p.name,
                    "project names must be unique (\"default\" is the top-level project)",
                ));
            }
            names.push(p.name.clone());
            check_tracker(&format!("projects[{i}].tracker"), &p.tracker)?;
            check_git(&format!("projects[{i}].git"), &p.git)?;
            if let Some(a) = &p.agent_runner {
                a.validate(&format!("projects[{i}].agent_runner"))?;
            }
        }
        for (i, h) in self.pipeline.hooks.iter().enumerate() {
            h.validate(i, &names)?;
        }
        Ok(())
    }

    /// The project names: `default` first, then `[[projects]]`.
    #[must_use]
    pub fn project_names(&self) -> Vec<String> {
        std::iter::once(DEFAULT_PROJECT.to_owned())
            .chain(self.projects.iter().map(|p| p.name.clone()))
            .collect()
    }

    /// The effective LLM provider (see [`LlmConfig::provider`]).
    #[must_use]
    pub fn effective_llm_provider(&self, vars: &BTreeMap<String, String>) -> String {
        if !self.llm.provider.is_empty() {
            return self.llm.provider.clone();
        }
        let set = |k: &str| vars.get(k).is_some_and(|v| !v.is_empty());
        if !self.llm.api_key.is_empty() || set("ANTHROPIC_API_KEY") {
            "anthropic".into()
        } else if set("OPENAI_API_KEY") {
            "openai".into()
        } else {
            "scripted".into()
        }
    }

    /// Parsed request timeout.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        parse_duration(&self.dashboard.request_timeout).unwrap_or(Duration::from_secs(30))
    }

    /// Parsed serving timeouts of `[dashboard]`: header read, keep-alive, write, WebSocket pong
    /// (each falls back to its default when unparsable; `validate` rejects those).
    #[must_use]
    pub fn serving_timeouts(&self) -> [Duration; 4] {
        let d = &self.dashboard;
        let or = |v: &str, secs: u64| parse_duration(v).unwrap_or(Duration::from_secs(secs));
        [
            or(&d.header_read_timeout, 10),
            or(&d.keep_alive_timeout, 5),
            or(&d.write_timeout, 30),
            or(&d.ws_pong_timeout, 30),
        ]
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_duration(key: &str, value: &str) -> Result<(), ConfigError> {
    parse_duration(value)
        .map(|_| ())
        .map_err(|reason| ConfigError::invalid(key, value, &reason))
}

fn check_tracker(prefix: &str, t: &TrackerConfig) -> Result<(), ConfigError> {
    if !["local", "github", "gitlab", "jira", "linear"].contains(&t.provider.as_str()) {
        return Err(ConfigError::invalid(
            &format!("{prefix}.provider"),
            &t.provider,
            "expected local, github, gitlab, jira or linear",
        ));
    }
    check_duration(&format!("{prefix}.poll_interval"), &t.poll_interval)?;
    for (key, name) in t.statuses.entries() {
        if name.len() > 100 || name.chars().any(char::is_control) {
            return Err(ConfigError::invalid(
                &format!("{prefix}.statuses.{key}"),
                name,
                "expected a status, state or label name of at most 100 characters",
            ));
        }
    }
    Ok(())
}

fn check_git(prefix: &str, g: &GitConfig) -> Result<(), ConfigError> {
    if !["local", "github", "gitlab"].contains(&g.provider.as_str()) {
        return Err(ConfigError::invalid(
            &format!("{prefix}.provider"),
            &g.provider,
            "expected local, github or gitlab",
        ));
    }
    if g.branch_prefix.contains("..") || g.branch_prefix.contains(' ') {
        return Err(ConfigError::invalid(
            &format!("{prefix}.branch_prefix"),
            &g.branch_prefix,
            "not a valid git branch prefix",
        ));
    }
    Ok(())
}

/// Expands a leading `~/` to the home directory.
#[must_use]
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod mcp_tests;
