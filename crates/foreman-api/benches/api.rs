//! API load benchmark (`cargo xtask bench api`, i.e. `cargo bench -p foreman-api --bench api`).
//!
//! Seeds a SQLite database (100k tickets, 1M events by default; reused between runs under
//! `target/bench-api/`), serves the real router on a loopback port, and drives it from
//! separate processes: `wrk` (Debian package `wrk`) for HTTP routes, and this binary re-run in
//! client mode for WebSocket fan-out. Prints a Markdown table for `docs/benchmarks.md`.
//!
//! Knobs (environment): `FOREMAN_BENCH_TICKETS`, `FOREMAN_BENCH_EVENTS`,
//! `FOREMAN_BENCH_SECS` (per HTTP route, default 10), `FOREMAN_BENCH_CONNECTIONS` (64),
//! `FOREMAN_BENCH_FANOUT` (`subscribers:events_per_sec` list, default `1000:5000,100:1000`).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use foreman_domain::{
    EventLog, EventType, NewApiToken, NewEvent, NewTicket, Scope, Store, TicketStatus, TicketStore,
};
use foreman_events::{EventHub, PublishingEventLog};
use foreman_store::SqlStore;
use futures::StreamExt;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--fanout-client") {
        return fanout_client(&args[2], &args[3], args[4].parse()?, args[5].parse()?);
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        // `cargo test --benches` probes bench binaries; nothing to list.
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn seed(store: &SqlStore, tickets: u64, events: u64) -> Result<String> {
    let started = Instant::now();
    let latest = store.latest_seq().await?;
    let have = store
        .count_tickets_by_status(None)
        .await?
        .iter()
        .map(|(_, n)| n)
        .sum::<i64>();
    if have as u64 >= tickets && latest as u64 >= events {
        println!("reusing seeded database: {have} tickets, {latest} events");
    } else {
        println!("seeding {tickets} tickets and {events} events (first run only)...");
        let mut ids = Vec::new();
        for i in have as u64..tickets {
            let t = store
                .create_ticket(NewTicket {
                    external_id: format!("BENCH-{i}"),
                    title: format!("Benchmark ticket {i}: add a feature with a realistic title"),
                    description: "A description of moderate length for the detail route.".repeat(4),
                    acceptance_criteria: "- it works\n- it is tested".into(),
                    submitter: Some(format!("user{}@example.com", i % 20)),
                    labels: vec!["bench".into()],
                    ..Default::default()
                })
                .await?;
            if i % 10 == 0 {
                let mut s = t.status;
                for next in [
                    TicketStatus::Planning,
                    TicketStatus::PlanValidating,
                    TicketStatus::Implementing,
                ] {
                    store.transition_ticket(&t.id, s, next, None).await?;
                    s = next;
                }
            }
            if ids.len() < 10_000 {
                ids.push(t.id);
            }
        }
        if ids.is_empty() {
            let page = store
                .list_tickets(&foreman_domain::TicketFilter {
                    limit: 500,
                    ..Default::default()
                })
                .await?;
            ids = page.items.into_iter().map(|t| t.id).collect();
        }
        let mut n = latest as u64;
        while n < events {
            let batch: Vec<NewEvent> = (0..1000.min(events - n))
                .map(|k| {
                    let id = &ids[((n + k) as usize) % ids.len()];
                    NewEvent::new(EventType::AgentTurn, format!("turn {}", n + k)).ticket(id)
                })
                .collect();
            n += batch.len() as u64;
            store.append_batch(batch).await?;
        }
        println!("seeded in {:.0} s", started.elapsed().as_secs_f64());
    }
    let page = store
        .list_tickets(&foreman_domain::TicketFilter {
            limit: 1,
            ..Default::default()
        })
        .await?;
    Ok(page.items[0].id.to_string())
}

#[derive(Debug, Default)]
struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: String,
}

