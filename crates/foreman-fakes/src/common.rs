//! What every fake shares: the listener on `127.0.0.1:0`, the token check, the request log and
//! the queue of injected failures.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::faults::FaultPlan;

/// A failure to return instead of the next matching response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This status with a JSON error body in the service's shape.
    Status(u16),
    /// 429 with `Retry-After: <secs>`.
    RateLimit {
        /// Seconds.
        retry_after: u64,
    },
    /// GitHub's secondary limit: 403 with `Retry-After` and its message.
    SecondaryRateLimit {
        /// Seconds.
        retry_after: u64,
    },
    /// GitHub's primary limit: 403 with `X-RateLimit-Remaining: 0` and a reset time.
    PrimaryRateLimit {
        /// Seconds until the reset.
        reset_in: u64,
    },
    /// The request is answered normally after this many milliseconds (a slow service).
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// 200 with an empty JSON array and no `Link` header.
    EmptyPage,
    /// 200 with a body that is not JSON.
    Malformed,
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// The `If-None-Match` header, if sent.
    pub if_none_match: Option<String>,
}

/// Shared controls of a fake.
#[derive(Debug, Default)]
pub struct Control {
    faults: Mutex<VecDeque<(Option<String>, Fault)>>,
    revoked: Mutex<bool>,
    seen: Mutex<Vec<Seen>>,
    random: Mutex<Option<Arc<FaultPlan>>>,
    reached: Mutex<Vec<Seen>>,
    garbled: Mutex<Vec<Seen>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Control {
    /// Fails the next request (any path) with `fault`. Several queue up in order.
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.faults).push_back((None, fault));
    }

    /// Fails the next request whose path contains `path_part` with `fault`.
    pub fn fail_next_on(&self, path_part: &str, fault: Fault) {
        lock(&self.faults).push_back((Some(path_part.to_owned()), fault));
    }

    /// Revokes (or restores) the token: every request gets 401.
    pub fn set_revoked(&self, revoked: bool) {
        *lock(&self.revoked) = revoked;
    }

    /// Every request so far.
    #[must_use]
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.seen).clone()
    }

    /// Fails a share of all further requests at random ([`FaultPlan`]), after any queued
    /// [`Fault`]s; `None` stops it.
    pub fn set_random_faults(&self, plan: Option<Arc<FaultPlan>>) {
        *lock(&self.random) = plan;
    }

    /// The requests the service acted on: authorised, and not answered by an injected fault
    /// (queued or random) other than a garbled answer. Count writes here to find duplicated
    /// side effects.
    #[must_use]
    pub fn handled(&self) -> Vec<Seen> {
        lock(&self.reached).clone()
    }

    /// The handled requests whose answer was garbled ([`crate::faults::FaultKind::MalformedJson`]):
    /// the client cannot know they were made, so it may rightly make them again.
    #[must_use]
    pub fn garbled(&self) -> Vec<Seen> {
        lock(&self.garbled).clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        lock(&self.seen).clear();
    }

    fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let idx = faults
            .iter()
            .position(|(p, _)| p.as_deref().is_none_or(|p| path.contains(p)))?;
        faults.remove(idx).map(|(_, f)| f)
    }
}

/// How a fake checks credentials and shapes its errors.
#[derive(Clone)]
pub(crate) struct Gate {
    pub control: Arc<Control>,
    pub authorised: Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>,
    pub error_body: fn(u16, &str) -> serde_json::Value,
}

