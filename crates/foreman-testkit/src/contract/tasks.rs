//! Task cases: creation, listing, compare-and-set transitions and patches.

use std::sync::Arc;

use foreman_domain::{
    Micros, NewTask, Store, StoreError, TaskContextStats, TaskId, TaskPatch, TaskStatus, TicketId,
};

use super::expect_err;
use super::tickets::create;

fn plan() -> Vec<NewTask> {
    vec![
        NewTask {
            sequence: 2,
            title: "second".into(),
            description: "do the second thing".into(),
            acceptance_criteria: "second works".into(),
            depends_on: vec![1],
            files: vec!["src/b.rs".into(), "tests/b.rs".into()],
            complexity: 3,
        },
        NewTask {
            sequence: 1,
            title: "first".into(),
            files: vec!["src/a.rs".into()],
            complexity: 1,
            ..Default::default()
        },
    ]
}

/// Tasks are created `pending` with zero totals, listed by sequence and read back equal.
pub async fn create_list_and_get(store: Arc<dyn Store>) {
    let t = create(&*store, "K-1").await;
    let other = create(&*store, "K-2").await;
    let created = store.create_tasks(&t.id, plan(), None).await.unwrap();
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].sequence, 2, "returned in the order given");
    let second = &created[0];
    assert_eq!(second.ticket_id, t.id);
    assert_eq!(second.status, TaskStatus::Pending);
    assert_eq!(second.depends_on, [1]);
    assert_eq!(second.files, ["src/b.rs", "tests/b.rs"]);
    assert_eq!(second.complexity, 3);
    assert_eq!(second.acceptance_criteria, "second works");
    assert_eq!(second.cost, Micros::ZERO);
    assert_eq!(second.total_llm_calls, 0);
    assert!(second.context.is_none() && second.commit_sha.is_none());
    assert!(second.started_at.is_none() && second.completed_at.is_none());

    let listed = store.list_tasks(&t.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|x| x.sequence).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(listed[1], *second);
    assert_eq!(
        store.get_task(&second.id).await.unwrap().as_ref(),
        Some(second)
    );
    assert!(store.get_task(&TaskId::new()).await.unwrap().is_none());
    assert!(store.list_tasks(&other.id).await.unwrap().is_empty());

    let err = expect_err(
        store.create_tasks(&TicketId::new(), plan(), None).await,
        "unknown ticket",
    );
    assert_eq!(err.code(), "not_found");
    assert!(
        store
            .create_tasks(&other.id, Vec::new(), None)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A sequence already used by the ticket, or twice in one plan, refuses the whole plan.
pub async fn duplicate_sequences_are_refused(store: Arc<dyn Store>) {
    let t = create(&*store, "DS-1").await;
    store.create_tasks(&t.id, plan(), None).await.unwrap();
    let err = expect_err(
        store
            .create_tasks(
                &t.id,
                vec![
                    NewTask {
                        sequence: 3,
                        ..Default::default()
                    },
                    NewTask {
                        sequence: 1,
                        ..Default::default()
                    },
                ],
                None,
            )
            .await,
        "sequence taken",
    );
    assert!(
        matches!(err, StoreError::Duplicate { entity: "task", .. }),
        "{err:?}"
    );
    let u = create(&*store, "DS-2").await;
    let err = expect_err(
        store
            .create_tasks(
                &u.id,
                vec![
                    NewTask {
                        sequence: 4,
                        ..Default::default()
                    },
                    NewTask {
                        sequence: 4,
                        ..Default::default()
                    },
                ],
                None,
            )
            .await,
        "sequence twice",
    );
    assert_eq!(err.code(), "duplicate");
    assert_eq!(
        store.list_tasks(&t.id).await.unwrap().len(),
        2,
        "all or nothing"
    );
    assert!(
        store.list_tasks(&u.id).await.unwrap().is_empty(),
        "all or nothing"
    );
}

/// Transitions are compare-and-set along allowed edges; the first start sets `started_at`,
/// terminal statuses set `completed_at`, a retry (`failed -> pending`) clears it.
pub async fn transitions_track_start_and_completion(store: Arc<dyn Store>) {
    let t = create(&*store, "TT-1").await;
    let tasks = store.create_tasks(&t.id, plan(), None).await.unwrap();
    let id = &tasks[1].id;
    let go = |from, to| {
        let store = Arc::clone(&store);
        let id = id.clone();
        async move { store.transition_task(&id, from, to, None).await }
    };
    let started = go(TaskStatus::Pending, TaskStatus::Implementing)
        .await
        .unwrap();
    let first_start = started.started_at.expect("started_at set");
    assert!(started.completed_at.is_none());
    let err = expect_err(
        go(TaskStatus::Pending, TaskStatus::Implementing).await,
        "conflict",
    );
    match err {
        StoreError::Conflict {
            entity,
            current,
            expected,
            ..
        } => {
            assert_eq!(entity, "task");
            assert_eq!(current, "implementing");
            assert_eq!(expected, "pending");
        }
        other => panic!("expected conflict, got {other:?}"),
    }
    let err = expect_err(
        go(TaskStatus::Implementing, TaskStatus::Pending).await,
        "invalid",
    );
    assert_eq!(err.code(), "invalid_transition");
    for (from, to) in [
        (TaskStatus::Implementing, TaskStatus::Verifying),
        (TaskStatus::Verifying, TaskStatus::SpecReview),
        (TaskStatus::SpecReview, TaskStatus::Implementing),
        (TaskStatus::Implementing, TaskStatus::Failed),
    ] {
        go(from, to).await.unwrap();
    }
    let failed = store.get_task(id).await.unwrap().unwrap();
    assert_eq!(failed.status, TaskStatus::Failed);
    assert!(failed.completed_at.is_some());
    assert_eq!(
        failed.started_at,
        Some(first_start),
        "only the first start counts"
    );

    let retried = go(TaskStatus::Failed, TaskStatus::Pending).await.unwrap();
    assert!(retried.completed_at.is_none());
    go(TaskStatus::Pending, TaskStatus::Implementing)
        .await
        .unwrap();
    go(TaskStatus::Implementing, TaskStatus::QualityReview)
        .await
        .unwrap();
    let done = go(TaskStatus::QualityReview, TaskStatus::Done)
        .await
        .unwrap();
    assert!(done.completed_at.is_some());
    assert_eq!(done.started_at, Some(first_start));
    let err = expect_err(
        go(TaskStatus::Done, TaskStatus::Pending).await,
        "done is final",
    );
    assert_eq!(err.code(), "invalid_transition");
    let err = expect_err(
        store
            .transition_task(
                &TaskId::new(),
                TaskStatus::Pending,
                TaskStatus::Implementing,
                None,
            )
            .await,
        "unknown task",
    );
    assert_eq!(err.code(), "not_found");
}

/// A patch changes only the fields it names.
pub async fn update_applies_a_patch(store: Arc<dyn Store>) {
    let t = create(&*store, "TU-1").await;
    let tasks = store.create_tasks(&t.id, plan(), None).await.unwrap();
    let id = &tasks[0].id;
    let ctx = TaskContextStats {
        budget: 18_000,
        used: 12_450,
        files_selected: 4,
        files_touched: 2,
        cache_hits: 1,
    };
    let u = store
        .update_task(
            id,
            TaskPatch {
                implementation_attempts: Some(2),
                spec_review_attempts: Some(1),
                quality_review_attempts: Some(3),
                commit_sha: Some(Some("abc123".into())),
                context: Some(ctx),
                last_error: Some(Some("tests failed".into())),
                started_at: None,
                checkpoint: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(u.implementation_attempts, 2);
    assert_eq!(u.spec_review_attempts, 1);
    assert_eq!(u.quality_review_attempts, 3);
    assert_eq!(u.commit_sha.as_deref(), Some("abc123"));
    assert_eq!(u.context, Some(ctx));
    assert_eq!(u.last_error.as_deref(), Some("tests failed"));
    assert_eq!(u.title, tasks[0].title);
    assert_eq!(u.status, TaskStatus::Pending);
    assert_eq!(store.get_task(id).await.unwrap().unwrap(), u);
    let cleared = store
        .update_task(
            id,
            TaskPatch {
                commit_sha: Some(None),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(cleared.commit_sha, None);
    assert_eq!(cleared.implementation_attempts, 2);
    let err = expect_err(
        store
            .update_task(&TaskId::new(), TaskPatch::default(), None)
            .await,
        "unknown task",
    );
    assert_eq!(err.code(), "not_found");
}
