//! Writes a retrospective every N finished tickets.
//!
//! The figures are the domain's ([`RetrospectiveReport::compute`]); this runner finds the next
//! round of finished tickets after the previous retrospective's mark, reads their gate events,
//! and stores the report under the next number. Numbers are unique in the store, so two nodes
//! racing for one round write it once; a round written is announced with a
//! `retrospective_written` event.

use std::sync::Arc;

use foreman_domain::retrospective::{
    Gate, NewRetrospective, RetroMark, Retrospective, RetrospectiveReport,
};
use foreman_domain::{Event, EventFilter, EventType, MAX_PAGE_LIMIT, NewEvent, Store, StoreResult};

/// Writes retrospectives over rounds of `every` finished tickets.
#[derive(Clone)]
pub struct Retrospectives {
    store: Arc<dyn Store>,
    events: Arc<dyn foreman_domain::EventLog>,
    every: u32,
}

impl std::fmt::Debug for Retrospectives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrospectives")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl Retrospectives {
    /// A runner over `store` that announces rounds through `events` (a publishing log, so live
    /// clients see them); `every` is the round size (at least 1).
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        events: Arc<dyn foreman_domain::EventLog>,
        every: u32,
    ) -> Self {
        Self {
            store,
            events,
            every: every.max(1),
        }
    }

    /// Writes every complete round not yet written; returns what it wrote.
    ///
    /// # Errors
    /// Store errors.
    pub async fn catch_up(&self) -> StoreResult<Vec<Retrospective>> {
        let mut written = Vec::new();
        while let Some(r) = self.run_once().await? {
            written.push(r);
        }
        Ok(written)
    }

    /// Writes the next round when enough tickets have finished since the last one; `None`
    /// otherwise (or when another node wrote it first).
    ///
    /// # Errors
    /// Store errors.
    pub async fn run_once(&self) -> StoreResult<Option<Retrospective>> {
        let last = self
            .store
            .list_retrospectives(1, None)
            .await?
            .into_iter()
            .next();
        let mark = last.as_ref().map(|r| r.until.clone());
        let tickets = self
            .store
            .finished_tickets_after(mark.as_ref(), self.every)
            .await?;
        if tickets.len() < self.every as usize {
            return Ok(None);
        }
        let Some(end) = tickets.last() else {
            return Ok(None);
        };
        let until = RetroMark {
            completed_at: end.completed_at.unwrap_or(end.updated_at),
            ticket_id: end.id.clone(),
        };
        let mut events: Vec<Event> = Vec::new();
        for t in &tickets {
            let mut offset = 0u64;
            loop {
                let page = self
                    .store
                    .list_events(&EventFilter {
                        ticket_id: Some(t.id.clone()),
                        types: Gate::event_types(),
                        limit: MAX_PAGE_LIMIT,
                        offset,
                        ..EventFilter::default()
                    })
                    .await?;
                let n = page.len();
                events.extend(page);
                if n < MAX_PAGE_LIMIT as usize {
                    break;
                }
                offset += n as u64;
            }
        }
        let report = RetrospectiveReport::compute(&tickets, &events);
        let number = last.map_or(1, |r| r.number + 1);
        let written = self
            .store
            .add_retrospective(NewRetrospective {
                number,
                ticket_ids: tickets.iter().map(|t| t.id.clone()).collect(),
                until,
                report,
            })
            .await?;
        if let Some(r) = &written {
            let p = &r.report;
            let event = NewEvent::new(
                EventType::RetrospectiveWritten,
                format!(
                    "retrospective {number}: {} of {} tickets succeeded",
                    p.succeeded, p.tickets
                ),
            )
            .details(serde_json::json!({
                "retrospective_id": r.id,
                "number": r.number,
                "success_rate": p.success_rate,
                "mean_cost_micros": p.mean_cost.0,
            }));
            if let Err(e) = self.events.append(event).await {
                tracing::warn!(error = %e, "could not record the retrospective event");
            }
            tracing::info!(number, tickets = p.tickets, "retrospective written");
        }
        Ok(written)
    }
}

/// Whether an event may have finished a ticket (so a round may be complete).
#[must_use]
pub fn may_finish_a_ticket(event_type: EventType) -> bool {
    matches!(
        event_type,
        EventType::TicketCompleted
            | EventType::TicketFailed
            | EventType::TicketBlocked
            | EventType::TicketStatusChanged
            | EventType::PrMerged
            | EventType::PrClosed
    )
}

#[cfg(test)]
mod tests {
    use foreman_domain::{NewTicket, TicketStatus};
    use foreman_testkit::MemoryStore;

    use super::*;

    async fn finish(store: &dyn Store, ext: &str, to: TicketStatus) {
        use TicketStatus as S;
        let t = store
            .create_ticket(NewTicket {
                project: "default".into(),
                external_id: ext.into(),
                title: ext.into(),
                ..NewTicket::default()
            })
            .await
            .unwrap();
        let path: &[S] = match to {
            S::Failed => &[S::Failed],
            _ => &[
                S::Planning,
                S::PlanValidating,
                S::Implementing,
                S::Reviewing,
                S::PrCreated,
                S::AwaitingMerge,
                S::Merged,
            ],
        };
        let mut from = S::Queued;
        for &next in path {
            store
                .transition_ticket(&t.id, from, next, None)
                .await
                .unwrap();
            from = next;
        }
    }

    #[tokio::test]
    async fn a_round_is_written_once_every_n_finished_tickets() {
        let mem = MemoryStore::new();
        let store = mem.shared();
        let r = Retrospectives::new(store.clone(), store.clone(), 3);
        finish(&*store, "A", TicketStatus::Merged).await;
        finish(&*store, "B", TicketStatus::Failed).await;
        assert!(r.run_once().await.unwrap().is_none());
        finish(&*store, "C", TicketStatus::Merged).await;
        let first = r.run_once().await.unwrap().expect("a round of three");
        assert_eq!(first.number, 1);
        assert_eq!(first.report.tickets, 3);
        assert_eq!(first.report.merged_prs, 2);
        assert!(r.run_once().await.unwrap().is_none(), "written once");
        for ext in ["D", "E", "F", "G", "H", "I"] {
            finish(&*store, ext, TicketStatus::Merged).await;
        }
        let more = r.catch_up().await.unwrap();
        assert_eq!(
            more.iter().map(|r| r.number).collect::<Vec<_>>(),
            vec![2, 3]
        );
        let announced = store
            .list_events(&EventFilter {
                types: vec![EventType::RetrospectiveWritten],
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(announced.len(), 3);
    }
}
