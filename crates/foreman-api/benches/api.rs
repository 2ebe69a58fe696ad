//! API load benchmark (`cargo xtask bench api`, i.e. `cargo bench -p foreman-api --bench api`).
//!
//! Seeds a SQLite database (100k tickets, 1M events by default; reused between runs under
//! `target/bench-api/`), serves the real router on a loopback port, and drives it from
//! separate processes: `wrk` (Debian package `wrk`) for HTTP routes, and this binary re-run in
//! client mode for WebSocket fan-out. Prints Markdown tables for `docs/benchmarks.md`.
//!
//! HTTP routes run twice: as shipped, and with the store's read cache off (every request runs
//! its SQL). Besides the hot list and detail requests, one row asks for the details of tickets
//! drawn at random from 20% of the store, far more than any cache holds.
//!
//! Fan-out publishes at the offered rate whatever the delay of a batch, counts only events after
//! a 2 s warm-up, and lets clients read until they have every event of the run (or 60 s after
//! publishing stopped), so an event still queued when publishing stops counts as late, not
//! lost; each client extracts only `seq` and the publish stamp from a message, so the client
//! costs little next to the server it measures.
//!
//! Knobs (environment): `FOREMAN_BENCH_TICKETS`, `FOREMAN_BENCH_EVENTS`,
//! `FOREMAN_BENCH_SECS` (per HTTP route and per fan-out run, default 10),
//! `FOREMAN_BENCH_CONNECTIONS` (64), `FOREMAN_BENCH_HTTP` (0 skips the HTTP routes),
//! `FOREMAN_BENCH_FANOUT` (`subscribers:events_per_sec[:tickets]` list, default
//! `1000:5000,1000:5000:1000,1000:1000,100:1000`; with `tickets`, events are spread over that
//! many tickets and each subscriber follows one; empty skips fan-out).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use foreman_domain::{
    EventLog, EventType, NewApiToken, NewEvent, NewTicket, Scope, Store, TicketId, TicketStatus,
    TicketStore, TokenStore,
};
use foreman_events::{EventHub, PublishingEventLog};
use foreman_store::SqlStore;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--fanout-client") {
        return fanout_client(&args[2], &args[3], args[4].parse()?);
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

fn wrk(
    url: &str,
    token: &str,
    script: Option<&std::path::Path>,
    secs: u64,
    conns: u64,
) -> Result<WrkResult> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        &format!("-c{conns}"),
        &format!("-d{secs}s"),
        "--latency",
    ]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = cmd
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

/// Writes a `wrk` script that requests `/api/tickets/{id}` for ids drawn at random from `ids`.
fn random_detail_script(dir: &std::path::Path, ids: &[String]) -> Result<PathBuf> {
    let path = dir.join("random-detail.lua");
    let mut lua = String::from("local ids = {\n");
    for id in ids {
        lua.push_str(&format!("  \"{id}\",\n"));
    }
    lua.push_str(
        "}\nmath.randomseed(42)\nrequest = function()\n  \
         return wrk.format(nil, \"/api/tickets/\" .. ids[math.random(#ids)])\nend\n",
    );
    std::fs::write(&path, lua)?;
    Ok(path)
}

/// Every `step`-th ticket id, walking the whole list by cursor.
async fn spread_ids(store: &SqlStore, step: usize) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut cursor = None;
    let mut n = 0usize;
    loop {
        let page = store
            .list_tickets(&foreman_domain::TicketFilter {
                limit: 500,
                cursor: cursor.take(),
                ..Default::default()
            })
            .await?;
        for t in page.items {
            if n.is_multiple_of(step) {
                ids.push(t.id.to_string());
            }
            n += 1;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(ids),
        }
    }
}

