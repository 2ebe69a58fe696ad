//! File reservation cases: all-or-nothing grants, own paths, projects, release, takeover of
//! holders no longer worked on, and one winner among concurrent reservers.
//!
//! A holder blocks others only while it is worked on (a live lease in a working status), so
//! the tickets here are made the way the daemon makes them: claimed and moved to
//! `implementing` under the claim's fencing token (the `working` helper).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use foreman_domain::{
    ClaimRequest, FencingToken, FileReservationOutcome, Store, Ticket, TicketId, TicketStatus,
};

use super::{expect_err, new_ticket};

const LONG: Duration = Duration::from_secs(600);

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| (*p).to_owned()).collect()
}

/// A ticket being worked on: created in `project`, claimed by its own worker for `lease`, and
/// moved to `implementing` under the claim.
///
/// The claim asks for `queued` tickets of `project` only, and every ticket these cases create
/// leaves `queued` right after its claim, so the ticket just created is the only one the claim
/// can return; the assertion keeps that honest.
async fn working(store: &dyn Store, project: &str, ext: &str, lease: Duration) -> Working {
    let mut new = new_ticket(ext);
    new.project = project.to_owned();
    let created = store.create_ticket(new).await.unwrap();
    let worker = format!("node-{ext}");
    let claim = store
        .claim_next(&ClaimRequest {
            worker_id: worker.clone(),
            lease,
            statuses: vec![TicketStatus::Queued],
            project: Some(project.to_owned()),
        })
        .await
        .unwrap()
        .expect("the new ticket is claimable");
    assert_eq!(
        claim.ticket.id, created.id,
        "claimed the ticket just created"
    );
    let mut ticket = claim.ticket;
    for next in [
        TicketStatus::Planning,
        TicketStatus::PlanValidating,
        TicketStatus::Implementing,
    ] {
        ticket = store
            .transition_ticket(&ticket.id, ticket.status, next, Some(claim.fencing_token))
            .await
            .unwrap();
    }
    Working {
        ticket,
        worker,
        fence: claim.fencing_token,
    }
}

struct Working {
    ticket: Ticket,
    worker: String,
    fence: FencingToken,
}

impl Working {
    fn id(&self) -> &TicketId {
        &self.ticket.id
    }

    fn project(&self) -> &str {
        &self.ticket.project
    }
}

async fn reserve(store: &dyn Store, who: &Working, paths: &[&str]) -> FileReservationOutcome {
    store
        .try_reserve(who.project(), who.id(), &set(paths))
        .await
        .unwrap()
}

fn held(path: &str, holder: &Working) -> FileReservationOutcome {
    FileReservationOutcome::Held {
        path: path.to_owned(),
        holder: holder.id().clone(),
    }
}

/// `(path, holder)` of every reservation in `project`, by path.
async fn holders(store: &dyn Store, project: &str) -> Vec<(String, TicketId)> {
    store
        .list_reservations(Some(project))
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!(r.project, project);
            (r.path, r.ticket_id)
        })
        .collect()
}

fn rows(pairs: &[(&str, &Working)]) -> Vec<(String, TicketId)> {
    pairs
        .iter()
        .map(|(p, w)| ((*p).to_owned(), w.id().clone()))
        .collect()
}

/// A grant reserves every path (normalised); a request overlapping another ticket's paths is
/// refused as a whole, naming the first such path and its holder, and reserves nothing.
pub async fn reservations_are_all_or_nothing(store: Arc<dyn Store>) {
    let a = working(&*store, "aon", "AON-1", LONG).await;
    let b = working(&*store, "aon", "AON-2", LONG).await;
    let c = working(&*store, "aon", "AON-3", LONG).await;
    assert_eq!(
        reserve(&*store, &a, &["./calc.py", " tests/t.py "]).await,
        FileReservationOutcome::Granted
    );
    assert_eq!(
        holders(&*store, "aon").await,
        rows(&[("calc.py", &a), ("tests/t.py", &a)])
    );
    let before = store.list_reservations(Some("aon")).await.unwrap();

    assert_eq!(
        reserve(&*store, &b, &["x.py", "tests/t.py", "./calc.py"]).await,
        held("calc.py", &a)
    );
    assert_eq!(
        store.list_reservations(Some("aon")).await.unwrap(),
        before,
        "a refusal reserves nothing"
    );
    // b holds nothing after the refusal: x.py is free for c.
    assert_eq!(
        reserve(&*store, &c, &["x.py"]).await,
        FileReservationOutcome::Granted
    );
    assert_eq!(reserve(&*store, &b, &["x.py"]).await, held("x.py", &c));
    // Nothing to reserve is always granted.
    assert_eq!(
        reserve(&*store, &b, &[]).await,
        FileReservationOutcome::Granted
    );
    assert_eq!(
        holders(&*store, "aon").await,
        rows(&[("calc.py", &a), ("tests/t.py", &a), ("x.py", &c)])
    );
}

