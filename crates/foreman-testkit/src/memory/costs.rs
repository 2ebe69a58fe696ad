//! `CostLedger` in memory: call records with totals under one lock, spend windows, usage
//! grouping and budget reservations.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use foreman_domain::budget::{BudgetScope, DailySpend, Reservation, ReservationRequest};
use foreman_domain::budget_window::{daily_range, day_window, month_window};
use foreman_domain::{
    CostLedger, LlmCall, LlmCallId, Micros, NewLlmCall, ReservationId, StoreError, StoreResult,
    TicketId, UsageKey, UsageRow,
};

use foreman_domain::budget_window::Window;
use foreman_domain::cost_report::{
    CostGroup, CostGroupBy, CostReport, MergedPrCost, WindowSpend, sort_groups,
};

use super::{Held, MemoryStore, State, cap};

impl State {
    fn recorded(&self, pred: impl Fn(&LlmCall) -> bool) -> Micros {
        self.calls.iter().filter(|c| pred(c)).map(|c| c.cost).sum()
    }

    fn held(&self, pred: impl Fn(&Held) -> bool) -> Micros {
        self.reservations
            .values()
            .filter(|h| pred(h))
            .map(|h| h.amount)
            .sum()
    }

    fn record_call(&mut self, new: NewLlmCall) -> StoreResult<LlmCall> {
        new.validate()?;
        let task_ticket = match &new.task_id {
            Some(task_id) => Some(self.task(task_id)?.ticket_id.clone()),
            None => None,
        };
        let ticket_id = new.charged_ticket(task_ticket.as_ref())?;
        if let Some(t) = &ticket_id {
            self.ticket(t)?;
        }
        let call = LlmCall::record(LlmCallId::new(), new, ticket_id, foreman_domain::now());
        if let Some(task_id) = &call.task_id
            && let Some(task) = self.tasks.get_mut(task_id)
        {
            task.cost += call.cost;
            task.tokens_input += call.tokens_input;
            task.tokens_output += call.tokens_output;
            task.total_llm_calls += 1;
        }
        if let Some(ticket_id) = &call.ticket_id
            && let Some(ticket) = self.tickets.get_mut(ticket_id)
        {
            ticket.cost += call.cost;
            ticket.tokens_input += call.tokens_input;
            ticket.tokens_output += call.tokens_output;
            ticket.total_llm_calls += 1;
        }
        self.calls.push(call.clone());
        Ok(call)
    }
}

fn usage_key(call: &LlmCall, key: UsageKey) -> String {
    match key {
        UsageKey::Runner => call.runner.clone(),
        UsageKey::Provider => call.provider.clone(),
        UsageKey::Model => call.model.clone(),
        UsageKey::Role => call.role.clone(),
        UsageKey::Status => call.status.as_str().to_owned(),
    }
}

#[async_trait]
impl CostLedger for MemoryStore {
    async fn record_llm_call(&self, call: NewLlmCall) -> StoreResult<LlmCall> {
        self.lock().record_call(call)
    }

    async fn list_llm_calls(&self, ticket_id: &TicketId) -> StoreResult<Vec<LlmCall>> {
        Ok(self
            .lock()
            .calls
            .iter()
            .filter(|c| c.ticket_id.as_ref() == Some(ticket_id))
            .cloned()
            .collect())
    }

    async fn recent_llm_calls(&self, limit: u32) -> StoreResult<Vec<LlmCall>> {
        Ok(self
            .lock()
            .calls
            .iter()
            .rev()
            .take(cap(limit))
            .cloned()
            .collect())
    }

    async fn spend_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Micros> {
        Ok(self
            .lock()
            .recorded(|c| c.created_at >= from && c.created_at < to))
    }

