//! The plans SQLite chooses for the search and history statements, on the schema the
//! migrations make.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::sql;
use crate::{Backend, SqlStore};

async fn sqlite() -> SqlStore {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// The `EXPLAIN QUERY PLAN` of `sql`, one line per step.
async fn plan(store: &SqlStore, sql: &str, values: Vec<Value>) -> Vec<String> {
    let stmt = Statement::from_sql_and_values(
        DbBackend::Sqlite,
        format!("EXPLAIN QUERY PLAN {sql}"),
        values,
    );
    let rows = store.reader().query_all_raw(stmt).await.unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "detail").unwrap())
        .collect()
}

#[test]
fn the_memory_store_ranks_as_many_candidates() {
    assert_eq!(
        sql::CANDIDATES as usize,
        foreman_testkit::memory::SEARCH_CANDIDATES
    );
}

#[tokio::test]
async fn the_history_walks_its_partial_index_without_sorting() {
    let store = sqlite().await;
    let index = store
        .reader()
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE name = 'ix_tickets_history'",
        ))
        .await
        .unwrap()
        .expect("the history index exists");
    let index: String = index.try_get("", "sql").unwrap();
    assert!(index.contains(&sql::finished_list()), "{index}");
    for keyset in [false, true] {
        let values = if keyset {
            vec![Value::from(1_i64), Value::from("t")]
        } else {
            Vec::new()
        };
        let steps = plan(&store, &sql::history(Backend::Sqlite, keyset, 21), values).await;
        assert!(
            steps.iter().any(|s| s.contains("ix_tickets_history")),
            "{steps:?}"
        );
        assert!(
            !steps.iter().any(|s| s.contains("TEMP B-TREE")),
            "{steps:?}"
        );
    }
}

#[tokio::test]
async fn snippets_run_one_match_over_the_page_range() {
    let store = sqlite().await;
    let terms = vec!["login".to_owned()];
    let mut values: Vec<Value> = vec![sql::fts5_query(&terms).into(), 3_i64.into(), 9_i64.into()];
    values.extend([3_i64, 5, 9].map(Value::from));
    let steps = plan(&store, &sql::snippets(Backend::Sqlite, &terms, 3), values).await;
    let fts: Vec<&String> = steps.iter().filter(|s| s.contains("ticket_fts")).collect();
    assert_eq!(fts.len(), 1, "{steps:?}");
    // idxStr (e.g. `M6><`): `M` the MATCH, `<` and `>` the rowid range, never `=` (one MATCH
    // per rowid of the list)
    let idx = fts[0].rsplit(':').next().unwrap_or_default();
    assert!(
        idx.contains('M') && idx.contains('<') && idx.contains('>') && !idx.contains('='),
        "{steps:?}"
    );
}

#[tokio::test]
async fn the_candidates_come_from_the_index_newest_first() {
    let store = sqlite().await;
    let terms = vec!["login".to_owned()];
    let steps = plan(
        &store,
        &sql::ranked(Backend::Sqlite, &terms, false, 21),
        vec![sql::fts5_query(&terms).into()],
    )
    .await;
    let fts: Vec<&String> = steps.iter().filter(|s| s.contains("ticket_fts")).collect();
    assert_eq!(fts.len(), 1, "{steps:?}");
    // the rowid order is the index's own (no sort of every match before the bound)
    assert!(
        steps.iter().filter(|s| s.contains("TEMP B-TREE")).count() <= 1,
        "{steps:?}"
    );
}
