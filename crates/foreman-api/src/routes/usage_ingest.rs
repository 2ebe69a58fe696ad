//! LLM usage reported from outside Foreman: `POST /api/llm/usage` records rows (one, or a
//! batch of up to 500 as `{"items": [...]}`) in the same ledger as Foreman's own calls;
//! `GET /api/llm/usage` lists calls of both sources, newest first, by cursor;
//! `GET /api/llm/usage/summary` sums them per model, project, ticket, session tag or day.
//!
//! The body is read field by field (not through serde's derive) so that every bad value is a
//! 400 naming its item and field (`items[3].model`); the rules themselves are the domain's
//! ([`foreman_domain::usage_ingest::prepare`]).

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use foreman_domain::TicketId;
use foreman_domain::usage_ingest::{
    MAX_INGEST_ROWS, UsageCursor, UsageDraft, UsageFilter, UsageGroup, UsageGroupBy, UsageOrigin,
    UsageRecord, UsageViolation, item_path, prepare,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ReadAuth, WriteAuth};
use crate::dto::usd;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::validate::Int;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest_usage, list_usage))
        .routes(routes!(usage_summary))
}

/// One reported LLM call.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(
    dead_code,
    reason = "the schema of the request body; the handler reads the JSON field by field to \
              name each bad field"
)]
pub(crate) struct UsageRowIn {
    /// The client's idempotency key (at most 200 bytes): a row whose key is already recorded is
    /// skipped and reported in `duplicates`, so a retried batch counts once.
    #[schema(example = "run-42-call-7")]
    id: Option<String>,
    /// Provider name.
    #[schema(example = "anthropic")]
    provider: String,
    /// Model name; rows without `cost_usd` are priced from the price table by it.
    #[schema(example = "claude-sonnet-4-5")]
    model: String,
    /// Uncached input tokens (default 0).
    input_tokens: Option<i64>,
    /// Output tokens (default 0).
    output_tokens: Option<i64>,
    /// Tokens read from the prompt cache (default 0).
    cache_read_tokens: Option<i64>,
    /// Tokens written to the prompt cache (default 0).
    cache_write_tokens: Option<i64>,
    /// Cost in USD. Without it the row is priced from the price table; a model the table does
    /// not list is then a 400 naming `model`.
    cost_usd: Option<f64>,
    /// Project name.
    project: Option<String>,
    /// The Foreman ticket the call was for (must exist); the row is added to its totals.
    ticket_id: Option<String>,
    /// A free-form tag grouping the calls of one session.
    session_tag: Option<String>,
    /// When the call was made (RFC 3339); default now. At most 5 minutes ahead of the server.
    timestamp: Option<DateTime<Utc>>,
}

/// A batch of reported calls.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code, reason = "the schema of the request body")]
pub(crate) struct UsageBatchIn {
    /// 1 to 500 rows, recorded all or nothing.
    items: Vec<UsageRowIn>,
}

/// One row, or a batch as `{"items": [...]}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code, reason = "the schema of the request body")]
pub(crate) enum UsageIngestIn {
    /// A batch.
    Batch(UsageBatchIn),
    /// One row.
    Single(UsageRowIn),
}

/// What an ingest recorded.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageIngested {
    /// Rows received.
    received: usize,
    /// Rows recorded.
    inserted: usize,
    /// Indices of rows skipped because their `id` was already recorded.
    duplicates: Vec<usize>,
    /// The recorded calls' ids, in item order (`null` for skipped rows).
    ids: Vec<Option<String>>,
    /// Rows priced from the price table (sent without `cost_usd`).
    priced: usize,
    /// The cost of the recorded rows, in USD.
    cost_usd: f64,
}

fn violation(v: &UsageViolation) -> ApiError {
    ApiError::BadRequest(v.to_string())
}

fn bad(index: Option<usize>, field: &str, message: &str) -> ApiError {
    ApiError::BadRequest(format!("{}: {message}", item_path(index, field)))
}

fn string_field(index: Option<usize>, field: &str, v: Value) -> ApiResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(bad(index, field, "expected a string")),
    }
}

fn int_field(index: Option<usize>, field: &str, v: &Value) -> ApiResult<Option<i64>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad(index, field, "expected a whole number of tokens")),
        _ => Err(bad(index, field, "expected a whole number of tokens")),
    }
}

