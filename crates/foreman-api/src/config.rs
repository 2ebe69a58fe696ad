//! What the server binary tells the API.

use std::path::PathBuf;
use std::time::Duration;

use foreman_domain::BudgetLimits;

/// Default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Default time a request may take before it is answered with 503.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Default time a client has to send a complete request head.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time an idle keep-alive connection stays open after its last response.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Default time a write to a client may stall (response, SSE or WebSocket) before the
/// connection is dropped.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default number of connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Default allowance of mutating requests (POST, PUT, PATCH, DELETE) per identity per minute.
pub const DEFAULT_WRITE_REQUESTS_PER_MINUTE: u32 = 120;

/// Shortest and longest live-stream keepalive interval; configured values are clamped to it.
pub const KEEPALIVE_BOUNDS: (Duration, Duration) =
    (Duration::from_millis(10), Duration::from_secs(60));

/// Certificate and key files (PEM) for serving HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Settings of the API. `Default` gives a loopback-friendly configuration with no CORS, a 1 MiB
/// body limit, a 30 s request timeout, a 10 s header-read timeout, 4096 connections at most,
/// 120 mutating requests per minute per identity (reads not limited) and no budgets.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Reported by `/api/health` and `/api/status` (the build's version).
    pub version: String,
    /// Origins allowed to call the API from a browser (`https://dash.example.com`). Empty: only
    /// same-origin pages, no CORS headers at all. `*` allows any origin (never with credentials).
    pub cors_allowed_origins: Vec<String>,
    /// Largest request body accepted; larger ones get 413.
    pub body_limit_bytes: usize,
    /// Longest a request may take (live streams excepted); slower ones get 503.
    pub request_timeout: Duration,
    /// Budget limits shown by `/api/costs/budgets`.
    pub budgets: BudgetLimits,
    /// The configuration as `/api/config/summary` shows it. The config crate redacts secrets; the
    /// API truncates any remaining value under a secret-looking key as well.
    pub config_summary: serde_json::Value,
    /// Serve HTTPS with these files.
    pub tls: Option<TlsFiles>,
    /// A static token from `[dashboard] auth_token`, accepted with every scope besides the
    /// stored tokens. `None` or empty: only stored tokens.
    pub auth_token: Option<String>,
    /// Reads (GET, HEAD) allowed per identity per minute (`[dashboard] requests_per_minute`);
    /// 0: reads are not limited.
    pub requests_per_minute: u32,
    /// Mutating requests (POST, PUT, PATCH, DELETE) allowed per identity per minute
    /// (`[dashboard] write_requests_per_minute`); 0: not limited. An identity is the
    /// authenticated token, else the client address.
    pub write_requests_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed when finding a client's address: addresses
    /// or networks (`10.0.0.0/8`). Empty: the peer address is the client address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a client has to send a complete request head, counted from the connection's
    /// opening or the end of the previous response; a slower client is disconnected.
    pub header_read_timeout: Duration,
    /// How long a keep-alive connection that has been answered may stay idle before it is
    /// closed.
    pub keep_alive_timeout: Duration,
    /// How long one write to a client may stall before the connection is dropped (responses,
    /// SSE and WebSocket alike).
    pub write_timeout: Duration,
    /// Connections served at once. Beyond it the longest-open idle connection is closed to make
    /// room, and when none is idle the new connection is answered 503. 0: no cap.
    pub max_connections: usize,
    /// How long a WebSocket client has to answer a ping (with a pong or any frame) before it is
    /// closed.
    pub ws_pong_timeout: Duration,
    /// Project used for tickets created through `POST /api/tickets` when the body names none.
    pub default_project: String,
    /// How often live streams send a keepalive (SSE comment, WebSocket ping); clamped to
    /// [`KEEPALIVE_BOUNDS`].
    pub keepalive: Duration,
    /// Per-subscriber buffer of the live stream before a subscriber counts as lagging.
    pub live_buffer: usize,
    /// Where worktree commands run (`sandbox`, `docker` or `none`), shown by `/api/status`.
    pub runner_mode: String,
    /// Tickets worked on at once (`[daemon] max_parallel_tickets`): the slots a queued
    /// ticket's estimated start counts.
    pub execution_slots: usize,
    /// The configured coding agent runners (`[agent_runner]` and each
    /// `[projects.agent_runner]`): the names `agent` may take at submission.
    pub agent_runners: Vec<String>,
    /// The model price table in use, shown by `/api/costs/pricing` (empty: not known).
    pub pricing: foreman_domain::cost_report::PriceTableView,
    /// The configured projects (`default` and each `[[projects]]`): a route naming another
    /// project answers 404.
    pub projects: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            cors_allowed_origins: Vec::new(),
            body_limit_bytes: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            budgets: BudgetLimits::default(),
            config_summary: serde_json::Value::Object(serde_json::Map::new()),
            tls: None,
            auth_token: None,
            requests_per_minute: 0,
            write_requests_per_minute: DEFAULT_WRITE_REQUESTS_PER_MINUTE,
            trusted_proxies: Vec::new(),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            ws_pong_timeout: Duration::from_secs(30),
            default_project: foreman_domain::DEFAULT_PROJECT.to_owned(),
            keepalive: Duration::from_secs(15),
            live_buffer: foreman_events::DEFAULT_CAPACITY,
            runner_mode: "sandbox".to_owned(),
            execution_slots: 1,
            agent_runners: vec!["builtin".to_owned()],
            pricing: foreman_domain::cost_report::PriceTableView::default(),
            projects: vec![foreman_domain::DEFAULT_PROJECT.to_owned()],
        }
    }
}

impl ApiConfig {
    /// The live-stream keepalive interval, clamped to [`KEEPALIVE_BOUNDS`].
    #[must_use]
    pub fn keepalive_interval(&self) -> Duration {
        self.keepalive.clamp(KEEPALIVE_BOUNDS.0, KEEPALIVE_BOUNDS.1)
    }
}
