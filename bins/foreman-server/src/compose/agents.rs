//! The coding agent: `[agent_runner]` and each `[projects.agent_runner]` turned into runners,
//! external ones metered against the `[cost]` budgets and priced with the LLM price table, and
//! a router that hands each run to its ticket's project's runner.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use foreman_agent::external::external_env;
use foreman_agent::{
    BuiltinRunner, CommandSettings, ExternalKind, ExternalRunner, ExternalSettings, PromptLibrary,
    RunnerSettings,
};
use foreman_config::{AgentRunnerConfig, Config};
use foreman_domain::agent::{
    AgentError, AgentOutcome, AgentProgressSink, AgentRequest, AgentRunner,
};
use foreman_domain::llm::{LlmProvider, Usage};
use foreman_domain::{EventLog, Store};

/// What the runners are built from besides the configuration.
pub(super) struct AgentInputs<'a> {
    /// The metered LLM stack (for the built-in runner).
    pub llm: &'a Arc<dyn LlmProvider>,
    /// The role prompts.
    pub prompts: &'a Arc<PromptLibrary>,
    /// The default project's command settings (the built-in runner's commands, and the
    /// isolation every external run starts through).
    pub commands: &'a CommandSettings,
    /// Ledger, tickets and events.
    pub store: &'a Arc<dyn Store>,
    /// The event log.
    pub events: &'a Arc<dyn EventLog>,
    /// The process environment (the external runners' pass-through source).
    pub env: &'a BTreeMap<String, String>,
    /// The LLM price table's configuration (Codex and commands without a reported cost).
    pub pricing: &'a foreman_llm::PricingConfig,
    /// The MCP servers' tools, offered to the built-in runner.
    pub mcp_tools: Option<&'a Arc<dyn foreman_domain::mcp::ExternalTools>>,
}

/// The coding agent for every project: the top-level runner, routed per project when any
/// `[projects.agent_runner]` is set.
///
/// # Errors
/// Unknown providers, unparsable timeouts, inconsistent external settings.
pub(super) fn coding_agent(config: &Config, i: &AgentInputs<'_>) -> Result<Arc<dyn AgentRunner>> {
    let default = runner(config, &config.agent_runner, "agent_runner", i)?;
    let mut projects = BTreeMap::new();
    for (n, p) in config.projects.iter().enumerate() {
        if let Some(a) = &p.agent_runner {
            let r = runner(config, a, &format!("projects[{n}].agent_runner"), i)?;
            projects.insert(p.name.clone(), (r, a.max_turns.max(1), a.token_budget));
        }
    }
    if projects.is_empty() {
        return Ok(default);
    }
    Ok(Arc::new(ProjectAgents {
        store: i.store.clone(),
        default,
        projects,
    }))
}

/// One section's runner; `key` names the section in errors.
fn runner(
    config: &Config,
    a: &AgentRunnerConfig,
    key: &str,
    i: &AgentInputs<'_>,
) -> Result<Arc<dyn AgentRunner>> {
    let kind = match a.provider_name() {
        "builtin" => {
            let settings = RunnerSettings {
                commands: i.commands.clone(),
                max_output_tokens: config.runner.max_output_tokens.max(256),
                secret_patterns: config.runner.secret_patterns.clone(),
                ..RunnerSettings::default()
            };
            let mut builtin = BuiltinRunner::new(i.llm.clone(), i.prompts.clone(), settings)
                .context("cannot set up the built-in coding agent")?
                .with_events(i.events.clone());
            if let Some(tools) = i.mcp_tools {
                builtin = builtin.with_external_tools(tools.clone());
            }
            return Ok(Arc::new(builtin));
        }
        "claude_code" => ExternalKind::ClaudeCode,
        "codex" => ExternalKind::Codex,
        "command" => ExternalKind::Command,
        other => {
            bail!("{key}.provider = {other:?} is not one of builtin, claude_code, codex, command")
        }
    };
    let timeout = foreman_config::parse_duration(&a.timeout)
        .map_err(|e| anyhow!("{key}.timeout = {:?} is not a duration ({e})", a.timeout))?;
    let settings = ExternalSettings {
        kind,
        program: a.program.clone(),
        command: a.command.clone(),
        model: a.model.clone(),
        args: a.args.clone(),
        timeout_secs: timeout.as_secs().max(1),
        env_passthrough: a.env_passthrough.clone(),
        network: a.network,
        max_cost_usd: a.max_cost_usd,
        ..ExternalSettings::default()
    };
    let env = external_env(&a.env_passthrough, |n| i.env.get(n).cloned());
    let table = Arc::new(foreman_llm::PricingTable::from_config(i.pricing));
    let ledger: Arc<dyn foreman_domain::CostLedger> = i.store.clone();
    let runner = ExternalRunner::with_env(settings, i.prompts.clone(), env)
        .with_context(|| format!("{key}: cannot set up the {} runner", kind.runner_name()))?
        .with_ledger(ledger)
        .with_budget(config.cost.limits())
        .with_events(i.events.clone())
        .with_pricing(Arc::new(move |model: &str, usage: &Usage| {
            table.cost(model, usage)
        }))
        .with_isolation(i.commands.isolation());
    tracing::info!(
        section = key,
        runner = kind.runner_name(),
        "external coding agent ready"
    );
    Ok(Arc::new(runner))
}

/// Hands each run to the runner of its ticket's project (`[projects.agent_runner]`, with that
/// section's `max_turns` and `token_budget`), else to the top-level one.
struct ProjectAgents {
    store: Arc<dyn Store>,
    default: Arc<dyn AgentRunner>,
    projects: BTreeMap<String, (Arc<dyn AgentRunner>, u32, u64)>,
}

