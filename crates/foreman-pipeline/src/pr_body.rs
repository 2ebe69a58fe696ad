//! The pull request's title and body.

use std::fmt::Write as _;

use foreman_domain::rules::Violation;
use foreman_domain::{Task, TaskStatus, Ticket};

/// Evidence from the test runs, for the body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestEvidence {
    /// Command of the full suite.
    pub command: String,
    /// Whether it passed.
    pub passed: bool,
    /// The last lines of its output.
    pub summary: String,
}

/// The pull request title: `[PARTIAL] ` when only some tasks landed.
#[must_use]
pub fn title(ticket: &Ticket, partial: bool) -> String {
    let base = if ticket.external_id.is_empty() {
        ticket.title.clone()
    } else {
        format!("{}: {}", ticket.external_id, ticket.title)
    };
    if partial {
        format!("[PARTIAL] {base}")
    } else {
        base
    }
}

/// The pull request body: ticket link, task checklist, test evidence and cost summary.
#[must_use]
pub fn body(
    ticket: &Ticket,
    ticket_url: Option<&str>,
    tasks: &[Task],
    evidence: &TestEvidence,
) -> String {
    let mut b = String::new();
    match ticket_url {
        Some(url) => {
            let _ = writeln!(
                b,
                "Resolves [{}]({url}): {}\n",
                ticket.external_id, ticket.title
            );
        }
        None => {
            let _ = writeln!(b, "Resolves {}: {}\n", ticket.external_id, ticket.title);
        }
    }
    if !ticket.acceptance_criteria.trim().is_empty() {
        let _ = writeln!(
            b,
            "### Acceptance criteria\n\n{}\n",
            ticket.acceptance_criteria.trim()
        );
    }
    let _ = writeln!(b, "### Tasks\n");
    let mut sorted: Vec<&Task> = tasks.iter().collect();
    sorted.sort_by_key(|t| t.sequence);
    for t in sorted {
        let mark = if t.status == TaskStatus::Done {
            "x"
        } else {
            " "
        };
        let note = match (t.status, &t.commit_sha) {
            (TaskStatus::Done, Some(sha)) => format!(" ({})", &sha[..sha.len().min(10)]),
            (TaskStatus::Done, None) => String::new(),
            (status, _) => format!(" — {status}"),
        };
        let _ = writeln!(b, "- [{mark}] {}. {}{note}", t.sequence, t.title);
    }
    let _ = writeln!(b, "\n### Test evidence\n");
    if evidence.command.is_empty() {
        let _ = writeln!(
            b,
            "Each task's new tests failed before its change and passed after it."
        );
    } else {
        let verdict = if evidence.passed { "passed" } else { "FAILED" };
        let _ = writeln!(b, "Full suite `{}` {verdict}.", evidence.command);
        if !evidence.summary.trim().is_empty() {
            let _ = writeln!(b, "\n```text\n{}\n```", evidence.summary.trim());
        }
    }
    let calls: i64 = tasks
        .iter()
        .map(|t| t.total_llm_calls)
        .sum::<i64>()
        .max(ticket.total_llm_calls);
    let _ = writeln!(
        b,
        "\n### Cost\n\n${:.2} over {calls} LLM calls ({} input / {} output tokens).",
        ticket.cost.to_usd(),
        ticket.tokens_input,
        ticket.tokens_output
    );
    b
}

