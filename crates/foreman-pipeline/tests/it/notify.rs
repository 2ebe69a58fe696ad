//! The notifier over the in-memory store: each kind of trigger fires once for its situation, a
//! restarted notifier goes on from its stored cursor, trigger changes take effect at its next
//! step, and its last pass after a stop records the daemon's stop.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use foreman_domain::notification::{
    Notification, NotificationFilter, TriggerId, TriggerUpdate, Triggers, load_triggers,
    save_triggers,
};
use foreman_domain::{
    BudgetLimits, EventFilter, EventType, Micros, NewEvent, NewLlmCall, NewTask, NewTicket, Store,
    TaskContextStats, TaskPatch, Ticket,
};
use foreman_pipeline::notify::{NOTIFIER_SEQ_KEY, Notifier, NotifySettings};
use foreman_testkit::MemoryStore;
use tokio_util::sync::CancellationToken;

fn settings() -> NotifySettings {
    NotifySettings {
        poll_interval: Duration::from_millis(20),
        budget_interval: Duration::from_millis(20),
        limits: BudgetLimits {
            daily: Some(Micros(1_000_000)),
            ..BudgetLimits::default()
        },
    }
}

async fn ticket(store: &dyn Store, ext: &str) -> Ticket {
    store
        .create_ticket(NewTicket {
            project: "default".into(),
            external_id: ext.into(),
            title: ext.into(),
            ..NewTicket::default()
        })
        .await
        .unwrap()
}

async fn spend(store: &dyn Store, t: &Ticket, cost: i64) {
    store
        .record_llm_call(NewLlmCall {
            ticket_id: Some(t.id.clone()),
            role: "implementer".into(),
            provider: "scripted".into(),
            model: "scripted".into(),
            runner: "builtin".into(),
            attempt: 1,
            cost: Micros(cost),
            ..NewLlmCall::default()
        })
        .await
        .unwrap();
}

async fn set_triggers(store: &dyn Store, updates: Vec<TriggerUpdate>) {
    let current = load_triggers(store).await.unwrap();
    save_triggers(store, &current.apply(&updates).unwrap())
        .await
        .unwrap();
}

fn update(id: &str, enabled: Option<bool>, threshold: Option<i64>) -> TriggerUpdate {
    TriggerUpdate {
        id: id.into(),
        enabled,
        threshold,
        ..TriggerUpdate::default()
    }
}

async fn stored(store: &dyn Store) -> Vec<Notification> {
    store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap()
}

fn count(notes: &[Notification], id: TriggerId) -> usize {
    notes.iter().filter(|n| n.trigger == id).count()
}

/// A notifier over a fresh store, started at the log's end.
async fn rig() -> (Arc<dyn Store>, Notifier, Ticket) {
    let store = MemoryStore::new().shared();
    let mut n = Notifier::new(store.clone(), store.clone(), settings());
    n.start_from_now().await.unwrap();
    let t = ticket(store.as_ref(), "N-1").await;
    (store, n, t)
}

