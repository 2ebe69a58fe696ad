//! External runners are metered: admitted against the budgets before they start, settled with
//! the cost the tool reports, labelled with the runner. The fake CLIs are small shell scripts
//! written by each test; they record their argv, environment and prompt, and leave a marker
//! file when started.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use foreman_agent::external::external_env;
use foreman_agent::{ExternalKind, ExternalRunner, ExternalSettings, PromptLibrary};
use foreman_domain::agent::{
    AgentLimits, AgentRequest, AgentRunner, AgentStopReason, AgentTask, NoAgentProgress,
};
use foreman_domain::{
    BudgetLimits, CostLedger, EventFilter, EventLog, EventType, LlmCall, LlmCallStatus, Micros,
    NewLlmCall, NewTask, NewTicket, ReservationRequest, TaskStore, TicketStore,
};
use foreman_testkit::MemoryStore;

use crate::support::{Repo, gone};

/// A fake CLI: `body` runs after the common prologue, which records the argv (one per line),
/// the environment, the prompt from stdin and a `started` marker in `$OUT`.
struct Cli {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Cli {
    fn new(name: &str, body: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("out");
        std::fs::create_dir(&out)?;
        let bin = dir.path().join(name);
        let script = format!(
            "#!/bin/sh\nOUT='{}'\ntouch \"$OUT/started\"\nprintf '%s\\n' \"$@\" > \"$OUT/argv\"\nenv > \"$OUT/env\"\ncat > \"$OUT/stdin\"\n{body}\n",
            out.display()
        );
        std::fs::write(&bin, script)?;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
        Ok(Self { dir, bin })
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("out").join(name)
    }

    fn started(&self) -> bool {
        self.out("started").exists()
    }

