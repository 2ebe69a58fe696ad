//! The supervisor: one task per configured server that starts it, lists its tools, watches it
//! and restarts it by its policy with exponential backoff; the health `/api/status` reports;
//! and the [`ExternalTools`] port the built-in agent calls through.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use foreman_domain::mcp::{
    ExternalToolError, ExternalToolOutput, ExternalToolSpec, ExternalTools, external_tool_name,
};
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::McpError;
use crate::http::{HttpEndpoint, HttpTransport};
use crate::stdio::{Launcher, StdioCommand, StdioTransport};
use crate::transport::Transport;

/// When a server that stopped is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    /// After every stop, clean exits included.
    Always,
    /// After a crash, a failed start or a lost connection, not after a clean exit.
    #[default]
    OnFailure,
    /// Never: a server that stops stays down.
    Never,
}

impl RestartPolicy {
    /// Parses `always`, `on_failure` or `never`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "always" => Some(Self::Always),
            "on_failure" => Some(Self::OnFailure),
            "never" => Some(Self::Never),
            _ => None,
        }
    }
}

/// How to reach one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTransport {
    /// A child process speaking over stdin and stdout, started through the launcher.
    Stdio(StdioCommand),
    /// A Streamable HTTP endpoint.
    Http(HttpEndpoint),
}

/// One server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Its name (tools are offered as `mcp_<name>_<tool>`).
    pub name: String,
    /// How to reach it.
    pub transport: ServerTransport,
    /// Tools offered (empty: all).
    pub allowed_tools: Vec<String>,
    /// When it is restarted.
    pub restart: RestartPolicy,
    /// Restarts after which it is given up (0: unlimited).
    pub max_restarts: u32,
    /// The first restart's delay.
    pub backoff: Duration,
    /// The longest delay.
    pub max_backoff: Duration,
    /// How long one request may take.
    pub timeout: Duration,
}

impl ServerSettings {
    /// A server with the default policy (`on_failure`, 5 restarts, 1 s to 60 s backoff, 60 s
    /// requests).
    #[must_use]
    pub fn new(name: impl Into<String>, transport: ServerTransport) -> Self {
        Self {
            name: name.into(),
            transport,
            allowed_tools: Vec::new(),
            restart: RestartPolicy::OnFailure,
            max_restarts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
        }
    }
}

/// One server's health, as `/api/status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerHealth {
    /// Initialised and its tools listed; false while starting, restarting or given up.
    pub healthy: bool,
    /// Why it last stopped or failed to start.
    pub last_error: Option<String>,
    /// Tools offered (after `allowed_tools`); 0 while the server is down.
    pub tool_count: usize,
    /// Restarts so far.
    pub restarts: u32,
}

#[derive(Default)]
struct SlotState {
    client: Option<Arc<Client>>,
    /// Offered name → (spec, the tool's own name).
    tools: Vec<ExternalToolSpec>,
    health: ServerHealth,
}

