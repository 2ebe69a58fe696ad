//! Builds the pipeline's ports from configuration: the metered LLM stack, the coding agent,
//! the command runner, the prompt library, and for every project its repository, git host and
//! tracker. This is the only place that picks adapters.

mod agents;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use foreman_agent::{CommandSettings, PromptLibrary};
use foreman_config::Config;
use foreman_domain::agent::AgentLimits;
use foreman_domain::llm::LlmProvider;
use foreman_domain::{EventLog, Store};
use foreman_git::GitRepository;

use crate::adapters::{build_host, build_repo, build_tracker, project_specs};
use foreman_pipeline::{Engine, PipelineSettings, Ports, ProjectRuntime};

/// What the composition needs besides the configuration.
pub struct Inputs {
    /// The store (tickets, tasks, costs, settings, outbox).
    pub store: Arc<dyn Store>,
    /// The event log every component writes to (publishing to live clients).
    pub events: Arc<dyn EventLog>,
    /// The data directory (absolute).
    pub data_dir: PathBuf,
    /// Process environment, for choosing the LLM provider.
    pub env: BTreeMap<String, String>,
    /// The MCP servers' tools, offered to the built-in agent (`None`: no `[[mcp.servers]]`).
    pub mcp_tools: Option<Arc<dyn foreman_domain::mcp::ExternalTools>>,
    /// The skill catalog; each project's repository is attached to it as it is built.
    pub skills: Arc<foreman_pipeline::skills::SkillFiles>,
}

impl std::fmt::Debug for Inputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inputs")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// The assembled engine with the repositories it works in, or why the daemon does not run.
#[derive(Debug)]
pub enum Pipeline {
    /// Ready to run.
    Ready(Box<Engine>, Vec<Arc<GitRepository>>),
    /// Not configured well enough to work (the API still serves); the reason is logged.
    Idle(String),
}

/// The repositories as the API's diff source and branch rewinder (one per project, by its
/// name): `GET /api/tickets/{id}/diff` and the rollback's branch reset read and move them.
#[must_use]
pub fn history(repos: &[Arc<GitRepository>]) -> Arc<foreman_git::ProjectHistory> {
    let history = repos
        .iter()
        .fold(foreman_git::ProjectHistory::new(), |h, repo| {
            h.with_repo(repo.config().project.clone(), repo.clone())
        });
    Arc::new(history)
}

/// Parses a `60s`/`5m` style duration, naming the key on error.
fn duration(key: &str, value: &str) -> Result<Duration> {
    foreman_config::parse_duration(value)
        .map_err(|e| anyhow::anyhow!("{key} = {value:?} is not a duration ({e})"))
}

fn settings_port(store: &Arc<dyn Store>) -> Arc<dyn foreman_domain::SettingsStore> {
    store.clone()
}

fn ledger_port(store: &Arc<dyn Store>) -> Arc<dyn foreman_domain::CostLedger> {
    store.clone()
}

