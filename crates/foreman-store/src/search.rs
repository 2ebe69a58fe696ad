//! `TicketSearch` on SQL: ranked full-text search (FTS5 on SQLite, `tsvector` on PostgreSQL)
//! and the history of finished tickets.
//!
//! The search documents (`ticket_search`) are kept current by the triggers of migration
//! `m20261207_000011_search`, inside the transaction of each write; this module only reads. A
//! search runs two statements: the ranked page of ids and scores (no snippet is made for a
//! match that is not on the page), then the snippets and the tickets of that page.

use std::collections::HashMap;

use async_trait::async_trait;
use foreman_domain::search::{
    FINISHED, HistoryCursor, MARK_CLOSE, MARK_OPEN, SearchCursor, history_limit, parse_marked,
};
use foreman_domain::{Page, SearchHit, SearchQuery, StoreResult, Ticket, TicketId, TicketSearch};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value,
};

use crate::convert::all;
use crate::entity::tickets;
use crate::{Backend, SqlStore, be};

/// FTS5 column weights for `bm25`, in the order of `ticket_fts`'s columns: external id, title,
/// body, plan, tasks, summaries.
const BM25: &str = "bm25(ticket_fts, 10.0, 10.0, 4.0, 3.0, 3.0, 1.0)";
/// Characters of each field PostgreSQL's `ts_headline` looks at (it parses all it is given).
const HEADLINE_CHARS: u32 = 4000;

/// The FTS5 query for `terms`: each a quoted string (the terms hold only letters and digits),
/// all required, the last as a prefix.
fn fts5_query(terms: &[String]) -> String {
    let mut q = terms
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(" ");
    q.push('*');
    q
}

/// The `to_tsquery` text for `terms`: all required, the last as a prefix.
fn tsquery(terms: &[String]) -> String {
    let mut q = terms.join(" & ");
    q.push_str(":*");
    q
}

