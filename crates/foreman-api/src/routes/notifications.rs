//! Notifications and their triggers, the budget per period, and retrospectives.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use foreman_domain::Micros;
use foreman_domain::budget_window::{Window, day_window, month_window};
use foreman_domain::notification::{
    BudgetPeriod, Notification, NotificationFilter, NotificationId, NotificationSeverity, Trigger,
    TriggerUpdate, load_triggers, save_triggers,
};
use foreman_domain::retrospective::{FailureClassStat, GateStat, Retrospective};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ReadAuth, WriteAuth};
use crate::dto::usd;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::validate::Int;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_triggers, put_triggers))
        .routes(routes!(list_notifications))
        .routes(routes!(acknowledge))
        .routes(routes!(acknowledge_all))
        .routes(routes!(budget))
        .routes(routes!(list_retrospectives))
}

/// One trigger.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TriggerDto {
    /// `budget_threshold`, `task_failures`, `context_threshold`, `ticket_blocked`, `pr_merged`
    /// or `daemon_stopped`.
    #[schema(example = "budget_threshold")]
    id: String,
    /// Whether it fires.
    enabled: bool,
    /// Percentage (budget, context: 1–100) or count (task failures: 1–1000); `null` for
    /// triggers without one.
    threshold: Option<u32>,
    /// Budget periods watched (`daily`, `monthly`, `ticket`); empty for other triggers.
    periods: Vec<String>,
    /// What it watches.
    description: String,
}

impl From<&Trigger> for TriggerDto {
    fn from(t: &Trigger) -> Self {
        Self {
            id: t.id.as_str().to_owned(),
            enabled: t.enabled,
            threshold: t.threshold,
            periods: t.periods.iter().map(|p| p.as_str().to_owned()).collect(),
            description: t.id.description().to_owned(),
        }
    }
}

/// Every trigger.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TriggerList {
    /// One per trigger id.
    triggers: Vec<TriggerDto>,
}

/// A change to one trigger; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TriggerChange {
    /// Which trigger.
    #[schema(example = "task_failures")]
    id: String,
    /// Turn it on or off.
    enabled: Option<bool>,
    /// New threshold (see [`TriggerDto`] for the ranges).
    threshold: Option<i64>,
    /// New budget periods (budget trigger only).
    periods: Option<Vec<String>>,
}

/// Changes to triggers, applied all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TriggerChanges {
    /// Each trigger at most once.
    triggers: Vec<TriggerChange>,
}

async fn trigger_list(state: &AppState) -> ApiResult<TriggerList> {
    let t = load_triggers(state.store().as_ref()).await?;
    Ok(TriggerList {
        triggers: t.triggers.iter().map(TriggerDto::from).collect(),
    })
}

/// The notification triggers.
#[utoipa::path(get, path = "/api/notifications/triggers", tag = "notifications",
    responses((status = 200, description = "every trigger", body = TriggerList)))]
