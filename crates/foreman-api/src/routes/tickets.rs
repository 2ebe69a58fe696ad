//! Tickets: list, detail, create, delete, retry, and their tasks, events and LLM calls.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use foreman_domain::{
    EventFilter, EventType, MAX_PAGE_LIMIT, Micros, NewEvent, NewTicket, Page, StoreError, Ticket,
    TicketFilter, TicketId, TicketSort, TicketStatus,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ReadAuth, WriteAuth};
use crate::dto::{
    CreateTicket, EventDto, LlmCallDto, TaskDto, TicketDeleted, TicketDetail, TicketListItem,
    TicketRetrying, TicketSummary,
};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::middleware::etag_of;
use crate::state::AppState;

/// Events `GET /api/tickets/{id}/events` returns.
pub const TICKET_EVENTS_LIMIT: u32 = 100;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, create_ticket))
        .routes(routes!(get_ticket, delete_ticket))
        .routes(routes!(ticket_summaries))
        .routes(routes!(ticket_tasks))
        .routes(routes!(ticket_events))
        .routes(routes!(ticket_llm_calls))
        .routes(routes!(retry_ticket))
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
    /// `created_desc` (default), `created_asc` or `updated_desc`.
    sort: Option<String>,
    /// Page size: default 50, at most 500 (larger values are capped).
    limit: Option<u32>,
    /// Items to skip (ignored with `cursor`).
    offset: Option<u64>,
    /// The `X-Next-Cursor` header of the previous page.
    cursor: Option<String>,
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
        let sort = match self.sort.as_deref() {
            None | Some("created_desc") => TicketSort::CreatedDesc,
            Some("created_asc") => TicketSort::CreatedAsc,
            Some("updated_desc") => TicketSort::UpdatedDesc,
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "unknown sort {other:?}; valid values: created_desc, created_asc, updated_desc"
                )));
            }
        };
        Ok(TicketFilter {
            project: self.project.filter(|p| !p.is_empty()),
            statuses: parse_statuses(self.status.as_deref())?,
            search: self.search.filter(|s| !s.is_empty()),
            submitter: self.submitter.filter(|s| !s.is_empty()),
            parent_id: None,
            sort,
            limit: self.limit.unwrap_or(50).clamp(1, MAX_PAGE_LIMIT),
            offset: self.offset.unwrap_or(0),
            cursor: self.cursor.filter(|c| !c.is_empty()),
        })
    }
}

/// The two JSON shapes of a ticket page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageShape {
    /// `GET /api/tickets`: [`TicketListItem`]s.
    List,
    /// `GET /api/ticket-summaries`: [`TicketSummary`]s.
    Summaries,
}

impl PageShape {
    fn render(self, items: &[Ticket]) -> ApiResult<Vec<u8>> {
        let json = match self {
            Self::List => {
                serde_json::to_vec(&items.iter().map(TicketListItem::from).collect::<Vec<_>>())
            }
            Self::Summaries => {
                serde_json::to_vec(&items.iter().map(TicketSummary::from).collect::<Vec<_>>())
            }
        };
        json.map_err(ApiError::internal)
    }
}

/// A rendered page and what it was rendered from.
#[derive(Debug)]
struct Rendered {
    shape: PageShape,
    filter: TicketFilter,
    /// The store's ticket generation the page is known current at.
    generation: Option<u64>,
    page: Page<Ticket>,
    body: Bytes,
    etag: HeaderValue,
}

/// A rendered ticket detail and the ticket it was rendered from.
#[derive(Debug)]
struct RenderedTicket {
    /// The store's ticket generation the ticket is known current at.
    generation: Option<u64>,
    ticket: Ticket,
    body: Bytes,
    etag: HeaderValue,
}

/// Most rendered pages kept.
const RENDERED_PAGES: usize = 64;
/// Most rendered ticket details kept.
const RENDERED_TICKETS: usize = 1024;

/// Recently rendered ticket pages and details. A body is served from here only when the store
/// returned exactly what it was rendered from (the body is a function of that), or when the
/// store's ticket generation has not moved since it did, so it is never stale: the store
/// decides what is current, this saves the reading, serialisation and hashing of hot
/// responses.
#[derive(Debug, Default)]
pub(crate) struct RenderedResponses {
    entries: Mutex<Vec<Arc<Rendered>>>,
    tickets: Mutex<HashMap<TicketId, Arc<RenderedTicket>>>,
}

