//! What a hook runs with and reports: its ports, its scope, its failure, and the facts about a
//! checkout its templates read.

use std::path::Path;
use std::sync::Arc;

use foreman_domain::EventLog;
use foreman_domain::agent::AgentRunner;
use foreman_domain::exec::CommandRunner;
use foreman_domain::git::{GitRepo, Worktree};
use foreman_domain::llm::LlmProvider;
use foreman_domain::skill::{SkillCatalog, WorktreeWriter};
use foreman_domain::{Task, Ticket};

use crate::settings::Ports;

/// How deep `subskill` steps may nest (the hook's own skill is depth 1).
pub const MAX_SKILL_DEPTH: usize = 4;

/// The tools an `agent` step gets when its skill names none: the built-in agent's read-only
/// ones.
pub const READ_ONLY_TOOLS: &[&str] = &["read_file", "list_dir", "glob", "grep", "git_diff"];

/// The ports a hook's steps go through.
#[derive(Clone)]
pub struct HookPorts {
    /// `run_command`.
    pub commands: Arc<dyn CommandRunner>,
    /// `llm_call` (metered).
    pub llm: Arc<dyn LlmProvider>,
    /// `agent`.
    pub agent: Arc<dyn AgentRunner>,
    /// `file_write`.
    pub files: Arc<dyn WorktreeWriter>,
    /// `subskill`, and the skills a hook names.
    pub skills: Arc<dyn SkillCatalog>,
    /// Where hook and step events go.
    pub events: Arc<dyn EventLog>,
}

impl HookPorts {
    /// The hook ports of the engine's ports.
    #[must_use]
    pub fn of(ports: &Ports) -> Self {
        Self {
            commands: ports.commands.clone(),
            llm: ports.llm.clone(),
            agent: ports.agent.clone(),
            files: ports.files.clone(),
            skills: ports.skills.clone(),
            events: ports.events.clone(),
        }
    }
}

impl std::fmt::Debug for HookPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookPorts").finish_non_exhaustive()
    }
}

/// Where a hook runs: the project, the ticket (and task), the worktree and what its change is
/// compared with.
#[derive(Clone, Copy)]
pub struct HookScope<'a> {
    /// The project (which hooks apply, and whose repository skills resolve).
    pub project: &'a str,
    /// The ticket.
    pub ticket: &'a Ticket,
    /// The task, at task points.
    pub task: Option<&'a Task>,
    /// The repository and the worktree the steps work in (`None` at `post_merge`).
    pub worktree: Option<(&'a dyn GitRepo, &'a Worktree)>,
    /// The ref the ticket's change is diffed against (`origin/<default branch>`).
    pub base: &'a str,
    /// The project's test command (`repo.test_command`).
    pub test_command: &'a str,
}

impl std::fmt::Debug for HookScope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookScope")
            .field("project", &self.project)
            .field("ticket", &self.ticket.id)
            .field("worktree", &self.worktree.map(|(_, w)| &w.path))
            .finish_non_exhaustive()
    }
}

/// Why a hook failed: the skill and step, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFailure {
    /// The skill that failed.
    pub skill: String,
    /// Its step, when one failed (not for a missing skill or input).
    pub step: Option<String>,
    /// What went wrong.
    pub reason: String,
}

impl std::fmt::Display for HookFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.step {
            Some(step) => write!(f, "skill {} step {step}: {}", self.skill, self.reason),
            None => write!(f, "skill {}: {}", self.skill, self.reason),
        }
    }
}

/// The command that installs a checkout's dependencies, guessed from the files at its top
/// (`package-lock.json`, `yarn.lock`, `Cargo.toml`, `go.mod`, `requirements.txt`,
/// `pyproject.toml`, in that order); empty when none is found.
#[must_use]
pub fn detect_install_command(root: &Path) -> String {
    let has = |f: &str| root.join(f).is_file();
    let cmd = if has("package-lock.json") {
        "npm ci"
    } else if has("yarn.lock") {
        "yarn install --frozen-lockfile"
    } else if has("Cargo.toml") {
        "cargo fetch"
    } else if has("go.mod") {
        "go mod download"
    } else if has("requirements.txt") {
        "python3 -m pip install -r requirements.txt"
    } else if has("pyproject.toml") {
        "python3 -m pip install -e ."
    } else {
        ""
    };
    cmd.to_owned()
}
