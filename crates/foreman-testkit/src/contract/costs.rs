//! Cost ledger cases: recording calls, totals, spend windows, usage, budget reservations.

use std::sync::Arc;

use chrono::Duration;
use foreman_domain::{
    BudgetLimits, BudgetScope, LlmCallStatus, Micros, NewLlmCall, NewTask, ReservationId, Store,
    StoreError, TaskId, Ticket, TicketId, UsageKey,
};

use super::tickets::create;
use super::{expect_err, reservation};

fn call(ticket: &Ticket, task: Option<&TaskId>, cost: i64) -> NewLlmCall {
    NewLlmCall {
        ticket_id: Some(ticket.id.clone()),
        task_id: task.cloned(),
        role: "implementer".into(),
        provider: "anthropic".into(),
        model: "claude-sonnet".into(),
        runner: "builtin".into(),
        attempt: 1,
        tokens_input: 1_000,
        tokens_output: 200,
        cache_read_tokens: 50,
        cache_write_tokens: 5,
        cost: Micros(cost),
        duration_ms: 1_234,
        status: None,
        error: None,
        prompt_version: Some("sha256:abc".into()),
        request_id: Some("req_1".into()),
    }
}

async fn ticket_with_task(store: &dyn Store, ext: &str) -> (Ticket, TaskId) {
    let t = create(store, ext).await;
    let tasks = store
        .create_tasks(
            &t.id,
            vec![NewTask {
                sequence: 1,
                title: "t".into(),
                ..Default::default()
            }],
            None,
        )
        .await
        .unwrap();
    (t, tasks[0].id.clone())
}

