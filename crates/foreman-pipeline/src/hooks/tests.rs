//! The executor over real ports where they are cheap (the memory store, the scripted model
//! behind the metered layer, the sandboxed writer, real git) and recording fakes for the
//! command runner and the agent.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use foreman_domain::agent::{
    AgentError, AgentOutcome, AgentProgressSink, AgentRequest, AgentRunner, AgentStopReason,
    CompletionReport,
};
use foreman_domain::exec::{CommandError, CommandOutput, CommandRunner};
use foreman_domain::git::{GitRepo, Worktree, WorktreeSpec};
use foreman_domain::llm::LlmProvider;
use foreman_domain::skill::{
    HookConfig, HookPoint, Skill, SkillInput, SkillStep, StepKind, WriteMode,
};
use foreman_domain::{Event, EventFilter, EventType, NewTask, NewTicket, Store, Task, Ticket};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::settings::PipelineSettings;

// ----- fakes ---------------------------------------------------------------------------------

/// Runs nothing: `exit N` exits with N, `exists P` checks a file, `hang` never ends, anything
/// else succeeds. Records each command and the timeout it was given.
#[derive(Default)]
struct FakeCommands {
    calls: Mutex<Vec<(String, Duration)>>,
}

#[async_trait]
impl CommandRunner for FakeCommands {
    async fn run(
        &self,
        dir: &Path,
        command: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, CommandError> {
        self.calls
            .lock()
            .unwrap()
            .push((command.to_owned(), timeout));
        let (code, output) = if let Some(n) = command.strip_prefix("exit ") {
            (n.trim().parse().unwrap(), format!("exited {n}"))
        } else if let Some(p) = command.strip_prefix("exists ") {
            let found = dir.join(p.trim()).exists();
            (i32::from(!found), format!("{p}: {found}"))
        } else if command == "hang" {
            std::future::pending::<()>().await;
            unreachable!()
        } else {
            (0, format!("ran {command}"))
        };
        Ok(CommandOutput {
            exit_code: Some(code),
            output,
            timed_out: false,
            duration_ms: 1,
        })
    }
}

/// Completes at once with a summary, recording the request.
#[derive(Default)]
struct FakeAgent {
    requests: Mutex<Vec<AgentRequest>>,
}

#[async_trait]
impl AgentRunner for FakeAgent {
    fn name(&self) -> &str {
        "fake"
    }