    fn argv(&self) -> Vec<String> {
        std::fs::read_to_string(self.out("argv"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn env(&self) -> String {
        std::fs::read_to_string(self.out("env")).unwrap_or_default()
    }
}

/// A store with one ticket and one task, and the agent's view of that task.
async fn ticket(store: &MemoryStore) -> Result<AgentTask> {
    let ticket = store
        .create_ticket(NewTicket {
            external_id: "M-1".into(),
            title: "Metered".into(),
            ..NewTicket::default()
        })
        .await?;
    let tasks = store
        .create_tasks(
            &ticket.id,
            vec![NewTask {
                sequence: 1,
                title: "Add the done test".into(),
                ..NewTask::default()
            }],
            None,
        )
        .await?;
    Ok(AgentTask::from_task(&ticket, &tasks[0]))
}

fn base_env() -> Vec<(String, String)> {
    vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())]
}

fn external(
    kind: ExternalKind,
    cli: &Cli,
    store: &Arc<MemoryStore>,
    limits: BudgetLimits,
    tweak: impl FnOnce(&mut ExternalSettings),
) -> Result<ExternalRunner> {
    let mut s = ExternalSettings {
        kind,
        program: cli.bin.display().to_string(),
        ..ExternalSettings::default()
    };
    if kind == ExternalKind::Command {
        s.command = vec![cli.bin.display().to_string(), "{worktree}".into()];
    }
    tweak(&mut s);
    Ok(
        ExternalRunner::with_env(s, Arc::new(PromptLibrary::embedded()), base_env())?
            .with_ledger(store.clone())
            .with_events(store.clone())
            .with_budget(limits),
    )
}

async fn calls(store: &MemoryStore, task: &AgentTask) -> Result<Vec<LlmCall>> {
    Ok(store
        .list_llm_calls(task.ticket_id.as_ref().unwrap())
        .await?)
}

fn ticket_limit(usd: f64) -> BudgetLimits {
    BudgetLimits {
        ticket: Some(Micros::from_usd(usd)),
        ..BudgetLimits::default()
    }
}

/// Whether the budgets still admit `usd` more for the task's ticket.
async fn admits(store: &MemoryStore, task: &AgentTask, limits: BudgetLimits, usd: f64) -> bool {
    let r = store
        .reserve(&ReservationRequest {
            ticket_id: task.ticket_id.clone(),
            task_id: task.task_id.clone(),
            amount: Micros::from_usd(usd),
            limits,
            at: foreman_domain::now(),
        })
        .await;
    match r {
        Ok(r) => {
            store.release(&r.id).await.unwrap();
            true
        }
        Err(_) => false,
    }
}

const CLAUDE_OK: &str = r#"
echo '{"type":"system","subtype":"init","session_id":"s"}'
echo '{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"done"}],"usage":{"input_tokens":10,"output_tokens":2}}}'
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"Changed it.","total_cost_usd":0.4321,"usage":{"input_tokens":1200,"output_tokens":340,"cache_read_input_tokens":5000,"cache_creation_input_tokens":700}}'
"#;

#[tokio::test]
async fn claude_code_cost_settles_its_reservation_under_the_runner_label() -> Result<()> {
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    let cli = Cli::new("claude", CLAUDE_OK)?;
    let limits = ticket_limit(1.0);
    let runner = external(ExternalKind::ClaudeCode, &cli, &store, limits, |s| {
        s.model = "claude-sonnet-4-6".into();
        s.args = vec!["--append-system-prompt".into(), "be brief".into()];
        s.max_cost_usd = 0.75;
    })?;
    let outcome = runner
        .run(
            &AgentRequest::new(task.clone(), &repo.path),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );
    assert_eq!(outcome.cost, Micros(432_100));

    let c = calls(&store, &task).await?;
    assert_eq!(c.len(), 1);
    let c = &c[0];
    assert_eq!(
        (c.provider.as_str(), c.runner.as_str(), c.model.as_str()),
        ("claude_code", "claude_code", "claude-sonnet-4-6")
    );
    assert_eq!(c.status, LlmCallStatus::Success);
    assert_eq!(c.cost, Micros(432_100));
    assert_eq!(
        (
            c.tokens_input,
            c.tokens_output,
            c.cache_read_tokens,
            c.cache_write_tokens
        ),
        (1200, 340, 5000, 700)
    );
    assert_eq!(c.task_id, task.task_id);
    // The task and ticket totals include it.
    let t = store
        .get_ticket(task.ticket_id.as_ref().unwrap())
        .await?
        .unwrap();
    assert_eq!(t.cost, Micros(432_100));

    // Settled: 0.4321 recorded, nothing still held, so 0.5679 more fits the $1 and 0.5680
    // does not.
    assert!(admits(&store, &task, limits, 0.5679).await);
    assert!(!admits(&store, &task, limits, 0.5680).await);

    // The configured arguments, model and budget cap reached the CLI.
    let argv = cli.argv();
    let after = |flag: &str| {
        argv.iter()
            .position(|a| a == flag)
            .map(|i| argv[i + 1].clone())
    };
    assert_eq!(after("--model").as_deref(), Some("claude-sonnet-4-6"));
    assert_eq!(after("--max-budget-usd").as_deref(), Some("0.75"));
    assert_eq!(after("--append-system-prompt").as_deref(), Some("be brief"));
    Ok(())
}

#[tokio::test]
async fn the_escalation_model_reaches_the_model_flag() -> Result<()> {
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    let cli = Cli::new("claude", CLAUDE_OK)?;
    let runner = external(
        ExternalKind::ClaudeCode,
        &cli,
        &store,
        BudgetLimits::default(),
        |s| s.model = "claude-sonnet-4-6".into(),
    )?;
    let request = AgentRequest::new(task.clone(), &repo.path)
        .with_model(Some("anthropic:claude-opus-4-6".into()));
    runner.run(&request, &NoAgentProgress).await?;
    let argv = cli.argv();
    let i = argv.iter().position(|a| a == "--model").unwrap();
    assert_eq!(argv[i + 1], "claude-opus-4-6");
    assert_eq!(calls(&store, &task).await?[0].model, "claude-opus-4-6");

    // Another vendor's model is not passed to the tool; the configured one stays.
    let request =
        AgentRequest::new(task.clone(), &repo.path).with_model(Some("openai:gpt-5".into()));
    assert_eq!(runner.model_for(&request), "claude-sonnet-4-6");
    let codex = external(
        ExternalKind::Codex,
        &cli,
        &store,
        BudgetLimits::default(),
        |s| s.model = "gpt-5-codex".into(),
    )?;
    assert_eq!(codex.model_for(&request), "gpt-5");
    let line = codex.command_line(&request);
    assert!(
        line.windows(2).any(|w| w == ["--model", "gpt-5"]),
        "{line:?}"
    );
    Ok(())
}

#[tokio::test]
async fn codex_usage_is_priced_by_the_pricing_function() -> Result<()> {
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    let cli = Cli::new(
        "codex",
        r#"
echo '{"type":"thread.started","thread_id":"t"}'
echo '{"type":"turn.started"}'
echo '{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"Implemented it."}}'
echo '{"type":"turn.completed","usage":{"input_tokens":10000,"cached_input_tokens":4000,"output_tokens":2000}}'
"#,
    )?;
    // $1.25 / $10 per million, cached input at $0.125 (the gpt-5 row of the price table).
    let pricing = |model: &str, u: &foreman_domain::llm::Usage| {
        assert_eq!(model, "gpt-5");
        let micros =
            u.input_tokens * 125 / 100 + u.cache_read_tokens * 125 / 1000 + u.output_tokens * 10;
        Micros(i64::try_from(micros).unwrap())
    };
    let runner = external(ExternalKind::Codex, &cli, &store, ticket_limit(1.0), |s| {
        s.model = "gpt-5".into();
        s.max_cost_usd = 0.5;
    })?
    .with_pricing(Arc::new(pricing));
    let outcome = runner
        .run(
            &AgentRequest::new(task.clone(), &repo.path),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );
    // 6000 * 1.25 + 4000 * 0.125 + 2000 * 10 = 7500 + 500 + 20000 micro-dollars.
    let c = calls(&store, &task).await?;
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].provider.as_str(), c[0].model.as_str(), c[0].cost),
        ("codex", "gpt-5", Micros(28_000))
    );
    assert_eq!((c[0].tokens_input, c[0].cache_read_tokens), (6000, 4000));
    Ok(())
}

