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
/// result; fail counts attempts and gives up on request.
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

    store
        .fail_outbox(&comment.key, "tracker timed out", false)
        .await
        .unwrap();
    let retrying = store.get_outbox(&comment.key).await.unwrap().unwrap();
    assert_eq!(retrying.state, "pending");
    assert_eq!(retrying.attempts, 1);
    store
        .fail_outbox(&comment.key, "tracker said 403", true)
        .await
        .unwrap();
    let failed = store.get_outbox(&comment.key).await.unwrap().unwrap();
    assert_eq!(failed.state, "failed");
    assert_eq!(failed.attempts, 2);
    assert_eq!(
        failed.result,
        Some(serde_json::json!({"error": "tracker said 403"}))
    );
    assert_eq!(
        expect_err(
            store.fail_outbox(&comment.key, "again", false).await,
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
        expect_err(store.fail_outbox("missing", "x", true).await, "unknown key").code(),
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
