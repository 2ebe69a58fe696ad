//! `Outbox` in memory: entries keyed by their idempotency key; a claim is one critical section.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::storage::outbox_state::{DONE, FAILED, PENDING};
use foreman_domain::{Outbox, OutboxEntry, StoreError, StoreResult, TicketId};

use super::{MemoryStore, cap};

fn oldest_first(out: &mut Vec<OutboxEntry>, limit: u32) {
    out.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.key.cmp(&b.key))
    });
    out.truncate(cap(limit));
}

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
            state: PENDING.to_owned(),
            result: None,
            attempts: 0,
            next_attempt_at: now,
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
        let mut out: Vec<OutboxEntry> = self
            .lock()
            .outbox
            .values()
            .filter(|e| e.state == PENDING)
            .cloned()
            .collect();
        oldest_first(&mut out, limit);
        Ok(out)
    }

    async fn due_outbox(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        let mut out: Vec<OutboxEntry> = self
            .lock()
            .outbox
            .values()
            .filter(|e| e.state == PENDING && e.next_attempt_at <= now)
            .cloned()
            .collect();
        oldest_first(&mut out, limit);
        Ok(out)
    }

    async fn claim_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<OutboxEntry>> {
        let mut s = self.lock();
        let e = s
            .outbox
            .get_mut(key)
            .ok_or_else(|| StoreError::not_found("outbox entry", key))?;
        if e.state != PENDING || e.next_attempt_at > now {
            return Ok(None);
        }
        e.attempts += 1;
        e.next_attempt_at = until;
        e.updated_at = foreman_domain::now();
        Ok(Some(e.clone()))
    }

    async fn complete_outbox(&self, key: &str, result: serde_json::Value) -> StoreResult<()> {
        let mut s = self.lock();
        let e = s
            .outbox
            .get_mut(key)
            .ok_or_else(|| StoreError::not_found("outbox entry", key))?;
        e.state = DONE.to_owned();
        e.result = Some(result);
        e.updated_at = foreman_domain::now();
        Ok(())
    }

    async fn fail_outbox(
        &self,
        key: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let e = s
            .outbox
            .get_mut(key)
            .ok_or_else(|| StoreError::not_found("outbox entry", key))?;
        if e.state != PENDING {
            return Err(StoreError::Conflict {
                entity: "outbox entry",
                id: key.to_owned(),
                current: e.state.clone(),
                expected: PENDING.to_owned(),
            });
        }
        e.result = Some(serde_json::json!({ "error": error }));
        match retry_at {
            Some(at) => e.next_attempt_at = at,
            None => e.state = FAILED.to_owned(),
        }
        e.updated_at = foreman_domain::now();
        Ok(())
    }
}
