//! The MCP servers (`[[mcp.servers]]`): translated into `foreman-mcp`'s settings, started and
//! supervised for the life of the server, their tools handed to the built-in agent, and their
//! health added to the `/api/status` probe (beside whatever reports the chat channels).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use async_trait::async_trait;
use foreman_api::{ChannelHealth, Connectivity, McpHealth};
use foreman_config::{Config, McpServerConfig};
use foreman_mcp::{
    HttpEndpoint, Launcher, McpManager, RestartPolicy, ServerSettings, ServerTransport,
    StdioCommand, command_argv,
};

/// Variables of the server's own environment a stdio MCP server starts with (nothing else:
/// the configured `env` adds what a server needs).
const BASE_ENV: &[&str] = &["PATH", "LANG", "LC_ALL", "TZ"];

fn duration(key: &str, value: &str) -> Result<Duration> {
    foreman_config::parse_duration(value).map_err(|e| anyhow!("{key} = {value:?}: {e}"))
}

/// One `[[mcp.servers]]` entry as `foreman-mcp` settings.
///
/// # Errors
/// A duration or restart policy that does not parse (validation rejects those first).
pub fn server_settings(i: usize, s: &McpServerConfig) -> Result<ServerSettings> {
    let key = |k: &str| format!("mcp.servers[{i}].{k}");
    let transport = if s.url.trim().is_empty() {
        ServerTransport::Stdio(StdioCommand {
            argv: command_argv(&s.command, &s.args),
            env: s.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            network: s.network,
            read_only: s
                .read_only_paths
                .iter()
                .map(|p| foreman_config::expand_home(p))
                .collect(),
        })
    } else {
        ServerTransport::Http(HttpEndpoint {
            url: s.url.clone(),
            headers: s
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    };
    Ok(ServerSettings {
        name: s.name.clone(),
        transport,
        allowed_tools: s.allowed_tools.clone(),
        restart: RestartPolicy::parse(&s.restart)
            .ok_or_else(|| anyhow!("{} = {:?} is not a policy", key("restart"), s.restart))?,
        max_restarts: s.max_restarts,
        backoff: duration(&key("backoff"), &s.backoff)?,
        max_backoff: duration(&key("max_backoff"), &s.max_backoff)?,
        timeout: duration(&key("timeout"), &s.timeout)?,
    })
}

/// How stdio servers start: in the OS sandbox (bubblewrap; also when commands run in
/// containers, whose image need not hold the server) with the data and work directories
/// hidden, `<data dir>/mcp/<name>` as the one writable directory, and only `PATH`, `LANG`, `LC_ALL` and `TZ` from
/// the server's environment; on the host only when `runner.mode = "none"`.
#[must_use]
pub fn launcher(config: &Config, data_dir: &Path, env: &BTreeMap<String, String>) -> Launcher {
    let work_dir = if config.daemon.work_dir.is_empty() {
        data_dir.join("work")
    } else {
        foreman_config::expand_home(&config.daemon.work_dir)
    };
    let mode = match config.runner.effective_mode() {
        "none" => foreman_agent::ExecMode::None,
        _ => foreman_agent::ExecMode::Sandbox,
    };
    Launcher {
        isolation: foreman_agent::Isolation::new(
            mode,
            crate::compose::sandbox_settings(config, data_dir, &work_dir),
            foreman_agent::DockerSettings::default(),
        ),
        base_env: BASE_ENV
            .iter()
            .filter_map(|k| env.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect(),
        state_dir: data_dir.join("mcp"),
    }
}

/// Starts the configured servers; `None` when there are none.
///
/// # Errors
/// Settings that do not translate.
pub fn start(
    config: &Config,
    data_dir: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Option<Arc<McpManager>>> {
    if config.mcp.servers.is_empty() {
        return Ok(None);
    }
    let servers = config
        .mcp
        .servers
        .iter()
        .enumerate()
        .map(|(i, s)| server_settings(i, s))
        .collect::<Result<Vec<_>>>()?;
    tracing::info!(servers = servers.len(), "starting mcp servers");
    Ok(Some(McpManager::start(
        servers,
        launcher(config, data_dir, env),
    )))
}

/// The `/api/status` probe: the MCP servers' health, and the chat channels of `channels`
/// (the channels' own probe) when there are any.
pub struct StatusProbe {
    channels: Option<Arc<dyn Connectivity>>,
    mcp: Arc<McpManager>,
}

impl std::fmt::Debug for StatusProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusProbe").finish_non_exhaustive()
    }
}

impl StatusProbe {
    /// A probe over `mcp`, with `channels` reporting the chat channels.
    #[must_use]
    pub fn new(channels: Option<Arc<dyn Connectivity>>, mcp: Arc<McpManager>) -> Self {
        Self { channels, mcp }
    }
}

#[async_trait]
impl Connectivity for StatusProbe {
    async fn channels(&self) -> BTreeMap<String, ChannelHealth> {
        match &self.channels {
            Some(c) => c.channels().await,
            None => BTreeMap::new(),
        }
    }

    async fn mcp_servers(&self) -> BTreeMap<String, McpHealth> {
        self.mcp
            .health()
            .into_iter()
            .map(|(name, h)| {
                (
                    name,
                    McpHealth {
                        healthy: h.healthy,
                        last_error: h.last_error,
                        tool_count: u64::try_from(h.tool_count).unwrap_or(u64::MAX),
                        restarts: h.restarts,
                    },
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_status_probe_reports_a_server_that_cannot_start() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::from_toml_str(
            r#"
            [runner]
            mode = "none"
            [[mcp.servers]]
            name = "broken"
            command = "/nonexistent/mcp-server --flag"
            restart = "never"
            "#,
            "test",
            &BTreeMap::new(),
        )
        .unwrap();
        let manager = start(&config, dir.path(), &BTreeMap::new())
            .unwrap()
            .expect("one server");
        manager.wait_for(|h| h["broken"].last_error.is_some()).await;
        let probe = StatusProbe::new(None, manager.clone());
        let health = probe.mcp_servers().await;
        let broken = &health["broken"];
        assert!(!broken.healthy);
        assert_eq!((broken.tool_count, broken.restarts), (0, 0));
        assert!(
            broken
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("/nonexistent/mcp-server")),
            "{broken:?}"
        );
        assert!(probe.channels().await.is_empty());
        manager.shutdown().await;
    }

    #[test]
    fn the_old_command_line_form_is_split_into_an_argv() {
        let s = McpServerConfig {
            name: "fs".into(),
            command: "mcp-fs --root '/srv/a b'".into(),
            ..McpServerConfig::default()
        };
        let settings = server_settings(0, &s).unwrap();
        match settings.transport {
            ServerTransport::Stdio(c) => assert_eq!(c.argv, ["mcp-fs", "--root", "/srv/a b"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(settings.restart, RestartPolicy::OnFailure);
    }
}
