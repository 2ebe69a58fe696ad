//! Usage ingest cases: reported rows are counted like Foreman's own calls, recorded once per
//! idempotency key, all or nothing, listed by cursor and summed per group.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use foreman_domain::budget_window::day_window;
use foreman_domain::cost_report::CostGroupBy;
use foreman_domain::usage_ingest::{
    EXTERNAL, NewUsageRow, UsageCursor, UsageFilter, UsageGroupBy, UsageOrigin,
};
use foreman_domain::{
    BudgetLimits, BudgetScope, Micros, NewLlmCall, Store, StoreError, TicketId, micros_to_time,
};

use super::tickets::create;
use super::{expect_err, reservation};

fn row(model: &str, cost: i64, at: DateTime<Utc>) -> NewUsageRow {
    NewUsageRow {
        external_id: None,
        provider: "anthropic".into(),
        model: model.into(),
        tokens_input: 1_000,
        tokens_output: 100,
        cache_read_tokens: 10,
        cache_write_tokens: 1,
        cost: Micros(cost),
        priced: false,
        project: None,
        ticket_id: None,
        session_tag: None,
        at,
    }
}

fn keyed(key: &str, cost: i64) -> NewUsageRow {
    NewUsageRow {
        external_id: Some(key.into()),
        ..row("m", cost, foreman_domain::now())
    }
}

/// Reported rows count in every spend query (windows, days, cost reports, budget windows), in
/// their ticket's totals, and in budget admission: a reservation past the daily limit they used
/// up is refused.
pub async fn ingested_rows_count_in_every_spend_query(store: Arc<dyn Store>) {
    let t = create(&*store, "UI-1").await;
    let now = foreman_domain::now();
    let mut with_ticket = row("claude-sonnet-4-5", 300_000, now);
    with_ticket.ticket_id = Some(t.id.clone());
    let out = store
        .ingest_usage(vec![row("gpt-5", 700_000, now), with_ticket])
        .await
        .unwrap();
    assert_eq!(out.inserted(), 2);
    assert!(out.duplicates.is_empty());
    assert_eq!(out.cost, Micros(1_000_000));

    let day = day_window(now);
    assert_eq!(
        store.spend_between(day.start, day.end).await.unwrap(),
        Micros(1_000_000)
    );
    let days = store
        .daily_spend(now.date_naive(), now.date_naive())
        .await
        .unwrap();
    assert_eq!(days[0].cost, Micros(1_000_000));
    let groups = store
        .cost_groups(day.start, day.end, CostGroupBy::Model)
        .await
        .unwrap();
    assert_eq!(groups.iter().map(|g| g.calls).sum::<i64>(), 2);
    assert_eq!(
        store.window_spend(day).await.unwrap().used,
        Micros(1_000_000)
    );

    let ticket = store.get_ticket(&t.id).await.unwrap().unwrap();
    assert_eq!(
        (
            ticket.cost,
            ticket.tokens_input,
            ticket.tokens_output,
            ticket.total_llm_calls
        ),
        (Micros(300_000), 1_000, 100, 1)
    );
    let calls = store.list_llm_calls(&t.id).await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].role.as_str(), calls[0].runner.as_str()),
        (EXTERNAL, EXTERNAL)
    );

    let limits = BudgetLimits {
        daily: Some(Micros(1_200_000)),
        ..BudgetLimits::default()
    };
    let refused = expect_err(
        store.reserve(&reservation(&t, None, 300_000, limits)).await,
        "a daily budget refusal",
    );
    match refused {
        StoreError::BudgetExceeded(e) => assert_eq!(e.scope, BudgetScope::Daily),
        other => panic!("expected a daily budget refusal, got {other:?}"),
    }
    store
        .reserve(&reservation(&t, None, 200_000, limits))
        .await
        .unwrap();
}

