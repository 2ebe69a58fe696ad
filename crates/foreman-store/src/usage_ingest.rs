//! `UsageIngest` on SQL: reported LLM usage recorded in `llm_calls` with `source = 'external'`
//! (migration `m20261207_000031_usage_ingest`), so every spend query of `costs.rs` counts it.
//!
//! An ingest is one transaction: the batch's idempotency keys already recorded are read under a
//! lock (the PostgreSQL advisory lock [`INGEST_LOCK`]; SQLite's single writer), the rest go in
//! with one multi-row `INSERT`, and each named ticket's totals grow by one `UPDATE`. The
//! listing and the summary read `llm_calls` (the one entity of `entity.rs`) joined to `tickets` for the project of Foreman's
//! own calls (a reported row's own project wins).

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use foreman_domain::usage_ingest::{
    EXTERNAL, IngestOutcome, NewUsageRow, UsageCursor, UsageFilter, UsageGroup, UsageGroupBy,
    UsageIngest, UsageOrigin, UsagePage, UsageRecord, sort_usage_groups,
};
use foreman_domain::{
    LlmCallId, LlmCallStatus, MAX_PAGE_LIMIT, Micros, StoreError, StoreResult, TaskId, TicketId,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryResult, QuerySelect, Statement, Value,
};

use crate::convert::ts;
use crate::entity::{llm_calls, tickets};
use crate::{Backend, SqlStore, be};

/// Serializes ingests on PostgreSQL, so two concurrent retries of one batch cannot both find
/// their keys unrecorded.
const INGEST_LOCK: i64 = 0x666f_7265_6d61_6e31;

const DAY_MICROS: i64 = 86_400_000_000;

fn row_model(id: &LlmCallId, r: &NewUsageRow) -> llm_calls::ActiveModel {
    llm_calls::ActiveModel {
        id: Set(id.to_string()),
        ticket_id: Set(r.ticket_id.as_ref().map(ToString::to_string)),
        task_id: Set(None),
        role: Set(EXTERNAL.to_owned()),
        provider: Set(r.provider.clone()),
        model: Set(r.model.clone()),
        runner: Set(EXTERNAL.to_owned()),
        attempt: Set(1),
        tokens_input: Set(r.tokens_input),
        tokens_output: Set(r.tokens_output),
        cache_read_tokens: Set(r.cache_read_tokens),
        cache_write_tokens: Set(r.cache_write_tokens),
        cost_micros: Set(r.cost.0),
        duration_ms: Set(0),
        status: Set(LlmCallStatus::Success.as_str().to_owned()),
        error: Set(None),
        prompt_version: Set(None),
        request_id: Set(None),
        created_at: Set(ts(r.at)),
        deleted_ticket_id: Set(None),
        source: Set(UsageOrigin::External.as_str().to_owned()),
        project: Set(r.project.clone()),
        session_tag: Set(r.session_tag.clone()),
        external_id: Set(r.external_id.clone()),
    }
}

/// SQL with `?` placeholders and their values; PostgreSQL gets `$1`, `$2`, ...
#[derive(Default)]
struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn bind(&mut self, s: &str, v: impl Into<Value>) {
        self.text.push_str(s);
        self.values.push(v.into());
    }

    fn statement(self, backend: DbBackend) -> Statement {
        let text = if backend == DbBackend::Postgres {
            let mut out = String::with_capacity(self.text.len() + 16);
            let mut n = 0;
            for c in self.text.chars() {
                if c == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            out
        } else {
            self.text
        };
        Statement::from_sql_and_values(backend, text, self.values)
    }
}

/// The project of a call: its own, else its ticket's.
const PROJECT: &str = "COALESCE(l.project, t.project)";
/// The ticket of a call: its own, else the deleted one's it was kept for.
const TICKET: &str = "COALESCE(l.ticket_id, l.deleted_ticket_id)";
const FROM: &str = " FROM llm_calls l LEFT JOIN tickets t ON t.id = l.ticket_id WHERE 1 = 1";

/// `AND ...` for every set field of `f`.
fn filter_sql(sql: &mut Sql, f: &UsageFilter) {
    let text = [
        ("l.provider", &f.provider),
        ("l.model", &f.model),
        (PROJECT, &f.project),
        ("l.session_tag", &f.session_tag),
    ];
    for (col, v) in text {
        if let Some(v) = v {
            sql.bind(&format!(" AND {col} = ?"), v.clone());
        }
    }
    if let Some(t) = &f.ticket_id {
        sql.bind(&format!(" AND {TICKET} = ?"), t.to_string());
    }
    if let Some(s) = f.source {
        sql.bind(" AND l.source = ?", s.as_str());
    }
    if let Some(from) = f.from {
        sql.bind(" AND l.created_at >= ?", ts(from));
    }
    if let Some(to) = f.to {
        sql.bind(" AND l.created_at < ?", ts(to));
    }
}

