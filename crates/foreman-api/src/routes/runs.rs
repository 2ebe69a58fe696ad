//! Runs (one server session each) and the server's own log lines, paged or followed live.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use foreman_domain::runs::{LogFilter, LogLevel, LogLine, MAX_LOG_PAGE, Run, RunId};
use foreman_domain::{Scope, Store, TicketId};
use foreman_events::Delivery;
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ReadAuth, authenticate, bearer_from_header};
use crate::dto::usd;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::live::closed;
use crate::state::AppState;
use crate::validate::Int;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(logs))
}

/// A page size of the run list: 1 to 100.
type RunLimit = Int<1, { foreman_domain::runs::MAX_RUN_PAGE as i64 }>;
/// A page size of the log lines: 1 to 1000.
type LogLimit = Int<1, { MAX_LOG_PAGE as i64 }>;

/// One server session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub(crate) struct RunDto {
    /// Id.
    pub id: String,
    /// The node that ran it.
    pub node_id: String,
    /// The server version.
    pub version: String,
    /// `running`, `stopped` or `crashed` (found still open at the next start).
    #[schema(example = "stopped")]
    pub status: String,
    /// Start-up.
    pub started_at: DateTime<Utc>,
    /// When it ended; `null` while running. A crashed run ended at its last sign of life.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Its last sign of life.
    pub last_seen_at: DateTime<Utc>,
    /// Seconds from start to stop (or to now while running).
    pub elapsed_seconds: u64,
    /// Tickets that reached `merged` or `done` in the run.
    pub tickets_done: i64,
    /// Tickets that reached `failed` or `blocked` in the run.
    pub tickets_failed: i64,
    /// LLM calls recorded in the run.
    pub llm_calls: i64,
    /// Their cost, USD.
    pub cost_usd: f64,
}

impl RunDto {
    fn of(run: Run) -> Self {
        let now = foreman_domain::now();
        let elapsed = (run.window_end(now) - run.started_at)
            .to_std()
            .unwrap_or_default()
            .as_secs();
        Self {
            id: run.id.as_str().to_owned(),
            node_id: run.node_id,
            version: run.version,
            status: run.status.as_str().to_owned(),
            started_at: run.started_at,
            stopped_at: run.stopped_at,
            last_seen_at: run.last_seen_at,
            elapsed_seconds: elapsed,
            tickets_done: run.totals.tickets_done,
            tickets_failed: run.totals.tickets_failed,
            llm_calls: run.totals.llm_calls,
            cost_usd: usd(run.totals.cost),
        }
    }
}

/// Paging of the run list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunQuery {
    /// Page size: default 20, from 1 to 100.
    #[param(inline)]
    limit: Option<RunLimit>,
    /// The `X-Next-Cursor` header of the previous page (any other value is a 400).
    cursor: Option<String>,
}

fn with_next_cursor(mut response: Response, next: Option<String>) -> Response {
    if let Some(next) = next
        && let Ok(v) = HeaderValue::from_str(&next)
    {
        response.headers_mut().insert("x-next-cursor", v);
    }
    response
}

/// List runs, newest first.
///
/// A run is one server session from start-up to shutdown. Its totals are the tickets finished,
/// the LLM calls and their cost recorded while it ran (by every node sharing the database).
/// The `X-Next-Cursor` response header continues the list.
#[utoipa::path(get, path = "/api/runs", tag = "runs", params(RunQuery),
    responses((status = 200, description = "runs", body = [RunDto],
        headers(("x-next-cursor" = String, description = "cursor of the next page, absent on the last")))))]
pub(crate) async fn list_runs(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RunQuery>,
) -> ApiResult<Response> {
    let limit = q.limit.map_or(20, RunLimit::to);
    let cursor = q.cursor.as_deref().filter(|c| !c.is_empty());
    let page = state
        .store()
        .list_runs(limit, cursor)
        .await
        .map_err(|e| match e {
            foreman_domain::StoreError::Invalid(m) => ApiError::BadRequest(format!("cursor: {m}")),
            other => other.into(),
        })?;
    let body: Vec<RunDto> = page.items.into_iter().map(RunDto::of).collect();
    Ok(with_next_cursor(
        Json(body).into_response(),
        page.next_cursor,
    ))
}

/// A run by id.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "run id")),
    responses((status = 200, description = "the run", body = RunDto),
        (status = 404, description = "no such run", body = crate::error::ErrorBody)))]
