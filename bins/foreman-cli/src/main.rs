//! `foreman`: the command line. Token and migration commands work on the database directly;
//! ticket commands talk to a running server over HTTP; `doctor` checks a configuration.
//!
//! Exit codes: 0 success, 1 error (or a failed `doctor` check), 2 usage (clap's own code for
//! bad arguments).

mod http;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use foreman_config::{Config, parse_duration};
use foreman_domain::{NewApiToken, Scope, TokenId};
use foreman_store::SqlStore;

#[derive(Debug, Parser)]
#[command(
    name = "foreman",
    version,
    about = "Drive a Foreman server from the shell"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply database migrations.
    Migrate(DbArgs),
    /// Manage API tokens (directly in the database).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Read tickets from a running server.
    Tickets {
        #[command(subcommand)]
        command: TicketsCommand,
    },
    /// Check the configuration: git, the database, LLM keys, and every project's repository,
    /// git host and tracker. Exits 1 when a check fails.
    Doctor(DoctorArgs),
}

/// What `foreman doctor` checks.
#[derive(Debug, Args)]
struct DoctorArgs {
    /// Configuration file (the server's).
    #[arg(long, env = "FOREMAN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (holds the SQLite database by default).
    #[arg(long, env = "FOREMAN_DATA_DIR", default_value = ".foreman")]
    data_dir: PathBuf,
}

/// Where the database is: the same flags the server takes.
#[derive(Debug, Args)]
struct DbArgs {
    /// Configuration file.
    #[arg(long, env = "FOREMAN_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Data directory (holds the SQLite database by default).
    #[arg(
        long,
        env = "FOREMAN_DATA_DIR",
        default_value = ".foreman",
        global = true
    )]
    data_dir: PathBuf,
    /// Database URL, overriding the configuration (sqlite://… or postgres://…).
    #[arg(long, env = "FOREMAN_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it once.
    Generate {
        #[command(flatten)]
        db: DbArgs,
        /// A name to recognise it by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Scope: read, write or admin.
        #[arg(long, default_value = "admin")]
        scope: String,
        /// Lifetime, e.g. 30d (default: no expiry).
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token by id.
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        /// The token's id (from `foreman token list`).
        id: String,
    },
}

