//! The pipeline end to end: tickets created through the API are planned, implemented
//! test-first in real git worktrees, reviewed, opened as pull requests on the local host and
//! merged, by the real server with the scripted provider.

use std::time::Duration;

use serde_json::{Value, json};

use crate::rig::{
    Db, Rig, Setup, before, calc_edits, complete, conflict_resolution, count, demo_script, plan,
    prepend, review, write_file,
};

const WITHIN: Duration = Duration::from_secs(90);

async fn happy_path(db: Db) {
    let Some(rig) = Rig::start(db, &demo_script(), &Setup::default()).await else {
        return;
    };
    let id = rig.create_ticket("Add a multiply function to calc").await;
    let t = rig.wait_for(&id, &["merged"], WITHIN).await;
    assert!(t["cost_usd"].as_f64().unwrap() > 0.0, "{t}");
    assert!(t["pr_url"].as_str().unwrap().ends_with("/pulls/1"), "{t}");

    // The change is on the remote's main branch, tests included.
    assert!(rig.remote_file("calc.py").contains("def multiply(a, b):"));
    assert!(
        rig.remote_file("tests/test_multiply.py")
            .contains("multiply(2, 3), 6")
    );

    let events = rig.event_types(&id).await;
    for ty in [
        "ticket_claimed",
        "planning_started",
        "plan_validated",
        "task_started",
        "task_tdd_verify_pass",
        "task_spec_review_pass",
        "task_quality_review_pass",
        "task_committed",
        "task_done",
        "ticket_integrated",
        "full_test_pass",
        "final_review_pass",
        "pr_created",
        "pr_merged",
    ] {
        assert_eq!(count(&events, ty), 1, "{ty} once in {events:?}");
    }
    assert!(before(&events, "task_tdd_verify_pass", "pr_created"));
    assert!(before(&events, "pr_created", "pr_merged"));

    let tasks = rig.get(&format!("/api/tickets/{id}/tasks")).await;
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["status"], "done");

    // Every call is recorded with its role; the ticket's cost is their sum.
    let calls = rig.get(&format!("/api/tickets/{id}/llm-calls")).await;
    let calls = calls.as_array().unwrap();
    let roles: Vec<&str> = calls.iter().filter_map(|c| c["role"].as_str()).collect();
    for role in [
        "planner",
        "implementer",
        "spec_reviewer",
        "quality_reviewer",
        "final_reviewer",
    ] {
        assert!(roles.contains(&role), "{role} in {roles:?}");
    }
    let sum: f64 = calls.iter().filter_map(|c| c["cost_usd"].as_f64()).sum();
    assert!(
        (sum - t["cost_usd"].as_f64().unwrap()).abs() < 1e-6,
        "{sum} vs {t}"
    );
    rig.finish().await;
}

#[tokio::test]
async fn a_ticket_goes_from_queued_to_merged_on_sqlite() {
    happy_path(Db::Sqlite).await;
}

#[tokio::test]
async fn a_ticket_goes_from_queued_to_merged_on_postgres() {
    happy_path(Db::Postgres).await;
}

/// The first tests-phase answer writes `first_tests`; the red check must refuse it with
/// `rejection`, and the second (the demo's proper test) must pass red→green.
async fn first_red_is_refused(first_tests: &str, rejection: &str) {
    let script = prepend(
        demo_script(),
        vec![write_file(
            "first-tests",
            "PHASE: TESTS",
            "tests/test_multiply.py",
            first_tests,
            Some(1),
        )],
    );
    let rig = Rig::start(Db::Sqlite, &script, &Setup::default())
        .await
        .unwrap();
    let id = rig.create_ticket("Add a multiply function to calc").await;
    rig.wait_for(&id, &["merged"], WITHIN).await;
    let events = rig.event_types(&id).await;
    assert_eq!(count(&events, rejection), 1, "{events:?}");
    assert_eq!(count(&events, "task_tdd_verify_pass"), 1, "{events:?}");
    assert!(before(&events, rejection, "task_tdd_verify_pass"));
    rig.finish().await;
}

