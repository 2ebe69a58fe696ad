//! Health, status, metrics, the OpenAPI document, the configuration summary and daemon control.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use foreman_domain::budget_window::{day_window, month_window};
use foreman_domain::runs::{DaemonControl, IdleReason};
use foreman_domain::storage::{DAEMON_STATE_KEY, daemon_state};
use foreman_domain::{DaemonState, EventType, NewEvent, TicketStatus};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminAuth, ReadAuth, WriteAuth};
use crate::dto::{Health, Message, RunProgressDto, StatusDto};
use crate::error::{ApiError, ApiResult};
use crate::openapi::OpenApiJson;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(status))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
        .routes(routes!(config_summary))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(drain))
        .routes(routes!(stop))
}

/// `3h24m12s`, `24m12s` or `12s`.
#[must_use]
pub fn format_uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Liveness, without authentication.
#[utoipa::path(get, path = "/api/health", tag = "system", security(()),
    responses((status = 200, description = "the server is up", body = Health)))]
pub(crate) async fn health(State(state): State<AppState>) -> Json<Health> {
    let up = state.inner.started.elapsed();
    Json(Health {
        status: "ok".to_owned(),
        version: state.config().version.clone(),
        uptime: format_uptime(up),
        uptime_seconds: up.as_secs(),
        timestamp: foreman_domain::now(),
    })
}

/// Server and daemon status, with chat channel and MCP server connectivity when known.
#[utoipa::path(get, path = "/api/status", tag = "system",
    responses((status = 200, description = "status", body = StatusDto)))]
pub(crate) async fn status(
    _auth: ReadAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<StatusDto>> {
    let up = state.inner.started.elapsed();
    let daemon = daemon_state(state.store().as_ref()).await?;
    let probe = state
        .inner
        .connectivity
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let (channels, mcp_servers) = match probe {
        Some(p) => (p.channels().await, p.mcp_servers().await),
        None => Default::default(),
    };
    Ok(Json(StatusDto {
        status: "running".to_owned(),
        version: state.config().version.clone(),
        uptime: format_uptime(up),
        uptime_seconds: up.as_secs(),
        daemon_state: daemon.as_str().to_owned(),
        channels,
        mcp_servers,
        runner_mode: state.config().runner_mode.clone(),
        run: run_progress(&state).await?,
        not_taking_work_because: not_taking_work_because(&state, daemon)
            .await?
            .map(|r| r.as_str().to_owned()),
    }))
}

/// The current run's progress: tickets finished in it against those finished plus those
/// still queued or worked on, and the time left at its pace so far.
async fn run_progress(state: &AppState) -> ApiResult<Option<RunProgressDto>> {
    let Some(id) = state.daemon_control().and_then(|c| c.run_id()) else {
        return Ok(None);
    };
    let Some(run) = state.store().get_run(&id).await? else {
        return Ok(None);
    };
    let completed = run.totals.tickets_done + run.totals.tickets_failed;
    let open: i64 = state
        .store()
        .count_tickets_by_status(None)
        .await?
        .into_iter()
        .filter(|(s, _)| *s == TicketStatus::Queued || s.is_active())
        .map(|(_, n)| n)
        .sum();
    let elapsed = (foreman_domain::now() - run.started_at)
        .to_std()
        .unwrap_or_default()
        .as_secs();
    Ok(Some(RunProgressDto {
        run_id: run.id.as_str().to_owned(),
        completed,
        total: completed + open,
        elapsed_seconds: elapsed,
        estimated_remaining_seconds: remaining(elapsed, completed, open),
        cost_usd: crate::dto::usd(run.totals.cost),
        llm_calls: run.totals.llm_calls,
    }))
}

/// Seconds left for `open` tickets at the pace of `completed` in `elapsed` seconds; `None`
/// before anything finished.
fn remaining(elapsed: u64, completed: i64, open: i64) -> Option<u64> {
    let completed = u64::try_from(completed).ok().filter(|c| *c > 0)?;
    let open = u64::try_from(open).unwrap_or(0);
    Some(elapsed.saturating_mul(open) / completed)
}

/// Why the daemon takes no new work now, most pressing first.
async fn not_taking_work_because(
    state: &AppState,
    daemon: DaemonState,
) -> ApiResult<Option<IdleReason>> {
    let snapshot = state.daemon_control().map(|c| c.snapshot());
    if let Some(s) = snapshot {
        if s.stopping {
            return Ok(Some(IdleReason::Stopping));
        }
        if s.draining {
            return Ok(Some(IdleReason::Draining));
        }
    }
    if daemon == DaemonState::Paused {
        return Ok(Some(IdleReason::Paused));
    }
    if snapshot.is_some_and(|s| !s.present) {
        return Ok(Some(IdleReason::NoDaemon));
    }
    let now = foreman_domain::now();
    let limits = &state.config().budgets;
    for (limit, window) in [
        (limits.daily, day_window(now)),
        (limits.monthly, month_window(now)),
    ] {
        if let Some(limit) = limit
            && state
                .store()
                .spend_between(window.start, window.end)
                .await?
                >= limit
        {
            return Ok(Some(IdleReason::BudgetExhausted));
        }
    }
    if snapshot.is_some_and(|s| s.slots > 0 && s.busy_slots >= s.slots) {
        return Ok(Some(IdleReason::NoSlots));
    }
    Ok(None)
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/api/metrics", tag = "system",
    responses((status = 200, description = "prometheus text format", body = String,
        content_type = "text/plain; version=0.0.4")))]
