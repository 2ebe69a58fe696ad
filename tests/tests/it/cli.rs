//! The `foreman` CLI against a real server and database.

use serde_json::Value;

use crate::support::{Server, cli};

#[tokio::test]
async fn generated_tokens_work_against_the_server_and_tickets_list() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let server = Server::start(dir.path(), &[]).await;

    let out = cli(
        &[
            "token",
            "generate",
            "--data-dir",
            data,
            "--name",
            "ops",
            "--scope",
            "read",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("fmn_"), "{token}");

    let out = cli(
        &["tickets", "list", "--server", &server.base, "--json"],
        &[("FOREMAN_TOKEN", &token)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list, serde_json::json!([]));

    let out = cli(
        &["tickets", "list", "--server", &server.base],
        &[("FOREMAN_TOKEN", &token)],
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("STATUS"));

    // token list shows both tokens without their secrets
    let out = cli(&["token", "list", "--data-dir", data, "--json"], &[]);
    assert!(out.status.success());
    let tokens: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 2);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&token));

    // revoke the CLI token: the server refuses it and the CLI exits 1 with the reason
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ops")
        .and_then(|t| t["id"].as_str())
        .unwrap()
        .to_owned();
    let out = cli(&["token", "revoke", "--data-dir", data, &id], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(
        &["tickets", "list", "--server", &server.base],
        &[("FOREMAN_TOKEN", &token)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1() {
    let out = cli(&["tickets", "frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(
        &[
            "token",
            "generate",
            "--scope",
            "root",
            "--data-dir",
            "/nonexistent-dir-for-test",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("root"));
    // nothing listens on port 9 on loopback
    let out = cli(
        &["tickets", "list", "--server", "http://127.0.0.1:9"],
        &[("FOREMAN_TOKEN", "x")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"));
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        &["migrate", "--data-dir", dir.path().to_str().unwrap()],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("foreman.db").exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
}
