//! The server and its daemon: status, stats, workers, runs, history, budget, costs, daemon
//! control and notifications.

use anyhow::Result;
use serde_json::Value;

use super::Ctx;
use super::tickets::{print_list, print_or};
use crate::cli::{CostCommand, DaemonCommand, NotificationsArgs, NotificationsCommand};
use crate::http::seg;
use crate::out::{self, Colour};
use crate::table;

/// `GET path`, printed as JSON or through `human`.
async fn show(
    ctx: &Ctx,
    path: &str,
    query: &[(&str, String)],
    human: fn(&Value) -> String,
) -> Result<()> {
    let body = ctx.client.get(path, query).await?;
    print_or(ctx, &body, || human(&body));
    Ok(())
}

/// `foreman status`.
pub(crate) async fn status(ctx: &Ctx) -> Result<()> {
    let body = ctx.client.get("/api/status", &[]).await?;
    if ctx.json {
        out::json(&body);
        return Ok(());
    }
    let daemon = out::field(&body, "daemon_state");
    let mut pairs = vec![
        (
            "server",
            format!("{} ({})", out::field(&body, "status"), ctx.client.base()),
        ),
        ("version", out::field(&body, "version")),
        ("uptime", out::field(&body, "uptime")),
        (
            "daemon",
            out::paint(&daemon, daemon_colour(&daemon), ctx.colours),
        ),
        ("runner", out::field(&body, "runner_mode")),
    ];
    let why = out::field(&body, "not_taking_work_because");
    if !why.is_empty() {
        pairs.push((
            "not taking work",
            out::paint(&why.replace('_', " "), Colour::Yellow, ctx.colours),
        ));
    }
    if body["run"].is_object() {
        pairs.push(("run", run_progress(&body["run"])));
    }
    table::print_pairs(&pairs);
    for (key, title) in [("channels", "channels"), ("mcp_servers", "MCP servers")] {
        if let Some(map) = body[key].as_object().filter(|m| !m.is_empty()) {
            println!("\n{title}:");
            for (name, health) in map {
                let state = ["status", "state", "connected"]
                    .iter()
                    .map(|k| out::field(health, k))
                    .find(|s| !s.is_empty())
                    .unwrap_or_else(|| out::text(health));
                println!("  {name}: {state}");
            }
        }
    }
    Ok(())
}

/// The current run's progress on one line: `3/10 tickets, 12m05s elapsed, about 28m10s left,
/// $1.20 over 40 LLM calls`.
fn run_progress(run: &Value) -> String {
    let mut line = format!(
        "{}/{} tickets, {} elapsed",
        out::field(run, "completed"),
        out::field(run, "total"),
        out::secs(&run["elapsed_seconds"]),
    );
    let left = out::secs(&run["estimated_remaining_seconds"]);
    if !left.is_empty() {
        line.push_str(&format!(", about {left} left"));
    }
    line.push_str(&format!(
        ", {} over {} LLM calls",
        out::usd(&run["cost_usd"]),
        out::field(run, "llm_calls")
    ));
    line
}

fn daemon_colour(state: &str) -> Colour {
    match state {
        "running" => Colour::Green,
        "stopped" => Colour::Red,
        _ => Colour::Yellow,
    }
}

/// `foreman stats`.
pub(crate) async fn stats(ctx: &Ctx) -> Result<()> {
    show(ctx, "/api/stats", &[], stats_text).await
}

/// Queue statistics for people: a line per figure, then the tickets by status.
fn stats_text(b: &Value) -> String {
    let slots = &b["slots"];
    let budgets = &b["budgets"];
    let mut pairs = vec![
        ("tickets", out::field(b, "total")),
        ("queued", out::field(b, "queue_length")),
        (
            "slots",
            format!(
                "{} busy, {} free of {}{}",
                out::field(slots, "busy"),
                out::field(slots, "available"),
                out::field(slots, "total"),
                if b["live_slots"].as_bool() == Some(false) {
                    " (configured; no daemon in this process)"
                } else {
                    ""
                }
            ),
        ),
        (
            "duration",
            match out::secs(&b["mean_duration_secs"]) {
                m if m.is_empty() => "no finished tickets yet".to_owned(),
                m => format!(
                    "mean {m}, p90 {} (last {} tickets)",
                    out::secs(&b["p90_duration_secs"]),
                    out::field(b, "duration_sample")
                ),
            },
        ),
        ("estimated wait", out::secs(&b["estimated_wait_secs"])),
        ("cost today", out::usd(&b["cost_today_usd"])),
        (
            "budgets",
            format!(
                "daily {}, monthly {}, ticket {}, task {}",
                out::limit(&budgets["max_daily_usd"]),
                out::limit(&budgets["max_monthly_usd"]),
                out::limit(&budgets["max_ticket_usd"]),
                out::limit(&budgets["max_task_usd"]),
            ),
        ),
    ];
    pairs.retain(|(_, v)| !v.is_empty());
    let mut text = table::render_pairs(&pairs);
    if let Some(by) = b["by_status"].as_object().filter(|m| !m.is_empty()) {
        let rows = by
            .iter()
            .map(|(k, v)| vec![k.clone(), out::text(v)])
            .collect();
        text.push_str("\n\n");
        text.push_str(&table::render(&["STATUS", "TICKETS"], rows));
    }
    text
}

