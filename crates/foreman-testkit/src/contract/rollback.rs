//! Checkpoint, rollback and transcript cases: a checkpoint per completed task in completion
//! order, the rollback as one compare-and-set (later tasks pending with their spend kept, the
//! ticket queued, refused while running, for an unknown checkpoint, and taking effect once when
//! raced), and bounded task transcripts.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::checkpoint::NewCheckpoint;
use foreman_domain::transcript::{
    MAX_RECORD_TEXT, MAX_TASK_TRANSCRIPT_BYTES, NewTranscriptRecord, RecordKind,
};
use foreman_domain::{
    ClaimRequest, FencingToken, Micros, NewLlmCall, NewTask, Store, StoreError, Task, TaskId,
    TaskPatch, TaskStatus, Ticket, TicketId, TicketStatus,
};

use super::expect_err;
use super::tickets::{create, force_status};

fn tasks(n: i32) -> Vec<NewTask> {
    (1..=n)
        .map(|sequence| NewTask {
            sequence,
            title: format!("task {sequence}"),
            ..NewTask::default()
        })
        .collect()
}

/// Takes a task from `pending` to `done` with a commit, as the pipeline does.
async fn finish(store: &dyn Store, task: &Task, sha: &str) -> Task {
    let mut t = store
        .transition_task(
            &task.id,
            TaskStatus::Pending,
            TaskStatus::Implementing,
            None,
        )
        .await
        .unwrap();
    t = store
        .update_task(
            &t.id,
            TaskPatch {
                commit_sha: Some(Some(sha.to_owned())),
                implementation_attempts: Some(1),
                ..TaskPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    store
        .transition_task(&t.id, t.status, TaskStatus::Done, None)
        .await
        .unwrap()
}

fn new_checkpoint(ticket: &Ticket, task: &Task, status: TicketStatus) -> NewCheckpoint {
    NewCheckpoint {
        ticket_id: ticket.id.clone(),
        task_id: task.id.clone(),
        sequence: task.sequence,
        title: task.title.clone(),
        commit_sha: task.commit_sha.clone().unwrap_or_default(),
        branch: format!("foreman/{}--task-{}", ticket.external_id, task.sequence),
        ticket_status: status,
    }
}

/// A ticket whose `n` tasks are done and checkpointed in order (with some spend on the last),
/// then moved to `failed`.
async fn finished_ticket(store: &dyn Store, ext: &str, n: i32) -> (Ticket, Vec<Task>) {
    let t = create(store, ext).await;
    let t = force_status(store, &t.id, TicketStatus::Implementing).await;
    let created = store.create_tasks(&t.id, tasks(n), None).await.unwrap();
    let mut done = Vec::new();
    for task in &created {
        let task = finish(store, task, &format!("{:040x}", task.sequence)).await;
        store
            .record_checkpoint(new_checkpoint(&t, &task, TicketStatus::Implementing), None)
            .await
            .unwrap();
        // created_at orders checkpoints: keep them apart
        tokio::time::sleep(Duration::from_millis(2)).await;
        done.push(task);
    }
    let last = done.last().unwrap();
    store
        .record_llm_call(NewLlmCall {
            ticket_id: Some(t.id.clone()),
            task_id: Some(last.id.clone()),
            cost: Micros(7_000),
            ..NewLlmCall::default()
        })
        .await
        .unwrap();
    let t = store
        .transition_ticket(
            &t.id,
            TicketStatus::Implementing,
            TicketStatus::Failed,
            None,
        )
        .await
        .unwrap();
    (t, done)
}

/// Checkpoints list in completion order; recording a task's checkpoint again replaces its
/// commit and keeps its id; an unknown ticket is not found; a stale worker cannot record one.
pub async fn checkpoints_list_in_completion_order(store: Arc<dyn Store>) {
    let (t, done) = finished_ticket(&*store, "CK-1", 3).await;
    let cps = store.list_checkpoints(&t.id).await.unwrap();
    assert_eq!(
        cps.iter().map(|c| c.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(cps[0].commit_sha, format!("{:040x}", 1));
    assert_eq!(cps[0].ticket_status, TicketStatus::Implementing);
    assert!(cps[0].branch.ends_with("--task-1"));
    let mut again = new_checkpoint(&t, &done[1], TicketStatus::Reviewing);
    again.commit_sha = "f".repeat(40);
    let replaced = store.record_checkpoint(again, None).await.unwrap();
    assert_eq!(replaced.id, cps[1].id);
    let cps2 = store.list_checkpoints(&t.id).await.unwrap();
    assert_eq!(cps2.len(), 3);
    assert_eq!(cps2[1].commit_sha, "f".repeat(40));
    assert_eq!(cps2[1].ticket_status, TicketStatus::Reviewing);
    let e = expect_err(
        store.list_checkpoints(&TicketId::from("missing")).await,
        "not found",
    );
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
    // a worker whose lease was taken over cannot record one
    let stale = expect_err(
        store
            .record_checkpoint(
                new_checkpoint(&t, &done[0], TicketStatus::Implementing),
                Some(FencingToken(t.fencing_token.0 + 5)),
            )
            .await,
        "a stale fence",
    );
    assert!(matches!(stale, StoreError::StaleFence { .. }), "{stale:?}");
}

/// Rolling back to the first checkpoint: the later tasks go back to `pending` (no commit, no
/// phase checkpoint, fresh counters, their spend kept), their checkpoints go, the ticket is
/// queued with no error and a new fencing token; the call history is untouched.
pub async fn rollback_resets_later_tasks_and_requeues(store: Arc<dyn Store>) {
    let (t, done) = finished_ticket(&*store, "RB-1", 3).await;
    let cost_before = store.get_task(&done[2].id).await.unwrap().unwrap().cost;
    assert_eq!(cost_before, Micros(7_000));
    let cps = store.list_checkpoints(&t.id).await.unwrap();
    let r = store.rollback_ticket(&t.id, &cps[0].id).await.unwrap();
    assert_eq!(r.from, TicketStatus::Failed);
    assert_eq!(r.ticket.status, TicketStatus::Queued);
    assert_eq!(r.ticket.last_error, None);
    assert_eq!(r.ticket.completed_at, None);
    assert_eq!(r.ticket.last_completed_task_seq, 1);
    assert_eq!(r.ticket.fencing_token.0, t.fencing_token.0 + 1);
    assert_eq!(r.checkpoint.id, cps[0].id);
    assert_eq!(r.tasks_reset, vec![done[1].id.clone(), done[2].id.clone()]);
    assert_eq!(r.checkpoints_dropped.len(), 2);
    let stored = store.get_ticket(&t.id).await.unwrap().unwrap();
    assert_eq!(stored.status, TicketStatus::Queued);
    let tasks = store.list_tasks(&t.id).await.unwrap();
    assert_eq!(tasks[0].status, TaskStatus::Done);
    assert_eq!(tasks[0].commit_sha, done[0].commit_sha);
    for task in &tasks[1..] {
        assert_eq!(task.status, TaskStatus::Pending, "task {}", task.sequence);
        assert_eq!(task.commit_sha, None);
        assert_eq!(task.implementation_attempts, 0);
        assert_eq!(task.completed_at, None);
        assert!(!task.checkpoint.attempt_open());
    }
    assert_eq!(tasks[2].cost, Micros(7_000), "spend stays with the task");
    assert_eq!(store.list_llm_calls(&t.id).await.unwrap().len(), 1);
    let left = store.list_checkpoints(&t.id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, cps[0].id);
    // queued again: no second rollback until it has run
    let e = expect_err(store.rollback_ticket(&t.id, &cps[2].id).await, "gone");
    assert!(matches!(e, StoreError::Conflict { .. }), "queued: {e:?}");
}

/// No rollback of a running ticket (an active status, or a held lease), of a merged one, to a
/// checkpoint that is not the ticket's, or of an unknown ticket; nothing changes then.
pub async fn rollback_refuses_running_and_unknown(store: Arc<dyn Store>) {
    let (t, _) = finished_ticket(&*store, "RB-2", 2).await;
    let cps = store.list_checkpoints(&t.id).await.unwrap();
    let (other, _) = finished_ticket(&*store, "RB-3", 1).await;
    let other_cp = store.list_checkpoints(&other.id).await.unwrap().remove(0);
    let e = expect_err(store.rollback_ticket(&t.id, &other_cp.id).await, "foreign");
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
    let e = expect_err(store.rollback_ticket(&t.id, "nope").await, "unknown cp");
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
    let e = expect_err(
        store
            .rollback_ticket(&TicketId::from("missing"), &cps[0].id)
            .await,
        "unknown ticket",
    );
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
    // a running ticket: retried and claimed (a lease held)
    store.requeue_ticket(&t.id, None).await.unwrap();
    let claim = store
        .claim_next(&ClaimRequest {
            worker_id: "w".into(),
            lease: Duration::from_secs(60),
            statuses: vec![TicketStatus::Queued],
            project: None,
        })
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!(claim.ticket.id, t.id);
    let e = expect_err(
        store.rollback_ticket(&t.id, &cps[0].id).await,
        "queued+leased",
    );
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
    let running = store
        .transition_ticket(
            &t.id,
            TicketStatus::Queued,
            TicketStatus::Planning,
            Some(claim.fencing_token),
        )
        .await
        .unwrap();
    let e = expect_err(store.rollback_ticket(&t.id, &cps[0].id).await, "running");
    match e {
        StoreError::Conflict { current, .. } => assert_eq!(current, "planning"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // a failed ticket whose lease is still held (the worker is finishing) is running too
    store
        .transition_ticket(
            &t.id,
            running.status,
            TicketStatus::Failed,
            Some(claim.fencing_token),
        )
        .await
        .unwrap();
    let e = expect_err(store.rollback_ticket(&t.id, &cps[0].id).await, "leased");
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
    store
        .release_lease(&t.id, "w", claim.fencing_token)
        .await
        .unwrap();
    let after = store.list_tasks(&t.id).await.unwrap();
    assert!(after.iter().all(|x| x.status == TaskStatus::Done));
    // released: now it rolls back
    store.rollback_ticket(&t.id, &cps[0].id).await.unwrap();
    // merged is final
    let (m, _) = finished_ticket(&*store, "RB-4", 1).await;
    let m_cp = store.list_checkpoints(&m.id).await.unwrap().remove(0);
    store
        .transition_ticket(&m.id, TicketStatus::Failed, TicketStatus::Queued, None)
        .await
        .unwrap();
    let m = force_status(&*store, &m.id, TicketStatus::Merged).await;
    let e = expect_err(store.rollback_ticket(&m.id, &m_cp.id).await, "merged");
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
}

/// Of concurrent rollbacks of one ticket, exactly one takes effect.
pub async fn concurrent_rollbacks_take_effect_once(store: Arc<dyn Store>) {
    let (t, _) = finished_ticket(&*store, "RB-5", 2).await;
    let cp = store.list_checkpoints(&t.id).await.unwrap().remove(0);
    let mut handles = Vec::new();
    for _ in 0..8 {
        let (s, id, cp) = (Arc::clone(&store), t.id.clone(), cp.id.clone());
        handles.push(tokio::spawn(
            async move { s.rollback_ticket(&id, &cp).await },
        ));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
}

fn record(task: &Task, kind: RecordKind, text: &str) -> NewTranscriptRecord {
    NewTranscriptRecord {
        task_id: task.id.clone(),
        ticket_id: task.ticket_id.clone(),
        attempt: 1,
        turn: 1,
        kind,
        tool: Some("run_command".into()),
        text: text.to_owned(),
        is_error: false,
        details: serde_json::json!({"exit_code": 0}),
    }
}

/// Transcripts come back in order with their fields; long text is clipped with its size
/// kept; a transcript stops at its cap with one marker; unknown tasks are not found.
pub async fn transcripts_are_ordered_and_bounded(store: Arc<dyn Store>) {
    let t = create(&*store, "TR-1").await;
    let task = store
        .create_tasks(&t.id, tasks(1), None)
        .await
        .unwrap()
        .remove(0);
    assert!(store.transcript(&task.id).await.unwrap().records.is_empty());
    let long = "x".repeat(MAX_RECORD_TEXT * 2);
    store
        .append_transcript(vec![
            record(&task, RecordKind::ToolCall, "{\"command\":\"ls\"}"),
            record(&task, RecordKind::ToolResult, &long),
        ])
        .await
        .unwrap();
    store
        .append_transcript(vec![record(&task, RecordKind::TestRun, "1 failed")])
        .await
        .unwrap();
    let tr = store.transcript(&task.id).await.unwrap();
    assert!(!tr.full);
    assert_eq!(
        tr.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(tr.records[0].kind, RecordKind::ToolCall);
    assert_eq!(tr.records[0].tool.as_deref(), Some("run_command"));
    assert_eq!(tr.records[0].details["exit_code"], 0);
    assert!(tr.records[1].truncated);
    assert_eq!(tr.records[1].bytes, long.len() as u64);
    assert!(tr.records[1].text.len() < long.len());
    assert_eq!(tr.records[2].kind, RecordKind::TestRun);
    // fill it up
    let chunk = "y".repeat(MAX_RECORD_TEXT);
    let n = usize::try_from(MAX_TASK_TRANSCRIPT_BYTES).unwrap() / MAX_RECORD_TEXT + 2;
    let batch: Vec<_> = (0..n)
        .map(|_| record(&task, RecordKind::ToolResult, &chunk))
        .collect();
    store.append_transcript(batch).await.unwrap();
    let tr = store.transcript(&task.id).await.unwrap();
    assert!(tr.full);
    let total: u64 = tr.records.iter().map(|r| r.text.len() as u64).sum();
    assert!(total <= MAX_TASK_TRANSCRIPT_BYTES + 100, "{total}");
    let count = tr.records.len();
    let more = store
        .append_transcript(vec![record(&task, RecordKind::Note, "later")])
        .await
        .unwrap();
    assert!(more.is_empty());
    assert_eq!(
        store.transcript(&task.id).await.unwrap().records.len(),
        count
    );
    let e = expect_err(
        store.transcript(&TaskId::from("missing")).await,
        "unknown task",
    );
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
    let e = expect_err(
        store
            .append_transcript(vec![NewTranscriptRecord {
                task_id: TaskId::from("missing"),
                ..record(&task, RecordKind::Note, "x")
            }])
            .await,
        "unknown task",
    );
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
}
