//! `RetrospectiveStore` in memory: unique numbers, finished tickets in `(completed_at, id)`
//! order.

use async_trait::async_trait;
use foreman_domain::retrospective::{
    NewRetrospective, RetroMark, Retrospective, RetrospectiveStore, finished_after,
    new_retrospective_id, retro_page,
};
use foreman_domain::{StoreError, StoreResult, Ticket};

use super::MemoryStore;

#[async_trait]
impl RetrospectiveStore for MemoryStore {
    async fn add_retrospective(&self, new: NewRetrospective) -> StoreResult<Option<Retrospective>> {
        if new.number < 1 {
            return Err(StoreError::Invalid(
                "retrospective numbers start at 1".into(),
            ));
        }
        let mut s = self.lock();
        if s.retrospectives.iter().any(|r| r.number == new.number) {
            return Ok(None);
        }
        let r = Retrospective {
            id: new_retrospective_id(),
            number: new.number,
            ticket_ids: new.ticket_ids,
            until: new.until,
            report: new.report,
            created_at: foreman_domain::now(),
        };
        s.retrospectives.push(r.clone());
        Ok(Some(r))
    }

    async fn list_retrospectives(
        &self,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Vec<Retrospective>> {
        let s = self.lock();
        let mut out: Vec<Retrospective> = s
            .retrospectives
            .iter()
            .filter(|r| before.is_none_or(|b| r.number < b))
            .cloned()
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.number));
        out.truncate(retro_page(limit));
        Ok(out)
    }

    async fn finished_tickets_after(
        &self,
        after: Option<&RetroMark>,
        limit: u32,
    ) -> StoreResult<Vec<Ticket>> {
        let s = self.lock();
        let mut out: Vec<Ticket> = s
            .tickets
            .values()
            .filter(|t| finished_after(t, after))
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.completed_at, &a.id).cmp(&(b.completed_at, &b.id)));
        out.truncate(limit.clamp(1, 1000) as usize);
        Ok(out)
    }
}