fn parse_duration_ms(s: &str) -> Option<f64> {
    let (num, unit) = s
        .trim()
        .split_at(s.trim().find(|c: char| c.is_ascii_alphabetic())?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => return None,
    })
}

fn wrk(url: &str, token: &str, secs: u64, conns: u64) -> Result<WrkResult> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
        ])
        .args(["-H", &format!("Authorization: Bearer {token}"), url])
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut r = WrkResult::default();
    for line in text.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse().unwrap_or(0.0);
        } else if let Some(v) = l.strip_prefix("50%") {
            r.p50_ms = parse_duration_ms(v).unwrap_or(f64::NAN);
        } else if let Some(v) = l.strip_prefix("99%") {
            r.p99_ms = parse_duration_ms(v).unwrap_or(f64::NAN);
        } else if l.starts_with("Non-2xx") || l.starts_with("Socket errors") {
            r.errors.push_str(l);
            r.errors.push(' ');
        }
    }
    if r.rps == 0.0 {
        bail!("wrk produced no result:\n{text}");
    }
    Ok(r)
}

async fn run() -> Result<()> {
    let tickets = env_or("FOREMAN_BENCH_TICKETS", 100_000);
    let events = env_or("FOREMAN_BENCH_EVENTS", 1_000_000);
    let secs = env_or("FOREMAN_BENCH_SECS", 10);
    let conns = env_or("FOREMAN_BENCH_CONNECTIONS", 64);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-api");
    std::fs::create_dir_all(&dir)?;
    let db = dir.join(format!("foreman-{tickets}-{events}.db"));
    let store = SqlStore::open_sqlite(&db).await?;
    store.migrate().await?;
    let detail_id = seed(&store, tickets, events).await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let (new, secret) = NewApiToken::generate("bench", vec![Scope::Admin], None);
    store.create_token(new).await?;
    let token = secret.expose().to_owned();

    let hub = EventHub::default();
    let log: Arc<dyn EventLog> = store.clone();
    let publisher = Arc::new(PublishingEventLog::new(log, hub.clone()));
    let app = foreman_api::app(store.clone(), hub, foreman_api::ApiConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(foreman_api::serve(listener, app, std::future::pending()));

    println!("\n| route | req/s | p50 | p99 | errors |\n|---|---:|---:|---:|---|");
    let routes = [
        "/api/tickets?status=implementing&limit=50".to_owned(),
        "/api/tickets?limit=50".to_owned(),
        format!("/api/tickets/{detail_id}"),
        "/api/events?limit=50".to_owned(),
        "/api/health".to_owned(),
    ];
    let have_wrk = Command::new("wrk").arg("--version").output().is_ok();
    for route in &routes {
        if !have_wrk {
            println!("| `GET {route}` | (wrk not installed) | | | |");
            continue;
        }
        let url = format!("http://{addr}{route}");
        let r = tokio::task::spawn_blocking({
            let token = token.clone();
            move || wrk(&url, &token, secs, conns)
        })
        .await??;
        let shown = route.replace(&detail_id, "{id}");
        println!(
            "| `GET {shown}` | {:.0} | {:.2} ms | {:.2} ms | {} |",
            r.rps,
            r.p50_ms,
            r.p99_ms,
            if r.errors.is_empty() {
                "none"
            } else {
                r.errors.trim()
            }
        );
    }

    let plan =
        std::env::var("FOREMAN_BENCH_FANOUT").unwrap_or_else(|_| "1000:5000,100:1000".into());
    println!(
        "\n| subscribers | events/s | published | delivered | lost | lag notices | p50 | p99 | max |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for spec in plan.split(',') {
        let (subs, rate) = spec
            .split_once(':')
            .context("FOREMAN_BENCH_FANOUT is subs:rate,...")?;
        fanout(&publisher, &token, addr, subs.parse()?, rate.parse()?, secs).await?;
    }
    Ok(())
}

/// Publishes `rate` events/s for `secs` while `subs` WebSocket clients in a child process
/// receive them; reports delivery latency and loss.
async fn fanout(
    publisher: &Arc<PublishingEventLog>,
    token: &str,
    addr: std::net::SocketAddr,
    subs: u64,
    rate: u64,
    secs: u64,
) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args([
            "--fanout-client",
            &addr.to_string(),
            token,
            &subs.to_string(),
            &(secs + 5).to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("child stdout")?).lines();
    let ready = tokio::task::spawn_blocking(move || {
        let first = lines.next();
        (first, lines)
    });
    let (first, mut lines) = ready.await?;
    if first.transpose()?.as_deref() != Some("ready") {
        bail!("fan-out client did not start");
    }
    // Publish in batches every 10 ms.
    let per_tick = (rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let end = Instant::now() + Duration::from_secs(secs);
    let mut published = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        let batch: Vec<NewEvent> = (0..per_tick)
            .map(|_| {
                NewEvent::new(EventType::AgentTurn, "fan-out")
                    .details(serde_json::json!({ "ts_us": now_us() }))
            })
            .collect();
        published += batch.len() as u64;
        publisher.append_batch(batch).await?;
    }
    let summary = tokio::task::spawn_blocking(move || lines.next())
        .await?
        .transpose()?
        .unwrap_or_default();
    child.wait()?;
    let v: serde_json::Value = serde_json::from_str(&summary).context("fan-out summary")?;
    let delivered = v["delivered"].as_u64().unwrap_or(0);
    let expected = published * subs;
    println!(
        "| {subs} | {rate} | {published} | {delivered} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
        expected.saturating_sub(delivered),
        v["notices"],
        v["p50_ms"].as_f64().unwrap_or(f64::NAN),
        v["p99_ms"].as_f64().unwrap_or(f64::NAN),
        v["max_ms"].as_f64().unwrap_or(f64::NAN),
    );
    Ok(())
}

/// Client mode: `subs` WebSocket subscribers for `secs`, then one JSON summary line.
fn fanout_client(addr: &str, token: &str, subs: u64, secs: u64) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let latencies: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(Vec::new()));
        let notices = Arc::new(Mutex::new(0u64));
        let mut sockets = Vec::new();
        for _ in 0..subs {
            let url = format!("ws://{addr}/ws/events?types=agent_turn");
            let mut req =
                tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                    url,
                )?;
            req.headers_mut()
                .insert("sec-websocket-protocol", format!("bearer.{token}").parse()?);
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            let (ws, _) = tokio_tungstenite::client_async(req, tcp).await?;
            sockets.push(ws);
        }
        println!("ready");
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for mut ws in sockets {
            let latencies = latencies.clone();
            let notices = notices.clone();
            tasks.push(tokio::spawn(async move {
                let mut seen = HashSet::new();
                let mut local = Vec::new();
                while let Ok(Some(Ok(msg))) =
                    tokio::time::timeout_at(deadline.into(), ws.next()).await
                {
                    if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                        let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                        if v["event_type"] == "events_dropped" {
                            *notices.lock().unwrap() += 1;
                        } else if let Some(ts) = v["details"]["ts_us"].as_i64()
                            && seen.insert(v["seq"].as_i64().unwrap_or(0))
                        {
                            local.push(now_us() - ts);
                        }
                    }
                }
                latencies.lock().unwrap().extend(local);
            }));
        }
        for t in tasks {
            t.await?;
        }
        let mut l = latencies.lock().unwrap().clone();
        l.sort_unstable();
        let pct = |p: f64| -> f64 {
            if l.is_empty() {
                return f64::NAN;
            }
            l[((l.len() - 1) as f64 * p) as usize] as f64 / 1000.0
        };
        println!(
            "{}",
            serde_json::json!({
                "delivered": l.len(),
                "notices": *notices.lock().unwrap(),
                "p50_ms": pct(0.50),
                "p99_ms": pct(0.99),
                "max_ms": pct(1.0),
            })
        );
        Ok(())
    })
}
