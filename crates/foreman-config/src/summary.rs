//! The redacted configuration summary for the dashboard's settings drawer.

use std::path::Path;

use serde_json::{Value, json};

use crate::Config;

/// Shows the first 8 characters of a secret followed by `...`; empty stays empty, and a secret of
/// 8 characters or fewer is fully hidden.
#[must_use]
pub fn redact_secret(secret: &str) -> String {
    if secret.is_empty() {
        return String::new();
    }
    if secret.chars().count() <= 8 {
        return "...".to_owned();
    }
    let head: String = secret.chars().take(8).collect();
    format!("{head}...")
}

/// Strips credentials from a URL (`postgres://user:pass@host` → `postgres://user:...@host`).
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((creds, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:...@{host}"),
        None => format!("{scheme}://{creds}@{host}"),
    }
}

pub(crate) fn summary(c: &Config, data_dir: &Path) -> Value {
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let provider = c.effective_llm_provider(&env);
    let api_key = if c.llm.api_key.is_empty() {
        match provider.as_str() {
            "anthropic" => env.get("ANTHROPIC_API_KEY").cloned().unwrap_or_default(),
            "openai" => env.get("OPENAI_API_KEY").cloned().unwrap_or_default(),
            _ => String::new(),
        }
    } else {
        c.llm.api_key.clone()
    };
    let work_dir = if c.daemon.work_dir.is_empty() {
        data_dir.join("work").display().to_string()
    } else {
        c.daemon.work_dir.clone()
    };
    json!({
        "llm": {
            "provider": provider,
            "models": c.llm.models,
            "api_key": redact_secret(&api_key),
        },
        "tracker": {
            "provider": c.tracker.provider,
            "poll_interval": c.tracker.poll_interval,
            "pickup_label": c.tracker.pickup_label,
            "token": redact_secret(&c.tracker.token),
        },
        "git": {
            "provider": c.git.provider,
            "clone_url": redact_url(&c.git.clone_url),
            "repository": c.git.repository,
            "branch_prefix": c.git.branch_prefix,
            "auto_merge": c.git.auto_merge,
            "default_branch": c.git.default_branch,
            "token": redact_secret(&c.git.token),
        },
        "runner": {
            "mode": c.runner.mode,
            "allowed_commands": c.runner.allowed_commands,
            "build_command": c.runner.build_command,
            "docker_image": c.runner.docker_image,
        },
        "agent_runner": {
            "provider": c.agent_runner.provider_name(),
            "max_turns": c.agent_runner.max_turns,
            "token_budget": c.agent_runner.token_budget,
            "program": c.agent_runner.program,
            "model": c.agent_runner.model,
            "timeout": c.agent_runner.timeout,
            "network": c.agent_runner.network,
            "max_cost_usd": c.agent_runner.max_cost_usd,
            "env_passthrough": c.agent_runner.env_passthrough,
        },
        "daemon": {
            "work_dir": work_dir,
            "log_level": c.daemon.log_level,
            "max_parallel_tickets": c.daemon.max_parallel_tickets,
            "max_parallel_tasks": c.daemon.max_parallel_tasks,
        },
        "database": match c.database.driver {
            crate::DatabaseDriver::Sqlite => json!({
                "driver": "sqlite",
                "path": c.database.sqlite_path(data_dir).display().to_string(),
            }),
            crate::DatabaseDriver::Postgres => json!({
                "driver": "postgres",
                "url": redact_url(&c.database.url),
            }),
        },
        "mcp": { "servers": c.mcp.servers.iter().map(|s| s.name.clone()).collect::<Vec<_>>() },
        "cost": {
            "daily_budget": c.cost.daily_budget,
            "monthly_budget": c.cost.monthly_budget,
            "per_ticket_budget": c.cost.per_ticket_budget,
            "alert_threshold": c.cost.alert_threshold,
        },
        "rate_limit": { "requests_per_minute": c.rate_limit.requests_per_minute },
        "dashboard": {
            "host": c.dashboard.host,
            "port": c.dashboard.port,
            "tls": !c.dashboard.tls_cert.is_empty(),
            "auth_token": redact_secret(&c.dashboard.auth_token),
        },
        "projects": c.project_names(),
    })
}