impl ProjectAgents {
    async fn route(
        &self,
        request: &AgentRequest,
        progress: &dyn AgentProgressSink,
    ) -> Result<AgentOutcome, AgentError> {
        let project = match &request.task.ticket_id {
            Some(id) => self
                .store
                .get_ticket(id)
                .await
                .map_err(|e| AgentError::NotConfigured {
                    message: format!("cannot find the project of ticket {id}: {e}"),
                })?
                .map(|t| t.project),
            None => None,
        };
        match project.as_deref().and_then(|p| self.projects.get(p)) {
            Some((runner, max_turns, token_budget)) => {
                let mut request = request.clone();
                request.limits.max_turns = *max_turns;
                request.limits.token_budget = *token_budget;
                runner.run(&request, progress).await
            }
            None => self.default.run(request, progress).await,
        }
    }
}

/// The port's `run` as `async_trait` would write it (this crate does not depend on the macro).
type RunFuture<'a> = Pin<Box<dyn Future<Output = Result<AgentOutcome, AgentError>> + Send + 'a>>;

impl AgentRunner for ProjectAgents {
    fn name(&self) -> &str {
        self.default.name()
    }

    fn run<'s, 'r, 'p, 'a>(
        &'s self,
        request: &'r AgentRequest,
        progress: &'p dyn AgentProgressSink,
    ) -> RunFuture<'a>
    where
        's: 'a,
        'r: 'a,
        'p: 'a,
        Self: 'a,
    {
        Box::pin(self.route(request, progress))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use foreman_domain::agent::{AgentLimits, AgentStopReason, AgentTask, NoAgentProgress};
    use foreman_domain::{CostLedger, NewTicket, TicketStore};
    use foreman_testkit::MemoryStore;

    use super::*;

    #[tokio::test]
    async fn runs_go_to_the_runner_of_their_ticket_s_project() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("agent.sh");
        std::fs::write(
            &script,
            "#!/bin/sh\necho \"$1 turns=$FOREMAN_MAX_TURNS\" >> \"$2/ran.txt\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = Config::from_toml_str(
            &format!(
                r#"
                [agent_runner]
                provider = "command"
                command = ["{s}", "top", "{{worktree}}"]
                max_cost_usd = 0.0
                [[projects]]
                name = "web"
                [projects.agent_runner]
                provider = "command"
                command = ["{s}", "web", "{{worktree}}"]
                max_turns = 3
                max_cost_usd = 0.0
                "#,
                s = script.display()
            ),
            "test",
            &BTreeMap::new(),
        )
        .unwrap();
        let store = Arc::new(MemoryStore::new());
        let as_store: Arc<dyn Store> = store.clone();
        let events: Arc<dyn EventLog> = store.clone();
        let llm: Arc<dyn LlmProvider> = Arc::new(foreman_llm::ScriptedProvider::new(
            foreman_llm::Script::demo(),
        ));
        let agent = coding_agent(
            &config,
            &AgentInputs {
                llm: &llm,
                prompts: &Arc::new(PromptLibrary::embedded()),
                commands: &CommandSettings {
                    mode: foreman_agent::ExecMode::None,
                    ..CommandSettings::default()
                },
                store: &as_store,
                events: &events,
                env: &std::env::vars().collect(),
                pricing: &foreman_llm::PricingConfig::default(),
                mcp_tools: None,
            },
        )
        .unwrap();
        for (project, want) in [("default", "top turns=20"), ("web", "web turns=3")] {
            let ticket = store
                .create_ticket(NewTicket {
                    project: project.into(),
                    external_id: format!("{project}-1"),
                    title: "t".into(),
                    ..NewTicket::default()
                })
                .await
                .unwrap();
            let worktree = dir.path().join(project);
            std::fs::create_dir(&worktree).unwrap();
            let task = AgentTask {
                ticket_id: Some(ticket.id.clone()),
                ..AgentTask::new("t")
            };
            let request = AgentRequest::new(task, &worktree).with_limits(AgentLimits {
                max_turns: 20,
                ..AgentLimits::default()
            });
            let outcome = agent.run(&request, &NoAgentProgress).await.unwrap();
            assert_eq!(
                outcome.stop_reason,
                AgentStopReason::Completed,
                "{:?}",
                outcome.error
            );
            let ran = std::fs::read_to_string(worktree.join("ran.txt")).unwrap();
            assert_eq!(ran.trim(), want);
        }
        // Both runs were recorded with the runner's label.
        let calls = store.recent_llm_calls(10).await.unwrap();
        assert_eq!(calls.len(), 2);
        assert!(calls.iter().all(|c| c.runner == "command"));
    }

    #[test]
    fn the_old_claude_code_spelling_builds_the_claude_code_runner() {
        let config = Config::from_toml_str(
            "[agent_runner]\nprovider = \"claude-code\"\n",
            "test",
            &BTreeMap::new(),
        )
        .unwrap();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let events: Arc<dyn EventLog> = Arc::new(MemoryStore::new());
        let llm: Arc<dyn LlmProvider> = Arc::new(foreman_llm::ScriptedProvider::new(
            foreman_llm::Script::demo(),
        ));
        let agent = coding_agent(
            &config,
            &AgentInputs {
                llm: &llm,
                prompts: &Arc::new(PromptLibrary::embedded()),
                commands: &CommandSettings::default(),
                store: &store,
                events: &events,
                env: &BTreeMap::new(),
                pricing: &foreman_llm::PricingConfig::default(),
                mcp_tools: None,
            },
        )
        .unwrap();
        assert_eq!(agent.name(), "claude_code");
    }
}
