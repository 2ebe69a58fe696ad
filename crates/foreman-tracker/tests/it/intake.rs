//! The intake (`foreman-pipeline`'s, the one path for polls and webhooks): ready tickets
//! become Foreman tickets once, with an event.

use std::sync::Arc;
use std::time::Duration;

use foreman_domain::event::{EventFilter, EventType};
use foreman_domain::tracker::IntakeSource;
use foreman_domain::{EventLog, TicketStore};
use foreman_pipeline::intake::Intake;
use foreman_testkit::MemoryStore;
use tokio_util::sync::CancellationToken;

use crate::github::GitHub;

#[tokio::test]
async fn ready_issues_become_tickets_once() {
    let gh = GitHub::start().await;
    gh.fake.add_issue(
        "Add login",
        Some("Do it.\n\n## Acceptance criteria\n- works"),
        &["foreman-ready", "P1"],
        "alice",
    );
    gh.fake
        .add_issue("Add logout", None, &["foreman-ready"], "bob");
    gh.fake.add_issue("Not ready", None, &[], "carol");
    let store = Arc::new(MemoryStore::new());
    let intake = Intake::new("web", gh.tracker.clone(), store.clone(), store.clone());

    let first = intake.take_in(IntakeSource::Poll).await.unwrap();
    assert_eq!(first.fetched, 2);
    assert_eq!(first.created.len(), 2);
    let t = store
        .get_ticket_by_external_id("web", "#1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.title, "Add login");
    assert_eq!(t.acceptance_criteria, "- works");
    assert_eq!(t.priority, foreman_domain::tracker::priority::HIGH);
    assert_eq!(t.submitter.as_deref(), Some("alice"));
    assert_eq!(t.status, foreman_domain::TicketStatus::Queued);

    let second = intake.take_in(IntakeSource::Poll).await.unwrap();
    assert_eq!((second.fetched, second.created.len()), (2, 0));
    let events = store
        .list_events(&EventFilter {
            types: vec![EventType::TicketCreated],
            limit: 100,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].details.as_ref().unwrap()["tracker"], "github");
}

#[tokio::test]
async fn a_nudge_polls_without_waiting_for_the_interval() {
    let gh = GitHub::start().await;
    let store = Arc::new(MemoryStore::new());
    let intake = Arc::new(Intake::new(
        "web",
        gh.tracker.clone(),
        store.clone(),
        store.clone(),
    ));
    let shutdown = CancellationToken::new();
    let task = {
        let intake = intake.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move { intake.run(Duration::from_secs(3600), shutdown).await })
    };
    // wait for the first (empty) poll, then label an issue and nudge, as a webhook would
    for _ in 0..500 {
        if !gh.fake.control.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !gh.fake.control.requests().is_empty(),
        "the loop polls once at start"
    );
    gh.fake
        .add_issue("Webhook-delivered", None, &["foreman-ready"], "u");
    intake.nudge();
    let mut found = None;
    for _ in 0..500 {
        found = store.get_ticket_by_external_id("web", "#1").await.unwrap();
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(found.is_some(), "the nudge made the loop poll");
    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_signed_webhook_leads_to_a_ticket_and_a_forged_one_to_nothing() {
    use foreman_tracker::webhook::{parse_github_webhook, sign, verify_github_signature};
    use reqwest::header::{HeaderMap, HeaderValue};

    let gh = GitHub::start().await;
    let store = Arc::new(MemoryStore::new());
    let intake = Intake::new("web", gh.tracker.clone(), store.clone(), store.clone());
    let n = gh
        .fake
        .add_issue("From a webhook", None, &["foreman-ready"], "dora");
    let body = format!(
        r#"{{"action":"labeled","label":{{"name":"foreman-ready"}},"issue":{{"number":{n},"state":"open","labels":[{{"name":"foreman-ready"}}]}}}}"#
    );
    let secret = "whsec";

    // what the API route does: verify, parse, poll when the change may make a ticket ready
    let receive = |sig: String| {
        let mut h = HeaderMap::new();
        h.insert("x-hub-signature-256", HeaderValue::from_str(&sig).unwrap());
        verify_github_signature(secret, &h, body.as_bytes())
            .map(|()| parse_github_webhook("issues", body.as_bytes()).unwrap())
    };
    let forged = receive(format!("sha256={}", sign("guess", body.as_bytes())));
    assert!(forged.as_ref().is_err_and(|e| e.is_auth()), "{forged:?}");
    assert!(
        store
            .get_ticket_by_external_id("web", &format!("#{n}"))
            .await
            .unwrap()
            .is_none()
    );

    let event = receive(format!("sha256={}", sign(secret, body.as_bytes()))).unwrap();
    assert!(event.may_make_ready("foreman-ready"));
    let report = intake.take_in(IntakeSource::Webhook).await.unwrap();
    assert_eq!(report.created.len(), 1);
    let t = store
        .get_ticket_by_external_id("web", &format!("#{n}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.title, "From a webhook");
}
