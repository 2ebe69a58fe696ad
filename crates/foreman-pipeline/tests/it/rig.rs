//! A daemon working real tickets in process: the in-memory store, a sample Python repository
//! with a local bare remote (real git), the local git host, the scripted model behind the
//! metered layer (budgets, costs), the built-in coding agent and the real command runner. A
//! [`Stall`] holds one stage — the planner's call, the agent's run, the test command, a review,
//! opening the pull request — so a test can act while the ticket is in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use foreman_agent::{
    BuiltinRunner, CommandSettings, ExecMode, ProcessCommandRunner, PromptLibrary, RunnerSettings,
};
use foreman_domain::exec::{CommandError, CommandOutput, CommandRunner};
use foreman_domain::git::{GitHost, HostResult, MergeMethod, NewPullRequest, PullRequest};
use foreman_domain::llm::{LlmProvider, LlmRequest, LlmResponse, LlmResult, ProgressSink};
use foreman_domain::tracker::{
    NewTrackerTicket, Tracker, TrackerComment, TrackerError, TrackerResult, TrackerStatus,
    TrackerTicket,
};
use foreman_domain::{
    BudgetLimits, Event, EventFilter, EventType, NewTicket, Store, Submission, Ticket,
    TicketOptions,
};
use foreman_pipeline::{Daemon, Engine, PipelineSettings, Ports, ProjectRuntime};
use foreman_testkit::MemoryStore;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The sample project's test command.
pub const TEST_COMMAND: &str = "python3 -m unittest discover -s tests -t .";

/// Where a ticket is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The planner's model call.
    Planning,
    /// The coding agent's run (its model call).
    Agent,
    /// The test command (the red run).
    Tests,
    /// The spec reviewer's model call.
    Review,
    /// Opening the pull request on the host.
    PullRequest,
}

/// Holds the first call of one stage: it reports that it was entered, then waits forever (the
/// model call, agent and command: only an interruption ends it) or until released (the pull
/// request). Dropping a held call marks it interrupted.
#[derive(Default)]
pub struct Stall {
    stage: Option<Stage>,
    used: AtomicBool,
    entered: Notify,
    was_entered: AtomicBool,
    interrupted: AtomicBool,
    release: Notify,
}

impl Stall {
    fn new(stage: Option<Stage>) -> Arc<Self> {
        Arc::new(Self {
            stage,
            ..Self::default()
        })
    }

    /// Whether this call (of `stage`) is the one to hold.
    fn take(&self, stage: Stage) -> bool {
        self.stage == Some(stage) && !self.used.swap(true, Ordering::SeqCst)
    }

    /// Waits until the held stage is entered.
    pub async fn entered(&self) {
        loop {
            let notified = self.entered.notified();
            if self.was_entered.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    /// Whether the held call was dropped before it finished.
    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Lets a held pull request go on.
    pub fn release(&self) {
        self.release.notify_one();
    }

    async fn hold(&self, forever: bool) {
        struct Guard<'a>(&'a AtomicBool, bool);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
        }
        let mut guard = Guard(&self.interrupted, false);
        self.was_entered.store(true, Ordering::SeqCst);
        self.entered.notify_waiters();
        if forever {
            std::future::pending::<()>().await;
        }
        self.release.notified().await;
        guard.1 = true;
    }
}

struct StallingLlm {
    inner: Arc<dyn LlmProvider>,
    stall: Arc<Stall>,
}

#[async_trait]
impl LlmProvider for StallingLlm {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        let stage = match request.context.role.as_str() {
            "planner" => Some(Stage::Planning),
            "implementer" => Some(Stage::Agent),
            "spec_reviewer" => Some(Stage::Review),
            _ => None,
        };
        if let Some(stage) = stage
            && self.stall.take(stage)
        {
            self.stall.hold(true).await;
        }
        self.inner.complete_with_progress(request, progress).await
    }
}

struct StallingCommands {
    inner: ProcessCommandRunner,
    stall: Arc<Stall>,
}

