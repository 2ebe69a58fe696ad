//! `EventLog` on SQL. `seq` comes from a counter row bumped inside the append transaction:
//! the row lock (PostgreSQL) or the single writer (SQLite) serializes appenders until commit,
//! so `seq` increases in commit order and a reader tailing with `after_seq` never skips one.

use async_trait::async_trait;
use foreman_domain::{
    Event, EventFilter, EventId, EventLog, MAX_PAGE_LIMIT, NewEvent, StoreError, StoreResult,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::convert::{all, event_row};
use crate::entity::{counters, events};
use crate::{SqlStore, be};

use events::Column as C;

/// Rows per INSERT statement (9 parameters each keeps well inside both backends' limits).
const INSERT_CHUNK: usize = 500;
const EVENTS_COUNTER: &str = "events";

#[async_trait]
impl EventLog for SqlStore {
    async fn append(&self, event: NewEvent) -> StoreResult<Event> {
        self.append_batch(vec![event])
            .await?
            .pop()
            .ok_or_else(|| StoreError::Invalid("no event appended".into()))
    }

    async fn append_batch(&self, batch: Vec<NewEvent>) -> StoreResult<Vec<Event>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let n = i64::try_from(batch.len())
            .map_err(|_| StoreError::Invalid("event batch too large".into()))?;
        let now = foreman_domain::now();
        let txn = self.write().await?;
        // Taking the counter's row lock first is what orders concurrent appenders.
        counters::Entity::update_many()
            .col_expr(
                counters::Column::Value,
                Expr::col(counters::Column::Value).add(n),
            )
            .filter(counters::Column::Name.eq(EVENTS_COUNTER))
            .exec(&txn)
            .await
            .map_err(be)?;
        let last: i64 = counters::Entity::find_by_id(EVENTS_COUNTER.to_owned())
            .select_only()
            .column(counters::Column::Value)
            .into_tuple()
            .one(&txn)
            .await
            .map_err(be)?
            .ok_or_else(|| StoreError::corrupt("counters", "the events counter row is missing"))?;
        let first = last - n + 1;
        let out: Vec<Event> = batch
            .into_iter()
            .zip(first..)
            .map(|(e, seq)| Event {
                id: EventId::new(),
                seq,
                ticket_id: e.ticket_id,
                task_id: e.task_id,
                event_type: e.event_type,
                severity: e.severity,
                message: e.message,
                details: e.details,
                created_at: now,
            })
            .collect();
        for chunk in out.chunks(INSERT_CHUNK) {
            let rows = chunk
                .iter()
                .map(event_row)
                .collect::<StoreResult<Vec<_>>>()?;
            events::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await
                .map_err(be)?;
        }
        self.commit_events(txn).await?;
        Ok(out)
    }

    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<Event>> {
        let limit = match filter.limit {
            0 => 50,
            n => Ord::min(n, MAX_PAGE_LIMIT),
        };
        let mut q = events::Entity::find();
        if let Some(t) = &filter.ticket_id {
            q = q.filter(C::TicketId.eq(t.as_str()));
        }
        if let Some(after) = filter.after_seq {
            q = q.filter(C::Seq.gt(after));
        }
        match filter.types.as_slice() {
            [] => {}
            [one] => q = q.filter(C::EventType.eq(one.as_str())),
            many => q = q.filter(C::EventType.is_in(many.iter().map(|t| t.as_str()))),
        }
        q = if filter.newest_first {
            q.order_by_desc(C::Seq)
        } else {
            q.order_by_asc(C::Seq)
        };
        if filter.offset > 0 {
            q = q.offset(crate::sql_offset(filter.offset));
        }
        let rows = q
            .limit(u64::from(limit))
            .all(self.reader())
            .await
            .map_err(be)?;
        all(rows)
    }

    async fn latest_seq(&self) -> StoreResult<i64> {
        let max: Option<i64> = events::Entity::find()
            .select_only()
            .column(C::Seq)
            .order_by_desc(C::Seq)
            .limit(1)
            .into_tuple()
            .one(self.reader())
            .await
            .map_err(be)?;
        Ok(max.unwrap_or(0))
    }
}
