//! Exactly-once side effects and kept spend: outbox entries get a time before which they are
//! not retried (backoff, and the hold of the performer working on one), and LLM calls keep the
//! id of a deleted ticket instead of going with it, so the budget still counts them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    State,
    NextAttemptAt,
}

#[derive(DeriveIden)]
enum LlmCalls {
    Table,
    DeletedTicketId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // 0 (the epoch): entries written before this migration are due at once.
        m.alter_table(
            Table::alter()
                .table(Outbox::Table)
                .add_column(
                    ColumnDef::new(Outbox::NextAttemptAt)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_due")
                .table(Outbox::Table)
                .col(Outbox::State)
                .col(Outbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        // A call of a deleted ticket is a tombstone: no ticket or task any more, the deleted
        // ticket's id here, its cost still in every spend window.
        m.alter_table(
            Table::alter()
                .table(LlmCalls::Table)
                .add_column(ColumnDef::new(LlmCalls::DeletedTicketId).text().null())
                .to_owned(),
        )
        .await
    }
}
