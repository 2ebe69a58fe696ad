//! Foreman's HTTP API.
//!
//! This crate owns everything a client sees over HTTP: the REST routes of the API contract,
//! live events over WebSocket (`/ws/events`) and Server-Sent Events (`/api/stream`), the
//! Prometheus endpoint (`/api/metrics`), the OpenAPI document (`/api/openapi.json`), bearer-token
//! authentication with scopes, the tracker and git host webhook receivers (`/api/webhooks/*`,
//! authenticated by signature through a `foreman_domain::webhook::WebhookSink`), the JSON error
//! body, ETags, CORS, body limits, timeouts, a connection cap, rate limits per identity and TLS.
//!
//! It must not know which storage adapter, tracker, LLM provider or pipeline is behind it: it
//! speaks only the `foreman-domain` ports (`Arc<dyn Store>`) and the `foreman-events` hub. DTOs
//! live here, not in the domain; money becomes USD floats only here.
//!
//! The server binary composes it like this:
//!
//! ```no_run
//! # async fn run(store: std::sync::Arc<dyn foreman_domain::Store>) -> std::io::Result<()> {
//! let hub = foreman_events::EventHub::default();
//! let app = foreman_api::app(store, hub, foreman_api::ApiConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! foreman_api::serve(listener, app, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```
//!
//! Everything that emits events should append through a
//! [`foreman_events::PublishingEventLog`] built on the same hub, so live clients see them.

mod audit;
mod audit_log;
mod auth;
mod config;
mod conn;
mod dto;
mod error;
mod etag;
mod extract;
mod health;
mod http_metrics;
mod live;
mod mcp_sessions;
mod metrics;
mod middleware;
mod openapi;
mod queue;
mod rate_limit;
mod response_cache;
mod routes;
mod serve;
mod state;
mod submit_queue;
mod validate;
mod ws;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use foreman_domain::Store;
use foreman_domain::usage_source::UsageSource;
use foreman_domain::webhook::WebhookSink;
use foreman_events::EventHub;
use tower::ServiceExt;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use auth::{
    AdminAuth, AdminScope, AuthError, Authed, Caller, ReadAuth, ReadScope, RequiredScope,
    WriteAuth, WriteScope, authenticate, bearer_from_header,
};
pub use config::{
    ApiConfig, DEFAULT_BODY_LIMIT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT, DEFAULT_WRITE_REQUESTS_PER_MINUTE,
    DEFAULT_WRITE_TIMEOUT, KEEPALIVE_BOUNDS, TlsFiles,
};
pub use dto::*;
pub use error::{ApiError, ApiResult, ErrorBody};
pub use health::{ChannelHealth, Connectivity, McpHealth};
pub use metrics::{API_METRICS, CONTRACT_METRICS, MetricDef, MetricKind};
pub use middleware::{API_BODY_LIMIT, NO_BODY_LIMIT};
pub use rate_limit::parse_trusted_proxies;
pub use routes::events::ACTIVE_PIPELINES_LIMIT;
pub use routes::stats::{PROMPT_VERSION_CALLS, TEAM_STATS_SCAN_LIMIT};
pub use routes::system::{format_uptime, redact};
pub use routes::tickets::TICKET_EVENTS_LIMIT;
pub use serve::tls_config;
pub use state::AppState;
pub use validate::{
    Bounded, Int, MAX_SAFE_INTEGER, NonEmpty, Offset, PageLimit, Priority, ProjectName, Seq, Text,
};

/// The OpenAPI document of every route, as pretty JSON with stable ordering and a trailing
/// newline: the document an [`App`] serves at `/api/openapi.json`, built the same way.
/// `cargo xtask codegen` writes it to `docs/openapi.json`.
#[must_use]
pub fn openapi_json() -> String {
    routes::build().1.0.to_string()
}

/// The installed Prometheus recorder's handle (installing it on first call). Other crates'
/// `metrics::counter!` calls land in it; `/api/metrics` renders it.
#[must_use]
pub fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    metrics::handle()
}

/// The API, ready to serve. Build it with [`app`], optionally add a dashboard with
/// [`App::with_ui`], then hand it to [`serve`] (or turn it into a [`Router`] for tests).
#[derive(Clone)]
pub struct App {
    state: AppState,
    /// Every route, split from its OpenAPI document once, when the app was built.
    api: Router<AppState>,
    /// That document, served as it is by `/api/openapi.json`.
    spec: openapi::OpenApiJson,
    ui: Option<Router>,
    webhooks: Option<Arc<dyn WebhookSink>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("state", &self.state)
            .field("ui", &self.ui.is_some())
            .field("webhooks", &self.webhooks.is_some())
            .finish()
    }
}

