//! Authentication and scopes on every route.

use chrono::Duration;
use foreman_domain::{NewApiToken, Scope};
use serde_json::Value;

use crate::support::TestApp;

const PUBLIC: &[&str] = &["/api/health", "/api/openapi.json"];

/// Every (method, path) of the OpenAPI document with path parameters filled in.
pub fn documented_routes() -> Vec<(String, String)> {
    let spec: Value = serde_json::from_str(&foreman_api::openapi_json()).unwrap();
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.replace("{id}", "0000-unknown")));
            }
        }
    }
    out
}

async fn status_of(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = app.client.request(method.parse().unwrap(), app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if method == "POST" {
        req = req.json(&serde_json::json!({}));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn every_route_refuses_missing_wrong_and_revoked_tokens() {
    let app = TestApp::start().await;
    let (new, secret) = NewApiToken::generate("revoked", vec![Scope::Admin], None);
    let stored = app.store.create_token(new).await.unwrap();
    app.store.revoke_token(&stored.id).await.unwrap();
    let routes = documented_routes();
    assert!(
        routes.len() >= 30,
        "only {} routes documented",
        routes.len()
    );
    for (method, path) in routes {
        if path.starts_with("/api/webhooks/") {
            // authenticated by signature, not by token (see `webhooks.rs`)
            continue;
        }
        if PUBLIC.contains(&path.as_str()) {
            let (status, _) = status_of(&app, &method, &path, None).await;
            assert_eq!(status, 200, "{method} {path} should be public");
            continue;
        }
        for (label, token) in [
            ("no token", None),
            (
                "wrong token",
                Some("fmn_not_a_real_token_at_all_000000000000000"),
            ),
            ("revoked token", Some(secret.expose())),
        ] {
            let (status, body) = status_of(&app, &method, &path, token).await;
            assert_eq!(status, 401, "{method} {path} with {label}: {body}");
            assert_eq!(body["code"], 401, "{method} {path} with {label}: {body}");
            assert!(body["error"].is_string());
        }
    }
}

#[tokio::test]
async fn revocation_takes_effect_at_once() {
    let app = TestApp::start().await;
    let token = app.token_with("ci", vec![Scope::Read]).await;
    let r = app
        .client
        .get(app.url("/api/tickets"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tokens: Value = app
        .get("/api/tokens")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .delete(&format!("/api/tokens/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "revoked");
    let r = app
        .client
        .get(app.url("/api/tickets"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "token has been revoked");
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let app = TestApp::start().await;
    let (new, secret) = NewApiToken::generate(
        "old",
        vec![Scope::Read],
        Some(foreman_domain::now() - Duration::seconds(1)),
    );
    app.store.create_token(new).await.unwrap();
    let r = app
        .client
        .get(app.url("/api/status"))
        .bearer_auth(secret.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "token has expired");
}

#[tokio::test]
async fn scopes_gate_writes_and_administration() {
    let app = TestApp::start().await;
    let read = app.token_with("reader", vec![Scope::Read]).await;
    let write = app.token_with("writer", vec![Scope::Write]).await;
    let pause = |t: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/daemon/pause"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(pause(read.clone()).await, 403);
    assert_eq!(pause(write.clone()).await, 200);
    let r = app
        .client
        .get(app.url("/api/tokens"))
        .bearer_auth(&write)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": "token lacks the admin scope", "code": 403})
    );
    let r = app
        .client
        .get(app.url("/api/config/summary"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn malformed_authorization_headers_are_401() {
    let app = TestApp::start().await;
    for value in ["Basic abc", "Bearer", "Bearer    ", "token"] {
        let r = app
            .client
            .get(app.url("/api/status"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{value}");
        assert!(r.headers().contains_key("www-authenticate"));
    }
}

#[tokio::test]
async fn the_configured_static_token_is_accepted() {
    let app = TestApp::builder()
        .config(|c| c.auth_token = Some("static-dashboard-secret".to_owned()))
        .start()
        .await;
    let r = app
        .client
        .get(app.url("/api/tokens"))
        .bearer_auth("static-dashboard-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(app.url("/api/tokens"))
        .bearer_auth("static-dashboard-secreT")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn use_is_recorded_but_not_on_every_request() {
    let app = TestApp::start().await;
    let token = app.token_with("touchy", vec![Scope::Read]).await;
    for _ in 0..3 {
        let r = app
            .client
            .get(app.url("/api/status"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // The touch runs off the request path; give it a moment.
    let mut last_used = None;
    for _ in 0..50 {
        let tokens = app.store.list_tokens().await.unwrap();
        last_used = tokens
            .iter()
            .find(|t| t.name == "touchy")
            .unwrap()
            .last_used_at;
        if last_used.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let first = last_used.expect("last_used_at recorded");
    let r = app
        .client
        .get(app.url("/api/status"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let tokens = app.store.list_tokens().await.unwrap();
    assert_eq!(
        tokens
            .iter()
            .find(|t| t.name == "touchy")
            .unwrap()
            .last_used_at,
        Some(first),
        "a second use within a minute does not write again"
    );
}

#[tokio::test]
async fn tokens_are_created_with_scopes_and_expiry() {
    let app = TestApp::start().await;
    let r = app
        .post("/api/tokens")
        .json(&serde_json::json!({"name": "deploy", "scopes": ["write"], "expires_in_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let secret = body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("fmn_"));
    assert_eq!(body["scopes"], serde_json::json!(["write"]));
    assert!(body["expires_at"].is_string());
    assert_eq!(body["active"], true);
    let r = app
        .client
        .post(app.url("/api/daemon/resume"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let listed: Value = app
        .get("/api/tokens")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = listed.to_string();
    assert!(!text.contains(&secret), "the secret is never listed");
    for (body, field) in [
        (serde_json::json!({"name": ""}), "name"),
        (serde_json::json!({"name": "x", "scopes": []}), "scopes"),
        (
            serde_json::json!({"name": "x", "scopes": ["root"]}),
            "scopes",
        ),
        (
            serde_json::json!({"name": "x", "expires_in_days": 0}),
            "expires_in_days",
        ),
    ] {
        let r = app.post("/api/tokens").json(&body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let err: Value = r.json().await.unwrap();
        assert!(err["error"].as_str().unwrap().contains(field), "{err}");
    }
    let r = app
        .delete("/api/tokens/does-not-exist")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
