//! The planner's structured output and its validation.

use std::collections::{BTreeMap, BTreeSet};

use foreman_domain::NewTask;
use serde::{Deserialize, Serialize};

/// What the planner returns (through a forced tool call, so it is always JSON of this shape).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Plan {
    /// One-paragraph approach.
    pub summary: String,
    /// The tasks, in order.
    pub tasks: Vec<PlannedTask>,
    /// The ticket is too large for one pull request and should be split.
    pub too_large: bool,
    /// When `too_large`: the child tickets to create.
    pub children: Vec<ChildTicket>,
}

/// One planned task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PlannedTask {
    /// 1-based position.
    pub sequence: i32,
    /// Title.
    pub title: String,
    /// What to do.
    pub description: String,
    /// How to tell it is done.
    pub acceptance_criteria: String,
    /// What the new tests must assert.
    pub test_assertions: Vec<String>,
    /// Files to read for context.
    pub files_to_read: Vec<String>,
    /// Files expected to change.
    pub files_to_modify: Vec<String>,
    /// 1 (trivial) to 5 (large).
    pub complexity: i32,
    /// Sequences this task needs first.
    pub depends_on: Vec<i32>,
}

/// A child ticket proposed by decomposition.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChildTicket {
    /// Title.
    pub title: String,
    /// Body.
    pub description: String,
    /// Acceptance criteria.
    pub acceptance_criteria: String,
}

/// Limits a plan must respect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLimits {
    /// Most tasks in one plan.
    pub max_tasks: usize,
}

impl Default for PlanLimits {
    fn default() -> Self {
        Self { max_tasks: 12 }
    }
}

/// One thing wrong with a plan, phrased for the planner to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// No tasks and no decomposition.
    #[error("the plan has no tasks")]
    Empty,
    /// More tasks than allowed.
    #[error(
        "the plan has {count} tasks; at most {max} are allowed (mark it too_large to split the ticket instead)"
    )]
    TooManyTasks {
        /// Tasks given.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// Sequences are not exactly 1..=n.
    #[error("task sequences must be 1..={n} with no gaps or repeats; got {got:?}")]
    BadSequences {
        /// Number of tasks.
        n: usize,
        /// Sequences given.
        got: Vec<i32>,
    },
    /// A task without a title or description.
    #[error("task {sequence} needs a title and a description")]
    MissingText {
        /// Which task.
        sequence: i32,
    },
    /// A dependency on a task that does not exist.
    #[error("task {sequence} depends on unknown task {dependency}")]
    UnknownDependency {
        /// Which task.
        sequence: i32,
        /// The missing dependency.
        dependency: i32,
    },
    /// Dependencies form a cycle.
    #[error("tasks {cycle:?} depend on each other in a cycle")]
    Cycle {
        /// The tasks involved.
        cycle: Vec<i32>,
    },
    /// A path outside the repository or into git internals.
    #[error("task {sequence}: path {path:?} is not a relative path inside the repository")]
    BadPath {
        /// Which task.
        sequence: i32,
        /// The path.
        path: String,
    },
    /// A file to read that does not exist (and is not created by an earlier task).
    #[error("task {sequence}: {path:?} does not exist in the repository")]
    MissingFile {
        /// Which task.
        sequence: i32,
        /// The path.
        path: String,
    },
    /// Decomposition without children.
    #[error("the plan is marked too_large but proposes no child tickets")]
    NoChildren,
}

/// Whether `path` is relative, stays inside the repository and avoids `.git`.
#[must_use]
pub fn is_safe_repo_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.starts_with('\\')
        && !path.contains('\0')
        && !path.contains(':')
        && path
            .split(['/', '\\'])
            .all(|part| part != ".." && part != ".git")
}

