//! `foreman logs`: the server's own log, or a ticket's events; `--follow` streams them over
//! Server-Sent Events, and for a ticket prints a progress line per task (its stage and how long
//! it has run) whenever a task moves, until the ticket finishes.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Ctx;
use super::tickets::finished;
use crate::cli::LogsArgs;
use crate::http::seg;
use crate::out::{self, Colour};

/// `foreman logs`.
pub(crate) async fn logs(ctx: &Ctx, args: LogsArgs) -> Result<()> {
    match &args.ticket {
        Some(id) => ticket(ctx, id, &args).await,
        None => server(ctx, &args).await,
    }
}

async fn server(ctx: &Ctx, args: &LogsArgs) -> Result<()> {
    let mut q = Vec::new();
    if let Some(l) = &args.level {
        q.push(("level", l.clone()));
    }
    if let Some(s) = &args.since {
        q.push(("since", s.clone()));
    }
    let mut page = q.clone();
    if let Some(l) = args.limit {
        page.push(("limit", l.to_string()));
    }
    // the newest lines, printed oldest first
    let body = ctx.client.get("/api/logs", &page).await?;
    let mut lines = out::list_of(&body);
    lines.reverse();
    if ctx.json && !args.follow {
        out::json(&Value::Array(lines));
        return Ok(());
    }
    let mut last = None;
    for line in &lines {
        last = line["id"].as_i64().or(last);
        if ctx.json {
            println!("{line}");
        } else {
            println!("{}", log_line(line, ctx.colours));
        }
    }
    if !args.follow {
        return Ok(());
    }
    q.push(("follow", "true".to_owned()));
    if let Some(id) = last {
        // resume after the last line printed; `since` would replay it
        q.retain(|(k, _)| *k != "since");
        q.push(("cursor", id.to_string()));
    }
    let mut stream = ctx.client.stream("/api/logs", &q).await?;
    while let Some(event) = stream.next().await? {
        let Ok(line) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        if ctx.json {
            println!("{line}");
        } else {
            println!("{}", log_line(&line, ctx.colours));
        }
    }
    Ok(())
}

/// One server log line: time, level, target, message and its fields.
fn log_line(v: &Value, colours: bool) -> String {
    let time = match out::clock(&v["at"]) {
        t if t.is_empty() => out::field(v, "at"),
        t => t,
    };
    let level = out::field(v, "level").to_lowercase();
    let colour = match level.as_str() {
        "error" => Colour::Red,
        "warn" | "warning" => Colour::Yellow,
        _ => Colour::Dim,
    };
    let message = out::field(v, "message");
    let mut line = format!(
        "{time} {} {} {message}",
        out::paint(&format!("{level:>5}"), colour, colours),
        out::field(v, "target")
    );
    if let Some(fields) = v["fields"].as_object() {
        for (k, val) in fields {
            line.push_str(&format!(" {k}={}", out::text(val)));
        }
    }
    line
}

/// What a task is doing, from its latest event.
fn stage(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "task_created" => "pending",
        "task_started" | "task_retried" | "task_escalated" | "agent_turn" => "implementing",
        "task_waiting_for_files" => "waiting for files",
        "task_tdd_verify_pass" | "task_tdd_verify_fail" | "task_tdd_verify_invalid_red" => {
            "verifying"
        }
        "task_lint_pass" | "task_lint_fail" => "lint",
        "task_tests_pass" | "task_tests_fail" => "tests",
        "task_spec_review_pass" | "task_spec_review_fail" => "spec review",
        "task_quality_review_pass" | "task_quality_review_fail" => "quality review",
        "task_committed" => "committed",
        "task_done" => "done",
        "task_failed" => "failed",
        "task_skipped" => "skipped",
        _ => return None,
    })
}

/// Whether a ticket event ends `logs TICKET --follow`: the ticket moved to a status the
/// pipeline stops at (those `submit --wait` stops at), or it failed, was deleted, blocked,
/// decomposed, or its pull request was merged or closed.
fn ends_ticket(e: &Value) -> bool {
    match e["event_type"].as_str().unwrap_or_default() {
        "ticket_status_changed" => e["details"]["to"]
            .as_str()
            .is_some_and(|to| finished(to).is_some()),
        "ticket_failed" | "ticket_blocked" | "ticket_deleted" | "ticket_decomposed"
        | "pr_merged" | "pr_closed" => true,
        _ => false,
    }
}

/// A task as the progress lines show it.
#[derive(Debug)]
struct TaskProgress {
    stage: &'static str,
    started: DateTime<Utc>,
}

/// The progress of every task seen so far.
#[derive(Debug, Default)]
struct Progress {
    tasks: BTreeMap<String, TaskProgress>,
}

