//! Usage ingest benchmark (`cargo bench -p foreman-api --bench usage_ingest`, what
//! `cargo xtask bench usage` runs): rows per second through `POST /api/llm/usage` in batches
//! of 500, on SQLite (a temporary file) and PostgreSQL (a schema of its own, when
//! `FOREMAN_TEST_POSTGRES_URL` is set). Prints a Markdown table for `docs/benchmarks.md`.
//!
//! The real router serves on a loopback port with the built-in price table; the client (in the
//! same process) posts pre-built bodies, one request at a time and then from 4 concurrent
//! clients. Every row has its own idempotency key, a session tag and a project; half come
//! without a cost and are priced from the table. A store-level row (`ingest_usage` called
//! directly with the same rows) shows what the HTTP layer, JSON and validation add. The write
//! rate limit is off (a deployment that ingests this fast raises
//! `[dashboard] write_requests_per_minute` for its ingest token, or sets it to 0).
//!
//! Knobs (environment): `FOREMAN_BENCH_BATCHES` (batches per run, default 40: 20,000 rows).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use foreman_domain::usage_ingest::{UsageDraft, prepare};
use foreman_domain::{NewApiToken, Scope, Store};
use foreman_events::EventHub;
use foreman_store::SqlStore;
use foreman_testkit::pg::TestSchema;
use serde_json::{Value, json};

const BATCH: usize = 500;
const CLIENTS: usize = 4;