async fn gate(State(g): State<Gate>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let seen = Seen {
        method: req.method().to_string(),
        path: path.clone(),
        query: req.uri().query().unwrap_or_default().to_owned(),
        if_none_match: req
            .headers()
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    lock(&g.control.seen).push(seen.clone());
    if *lock(&g.control.revoked) || !(g.authorised)(req.headers()) {
        return error(&g, 401, "Bad credentials");
    }
    if let Some(fault) = g.control.take_fault(&path) {
        return match fault {
            Fault::Delay { ms } => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                lock(&g.control.reached).push(seen);
                next.run(req).await
            }
            Fault::Status(s) => error(&g, s, "injected failure"),
            Fault::RateLimit { retry_after } => {
                let mut r = error(&g, 429, "rate limit exceeded");
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from(retry_after));
                r
            }
            Fault::SecondaryRateLimit { retry_after } => {
                let mut r = error(
                    &g,
                    403,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                );
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from(retry_after));
                r
            }
            Fault::PrimaryRateLimit { reset_in } => {
                let mut r = error(&g, 403, "API rate limit exceeded");
                let reset = chrono::Utc::now().timestamp() + i64::try_from(reset_in).unwrap_or(0);
                r.headers_mut()
                    .insert("x-ratelimit-remaining", HeaderValue::from(0));
                r.headers_mut()
                    .insert("x-ratelimit-reset", HeaderValue::from(reset));
                r
            }
            Fault::EmptyPage => {
                (StatusCode::OK, [("content-type", "application/json")], "[]").into_response()
            }
            Fault::Malformed => (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"this is\": not json",
            )
                .into_response(),
        };
    }
    let random = lock(&g.control.random).clone();
    if let Some(plan) = random
        && let Some(kind) = plan.draw()
    {
        if kind == crate::faults::FaultKind::MalformedJson {
            // The service acts and its answer is garbled on the way: its status, a body that
            // is not JSON. (A 2xx whose body the client does not read is then a success that
            // happened, as on a real service, not one that did not.)
            lock(&g.control.reached).push(seen.clone());
            lock(&g.control.garbled).push(seen);
            let status = next.run(req).await.status();
            return (
                status,
                [("content-type", "application/json")],
                crate::faults::MALFORMED_BODY,
            )
                .into_response();
        }
        return plan.respond(kind, g.error_body, 503).await;
    }
    lock(&g.control.reached).push(seen);
    next.run(req).await
}

fn error(g: &Gate, status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json((g.error_body)(status, message))).into_response()
}

/// A running fake server; stops when dropped.
#[derive(Debug)]
pub struct Running {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// A server at `url` run by `task` (stopped when this is dropped).
    pub(crate) fn new(url: String, task: tokio::task::JoinHandle<()>) -> Self {
        Self { url, task }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn serve(router: Router, gate_state: Gate) -> Running {
    let app = router.layer(middleware::from_fn_with_state(gate_state, gate));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Running {
        url: format!("http://{addr}"),
        task,
    }
}

/// The JSON response helper.
pub(crate) fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// A response with a body and extra headers.
pub(crate) fn json_with(
    status: StatusCode,
    value: &serde_json::Value,
    headers: Vec<(&'static str, String)>,
) -> Response {
    let mut r = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        r = r.header(k, v);
    }
    r.body(Body::from(value.to_string()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Standard base64 (with padding).
#[must_use]
pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The current time as the services render it.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Page `page` (1-based) of `items` with `per_page` items, and the `Link` header for it.
pub(crate) fn paginate<T: Clone>(
    items: &[T],
    page: usize,
    per_page: usize,
    self_url: &str,
    query_without_page: &str,
) -> (Vec<T>, Option<String>) {
    let page = page.max(1);
    let per_page = per_page.clamp(1, 100);
    let start = (page - 1) * per_page;
    let slice: Vec<T> = items.iter().skip(start).take(per_page).cloned().collect();
    let last = items.len().div_ceil(per_page).max(1);
    let sep = if query_without_page.is_empty() {
        ""
    } else {
        "&"
    };
    let link_to = |p: usize, rel: &str| {
        format!("<{self_url}?{query_without_page}{sep}per_page={per_page}&page={p}>; rel=\"{rel}\"")
    };
    let mut links = Vec::new();
    if page < last {
        links.push(link_to(page + 1, "next"));
        links.push(link_to(last, "last"));
    }
    if page > 1 {
        links.push(link_to(1, "first"));
        links.push(link_to(page - 1, "prev"));
    }
    (slice, (!links.is_empty()).then(|| links.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn pages_link_forward_and_back() {
        let items: Vec<u32> = (0..250).collect();
        let (p1, link) = paginate(&items, 1, 100, "http://h/x", "state=open");
        assert_eq!(p1.len(), 100);
        let link = link.unwrap();
        assert!(
            link.contains("<http://h/x?state=open&per_page=100&page=2>; rel=\"next\""),
            "{link}"
        );
        let (p3, link) = paginate(&items, 3, 100, "http://h/x", "");
        assert_eq!(p3.len(), 50);
        assert!(!link.unwrap().contains("next"));
        let (none, link) = paginate::<u32>(&[], 1, 30, "http://h/x", "");
        assert!(none.is_empty() && link.is_none());
    }
}
