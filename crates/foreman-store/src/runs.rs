//! `RunStore` and `LogStore` on SQL.
//!
//! A run's totals are what the store recorded inside its window (tickets finished, LLM calls
//! and their cost), read with two aggregate queries; they are written onto the row when the
//! run closes, so only open runs are counted again on every read. Log line ids come from the
//! `log_lines` counter row, bumped inside the append transaction like the events' `seq`, so
//! they increase in commit order.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::runs::{
    LogFilter, LogLevel, LogLine, LogStore, MAX_RUN_PAGE, NewLogLine, NewRun, Run, RunId, RunStart,
    RunStatus, RunStore, RunTotals, log_page_size,
};
use foreman_domain::{
    Micros, Page, StoreError, StoreResult, TicketId, TicketStatus, micros_to_time,
};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::convert::{from_json, to_json, ts};
use crate::entity::{counters, llm_calls, tickets};
use crate::{SqlStore, be};

/// The tables of this file (entities stay in this crate, like those of `entity.rs`).
mod entity {
    pub mod runs {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "runs")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub node_id: String,
            pub version: String,
            pub status: String,
            pub started_at: i64,
            pub last_seen_at: i64,
            pub stopped_at: Option<i64>,
            pub tickets_done: i64,
            pub tickets_failed: i64,
            pub llm_calls: i64,
            pub cost_micros: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod log_lines {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "log_lines")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: i64,
            pub at: i64,
            pub level: i16,
            pub target: String,
            pub message: String,
            pub fields: Option<String>,
            pub ticket_id: Option<String>,
            pub run_id: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

use entity::{log_lines, runs};

const LOG_COUNTER: &str = "log_lines";
/// Rows per INSERT statement (8 parameters each).
const INSERT_CHUNK: usize = 500;

const DONE: [TicketStatus; 2] = [TicketStatus::Merged, TicketStatus::Done];
const FAILED: [TicketStatus; 2] = [TicketStatus::Failed, TicketStatus::Blocked];

fn sum_of(col: &str) -> SimpleExpr {
    Expr::cust(format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT)"))
}

/// Work recorded in `[from, to]`.
async fn totals(
    c: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StoreResult<RunTotals> {
    let (from, to) = (ts(from), ts(to));
    let finished: Vec<(String, i64)> = tickets::Entity::find()
        .select_only()
        .column(tickets::Column::Status)
        .column_as(Expr::col(tickets::Column::Id).count(), "n")
        .filter(tickets::Column::CompletedAt.gte(from))
        .filter(tickets::Column::CompletedAt.lte(to))
        .group_by(tickets::Column::Status)
        .into_tuple()
        .all(c)
        .await
        .map_err(be)?;
    let count = |of: &[TicketStatus]| {
        finished
            .iter()
            .filter(|(s, _)| of.iter().any(|o| o.as_str() == s))
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    let (calls, cost): (i64, i64) = llm_calls::Entity::find()
        .select_only()
        .column_as(Expr::col(llm_calls::Column::Id).count(), "n")
        .expr_as(sum_of("cost_micros"), "s")
        .filter(llm_calls::Column::CreatedAt.gte(from))
        .filter(llm_calls::Column::CreatedAt.lte(to))
        .into_tuple()
        .one(c)
        .await
        .map_err(be)?
        .unwrap_or((0, 0));
    Ok(RunTotals {
        tickets_done: count(&DONE),
        tickets_failed: count(&FAILED),
        llm_calls: calls,
        cost: Micros(cost),
    })
}

fn run_of(m: runs::Model) -> StoreResult<Run> {
    Ok(Run {
        status: m
            .status
            .parse::<RunStatus>()
            .map_err(|e| StoreError::corrupt("runs.status", e))?,
        id: RunId::from_string(m.id),
        node_id: m.node_id,
        version: m.version,
        started_at: micros_to_time(m.started_at),
        last_seen_at: micros_to_time(m.last_seen_at),
        stopped_at: m.stopped_at.map(micros_to_time),
        totals: RunTotals {
            tickets_done: m.tickets_done,
            tickets_failed: m.tickets_failed,
            llm_calls: m.llm_calls,
            cost: Micros(m.cost_micros),
        },
    })
}

/// A run as read: an open run's totals are counted up to now.
async fn with_totals(c: &impl ConnectionTrait, m: runs::Model) -> StoreResult<Run> {
    let mut run = run_of(m)?;
    if run.stopped_at.is_none() {
        run.totals = totals(c, run.started_at, foreman_domain::now()).await?;
    }
    Ok(run)
}

/// Closes `m` as `status` at `end` with its totals frozen, inside `txn`.
async fn close(
    c: &impl ConnectionTrait,
    m: runs::Model,
    status: RunStatus,
    end: DateTime<Utc>,
) -> StoreResult<Run> {
    let t = totals(c, micros_to_time(m.started_at), end).await?;
    let mut run = run_of(m)?;
    let end_us = ts(end);
    let result = runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(status.as_str()))
        .col_expr(runs::Column::StoppedAt, Expr::value(end_us))
        .col_expr(runs::Column::TicketsDone, Expr::value(t.tickets_done))
        .col_expr(runs::Column::TicketsFailed, Expr::value(t.tickets_failed))
        .col_expr(runs::Column::LlmCalls, Expr::value(t.llm_calls))
        .col_expr(runs::Column::CostMicros, Expr::value(t.cost.0))
        .filter(runs::Column::Id.eq(run.id.as_str()))
        .filter(runs::Column::StoppedAt.is_null())
        .exec(c)
        .await
        .map_err(be)?;
    if result.rows_affected == 0 {
        return Err(StoreError::Conflict {
            entity: "run",
            id: run.id.as_str().to_owned(),
            current: "closed".to_owned(),
            expected: RunStatus::Running.as_str().to_owned(),
        });
    }
    run.status = status;
    run.stopped_at = Some(micros_to_time(end_us));
    run.totals = t;
    Ok(run)
}

/// Whether `cursor` can be a run id (a UUID's 36 hex digits and hyphens).
fn run_cursor(cursor: &str) -> StoreResult<&str> {
    if cursor.len() == 36 && cursor.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        Ok(cursor)
    } else {
        Err(StoreError::Invalid(format!(
            "cursor {cursor:?} is not a run cursor"
        )))
    }
}

#[async_trait]
impl RunStore for SqlStore {
    async fn start_run(&self, new: NewRun) -> StoreResult<RunStart> {
        if new.node_id.trim().is_empty() {
            return Err(StoreError::Invalid("node_id must not be empty".into()));
        }
        let txn = self.write().await?;
        let open = runs::Entity::find()
            .filter(runs::Column::NodeId.eq(new.node_id.as_str()))
            .filter(runs::Column::StoppedAt.is_null())
            .order_by_asc(runs::Column::Id)
            .all(&txn)
            .await
            .map_err(be)?;
        let mut crashed = Vec::with_capacity(open.len());
        for m in open {
            let end = micros_to_time(m.last_seen_at);
            crashed.push(close(&txn, m, RunStatus::Crashed, end).await?);
        }
        let now = ts(foreman_domain::now());
        let model = runs::Model {
            id: RunId::new().as_str().to_owned(),
            node_id: new.node_id,
            version: new.version,
            status: RunStatus::Running.as_str().to_owned(),
            started_at: now,
            last_seen_at: now,
            stopped_at: None,
            tickets_done: 0,
            tickets_failed: 0,
            llm_calls: 0,
            cost_micros: 0,
        };
        runs::Entity::insert(runs::ActiveModel::from(model.clone()))
            .exec_without_returning(&txn)
            .await
            .map_err(be)?;
        self.commit_events(txn).await?;
        Ok(RunStart {
            run: run_of(model)?,
            crashed,
        })
    }