/// One row of the body, field by field.
fn draft(index: Option<usize>, v: Value) -> ApiResult<UsageDraft> {
    let Value::Object(fields) = v else {
        return Err(bad(index, "", "expected an object"));
    };
    let mut d = UsageDraft::default();
    for (k, v) in fields {
        match k.as_str() {
            "id" => d.id = string_field(index, "id", v)?,
            "provider" => d.provider = string_field(index, "provider", v)?,
            "model" => d.model = string_field(index, "model", v)?,
            "project" => d.project = string_field(index, "project", v)?,
            "ticket_id" => d.ticket_id = string_field(index, "ticket_id", v)?,
            "session_tag" => d.session_tag = string_field(index, "session_tag", v)?,
            "timestamp" => d.timestamp = string_field(index, "timestamp", v)?,
            "input_tokens" => d.input_tokens = int_field(index, &k, &v)?,
            "output_tokens" => d.output_tokens = int_field(index, &k, &v)?,
            "cache_read_tokens" => d.cache_read_tokens = int_field(index, &k, &v)?,
            "cache_write_tokens" => d.cache_write_tokens = int_field(index, &k, &v)?,
            "cost_usd" => {
                d.cost_usd = match v {
                    Value::Null => None,
                    Value::Number(n) => n.as_f64(),
                    _ => return Err(bad(index, "cost_usd", "expected a number of dollars")),
                };
            }
            other => {
                let other: String = other.chars().take(64).collect();
                return Err(bad(index, &other, "unknown field"));
            }
        }
    }
    Ok(d)
}

/// The rows of a body and whether it was a batch.
fn drafts(body: Value) -> ApiResult<(Vec<UsageDraft>, bool)> {
    match body {
        Value::Object(mut map) if map.contains_key("items") => {
            if let Some(k) = map.keys().find(|k| *k != "items") {
                let k: String = k.chars().take(64).collect();
                return Err(ApiError::BadRequest(format!(
                    "{k}: unknown field (a batch is {{\"items\": [...]}})"
                )));
            }
            let Some(Value::Array(items)) = map.remove("items") else {
                return Err(ApiError::BadRequest(
                    "items: expected an array of rows".to_owned(),
                ));
            };
            if items.len() > MAX_INGEST_ROWS {
                return Err(ApiError::BadRequest(format!(
                    "items: at most {MAX_INGEST_ROWS} rows per request, got {}",
                    items.len()
                )));
            }
            let rows = items
                .into_iter()
                .enumerate()
                .map(|(i, v)| draft(Some(i), v))
                .collect::<ApiResult<Vec<_>>>()?;
            Ok((rows, true))
        }
        v @ Value::Object(_) => Ok((vec![draft(None, v)?], false)),
        Value::Array(_) => Err(ApiError::BadRequest(
            "expected one row or a batch as {\"items\": [...]}, got an array".to_owned(),
        )),
        _ => Err(ApiError::BadRequest(
            "expected one row or a batch as {\"items\": [...]}".to_owned(),
        )),
    }
}

/// Records LLM usage made outside Foreman: one row, or a batch of up to 500 as
/// `{"items": [...]}`, all or nothing. Rows count in costs and budgets like Foreman's own calls
/// (`source` `external`); rows without `cost_usd` are priced from the price table. Every bad
/// value is a 400 naming its item and field (`items[3].model`); a row whose `id` was already
/// recorded is skipped (`duplicates`).
#[utoipa::path(post, path = "/api/llm/usage", tag = "costs", request_body = UsageIngestIn,
    responses(
        (status = 200, description = "recorded", body = UsageIngested),
        (status = 400, description = "a bad row, naming its item and field", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody),
        (status = 403, description = "the token lacks the write scope", body = ErrorBody),
        (status = 413, description = "the body is too large", body = ErrorBody),
        (status = 415, description = "the body is not declared as JSON", body = ErrorBody)))]
pub(crate) async fn ingest_usage(
    _auth: WriteAuth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<UsageIngested>> {
    let (drafts, batch) = drafts(body)?;
    let pricer = state.usage_pricer();
    let rows = prepare(drafts, batch, Utc::now(), pricer.as_deref()).map_err(|v| violation(&v))?;
    // Name the first row of a missing ticket here, where the shape of the body is known (the
    // store checks again, inside its transaction).
    let mut tickets: BTreeMap<&TicketId, usize> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(t) = &r.ticket_id {
            tickets.entry(t).or_insert(i);
        }
    }
    for (t, i) in tickets {
        if state.store().get_ticket(t).await?.is_none() {
            return Err(bad(
                batch.then_some(i),
                "ticket_id",
                &format!("ticket {t} not found"),
            ));
        }
    }
    let received = rows.len();
    let priced = rows.iter().filter(|r| r.priced).count();
    let outcome = state.store().ingest_usage(rows).await?;
    tracing::info!(
        received,
        inserted = outcome.inserted(),
        duplicates = outcome.duplicates.len(),
        cost_micros = outcome.cost.0,
        "llm usage ingested"
    );
    Ok(Json(UsageIngested {
        received,
        inserted: outcome.inserted(),
        priced,
        duplicates: outcome.duplicates,
        ids: outcome
            .ids
            .into_iter()
            .map(|i| i.map(|i| i.to_string()))
            .collect(),
        cost_usd: usd(outcome.cost),
    }))
}