/// A recorded call is returned and listed as given, and adds its cost, tokens and one call to
/// the task and the ticket.
pub async fn recording_a_call_updates_totals(store: Arc<dyn Store>) {
    let (t, task) = ticket_with_task(&*store, "CO-1").await;
    let first = store
        .record_llm_call(call(&t, Some(&task), 1_500))
        .await
        .unwrap();
    assert_eq!(first.status, LlmCallStatus::Success);
    assert_eq!(first.cost, Micros(1_500));
    assert_eq!(first.cache_read_tokens, 50);
    assert_eq!(first.prompt_version.as_deref(), Some("sha256:abc"));
    let mut failed = call(&t, None, 250);
    failed.status = Some(LlmCallStatus::RateLimited);
    failed.error = Some("429".into());
    failed.tokens_input = 10;
    failed.tokens_output = 0;
    let second = store.record_llm_call(failed).await.unwrap();
    assert_eq!(second.status, LlmCallStatus::RateLimited);
    assert_eq!(second.error.as_deref(), Some("429"));
    // Only the task is named: the call is attributed to its ticket too.
    let mut task_only = call(&t, Some(&task), 10);
    task_only.ticket_id = None;
    let third = store.record_llm_call(task_only).await.unwrap();
    assert_eq!(third.ticket_id.as_ref(), Some(&t.id));

    let ticket = store.get_ticket(&t.id).await.unwrap().unwrap();
    assert_eq!(ticket.cost, Micros(1_760));
    assert_eq!(ticket.tokens_input, 2_010);
    assert_eq!(ticket.tokens_output, 400);
    assert_eq!(ticket.total_llm_calls, 3);
    let task = store.get_task(&task).await.unwrap().unwrap();
    assert_eq!(task.cost, Micros(1_510));
    assert_eq!(task.tokens_input, 2_000);
    assert_eq!(task.total_llm_calls, 2);

    let listed = store.list_llm_calls(&t.id).await.unwrap();
    assert_eq!(listed, [first.clone(), second.clone(), third.clone()]);
    let recent = store.recent_llm_calls(2).await.unwrap();
    assert_eq!(recent, [third, second]);
    // A call for no ticket at all is recorded but counts toward nobody's totals.
    let orphan = store
        .record_llm_call(NewLlmCall {
            role: "clarifier".into(),
            cost: Micros(5),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(orphan.ticket_id.is_none());
    assert_eq!(store.recent_llm_calls(0).await.unwrap().len(), 4);
}

/// Unknown tickets or tasks, a task of another ticket, and negative amounts are refused
/// without touching any totals.
pub async fn recording_checks_its_references(store: Arc<dyn Store>) {
    let (t, task) = ticket_with_task(&*store, "RC-1").await;
    let (u, _) = ticket_with_task(&*store, "RC-2").await;
    let mut unknown_ticket = call(&t, None, 1);
    unknown_ticket.ticket_id = Some(TicketId::new());
    assert_eq!(
        expect_err(
            store.record_llm_call(unknown_ticket).await,
            "unknown ticket"
        )
        .code(),
        "not_found"
    );
    let unknown_task = call(&t, Some(&TaskId::new()), 1);
    assert_eq!(
        expect_err(store.record_llm_call(unknown_task).await, "unknown task").code(),
        "not_found"
    );
    let mismatched = call(&u, Some(&task), 1);
    assert_eq!(
        expect_err(
            store.record_llm_call(mismatched).await,
            "task of another ticket"
        )
        .code(),
        "invalid"
    );
    let negative = call(&t, None, -1);
    assert_eq!(
        expect_err(store.record_llm_call(negative).await, "negative cost").code(),
        "invalid"
    );
    let ticket = store.get_ticket(&t.id).await.unwrap().unwrap();
    assert_eq!((ticket.cost, ticket.total_llm_calls), (Micros::ZERO, 0));
    assert!(store.recent_llm_calls(10).await.unwrap().is_empty());
}

/// `spend_between` is `[from, to)`; `daily_spend` has one zero-filled entry per day.
pub async fn spend_windows(store: Arc<dyn Store>) {
    let (t, task) = ticket_with_task(&*store, "SW-1").await;
    let before = foreman_domain::now();
    store
        .record_llm_call(call(&t, Some(&task), 700))
        .await
        .unwrap();
    store.record_llm_call(call(&t, None, 300)).await.unwrap();
    let after = foreman_domain::now() + Duration::microseconds(1);
    assert_eq!(
        store.spend_between(before, after).await.unwrap(),
        Micros(1_000)
    );
    assert_eq!(
        store
            .spend_between(after, after + Duration::hours(1))
            .await
            .unwrap(),
        Micros::ZERO
    );
    assert_eq!(
        store
            .spend_between(before - Duration::hours(1), before)
            .await
            .unwrap(),
        Micros::ZERO
    );
    let calls = store.list_llm_calls(&t.id).await.unwrap();
    let at = calls[0].created_at;
    // `to` is exclusive.
    assert_eq!(store.spend_between(before, at).await.unwrap(), Micros::ZERO);

    let today = at.date_naive();
    let days = store
        .daily_spend(today - Duration::days(2), today + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(days.len(), 4);
    assert_eq!(days[0].date, today - Duration::days(2));
    assert_eq!(days[3].date, today + Duration::days(1));
    let spent: Vec<i64> = days.iter().map(|d| d.cost.0).collect();
    // Both calls fall on `today` unless the test straddled midnight UTC.
    assert_eq!(spent.iter().sum::<i64>(), 1_000);
    assert_eq!(spent[0], 0);
    assert_eq!(spent[1], 0);
    let single = store.daily_spend(today, today).await.unwrap();
    assert_eq!(single.len(), 1);
    let err = expect_err(
        store.daily_spend(today, today - Duration::days(1)).await,
        "reversed range",
    );
    assert_eq!(err.code(), "invalid");
}

/// Usage groups by the requested keys, ordered by cost descending.
pub async fn usage_groups_by_keys(store: Arc<dyn Store>) {
    let (t, _) = ticket_with_task(&*store, "UG-1").await;
    let since = foreman_domain::now();
    for (model, role, cost, status) in [
        ("small", "planner", 10, None),
        ("big", "implementer", 500, None),
        ("big", "implementer", 300, Some(LlmCallStatus::Timeout)),
        ("small", "implementer", 20, None),
    ] {
        let mut c = call(&t, None, cost);
        c.model = model.into();
        c.role = role.into();
        c.status = status;
        store.record_llm_call(c).await.unwrap();
    }
    let by_model = store.usage_since(since, &[UsageKey::Model]).await.unwrap();
    assert_eq!(by_model.len(), 2);
    assert_eq!(by_model[0].keys, ["big"]);
    assert_eq!(by_model[0].calls, 2);
    assert_eq!(by_model[0].cost, Micros(800));
    assert_eq!(by_model[0].tokens_in, 2_000);
    assert_eq!(by_model[0].tokens_out, 400);
    assert_eq!(by_model[1].keys, ["small"]);
    assert_eq!(by_model[1].cost, Micros(30));

    let by_two = store
        .usage_since(since, &[UsageKey::Role, UsageKey::Model])
        .await
        .unwrap();
    let keys: Vec<Vec<String>> = by_two.iter().map(|r| r.keys.clone()).collect();
    assert_eq!(
        keys,
        [
            vec!["implementer".to_owned(), "big".to_owned()],
            vec!["implementer".to_owned(), "small".to_owned()],
            vec!["planner".to_owned(), "small".to_owned()],
        ]
    );
    let by_status = store.usage_since(since, &[UsageKey::Status]).await.unwrap();
    assert_eq!(by_status[0].keys, ["success"]);
    assert_eq!(by_status[0].calls, 3);
    assert_eq!(by_status[1].keys, ["timeout"]);
    let by_runner = store
        .usage_since(since, &[UsageKey::Runner, UsageKey::Provider])
        .await
        .unwrap();
    assert_eq!(by_runner.len(), 1);
    assert_eq!(by_runner[0].keys, ["builtin", "anthropic"]);
    assert_eq!(by_runner[0].calls, 4);

    let total = store.usage_since(since, &[]).await.unwrap();
    assert_eq!(total.len(), 1);
    assert!(total[0].keys.is_empty());
    assert_eq!(total[0].cost, Micros(830));
    let later = foreman_domain::now() + Duration::seconds(1);
    assert!(
        store
            .usage_since(later, &[UsageKey::Model])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.usage_since(later, &[]).await.unwrap().is_empty());
}

/// Reservations count recorded spend plus open holds per task, ticket, day and month; a
/// refusal names the scope; the returned commitment includes the new hold.
pub async fn reservations_admit_within_limits(store: Arc<dyn Store>) {
    let (t, task) = ticket_with_task(&*store, "RA-1").await;
    store
        .record_llm_call(call(&t, Some(&task), 400))
        .await
        .unwrap();
    let limits = BudgetLimits {
        task: Some(Micros(1_000)),
        ticket: Some(Micros(2_000)),
        daily: Some(Micros(10_000)),
        monthly: Some(Micros(100_000)),
        alert_threshold_pct: 80,
    };
    let r1 = store
        .reserve(&reservation(&t, Some(&task), 500, limits))
        .await
        .unwrap();
    assert_eq!(r1.amount, Micros(500));
    let committed = |scope| {
        r1.committed
            .iter()
            .find(|(s, _)| *s == scope)
            .map(|(_, m)| *m)
    };
    assert_eq!(committed(BudgetScope::Task), Some(Micros(900)));
    assert_eq!(committed(BudgetScope::Ticket), Some(Micros(900)));
    assert_eq!(committed(BudgetScope::Daily), Some(Micros(900)));
    assert_eq!(committed(BudgetScope::Monthly), Some(Micros(900)));

    // 400 recorded + 500 held + 101 > 1000 for the task.
    let err = expect_err(
        store
            .reserve(&reservation(&t, Some(&task), 101, limits))
            .await,
        "task budget",
    );
    match err {
        StoreError::BudgetExceeded(e) => {
            assert_eq!(e.scope, BudgetScope::Task);
            assert_eq!(e.limit, Micros(1_000));
            assert_eq!(e.spent, Micros(900));
            assert_eq!(e.requested, Micros(101));
        }
        other => panic!("expected budget exceeded, got {other:?}"),
    }
    store
        .reserve(&reservation(&t, Some(&task), 100, limits))
        .await
        .unwrap();
    // Without a task the ticket budget applies: 1000 committed, 1001 more passes 2000.
    let err = expect_err(
        store.reserve(&reservation(&t, None, 1_001, limits)).await,
        "ticket budget",
    );
    assert!(
        matches!(&err, StoreError::BudgetExceeded(e) if e.scope == BudgetScope::Ticket),
        "{err:?}"
    );
    // The daily budget spans tickets.
    let (u, _) = ticket_with_task(&*store, "RA-2").await;
    let daily = BudgetLimits {
        daily: Some(Micros(1_500)),
        ..BudgetLimits::default()
    };
    let err = expect_err(
        store.reserve(&reservation(&u, None, 501, daily)).await,
        "daily budget",
    );
    assert!(
        matches!(&err, StoreError::BudgetExceeded(e) if e.scope == BudgetScope::Daily && e.spent == Micros(1_000)),
        "{err:?}"
    );
    store
        .reserve(&reservation(&u, None, 500, daily))
        .await
        .unwrap();
    // Unlimited budgets admit anything; bad amounts and unknown references are refused.
    store
        .reserve(&reservation(
            &u,
            None,
            1_000_000_000,
            BudgetLimits::default(),
        ))
        .await
        .unwrap();
    assert_eq!(
        expect_err(
            store
                .reserve(&reservation(&u, None, -5, BudgetLimits::default()))
                .await,
            "negative"
        )
        .code(),
        "invalid"
    );
    let mut ghost = reservation(&u, None, 5, BudgetLimits::default());
    ghost.ticket_id = Some(TicketId::new());
    assert_eq!(
        expect_err(store.reserve(&ghost).await, "unknown ticket").code(),
        "not_found"
    );
}

/// Settling records the call (with totals) and drops the hold; releasing only drops it;
/// unknown ids: settle is `NotFound`, release is ignored.
pub async fn settle_and_release(store: Arc<dyn Store>) {
    let (t, task) = ticket_with_task(&*store, "SR-1").await;
    let limits = BudgetLimits {
        ticket: Some(Micros(1_000)),
        ..BudgetLimits::default()
    };
    let held = store
        .reserve(&reservation(&t, Some(&task), 800, limits))
        .await
        .unwrap();
    assert!(
        store
            .reserve(&reservation(&t, None, 300, limits))
            .await
            .is_err(),
        "800 held"
    );
    let recorded = store
        .settle(&held.id, call(&t, Some(&task), 250))
        .await
        .unwrap();
    assert_eq!(recorded.cost, Micros(250));
    let ticket = store.get_ticket(&t.id).await.unwrap().unwrap();
    assert_eq!((ticket.cost, ticket.total_llm_calls), (Micros(250), 1));
    assert_eq!(store.list_llm_calls(&t.id).await.unwrap().len(), 1);
    // 250 recorded, nothing held: 750 fits exactly.
    let second = store
        .reserve(&reservation(&t, None, 750, limits))
        .await
        .unwrap();
    assert_eq!(
        expect_err(
            store.settle(&held.id, call(&t, None, 1)).await,
            "settled twice"
        )
        .code(),
        "not_found"
    );
    store.release(&second.id).await.unwrap();
    store.release(&second.id).await.unwrap();
    store.release(&ReservationId::new()).await.unwrap();
    store
        .reserve(&reservation(&t, None, 750, limits))
        .await
        .expect("released hold no longer counts");
    // A settle whose call is invalid keeps the hold.
    let third = store
        .reserve(&reservation(&t, None, 0, limits))
        .await
        .unwrap();
    let mut bad = call(&t, None, 1);
    bad.task_id = Some(TaskId::new());
    assert!(store.settle(&third.id, bad).await.is_err());
    store.release(&third.id).await.unwrap();
    assert_eq!(store.list_llm_calls(&t.id).await.unwrap().len(), 1);
}

/// Many concurrent reservers against one limit never hold more than the limit in total.
pub async fn concurrent_reservers_stay_within_the_limit(store: Arc<dyn Store>) {
    let (t, _) = ticket_with_task(&*store, "CR-1").await;
    let limits = BudgetLimits {
        ticket: Some(Micros(10_000)),
        daily: Some(Micros(1_000_000)),
        ..BudgetLimits::default()
    };
    let mut handles = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        let t = t.clone();
        handles.push(tokio::spawn(async move {
            let mut granted = 0i64;
            for _ in 0..10 {
                match store.reserve(&reservation(&t, None, 300, limits)).await {
                    Ok(r) => granted += r.amount.0,
                    Err(StoreError::BudgetExceeded(e)) => {
                        assert_eq!(e.scope, BudgetScope::Ticket);
                    }
                    Err(e) => panic!("reserve failed: {e:?}"),
                }
            }
            granted
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.expect("reserver");
    }
    assert!(total <= 10_000, "held {total} of a 10000 limit");
    assert_eq!(total, 9_900, "every reservation that fits is granted");
}
