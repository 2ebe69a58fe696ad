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
