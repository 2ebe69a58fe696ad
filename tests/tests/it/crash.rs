//! Crash recovery: the server is killed with SIGKILL at random points of a three-task ticket
//! (and of a one-task ticket, whose task works in the ticket's own worktree) and started again
//! on the same database, until the ticket is merged. Every run must end with exactly one pull
//! request, every task done once and never re-run after it was done, and costs that add up
//! (no call counted twice).
//!
//! `FOREMAN_CRASH_POINTS` sets how many kills in total for the three-task ticket (default 30
//! under CI, 6 otherwise; the one-task ticket gets a third of that); `FOREMAN_CRASH_SEED`
//! replays a run (the seed is printed).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::rig::{Db, Rig, Setup, complete, demo_script, plan, prepend, write_file};

/// A small deterministic generator (xorshift), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn slow(mut entry: Value, ms: u64) -> Value {
    entry["delay_ms"] = json!(ms);
    entry
}

/// Three dependent tasks (multiply, then divide, then power), each written test-first, with
/// a delay on every implementer answer so kills land inside steps as well as between them.
fn script() -> Value {
    let tasks = json!([
        {"sequence": 1, "title": "Add multiply", "description": "multiply(a, b) in calc.py",
         "acceptance_criteria": "multiply(2, 3) == 6", "files_to_modify": ["calc.py", "tests/test_multiply.py"],
         "complexity": 1, "depends_on": []},
        {"sequence": 2, "title": "Add divide", "description": "divide(a, b) in divide.py",
         "acceptance_criteria": "divide(6, 3) == 2", "files_to_modify": ["divide.py", "tests/test_divide.py"],
         "complexity": 1, "depends_on": [1]},
        {"sequence": 3, "title": "Add power", "description": "power(a, b) in power.py",
         "acceptance_criteria": "power(2, 3) == 8", "files_to_modify": ["power.py", "tests/test_power.py"],
         "complexity": 1, "depends_on": [2]}
    ]);
    let module_test = |module: &str, call: &str, expected: &str| {
        format!(
            "import importlib.util\nimport unittest\n\n\nclass {m}Test(unittest.TestCase):\n    def test_{module}(self):\n        self.assertIsNotNone(importlib.util.find_spec(\"{module}\"), \"{module}.py is missing\")\n        from {module} import {module}\n        self.assertEqual({call}, {expected})\n",
            m = module.to_uppercase()
        )
    };
    let mut entries = vec![plan(tasks, None)];
    for (module, call, expected, body) in [
        ("divide", "divide(6, 3)", "2", "a / b"),
        ("power", "power(2, 3)", "8", "a ** b"),
    ] {
        let title = if module == "divide" {
            "Add divide"
        } else {
            "Add power"
        };
        entries.push(slow(
            complete(
                &format!("{module}-tests-written"),
                &format!("(created|overwrote) tests/test_{module}\\.py"),
                true,
                None,
            ),
            120,
        ));
        entries.push(slow(
            complete(
                &format!("{module}-written"),
                &format!("(created|overwrote) {module}\\.py"),
                true,
                None,
            ),
            120,
        ));
        entries.push(slow(
            write_file(
                &format!("{module}-tests"),
                &format!("(?s)Task: {title}.*PHASE: TESTS"),
                &format!("tests/test_{module}.py"),
                &module_test(module, call, expected),
                None,
            ),
            120,
        ));
        entries.push(slow(
            write_file(
                &format!("{module}-impl"),
                &format!("(?s)Task: {title}.*PHASE: IMPLEMENT"),
                &format!("{module}.py"),
                &format!("def {module}(a, b):\n    return {body}\n"),
                None,
            ),
            120,
        ));
    }
    let mut script = prepend(demo_script(), entries);
    for e in script["entries"].as_array_mut().unwrap() {
        if e["role"] == "implementer" && e.get("delay_ms").is_none() {
            e["delay_ms"] = json!(120);
        }
    }
    script
}

/// The demo's one-task ticket (multiply in calc.py), with a delay on every implementer answer.
fn one_task_script() -> Value {
    let mut script = demo_script();
    for e in script["entries"].as_array_mut().unwrap() {
        if e["role"] == "implementer" {
            e["delay_ms"] = json!(150);
        }
    }
    script
}

/// What a crash test runs and what the merged result must hold.
struct Case {
    script: Value,
    title: &'static str,
    tasks: usize,
    /// A file of the merged change on the remote, and text it must contain.
    merged: (&'static str, &'static str),
}

fn three_tasks() -> Case {
    Case {
        script: script(),
        title: "Add multiply, divide and power",
        tasks: 3,
        merged: ("power.py", "def power"),
    }
}

fn one_task() -> Case {
    Case {
        script: one_task_script(),
        title: "Add multiply",
        tasks: 1,
        merged: ("calc.py", "def multiply"),
    }
}

fn points_wanted() -> u64 {
    if let Ok(v) = std::env::var("FOREMAN_CRASH_POINTS") {
        return v.parse().expect("FOREMAN_CRASH_POINTS is a number");
    }
    if foreman_testkit::pg::under_ci() {
        30
    } else {
        6
    }
}