/// `$1, $2, …` or `?, ?, …` for `n` values after `skip` others.
fn placeholders(backend: Backend, skip: usize, n: usize) -> String {
    (0..n)
        .map(|i| match backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${}", skip + i + 1),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One match of the ranked page.
struct Ranked {
    id: String,
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
        let (sql, mut values): (String, Vec<Value>) = match self.backend() {
            Backend::Sqlite => {
                let keyset = if after.is_some() {
                    "WHERE score < ?2 OR (score = ?2 AND id > ?3)"
                } else {
                    ""
                };
                (
                    format!(
                        "SELECT id, score FROM (SELECT s.ticket_id AS id, -{BM25} AS score \
                         FROM ticket_fts JOIN ticket_search s ON s.doc_id = ticket_fts.rowid \
                         WHERE ticket_fts MATCH ?1) {keyset} \
                         ORDER BY score DESC, id ASC LIMIT {}",
                        u64::from(limit) + 1
                    ),
                    vec![fts5_query(terms).into()],
                )
            }
            Backend::Postgres => {
                let keyset = if after.is_some() {
                    "WHERE score < $2 OR (score = $2 AND id > $3)"
                } else {
                    ""
                };
                (
                    format!(
                        "SELECT id, score FROM (SELECT s.ticket_id AS id, \
                         ts_rank(s.document, q, 1)::float8 AS score \
                         FROM ticket_search s, to_tsquery('english', $1) q \
                         WHERE s.document @@ q) m {keyset} \
                         ORDER BY score DESC, id ASC LIMIT {}",
                        u64::from(limit) + 1
                    ),
                    vec![tsquery(terms).into()],
                )
            }
        };
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
                    score: row.try_get::<f64>("", "score").map_err(be)?,
                })
            })
            .collect()
    }

    /// The marked snippet of each of `ids` for the query of `terms`.
    async fn snippets(
        &self,
        terms: &[String],
        ids: &[&str],
    ) -> StoreResult<HashMap<String, String>> {
        let backend = self.backend();
        let list = placeholders(backend, 1, ids.len());
        let sql = match backend {
            Backend::Sqlite => format!(
                "SELECT s.ticket_id AS id, snippet(ticket_fts, -1, '{MARK_OPEN}', \
                 '{MARK_CLOSE}', '…', 16) AS snippet \
                 FROM ticket_fts JOIN ticket_search s ON s.doc_id = ticket_fts.rowid \
                 WHERE ticket_fts MATCH ? AND s.ticket_id IN ({list})"
            ),
            Backend::Postgres => {
                let field = |f: &str| format!("NULLIF(left(s.{f}, {HEADLINE_CHARS}), '')");
                format!(
                    "SELECT s.ticket_id AS id, ts_headline('english', \
                     concat_ws(' … ', {}, {}, {}, {}, {}, {}), to_tsquery('english', $1), \
                     'StartSel=\"{MARK_OPEN}\", StopSel=\"{MARK_CLOSE}\", MaxWords=24, \
                      MinWords=8, MaxFragments=2, FragmentDelimiter=\" … \"') AS snippet \
                     FROM ticket_search s WHERE s.ticket_id IN ({list})",
                    field("external_id"),
                    field("title"),
                    field("body"),
                    field("plan"),
                    field("tasks"),
                    field("summaries"),
                )
            }
        };
        let query = match backend {
            Backend::Sqlite => fts5_query(terms),
            Backend::Postgres => tsquery(terms),
        };
        let mut values: Vec<Value> = vec![query.into()];
        values.extend(ids.iter().map(|id| Value::from(*id)));
        let stmt = Statement::from_sql_and_values(self.db_backend(), sql, values);
        let rows = self.reader().query_all_raw(stmt).await.map_err(be)?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in rows {
            let id = row.try_get::<String>("", "id").map_err(be)?;
            let snippet = row
                .try_get::<Option<String>>("", "snippet")
                .map_err(be)?
                .unwrap_or_default();
            out.insert(id, snippet);
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
        let ids: Vec<&str> = ranked.iter().map(|r| r.id.as_str()).collect();
        let mut snippets = self.snippets(&terms, &ids).await?;
        let rows = tickets::Entity::find()
            .filter(tickets::Column::Id.is_in(ids.iter().copied()))
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
        // a ticket deleted between the two reads is left out
        let items = ranked
            .into_iter()
            .filter_map(|r| {
                let ticket = tickets.remove(&TicketId::from(r.id.as_str()))?;
                let snippet = parse_marked(&snippets.remove(&r.id).unwrap_or_default());
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
        use tickets::Column as C;
        let after = cursor.map(HistoryCursor::decode).transpose()?;
        let limit = history_limit(limit);
        let finished = || {
            Expr::expr(Func::coalesce([
                Expr::col(C::CompletedAt),
                Expr::col(C::UpdatedAt),
            ]))
        };
        let mut q =
            tickets::Entity::find().filter(C::Status.is_in(FINISHED.iter().map(|s| s.as_str())));
        if let Some(c) = &after {
            q = q.filter(Expr::tuple([finished(), Expr::col(C::Id)]).lt(Expr::tuple([
                Expr::val(c.at_micros),
                Expr::val(c.id.as_str()),
            ])));
        }
        let rows = q
            .order_by(finished(), Order::Desc)
            .order_by(C::Id, Order::Desc)
            .limit(u64::from(limit) + 1)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_require_every_term_and_prefix_the_last() {
        let terms = vec!["login".to_owned(), "bu".to_owned()];
        assert_eq!(fts5_query(&terms), "\"login\" \"bu\"*");
        assert_eq!(tsquery(&terms), "login & bu:*");
        assert_eq!(placeholders(Backend::Postgres, 1, 3), "$2, $3, $4");
        assert_eq!(placeholders(Backend::Sqlite, 1, 2), "?, ?");
    }
}
