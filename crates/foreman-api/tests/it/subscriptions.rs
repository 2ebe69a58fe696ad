//! `/api/webhooks/subscriptions`: outbound webhook subscriptions (admin scope), every bad field
//! a 400 naming it, the secret shown once, re-enabling by an update, test deliveries and the
//! delivery log.

use foreman_domain::subscription::SubscriptionPatch;
use foreman_domain::{EventType, NewEvent, Scope};
use serde_json::{Value, json};

use crate::support::TestApp;

const PATH: &str = "/api/webhooks/subscriptions";

async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn subscriptions_are_checked_created_changed_tested_and_deleted() {
    let app = TestApp::start().await;
    let good = json!({"url": "https://hooks.example.com/x", "events": ["ticket_*", "task_*_fail"]});
    for (body, field) in [
        (json!({"url": "ftp://x/", "events": ["*"]}), "url:"),
        (
            json!({"url": "javascript:alert(1)", "events": ["*"]}),
            "url:",
        ),
        (json!({"url": "https://h/", "events": []}), "events:"),
        (
            json!({"url": "https://h/", "events": ["ticket_*", "Ticket"]}),
            "events[1]:",
        ),
        (
            json!({"url": "https://h/", "events": ["no_such_*_event"]}),
            "events[0]:",
        ),
        (
            json!({"url": "https://h/", "events": vec!["*"; 33]}),
            "events:",
        ),
        (
            json!({"url": "https://h/", "events": ["*"], "secret": "short"}),
            "secret:",
        ),
        (
            json!({"url": "https://h/", "events": ["*"], "color": "red"}),
            "invalid request body",
        ),
    ] {
        let (status, b) = send(app.post(PATH).json(&body)).await;
        assert_eq!(status, 400, "{body}: {b}");
        assert_eq!(b["code"], 400);
        assert!(
            b["error"].as_str().unwrap().starts_with(field),
            "{field}: {b}"
        );
    }
    let (status, created) = send(app.post(PATH).json(&good)).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["secret_prefix"], secret[..6]);
    // never shown again
    let (status, list) = app.get_json(PATH).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("secret").is_none());
    assert!(!list.to_string().contains(&secret));
    let (status, one) = app.get_json(&format!("{PATH}/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["events"], json!(["ticket_*", "task_*_fail"]));
    // disabled (as the worker does after failures), then re-enabled by an update
    app.store
        .update_subscription(
            &foreman_domain::subscription::SubscriptionId(id.clone()),
            SubscriptionPatch {
                enabled: Some(false),
                ..SubscriptionPatch::default()
            },
        )
        .await
        .unwrap();
    let patch = |body: Value| {
        app.client
            .patch(app.url(&format!("{PATH}/{id}")))
            .bearer_auth(&app.token)
            .json(&body)
    };
    let (status, b) = send(patch(json!({"events": ["nope_*"]}))).await;
    assert_eq!(status, 400);
    assert!(
        b["error"].as_str().unwrap().starts_with("events[0]:"),
        "{b}"
    );
    let (status, b) = send(patch(json!({"enabled": true, "project": "web"}))).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["enabled"], true);
    assert_eq!(b["consecutive_failures"], 0);
    assert_eq!(b["project"], "web");
    let (status, b) = send(patch(json!({"project": null}))).await;
    assert_eq!(status, 200);
    assert_eq!(b["project"], Value::Null);
    // a test delivery, then an event: the log pages newest first
    let (status, ping) = send(app.post(&format!("{PATH}/{id}/test"))).await;
    assert_eq!(status, 202, "{ping}");
    assert_eq!(ping["event_type"], "ping");
    assert_eq!(ping["status"], "pending");
    app.store
        .append(NewEvent::new(EventType::TicketCreated, "t"))
        .await
        .unwrap();
    app.store.fan_out(100).await.unwrap();
    let (status, page) = app
        .get_json(&format!("{PATH}/{id}/deliveries?limit=1"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["event_type"], "ticket_created");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page) = app
        .get_json(&format!("{PATH}/{id}/deliveries?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(page["items"][0]["event_type"], "ping");
    assert_eq!(page["next_cursor"], Value::Null);
    let (status, b) = app
        .get_json(&format!("{PATH}/{id}/deliveries?cursor=abc"))
        .await;
    assert_eq!(status, 400);
    assert!(b["error"].as_str().unwrap().starts_with("cursor:"));
    let (status, _) = app
        .get_json(&format!("{PATH}/{id}/deliveries?limit=0"))
        .await;
    assert_eq!(status, 400);
    // read and write tokens may not manage subscriptions
    for scopes in [vec![Scope::Read], vec![Scope::Read, Scope::Write]] {
        let token = app.token_with("under", scopes).await;
        let r = app
            .client
            .get(app.url(PATH))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = app
            .client
            .post(app.url(PATH))
            .bearer_auth(&token)
            .json(&good)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    let (status, _) = send(app.delete(&format!("{PATH}/{id}"))).await;
    assert_eq!(status, 200);
    let (status, b) = send(app.delete(&format!("{PATH}/{id}"))).await;
    assert_eq!(status, 404);
    assert_eq!(b["code"], 404);
    let (status, _) = send(app.post(&format!("{PATH}/{id}/test"))).await;
    assert_eq!(status, 404);
    app.stop().await;
}
