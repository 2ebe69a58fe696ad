//! Disk quota, the disk gauge, and sweeping the worktrees of finished tickets.

use foreman_domain::git::{GitError, GitRepo};
use foreman_domain::{NewTicket, TicketId, TicketStore};
use foreman_git::GitRepository;
use foreman_git::hygiene::{self, DISK_GAUGE};
use foreman_testkit::MemoryStore;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

use crate::support::{Fixture, spec};

#[tokio::test]
async fn a_full_quota_refuses_new_worktrees() {
    let f = Fixture::new();
    let mut cfg = f.config();
    cfg.disk_quota_bytes = 1;
    let repo = GitRepository::new(cfg).unwrap();
    repo.sync().await.unwrap();
    let err = repo
        .add_worktree(&spec(&TicketId::new(), "ticket", "b", "origin/main"))
        .await
        .unwrap_err();
    let GitError::QuotaExceeded {
        used_bytes,
        quota_bytes,
    } = err
    else {
        panic!("expected a quota error, got {err:?}")
    };
    assert_eq!(quota_bytes, 1);
    assert!(used_bytes > 1);
    assert!(!repo.worktrees_dir().exists(), "nothing was created");
}

#[tokio::test]
async fn disk_usage_counts_worktrees() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let before = repo.disk_usage().await.unwrap();
    let wt = repo
        .add_worktree(&spec(&TicketId::new(), "ticket", "b", "origin/main"))
        .await
        .unwrap();
    std::fs::write(wt.path.join("blob.bin"), vec![7u8; 1 << 20]).unwrap();
    let after = repo.disk_usage().await.unwrap();
    assert!(after >= before + (1 << 20), "{before} -> {after}");
}

#[test]
fn the_gauge_carries_the_project() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || hygiene::record_disk_usage("demo", 4096));
    let snap = snapshotter.snapshot().into_vec();
    let (key, _, _, value) = snap
        .iter()
        .find(|(k, ..)| k.key().name() == DISK_GAUGE)
        .expect("gauge recorded");
    assert_eq!(
        key.key().labels().next().map(|l| (l.key(), l.value())),
        Some(("project", "demo"))
    );
    assert_eq!(*value, DebugValue::Gauge(4096.0.into()));
}

#[tokio::test]
async fn sweeping_removes_finished_tickets_and_orphans_only() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let store = MemoryStore::new();
    let live = store
        .create_ticket(NewTicket {
            external_id: "LIVE-1".into(),
            title: "live".into(),
            ..NewTicket::default()
        })
        .await
        .unwrap();
    let gone = TicketId::new(); // deleted from the store: finished
    let live_wt = repo
        .add_worktree(&spec(&live.id, "ticket", "foreman/live", "origin/main"))
        .await
        .unwrap();
    let gone_ticket = repo
        .add_worktree(&spec(&gone, "ticket", "foreman/gone", "origin/main"))
        .await
        .unwrap();
    let gone_task = repo
        .add_worktree(&spec(
            &gone,
            "task-1",
            "foreman/gone--task-1",
            "foreman/gone",
        ))
        .await
        .unwrap();
    let orphan = repo
        .worktrees_dir()
        .join(TicketId::new().as_str())
        .join("ticket");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("junk"), "x").unwrap();

    let removed = hygiene::sweep_finished(&repo, &store).await.unwrap();
    assert_eq!(removed, 3);
    assert!(live_wt.path.exists());
    assert!(!gone_ticket.path.exists() && !gone_task.path.exists());
    assert!(!orphan.exists());
    let branches = crate::support::git(repo.repo_dir(), &["branch", "--format=%(refname:short)"]);
    assert!(
        branches.contains("foreman/gone"),
        "ticket branches stay (they are PR heads)"
    );
    assert!(
        !branches.contains("--task-1"),
        "task branches go: {branches}"
    );
    assert_eq!(repo.list_worktrees().await.unwrap().len(), 1);

    // a second sweep finds nothing
    assert_eq!(hygiene::sweep_finished(&repo, &store).await.unwrap(), 0);
}

#[tokio::test]
async fn the_janitor_sweeps_on_its_own_and_stops_on_shutdown() {
    let f = Fixture::new();
    let repo = std::sync::Arc::new(f.repo().await);
    let finished = TicketId::new();
    let wt = repo
        .add_worktree(&spec(&finished, "ticket", "foreman/done", "origin/main"))
        .await
        .unwrap();
    let store: std::sync::Arc<dyn TicketStore> = std::sync::Arc::new(MemoryStore::new());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = hygiene::spawn_janitor(
        repo.clone(),
        store,
        std::time::Duration::from_millis(50),
        shutdown.clone(),
    );
    // the port is object-safe: the pipeline holds the repository as `Arc<dyn GitRepo>`
    let as_port: std::sync::Arc<dyn GitRepo> = repo.clone();
    for _ in 0..200 {
        if !wt.path.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        !wt.path.exists(),
        "the janitor removed the finished ticket's worktree"
    );
    assert!(
        as_port
            .ticket_worktrees(&finished)
            .await
            .unwrap()
            .is_empty()
    );
    shutdown.cancel();
    task.await.unwrap();
}