#[async_trait]
impl CommandRunner for StallingCommands {
    async fn run(
        &self,
        dir: &Path,
        command: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, CommandError> {
        if command == TEST_COMMAND && self.stall.take(Stage::Tests) {
            self.stall.hold(true).await;
        }
        self.inner.run(dir, command, timeout).await
    }
}

struct StallingHost {
    inner: Arc<dyn GitHost>,
    stall: Arc<Stall>,
    failures: std::sync::atomic::AtomicU32,
}

#[async_trait]
impl GitHost for StallingHost {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn create_pr(&self, new: &NewPullRequest) -> HostResult<PullRequest> {
        if self.stall.take(Stage::PullRequest) {
            self.stall.hold(false).await;
        }
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(foreman_domain::remote::RemoteError::RateLimited {
                service: "local",
                retry_after: Some(Duration::from_millis(10)),
            }
            .into());
        }
        self.inner.create_pr(new).await
    }

    async fn find_pr(&self, head: &str) -> HostResult<Option<PullRequest>> {
        self.inner.find_pr(head).await
    }

    async fn get_pr(&self, number: i64) -> HostResult<PullRequest> {
        self.inner.get_pr(number).await
    }

    async fn comment_pr(&self, number: i64, body: &str) -> HostResult<()> {
        self.inner.comment_pr(number, body).await
    }

    async fn merge_pr(&self, number: i64, method: MergeMethod) -> HostResult<PullRequest> {
        self.inner.merge_pr(number, method).await
    }

    async fn update_pr(
        &self,
        number: i64,
        title: &str,
        body: &str,
        draft: bool,
    ) -> HostResult<PullRequest> {
        self.inner.update_pr(number, title, body, draft).await
    }

    async fn check(&self) -> HostResult<()> {
        self.inner.check().await
    }
}

/// A tracker that accepts every write.
struct QuietTracker;

#[async_trait]
impl Tracker for QuietTracker {
    fn name(&self) -> &'static str {
        "quiet"
    }

    async fn fetch_ready(&self) -> TrackerResult<Vec<TrackerTicket>> {
        Ok(Vec::new())
    }

    async fn get_ticket(&self, external_id: &str) -> TrackerResult<TrackerTicket> {
        Ok(TrackerTicket {
            external_id: external_id.to_owned(),
            title: String::new(),
            description: String::new(),
            acceptance_criteria: String::new(),
            labels: Vec::new(),
            priority: 0,
            assignee: None,
            reporter: None,
            url: String::new(),
            state: "open".into(),
            comments: Vec::new(),
            truncated: false,
            updated_at: None,
        })
    }

    async fn add_comment(&self, _external_id: &str, body: &str) -> TrackerResult<TrackerComment> {
        Ok(TrackerComment {
            id: "c1".into(),
            author: None,
            body: body.to_owned(),
            created_at: None,
        })
    }

    async fn add_label(&self, _external_id: &str, _label: &str) -> TrackerResult<()> {
        Ok(())
    }

    async fn remove_label(&self, _external_id: &str, _label: &str) -> TrackerResult<()> {
        Ok(())
    }

    async fn update_status(&self, _external_id: &str, _status: TrackerStatus) -> TrackerResult<()> {
        Ok(())
    }

    async fn attach_pr(&self, _external_id: &str, _url: &str, _title: &str) -> TrackerResult<()> {
        Ok(())
    }

    async fn create_ticket(&self, _new: &NewTrackerTicket) -> TrackerResult<TrackerTicket> {
        Err(TrackerError::Invalid("not here".into()))
    }

    async fn check(&self) -> TrackerResult<()> {
        Ok(())
    }
}

pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `git` output in `dir`.
pub fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The sample project (`calc.py` with `add` and its test) in a bare repository.
fn sample_remote(root: &Path) -> PathBuf {
    let remote = root.join("remote.git");
    git(
        root,
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            "remote.git",
        ],
    );
    git(root, &["init", "--quiet", "--initial-branch=main", "seed"]);
    let seed = root.join("seed");
    let files = [
        (
            "calc.py",
            "\"\"\"A tiny calculator.\"\"\"\n\n\ndef add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n",
        ),
        ("tests/__init__.py", ""),
        (
            "tests/test_add.py",
            "import unittest\n\nfrom calc import add\n\n\nclass AddTest(unittest.TestCase):\n    def test_adds(self):\n        self.assertEqual(add(2, 3), 5)\n",
        ),
    ];
    for (path, text) in files {
        let file = seed.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    git(&seed, &["add", "-A"]);
    git(
        &seed,
        &[
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@localhost",
            "commit",
            "--quiet",
            "-m",
            "sample",
        ],
    );
    git(
        &seed,
        &["push", "--quiet", remote.to_str().unwrap(), "main"],
    );
    remote
}