/// A retried batch is recorded once: rows whose key is already recorded are skipped and named.
pub async fn retried_keys_are_recorded_once(store: Arc<dyn Store>) {
    let first = store
        .ingest_usage(vec![keyed("a", 1), keyed("b", 2)])
        .await
        .unwrap();
    assert_eq!(first.inserted(), 2);
    let again = store
        .ingest_usage(vec![keyed("b", 2), keyed("c", 4), keyed("a", 1)])
        .await
        .unwrap();
    assert_eq!(again.duplicates, vec![0, 2]);
    assert_eq!(again.inserted(), 1);
    assert!(again.ids[0].is_none() && again.ids[1].is_some() && again.ids[2].is_none());
    assert_eq!(again.cost, Micros(4));
    let page = store
        .list_usage(&UsageFilter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    let keys: HashSet<_> = page
        .items
        .iter()
        .filter_map(|r| r.external_id.clone())
        .collect();
    assert_eq!(keys, ["a", "b", "c"].map(String::from).into());
}

/// Concurrent retries of one keyed batch record it once.
pub async fn concurrent_retries_record_once(store: Arc<dyn Store>) {
    let batch: Vec<NewUsageRow> = (0..20).map(|i| keyed(&format!("k{i}"), 10)).collect();
    let mut handles = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        let batch = batch.clone();
        handles.push(tokio::spawn(async move { store.ingest_usage(batch).await }));
    }
    let mut inserted = 0;
    for h in handles {
        inserted += h.await.unwrap().unwrap().inserted();
    }
    assert_eq!(inserted, 20);
    let page = store
        .list_usage(&UsageFilter::default(), None, 500)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 20);
}

/// A batch is all or nothing: a row naming a missing ticket (or failing validation) refuses
/// the whole batch, naming the item.
pub async fn a_bad_row_refuses_the_whole_batch(store: Arc<dyn Store>) {
    let now = foreman_domain::now();
    let mut missing = row("m", 5, now);
    missing.ticket_id = Some(TicketId::new());
    match expect_err(
        store
            .ingest_usage(vec![row("m", 1, now), missing, row("m", 1, now)])
            .await,
        "a refused batch",
    ) {
        StoreError::Invalid(m) => assert!(m.starts_with("items[1].ticket_id"), "{m}"),
        other => panic!("expected invalid, got {other:?}"),
    }
    let mut negative = row("m", 1, now);
    negative.tokens_output = -1;
    match expect_err(
        store.ingest_usage(vec![row("m", 1, now), negative]).await,
        "a refused batch",
    ) {
        StoreError::Invalid(m) => assert!(m.starts_with("items[1].output_tokens"), "{m}"),
        other => panic!("expected invalid, got {other:?}"),
    }
    let day = day_window(now);
    assert_eq!(
        store.spend_between(day.start, day.end).await.unwrap(),
        Micros(0)
    );
}

/// The listing holds Foreman's calls (`foreman`, project from their ticket) and reported rows
/// (`external`), filters by every field and pages newest first, each row once.
pub async fn listing_filters_and_pages(store: Arc<dyn Store>) {
    let t = create(&*store, "UI-2").await;
    store
        .record_llm_call(NewLlmCall {
            ticket_id: Some(t.id.clone()),
            role: "planner".into(),
            provider: "scripted".into(),
            model: "own".into(),
            runner: "builtin".into(),
            attempt: 1,
            cost: Micros(9),
            ..NewLlmCall::default()
        })
        .await
        .unwrap();
    let base = foreman_domain::now() - Duration::hours(1);
    let mut rows = Vec::new();
    for i in 0..7 {
        let mut r = row(if i % 2 == 0 { "even" } else { "odd" }, 1, base);
        r.session_tag = Some(format!("s{}", i % 3));
        r.project = Some("elsewhere".into());
        rows.push(r);
    }
    // same instant on purpose: the id breaks the tie
    store.ingest_usage(rows).await.unwrap();

    let all = |f: UsageFilter| {
        let store = store.clone();
        async move {
            let mut out = Vec::new();
            let mut cursor: Option<UsageCursor> = None;
            loop {
                let page = store.list_usage(&f, cursor.as_ref(), 3).await.unwrap();
                assert!(page.items.len() <= 3);
                out.extend(page.items);
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            out
        }
    };
    let every = all(UsageFilter::default()).await;
    assert_eq!(every.len(), 8);
    let ids: HashSet<_> = every.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 8, "each row once");
    assert_eq!(every[0].source, UsageOrigin::Foreman, "newest first");
    assert_eq!(every[0].project.as_deref(), Some("default"));
    assert_eq!(every[0].ticket_id.as_ref(), Some(&t.id));
    for w in every.windows(2) {
        assert!((w[0].at, w[0].id.as_str()) > (w[1].at, w[1].id.as_str()));
    }

    let external = all(UsageFilter {
        source: Some(UsageOrigin::External),
        ..UsageFilter::default()
    })
    .await;
    assert_eq!(external.len(), 7);
    assert!(external.iter().all(|r| r.role == EXTERNAL));
    let f = |f: UsageFilter| all(f);
    assert_eq!(
        f(UsageFilter {
            model: Some("even".into()),
            ..UsageFilter::default()
        })
        .await
        .len(),
        4
    );
    assert_eq!(
        f(UsageFilter {
            session_tag: Some("s0".into()),
            ..UsageFilter::default()
        })
        .await
        .len(),
        3
    );
    assert_eq!(
        f(UsageFilter {
            project: Some("default".into()),
            ..UsageFilter::default()
        })
        .await
        .len(),
        1
    );
    assert_eq!(
        f(UsageFilter {
            ticket_id: Some(t.id.clone()),
            ..UsageFilter::default()
        })
        .await
        .len(),
        1
    );
    assert_eq!(
        f(UsageFilter {
            provider: Some("anthropic".into()),
            to: Some(base + Duration::seconds(1)),
            from: Some(base),
            ..UsageFilter::default()
        })
        .await
        .len(),
        7
    );
    assert!(
        f(UsageFilter {
            to: Some(base),
            ..UsageFilter::default()
        })
        .await
        .is_empty()
    );
}

