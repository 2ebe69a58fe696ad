//! Outbound webhook subscriptions (admin scope): create, list, read, change (an update with
//! `enabled: true` re-enables a disabled one), delete, a test delivery, and the delivery log.
//! The secret is in the creation response only; later answers carry its first characters.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use foreman_domain::TicketId;
use foreman_domain::subscription::{
    Delivery, DeliveryPage, NewSubscription, SubscriptionId, SubscriptionPatch,
    WebhookSubscription, generate_secret,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminAuth;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::validate::Int;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_subscription, list_subscriptions))
        .routes(routes!(
            get_subscription,
            update_subscription,
            delete_subscription
        ))
        .routes(routes!(test_subscription))
        .routes(routes!(list_deliveries))
}

/// A subscription (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SubscriptionDto {
    /// Its id (`ticket-<ticket id>` for a ticket's `webhook_url`).
    id: String,
    /// Where deliveries go.
    #[schema(example = "https://hooks.example.com/foreman")]
    url: String,
    /// Glob patterns over event types (`*` any characters).
    #[schema(example = json!(["ticket_*", "task_*_fail"]))]
    events: Vec<String>,
    /// Only this ticket's events.
    ticket_id: Option<String>,
    /// Only events of this project's tickets.
    project: Option<String>,
    /// Whether deliveries are made.
    enabled: bool,
    /// Failed deliveries since the last success.
    consecutive_failures: u32,
    /// Why it was disabled automatically.
    disabled_reason: Option<String>,
    /// `api`, or `ticket` for a ticket's `webhook_url`.
    source: String,
    /// The secret's first characters (`null`: a ticket's webhook, signed with the server's
    /// `[webhooks] ticket_secret` or unsigned).
    secret_prefix: Option<String>,
    /// Created.
    created_at: DateTime<Utc>,
    /// Last changed.
    updated_at: DateTime<Utc>,
}

