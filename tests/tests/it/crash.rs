//! Crash recovery: the server is killed with SIGKILL again and again, at random moments
//! 0.3–2.5 s apart over the whole life of a ticket, and started again on the same database,
//! until the ticket is merged.
//!
//! The main case is a three-task ticket whose first two tasks change the same lines of
//! `calc.py` (a merge conflict the conflict resolver settles at integration), taken in from a
//! fake GitHub issue tracker that records every request, with every model answer slowed so
//! kills land inside every phase; it runs on SQLite and on PostgreSQL. Each slot first runs the
//! ticket once without kills (the baseline), then with kills, and every killed run must end
//! like the baseline: merged with exactly one pull request and one merge commit, every task
//! done once with a commit, the same tracker writes (each comment and status update exactly
//! once), the same implementation and review attempt counts, at most one LLM call more than
//! the baseline per kill (over the slot; at most two in one run per kill, the recorded calls of
//! an interrupted implementer run), costs equal to the sum of the recorded calls, no budget
//! reservation left, and the server healthy within 5 s of each restart. Tasks run one at a time
//! so that a kill interrupts one step. A one-task ticket (whose task works
//! in the ticket's own worktree) runs the same checks with the local tracker.
//!
//! `FOREMAN_CRASH_POINTS` sets how many kills per database (default 100 under CI, 12
//! otherwise; the one-task ticket gets a tenth); `FOREMAN_CRASH_SEED` replays a run (the seed
//! is printed); `FOREMAN_CRASH_DELAY_MS` sets the model answers' delay (default 300).
//! Each slot prints one `crash figures` line (kills, restart-to-ready times, repeated calls).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use foreman_fakes::github::FakeGitHub;
use serde_json::{Value, json};

use crate::rig::{
    Db, Rig, Setup, calc_edits, complete, conflict_resolution, demo_script, plan, prepend,
    write_file,
};

/// Kill points per database under CI.
const CI_POINTS: u64 = 100;
/// Slots (tests running side by side) per database for the conflict ticket.
const SLOTS: u64 = 2;
/// Within this time of being started again the server must answer.
const READY_WITHIN: Duration = Duration::from_secs(5);

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

