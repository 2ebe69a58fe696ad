//! Snapshots of representative responses, with ids and times redacted.

use foreman_domain::{EventType, TaskPatch, TicketPatch, TicketStatus};
use insta::assert_json_snapshot;
use serde_json::Value;

use crate::routes::{call, move_ticket, tasks};
use crate::support::TestApp;

async fn seeded() -> (TestApp, String) {
    let app = TestApp::start().await;
    let t = app.ticket("PROJ-123", "Add user authentication").await;
    let t = move_ticket(&app, &t, TicketStatus::Implementing).await;
    app.store
        .update_ticket(
            &t.id,
            TicketPatch {
                branch_name: Some("foreman/PROJ-123-add-auth".into()),
                last_completed_task_seq: Some(1),
                started_at: Some(Some(foreman_domain::now())),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let ts = tasks(&app, &t, 2).await;
    app.store
        .update_task(
            &ts[0].id,
            TaskPatch {
                commit_sha: Some(Some("abc123".into())),
                implementation_attempts: Some(1),
                spec_review_attempts: Some(1),
                quality_review_attempts: Some(1),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    call(&app, &t, Some(&ts[0]), "implementer", 210_000).await;
    call(&app, &t, None, "planner", 1_020_000).await;
    app.publish(
        Some(&t),
        EventType::TaskTddVerifyPass,
        "TDD verification passed",
    )
    .await;
    (app, t.id.to_string())
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[tokio::test]
async fn ticket_responses() {
    let (app, id) = seeded().await;
    assert_json_snapshot!("ticket_list", get(&app, "/api/tickets").await, {
        "[].id" => "[id]", "[].created_at" => "[time]", "[].updated_at" => "[time]",
    });
    assert_json_snapshot!("ticket_detail", get(&app, &format!("/api/tickets/{id}")).await, {
        ".id" => "[id]", ".created_at" => "[time]", ".updated_at" => "[time]", ".started_at" => "[time]",
    });
    assert_json_snapshot!("ticket_tasks", get(&app, &format!("/api/tickets/{id}/tasks")).await, {
        "[].id" => "[id]", "[].ticket_id" => "[id]", "[].created_at" => "[time]",
    });
    assert_json_snapshot!("ticket_events", get(&app, &format!("/api/tickets/{id}/events")).await, {
        "[].id" => "[id]", "[].ticket_id" => "[id]", "[].created_at" => "[time]", "[].seq" => "[seq]",
    });
    assert_json_snapshot!("ticket_llm_calls", get(&app, &format!("/api/tickets/{id}/llm-calls")).await, {
        "[].id" => "[id]", "[].ticket_id" => "[id]", "[].task_id" => "[id]", "[].created_at" => "[time]",
    });
    assert_json_snapshot!("pipeline_active", get(&app, "/api/pipeline/active").await, {
        "[].ticket_id" => "[id]", "[].started_at" => "[time]",
    });
}

#[tokio::test]
async fn system_and_usage_responses() {
    let (app, _) = seeded().await;
    assert_json_snapshot!("status", get(&app, "/api/status").await, {
        ".version" => "[version]", ".uptime" => "[uptime]", ".uptime_seconds" => "[uptime]",
    });
    assert_json_snapshot!("usage_activity", get(&app, "/api/usage/activity").await, {
        ".recent_calls[].ticket_id" => "[id]", ".recent_calls[].timestamp" => "[time]",
    });
    assert_json_snapshot!("budgets", get(&app, "/api/costs/budgets").await);
    let r = app.get("/api/tickets/missing").send().await.unwrap();
    assert_json_snapshot!("not_found", r.json::<Value>().await.unwrap());
}
