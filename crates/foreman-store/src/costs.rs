//! `CostLedger` on SQL: call records with totals in one transaction, spend windows, usage
//! grouping and serialized budget reservations.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use foreman_domain::budget::{BudgetScope, DailySpend, Reservation, ReservationRequest};
use foreman_domain::budget_window::{Window, daily_range, day_of, day_window, month_window};
use foreman_domain::cost_report::{
    CostGroup, CostGroupBy, CostReport, MergedPrCost, WindowSpend, sort_groups,
};
use foreman_domain::{
    CostLedger, LlmCall, LlmCallId, MAX_PAGE_LIMIT, Micros, NewLlmCall, ReservationId, StoreError,
    StoreResult, TicketId, UsageKey, UsageRow,
};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use crate::convert::{all, llm_call_row, ts};
use crate::entity::{cost_reservations, llm_calls, tasks, tickets};
use crate::rows::{load_task, require_ticket};
use crate::{SqlStore, be, locks};

use llm_calls::Column as L;

const DAY_MICROS: i64 = 86_400_000_000;

fn sum_of(col: &str) -> SimpleExpr {
    Expr::cust(format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT)"))
}

async fn recorded(c: &impl ConnectionTrait, cond: Condition) -> StoreResult<Micros> {
    let v: Option<i64> = llm_calls::Entity::find()
        .select_only()
        .expr_as(sum_of("cost_micros"), "s")
        .filter(cond)
        .into_tuple()
        .one(c)
        .await
        .map_err(be)?;
    Ok(Micros(v.unwrap_or(0)))
}

async fn held(c: &impl ConnectionTrait, cond: Condition) -> StoreResult<Micros> {
    let v: Option<i64> = cost_reservations::Entity::find()
        .select_only()
        .expr_as(sum_of("amount_micros"), "s")
        .filter(cond)
        .into_tuple()
        .one(c)
        .await
        .map_err(be)?;
    Ok(Micros(v.unwrap_or(0)))
}

/// A window as `[start, end)` in stored microseconds.
fn micros(w: Window) -> (i64, i64) {
    (ts(w.start), ts(w.end))
}

/// Records a call and adds it to the task's and ticket's totals, inside `txn`.
async fn record_in(txn: &DatabaseTransaction, new: NewLlmCall) -> StoreResult<LlmCall> {
    new.validate()?;
    let task_ticket = match &new.task_id {
        Some(task_id) => Some(
            load_task(txn, task_id.as_str())
                .await?
                .ok_or_else(|| StoreError::not_found("task", task_id.as_str()))?
                .ticket_id,
        ),
        None => None,
    };
    let ticket_id = new.charged_ticket(task_ticket.as_ref())?;
    if let Some(t) = &ticket_id {
        require_ticket(txn, t.as_str()).await?;
    }
    let call = LlmCall::record(LlmCallId::new(), new, ticket_id, foreman_domain::now());
    llm_calls::Entity::insert(llm_call_row(&call))
        .exec_without_returning(txn)
        .await
        .map_err(be)?;
    if let Some(task_id) = &call.task_id {
        use tasks::Column as T;
        tasks::Entity::update_many()
            .col_expr(T::CostMicros, Expr::col(T::CostMicros).add(call.cost.0))
            .col_expr(
                T::TokensInput,
                Expr::col(T::TokensInput).add(call.tokens_input),
            )
            .col_expr(
                T::TokensOutput,
                Expr::col(T::TokensOutput).add(call.tokens_output),
            )
            .col_expr(T::TotalLlmCalls, Expr::col(T::TotalLlmCalls).add(1))
            .filter(T::Id.eq(task_id.as_str()))
            .exec(txn)
            .await
            .map_err(be)?;
    }
    if let Some(ticket_id) = &call.ticket_id {
        use tickets::Column as T;
        tickets::Entity::update_many()
            .col_expr(T::CostMicros, Expr::col(T::CostMicros).add(call.cost.0))
            .col_expr(
                T::TokensInput,
                Expr::col(T::TokensInput).add(call.tokens_input),
            )
            .col_expr(
                T::TokensOutput,
                Expr::col(T::TokensOutput).add(call.tokens_output),
            )
            .col_expr(T::TotalLlmCalls, Expr::col(T::TotalLlmCalls).add(1))
            .filter(T::Id.eq(ticket_id.as_str()))
            .exec(txn)
            .await
            .map_err(be)?;
    }
    Ok(call)
}

fn usage_column(k: UsageKey) -> &'static str {
    match k {
        UsageKey::Runner => "runner",
        UsageKey::Provider => "provider",
        UsageKey::Model => "model",
        UsageKey::Role => "role",
        UsageKey::Status => "status",
    }
}

