//! The MCP endpoint under a real MCP client: `tests/mcp_client/drive.py`, written with the
//! official MCP Python SDK (`mcp` from PyPI, pinned in `.ci/run`), connects over Streamable
//! HTTP to a `foreman-server` with a fresh SQLite database and its daemon off (so a created
//! ticket stays `queued` until cancelled), lists the tools, creates, reads and cancels a
//! ticket, reads it as a resource, and checks that a read-only token is refused a mutating
//! tool.
//!
//! Without `python3` and the SDK the test is skipped with a note, except when `CI` is set:
//! there it fails and says what to install.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::{Server, http};

/// The SDK version `.ci/run` installs.
const MCP_SDK: &str = "2.3.0";

#[tokio::test]
async fn the_official_python_sdk_drives_the_mcp_endpoint() {
    if let Err(missing) = python_with_sdk() {
        assert!(
            !ci(),
            "CI is set, so the MCP client test is required: {missing}"
        );
        eprintln!("skipped: {missing} (the test is required when CI is set)");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let env = [("FOREMAN_DAEMON_ENABLED".to_owned(), "false".to_owned())];
    let server = Server::start_with_env(data.path(), &[], &env).await;
    let admin = server.admin_token();
    let writer = token(&server, &admin, "mcp-writer", "write").await;
    let reader = token(&server, &admin, "mcp-reader", "read").await;

    let script = workspace_root().join("tests/mcp_client/drive.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&server.base)
        .env("FOREMAN_TOKEN", &writer)
        .env("FOREMAN_READ_TOKEN", &reader)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "drive.py exited with {}:\n{stdout}\n{stderr}",
        out.status
    );
    for check in [
        "ok: tools/list names every tool",
        "ok: create_ticket",
        "ok: cancel_ticket",
        "ok: the ticket resource shows it failed",
        "ok: a read token is refused a mutating tool",
        "mcp client: all checks passed",
    ] {
        assert!(
            stdout.contains(check),
            "{check} missing:\n{stdout}\n{stderr}"
        );
    }
    eprintln!("{stdout}");

    // what the client did is what the REST API sees
    let tickets: Value = http()
        .get(server.url("/api/tickets?status=failed"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = tickets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Add a health check")
        .unwrap_or_else(|| panic!("the created ticket is not listed: {tickets}"));
    assert_eq!(created["submitter"], "mcp-writer");
    let all: Value = http()
        .get(server.url("/api/tickets"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "the refused create made nothing: {all}"
    );
}

/// A stored token with one scope, made through the API.
async fn token(server: &Server, admin: &str, name: &str, scope: &str) -> String {
    let r = http()
        .post(server.url("/api/tokens"))
        .bearer_auth(admin)
        .json(&json!({"name": name, "scopes": [scope]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// `Ok` when `python3` runs and imports the MCP SDK; otherwise what is missing.
fn python_with_sdk() -> Result<(), String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import mcp.client.streamable_http, importlib.metadata as m; print(m.version('mcp'))",
        ])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .map_err(|e| format!("cannot run python3 ({e})"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 cannot import the MCP SDK ({}); install it with `python3 -m pip install mcp=={MCP_SDK}`",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if version != MCP_SDK {
        eprintln!("note: the MCP SDK is {version}; .ci/run pins {MCP_SDK}");
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_owned()
}
