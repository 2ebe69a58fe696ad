//! Benchmarks of the metered wrapper (`cargo bench -p foreman-llm --bench metered`, or
//! `cargo xtask bench llm`).
//!
//! 1. Overhead per call: the same zero-latency in-process provider called directly and through
//!    `MeteredProvider` (budget reservation and settlement, pricing, rate limiter, breaker,
//!    events, metrics facade) on the in-memory store. Reports p50/p99 of the difference.
//! 2. Memory: 1,000 calls in flight at once against a provider that takes 1 s; reports the
//!    resident memory added while they are all waiting.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it runs a tiny smoke version.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use foreman_domain::llm::{
    ContentBlock, LlmProvider, LlmRequest, LlmResponse, LlmResult, ProgressSink, StopReason, Usage,
};
use foreman_domain::{BudgetLimits, Micros, NewTicket, TicketStore};
use foreman_llm::{MeteredProvider, RetryPolicy};
use foreman_testkit::MemoryStore;

struct Instant0 {
    latency: Duration,
}

#[async_trait]
impl LlmProvider for Instant0 {
    fn name(&self) -> &str {
        "bench"
    }

    async fn complete_with_progress(
        &self,
        request: &LlmRequest,
        _progress: &dyn ProgressSink,
    ) -> LlmResult<LlmResponse> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        Ok(LlmResponse {
            content: vec![ContentBlock::text("ok")],
            stop_reason: StopReason::EndTurn,
            usage: Usage {
                input_tokens: 1_200,
                output_tokens: 300,
                cache_read_tokens: 5_000,
                cache_write_tokens: 0,
            },
            model: request.model.clone(),
            duration: Duration::ZERO,
            request_id: None,
        })
    }
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

async fn store_and_request() -> (MemoryStore, LlmRequest) {
    let store = MemoryStore::new();
    let ticket = store
        .create_ticket(NewTicket {
            external_id: "BENCH-1".into(),
            title: "bench".into(),
            ..NewTicket::default()
        })
        .await
        .expect("create ticket");
    let mut req = LlmRequest::new(
        "claude-sonnet-4-6",
        "Implement the task described above, test first. ".repeat(40),
    );
    req.system = Some("You are a careful engineer. ".repeat(40));
    req.max_tokens = 4_096;
    req.context.role = "implementer".into();
    req.context.ticket_id = Some(ticket.id);
    (store, req)
}

fn metered(inner: Arc<dyn LlmProvider>, store: &MemoryStore) -> MeteredProvider {
    MeteredProvider::builder(inner, Arc::new(store.clone()), Arc::new(store.clone()))
        .retry(RetryPolicy::none())
        .limits(BudgetLimits {
            ticket: Some(Micros(1_000_000_000)),
            daily: Some(Micros(1_000_000_000)),
            monthly: Some(Micros(1_000_000_000)),
            alert_threshold_pct: 80,
            ..BudgetLimits::default()
        })
        .build()
}

async fn overhead(rounds: usize, calls: usize) -> (Duration, Duration, Duration) {
    let inner: Arc<dyn LlmProvider> = Arc::new(Instant0 {
        latency: Duration::ZERO,
    });
    let mut direct = Vec::with_capacity(rounds * calls);
    let mut wrapped = Vec::with_capacity(rounds * calls);
    for _ in 0..rounds {
        // a fresh store per round keeps the in-memory ledger's scans short
        let (store, req) = store_and_request().await;
        let m = metered(inner.clone(), &store);
        for _ in 0..calls {
            let t = Instant::now();
            inner.complete(&req).await.expect("direct call");
            direct.push(t.elapsed());
            let t = Instant::now();
            m.complete(&req).await.expect("metered call");
            wrapped.push(t.elapsed());
        }
    }
    direct.sort();
    wrapped.sort();
    let d50 = percentile(&direct, 0.5);
    (
        percentile(&wrapped, 0.5).saturating_sub(d50),
        percentile(&wrapped, 0.99).saturating_sub(percentile(&direct, 0.99)),
        d50,
    )
}

async fn memory(in_flight: usize, latency: Duration) -> Option<(f64, f64)> {
    let (store, req) = store_and_request().await;
    let inner: Arc<dyn LlmProvider> = Arc::new(Instant0 { latency });
    let m: Arc<dyn LlmProvider> = Arc::new(metered(inner, &store));
    // warm up allocator pools and lazily built statics
    m.complete(&req).await.ok()?;
    let before = rss_kib()?;
    let started = Instant::now();
    let mut handles = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let m = m.clone();
        let req = req.clone();
        handles.push(tokio::spawn(async move { m.complete(&req).await.is_ok() }));
    }
    tokio::time::sleep(latency / 2).await;
    let during = rss_kib()?;
    let mut ok = 0;
    for h in handles {
        ok += usize::from(h.await.unwrap_or(false));
    }
    assert_eq!(ok, in_flight, "every call succeeded");
    let wall = started.elapsed().as_secs_f64();
    Some((during.saturating_sub(before) as f64 / 1024.0, wall))
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (rounds, calls, in_flight, latency) = if full {
        (10, 1_000, 1_000, Duration::from_secs(1))
    } else {
        (1, 20, 20, Duration::from_millis(10))
    };
    let (p50, p99, direct) = rt.block_on(overhead(rounds, calls));
    println!(
        "metered overhead per call: p50 {:.1} µs, p99 {:.1} µs (direct call p50 {:.2} µs; {} calls)",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        direct.as_secs_f64() * 1e6,
        rounds * calls
    );
    match rt.block_on(memory(in_flight, latency)) {
        Some((mib, wall)) => println!(
            "memory: {in_flight} calls in flight ({} ms latency) added {mib:.1} MiB RSS; all done in {wall:.2} s",
            latency.as_millis()
        ),
        None => println!("memory: RSS not readable on this platform"),
    }
}
