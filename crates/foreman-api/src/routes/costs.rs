//! Spend today, this week and this month, the configured budgets (all UTC), the price table,
//! costs grouped over a window and the cost per merged pull request.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use foreman_domain::cost_report::{CostGroup, CostGroupBy, PriceRow, PriceSource};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ReadAuth;
use crate::dto::{Budgets, DayCost, MonthCost, usd};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(cost_today))
        .routes(routes!(cost_week))
        .routes(routes!(cost_month))
        .routes(routes!(budgets))
        .routes(routes!(pricing))
        .routes(routes!(cost_breakdown))
        .routes(routes!(cost_per_merged_pr))
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// Spend so far today (UTC).
#[utoipa::path(get, path = "/api/costs/today", tag = "costs",
    responses((status = 200, description = "today's spend", body = DayCost)))]
pub(crate) async fn cost_today(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<DayCost>> {
    let today = Utc::now().date_naive();
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap_or(today);
    let spent = state
        .store()
        .spend_between(midnight(today), midnight(tomorrow))
        .await?;
    Ok(Json(DayCost {
        date: today,
        cost_usd: usd(spent),
    }))
}

/// Spend per day for the last seven days including today, oldest first: always seven
/// entries, zero-filled.
#[utoipa::path(get, path = "/api/costs/week", tag = "costs",
    responses((status = 200, description = "seven days of spend", body = [DayCost])))]
pub(crate) async fn cost_week(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<DayCost>>> {
    let today = Utc::now().date_naive();
    let from = today.checked_sub_days(Days::new(6)).unwrap_or(today);
    let days = state.store().daily_spend(from, today).await?;
    // Zero-fill defensively so the shape never depends on the backend.
    let mut out = Vec::with_capacity(7);
    let mut d = from;
    while d <= today {
        let cost = days
            .iter()
            .find(|s| s.date == d)
            .map_or(0.0, |s| usd(s.cost));
        out.push(DayCost {
            date: d,
            cost_usd: cost,
        });
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    Ok(Json(out))
}

/// Spend in the current calendar month (UTC).
#[utoipa::path(get, path = "/api/costs/month", tag = "costs",
    responses((status = 200, description = "this month's spend", body = MonthCost)))]
pub(crate) async fn cost_month(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<MonthCost>> {
    let today = Utc::now().date_naive();
    let first = today.with_day(1).unwrap_or(today);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .unwrap_or(today);
    let spent = state
        .store()
        .spend_between(midnight(first), midnight(next))
        .await?;
    Ok(Json(MonthCost {
        month: first.format("%Y-%m").to_string(),
        cost_usd: usd(spent),
    }))
}

/// The configured budget limits (`null`: unlimited).
#[utoipa::path(get, path = "/api/costs/budgets", tag = "costs",
    responses((status = 200, description = "budget limits", body = Budgets)))]
pub(crate) async fn budgets(_auth: ReadAuth, State(state): State<AppState>) -> Json<Budgets> {
    let b = state.config().budgets;
    Json(Budgets {
        max_daily_usd: b.daily.map(usd),
        max_monthly_usd: b.monthly.map(usd),
        max_ticket_usd: b.ticket.map(usd),
        max_task_usd: b.task.map(usd),
        alert_threshold_pct: b.alert_threshold_pct,
    })
}

/// One model's price in USD per million tokens.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelPriceDto {
    /// The model name as the table lists it (lookups also match dated and provider-prefixed
    /// names).
    #[schema(example = "claude-sonnet-4-6")]
    model: String,
    /// Uncached input.
    input_usd_per_mtok: f64,
    /// Output.
    output_usd_per_mtok: f64,
    /// Input written to the prompt cache.
    cache_write_usd_per_mtok: f64,
    /// Input read from the prompt cache.
    cache_read_usd_per_mtok: f64,
    /// `builtin` or `config` (a `[[pricing]]` entry).
    #[schema(example = "builtin")]
    source: String,
}

impl From<&PriceRow> for ModelPriceDto {
    fn from(p: &PriceRow) -> Self {
        Self {
            model: p.model.clone(),
            input_usd_per_mtok: usd(p.input),
            output_usd_per_mtok: usd(p.output),
            cache_write_usd_per_mtok: usd(p.cache_write),
            cache_read_usd_per_mtok: usd(p.cache_read),
            source: match p.source {
                PriceSource::Builtin => "builtin",
                PriceSource::Config => "config",
            }
            .to_owned(),
        }
    }
}

/// The price table every cost is computed with.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PricingDto {
    /// The table's version (`+custom` when configured prices changed it).
    #[schema(example = "2026-03-01")]
    version: String,
    /// Every listed model, by name.
    models: Vec<ModelPriceDto>,
    /// The price of a model the table does not list (`model` is `*`).
    fallback: Option<ModelPriceDto>,
}

/// The active model price table: built-in prices with the `[[pricing]]` overrides of
/// `foreman.toml` applied.
#[utoipa::path(get, path = "/api/costs/pricing", tag = "costs",
    responses((status = 200, description = "the price table", body = PricingDto)))]
pub(crate) async fn pricing(_auth: ReadAuth, State(state): State<AppState>) -> Json<PricingDto> {
    let t = &state.config().pricing;
    Json(PricingDto {
        version: t.version.clone(),
        models: t.models.iter().map(ModelPriceDto::from).collect(),
        fallback: t.fallback.as_ref().map(ModelPriceDto::from),
    })
}

/// The longest window a cost report covers, in days.
const MAX_WINDOW_DAYS: i64 = 3660;