    async fn run(
        &self,
        request: &AgentRequest,
        _progress: &dyn AgentProgressSink,
    ) -> Result<AgentOutcome, AgentError> {
        self.requests.lock().unwrap().push(request.clone());
        let mut out = AgentOutcome::empty("fake", AgentStopReason::Completed);
        out.report = Some(CompletionReport {
            summary: "the code is fine".into(),
            done: true,
            ..CompletionReport::default()
        });
        out.turns = 1;
        Ok(out)
    }
}

// ----- the harness ---------------------------------------------------------------------------

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

struct Harness {
    store: Arc<dyn Store>,
    ports: HookPorts,
    commands: Arc<FakeCommands>,
    agent: Arc<FakeAgent>,
    settings: PipelineSettings,
    ticket: Ticket,
    task: Task,
    repo: Arc<foreman_git::GitRepository>,
    wt: Worktree,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new(skills: Vec<Skill>, answers: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(
            root,
            &[
                "init",
                "-q",
                "--bare",
                "--initial-branch=main",
                "remote.git",
            ],
        );
        git(root, &["init", "-q", "--initial-branch=main", "seed"]);
        let seed = root.join("seed");
        std::fs::write(seed.join("README.md"), "hello\n").unwrap();
        std::fs::write(seed.join("Cargo.toml"), "[package]\n").unwrap();
        git(&seed, &["add", "-A"]);
        git(
            &seed,
            &[
                "-c",
                "user.name=T",
                "-c",
                "user.email=t@localhost",
                "commit",
                "-qm",
                "seed",
            ],
        );
        let remote = root.join("remote.git");
        git(&seed, &["push", "-q", remote.to_str().unwrap(), "main"]);
        let work = root.join("work");
        std::fs::create_dir_all(&work).unwrap();
        let config =
            foreman_git::RepoConfig::new("default", remote.to_str().unwrap(), "main", &work);
        let repo = Arc::new(foreman_git::GitRepository::new(config).unwrap());
        repo.sync_default().await.unwrap();

        let store: Arc<dyn Store> = foreman_testkit::MemoryStore::new().shared();
        let ticket = store
            .create_ticket(NewTicket {
                project: "default".into(),
                external_id: "T-1".into(),
                title: "Add a greeting".into(),
                description: "Say hello.".into(),
                acceptance_criteria: "it greets".into(),
                ..NewTicket::default()
            })
            .await
            .unwrap();
        let task = store
            .create_tasks(
                &ticket.id,
                vec![NewTask {
                    sequence: 1,
                    title: "Greet".into(),
                    description: "Print hello".into(),
                    acceptance_criteria: "hello".into(),
                    depends_on: Vec::new(),
                    files: Vec::new(),
                    complexity: 1,
                }],
                None,
            )
            .await
            .unwrap()
            .remove(0);
        let wt = repo
            .add_worktree(&WorktreeSpec {
                ticket_id: ticket.id.clone(),
                name: "ticket".into(),
                branch: "foreman/t-1".into(),
                start_point: "origin/main".into(),
            })
            .await
            .unwrap();

        let mut script = json!({"model": "claude-sonnet-4-6", "entries": []});
        script["entries"] = answers;
        let scripted: Arc<dyn LlmProvider> = Arc::new(foreman_llm::ScriptedProvider::new(
            foreman_llm::Script::parse(&script.to_string()).unwrap(),
        ));
        let llm: Arc<dyn LlmProvider> = Arc::new(
            foreman_llm::MeteredProvider::builder(scripted, store.clone(), store.clone()).build(),
        );
        let commands = Arc::new(FakeCommands::default());
        let agent = Arc::new(FakeAgent::default());
        let ports = HookPorts {
            commands: commands.clone(),
            llm,
            agent: agent.clone(),
            files: Arc::new(foreman_agent::SandboxedWriter::new()),
            skills: Arc::new(StaticCatalog::new(skills)),
            events: store.clone(),
        };
        let models = foreman_domain::pipeline::Role::default_models()
            .into_keys()
            .map(|role| (role, "claude-sonnet-4-6".to_owned()))
            .collect();
        Self {
            store,
            ports,
            commands,
            agent,
            settings: PipelineSettings {
                models,
                ..PipelineSettings::default()
            },
            ticket,
            task,
            repo,
            wt,
            _dir: dir,
        }
    }

    fn scope(&self, task: bool) -> HookScope<'_> {
        HookScope {
            project: "default",
            ticket: &self.ticket,
            task: task.then_some(&self.task),
            worktree: Some((self.repo.as_ref() as &dyn GitRepo, &self.wt)),
            base: "origin/main",
            test_command: "cargo test",
        }
    }

    async fn run(&self, hook: &HookConfig) -> Result<(), HookFailure> {
        run_hook(
            &self.ports,
            &self.settings,
            hook,
            &self.scope(true),
            &CancellationToken::new(),
        )
        .await
        .unwrap()
    }

    async fn events(&self, ty: EventType) -> Vec<Event> {
        self.store
            .list_events(&EventFilter {
                ticket_id: Some(self.ticket.id.clone()),
                types: vec![ty],
                limit: foreman_domain::MAX_PAGE_LIMIT,
                ..EventFilter::default()
            })
            .await
            .unwrap()
    }

    /// `skill_step_completed` details, in order.
    async fn steps(&self) -> Vec<Value> {
        self.events(EventType::SkillStepCompleted)
            .await
            .into_iter()
            .map(|e| e.details.unwrap())
            .collect()
    }

    fn file(&self, rel: &str) -> String {
        std::fs::read_to_string(self.wt.path.join(rel)).unwrap_or_default()
    }
}

