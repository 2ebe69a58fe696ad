//! Search, history, queue statistics and workers: `GET /api/tickets/search`, `/api/history`,
//! `/api/stats` and `/api/workers`, on the memory store and on SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use foreman_domain::{
    EventType, Micros, NewEvent, NewLlmCall, SlotSnapshot, Store, Ticket, TicketPatch,
    TicketStatus, WorkerSlots,
};
use foreman_store::SqlStore;
use foreman_testkit::MemoryStore;
use foreman_testkit::pg::TestSchema;
use serde_json::{Value, json};

use crate::routes::{move_ticket, tasks};
use crate::support::TestApp;

/// Slots a test sets by hand.
#[derive(Default)]
struct FixedSlots(Mutex<Vec<SlotSnapshot>>);

impl WorkerSlots for FixedSlots {
    fn snapshot(&self) -> Vec<SlotSnapshot> {
        self.0.lock().unwrap().clone()
    }
}

/// A server over `store` whose daemon slots are `slots`, and its address.
async fn serve_with_slots(
    store: Arc<dyn Store>,
    slots: Arc<dyn WorkerSlots>,
    token: &str,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = foreman_api::ApiConfig {
        auth_token: Some(token.to_owned()),
        ..foreman_api::ApiConfig::default()
    };
    let app = foreman_api::app(store, foreman_events::EventHub::default(), config)
        .with_worker_slots(slots);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(foreman_api::serve(listener, app, async move {
        let _ = rx.await;
    }));
    (addr, tx)
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    app.get_json(path).await
}

