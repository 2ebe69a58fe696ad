//! Outbound webhook cases: subscriptions checked and patched (re-enabling resets the failure
//! count), fan-out once per event in `seq` order with patterns, ticket and project filters,
//! tickets' implicit subscriptions, claims one at a time per subscription and in order,
//! retries, giving up and auto-disable, and the delivery log's pages.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use foreman_domain::subscription::{
    AttemptOutcome, ClaimedDelivery, DeliveryPage, DeliveryStatus, NewSubscription, PING,
    RetryPolicy, SubscriptionId, SubscriptionPatch, SubscriptionSource,
};
use foreman_domain::{EventType, NewEvent, Store, StoreError, Submission, TicketId, TicketOptions};

use super::{expect_err, new_ticket};

const SECRET: &str = "0123456789abcdef0123";
const LEASE: Duration = Duration::from_secs(60);

fn new_sub(events: &[&str]) -> NewSubscription {
    NewSubscription {
        url: "https://example.com/hook".into(),
        events: events.iter().map(|s| (*s).to_owned()).collect(),
        secret: Some(SECRET.into()),
        enabled: true,
        ..NewSubscription::default()
    }
}

async fn append(store: &dyn Store, t: EventType, ticket: Option<&TicketId>) -> i64 {
    let mut e = NewEvent::new(t, t.as_str());
    if let Some(id) = ticket {
        e = e.ticket(id);
    }
    store.append(e).await.unwrap().seq
}

fn delivered() -> AttemptOutcome {
    AttemptOutcome::Delivered {
        status: 200,
        latency_ms: 1,
    }
}

fn failed() -> AttemptOutcome {
    AttemptOutcome::Failed {
        status: Some(500),
        latency_ms: Some(1),
        error: "status 500".into(),
    }
}

async fn drain_fan_out(store: &dyn Store) -> u64 {
    let mut n = 0;
    loop {
        let f = store.fan_out(100).await.unwrap();
        if f.events == 0 {
            return n;
        }
        n += f.deliveries;
    }
}

