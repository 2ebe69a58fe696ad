//! Foreman's database schema as sea-orm migrations.
//!
//! This crate owns the tables, indices and foreign keys that `foreman-store` reads and writes.
//! Migrations are append-only: a released migration is never edited, a change is a new one.
//! They are backend-agnostic and run unchanged on SQLite and PostgreSQL; timestamps are BIGINT
//! microseconds since the Unix epoch, money is BIGINT micro-dollars and lists are JSON text, so
//! both backends compare, index and sum them identically.
//!
//! Cargo features (both on by default): `sqlite` and `postgres` turn on the matching backend
//! of `sea-orm-migration`; the migrations are the same for both.
//!
//! It must not know about the domain types or the ports: it speaks only tables and columns.

use sea_orm_migration::prelude::*;

mod m20260101_000001_foundation;
mod m20261203_000001_file_reservations;
mod m20261207_000002_task_checkpoints;
mod m20261207_000003_exactly_once;
mod m20261207_000010_submission;
mod m20261207_000011_search;
mod m20261207_000012_runs_logs;
mod m20261207_000013_notifications;
mod m20261207_000014_rollback_transcripts;
mod m20261207_000020_search_bounds;
mod m20261207_000030_webhook_subscriptions;
mod m20261207_000031_usage_ingest;
mod m20261207_000032_audit;

/// Every migration, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260101_000001_foundation::Migration),
            Box::new(m20261203_000001_file_reservations::Migration),
            Box::new(m20261207_000002_task_checkpoints::Migration),
            Box::new(m20261207_000003_exactly_once::Migration),
            Box::new(m20261207_000010_submission::Migration),
            Box::new(m20261207_000011_search::Migration),
            Box::new(m20261207_000012_runs_logs::Migration),
            Box::new(m20261207_000013_notifications::Migration),
            Box::new(m20261207_000014_rollback_transcripts::Migration),
            Box::new(m20261207_000020_search_bounds::Migration),
            Box::new(m20261207_000030_webhook_subscriptions::Migration),
            Box::new(m20261207_000031_usage_ingest::Migration),
            Box::new(m20261207_000032_audit::Migration),
        ]
    }
}

pub use sea_orm_migration::MigratorTrait;
