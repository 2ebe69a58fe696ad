//! The redacted configuration summary for the dashboard's settings drawer.

use std::path::Path;

use serde_json::{Value, json};

use crate::Config;
use crate::redact::{redact_secret, redact_url};

impl Config {
    /// The redacted summary served by `GET /api/config/summary`.
    #[must_use]
    pub fn summary(&self, data_dir: &Path) -> Value {
        let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
        let provider = self.effective_llm_provider(&env);
        let api_key = if self.llm.api_key.is_empty() {
            match provider.as_str() {
                "anthropic" => env.get("ANTHROPIC_API_KEY").cloned().unwrap_or_default(),
                "openai" => env.get("OPENAI_API_KEY").cloned().unwrap_or_default(),
                _ => String::new(),
            }
        } else {
            self.llm.api_key.clone()
        };
        let work_dir = if self.daemon.work_dir.is_empty() {
            data_dir.join("work").display().to_string()
        } else {
            self.daemon.work_dir.clone()
        };
        json!({
            "llm": {
                "provider": provider,
                "models": self.llm.models,
                "api_key": redact_secret(&api_key),
            },
            "tracker": {
                "provider": self.tracker.provider,
                "poll_interval": self.tracker.poll_interval,
                "pickup_label": self.tracker.pickup_label,
                "token": redact_secret(&self.tracker.token),
            },
            "git": {
                "provider": self.git.provider,
                "clone_url": redact_url(&self.git.clone_url),
                "repository": self.git.repository,
                "branch_prefix": self.git.branch_prefix,
                "auto_merge": self.git.auto_merge,
                "default_branch": self.git.default_branch,
                "token": redact_secret(&self.git.token),
            },
            "runner": {
                "mode": self.runner.mode,
                "allowed_commands": self.runner.allowed_commands,
                "build_command": self.runner.build_command,
                "docker_image": self.runner.docker_image,
            },
            "agent_runner": {
                "provider": self.agent_runner.provider_name(),
                "max_turns": self.agent_runner.max_turns,
                "token_budget": self.agent_runner.token_budget,
                "program": self.agent_runner.program,
                "model": self.agent_runner.model,
                "timeout": self.agent_runner.timeout,
                "network": self.agent_runner.network,
                "max_cost_usd": self.agent_runner.max_cost_usd,
                "env_passthrough": self.agent_runner.env_passthrough,
            },
            "daemon": {
                "work_dir": work_dir,
                "log_level": self.daemon.log_level,
                "max_parallel_tickets": self.daemon.max_parallel_tickets,
                "max_parallel_tasks": self.daemon.max_parallel_tasks,
            },
            "database": match self.database.driver {
                crate::DatabaseDriver::Sqlite => json!({
                    "driver": "sqlite",
                    "path": self.database.sqlite_path(data_dir).display().to_string(),
                }),
                crate::DatabaseDriver::Postgres => json!({
                    "driver": "postgres",
                    "url": redact_url(&self.database.url),
                }),
            },
            "mcp": { "servers": self.mcp.servers.iter().map(|s| s.name.clone()).collect::<Vec<_>>() },
            "webhooks": {
                "enabled": self.webhooks.enabled,
                "allow_private": self.webhooks.allow_private,
                "delivery_concurrency": self.webhooks.delivery_concurrency,
                "delivery_retention": self.webhooks.delivery_retention,
                "ticket_secret": redact_secret(&self.webhooks.ticket_secret),
            },
            "channels": {
                "telegram": {
                    "enabled": self.channels.telegram.enabled,
                    "token": redact_secret(&self.channels.telegram.token),
                    "allowed_senders": self.channels.telegram.allowed_senders,
                    "project": self.channels.telegram.project,
                },
            },
            "cost": {
                "daily_budget": self.cost.daily_budget,
                "monthly_budget": self.cost.monthly_budget,
                "per_ticket_budget": self.cost.per_ticket_budget,
                "alert_threshold": self.cost.alert_threshold,
            },
            "rate_limit": { "requests_per_minute": self.rate_limit.requests_per_minute },
            "dashboard": {
                "host": self.dashboard.host,
                "port": self.dashboard.port,
                "tls": !self.dashboard.tls_cert.is_empty(),
                "auth_token": redact_secret(&self.dashboard.auth_token),
                "requests_per_minute": self.dashboard.requests_per_minute,
                "write_requests_per_minute": self.dashboard.write_requests_per_minute,
                "trusted_proxies": self.dashboard.trusted_proxies,
                "max_connections": self.dashboard.max_connections,
            },
            "projects": self.project_names(),
        })
    }
}