/// The summary sums calls, tokens and cost per model, project, ticket, session tag and day.
pub async fn summary_groups_by_each_key(store: Arc<dyn Store>) {
    let t = create(&*store, "UI-3").await;
    let day1 = micros_to_time(1_767_225_600_000_000); // 2026-01-01T00:00:00Z
    let day2 = day1 + Duration::days(1) + Duration::hours(3);
    let mut a = row("alpha", 100, day1);
    a.session_tag = Some("s1".into());
    a.project = Some("p1".into());
    let mut b = row("alpha", 200, day2);
    b.ticket_id = Some(t.id.clone());
    let mut c = row("beta", 1_000, day2);
    c.session_tag = Some("s1".into());
    c.project = Some("p2".into());
    store.ingest_usage(vec![a, b, c]).await.unwrap();
    let filter = UsageFilter {
        from: Some(day1),
        to: Some(day1 + Duration::days(2)),
        ..UsageFilter::default()
    };
    let keys = |by: UsageGroupBy| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            store
                .usage_summary(&filter, by)
                .await
                .unwrap()
                .into_iter()
                .map(|g| (g.key, g.calls, g.cost.0))
                .collect::<Vec<_>>()
        }
    };
    let s = |k: &str, n: i64, c: i64| (k.to_owned(), n, c);
    assert_eq!(
        keys(UsageGroupBy::Model).await,
        vec![s("beta", 1, 1_000), s("alpha", 2, 300)]
    );
    assert_eq!(
        keys(UsageGroupBy::Project).await,
        vec![s("p2", 1, 1_000), s("default", 1, 200), s("p1", 1, 100)]
    );
    assert_eq!(
        keys(UsageGroupBy::Ticket).await,
        vec![s("", 2, 1_100), s(t.id.as_str(), 1, 200)]
    );
    assert_eq!(
        keys(UsageGroupBy::SessionTag).await,
        vec![s("s1", 2, 1_100), s("", 1, 200)]
    );
    assert_eq!(
        keys(UsageGroupBy::Day).await,
        vec![s("2026-01-01", 1, 100), s("2026-01-02", 2, 1_200)]
    );
    let groups = store
        .usage_summary(&filter, UsageGroupBy::Model)
        .await
        .unwrap();
    assert_eq!(
        (
            groups[1].tokens_input,
            groups[1].tokens_output,
            groups[1].cache_read_tokens,
            groups[1].cache_write_tokens
        ),
        (2_000, 200, 20, 2)
    );
    let foreman_only = UsageFilter {
        source: Some(UsageOrigin::Foreman),
        ..filter
    };
    assert!(
        store
            .usage_summary(&foreman_only, UsageGroupBy::Model)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The cost report grouped by project puts a reported row under the project it names (even
/// when it also names a ticket of another project), and Foreman's own calls under their
/// ticket's.
pub async fn cost_report_groups_reported_rows_by_their_project(store: Arc<dyn Store>) {
    let t = create(&*store, "UI-4").await;
    let at = micros_to_time(1_767_225_600_000_000);
    let mut named = row("alpha", 300, at);
    named.project = Some("mobile".into());
    named.ticket_id = Some(t.id.clone());
    let mut plain = row("alpha", 40, at);
    plain.ticket_id = Some(t.id.clone());
    let loose = row("alpha", 5, at);
    store.ingest_usage(vec![named, plain, loose]).await.unwrap();
    let mut groups: Vec<(String, i64, i64)> = store
        .cost_groups(at, at + Duration::days(1), CostGroupBy::Project)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.key, g.calls, g.cost.0))
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![
            (String::new(), 1, 5),
            ("default".to_owned(), 1, 40),
            ("mobile".to_owned(), 1, 300),
        ]
    );
}
