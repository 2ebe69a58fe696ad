//! Skills and hook points: the pipeline's extension model.
//!
//! A **skill** is a small declarative workflow read from a `SKILL.md` file (YAML front matter:
//! name, description, hook points, inputs and steps; the Markdown body documents it). Skills
//! are discovered in a project's repository (`.foreman/skills/*/SKILL.md`, as committed on its
//! default branch), in the data directory (`<data_dir>/skills/*/SKILL.md`) and built in; a
//! [`SkillCatalog`] lists and resolves them. A **hook** ([`HookConfig`]) runs the skills
//! configured for one [`HookPoint`] of the pipeline, in order, with a timeout and a
//! `blocking` flag.
//!
//! This module holds the data model only; parsing is [`parse`], running is the pipeline's.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod parse;

/// Where in the pipeline a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPoint {
    /// A worktree is ready (e.g. install dependencies).
    PostClone,
    /// Before the planner is asked for a plan.
    PrePlan,
    /// After a task's gates (tests, lint, rules) pass, before its reviews.
    PostTask,
    /// After a task's lint gate.
    PostLint,
    /// After the full suite, before the pull request is opened (e.g. a changelog entry).
    PrePr,
    /// After the pull request is opened.
    PostPr,
    /// After the pull request is merged.
    PostMerge,
}

impl HookPoint {
    /// Every hook point, in pipeline order.
    pub const ALL: [Self; 7] = [
        Self::PostClone,
        Self::PrePlan,
        Self::PostTask,
        Self::PostLint,
        Self::PrePr,
        Self::PostPr,
        Self::PostMerge,
    ];

    /// The wire name (`post_clone`, ...), also the `hook` label of
    /// `foreman_hook_executions_total`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PostClone => "post_clone",
            Self::PrePlan => "pre_plan",
            Self::PostTask => "post_task",
            Self::PostLint => "post_lint",
            Self::PrePr => "pre_pr",
            Self::PostPr => "post_pr",
            Self::PostMerge => "post_merge",
        }
    }
}

impl fmt::Display for HookPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hook point name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown hook point {0:?} (expected one of post_clone, pre_plan, post_task, post_lint, pre_pr, post_pr, post_merge)"
)]
pub struct UnknownHookPoint(pub String);

impl FromStr for HookPoint {
    type Err = UnknownHookPoint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownHookPoint(s.to_owned()))
    }
}

/// One input a skill takes (from the hook's configuration or a parent skill's `subskill` step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillInput {
    /// The name templates address it by (`{{ inputs.<name> }}`).
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether a run without it (and without a default) is refused.
    #[serde(default)]
    pub required: bool,
    /// Its value when none is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// How `file_write` puts its content into the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Replace the file (create it when missing).
    #[default]
    Overwrite,
    /// Add at the end.
    Append,
    /// Add at the start.
    Prepend,
}

/// What one step does. Every string field except `id` is a template (minijinja, the prompt
/// library's engine) over `ticket`, `task`, `diff`, `inputs`, `hook` and `steps.<id>.output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepKind {
    /// A command line run in the sandbox, in the worktree.
    RunCommand {
        /// The command line.
        command: String,
        /// A non-zero exit does not fail the step (its output is still recorded).
        #[serde(default)]
        allow_failure: bool,
        /// Seconds before it is killed (default: the hook's remaining time).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_secs: Option<u64>,
    },
    /// One metered, budgeted LLM call.
    LlmCall {
        /// The role whose model answers (`implementer`, `quality-reviewer`, ...).
        #[serde(default = "default_llm_role")]
        role: String,
        /// The prompt.
        template: String,
        /// When present, the answer must be JSON valid against this JSON Schema (a subset:
        /// `type`, `properties`, `required`, `items`, `enum`); the step fails otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_schema: Option<serde_json::Value>,
        /// Most tokens of the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_tokens: Option<u32>,
    },
    /// Writes a file inside the worktree, through the agent's path confinement.
    FileWrite {
        /// The path, relative to the worktree.
        path: String,
        /// What to write.
        content: String,
        /// How.
        #[serde(default)]
        mode: WriteMode,
    },
    /// The worktree's diff against the ticket's base (or `base`), as the step's output.
    GitDiff {
        /// The revision to diff against (default: the ticket's base branch).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<String>,
    },
    /// A bounded run of the coding agent.
    Agent {
        /// The instructions.
        instructions: String,
        /// The tools it may use (empty: the agent's read-only tools).
        #[serde(default)]
        tools: Vec<String>,
        /// Most turns.
        #[serde(default = "default_agent_turns")]
        max_turns: u32,
    },
    /// Another skill, with inputs (templates).
    Subskill {
        /// Its name.
        skill: String,
        /// Its inputs.
        #[serde(default)]
        inputs: BTreeMap<String, String>,
    },
}

fn default_llm_role() -> String {
    "implementer".to_owned()
}

