//! The `command` agent runner end to end: the real server, `[agent_runner] provider =
//! "command"` pointing at a shell script, the scripted provider for planning and reviews, and
//! the local bare remote. The script writes the failing test in the tests phase and the
//! implementation in the implement phase, printing a `FOREMAN_COST` line each time; Foreman's
//! own gates (red, green, reviews, full suite) decide, and the ticket merges.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::Value;

use crate::rig::{Db, Rig, Setup, count, demo_script};

const WITHIN: Duration = Duration::from_secs(120);

/// The content the demo script's implementer writes to `path`.
fn demo_content(script: &Value, path: &str) -> String {
    script["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["response"]["tool_use"]["input"].as_object())
        .find(|input| input.get("path").and_then(Value::as_str) == Some(path))
        .and_then(|input| input["content"].as_str())
        .unwrap_or_else(|| panic!("the demo script writes {path}"))
        .to_owned()
}

const AGENT: &str = r#"#!/bin/sh
# A coding agent for Foreman's command runner: the prompt is on stdin and in
# $FOREMAN_PROMPT_FILE; the working directory is the task's worktree.
set -e
here="$(dirname "$0")"
[ "$(pwd)" = "$FOREMAN_WORKTREE" ]
if grep -q "PHASE: TESTS" "$FOREMAN_PROMPT_FILE"; then
  mkdir -p tests
  cp "$here/test_multiply.py" tests/test_multiply.py
  echo "wrote tests/test_multiply.py"
  echo 'FOREMAN_COST {"usd":0.25,"input_tokens":2000,"output_tokens":300,"model":"e2e-coder"}'
else
  cp "$here/calc.py" calc.py
  echo "implemented multiply in calc.py"
  echo 'FOREMAN_COST {"usd":0.5,"input_tokens":3000,"output_tokens":400,"model":"e2e-coder"}'
fi
"#;

/// The agent script and the files it copies, in a directory of their own.
fn agent(script: &Value) -> (tempfile::TempDir, std::path::PathBuf) {
    let agent_dir = tempfile::tempdir().expect("tempdir");
    let agent = agent_dir.path().join("agent.sh");
    std::fs::write(&agent, AGENT).unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        agent_dir.path().join("test_multiply.py"),
        demo_content(script, "tests/test_multiply.py"),
    )
    .unwrap();
    std::fs::write(
        agent_dir.path().join("calc.py"),
        demo_content(script, "calc.py"),
    )
    .unwrap();
    (agent_dir, agent)
}

#[tokio::test]
async fn a_command_runner_implements_a_ticket_that_merges() {
    let script = demo_script();
    let (_agent_dir, agent) = agent(&script);

    let setup = Setup {
        agent_runner: vec![
            "provider = \"command\"".into(),
            format!("command = [\"{}\", \"{{worktree}}\"]", agent.display()),
            "max_cost_usd = 1.0".into(),
            "timeout = \"2m\"".into(),
        ],
        ..Setup::default()
    };
    let Some(rig) = Rig::start(Db::Sqlite, &script, &setup).await else {
        return;
    };
    let id = rig.create_ticket("Add a multiply function to calc").await;
    let t = rig.wait_for(&id, &["merged"], WITHIN).await;

    // The script's files are on the remote's main branch, past Foreman's gates.
    assert!(rig.remote_file("calc.py").contains("def multiply(a, b):"));
    assert!(
        rig.remote_file("tests/test_multiply.py")
            .contains("multiply")
    );
    let events = rig.event_types(&id).await;
    for ty in ["task_tdd_verify_pass", "task_committed", "pr_merged"] {
        assert_eq!(count(&events, ty), 1, "{ty} once in {events:?}");
    }

    // Both runs are recorded under the runner's label at the cost their lines reported; the
    // ticket's cost is the sum of every call.
    let calls = rig.get(&format!("/api/tickets/{id}/llm-calls")).await;
    let calls = calls.as_array().unwrap();
    let ours: Vec<&Value> = calls.iter().filter(|c| c["runner"] == "command").collect();
    let mut costs: Vec<f64> = ours
        .iter()
        .map(|c| c["cost_usd"].as_f64().unwrap())
        .collect();
    costs.sort_by(f64::total_cmp);
    assert_eq!(costs, [0.25, 0.5], "{ours:?}");
    for c in &ours {
        assert_eq!(c["provider"], "command", "{c}");
        assert_eq!(c["model"], "e2e-coder", "{c}");
        assert_eq!(c["role"], "implementer", "{c}");
        assert_eq!(c["status"], "success", "{c}");
    }
    let roles: Vec<&str> = calls.iter().filter_map(|c| c["role"].as_str()).collect();
    for role in [
        "planner",
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

    // The usage attribution counts the runner.
    let activity = rig.get("/api/usage/activity").await;
    let by_runner = activity["by_runner"].as_array().expect("by_runner");
    let command = by_runner
        .iter()
        .find(|r| r["runner"] == "command")
        .unwrap_or_else(|| panic!("command in {by_runner:?}"));
    assert_eq!(command["calls"], 2);
    assert!((command["cost_usd"].as_f64().unwrap() - 0.75).abs() < 1e-9);
    rig.finish().await;
}

/// The same runner with a ticket budget smaller than its reservation: the script is never
/// started, the ticket stops as blocked with the budget class, and the refusal is recorded.
#[tokio::test]
async fn a_command_runner_out_of_budget_is_never_started() {
    let script = demo_script();
    let (_agent_dir, agent) = agent(&script);
    let setup = Setup {
        agent_runner: vec![
            "provider = \"command\"".into(),
            format!("command = [\"{}\", \"{{worktree}}\"]", agent.display()),
            "max_cost_usd = 1.0".into(),
        ],
        cost: vec!["per_ticket_budget = 0.5".into()],
        ..Setup::default()
    };
    let Some(rig) = Rig::start(Db::Sqlite, &script, &setup).await else {
        return;
    };
    let id = rig.create_ticket("Add a multiply function to calc").await;
    let t = rig.wait_for(&id, &["blocked"], WITHIN).await;
    assert_eq!(t["last_error_type"], "budget", "{t}");
    let events = rig.event_types(&id).await;
    assert!(count(&events, "cost_exceeded") >= 1, "{events:?}");
    assert_eq!(count(&events, "task_committed"), 0, "{events:?}");

    let calls = rig.get(&format!("/api/tickets/{id}/llm-calls")).await;
    let ours: Vec<&Value> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["runner"] == "command")
        .collect();
    assert!(!ours.is_empty(), "the refusal is recorded");
    for c in &ours {
        assert_eq!(c["status"], "budget_exceeded", "the script ran: {c}");
        assert_eq!(c["cost_usd"], 0.0, "{c}");
    }
    assert!(!rig.remote_file("calc.py").contains("multiply"));
    rig.finish().await;
}
