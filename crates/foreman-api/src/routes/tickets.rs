//! Tickets: list, detail, create (`submit`), delete, retry, and their tasks, events and LLM
//! calls.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::sync::Arc;

use foreman_domain::{
    EventFilter, EventType, NewEvent, StoreError, Ticket, TicketFilter, TicketId, TicketSort,
    TicketStatus,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ReadAuth, WriteAuth};
use crate::dto::{
    EventDto, LlmCallDto, TaskDto, TicketCancelled, TicketDeleted, TicketDetail, TicketListItem,
    TicketRetrying, TicketSummary,
};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::queue::QueueView;
use crate::response_cache::PageShape;
use crate::state::AppState;
use crate::validate::{Offset, PageLimit};

pub(crate) mod submit;

/// Events `GET /api/tickets/{id}/events` returns.
pub const TICKET_EVENTS_LIMIT: u32 = 100;

/// Page size of the ticket lists and the event feed when the request names none.
pub(crate) const DEFAULT_PAGE_LIMIT: u32 = 50;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, submit::create_ticket))
        .routes(routes!(submit::create_ticket_batch))
        .routes(routes!(get_ticket, delete_ticket))
        .routes(routes!(ticket_summaries))
        .routes(routes!(ticket_tasks))
        .routes(routes!(ticket_events))
        .routes(routes!(ticket_llm_calls))
        .routes(routes!(retry_ticket))
        .routes(routes!(cancel_ticket))
}

/// Filters and paging for ticket lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TicketQuery {
    /// Only these statuses (comma-separated): queued, clarification_needed, planning,
    /// plan_validating, implementing, reviewing, pr_created, awaiting_merge, merged, pr_closed,
    /// decomposing, decomposed, done, failed, blocked, partial.
    status: Option<String>,
    /// Only this project.
    project: Option<String>,
    /// Case-insensitive substring of the title or external id.
    search: Option<String>,
    /// Only this submitter.
    submitter: Option<String>,
    /// Order: `created_desc` (default), `created_asc` or `updated_desc`.
    #[param(inline)]
    sort: Option<TicketOrder>,
    /// Page size: default 50, from 1 to 500.
    #[param(inline)]
    limit: Option<PageLimit>,
    /// Items to skip (ignored with `cursor`).
    #[param(inline)]
    offset: Option<Offset>,
    /// The `X-Next-Cursor` header of the previous page (any other value is a 400).
    cursor: Option<String>,
}

/// The order of a ticket list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TicketOrder {
    /// Newest first.
    CreatedDesc,
    /// Oldest first.
    CreatedAsc,
    /// Most recently changed first.
    UpdatedDesc,
}

pub(crate) fn parse_statuses(s: Option<&str>) -> ApiResult<Vec<TicketStatus>> {
    let Some(s) = s else {
        return Ok(Vec::new());
    };
    s.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<TicketStatus>()
                .map_err(|e| ApiError::BadRequest(e.to_string()))
        })
        .collect()
}

impl TicketQuery {
    fn into_filter(self) -> ApiResult<TicketFilter> {
        let sort = match self.sort.unwrap_or(TicketOrder::CreatedDesc) {
            TicketOrder::CreatedDesc => TicketSort::CreatedDesc,
            TicketOrder::CreatedAsc => TicketSort::CreatedAsc,
            TicketOrder::UpdatedDesc => TicketSort::UpdatedDesc,
        };
        Ok(TicketFilter {
            project: self.project.filter(|p| !p.is_empty()),
            statuses: parse_statuses(self.status.as_deref())?,
            search: self.search.filter(|s| !s.is_empty()),
            submitter: self.submitter.filter(|s| !s.is_empty()),
            parent_id: None,
            sort,
            limit: self.limit.map_or(DEFAULT_PAGE_LIMIT, PageLimit::to),
            offset: self.offset.map_or(0, Offset::to),
            cursor: self.cursor.filter(|c| !c.is_empty()),
        })
    }
}

/// One page of tickets as a JSON response with `X-Next-Cursor` and its `ETag`.
async fn page(state: &AppState, q: TicketQuery, shape: PageShape) -> ApiResult<Response> {
    let filter = q.into_filter()?;
    // read before the page: a write in between moves it, so the page is current at least
    // as of this number
    let generation = state.store().tickets_generation().await?;
    let known = generation.and_then(|g| state.inner.rendered.page_at(shape, &filter, g));
    let (body, etag, next) = match known {
        Some(hit) => hit,
        None => {
            let page = state.store().list_tickets(&filter).await?;
            let next = page.next_cursor.clone();
            let queue = if shape == PageShape::List
                && page.items.iter().any(|t| t.status == TicketStatus::Queued)
            {
                Some(queue_view(state, generation).await?)
            } else {
                None
            };
            let (body, etag) = state
                .inner
                .rendered
                .get_or_render_queued(shape, &filter, page, generation, queue)?;
            (body, etag, next)
        }
    };
    let mut response = json_response(body, etag);
    if let Some(next) = next
        && let Ok(v) = HeaderValue::from_str(&next)
    {
        response.headers_mut().insert("x-next-cursor", v);
    }
    Ok(response)
}