/// A window of a cost report.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CostWindowQuery {
    /// Start: a UTC date (`2026-12-01`, from its midnight) or an RFC 3339 time; default 30 days
    /// before `to`.
    from: Option<String>,
    /// End: a UTC date (`2026-12-07`, that whole day included) or an RFC 3339 time (excluded);
    /// default now.
    to: Option<String>,
}

/// A cost report's window and grouping.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CostQuery {
    /// Start: a UTC date (`2026-12-01`, from its midnight) or an RFC 3339 time; default 30 days
    /// before `to`.
    from: Option<String>,
    /// End: a UTC date (`2026-12-07`, that whole day included) or an RFC 3339 time (excluded);
    /// default now.
    to: Option<String>,
    /// `day` (default), `model`, `role`, `runner`, `project` or `ticket`.
    group_by: Option<String>,
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

/// The window `[from, to)` a query asks for.
fn window(from: Option<&str>, to: Option<&str>) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let to = match to.filter(|s| !s.is_empty()) {
        Some(v) => instant("to", v, true)?,
        None => Utc::now(),
    };
    let from = match from.filter(|s| !s.is_empty()) {
        Some(v) => instant("from", v, false)?,
        None => to - chrono::Duration::days(30),
    };
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
    Ok((from, to))
}

/// Sums of one group.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CostGroupDto {
    /// The day (`2026-12-07`), model, role, runner, project or ticket id; `""` for calls
    /// without one (a deleted ticket's calls have no project).
    key: String,
    /// LLM calls.
    calls: i64,
    /// Cost in USD.
    cost_usd: f64,
    /// Uncached input tokens.
    tokens_input: i64,
    /// Output tokens.
    tokens_output: i64,
    /// Tokens read from the prompt cache.
    cache_read_tokens: i64,
    /// Tokens written to the prompt cache.
    cache_write_tokens: i64,
}

/// Costs over a window, grouped.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CostReportDto {
    /// The window's start (included).
    from: DateTime<Utc>,
    /// The window's end (excluded).
    to: DateTime<Utc>,
    /// The grouping.
    #[schema(example = "day")]
    group_by: String,
    /// Days in order; other groups by cost, highest first.
    groups: Vec<CostGroupDto>,
    /// Sums over every group.
    total: CostGroupDto,
}

/// LLM costs and tokens over a window, grouped by day, model, role, runner, project or ticket;
/// an unknown `group_by` or a bad date is a 400 naming the parameter.
#[utoipa::path(get, path = "/api/costs", tag = "costs", params(CostQuery),
    responses((status = 200, description = "the grouped costs", body = CostReportDto)))]
pub(crate) async fn cost_breakdown(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CostQuery>,
) -> ApiResult<Json<CostReportDto>> {
    let group_by: CostGroupBy = q
        .group_by
        .as_deref()
        .filter(|g| !g.is_empty())
        .unwrap_or("day")
        .parse()
        .map_err(|e: String| ApiError::BadRequest(format!("group_by: {e}")))?;
    let (from, to) = window(q.from.as_deref(), q.to.as_deref())?;
    let groups = state.store().cost_groups(from, to, group_by).await?;
    let mut total = CostGroup::default();
    for g in &groups {
        total.calls += g.calls;
        total.tokens_input += g.tokens_input;
        total.tokens_output += g.tokens_output;
        total.cache_read_tokens += g.cache_read_tokens;
        total.cache_write_tokens += g.cache_write_tokens;
        total.cost += g.cost;
    }
    let dto = |g: &CostGroup| CostGroupDto {
        key: g.key.clone(),
        calls: g.calls,
        cost_usd: usd(g.cost),
        tokens_input: g.tokens_input,
        tokens_output: g.tokens_output,
        cache_read_tokens: g.cache_read_tokens,
        cache_write_tokens: g.cache_write_tokens,
    };
    Ok(Json(CostReportDto {
        from,
        to,
        group_by: group_by.as_str().to_owned(),
        groups: groups.iter().map(dto).collect(),
        total: dto(&total),
    }))
}

/// What merged pull requests cost over a window.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MergedPrCostDto {
    /// The window's start (included).
    from: DateTime<Utc>,
    /// The window's end (excluded).
    to: DateTime<Utc>,
    /// Pull requests merged in the window.
    merged_prs: i64,
    /// Every LLM call's cost in the window, failed and unfinished tickets included.
    total_cost_usd: f64,
    /// What the merged tickets cost over their whole life.
    merged_tickets_cost_usd: f64,
    /// `total_cost_usd / merged_prs`: what a merge costs with the failures it took; `null`
    /// without a merge.
    cost_per_merged_pr_usd: Option<f64>,
}

/// Cost per merged pull request over a window: all spend in it divided by the pull requests
/// merged in it.
#[utoipa::path(get, path = "/api/costs/per-merged-pr", tag = "costs", params(CostWindowQuery),
    responses((status = 200, description = "cost per merged pull request", body = MergedPrCostDto)))]
pub(crate) async fn cost_per_merged_pr(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CostWindowQuery>,
) -> ApiResult<Json<MergedPrCostDto>> {
    let (from, to) = window(q.from.as_deref(), q.to.as_deref())?;
    let m = state.store().merged_pr_cost(from, to).await?;
    Ok(Json(MergedPrCostDto {
        from,
        to,
        merged_prs: m.merged_prs,
        total_cost_usd: usd(m.total_cost),
        merged_tickets_cost_usd: usd(m.merged_cost),
        cost_per_merged_pr_usd: m.per_merged_pr().map(usd),
    }))
}