    async fn daily_spend(&self, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<DailySpend>> {
        let days = daily_range(from, to)?;
        let s = self.lock();
        Ok(days
            .into_iter()
            .map(|date| DailySpend {
                date,
                cost: s.recorded(|c| c.created_at.date_naive() == date),
            })
            .collect())
    }

    async fn usage_since(
        &self,
        since: DateTime<Utc>,
        keys: &[UsageKey],
    ) -> StoreResult<Vec<UsageRow>> {
        let s = self.lock();
        let mut groups: BTreeMap<Vec<String>, UsageRow> = BTreeMap::new();
        for c in s.calls.iter().filter(|c| c.created_at >= since) {
            let k: Vec<String> = keys.iter().map(|&k| usage_key(c, k)).collect();
            let row = groups.entry(k.clone()).or_insert_with(|| UsageRow {
                keys: k,
                ..UsageRow::default()
            });
            row.calls += 1;
            row.tokens_in += c.tokens_input;
            row.tokens_out += c.tokens_output;
            row.cost += c.cost;
        }
        let mut rows: Vec<UsageRow> = groups.into_values().collect();
        rows.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.keys.cmp(&b.keys)));
        Ok(rows)
    }

    async fn reserve(&self, req: &ReservationRequest) -> StoreResult<Reservation> {
        if req.amount.0 < 0 {
            return Err(StoreError::Invalid(
                "reservation amount must not be negative".into(),
            ));
        }
        let mut s = self.lock();
        if let Some(t) = &req.ticket_id {
            s.ticket(t)?;
        }
        if let Some(t) = &req.task_id
            && !s.tasks.contains_key(t)
        {
            return Err(StoreError::not_found("task", t.as_str()));
        }
        let mut committed = Vec::with_capacity(4);
        if let Some(task) = &req.task_id {
            let spent = s.recorded(|c| c.task_id.as_ref() == Some(task))
                + s.held(|h| h.task_id.as_ref() == Some(task));
            committed.push((BudgetScope::Task, spent));
        }
        if let Some(ticket) = &req.ticket_id {
            let spent = s.recorded(|c| c.ticket_id.as_ref() == Some(ticket))
                + s.held(|h| h.ticket_id.as_ref() == Some(ticket));
            committed.push((BudgetScope::Ticket, spent));
        }
        for (scope, window) in [
            (BudgetScope::Daily, day_window(req.at)),
            (BudgetScope::Monthly, month_window(req.at)),
        ] {
            let spent =
                s.recorded(|c| window.contains(c.created_at)) + s.held(|h| window.contains(h.at));
            committed.push((scope, spent));
        }
        // the ticket's own limit (`max_budget_usd` at submission) tightens the configured one
        let mut limits = req.limits;
        if let Some(t) = &req.ticket_id {
            limits.ticket = foreman_domain::TicketOptions::ticket_limit(
                s.options.get(t).and_then(|o| o.max_budget),
                limits.ticket,
            );
        }
        limits.admit(&committed, req.amount)?;
        let id = ReservationId::new();
        s.reservations.insert(
            id.clone(),
            Held {
                ticket_id: req.ticket_id.clone(),
                task_id: req.task_id.clone(),
                amount: req.amount,
                at: req.at,
            },
        );
        Ok(Reservation {
            id,
            amount: req.amount,
            committed: committed
                .into_iter()
                .map(|(scope, m)| (scope, m + req.amount))
                .collect(),
        })
    }

    async fn settle(&self, id: &ReservationId, call: NewLlmCall) -> StoreResult<LlmCall> {
        let mut s = self.lock();
        if !s.reservations.contains_key(id) {
            return Err(StoreError::not_found("reservation", id.as_str()));
        }
        let recorded = s.record_call(call)?;
        s.reservations.remove(id);
        Ok(recorded)
    }

    async fn release(&self, id: &ReservationId) -> StoreResult<()> {
        self.lock().reservations.remove(id);
        Ok(())
    }
}

fn group_key(s: &State, call: &LlmCall, g: CostGroupBy) -> String {
    match g {
        CostGroupBy::Day => call.created_at.date_naive().to_string(),
        CostGroupBy::Model => call.model.clone(),
        CostGroupBy::Role => call.role.clone(),
        CostGroupBy::Runner => call.runner.clone(),
        // a reported row's own project wins over its ticket's, as on SQL
        CostGroupBy::Project => s
            .usage
            .meta
            .get(&call.id)
            .and_then(|m| m.project.clone())
            .or_else(|| {
                call.ticket_id
                    .as_ref()
                    .and_then(|t| s.tickets.get(t))
                    .map(|t| t.project.clone())
            })
            .unwrap_or_default(),
        CostGroupBy::Ticket => call
            .ticket_id
            .as_ref()
            .or(call.deleted_ticket_id.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

#[async_trait]
impl CostReport for MemoryStore {
    async fn cost_groups(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group_by: CostGroupBy,
    ) -> StoreResult<Vec<CostGroup>> {
        let s = self.lock();
        let mut groups: BTreeMap<String, CostGroup> = BTreeMap::new();
        for c in s
            .calls
            .iter()
            .filter(|c| c.created_at >= from && c.created_at < to)
        {
            let key = group_key(&s, c, group_by);
            groups
                .entry(key.clone())
                .or_insert_with(|| CostGroup {
                    key,
                    ..CostGroup::default()
                })
                .add(c);
        }
        let mut out: Vec<CostGroup> = groups.into_values().collect();
        sort_groups(group_by, &mut out);
        Ok(out)
    }

    async fn window_spend(&self, window: Window) -> StoreResult<WindowSpend> {
        let s = self.lock();
        Ok(WindowSpend {
            used: s.recorded(|c| window.contains(c.created_at)),
            reserved: s.held(|h| window.contains(h.at)),
        })
    }

    async fn merged_pr_cost(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<MergedPrCost> {
        let s = self.lock();
        let merged: Vec<&foreman_domain::Ticket> = s
            .tickets
            .values()
            .filter(|t| {
                t.status == foreman_domain::TicketStatus::Merged
                    && t.completed_at.is_some_and(|c| c >= from && c < to)
            })
            .collect();
        Ok(MergedPrCost {
            merged_prs: merged.len() as i64,
            merged_cost: merged.iter().map(|t| t.cost).sum(),
            total_cost: s.recorded(|c| c.created_at >= from && c.created_at < to),
        })
    }
}
