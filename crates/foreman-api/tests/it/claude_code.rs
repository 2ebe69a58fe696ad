//! `/api/usage/claude-code` over fixture session logs, read by the Claude Code log adapter.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use chrono::{Days, Utc};
use serde_json::{Value, json};

use crate::support::{TestApp, TestAppBuilder};

/// The app reading Claude Code logs from `dir`, priced with the built-in table.
fn reading(dir: &Path) -> TestAppBuilder {
    let logs = foreman_claude_logs::ClaudeLogs::new(
        Some(dir.to_owned()),
        foreman_llm::PricingTable::builtin(),
    );
    TestApp::builder().usage_source(Arc::new(logs))
}

fn write_log(dir: &Path, project: &str, session: &str, lines: &[Value]) {
    let d = dir.join(project);
    std::fs::create_dir_all(&d).unwrap();
    let mut f = std::fs::File::create(d.join(format!("{session}.jsonl"))).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn assistant(
    session: &str,
    at: chrono::DateTime<Utc>,
    msg: &str,
    model: &str,
    input: u64,
    output: u64,
) -> Value {
    json!({
        "type": "assistant",
        "sessionId": session,
        "timestamp": at.to_rfc3339(),
        "requestId": format!("req_{msg}"),
        "message": {"id": msg, "model": model, "role": "assistant",
            "usage": {"input_tokens": input, "output_tokens": output,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    })
}

#[tokio::test]
async fn absent_logs_are_reported_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let app = reading(&dir.path().join("missing")).start().await;
    let (status, body) = app.get_json("/api/usage/claude-code").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"available": false}));
    // without a usage source at all, the same answer
    let app = TestApp::start().await;
    let (status, body) = app.get_json("/api/usage/claude-code").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"available": false}));
}

#[tokio::test]
async fn session_logs_are_summed_per_day() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let two_days_ago = now.checked_sub_days(Days::new(2)).unwrap();
    let old = now.checked_sub_days(Days::new(30)).unwrap();
    // Today: two sessions. 1M input tokens of sonnet = $3; 100k output of haiku 4.5 = $0.50.
    write_log(
        dir.path(),
        "-home-me-app",
        "s1",
        &[
            json!({"type": "user", "sessionId": "s1", "timestamp": now.to_rfc3339(), "message": {"role": "user", "content": "hi"}}),
            assistant("s1", now, "m1", "claude-sonnet-4-6", 1_000_000, 0),
            // Claude Code writes the same message more than once; it counts once.
            assistant("s1", now, "m1", "claude-sonnet-4-6", 1_000_000, 0),
            json!("not an object"),
        ],
    );
    write_log(
        dir.path(),
        "-home-me-other",
        "s2",
        &[assistant("s2", now, "m2", "claude-haiku-4-5", 0, 100_000)],
    );
    // Two days ago, with a recorded cost that wins over list prices.
    let mut priced = assistant("s3", two_days_ago, "m3", "claude-opus-4-1", 10, 10);
    priced["costUSD"] = json!(0.25);
    write_log(dir.path(), "-home-me-app", "s3", &[priced]);
    // Outside the window: counted as a session, not in the days.
    write_log(
        dir.path(),
        "-home-me-app",
        "s4",
        &[assistant("s4", old, "m4", "claude-sonnet-4-6", 10, 10)],
    );
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();

    let app = reading(dir.path()).start().await;
    let (status, body) = app.get_json("/api/usage/claude-code").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["available"], true);
    assert_eq!(body["total_sessions"], 4);
    assert_eq!(body["today"], json!({"sessions": 2, "cost_usd": 3.5}));
    let days = body["last_7_days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[6]["date"], now.date_naive().to_string());
    assert_eq!(days[6]["cost_usd"], 3.5);
    assert_eq!(
        days[4],
        json!({"date": two_days_ago.date_naive().to_string(), "sessions": 1, "cost_usd": 0.25})
    );
    assert_eq!(days[0]["sessions"], 0);
    assert!(body["estimate_note"].as_str().unwrap().contains("estimate"));

    // A log that grows is re-read.
    write_log(
        dir.path(),
        "-home-me-other",
        "s2",
        &[
            assistant("s2", now, "m2", "claude-haiku-4-5", 0, 100_000),
            assistant("s2", now, "m5", "claude-haiku-4-5", 0, 100_000),
        ],
    );
    let (_, body) = app.get_json("/api/usage/claude-code").await;
    assert_eq!(body["today"]["cost_usd"], 4.0);
}