fn skill(name: &str, steps: Vec<(&str, StepKind)>) -> Skill {
    Skill {
        name: name.into(),
        description: format!("{name} for tests"),
        hooks: Vec::new(),
        inputs: Vec::new(),
        steps: steps
            .into_iter()
            .map(|(id, kind)| SkillStep {
                id: id.into(),
                kind,
            })
            .collect(),
        body: String::new(),
    }
}

fn hook(point: HookPoint, skills: &[&str]) -> HookConfig {
    HookConfig {
        point,
        skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        inputs: BTreeMap::new(),
        timeout: Duration::from_secs(60),
        blocking: true,
        projects: Vec::new(),
    }
}

fn cmd(command: &str, allow_failure: bool) -> StepKind {
    StepKind::RunCommand {
        command: command.into(),
        allow_failure,
        timeout_secs: None,
    }
}

fn llm(template: &str, schema: Option<Value>) -> StepKind {
    StepKind::LlmCall {
        role: "quality-reviewer".into(),
        template: template.into(),
        output_schema: schema,
        max_tokens: None,
    }
}

fn write(path: &str, content: &str, mode: WriteMode) -> StepKind {
    StepKind::FileWrite {
        path: path.into(),
        content: content.into(),
        mode,
    }
}

fn answer(pattern: &str, text: &str) -> Value {
    json!({"role": "quality_reviewer", "match": pattern,
        "response": {"text": text, "usage": {"input_tokens": 100, "output_tokens": 20}}})
}

// ----- run_command ---------------------------------------------------------------------------

#[tokio::test]
async fn run_command_passes_fails_allows_failure_and_skips_empty_commands() {
    let h = Harness::new(
        vec![
            skill(
                "checks",
                vec![
                    ("ok", cmd("echo {{ ticket.external_id }}", false)),
                    ("tolerated", cmd("exit 3", true)),
                    ("nothing", cmd("{{ inputs.scanner | default('') }}", false)),
                    (
                        "uses",
                        cmd(
                            "echo {{ steps.tolerated.exit_code }} {{ steps.ok.output }}",
                            false,
                        ),
                    ),
                ],
            ),
            skill(
                "failing",
                vec![
                    ("bad", cmd("exit 2", false)),
                    ("never", cmd("echo no", false)),
                ],
            ),
        ],
        json!([]),
    )
    .await;
    h.run(&hook(HookPoint::PostTask, &["checks"]))
        .await
        .unwrap();
    let calls: Vec<String> = h
        .commands
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.0.clone())
        .collect();
    assert_eq!(calls, ["echo T-1", "exit 3", "echo 3 ran echo T-1"]);
    let steps = h.steps().await;
    let status: Vec<_> = steps
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        status,
        [
            ("ok", "ok"),
            ("tolerated", "ok"),
            ("nothing", "skipped"),
            ("uses", "ok")
        ]
    );
    assert_eq!(steps[0]["type"], "run_command");
    assert_eq!(steps[0]["output"], "ran echo T-1");
    assert!(steps[0]["duration_ms"].is_u64());

    let f = h
        .run(&hook(HookPoint::PostTask, &["failing"]))
        .await
        .unwrap_err();
    assert_eq!(f.skill, "failing");
    assert_eq!(f.step.as_deref(), Some("bad"));
    assert!(f.reason.contains("exited with 2"), "{}", f.reason);
    assert!(
        !h.commands
            .calls
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.0 == "echo no")
    );
    let failed = h.events(EventType::HookFailed).await;
    let d = failed[0].details.clone().unwrap();
    assert_eq!(d["point"], "post_task");
    assert_eq!(d["skill"], "failing");
    assert_eq!(d["step"], "bad");
    assert_eq!(d["blocking"], true);
    assert_eq!(h.events(EventType::HookPassed).await.len(), 1);
    assert_eq!(h.events(EventType::HookStarted).await.len(), 2);
}