#[tokio::test]
async fn a_test_that_passes_before_the_change_is_rejected() {
    let passing = "import unittest\n\nimport calc\n\n\nclass MultiplyTest(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(calc.add(2, 3), 5)\n";
    first_red_is_refused(passing, "task_tdd_verify_fail").await;
}

#[tokio::test]
async fn a_test_that_does_not_import_is_not_a_valid_red() {
    let broken = "import unittest\n\nfrom calc import multiply\n\n\nclass MultiplyTest(unittest.TestCase):\n    def test_multiply(self):\n        self.assertEqual(multiply(2, 3), 6)\n";
    first_red_is_refused(broken, "task_tdd_verify_invalid_red").await;
}

#[tokio::test]
async fn a_spec_rejection_goes_back_to_the_implementer_then_passes() {
    let script = prepend(demo_script(), vec![review("spec_reviewer", false, Some(1))]);
    let rig = Rig::start(Db::Sqlite, &script, &Setup::default())
        .await
        .unwrap();
    let id = rig.create_ticket("Add a multiply function to calc").await;
    rig.wait_for(&id, &["merged"], WITHIN).await;
    let events = rig.event_types(&id).await;
    assert_eq!(count(&events, "task_spec_review_fail"), 1, "{events:?}");
    assert_eq!(count(&events, "task_spec_review_pass"), 1, "{events:?}");
    assert!(before(
        &events,
        "task_spec_review_fail",
        "task_spec_review_pass"
    ));
    rig.finish().await;
}

#[tokio::test]
async fn an_invalid_plan_is_sent_back_to_the_planner() {
    let invalid = plan(
        json!([{"sequence": 1, "title": "Add multiply", "description": "d",
                 "acceptance_criteria": "a", "files_to_modify": ["calc.py"],
                 "complexity": 1, "depends_on": [7]}]),
        Some(1),
    );
    let script = prepend(demo_script(), vec![invalid]);
    let rig = Rig::start(Db::Sqlite, &script, &Setup::default())
        .await
        .unwrap();
    let id = rig.create_ticket("Add a multiply function to calc").await;
    rig.wait_for(&id, &["merged"], WITHIN).await;
    let events = rig.event_types(&id).await;
    assert_eq!(count(&events, "plan_rejected"), 1, "{events:?}");
    assert!(before(&events, "plan_rejected", "plan_validated"));
    rig.finish().await;
}

#[tokio::test]
async fn a_plan_that_stays_invalid_fails_the_ticket() {
    let invalid = plan(
        json!([{"sequence": 1, "title": "Loop", "description": "d", "acceptance_criteria": "a",
                 "files_to_modify": ["calc.py"], "complexity": 1, "depends_on": [1]}]),
        None,
    );
    let script = prepend(demo_script(), vec![invalid]);
    let rig = Rig::start(Db::Sqlite, &script, &Setup::default())
        .await
        .unwrap();
    let id = rig.create_ticket("Add a multiply function to calc").await;
    let t = rig.wait_for(&id, &["failed"], WITHIN).await;
    assert_eq!(t["last_error_type"], "plan", "{t}");
    let events = rig.event_types(&id).await;
    assert_eq!(count(&events, "plan_created"), 3, "{events:?}");
    assert_eq!(count(&events, "plan_rejected"), 2, "{events:?}");
    assert_eq!(
        count(&events, "ticket_plan_validation_failed"),
        1,
        "{events:?}"
    );
    assert_eq!(count(&events, "task_started"), 0);
    rig.finish().await;
}

