//! Operations benchmark: submission throughput, batch latency, search latency at 100,000
//! tickets and `logs --follow` end-to-end latency, against the real `foreman-server` binary
//! (release build) on SQLite and, when `FOREMAN_TEST_POSTGRES_URL` is set, PostgreSQL (a
//! schema of its own, dropped afterwards). Prints Markdown tables.
//!
//! Run with `cargo xtask bench ops` (builds the release server, then
//! `FOREMAN_SERVER_BIN=target/release/foreman-server cargo bench -p foreman-api --bench ops`).
//! HTTP load comes from `wrk` (Debian package `wrk`) in a separate process; server, load
//! generator and this process share the machine.
//!
//! Each backend gets a fresh server: `--demo` (scripted provider, local git host), API rate
//! limits off (`[dashboard] requests_per_minute = 0`, `write_requests_per_minute = 0`), log
//! lines kept at `info`. The daemon is drained (`POST /api/daemon/drain`) right after start, so
//! it claims none of the benchmark's tickets. Then, in order:
//!
//! 1. `logs --follow` latency on the idle server: an SSE client on `GET /api/logs?follow=true`
//!    while `POST /api/daemon/drain` (which logs one `info` line) is called every 20 ms;
//!    latency = the client's clock when the line's event arrives − the line's `at` (stamped when
//!    the server emitted it; same machine, same clock).
//! 2. `POST /api/tickets` throughput (`wrk`, 10 s), then a batch of 20 (`POST
//!    /api/tickets/batch`) one request at a time and with 4 connections.
//! 3. `logs --follow` latency again while `wrk` submits tickets.
//! 4. The store is filled to `FOREMAN_BENCH_TICKETS` (default 100,000) tickets through the batch
//!    route (4 clients), then each search query runs on one connection for 5 s, and a mix of
//!    them on 16 connections for 10 s.
//!
//! Ticket text is drawn from a vocabulary of 4,000 made-up words with a skewed (Zipf-like)
//! frequency, as in `foreman-store`'s search benchmark: a 7-word title and a 60-word
//! description, so a common word matches a large share of the tickets and a rare word a few.
//! `FOREMAN_BENCH_SECS` overrides the 10 s of each throughput run; `FOREMAN_BENCH_SEARCH=0`
//! leaves out step 4 (the fill and the search runs).

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]

use foreman_testkit::corpus::{Rng, VOCABULARY, text, word};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use foreman_testkit::pg::TestSchema;
use serde_json::{Value, json};

/// One ticket body for `POST /api/tickets`.
fn ticket(rng: &mut Rng) -> Value {
    json!({"title": text(rng, 7), "description": text(rng, 60)})
}

/// What `wrk --latency` reported.
#[derive(Debug, Default)]
struct Wrk {
    requests: u64,
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .map(|v| Duration::from_secs_f64(v * scale))
}

fn parse_wrk(out: &str) -> Result<Wrk> {
    let mut w = Wrk::default();
    for line in out.lines() {
        let t = line.trim();
        if let Some(r) = t.strip_prefix("Requests/sec:") {
            w.rate = r.trim().parse()?;
        } else if let Some(r) = t.strip_prefix("50%") {
            w.p50 = parse_duration(r).context("p50")?;
        } else if let Some(r) = t.strip_prefix("99%") {
            w.p99 = parse_duration(r).context("p99")?;
        } else if let Some(r) = t.strip_prefix("Non-2xx or 3xx responses:") {
            w.errors += r.trim().parse::<u64>()?;
        } else if t.starts_with("Socket errors:") {
            w.errors += t
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<u64>().ok())
                .sum::<u64>();
        } else if t.contains("requests in") {
            w.requests = t
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        }
    }
    if w.rate == 0.0 {
        bail!("unexpected wrk output:\n{out}");
    }
    Ok(w)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The 1-minute load average, for the tables.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// A Lua string literal.
fn lua_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A `wrk` script that cycles through `requests` (method, path, body).
fn wrk_script(requests: &[(&str, String, Option<String>)]) -> String {
    let mut s = String::from("local reqs = {\n");
    for (method, path, body) in requests {
        let _ = writeln!(
            s,
            "  {{{}, {}, {}}},",
            lua_str(method),
            lua_str(path),
            body.as_deref().map_or_else(|| "nil".to_owned(), lua_str)
        );
    }
    s.push_str(
        "}\nlocal i = 0\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         request = function()\n\
           i = i + 1\n\
           local r = reqs[(i % #reqs) + 1]\n\
           return wrk.format(r[1], r[2], nil, r[3])\n\
         end\n",
    );
    s
}

