//! Tasks: retry and context statistics.

use axum::Json;
use axum::extract::State;
use foreman_domain::{EventType, NewEvent, StoreError, Task, TaskId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ReadAuth, WriteAuth};
use crate::dto::{TaskContext, TaskRetrying};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiPath;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(retry_task))
        .routes(routes!(task_context))
        .routes(routes!(task_transcript))
}

async fn load_task(state: &AppState, id: &str) -> ApiResult<Task> {
    state
        .store()
        .get_task(&TaskId::from(id))
        .await?
        .ok_or_else(|| ApiError::not_found("task", id))
}

/// Reset a failed task to `pending` so the pipeline runs it again; 409 for any other status.
#[utoipa::path(post, path = "/api/tasks/{id}/retry", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, description = "pending again", body = TaskRetrying),
        (status = 409, description = "the task is not failed", body = ErrorBody)))]
pub(crate) async fn retry_task(
    auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TaskRetrying>> {
    // One store operation: the status guard, the move to `pending` and the fresh attempt
    // counters happen together, so two concurrent retries cannot both succeed.
    let requeued = state
        .store()
        .requeue_task(&TaskId::from(id.as_str()), None)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => ApiError::not_found("task", &id),
            StoreError::Conflict { current, .. } => ApiError::Conflict(format!(
                "task {id} is {current}; only failed tasks can be retried"
            )),
            other => other.into(),
        })?;
    let task = requeued.task;
    state
        .emit(
            NewEvent::new(
                EventType::TaskRetried,
                format!("task {} reset to pending", task.sequence),
            )
            .ticket(&task.ticket_id)
            .task(&task.id)
            .details(serde_json::json!({ "by": auth.caller.name })),
        )
        .await;
    Ok(Json(TaskRetrying {
        status: "retrying".to_owned(),
        task_id: id,
    }))
}

/// Context budget and utilisation for a task (zeros before the task ran).
#[utoipa::path(get, path = "/api/tasks/{id}/context", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, description = "context statistics", body = TaskContext)))]
pub(crate) async fn task_context(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TaskContext>> {
    let task = load_task(&state, &id).await?;
    let c = task.context.unwrap_or_default();
    Ok(Json(TaskContext {
        budget: c.budget,
        used: c.used,
        utilization_pct: c.utilization_pct(),
        files_selected: c.files_selected,
        files_touched: c.files_touched,
        cache_hits: c.cache_hits,
    }))
}

/// One record of a task's transcript.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TranscriptEntryView {
    /// 1-based position.
    pub seq: i64,
    /// The implementation attempt it belongs to.
    pub attempt: i32,
    /// The agent's turn (0 outside an agent run).
    pub turn: i32,
    /// `prompt`, `assistant`, `tool_call`, `tool_result`, `note`, `test_run`, `lint` or
    /// `review`.
    pub kind: String,
    /// The tool, for calls and results.
    pub tool: Option<String>,
    /// The text (secrets redacted), at most 8 KiB.
    pub text: String,
    /// The text's size before it was clipped.
    pub bytes: u64,
    /// Whether the text was clipped.
    pub truncated: bool,
    /// A failed tool call, failing tests, a rejection.
    pub is_error: bool,
    /// Structured facts: a test run's `phase` and `outcome`, a review's `review`, `approved`
    /// and `issues`.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// When it was recorded.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A task's transcript.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TaskTranscript {
    /// The task.
    pub task_id: String,
    /// Its ticket.
    pub ticket_id: String,
    /// Whether the transcript reached its size cap (later records were dropped).
    pub full: bool,
    /// Records, oldest first.
    pub entries: Vec<TranscriptEntryView>,
}

/// What the agent did on the task, turn by turn: its tool calls with their inputs, the
/// commands' output (clipped, with the full size), the red and green test runs and the review
/// verdicts with their issues. Secrets are redacted before they are stored.
#[utoipa::path(get, path = "/api/tasks/{id}/transcript", tag = "tasks",
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, description = "the transcript", body = TaskTranscript),
        (status = 404, description = "no such task", body = ErrorBody)))]
pub(crate) async fn task_transcript(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TaskTranscript>> {
    let task = load_task(&state, &id).await?;
    let t = state.store().transcript(&task.id).await?;
    Ok(Json(TaskTranscript {
        task_id: task.id.into_string(),
        ticket_id: task.ticket_id.into_string(),
        full: t.full,
        entries: t
            .records
            .into_iter()
            .map(|r| TranscriptEntryView {
                seq: r.seq,
                attempt: r.attempt,
                turn: r.turn,
                kind: r.kind.to_string(),
                tool: r.tool,
                text: r.text,
                bytes: r.bytes,
                truncated: r.truncated,
                is_error: r.is_error,
                details: r.details,
                created_at: r.created_at,
            })
            .collect(),
    }))
}
