//! The commit gate: what a task's approved change must pass before it is committed — the
//! commit path policy over the paths it adds or changes, and no secret on the lines it adds.
//! A refusal goes back to the implementer like a failing gate. (`foreman-git` checks the
//! staged paths again when committing, whatever this gate decided.)

use foreman_domain::commit_policy::{CommitRules, check_commit};
use foreman_domain::pipeline::FailureClass;
use foreman_domain::{EventType, Task};
use foreman_secrets::{DiffFinding, SECRETS_DETECTED_TOTAL, Where};
use serde_json::json;

use super::implement::{Feedback, TaskRun, Why, event};
use crate::error::PipelineResult;

/// The secrets the lines of `diff` add, found on the blocking pool (the scan is regex work
/// over up to the whole diff).
pub(super) async fn secrets_in(diff: &str) -> Vec<DiffFinding> {
    let diff = diff.to_owned();
    tokio::task::spawn_blocking(move || foreman_secrets::scan_diff(&diff))
        .await
        .unwrap_or_default()
}

/// The paths a unified diff adds or changes (its `+++` headers; deleted files have none).
pub(super) fn changed_paths(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter_map(|l| l.strip_prefix("+++ "))
        .map(|p| p.trim_end_matches(['\r', '\t']).trim_matches('"'))
        .filter(|p| *p != "/dev/null")
        .map(|p| p.strip_prefix("b/").unwrap_or(p))
        .collect()
}

/// The commit rules of a task: the files its plan declared (to read or to change; a directory
/// with a trailing `/` or a glob covers what the plan could not name in advance) and the
/// default test patterns. Anything else is refused — unless the plan declared no files at all
/// for the task, which leaves its scope open. Secret files are always refused.
fn commit_rules(task: &Task) -> CommitRules {
    CommitRules::new(task.files.iter().cloned()).with_extra(task.files.is_empty())
}

/// `path:line (rule)` of each finding: where the secret is, never its value.
pub(super) fn describe(findings: &[DiffFinding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{}:{} ({})", f.path, f.line, f.rule_id))
        .collect()
}

impl TaskRun {
    /// Whether the commit gate would let `diff` through (the commit path policy and no added
    /// secret), checked silently: a checkpoint commits the implementer's work only then, so
    /// what the gate refuses never enters the task branch's history, where the final push
    /// would carry it to the remote.
    pub(super) async fn gate_would_pass(&self, task: &Task, diff: &str) -> bool {
        check_commit(changed_paths(diff), &commit_rules(task)).is_empty()
            && secrets_in(diff).await.is_empty()
    }

    /// Checks the task's change before its commit: the commit path policy, then the secrets its
    /// diff adds. `None` lets the commit go on; otherwise the feedback to send the attempt back
    /// with, failing the task as `sandbox_violation` or `secret` when the attempts run out.
    pub(super) async fn commit_gate(
        &self,
        task: &Task,
        diff: &str,
    ) -> PipelineResult<Option<Feedback>> {
        let violations = check_commit(changed_paths(diff), &commit_rules(task));
        if !violations.is_empty() {
            let refused: Vec<String> = violations.iter().map(ToString::to_string).collect();
            return Ok(Some(self.feedback(
                Why::CommitPolicy,
                FailureClass::SandboxViolation,
                json!({"violations": refused}),
            )?));
        }
        let findings = secrets_in(diff).await;
        if findings.is_empty() {
            return Ok(None);
        }
        let places = describe(&findings);
        metrics::counter!(SECRETS_DETECTED_TOTAL, "where" => Where::Commit.as_str())
            .increment(findings.len() as u64);
        self.ctx
            .emit(
                event(
                    EventType::SecretsDetected,
                    format!(
                        "task {}: the change adds {} secret(s); not committed",
                        task.sequence,
                        findings.len()
                    ),
                    task,
                )
                .details(json!({"where": Where::Commit.as_str(), "findings": places})),
            )
            .await;
        Ok(Some(self.feedback(
            Why::Secret,
            FailureClass::Secret,
            json!({"findings": places}),
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_sees_added_and_changed_paths_and_refuses_secret_files() {
        let diff = "diff --git a/src/a.py b/src/a.py\n--- a/src/a.py\n+++ b/src/a.py\n@@ -1 +1 @@\n-a\n+b\ndiff --git a/.env b/.env\nnew file mode 100644\n--- /dev/null\n+++ b/.env\n@@ -0,0 +1 @@\n+X=1\ndiff --git a/old.pem b/old.pem\ndeleted file mode 100644\n--- a/old.pem\n+++ /dev/null\n@@ -1 +0,0 @@\n-k\n";
        assert_eq!(changed_paths(diff), ["src/a.py", ".env"]);
        let task = Task::from_new(
            foreman_domain::TicketId::default(),
            foreman_domain::NewTask {
                sequence: 1,
                title: "a".into(),
                description: String::new(),
                acceptance_criteria: String::new(),
                depends_on: Vec::new(),
                files: vec!["src/a.py".into()],
                complexity: 1,
            },
            foreman_domain::now(),
        );
        let refused = check_commit(changed_paths(diff), &commit_rules(&task));
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].path(), ".env");
        // control: the declared file and a test pass
        let control = check_commit(["src/a.py", "tests/test_a.py"], &commit_rules(&task));
        assert!(control.is_empty(), "{control:?}");
        // a file the plan did not declare is refused ...
        let undeclared = check_commit(["src/a.py", "src/b.py"], &commit_rules(&task));
        assert_eq!(undeclared.len(), 1, "{undeclared:?}");
        assert_eq!(undeclared[0].path(), "src/b.py");
        // ... unless the plan declared its directory
        let mut wide = task.clone();
        wide.files.push("src/".into());
        let allowed = check_commit(["src/a.py", "src/b.py"], &commit_rules(&wide));
        assert!(allowed.is_empty(), "{allowed:?}");
        // a plan that names no files for the task leaves its scope open, secrets excepted
        let mut open = task.clone();
        open.files.clear();
        let any = check_commit(["src/a.py", "src/b.py", ".env"], &commit_rules(&open));
        assert_eq!(any.len(), 1, "{any:?}");
        assert_eq!(any[0].path(), ".env");
    }

    fn diff_adding(line: &str) -> String {
        format!(
            "diff --git a/src/config.py b/src/config.py\n--- a/src/config.py\n+++ b/src/config.py\n@@ -1,2 +1,3 @@\n import os\n+{line}\n TIMEOUT = 3\n"
        )
    }

    #[tokio::test]
    async fn a_token_the_change_adds_is_found_and_described_without_its_value() {
        let token = format!("ghp_{}", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5");
        let control = secrets_in(&diff_adding("NAME = 'calc'")).await;
        assert!(control.is_empty(), "{control:?}");
        let found = secrets_in(&diff_adding(&format!("NAME = '{token}'"))).await;
        let places = describe(&found);
        assert_eq!(places, ["src/config.py:2 (github_token)"]);
        assert!(!places.concat().contains(&token));
    }

    #[tokio::test]
    async fn a_secret_the_change_removes_is_not_a_finding() {
        let token = format!("ghp_{}", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5");
        let diff = format!(
            "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,1 @@\n-TOKEN = '{token}'\n x = 1\n"
        );
        assert!(secrets_in(&diff).await.is_empty());
    }
}