/// Builds the API over a store and the event hub the rest of the process publishes to.
///
/// Call it inside a Tokio runtime so the live-event relay starts at once (otherwise it starts
/// with the first live client).
#[must_use]
pub fn app(store: Arc<dyn Store>, hub: EventHub, config: ApiConfig) -> App {
    let (api, spec) = routes::build();
    App {
        state: AppState::new(store, hub, config),
        api,
        spec,
        ui: None,
        webhooks: None,
    }
}

impl App {
    /// The shared state (handlers' view of the store, configuration and hub).
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Reports chat channel and MCP server health in `/api/status`.
    #[must_use]
    pub fn with_connectivity(self, probe: Arc<dyn Connectivity>) -> Self {
        *self
            .state
            .inner
            .connectivity
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(probe);
        self
    }

    /// Reports usage recorded outside Foreman (Claude Code's session logs) in
    /// `/api/usage/claude-code`. Without one, that route answers `{"available": false}`.
    #[must_use]
    pub fn with_usage_source(self, source: Arc<dyn UsageSource>) -> Self {
        *self
            .state
            .inner
            .usage_source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(source);
        self
    }

    /// Prices reported usage sent without a cost (`POST /api/llm/usage`) with `pricer` (the
    /// server installs its price table). Without one, such rows are a 400 naming `model`.
    #[must_use]
    pub fn with_usage_pricer(
        self,
        pricer: Arc<dyn foreman_domain::usage_ingest::UsagePricer>,
    ) -> Self {
        *self
            .state
            .inner
            .usage_pricer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(pricer);
        self
    }

    /// Lists the skill files of `catalog` in `GET /api/skills`. Without one, the route lists
    /// no skill (`available: false`).
    #[must_use]
    pub fn with_skills(self, catalog: Arc<dyn foreman_domain::skill::SkillCatalog>) -> Self {
        *self
            .state
            .inner
            .skills
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(catalog);
        self
    }

    /// Shows the execution slots of the daemon running beside the API in `/api/workers` and
    /// `/api/stats`. Without them, `/api/workers` reports no daemon and `/api/stats` counts the
    /// configured slots.
    #[must_use]
    pub fn with_worker_slots(self, slots: Arc<dyn foreman_domain::WorkerSlots>) -> Self {
        *self
            .state
            .inner
            .worker_slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(slots);
        self
    }

    /// Reads ticket diffs (`GET /api/tickets/{id}/diff`) through `diffs` and moves ticket
    /// branches back on a rollback through `rewind`. Without them the diff route answers 404
    /// and a rollback resets the pipeline state only.
    #[must_use]
    pub fn with_repositories(
        self,
        diffs: Arc<dyn foreman_domain::checkpoint::DiffSource>,
        rewind: Arc<dyn foreman_domain::checkpoint::BranchRewind>,
    ) -> Self {
        let inner = &self.state.inner;
        *inner
            .diff_source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(diffs);
        *inner
            .branch_rewind
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(rewind);
        self
    }

    /// Streams the server's own log lines live (`GET /api/logs?follow=true`) from `feed`,
    /// which the log writer publishes every stored line to. Without it, a follower gets the
    /// stored lines it asked to replay and nothing live.
    #[must_use]
    pub fn with_log_feed(self, feed: foreman_events::logs::LogFeed) -> Self {
        *self
            .state
            .inner
            .log_feed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(feed);
        self
    }

    /// Reports the current run and the daemon's state in `/api/status`, and drains or stops
    /// the process on `POST /api/daemon/drain` and `/api/daemon/stop` through `control`.
    /// Without it, those two routes answer 409.
    #[must_use]
    pub fn with_daemon_control(
        self,
        control: Arc<dyn foreman_domain::runs::DaemonControl>,
    ) -> Self {
        *self
            .state
            .inner
            .daemon_control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(control);
        self
    }

    /// Receives tracker and git host webhooks (`POST /api/webhooks/{github,gitlab,jira,linear}`)
    /// through `sink`. Without one, those routes answer 404 ("webhooks are not configured").
    #[must_use]
    pub fn with_webhooks(mut self, sink: Arc<dyn WebhookSink>) -> Self {
        self.webhooks = Some(sink);
        self
    }

