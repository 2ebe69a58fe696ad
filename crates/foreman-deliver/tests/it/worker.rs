//! Signatures, retries, auto-disable and order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use foreman_domain::subscription::{
    DEFAULT_TOLERANCE, DeliveryPage, DeliveryStatus, SubscriptionPatch, VerifyError, verify,
};
use foreman_domain::{EventFilter, EventType, NewEvent, Store};

use crate::receiver::{Received, Receiver};
use crate::{SECRET, on_every_store, settings, subscribe, worker};

async fn event(store: &dyn Store, t: EventType) -> i64 {
    store
        .append(NewEvent::new(t, t.as_str()))
        .await
        .unwrap()
        .seq
}

/// The receiver's check from docs/webhooks.md, at `now` (Unix seconds).
fn check(r: &Received, secret: &str, now: i64) -> Result<(), VerifyError> {
    verify(
        secret.as_bytes(),
        r.header("x-foreman-signature").as_deref(),
        r.header("x-foreman-timestamp").as_deref(),
        &r.body,
        now,
        DEFAULT_TOLERANCE,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_are_signed_as_documented_and_replays_are_refused() {
    on_every_store(async |store: Arc<dyn Store>| {
        let rx = Receiver::start().await;
        let sub = subscribe(store.as_ref(), &rx.url(), &["ticket_*"]).await;
        let seq = event(store.as_ref(), EventType::TicketCreated).await;
        event(store.as_ref(), EventType::DaemonStarted).await;
        let w = worker(&store, settings(&["127.0.0.1/32"]));
        assert_eq!(w.tick().await.unwrap(), 1);
        let got = rx.got();
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(
            r.header("x-foreman-event").as_deref(),
            Some("ticket_created")
        );
        let d = store
            .list_deliveries(&sub.id, DeliveryPage::default())
            .await
            .unwrap();
        assert_eq!(r.header("x-foreman-delivery"), Some(d[0].id.to_string()));
        assert_eq!(d[0].status, DeliveryStatus::Delivered);
        assert_eq!(d[0].last_status, Some(200));
        assert_eq!(r.json()["seq"], seq);
        assert_eq!(r.json()["type"], "ticket_created");
        let ts: i64 = r.header("x-foreman-timestamp").unwrap().parse().unwrap();
        // the documented check accepts it
        assert_eq!(check(r, SECRET, ts), Ok(()));
        // a wrong secret, a missing or altered signature, an altered body
        assert_eq!(
            check(r, "whsec_another_secret_0000", ts),
            Err(VerifyError::Mismatch)
        );
        let mut no_sig = r.clone();
        no_sig.headers.remove("x-foreman-signature");
        assert_eq!(check(&no_sig, SECRET, ts), Err(VerifyError::Missing));
        let mut bad_sig = r.clone();
        bad_sig
            .headers
            .insert("x-foreman-signature", "sha256=00ff".parse().unwrap());
        assert_eq!(check(&bad_sig, SECRET, ts), Err(VerifyError::Mismatch));
        let mut altered = r.clone();
        altered.body = axum::body::Bytes::from_static(b"{\"type\":\"ticket_deleted\"}");
        assert_eq!(check(&altered, SECRET, ts), Err(VerifyError::Mismatch));
        // the same request replayed six minutes later
        assert_eq!(check(r, SECRET, ts + 360), Err(VerifyError::Stale));
        // and with its timestamp moved forward, the signature no longer matches
        let mut moved = r.clone();
        moved.headers.insert(
            "x-foreman-timestamp",
            (ts + 360).to_string().parse().unwrap(),
        );
        assert_eq!(check(&moved, SECRET, ts + 360), Err(VerifyError::Mismatch));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_endpoint_answering_500_is_retried_then_disabled_and_re_enabled_by_an_update() {
    on_every_store(async |store: Arc<dyn Store>| {
        let rx = Receiver::start().await;
        rx.always(Some(500));
        let sub = subscribe(store.as_ref(), &rx.url(), &["*"]).await;
        event(store.as_ref(), EventType::DaemonStarted).await;
        event(store.as_ref(), EventType::DaemonPaused).await;
        let w = worker(&store, settings(&["127.0.0.1/32"]));
        // retries come due at once (a zero backoff): ten attempts, then disabled
        assert_eq!(w.tick().await.unwrap(), 10);
        let got = rx.got();
        assert_eq!(got.len(), 10);
        let ids: std::collections::HashSet<_> =
            got.iter().map(|r| r.header("x-foreman-delivery")).collect();
        assert_eq!(ids.len(), 1, "every retry carries the same delivery id");
        assert!(
            got.iter()
                .all(|r| r.header("x-foreman-event").as_deref() == Some("daemon_started"))
        );
        let s = store.get_subscription(&sub.id).await.unwrap().unwrap();
        assert!(!s.enabled);
        assert_eq!(s.consecutive_failures, 10);
        assert!(s.disabled_reason.unwrap().contains("status 500"));
        let d = store
            .list_deliveries(&sub.id, DeliveryPage::default())
            .await
            .unwrap();
        let first = d.iter().find(|d| d.event_type == "daemon_started").unwrap();
        assert_eq!(first.status, DeliveryStatus::Failed);
        assert_eq!(first.attempt, 10);
        assert_eq!(first.last_status, Some(500));
        assert_eq!(first.error.as_deref(), Some("status 500"));
        let announced = store
            .list_events(&EventFilter {
                types: vec![EventType::WebhookDisabled],
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(announced.len(), 1);
        assert_eq!(
            announced[0].details.as_ref().unwrap()["subscription_id"],
            sub.id.as_str()
        );
        // nothing more while disabled
        assert_eq!(w.tick().await.unwrap(), 0);
        // healed and re-enabled: the queue resumes in order
        rx.always(None);
        rx.clear();
        store
            .update_subscription(
                &sub.id,
                SubscriptionPatch {
                    enabled: Some(true),
                    ..SubscriptionPatch::default()
                },
            )
            .await
            .unwrap();
        // the queued events (the webhook_disabled event came while it was disabled: not
        // queued for it)
        assert_eq!(w.tick().await.unwrap(), 2);
        let types: Vec<String> = rx
            .got()
            .iter()
            .map(|r| r.header("x-foreman-event").unwrap())
            .collect();
        assert_eq!(types, ["daemon_started", "daemon_paused"]);
        let s = store.get_subscription(&sub.id).await.unwrap().unwrap();
        assert_eq!(s.consecutive_failures, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_endpoint_that_times_out_is_retried_then_disabled() {
    on_every_store(async |store: Arc<dyn Store>| {
        let rx = Receiver::start().await;
        rx.stall(Some(Duration::from_secs(30)));
        let sub = subscribe(store.as_ref(), &rx.url(), &["*"]).await;
        event(store.as_ref(), EventType::DaemonStarted).await;
        let mut s = settings(&["127.0.0.1/32"]);
        s.sender.timeout = Duration::from_millis(200);
        s.retry.disable_after = 2;
        let w = worker(&store, s);
        assert_eq!(w.tick().await.unwrap(), 2);
        let d = store
            .list_deliveries(&sub.id, DeliveryPage::default())
            .await
            .unwrap();
        assert_eq!(d[0].error.as_deref(), Some("timed out"));
        assert_eq!(d[0].last_status, None);
        assert!(
            !store
                .get_subscription(&sub.id)
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_endpoint_receives_its_events_in_seq_order() {
    on_every_store(async |store: Arc<dyn Store>| {
        let rxs = [
            Receiver::start().await,
            Receiver::start().await,
            Receiver::start().await,
        ];
        // one endpoint fails now and then: its retries still keep the order
        rxs[1].answer_first(&[500, 200, 503, 500]);
        for rx in &rxs {
            subscribe(store.as_ref(), &rx.url(), &["*"]).await;
        }
        let mut seqs = Vec::new();
        for i in 0..60 {
            let t = if i % 2 == 0 {
                EventType::DaemonStarted
            } else {
                EventType::DaemonPaused
            };
            seqs.push(event(store.as_ref(), t).await);
        }
        let mut s = settings(&["127.0.0.1/32"]);
        s.batch = 7;
        let w = worker(&store, s);
        w.tick().await.unwrap();
        for rx in &rxs {
            let got = rx.got();
            let mut by_id: HashMap<String, i64> = HashMap::new();
            let mut order = Vec::new();
            for r in &got {
                let seq = r.json()["seq"].as_i64().unwrap();
                let id = r.header("x-foreman-delivery").unwrap();
                // a repeat carries the same id as the first time
                assert_eq!(*by_id.entry(id).or_insert(seq), seq);
                if order.last() != Some(&seq) {
                    order.push(seq);
                }
            }
            assert_eq!(order, seqs, "in seq order, none lost");
        }
        assert_eq!(rxs[1].got().len(), 63);
    })
    .await;
}
