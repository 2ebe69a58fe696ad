//! Every contract route against a seeded store: shapes, field names and behaviour.

use chrono::Utc;
use foreman_domain::{
    EventType, LlmCallStatus, Micros, NewLlmCall, NewTask, Task, TaskContextStats, TaskPatch,
    TaskStatus, Ticket, TicketPatch, TicketStatus,
};
use serde_json::{Value, json};

use crate::support::TestApp;

/// Moves a ticket along allowed edges to `to`.
pub async fn move_ticket(app: &TestApp, t: &Ticket, to: TicketStatus) -> Ticket {
    use TicketStatus as S;
    let path: &[S] = match to {
        S::Queued => &[],
        S::Failed => &[S::Failed],
        S::Blocked => &[S::Blocked],
        S::Planning => &[S::Planning],
        S::Implementing => &[S::Planning, S::PlanValidating, S::Implementing],
        S::Reviewing => &[
            S::Planning,
            S::PlanValidating,
            S::Implementing,
            S::Reviewing,
        ],
        S::PrCreated => &[
            S::Planning,
            S::PlanValidating,
            S::Implementing,
            S::Reviewing,
            S::PrCreated,
        ],
        S::Merged => &[
            S::Planning,
            S::PlanValidating,
            S::Implementing,
            S::Reviewing,
            S::PrCreated,
            S::AwaitingMerge,
            S::Merged,
        ],
        S::Partial => &[S::Planning, S::PlanValidating, S::Implementing, S::Partial],
        other => panic!("no path to {other}"),
    };
    let mut current = t.clone();
    for &next in path {
        current = app
            .store
            .transition_ticket(&current.id, current.status, next, None)
            .await
            .unwrap();
    }
    current
}

pub async fn tasks(app: &TestApp, t: &Ticket, n: i32) -> Vec<Task> {
    app.store
        .create_tasks(
            &t.id,
            (1..=n)
                .map(|i| NewTask {
                    sequence: i,
                    title: format!("task {i}"),
                    description: format!("do step {i}"),
                    acceptance_criteria: "tests pass".into(),
                    complexity: 2,
                    ..Default::default()
                })
                .collect(),
            None,
        )
        .await
        .unwrap()
}

pub async fn call(app: &TestApp, t: &Ticket, task: Option<&Task>, role: &str, cost: i64) {
    app.store
        .record_llm_call(NewLlmCall {
            ticket_id: Some(t.id.clone()),
            task_id: task.map(|x| x.id.clone()),
            role: role.into(),
            provider: "anthropic".into(),
            model: "claude-sonnet-4-6".into(),
            runner: "builtin".into(),
            attempt: 1,
            tokens_input: 12_000,
            tokens_output: 2_500,
            cost: Micros(cost),
            duration_ms: 8_400,
            status: Some(LlmCallStatus::Success),
            prompt_version: Some(format!("sha256:{role}-v1")),
            ..Default::default()
        })
        .await
        .unwrap();
}

fn assert_fields(v: &Value, fields: &[&str]) {
    for f in fields {
        assert!(v.get(*f).is_some(), "missing {f} in {v}");
    }
}

#[tokio::test]
async fn health_and_status() {
    let app = TestApp::builder()
        .config(|c| c.version = "9.9.9".into())
        .start()
        .await;
    let r = app.client.get(app.url("/api/health")).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], "9.9.9");
    assert!(body["uptime"].as_str().unwrap().ends_with('s'));
    let (status, body) = app.get_json("/api/status").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "running");
    assert_eq!(body["version"], "9.9.9");
    assert_eq!(body["daemon_state"], "running");
    assert_eq!(body["channels"], json!({}));
    assert_eq!(body["mcp_servers"], json!({}));
    assert_fields(&body, &["uptime"]);
}

