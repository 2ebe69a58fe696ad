//! `TokenStore`, `SettingsStore` and `Outbox` on SQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::{
    ApiToken, MAX_PAGE_LIMIT, NewApiToken, Outbox, OutboxEntry, SettingsStore, StoreError,
    StoreResult, TicketId, TokenId, TokenStore,
};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::convert::{all, to_json, ts};
use crate::entity::{api_tokens, outbox, settings};
use crate::{SqlStore, be, db_err};

const PENDING: &str = "pending";
const DONE: &str = "done";
const FAILED: &str = "failed";

#[async_trait]
impl TokenStore for SqlStore {
    async fn create_token(&self, token: NewApiToken) -> StoreResult<ApiToken> {
        if token.token_hash.is_empty() {
            return Err(StoreError::Invalid("token hash must not be empty".into()));
        }
        let stored = ApiToken {
            id: TokenId::new(),
            name: token.name,
            token_hash: token.token_hash,
            prefix: token.prefix,
            scopes: token.scopes,
            created_at: foreman_domain::now(),
            last_used_at: None,
            expires_at: token
                .expires_at
                .map(|d| foreman_domain::micros_to_time(ts(d))),
            revoked_at: None,
        };
        let txn = self.write().await?;
        api_tokens::Entity::insert(api_tokens::ActiveModel {
            id: Set(stored.id.to_string()),
            name: Set(stored.name.clone()),
            token_hash: Set(stored.token_hash.clone()),
            prefix: Set(stored.prefix.clone()),
            scopes: Set(to_json(&stored.scopes)?),
            created_at: Set(ts(stored.created_at)),
            last_used_at: Set(None),
            expires_at: Set(stored.expires_at.map(ts)),
            revoked_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(db_err("token", || "this hash".to_owned()))?;
        self.commit(txn).await?;
        tracing::info!(token_id = %stored.id, name = %stored.name, "api token created");
        Ok(stored)
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        let rows = api_tokens::Entity::find()
            .order_by_desc(api_tokens::Column::CreatedAt)
            .order_by_desc(api_tokens::Column::Id)
            .all(self.reader())
            .await
            .map_err(be)?;
        all(rows)
    }

    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        let generation = self.cache().generation().await;
        if let Some(hit) = generation.and_then(|g| self.cache().token(g, hash)) {
            return Ok(Some(ApiToken::clone(&hit)));
        }
        let found = api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(hash))
            .one(self.reader())
            .await
            .map_err(be)?
            .map(ApiToken::try_from)
            .transpose()?;
        if let (Some(generation), Some(token)) = (generation, &found) {
            self.cache().put_token(generation, hash, token.clone());
        }
        Ok(found)
    }

    async fn revoke_token(&self, id: &TokenId) -> StoreResult<bool> {
        let txn = self.write().await?;
        let exists = api_tokens::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await
            .map_err(be)?
            .is_some();
        if exists {
            api_tokens::Entity::update_many()
                .col_expr(
                    api_tokens::Column::RevokedAt,
                    Expr::val(ts(foreman_domain::now())),
                )
                .filter(api_tokens::Column::Id.eq(id.as_str()))
                .filter(api_tokens::Column::RevokedAt.is_null())
                .exec(&txn)
                .await
                .map_err(be)?;
        }
        self.commit(txn).await?;
        if exists {
            tracing::info!(token_id = %id, "api token revoked");
        }
        Ok(exists)
    }

    async fn touch_token(&self, id: &TokenId, at: DateTime<Utc>) -> StoreResult<()> {
        let txn = self.write().await?;
        let n = api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::LastUsedAt, Expr::val(ts(at)))
            .filter(api_tokens::Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        self.commit(txn).await?;
        if n == 0 {
            return Err(StoreError::not_found("token", id.as_str()));
        }
        Ok(())
    }
}

#[async_trait]
impl SettingsStore for SqlStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(settings::Entity::find_by_id(key.to_owned())
            .one(self.reader())
            .await
            .map_err(be)?
            .map(|m| m.value))
    }

    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        let txn = self.write().await?;
        settings::Entity::insert(settings::ActiveModel {
            key: Set(key.to_owned()),
            value: Set(value.to_owned()),
            updated_at: Set(ts(foreman_domain::now())),
        })
        .on_conflict(
            OnConflict::column(settings::Column::Key)
                .update_columns([settings::Column::Value, settings::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(be)?;
        self.commit(txn).await?;
        Ok(())
    }
}

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