/// The model's script: the planner's one task (tests for multiply, then multiply), the
/// implementer's two phases, approving reviewers.
pub fn script() -> Value {
    script_with("")
}

/// [`script`] with `prelude` at the top of the test file the agent writes.
pub fn script_with(prelude: &str) -> Value {
    let usage = |i: u32, o: u32| json!({"input_tokens": i, "output_tokens": o});
    let test = format!(
        "{prelude}import unittest\n\nimport calc\n\n\nclass MultiplyTest(unittest.TestCase):\n    def test_multiplies(self):\n        self.assertTrue(hasattr(calc, \"multiply\"), \"calc.multiply is missing\")\n        self.assertEqual(calc.multiply(2, 3), 6)\n"
    );
    let calc = "\"\"\"A tiny calculator.\"\"\"\n\n\ndef add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n\n\ndef multiply(a, b):\n    \"\"\"Return the product of a and b.\"\"\"\n    return a * b\n";
    let review = |role: &str| json!({"name": role, "role": role, "response": {"tool_use": {"name": "submit_review", "input": {"approved": true, "issues": [], "summary": "fine"}}, "usage": usage(1800, 40)}});
    json!({
        "model": "claude-sonnet-4-6",
        "entries": [
            {"name": "planner", "role": "planner", "response": {"tool_use": {"name": "submit_plan", "input": {
                "summary": "Add multiply(a, b), tests first.", "too_large": false,
                "tasks": [{"sequence": 1, "title": "Add multiply to calc", "description": "Write tests/test_multiply.py, then add multiply to calc.py.",
                    "acceptance_criteria": "multiply(2, 3) returns 6", "test_assertions": ["multiply(2, 3) == 6"],
                    "files_to_modify": ["calc.py", "tests/test_multiply.py"], "depends_on": []}]}},
                "usage": usage(2000, 300)}},
            {"name": "tests-written", "role": "implementer", "match": "(created|overwrote) tests/test_multiply\\.py",
             "response": {"tool_use": {"name": "complete", "input": {"done": true, "summary": "tests written"}}, "usage": usage(3100, 60)}},
            {"name": "code-written", "role": "implementer", "match": "(created|overwrote) calc\\.py",
             "response": {"tool_use": {"name": "complete", "input": {"done": true, "summary": "multiply added"}}, "usage": usage(3300, 55)}},
            {"name": "tests-phase", "role": "implementer", "match": "PHASE: TESTS",
             "response": {"tool_use": {"name": "write_file", "input": {"path": "tests/test_multiply.py", "content": test}}, "usage": usage(3000, 120)}},
            {"name": "implement-phase", "role": "implementer", "match": "PHASE: IMPLEMENT",
             "response": {"tool_use": {"name": "write_file", "input": {"path": "calc.py", "content": calc}}, "usage": usage(3000, 120)}},
            review("spec_reviewer"),
            review("quality_reviewer"),
            review("final_reviewer"),
        ]
    })
}

