//! Cross-cutting request handling: JSON error bodies, ETags, timeouts, rate limits, metrics.
//! [`request`] applies them all as one layer.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorBody};
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

/// The strong `ETag` of a response body: the first 128 bits of its SHA-256, quoted.
pub(crate) fn etag_of(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    tag.push_str(&hex::encode(&digest[..16]));
    tag.push('"');
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
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

/// Weak comparison per RFC 9110 §13.1.2: `*`, or any listed tag equal ignoring `W/`.
fn etag_matches(header: &HeaderValue, tag: &HeaderValue) -> bool {
    let (Ok(value), Ok(tag)) = (header.to_str(), tag.to_str()) else {
        return false;
    };
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
    })
}

/// Methods counted under their own name; any other is counted as `OTHER`.
const STANDARD_METHODS: [Method; 9] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::HEAD,
    Method::OPTIONS,
    Method::CONNECT,
    Method::TRACE,
];

/// The handles of one route's HTTP metrics.
#[derive(Debug)]
struct RouteMetrics {
    method: Method,
    route: Box<str>,
    duration: Histogram,
    /// `foreman_http_requests_total` by status, in the order first seen.
    requests: RwLock<Vec<(StatusCode, Counter)>>,
}

/// `foreman_http_requests_total` (by method, matched route and status) and
/// `foreman_http_request_duration_seconds` (by method and matched route), with each route's
/// handles registered once: a request then costs a hash of its route and two atomic updates
/// instead of building label strings and looking them up in the registry.
#[derive(Debug, Default)]
pub(crate) struct HttpMetrics {
    routes: RwLock<HashMap<u64, Vec<Arc<RouteMetrics>>>>,
}

impl HttpMetrics {
    fn handles(&self, method: &Method, route: &str) -> Arc<RouteMetrics> {
        let mut hasher = std::hash::DefaultHasher::new();
        method.hash(&mut hasher);
        route.hash(&mut hasher);
        let key = hasher.finish();
        let found = |bucket: &Vec<Arc<RouteMetrics>>| {
            bucket
                .iter()
                .find(|r| r.method == method && *r.route == *route)
                .cloned()
        };
        if let Some(hit) = read(&self.routes).get(&key).and_then(found) {
            return hit;
        }
        let mut routes = write(&self.routes);
        let bucket = routes.entry(key).or_default();
        if let Some(hit) = found(bucket) {
            return hit;
        }
        let entry = Arc::new(RouteMetrics {
            method: method.clone(),
            route: route.into(),
            duration: metrics::histogram!(
                "foreman_http_request_duration_seconds",
                "method" => method.as_str().to_owned(),
                "route" => route.to_owned(),
            ),
            requests: RwLock::new(Vec::new()),
        });
        bucket.push(entry.clone());
        entry
    }

    /// Counts one request and records its latency.
    pub(crate) fn record(
        &self,
        method: &Method,
        route: &str,
        status: StatusCode,
        elapsed: Duration,
    ) {
        // a client can send any method: the labels stay a bounded set
        let other;
        let method = if STANDARD_METHODS.contains(method) {
            method
        } else {
            other = Method::from_bytes(b"OTHER").unwrap_or_default();
            &other
        };
        let route = self.handles(method, route);
        route.duration.record(elapsed.as_secs_f64());
        let counted = read(&route.requests)
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, c)| c.increment(1));
        if counted.is_none() {
            let mut requests = write(&route.requests);
            if let Some((_, c)) = requests.iter().find(|(s, _)| *s == status) {
                c.increment(1);
            } else {
                let counter = metrics::counter!(
                    "foreman_http_requests_total",
                    "method" => route.method.as_str().to_owned(),
                    "route" => route.route.to_string(),
                    "status" => status.as_u16().to_string(),
                );
                counter.increment(1);
                requests.push((status, counter));
            }
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// A token bucket per client IP: `per_minute` requests, refilled continuously.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    pub per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `ip`'s allowance; `Err(seconds)` to wait when it is empty.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Forget idle clients rather than grow without bound.
            buckets.retain(|_, b| now.duration_since(b.at).as_secs() < 60);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / per_sec).ceil();
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "wait is positive and at most 60 s"
            )]
            Err((wait as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn etags_compare_weakly() {
        let tag = &HeaderValue::from_static("\"abc\"");
        assert!(etag_matches(&HeaderValue::from_static("\"abc\""), tag));
        assert!(etag_matches(&HeaderValue::from_static("W/\"abc\""), tag));
        assert!(etag_matches(
            &HeaderValue::from_static("\"x\", \"abc\""),
            tag
        ));
        assert!(etag_matches(&HeaderValue::from_static("*"), tag));
        assert!(!etag_matches(&HeaderValue::from_static("\"abd\""), tag));
    }

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

    #[test]
    fn http_metrics_count_by_route_and_status_through_cached_handles() {
        let prometheus = crate::metrics::handle();
        let m = HttpMetrics::default();
        let route = "/test/http-metrics/{id}";
        for status in [StatusCode::OK, StatusCode::OK, StatusCode::NOT_FOUND] {
            m.record(&Method::GET, route, status, Duration::from_millis(3));
        }
        m.record(
            &Method::POST,
            route,
            StatusCode::OK,
            Duration::from_millis(1),
        );
        for made_up in ["BREW", "WHEN", "XYZZY"] {
            let method = Method::from_bytes(made_up.as_bytes()).unwrap();
            m.record(&method, route, StatusCode::OK, Duration::from_millis(1));
        }
        let text = prometheus.render();
        let line = |labels: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("foreman_http_requests_total{{{labels}}} ")))
                .map(|l| l.rsplit(' ').next().unwrap_or_default().to_owned())
        };
        let labels = |method: &str, status: u16| {
            format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"")
        };
        assert_eq!(line(&labels("GET", 200)).as_deref(), Some("2"), "{text}");
        assert_eq!(line(&labels("GET", 404)).as_deref(), Some("1"));
        assert_eq!(line(&labels("POST", 200)).as_deref(), Some("1"));
        assert_eq!(line(&labels("OTHER", 200)).as_deref(), Some("3"));
        assert!(!text.contains("BREW"), "{text}");
        let count = text
            .lines()
            .find(|l| {
                l.starts_with("foreman_http_request_duration_seconds_count")
                    && l.contains(&format!("route=\"{route}\""))
                    && l.contains("method=\"GET\"")
            })
            .and_then(|l| l.rsplit(' ').next());
        assert_eq!(count, Some("3"), "{text}");
    }

    #[test]
    fn buckets_refill() {
        let limiter = RateLimiter::new(60);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(limiter.check(ip, t0).is_ok());
        }
        assert_eq!(limiter.check(ip, t0), Err(1));
        // Another client has its own allowance.
        assert!(limiter.check("10.0.0.1".parse().unwrap(), t0).is_ok());
        // One second refills one request at 60/min.
        assert!(limiter.check(ip, t0 + Duration::from_secs(1)).is_ok());
        assert!(limiter.check(ip, t0 + Duration::from_secs(1)).is_err());
    }
}
