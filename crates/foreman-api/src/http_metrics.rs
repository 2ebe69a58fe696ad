//! The HTTP request metrics, with each route's handles registered once.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use metrics::{Counter, Histogram};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