pub(crate) async fn get_triggers(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<TriggerList>> {
    Ok(Json(trigger_list(&state).await?))
}

/// Changes triggers (all or nothing); a bad id, threshold or period is a 400 naming
/// `triggers[i].<field>`.
#[utoipa::path(put, path = "/api/notifications/triggers", tag = "notifications",
    request_body = TriggerChanges,
    responses((status = 200, description = "every trigger after the change", body = TriggerList),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn put_triggers(
    _auth: WriteAuth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TriggerChanges>,
) -> ApiResult<Json<TriggerList>> {
    let updates: Vec<TriggerUpdate> = body
        .triggers
        .into_iter()
        .map(|c| TriggerUpdate {
            id: c.id,
            enabled: c.enabled,
            threshold: c.threshold,
            periods: c.periods,
        })
        .collect();
    let current = load_triggers(state.store().as_ref()).await?;
    let next = current
        .apply(&updates)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    save_triggers(state.store().as_ref(), &next).await?;
    Ok(Json(trigger_list(&state).await?))
}

/// A fired notification.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NotificationDto {
    /// Id.
    id: String,
    /// `info`, `warning` or `critical`.
    #[schema(example = "warning")]
    severity: String,
    /// The trigger that fired.
    #[schema(example = "budget_threshold")]
    trigger: String,
    /// One line for people.
    message: String,
    /// The ticket concerned.
    ticket_id: Option<String>,
    /// The task concerned.
    task_id: Option<String>,
    /// Figures behind it.
    details: serde_json::Value,
    /// When it fired.
    timestamp: DateTime<Utc>,
    /// Whether a person acknowledged it.
    acknowledged: bool,
    /// When.
    acknowledged_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationDto {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id.to_string(),
            severity: n.severity.as_str().to_owned(),
            trigger: n.trigger.as_str().to_owned(),
            message: n.message,
            ticket_id: n.ticket_id.map(|t| t.to_string()),
            task_id: n.task_id.map(|t| t.to_string()),
            details: n.details,
            timestamp: n.created_at,
            acknowledged: n.acknowledged_at.is_some(),
            acknowledged_at: n.acknowledged_at,
        }
    }
}

/// A page of notifications.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NotificationPage {
    /// Newest first.
    items: Vec<NotificationDto>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
    /// Unacknowledged notifications in all (the dashboard's badge).
    unacknowledged: u64,
}

/// Filters and paging of the notification list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NotificationQuery {
    /// Only `info`, `warning` or `critical`.
    severity: Option<String>,
    /// Only acknowledged (`true`) or unacknowledged (`false`) ones.
    acknowledged: Option<bool>,
    /// Page size: default 50, from 1 to 200.
    #[param(inline)]
    limit: Option<Int<1, 200>>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

/// Fired notifications, newest first.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", params(NotificationQuery),
    responses((status = 200, description = "a page of notifications", body = NotificationPage)))]
pub(crate) async fn list_notifications(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> ApiResult<Json<NotificationPage>> {
    let severity = q
        .severity
        .as_deref()
        .map(str::parse::<NotificationSeverity>)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("severity: {e}")))?;
    let limit = q.limit.map_or(50, Int::to::<u32>);
    let filter = NotificationFilter {
        severity,
        acknowledged: q.acknowledged,
        limit: limit + 1,
        before: q.cursor.filter(|c| !c.is_empty()).map(NotificationId),
    };
    let mut items = state.store().list_notifications(&filter).await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = more
        .then(|| items.last().map(|n| n.id.to_string()))
        .flatten();
    Ok(Json(NotificationPage {
        items: items.into_iter().map(NotificationDto::from).collect(),
        next_cursor,
        unacknowledged: state.store().unacknowledged_notifications().await?,
    }))
}

/// What an acknowledgement did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Acknowledged {
    /// Always true.
    success: bool,
    /// For people.
    message: String,
    /// Notifications acknowledged by this request.
    acknowledged: u64,
}

/// Acknowledges one notification (again: no change); 404 for an unknown id.
#[utoipa::path(post, path = "/api/notifications/{id}/acknowledge", tag = "notifications",
    params(("id" = String, Path, description = "notification id")),
    responses((status = 200, description = "acknowledged", body = NotificationDto),
        (status = 404, description = "no such notification", body = ErrorBody)))]
pub(crate) async fn acknowledge(
    _auth: WriteAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<NotificationDto>> {
    let n = state
        .store()
        .acknowledge_notification(&NotificationId(id.clone()), Utc::now())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("notification {id} not found")))?;
    Ok(Json(n.into()))
}

/// Acknowledges every unacknowledged notification.
#[utoipa::path(post, path = "/api/notifications/acknowledge-all", tag = "notifications",
    responses((status = 200, description = "how many were acknowledged", body = Acknowledged)))]