impl From<&WebhookSubscription> for SubscriptionDto {
    fn from(s: &WebhookSubscription) -> Self {
        Self {
            id: s.id.to_string(),
            url: s.url.clone(),
            events: s.events.clone(),
            ticket_id: s.ticket_id.as_ref().map(ToString::to_string),
            project: s.project.clone(),
            enabled: s.enabled,
            consecutive_failures: s.consecutive_failures,
            disabled_reason: s.disabled_reason.clone(),
            source: s.source.as_str().to_owned(),
            secret_prefix: s.secret_prefix(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A created subscription with its secret (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedSubscription {
    #[serde(flatten)]
    stored: SubscriptionDto,
    /// The signing secret: HMAC-SHA256 key of `X-Foreman-Signature`.
    secret: String,
}

/// A subscription to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSubscription {
    /// `http` or `https` URL (at most 2048 characters).
    #[schema(example = "https://hooks.example.com/foreman")]
    url: String,
    /// 1 to 32 glob patterns over event types (`a-z`, `0-9`, `_`, `*`), each matching at least
    /// one event type (or `ping`).
    #[schema(example = json!(["ticket_*", "task_*_fail"]))]
    events: Vec<String>,
    /// Only this ticket's events.
    ticket_id: Option<String>,
    /// Only events of this project's tickets.
    project: Option<String>,
    /// 16 to 256 characters; generated when absent.
    secret: Option<String>,
    /// Default true.
    enabled: Option<bool>,
}

fn double<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A change; absent fields stay, `null` clears `ticket_id` or `project`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateSubscription {
    /// New URL.
    url: Option<String>,
    /// New patterns.
    events: Option<Vec<String>>,
    /// New ticket filter (`null` clears it).
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    ticket_id: Option<Option<String>>,
    /// New project filter (`null` clears it).
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    project: Option<Option<String>>,
    /// New secret (16 to 256 characters).
    secret: Option<String>,
    /// `true` re-enables (resetting the failure count), `false` disables.
    enabled: Option<bool>,
}

/// One delivery attempt record.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryDto {
    /// Its id (`X-Foreman-Delivery`, the same on every attempt).
    id: String,
    /// The subscription.
    subscription_id: String,
    /// The event's `seq` (`null` for a test delivery).
    event_seq: Option<i64>,
    /// The event type (`ping` for a test).
    event_type: String,
    /// `pending`, `delivered`, `failed` (retried later) or `dead` (given up).
    status: String,
    /// Attempts made.
    attempt: u32,
    /// When the next attempt is due.
    next_attempt_at: DateTime<Utc>,
    /// The last answer's status code.
    last_status: Option<u16>,
    /// The last attempt's duration in milliseconds.
    latency_ms: Option<u64>,
    /// The last failure.
    error: Option<String>,
    /// Queued.
    created_at: DateTime<Utc>,
    /// Delivered.
    delivered_at: Option<DateTime<Utc>>,
    /// The JSON body sent.
    #[schema(value_type = Object)]
    body: serde_json::Value,
}

impl From<Delivery> for DeliveryDto {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            subscription_id: d.subscription_id.to_string(),
            event_seq: d.event_seq,
            event_type: d.event_type,
            status: d.status.as_str().to_owned(),
            attempt: d.attempt,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            latency_ms: d.latency_ms,
            error: d.error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            body: d.body,
        }
    }
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryPageDto {
    /// The deliveries.
    items: Vec<DeliveryDto>,
    /// Pass as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// Paging of the delivery log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveryQuery {
    /// Page size: default 50, from 1 to 200.
    #[param(inline)]
    limit: Option<Int<1, 200>>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

/// What a deletion did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SubscriptionDeleted {
    /// Always true.
    success: bool,
    /// For people.
    message: String,
}

fn blank_is_none(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

async fn found(state: &AppState, id: &str) -> ApiResult<WebhookSubscription> {
    state
        .store()
        .get_subscription(&SubscriptionId(id.to_owned()))
        .await?
        .ok_or_else(|| ApiError::not_found("subscription", id))
}

/// Subscribe a URL to events. Every bad field is a 400 naming it (`url`, `events`,
/// `events[2]`, `secret`, `ticket_id`, `project`); the secret is in this response only.
#[utoipa::path(post, path = "/api/webhooks/subscriptions", tag = "webhooks",
    request_body = CreateSubscription,
    responses((status = 201, description = "created; `secret` is shown this once", body = CreatedSubscription),
        (status = 400, description = "a bad field, named", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn create_subscription(
    auth: AdminAuth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> ApiResult<impl IntoResponse> {
    let secret = body.secret.unwrap_or_else(generate_secret);
    let new = NewSubscription {
        url: body.url.trim().to_owned(),
        events: body.events,
        ticket_id: blank_is_none(body.ticket_id).map(TicketId::from),
        project: blank_is_none(body.project),
        secret: Some(secret.clone()),
        enabled: body.enabled.unwrap_or(true),
    };
    let sub = state.store().create_subscription(new).await?;
    tracing::info!(subscription = %sub.id, by = %auth.caller.name, "webhook subscription created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedSubscription {
            stored: SubscriptionDto::from(&sub),
            secret,
        }),
    ))
}

/// Every subscription, oldest first (tickets' `webhook_url`s included, as `source: ticket`).
#[utoipa::path(get, path = "/api/webhooks/subscriptions", tag = "webhooks",
    responses((status = 200, description = "subscriptions", body = [SubscriptionDto])))]
pub(crate) async fn list_subscriptions(
    _auth: AdminAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<SubscriptionDto>>> {
    let subs = state.store().list_subscriptions().await?;
    Ok(Json(subs.iter().map(SubscriptionDto::from).collect()))
}

/// One subscription.
#[utoipa::path(get, path = "/api/webhooks/subscriptions/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "subscription id")),
    responses((status = 200, description = "the subscription", body = SubscriptionDto),
        (status = 404, description = "no such subscription", body = ErrorBody)))]
