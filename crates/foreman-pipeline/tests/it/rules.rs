//! The validation-rule gate on real runs with the scripted model: an `error` violation fails a
//! task's gate, is fed back and fixed on the retry; warnings reach the quality reviewer and the
//! pull request; a rule the quality reviewer proposes is not enforced until a person accepts
//! it, and then is.

use chrono::Utc;
use foreman_domain::notification::TriggerId;
use foreman_domain::rules::{
    RuleInput, RuleKind, RuleSeverity, RuleStatus, load_rules, save_rules, set_status,
    validate_rules,
};
use foreman_domain::{
    EventType, NewTicket, Store, Submission, Ticket, TicketOptions, TicketStatus,
};
use foreman_pipeline::notify::{Notifier, NotifySettings};
use serde_json::{Value, json};

use crate::rig::{Rig, Setup};

/// How the scripted implementer and quality reviewer behave on ticket `n`.
#[derive(Clone, Copy)]
struct Plan {
    n: u32,
    /// The first implementation has a `print(` debugging line (the retry never has).
    dirty: bool,
    /// The quality reviewer proposes the no-print rule.
    propose: bool,
}

const CLEAN: &str = "\"\"\"Doubling.\"\"\"\n\n\ndef double(x):\n    \"\"\"Return twice x.\"\"\"\n    return 2 * x\n";
const DIRTY: &str = "\"\"\"Doubling.\"\"\"\n\n\ndef double(x):\n    \"\"\"Return twice x.\"\"\"\n    print(\"debug\", x)\n    return 2 * x\n";

/// A script for tickets `RULES-n`, each adding `mn.py` (`double`) tests first.
fn script(plans: &[Plan]) -> Value {
    let usage = json!({"input_tokens": 2000, "output_tokens": 100});
    let mut entries = Vec::new();
    let approve = json!({"approved": true, "issues": [], "summary": "fine"});
    for p in plans {
        let n = p.n;
        let test = format!(
            "import importlib\nimport importlib.util\nimport unittest\n\n\nclass DoubleTest(unittest.TestCase):\n    def test_doubles(self):\n        self.assertIsNotNone(importlib.util.find_spec(\"m{n}\"), \"m{n}.py is missing\")\n        self.assertEqual(importlib.import_module(\"m{n}\").double(2), 4)\n"
        );
        let write = |name: String, pattern: String, path: String, content: &str| {
            json!({"name": name, "role": "implementer", "match": pattern,
                "response": {"tool_use": {"name": "write_file", "input": {"path": path, "content": content}}, "usage": usage}})
        };
        let complete = |name: String, pattern: String| {
            json!({"name": name, "role": "implementer", "match": pattern,
                "response": {"tool_use": {"name": "complete", "input": {"done": true, "summary": name}}, "usage": usage}})
        };
        entries.push(json!({"name": format!("planner-{n}"), "role": "planner", "match": format!("RULES-{n}\\b"),
            "response": {"tool_use": {"name": "submit_plan", "input": {
                "summary": format!("Add m{n}.double, tests first."), "too_large": false,
                "tasks": [{"sequence": 1, "title": format!("Add m{n}"), "description": format!("Write tests/test_m{n}.py, then m{n}.py."),
                    "acceptance_criteria": "double(2) returns 4", "test_assertions": ["double(2) == 4"],
                    "files_to_modify": [format!("m{n}.py"), format!("tests/test_m{n}.py")], "depends_on": []}]}},
            "usage": usage}}));
        entries.push(complete(
            format!("tests-written-{n}"),
            format!("(created|overwrote) tests/test_m{n}\\.py"),
        ));
        entries.push(complete(
            format!("code-written-{n}"),
            format!("(created|overwrote) m{n}\\.py"),
        ));
        // the retry after a rules failure: the feedback follows the phase instruction
        entries.push(write(
            format!("fix-{n}"),
            format!("(?s)Task: Add m{n}\\b.*PHASE: IMPLEMENT.*validation rules"),
            format!("m{n}.py"),
            CLEAN,
        ));
        entries.push(write(
            format!("tests-{n}"),
            format!("(?s)Task: Add m{n}\\b.*PHASE: TESTS"),
            format!("tests/test_m{n}.py"),
            &test,
        ));
        entries.push(write(
            format!("impl-{n}"),
            format!("(?s)Task: Add m{n}\\b.*PHASE: IMPLEMENT"),
            format!("m{n}.py"),
            if p.dirty { DIRTY } else { CLEAN },
        ));
        if p.propose {
            entries.push(json!({"name": format!("propose-{n}"), "role": "quality_reviewer", "match": format!("Task 1: Add m{n}\\b"),
                "response": {"tool_use": {"name": "submit_review", "input": {
                    "approved": true, "issues": [], "summary": "fine, but print debugging slips in often",
                    "proposed_rules": [
                        {"kind": "regex", "pattern": "print\\(", "applies_to": ["*.py"], "message": "no print debugging", "rationale": "use logging"},
                        {"kind": "no_such_kind", "pattern": "x"}
                    ]}}, "usage": usage}}));
        }
    }
    for role in ["spec_reviewer", "quality_reviewer", "final_reviewer"] {
        entries.push(json!({"name": role, "role": role,
            "response": {"tool_use": {"name": "submit_review", "input": approve}, "usage": usage}}));
    }
    json!({"model": "claude-sonnet-4-6", "entries": entries})
}

