//! Tickets and tasks: submit, batch, cancel, search, list, show, retry, delete, tasks, events,
//! calls, diff, transcripts, checkpoints and rollback.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use super::Ctx;
use crate::cli::{BatchArgs, Priority, SubmitArgs, TasksCommand, TicketsCommand};
use crate::error::{self, Failure};
use crate::http::seg;
use crate::out::{self, Colour};
use crate::table;

/// How often `submit --wait` looks at the ticket (`FOREMAN_WAIT_INTERVAL_MS` overrides).
const WAIT_INTERVAL: Duration = Duration::from_secs(2);

fn priority(p: Priority) -> &'static str {
    match p {
        Priority::Urgent => "urgent",
        Priority::High => "high",
        Priority::Normal => "normal",
        Priority::Low => "low",
    }
}

/// `foreman submit`.
pub(crate) async fn submit(ctx: &Ctx, args: SubmitArgs) -> Result<()> {
    let mut body = Map::new();
    body.insert("prompt".into(), json!(args.prompt));
    if let Some(p) = args.priority {
        body.insert("priority".into(), json!(priority(p)));
    }
    if let Some(b) = args.budget {
        body.insert("max_budget_usd".into(), json!(b));
    }
    if let Some(t) = args.timeout {
        body.insert("timeout".into(), json!(t));
    }
    if !args.tags.is_empty() {
        body.insert("tags".into(), json!(args.tags));
    }
    for (key, value) in [
        ("agent", args.agent),
        ("project", args.project),
        ("webhook_url", args.webhook_url),
    ] {
        if let Some(v) = value {
            body.insert(key.into(), json!(v));
        }
    }
    let created = ctx
        .client
        .post("/api/tickets", Some(&Value::Object(body)))
        .await?;
    let id = out::field(&created, "id");
    if !args.wait {
        if ctx.json {
            out::json(&created);
        } else {
            println!("{}", created_line(&created));
        }
        return Ok(());
    }
    if !ctx.json {
        println!("{}", created_line(&created));
    }
    wait(ctx, &id).await
}

fn created_line(t: &Value) -> String {
    let mut line = format!("ticket {} {}", out::field(t, "id"), out::field(t, "status"));
    if let Some(p) = t["queue_position"].as_u64() {
        line.push_str(&format!(", queue position {p}"));
        let start = out::time(&t["estimated_start"]);
        if !start.is_empty() {
            line.push_str(&format!(", estimated start {start} UTC"));
        }
    }
    line
}

/// Whether `submit --wait` stops at `status`, and whether that is a success.
pub(crate) fn finished(status: &str) -> Option<bool> {
    match status {
        "merged" | "done" | "awaiting_merge" | "partial" | "decomposed" => Some(true),
        "failed" | "blocked" | "pr_closed" | "clarification_needed" => Some(false),
        _ => None,
    }
}

async fn wait(ctx: &Ctx, id: &str) -> Result<()> {
    let interval = std::env::var("FOREMAN_WAIT_INTERVAL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(WAIT_INTERVAL, Duration::from_millis);
    let start = Instant::now();
    let mut last = String::new();
    loop {
        let t = ctx
            .client
            .get(&format!("/api/tickets/{}", seg(id)), &[])
            .await?;
        let status = out::field(&t, "status");
        if status != last && !ctx.json {
            println!(
                "{:>6}  {}",
                out::duration(start.elapsed().as_secs()),
                out::paint(&status, out::status_colour(&status), ctx.colours)
            );
        }
        last.clone_from(&status);
        if let Some(ok) = finished(&status) {
            if ctx.json {
                out::json(&t);
            } else if !out::field(&t, "pr_url").is_empty() {
                println!("pull request: {}", out::field(&t, "pr_url"));
            }
            if ok {
                return Ok(());
            }
            let why = out::field(&t, "last_error");
            return Err(Failure::new(
                error::FAILURE,
                format!(
                    "ticket {id} ended {status}{}",
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {why}")
                    }
                ),
            )
            .into());
        }
        tokio::time::sleep(interval).await;
    }
}

