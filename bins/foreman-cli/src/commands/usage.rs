//! `foreman usage`: LLM usage made outside Foreman, reported to the server
//! (`POST /api/llm/usage`), and the usage summary (`GET /api/llm/usage/summary`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use super::Ctx;
use crate::{out, table};

/// Rows per request, the server's limit.
const BATCH: usize = 500;

/// `foreman usage …`.
#[derive(Debug, Subcommand)]
pub(crate) enum UsageCommand {
    /// Report LLM calls made outside Foreman (write token). FILE holds one row, an array of
    /// rows, or `{"items": [...]}` (`-` reads stdin); rows go in batches of 500, each all or
    /// nothing. Give each row an `id` so that re-running the command records nothing twice.
    Ingest {
        /// The JSON file.
        #[arg(long)]
        file: PathBuf,
    },
    /// Usage summed per group (Foreman's own calls and reported ones).
    Summary {
        /// `model`, `project`, `ticket`, `session_tag` or `day`.
        #[arg(long, default_value = "day")]
        group_by: String,
        /// Start: a date (`2026-12-01`) or an RFC 3339 time; default 30 days before `--to`.
        #[arg(long)]
        from: Option<String>,
        /// End: a date (that whole day included) or an RFC 3339 time; default now.
        #[arg(long)]
        to: Option<String>,
        /// `foreman` or `external`; default both.
        #[arg(long)]
        source: Option<String>,
    },
}

/// The rows of a file: one object, an array, or `{"items": [...]}`.
fn rows_of(v: Value) -> Result<Vec<Value>> {
    match v {
        Value::Array(rows) => Ok(rows),
        Value::Object(mut m) if m.contains_key("items") => match m.remove("items") {
            Some(Value::Array(rows)) => Ok(rows),
            _ => bail!("`items` must be an array of rows"),
        },
        v @ Value::Object(_) => Ok(vec![v]),
        _ => bail!("expected a row, an array of rows or {{\"items\": [...]}}"),
    }
}

/// Runs `foreman usage …`.
pub(crate) async fn usage(ctx: &Ctx, command: UsageCommand) -> Result<()> {
    match command {
        UsageCommand::Ingest { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading stdin")?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let rows = rows_of(value)?;
            if rows.is_empty() {
                bail!("{} holds no rows", file.display());
            }
            let (mut inserted, mut duplicates, mut cost) = (0, 0, 0.0);
            let batches = rows.len().div_ceil(BATCH);
            for (n, chunk) in rows.chunks(BATCH).enumerate() {
                let body = json!({ "items": chunk });
                let answer = ctx
                    .client
                    .post("/api/llm/usage", Some(&body))
                    .await
                    .with_context(|| {
                        format!(
                            "batch {} of {batches} (rows {} to {}; item indices are within the batch); \
                             earlier batches were recorded",
                            n + 1,
                            n * BATCH,
                            n * BATCH + chunk.len() - 1
                        )
                    })?;
                inserted += answer["inserted"].as_u64().unwrap_or(0);
                duplicates += answer["duplicates"].as_array().map_or(0, Vec::len);
                cost += answer["cost_usd"].as_f64().unwrap_or(0.0);
            }
            let summary = json!({
                "received": rows.len(),
                "inserted": inserted,
                "duplicates": duplicates,
                "cost_usd": cost,
            });
            if ctx.json {
                out::json(&summary);
            } else {
                println!(
                    "recorded {inserted} of {} rows ({duplicates} already recorded), {}",
                    rows.len(),
                    out::usd(&summary["cost_usd"])
                );
            }
        }
        UsageCommand::Summary {
            group_by,
            from,
            to,
            source,
        } => {
            let mut query = vec![("group_by", group_by)];
            query.extend(from.map(|v| ("from", v)));
            query.extend(to.map(|v| ("to", v)));
            query.extend(source.map(|v| ("source", v)));
            let body = ctx.client.get("/api/llm/usage/summary", &query).await?;
            if ctx.json {
                out::json(&body);
                return Ok(());
            }
            let row = |g: &Value| {
                vec![
                    match out::text(&g["key"]) {
                        k if k.is_empty() => "(none)".to_owned(),
                        k => k,
                    },
                    out::field(g, "calls"),
                    out::field(g, "input_tokens"),
                    out::field(g, "output_tokens"),
                    out::field(g, "cache_read_tokens"),
                    out::field(g, "cache_write_tokens"),
                    out::usd(&g["cost_usd"]),
                ]
            };
            let mut rows: Vec<Vec<String>> =
                out::list_of(&body["groups"]).iter().map(row).collect();
            let mut total = row(&body["total"]);
            total[0] = "total".to_owned();
            rows.push(total);
            let key = out::text(&body["group_by"])
                .to_uppercase()
                .replace('_', " ");
            table::print(
                &[
                    &key,
                    "CALLS",
                    "INPUT",
                    "OUTPUT",
                    "CACHE READ",
                    "CACHE WRITE",
                    "COST",
                ],
                rows,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_hold_one_row_an_array_or_items() {
        assert_eq!(rows_of(json!({"model": "m"})).unwrap().len(), 1);
        assert_eq!(rows_of(json!([{}, {}])).unwrap().len(), 2);
        assert_eq!(rows_of(json!({"items": [{}, {}, {}]})).unwrap().len(), 3);
        assert!(rows_of(json!({"items": 3})).is_err());
        assert!(rows_of(json!("rows")).is_err());
    }
}