fn record(row: &QueryResult) -> StoreResult<UsageRecord> {
    let s = |n: &str| row.try_get::<String>("", n).map_err(be);
    let o = |n: &str| row.try_get::<Option<String>>("", n).map_err(be);
    let i = |n: &str| row.try_get::<i64>("", n).map_err(be);
    let source = s("source")?;
    Ok(UsageRecord {
        id: LlmCallId::from(s("id")?),
        source: source
            .parse()
            .map_err(|e| StoreError::corrupt("llm_calls.source", e))?,
        external_id: o("external_id")?,
        provider: s("provider")?,
        model: s("model")?,
        role: s("role")?,
        runner: s("runner")?,
        project: o("eff_project")?,
        ticket_id: o("eff_ticket")?.map(TicketId::from),
        task_id: o("task_id")?.map(TaskId::from),
        session_tag: o("session_tag")?,
        tokens_input: i("tokens_input")?,
        tokens_output: i("tokens_output")?,
        cache_read_tokens: i("cache_read_tokens")?,
        cache_write_tokens: i("cache_write_tokens")?,
        cost: Micros(i("cost_micros")?),
        status: s("status")?,
        at: foreman_domain::micros_to_time(i("created_at")?),
    })
}

impl SqlStore {
    fn sql_backend(&self) -> DbBackend {
        match self.backend() {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
        }
    }
}