/// Checks the invariants of a finished run.
async fn check_run(rig: &Rig, id: &str, label: &str, case: &Case) {
    let t = rig.get(&format!("/api/tickets/{id}")).await;
    assert_eq!(t["status"], "merged", "{label}: {t}");
    assert!(
        t["pr_url"].as_str().unwrap().ends_with("/pulls/1"),
        "{label}: {t}"
    );

    let events = rig.get("/api/events?limit=1000").await;
    let events = events.as_array().cloned().expect("events");
    let mut events: Vec<&Value> = events.iter().filter(|e| e["ticket_id"] == id).collect();
    events.sort_by_key(|e| e["seq"].as_i64());
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types.iter().filter(|t| **t == "pr_created").count(),
        1,
        "{label}: one pull request: {types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| **t == "pr_merged").count(),
        1,
        "{label}: {types:?}"
    );

    // Every task done exactly once, and never started again after it was done.
    let mut done: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        let Some(task) = e["task_id"].as_str() else {
            continue;
        };
        match e["event_type"].as_str() {
            Some("task_done") => *done.entry(task.to_owned()).or_default() += 1,
            Some("task_started") => assert!(
                !done.contains_key(task),
                "{label}: task {task} started again after it was done: {types:?}"
            ),
            _ => {}
        }
    }
    assert_eq!(done.len(), case.tasks, "{label}: {done:?}");
    assert!(done.values().all(|n| *n == 1), "{label}: {done:?}");
    let tasks = rig.get(&format!("/api/tickets/{id}/tasks")).await;
    for task in tasks.as_array().unwrap() {
        assert_eq!(task["status"], "done", "{label}: {task}");
        assert!(
            task["commit_sha"].as_str().is_some_and(|s| s.len() >= 7),
            "{label}: {task}"
        );
    }

    // Costs add up: the ticket's total is the sum of its recorded calls, and today's spend
    // equals it (a call counted twice would break one of the two).
    let calls = rig.get(&format!("/api/tickets/{id}/llm-calls")).await;
    let sum: f64 = calls
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["cost_usd"].as_f64())
        .sum();
    let total = t["cost_usd"].as_f64().unwrap();
    assert!(
        (sum - total).abs() < 1e-6,
        "{label}: calls sum {sum} vs ticket {total}"
    );
    let today = rig.get("/api/costs/today").await;
    let spent = today["cost_usd"].as_f64().expect("cost_usd");
    assert!(
        (spent - total).abs() < 1e-6,
        "{label}: today {spent} vs ticket {total}: {today}"
    );

    // The remote has the merged change exactly once.
    let (file, text) = case.merged;
    assert!(rig.remote_file(file).contains(text), "{label}");
    let merges = std::process::Command::new("git")
        .args(["--git-dir"])
        .arg(&rig.remote)
        .args(["log", "--merges", "--format=%s", "main"])
        .output()
        .unwrap();
    let merges = String::from_utf8_lossy(&merges.stdout);
    assert_eq!(
        merges
            .lines()
            .filter(|l| l.starts_with("Merge pull request"))
            .count(),
        1,
        "{label}: {merges}"
    );
}

async fn crash_runs(slot: u64, slots: u64, case: &Case, total: u64) {
    let mine = total / slots + u64::from(slot < total % slots);
    let seed: u64 = std::env::var("FOREMAN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            u64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_micros()
                    % 1_000_000_007,
            )
            .unwrap()
        });
    eprintln!("crash slot {slot}: {mine} kill points, FOREMAN_CRASH_SEED={seed}");
    let mut rng = Rng((seed ^ (slot + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
    let mut points = 0;
    let mut run = 0;
    while points < mine {
        run += 1;
        let mut rig = Rig::start(Db::Sqlite, &case.script, &Setup::default())
            .await
            .unwrap();
        let id = rig.create_ticket(case.title).await;
        // One or two kills per run, at random moments of the ticket's life.
        let kills = 1 + rng.below(2).min(mine - points - 1);
        let mut at = Vec::new();
        for _ in 0..kills {
            let wait = Duration::from_millis(rng.below(4_000));
            tokio::time::sleep(wait).await;
            let t = rig.get(&format!("/api/tickets/{id}")).await;
            at.push(format!(
                "{}ms/{}",
                wait.as_millis(),
                t["status"].as_str().unwrap_or("?")
            ));
            rig.kill();
            points += 1;
            rig.restart().await;
        }
        let label = format!("slot {slot} run {run} (seed {seed}, kills at {at:?})");
        let started = Instant::now();
        rig.wait_for(&id, &["merged"], Duration::from_secs(120))
            .await;
        eprintln!(
            "{label}: merged {:?} after the last restart",
            started.elapsed()
        );
        check_run(&rig, &id, &label, case).await;
        rig.finish().await;
    }
}

#[tokio::test]
async fn sigkill_at_random_points_loses_nothing_and_duplicates_nothing_1() {
    crash_runs(0, 3, &three_tasks(), points_wanted()).await;
}

#[tokio::test]
async fn sigkill_at_random_points_loses_nothing_and_duplicates_nothing_2() {
    crash_runs(1, 3, &three_tasks(), points_wanted()).await;
}

#[tokio::test]
async fn sigkill_at_random_points_loses_nothing_and_duplicates_nothing_3() {
    crash_runs(2, 3, &three_tasks(), points_wanted()).await;
}

#[tokio::test]
async fn sigkill_at_random_points_of_a_one_task_ticket_loses_nothing() {
    crash_runs(0, 1, &one_task(), points_wanted().div_ceil(3)).await;
}
