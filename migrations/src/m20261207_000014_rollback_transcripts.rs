//! Checkpoints (one per completed task: its commit, branch and the ticket's status then; what
//! a rollback puts the ticket back to) and task transcripts (what the agent did, the test runs
//! and the review verdicts, bounded per task).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, boolean, integer, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TicketCheckpoints {
    Table,
    Id,
    TicketId,
    TaskId,
    Sequence,
    Title,
    CommitSha,
    Branch,
    TicketStatus,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TaskTranscripts {
    Table,
    TaskId,
    Seq,
    TicketId,
    Attempt,
    Turn,
    Kind,
    Tool,
    Text,
    Bytes,
    Truncated,
    IsError,
    // JSON
    Details,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TicketCheckpoints::Table)
                .col(text(TicketCheckpoints::Id).primary_key())
                .col(text(TicketCheckpoints::TicketId))
                .col(text(TicketCheckpoints::TaskId))
                .col(integer(TicketCheckpoints::Sequence))
                .col(text(TicketCheckpoints::Title))
                .col(text(TicketCheckpoints::CommitSha))
                .col(text(TicketCheckpoints::Branch))
                .col(text(TicketCheckpoints::TicketStatus))
                .col(big_integer(TicketCheckpoints::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_ticket_checkpoints_ticket")
                        .from(TicketCheckpoints::Table, TicketCheckpoints::TicketId)
                        .to(Tickets::Table, Tickets::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_ticket_checkpoints_task")
                        .from(TicketCheckpoints::Table, TicketCheckpoints::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // one checkpoint per task
        m.create_index(
            Index::create()
                .name("ux_ticket_checkpoints_task")
                .table(TicketCheckpoints::Table)
                .col(TicketCheckpoints::TaskId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_ticket_checkpoints_ticket")
                .table(TicketCheckpoints::Table)
                .col(TicketCheckpoints::TicketId)
                .col(TicketCheckpoints::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TaskTranscripts::Table)
                .col(text(TaskTranscripts::TaskId))
                .col(big_integer(TaskTranscripts::Seq))
                .col(text(TaskTranscripts::TicketId))
                .col(integer(TaskTranscripts::Attempt))
                .col(integer(TaskTranscripts::Turn))
                .col(text(TaskTranscripts::Kind))
                .col(text_null(TaskTranscripts::Tool))
                .col(text(TaskTranscripts::Text))
                .col(big_integer(TaskTranscripts::Bytes))
                .col(boolean(TaskTranscripts::Truncated))
                .col(boolean(TaskTranscripts::IsError))
                .col(text(TaskTranscripts::Details))
                .col(big_integer(TaskTranscripts::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(TaskTranscripts::TaskId)
                        .col(TaskTranscripts::Seq),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_task_transcripts_task")
                        .from(TaskTranscripts::Table, TaskTranscripts::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }
}
