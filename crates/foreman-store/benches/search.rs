//! Search benchmark: `TicketSearch::search_tickets` latency (ranked page of 20 with snippets
//! and tickets) at 100,000 tickets, on SQLite (a temporary file) and PostgreSQL (a schema of
//! its own, when `FOREMAN_TEST_POSTGRES_URL` is set). Prints a Markdown table.
//!
//! Run with `cargo bench -p foreman-store --bench search`. `FOREMAN_BENCH_TICKETS` overrides
//! the number of seeded tickets, `FOREMAN_BENCH_BACKEND=sqlite|postgres` runs one backend, and
//! `FOREMAN_BENCH_KEEP_SCHEMA=1` keeps the PostgreSQL schema (its name is printed) for a look
//! at the plans in `psql`. Each query line gives the number of tickets matching it; the load
//! average is printed before and after each backend's queries.
//!
//! The tickets are seeded with multi-row `INSERT`s, so the search triggers index each one as
//! production writes do. Their text is drawn from a vocabulary of 4,000 made-up words with a
//! skewed (Zipf-like) frequency: a 7-word title and a 60-word description each, so a query
//! for a common word matches a large share of the tickets and one for a rare word a few.

#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]

use foreman_testkit::corpus::{Rng, VOCABULARY, text, word};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use foreman_domain::{SearchQuery, Store};
use foreman_store::SqlStore;
use foreman_testkit::pg::TestSchema;
use sea_orm::{ConnectionTrait, Database, Statement};

const RUNS: usize = 300;
const BATCH: usize = 500;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Inserts `n` tickets with generated text, `BATCH` rows per statement.
async fn seed(url: &str, n: usize) -> Result<()> {
    let db = Database::connect(url).await?;
    let false_ = if url.starts_with("sqlite") {
        "0"
    } else {
        "FALSE"
    };
    let mut rng = Rng(7);
    let mut i = 0;
    while i < n {
        let rows: Vec<String> = (i..(i + BATCH).min(n))
            .map(|k| {
                let status = ["queued", "implementing", "merged", "failed"][k % 4];
                let at = 1_700_000_000_000_000_i64 + k as i64 * 1_000_000;
                format!(
                    "('bench-{k}', 'default', 'BENCH-{k}', '{}', '{}', '', '{status}', 0, '[]', \
                     NULL, NULL, '', '', NULL, 0, 0, 0, 0, {false_}, 0, NULL, NULL, 0, NULL, \
                     NULL, {at}, {at}, NULL, NULL)",
                    text(&mut rng, 7),
                    text(&mut rng, 60)
                )
            })
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO tickets (id, project, external_id, title, description, \
             acceptance_criteria, status, priority, labels, submitter, parent_id, branch_name, \
             pr_url, pr_number, cost_micros, tokens_input, tokens_output, total_llm_calls, \
             is_partial, last_completed_task_seq, last_error, last_error_type, fencing_token, \
             lease_owner, lease_expires_at, created_at, updated_at, started_at, completed_at) \
             VALUES {}",
            rows.join(", ")
        ))
        .await?;
        i += BATCH;
    }
    db.execute_unprepared("ANALYZE").await?;
    db.close().await?;
    Ok(())
}

/// The machine's load average (1, 5 and 15 minutes), as `/proc/loadavg` gives it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// How many tickets match `q` (every word, the last as a prefix), counted outside the store.
async fn matches(url: &str, q: &str) -> Result<i64> {
    let db = Database::connect(url).await?;
    let words: Vec<&str> = q.split_whitespace().collect();
    let sql = if url.starts_with("sqlite") {
        let fts = words
            .iter()
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(" ");
        format!("SELECT count(*) AS n FROM ticket_fts WHERE ticket_fts MATCH '{fts}*'")
    } else {
        format!(
            "SELECT count(*) AS n FROM ticket_search \
             WHERE document @@ to_tsquery('english', '{}:*')",
            words.join(" & ")
        )
    };
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .context("a count")?;
    let n = row.try_get::<i64>("", "n")?;
    db.close().await?;
    Ok(n)
}