/// Bad fields are refused naming them; a subscription is read, patched (re-enabling resets the
/// failure count and reason) and deleted.
pub async fn subscriptions_lifecycle(store: Arc<dyn Store>) {
    for (bad, field) in [
        (
            NewSubscription {
                url: "ftp://example.com/".into(),
                ..new_sub(&["*"])
            },
            "url",
        ),
        (new_sub(&[]), "events"),
        (new_sub(&["ticket_*", "no_such_event"]), "events[1]"),
        (
            NewSubscription {
                secret: Some("short".into()),
                ..new_sub(&["*"])
            },
            "secret",
        ),
    ] {
        let e = expect_err(store.create_subscription(bad).await, field);
        assert!(
            matches!(&e, StoreError::Invalid(m) if m.starts_with(&format!("{field}:"))),
            "{field}: {e}"
        );
    }
    assert!(store.list_subscriptions().await.unwrap().is_empty());
    let s = store
        .create_subscription(new_sub(&["ticket_*"]))
        .await
        .unwrap();
    assert_eq!(s.source, SubscriptionSource::Api);
    assert!(s.enabled);
    assert_eq!(store.get_subscription(&s.id).await.unwrap().unwrap(), s);
    let patched = store
        .update_subscription(
            &s.id,
            SubscriptionPatch {
                events: Some(vec!["task_*_fail".into()]),
                enabled: Some(false),
                project: Some(Some("web".into())),
                ..SubscriptionPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.events, vec!["task_*_fail".to_owned()]);
    assert!(!patched.enabled);
    assert_eq!(patched.project.as_deref(), Some("web"));
    let e = expect_err(
        store
            .update_subscription(
                &s.id,
                SubscriptionPatch {
                    url: Some("not a url".into()),
                    ..SubscriptionPatch::default()
                },
            )
            .await,
        "a bad url",
    );
    assert!(matches!(e, StoreError::Invalid(m) if m.starts_with("url:")));
    assert!(
        store
            .update_subscription(&SubscriptionId::new(), SubscriptionPatch::default())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_subscriptions().await.unwrap().len(), 1);
    assert!(store.delete_subscription(&s.id).await.unwrap());
    assert!(!store.delete_subscription(&s.id).await.unwrap());
    assert!(store.get_subscription(&s.id).await.unwrap().is_none());
}

/// Fan-out queues one delivery per matching subscription per event, once, in `seq` order;
/// a subscription receives only events appended after it was created.
pub async fn fan_out_matches_once_in_order(store: Arc<dyn Store>) {
    let before = append(store.as_ref(), EventType::TicketCreated, None).await;
    let tickets = store
        .create_subscription(new_sub(&["ticket_*"]))
        .await
        .unwrap();
    let fails = store
        .create_subscription(new_sub(&["task_*_fail"]))
        .await
        .unwrap();
    let all = store.create_subscription(new_sub(&["*"])).await.unwrap();
    let t = store.create_ticket(new_ticket("WH-1")).await.unwrap();
    let other = store.create_ticket(new_ticket("WH-2")).await.unwrap();
    let by_ticket = store
        .create_subscription(NewSubscription {
            ticket_id: Some(t.id.clone()),
            ..new_sub(&["*"])
        })
        .await
        .unwrap();
    let by_project = store
        .create_subscription(NewSubscription {
            project: Some("elsewhere".into()),
            ..new_sub(&["*"])
        })
        .await
        .unwrap();
    let mut seqs = Vec::new();
    for (ty, ticket) in [
        (EventType::TicketCreated, Some(&t.id)),
        (EventType::TaskLintFail, Some(&t.id)),
        (EventType::TaskDone, Some(&other.id)),
        (EventType::TicketFailed, Some(&other.id)),
        (EventType::DaemonStarted, None),
    ] {
        seqs.push(append(store.as_ref(), ty, ticket).await);
    }
    assert!(seqs[0] > before);
    // fan out in small steps: every event once
    let mut queued = 0;
    loop {
        let f = store.fan_out(2).await.unwrap();
        if f.events == 0 {
            assert_eq!(f.cursor, seqs[4]);
            break;
        }
        queued += f.deliveries;
    }
    let seq_of = |id: &SubscriptionId| {
        let store = store.clone();
        let id = id.clone();
        async move {
            let mut d = store
                .list_deliveries(&id, DeliveryPage::default())
                .await
                .unwrap();
            d.reverse();
            d.into_iter()
                .map(|d| d.event_seq.unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(seq_of(&tickets.id).await, vec![seqs[0], seqs[3]]);
    assert_eq!(seq_of(&fails.id).await, vec![seqs[1]]);
    assert_eq!(seq_of(&all.id).await, seqs);
    assert_eq!(seq_of(&by_ticket.id).await, vec![seqs[0], seqs[1]]);
    assert!(seq_of(&by_project.id).await.is_empty());
    assert_eq!(queued, 2 + 1 + 5 + 2);
    // nothing twice
    assert_eq!(drain_fan_out(store.as_ref()).await, 0);
    let d = store
        .list_deliveries(&all.id, DeliveryPage::default())
        .await
        .unwrap();
    assert!(d.iter().all(|d| d.status == DeliveryStatus::Pending));
    assert_eq!(d[0].body["type"], "daemon_started");
    assert_eq!(d[0].body["seq"], seqs[4]);
    // a disabled subscription queues nothing
    store
        .update_subscription(
            &all.id,
            SubscriptionPatch {
                enabled: Some(false),
                ..SubscriptionPatch::default()
            },
        )
        .await
        .unwrap();
    append(store.as_ref(), EventType::DaemonStarted, None).await;
    assert_eq!(drain_fan_out(store.as_ref()).await, 0);
}

/// A ticket submitted with a `webhook_url` gets an implicit subscription to its own events.
pub async fn ticket_webhooks_are_implicit_subscriptions(store: Arc<dyn Store>) {
    let tickets = store
        .submit_tickets(vec![
            Submission {
                ticket: new_ticket("HOOK-1"),
                options: TicketOptions {
                    webhook_url: Some("https://example.com/ticket-hook".into()),
                    ..TicketOptions::default()
                },
            },
            Submission {
                ticket: new_ticket("HOOK-2"),
                options: TicketOptions::default(),
            },
        ])
        .await
        .unwrap();
    let (hooked, plain) = (&tickets[0], &tickets[1]);
    let a = append(store.as_ref(), EventType::TicketCreated, Some(&hooked.id)).await;
    append(store.as_ref(), EventType::TicketCreated, Some(&plain.id)).await;
    append(store.as_ref(), EventType::AgentTurn, Some(&hooked.id)).await;
    let b = append(store.as_ref(), EventType::PrMerged, Some(&hooked.id)).await;
    drain_fan_out(store.as_ref()).await;
    let id = SubscriptionId::for_ticket(&hooked.id);
    let sub = store
        .get_subscription(&id)
        .await
        .unwrap()
        .expect("implicit");
    assert_eq!(sub.source, SubscriptionSource::Ticket);
    assert_eq!(sub.url, "https://example.com/ticket-hook");
    assert_eq!(sub.ticket_id.as_ref(), Some(&hooked.id));
    assert!(sub.secret.is_none());
    let d = store
        .list_deliveries(&id, DeliveryPage::default())
        .await
        .unwrap();
    let seqs: Vec<i64> = d.iter().rev().map(|d| d.event_seq.unwrap()).collect();
    assert_eq!(seqs, vec![a, b]);
    assert!(
        store
            .get_subscription(&SubscriptionId::for_ticket(&plain.id))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_subscriptions().await.unwrap().len(), 1);
}

/// A subscription's deliveries are claimed one run at a time, never ahead of an earlier open
/// one; a failure holds the queue until its retry is due.
pub async fn claims_are_ordered_and_exclusive(store: Arc<dyn Store>) {
    let sub = store.create_subscription(new_sub(&["*"])).await.unwrap();
    let other = store.create_subscription(new_sub(&["*"])).await.unwrap();
    let mut seqs = Vec::new();
    for _ in 0..4 {
        seqs.push(append(store.as_ref(), EventType::DaemonStarted, None).await);
    }
    drain_fan_out(store.as_ref()).await;
    let now = foreman_domain::now();
    let c = store.claim_deliveries(now, LEASE, 1, 10).await.unwrap();
    assert_eq!(c.len(), 2, "one head per subscription");
    let mine: Vec<&ClaimedDelivery> = c
        .iter()
        .filter(|c| c.delivery.subscription_id == sub.id)
        .collect();
    assert_eq!(mine[0].delivery.event_seq, Some(seqs[0]));
    assert_eq!(mine[0].secret.as_deref(), Some(SECRET));
    // while claimed, nothing of either subscription is claimable
    assert!(
        store
            .claim_deliveries(now, LEASE, 5, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let policy = RetryPolicy::default();
    let head = mine[0].clone();
    let e = store
        .record_attempt(&head, failed(), now, 1.0, &policy)
        .await
        .unwrap();
    assert_eq!(e.delivery.status, DeliveryStatus::Failed);
    assert_eq!(e.delivery.attempt, 1);
    assert_eq!(e.consecutive_failures, 1);
    // recording twice under the same claim is refused
    expect_err(
        store
            .record_attempt(&head, delivered(), now, 1.0, &policy)
            .await,
        "a finished claim",
    );
    // the failed head blocks its subscription until due
    assert!(
        store
            .claim_deliveries(now, LEASE, 5, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let later = now + chrono::Duration::seconds(11);
    let run = store.claim_deliveries(later, LEASE, 3, 10).await.unwrap();
    let run: Vec<_> = run
        .into_iter()
        .filter(|c| c.delivery.subscription_id == sub.id)
        .collect();
    assert_eq!(
        run.iter()
            .map(|c| c.delivery.event_seq.unwrap())
            .collect::<Vec<_>>(),
        seqs[..3]
    );
    assert!(run.iter().all(|c| c.lease == run[0].lease));
    let e = store
        .record_attempt(&run[0], delivered(), later, 0.0, &policy)
        .await
        .unwrap();
    assert_eq!(e.delivery.status, DeliveryStatus::Delivered);
    assert_eq!(e.delivery.attempt, 2);
    assert_eq!(e.consecutive_failures, 0);
    // the rest of the run given back: claimable again, in order
    store.release_deliveries(&run[1..]).await.unwrap();
    let again = store.claim_deliveries(later, LEASE, 1, 10).await.unwrap();
    let again: Vec<_> = again
        .into_iter()
        .filter(|c| c.delivery.subscription_id == sub.id)
        .collect();
    assert_eq!(again[0].delivery.event_seq, Some(seqs[1]));
    // an expired lease is claimable again, with the same delivery id
    let expired = later + chrono::Duration::seconds(61);
    let retaken = store.claim_deliveries(expired, LEASE, 1, 10).await.unwrap();
    let retaken: Vec<_> = retaken
        .into_iter()
        .filter(|c| c.delivery.subscription_id == sub.id)
        .collect();
    assert_eq!(retaken[0].delivery.id, again[0].delivery.id);
    expect_err(
        store
            .record_attempt(&again[0], delivered(), expired, 0.0, &policy)
            .await,
        "a lost lease",
    );
    // a ping queues behind
    let ping = store.enqueue_ping(&other.id).await.unwrap();
    assert_eq!(ping.event_type, PING);
    assert_eq!(ping.event_seq, None);
    let page = store
        .list_deliveries(&other.id, DeliveryPage::default())
        .await
        .unwrap();
    assert_eq!(page[0].id, ping.id);
    expect_err(
        store.enqueue_ping(&SubscriptionId::new()).await,
        "an unknown subscription",
    );
}

/// Failures in a row disable the subscription once (with a reason); an update re-enables it;
/// a delivery failing past the retry window is given up.
pub async fn failures_disable_and_give_up(store: Arc<dyn Store>) {
    let sub = store.create_subscription(new_sub(&["*"])).await.unwrap();
    for _ in 0..2 {
        append(store.as_ref(), EventType::DaemonStarted, None).await;
    }
    drain_fan_out(store.as_ref()).await;
    let policy = RetryPolicy {
        base: Duration::from_secs(1),
        max_delay: Duration::from_secs(4),
        give_up_after: Duration::from_secs(3_600),
        disable_after: 3,
    };
    let mut now = foreman_domain::now();
    let mut disabled = 0;
    for i in 0..3 {
        let c = store.claim_deliveries(now, LEASE, 1, 10).await.unwrap();
        assert_eq!(c.len(), 1, "attempt {i}");
        let e = store
            .record_attempt(&c[0], failed(), now, 0.5, &policy)
            .await
            .unwrap();
        assert_eq!(e.consecutive_failures, i + 1);
        disabled += usize::from(e.disabled.is_some());
        now += chrono::Duration::seconds(10);
    }
    assert_eq!(disabled, 1);
    let s = store.get_subscription(&sub.id).await.unwrap().unwrap();
    assert!(!s.enabled);
    assert!(
        s.disabled_reason
            .as_deref()
            .is_some_and(|r| r.contains("3 failed deliveries"))
    );
    assert!(
        store
            .claim_deliveries(now, LEASE, 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let s = store
        .update_subscription(
            &sub.id,
            SubscriptionPatch {
                enabled: Some(true),
                ..SubscriptionPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(s.enabled);
    assert_eq!(s.consecutive_failures, 0);
    assert!(s.disabled_reason.is_none());
    // past the window: given up, and the next one goes
    let late = Utc::now() + chrono::Duration::hours(2);
    let c = store.claim_deliveries(late, LEASE, 1, 10).await.unwrap();
    let e = store
        .record_attempt(&c[0], failed(), late, 0.5, &policy)
        .await
        .unwrap();
    assert_eq!(e.delivery.status, DeliveryStatus::Dead);
    assert_eq!(e.delivery.attempt, 4);
    let c = store.claim_deliveries(late, LEASE, 1, 10).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_ne!(c[0].delivery.id, e.delivery.id);
}

/// Concurrent fan-outs queue each (subscription, event) once; concurrent claims hand each
/// subscription's head to one claimer.
pub async fn concurrent_fan_out_and_claims_take_effect_once(store: Arc<dyn Store>) {
    let mut subs = Vec::new();
    for _ in 0..4 {
        subs.push(store.create_subscription(new_sub(&["*"])).await.unwrap());
    }
    for _ in 0..30 {
        append(store.as_ref(), EventType::DaemonStarted, None).await;
    }
    let mut handles = Vec::new();
    for _ in 0..6 {
        let s = store.clone();
        handles.push(tokio::spawn(async move { drain_fan_out(s.as_ref()).await }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    assert_eq!(total, 4 * 30);
    let now = foreman_domain::now();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            s.claim_deliveries(now, LEASE, 1, 10).await.unwrap()
        }));
    }
    let mut ids = HashSet::new();
    let mut per_sub = HashSet::new();
    for h in handles {
        for c in h.await.unwrap() {
            assert!(ids.insert(c.delivery.id.clone()), "claimed twice");
            assert!(
                per_sub.insert(c.delivery.subscription_id.clone()),
                "two of one subscription"
            );
        }
    }
    assert_eq!(ids.len(), 4);
}

/// The delivery log pages newest first.
pub async fn deliveries_page_newest_first(store: Arc<dyn Store>) {
    let sub = store.create_subscription(new_sub(&["*"])).await.unwrap();
    for _ in 0..7 {
        append(store.as_ref(), EventType::DaemonStarted, None).await;
    }
    drain_fan_out(store.as_ref()).await;
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_deliveries(&sub.id, DeliveryPage { before, limit: 3 })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        before = page.last().map(|d| d.pos);
        seen.extend(page.into_iter().map(|d| d.event_seq.unwrap()));
    }
    assert_eq!(seen.len(), 7);
    assert!(seen.windows(2).all(|w| w[0] > w[1]));
}

/// Pruning the delivery log removes finished deliveries queued before the cut-off, oldest
/// first and at most `limit` at a time; open ones (queued or waiting for a retry) stay
/// whatever their age.
pub async fn prune_removes_only_old_finished_deliveries(store: Arc<dyn Store>) {
    let sub = store.create_subscription(new_sub(&["*"])).await.unwrap();
    for _ in 0..4 {
        append(store.as_ref(), EventType::DaemonStarted, None).await;
    }
    drain_fan_out(store.as_ref()).await;
    let now = Utc::now();
    let policy = RetryPolicy::default();
    // deliver the first two; the third fails (open, due for a retry); the fourth stays queued
    let run = store.claim_deliveries(now, LEASE, 10, 10).await.unwrap();
    assert_eq!(run.len(), 4);
    for c in &run[..2] {
        store
            .record_attempt(c, delivered(), now, 0.0, &policy)
            .await
            .unwrap();
    }
    store
        .record_attempt(&run[2], failed(), now, 0.0, &policy)
        .await
        .unwrap();
    store.release_deliveries(&run[3..]).await.unwrap();
    let page = || DeliveryPage {
        before: None,
        limit: 10,
    };
    // nothing is older than a cut-off in the past
    let past = now - chrono::Duration::hours(1);
    assert_eq!(store.prune_deliveries(past, 100).await.unwrap(), 0);
    assert_eq!(
        store.list_deliveries(&sub.id, page()).await.unwrap().len(),
        4
    );
    // a cut-off after them all: the finished ones go, one at a time with limit 1
    let future = now + chrono::Duration::hours(1);
    assert_eq!(store.prune_deliveries(future, 1).await.unwrap(), 1);
    assert_eq!(store.prune_deliveries(future, 100).await.unwrap(), 1);
    assert_eq!(store.prune_deliveries(future, 100).await.unwrap(), 0);
    let left: Vec<DeliveryStatus> = store
        .list_deliveries(&sub.id, page())
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.status)
        .collect();
    assert_eq!(left, vec![DeliveryStatus::Pending, DeliveryStatus::Failed]);
}
