//! Run and log line cases.

use std::sync::Arc;

use chrono::Duration;
use foreman_domain::runs::{LogFilter, LogLevel, NewLogLine, NewRun, RunId, RunStatus};
use foreman_domain::{Micros, NewLlmCall, Store, StoreError, TicketId, TicketStatus};

use super::expect_err;
use super::tickets::create;

fn new_run(node: &str) -> NewRun {
    NewRun {
        node_id: node.to_owned(),
        version: "0.1.0".to_owned(),
    }
}

fn call(ticket: &TicketId, cost: i64) -> NewLlmCall {
    NewLlmCall {
        ticket_id: Some(ticket.clone()),
        role: "planner".into(),
        provider: "scripted".into(),
        model: "m".into(),
        runner: "builtin".into(),
        attempt: 1,
        cost: Micros(cost),
        ..NewLlmCall::default()
    }
}

/// A run opens running; closing it stops it once (a second close conflicts); opening a new
/// run of a node closes that node's open runs as crashed, ended at their last sign of life,
/// and leaves other nodes' runs alone.
pub async fn runs_open_close_and_crash(store: Arc<dyn Store>) {
    let a = store.start_run(new_run("node-a")).await.unwrap();
    assert!(a.crashed.is_empty());
    assert_eq!(a.run.status, RunStatus::Running);
    assert!(a.run.stopped_at.is_none());
    store.touch_run(&a.run.id).await.unwrap();
    let stopped = store
        .finish_run(&a.run.id, RunStatus::Stopped)
        .await
        .unwrap();
    assert_eq!(stopped.status, RunStatus::Stopped);
    assert!(stopped.stopped_at.is_some_and(|s| s >= stopped.started_at));
    let again = expect_err(
        store.finish_run(&a.run.id, RunStatus::Stopped).await,
        "a conflict closing twice",
    );
    assert!(matches!(again, StoreError::Conflict { .. }), "{again:?}");
    let unknown = RunId::new();
    let e = expect_err(store.touch_run(&unknown).await, "not found");
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
    let e = expect_err(
        store.finish_run(&unknown, RunStatus::Stopped).await,
        "not found",
    );
    assert!(matches!(e, StoreError::NotFound { .. }), "{e:?}");
    let e = expect_err(
        store.finish_run(&a.run.id, RunStatus::Running).await,
        "running is no end",
    );
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    let e = expect_err(store.start_run(new_run(" ")).await, "a node id");
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");

    let b = store.start_run(new_run("node-a")).await.unwrap();
    assert!(b.crashed.is_empty(), "the stopped run is not reopened");
    store.touch_run(&b.run.id).await.unwrap();
    let touched = store.get_run(&b.run.id).await.unwrap().unwrap();
    let other = store.start_run(new_run("node-b")).await.unwrap();
    let c = store.start_run(new_run("node-a")).await.unwrap();
    assert_eq!(c.crashed.len(), 1);
    let crashed = &c.crashed[0];
    assert_eq!(crashed.id, b.run.id);
    assert_eq!(crashed.status, RunStatus::Crashed);
    assert_eq!(crashed.stopped_at, Some(touched.last_seen_at));
    let read = store.get_run(&b.run.id).await.unwrap().unwrap();
    assert_eq!(read.status, RunStatus::Crashed);
    assert_eq!(read.stopped_at, Some(touched.last_seen_at));
    let other = store.get_run(&other.run.id).await.unwrap().unwrap();
    assert_eq!(
        other.status,
        RunStatus::Running,
        "another node's run stays open"
    );
    assert!(store.get_run(&unknown).await.unwrap().is_none());
}

/// A run's totals are the tickets finished, the LLM calls and their cost inside its window:
/// counted up to now while it runs, frozen when it closes.
pub async fn run_totals_count_its_window(store: Arc<dyn Store>) {
    let before = create(&*store, "RUN-0").await;
    store.record_llm_call(call(&before.id, 999)).await.unwrap();
    store.cancel_ticket(&before.id).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let run = store.start_run(new_run("node-a")).await.unwrap().run;
    assert_eq!(run.totals.llm_calls, 0);
    let failed = create(&*store, "RUN-1").await;
    store.cancel_ticket(&failed.id).await.unwrap();
    let done = create(&*store, "RUN-2").await;
    for (from, to) in [
        (TicketStatus::Queued, TicketStatus::Planning),
        (TicketStatus::Planning, TicketStatus::Decomposing),
        (TicketStatus::Decomposing, TicketStatus::Decomposed),
        (TicketStatus::Decomposed, TicketStatus::Done),
    ] {
        store
            .transition_ticket(&done.id, from, to, None)
            .await
            .unwrap();
    }
    store.record_llm_call(call(&done.id, 1_500)).await.unwrap();
    store.record_llm_call(call(&done.id, 500)).await.unwrap();
    let live = store.get_run(&run.id).await.unwrap().unwrap();
    assert_eq!(live.totals.tickets_done, 1);
    assert_eq!(live.totals.tickets_failed, 1);
    assert_eq!(live.totals.llm_calls, 2);
    assert_eq!(live.totals.cost, Micros(2_000));

    let closed = store.finish_run(&run.id, RunStatus::Stopped).await.unwrap();
    assert_eq!(closed.totals, live.totals);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.record_llm_call(call(&done.id, 7)).await.unwrap();
    let later = store.get_run(&run.id).await.unwrap().unwrap();
    assert_eq!(later.totals, live.totals, "frozen once closed");
}