async fn submit(store: &dyn Store, n: u32) -> Ticket {
    store
        .submit_tickets(vec![Submission {
            ticket: NewTicket {
                project: "default".into(),
                external_id: format!("RULES-{n}"),
                title: format!("Add m{n}"),
                description: "A doubling helper.".into(),
                acceptance_criteria: "double(2) returns 4".into(),
                ..NewTicket::default()
            },
            options: TicketOptions::default(),
        }])
        .await
        .unwrap()
        .remove(0)
}

fn rule(kind: RuleKind, pattern: &str, severity: RuleSeverity, id: &str) -> RuleInput {
    RuleInput {
        id: Some(id.into()),
        kind,
        pattern: pattern.into(),
        severity,
        applies_to: vec!["*.py".into()],
        ..RuleInput::default()
    }
}

async fn count(rig: &Rig, t: &Ticket, ty: EventType) -> usize {
    rig.events(&t.id)
        .await
        .iter()
        .filter(|e| e.event_type == ty)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_violation_fails_the_gate_is_fed_back_and_the_retry_passes() {
    let mut rig = Rig::start(Setup {
        script: Some(script(&[Plan {
            n: 1,
            dirty: true,
            propose: false,
        }])),
        ..Setup::default()
    })
    .await;
    let rules = validate_rules(
        vec![
            rule(RuleKind::Regex, r"print\(", RuleSeverity::Error, "no-print"),
            rule(
                RuleKind::Missing,
                "SPDX-License-Identifier",
                RuleSeverity::Warning,
                "license-header",
            ),
        ],
        &[],
        Utc::now(),
    )
    .unwrap();
    save_rules(rig.store.as_ref(), "default", rules, 0)
        .await
        .unwrap();
    let t = submit(rig.store.as_ref(), 1).await;
    let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);

    let events = rig.events(&t.id).await;
    let fail = events
        .iter()
        .find(|e| e.event_type == EventType::TaskRulesFail)
        .expect("the first attempt failed the rule gate");
    let details = fail.details.as_ref().unwrap();
    assert_eq!(details["violations"][0]["rule_id"], "no-print");
    assert_eq!(details["violations"][0]["file"], "m1.py");
    assert_eq!(details["violations"][0]["line"], 6);
    assert_eq!(details["violations"][0]["excerpt"], "print(\"debug\", x)");
    let pass = events
        .iter()
        .find(|e| e.event_type == EventType::TaskRulesPass)
        .expect("the retry passed the rule gate");
    assert!(pass.seq > fail.seq);
    // the warning (no license header) was kept for the review and the pull request
    let warnings = &pass.details.as_ref().unwrap()["warnings"];
    let files: Vec<&str> = warnings
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["file"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"m1.py"), "{warnings}");
    assert!(
        warnings
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["rule_id"] == "license-header")
    );
    let tasks = rig.store.list_tasks(&t.id).await.unwrap();
    assert_eq!(tasks[0].implementation_attempts, 2);
    // the fixed code is what landed
    let pr = rig
        .store
        .get_setting("local_host/default/pr/1")
        .await
        .unwrap()
        .expect("the pull request is recorded");
    let pr: Value = serde_json::from_str(&pr).unwrap();
    let body = pr["request"]["body"].as_str().unwrap();
    assert!(body.contains("### Validation rule warnings"), "{body}");
    assert!(
        body.contains(
            "m1.py: the required pattern `SPDX-License-Identifier` is missing [license-header]"
        ),
        "{body}"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposed_rule_is_not_enforced_until_accepted_then_it_is() {
    let plans = [
        Plan {
            n: 1,
            dirty: true,
            propose: true,
        },
        Plan {
            n: 2,
            dirty: true,
            propose: false,
        },
        Plan {
            n: 3,
            dirty: true,
            propose: false,
        },
    ];
    let mut rig = Rig::start(Setup {
        script: Some(script(&plans)),
        ..Setup::default()
    })
    .await;
    let events: std::sync::Arc<dyn foreman_domain::EventLog> = rig.store.clone();
    let mut notifier = Notifier::new(rig.store.clone(), events, NotifySettings::default());
    notifier.start_from_now().await.unwrap();
    // ticket 1: no rules; the quality reviewer proposes one (and a malformed one, dropped)
    let t1 = submit(rig.store.as_ref(), 1).await;
    let done = rig.until(&t1.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);
    assert_eq!(count(&rig, &t1, EventType::RuleProposed).await, 1);
    let stored = load_rules(rig.store.as_ref(), "default").await.unwrap();
    assert_eq!(stored.rules.len(), 1, "{stored:?}");
    let proposed = stored.rules[0].clone();
    assert_eq!(proposed.status, RuleStatus::Proposed);
    assert_eq!(proposed.pattern, r"print\(");
    let by = proposed.proposed_by.clone().unwrap();
    assert_eq!(by.ticket_id, t1.id);
    // the notifier turns the proposal into a notification
    let fired = notifier.process_events().await.unwrap();
    let note = fired
        .iter()
        .find(|n| n.trigger == TriggerId::RuleProposed)
        .expect("a rule_proposed notification");
    assert!(note.message.contains(&proposed.id), "{}", note.message);

    // ticket 2: the same mistake passes, the proposal is not enforced
    let t2 = submit(rig.store.as_ref(), 2).await;
    let done = rig.until(&t2.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);
    assert_eq!(count(&rig, &t2, EventType::TaskRulesFail).await, 0);
    assert_eq!(
        count(&rig, &t2, EventType::RuleProposed).await,
        0,
        "a duplicate proposal is not stored again"
    );

    // a person accepts it: ticket 3's same mistake fails the gate, then the retry fixes it
    let mut stored = load_rules(rig.store.as_ref(), "default").await.unwrap();
    set_status(
        &mut stored.rules,
        &proposed.id,
        RuleStatus::Accepted,
        Utc::now(),
    )
    .unwrap();
    save_rules(rig.store.as_ref(), "default", stored.rules, stored.revision)
        .await
        .unwrap();
    let t3 = submit(rig.store.as_ref(), 3).await;
    let done = rig.until(&t3.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);
    let events = rig.events(&t3.id).await;
    let fail = events
        .iter()
        .find(|e| e.event_type == EventType::TaskRulesFail)
        .expect("the accepted rule is enforced");
    assert_eq!(
        fail.details.as_ref().unwrap()["violations"][0]["rule_id"],
        proposed.id.as_str()
    );
    assert!(
        events
            .iter()
            .any(|e| e.event_type == EventType::TaskRulesPass && e.seq > fail.seq)
    );
    rig.stop().await;
}

#[test]
fn the_rules_feedback_lists_each_violation() {
    let text = foreman_agent::PromptLibrary::embedded()
        .render(
            "implementer-feedback",
            &json!({"kind": "rules_fail", "violations": ["a.py:3: no print [no-print] — `print(1)`", "b.py: missing [lic]"]}),
        )
        .unwrap()
        .text;
    assert_eq!(
        text,
        "The change breaks the project's validation rules:\n- a.py:3: no print [no-print] — `print(1)`\n- b.py: missing [lic]\nChange the code so that none of these remain (the rules run over the lines the change adds and the files it touches) and make sure the tests still pass."
    );
}
