//! `TicketStore` in memory: compare-and-set transitions, fenced patches, requeues, keyset
//! listing, leases.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::fence::{check_fence, check_lease_held, lease_expiry, lease_is_free};
use foreman_domain::transition::{
    check_ticket_transition, requeued_ticket, reset_task, resets_with_ticket, transitioned_ticket,
};
use foreman_domain::{
    Claim, ClaimRequest, FencingToken, NewTicket, Page, StoreError, StoreResult, Task, Ticket,
    TicketCursor, TicketFilter, TicketId, TicketPatch, TicketRequeue, TicketSort, TicketStatus,
    TicketStore,
};

use super::MemoryStore;

fn ticket_order(sort: TicketSort, a: &Ticket, b: &Ticket) -> std::cmp::Ordering {
    let ka = (sort.key_micros(a), a.id.as_str());
    let kb = (sort.key_micros(b), b.id.as_str());
    if sort.is_descending() {
        kb.cmp(&ka)
    } else {
        ka.cmp(&kb)
    }
}

fn after_cursor(c: &TicketCursor, t: &Ticket) -> bool {
    let key = (c.sort.key_micros(t), t.id.as_str());
    let at = (c.at_micros, c.id.as_str());
    if c.sort.is_descending() {
        key < at
    } else {
        key > at
    }
}

#[async_trait]
impl TicketStore for MemoryStore {
    async fn create_ticket(&self, new: NewTicket) -> StoreResult<Ticket> {
        let project = new.validate()?;
        let mut s = self.lock();
        if s.tickets
            .values()
            .any(|t| t.project == project && t.external_id == new.external_id)
        {
            return Err(StoreError::Duplicate {
                entity: "ticket",
                key: format!("external_id {} in project {project}", new.external_id),
            });
        }
        if let Some(parent) = &new.parent_id {
            s.ticket(parent)?;
        }
        let ticket = Ticket::from_new(TicketId::new(), project, new, foreman_domain::now());
        s.tickets.insert(ticket.id.clone(), ticket.clone());
        Ok(ticket)
    }

    async fn get_ticket(&self, id: &TicketId) -> StoreResult<Option<Ticket>> {
        Ok(self.lock().tickets.get(id).cloned())
    }

    async fn get_ticket_by_external_id(
        &self,
        project: &str,
        external_id: &str,
    ) -> StoreResult<Option<Ticket>> {
        Ok(self
            .lock()
            .tickets
            .values()
            .find(|t| t.project == project && t.external_id == external_id)
            .cloned())
    }

    async fn list_tickets(&self, filter: &TicketFilter) -> StoreResult<Page<Ticket>> {
        let cursor = filter
            .cursor
            .as_deref()
            .map(|c| TicketCursor::decode(c, filter.sort))
            .transpose()?;
        let needle = filter.search.as_ref().map(|s| s.to_lowercase());
        let s = self.lock();
        let mut rows: Vec<&Ticket> = s
            .tickets
            .values()
            .filter(|t| filter.project.as_ref().is_none_or(|p| *p == t.project))
            .filter(|t| filter.statuses.is_empty() || filter.statuses.contains(&t.status))
            .filter(|t| filter.submitter.is_none() || filter.submitter == t.submitter)
            .filter(|t| filter.parent_id.is_none() || filter.parent_id == t.parent_id)
            .filter(|t| {
                needle.as_ref().is_none_or(|n| {
                    t.title.to_lowercase().contains(n.as_str())
                        || t.external_id.to_lowercase().contains(n.as_str())
                })
            })
            .filter(|t| cursor.as_ref().is_none_or(|c| after_cursor(c, t)))
            .collect();
        rows.sort_by(|a, b| ticket_order(filter.sort, a, b));
        let limit = filter.effective_limit() as usize;
        let skip = if cursor.is_some() {
            0
        } else {
            usize::try_from(filter.offset).unwrap_or(usize::MAX)
        };
        let mut items: Vec<Ticket> = rows
            .into_iter()
            .skip(skip)
            .take(limit + 1)
            .cloned()
            .collect();
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|t| TicketCursor::after(t, filter.sort).encode())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn count_tickets_by_status(
        &self,
        project: Option<&str>,
    ) -> StoreResult<Vec<(TicketStatus, i64)>> {
        let s = self.lock();
        let mut counts: BTreeMap<TicketStatus, i64> = BTreeMap::new();
        for t in s.tickets.values() {
            if project.is_none_or(|p| p == t.project) {
                *counts.entry(t.status).or_default() += 1;
            }
        }
        Ok(counts.into_iter().collect())
    }

    async fn transition_ticket(
        &self,
        id: &TicketId,
        from: TicketStatus,
        to: TicketStatus,
        fence: Option<FencingToken>,
    ) -> StoreResult<Ticket> {
        let mut s = self.lock();
        let t = s.ticket_mut(id)?;
        check_fence(t, fence)?;
        check_ticket_transition(t, from, to)?;
        *t = transitioned_ticket(t, to, foreman_domain::now());
        Ok(t.clone())
    }

    async fn requeue_ticket(
        &self,
        id: &TicketId,
        fence: Option<FencingToken>,
    ) -> StoreResult<TicketRequeue> {
        let now = foreman_domain::now();
        let mut s = self.lock();
        let before = s.ticket(id)?;
        check_fence(before, fence)?;
        let after = requeued_ticket(before, now)?;
        let from = before.status;
        let mut tasks: Vec<&mut Task> = s
            .tasks
            .values_mut()
            .filter(|t| t.ticket_id == *id && resets_with_ticket(t.status))
            .collect();
        tasks.sort_by_key(|t| t.sequence);
        let mut tasks_reset = Vec::with_capacity(tasks.len());
        for task in tasks {
            *task = reset_task(task, now);
            tasks_reset.push(task.id.clone());
        }
        s.tickets.insert(id.clone(), after.clone());
        Ok(TicketRequeue {
            ticket: after,
            from,
            tasks_reset,
        })
    }