/// `foreman workers`.
pub(crate) async fn workers(ctx: &Ctx) -> Result<()> {
    let body = ctx.client.get("/api/workers", &[]).await?;
    print_list(
        ctx,
        &body,
        &[
            "SLOT", "BUSY", "TICKET", "TASK", "STAGE", "STARTED", "DONE", "BRANCH",
        ],
        |w| {
            let busy = w["busy"].as_bool() == Some(true);
            let ticket = match out::field(w, "external_id") {
                e if e.is_empty() => out::field(w, "ticket_id"),
                e => e,
            };
            vec![
                out::field(w, "name"),
                if busy { "yes" } else { "no" }.to_owned(),
                ticket,
                out::field(w, "task_sequence"),
                out::field(w, "stage"),
                out::time(&w["started_at"]),
                out::field(w, "completed"),
                out::field(w, "branch"),
            ]
        },
    );
    if !ctx.json && body["running"].as_bool() == Some(false) {
        println!("(no daemon runs in the server process)");
    }
    Ok(())
}

/// `foreman runs [ID]`.
pub(crate) async fn runs(ctx: &Ctx, id: Option<&str>) -> Result<()> {
    match id {
        Some(id) => {
            let r = ctx
                .client
                .get(&format!("/api/runs/{}", seg(id)), &[])
                .await?;
            print_or(ctx, &r, || {
                let mut pairs = vec![
                    ("id", out::field(&r, "id")),
                    ("status", out::field(&r, "status")),
                    ("node", out::field(&r, "node_id")),
                    ("version", out::field(&r, "version")),
                    ("started", out::time(&r["started_at"])),
                    ("stopped", out::time(&r["stopped_at"])),
                    ("elapsed", out::secs(&r["elapsed_seconds"])),
                    ("tickets done", out::field(&r, "tickets_done")),
                    ("tickets failed", out::field(&r, "tickets_failed")),
                    ("llm calls", out::field(&r, "llm_calls")),
                    ("cost", out::usd(&r["cost_usd"])),
                ];
                pairs.retain(|(_, v)| !v.is_empty());
                table::render_pairs(&pairs)
            });
            Ok(())
        }
        None => {
            let body = ctx.client.get("/api/runs", &[]).await?;
            print_list(
                ctx,
                &body,
                &[
                    "ID", "STATUS", "STARTED", "ELAPSED", "DONE", "FAILED", "CALLS", "COST",
                ],
                |r| {
                    vec![
                        out::field(r, "id"),
                        out::field(r, "status"),
                        out::time(&r["started_at"]),
                        out::secs(&r["elapsed_seconds"]),
                        out::field(r, "tickets_done"),
                        out::field(r, "tickets_failed"),
                        out::field(r, "llm_calls"),
                        out::usd(&r["cost_usd"]),
                    ]
                },
            );
            Ok(())
        }
    }
}

/// `foreman history`.
pub(crate) async fn history(ctx: &Ctx, limit: Option<u32>, cursor: Option<String>) -> Result<()> {
    let mut q = Vec::new();
    if let Some(l) = limit {
        q.push(("limit", l.to_string()));
    }
    if let Some(c) = cursor {
        q.push(("cursor", c));
    }
    let body = ctx.client.get("/api/history", &q).await?;
    print_list(
        ctx,
        &body,
        &[
            "ID", "EXTERNAL", "OUTCOME", "FINISHED", "DURATION", "COST", "TITLE",
        ],
        |h| {
            let outcome = out::field(h, "outcome");
            vec![
                out::field(h, "id"),
                out::field(h, "external_id"),
                out::paint(&outcome, out::status_colour(&outcome), ctx.colours),
                out::time(&h["finished_at"]),
                out::secs(&h["duration_secs"]),
                out::usd(&h["cost_usd"]),
                out::field(h, "title"),
            ]
        },
    );
    if !ctx.json {
        let next = out::field(&body, "next_cursor");
        if !next.is_empty() {
            println!("\nmore: --cursor {next}");
        }
    }
    Ok(())
}

