//! Embedding Foreman: a program that builds the pipeline's ports itself and takes one ticket
//! from a tracker it implements (`tracker.rs`) to a merged pull request on a local bare
//! repository. No network, no API key: the language model is scripted (the script of
//! `foreman-server --demo`, written for the sample project seeded below); git, the coding agent,
//! the test runs and the pipeline are the real ones.
//! Run it with `cargo run -p foreman-examples --example embed`.

mod tracker;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use foreman_agent::{CommandSettings, ExecMode, Isolation, PromptLibrary, SandboxState};
use foreman_domain::tracker::TrackerTicket;
use foreman_domain::{DEFAULT_PROJECT, EventLog, TicketStatus, TicketStore};
use foreman_pipeline::{Daemon, Engine, PipelineSettings, Ports, ProjectRuntime};

/// The scripted model's answers: they add `multiply` to the sample project's `calc.py`.
const SCRIPT: &str = include_str!("../../../bins/foreman-server/demo/script.json");
/// The sample project's test command (Python's standard library only).
const TEST_COMMAND: &str = "python3 -m unittest discover -s tests -t .";
/// Creates `remote.git`, a bare repository whose `main` holds the sample project: a calculator
/// that can add, with one test.
const SEED: &str = r#"set -e; export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
git init --quiet --bare --initial-branch=main remote.git
git init --quiet --initial-branch=main seed && cd seed && mkdir tests && touch tests/__init__.py
printf 'def add(a, b):\n    return a + b\n' > calc.py
printf 'import unittest\nfrom calc import add\n\n\nclass AddTest(unittest.TestCase):
    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n' > tests/test_add.py
git add -A && git -c user.name=Example -c user.email=ex@localhost commit --quiet -m 'Sample'
git push --quiet ../remote.git main"#;