/// A holder may reserve its paths again, alone or with new ones; what it held keeps its time.
pub async fn holders_reserve_their_own_paths_again(store: Arc<dyn Store>) {
    let a = working(&*store, "own", "OWN-1", LONG).await;
    assert_eq!(
        reserve(&*store, &a, &["calc.py"]).await,
        FileReservationOutcome::Granted
    );
    let first = store.list_reservations(Some("own")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        reserve(&*store, &a, &["calc.py", "./calc.py", "new.py"]).await,
        FileReservationOutcome::Granted
    );
    assert_eq!(
        reserve(&*store, &a, &["calc.py"]).await,
        FileReservationOutcome::Granted
    );
    let again = store.list_reservations(Some("own")).await.unwrap();
    assert_eq!(
        again
            .iter()
            .map(|r| (r.path.clone(), r.ticket_id.clone()))
            .collect::<Vec<_>>(),
        rows(&[("calc.py", &a), ("new.py", &a)])
    );
    assert_eq!(again[0], first[0], "calc.py is unchanged");
}

/// The same path in another project is another file; listing filters by project; a ticket
/// reserves only in its own project, and an unknown ticket is `NotFound`.
pub async fn projects_are_independent(store: Arc<dyn Store>) {
    let a = working(&*store, "proj-a", "PA-1", LONG).await;
    let b = working(&*store, "proj-b", "PB-1", LONG).await;
    assert_eq!(
        reserve(&*store, &a, &["calc.py"]).await,
        FileReservationOutcome::Granted
    );
    assert_eq!(
        reserve(&*store, &b, &["calc.py"]).await,
        FileReservationOutcome::Granted
    );
    assert_eq!(holders(&*store, "proj-a").await, rows(&[("calc.py", &a)]));
    assert_eq!(holders(&*store, "proj-b").await, rows(&[("calc.py", &b)]));
    let everything: Vec<(String, String, TicketId)> = store
        .list_reservations(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.project, r.path, r.ticket_id))
        .collect();
    assert_eq!(
        everything,
        [
            ("proj-a".to_owned(), "calc.py".to_owned(), a.id().clone()),
            ("proj-b".to_owned(), "calc.py".to_owned(), b.id().clone()),
        ]
    );
    assert!(holders(&*store, "proj-c").await.is_empty());

    let err = expect_err(
        store
            .try_reserve("proj-b", a.id(), &set(&["other.py"]))
            .await,
        "reserving in another ticket's project",
    );
    assert_eq!(err.code(), "invalid", "{err:?}");
    let err = expect_err(
        store
            .try_reserve("proj-a", &TicketId::new(), &set(&["x.py"]))
            .await,
        "unknown ticket",
    );
    assert_eq!(err.code(), "not_found", "{err:?}");
    assert_eq!(holders(&*store, "proj-b").await, rows(&[("calc.py", &b)]));
}

/// Releasing frees every path of the ticket (and only its own) for others; releasing again
/// frees nothing; deleting a ticket drops its reservations.
pub async fn release_frees_the_paths(store: Arc<dyn Store>) {
    let a = working(&*store, "rel", "REL-1", LONG).await;
    let b = working(&*store, "rel", "REL-2", LONG).await;
    let c = working(&*store, "rel", "REL-3", LONG).await;
    reserve(&*store, &a, &["calc.py", "x.py"]).await;
    reserve(&*store, &c, &["y.py"]).await;
    assert_eq!(reserve(&*store, &b, &["x.py"]).await, held("x.py", &a));
    assert_eq!(store.release_files(a.id()).await.unwrap(), 2);
    assert_eq!(store.release_files(a.id()).await.unwrap(), 0);
    assert_eq!(holders(&*store, "rel").await, rows(&[("y.py", &c)]));
    assert_eq!(
        reserve(&*store, &b, &["x.py", "calc.py"]).await,
        FileReservationOutcome::Granted
    );
    assert_eq!(
        holders(&*store, "rel").await,
        rows(&[("calc.py", &b), ("x.py", &b), ("y.py", &c)])
    );
    assert!(store.delete_ticket(b.id()).await.unwrap());
    assert_eq!(holders(&*store, "rel").await, rows(&[("y.py", &c)]));
}

