//! Direct submission: what a ticket submitted through the API asks for besides its text (a
//! per-task timeout, its own budget, tags, a webhook, a named coding agent) in a table of its
//! own, one row per ticket that asked for anything, gone with its ticket. (The queue's
//! estimate reads recently finished tickets through `ix_tickets_completed`, which
//! `m20261207_000012_runs_logs` creates.)

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TicketOptions {
    Table,
    TicketId,
    TimeoutSecs,
    MaxBudgetMicros,
    Tags,
    WebhookUrl,
    Agent,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TicketOptions::Table)
                .col(
                    ColumnDef::new(TicketOptions::TicketId)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(TicketOptions::TimeoutSecs).integer().null())
                .col(
                    ColumnDef::new(TicketOptions::MaxBudgetMicros)
                        .big_integer()
                        .null(),
                )
                // a JSON array of strings, like the tickets' labels
                .col(
                    ColumnDef::new(TicketOptions::Tags)
                        .text()
                        .not_null()
                        .default("[]"),
                )
                .col(ColumnDef::new(TicketOptions::WebhookUrl).text().null())
                .col(ColumnDef::new(TicketOptions::Agent).text().null())
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_ticket_options_ticket")
                        .from(TicketOptions::Table, TicketOptions::TicketId)
                        .to(Tickets::Table, Tickets::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }
}
