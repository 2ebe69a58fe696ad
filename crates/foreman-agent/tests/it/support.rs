//! Shared test support: real temporary git repositories, a recording wrapper around the
//! scripted provider, and runner construction with an explicit environment.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, ensure};
use async_trait::async_trait;
use foreman_agent::{BuiltinRunner, CommandPolicy, CommandSettings, PromptLibrary, RunnerSettings};
use foreman_domain::agent::{AgentProgress, AgentProgressSink};
use foreman_domain::llm::{LlmProvider, LlmRequest, LlmResponse, LlmResult, ProgressSink};
use foreman_llm::{Script, ScriptedProvider};
use serde_json::{Value, json};

/// Runs git in `dir` with a fixed identity.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .with_context(|| format!("git {args:?}"))?;
    ensure!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A temporary directory holding a git repository at `<tmp>/repo` with `files` committed.
pub struct Repo {
    pub tmp: tempfile::TempDir,
    pub path: PathBuf,
}

impl Repo {
    pub fn new(files: &[(&str, &str)]) -> Result<Self> {
        let tmp = tempfile::tempdir()?;
        let path = tmp.path().join("repo");
        std::fs::create_dir_all(&path)?;
        git(&path, &["init", "-q", "-b", "main"])?;
        for (name, content) in files {
            let p = path.join(name);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d)?;
            }
            std::fs::write(&p, content)?;
        }
        git(&path, &["add", "-A"])?;
        git(&path, &["commit", "-q", "-m", "initial", "--allow-empty"])?;
        Ok(Self { tmp, path })
    }

    pub fn read(&self, rel: &str) -> Result<String> {
        Ok(std::fs::read_to_string(self.path.join(rel))?)
    }
}

/// The environment commands get in tests: this process's PATH and HOME only, plus planted
/// credentials that must never reach a command.
pub fn test_env() -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".to_owned(), std::env::var("HOME").unwrap_or_default()),
    ];
    env.push((
        "ANTHROPIC_API_KEY".into(),
        "sk-ant-api03-LEAKCANARYLEAKCANARY0123456789".into(),
    ));
    env.push((
        "FOREMAN_DASHBOARD_TOKEN".into(),
        "fm_LEAKCANARY_dashboard".into(),
    ));
    env.push(("GITHUB_TOKEN".into(), "ghp_LEAKCANARY".into()));
    env
}

/// Wraps a provider and keeps every request it was sent, serialised.
pub struct Recording {
    inner: Arc<dyn LlmProvider>,
    pub requests: Mutex<Vec<LlmRequest>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn LlmProvider>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            requests: Mutex::new(Vec::new()),
        })
    }

    pub fn all_json(&self) -> String {
        let r = self.requests.lock().unwrap();
        serde_json::to_string(&*r).unwrap()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn last(&self) -> LlmRequest {
        self.requests.lock().unwrap().last().cloned().unwrap()
    }
}

#[async_trait]
impl LlmProvider for Recording {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        self.requests.lock().unwrap().push(request.clone());
        self.inner.complete_with_progress(request, progress).await
    }
}

/// A scripted provider answering the implementer with these tool calls, one per turn, in
/// order.
pub fn scripted_tools(calls: &[(&str, Value)]) -> Arc<Recording> {
    let entries: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, input))| {
            json!({
                "name": format!("step-{i}-{name}"),
                "times": 1,
                "response": {"tool_use": {"name": name, "input": input}}
            })
        })
        .collect();
    scripted(entries)
}

/// A scripted provider from raw entries.
pub fn scripted(entries: Vec<Value>) -> Arc<Recording> {
    let script = json!({"model": "scripted-model", "entries": entries});
    let script = Script::parse(&script.to_string()).expect("valid script");
    Recording::new(Arc::new(ScriptedProvider::new(script)))
}

/// Runner settings allowing `allowed` commands.
pub fn settings(allowed: &[&str]) -> RunnerSettings {
    RunnerSettings {
        commands: CommandSettings {
            allowed_commands: allowed.iter().map(|s| (*s).to_owned()).collect(),
            timeout_secs: 30,
            ..CommandSettings::default()
        },
        ..RunnerSettings::default()
    }
}

/// A built-in runner over `llm` with the test environment.
pub fn runner(llm: Arc<Recording>, settings: RunnerSettings) -> BuiltinRunner {
    let policy = CommandPolicy::with_env(settings.commands.clone(), test_env()).unwrap();
    BuiltinRunner::with_policy(llm, Arc::new(PromptLibrary::embedded()), settings, policy).unwrap()
}

/// Collects progress reports.
#[derive(Default)]
pub struct Progress(pub Mutex<Vec<AgentProgress>>);

impl AgentProgressSink for Progress {
    fn report(&self, progress: AgentProgress) {
        self.0.lock().unwrap().push(progress);
    }
}

/// Processes whose command line contains `marker` (read from /proc).
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(marker) {
                // Zombies keep their cmdline empty; a match is a live process.
                out.push(pid);
            }
        }
    }
    out
}

/// Waits up to two seconds for no process to match `marker`.
pub async fn gone(marker: &str) -> bool {
    for _ in 0..40 {
        if processes_with(marker).is_empty() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}