/// Two independent tasks; the divide task's implementer gives up on its first run.
fn two_task_script(divide_gives_up: u32) -> Value {
    let tasks = json!([
        {"sequence": 1, "title": "Add multiply", "description": "multiply(a, b)",
         "acceptance_criteria": "multiply(2, 3) == 6", "files_to_modify": ["calc.py", "tests/test_multiply.py"],
         "complexity": 1, "depends_on": []},
        {"sequence": 2, "title": "Add divide", "description": "divide(a, b)",
         "acceptance_criteria": "divide(6, 3) == 2", "files_to_modify": ["divide.py", "tests/test_divide.py"],
         "complexity": 1, "depends_on": []}
    ]);
    let divide_test = "import importlib.util\nimport unittest\n\n\nclass DivideTest(unittest.TestCase):\n    def test_divide(self):\n        mod = importlib.util.find_spec(\"divide\")\n        self.assertIsNotNone(mod, \"divide.py is missing\")\n        from divide import divide\n        self.assertEqual(divide(6, 3), 2)\n";
    let divide_impl =
        "def divide(a, b):\n    \"\"\"Return a divided by b.\"\"\"\n    return a / b\n";
    prepend(
        demo_script(),
        vec![
            plan(tasks, None),
            complete(
                "divide-tests-written",
                "(created|overwrote) tests/test_divide\\.py",
                true,
                None,
            ),
            complete(
                "divide-written",
                "(created|overwrote) divide\\.py",
                true,
                None,
            ),
            complete(
                "divide-gives-up",
                "(?s)Task: Add divide.*PHASE: IMPLEMENT",
                false,
                Some(divide_gives_up),
            ),
            write_file(
                "divide-tests",
                "(?s)Task: Add divide.*PHASE: TESTS",
                "tests/test_divide.py",
                divide_test,
                None,
            ),
            write_file(
                "divide-impl",
                "(?s)Task: Add divide.*PHASE: IMPLEMENT",
                "divide.py",
                divide_impl,
                None,
            ),
        ],
    )
}

