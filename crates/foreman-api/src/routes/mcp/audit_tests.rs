//! The audit contract: a successful mutating tool call leaves an `AuditNote` in the response's
//! extensions (what the audit layer records the call as); reads and refusals leave none.

use axum::body::Body;
use axum::http::{Request, Response};
use foreman_domain::{NewApiToken, Scope};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::audit::AuditNote;

const ADMIN: &str = "the-admin-secret";

async fn call(router: &axum::Router, token: &str, name: &str, args: Value) -> Response<Body> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": name, "arguments": args}});
    let request = Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(Body::from(body.to_string()))
        .unwrap();
    router.clone().oneshot(request).await.unwrap()
}

async fn structured(response: Response<Body>) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    answer["result"]["structuredContent"].clone()
}

fn note(action: &str, resource: &str) -> Option<AuditNote> {
    Some(AuditNote {
        action: action.to_owned(),
        resource: Some(resource.to_owned()),
        via: Some("mcp"),
    })
}

#[tokio::test]
async fn mutating_tools_tell_the_audit_layer_what_they_did() {
    let store = foreman_testkit::MemoryStore::new().shared();
    let config = crate::ApiConfig {
        auth_token: Some(ADMIN.to_owned()),
        ..Default::default()
    };
    let router = crate::app(store.clone(), foreman_events::EventHub::default(), config).router();
    let (reader, secret) = NewApiToken::generate("reader", vec![Scope::Read], None);
    store.create_token(reader).await.unwrap();
    let reader = secret.expose().to_owned();

    let r = call(
        &router,
        ADMIN,
        "create_ticket",
        json!({"prompt": "audit me"}),
    )
    .await;
    let audit = r.extensions().get::<AuditNote>().cloned();
    let id = structured(r).await["id"].as_str().unwrap().to_owned();
    assert_eq!(audit, note("ticket.create", &format!("ticket/{id}")));

    for (tool, action, resource) in [
        ("cancel_ticket", "ticket.cancel", format!("ticket/{id}")),
        ("retry_ticket", "ticket.retry", format!("ticket/{id}")),
        ("pause_daemon", "daemon.pause", "daemon".to_owned()),
        ("resume_daemon", "daemon.resume", "daemon".to_owned()),
    ] {
        let args = if tool.ends_with("_ticket") {
            json!({"id": id})
        } else {
            json!({})
        };
        // refused: nothing happened, nothing to record as done
        let r = call(&router, &reader, tool, args.clone()).await;
        assert_eq!(r.extensions().get::<AuditNote>(), None, "{tool}");
        assert_eq!(structured(r).await["code"], 403, "{tool}");
        // control: the same call with a token that may
        let r = call(&router, ADMIN, tool, args).await;
        assert_eq!(
            r.extensions().get::<AuditNote>().cloned(),
            note(action, &resource),
            "{tool}"
        );
    }

    let r = call(&router, ADMIN, "get_ticket", json!({"id": id})).await;
    assert_eq!(
        r.extensions().get::<AuditNote>(),
        None,
        "reads are not audited"
    );
}
