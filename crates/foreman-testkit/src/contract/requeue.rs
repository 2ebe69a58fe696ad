//! Requeue cases: `requeue_ticket` and `requeue_task` put failed work back in one atomic step,
//! refuse statuses that cannot be retried with a typed conflict, honour fences, and let exactly
//! one of several concurrent requeuers win.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::{
    ClaimRequest, FencingToken, NewTask, Store, StoreError, Task, TaskPatch, TaskStatus, Ticket,
    TicketId, TicketPatch, TicketStatus,
};

use super::expect_err;
use super::tickets::{create, force_status};

/// How many requeuers race in the concurrency cases.
const RACERS: usize = 8;

fn task(sequence: i32) -> NewTask {
    NewTask {
        sequence,
        title: format!("task {sequence}"),
        ..NewTask::default()
    }
}

/// Moves a fresh task along allowed edges to `to` (`done`, `failed` or `skipped`), with some
/// attempts and an error recorded on the way.
async fn drive_task(store: &dyn Store, t: &Task, to: TaskStatus) -> Task {
    if to != TaskStatus::Skipped {
        store
            .transition_task(&t.id, TaskStatus::Pending, TaskStatus::Implementing, None)
            .await
            .unwrap();
        store
            .update_task(
                &t.id,
                TaskPatch {
                    implementation_attempts: Some(3),
                    spec_review_attempts: Some(2),
                    quality_review_attempts: Some(1),
                    last_error: Some(Some("tests failed".into())),
                    ..TaskPatch::default()
                },
                None,
            )
            .await
            .unwrap();
    }
    let from = if to == TaskStatus::Skipped {
        TaskStatus::Pending
    } else {
        TaskStatus::Implementing
    };
    store.transition_task(&t.id, from, to, None).await.unwrap()
}