#[async_trait]
impl UsageIngest for SqlStore {
    async fn ingest_usage(&self, rows: Vec<NewUsageRow>) -> StoreResult<IngestOutcome> {
        for (i, r) in rows.iter().enumerate() {
            r.validate()
                .map_err(|e| StoreError::Invalid(format!("items[{i}].{}", invalid_text(e))))?;
        }
        if rows.is_empty() {
            return Ok(IngestOutcome::default());
        }
        let txn = self.write().await?;
        self.serialize(&txn, INGEST_LOCK).await?;

        let keys: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.external_id.as_deref())
            .collect();
        let mut recorded: HashSet<String> = HashSet::new();
        for chunk in keys.chunks(500) {
            let found: Vec<Option<String>> = llm_calls::Entity::find()
                .select_only()
                .column(llm_calls::Column::ExternalId)
                .filter(llm_calls::Column::ExternalId.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(&txn)
                .await
                .map_err(be)?;
            recorded.extend(found.into_iter().flatten());
        }

        let named: Vec<String> = rows
            .iter()
            .filter_map(|r| r.ticket_id.as_ref().map(ToString::to_string))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut existing: HashSet<String> = HashSet::new();
        for chunk in named.chunks(500) {
            let found: Vec<String> = tickets::Entity::find()
                .select_only()
                .column(tickets::Column::Id)
                .filter(tickets::Column::Id.is_in(chunk.iter().map(String::as_str)))
                .into_tuple()
                .all(&txn)
                .await
                .map_err(be)?;
            existing.extend(found);
        }
        if let Some((i, t)) = rows.iter().enumerate().find_map(|(i, r)| {
            r.ticket_id
                .as_ref()
                .filter(|t| !existing.contains(t.as_str()))
                .map(|t| (i, t))
        }) {
            return Err(StoreError::Invalid(format!(
                "items[{i}].ticket_id: ticket {t} not found"
            )));
        }

        let mut outcome = IngestOutcome::default();
        let mut models = Vec::with_capacity(rows.len());
        let mut per_ticket: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            if r.external_id.as_ref().is_some_and(|k| recorded.contains(k)) {
                outcome.duplicates.push(i);
                outcome.ids.push(None);
                continue;
            }
            let id = LlmCallId::new();
            models.push(row_model(&id, r));
            outcome.ids.push(Some(id));
            outcome.cost += r.cost;
            if let Some(t) = &r.ticket_id {
                let e = per_ticket.entry(t.to_string()).or_default();
                e.0 += r.cost.0;
                e.1 += r.tokens_input;
                e.2 += r.tokens_output;
                e.3 += 1;
            }
        }
        if !models.is_empty() {
            llm_calls::Entity::insert_many(models)
                .exec_without_returning(&txn)
                .await
                .map_err(be)?;
        }
        for (ticket, (cost, tin, tout, calls)) in per_ticket {
            use tickets::Column as T;
            tickets::Entity::update_many()
                .col_expr(T::CostMicros, Expr::col(T::CostMicros).add(cost))
                .col_expr(T::TokensInput, Expr::col(T::TokensInput).add(tin))
                .col_expr(T::TokensOutput, Expr::col(T::TokensOutput).add(tout))
                .col_expr(T::TotalLlmCalls, Expr::col(T::TotalLlmCalls).add(calls))
                .filter(T::Id.eq(ticket))
                .exec(&txn)
                .await
                .map_err(be)?;
        }
        self.commit(txn).await?;
        Ok(outcome)
    }

    async fn list_usage(
        &self,
        filter: &UsageFilter,
        cursor: Option<&UsageCursor>,
        limit: u32,
    ) -> StoreResult<UsagePage> {
        let limit = match limit {
            0 => 50,
            n => Ord::min(n, MAX_PAGE_LIMIT),
        };
        let mut sql = Sql::default();
        sql.push(&format!(
            "SELECT l.id, l.source, l.external_id, l.provider, l.model, l.role, l.runner, \
             {PROJECT} AS eff_project, {TICKET} AS eff_ticket, l.task_id, l.session_tag, \
             l.tokens_input, l.tokens_output, l.cache_read_tokens, l.cache_write_tokens, \
             l.cost_micros, l.status, l.created_at{FROM}"
        ));
        filter_sql(&mut sql, filter);
        if let Some(c) = cursor {
            sql.bind(" AND (l.created_at < ?", c.at_micros);
            sql.bind(" OR (l.created_at = ?", c.at_micros);
            sql.bind(" AND l.id < ?))", c.id.to_string());
        }
        sql.bind(
            " ORDER BY l.created_at DESC, l.id DESC LIMIT ?",
            i64::from(limit) + 1,
        );
        let rows = self
            .reader()
            .query_all_raw(sql.statement(self.sql_backend()))
            .await
            .map_err(be)?;
        let mut items = rows.iter().map(record).collect::<StoreResult<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
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
        let key = match group_by {
            UsageGroupBy::Model => "l.model".to_owned(),
            UsageGroupBy::Project => format!("COALESCE({PROJECT}, '')"),
            UsageGroupBy::Ticket => format!("COALESCE({TICKET}, '')"),
            UsageGroupBy::SessionTag => "COALESCE(l.session_tag, '')".to_owned(),
            UsageGroupBy::Day => format!("l.created_at / {DAY_MICROS}"),
        };
        let sum = |c: &str| format!("CAST(COALESCE(SUM(l.{c}), 0) AS BIGINT)");
        let mut sql = Sql::default();
        sql.push(&format!(
            "SELECT {key} AS k, COUNT(*) AS calls, {} AS tin, {} AS tout, {} AS cr, {} AS cw, \
             {} AS cost{FROM}",
            sum("tokens_input"),
            sum("tokens_output"),
            sum("cache_read_tokens"),
            sum("cache_write_tokens"),
            sum("cost_micros"),
        ));
        filter_sql(&mut sql, filter);
        sql.push(&format!(" GROUP BY {key}"));
        let rows = self
            .reader()
            .query_all_raw(sql.statement(self.sql_backend()))
            .await
            .map_err(be)?;
        let mut groups: HashMap<String, UsageGroup> = HashMap::with_capacity(rows.len());
        for row in rows {
            let i = |n: &str| row.try_get::<i64>("", n).map_err(be);
            let key = if group_by == UsageGroupBy::Day {
                foreman_domain::micros_to_time(i("k")?.saturating_mul(DAY_MICROS))
                    .date_naive()
                    .to_string()
            } else {
                row.try_get::<String>("", "k")
                    .map_err(|e| StoreError::corrupt("llm_calls usage key", e))?
            };
            let g = groups.entry(key.clone()).or_insert_with(|| UsageGroup {
                key,
                ..UsageGroup::default()
            });
            g.calls += i("calls")?;
            g.tokens_input += i("tin")?;
            g.tokens_output += i("tout")?;
            g.cache_read_tokens += i("cr")?;
            g.cache_write_tokens += i("cw")?;
            g.cost += Micros(i("cost")?);
        }
        let mut groups: Vec<UsageGroup> = groups.into_values().collect();
        sort_usage_groups(group_by, &mut groups);
        Ok(groups)
    }
}

/// The text of an `Invalid` error (others as they print).
fn invalid_text(e: StoreError) -> String {
    match e {
        StoreError::Invalid(m) => m,
        other => other.to_string(),
    }
}
