//! The SQL text of search and history reads, by backend.
//!
//! Every search ranks a bounded candidate set: the newest [`CANDIDATES`] matches by the order
//! search documents were created (`ticket_search.doc_id`, the FTS5 rowid on SQLite), ranked
//! among themselves, so a query costs about the same whether 500 or 100,000 tickets match.
//! A query with fewer matches ranks all of them.

use foreman_domain::search::{FINISHED, MARK_CLOSE, MARK_OPEN};

use crate::Backend;

/// The most matches a search ranks: the newest ones by creation of their search document.
pub(crate) const CANDIDATES: u32 = 1_000;

/// FTS5 column weights for `bm25`, in the order of `ticket_fts`'s columns: external id, title,
/// body, plan, tasks, summaries.
const BM25: &str = "bm25(ticket_fts, 10.0, 10.0, 4.0, 3.0, 3.0, 1.0)";
/// Characters of each field PostgreSQL's `ts_headline` looks at (it parses all it is given).
const HEADLINE_CHARS: u32 = 4000;

/// The FTS5 query for `terms`: each a quoted string (the terms hold only letters and digits),
/// all required, the last as a prefix.
pub(crate) fn fts5_query(terms: &[String]) -> String {
    let mut q = terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" ");
    q.push('*');
    q
}

/// The `to_tsquery` text for `terms`: all required, the last as a prefix.
pub(crate) fn tsquery(terms: &[String]) -> String {
    let mut q = terms.join(" & ");
    q.push_str(":*");
    q
}

/// `text` as a PostgreSQL string literal. The query is written into the statement rather than
/// bound, so each search is planned for its own words: whether walking the newest documents or
/// the GIN index is cheaper depends on how common they are, which a generic plan of a
/// prepared statement cannot know.
fn pg_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''").replace('\0', ""))
}

/// `$1, $2, …` or `?, ?, …` for `n` values after `skip` others.
pub(crate) fn placeholders(backend: Backend, skip: usize, n: usize) -> String {
    (0..n)
        .map(|i| match backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${}", skip + i + 1),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ranked page: columns `id`, `doc_id`, `score`, best first (ties by id), at most
/// `rows`. SQLite binds the FTS5 query first; both then bind, with `keyset`, the cursor's
/// score and id.
pub(crate) fn ranked(backend: Backend, terms: &[String], keyset: bool, rows: u64) -> String {
    match backend {
        Backend::Sqlite => {
            let after = if keyset {
                "WHERE c.score < ?2 OR (c.score = ?2 AND s.ticket_id > ?3) "
            } else {
                ""
            };
            format!(
                "SELECT s.ticket_id AS id, c.doc_id AS doc_id, c.score AS score FROM \
                 (SELECT rowid AS doc_id, -{BM25} AS score FROM ticket_fts \
                  WHERE ticket_fts MATCH ?1 ORDER BY rowid DESC LIMIT {CANDIDATES}) c \
                 JOIN ticket_search s ON s.doc_id = c.doc_id {after}\
                 ORDER BY c.score DESC, s.ticket_id ASC LIMIT {rows}"
            )
        }
        Backend::Postgres => {
            let after = if keyset {
                "WHERE score < $1 OR (score = $1 AND id > $2) "
            } else {
                ""
            };
            // `to_tsquery` with its configuration named is immutable: with a literal it is
            // folded into a constant at planning, whose selectivity the planner estimates
            let q = format!("to_tsquery('english', {})", pg_literal(&tsquery(terms)));
            format!(
                "SELECT id, doc_id, score FROM (SELECT c.ticket_id AS id, c.doc_id, \
                 ts_rank(c.document, {q}, 1)::float8 AS score FROM \
                 (SELECT s.ticket_id, s.doc_id, s.document FROM ticket_search s \
                  WHERE s.document @@ {q} ORDER BY s.doc_id DESC LIMIT {CANDIDATES}) c) m \
                 {after}ORDER BY score DESC, id ASC LIMIT {rows}"
            )
        }
    }
}

/// The marked snippets of a page: columns `doc_id` and `snippet`.
///
/// SQLite binds the FTS5 query, the lowest and the highest `doc_id` of the page, then the
/// `n` page `doc_id`s: the `MATCH` runs once over that rowid range (within the candidates,
/// so bounded like them) and `snippet` is made for the page's rows only. The `+` keeps SQLite
/// from turning the list into one `MATCH` per row. PostgreSQL binds the `n` ticket ids.
pub(crate) fn snippets(backend: Backend, terms: &[String], n: usize) -> String {
    let list = placeholders(backend, 0, n);
    match backend {
        Backend::Sqlite => format!(
            "SELECT rowid AS doc_id, snippet(ticket_fts, -1, '{MARK_OPEN}', '{MARK_CLOSE}', \
             '…', 16) AS snippet FROM ticket_fts WHERE ticket_fts MATCH ? \
             AND rowid >= ? AND rowid <= ? AND +rowid IN ({list})"
        ),
        Backend::Postgres => {
            let field = |f: &str| format!("NULLIF(left(s.{f}, {HEADLINE_CHARS}), '')");
            let query = pg_literal(&tsquery(terms));
            format!(
                "SELECT s.doc_id, ts_headline('english', \
                 concat_ws(' … ', {}, {}, {}, {}, {}, {}), to_tsquery('english', {query}), \
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
    }
}

/// The finished statuses as an SQL list, in the words of the partial index
/// `ix_tickets_history` (migration `m20261207_000020_search_bounds`), which the history reads.
pub(crate) fn finished_list() -> String {
    let statuses = FINISHED
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    format!("({statuses})")
}

/// The history page: every column of `tickets`, most recently finished first, at most
/// `rows`. With `keyset`, binds the cursor's time and id. On SQLite it names the partial
/// index, whose condition the `WHERE` repeats, so the plan never sorts the finished tickets.
pub(crate) fn history(backend: Backend, keyset: bool, rows: u64) -> String {
    let (hint, after) = match backend {
        Backend::Sqlite => (
            " INDEXED BY ix_tickets_history",
            "AND (COALESCE(completed_at, updated_at), id) < (?, ?) ",
        ),
        Backend::Postgres => (
            "",
            "AND (COALESCE(completed_at, updated_at), id) < ($1, $2) ",
        ),
    };
    let after = if keyset { after } else { "" };
    format!(
        "SELECT * FROM tickets{hint} WHERE status IN {} {after}\
         ORDER BY COALESCE(completed_at, updated_at) DESC, id DESC LIMIT {rows}",
        finished_list()
    )
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

    #[test]
    fn a_written_query_cannot_leave_its_literal() {
        assert_eq!(pg_literal("it's"), "'it''s'");
        let sql = ranked(Backend::Postgres, &["o'neil".to_owned()], false, 21);
        assert!(sql.contains("to_tsquery('english', 'o''neil:*')"), "{sql}");
    }

    #[test]
    fn the_candidates_are_bounded_before_ranking() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let sql = ranked(backend, &["x".to_owned()], true, 21);
            let bound = sql.find(&format!("LIMIT {CANDIDATES}")).expect("bounded");
            let rank = sql
                .find("ORDER BY score DESC")
                .or(sql.find("ORDER BY c.score DESC"));
            assert!(rank.is_some_and(|r| r > bound), "{sql}");
        }
    }

    #[test]
    fn the_history_repeats_the_index_condition() {
        assert_eq!(
            finished_list(),
            "('merged', 'pr_closed', 'done', 'failed', 'blocked', 'partial', 'decomposed')"
        );
    }
}
