//! Audit trail benchmark: the cost of recording a mutating request.
//!
//! The real router, in process (no sockets: `tower::ServiceExt::oneshot`), over `SqlStore` on a
//! SQLite file and, when `FOREMAN_TEST_POSTGRES_URL` is set, PostgreSQL (a schema of its own).
//! The request is `POST /api/daemon/pause` with a stored admin token: a small settings write,
//! so the audit append is a large share of it. Rounds of 200 requests alternate the layer on
//! and off (`App::set_audit_recording_off`) on the same server, so drift hits both alike;
//! latencies are per request, one at a time, then 16 at a time.
//!
//! Run with `cargo bench -p foreman-api --bench audit`. Prints a Markdown table.

#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::body::Body;
use axum::http::Request;
use foreman_domain::audit::AuditKey;
use foreman_domain::{NewApiToken, Scope, Store};
use foreman_store::SqlStore;
use foreman_testkit::pg::TestSchema;
use tower::ServiceExt;

const ROUNDS: usize = 20;
const PER_ROUND: usize = 200;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn round(router: &axum::Router, token: &str, concurrency: usize, out: &mut Vec<Duration>) {
    let per_task = PER_ROUND / concurrency;
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let router = router.clone();
        let token = token.to_owned();
        handles.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let req = Request::post("/api/daemon/pause")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap();
                let started = Instant::now();
                let r = router.clone().oneshot(req).await.unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                let _ = axum::body::to_bytes(r.into_body(), 1 << 20).await;
                times.push(started.elapsed());
            }
            times
        }));
    }
    for h in handles {
        out.extend(h.await.unwrap());
    }
}

async fn run(backend: &str, store: Arc<dyn Store>) -> Result<()> {
    let app = foreman_api::app(
        store.clone(),
        foreman_events::EventHub::default(),
        foreman_api::ApiConfig {
            requests_per_minute: 0,
            write_requests_per_minute: 0,
            ..Default::default()
        },
    )
    .with_audit(AuditKey::generate(), None);
    let router = app.router();
    let (new, secret) = NewApiToken::generate("bench", vec![Scope::Admin], None);
    store.create_token(new).await?;
    let token = secret.expose().to_owned();
    for concurrency in [1, 16] {
        // warm up both paths
        let mut scratch = Vec::new();
        for off in [true, false] {
            app.set_audit_recording_off(off);
            round(&router, &token, concurrency, &mut scratch).await;
        }
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for i in 0..ROUNDS {
            let off = i % 2 == 0;
            app.set_audit_recording_off(off);
            round(
                &router,
                &token,
                concurrency,
                if off { &mut without } else { &mut with },
            )
            .await;
        }
        with.sort();
        without.sort();
        let (p50w, p50o) = (pct(&with, 0.5), pct(&without, 0.5));
        println!(
            "| {backend} | {concurrency} | {} | {} | {} | {} | {} |",
            ms(p50o),
            ms(pct(&without, 0.99)),
            ms(p50w),
            ms(pct(&with, 0.99)),
            ms(p50w.saturating_sub(p50o)),
        );
    }
    app.set_audit_recording_off(false);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    println!(
        "| backend | concurrent | p50 without | p99 without | p50 with | p99 with | p50 overhead |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let dir = tempfile::tempdir()?;
    let sqlite = SqlStore::open_sqlite(&dir.path().join("bench.db")).await?;
    sqlite.migrate().await?;
    run("sqlite", Arc::new(sqlite)).await?;
    if let Some(schema) = TestSchema::create("bench_audit").await {
        let pg = SqlStore::connect(schema.url()).await?;
        pg.migrate().await?;
        let result = run("postgres", Arc::new(pg)).await;
        schema.drop_schema().await;
        result?;
    } else {
        println!("(PostgreSQL skipped: set FOREMAN_TEST_POSTGRES_URL to include it)");
    }
    Ok(())
}