impl RenderedResponses {
    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Rendered>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The detail of ticket `id` rendered while the store's ticket generation was already
    /// `generation`.
    fn detail_at(&self, id: &str, generation: u64) -> Option<(Bytes, HeaderValue)> {
        let tickets = self.tickets.lock().unwrap_or_else(PoisonError::into_inner);
        let r = tickets.get(&TicketId::from(id))?;
        (r.generation == Some(generation)).then(|| (r.body.clone(), r.etag.clone()))
    }

    /// The body and tag of `ticket`'s detail (read at `generation`), rendered now or earlier.
    fn detail(&self, ticket: Ticket, generation: Option<u64>) -> ApiResult<(Bytes, HeaderValue)> {
        let known = self
            .tickets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&ticket.id)
            .cloned();
        let (body, etag) = match known {
            Some(r) if r.ticket == ticket => {
                if r.generation == generation {
                    return Ok((r.body.clone(), r.etag.clone()));
                }
                (r.body.clone(), r.etag.clone())
            }
            _ => {
                let body = Bytes::from(
                    serde_json::to_vec(&TicketDetail::from(&ticket)).map_err(ApiError::internal)?,
                );
                let etag = etag_of(&body);
                (body, etag)
            }
        };
        let mut tickets = self.tickets.lock().unwrap_or_else(PoisonError::into_inner);
        if tickets.len() >= RENDERED_TICKETS && !tickets.contains_key(&ticket.id) {
            tickets.clear();
        }
        tickets.insert(
            ticket.id.clone(),
            Arc::new(RenderedTicket {
                generation,
                ticket,
                body: body.clone(),
                etag: etag.clone(),
            }),
        );
        Ok((body, etag))
    }

    /// The page of `filter` in `shape` rendered while the store's ticket generation was already
    /// `generation`: its body, tag and next cursor.
    fn page_at(
        &self,
        shape: PageShape,
        filter: &TicketFilter,
        generation: u64,
    ) -> Option<(Bytes, HeaderValue, Option<String>)> {
        self.lock()
            .iter()
            .find(|r| r.shape == shape && r.filter == *filter && r.generation == Some(generation))
            .map(|r| (r.body.clone(), r.etag.clone(), r.page.next_cursor.clone()))
    }

    /// The body and tag of `page` (read at `generation`) in `shape`, rendered now or earlier.
    fn get_or_render(
        &self,
        shape: PageShape,
        filter: &TicketFilter,
        page: Page<Ticket>,
        generation: Option<u64>,
    ) -> ApiResult<(Bytes, HeaderValue)> {
        let known = self
            .lock()
            .iter()
            .find(|r| r.shape == shape && r.filter == *filter)
            .cloned();
        let (body, etag) = match known {
            Some(r) if same_listing(&r.page, &page) => {
                if r.generation == generation {
                    return Ok((r.body.clone(), r.etag.clone()));
                }
                (r.body.clone(), r.etag.clone())
            }
            _ => {
                let body = Bytes::from(shape.render(&page.items)?);
                let etag = etag_of(&body);
                (body, etag)
            }
        };
        let rendered = Arc::new(Rendered {
            shape,
            filter: filter.clone(),
            generation,
            page,
            body: body.clone(),
            etag: etag.clone(),
        });
        let mut entries = self.lock();
        entries.retain(|r| !(r.shape == shape && r.filter == *filter));
        if entries.len() >= RENDERED_PAGES {
            entries.remove(0);
        }
        entries.push(rendered);
        Ok((body, etag))
    }
}

/// The fields of a ticket that either page shape renders (cheapest to compare first).
#[allow(
    clippy::type_complexity,
    reason = "a tuple of borrowed fields is the point: it compares field by field"
)]
fn listed(
    t: &Ticket,
) -> (
    (
        DateTime<Utc>,
        TicketStatus,
        &TicketId,
        Micros,
        i64,
        bool,
        i32,
    ),
    (
        &str,
        &str,
        &str,
        &Option<String>,
        &str,
        &Option<String>,
        DateTime<Utc>,
    ),
) {
    (
        (
            t.updated_at,
            t.status,
            &t.id,
            t.cost,
            t.total_llm_calls,
            t.is_partial,
            t.priority,
        ),
        (
            &t.title,
            &t.external_id,
            &t.project,
            &t.submitter,
            &t.pr_url,
            &t.last_error,
            t.created_at,
        ),
    )
}

