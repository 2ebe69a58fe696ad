//! Tasks: retry and context statistics.

use axum::Json;
use axum::extract::State;
use foreman_domain::{EventType, NewEvent, StoreError, Task, TaskId, TaskPatch, TaskStatus};
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
    let task = load_task(&state, &id).await?;
    if !task.status.can_retry() {
        return Err(ApiError::Conflict(format!(
            "task {id} is {}; only failed tasks can be retried",
            task.status
        )));
    }
    state
        .store()
        .transition_task(&task.id, task.status, TaskStatus::Pending, None)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { current, .. } => ApiError::Conflict(format!(
                "task {id} is {current}; only failed tasks can be retried"
            )),
            other => other.into(),
        })?;
    reset_attempts(state.store().as_ref(), &task.id).await?;
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

/// A retried task starts with fresh attempt counters (its own retry budget) and no error.
pub(crate) async fn reset_attempts(
    store: &dyn foreman_domain::Store,
    id: &TaskId,
) -> Result<(), StoreError> {
    store
        .update_task(
            id,
            TaskPatch {
                implementation_attempts: Some(0),
                spec_review_attempts: Some(0),
                quality_review_attempts: Some(0),
                last_error: Some(None),
                ..TaskPatch::default()
            },
            None,
        )
        .await
        .map(|_| ())
}
