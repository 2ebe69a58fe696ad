//! A circuit breaker per provider: after repeated outage failures (connection errors,
//! overload, 5xx, timeouts) calls fail fast for a cool-down, then one probe is let through.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive outage failures that open the breaker (0 disables it).
    pub failure_threshold: u32,
    /// How long it stays open before letting a probe through.
    #[serde(with = "crate::wire::duration_ms")]
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// Where the breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail fast.
    Open,
    /// One probe call is in flight; others fail fast until it returns.
    HalfOpen,
}

/// What a call outcome changed, so the caller can emit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing changed.
    None,
    /// The breaker opened (`provider_down`).
    Opened,
    /// The breaker closed after being open (`provider_recovered`).
    Recovered,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    consecutive: u32,
    opened_at: Option<Instant>,
}

/// A circuit breaker. Share one per provider.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker.
    #[must_use]
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                consecutive: 0,
                opened_at: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current state (an open breaker whose cool-down passed still reads `Open` until a
    /// call asks to go through).
    #[must_use]
    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// Whether a call may go through now. An open breaker past its cool-down lets exactly one
    /// probe through and becomes half-open.
    #[must_use]
    pub fn allow(&self) -> bool {
        if self.config.failure_threshold == 0 {
            return true;
        }
        let mut s = self.lock();
        match s.state {
            BreakerState::Closed => true,
            BreakerState::HalfOpen => false,
            BreakerState::Open => {
                let cooled = s
                    .opened_at
                    .is_none_or(|t| t.elapsed() >= self.config.cool_down);
                if cooled {
                    s.state = BreakerState::HalfOpen;
                }
                cooled
            }
        }
    }

    /// Records a call that got an answer from the provider (success, or a failure that does
    /// not say the provider is down).
    pub fn on_success(&self) -> Transition {
        let mut s = self.lock();
        s.consecutive = 0;
        let was = s.state;
        s.state = BreakerState::Closed;
        s.opened_at = None;
        if was == BreakerState::Closed {
            Transition::None
        } else {
            Transition::Recovered
        }
    }

    /// Records an outage failure.
    pub fn on_outage(&self) -> Transition {
        if self.config.failure_threshold == 0 {
            return Transition::None;
        }
        let mut s = self.lock();
        s.consecutive = s.consecutive.saturating_add(1);
        match s.state {
            BreakerState::HalfOpen => {
                // the probe failed: open again for another cool-down (already reported down)
                s.state = BreakerState::Open;
                s.opened_at = Some(Instant::now());
                Transition::None
            }
            BreakerState::Closed if s.consecutive >= self.config.failure_threshold => {
                s.state = BreakerState::Open;
                s.opened_at = Some(Instant::now());
                Transition::Opened
            }
            _ => Transition::None,
        }
    }

    /// Gives up a half-open probe slot without an outcome (the call was never sent, e.g.
    /// refused by the budget).
    pub fn on_abandoned(&self) {
        let mut s = self.lock();
        if s.state == BreakerState::HalfOpen {
            s.state = BreakerState::Open;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_half_opens_and_recovers() {
        let b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            cool_down: Duration::from_secs(30),
        });
        assert!(b.allow());
        assert_eq!(b.on_outage(), Transition::None);
        assert_eq!(b.on_outage(), Transition::None);
        assert_eq!(b.on_outage(), Transition::Opened);
        assert!(!b.allow());
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(b.allow(), "one probe after the cool-down");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!b.allow(), "only one probe");
        // the probe fails: open again, no second provider_down
        assert_eq!(b.on_outage(), Transition::None);
        assert!(!b.allow());
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(b.allow());
        assert_eq!(b.on_success(), Transition::Recovered);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.on_success(), Transition::None);
    }

    #[test]
    fn success_resets_the_count() {
        let b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 2,
            cool_down: Duration::from_secs(1),
        });
        b.on_outage();
        b.on_success();
        assert_eq!(b.on_outage(), Transition::None);
        assert_eq!(b.on_outage(), Transition::Opened);
    }

    #[test]
    fn threshold_zero_disables() {
        let b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 0,
            cool_down: Duration::from_secs(1),
        });
        for _ in 0..10 {
            assert_eq!(b.on_outage(), Transition::None);
        }
        assert!(b.allow());
    }
}
