//! Outbound webhooks survive a SIGKILL of the real server: events are fanned out and delivered
//! to a local receiver while the server is killed mid-way and started again on the same
//! database; every event arrives, and a repeat carries the delivery id of the first time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use crate::support::{Server, http};

const TICKETS: usize = 200;

type Got = Arc<Mutex<Vec<(i64, String)>>>;

async fn hook(State(got): State<Got>, headers: HeaderMap, body: Bytes) -> StatusCode {
    // a slow receiver, so the kill lands while deliveries are queued
    tokio::time::sleep(Duration::from_millis(15)).await;
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let (Some(seq), Some(id)) = (
        v["seq"].as_i64(),
        headers
            .get("x-foreman-delivery")
            .and_then(|h| h.to_str().ok()),
    ) {
        got.lock().unwrap().push((seq, id.to_owned()));
    }
    StatusCode::NO_CONTENT
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_survive_a_sigkill_of_the_server() {
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
        "[daemon]\nenabled = false\n\n[webhooks]\nallow_private = [\"127.0.0.1\"]\n\
         timeout = \"1s\"\nbatch = 5\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    // (the harness clears `FOREMAN_CONFIG` from the child's environment: the flag it is)
    let flags = ["--config".to_owned(), config.display().to_string()];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Server::start_with_env(&data, &flags, &[]).await;
    let token = server.admin_token();
    let client = http();
    let r = client
        .post(server.url("/api/webhooks/subscriptions"))
        .bearer_auth(&token)
        .json(&json!({"url": format!("http://{addr}/hook"), "events": ["ticket_created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    for batch in 0..TICKETS / 20 {
        let items: Vec<Value> = (0..20)
            .map(|i| json!({"title": format!("ticket {batch}-{i}"), "description": "d"}))
            .collect();
        let r = client
            .post(server.url("/api/tickets/batch"))
            .bearer_auth(&token)
            .json(&json!({"items": items}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    // kill it once some, not all, have arrived
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.lock().unwrap().len() < TICKETS / 4 {
        assert!(Instant::now() < deadline, "no deliveries arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let at_kill = got.lock().unwrap().len();
    assert!(at_kill < TICKETS, "the kill came too late to test anything");
    drop(server);

    let _again = Server::start_with_env(&data, &flags, &[]).await;
    // leases of the killed process expire (timeout x batch + 5 s), then the rest goes
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let distinct = {
            let g = got.lock().unwrap();
            g.iter()
                .map(|(s, _)| *s)
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        if distinct == TICKETS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {distinct} of {TICKETS} events arrived after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let g = got.lock().unwrap();
    let mut ids: HashMap<i64, &str> = HashMap::new();
    let mut repeats = 0;
    for (seq, id) in g.iter() {
        if let Some(prev) = ids.insert(*seq, id) {
            assert_eq!(prev, id, "a repeat carries the same delivery id");
            repeats += 1;
        }
    }
    println!(
        "webhook crash figures: {TICKETS} events, {at_kill} received before the kill, \
         {repeats} repeats after it (same delivery id), 0 lost"
    );
}
