//! Tracker and git host webhooks: `POST /api/webhooks/{github,gitlab,jira,linear}`.
//!
//! These routes take no bearer token: each delivery authenticates by its signature, which the
//! configured [`WebhookSink`] verifies before it reads or stores anything. Without a sink
//! ([`crate::App::with_webhooks`]) every route answers 404 with the JSON error body.
//!
//! Every delivery is counted in `foreman_webhooks_total{provider,outcome}`. Verified deliveries
//! that changed or concern something are stored as `webhook_received` events (on the ticket
//! when there is one); verified deliveries that could not be used as `webhook_rejected`. Refused
//! signatures and unconfigured providers are only counted and logged: an unauthenticated
//! request never writes to the database.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use foreman_domain::webhook::{WebhookAction, WebhookError, WebhookOutcome, WebhookSink};
use foreman_domain::{EventType, NewEvent, Severity};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::WebhookOutcomeDto;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The sink the routes hand deliveries to, installed as a request extension by
/// [`crate::App::router`].
#[derive(Clone)]
pub(crate) struct Webhooks(pub Arc<dyn WebhookSink>);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(github_webhook))
        .routes(routes!(gitlab_webhook))
        .routes(routes!(jira_webhook))
        .routes(routes!(linear_webhook))
}

fn count(provider: &str, outcome: &str) {
    metrics::counter!(
        "foreman_webhooks_total",
        "provider" => provider.to_owned(),
        "outcome" => outcome.to_owned(),
    )
    .increment(1);
}

async fn receive(
    state: &AppState,
    sink: Option<Extension<Webhooks>>,
    provider: &'static str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<WebhookOutcomeDto>> {
    let Some(Extension(Webhooks(sink))) = sink else {
        count(provider, "not_configured");
        return Err(ApiError::NotFound(format!(
            "webhooks are not configured (no webhook secret for {provider})"
        )));
    };
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            count(provider, "too_large");
            ApiError::PayloadTooLarge("request body is larger than the limit".to_owned())
        } else {
            count(provider, "unreadable");
            ApiError::BadRequest("cannot read the request body".to_owned())
        }
    })?;
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    match sink.receive(provider, &pairs, &body).await {
        Ok(outcome) => {
            count(provider, outcome.action.as_str());
            record(state, provider, &outcome).await;
            Ok(Json(outcome.into()))
        }
        Err(e) => {
            count(provider, e.code());
            Err(refused(state, provider, e).await)
        }
    }
}

/// Stores a `webhook_received` event unless the delivery was ignored (pings, comments and the
/// like would flood the log; the response body and the metric still say what happened).
async fn record(state: &AppState, provider: &str, outcome: &WebhookOutcome) {
    if outcome.action == WebhookAction::Ignored {
        tracing::debug!(provider, reason = %outcome.reason, "webhook ignored");
        return;
    }
    let what = outcome.external_id.as_deref().unwrap_or("a delivery");
    let mut event = NewEvent::new(
        EventType::WebhookReceived,
        format!(
            "{provider} webhook for {what}: {} ({})",
            outcome.action, outcome.reason
        ),
    )
    .details(serde_json::json!({
        "provider": provider,
        "action": outcome.action.as_str(),
        "project": outcome.project,
        "kind": outcome.kind,
        "event": outcome.event,
        "external_id": outcome.external_id,
        "reason": outcome.reason,
        "pull_request": outcome.pull_request.as_ref().map(|p| serde_json::json!({
            "number": p.number,
            "state": p.state.as_str(),
        })),
    }));
    if let Some(id) = &outcome.ticket_id {
        event = event.ticket(id);
    }
    if outcome.action == WebhookAction::Deferred {
        event = event.severity(Severity::Warning);
    }
    state.emit(event).await;
}

/// Maps a refusal to its HTTP error; only verified deliveries are stored as events.
async fn refused(state: &AppState, provider: &str, e: WebhookError) -> ApiError {
    match e {
        WebhookError::NotConfigured { .. } => ApiError::NotFound(e.to_string()),
        WebhookError::Unauthorized { ref reason } => {
            tracing::warn!(provider, reason = %reason, "webhook signature refused");
            ApiError::Unauthorized(e.to_string())
        }
        WebhookError::Malformed { ref reason } => {
            tracing::warn!(provider, reason = %reason, "malformed webhook payload");
            state
                .emit(
                    NewEvent::new(
                        EventType::WebhookRejected,
                        format!("{provider} webhook rejected: {e}"),
                    )
                    .details(serde_json::json!({
                        "provider": provider,
                        "code": "malformed",
                        "reason": reason,
                    })),
                )
                .await;
            ApiError::BadRequest(e.to_string())
        }
        other => {
            state
                .emit(
                    NewEvent::new(
                        EventType::WebhookRejected,
                        format!("{provider} webhook could not be handled"),
                    )
                    .severity(Severity::Error)
                    .details(serde_json::json!({
                        "provider": provider,
                        "code": other.code(),
                    })),
                )
                .await;
            ApiError::internal(other)
        }
    }
}

