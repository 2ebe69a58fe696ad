//! Checkpoints, rollback and diffs of a ticket: every completed task is a checkpoint (its
//! commit on the pushed task branch and the ticket's status then); a rollback puts the ticket
//! back to one (its branch through the [`BranchRewind`] port, its pipeline state in one store
//! compare-and-set); the diff is read from the project's repository through the
//! [`DiffSource`] port.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use foreman_domain::checkpoint::{BranchRewind, Checkpoint, DiffSource, check_rollback};
use foreman_domain::git::GitError;
use foreman_domain::{EventType, NewEvent, StoreError, Ticket};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::tickets::load_ticket;
use crate::auth::{ReadAuth, WriteAuth};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

/// Most bytes of the whole ticket's diff in a response.
pub(crate) const MAX_TICKET_DIFF_BYTES: usize = 1024 * 1024;
/// Most bytes of all task diffs together in a response (shared evenly, at least
/// [`MIN_TASK_DIFF_BYTES`] each).
pub(crate) const MAX_TASK_DIFFS_BYTES: usize = 1024 * 1024;
/// The least a task's diff gets.
pub(crate) const MIN_TASK_DIFF_BYTES: usize = 16 * 1024;
/// Longest checkpoint id accepted.
const MAX_CHECKPOINT_ID: usize = 100;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_checkpoints))
        .routes(routes!(rollback_ticket))
        .routes(routes!(ticket_diff))
}

/// A checkpoint: a completed task of the ticket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckpointView {
    /// Checkpoint id (what `POST /api/tickets/{id}/rollback` takes).
    pub id: String,
    /// The task.
    pub task_id: String,
    /// Its title.
    pub task: String,
    /// Its sequence in the plan.
    pub sequence: i32,
    /// Its commit.
    pub commit_sha: String,
    /// The pushed branch holding the commit.
    pub branch: String,
    /// The ticket's status when the task completed.
    pub ticket_status: String,
    /// When the task completed.
    pub created_at: DateTime<Utc>,
}

impl From<Checkpoint> for CheckpointView {
    fn from(c: Checkpoint) -> Self {
        Self {
            id: c.id,
            task_id: c.task_id.into_string(),
            task: c.title,
            sequence: c.sequence,
            commit_sha: c.commit_sha,
            branch: c.branch,
            ticket_status: c.ticket_status.to_string(),
            created_at: c.created_at,
        }
    }
}

/// A ticket's checkpoints, in completion order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckpointList {
    /// The ticket.
    pub ticket_id: String,
    /// Its current status.
    pub status: String,
    /// Checkpoints, oldest first.
    pub checkpoints: Vec<CheckpointView>,
}

/// The checkpoint to roll back to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// A checkpoint id of this ticket (`GET /api/tickets/{id}/checkpoints`).
    #[schema(min_length = 1, max_length = 100)]
    pub checkpoint_id: String,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RolledBack {
    /// The ticket.
    pub ticket_id: String,
    /// Its status now (`queued`).
    pub status: String,
    /// The status it left.
    pub from: String,
    /// The checkpoint it went back to.
    pub checkpoint: CheckpointView,
    /// The tasks put back to `pending`.
    pub tasks_reset: Vec<String>,
    /// The checkpoints dropped with them.
    pub checkpoints_dropped: Vec<String>,
    /// Whether the ticket branch was moved to the checkpoint's commit (false when the server
    /// has no repository for the project).
    pub branch_reset: bool,
}

/// One task's change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskDiff {
    /// The task.
    pub task_id: String,
    /// Its sequence.
    pub sequence: i32,
    /// Its title.
    pub task: String,
    /// Its commit.
    pub commit_sha: String,
    /// Unified diff of the task's change.
    pub diff: String,
    /// Whether `diff` was cut.
    pub truncated: bool,
    /// The full diff's size in bytes.
    pub total_bytes: u64,
}

