//! Outbound webhooks: subscriptions, their durable delivery queue, and the fan-out cursor (the
//! last event `seq` turned into deliveries; it starts at the newest event when this migration
//! runs, so events from before outbound webhooks existed are not sent).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, integer, integer_null, text, text_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookSubscriptions {
    Table,
    Id,
    Url,
    Events,
    TicketId,
    Project,
    Secret,
    Enabled,
    ConsecutiveFailures,
    DisabledReason,
    Source,
    AfterSeq,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Pos,
    Id,
    SubscriptionId,
    EventSeq,
    EventType,
    Body,
    Status,
    Open,
    Attempt,
    NextAttemptAt,
    LastStatus,
    LatencyMs,
    Error,
    CreatedAt,
    DeliveredAt,
    Lease,
    LeaseUntil,
}

#[derive(DeriveIden)]
enum WebhookCursor {
    Table,
    Id,
    Seq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WebhookSubscriptions::Table)
                .col(text(WebhookSubscriptions::Id).primary_key())
                .col(text(WebhookSubscriptions::Url))
                // JSON list of glob patterns
                .col(text(WebhookSubscriptions::Events))
                .col(text_null(WebhookSubscriptions::TicketId))
                .col(text_null(WebhookSubscriptions::Project))
                .col(text_null(WebhookSubscriptions::Secret))
                .col(boolean(WebhookSubscriptions::Enabled))
                .col(integer(WebhookSubscriptions::ConsecutiveFailures))
                .col(text_null(WebhookSubscriptions::DisabledReason))
                .col(text(WebhookSubscriptions::Source))
                .col(big_integer(WebhookSubscriptions::AfterSeq))
                .col(big_integer(WebhookSubscriptions::CreatedAt))
                .col(big_integer(WebhookSubscriptions::UpdatedAt))
                .to_owned(),
        )
        .await?;
        // `pos` is handed out in one serialized section (fan-out and pings), so per
        // subscription it follows event `seq`.
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(big_integer(WebhookDeliveries::Pos).primary_key())
                .col(text(WebhookDeliveries::Id))
                .col(text(WebhookDeliveries::SubscriptionId))
                .col(big_integer_null(WebhookDeliveries::EventSeq))
                .col(text(WebhookDeliveries::EventType))
                // JSON
                .col(text(WebhookDeliveries::Body))
                .col(text(WebhookDeliveries::Status))
                // pending or failed: still to be delivered
                .col(boolean(WebhookDeliveries::Open))
                .col(integer(WebhookDeliveries::Attempt))
                .col(big_integer(WebhookDeliveries::NextAttemptAt))
                .col(integer_null(WebhookDeliveries::LastStatus))
                .col(big_integer_null(WebhookDeliveries::LatencyMs))
                .col(text_null(WebhookDeliveries::Error))
                .col(big_integer(WebhookDeliveries::CreatedAt))
                .col(big_integer_null(WebhookDeliveries::DeliveredAt))
                .col(text_null(WebhookDeliveries::Lease))
                .col(big_integer_null(WebhookDeliveries::LeaseUntil))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_webhook_deliveries_subscription")
                        .from(WebhookDeliveries::Table, WebhookDeliveries::SubscriptionId)
                        .to(WebhookSubscriptions::Table, WebhookSubscriptions::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_webhook_deliveries_id")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::Id)
                .unique()
                .to_owned(),
        )
        .await?;
        // one delivery per (subscription, event): fan-out is idempotent (pings have no seq)
        m.create_index(
            Index::create()
                .name("ux_webhook_deliveries_event")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::SubscriptionId)
                .col(WebhookDeliveries::EventSeq)
                .unique()
                .to_owned(),
        )
        .await?;
        // the claim: a subscription's oldest open delivery; and the log, newest first
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_open")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::SubscriptionId)
                .col(WebhookDeliveries::Open)
                .col(WebhookDeliveries::Pos)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_log")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::SubscriptionId)
                .col(WebhookDeliveries::Pos)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookCursor::Table)
                .col(integer(WebhookCursor::Id).primary_key())
                .col(big_integer(WebhookCursor::Seq))
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO webhook_cursor (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM events",
            )
            .await?;
        Ok(())
    }
}
