//! External runners against fake CLIs that print the real stream formats.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use foreman_agent::{ExternalKind, ExternalRunner, ExternalSettings, PromptLibrary};
use foreman_domain::agent::{
    AgentLimits, AgentProgress, AgentRequest, AgentRunner, AgentStopReason, AgentTask, ChangeKind,
    FileChange, NoAgentProgress,
};
use foreman_domain::{
    CostLedger, EventFilter, EventLog, EventType, LlmCallStatus, Micros, NewTask, NewTicket,
    TaskStore, TicketStore,
};
use foreman_testkit::MemoryStore;

use crate::support::{Progress, Repo, gone};

struct Fake {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    out: PathBuf,
}

fn fake(name: &str) -> Result<Fake> {
    let dir = tempfile::tempdir()?;
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let bin = dir.path().join(name);
    std::fs::copy(&src, &bin)?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
    let out = dir.path().join("out");
    std::fs::create_dir(&out)?;
    Ok(Fake {
        _dir: dir,
        bin,
        out,
    })
}

fn env(f: &Fake, mode: &str) -> Vec<(String, String)> {
    vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("FAKE_DIR".into(), f.out.display().to_string()),
        ("FAKE_MODE".into(), mode.into()),
        (
            "ANTHROPIC_API_KEY".into(),
            "sk-ant-configured-for-the-tool".into(),
        ),
    ]
}

fn task() -> AgentTask {
    AgentTask {
        description: "Add a done test; the deploy key is AKIAIOSFODNN7EXAMPLE.".into(),
        ..AgentTask::new("Add the done test")
    }
}

fn runner(
    kind: ExternalKind,
    f: &Fake,
    mode: &str,
    tweak: impl FnOnce(&mut ExternalSettings),
) -> Result<ExternalRunner> {
    let mut s = ExternalSettings {
        kind,
        program: f.bin.display().to_string(),
        model: "claude-sonnet-4-6".into(),
        ..ExternalSettings::default()
    };
    if kind == ExternalKind::Command {
        s.command = vec![f.bin.display().to_string(), "{worktree}".into()];
        s.model = String::new();
    }
    if kind == ExternalKind::Codex {
        s.model = "gpt-5-codex".into();
    }
    tweak(&mut s);
    Ok(ExternalRunner::with_env(
        s,
        Arc::new(PromptLibrary::embedded()),
        env(f, mode),
    )?)
}

