//! The fence under a lease takeover that commits while a worker's write is under way.
//!
//! A worker holds ticket T under token A and writes a task; between its fence check and its
//! write, another worker takes the lease over (token B). Without the defence the write lands
//! although T now belongs to B (the control); with it, the takeover cannot commit in between:
//! it comes after the write, and the worker's next write is refused as stale.
//!
//! - PostgreSQL: the store reads the fence `FOR SHARE` in the write's transaction. The control
//!   (the probe turns the lock off: a plain read under READ COMMITTED, what the store did
//!   before) lets the takeover commit inside the window; with the lock the claimer skips the
//!   locked row (`FOR UPDATE SKIP LOCKED`) and finds nothing to claim until the write commits.
//! - SQLite: the write's transaction takes the database's write lock (`BEGIN IMMEDIATE`) before
//!   the read, so a takeover started inside the window waits for the write. The control is a
//!   fence checked by a read of its own before an unfenced write, which is what a check outside
//!   the write's transaction amounts to.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::{
    ClaimRequest, FencingToken, NewTask, Store, StoreError, Task, TaskPatch, TaskStore, TicketId,
    TicketStatus, TicketStore,
};
use foreman_store::SqlStore;
use foreman_store::fence_probe::{self, Probe};
use foreman_testkit::contract::new_ticket;
use foreman_testkit::pg::TestSchema;
use tokio::sync::Mutex;

fn claim(worker: &str, lease: Duration) -> ClaimRequest {
    ClaimRequest {
        worker_id: worker.to_owned(),
        lease,
        statuses: vec![TicketStatus::Queued],
        project: None,
    }
}

/// A ticket with one task, claimed by `a` under a lease that has already run out (so `b` may
/// take it over), and the task.
async fn leased(store: &dyn Store, ext: &str) -> (TicketId, FencingToken, Task) {
    let t = store.create_ticket(new_ticket(ext)).await.unwrap();
    let a = store
        .claim_next(&claim("a", Duration::from_millis(1)))
        .await
        .unwrap()
        .expect("a claims");
    let tasks = store
        .create_tasks(
            &t.id,
            vec![NewTask {
                sequence: 1,
                title: "one".into(),
                complexity: 1,
                ..NewTask::default()
            }],
            Some(a.fencing_token),
        )
        .await
        .unwrap();
    // let a's lease run out: b's claim is a takeover
    tokio::time::sleep(Duration::from_millis(20)).await;
    (t.id, a.fencing_token, tasks[0].clone())
}

/// The task's `last_error` as stored: who wrote last.
async fn last_error(store: &dyn Store, task: &Task) -> Option<String> {
    store.get_task(&task.id).await.unwrap().unwrap().last_error
}

fn mark(text: &str) -> TaskPatch {
    TaskPatch {
        last_error: Some(Some(text.to_owned())),
        ..TaskPatch::default()
    }
}

/// Arms a probe whose hook runs `b`'s claim inside the window and keeps its answer.
fn arm_takeover(
    store: Arc<dyn Store>,
    ticket: &TicketId,
    lock: bool,
    wait: bool,
) -> Arc<Mutex<Option<tokio::task::JoinHandle<Option<FencingToken>>>>> {
    let slot = Arc::new(Mutex::new(None));
    let kept = Arc::clone(&slot);
    fence_probe::arm(
        ticket.as_str(),
        Probe {
            lock,
            hook: Arc::new(move || {
                let store = Arc::clone(&store);
                let slot = Arc::clone(&kept);
                Box::pin(async move {
                    let takeover = tokio::spawn(async move {
                        store
                            .claim_next(&claim("b", Duration::from_secs(60)))
                            .await
                            .unwrap()
                            .map(|c| c.fencing_token)
                    });
                    if wait {
                        while !takeover.is_finished() {
                            tokio::task::yield_now().await;
                        }
                    } else {
                        for _ in 0..50 {
                            tokio::task::yield_now().await;
                        }
                        // it needs the write lock this transaction holds
                        assert!(
                            !takeover.is_finished(),
                            "a takeover committed inside the window"
                        );
                    }
                    *slot.lock().await = Some(takeover);
                })
            }),
        },
    );
    slot
}

