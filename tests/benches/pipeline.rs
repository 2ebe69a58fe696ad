//! `cargo xtask bench pipeline`: the whole pipeline under load, against a release
//! `foreman-server` (path in `FOREMAN_SERVER_BIN`), a zero-latency scripted provider with no
//! rate limit (`[rate_limit] requests_per_minute = 0`), the local tracker and git host and a
//! local bare remote.
//!
//! 1. Throughput: `FOREMAN_BENCH_TICKETS` (default 400) single-task tickets created through the
//!    API eight requests at a time (their plans name no files, so file reservations do not serialise them), worked `FOREMAN_BENCH_PARALLEL` (default 8) at a time, each to an open pull
//!    request (`awaiting_merge`; auto-merge is off so every ticket starts from the same `main`
//!    and the red→green proof holds for each). Reports tickets per minute and the mean time of
//!    each stage, from the events' timestamps.
//! 2. Memory: 50 tickets in flight at once (implementer answers delayed by 3 s so they stay in
//!    flight), peak RSS of the server process.
//! 3. Idle: CPU time of the server over `FOREMAN_BENCH_IDLE_SECS` (default 30, two housekeeping sweeps) with nothing to do but follow the open pull requests.
//!
//! `FOREMAN_BENCH_RUNNER_MODE` sets `[runner] mode` (`sandbox`, the default, or `none`), and
//! `FOREMAN_BENCH_SKIP_RSS=1` leaves out part 2, for alternating runs of two builds.
//!
//! Prints a Markdown table for `docs/benchmarks.md`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TEST_RUNNER: &str =
    "#!/bin/sh\nfor t in tests/t_*.sh; do sh \"$t\" || exit 1; done\necho ok\n";
const BASE_TEST: &str =
    "[ \"$(echo base)\" = base ] || { echo 'FAILED: expected base'; exit 1; }\n";
const FEATURE_TEST: &str = "[ -f feature.sh ] && . ./feature.sh\nif [ \"$(double 3 2>/dev/null)\" = 6 ]; then echo ok; else echo 'FAILED: expected double 3 = 6'; exit 1; fi\n";
const FEATURE: &str = "double() { echo $(( $1 * 2 )); }\n";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bare remote with a tiny shell project whose tests run in milliseconds.
fn sample_remote(dir: &Path) -> PathBuf {
    let remote = dir.join("remote.git");
    git(
        dir,
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            "remote.git",
        ],
    );
    let seed = dir.join("seed");
    git(dir, &["init", "--quiet", "--initial-branch=main", "seed"]);
    std::fs::create_dir_all(seed.join("tests")).unwrap();
    std::fs::write(seed.join("tests/run.sh"), TEST_RUNNER).unwrap();
    std::fs::write(seed.join("tests/t_base.sh"), BASE_TEST).unwrap();
    std::fs::write(seed.join("README.md"), "bench project\n").unwrap();
    git(&seed, &["add", "-A"]);
    git(
        &seed,
        &[
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@localhost",
            "commit",
            "--quiet",
            "-m",
            "seed",
        ],
    );
    git(
        &seed,
        &["push", "--quiet", remote.to_str().unwrap(), "main"],
    );
    remote
}

fn script(delay_ms: u64) -> Value {
    let usage = json!({"input_tokens": 1000, "output_tokens": 100});
    let review = |role: &str| {
        json!({"role": role, "response": {"tool_use": {"name": "submit_review",
            "input": {"approved": true, "issues": [], "summary": "ok"}}, "usage": usage}})
    };
    json!({"model": "bench", "entries": [
        {"role": "planner", "response": {"tool_use": {"name": "submit_plan", "input": {
            "summary": "one task", "too_large": false, "tasks": [{
                "sequence": 1, "title": "Add double", "description": "double() in feature.sh",
                "acceptance_criteria": "double 3 prints 6",
                "files_to_modify": [], "complexity": 1,
                "depends_on": []}]}}, "usage": usage}},
        {"role": "implementer", "match": "(created|overwrote) (tests/t_feature|feature)\\.sh",
         "delay_ms": delay_ms,
         "response": {"tool_use": {"name": "complete", "input": {"done": true, "summary": "done"}}, "usage": usage}},
        {"role": "implementer", "match": "PHASE: TESTS", "delay_ms": delay_ms,
         "response": {"tool_use": {"name": "write_file", "input": {"path": "tests/t_feature.sh", "content": FEATURE_TEST}}, "usage": usage}},
        {"role": "implementer", "match": "PHASE: IMPLEMENT", "delay_ms": delay_ms,
         "response": {"tool_use": {"name": "write_file", "input": {"path": "feature.sh", "content": FEATURE}}, "usage": usage}},
        review("spec_reviewer"), review("quality_reviewer"), review("final_reviewer")
    ]})
}

