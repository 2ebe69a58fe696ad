//! Task checkpoint cases: a checkpoint (phase, red proven, the work's commit, the pending
//! feedback) is written whole and read back equal, is independent of the other fields of a
//! patch, and is refused to a worker whose lease was taken over.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::pipeline::FailureClass;
use foreman_domain::{
    ClaimRequest, FencingToken, NewTask, Store, StoreError, TaskCheckpoint, TaskFeedback,
    TaskPatch, TaskPhase, TicketStatus,
};

use super::tickets::create;

fn claim_req(worker: &str) -> ClaimRequest {
    ClaimRequest {
        worker_id: worker.into(),
        lease: Duration::from_secs(60),
        statuses: vec![TicketStatus::Queued],
        project: None,
    }
}

fn one_task() -> Vec<NewTask> {
    vec![NewTask {
        sequence: 1,
        title: "one".into(),
        ..NewTask::default()
    }]
}

fn checkpoint(phase: TaskPhase, sha: &str) -> TaskCheckpoint {
    TaskCheckpoint {
        phase,
        red_proven: phase >= TaskPhase::RedProven,
        sha: Some(sha.to_owned()),
        feedback: None,
    }
}

/// A new task has no open attempt; every phase round-trips with its commit and feedback, a
/// patch without a checkpoint leaves it alone, and clearing it brings the task back to idle.
pub async fn checkpoints_round_trip_every_phase(store: Arc<dyn Store>) {
    let t = create(&*store, "CP-1").await;
    let task = store
        .create_tasks(&t.id, one_task(), None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(task.checkpoint, TaskCheckpoint::default());
    assert!(!task.checkpoint.attempt_open());
    assert_eq!(
        store.get_task(&task.id).await.unwrap().unwrap().checkpoint,
        TaskCheckpoint::default()
    );

    for (i, &phase) in TaskPhase::ALL.iter().enumerate() {
        let mut c = checkpoint(phase, &format!("{i:040x}"));
        if i % 2 == 0 {
            c.feedback = Some(TaskFeedback {
                class: FailureClass::Spec,
                text: format!("round {i}: document multiply \u{2014} \"quoted\"\nand more"),
            });
        }
        let written = store
            .update_task(
                &task.id,
                TaskPatch {
                    checkpoint: Some(c.clone()),
                    ..TaskPatch::default()
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(written.checkpoint, c, "{phase}");
        let read = store.get_task(&task.id).await.unwrap().unwrap();
        assert_eq!(read.checkpoint, c, "{phase} read back");
        let listed = store.list_tasks(&t.id).await.unwrap();
        assert_eq!(listed[0].checkpoint, c, "{phase} listed");
    }

    // Other fields leave the checkpoint as it is; a checkpoint patch leaves them as they are.
    let before = store.get_task(&task.id).await.unwrap().unwrap();
    let after = store
        .update_task(
            &task.id,
            TaskPatch {
                implementation_attempts: Some(3),
                ..TaskPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(after.checkpoint, before.checkpoint);
    assert_eq!(after.implementation_attempts, 3);
    // The attempt's start and its count in one write: a crash cannot separate them.
    let started = store
        .update_task(
            &task.id,
            TaskPatch {
                implementation_attempts: Some(4),
                checkpoint: Some(TaskCheckpoint {
                    phase: TaskPhase::Started,
                    ..TaskCheckpoint::default()
                }),
                ..TaskPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(started.implementation_attempts, 4);
    assert_eq!(started.checkpoint.phase, TaskPhase::Started);
    assert_eq!(started.checkpoint.sha, None);
    assert_eq!(started.checkpoint.feedback, None);
    assert!(!started.checkpoint.red_proven);
    let cleared = store
        .update_task(
            &task.id,
            TaskPatch {
                checkpoint: Some(TaskCheckpoint::default()),
                ..TaskPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(cleared.checkpoint, TaskCheckpoint::default());
    assert_eq!(
        store.get_task(&task.id).await.unwrap().unwrap(),
        cleared,
        "what was written is what is read"
    );
}

/// A worker whose lease was taken over cannot record a phase: its checkpoint is refused as a
/// stale fence and the new holder's checkpoint stays.
pub async fn a_stale_worker_cannot_record_a_phase(store: Arc<dyn Store>) {
    let t = create(&*store, "CP-2").await;
    let first = store
        .claim_next(&claim_req("w1"))
        .await
        .unwrap()
        .expect("claimed");
    let task = store
        .create_tasks(&t.id, one_task(), Some(first.fencing_token))
        .await
        .unwrap()
        .remove(0);
    let mine = checkpoint(TaskPhase::TestsWritten, "aaaa");
    store
        .update_task(
            &task.id,
            TaskPatch {
                checkpoint: Some(mine.clone()),
                ..TaskPatch::default()
            },
            Some(first.fencing_token),
        )
        .await
        .unwrap();

    // w1's lease goes (released here, as a restart does); w2 takes the ticket over.
    store
        .release_lease(&t.id, "w1", first.fencing_token)
        .await
        .unwrap();
    let second = store
        .claim_next(&claim_req("w2"))
        .await
        .unwrap()
        .expect("claimed again");
    assert!(second.fencing_token > first.fencing_token);
    let theirs = checkpoint(TaskPhase::RedProven, "bbbb");
    store
        .update_task(
            &task.id,
            TaskPatch {
                checkpoint: Some(theirs.clone()),
                ..TaskPatch::default()
            },
            Some(second.fencing_token),
        )
        .await
        .unwrap();

    let late = store
        .update_task(
            &task.id,
            TaskPatch {
                implementation_attempts: Some(9),
                checkpoint: Some(checkpoint(TaskPhase::Committed, "cccc")),
                ..TaskPatch::default()
            },
            Some(first.fencing_token),
        )
        .await;
    match late {
        Err(StoreError::StaleFence {
            presented, current, ..
        }) => {
            assert_eq!(presented, first.fencing_token);
            assert_eq!(current, second.fencing_token);
        }
        other => panic!("expected a stale fence, got {other:?}"),
    }
    let now = store.get_task(&task.id).await.unwrap().unwrap();
    assert_eq!(now.checkpoint, theirs, "the refused write changed nothing");
    assert_eq!(now.implementation_attempts, 0);
    assert_ne!(first.fencing_token, FencingToken(0));
}
