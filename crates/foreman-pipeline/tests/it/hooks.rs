//! Hooks on a real run: a `pre_pr` changelog skill whose file lands on the pull request's
//! branch, a blocking `post_task` hook whose failure is fed back and fixed on the next attempt,
//! a failing non-blocking hook the ticket survives, and both metrics.

use std::collections::BTreeMap;
use std::time::Duration;

use foreman_domain::skill::{HookConfig, HookPoint, Skill, SkillStep, StepKind, WriteMode};
use foreman_domain::{EventType, TicketOptions, TicketStatus};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::{Value, json};

use crate::rig::{Rig, Setup, git_out, script};

fn skill(name: &str, steps: Vec<(&str, StepKind)>) -> Skill {
    Skill {
        name: name.into(),
        description: format!("{name} (test)"),
        hooks: Vec::new(),
        inputs: Vec::new(),
        steps: steps
            .into_iter()
            .map(|(id, kind)| SkillStep {
                id: id.into(),
                kind,
            })
            .collect(),
        body: String::new(),
    }
}

fn hook(point: HookPoint, skills: &[&str], blocking: bool) -> HookConfig {
    HookConfig {
        point,
        skills: skills.iter().map(|s| (*s).to_owned()).collect(),
        inputs: BTreeMap::new(),
        timeout: Duration::from_secs(120),
        blocking,
        projects: Vec::new(),
    }
}

/// The rig's script with `entries` first (the first entry that fits answers).
fn script_with_first(entries: Vec<Value>) -> Value {
    let mut s = script();
    let rest = s["entries"].as_array().unwrap().clone();
    s["entries"] = Value::Array(entries.into_iter().chain(rest).collect());
    s
}

fn run_counting<T>(work: impl Future<Output = T>) -> (T, BTreeMap<String, u64>) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let out = {
        let _guard = metrics::set_default_local_recorder(&recorder);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    };
    let mut counts = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let DebugValue::Counter(n) = value else {
            continue;
        };
        let key = key.key();
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        counts.insert(format!("{}{{{}}}", key.name(), labels.join(",")), n);
    }
    (out, counts)
}

