//! `foreman`: the command line. Everything about a running server goes over its HTTP API
//! (`--server`/`FOREMAN_URL`, `--token`/`FOREMAN_TOKEN`, or a profile `foreman login` wrote);
//! `migrate` and `token` work on the database directly; `doctor` checks a configuration;
//! `init`, `completions` and `man` write files and scripts. Human output by default, `--json`
//! on every command. docs/cli.md describes each command.
//!
//! Exit codes (see `error.rs`): 0 ok, 1 failure, 2 usage, 3 not found, 4 conflict.

mod cli;
mod commands;
mod error;
mod http;
mod out;
mod profile;
mod table;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser as _;
use foreman_config::Config;

use crate::cli::{Cli, Command, DoctorArgs};
use crate::commands::{Ctx, channels, local, logs, ops, tickets};

#[tokio::main]
async fn main() -> ExitCode {
    let Cli { global, command } = Cli::parse();
    if let Command::Doctor(args) = &command {
        return doctor(args, global.json).await;
    }
    match run(&global, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(error::report(&e, global.json)),
    }
}

async fn run(global: &cli::Global, command: Command) -> Result<()> {
    match command {
        Command::Doctor(_) => unreachable!("handled in main"),
        Command::Migrate(db) => return local::migrate(&db, global.json).await,
        Command::Token { command } => return local::token(command, global.json).await,
        Command::Init { path } => return local::init(&path, global.json),
        Command::Completions { shell } => {
            local::completions(shell);
            return Ok(());
        }
        Command::Man => return local::man(),
        Command::Login(args) => return local::login(global, &args).await,
        _ => {}
    }
    let target = profile::resolve(
        global.server.as_deref(),
        global.token.as_deref(),
        global.profile.as_deref(),
    )?;
    let ctx = Ctx {
        client: http::Client::new(&target.server, target.token.as_deref())?,
        json: global.json,
        colours: !global.json && out::colours(),
    };
    match command {
        Command::Submit(args) => tickets::submit(&ctx, args).await,
        Command::Batch(args) => tickets::batch(&ctx, args).await,
        Command::Cancel { id } => tickets::cancel(&ctx, &id).await,
        Command::Search {
            query,
            limit,
            cursor,
        } => tickets::search(&ctx, &query, limit, cursor).await,
        Command::Tickets { command } => tickets::tickets(&ctx, command).await,
        Command::Tasks { command } => tickets::tasks(&ctx, command).await,
        Command::Checkpoints { id } => tickets::checkpoints(&ctx, &id).await,
        Command::Rollback { id, checkpoint } => tickets::rollback(&ctx, &id, &checkpoint).await,
        Command::Logs(args) => logs::logs(&ctx, args).await,
        Command::Cost { command } => ops::cost(&ctx, command).await,
        Command::Budget => ops::budget(&ctx).await,
        Command::Status => ops::status(&ctx).await,
        Command::Stats => ops::stats(&ctx).await,
        Command::Workers => ops::workers(&ctx).await,
        Command::Runs { id } => ops::runs(&ctx, id.as_deref()).await,
        Command::History { limit, cursor } => ops::history(&ctx, limit, cursor).await,
        Command::Daemon { command } => ops::daemon(&ctx, command).await,
        Command::Notifications(args) => ops::notifications(&ctx, args).await,
        Command::Channels { command } => channels::channels(&ctx, command).await,
        Command::Audit { command } => commands::audit::audit(&ctx, command).await,
        Command::Webhooks { command } => commands::webhooks::webhooks(&ctx, command).await,
        Command::Usage { command } => commands::usage::usage(&ctx, command).await,
        Command::Skills { command } => commands::skills::skills(&ctx, command).await,
        Command::Rules { command } => commands::rules::rules(&ctx, command).await,
        Command::Doctor(_)
        | Command::Migrate(_)
        | Command::Token { .. }
        | Command::Init { .. }
        | Command::Completions { .. }
        | Command::Man
        | Command::Login(_) => unreachable!("handled above"),
    }
}

/// Prints one line per check and a summary (under `--json`, `{"ok", "failed", "checks"}`);
/// 0 when nothing failed, 1 otherwise.
async fn doctor(args: &DoctorArgs, json: bool) -> ExitCode {
    use foreman_server::doctor::{self, Check, CheckStatus};
    let checks = match Config::load(args.config.as_deref()).and_then(|c| c.validate().map(|()| c)) {
        Ok(config) => {
            let source = args.config.as_deref().map_or_else(
                || "defaults and FOREMAN_* variables".to_owned(),
                |p| p.display().to_string(),
            );
            let mut checks = vec![Check::pass(None, "config", format!("{source} is valid"))];
            checks.extend(doctor::run(&config, &args.data_dir).await);
            checks
        }
        Err(e) => vec![Check::fail(
            None,
            "config",
            e.to_string(),
            "fix the named key (see README.md, Configuration)",
        )],
    };
    let failed = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .count();
    if json {
        let checks: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "project": c.project,
                    "subject": c.subject,
                    "status": match c.status {
                        CheckStatus::Pass => "pass",
                        CheckStatus::Fail => "fail",
                        CheckStatus::Skip => "skip",
                    },
                    "detail": c.detail,
                    "fix": c.fix,
                })
            })
            .collect();
        out::json(&serde_json::json!({"ok": failed == 0, "failed": failed, "checks": checks}));
    } else {
        for c in &checks {
            println!("{c}");
        }
        match failed {
            0 => println!("\nAll checks passed."),
            1 => println!("\n1 problem found."),
            n => println!("\n{n} problems found."),
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