/// Runs page newest first with a cursor that visits each once; a garbled cursor is refused.
pub async fn runs_page_newest_first(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for node in ["n1", "n2", "n3"] {
        ids.push(store.start_run(new_run(node)).await.unwrap().run.id);
    }
    ids.reverse();
    let first = store.list_runs(2, None).await.unwrap();
    assert_eq!(
        first.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        ids[..2]
    );
    let cursor = first.next_cursor.expect("a second page");
    let second = store.list_runs(2, Some(&cursor)).await.unwrap();
    assert_eq!(
        second
            .items
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        ids[2..]
    );
    assert!(second.next_cursor.is_none());
    assert_eq!(store.list_runs(0, None).await.unwrap().items.len(), 3);
    let e = expect_err(store.list_runs(2, Some("../etc")).await, "invalid cursor");
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
}

fn line(level: LogLevel, message: &str, ticket: Option<&TicketId>) -> NewLogLine {
    NewLogLine {
        at: foreman_domain::now(),
        level,
        target: "foreman_pipeline::daemon".into(),
        message: message.into(),
        fields: Some(serde_json::json!({"n": message.len()})),
        ticket_id: ticket.cloned(),
        run_id: None,
    }
}

/// Log lines get increasing ids, read back whole, and filter by level (at least as severe),
/// ticket, time and id bounds, oldest or newest first.
pub async fn logs_append_and_filter(store: Arc<dyn Store>) {
    let t = TicketId::from("ticket-1");
    let first = store
        .append_logs(vec![
            line(LogLevel::Info, "one", None),
            line(LogLevel::Warn, "two", Some(&t)),
        ])
        .await
        .unwrap();
    let mut second = line(LogLevel::Error, "three", Some(&t));
    second.run_id = Some(RunId::new());
    second.message = "x".repeat(20_000);
    let second = store
        .append_logs(vec![second, line(LogLevel::Debug, "four", None)])
        .await
        .unwrap();
    assert!(store.append_logs(Vec::new()).await.unwrap().is_empty());
    let ids: Vec<i64> = first.iter().chain(&second).map(|l| l.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(second[0].message.len() <= foreman_domain::runs::MAX_LOG_MESSAGE_BYTES);

    let all = store.list_logs(&LogFilter::default()).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0], first[0]);
    assert_eq!(all[2], second[0], "fields, ticket and run round-trip");
    let newest = store
        .list_logs(&LogFilter {
            newest_first: true,
            limit: 1,
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(newest, [second[1].clone()]);
    let warn = store
        .list_logs(&LogFilter {
            level: Some(LogLevel::Warn),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        warn.iter().map(|l| l.id).collect::<Vec<_>>(),
        [ids[1], ids[2]]
    );
    let of_ticket = store
        .list_logs(&LogFilter {
            ticket_id: Some(t.clone()),
            before_id: Some(ids[2]),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(of_ticket.iter().map(|l| l.id).collect::<Vec<_>>(), [ids[1]]);
    let after = store
        .list_logs(&LogFilter {
            after_id: Some(ids[2]),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(after.iter().map(|l| l.id).collect::<Vec<_>>(), [ids[3]]);
    let future = store
        .list_logs(&LogFilter {
            since: Some(foreman_domain::now() + Duration::hours(1)),
            ..LogFilter::default()
        })
        .await
        .unwrap();
    assert!(future.is_empty());
}

/// Pruning drops lines older than the age and all but the newest `keep`.
pub async fn logs_prune_by_age_and_count(store: Arc<dyn Store>) {
    let mut old = line(LogLevel::Info, "old", None);
    old.at = foreman_domain::now() - Duration::days(10);
    store.append_logs(vec![old]).await.unwrap();
    let fresh: Vec<NewLogLine> = (0..5)
        .map(|i| line(LogLevel::Info, &format!("fresh {i}"), None))
        .collect();
    let fresh = store.append_logs(fresh).await.unwrap();
    let cutoff = foreman_domain::now() - Duration::days(7);
    assert_eq!(store.prune_logs(100, cutoff).await.unwrap(), 1);
    assert_eq!(store.prune_logs(3, cutoff).await.unwrap(), 2);
    let left = store.list_logs(&LogFilter::default()).await.unwrap();
    assert_eq!(left, fresh[2..]);
    assert_eq!(store.prune_logs(3, cutoff).await.unwrap(), 0);
    let more = store
        .append_logs(vec![line(LogLevel::Info, "after", None)])
        .await
        .unwrap();
    assert!(
        more[0].id > fresh[4].id,
        "ids keep increasing after a prune"
    );
}
