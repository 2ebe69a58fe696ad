//! The audit trail: one row per mutating call (`audit_entries`, hash-chained by `seq`) and the
//! signed checkpoints pruning leaves (`audit_checkpoints`).
//!
//! Both tables are append-only at the store level: triggers refuse `UPDATE` and `DELETE` (and
//! `TRUNCATE` on PostgreSQL). The one exception is pruning old entries, which must say so in
//! its own transaction:
//!
//! - SQLite: the pruning transaction inserts the highest `seq` it may remove into
//!   `audit_prune_permit`, deletes, and empties the permit table again before committing; the
//!   delete trigger refuses any row above the permit (every row when there is none).
//! - PostgreSQL: the pruning transaction sets `foreman.audit_prune_upto` with
//!   `set_config(..., true)` (local to the transaction); the trigger function lets a delete of
//!   a row at or below it through and refuses everything else.
//!
//! Checkpoints are never removed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE: &[&str] = &[
    "CREATE TABLE audit_entries (
        seq INTEGER PRIMARY KEY NOT NULL,
        at BIGINT NOT NULL,
        token_id TEXT NULL,
        actor TEXT NULL,
        client_addr TEXT NULL,
        action TEXT NOT NULL,
        resource TEXT NULL,
        via TEXT NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER NOT NULL,
        request_id TEXT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )",
    "CREATE INDEX ix_audit_entries_at ON audit_entries (at, seq)",
    "CREATE INDEX ix_audit_entries_action ON audit_entries (action, seq)",
    "CREATE INDEX ix_audit_entries_actor ON audit_entries (actor, seq)",
    "CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY NOT NULL,
        hash TEXT NOT NULL,
        pruned_before BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        signature TEXT NOT NULL
    )",
    "CREATE TABLE audit_prune_permit (upto BIGINT NOT NULL)",
    "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
     BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
     WHEN OLD.seq > COALESCE((SELECT MAX(upto) FROM audit_prune_permit), 0)
     BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    "CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
     BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END",
    "CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
     BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END",
];

const POSTGRES: &[&str] = &[
    "CREATE TABLE audit_entries (
        seq BIGINT PRIMARY KEY NOT NULL,
        at BIGINT NOT NULL,
        token_id TEXT NULL,
        actor TEXT NULL,
        client_addr TEXT NULL,
        action TEXT NOT NULL,
        resource TEXT NULL,
        via TEXT NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER NOT NULL,
        request_id TEXT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )",
    "CREATE INDEX ix_audit_entries_at ON audit_entries (at, seq)",
    "CREATE INDEX ix_audit_entries_action ON audit_entries (action, seq)",
    "CREATE INDEX ix_audit_entries_actor ON audit_entries (actor, seq)",
    "CREATE TABLE audit_checkpoints (
        seq BIGINT PRIMARY KEY NOT NULL,
        hash TEXT NOT NULL,
        pruned_before BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        signature TEXT NOT NULL
    )",
    "CREATE FUNCTION foreman_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         IF TG_OP = 'DELETE' AND TG_LEVEL = 'ROW' AND TG_TABLE_NAME = 'audit_entries' THEN
             IF OLD.seq <= COALESCE(
                 NULLIF(current_setting('foreman.audit_prune_upto', true), '')::bigint, 0) THEN
                 RETURN OLD;
             END IF;
         END IF;
         RAISE EXCEPTION '% on % refused: the audit trail is append-only', TG_OP, TG_TABLE_NAME;
     END
     $$",
    "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
     FOR EACH ROW EXECUTE FUNCTION foreman_audit_append_only()",
    "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
     FOR EACH STATEMENT EXECUTE FUNCTION foreman_audit_append_only()",
    "CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
     FOR EACH ROW EXECUTE FUNCTION foreman_audit_append_only()",
    "CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
     FOR EACH STATEMENT EXECUTE FUNCTION foreman_audit_append_only()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let statements = match m.get_database_backend() {
            DbBackend::Postgres => POSTGRES,
            _ => SQLITE,
        };
        let db = m.get_connection();
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DROP TABLE IF EXISTS audit_entries")
            .await?;
        db.execute_unprepared("DROP TABLE IF EXISTS audit_checkpoints")
            .await?;
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("DROP FUNCTION IF EXISTS foreman_audit_append_only()")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP TABLE IF EXISTS audit_prune_permit")
                    .await?;
            }
        }
        Ok(())
    }
}