#[tokio::test]
async fn claude_code_stream_becomes_progress_usage_cost_and_a_recorded_call() -> Result<()> {
    let repo = Repo::new(&[("src/app.py", "a\n")])?;
    let f = fake("fake-claude")?;
    let store = Arc::new(MemoryStore::new());
    let ticket = store
        .create_ticket(NewTicket {
            external_id: "P-1".into(),
            title: "t".into(),
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
    let mut t = AgentTask::from_task(&ticket, &tasks[0]);
    t.description = task().description;
    let runner = runner(ExternalKind::ClaudeCode, &f, "ok", |_| {})?
        .with_ledger(store.clone())
        .with_events(store.clone());
    let progress = Progress::default();
    let request = AgentRequest::new(t, &repo.path).with_limits(AgentLimits {
        max_turns: 7,
        cost_budget: Some(Micros::from_usd(1.5)),
        ..AgentLimits::default()
    });
    let outcome = runner.run(&request, &progress).await?;

    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );
    assert_eq!(outcome.runner, "claude_code");
    assert_eq!(
        outcome.report.unwrap().summary,
        "Added tests/test_done.py and made it pass."
    );
    assert_eq!(outcome.turns, 2);
    assert_eq!(outcome.usage.input_tokens, 130);
    assert_eq!(outcome.usage.output_tokens, 30);
    assert_eq!(outcome.usage.cache_read_tokens, 120);
    assert_eq!(outcome.usage.cache_write_tokens, 50);
    assert_eq!(outcome.cost, Micros(12_300));
    assert_eq!(
        outcome.files_changed,
        vec![
            FileChange {
                path: "src/app.py".into(),
                kind: ChangeKind::Modified
            },
            FileChange {
                path: "tests/test_done.py".into(),
                kind: ChangeKind::Added
            },
        ]
    );
    assert_eq!(outcome.commands.len(), 1);
    assert_eq!(outcome.commands[0].command, "pytest -q");

    // Arguments: stream-json, turns and budget passed down, permissions not skipped.
    let args = std::fs::read_to_string(f.out.join("args.txt"))?;
    let args: Vec<&str> = args.lines().collect();
    for want in ["-p", "--output-format", "stream-json", "--verbose"] {
        assert!(args.contains(&want), "{args:?}");
    }
    let after = |flag: &str| args.iter().position(|a| *a == flag).map(|i| args[i + 1]);
    assert_eq!(after("--max-turns"), Some("7"));
    assert_eq!(after("--max-budget-usd"), Some("1.50"));
    assert_eq!(after("--model"), Some("claude-sonnet-4-6"));
    assert!(after("--allowedTools").unwrap().contains("Edit"));
    assert!(!args.contains(&"--dangerously-skip-permissions"));

    // The prompt arrived on stdin, scrubbed; the tool got its configured key and nothing else.
    let prompt = std::fs::read_to_string(f.out.join("prompt.txt"))?;
    assert!(prompt.contains("Add the done test"));
    assert!(!prompt.contains("AKIAIOSFODNN7EXAMPLE"));
    assert!(prompt.contains("[REDACTED:aws_access_key]"));
    let seen_env = std::fs::read_to_string(f.out.join("env.txt"))?;
    assert!(seen_env.contains("ANTHROPIC_API_KEY=sk-ant-configured-for-the-tool"));

    // The transcript is scrubbed too.
    let transcript = serde_json::to_string(&outcome.transcript)?;
    assert!(!transcript.contains("ghp_0123456789abcdefghij"));

    // Progress: turns, text, tool calls.
    let reports = progress.0.lock().unwrap().clone();
    assert!(
        reports
            .iter()
            .any(|p| matches!(p, AgentProgress::TurnStarted { turn: 2 }))
    );
    assert!(
        reports
            .iter()
            .any(|p| matches!(p, AgentProgress::ToolCall { name, .. } if name == "Bash"))
    );
    assert!(reports.iter().any(
        |p| matches!(p, AgentProgress::Text { text } if text.contains("[REDACTED:github_token]"))
    ));

    // Recorded as one LLM call with the runner's name, attributed to the task.
    let calls = store.list_llm_calls(&ticket.id).await?;
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(
        (c.runner.as_str(), c.provider.as_str(), c.model.as_str()),
        ("claude_code", "claude_code", "claude-sonnet-4-6")
    );
    assert_eq!(
        (c.tokens_input, c.tokens_output, c.cost),
        (130, 30, Micros(12_300))
    );
    assert_eq!(c.status, LlmCallStatus::Success);
    assert_eq!(
        c.prompt_version.as_deref(),
        PromptLibrary::embedded().version("implementer")
    );
    let turns = store
        .list_events(&EventFilter {
            types: vec![EventType::AgentTurn],
            limit: 10,
            ..EventFilter::default()
        })
        .await?;
    assert_eq!(turns.len(), 2);
    let secrets = store
        .list_events(&EventFilter {
            types: vec![EventType::SecretsDetected],
            limit: 10,
            ..EventFilter::default()
        })
        .await?;
    assert_eq!(secrets.len(), 1);
    Ok(())
}

#[tokio::test]
async fn skipping_permissions_is_an_explicit_choice() -> Result<()> {
    let repo = Repo::new(&[])?;
    let f = fake("fake-claude")?;
    let r = runner(ExternalKind::ClaudeCode, &f, "ok", |s| {
        s.skip_permissions = true
    })?;
    let line = r.command_line(&AgentRequest::new(task(), &repo.path));
    assert!(line.contains(&"--dangerously-skip-permissions".to_owned()));
    assert!(!line.contains(&"--allowedTools".to_owned()));
    let r = runner(ExternalKind::Codex, &f, "ok", |s| s.skip_permissions = true)?;
    let line = r.command_line(&AgentRequest::new(task(), &repo.path));
    assert!(line.contains(&"--dangerously-bypass-approvals-and-sandbox".to_owned()));
    let r = runner(ExternalKind::Codex, &f, "ok", |_| {})?;
    let line = r.command_line(&AgentRequest::new(task(), &repo.path));
    assert!(!line.iter().any(|a| a.contains("dangerously")));
    Ok(())
}

#[tokio::test]
async fn claude_code_max_turns_and_crashes_are_reported() -> Result<()> {
    let repo = Repo::new(&[("src/app.py", "a\n")])?;
    let f = fake("fake-claude")?;
    let outcome = runner(ExternalKind::ClaudeCode, &f, "max_turns", |_| {})?
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::RunnerFailed,
        "exit 1 wins: {:?}",
        outcome.error
    );
    let outcome = runner(ExternalKind::ClaudeCode, &f, "crash", |_| {})?
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::RunnerFailed);
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap()
            .contains("exited with code 3: fatal: invalid api key"),
        "{:?}",
        outcome.error
    );
    let outcome = runner(ExternalKind::ClaudeCode, &f, "garbage", |_| {})?
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::RunnerFailed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("the stream ended without a result")
    );
    Ok(())
}

#[tokio::test]
async fn timeouts_kill_the_process_group() -> Result<()> {
    let repo = Repo::new(&[])?;
    let f = fake("fake-claude")?;
    let store = Arc::new(MemoryStore::new());
    let r = runner(ExternalKind::ClaudeCode, &f, "hang", |_| {})?.with_events(store.clone());
    let started = std::time::Instant::now();
    let outcome = r
        .run(
            &AgentRequest::new(task(), &repo.path).with_limits(AgentLimits {
                timeout: Some(Duration::from_secs(1)),
                ..AgentLimits::default()
            }),
            &NoAgentProgress,
        )
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(gone("sleep 30.777").await, "the fake's children survived");
    let stalled = store
        .list_events(&EventFilter {
            types: vec![EventType::AgentStalled],
            limit: 10,
            ..EventFilter::default()
        })
        .await?;
    assert_eq!(stalled.len(), 1);
    Ok(())
}

