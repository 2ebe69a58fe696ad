//! Ticket cases: creation, lookup, listing, counting, compare-and-set transitions, patches,
//! fencing and cascade delete.

use std::collections::HashSet;
use std::sync::Arc;

use foreman_domain::{
    BudgetLimits, ClaimRequest, EventFilter, EventType, FencingToken, MAX_PAGE_LIMIT, Micros,
    NewEvent, NewLlmCall, NewTask, ReservationRequest, Store, StoreError, TaskPatch, TaskStatus,
    Ticket, TicketFilter, TicketId, TicketPatch, TicketSort, TicketStatus,
};

use super::{expect_err, new_ticket};

/// Walks a ticket along allowed edges from `queued` to `to` (test setup).
pub(crate) async fn force_status(store: &dyn Store, id: &TicketId, to: TicketStatus) -> Ticket {
    use TicketStatus as S;
    let path: &[S] = match to {
        S::Queued => &[],
        S::Planning => &[S::Planning],
        S::Implementing => &[S::Planning, S::PlanValidating, S::Implementing],
        S::Partial => &[S::Planning, S::PlanValidating, S::Implementing, S::Partial],
        S::Failed => &[S::Failed],
        S::Blocked => &[S::Blocked],
        S::ClarificationNeeded => &[S::ClarificationNeeded],
        S::Merged => &[
            S::Planning,
            S::PlanValidating,
            S::Implementing,
            S::Reviewing,
            S::PrCreated,
            S::AwaitingMerge,
            S::Merged,
        ],
        other => panic!("force_status does not know a path to {other}"),
    };
    let mut ticket = store.get_ticket(id).await.unwrap().expect("ticket exists");
    for &next in path {
        ticket = store
            .transition_ticket(id, ticket.status, next, None)
            .await
            .unwrap_or_else(|e| panic!("{} -> {next}: {e}", ticket.status));
    }
    ticket
}

pub(crate) async fn create(store: &dyn Store, ext: &str) -> Ticket {
    store.create_ticket(new_ticket(ext)).await.unwrap()
}