/// The validation-rule warnings section of the body (empty when there are none): each task's
/// warnings from its last passing rule gate, `(task id, violations)`, in task order.
#[must_use]
pub fn rule_warnings(tasks: &[Task], warnings: &[(String, Vec<Violation>)]) -> String {
    let mut listed: Vec<(&Task, &Vec<Violation>)> = warnings
        .iter()
        .filter(|(_, w)| !w.is_empty())
        .filter_map(|(id, w)| tasks.iter().find(|t| t.id.as_str() == id).map(|t| (t, w)))
        .collect();
    if listed.is_empty() {
        return String::new();
    }
    listed.sort_by_key(|(t, _)| t.sequence);
    let mut b = String::from("\n### Validation rule warnings\n\n");
    for (t, w) in listed {
        let _ = writeln!(b, "- {}. {}", t.sequence, t.title);
        for v in w {
            let _ = writeln!(b, "  - {v}");
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use foreman_domain::{FencingToken, Micros, NewTicket, TaskId, TicketId, TicketStatus};

    use super::*;

    fn ticket() -> Ticket {
        let new = NewTicket {
            project: "default".into(),
            external_id: "PROJ-7".into(),
            title: "Add login".into(),
            acceptance_criteria: "Users can log in".into(),
            ..NewTicket::default()
        };
        let mut t = Ticket::from_new(
            TicketId::new(),
            "default".into(),
            new,
            foreman_domain::now(),
        );
        t.status = TicketStatus::Reviewing;
        t.branch_name = "foreman/PROJ-7-add-login".into();
        t.cost = Micros(1_234_567);
        t.tokens_input = 1000;
        t.tokens_output = 200;
        t.total_llm_calls = 5;
        t.fencing_token = FencingToken(1);
        t
    }

    fn task(seq: i32, status: TaskStatus, sha: Option<&str>) -> Task {
        Task {
            id: TaskId::new(),
            ticket_id: TicketId::new(),
            sequence: seq,
            title: format!("step {seq}"),
            description: String::new(),
            acceptance_criteria: String::new(),
            depends_on: vec![],
            files: vec![],
            complexity: 1,
            status,
            implementation_attempts: 1,
            spec_review_attempts: 1,
            quality_review_attempts: 1,
            total_llm_calls: 2,
            tokens_input: 0,
            tokens_output: 0,
            commit_sha: sha.map(str::to_owned),
            cost: Micros::ZERO,
            context: None,
            last_error: None,
            checkpoint: foreman_domain::TaskCheckpoint::default(),
            created_at: foreman_domain::now(),
            started_at: None,
            completed_at: None,
        }
    }

    #[test]
    fn renders_checklist_evidence_and_cost() {
        let t = ticket();
        let tasks = [
            task(2, TaskStatus::Failed, None),
            task(1, TaskStatus::Done, Some("abcdef1234567890")),
        ];
        let ev = TestEvidence {
            command: "cargo test".into(),
            passed: true,
            summary: "ok".into(),
        };
        let b = body(&t, Some("https://tracker/PROJ-7"), &tasks, &ev);
        assert!(b.starts_with("Resolves [PROJ-7](https://tracker/PROJ-7): Add login"));
        let one = b.find("- [x] 1. step 1 (abcdef1234)").expect(&b);
        let two = b.find("- [ ] 2. step 2 — failed").expect(&b);
        assert!(one < two);
        assert!(b.contains("Full suite `cargo test` passed."));
        assert!(b.contains("$1.23 over 5 LLM calls"));
        assert_eq!(title(&t, true), "[PARTIAL] PROJ-7: Add login");
        assert_eq!(title(&t, false), "PROJ-7: Add login");
    }

    #[test]
    fn rule_warnings_are_listed_per_task_in_order_and_absent_when_none() {
        use foreman_domain::rules::RuleSeverity;
        let tasks = [
            task(2, TaskStatus::Done, None),
            task(1, TaskStatus::Done, None),
        ];
        let v = |file: &str, line| Violation {
            rule_id: "no-todo".into(),
            severity: RuleSeverity::Warning,
            file: file.into(),
            line,
            message: "finish it".into(),
            excerpt: Some("// TODO".into()),
        };
        let warnings = vec![
            (tasks[0].id.to_string(), vec![v("b.rs", Some(3))]),
            (tasks[1].id.to_string(), vec![v("a.rs", None)]),
        ];
        let s = rule_warnings(&tasks, &warnings);
        assert!(s.starts_with("\n### Validation rule warnings\n"), "{s}");
        let one = s
            .find("- 1. step 1\n  - a.rs: finish it [no-todo] — `// TODO`")
            .expect(&s);
        let two = s
            .find("- 2. step 2\n  - b.rs:3: finish it [no-todo]")
            .expect(&s);
        assert!(one < two);
        assert_eq!(rule_warnings(&tasks, &[]), "");
    }
}