pub(crate) async fn get_run(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RunDto>> {
    let run = state
        .store()
        .get_run(&RunId::from_string(id.clone()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run {id} not found")))?;
    Ok(Json(RunDto::of(run)))
}

/// One of the server's log lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub(crate) struct LogLineDto {
    /// Increases with every stored line; the cursor and the SSE `id`.
    pub id: i64,
    /// When it was emitted.
    pub at: DateTime<Utc>,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    #[schema(example = "info")]
    pub level: String,
    /// The emitting module.
    #[schema(example = "foreman_pipeline::daemon")]
    pub target: String,
    /// The message.
    pub message: String,
    /// The other fields of the line.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
    /// The ticket the line is about.
    pub ticket_id: Option<String>,
    /// The run that emitted it.
    pub run_id: Option<String>,
}

impl From<&LogLine> for LogLineDto {
    fn from(l: &LogLine) -> Self {
        Self {
            id: l.id,
            at: l.at,
            level: l.level.as_str().to_owned(),
            target: l.target.clone(),
            message: l.message.clone(),
            fields: l.fields.clone(),
            ticket_id: l.ticket_id.as_ref().map(|t| t.as_str().to_owned()),
            run_id: l.run_id.as_ref().map(|r| r.as_str().to_owned()),
        }
    }
}

/// Which log lines, and whether to follow.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogQuery {
    /// At least this severe: `error`, `warn`, `info`, `debug` or `trace` (default: all).
    level: Option<String>,
    /// Only lines about this ticket.
    ticket_id: Option<String>,
    /// Only lines emitted at or after this time (RFC 3339, e.g. `2026-12-07T08:00:00Z`).
    since: Option<String>,
    /// Page size: default 100, from 1 to 1000 (with `follow`, the first read of the replay).
    #[param(inline)]
    limit: Option<LogLimit>,
    /// The `X-Next-Cursor` header of the previous page; with `follow`, replay the lines after
    /// this id (like `Last-Event-ID`).
    cursor: Option<String>,
    /// Stream lines live as Server-Sent Events instead of answering one page.
    follow: Option<bool>,
    /// The token, for clients that cannot set headers (`EventSource`), with `follow` only.
    token: Option<String>,
}

fn parse_cursor(what: &str, s: &str) -> ApiResult<i64> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::BadRequest(format!("{what}: must be a log line id")))
}

impl LogQuery {
    fn filter(&self) -> ApiResult<LogFilter> {
        let level = self
            .level
            .as_deref()
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.parse::<LogLevel>()
                    .map_err(|e| ApiError::BadRequest(format!("level: {e}")))
            })
            .transpose()?;
        let since = self
            .since
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::BadRequest(
                            "since: expected an RFC 3339 time such as 2026-12-07T08:00:00Z"
                                .to_owned(),
                        )
                    })
            })
            .transpose()?;
        Ok(LogFilter {
            level,
            ticket_id: self
                .ticket_id
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(TicketId::from),
            since,
            limit: self.limit.map_or(100, LogLimit::to),
            ..LogFilter::default()
        })
    }

    fn cursor(&self) -> ApiResult<Option<i64>> {
        self.cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| parse_cursor("cursor", c))
            .transpose()
    }
}

/// The server's own log lines, newest first, or followed live.
///
/// Every line the server logs at the configured `[logs] level` or above is kept, with bounded
/// retention (`[logs] max_lines` and `max_age`). A page holds the newest lines matching the
/// filters; the `X-Next-Cursor` response header continues with older ones.
///
/// With `follow=true` the answer is an event stream: the stored lines after `cursor` (or the
/// `Last-Event-ID` header), else those since `since`, oldest first, then each new line as it
/// is stored. Each event's `id` is the line's id, so a reconnecting client
/// resumes where it stopped. Authenticate with `Authorization: Bearer` or `?token=`.
#[utoipa::path(get, path = "/api/logs", tag = "runs", params(LogQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "with follow: resume after this line id")),
    responses((status = 200, description = "log lines, newest first (an event stream of LogLineDto with follow=true)",
        content((Vec<LogLineDto> = "application/json"), (LogLineDto = "text/event-stream")),
        headers(("x-next-cursor" = String, description = "cursor of the next (older) page, absent on the last")))))]