pub(crate) async fn metrics(_auth: ReadAuth, State(state): State<AppState>) -> Response {
    let body = crate::metrics::render(&state.inner.metrics);
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// This OpenAPI document, without authentication.
#[utoipa::path(get, path = "/api/openapi.json", tag = "system", security(()),
    responses((status = 200, description = "the OpenAPI 3 document", body = Object)))]
pub(crate) async fn openapi(Extension(spec): Extension<OpenApiJson>) -> Response {
    let mut response = Body::from(Bytes::from_owner(spec)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The active configuration with secrets truncated to their first 8 characters and `...`.
#[utoipa::path(get, path = "/api/config/summary", tag = "system",
    responses((status = 200, description = "redacted configuration", body = Object)))]
pub(crate) async fn config_summary(
    _auth: AdminAuth,
    State(state): State<AppState>,
) -> Json<serde_json::Value> {
    Json(redact(state.config().config_summary.clone()))
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.ends_with("key")
        || k.ends_with("token")
        || k.ends_with("secret")
        || k.contains("password")
        || k.contains("api_key")
        || k.contains("private_key")
}

/// Truncates strings under secret-looking keys that are not truncated yet.
#[must_use]
pub fn redact(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) if is_secret_key(&k) => Value::String(truncate_secret(&s)),
                        other => redact(other),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

fn truncate_secret(s: &str) -> String {
    let already = s
        .strip_suffix("...")
        .is_some_and(|head| head.chars().count() <= 8);
    if s.is_empty() || already {
        return s.to_owned();
    }
    let n = s.chars().count();
    // Short secrets would be shown whole by "first 8": show at most half of them.
    let keep = if n > 16 { 8 } else { n / 2 };
    format!("{}...", s.chars().take(keep).collect::<String>())
}

async fn set_daemon(state: &AppState, to: DaemonState, by: &str) -> ApiResult<()> {
    state
        .store()
        .put_setting(DAEMON_STATE_KEY, to.as_str())
        .await?;
    let (event_type, message) = match to {
        DaemonState::Paused => (EventType::DaemonPaused, "daemon paused"),
        DaemonState::Running => (EventType::DaemonResumed, "daemon resumed"),
    };
    state
        .emit(NewEvent::new(event_type, message).details(serde_json::json!({ "by": by })))
        .await;
    Ok(())
}

/// Pause the scheduler: running pipelines finish their current step, nothing new starts.
/// The state is persisted and shown by `/api/status`.
#[utoipa::path(post, path = "/api/daemon/pause", tag = "daemon",
    responses((status = 200, description = "paused", body = Message)))]