#[tokio::test]
async fn an_exhausted_budget_stops_the_run_before_it_starts() -> Result<()> {
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    // $0.90 of the ticket's $1.00 is already spent.
    store
        .record_llm_call(NewLlmCall {
            ticket_id: task.ticket_id.clone(),
            task_id: task.task_id.clone(),
            role: "planner".into(),
            provider: "anthropic".into(),
            model: "claude-sonnet-4-6".into(),
            runner: "builtin".into(),
            cost: Micros::from_usd(0.9),
            status: Some(LlmCallStatus::Success),
            ..NewLlmCall::default()
        })
        .await?;

    // Control: with room for the run's $0.50 it starts.
    let cli = Cli::new("claude", CLAUDE_OK)?;
    let roomy = external(
        ExternalKind::ClaudeCode,
        &cli,
        &store,
        ticket_limit(2.0),
        |s| s.max_cost_usd = 0.5,
    )?;
    roomy
        .run(
            &AgentRequest::new(task.clone(), &repo.path),
            &NoAgentProgress,
        )
        .await?;
    assert!(cli.started(), "the control run must start");

    // Now $1.33 is spent of $1.50: a run that may cost $0.50 is refused and never started.
    let cli = Cli::new("claude", CLAUDE_OK)?;
    let tight = external(
        ExternalKind::ClaudeCode,
        &cli,
        &store,
        ticket_limit(1.5),
        |s| s.max_cost_usd = 0.5,
    )?;
    let outcome = tight
        .run(
            &AgentRequest::new(task.clone(), &repo.path),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::CostBudget);
    let error = outcome.error.unwrap();
    assert!(error.contains("ticket budget exceeded"), "{error}");
    assert!(!cli.started(), "the CLI was started despite the budget");
    assert_eq!(outcome.cost, Micros::ZERO);

    let c = calls(&store, &task).await?;
    let refused: Vec<&LlmCall> = c
        .iter()
        .filter(|c| c.status == LlmCallStatus::BudgetExceeded)
        .collect();
    assert_eq!(refused.len(), 1, "{c:?}");
    assert_eq!(
        (refused[0].runner.as_str(), refused[0].cost),
        ("claude_code", Micros::ZERO)
    );
    let events = store
        .list_events(&EventFilter {
            types: vec![EventType::CostExceeded],
            limit: 10,
            ..EventFilter::default()
        })
        .await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].details.as_ref().unwrap()["scope"], "ticket");
    Ok(())
}