    async fn touch_run(&self, id: &RunId) -> StoreResult<()> {
        let txn = self.write().await?;
        let result = runs::Entity::update_many()
            .col_expr(
                runs::Column::LastSeenAt,
                Expr::value(ts(foreman_domain::now())),
            )
            .filter(runs::Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(be)?;
        self.commit_events(txn).await?;
        if result.rows_affected == 0 {
            return Err(StoreError::not_found("run", id.as_str()));
        }
        Ok(())
    }

    async fn finish_run(&self, id: &RunId, status: RunStatus) -> StoreResult<Run> {
        if status == RunStatus::Running {
            return Err(StoreError::Invalid("a run cannot finish as running".into()));
        }
        let txn = self.write().await?;
        let m = runs::Entity::find_by_id(id.as_str().to_owned())
            .one(&txn)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::not_found("run", id.as_str()))?;
        let now = foreman_domain::now();
        let run = close(&txn, m, status, now).await?;
        self.commit_events(txn).await?;
        Ok(run)
    }

    async fn get_run(&self, id: &RunId) -> StoreResult<Option<Run>> {
        let Some(m) = runs::Entity::find_by_id(id.as_str().to_owned())
            .one(self.reader())
            .await
            .map_err(be)?
        else {
            return Ok(None);
        };
        Ok(Some(with_totals(self.reader(), m).await?))
    }

