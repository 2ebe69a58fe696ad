//! Finished tickets, newest first: `GET /api/history`.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use foreman_domain::Ticket;
use foreman_domain::search::finished_at;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::search::{Cursor, SearchLimit};
use crate::auth::ReadAuth;
use crate::dto::usd;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::validate::Int;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(history))
}

/// A page of the history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// Tickets per page: default 20, from 1 to 100.
    #[param(inline)]
    limit: Option<SearchLimit>,
    /// `next_cursor` of the previous page.
    #[param(inline)]
    cursor: Option<Cursor>,
}

/// One finished ticket.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryEntry {
    /// Ticket id.
    id: String,
    /// The tracker's id.
    external_id: String,
    /// Project.
    project: String,
    /// Title.
    title: String,
    /// How it ended: its status (`merged`, `pr_closed`, `done`, `failed`, `blocked`, `partial`,
    /// `decomposed`).
    outcome: String,
    /// Why it failed or was blocked (`cancelled`, `budget`, `test`, ...), when it did.
    error_type: Option<String>,
    /// The pull request, when one was opened.
    pr_url: Option<String>,
    /// When work began; `null` when it never did (cancelled while queued, say).
    started_at: Option<DateTime<Utc>>,
    /// When it finished (for `partial` and `decomposed`: its last change).
    finished_at: DateTime<Utc>,
    /// From start to finish, in seconds; `null` when it never started.
    duration_secs: Option<f64>,
    /// Total spend in USD.
    cost_usd: f64,
    /// LLM calls made for it.
    llm_calls: i64,
}

/// A page of finished tickets.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryPage {
    /// Finished tickets, most recently finished first.
    items: Vec<HistoryEntry>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

impl From<Ticket> for HistoryEntry {
    fn from(t: Ticket) -> Self {
        let finished = finished_at(&t);
        #[allow(clippy::cast_precision_loss, reason = "durations far below 2^52 ms")]
        let duration_secs = t
            .started_at
            .map(|s| (finished - s).num_milliseconds().max(0) as f64 / 1000.0);
        Self {
            id: t.id.to_string(),
            outcome: t.status.to_string(),
            error_type: t.last_error_type,
            pr_url: Some(t.pr_url).filter(|u| !u.is_empty()),
            started_at: t.started_at,
            finished_at: finished,
            duration_secs,
            cost_usd: usd(t.cost),
            llm_calls: t.total_llm_calls,
            external_id: t.external_id,
            project: t.project,
            title: t.title,
        }
    }
}

/// Finished tickets (merged, closed, done, failed, blocked, partial, decomposed), most recently
/// finished first, with outcome, duration and cost; cursor-paginated.
#[utoipa::path(get, path = "/api/history", tag = "tickets", params(HistoryParams),
    responses((status = 200, description = "finished tickets, newest first", body = HistoryPage),
        (status = 400, description = "bad limit or cursor", body = ErrorBody)))]
pub(crate) async fn history(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> ApiResult<Json<HistoryPage>> {
    let cursor = p.cursor.map(|c| c.trimmed().to_owned());
    let page = state
        .store()
        .finished_tickets(p.limit.map_or(0, Int::to), cursor.as_deref())
        .await?;
    Ok(Json(HistoryPage {
        items: page.items.into_iter().map(HistoryEntry::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