fn usage_col(k: UsageKey) -> L {
    match k {
        UsageKey::Runner => L::Runner,
        UsageKey::Provider => L::Provider,
        UsageKey::Model => L::Model,
        UsageKey::Role => L::Role,
        UsageKey::Status => L::Status,
    }
}

#[async_trait]
impl CostLedger for SqlStore {
    async fn record_llm_call(&self, call: NewLlmCall) -> StoreResult<LlmCall> {
        let txn = self.write().await?;
        let call = record_in(&txn, call).await?;
        self.commit(txn).await?;
        Ok(call)
    }

    async fn list_llm_calls(&self, ticket_id: &TicketId) -> StoreResult<Vec<LlmCall>> {
        let rows = llm_calls::Entity::find()
            .filter(L::TicketId.eq(ticket_id.as_str()))
            .order_by_asc(L::CreatedAt)
            .order_by_asc(L::Id)
            .all(self.reader())
            .await
            .map_err(be)?;
        all(rows)
    }

    async fn recent_llm_calls(&self, limit: u32) -> StoreResult<Vec<LlmCall>> {
        let limit = match limit {
            0 => 50,
            n => Ord::min(n, MAX_PAGE_LIMIT),
        };
        let rows = llm_calls::Entity::find()
            .order_by_desc(L::CreatedAt)
            .order_by_desc(L::Id)
            .limit(u64::from(limit))
            .all(self.reader())
            .await
            .map_err(be)?;
        all(rows)
    }

    async fn spend_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Micros> {
        recorded(
            self.reader(),
            Condition::all()
                .add(L::CreatedAt.gte(ts(from)))
                .add(L::CreatedAt.lt(ts(to))),
        )
        .await
    }