#[tokio::test]
async fn a_command_gets_the_smaller_of_its_timeout_and_the_hook_time_left() {
    let h = Harness::new(
        vec![skill(
            "timed",
            vec![
                (
                    "short",
                    StepKind::RunCommand {
                        command: "echo a".into(),
                        allow_failure: false,
                        timeout_secs: Some(5),
                    },
                ),
                (
                    "long",
                    StepKind::RunCommand {
                        command: "echo b".into(),
                        allow_failure: false,
                        timeout_secs: Some(3600),
                    },
                ),
            ],
        )],
        json!([]),
    )
    .await;
    h.run(&hook(HookPoint::PostClone, &["timed"]))
        .await
        .unwrap();
    let calls = h.commands.calls.lock().unwrap().clone();
    assert_eq!(calls[0].1, Duration::from_secs(5));
    assert!(calls[1].1 <= Duration::from_secs(60), "{:?}", calls[1].1);
}

#[tokio::test]
async fn secrets_in_command_output_are_redacted_in_events() {
    let token = format!("ghp_{}", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5");
    let h = Harness::new(
        vec![skill(
            "leaky",
            vec![("print", cmd(&format!("echo {token}"), false))],
        )],
        json!([]),
    )
    .await;
    h.run(&hook(HookPoint::PostTask, &["leaky"])).await.unwrap();
    // control: the command itself carried the token
    assert!(h.commands.calls.lock().unwrap()[0].0.contains(&token));
    let out = h.steps().await[0]["output"].as_str().unwrap().to_owned();
    assert!(
        !out.contains(&token) && out.contains("[REDACTED:github_token]"),
        "{out}"
    );
}

// ----- llm_call ------------------------------------------------------------------------------

#[tokio::test]
async fn an_llm_call_is_metered_and_its_answer_is_the_output() {
    let h = Harness::new(
        vec![skill(
            "summary",
            vec![
                (
                    "ask",
                    llm(
                        "Summarise {{ ticket.title }} for task {{ task.sequence }}",
                        None,
                    ),
                ),
                (
                    "save",
                    write(
                        "SUMMARY.md",
                        "{{ steps.ask.output }}\n",
                        WriteMode::Overwrite,
                    ),
                ),
            ],
        )],
        json!([answer(
            "Summarise Add a greeting for task 1",
            "A greeting is added."
        )]),
    )
    .await;
    h.run(&hook(HookPoint::PostTask, &["summary"]))
        .await
        .unwrap();
    assert_eq!(h.file("SUMMARY.md"), "A greeting is added.\n");
    let calls = h.store.list_llm_calls(&h.ticket.id).await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].role, "quality_reviewer");
    assert_eq!(calls[0].task_id.as_ref(), Some(&h.task.id));
}

#[tokio::test]
async fn an_output_schema_is_enforced_on_the_answer() {
    let schema = json!({"type": "object", "required": ["entry", "kind"], "properties": {
        "entry": {"type": "string"}, "kind": {"enum": ["added", "fixed"]}}});
    let h = Harness::new(
        vec![
            skill(
                "good",
                vec![
                    ("ask", llm("good one", Some(schema.clone()))),
                    (
                        "save",
                        write(
                            "CHANGES.md",
                            "- {{ steps.ask.json.kind }}: {{ steps.ask.json.entry }}\n",
                            WriteMode::Append,
                        ),
                    ),
                ],
            ),
            skill("bad", vec![("ask", llm("bad one", Some(schema.clone())))]),
            skill("prose", vec![("ask", llm("prose one", Some(schema)))]),
        ],
        json!([
            answer(
                "good one",
                "Sure:\n```json\n{\"entry\": \"greeting\", \"kind\": \"added\"}\n```"
            ),
            answer(
                "bad one",
                "{\"entry\": \"greeting\", \"kind\": \"removed\"}"
            ),
            answer("prose one", "I think it was added."),
        ]),
    )
    .await;
    h.run(&hook(HookPoint::PrePr, &["good"])).await.unwrap();
    assert_eq!(h.file("CHANGES.md"), "- added: greeting\n");
    let f = h.run(&hook(HookPoint::PrePr, &["bad"])).await.unwrap_err();
    assert_eq!(f.step.as_deref(), Some("ask"));
    assert!(f.reason.contains("$.kind"), "{}", f.reason);
    let f = h
        .run(&hook(HookPoint::PrePr, &["prose"]))
        .await
        .unwrap_err();
    assert!(f.reason.contains("not JSON"), "{}", f.reason);
}