struct Server {
    child: Child,
    base: String,
    token: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_bin() -> Result<PathBuf> {
    let path = match std::env::var("FOREMAN_SERVER_BIN") {
        Ok(p) => PathBuf::from(p),
        Err(_) => {
            let exe = std::env::current_exe()?;
            exe.parent()
                .and_then(Path::parent)
                .context("no target directory")?
                .join("foreman-server")
        }
    };
    if !path.exists() {
        bail!("{} missing: run `cargo xtask bench ops`", path.display());
    }
    Ok(path)
}

impl Server {
    async fn start(database_url: Option<&str>) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = String::from(
            "[dashboard]\nrequests_per_minute = 0\nwrite_requests_per_minute = 0\n\n\
             [daemon]\nlog_level = \"info\"\n\n[logs]\nlevel = \"info\"\n",
        );
        if let Some(url) = database_url {
            let _ = write!(
                config,
                "\n[database]\ndriver = \"postgres\"\nurl = \"{url}\"\n"
            );
        }
        let config_path = dir.path().join("foreman.toml");
        std::fs::write(&config_path, config)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let data = dir.path().join("data");
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let child = Command::new(server_bin()?)
            .args(["--demo", "--port", &port.to_string(), "--data-dir"])
            .arg(&data)
            .arg("--config")
            .arg(&config_path)
            .env_remove("RUST_LOG")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().build()?;
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(format!("{base}/api/health")).send().await
                && r.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "server did not start; its log:\n{}",
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let token = std::fs::read_to_string(data.join("dashboard_token"))?
            .trim()
            .to_owned();
        let server = Self {
            child,
            base,
            token,
            dir,
            http,
        };
        server.post("/api/daemon/drain", &json!({})).await?;
        // let the demo ticket, claimed before the drain, finish
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let stats = server.get("/api/stats").await?;
            if stats["slots"]["busy"].as_u64() == Some(0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(server)
    }

