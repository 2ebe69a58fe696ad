//! `Outbox` on SQL: external side effects keyed by their idempotency key.

use async_trait::async_trait;
use foreman_domain::{MAX_PAGE_LIMIT, Outbox, OutboxEntry, StoreError, StoreResult, TicketId};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::convert::{all, to_json, ts};
use crate::entity::outbox;
use crate::{SqlStore, be};

const PENDING: &str = "pending";
const DONE: &str = "done";
const FAILED: &str = "failed";

async fn require_entry(c: &impl sea_orm::ConnectionTrait, key: &str) -> StoreResult<OutboxEntry> {
    outbox::Entity::find_by_id(key.to_owned())
        .one(c)
        .await
        .map_err(be)?
        .map(OutboxEntry::try_from)
        .transpose()?
        .ok_or_else(|| StoreError::not_found("outbox entry", key))
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
        })
        .on_conflict(
            OnConflict::column(outbox::Column::Key)
                .do_nothing()
                .to_owned(),
        )
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
        let limit = match limit {
            0 => 50,
            n => Ord::min(n, MAX_PAGE_LIMIT),
        };
        let rows = outbox::Entity::find()
            .filter(outbox::Column::State.eq(PENDING))
            .order_by_asc(outbox::Column::CreatedAt)
            .order_by_asc(outbox::Column::Key)
            .limit(u64::from(limit))
            .all(self.reader())
            .await
            .map_err(be)?;
        all(rows)
    }

    async fn complete_outbox(&self, key: &str, result: serde_json::Value) -> StoreResult<()> {
        use outbox::Column as O;
        let txn = self.write().await?;
        let n = outbox::Entity::update_many()
            .col_expr(O::State, Expr::val(DONE))
            .col_expr(O::Result, Expr::val(Some(to_json(&result)?)))
            .col_expr(O::Attempts, Expr::col(O::Attempts).add(1))
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

    async fn fail_outbox(&self, key: &str, error: &str, give_up: bool) -> StoreResult<()> {
        use outbox::Column as O;
        let txn = self.write().await?;
        let state = if give_up { FAILED } else { PENDING };
        let n = outbox::Entity::update_many()
            .col_expr(O::State, Expr::val(state))
            .col_expr(
                O::Result,
                Expr::val(Some(to_json(&serde_json::json!({ "error": error }))?)),
            )
            .col_expr(O::Attempts, Expr::col(O::Attempts).add(1))
            .col_expr(O::UpdatedAt, Expr::val(ts(foreman_domain::now())))
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
