use std::sync::Arc;

use foreman_domain::{EventLog, EventType, NewEvent, NewTicket, TicketStore};
use foreman_events::{
    EventHub, EventLogBackfill, FollowItem, Follower, PublishingEventLog, TypeFilter,
};
use foreman_testkit::MemoryStore;
use proptest::prelude::*;

fn setup(capacity: usize) -> (MemoryStore, EventHub, Arc<PublishingEventLog>) {
    let store = MemoryStore::new();
    let hub = EventHub::new(capacity);
    let log = Arc::new(PublishingEventLog::new(
        Arc::new(store.clone()),
        hub.clone(),
    ));
    (store, hub, log)
}

async fn publish(log: &PublishingEventLog, n: usize) -> Vec<i64> {
    let mut seqs = Vec::new();
    for i in 0..n {
        seqs.push(
            log.append(NewEvent::new(EventType::AgentTurn, format!("{i}")))
                .await
                .unwrap()
                .seq,
        );
    }
    seqs
}

async fn take(f: &mut Follower<Arc<foreman_domain::Event>>, n: usize) -> (Vec<i64>, u64) {
    let mut seqs = Vec::new();
    let mut dropped = 0;
    while seqs.len() < n {
        match tokio::time::timeout(std::time::Duration::from_secs(5), f.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            FollowItem::Item(e) => seqs.push(e.seq),
            FollowItem::Dropped(k) => dropped += k,
        }
    }
    (seqs, dropped)
}

#[tokio::test]
async fn replays_then_goes_live_without_duplicates() {
    let (store, hub, log) = setup(64);
    let before = publish(&log, 5).await;
    let sub = hub.subscribe();
    let between = publish(&log, 3).await; // committed after subscribing, before replay
    let mut f = Follower::new(
        sub,
        Arc::new(EventLogBackfill::new(Arc::new(store))),
        before[1],
    );
    let after = publish(&log, 2).await;
    let (got, dropped) = take(&mut f, 3 + 3 + 2).await;
    let mut expected = before[2..].to_vec();
    expected.extend(&between);
    expected.extend(&after);
    assert_eq!(got, expected);
    assert_eq!(dropped, 0);
    assert!(f.try_next().is_none(), "nothing repeated");
}

#[tokio::test]
async fn a_lagging_follower_is_told_and_catches_up_from_the_log() {
    let (store, hub, log) = setup(2);
    let mut f = Follower::from_now(
        || hub.subscribe(),
        Arc::new(EventLogBackfill::new(Arc::new(store))),
    )
    .await
    .unwrap()
    .page_size(3);
    // Live and caught up first.
    let warm = publish(&log, 1).await;
    assert_eq!(take(&mut f, 1).await, (warm, 0));
    let seqs = publish(&log, 10).await;
    // The ring kept 2 of 11 unread events (the warm one was read from the log).
    let first = f.next().await.unwrap().unwrap();
    assert_eq!(first, FollowItem::Dropped(9));
    let (got, _) = take(&mut f, 10).await;
    assert_eq!(got, seqs);
    let more = publish(&log, 1).await;
    assert_eq!(take(&mut f, 1).await.0, more);
}

#[tokio::test]
async fn filters_apply_to_replay_and_live() {
    let (store, hub, log) = setup(64);
    let a = store
        .create_ticket(NewTicket {
            external_id: "A".into(),
            title: "a".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let b = store
        .create_ticket(NewTicket {
            external_id: "B".into(),
            title: "b".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let types = TypeFilter::parse("task_*").unwrap();
    let old_a = log
        .append(NewEvent::new(EventType::TaskStarted, "a1").ticket(&a.id))
        .await
        .unwrap()
        .seq;
    log.append(NewEvent::new(EventType::TaskStarted, "b1").ticket(&b.id))
        .await
        .unwrap();
    log.append(NewEvent::new(EventType::AgentTurn, "a turn").ticket(&a.id))
        .await
        .unwrap();
    let backfill = EventLogBackfill::new(Arc::new(store.clone()))
        .ticket(Some(a.id.clone()))
        .types(types.to_vec());
    let want = a.id.clone();
    let mut f = Follower::new(hub.subscribe(), Arc::new(backfill), 0).filter(
        move |e: &Arc<foreman_domain::Event>| {
            e.ticket_id.as_ref() == Some(&want) && types.matches(e.event_type)
        },
    );
    log.append(NewEvent::new(EventType::TaskDone, "b done").ticket(&b.id))
        .await
        .unwrap();
    let live_a = log
        .append(NewEvent::new(EventType::TaskDone, "a done").ticket(&a.id))
        .await
        .unwrap()
        .seq;
    log.append(NewEvent::new(EventType::AgentTurn, "a turn 2").ticket(&a.id))
        .await
        .unwrap();
    assert_eq!(take(&mut f, 2).await.0, [old_a, live_a]);
}

#[derive(Debug, Clone)]
enum Op {
    Publish(usize),
    Read(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..8).prop_map(Op::Publish),
        (1usize..8).prop_map(Op::Read)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the interleaving of publishing and reading, and however small the buffer, a
    /// follower yields every event after its start point exactly once, in seq order.
    #[test]
    fn followers_never_skip_or_repeat(capacity in 1usize..6, start in proptest::option::of(0i64..6), ops in proptest::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let (store, hub, log) = setup(capacity);
            let initial = publish(&log, 5).await;
            let mut f = Follower::since(|| hub.subscribe(), Arc::new(EventLogBackfill::new(Arc::new(store))), start).await.unwrap();
            let mut expected: Vec<i64> = initial.into_iter().filter(|s| start.is_some_and(|st| *s > st)).collect();
            let mut got = Vec::new();
            for op in ops {
                match op {
                    Op::Publish(n) => expected.extend(publish(&log, n).await),
                    Op::Read(n) => {
                        for _ in 0..n {
                            if got.len() >= expected.len() { break; }
                            if let FollowItem::Item(e) = f.next().await.unwrap().unwrap() { got.push(e.seq); }
                        }
                    }
                }
            }
            while got.len() < expected.len() {
                if let FollowItem::Item(e) = f.next().await.unwrap().unwrap() { got.push(e.seq); }
            }
            prop_assert_eq!(&got, &expected);
            prop_assert!(f.try_next().is_none());
            Ok(())
        })?;
    }
}
