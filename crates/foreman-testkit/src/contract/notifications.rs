//! Notification, retrospective and cost report cases: one notification per situation,
//! acknowledgement, paging; unique retrospective numbers and finished-ticket marks; cost sums
//! per key, spend and reservations per window, cost per merged pull request.

use std::sync::Arc;

use chrono::{Duration, Utc};
use foreman_domain::budget_window::day_window;
use foreman_domain::cost_report::CostGroupBy;
use foreman_domain::notification::{
    NewNotification, NotificationFilter, NotificationId, NotificationSeverity, TriggerId,
};
use foreman_domain::retrospective::{NewRetrospective, RetroMark, RetrospectiveReport};
use foreman_domain::{BudgetLimits, Micros, NewLlmCall, Store, TicketStatus};

use super::reservation;
use super::tickets::{create, force_status};

fn note(key: &str, severity: NotificationSeverity) -> NewNotification {
    NewNotification {
        trigger: TriggerId::BudgetThreshold,
        severity,
        message: format!("note {key}"),
        ticket_id: None,
        task_id: None,
        dedup_key: key.to_owned(),
        details: serde_json::json!({"key": key}),
    }
}

/// A dedup key is recorded once, also when many record it at the same time; an empty key is
/// refused.
pub async fn notifications_record_once_per_key(store: Arc<dyn Store>) {
    let first = store
        .record_notification(note("budget:daily:1", NotificationSeverity::Warning))
        .await
        .unwrap()
        .expect("first record");
    assert_eq!(first.trigger, TriggerId::BudgetThreshold);
    assert_eq!(first.details["key"], "budget:daily:1");
    assert!(first.acknowledged_at.is_none());
    assert!(
        store
            .record_notification(note("budget:daily:1", NotificationSeverity::Critical))
            .await
            .unwrap()
            .is_none()
    );
    let mut handles = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            s.record_notification(note("race", NotificationSeverity::Info))
                .await
                .unwrap()
                .is_some()
        }));
    }
    let mut won = 0;
    for h in handles {
        won += usize::from(h.await.unwrap());
    }
    assert_eq!(won, 1);
    let all = store
        .list_notifications(&NotificationFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(
        store
            .record_notification(note("", NotificationSeverity::Info))
            .await
            .is_err()
    );
}