/// The items of a batch file: a JSON array, a JSON object with `items` (and `defaults`), or
/// one prompt per line (blank lines and `#` comments skipped).
pub(crate) fn batch_body(text: &str) -> Result<Value> {
    let trimmed = text.trim_start();
    let body = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let v: Value = serde_json::from_str(text).context("the batch file is not valid JSON")?;
        match v {
            Value::Array(items) => json!({"items": items}),
            Value::Object(map) if map.contains_key("items") => Value::Object(map),
            Value::Object(_) => {
                return Err(Failure::new(
                    error::USAGE,
                    "a JSON batch is an array of tickets or an object with `items`",
                )
                .into());
            }
            _ => unreachable!("starts with [ or {{"),
        }
    } else {
        let items: Vec<Value> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| json!({"prompt": l}))
            .collect();
        json!({"items": items})
    };
    if body["items"].as_array().is_none_or(Vec::is_empty) {
        return Err(Failure::new(error::USAGE, "the batch file holds no tickets").into());
    }
    Ok(body)
}

/// `foreman batch`.
pub(crate) async fn batch(ctx: &Ctx, args: BatchArgs) -> Result<()> {
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read stdin")?
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?
    };
    let mut body = batch_body(&text)?;
    if args.priority.is_some() || !args.tags.is_empty() {
        let defaults = body
            .as_object_mut()
            .expect("an object")
            .entry("defaults")
            .or_insert_with(|| json!({}));
        if let Some(p) = args.priority {
            defaults["priority"] = json!(priority(p));
        }
        if !args.tags.is_empty() {
            defaults["tags"] = json!(args.tags);
        }
    }
    let created = ctx.client.post("/api/tickets/batch", Some(&body)).await?;
    print_list(ctx, &created, &["ID", "STATUS", "QUEUE"], |t| {
        vec![
            out::field(t, "id"),
            out::field(t, "status"),
            out::field(t, "queue_position"),
        ]
    });
    Ok(())
}

/// `foreman cancel`.
pub(crate) async fn cancel(ctx: &Ctx, id: &str) -> Result<()> {
    let body = ctx
        .client
        .post(&format!("/api/tickets/{}/cancel", seg(id)), None)
        .await?;
    if ctx.json {
        out::json(&body);
    } else {
        println!(
            "ticket {} cancelled (was {})",
            out::field(&body, "ticket_id"),
            out::field(&body, "from")
        );
    }
    Ok(())
}

/// `foreman search`.
pub(crate) async fn search(
    ctx: &Ctx,
    query: &str,
    limit: Option<u32>,
    cursor: Option<String>,
) -> Result<()> {
    let mut q = vec![("q", query.to_owned())];
    if let Some(l) = limit {
        q.push(("limit", l.to_string()));
    }
    if let Some(c) = cursor {
        q.push(("cursor", c));
    }
    let body = ctx.client.get("/api/tickets/search", &q).await?;
    print_list(ctx, &body, &["ID", "STATUS", "TITLE", "MATCH"], |r| {
        let snippet = snippet(&r["snippet"], ctx.colours);
        vec![
            out::field(r, "id"),
            status_cell(ctx, r),
            out::field(r, "title"),
            snippet.replace('\n', " "),
        ]
    });
    if !ctx.json {
        next_cursor(&body);
    }
    Ok(())
}

/// A search hit's snippet: its parts joined on one line, the matched words highlighted on a
/// terminal.
fn snippet(parts: &Value, colours: bool) -> String {
    match parts {
        Value::Array(parts) => parts
            .iter()
            .map(|p| {
                let text = out::field(p, "text");
                if p["highlighted"].as_bool() == Some(true) {
                    out::paint(&text, Colour::Yellow, colours)
                } else {
                    text
                }
            })
            .collect::<String>()
            .replace(['\n', '\r'], " "),
        other => out::text(other).replace(['\n', '\r'], " "),
    }
}

/// Prints how to get the next page when the body names a cursor.
fn next_cursor(body: &Value) {
    let next = out::field(body, "next_cursor");
    if !next.is_empty() {
        println!("\nmore: --cursor {next}");
    }
}

