//! Event log cases: sequence numbers, filters, paging, and tailing under concurrent appends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use foreman_domain::{EventFilter, EventType, NewEvent, Severity, Store, TaskId};

use super::tickets::create;

/// `seq` starts above 0 and strictly increases; a batch keeps its order; events read back
/// equal to what was returned.
pub async fn append_assigns_increasing_seq(store: Arc<dyn Store>) {
    assert_eq!(store.latest_seq().await.unwrap(), 0);
    assert!(
        store
            .list_events(&EventFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    let t = create(&*store, "EV-1").await;
    let task = TaskId::new();
    let first = store
        .append(
            NewEvent::new(EventType::TicketCreated, "created")
                .ticket(&t.id)
                .task(&task)
                .details(serde_json::json!({"source": "api", "n": [1, 2]})),
        )
        .await
        .unwrap();
    assert!(first.seq > 0);
    assert_eq!(first.ticket_id.as_ref(), Some(&t.id));
    assert_eq!(first.task_id.as_ref(), Some(&task));
    assert_eq!(first.severity, Severity::Info);
    assert_eq!(
        first.details,
        Some(serde_json::json!({"source": "api", "n": [1, 2]}))
    );
    let batch = store
        .append_batch(
            (0..5)
                .map(|i| {
                    NewEvent::new(EventType::TaskFailed, format!("batch {i}"))
                        .severity(Severity::Warning)
                })
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(batch.len(), 5);
    let mut prev = first.seq;
    for (i, e) in batch.iter().enumerate() {
        assert!(e.seq > prev, "seq increases");
        prev = e.seq;
        assert_eq!(e.message, format!("batch {i}"));
        assert_eq!(e.severity, Severity::Warning);
        assert!(e.ticket_id.is_none() && e.details.is_none());
    }
    assert!(store.append_batch(Vec::new()).await.unwrap().is_empty());
    assert_eq!(store.latest_seq().await.unwrap(), prev);
    let all = store.list_events(&EventFilter::default()).await.unwrap();
    let mut expected = vec![first];
    expected.extend(batch);
    assert_eq!(all, expected);
}

/// Ticket, type and `after_seq` filters; newest first; limit (capped) and offset.
pub async fn list_filters_and_pages(store: Arc<dyn Store>) {
    let a = create(&*store, "EF-1").await;
    let b = create(&*store, "EF-2").await;
    let mut seqs = Vec::new();
    for i in 0..10 {
        let (ty, ticket) = match i % 3 {
            0 => (EventType::TicketCreated, &a.id),
            1 => (EventType::TaskStarted, &b.id),
            _ => (EventType::TaskFailed, &a.id),
        };
        let e = store
            .append(NewEvent::new(ty, format!("e{i}")).ticket(ticket))
            .await
            .unwrap();
        seqs.push(e.seq);
    }
    let list = |f: EventFilter| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_events(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(EventFilter {
            ticket_id: Some(b.id.clone()),
            ..Default::default()
        })
        .await,
        ["e1", "e4", "e7"]
    );
    assert_eq!(
        list(EventFilter {
            types: vec![EventType::TicketCreated, EventType::TaskFailed],
            ticket_id: Some(a.id.clone()),
            ..Default::default()
        })
        .await,
        ["e0", "e2", "e3", "e5", "e6", "e8", "e9"]
    );
    assert_eq!(
        list(EventFilter {
            types: vec![EventType::TaskFailed],
            ..Default::default()
        })
        .await,
        ["e2", "e5", "e8"]
    );
    assert_eq!(
        list(EventFilter {
            after_seq: Some(seqs[6]),
            ..Default::default()
        })
        .await,
        ["e7", "e8", "e9"]
    );
    assert_eq!(
        list(EventFilter {
            newest_first: true,
            limit: 3,
            ..Default::default()
        })
        .await,
        ["e9", "e8", "e7"]
    );
    assert_eq!(
        list(EventFilter {
            newest_first: true,
            limit: 2,
            offset: 3,
            ..Default::default()
        })
        .await,
        ["e6", "e5"]
    );
    assert_eq!(
        list(EventFilter {
            limit: 4,
            offset: 8,
            ..Default::default()
        })
        .await,
        ["e8", "e9"]
    );
    assert_eq!(
        list(EventFilter {
            after_seq: Some(seqs[2]),
            newest_first: true,
            limit: 2,
            ticket_id: Some(a.id.clone()),
            ..Default::default()
        })
        .await,
        ["e9", "e8"]
    );
    assert!(
        list(EventFilter {
            after_seq: Some(seqs[9]),
            ..Default::default()
        })
        .await
        .is_empty()
    );

    // Limits are capped at 500; 0 means the default page of 50.
    store
        .append_batch(
            (0..600)
                .map(|i| NewEvent::new(EventType::TaskStarted, format!("bulk {i}")))
                .collect(),
        )
        .await
        .unwrap();
    let capped = store
        .list_events(&EventFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(capped.len(), 500);
    let default = store.list_events(&EventFilter::default()).await.unwrap();
    assert_eq!(default.len(), 50);
}

/// A reader following `after_seq` while several writers append sees every event exactly once:
/// no event becomes visible with a `seq` below one the reader has already passed.
pub async fn tailing_reader_never_misses_an_event(store: Arc<dyn Store>) {
    const WRITERS: usize = 4;
    const PER_WRITER: usize = 40;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let store = Arc::clone(&store);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut last = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = store
                    .list_events(&EventFilter {
                        after_seq: Some(last),
                        limit: 500,
                        ..Default::default()
                    })
                    .await
                    .expect("list");
                for e in &page {
                    assert!(e.seq > last);
                    last = e.seq;
                    seen.push(e.seq);
                }
                if finished && page.is_empty() {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = Arc::clone(&store);
        writers.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                let e = NewEvent::new(EventType::TaskStarted, format!("w{w} e{i}"));
                if i % 5 == 0 {
                    store.append_batch(vec![e.clone(), e]).await.expect("batch");
                } else {
                    store.append(e).await.expect("append");
                }
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.expect("reader");
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .list_events(&EventFilter {
                after_seq: Some(after),
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        all.extend(page.iter().map(|e| e.seq));
    }
    assert_eq!(all.len(), WRITERS * (PER_WRITER + PER_WRITER / 5));
    assert_eq!(
        seen, all,
        "the tailing reader saw exactly the committed log"
    );
}
