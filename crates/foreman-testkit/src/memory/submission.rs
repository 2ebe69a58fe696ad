//! `SubmissionStore` in memory: a batch is checked whole (ids taken, numbers handed out,
//! parents) before anything is inserted, under the one lock, so it is all-or-nothing like the
//! SQL transaction; the project counters move only when it is inserted.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use foreman_domain::fence::lease_is_free;
use foreman_domain::ticket_submission::{
    GENERATED_ID_PREFIX, QueuePlaces, QueueSnapshot, RECENT_DURATIONS, Submission, SubmissionStore,
    TicketOptions, check_batch, check_numbered_batch, first_count, mean_duration,
};
use foreman_domain::{StoreError, StoreResult, Ticket, TicketId, TicketStatus};

use super::MemoryStore;

/// Numbers a numbered ticket tries before the batch gives up (as on SQL).
const NUMBER_ATTEMPTS: usize = 10_000;

#[async_trait]
impl SubmissionStore for MemoryStore {
    async fn submit_numbered(&self, mut items: Vec<Submission>) -> StoreResult<Vec<Ticket>> {
        let (projects, generated, moves) = check_numbered_batch(&mut items)?;
        let mut s = self.lock();
        for item in &items {
            if let Some(parent) = &item.ticket.parent_id {
                s.ticket(parent)?;
            }
        }
        let mut taken: HashSet<(String, String)> = s
            .tickets
            .values()
            .filter(|t| moves.iter().any(|m| m.project == t.project))
            .map(|t| (t.project.clone(), t.external_id.clone()))
            .collect();
        // by project: the counter after the batch and the next number it hands out
        let mut counters: HashMap<&str, (i64, i64)> = HashMap::new();
        for m in &moves {
            let current = match s.submitted.get(&m.project) {
                Some(value) => Some(*value),
                None if m.generated > 0 => {
                    let mine = s.tickets.values().filter(|t| t.project == m.project);
                    let count = i64::try_from(mine.clone().count()).unwrap_or(i64::MAX);
                    Some(first_count(count, mine.map(|t| t.external_id.as_str())))
                }
                None => None,
            };
            if let Some(value) = current {
                let value = value + m.tickets;
                counters.insert(m.project.as_str(), (value, value - m.tickets + 1));
            }
        }
        for (i, ((item, project), generated)) in
            items.iter_mut().zip(&projects).zip(&generated).enumerate()
        {
            if *generated {
                let (_, next) = counters
                    .get_mut(project.as_str())
                    .ok_or_else(|| StoreError::corrupt("counters", "no counter moved"))?;
                let mut free = false;
                for _ in 0..NUMBER_ATTEMPTS {
                    item.ticket.external_id = format!("{GENERATED_ID_PREFIX}{next}");
                    *next += 1;
                    if taken.insert((project.clone(), item.ticket.external_id.clone())) {
                        free = true;
                        break;
                    }
                }
                if !free {
                    return Err(StoreError::Duplicate {
                        entity: "ticket",
                        key: format!(
                            "items[{i}]: no free {GENERATED_ID_PREFIX}<n> id in project {project}"
                        ),
                    });
                }
            } else if !taken.insert((project.clone(), item.ticket.external_id.clone())) {
                return Err(StoreError::Duplicate {
                    entity: "ticket",
                    key: format!(
                        "items[{i}]: external_id {} in project {project}",
                        item.ticket.external_id
                    ),
                });
            }
        }
        for m in &moves {
            if let Some((value, next)) = counters.get(m.project.as_str()) {
                let end = (*value).max(next - 1).max(m.highest_given.unwrap_or(0));
                s.submitted.insert(m.project.clone(), end);
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

    async fn submit_groups(
        &self,
        groups: Vec<Vec<Submission>>,
    ) -> StoreResult<Vec<StoreResult<Vec<Ticket>>>> {
        let mut out = Vec::with_capacity(groups.len());
        for items in groups {
            out.push(self.submit_numbered(items).await);
        }
        Ok(out)
    }

    async fn queue_places(&self, ids: &[TicketId]) -> StoreResult<QueuePlaces> {
        let q = self.queue_snapshot().await?;
        Ok(QueuePlaces {
            positions: ids.iter().map(|id| q.position(id)).collect(),
            running: q.running,
            mean_duration: q.mean_duration,
        })
    }

    async fn submit_tickets(&self, items: Vec<Submission>) -> StoreResult<Vec<Ticket>> {
        // every item names its id; the numbered path moves the project counters all the same
        check_batch(&items)?;
        self.submit_numbered(items).await
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
