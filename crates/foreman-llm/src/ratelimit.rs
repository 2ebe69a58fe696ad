//! Per-provider rate limits: a requests-per-minute and a tokens-per-minute token bucket,
//! shared by every pipeline that calls the provider.
//!
//! Callers take what they need up front and wait for the bucket to cover it ("virtual
//! scheduling"): the balance may go negative, and each caller sleeps until its share would have
//! been refilled. That keeps waiting asynchronous, fair (first come, first served) and free of
//! polling.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Limits for one provider; `0` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Requests per minute.
    pub requests_per_minute: u32,
    /// Input plus output tokens per minute.
    pub tokens_per_minute: u64,
}

/// The `[rate_limit]` configuration: defaults for every provider plus per-provider limits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per minute for providers without their own entry (`0`: unlimited).
    pub requests_per_minute: u32,
    /// Tokens per minute for providers without their own entry (`0`: unlimited).
    pub tokens_per_minute: u64,
    /// Per-provider limits, keyed by provider name.
    pub providers: BTreeMap<String, RateLimits>,
}

impl RateLimitConfig {
    /// The limits that apply to `provider`.
    #[must_use]
    pub fn limits_for(&self, provider: &str) -> RateLimits {
        self.providers.get(provider).copied().unwrap_or(RateLimits {
            requests_per_minute: self.requests_per_minute,
            tokens_per_minute: self.tokens_per_minute,
        })
    }
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_sec: f64,
    available: f64,
}

impl Bucket {
    fn new(per_minute: f64) -> Option<Self> {
        (per_minute > 0.0).then(|| Self {
            capacity: per_minute,
            per_sec: per_minute / 60.0,
            available: per_minute,
        })
    }

    fn refill(&mut self, elapsed: Duration) {
        self.available = (self.available + elapsed.as_secs_f64() * self.per_sec).min(self.capacity);
    }

    /// Takes `n` (capped at the capacity, so a huge request cannot wait forever) and returns
    /// how long until the balance is non-negative again.
    fn take(&mut self, n: f64) -> Duration {
        self.available -= n.min(self.capacity);
        if self.available >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.available / self.per_sec)
        }
    }
}

#[derive(Debug)]
struct State {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    last: Instant,
    paused_until: Option<Instant>,
}

/// The rate limiter of one provider. Share one instance (in an `Arc`) between everything that
/// calls that provider.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    state: Mutex<State>,
}

impl RateLimiter {
    /// A limiter with full buckets.
    #[must_use]
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                requests: Bucket::new(f64::from(limits.requests_per_minute)),
                tokens: Bucket::new(limits.tokens_per_minute as f64),
                last: Instant::now(),
                paused_until: None,
            }),
        }
    }

    /// A limiter that never waits.
    #[must_use]
    pub fn unlimited() -> Self {
        Self::new(RateLimits::default())
    }

    /// The configured limits.
    #[must_use]
    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes one request and `tokens` tokens from the buckets and returns how long the caller
    /// must wait before sending (zero when it may go now).
    pub fn reserve(&self, tokens: u64) -> Duration {
        let now = Instant::now();
        let mut s = self.lock();
        let elapsed = now.saturating_duration_since(s.last);
        s.last = now;
        let mut wait = Duration::ZERO;
        if let Some(b) = s.requests.as_mut() {
            b.refill(elapsed);
            wait = wait.max(b.take(1.0));
        }
        if let Some(b) = s.tokens.as_mut() {
            b.refill(elapsed);
            wait = wait.max(b.take(tokens as f64));
        }
        if let Some(until) = s.paused_until {
            if until > now {
                wait = wait.max(until - now);
            } else {
                s.paused_until = None;
            }
        }
        wait
    }

    /// [`RateLimiter::reserve`], then sleeps for the wait. Returns how long it waited.
    pub async fn acquire(&self, tokens: u64) -> Duration {
        let wait = self.reserve(tokens);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }

    /// Corrects the token bucket once a call's real usage is known: unused estimated tokens
    /// are given back, extra ones are taken.
    pub fn settle_tokens(&self, estimated: u64, actual: u64) {
        let mut s = self.lock();
        if let Some(b) = s.tokens.as_mut() {
            let delta = estimated.min(b.capacity as u64) as f64 - actual as f64;
            b.available = (b.available + delta).min(b.capacity);
        }
    }

    /// Holds every caller back until `until` (the provider said to wait).
    pub fn pause_until(&self, until: Instant) {
        let mut s = self.lock();
        if s.paused_until.is_none_or(|p| p < until) {
            s.paused_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_spreads_calls() {
        let rl = RateLimiter::new(RateLimits {
            requests_per_minute: 60,
            tokens_per_minute: 0,
        });
        // a full bucket lets a burst of 60 through at once
        for _ in 0..60 {
            assert_eq!(rl.reserve(0), Duration::ZERO);
        }
        // then one per second
        assert_eq!(rl.reserve(0), Duration::from_secs(1));
        assert_eq!(rl.reserve(0), Duration::from_secs(2));
        tokio::time::advance(Duration::from_secs(10)).await;
        // 10 s refilled 10 requests; 2 were owed
        let w = rl.reserve(0);
        assert_eq!(w, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_and_settling() {
        let rl = RateLimiter::new(RateLimits {
            requests_per_minute: 0,
            tokens_per_minute: 6_000,
        });
        assert_eq!(rl.reserve(6_000), Duration::ZERO);
        assert_eq!(rl.reserve(100), Duration::from_secs(1));
        // the first call only used 1,000 of its 6,000: 5,000 come back
        rl.settle_tokens(6_000, 1_000);
        assert_eq!(rl.reserve(4_000), Duration::ZERO);
        // a request larger than a minute's budget waits at most a minute
        let w = rl.reserve(1_000_000);
        assert!(w <= Duration::from_secs(61), "{w:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_everyone_back() {
        let rl = RateLimiter::unlimited();
        assert_eq!(rl.reserve(10), Duration::ZERO);
        rl.pause_until(Instant::now() + Duration::from_secs(5));
        assert_eq!(rl.reserve(10), Duration::from_secs(5));
        let waited = rl.acquire(10).await;
        assert_eq!(waited, Duration::from_secs(5));
        assert_eq!(rl.reserve(10), Duration::ZERO);
    }

    #[test]
    fn config_picks_per_provider_limits() {
        let cfg: RateLimitConfig = serde_json::from_str(
            r#"{"requests_per_minute": 50, "providers": {"openai": {"requests_per_minute": 500, "tokens_per_minute": 30000}}}"#,
        )
        .unwrap();
        assert_eq!(cfg.limits_for("anthropic").requests_per_minute, 50);
        assert_eq!(cfg.limits_for("openai").tokens_per_minute, 30_000);
    }
}