fn delay_ms() -> u64 {
    std::env::var("FOREMAN_CRASH_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Every answer of the script (every role) delayed by `ms`.
fn slowed(mut script: Value, ms: u64) -> Value {
    for e in script["entries"].as_array_mut().unwrap() {
        e["delay_ms"] = json!(ms);
    }
    script
}

/// Three tasks: multiply and divide both added right after `add` in `calc.py` (their branches
/// conflict when integrated), and power in a file of its own after multiply.
fn conflict_script() -> Value {
    let tasks = json!([
        {"sequence": 1, "title": "Add multiply", "description": "multiply(a, b) in calc.py",
         "acceptance_criteria": "multiply(2, 3) == 6", "files_to_modify": ["calc.py", "tests/test_multiply.py"],
         "complexity": 1, "depends_on": []},
        {"sequence": 2, "title": "Add divide", "description": "divide(a, b) in calc.py",
         "acceptance_criteria": "divide(6, 3) == 2", "files_to_modify": ["calc.py", "tests/test_divide.py"],
         "complexity": 1, "depends_on": []},
        {"sequence": 3, "title": "Add power", "description": "power(a, b) in power.py",
         "acceptance_criteria": "power(2, 3) == 8", "files_to_modify": ["power.py", "tests/test_power.py"],
         "complexity": 1, "depends_on": [1]}
    ]);
    let power_test = "import importlib.util\nimport unittest\n\n\nclass PowerTest(unittest.TestCase):\n    def test_power(self):\n        self.assertIsNotNone(importlib.util.find_spec(\"power\"), \"power.py is missing\")\n        from power import power\n        self.assertEqual(power(2, 3), 8)\n";
    let mut entries = vec![plan(tasks, None)];
    entries.extend(conflict_resolution());
    entries.extend(calc_edits(false));
    entries.extend([
        complete(
            "power-tests-written",
            "(created|overwrote) tests/test_power\\.py",
            true,
            None,
        ),
        complete(
            "power-written",
            "(created|overwrote) power\\.py",
            true,
            None,
        ),
        write_file(
            "power-tests",
            "(?s)Task: Add power.*PHASE: TESTS",
            "tests/test_power.py",
            power_test,
            None,
        ),
        write_file(
            "power-impl",
            "(?s)Task: Add power.*PHASE: IMPLEMENT",
            "power.py",
            "def power(a, b):\n    return a ** b\n",
            None,
        ),
    ]);
    slowed(prepend(demo_script(), entries), delay_ms())
}

/// What a crash test runs and what the merged result must hold.
struct Case {
    script: Value,
    title: &'static str,
    tasks: usize,
    /// Files of the merged change on the remote, and text each must contain.
    merged: &'static [(&'static str, &'static str)],
    /// The ticket comes from a fake GitHub issue tracker (else the API and the local tracker).
    github: bool,
}

fn conflict_case() -> Case {
    Case {
        script: conflict_script(),
        title: "Add multiply, divide and power",
        tasks: 3,
        merged: &[
            ("calc.py", "def multiply"),
            ("calc.py", "def divide"),
            ("power.py", "def power"),
        ],
        github: true,
    }
}

fn one_task_case() -> Case {
    Case {
        script: slowed(demo_script(), delay_ms()),
        title: "Add multiply",
        tasks: 1,
        merged: &[("calc.py", "def multiply")],
        github: false,
    }
}

fn points_wanted() -> u64 {
    if let Ok(v) = std::env::var("FOREMAN_CRASH_POINTS") {
        return v.parse().expect("FOREMAN_CRASH_POINTS is a number");
    }
    if foreman_testkit::pg::under_ci() {
        CI_POINTS
    } else {
        12
    }
}

/// One run of the ticket: its rig, its fake tracker and its id.
struct Run {
    rig: Rig,
    /// The fake tracker and the issue's number.
    gh: Option<(FakeGitHub, i64)>,
    id: String,
}

async fn start_run(db: Db, case: &Case) -> Option<Run> {
    let gh = if case.github {
        let gh = FakeGitHub::start("acme", "calc", "ghp_fake").await;
        let issue = gh.add_issue(
            case.title,
            Some("calc.py can add.\n\n## Acceptance criteria\n- multiply, divide and power work"),
            &["foreman-ready"],
            "ada",
        );
        Some((gh, issue))
    } else {
        None
    };
    let setup = Setup {
        tracker: gh.as_ref().map_or_else(Vec::new, |(gh, _)| {
            vec![
                "provider = \"github\"".into(),
                "project = \"acme/calc\"".into(),
                "token = \"ghp_fake\"".into(),
                format!("base_url = \"{}\"", gh.url()),
                "poll_interval = \"200ms\"".into(),
            ]
        }),
        // one task at a time: a kill interrupts one step
        daemon: vec!["max_parallel_tasks = 1".into()],
        ..Setup::default()
    };
    let rig = Rig::start(db, &case.script, &setup).await?;
    let id = if gh.is_some() {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let list = rig.get("/api/tickets").await;
            if let Some(t) = list.as_array().and_then(|a| a.first()) {
                break t["id"].as_str().unwrap().to_owned();
            }
            assert!(Instant::now() < deadline, "the issue was not taken in");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        rig.create_ticket(case.title).await
    };
    Some(Run { rig, gh, id })
}

/// What a finished run did, compared between the baseline and the killed runs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    /// LLM calls recorded for the ticket.
    calls: usize,
    /// LLM calls by role.
    roles: BTreeMap<String, usize>,
    /// (implementation, spec review, quality review) attempts by task sequence.
    attempts: BTreeMap<i64, (i64, i64, i64)>,
    /// Writes to the tracker (method and path) with how many times each was made.
    tracker_writes: BTreeMap<String, usize>,
    /// Comments on the issue.
    comments: usize,
    /// Budget reservations left in the database.
    reservations: u64,
}

/// Checks the invariants every finished run must hold, and returns what it did.
async fn check_run(run: &Run, label: &str, case: &Case) -> Outcome {
    let Run { rig, gh, id } = run;
    let t = rig.get(&format!("/api/tickets/{id}")).await;
    assert_eq!(t["status"], "merged", "{label}: {t}");
    // Exactly one pull request at the host (the local host keeps them as settings; a kill
    // between its number counter and the record may skip a number, never add a request).
    let prs = rig
        .query("SELECT key FROM settings WHERE key LIKE 'local_host/%/pr/%' ORDER BY key")
        .await;
    assert_eq!(
        prs.len(),
        1,
        "{label}: one pull request at the host: {prs:?}"
    );
    assert!(
        t["pr_url"]
            .as_str()
            .is_some_and(|u| prs[0][0].ends_with(&format!("/pr/{}", u.rsplit('/').next().unwrap()))),
        "{label}: {t} vs {prs:?}"
    );

    let events = rig.all_events(id).await;
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    let count = |ty: &str| types.iter().filter(|t| **t == ty).count();
    assert_eq!(
        count("pr_created"),
        1,
        "{label}: one pull request: {types:?}"
    );
    assert_eq!(count("pr_merged"), 1, "{label}: {types:?}");
    if case.tasks > 1 {
        // The conflict met, and settled by the resolver: its event, or (a kill between the
        // resolution's merge commit and the event) a resumed run that did not meet it again.
        // The merged files on the remote, checked below, hold both sides either way.
        let met = types.iter().rposition(|t| *t == "merge_conflict");
        let resolved = count("merge_conflict_resolved") >= 1
            || met.is_some_and(|at| {
                types[at..].contains(&"pipeline_resumed_after_crash")
                    && !types[at..].contains(&"ticket_failed")
            });
        assert!(
            met.is_some() && resolved,
            "{label}: the conflict was met and resolved: {types:?}"
        );
        assert_eq!(
            count("rebase_conflict"),
            0,
            "{label}: the resolved task merges are not replayed by the rebase: {types:?}"
        );
    }

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
    let mut attempts = BTreeMap::new();
    for task in tasks.as_array().unwrap() {
        assert_eq!(task["status"], "done", "{label}: {task}");
        assert!(
            task["commit_sha"].as_str().is_some_and(|s| s.len() >= 7),
            "{label}: {task}"
        );
        attempts.insert(
            task["sequence"].as_i64().unwrap(),
            (
                task["implementation_attempts"].as_i64().unwrap(),
                task["spec_review_attempts"].as_i64().unwrap(),
                task["quality_review_attempts"].as_i64().unwrap(),
            ),
        );
    }

    // Costs add up: the ticket's total is the sum of its recorded calls, and today's spend
    // equals it (a call counted twice would break one of the two).
    let calls = rig.get(&format!("/api/tickets/{id}/llm-calls")).await;
    let calls = calls.as_array().unwrap();
    let mut roles = BTreeMap::new();
    for c in calls {
        *roles
            .entry(c["role"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    let sum: f64 = calls.iter().filter_map(|c| c["cost_usd"].as_f64()).sum();
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
    // Budget reservations still held (asserted last, after everything else the run did).
    let held = rig
        .query("SELECT CAST(COUNT(*) AS TEXT) FROM cost_reservations")
        .await;
    let reservations = held[0][0].parse().expect("a count");
    // The remote has the merged change exactly once.
    for (file, text) in case.merged {
        assert!(
            rig.remote_file(file).contains(text),
            "{label}: {file} lacks {text}"
        );
    }
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

    // What the tracker was told: every write, counted by method and path.
    let mut tracker_writes = BTreeMap::new();
    let mut comments = 0;
    if let Some((gh, issue)) = gh {
        for r in gh.control.requests() {
            if r.method != "GET" && r.method != "HEAD" {
                *tracker_writes
                    .entry(format!("{} {}", r.method, r.path))
                    .or_default() += 1;
            }
        }
        let issue = gh.issue(*issue).expect("the issue");
        comments = issue.comments.len();
        let mut bodies: Vec<&str> = issue.comments.iter().map(|c| c.body.as_str()).collect();
        bodies.sort_unstable();
        let n = bodies.len();
        bodies.dedup();
        assert_eq!(
            bodies.len(),
            n,
            "{label}: a comment posted twice: {bodies:?}"
        );
    }
    Outcome {
        calls: calls.len(),
        roles,
        attempts,
        tracker_writes,
        comments,
        reservations,
    }
}

/// The figures of one slot.
#[derive(Debug, Default)]
struct Figures {
    kills: u64,
    runs: u64,
    /// Restart-to-ready times (process start to a healthy answer).
    ready: Vec<Duration>,
    /// LLM calls beyond the baseline, per killed run, with the kills of that run.
    repeated: Vec<(usize, u64)>,
    /// LLM calls beyond the baseline by role, over every killed run.
    repeated_by_role: BTreeMap<String, usize>,
    /// Kills by what was going on: the ticket's status and the phases of its open tasks.
    at: BTreeMap<String, u64>,
    /// Budget reservations left in the database at the end of each killed run.
    reservations_left: Vec<u64>,
}

impl Figures {
    fn print(&self, db: Db, slot: u64, seed: u64) {
        let mut ready: Vec<u128> = self.ready.iter().map(Duration::as_millis).collect();
        ready.sort_unstable();
        let pct = |p: usize| {
            ready
                .get((ready.len().saturating_sub(1)) * p / 100)
                .copied()
                .unwrap_or(0)
        };
        let repeated: usize = self.repeated.iter().map(|(n, _)| n).sum();
        let worst = self
            .repeated
            .iter()
            .map(|(n, k)| format!("{n}/{k}"))
            .collect::<Vec<_>>()
            .join(" ");
        eprintln!(
            "crash figures {db:?} slot {slot} seed {seed}: {} kills survived in {} runs; \
             restart-to-ready ms min {} p50 {} p90 {} max {}; repeated LLM calls {repeated} \
             in total (per run repeated/kills: {worst}; by role {:?}); budget reservations left \
             per run {:?}; kills at {:?}",
            self.kills,
            self.runs,
            pct(0),
            pct(50),
            pct(90),
            pct(100),
            self.repeated_by_role,
            self.reservations_left,
            self.at
        );
    }
}

fn seed() -> u64 {
    std::env::var("FOREMAN_CRASH_SEED")
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
        })
}

/// What the ticket and its open tasks were doing just before a kill.
async fn doing(run: &Run) -> String {
    let t = run.rig.get(&format!("/api/tickets/{}", run.id)).await;
    let status = t["status"].as_str().unwrap_or("?").to_owned();
    if status != "implementing" {
        return status;
    }
    let phases = run
        .rig
        .query("SELECT phase FROM tasks WHERE status NOT IN ('done', 'pending') ORDER BY sequence")
        .await;
    let phases: Vec<&str> = phases.iter().map(|r| r[0].as_str()).collect();
    format!("implementing:{}", phases.join("+"))
}

async fn crash_runs(db: Db, slot: u64, slots: u64, case: &Case, total: u64) {
    let mine = total / slots + u64::from(slot < total % slots);
    let seed = seed();
    eprintln!("crash {db:?} slot {slot}: {mine} kill points, FOREMAN_CRASH_SEED={seed}");
    let mut rng = Rng((seed ^ (slot + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);

    // The baseline: the same ticket without kills.
    let Some(base) = start_run(db, case).await else {
        return;
    };
    base.rig
        .wait_for(&base.id, &["merged"], Duration::from_secs(180))
        .await;
    let baseline = check_run(&base, &format!("{db:?} slot {slot} baseline"), case).await;
    assert_eq!(
        baseline.reservations, 0,
        "the baseline leaves no reservation"
    );
    if case.github {
        assert!(
            baseline
                .tracker_writes
                .keys()
                .any(|k| k.ends_with("/comments")),
            "the baseline comments on the issue: {baseline:?}"
        );
    }
    base.rig.finish().await;

    let mut figures = Figures::default();
    while figures.kills < mine {
        figures.runs += 1;
        let mut run = start_run(db, case).await.expect("database available");
        let mut at = Vec::new();
        let mut kills = 0;
        // Kills 0.3–2.5 s apart until the ticket is merged (or this slot has its points).
        while figures.kills < mine {
            let wait = Duration::from_millis(300 + rng.below(2_200));
            tokio::time::sleep(wait).await;
            let what = doing(&run).await;
            if what == "merged" {
                break;
            }
            run.rig.kill();
            figures.kills += 1;
            kills += 1;
            *figures.at.entry(what.clone()).or_default() += 1;
            at.push(format!("{}ms/{what}", wait.as_millis()));
            let ready = run.rig.restart().await;
            assert!(
                ready < READY_WITHIN,
                "{db:?} slot {slot}: the server took {ready:?} to be ready after a restart"
            );
            figures.ready.push(ready);
        }
        let label = format!(
            "{db:?} slot {slot} run {} (seed {seed}, kills at {at:?})",
            figures.runs
        );
        let started = Instant::now();
        run.rig
            .wait_for(&run.id, &["merged"], Duration::from_secs(180))
            .await;
        eprintln!(
            "{label}: merged {:?} after the last restart",
            started.elapsed()
        );
        let outcome = check_run(&run, &label, case).await;
        assert_eq!(
            outcome.attempts, baseline.attempts,
            "{label}: attempts as without kills"
        );
        assert_eq!(
            outcome.tracker_writes, baseline.tracker_writes,
            "{label}: each tracker comment and status update exactly once"
        );
        assert_eq!(outcome.comments, baseline.comments, "{label}");
        let repeated = outcome.calls.saturating_sub(baseline.calls);
        assert!(
            outcome.calls >= baseline.calls,
            "{label}: fewer calls than without kills: {} < {}",
            outcome.calls,
            baseline.calls
        );
        // A kill interrupts one step (tasks run one at a time here), and a step repeats at most
        // the calls it had recorded: two for an implementer or conflict resolver run.
        assert!(
            repeated <= 2 * usize::try_from(kills).unwrap(),
            "{label}: {repeated} LLM calls repeated for {kills} kills"
        );
        if repeated > usize::try_from(kills).unwrap() {
            eprintln!(
                "{label}: {repeated} calls repeated: {:?} vs {:?}; events {:?}",
                outcome.roles,
                baseline.roles,
                run.rig
                    .all_events(&run.id)
                    .await
                    .iter()
                    .filter_map(|e| e["event_type"].as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            );
        }
        figures.repeated.push((repeated, kills));
        for (role, n) in &outcome.roles {
            let extra = n.saturating_sub(baseline.roles.get(role).copied().unwrap_or(0));
            *figures.repeated_by_role.entry(role.clone()).or_default() += extra;
        }
        figures.reservations_left.push(outcome.reservations);
        run.rig.finish().await;
    }
    figures.print(db, slot, seed);
    // Budgets fully released: no reservation is left behind by a call a kill interrupted.
    assert!(
        figures.reservations_left.iter().all(|n| *n == 0),
        "{db:?} slot {slot}: budget reservations left per run: {:?}",
        figures.reservations_left
    );
    // At most one repeated LLM call per kill.
    let repeated: usize = figures.repeated.iter().map(|(n, _)| n).sum();
    assert!(
        repeated <= usize::try_from(figures.kills).unwrap(),
        "{db:?} slot {slot}: {repeated} LLM calls repeated for {} kills",
        figures.kills
    );
}

#[tokio::test]
async fn sigkill_through_a_conflicting_three_task_ticket_on_sqlite_1() {
    crash_runs(Db::Sqlite, 0, SLOTS, &conflict_case(), points_wanted()).await;
}

#[tokio::test]
async fn sigkill_through_a_conflicting_three_task_ticket_on_sqlite_2() {
    crash_runs(Db::Sqlite, 1, SLOTS, &conflict_case(), points_wanted()).await;
}

#[tokio::test]
async fn sigkill_through_a_conflicting_three_task_ticket_on_postgres_1() {
    crash_runs(Db::Postgres, 0, SLOTS, &conflict_case(), points_wanted()).await;
}

#[tokio::test]
async fn sigkill_through_a_conflicting_three_task_ticket_on_postgres_2() {
    crash_runs(Db::Postgres, 1, SLOTS, &conflict_case(), points_wanted()).await;
}

#[tokio::test]
async fn sigkill_through_a_one_task_ticket_loses_nothing() {
    crash_runs(
        Db::Sqlite,
        0,
        1,
        &one_task_case(),
        points_wanted().div_ceil(10),
    )
    .await;
}

/// Kills the server the moment each phase of the one task is recorded — its tests written,
/// its implementation written, its gates passed, its spec review passed — and checks that
/// the restarted task resumed there every time: the same LLM calls as a run without kills (no
/// finished step asked for again), one implementation attempt, one round of each review.
#[tokio::test]
async fn a_task_killed_after_each_phase_resumes_at_the_next_one() {
    let case = one_task_case();
    let Some(base) = start_run(Db::Sqlite, &case).await else {
        return;
    };
    base.rig
        .wait_for(&base.id, &["merged"], Duration::from_secs(120))
        .await;
    let baseline = check_run(&base, "baseline", &case).await;
    base.rig.finish().await;

    let mut run = start_run(Db::Sqlite, &case).await.unwrap();
    let mut seen = Vec::new();
    for phase in [
        "tests_written",
        "implementation_written",
        "gates_passed",
        "spec_review_passed",
    ] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rows = run.rig.query("SELECT phase FROM tasks").await;
            if let Some(now) = rows.first().map(|r| r[0].clone())
                && now == phase
            {
                break;
            }
            assert!(Instant::now() < deadline, "phase {phase} never recorded");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        run.rig.kill();
        seen.push(phase);
        let ready = run.rig.restart().await;
        assert!(ready < READY_WITHIN, "{ready:?}");
    }
    run.rig
        .wait_for(&run.id, &["merged"], Duration::from_secs(120))
        .await;
    let outcome = check_run(&run, &format!("killed after {seen:?}"), &case).await;
    assert_eq!(outcome.attempts, baseline.attempts, "{outcome:?}");
    assert_eq!(
        outcome.attempts.values().next(),
        Some(&(1, 1, 1)),
        "{outcome:?}"
    );
    assert_eq!(
        outcome.calls, baseline.calls,
        "no finished step was asked for again: {outcome:?} vs {baseline:?}"
    );
    let types = run.rig.event_types(&run.id).await;
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "pipeline_resumed_after_crash")
            .count(),
        4,
        "{types:?}"
    );
    run.rig.finish().await;
}
