//! The Prometheus recorder, the contract's metric catalogue and process metrics.

use std::fmt::Write as _;
use std::sync::OnceLock;

use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// A metric's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic counter.
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Bucketed distribution.
    Histogram,
}

impl MetricKind {
    /// The `# TYPE` word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// A metric Foreman exposes: name, type, labels and help text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// Name.
    pub name: &'static str,
    /// Type.
    pub kind: MetricKind,
    /// Label names.
    pub labels: &'static [&'static str],
    /// Help text.
    pub help: &'static str,
}

const fn def(
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        kind,
        labels,
        help,
    }
}

use MetricKind::{Counter, Gauge, Histogram};

/// The 17 metrics of the API contract. The pipeline feeds most of them; every one appears in a
/// scrape from the start (families without samples yet show their `# HELP` and `# TYPE`).
pub const CONTRACT_METRICS: &[MetricDef] = &[
    def(
        "foreman_tickets_total",
        Counter,
        &["status"],
        "tickets by final status",
    ),
    def(
        "foreman_tickets_active",
        Gauge,
        &[],
        "pipelines running now",
    ),
    def(
        "foreman_tasks_total",
        Counter,
        &["status"],
        "tasks by final status",
    ),
    def(
        "foreman_llm_calls_total",
        Counter,
        &["role", "model", "status"],
        "llm calls",
    ),
    def(
        "foreman_llm_tokens_total",
        Counter,
        &["direction", "model"],
        "llm tokens by direction (input or output)",
    ),
    def(
        "foreman_llm_duration_seconds",
        Histogram,
        &["role", "model"],
        "llm call latency",
    ),
    def(
        "foreman_cost_usd_total",
        Counter,
        &["model"],
        "spend in usd by model",
    ),
    def(
        "foreman_pipeline_duration_seconds",
        Histogram,
        &[],
        "end-to-end pipeline duration",
    ),
    def(
        "foreman_test_runs_total",
        Counter,
        &["result"],
        "test run outcomes",
    ),
    def(
        "foreman_retries_total",
        Counter,
        &["role"],
        "retries by pipeline role",
    ),
    def(
        "foreman_rate_limits_total",
        Counter,
        &["provider"],
        "provider rate limit hits",
    ),
    def(
        "foreman_tdd_verify_total",
        Counter,
        &["result"],
        "tdd verification outcomes",
    ),
    def(
        "foreman_partial_prs_total",
        Counter,
        &[],
        "partial pull requests opened",
    ),
    def(
        "foreman_clarifications_total",
        Counter,
        &[],
        "clarification requests issued",
    ),
    def(
        "foreman_secrets_detected_total",
        Counter,
        &[],
        "secrets detected and excluded from prompts (by where: foreman_secrets_detected_by_where_total)",
    ),
    def(
        "foreman_hook_executions_total",
        Counter,
        &["hook"],
        "hook executions by hook point",
    ),
    def(
        "foreman_skill_executions_total",
        Counter,
        &["skill", "status"],
        "skill executions by outcome",
    ),
];

/// Metrics the API and the event hub emit themselves, and the breakdowns of contract metrics
/// whose contract labels are fewer than Foreman records (see `FOLDED`).
pub const API_METRICS: &[MetricDef] = &[
    def(
        "foreman_secrets_detected_by_where_total",
        Counter,
        &["where"],
        "secrets detected and excluded, by where they were found (system, message, tool_input, tool_result, tool_output, file, diff, commit)",
    ),
    def(
        "foreman_http_requests_total",
        Counter,
        &["method", "route", "status"],
        "http requests by matched route",
    ),
    def(
        "foreman_http_request_duration_seconds",
        Histogram,
        &["method", "route"],
        "http request latency by matched route",
    ),
    def(
        "foreman_api_auth_failures_total",
        Counter,
        &["reason"],
        "refused authentications by reason",
    ),
    def(
        "foreman_api_rate_limited_total",
        Counter,
        &[],
        "requests refused by the per-ip rate limit",
    ),
    def(
        "foreman_audit_entries_total",
        Counter,
        &[],
        "mutating requests recorded in the audit trail",
    ),
    def(
        "foreman_audit_append_failures_total",
        Counter,
        &[],
        "mutating requests answered without their audit entry (the append failed)",
    ),
    def(
        "foreman_api_tokens_created_total",
        Counter,
        &[],
        "api tokens created",
    ),
    def(
        "foreman_api_tokens_revoked_total",
        Counter,
        &[],
        "api tokens revoked",
    ),
    def(
        "foreman_webhooks_total",
        Counter,
        &["provider", "outcome"],
        "webhook deliveries by provider and outcome (queued, updated, recorded, ignored, deferred, unauthorized, malformed, not_configured, ...)",
    ),
    def(
        "foreman_events_total",
        Counter,
        &["event_type", "severity"],
        "events stored and published",
    ),
    def(
        "foreman_events_lagged_total",
        Counter,
        &[],
        "live events a slow subscriber skipped (then replayed from the log)",
    ),
    def(
        "foreman_live_subscribers",
        Gauge,
        &["transport"],
        "connected live event subscribers",
    ),
    def(
        "process_resident_memory_bytes",
        Gauge,
        &[],
        "resident set size",
    ),
    def(
        "process_cpu_seconds_total",
        Counter,
        &[],
        "user and system cpu time",
    ),
    def("process_open_fds", Gauge, &[], "open file descriptors"),
    def("process_max_fds", Gauge, &[], "file descriptor limit"),
    def(
        "process_start_time_seconds",
        Gauge,
        &[],
        "process start time since the unix epoch",
    ),
];