struct Slot {
    settings: ServerSettings,
    state: Mutex<SlotState>,
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Every configured MCP server, supervised.
pub struct McpManager {
    slots: Vec<Arc<Slot>>,
    changed: watch::Sender<u64>,
    cancel: CancellationToken,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for McpManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpManager")
            .field(
                "servers",
                &self
                    .slots
                    .iter()
                    .map(|s| &s.settings.name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl McpManager {
    /// Starts supervising `servers` (stdio ones through `launcher`). Call inside a Tokio
    /// runtime; the servers start in the background, so the manager is usable at once (their
    /// tools appear as they become healthy).
    #[must_use]
    pub fn start(servers: Vec<ServerSettings>, launcher: Launcher) -> Arc<Self> {
        let (changed, _) = watch::channel(0);
        let manager = Arc::new(Self {
            slots: servers
                .into_iter()
                .map(|settings| {
                    Arc::new(Slot {
                        settings,
                        state: Mutex::new(SlotState::default()),
                    })
                })
                .collect(),
            changed,
            cancel: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        });
        let launcher = Arc::new(launcher);
        let handles: Vec<_> = manager
            .slots
            .iter()
            .map(|slot| {
                tokio::spawn(supervise(
                    slot.clone(),
                    launcher.clone(),
                    manager.changed.clone(),
                    manager.cancel.clone(),
                ))
            })
            .collect();
        *manager
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = handles;
        manager
    }

    /// Every server's health, by name.
    #[must_use]
    pub fn health(&self) -> BTreeMap<String, ServerHealth> {
        self.slots
            .iter()
            .map(|s| (s.settings.name.clone(), s.lock().health.clone()))
            .collect()
    }

    /// A counter bumped on every change of health or tools (tests and probes wait on it).
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Waits until `check` holds for the health map (re-checked after every change).
    pub async fn wait_for(&self, check: impl Fn(&BTreeMap<String, ServerHealth>) -> bool) {
        let mut rx = self.subscribe();
        loop {
            rx.borrow_and_update();
            if check(&self.health()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Stops every server and its supervisor.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        let handles: Vec<_> = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for h in handles {
            let _ = h.await;
        }
    }
}

impl Drop for McpManager {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Connects (starting the process for stdio) and initialises.
async fn connect(settings: &ServerSettings, launcher: &Launcher) -> Result<Client, McpError> {
    let transport: Arc<dyn Transport> = match &settings.transport {
        ServerTransport::Stdio(cmd) => {
            Arc::new(StdioTransport::spawn(&settings.name, cmd, launcher)?)
        }
        ServerTransport::Http(endpoint) => {
            Arc::new(HttpTransport::new(endpoint, settings.timeout)?)
        }
    };
    Client::connect(transport, settings.timeout).await
}

/// The tools of `settings`' server as offered, filtered by `allowed_tools`.
fn offered(settings: &ServerSettings, tools: Vec<crate::protocol::Tool>) -> Vec<ExternalToolSpec> {
    let allowed: BTreeSet<&str> = settings.allowed_tools.iter().map(String::as_str).collect();
    tools
        .into_iter()
        .filter(|t| allowed.is_empty() || allowed.contains(t.name.as_str()))
        .map(|t| ExternalToolSpec {
            name: external_tool_name(&settings.name, &t.name),
            server: settings.name.clone(),
            tool: t.name,
            description: t.description.unwrap_or_default(),
            input_schema: if t.input_schema.is_object() {
                t.input_schema
            } else {
                serde_json::json!({"type": "object"})
            },
        })
        .collect()
}

/// Starts, watches and restarts one server until cancelled or given up.
async fn supervise(
    slot: Arc<Slot>,
    launcher: Arc<Launcher>,
    changed: watch::Sender<u64>,
    cancel: CancellationToken,
) {
    let s = &slot.settings;
    let bump = || changed.send_modify(|n| *n += 1);
    let mut backoff = s.backoff;
    loop {
        let started = Instant::now();
        let attempt = async {
            let client = connect(s, &launcher).await?;
            let tools = client.list_tools().await?;
            Ok::<_, McpError>((client, tools))
        };
        let failure = tokio::select! {
            () = cancel.cancelled() => return,
            r = attempt => match r {
                Ok((client, tools)) => {
                    let client = Arc::new(client);
                    let specs = offered(s, tools);
                    tracing::info!(server = %s.name, tools = specs.len(), "mcp server ready");
                    {
                        let mut st = slot.lock();
                        st.health.healthy = true;
                        st.health.tool_count = specs.len();
                        st.tools = specs;
                        st.client = Some(client.clone());
                    }
                    bump();
                    let ended = tokio::select! {
                        () = cancel.cancelled() => {
                            slot.lock().client = None;
                            drop(client);
                            return;
                        }
                        e = client.ended() => e,
                    };
                    drop(client);
                    tracing::warn!(server = %s.name, reason = %ended.message, "mcp server stopped");
                    {
                        let mut st = slot.lock();
                        st.client = None;
                        st.health.healthy = false;
                        st.health.tool_count = 0;
                        st.health.last_error = Some(ended.message);
                    }
                    bump();
                    ended.failure
                }
                Err(e) => {
                    tracing::warn!(server = %s.name, error = %e, code = e.code(), "mcp server failed to start");
                    {
                        let mut st = slot.lock();
                        st.client = None;
                        st.health.healthy = false;
                        st.health.tool_count = 0;
                        st.health.last_error = Some(e.to_string());
                    }
                    bump();
                    true
                }
            }
        };
        let restart = match s.restart {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => failure,
            RestartPolicy::Never => false,
        };
        let restarts = slot.lock().health.restarts;
        if !restart || (s.max_restarts > 0 && restarts >= s.max_restarts) {
            if restart {
                let mut st = slot.lock();
                let why = st.health.last_error.take().unwrap_or_default();
                st.health.last_error = Some(format!("{why} (given up after {restarts} restarts)"));
                drop(st);
                bump();
            }
            tracing::warn!(server = %s.name, restarts, "mcp server is not restarted");
            return;
        }
        // A server that ran for a while starts again from the first delay.
        if started.elapsed() > s.max_backoff {
            backoff = s.backoff;
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(s.max_backoff);
        slot.lock().health.restarts += 1;
        bump();
    }
}

#[async_trait]
impl ExternalTools for McpManager {
    async fn tools(&self) -> Vec<ExternalToolSpec> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for slot in &self.slots {
            let st = slot.lock();
            if st.client.is_none() {
                continue;
            }
            for spec in &st.tools {
                // Two servers whose names and tools spell the same name: the first configured
                // keeps it.
                if seen.insert(spec.name.clone()) {
                    out.push(spec.clone());
                } else {
                    tracing::warn!(server = %spec.server, tool = %spec.tool, name = %spec.name, "mcp tool name taken by an earlier server; not offered");
                }
            }
        }
        out
    }

    async fn call(
        &self,
        name: &str,
        input: &Value,
    ) -> Result<ExternalToolOutput, ExternalToolError> {
        let found = self.slots.iter().find_map(|slot| {
            let st = slot.lock();
            st.tools.iter().find(|t| t.name == name).map(|t| {
                (
                    slot.settings.name.clone(),
                    t.tool.clone(),
                    st.client.clone(),
                )
            })
        });
        let Some((server, tool, client)) = found else {
            return Err(ExternalToolError::UnknownTool {
                name: name.to_owned(),
            });
        };
        let Some(client) = client else {
            return Err(ExternalToolError::Unavailable {
                server,
                message: "not running (restarting or stopped)".into(),
            });
        };
        match client.call_tool(&tool, input).await {
            Ok((content, is_error)) => Ok(ExternalToolOutput { content, is_error }),
            Err(McpError::Rpc { code, message }) => Ok(ExternalToolOutput {
                content: format!("error {code}: {message}"),
                is_error: true,
            }),
            Err(e) => Err(ExternalToolError::Failed {
                server,
                message: e.to_string(),
            }),
        }
    }
}