/// The pipeline settings the configuration gives.
///
/// # Errors
/// Unparsable durations.
pub fn settings(
    config: &Config,
    models: &BTreeMap<String, String>,
    node_id: &str,
) -> Result<PipelineSettings> {
    let p = &config.pipeline;
    let d = &config.daemon;
    let defaults = PipelineSettings::default();
    Ok(PipelineSettings {
        worker_id: node_id.to_owned(),
        max_parallel_tickets: d.max_parallel_tickets.max(1) as usize,
        max_parallel_tasks: d.max_parallel_tasks.max(1) as usize,
        poll_interval: duration("daemon.poll_interval", &d.poll_interval)?,
        housekeeping_interval: duration("daemon.housekeeping_interval", &d.housekeeping_interval)?,
        lease: duration("daemon.lease", &d.lease)?,
        shutdown_grace: duration("daemon.shutdown_grace", &d.shutdown_grace)?,
        enable_clarification: p.enable_clarification,
        clarification_timeout: Duration::from_secs(u64::from(p.clarification_timeout_hours) * 3600),
        enable_tdd_verification: p.enable_tdd_verification,
        enable_partial_pr: p.enable_partial_pr,
        max_tasks_per_ticket: p.max_tasks_per_ticket.max(1) as usize,
        max_replans: p.max_replans,
        max_implementation_retries: p.max_implementation_retries.max(1),
        max_spec_review_cycles: p.max_spec_review_cycles.max(1),
        max_quality_review_cycles: p.max_quality_review_cycles.max(1),
        max_llm_calls_per_task: i64::from(p.max_llm_calls_per_task.max(1)),
        command_timeout: duration("pipeline.command_timeout", &p.command_timeout)?,
        models: models.clone(),
        agent_limits: AgentLimits {
            max_turns: config.agent_runner.max_turns.max(1),
            token_budget: config.agent_runner.token_budget,
            ..defaults.agent_limits
        },
        conflict_resolution_token_budget: p.conflict_resolution_token_budget,
        clarification_label: defaults.clarification_label,
        budgets: config.cost.limits(),
        escalation_model: models.get("escalation").cloned(),
        transient_retry: foreman_pipeline::settings::TransientRetry {
            max_retries: p.max_transient_retries,
            initial_backoff: duration("pipeline.transient_backoff", &p.transient_backoff)?,
            max_backoff: duration("pipeline.transient_backoff_max", &p.transient_backoff_max)?,
        },
        checkpoint_push_after: duration(
            "pipeline.checkpoint_push_after",
            &p.checkpoint_push_after,
        )?,
        hooks: p
            .hooks
            .iter()
            .enumerate()
            .map(|(i, h)| h.to_hook(i))
            .collect::<Result<_, _>>()?,
    })
}

/// Checks in the background, once, that the tracker has every status Foreman will report
/// (`[tracker.statuses]` against Jira's project statuses or Linear's team states), logging an
/// error per missing one; `foreman doctor` runs the same check. A status that cannot be set is
/// never fatal: its update fails in the outbox and is reported there.
fn check_tracker_statuses_later(
    project: &str,
    tracker: &Arc<dyn foreman_domain::tracker::Tracker>,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let project = project.to_owned();
    let tracker = tracker.clone();
    runtime.spawn(async move {
        match tracker.check_statuses().await {
            Ok(problems) => {
                for problem in problems {
                    tracing::error!(project = %project, tracker = tracker.name(), %problem, "a tracker status cannot be reported; fix [tracker.statuses]");
                }
            }
            Err(e) => {
                tracing::warn!(project = %project, tracker = tracker.name(), error = %e, "cannot check the tracker's statuses");
            }
        }
    });
}