pub(crate) async fn logs(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<LogQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let token = match bearer_from_header(&headers)? {
        Some(t) => Some(t),
        None if q.follow == Some(true) => q.token.clone(),
        None => None,
    };
    authenticate(&state, token.as_deref(), Scope::Read).await?;
    let filter = q.filter()?;
    let cursor = q.cursor()?;
    // checked whether or not it is used (only `follow` resumes from it): a malformed one is a
    // 400 either way
    let last_event_id = headers
        .get("last-event-id")
        .map(|v| parse_cursor("last-event-id", v.to_str().unwrap_or_default()))
        .transpose()?;
    if q.follow == Some(true) {
        return follow(&state, filter, last_event_id.or(cursor)).await;
    }
    let filter = LogFilter {
        before_id: cursor,
        newest_first: true,
        ..filter
    };
    let lines = state.store().list_logs(&filter).await?;
    let next = (lines.len() == filter.limit as usize)
        .then(|| lines.last().map(|l| l.id.to_string()))
        .flatten();
    let body: Vec<LogLineDto> = lines.iter().map(LogLineDto::from).collect();
    Ok(with_next_cursor(Json(body).into_response(), next))
}

/// A live follower: replayed lines first, then the feed, without gaps or repeats.
struct LogFollower {
    store: Arc<dyn Store>,
    sub: foreman_events::Subscription<Arc<LogLine>>,
    filter: LogFilter,
    /// The highest id sent (or skipped as replayed).
    last: i64,
    backlog: VecDeque<LogLine>,
    /// The last store read filled its page: more may be stored after it.
    more_stored: bool,
    closing: watch::Receiver<bool>,
}

impl LogFollower {
    /// Stored lines after `last` that match, oldest first.
    async fn catch_up(&mut self) -> ApiResult<()> {
        let lines = self
            .store
            .list_logs(&LogFilter {
                after_id: Some(self.last),
                newest_first: false,
                limit: MAX_LOG_PAGE,
                ..self.filter.clone()
            })
            .await?;
        self.more_stored = lines.len() == MAX_LOG_PAGE as usize;
        self.backlog.extend(lines);
        Ok(())
    }

    async fn next(&mut self) -> Option<LogLine> {
        loop {
            if let Some(line) = self.backlog.pop_front() {
                self.last = self.last.max(line.id);
                return Some(line);
            }
            if self.more_stored {
                if let Err(e) = self.catch_up().await {
                    tracing::warn!(error = %e, "log follower cannot read the store");
                    return None;
                }
                continue;
            }
            let delivery = tokio::select! {
                d = self.sub.recv() => d,
                () = closed(&mut self.closing) => return None,
            };
            match delivery? {
                Delivery::Item(line) => {
                    if line.id <= self.last {
                        continue;
                    }
                    self.last = line.id;
                    if line.matches(&self.filter) {
                        return Some((*line).clone());
                    }
                }
                Delivery::Lagged(_) => {
                    if let Err(e) = self.catch_up().await {
                        tracing::warn!(error = %e, "log follower cannot read the store");
                        return None;
                    }
                }
            }
        }
    }
}

async fn follow(state: &AppState, filter: LogFilter, resume: Option<i64>) -> ApiResult<Response> {
    let feed = state
        .inner
        .log_feed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .unwrap_or_default();
    // Subscribe before reading the store, so nothing stored in between is missed.
    let sub = feed.subscribe();
    let store = state.store().clone();
    let replay = if resume.is_some() || filter.since.is_some() {
        store
            .list_logs(&LogFilter {
                after_id: resume,
                newest_first: false,
                ..filter.clone()
            })
            .await?
    } else {
        Vec::new()
    };
    let last = replay.last().map(|l| l.id).or(resume).unwrap_or(0);
    let more_stored = replay.len() == filter.limit as usize;
    let mut follower = LogFollower {
        store,
        sub,
        filter,
        last,
        backlog: replay.into(),
        more_stored,
        closing: state.inner.closing.subscribe(),
    };
    if resume.is_none() && follower.backlog.is_empty() {
        // Nothing to replay: only lines stored from now on (the feed may still hold older
        // ones the subscription saw before the read).
        follower.last = follower
            .store
            .list_logs(&LogFilter {
                newest_first: true,
                limit: 1,
                ..LogFilter::default()
            })
            .await?
            .first()
            .map_or(0, |l| l.id);
    }
    let keepalive = state.config().keepalive_interval();
    Ok(Sse::new(log_events(follower))
        .keep_alive(KeepAlive::new().interval(keepalive).text("keepalive"))
        .into_response())
}

fn log_events(follower: LogFollower) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send {
    futures::stream::unfold(follower, |mut f| async move {
        let line = f.next().await?;
        let json = serde_json::to_string(&LogLineDto::from(&line)).ok()?;
        Some((
            Ok(SseEvent::default().id(line.id.to_string()).data(json)),
            f,
        ))
    })
}
