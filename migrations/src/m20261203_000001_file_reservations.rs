//! File reservations shared by every node: which ticket holds which path of a project.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum FileReservations {
    Table,
    Project,
    Path,
    TicketId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One holder per path: the primary key is what concurrent reservers race on.
        m.create_table(
            Table::create()
                .table(FileReservations::Table)
                .col(text(FileReservations::Project))
                .col(text(FileReservations::Path))
                .col(text(FileReservations::TicketId))
                .col(big_integer(FileReservations::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(FileReservations::Project)
                        .col(FileReservations::Path),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_file_reservations_ticket")
                        .from(FileReservations::Table, FileReservations::TicketId)
                        .to(Tickets::Table, Tickets::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_file_reservations_ticket")
                .table(FileReservations::Table)
                .col(FileReservations::TicketId)
                .to_owned(),
        )
        .await
    }
}