/// Bucket bounds (seconds) for every `*_seconds` histogram: 1 ms to about 30 minutes.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0, 600.0, 1800.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus handle, installing the recorder on first use.
///
/// If another recorder was installed first (an embedding program's), a private recorder is
/// built instead: `/api/metrics` then shows only what the API records through it.
#[must_use]
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = || {
                PrometheusBuilder::new()
                    .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
                    .unwrap_or_else(|_| PrometheusBuilder::new())
            };
            let handle = match builder().install_recorder() {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "a metrics recorder is already installed; using a private one");
                    builder().build_recorder().handle()
                }
            };
            describe_all();
            handle
        })
        .clone()
}

fn describe_all() {
    for m in CONTRACT_METRICS.iter().chain(API_METRICS) {
        let unit = if m.name.ends_with("_seconds") {
            Some(Unit::Seconds)
        } else if m.name.ends_with("_bytes") {
            Some(Unit::Bytes)
        } else {
            None
        };
        match (m.kind, unit) {
            (Counter, _) => metrics::describe_counter!(m.name, m.help),
            (Gauge, Some(u)) => metrics::describe_gauge!(m.name, u, m.help),
            (Gauge, None) => metrics::describe_gauge!(m.name, m.help),
            (Histogram, Some(u)) => metrics::describe_histogram!(m.name, u, m.help),
            (Histogram, None) => metrics::describe_histogram!(m.name, m.help),
        }
        // Label-free families get a zero sample right away.
        if m.labels.is_empty() {
            match m.kind {
                Counter => metrics::counter!(m.name).increment(0),
                Gauge => metrics::gauge!(m.name).increment(0.0),
                Histogram => {
                    let _ = metrics::histogram!(m.name);
                }
            }
        }
    }
}

/// The Prometheus text exposition: process metrics refreshed, then every recorded family made
/// to match the contract ([`conform`]), then `# HELP`/`# TYPE` for known families that have no
/// samples yet.
#[must_use]
pub fn render(handle: &PrometheusHandle) -> String {
    record_process_metrics();
    let mut out = conform(&handle.render());
    for m in CONTRACT_METRICS.iter().chain(API_METRICS) {
        let present = out.lines().any(|l| {
            l.strip_prefix("# TYPE ")
                .is_some_and(|rest| rest.split(' ').next() == Some(m.name))
        });
        if !present {
            let _ = writeln!(out, "# HELP {} {}", m.name, m.help);
            let _ = writeln!(out, "# TYPE {} {}", m.name, m.kind.as_str());
            out.push('\n');
        }
    }
    out
}

/// Contract metrics recorded with labels the contract does not give them: the exposition shows
/// the contract's family as the sum over those labels, and the recorded series under the second
/// name. (`foreman_secrets_detected_total` is recorded by `where` in four crates; the contract
/// gives it no labels.)
pub const FOLDED: &[(&str, &str)] = &[(
    "foreman_secrets_detected_total",
    "foreman_secrets_detected_by_where_total",
)];

