//! `POST /api/webhooks/{provider}` with a fake sink: a real, stateful sink that checks a shared
//! secret in `x-fake-signature` and creates a ticket per issue number, so the tests can see
//! what was (and was not) stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use foreman_domain::webhook::{WebhookAction, WebhookError, WebhookOutcome, WebhookSink};
use foreman_domain::{EventFilter, EventType, NewTicket, Store, StoreError, TicketFilter};
use foreman_testkit::MemoryStore;
use serde_json::{Value, json};

use crate::support::TestApp;

const SECRET: &str = "s3cret";
const PROVIDERS: [&str; 4] = ["github", "gitlab", "jira", "linear"];

struct FakeSink {
    store: Arc<dyn Store>,
    calls: AtomicUsize,
}

#[async_trait]
impl WebhookSink for FakeSink {
    async fn receive(
        &self,
        provider: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<WebhookOutcome, WebhookError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match provider {
            "github" => {}
            "jira" => {
                return Err(WebhookError::Store(StoreError::backend(
                    std::io::Error::other("disk on fire at /var/lib/foreman"),
                )));
            }
            other => {
                return Err(WebhookError::NotConfigured {
                    provider: other.to_owned(),
                });
            }
        }
        match headers.iter().find(|(k, _)| k == "x-fake-signature") {
            None => {
                return Err(WebhookError::Unauthorized {
                    reason: "missing x-fake-signature header".into(),
                });
            }
            Some((_, sig)) if sig != SECRET => {
                return Err(WebhookError::Unauthorized {
                    reason: "signature mismatch".into(),
                });
            }
            Some(_) => {}
        }
        let v: Value = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed {
            reason: e.to_string(),
        })?;
        let number = v["issue"]["number"]
            .as_i64()
            .ok_or_else(|| WebhookError::Malformed {
                reason: "no issue number".into(),
            })?;
        let external_id = format!("#{number}");
        let mut out = WebhookOutcome::new(WebhookAction::Ignored, "already known");
        out.kind = "issue".into();
        out.project = Some("default".into());
        out.external_id = Some(external_id.clone());
        if let Some(t) = self
            .store
            .get_ticket_by_external_id("default", &external_id)
            .await?
        {
            out.ticket_id = Some(t.id);
            return Ok(out);
        }
        let t = self
            .store
            .create_ticket(NewTicket {
                external_id,
                title: v["issue"]["title"].as_str().unwrap_or("untitled").into(),
                ..Default::default()
            })
            .await?;
        out.action = WebhookAction::Queued;
        "ticket queued".clone_into(&mut out.reason);
        out.ticket_id = Some(t.id);
        Ok(out)
    }
}

async fn app_with_sink(limit: Option<usize>) -> (TestApp, Arc<FakeSink>) {
    let store = MemoryStore::new().shared();
    let sink = Arc::new(FakeSink {
        store: store.clone(),
        calls: AtomicUsize::new(0),
    });
    let app = TestApp::builder()
        .store(store)
        .webhooks(sink.clone())
        .config(|c| {
            if let Some(l) = limit {
                c.body_limit_bytes = l;
            }
        })
        .start()
        .await;
    (app, sink)
}

async fn post(app: &TestApp, provider: &str, sig: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(&format!("/api/webhooks/{provider}")))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(s) = sig {
        req = req.header("X-Fake-Signature", s);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{provider}: {status} is not json"
    );
    (status, r.json().await.unwrap())
}

async fn ticket_count(app: &TestApp) -> usize {
    app.store
        .list_tickets(&TicketFilter::default())
        .await
        .unwrap()
        .items
        .len()
}

async fn events(app: &TestApp, t: EventType) -> Vec<foreman_domain::Event> {
    app.store
        .list_events(&EventFilter {
            types: vec![t],
            limit: 100,
            ..EventFilter::default()
        })
        .await
        .unwrap()
}

