//! `TokenStore` in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::{ApiToken, NewApiToken, StoreError, StoreResult, TokenId, TokenStore};

use super::MemoryStore;

#[async_trait]
impl TokenStore for MemoryStore {
    async fn create_token(&self, token: NewApiToken) -> StoreResult<ApiToken> {
        if token.token_hash.is_empty() {
            return Err(StoreError::Invalid("token hash must not be empty".into()));
        }
        let mut s = self.lock();
        if s.tokens.iter().any(|t| t.token_hash == token.token_hash) {
            return Err(StoreError::Duplicate {
                entity: "token",
                key: "this hash".into(),
            });
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
                .map(|d| foreman_domain::micros_to_time(d.timestamp_micros())),
            revoked_at: None,
        };
        s.tokens.push(stored.clone());
        Ok(stored)
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        let mut out = self.lock().tokens.clone();
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(out)
    }

    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        Ok(self
            .lock()
            .tokens
            .iter()
            .find(|t| t.token_hash == hash)
            .cloned())
    }

    async fn revoke_token(&self, id: &TokenId) -> StoreResult<bool> {
        let mut s = self.lock();
        let Some(t) = s.tokens.iter_mut().find(|t| t.id == *id) else {
            return Ok(false);
        };
        if t.revoked_at.is_none() {
            t.revoked_at = Some(foreman_domain::now());
        }
        Ok(true)
    }

    async fn touch_token(&self, id: &TokenId, at: DateTime<Utc>) -> StoreResult<()> {
        let mut s = self.lock();
        let t = s
            .tokens
            .iter_mut()
            .find(|t| t.id == *id)
            .ok_or_else(|| StoreError::not_found("token", id.as_str()))?;
        t.last_used_at = Some(foreman_domain::micros_to_time(at.timestamp_micros()));
        Ok(())
    }
}
