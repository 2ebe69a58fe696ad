//! Submission cases: batches created all-or-nothing with their options, options gone with
//! their ticket, the ticket's own budget limit at admission, the queue in claim order,
//! `LOCAL-<n>` numbering (also under concurrency), group commits and queue places counted for
//! some tickets.

use std::sync::Arc;

use foreman_domain::ticket_submission::QueuePlaces;
use foreman_domain::{
    BudgetLimits, BudgetScope, ClaimRequest, Micros, QueueSnapshot, Store, StoreError, Submission,
    TicketFilter, TicketId, TicketOptions, TicketStatus,
};

use super::{expect_err, new_ticket, reservation};

fn item(ext: &str, options: TicketOptions) -> Submission {
    Submission {
        ticket: new_ticket(ext),
        options,
    }
}

fn full_options() -> TicketOptions {
    TicketOptions {
        timeout_secs: Some(300),
        max_budget: Some(Micros(500_000)),
        tags: vec!["frontend".into(), "validation".into()],
        webhook_url: Some("https://example.com/hook".into()),
        agent: Some("builtin".into()),
    }
}

async fn total(store: &dyn Store) -> usize {
    store
        .list_tickets(&TicketFilter::default())
        .await
        .unwrap()
        .items
        .len()
}

/// A batch comes back in the order given, queued, with each ticket's options readable; a
/// ticket that asked for nothing reads back empty options.
pub async fn a_batch_is_created_with_its_options(store: Arc<dyn Store>) {
    let created = store
        .submit_tickets(vec![
            item("S-1", full_options()),
            item("S-2", TicketOptions::default()),
        ])
        .await
        .unwrap();
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].external_id, "S-1");
    assert_eq!(created[1].external_id, "S-2");
    assert!(created.iter().all(|t| t.status == TicketStatus::Queued));
    let back = store.get_ticket(&created[0].id).await.unwrap().unwrap();
    assert_eq!(back, created[0]);
    assert_eq!(
        store.ticket_options(&created[0].id).await.unwrap(),
        full_options()
    );
    assert!(
        store
            .ticket_options(&created[1].id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.delete_ticket(&created[0].id).await.unwrap());
    assert!(
        store
            .ticket_options(&created[0].id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// One bad item (a taken external id, a duplicate inside the batch, an invalid option, a
/// missing parent) creates nothing at all, and the error names the item.
pub async fn a_batch_is_all_or_nothing(store: Arc<dyn Store>) {
    store
        .submit_tickets(vec![item("TAKEN", TicketOptions::default())])
        .await
        .unwrap();
    assert_eq!(total(store.as_ref()).await, 1);
    let e = expect_err(
        store
            .submit_tickets(vec![
                item("N-1", full_options()),
                item("TAKEN", TicketOptions::default()),
            ])
            .await,
        "a duplicate",
    );
    assert!(
        matches!(&e, StoreError::Duplicate { key, .. } if key.contains("items[1]")),
        "{e}"
    );
    let e = expect_err(
        store
            .submit_tickets(vec![
                item("N-2", TicketOptions::default()),
                item("N-2", TicketOptions::default()),
            ])
            .await,
        "a duplicate within the batch",
    );
    assert!(matches!(e, StoreError::Duplicate { .. }), "{e}");
    let mut bad = full_options();
    bad.timeout_secs = Some(0);
    let e = expect_err(
        store
            .submit_tickets(vec![
                item("N-3", TicketOptions::default()),
                item("N-4", bad),
            ])
            .await,
        "an invalid option",
    );
    assert!(e.to_string().contains("items[1].timeout"), "{e}");
    let mut orphan = item("N-5", TicketOptions::default());
    orphan.ticket.parent_id = Some(TicketId::from("missing"));
    expect_err(
        store
            .submit_tickets(vec![item("N-6", full_options()), orphan])
            .await,
        "a missing parent",
    );
    let e = expect_err(
        store
            .submit_tickets(vec![item("N-7", TicketOptions::default()); 21])
            .await,
        "21 items",
    );
    assert!(matches!(e, StoreError::Invalid(_)), "{e}");
    expect_err(store.submit_tickets(Vec::new()).await, "an empty batch");
    assert_eq!(total(store.as_ref()).await, 1, "nothing of a refused batch");
}

/// Budget admission applies the lower of the configured ticket limit and the ticket's own.
pub async fn the_ticket_budget_limits_admission(store: Arc<dyn Store>) {
    let own = |m| TicketOptions {
        max_budget: Some(Micros(m)),
        ..TicketOptions::default()
    };
    let created = store
        .submit_tickets(vec![
            item("B-1", own(1_000)),
            item("B-2", own(0)),
            item("B-3", TicketOptions::default()),
        ])
        .await
        .unwrap();
    let configured = BudgetLimits {
        ticket: Some(Micros(5_000)),
        ..BudgetLimits::default()
    };
    // its own limit (1,000) is below the configured one (5,000)
    store
        .reserve(&reservation(&created[0], None, 600, configured))
        .await
        .unwrap();
    let e = expect_err(
        store
            .reserve(&reservation(&created[0], None, 600, configured))
            .await,
        "past the ticket's own limit",
    );
    match e {
        StoreError::BudgetExceeded(b) => {
            assert_eq!(b.scope, BudgetScope::Ticket);
            assert_eq!(b.limit, Micros(1_000));
        }
        other => panic!("{other}"),
    }
    // a zero budget admits nothing that costs
    expect_err(
        store
            .reserve(&reservation(&created[1], None, 1, BudgetLimits::default()))
            .await,
        "a zero budget",
    );
    // no limit of its own: the configured one
    store
        .reserve(&reservation(&created[2], None, 5_000, configured))
        .await
        .unwrap();
    // the configured limit still applies when it is the lower
    let tight = BudgetLimits {
        ticket: Some(Micros(100)),
        ..BudgetLimits::default()
    };
    let later = store
        .submit_tickets(vec![item("B-4", own(1_000))])
        .await
        .unwrap();
    expect_err(
        store
            .reserve(&reservation(&later[0], None, 200, tight))
            .await,
        "past the configured limit",
    );
}

async fn external_ids(store: &dyn Store, q: &QueueSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    for id in &q.queued {
        out.push(store.get_ticket(id).await.unwrap().unwrap().external_id);
    }
    out
}

/// Queued tickets come in claim order (priority, then age); claimed ones count as running,
/// and the mean duration comes from finished tickets.
pub async fn the_queue_is_in_claim_order(store: Arc<dyn Store>) {
    assert_eq!(
        store.queue_snapshot().await.unwrap(),
        QueueSnapshot::default()
    );
    let mut items = Vec::new();
    for (ext, priority) in [("Q-1", 10), ("Q-2", 40), ("Q-3", 10), ("Q-4", 20)] {
        let mut i = item(ext, TicketOptions::default());
        i.ticket.priority = priority;
        items.push(i);
        // distinct creation times within the batch are not promised; one batch per ticket
        let created = store.submit_tickets(std::mem::take(&mut items)).await;
        created.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let q = store.queue_snapshot().await.unwrap();
    assert_eq!(
        external_ids(store.as_ref(), &q).await,
        ["Q-2", "Q-4", "Q-1", "Q-3"]
    );
    assert_eq!(q.running, 0);
    assert_eq!(q.mean_duration, None);
    let claim = store
        .claim_next(&ClaimRequest {
            worker_id: "w/1".into(),
            lease: std::time::Duration::from_secs(60),
            statuses: vec![TicketStatus::Queued],
            project: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.ticket.external_id, "Q-2");
    let running = store
        .transition_ticket(
            &claim.ticket.id,
            TicketStatus::Queued,
            TicketStatus::Planning,
            Some(claim.fencing_token),
        )
        .await
        .unwrap();
    let q = store.queue_snapshot().await.unwrap();
    assert_eq!(
        external_ids(store.as_ref(), &q).await,
        ["Q-4", "Q-1", "Q-3"]
    );
    assert_eq!(q.position(&running.id), None);
    assert_eq!(q.running, 1);
    store
        .update_ticket(
            &running.id,
            foreman_domain::TicketPatch {
                started_at: Some(Some(foreman_domain::now() - chrono::Duration::seconds(30))),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    store
        .transition_ticket(
            &running.id,
            TicketStatus::Planning,
            TicketStatus::Failed,
            None,
        )
        .await
        .unwrap();
    let q = store.queue_snapshot().await.unwrap();
    assert_eq!(q.running, 0);
    let mean = q.mean_duration.expect("one finished ticket");
    assert!((29..=40).contains(&mean.as_secs()), "about 30 s: {mean:?}");
}

fn numbered(project: &str, ext: &str) -> Submission {
    let mut s = item(ext, TicketOptions::default());
    s.ticket.project = project.into();
    s
}

async fn submit_ids(store: &dyn Store, items: Vec<Submission>) -> Vec<String> {
    let created = store.submit_numbered(items).await.unwrap();
    created.into_iter().map(|t| t.external_id).collect()
}

/// Items without an id are numbered `LOCAL-<n>` per project in item order: the counter
/// counts every submitted ticket, skips ids taken another way, never hands a number out again
/// (after a delete, after a refused batch) and starts above what the project already has.
pub async fn numbered_tickets_count_on_per_project(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(
        submit_ids(s, vec![numbered("web", ""), numbered("web", " ")]).await,
        ["LOCAL-1", "LOCAL-2"]
    );
    // ids given count too (3, then 5 tickets), and a given LOCAL-<n> moves the counter at
    // least there
    assert_eq!(
        submit_ids(s, vec![numbered("web", "JIRA-9")]).await,
        ["JIRA-9"]
    );
    assert_eq!(
        submit_ids(s, vec![numbered("web", "LOCAL-5"), numbered("web", "")]).await,
        ["LOCAL-5", "LOCAL-4"]
    );
    // another project numbers on its own
    assert_eq!(submit_ids(s, vec![numbered("api", "")]).await, ["LOCAL-1"]);
    // an id taken by a ticket created another way is skipped
    let mut other = new_ticket("LOCAL-7");
    other.project = "web".into();
    store.create_ticket(other).await.unwrap();
    assert_eq!(
        submit_ids(s, vec![numbered("web", ""), numbered("web", "")]).await,
        ["LOCAL-6", "LOCAL-8"]
    );
    // a deleted ticket's number is not handed out again
    let last = store
        .get_ticket_by_external_id("web", "LOCAL-8")
        .await
        .unwrap()
        .unwrap();
    assert!(store.delete_ticket(&last.id).await.unwrap());
    assert_eq!(submit_ids(s, vec![numbered("web", "")]).await, ["LOCAL-9"]);
    // a refused batch moves nothing: its numbers come again
    let e = expect_err(
        store
            .submit_numbered(vec![numbered("web", ""), numbered("web", "JIRA-9")])
            .await,
        "a taken id",
    );
    assert!(
        matches!(&e, StoreError::Duplicate { key, .. } if key.contains("items[1]")),
        "{e}"
    );
    assert_eq!(submit_ids(s, vec![numbered("web", "")]).await, ["LOCAL-10"]);
    // a generated number is skipped for an id an earlier item gives, and a later item's own
    // id that the numbering took is that item's duplicate
    assert_eq!(
        submit_ids(s, vec![numbered("web", "LOCAL-11"), numbered("web", "")]).await,
        ["LOCAL-11", "LOCAL-12"]
    );
    let e = expect_err(
        store
            .submit_numbered(vec![numbered("web", ""), numbered("web", "LOCAL-13")])
            .await,
        "an id the numbering took",
    );
    assert!(
        matches!(&e, StoreError::Duplicate { key, .. } if key.contains("items[1]")),
        "{e}"
    );
    // a project with tickets but no counter yet starts above them: 3 tickets, LOCAL-40 the
    // highest number
    for ext in ["A-1", "LOCAL-40", "LOCAL-x"] {
        let mut t = new_ticket(ext);
        t.project = "old".into();
        store.create_ticket(t).await.unwrap();
    }
    assert_eq!(submit_ids(s, vec![numbered("old", "")]).await, ["LOCAL-41"]);
    let mut t = new_ticket("B-1");
    t.project = "many".into();
    store.create_ticket(t).await.unwrap();
    assert_eq!(submit_ids(s, vec![numbered("many", "")]).await, ["LOCAL-2"]);
    // `submit_tickets` still wants every id, and moves the counter all the same
    expect_err(
        store.submit_tickets(vec![numbered("web", "")]).await,
        "an empty id",
    );
    store
        .submit_tickets(vec![numbered("api", "G-1")])
        .await
        .unwrap();
    assert_eq!(submit_ids(s, vec![numbered("api", "")]).await, ["LOCAL-3"]);
}

/// Concurrent batches of one project never get the same number, and together take exactly
/// the numbers their tickets count.
pub async fn concurrent_numbering_hands_each_number_out_once(store: Arc<dyn Store>) {
    let mut writers = Vec::new();
    for w in 0..8 {
        let store = Arc::clone(&store);
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for b in 0..5 {
                let mut batch = vec![numbered("web", ""), numbered("web", "")];
                batch.push(numbered("web", &format!("W{w}-{b}")));
                ids.extend(submit_ids(store.as_ref(), batch).await);
                tokio::task::yield_now().await;
            }
            ids
        }));
    }
    let mut numbers = Vec::new();
    for w in writers {
        for id in w.await.expect("writer") {
            if let Some(n) = id.strip_prefix("LOCAL-") {
                numbers.push(n.parse::<usize>().unwrap());
            }
        }
    }
    numbers.sort_unstable();
    let len = numbers.len();
    numbers.dedup();
    assert_eq!(numbers.len(), len, "a number handed out twice");
    assert_eq!(len, 80);
    assert!(numbers.iter().all(|n| (1..=120).contains(n)), "{numbers:?}");
}

/// `queue_places` tells what `queue_snapshot` does about some tickets: their places in claim
/// order (also inside one batch, whose tickets share a creation time), none for a ticket that
/// is not queued or does not exist, the running count and the mean duration.
pub async fn queue_places_agree_with_the_snapshot(store: Arc<dyn Store>) {
    let empty = store.queue_places(&[]).await.unwrap();
    assert_eq!(empty, QueuePlaces::default());
    let mut all = Vec::new();
    for (i, priority) in [20, 40, 10, 20, 40].into_iter().enumerate() {
        let mut batch = Vec::new();
        for j in 0..3 {
            let mut s = item(&format!("P-{i}-{j}"), TicketOptions::default());
            s.ticket.priority = priority;
            batch.push(s);
        }
        all.extend(store.submit_tickets(batch).await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let claim = store
        .claim_next(&ClaimRequest {
            worker_id: "w/1".into(),
            lease: std::time::Duration::from_secs(60),
            statuses: vec![TicketStatus::Queued],
            project: None,
        })
        .await
        .unwrap()
        .unwrap();
    store
        .transition_ticket(
            &claim.ticket.id,
            TicketStatus::Queued,
            TicketStatus::Planning,
            Some(claim.fencing_token),
        )
        .await
        .unwrap();
    let mut ids: Vec<TicketId> = all.iter().rev().map(|t| t.id.clone()).collect();
    ids.push(TicketId::from("missing"));
    let places = store.queue_places(&ids).await.unwrap();
    let q = store.queue_snapshot().await.unwrap();
    let expected: Vec<Option<usize>> = ids.iter().map(|id| q.position(id)).collect();
    assert_eq!(places.positions, expected);
    assert_eq!(places.positions.iter().flatten().count(), 14);
    assert_eq!(places.positions[ids.len() - 1], None);
    let claimed = ids.iter().position(|id| *id == claim.ticket.id).unwrap();
    assert_eq!(places.positions[claimed], None);
    assert_eq!(places.running, 1);
    assert_eq!(places.running, q.running);
    assert_eq!(places.mean_duration, None);
    store
        .update_ticket(
            &claim.ticket.id,
            foreman_domain::TicketPatch {
                started_at: Some(Some(foreman_domain::now() - chrono::Duration::seconds(30))),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    store
        .transition_ticket(
            &claim.ticket.id,
            TicketStatus::Planning,
            TicketStatus::Failed,
            None,
        )
        .await
        .unwrap();
    let places = store.queue_places(&ids[..1]).await.unwrap();
    let q = store.queue_snapshot().await.unwrap();
    assert_eq!(places.running, 0);
    assert_eq!(places.mean_duration, q.mean_duration);
    assert!(places.mean_duration.is_some());
    assert_eq!(places.positions, [q.position(&ids[0])]);
}

/// A group commit creates each batch or refuses it as it would alone: a refused batch leaves
/// nothing behind (its numbers come again) and the others are created.
pub async fn grouped_batches_succeed_or_fail_alone(store: Arc<dyn Store>) {
    store
        .submit_tickets(vec![item("TAKEN", TicketOptions::default())])
        .await
        .unwrap();
    let outcomes = store
        .submit_groups(vec![
            vec![numbered("default", ""), numbered("default", "G-1")],
            vec![numbered("default", ""), numbered("default", "TAKEN")],
            vec![item("G-2", TicketOptions::default()); 21],
            vec![numbered("default", "")],
        ])
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 4);
    let ids = |i: usize| -> Vec<String> {
        outcomes[i]
            .as_ref()
            .unwrap()
            .iter()
            .map(|t| t.external_id.clone())
            .collect()
    };
    // one ticket before: the counter starts at 1
    assert_eq!(ids(0), ["LOCAL-2", "G-1"]);
    assert!(
        matches!(&outcomes[1], Err(StoreError::Duplicate { key, .. }) if key.contains("items[1]")),
        "{:?}",
        outcomes[1]
    );
    assert!(matches!(&outcomes[2], Err(StoreError::Invalid(_))));
    assert_eq!(ids(3), ["LOCAL-4"]);
    assert_eq!(total(store.as_ref()).await, 4);
    for t in outcomes.iter().flatten().flatten() {
        assert_eq!(store.get_ticket(&t.id).await.unwrap().as_ref(), Some(t));
    }
}
