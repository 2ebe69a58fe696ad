//! The audit trail end to end: what mutating calls record (actor, action, resource, outcome,
//! request id), denied and unauthenticated calls, filters and paging, verification after
//! tampering, pruning behind a signed checkpoint and a forged checkpoint; the same on the SQL
//! stores.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{Duration, Utc};
use foreman_domain::audit::{AuditCheckpoint, AuditKey};
use foreman_domain::{NewApiToken, Scope, Store};
use foreman_events::EventHub;
use foreman_store::SqlStore;
use foreman_testkit::MemoryStore;
use foreman_testkit::pg::TestSchema;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// A server with an audit key, over `store`, with an admin token named `ops`.
struct AuditApp {
    addr: SocketAddr,
    store: Arc<dyn Store>,
    token: String,
    token_id: String,
    client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl AuditApp {
    async fn start(store: Arc<dyn Store>, key: AuditKey) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let app = foreman_api::app(
            store.clone(),
            EventHub::default(),
            foreman_api::ApiConfig::default(),
        )
        .with_audit(key, None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = oneshot::channel();
        tokio::spawn(foreman_api::serve(listener, app, async move {
            let _ = rx.await;
        }));
        let (new, secret) = NewApiToken::generate("ops", vec![Scope::Admin], None);
        let stored = store.create_token(new).await.unwrap();
        Self {
            addr,
            store,
            token: secret.expose().to_owned(),
            token_id: stored.id.to_string(),
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn token(&self, name: &str, scopes: Vec<Scope>) -> String {
        let (new, secret) = NewApiToken::generate(name, scopes, None);
        self.store.create_token(new).await.unwrap();
        secret.expose().to_owned()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn entries(&self, query: &str) -> Vec<Value> {
        let (status, page) = self.get(&format!("/api/audit{query}")).await;
        assert_eq!(status, 200, "{page}");
        page["items"].as_array().unwrap().clone()
    }

    async fn verify(&self) -> Value {
        let (status, v) = self.get("/api/audit/verify").await;
        assert_eq!(status, 200, "{v}");
        v
    }
}

fn memory() -> (MemoryStore, Arc<dyn Store>) {
    let m = MemoryStore::new();
    let store: Arc<dyn Store> = Arc::new(m.clone());
    (m, store)
}

#[tokio::test]
async fn ticket_create_cancel_and_token_revoke_each_record_one_entry() {
    let (_, store) = memory();
    let app = AuditApp::start(store, AuditKey::generate()).await;
    let r = app
        .client
        .post(app.url("/api/tickets"))
        .bearer_auth(&app.token)
        .header("x-request-id", "req-create-1")
        .json(&json!({"title": "Add login", "description": "a login form"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-request-id"], "req-create-1");
    let ticket: Value = r.json().await.unwrap();
    let id = ticket["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/tickets/{id}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, created) = app
        .call(
            reqwest::Method::POST,
            "/api/tokens",
            Some(json!({"name": "ci", "scopes": ["read"]})),
        )
        .await;
    assert_eq!(status, 201);
    let tid = created["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .call(reqwest::Method::DELETE, &format!("/api/tokens/{tid}"), None)
        .await;
    assert_eq!(status, 200);
    // reads are not recorded
    app.get("/api/tickets").await;

    let e = app.entries("").await;
    let summary: Vec<(String, String, String, u64)> = e
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["resource"].as_str().unwrap_or("").to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "token.revoke".into(),
                format!("token/{tid}"),
                "ok".into(),
                200
            ),
            (
                "token.create".into(),
                format!("token/{tid}"),
                "ok".into(),
                201
            ),
            (
                "ticket.cancel".into(),
                format!("ticket/{id}"),
                "ok".into(),
                200
            ),
            (
                "ticket.create".into(),
                format!("ticket/{id}"),
                "ok".into(),
                201
            ),
        ]
    );
    for entry in &e {
        assert_eq!(entry["actor"], "ops");
        assert_eq!(entry["token_id"], app.token_id.as_str());
        assert_eq!(entry["client_addr"], "127.0.0.1");
        assert_eq!(entry["via"], "api");
        assert!(entry["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    }
    assert_eq!(e[3]["request_id"], "req-create-1");
    assert!(
        !e[1]
            .to_string()
            .contains(created["token"].as_str().unwrap()),
        "no secret"
    );
    let v = app.verify().await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["checked"], 4);
}

#[tokio::test]
async fn denied_and_unauthenticated_calls_are_recorded() {
    let (_, store) = memory();
    let app = AuditApp::start(store, AuditKey::generate()).await;
    let reader = app.token("viewer", vec![Scope::Read]).await;
    let r = app
        .client
        .post(app.url("/api/daemon/pause"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .client
        .post(app.url("/api/daemon/pause"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(app.url("/api/daemon/pause"))
        .bearer_auth("fm_not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // the audit routes are for admins
    let r = app
        .client
        .get(app.url("/api/audit"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let e = app.entries("").await;
    assert_eq!(e.len(), 3, "{e:?}");
    assert_eq!(e[2]["action"], "daemon.pause");
    assert_eq!(e[2]["actor"], "viewer");
    assert_eq!(e[2]["outcome"], "denied");
    assert_eq!(e[2]["status"], 403);
    for unknown in &e[..2] {
        assert_eq!(unknown["actor"], Value::Null);
        assert_eq!(unknown["token_id"], Value::Null);
        assert_eq!(unknown["outcome"], "denied");
        assert_eq!(unknown["status"], 401);
    }
}

#[tokio::test]
async fn filters_and_cursor_pages() {
    let (_, store) = memory();
    let app = AuditApp::start(store, AuditKey::generate()).await;
    let writer = app.token("bot", vec![Scope::Write]).await;
    for _ in 0..3 {
        app.call(reqwest::Method::POST, "/api/daemon/pause", None)
            .await;
        app.call(reqwest::Method::POST, "/api/daemon/resume", None)
            .await;
    }
    let r = app
        .client
        .post(app.url("/api/daemon/pause"))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    assert_eq!(app.entries("?actor=bot").await.len(), 1);
    assert_eq!(
        app.entries(&format!("?actor={}", app.token_id)).await.len(),
        6
    );
    assert_eq!(app.entries("?action=daemon.resume").await.len(), 3);
    assert_eq!(app.entries("?action=daemon.*").await.len(), 7);
    assert_eq!(app.entries("?action=ticket.*").await.len(), 0);
    let later = (Utc::now() + Duration::hours(1)).to_rfc3339();
    assert_eq!(
        app.entries(&format!("?from={}", urlencode(&later)))
            .await
            .len(),
        0
    );
    assert_eq!(
        app.entries(&format!("?to={}", urlencode(&later)))
            .await
            .len(),
        7
    );

    let mut seqs = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app
            .get(&format!("/api/audit?limit=3&cursor={cursor}"))
            .await;
        assert_eq!(status, 200);
        for e in page["items"].as_array().unwrap() {
            seqs.push(e["seq"].as_u64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seqs, (1..=7).rev().collect::<Vec<u64>>());
    let (status, body) = app.get("/api/audit?cursor=nope").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app.get("/api/audit?limit=0").await;
    assert_eq!(status, 400);
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn verify_names_the_first_tampered_entry() {
    let (memory, store) = memory();
    let app = AuditApp::start(store, AuditKey::generate()).await;
    for _ in 0..4 {
        app.call(reqwest::Method::POST, "/api/daemon/pause", None)
            .await;
    }
    let v = app.verify().await;
    assert_eq!(v["ok"], true, "control: {v}");
    assert_eq!(v["checked"], 4);
    assert_eq!(v["first_broken"], Value::Null);

    assert!(memory.tamper_audit_entry(2, |e| e.actor = Some("someone-else".into())));
    let v = app.verify().await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["checked"], 1);
    assert_eq!(
        v["first_broken"],
        json!({"seq": 2, "reason": "hash_mismatch"})
    );
}

#[tokio::test]
async fn pruning_keeps_verification_and_a_forged_checkpoint_fails_it() {
    let (memory, store) = memory();
    let key = AuditKey::generate();
    let app = AuditApp::start(store.clone(), key.clone()).await;
    for _ in 0..5 {
        app.call(reqwest::Method::POST, "/api/daemon/pause", None)
            .await;
    }
    let cp = store
        .prune_audit(Utc::now() + Duration::seconds(5), &key)
        .await
        .unwrap()
        .expect("pruned");
    assert_eq!(cp.seq, 4);
    app.call(reqwest::Method::POST, "/api/daemon/resume", None)
        .await;
    let v = app.verify().await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["checked"], 2);
    assert_eq!(v["checkpoint"]["seq"], 4);
    assert_eq!(app.entries("").await.len(), 2);

    // a checkpoint not signed by the server's key
    let forged = AuditCheckpoint::sign(&cp.head(), Utc::now(), Utc::now(), &AuditKey::generate());
    let forged = AuditCheckpoint { seq: 5, ..forged };
    memory.insert_audit_checkpoint(forged);
    let v = app.verify().await;
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["first_broken"],
        json!({"seq": 5, "reason": "checkpoint_signature"})
    );
}

async fn on_sql(store: Arc<dyn Store>) {
    let app = AuditApp::start(store, AuditKey::generate()).await;
    let (status, t) = app
        .call(
            reqwest::Method::POST,
            "/api/tickets",
            Some(json!({"title": "Add login", "description": "a login form"})),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    let mut handles = Vec::new();
    for _ in 0..16 {
        let client = app.client.clone();
        let url = app.url("/api/daemon/pause");
        let token = app.token.clone();
        handles.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for h in handles {
        assert!(h.await.unwrap().is_success());
    }
    let e = app.entries("?action=ticket.create").await;
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0]["resource"],
        format!("ticket/{}", t["id"].as_str().unwrap())
    );
    let v = app.verify().await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["checked"], 17);
}

#[tokio::test]
async fn sqlite_records_and_verifies_concurrent_calls() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("audit.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    on_sql(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_records_and_verifies_concurrent_calls() {
    let Some(schema) = TestSchema::create("api_audit").await else {
        return;
    };
    let store = SqlStore::connect(schema.url()).await.unwrap();
    store.migrate().await.unwrap();
    on_sql(Arc::new(store)).await;
    schema.drop_schema().await;
}
