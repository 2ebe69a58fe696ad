//! `SubmissionStore` in memory: a batch is checked whole before anything is inserted, under
//! the one lock, so it is all-or-nothing like the SQL transaction.

use std::collections::HashSet;

use async_trait::async_trait;
use foreman_domain::fence::lease_is_free;
use foreman_domain::ticket_submission::{
    QueueSnapshot, RECENT_DURATIONS, Submission, SubmissionStore, TicketOptions, check_batch,
    mean_duration,
};
use foreman_domain::{StoreError, StoreResult, Ticket, TicketId, TicketStatus};

use super::MemoryStore;

#[async_trait]
impl SubmissionStore for MemoryStore {
    async fn submit_tickets(&self, items: Vec<Submission>) -> StoreResult<Vec<Ticket>> {
        let projects = check_batch(&items)?;
        let mut s = self.lock();
        let mut seen = HashSet::new();
        for (i, (item, project)) in items.iter().zip(&projects).enumerate() {
            let key = (project.clone(), item.ticket.external_id.clone());
            let taken = s
                .tickets
                .values()
                .any(|t| t.project == key.0 && t.external_id == key.1);
            if taken || !seen.insert(key) {
                return Err(StoreError::Duplicate {
                    entity: "ticket",
                    key: format!(
                        "items[{i}]: external_id {} in project {project}",
                        item.ticket.external_id
                    ),
                });
            }
            if let Some(parent) = &item.ticket.parent_id {
                s.ticket(parent)?;
            }
        }
        let now = foreman_domain::now();
        let mut created = Vec::with_capacity(items.len());
        for (item, project) in items.into_iter().zip(projects) {
            let ticket = Ticket::from_new(TicketId::new(), project, item.ticket, now);
            s.tickets.insert(ticket.id.clone(), ticket.clone());
            if !item.options.is_empty() {
                s.options.insert(ticket.id.clone(), item.options);
            }
            created.push(ticket);
        }
        Ok(created)
    }

    async fn ticket_options(&self, id: &TicketId) -> StoreResult<TicketOptions> {
        Ok(self.lock().options.get(id).cloned().unwrap_or_default())
    }

    async fn queue_snapshot(&self) -> StoreResult<QueueSnapshot> {
        let now = foreman_domain::now();
        let s = self.lock();
        let mut queued: Vec<&Ticket> = s
            .tickets
            .values()
            .filter(|t| t.status == TicketStatus::Queued)
            .collect();
        queued.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.created_at.cmp(&b.created_at))
                .then(a.id.cmp(&b.id))
        });
        let running = s
            .tickets
            .values()
            .filter(|t| t.status.is_active() && !lease_is_free(t, now))
            .count();
        let mut spans: Vec<_> = s
            .tickets
            .values()
            .filter_map(|t| Some((t.started_at?, t.completed_at?)))
            .filter(|(started, completed)| completed >= started)
            .collect();
        spans.sort_by_key(|s| std::cmp::Reverse(s.1));
        spans.truncate(usize::try_from(RECENT_DURATIONS).unwrap_or(usize::MAX));
        Ok(QueueSnapshot {
            queued: queued.into_iter().map(|t| t.id.clone()).collect(),
            running,
            mean_duration: mean_duration(&spans),
        })
    }
}