#[tokio::test]
async fn codex_json_events_are_parsed_and_priced() -> Result<()> {
    let repo = Repo::new(&[])?;
    let f = fake("fake-codex")?;
    let r = runner(ExternalKind::Codex, &f, "ok", |_| {})?.with_pricing(Arc::new(
        |model: &str, u: &foreman_domain::llm::Usage| {
            assert_eq!(model, "gpt-5-codex");
            Micros(
                i64::try_from(u.input_tokens * 2 + u.cache_read_tokens + u.output_tokens * 10)
                    .unwrap(),
            )
        },
    ));
    let outcome = r
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );
    assert_eq!(outcome.runner, "codex");
    assert_eq!(outcome.turns, 1);
    assert_eq!(outcome.usage.input_tokens, 600);
    assert_eq!(outcome.usage.cache_read_tokens, 400);
    assert_eq!(outcome.usage.output_tokens, 200);
    assert_eq!(outcome.cost, Micros(600 * 2 + 400 + 2000));
    assert_eq!(
        outcome.report.unwrap().summary,
        "Implemented add and its test."
    );
    assert_eq!(outcome.commands[0].exit_code, Some(1));
    assert_eq!(
        outcome.files_changed,
        vec![
            FileChange {
                path: "src/calc.py".into(),
                kind: ChangeKind::Modified
            },
            FileChange {
                path: "tests/test_calc.py".into(),
                kind: ChangeKind::Added
            },
        ]
    );
    let args = std::fs::read_to_string(f.out.join("args.txt"))?;
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(&args[..3], &["exec", "--json", "--cd"]);
    assert!(
        args.windows(2)
            .any(|w| w == ["--sandbox", "workspace-write"])
    );
    assert_eq!(args.last(), Some(&"-"), "the prompt comes from stdin");
    assert!(std::fs::read_to_string(f.out.join("prompt.txt"))?.contains("Add the done test"));

    let outcome = runner(ExternalKind::Codex, &f, "fail", |_| {})?
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await?;
    assert_eq!(outcome.stop_reason, AgentStopReason::RunnerFailed);
    Ok(())
}

#[tokio::test]
async fn generic_commands_speak_json_lines_or_text() -> Result<()> {
    let repo = Repo::new(&[])?;
    let f = fake("fake-agent")?;
    let store = Arc::new(MemoryStore::new());
    let r = runner(ExternalKind::Command, &f, "ok", |_| {})?.with_ledger(store.clone());
    let progress = Progress::default();
    let outcome = r
        .run(&AgentRequest::new(task(), &repo.path), &progress)
        .await?;
    assert_eq!(
        outcome.stop_reason,
        AgentStopReason::Completed,
        "{:?}",
        outcome.error
    );
    assert_eq!(outcome.runner, "command");
    assert_eq!(outcome.report.unwrap().summary, "did the thing");
    assert_eq!(outcome.cost, Micros(2_000));
    assert_eq!(
        outcome.files_changed,
        vec![FileChange {
            path: "src/a.rs".into(),
            kind: ChangeKind::Added
        }]
    );
    let reports = progress.0.lock().unwrap().clone();
    let worktree = std::fs::canonicalize(&repo.path)?;
    assert!(reports.iter().any(|p| matches!(p, AgentProgress::Text { text } if *text == format!("working in {}", repo.path.display()) || *text == format!("working in {}", worktree.display()))));
    assert!(
        reports
            .iter()
            .any(|p| matches!(p, AgentProgress::Text { text } if text == "writing the test"))
    );
    let calls = store.recent_llm_calls(10).await?;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].runner.as_str(), calls[0].model.as_str()),
        ("command", "local-model")
    );
    Ok(())
}

#[tokio::test]
async fn missing_programs_and_bad_settings_are_clear_errors() -> Result<()> {
    let repo = Repo::new(&[])?;
    let r = ExternalRunner::with_env(
        ExternalSettings {
            program: "/nonexistent/claude".into(),
            ..ExternalSettings::default()
        },
        Arc::new(PromptLibrary::embedded()),
        Vec::new(),
    )?;
    let e = r
        .run(&AgentRequest::new(task(), &repo.path), &NoAgentProgress)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "spawn_failed");
    assert!(e.to_string().contains("/nonexistent/claude"));
    let e = ExternalRunner::with_env(
        ExternalSettings {
            kind: ExternalKind::Command,
            ..ExternalSettings::default()
        },
        Arc::new(PromptLibrary::embedded()),
        Vec::new(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_setting");
    Ok(())
}
