//! Lease cases: claim order, filters, expiry, renew and release, and exactly-once claiming
//! under concurrency.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use foreman_domain::{
    BudgetLimits, ClaimRequest, FencingToken, Micros, NewLlmCall, Store, StoreError, TicketId,
    TicketPatch, TicketStatus,
};

use super::tickets::{create, force_status};
use super::{expect_err, new_ticket};

fn req(worker: &str, lease: Duration) -> ClaimRequest {
    ClaimRequest {
        worker_id: worker.into(),
        lease,
        statuses: vec![TicketStatus::Queued],
        project: None,
    }
}

const LONG: Duration = Duration::from_secs(600);

/// Higher priority first, then oldest; each claim bumps the fencing token and sets the lease.
pub async fn claim_orders_by_priority_then_age(store: Arc<dyn Store>) {
    let mut made = Vec::new();
    for (ext, prio) in [("P-1", 0), ("P-2", 5), ("P-3", 0), ("P-4", 5), ("P-5", -1)] {
        let mut n = new_ticket(ext);
        n.priority = prio;
        made.push(store.create_ticket(n).await.unwrap());
    }
    let mut order = Vec::new();
    while let Some(claim) = store.claim_next(&req("w", LONG)).await.unwrap() {
        assert_eq!(claim.fencing_token, FencingToken(1));
        assert_eq!(claim.ticket.fencing_token, claim.fencing_token);
        assert_eq!(claim.ticket.lease_owner.as_deref(), Some("w"));
        assert_eq!(claim.ticket.lease_expires_at, Some(claim.expires_at));
        assert!(claim.expires_at > foreman_domain::now() + chrono::Duration::seconds(500));
        let stored = store.get_ticket(&claim.ticket.id).await.unwrap().unwrap();
        assert_eq!(stored, claim.ticket);
        order.push(claim.ticket.external_id);
    }
    assert_eq!(order, ["P-2", "P-4", "P-1", "P-3", "P-5"]);
    // Claiming leaves the status alone.
    for t in made {
        let t = store.get_ticket(&t.id).await.unwrap().unwrap();
        assert_eq!(t.status, TicketStatus::Queued);
    }
}

/// Only the requested statuses and project are claimable; an empty status list is refused.
pub async fn claim_respects_statuses_and_project(store: Arc<dyn Store>) {
    let a = create(&*store, "Q-1").await;
    let mut web = new_ticket("Q-2");
    web.project = "web".into();
    let w = store.create_ticket(web).await.unwrap();
    force_status(&*store, &a.id, TicketStatus::Failed).await;

    assert!(
        store
            .claim_next(&req("w", LONG))
            .await
            .unwrap()
            .is_some_and(|c| c.ticket.id == w.id)
    );
    let mut r = req("w", LONG);
    r.statuses = vec![TicketStatus::Queued, TicketStatus::Implementing];
    assert!(
        store.claim_next(&r).await.unwrap().is_none(),
        "failed is not claimable"
    );

    let b = create(&*store, "Q-3").await;
    let mut only_web = req("w", LONG);
    only_web.project = Some("web".into());
    assert!(store.claim_next(&only_web).await.unwrap().is_none());
    only_web.project = Some("default".into());
    let c = store
        .claim_next(&only_web)
        .await
        .unwrap()
        .expect("default project ticket");
    assert_eq!(c.ticket.id, b.id);

    let mut empty = req("w", LONG);
    empty.statuses.clear();
    let err = expect_err(store.claim_next(&empty).await, "empty statuses");
    assert_eq!(err.code(), "invalid");
    let err = expect_err(store.claim_next(&req("", LONG)).await, "empty worker");
    assert_eq!(err.code(), "invalid");
}

