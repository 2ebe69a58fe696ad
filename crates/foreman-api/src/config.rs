//! What the server binary tells the API.

use std::path::PathBuf;
use std::time::Duration;

use foreman_domain::BudgetLimits;

/// Default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Default time a request may take before it is answered with 503.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Certificate and key files (PEM) for serving HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Settings of the API. `Default` gives a loopback-friendly configuration with no CORS, a 1 MiB
/// body limit, a 30 s request timeout, no rate limit and no budgets.
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
    /// Requests per minute allowed per client IP (`[rate_limit] requests_per_minute`); 0: no
    /// limit.
    pub requests_per_minute: u32,
    /// Project used for tickets created through `POST /api/tickets` when the body names none.
    pub default_project: String,
    /// How often live streams send a keepalive (SSE comment, WebSocket ping).
    pub keepalive: Duration,
    /// Per-subscriber buffer of the live stream before a subscriber counts as lagging.
    pub live_buffer: usize,
    /// Where worktree commands run (`sandbox`, `docker` or `none`), shown by `/api/status`.
    pub runner_mode: String,
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
            default_project: foreman_domain::DEFAULT_PROJECT.to_owned(),
            keepalive: Duration::from_secs(15),
            live_buffer: foreman_events::DEFAULT_CAPACITY,
            runner_mode: "sandbox".to_owned(),
        }
    }
}