/// A ticket's change: whole and per task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TicketDiff {
    /// The ticket.
    pub ticket_id: String,
    /// Its branch.
    pub branch: String,
    /// What the diff is against.
    #[schema(example = "the merge base with origin/main")]
    pub base: String,
    /// Unified diff of the branch against its base (what the pull request shows).
    pub diff: String,
    /// Whether `diff` was cut.
    pub truncated: bool,
    /// The full diff's size in bytes.
    pub total_bytes: u64,
    /// Why the text was cut, when it was.
    pub note: Option<String>,
    /// Each completed task's change, in completion order.
    pub tasks: Vec<TaskDiff>,
}

fn diff_source(state: &AppState) -> Option<Arc<dyn DiffSource>> {
    state
        .inner
        .diff_source
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

fn branch_rewind(state: &AppState) -> Option<Arc<dyn BranchRewind>> {
    state
        .inner
        .branch_rewind
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// A git failure as the API answers it: not found is a 404, bad input a 400, anything else a
/// 500 (logged).
fn git_error(e: GitError, what: &str) -> ApiError {
    match e {
        GitError::NotFound { what: missing } => {
            ApiError::NotFound(format!("{missing} not found for {what}"))
        }
        GitError::Invalid(msg) => ApiError::BadRequest(msg),
        other => ApiError::Internal(Box::new(other)),
    }
}

async fn checkpoints_of(state: &AppState, ticket: &Ticket) -> ApiResult<Vec<Checkpoint>> {
    Ok(state.store().list_checkpoints(&ticket.id).await?)
}

/// Every completed task of the ticket as a checkpoint, in completion order.
#[utoipa::path(get, path = "/api/tickets/{id}/checkpoints", tag = "tickets",
    params(("id" = String, Path, description = "ticket id")),
    responses((status = 200, description = "the checkpoints", body = CheckpointList),
        (status = 404, description = "no such ticket", body = ErrorBody)))]
