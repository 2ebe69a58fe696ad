//! The contract routes end to end on the SQL store: SQLite (a temp file) and PostgreSQL (a
//! schema of its own; skipped with a notice outside CI when `FOREMAN_TEST_POSTGRES_URL` is
//! unset).

use std::sync::Arc;

use foreman_domain::{EventType, Store, TaskStatus, TicketStatus};
use foreman_store::SqlStore;
use foreman_testkit::pg::TestSchema;
use serde_json::{Value, json};

use crate::routes::{call, move_ticket, tasks};
use crate::support::TestApp;

async fn exercise(store: Arc<dyn Store>) {
    let app = TestApp::builder().store(store).start().await;
    let t = app.ticket("SQL-1", "Add user authentication").await;
    let t = move_ticket(&app, &t, TicketStatus::Implementing).await;
    let ts = tasks(&app, &t, 2).await;
    app.store
        .transition_task(&ts[1].id, TaskStatus::Pending, TaskStatus::Failed, None)
        .await
        .unwrap();
    call(&app, &t, Some(&ts[0]), "implementer", 210_000).await;
    let first = app
        .publish(
            Some(&t),
            EventType::TaskTddVerifyPass,
            "TDD verification passed",
        )
        .await;

    let (status, list) = app.get_json("/api/tickets?status=implementing").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list[0]["external_id"], "SQL-1");
    assert_eq!(list[0]["cost_usd"], 0.21);
    let (_, detail) = app.get_json(&format!("/api/tickets/{}", t.id)).await;
    assert_eq!(detail["total_llm_calls"], 1);
    let (_, task_list) = app.get_json(&format!("/api/tickets/{}/tasks", t.id)).await;
    assert_eq!(task_list.as_array().unwrap().len(), 2);
    let (_, events) = app.get_json(&format!("/api/tickets/{}/events", t.id)).await;
    assert_eq!(events[0]["event_type"], "task_tdd_verify_pass");
    let (_, calls) = app
        .get_json(&format!("/api/tickets/{}/llm-calls", t.id))
        .await;
    assert_eq!(calls[0]["role"], "implementer");
    let (_, active) = app.get_json("/api/pipeline/active").await;
    assert_eq!(active[0]["total_tasks"], 2);
    let (_, today) = app.get_json("/api/costs/today").await;
    assert_eq!(today["cost_usd"], 0.21);
    let (_, week) = app.get_json("/api/costs/week").await;
    assert_eq!(week.as_array().unwrap().len(), 7);
    let (_, activity) = app.get_json("/api/usage/activity").await;
    assert_eq!(
        activity["by_model"][0]["model"],
        "anthropic:claude-sonnet-4-6"
    );
    assert_eq!(activity["recent_calls"][0]["task_title"], "task 1");
    let (status, _) = app.get_json("/api/stats/team").await;
    assert_eq!(status, 200);
    let (status, _) = app.get_json("/api/prompts/versions").await;
    assert_eq!(status, 200);

    let r = app
        .post(&format!("/api/tasks/{}/retry", ts[1].id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .post(&format!("/api/tickets/{}/retry", t.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        app.post("/api/daemon/pause").send().await.unwrap().status(),
        200
    );
    assert_eq!(
        app.get_json("/api/status").await.1["daemon_state"],
        "paused"
    );
    let r = app
        .post("/api/tickets")
        .json(&json!({"title": "Local one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["external_id"], "LOCAL-2");

    // Tokens: create, use, revoke, refused.
    let r = app
        .post("/api/tokens")
        .json(&json!({"name": "sql", "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    let created: Value = r.json().await.unwrap();
    let secret = created["token"].as_str().unwrap().to_owned();
    let ok = app
        .client
        .get(app.url("/api/tickets"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/tokens/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let refused = app
        .client
        .get(app.url("/api/tickets"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // Replay from the log through SSE.
    let r = app
        .get(&format!("/api/stream?since_seq={}", first - 1))
        .send()
        .await
        .unwrap();
    let mut stream = r.bytes_stream();
    let mut buf = String::new();
    while !buf.contains(&format!("id: {first}")) && !buf.contains(&format!("id:{first}")) {
        use futures::StreamExt;
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        buf.contains("\"ticket_title\":\"Add user authentication\""),
        "{buf}"
    );

    let r = app
        .delete(&format!("/api/tickets/{}", t.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(app.get_json(&format!("/api/tickets/{}", t.id)).await.0, 404);
    let (_, deleted) = app.get_json("/api/events?types=ticket_deleted").await;
    assert_eq!(deleted[0]["details"]["ticket_id"], t.id.to_string());
}

#[tokio::test]
async fn contract_routes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("api.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    exercise(Arc::new(store)).await;
}

#[tokio::test]
async fn contract_routes_on_postgres() {
    let Some(schema) = TestSchema::create("api_routes").await else {
        return;
    };
    let store = SqlStore::connect(schema.url()).await.unwrap();
    store.migrate().await.unwrap();
    exercise(Arc::new(store)).await;
    schema.drop_schema().await;
}
