//! The OpenAPI document: committed copy in sync, every route documented, every documented path
//! served, and the contract's routes all present.

use std::path::PathBuf;

use serde_json::Value;

use crate::auth::documented_routes;
use crate::support::TestApp;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[tokio::test]
async fn the_served_spec_matches_the_committed_file() {
    let app = TestApp::start().await;
    let r = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let served = r.text().await.unwrap();
    assert_eq!(served, foreman_api::openapi_json());
    let path = committed_path();
    if std::env::var_os("FOREMAN_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &served).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "docs/openapi.json is out of date with the API; run `cargo xtask codegen` and commit it"
    );
}

/// The routes of the API contract, each of which must be documented and served.
const CONTRACT: &[(&str, &str)] = &[
    ("GET", "/api/status"),
    ("GET", "/api/tickets"),
    ("GET", "/api/tickets/{id}"),
    ("DELETE", "/api/tickets/{id}"),
    ("GET", "/api/ticket-summaries"),
    ("GET", "/api/tickets/{id}/tasks"),
    ("GET", "/api/tickets/{id}/events"),
    ("GET", "/api/tickets/{id}/llm-calls"),
    ("POST", "/api/tickets/{id}/retry"),
    ("POST", "/api/tasks/{id}/retry"),
    ("GET", "/api/tasks/{id}/context"),
    ("GET", "/api/events"),
    ("GET", "/api/pipeline/active"),
    ("GET", "/api/costs/today"),
    ("GET", "/api/costs/week"),
    ("GET", "/api/costs/month"),
    ("GET", "/api/costs/budgets"),
    ("GET", "/api/stats/team"),
    ("GET", "/api/stats/recent-prs"),
    ("GET", "/api/prompts/versions"),
    ("POST", "/api/daemon/pause"),
    ("POST", "/api/daemon/resume"),
    ("GET", "/api/config/summary"),
    ("GET", "/api/usage/activity"),
    ("GET", "/api/usage/claude-code"),
    ("GET", "/api/metrics"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/health"),
    ("GET", "/ws/events"),
    ("GET", "/api/stream"),
    ("POST", "/api/tokens"),
    ("GET", "/api/tokens"),
    ("DELETE", "/api/tokens/{id}"),
    ("POST", "/api/tickets"),
    ("POST", "/api/webhooks/github"),
    ("POST", "/api/webhooks/gitlab"),
    ("POST", "/api/webhooks/jira"),
    ("POST", "/api/webhooks/linear"),
];

#[test]
fn every_contract_route_is_documented() {
    let spec: Value = serde_json::from_str(&foreman_api::openapi_json()).unwrap();
    for (method, path) in CONTRACT {
        assert!(
            spec["paths"][path][method.to_lowercase()].is_object(),
            "{method} {path} is not in the OpenAPI document"
        );
    }
}

#[test]
fn every_operation_documents_errors_and_security() {
    let spec: Value = serde_json::from_str(&foreman_api::openapi_json()).unwrap();
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(spec["security"], serde_json::json!([{"bearer": []}]));
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let public = op["security"] == serde_json::json!([{}]);
            // the inbound receivers; the outbound subscriptions below them take a token
            let signed = path.starts_with("/api/webhooks/")
                && !path.starts_with("/api/webhooks/subscriptions");
            assert_eq!(
                public,
                path == "/api/health" || path == "/api/openapi.json" || signed,
                "{method} {path}"
            );
            let errors: Vec<&String> = responses
                .keys()
                .filter(|k| k.starts_with('4') || k.starts_with('5'))
                .collect();
            assert!(errors.len() >= 2, "{method} {path} documents no errors");
            for code in errors {
                let schema = &responses[code]["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorBody",
                    "{method} {path} {code}"
                );
            }
            if !public || signed {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
            // a body can be too large, and a JSON body can come without its content type
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("413"), "{method} {path} body: 413");
                if !signed {
                    assert!(responses.contains_key("415"), "{method} {path} body: 415");
                }
            }
        }
    }
}

/// Walks the spec against the running router: every documented operation is served (no
/// route-level 404 or 405). The reverse direction holds by construction: routes are only
/// registered through `utoipa_axum::routes!`, which documents them (checked below).
#[tokio::test]
async fn every_documented_path_is_served() {
    let app = TestApp::start().await;
    for (method, path) in documented_routes() {
        let mut req = app
            .client
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(&app.token);
        if method == "POST" {
            req = req.json(&serde_json::json!({}));
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let is_json = r
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
        // Streams (SSE) never end; only JSON bodies are read.
        let body: Value = if is_json {
            r.json().await.unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let unrouted = status == 405
            || (status == 404
                && body["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("no route")));
        assert!(
            !unrouted,
            "{method} {path} is documented but not served: {status} {body}"
        );
    }
}

#[test]
fn routes_are_registered_only_through_the_documenting_macro() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for needle in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                assert!(
                    !text.contains(needle),
                    "{} registers a route with `{needle}`, bypassing the OpenAPI document",
                    path.display()
                );
            }
        }
    }
}
