//! `EventLog` in memory: `seq` handed out under the store's lock, so it increases in commit
//! order.

use async_trait::async_trait;
use foreman_domain::{Event, EventFilter, EventId, EventLog, NewEvent, StoreError, StoreResult};

use super::{MemoryStore, cap};

#[async_trait]
impl EventLog for MemoryStore {
    async fn append(&self, event: NewEvent) -> StoreResult<Event> {
        let mut out = self.append_batch(vec![event]).await?;
        out.pop()
            .ok_or_else(|| StoreError::Invalid("no event appended".into()))
    }

    async fn append_batch(&self, events: Vec<NewEvent>) -> StoreResult<Vec<Event>> {
        let mut s = self.lock();
        let now = foreman_domain::now();
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            s.last_seq += 1;
            let event = Event {
                id: EventId::new(),
                seq: s.last_seq,
                ticket_id: e.ticket_id,
                task_id: e.task_id,
                event_type: e.event_type,
                severity: e.severity,
                message: e.message,
                details: e.details,
                created_at: now,
            };
            s.events.push(event.clone());
            out.push(event);
        }
        Ok(out)
    }

    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<Event>> {
        let s = self.lock();
        let matches = |e: &&Event| {
            filter.ticket_id.is_none() || filter.ticket_id == e.ticket_id
        } && filter.after_seq.is_none_or(|a| e.seq > a)
            && (filter.types.is_empty() || filter.types.contains(&e.event_type));
        let skip = usize::try_from(filter.offset).unwrap_or(usize::MAX);
        let limit = cap(filter.limit);
        let out = if filter.newest_first {
            s.events
                .iter()
                .rev()
                .filter(matches)
                .skip(skip)
                .take(limit)
                .cloned()
                .collect()
        } else {
            s.events
                .iter()
                .filter(matches)
                .skip(skip)
                .take(limit)
                .cloned()
                .collect()
        };
        Ok(out)
    }

    async fn latest_seq(&self) -> StoreResult<i64> {
        Ok(self.lock().events.last().map_or(0, |e| e.seq))
    }
}