impl Plan {
    /// Every problem with the plan (empty when valid). `exists` says whether a file is in the
    /// repository; files a task modifies count as existing for later tasks.
    pub fn validate(&self, limits: &PlanLimits, exists: impl Fn(&str) -> bool) -> Vec<PlanError> {
        let mut errors = Vec::new();
        if self.too_large {
            if self.children.is_empty() {
                errors.push(PlanError::NoChildren);
            }
            return errors;
        }
        if self.tasks.is_empty() {
            errors.push(PlanError::Empty);
            return errors;
        }
        if self.tasks.len() > limits.max_tasks {
            errors.push(PlanError::TooManyTasks {
                count: self.tasks.len(),
                max: limits.max_tasks,
            });
        }
        let mut seqs: Vec<i32> = self.tasks.iter().map(|t| t.sequence).collect();
        seqs.sort_unstable();
        let expected: Vec<i32> =
            (1..=i32::try_from(self.tasks.len()).unwrap_or(i32::MAX)).collect();
        if seqs != expected {
            errors.push(PlanError::BadSequences {
                n: self.tasks.len(),
                got: seqs.clone(),
            });
        }
        let known: BTreeSet<i32> = seqs.iter().copied().collect();
        let mut created: BTreeSet<&str> = BTreeSet::new();
        let mut ordered: Vec<&PlannedTask> = self.tasks.iter().collect();
        ordered.sort_by_key(|t| t.sequence);
        for t in &ordered {
            if t.title.trim().is_empty() || t.description.trim().is_empty() {
                errors.push(PlanError::MissingText {
                    sequence: t.sequence,
                });
            }
            for &d in &t.depends_on {
                if !known.contains(&d) || d == t.sequence {
                    errors.push(PlanError::UnknownDependency {
                        sequence: t.sequence,
                        dependency: d,
                    });
                }
            }
            for path in t.files_to_read.iter().chain(&t.files_to_modify) {
                if !is_safe_repo_path(path) {
                    errors.push(PlanError::BadPath {
                        sequence: t.sequence,
                        path: path.clone(),
                    });
                }
            }
            for path in &t.files_to_read {
                if is_safe_repo_path(path) && !exists(path) && !created.contains(path.as_str()) {
                    errors.push(PlanError::MissingFile {
                        sequence: t.sequence,
                        path: path.clone(),
                    });
                }
            }
            created.extend(t.files_to_modify.iter().map(String::as_str));
        }
        if let Some(cycle) = find_cycle(&self.tasks) {
            errors.push(PlanError::Cycle { cycle });
        }
        errors
    }

    /// The tasks to store.
    #[must_use]
    pub fn to_new_tasks(&self) -> Vec<NewTask> {
        self.tasks
            .iter()
            .map(|t| {
                let mut description = t.description.clone();
                if !t.test_assertions.is_empty() {
                    description.push_str("\n\nTests must assert:\n");
                    for a in &t.test_assertions {
                        description.push_str("- ");
                        description.push_str(a);
                        description.push('\n');
                    }
                }
                let mut files: Vec<String> = t.files_to_modify.clone();
                for f in &t.files_to_read {
                    if !files.contains(f) {
                        files.push(f.clone());
                    }
                }
                NewTask {
                    sequence: t.sequence,
                    title: t.title.clone(),
                    description,
                    acceptance_criteria: t.acceptance_criteria.clone(),
                    depends_on: t.depends_on.clone(),
                    files,
                    complexity: t.complexity.clamp(1, 5),
                }
            })
            .collect()
    }

    /// The JSON Schema of the planner's forced tool input.
    #[must_use]
    pub fn json_schema() -> serde_json::Value {
        let strings = serde_json::json!({"type": "array", "items": {"type": "string"}});
        serde_json::json!({
            "type": "object",
            "required": ["summary", "tasks"],
            "properties": {
                "summary": {"type": "string"},
                "too_large": {"type": "boolean"},
                "children": {"type": "array", "items": {
                    "type": "object",
                    "required": ["title", "description"],
                    "properties": {
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "acceptance_criteria": {"type": "string"}
                    }
                }},
                "tasks": {"type": "array", "items": {
                    "type": "object",
                    "required": ["sequence", "title", "description"],
                    "properties": {
                        "sequence": {"type": "integer", "minimum": 1},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "acceptance_criteria": {"type": "string"},
                        "test_assertions": strings,
                        "files_to_read": strings,
                        "files_to_modify": strings,
                        "complexity": {"type": "integer", "minimum": 1, "maximum": 5},
                        "depends_on": {"type": "array", "items": {"type": "integer"}}
                    }
                }}
            }
        })
    }
}