pub(crate) async fn acknowledge_all(
    _auth: WriteAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Acknowledged>> {
    let n = state
        .store()
        .acknowledge_all_notifications(Utc::now())
        .await?;
    Ok(Json(Acknowledged {
        success: true,
        message: format!("{n} notifications acknowledged"),
        acknowledged: n,
    }))
}

/// One budget period.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BudgetPeriodDto {
    /// `daily` or `monthly` (UTC).
    #[schema(example = "daily")]
    period: String,
    /// The period's first instant.
    start: DateTime<Utc>,
    /// The first instant after it.
    end: DateTime<Utc>,
    /// The limit in USD; `null`: unlimited.
    limit_usd: Option<f64>,
    /// Recorded spend in the period.
    used_usd: f64,
    /// Held by calls in flight (budget reservations).
    reserved_usd: f64,
    /// `limit - used - reserved`, never below 0; `null` when unlimited.
    remaining_usd: Option<f64>,
    /// Whether used and reserved spend reached the limit.
    exceeded: bool,
    /// Used and reserved as a percentage of the limit; `null` when unlimited.
    used_pct: Option<f64>,
}

/// The budget per period.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BudgetStatus {
    /// The day and the month.
    periods: Vec<BudgetPeriodDto>,
    /// Limit per ticket in USD (`null`: unlimited).
    ticket_limit_usd: Option<f64>,
    /// Limit per task in USD (`null`: unlimited).
    task_limit_usd: Option<f64>,
    /// Percentage of a limit at which Foreman alerts.
    alert_threshold_pct: u8,
    /// Whether any period is exceeded.
    exceeded: bool,
}

fn period_dto(
    period: BudgetPeriod,
    w: Window,
    limit: Option<Micros>,
    used: Micros,
    reserved: Micros,
) -> BudgetPeriodDto {
    let committed = used + reserved;
    BudgetPeriodDto {
        period: period.as_str().to_owned(),
        start: w.start,
        end: w.end,
        limit_usd: limit.map(usd),
        used_usd: usd(used),
        reserved_usd: usd(reserved),
        remaining_usd: limit.map(|l| usd(Micros((l.0 - committed.0).max(0)))),
        exceeded: limit.is_some_and(|l| committed >= l),
        used_pct: limit
            .filter(|l| l.0 > 0)
            .map(|l| (committed.0 as f64 * 1000.0 / l.0 as f64).round() / 10.0),
    }
}

/// Limit, used, reserved and remaining spend of today and this month (UTC).
#[utoipa::path(get, path = "/api/budget", tag = "costs",
    responses((status = 200, description = "the budget per period", body = BudgetStatus)))]
pub(crate) async fn budget(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<BudgetStatus>> {
    let now = Utc::now();
    let limits = state.config().budgets;
    let mut periods = Vec::new();
    for (period, w, limit) in [
        (BudgetPeriod::Daily, day_window(now), limits.daily),
        (BudgetPeriod::Monthly, month_window(now), limits.monthly),
    ] {
        let s = state.store().window_spend(w).await?;
        periods.push(period_dto(period, w, limit, s.used, s.reserved));
    }
    Ok(Json(BudgetStatus {
        exceeded: periods.iter().any(|p| p.exceeded),
        periods,
        ticket_limit_usd: limits.ticket.map(usd),
        task_limit_usd: limits.task.map(usd),
        alert_threshold_pct: limits.alert_threshold_pct,
    }))
}

/// One gate's first-pass figures.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GateDto {
    /// `tdd_red`, `tdd_green`, `lint`, `tests`, `spec_review`, `quality_review` or
    /// `final_review`.
    #[schema(example = "lint")]
    gate: String,
    /// Tasks (tickets for the final review) that reached it.
    reached: i64,
    /// Of those, passed at the first verdict.
    first_pass: i64,
    /// `first_pass / reached`; `null` when none reached it.
    first_pass_rate: Option<f64>,
}