/// Creating a ticket returns it in `queued` with zeroed totals, and reading it back by id or
/// by external id yields the same value.
pub async fn create_and_get(store: Arc<dyn Store>) {
    let mut new = new_ticket("PROJ-1");
    new.priority = 7;
    new.labels = vec!["backend".into(), "urgent".into()];
    new.submitter = Some("alice".into());
    new.acceptance_criteria = "it works".into();
    let t = store.create_ticket(new.clone()).await.unwrap();
    assert_eq!(t.status, TicketStatus::Queued);
    assert_eq!(t.project, "default");
    assert_eq!(t.external_id, "PROJ-1");
    assert_eq!(t.title, new.title);
    assert_eq!(t.description, new.description);
    assert_eq!(t.acceptance_criteria, "it works");
    assert_eq!(t.priority, 7);
    assert_eq!(t.labels, new.labels);
    assert_eq!(t.submitter.as_deref(), Some("alice"));
    assert_eq!(t.cost, Micros::ZERO);
    assert_eq!(t.total_llm_calls, 0);
    assert_eq!(t.fencing_token, FencingToken(0));
    assert!(t.lease_owner.is_none() && t.lease_expires_at.is_none());
    assert!(t.completed_at.is_none() && t.started_at.is_none());
    assert_eq!(t.created_at, t.updated_at);
    assert_eq!(t.created_at.timestamp_subsec_nanos() % 1000, 0, "micros");

    let by_id = store.get_ticket(&t.id).await.unwrap().expect("by id");
    assert_eq!(by_id, t);
    let by_ext = store
        .get_ticket_by_external_id("default", "PROJ-1")
        .await
        .unwrap()
        .expect("by external id");
    assert_eq!(by_ext, t);
    assert!(
        store
            .get_ticket_by_external_id("other", "PROJ-1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.get_ticket(&TicketId::new()).await.unwrap().is_none());

    let mut blank_project = new_ticket("PROJ-2");
    blank_project.project = String::new();
    let t2 = store.create_ticket(blank_project).await.unwrap();
    assert_eq!(t2.project, foreman_domain::DEFAULT_PROJECT);

    let mut child = new_ticket("PROJ-3");
    child.parent_id = Some(t.id.clone());
    let c = store.create_ticket(child).await.unwrap();
    assert_eq!(c.parent_id.as_ref(), Some(&t.id));
}

/// `(project, external_id)` is unique; the same external id in another project is fine.
pub async fn duplicate_external_id_is_per_project(store: Arc<dyn Store>) {
    create(&*store, "X-1").await;
    let err = expect_err(store.create_ticket(new_ticket("X-1")).await, "duplicate");
    assert!(
        matches!(
            err,
            StoreError::Duplicate {
                entity: "ticket",
                ..
            }
        ),
        "{err:?}"
    );
    let mut other = new_ticket("X-1");
    other.project = "web".into();
    let t = store.create_ticket(other).await.unwrap();
    assert_eq!(t.project, "web");
    let page = store.list_tickets(&TicketFilter::default()).await.unwrap();
    assert_eq!(page.items.len(), 2);
}

/// Bad input is refused with `Invalid` (or `NotFound` for a missing parent).
pub async fn create_rejects_bad_input(store: Arc<dyn Store>) {
    let err = expect_err(
        store.create_ticket(new_ticket("")).await,
        "empty external id",
    );
    assert_eq!(err.code(), "invalid", "{err:?}");
    let mut bad_project = new_ticket("A-1");
    bad_project.project = "Not A Slug".into();
    let err = expect_err(store.create_ticket(bad_project).await, "bad project");
    assert_eq!(err.code(), "invalid", "{err:?}");
    let mut orphan = new_ticket("A-2");
    orphan.parent_id = Some(TicketId::new());
    let err = expect_err(store.create_ticket(orphan).await, "missing parent");
    assert_eq!(err.code(), "not_found", "{err:?}");
    assert!(
        store
            .list_tickets(&TicketFilter::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

fn ids(tickets: &[Ticket]) -> Vec<String> {
    tickets.iter().map(|t| t.external_id.clone()).collect()
}

/// Status, project, search, submitter and parent filters.
pub async fn list_filters(store: Arc<dyn Store>) {
    let a = create(&*store, "ALPHA-1").await;
    let b = create(&*store, "BETA-2").await;
    let mut web = new_ticket("ALPHA-3");
    web.project = "web".into();
    web.title = "Fix the Login page".into();
    web.submitter = Some("bob".into());
    web.parent_id = Some(a.id.clone());
    let c = store.create_ticket(web).await.unwrap();
    force_status(&*store, &b.id, TicketStatus::Planning).await;
    force_status(&*store, &c.id, TicketStatus::Failed).await;

    let list = |f: TicketFilter| {
        let store = Arc::clone(&store);
        async move { ids(&store.list_tickets(&f).await.unwrap().items) }
    };
    let asc = |f: TicketFilter| TicketFilter {
        sort: TicketSort::CreatedAsc,
        ..f
    };
    assert_eq!(
        list(asc(TicketFilter::default())).await,
        ["ALPHA-1", "BETA-2", "ALPHA-3"]
    );
    assert_eq!(
        list(asc(TicketFilter {
            statuses: vec![TicketStatus::Planning],
            ..Default::default()
        }))
        .await,
        ["BETA-2"]
    );
    assert_eq!(
        list(asc(TicketFilter {
            statuses: vec![TicketStatus::Queued, TicketStatus::Failed],
            ..Default::default()
        }))
        .await,
        ["ALPHA-1", "ALPHA-3"]
    );
    assert_eq!(
        list(asc(TicketFilter {
            project: Some("web".into()),
            ..Default::default()
        }))
        .await,
        ["ALPHA-3"]
    );
    assert!(
        list(asc(TicketFilter {
            project: Some("nope".into()),
            ..Default::default()
        }))
        .await
        .is_empty()
    );
    // Case-insensitive substring of external id ...
    assert_eq!(
        list(asc(TicketFilter {
            search: Some("alpha".into()),
            ..Default::default()
        }))
        .await,
        ["ALPHA-1", "ALPHA-3"]
    );
    // ... or title.
    assert_eq!(
        list(asc(TicketFilter {
            search: Some("LOGIN".into()),
            ..Default::default()
        }))
        .await,
        ["ALPHA-3"]
    );
    // LIKE metacharacters are literal.
    assert!(
        list(asc(TicketFilter {
            search: Some("%".into()),
            ..Default::default()
        }))
        .await
        .is_empty()
    );
    assert!(
        list(asc(TicketFilter {
            search: Some("_".into()),
            ..Default::default()
        }))
        .await
        .is_empty()
    );
    assert_eq!(
        list(asc(TicketFilter {
            submitter: Some("bob".into()),
            ..Default::default()
        }))
        .await,
        ["ALPHA-3"]
    );
    assert_eq!(
        list(asc(TicketFilter {
            parent_id: Some(a.id.clone()),
            ..Default::default()
        }))
        .await,
        ["ALPHA-3"]
    );
    assert!(
        list(asc(TicketFilter {
            statuses: vec![TicketStatus::Failed],
            project: Some("default".into()),
            ..Default::default()
        }))
        .await
        .is_empty()
    );
}

/// Newest first by default; oldest first; most recently updated first.
pub async fn list_sorts(store: Arc<dyn Store>) {
    let a = create(&*store, "S-1").await;
    create(&*store, "S-2").await;
    create(&*store, "S-3").await;
    let list = |sort: TicketSort| {
        let store = Arc::clone(&store);
        async move {
            ids(&store
                .list_tickets(&TicketFilter {
                    sort,
                    ..Default::default()
                })
                .await
                .unwrap()
                .items)
        }
    };
    assert_eq!(list(TicketSort::CreatedDesc).await, ["S-3", "S-2", "S-1"]);
    assert_eq!(list(TicketSort::CreatedAsc).await, ["S-1", "S-2", "S-3"]);
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    store
        .update_ticket(
            &a.id,
            TicketPatch {
                title: Some("touched".into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(list(TicketSort::UpdatedDesc).await, ["S-1", "S-3", "S-2"]);
}

/// A limit above the cap returns at most [`MAX_PAGE_LIMIT`]; 0 means 50.
pub async fn list_limit_is_capped(store: Arc<dyn Store>) {
    let n = MAX_PAGE_LIMIT as usize + 3;
    // One batch per ticket keeps this backend-agnostic; it is the slowest case of the suite.
    for i in 0..n {
        create(&*store, &format!("L-{i:04}")).await;
    }
    let page = store
        .list_tickets(&TicketFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), MAX_PAGE_LIMIT as usize);
    assert!(page.next_cursor.is_some());
    let page = store.list_tickets(&TicketFilter::default()).await.unwrap();
    assert_eq!(page.items.len(), 50);
    let rest = store
        .list_tickets(&TicketFilter {
            limit: 500,
            cursor: store
                .list_tickets(&TicketFilter {
                    limit: 500,
                    ..Default::default()
                })
                .await
                .unwrap()
                .next_cursor,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3);
    assert!(rest.next_cursor.is_none());
}

/// `offset` skips that many in order.
pub async fn list_offset_skips(store: Arc<dyn Store>) {
    for i in 0..7 {
        create(&*store, &format!("O-{i}")).await;
    }
    let page = store
        .list_tickets(&TicketFilter {
            sort: TicketSort::CreatedAsc,
            limit: 3,
            offset: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.items), ["O-2", "O-3", "O-4"]);
    assert!(page.next_cursor.is_some());
    let page = store
        .list_tickets(&TicketFilter {
            sort: TicketSort::CreatedAsc,
            limit: 3,
            offset: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.items), ["O-5", "O-6"]);
    assert!(page.next_cursor.is_none());
    let page = store
        .list_tickets(&TicketFilter {
            offset: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next_cursor.is_none());
}

async fn page_all(store: &dyn Store, base: TicketFilter) -> Vec<Ticket> {
    let mut out = Vec::new();
    let mut cursor = base.cursor.clone();
    for _ in 0..1000 {
        let page = store
            .list_tickets(&TicketFilter {
                cursor: cursor.clone(),
                ..base.clone()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= base.effective_limit() as usize);
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("paging did not end");
}

/// Following `next_cursor` visits every matching ticket exactly once, in order, for every sort,
/// even when tickets change while paging.
pub async fn cursor_pages_through_everything_once(store: Arc<dyn Store>) {
    let mut all = Vec::new();
    for i in 0..23 {
        let mut n = new_ticket(&format!("C-{i:02}"));
        n.priority = i % 3;
        all.push(store.create_ticket(n).await.unwrap());
    }
    for t in all.iter().step_by(2) {
        force_status(&*store, &t.id, TicketStatus::Planning).await;
    }
    for sort in [
        TicketSort::CreatedDesc,
        TicketSort::CreatedAsc,
        TicketSort::UpdatedDesc,
    ] {
        let seen = page_all(
            &*store,
            TicketFilter {
                sort,
                limit: 5,
                ..Default::default()
            },
        )
        .await;
        let unique: HashSet<_> = seen.iter().map(|t| t.id.clone()).collect();
        assert_eq!(seen.len(), 23, "{sort:?}");
        assert_eq!(unique.len(), 23, "{sort:?}");
        let mut expected = seen.clone();
        expected.sort_by_key(|t| (sort.key_micros(t), t.id.clone()));
        if sort.is_descending() {
            expected.reverse();
        }
        assert_eq!(ids(&seen), ids(&expected), "{sort:?} order");
    }
    let planning = page_all(
        &*store,
        TicketFilter {
            statuses: vec![TicketStatus::Planning],
            limit: 4,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(planning.len(), 12);
    assert!(planning.iter().all(|t| t.status == TicketStatus::Planning));

    // A page boundary that lands exactly on the last item ends with no cursor.
    let exact = store
        .list_tickets(&TicketFilter {
            limit: 23,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(exact.items.len(), 23);
    assert!(exact.next_cursor.is_none());

    // Tickets created while paging newest-first do not disturb the remaining pages.
    let first = store
        .list_tickets(&TicketFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    create(&*store, "C-new").await;
    let rest = page_all(
        &*store,
        TicketFilter {
            limit: 10,
            cursor: first.next_cursor.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(first.items.len() + rest.len(), 23);
}

/// A cursor that is not one, or belongs to another order, is `Invalid`.
pub async fn cursor_rejects_garbage(store: Arc<dyn Store>) {
    for i in 0..3 {
        create(&*store, &format!("G-{i}")).await;
    }
    for bad in ["nonsense", "c", "c12", "c_x", "cabc_x"] {
        let err = expect_err(
            store
                .list_tickets(&TicketFilter {
                    cursor: Some(bad.into()),
                    ..Default::default()
                })
                .await,
            "invalid cursor",
        );
        assert_eq!(err.code(), "invalid", "{bad}: {err:?}");
    }
    let page = store
        .list_tickets(&TicketFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let err = expect_err(
        store
            .list_tickets(&TicketFilter {
                sort: TicketSort::CreatedAsc,
                cursor: page.next_cursor,
                ..Default::default()
            })
            .await,
        "cursor from another order",
    );
    assert_eq!(err.code(), "invalid");
}

/// Counts per status, omitting empty ones, optionally per project.
pub async fn count_by_status(store: Arc<dyn Store>) {
    assert!(
        store
            .count_tickets_by_status(None)
            .await
            .unwrap()
            .is_empty()
    );
    let a = create(&*store, "N-1").await;
    create(&*store, "N-2").await;
    let mut web = new_ticket("N-3");
    web.project = "web".into();
    let w = store.create_ticket(web).await.unwrap();
    force_status(&*store, &a.id, TicketStatus::Failed).await;
    force_status(&*store, &w.id, TicketStatus::Failed).await;
    let mut all = store.count_tickets_by_status(None).await.unwrap();
    all.sort();
    assert_eq!(all, [(TicketStatus::Queued, 1), (TicketStatus::Failed, 2)]);
    let mut web = store.count_tickets_by_status(Some("web")).await.unwrap();
    web.sort();
    assert_eq!(web, [(TicketStatus::Failed, 1)]);
}

/// A stale `from` is a `Conflict` naming the current status; an edge outside the machine is
/// `InvalidTransition`; a missing ticket is `NotFound`; terminal statuses set `completed_at`.
pub async fn transitions_are_compare_and_set(store: Arc<dyn Store>) {
    let t = create(&*store, "T-1").await;
    let planning = store
        .transition_ticket(&t.id, TicketStatus::Queued, TicketStatus::Planning, None)
        .await
        .unwrap();
    assert_eq!(planning.status, TicketStatus::Planning);
    assert!(planning.updated_at >= t.updated_at);
    assert!(planning.completed_at.is_none());
    assert_eq!(store.get_ticket(&t.id).await.unwrap().unwrap(), planning);

    // A second writer that still believes the ticket is queued loses.
    let err = expect_err(
        store
            .transition_ticket(&t.id, TicketStatus::Queued, TicketStatus::Planning, None)
            .await,
        "conflict",
    );
    match err {
        StoreError::Conflict {
            entity,
            current,
            expected,
            ..
        } => {
            assert_eq!(entity, "ticket");
            assert_eq!(current, "planning");
            assert_eq!(expected, "queued");
        }
        other => panic!("expected conflict, got {other:?}"),
    }

    // Not an edge.
    let err = expect_err(
        store
            .transition_ticket(&t.id, TicketStatus::Planning, TicketStatus::Merged, None)
            .await,
        "invalid transition",
    );
    match err {
        StoreError::InvalidTransition { from, to, .. } => {
            assert_eq!((from.as_str(), to.as_str()), ("planning", "merged"));
        }
        other => panic!("expected invalid transition, got {other:?}"),
    }
    assert_eq!(
        store.get_ticket(&t.id).await.unwrap().unwrap().status,
        TicketStatus::Planning
    );

    let err = expect_err(
        store
            .transition_ticket(
                &TicketId::new(),
                TicketStatus::Queued,
                TicketStatus::Planning,
                None,
            )
            .await,
        "not found",
    );
    assert_eq!(err.code(), "not_found");

    let failed = store
        .transition_ticket(&t.id, TicketStatus::Planning, TicketStatus::Failed, None)
        .await
        .unwrap();
    assert!(failed.completed_at.is_some());
    let m = create(&*store, "T-2").await;
    let merged = force_status(&*store, &m.id, TicketStatus::Merged).await;
    assert!(merged.completed_at.is_some());
    let err = expect_err(
        store
            .transition_ticket(&m.id, TicketStatus::Merged, TicketStatus::Queued, None)
            .await,
        "merged is final",
    );
    assert_eq!(err.code(), "invalid_transition");
}

/// `failed -> queued` (retry) is allowed and clears `completed_at`.
pub async fn retry_reopens_a_terminal_ticket(store: Arc<dyn Store>) {
    let t = create(&*store, "R-1").await;
    let failed = force_status(&*store, &t.id, TicketStatus::Failed).await;
    assert!(failed.completed_at.is_some());
    let queued = store
        .transition_ticket(&t.id, TicketStatus::Failed, TicketStatus::Queued, None)
        .await
        .unwrap();
    assert_eq!(queued.status, TicketStatus::Queued);
    assert!(queued.completed_at.is_none());
    let blocked = force_status(&*store, &t.id, TicketStatus::Blocked).await;
    assert!(blocked.completed_at.is_some());
}

/// A patch changes only the fields it names, and bumps `updated_at`.
pub async fn update_applies_a_patch(store: Arc<dyn Store>) {
    let t = create(&*store, "U-1").await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let started = foreman_domain::now();
    let u = store
        .update_ticket(
            &t.id,
            TicketPatch {
                title: Some("new title".into()),
                priority: Some(3),
                labels: Some(vec!["x".into()]),
                branch_name: Some("foreman/u-1".into()),
                pr_url: Some("https://example.invalid/pr/9".into()),
                pr_number: Some(Some(9)),
                is_partial: Some(true),
                last_completed_task_seq: Some(2),
                last_error: Some(Some("boom".into())),
                last_error_type: Some(Some("test".into())),
                started_at: Some(Some(started)),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(u.title, "new title");
    assert_eq!(u.description, t.description);
    assert_eq!(u.priority, 3);
    assert_eq!(u.labels, ["x"]);
    assert_eq!(u.branch_name, "foreman/u-1");
    assert_eq!(u.pr_url, "https://example.invalid/pr/9");
    assert_eq!(u.pr_number, Some(9));
    assert!(u.is_partial);
    assert_eq!(u.last_completed_task_seq, 2);
    assert_eq!(u.last_error.as_deref(), Some("boom"));
    assert_eq!(u.last_error_type.as_deref(), Some("test"));
    assert_eq!(u.started_at, Some(started));
    assert!(u.updated_at > t.updated_at);
    assert_eq!(u.status, t.status);
    assert_eq!(store.get_ticket(&t.id).await.unwrap().unwrap(), u);

    let cleared = store
        .update_ticket(
            &t.id,
            TicketPatch {
                pr_number: Some(None),
                last_error: Some(None),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(cleared.pr_number, None);
    assert_eq!(cleared.last_error, None);
    assert_eq!(cleared.last_error_type.as_deref(), Some("test"));

    let err = expect_err(
        store
            .update_ticket(&TicketId::new(), TicketPatch::default(), None)
            .await,
        "not found",
    );
    assert_eq!(err.code(), "not_found");
}

/// Writes presenting an old fencing token are refused everywhere a fence is accepted.
pub async fn fenced_writes_reject_stale_tokens(store: Arc<dyn Store>) {
    let t = create(&*store, "F-1").await;
    let req = ClaimRequest {
        worker_id: "w1".into(),
        lease: std::time::Duration::from_secs(60),
        statuses: vec![TicketStatus::Queued],
        project: None,
    };
    let claim = store.claim_next(&req).await.unwrap().expect("claimed");
    assert_eq!(claim.fencing_token, FencingToken(1));
    let good = Some(claim.fencing_token);
    let stale = Some(FencingToken(0));

    let tasks = store
        .create_tasks(
            &t.id,
            vec![NewTask {
                sequence: 1,
                title: "one".into(),
                ..Default::default()
            }],
            good,
        )
        .await
        .unwrap();
    let task = &tasks[0];

    let check = |r: Result<(), StoreError>, what: &str| match r {
        Err(StoreError::StaleFence {
            presented, current, ..
        }) => {
            assert_eq!(presented, FencingToken(0), "{what}");
            assert_eq!(current, FencingToken(1), "{what}");
        }
        other => panic!("{what}: expected stale fence, got {other:?}"),
    };
    check(
        store
            .transition_ticket(&t.id, TicketStatus::Queued, TicketStatus::Planning, stale)
            .await
            .map(drop),
        "transition_ticket",
    );
    check(
        store
            .update_ticket(&t.id, TicketPatch::default(), stale)
            .await
            .map(drop),
        "update_ticket",
    );
    check(
        store
            .create_tasks(
                &t.id,
                vec![NewTask {
                    sequence: 2,
                    ..Default::default()
                }],
                stale,
            )
            .await
            .map(drop),
        "create_tasks",
    );
    check(
        store
            .transition_task(
                &task.id,
                TaskStatus::Pending,
                TaskStatus::Implementing,
                stale,
            )
            .await
            .map(drop),
        "transition_task",
    );
    check(
        store
            .update_task(&task.id, TaskPatch::default(), stale)
            .await
            .map(drop),
        "update_task",
    );
    // Nothing changed.
    let now = store.get_ticket(&t.id).await.unwrap().unwrap();
    assert_eq!(now.status, TicketStatus::Queued);
    assert_eq!(store.list_tasks(&t.id).await.unwrap().len(), 1);

    // The current token works; no fence at all is also accepted (unleased callers).
    store
        .transition_ticket(&t.id, TicketStatus::Queued, TicketStatus::Planning, good)
        .await
        .unwrap();
    store
        .transition_task(
            &task.id,
            TaskStatus::Pending,
            TaskStatus::Implementing,
            good,
        )
        .await
        .unwrap();
    store
        .update_ticket(&t.id, TicketPatch::default(), None)
        .await
        .unwrap();
}

/// Deleting a ticket removes its tasks, events and reservations, and nothing of other tickets;
/// its LLM calls stay as tombstones the spend still counts; children lose their parent link.
pub async fn delete_cascades(store: Arc<dyn Store>) {
    let doomed = create(&*store, "D-1").await;
    let kept = create(&*store, "D-2").await;
    let mut child = new_ticket("D-3");
    child.parent_id = Some(doomed.id.clone());
    let child = store.create_ticket(child).await.unwrap();
    let mut tasks = Vec::new();
    for t in [&doomed, &kept] {
        let created = store
            .create_tasks(
                &t.id,
                vec![NewTask {
                    sequence: 1,
                    title: "only".into(),
                    ..Default::default()
                }],
                None,
            )
            .await
            .unwrap();
        tasks.push(created[0].clone());
        store
            .append(NewEvent::new(EventType::TicketCreated, "created").ticket(&t.id))
            .await
            .unwrap();
        store
            .record_llm_call(NewLlmCall {
                ticket_id: Some(t.id.clone()),
                task_id: Some(created[0].id.clone()),
                cost: Micros(100),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let held = store
        .reserve(&ReservationRequest {
            ticket_id: Some(doomed.id.clone()),
            task_id: None,
            amount: Micros(1_000),
            limits: BudgetLimits::default(),
            at: foreman_domain::now(),
        })
        .await
        .unwrap();

    assert!(store.delete_ticket(&doomed.id).await.unwrap());
    assert!(!store.delete_ticket(&doomed.id).await.unwrap());
    assert!(store.get_ticket(&doomed.id).await.unwrap().is_none());
    assert!(store.get_task(&tasks[0].id).await.unwrap().is_none());
    assert!(store.list_tasks(&doomed.id).await.unwrap().is_empty());
    assert!(store.list_llm_calls(&doomed.id).await.unwrap().is_empty());
    // its call is a tombstone: kept, still counted in the day's spend
    let recent = store.recent_llm_calls(10).await.unwrap();
    let tomb: Vec<_> = recent
        .iter()
        .filter(|c| c.deleted_ticket_id.as_ref() == Some(&doomed.id))
        .collect();
    assert_eq!(tomb.len(), 1, "{recent:?}");
    assert_eq!((&tomb[0].ticket_id, &tomb[0].task_id), (&None, &None));
    assert_eq!(tomb[0].cost, Micros(100));
    let day = foreman_domain::budget_window::day_window(foreman_domain::now());
    assert_eq!(
        store.spend_between(day.start, day.end).await.unwrap(),
        Micros(200),
        "the deleted ticket's spend still counts"
    );
    let events = store
        .list_events(&EventFilter {
            ticket_id: Some(doomed.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(events.is_empty());
    // The reservation is gone: settling it is NotFound.
    let err = expect_err(
        store.settle(&held.id, NewLlmCall::default()).await,
        "reservation gone",
    );
    assert_eq!(err.code(), "not_found");

    assert!(store.get_ticket(&kept.id).await.unwrap().is_some());
    assert!(store.get_task(&tasks[1].id).await.unwrap().is_some());
    assert_eq!(store.list_llm_calls(&kept.id).await.unwrap().len(), 1);
    assert_eq!(
        store
            .list_events(&EventFilter {
                ticket_id: Some(kept.id.clone()),
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
        1
    );
    let child = store.get_ticket(&child.id).await.unwrap().unwrap();
    assert_eq!(child.parent_id, None);
}

/// Cancelling keeps every cost row: the ticket is `failed` (`cancelled`), its worker is fenced
/// out and its lease and budget reservations are released, its calls and totals stay; a
/// finished or already failed ticket is a `Conflict`; a cancelled ticket can be retried.
pub async fn cancel_keeps_every_cost_row(store: Arc<dyn Store>) {
    let t = create(&*store, "CX-1").await;
    let claim = store
        .claim_next(&ClaimRequest {
            worker_id: "w".into(),
            lease: std::time::Duration::from_secs(600),
            statuses: vec![TicketStatus::Queued],
            project: None,
        })
        .await
        .unwrap()
        .unwrap();
    let fence = Some(claim.fencing_token);
    store
        .transition_ticket(&t.id, TicketStatus::Queued, TicketStatus::Planning, fence)
        .await
        .unwrap();
    store
        .record_llm_call(NewLlmCall {
            ticket_id: Some(t.id.clone()),
            cost: Micros(300),
            ..Default::default()
        })
        .await
        .unwrap();
    let limits = BudgetLimits {
        ticket: Some(Micros(1_000)),
        ..BudgetLimits::default()
    };
    let hold = |amount: i64| super::reservation(&t, None, amount, limits);
    store.reserve(&hold(700)).await.unwrap();
    assert!(
        store.reserve(&hold(1)).await.is_err(),
        "300 spent, 700 held"
    );

    let cancelled = store.cancel_ticket(&t.id).await.unwrap();
    assert_eq!(cancelled.status, TicketStatus::Failed);
    assert_eq!(cancelled.last_error_type.as_deref(), Some("cancelled"));
    assert!(cancelled.completed_at.is_some());
    assert_eq!(cancelled.lease_owner, None);
    assert!(cancelled.fencing_token.0 > claim.fencing_token.0);
    assert_eq!(cancelled.cost, Micros(300));
    assert_eq!(cancelled.total_llm_calls, 1);
    assert_eq!(store.list_llm_calls(&t.id).await.unwrap().len(), 1);
    // the worker is fenced out
    assert_eq!(
        expect_err(
            store
                .update_ticket(&t.id, TicketPatch::default(), fence)
                .await,
            "the cancelled run's write"
        )
        .code(),
        "stale_fence"
    );
    // its hold went with the lease: 700 fits next to the 300 spent
    store.reserve(&hold(700)).await.expect("hold released");
    assert_eq!(
        expect_err(store.cancel_ticket(&t.id).await, "cancel twice").code(),
        "conflict"
    );
    assert_eq!(
        expect_err(store.cancel_ticket(&TicketId::new()).await, "unknown").code(),
        "not_found"
    );
    let again = store.requeue_ticket(&t.id, None).await.unwrap();
    assert_eq!(again.ticket.status, TicketStatus::Queued);
    assert_eq!(again.ticket.cost, Micros(300));
}
