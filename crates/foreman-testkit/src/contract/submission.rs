//! Submission cases: batches created all-or-nothing with their options, options gone with
//! their ticket, the ticket's own budget limit at admission, and the queue in claim order.

use std::sync::Arc;

use foreman_domain::{
    BudgetLimits, BudgetScope, ClaimRequest, Micros, QueueSnapshot, Store, StoreError, Submission,
    TicketFilter, TicketOptions, TicketStatus,
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
    orphan.ticket.parent_id = Some(foreman_domain::TicketId::from("missing"));
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