pub(crate) async fn get_subscription(
    _auth: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SubscriptionDto>> {
    Ok(Json(SubscriptionDto::from(&found(&state, &id).await?)))
}

/// Change a subscription; `enabled: true` re-enables a disabled one and resets its failure
/// count. A bad field is a 400 naming it.
#[utoipa::path(patch, path = "/api/webhooks/subscriptions/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "subscription id")),
    request_body = UpdateSubscription,
    responses((status = 200, description = "the subscription after the change", body = SubscriptionDto),
        (status = 400, description = "a bad field, named", body = ErrorBody),
        (status = 404, description = "no such subscription", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn update_subscription(
    auth: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateSubscription>,
) -> ApiResult<Json<SubscriptionDto>> {
    let patch = SubscriptionPatch {
        url: body.url.map(|u| u.trim().to_owned()),
        events: body.events,
        ticket_id: body.ticket_id.map(|t| blank_is_none(t).map(TicketId::from)),
        project: body.project.map(blank_is_none),
        secret: body.secret,
        enabled: body.enabled,
    };
    let sub = state
        .store()
        .update_subscription(&SubscriptionId(id.clone()), patch)
        .await?
        .ok_or_else(|| ApiError::not_found("subscription", &id))?;
    tracing::info!(subscription = %sub.id, enabled = sub.enabled, by = %auth.caller.name, "webhook subscription updated");
    Ok(Json(SubscriptionDto::from(&sub)))
}

/// Delete a subscription and its delivery log.
#[utoipa::path(delete, path = "/api/webhooks/subscriptions/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "subscription id")),
    responses((status = 200, description = "deleted", body = SubscriptionDeleted),
        (status = 404, description = "no such subscription", body = ErrorBody)))]
pub(crate) async fn delete_subscription(
    auth: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SubscriptionDeleted>> {
    if !state
        .store()
        .delete_subscription(&SubscriptionId(id.clone()))
        .await?
    {
        return Err(ApiError::not_found("subscription", &id));
    }
    tracing::info!(subscription = %id, by = %auth.caller.name, "webhook subscription deleted");
    Ok(Json(SubscriptionDeleted {
        success: true,
        message: format!("subscription {id} deleted"),
    }))
}

/// Queue a test delivery (`X-Foreman-Event: ping`) behind the subscription's queued ones.
#[utoipa::path(post, path = "/api/webhooks/subscriptions/{id}/test", tag = "webhooks",
    params(("id" = String, Path, description = "subscription id")),
    responses((status = 202, description = "queued", body = DeliveryDto),
        (status = 404, description = "no such subscription", body = ErrorBody)))]
pub(crate) async fn test_subscription(
    _auth: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let sub = found(&state, &id).await?;
    let d = state.store().enqueue_ping(&sub.id).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryDto::from(d))))
}

/// The subscription's deliveries, newest first: status, attempts, last status code, latency
/// and error.
#[utoipa::path(get, path = "/api/webhooks/subscriptions/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "subscription id"), DeliveryQuery),
    responses((status = 200, description = "a page of deliveries", body = DeliveryPageDto),
        (status = 400, description = "a bad cursor or limit", body = ErrorBody),
        (status = 404, description = "no such subscription", body = ErrorBody)))]
pub(crate) async fn list_deliveries(
    _auth: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<DeliveryPageDto>> {
    let sub = found(&state, &id).await?;
    let limit = q.limit.map_or(50, Int::to::<u32>);
    let before = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| ApiError::BadRequest("cursor: not a cursor of this list".into()))?,
        ),
    };
    let mut items = state
        .store()
        .list_deliveries(
            &sub.id,
            DeliveryPage {
                before,
                limit: limit + 1,
            },
        )
        .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = more
        .then(|| items.last().map(|d| d.pos.to_string()))
        .flatten();
    Ok(Json(DeliveryPageDto {
        items: items.into_iter().map(DeliveryDto::from).collect(),
        next_cursor,
    }))
}