pub(crate) async fn pause(
    auth: WriteAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Message>> {
    set_daemon(&state, DaemonState::Paused, &auth.caller.name).await?;
    Ok(Json(Message {
        message: "daemon paused".to_owned(),
    }))
}

/// Resume a paused or drained scheduler.
#[utoipa::path(post, path = "/api/daemon/resume", tag = "daemon",
    responses((status = 200, description = "resumed", body = Message)))]
pub(crate) async fn resume(
    auth: WriteAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Message>> {
    set_daemon(&state, DaemonState::Running, &auth.caller.name).await?;
    if let Some(control) = state.daemon_control() {
        control.set_draining(false);
    }
    Ok(Json(Message {
        message: "daemon resumed".to_owned(),
    }))
}

fn control(state: &AppState) -> ApiResult<std::sync::Arc<dyn DaemonControl>> {
    state
        .daemon_control()
        .ok_or_else(|| ApiError::Conflict("no daemon runs in this process".to_owned()))
}

/// Drain the daemon: it claims no new tickets while those running go on to the end.
/// `POST /api/daemon/resume` ends the drain. Not persisted: a restart takes work again.
#[utoipa::path(post, path = "/api/daemon/drain", tag = "daemon",
    responses((status = 200, description = "draining", body = Message),
        (status = 409, description = "no daemon runs in this process", body = crate::error::ErrorBody)))]
pub(crate) async fn drain(
    auth: WriteAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Message>> {
    let control = control(&state)?;
    control.set_draining(true);
    tracing::info!(by = %auth.caller.name, "daemon draining: no new work until resumed");
    Ok(Json(Message {
        message: "daemon draining".to_owned(),
    }))
}

/// Stop the server: the daemon drains (nothing new starts; running steps get
/// `daemon.shutdown_grace` to finish or checkpoint), the run is closed as `stopped`, and the
/// process exits with status 0. Answers at once; `/api/status` reports `stopping` meanwhile.
#[utoipa::path(post, path = "/api/daemon/stop", tag = "daemon",
    responses((status = 202, description = "stopping", body = Message),
        (status = 409, description = "no daemon runs in this process", body = crate::error::ErrorBody)))]
pub(crate) async fn stop(auth: AdminAuth, State(state): State<AppState>) -> ApiResult<Response> {
    let control = control(&state)?;
    tracing::info!(by = %auth.caller.name, "stop requested: draining, then exiting");
    control.stop();
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(Message {
            message: "daemon stopping".to_owned(),
        }),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_time_follows_the_pace_so_far() {
        assert_eq!(remaining(600, 0, 5), None);
        assert_eq!(remaining(600, 3, 6), Some(1200));
        assert_eq!(remaining(600, 3, 0), Some(0));
    }

    #[test]
    fn uptime_format() {
        assert_eq!(format_uptime(Duration::from_secs(12)), "12s");
        assert_eq!(format_uptime(Duration::from_secs(24 * 60 + 12)), "24m12s");
        assert_eq!(
            format_uptime(Duration::from_secs(3 * 3600 + 24 * 60 + 12)),
            "3h24m12s"
        );
    }

    #[test]
    fn secrets_are_truncated_once() {
        let v = serde_json::json!({
            "llm": { "api_key": "sk-ant-abcdefghijklmnopqrstuvwxyz", "provider": "anthropic" },
            "dashboard": { "auth_token": "short", "port": 8080 },
            "already": { "api_key": "sk-ant-a..." },
            "list": [ { "secret": "0123456789abcdefghij" } ],
        });
        let r = redact(v);
        assert_eq!(r["llm"]["api_key"], "sk-ant-a...");
        assert_eq!(r["llm"]["provider"], "anthropic");
        assert_eq!(r["dashboard"]["auth_token"], "sh...");
        assert_eq!(r["dashboard"]["port"], 8080);
        assert_eq!(r["already"]["api_key"], "sk-ant-a...");
        assert_eq!(r["list"][0]["secret"], "01234567...");
    }
}