/// `foreman tickets …`.
pub(crate) async fn tickets(ctx: &Ctx, command: TicketsCommand) -> Result<()> {
    let c = &ctx.client;
    match command {
        TicketsCommand::List {
            status,
            project,
            limit,
        } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(s) = status {
                query.push(("status", s));
            }
            if let Some(p) = project {
                query.push(("project", p));
            }
            let body = c.get("/api/tickets", &query).await?;
            print_list(
                ctx,
                &body,
                &["ID", "EXTERNAL", "STATUS", "PRIORITY", "COST", "TITLE"],
                |t| {
                    vec![
                        out::field(t, "id"),
                        out::field(t, "external_id"),
                        status_cell(ctx, t),
                        out::priority(&t["priority"]),
                        out::usd(&t["cost_usd"]),
                        out::field(t, "title"),
                    ]
                },
            );
        }
        TicketsCommand::Show { id } => {
            let t = c.get(&format!("/api/tickets/{}", seg(&id)), &[]).await?;
            if ctx.json {
                out::json(&t);
                return Ok(());
            }
            let mut pairs: Vec<(&str, String)> =
                ["id", "external_id", "project", "title", "status"]
                    .iter()
                    .map(|k| (*k, out::field(&t, k)))
                    .collect();
            pairs.extend([
                ("priority", out::priority(&t["priority"])),
                ("submitter", out::field(&t, "submitter")),
                ("agent", out::field(&t, "agent")),
                ("queue position", out::field(&t, "queue_position")),
                ("estimated start", out::time(&t["estimated_start"])),
                (
                    "budget",
                    if t["max_budget_usd"].is_null() {
                        String::new()
                    } else {
                        out::usd(&t["max_budget_usd"])
                    },
                ),
                (
                    "task timeout",
                    t["timeout"].as_u64().map(out::duration).unwrap_or_default(),
                ),
            ]);
            for key in ["tags", "labels"] {
                if let Some(items) = t[key].as_array()
                    && !items.is_empty()
                {
                    let items: Vec<String> = items.iter().map(out::text).collect();
                    pairs.push((key, items.join(", ")));
                }
            }
            pairs.extend([
                ("branch", out::field(&t, "branch_name")),
                ("pull request", out::field(&t, "pr_url")),
                ("cost", out::usd(&t["cost_usd"])),
                (
                    "tokens",
                    format!(
                        "{} in, {} out",
                        out::field(&t, "tokens_input"),
                        out::field(&t, "tokens_output")
                    ),
                ),
                ("llm calls", out::field(&t, "total_llm_calls")),
                ("created", out::time(&t["created_at"])),
                ("started", out::time(&t["started_at"])),
                ("completed", out::time(&t["completed_at"])),
            ]);
            pairs.push(("error", out::field(&t, "last_error")));
            pairs.push(("webhook", out::field(&t, "webhook_url")));
            pairs.retain(|(_, v)| !v.is_empty());
            table::print_pairs(&pairs);
            for (key, title) in [
                ("description", "description"),
                ("acceptance_criteria", "acceptance criteria"),
            ] {
                let text = out::field(&t, key);
                if !text.trim().is_empty() {
                    println!("\n{title}:\n{}", text.trim_end());
                }
            }
        }
        TicketsCommand::Retry { id } => {
            let body = c
                .post(&format!("/api/tickets/{}/retry", seg(&id)), None)
                .await?;
            print_or(ctx, &body, || {
                format!("ticket {} queued again", out::field(&body, "ticket_id"))
            });
        }
        TicketsCommand::Delete { id } => {
            let body = c.delete(&format!("/api/tickets/{}", seg(&id))).await?;
            print_or(ctx, &body, || {
                format!("ticket {} deleted", out::field(&body, "ticket_id"))
            });
        }
        TicketsCommand::Tasks { id } => {
            let body = c
                .get(&format!("/api/tickets/{}/tasks", seg(&id)), &[])
                .await?;
            print_list(
                ctx,
                &body,
                &["SEQ", "ID", "STATUS", "ATTEMPTS", "COST", "TITLE"],
                |t| {
                    vec![
                        out::field(t, "sequence"),
                        out::field(t, "id"),
                        status_cell(ctx, t),
                        out::field(t, "implementation_attempts"),
                        out::usd(&t["cost_usd"]),
                        out::field(t, "title"),
                    ]
                },
            );
        }
        TicketsCommand::Events { id } => {
            let body = c
                .get(&format!("/api/tickets/{}/events", seg(&id)), &[])
                .await?;
            print_list(ctx, &body, &["TIME", "SEVERITY", "TYPE", "MESSAGE"], |e| {
                vec![
                    out::time(&e["created_at"]),
                    out::field(e, "severity"),
                    out::field(e, "event_type"),
                    out::field(e, "message"),
                ]
            });
        }
        TicketsCommand::Calls { id } => {
            let body = c
                .get(&format!("/api/tickets/{}/llm-calls", seg(&id)), &[])
                .await?;
            print_list(
                ctx,
                &body,
                &["TIME", "ROLE", "MODEL", "STATUS", "IN", "OUT", "COST", "MS"],
                |l| {
                    vec![
                        out::time(&l["created_at"]),
                        out::field(l, "role"),
                        out::field(l, "model"),
                        out::field(l, "status"),
                        out::field(l, "tokens_input"),
                        out::field(l, "tokens_output"),
                        out::usd(&l["cost_usd"]),
                        out::field(l, "duration_ms"),
                    ]
                },
            );
        }
        TicketsCommand::Diff { id } => {
            let body = c
                .get(&format!("/api/tickets/{}/diff", seg(&id)), &[])
                .await?;
            if ctx.json {
                out::json(&body);
                return Ok(());
            }
            let diff = body
                .as_str()
                .map(str::to_owned)
                .or_else(|| body["diff"].as_str().map(str::to_owned));
            match diff {
                Some(d) => print_diff(&d, ctx.colours),
                None => println!("{}", out::generic(&body)),
            }
            let note = out::field(&body, "note");
            if !note.is_empty() {
                println!("{}", out::paint(&note, Colour::Yellow, ctx.colours));
            } else if body["truncated"].as_bool() == Some(true) {
                println!(
                    "{}",
                    out::paint(
                        "(diff cut at the server's size cap)",
                        Colour::Yellow,
                        ctx.colours
                    )
                );
            }
        }
    }
    Ok(())
}