#[test]
fn a_pre_pr_changelog_lands_on_the_pull_request_branch_and_both_metrics_count_it() {
    let (_, counts) = run_counting(async {
        let changelog = skill(
            "changelog",
            vec![
                (
                    "entry",
                    StepKind::LlmCall {
                        role: "final_reviewer".into(),
                        template: "Write a changelog entry for {{ ticket.external_id }}: {{ ticket.title }}\n\n{{ diff }}".into(),
                        output_schema: None,
                        max_tokens: Some(200),
                    },
                ),
                (
                    "write",
                    StepKind::FileWrite {
                        path: "CHANGELOG.md".into(),
                        content: "## {{ ticket.external_id }}\n{{ steps.entry.output }}\n".into(),
                        mode: WriteMode::Prepend,
                    },
                ),
            ],
        );
        let entry = json!({"name": "changelog", "role": "final_reviewer", "match": "changelog entry for CALC-1",
            "response": {"text": "- Added multiply(a, b).", "usage": {"input_tokens": 500, "output_tokens": 12}}});
        let mut rig = Rig::start(Setup {
            script: Some(script_with_first(vec![entry])),
            skills: vec![changelog],
            hooks: vec![hook(HookPoint::PrePr, &["changelog"], true)],
            ..Setup::default()
        })
        .await;
        let t = rig.submit(TicketOptions::default()).await;
        let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
        assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);
        let remote = rig.remote.clone();
        let on_branch = git_out(
            &remote,
            &["show", &format!("{}:CHANGELOG.md", done.branch_name)],
        );
        assert_eq!(on_branch, "## CALC-1\n- Added multiply(a, b).");
        let log = git_out(&remote, &["log", "--format=%s", &done.branch_name]);
        assert!(log.lines().any(|l| l == "chore: pre_pr hooks"), "{log}");
        // the call was metered like every other, attributed to the ticket
        let calls = rig.store.list_llm_calls(&t.id).await.unwrap();
        assert!(
            calls
                .iter()
                .any(|c| c.role == "final_reviewer" && c.task_id.is_none()),
            "{calls:?}"
        );
        let events = rig.events(&t.id).await;
        let step_events: Vec<&str> = events
            .iter()
            .filter(|e| e.event_type == EventType::SkillStepCompleted)
            .map(|e| e.details.as_ref().unwrap()["step"].as_str().unwrap())
            .collect();
        assert_eq!(step_events, ["entry", "write"]);
        assert!(rig.saw(&t.id, EventType::HookPassed).await);
        rig.stop().await;
    });
    assert_eq!(counts["foreman_hook_executions_total{hook=pre_pr}"], 1);
    assert_eq!(
        counts["foreman_skill_executions_total{skill=changelog,status=success}"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_post_task_hook_failure_is_fed_back_and_fixed_on_the_next_attempt() {
    let check = skill(
        "docstring-check",
        vec![(
            "check",
            StepKind::RunCommand {
                command: "grep -q Checked-by-hook calc.py".into(),
                allow_failure: false,
                timeout_secs: Some(30),
            },
        )],
    );
    let calc = "\"\"\"A tiny calculator. Checked-by-hook.\"\"\"\n\n\ndef add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n\n\ndef multiply(a, b):\n    \"\"\"Return the product of a and b.\"\"\"\n    return a * b\n";
    // on the retry the implementer reads the hook's failure and marks the module
    let fix = json!({"name": "fix", "role": "implementer", "match": "post_task hook failed in skill docstring-check",
        "response": {"tool_use": {"name": "write_file", "input": {"path": "calc.py", "content": calc}},
            "usage": {"input_tokens": 3000, "output_tokens": 120}}});
    let mut rig = Rig::start(Setup {
        script: Some(script_with_first(vec![fix])),
        skills: vec![check],
        hooks: vec![hook(HookPoint::PostTask, &["docstring-check"], true)],
        ..Setup::default()
    })
    .await;
    let t = rig.submit(TicketOptions::default()).await;
    let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);
    let tasks = rig.store.list_tasks(&t.id).await.unwrap();
    assert_eq!(tasks[0].implementation_attempts, 2);
    let events = rig.events(&t.id).await;
    let hooks: Vec<(EventType, bool)> = events
        .iter()
        .filter(|e| matches!(e.event_type, EventType::HookFailed | EventType::HookPassed))
        .map(|e| {
            (
                e.event_type,
                e.details.as_ref().unwrap()["point"] == "post_task",
            )
        })
        .collect();
    assert_eq!(
        hooks,
        [(EventType::HookFailed, true), (EventType::HookPassed, true)]
    );
    let failed = events
        .iter()
        .find(|e| e.event_type == EventType::HookFailed)
        .unwrap();
    let d = failed.details.as_ref().unwrap();
    assert_eq!(d["blocking"], true);
    assert_eq!(d["skill"], "docstring-check");
    assert_eq!(d["step"], "check");
    assert_eq!(failed.task_id.as_ref(), Some(&tasks[0].id));
    let merged = git_out(&rig.remote, &["show", "main:calc.py"]);
    assert!(merged.contains("Checked-by-hook"), "{merged}");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_non_blocking_hook_is_recorded_and_the_ticket_goes_on() {
    let broken = skill(
        "broken",
        vec![(
            "fail",
            StepKind::RunCommand {
                command: "false".into(),
                allow_failure: false,
                timeout_secs: None,
            },
        )],
    );
    let mut rig = Rig::start(Setup {
        skills: vec![broken],
        hooks: vec![
            hook(HookPoint::PrePlan, &["broken"], false),
            hook(HookPoint::PostPr, &["broken"], false),
        ],
        ..Setup::default()
    })
    .await;
    let t = rig.submit(TicketOptions::default()).await;
    let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);
    assert!(done.pr_number.is_some());
    let failed: Vec<Value> = rig
        .events(&t.id)
        .await
        .into_iter()
        .filter(|e| e.event_type == EventType::HookFailed)
        .map(|e| e.details.unwrap())
        .collect();
    let points: Vec<&str> = failed
        .iter()
        .map(|d| d["point"].as_str().unwrap())
        .collect();
    assert_eq!(points, ["pre_plan", "post_pr"]);
    assert!(failed.iter().all(|d| d["blocking"] == false));
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_blocking_hook_at_a_ticket_point_fails_the_ticket() {
    let broken = skill(
        "broken",
        vec![(
            "fail",
            StepKind::RunCommand {
                command: "false".into(),
                allow_failure: false,
                timeout_secs: None,
            },
        )],
    );
    let mut rig = Rig::start(Setup {
        skills: vec![broken],
        hooks: vec![hook(HookPoint::PrePlan, &["broken"], true)],
        ..Setup::default()
    })
    .await;
    let t = rig.submit(TicketOptions::default()).await;
    let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Failed);
    let error = done.last_error.unwrap_or_default();
    assert!(
        error.contains("pre_plan hook failed: skill broken step fail"),
        "{error}"
    );
    // the planner was never asked
    assert!(!rig.saw(&t.id, EventType::PlanCreated).await);
    rig.stop().await;
}

/// A pull request whose creation fails (a transient fault) is tried again from the ticket's
/// step, which runs the full suite and the final review again; the `pre_pr` hook ran on that
/// head already, so the prepended changelog entry is written once. The control that the hook's
/// point was passed twice: the final review (just before it) is called twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_pull_request_does_not_run_pre_pr_hooks_twice() {
    let changelog = skill(
        "changelog",
        vec![(
            "write",
            StepKind::FileWrite {
                path: "CHANGELOG.md".into(),
                content: "- {{ ticket.title }}\n".into(),
                mode: WriteMode::Prepend,
            },
        )],
    );
    let mut rig = Rig::start(Setup {
        skills: vec![changelog],
        hooks: vec![hook(HookPoint::PrePr, &["changelog"], true)],
        pr_failures: 1,
        ..Setup::default()
    })
    .await;
    let t = rig.submit(TicketOptions::default()).await;
    let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);
    // the pull request's creation was retried: two final reviews, one pre_pr run
    let events = rig.events(&t.id).await;
    let backoffs = events
        .iter()
        .filter(|e| e.event_type == EventType::RateLimitBackoff)
        .count();
    assert_eq!(backoffs, 1, "the creation failed once and was retried");
    let final_reviews = rig
        .store
        .list_llm_calls(&t.id)
        .await
        .unwrap()
        .iter()
        .filter(|c| c.role == "final_reviewer")
        .count();
    assert_eq!(final_reviews, 2, "the step before the hook ran twice");
    let runs = events
        .iter()
        .filter(|e| e.event_type == EventType::HookStarted)
        .count();
    assert_eq!(runs, 1, "pre_pr ran once");
    let on_branch = git_out(
        &rig.remote,
        &["show", &format!("{}:CHANGELOG.md", done.branch_name)],
    );
    assert_eq!(on_branch.lines().count(), 1, "{on_branch}");
    let marker = rig
        .store
        .get_setting(&format!("hooks:pre_pr:{}", t.id))
        .await
        .unwrap();
    let head = git_out(&rig.remote, &["rev-parse", &done.branch_name]);
    assert_eq!(marker.as_deref(), Some(head.trim()));
    rig.stop().await;
}