const fn default_agent_turns() -> u32 {
    10
}

impl StepKind {
    /// The wire name of the step type (`run_command`, ...).
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::RunCommand { .. } => "run_command",
            Self::LlmCall { .. } => "llm_call",
            Self::FileWrite { .. } => "file_write",
            Self::GitDiff { .. } => "git_diff",
            Self::Agent { .. } => "agent",
            Self::Subskill { .. } => "subskill",
        }
    }
}

/// One step of a skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillStep {
    /// Its id, unique in the skill; later steps read its output as `steps.<id>.output`.
    pub id: String,
    /// What it does.
    #[serde(flatten)]
    pub kind: StepKind,
}

/// A parsed, valid skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skill {
    /// Its name (`[a-z0-9][a-z0-9_-]{0,63}`), unique per source.
    pub name: String,
    /// What it does.
    pub description: String,
    /// The hook points it is meant for (informative: hooks name skills explicitly).
    #[serde(default)]
    pub hooks: Vec<HookPoint>,
    /// Its inputs.
    #[serde(default)]
    pub inputs: Vec<SkillInput>,
    /// Its steps, run in order.
    pub steps: Vec<SkillStep>,
    /// The Markdown body after the front matter.
    #[serde(default)]
    pub body: String,
}

/// Where a skill was found. A repository skill shadows a data-directory one of the same name,
/// which shadows a built-in one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkillSource {
    /// `.foreman/skills/<name>/SKILL.md` in the project's repository (its default branch).
    Repository,
    /// `<data_dir>/skills/<name>/SKILL.md`.
    DataDir,
    /// Built into the binary.
    Builtin,
}

impl SkillSource {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Repository => "repository",
            Self::DataDir => "data_dir",
            Self::Builtin => "builtin",
        }
    }
}

/// Why a skill file could not be loaded: the file, the line (1-based, when known) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillProblem {
    /// The file (a path, or `builtin:<name>`).
    pub file: String,
    /// The 1-based line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for SkillProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

/// One skill file as discovered: the skill when it is valid, the problems when not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveredSkill {
    /// The skill's name (its directory's name when the file could not be parsed).
    pub name: String,
    /// Where it was found.
    pub source: SkillSource,
    /// The project whose repository holds it (repository skills only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The file.
    pub path: String,
    /// The skill, when it parsed and validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<Skill>,
    /// Why it did not (empty when it did).
    #[serde(default)]
    pub problems: Vec<SkillProblem>,
    /// Whether a skill of the same name from a source of higher precedence hides it.
    #[serde(default)]
    pub shadowed: bool,
}

/// The skills configured for one hook point (`[[pipeline.hooks]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookConfig {
    /// Where it runs.
    pub point: HookPoint,
    /// The skills it runs, in order.
    pub skills: Vec<String>,
    /// Inputs handed to each of its skills.
    pub inputs: BTreeMap<String, String>,
    /// The whole hook's time limit.
    pub timeout: Duration,
    /// A failing blocking hook fails the step (with feedback, like a failing gate); a failing
    /// non-blocking one records `hook_failed` and the pipeline goes on.
    pub blocking: bool,
    /// The projects it applies to (empty: every project).
    pub projects: Vec<String>,
}

impl HookConfig {
    /// Whether it applies to `project`.
    #[must_use]
    pub fn applies_to(&self, project: &str) -> bool {
        self.projects.is_empty() || self.projects.iter().any(|p| p == project)
    }
}

/// Lists and resolves skills: built in, from the data directory, from each project's
/// repository.
#[async_trait]
pub trait SkillCatalog: Send + Sync {
    /// Every skill file found (valid or not), for `project`'s repository and the shared
    /// sources, or for every project when `None`. Never fails: an unreadable source is reported
    /// as a [`SkillProblem`] of a [`DiscoveredSkill`].
    async fn discover(&self, project: Option<&str>) -> Vec<DiscoveredSkill>;

    /// The valid skill named `name` as `project` sees it (repository first, then the data
    /// directory, then built in).
    async fn resolve(&self, project: &str, name: &str) -> Option<Skill>;

    /// Whether `project` is a project this catalog serves (`GET /api/skills?project=` answers
    /// 404 for one it does not). The default knows every project.
    fn knows_project(&self, project: &str) -> bool {
        let _ = project;
        true
    }
}

/// Writes files inside a worktree through the agent's path confinement (no `..`, no absolute
/// paths, no symlink that leads out, nothing under `.git`): the `file_write` step's port.
#[async_trait]
pub trait WorktreeWriter: Send + Sync {
    /// Writes `content` to `path` (relative to `root`) as `mode` says.
    ///
    /// # Errors
    /// The path escapes the worktree or the write failed; the message says which.
    async fn write(
        &self,
        root: &std::path::Path,
        path: &str,
        content: &str,
        mode: WriteMode,
    ) -> Result<(), String>;
}