/// A 200 with a JSON body whose `ETag` is already known.
fn json_response(body: Bytes, etag: HeaderValue) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::ETAG, etag);
    response
}

/// List tickets, newest first.
///
/// Pages hold 50 tickets by default and at most 500; the `X-Next-Cursor` response header
/// continues the list.
#[utoipa::path(get, path = "/api/tickets", tag = "tickets", params(TicketQuery),
    responses((status = 200, description = "tickets", body = [TicketListItem],
        headers(("x-next-cursor" = String, description = "cursor of the next page, absent on the last")))))]
pub(crate) async fn list_tickets(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> ApiResult<Response> {
    page(&state, q, PageShape::List).await
}

/// Compact ticket cards for the dashboard's list view (same filters and caps as the list).
#[utoipa::path(get, path = "/api/ticket-summaries", tag = "tickets", params(TicketQuery),
    responses((status = 200, description = "ticket cards", body = [TicketSummary])))]
pub(crate) async fn ticket_summaries(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> ApiResult<Response> {
    page(&state, q, PageShape::Summaries).await
}

pub(crate) async fn load_ticket(state: &AppState, id: &str) -> ApiResult<Ticket> {
    state
        .store()
        .get_ticket(&TicketId::from(id))
        .await?
        .ok_or_else(|| ApiError::not_found("ticket", id))
}

/// One ticket in full.
#[utoipa::path(get, path = "/api/tickets/{id}", tag = "tickets",
    params(("id" = String, Path, description = "ticket id")),
    responses((status = 200, description = "the ticket", body = TicketDetail)))]
pub(crate) async fn get_ticket(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let generation = state.store().tickets_generation().await?;
    if let Some(g) = generation
        && let Some((body, etag)) = state.inner.rendered.detail_at(&id, g)
    {
        return Ok(json_response(body, etag));
    }
    let t = load_ticket(&state, &id).await?;
    let options = state.store().ticket_options(&t.id).await?;
    let queue = if t.status == TicketStatus::Queued {
        Some(queue_view(&state, generation).await?)
    } else {
        None
    };
    let (body, etag) = state
        .inner
        .rendered
        .detail_submitted(t, options, queue, generation)?;
    Ok(json_response(body, etag))
}

/// The queue as of `generation` (read before the tickets being rendered).
async fn queue_view(state: &AppState, generation: Option<u64>) -> ApiResult<Arc<QueueView>> {
    state
        .inner
        .queue
        .view(
            state.store().as_ref(),
            state.config().execution_slots,
            generation,
        )
        .await
}

/// Delete a ticket with its tasks and events.
///
/// Its LLM calls stay as tombstones that spend and budgets still count.
#[utoipa::path(delete, path = "/api/tickets/{id}", tag = "tickets",
    params(("id" = String, Path, description = "ticket id")),
    responses((status = 200, description = "deleted", body = TicketDeleted)))]
pub(crate) async fn delete_ticket(
    auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TicketDeleted>> {
    let ticket_id = TicketId::from(id.as_str());
    let existing = state.store().get_ticket(&ticket_id).await?;
    if !state.store().delete_ticket(&ticket_id).await? {
        return Err(ApiError::not_found("ticket", &id));
    }
    state.inner.live.cache.forget(&ticket_id);
    // The event cannot reference the deleted ticket row; the id goes in its details.
    state
        .emit(
            NewEvent::new(EventType::TicketDeleted, format!("ticket {id} deleted")).details(
                serde_json::json!({
                    "ticket_id": id,
                    "external_id": existing.as_ref().map(|t| t.external_id.clone()),
                    "title": existing.as_ref().map(|t| t.title.clone()),
                    "deleted_by": auth.caller.name,
                }),
            ),
        )
        .await;
    Ok(Json(TicketDeleted {
        status: "deleted".to_owned(),
        ticket_id: id,
    }))
}

/// A ticket's tasks by sequence.
#[utoipa::path(get, path = "/api/tickets/{id}/tasks", tag = "tickets",
    params(("id" = String, Path, description = "ticket id")),
    responses((status = 200, description = "tasks", body = [TaskDto])))]