/// What `pre_pr` skills write passes the commit gate: a file that adds a token fails the
/// ticket as `secret` and is neither committed nor pushed. The control is the changelog test
/// above: the same skill shape with a harmless line lands on the pull request branch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_written_by_a_pre_pr_skill_is_never_committed_or_pushed() {
    let token = format!("ghp_{}", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5");
    let leak = skill(
        "leak",
        vec![(
            "write",
            StepKind::FileWrite {
                path: "NOTES.md".into(),
                content: format!("deploy with {token}\n"),
                mode: WriteMode::Overwrite,
            },
        )],
    );
    let mut rig = Rig::start(Setup {
        skills: vec![leak],
        // not blocking: the gate refuses the commit whatever the hook's flag says
        hooks: vec![hook(HookPoint::PrePr, &["leak"], false)],
        ..Setup::default()
    })
    .await;
    let t = rig.submit(TicketOptions::default()).await;
    let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Failed);
    assert_eq!(
        done.last_error_type.as_deref(),
        Some("secret"),
        "{:?}",
        done.last_error
    );
    let reason = done.last_error.clone().unwrap_or_default();
    assert!(reason.contains("NOTES.md:1"), "{reason}");
    assert!(
        !reason.contains(&token[..12]),
        "the reason never holds the value: {reason}"
    );
    assert!(rig.saw(&t.id, EventType::SecretsDetected).await);
    // nothing of it on the remote: no branch, or a branch without the file
    let branches = git_out(&rig.remote, &["branch", "--list", &done.branch_name]);
    if !branches.trim().is_empty() {
        let files = git_out(
            &rig.remote,
            &["ls-tree", "-r", "--name-only", &done.branch_name],
        );
        assert!(!files.lines().any(|f| f == "NOTES.md"), "{files}");
    }
    let everything = git_out(&rig.remote, &["log", "--all", "-p"]);
    assert!(!everything.contains(&token), "the token reached the remote");
    rig.stop().await;
}