/// Whether two pages render the same in every [`PageShape`].
fn same_listing(a: &Page<Ticket>, b: &Page<Ticket>) -> bool {
    a.items.len() == b.items.len()
        && a.items
            .iter()
            .zip(&b.items)
            .all(|(x, y)| listed(x) == listed(y))
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
            let (body, etag) = state
                .inner
                .rendered
                .get_or_render(shape, &filter, page, generation)?;
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
    let (body, etag) = state.inner.rendered.detail(t, generation)?;
    Ok(json_response(body, etag))
}

/// Create a local ticket (not from a tracker); it starts `queued`.
///
/// Without `external_id`, one is generated as `LOCAL-<n>`. The submitter is the token's name.
#[utoipa::path(post, path = "/api/tickets", tag = "tickets", request_body = CreateTicket,
    responses((status = 201, description = "created", body = TicketDetail),
        (status = 409, description = "external_id already used in the project", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn create_ticket(
    auth: WriteAuth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateTicket>,
) -> ApiResult<impl IntoResponse> {
    let title = body.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 500 {
        return Err(ApiError::BadRequest(
            "title: must be 1 to 500 characters".to_owned(),
        ));
    }
    let project = body
        .project
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| state.config().default_project.clone());
    if !foreman_domain::project::is_valid_project_name(&project) {
        return Err(ApiError::BadRequest(format!(
            "project: {project:?} is not a valid project name (1 to 64 of a-z, 0-9, '-', '_')"
        )));
    }
    if let Some(ext) = &body.external_id
        && (ext.trim().is_empty() || ext.len() > 200)
    {
        return Err(ApiError::BadRequest(
            "external_id: must be 1 to 200 characters when given".to_owned(),
        ));
    }
    let new = NewTicket {
        project: project.clone(),
        external_id: String::new(),
        title,
        description: body.description,
        acceptance_criteria: body.acceptance_criteria,
        priority: body.priority,
        labels: body.labels,
        submitter: Some(auth.caller.name.clone()),
        parent_id: None,
    };
    let ticket = match body.external_id {
        Some(ext) => {
            state
                .store()
                .create_ticket(NewTicket {
                    external_id: ext.trim().to_owned(),
                    ..new
                })
                .await?
        }
        None => create_local(&state, new).await?,
    };
    state
        .emit(
            NewEvent::new(
                EventType::TicketCreated,
                format!("ticket {} created through the api", ticket.external_id),
            )
            .ticket(&ticket.id)
            .details(serde_json::json!({ "source": "api", "submitter": auth.caller.name })),
        )
        .await;
    Ok((StatusCode::CREATED, Json(TicketDetail::from(&ticket))))
}

/// Creates with the next free `LOCAL-<n>`.
async fn create_local(state: &AppState, new: NewTicket) -> ApiResult<Ticket> {
    let counts = state
        .store()
        .count_tickets_by_status(Some(&new.project))
        .await?;
    let mut n: i64 = counts.iter().map(|(_, c)| c).sum::<i64>() + 1;
    for _ in 0..100 {
        let attempt = NewTicket {
            external_id: format!("LOCAL-{n}"),
            ..new.clone()
        };
        match state.store().create_ticket(attempt).await {
            Ok(t) => return Ok(t),
            Err(StoreError::Duplicate { .. }) => n += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(
        "could not find a free LOCAL-<n> id; pass external_id".to_owned(),
    ))
}

/// Delete a ticket with its tasks, events and LLM calls.
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

#[cfg(test)]
mod tests {
    use foreman_domain::FencingToken;

    use super::*;

    fn ticket() -> Ticket {
        let at = foreman_domain::micros_to_time(1_700_000_000_000_000);
        let new = NewTicket {
            project: "default".into(),
            external_id: "X-1".into(),
            title: "title".into(),
            description: "description".into(),
            acceptance_criteria: "criteria".into(),
            priority: 1,
            labels: vec!["a".into()],
            submitter: Some("someone".into()),
            parent_id: None,
        };
        Ticket::from_new(TicketId::from("t-1"), "default".into(), new, at)
    }

    /// Every field of `Ticket`, changed one at a time.
    fn variants() -> Vec<(&'static str, Ticket)> {
        let t = ticket;
        let later = foreman_domain::micros_to_time(1_800_000_000_000_000);
        vec![
            (
                "id",
                Ticket {
                    id: TicketId::from("t-2"),
                    ..t()
                },
            ),
            (
                "project",
                Ticket {
                    project: "other".into(),
                    ..t()
                },
            ),
            (
                "external_id",
                Ticket {
                    external_id: "X-2".into(),
                    ..t()
                },
            ),
            (
                "title",
                Ticket {
                    title: "other".into(),
                    ..t()
                },
            ),
            (
                "description",
                Ticket {
                    description: "other".into(),
                    ..t()
                },
            ),
            (
                "acceptance_criteria",
                Ticket {
                    acceptance_criteria: "other".into(),
                    ..t()
                },
            ),
            (
                "status",
                Ticket {
                    status: TicketStatus::Planning,
                    ..t()
                },
            ),
            ("priority", Ticket { priority: 2, ..t() }),
            (
                "labels",
                Ticket {
                    labels: vec![],
                    ..t()
                },
            ),
            (
                "submitter",
                Ticket {
                    submitter: None,
                    ..t()
                },
            ),
            (
                "parent_id",
                Ticket {
                    parent_id: Some(TicketId::from("p")),
                    ..t()
                },
            ),
            (
                "branch_name",
                Ticket {
                    branch_name: "b".into(),
                    ..t()
                },
            ),
            (
                "pr_url",
                Ticket {
                    pr_url: "https://x/1".into(),
                    ..t()
                },
            ),
            (
                "pr_number",
                Ticket {
                    pr_number: Some(1),
                    ..t()
                },
            ),
            (
                "cost",
                Ticket {
                    cost: Micros(5),
                    ..t()
                },
            ),
            (
                "tokens_input",
                Ticket {
                    tokens_input: 1,
                    ..t()
                },
            ),
            (
                "tokens_output",
                Ticket {
                    tokens_output: 1,
                    ..t()
                },
            ),
            (
                "total_llm_calls",
                Ticket {
                    total_llm_calls: 1,
                    ..t()
                },
            ),
            (
                "is_partial",
                Ticket {
                    is_partial: true,
                    ..t()
                },
            ),
            (
                "last_completed_task_seq",
                Ticket {
                    last_completed_task_seq: 1,
                    ..t()
                },
            ),
            (
                "last_error",
                Ticket {
                    last_error: Some("e".into()),
                    ..t()
                },
            ),
            (
                "last_error_type",
                Ticket {
                    last_error_type: Some("e".into()),
                    ..t()
                },
            ),
            (
                "fencing_token",
                Ticket {
                    fencing_token: FencingToken(1),
                    ..t()
                },
            ),
            (
                "lease_owner",
                Ticket {
                    lease_owner: Some("w".into()),
                    ..t()
                },
            ),
            (
                "lease_expires_at",
                Ticket {
                    lease_expires_at: Some(later),
                    ..t()
                },
            ),
            (
                "created_at",
                Ticket {
                    created_at: later,
                    ..t()
                },
            ),
            (
                "updated_at",
                Ticket {
                    updated_at: later,
                    ..t()
                },
            ),
            (
                "started_at",
                Ticket {
                    started_at: Some(later),
                    ..t()
                },
            ),
            (
                "completed_at",
                Ticket {
                    completed_at: Some(later),
                    ..t()
                },
            ),
        ]
    }

    fn page(t: Ticket) -> Page<Ticket> {
        Page {
            items: vec![t],
            next_cursor: None,
        }
    }

    /// A rendered page is reused only when the store's page renders identically: for every
    /// field, `same_listing` says "same" exactly when both shapes render the same bytes.
    #[test]
    fn reuse_follows_what_the_shapes_render() {
        let base = ticket();
        for (field, changed) in variants() {
            let renders_same = [PageShape::List, PageShape::Summaries].iter().all(|shape| {
                shape.render(std::slice::from_ref(&base)).unwrap()
                    == shape.render(std::slice::from_ref(&changed)).unwrap()
            });
            assert_eq!(
                same_listing(&page(base.clone()), &page(changed.clone())),
                renders_same,
                "field {field}"
            );
        }
        assert!(!same_listing(
            &page(base.clone()),
            &Page {
                items: vec![],
                next_cursor: None
            }
        ));
    }

    #[test]
    fn a_changed_page_is_rendered_again() {
        let pages = RenderedResponses::default();
        let filter = TicketFilter::default();
        let (first, tag) = pages
            .get_or_render(PageShape::List, &filter, page(ticket()), None)
            .unwrap();
        let (again, same_tag) = pages
            .get_or_render(PageShape::List, &filter, page(ticket()), None)
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(tag, same_tag);
        assert_eq!(tag, etag_of(&first));
        let renamed = Ticket {
            title: "renamed".into(),
            ..ticket()
        };
        let (changed, new_tag) = pages
            .get_or_render(PageShape::List, &filter, page(renamed), None)
            .unwrap();
        assert_ne!(tag, new_tag);
        assert!(String::from_utf8_lossy(&changed).contains("renamed"));
        let (cards, _) = pages
            .get_or_render(PageShape::Summaries, &filter, page(ticket()), None)
            .unwrap();
        assert_ne!(cards, first, "each shape has its own rendering");
    }

    #[test]
    fn a_changed_ticket_is_rendered_again() {
        let rendered = RenderedResponses::default();
        let (first, tag) = rendered.detail(ticket(), None).unwrap();
        let (again, same_tag) = rendered.detail(ticket(), None).unwrap();
        assert_eq!((&first, &tag), (&again, &same_tag));
        assert_eq!(
            first,
            serde_json::to_vec(&TicketDetail::from(&ticket())).unwrap()
        );
        for (field, changed) in variants() {
            let expected = serde_json::to_vec(&TicketDetail::from(&changed)).unwrap();
            let (body, etag) = rendered.detail(changed, None).unwrap();
            assert_eq!(body, expected, "field {field}");
            assert_eq!(etag, etag_of(&body), "field {field}");
            // Back to the original for the next variant.
            assert_eq!(
                rendered.detail(ticket(), None).unwrap().0,
                first,
                "field {field}"
            );
        }
    }

    #[test]
    fn a_page_or_ticket_is_served_without_reading_only_at_its_generation() {
        let rendered = RenderedResponses::default();
        let filter = TicketFilter::default();
        assert!(rendered.page_at(PageShape::List, &filter, 7).is_none());
        let mut next = page(ticket());
        next.next_cursor = Some("c1".into());
        let (body, tag) = rendered
            .get_or_render(PageShape::List, &filter, next, Some(7))
            .unwrap();
        assert_eq!(
            rendered.page_at(PageShape::List, &filter, 7),
            Some((body.clone(), tag.clone(), Some("c1".into())))
        );
        assert!(rendered.page_at(PageShape::List, &filter, 8).is_none());
        assert!(rendered.page_at(PageShape::Summaries, &filter, 7).is_none());
        // read again under a newer generation, unchanged: the same body, now known at 8
        let (again, _) = rendered
            .get_or_render(PageShape::List, &filter, page(ticket()), Some(8))
            .unwrap();
        assert_eq!(again, body);
        assert!(rendered.page_at(PageShape::List, &filter, 8).is_some());
        assert!(rendered.page_at(PageShape::List, &filter, 7).is_none());
        // a store that cannot tell never serves without reading
        rendered
            .get_or_render(PageShape::List, &filter, page(ticket()), None)
            .unwrap();
        assert!(rendered.page_at(PageShape::List, &filter, 8).is_none());

        let t = ticket();
        let id = t.id.as_str().to_owned();
        let (detail, detail_tag) = rendered.detail(t, Some(3)).unwrap();
        assert_eq!(rendered.detail_at(&id, 3), Some((detail, detail_tag)));
        assert!(rendered.detail_at(&id, 4).is_none());
        assert!(rendered.detail_at("missing", 3).is_none());
    }
}
