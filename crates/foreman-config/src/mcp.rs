//! `[[mcp.servers]]`: the MCP servers' settings and their validation, every error naming its key
//! (`mcp.servers[<i>].<key>`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::parse_duration;
use crate::error::ConfigError;

/// `[mcp]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// Server names and commands.
    pub servers: Vec<McpServerConfig>,
}

/// One MCP server (`[[mcp.servers]]`): a stdio server (`command`, `args`, `env`), started in the
/// OS sandbox, or a Streamable HTTP one (`url`, `headers`). See `mcp.rs` for the validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpServerConfig {
    /// Name (`[a-zA-Z0-9_-]`, 1-32 characters, unique); tools are offered as
    /// `mcp_<name>_<tool>`.
    pub name: String,
    /// Stdio: the program; with `args` empty, a whole command line split like a shell would.
    pub command: String,
    /// Stdio: the program's arguments.
    pub args: Vec<String>,
    /// Stdio: environment variables set for the server (beside a scrubbed base environment).
    pub env: BTreeMap<String, String>,
    /// Stdio: keep the host's network (default: loopback only, in a namespace of its own).
    pub network: bool,
    /// Stdio: further host paths the server may read (the system directories always are).
    pub read_only_paths: Vec<String>,
    /// Streamable HTTP: the endpoint (`http://` or `https://`).
    pub url: String,
    /// Streamable HTTP: headers sent with every request (e.g. `Authorization`).
    pub headers: BTreeMap<String, String>,
    /// Tools offered to the agent (empty: all).
    pub allowed_tools: Vec<String>,
    /// `always`, `on_failure` (default) or `never`.
    pub restart: String,
    /// Restarts after which the server is given up (0: unlimited).
    pub max_restarts: u32,
    /// The first restart's delay, doubled after each failed start up to `max_backoff`.
    pub backoff: String,
    /// The longest delay between restarts.
    pub max_backoff: String,
    /// How long one request (initialize, list, call) may take.
    pub timeout: String,
}

impl Default for McpServerConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            command: String::new(),
            args: Vec::new(),
            env: BTreeMap::new(),
            network: false,
            read_only_paths: Vec::new(),
            url: String::new(),
            headers: BTreeMap::new(),
            allowed_tools: Vec::new(),
            restart: "on_failure".into(),
            max_restarts: 5,
            backoff: "1s".into(),
            max_backoff: "60s".into(),
            timeout: "60s".into(),
        }
    }
}

/// The restart policies.
pub const RESTART_POLICIES: &[&str] = &["always", "on_failure", "never"];

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn check_server(i: usize, s: &McpServerConfig) -> Result<(), ConfigError> {
    let key = |k: &str| format!("mcp.servers[{i}].{k}");
    if !valid_name(&s.name) {
        return Err(ConfigError::invalid(
            &key("name"),
            &s.name,
            "expected 1-32 of a-z, A-Z, 0-9, - and _",
        ));
    }
    let stdio = !s.command.trim().is_empty();
    let http = !s.url.trim().is_empty();
    match (stdio, http) {
        (true, true) => {
            return Err(ConfigError::invalid(
                &key("url"),
                &s.url,
                "set either command (stdio) or url (Streamable HTTP), not both",
            ));
        }
        (false, false) => {
            return Err(ConfigError::invalid(
                &key("command"),
                "",
                "set command (a stdio server) or url (a Streamable HTTP server)",
            ));
        }
        _ => {}
    }
    if http && !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
        return Err(ConfigError::invalid(
            &key("url"),
            &s.url,
            "expected an http:// or https:// URL",
        ));
    }
    if !http && !s.headers.is_empty() {
        return Err(ConfigError::invalid(
            &key("headers"),
            s.headers.keys().cloned().collect::<Vec<_>>().join(","),
            "headers apply to url servers only",
        ));
    }
    if !stdio && (!s.args.is_empty() || !s.env.is_empty() || s.network) {
        return Err(ConfigError::invalid(
            &key("args"),
            s.args.join(" "),
            "args, env and network apply to command servers only",
        ));
    }
    if !RESTART_POLICIES.contains(&s.restart.as_str()) {
        return Err(ConfigError::invalid(
            &key("restart"),
            &s.restart,
            "expected always, on_failure or never",
        ));
    }
    for (k, v) in [
        ("backoff", &s.backoff),
        ("max_backoff", &s.max_backoff),
        ("timeout", &s.timeout),
    ] {
        match parse_duration(v) {
            Ok(d) if !d.is_zero() => {}
            Ok(_) => return Err(ConfigError::invalid(&key(k), v, "must be positive")),
            Err(e) => return Err(ConfigError::invalid(&key(k), v, &e)),
        }
    }
    if let Some(t) = s.allowed_tools.iter().find(|t| t.trim().is_empty()) {
        return Err(ConfigError::invalid(
            &key("allowed_tools"),
            t,
            "tool names must not be empty",
        ));
    }
    Ok(())
}

/// Checks every server and that names are unique.
pub(crate) fn validate(mcp: &McpConfig) -> Result<(), ConfigError> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, s) in mcp.servers.iter().enumerate() {
        check_server(i, s)?;
        if seen.contains(&s.name.as_str()) {
            return Err(ConfigError::invalid(
                &format!("mcp.servers[{i}].name"),
                &s.name,
                "server names must be unique",
            ));
        }
        seen.push(&s.name);
    }
    Ok(())
}