#[tokio::test]
async fn every_trigger_kind_fires_once_for_its_situation() {
    let (store, mut n, t) = rig().await;
    set_triggers(store.as_ref(), vec![update("pr_merged", Some(true), None)]).await;
    let task = store
        .create_tasks(
            &t.id,
            vec![NewTask {
                sequence: 1,
                title: "wide".into(),
                ..NewTask::default()
            }],
            None,
        )
        .await
        .unwrap()
        .remove(0);
    store
        .update_task(
            &task.id,
            TaskPatch {
                context: Some(TaskContextStats {
                    budget: 1_000,
                    used: 910,
                    ..TaskContextStats::default()
                }),
                ..TaskPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    let fail = NewEvent::new(EventType::TaskFailed, "task failed").ticket(&t.id);
    let events = vec![
        fail.clone(),
        fail.clone(),
        fail.clone(),
        NewEvent::new(EventType::TaskDone, "task done")
            .ticket(&t.id)
            .task(&task.id),
        NewEvent::new(EventType::ClarificationRequested, "which colour?").ticket(&t.id),
        NewEvent::new(EventType::PrMerged, "pull request merged").ticket(&t.id),
        NewEvent::new(EventType::DaemonStopping, "daemon draining"),
        NewEvent::new(EventType::WebhookDisabled, "webhook disabled"),
        NewEvent::new(EventType::RuleProposed, "rule proposed")
            .ticket(&t.id)
            .task(&task.id),
    ];
    for e in events {
        store.append(e).await.unwrap();
    }
    let fired = n.process_events().await.unwrap();
    let kinds: Vec<TriggerId> = fired.iter().map(|n| n.trigger).collect();
    assert_eq!(
        kinds,
        vec![
            TriggerId::TaskFailures,
            TriggerId::ContextThreshold,
            TriggerId::TicketBlocked,
            TriggerId::PrMerged,
            TriggerId::DaemonStopped,
            TriggerId::WebhookDisabled,
            TriggerId::RuleProposed,
        ]
    );
    assert_eq!(fired[1].task_id.as_ref(), Some(&task.id));
    assert_eq!(fired[2].ticket_id.as_ref(), Some(&t.id));
    // the budget: 85 % of the daily limit
    spend(store.as_ref(), &t, 850_000).await;
    let budget = n.check_budget(Utc::now()).await.unwrap();
    assert_eq!(budget.len(), 1, "{budget:?}");
    assert_eq!(budget[0].trigger, TriggerId::BudgetThreshold);
    // the same situations seen again fire nothing more
    assert!(n.process_events().await.unwrap().is_empty());
    assert!(n.check_budget(Utc::now()).await.unwrap().is_empty());
    // the same task's context is looked at again (a later step of it): still once
    store
        .append(
            NewEvent::new(EventType::TaskCommitted, "committed")
                .ticket(&t.id)
                .task(&task.id),
        )
        .await
        .unwrap();
    assert!(n.process_events().await.unwrap().is_empty());
    let all = stored(store.as_ref()).await;
    for id in TriggerId::ALL {
        assert_eq!(count(&all, *id), 1, "{id}: {all:?}");
    }
    // each is announced with one `notification_created` event
    let announced = store
        .list_events(&EventFilter {
            types: vec![EventType::NotificationCreated],
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(announced.len(), TriggerId::ALL.len());
}

#[tokio::test]
async fn a_first_start_skips_history_and_a_restart_goes_on_from_the_cursor() {
    let store = MemoryStore::new().shared();
    let t = ticket(store.as_ref(), "N-2").await;
    // history before the first start does not fire
    store
        .append(NewEvent::new(EventType::TicketBlocked, "old").ticket(&t.id))
        .await
        .unwrap();
    let mut first = Notifier::new(store.clone(), store.clone(), settings());
    assert!(first.process_events().await.unwrap().is_empty());
    let seen = store
        .append(NewEvent::new(EventType::TicketBlocked, "first").ticket(&t.id))
        .await
        .unwrap();
    assert_eq!(first.process_events().await.unwrap().len(), 1);
    let cursor = store.get_setting(NOTIFIER_SEQ_KEY).await.unwrap();
    assert_eq!(
        cursor,
        Some(seen.seq.to_string()),
        "the cursor is stored at the last event read"
    );
    drop(first);
    // appended while no notifier ran: the restarted one reads it, and nothing before it
    store
        .append(NewEvent::new(EventType::TicketBlocked, "while down").ticket(&t.id))
        .await
        .unwrap();
    let mut again = Notifier::new(store.clone(), store.clone(), settings());
    let fired = again.process_events().await.unwrap();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(
        fired[0].message.contains("while down"),
        "{}",
        fired[0].message
    );
    assert_eq!(
        count(&stored(store.as_ref()).await, TriggerId::TicketBlocked),
        2
    );
}

#[tokio::test]
async fn trigger_changes_take_effect_at_the_next_step() {
    let (store, mut n, t) = rig().await;
    let fail = NewEvent::new(EventType::TaskFailed, "task failed").ticket(&t.id);
    set_triggers(
        store.as_ref(),
        vec![update("task_failures", Some(false), None)],
    )
    .await;
    for _ in 0..4 {
        store.append(fail.clone()).await.unwrap();
    }
    store
        .append(NewEvent::new(EventType::PrMerged, "merged").ticket(&t.id))
        .await
        .unwrap();
    assert!(
        n.process_events().await.unwrap().is_empty(),
        "task failures off, merged pull requests off by default"
    );
    set_triggers(
        store.as_ref(),
        vec![
            update("task_failures", Some(true), Some(1)),
            update("pr_merged", Some(true), None),
        ],
    )
    .await;
    store.append(fail.clone()).await.unwrap();
    let other = ticket(store.as_ref(), "N-3").await;
    store
        .append(NewEvent::new(EventType::PrMerged, "merged").ticket(&other.id))
        .await
        .unwrap();
    let kinds: Vec<TriggerId> = n
        .process_events()
        .await
        .unwrap()
        .iter()
        .map(|n| n.trigger)
        .collect();
    assert_eq!(kinds, vec![TriggerId::TaskFailures, TriggerId::PrMerged]);
    // the budget threshold follows its new percentage
    set_triggers(
        store.as_ref(),
        vec![update("budget_threshold", None, Some(50))],
    )
    .await;
    spend(store.as_ref(), &t, 600_000).await;
    assert_eq!(n.check_budget(Utc::now()).await.unwrap().len(), 1);
    // all off: nothing fires
    save_triggers(
        store.as_ref(),
        &Triggers::default()
            .apply(
                &TriggerId::ALL
                    .iter()
                    .map(|id| update(id.as_str(), Some(false), None))
                    .collect::<Vec<_>>(),
            )
            .unwrap(),
    )
    .await
    .unwrap();
    store
        .append(NewEvent::new(EventType::DaemonStopping, "stop"))
        .await
        .unwrap();
    store.append(fail).await.unwrap();
    assert!(n.process_events().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_running_notifier_records_the_daemon_stop_in_its_last_pass() {
    let store = MemoryStore::new().shared();
    let mut n = Notifier::new(store.clone(), store.clone(), settings());
    n.start_from_now().await.unwrap();
    let stop = CancellationToken::new();
    let running = tokio::spawn(n.run(stop.clone()));
    // appended just before the stop: only the pass after the stop can see it
    store
        .append(NewEvent::new(EventType::DaemonStopping, "daemon draining"))
        .await
        .unwrap();
    stop.cancel();
    running.await.unwrap();
    let all = stored(store.as_ref()).await;
    assert_eq!(count(&all, TriggerId::DaemonStopped), 1, "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_stops_fires_daemon_stopped_once() {
    let mut rig = crate::rig::Rig::start(crate::rig::Setup::default()).await;
    // from the log's start, so the daemon's own events are read
    rig.store.put_setting(NOTIFIER_SEQ_KEY, "0").await.unwrap();
    let n = Notifier::new(rig.store.clone(), rig.store.clone(), settings());
    let stop = CancellationToken::new();
    let running = tokio::spawn(n.run(stop.clone()));
    // the server's order: the daemon stops (emitting `daemon_stopping`), then the notifier
    rig.stop().await;
    stop.cancel();
    running.await.unwrap();
    let all = stored(rig.store.as_ref()).await;
    assert_eq!(count(&all, TriggerId::DaemonStopped), 1, "{all:?}");
    assert_eq!(all.len(), 1, "nothing else happened: {all:?}");
}
