//! Store benchmark: event appends per second (single and batched) and `list_tickets` latency at
//! 100,000 tickets, on SQLite (a temporary file) and PostgreSQL (a schema of its own, when
//! `FOREMAN_TEST_POSTGRES_URL` is set). Prints a Markdown table.
//!
//! Run with `cargo bench -p foreman-store --bench store` (what `cargo xtask bench store` runs).
//! `FOREMAN_BENCH_TICKETS` overrides the number of seeded tickets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use foreman_domain::{EventType, NewEvent, Store, TicketFilter, TicketStatus};
use foreman_store::SqlStore;
use foreman_testkit::pg::TestSchema;
use sea_orm::{ConnectionTrait, Database};

const SINGLE_APPENDS: usize = 2_000;
const BATCHES: usize = 200;
const BATCH: usize = 100;
const LIST_RUNS: usize = 500;

struct Row {
    backend: &'static str,
    metric: String,
    value: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Inserts `n` tickets in one statement (a recursive CTE, valid on both backends), spread
/// over four statuses and a million seconds of creation times.
async fn seed_tickets(url: &str, n: usize) -> Result<()> {
    let db = Database::connect(url).await?;
    let sql = format!(
        "WITH RECURSIVE seq(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM seq WHERE i < {n}) \
         INSERT INTO tickets (id, project, external_id, title, description, acceptance_criteria, \
           status, priority, labels, submitter, parent_id, branch_name, pr_url, pr_number, \
           cost_micros, tokens_input, tokens_output, total_llm_calls, is_partial, \
           last_completed_task_seq, last_error, last_error_type, fencing_token, lease_owner, \
           lease_expires_at, created_at, updated_at, started_at, completed_at) \
         SELECT 'bench-' || i, 'default', 'BENCH-' || i, 'bench ticket ' || i, '', '', \
           CASE i % 4 WHEN 0 THEN 'queued' WHEN 1 THEN 'implementing' WHEN 2 THEN 'merged' ELSE 'failed' END, \
           i % 3, '[]', NULL, NULL, '', '', NULL, 0, 0, 0, 0, {false_}, 0, NULL, NULL, 0, NULL, NULL, \
           1700000000000000 + i * 1000000, 1700000000000000 + i * 1000000, NULL, NULL \
         FROM seq",
        false_ = if url.starts_with("sqlite") {
            "0"
        } else {
            "FALSE"
        },
    );
    db.execute_unprepared(&sql).await?;
    if !url.starts_with("sqlite") {
        db.execute_unprepared("ANALYZE tickets").await?;
    } else {
        db.execute_unprepared("ANALYZE").await?;
    }
    db.close().await?;
    Ok(())
}

async fn run(
    backend: &'static str,
    store: Arc<dyn Store>,
    url: &str,
    tickets: usize,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();

    let start = Instant::now();
    for i in 0..SINGLE_APPENDS {
        store
            .append(NewEvent::new(EventType::TaskStarted, format!("single {i}")))
            .await?;
    }
    let rate = SINGLE_APPENDS as f64 / start.elapsed().as_secs_f64();
    rows.push(Row {
        backend,
        metric: "event appends, single (one transaction each)".into(),
        value: format!("{rate:.0} /s"),
    });

    let start = Instant::now();
    for b in 0..BATCHES {
        let batch = (0..BATCH)
            .map(|i| {
                NewEvent::new(EventType::TaskStarted, format!("batch {b} event {i}"))
                    .details(serde_json::json!({ "batch": b, "i": i }))
            })
            .collect();
        store.append_batch(batch).await?;
    }
    let rate = (BATCHES * BATCH) as f64 / start.elapsed().as_secs_f64();
    rows.push(Row {
        backend,
        metric: format!("event appends, batched ({BATCH} per transaction)"),
        value: format!("{rate:.0} /s"),
    });

    let start = Instant::now();
    seed_tickets(url, tickets)
        .await
        .context("seeding tickets")?;
    rows.push(Row {
        backend,
        metric: format!("seed {tickets} tickets (one INSERT … SELECT, setup only)"),
        value: ms(start.elapsed()),
    });

    let cases: [(&str, TicketFilter); 3] = [
        (
            "list_tickets limit 50, no filter",
            TicketFilter {
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "list_tickets limit 50, status=queued",
            TicketFilter {
                limit: 50,
                statuses: vec![TicketStatus::Queued],
                ..Default::default()
            },
        ),
        (
            "list_tickets limit 50, status in (implementing, failed)",
            TicketFilter {
                limit: 50,
                statuses: vec![TicketStatus::Implementing, TicketStatus::Failed],
                ..Default::default()
            },
        ),
    ];
    for (name, filter) in cases {
        let mut samples = Vec::with_capacity(LIST_RUNS);
        for _ in 0..LIST_RUNS {
            let t = Instant::now();
            let page = store.list_tickets(&filter).await?;
            samples.push(t.elapsed());
            assert_eq!(page.items.len(), 50);
        }
        samples.sort();
        rows.push(Row {
            backend,
            metric: format!("{name} (at {tickets} tickets) p50 / p99"),
            value: format!(
                "{} / {}",
                ms(percentile(&samples, 0.5)),
                ms(percentile(&samples, 0.99))
            ),
        });
    }

    // Keyset paging deep into the table: follow the cursor for LIST_RUNS pages.
    let mut samples = Vec::with_capacity(LIST_RUNS);
    let mut cursor = None;
    for _ in 0..LIST_RUNS {
        let t = Instant::now();
        let page = store
            .list_tickets(&TicketFilter {
                limit: 50,
                cursor: cursor.take(),
                ..Default::default()
            })
            .await?;
        samples.push(t.elapsed());
        cursor = page.next_cursor;
    }
    samples.sort();
    rows.push(Row {
        backend,
        metric: format!(
            "list_tickets limit 50, following next_cursor {LIST_RUNS} pages deep p50 / p99"
        ),
        value: format!(
            "{} / {}",
            ms(percentile(&samples, 0.5)),
            ms(percentile(&samples, 0.99))
        ),
    });
    Ok(rows)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let tickets: usize = std::env::var("FOREMAN_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("| backend | measurement | result |");
    println!("|---|---|---|");
    let print = |rows: Vec<Row>| {
        for r in rows {
            println!("| {} | {} | {} |", r.backend, r.metric, r.value);
        }
    };

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.db");
    // The read cache is off: these figures are the queries' own cost.
    let store = SqlStore::open_sqlite(&path).await?.with_read_cache(false);
    store.migrate().await?;
    print(
        run(
            "sqlite",
            Arc::new(store),
            &format!("sqlite://{}", path.display()),
            tickets,
        )
        .await?,
    );

    if let Some(schema) = TestSchema::create("bench").await {
        let store = SqlStore::connect(schema.url())
            .await?
            .with_read_cache(false);
        store.migrate().await?;
        let result = run("postgres", Arc::new(store), schema.url(), tickets).await;
        schema.drop_schema().await;
        print(result?);
    } else {
        println!("(PostgreSQL skipped: set FOREMAN_TEST_POSTGRES_URL to include it)");
    }
    Ok(())
}