#[tokio::test]
async fn a_failed_task_gives_a_partial_pr_and_a_retry_keeps_done_tasks() {
    let setup = Setup {
        pipeline: vec!["max_implementation_retries = 1".into()],
        ..Setup::default()
    };
    let rig = Rig::start(Db::Sqlite, &two_task_script(1), &setup)
        .await
        .unwrap();
    let id = rig.create_ticket("Add multiply and divide to calc").await;
    let t = rig.wait_for(&id, &["partial"], WITHIN).await;
    assert!(t["pr_url"].as_str().is_some(), "{t}");
    let events = rig.event_types(&id).await;
    assert_eq!(count(&events, "partial_pr_created"), 1, "{events:?}");
    assert_eq!(count(&events, "task_failed"), 1, "{events:?}");
    assert_eq!(count(&events, "task_done"), 1, "{events:?}");
    let tasks = rig.get(&format!("/api/tickets/{id}/tasks")).await;
    let statuses: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["done", "failed"]);
    // A partial pull request is not merged automatically.
    assert!(!rig.remote_file("calc.py").contains("multiply"));

    // Retry: the done task is kept, the failed one runs again and now succeeds.
    let (status, body) = rig
        .post(&format!("/api/tickets/{id}/retry"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    rig.wait_for(&id, &["merged", "awaiting_merge"], WITHIN)
        .await;
    let t = rig.wait_for(&id, &["merged"], WITHIN).await;
    assert!(t["pr_url"].as_str().is_some());
    let events = rig.event_types(&id).await;
    assert_eq!(count(&events, "task_done"), 2, "{events:?}");
    let tasks = rig.get(&format!("/api/tickets/{id}/tasks")).await;
    for task in tasks.as_array().unwrap() {
        assert_eq!(task["status"], "done", "{task}");
    }
    // The multiply task ran once, divide twice: three starts, two red→green proofs.
    assert_eq!(count(&events, "task_started"), 3, "{events:?}");
    assert_eq!(count(&events, "task_tdd_verify_pass"), 2, "{events:?}");
    assert_eq!(count(&events, "pr_merged"), 1, "{events:?}");
    assert!(rig.remote_file("divide.py").contains("def divide"));
    assert!(rig.remote_file("calc.py").contains("def multiply"));
    rig.finish().await;
}

#[tokio::test]
async fn a_retry_is_refused_for_a_ticket_that_has_not_failed() {
    let rig = Rig::start(Db::Sqlite, &demo_script(), &Setup::default())
        .await
        .unwrap();
    let id = rig.create_ticket("Add a multiply function to calc").await;
    rig.wait_for(&id, &["merged"], WITHIN).await;
    let (status, body) = rig
        .post(&format!("/api/tickets/{id}/retry"), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    rig.finish().await;
}

#[tokio::test]
async fn a_ticket_out_of_budget_stops_cleanly_and_keeps_its_work() {
    let setup = Setup {
        cost: vec!["per_ticket_budget = 0.17".into()],
        ..Setup::default()
    };
    let rig = Rig::start(Db::Sqlite, &demo_script(), &setup)
        .await
        .unwrap();
    let id = rig.create_ticket("Add a multiply function to calc").await;
    let t = rig.wait_for(&id, &["blocked"], WITHIN).await;
    assert_eq!(t["last_error_type"], "budget", "{t}");
    assert!(t["cost_usd"].as_f64().unwrap() <= 0.17 + 1e-9, "{t}");
    let events = rig.event_types(&id).await;
    assert!(count(&events, "cost_exceeded") >= 1, "{events:?}");
    assert_eq!(count(&events, "pr_created"), 0, "{events:?}");
    // The plan survives for a retry with a larger budget.
    let tasks = rig.get(&format!("/api/tickets/{id}/tasks")).await;
    assert!(!tasks.as_array().unwrap().is_empty());
    rig.finish().await;
}

#[tokio::test]
async fn a_paused_daemon_starts_nothing_until_resumed() {
    let rig = Rig::start(Db::Sqlite, &demo_script(), &Setup::default())
        .await
        .unwrap();
    let (status, _) = rig.post("/api/daemon/pause", json!({})).await;
    assert_eq!(status, 200);
    let id = rig.create_ticket("Add a multiply function to calc").await;
    // Twenty poll intervals pass without the ticket being claimed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = rig.get(&format!("/api/tickets/{id}")).await;
    assert_eq!(t["status"], "queued", "{t}");
    assert_eq!(rig.get("/api/status").await["daemon_state"], "paused");
    let (status, _) = rig.post("/api/daemon/resume", json!({})).await;
    assert_eq!(status, 200);
    rig.wait_for(&id, &["merged"], WITHIN).await;
    rig.finish().await;
}

/// With an hour between polls, the daemon still starts work at once: a ticket created through
/// the API wakes it (`ticket_created`), and so does a resume (`daemon_resumed`) after the ticket
/// arrived while it was paused.
#[tokio::test]
async fn new_tickets_and_a_resume_wake_a_daemon_that_polls_rarely() {
    let setup = Setup {
        poll: Some("1h"),
        ..Setup::default()
    };
    let rig = Rig::start(Db::Sqlite, &demo_script(), &setup)
        .await
        .unwrap();
    // the daemon's first look for work at start-up has passed: it sleeps for its hour now
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = rig.create_ticket("Add a multiply function to calc").await;
    rig.wait_for(&id, &["merged"], WITHIN).await;

    let (status, _) = rig.post("/api/daemon/pause", json!({})).await;
    assert_eq!(status, 200);
    let second = rig.create_ticket("Add a multiply function to calc").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        rig.get(&format!("/api/tickets/{second}")).await["status"],
        "queued"
    );
    let (status, _) = rig.post("/api/daemon/resume", json!({})).await;
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + WITHIN;
    while !rig
        .event_types(&second)
        .await
        .iter()
        .any(|e| e == "ticket_claimed")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "not claimed after the resume"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rig.finish().await;
}

/// An implementer answer that edits a file in place.
/// A one-task plan for the ticket titled "Add a divide function…".
fn divide_plan() -> Value {
    let mut p = plan(
        json!([{"sequence": 1, "title": "Add divide", "description": "divide(a, b) in calc.py",
                 "acceptance_criteria": "divide(6, 3) == 2",
                 "files_to_modify": ["calc.py", "tests/test_divide.py"], "complexity": 1, "depends_on": []}]),
        None,
    );
    p["match"] = json!("Add a divide function");
    p
}

#[tokio::test]
async fn two_tickets_changing_the_same_file_take_turns_and_both_merge() {
    let mut entries = vec![divide_plan()];
    entries.extend(calc_edits(true));
    let script = prepend(demo_script(), entries);
    let rig = Rig::start(Db::Sqlite, &script, &Setup::default())
        .await
        .unwrap();
    let a = rig.create_ticket("Add a multiply function to calc").await;
    let b = rig.create_ticket("Add a divide function to calc").await;
    rig.wait_for(&a, &["merged"], WITHIN).await;
    rig.wait_for(&b, &["merged"], WITHIN).await;
    let ea = rig.event_types(&a).await;
    let eb = rig.event_types(&b).await;
    let waited = count(&ea, "task_waiting_for_files") + count(&eb, "task_waiting_for_files");
    assert_eq!(waited, 1, "exactly one ticket waited:\n{ea:?}\n{eb:?}");
    // The one that waited started its task only after the other had opened its pull request.
    let all = rig.get("/api/events?limit=500").await;
    let all = all.as_array().unwrap();
    let seq_of = |ticket: &str, ty: &str| {
        all.iter()
            .filter(|e| e["ticket_id"] == ticket && e["event_type"] == ty)
            .filter_map(|e| e["seq"].as_i64())
            .min()
    };
    let (first, second) = if count(&eb, "task_waiting_for_files") == 1 {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert!(
        seq_of(second, "task_started").unwrap() > seq_of(first, "pr_created").unwrap(),
        "the waiting ticket started before the other's pull request"
    );
    assert_calc_has_multiply_and_divide(&rig);
    rig.finish().await;
}

/// Two nodes on one PostgreSQL database, one ticket each at a time, two tickets changing
/// `calc.py`: each node claims one, and the file reservation made on one node holds the other
/// ticket back on the other node until the first ticket's pull request is open.
#[tokio::test]
async fn two_nodes_share_file_reservations_through_the_database() {
    let mut entries = vec![divide_plan()];
    entries.extend(calc_edits(true));
    let script = prepend(demo_script(), entries);
    let setup = Setup {
        daemon: vec!["max_parallel_tickets = 1".into()],
        ..Setup::default()
    };
    let Some(rig) = Rig::start(Db::Postgres, &script, &setup).await else {
        return;
    };
    let _second = rig.start_node("node2").await;
    let a = rig.create_ticket("Add a multiply function to calc").await;
    let b = rig.create_ticket("Add a divide function to calc").await;
    rig.wait_for(&a, &["merged"], WITHIN).await;
    rig.wait_for(&b, &["merged"], WITHIN).await;
    let all = rig.get("/api/events?limit=500").await;
    let all = all.as_array().unwrap();
    let of = |ticket: &str, ty: &str| -> Vec<&Value> {
        all.iter()
            .filter(|e| e["ticket_id"] == ticket && e["event_type"] == ty)
            .collect()
    };
    // "claimed by <node id>/<n>": the two tickets were claimed by different nodes
    let node = |ticket: &str| {
        let claims = of(ticket, "ticket_claimed");
        assert_eq!(claims.len(), 1, "{ticket} claimed once: {claims:?}");
        let message = claims[0]["message"].as_str().unwrap().to_owned();
        message.rsplit_once('/').map(|(n, _)| n.to_owned()).unwrap()
    };
    assert_ne!(node(&a), node(&b), "each node claimed one ticket");
    let (waits_a, waits_b) = (
        of(&a, "task_waiting_for_files"),
        of(&b, "task_waiting_for_files"),
    );
    assert_eq!(
        waits_a.len() + waits_b.len(),
        1,
        "exactly one ticket waited: {waits_a:?} {waits_b:?}"
    );
    let (first, second, wait) = if waits_b.len() == 1 {
        (&a, &b, waits_b[0])
    } else {
        (&b, &a, waits_a[0])
    };
    assert_eq!(wait["details"]["held_by"], first.as_str(), "{wait}");
    let seq = |ticket: &str, ty: &str| {
        of(ticket, ty)
            .iter()
            .filter_map(|e| e["seq"].as_i64())
            .min()
            .unwrap()
    };
    assert!(
        seq(second, "task_started") > seq(first, "pr_created"),
        "the waiting ticket started before the other's pull request"
    );
    assert_calc_has_multiply_and_divide(&rig);
    rig.finish().await;
}

#[tokio::test]
async fn the_last_attempt_runs_on_the_escalation_model() {
    let script = prepend(
        demo_script(),
        vec![complete("gives-up", "PHASE: IMPLEMENT", false, Some(1))],
    );
    let setup = Setup {
        pipeline: vec![
            "max_implementation_retries = 2".into(),
            "escalation_model = \"scripted:claude-opus-4-1\"".into(),
        ],
        ..Setup::default()
    };
    let rig = Rig::start(Db::Sqlite, &script, &setup).await.unwrap();
    let id = rig.create_ticket("Add a multiply function to calc").await;
    rig.wait_for(&id, &["merged"], WITHIN).await;
    let events = rig.event_types(&id).await;
    assert!(count(&events, "task_escalated") >= 1, "{events:?}");
    let calls = rig.get(&format!("/api/tickets/{id}/llm-calls")).await;
    let models: Vec<String> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["role"] == "implementer")
        .map(|c| c["model"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        models.iter().any(|m| m.contains("claude-opus-4-1")),
        "{models:?}"
    );
    assert!(
        models.iter().any(|m| m.contains("claude-sonnet-4-6")),
        "{models:?}"
    );
    rig.finish().await;
}

/// The clarifier's first verdict: questions.
fn unclear_once() -> Value {
    json!({
        "name": "clarifier-unclear",
        "role": "clarifier",
        "times": 1,
        "response": {
            "tool_use": {"name": "submit_clarification", "input": {
                "clear": false, "questions": ["Should multiply accept floats?"]}},
            "usage": {"input_tokens": 500, "output_tokens": 30}
        }
    })
}

#[tokio::test]
async fn a_github_issue_is_picked_up_clarified_by_a_comment_and_merged() {
    let gh = foreman_fakes::github::FakeGitHub::start("acme", "calc", "ghp_fake").await;
    let issue = gh.add_issue(
        "Add a multiply function to calc",
        Some("calc.py can add but not multiply.\n\n## Acceptance criteria\n- multiply(2, 3) == 6"),
        &["foreman-ready"],
        "ada",
    );
    let setup = Setup {
        pipeline: vec!["enable_clarification = true".into()],
        tracker: vec![
            "provider = \"github\"".into(),
            "project = \"acme/calc\"".into(),
            "token = \"ghp_fake\"".into(),
            format!("base_url = \"{}\"", gh.url()),
            "poll_interval = \"200ms\"".into(),
        ],
        ..Setup::default()
    };
    let script = prepend(demo_script(), vec![unclear_once()]);
    let rig = Rig::start(Db::Sqlite, &script, &setup).await.unwrap();

    // Polling brings the labelled issue in.
    let deadline = std::time::Instant::now() + WITHIN;
    let id = loop {
        let list = rig.get("/api/tickets").await;
        if let Some(t) = list.as_array().and_then(|a| a.first()) {
            assert_eq!(t["external_id"], format!("#{issue}"), "{t}");
            assert_eq!(t["submitter"], "ada", "{t}");
            break t["id"].as_str().unwrap().to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the issue was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    rig.wait_for(&id, &["clarification_needed"], WITHIN).await;
    let asked = gh.issue(issue).unwrap();
    assert!(
        asked
            .comments
            .iter()
            .any(|c| c.body.contains("Should multiply accept floats?")),
        "{asked:?}"
    );
    assert!(
        asked
            .labels
            .iter()
            .any(|l| l == "foreman-needs-clarification"),
        "{asked:?}"
    );

    // The submitter answers in a comment; the ticket goes on with the answer.
    let r = crate::support::http()
        .post(format!(
            "{}/repos/acme/calc/issues/{issue}/comments",
            gh.url()
        ))
        .bearer_auth("ghp_fake")
        .json(&json!({"body": "Integers are enough."}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let t = rig.wait_for(&id, &["merged"], WITHIN).await;
    assert!(
        t["description"]
            .as_str()
            .unwrap_or("")
            .contains("Integers are enough."),
        "{t}"
    );
    let events = rig.event_types(&id).await;
    assert_eq!(count(&events, "clarification_requested"), 1, "{events:?}");
    assert_eq!(count(&events, "clarification_received"), 1, "{events:?}");
    // The pull request link went back to the issue.
    let done = gh.issue(issue).unwrap();
    assert!(
        done.comments.iter().any(|c| c.body.contains("/pulls/1")),
        "{done:?}"
    );
    rig.finish().await;
}

#[tokio::test]
async fn a_ticket_too_large_is_split_into_children_and_done_when_they_merge() {
    let split = json!({
        "name": "split",
        "role": "planner",
        "match": "Calculator operations",
        "response": {
            "tool_use": {"name": "submit_plan", "input": {
                "summary": "two independent changes", "too_large": true, "tasks": [],
                "children": [
                    {"title": "Add a multiply function to calc", "description": "multiply(a, b)",
                     "acceptance_criteria": "multiply(2, 3) == 6"},
                    {"title": "Add a divide function to calc", "description": "divide(a, b)",
                     "acceptance_criteria": "divide(6, 3) == 2"}
                ]}},
            "usage": {"input_tokens": 1500, "output_tokens": 200}
        }
    });
    let mut entries = vec![split, divide_plan()];
    entries.extend(calc_edits(true));
    let script = prepend(demo_script(), entries);
    let rig = Rig::start(Db::Sqlite, &script, &Setup::default())
        .await
        .unwrap();
    let parent = rig.create_ticket("Calculator operations").await;
    rig.wait_for(&parent, &["decomposed", "done"], WITHIN).await;
    let all = rig.get("/api/tickets").await;
    let mut children = Vec::new();
    for t in all.as_array().unwrap() {
        let detail = rig
            .get(&format!("/api/tickets/{}", t["id"].as_str().unwrap()))
            .await;
        if detail["parent_id"] == parent.as_str() {
            children.push(detail);
        }
    }
    assert_eq!(children.len(), 2, "{all:#}");
    for c in &children {
        rig.wait_for(c["id"].as_str().unwrap(), &["merged"], WITHIN)
            .await;
    }
    rig.wait_for(&parent, &["done"], WITHIN).await;
    let events = rig.event_types(&parent).await;
    assert_eq!(count(&events, "child_ticket_created"), 2, "{events:?}");
    assert_eq!(count(&events, "ticket_decomposed"), 1, "{events:?}");
    assert_eq!(count(&events, "task_started"), 0, "{events:?}");
    assert_calc_has_multiply_and_divide(&rig);
    rig.finish().await;
}

#[tokio::test]
async fn a_merge_conflict_between_tasks_goes_to_the_conflict_resolver() {
    let tasks = json!([
        {"sequence": 1, "title": "Add multiply", "description": "multiply(a, b) in calc.py",
         "acceptance_criteria": "multiply(2, 3) == 6", "files_to_modify": ["calc.py", "tests/test_multiply.py"],
         "complexity": 1, "depends_on": []},
        {"sequence": 2, "title": "Add divide", "description": "divide(a, b) in calc.py",
         "acceptance_criteria": "divide(6, 3) == 2", "files_to_modify": ["calc.py", "tests/test_divide.py"],
         "complexity": 1, "depends_on": []}
    ]);
    let mut entries = vec![plan(tasks, None)];
    entries.extend(conflict_resolution());
    entries.extend(calc_edits(false));
    let script = prepend(demo_script(), entries);
    let rig = Rig::start(Db::Sqlite, &script, &Setup::default())
        .await
        .unwrap();
    let id = rig.create_ticket("Add multiply and divide to calc").await;
    rig.wait_for(&id, &["merged"], WITHIN).await;
    let events = rig.event_types(&id).await;
    assert_eq!(count(&events, "merge_conflict"), 1, "{events:?}");
    assert_eq!(count(&events, "merge_conflict_resolved"), 1, "{events:?}");
    assert!(before(&events, "merge_conflict_resolved", "full_test_pass"));
    assert_calc_has_multiply_and_divide(&rig);
    let calls = rig.get(&format!("/api/tickets/{id}/llm-calls")).await;
    assert!(
        calls
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["role"] == "conflict_resolver"),
        "{calls:#}"
    );
    rig.finish().await;
}

/// The remote's `calc.py` carries both changes (and no conflict markers).
fn assert_calc_has_multiply_and_divide(rig: &Rig) {
    let calc = rig.remote_file("calc.py");
    assert!(
        calc.contains("def multiply") && calc.contains("def divide") && !calc.contains("<<<<<<<"),
        "{calc}"
    );
}

/// Signs and delivers a GitHub webhook to the server.
async fn deliver_github(rig: &Rig, secret: &str, event: &str, body: &Value) -> Value {
    let body = serde_json::to_vec(body).unwrap();
    let signature = format!("sha256={}", foreman_tracker::webhook::sign(secret, &body));
    let r = crate::support::http()
        .post(rig.server.as_ref().unwrap().url("/api/webhooks/github"))
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", "0b5c3a1e-0000-4000-8000-000000000001")
        .header("X-Hub-Signature-256", signature)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "webhook {event}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn github_pull_request_webhooks_drive_merge_tracking() {
    const SECRET: &str = "hook-secret";
    let gh = foreman_fakes::github::FakeGitHub::start("acme", "calc", "ghp_fake").await;
    let setup = Setup {
        no_auto_merge: true,
        // housekeeping polls once at start-up and then not for an hour: only the webhooks
        // can move the ticket within this test
        housekeeping: Some("1h"),
        git: vec![
            "provider = \"github\"".into(),
            "repository = \"acme/calc\"".into(),
            "token = \"ghp_fake\"".into(),
            format!("base_url = \"{}\"", gh.url()),
        ],
        tracker: vec![format!("webhook_secret = \"{SECRET}\"")],
        ..Setup::default()
    };
    let rig = Rig::start(Db::Sqlite, &demo_script(), &setup)
        .await
        .unwrap();
    let id = rig.create_ticket("Add a multiply function to calc").await;
    let t = rig.wait_for(&id, &["awaiting_merge"], WITHIN).await;
    let number = t["pr_number"].as_i64().expect("pr number");
    assert!(gh.pull(number).is_some(), "the pull request is at the host");
    let opened = gh.pull(number).unwrap().head_sha;

    // Someone pushes to the pull request: the webhook makes the daemon look, and it reports
    // the new head.
    gh.push_to_pull(number, "c0ffee0000000000000000000000000000000001");
    let out = deliver_github(
        &rig,
        SECRET,
        "pull_request",
        &json!({"action": "synchronize", "number": number,
                "pull_request": {"number": number, "state": "open", "merged": false},
                "repository": {"full_name": "acme/calc"}}),
    )
    .await;
    assert_eq!(out["action"], "recorded", "{out}");
    assert_eq!(out["ticket_id"], id.as_str(), "{out}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = rig.get(&format!("/api/tickets/{id}/events")).await;
        let updated = events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event_type"] == "pr_updated");
        if let Some(e) = updated {
            assert_eq!(e["details"]["previous_head_sha"], opened.as_str(), "{e}");
            assert_eq!(
                e["details"]["head_sha"], "c0ffee0000000000000000000000000000000001",
                "{e}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no pr_updated after the push: {events}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A person merges it at the host; the webhook moves the ticket within moments.
    gh.merge_pull(number);
    deliver_github(
        &rig,
        SECRET,
        "pull_request",
        &json!({"action": "closed", "number": number,
                "pull_request": {"number": number, "state": "closed", "merged": true},
                "repository": {"full_name": "acme/calc"}}),
    )
    .await;
    rig.wait_for(&id, &["merged"], Duration::from_secs(10))
        .await;
    let events = rig.event_types(&id).await;
    assert_eq!(count(&events, "pr_merged"), 1, "{events:?}");
    assert_eq!(count(&events, "pr_updated"), 1, "{events:?}");
    assert_eq!(
        gh.merge_calls().len(),
        0,
        "auto_merge is off: Foreman merged nothing"
    );
    rig.finish().await;
}
