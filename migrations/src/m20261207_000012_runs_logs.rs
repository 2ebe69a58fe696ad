//! Runs (one server session each, with the totals frozen when it closes) and the server's own
//! log lines, whose ids come from a counter row like the events' `seq`, so they increase in
//! commit order and a follower resuming after an id misses none.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, small_integer, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Runs {
    Table,
    Id,
    NodeId,
    Version,
    Status,
    StartedAt,
    LastSeenAt,
    StoppedAt,
    TicketsDone,
    TicketsFailed,
    LlmCalls,
    CostMicros,
}

#[derive(DeriveIden)]
enum LogLines {
    Table,
    Id,
    At,
    Level,
    Target,
    Message,
    Fields,
    TicketId,
    RunId,
}

#[derive(DeriveIden)]
enum Counters {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    CompletedAt,
}

fn index(name: &str, table: impl IntoIden) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    i
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Runs::Table)
                .col({
                    let mut c = text(Runs::Id);
                    c.primary_key();
                    c
                })
                .col(text(Runs::NodeId))
                .col(text(Runs::Version))
                .col(text(Runs::Status))
                .col(big_integer(Runs::StartedAt))
                .col(big_integer(Runs::LastSeenAt))
                .col(big_integer_null(Runs::StoppedAt))
                .col(big_integer(Runs::TicketsDone))
                .col(big_integer(Runs::TicketsFailed))
                .col(big_integer(Runs::LlmCalls))
                .col(big_integer(Runs::CostMicros))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_runs_node_status", Runs::Table)
                .col(Runs::NodeId)
                .col(Runs::Status)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LogLines::Table)
                .col({
                    let mut c = big_integer(LogLines::Id);
                    c.primary_key();
                    c
                })
                .col(big_integer(LogLines::At))
                // 1 error … 5 trace: "at least as severe as" is `<=`
                .col(small_integer(LogLines::Level))
                .col(text(LogLines::Target))
                .col(text(LogLines::Message))
                .col(text_null(LogLines::Fields))
                .col(text_null(LogLines::TicketId))
                .col(text_null(LogLines::RunId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_log_lines_at", LogLines::Table)
                .col(LogLines::At)
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_log_lines_ticket_id", LogLines::Table)
                .col(LogLines::TicketId)
                .col(LogLines::Id)
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(Counters::Table)
                .columns([Counters::Name, Counters::Value])
                .values_panic(["log_lines".into(), 0i64.into()])
                .to_owned(),
        )
        .await?;
        // A run's totals count the tickets finished inside its window.
        m.create_index(
            index("ix_tickets_completed", Tickets::Table)
                .col(Tickets::CompletedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