/// A unified diff, added lines green and removed ones red on a terminal.
fn print_diff(diff: &str, colours: bool) {
    for line in diff.lines() {
        let colour = if line.starts_with("+++") || line.starts_with("---") {
            Some(Colour::Dim)
        } else if line.starts_with('+') {
            Some(Colour::Green)
        } else if line.starts_with('-') {
            Some(Colour::Red)
        } else if line.starts_with("@@") {
            Some(Colour::Cyan)
        } else {
            None
        };
        match colour {
            Some(c) => println!("{}", out::paint(line, c, colours)),
            None => println!("{line}"),
        }
    }
}

/// The body under `--json`, else a table of its items with `row` making each row.
pub(crate) fn print_list(
    ctx: &Ctx,
    body: &Value,
    headers: &[&str],
    row: impl Fn(&Value) -> Vec<String>,
) {
    if ctx.json {
        out::json(body);
    } else {
        let rows = out::list_of(body).iter().map(row).collect();
        table::print(headers, rows);
    }
}

/// An item's `status`, coloured on a terminal.
pub(crate) fn status_cell(ctx: &Ctx, item: &Value) -> String {
    let status = out::field(item, "status");
    out::paint(&status, out::status_colour(&status), ctx.colours)
}

/// The body under `--json`, else `line()`.
pub(crate) fn print_or(ctx: &Ctx, body: &Value, line: impl FnOnce() -> String) {
    if ctx.json {
        out::json(body);
    } else {
        println!("{}", line());
    }
}

/// `foreman tasks …`.
pub(crate) async fn tasks(ctx: &Ctx, command: TasksCommand) -> Result<()> {
    match command {
        TasksCommand::Transcript { id } => {
            let body = ctx
                .client
                .get(&format!("/api/tasks/{}/transcript", seg(&id)), &[])
                .await?;
            if ctx.json {
                out::json(&body);
                return Ok(());
            }
            print!("{}", transcript(&body, ctx.colours));
        }
        TasksCommand::Retry { id } => {
            let body = ctx
                .client
                .post(&format!("/api/tasks/{}/retry", seg(&id)), None)
                .await?;
            print_or(ctx, &body, || format!("task {id} pending again"));
        }
    }
    Ok(())
}

/// A transcript for people: a heading per entry (attempt, turn, kind, tool), its text
/// indented under it, and what was cut.
pub(crate) fn transcript(body: &Value, colours: bool) -> String {
    let entries = body["entries"].as_array().map_or(&[][..], Vec::as_slice);
    let mut text = String::new();
    if body["full"].as_bool() == Some(false) {
        text.push_str(&out::paint(
            "(older entries were dropped at the size cap)\n",
            Colour::Yellow,
            colours,
        ));
    }
    if entries.is_empty() {
        text.push_str("(no transcript)\n");
    }
    for e in entries {
        let kind = out::field(e, "kind");
        let mut head = format!(
            "attempt {} turn {} {}",
            out::field(e, "attempt"),
            out::field(e, "turn"),
            out::paint(&kind, Colour::Cyan, colours)
        );
        let tool = out::field(e, "tool");
        if !tool.is_empty() {
            head.push(' ');
            head.push_str(&tool);
        }
        if e["is_error"].as_bool() == Some(true) {
            head.push(' ');
            head.push_str(&out::paint("(error)", Colour::Red, colours));
        }
        text.push_str(&head);
        text.push('\n');
        for line in out::field(e, "text").lines() {
            text.push_str("    ");
            text.push_str(line);
            text.push('\n');
        }
        if e["truncated"].as_bool() == Some(true) {
            let note = format!("    (cut; {} bytes in all)\n", out::field(e, "bytes"));
            text.push_str(&out::paint(&note, Colour::Dim, colours));
        }
    }
    text
}

