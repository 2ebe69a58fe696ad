//! A panic anywhere in a request is a JSON 500 (tower-http's catch-panic layer), never a
//! dropped connection; the control shows what a client sees without the layer.

use std::net::SocketAddr;

use axum::Router;
use foreman_events::EventHub;
use foreman_testkit::MemoryStore;
use serde_json::{Value, json};

/// A handler that panics, as a bug would.
async fn panics() -> &'static str {
    panic!("the dashboard handler panicked on purpose")
}

/// A page the dashboard would serve, whose handler panics.
fn panicking_ui() -> Router {
    Router::new().fallback(panics)
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Serves `app` on a loopback port until the test ends.
async fn serve_app(app: foreman_api::App) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(foreman_api::serve(listener, app, std::future::pending()));
    addr
}

#[tokio::test]
async fn a_panicking_handler_answers_a_json_500_and_the_server_goes_on() {
    let app = foreman_api::app(
        MemoryStore::new().shared(),
        EventHub::default(),
        foreman_api::ApiConfig::default(),
    )
    .with_ui(panicking_ui());
    let addr = serve_app(app).await;
    let client = client();
    for _ in 0..2 {
        let r = client
            .get(format!("http://{addr}/dashboard"))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(r.status(), 500);
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let body: Value = r.json().await.unwrap();
        // the cause goes to the log, never to the client
        assert_eq!(body, json!({"error": "internal error", "code": 500}));
    }
    let health = client
        .get(format!("http://{addr}/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// Control: the same handler served without the layer drops the client's connection with no
/// response at all.
#[tokio::test]
async fn without_the_layer_a_panic_drops_the_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, panicking_ui()).await });
    let err = client()
        .get(format!("http://{addr}/dashboard"))
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(!err.is_status() && err.status().is_none(), "{err:?}");
}