async fn metrics(app: &TestApp) -> String {
    app.get("/api/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

const ISSUE: &str = r#"{"action":"labeled","issue":{"number":42,"title":"Add login"}}"#;

#[tokio::test]
async fn without_a_sink_every_webhook_route_is_a_json_404() {
    let app = TestApp::start().await;
    for provider in PROVIDERS {
        let (status, body) = post(&app, provider, Some(SECRET), ISSUE).await;
        assert_eq!(status, 404, "{provider}: {body}");
        assert_eq!(body["code"], 404);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .starts_with("webhooks are not configured"),
            "{body}"
        );
    }
    assert_eq!(ticket_count(&app).await, 0);
    assert!(
        metrics(&app)
            .await
            .contains(r#"foreman_webhooks_total{provider="linear",outcome="not_configured"} 1"#)
    );
}

#[tokio::test]
async fn a_signed_delivery_needs_no_token_and_queues_a_ticket_once() {
    let (app, sink) = app_with_sink(None).await;
    let (status, body) = post(&app, "github", Some(SECRET), ISSUE).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["action"], "queued");
    assert_eq!(body["external_id"], "#42");
    assert_eq!(body["kind"], "issue");
    let id = body["ticket_id"].as_str().unwrap().to_owned();
    let (status, ticket) = app.get_json(&format!("/api/tickets/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(ticket["title"], "Add login");

    // the delivery is on the ticket's event feed
    let received = events(&app, EventType::WebhookReceived).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].ticket_id.as_ref().map(|t| t.as_str()),
        Some(id.as_str())
    );
    assert_eq!(received[0].details.as_ref().unwrap()["provider"], "github");
    assert_eq!(received[0].details.as_ref().unwrap()["action"], "queued");

    // a redelivery is answered but neither stored as a ticket nor as an event
    let (status, body) = post(&app, "github", Some(SECRET), ISSUE).await;
    assert_eq!(status, 200);
    assert_eq!(body["action"], "ignored");
    assert_eq!(body["ticket_id"], id.as_str());
    assert_eq!(ticket_count(&app).await, 1);
    assert_eq!(events(&app, EventType::WebhookReceived).await.len(), 1);
    assert_eq!(sink.calls.load(Ordering::SeqCst), 2);
    let text = metrics(&app).await;
    assert!(text.contains(r#"foreman_webhooks_total{provider="github",outcome="queued"} 1"#));
    assert!(text.contains(r#"foreman_webhooks_total{provider="github",outcome="ignored"} 1"#));
}

#[tokio::test]
async fn bad_or_missing_signatures_are_401_and_store_nothing() {
    let (app, _sink) = app_with_sink(None).await;
    let seq_before = app.store.latest_seq().await.unwrap();
    for (sig, reason) in [
        (Some("guess"), "signature mismatch"),
        (None, "missing x-fake-signature header"),
    ] {
        let (status, body) = post(&app, "github", sig, ISSUE).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(
            body,
            json!({"error": format!("webhook signature refused: {reason}"), "code": 401})
        );
    }
    // a bearer token does not stand in for a signature
    let r = app
        .post("/api/webhooks/github")
        .header("content-type", "application/json")
        .body(ISSUE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(ticket_count(&app).await, 0);
    assert_eq!(app.store.latest_seq().await.unwrap(), seq_before);
    assert!(
        metrics(&app)
            .await
            .contains(r#"foreman_webhooks_total{provider="github",outcome="unauthorized"} 3"#)
    );
}

#[tokio::test]
async fn malformed_payloads_are_400_and_recorded_as_rejected() {
    let (app, _sink) = app_with_sink(None).await;
    for body in ["not json", r#"{"issue":{}}"#] {
        let (status, resp) = post(&app, "github", Some(SECRET), body).await;
        assert_eq!(status, 400, "{resp}");
        assert_eq!(resp["code"], 400);
        assert!(
            resp["error"]
                .as_str()
                .unwrap()
                .starts_with("malformed webhook payload: "),
            "{resp}"
        );
    }
    assert_eq!(ticket_count(&app).await, 0);
    let rejected = events(&app, EventType::WebhookRejected).await;
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0].details.as_ref().unwrap()["code"], "malformed");
}

#[tokio::test]
async fn providers_the_sink_does_not_take_are_404_and_failures_500_without_details() {
    let (app, _sink) = app_with_sink(None).await;
    for provider in ["gitlab", "linear"] {
        let (status, body) = post(&app, provider, Some(SECRET), ISSUE).await;
        assert_eq!(status, 404);
        assert_eq!(
            body["error"],
            format!("webhooks from {provider} are not configured")
        );
    }
    let (status, body) = post(&app, "jira", Some(SECRET), ISSUE).await;
    assert_eq!(status, 500);
    assert_eq!(body, json!({"error": "internal error", "code": 500}));
    // there is no /api/webhooks/bitbucket
    let (status, body) = post(&app, "bitbucket", Some(SECRET), ISSUE).await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().starts_with("no route"));
}

#[tokio::test]
async fn the_body_limit_holds_before_the_sink_sees_anything() {
    let (app, sink) = app_with_sink(Some(256)).await;
    let big = format!(
        r#"{{"issue":{{"number":1,"title":"{}"}}}}"#,
        "x".repeat(1024)
    );
    let (status, body) = post(&app, "github", Some(SECRET), &big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], 413);
    assert_eq!(sink.calls.load(Ordering::SeqCst), 0);
    assert_eq!(ticket_count(&app).await, 0);
    // under the limit it goes through
    let (status, _) = post(&app, "github", Some(SECRET), ISSUE).await;
    assert_eq!(status, 200);
}
