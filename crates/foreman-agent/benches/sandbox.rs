//! Wall time the OS sandbox adds to one command: `true` run through [`Isolation::wrap`] and
//! `run_wrapped` with `mode = "none"` and with `mode = "sandbox"` (with its pids cgroup when
//! cgroups are writable, and with `RLIMIT_NPROC` only), each `RUNS` times after a warm-up.
//!
//! Run with `cargo xtask bench sandbox` (or `cargo bench -p foreman-agent --bench sandbox`).
//! Prints a Markdown table and the load average before and after; the figures in
//! `docs/benchmarks.md` (## OS sandbox) come from it.
//! Target: at most 15 ms added at the median. With `SANDBOX_BENCH_ARGV` set it prints the
//! sandbox's command line instead.

#![allow(clippy::print_stdout, reason = "a benchmark reports to its terminal")]

use std::path::Path;
use std::time::{Duration, Instant};

use foreman_agent::command::{run_in_group, run_wrapped};
use foreman_agent::{
    DockerSettings, ExecMode, Isolation, IsolationOptions, ResourceLimits, SandboxSettings,
    SandboxState,
};

const RUNS: usize = 300;

async fn measure(iso: &Isolation, dir: &Path, env: &[(String, String)]) -> Vec<Duration> {
    let argv = vec!["true".to_owned()];
    let opts = IsolationOptions::default();
    for _ in 0..10 {
        let w = iso.wrap(&argv, dir, env, &opts).expect("wrap");
        run_wrapped(w, Duration::from_secs(10), 4096, 0, None)
            .await
            .expect("run");
    }
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let w = iso.wrap(&argv, dir, env, &opts).expect("wrap");
        let out = run_wrapped(w, Duration::from_secs(10), 4096, 0, None)
            .await
            .expect("run");
        times.push(started.elapsed());
        assert_eq!(out.exit_code, Some(0), "{}", out.output);
    }
    times.sort();
    times
}

fn pct(sorted: &[Duration], p: usize) -> f64 {
    let i = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(".git"), "gitdir: /nowhere\n").expect("write");
    let env = vec![
        ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("HOME".to_owned(), "/root".to_owned()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ];
    let none = Isolation::none();
    let sandbox = |processes: u32, cgroup_root: Option<&str>| {
        Isolation::new(
            ExecMode::Sandbox,
            SandboxSettings {
                limits: ResourceLimits {
                    processes,
                    ..ResourceLimits::default()
                },
                cgroup_root: cgroup_root.map(Into::into),
                ..SandboxSettings::default()
            },
            DockerSettings::default(),
        )
    };
    if sandbox(0, None).probe() != SandboxState::Ready {
        println!("bwrap is not usable here; nothing to measure");
        return;
    }
    if std::env::var_os("SANDBOX_BENCH_ARGV").is_some() {
        let line = sandbox(1024, None).command_line(
            &["true".to_owned()],
            dir.path(),
            &env,
            &IsolationOptions::default(),
        );
        println!("{}", line.join(" "));
        return;
    }
    let load_before = load_average();
    let base = measure(&none, dir.path(), &env).await;
    let with_cgroup = measure(&sandbox(1024, None), dir.path(), &env).await;
    let nproc_only = measure(
        &sandbox(1024, Some("/nonexistent-cgroup-root")),
        dir.path(),
        &env,
    )
    .await;
    // For reference: bubblewrap's own floor on this machine (no namespaces but a mount one).
    let mut bare = Vec::with_capacity(RUNS);
    let bare_argv: Vec<String> = ["bwrap", "--ro-bind", "/", "/", "true"]
        .map(String::from)
        .to_vec();
    for _ in 0..RUNS {
        let started = Instant::now();
        run_in_group(
            &bare_argv,
            dir.path(),
            &env,
            Duration::from_secs(10),
            4096,
            None,
        )
        .await
        .expect("run");
        bare.push(started.elapsed());
    }
    bare.sort();
    let load_after = load_average();
    println!("| `true`, {RUNS} runs | median | p90 | added at the median |");
    println!("|---|---|---|---|");
    let base_median = pct(&base, 50);
    for (name, t) in [
        ("`none` (spawn in a process group)", &base),
        ("`sandbox`, pids cgroup", &with_cgroup),
        ("`sandbox`, `RLIMIT_NPROC` only", &nproc_only),
        ("reference: bare `bwrap --ro-bind / / true`", &bare),
    ] {
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:+.2} ms |",
            pct(t, 50),
            pct(t, 90),
            pct(t, 50) - base_median
        );
    }
    println!("\nload average (1, 5, 15 min): {load_before} before, {load_after} after");
}

/// The first three fields of `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}