#[tokio::main]
async fn main() -> Result<()> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    run(dir.path(), "sh", &["-c", SEED])?;
    let (remote, work_dir) = (dir.path().join("remote.git"), dir.path().join("work"));
    std::fs::create_dir(&work_dir)?; // Foreman's clones and worktrees

    // Storage ports (tickets, tasks, events, costs, settings, outbox): the in-memory store.
    let store = Arc::new(foreman_testkit::MemoryStore::new());
    let events: Arc<dyn EventLog> = store.clone();
    // The language model port: scripted answers, matched by role and by the conversation.
    let script = foreman_llm::Script::parse(SCRIPT)?;
    let llm = Arc::new(foreman_llm::ScriptedProvider::new(script));
    // Where tests and the agent's commands run: the OS sandbox when bubblewrap works here.
    let sandbox = Isolation::new(ExecMode::Sandbox, Default::default(), Default::default());
    let mode = match sandbox.probe() {
        SandboxState::Ready => ExecMode::Sandbox,
        state => {
            eprintln!("example: no OS sandbox ({state:?}): commands run WITHOUT isolation");
            ExecMode::None
        }
    };
    println!("example: commands run in runner mode {}", mode.as_str());
    let commands = CommandSettings {
        test_command: TEST_COMMAND.into(),
        mode,
        sandbox: foreman_agent::SandboxSettings {
            hidden_paths: vec![work_dir.clone()], // the other worktrees stay unseen
            ..Default::default()
        },
        ..Default::default()
    };
    // The coding agent port: the built-in agent, whose tools edit the worktree.
    let prompts = Arc::new(PromptLibrary::embedded());
    let agent = foreman_agent::RunnerSettings {
        commands: commands.clone(),
        ..Default::default()
    };
    let agent = foreman_agent::BuiltinRunner::new(llm.clone(), prompts.clone(), agent)?;
    // The git ports: real git on a clone of the bare remote, and the `local` host, which keeps
    // pull requests in the settings store and merges them by pushing to the remote.
    let url = remote.to_str().context("non-UTF-8 temporary directory")?;
    let repo_config = foreman_git::RepoConfig::new(DEFAULT_PROJECT, url, "main", &work_dir);
    let repo = Arc::new(foreman_git::GitRepository::new(repo_config)?);
    let host = Arc::new(foreman_git::LocalHost::new(store.clone(), repo.clone()));
    // The tracker port: ours, polled on the daemon's housekeeping rounds (every 15 s by default).
    let tracker = Arc::new(tracker::InCodeTracker {
        ticket: TrackerTicket {
            external_id: "EMBED-1".into(),
            title: "Add a multiply function to calc".into(),
            description: "calc.py can add but not multiply. Add `multiply(a, b)`.".into(),
            acceptance_criteria: "- `multiply(2, 3)` returns 6\n- a unit test covers it".into(),
            labels: vec![foreman_domain::tracker::DEFAULT_PICKUP_LABEL.into()],
            priority: 0,
            assignee: None,
            reporter: None,
            url: "memory://EMBED-1".into(),
            state: "open".into(),
            comments: Vec::new(),
            truncated: false,
            updated_at: None,
        },
        writes: Mutex::default(),
    });
    let project = ProjectRuntime {
        name: DEFAULT_PROJECT.into(),
        repo,
        host,
        tracker: tracker.clone(),
        branch_prefix: "foreman".into(),
        test_command: TEST_COMMAND.into(),
        lint_command: None,
        auto_merge: true,
        poll_interval: Some(Duration::from_secs(1)),
    };
    let ports = Ports {
        store: store.clone(),
        events: events.clone(),
        llm,
        agent: Arc::new(agent.with_events(events)),
        commands: Arc::new(foreman_agent::ProcessCommandRunner::new(&commands)),
        prompts,
        projects: [(DEFAULT_PROJECT.to_owned(), project)].into(),
        // skills for `PipelineSettings::hooks`, and the writer their `file_write` steps use
        skills: Arc::new(foreman_pipeline::hooks::StaticCatalog::empty()),
        files: Arc::new(foreman_agent::SandboxedWriter::new()),
    };
    let settings = PipelineSettings::default(); // what `[daemon]` and `[pipeline]` configure

    // The daemon polls the tracker, claims the ticket, runs it, and merges its pull request.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let daemon = tokio::spawn(Daemon::new(Engine::new(ports, settings)).run(shutdown.clone()));
    let deadline = Instant::now() + Duration::from_secs(180);
    let ticket = loop {
        let found = store.get_ticket_by_external_id(DEFAULT_PROJECT, "EMBED-1");
        match found.await? {
            Some(t) if t.status.is_terminal() => break t, // merged, or failed or blocked
            t if Instant::now() > deadline => bail!("the ticket did not finish in time: {t:?}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    shutdown.cancel();
    daemon.await?;

    // Checks: merged, the branch on the bare remote, `multiply` on its main, the tracker told.
    let (status, error) = (ticket.status, &ticket.last_error);
    ensure!(status == TicketStatus::Merged, "ended {status}: {error:?}");
    let branch = &ticket.branch_name;
    let heads = run(&remote, "git", &["ls-remote", "--heads", ".", branch])?;
    let head = format!("refs/heads/{branch}\n");
    ensure!(heads.ends_with(&head), "{branch} is not on the remote");
    let main = run(&remote, "git", &["show", "main:calc.py"])?;
    ensure!(main.contains("def multiply"), "main lacks multiply");
    let writes = tracker.writes.lock().unwrap().clone();
    println!("example: the tracker received {writes:?}");
    let attached = format!("pull request {}", ticket.pr_url);
    ensure!(writes.contains(&attached), "pull request not attached");
    ensure!(writes.contains(&"status done".into()), "status not done");
    let pr = ticket.pr_number.context("no pull request number")?;
    println!("example: PR #{pr} on branch {branch} exists on the bare remote");
    let secs = started.elapsed().as_secs_f64();
    println!("example: {} merged in {secs:.1}s", ticket.external_id);
    Ok(())
}

/// Runs `program` in `dir`; its standard output.
fn run(dir: &Path, program: &str, args: &[&str]) -> Result<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "{program} failed: {stderr}");
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