pub(crate) async fn ticket_tasks(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<TaskDto>>> {
    let t = load_ticket(&state, &id).await?;
    let tasks = state.store().list_tasks(&t.id).await?;
    Ok(Json(tasks.iter().map(TaskDto::from).collect()))
}

/// A ticket's last 100 events, oldest first.
#[utoipa::path(get, path = "/api/tickets/{id}/events", tag = "tickets",
    params(("id" = String, Path, description = "ticket id")),
    responses((status = 200, description = "the last 100 events in seq order", body = [EventDto])))]
pub(crate) async fn ticket_events(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<EventDto>>> {
    let t = load_ticket(&state, &id).await?;
    let mut events = state
        .store()
        .list_events(&EventFilter {
            ticket_id: Some(t.id),
            limit: TICKET_EVENTS_LIMIT,
            newest_first: true,
            ..Default::default()
        })
        .await?;
    events.reverse();
    Ok(Json(events.iter().map(EventDto::from).collect()))
}

/// Every LLM call recorded for a ticket, oldest first.
#[utoipa::path(get, path = "/api/tickets/{id}/llm-calls", tag = "tickets",
    params(("id" = String, Path, description = "ticket id")),
    responses((status = 200, description = "llm calls", body = [LlmCallDto])))]
pub(crate) async fn ticket_llm_calls(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<LlmCallDto>>> {
    let t = load_ticket(&state, &id).await?;
    let calls = state.store().list_llm_calls(&t.id).await?;
    Ok(Json(calls.iter().map(LlmCallDto::from).collect()))
}

/// Reset a failed, blocked or partial ticket to `queued`; 409 names the current status
/// otherwise.
#[utoipa::path(post, path = "/api/tickets/{id}/retry", tag = "tickets",
    params(("id" = String, Path, description = "ticket id")),
    responses((status = 200, description = "queued again", body = TicketRetrying),
        (status = 409, description = "the ticket is not failed, blocked or partial", body = ErrorBody)))]
pub(crate) async fn retry_ticket(
    auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TicketRetrying>> {
    // One atomic store operation: status guard, ticket and task resets in one transaction.
    let requeued = state
        .store()
        .requeue_ticket(&TicketId::from(id.as_str()), None)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { current, .. } => ApiError::Conflict(format!(
                "ticket {id} is {current}; only failed, blocked or partial tickets can be retried"
            )),
            other => other.into(),
        })?;
    let (t, reset) = (&requeued.ticket, requeued.tasks_reset.len());
    state
        .emit(
            NewEvent::new(
                EventType::TicketRetried,
                format!("ticket reset from {} to queued", requeued.from),
            )
            .ticket(&t.id)
            .details(serde_json::json!({
                "from": requeued.from.as_str(),
                "by": auth.caller.name,
                "tasks_reset": reset,
            })),
        )
        .await;
    Ok(Json(TicketRetrying {
        status: "retrying".to_owned(),
        ticket_id: id,
    }))
}

/// Stop a ticket: it becomes `failed` with the error `cancelled` at once.
///
/// Every cost row is kept. A worker still running it is fenced out and stops at its next step
/// (its work so far stays on the ticket's branches); a cancelled ticket can be retried. 409
/// names the status of a ticket that has already finished.
#[utoipa::path(post, path = "/api/tickets/{id}/cancel", tag = "tickets",
    params(("id" = String, Path, description = "ticket id")),
    responses((status = 200, description = "cancelled", body = TicketCancelled),
        (status = 404, description = "no such ticket", body = ErrorBody),
        (status = 409, description = "the ticket has already finished", body = ErrorBody)))]
pub(crate) async fn cancel_ticket(
    auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TicketCancelled>> {
    let ticket_id = TicketId::from(id.as_str());
    let Some(before) = state.store().get_ticket(&ticket_id).await? else {
        return Err(ApiError::not_found("ticket", &id));
    };
    let t = state
        .store()
        .cancel_ticket(&ticket_id)
        .await
        .map_err(|e| match e {
            StoreError::Conflict { current, .. } => ApiError::Conflict(format!(
                "ticket {id} is {current}; a finished ticket cannot be cancelled"
            )),
            other => other.into(),
        })?;
    state
        .emit(
            NewEvent::new(
                EventType::TicketFailed,
                format!("ticket cancelled from {}", before.status),
            )
            .ticket(&t.id)
            .details(serde_json::json!({
                "reason": "cancelled",
                "from": before.status.as_str(),
                "by": auth.caller.name,
            })),
        )
        .await;
    Ok(Json(TicketCancelled {
        status: "cancelled".to_owned(),
        ticket_id: id,
        from: before.status.as_str().to_owned(),
    }))
}