/// A plan of two independent tasks — multiply in `calc.py`, `sub` in `sub.py` — each tests
/// first, with approving reviewers.
pub fn two_task_script() -> Value {
    let usage = json!({"input_tokens": 2000, "output_tokens": 100});
    let task = |seq: u32, title: &str, files: [&str; 2]| {
        json!({"sequence": seq, "title": title, "description": format!("Write {}, then {}.", files[1], files[0]),
            "acceptance_criteria": "tested", "test_assertions": ["it works"],
            "files_to_modify": files, "depends_on": []})
    };
    let complete = |name: &str, pattern: &str| {
        json!({"name": name, "role": "implementer", "match": pattern,
            "response": {"tool_use": {"name": "complete", "input": {"done": true, "summary": name}}, "usage": usage}})
    };
    let write = |name: &str, pattern: &str, path: &str, content: &str| {
        json!({"name": name, "role": "implementer", "match": pattern,
            "response": {"tool_use": {"name": "write_file", "input": {"path": path, "content": content}}, "usage": usage}})
    };
    let review = |role: &str| json!({"name": role, "role": role, "response": {"tool_use": {"name": "submit_review", "input": {"approved": true, "issues": [], "summary": "fine"}}, "usage": usage}});
    let mul_test = "import unittest\n\nimport calc\n\n\nclass MultiplyTest(unittest.TestCase):\n    def test_multiplies(self):\n        self.assertTrue(hasattr(calc, \"multiply\"), \"calc.multiply is missing\")\n        self.assertEqual(calc.multiply(2, 3), 6)\n";
    let calc = "\"\"\"A tiny calculator.\"\"\"\n\n\ndef add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n\n\ndef multiply(a, b):\n    \"\"\"Return the product of a and b.\"\"\"\n    return a * b\n";
    let sub_test = "import importlib\nimport importlib.util\nimport unittest\n\n\nclass SubTest(unittest.TestCase):\n    def test_subtracts(self):\n        self.assertIsNotNone(importlib.util.find_spec(\"sub\"), \"sub.py is missing\")\n        self.assertEqual(importlib.import_module(\"sub\").sub(5, 3), 2)\n";
    let sub = "\"\"\"Subtraction.\"\"\"\n\n\ndef sub(a, b):\n    \"\"\"Return a minus b.\"\"\"\n    return a - b\n";
    json!({
        "model": "claude-sonnet-4-6",
        "entries": [
            {"name": "planner", "role": "planner", "response": {"tool_use": {"name": "submit_plan", "input": {
                "summary": "Two independent helpers, tests first.", "too_large": false,
                "tasks": [
                    task(1, "Add multiply to calc", ["calc.py", "tests/test_multiply.py"]),
                    task(2, "Add sub module", ["sub.py", "tests/test_sub.py"]),
                ]}}, "usage": usage}},
            complete("mul-tests-written", "(created|overwrote) tests/test_multiply\\.py"),
            complete("mul-written", "(created|overwrote) calc\\.py"),
            complete("sub-tests-written", "(created|overwrote) tests/test_sub\\.py"),
            complete("sub-written", "(created|overwrote) sub\\.py"),
            write("mul-tests", "(?s)Task: Add multiply.*PHASE: TESTS", "tests/test_multiply.py", mul_test),
            write("mul-impl", "(?s)Task: Add multiply.*PHASE: IMPLEMENT", "calc.py", calc),
            write("sub-tests", "(?s)Task: Add sub module.*PHASE: TESTS", "tests/test_sub.py", sub_test),
            write("sub-impl", "(?s)Task: Add sub module.*PHASE: IMPLEMENT", "sub.py", sub),
            review("spec_reviewer"),
            review("quality_reviewer"),
            review("final_reviewer"),
        ]
    })
}

/// What a rig is set up with.
#[derive(Default)]
pub struct Setup {
    /// The stage to hold.
    pub stall: Option<Stage>,
    /// The configured budgets.
    pub limits: BudgetLimits,
    /// The model's script (default: [`script`]).
    pub script: Option<Value>,
    /// `PipelineSettings::checkpoint_push_after` (default: the settings' default).
    pub checkpoint_push_after: Option<Duration>,
    /// The skills hooks may run.
    pub skills: Vec<foreman_domain::skill::Skill>,
    /// `PipelineSettings::hooks`.
    pub hooks: Vec<foreman_domain::skill::HookConfig>,
    /// Pull request creations refused as rate limited (a transient fault) before one works.
    pub pr_failures: u32,
}