impl From<&GateStat> for GateDto {
    fn from(g: &GateStat) -> Self {
        let gate = serde_json::to_value(g.gate)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            gate,
            reached: g.reached,
            first_pass: g.first_pass,
            first_pass_rate: g.rate,
        }
    }
}

/// A failure class with examples.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FailureClassDto {
    /// The class (`test_failure`, `budget_exceeded`, ..., `unknown`).
    class: String,
    /// Tickets that ended with it.
    count: i64,
    /// A few of them.
    examples: Vec<FailureExampleDto>,
}

/// A ticket that failed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FailureExampleDto {
    /// The ticket.
    ticket_id: String,
    /// Its title.
    title: String,
    /// Its last error (at most 300 characters).
    error: String,
}

impl From<&FailureClassStat> for FailureClassDto {
    fn from(c: &FailureClassStat) -> Self {
        Self {
            class: c.class.clone(),
            count: c.count,
            examples: c
                .examples
                .iter()
                .map(|e| FailureExampleDto {
                    ticket_id: e.ticket_id.to_string(),
                    title: e.title.clone(),
                    error: e.error.clone(),
                })
                .collect(),
        }
    }
}

/// A retrospective over a round of finished tickets.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RetrospectiveDto {
    /// Id.
    id: String,
    /// 1 for the first, one more each round.
    number: i64,
    /// When it was written.
    created_at: DateTime<Utc>,
    /// The tickets covered, in finishing order.
    ticket_ids: Vec<String>,
    /// How many.
    tickets: i64,
    /// Merged or done.
    succeeded: i64,
    /// `succeeded / tickets`.
    success_rate: f64,
    /// Merged pull requests.
    merged_prs: i64,
    /// Mean cost per ticket in USD.
    mean_cost_usd: f64,
    /// Mean time from start to finish.
    mean_duration_ms: i64,
    /// The round's cost divided by its merged pull requests; `null` without one.
    cost_per_merged_pr_usd: Option<f64>,
    /// First-pass rate per gate, in pipeline order.
    gates: Vec<GateDto>,
    /// The most frequent failure classes, most frequent first.
    failure_classes: Vec<FailureClassDto>,
}

impl From<&Retrospective> for RetrospectiveDto {
    fn from(r: &Retrospective) -> Self {
        let p = &r.report;
        Self {
            id: r.id.clone(),
            number: r.number,
            created_at: r.created_at,
            ticket_ids: r.ticket_ids.iter().map(ToString::to_string).collect(),
            tickets: p.tickets,
            succeeded: p.succeeded,
            success_rate: p.success_rate,
            merged_prs: p.merged_prs,
            mean_cost_usd: usd(p.mean_cost),
            mean_duration_ms: p.mean_duration_ms,
            cost_per_merged_pr_usd: p.cost_per_merged_pr.map(usd),
            gates: p.gates.iter().map(GateDto::from).collect(),
            failure_classes: p
                .failure_classes
                .iter()
                .map(FailureClassDto::from)
                .collect(),
        }
    }
}

/// Paging of retrospectives.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RetrospectiveQuery {
    /// Page size: default 20, from 1 to 100.
    #[param(inline)]
    limit: Option<Int<1, 100>>,
    /// Only retrospectives numbered below this (the last number of the previous page).
    #[param(inline)]
    before: Option<Int<1, { crate::validate::MAX_SAFE_INTEGER }>>,
}

/// Retrospectives, newest first.
#[utoipa::path(get, path = "/api/retrospectives", tag = "costs", params(RetrospectiveQuery),
    responses((status = 200, description = "retrospectives, newest first", body = [RetrospectiveDto])))]
pub(crate) async fn list_retrospectives(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RetrospectiveQuery>,
) -> ApiResult<Json<Vec<RetrospectiveDto>>> {
    let list = state
        .store()
        .list_retrospectives(q.limit.map_or(20, Int::to::<u32>), q.before.map(Int::get))
        .await?;
    Ok(Json(list.iter().map(RetrospectiveDto::from).collect()))
}