// ----- file_write ----------------------------------------------------------------------------

#[tokio::test]
async fn file_writes_follow_their_mode_and_stay_in_the_worktree() {
    let h = Harness::new(
        vec![
            skill(
                "notes",
                vec![
                    (
                        "a",
                        write("docs/NOTES.md", "middle\n", WriteMode::Overwrite),
                    ),
                    ("b", write("docs/NOTES.md", "end\n", WriteMode::Append)),
                    ("c", write("docs/NOTES.md", "start\n", WriteMode::Prepend)),
                ],
            ),
            skill(
                "escape",
                vec![("out", write("../outside.txt", "x", WriteMode::Overwrite))],
            ),
            skill(
                "git",
                vec![(
                    "hooks",
                    write(".git/hooks/pre-commit", "x", WriteMode::Overwrite),
                )],
            ),
        ],
        json!([]),
    )
    .await;
    h.run(&hook(HookPoint::PrePr, &["notes"])).await.unwrap();
    assert_eq!(h.file("docs/NOTES.md"), "start\nmiddle\nend\n");
    for (name, why) in [("escape", ".."), ("git", ".git")] {
        let f = h.run(&hook(HookPoint::PrePr, &[name])).await.unwrap_err();
        assert!(f.reason.contains(why), "{name}: {}", f.reason);
    }
    assert!(!h.wt.path.parent().unwrap().join("outside.txt").exists());
}

// ----- git_diff ------------------------------------------------------------------------------

#[tokio::test]
async fn git_diff_shows_the_change_against_the_base() {
    let h = Harness::new(
        vec![skill(
            "diffing",
            vec![
                (
                    "change",
                    write("hello.txt", "hello\n", WriteMode::Overwrite),
                ),
                ("diff", StepKind::GitDiff { base: None }),
                ("lazy", cmd("echo {{ 'hello.txt' in diff }}", false)),
            ],
        )],
        json!([]),
    )
    .await;
    h.run(&hook(HookPoint::PostTask, &["diffing"]))
        .await
        .unwrap();
    let steps = h.steps().await;
    assert!(
        steps[1]["output"].as_str().unwrap().contains("+hello"),
        "{}",
        steps[1]
    );
    assert_eq!(h.commands.calls.lock().unwrap()[0].0, "echo True");
}

// ----- agent ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_agent_step_gets_its_allow_list_and_turn_cap() {
    let h = Harness::new(
        vec![skill(
            "review",
            vec![
                (
                    "look",
                    StepKind::Agent {
                        instructions: "Review {{ ticket.title }}".into(),
                        tools: Vec::new(),
                        max_turns: 3,
                    },
                ),
                (
                    "fix",
                    StepKind::Agent {
                        instructions: "Fix it".into(),
                        tools: vec!["read_file".into(), "edit_file".into()],
                        max_turns: 7,
                    },
                ),
                ("echo", cmd("echo {{ steps.look.output }}", false)),
            ],
        )],
        json!([]),
    )
    .await;
    h.run(&hook(HookPoint::PostTask, &["review"]))
        .await
        .unwrap();
    let reqs = h.agent.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].task.description, "Review Add a greeting");
    assert_eq!(reqs[0].limits.max_turns, 3);
    let read_only: Vec<String> = READ_ONLY_TOOLS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(reqs[0].allowed_tools.as_ref(), Some(&read_only));
    assert_eq!(reqs[1].limits.max_turns, 7);
    assert_eq!(
        reqs[1].allowed_tools.as_deref(),
        Some(&["read_file".to_owned(), "edit_file".to_owned()][..])
    );
    assert_eq!(reqs[0].worktree, h.wt.path);
    assert_eq!(reqs[0].task.task_id.as_ref(), Some(&h.task.id));
    assert!(
        reqs[0]
            .limits
            .timeout
            .is_some_and(|t| t <= Duration::from_secs(60))
    );
    assert_eq!(
        h.commands.calls.lock().unwrap()[0].0,
        "echo the code is fine"
    );
}

