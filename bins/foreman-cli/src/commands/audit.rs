//! `foreman audit`: the audit trail (admin token): `list` and `verify`.

use anyhow::{Result, bail};
use clap::Subcommand;

use super::Ctx;
use crate::{out, table};

/// `foreman audit …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Recorded mutating calls, newest first.
    List {
        /// A token name or id.
        #[arg(long)]
        actor: Option<String>,
        /// An action (`ticket.cancel`) or a family (`ticket.*`).
        #[arg(long)]
        action: Option<String>,
        /// Only entries newer than this: a duration (`30m`, `7d`) or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Entries to show (1–1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Walks the whole chain; exits non-zero naming the first broken link.
    Verify,
}

/// An RFC 3339 time for `--since`.
fn since(value: &str) -> Result<String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&chrono::Utc).to_rfc3339());
    }
    let Ok(age) = foreman_config::parse_duration(value) else {
        bail!("--since: expected a duration (30m, 7d) or an RFC 3339 time, got {value:?}");
    };
    let age = chrono::Duration::from_std(age)?;
    Ok((chrono::Utc::now() - age).to_rfc3339())
}

/// Runs `foreman audit …`.
pub(crate) async fn audit(ctx: &Ctx, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::List {
            actor,
            action,
            since: from,
            limit,
        } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(a) = actor {
                query.push(("actor", a));
            }
            if let Some(a) = action {
                query.push(("action", a));
            }
            if let Some(s) = from {
                query.push(("from", since(&s)?));
            }
            let body = ctx.client.get("/api/audit", &query).await?;
            if ctx.json {
                out::json(&body);
                return Ok(());
            }
            let rows = out::list_of(&body["items"])
                .iter()
                .map(|e| {
                    vec![
                        out::field(e, "seq"),
                        out::time(&e["at"]),
                        e["actor"].as_str().unwrap_or("(unknown)").to_owned(),
                        out::field(e, "action"),
                        out::field(e, "resource"),
                        format!("{} {}", out::field(e, "outcome"), out::field(e, "status")),
                        out::field(e, "client_addr"),
                    ]
                })
                .collect();
            table::print(
                &[
                    "SEQ", "AT", "ACTOR", "ACTION", "RESOURCE", "OUTCOME", "CLIENT",
                ],
                rows,
            );
        }
        AuditCommand::Verify => {
            let body = ctx.client.get("/api/audit/verify", &[]).await?;
            if ctx.json {
                out::json(&body);
            } else if body["ok"] == true {
                println!(
                    "audit chain intact: {} entries checked{}",
                    out::field(&body, "checked"),
                    body["checkpoint"]["seq"]
                        .as_u64()
                        .map_or_else(String::new, |s| format!(" after the checkpoint at seq {s}"))
                );
            }
            if body["ok"] != true {
                bail!(
                    "audit chain broken at seq {} ({}) after {} entries checked",
                    out::field(&body["first_broken"], "seq"),
                    out::field(&body["first_broken"], "reason"),
                    out::field(&body, "checked")
                );
            }
        }
    }
    Ok(())
}