    async fn daily_spend(&self, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<DailySpend>> {
        let days = daily_range(from, to)?;
        let start = ts(day_of(from).start);
        let end = ts(day_of(to).end);
        let rows: Vec<(i64, i64)> = llm_calls::Entity::find()
            .select_only()
            .expr_as(Expr::cust(format!("created_at / {DAY_MICROS}")), "d")
            .expr_as(sum_of("cost_micros"), "s")
            .filter(L::CreatedAt.gte(start))
            .filter(L::CreatedAt.lt(end))
            .group_by(Expr::cust(format!("created_at / {DAY_MICROS}")))
            .into_tuple()
            .all(self.reader())
            .await
            .map_err(be)?;
        let by_day: HashMap<i64, i64> = rows.into_iter().collect();
        Ok(days
            .into_iter()
            .map(|date| {
                let day = ts(day_of(date).start) / DAY_MICROS;
                DailySpend {
                    date,
                    cost: Micros(by_day.get(&day).copied().unwrap_or(0)),
                }
            })
            .collect())
    }

    async fn usage_since(
        &self,
        since: DateTime<Utc>,
        keys: &[UsageKey],
    ) -> StoreResult<Vec<UsageRow>> {
        let mut q = llm_calls::Entity::find()
            .select_only()
            .filter(L::CreatedAt.gte(ts(since)));
        for (i, &k) in keys.iter().enumerate() {
            q = q
                .expr_as(Expr::col(usage_col(k)), format!("k{i}"))
                .group_by(usage_col(k));
        }
        let q = q
            .expr_as(Expr::cust("COUNT(*)"), "calls")
            .expr_as(sum_of("tokens_input"), "tin")
            .expr_as(sum_of("tokens_output"), "tout")
            .expr_as(sum_of("cost_micros"), "cost");
        let stmt = self.reader().get_database_backend().build(&q.into_query());
        let rows = self.reader().query_all_raw(stmt).await.map_err(be)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let get_i64 = |name: &str| row.try_get::<i64>("", name).map_err(be);
            let calls = get_i64("calls")?;
            if calls == 0 {
                continue;
            }
            let keys = (0..keys.len())
                .map(|i| {
                    row.try_get::<String>("", &format!("k{i}")).map_err(|e| {
                        StoreError::corrupt(format!("llm_calls.{}", usage_column(keys[i])), e)
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            out.push(UsageRow {
                keys,
                calls,
                tokens_in: get_i64("tin")?,
                tokens_out: get_i64("tout")?,
                cost: Micros(get_i64("cost")?),
            });
        }
        out.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.keys.cmp(&b.keys)));
        Ok(out)
    }

    async fn reserve(&self, req: &ReservationRequest) -> StoreResult<Reservation> {
        if req.amount.0 < 0 {
            return Err(StoreError::Invalid(
                "reservation amount must not be negative".into(),
            ));
        }
        use cost_reservations::Column as R;
        let txn = self.write().await?;
        self.serialize(&txn, locks::RESERVATIONS).await?;
        if let Some(t) = &req.ticket_id {
            require_ticket(&txn, t.as_str()).await?;
        }
        if let Some(t) = &req.task_id
            && load_task(&txn, t.as_str()).await?.is_none()
        {
            return Err(StoreError::not_found("task", t.as_str()));
        }
        let mut committed = Vec::with_capacity(4);
        if let Some(task) = &req.task_id {
            let spent = recorded(&txn, Condition::all().add(L::TaskId.eq(task.as_str()))).await?
                + held(&txn, Condition::all().add(R::TaskId.eq(task.as_str()))).await?;
            committed.push((BudgetScope::Task, spent));
        }
        if let Some(ticket) = &req.ticket_id {
            let spent = recorded(&txn, Condition::all().add(L::TicketId.eq(ticket.as_str())))
                .await?
                + held(&txn, Condition::all().add(R::TicketId.eq(ticket.as_str()))).await?;
            committed.push((BudgetScope::Ticket, spent));
        }
        for (scope, (start, end)) in [
            (BudgetScope::Daily, micros(day_window(req.at))),
            (BudgetScope::Monthly, micros(month_window(req.at))),
        ] {
            let spent = recorded(
                &txn,
                Condition::all()
                    .add(L::CreatedAt.gte(start))
                    .add(L::CreatedAt.lt(end)),
            )
            .await?
                + held(
                    &txn,
                    Condition::all()
                        .add(R::CreatedAt.gte(start))
                        .add(R::CreatedAt.lt(end)),
                )
                .await?;
            committed.push((scope, spent));
        }
        // the ticket's own limit (`max_budget_usd` at submission) tightens the configured one
        let mut limits = req.limits;
        if let Some(t) = &req.ticket_id {
            limits.ticket = foreman_domain::TicketOptions::ticket_limit(
                Self::own_ticket_limit(&txn, t.as_str()).await?,
                limits.ticket,
            );
        }
        if let Err(refused) = limits.admit(&committed, req.amount) {
            tracing::info!(scope = %refused.scope, limit = refused.limit.0, spent = refused.spent.0, requested = refused.requested.0, "budget reservation refused");
            return Err(refused.into());
        }
        let id = ReservationId::new();
        cost_reservations::Entity::insert(cost_reservations::ActiveModel {
            id: Set(id.to_string()),
            ticket_id: Set(req.ticket_id.as_ref().map(ToString::to_string)),
            task_id: Set(req.task_id.as_ref().map(ToString::to_string)),
            amount_micros: Set(req.amount.0),
            created_at: Set(ts(req.at)),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(be)?;
        self.commit(txn).await?;
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
        let txn = self.write().await?;
        let removed = cost_reservations::Entity::delete_by_id(id.to_string())
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        if removed == 0 {
            return Err(StoreError::not_found("reservation", id.as_str()));
        }
        let call = record_in(&txn, call).await?;
        self.commit(txn).await?;
        Ok(call)
    }

    async fn release(&self, id: &ReservationId) -> StoreResult<()> {
        let txn = self.write().await?;
        cost_reservations::Entity::delete_by_id(id.to_string())
            .exec(&txn)
            .await
            .map_err(be)?;
        self.commit(txn).await?;
        Ok(())
    }
}

/// The grouping expression of a cost report (projects are looked up from ticket ids after).
fn group_expr(g: CostGroupBy) -> String {
    match g {
        CostGroupBy::Day => format!("created_at / {DAY_MICROS}"),
        CostGroupBy::Model => "model".to_owned(),
        CostGroupBy::Role => "role".to_owned(),
        CostGroupBy::Runner => "runner".to_owned(),
        // `p:<project>` for a reported row that names its project (it wins), else
        // `t:<ticket id>`, looked up after
        CostGroupBy::Project => {
            "CASE WHEN project IS NOT NULL THEN 'p:' || project ELSE 't:' || COALESCE(ticket_id, '') END"
                .to_owned()
        }
        CostGroupBy::Ticket => "COALESCE(ticket_id, deleted_ticket_id, '')".to_owned(),
    }
}

impl SqlStore {
    /// The project of each ticket in `ids` that still exists.
    async fn projects_of(&self, ids: &[String]) -> StoreResult<HashMap<String, String>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let rows: Vec<(String, String)> = tickets::Entity::find()
                .select_only()
                .column(tickets::Column::Id)
                .column(tickets::Column::Project)
                .filter(tickets::Column::Id.is_in(chunk.iter().map(String::as_str)))
                .into_tuple()
                .all(self.reader())
                .await
                .map_err(be)?;
            out.extend(rows);
        }
        Ok(out)
    }
}

#[async_trait]
impl CostReport for SqlStore {
    async fn cost_groups(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group_by: CostGroupBy,
    ) -> StoreResult<Vec<CostGroup>> {
        let key = group_expr(group_by);
        let q = llm_calls::Entity::find()
            .select_only()
            .expr_as(Expr::cust(key.clone()), "k")
            .expr_as(Expr::cust("COUNT(*)"), "calls")
            .expr_as(sum_of("tokens_input"), "tin")
            .expr_as(sum_of("tokens_output"), "tout")
            .expr_as(sum_of("cache_read_tokens"), "cr")
            .expr_as(sum_of("cache_write_tokens"), "cw")
            .expr_as(sum_of("cost_micros"), "cost")
            .filter(L::CreatedAt.gte(ts(from)))
            .filter(L::CreatedAt.lt(ts(to)))
            .group_by(Expr::cust(key));
        let stmt = self.reader().get_database_backend().build(&q.into_query());
        let rows = self.reader().query_all_raw(stmt).await.map_err(be)?;
        let mut groups = Vec::with_capacity(rows.len());
        for row in rows {
            let get_i64 = |name: &str| row.try_get::<i64>("", name).map_err(be);
            let key = if group_by == CostGroupBy::Day {
                let day = get_i64("k")?;
                foreman_domain::micros_to_time(day.saturating_mul(DAY_MICROS))
                    .date_naive()
                    .to_string()
            } else {
                row.try_get::<String>("", "k")
                    .map_err(|e| StoreError::corrupt("llm_calls group key", e))?
            };
            groups.push(CostGroup {
                key,
                calls: get_i64("calls")?,
                tokens_input: get_i64("tin")?,
                tokens_output: get_i64("tout")?,
                cache_read_tokens: get_i64("cr")?,
                cache_write_tokens: get_i64("cw")?,
                cost: Micros(get_i64("cost")?),
            });
        }
        if group_by == CostGroupBy::Project {
            let ids: Vec<String> = groups
                .iter()
                .filter_map(|g| g.key.strip_prefix("t:"))
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect();
            let projects = self.projects_of(&ids).await?;
            let mut by_project: HashMap<String, CostGroup> = HashMap::new();
            for g in groups {
                let project = match g.key.strip_prefix("p:") {
                    Some(named) => named.to_owned(),
                    None => g
                        .key
                        .strip_prefix("t:")
                        .and_then(|id| projects.get(id))
                        .cloned()
                        .unwrap_or_default(),
                };
                let e = by_project
                    .entry(project.clone())
                    .or_insert_with(|| CostGroup {
                        key: project,
                        ..CostGroup::default()
                    });
                e.calls += g.calls;
                e.tokens_input += g.tokens_input;
                e.tokens_output += g.tokens_output;
                e.cache_read_tokens += g.cache_read_tokens;
                e.cache_write_tokens += g.cache_write_tokens;
                e.cost += g.cost;
            }
            groups = by_project.into_values().collect();
        }
        sort_groups(group_by, &mut groups);
        Ok(groups)
    }

    async fn window_spend(&self, window: Window) -> StoreResult<WindowSpend> {
        use cost_reservations::Column as R;
        let (start, end) = micros(window);
        Ok(WindowSpend {
            used: recorded(
                self.reader(),
                Condition::all()
                    .add(L::CreatedAt.gte(start))
                    .add(L::CreatedAt.lt(end)),
            )
            .await?,
            reserved: held(
                self.reader(),
                Condition::all()
                    .add(R::CreatedAt.gte(start))
                    .add(R::CreatedAt.lt(end)),
            )
            .await?,
        })
    }

    async fn merged_pr_cost(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<MergedPrCost> {
        use tickets::Column as T;
        let (count, cost): (i64, i64) = tickets::Entity::find()
            .select_only()
            .expr_as(Expr::cust("COUNT(*)"), "n")
            .expr_as(sum_of("cost_micros"), "s")
            .filter(T::Status.eq(foreman_domain::TicketStatus::Merged.as_str()))
            .filter(T::CompletedAt.gte(ts(from)))
            .filter(T::CompletedAt.lt(ts(to)))
            .into_tuple()
            .one(self.reader())
            .await
            .map_err(be)?
            .unwrap_or((0, 0));
        Ok(MergedPrCost {
            merged_prs: count,
            merged_cost: Micros(cost),
            total_cost: self.spend_between(from, to).await?,
        })
    }
}