    /// Signs the audit trail's checkpoints with `key` (and checks them with it in
    /// `GET /api/audit/verify`); with `retention`, prunes entries older than that once an hour,
    /// behind a signed checkpoint. Without a key, nothing is pruned and a checkpoint cannot be
    /// verified. Call it inside a Tokio runtime when `retention` is given.
    #[must_use]
    pub fn with_audit(
        self,
        key: foreman_domain::audit::AuditKey,
        retention: Option<std::time::Duration>,
    ) -> Self {
        self.state.inner.audit.set_key(key);
        if let Some(retention) = retention {
            audit::spawn_retention(&self.state, retention, std::time::Duration::from_secs(3600));
        }
        self
    }

    /// Stops (`true`) or resumes recording mutating calls in the audit trail. For benchmarks
    /// that measure the trail's cost on one server; a server never turns it off.
    #[doc(hidden)]
    pub fn set_audit_recording_off(&self, off: bool) {
        self.state.inner.audit.set_off(off);
    }

    /// Serves `ui` (for example the dashboard's static files) for every path outside `/api/`
    /// and `/ws/`. Without it, unknown paths get the JSON 404.
    #[must_use]
    pub fn with_ui(mut self, ui: Router) -> Self {
        self.ui = Some(ui);
        self
    }

    /// Ends every open live stream (WebSocket and SSE). [`serve`] calls it when shutting down,
    /// so graceful shutdown does not wait for streams that never end.
    pub fn close_live_streams(&self) {
        let _ = self.state.inner.closing.send(true);
    }

    /// The complete router with every layer, for serving or for in-process tests.
    pub fn router(&self) -> Router {
        let state = self.state.clone();
        let config = state.config();
        let ui = self.ui.clone();
        let api = self.api.clone().layer(axum::Extension(self.spec.clone()));
        let api = match &self.webhooks {
            Some(sink) => api.layer(axum::Extension(routes::webhooks::Webhooks(sink.clone()))),
            None => api,
        };
        let router = api
            .fallback(move |req: Request| fallback(ui.clone(), req))
            // body limits per route (`middleware::body_limit`) are set by this layer
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::request,
            ));
        let router = match cors(&config.cors_allowed_origins) {
            Some(layer) => router.layer(layer),
            None => router,
        };
        // outermost: a panic anywhere in a request is a JSON 500 and a log line, never a
        // dropped connection
        router
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                error::panic_response,
            ))
            // around everything: every mutating call's final answer is in the audit trail
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                audit::record,
            ))
            .with_state(state)
    }
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let values: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| match HeaderValue::from_str(o.trim_end_matches('/')) {
                Ok(v) => Some(v),
                Err(_) => {
                    tracing::warn!(origin = %o, "ignoring invalid cors origin");
                    None
                }
            })
            .collect();
        AllowOrigin::list(values)
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([
                header::ETAG,
                header::RETRY_AFTER,
                HeaderName::from_static("x-next-cursor"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

async fn fallback(ui: Option<Router>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let is_api = path == "/api" || path.starts_with("/api/") || path.starts_with("/ws/");
    match ui {
        Some(ui) if !is_api => match ui.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        },
        _ => ApiError::NotFound(format!("no route for {} {path}", req.method())).into_response(),
    }
}

/// Serves `app` on `listener` until `shutdown` completes: HTTPS when the configuration has TLS
/// files, plain HTTP otherwise. On shutdown, live streams are closed and in-flight requests
/// finish.
///
/// # Errors
/// Unusable TLS files, or an I/O error from the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let tls = app.state.config().tls.clone();
    if tls.is_none() && !local.ip().is_loopback() {
        tracing::warn!(
            addr = %local,
            "serving plain http on a non-loopback address; configure tls or put a tls proxy in front"
        );
    }
    let closer = app.clone();
    let shutdown = async move {
        shutdown.await;
        closer.close_live_streams();
    };
    let router = app.router();
    let tls = match tls {
        Some(files) => {
            tracing::info!(addr = %local, "serving https");
            Some(tls_config(&files)?)
        }
        None => {
            tracing::info!(addr = %local, "serving http");
            None
        }
    };
    let options = serve::ServeOptions::new(app.state.config(), tls);
    serve::serve_connections(listener, router, options, shutdown).await
}
