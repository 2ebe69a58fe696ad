//! The JSON error body for every failure, and the cross-cutting layers (ETag, CORS, limits).

use serde_json::{Value, json};

use crate::support::TestApp;

async fn error_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    assert!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "error responses are json"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], status, "{body}");
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "exactly error and code: {body}"
    );
    (status, body)
}

#[tokio::test]
async fn unknown_paths_are_json_404() {
    let app = TestApp::start().await;
    for path in ["/api/nope", "/api", "/ws/other", "/index.html", "/"] {
        let (status, body) = error_of(app.get(path).send().await.unwrap()).await;
        assert_eq!(status, 404, "{path}");
        assert!(body["error"].as_str().unwrap().contains(path), "{body}");
    }
}

#[tokio::test]
async fn a_ui_router_serves_non_api_paths() {
    use axum::routing::get;
    let store = foreman_testkit::MemoryStore::new().shared();
    let app = foreman_api::app(
        store,
        foreman_events::EventHub::default(),
        Default::default(),
    )
    .with_ui(axum::Router::new().route("/", get(|| async { "dashboard" })));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(foreman_api::serve(listener, app, std::future::pending()));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let r = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "dashboard");
    let r = client
        .get(format!("http://{addr}/api/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 404);
    server.abort();
}

#[tokio::test]
async fn wrong_methods_are_json_405() {
    let app = TestApp::start().await;
    let (status, _) = error_of(
        app.client
            .put(app.url("/api/tickets"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 405);
    let (status, _) = error_of(app.post("/api/health").send().await.unwrap()).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn oversized_bodies_are_json_413() {
    let app = TestApp::builder()
        .config(|c| c.body_limit_bytes = 1024)
        .start()
        .await;
    let big = json!({ "title": "x".repeat(4096) });
    let (status, body) = error_of(app.post("/api/tickets").json(&big).send().await.unwrap()).await;
    assert_eq!(status, 413, "{body}");
}

#[tokio::test]
async fn malformed_json_is_400_naming_the_field() {
    let app = TestApp::start().await;
    let r = app
        .post("/api/tickets")
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(r).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed json"),
        "{body}"
    );

    let r = app
        .post("/api/tickets")
        .json(&json!({"title": 5}))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(r).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("title"), "{body}");

    let r = app
        .post("/api/tickets")
        .json(&json!({"description": "no title"}))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(r).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("title"), "{body}");

    let r = app
        .post("/api/tickets")
        .json(&json!({"title": "t", "colour": "red"}))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(r).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("colour"), "{body}");

    let r = app
        .post("/api/tickets")
        .body("{\"title\": \"t\"}")
        .send()
        .await
        .unwrap();
    let (status, _) = error_of(r).await;
    assert_eq!(status, 415);
}

#[tokio::test]
async fn bad_query_values_are_400() {
    let app = TestApp::start().await;
    let (status, body) = error_of(
        app.get("/api/tickets?status=finished")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("finished") && msg.contains("clarification_needed") && msg.contains("partial"),
        "{msg}"
    );
    let (status, body) = error_of(app.get("/api/tickets?limit=many").send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
    let (status, _) = error_of(app.get("/api/tickets?sort=random").send().await.unwrap()).await;
    assert_eq!(status, 400);
    let (status, body) = error_of(app.get("/api/events?types=tiket_*").send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("tiket_*"),
        "{body}"
    );
    let (status, _) = error_of(app.get("/api/events?limit=-1").send().await.unwrap()).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let app = TestApp::builder()
        .config(|c| c.requests_per_minute = 5)
        .start()
        .await;
    for _ in 0..5 {
        assert_eq!(app.get("/api/status").send().await.unwrap().status(), 200);
    }
    let r = app.get("/api/status").send().await.unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let (status, _) = error_of(r).await;
    assert_eq!(status, 429);
    // Health stays reachable for probes.
    assert_eq!(app.get("/api/health").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn etags_answer_304_until_the_data_changes() {
    let app = TestApp::start().await;
    app.ticket("E-1", "first").await;
    let r = app.get("/api/tickets").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let tag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = app
        .get("/api/tickets")
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), tag);
    assert!(r.bytes().await.unwrap().is_empty());
    let weak = format!("W/{tag}");
    let r = app
        .get("/api/tickets")
        .header("if-none-match", &weak)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    app.ticket("E-2", "second").await;
    let r = app
        .get("/api/tickets")
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(r.headers()["etag"].to_str().unwrap(), tag);
    // Detail routes too.
    let t = app.ticket("E-3", "third").await;
    let r = app
        .get(&format!("/api/tickets/{}", t.id))
        .send()
        .await
        .unwrap();
    let tag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = app
        .get(&format!("/api/tickets/{}", t.id))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
}

#[tokio::test]
async fn cors_allows_only_listed_origins() {
    let app = TestApp::builder()
        .config(|c| c.cors_allowed_origins = vec!["https://dash.example.com".to_owned()])
        .start()
        .await;
    let r = app
        .get("/api/status")
        .header("origin", "https://dash.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://dash.example.com"
    );
    let r = app
        .get("/api/status")
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/tickets"))
        .header("origin", "https://dash.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://dash.example.com"
    );
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");

    // The default: same-origin only, no CORS headers at all.
    let plain = TestApp::start().await;
    let r = plain
        .get("/api/status")
        .header("origin", "https://dash.example.com")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
}
