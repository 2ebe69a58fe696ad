//! Cross-cutting request handling: JSON error bodies, ETags, timeouts, rate limits, body
//! limits, metrics. [`request`] applies them all as one layer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::{Layer, ServiceExt};

use crate::config::ApiConfig;
use crate::error::{ApiError, ErrorBody};
use crate::etag::{etag_matches, etag_of};
use crate::rate_limit::{Class, Identity};
use crate::state::AppState;

/// Largest body of a JSON API request (creating a ticket, a token, ...); the configured
/// `body_limit_bytes` applies when it is smaller. Webhooks get the whole `body_limit_bytes`.
pub const API_BODY_LIMIT: usize = 256 * 1024;

/// Largest body of a request whose method carries none (GET, HEAD, DELETE, OPTIONS).
pub const NO_BODY_LIMIT: usize = 4 * 1024;

/// Largest response body the ETag layer buffers to hash; larger ones pass through untagged.
const ETAG_MAX_BODY: usize = 8 * 1024 * 1024;

/// Every request's cross-cutting handling, in one layer: the JSON error body for failures that
/// are not JSON yet, HTTP metrics, the rate limit, the request timeout and `ETag`s, in that
/// order from the outside in. One layer instead of five saves each request four boxed futures
/// and service clones; the metric handles of a route are looked up once, not per request.
pub(crate) async fn request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = limited(&state, req, next).await;
    state.inner.http.record(
        &method,
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        response.status(),
        started.elapsed(),
    );
    json_errors(response)
}

/// The rate limit and the body limit, then the handler under the timeout, with `ETag`s on GET
/// responses.
async fn limited(state: &AppState, req: Request, next: Next) -> Response {
    if let Some(pending) = rate_limited(state, &req)
        && let Some(refused) = rate_limit(state, pending).await
    {
        return refused;
    }
    let body_limit = body_limit(state.config(), req.method(), req.uri().path());
    if content_length(req.headers()).is_some_and(|n| n > body_limit as u64) {
        // refused before any handler work; the JSON body is added by `json_errors`
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let if_none_match =
        (req.method() == Method::GET).then(|| req.headers().get(header::IF_NONE_MATCH).cloned());
    let limit = state.config().request_timeout;
    let handled = async {
        // axum's extractors read at most this much of a body without a length (chunked)
        let response = match DefaultBodyLimit::max(body_limit)
            .layer(next)
            .oneshot(req)
            .await
        {
            Ok(r) => r,
            Err(never) => match never {},
        };
        match if_none_match {
            Some(condition) => etag(response, condition).await,
            None => response,
        }
    };
    match tokio::time::timeout(limit, handled).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_ms = limit.as_millis() as u64, "request timed out");
            ApiError::Timeout.into_response()
        }
    }
}

/// Turns any error response that is not already JSON (axum's 405, a layer's 413, ...) into the
/// documented `{"error": ..., "code": ...}` body, keeping its status and headers.
fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let body = ErrorBody {
        error: default_message(status),
        code: status.as_u16(),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this path".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "request body is larger than the limit".to_owned(),
        StatusCode::NOT_FOUND => "not found".to_owned(),
        other => other
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Adds a strong `ETag` (SHA-256 of the body, see [`etag_of`]) to a successful JSON response
/// to a GET and answers its `If-None-Match` with 304 when it matches. A handler that already
/// knows its body's tag (a memoised response) sets the header itself and the body is not
/// hashed again.
async fn etag(response: Response, if_none_match: Option<HeaderValue>) -> Response {
    if response.status() != StatusCode::OK || !is_json(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let (tag_value, body) = match parts.headers.get(header::ETAG) {
        Some(tag) => (tag.clone(), body),
        None => {
            let bytes = match axum::body::to_bytes(body, ETAG_MAX_BODY).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "could not buffer response for etag");
                    return ApiError::internal(e).into_response();
                }
            };
            (etag_of(&bytes), Body::from(bytes))
        }
    };
    parts.headers.insert(header::ETAG, tag_value.clone());
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if if_none_match.is_some_and(|v| etag_matches(&v, &tag_value)) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        let headers = not_modified.headers_mut();
        headers.insert(header::ETAG, tag_value);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return not_modified;
    }
    Response::from_parts(parts, body)
}

/// The body limit of a request: webhooks get the configured limit, JSON API requests at most
/// [`API_BODY_LIMIT`], requests whose method carries no body at most [`NO_BODY_LIMIT`].
pub(crate) fn body_limit(config: &ApiConfig, method: &Method, path: &str) -> usize {
    // inbound receivers only: the outbound subscriptions are ordinary API routes
    let route_limit =
        if path.starts_with("/api/webhooks/") && !path.starts_with("/api/webhooks/subscriptions") {
            usize::MAX
        } else if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
            API_BODY_LIMIT
        } else {
            NO_BODY_LIMIT
        };
    config.body_limit_bytes.min(route_limit)
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// A request a rate limit applies to, with what finding its identity needs (taken from the
/// request before waiting: a request is not `Sync`).
struct Limited {
    class: Class,
    bearer: Option<String>,
    addr: IpAddr,
}

fn rate_limited(state: &AppState, req: &Request) -> Option<Limited> {
    let limits = &state.inner.rate;
    let class = Class::of(req.method(), req.uri().path())?;
    if !limits.applies(class) {
        return None;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    Some(Limited {
        class,
        bearer: crate::auth::bearer_from_header(req.headers())
            .ok()
            .flatten(),
        addr: limits.client_addr(peer, req.headers()),
    })
}

/// Refuses identities over their per-minute allowance of the request's class with 429,
/// `Retry-After` and the JSON error body.
async fn rate_limit(state: &AppState, request: Limited) -> Option<Response> {
    let who = identity(state, request.bearer, request.addr).await;
    match state.inner.rate.check(request.class, &who) {
        Ok(()) => None,
        Err(retry_after) => {
            metrics::counter!("foreman_api_rate_limited_total").increment(1);
            Some(ApiError::RateLimited(retry_after).into_response())
        }
    }
}

/// Who a request counts against: its bearer token when that token is valid (stored, not
/// revoked, not expired, or the static token), else the client address. An invalid token
/// counts against the address, so inventing tokens gains no allowance.
async fn identity(state: &AppState, bearer: Option<String>, addr: IpAddr) -> Identity {
    if let Some(token) = bearer {
        let hash = foreman_domain::hash_token(&token);
        if state
            .inner
            .static_token_hash
            .as_ref()
            .is_some_and(|expected| foreman_domain::hashes_match(&hash, expected))
        {
            return Identity::StaticToken;
        }
        if let Ok(Some(stored)) = state.store().find_token_by_hash(&hash).await
            && foreman_domain::hashes_match(&stored.token_hash, &hash)
            && stored.revoked_at.is_none()
            && stored
                .expires_at
                .is_none_or(|at| at > foreman_domain::now())
        {
            return Identity::Token(stored.id.to_string());
        }
    }
    Identity::Addr(addr)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn slow_handlers_time_out_with_the_json_body() {
        use tower::ServiceExt;

        let config = ApiConfig {
            request_timeout: Duration::from_millis(20),
            ..Default::default()
        };
        let state = AppState::new(
            foreman_testkit::MemoryStore::new().shared(),
            foreman_events::EventHub::default(),
            config,
        );
        let router = axum::Router::new()
            .fallback(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            })
            .layer(axum::middleware::from_fn_with_state(state.clone(), request))
            .with_state(state);
        let response = router
            .oneshot(Request::builder().uri("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"error":"request timed out","code":503}"#);
    }
}
