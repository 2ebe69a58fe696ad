//! Operating Foreman over the API, on SQLite and on PostgreSQL: submission with limits and
//! batches, cancel, the queue, checkpoints and rollback, diffs, transcripts, runs and logs,
//! daemon drain and stop, notifications and their triggers, the budget, prices and cost
//! reports. Each scenario runs on both SQL stores (PostgreSQL is skipped with a notice outside
//! CI when `FOREMAN_TEST_POSTGRES_URL` is unset).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use foreman_domain::checkpoint::{BranchRewind, DiffSource, NewCheckpoint};
use foreman_domain::git::{Diff, GitResult};
use foreman_domain::notification::{NewNotification, NotificationSeverity, TriggerId};
use foreman_domain::runs::{
    DaemonControl, DaemonSnapshot, LogLevel, NewLogLine, NewRun, RunId, RunStatus,
};
use foreman_domain::transcript::{NewTranscriptRecord, RecordKind};
use foreman_domain::{
    BudgetLimits, LlmCallStatus, Micros, NewLlmCall, SlotSnapshot, Store, Ticket, TicketPatch,
    TicketStatus, WorkerSlots,
};
use foreman_store::SqlStore;
use foreman_testkit::pg::TestSchema;
use serde_json::{Value, json};

use crate::routes::{move_ticket, tasks};
use crate::support::{TestApp, TestAppBuilder};

/// Runs `scenario` on a fresh SQLite file and on a fresh PostgreSQL schema.
macro_rules! on_both_sql_stores {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let store = foreman_store::SqlStore::open_sqlite(&dir.path().join("ops.db"))
                    .await
                    .unwrap();
                store.migrate().await.unwrap();
                super::$scenario(std::sync::Arc::new(store)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(schema) = super::TestSchema::create(stringify!($scenario)).await else {
                    return;
                };
                let store = super::SqlStore::connect(schema.url()).await.unwrap();
                store.migrate().await.unwrap();
                super::$scenario(std::sync::Arc::new(store)).await;
                schema.drop_schema().await;
            }
        }
    )*};
}

on_both_sql_stores!(
    submission,
    batches,
    cancel,
    checkpoints_rollback_and_diff,
    transcript,
    runs_logs_and_daemon,
    notifications_and_triggers,
    budget_pricing_and_costs,
    stats_and_workers,
    queue_estimates,
);

fn on(store: Arc<dyn Store>) -> TestAppBuilder {
    TestApp::builder().store(store)
}