/// This node's id: stable across restarts (kept in `<data_dir>/node_id`) and unique per data
/// directory, so a restarted server recognises the leases it held before a crash.
///
/// # Errors
/// When the file cannot be read or written.
pub fn node_id(data_dir: &std::path::Path) -> Result<String> {
    let path = data_dir.join("node_id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "foreman".into());
    let id = format!(
        "{host}-{}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// The role → `provider:model` table for the effective provider: the scripted provider takes
/// every role; OpenAI-compatible providers take the roles still naming Anthropic models.
#[must_use]
pub fn model_table(config: &Config, provider: &str) -> BTreeMap<String, String> {
    let mut models = config.llm.models.clone();
    if !config.pipeline.escalation_model.is_empty() {
        models.insert(
            "escalation".into(),
            config.pipeline.escalation_model.clone(),
        );
    }
    for role in ["conflict_resolver"] {
        if !models.contains_key(role)
            && let Some(m) = models.get("implementer").cloned()
        {
            models.insert(role.to_owned(), m);
        }
    }
    match provider {
        "scripted" => models
            .into_iter()
            .map(|(role, spec)| {
                let model = spec.split_once(':').map_or(spec.as_str(), |(_, m)| m);
                (role, format!("scripted:{model}"))
            })
            .collect(),
        "anthropic" => models,
        other => models
            .into_iter()
            .map(|(role, spec)| {
                if spec.starts_with("anthropic:") {
                    let small = spec.contains("haiku");
                    let model = if small { "gpt-4.1-mini" } else { "gpt-4.1" };
                    (role, format!("{other}:{model}"))
                } else {
                    (role, spec)
                }
            })
            .collect(),
    }
}

/// The agent's and the pipeline's command settings for a project: its test and lint
/// commands plus `[runner]`.
fn command_settings(
    config: &Config,
    test_command: &str,
    lint_command: &str,
    settings: &PipelineSettings,
    data_dir: &std::path::Path,
    work_dir: &std::path::Path,
) -> CommandSettings {
    let r = &config.runner;
    let defaults = CommandSettings::default();
    CommandSettings {
        test_command: test_command.to_owned(),
        lint_command: lint_command.to_owned(),
        build_command: r.build_command.clone(),
        allowed_commands: r.allowed_commands.clone(),
        timeout_secs: settings.command_timeout.as_secs().max(1),
        max_output_bytes: usize::try_from(r.max_output_bytes)
            .unwrap_or(usize::MAX)
            .max(256),
        env_passthrough: r.env_passthrough.clone(),
        mode: foreman_agent::ExecMode::parse(r.effective_mode()).unwrap_or_default(),
        docker: foreman_agent::DockerSettings {
            image: r.docker_image.clone(),
            network: r.docker_network.clone(),
            ..defaults.docker
        },
        sandbox: sandbox_settings(config, data_dir, work_dir),
    }
}

/// The OS sandbox's settings: `[runner]` paths and limits, with the data directory and the
/// work directory (every worktree and the git admin directories) always hidden.
#[must_use]
pub fn sandbox_settings(
    config: &Config,
    data_dir: &std::path::Path,
    work_dir: &std::path::Path,
) -> foreman_agent::SandboxSettings {
    let r = &config.runner;
    let mib = |v: u64| v.saturating_mul(1024 * 1024);
    let mut hidden: Vec<PathBuf> = vec![data_dir.to_owned(), work_dir.to_owned()];
    hidden.extend(
        r.hidden_paths
            .iter()
            .map(|p| foreman_config::expand_home(p)),
    );
    foreman_agent::SandboxSettings {
        bwrap: r.bwrap_path.clone(),
        read_only_paths: r
            .read_only_paths
            .iter()
            .map(|p| foreman_config::expand_home(p))
            .collect(),
        hidden_paths: hidden,
        limits: foreman_agent::ResourceLimits {
            cpu_secs: r.cpu_time_secs,
            address_space_bytes: mib(r.max_address_space_mb),
            processes: r.max_processes,
            file_size_bytes: mib(r.max_file_size_mb),
            output_bytes: r.output_limit_bytes,
        },
        cgroup_root: None,
    }
}

/// The isolation the configuration asks for, checked: logs a warning for `mode = "none"` (and
/// the deprecated `local`), and an error when `sandbox` cannot work here (commands are then
/// refused, never run unisolated). Returns the effective mode's name for `/api/status`.
#[must_use]
pub fn report_isolation(config: &Config, data_dir: &std::path::Path) -> String {
    if let Some(w) = config.runner.deprecation() {
        tracing::warn!("{w}");
    }
    let mode = config.runner.effective_mode().to_owned();
    match mode.as_str() {
        "none" => tracing::warn!(
            "runner.mode = \"none\": commands in worktrees run on this machine with the server's privileges, without the OS sandbox"
        ),
        "docker" => {
            tracing::info!(image = %config.runner.docker_image, "commands run in containers")
        }
        _ => {
            let work = data_dir.join("work");
            let settings = sandbox_settings(config, data_dir, &work);
            let iso = foreman_agent::Isolation::new(
                foreman_agent::ExecMode::Sandbox,
                settings,
                foreman_agent::DockerSettings::default(),
            );
            match iso.check() {
                Ok(()) => tracing::info!("commands run in the OS sandbox (bubblewrap)"),
                Err(e) => tracing::error!("{e}; worktree commands will be refused"),
            }
        }
    }
    mode
}

/// The model prices every cost in the process is computed with: the LLM stack's, the Claude
/// Code log reader's and the one `/api/costs/pricing` shows. The built-in table with the
/// `[[pricing]]` entries over it (`model = "*"` sets the fallback price; a missing cache price
/// is the input price).
#[must_use]
pub fn pricing(config: &Config) -> foreman_llm::PricingConfig {
    let mut table = foreman_llm::PricingConfig::default();
    for p in &config.pricing {
        table.insert(
            p.model.trim(),
            foreman_llm::ModelPrice::usd(
                p.input,
                p.output,
                p.cache_write.unwrap_or(p.input),
                p.cache_read.unwrap_or(p.input),
            ),
        );
    }
    table
}

/// The source of `/api/usage/claude-code`: Claude Code's session logs under
/// `~/.claude/projects`, priced with the same table as Foreman's own LLM calls.
#[must_use]
pub fn usage_source(config: &Config) -> Arc<dyn foreman_domain::usage_source::UsageSource> {
    let table = foreman_llm::PricingTable::from_config(&pricing(config));
    Arc::new(foreman_claude_logs::ClaudeLogs::new(None, table))
}

/// The prices of reported usage sent without a cost (`POST /api/llm/usage`): the same table as
/// Foreman's own calls.
#[must_use]
pub fn usage_pricer(config: &Config) -> Arc<dyn foreman_domain::usage_ingest::UsagePricer> {
    Arc::new(foreman_llm::PricingTable::from_config(&pricing(config)))
}

/// Builds the engine. Projects without a repository (`clone_url` empty) are left out; with
/// none left, the daemon idles and the API still serves.
///
/// # Errors
/// Configuration that names unusable adapters, models or scripts.
pub fn build(config: &Config, inputs: &Inputs) -> Result<Pipeline> {
    let provider = config.effective_llm_provider(&inputs.env);
    let models = model_table(config, &provider);
    let settings = settings(config, &models, &node_id(&inputs.data_dir)?)?;

    let llm_cfg = foreman_llm::LlmConfig::from_simple(
        &provider,
        &config.llm.api_key,
        &config.llm.base_url,
        &config.llm.script,
    );
    let router = foreman_llm::ModelRouter::from_roles(&models)
        .map_err(|e| anyhow::anyhow!("llm.models: {e}"))?;
    let rate_limit = foreman_llm::RateLimitConfig {
        requests_per_minute: config.rate_limit.requests_per_minute,
        tokens_per_minute: u64::from(config.rate_limit.tokens_per_minute),
        ..Default::default()
    };
    let pricing = pricing(config);
    // Every request of every role is scanned on its way out, with runner.secret_patterns too.
    let secret_scanner = foreman_agent::SecretScanner::with_extra(&config.runner.secret_patterns)
        .context("runner.secret_patterns")?;
    let stack = foreman_llm::build_stack(&foreman_llm::StackInputs {
        llm: &llm_cfg,
        models: &router,
        rate_limit: &rate_limit,
        pricing: &pricing,
        limits: config.cost.limits(),
        ledger: ledger_port(&inputs.store),
        events: inputs.events.clone(),
        secret_scanner: Some(Arc::new(secret_scanner)),
    })
    .with_context(|| format!("cannot set up the {provider} language model provider"))?;
    let llm: Arc<dyn LlmProvider> = stack.router.clone();
    tracing::info!(provider, "language model provider ready");

    let prompts = Arc::new(PromptLibrary::embedded());
    let work_dir = if config.daemon.work_dir.is_empty() {
        inputs.data_dir.join("work")
    } else {
        foreman_config::expand_home(&config.daemon.work_dir)
    };
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("cannot create work directory {}", work_dir.display()))?;
    let work_dir = work_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", work_dir.display()))?;

    let mut projects = BTreeMap::new();
    let mut repos = Vec::new();
    let mut default_commands: Option<CommandSettings> = None;
    for spec in project_specs(config) {
        if spec.git.clone_url.is_empty() {
            tracing::info!(project = %spec.name, "no git.clone_url; project not worked on");
            continue;
        }
        let repo = build_repo(&spec, &work_dir)
            .with_context(|| format!("project {}: git settings", spec.name))?;
        repos.push(repo.clone());
        inputs
            .skills
            .add_repository(spec.name.clone(), repo.clone());
        let host = build_host(&spec, Some(settings_port(&inputs.store)), &repo)
            .with_context(|| format!("project {}", spec.name))?;
        let tracker = build_tracker(&spec, Some((inputs.store.clone(), inputs.events.clone())))
            .with_context(|| format!("project {}", spec.name))?;
        check_tracker_statuses_later(&spec.name, &tracker);
        let test_command = spec.test_command.clone();
        let commands = command_settings(
            config,
            &test_command,
            &spec.lint_command,
            &settings,
            &inputs.data_dir,
            &work_dir,
        );
        if default_commands.is_none() {
            default_commands = Some(commands);
        }
        let poll_interval = if spec.tracker.provider == "local" || spec.tracker.provider.is_empty()
        {
            None
        } else {
            Some(duration(
                "tracker.poll_interval",
                &spec.tracker.poll_interval,
            )?)
        };
        projects.insert(
            spec.name.clone(),
            ProjectRuntime {
                name: spec.name.clone(),
                repo,
                host,
                tracker,
                branch_prefix: spec.git.branch_prefix.clone(),
                test_command,
                lint_command: (!spec.lint_command.is_empty()).then(|| spec.lint_command.clone()),
                auto_merge: spec.git.auto_merge,
                poll_interval,
            },
        );
    }
    let Some(commands) = default_commands else {
        return Ok(Pipeline::Idle(
            "no project has git.clone_url set; set it (or run with --demo) to let the daemon work"
                .into(),
        ));
    };

    let agent = agents::coding_agent(
        config,
        &agents::AgentInputs {
            llm: &llm,
            prompts: &prompts,
            commands: &commands,
            store: &inputs.store,
            events: &inputs.events,
            env: &inputs.env,
            pricing: &pricing,
            mcp_tools: inputs.mcp_tools.as_ref(),
        },
    )?;
    let ports = Ports {
        store: inputs.store.clone(),
        events: inputs.events.clone(),
        llm,
        agent,
        commands: Arc::new(foreman_agent::ProcessCommandRunner::new(&commands)),
        prompts,
        projects,
        skills: inputs.skills.clone(),
        files: Arc::new(foreman_agent::SandboxedWriter::new()),
    };
    Ok(Pipeline::Ready(
        Box::new(Engine::new(ports, settings)),
        repos,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_prices_override_the_builtin_table() {
        let config = Config {
            pricing: vec![
                foreman_config::PricingEntry {
                    model: "my-finetune".into(),
                    input: 2.0,
                    output: 8.0,
                    cache_write: None,
                    cache_read: Some(0.5),
                },
                foreman_config::PricingEntry {
                    model: "*".into(),
                    input: 3.0,
                    output: 15.0,
                    cache_write: None,
                    cache_read: None,
                },
            ],
            ..Config::default()
        };
        let view = foreman_llm::PricingTable::from_config(&pricing(&config)).view();
        let row = view
            .models
            .iter()
            .find(|r| r.model == "my-finetune")
            .expect("the configured model is listed");
        assert_eq!(row.source, foreman_domain::cost_report::PriceSource::Config);
        let usd = foreman_domain::Micros::from_usd;
        assert_eq!((row.input, row.output), (usd(2.0), usd(8.0)));
        assert_eq!((row.cache_write, row.cache_read), (usd(2.0), usd(0.5)));
        assert_eq!(view.fallback.expect("a fallback").input, usd(3.0));
        // without entries, the built-in table alone
        let builtin = foreman_llm::PricingTable::from_config(&pricing(&Config::default())).view();
        assert!(builtin.models.iter().all(|r| r.model != "my-finetune"));
        assert_ne!(builtin.fallback.expect("a fallback").input, usd(3.0));
    }

    #[test]
    fn scripted_takes_every_role_and_keeps_model_names() {
        let config = Config::default();
        let m = model_table(&config, "scripted");
        assert!(m.values().all(|s| s.starts_with("scripted:")));
        assert_eq!(m["planner"], "scripted:claude-sonnet-4-6");
        assert!(m.contains_key("conflict_resolver"));
        let o = model_table(&config, "openai");
        assert_eq!(o["spec_reviewer"], "openai:gpt-4.1-mini");
        assert_eq!(o["planner"], "openai:gpt-4.1");
    }
}