// ----- subskill ------------------------------------------------------------------------------

#[tokio::test]
async fn subskills_run_with_their_inputs_and_cycles_are_refused() {
    let mut inner = skill("inner", vec![("say", cmd("echo {{ inputs.word }}", false))]);
    inner.inputs = vec![SkillInput {
        name: "word".into(),
        description: None,
        required: true,
        default: None,
    }];
    let outer = skill(
        "outer",
        vec![
            (
                "call",
                StepKind::Subskill {
                    skill: "inner".into(),
                    inputs: BTreeMap::from([(
                        "word".to_owned(),
                        "{{ ticket.external_id }}-x".to_owned(),
                    )]),
                },
            ),
            (
                "after",
                cmd(
                    "echo {{ steps.call.output }} in {{ ticket.project }}",
                    false,
                ),
            ),
        ],
    );
    let ping = skill(
        "ping",
        vec![(
            "to",
            StepKind::Subskill {
                skill: "pong".into(),
                inputs: BTreeMap::new(),
            },
        )],
    );
    let pong = skill(
        "pong",
        vec![(
            "back",
            StepKind::Subskill {
                skill: "ping".into(),
                inputs: BTreeMap::new(),
            },
        )],
    );
    let chain: Vec<Skill> = (1..=6)
        .map(|i| {
            skill(
                &format!("level{i}"),
                vec![(
                    "down",
                    StepKind::Subskill {
                        skill: format!("level{}", i + 1),
                        inputs: BTreeMap::new(),
                    },
                )],
            )
        })
        .collect();
    let mut skills = vec![inner, outer, ping, pong];
    skills.extend(chain);
    let h = Harness::new(skills, json!([])).await;
    h.run(&hook(HookPoint::PostTask, &["outer"])).await.unwrap();
    let calls: Vec<String> = h
        .commands
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.0.clone())
        .collect();
    // a subskill's output is its last step's
    assert_eq!(calls, ["echo T-1-x", "echo ran echo T-1-x in default"]);

    let f = h
        .run(&hook(HookPoint::PostTask, &["ping"]))
        .await
        .unwrap_err();
    assert!(
        f.reason.contains("cycle refused: ping → pong → ping"),
        "{}",
        f.reason
    );
    let f = h
        .run(&hook(HookPoint::PostTask, &["level1"]))
        .await
        .unwrap_err();
    assert!(
        f.reason.contains(&format!("deeper than {MAX_SKILL_DEPTH}")),
        "{}",
        f.reason
    );
}

// ----- templates and inputs ------------------------------------------------------------------

#[tokio::test]
async fn undefined_names_and_bad_templates_fail_the_step() {
    let h = Harness::new(
        vec![
            skill("typo", vec![("x", cmd("echo {{ ticket.titel }}", false))]),
            skill(
                "future",
                vec![
                    ("x", cmd("echo {{ steps.later.output }}", false)),
                    ("later", cmd("echo", false)),
                ],
            ),
            skill(
                "syntax",
                vec![("x", write("a.txt", "{% if %}", WriteMode::Overwrite))],
            ),
            skill(
                "repo",
                vec![(
                    "x",
                    cmd(
                        "{{ repo.install_command }} && {{ repo.test_command }} && {{ hook }}",
                        false,
                    ),
                )],
            ),
        ],
        json!([]),
    )
    .await;
    for name in ["typo", "future", "syntax"] {
        let f = h
            .run(&hook(HookPoint::PostTask, &[name]))
            .await
            .unwrap_err();
        assert_eq!(f.step.as_deref(), Some("x"));
        assert!(f.reason.starts_with("template "), "{name}: {}", f.reason);
    }
    assert!(h.commands.calls.lock().unwrap().is_empty());
    h.run(&hook(HookPoint::PostClone, &["repo"])).await.unwrap();
    assert_eq!(
        h.commands.calls.lock().unwrap()[0].0,
        "cargo fetch && cargo test && post_clone"
    );
}

