//! Hooks: the skills configured for a point of the pipeline (`[[pipeline.hooks]]`), run in
//! order, each step in order, under the hook's timeout and the run's cancellation.
//!
//! Start at [`run_point`] (every hook of a point that applies to the project; the engine's
//! hook points call it) and [`run_hook`] (one hook). A step's string fields are minijinja
//! templates with strict undefined over `ticket`, `task` (at task points, else none), `diff`
//! (the worktree's change against the ticket's base, computed once when a template reads it),
//! `inputs` (the hook's inputs over the skill's defaults), `hook` (the point's name), `repo`
//! (`install_command`, `test_command`) and `steps.<id>.output` (plus `steps.<id>.exit_code`
//! after `run_command` and `steps.<id>.json` after an `llm_call` with an output schema).
//!
//! Every step goes through a port: `run_command` the sandboxed
//! [`CommandRunner`](foreman_domain::exec::CommandRunner) the gates use, `llm_call` the
//! metered [`LlmProvider`](foreman_domain::llm::LlmProvider) (budgeted, recorded in
//! `llm_calls` with the ticket and task), `file_write` the
//! [`WorktreeWriter`](foreman_domain::skill::WorktreeWriter) (the agent's path confinement),
//! `git_diff` the [`foreman_domain::git::GitRepo`], `agent` the
//! [`AgentRunner`](foreman_domain::agent::AgentRunner) with a tool allow-list and a turn cap,
//! and `subskill` the [`SkillCatalog`](foreman_domain::skill::SkillCatalog) (at most
//! [`MAX_SKILL_DEPTH`] deep, cycles refused; its output is its last step's). Each hook appends
//! `hook_started` and `hook_passed` or `hook_failed`, each step `skill_step_completed`;
//! `foreman_hook_executions_total{hook}` counts hook runs and
//! `foreman_skill_executions_total{skill,status}` skill runs (subskills included), `status`
//! being `success` or `failure`.
//!
//! Variables also carry `ticket.project`; `task` is set at `post_lint`, `post_task` and the
//! `post_clone` of a task's own worktree. An `agent` step runs at most 50 turns.
//!
//! `post_merge` runs without a worktree (the ticket's are removed once its pull request is
//! open): only `llm_call` and `subskill` steps can do anything there; the others fail with a
//! reason that says so.

mod catalog;
mod run;
pub mod schema;
mod scope;
mod template;

pub use self::catalog::StaticCatalog;
pub use self::run::{run_hook, run_point};
pub use self::scope::{
    HookFailure, HookPorts, HookScope, MAX_SKILL_DEPTH, READ_ONLY_TOOLS, detect_install_command,
};

#[cfg(test)]
mod tests;