pub(crate) async fn list_checkpoints(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CheckpointList>> {
    let ticket = load_ticket(&state, &id).await?;
    let checkpoints = checkpoints_of(&state, &ticket).await?;
    Ok(Json(CheckpointList {
        ticket_id: ticket.id.into_string(),
        status: ticket.status.to_string(),
        checkpoints: checkpoints.into_iter().map(CheckpointView::from).collect(),
    }))
}

/// Put the ticket back to a checkpoint: its branch is moved to the checkpoint's commit (and
/// pushed), the tasks completed after it go back to `pending` (their spend stays in the
/// history), and the ticket is queued again. Refused (409) while the ticket is running or in a
/// status without a rollback (queued, merged, done, ...).
#[utoipa::path(post, path = "/api/tickets/{id}/rollback", tag = "tickets",
    params(("id" = String, Path, description = "ticket id")),
    request_body = RollbackRequest,
    responses((status = 200, description = "rolled back and queued", body = RolledBack),
        (status = 400, description = "a bad body", body = ErrorBody),
        (status = 404, description = "no such ticket or checkpoint", body = ErrorBody),
        (status = 409, description = "the ticket is running, or cannot be rolled back from its status", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn rollback_ticket(
    auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RollbackRequest>,
) -> ApiResult<Json<RolledBack>> {
    let cp_id = body.checkpoint_id.trim();
    if cp_id.is_empty() || cp_id.len() > MAX_CHECKPOINT_ID {
        return Err(ApiError::BadRequest(format!(
            "checkpoint_id must be 1 to {MAX_CHECKPOINT_ID} characters"
        )));
    }
    let ticket = load_ticket(&state, &id).await?;
    let conflict = |e: StoreError| match e {
        StoreError::Conflict {
            current, expected, ..
        } => ApiError::Conflict(format!(
            "ticket {id} is {current}; a rollback needs {expected}"
        )),
        StoreError::NotFound {
            entity: "checkpoint",
            ..
        } => ApiError::not_found("checkpoint", cp_id),
        other => other.into(),
    };
    // What the store checks again in its compare-and-set, checked first so that a refused
    // rollback leaves the branch alone.
    check_rollback(&ticket, foreman_domain::now()).map_err(conflict)?;
    let checkpoints = checkpoints_of(&state, &ticket).await?;
    let target = checkpoints
        .iter()
        .find(|c| c.id == cp_id)
        .ok_or_else(|| ApiError::not_found("checkpoint", cp_id))?;
    // The branch first: a rolled-back ticket is queued at once, and the next run must find
    // its branch at the checkpoint.
    let rewind = branch_rewind(&state);
    if let Some(rewind) = &rewind {
        rewind
            .rewind_branch(&ticket.project, &ticket.branch_name, &target.commit_sha)
            .await
            .map_err(|e| git_error(e, &format!("ticket {id}")))?;
    }
    let r = state
        .store()
        .rollback_ticket(&ticket.id, cp_id)
        .await
        .map_err(conflict)?;
    state
        .emit(
            NewEvent::new(
                EventType::TicketRetried,
                format!(
                    "ticket rolled back to task {} ({}) from {}",
                    r.checkpoint.sequence,
                    &r.checkpoint.commit_sha[..r.checkpoint.commit_sha.len().min(10)],
                    r.from
                ),
            )
            .ticket(&r.ticket.id)
            .details(serde_json::json!({
                "by": auth.caller.name,
                "rollback": {
                    "checkpoint_id": r.checkpoint.id,
                    "task_id": r.checkpoint.task_id,
                    "commit_sha": r.checkpoint.commit_sha,
                    "tasks_reset": r.tasks_reset,
                    "branch_reset": rewind.is_some(),
                },
            })),
        )
        .await;
    Ok(Json(RolledBack {
        ticket_id: r.ticket.id.into_string(),
        status: r.ticket.status.to_string(),
        from: r.from.to_string(),
        checkpoint: r.checkpoint.into(),
        tasks_reset: r.tasks_reset.into_iter().map(|t| t.into_string()).collect(),
        checkpoints_dropped: r.checkpoints_dropped,
        branch_reset: rewind.is_some(),
    }))
}

/// The ticket's unified diff against its base (what its pull request shows), and each
/// completed task's change; size-capped, with `truncated` and a note when cut. 404 when the
/// ticket has no branch yet or the server has no repository for its project.
#[utoipa::path(get, path = "/api/tickets/{id}/diff", tag = "tickets",
    params(("id" = String, Path, description = "ticket id")),
    responses((status = 200, description = "the change", body = TicketDiff),
        (status = 404, description = "no such ticket, no branch yet, or no repository configured", body = ErrorBody)))]
pub(crate) async fn ticket_diff(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TicketDiff>> {
    let ticket = load_ticket(&state, &id).await?;
    let Some(source) = diff_source(&state) else {
        return Err(ApiError::NotFound(format!(
            "diffs are not available: no repository is configured for project {}",
            ticket.project
        )));
    };
    if ticket.branch_name.is_empty() {
        return Err(ApiError::NotFound(format!("ticket {id} has no branch yet")));
    }
    let what = format!("ticket {id}");
    let whole = source
        .branch_diff(&ticket.project, &ticket.branch_name, MAX_TICKET_DIFF_BYTES)
        .await
        .map_err(|e| git_error(e, &what))?;
    let checkpoints = checkpoints_of(&state, &ticket).await?;
    let share = (MAX_TASK_DIFFS_BYTES / checkpoints.len().max(1)).max(MIN_TASK_DIFF_BYTES);
    let mut tasks = Vec::with_capacity(checkpoints.len());
    let mut previous: Option<String> = None;
    for c in checkpoints {
        let d = source
            .commit_diff(&ticket.project, &c.commit_sha, previous.as_deref(), share)
            .await
            .map_err(|e| git_error(e, &what))?;
        previous = Some(c.commit_sha.clone());
        tasks.push(TaskDiff {
            task_id: c.task_id.into_string(),
            sequence: c.sequence,
            task: c.title,
            commit_sha: c.commit_sha,
            diff: d.text,
            truncated: d.truncated,
            total_bytes: d.total_bytes,
        });
    }
    let note = whole.truncated.then(|| {
        format!(
            "the diff is {} bytes; the first {MAX_TICKET_DIFF_BYTES} are shown",
            whole.total_bytes
        )
    });
    Ok(Json(TicketDiff {
        ticket_id: ticket.id.into_string(),
        branch: ticket.branch_name,
        base: "the merge base with the default branch on the remote".to_owned(),
        diff: whole.text,
        truncated: whole.truncated,
        total_bytes: whole.total_bytes,
        note,
        tasks,
    }))
}
