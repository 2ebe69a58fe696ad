//! `foreman rules`: a project's validation rules (`/api/rules/{project}`): `list`, `show`,
//! `put`, `validate`, `accept`, `reject`, `export`, `import`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{Value, json};

use super::Ctx;
use crate::http::seg;
use crate::out;

/// `foreman rules …`.
#[derive(Debug, Subcommand)]
pub(crate) enum RulesCommand {
    /// Every rule of the project: id, status, severity, kind and pattern.
    List {
        /// The project.
        #[arg(long, default_value = "default")]
        project: String,
    },
    /// One rule in full.
    Show {
        /// The rule's id.
        id: String,
        /// The project.
        #[arg(long, default_value = "default")]
        project: String,
    },
    /// Replace the project's rules with those of a file (`{"rules": [...]}` or an array; `-`
    /// reads stdin), all or nothing.
    Put {
        /// The file.
        file: PathBuf,
        /// The project.
        #[arg(long, default_value = "default")]
        project: String,
    },
    /// Run the project's accepted rules over a file, every line counting as added.
    Validate {
        /// The file to check.
        file: PathBuf,
        /// The path the rules see (default: FILE as given).
        #[arg(long)]
        filename: Option<String>,
        /// Also run the proposed rules.
        #[arg(long)]
        include_proposed: bool,
        /// The project.
        #[arg(long, default_value = "default")]
        project: String,
    },
    /// Accept a (proposed) rule: the pipeline enforces it from the next gate on.
    Accept {
        /// The rule's id.
        id: String,
        /// The project.
        #[arg(long, default_value = "default")]
        project: String,
    },
    /// Reject a rule: kept, never enforced.
    Reject {
        /// The rule's id.
        id: String,
        /// The project.
        #[arg(long, default_value = "default")]
        project: String,
    },
    /// Print the project's rules as a `foreman-rules/1` document.
    Export {
        /// The project.
        #[arg(long, default_value = "default")]
        project: String,
    },
    /// Import a `foreman-rules/1` document (`-` reads stdin): merged by id, or `--replace`.
    Import {
        /// The document.
        file: PathBuf,
        /// Replace every rule instead of merging by id.
        #[arg(long)]
        replace: bool,
        /// The project.
        #[arg(long, default_value = "default")]
        project: String,
    },
}

fn read(file: &Path) -> Result<String> {
    if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading stdin")
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
    }
}

fn read_json(file: &Path) -> Result<Value> {
    serde_json::from_str(&read(file)?).with_context(|| format!("{} is not JSON", file.display()))
}

fn rule_line(r: &Value) -> String {
    format!(
        "{}  {}  {}  {}  {}{}",
        out::field(r, "id"),
        out::field(r, "status"),
        out::field(r, "severity"),
        out::field(r, "kind"),
        out::field(r, "pattern"),
        match r["applies_to"].as_array() {
            Some(globs) if !globs.is_empty() => format!(
                "  (in {})",
                globs
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => String::new(),
        }
    )
}

fn print_rules(ctx: &Ctx, body: &Value) {
    if ctx.json {
        out::json(body);
        return;
    }
    let rules = body["rules"].as_array().cloned().unwrap_or_default();
    if rules.is_empty() {
        println!("no rules");
    }
    for r in &rules {
        println!("{}", rule_line(r));
    }
}

async fn status(ctx: &Ctx, base: &str, id: &str, verb: &str) -> Result<()> {
    let body = ctx
        .client
        .post(&format!("{base}/{}/{verb}", seg(id)), None)
        .await?;
    if ctx.json {
        out::json(&body);
    } else {
        println!("{}", rule_line(&body));
    }
    Ok(())
}

/// Runs `foreman rules …`.
pub(crate) async fn rules(ctx: &Ctx, command: RulesCommand) -> Result<()> {
    let base = |project: &str| format!("/api/rules/{}", seg(project));
    match command {
        RulesCommand::List { project } => {
            let body = ctx.client.get(&base(&project), &[]).await?;
            print_rules(ctx, &body);
        }
        RulesCommand::Show { id, project } => {
            let body = ctx.client.get(&base(&project), &[]).await?;
            let rule = body["rules"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["id"] == id.as_str()))
                .cloned()
                .with_context(|| format!("rule {id} not found in project {project}"))?;
            if ctx.json {
                out::json(&rule);
            } else {
                println!("{}", rule_line(&rule));
                for key in ["message", "rationale", "source", "created_at", "updated_at"] {
                    if let Some(v) = rule.get(key).filter(|v| !v.is_null()) {
                        println!("  {key}: {}", out::text(v));
                    }
                }
            }
        }
        RulesCommand::Put { file, project } => {
            let rules = match read_json(&file)? {
                Value::Object(mut m) => m.remove("rules").unwrap_or(Value::Null),
                v => v,
            };
            let body = ctx
                .client
                .put(&base(&project), &json!({"rules": rules}))
                .await?;
            print_rules(ctx, &body);
        }
        RulesCommand::Validate {
            file,
            filename,
            include_proposed,
            project,
        } => {
            let content = read(&file)?;
            let filename = filename.unwrap_or_else(|| file.display().to_string());
            let mut path = format!("{}/validate", base(&project));
            if include_proposed {
                path.push_str("?include_proposed=true");
            }
            let body = ctx
                .client
                .post(
                    &path,
                    Some(&json!({"filename": filename, "content": content})),
                )
                .await?;
            if ctx.json {
                out::json(&body);
            } else {
                let vs = body["violations"].as_array().cloned().unwrap_or_default();
                if vs.is_empty() {
                    println!("no violations");
                }
                for v in &vs {
                    let at = match v["line"].as_u64() {
                        Some(l) => format!("{}:{l}", out::field(v, "file")),
                        None => out::field(v, "file"),
                    };
                    println!(
                        "{at}: {} {} [{}]",
                        out::field(v, "severity"),
                        out::field(v, "message"),
                        out::field(v, "rule_id")
                    );
                }
            }
        }
        RulesCommand::Accept { id, project } => status(ctx, &base(&project), &id, "accept").await?,
        RulesCommand::Reject { id, project } => status(ctx, &base(&project), &id, "reject").await?,
        RulesCommand::Export { project } => {
            let body = ctx
                .client
                .get(&format!("{}/export", base(&project)), &[])
                .await?;
            out::json(&body);
        }
        RulesCommand::Import {
            file,
            replace,
            project,
        } => {
            let document = read_json(&file)?;
            let mode = if replace { "replace" } else { "merge" };
            let body = ctx
                .client
                .post(
                    &format!("{}/import", base(&project)),
                    Some(&json!({"document": document, "mode": mode})),
                )
                .await?;
            print_rules(ctx, &body);
        }
    }
    Ok(())
}
