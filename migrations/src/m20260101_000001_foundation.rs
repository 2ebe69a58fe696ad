//! The foundation schema: tickets, tasks, events, LLM calls, reservations, API tokens,
//! settings and the outbox.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, integer, text, text_null, text_uniq,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    Project,
    ExternalId,
    Title,
    Description,
    AcceptanceCriteria,
    Status,
    Priority,
    Labels,
    Submitter,
    ParentId,
    BranchName,
    PrUrl,
    PrNumber,
    CostMicros,
    TokensInput,
    TokensOutput,
    TotalLlmCalls,
    IsPartial,
    LastCompletedTaskSeq,
    LastError,
    LastErrorType,
    FencingToken,
    LeaseOwner,
    LeaseExpiresAt,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    TicketId,
    Sequence,
    Title,
    Description,
    AcceptanceCriteria,
    DependsOn,
    Files,
    Complexity,
    Status,
    ImplementationAttempts,
    SpecReviewAttempts,
    QualityReviewAttempts,
    TotalLlmCalls,
    TokensInput,
    TokensOutput,
    CommitSha,
    CostMicros,
    Context,
    LastError,
    CreatedAt,
    StartedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Seq,
    Id,
    TicketId,
    TaskId,
    EventType,
    Severity,
    Message,
    Details,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Counters {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum LlmCalls {
    Table,
    Id,
    TicketId,
    TaskId,
    Role,
    Provider,
    Model,
    Runner,
    Attempt,
    TokensInput,
    TokensOutput,
    CacheReadTokens,
    CacheWriteTokens,
    CostMicros,
    DurationMs,
    Status,
    Error,
    PromptVersion,
    RequestId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CostReservations {
    Table,
    Id,
    TicketId,
    TaskId,
    AmountMicros,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    TokenHash,
    Prefix,
    Scopes,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Key,
    TicketId,
    Kind,
    Payload,
    State,
    Result,
    Attempts,
    CreatedAt,
    UpdatedAt,
}

fn pk(col: impl IntoIden) -> ColumnDef {
    let mut c = text(col);
    c.primary_key();
    c
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
                .table(Tickets::Table)
                .col(pk(Tickets::Id))
                .col(text(Tickets::Project))
                .col(text(Tickets::ExternalId))
                .col(text(Tickets::Title))
                .col(text(Tickets::Description))
                .col(text(Tickets::AcceptanceCriteria))
                .col(text(Tickets::Status))
                .col(integer(Tickets::Priority))
                .col(text(Tickets::Labels))
                .col(text_null(Tickets::Submitter))
                .col(text_null(Tickets::ParentId))
                .col(text(Tickets::BranchName))
                .col(text(Tickets::PrUrl))
                .col(big_integer_null(Tickets::PrNumber))
                .col(big_integer(Tickets::CostMicros))
                .col(big_integer(Tickets::TokensInput))
                .col(big_integer(Tickets::TokensOutput))
                .col(big_integer(Tickets::TotalLlmCalls))
                .col(boolean(Tickets::IsPartial))
                .col(integer(Tickets::LastCompletedTaskSeq))
                .col(text_null(Tickets::LastError))
                .col(text_null(Tickets::LastErrorType))
                .col(big_integer(Tickets::FencingToken))
                .col(text_null(Tickets::LeaseOwner))
                .col(big_integer_null(Tickets::LeaseExpiresAt))
                .col(big_integer(Tickets::CreatedAt))
                .col(big_integer(Tickets::UpdatedAt))
                .col(big_integer_null(Tickets::StartedAt))
                .col(big_integer_null(Tickets::CompletedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tickets_parent")
                        .from(Tickets::Table, Tickets::ParentId)
                        .to(Tickets::Table, Tickets::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ux_tickets_project_external_id", Tickets::Table)
                .col(Tickets::Project)
                .col(Tickets::ExternalId)
                .unique()
                .to_owned(),
        )
        .await?;
        // Listing: newest/oldest first overall, per status, per project; most recently changed.
        for (name, lead) in [
            ("ix_tickets_created", None),
            ("ix_tickets_status_created", Some(Tickets::Status)),
            ("ix_tickets_project_created", Some(Tickets::Project)),
        ] {
            let mut i = index(name, Tickets::Table);
            if let Some(lead) = lead {
                i.col(lead);
            }
            m.create_index(i.col(Tickets::CreatedAt).col(Tickets::Id).to_owned())
                .await?;
        }
        m.create_index(
            index("ix_tickets_updated", Tickets::Table)
                .col(Tickets::UpdatedAt)
                .col(Tickets::Id)
                .to_owned(),
        )
        .await?;
        // Claims: highest priority, then oldest, within the claimable statuses.
        m.create_index(
            index("ix_tickets_claim", Tickets::Table)
                .col(Tickets::Status)
                .col((Tickets::Priority, IndexOrder::Desc))
                .col(Tickets::CreatedAt)
                .col(Tickets::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_tickets_lease_expires", Tickets::Table)
                .col(Tickets::LeaseExpiresAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_tickets_parent", Tickets::Table)
                .col(Tickets::ParentId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Tasks::Table)
                .col(pk(Tasks::Id))
                .col(text(Tasks::TicketId))
                .col(integer(Tasks::Sequence))
                .col(text(Tasks::Title))
                .col(text(Tasks::Description))
                .col(text(Tasks::AcceptanceCriteria))
                .col(text(Tasks::DependsOn))
                .col(text(Tasks::Files))
                .col(integer(Tasks::Complexity))
                .col(text(Tasks::Status))
                .col(integer(Tasks::ImplementationAttempts))
                .col(integer(Tasks::SpecReviewAttempts))
                .col(integer(Tasks::QualityReviewAttempts))
                .col(big_integer(Tasks::TotalLlmCalls))
                .col(big_integer(Tasks::TokensInput))
                .col(big_integer(Tasks::TokensOutput))
                .col(text_null(Tasks::CommitSha))
                .col(big_integer(Tasks::CostMicros))
                .col(text_null(Tasks::Context))
                .col(text_null(Tasks::LastError))
                .col(big_integer(Tasks::CreatedAt))
                .col(big_integer_null(Tasks::StartedAt))
                .col(big_integer_null(Tasks::CompletedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_tasks_ticket")
                        .from(Tasks::Table, Tasks::TicketId)
                        .to(Tickets::Table, Tickets::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ux_tasks_ticket_sequence", Tasks::Table)
                .col(Tasks::TicketId)
                .col(Tasks::Sequence)
                .unique()
                .to_owned(),
        )
        .await?;

        // Events reference tickets without a foreign key: an event may outlive validation
        // (e.g. `ticket_deleted`), and appends stay cheap. Deleting a ticket deletes its
        // events explicitly in the same transaction.
        m.create_table(
            Table::create()
                .table(Events::Table)
                .col({
                    let mut c = big_integer(Events::Seq);
                    c.primary_key();
                    c
                })
                .col(text(Events::Id))
                .col(text_null(Events::TicketId))
                .col(text_null(Events::TaskId))
                .col(text(Events::EventType))
                .col(text(Events::Severity))
                .col(text(Events::Message))
                .col(text_null(Events::Details))
                .col(big_integer(Events::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_events_ticket_seq", Events::Table)
                .col(Events::TicketId)
                .col(Events::Seq)
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_events_type_seq", Events::Table)
                .col(Events::EventType)
                .col(Events::Seq)
                .to_owned(),
        )
        .await?;

        // Monotonic counters handed out inside write transactions (the event `seq`). A row
        // lock on the counter serializes appenders, so `seq` increases in commit order.
        m.create_table(
            Table::create()
                .table(Counters::Table)
                .col(pk(Counters::Name))
                .col(big_integer(Counters::Value))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(Counters::Table)
                .columns([Counters::Name, Counters::Value])
                .values_panic(["events".into(), 0i64.into()])
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LlmCalls::Table)
                .col(pk(LlmCalls::Id))
                .col(text_null(LlmCalls::TicketId))
                .col(text_null(LlmCalls::TaskId))
                .col(text(LlmCalls::Role))
                .col(text(LlmCalls::Provider))
                .col(text(LlmCalls::Model))
                .col(text(LlmCalls::Runner))
                .col(integer(LlmCalls::Attempt))
                .col(big_integer(LlmCalls::TokensInput))
                .col(big_integer(LlmCalls::TokensOutput))
                .col(big_integer(LlmCalls::CacheReadTokens))
                .col(big_integer(LlmCalls::CacheWriteTokens))
                .col(big_integer(LlmCalls::CostMicros))
                .col(big_integer(LlmCalls::DurationMs))
                .col(text(LlmCalls::Status))
                .col(text_null(LlmCalls::Error))
                .col(text_null(LlmCalls::PromptVersion))
                .col(text_null(LlmCalls::RequestId))
                .col(big_integer(LlmCalls::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_llm_calls_ticket")
                        .from(LlmCalls::Table, LlmCalls::TicketId)
                        .to(Tickets::Table, Tickets::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_llm_calls_task")
                        .from(LlmCalls::Table, LlmCalls::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_llm_calls_ticket_created", LlmCalls::Table)
                .col(LlmCalls::TicketId)
                .col(LlmCalls::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_llm_calls_task", LlmCalls::Table)
                .col(LlmCalls::TaskId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_llm_calls_created", LlmCalls::Table)
                .col(LlmCalls::CreatedAt)
                .col(LlmCalls::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CostReservations::Table)
                .col(pk(CostReservations::Id))
                .col(text_null(CostReservations::TicketId))
                .col(text_null(CostReservations::TaskId))
                .col(big_integer(CostReservations::AmountMicros))
                .col(big_integer(CostReservations::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_cost_reservations_ticket")
                        .from(CostReservations::Table, CostReservations::TicketId)
                        .to(Tickets::Table, Tickets::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_cost_reservations_task")
                        .from(CostReservations::Table, CostReservations::TaskId)
                        .to(Tasks::Table, Tasks::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("ix_cost_reservations_ticket", CostReservations::TicketId),
            ("ix_cost_reservations_task", CostReservations::TaskId),
            ("ix_cost_reservations_created", CostReservations::CreatedAt),
        ] {
            m.create_index(index(name, CostReservations::Table).col(col).to_owned())
                .await?;
        }

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(pk(ApiTokens::Id))
                .col(text(ApiTokens::Name))
                .col(text_uniq(ApiTokens::TokenHash))
                .col(text(ApiTokens::Prefix))
                .col(text(ApiTokens::Scopes))
                .col(big_integer(ApiTokens::CreatedAt))
                .col(big_integer_null(ApiTokens::LastUsedAt))
                .col(big_integer_null(ApiTokens::ExpiresAt))
                .col(big_integer_null(ApiTokens::RevokedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Settings::Table)
                .col(pk(Settings::Key))
                .col(text(Settings::Value))
                .col(big_integer(Settings::UpdatedAt))
                .to_owned(),
        )
        .await?;

        // Outbox entries may outlive their ticket (e.g. a tracker comment about a deletion),
        // so `ticket_id` is informational, without a foreign key.
        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(pk(Outbox::Key))
                .col(text_null(Outbox::TicketId))
                .col(text(Outbox::Kind))
                .col(text(Outbox::Payload))
                .col(text(Outbox::State))
                .col(text_null(Outbox::Result))
                .col(integer(Outbox::Attempts))
                .col(big_integer(Outbox::CreatedAt))
                .col(big_integer(Outbox::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ix_outbox_state_created", Outbox::Table)
                .col(Outbox::State)
                .col(Outbox::CreatedAt)
                .col(Outbox::Key)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
