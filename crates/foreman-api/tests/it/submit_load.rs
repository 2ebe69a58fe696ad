//! Concurrent submission: single tickets and batches sent at once, on the memory store, SQLite
//! and PostgreSQL. Whatever groups the server commits them in, every request is answered on
//! its own (a taken id refuses only its own request), generated ids are never handed out
//! twice, the queue positions in the answers are the places the tickets took, and each ticket
//! gets its `ticket_created` event.

use std::collections::HashSet;
use std::sync::Arc;

use foreman_domain::Store;
use foreman_store::SqlStore;
use foreman_testkit::MemoryStore;
use foreman_testkit::pg::TestSchema;
use serde_json::{Value, json};

use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory() {
    concurrent_submissions(MemoryStore::new().shared()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("submit.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    concurrent_submissions(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(schema) = TestSchema::create("submit_load").await else {
        return;
    };
    let store = SqlStore::connect(schema.url()).await.unwrap();
    store.migrate().await.unwrap();
    concurrent_submissions(Arc::new(store)).await;
    schema.drop_schema().await;
}

async fn send(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app.post(path).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn concurrent_submissions(store: Arc<dyn Store>) {
    let app = Arc::new(TestApp::builder().store(store).start().await);
    let (status, first) = send(
        &app,
        "/api/tickets",
        json!({"title": "first", "external_id": "DUP-1"}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["queue_position"], 1);
    let mut requests = Vec::new();
    for i in 0..48 {
        let app = Arc::clone(&app);
        requests.push(tokio::spawn(async move {
            let (status, body) = send(
                &app,
                "/api/tickets",
                json!({"title": format!("single {i}")}),
            )
            .await;
            assert_eq!(status, 201, "{body}");
            vec![body]
        }));
    }
    for i in 0..4 {
        let app = Arc::clone(&app);
        requests.push(tokio::spawn(async move {
            let items: Vec<Value> = (0..5)
                .map(|j| json!({"title": format!("batch {i}.{j}")}))
                .collect();
            let (status, body) = send(&app, "/api/tickets/batch", json!({ "items": items })).await;
            assert_eq!(status, 201, "{body}");
            body["tickets"].as_array().unwrap().clone()
        }));
    }
    // a taken id refuses its own request only
    let refused = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            send(
                &app,
                "/api/tickets/batch",
                json!({"items": [{"title": "x"}, {"title": "y", "external_id": "DUP-1"}]}),
            )
            .await
        })
    };
    let mut created = Vec::new();
    for r in requests {
        created.extend(r.await.unwrap());
    }
    let (status, body) = refused.await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("DUP-1 in project"),
        "{body}"
    );
    assert_eq!(created.len(), 68);
    let ids: HashSet<&str> = created
        .iter()
        .map(|t| t["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 68, "a generated id handed out twice");
    assert!(ids.iter().all(|id| id.starts_with("LOCAL-")), "{ids:?}");
    // one priority: each ticket's place is its rank in creation order, behind DUP-1
    let positions: HashSet<u64> = created
        .iter()
        .map(|t| t["queue_position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, (2..=69).collect());
    for t in &created {
        let (_, detail) = app
            .get_json(&format!("/api/tickets/{}", t["id"].as_str().unwrap()))
            .await;
        assert_eq!(detail["queue_position"], t["queue_position"], "{t}");
    }
    let (status, events) = app
        .get_json("/api/events?types=ticket_created&limit=200")
        .await;
    assert_eq!(status, 200, "{events}");
    let announced: HashSet<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ticket_id"].as_str().unwrap())
        .collect();
    assert_eq!(announced.len(), 69);
    for t in &created {
        assert!(announced.contains(t["id"].as_str().unwrap()), "{t}");
    }
}