/// A failed ticket with an error and three tasks: done, failed and skipped (sequences 1-3).
async fn failed_ticket(store: &dyn Store, ext: &str, status: TicketStatus) -> (Ticket, Vec<Task>) {
    let t = create(store, ext).await;
    let created = store
        .create_tasks(&t.id, vec![task(1), task(2), task(3)], None)
        .await
        .unwrap();
    let done = drive_task(store, &created[0], TaskStatus::Done).await;
    let failed = drive_task(store, &created[1], TaskStatus::Failed).await;
    let skipped = drive_task(store, &created[2], TaskStatus::Skipped).await;
    force_status(store, &t.id, status).await;
    let t = store
        .update_ticket(
            &t.id,
            TicketPatch {
                last_error: Some(Some("implementation failed".into())),
                last_error_type: Some(Some("test_failure".into())),
                ..TicketPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    (t, vec![done, failed, skipped])
}

/// Requeueing a failed, blocked or partial ticket queues it with its error and completion
/// cleared, and resets its failed and skipped tasks (fresh counters, no error) while keeping the
/// done one, all visible together.
pub async fn requeue_ticket_resets_ticket_and_failed_tasks(store: Arc<dyn Store>) {
    for (i, status) in [
        TicketStatus::Failed,
        TicketStatus::Blocked,
        TicketStatus::Partial,
    ]
    .into_iter()
    .enumerate()
    {
        let (before, tasks) = failed_ticket(&*store, &format!("RQ-{i}"), status).await;
        assert_eq!(before.completed_at.is_some(), status.is_terminal());
        let r = store.requeue_ticket(&before.id, None).await.unwrap();
        assert_eq!(r.from, status);
        assert_eq!(r.tasks_reset, [tasks[1].id.clone(), tasks[2].id.clone()]);
        let t = &r.ticket;
        assert_eq!(t.status, TicketStatus::Queued);
        assert_eq!(t.last_error, None);
        assert_eq!(t.last_error_type, None);
        assert_eq!(t.completed_at, None);
        assert_eq!(t.fencing_token, before.fencing_token);
        assert!(t.updated_at >= before.updated_at);
        assert_eq!(
            store.get_ticket(&before.id).await.unwrap().as_ref(),
            Some(t)
        );

        let after = store.list_tasks(&before.id).await.unwrap();
        assert_eq!(after[0], tasks[0], "a done task is kept as it was");
        for (old, new) in tasks[1..].iter().zip(&after[1..]) {
            assert_eq!(new.status, TaskStatus::Pending, "task {}", old.sequence);
            assert_eq!(
                (
                    new.implementation_attempts,
                    new.spec_review_attempts,
                    new.quality_review_attempts
                ),
                (0, 0, 0)
            );
            assert_eq!(new.last_error, None);
            assert_eq!(new.completed_at, None);
            assert_eq!(new.started_at, old.started_at);
        }
    }
}

/// A ticket that is not failed, blocked or partial is refused with a conflict naming its
/// status, and neither it nor its tasks change; an unknown ticket is not found.
pub async fn requeue_ticket_refuses_other_statuses(store: Arc<dyn Store>) {
    for (i, status) in [
        TicketStatus::Queued,
        TicketStatus::Implementing,
        TicketStatus::Merged,
    ]
    .into_iter()
    .enumerate()
    {
        let (before, tasks) = failed_ticket(&*store, &format!("RN-{i}"), status).await;
        match expect_err(store.requeue_ticket(&before.id, None).await, "a conflict") {
            StoreError::Conflict {
                entity, current, ..
            } => {
                assert_eq!(entity, "ticket");
                assert_eq!(current, status.as_str());
            }
            other => panic!("expected a conflict for {status}, got {other:?}"),
        }
        assert_eq!(
            store.get_ticket(&before.id).await.unwrap(),
            Some(before.clone())
        );
        assert_eq!(store.list_tasks(&before.id).await.unwrap(), tasks);
    }
    let err = expect_err(
        store.requeue_ticket(&TicketId::new(), None).await,
        "not found",
    );
    assert_eq!(err.code(), "not_found");
}

/// With a fence, only the current token requeues; a stale one is refused and changes nothing.
pub async fn requeue_ticket_checks_the_fence(store: Arc<dyn Store>) {
    let t = create(&*store, "RF-1").await;
    let claim = store
        .claim_next(&ClaimRequest {
            worker_id: "w".into(),
            lease: Duration::from_secs(600),
            statuses: vec![TicketStatus::Queued],
            project: None,
        })
        .await
        .unwrap()
        .expect("claimable");
    let fence = claim.fencing_token;
    let failed = store
        .transition_ticket(
            &t.id,
            TicketStatus::Queued,
            TicketStatus::Failed,
            Some(fence),
        )
        .await
        .unwrap();
    let stale = FencingToken(fence.0 - 1);
    match expect_err(store.requeue_ticket(&t.id, Some(stale)).await, "stale") {
        StoreError::StaleFence {
            presented, current, ..
        } => {
            assert_eq!(presented, stale);
            assert_eq!(current, fence);
        }
        other => panic!("expected a stale fence, got {other:?}"),
    }
    assert_eq!(store.get_ticket(&t.id).await.unwrap(), Some(failed));
    let r = store.requeue_ticket(&t.id, Some(fence)).await.unwrap();
    assert_eq!(r.ticket.status, TicketStatus::Queued);
}

/// Of several concurrent requeues of one ticket exactly one succeeds; the others get a
/// conflict naming `queued`, and the tasks are reset once.
pub async fn concurrent_ticket_requeues_take_effect_once(store: Arc<dyn Store>) {
    let (t, _) = failed_ticket(&*store, "RC-1", TicketStatus::Failed).await;
    let mut racers = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&store);
        let id = t.id.clone();
        racers.push(tokio::spawn(async move {
            store.requeue_ticket(&id, None).await
        }));
    }
    let mut won = Vec::new();
    for r in racers {
        match r.await.expect("racer") {
            Ok(r) => won.push(r),
            Err(StoreError::Conflict { current, .. }) => assert_eq!(current, "queued"),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one requeue wins");
    assert_eq!(won[0].from, TicketStatus::Failed);
    assert_eq!(won[0].tasks_reset.len(), 2);
}

/// Requeueing a failed task makes it `pending` with fresh counters and no error; its ticket is
/// untouched.
pub async fn requeue_task_resets_a_failed_task(store: Arc<dyn Store>) {
    let t = create(&*store, "RT-1").await;
    let created = store
        .create_tasks(&t.id, vec![task(1)], None)
        .await
        .unwrap();
    let failed = drive_task(&*store, &created[0], TaskStatus::Failed).await;
    assert!(failed.completed_at.is_some());
    let ticket = store.get_ticket(&t.id).await.unwrap();
    let r = store.requeue_task(&failed.id, None).await.unwrap();
    assert_eq!(r.from, TaskStatus::Failed);
    let task = &r.task;
    assert_eq!(task.status, TaskStatus::Pending);
    assert_eq!(
        (
            task.implementation_attempts,
            task.spec_review_attempts,
            task.quality_review_attempts
        ),
        (0, 0, 0)
    );
    assert_eq!(task.last_error, None);
    assert_eq!(task.completed_at, None);
    assert_eq!(task.started_at, failed.started_at);
    assert_eq!(
        store.get_task(&failed.id).await.unwrap().as_ref(),
        Some(task)
    );
    assert_eq!(store.get_ticket(&t.id).await.unwrap(), ticket);
}

/// A task that is not failed is refused with a conflict naming its status and does not change;
/// an unknown task is not found.
pub async fn requeue_task_refuses_other_statuses(store: Arc<dyn Store>) {
    let t = create(&*store, "RT-2").await;
    let created = store
        .create_tasks(&t.id, vec![task(1), task(2), task(3)], None)
        .await
        .unwrap();
    let done = drive_task(&*store, &created[1], TaskStatus::Done).await;
    let skipped = drive_task(&*store, &created[2], TaskStatus::Skipped).await;
    for before in [created[0].clone(), done, skipped] {
        match expect_err(store.requeue_task(&before.id, None).await, "a conflict") {
            StoreError::Conflict {
                entity, current, ..
            } => {
                assert_eq!(entity, "task");
                assert_eq!(current, before.status.as_str());
            }
            other => panic!("expected a conflict for {}, got {other:?}", before.status),
        }
        assert_eq!(store.get_task(&before.id).await.unwrap(), Some(before));
    }
    let err = expect_err(
        store
            .requeue_task(&foreman_domain::TaskId::new(), None)
            .await,
        "not found",
    );
    assert_eq!(err.code(), "not_found");
}

/// With a fence, the owning ticket's current token is required.
pub async fn requeue_task_checks_the_fence(store: Arc<dyn Store>) {
    let t = create(&*store, "RT-3").await;
    let created = store
        .create_tasks(&t.id, vec![task(1)], None)
        .await
        .unwrap();
    let failed = drive_task(&*store, &created[0], TaskStatus::Failed).await;
    let claim = store
        .claim_next(&ClaimRequest {
            worker_id: "w".into(),
            lease: Duration::from_secs(600),
            statuses: vec![TicketStatus::Queued],
            project: None,
        })
        .await
        .unwrap()
        .expect("claimable");
    let err = expect_err(
        store
            .requeue_task(&failed.id, Some(FencingToken(claim.fencing_token.0 + 1)))
            .await,
        "stale fence",
    );
    assert_eq!(err.code(), "stale_fence");
    assert_eq!(
        store.get_task(&failed.id).await.unwrap(),
        Some(failed.clone())
    );
    let r = store
        .requeue_task(&failed.id, Some(claim.fencing_token))
        .await
        .unwrap();
    assert_eq!(r.task.status, TaskStatus::Pending);
}

/// Of several concurrent requeues of one task exactly one succeeds; the others get a conflict
/// naming `pending`.
pub async fn concurrent_task_requeues_take_effect_once(store: Arc<dyn Store>) {
    let t = create(&*store, "RT-4").await;
    let created = store
        .create_tasks(&t.id, vec![task(1)], None)
        .await
        .unwrap();
    let failed = drive_task(&*store, &created[0], TaskStatus::Failed).await;
    let mut racers = Vec::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&store);
        let id = failed.id.clone();
        racers.push(tokio::spawn(
            async move { store.requeue_task(&id, None).await },
        ));
    }
    let mut wins = 0;
    for r in racers {
        match r.await.expect("racer") {
            Ok(r) => {
                assert_eq!(r.from, TaskStatus::Failed);
                wins += 1;
            }
            Err(StoreError::Conflict { current, .. }) => assert_eq!(current, "pending"),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(wins, 1, "exactly one requeue wins");
}
