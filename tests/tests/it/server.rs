//! The server on a fresh machine: health, first-start token, auth, revocation, restart, signals.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Server, binary, http};

#[tokio::test]
async fn first_start_serves_health_and_guards_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]).await;
    let http = http();

    let health = http.get(server.url("/api/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));

    let denied = http.get(server.url("/api/tickets")).send().await.unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    let body: Value = denied.json().await.unwrap();
    assert_eq!(body["code"], 401);
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));

    // The token file exists with mode 0600 and the token works.
    let token_path = dir.path().join("dashboard_token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let token = server.admin_token();
    let ok = http
        .get(server.url("/api/tickets"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await.unwrap(), serde_json::json!([]));

    // The database is a SQLite file in the data directory.
    assert!(dir.path().join("foreman.db").exists());
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]).await;
    let http = http();
    let admin = server.admin_token();

    let created: Value = http
        .post(server.url("/api/tokens"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "ci", "scopes": ["read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["token"]
        .as_str()
        .expect("the new token's secret is returned once");
    let id = created["id"].as_str().unwrap();
    let ok = http
        .get(server.url("/api/tickets"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let revoked = http
        .delete(server.url(&format!("/api/tokens/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    let denied = http
        .get(server.url("/api/tickets"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn restart_keeps_state_and_does_not_mint_a_second_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]).await;
    let token = server.admin_token();
    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM should stop the server cleanly: {status}"
    );

    let server = Server::start(dir.path(), &[]).await;
    assert_eq!(
        server.admin_token(),
        token,
        "the first token stays; no new one is written"
    );
    let http = http();
    let ok = http
        .get(server.url("/api/tickets"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[test]
fn a_bad_config_key_is_named_and_exits_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("foreman.toml");
    std::fs::write(&config, "[dashboard]\nprot = 8080\n").unwrap();
    let out = std::process::Command::new(binary("foreman-server"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prot"), "{err}");
    assert!(err.contains("foreman.toml"), "{err}");
}

#[test]
fn openapi_subcommand_prints_the_spec() {
    let out = std::process::Command::new(binary("foreman-server"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let spec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(spec["paths"]["/api/health"].is_object());
    assert!(spec["paths"]["/api/tickets"].is_object());
}
