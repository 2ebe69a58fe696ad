//! `AuditStore` in memory: the chain in a vector, appended under the store's one lock (so
//! appends never fork), pruned behind a signed checkpoint like the SQL stores.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::StoreResult;
use foreman_domain::audit::{
    AuditCheckpoint, AuditEntry, AuditFilter, AuditKey, AuditStore, ChainCheck, ChainHead,
    MAX_AUDIT_PAGE, NewAuditEntry, prune_cut,
};

use super::{MemoryStore, State};

fn head(s: &State) -> ChainHead {
    s.audit.entries.last().map_or_else(
        || {
            s.audit
                .checkpoints
                .last()
                .map_or_else(ChainHead::genesis, AuditCheckpoint::head)
        },
        AuditEntry::head,
    )
}

impl MemoryStore {
    /// Changes a stored audit entry in place, as someone with write access to the database
    /// could: for tests of verification. `false` when there is no entry `seq`.
    #[doc(hidden)]
    pub fn tamper_audit_entry(&self, seq: u64, change: impl FnOnce(&mut AuditEntry)) -> bool {
        let mut s = self.lock();
        match s.audit.entries.iter_mut().find(|e| e.seq == seq) {
            Some(e) => {
                change(e);
                true
            }
            None => false,
        }
    }

    /// Adds a checkpoint as it is, signed or not: for tests of forged checkpoints.
    #[doc(hidden)]
    pub fn insert_audit_checkpoint(&self, checkpoint: AuditCheckpoint) {
        self.lock().audit.checkpoints.push(checkpoint);
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> StoreResult<Vec<AuditEntry>> {
        let mut s = self.lock();
        let mut head = head(&s);
        let chained = AuditEntry::chain_all(entries, &mut head);
        s.audit.entries.extend(chained.iter().cloned());
        Ok(chained)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let s = self.lock();
        Ok(s.audit
            .entries
            .iter()
            .rev()
            .filter(|e| filter.matches(e))
            .take(filter.page_size() as usize)
            .cloned()
            .collect())
    }

    async fn audit_chain(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let s = self.lock();
        Ok(s.audit
            .entries
            .iter()
            .filter(|e| e.seq > after_seq)
            .take(limit.clamp(1, MAX_AUDIT_PAGE) as usize)
            .cloned()
            .collect())
    }

    async fn latest_audit_checkpoint(&self) -> StoreResult<Option<AuditCheckpoint>> {
        Ok(self.lock().audit.checkpoints.last().cloned())
    }

    async fn prune_audit(
        &self,
        before: DateTime<Utc>,
        key: &AuditKey,
    ) -> StoreResult<Option<AuditCheckpoint>> {
        let mut s = self.lock();
        let head = head(&s);
        let keep_from = s
            .audit
            .entries
            .iter()
            .filter(|e| e.at >= before)
            .map(|e| e.seq)
            .min()
            .unwrap_or(head.seq)
            .min(head.seq);
        let older: Vec<AuditEntry> = s
            .audit
            .entries
            .iter()
            .filter(|e| e.seq < keep_from)
            .cloned()
            .collect();
        let start = ChainCheck::start(s.audit.checkpoints.last(), Some(key)).map_err(|b| {
            foreman_domain::StoreError::Invalid(format!(
                "audit checkpoint at seq {} does not verify ({}); not pruning",
                b.seq,
                b.reason.as_str()
            ))
        })?;
        let Some(last) = prune_cut(start, &older, head.seq)? else {
            return Ok(None);
        };
        let cp = AuditCheckpoint::sign(&last, before, foreman_domain::now(), key);
        s.audit.checkpoints.push(cp.clone());
        s.audit.entries.retain(|e| e.seq > last.seq);
        Ok(Some(cp))
    }
}