/// `foreman budget`: one row per period.
pub(crate) async fn budget(ctx: &Ctx) -> Result<()> {
    show(ctx, "/api/budget", &[], budget_table).await
}

fn budget_table(body: &Value) -> String {
    let rows = body["periods"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|p| {
            vec![
                out::field(p, "period"),
                out::limit(&p["limit_usd"]),
                out::usd(&p["used_usd"]),
                out::usd(&p["reserved_usd"]),
                out::limit(&p["remaining_usd"]),
                if p["exceeded"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                }
                .to_owned(),
            ]
        })
        .collect();
    let mut text = table::render(
        &[
            "PERIOD",
            "LIMIT",
            "USED",
            "RESERVED",
            "REMAINING",
            "EXCEEDED",
        ],
        rows,
    );
    let mut pairs = Vec::new();
    if !body["ticket_limit_usd"].is_null() {
        pairs.push(("per ticket", out::usd(&body["ticket_limit_usd"])));
    }
    if !body["task_limit_usd"].is_null() {
        pairs.push(("per task", out::usd(&body["task_limit_usd"])));
    }
    pairs.push((
        "alert at",
        format!("{}% of a limit", out::field(body, "alert_threshold_pct")),
    ));
    text.push_str("\n\n");
    text.push_str(&table::render_pairs(&pairs));
    text
}

/// `foreman cost …`.
pub(crate) async fn cost(ctx: &Ctx, command: CostCommand) -> Result<()> {
    match command {
        CostCommand::Today => {
            show(ctx, "/api/costs/today", &[], |b| {
                format!(
                    "today ({}): {}",
                    out::field(b, "date"),
                    out::usd(&b["cost_usd"])
                )
            })
            .await
        }
        CostCommand::Week => {
            show(ctx, "/api/costs/week", &[], |b| {
                let days = out::list_of(b);
                let total: f64 = days.iter().filter_map(|d| d["cost_usd"].as_f64()).sum();
                let rows = days
                    .iter()
                    .map(|d| vec![out::field(d, "date"), out::usd(&d["cost_usd"])])
                    .collect();
                format!(
                    "{}\n\ntotal: {}",
                    table::render(&["DATE", "COST"], rows),
                    out::usd(&serde_json::json!(total))
                )
            })
            .await
        }
        CostCommand::Month => {
            show(ctx, "/api/costs/month", &[], |b| {
                format!("{}: {}", out::field(b, "month"), out::usd(&b["cost_usd"]))
            })
            .await
        }
        CostCommand::Ticket { id } => ticket_cost(ctx, &id).await,
        CostCommand::PerPr { from, to } => {
            let mut q = Vec::new();
            if let Some(f) = from {
                q.push(("from", f));
            }
            if let Some(t) = to {
                q.push(("to", t));
            }
            show(ctx, "/api/costs/per-merged-pr", &q, |b| {
                table::render_pairs(&[
                    ("from", out::time(&b["from"])),
                    ("to", out::time(&b["to"])),
                    ("merged PRs", out::field(b, "merged_prs")),
                    ("total spend", out::usd(&b["total_cost_usd"])),
                    ("merged tickets", out::usd(&b["merged_tickets_cost_usd"])),
                    (
                        "per merged PR",
                        if b["cost_per_merged_pr_usd"].is_null() {
                            "-".to_owned()
                        } else {
                            out::usd(&b["cost_per_merged_pr_usd"])
                        },
                    ),
                ])
            })
            .await
        }
    }
}