/// `foreman checkpoints`.
pub(crate) async fn checkpoints(ctx: &Ctx, id: &str) -> Result<()> {
    let body = ctx
        .client
        .get(&format!("/api/tickets/{}/checkpoints", seg(id)), &[])
        .await?;
    print_list(
        ctx,
        &body,
        &["ID", "SEQ", "COMMIT", "CREATED", "TASK"],
        |c| {
            vec![
                out::field(c, "id"),
                out::field(c, "sequence"),
                out::field(c, "commit_sha").chars().take(12).collect(),
                out::time(&c["created_at"]),
                out::field(c, "task"),
            ]
        },
    );
    Ok(())
}

/// `foreman rollback`.
pub(crate) async fn rollback(ctx: &Ctx, id: &str, checkpoint: &str) -> Result<()> {
    let body = ctx
        .client
        .post(
            &format!("/api/tickets/{}/rollback", seg(id)),
            Some(&json!({"checkpoint_id": checkpoint})),
        )
        .await?;
    print_or(ctx, &body, || rolled_back(&body));
    Ok(())
}

/// What `rollback` did, for people.
fn rolled_back(body: &Value) -> String {
    let c = &body["checkpoint"];
    let count = |key: &str| body[key].as_array().map_or(0, Vec::len);
    format!(
        "ticket {} rolled back to checkpoint {} (task {}: {}, commit {}); {} tasks reset, \
         branch {}; now {}",
        out::field(body, "ticket_id"),
        out::field(c, "id"),
        out::field(c, "sequence"),
        out::field(c, "task"),
        out::field(c, "commit_sha")
            .chars()
            .take(12)
            .collect::<String>(),
        count("tasks_reset"),
        if body["branch_reset"].as_bool() == Some(true) {
            "reset"
        } else {
            "unchanged"
        },
        out::field(body, "status"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_files_are_json_or_one_prompt_per_line() {
        assert_eq!(
            batch_body("fix a\n\n# skipped\n  fix b  \n").unwrap(),
            json!({"items": [{"prompt": "fix a"}, {"prompt": "fix b"}]})
        );
        assert_eq!(
            batch_body(r#"[{"prompt": "x", "priority": "high"}]"#).unwrap(),
            json!({"items": [{"prompt": "x", "priority": "high"}]})
        );
        let full = json!({"defaults": {"tags": ["a"]}, "items": [{"prompt": "x"}]});
        assert_eq!(batch_body(&full.to_string()).unwrap(), full);
        for bad in ["", "# only a comment\n", "[]", r#"{"prompt": "x"}"#] {
            let e = batch_body(bad).unwrap_err();
            assert_eq!(
                e.downcast_ref::<Failure>().unwrap().exit,
                error::USAGE,
                "{bad}"
            );
        }
        assert!(batch_body("[1,").is_err());
    }

    #[test]
    fn transcripts_and_snippets_read_as_text() {
        let body = json!({"full": false, "entries": [
            {"attempt": 1, "turn": 0, "kind": "prompt", "tool": null, "text": "do it\nnow",
             "truncated": false, "is_error": false, "bytes": 10},
            {"attempt": 1, "turn": 1, "kind": "tool_result", "tool": "bash", "text": "boom",
             "truncated": true, "is_error": true, "bytes": 90000},
        ]});
        assert_eq!(
            transcript(&body, false),
            "(older entries were dropped at the size cap)\n\
             attempt 1 turn 0 prompt\n    do it\n    now\n\
             attempt 1 turn 1 tool_result bash (error)\n    boom\n    (cut; 90000 bytes in all)\n"
        );
        assert_eq!(
            transcript(&json!({"full": true, "entries": []}), false),
            "(no transcript)\n"
        );
        let parts = json!([{"text": "fix the ", "highlighted": false},
            {"text": "login", "highlighted": true}, {"text": "\npage", "highlighted": false}]);
        assert_eq!(snippet(&parts, false), "fix the login page");
        assert_eq!(snippet(&parts, true), "fix the \x1b[33mlogin\x1b[0m page");
    }

    #[test]
    fn waiting_ends_on_finished_statuses_only() {
        assert_eq!(finished("queued"), None);
        assert_eq!(finished("implementing"), None);
        assert_eq!(finished("awaiting_merge"), Some(true));
        assert_eq!(finished("failed"), Some(false));
    }
}
