//! `TokenStore` on SQL: API tokens by the SHA-256 of their secret, lookups through the read cache.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::{ApiToken, NewApiToken, StoreError, StoreResult, TokenId, TokenStore};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::convert::{all, to_json, ts};
use crate::entity::api_tokens;
use crate::{SqlStore, be, db_err};

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