#[tokio::test]
async fn a_crash_releases_the_reservation_and_records_what_was_reported() -> Result<()> {
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    let limits = ticket_limit(1.0);
    let cli = Cli::new(
        "agent",
        "echo 'FOREMAN_COST {\"usd\":0.05,\"input_tokens\":100,\"output_tokens\":10}'\necho 'boom' >&2\nexit 3",
    )?;
    let runner = external(ExternalKind::Command, &cli, &store, limits, |s| {
        s.max_cost_usd = 0.8;
    })?;

    // Control: while a run's $0.80 is held, a second one does not fit the $1.00.
    let held = store
        .reserve(&ReservationRequest {
            ticket_id: task.ticket_id.clone(),
            task_id: task.task_id.clone(),
            amount: Micros::from_usd(0.8),
            limits,
            at: foreman_domain::now(),
        })
        .await?;
    let refused = runner
        .run(
            &AgentRequest::new(task.clone(), &repo.path),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(refused.stop_reason, AgentStopReason::CostBudget);
    assert!(!cli.started());
    store.release(&held.id).await?;

    let outcome = runner
        .run(
            &AgentRequest::new(task.clone(), &repo.path),
            &NoAgentProgress,
        )
        .await?;
    assert!(cli.started());
    assert_eq!(outcome.stop_reason, AgentStopReason::RunnerFailed);
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap()
            .contains("exited with code 3")
    );
    let c = calls(&store, &task).await?;
    let failed = c.iter().find(|c| c.status == LlmCallStatus::Error).unwrap();
    assert_eq!((failed.cost, failed.tokens_input), (Micros(50_000), 100));
    // Released: $0.05 recorded, nothing held, so $0.95 still fits.
    assert!(admits(&store, &task, limits, 0.95).await);
    assert!(!admits(&store, &task, limits, 0.951).await);
    Ok(())
}

#[tokio::test]
async fn a_timeout_releases_the_reservation() -> Result<()> {
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    let limits = ticket_limit(1.0);
    let cli = Cli::new("agent", "sleep 31.4159 &\nsleep 31.4159")?;
    let runner = external(ExternalKind::Command, &cli, &store, limits, |s| {
        s.max_cost_usd = 0.8;
        s.timeout_secs = 1;
    })?;
    let started = std::time::Instant::now();
    let outcome = runner
        .run(
            &AgentRequest::new(task.clone(), &repo.path),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(gone("sleep 31.4159").await, "the fake's children survived");
    let c = calls(&store, &task).await?;
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].status, c[0].cost),
        (LlmCallStatus::Timeout, Micros::ZERO)
    );
    assert!(
        admits(&store, &task, limits, 1.0).await,
        "the hold was released"
    );
    Ok(())
}