    async fn update_ticket(
        &self,
        id: &TicketId,
        patch: TicketPatch,
        fence: Option<FencingToken>,
    ) -> StoreResult<Ticket> {
        let mut s = self.lock();
        let t = s.ticket_mut(id)?;
        check_fence(t, fence)?;
        let TicketPatch {
            title,
            description,
            acceptance_criteria,
            priority,
            labels,
            branch_name,
            pr_url,
            pr_number,
            is_partial,
            last_completed_task_seq,
            last_error,
            last_error_type,
            started_at,
        } = patch;
        if let Some(v) = title {
            t.title = v;
        }
        if let Some(v) = description {
            t.description = v;
        }
        if let Some(v) = acceptance_criteria {
            t.acceptance_criteria = v;
        }
        if let Some(v) = priority {
            t.priority = v;
        }
        if let Some(v) = labels {
            t.labels = v;
        }
        if let Some(v) = branch_name {
            t.branch_name = v;
        }
        if let Some(v) = pr_url {
            t.pr_url = v;
        }
        if let Some(v) = pr_number {
            t.pr_number = v;
        }
        if let Some(v) = is_partial {
            t.is_partial = v;
        }
        if let Some(v) = last_completed_task_seq {
            t.last_completed_task_seq = v;
        }
        if let Some(v) = last_error {
            t.last_error = v;
        }
        if let Some(v) = last_error_type {
            t.last_error_type = v;
        }
        if let Some(v) = started_at {
            t.started_at = v.map(|d| foreman_domain::micros_to_time(d.timestamp_micros()));
        }
        t.updated_at = foreman_domain::now();
        Ok(t.clone())
    }

    async fn delete_ticket(&self, id: &TicketId) -> StoreResult<bool> {
        let mut s = self.lock();
        if s.tickets.remove(id).is_none() {
            return Ok(false);
        }
        s.tasks.retain(|_, t| t.ticket_id != *id);
        s.events.retain(|e| e.ticket_id.as_ref() != Some(id));
        // the calls stay, as tombstones: what was spent stays spent
        for c in &mut s.calls {
            if c.ticket_id.as_ref() == Some(id) {
                *c = c.clone().tombstoned();
            }
        }
        s.reservations
            .retain(|_, h| h.ticket_id.as_ref() != Some(id));
        s.files.retain(|_, (holder, _)| holder != id);
        s.options.remove(id);
        for t in s.tickets.values_mut() {
            if t.parent_id.as_ref() == Some(id) {
                t.parent_id = None;
            }
        }
        Ok(true)
    }

    async fn claim_next(&self, req: &ClaimRequest) -> StoreResult<Option<Claim>> {
        if req.worker_id.is_empty() {
            return Err(StoreError::Invalid("worker_id must not be empty".into()));
        }
        if req.statuses.is_empty() {
            return Err(StoreError::Invalid(
                "claim needs at least one status to claim from".into(),
            ));
        }
        let now = foreman_domain::now();
        let expires_at = lease_expiry(now, req.lease)?;
        let mut s = self.lock();
        let best = s
            .tickets
            .values()
            .filter(|t| req.statuses.contains(&t.status))
            .filter(|t| req.project.as_ref().is_none_or(|p| *p == t.project))
            .filter(|t| lease_is_free(t, now))
            .min_by(|a, b| {
                b.priority
                    .cmp(&a.priority)
                    .then(a.created_at.cmp(&b.created_at))
                    .then(a.id.cmp(&b.id))
            })
            .map(|t| t.id.clone());
        let Some(id) = best else {
            return Ok(None);
        };
        // the previous holder's budget reservations go with its lease
        s.reservations
            .retain(|_, h| h.ticket_id.as_ref() != Some(&id));
        let t = s.ticket_mut(&id)?;
        t.fencing_token = FencingToken(t.fencing_token.0 + 1);
        t.lease_owner = Some(req.worker_id.clone());
        t.lease_expires_at = Some(expires_at);
        t.updated_at = now;
        Ok(Some(Claim {
            ticket: t.clone(),
            fencing_token: t.fencing_token,
            expires_at,
        }))
    }

    async fn renew_lease(
        &self,
        id: &TicketId,
        worker_id: &str,
        fence: FencingToken,
        lease: Duration,
    ) -> StoreResult<DateTime<Utc>> {
        let now = foreman_domain::now();
        let expires_at = lease_expiry(now, lease)?;
        let mut s = self.lock();
        let t = s.ticket_mut(id)?;
        check_lease_held(t, worker_id, fence, Some(now))?;
        t.lease_expires_at = Some(expires_at);
        Ok(expires_at)
    }

    async fn release_lease(
        &self,
        id: &TicketId,
        worker_id: &str,
        fence: FencingToken,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        let t = s.ticket_mut(id)?;
        check_lease_held(t, worker_id, fence, None)?;
        t.lease_owner = None;
        t.lease_expires_at = None;
        s.reservations
            .retain(|_, h| h.ticket_id.as_ref() != Some(id));
        Ok(())
    }

    async fn cancel_ticket(&self, id: &TicketId) -> StoreResult<Ticket> {
        let mut s = self.lock();
        let t = s.ticket_mut(id)?;
        let cancelled = foreman_domain::fence::cancelled_ticket(t, foreman_domain::now())?;
        *t = cancelled.clone();
        s.reservations
            .retain(|_, h| h.ticket_id.as_ref() != Some(id));
        Ok(cancelled)
    }
}