impl Progress {
    /// Takes an event in; the progress line to print when it moved a task.
    fn update(&mut self, e: &Value, now: DateTime<Utc>, colours: bool) -> Option<String> {
        let task = e["task_id"].as_str()?;
        let stage = stage(e["event_type"].as_str()?)?;
        let at = e["created_at"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map_or(now, |t| t.with_timezone(&Utc));
        let entry = self
            .tasks
            .entry(task.to_owned())
            .or_insert(TaskProgress { stage, started: at });
        if entry.stage == "pending" && stage != "pending" {
            entry.started = at;
        }
        entry.stage = stage;
        let elapsed = (now - entry.started).num_seconds().max(0);
        let colour = match stage {
            "done" | "committed" => Colour::Green,
            "failed" => Colour::Red,
            _ => Colour::Cyan,
        };
        Some(format!(
            "  {} task {task}: {} {}",
            out::paint("▸", Colour::Dim, colours),
            out::paint(stage, colour, colours),
            out::paint(&out::duration(elapsed.unsigned_abs()), Colour::Dim, colours)
        ))
    }
}

fn event_line(e: &Value, colours: bool) -> String {
    let severity = out::field(e, "severity");
    let colour = match severity.as_str() {
        "error" => Colour::Red,
        "warning" => Colour::Yellow,
        _ => Colour::Dim,
    };
    format!(
        "{} {} {} {}",
        out::clock(&e["created_at"]),
        out::paint(&format!("{severity:>7}"), colour, colours),
        out::field(e, "event_type"),
        out::field(e, "message")
    )
}

async fn ticket(ctx: &Ctx, id: &str, args: &LogsArgs) -> Result<()> {
    let events = ctx
        .client
        .get(&format!("/api/tickets/{}/events", seg(id)), &[])
        .await?;
    let mut events = out::list_of(&events);
    if let Some(limit) = args.limit {
        let skip = events.len().saturating_sub(limit as usize);
        events.drain(..skip);
    }
    if ctx.json && !args.follow {
        out::json(&Value::Array(events));
        return Ok(());
    }
    let mut progress = Progress::default();
    let mut last_seq = 0_i64;
    for e in &events {
        last_seq = last_seq.max(e["seq"].as_i64().unwrap_or(0));
        if ctx.json {
            println!("{e}");
        } else {
            println!("{}", event_line(e, ctx.colours));
        }
        let _ = progress.update(e, Utc::now(), ctx.colours);
    }
    if !args.follow {
        return Ok(());
    }
    // a ticket that has already finished has nothing more to stream; one that finishes from
    // now on ends the stream with the event that says so (replayed from `since_seq`)
    let t = ctx
        .client
        .get(&format!("/api/tickets/{}", seg(id)), &[])
        .await?;
    if t["status"].as_str().is_some_and(|s| finished(s).is_some()) {
        return Ok(());
    }
    let q = vec![
        ("ticket_id", id.to_owned()),
        ("since_seq", last_seq.to_string()),
    ];
    let mut stream = ctx.client.stream("/api/stream", &q).await?;
    while let Some(event) = stream.next().await? {
        let Ok(e) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        if e["event_type"].is_null() {
            // a notice such as "events dropped": shown, not parsed
            if !ctx.json {
                println!("{}", out::paint(&event.data, Colour::Yellow, ctx.colours));
            }
            continue;
        }
        if ctx.json {
            println!("{e}");
        } else {
            println!("{}", event_line(&e, ctx.colours));
            if let Some(line) = progress.update(&e, Utc::now(), ctx.colours) {
                println!("{line}");
            }
        }
        if ends_ticket(&e) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn progress_lines_show_the_stage_and_the_time_since_the_task_started() {
        let mut p = Progress::default();
        let t0: DateTime<Utc> = "2026-03-05T10:00:00Z".parse().unwrap();
        let ev = |ty: &str, at: &str| json!({"task_id": "t1", "event_type": ty, "created_at": at});
        assert_eq!(
            p.update(&ev("task_started", "2026-03-05T10:00:00Z"), t0, false)
                .unwrap(),
            "  ▸ task t1: implementing 0s"
        );
        let later = t0 + chrono::Duration::seconds(75);
        assert_eq!(
            p.update(
                &ev("task_spec_review_pass", "2026-03-05T10:01:10Z"),
                later,
                false
            )
            .unwrap(),
            "  ▸ task t1: spec review 1m15s"
        );
        assert!(
            p.update(&json!({"event_type": "ticket_claimed"}), later, false)
                .is_none()
        );
        let ev = |ty: &str, to: &str| json!({"event_type": ty, "details": {"to": to}});
        assert!(ends_ticket(&ev("ticket_failed", "")));
        assert!(ends_ticket(&ev("ticket_status_changed", "awaiting_merge")));
        assert!(!ends_ticket(&ev("ticket_status_changed", "reviewing")));
        assert!(!ends_ticket(&ev("pr_created", "")));
        assert!(!ends_ticket(&ev("task_done", "")));
    }

    #[test]
    fn server_log_lines_carry_level_target_and_fields() {
        let v = json!({"at": "2026-03-05T10:20:30.5Z", "level": "WARN", "target": "foreman",
            "message": "slow", "fields": {"ms": 12}});
        assert_eq!(log_line(&v, false), "10:20:30  warn foreman slow ms=12");
    }
}