/// How to reach the server.
#[derive(Debug, Args)]
struct ServerArgs {
    /// Server URL.
    #[arg(
        long,
        env = "FOREMAN_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    server: String,
    /// API token.
    #[arg(long, env = "FOREMAN_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum TicketsCommand {
    /// List tickets.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one ticket.
    Show {
        #[command(flatten)]
        server: ServerArgs,
        /// Ticket id.
        id: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = match Cli::parse().command {
        Command::Doctor(args) => return doctor(&args).await,
        other => other,
    };
    match run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("foreman: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints one line per check and a summary; 0 when nothing failed, 1 otherwise.
async fn doctor(args: &DoctorArgs) -> ExitCode {
    use foreman_server::doctor::{self, CheckStatus};
    let config = match Config::load(args.config.as_deref()).and_then(|c| c.validate().map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            println!(
                "{}",
                doctor::Check::fail(
                    None,
                    "config",
                    e.to_string(),
                    "fix the named key (see README.md, Configuration)"
                )
            );
            println!("\n1 problem found.");
            return ExitCode::FAILURE;
        }
    };
    let source = args.config.as_deref().map_or_else(
        || "defaults and FOREMAN_* variables".to_owned(),
        |p| p.display().to_string(),
    );
    println!(
        "{}",
        doctor::Check::pass(None, "config", format!("{source} is valid"))
    );
    let checks = doctor::run(&config, &args.data_dir).await;
    for c in &checks {
        println!("{c}");
    }
    let failed = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .count();
    match failed {
        0 => {
            println!("\nAll checks passed.");
            ExitCode::SUCCESS
        }
        1 => {
            println!("\n1 problem found.");
            ExitCode::FAILURE
        }
        n => {
            println!("\n{n} problems found.");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Doctor(args) => {
            if doctor(&args).await == ExitCode::SUCCESS {
                Ok(())
            } else {
                bail!("doctor found problems")
            }
        }
        Command::Migrate(db) => {
            let store = open(&db).await?;
            store.migrate().await.context("migration failed")?;
            println!("database is up to date ({})", store.backend());
            Ok(())
        }
        Command::Token { command } => token(command).await,
        Command::Tickets { command } => tickets(command).await,
    }
}

async fn open(db: &DbArgs) -> Result<SqlStore> {
    let url = match &db.database_url {
        Some(url) => url.clone(),
        None => {
            let config = Config::load(db.config.as_deref())?;
            std::fs::create_dir_all(&db.data_dir)
                .with_context(|| format!("cannot create {}", db.data_dir.display()))?;
            config.database.connection_url(&db.data_dir)
        }
    };
    SqlStore::connect(&url)
        .await
        .context("cannot open the database")
}

async fn token(command: TokenCommand) -> Result<()> {
    use foreman_domain::TokenStore;
    match command {
        TokenCommand::Generate {
            db,
            name,
            scope,
            expires_in,
        } => {
            let scope: Scope = scope
                .parse()
                .map_err(|e| anyhow::anyhow!("{e}; expected read, write or admin"))?;
            let expires_at = match expires_in {
                Some(s) => {
                    let d = parse_duration(&s)
                        .map_err(|e| anyhow::anyhow!("--expires-in {s:?}: {e}"))?;
                    Some(foreman_domain::now() + chrono::Duration::from_std(d)?)
                }
                None => None,
            };
            let store = open(&db).await?;
            store.migrate().await?;
            let (record, secret) = NewApiToken::generate(name, vec![scope], expires_at);
            let token = store.create_token(record).await?;
            if db.json {
                println!(
                    "{}",
                    serde_json::json!({"id": token.id, "name": token.name, "token": secret.expose(), "scopes": token.scopes, "expires_at": token.expires_at})
                );
            } else {
                println!("{}", secret.expose());
                eprintln!(
                    "token {} ({}) created; it is shown only once",
                    token.id, token.name
                );
            }
            Ok(())
        }
        TokenCommand::List { db } => {
            let store = open(&db).await?;
            let tokens = store.list_tokens().await?;
            if db.json {
                let rows: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id, "name": t.name, "prefix": t.prefix, "scopes": t.scopes,
                            "created_at": t.created_at, "last_used_at": t.last_used_at,
                            "expires_at": t.expires_at, "revoked_at": t.revoked_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let rows = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            format!("{}…", t.prefix),
                            t.scopes
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(","),
                            t.created_at.format("%Y-%m-%d %H:%M").to_string(),
                            if t.revoked_at.is_some() {
                                "revoked".into()
                            } else if !t.is_usable_at(foreman_domain::now()) {
                                "expired".into()
                            } else {
                                "active".into()
                            },
                        ]
                    })
                    .collect();
                table::print(
                    &["ID", "NAME", "PREFIX", "SCOPES", "CREATED", "STATE"],
                    rows,
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { db, id } => {
            let store = open(&db).await?;
            if store.revoke_token(&TokenId::from(id.as_str())).await? {
                println!("token {id} revoked");
                Ok(())
            } else {
                bail!("no token with id {id}")
            }
        }
    }
}

async fn tickets(command: TicketsCommand) -> Result<()> {
    match command {
        TicketsCommand::List {
            server,
            status,
            limit,
        } => {
            let client = http::Client::new(&server.server, server.token.as_deref())?;
            let mut query = vec![("limit", limit.to_string())];
            if let Some(s) = status {
                query.push(("status", s));
            }
            let body = client.get("/api/tickets", &query).await?;
            if server.json {
                println!("{}", serde_json::to_string_pretty(&body)?);
                return Ok(());
            }
            let rows = body
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    vec![
                        field(t, "id"),
                        field(t, "external_id"),
                        field(t, "status"),
                        format!("${:.2}", t["cost_usd"].as_f64().unwrap_or(0.0)),
                        field(t, "title"),
                    ]
                })
                .collect();
            table::print(&["ID", "EXTERNAL", "STATUS", "COST", "TITLE"], rows);
            Ok(())
        }
        TicketsCommand::Show { server, id } => {
            let client = http::Client::new(&server.server, server.token.as_deref())?;
            let body = client.get(&format!("/api/tickets/{id}"), &[]).await?;
            if server.json {
                println!("{}", serde_json::to_string_pretty(&body)?);
                return Ok(());
            }
            for key in [
                "id",
                "external_id",
                "title",
                "status",
                "branch_name",
                "pr_url",
                "cost_usd",
                "tokens_input",
                "tokens_output",
                "total_llm_calls",
                "created_at",
                "started_at",
            ] {
                println!("{key:>16}: {}", field(&body, key));
            }
            for key in ["description", "acceptance_criteria"] {
                println!("\n{key}:\n{}", field(&body, key));
            }
            Ok(())
        }
    }
}

fn field(v: &serde_json::Value, key: &str) -> String {
    match &v[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}