/// Filters of the usage listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsageQuery {
    /// Provider name.
    provider: Option<String>,
    /// Model name.
    model: Option<String>,
    /// Project (a row's own, else its ticket's).
    project: Option<String>,
    /// Ticket id.
    ticket_id: Option<String>,
    /// Session tag.
    session_tag: Option<String>,
    /// `foreman` (Foreman's own calls) or `external` (reported ones); default both.
    source: Option<String>,
    /// Start: a UTC date (`2026-12-01`, from its midnight) or an RFC 3339 time.
    from: Option<String>,
    /// End: a UTC date (`2026-12-07`, that whole day included) or an RFC 3339 time (excluded).
    to: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size: 1 to 500, default 50.
    #[param(inline)]
    limit: Option<Int<1, 500>>,
}

/// One LLM call, Foreman's own or reported.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageRecordDto {
    /// The call's id.
    id: String,
    /// `foreman` or `external`.
    #[schema(example = "external")]
    source: String,
    /// The client's idempotency key of a reported row.
    client_id: Option<String>,
    /// Provider name.
    provider: String,
    /// Model name.
    model: String,
    /// Pipeline role (`external` for reported rows).
    role: String,
    /// Runner (`external` for reported rows).
    runner: String,
    /// The row's project, else its ticket's.
    project: Option<String>,
    /// The ticket it is charged to.
    ticket_id: Option<String>,
    /// The task it was made for.
    task_id: Option<String>,
    /// Session tag.
    session_tag: Option<String>,
    /// Uncached input tokens.
    input_tokens: i64,
    /// Output tokens.
    output_tokens: i64,
    /// Tokens read from the prompt cache.
    cache_read_tokens: i64,
    /// Tokens written to the prompt cache.
    cache_write_tokens: i64,
    /// Cost in USD.
    cost_usd: f64,
    /// `success`, `error`, `rate_limited`, `timeout` or `budget_exceeded`.
    status: String,
    /// When the call was made.
    timestamp: DateTime<Utc>,
}

impl From<UsageRecord> for UsageRecordDto {
    fn from(r: UsageRecord) -> Self {
        Self {
            id: r.id.to_string(),
            source: r.source.as_str().to_owned(),
            client_id: r.external_id,
            provider: r.provider,
            model: r.model,
            role: r.role,
            runner: r.runner,
            project: r.project,
            ticket_id: r.ticket_id.map(|t| t.to_string()),
            task_id: r.task_id.map(|t| t.to_string()),
            session_tag: r.session_tag,
            input_tokens: r.tokens_input,
            output_tokens: r.tokens_output,
            cache_read_tokens: r.cache_read_tokens,
            cache_write_tokens: r.cache_write_tokens,
            cost_usd: usd(r.cost),
            status: r.status,
            timestamp: r.at,
        }
    }
}

/// A page of usage.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsagePageDto {
    /// Calls, newest first.
    items: Vec<UsageRecordDto>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// `from`/`to` as an instant; a date is its midnight, or the next midnight for an end.
fn instant(name: &str, value: &str, end: bool) -> ApiResult<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        return Ok(midnight(d));
    }
    Err(ApiError::BadRequest(format!(
        "{name}: expected a date (2026-12-07) or an RFC 3339 time (2026-12-07T10:00:00Z), got {value:?}"
    )))
}

fn opt(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn source(v: Option<String>) -> ApiResult<Option<UsageOrigin>> {
    opt(v)
        .map(|s| s.parse::<UsageOrigin>())
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("source: {e}")))
}

/// The `from` and `to` a query gave, if any.
type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn bounds(from: Option<String>, to: Option<String>) -> ApiResult<Bounds> {
    let from = opt(from).map(|v| instant("from", &v, false)).transpose()?;
    let to = opt(to).map(|v| instant("to", &v, true)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::BadRequest(format!("from: {f} is after to {t}")));
    }
    Ok((from, to))
}

/// LLM calls, Foreman's own (`source` `foreman`) and reported ones (`external`), newest first,
/// filtered; pages go on with `cursor`.
#[utoipa::path(get, path = "/api/llm/usage", tag = "costs", params(UsageQuery),
    responses(
        (status = 200, description = "a page of calls", body = UsagePageDto),
        (status = 400, description = "a bad parameter, named", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody)))]
