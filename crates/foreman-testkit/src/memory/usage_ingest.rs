//! `UsageIngest` in memory: reported rows are LLM calls in `State::calls` (so every spend
//! window, cost report and budget counts them, as on SQL), with what they name beyond a call
//! (source, project, session tag, idempotency key) kept beside them.

use std::collections::HashMap;

use async_trait::async_trait;
use foreman_domain::usage_ingest::{
    EXTERNAL, IngestOutcome, NewUsageRow, UsageCursor, UsageFilter, UsageGroup, UsageGroupBy,
    UsageIngest, UsageOrigin, UsagePage, UsageRecord, sort_usage_groups,
};
use foreman_domain::{LlmCall, LlmCallId, LlmCallStatus, StoreError, StoreResult, time_to_micros};

use super::{MemoryStore, ReportedMeta, State, cap};

impl State {
    fn usage_record(&self, c: &LlmCall) -> UsageRecord {
        let meta = self.usage.meta.get(&c.id);
        let ticket_id = c.ticket_id.clone().or_else(|| c.deleted_ticket_id.clone());
        let project = meta.and_then(|m| m.project.clone()).or_else(|| {
            c.ticket_id
                .as_ref()
                .and_then(|t| self.tickets.get(t))
                .map(|t| t.project.clone())
        });
        UsageRecord {
            id: c.id.clone(),
            source: if meta.is_some() {
                UsageOrigin::External
            } else {
                UsageOrigin::Foreman
            },
            external_id: meta.and_then(|m| m.external_id.clone()),
            provider: c.provider.clone(),
            model: c.model.clone(),
            role: c.role.clone(),
            runner: c.runner.clone(),
            project,
            ticket_id,
            task_id: c.task_id.clone(),
            session_tag: meta.and_then(|m| m.session_tag.clone()),
            tokens_input: c.tokens_input,
            tokens_output: c.tokens_output,
            cache_read_tokens: c.cache_read_tokens,
            cache_write_tokens: c.cache_write_tokens,
            cost: c.cost,
            status: c.status.as_str().to_owned(),
            at: c.created_at,
        }
    }

    fn usage_matching(&self, filter: &UsageFilter) -> Vec<UsageRecord> {
        self.calls
            .iter()
            .map(|c| self.usage_record(c))
            .filter(|r| filter.matches(r))
            .collect()
    }
}

#[async_trait]
impl UsageIngest for MemoryStore {
    async fn ingest_usage(&self, rows: Vec<NewUsageRow>) -> StoreResult<IngestOutcome> {
        for (i, r) in rows.iter().enumerate() {
            r.validate().map_err(|e| match e {
                StoreError::Invalid(m) => StoreError::Invalid(format!("items[{i}].{m}")),
                other => other,
            })?;
        }
        let mut s = self.lock();
        for (i, r) in rows.iter().enumerate() {
            if let Some(t) = &r.ticket_id
                && !s.tickets.contains_key(t)
            {
                return Err(StoreError::Invalid(format!(
                    "items[{i}].ticket_id: ticket {t} not found"
                )));
            }
        }
        let mut outcome = IngestOutcome::default();
        for (i, r) in rows.into_iter().enumerate() {
            if let Some(k) = &r.external_id
                && !s.usage.keys.insert(k.clone())
            {
                outcome.duplicates.push(i);
                outcome.ids.push(None);
                continue;
            }
            let id = LlmCallId::new();
            let call = LlmCall {
                id: id.clone(),
                ticket_id: r.ticket_id.clone(),
                task_id: None,
                role: EXTERNAL.to_owned(),
                provider: r.provider,
                model: r.model,
                runner: EXTERNAL.to_owned(),
                attempt: 1,
                tokens_input: r.tokens_input,
                tokens_output: r.tokens_output,
                cache_read_tokens: r.cache_read_tokens,
                cache_write_tokens: r.cache_write_tokens,
                cost: r.cost,
                duration_ms: 0,
                status: LlmCallStatus::Success,
                error: None,
                prompt_version: None,
                request_id: None,
                created_at: r.at,
                deleted_ticket_id: None,
            };
            if let Some(t) = r.ticket_id.as_ref().and_then(|t| s.tickets.get_mut(t)) {
                t.cost += call.cost;
                t.tokens_input += call.tokens_input;
                t.tokens_output += call.tokens_output;
                t.total_llm_calls += 1;
            }
            outcome.cost += call.cost;
            s.calls.push(call);
            s.usage.meta.insert(
                id.clone(),
                ReportedMeta {
                    project: r.project,
                    session_tag: r.session_tag,
                    external_id: r.external_id,
                },
            );
            outcome.ids.push(Some(id));
        }
        Ok(outcome)
    }

    async fn list_usage(
        &self,
        filter: &UsageFilter,
        cursor: Option<&UsageCursor>,
        limit: u32,
    ) -> StoreResult<UsagePage> {
        let limit = cap(limit);
        let s = self.lock();
        let key = |r: &UsageRecord| (time_to_micros(r.at), r.id.as_str().to_owned());
        let mut items: Vec<UsageRecord> = s
            .usage_matching(filter)
            .into_iter()
            .filter(|r| cursor.is_none_or(|c| key(r) < (c.at_micros, c.id.as_str().to_owned())))
            .collect();
        items.sort_by_key(|r| std::cmp::Reverse(key(r)));
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(UsageCursor::after)
        } else {
            None
        };
        Ok(UsagePage { items, next_cursor })
    }

    async fn usage_summary(
        &self,
        filter: &UsageFilter,
        group_by: UsageGroupBy,
    ) -> StoreResult<Vec<UsageGroup>> {
        let s = self.lock();
        let mut groups: HashMap<String, UsageGroup> = HashMap::new();
        for r in s.usage_matching(filter) {
            let key = UsageGroup::key_of(group_by, &r);
            groups
                .entry(key.clone())
                .or_insert_with(|| UsageGroup {
                    key,
                    ..UsageGroup::default()
                })
                .add(&r);
        }
        let mut groups: Vec<UsageGroup> = groups.into_values().collect();
        sort_usage_groups(group_by, &mut groups);
        Ok(groups)
    }
}