async fn seed(app: &TestApp) -> (Ticket, Ticket) {
    let title = app.ticket("S-1", "Zeppelin mooring mast").await;
    let body = app.ticket("S-2", "Hangar doors").await;
    app.store
        .update_ticket(
            &body.id,
            TicketPatch {
                // markup characters, which the HTML snippet escapes (a tag-like `<word>` is not used:
                // PostgreSQL's ts_headline drops it from the passage)
                description: Some("the zeppelin does not fit: width < 40 m & height > 9 m".into()),
                ..TicketPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    app.ticket("S-3", "Unrelated").await;
    (title, body)
}

async fn search_and_page(app: &TestApp) {
    let (title, body) = seed(app).await;
    let (status, page) = get(app, "/api/tickets/search?q=zeppelin").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(items[0]["id"], title.id.to_string());
    assert_eq!(items[1]["id"], body.id.to_string());
    assert!(items[0]["score"].as_f64().unwrap() > items[1]["score"].as_f64().unwrap());
    assert_eq!(page["next_cursor"], Value::Null);
    // the body match's snippet: escaped text, the word marked
    let html = items[1]["snippet_html"].as_str().unwrap();
    assert!(
        html.to_lowercase().contains("<mark>zeppelin</mark>"),
        "{html}"
    );
    assert!(html.contains("&lt; 40 m &amp; height &gt; 9"), "{html}");
    let parts = items[1]["snippet"].as_array().unwrap();
    assert!(
        parts.iter().any(|p| p["highlighted"] == true
            && p["text"].as_str().unwrap().eq_ignore_ascii_case("zeppelin")),
        "{parts:?}"
    );

    // one per page, through a cursor
    let (_, first) = get(app, "/api/tickets/search?q=zeppelin&limit=1").await;
    assert_eq!(first["items"][0]["id"], title.id.to_string());
    let cursor = first["next_cursor"].as_str().expect("a cursor").to_owned();
    let (status, second) = get(
        app,
        &format!("/api/tickets/search?q=zeppelin&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["items"][0]["id"], body.id.to_string());
    assert_eq!(second["next_cursor"], Value::Null);
    // the same cursor with another query
    let (status, e) = get(
        app,
        &format!("/api/tickets/search?q=hangar&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("cursor"), "{e}");
}

#[tokio::test]
async fn search_ranks_highlights_and_pages() {
    let app = TestApp::start().await;
    search_and_page(&app).await;
}

/// The static segment wins over `/api/tickets/{id}`: the search route answers, never a ticket
/// lookup of the id `search`.
#[tokio::test]
async fn the_search_route_is_not_a_ticket_id() {
    let app = TestApp::start().await;
    app.ticket("X-1", "anything").await;
    let (status, body) = get(&app, "/api/tickets/search?q=anything").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["items"].is_array(), "{body}");
    let (status, body) = get(&app, "/api/tickets/search").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains('q'), "{body}");
    assert_eq!(body["code"], 400);
}

#[tokio::test]
async fn bad_search_input_is_a_400_naming_the_parameter() {
    let app = TestApp::start().await;
    app.ticket("X-1", "anything").await;
    let long = "a".repeat(501);
    for (query, field) in [
        ("q=", "q"),
        ("q=%20%20", "q"),
        ("q=--%22*", "q"),
        (&*format!("q={long}"), "q"),
        ("q=x&limit=0", "limit"),
        ("q=x&limit=101", "limit"),
        ("q=x&limit=ten", "limit"),
        ("q=x&cursor=not-a-cursor", "cursor"),
        ("q=x&cursor=00ff", "cursor"),
    ] {
        let (status, body) = get(&app, &format!("/api/tickets/search?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], 400, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(field),
            "{query}: {body}"
        );
    }
    for query in [
        "/api/history?limit=0",
        "/api/history?limit=101",
        "/api/history?cursor=zz",
    ] {
        let (status, body) = get(&app, query).await;
        assert_eq!(status, 400, "{query}: {body}");
    }
}

async fn history_and_stats(app: &TestApp) {
    let merged = app.ticket("H-1", "merged one").await;
    let merged = move_ticket(app, &merged, TicketStatus::Merged).await;
    app.store
        .update_ticket(
            &merged.id,
            TicketPatch {
                started_at: Some(Some(merged.completed_at.unwrap() - Duration::seconds(100))),
                ..TicketPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    app.store
        .record_llm_call(NewLlmCall {
            ticket_id: Some(merged.id.clone()),
            role: "planner".into(),
            provider: "anthropic".into(),
            model: "m".into(),
            cost: Micros(250_000),
            ..NewLlmCall::default()
        })
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let failed = app.ticket("H-2", "failed one").await;
    app.store.cancel_ticket(&failed.id).await.unwrap();
    app.ticket("H-3", "queued one").await;
    app.ticket("H-4", "queued two").await;

    let (status, page) = get(app, "/api/history").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(items[0]["external_id"], "H-2");
    assert_eq!(items[0]["outcome"], "failed");
    assert_eq!(items[0]["error_type"], "cancelled");
    assert_eq!(items[0]["duration_secs"], Value::Null);
    assert_eq!(items[1]["external_id"], "H-1");
    assert_eq!(items[1]["outcome"], "merged");
    assert_eq!(items[1]["duration_secs"], 100.0);
    assert_eq!(items[1]["cost_usd"], 0.25);
    let (_, first) = get(app, "/api/history?limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = get(app, &format!("/api/history?limit=1&cursor={cursor}")).await;
    assert_eq!(second["items"][0]["external_id"], "H-1");
    assert_eq!(second["next_cursor"], Value::Null);

    let (status, stats) = get(app, "/api/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["total"], 4);
    assert_eq!(
        stats["by_status"],
        json!({"queued": 2, "merged": 1, "failed": 1})
    );
    assert_eq!(stats["queue_length"], 2);
    assert_eq!(stats["duration_sample"], 1);
    assert_eq!(stats["mean_duration_secs"], 100.0);
    assert_eq!(stats["p90_duration_secs"], 100.0);
    assert_eq!(stats["live_slots"], false);
    assert_eq!(
        stats["slots"],
        json!({"total": 1, "busy": 0, "available": 1})
    );
    // one slot, free, two queued ahead: the new ticket waits two rounds of 100 s
    let wait = stats["estimated_wait_secs"].as_f64().unwrap();
    assert!((199.0..=200.0).contains(&wait), "{stats}");
    assert_eq!(stats["cost_today_usd"], 0.25);
    assert_eq!(stats["budgets"]["max_daily_usd"], Value::Null);
}

#[tokio::test]
async fn history_and_stats_on_the_memory_store() {
    let app = TestApp::start().await;
    history_and_stats(&app).await;
}

#[tokio::test]
async fn workers_show_each_slot_and_what_it_runs() {
    let store = MemoryStore::new().shared();
    let slots = Arc::new(FixedSlots::default());
    let (addr, _stop) = serve_with_slots(store.clone(), slots.clone(), "secret-token").await;
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("http://{addr}{path}"))
            .bearer_auth("secret-token")
            .send()
    };
    let app = TestApp::builder().store(store.clone()).start().await;
    let t = app.ticket("W-1", "worked on").await;
    let t = move_ticket(&app, &t, TicketStatus::Implementing).await;
    store
        .update_ticket(
            &t.id,
            TicketPatch {
                branch_name: Some("foreman/w-1-worked-on".into()),
                ..TicketPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    let ts = tasks(&app, &t, 2).await;
    store
        .transition_task(
            &ts[0].id,
            foreman_domain::TaskStatus::Pending,
            foreman_domain::TaskStatus::Implementing,
            None,
        )
        .await
        .unwrap();
    store
        .append(
            NewEvent::new(EventType::WorktreeCreated, "worktree")
                .ticket(&t.id)
                .details(json!({"path": "/work/wt/w-1", "branch": "foreman/w-1-worked-on"})),
        )
        .await
        .unwrap();
    let started = Utc::now();
    *slots.0.lock().unwrap() = vec![
        SlotSnapshot {
            name: "node/slot-1".into(),
            ticket_id: Some(t.id.clone()),
            started_at: Some(started),
            completed: 3,
        },
        SlotSnapshot {
            name: "node/slot-2".into(),
            ticket_id: None,
            started_at: None,
            completed: 5,
        },
    ];
    let r = get("/api/workers").await.unwrap();
    assert_eq!(r.status(), 200);
    let w: Value = r.json().await.unwrap();
    assert_eq!(w["running"], true);
    let busy = &w["workers"][0];
    assert_eq!(busy["name"], "node/slot-1");
    assert_eq!(busy["busy"], true);
    assert_eq!(busy["ticket_id"], t.id.to_string());
    assert_eq!(busy["task_id"], ts[0].id.to_string());
    assert_eq!(busy["task_sequence"], 1);
    assert_eq!(busy["stage"], "implementing");
    assert_eq!(busy["ticket_status"], "implementing");
    assert_eq!(busy["worktree_path"], "/work/wt/w-1");
    assert_eq!(busy["branch"], "foreman/w-1-worked-on");
    assert_eq!(busy["completed"], 3);
    assert!(busy["started_at"].is_string());
    let free = &w["workers"][1];
    assert_eq!(free["busy"], false);
    assert_eq!(free["ticket_id"], Value::Null);
    assert_eq!(free["completed"], 5);

    let stats: Value = get("/api/stats").await.unwrap().json().await.unwrap();
    assert_eq!(stats["live_slots"], true);
    assert_eq!(
        stats["slots"],
        json!({"total": 2, "busy": 1, "available": 1})
    );

    // without a daemon: no slots
    let (status, w) = app.get_json("/api/workers").await;
    assert_eq!(status, 200);
    assert_eq!(w, json!({"running": false, "workers": []}));
}

async fn on_sql(store: Arc<dyn Store>) {
    let app = TestApp::builder().store(store).start().await;
    history_and_stats(&app).await;
    search_and_page(&app).await;
    // a task title is found as soon as it is written
    let t = app.ticket("S-9", "plain").await;
    app.store
        .create_tasks(
            &t.id,
            vec![foreman_domain::NewTask {
                sequence: 1,
                title: "rebuild the quokka index".into(),
                ..Default::default()
            }],
            None,
        )
        .await
        .unwrap();
    let (_, page) = get(&app, "/api/tickets/search?q=quokka").await;
    assert_eq!(page["items"][0]["id"], t.id.to_string(), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_history_and_stats_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("f.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    on_sql(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_history_and_stats_on_postgres() {
    let Some(schema) = TestSchema::create("api_search").await else {
        return;
    };
    let store = SqlStore::connect(schema.url()).await.unwrap();
    store.migrate().await.unwrap();
    on_sql(Arc::new(store)).await;
    schema.drop_schema().await;
}
