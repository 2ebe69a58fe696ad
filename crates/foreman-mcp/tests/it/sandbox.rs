//! A stdio server runs in the OS sandbox: host files outside its allowed paths are out of
//! its reach (control: without the sandbox it reads them).

use foreman_agent::ExecMode;
use foreman_domain::mcp::ExternalTools;
use foreman_mcp::{McpManager, RestartPolicy};
use serde_json::json;

use crate::support::{healthy, launcher, sandbox_usable, stdio_server};

#[tokio::test]
async fn a_sandboxed_server_cannot_read_host_files_and_an_unsandboxed_one_can() {
    if !sandbox_usable() {
        return;
    }
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("credentials.txt");
    std::fs::write(&file, "host secret\n").unwrap();
    let path = file.display().to_string();

    // control: on the host the server reads the file
    let state = tempfile::tempdir().unwrap();
    let host = McpManager::start(
        vec![stdio_server("host", RestartPolicy::Never)],
        launcher(ExecMode::None, state.path()),
    );
    healthy(&host, "host").await;
    let out = host
        .call("mcp_host_read_file", &json!({"path": path}))
        .await
        .unwrap();
    assert_eq!(
        (out.content.as_str(), out.is_error),
        ("host secret\n", false)
    );
    host.shutdown().await;

    // in the sandbox the same call fails, and so does writing outside its directory
    let boxed = McpManager::start(
        vec![stdio_server("boxed", RestartPolicy::Never)],
        launcher(ExecMode::Sandbox, state.path()),
    );
    let h = healthy(&boxed, "boxed").await;
    assert_eq!(h.tool_count, 6);
    let out = boxed
        .call("mcp_boxed_read_file", &json!({"path": path}))
        .await
        .unwrap();
    assert!(out.is_error, "{out:?}");
    assert!(!out.content.contains("host secret"), "{out:?}");
    let echo = boxed
        .call("mcp_boxed_echo", &json!({"text": "inside"}))
        .await
        .unwrap();
    assert_eq!(echo.content, "inside");
    boxed.shutdown().await;
}

#[tokio::test]
async fn a_sandboxed_server_that_crashes_is_restarted_in_the_sandbox() {
    if !sandbox_usable() {
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let m = McpManager::start(
        vec![stdio_server("boxed", RestartPolicy::OnFailure)],
        launcher(ExecMode::Sandbox, state.path()),
    );
    healthy(&m, "boxed").await;
    let _ = m.call("mcp_boxed_crash", &json!({})).await.unwrap_err();
    m.wait_for(|h| h["boxed"].healthy && h["boxed"].restarts >= 1)
        .await;
    let h = m.health()["boxed"].clone();
    assert!(h.last_error.unwrap().contains("exit status: 3"));
    let out = m
        .call("mcp_boxed_echo", &json!({"text": "again"}))
        .await
        .unwrap();
    assert_eq!(out.content, "again");
    m.shutdown().await;
}