/// A held lease is not claimable by anyone, the holder included, until released.
pub async fn claim_skips_held_leases(store: Arc<dyn Store>) {
    let t = create(&*store, "H-1").await;
    let first = store
        .claim_next(&req("w1", LONG))
        .await
        .unwrap()
        .expect("claim");
    assert!(store.claim_next(&req("w2", LONG)).await.unwrap().is_none());
    assert!(store.claim_next(&req("w1", LONG)).await.unwrap().is_none());
    store
        .release_lease(&t.id, "w1", first.fencing_token)
        .await
        .unwrap();
    let released = store.get_ticket(&t.id).await.unwrap().unwrap();
    assert!(released.lease_owner.is_none() && released.lease_expires_at.is_none());
    assert_eq!(
        released.fencing_token, first.fencing_token,
        "release keeps the token"
    );
    let second = store
        .claim_next(&req("w2", LONG))
        .await
        .unwrap()
        .expect("reclaim");
    assert_eq!(second.fencing_token, FencingToken(2));
    assert_eq!(second.ticket.lease_owner.as_deref(), Some("w2"));
}

/// An expired lease is claimable again (also in active statuses); the old holder then can
/// neither renew nor write.
pub async fn expired_leases_are_reclaimable(store: Arc<dyn Store>) {
    let t = create(&*store, "E-1").await;
    let mut r1 = req("w1", Duration::from_millis(1));
    r1.statuses = vec![TicketStatus::Queued, TicketStatus::Planning];
    let first = store.claim_next(&r1).await.unwrap().expect("claim");
    store
        .transition_ticket(
            &t.id,
            TicketStatus::Queued,
            TicketStatus::Planning,
            Some(first.fencing_token),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;

    let mut r2 = req("w2", LONG);
    r2.statuses = vec![TicketStatus::Planning];
    let second = store
        .claim_next(&r2)
        .await
        .unwrap()
        .expect("expired lease reclaimed");
    assert_eq!(second.ticket.id, t.id);
    assert_eq!(second.fencing_token, FencingToken(2));
    assert_eq!(second.ticket.status, TicketStatus::Planning);

    let err = expect_err(
        store
            .renew_lease(&t.id, "w1", first.fencing_token, LONG)
            .await,
        "renew after losing the lease",
    );
    assert!(
        matches!(err, StoreError::LeaseNotHeld { ref worker_id, .. } if worker_id == "w1"),
        "{err:?}"
    );
    let err = expect_err(
        store
            .update_ticket(&t.id, TicketPatch::default(), Some(first.fencing_token))
            .await,
        "stale write",
    );
    assert_eq!(err.code(), "stale_fence");
    // The new holder is unaffected.
    store
        .renew_lease(&t.id, "w2", second.fencing_token, LONG)
        .await
        .unwrap();
}

/// A lease that ran out cannot be renewed, even when nobody claimed the ticket since: others
/// may already treat its holder as gone (its file reservations are taken over), so the holder
/// must stop. It can still be released, and the ticket claimed afresh.
pub async fn expired_leases_cannot_be_renewed(store: Arc<dyn Store>) {
    let t = create(&*store, "E-2").await;
    let claim = store
        .claim_next(&req("w1", Duration::from_millis(1)))
        .await
        .unwrap()
        .expect("claim");
    assert_eq!(claim.ticket.id, t.id);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let err = expect_err(
        store
            .renew_lease(&t.id, "w1", claim.fencing_token, LONG)
            .await,
        "renew of an expired lease",
    );
    assert!(
        matches!(err, StoreError::LeaseNotHeld { ref worker_id, .. } if worker_id == "w1"),
        "{err:?}"
    );
    store
        .release_lease(&t.id, "w1", claim.fencing_token)
        .await
        .unwrap();
    let again = store
        .claim_next(&req("w2", LONG))
        .await
        .unwrap()
        .expect("claimable again");
    assert_eq!(again.ticket.id, t.id);
    store
        .renew_lease(&t.id, "w2", again.fencing_token, LONG)
        .await
        .unwrap();
}

/// Renew extends the holder's lease; renew or release by anyone else, or with another token,
/// is `LeaseNotHeld`; an unknown ticket is `NotFound`.
pub async fn renew_and_release_need_the_holder(store: Arc<dyn Store>) {
    let t = create(&*store, "W-1").await;
    let claim = store
        .claim_next(&req("w1", Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("claim");
    let renewed = store
        .renew_lease(&t.id, "w1", claim.fencing_token, LONG)
        .await
        .unwrap();
    assert!(renewed > claim.expires_at);
    let stored = store.get_ticket(&t.id).await.unwrap().unwrap();
    assert_eq!(stored.lease_expires_at, Some(renewed));
    assert_eq!(
        stored.fencing_token, claim.fencing_token,
        "renew keeps the token"
    );

    for (worker, token) in [
        ("w2", claim.fencing_token),
        ("w1", FencingToken(claim.fencing_token.0 + 1)),
    ] {
        let err = expect_err(
            store.renew_lease(&t.id, worker, token, LONG).await,
            "renew by non-holder",
        );
        assert_eq!(err.code(), "lease_not_held", "{worker} {token:?}");
        let err = expect_err(
            store.release_lease(&t.id, worker, token).await,
            "release by non-holder",
        );
        assert_eq!(err.code(), "lease_not_held", "{worker} {token:?}");
    }
    store
        .release_lease(&t.id, "w1", claim.fencing_token)
        .await
        .unwrap();
    let err = expect_err(
        store.release_lease(&t.id, "w1", claim.fencing_token).await,
        "double release",
    );
    assert_eq!(err.code(), "lease_not_held");
    let err = expect_err(
        store
            .renew_lease(&TicketId::new(), "w1", claim.fencing_token, LONG)
            .await,
        "unknown ticket",
    );
    assert_eq!(err.code(), "not_found");
}

/// Eight workers claiming from 200 queued tickets without releasing: every ticket is claimed
/// exactly once and every claim carries fencing token 1.
pub async fn concurrent_claims_take_each_ticket_once(store: Arc<dyn Store>) {
    let mut ids = HashSet::new();
    for i in 0..200 {
        ids.insert(create(&*store, &format!("CC-{i:03}")).await.id);
    }
    let mut workers = Vec::new();
    for w in 0..8 {
        let store = Arc::clone(&store);
        workers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(claim) = store
                .claim_next(&req(&format!("worker-{w}"), LONG))
                .await
                .expect("claim_next")
            {
                assert_eq!(claim.fencing_token, FencingToken(1));
                got.push(claim.ticket.id);
                tokio::task::yield_now().await;
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    for w in workers {
        claimed.extend(w.await.expect("worker"));
    }
    assert_eq!(claimed.len(), 200, "each ticket claimed once");
    let unique: HashSet<TicketId> = claimed.into_iter().collect();
    assert_eq!(unique, ids);
}

/// Budget reservations belong to the lease: a takeover releases those of the previous holder
/// (a worker that died during an LLM call), a release those of the holder (a node restarting
/// releases its old leases); settling a released one is `NotFound`, and the call is then
/// recorded on its own.
pub async fn reservations_go_with_the_lease(store: Arc<dyn Store>) {
    let t = create(&*store, "RL-1").await;
    let limits = BudgetLimits {
        ticket: Some(Micros(1_000)),
        ..BudgetLimits::default()
    };
    let hold = |amount: i64| super::reservation(&t, None, amount, limits);
    let first = store
        .claim_next(&req("dead", Duration::from_millis(1)))
        .await
        .unwrap()
        .unwrap();
    let orphan = store.reserve(&hold(1_000)).await.unwrap();
    assert!(store.reserve(&hold(1)).await.is_err(), "all of it held");
    tokio::time::sleep(Duration::from_millis(20)).await;
    // the takeover
    let second = store
        .claim_next(&req("alive", LONG))
        .await
        .unwrap()
        .expect("expired lease taken over");
    assert!(second.fencing_token.0 > first.fencing_token.0);
    let live = store
        .reserve(&hold(1_000))
        .await
        .expect("the dead worker's hold was released");
    // the dead worker comes back and settles: refused, and recorded on its own
    assert_eq!(
        expect_err(
            store.settle(&orphan.id, NewLlmCall::default()).await,
            "released hold"
        )
        .code(),
        "not_found"
    );
    store
        .record_llm_call(NewLlmCall {
            ticket_id: Some(t.id.clone()),
            ..NewLlmCall::default()
        })
        .await
        .unwrap();
    // a release frees the holder's reservations too
    assert!(store.reserve(&hold(1)).await.is_err());
    store
        .release_lease(&t.id, "alive", second.fencing_token)
        .await
        .unwrap();
    store
        .reserve(&hold(1_000))
        .await
        .expect("released with the lease");
    assert_eq!(
        expect_err(
            store.settle(&live.id, NewLlmCall::default()).await,
            "released hold"
        )
        .code(),
        "not_found"
    );
}