pub(crate) async fn list_usage(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Json<UsagePageDto>> {
    let (from, to) = bounds(q.from, q.to)?;
    let filter = UsageFilter {
        provider: opt(q.provider),
        model: opt(q.model),
        project: opt(q.project),
        ticket_id: opt(q.ticket_id).map(TicketId::from),
        session_tag: opt(q.session_tag),
        source: source(q.source)?,
        from,
        to,
    };
    let cursor = opt(q.cursor).map(|c| UsageCursor::decode(&c)).transpose()?;
    let limit = q.limit.map_or(50, |l| l.to::<u32>());
    let page = state
        .store()
        .list_usage(&filter, cursor.as_ref(), limit)
        .await?;
    Ok(Json(UsagePageDto {
        items: page.items.into_iter().map(UsageRecordDto::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// A usage summary's grouping and window.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsageSummaryQuery {
    /// `model`, `project`, `ticket`, `session_tag` or `day` (default).
    group_by: Option<String>,
    /// Start: a UTC date or an RFC 3339 time; default 30 days before `to`.
    from: Option<String>,
    /// End: a UTC date (that whole day included) or an RFC 3339 time (excluded); default now.
    to: Option<String>,
    /// `foreman` or `external`; default both.
    source: Option<String>,
}

/// Sums of one group.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageGroupDto {
    /// The model, project, ticket id, session tag or day (`2026-12-07`); `""` for calls without
    /// one.
    key: String,
    /// Calls.
    calls: i64,
    /// Uncached input tokens.
    input_tokens: i64,
    /// Output tokens.
    output_tokens: i64,
    /// Tokens read from the prompt cache.
    cache_read_tokens: i64,
    /// Tokens written to the prompt cache.
    cache_write_tokens: i64,
    /// Cost in USD.
    cost_usd: f64,
}

impl From<&UsageGroup> for UsageGroupDto {
    fn from(g: &UsageGroup) -> Self {
        Self {
            key: g.key.clone(),
            calls: g.calls,
            input_tokens: g.tokens_input,
            output_tokens: g.tokens_output,
            cache_read_tokens: g.cache_read_tokens,
            cache_write_tokens: g.cache_write_tokens,
            cost_usd: usd(g.cost),
        }
    }
}

/// Usage summed per group.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageSummaryDto {
    /// The window's start (included).
    from: DateTime<Utc>,
    /// The window's end (excluded).
    to: DateTime<Utc>,
    /// The grouping.
    #[schema(example = "model")]
    group_by: String,
    /// Days in order; other groups by cost, highest first.
    groups: Vec<UsageGroupDto>,
    /// Sums over every group.
    total: UsageGroupDto,
}

/// The longest window a summary covers, in days.
const MAX_WINDOW_DAYS: i64 = 3660;

/// LLM usage (Foreman's own and reported) summed per model, project, ticket, session tag or
/// day over a window; an unknown `group_by` is a 400 listing the allowed values.
#[utoipa::path(get, path = "/api/llm/usage/summary", tag = "costs", params(UsageSummaryQuery),
    responses(
        (status = 200, description = "the groups", body = UsageSummaryDto),
        (status = 400, description = "a bad parameter, named (with the allowed values of `group_by`)", body = ErrorBody),
        (status = 401, description = "no valid token", body = ErrorBody)))]
pub(crate) async fn usage_summary(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<UsageSummaryQuery>,
) -> ApiResult<Json<UsageSummaryDto>> {
    let group_by: UsageGroupBy = opt(q.group_by)
        .as_deref()
        .unwrap_or("day")
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("group_by: {e}")))?;
    let (from, to) = bounds(q.from, q.to)?;
    let to = to.unwrap_or_else(Utc::now);
    let from = from.unwrap_or(to - chrono::Duration::days(30));
    if from > to {
        return Err(ApiError::BadRequest(format!(
            "from: {from} is after to {to}"
        )));
    }
    if (to - from).num_days() > MAX_WINDOW_DAYS {
        return Err(ApiError::BadRequest(format!(
            "from: the window may span at most {MAX_WINDOW_DAYS} days"
        )));
    }
    let filter = UsageFilter {
        source: source(q.source)?,
        from: Some(from),
        to: Some(to),
        ..UsageFilter::default()
    };
    let groups = state.store().usage_summary(&filter, group_by).await?;
    let mut total = UsageGroup::default();
    for g in &groups {
        total.calls += g.calls;
        total.tokens_input += g.tokens_input;
        total.tokens_output += g.tokens_output;
        total.cache_read_tokens += g.cache_read_tokens;
        total.cache_write_tokens += g.cache_write_tokens;
        total.cost += g.cost;
    }
    Ok(Json(UsageSummaryDto {
        from,
        to,
        group_by: group_by.as_str().to_owned(),
        groups: groups.iter().map(UsageGroupDto::from).collect(),
        total: UsageGroupDto::from(&total),
    }))
}
