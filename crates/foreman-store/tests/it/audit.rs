//! The audit tables on both backends: the triggers refuse `UPDATE` and `DELETE` (and
//! `TRUNCATE` on PostgreSQL) of entries and checkpoints; with a trigger out of the way (the
//! control: what someone with raw access to the database could do), a changed or removed row
//! is found by verification at its `seq`, and a checkpoint written without the key fails its
//! signature.

use std::sync::Arc;

use chrono::{Duration, Utc};
use foreman_domain::Store;
use foreman_domain::audit::{AuditKey, BreakReason, BrokenLink};
use foreman_store::{Backend, SqlStore};
use foreman_testkit::contract::audit::{audit_entry, verify_chain};
use foreman_testkit::pg::TestSchema;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// A migrated store, a second raw connection to the same database, and what keeps it alive.
struct Db {
    store: Arc<dyn Store>,
    raw: DatabaseConnection,
    backend: Backend,
    _dir: Option<tempfile::TempDir>,
    schema: Option<TestSchema>,
}

async fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = SqlStore::open_sqlite(&path).await.unwrap();
    store.migrate().await.unwrap();
    let raw = Database::connect(format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    Db {
        store: Arc::new(store),
        raw,
        backend: Backend::Sqlite,
        _dir: Some(dir),
        schema: None,
    }
}

async fn postgres() -> Option<Db> {
    let schema = TestSchema::create("audit").await?;
    let store = SqlStore::connect(schema.url()).await.unwrap();
    store.migrate().await.unwrap();
    let raw = Database::connect(schema.url()).await.unwrap();
    Some(Db {
        store: Arc::new(store),
        raw,
        backend: Backend::Postgres,
        _dir: None,
        schema: Some(schema),
    })
}

impl Db {
    async fn exec(&self, sql: &str) -> Result<(), sea_orm::DbErr> {
        self.raw.execute_unprepared(sql).await.map(drop)
    }

    async fn refused(&self, sql: &str) {
        let err = self.exec(sql).await.expect_err(sql);
        assert!(
            err.to_string().contains("append-only"),
            "{sql}: refused for another reason: {err}"
        );
    }

    /// Turns the entries' update/delete guard off, as an attacker with raw access could.
    async fn disable_guard(&self) {
        match self.backend {
            Backend::Sqlite => {
                self.exec("DROP TRIGGER audit_entries_no_update")
                    .await
                    .unwrap();
                self.exec("DROP TRIGGER audit_entries_no_delete")
                    .await
                    .unwrap();
            }
            Backend::Postgres => self
                .exec("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
                .await
                .unwrap(),
        }
    }

    async fn done(self) {
        drop(self.raw);
        if let Some(schema) = self.schema {
            schema.drop_schema().await;
        }
    }
}

async fn seed(db: &Db, n: usize) {
    let now = Utc::now();
    db.store
        .append_audit(
            (0..n)
                .map(|i| audit_entry("ci", &format!("ticket.a{i}"), now))
                .collect(),
        )
        .await
        .unwrap();
}

async fn guards_refuse_changes_and_verify_finds_tampering(db: Db) {
    seed(&db, 5).await;
    let key = AuditKey::generate();
    assert_eq!(verify_chain(&db.store, Some(&key)).await, Ok(5), "control");

    db.refused("UPDATE audit_entries SET action = 'ticket.nothing' WHERE seq = 3")
        .await;
    db.refused("DELETE FROM audit_entries WHERE seq = 1").await;
    db.refused("DELETE FROM audit_entries").await;
    if db.backend == Backend::Postgres {
        db.refused("TRUNCATE audit_entries").await;
    }
    assert_eq!(
        verify_chain(&db.store, Some(&key)).await,
        Ok(5),
        "untouched"
    );

    // pruning is the one path that removes entries, and its checkpoint rows are guarded too
    let cp = db
        .store
        .prune_audit(Utc::now() + Duration::seconds(5), &key)
        .await
        .unwrap()
        .expect("pruned");
    assert_eq!(cp.seq, 4);
    db.refused("UPDATE audit_checkpoints SET seq = 1").await;
    db.refused("DELETE FROM audit_checkpoints").await;
    if db.backend == Backend::Postgres {
        db.refused("TRUNCATE audit_checkpoints").await;
    }
    seed(&db, 4).await;
    assert_eq!(verify_chain(&db.store, Some(&key)).await, Ok(5));

    // with the guard gone, a changed row is found at its seq ...
    db.disable_guard().await;
    db.exec("UPDATE audit_entries SET outcome = 'denied' WHERE seq = 7")
        .await
        .unwrap();
    assert_eq!(
        verify_chain(&db.store, Some(&key)).await,
        Err(BrokenLink {
            seq: 7,
            reason: BreakReason::HashMismatch
        })
    );
    // ... a removed one as a gap before the next
    db.exec("DELETE FROM audit_entries WHERE seq = 6")
        .await
        .unwrap();
    assert_eq!(
        verify_chain(&db.store, Some(&key)).await,
        Err(BrokenLink {
            seq: 6,
            reason: BreakReason::Missing
        })
    );
    // and pruning refuses to bury a broken run under a checkpoint
    assert!(
        db.store
            .prune_audit(Utc::now() + Duration::seconds(5), &key)
            .await
            .is_err()
    );
    db.done().await;
}

async fn forged_checkpoints_fail_their_signature(db: Db) {
    seed(&db, 3).await;
    let key = AuditKey::generate();
    let cp = db
        .store
        .prune_audit(Utc::now() + Duration::seconds(5), &key)
        .await
        .unwrap()
        .expect("pruned");
    assert_eq!(verify_chain(&db.store, Some(&key)).await, Ok(1), "control");
    // a checkpoint claiming more was pruned, signed with a key that is not the server's
    let other = AuditKey::generate();
    let forged = foreman_domain::audit::AuditCheckpoint::sign(
        &cp.head(),
        cp.pruned_before,
        Utc::now(),
        &other,
    );
    db.exec(&format!(
        "INSERT INTO audit_checkpoints (seq, hash, pruned_before, created_at, signature) \
         VALUES (100, '{}', 0, 0, '{}')",
        forged.hash, forged.signature
    ))
    .await
    .unwrap();
    assert_eq!(
        verify_chain(&db.store, Some(&key)).await,
        Err(BrokenLink {
            seq: 100,
            reason: BreakReason::CheckpointSignature
        })
    );
    db.done().await;
}

#[tokio::test]
async fn sqlite_guards_refuse_changes_and_verify_finds_tampering() {
    guards_refuse_changes_and_verify_finds_tampering(sqlite().await).await;
}

#[tokio::test]
async fn postgres_guards_refuse_changes_and_verify_finds_tampering() {
    if let Some(db) = postgres().await {
        guards_refuse_changes_and_verify_finds_tampering(db).await;
    }
}

#[tokio::test]
async fn sqlite_forged_checkpoints_fail_their_signature() {
    forged_checkpoints_fail_their_signature(sqlite().await).await;
}

#[tokio::test]
async fn postgres_forged_checkpoints_fail_their_signature() {
    if let Some(db) = postgres().await {
        forged_checkpoints_fail_their_signature(db).await;
    }
}