struct Server {
    child: Child,
    base: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `FOREMAN_BENCH_RUNNER_MODE` (`sandbox`, `none`, ...) sets `[runner] mode`; unset, the
/// server's default applies (and a build that predates the key gets a config it knows).
fn runner_section() -> String {
    std::env::var("FOREMAN_BENCH_RUNNER_MODE")
        .map(|mode| format!("\n[runner]\nmode = \"{mode}\"\n"))
        .unwrap_or_default()
}

fn server_bin() -> PathBuf {
    let path = std::env::var("FOREMAN_SERVER_BIN").map_or_else(
        |_| {
            let exe = std::env::current_exe().unwrap();
            exe.parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("foreman-server")
        },
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "{} missing: run `cargo xtask bench pipeline`",
        path.display()
    );
    path
}

async fn start(parallel: usize, delay_ms: u64) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let remote = sample_remote(dir.path());
    let script_path = dir.path().join("script.json");
    std::fs::write(&script_path, script(delay_ms).to_string()).unwrap();
    let config = format!(
        "[daemon]\nmax_parallel_tickets = {parallel}\nlog_level = \"warn\"\n\n\
         [llm]\nprovider = \"scripted\"\nscript = \"{}\"\n\n\
         [git]\nprovider = \"local\"\nclone_url = \"{}\"\nauto_merge = false\n\n\
         [pipeline]\ntest_command = \"sh tests/run.sh\"\n\n\
         [rate_limit]\nrequests_per_minute = 0\n{}",
        script_path.display(),
        remote.display(),
        runner_section()
    );
    let config_path = dir.path().join("foreman.toml");
    std::fs::write(&config_path, config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = dir.path().join("data");
    let child = Command::new(server_bin())
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(&data)
        .args(["--config", config_path.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        // The bench creates hundreds of tickets through the API: no write rate limit.
        .env("FOREMAN_DASHBOARD_WRITE_REQUESTS_PER_MINUTE", "0")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client().get(format!("{base}/api/health")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = std::fs::read_to_string(data.join("dashboard_token"))
        .unwrap()
        .trim()
        .to_owned();
    Server {
        child,
        base,
        token,
        _dir: dir,
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

impl Server {
    async fn get(&self, path: &str) -> Value {
        client()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Creates `n` tickets through the API, eight requests at a time (an intake burst), and
    /// returns their ids in creation order.
    async fn create(&self, n: usize) -> Vec<String> {
        let client = client();
        let mut ids = vec![String::new(); n];
        let mut next = 0;
        let mut running = tokio::task::JoinSet::new();
        while next < n || !running.is_empty() {
            while next < n && running.len() < 8 {
                let (client, url, token) = (
                    client.clone(),
                    format!("{}/api/tickets", self.base),
                    self.token.clone(),
                );
                let i = next;
                running.spawn(async move {
                    let r: Value = client
                        .post(url)
                        .bearer_auth(token)
                        .json(&json!({"title": format!("Add double #{i}"), "description": "double()"}))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    (i, r["id"].as_str().unwrap().to_owned())
                });
                next += 1;
            }
            if let Some(done) = running.join_next().await {
                let (i, id) = done.unwrap();
                ids[i] = id;
            }
        }
        ids
    }

    async fn count(&self, status: &str) -> usize {
        let s = self
            .get(&format!("/api/tickets?status={status}&limit=500"))
            .await;
        s.as_array().map_or(0, Vec::len)
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

fn at(e: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    e["created_at"].as_str()?.parse().ok()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::var("FOREMAN_BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let parallel: usize = std::env::var("FOREMAN_BENCH_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);

    // 1. Throughput.
    let server = start(parallel, 0).await;
    let started = Instant::now();
    let ids = server.create(n).await;
    let created = started.elapsed();
    let failed = loop {
        let done = server.count("awaiting_merge").await;
        let failed = server.count("failed").await + server.count("blocked").await;
        if done + failed == n {
            break failed;
        }
        // once a second: listing hundreds of tickets is work the server does for the bench
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    if failed > 0 {
        let list = server.get("/api/tickets?status=failed&limit=5").await;
        for t in list.as_array().into_iter().flatten() {
            let id = t["id"].as_str().unwrap_or("");
            let detail = server.get(&format!("/api/tickets/{id}")).await;
            eprintln!("failed ticket {id}: {}", detail["last_error"]);
        }
    }
    let elapsed = started.elapsed();
    let per_minute = n as f64 / elapsed.as_secs_f64() * 60.0;
    // Stage times from a sample of tickets' events.
    let stages = [
        ("queued → claimed", "ticket_created", "ticket_claimed"),
        ("planning", "planning_started", "plan_validated"),
        (
            "task (tests, red, implement, green, reviews, commit)",
            "task_started",
            "task_done",
        ),
        (
            "integration (merge, rebase, full suite, final review)",
            "task_done",
            "final_review_pass",
        ),
        ("pull request", "final_review_pass", "pr_created"),
        ("claimed → pull request", "ticket_claimed", "pr_created"),
    ];
    let mut sums = vec![0.0_f64; stages.len()];
    let sample: Vec<&String> = ids.iter().step_by((n / 40).max(1)).collect();
    for id in &sample {
        let events = server.get(&format!("/api/tickets/{id}/events")).await;
        let events = events.as_array().cloned().unwrap_or_default();
        let find = |ty: &str| events.iter().find(|e| e["event_type"] == ty).and_then(at);
        for (i, (_, a, b)) in stages.iter().enumerate() {
            if let (Some(x), Some(y)) = (find(a), find(b)) {
                sums[i] += (y - x).num_microseconds().unwrap_or(0) as f64 / 1000.0;
            }
        }
    }
    let throughput_rss = server.rss_kib();
    // 3. Idle CPU (same server, all work done).
    // Long enough for two housekeeping sweeps (every 15 s) over the open pull requests.
    let idle_secs: u64 = std::env::var("FOREMAN_BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = server.cpu_ticks();
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let ticks = server.cpu_ticks() - t0;
    // Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ).
    let hz = 100.0;
    let idle_pct = ticks as f64 / hz / idle_secs as f64 * 100.0;
    drop(server);

    // 2. RSS with 50 tickets in flight (`FOREMAN_BENCH_SKIP_RSS=1` leaves it out).
    let skip_rss = std::env::var_os("FOREMAN_BENCH_SKIP_RSS").is_some();
    let server = start(if skip_rss { 1 } else { 50 }, 3_000).await;
    let before = server.rss_kib();
    let mut peak = 0;
    let mut in_flight_seen = 0;
    if !skip_rss {
        server.create(50).await;
    }
    let deadline = Instant::now() + Duration::from_secs(if skip_rss { 0 } else { 60 });
    while Instant::now() < deadline {
        let active = server.get("/api/pipeline/active").await;
        let active = active.as_array().map_or(0, Vec::len);
        in_flight_seen = in_flight_seen.max(active);
        peak = peak.max(server.rss_kib());
        if server.count("awaiting_merge").await == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    println!("\n| measurement | result |\n|---|---|");
    println!("| tickets | {n} single-task tickets, {parallel} worked at once, {failed} failed |");
    println!(
        "| creating them through the API | {:.2} s |",
        created.as_secs_f64()
    );
    println!(
        "| all of them at an open pull request | {:.1} s |",
        elapsed.as_secs_f64()
    );
    println!("| throughput | {per_minute:.0} tickets/min |");
    for (i, (name, _, _)) in stages.iter().enumerate() {
        println!(
            "| mean {name} ({} sampled) | {:.0} ms |",
            sample.len(),
            sums[i] / sample.len() as f64
        );
    }
    println!(
        "| RSS after the throughput run | {:.1} MiB |",
        throughput_rss as f64 / 1024.0
    );
    println!("| idle CPU over {idle_secs} s | {idle_pct:.2} % of a core |");
    println!(
        "| RSS at start / peak with 50 tickets in flight (max {in_flight_seen} active seen) | {:.1} MiB / {:.1} MiB |",
        before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}