/// Makes a recorder's exposition match the contract:
/// - a family the contract calls a counter is declared `counter` even when it is recorded
///   through a gauge handle: `foreman_cost_usd_total` counts fractional dollars, which the
///   facade's integer counters cannot hold, so it is recorded with increments of a gauge and
///   only ever grows;
/// - each [`FOLDED`] family is summed over its labels, its labelled series renamed.
#[must_use]
pub fn conform(exposition: &str) -> String {
    let mut out = String::with_capacity(exposition.len() + 256);
    let mut folded: Vec<(usize, f64, Vec<String>)> = vec![(0, 0.0, Vec::new()); FOLDED.len()];
    let mut seen = vec![false; FOLDED.len()];
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if let Some(m) = CONTRACT_METRICS.iter().find(|m| m.name == name)
                && kind != m.kind.as_str()
            {
                let _ = writeln!(out, "# TYPE {name} {}", m.kind.as_str());
                continue;
            }
        }
        let sample_of = |name: &str| {
            line.strip_prefix(name)
                .filter(|rest| rest.starts_with('{') || rest.starts_with(' '))
        };
        if let Some(i) = FOLDED
            .iter()
            .position(|(name, _)| sample_of(name).is_some())
        {
            let rest = sample_of(FOLDED[i].0).unwrap_or_default();
            let value: f64 = rest
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            if !seen[i] {
                seen[i] = true;
                folded[i].0 = out.len();
            }
            folded[i].1 += value;
            if rest.starts_with('{') {
                folded[i].2.push(format!("{}{rest}", FOLDED[i].1));
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    // the sums where the first sample was (last position first, so earlier ones stay valid),
    // the breakdowns as families of their own at the end
    let mut sums: Vec<(usize, String)> = (0..FOLDED.len())
        .filter(|&i| seen[i])
        .map(|i| (folded[i].0, format!("{} {}\n", FOLDED[i].0, folded[i].1)))
        .collect();
    sums.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (at, line) in sums {
        out.insert_str(at, &line);
    }
    for (i, (_, _, series)) in folded.iter().enumerate() {
        if series.is_empty() {
            continue;
        }
        let detail = FOLDED[i].1;
        let help = API_METRICS
            .iter()
            .find(|m| m.name == detail)
            .map_or("", |m| m.help);
        let _ = writeln!(out, "# HELP {detail} {help}");
        let _ = writeln!(out, "# TYPE {detail} counter");
        for s in series {
            out.push_str(s);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Reads resident memory, CPU time, descriptors and start time from `/proc` (Linux only; on
/// other systems the gauges stay at zero).
fn record_process_metrics() {
    let Some(p) = ProcessStats::read() else {
        return;
    };
    metrics::gauge!("process_resident_memory_bytes").set(p.rss_bytes as f64);
    metrics::counter!("process_cpu_seconds_total").absolute(p.cpu_seconds as u64);
    metrics::gauge!("process_open_fds").set(p.open_fds as f64);
    if let Some(max) = p.max_fds {
        metrics::gauge!("process_max_fds").set(max as f64);
    }
    if let Some(start) = p.start_time_seconds {
        metrics::gauge!("process_start_time_seconds").set(start);
    }
}

/// A snapshot of this process's resource use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcessStats {
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on every Linux ABI).
const TICKS_PER_SEC: f64 = 100.0;

impl ProcessStats {
    pub fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let (cpu_ticks, start_ticks) = parse_stat(&stat)?;
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
        let max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| {
                l.lines()
                    .find(|line| line.starts_with("Max open files"))
                    .and_then(|line| line.split_whitespace().nth(3))
                    .and_then(|v| v.parse().ok())
            });
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        });
        Some(Self {
            rss_bytes: rss_kb * 1024,
            cpu_seconds: cpu_ticks as f64 / TICKS_PER_SEC,
            open_fds,
            max_fds,
            start_time_seconds: boot.map(|b| b as f64 + start_ticks as f64 / TICKS_PER_SEC),
        })
    }
}

