//! The validation-rule gate: the project's accepted rules over a task's diff, after lint. An
//! `error` violation sends the attempt back to the implementer (like a lint failure); warnings
//! are kept in the `task_rules_pass` event (so they survive a crash) for the quality review and
//! the pull request body. Also: the rules a quality reviewer proposes, stored as `proposed`.

use std::collections::HashMap;
use std::path::{Component, Path};

use chrono::Utc;
use foreman_domain::git::Worktree;
use foreman_domain::pipeline::FailureClass;
use foreman_domain::rules::{
    self, ProposedBy, RuleProposal, RuleSet, RuleSeverity, ValidationRule, Violation, parse_diff,
};
use foreman_domain::{EventFilter, EventType, Task, TicketId};
use serde_json::json;

use super::context::Ctx;
use super::implement::{Next, TaskRun, Why, event};
use crate::error::PipelineResult;

/// Most violations an event or the feedback lists.
const MAX_LISTED: usize = 50;
/// Largest file read for a `missing` rule; a larger one is skipped.
const MAX_CONTENT: u64 = 4 << 20;

/// A changed file's content in the worktree, for `missing` rules: `None` for a path that
/// leaves the worktree (by `..`, or through a symlink anywhere on it: the worktree is
/// model-written), a symlink, or a file too large or not text.
async fn read_changed(root: &Path, rel: &str) -> Option<String> {
    let rel = Path::new(rel);
    if !rel
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return None;
    }
    let path = root.join(rel);
    let meta = tokio::fs::symlink_metadata(&path).await.ok()?;
    if !meta.is_file() || meta.len() > MAX_CONTENT {
        return None;
    }
    // a symlinked directory on the way would lead out: the resolved file must stay inside
    let (real_root, real) = (
        tokio::fs::canonicalize(root).await.ok()?,
        tokio::fs::canonicalize(&path).await.ok()?,
    );
    if !real.starts_with(&real_root) {
        return None;
    }
    String::from_utf8(tokio::fs::read(&real).await.ok()?).ok()
}

impl TaskRun {
    /// The project's accepted validation rules over the task's diff: `None` when no `error`
    /// violation is found.
    pub(super) async fn rule_gate(
        &self,
        task: &Task,
        wt: &Worktree,
    ) -> PipelineResult<Option<Next>> {
        let ctx = &self.ctx;
        let stored = rules::load_rules(ctx.store(), &ctx.project.name).await?;
        if !stored.rules.iter().any(ValidationRule::is_accepted) {
            return Ok(None);
        }
        let set = match RuleSet::enforced(&stored.rules, false) {
            Ok(set) => set,
            Err(e) => {
                // stored rules were validated on the way in; a corrupt set must not stop work
                tracing::warn!(project = %ctx.project.name, error = %e, "the stored validation rules do not compile");
                return Ok(None);
            }
        };
        let diff = self.change(wt).await?;
        let files = parse_diff(&diff);
        let mut contents = HashMap::new();
        if set.needs_content() {
            for f in files.iter().filter(|f| f.exists_after() && !f.binary) {
                if let Some(text) = read_changed(&wt.path, &f.path).await {
                    contents.insert(f.path.clone(), text);
                }
            }
        }
        let found = set.evaluate(&files, &mut |p| contents.get(p).cloned());
        let listed =
            |severity| -> Vec<&Violation> { found.of(severity).take(MAX_LISTED).collect() };
        let (errors, warnings) = (listed(RuleSeverity::Error), listed(RuleSeverity::Warning));
        if found.has_errors() {
            let total = found.of(RuleSeverity::Error).count() + found.omitted;
            ctx.emit(
                event(
                    EventType::TaskRulesFail,
                    format!(
                        "task {}: {total} validation rule violation(s)",
                        task.sequence
                    ),
                    task,
                )
                .details(json!({"violations": errors, "warnings": warnings, "total": total})),
            )
            .await;
            let mut lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            if total > lines.len() {
                lines.push(format!("… and {} more", total - lines.len()));
            }
            return Ok(Some(Next::Retry(self.feedback(
                Why::RulesFail,
                FailureClass::TestAssertion,
                json!({"violations": lines}),
            )?)));
        }
        ctx.emit(
            event(
                EventType::TaskRulesPass,
                format!(
                    "task {}: validation rules passed ({} warning(s))",
                    task.sequence,
                    warnings.len()
                ),
                task,
            )
            .details(json!({"warnings": warnings})),
        )
        .await;
        Ok(None)
    }