    async fn list_runs(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<Run>> {
        let limit = match limit {
            0 => 20,
            n => Ord::min(n, MAX_RUN_PAGE),
        };
        let mut q = runs::Entity::find().order_by_desc(runs::Column::Id);
        if let Some(c) = cursor {
            q = q.filter(runs::Column::Id.lt(run_cursor(c)?));
        }
        let rows = q
            .limit(u64::from(limit) + 1)
            .all(self.reader())
            .await
            .map_err(be)?;
        let more = rows.len() > limit as usize;
        let mut items = Vec::with_capacity(rows.len().min(limit as usize));
        for m in rows.into_iter().take(limit as usize) {
            items.push(with_totals(self.reader(), m).await?);
        }
        let next_cursor = more
            .then(|| items.last().map(|r| r.id.as_str().to_owned()))
            .flatten();
        Ok(Page { items, next_cursor })
    }
}

fn log_of(m: log_lines::Model) -> StoreResult<LogLine> {
    Ok(LogLine {
        id: m.id,
        at: micros_to_time(m.at),
        level: LogLevel::from_rank(m.level)
            .ok_or_else(|| StoreError::corrupt("log_lines.level", m.level))?,
        target: m.target,
        message: m.message,
        fields: m
            .fields
            .as_deref()
            .map(|f| from_json("log_lines.fields", f))
            .transpose()?,
        ticket_id: m.ticket_id.map(TicketId::from),
        run_id: m.run_id.map(RunId::from_string),
    })
}

#[async_trait]
impl LogStore for SqlStore {
    async fn append_logs(&self, lines: Vec<NewLogLine>) -> StoreResult<Vec<LogLine>> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let n = i64::try_from(lines.len())
            .map_err(|_| StoreError::Invalid("log batch too large".into()))?;
        let txn = self.write().await?;
        counters::Entity::update_many()
            .col_expr(
                counters::Column::Value,
                Expr::col(counters::Column::Value).add(n),
            )
            .filter(counters::Column::Name.eq(LOG_COUNTER))
            .exec(&txn)
            .await
            .map_err(be)?;
        let last: i64 = counters::Entity::find_by_id(LOG_COUNTER.to_owned())
            .select_only()
            .column(counters::Column::Value)
            .into_tuple()
            .one(&txn)
            .await
            .map_err(be)?
            .ok_or_else(|| {
                StoreError::corrupt("counters", "the log_lines counter row is missing")
            })?;
        let out: Vec<LogLine> = lines
            .into_iter()
            .zip((last - n + 1)..)
            .map(|(l, id)| {
                let l = l.bounded();
                LogLine {
                    id,
                    at: l.at,
                    level: l.level,
                    target: l.target,
                    message: l.message,
                    fields: l.fields,
                    ticket_id: l.ticket_id,
                    run_id: l.run_id,
                }
            })
            .collect();
        for chunk in out.chunks(INSERT_CHUNK) {
            let rows = chunk
                .iter()
                .map(|l| {
                    Ok(log_lines::ActiveModel {
                        id: Set(l.id),
                        at: Set(ts(l.at)),
                        level: Set(l.level.rank()),
                        target: Set(l.target.clone()),
                        message: Set(l.message.clone()),
                        fields: Set(l.fields.as_ref().map(to_json).transpose()?),
                        ticket_id: Set(l.ticket_id.as_ref().map(|t| t.as_str().to_owned())),
                        run_id: Set(l.run_id.as_ref().map(|r| r.as_str().to_owned())),
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            log_lines::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await
                .map_err(be)?;
        }
        self.commit_events(txn).await?;
        Ok(out)
    }

    async fn list_logs(&self, filter: &LogFilter) -> StoreResult<Vec<LogLine>> {
        use log_lines::Column as C;
        let mut q = log_lines::Entity::find();
        if let Some(level) = filter.level {
            q = q.filter(C::Level.lte(level.rank()));
        }
        if let Some(t) = &filter.ticket_id {
            q = q.filter(C::TicketId.eq(t.as_str()));
        }
        if let Some(since) = filter.since {
            q = q.filter(C::At.gte(ts(since)));
        }
        if let Some(before) = filter.before_id {
            q = q.filter(C::Id.lt(before));
        }
        if let Some(after) = filter.after_id {
            q = q.filter(C::Id.gt(after));
        }
        q = if filter.newest_first {
            q.order_by_desc(C::Id)
        } else {
            q.order_by_asc(C::Id)
        };
        let rows = q
            .limit(u64::from(log_page_size(filter.limit)))
            .all(self.reader())
            .await
            .map_err(be)?;
        rows.into_iter().map(log_of).collect()
    }

    async fn prune_logs(&self, keep: u64, older_than: DateTime<Utc>) -> StoreResult<u64> {
        use log_lines::Column as C;
        let txn = self.write().await?;
        let mut gone = log_lines::Entity::delete_many()
            .filter(C::At.lt(ts(older_than)))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        // The newest line beyond `keep`: it and everything older go.
        let cut: Option<i64> = log_lines::Entity::find()
            .select_only()
            .column(C::Id)
            .order_by_desc(C::Id)
            .offset(crate::sql_offset(keep))
            .limit(1)
            .into_tuple()
            .one(&txn)
            .await
            .map_err(be)?;
        if let Some(cut) = cut {
            gone += log_lines::Entity::delete_many()
                .filter(C::Id.lte(cut))
                .exec(&txn)
                .await
                .map_err(be)?
                .rows_affected;
        }
        self.commit_events(txn).await?;
        Ok(gone)
    }
}
