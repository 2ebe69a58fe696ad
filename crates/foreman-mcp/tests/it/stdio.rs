//! A real stdio MCP server process: listing, filtering, calls, restarts and the environment.

use std::sync::Arc;

use foreman_agent::ExecMode;
use foreman_domain::mcp::{ExternalToolError, ExternalTools};
use foreman_mcp::{McpManager, RestartPolicy, ServerTransport, StdioCommand};
use serde_json::json;

use crate::support::{healthy, launcher, server_bin, stdio_server};

#[tokio::test]
async fn tools_are_listed_across_pages_prefixed_and_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = stdio_server("all", RestartPolicy::OnFailure);
    all.allowed_tools = Vec::new();
    let mut some = stdio_server("some", RestartPolicy::OnFailure);
    some.allowed_tools = vec!["echo".into(), "leak".into()];
    let m = McpManager::start(vec![all, some], launcher(ExecMode::None, dir.path()));
    // six tools over three pages
    assert_eq!(healthy(&m, "all").await.tool_count, 6);
    assert_eq!(healthy(&m, "some").await.tool_count, 2);
    let names: Vec<String> = m.tools().await.into_iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "mcp_all_echo",
            "mcp_all_leak",
            "mcp_all_crash",
            "mcp_all_read_file",
            "mcp_all_env",
            "mcp_all_hidden",
            "mcp_some_echo",
            "mcp_some_leak",
        ]
    );
    // a tool left out by allowed_tools cannot be called either
    let e = m.call("mcp_some_hidden", &json!({})).await.unwrap_err();
    assert_eq!(e.code(), "unknown_tool");
    m.shutdown().await;
}

#[tokio::test]
async fn a_call_round_trips_and_the_environment_is_scrubbed_plus_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = stdio_server("t", RestartPolicy::OnFailure);
    s.transport = ServerTransport::Stdio(StdioCommand {
        argv: vec![server_bin()],
        env: vec![(
            "SERVICE_API_TOKEN".into(),
            "configured-for-this-server".into(),
        )],
        network: false,
        read_only: Vec::new(),
    });
    let m = McpManager::start(vec![s], launcher(ExecMode::None, dir.path()));
    healthy(&m, "t").await;
    let out = m
        .call("mcp_t_echo", &json!({"text": "hello over stdio"}))
        .await
        .unwrap();
    assert_eq!(out.content, "hello over stdio");
    assert!(!out.is_error);
    // a credential of the server's own environment never reaches it; the configured one does
    let leaked = m
        .call("mcp_t_env", &json!({"name": "GITHUB_TOKEN"}))
        .await
        .unwrap();
    assert_eq!(leaked.content, "<unset>");
    let configured = m
        .call("mcp_t_env", &json!({"name": "SERVICE_API_TOKEN"}))
        .await
        .unwrap();
    assert_eq!(configured.content, "configured-for-this-server");
    // a tool's own error comes back as an error result
    let err = m
        .call("mcp_t_read_file", &json!({"path": "/nonexistent/x"}))
        .await
        .unwrap();
    assert!(err.is_error, "{err:?}");
    m.shutdown().await;
}

#[tokio::test]
async fn a_crashing_server_is_restarted_and_health_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = McpManager::start(
        vec![stdio_server("c", RestartPolicy::OnFailure)],
        launcher(ExecMode::None, dir.path()),
    );
    let h = healthy(&m, "c").await;
    assert_eq!((h.restarts, h.last_error), (0, None));
    // the crash tool exits the process: the call fails, the supervisor restarts it
    let e = m.call("mcp_c_crash", &json!({})).await.unwrap_err();
    assert!(
        matches!(
            e,
            ExternalToolError::Failed { .. } | ExternalToolError::Unavailable { .. }
        ),
        "{e:?}"
    );
    m.wait_for(|h| h["c"].healthy && h["c"].restarts >= 1).await;
    let h = m.health()["c"].clone();
    assert!(h.restarts >= 1);
    let last = h.last_error.unwrap();
    assert!(last.contains("exit status: 3"), "{last}");
    assert!(last.contains("crash tool called"), "{last}");
    assert_eq!(h.tool_count, 6);
    // tools work again
    let out = Arc::clone(&m)
        .call("mcp_c_echo", &json!({"text": "back"}))
        .await
        .unwrap();
    assert_eq!(out.content, "back");
    m.shutdown().await;
}

#[tokio::test]
async fn with_never_a_crashed_server_stays_down() {
    let dir = tempfile::tempdir().unwrap();
    let m = McpManager::start(
        vec![stdio_server("n", RestartPolicy::Never)],
        launcher(ExecMode::None, dir.path()),
    );
    healthy(&m, "n").await;
    let _ = m.call("mcp_n_crash", &json!({})).await.unwrap_err();
    m.wait_for(|h| !h["n"].healthy && h["n"].last_error.is_some())
        .await;
    let h = m.health()["n"].clone();
    assert_eq!(h.restarts, 0);
    assert!(h.last_error.unwrap().contains("exit status: 3"));
    assert!(m.tools().await.is_empty());
    let e = m
        .call("mcp_n_echo", &json!({"text": "x"}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "mcp_unavailable");
    m.shutdown().await;
}

#[tokio::test]
async fn a_server_that_cannot_start_is_given_up_after_max_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = stdio_server("gone", RestartPolicy::Always);
    s.max_restarts = 2;
    s.transport = ServerTransport::Stdio(StdioCommand {
        argv: vec!["/nonexistent/mcp-server".into()],
        env: Vec::new(),
        network: false,
        read_only: Vec::new(),
    });
    let m = McpManager::start(vec![s], launcher(ExecMode::None, dir.path()));
    m.wait_for(|h| {
        h["gone"]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("given up"))
    })
    .await;
    let h = m.health()["gone"].clone();
    assert!(!h.healthy);
    assert_eq!(h.restarts, 2);
    m.shutdown().await;
}
