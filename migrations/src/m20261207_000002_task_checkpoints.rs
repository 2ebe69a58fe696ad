//! Task checkpoints: the last phase a task's open attempt completed, whether red was proven,
//! the task branch commit holding its work, and the feedback waiting for the implementer's
//! next run. A restarted task resumes at the first unfinished phase.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Phase,
    RedProven,
    CheckpointSha,
    Feedback,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            ColumnDef::new(Tasks::Phase)
                .text()
                .not_null()
                .default("idle")
                .to_owned(),
            ColumnDef::new(Tasks::RedProven)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new(Tasks::CheckpointSha)
                .text()
                .null()
                .to_owned(),
            // JSON: {"class": ..., "text": ...}
            ColumnDef::new(Tasks::Feedback).text().null().to_owned(),
        ];
        for mut column in columns {
            m.alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