#[tokio::test]
async fn inputs_merge_over_defaults_and_required_ones_must_be_given() {
    let mut s = skill(
        "scan",
        vec![("run", cmd("{{ inputs.scanner }} {{ inputs.level }}", false))],
    );
    s.inputs = vec![
        SkillInput {
            name: "scanner".into(),
            description: None,
            required: true,
            default: None,
        },
        SkillInput {
            name: "level".into(),
            description: None,
            required: false,
            default: Some("low".into()),
        },
    ];
    let h = Harness::new(vec![s], json!([])).await;
    let f = h
        .run(&hook(HookPoint::PostTask, &["scan"]))
        .await
        .unwrap_err();
    assert_eq!(f.step, None);
    assert!(
        f.reason.contains("required input \"scanner\" is missing"),
        "{}",
        f.reason
    );
    let mut configured = hook(HookPoint::PostTask, &["scan"]);
    configured.inputs = BTreeMap::from([("scanner".to_owned(), "semgrep".to_owned())]);
    h.run(&configured).await.unwrap();
    configured.inputs.insert("level".into(), "high".into());
    h.run(&configured).await.unwrap();
    let calls: Vec<String> = h
        .commands
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.0.clone())
        .collect();
    assert_eq!(calls, ["semgrep low", "semgrep high"]);
}

// ----- the hook ------------------------------------------------------------------------------

#[tokio::test]
async fn a_hook_past_its_timeout_fails_naming_the_running_step() {
    let h = Harness::new(
        vec![skill(
            "slow",
            vec![("first", cmd("echo", false)), ("stuck", cmd("hang", false))],
        )],
        json!([]),
    )
    .await;
    let mut short = hook(HookPoint::PostTask, &["slow"]);
    short.timeout = Duration::from_millis(300);
    let f = h.run(&short).await.unwrap_err();
    assert_eq!(f.skill, "slow");
    assert_eq!(f.step.as_deref(), Some("stuck"));
    assert!(f.reason.contains("timeout"), "{}", f.reason);
}

#[tokio::test]
async fn cancellation_stops_the_hook() {
    let h = Harness::new(
        vec![skill("slow", vec![("stuck", cmd("hang", false))])],
        json!([]),
    )
    .await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let r = run_hook(
        &h.ports,
        &h.settings,
        &hook(HookPoint::PostTask, &["slow"]),
        &h.scope(true),
        &cancel,
    )
    .await;
    assert!(matches!(r, Err(crate::PipelineError::LeaseLost)));
}