fn batches() -> usize {
    std::env::var("FOREMAN_BENCH_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

/// One batch's rows, keys unique per `run` and `batch`.
fn rows(run: &str, batch: usize) -> Vec<Value> {
    (0..BATCH)
        .map(|i| {
            let mut r = json!({
                "id": format!("{run}-{batch}-{i}"),
                "provider": "anthropic",
                "model": if i % 3 == 0 { "claude-opus-4-5" } else { "claude-sonnet-4-5-20250929" },
                "input_tokens": 1_200 + i,
                "output_tokens": 300,
                "cache_read_tokens": 10_000,
                "cache_write_tokens": 500,
                "project": format!("project-{}", i % 4),
                "session_tag": format!("session-{}", batch % 16),
                "timestamp": "2026-12-01T10:00:00Z",
            });
            if i % 2 == 0 {
                r["cost_usd"] = json!(0.0123);
            }
            r
        })
        .collect()
}

fn body(run: &str, batch: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({ "items": rows(run, batch) })).unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

struct Line {
    backend: &'static str,
    mode: String,
    rows: usize,
    secs: f64,
    p50: Option<Duration>,
    p99: Option<Duration>,
}

async fn post_all(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    bodies: Vec<Vec<u8>>,
) -> Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(bodies.len());
    for b in bodies {
        let start = Instant::now();
        let r = client
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(b)
            .send()
            .await?;
        let status = r.status();
        let answer: Value = r.json().await?;
        latencies.push(start.elapsed());
        if status != 200 || answer["inserted"] != json!(BATCH) {
            bail!("ingest answered {status}: {answer}");
        }
    }
    Ok(latencies)
}

async fn run(backend: &'static str, store: Arc<dyn Store>) -> Result<Vec<Line>> {
    let n = batches();
    let config = foreman_api::ApiConfig {
        write_requests_per_minute: 0,
        ..foreman_api::ApiConfig::default()
    };
    let app = foreman_api::app(store.clone(), EventHub::default(), config)
        .with_usage_pricer(Arc::new(foreman_llm::PricingTable::builtin()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(foreman_api::serve(listener, app, async move {
        let _ = rx.await;
    }));
    let (new, secret) = NewApiToken::generate("bench", vec![Scope::Write], None);
    store.create_token(new).await?;
    let token = secret.expose().to_owned();
    let url = format!("http://{addr}/api/llm/usage");
    let client = reqwest::Client::new();
    let mut out = Vec::new();

    // warm-up: one batch
    post_all(&client, &url, &token, vec![body("warm", 0)]).await?;

    let bodies: Vec<Vec<u8>> = (0..n).map(|b| body("seq", b)).collect();
    let start = Instant::now();
    let mut lat = post_all(&client, &url, &token, bodies).await?;
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    out.push(Line {
        backend,
        mode: "HTTP, 1 client".to_owned(),
        rows: n * BATCH,
        secs,
        p50: Some(percentile(&lat, 0.5)),
        p99: Some(percentile(&lat, 0.99)),
    });

    let per = n.div_ceil(CLIENTS);
    let mut tasks = Vec::new();
    let start = Instant::now();
    for c in 0..CLIENTS {
        let bodies: Vec<Vec<u8>> = (0..per).map(|b| body(&format!("par{c}"), b)).collect();
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            post_all(&client, &url, &token, bodies).await
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    out.push(Line {
        backend,
        mode: format!("HTTP, {CLIENTS} clients"),
        rows: per * CLIENTS * BATCH,
        secs,
        p50: Some(percentile(&lat, 0.5)),
        p99: Some(percentile(&lat, 0.99)),
    });

    // the store alone: the same rows, checked and priced beforehand
    let pricer = foreman_llm::PricingTable::builtin();
    let now = chrono::Utc::now();
    let mut prepared = Vec::with_capacity(n);
    for b in 0..n {
        let drafts = rows("store", b)
            .into_iter()
            .map(|r| UsageDraft {
                id: r["id"].as_str().map(str::to_owned),
                provider: r["provider"].as_str().map(str::to_owned),
                model: r["model"].as_str().map(str::to_owned),
                input_tokens: r["input_tokens"].as_i64(),
                output_tokens: r["output_tokens"].as_i64(),
                cache_read_tokens: r["cache_read_tokens"].as_i64(),
                cache_write_tokens: r["cache_write_tokens"].as_i64(),
                cost_usd: r["cost_usd"].as_f64(),
                project: r["project"].as_str().map(str::to_owned),
                ticket_id: None,
                session_tag: r["session_tag"].as_str().map(str::to_owned),
                timestamp: r["timestamp"].as_str().map(str::to_owned),
            })
            .collect();
        prepared.push(prepare(drafts, true, now, Some(&pricer)).context("prepare")?);
    }
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for rows in prepared {
        let t = Instant::now();
        let done = store.ingest_usage(rows).await?;
        lat.push(t.elapsed());
        if done.inserted() != BATCH {
            bail!("store recorded {} of {BATCH}", done.inserted());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    out.push(Line {
        backend,
        mode: "store only (`ingest_usage`)".to_owned(),
        rows: n * BATCH,
        secs,
        p50: Some(percentile(&lat, 0.5)),
        p99: Some(percentile(&lat, 0.99)),
    });

    // a retry of an already recorded batch: every row a duplicate
    let start = Instant::now();
    let r = client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body("seq", 0))
        .send()
        .await?;
    let answer: Value = r.json().await?;
    if answer["inserted"] != json!(0) {
        bail!("a retried batch was recorded again: {answer}");
    }
    out.push(Line {
        backend,
        mode: "HTTP, a retried batch (all duplicates)".to_owned(),
        rows: BATCH,
        secs: start.elapsed().as_secs_f64(),
        p50: None,
        p99: None,
    });

    let _ = tx.send(());
    server.await??;
    Ok(out)
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0),
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        // `cargo test --benches` probes bench binaries; nothing to list.
        return Ok(());
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut lines = Vec::new();

    let dir = tempfile::tempdir()?;
    let sqlite = SqlStore::open_sqlite(&dir.path().join("bench.db")).await?;
    sqlite.migrate().await?;
    lines.extend(run("SQLite", Arc::new(sqlite)).await?);

    match TestSchema::create("bench_usage").await {
        Some(schema) => {
            let pg = SqlStore::connect(schema.url()).await?;
            pg.migrate().await?;
            lines.extend(run("PostgreSQL", Arc::new(pg)).await?);
            schema.drop_schema().await;
        }
        None => eprintln!("PostgreSQL skipped: FOREMAN_TEST_POSTGRES_URL is not set"),
    }

    println!("| backend | mode | rows | rows/s | p50 per request | p99 per request |");
    println!("|---|---|---:|---:|---:|---:|");
    for l in lines {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} |",
            l.backend,
            l.mode,
            l.rows,
            l.rows as f64 / l.secs,
            ms(l.p50),
            ms(l.p99)
        );
    }
    Ok(())
}
