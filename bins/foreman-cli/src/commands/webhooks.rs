//! `foreman webhooks`: outbound webhook subscriptions (admin token): `list`, `create`, `show`,
//! `enable`, `disable`, `delete`, `test` and `deliveries`.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::Ctx;
use crate::http::seg;
use crate::{out, table};

/// `foreman webhooks …`.
#[derive(Debug, Subcommand)]
pub(crate) enum WebhooksCommand {
    /// Every subscription.
    List,
    /// Subscribes a URL to events; prints the signing secret once.
    Create {
        /// Where deliveries go (`http` or `https`).
        url: String,
        /// An event type or glob (`ticket_*`); repeat for more.
        #[arg(long = "event", required = true)]
        events: Vec<String>,
        /// Only this ticket's events.
        #[arg(long)]
        ticket: Option<String>,
        /// Only this project's events.
        #[arg(long)]
        project: Option<String>,
        /// The signing secret (16 to 256 characters); the server makes one when left out.
        #[arg(long)]
        secret: Option<String>,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// One subscription.
    Show {
        /// Subscription id.
        id: String,
    },
    /// Enables a subscription (resetting its failure count).
    Enable {
        /// Subscription id.
        id: String,
    },
    /// Disables a subscription.
    Disable {
        /// Subscription id.
        id: String,
    },
    /// Deletes a subscription and its delivery log.
    Delete {
        /// Subscription id.
        id: String,
    },
    /// Queues a `ping` delivery behind the queued ones.
    Test {
        /// Subscription id.
        id: String,
    },
    /// A subscription's delivery log, newest first.
    Deliveries {
        /// Subscription id.
        id: String,
        /// Deliveries to show (1–200).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// The cursor a previous page printed.
        #[arg(long)]
        cursor: Option<String>,
    },
}

fn path(id: &str) -> String {
    format!("/api/webhooks/subscriptions/{}", seg(id))
}

fn state(s: &Value) -> String {
    if s["enabled"] == true {
        "enabled".to_owned()
    } else {
        match s["disabled_reason"].as_str() {
            Some(r) => format!("disabled ({r})"),
            None => "disabled".to_owned(),
        }
    }
}

fn events(s: &Value) -> String {
    out::list_of(&s["events"])
        .iter()
        .map(out::text)
        .collect::<Vec<_>>()
        .join(",")
}

fn print_subscription(s: &Value) {
    println!("id:        {}", out::field(s, "id"));
    println!("url:       {}", out::field(s, "url"));
    println!("events:    {}", events(s));
    if let Some(t) = s["ticket_id"].as_str() {
        println!("ticket:    {t}");
    }
    if let Some(p) = s["project"].as_str() {
        println!("project:   {p}");
    }
    println!("state:     {}", state(s));
    println!("failures:  {}", out::field(s, "consecutive_failures"));
    println!("source:    {}", out::field(s, "source"));
    if let Some(p) = s["secret_prefix"].as_str() {
        println!("secret:    {p}…");
    }
    println!("created:   {}", out::time(&s["created_at"]));
}

/// Runs `foreman webhooks …`.
pub(crate) async fn webhooks(ctx: &Ctx, command: WebhooksCommand) -> Result<()> {
    let body = match command {
        WebhooksCommand::List => {
            let body = ctx.client.get("/api/webhooks/subscriptions", &[]).await?;
            if !ctx.json {
                let rows = out::list_of(&body)
                    .iter()
                    .map(|s| {
                        vec![
                            out::field(s, "id"),
                            out::field(s, "url"),
                            events(s),
                            state(s),
                            out::field(s, "consecutive_failures"),
                        ]
                    })
                    .collect();
                table::print(&["ID", "URL", "EVENTS", "STATE", "FAILURES"], rows);
                return Ok(());
            }
            body
        }
        WebhooksCommand::Create {
            url,
            events,
            ticket,
            project,
            secret,
            disabled,
        } => {
            let mut req = Map::new();
            req.insert("url".into(), json!(url));
            req.insert("events".into(), json!(events));
            if let Some(t) = ticket {
                req.insert("ticket_id".into(), json!(t));
            }
            if let Some(p) = project {
                req.insert("project".into(), json!(p));
            }
            if let Some(s) = secret {
                req.insert("secret".into(), json!(s));
            }
            if disabled {
                req.insert("enabled".into(), json!(false));
            }
            let body = ctx
                .client
                .post("/api/webhooks/subscriptions", Some(&Value::Object(req)))
                .await?;
            if !ctx.json {
                print_subscription(&body);
                println!(
                    "signing secret (shown once): {}",
                    out::field(&body, "secret")
                );
                return Ok(());
            }
            body
        }
        WebhooksCommand::Show { id } => {
            let body = ctx.client.get(&path(&id), &[]).await?;
            if !ctx.json {
                print_subscription(&body);
                return Ok(());
            }
            body
        }
        WebhooksCommand::Enable { id } => return set_enabled(ctx, &id, true).await,
        WebhooksCommand::Disable { id } => return set_enabled(ctx, &id, false).await,
        WebhooksCommand::Delete { id } => {
            let body = ctx.client.delete(&path(&id)).await?;
            if !ctx.json {
                println!("deleted subscription {id}");
                return Ok(());
            }
            body
        }
        WebhooksCommand::Test { id } => {
            let body = ctx
                .client
                .post(&format!("{}/test", path(&id)), None)
                .await?;
            if !ctx.json {
                println!("queued ping delivery {}", out::field(&body, "id"));
                return Ok(());
            }
            body
        }
        WebhooksCommand::Deliveries { id, limit, cursor } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(c) = cursor {
                query.push(("cursor", c));
            }
            let body = ctx
                .client
                .get(&format!("{}/deliveries", path(&id)), &query)
                .await?;
            if !ctx.json {
                let rows = out::list_of(&body["items"])
                    .iter()
                    .map(|d| {
                        vec![
                            out::field(d, "id"),
                            out::field(d, "event_type"),
                            out::field(d, "status"),
                            out::field(d, "attempt"),
                            d["last_status"]
                                .as_u64()
                                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                            d["latency_ms"]
                                .as_u64()
                                .map_or_else(|| "-".to_owned(), |s| format!("{s} ms")),
                            out::time(&d["created_at"]),
                        ]
                    })
                    .collect();
                table::print(
                    &[
                        "DELIVERY", "EVENT", "STATUS", "ATTEMPTS", "HTTP", "LATENCY", "QUEUED",
                    ],
                    rows,
                );
                if let Some(c) = body["next_cursor"].as_str() {
                    println!("more: --cursor {c}");
                }
                return Ok(());
            }
            body
        }
    };
    out::json(&body);
    Ok(())
}

async fn set_enabled(ctx: &Ctx, id: &str, enabled: bool) -> Result<()> {
    let body = ctx
        .client
        .patch(&path(id), &json!({ "enabled": enabled }))
        .await?;
    if ctx.json {
        out::json(&body);
    } else {
        println!("subscription {id}: {}", state(&body));
    }
    Ok(())
}
