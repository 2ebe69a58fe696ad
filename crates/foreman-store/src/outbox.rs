//! `Outbox` on SQL: external side effects keyed by their idempotency key. A performer takes an
//! entry with one conditional `UPDATE` (`claim_outbox`), so of two performers (a worker and the
//! daemon's drain, or two nodes) exactly one runs the effect.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::storage::outbox_state::{DONE, FAILED, PENDING};
use foreman_domain::{MAX_PAGE_LIMIT, Outbox, OutboxEntry, StoreError, StoreResult, TicketId};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::convert::{all, to_json, ts};
use crate::entity::outbox;
use crate::{SqlStore, be};

use outbox::Column as O;

async fn require_entry(c: &impl sea_orm::ConnectionTrait, key: &str) -> StoreResult<OutboxEntry> {
    outbox::Entity::find_by_id(key.to_owned())
        .one(c)
        .await
        .map_err(be)?
        .map(OutboxEntry::try_from)
        .transpose()?
        .ok_or_else(|| StoreError::not_found("outbox entry", key))
}

fn page(limit: u32) -> u64 {
    u64::from(match limit {
        0 => 50,
        n => Ord::min(n, MAX_PAGE_LIMIT),
    })
}

impl SqlStore {
    /// Pending entries, oldest first; with `due`, only those due then.
    async fn pending_where(
        &self,
        due: Option<DateTime<Utc>>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxEntry>> {
        let mut q = outbox::Entity::find().filter(O::State.eq(PENDING));
        if let Some(now) = due {
            q = q.filter(O::NextAttemptAt.lte(ts(now)));
        }
        let rows = q
            .order_by_asc(O::CreatedAt)
            .order_by_asc(O::Key)
            .limit(page(limit))
            .all(self.reader())
            .await
            .map_err(be)?;
        all(rows)
    }
}

#[async_trait]
impl Outbox for SqlStore {
    async fn enqueue(
        &self,
        key: &str,
        ticket_id: Option<&TicketId>,
        kind: &str,
        payload: serde_json::Value,
    ) -> StoreResult<OutboxEntry> {
        if key.is_empty() {
            return Err(StoreError::Invalid("outbox key must not be empty".into()));
        }
        let now = ts(foreman_domain::now());
        let txn = self.write().await?;
        outbox::Entity::insert(outbox::ActiveModel {
            key: Set(key.to_owned()),
            ticket_id: Set(ticket_id.map(ToString::to_string)),
            kind: Set(kind.to_owned()),
            payload: Set(to_json(&payload)?),
            state: Set(PENDING.to_owned()),
            result: Set(None),
            attempts: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            next_attempt_at: Set(now),
        })
        .on_conflict(OnConflict::column(O::Key).do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await
        .map_err(be)?;
        let entry = require_entry(&txn, key).await?;
        self.commit(txn).await?;
        Ok(entry)
    }

    async fn get_outbox(&self, key: &str) -> StoreResult<Option<OutboxEntry>> {
        outbox::Entity::find_by_id(key.to_owned())
            .one(self.reader())
            .await
            .map_err(be)?
            .map(OutboxEntry::try_from)
            .transpose()
    }

    async fn pending_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        self.pending_where(None, limit).await
    }

    async fn due_outbox(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        self.pending_where(Some(now), limit).await
    }

    async fn claim_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<OutboxEntry>> {
        let txn = self.write().await?;
        // One statement decides: of concurrent claimers, the first to write moves
        // `next_attempt_at` past `now` and the others match no row (PostgreSQL re-checks the
        // row after the winner commits; SQLite's single writer runs them in turn).
        let n = outbox::Entity::update_many()
            .col_expr(O::Attempts, Expr::col(O::Attempts).add(1))
            .col_expr(O::NextAttemptAt, Expr::val(ts(until)))
            .col_expr(O::UpdatedAt, Expr::val(ts(foreman_domain::now())))
            .filter(O::Key.eq(key))
            .filter(O::State.eq(PENDING))
            .filter(O::NextAttemptAt.lte(ts(now)))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        let entry = require_entry(&txn, key).await?;
        self.commit(txn).await?;
        Ok((n == 1).then_some(entry))
    }

    async fn complete_outbox(&self, key: &str, result: serde_json::Value) -> StoreResult<()> {
        let txn = self.write().await?;
        let n = outbox::Entity::update_many()
            .col_expr(O::State, Expr::val(DONE))
            .col_expr(O::Result, Expr::val(Some(to_json(&result)?)))
            .col_expr(O::UpdatedAt, Expr::val(ts(foreman_domain::now())))
            .filter(O::Key.eq(key))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        if n == 0 {
            return Err(StoreError::not_found("outbox entry", key));
        }
        self.commit(txn).await?;
        Ok(())
    }

    async fn fail_outbox(
        &self,
        key: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let txn = self.write().await?;
        let now = ts(foreman_domain::now());
        let mut u = outbox::Entity::update_many()
            .col_expr(
                O::Result,
                Expr::val(Some(to_json(&serde_json::json!({ "error": error }))?)),
            )
            .col_expr(O::UpdatedAt, Expr::val(now));
        u = match retry_at {
            Some(at) => u.col_expr(O::NextAttemptAt, Expr::val(ts(at))),
            None => u.col_expr(O::State, Expr::val(FAILED)),
        };
        let n = u
            .filter(O::Key.eq(key))
            .filter(O::State.eq(PENDING))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        if n == 0 {
            let current = require_entry(&txn, key).await?;
            return Err(StoreError::Conflict {
                entity: "outbox entry",
                id: key.to_owned(),
                current: current.state,
                expected: PENDING.to_owned(),
            });
        }
        self.commit(txn).await?;
        Ok(())
    }
}