#[tokio::test]
async fn daemon_pause_and_resume_persist() {
    let app = TestApp::start().await;
    let r = app.post("/api/daemon/pause").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message": "daemon paused"})
    );
    assert_eq!(
        app.store
            .get_setting(foreman_domain::storage::DAEMON_STATE_KEY)
            .await
            .unwrap()
            .as_deref(),
        Some("paused")
    );
    assert_eq!(
        app.get_json("/api/status").await.1["daemon_state"],
        "paused"
    );
    let r = app.post("/api/daemon/resume").send().await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message": "daemon resumed"})
    );
    assert_eq!(
        app.get_json("/api/status").await.1["daemon_state"],
        "running"
    );
    let (_, events) = app.get_json("/api/events?types=daemon_*").await;
    let types: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["daemon_resumed", "daemon_paused"]);
}

#[tokio::test]
async fn ticket_list_filters_by_status_and_pages() {
    let app = TestApp::start().await;
    let a = app.ticket("PROJ-1", "Add user authentication").await;
    let b = app.ticket("PROJ-2", "Fix login").await;
    move_ticket(&app, &a, TicketStatus::Implementing).await;
    app.store
        .update_ticket(
            &b.id,
            TicketPatch {
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let (status, list) = app.get_json("/api/tickets").await;
    assert_eq!(status, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for t in list {
        assert_fields(
            t,
            &[
                "id",
                "external_id",
                "title",
                "status",
                "cost_usd",
                "created_at",
            ],
        );
    }
    let (_, only) = app.get_json("/api/tickets?status=implementing").await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["external_id"], "PROJ-1");
    assert_eq!(only[0]["status"], "implementing");
    let (_, both) = app
        .get_json("/api/tickets?status=implementing,queued")
        .await;
    assert_eq!(both.as_array().unwrap().len(), 2);
    // Paging with the cursor header.
    for i in 3..=7 {
        app.ticket(&format!("PROJ-{i}"), "more").await;
    }
    let r = app.get("/api/tickets?limit=3").send().await.unwrap();
    let cursor = r.headers()["x-next-cursor"].to_str().unwrap().to_owned();
    let first: Value = r.json().await.unwrap();
    assert_eq!(first.as_array().unwrap().len(), 3);
    let r = app
        .get(&format!("/api/tickets?limit=3&cursor={cursor}"))
        .send()
        .await
        .unwrap();
    let second: Value = r.json().await.unwrap();
    assert_eq!(second.as_array().unwrap().len(), 3);
    assert_ne!(first[0]["id"], second[0]["id"]);
    let (_, summaries) = app.get_json("/api/ticket-summaries?limit=2").await;
    assert_eq!(summaries.as_array().unwrap().len(), 2);
    assert_fields(
        &summaries[0],
        &[
            "id",
            "external_id",
            "title",
            "status",
            "cost_usd",
            "updated_at",
        ],
    );
}

#[tokio::test]
async fn ticket_detail_has_the_contract_fields() {
    let app = TestApp::start().await;
    let t = app.ticket("PROJ-123", "Add user authentication").await;
    let t = move_ticket(&app, &t, TicketStatus::Implementing).await;
    app.store
        .update_ticket(
            &t.id,
            TicketPatch {
                branch_name: Some("foreman/PROJ-123-add-auth".into()),
                started_at: Some(Some(foreman_domain::now())),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    call(&app, &t, None, "planner", 1_230_000).await;
    let (status, body) = app.get_json(&format!("/api/tickets/{}", t.id)).await;
    assert_eq!(status, 200);
    assert_fields(
        &body,
        &[
            "id",
            "external_id",
            "title",
            "description",
            "acceptance_criteria",
            "status",
            "branch_name",
            "pr_url",
            "cost_usd",
            "tokens_input",
            "tokens_output",
            "total_llm_calls",
            "is_partial",
            "last_completed_task_seq",
            "created_at",
            "started_at",
        ],
    );
    assert_eq!(body["status"], "implementing");
    assert_eq!(body["cost_usd"], 1.23);
    assert_eq!(body["tokens_input"], 12_000);
    assert_eq!(body["total_llm_calls"], 1);
    assert_eq!(body["pr_url"], "");
    assert_eq!(body["branch_name"], "foreman/PROJ-123-add-auth");
    let (status, body) = app.get_json("/api/tickets/no-such-ticket").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "ticket no-such-ticket not found");
}

#[tokio::test]
async fn local_tickets_are_created_with_generated_ids() {
    let app = TestApp::start().await;
    let writer = app
        .token_with("ops-bot", vec![foreman_domain::Scope::Write])
        .await;
    let mk = |body: Value| {
        let app = &app;
        let writer = writer.clone();
        async move {
            let r = app
                .client
                .post(app.url("/api/tickets"))
                .bearer_auth(writer)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, first) = mk(json!({"title": "Add search", "priority": 5, "labels": ["ui"]})).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["external_id"], "LOCAL-1");
    assert_eq!(first["status"], "queued");
    assert_eq!(first["submitter"], "ops-bot");
    assert_eq!(first["priority"], 5);
    assert_eq!(first["labels"], json!(["ui"]));
    let (_, second) = mk(json!({"title": "Add filters"})).await;
    assert_eq!(second["external_id"], "LOCAL-2");
    let (status, named) = mk(json!({"title": "Tracked", "external_id": "JIRA-9"})).await;
    assert_eq!(status, 201);
    assert_eq!(named["external_id"], "JIRA-9");
    let (status, dup) = mk(json!({"title": "Again", "external_id": "JIRA-9"})).await;
    assert_eq!(status, 409, "{dup}");
    // A taken LOCAL-n is skipped.
    let (_, after) = mk(json!({"title": "Skip", "external_id": "LOCAL-4"})).await;
    assert_eq!(after["external_id"], "LOCAL-4");
    let (_, next) = mk(json!({"title": "Next"})).await;
    assert_eq!(next["external_id"], "LOCAL-5");
    let (status, _) = mk(json!({"title": "   "})).await;
    assert_eq!(status, 400);
    let (status, bad) = mk(json!({"title": "x", "project": "Not Valid"})).await;
    assert_eq!(status, 400);
    assert!(
        bad["error"].as_str().unwrap().contains("project: "),
        "{bad}"
    );
    let (_, events) = app.get_json("/api/events?types=ticket_created").await;
    assert_eq!(events.as_array().unwrap().len(), 5);
    assert_eq!(events[0]["ticket_title"], "Next");
    assert_eq!(events[0]["submitter"], "ops-bot");
}

#[tokio::test]
async fn delete_cascades() {
    let app = TestApp::start().await;
    let t = app.ticket("DEL-1", "to delete").await;
    let ts = tasks(&app, &t, 2).await;
    call(&app, &t, Some(&ts[0]), "implementer", 10).await;
    app.publish(Some(&t), EventType::TaskStarted, "started")
        .await;
    let r = app
        .delete(&format!("/api/tickets/{}", t.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "deleted", "ticket_id": t.id.to_string()})
    );
    assert_eq!(app.get_json(&format!("/api/tickets/{}", t.id)).await.0, 404);
    assert!(app.store.get_task(&ts[0].id).await.unwrap().is_none());
    assert!(app.store.list_llm_calls(&t.id).await.unwrap().is_empty());
    let r = app
        .delete(&format!("/api/tickets/{}", t.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (_, events) = app.get_json("/api/events?types=ticket_deleted").await;
    assert_eq!(events[0]["details"]["ticket_id"], t.id.to_string());
    assert_eq!(events[0]["details"]["external_id"], "DEL-1");
}

#[tokio::test]
async fn tasks_events_and_llm_calls_of_a_ticket() {
    let app = TestApp::start().await;
    let t = app.ticket("T-1", "with parts").await;
    let ts = tasks(&app, &t, 2).await;
    call(&app, &t, Some(&ts[0]), "implementer", 210_000).await;
    app.store
        .update_task(
            &ts[0].id,
            TaskPatch {
                commit_sha: Some(Some("abc123".into())),
                implementation_attempts: Some(1),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let (status, list) = app.get_json(&format!("/api/tickets/{}/tasks", t.id)).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_fields(
        &list[0],
        &[
            "id",
            "ticket_id",
            "sequence",
            "title",
            "status",
            "implementation_attempts",
            "spec_review_attempts",
            "quality_review_attempts",
            "total_llm_calls",
            "commit_sha",
            "cost_usd",
        ],
    );
    assert_eq!(list[0]["sequence"], 1);
    assert_eq!(list[0]["commit_sha"], "abc123");
    assert_eq!(list[0]["cost_usd"], 0.21);
    assert_eq!(list[0]["total_llm_calls"], 1);

    let (_, calls) = app
        .get_json(&format!("/api/tickets/{}/llm-calls", t.id))
        .await;
    assert_eq!(calls.as_array().unwrap().len(), 1);
    assert_fields(
        &calls[0],
        &[
            "id",
            "ticket_id",
            "task_id",
            "role",
            "provider",
            "model",
            "attempt",
            "tokens_input",
            "tokens_output",
            "cost_usd",
            "duration_ms",
            "status",
            "created_at",
        ],
    );
    assert_eq!(calls[0]["status"], "success");
    assert_eq!(calls[0]["cost_usd"], 0.21);

    for i in 0..120 {
        app.publish(Some(&t), EventType::AgentTurn, &format!("turn {i}"))
            .await;
    }
    let (_, events) = app.get_json(&format!("/api/tickets/{}/events", t.id)).await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 100, "the last 100");
    assert_eq!(events[0]["message"], "turn 20");
    assert_eq!(events[99]["message"], "turn 119");
    assert_fields(
        &events[0],
        &[
            "id",
            "ticket_id",
            "task_id",
            "event_type",
            "severity",
            "message",
            "details",
            "created_at",
        ],
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64())
    );
    for sub in ["tasks", "events", "llm-calls"] {
        assert_eq!(
            app.get_json(&format!("/api/tickets/nope/{sub}")).await.0,
            404
        );
    }
}

#[tokio::test]
async fn cancel_stops_a_ticket_keeps_its_costs_and_refuses_a_finished_one() {
    let app = TestApp::start().await;
    let t = app.ticket("CAN-1", "cancel me").await;
    let t = move_ticket(&app, &t, TicketStatus::Implementing).await;
    let ts = tasks(&app, &t, 1).await;
    call(&app, &t, Some(&ts[0]), "implementer", 70).await;
    let spent = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .spend_between(
                    Utc::now() - chrono::Duration::days(1),
                    Utc::now() + chrono::Duration::days(1),
                )
                .await
                .unwrap()
        }
    };
    let before = spent(&app).await;
    let r = app
        .post(&format!("/api/tickets/{}/cancel", t.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "cancelled", "ticket_id": t.id.to_string(), "from": "implementing"})
    );
    let now = app.store.get_ticket(&t.id).await.unwrap().unwrap();
    assert_eq!(now.status, TicketStatus::Failed);
    assert_eq!(now.last_error.as_deref(), Some("cancelled"));
    assert!(
        now.fencing_token.0 > t.fencing_token.0,
        "the worker is fenced out"
    );
    // every cost row stays, and the budget still counts it
    assert_eq!(app.store.list_llm_calls(&t.id).await.unwrap().len(), 1);
    assert_eq!(spent(&app).await, before);
    // a finished (here: cancelled, so failed) ticket is a 409 naming its status
    let r = app
        .post(&format!("/api/tickets/{}/cancel", t.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("failed"), "{body}");
    assert_eq!(
        app.post("/api/tickets/nope/cancel")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // a queued ticket is cancelled at once too
    let q = app.ticket("CAN-2", "queued").await;
    let r = app
        .post(&format!("/api/tickets/{}/cancel", q.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.store.get_ticket(&q.id).await.unwrap().unwrap().status,
        TicketStatus::Failed
    );
}

#[tokio::test]
async fn ticket_retry_only_from_failed_blocked_or_partial() {
    let app = TestApp::start().await;
    for (to, ok) in [
        (TicketStatus::Failed, true),
        (TicketStatus::Blocked, true),
        (TicketStatus::Partial, true),
        (TicketStatus::Implementing, false),
        (TicketStatus::Merged, false),
        (TicketStatus::Queued, false),
    ] {
        let t = app.ticket(&format!("R-{to}"), "retry me").await;
        let t = move_ticket(&app, &t, to).await;
        let r = app
            .post(&format!("/api/tickets/{}/retry", t.id))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        if ok {
            assert_eq!(status, 200, "{to}: {body}");
            assert_eq!(
                body,
                json!({"status": "retrying", "ticket_id": t.id.to_string()})
            );
            let now = app.store.get_ticket(&t.id).await.unwrap().unwrap();
            assert_eq!(now.status, TicketStatus::Queued);
        } else {
            assert_eq!(status, 409, "{to}: {body}");
            assert!(
                body["error"].as_str().unwrap().contains(to.as_str()),
                "{body}"
            );
        }
    }
    assert_eq!(
        app.post("/api/tickets/nope/retry")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn task_retry_and_context() {
    let app = TestApp::start().await;
    let t = app.ticket("TR-1", "tasks").await;
    let ts = tasks(&app, &t, 2).await;
    app.store
        .transition_task(&ts[0].id, TaskStatus::Pending, TaskStatus::Failed, None)
        .await
        .unwrap();
    let r = app
        .post(&format!("/api/tasks/{}/retry", ts[0].id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "retrying", "task_id": ts[0].id.to_string()})
    );
    assert_eq!(
        app.store.get_task(&ts[0].id).await.unwrap().unwrap().status,
        TaskStatus::Pending
    );
    let r = app
        .post(&format!("/api/tasks/{}/retry", ts[1].id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(
        r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("pending")
    );
    assert_eq!(
        app.post("/api/tasks/nope/retry")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    app.store
        .update_task(
            &ts[1].id,
            TaskPatch {
                context: Some(TaskContextStats {
                    budget: 18_000,
                    used: 12_450,
                    files_selected: 14,
                    files_touched: 6,
                    cache_hits: 3,
                }),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let (_, ctx) = app
        .get_json(&format!("/api/tasks/{}/context", ts[1].id))
        .await;
    assert_eq!(
        ctx,
        json!({"budget": 18000, "used": 12450, "utilization_pct": 69.1, "files_selected": 14, "files_touched": 6, "cache_hits": 3})
    );
    let (_, empty) = app
        .get_json(&format!("/api/tasks/{}/context", ts[0].id))
        .await;
    assert_eq!(empty["budget"], 0);
    assert_eq!(app.get_json("/api/tasks/nope/context").await.0, 404);
}

#[tokio::test]
async fn the_global_feed_pages_newest_first_and_filters() {
    let app = TestApp::start().await;
    let t = app.ticket("F-1", "feed").await;
    for i in 0..30 {
        let ty = if i % 3 == 0 {
            EventType::TaskTestsFail
        } else {
            EventType::AgentTurn
        };
        app.publish(Some(&t), ty, &format!("e{i}")).await;
    }
    app.publish(None, EventType::DaemonStarted, "up").await;
    let (_, page) = app.get_json("/api/events?limit=5").await;
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 5);
    assert_eq!(page[0]["event_type"], "daemon_started");
    assert_eq!(page[0]["ticket_title"], Value::Null);
    assert_eq!(page[1]["message"], "e29");
    assert_eq!(page[1]["ticket_title"], "feed");
    assert_eq!(page[1]["submitter"], "alice@example.com");
    let (_, next) = app.get_json("/api/events?limit=5&offset=5").await;
    assert_eq!(next[0]["message"], "e25");
    let (_, fails) = app.get_json("/api/events?types=*_fail&limit=500").await;
    assert_eq!(fails.as_array().unwrap().len(), 10);
    let (_, all) = app.get_json("/api/events?limit=500").await;
    assert_eq!(all.as_array().unwrap().len(), 31);
    let (status, _) = app.get_json("/api/events?limit=100000").await;
    assert_eq!(status, 400, "past the documented maximum");
    let seq = page[2]["seq"].as_i64().unwrap();
    let (_, since) = app.get_json(&format!("/api/events?since_seq={seq}")).await;
    assert_eq!(since.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn active_pipelines_report_stage_and_task() {
    let app = TestApp::start().await;
    let t = app.ticket("PROJ-123", "Add user authentication").await;
    let t = move_ticket(&app, &t, TicketStatus::Implementing).await;
    let ts = tasks(&app, &t, 4).await;
    app.store
        .transition_task(
            &ts[0].id,
            TaskStatus::Pending,
            TaskStatus::Implementing,
            None,
        )
        .await
        .unwrap();
    app.store
        .transition_task(
            &ts[0].id,
            TaskStatus::Implementing,
            TaskStatus::Verifying,
            None,
        )
        .await
        .unwrap();
    app.store
        .transition_task(&ts[0].id, TaskStatus::Verifying, TaskStatus::Done, None)
        .await
        .unwrap();
    app.store
        .transition_task(
            &ts[1].id,
            TaskStatus::Pending,
            TaskStatus::Implementing,
            None,
        )
        .await
        .unwrap();
    let idle = app.ticket("PROJ-124", "waiting").await;
    let _ = idle;
    let (_, active) = app.get_json("/api/pipeline/active").await;
    let active = active.as_array().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["external_id"], "PROJ-123");
    assert_eq!(active[0]["current_stage"], "implementing");
    assert_eq!(active[0]["current_task_seq"], 2);
    assert_eq!(active[0]["total_tasks"], 4);
    assert_fields(&active[0], &["ticket_id", "title", "started_at"]);
}

#[tokio::test]
async fn costs_and_budgets() {
    let app = TestApp::builder()
        .config(|c| {
            c.budgets = foreman_domain::BudgetLimits {
                daily: Some(Micros(150_000_000)),
                monthly: Some(Micros(3_000_000_000)),
                ticket: Some(Micros(100_000_000)),
                task: None,
                alert_threshold_pct: 80,
            };
        })
        .start()
        .await;
    let t = app.ticket("C-1", "costly").await;
    call(&app, &t, None, "planner", 12_450_000).await;
    let today = Utc::now().date_naive().to_string();
    let (_, body) = app.get_json("/api/costs/today").await;
    assert_eq!(body, json!({"date": today, "cost_usd": 12.45}));
    let (_, week) = app.get_json("/api/costs/week").await;
    let week = week.as_array().unwrap();
    assert_eq!(week.len(), 7);
    assert_eq!(week[6], json!({"date": today, "cost_usd": 12.45}));
    assert!(week[..6].iter().all(|d| d["cost_usd"] == 0.0));
    let (_, month) = app.get_json("/api/costs/month").await;
    assert_eq!(month["month"], today[..7]);
    assert_eq!(month["cost_usd"], 12.45);
    let (_, budgets) = app.get_json("/api/costs/budgets").await;
    assert_eq!(
        budgets,
        json!({
            "max_daily_usd": 150.0, "max_monthly_usd": 3000.0, "max_ticket_usd": 100.0,
            "max_task_usd": null, "alert_threshold_pct": 80
        })
    );
}

#[tokio::test]
async fn stats_prs_and_prompt_versions() {
    let app = TestApp::start().await;
    let a = app.ticket("S-1", "merged one").await;
    let a = move_ticket(&app, &a, TicketStatus::Merged).await;
    app.store
        .update_ticket(
            &a.id,
            TicketPatch {
                pr_url: Some("https://git.example/pr/1".into()),
                pr_number: Some(Some(1)),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let b = app.ticket("S-2", "failed one").await;
    move_ticket(&app, &b, TicketStatus::Failed).await;
    app.ticket("S-3", "queued one").await;
    call(&app, &a, None, "planner", 1_000_000).await;
    call(&app, &a, None, "implementer", 2_000_000).await;
    call(&app, &b, None, "implementer", 500_000).await;

    let (_, team) = app.get_json("/api/stats/team").await;
    assert_eq!(
        team,
        json!([{
            "submitter": "alice@example.com", "tickets": 3, "completed": 1, "failed": 1,
            "in_progress": 1, "cost_usd": 3.5
        }])
    );
    let (_, prs) = app.get_json("/api/stats/recent-prs").await;
    let prs = prs.as_array().unwrap();
    assert_eq!(prs.len(), 1);
    assert_eq!(prs[0]["pr_url"], "https://git.example/pr/1");
    assert_eq!(prs[0]["status"], "merged");
    let (_, versions) = app.get_json("/api/prompts/versions").await;
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 2);
    let implementer = versions
        .iter()
        .find(|v| v["role"] == "implementer")
        .unwrap();
    assert_eq!(implementer["calls"], 2);
    assert_eq!(implementer["prompt_version"], "sha256:implementer-v1");
}

#[tokio::test]
async fn usage_activity_attributes_calls() {
    let app = TestApp::start().await;
    let t = app.ticket("U-1", "Add user auth").await;
    let ts = tasks(&app, &t, 1).await;
    call(&app, &t, Some(&ts[0]), "implementer", 140_000).await;
    call(&app, &t, None, "planner", 60_000).await;
    let (status, body) = app.get_json("/api/usage/activity").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["by_runner"],
        json!([{"runner": "builtin", "calls": 2, "tokens_in": 24000, "tokens_out": 5000, "cost_usd": 0.2}])
    );
    assert_eq!(body["by_model"][0]["model"], "anthropic:claude-sonnet-4-6");
    let roles = body["by_role"].as_array().unwrap();
    assert_eq!(roles.len(), 2);
    assert_eq!(roles[0]["role"], "implementer");
    assert_eq!(roles[0]["runner"], "builtin");
    assert_eq!(roles[0]["cost_usd"], 0.14);
    let recent = body["recent_calls"].as_array().unwrap();
    assert_eq!(recent.len(), 2);
    let implementer = recent.iter().find(|c| c["role"] == "implementer").unwrap();
    assert_eq!(implementer["ticket_title"], "Add user auth");
    assert_eq!(implementer["task_title"], "task 1");
    assert_fields(
        implementer,
        &[
            "ticket_id",
            "model",
            "runner",
            "status",
            "timestamp",
            "cost_usd",
            "tokens_in",
            "tokens_out",
            "duration_ms",
        ],
    );
}

#[tokio::test]
async fn config_summary_never_shows_a_whole_secret() {
    let app = TestApp::builder()
        .config(|c| {
            c.config_summary = json!({
                "llm": {"provider": "anthropic", "api_key": "sk-ant-api03-0123456789abcdefghij"},
                "rate_limit": {"requests_per_minute": 50}
            });
        })
        .start()
        .await;
    let (status, body) = app.get_json("/api/config/summary").await;
    assert_eq!(status, 200);
    assert_eq!(body["llm"]["api_key"], "sk-ant-a...");
    assert_eq!(body["llm"]["provider"], "anthropic");
    assert_eq!(body["rate_limit"]["requests_per_minute"], 50);
}