/// A holder whose lease expired or was released, or that left the working statuses (failed,
/// waiting for its merge), blocks nothing: its paths go to the next ticket that asks, which
/// then blocks the old holder in turn.
pub async fn holders_no_longer_worked_on_are_taken_over(store: Arc<dyn Store>) {
    let p = "takeover";
    let live = working(&*store, p, "TO-0", LONG).await;
    reserve(&*store, &live, &["live.py"]).await;

    // Expired: its node stopped renewing (a crash).
    let expired = working(&*store, p, "TO-1", Duration::from_millis(1)).await;
    reserve(&*store, &expired, &["a.py", "b.py"]).await;
    // Released: its run ended without releasing the files.
    let released = working(&*store, p, "TO-2", LONG).await;
    reserve(&*store, &released, &["c.py"]).await;
    store
        .release_lease(released.id(), &released.worker, released.fence)
        .await
        .unwrap();
    // Terminal, lease still held.
    let failed = working(&*store, p, "TO-3", LONG).await;
    reserve(&*store, &failed, &["d.py"]).await;
    store
        .transition_ticket(
            failed.id(),
            TicketStatus::Implementing,
            TicketStatus::Failed,
            Some(failed.fence),
        )
        .await
        .unwrap();
    // Waiting for its merge, lease still held.
    let waiting = working(&*store, p, "TO-4", LONG).await;
    reserve(&*store, &waiting, &["e.py"]).await;
    let mut status = TicketStatus::Implementing;
    for next in [
        TicketStatus::Reviewing,
        TicketStatus::PrCreated,
        TicketStatus::AwaitingMerge,
    ] {
        store
            .transition_ticket(waiting.id(), status, next, Some(waiting.fence))
            .await
            .unwrap();
        status = next;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;

    let next = working(&*store, p, "TO-5", LONG).await;
    // A live holder still blocks, and the refusal takes nothing over.
    assert_eq!(
        reserve(&*store, &next, &["a.py", "live.py"]).await,
        held("live.py", &live)
    );
    assert_eq!(
        holders(&*store, p).await,
        rows(&[
            ("a.py", &expired),
            ("b.py", &expired),
            ("c.py", &released),
            ("d.py", &failed),
            ("e.py", &waiting),
            ("live.py", &live),
        ])
    );
    assert_eq!(
        reserve(&*store, &next, &["a.py", "c.py", "d.py", "e.py", "f.py"]).await,
        FileReservationOutcome::Granted
    );
    assert_eq!(
        holders(&*store, p).await,
        rows(&[
            ("a.py", &next),
            ("b.py", &expired),
            ("c.py", &next),
            ("d.py", &next),
            ("e.py", &next),
            ("f.py", &next),
            ("live.py", &live),
        ])
    );
    // An old holder, claimed again, now waits for the new one.
    let reclaimed = store
        .claim_next(&ClaimRequest {
            worker_id: "node-again".into(),
            lease: LONG,
            statuses: vec![TicketStatus::Implementing],
            project: Some(p.to_owned()),
        })
        .await
        .unwrap()
        .expect("the expired ticket is claimable again");
    assert!(
        [expired.id(), released.id()].contains(&&reclaimed.ticket.id),
        "claimed {}",
        reclaimed.ticket.id
    );
    let old = Working {
        ticket: reclaimed.ticket,
        worker: "node-again".into(),
        fence: reclaimed.fencing_token,
    };
    assert_eq!(
        reserve(&*store, &old, &["b.py", "c.py"]).await,
        held("c.py", &next)
    );
    // Once the new holder lets go, the old one gets the paths back.
    assert_eq!(
        store.release_files(next.id()).await.unwrap(),
        5,
        "the new holder releases everything it took over"
    );
    assert_eq!(
        reserve(&*store, &old, &["b.py", "c.py"]).await,
        FileReservationOutcome::Granted
    );
}

/// Eight tickets being worked on ask for one path at the same moment, first while it is free,
/// then while a holder no longer worked on has it: each time exactly one is granted, the others
/// are told it holds the path, and none of the losers' other paths is reserved.
pub async fn concurrent_reservers_of_one_path_get_it_once(store: Arc<dyn Store>) {
    let p = "race";
    for round in 0..6 {
        let shared = format!("r{round}/shared.py");
        if round % 2 == 1 {
            let gone = working(&*store, p, &format!("RACE-{round}-gone"), LONG).await;
            reserve(&*store, &gone, &[&shared]).await;
            store
                .release_lease(gone.id(), &gone.worker, gone.fence)
                .await
                .unwrap();
        }
        let mut racers = Vec::new();
        for i in 0..8 {
            racers.push(working(&*store, p, &format!("RACE-{round}-{i}"), LONG).await);
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(racers.len()));
        let mut handles = Vec::new();
        for (i, racer) in racers.iter().enumerate() {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            let id = racer.id().clone();
            let files = set(&[&shared, &format!("r{round}/own-{i}.py")]);
            handles.push(tokio::spawn(async move {
                barrier.wait().await;
                let outcome = store
                    .try_reserve(p, &id, &files)
                    .await
                    .expect("try_reserve");
                (id, outcome)
            }));
        }
        let mut outcomes = Vec::new();
        for h in handles {
            outcomes.push(h.await.expect("reserver"));
        }
        let winners: Vec<&TicketId> = outcomes
            .iter()
            .filter(|(_, o)| *o == FileReservationOutcome::Granted)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        let winner = winners[0].clone();
        for (id, outcome) in &outcomes {
            if *id != winner {
                assert_eq!(
                    *outcome,
                    FileReservationOutcome::Held {
                        path: shared.clone(),
                        holder: winner.clone(),
                    },
                    "round {round}"
                );
            }
        }
        let i = racers
            .iter()
            .position(|r| *r.id() == winner)
            .expect("the winner is a racer");
        let mut expected = vec![
            (format!("r{round}/own-{i}.py"), winner.clone()),
            (shared.clone(), winner.clone()),
        ];
        expected.sort();
        let mut got: Vec<(String, TicketId)> = holders(&*store, p)
            .await
            .into_iter()
            .filter(|(path, _)| path.starts_with(&format!("r{round}/")))
            .collect();
        got.sort();
        assert_eq!(got, expected, "round {round}");
    }
}