/// Lists are newest first, filtered by severity and acknowledgement, and page by cursor;
/// acknowledging keeps the first time, unknown ids are `None`, acknowledging all counts.
pub async fn notifications_filter_page_and_acknowledge(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let sev = if i % 2 == 0 {
            NotificationSeverity::Warning
        } else {
            NotificationSeverity::Critical
        };
        let n = store
            .record_notification(note(&format!("k{i}"), sev))
            .await
            .unwrap()
            .unwrap();
        ids.push(n.id);
    }
    let page = |limit, before: Option<NotificationId>| NotificationFilter {
        limit,
        before,
        ..NotificationFilter::default()
    };
    let first = store.list_notifications(&page(2, None)).await.unwrap();
    assert_eq!(
        first.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
        vec![ids[4].clone(), ids[3].clone()]
    );
    let second = store
        .list_notifications(&page(2, Some(first[1].id.clone())))
        .await
        .unwrap();
    assert_eq!(second[0].id, ids[2]);
    let critical = store
        .list_notifications(&NotificationFilter {
            severity: Some(NotificationSeverity::Critical),
            ..NotificationFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(critical.len(), 2);

    let at = Utc::now() - Duration::minutes(5);
    let acked = store
        .acknowledge_notification(&ids[0], at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        acked.acknowledged_at.map(|t| t.timestamp_micros()),
        Some(at.timestamp_micros())
    );
    let again = store
        .acknowledge_notification(&ids[0], Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.acknowledged_at, acked.acknowledged_at);
    assert!(
        store
            .acknowledge_notification(&NotificationId("missing".into()), Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.unacknowledged_notifications().await.unwrap(), 4);
    let only_acked = store
        .list_notifications(&NotificationFilter {
            acknowledged: Some(true),
            ..NotificationFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(only_acked.len(), 1);
    assert_eq!(
        store
            .acknowledge_all_notifications(Utc::now())
            .await
            .unwrap(),
        4
    );
    assert_eq!(store.unacknowledged_notifications().await.unwrap(), 0);
    assert_eq!(
        store
            .acknowledge_all_notifications(Utc::now())
            .await
            .unwrap(),
        0
    );
}

/// Retrospective numbers are unique and listed newest first; finished tickets come after a
/// mark in `(completed_at, id)` order, unfinished ones never.
pub async fn retrospectives_and_finished_tickets(store: Arc<dyn Store>) {
    let a = create(&*store, "RE-1").await;
    let b = create(&*store, "RE-2").await;
    let _running = create(&*store, "RE-3").await;
    force_status(&*store, &a.id, TicketStatus::Merged).await;
    force_status(&*store, &b.id, TicketStatus::Failed).await;
    let finished = store.finished_tickets_after(None, 10).await.unwrap();
    assert_eq!(finished.len(), 2);
    let first = &finished[0];
    let mark = RetroMark {
        completed_at: first.completed_at.unwrap(),
        ticket_id: first.id.clone(),
    };
    let rest = store.finished_tickets_after(Some(&mark), 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id, finished[1].id);
    assert_eq!(
        store.finished_tickets_after(None, 1).await.unwrap().len(),
        1
    );

    let report = RetrospectiveReport::compute(&finished, &[]);
    let new = |number| NewRetrospective {
        number,
        ticket_ids: finished.iter().map(|t| t.id.clone()).collect(),
        until: mark.clone(),
        report: report.clone(),
    };
    let r1 = store.add_retrospective(new(1)).await.unwrap().unwrap();
    assert_eq!(r1.report, report);
    assert!(store.add_retrospective(new(1)).await.unwrap().is_none());
    store.add_retrospective(new(2)).await.unwrap().unwrap();
    assert!(store.add_retrospective(new(0)).await.is_err());
    let listed = store.list_retrospectives(0, None).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.number).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(listed[1].until, mark);
    assert_eq!(listed[1].ticket_ids.len(), 2);
    let older = store.list_retrospectives(0, Some(2)).await.unwrap();
    assert_eq!(older.len(), 1);
}

fn call(ticket: &foreman_domain::Ticket, model: &str, role: &str, cost: i64) -> NewLlmCall {
    NewLlmCall {
        ticket_id: Some(ticket.id.clone()),
        role: role.into(),
        provider: "anthropic".into(),
        model: model.into(),
        runner: "builtin".into(),
        attempt: 1,
        tokens_input: 100,
        tokens_output: 10,
        cache_read_tokens: 3,
        cache_write_tokens: 1,
        cost: Micros(cost),
        ..NewLlmCall::default()
    }
}

/// Calls are summed per key with every token class; a deleted ticket's calls keep its id under
/// `ticket` and an empty project; windows count spend and open reservations; merged pull
/// requests are counted in their window.
pub async fn cost_reports(store: Arc<dyn Store>) {
    let a = create(&*store, "CR-1").await;
    let b = create(&*store, "CR-2").await;
    store
        .record_llm_call(call(&a, "m1", "planner", 100))
        .await
        .unwrap();
    store
        .record_llm_call(call(&a, "m2", "implementer", 300))
        .await
        .unwrap();
    store
        .record_llm_call(call(&b, "m1", "implementer", 50))
        .await
        .unwrap();
    let from = Utc::now() - Duration::hours(1);
    let to = Utc::now() + Duration::hours(1);

    let by_model = store
        .cost_groups(from, to, CostGroupBy::Model)
        .await
        .unwrap();
    assert_eq!(
        by_model
            .iter()
            .map(|g| (g.key.as_str(), g.calls, g.cost.0))
            .collect::<Vec<_>>(),
        vec![("m2", 1, 300), ("m1", 2, 150)]
    );
    assert_eq!(by_model[1].tokens_input, 200);
    assert_eq!(by_model[1].tokens_output, 20);
    assert_eq!(by_model[1].cache_read_tokens, 6);
    assert_eq!(by_model[1].cache_write_tokens, 2);
    let by_day = store.cost_groups(from, to, CostGroupBy::Day).await.unwrap();
    let today = Utc::now().date_naive().to_string();
    assert!(by_day.iter().any(|g| g.key == today), "{by_day:?}");
    assert_eq!(by_day.iter().map(|g| g.cost.0).sum::<i64>(), 450);
    let by_role = store
        .cost_groups(from, to, CostGroupBy::Role)
        .await
        .unwrap();
    assert_eq!(by_role[0].key, "implementer");
    assert_eq!(by_role[0].cost, Micros(350));

    assert!(store.delete_ticket(&b.id).await.unwrap());
    let by_ticket = store
        .cost_groups(from, to, CostGroupBy::Ticket)
        .await
        .unwrap();
    assert_eq!(
        by_ticket
            .iter()
            .map(|g| (g.key.clone(), g.cost.0))
            .collect::<Vec<_>>(),
        vec![(a.id.to_string(), 400), (b.id.to_string(), 50)]
    );
    let by_project = store
        .cost_groups(from, to, CostGroupBy::Project)
        .await
        .unwrap();
    assert_eq!(
        by_project
            .iter()
            .map(|g| (g.key.as_str(), g.cost.0))
            .collect::<Vec<_>>(),
        vec![("default", 400), ("", 50)]
    );
    let later = Utc::now() + Duration::hours(2);
    assert!(
        store
            .cost_groups(later, later + Duration::hours(1), CostGroupBy::Model)
            .await
            .unwrap()
            .is_empty()
    );

    let held = store
        .reserve(&reservation(&a, None, 25, BudgetLimits::default()))
        .await
        .unwrap();
    let today = store.window_spend(day_window(Utc::now())).await.unwrap();
    assert_eq!(today.used, Micros(450));
    assert_eq!(today.reserved, Micros(25));
    store.release(&held.id).await.unwrap();
    assert_eq!(
        store
            .window_spend(day_window(Utc::now()))
            .await
            .unwrap()
            .reserved,
        Micros(0)
    );

    let none = store.merged_pr_cost(from, to).await.unwrap();
    assert_eq!(none.merged_prs, 0);
    assert_eq!(none.per_merged_pr(), None);
    force_status(&*store, &a.id, TicketStatus::Merged).await;
    let to = Utc::now() + Duration::hours(1);
    let merged = store.merged_pr_cost(from, to).await.unwrap();
    assert_eq!(merged.merged_prs, 1);
    assert_eq!(merged.merged_cost, Micros(400));
    assert_eq!(merged.total_cost, Micros(450));
    assert_eq!(merged.per_merged_pr(), Some(Micros(450)));
    let before = store
        .merged_pr_cost(from - Duration::hours(5), from)
        .await
        .unwrap();
    assert_eq!(before.merged_prs, 0);
}
