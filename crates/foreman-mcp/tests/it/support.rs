//! Shared helpers: the test server's path, launchers and settings with short backoffs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use foreman_agent::{DockerSettings, ExecMode, Isolation, SandboxSettings, SandboxState};
use foreman_mcp::{
    Launcher, McpManager, RestartPolicy, ServerHealth, ServerSettings, ServerTransport,
    StdioCommand,
};

/// The stdio test server.
pub fn server_bin() -> String {
    env!("CARGO_BIN_EXE_foreman-mcp-test-server").to_owned()
}

/// A launcher in `mode` keeping per-server directories under `state`, with a base
/// environment that holds a credential (which must never reach a server).
pub fn launcher(mode: ExecMode, state: &Path) -> Launcher {
    Launcher {
        isolation: Isolation::new(mode, SandboxSettings::default(), DockerSettings::default()),
        base_env: vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("GITHUB_TOKEN".into(), "ghp_LEAKCANARY".into()),
        ],
        state_dir: state.to_owned(),
    }
}

/// Whether the OS sandbox works here; prints SKIPPED when not (fails under `CI=true`).
pub fn sandbox_usable() -> bool {
    let iso = Isolation::new(
        ExecMode::Sandbox,
        SandboxSettings::default(),
        DockerSettings::default(),
    );
    if iso.probe() == SandboxState::Ready {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "bwrap is not usable and CI=true"
    );
    eprintln!("SKIPPED: bwrap is not usable here; install it with apt-get install bubblewrap");
    false
}

/// The test server as `name`, restarted by `restart` after 10 ms.
pub fn stdio_server(name: &str, restart: RestartPolicy) -> ServerSettings {
    ServerSettings {
        restart,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        timeout: Duration::from_secs(30),
        ..ServerSettings::new(
            name,
            ServerTransport::Stdio(StdioCommand {
                argv: vec![server_bin()],
                env: Vec::new(),
                network: false,
                read_only: Vec::new(),
            }),
        )
    }
}

/// Waits until server `name` is healthy and returns its health.
pub async fn healthy(manager: &Arc<McpManager>, name: &str) -> ServerHealth {
    manager
        .wait_for(|h| h.get(name).is_some_and(|s| s.healthy))
        .await;
    manager.health()[name].clone()
}