/// `(utime + stime, starttime)` in ticks from `/proc/<pid>/stat`. The command name (field 2)
/// may contain spaces and parentheses, so fields are counted after its closing `)`.
fn parse_stat(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field N is at index N - 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let start: u64 = fields.get(19)?.parse().ok()?;
    Some((utime + stime, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract table of seed 000 (name, type, labels), as given there.
    const SEED: &[(&str, &str, &[&str])] = &[
        ("foreman_tickets_total", "counter", &["status"]),
        ("foreman_tickets_active", "gauge", &[]),
        ("foreman_tasks_total", "counter", &["status"]),
        (
            "foreman_llm_calls_total",
            "counter",
            &["role", "model", "status"],
        ),
        (
            "foreman_llm_tokens_total",
            "counter",
            &["direction", "model"],
        ),
        (
            "foreman_llm_duration_seconds",
            "histogram",
            &["role", "model"],
        ),
        ("foreman_cost_usd_total", "counter", &["model"]),
        ("foreman_pipeline_duration_seconds", "histogram", &[]),
        ("foreman_test_runs_total", "counter", &["result"]),
        ("foreman_retries_total", "counter", &["role"]),
        ("foreman_rate_limits_total", "counter", &["provider"]),
        ("foreman_tdd_verify_total", "counter", &["result"]),
        ("foreman_partial_prs_total", "counter", &[]),
        ("foreman_clarifications_total", "counter", &[]),
        ("foreman_secrets_detected_total", "counter", &[]),
        ("foreman_hook_executions_total", "counter", &["hook"]),
        (
            "foreman_skill_executions_total",
            "counter",
            &["skill", "status"],
        ),
    ];

    #[test]
    fn the_catalogue_is_the_seed_contract() {
        let ours: Vec<(&str, &str, &[&str])> = CONTRACT_METRICS
            .iter()
            .map(|m| (m.name, m.kind.as_str(), m.labels))
            .collect();
        assert_eq!(ours, SEED);
    }

    /// `(type, label names of every sample)` per family of an exposition.
    fn families(text: &str) -> std::collections::BTreeMap<String, (String, Vec<Vec<String>>)> {
        let mut out = std::collections::BTreeMap::<String, (String, Vec<Vec<String>>)>::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                out.entry(name.to_owned()).or_default().0 = kind.to_owned();
            } else if !line.starts_with('#') && !line.is_empty() {
                let (series, _) = line.rsplit_once(' ').unwrap();
                let (name, labels) = series.split_once('{').unwrap_or((series, ""));
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| out.contains_key(*f)))
                    .unwrap_or(name);
                let names: Vec<String> = labels
                    .trim_end_matches('}')
                    .split(',')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| kv.split('=').next().unwrap().to_owned())
                    .filter(|k| k != "le")
                    .collect();
                out.entry(family.to_owned()).or_default().1.push(names);
            }
        }
        out
    }

    #[test]
    fn the_exposition_has_the_contract_types_and_labels() {
        // as `handle()` builds it, but not installed
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe_all();
            // recorded the way the crates record them
            metrics::gauge!("foreman_cost_usd_total", "model" => "m").increment(0.25);
            metrics::gauge!("foreman_cost_usd_total", "model" => "m").increment(0.5);
            metrics::counter!("foreman_secrets_detected_total", "where" => "message").increment(2);
            metrics::counter!("foreman_secrets_detected_total", "where" => "commit").increment(1);
            metrics::counter!("foreman_tickets_total", "status" => "merged").increment(1);
            metrics::histogram!("foreman_llm_duration_seconds", "role" => "planner", "model" => "m")
                .record(0.5);
        });
        let text = render(&handle);
        let found = families(&text);
        for m in CONTRACT_METRICS {
            let (kind, samples) = &found[m.name];
            assert_eq!(kind, m.kind.as_str(), "{}: {text}", m.name);
            for labels in samples {
                assert_eq!(labels, m.labels, "{}: {text}", m.name);
            }
        }
        assert!(
            text.contains("\nforeman_cost_usd_total{model=\"m\"} 0.75\n"),
            "{text}"
        );
        assert!(
            text.contains("\nforeman_secrets_detected_total 3\n"),
            "{text}"
        );
        assert!(
            text.contains("foreman_secrets_detected_by_where_total{where=\"message\"} 2\n"),
            "{text}"
        );
        assert_eq!(
            found["foreman_secrets_detected_by_where_total"].0,
            "counter"
        );
        // control: the recorder alone says what the contract does not
        let raw = families(&handle.render());
        assert_eq!(raw["foreman_cost_usd_total"].0, "gauge");
        assert!(
            raw["foreman_secrets_detected_total"]
                .1
                .iter()
                .any(|l| l == &["where"])
        );
    }

    #[test]
    fn contract_has_seventeen_metrics() {
        assert_eq!(CONTRACT_METRICS.len(), 17);
        let mut names: Vec<_> = CONTRACT_METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 17);
    }

    #[test]
    fn parses_proc_stat_with_odd_names() {
        let line = "1234 (my (odd) prog) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 98765 1000 200";
        assert_eq!(parse_stat(line), Some((300, 98765)));
    }

    #[test]
    fn reads_this_process() {
        let p = ProcessStats::read().expect("linux /proc");
        assert!(p.rss_bytes > 0);
        assert!(p.open_fds > 0);
        assert!(p.start_time_seconds.unwrap_or(0.0) > 1.0e9);
    }
}