/// A POST of `body`: status and JSON body.
async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app.post(path).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A PUT of `body`: status and JSON body.
async fn put(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app.put(path).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A 400 in the JSON error format whose message names `field`.
#[track_caller]
fn assert_400_naming(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 400, "{field}: {body}");
    assert_eq!(body["code"], 400, "{field}: {body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(field), "{field} not named: {body}");
}

async fn ticket_count(app: &TestApp) -> usize {
    let (_, list) = app.get_json("/api/tickets?limit=500").await;
    list.as_array().unwrap().len()
}

async fn llm_call(app: &TestApp, t: &Ticket, model: &str, role: &str, runner: &str, cost: i64) {
    app.store
        .record_llm_call(NewLlmCall {
            ticket_id: Some(t.id.clone()),
            role: role.into(),
            provider: "anthropic".into(),
            model: model.into(),
            runner: runner.into(),
            attempt: 1,
            tokens_input: 1_000,
            tokens_output: 200,
            cache_read_tokens: 30,
            cache_write_tokens: 4,
            cost: Micros(cost),
            duration_ms: 100,
            status: Some(LlmCallStatus::Success),
            ..Default::default()
        })
        .await
        .unwrap();
}

// ---- submission ----

async fn submission(store: Arc<dyn Store>) {
    let app = on(store).start().await;
    let prompt = "Fix the login page\n\nThe submit button does nothing on Safari.";
    let (status, high) = post(
        &app,
        "/api/tickets",
        json!({
            "prompt": prompt, "priority": "high", "timeout": 600, "max_budget_usd": 2.5,
            "tags": ["ui", "auth"], "webhook_url": "https://hooks.example.com/foreman",
            "agent": "builtin",
        }),
    )
    .await;
    assert_eq!(status, 201, "{high}");
    assert!(high["id"].is_string(), "{high}");
    assert_eq!(high["status"], "queued");
    assert_eq!(high["queue_position"], 1);
    // one free slot: it can start at once
    assert!(high["estimated_start"].is_string(), "{high}");
    assert_eq!(high["title"], "Fix the login page");
    assert_eq!(high["description"], prompt);
    assert_eq!(high["priority"], 30);
    assert_eq!(high["timeout"], 600);
    assert_eq!(high["max_budget_usd"], 2.5);
    assert_eq!(high["tags"], json!(["ui", "auth"]));
    assert_eq!(high["webhook_url"], "https://hooks.example.com/foreman");
    assert_eq!(high["agent"], "builtin");
    assert!(high["external_id"].as_str().unwrap().starts_with("LOCAL-"));

    // integers still work; a lower priority queues behind
    let (status, low) = post(
        &app,
        "/api/tickets",
        json!({"title": "tidy up", "priority": 5}),
    )
    .await;
    assert_eq!(status, 201, "{low}");
    assert_eq!(low["queue_position"], 2);
    // nothing has finished yet: no mean duration to estimate a wait from
    assert_eq!(low["estimated_start"], Value::Null);
    assert_eq!(low["timeout"], Value::Null);
    assert_eq!(low["tags"], json!([]));
    // an urgent one goes first; the others move back
    let (_, urgent) = post(
        &app,
        "/api/tickets",
        json!({"prompt": "prod is down", "priority": "urgent"}),
    )
    .await;
    assert_eq!(urgent["queue_position"], 1, "{urgent}");
    assert_eq!(urgent["priority"], 40);
    let (_, detail) = app
        .get_json(&format!("/api/tickets/{}", high["id"].as_str().unwrap()))
        .await;
    assert_eq!(detail["queue_position"], 2, "{detail}");
    assert_eq!(detail["tags"], json!(["ui", "auth"]));
    let (_, list) = app.get_json("/api/tickets?sort=created_asc").await;
    let positions: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["queue_position"])
        .collect();
    assert_eq!(positions, [&json!(2), &json!(3), &json!(1)], "{list}");
    // a ticket that is not queued has no place
    let t = app.ticket("Q-1", "in progress").await;
    move_ticket(&app, &t, TicketStatus::Implementing).await;
    let (_, detail) = app.get_json(&format!("/api/tickets/{}", t.id)).await;
    assert_eq!(detail["queue_position"], Value::Null);
    assert_eq!(detail["estimated_start"], Value::Null);

    let before = ticket_count(&app).await;
    let long = "p".repeat(5_001);
    for (body, field) in [
        (json!({"prompt": long}), "prompt"),
        (json!({"prompt": "   "}), "prompt"),
        (json!({"prompt": "x", "description": "y"}), "prompt"),
        (json!({"description": "no title"}), "title"),
        (json!({"title": "t", "priority": "p1"}), "priority"),
        (json!({"title": "t", "priority": "URGENT"}), "priority"),
        (json!({"title": "t", "priority": 101}), "priority"),
        (
            json!({"title": "t", "max_budget_usd": -1}),
            "max_budget_usd",
        ),
        (
            json!({"title": "t", "max_budget_usd": -0.01}),
            "max_budget_usd",
        ),
        (
            json!({"title": "t", "max_budget_usd": 100.5}),
            "max_budget_usd",
        ),
        (
            json!({"title": "t", "webhook_url": "ftp://example.com/hook"}),
            "webhook_url",
        ),
        (
            json!({"title": "t", "webhook_url": "javascript:alert(1)"}),
            "webhook_url",
        ),
        (
            json!({"title": "t", "webhook_url": "https://"}),
            "webhook_url",
        ),
        (json!({"title": "t", "timeout": 0}), "timeout"),
        (json!({"title": "t", "timeout": 3_601}), "timeout"),
        (json!({"title": "t", "tags": vec!["t"; 11]}), "tags"),
        (json!({"title": "t", "tags": ["x".repeat(51)]}), "tags"),
        (json!({"title": "t", "agent": "nonesuch"}), "agent"),
    ] {
        let (status, e) = post(&app, "/api/tickets", body.clone()).await;
        assert_400_naming(status, &e, field);
        assert!(
            e["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("invalid request body: {field}")),
            "{body}: {e}"
        );
    }
    assert_eq!(
        ticket_count(&app).await,
        before,
        "a refused ticket was created"
    );
    // the bounds themselves are accepted
    let (status, edge) = post(
        &app,
        "/api/tickets",
        json!({"prompt": "q".repeat(5_000), "max_budget_usd": 0, "timeout": 3_600, "webhook_url": "http://127.0.0.1:9/h"}),
    )
    .await;
    assert_eq!(status, 201, "{edge}");
    assert_eq!(edge["title"].as_str().unwrap().chars().count(), 120);
    assert_eq!(edge["max_budget_usd"], 0.0);
}

async fn batches(store: Arc<dyn Store>) {
    let app = on(store).start().await;
    let (status, created) = post(
        &app,
        "/api/tickets/batch",
        json!({
            "defaults": {"priority": "urgent", "tags": ["batch"], "timeout": 120},
            "items": [
                {"prompt": "first"},
                {"title": "second", "priority": "low", "tags": []},
                {"title": "third", "external_id": "B-3", "max_budget_usd": 1},
            ],
        }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let tickets = created["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 3);
    assert_eq!(tickets[0]["title"], "first");
    assert_eq!(tickets[1]["title"], "second");
    assert_eq!(tickets[2]["external_id"], "B-3");
    let priorities: Vec<&Value> = tickets.iter().map(|t| &t["priority"]).collect();
    assert_eq!(priorities, [&json!(40), &json!(10), &json!(40)]);
    assert_eq!(tickets[0]["tags"], json!(["batch"]));
    assert_eq!(tickets[1]["tags"], json!([]));
    assert_eq!(tickets[2]["timeout"], 120);
    assert_eq!(tickets[2]["max_budget_usd"], 1.0);
    let positions: Vec<&Value> = tickets.iter().map(|t| &t["queue_position"]).collect();
    assert_eq!(positions, [&json!(1), &json!(3), &json!(2)]);
    let ids: std::collections::HashSet<&str> = tickets
        .iter()
        .map(|t| t["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "generated ids are distinct: {ids:?}");
    assert_eq!(ticket_count(&app).await, 3);

    // all or nothing
    let item = |i: usize| json!({"title": format!("item {i}")});
    let (status, e) = post(
        &app,
        "/api/tickets/batch",
        json!({"items": (0..21).map(item).collect::<Vec<_>>()}),
    )
    .await;
    assert_400_naming(status, &e, "items");
    assert!(e["error"].as_str().unwrap().contains("at most 20"), "{e}");
    let (status, e) = post(&app, "/api/tickets/batch", json!({"items": []})).await;
    assert_400_naming(status, &e, "items");
    let (status, e) = post(
        &app,
        "/api/tickets/batch",
        json!({"items": [item(1), {"title": "bad", "priority": "soonish"}, item(3)]}),
    )
    .await;
    assert_400_naming(status, &e, "items[1].priority");
    let (status, e) = post(
        &app,
        "/api/tickets/batch",
        json!({"items": [item(1), {"title": "bad", "webhook_url": "file:///etc/passwd"}]}),
    )
    .await;
    assert_400_naming(status, &e, "items[1].webhook_url");
    let (status, e) = post(
        &app,
        "/api/tickets/batch",
        json!({"items": [item(1), {"title": "bad", "agent": "nonesuch"}]}),
    )
    .await;
    assert_400_naming(status, &e, "items[1].agent");
    let (status, e) = post(
        &app,
        "/api/tickets/batch",
        json!({"defaults": {"max_budget_usd": -5}, "items": [item(1)]}),
    )
    .await;
    assert_400_naming(status, &e, "max_budget_usd");
    // a duplicate external id in the last item: the store's transaction creates none
    let (status, e) = post(
        &app,
        "/api/tickets/batch",
        json!({"items": [item(1), item(2), {"title": "dup", "external_id": "B-3"}]}),
    )
    .await;
    assert_eq!(status, 409, "{e}");
    assert!(e["error"].as_str().unwrap().contains("B-3"), "{e}");
    assert_eq!(
        ticket_count(&app).await,
        3,
        "a refused batch created tickets"
    );
    // exactly 20 is fine
    let (status, created) = post(
        &app,
        "/api/tickets/batch",
        json!({"items": (0..20).map(item).collect::<Vec<_>>()}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["tickets"].as_array().unwrap().len(), 20);
    assert_eq!(ticket_count(&app).await, 23);
}

async fn cancel(store: Arc<dyn Store>) {
    let app = on(store).start().await;
    let queued = app.ticket("C-1", "queued one").await;
    let running = app.ticket("C-2", "running one").await;
    let running = move_ticket(&app, &running, TicketStatus::Implementing).await;
    let merged = app.ticket("C-3", "merged one").await;
    move_ticket(&app, &merged, TicketStatus::Merged).await;
    llm_call(&app, &running, "m", "implementer", "builtin", 120_000).await;

    let (status, r) = post(
        &app,
        &format!("/api/tickets/{}/cancel", queued.id),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r,
        json!({"status": "cancelled", "ticket_id": queued.id.to_string(), "from": "queued"})
    );
    let (_, t) = app.get_json(&format!("/api/tickets/{}", queued.id)).await;
    assert_eq!(t["status"], "failed");
    assert_eq!(t["queue_position"], Value::Null);

    let (status, r) = post(
        &app,
        &format!("/api/tickets/{}/cancel", running.id),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["from"], "implementing");
    // its spend stays
    let (_, t) = app.get_json(&format!("/api/tickets/{}", running.id)).await;
    assert_eq!(t["cost_usd"], 0.12, "{t}");
    let (_, events) = app
        .get_json(&format!("/api/tickets/{}/events", running.id))
        .await;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_type"] == "ticket_failed" && e["details"]["reason"] == "cancelled"),
        "{events}"
    );

    // finished tickets: 409 naming the status
    for (id, status_name) in [(&queued.id, "failed"), (&merged.id, "merged")] {
        let (status, e) = post(&app, &format!("/api/tickets/{id}/cancel"), json!({})).await;
        assert_eq!(status, 409, "{e}");
        assert_eq!(e["code"], 409);
        assert!(e["error"].as_str().unwrap().contains(status_name), "{e}");
    }
    let (status, e) = post(&app, "/api/tickets/no-such-ticket/cancel", json!({})).await;
    assert_eq!(status, 404, "{e}");
    assert_eq!(e["code"], 404);
    assert!(
        e["error"].as_str().unwrap().contains("no-such-ticket"),
        "{e}"
    );
}

// ---- checkpoints, rollback, diff ----

/// Diffs with a whole-ticket diff over the cap, and the rewinds asked for.
#[derive(Default)]
struct FakeRepo {
    rewinds: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl DiffSource for FakeRepo {
    async fn branch_diff(&self, _project: &str, branch: &str, max_bytes: usize) -> GitResult<Diff> {
        Ok(Diff {
            text: format!("diff --git a/{branch} b/{branch}\n"),
            truncated: true,
            total_bytes: u64::try_from(max_bytes).unwrap() * 2,
        })
    }

    async fn commit_diff(
        &self,
        _project: &str,
        head: &str,
        after: Option<&str>,
        _max: usize,
    ) -> GitResult<Diff> {
        Ok(Diff {
            text: format!("{} -> {head}\n", after.unwrap_or("base")),
            truncated: false,
            total_bytes: 10,
        })
    }
}

#[async_trait]
impl BranchRewind for FakeRepo {
    async fn rewind_branch(&self, _project: &str, branch: &str, sha: &str) -> GitResult<()> {
        self.rewinds
            .lock()
            .unwrap()
            .push((branch.to_owned(), sha.to_owned()));
        Ok(())
    }
}

/// A ticket with `n` done tasks, each a checkpoint, on branch `foreman/<external id>`.
async fn with_checkpoints(app: &TestApp, external_id: &str, n: i32) -> (Ticket, Vec<String>) {
    let t = app.ticket(external_id, "checkpointed").await;
    app.store
        .update_ticket(
            &t.id,
            TicketPatch {
                branch_name: Some(format!("foreman/{external_id}")),
                ..TicketPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    let ts = tasks(app, &t, n).await;
    let mut ids = Vec::new();
    for task in &ts {
        let cp = app
            .store
            .record_checkpoint(
                NewCheckpoint {
                    ticket_id: t.id.clone(),
                    task_id: task.id.clone(),
                    sequence: task.sequence,
                    title: task.title.clone(),
                    commit_sha: format!("{:040}", task.sequence),
                    branch: format!("foreman/{external_id}-task-{}", task.sequence),
                    ticket_status: TicketStatus::Implementing,
                },
                None,
            )
            .await
            .unwrap();
        ids.push(cp.id);
    }
    let t = app.store.get_ticket(&t.id).await.unwrap().unwrap();
    (t, ids)
}

async fn checkpoints_rollback_and_diff(store: Arc<dyn Store>) {
    let repo = Arc::new(FakeRepo::default());
    let app = on(store)
        .repositories(repo.clone(), repo.clone())
        .start()
        .await;
    let (t, cps) = with_checkpoints(&app, "R-1", 3).await;

    let (status, list) = app
        .get_json(&format!("/api/tickets/{}/checkpoints", t.id))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["ticket_id"], t.id.to_string());
    let got: Vec<&Value> = list["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(
        got,
        cps.iter()
            .map(|c| json!(c))
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(list["checkpoints"][0]["sequence"], 1);
    assert_eq!(list["checkpoints"][0]["task"], "task 1");
    assert_eq!(list["checkpoints"][2]["commit_sha"], format!("{:040}", 3));
    let (status, e) = app.get_json("/api/tickets/missing/checkpoints").await;
    assert_eq!((status, &e["code"]), (404, &json!(404)), "{e}");

    // the diff: whole (capped, with a note) and per task, each against the previous checkpoint
    let (status, d) = app.get_json(&format!("/api/tickets/{}/diff", t.id)).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["branch"], "foreman/R-1");
    assert_eq!(d["truncated"], true);
    assert_eq!(d["total_bytes"], 2 * 1024 * 1024);
    let note = d["note"].as_str().expect("a note on a capped diff");
    assert!(
        note.contains("2097152") && note.contains("1048576"),
        "{note}"
    );
    let task_diffs = d["tasks"].as_array().unwrap();
    assert_eq!(task_diffs.len(), 3);
    assert_eq!(task_diffs[0]["diff"], format!("base -> {:040}\n", 1));
    assert_eq!(task_diffs[1]["diff"], format!("{:040} -> {:040}\n", 1, 2));
    let (status, _) = app.get_json("/api/tickets/missing/diff").await;
    assert_eq!(status, 404);

    // running: refused, nothing rewound
    let running = move_ticket(&app, &t, TicketStatus::Implementing).await;
    let (status, e) = post(
        &app,
        &format!("/api/tickets/{}/rollback", running.id),
        json!({"checkpoint_id": cps[0]}),
    )
    .await;
    assert_eq!(status, 409, "{e}");
    assert_eq!(e["code"], 409);
    assert!(e["error"].as_str().unwrap().contains("implementing"), "{e}");
    assert!(repo.rewinds.lock().unwrap().is_empty());

    // stopped: rolled back to the first checkpoint and queued again
    app.store.cancel_ticket(&t.id).await.unwrap();
    for (body, field) in [
        (json!({"checkpoint_id": ""}), "checkpoint_id"),
        (json!({}), "checkpoint_id"),
        (json!({"checkpoint_id": "x", "extra": 1}), "extra"),
    ] {
        let (status, e) = post(&app, &format!("/api/tickets/{}/rollback", t.id), body).await;
        assert_400_naming(status, &e, field);
    }
    let (status, e) = post(
        &app,
        &format!("/api/tickets/{}/rollback", t.id),
        json!({"checkpoint_id": "nonesuch"}),
    )
    .await;
    assert_eq!(status, 404, "{e}");
    let (status, e) = post(
        &app,
        "/api/tickets/missing/rollback",
        json!({"checkpoint_id": cps[0]}),
    )
    .await;
    assert_eq!(status, 404, "{e}");
    let (status, r) = post(
        &app,
        &format!("/api/tickets/{}/rollback", t.id),
        json!({"checkpoint_id": cps[0]}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "queued");
    assert_eq!(r["from"], "failed");
    assert_eq!(r["checkpoint"]["id"], cps[0]);
    assert_eq!(r["branch_reset"], true);
    let dropped: Vec<String> = serde_json::from_value(r["checkpoints_dropped"].clone()).unwrap();
    assert_eq!(dropped, cps[1..].to_vec());
    assert_eq!(
        *repo.rewinds.lock().unwrap(),
        vec![("foreman/R-1".to_owned(), format!("{:040}", 1))]
    );
    let (_, list) = app
        .get_json(&format!("/api/tickets/{}/checkpoints", t.id))
        .await;
    assert_eq!(list["checkpoints"].as_array().unwrap().len(), 1);
    assert_eq!(list["status"], "queued");

    // without a repository: the diff is a 404 that says why
    let bare = on(app.store.clone()).start().await;
    let (status, e) = bare.get_json(&format!("/api/tickets/{}/diff", t.id)).await;
    assert_eq!(status, 404, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("no repository"),
        "{e}"
    );
}

async fn transcript(store: Arc<dyn Store>) {
    let app = on(store).start().await;
    let t = app.ticket("T-1", "transcribed").await;
    let ts = tasks(&app, &t, 1).await;
    let record =
        |kind: RecordKind, tool: Option<&str>, text: &str, is_error: bool, details: Value| {
            NewTranscriptRecord {
                task_id: ts[0].id.clone(),
                ticket_id: t.id.clone(),
                attempt: 1,
                turn: 1,
                kind,
                tool: tool.map(str::to_owned),
                text: text.to_owned(),
                is_error,
                details,
            }
        };
    app.store
        .append_transcript(vec![
            record(
                RecordKind::ToolCall,
                Some("run_command"),
                "cargo test",
                false,
                json!({}),
            ),
            record(
                RecordKind::ToolResult,
                Some("run_command"),
                &"o".repeat(20_000),
                true,
                json!({}),
            ),
            record(
                RecordKind::TestRun,
                None,
                "1 failed",
                true,
                json!({"phase": "red", "outcome": "failed"}),
            ),
            record(
                RecordKind::Review,
                None,
                "needs work",
                false,
                json!({"review": "spec", "approved": false, "issues": ["missing test"]}),
            ),
        ])
        .await
        .unwrap();
    let (status, tr) = app
        .get_json(&format!("/api/tasks/{}/transcript", ts[0].id))
        .await;
    assert_eq!(status, 200, "{tr}");
    assert_eq!(tr["task_id"], ts[0].id.to_string());
    assert_eq!(tr["ticket_id"], t.id.to_string());
    let entries = tr["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{tr}");
    assert_eq!(entries[0]["kind"], "tool_call");
    assert_eq!(entries[0]["tool"], "run_command");
    assert_eq!(entries[0]["text"], "cargo test");
    // long output is clipped with its full size
    assert_eq!(entries[1]["truncated"], true);
    assert_eq!(entries[1]["bytes"], 20_000);
    assert!(entries[1]["text"].as_str().unwrap().len() < 20_000);
    assert_eq!(entries[2]["details"]["phase"], "red");
    assert_eq!(entries[3]["details"]["issues"], json!(["missing test"]));
    let seqs: Vec<i64> = entries.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let (status, e) = app.get_json("/api/tasks/no-such-task/transcript").await;
    assert_eq!((status, &e["code"]), (404, &json!(404)), "{e}");
}

// ---- runs, logs, daemon ----

/// A daemon handle a test drives.
struct FakeDaemon {
    run: RunId,
    state: Mutex<DaemonSnapshot>,
}

impl DaemonControl for FakeDaemon {
    fn run_id(&self) -> Option<RunId> {
        Some(self.run.clone())
    }

    fn snapshot(&self) -> DaemonSnapshot {
        *self.state.lock().unwrap()
    }

    fn set_draining(&self, on: bool) {
        self.state.lock().unwrap().draining = on;
    }

    fn stop(&self) {
        let mut s = self.state.lock().unwrap();
        s.draining = true;
        s.stopping = true;
    }
}

async fn runs_logs_and_daemon(store: Arc<dyn Store>) {
    let earlier = store
        .start_run(NewRun {
            node_id: "node-a".into(),
            version: "1.0.0".into(),
        })
        .await
        .unwrap()
        .run;
    store
        .finish_run(&earlier.id, RunStatus::Stopped)
        .await
        .unwrap();
    let run = store
        .start_run(NewRun {
            node_id: "node-a".into(),
            version: "1.0.1".into(),
        })
        .await
        .unwrap()
        .run;
    let daemon = Arc::new(FakeDaemon {
        run: run.id.clone(),
        state: Mutex::new(DaemonSnapshot {
            present: true,
            draining: false,
            stopping: false,
            busy_slots: 0,
            slots: 2,
        }),
    });
    let feed = foreman_events::logs::LogFeed::default();
    let app = on(store)
        .daemon_control(daemon.clone())
        .log_feed(feed.clone())
        .start()
        .await;
    let done = app.ticket("RUN-1", "done in this run").await;
    move_ticket(&app, &done, TicketStatus::Merged).await;
    llm_call(&app, &done, "m", "implementer", "builtin", 400_000).await;
    app.ticket("RUN-2", "still queued").await;

    let r = app.get("/api/runs").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let runs: Value = r.json().await.unwrap();
    let ids: Vec<&Value> = runs.as_array().unwrap().iter().map(|r| &r["id"]).collect();
    assert_eq!(
        ids,
        [&json!(run.id.as_str()), &json!(earlier.id.as_str())],
        "newest first"
    );
    assert_eq!(runs[1]["status"], "stopped");
    assert!(runs[1]["stopped_at"].is_string());
    // paging by the header cursor
    let r = app.get("/api/runs?limit=1").send().await.unwrap();
    let next = r.headers()["x-next-cursor"].to_str().unwrap().to_owned();
    let first: Value = r.json().await.unwrap();
    assert_eq!(first.as_array().unwrap().len(), 1);
    let (_, second) = app
        .get_json(&format!("/api/runs?limit=1&cursor={next}"))
        .await;
    assert_eq!(second[0]["id"], earlier.id.as_str());
    let (status, current) = app
        .get_json(&format!("/api/runs/{}", run.id.as_str()))
        .await;
    assert_eq!(status, 200, "{current}");
    assert_eq!(current["status"], "running");
    assert_eq!(current["version"], "1.0.1");
    assert_eq!(current["stopped_at"], Value::Null);
    assert_eq!(current["tickets_done"], 1);
    assert_eq!(current["tickets_failed"], 0);
    assert_eq!(current["llm_calls"], 1);
    assert_eq!(current["cost_usd"], 0.4);
    assert!(current["elapsed_seconds"].is_u64());
    let (status, e) = app.get_json("/api/runs/no-such-run").await;
    assert_eq!((status, &e["code"]), (404, &json!(404)), "{e}");
    let (status, e) = app.get_json("/api/runs?cursor=garbage").await;
    assert_eq!(status, 400, "{e}");
    let (status, _) = app.get_json("/api/runs?limit=101").await;
    assert_eq!(status, 400);

    // status: the run's progress, and why no work is taken
    let (_, s) = app.get_json("/api/status").await;
    assert_eq!(s["run"]["run_id"], run.id.as_str());
    assert_eq!(s["run"]["completed"], 1);
    assert_eq!(s["run"]["total"], 2);
    assert_eq!(s["run"]["cost_usd"], 0.4);
    assert_eq!(s["run"]["llm_calls"], 1);
    assert!(s["run"]["estimated_remaining_seconds"].is_u64(), "{s}");
    assert_eq!(s["not_taking_work_because"], Value::Null);
    daemon.state.lock().unwrap().busy_slots = 2;
    let (_, s) = app.get_json("/api/status").await;
    assert_eq!(s["not_taking_work_because"], "no_slots");
    daemon.state.lock().unwrap().busy_slots = 0;
    let (status, m) = post(&app, "/api/daemon/drain", json!({})).await;
    assert_eq!(status, 200, "{m}");
    assert!(daemon.snapshot().draining);
    let (_, s) = app.get_json("/api/status").await;
    assert_eq!(s["not_taking_work_because"], "draining");
    let (status, _) = post(&app, "/api/daemon/resume", json!({})).await;
    assert_eq!(status, 200);
    assert!(!daemon.snapshot().draining, "resume ends a drain");
    let (status, _) = post(&app, "/api/daemon/pause", json!({})).await;
    assert_eq!(status, 200);
    let (_, s) = app.get_json("/api/status").await;
    assert_eq!(s["not_taking_work_because"], "paused");
    post(&app, "/api/daemon/resume", json!({})).await;
    // stopping needs an admin token
    let writer = app
        .token_with("writer", vec![foreman_domain::Scope::Write])
        .await;
    let r = app
        .client
        .post(app.url("/api/daemon/stop"))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(!daemon.snapshot().stopping);
    let (status, m) = post(&app, "/api/daemon/stop", json!({})).await;
    assert_eq!(status, 202, "{m}");
    assert!(daemon.snapshot().stopping);
    let (_, s) = app.get_json("/api/status").await;
    assert_eq!(s["not_taking_work_because"], "stopping");

    // without a daemon in the process: 409
    let bare = on(app.store.clone()).start().await;
    for path in ["/api/daemon/drain", "/api/daemon/stop"] {
        let (status, e) = post(&bare, path, json!({})).await;
        assert_eq!(status, 409, "{path}: {e}");
        assert_eq!(e["code"], 409);
    }

    logs(&app, &feed, &done).await;
}

async fn logs(app: &TestApp, feed: &foreman_events::logs::LogFeed, t: &Ticket) {
    let at = Utc::now() - Duration::minutes(10);
    let line = |level: LogLevel, msg: &str, ticket: Option<&Ticket>, minutes: i64| NewLogLine {
        at: at + Duration::minutes(minutes),
        level,
        target: "foreman_pipeline::daemon".into(),
        message: msg.into(),
        fields: Some(json!({"n": minutes})),
        ticket_id: ticket.map(|t| t.id.clone()),
        run_id: None,
    };
    let stored = app
        .store
        .append_logs(vec![
            line(LogLevel::Info, "claimed", Some(t), 0),
            line(LogLevel::Debug, "polling", None, 1),
            line(LogLevel::Warn, "slow provider", Some(t), 2),
            line(LogLevel::Error, "push failed", None, 3),
            line(LogLevel::Info, "merged", Some(t), 4),
        ])
        .await
        .unwrap();
    let messages = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|l| l["message"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = app.get_json("/api/logs").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        messages(&all),
        [
            "merged",
            "push failed",
            "slow provider",
            "polling",
            "claimed"
        ]
    );
    assert_eq!(all[0]["level"], "info");
    assert_eq!(all[0]["ticket_id"], t.id.to_string());
    assert_eq!(all[0]["fields"]["n"], 4);
    let (_, warn) = app.get_json("/api/logs?level=warn").await;
    assert_eq!(messages(&warn), ["push failed", "slow provider"]);
    let (_, of_ticket) = app.get_json(&format!("/api/logs?ticket_id={}", t.id)).await;
    assert_eq!(messages(&of_ticket), ["merged", "slow provider", "claimed"]);
    let since = (at + Duration::minutes(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (_, recent) = app.get_json(&format!("/api/logs?since={since}")).await;
    assert_eq!(
        messages(&recent),
        ["merged", "push failed", "slow provider"]
    );
    // pages of two, older ones through the cursor
    let r = app.get("/api/logs?limit=2").send().await.unwrap();
    let next = r.headers()["x-next-cursor"].to_str().unwrap().to_owned();
    let page: Value = r.json().await.unwrap();
    assert_eq!(messages(&page), ["merged", "push failed"]);
    let (_, page) = app
        .get_json(&format!("/api/logs?limit=2&cursor={next}"))
        .await;
    assert_eq!(messages(&page), ["slow provider", "polling"]);
    for (query, field) in [
        ("level=loud", "level"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=abc", "cursor"),
    ] {
        let (status, e) = app.get_json(&format!("/api/logs?{query}")).await;
        assert_400_naming(status, &e, field);
    }
    // a malformed resume header is refused with or without follow
    for query in ["", "?follow=true"] {
        let r = app
            .get(&format!("/api/logs{query}"))
            .header("last-event-id", "")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{query}");
        let e: Value = r.json().await.unwrap();
        assert!(
            e["error"].as_str().unwrap().contains("last-event-id"),
            "{e}"
        );
    }

    // follow: the stored lines after the cursor, as events with their ids
    let after = stored[2].id;
    let mut r = app
        .get(&format!("/api/logs?follow=true&cursor={after}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut text = String::new();
    while !text.contains("\"merged\"") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), r.chunk())
            .await
            .expect("the replay arrives")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains(&format!("id: {}", stored[3].id)), "{text}");
    assert!(text.contains("push failed"), "{text}");
    assert!(
        !text.contains("slow provider"),
        "a line before the cursor was replayed: {text}"
    );
    // then each line as it is stored, filtered like the page
    let live = app
        .store
        .append_logs(vec![line(LogLevel::Warn, "live line", None, 5)])
        .await
        .unwrap();
    feed.publish(Arc::new(live[0].clone()));
    while !text.contains("live line") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), r.chunk())
            .await
            .expect("the live line arrives")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains(&format!("id: {}", live[0].id)), "{text}");
}

// ---- notifications ----

async fn notifications_and_triggers(store: Arc<dyn Store>) {
    let app = on(store).start().await;
    let t = app.ticket("N-1", "notified").await;
    let mut ids = Vec::new();
    for (i, (trigger, severity)) in [
        (TriggerId::BudgetThreshold, NotificationSeverity::Warning),
        (TriggerId::TicketBlocked, NotificationSeverity::Critical),
        (TriggerId::PrMerged, NotificationSeverity::Info),
    ]
    .into_iter()
    .enumerate()
    {
        let n = app
            .store
            .record_notification(NewNotification {
                trigger,
                severity,
                message: format!("notification {i}"),
                ticket_id: Some(t.id.clone()),
                task_id: None,
                dedup_key: format!("key-{i}"),
                details: json!({"i": i}),
            })
            .await
            .unwrap()
            .expect("recorded");
        ids.push(n.id.to_string());
    }
    let (status, page) = app.get_json("/api/notifications").await;
    assert_eq!(status, 200, "{page}");
    let got: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["id"])
        .collect();
    assert_eq!(
        got,
        [&json!(ids[2]), &json!(ids[1]), &json!(ids[0])],
        "newest first"
    );
    assert_eq!(page["unacknowledged"], 3);
    assert_eq!(page["next_cursor"], Value::Null);
    assert_eq!(page["items"][1]["trigger"], "ticket_blocked");
    assert_eq!(page["items"][1]["severity"], "critical");
    assert_eq!(page["items"][1]["ticket_id"], t.id.to_string());
    assert_eq!(page["items"][1]["acknowledged"], false);
    let (_, critical) = app.get_json("/api/notifications?severity=critical").await;
    assert_eq!(critical["items"].as_array().unwrap().len(), 1);
    let (_, first) = app.get_json("/api/notifications?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, rest) = app
        .get_json(&format!("/api/notifications?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest["items"][0]["id"], ids[0]);
    for (query, field) in [
        ("severity=loud", "severity"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("acknowledged=maybe", "acknowledged"),
    ] {
        let (status, e) = app.get_json(&format!("/api/notifications?{query}")).await;
        assert_400_naming(status, &e, field);
    }

    let (status, n) = post(
        &app,
        &format!("/api/notifications/{}/acknowledge", ids[1]),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{n}");
    assert_eq!(n["acknowledged"], true);
    assert!(n["acknowledged_at"].is_string());
    // again: no change
    let (status, again) = post(
        &app,
        &format!("/api/notifications/{}/acknowledge", ids[1]),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again["acknowledged_at"], n["acknowledged_at"]);
    let (status, e) = post(&app, "/api/notifications/no-such-id/acknowledge", json!({})).await;
    assert_eq!((status, &e["code"]), (404, &json!(404)), "{e}");
    let (_, open) = app.get_json("/api/notifications?acknowledged=false").await;
    assert_eq!(open["items"].as_array().unwrap().len(), 2);
    assert_eq!(open["unacknowledged"], 2);
    let (status, all) = post(&app, "/api/notifications/acknowledge-all", json!({})).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["acknowledged"], 2);
    assert_eq!(all["success"], true);
    let (_, page) = app.get_json("/api/notifications").await;
    assert_eq!(page["unacknowledged"], 0);
    let (_, all) = post(&app, "/api/notifications/acknowledge-all", json!({})).await;
    assert_eq!(all["acknowledged"], 0);

    // triggers
    let (status, triggers) = app.get_json("/api/notifications/triggers").await;
    assert_eq!(status, 200, "{triggers}");
    let names: Vec<&str> = triggers["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "budget_threshold",
            "task_failures",
            "context_threshold",
            "ticket_blocked",
            "pr_merged",
            "daemon_stopped",
            "webhook_disabled",
            "rule_proposed"
        ]
    );
    let (status, changed) = put(
        &app,
        "/api/notifications/triggers",
        json!({"triggers": [
            {"id": "task_failures", "threshold": 5, "enabled": true},
            {"id": "budget_threshold", "periods": ["daily", "ticket"], "threshold": 90},
            {"id": "pr_merged", "enabled": false},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    let by_id = |v: &Value, id: &str| {
        v["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(&changed, "task_failures")["threshold"], 5);
    assert_eq!(
        by_id(&changed, "budget_threshold")["periods"],
        json!(["daily", "ticket"])
    );
    assert_eq!(by_id(&changed, "budget_threshold")["threshold"], 90);
    assert_eq!(by_id(&changed, "pr_merged")["enabled"], false);
    let (_, stored) = app.get_json("/api/notifications/triggers").await;
    assert_eq!(stored, changed, "the change is stored");
    for (body, field) in [
        (json!({"triggers": [{"id": "nonesuch"}]}), "triggers[0].id"),
        (
            json!({"triggers": [{"id": "task_failures", "threshold": 0}]}),
            "triggers[0].threshold",
        ),
        (
            json!({"triggers": [{"id": "task_failures", "threshold": 1001}]}),
            "triggers[0].threshold",
        ),
        (
            json!({"triggers": [{"id": "context_threshold", "threshold": 101}]}),
            "triggers[0].threshold",
        ),
        (
            json!({"triggers": [{"id": "budget_threshold", "periods": ["hourly"]}]}),
            "triggers[0].periods",
        ),
        // the first change is valid, the second is not: neither is applied
        (
            json!({"triggers": [{"id": "task_failures", "threshold": 7}, {"id": "pr_merged", "threshold": 3}]}),
            "triggers[1].threshold",
        ),
        (
            json!({"triggers": [{"id": "task_failures", "colour": "red"}]}),
            "colour",
        ),
    ] {
        let (status, e) = put(&app, "/api/notifications/triggers", body.clone()).await;
        assert_400_naming(status, &e, field);
    }
    let (_, after) = app.get_json("/api/notifications/triggers").await;
    assert_eq!(after, changed, "a refused change left the triggers alone");

    // retrospectives: none yet; bounds checked
    let (status, retros) = app.get_json("/api/retrospectives").await;
    assert_eq!((status, retros), (200, json!([])));
    let (status, e) = app.get_json("/api/retrospectives?limit=101").await;
    assert_400_naming(status, &e, "limit");
}

// ---- budget, prices, costs ----

async fn budget_pricing_and_costs(store: Arc<dyn Store>) {
    let app = on(store)
        .config(|c| {
            c.budgets = BudgetLimits {
                daily: Some(Micros(1_000_000)),
                ticket: Some(Micros(500_000)),
                alert_threshold_pct: 80,
                ..BudgetLimits::default()
            };
            c.pricing = foreman_domain::cost_report::PriceTableView {
                version: "2026-03-01+custom".into(),
                models: vec![foreman_domain::cost_report::PriceRow {
                    model: "claude-sonnet-4-6".into(),
                    input: Micros(3_000_000),
                    output: Micros(15_000_000),
                    cache_write: Micros(3_750_000),
                    cache_read: Micros(300_000),
                    source: foreman_domain::cost_report::PriceSource::Config,
                }],
                fallback: None,
            };
        })
        .start()
        .await;
    let merged = app.ticket("K-1", "merged").await;
    let merged = move_ticket(&app, &merged, TicketStatus::Merged).await;
    let failed = app.ticket("K-2", "failed").await;
    let failed = move_ticket(&app, &failed, TicketStatus::Failed).await;
    llm_call(
        &app,
        &merged,
        "claude-sonnet-4-6",
        "implementer",
        "builtin",
        100_000,
    )
    .await;
    llm_call(
        &app,
        &merged,
        "claude-haiku-4-5",
        "spec_reviewer",
        "builtin",
        50_000,
    )
    .await;
    llm_call(
        &app,
        &failed,
        "claude-sonnet-4-6",
        "implementer",
        "claude_code",
        100_000,
    )
    .await;

    let (status, b) = app.get_json("/api/budget").await;
    assert_eq!(status, 200, "{b}");
    let daily = &b["periods"][0];
    assert_eq!(daily["period"], "daily");
    assert_eq!(daily["limit_usd"], 1.0);
    assert_eq!(daily["used_usd"], 0.25);
    assert_eq!(daily["reserved_usd"], 0.0);
    assert_eq!(daily["remaining_usd"], 0.75);
    assert_eq!(daily["exceeded"], false);
    assert_eq!(daily["used_pct"], 25.0);
    let monthly = &b["periods"][1];
    assert_eq!(monthly["period"], "monthly");
    assert_eq!(monthly["limit_usd"], Value::Null);
    assert_eq!(monthly["remaining_usd"], Value::Null);
    assert_eq!(monthly["used_usd"], 0.25);
    assert_eq!(b["ticket_limit_usd"], 0.5);
    assert_eq!(b["task_limit_usd"], Value::Null);
    assert_eq!(b["alert_threshold_pct"], 80);
    assert_eq!(b["exceeded"], false);

    let (status, p) = app.get_json("/api/costs/pricing").await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["version"], "2026-03-01+custom");
    assert_eq!(
        p["models"][0],
        json!({"model": "claude-sonnet-4-6", "input_usd_per_mtok": 3.0, "output_usd_per_mtok": 15.0,
               "cache_write_usd_per_mtok": 3.75, "cache_read_usd_per_mtok": 0.3, "source": "config"})
    );
    assert_eq!(p["fallback"], Value::Null);

    let keys = |v: &Value| -> Vec<(String, f64)> {
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().unwrap().to_owned(),
                    g["cost_usd"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let today = Utc::now().date_naive().to_string();
    let (status, by_day) = app.get_json("/api/costs").await;
    assert_eq!(status, 200, "{by_day}");
    assert_eq!(by_day["group_by"], "day", "the default grouping");
    assert_eq!(keys(&by_day), [(today.clone(), 0.25)]);
    assert_eq!(by_day["total"]["calls"], 3);
    assert_eq!(by_day["total"]["tokens_input"], 3_000);
    assert_eq!(by_day["total"]["tokens_output"], 600);
    assert_eq!(by_day["total"]["cache_read_tokens"], 90);
    assert_eq!(by_day["total"]["cache_write_tokens"], 12);
    let mut seen = Vec::new();
    for group_by in ["day", "model", "role", "runner", "project", "ticket"] {
        let (status, report) = app
            .get_json(&format!("/api/costs?group_by={group_by}"))
            .await;
        assert_eq!(status, 200, "{group_by}: {report}");
        assert_eq!(report["group_by"], group_by);
        assert_eq!(report["total"]["cost_usd"], 0.25, "{group_by}: {report}");
        let mut k = keys(&report);
        k.sort_by(|a, b| a.0.cmp(&b.0));
        seen.push((group_by, k));
    }
    let expect = |pairs: &[(&str, f64)]| {
        pairs
            .iter()
            .map(|(k, c)| ((*k).to_owned(), *c))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        seen[1].1,
        expect(&[("claude-haiku-4-5", 0.05), ("claude-sonnet-4-6", 0.2)])
    );
    assert_eq!(
        seen[2].1,
        expect(&[("implementer", 0.2), ("spec_reviewer", 0.05)])
    );
    assert_eq!(
        seen[3].1,
        expect(&[("builtin", 0.15), ("claude_code", 0.1)])
    );
    assert_eq!(seen[4].1, expect(&[("default", 0.25)]));
    let mut tickets = vec![(merged.id.to_string(), 0.15), (failed.id.to_string(), 0.1)];
    tickets.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(seen[5].1, tickets);
    // a window without the calls
    let (_, old) = app
        .get_json("/api/costs?group_by=model&from=2020-01-01&to=2020-01-31")
        .await;
    assert_eq!(old["groups"], json!([]));
    assert_eq!(old["total"]["cost_usd"], 0.0);
    for (query, field) in [
        ("group_by=week", "group_by"),
        ("group_by=MODEL", "group_by"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("from=2000-01-01&to=2026-01-01", "from"),
    ] {
        let (status, e) = app.get_json(&format!("/api/costs?{query}")).await;
        assert_400_naming(status, &e, field);
    }

    let (status, m) = app.get_json("/api/costs/per-merged-pr").await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["merged_prs"], 1);
    assert_eq!(m["total_cost_usd"], 0.25);
    assert_eq!(m["merged_tickets_cost_usd"], 0.15);
    // all spend in the window, failures included, over the merges
    assert_eq!(m["cost_per_merged_pr_usd"], 0.25);
    let (_, none) = app
        .get_json("/api/costs/per-merged-pr?from=2020-01-01&to=2020-01-02")
        .await;
    assert_eq!(none["merged_prs"], 0);
    assert_eq!(none["cost_per_merged_pr_usd"], Value::Null);
    let (status, e) = app.get_json("/api/costs/per-merged-pr?to=soon").await;
    assert_400_naming(status, &e, "to");
}

// ---- stats and workers ----

/// Slots a test sets by hand.
#[derive(Default)]
struct FixedSlots(Mutex<Vec<SlotSnapshot>>);

impl WorkerSlots for FixedSlots {
    fn snapshot(&self) -> Vec<SlotSnapshot> {
        self.0.lock().unwrap().clone()
    }
}

async fn stats_and_workers(store: Arc<dyn Store>) {
    let slots = Arc::new(FixedSlots::default());
    let app = on(store).worker_slots(slots.clone()).start().await;
    let busy = app.ticket("W-1", "worked on").await;
    let busy = move_ticket(&app, &busy, TicketStatus::Implementing).await;
    for i in 0..3 {
        app.ticket(&format!("W-Q{i}"), "waiting").await;
    }
    *slots.0.lock().unwrap() = vec![
        SlotSnapshot {
            name: "node/slot-1".into(),
            ticket_id: Some(busy.id.clone()),
            started_at: Some(Utc::now()),
            completed: 2,
        },
        SlotSnapshot {
            name: "node/slot-2".into(),
            ticket_id: None,
            started_at: None,
            completed: 0,
        },
    ];
    let (status, w) = app.get_json("/api/workers").await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["running"], true);
    assert_eq!(w["workers"][0]["busy"], true);
    assert_eq!(w["workers"][0]["ticket_id"], busy.id.to_string());
    assert_eq!(w["workers"][0]["external_id"], "W-1");
    assert_eq!(w["workers"][0]["stage"], "implementing");
    assert_eq!(w["workers"][0]["completed"], 2);
    assert_eq!(w["workers"][1]["busy"], false);

    let (status, s) = app.get_json("/api/stats").await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["total"], 4);
    assert_eq!(s["by_status"], json!({"queued": 3, "implementing": 1}));
    assert_eq!(s["queue_length"], 3);
    assert_eq!(s["live_slots"], true);
    assert_eq!(s["slots"], json!({"total": 2, "busy": 1, "available": 1}));
    // nothing finished: no durations, no estimate
    assert_eq!(s["duration_sample"], 0);
    assert_eq!(s["mean_duration_secs"], Value::Null);
    assert_eq!(s["p90_duration_secs"], Value::Null);
    assert_eq!(s["estimated_wait_secs"], Value::Null);
    assert_eq!(s["cost_today_usd"], 0.0);
    for field in [
        "max_daily_usd",
        "max_monthly_usd",
        "max_ticket_usd",
        "alert_threshold_pct",
    ] {
        assert!(s["budgets"].get(field).is_some(), "{field}: {s}");
    }
}

/// With a finished ticket to take the mean from, each round of slots ahead adds one mean
/// duration; the estimates (and the list's `ETag`) stay put while the queue does not change.
async fn queue_estimates(store: Arc<dyn Store>) {
    let app = on(store).config(|c| c.execution_slots = 2).start().await;
    let done = app.ticket("E-0", "finished").await;
    let done = move_ticket(&app, &done, TicketStatus::Merged).await;
    app.store
        .update_ticket(
            &done.id,
            TicketPatch {
                started_at: Some(Some(done.completed_at.unwrap() - Duration::seconds(100))),
                ..TicketPatch::default()
            },
            None,
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 1..=5 {
        let (status, t) = post(
            &app,
            "/api/tickets",
            json!({"title": format!("queued {i}")}),
        )
        .await;
        assert_eq!(status, 201, "{t}");
        ids.push(t["id"].as_str().unwrap().to_owned());
    }
    let start = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["estimated_start"].as_str().unwrap()).unwrap()
    };
    let mut details = Vec::new();
    for id in &ids {
        let (_, d) = app.get_json(&format!("/api/tickets/{id}")).await;
        details.push(d);
    }
    let positions: Vec<&Value> = details.iter().map(|d| &d["queue_position"]).collect();
    assert_eq!(
        positions,
        [&json!(1), &json!(2), &json!(3), &json!(4), &json!(5)]
    );
    // two free slots: the first two start at once, then one mean (100 s) per round of two
    let base = start(&details[0]);
    let waits: Vec<i64> = details
        .iter()
        .map(|d| (start(d) - base).num_seconds())
        .collect();
    assert_eq!(waits, [0, 0, 100, 100, 200]);
    let r = app
        .get("/api/tickets?sort=created_asc&status=queued")
        .send()
        .await
        .unwrap();
    let tag = r.headers()["etag"].to_str().unwrap().to_owned();
    let first: Value = r.json().await.unwrap();
    let r = app
        .get("/api/tickets?sort=created_asc&status=queued")
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304, "the estimates moved without a change");
    assert_eq!(first[4]["estimated_start"], details[4]["estimated_start"]);
}

/// Every documented route that changes something refuses a `read` token with 403 (checked
/// before the body or the id is looked at), and stopping the daemon needs `admin`.
#[tokio::test]
async fn every_write_route_needs_the_write_scope() {
    let app = TestApp::start().await;
    let read = app
        .token_with("reader", vec![foreman_domain::Scope::Read])
        .await;
    let write = app
        .token_with("writer", vec![foreman_domain::Scope::Write])
        .await;
    let mut checked = 0;
    for (method, path) in crate::auth::documented_routes() {
        // `/mcp` carries read and write tools alike: each tool checks its scope
        // (tests/it/mcp.rs)
        if method == "GET" || path.starts_with("/api/webhooks/") || path == "/mcp" {
            continue;
        }
        let r = app
            .client
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(&read)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path} with a read token");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], 403, "{method} {path}: {body}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} write routes found");
    for path in ["/api/daemon/stop", "/api/tokens"] {
        let r = app
            .client
            .post(app.url(path))
            .bearer_auth(&write)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "POST {path} with a write token");
    }
}
