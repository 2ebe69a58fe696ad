//! When to try a request again, and after how long.
//!
//! A service says how long to wait with `Retry-After` (either delay-seconds or an HTTP-date,
//! RFC 9110 §10.2.3) or with a reset time (`X-RateLimit-Reset`, `RateLimit-Reset`, epoch
//! seconds). [`should_retry`] turns a failure into a wait: rate limits wait as long as asked
//! when that is short enough, transient failures of idempotent requests back off a little.

use std::time::Duration;

use chrono::{DateTime, Utc};
use foreman_domain::remote::RemoteError;
use reqwest::header::HeaderMap;

/// The wait assumed for a rate limit that did not say how long.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(1);

/// Parses one `Retry-After` value: delay-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`). A date in the past is no wait; anything else is `None`.
#[must_use]
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// How long the service asks to wait: `Retry-After` (seconds or HTTP-date), else
/// `X-RateLimit-Reset` / `RateLimit-Reset` as epoch seconds (GitHub's and GitLab's).
#[must_use]
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(wait) = get("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(wait);
    }
    let reset = get("x-ratelimit-reset").or_else(|| get("ratelimit-reset"))?;
    let reset = reset.parse::<i64>().ok()?;
    Some(Duration::from_secs(
        u64::try_from(reset - now.timestamp()).unwrap_or(0),
    ))
}

/// The wait before attempt `attempt + 1` after `err`, or `None` when the request must not be
/// sent again: a rate limit is waited out when its wait is at most `max_wait`; a transient
/// failure (5xx, no answer) is retried after `200 ms × attempt` only for an idempotent
/// request; nothing else is retried.
#[must_use]
pub fn should_retry(
    err: &RemoteError,
    attempt: u32,
    idempotent: bool,
    max_wait: Duration,
) -> Option<Duration> {
    match err {
        RemoteError::RateLimited { retry_after, .. } => {
            let wait = retry_after.unwrap_or(DEFAULT_RATE_LIMIT_WAIT);
            (wait <= max_wait).then_some(wait)
        }
        e if idempotent && e.is_transient() => {
            Some(Duration::from_millis(200 * u64::from(attempt)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn retry_after_in_seconds() {
        let now = at("2026-01-01T00:00:00Z");
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
    }

    #[test]
    fn retry_after_as_an_http_date() {
        let now = at("2015-10-21T07:27:30Z");
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(30))
        );
        // a date already past means "now", not an error
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:29:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn reset_headers_are_epoch_seconds() {
        let now = at("2026-01-01T00:00:00Z");
        let mut h = HeaderMap::new();
        let reset = (now.timestamp() + 30).to_string();
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        let mut h = HeaderMap::new();
        let past = (now.timestamp() - 30).to_string();
        h.insert("ratelimit-reset", HeaderValue::from_str(&past).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        // Retry-After wins over a reset time
        h.insert("retry-after", HeaderValue::from_static("9"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(9)));
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn what_is_retried() {
        let max = Duration::from_secs(60);
        let limited = |secs: Option<u64>| RemoteError::RateLimited {
            service: "github",
            retry_after: secs.map(Duration::from_secs),
        };
        assert_eq!(
            should_retry(&limited(Some(5)), 1, false, max),
            Some(Duration::from_secs(5)),
            "a short rate limit is waited out even for writes"
        );
        assert_eq!(should_retry(&limited(Some(600)), 1, true, max), None);
        assert_eq!(
            should_retry(&limited(None), 1, true, max),
            Some(DEFAULT_RATE_LIMIT_WAIT)
        );
        let outage = RemoteError::Status {
            service: "github",
            status: 502,
            message: String::new(),
        };
        assert_eq!(
            should_retry(&outage, 2, true, max),
            Some(Duration::from_millis(400))
        );
        assert_eq!(
            should_retry(&outage, 1, false, max),
            None,
            "a write is never sent twice after an outage"
        );
        let refused = RemoteError::Status {
            service: "github",
            status: 422,
            message: String::new(),
        };
        assert_eq!(should_retry(&refused, 1, true, max), None);
    }
}
