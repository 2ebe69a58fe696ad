//! Scan throughput of the default rules over 1 MB of mixed text (source code, prose, JSON,
//! a lockfile, log lines, a few secrets).
//!
//! Run with `cargo bench -p foreman-secrets --bench scan`. Prints a Markdown table; the
//! figures in `docs/benchmarks.md` (## Secret scanning) come from it.

#![allow(clippy::print_stdout, reason = "a benchmark reports to its terminal")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use foreman_secrets::SecretScanner;

/// About 1 MB of text of the kinds that reach a model, with a secret every ~64 KB.
fn corpus() -> String {
    let code = "pub fn handle(req: &Request, token: &str) -> Result<Response> {\n    let password = config.password.clone();\n    let url = format!(\"https://api.example.com/v1/items/{}\", req.id);\n    client.get(&url).bearer_auth(token).send()?\n}\n";
    let prose = "The planner splits the ticket into tasks; each task runs in its own worktree and its diff is reviewed before the commit. Secrets never reach the model: the scanner redacts them first.\n";
    let json = "{\"id\":\"0192a4c7-3f1e-7b2a-9c41-5d6e7f809a1b\",\"status\":\"done\",\"sha\":\"3062fc5a9e1b4c7d8f0a2b3c4d5e6f7a8b9c0d1e\",\"tokens\":1234}\n";
    let lock = "\"node_modules/lodash\": {\"version\": \"4.17.21\", \"integrity\": \"sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==\"}\n";
    let log = "2026-12-07T00:15:30Z INFO foreman_pipeline: task finished ticket=T-42 task=3 duration_ms=5123 cost=$0.0123\n";
    let unicode = "Größenänderung: «Übersetzung» — 日本語のテキストも含まれます。\n";
    let secrets = [
        format!("AWS_KEY = \"{}{}\"\n", "AKIA", "Q3VZ7XK2M9PL4WRT"),
        format!(
            "export GITHUB_TOKEN={}{}\n",
            "ghp_", "x9Kq2LmN4pR7sT1vW3yZ5aB8cD0eF6gH2jK4"
        ),
        format!("db_password = \"{}\"\n", "Zq8!vR2#mK9$wL4x"),
    ];
    let mut out = String::with_capacity(1 << 20);
    let mut i = 0usize;
    while out.len() < 1 << 20 {
        for part in [code, prose, json, lock, log, unicode] {
            out.push_str(part);
        }
        i += 1;
        if i.is_multiple_of(90) {
            out.push_str(&secrets[(i / 90) % secrets.len()]);
        }
    }
    out
}

fn main() {
    let text = corpus();
    let scanner = SecretScanner::default_rules();
    let warm = scanner.scan(&text).len();
    let mut runs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while runs.len() < 5 || (Instant::now() < deadline && runs.len() < 50) {
        let t = Instant::now();
        black_box(scanner.scan(black_box(&text)));
        runs.push(t.elapsed());
    }
    runs.sort();
    let mb = text.len() as f64 / 1e6;
    let median = runs[runs.len() / 2].as_secs_f64();
    let best = runs[0].as_secs_f64();
    let t = Instant::now();
    let (redacted, _) = scanner.redact(&text);
    let redact_s = t.elapsed().as_secs_f64();
    black_box(redacted);
    let small = &text[..4096];
    let n = 2_000;
    let t = Instant::now();
    for _ in 0..n {
        black_box(scanner.scan(black_box(small)));
    }
    let small_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let build = Instant::now();
    black_box(SecretScanner::default_rules());
    let build_ms = build.elapsed().as_secs_f64() * 1e3;

    println!("| measurement | result |");
    println!("|---|---|");
    println!(
        "| corpus | {:.2} MB, {warm} findings, {} rules |",
        mb,
        scanner.rule_count()
    );
    println!(
        "| scan, median of {} | {:.1} MB/s ({:.1} ms) |",
        runs.len(),
        mb / median,
        median * 1e3
    );
    println!("| scan, best | {:.1} MB/s |", mb / best);
    println!("| redact, once | {:.1} MB/s |", mb / redact_s);
    println!("| scan of a 4 KB tool result | {small_us:.1} µs |");
    println!("| build the default scanner | {build_ms:.2} ms |");
}
