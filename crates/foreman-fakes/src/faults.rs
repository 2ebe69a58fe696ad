//! Random fault injection: a [`FaultPlan`] fails a given share of the requests a fake receives,
//! each with a fault drawn from its kinds, from a seeded generator (so a failing run can be
//! replayed with the same seed), and counts what it injected.
//!
//! A fault is injected *before* the fake acts on the request: the service never performed a
//! write whose answer was lost. (A write performed and then lost is what a crash looks like;
//! the crash tests cover it.)

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// What an injected fault looks like on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// 429 with `Retry-After` ([`FaultPlan::retry_after_secs`]).
    RateLimit,
    /// The service is overloaded: 529 on a model API, 503 elsewhere.
    Overloaded,
    /// 500, 502 or 503 in turn.
    ServerError,
    /// No answer for [`FaultPlan::timeout`], then 504 (a gateway giving up).
    Timeout,
    /// A body that is not JSON: 200 from [`FaultPlan::respond`]; a fake API's gate lets the
    /// request act first and answers with its status (the answer garbled on the way).
    MalformedJson,
    /// The headers, then the connection dropped mid-body.
    ConnectionReset,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: &'static [Self] = &[
        Self::RateLimit,
        Self::Overloaded,
        Self::ServerError,
        Self::Timeout,
        Self::MalformedJson,
        Self::ConnectionReset,
    ];

    /// The kind's name in counts and reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RateLimit => "rate_limit_429",
            Self::Overloaded => "overloaded",
            Self::ServerError => "server_error_5xx",
            Self::Timeout => "timeout",
            Self::MalformedJson => "malformed_json",
            Self::ConnectionReset => "connection_reset",
        }
    }
}

#[derive(Debug)]
struct Draws {
    state: u64,
    requests: u64,
    injected: BTreeMap<FaultKind, u64>,
}

/// Fails `percent` % of requests with a fault drawn from `kinds`.
#[derive(Debug)]
pub struct FaultPlan {
    percent: u32,
    kinds: Vec<FaultKind>,
    /// How long a [`FaultKind::Timeout`] waits before its 504.
    pub timeout: Duration,
    /// The `Retry-After` of a [`FaultKind::RateLimit`], in seconds.
    pub retry_after_secs: u64,
    draws: Mutex<Draws>,
}

impl FaultPlan {
    /// Fails `percent` % of requests (0–100) with every kind in turn at random, from `seed`;
    /// timeouts wait 1 s, rate limits ask for 1 s.
    #[must_use]
    pub fn new(percent: u32, seed: u64) -> Self {
        Self {
            percent: percent.min(100),
            kinds: FaultKind::ALL.to_vec(),
            timeout: Duration::from_secs(1),
            retry_after_secs: 1,
            draws: Mutex::new(Draws {
                state: seed ^ 0x9E37_79B9_7F4A_7C15,
                requests: 0,
                injected: BTreeMap::new(),
            }),
        }
    }

    /// The same plan with only these kinds.
    #[must_use]
    pub fn with_kinds(mut self, kinds: &[FaultKind]) -> Self {
        kinds.clone_into(&mut self.kinds);
        self
    }

    /// The same plan with timeouts that wait `timeout` and rate limits that ask for
    /// `retry_after_secs`.
    #[must_use]
    pub fn with_waits(mut self, timeout: Duration, retry_after_secs: u64) -> Self {
        self.timeout = timeout;
        self.retry_after_secs = retry_after_secs;
        self
    }

    /// Draws for one request: the fault to inject, if any (counted).
    pub fn draw(&self) -> Option<FaultKind> {
        let mut d = self
            .draws
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        d.requests += 1;
        let roll = next(&mut d.state) % 100;
        if self.kinds.is_empty() || roll >= u64::from(self.percent) {
            return None;
        }
        let pick = next(&mut d.state) % self.kinds.len() as u64;
        let kind = self.kinds[usize::try_from(pick).unwrap_or(0)];
        *d.injected.entry(kind).or_default() += 1;
        Some(kind)
    }

    /// Requests drawn for so far.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// Faults injected so far, by kind name.
    #[must_use]
    pub fn injected(&self) -> BTreeMap<&'static str, u64> {
        self.lock()
            .injected
            .iter()
            .map(|(k, n)| (k.as_str(), *n))
            .collect()
    }

    /// Faults injected so far, all kinds.
    #[must_use]
    pub fn injected_total(&self) -> u64 {
        self.lock().injected.values().sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Draws> {
        self.draws
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The response of `kind` for a service whose error bodies `error_body` builds;
    /// `overloaded_status` is what "overloaded" answers with (529 for a model API, 503 else).
    pub async fn respond(
        &self,
        kind: FaultKind,
        error_body: impl Fn(u16, &str) -> serde_json::Value,
        overloaded_status: u16,
    ) -> Response {
        let error = |status: u16, message: &str| {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (code, axum::Json(error_body(status, message))).into_response()
        };
        match kind {
            FaultKind::RateLimit => {
                let mut r = error(429, "rate limit exceeded (injected)");
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from(self.retry_after_secs));
                r
            }
            FaultKind::Overloaded => error(overloaded_status, "overloaded (injected)"),
            FaultKind::ServerError => {
                let status = [500, 502, 503][usize::try_from(self.requests() % 3).unwrap_or(0)];
                error(status, "internal error (injected)")
            }
            FaultKind::Timeout => {
                tokio::time::sleep(self.timeout).await;
                error(504, "gateway timeout (injected)")
            }
            FaultKind::MalformedJson => (
                StatusCode::OK,
                [("content-type", "application/json")],
                MALFORMED_BODY,
            )
                .into_response(),
            FaultKind::ConnectionReset => {
                let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
                    Ok("{\"partial\": "),
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "connection reset (injected)",
                    )),
                ];
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(Body::from_stream(futures::stream::iter(chunks)))
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
            }
        }
    }
}

/// The body of a [`FaultKind::MalformedJson`] answer.
pub const MALFORMED_BODY: &str = "{\"injected\": malformed";

/// xorshift64*: small, seedable, good enough to spread faults.
fn next(state: &mut u64) -> u64 {
    let mut x = *state;
    if x == 0 {
        x = 0x2545_F491_4F6C_DD1D;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_the_asked_share_fails_and_a_seed_replays() {
        let plan = FaultPlan::new(20, 7);
        let drawn: Vec<Option<FaultKind>> = (0..5000).map(|_| plan.draw()).collect();
        let failed = drawn.iter().filter(|d| d.is_some()).count();
        assert!((800..1200).contains(&failed), "{failed} of 5000");
        assert_eq!(plan.requests(), 5000);
        assert_eq!(plan.injected_total(), failed as u64);
        assert_eq!(
            plan.injected().len(),
            FaultKind::ALL.len(),
            "every kind occurs"
        );
        let again = FaultPlan::new(20, 7);
        let replayed: Vec<Option<FaultKind>> = (0..5000).map(|_| again.draw()).collect();
        assert_eq!(drawn, replayed);
        // control: 0 % never fails
        let none = FaultPlan::new(0, 7);
        assert!((0..1000).all(|_| none.draw().is_none()));
        let only = FaultPlan::new(100, 1).with_kinds(&[FaultKind::Timeout]);
        assert_eq!(only.draw(), Some(FaultKind::Timeout));
    }
}
