//! Retry policy: exponential backoff with jitter, honouring the provider's `Retry-After`.

use std::time::Duration;

use foreman_domain::llm::LlmError;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// When and how long to wait before trying a failed call again.
///
/// Only retryable failures ([`LlmError::is_retryable`]: rate limits, overload, 5xx, timeouts,
/// connection errors, garbled responses) are retried; authentication and invalid requests
/// never are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Backoff before the second attempt.
    #[serde(with = "crate::wire::duration_ms")]
    pub initial_backoff: Duration,
    /// Longest backoff.
    #[serde(with = "crate::wire::duration_ms")]
    pub max_backoff: Duration,
    /// Growth factor per attempt.
    pub multiplier: f64,
    /// Longest `Retry-After` honoured; a longer one is capped to this.
    #[serde(with = "crate::wire::duration_ms")]
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            multiplier: 2.0,
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The un-jittered backoff after failed attempt `attempt` (1-based).
    #[must_use]
    pub fn base_backoff(&self, attempt: u32) -> Duration {
        let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = self.multiplier.max(1.0).powi(exp);
        let secs =
            (self.initial_backoff.as_secs_f64() * factor).min(self.max_backoff.as_secs_f64());
        Duration::try_from_secs_f64(secs).unwrap_or(self.max_backoff)
    }

    /// How long to wait after failed attempt `attempt` (1-based) failed with `error`, or `None`
    /// when it must not be retried. The wait is the backoff with "equal jitter" (between half
    /// and all of it), and at least the provider's `Retry-After` (capped at
    /// `max_retry_after`).
    #[must_use]
    pub fn delay_after(&self, attempt: u32, error: &LlmError) -> Option<Duration> {
        if attempt >= self.max_attempts || !error.is_retryable() {
            return None;
        }
        let base = self.base_backoff(attempt);
        let half = base / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..=half)
        };
        let backoff = half + jitter;
        Some(match error.retry_after() {
            Some(ra) => backoff.max(ra.min(self.max_retry_after)),
            None => backoff,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn overloaded(retry_after: Option<Duration>) -> LlmError {
        LlmError::Overloaded {
            retry_after,
            message: String::new(),
        }
    }

    #[test]
    fn never_retries_auth_or_invalid_requests() {
        let p = RetryPolicy::default();
        for e in [
            LlmError::Authentication {
                message: String::new(),
            },
            LlmError::InvalidRequest {
                message: String::new(),
            },
            LlmError::ContextTooLong {
                message: String::new(),
            },
        ] {
            assert_eq!(p.delay_after(1, &e), None);
        }
        assert!(p.delay_after(1, &overloaded(None)).is_some());
        assert_eq!(
            p.delay_after(4, &overloaded(None)),
            None,
            "attempts exhausted"
        );
        assert_eq!(RetryPolicy::none().delay_after(1, &overloaded(None)), None);
    }

    #[test]
    fn honours_retry_after_up_to_the_cap() {
        let p = RetryPolicy::default();
        let d = p
            .delay_after(1, &overloaded(Some(Duration::from_secs(30))))
            .unwrap();
        assert_eq!(d, Duration::from_secs(30));
        let d = p
            .delay_after(1, &overloaded(Some(Duration::from_secs(3600))))
            .unwrap();
        assert_eq!(d, Duration::from_secs(120));
    }

    #[test]
    fn backoff_grows_then_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.base_backoff(1), Duration::from_secs(1));
        assert_eq!(p.base_backoff(2), Duration::from_secs(2));
        assert_eq!(p.base_backoff(3), Duration::from_secs(4));
        assert_eq!(p.base_backoff(30), Duration::from_secs(60));
    }

    proptest! {
        #[test]
        fn jittered_delay_stays_within_half_and_full_backoff(attempt in 1u32..10) {
            let p = RetryPolicy { max_attempts: 20, ..RetryPolicy::default() };
            let d = p.delay_after(attempt, &overloaded(None)).unwrap();
            let base = p.base_backoff(attempt);
            prop_assert!(d >= base / 2 && d <= base, "{d:?} vs {base:?}");
        }
    }
}
