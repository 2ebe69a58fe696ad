//! Audit trail cases: appends chain in order and never fork under concurrency, listing filters
//! and pages newest first, pruning leaves a signed checkpoint the rest of the chain verifies
//! from.

use std::sync::Arc;

use chrono::{Duration, Utc};
use foreman_domain::audit::{
    AuditFilter, AuditKey, AuditOutcome, BrokenLink, ChainCheck, GENESIS_HASH, NewAuditEntry,
};
use foreman_domain::{Store, TokenId};

/// A call by `actor` doing `action` at `at`.
#[must_use]
pub fn audit_entry(actor: &str, action: &str, at: chrono::DateTime<Utc>) -> NewAuditEntry {
    NewAuditEntry {
        at: foreman_domain::micros_to_time(foreman_domain::time_to_micros(at)),
        token_id: Some(TokenId::from(format!("id-{actor}"))),
        actor: Some(actor.to_owned()),
        client_addr: Some("127.0.0.1".into()),
        action: action.to_owned(),
        resource: Some("ticket/1".into()),
        via: "api".into(),
        outcome: AuditOutcome::Ok,
        status: 200,
        request_id: Some(format!("req-{action}")),
    }
}

/// Walks the whole stored chain from the newest checkpoint; `Ok(checked)` or the first break.
///
/// # Panics
/// When the store fails.
pub async fn verify_chain(
    store: &Arc<dyn Store>,
    key: Option<&AuditKey>,
) -> Result<u64, BrokenLink> {
    let cp = store.latest_audit_checkpoint().await.unwrap();
    let mut walk = ChainCheck::start(cp.as_ref(), key)?;
    loop {
        let after = walk.head().seq;
        let page = store.audit_chain(after, 100).await.unwrap();
        if page.is_empty() {
            return Ok(walk.checked());
        }
        for e in &page {
            walk.check(e)?;
        }
    }
}

/// Entries take consecutive `seq`s from 1, each linked to the one before, in the order given.
pub async fn audit_appends_chain_in_order(store: Arc<dyn Store>) {
    let now = Utc::now();
    assert!(store.append_audit(Vec::new()).await.unwrap().is_empty());
    let first = store
        .append_audit(vec![
            audit_entry("ci", "ticket.create", now),
            audit_entry("ci", "ticket.cancel", now),
        ])
        .await
        .unwrap();
    assert_eq!(first[0].seq, 1);
    assert_eq!(first[0].prev_hash, GENESIS_HASH);
    assert_eq!(first[1].seq, 2);
    assert_eq!(first[1].prev_hash, first[0].hash);
    let more = store
        .append_audit(vec![audit_entry("ops", "token.revoke", now)])
        .await
        .unwrap();
    assert_eq!(more[0].seq, 3);
    assert_eq!(more[0].prev_hash, first[1].hash);
    let listed = store.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 2, 1]
    );
    assert_eq!(listed[2], first[0], "stored as returned");
    assert_eq!(verify_chain(&store, None).await, Ok(3));
    let chain = store.audit_chain(1, 1).await.unwrap();
    assert_eq!(chain.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2]);
}

