//! The API's rate limits: a GCRA allowance per identity (the authenticated token, else the
//! client address), one for reads and one for mutating requests, on the `governor` crate.
//!
//! The client address is the peer's, or, when the peer is a trusted proxy, the right-most
//! address of `X-Forwarded-For` that is not itself a trusted proxy: the left part of that
//! header is whatever the client wrote, so only the hops added by trusted proxies are believed.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, Method};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;

/// Checks between two sweeps of identities whose allowance is full again.
const SWEEP_EVERY: u64 = 4096;

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Identity {
    /// A stored token, by id.
    Token(String),
    /// The static `[dashboard] auth_token`.
    StaticToken,
    /// No valid token: the client address.
    Addr(IpAddr),
}

/// Which allowance a request takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// GET and HEAD.
    Read,
    /// POST, PUT, PATCH, DELETE.
    Write,
}

impl Class {
    /// The allowance a request takes from; `None` for requests no limit applies to (CORS
    /// preflights, the health probe, webhooks, which are verified by signature and not resent
    /// by every sender).
    pub fn of(method: &Method, path: &str) -> Option<Self> {
        // the inbound receivers; the outbound subscriptions are ordinary API routes
        if path == "/api/health"
            || (path.starts_with("/api/webhooks/")
                && !path.starts_with("/api/webhooks/subscriptions"))
        {
            return None;
        }
        match *method {
            Method::GET | Method::HEAD => Some(Self::Read),
            Method::OPTIONS | Method::TRACE | Method::CONNECT => None,
            _ => Some(Self::Write),
        }
    }
}

/// The limits of one server.
pub(crate) struct RateLimits {
    reads: Option<DefaultKeyedRateLimiter<Identity>>,
    writes: Option<DefaultKeyedRateLimiter<Identity>>,
    trusted_proxies: Vec<IpNet>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("reads", &self.reads.is_some())
            .field("writes", &self.writes.is_some())
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

fn limiter(per_minute: u32) -> Option<DefaultKeyedRateLimiter<Identity>> {
    NonZeroU32::new(per_minute).map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)))
}

impl RateLimits {
    /// `reads_per_minute` and `writes_per_minute` per identity (0: not limited), with a burst of
    /// a whole minute's allowance.
    pub fn new(reads_per_minute: u32, writes_per_minute: u32, trusted_proxies: Vec<IpNet>) -> Self {
        Self {
            reads: limiter(reads_per_minute),
            writes: limiter(writes_per_minute),
            trusted_proxies,
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// Whether requests of `class` are limited at all (so the caller can skip finding the
    /// identity).
    pub fn applies(&self, class: Class) -> bool {
        match class {
            Class::Read => self.reads.is_some(),
            Class::Write => self.writes.is_some(),
        }
    }

    /// Takes one request of `class` from `who`'s allowance; `Err(seconds)` to wait (at least 1)
    /// when it is spent.
    pub fn check(&self, class: Class, who: &Identity) -> Result<(), u64> {
        let limiter = match class {
            Class::Read => &self.reads,
            Class::Write => &self.writes,
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // forget identities whose allowance is full again, rather than grow without bound
            limiter.retain_recent();
        }
        limiter.check_key(who).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            whole_seconds(wait)
        })
    }

    /// The client's address: `peer`, or the right-most untrusted hop of `X-Forwarded-For` when
    /// `peer` is a trusted proxy.
    pub fn client_addr(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        client_addr(peer, headers, &self.trusted_proxies)
    }
}

/// `wait` rounded up to whole seconds, at least 1 (the unit of `Retry-After`).
fn whole_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|net| net.contains(&ip))
}

fn client_addr(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted(peer, proxies) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // a hop that is not an address ends what can be believed
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !trusted(client, proxies) {
            break;
        }
    }
    client
}

/// Parses `trusted_proxies` entries: addresses (`10.0.0.1`, `::1`) or networks (`10.0.0.0/8`).
///
/// # Errors
/// The first entry that is neither, with the reason.
pub fn parse_trusted_proxies(entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .map(|e| {
            let e = e.trim();
            e.parse::<IpNet>()
                .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`{e}` is neither an address nor a network"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn allowances_are_per_identity_and_class() {
        let limits = RateLimits::new(0, 3, Vec::new());
        let a = Identity::Token("a".into());
        let b = Identity::Addr(ip("10.0.0.1"));
        for _ in 0..3 {
            assert_eq!(limits.check(Class::Write, &a), Ok(()));
        }
        let wait = limits.check(Class::Write, &a).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        // another identity has its own allowance; reads are not limited
        assert_eq!(limits.check(Class::Write, &b), Ok(()));
        for _ in 0..100 {
            assert_eq!(limits.check(Class::Read, &a), Ok(()));
        }
        assert!(!limits.applies(Class::Read));
    }

    #[test]
    fn classes() {
        assert_eq!(Class::of(&Method::GET, "/api/tickets"), Some(Class::Read));
        assert_eq!(Class::of(&Method::POST, "/api/tickets"), Some(Class::Write));
        assert_eq!(
            Class::of(&Method::DELETE, "/api/tickets/x"),
            Some(Class::Write)
        );
        assert_eq!(Class::of(&Method::GET, "/api/health"), None);
        assert_eq!(Class::of(&Method::POST, "/api/webhooks/github"), None);
        assert_eq!(Class::of(&Method::OPTIONS, "/api/tickets"), None);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = parse_trusted_proxies(&["10.0.0.0/8".into(), "192.168.1.1".into()]).unwrap();
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 2.2.2.2"),
        );
        h.append("x-forwarded-for", HeaderValue::from_static("10.1.1.1"));
        // from a trusted proxy: the right-most hop that is not a proxy
        assert_eq!(client_addr(ip("10.0.0.5"), &h, &proxies), ip("2.2.2.2"));
        assert_eq!(client_addr(ip("192.168.1.1"), &h, &proxies), ip("2.2.2.2"));
        // control: from anyone else the header is ignored
        assert_eq!(
            client_addr(ip("192.168.1.2"), &h, &proxies),
            ip("192.168.1.2")
        );
        assert_eq!(client_addr(ip("10.0.0.5"), &h, &[]), ip("10.0.0.5"));
        // a garbled hop stops the walk at the last believed address
        let mut g = HeaderMap::new();
        g.insert("x-forwarded-for", HeaderValue::from_static("1.1.1.1, junk"));
        assert_eq!(client_addr(ip("10.0.0.5"), &g, &proxies), ip("10.0.0.5"));
        // IPv4-mapped peers match IPv4 networks
        assert_eq!(
            client_addr(ip("::ffff:10.0.0.5"), &h, &proxies),
            ip("2.2.2.2")
        );
        assert!(parse_trusted_proxies(&["nope".into()]).is_err());
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
    }
}
