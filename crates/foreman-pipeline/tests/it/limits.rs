//! A ticket's limits and records on a real run: a checkpoint per completed task, the bounded
//! transcript, the per-task `timeout` and the ticket's `max_budget_usd`.

use foreman_domain::transcript::{MAX_RECORD_TEXT, MAX_TASK_TRANSCRIPT_BYTES, RecordKind};
use foreman_domain::{EventType, Micros, TaskStatus, TicketOptions, TicketStatus};

use std::time::Duration;

use crate::rig::{Rig, Setup, Stage, git, git_out, script_with, two_task_script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_runs_to_merge_with_a_checkpoint_per_task_and_a_transcript() {
    let mut rig = Rig::start(Setup::default()).await;
    // a limit above what the run costs changes nothing
    let t = rig
        .submit(TicketOptions {
            max_budget: Some(Micros::from_usd(5.0)),
            timeout_secs: Some(600),
            ..TicketOptions::default()
        })
        .await;
    let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);
    assert!(done.cost > Micros::ZERO && done.cost <= Micros::from_usd(5.0));
    let tasks = rig.store.list_tasks(&t.id).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].status, TaskStatus::Done);
    // one checkpoint per completed task, on a commit the remote holds
    let checkpoints = rig.store.list_checkpoints(&t.id).await.unwrap();
    assert_eq!(checkpoints.len(), 1, "{checkpoints:?}");
    let cp = &checkpoints[0];
    assert_eq!((cp.task_id.clone(), cp.sequence), (tasks[0].id.clone(), 1));
    assert_eq!(
        git_out(&rig.remote, &["cat-file", "-t", &cp.commit_sha]),
        "commit",
        "the checkpoint's commit was pushed"
    );
    // the transcript: the agent's tool calls, the red and green runs, the reviews; bounded
    let transcript = rig.store.transcript(&tasks[0].id).await.unwrap();
    assert!(!transcript.full);
    let kinds: Vec<RecordKind> = transcript.records.iter().map(|r| r.kind).collect();
    assert!(kinds.contains(&RecordKind::ToolCall), "{kinds:?}");
    assert!(
        transcript
            .records
            .iter()
            .any(
                |r| r.tool.as_deref() == Some("write_file") && r.text.contains("test_multiply")
                    || r.details.to_string().contains("test_multiply")
            ),
        "the agent's write of the tests is recorded: {:?}",
        transcript.records
    );
    for kind in [
        RecordKind::Prompt,
        RecordKind::ToolResult,
        RecordKind::TestRun,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
    // the two reviews' verdicts, approved
    let reviews: Vec<_> = transcript
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::Review)
        .map(|r| (r.details["review"].clone(), r.details["approved"].clone()))
        .collect();
    assert_eq!(reviews.len(), 2, "{reviews:?}");
    assert!(
        reviews.iter().all(|(_, approved)| approved == true),
        "{reviews:?}"
    );
    let total: u64 = transcript.records.iter().map(|r| r.text.len() as u64).sum();
    assert!(total <= MAX_TASK_TRANSCRIPT_BYTES);
    assert!(
        transcript
            .records
            .iter()
            .all(|r| r.text.len() <= MAX_RECORD_TEXT)
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_past_the_tickets_timeout_is_stopped_and_fails_as_timeout() {
    // the agent's run never ends by itself (see the cancel tests: only a cancel ends it there)
    let mut rig = Rig::start(Setup {
        stall: Some(Stage::Agent),
        ..Setup::default()
    })
    .await;
    let t = rig
        .submit(TicketOptions {
            timeout_secs: Some(1),
            ..TicketOptions::default()
        })
        .await;
    let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Failed);
    assert_eq!(
        done.last_error_type.as_deref(),
        Some("timeout"),
        "{:?}",
        done.last_error
    );
    assert!(rig.stall.interrupted(), "the agent's run was stopped");
    let tasks = rig.store.list_tasks(&t.id).await.unwrap();
    assert_eq!(tasks[0].status, TaskStatus::Failed);
    let failed = rig
        .events(&t.id)
        .await
        .into_iter()
        .find(|e| e.event_type == EventType::TaskFailed)
        .expect("task_failed");
    assert_eq!(failed.details.unwrap()["error_type"], "timeout");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tickets_max_budget_refuses_calls_it_cannot_afford() {
    let mut rig = Rig::start(Setup::default()).await;
    // one cent: less than the worst case of the planner's call
    let t = rig
        .submit(TicketOptions {
            max_budget: Some(Micros::from_usd(0.01)),
            ..TicketOptions::default()
        })
        .await;
    let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Blocked, "{:?}", done.last_error);
    assert_eq!(done.last_error_type.as_deref(), Some("budget"));
    assert_eq!(done.cost, Micros::ZERO, "nothing was spent past the limit");
    assert!(rig.saw(&t.id, EventType::CostExceeded).await);
    assert!(
        rig.store.list_tasks(&t.id).await.unwrap().is_empty(),
        "never planned"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcript_keeps_the_tail_of_long_test_output_with_its_size() {
    // every run of the tests prints 100,000 bytes first (on stderr, before unittest's report)
    let mut rig = Rig::start(Setup {
        script: Some(script_with(
            "import sys\nsys.stderr.write('x' * 100000 + '\\n')\n",
        )),
        ..Setup::default()
    })
    .await;
    let t = rig.submit(TicketOptions::default()).await;
    let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
    assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);
    let task = rig.store.list_tasks(&t.id).await.unwrap().remove(0);
    let transcript = rig.store.transcript(&task.id).await.unwrap();
    let runs: Vec<_> = transcript
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::TestRun)
        .collect();
    let phases: Vec<&str> = runs
        .iter()
        .map(|r| r.details["phase"].as_str().unwrap_or_default())
        .collect();
    // (a red run whose kept output shows no assertion is retried: red may come twice)
    assert!(
        phases.contains(&"red") && phases.last() == Some(&"green"),
        "{phases:?}"
    );
    for r in runs {
        let size = r.details["output_bytes"].as_u64().unwrap();
        // the command runner keeps about 30 KB of it; the transcript says how much that was
        assert!(size > 20_000, "the captured output's size is kept: {size}");
        assert!(
            r.text.len() <= 7 * 1024,
            "only its tail is: {}",
            r.text.len()
        );
        assert!(r.text.len() < usize::try_from(size).unwrap());
    }
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_completed_task_is_a_checkpoint_on_its_pushed_branch() {
    let mut rig = Rig::start(Setup {
        script: Some(two_task_script()),
        ..Setup::default()
    })
    .await;
    let t = rig.submit(TicketOptions::default()).await;
    let done = rig
        .until(&t.id, |t| {
            t.status.is_terminal() || t.status == TicketStatus::Partial
        })
        .await;
    let tasks = rig.store.list_tasks(&t.id).await.unwrap();
    assert_eq!(
        done.status,
        TicketStatus::Merged,
        "{:?}",
        tasks
            .iter()
            .map(|t| (&t.title, t.status, &t.last_error))
            .collect::<Vec<_>>()
    );
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Done));
    let checkpoints = rig.store.list_checkpoints(&t.id).await.unwrap();
    let mut sequences: Vec<i32> = checkpoints.iter().map(|c| c.sequence).collect();
    sequences.sort_unstable();
    assert_eq!(
        sequences,
        vec![1, 2],
        "one per completed task: {checkpoints:?}"
    );
    for (cp, file) in checkpoints.iter().map(|cp| {
        let file = if cp.sequence == 1 {
            "calc.py"
        } else {
            "sub.py"
        };
        (cp, file)
    }) {
        let task = tasks.iter().find(|t| t.id == cp.task_id).unwrap();
        assert_eq!(task.sequence, cp.sequence);
        // the checkpoint's commit is the head of its task branch on the remote, with the work
        assert_eq!(
            git_out(
                &rig.remote,
                &["rev-parse", &format!("refs/heads/{}", cp.branch)]
            ),
            cp.commit_sha,
            "{cp:?}"
        );
        let tree = git_out(
            &rig.remote,
            &["ls-tree", "-r", "--name-only", &cp.commit_sha],
        );
        assert!(tree.lines().any(|l| l == file), "{file} in {tree}");
    }
    assert_ne!(checkpoints[0].commit_sha, checkpoints[1].commit_sha);
    rig.stop().await;
}