/// Many writers appending at once still make one chain: no `seq` twice, none skipped, every
/// link holding.
pub async fn audit_concurrent_appends_never_fork(store: Arc<dyn Store>) {
    let mut handles = Vec::new();
    for w in 0..12 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..10 {
                let batch = if i % 3 == 0 { 2 } else { 1 };
                let entries = (0..batch)
                    .map(|_| audit_entry(&format!("w{w}"), "daemon.pause", Utc::now()))
                    .collect();
                s.append_audit(entries).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let expected = 12 * (10 + 4);
    assert_eq!(verify_chain(&store, None).await, Ok(expected));
}

/// Filters by actor (name or token id), action (exact or a `.*` family) and time; the cursor
/// pages through every match once, newest first.
pub async fn audit_list_filters_and_pages(store: Arc<dyn Store>) {
    let t0 = foreman_domain::now() - Duration::hours(3);
    let mut news = Vec::new();
    for i in 0..9 {
        let actor = if i % 2 == 0 { "ci" } else { "ops" };
        let action = ["ticket.create", "ticket.cancel", "token.revoke"][i % 3];
        news.push(audit_entry(
            actor,
            action,
            t0 + Duration::minutes(i as i64 * 10),
        ));
    }
    store.append_audit(news).await.unwrap();
    let seqs =
        |v: Vec<foreman_domain::audit::AuditEntry>| v.iter().map(|e| e.seq).collect::<Vec<_>>();
    let by = |f: AuditFilter| {
        let store = store.clone();
        async move { seqs(store.list_audit(&f).await.unwrap()) }
    };
    assert_eq!(
        by(AuditFilter {
            actor: Some("ci".into()),
            ..AuditFilter::default()
        })
        .await,
        vec![9, 7, 5, 3, 1]
    );
    assert_eq!(
        by(AuditFilter {
            actor: Some("id-ops".into()),
            ..AuditFilter::default()
        })
        .await,
        vec![8, 6, 4, 2]
    );
    assert_eq!(
        by(AuditFilter {
            action: Some("ticket.cancel".into()),
            ..AuditFilter::default()
        })
        .await,
        vec![8, 5, 2]
    );
    assert_eq!(
        by(AuditFilter {
            action: Some("ticket.*".into()),
            ..AuditFilter::default()
        })
        .await,
        vec![8, 7, 5, 4, 2, 1]
    );
    assert!(
        by(AuditFilter {
            action: Some("ticket".into()),
            ..AuditFilter::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        by(AuditFilter {
            from: Some(t0 + Duration::minutes(20)),
            to: Some(t0 + Duration::minutes(50)),
            ..AuditFilter::default()
        })
        .await,
        vec![5, 4, 3]
    );
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = by(AuditFilter {
            before_seq: cursor,
            limit: 4,
            ..AuditFilter::default()
        })
        .await;
        assert!(page.len() <= 4);
        let Some(last) = page.last().copied() else {
            break;
        };
        seen.extend(page);
        cursor = Some(last);
    }
    assert_eq!(seen, (1..=9).rev().collect::<Vec<_>>());
}

/// Pruning removes the entries older than the cut (never the newest), writes a checkpoint
/// signed with the key over the last one removed, and the rest verifies from it; appends go on
/// after it, also when every entry but the head went.
pub async fn audit_prune_leaves_a_signed_checkpoint(store: Arc<dyn Store>) {
    let key = AuditKey::generate();
    let old = Utc::now() - Duration::days(500);
    let now = Utc::now();
    assert_eq!(store.prune_audit(now, &key).await.unwrap(), None, "empty");
    store
        .append_audit(
            (0..5)
                .map(|i| audit_entry("ci", "ticket.create", old + Duration::minutes(i)))
                .collect(),
        )
        .await
        .unwrap();
    store
        .append_audit(vec![
            audit_entry("ci", "ticket.cancel", now),
            audit_entry("ci", "ticket.retry", now),
        ])
        .await
        .unwrap();
    let cut = now - Duration::days(400);
    let cp = store.prune_audit(cut, &key).await.unwrap().expect("pruned");
    assert_eq!(cp.seq, 5);
    assert!(cp.signature_valid(&key));
    assert_eq!(
        store.latest_audit_checkpoint().await.unwrap(),
        Some(cp.clone())
    );
    let left = store.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![7, 6]);
    assert_eq!(left[1].prev_hash, cp.hash);
    assert_eq!(verify_chain(&store, Some(&key)).await, Ok(2));
    assert_eq!(
        store.prune_audit(cut, &key).await.unwrap(),
        None,
        "nothing older left"
    );

    // a cut after everything keeps the newest entry as the head
    let cp2 = store
        .prune_audit(now + Duration::days(1), &key)
        .await
        .unwrap()
        .expect("pruned again");
    assert_eq!(cp2.seq, 6);
    assert_eq!(verify_chain(&store, Some(&key)).await, Ok(1));
    let next = store
        .append_audit(vec![audit_entry("ci", "daemon.pause", Utc::now())])
        .await
        .unwrap();
    assert_eq!(next[0].seq, 8);
    assert_eq!(verify_chain(&store, Some(&key)).await, Ok(2));

    // verification needs the key that signed the checkpoint
    let other = AuditKey::generate();
    assert_eq!(verify_chain(&store, Some(&other)).await.unwrap_err().seq, 6);
    assert!(
        store
            .prune_audit(now + Duration::days(2), &other)
            .await
            .is_err()
    );
}
