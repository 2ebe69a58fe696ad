//! A Streamable HTTP server speaking the protocol: JSON and SSE answers, the session id,
//! configured headers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use foreman_agent::ExecMode;
use foreman_domain::mcp::ExternalTools;
use foreman_mcp::{HttpEndpoint, McpManager, RestartPolicy, ServerSettings, ServerTransport};
use serde_json::{Value, json};

use crate::support::{healthy, launcher};

#[derive(Default)]
struct Seen {
    without_session: AtomicUsize,
    unauthorised: AtomicUsize,
}

fn sse(messages: &[Value]) -> Response {
    let body: String = messages
        .iter()
        .map(|m| format!("event: message\ndata: {m}\n\n"))
        .collect();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from(body))
        .unwrap()
}

fn json_response(v: &Value, session: Option<&str>) -> Response {
    let mut b = Response::builder().header("content-type", "application/json");
    if let Some(s) = session {
        b = b.header("mcp-session-id", s);
    }
    b.body(Body::from(v.to_string())).unwrap()
}

async fn mcp(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: String) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer let-me-in") {
        seen.unauthorised.fetch_add(1, Ordering::Relaxed);
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .body(Body::empty())
            .unwrap();
    }
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        accept.contains("application/json") && accept.contains("text/event-stream"),
        "{accept}"
    );
    let msg: Value = serde_json::from_str(&body).unwrap();
    let method = msg["method"].as_str().unwrap_or("");
    let id = msg.get("id").cloned();
    if method != "initialize"
        && headers.get("mcp-session-id").and_then(|v| v.to_str().ok()) != Some("session-42")
    {
        seen.without_session.fetch_add(1, Ordering::Relaxed);
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Body::empty())
            .unwrap();
    }
    let Some(id) = id else {
        return Response::builder()
            .status(StatusCode::ACCEPTED)
            .body(Body::empty())
            .unwrap();
    };
    let reply = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result});
    match method {
        "initialize" => json_response(
            &reply(json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "axum-test", "version": "1"}
            })),
            Some("session-42"),
        ),
        // the tool list comes as an event stream, after a notification
        "tools/list" => sse(&[
            json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "listing"}}),
            reply(json!({"tools": [
                {"name": "shout", "description": "Upper-cases text", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}},
                {"name": "secret", "inputSchema": {"type": "object"}}
            ]})),
        ]),
        "tools/call" => {
            let text = msg["params"]["arguments"]["text"]
                .as_str()
                .unwrap_or("")
                .to_uppercase();
            if msg["params"]["name"] == "shout" {
                json_response(
                    &reply(json!({"content": [{"type": "text", "text": text}]})),
                    None,
                )
            } else {
                sse(&[reply(
                    json!({"content": [{"type": "text", "text": "AWS key AKIAZ3QJKQ4LMNOPQRST"}]}),
                )])
            }
        }
        _ => json_response(
            &json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "nope"}}),
            None,
        ),
    }
}

async fn serve(seen: Arc<Seen>) -> String {
    let app = Router::new().route("/mcp", post(mcp)).with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/mcp")
}

fn http_server(url: &str, token: &str) -> ServerSettings {
    ServerSettings {
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        timeout: Duration::from_secs(30),
        ..ServerSettings::new(
            "remote",
            ServerTransport::Http(HttpEndpoint {
                url: url.to_owned(),
                headers: vec![("Authorization".into(), format!("Bearer {token}"))],
            }),
        )
    }
}

#[tokio::test]
async fn a_streamable_http_server_answers_in_json_and_sse_with_its_session() {
    let seen = Arc::new(Seen::default());
    let url = serve(seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let m = McpManager::start(
        vec![http_server(&url, "let-me-in")],
        launcher(ExecMode::None, dir.path()),
    );
    assert_eq!(healthy(&m, "remote").await.tool_count, 2);
    let names: Vec<String> = m.tools().await.into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["mcp_remote_shout", "mcp_remote_secret"]);
    let out = m
        .call("mcp_remote_shout", &json!({"text": "quiet"}))
        .await
        .unwrap();
    assert_eq!(out.content, "QUIET");
    let out = m.call("mcp_remote_secret", &json!({})).await.unwrap();
    assert!(out.content.contains("AKIA"), "{out:?}");
    assert_eq!(seen.without_session.load(Ordering::Relaxed), 0);
    m.shutdown().await;
}

#[tokio::test]
async fn a_rejected_http_server_is_unhealthy_with_the_status_and_never_policy_keeps_it_down() {
    let seen = Arc::new(Seen::default());
    let url = serve(seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = http_server(&url, "wrong");
    s.restart = RestartPolicy::Never;
    let m = McpManager::start(vec![s], launcher(ExecMode::None, dir.path()));
    m.wait_for(|h| h["remote"].last_error.is_some()).await;
    let h = m.health()["remote"].clone();
    assert!(!h.healthy);
    assert!(h.last_error.unwrap().contains("HTTP 401"));
    assert_eq!(seen.unauthorised.load(Ordering::Relaxed), 1);
    m.shutdown().await;
}