/// A cycle among the tasks' dependencies, if any (ignoring unknown dependencies).
fn find_cycle(tasks: &[PlannedTask]) -> Option<Vec<i32>> {
    let deps: BTreeMap<i32, &[i32]> = tasks
        .iter()
        .map(|t| (t.sequence, t.depends_on.as_slice()))
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        n: i32,
        deps: &BTreeMap<i32, &[i32]>,
        marks: &mut BTreeMap<i32, Mark>,
        stack: &mut Vec<i32>,
    ) -> Option<Vec<i32>> {
        match marks.get(&n) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|&s| s == n).unwrap_or(0);
                return Some(stack[start..].to_vec());
            }
            None => {}
        }
        marks.insert(n, Mark::Visiting);
        stack.push(n);
        for &d in deps.get(&n).copied().unwrap_or_default() {
            if deps.contains_key(&d)
                && let Some(c) = visit(d, deps, marks, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(n, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for &n in deps.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(n, &deps, &mut marks, &mut stack) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(seq: i32, deps: &[i32]) -> PlannedTask {
        PlannedTask {
            sequence: seq,
            title: format!("t{seq}"),
            description: "do it".into(),
            depends_on: deps.to_vec(),
            complexity: 2,
            ..Default::default()
        }
    }

    fn plan(tasks: Vec<PlannedTask>) -> Plan {
        Plan {
            summary: "s".into(),
            tasks,
            ..Default::default()
        }
    }

    #[test]
    fn a_good_plan_passes() {
        let mut t1 = task(1, &[]);
        t1.files_to_modify = vec!["src/new.rs".into()];
        let mut t2 = task(2, &[1]);
        t2.files_to_read = vec!["src/lib.rs".into(), "src/new.rs".into()];
        let p = plan(vec![t1, t2]);
        assert_eq!(
            p.validate(&PlanLimits::default(), |f| f == "src/lib.rs"),
            vec![]
        );
        let stored = p.to_new_tasks();
        assert_eq!(stored[1].depends_on, vec![1]);
        assert_eq!(
            stored[1].files,
            vec!["src/lib.rs".to_owned(), "src/new.rs".to_owned()]
        );
    }

    #[test]
    fn finds_every_kind_of_problem() {
        let limits = PlanLimits { max_tasks: 2 };
        assert_eq!(
            plan(vec![]).validate(&limits, |_| true),
            vec![PlanError::Empty]
        );

        let errs = plan(vec![task(1, &[]), task(2, &[]), task(4, &[])]).validate(&limits, |_| true);
        assert!(
            errs.iter()
                .any(|e| matches!(e, PlanError::TooManyTasks { count: 3, max: 2 }))
        );
        assert!(
            errs.iter()
                .any(|e| matches!(e, PlanError::BadSequences { .. }))
        );

        let errs = plan(vec![task(1, &[2]), task(2, &[1])]).validate(&limits, |_| true);
        assert!(
            errs.iter().any(|e| matches!(e, PlanError::Cycle { .. })),
            "{errs:?}"
        );

        let errs = plan(vec![task(1, &[7]), task(2, &[2])]).validate(&limits, |_| true);
        assert!(errs.contains(&PlanError::UnknownDependency {
            sequence: 1,
            dependency: 7
        }));
        assert!(errs.contains(&PlanError::UnknownDependency {
            sequence: 2,
            dependency: 2
        }));

        let mut bad = task(1, &[]);
        bad.files_to_modify = vec!["../etc/passwd".into(), "/abs".into(), ".git/config".into()];
        bad.files_to_read = vec!["missing.rs".into()];
        bad.title = " ".into();
        let errs = plan(vec![bad]).validate(&limits, |_| false);
        assert_eq!(
            errs.iter()
                .filter(|e| matches!(e, PlanError::BadPath { .. }))
                .count(),
            3
        );
        assert!(errs.contains(&PlanError::MissingFile {
            sequence: 1,
            path: "missing.rs".into()
        }));
        assert!(errs.contains(&PlanError::MissingText { sequence: 1 }));

        let p = Plan {
            too_large: true,
            ..Default::default()
        };
        assert_eq!(p.validate(&limits, |_| true), vec![PlanError::NoChildren]);
    }

    #[test]
    fn error_messages_tell_the_planner_what_to_fix() {
        let e = PlanError::UnknownDependency {
            sequence: 2,
            dependency: 9,
        };
        assert_eq!(e.to_string(), "task 2 depends on unknown task 9");
    }

    #[test]
    fn paths() {
        for ok in ["src/a.rs", "a", "dir/sub/file.txt", "x..y"] {
            assert!(is_safe_repo_path(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc",
            "../x",
            "a/../../b",
            ".git/hooks/pre-commit",
            "C:\\x",
            "a\\..\\b",
        ] {
            assert!(!is_safe_repo_path(bad), "{bad}");
        }
    }

    #[test]
    fn parses_planner_json() {
        let p: Plan = serde_json::from_value(serde_json::json!({
            "summary": "two steps",
            "tasks": [
                {"sequence": 1, "title": "a", "description": "b", "files_to_modify": ["x.py"]},
                {"sequence": 2, "title": "c", "description": "d", "depends_on": [1], "complexity": 9}
            ]
        }))
        .unwrap();
        assert_eq!(p.tasks.len(), 2);
        assert_eq!(p.to_new_tasks()[1].complexity, 5);
        assert!(Plan::json_schema()["properties"]["tasks"].is_object());
    }
}