/// One ticket's spend: its totals, and its calls summed by role and model.
async fn ticket_cost(ctx: &Ctx, id: &str) -> Result<()> {
    let ticket = ctx
        .client
        .get(&format!("/api/tickets/{}", seg(id)), &[])
        .await?;
    let calls = ctx
        .client
        .get(&format!("/api/tickets/{}/llm-calls", seg(id)), &[])
        .await?;
    let mut groups: Vec<((String, String), [f64; 4])> = Vec::new();
    for c in out::list_of(&calls) {
        let key = (out::field(&c, "role"), out::field(&c, "model"));
        let slot = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => &mut groups[i].1,
            None => {
                groups.push((key, [0.0; 4]));
                &mut groups.last_mut().expect("just pushed").1
            }
        };
        slot[0] += 1.0;
        slot[1] += c["tokens_input"].as_f64().unwrap_or(0.0);
        slot[2] += c["tokens_output"].as_f64().unwrap_or(0.0);
        slot[3] += c["cost_usd"].as_f64().unwrap_or(0.0);
    }
    if ctx.json {
        let by: Vec<Value> = groups
            .iter()
            .map(|((role, model), s)| {
                serde_json::json!({"role": role, "model": model, "calls": s[0] as u64,
                    "tokens_input": s[1] as u64, "tokens_output": s[2] as u64, "cost_usd": s[3]})
            })
            .collect();
        out::json(&serde_json::json!({
            "ticket_id": ticket["id"], "cost_usd": ticket["cost_usd"],
            "tokens_input": ticket["tokens_input"], "tokens_output": ticket["tokens_output"],
            "llm_calls": ticket["total_llm_calls"], "by_role_and_model": by,
        }));
        return Ok(());
    }
    println!(
        "ticket {}: {} over {} LLM calls ({} tokens in, {} out)\n",
        out::field(&ticket, "id"),
        out::usd(&ticket["cost_usd"]),
        out::field(&ticket, "total_llm_calls"),
        out::field(&ticket, "tokens_input"),
        out::field(&ticket, "tokens_output"),
    );
    let rows = groups
        .into_iter()
        .map(|((role, model), s)| {
            vec![
                role,
                model,
                format!("{}", s[0] as u64),
                format!("{}", s[1] as u64),
                format!("{}", s[2] as u64),
                out::usd(&serde_json::json!(s[3])),
            ]
        })
        .collect();
    table::print(&["ROLE", "MODEL", "CALLS", "IN", "OUT", "COST"], rows);
    Ok(())
}

/// `foreman daemon …`.
pub(crate) async fn daemon(ctx: &Ctx, command: DaemonCommand) -> Result<()> {
    let action = match command {
        DaemonCommand::Pause => "pause",
        DaemonCommand::Resume => "resume",
        DaemonCommand::Drain => "drain",
        DaemonCommand::Stop => "stop",
    };
    let body = ctx
        .client
        .post(&format!("/api/daemon/{action}"), None)
        .await?;
    print_or(ctx, &body, || match body["message"].as_str() {
        Some(m) => m.to_owned(),
        None => out::generic(&body),
    });
    Ok(())
}

/// `foreman notifications [ack ID|--all]`.
pub(crate) async fn notifications(ctx: &Ctx, args: NotificationsArgs) -> Result<()> {
    match args.command {
        Some(NotificationsCommand::Ack { id: Some(id), .. }) => {
            let body = ctx
                .client
                .post(
                    &format!("/api/notifications/{}/acknowledge", seg(&id)),
                    None,
                )
                .await?;
            print_or(ctx, &body, || format!("notification {id} acknowledged"));
        }
        Some(NotificationsCommand::Ack { id: None, .. }) => {
            let body = ctx
                .client
                .post("/api/notifications/acknowledge-all", None)
                .await?;
            print_or(ctx, &body, || match body["acknowledged"].as_u64() {
                Some(n) => format!("{n} notifications acknowledged"),
                None => "every notification acknowledged".to_owned(),
            });
        }
        None => {
            let mut q = Vec::new();
            if let Some(s) = args.severity {
                q.push(("severity", s));
            }
            if args.unacked {
                q.push(("acknowledged", "false".to_owned()));
            }
            if let Some(l) = args.limit {
                q.push(("limit", l.to_string()));
            }
            if let Some(c) = args.cursor {
                q.push(("cursor", c));
            }
            let body = ctx.client.get("/api/notifications", &q).await?;
            print_list(
                ctx,
                &body,
                &["ID", "TIME", "SEVERITY", "TRIGGER", "ACKED", "MESSAGE"],
                |n| {
                    let severity = out::field(n, "severity");
                    let colour = match severity.as_str() {
                        "error" | "critical" => Colour::Red,
                        "warning" => Colour::Yellow,
                        _ => Colour::Dim,
                    };
                    let acked = n["acknowledged"].as_bool() == Some(true);
                    vec![
                        out::field(n, "id"),
                        out::time(&n["timestamp"]),
                        out::paint(&severity, colour, ctx.colours),
                        out::field(n, "trigger"),
                        if acked { "yes" } else { "no" }.to_owned(),
                        out::field(n, "message"),
                    ]
                },
            );
            if !ctx.json {
                println!("\n{} unacknowledged", out::field(&body, "unacknowledged"));
                let next = out::field(&body, "next_cursor");
                if !next.is_empty() {
                    println!("more: --cursor {next}");
                }
            }
        }
    }
    Ok(())
}
