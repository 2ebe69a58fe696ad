//! Retrospectives over the in-memory store: one every N finished tickets (and not before), with
//! the figures of exactly that round, written by the notifier as tickets finish.

use std::time::Duration;

use chrono::Utc;
use foreman_domain::retrospective::{Gate, GateStat};
use foreman_domain::{
    BudgetLimits, EventFilter, EventType, Micros, NewEvent, NewLlmCall, NewTask, NewTicket, Store,
    Ticket, TicketPatch, TicketStatus,
};
use foreman_pipeline::notify::{Notifier, NotifySettings};
use foreman_pipeline::retrospective::Retrospectives;
use foreman_testkit::MemoryStore;

/// How a test ticket ends.
#[derive(Clone, Copy)]
enum End {
    Merged,
    Failed(&'static str),
}

/// A ticket that ran `minutes`, cost `cost`, saw `gates` (event type per task: task 1, 2, ...)
/// and ended as `end`.
async fn finish(
    store: &dyn Store,
    ext: &str,
    cost: i64,
    minutes: i64,
    gates: &[&[EventType]],
    end: End,
) -> Ticket {
    use TicketStatus as S;
    let t = store
        .create_ticket(NewTicket {
            project: "default".into(),
            external_id: ext.into(),
            title: format!("ticket {ext}"),
            ..NewTicket::default()
        })
        .await
        .unwrap();
    store
        .update_ticket(
            &t.id,
            TicketPatch {
                started_at: Some(Some(Utc::now() - chrono::Duration::minutes(minutes))),
                ..TicketPatch::default()
            },
            None,
        )
        .await
        .unwrap();
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
    let tasks = store
        .create_tasks(
            &t.id,
            (1..=gates.len())
                .map(|i| NewTask {
                    sequence: i32::try_from(i).unwrap(),
                    title: format!("task {i}"),
                    ..NewTask::default()
                })
                .collect(),
            None,
        )
        .await
        .unwrap();
    for (task, types) in tasks.iter().zip(gates) {
        for ty in *types {
            let mut e = NewEvent::new(*ty, ty.as_str()).ticket(&t.id);
            if !matches!(ty, EventType::FinalReviewPass | EventType::FinalReviewFail) {
                e = e.task(&task.id);
            }
            store.append(e).await.unwrap();
        }
    }
    let path: &[S] = match end {
        End::Failed(class) => {
            store
                .update_ticket(
                    &t.id,
                    TicketPatch {
                        last_error: Some(Some(format!("{class} went wrong in {ext}"))),
                        last_error_type: Some(Some(class.into())),
                        ..TicketPatch::default()
                    },
                    None,
                )
                .await
                .unwrap();
            &[S::Failed]
        }
        End::Merged => &[
            S::Planning,
            S::PlanValidating,
            S::Implementing,
            S::Reviewing,
            S::PrCreated,
            S::AwaitingMerge,
            S::Merged,
        ],
    };
    let mut from = S::Queued;
    for &next in path {
        store
            .transition_ticket(&t.id, from, next, None)
            .await
            .unwrap();
        store
            .append(
                NewEvent::new(EventType::TicketStatusChanged, format!("{from} → {next}"))
                    .ticket(&t.id),
            )
            .await
            .unwrap();
        from = next;
    }
    store.get_ticket(&t.id).await.unwrap().unwrap()
}

fn gate(stats: &[GateStat], g: Gate) -> GateStat {
    *stats.iter().find(|s| s.gate == g).unwrap()
}

#[tokio::test]
async fn a_round_of_n_tickets_carries_that_rounds_figures() {
    use EventType as E;
    let store = MemoryStore::new().shared();
    let r = Retrospectives::new(store.clone(), store.clone(), 4);
    let a = finish(
        store.as_ref(),
        "A",
        3_000_000,
        10,
        &[
            &[
                E::TaskTddVerifyPass,
                E::TaskSpecReviewPass,
                E::FinalReviewPass,
            ],
            &[
                E::TaskTddVerifyFail,
                E::TaskTddVerifyPass,
                E::TaskSpecReviewFail,
                E::TaskSpecReviewPass,
            ],
        ],
        End::Merged,
    )
    .await;
    let b = finish(
        store.as_ref(),
        "B",
        1_000_000,
        30,
        &[&[E::TaskTddVerifyInvalidRed, E::TaskLintFail]],
        End::Failed("test"),
    )
    .await;
    let c = finish(
        store.as_ref(),
        "C",
        2_000_000,
        20,
        &[&[
            E::TaskTddVerifyPass,
            E::TaskLintPass,
            E::FinalReviewFail,
            E::FinalReviewPass,
        ]],
        End::Merged,
    )
    .await;
    assert!(r.run_once().await.unwrap().is_none(), "3 of 4 finished");
    let d = finish(store.as_ref(), "D", 0, 5, &[], End::Failed("test")).await;
    let written = r.run_once().await.unwrap().expect("a round of four");
    assert_eq!(written.number, 1);
    assert_eq!(
        written.ticket_ids,
        vec![a.id.clone(), b.id.clone(), c.id.clone(), d.id.clone()]
    );
    let p = &written.report;
    assert_eq!((p.tickets, p.succeeded, p.merged_prs), (4, 2, 2));
    assert!((p.success_rate - 0.5).abs() < 1e-9, "{}", p.success_rate);
    assert_eq!(p.mean_cost, Micros(1_500_000), "6 $ over 4 tickets");
    assert_eq!(
        p.cost_per_merged_pr,
        Some(Micros(3_000_000)),
        "6 $ over 2 PRs"
    );
    let mean_ms: i64 = [&a, &b, &c, &d]
        .iter()
        .map(|t| (t.completed_at.unwrap() - t.started_at.unwrap()).num_milliseconds())
        .sum::<i64>()
        / 4;
    assert_eq!(p.mean_duration_ms, mean_ms);
    assert!(p.mean_duration_ms >= 16 * 60_000, "{}", p.mean_duration_ms);
    // first verdicts: red passed for A1, A2, C1, failed for B1; green passed for A1, C1, failed
    // for A2 at first; the final review passed at first for A, not for C
    let red = gate(&p.gates, Gate::TddRed);
    assert_eq!((red.reached, red.first_pass), (4, 3));
    let green = gate(&p.gates, Gate::TddGreen);
    assert_eq!((green.reached, green.first_pass), (3, 2));
    let spec = gate(&p.gates, Gate::SpecReview);
    assert_eq!((spec.reached, spec.first_pass), (2, 1));
    assert_eq!(spec.rate, Some(0.5));
    let lint = gate(&p.gates, Gate::Lint);
    assert_eq!((lint.reached, lint.first_pass), (2, 1));
    let fin = gate(&p.gates, Gate::FinalReview);
    assert_eq!((fin.reached, fin.first_pass), (2, 1));
    let quality = gate(&p.gates, Gate::QualityReview);
    assert_eq!((quality.reached, quality.rate), (0, None));
    // failure classes: `test` twice, with both tickets as examples
    assert_eq!(p.failure_classes.len(), 1, "{:?}", p.failure_classes);
    assert_eq!(p.failure_classes[0].class, "test");
    assert_eq!(p.failure_classes[0].count, 2);
    let examples: Vec<_> = p.failure_classes[0]
        .examples
        .iter()
        .map(|e| e.ticket_id.clone())
        .collect();
    assert_eq!(examples, vec![b.id.clone(), d.id.clone()]);
    assert_eq!(
        p.failure_classes[0].examples[0].error,
        "test went wrong in B"
    );
    // written once; the next round starts after it
    assert!(r.run_once().await.unwrap().is_none());
    let e = finish(store.as_ref(), "E", 0, 1, &[], End::Failed("compile")).await;
    for ext in ["F", "G"] {
        finish(store.as_ref(), ext, 0, 1, &[], End::Failed("compile")).await;
    }
    assert!(r.catch_up().await.unwrap().is_empty(), "3 of the next 4");
    finish(store.as_ref(), "H", 4_000_000, 1, &[], End::Merged).await;
    let next = r.catch_up().await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].number, 2);
    assert_eq!(next[0].ticket_ids[0], e.id);
    assert_eq!(next[0].report.failure_classes[0].class, "compile");
    assert_eq!(next[0].report.failure_classes[0].count, 3);
    assert_eq!(next[0].report.cost_per_merged_pr, Some(Micros(4_000_000)));
    assert_eq!(store.list_retrospectives(10, None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_notifier_writes_a_retrospective_when_a_round_completes() {
    let store = MemoryStore::new().shared();
    let mut n = Notifier::new(
        store.clone(),
        store.clone(),
        NotifySettings {
            poll_interval: Duration::from_millis(20),
            budget_interval: Duration::from_secs(60),
            limits: BudgetLimits::default(),
        },
    )
    .with_retrospectives(Retrospectives::new(store.clone(), store.clone(), 2));
    n.start_from_now().await.unwrap();
    finish(store.as_ref(), "A", 100, 1, &[], End::Merged).await;
    n.process_events().await.unwrap();
    assert!(
        store
            .list_retrospectives(10, None)
            .await
            .unwrap()
            .is_empty()
    );
    finish(store.as_ref(), "B", 300, 1, &[], End::Failed("budget")).await;
    n.process_events().await.unwrap();
    let written = store.list_retrospectives(10, None).await.unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].report.mean_cost, Micros(200));
    assert_eq!(written[0].report.cost_per_merged_pr, Some(Micros(400)));
    let announced = store
        .list_events(&EventFilter {
            types: vec![EventType::RetrospectiveWritten],
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0].details.as_ref().unwrap()["number"], 1);
}