#[tokio::test]
async fn a_dropped_run_releases_its_reservation() -> Result<()> {
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    let limits = ticket_limit(1.0);
    let cli = Cli::new("agent", "sleep 27.1828")?;
    let runner = external(ExternalKind::Command, &cli, &store, limits, |s| {
        s.max_cost_usd = 0.8;
    })?;
    let request = AgentRequest::new(task.clone(), &repo.path);
    let run = runner.run(&request, &NoAgentProgress);
    assert!(
        tokio::time::timeout(Duration::from_millis(800), run)
            .await
            .is_err()
    );
    assert!(cli.started());
    for _ in 0..40 {
        if admits(&store, &task, limits, 1.0).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    anyhow::bail!("the reservation of a dropped run was never released")
}

#[tokio::test]
async fn env_pass_through_names_credentials_explicitly() -> Result<()> {
    let source = |name: &str| match name {
        "PATH" => Some("/usr/bin:/bin".to_owned()),
        "ANTHROPIC_API_KEY" => Some("sk-ant-for-the-cli".to_owned()),
        "GITHUB_TOKEN" => Some("ghp_not_for_the_cli".to_owned()),
        "FOREMAN_DASHBOARD_TOKEN" => Some("fm_not_for_the_cli".to_owned()),
        "AGENT_PROFILE" => Some("fast".to_owned()),
        _ => None,
    };
    let env = external_env(
        &["ANTHROPIC_API_KEY".into(), "AGENT_PROFILE".into()],
        source,
    );
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    let cli = Cli::new("claude", CLAUDE_OK)?;
    let runner = ExternalRunner::with_env(
        ExternalSettings {
            program: cli.bin.display().to_string(),
            ..ExternalSettings::default()
        },
        Arc::new(PromptLibrary::embedded()),
        env,
    )?
    .with_ledger(store.clone());
    runner
        .run(&AgentRequest::new(task, &repo.path), &NoAgentProgress)
        .await?;
    let seen = cli.env();
    assert!(
        seen.contains("ANTHROPIC_API_KEY=sk-ant-for-the-cli"),
        "{seen}"
    );
    assert!(seen.contains("AGENT_PROFILE=fast"), "{seen}");
    assert!(!seen.contains("ghp_not_for_the_cli"), "{seen}");
    assert!(!seen.contains("fm_not_for_the_cli"), "{seen}");

    // Control: without naming it, the API key is dropped like any credential.
    let env = external_env(&[], source);
    assert!(env.iter().any(|(n, _)| n == "PATH"));
    assert!(!env.iter().any(|(n, _)| n == "ANTHROPIC_API_KEY"));
    Ok(())
}

#[tokio::test]
async fn a_command_edits_the_worktree_and_reports_its_cost_line() -> Result<()> {
    let repo = Repo::new(&[("calc.py", "def add(a, b):\n    return a + b\n")])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    let cli = Cli::new(
        "agent",
        r#"
cp "$FOREMAN_PROMPT_FILE" "$OUT/prompt_file"
printf '%s' "$FOREMAN_PROMPT_FILE" > "$OUT/prompt_path"
[ "$(pwd)" = "$FOREMAN_WORKTREE" ] || { echo "not in the worktree" >&2; exit 9; }
printf '\ndef multiply(a, b):\n    return a * b\n' >> calc.py
echo "edited calc.py"
echo '{"type":"usage","input_tokens":1,"output_tokens":1,"cost_usd":9.0}'
echo 'FOREMAN_COST {"usd":0.12,"input_tokens":3000,"output_tokens":450,"model":"local-coder"}'
"#,
    )?;
    let runner = external(
        ExternalKind::Command,
        &cli,
        &store,
        ticket_limit(1.0),
        |s| {
            s.command = vec![
                cli.bin.display().to_string(),
                "--model={model}".into(),
                "--prompt={prompt_file}".into(),
                "{worktree}".into(),
            ];
            s.model = "local-coder-small".into();
            s.max_cost_usd = 0.5;
        },
    )?;
    let outcome = runner
        .run(
            &AgentRequest::new(task.clone(), &repo.path),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );
    assert!(repo.read("calc.py")?.contains("def multiply(a, b):"));
    assert_eq!(outcome.report.unwrap().summary, "edited calc.py");

    // The prompt came on stdin and as a file; the file is gone after the run.
    let stdin = std::fs::read_to_string(cli.out("stdin"))?;
    assert!(stdin.contains("Add the done test"));
    assert_eq!(std::fs::read_to_string(cli.out("prompt_file"))?, stdin);
    let prompt_path = std::fs::read_to_string(cli.out("prompt_path"))?;
    assert!(!Path::new(&prompt_path).exists(), "prompt file left behind");
    assert!(!prompt_path.starts_with(repo.path.to_str().unwrap()));
    let argv = cli.argv();
    assert_eq!(argv[0], "--model=local-coder-small");
    assert_eq!(argv[1], format!("--prompt={prompt_path}"));

    // The cost line's totals replace what the usage lines summed.
    let c = calls(&store, &task).await?;
    assert_eq!(c.len(), 1);
    assert_eq!(
        (
            c[0].provider.as_str(),
            c[0].model.as_str(),
            c[0].cost,
            c[0].tokens_input,
            c[0].tokens_output
        ),
        ("command", "local-coder", Micros(120_000), 3000, 450)
    );
    Ok(())
}

#[tokio::test]
async fn a_cost_line_without_usd_is_priced() -> Result<()> {
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    let cli = Cli::new(
        "agent",
        "echo 'FOREMAN_COST {\"input_tokens\":1000,\"output_tokens\":100,\"model\":\"m\"}'",
    )?;
    let runner = external(
        ExternalKind::Command,
        &cli,
        &store,
        BudgetLimits::default(),
        |_| {},
    )?
    .with_pricing(Arc::new(|_: &str, u: &foreman_domain::llm::Usage| {
        Micros(i64::try_from(u.input_tokens + u.output_tokens * 4).unwrap())
    }));
    let outcome = runner
        .run(
            &AgentRequest::new(task.clone(), &repo.path),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(outcome.cost, Micros(1_400));
    assert_eq!(calls(&store, &task).await?[0].cost, Micros(1_400));
    Ok(())
}

#[tokio::test]
async fn the_run_cap_is_the_smaller_of_the_setting_and_the_request() -> Result<()> {
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let cli = Cli::new("claude", CLAUDE_OK)?;
    let runner = external(
        ExternalKind::ClaudeCode,
        &cli,
        &store,
        BudgetLimits::default(),
        |s| s.max_cost_usd = 2.0,
    )?;
    let request = AgentRequest::new(AgentTask::new("t"), &repo.path);
    let line = runner.command_line(&request);
    assert!(line.windows(2).any(|w| w == ["--max-budget-usd", "2.00"]));
    let request = request.with_limits(AgentLimits {
        cost_budget: Some(Micros::from_usd(0.25)),
        ..AgentLimits::default()
    });
    let line = runner.command_line(&request);
    assert!(line.windows(2).any(|w| w == ["--max-budget-usd", "0.25"]));
    Ok(())
}

/// A command runner inside the OS sandbox: `network = true` keeps the host's interfaces, and
/// the API key named in `env_passthrough` still reaches the tool; `network = false` leaves only
/// loopback (the control).
#[tokio::test]
async fn the_sandbox_wraps_external_runs_with_the_network_and_the_named_key() -> Result<()> {
    use foreman_agent::{DockerSettings, ExecMode, Isolation, SandboxSettings};
    let iso = Isolation::new(
        ExecMode::Sandbox,
        SandboxSettings::default(),
        DockerSettings::default(),
    );
    if let Err(e) = iso.check() {
        eprintln!("skipped: {e}");
        return Ok(());
    }
    let host_ifaces = std::fs::read_to_string("/proc/net/dev")?.lines().count();
    for network in [true, false] {
        let repo = Repo::new(&[])?;
        let store = Arc::new(MemoryStore::new());
        let task = ticket(&store).await?;
        let cli = Cli::new(
            "agent",
            "cat /proc/net/dev > net.txt\nenv > env.txt\nprintf '%s' \"$(cat \"$FOREMAN_PROMPT_FILE\" | head -c 100)\" > prompt.txt\necho 'FOREMAN_COST {\"usd\":0.01}'",
        )?;
        let env = external_env(&["ANTHROPIC_API_KEY".into()], |n| match n {
            "PATH" => std::env::var("PATH").ok(),
            "ANTHROPIC_API_KEY" => Some("sk-ant-inside-the-sandbox".into()),
            _ => None,
        });
        let runner = ExternalRunner::with_env(
            ExternalSettings {
                kind: ExternalKind::Command,
                command: vec![cli.bin.display().to_string()],
                env_passthrough: vec!["ANTHROPIC_API_KEY".into()],
                network,
                max_cost_usd: 0.1,
                ..ExternalSettings::default()
            },
            Arc::new(PromptLibrary::embedded()),
            env,
        )?
        .with_ledger(store.clone())
        .with_isolation(iso.clone());
        let outcome = runner
            .run(
                &AgentRequest::new(task.clone(), &repo.path),
                &NoAgentProgress,
            )
            .await?;
        assert_eq!(
            outcome.stop_reason,
            AgentStopReason::Completed,
            "{:?}",
            outcome.error
        );
        assert_eq!(outcome.cost, Micros(10_000));
        let ifaces = repo.read("net.txt")?.lines().count();
        let seen = repo.read("env.txt")?;
        assert!(
            seen.contains("ANTHROPIC_API_KEY=sk-ant-inside-the-sandbox"),
            "{seen}"
        );
        assert!(
            !repo.read("prompt.txt")?.is_empty(),
            "prompt file not visible"
        );
        if network {
            assert_eq!(ifaces, host_ifaces, "the host's interfaces");
        } else {
            // Two header lines and loopback.
            assert_eq!(ifaces, 3, "{}", repo.read("net.txt")?);
        }
    }
    Ok(())
}

#[tokio::test]
async fn settled_runs_raise_the_budget_alert_once_and_then_the_exhaustion() -> Result<()> {
    let repo = Repo::new(&[])?;
    let store = Arc::new(MemoryStore::new());
    let task = ticket(&store).await?;
    let limits = BudgetLimits {
        ticket: Some(Micros::from_usd(1.0)),
        alert_threshold_pct: 80,
        ..BudgetLimits::default()
    };
    // The tool reports more than was reserved: $0.45 a run against a $0.10 hold.
    let cli = Cli::new("agent", "echo 'FOREMAN_COST {\"usd\":0.45}'")?;
    let runner = external(ExternalKind::Command, &cli, &store, limits, |s| {
        s.max_cost_usd = 0.1;
    })?;
    let of = |events: &[foreman_domain::Event], t: EventType| {
        events.iter().filter(|e| e.event_type == t).count()
    };
    let mut seen = Vec::new();
    for _ in 0..3 {
        let outcome = runner
            .run(
                &AgentRequest::new(task.clone(), &repo.path),
                &NoAgentProgress,
            )
            .await?;
        assert_eq!(outcome.stop_reason, AgentStopReason::Completed);
        let events = store
            .list_events(&EventFilter {
                types: vec![EventType::CostAlert, EventType::CostExceeded],
                limit: 10,
                ..EventFilter::default()
            })
            .await?;
        seen.push((
            of(&events, EventType::CostAlert),
            of(&events, EventType::CostExceeded),
        ));
    }
    // $0.45 (45 %): nothing; $0.90 (90 %): the alert; $1.35: exhausted.
    assert_eq!(seen, [(0, 0), (1, 0), (1, 1)]);
    let t = store
        .get_ticket(task.ticket_id.as_ref().unwrap())
        .await?
        .unwrap();
    assert_eq!(t.cost, Micros::from_usd(1.35));
    // Now nothing more is admitted.
    let outcome = runner
        .run(
            &AgentRequest::new(task.clone(), &repo.path),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::CostBudget);
    Ok(())
}
