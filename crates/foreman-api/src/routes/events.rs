//! The global event feed and the active pipelines.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use foreman_domain::{EventFilter, TicketFilter, TicketId, TicketSort, TicketStatus};
use foreman_events::TypeFilter;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ReadAuth;
use crate::dto::{ActivePipeline, LiveEventDto};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::routes::tickets::DEFAULT_PAGE_LIMIT;
use crate::state::AppState;
use crate::validate::{Offset, PageLimit, Seq};

/// Most pipelines `GET /api/pipeline/active` lists.
pub const ACTIVE_PIPELINES_LIMIT: u32 = 200;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(active_pipelines))
}

/// Paging and filters for the global feed.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventQuery {
    /// Page size: default 50, from 1 to 500.
    #[param(inline)]
    limit: Option<PageLimit>,
    /// Events to skip.
    #[param(inline)]
    offset: Option<Offset>,
    /// Only this ticket's events.
    ticket_id: Option<String>,
    /// Only these types: comma-separated globs such as `ticket_*,task_*_fail` (a pattern with
    /// characters other than a-z, `_`, `*` and `?`, or one that matches no event type, is a
    /// 400).
    types: Option<String>,
    /// Only events after this seq.
    #[param(inline)]
    since_seq: Option<Seq>,
}

/// The global event feed across tickets, newest first, each with its ticket's title and
/// submitter.
#[utoipa::path(get, path = "/api/events", tag = "events", params(EventQuery),
    responses((status = 200, description = "events, newest first", body = [LiveEventDto])))]
pub(crate) async fn list_events(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> ApiResult<Response> {
    let types = TypeFilter::parse(q.types.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("types: {e}")))?;
    let filter = EventFilter {
        ticket_id: q.ticket_id.filter(|t| !t.is_empty()).map(TicketId::from),
        after_seq: q.since_seq.map(Seq::get),
        types: types.to_vec(),
        limit: q.limit.map_or(DEFAULT_PAGE_LIMIT, PageLimit::to),
        offset: q.offset.map_or(0, Offset::to),
        newest_first: true,
    };
    if filter.after_seq.is_none()
        && let Some(page) = recent_page(&state, &filter, &types).await?
    {
        return Ok(page);
    }
    let events = state.store().list_events(&filter).await?;
    let cache = &state.inner.live.cache;
    let mut out = Vec::with_capacity(events.len());
    for e in &events {
        let info = match &e.ticket_id {
            Some(id) => cache.get(id).await?,
            None => Default::default(),
        };
        out.push(LiveEventDto::from_event(e, info.title, info.submitter));
    }
    Ok(Json(out).into_response())
}

/// The page from the live relay's ring of recent events, already enriched and serialised,
/// when the ring holds it and is as new as the store (events appended by another process never
/// reach the ring, and then the store answers).
async fn recent_page(
    state: &AppState,
    filter: &EventFilter,
    types: &TypeFilter,
) -> ApiResult<Option<Response>> {
    let offset = usize::try_from(filter.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(filter.limit).unwrap_or(usize::MAX);
    let ticket = filter.ticket_id.as_ref();
    let Some((newest, page)) = state.inner.live.recent().newest(offset, limit, |e| {
        ticket.is_none_or(|t| e.ticket_id.as_ref() == Some(t)) && types.matches(e.event_type)
    }) else {
        return Ok(None);
    };
    if newest != state.store().latest_seq().await? {
        return Ok(None);
    }
    let mut body = Vec::with_capacity(2 + page.iter().map(|e| e.json.len() + 1).sum::<usize>());
    body.push(b'[');
    for (i, e) in page.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(e.json.as_bytes());
    }
    body.push(b']');
    Ok(Some(
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
    ))
}

/// Pipelines working now (tickets in planning, plan_validating, implementing, reviewing,
/// pr_created or decomposing), at most 200, most recently changed first.
#[utoipa::path(get, path = "/api/pipeline/active", tag = "events",
    responses((status = 200, description = "active pipelines", body = [ActivePipeline])))]
pub(crate) async fn active_pipelines(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<ActivePipeline>>> {
    let statuses: Vec<TicketStatus> = TicketStatus::ALL
        .iter()
        .copied()
        .filter(|s| s.is_active())
        .collect();
    let page = state
        .store()
        .list_tickets(&TicketFilter {
            statuses,
            sort: TicketSort::UpdatedDesc,
            limit: ACTIVE_PIPELINES_LIMIT,
            ..Default::default()
        })
        .await?;
    let mut out = Vec::with_capacity(page.items.len());
    for t in page.items {
        let tasks = state.store().list_tasks(&t.id).await?;
        let working = tasks
            .iter()
            .find(|task| {
                !task.status.is_terminal() && task.status != foreman_domain::TaskStatus::Pending
            })
            .or_else(|| tasks.iter().find(|task| !task.status.is_terminal()))
            .map(|task| task.sequence);
        let idle_seq = if tasks.is_empty() {
            0
        } else {
            t.last_completed_task_seq
        };
        let current_task_seq = working.unwrap_or(idle_seq);
        out.push(ActivePipeline {
            ticket_id: t.id.to_string(),
            external_id: t.external_id,
            title: t.title,
            current_stage: t.status,
            current_task_seq,
            total_tasks: i32::try_from(tasks.len()).unwrap_or(i32::MAX),
            started_at: t.started_at,
        });
    }
    Ok(Json(out))
}
