//! `WebhookStore` on SQL: subscriptions, the durable delivery queue and the fan-out cursor.
//!
//! Fan-out and test deliveries hand out `pos` (the queue order) in one serialized section (the
//! single writer on SQLite, an advisory lock on PostgreSQL), and fan-out moves the cursor with
//! a compare-and-set in the same transaction as its inserts, so every event is turned into
//! deliveries exactly once and a subscription's deliveries follow `seq`. `(subscription_id,
//! event_seq)` is unique as well. A claim takes a subscription's oldest open delivery only when
//! its lease is free (compare-and-set on `lease_until`), and the ones after it under the same
//! lease, so one subscription is never sent to twice at a time nor out of order.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::subscription::{
    AttemptEffect, AttemptOutcome, ClaimedDelivery, Delivery, DeliveryId, DeliveryPage,
    DeliveryStatus, FanOut, NewDelivery, NewSubscription, RetryPolicy, SubscriptionId,
    SubscriptionPatch, SubscriptionSource, WebhookStore, WebhookSubscription, apply_attempt,
    matching, ping_body, ticket_subscription,
};
use foreman_domain::{Event, StoreError, StoreResult, TicketId, micros_to_time};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::convert::{from_json, to_json, ts};
use crate::entity::{events, ticket_options, tickets};
use crate::{Backend, SqlStore, be};

/// Advisory lock key (PostgreSQL) of the section that hands out `pos`.
const QUEUE_LOCK: i64 = 0x666f_7265_6d61_6e30;
/// Rows per insert statement (SQLite binds at most 32,766 values).
const INSERT_CHUNK: usize = 500;

pub(crate) mod entity {
    pub mod subscriptions {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "webhook_subscriptions")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub url: String,
            pub events: String,
            pub ticket_id: Option<String>,
            pub project: Option<String>,
            pub secret: Option<String>,
            pub enabled: bool,
            pub consecutive_failures: i32,
            pub disabled_reason: Option<String>,
            pub source: String,
            pub after_seq: i64,
            pub created_at: i64,
            pub updated_at: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod deliveries {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "webhook_deliveries")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub pos: i64,
            pub id: String,
            pub subscription_id: String,
            pub event_seq: Option<i64>,
            pub event_type: String,
            pub body: String,
            pub status: String,
            pub open: bool,
            pub attempt: i32,
            pub next_attempt_at: i64,
            pub last_status: Option<i32>,
            pub latency_ms: Option<i64>,
            pub error: Option<String>,
            pub created_at: i64,
            pub delivered_at: Option<i64>,
            pub lease: Option<String>,
            pub lease_until: Option<i64>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod cursor {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "webhook_cursor")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: i32,
            pub seq: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

use entity::{cursor, deliveries, subscriptions};

use deliveries::Column as D;
use subscriptions::Column as S;

impl TryFrom<subscriptions::Model> for WebhookSubscription {
    type Error = StoreError;
    fn try_from(m: subscriptions::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: SubscriptionId(m.id),
            url: m.url,
            events: from_json("webhook_subscriptions.events", &m.events)?,
            ticket_id: m.ticket_id.map(TicketId::from),
            project: m.project,
            secret: m.secret,
            enabled: m.enabled,
            consecutive_failures: u32::try_from(m.consecutive_failures).unwrap_or(0),
            disabled_reason: m.disabled_reason,
            source: m
                .source
                .parse()
                .map_err(|e| StoreError::corrupt("webhook_subscriptions.source", e))?,
            after_seq: m.after_seq,
            created_at: micros_to_time(m.created_at),
            updated_at: micros_to_time(m.updated_at),
        })
    }
}

fn sub_row(s: &WebhookSubscription) -> StoreResult<subscriptions::ActiveModel> {
    Ok(subscriptions::ActiveModel {
        id: Set(s.id.to_string()),
        url: Set(s.url.clone()),
        events: Set(to_json(&s.events)?),
        ticket_id: Set(s.ticket_id.as_ref().map(ToString::to_string)),
        project: Set(s.project.clone()),
        secret: Set(s.secret.clone()),
        enabled: Set(s.enabled),
        consecutive_failures: Set(i32::try_from(s.consecutive_failures).unwrap_or(i32::MAX)),
        disabled_reason: Set(s.disabled_reason.clone()),
        source: Set(s.source.as_str().to_owned()),
        after_seq: Set(s.after_seq),
        created_at: Set(ts(s.created_at)),
        updated_at: Set(ts(s.updated_at)),
    })
}