    async fn get(&self, path: &str) -> Result<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = r.status();
        let body = r.text().await?;
        if !status.is_success() {
            bail!("GET {path}: {status} {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Starts `wrk` over the script's requests; `wait_with_output` gives its report.
    fn spawn_wrk(&self, name: &str, script: &str, connections: u32, secs: u64) -> Result<Child> {
        let path = self.dir.path().join(format!("{name}.lua"));
        std::fs::write(&path, script)?;
        let threads = connections.clamp(1, 2);
        Command::new("wrk")
            .args([
                &format!("-t{threads}"),
                &format!("-c{connections}"),
                &format!("-d{secs}s"),
                "--latency",
                "-H",
                &format!("Authorization: Bearer {}", self.token),
                "-s",
            ])
            .arg(&path)
            .arg(&self.base)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run wrk (Debian package `wrk`)")
    }

    fn wrk(&self, name: &str, script: &str, connections: u32, secs: u64) -> Result<Wrk> {
        let out = self
            .spawn_wrk(name, script, connections, secs)?
            .wait_with_output()?;
        parse_wrk(&String::from_utf8_lossy(&out.stdout))
    }

    async fn queue_length(&self) -> Result<u64> {
        self.get("/api/stats").await?["queue_length"]
            .as_u64()
            .context("stats without queue_length")
    }

    async fn total_tickets(&self) -> Result<u64> {
        self.get("/api/stats").await?["total"]
            .as_u64()
            .context("stats without total")
    }

    /// `logs --follow` latency over `lines` drain calls `every` apart: (p50, p99, max, lines
    /// received of those logged).
    async fn follow_latency(
        &self,
        lines: usize,
        every: Duration,
    ) -> Result<(Vec<Duration>, usize)> {
        let mut sse = self
            .http
            .get(format!("{}/api/logs?follow=true&level=info", self.base))
            .bearer_auth(&self.token)
            .header("accept", "text/event-stream")
            .send()
            .await?;
        if !sse.status().is_success() {
            bail!("logs follow: {}", sse.status());
        }
        let marker = "daemon draining";
        let reader = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut buf = String::new();
            let mut seen = 0;
            let deadline = Instant::now() + Duration::from_secs(120);
            while seen < lines && Instant::now() < deadline {
                let chunk = match tokio::time::timeout(Duration::from_secs(5), sse.chunk()).await {
                    Ok(Ok(Some(c))) => c,
                    _ => break,
                };
                let now = Utc::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find('\n') {
                    let line: String = buf.drain(..=end).collect();
                    let Some(data) = line.trim_end().strip_prefix("data:") else {
                        continue;
                    };
                    let Ok(v) = serde_json::from_str::<Value>(data.trim()) else {
                        continue;
                    };
                    if !v["message"].as_str().is_some_and(|m| m.contains(marker)) {
                        continue;
                    }
                    let Some(at) = v["at"]
                        .as_str()
                        .and_then(|a| DateTime::parse_from_rfc3339(a).ok())
                    else {
                        continue;
                    };
                    let lag = (now - at.with_timezone(&Utc))
                        .to_std()
                        .unwrap_or(Duration::ZERO);
                    samples.push(lag);
                    seen += 1;
                }
            }
            samples
        });
        // the subscription is live once the response head is here; give it a moment anyway
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut tick = tokio::time::interval(every);
        for _ in 0..lines {
            tick.tick().await;
            self.post("/api/daemon/drain", &json!({})).await?;
        }
        let mut samples = reader.await?;
        let received = samples.len();
        samples.sort();
        Ok((samples, received))
    }
}

fn secs() -> u64 {
    std::env::var("FOREMAN_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

fn wrk_row(backend: &str, what: &str, w: &Wrk, target: &str) {
    println!(
        "| {backend} | {what} | {:.0} /s | {} | {} | {} | {target} | {} |",
        w.rate,
        ms(w.p50),
        ms(w.p99),
        w.errors,
        load()
    );
}

fn follow_row(backend: &str, what: &str, samples: &[Duration], received: usize, sent: usize) {
    println!(
        "| {backend} | {what}: {received} of {sent} lines, max {} | | {} | {} | {} | ≤ 100 ms p99 | {} |",
        ms(samples.last().copied().unwrap_or_default()),
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.99)),
        sent - received,
        load()
    );
}

async fn run(backend: &str, database_url: Option<&str>, tickets: u64) -> Result<()> {
    let server = Server::start(database_url).await?;
    let secs = secs();
    let mut rng = Rng(17);

    // 1. logs --follow, idle
    let (samples, received) = server
        .follow_latency(300, Duration::from_millis(20))
        .await?;
    follow_row(
        backend,
        "`logs --follow`, idle server",
        &samples,
        received,
        300,
    );

    // 2. submission
    let singles: Vec<(&str, String, Option<String>)> = (0..64)
        .map(|_| {
            (
                "POST",
                "/api/tickets".to_owned(),
                Some(ticket(&mut rng).to_string()),
            )
        })
        .collect();
    let single_script = wrk_script(&singles);
    for c in [1, 16, 64] {
        let before = server.queue_length().await?;
        let w = server.wrk("single", &single_script, c, secs)?;
        let after = server.queue_length().await?;
        wrk_row(
            backend,
            &format!("`POST /api/tickets`, {c} connection(s); queued {before} → {after}"),
            &w,
            "≥ 3,000/s (SQLite)",
        );
    }
    let batches: Vec<(&str, String, Option<String>)> = (0..16)
        .map(|_| {
            let items: Vec<Value> = (0..20).map(|_| ticket(&mut rng)).collect();
            (
                "POST",
                "/api/tickets/batch".to_owned(),
                Some(json!({ "items": items }).to_string()),
            )
        })
        .collect();
    let batch_script = wrk_script(&batches);
    for c in [1, 4] {
        let before = server.queue_length().await?;
        let w = server.wrk("batch", &batch_script, c, secs)?;
        let after = server.queue_length().await?;
        wrk_row(
            backend,
            &format!(
                "`POST /api/tickets/batch` of 20, {c} connection(s) (rate in batches); \
                 queued {before} → {after}"
            ),
            &w,
            "≤ 20 ms p99",
        );
    }

    // 3. logs --follow while tickets are submitted
    let load_run = server.spawn_wrk("single-bg", &single_script, 16, secs + 2)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (samples, received) = server
        .follow_latency(300, Duration::from_millis(20))
        .await?;
    let bg = parse_wrk(&String::from_utf8_lossy(
        &load_run.wait_with_output()?.stdout,
    ))?;
    follow_row(
        backend,
        &format!(
            "`logs --follow` while 16 connections submit tickets ({:.0} /s)",
            bg.rate
        ),
        &samples,
        received,
        300,
    );

    // 4. fill to `tickets`, then search
    if std::env::var("FOREMAN_BENCH_SEARCH").is_ok_and(|v| v == "0") {
        return Ok(());
    }
    let start = Instant::now();
    let have = server.total_tickets().await?;
    let missing = tickets.saturating_sub(have);
    let mut bodies = Vec::new();
    let mut left = missing;
    while left > 0 {
        let n = left.min(20);
        let items: Vec<Value> = (0..n).map(|_| ticket(&mut rng)).collect();
        bodies.push(json!({ "items": items }));
        left -= n;
    }
    let chunks: Vec<Vec<Value>> = {
        let per = bodies.len().div_ceil(4).max(1);
        bodies.chunks(per).map(<[Value]>::to_vec).collect()
    };
    let mut joins = Vec::new();
    for chunk in chunks {
        let http = server.http.clone();
        let url = format!("{}/api/tickets/batch", server.base);
        let token = server.token.clone();
        joins.push(tokio::spawn(async move {
            for body in chunk {
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await?;
                if !r.status().is_success() {
                    bail!("batch: {} {}", r.status(), r.text().await?);
                }
            }
            Ok(())
        }));
    }
    for j in joins {
        j.await??;
    }
    let total = server.total_tickets().await?;
    let took = start.elapsed().as_secs_f64();
    println!(
        "| {backend} | fill to {total} tickets: {missing} through `/api/tickets/batch`, 4 clients (setup) | {:.0} tickets/s | | | | | {} |",
        missing as f64 / took,
        load()
    );
    let cases: Vec<(String, String)> = vec![
        ("a rare word".into(), word(VOCABULARY - 7)),
        ("a mid-frequency word".into(), word(400)),
        ("a common word".into(), word(20)),
        ("the most common word".into(), word(0)),
        (
            "two common words".into(),
            format!("{}+{}", word(3), word(5)),
        ),
        ("a 3-letter prefix".into(), word(9)[..3].to_owned()),
    ];
    let search_secs = (secs / 2).max(2);
    for (name, q) in &cases {
        let path = format!("/api/tickets/search?q={q}");
        let found = server.get(&path).await?["items"]
            .as_array()
            .map_or(0, Vec::len);
        let w = server.wrk(
            "search",
            &wrk_script(&[("GET", path, None)]),
            1,
            search_secs,
        )?;
        wrk_row(
            backend,
            &format!("`GET /api/tickets/search?q={q}` ({name}; {found} on the page), 1 connection"),
            &w,
            "≤ 20 ms p99",
        );
    }
    let mixed: Vec<(&str, String, Option<String>)> = cases
        .iter()
        .map(|(_, q)| ("GET", format!("/api/tickets/search?q={q}"), None))
        .collect();
    let w = server.wrk("search-mix", &wrk_script(&mixed), 16, secs)?;
    wrk_row(
        backend,
        "`GET /api/tickets/search`, the six queries in turn, 16 connections",
        &w,
        "≤ 20 ms p99",
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let tickets: u64 = std::env::var("FOREMAN_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let only = std::env::var("FOREMAN_BENCH_BACKEND").unwrap_or_default();
    println!("| backend | measurement | rate | p50 | p99 | errors | target | load avg |");
    println!("|---|---|---:|---:|---:|---:|---|---:|");
    if only.is_empty() || only == "sqlite" {
        run("sqlite", None, tickets).await?;
    }
    if only.is_empty() || only == "postgres" {
        if let Some(schema) = TestSchema::create("bench_ops").await {
            let result = run("postgres", Some(schema.url()), tickets).await;
            schema.drop_schema().await;
            result?;
        } else {
            println!("(PostgreSQL skipped: set FOREMAN_TEST_POSTGRES_URL to include it)");
        }
    }
    Ok(())
}