async fn takeover_token(
    slot: &Mutex<Option<tokio::task::JoinHandle<Option<FencingToken>>>>,
) -> Option<FencingToken> {
    slot.lock()
        .await
        .take()
        .expect("the probe ran")
        .await
        .unwrap()
}

/// With the defence: the write goes through before the takeover, never after it.
async fn takeover_waits_for_the_write(store: Arc<dyn Store>, sqlite: bool) {
    let (ticket, a, task) = leased(&*store, "FENCE-1").await;
    let slot = arm_takeover(Arc::clone(&store), &ticket, true, !sqlite);
    let written = store
        .update_task(&task.id, mark("by a"), Some(a))
        .await
        .expect("a's write, made before any takeover");
    assert_eq!(written.last_error.as_deref(), Some("by a"));
    let b = if sqlite {
        // the takeover was started inside the window and waited for the write lock
        takeover_token(&slot)
            .await
            .expect("b takes over after the write")
    } else {
        // the claimer skipped the row a's transaction held; it takes it over now
        assert_eq!(
            takeover_token(&slot).await,
            None,
            "no takeover inside the window"
        );
        store
            .claim_next(&claim("b", Duration::from_secs(60)))
            .await
            .unwrap()
            .expect("b takes over after the write")
            .fencing_token
    };
    assert!(b.0 > a.0);
    // from now on a is stale
    match store.update_task(&task.id, mark("a again"), Some(a)).await {
        Err(StoreError::StaleFence { current, .. }) => assert_eq!(current, b),
        other => panic!("a's write after the takeover: {other:?}"),
    }
    assert_eq!(last_error(&*store, &task).await.as_deref(), Some("by a"));
}

#[tokio::test]
async fn sqlite_takeover_waits_for_a_fenced_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("f.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    takeover_waits_for_the_write(Arc::new(store), true).await;
}

#[tokio::test]
async fn sqlite_control_a_fence_read_apart_from_the_write_lets_a_stale_write_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("f.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let (ticket, a, task) = leased(&store, "FENCE-2").await;
    // the check, by a read of its own
    assert_eq!(
        store
            .get_ticket(&ticket)
            .await
            .unwrap()
            .unwrap()
            .fencing_token,
        a
    );
    // the takeover commits
    let b = store
        .claim_next(&claim("b", Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("b takes over")
        .fencing_token;
    // the write, no longer fenced in its own transaction, lands on b's ticket
    store
        .update_task(&task.id, mark("stale"), None)
        .await
        .expect("the stale write lands");
    let t = store.get_ticket(&ticket).await.unwrap().unwrap();
    assert_eq!(t.fencing_token, b);
    assert_eq!(last_error(&store, &task).await.as_deref(), Some("stale"));
}

async fn postgres() -> Option<(Arc<dyn Store>, TestSchema)> {
    let schema = TestSchema::create("fence").await?;
    let store = SqlStore::connect(schema.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    Some((Arc::new(store), schema))
}

#[tokio::test]
async fn postgres_takeover_waits_for_a_fenced_write() {
    let Some((store, schema)) = postgres().await else {
        return;
    };
    takeover_waits_for_the_write(store, false).await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn postgres_control_a_plain_read_lets_a_takeover_commit_before_the_write() {
    let Some((store, schema)) = postgres().await else {
        return;
    };
    let (ticket, a, task) = leased(&*store, "FENCE-3").await;
    let slot = arm_takeover(Arc::clone(&store), &ticket, false, true);
    // the fence passes the plain read, the takeover commits, the write lands
    store
        .update_task(&task.id, mark("stale"), Some(a))
        .await
        .expect("the stale write lands");
    let b = takeover_token(&slot)
        .await
        .expect("b took over inside the window");
    assert!(b.0 > a.0);
    let t = store.get_ticket(&ticket).await.unwrap().unwrap();
    assert_eq!(
        t.fencing_token, b,
        "b held the ticket when a's write committed"
    );
    assert_eq!(last_error(&*store, &task).await.as_deref(), Some("stale"));
    schema.drop_schema().await;
}