impl TryFrom<deliveries::Model> for Delivery {
    type Error = StoreError;
    fn try_from(m: deliveries::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: DeliveryId(m.id),
            pos: m.pos,
            subscription_id: SubscriptionId(m.subscription_id),
            event_seq: m.event_seq,
            event_type: m.event_type,
            body: from_json("webhook_deliveries.body", &m.body)?,
            status: m
                .status
                .parse()
                .map_err(|e| StoreError::corrupt("webhook_deliveries.status", e))?,
            attempt: u32::try_from(m.attempt).unwrap_or(0),
            next_attempt_at: micros_to_time(m.next_attempt_at),
            last_status: m.last_status.and_then(|s| u16::try_from(s).ok()),
            latency_ms: m.latency_ms.and_then(|l| u64::try_from(l).ok()),
            error: m.error,
            created_at: micros_to_time(m.created_at),
            delivered_at: m.delivered_at.map(micros_to_time),
        })
    }
}

fn delivery_row(
    pos: i64,
    d: &NewDelivery,
    at: DateTime<Utc>,
) -> StoreResult<deliveries::ActiveModel> {
    Ok(deliveries::ActiveModel {
        pos: Set(pos),
        id: Set(DeliveryId::new().to_string()),
        subscription_id: Set(d.subscription_id.to_string()),
        event_seq: Set(Some(d.event_seq)),
        event_type: Set(d.event_type.clone()),
        body: Set(to_json(&d.body)?),
        status: Set(DeliveryStatus::Pending.as_str().to_owned()),
        open: Set(true),
        attempt: Set(0),
        next_attempt_at: Set(ts(at)),
        last_status: Set(None),
        latency_ms: Set(None),
        error: Set(None),
        created_at: Set(ts(at)),
        delivered_at: Set(None),
        lease: Set(None),
        lease_until: Set(None),
    })
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl SqlStore {
    /// Serializes the sections that hand out `pos` (PostgreSQL; SQLite has one writer).
    async fn lock_queue(&self, txn: &DatabaseTransaction) -> StoreResult<()> {
        if self.backend() == Backend::Postgres {
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [QUEUE_LOCK.into()],
            ))
            .await
            .map_err(be)?;
        }
        Ok(())
    }

    async fn next_pos(txn: &DatabaseTransaction) -> StoreResult<i64> {
        let max: Option<Option<i64>> = deliveries::Entity::find()
            .select_only()
            .expr(Expr::col(D::Pos).max())
            .into_tuple()
            .one(txn)
            .await
            .map_err(be)?;
        Ok(max.flatten().unwrap_or(0) + 1)
    }

    async fn latest_event_seq(txn: &impl ConnectionTrait) -> StoreResult<i64> {
        let max: Option<Option<i64>> = events::Entity::find()
            .select_only()
            .expr(Expr::col(events::Column::Seq).max())
            .into_tuple()
            .one(txn)
            .await
            .map_err(be)?;
        Ok(max.flatten().unwrap_or(0))
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_subscription(&self, new: NewSubscription) -> StoreResult<WebhookSubscription> {
        new.check()?;
        let at = foreman_domain::now();
        let txn = self.write().await?;
        let after_seq = Self::latest_event_seq(&txn).await?;
        let sub = WebhookSubscription {
            id: SubscriptionId::new(),
            url: new.url,
            events: new.events,
            ticket_id: new.ticket_id,
            project: new.project,
            secret: new.secret,
            enabled: new.enabled,
            consecutive_failures: 0,
            disabled_reason: None,
            source: SubscriptionSource::Api,
            after_seq,
            created_at: at,
            updated_at: at,
        };
        subscriptions::Entity::insert(sub_row(&sub)?)
            .exec_without_returning(&txn)
            .await
            .map_err(be)?;
        self.commit(txn).await?;
        Ok(sub)
    }

    async fn list_subscriptions(&self) -> StoreResult<Vec<WebhookSubscription>> {
        subscriptions::Entity::find()
            .order_by_asc(S::CreatedAt)
            .order_by_asc(S::Id)
            .all(self.reader())
            .await
            .map_err(be)?
            .into_iter()
            .map(WebhookSubscription::try_from)
            .collect()
    }

    async fn get_subscription(
        &self,
        id: &SubscriptionId,
    ) -> StoreResult<Option<WebhookSubscription>> {
        subscriptions::Entity::find_by_id(id.to_string())
            .one(self.reader())
            .await
            .map_err(be)?
            .map(WebhookSubscription::try_from)
            .transpose()
    }

    async fn update_subscription(
        &self,
        id: &SubscriptionId,
        patch: SubscriptionPatch,
    ) -> StoreResult<Option<WebhookSubscription>> {
        patch.check()?;
        let txn = self.write().await?;
        let Some(m) = subscriptions::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await
            .map_err(be)?
        else {
            return Ok(None);
        };
        let mut sub = WebhookSubscription::try_from(m)?;
        patch.apply(&mut sub, foreman_domain::now());
        subscriptions::Entity::update(sub_row(&sub)?)
            .exec(&txn)
            .await
            .map_err(be)?;
        self.commit(txn).await?;
        Ok(Some(sub))
    }

    async fn delete_subscription(&self, id: &SubscriptionId) -> StoreResult<bool> {
        let txn = self.write().await?;
        deliveries::Entity::delete_many()
            .filter(D::SubscriptionId.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(be)?;
        let gone = subscriptions::Entity::delete_by_id(id.to_string())
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        self.commit(txn).await?;
        Ok(gone > 0)
    }

    async fn fan_out(&self, limit: u32) -> StoreResult<FanOut> {
        let limit = u64::from(Ord::clamp(limit, 1, 5_000));
        let at = foreman_domain::now();
        let txn = self.write().await?;
        self.lock_queue(&txn).await?;
        let cursor = cursor::Entity::find_by_id(1)
            .one(&txn)
            .await
            .map_err(be)?
            .map_or(0, |c| c.seq);
        let rows = events::Entity::find()
            .filter(events::Column::Seq.gt(cursor))
            .order_by_asc(events::Column::Seq)
            .limit(limit)
            .all(&txn)
            .await
            .map_err(be)?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            txn.rollback().await.map_err(be)?;
            return Ok(FanOut {
                cursor,
                ..FanOut::default()
            });
        };
        let count = rows.len() as u64;
        // an event this version cannot read is passed over, not retried forever
        let events: Vec<Event> = rows
            .into_iter()
            .filter_map(|r| Event::try_from(r).ok())
            .collect();
        let mut subs: Vec<WebhookSubscription> = subscriptions::Entity::find()
            .filter(S::Enabled.eq(true))
            .order_by_asc(S::CreatedAt)
            .order_by_asc(S::Id)
            .all(&txn)
            .await
            .map_err(be)?
            .into_iter()
            .map(WebhookSubscription::try_from)
            .collect::<StoreResult<_>>()?;
        let ticket_ids: Vec<String> = events
            .iter()
            .filter_map(|e| e.ticket_id.as_ref().map(ToString::to_string))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut projects: HashMap<String, String> = HashMap::new();
        let mut hooks: HashMap<String, String> = HashMap::new();
        for chunk in ticket_ids.chunks(INSERT_CHUNK) {
            let rows: Vec<(String, String)> = tickets::Entity::find()
                .select_only()
                .column(tickets::Column::Id)
                .column(tickets::Column::Project)
                .filter(tickets::Column::Id.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(&txn)
                .await
                .map_err(be)?;
            projects.extend(rows);
            let rows: Vec<(String, Option<String>)> = ticket_options::Entity::find()
                .select_only()
                .column(ticket_options::Column::TicketId)
                .column(ticket_options::Column::WebhookUrl)
                .filter(ticket_options::Column::TicketId.is_in(chunk.iter().cloned()))
                .filter(ticket_options::Column::WebhookUrl.is_not_null())
                .into_tuple()
                .all(&txn)
                .await
                .map_err(be)?;
            hooks.extend(rows.into_iter().filter_map(|(t, u)| Some((t, u?))));
        }
        // tickets' implicit subscriptions, created at their first event seen here
        if !hooks.is_empty() {
            let known: HashSet<String> = subscriptions::Entity::find()
                .select_only()
                .column(S::Id)
                .filter(S::Source.eq(SubscriptionSource::Ticket.as_str()))
                .filter(S::TicketId.is_in(hooks.keys().cloned()))
                .into_tuple::<String>()
                .all(&txn)
                .await
                .map_err(be)?
                .into_iter()
                .collect();
            for e in &events {
                let Some(t) = &e.ticket_id else { continue };
                let Some(url) = hooks.remove(t.as_str()) else {
                    continue;
                };
                let sub = ticket_subscription(t, &url, e.seq - 1, at);
                if known.contains(sub.id.as_str()) {
                    continue;
                }
                subscriptions::Entity::insert(sub_row(&sub)?)
                    .on_conflict(OnConflict::column(S::Id).do_nothing().to_owned())
                    .exec_without_returning(&txn)
                    .await
                    .map_err(be)?;
                subs.push(sub);
            }
        }
        let mut pos = Self::next_pos(&txn).await?;
        let mut rows = Vec::new();
        for e in &events {
            let project = e
                .ticket_id
                .as_ref()
                .and_then(|t| projects.get(t.as_str()))
                .map(String::as_str);
            for d in matching(e, project, &subs) {
                rows.push(delivery_row(pos, &d, at)?);
                pos += 1;
            }
        }
        let queued = rows.len() as u64;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
            deliveries::Entity::insert_many(chunk)
                .on_conflict(
                    OnConflict::columns([D::SubscriptionId, D::EventSeq])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(be)?;
        }
        let moved = cursor::Entity::update_many()
            .col_expr(cursor::Column::Seq, Expr::val(last))
            .filter(cursor::Column::Id.eq(1))
            .filter(cursor::Column::Seq.eq(cursor))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        if moved == 0 {
            let inserted = cursor::Entity::insert(cursor::ActiveModel {
                id: Set(1),
                seq: Set(last),
            })
            .on_conflict(
                OnConflict::column(cursor::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(be)?;
            if inserted == 0 {
                // another fan-out moved it first: it queued these events
                txn.rollback().await.map_err(be)?;
                return Ok(FanOut {
                    cursor,
                    ..FanOut::default()
                });
            }
        }
        self.commit(txn).await?;
        Ok(FanOut {
            events: count,
            deliveries: queued,
            cursor: last,
        })
    }

    async fn enqueue_ping(&self, id: &SubscriptionId) -> StoreResult<Delivery> {
        let at = foreman_domain::now();
        let txn = self.write().await?;
        self.lock_queue(&txn).await?;
        if subscriptions::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await
            .map_err(be)?
            .is_none()
        {
            return Err(StoreError::not_found("subscription", id.as_str()));
        }
        let pos = Self::next_pos(&txn).await?;
        let new = NewDelivery {
            subscription_id: id.clone(),
            event_seq: 0,
            event_type: foreman_domain::subscription::PING.to_owned(),
            body: ping_body(id, at),
        };
        let mut row = delivery_row(pos, &new, at)?;
        row.event_seq = Set(None);
        let model = deliveries::Entity::insert(row)
            .exec_with_returning(&txn)
            .await
            .map_err(be)?;
        self.commit(txn).await?;
        Delivery::try_from(model)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        per_subscription: u32,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let now_us = ts(now);
        let free = sea_orm::Condition::any()
            .add(D::LeaseUntil.is_null())
            .add(D::LeaseUntil.lte(now_us));
        // each enabled subscription's oldest open delivery, when due and not claimed
        let heads = deliveries::Entity::find()
            .filter(D::Open.eq(true))
            .filter(Expr::cust(
                "webhook_deliveries.subscription_id IN (SELECT id FROM webhook_subscriptions \
                 WHERE enabled = TRUE) AND webhook_deliveries.pos = (SELECT MIN(d2.pos) FROM \
                 webhook_deliveries d2 WHERE d2.subscription_id = \
                 webhook_deliveries.subscription_id AND d2.open = TRUE)",
            ))
            .filter(D::NextAttemptAt.lte(now_us))
            .filter(free.clone())
            .order_by_asc(D::NextAttemptAt)
            .order_by_asc(D::Pos)
            .limit(u64::from(Ord::max(limit, 1)))
            .all(self.reader())
            .await
            .map_err(be)?;
        if heads.is_empty() {
            return Ok(Vec::new());
        }
        let until = now_us.saturating_add(micros(lease));
        let per = u64::from(Ord::max(per_subscription, 1));
        let txn = self.write().await?;
        let mut out = Vec::new();
        for head in heads {
            let token = DeliveryId::new().0;
            let won = deliveries::Entity::update_many()
                .col_expr(D::Lease, Expr::val(token.clone()))
                .col_expr(D::LeaseUntil, Expr::val(until))
                .filter(D::Pos.eq(head.pos))
                .filter(D::Open.eq(true))
                .filter(free.clone())
                .exec(&txn)
                .await
                .map_err(be)?
                .rows_affected;
            if won == 0 {
                continue;
            }
            let Some(sub) = subscriptions::Entity::find_by_id(head.subscription_id.clone())
                .one(&txn)
                .await
                .map_err(be)?
            else {
                continue;
            };
            let run = deliveries::Entity::find()
                .filter(D::SubscriptionId.eq(head.subscription_id.as_str()))
                .filter(D::Open.eq(true))
                .filter(D::Pos.gte(head.pos))
                .order_by_asc(D::Pos)
                .limit(per)
                .all(&txn)
                .await
                .map_err(be)?;
            let mut taken = Vec::new();
            for d in run {
                let leased_here = d.pos == head.pos;
                let due = d.next_attempt_at <= now_us && d.lease_until.is_none_or(|u| u <= now_us);
                if !leased_here && !due {
                    break;
                }
                taken.push(d);
            }
            let followers: Vec<i64> = taken.iter().skip(1).map(|d| d.pos).collect();
            if !followers.is_empty() {
                deliveries::Entity::update_many()
                    .col_expr(D::Lease, Expr::val(token.clone()))
                    .col_expr(D::LeaseUntil, Expr::val(until))
                    .filter(D::Pos.is_in(followers))
                    .exec(&txn)
                    .await
                    .map_err(be)?;
            }
            let source: SubscriptionSource = sub
                .source
                .parse()
                .map_err(|e| StoreError::corrupt("webhook_subscriptions.source", e))?;
            for d in taken {
                out.push(ClaimedDelivery {
                    delivery: Delivery::try_from(d)?,
                    url: sub.url.clone(),
                    secret: sub.secret.clone(),
                    source,
                    lease: token.clone(),
                });
            }
        }
        self.commit(txn).await?;
        Ok(out)
    }

    async fn record_attempt(
        &self,
        claim: &ClaimedDelivery,
        outcome: AttemptOutcome,
        at: DateTime<Utc>,
        jitter: f64,
        policy: &RetryPolicy,
    ) -> StoreResult<AttemptEffect> {
        let txn = self.write().await?;
        let row = deliveries::Entity::find()
            .filter(D::Id.eq(claim.delivery.id.as_str()))
            .one(&txn)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::not_found("delivery", claim.delivery.id.as_str()))?;
        if !row.open || row.lease.as_deref() != Some(claim.lease.as_str()) {
            return Err(StoreError::Conflict {
                entity: "delivery",
                id: claim.delivery.id.to_string(),
                current: "claimed elsewhere or finished".into(),
                expected: "claimed under this lease".into(),
            });
        }
        let pos = row.pos;
        let delivery = Delivery::try_from(row)?;
        let sub = subscriptions::Entity::find_by_id(delivery.subscription_id.to_string())
            .one(&txn)
            .await
            .map_err(be)?
            .ok_or_else(|| {
                StoreError::not_found("subscription", delivery.subscription_id.as_str())
            })?;
        let failures = u32::try_from(sub.consecutive_failures).unwrap_or(0);
        let mut effect = apply_attempt(&delivery, failures, &outcome, at, jitter, policy);
        let d = &effect.delivery;
        deliveries::Entity::update_many()
            .col_expr(D::Status, Expr::val(d.status.as_str()))
            .col_expr(D::Open, Expr::val(d.status.is_open()))
            .col_expr(
                D::Attempt,
                Expr::val(i32::try_from(d.attempt).unwrap_or(i32::MAX)),
            )
            .col_expr(D::NextAttemptAt, Expr::val(ts(d.next_attempt_at)))
            .col_expr(D::LastStatus, Expr::val(d.last_status.map(i32::from)))
            .col_expr(
                D::LatencyMs,
                Expr::val(d.latency_ms.map(|l| i64::try_from(l).unwrap_or(i64::MAX))),
            )
            .col_expr(D::Error, Expr::val(d.error.clone()))
            .col_expr(D::DeliveredAt, Expr::val(d.delivered_at.map(ts)))
            .col_expr(D::Lease, Expr::val(Option::<String>::None))
            .col_expr(D::LeaseUntil, Expr::val(Option::<i64>::None))
            .filter(D::Pos.eq(pos))
            .exec(&txn)
            .await
            .map_err(be)?;
        let mut q = subscriptions::Entity::update_many()
            .col_expr(
                S::ConsecutiveFailures,
                Expr::val(i32::try_from(effect.consecutive_failures).unwrap_or(i32::MAX)),
            )
            .filter(S::Id.eq(sub.id.as_str()));
        if let Some(reason) = &effect.disabled {
            if sub.enabled {
                q = q
                    .col_expr(S::Enabled, Expr::val(false))
                    .col_expr(S::DisabledReason, Expr::val(reason.clone()))
                    .col_expr(S::UpdatedAt, Expr::val(ts(at)));
            } else {
                effect.disabled = None;
            }
        }
        q.exec(&txn).await.map_err(be)?;
        self.commit(txn).await?;
        Ok(effect)
    }

    async fn release_deliveries(&self, claims: &[ClaimedDelivery]) -> StoreResult<()> {
        if claims.is_empty() {
            return Ok(());
        }
        let txn = self.write().await?;
        for c in claims {
            deliveries::Entity::update_many()
                .col_expr(D::Lease, Expr::val(Option::<String>::None))
                .col_expr(D::LeaseUntil, Expr::val(Option::<i64>::None))
                .filter(D::Id.eq(c.delivery.id.as_str()))
                .filter(D::Lease.eq(c.lease.as_str()))
                .exec(&txn)
                .await
                .map_err(be)?;
        }
        self.commit(txn).await
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        // found on a reader, so a pass with nothing to prune never takes the writer; a
        // delivery is finished for good, so the delete re-checks only that it still is
        let gone: Vec<i64> = deliveries::Entity::find()
            .select_only()
            .column(D::Pos)
            .filter(D::Open.eq(false))
            .filter(D::CreatedAt.lt(ts(before)))
            .order_by_asc(D::Pos)
            .limit(u64::from(limit))
            .into_tuple()
            .all(self.reader())
            .await
            .map_err(be)?;
        if gone.is_empty() {
            return Ok(0);
        }
        let txn = self.write().await?;
        let n = deliveries::Entity::delete_many()
            .filter(D::Pos.is_in(gone))
            .filter(D::Open.eq(false))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        self.commit(txn).await?;
        Ok(n)
    }

    async fn list_deliveries(
        &self,
        id: &SubscriptionId,
        page: DeliveryPage,
    ) -> StoreResult<Vec<Delivery>> {
        let mut q = deliveries::Entity::find().filter(D::SubscriptionId.eq(id.as_str()));
        if let Some(before) = page.before {
            q = q.filter(D::Pos.lt(before));
        }
        q.order_by_desc(D::Pos)
            .limit(page.size() as u64)
            .all(self.reader())
            .await
            .map_err(be)?
            .into_iter()
            .map(Delivery::try_from)
            .collect()
    }
}
