//! Cancelling a running ticket at each stage boundary: the stage's call is interrupted, the
//! ticket ends `failed` with the reason `cancelled`, the costs recorded so far stay, the work so
//! far stays on its branch, and nothing runs after it.

use std::time::Duration;

use foreman_domain::{Event, EventType, Micros, TaskStatus, Ticket, TicketOptions, TicketStatus};

use crate::rig::{Rig, Setup, Stage, git_out};

/// Cancels the sample ticket while `stage` holds it; returns the stopped rig, the ticket after
/// the daemon let it go, and its cost when it was cancelled.
async fn cancel_during(stage: Stage) -> (Rig, Ticket, Micros) {
    let mut rig = Rig::start(Setup {
        stall: Some(stage),
        ..Setup::default()
    })
    .await;
    let t = rig.submit(TicketOptions::default()).await;
    rig.stall.entered().await;
    let cost_before = rig.store.get_ticket(&t.id).await.unwrap().unwrap().cost;
    let cancelled = rig.store.cancel_ticket(&t.id).await.unwrap();
    assert_eq!(cancelled.status, TicketStatus::Failed);
    // the worker notices (its lease is gone) and stops
    let noticed = |events: &[Event]| {
        events.iter().any(|e| {
            e.event_type == EventType::LeaseLost
                && e.details
                    .as_ref()
                    .is_some_and(|d| d["reason"] == "cancelled")
        })
    };
    for _ in 0..400 {
        if noticed(&rig.events(&t.id).await) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        noticed(&rig.events(&t.id).await),
        "the worker saw the cancel"
    );
    if stage == Stage::PullRequest {
        // opening the pull request is one host call: it finishes, and the run stops after it
        rig.stall.release();
    } else {
        for _ in 0..400 {
            if rig.stall.interrupted() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(
            rig.stall.interrupted(),
            "the held {stage:?} call was interrupted"
        );
    }
    rig.stop().await;
    let after = rig.store.get_ticket(&t.id).await.unwrap().unwrap();
    assert_eq!(after.status, TicketStatus::Failed);
    assert_eq!(after.last_error_type.as_deref(), Some("cancelled"));
    assert_eq!(
        after.cost, cost_before,
        "costs are kept (and nothing was spent after)"
    );
    (rig, after, cost_before)
}

/// The remote's branches and their files (`branch: file, file`).
fn remote_files(rig: &Rig) -> Vec<(String, String)> {
    git_out(
        &rig.remote,
        &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
    )
    .lines()
    .map(|b| {
        (
            b.to_owned(),
            git_out(&rig.remote, &["ls-tree", "-r", "--name-only", b]),
        )
    })
    .collect()
}

/// The task's branch on the remote and its files.
fn task_branch(rig: &Rig) -> (String, String) {
    let all = remote_files(rig);
    all.iter()
        .find(|(b, _)| b.ends_with("--task-1"))
        .cloned()
        .unwrap_or_else(|| panic!("the task branch was pushed: {all:?}"))
}

async fn types(rig: &Rig, t: &Ticket) -> Vec<EventType> {
    rig.events(&t.id)
        .await
        .iter()
        .map(|e| e.event_type)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_the_planners_call() {
    let (rig, t, cost) = cancel_during(Stage::Planning).await;
    assert_eq!(cost, Micros::ZERO, "the planner's call was the first");
    assert!(
        rig.store.list_tasks(&t.id).await.unwrap().is_empty(),
        "no plan stored"
    );
    assert!(!types(&rig, &t).await.contains(&EventType::PlanCreated));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_the_agents_run() {
    let (rig, t, cost) = cancel_during(Stage::Agent).await;
    assert!(cost > Micros::ZERO, "the plan's cost stays");
    let tasks = rig.store.list_tasks(&t.id).await.unwrap();
    assert_eq!(tasks.len(), 1, "the plan stays");
    assert_ne!(tasks[0].status, TaskStatus::Done);
    assert!(!types(&rig, &t).await.contains(&EventType::TaskDone));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_the_test_command() {
    let (rig, t, cost) = cancel_during(Stage::Tests).await;
    assert!(cost > Micros::ZERO);
    let seen = types(&rig, &t).await;
    assert!(!seen.contains(&EventType::TaskTddVerifyPass), "{seen:?}");
    assert!(!seen.contains(&EventType::TaskDone));
    // the tests the agent wrote are on the pushed task branch
    let (_, files) = task_branch(&rig);
    assert!(files.contains("tests/test_multiply.py"), "{files}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_a_review() {
    let (rig, t, cost) = cancel_during(Stage::Review).await;
    assert!(cost > Micros::ZERO);
    let seen = types(&rig, &t).await;
    assert!(seen.contains(&EventType::TaskTddVerifyPass), "{seen:?}");
    assert!(!seen.contains(&EventType::TaskSpecReviewPass));
    assert!(!seen.contains(&EventType::TaskDone));
    // the tests and the change are on the pushed task branch
    let (branch, files) = task_branch(&rig);
    assert!(files.contains("tests/test_multiply.py"), "{files}");
    assert!(git_out(&rig.remote, &["show", &format!("{branch}:calc.py")]).contains("def multiply"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_opening_the_pull_request() {
    let (rig, t, cost) = cancel_during(Stage::PullRequest).await;
    assert!(cost > Micros::ZERO);
    let seen = types(&rig, &t).await;
    assert!(seen.contains(&EventType::TaskDone), "{seen:?}");
    assert!(
        !seen.contains(&EventType::PrCreated),
        "the run stopped after the host call"
    );
    assert!(!seen.contains(&EventType::PrMerged));
    assert!(t.pr_url.is_empty(), "{}", t.pr_url);
    // the work is on the pushed ticket branch
    let files = remote_files(&rig);
    let branch = t.branch_name.clone();
    assert!(!branch.is_empty(), "a ticket branch");
    let (_, on_branch) = files
        .iter()
        .find(|(b, _)| *b == branch)
        .unwrap_or_else(|| panic!("{branch} on the remote: {files:?}"));
    assert!(on_branch.contains("tests/test_multiply.py"), "{on_branch}");
    assert!(git_out(&rig.remote, &["show", &format!("{branch}:calc.py")]).contains("def multiply"));
    assert!(
        !git_out(&rig.remote, &["show", "main:calc.py"]).contains("def multiply"),
        "nothing was merged"
    );
}
