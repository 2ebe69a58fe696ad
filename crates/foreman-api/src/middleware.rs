//! Cross-cutting request handling: JSON error bodies, ETags, timeouts, rate limits, metrics.
//! [`request`] applies them all as one layer.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorBody};
use crate::etag::{etag_matches, etag_of};
use crate::state::AppState;

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

/// The rate limit, then the handler under the timeout, with `ETag`s on GET responses.
async fn limited(state: &AppState, req: Request, next: Next) -> Response {
    if let Some(refused) = rate_limit(state, &req) {
        return refused;
    }
    let if_none_match =
        (req.method() == Method::GET).then(|| req.headers().get(header::IF_NONE_MATCH).cloned());
    let limit = state.config().request_timeout;
    let handled = async {
        let response = next.run(req).await;
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

/// Refuses clients over their per-minute allowance with 429 and `Retry-After`.
fn rate_limit(state: &AppState, req: &Request) -> Option<Response> {
    let limiter = &state.inner.rate;
    if limiter.per_minute == 0 || req.uri().path() == "/api/health" {
        return None;
    }
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = ip
        && let Err(retry_after) = limiter.check(ip, Instant::now())
    {
        metrics::counter!("foreman_api_rate_limited_total").increment(1);
        return Some(ApiError::RateLimited(retry_after).into_response());
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn slow_handlers_time_out_with_the_json_body() {
        use tower::ServiceExt;

        let config = crate::ApiConfig {
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