    /// Stores the rules the quality reviewer proposed as `proposed` (never enforced until a
    /// person accepts them), skipping a rule that checks what a stored one does, and announces
    /// each new one with `rule_proposed` (the notifier turns it into a notification). An
    /// invalid proposal is dropped with a warning: it must not fail the task.
    pub(super) async fn store_proposals(&self, task: &Task, proposals: &[serde_json::Value]) {
        let proposals: Vec<RuleProposal> = proposals
            .iter()
            .filter_map(|p| match serde_json::from_value(p.clone()) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(task = %task.id, error = %e, "a malformed rule proposal was dropped");
                    None
                }
            })
            .collect();
        if proposals.is_empty() {
            return;
        }
        let ctx = &self.ctx;
        let project = &ctx.project.name;
        let result = async {
            let stored = rules::load_rules(ctx.store(), project).await?;
            let mut list = stored.rules;
            let mut added = Vec::new();
            for p in proposals {
                let by = ProposedBy {
                    ticket_id: task.ticket_id.clone(),
                    task_id: task.id.clone(),
                };
                match rules::propose(&mut list, p, by, Utc::now()) {
                    Ok(Some(rule)) => added.push(rule),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(task = %task.id, error = %e, "a proposed validation rule was dropped");
                    }
                }
            }
            if !added.is_empty() {
                rules::save_rules(ctx.store(), project, list, stored.revision).await?;
            }
            Ok::<_, foreman_domain::StoreError>(added)
        }
        .await;
        match result {
            Ok(added) => {
                for rule in added {
                    ctx.emit(
                        event(
                            EventType::RuleProposed,
                            format!(
                                "the quality reviewer of task {} proposed rule {} ({} `{}`) for project {project}",
                                task.sequence, rule.id, rule.kind, rule.pattern
                            ),
                            task,
                        )
                        .details(json!({"project": project, "rule": rule})),
                    )
                    .await;
                }
            }
            Err(e) => {
                tracing::warn!(task = %task.id, error = %e, "cannot store proposed validation rules");
            }
        }
    }

    /// The warnings of the task's last rule gate, as lines.
    pub(super) async fn rule_warnings(&self, task: &Task) -> Vec<String> {
        self.ctx
            .rule_warnings(&task.ticket_id)
            .await
            .into_iter()
            .filter(|(id, _)| id == task.id.as_str())
            .flat_map(|(_, w)| w)
            .map(|v| v.to_string())
            .collect()
    }
}

impl Ctx {
    /// The warnings of each task's last passing rule gate on the ticket, by task id, read from
    /// the `task_rules_pass` events.
    pub(crate) async fn rule_warnings(&self, ticket: &TicketId) -> Vec<(String, Vec<Violation>)> {
        let filter = EventFilter {
            ticket_id: Some(ticket.clone()),
            types: vec![EventType::TaskRulesPass],
            limit: 1000,
            ..EventFilter::default()
        };
        let events = match self.store().list_events(&filter).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(ticket = %ticket, error = %e, "cannot read the rule warnings");
                return Vec::new();
            }
        };
        let mut last: Vec<(String, Vec<Violation>)> = Vec::new();
        for e in events {
            let Some(task) = e.task_id else { continue };
            let warnings: Vec<Violation> = e
                .details
                .as_ref()
                .and_then(|d| d.get("warnings"))
                .and_then(|w| serde_json::from_value(w.clone()).ok())
                .unwrap_or_default();
            match last.iter_mut().find(|(id, _)| id == task.as_str()) {
                Some(slot) => slot.1 = warnings,
                None => last.push((task.to_string(), warnings)),
            }
        }
        last.retain(|(_, w)| !w.is_empty());
        last
    }
}

#[cfg(test)]
mod tests {
    use super::read_changed;

    /// A `missing` rule reads changed files of a model-written worktree: a path through a
    /// symlinked directory that leads out is not read. The control: the same file reached by
    /// joining the path, as a plain read does, is the outside file.
    #[tokio::test]
    async fn a_path_through_a_symlinked_directory_out_of_the_worktree_is_not_read() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "outside").unwrap();
        let wt = tempfile::tempdir().unwrap();
        std::fs::create_dir(wt.path().join("src")).unwrap();
        std::fs::write(wt.path().join("src/lib.rs"), "inside").unwrap();
        std::os::unix::fs::symlink(outside.path(), wt.path().join("link")).unwrap();

        // control: a plain join follows the link out
        let plain = std::fs::read_to_string(wt.path().join("link/secret.txt")).unwrap();
        assert_eq!(plain, "outside");
        // the gate's read refuses it, and still reads the worktree's own files
        assert_eq!(read_changed(wt.path(), "link/secret.txt").await, None);
        assert_eq!(read_changed(wt.path(), "../secret.txt").await, None);
        assert_eq!(
            read_changed(wt.path(), "src/lib.rs").await.as_deref(),
            Some("inside")
        );
    }
}
