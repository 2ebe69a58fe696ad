//! Token, settings and outbox cases.

use std::sync::Arc;

use chrono::Duration;
use foreman_domain::storage::{DAEMON_STATE_KEY, daemon_state};
use foreman_domain::{DaemonState, NewApiToken, Scope, Store, StoreError, TokenId, hash_token};

use super::expect_err;
use super::tickets::create;

/// Tokens: create, list newest first, find by hash, revoke (idempotent, keeps the first time),
/// touch; a duplicate hash is refused.
pub async fn tokens_lifecycle(store: Arc<dyn Store>) {
    assert!(store.list_tokens().await.unwrap().is_empty());
    let expires = foreman_domain::now() + Duration::days(30);
    let (new_a, secret_a) =
        NewApiToken::generate("ci", vec![Scope::Read, Scope::Write], Some(expires));
    let a = store.create_token(new_a.clone()).await.unwrap();
    assert_eq!(a.name, "ci");
    assert_eq!(a.scopes, [Scope::Read, Scope::Write]);
    assert_eq!(a.token_hash, hash_token(secret_a.expose()));
    assert_eq!(a.prefix, secret_a.display_prefix());
    assert_eq!(a.expires_at, Some(expires));
    assert!(a.last_used_at.is_none() && a.revoked_at.is_none());
    let (new_b, _) = NewApiToken::generate("admin", vec![Scope::Admin], None);
    let b = store.create_token(new_b).await.unwrap();

    let listed = store.list_tokens().await.unwrap();
    assert_eq!(listed, [b.clone(), a.clone()], "newest first");
    let found = store
        .find_token_by_hash(&secret_a.hash())
        .await
        .unwrap()
        .expect("found by hash");
    assert_eq!(found, a);
    assert!(
        store
            .find_token_by_hash(&hash_token("fmn_nope"))
            .await
            .unwrap()
            .is_none()
    );
    let err = expect_err(store.create_token(new_a).await, "duplicate hash");
    assert!(
        matches!(
            err,
            StoreError::Duplicate {
                entity: "token",
                ..
            }
        ),
        "{err:?}"
    );

    let used = foreman_domain::now();
    store.touch_token(&a.id, used).await.unwrap();
    let a2 = store
        .find_token_by_hash(&a.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a2.last_used_at, Some(used));
    assert_eq!(
        expect_err(store.touch_token(&TokenId::new(), used).await, "unknown").code(),
        "not_found"
    );

    assert!(store.revoke_token(&a.id).await.unwrap());
    let revoked = store
        .find_token_by_hash(&a.token_hash)
        .await
        .unwrap()
        .unwrap();
    let first_revocation = revoked.revoked_at.expect("revoked");
    assert!(!revoked.is_usable_at(foreman_domain::now()));
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    assert!(store.revoke_token(&a.id).await.unwrap());
    let again = store
        .find_token_by_hash(&a.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, Some(first_revocation));
    assert!(!store.revoke_token(&TokenId::new()).await.unwrap());
    let b2 = store
        .find_token_by_hash(&b.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert!(b2.revoked_at.is_none(), "other tokens untouched");
    assert_eq!(
        store.list_tokens().await.unwrap().len(),
        2,
        "revoked ones are listed"
    );
}

/// Settings are upserted and read back; the daemon state helper reads them.
pub async fn settings_round_trip(store: Arc<dyn Store>) {
    assert_eq!(store.get_setting("missing").await.unwrap(), None);
    assert_eq!(daemon_state(&*store).await.unwrap(), DaemonState::Running);
    store
        .put_setting(DAEMON_STATE_KEY, DaemonState::Paused.as_str())
        .await
        .unwrap();
    assert_eq!(daemon_state(&*store).await.unwrap(), DaemonState::Paused);
    store
        .put_setting(DAEMON_STATE_KEY, "running")
        .await
        .unwrap();
    assert_eq!(daemon_state(&*store).await.unwrap(), DaemonState::Running);
    store.put_setting("note", "héllo ✓ 'quoted'").await.unwrap();
    assert_eq!(
        store.get_setting("note").await.unwrap().as_deref(),
        Some("héllo ✓ 'quoted'")
    );
    store
        .put_setting(DAEMON_STATE_KEY, "sideways")
        .await
        .unwrap();
    assert_eq!(daemon_state(&*store).await.unwrap_err().code(), "corrupt");
}

/// Outbox: enqueue is idempotent on its key; pending lists oldest first; complete stores the
/// result; a claim counts an attempt; fail schedules the next attempt or gives up.
pub async fn outbox_lifecycle(store: Arc<dyn Store>) {
    let t = create(&*store, "OB-1").await;
    let payload = serde_json::json!({"title": "Add login", "draft": false});
    let pr = store
        .enqueue(
            &format!("pr:{}", t.id),
            Some(&t.id),
            "create_pr",
            payload.clone(),
        )
        .await
        .unwrap();
    assert_eq!(pr.state, "pending");
    assert_eq!(pr.attempts, 0);
    assert_eq!(pr.payload, payload);
    assert_eq!(pr.ticket_id.as_ref(), Some(&t.id));
    assert!(pr.result.is_none());
    let again = store
        .enqueue(
            &pr.key,
            None,
            "something_else",
            serde_json::json!({"ignored": true}),
        )
        .await
        .unwrap();
    assert_eq!(again, pr, "the first entry wins");
    let comment = store
        .enqueue("tracker:1", None, "comment", serde_json::json!("text"))
        .await
        .unwrap();
    let third = store
        .enqueue("tracker:2", None, "comment", serde_json::json!(null))
        .await
        .unwrap();
    assert_eq!(
        store.pending_outbox(10).await.unwrap(),
        [pr.clone(), comment.clone(), third.clone()]
    );
    assert_eq!(store.pending_outbox(1).await.unwrap()[..], [pr.clone()][..]);

    store
        .complete_outbox(
            &pr.key,
            serde_json::json!({"url": "https://example.invalid/pr/1"}),
        )
        .await
        .unwrap();
    let done = store.get_outbox(&pr.key).await.unwrap().unwrap();
    assert_eq!(done.state, "done");
    assert_eq!(
        done.result,
        Some(serde_json::json!({"url": "https://example.invalid/pr/1"}))
    );
    assert!(done.updated_at >= pr.updated_at);

    let now = foreman_domain::now();
    let claimed = store
        .claim_outbox(&comment.key, now, now + Duration::seconds(60))
        .await
        .unwrap()
        .expect("a due entry is claimed");
    assert_eq!(claimed.attempts, 1);
    let retry_at = now + Duration::seconds(30);
    store
        .fail_outbox(&comment.key, "tracker timed out", Some(retry_at))
        .await
        .unwrap();
    let retrying = store.get_outbox(&comment.key).await.unwrap().unwrap();
    assert_eq!(retrying.state, "pending");
    assert_eq!(retrying.attempts, 1);
    assert_eq!(retrying.next_attempt_at, retry_at);
    store
        .fail_outbox(&comment.key, "tracker said 403", None)
        .await
        .unwrap();
    let failed = store.get_outbox(&comment.key).await.unwrap().unwrap();
    assert_eq!(failed.state, "failed");
    assert_eq!(failed.attempts, 1);
    assert_eq!(
        failed.result,
        Some(serde_json::json!({"error": "tracker said 403"}))
    );
    assert_eq!(
        expect_err(
            store.fail_outbox(&comment.key, "again", Some(now)).await,
            "fail after giving up"
        )
        .code(),
        "conflict"
    );
    assert_eq!(store.pending_outbox(10).await.unwrap(), [third]);
    assert!(store.get_outbox("missing").await.unwrap().is_none());
    assert_eq!(
        expect_err(
            store.complete_outbox("missing", serde_json::json!(1)).await,
            "unknown key"
        )
        .code(),
        "not_found"
    );
    assert_eq!(
        expect_err(store.fail_outbox("missing", "x", None).await, "unknown key").code(),
        "not_found"
    );
    assert_eq!(
        expect_err(
            store.enqueue("", None, "x", serde_json::json!(1)).await,
            "empty key"
        )
        .code(),
        "invalid"
    );
}

/// Outbox claims: a due entry is taken once (a second claim before `until` gets nothing), it is
/// not due while held, falls due again at `until` (the performer died), and a backoff
/// (`fail_outbox` with a time) keeps it out of `due_outbox` until then; done and failed entries
/// are never claimed.
pub async fn outbox_claims_take_an_entry_once(store: Arc<dyn Store>) {
    let t = create(&*store, "OB-2").await;
    let key = format!("tracker:{}:comment:pr", t.id);
    let entry = store
        .enqueue(
            &key,
            Some(&t.id),
            "tracker",
            serde_json::json!({"comment": "hi"}),
        )
        .await
        .unwrap();
    let now = entry.next_attempt_at;
    assert_eq!(
        store.due_outbox(now, 10).await.unwrap(),
        std::slice::from_ref(&entry)
    );
    assert!(
        store
            .claim_outbox(&key, now - Duration::seconds(1), now)
            .await
            .unwrap()
            .is_none(),
        "not due before its time"
    );
    let until = now + Duration::seconds(60);
    let held = store.claim_outbox(&key, now, until).await.unwrap().unwrap();
    assert_eq!((held.attempts, held.next_attempt_at), (1, until));
    assert!(
        store
            .claim_outbox(&key, now, until)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.due_outbox(now, 10).await.unwrap().is_empty());
    // the holder died: due again once its hold ends
    assert_eq!(store.due_outbox(until, 10).await.unwrap().len(), 1);
    let again = store
        .claim_outbox(&key, until, until + Duration::seconds(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempts, 2);
    let later = until + Duration::seconds(300);
    store
        .fail_outbox(&key, "tracker answered 503", Some(later))
        .await
        .unwrap();
    assert!(
        store
            .due_outbox(later - Duration::seconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.due_outbox(later, 10).await.unwrap().len(), 1);
    store
        .complete_outbox(&key, serde_json::json!({"posted": true}))
        .await
        .unwrap();
    assert!(
        store
            .claim_outbox(&key, later, later)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.due_outbox(later, 10).await.unwrap().is_empty());
    assert_eq!(
        expect_err(
            store.claim_outbox("missing", now, until).await,
            "unknown key"
        )
        .code(),
        "not_found"
    );
}

/// Eight performers claiming one due entry at once: exactly one gets it.
pub async fn concurrent_outbox_claims_take_effect_once(store: Arc<dyn Store>) {
    let entry = store
        .enqueue("tracker:race:status", None, "tracker", serde_json::json!(1))
        .await
        .unwrap();
    let now = entry.next_attempt_at;
    let mut racers = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        racers.push(tokio::spawn(async move {
            store
                .claim_outbox("tracker:race:status", now, now + Duration::seconds(60))
                .await
        }));
    }
    let mut won = 0;
    for r in racers {
        if r.await.expect("racer").unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "exactly one claim wins");
    let e = store
        .get_outbox("tracker:race:status")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.attempts, 1);
}
