//! `Outbox` in memory: entries keyed by their idempotency key.

use async_trait::async_trait;
use foreman_domain::{Outbox, OutboxEntry, StoreError, StoreResult, TicketId};

use super::{MemoryStore, cap};

/// Outbox entry states.
const OUTBOX_PENDING: &str = "pending";
const OUTBOX_DONE: &str = "done";
const OUTBOX_FAILED: &str = "failed";

#[async_trait]
impl Outbox for MemoryStore {
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
        let mut s = self.lock();
        if let Some(existing) = s.outbox.get(key) {
            return Ok(existing.clone());
        }
        let now = foreman_domain::now();
        let entry = OutboxEntry {
            key: key.to_owned(),
            ticket_id: ticket_id.cloned(),
            kind: kind.to_owned(),
            payload,
            state: OUTBOX_PENDING.to_owned(),
            result: None,
            attempts: 0,
            created_at: now,
            updated_at: now,
        };
        s.outbox.insert(key.to_owned(), entry.clone());
        Ok(entry)
    }

    async fn get_outbox(&self, key: &str) -> StoreResult<Option<OutboxEntry>> {
        Ok(self.lock().outbox.get(key).cloned())
    }

    async fn pending_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        let s = self.lock();
        let mut out: Vec<OutboxEntry> = s
            .outbox
            .values()
            .filter(|e| e.state == OUTBOX_PENDING)
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.key.cmp(&b.key))
        });
        out.truncate(cap(limit));
        Ok(out)
    }

    async fn complete_outbox(&self, key: &str, result: serde_json::Value) -> StoreResult<()> {
        let mut s = self.lock();
        let e = s
            .outbox
            .get_mut(key)
            .ok_or_else(|| StoreError::not_found("outbox entry", key))?;
        e.state = OUTBOX_DONE.to_owned();
        e.result = Some(result);
        e.attempts += 1;
        e.updated_at = foreman_domain::now();
        Ok(())
    }

    async fn fail_outbox(&self, key: &str, error: &str, give_up: bool) -> StoreResult<()> {
        let mut s = self.lock();
        let e = s
            .outbox
            .get_mut(key)
            .ok_or_else(|| StoreError::not_found("outbox entry", key))?;
        if e.state != OUTBOX_PENDING {
            return Err(StoreError::Conflict {
                entity: "outbox entry",
                id: key.to_owned(),
                current: e.state.clone(),
                expected: OUTBOX_PENDING.to_owned(),
            });
        }
        e.attempts += 1;
        e.result = Some(serde_json::json!({ "error": error }));
        if give_up {
            e.state = OUTBOX_FAILED.to_owned();
        }
        e.updated_at = foreman_domain::now();
        Ok(())
    }
}