#[tokio::test]
async fn a_point_runs_its_hooks_in_order_and_stops_at_a_blocking_failure() {
    let mut h = Harness::new(
        vec![
            skill("ok", vec![("a", cmd("echo ok", false))]),
            skill("bad", vec![("a", cmd("exit 1", false))]),
            skill("after", vec![("a", cmd("echo after", false))]),
        ],
        json!([]),
    )
    .await;
    let mut soft = hook(HookPoint::PostTask, &["bad"]);
    soft.blocking = false;
    let mut elsewhere = hook(HookPoint::PostTask, &["after"]);
    elsewhere.projects = vec!["other".into()];
    h.settings.hooks = vec![
        hook(HookPoint::PrePr, &["after"]),
        soft,
        elsewhere,
        hook(HookPoint::PostTask, &["ok"]),
        hook(HookPoint::PostTask, &["bad", "after"]),
        hook(HookPoint::PostTask, &["after"]),
    ];
    let scope = h.scope(true);
    let failure = run_point(
        &h.ports,
        &h.settings,
        HookPoint::PostTask,
        &scope,
        &CancellationToken::new(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(failure.skill, "bad");
    let calls: Vec<String> = h
        .commands
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.0.clone())
        .collect();
    assert_eq!(calls, ["exit 1", "echo ok", "exit 1"]);
    let failed = h.events(EventType::HookFailed).await;
    let blocking: Vec<_> = failed
        .iter()
        .map(|e| e.details.as_ref().unwrap()["blocking"].clone())
        .collect();
    assert_eq!(blocking, [json!(false), json!(true)]);
}

#[tokio::test]
async fn an_unknown_skill_fails_the_hook() {
    let h = Harness::new(Vec::new(), json!([])).await;
    let f = h
        .run(&hook(HookPoint::PostTask, &["nope"]))
        .await
        .unwrap_err();
    assert_eq!(f.skill, "nope");
    assert!(f.reason.contains("no valid skill"), "{}", f.reason);
}

#[test]
fn both_metrics_count_runs_with_their_labels() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let h = Harness::new(
            vec![
                skill("ok", vec![("a", cmd("echo", false))]),
                skill("bad", vec![("a", cmd("exit 1", false))]),
                skill(
                    "outer",
                    vec![(
                        "s",
                        StepKind::Subskill {
                            skill: "ok".into(),
                            inputs: BTreeMap::new(),
                        },
                    )],
                ),
            ],
            json!([]),
        )
        .await;
        h.run(&hook(HookPoint::PostTask, &["ok", "bad"]))
            .await
            .unwrap_err();
        h.run(&hook(HookPoint::PrePr, &["outer"])).await.unwrap();
    });
    let mut counts = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let DebugValue::Counter(n) = value else {
            continue;
        };
        let key = key.key();
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        counts.insert(format!("{}{{{}}}", key.name(), labels.join(",")), n);
    }
    assert_eq!(counts["foreman_hook_executions_total{hook=post_task}"], 1);
    assert_eq!(counts["foreman_hook_executions_total{hook=pre_pr}"], 1);
    assert_eq!(
        counts["foreman_skill_executions_total{skill=ok,status=success}"],
        2
    );
    assert_eq!(
        counts["foreman_skill_executions_total{skill=bad,status=failure}"],
        1
    );
    assert_eq!(
        counts["foreman_skill_executions_total{skill=outer,status=success}"],
        1
    );
}

#[test]
fn install_commands_are_detected_from_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(detect_install_command(dir.path()), "");
    for (file, cmd) in [
        ("pyproject.toml", "python3 -m pip install -e ."),
        (
            "requirements.txt",
            "python3 -m pip install -r requirements.txt",
        ),
        ("go.mod", "go mod download"),
        ("Cargo.toml", "cargo fetch"),
        ("yarn.lock", "yarn install --frozen-lockfile"),
        ("package-lock.json", "npm ci"),
    ] {
        std::fs::write(dir.path().join(file), "").unwrap();
        assert_eq!(detect_install_command(dir.path()), cmd, "{file}");
    }
}

#[tokio::test]
async fn the_builtin_skills_run_through_the_executor() {
    let implementer = json!({"role": "implementer", "match": "(?s)Write one changelog line.*greet\\.py",
        "response": {"text": "- Greet the user.\n", "usage": {"input_tokens": 100, "output_tokens": 8}}});
    let mut h = Harness::new(Vec::new(), json!([implementer])).await;
    h.ports.skills = Arc::new(crate::skills::SkillFiles::new(None).with_project("default"));
    std::fs::write(h.wt.path.join("greet.py"), "print('hello')\n").unwrap();
    std::fs::write(h.wt.path.join("CHANGES.md"), "- Older entry.\n").unwrap();
    let mut changelog = hook(HookPoint::PrePr, &["changelog"]);
    changelog.inputs = BTreeMap::from([("file".to_owned(), "CHANGES.md".to_owned())]);
    h.run(&changelog).await.unwrap();
    assert_eq!(h.file("CHANGES.md"), "- Greet the user.\n- Older entry.\n");

    h.run(&hook(HookPoint::PostClone, &["dependency-install"]))
        .await
        .unwrap();
    assert_eq!(h.commands.calls.lock().unwrap()[0].0, "cargo fetch");
    let f = h
        .run(&hook(HookPoint::PostTask, &["security-scan"]))
        .await
        .unwrap_err();
    assert!(
        f.reason.contains("required input \"scanner\""),
        "{}",
        f.reason
    );
}