async fn run(backend: &str, store: Arc<dyn Store>, url: &str, tickets: usize) -> Result<()> {
    let start = Instant::now();
    seed(url, tickets).await.context("seeding")?;
    println!(
        "| {backend} | seed {tickets} tickets through the triggers (setup) | {:.1} s |",
        start.elapsed().as_secs_f64()
    );
    println!(
        "| {backend} | load average before the queries | {} |",
        load_average()
    );
    let cases: Vec<(String, String)> = vec![
        ("a rare word".into(), word(VOCABULARY - 7)),
        ("a mid-frequency word".into(), word(400)),
        ("a common word".into(), word(20)),
        ("the most common word".into(), word(0)),
        (
            "two common words".into(),
            format!("{} {}", word(3), word(5)),
        ),
        ("a 3-letter prefix".into(), word(9)[..3].to_owned()),
    ];
    for (name, q) in cases {
        let matching = matches(url, &q).await?;
        let mut samples = Vec::with_capacity(RUNS);
        let mut found = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let page = store
                .search_tickets(&SearchQuery {
                    text: q.clone(),
                    limit: 20,
                    cursor: None,
                })
                .await?;
            samples.push(t.elapsed());
            found = page.items.len();
        }
        samples.sort();
        println!(
            "| {backend} | search \"{q}\" ({name}; {matching} matching, {found} on the page), \
             p50 / p99 | {} / {} |",
            ms(percentile(&samples, 0.5)),
            ms(percentile(&samples, 0.99))
        );
    }
    // five pages deep through the cursor
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS / 5 {
        let mut cursor = None;
        for _ in 0..5 {
            let t = Instant::now();
            let page = store
                .search_tickets(&SearchQuery {
                    text: word(20),
                    limit: 20,
                    cursor: cursor.take(),
                })
                .await?;
            samples.push(t.elapsed());
            cursor = page.next_cursor;
        }
    }
    samples.sort();
    println!(
        "| {backend} | search a common word, pages 1-5 by cursor, p50 / p99 | {} / {} |",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99))
    );
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        store.finished_tickets(20, None).await?;
        samples.push(t.elapsed());
    }
    samples.sort();
    println!(
        "| {backend} | history, first page of 20, p50 / p99 | {} / {} |",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99))
    );
    println!(
        "| {backend} | load average after the queries | {} |",
        load_average()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let tickets: usize = std::env::var("FOREMAN_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("| backend | measurement | result |");
    println!("|---|---|---|");
    // `FOREMAN_BENCH_BACKEND=sqlite|postgres` runs one backend only
    let only = std::env::var("FOREMAN_BENCH_BACKEND").unwrap_or_default();
    if only.is_empty() || only == "sqlite" {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("search.db");
        let store = SqlStore::open_sqlite(&path).await?.with_read_cache(false);
        store.migrate().await?;
        run(
            "sqlite",
            Arc::new(store),
            &format!("sqlite://{}", path.display()),
            tickets,
        )
        .await?;
    }
    if !(only.is_empty() || only == "postgres") {
        return Ok(());
    }
    if let Some(schema) = TestSchema::create("bench_search").await {
        let store = SqlStore::connect(schema.url())
            .await?
            .with_read_cache(false);
        store.migrate().await?;
        let result = run("postgres", Arc::new(store), schema.url(), tickets).await;
        // `FOREMAN_BENCH_KEEP_SCHEMA=1` keeps the data for `EXPLAIN ANALYZE` in psql
        if std::env::var("FOREMAN_BENCH_KEEP_SCHEMA").is_ok_and(|v| v == "1") {
            println!("(PostgreSQL schema kept: {})", schema.schema());
        } else {
            schema.drop_schema().await;
        }
        result?;
    } else {
        println!("(PostgreSQL skipped: set FOREMAN_TEST_POSTGRES_URL to include it)");
    }
    Ok(())
}
