//! Notifications and retrospectives: each fired notification once per situation (a unique
//! `dedup_key`), acknowledged by a person later; each retrospective once per number, with the
//! last ticket it covered so the next one starts after it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    Trigger,
    Severity,
    Message,
    TicketId,
    TaskId,
    DedupKey,
    Details,
    CreatedAt,
    AcknowledgedAt,
}

#[derive(DeriveIden)]
enum Retrospectives {
    Table,
    Id,
    Number,
    TicketIds,
    UntilCompletedAt,
    UntilTicketId,
    Report,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Tickets are referenced without a foreign key: a notification outlives its ticket.
        m.create_table(
            Table::create()
                .table(Notifications::Table)
                .col(
                    ColumnDef::new(Notifications::Id)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Notifications::Trigger).text().not_null())
                .col(ColumnDef::new(Notifications::Severity).text().not_null())
                .col(ColumnDef::new(Notifications::Message).text().not_null())
                .col(ColumnDef::new(Notifications::TicketId).text().null())
                .col(ColumnDef::new(Notifications::TaskId).text().null())
                .col(ColumnDef::new(Notifications::DedupKey).text().not_null())
                // JSON
                .col(ColumnDef::new(Notifications::Details).text().not_null())
                .col(
                    ColumnDef::new(Notifications::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Notifications::AcknowledgedAt)
                        .big_integer()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_notifications_dedup_key")
                .table(Notifications::Table)
                .col(Notifications::DedupKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_notifications_ack")
                .table(Notifications::Table)
                .col(Notifications::AcknowledgedAt)
                .col(Notifications::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Retrospectives::Table)
                .col(
                    ColumnDef::new(Retrospectives::Id)
                        .text()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Retrospectives::Number)
                        .big_integer()
                        .not_null(),
                )
                // JSON list
                .col(ColumnDef::new(Retrospectives::TicketIds).text().not_null())
                .col(
                    ColumnDef::new(Retrospectives::UntilCompletedAt)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Retrospectives::UntilTicketId)
                        .text()
                        .not_null(),
                )
                // JSON
                .col(ColumnDef::new(Retrospectives::Report).text().not_null())
                .col(
                    ColumnDef::new(Retrospectives::CreatedAt)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_retrospectives_number")
                .table(Retrospectives::Table)
                .col(Retrospectives::Number)
                .unique()
                .to_owned(),
        )
        .await
    }
}