/// The implementer's checkpoints (its tests, its code) are pushed for other nodes only once the
/// unpushed work took `checkpoint_push_after`: with zero each one is, with an hour (a fast run)
/// only the task's final commit reaches the remote. Counted in the remote's reflog of the task
/// branch; a push of a commit the remote already holds adds no entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_checkpoints_are_pushed_once_the_unpushed_work_took_long_enough() {
    let mut pushes = Vec::new();
    for after in [Duration::ZERO, Duration::from_secs(3600)] {
        let mut rig = Rig::start(Setup {
            checkpoint_push_after: Some(after),
            ..Setup::default()
        })
        .await;
        git(&rig.remote, &["config", "core.logAllRefUpdates", "always"]);
        let t = rig.submit(TicketOptions::default()).await;
        let done = rig.until(&t.id, |t| t.status.is_terminal()).await;
        assert_eq!(done.status, TicketStatus::Merged, "{:?}", done.last_error);
        let checkpoints = rig.store.list_checkpoints(&t.id).await.unwrap();
        let cp = &checkpoints[0];
        let reflog = git_out(
            &rig.remote,
            &[
                "reflog",
                "show",
                "--format=%H",
                &format!("refs/heads/{}", cp.branch),
            ],
        );
        let commits: Vec<&str> = reflog.lines().collect();
        assert_eq!(commits.first(), Some(&cp.commit_sha.as_str()), "{reflog}");
        pushes.push(commits.len());
        rig.stop().await;
    }
    assert!(pushes[0] >= 2, "every checkpoint pushed: {pushes:?}");
    assert_eq!(pushes[1], 1, "only the final commit pushed: {pushes:?}");
}
