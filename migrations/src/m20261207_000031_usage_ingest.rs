//! LLM usage reported from outside Foreman lives in `llm_calls`, beside Foreman's own calls, so
//! every spend window, cost report and budget counts it without a second ledger:
//!
//! - `source`: `foreman` (every existing row, and Foreman's calls from now on: the default) or
//!   `external` (rows of `POST /api/llm/usage`);
//! - `project` and `session_tag`: what a reported row names (Foreman's calls leave them empty;
//!   their project is their ticket's);
//! - `external_id`: the client's idempotency key of a reported row, unique (`NULL`s apart, on
//!   both backends), so a retried batch is recorded once.
//!
//! Additive only: a column with a default and nullable columns, valid for a running older
//! build, which never names them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const STATEMENTS: &[&str] = &[
    "ALTER TABLE llm_calls ADD COLUMN source TEXT NOT NULL DEFAULT 'foreman'",
    "ALTER TABLE llm_calls ADD COLUMN project TEXT NULL",
    "ALTER TABLE llm_calls ADD COLUMN session_tag TEXT NULL",
    "ALTER TABLE llm_calls ADD COLUMN external_id TEXT NULL",
    "CREATE UNIQUE INDEX ux_llm_calls_external_id ON llm_calls (external_id)",
    "CREATE INDEX ix_llm_calls_source_created ON llm_calls (source, created_at, id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for sql in STATEMENTS {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