/// A running daemon over the sample project.
pub struct Rig {
    pub store: Arc<dyn Store>,
    pub stall: Arc<Stall>,
    pub remote: PathBuf,
    shutdown: CancellationToken,
    daemon: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// Builds the ports and starts the daemon.
    pub async fn start(setup: Setup) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let remote = sample_remote(dir.path());
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let store: Arc<dyn Store> = MemoryStore::new().shared();
        let stall = Stall::new(setup.stall);
        let script = setup.script.unwrap_or_else(script);
        let scripted: Arc<dyn LlmProvider> = Arc::new(foreman_llm::ScriptedProvider::new(
            foreman_llm::Script::parse(&script.to_string()).unwrap(),
        ));
        let stalling: Arc<dyn LlmProvider> = Arc::new(StallingLlm {
            inner: scripted,
            stall: stall.clone(),
        });
        let llm: Arc<dyn LlmProvider> = Arc::new(
            foreman_llm::MeteredProvider::builder(stalling, store.clone(), store.clone())
                .limits(setup.limits)
                .build(),
        );
        let commands = CommandSettings {
            test_command: TEST_COMMAND.into(),
            mode: ExecMode::parse("none").unwrap(),
            timeout_secs: 60,
            ..CommandSettings::default()
        };
        let prompts = Arc::new(PromptLibrary::embedded());
        let agent = BuiltinRunner::new(
            llm.clone(),
            prompts.clone(),
            RunnerSettings {
                commands: commands.clone(),
                ..RunnerSettings::default()
            },
        )
        .unwrap()
        .with_events(store.clone());
        let mut config =
            foreman_git::RepoConfig::new("default", remote.to_str().unwrap(), "main", &work);
        config.local_timeout = Duration::from_secs(30);
        let repo = Arc::new(foreman_git::GitRepository::new(config).unwrap());
        let host: Arc<dyn GitHost> =
            Arc::new(foreman_git::LocalHost::new(store.clone(), repo.clone()));
        let project = ProjectRuntime {
            name: "default".into(),
            repo,
            host: Arc::new(StallingHost {
                inner: host,
                stall: stall.clone(),
                failures: std::sync::atomic::AtomicU32::new(setup.pr_failures),
            }),
            tracker: Arc::new(QuietTracker),
            branch_prefix: "foreman/".into(),
            test_command: TEST_COMMAND.into(),
            lint_command: None,
            auto_merge: true,
            poll_interval: None,
        };
        let ports = Ports {
            store: store.clone(),
            events: store.clone(),
            llm,
            agent: Arc::new(agent),
            commands: Arc::new(StallingCommands {
                inner: ProcessCommandRunner::new(&commands),
                stall: stall.clone(),
            }),
            prompts,
            projects: BTreeMap::from([("default".to_owned(), project)]),
            skills: Arc::new(foreman_pipeline::hooks::StaticCatalog::new(setup.skills)),
            files: Arc::new(foreman_agent::SandboxedWriter::new()),
        };
        let models = foreman_domain::pipeline::Role::default_models()
            .into_keys()
            .map(|role| (role, "claude-sonnet-4-6".to_owned()))
            .collect();
        let settings = PipelineSettings {
            worker_id: "test-node".into(),
            max_parallel_tickets: 1,
            poll_interval: Duration::from_millis(50),
            housekeeping_interval: Duration::from_millis(200),
            lease: Duration::from_secs(3),
            shutdown_grace: Duration::from_secs(5),
            models,
            budgets: setup.limits,
            command_timeout: Duration::from_secs(60),
            checkpoint_push_after: setup
                .checkpoint_push_after
                .unwrap_or(PipelineSettings::default().checkpoint_push_after),
            hooks: setup.hooks,
            ..PipelineSettings::default()
        };
        let daemon = Daemon::new(Engine::new(ports, settings));
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(daemon.run(shutdown.clone()));
        Self {
            store,
            stall,
            remote,
            shutdown,
            daemon: Some(handle),
            _dir: dir,
        }
    }

    /// Submits the sample ticket with `options`.
    pub async fn submit(&self, options: TicketOptions) -> Ticket {
        self.store
            .submit_tickets(vec![Submission {
                ticket: NewTicket {
                    project: "default".into(),
                    external_id: "CALC-1".into(),
                    title: "Add a multiply function to calc".into(),
                    description: "calc.py can add but not multiply.".into(),
                    acceptance_criteria: "multiply(2, 3) returns 6".into(),
                    ..NewTicket::default()
                },
                options,
            }])
            .await
            .unwrap()
            .remove(0)
    }

    /// Waits (polling the store; bounded by the test's own timeout) until `done` holds for
    /// the ticket.
    pub async fn until(
        &self,
        id: &foreman_domain::TicketId,
        done: impl Fn(&Ticket) -> bool,
    ) -> Ticket {
        for _ in 0..1200 {
            let t = self.store.get_ticket(id).await.unwrap().unwrap();
            if done(&t) {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let t = self.store.get_ticket(id).await.unwrap().unwrap();
        panic!("ticket never got there: {} ({:?})", t.status, t.last_error);
    }

    /// Every event of a ticket, oldest first.
    pub async fn events(&self, id: &foreman_domain::TicketId) -> Vec<Event> {
        self.store
            .list_events(&EventFilter {
                ticket_id: Some(id.clone()),
                limit: foreman_domain::MAX_PAGE_LIMIT,
                ..EventFilter::default()
            })
            .await
            .unwrap()
    }

    /// Whether the ticket has an event of `ty`.
    pub async fn saw(&self, id: &foreman_domain::TicketId, ty: EventType) -> bool {
        self.events(id).await.iter().any(|e| e.event_type == ty)
    }

    /// Stops the daemon and waits for it.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.daemon.take() {
            h.await.unwrap();
        }
    }
}