/// The ids of the newest `n` tickets.
async fn first_ticket_ids(store: &dyn Store, n: u64) -> Result<Vec<TicketId>> {
    let mut ids = Vec::new();
    let mut cursor = None;
    while (ids.len() as u64) < n {
        let page = store
            .list_tickets(&foreman_domain::TicketFilter {
                limit: 500,
                cursor: cursor.take(),
                ..Default::default()
            })
            .await?;
        ids.extend(page.items.into_iter().map(|t| t.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    ids.truncate(usize::try_from(n)?);
    Ok(ids)
}

/// Serves the real router over `store` on a loopback port until the process ends.
async fn start_server(store: Arc<dyn Store>, hub: EventHub) -> Result<std::net::SocketAddr> {
    let app = foreman_api::app(store, hub, foreman_api::ApiConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(foreman_api::serve(listener, app, std::future::pending()));
    Ok(addr)
}

/// One `wrk` run per route against `addr`, printed as table rows.
async fn http_rows(
    addr: std::net::SocketAddr,
    token: &str,
    routes: &[(String, String, Option<PathBuf>)],
    secs: u64,
    conns: u64,
) -> Result<()> {
    for (shown, route, script) in routes {
        let url = format!("http://{addr}{route}");
        let r = tokio::task::spawn_blocking({
            let token = token.to_owned();
            let script = script.clone();
            move || wrk(&url, &token, script.as_deref(), secs, conns)
        })
        .await??;
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
    Ok(())
}

async fn run() -> Result<()> {
    let tickets = env_or("FOREMAN_BENCH_TICKETS", 100_000);
    let events = env_or("FOREMAN_BENCH_EVENTS", 1_000_000);
    let secs = env_or("FOREMAN_BENCH_SECS", 10);
    let conns = env_or("FOREMAN_BENCH_CONNECTIONS", 64);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-api");
    std::fs::create_dir_all(&dir)?;
    let db = dir.join(format!("foreman-{tickets}-{events}.db"));
    let sql = SqlStore::open_sqlite(&db).await?;
    sql.migrate().await?;
    let detail_id = seed(&sql, tickets, events).await?;
    let (new, secret) = NewApiToken::generate("bench", vec![Scope::Admin], None);
    sql.create_token(new).await?;
    let token = secret.expose().to_owned();
    let have_wrk = Command::new("wrk").arg("--version").output().is_ok();

    if env_or("FOREMAN_BENCH_HTTP", 1) == 0 {
        println!("(HTTP routes skipped: FOREMAN_BENCH_HTTP=0)");
    } else if have_wrk {
        // Detail requests spread over 20% of the tickets: far more than any cache holds.
        let ids = spread_ids(&sql, 5).await?;
        let script = random_detail_script(&dir, &ids)?;
        let random = format!("/api/tickets/{{random of {}}}", ids.len());
        let hot = |route: &str| (route.replace(&detail_id, "{id}"), route.to_owned(), None);
        let status_list = "/api/tickets?status=implementing&limit=50";
        let detail = format!("/api/tickets/{detail_id}");

        println!("\n| route | req/s | p50 | p99 | errors |\n|---|---:|---:|---:|---|");
        let store: Arc<dyn Store> = Arc::new(sql.clone());
        let hub = EventHub::default();
        let addr = start_server(store.clone(), hub.clone()).await?;
        let routes = [
            hot(status_list),
            hot("/api/tickets?limit=50"),
            hot(&detail),
            (random.clone(), "/".to_owned(), Some(script.clone())),
            hot("/api/events?limit=50"),
            hot("/api/health"),
        ];
        http_rows(addr, &token, &routes, secs, conns).await?;
        // The feed of a server that is publishing: its newest events were relayed live (the
        // row above read the seeded events, which this server never relayed).
        let log: Arc<dyn EventLog> = store;
        let live = PublishingEventLog::new(log, hub);
        live.append_batch(
            (0..100)
                .map(|i| NewEvent::new(EventType::AgentTurn, format!("live event {i}")))
                .collect(),
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let feed = [(
            "/api/events?limit=50 (after 100 live events)".to_owned(),
            "/api/events?limit=50".to_owned(),
            None,
        )];
        http_rows(addr, &token, &feed, secs, conns).await?;

        // The same routes with the store's read cache off: every request runs its query.
        println!("\nstore read cache off:\n");
        println!("| route | req/s | p50 | p99 | errors |\n|---|---:|---:|---:|---|");
        let uncached: Arc<dyn Store> = Arc::new(sql.clone().with_read_cache(false));
        let addr = start_server(uncached, EventHub::default()).await?;
        let routes = [
            hot(status_list),
            hot(&detail),
            (random, "/".to_owned(), Some(script)),
        ];
        http_rows(addr, &token, &routes, secs, conns).await?;
    } else {
        println!("(wrk not installed: HTTP routes skipped; apt-get install wrk)");
    }

    let store: Arc<dyn Store> = Arc::new(sql);
    let hub = EventHub::default();
    let log: Arc<dyn EventLog> = store.clone();
    let publisher = Arc::new(PublishingEventLog::new(log, hub.clone()));
    let addr = start_server(store.clone(), hub).await?;
    let plan = std::env::var("FOREMAN_BENCH_FANOUT")
        .unwrap_or_else(|_| "1000:5000,1000:5000:1000,1000:1000,100:1000".into());
    println!(
        "\n| subscribers | each receives | events/s | published | expected | delivered | not delivered 60 s after publishing stopped | duplicates | lag notices | drain after publishing | append p99 | p50 | p99 | max |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for spec in plan.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parts: Vec<u64> = spec
            .split(':')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .context("FOREMAN_BENCH_FANOUT is subs:rate[:tickets],...")?;
        let (subs, rate, spread) = match parts[..] {
            [subs, rate] => (subs, rate, 0),
            [subs, rate, tickets] => (subs, rate, tickets),
            _ => bail!("FOREMAN_BENCH_FANOUT is subs:rate[:tickets],..."),
        };
        let tickets = first_ticket_ids(store.as_ref(), spread).await?;
        fanout(&publisher, &token, addr, (subs, rate, secs), &tickets).await?;
    }
    Ok(())
}

/// How long subscribers may take, once publishing stops, to receive what is still queued
/// before the rest counts as lost.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// Publishing, unmeasured, before each fan-out run.
const WARMUP: Duration = Duration::from_secs(2);

/// What one publishing phase sent.
struct Sent {
    published: u64,
    /// Events per group (per ticket; one group without tickets).
    per_group: Vec<u64>,
    /// The last seq of each group.
    last_of_group: Vec<i64>,
    first_seq: i64,
    /// How long each `append_batch` took, in µs.
    append_us: Vec<u64>,
}

/// Appends `rate` events/s for `length` through `publisher`, event `k` about ticket
/// `k % tickets.len()` (no ticket when `tickets` is empty). Every 10 ms it appends what is due
/// by then, so the offered rate holds even when a batch is late (the publisher shares the
/// server's runtime, as the pipeline does).
async fn publish(
    publisher: &PublishingEventLog,
    tickets: &[TicketId],
    rate: u64,
    length: Duration,
) -> Result<Sent> {
    let groups = tickets.len().max(1);
    let total = u64::try_from(u128::from(rate) * length.as_millis() / 1000)?;
    let mut sent = Sent {
        published: 0,
        per_group: vec![0; groups],
        last_of_group: vec![0; groups],
        first_seq: 0,
        append_us: Vec::new(),
    };
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let start = Instant::now();
    while Instant::now() < start + length {
        tick.tick().await;
        let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let due = (rate.saturating_mul(elapsed_ms) / 1000).min(total);
        let from = sent.published;
        let n = due.saturating_sub(from);
        if n == 0 {
            continue;
        }
        let group = |k: u64| usize::try_from(k).unwrap_or(0) % groups;
        let batch: Vec<NewEvent> = (from..from + n)
            .map(|k| {
                let e = NewEvent::new(EventType::AgentTurn, "fan-out")
                    .details(serde_json::json!({ "ts_us": now_us() }));
                match tickets.get(group(k)) {
                    Some(id) => e.ticket(id),
                    None => e,
                }
            })
            .collect();
        let appending = Instant::now();
        let stored = publisher.append_batch(batch).await?;
        sent.append_us
            .push(u64::try_from(appending.elapsed().as_micros()).unwrap_or(u64::MAX));
        if sent.first_seq == 0 {
            sent.first_seq = stored.first().map_or(0, |e| e.seq);
        }
        for (k, event) in (from..).zip(&stored) {
            sent.per_group[group(k)] += 1;
            sent.last_of_group[group(k)] = event.seq;
        }
        sent.published += n;
    }
    Ok(sent)
}

/// Publishes `rate` events/s for `secs` while `subs` WebSocket clients in a child process
/// receive them; reports delivery latency, loss and duplicates.
///
/// With no `tickets`, every client receives every event. Otherwise event `k` belongs to ticket
/// `k % tickets.len()` and client `j` subscribes to ticket `j % tickets.len()` only, as a
/// dashboard showing one ticket does. Only events after a [`WARMUP`] count. The clients run until each has received the last event
/// meant for it (or [`DRAIN_LIMIT`] after publishing ended), so a backlog still in flight
/// counts as late, not as lost.
async fn fanout(
    publisher: &Arc<PublishingEventLog>,
    token: &str,
    addr: std::net::SocketAddr,
    (subs, rate, secs): (u64, u64, u64),
    tickets: &[TicketId],
) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args([
            "--fanout-client",
            &addr.to_string(),
            token,
            &subs.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().context("child stdin")?;
    {
        use std::io::Write;
        let ids: Vec<&str> = tickets.iter().map(TicketId::as_str).collect();
        writeln!(stdin, "{}", ids.join(" "))?;
        stdin.flush()?;
    }
    let mut lines = BufReader::new(child.stdout.take().context("child stdout")?).lines();
    let ready = tokio::task::spawn_blocking(move || {
        let first = lines.next();
        (first, lines)
    });
    let (first, mut lines) = ready.await?;
    if first.transpose()?.as_deref() != Some("ready") {
        bail!("fan-out client did not start");
    }
    // A warm-up first (caches, connections, the relay's ticket lookups): its events are not
    // counted.
    publish(publisher, tickets, rate, WARMUP).await?;
    let Sent {
        published,
        per_group,
        last_of_group,
        first_seq,
        mut append_us,
    } = publish(publisher, tickets, rate, Duration::from_secs(secs)).await?;
    let groups = per_group.len();
    let published_at = Instant::now();
    {
        use std::io::Write;
        let lasts: Vec<String> = last_of_group.iter().map(ToString::to_string).collect();
        writeln!(stdin, "{first_seq} {}", lasts.join(" "))?;
        stdin.flush()?;
    }
    let summary = tokio::task::spawn_blocking(move || lines.next())
        .await?
        .transpose()?
        .unwrap_or_default();
    let drained = published_at.elapsed();
    child.wait()?;
    let v: serde_json::Value = serde_json::from_str(&summary).context("fan-out summary")?;
    let delivered = v["delivered"].as_u64().unwrap_or(0);
    let expected: u64 = (0..usize::try_from(subs)?)
        .map(|j| per_group[j % groups])
        .sum();
    append_us.sort_unstable();
    let append_p99_ms = append_us
        .get(append_us.len().saturating_sub(1) * 99 / 100)
        .map_or(f64::NAN, |us| *us as f64 / 1000.0);
    let receives = if tickets.is_empty() {
        "every event".to_owned()
    } else {
        format!("1 of {} tickets", tickets.len())
    };
    println!(
        "| {subs} | {receives} | {rate} | {published} | {expected} | {delivered} | {} | {} | {} | {:.1} s | {append_p99_ms:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
        expected.saturating_sub(delivered),
        v["duplicates"],
        v["notices"],
        drained.as_secs_f64(),
        v["p50_ms"].as_f64().unwrap_or(f64::NAN),
        v["p99_ms"].as_f64().unwrap_or(f64::NAN),
        v["max_ms"].as_f64().unwrap_or(f64::NAN),
    );
    Ok(())
}

/// The integer after `key` in `text` (a JSON member such as `"seq":`), without parsing the
/// rest: the client must cost far less than the server it measures.
fn int_after(text: &[u8], at: Option<usize>, key_len: usize) -> Option<i64> {
    let at = at? + key_len;
    let mut value = 0i64;
    let mut digits = 0;
    for &b in &text[at..] {
        if !b.is_ascii_digit() {
            break;
        }
        value = value * 10 + i64::from(b - b'0');
        digits += 1;
    }
    (digits > 0).then_some(value)
}

/// Opens a WebSocket with a hand-written handshake over a plain TCP stream, so that the client
/// can read frames straight from large reads (see [`frames`]).
async fn ws_connect(addr: &str, path: &str, token: &str) -> Result<tokio::net::TcpStream> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: bearer.{token}\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    // the server sends nothing after its headers until there is an event
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await? == 0 {
            bail!("connection closed during the handshake");
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        bail!("handshake refused: {}", String::from_utf8_lossy(&head));
    }
    Ok(tcp)
}

/// Splits complete server frames off the front of `buf`: calls `each(opcode, payload)` for
/// every one and returns how many bytes they took (a partial frame stays for the next read).
fn frames(buf: &[u8], mut each: impl FnMut(u8, &[u8])) -> usize {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        if rest.len() < 2 {
            return at;
        }
        let (len, head) = match rest[1] & 0x7F {
            126 if rest.len() >= 4 => (usize::from(u16::from_be_bytes([rest[2], rest[3]])), 4),
            127 if rest.len() >= 10 => (
                usize::try_from(u64::from_be_bytes(
                    rest[2..10].try_into().unwrap_or_default(),
                ))
                .unwrap_or(usize::MAX),
                10,
            ),
            126 | 127 => return at,
            n => (usize::from(n), 2),
        };
        if rest.len() < head + len {
            return at;
        }
        each(rest[0] & 0x0F, &rest[head..head + len]);
        at += head + len;
    }
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    /// Latencies (µs) of distinct events of the run.
    latencies: Vec<u32>,
    duplicates: u64,
    notices: u64,
}

/// Client mode: reads the ticket ids to follow (one line, empty for every event), opens `subs`
/// WebSocket subscribers, prints `ready`; then reads `first_seq last_seq_of_each_group` once the
/// publisher is done and prints one JSON summary line when every subscriber has its last event
/// (or [`DRAIN_LIMIT`] has passed).
fn fanout_client(addr: &str, token: &str, subs: u64) -> Result<()> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let tickets: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut sockets = Vec::new();
        for j in 0..usize::try_from(subs)? {
            let mut path = "/ws/events?types=agent_turn".to_owned();
            if !tickets.is_empty() {
                path.push_str(&format!("&ticket_id={}", tickets[j % tickets.len()]));
            }
            sockets.push(ws_connect(addr, &path, token).await?);
        }
        println!("ready");
        // The run's first seq and the last seq of each group, once the publisher is done.
        type Range = Option<(i64, Arc<Vec<i64>>, Instant)>;
        let (range_tx, range_rx) = tokio::sync::watch::channel(Range::None);
        std::thread::spawn(move || {
            let mut line = String::new();
            if std::io::stdin().read_line(&mut line).is_ok() {
                let values: Vec<i64> = line
                    .split_whitespace()
                    .map(|v| v.parse::<i64>().unwrap_or(0))
                    .collect();
                let first = values.first().copied().unwrap_or(0);
                let lasts = Arc::new(values.get(1..).unwrap_or_default().to_vec());
                let _ = range_tx.send(Some((first, lasts, Instant::now() + DRAIN_LIMIT)));
            }
        });
        let mut tasks = Vec::new();
        for (j, mut ws) in sockets.into_iter().enumerate() {
            let mut range_rx = range_rx.clone();
            tasks.push(tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let seq_key = memchr::memmem::Finder::new(b"\"seq\":");
                // `details`, with the stamp, comes after `seq`
                let ts_key = memchr::memmem::Finder::new(b"\"ts_us\":");
                let dropped = memchr::memmem::Finder::new(b"\"events_dropped\"");
                let mut seen = Seen::default();
                let mut stamped = Vec::<(i64, u32)>::new();
                let mut last = 0i64;
                let mut wake = tokio::time::interval(Duration::from_millis(500));
                let mut buf = vec![0u8; 256 * 1024];
                let mut filled = 0;
                loop {
                    let done = match &*range_rx.borrow_and_update() {
                        Some((_, lasts, deadline)) => {
                            let end = lasts.get(j % lasts.len().max(1)).copied().unwrap_or(0);
                            last >= end || Instant::now() >= *deadline
                        }
                        None => false,
                    };
                    if done {
                        break;
                    }
                    if filled == buf.len() {
                        buf.resize(buf.len() * 2, 0);
                    }
                    let n = tokio::select! {
                        n = ws.read(&mut buf[filled..]) => n,
                        _ = range_rx.changed() => continue,
                        _ = wake.tick() => continue,
                    };
                    let Ok(n) = n else { break };
                    if n == 0 {
                        break;
                    }
                    filled += n;
                    // one clock read per read: every message in it arrived by now
                    let now = now_us();
                    let used = frames(&buf[..filled], |op, text| {
                        if op != 1 {
                            return;
                        }
                        if text.len() < 100 && dropped.find(text).is_some() {
                            seen.notices += 1;
                            return;
                        }
                        let seq_at = seq_key.find(text);
                        let Some(seq) = int_after(text, seq_at, seq_key.needle().len()) else {
                            return;
                        };
                        if seq <= last {
                            seen.duplicates += 1;
                            return;
                        }
                        last = seq;
                        let after = seq_at.unwrap_or(0);
                        let ts_at = ts_key.find(&text[after..]).map(|i| i + after);
                        if let Some(ts) = int_after(text, ts_at, ts_key.needle().len()) {
                            let us = u32::try_from((now - ts).max(0)).unwrap_or(u32::MAX);
                            stamped.push((seq, us));
                        }
                    });
                    buf.copy_within(used..filled, 0);
                    filled -= used;
                }
                let first = range_rx.borrow().as_ref().map_or(i64::MIN, |(f, _, _)| *f);
                seen.latencies = stamped
                    .into_iter()
                    .filter(|(seq, _)| *seq >= first)
                    .map(|(_, us)| us)
                    .collect();
                seen
            }));
        }
        let mut all = Vec::new();
        let (mut duplicates, mut notices) = (0u64, 0u64);
        for t in tasks {
            let seen = t.await?;
            all.extend(seen.latencies);
            duplicates += seen.duplicates;
            notices += seen.notices;
        }
        all.sort_unstable();
        let pct = |p: f64| -> f64 {
            if all.is_empty() {
                return f64::NAN;
            }
            f64::from(all[((all.len() - 1) as f64 * p) as usize]) / 1000.0
        };
        println!(
            "{}",
            serde_json::json!({
                "delivered": all.len(),
                "duplicates": duplicates,
                "notices": notices,
                "p50_ms": pct(0.50),
                "p99_ms": pct(0.99),
                "max_ms": pct(1.0),
            })
        );
        Ok(())
    })
}