/// GitHub webhook (issues, issue comments, pull requests, ping).
///
/// Configure the hook with content type `application/json` and the secret from
/// `[tracker] webhook_secret` (or the project's). The delivery is verified with
/// `X-Hub-Signature-256` before anything is read or stored.
#[utoipa::path(post, path = "/api/webhooks/github", tag = "webhooks", security(()),
    params(
        ("X-GitHub-Event" = String, Header, description = "the event: issues, issue_comment, pull_request, ping, ..."),
        ("X-Hub-Signature-256" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of the raw body under the webhook secret"),
    ),
    request_body(content = Object, content_type = "application/json", description = "GitHub's webhook payload, unchanged"),
    responses(
        (status = 200, description = "verified and handled; `action` says what happened", body = WebhookOutcomeDto),
        (status = 400, description = "signature valid but the payload is not GitHub's", body = crate::error::ErrorBody),
        (status = 401, description = "missing, malformed or wrong signature; nothing was stored", body = crate::error::ErrorBody),
        (status = 404, description = "webhooks are not configured, or no project takes github webhooks", body = crate::error::ErrorBody),
        (status = 413, description = "the body is larger than the limit", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn github_webhook(
    State(state): State<AppState>,
    sink: Option<Extension<Webhooks>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<WebhookOutcomeDto>> {
    receive(&state, sink, "github", &headers, body).await
}

/// GitLab webhook (issue, note and merge request events).
///
/// Configure the hook's secret token with the webhook secret; GitLab echoes it in
/// `X-Gitlab-Token`, which is compared in constant time before anything is read or stored.
#[utoipa::path(post, path = "/api/webhooks/gitlab", tag = "webhooks", security(()),
    params(
        ("X-Gitlab-Token" = String, Header, description = "the webhook secret, as configured at GitLab"),
        ("X-Gitlab-Event" = Option<String>, Header, description = "Issue Hook, Note Hook, Merge Request Hook, ... (informational; `object_kind` decides)"),
    ),
    request_body(content = Object, content_type = "application/json", description = "GitLab's webhook payload, unchanged"),
    responses(
        (status = 200, description = "verified and handled; `action` says what happened", body = WebhookOutcomeDto),
        (status = 400, description = "token valid but the payload is not GitLab's", body = crate::error::ErrorBody),
        (status = 401, description = "missing or wrong token; nothing was stored", body = crate::error::ErrorBody),
        (status = 404, description = "webhooks are not configured, or no project takes gitlab webhooks", body = crate::error::ErrorBody),
        (status = 413, description = "the body is larger than the limit", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn gitlab_webhook(
    State(state): State<AppState>,
    sink: Option<Extension<Webhooks>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<WebhookOutcomeDto>> {
    receive(&state, sink, "gitlab", &headers, body).await
}

/// Jira Cloud webhook (issue and comment events).
///
/// Register the webhook with a secret; Jira signs the raw body in `X-Hub-Signature`
/// (`sha256=<hex>`), verified before anything is read or stored.
#[utoipa::path(post, path = "/api/webhooks/jira", tag = "webhooks", security(()),
    params(
        ("X-Hub-Signature" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of the raw body under the webhook secret"),
    ),
    request_body(content = Object, content_type = "application/json", description = "Jira's webhook payload, unchanged"),
    responses(
        (status = 200, description = "verified and handled; `action` says what happened", body = WebhookOutcomeDto),
        (status = 400, description = "signature valid but the payload is not Jira's", body = crate::error::ErrorBody),
        (status = 401, description = "missing, malformed or wrong signature; nothing was stored", body = crate::error::ErrorBody),
        (status = 404, description = "webhooks are not configured, or no project takes jira webhooks", body = crate::error::ErrorBody),
        (status = 413, description = "the body is larger than the limit", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn jira_webhook(
    State(state): State<AppState>,
    sink: Option<Extension<Webhooks>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<WebhookOutcomeDto>> {
    receive(&state, sink, "jira", &headers, body).await
}

/// Linear webhook (issue and comment events).
///
/// Linear signs the raw body in `Linear-Signature` (bare hex HMAC-SHA256) and puts a
/// `webhookTimestamp` in it; deliveries more than 60 s old are refused as replays.
#[utoipa::path(post, path = "/api/webhooks/linear", tag = "webhooks", security(()),
    params(
        ("Linear-Signature" = String, Header, description = "hex HMAC-SHA256 of the raw body under the webhook signing secret"),
    ),
    request_body(content = Object, content_type = "application/json", description = "Linear's webhook payload, unchanged"),
    responses(
        (status = 200, description = "verified and handled; `action` says what happened", body = WebhookOutcomeDto),
        (status = 400, description = "signature valid but the payload is not Linear's", body = crate::error::ErrorBody),
        (status = 401, description = "missing or wrong signature, or a stale timestamp; nothing was stored", body = crate::error::ErrorBody),
        (status = 404, description = "webhooks are not configured, or no project takes linear webhooks", body = crate::error::ErrorBody),
        (status = 413, description = "the body is larger than the limit", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn linear_webhook(
    State(state): State<AppState>,
    sink: Option<Extension<Webhooks>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<WebhookOutcomeDto>> {
    receive(&state, sink, "linear", &headers, body).await
}
