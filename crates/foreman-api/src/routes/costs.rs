//! Spend today, this week and this month, and the configured budgets (all UTC).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ReadAuth;
use crate::dto::{Budgets, DayCost, MonthCost, usd};
use crate::error::ApiResult;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(cost_today))
        .routes(routes!(cost_week))
        .routes(routes!(cost_month))
        .routes(routes!(budgets))
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
