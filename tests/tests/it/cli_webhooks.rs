//! `foreman webhooks` against a running server: a subscription created, listed, tested with a
//! ping that reaches a local receiver signed, its delivery log read, disabled and enabled, and
//! deleted; `--json` is the server's own body, and an unknown id exits 3.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

use crate::support::{Server, cli_on, stdout_ok};

type Got = Arc<Mutex<Vec<(String, String)>>>;

async fn hook(State(got): State<Got>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        serde_json::from_slice::<Value>(&body).is_ok(),
        "a JSON body"
    );
    got.lock()
        .unwrap()
        .push((header("x-foreman-event"), header("x-foreman-signature")));
    StatusCode::NO_CONTENT
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_commands_manage_a_subscription_and_read_its_delivery_log() {
    let got: Got = Arc::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("foreman.toml");
    std::fs::write(
        &config,
        "[daemon]\nenabled = false\n\n[webhooks]\nallow_private = [\"127.0.0.1\"]\n",
    )
    .unwrap();
    let flags = ["--config".to_owned(), config.display().to_string()];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_with_env(&dir.path().join("data"), &flags, &[]).await;
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/hook");

    // create: the id, the state and the secret, shown once
    let created = stdout_ok(&cli_on(
        &server,
        home.path(),
        &[
            "webhooks",
            "create",
            &url,
            "--event",
            "ticket_*",
            "--event",
            "task_*_fail",
            "--secret",
            "0123456789abcdef0123",
        ],
    ));
    let id = created
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(str::trim)
        .expect("an id line")
        .to_owned();
    assert!(
        created.contains("events:    ticket_*,task_*_fail"),
        "{created}"
    );
    assert!(created.contains("state:     enabled"), "{created}");
    assert!(
        created.contains("signing secret (shown once): 0123456789abcdef0123"),
        "{created}"
    );

    // list: a table naming it
    let list = stdout_ok(&cli_on(&server, home.path(), &["webhooks", "list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATE"),
        "{list}"
    );
    assert!(
        lines[1].starts_with(&id) && lines[1].contains(&url) && lines[1].contains("enabled"),
        "{list}"
    );
    // --json is the server's own list
    let json: Value = serde_json::from_str(&stdout_ok(&cli_on(
        &server,
        home.path(),
        &["--json", "webhooks", "list"],
    )))
    .unwrap();
    assert_eq!(json[0]["id"], id.as_str());
    assert!(
        json[0].get("secret").is_none(),
        "the secret is never listed"
    );

    // test: a signed ping reaches the receiver and shows in the delivery log
    let queued = stdout_ok(&cli_on(&server, home.path(), &["webhooks", "test", &id]));
    assert!(queued.starts_with("queued ping delivery "), "{queued}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the ping never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (event, signature) = got.lock().unwrap()[0].clone();
    assert_eq!(event, "ping");
    assert!(signature.starts_with("sha256="), "{signature}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log = stdout_ok(&cli_on(
            &server,
            home.path(),
            &["webhooks", "deliveries", &id],
        ));
        if log.contains("delivered") {
            break log;
        }
        assert!(Instant::now() < deadline, "never recorded delivered: {log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let row = log.lines().nth(1).unwrap();
    assert!(
        row.contains("ping") && row.contains("delivered") && row.contains("204"),
        "{log}"
    );

    // disable, show, enable
    let off = stdout_ok(&cli_on(&server, home.path(), &["webhooks", "disable", &id]));
    assert_eq!(off.trim(), format!("subscription {id}: disabled"));
    let shown = stdout_ok(&cli_on(&server, home.path(), &["webhooks", "show", &id]));
    assert!(shown.contains("state:     disabled"), "{shown}");
    let on = stdout_ok(&cli_on(&server, home.path(), &["webhooks", "enable", &id]));
    assert_eq!(on.trim(), format!("subscription {id}: enabled"));

    // delete, then it is gone: exit 3 (not found)
    let gone = stdout_ok(&cli_on(&server, home.path(), &["webhooks", "delete", &id]));
    assert_eq!(gone.trim(), format!("deleted subscription {id}"));
    let missing = cli_on(&server, home.path(), &["webhooks", "show", &id]);
    assert_eq!(missing.status.code(), Some(3), "{missing:?}");
    // a bad URL is the server's 400 naming the field
    let bad = cli_on(
        &server,
        home.path(),
        &["webhooks", "create", "ftp://x/", "--event", "ticket_*"],
    );
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("url"),
        "{bad:?}"
    );
    assert_ne!(bad.status.code(), Some(0));
}
