//! `TicketSearch` on SQL: ranked full-text search (FTS5 on SQLite, `tsvector` on PostgreSQL)
//! and the history of finished tickets.
//!
//! The search documents (`ticket_search`) are kept current by the triggers of migration
//! `m20261207_000011_search`, inside the transaction of each write; this module only reads. A
//! search runs two statements: the ranked page of ids and scores, then the snippets of that
//! page (no snippet is made for a match that is not on it); then it reads the page's tickets.
//!
//! Ranking is bounded: only the newest [`sql::CANDIDATES`] matches (by the order their search
//! documents were created, `ticket_search.doc_id`) are ranked, best first among themselves, so
//! the cost of a query does not grow with the number of tickets that match it. Pages go on by
//! keyset over `(score, id)` within that candidate set; while no ticket is created or changed,
//! the pages of a query hold each of its candidates once, in order.

use std::collections::HashMap;

use async_trait::async_trait;
use foreman_domain::search::{HistoryCursor, SearchCursor, history_limit, parse_marked};
use foreman_domain::{Page, SearchHit, SearchQuery, StoreResult, Ticket, TicketId, TicketSearch};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement, Value};

use crate::convert::all;
use crate::entity::tickets;
use crate::{Backend, SqlStore, be};

mod sql;
#[cfg(test)]
mod tests;

/// One match of the ranked page.
struct Ranked {
    id: String,
    doc_id: i64,
    score: f64,
}

impl SqlStore {
    fn db_backend(&self) -> sea_orm::DbBackend {
        match self.backend() {
            Backend::Sqlite => sea_orm::DbBackend::Sqlite,
            Backend::Postgres => sea_orm::DbBackend::Postgres,
        }
    }

    /// The page of matches after `after`, best first, one more than `limit` when there are.
    async fn ranked(
        &self,
        terms: &[String],
        after: Option<&SearchCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Ranked>> {
        let backend = self.backend();
        let sql = sql::ranked(backend, terms, after.is_some(), u64::from(limit) + 1);
        let mut values: Vec<Value> = Vec::new();
        if backend == Backend::Sqlite {
            values.push(sql::fts5_query(terms).into());
        }
        if let Some(c) = after {
            values.push(c.score.into());
            values.push(c.id.as_str().into());
        }
        let stmt = Statement::from_sql_and_values(self.db_backend(), sql, values);
        let rows = self.reader().query_all_raw(stmt).await.map_err(be)?;
        rows.into_iter()
            .map(|row| {
                Ok(Ranked {
                    id: row.try_get::<String>("", "id").map_err(be)?,
                    doc_id: row.try_get::<i64>("", "doc_id").map_err(be)?,
                    score: row.try_get::<f64>("", "score").map_err(be)?,
                })
            })
            .collect()
    }

    /// The marked snippet of each match of `page`, by `doc_id`, for the query of `terms`.
    async fn snippets(
        &self,
        terms: &[String],
        page: &[Ranked],
    ) -> StoreResult<HashMap<i64, String>> {
        let backend = self.backend();
        let sql = sql::snippets(backend, terms, page.len());
        let mut values: Vec<Value> = Vec::with_capacity(page.len() + 3);
        match backend {
            Backend::Sqlite => {
                let lowest = page.iter().map(|r| r.doc_id).min().unwrap_or(0);
                let highest = page.iter().map(|r| r.doc_id).max().unwrap_or(0);
                values.push(sql::fts5_query(terms).into());
                values.push(lowest.into());
                values.push(highest.into());
                values.extend(page.iter().map(|r| Value::from(r.doc_id)));
            }
            Backend::Postgres => values.extend(page.iter().map(|r| Value::from(r.id.as_str()))),
        }
        let stmt = Statement::from_sql_and_values(self.db_backend(), sql, values);
        let rows = self.reader().query_all_raw(stmt).await.map_err(be)?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in rows {
            let doc_id = row.try_get::<i64>("", "doc_id").map_err(be)?;
            let snippet = row
                .try_get::<Option<String>>("", "snippet")
                .map_err(be)?
                .unwrap_or_default();
            out.insert(doc_id, snippet);
        }
        Ok(out)
    }
}

#[async_trait]
impl TicketSearch for SqlStore {
    async fn search_tickets(&self, query: &SearchQuery) -> StoreResult<Page<SearchHit>> {
        let terms = query.terms()?;
        let after = query.position(&terms)?;
        let limit = query.effective_limit();
        let mut ranked = self.ranked(&terms, after.as_ref(), limit).await?;
        let more = ranked.len() > limit as usize;
        ranked.truncate(limit as usize);
        if ranked.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let mut snippets = self.snippets(&terms, &ranked).await?;
        let rows = tickets::Entity::find()
            .filter(tickets::Column::Id.is_in(ranked.iter().map(|r| r.id.as_str())))
            .all(self.reader())
            .await
            .map_err(be)?;
        let mut tickets: HashMap<TicketId, Ticket> = all::<_, Ticket>(rows)?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        let next_cursor = match (more, ranked.last()) {
            (true, Some(last)) => Some(
                SearchCursor {
                    score: last.score,
                    id: TicketId::from(last.id.as_str()),
                }
                .encode(&terms),
            ),
            _ => None,
        };
        // a ticket deleted between the reads is left out
        let items = ranked
            .into_iter()
            .filter_map(|r| {
                let ticket = tickets.remove(&TicketId::from(r.id.as_str()))?;
                let snippet = parse_marked(&snippets.remove(&r.doc_id).unwrap_or_default());
                Some(SearchHit {
                    ticket,
                    score: r.score,
                    snippet,
                })
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    async fn finished_tickets(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> StoreResult<Page<Ticket>> {
        let after = cursor.map(HistoryCursor::decode).transpose()?;
        let limit = history_limit(limit);
        let sql = sql::history(self.backend(), after.is_some(), u64::from(limit) + 1);
        let values: Vec<Value> = after
            .iter()
            .flat_map(|c| [Value::from(c.at_micros), Value::from(c.id.as_str())])
            .collect();
        let rows = tickets::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                self.db_backend(),
                sql,
                values,
            ))
            .all(self.reader())
            .await
            .map_err(be)?;
        let mut items: Vec<Ticket> = all(rows)?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|t| HistoryCursor::after(t).encode())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}
