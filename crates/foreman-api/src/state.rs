//! The state every handler shares.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use foreman_domain::usage_source::UsageSource;
use foreman_domain::{EventLog, NewEvent, Store, TokenId};
use foreman_events::{EventHub, PublishingEventLog};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::ApiConfig;
use crate::health::Connectivity;
use crate::http_metrics::HttpMetrics;
use crate::live::Live;
use crate::rate_limit::RateLimits;
use crate::response_cache::RenderedResponses;

/// Shared state: one `Clone` handle over `Arc`s.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub events: Arc<PublishingEventLog>,
    pub config: ApiConfig,
    pub static_token_hash: Option<String>,
    pub started: Instant,
    pub metrics: PrometheusHandle,
    pub token_touches: Mutex<HashMap<TokenId, Instant>>,
    /// Recently rendered ticket pages and details.
    pub rendered: RenderedResponses,
    /// Where queued tickets stand.
    pub queue: crate::queue::QueueCache,
    pub live: Arc<Live>,
    pub rate: RateLimits,
    pub http: HttpMetrics,
    /// Usage recorded outside Foreman (`/api/usage/claude-code`); `None`: nothing to read.
    pub usage_source: Mutex<Option<Arc<dyn UsageSource>>>,
    /// Prices reported usage sent without a cost (`POST /api/llm/usage`); `None`: such rows
    /// are refused.
    pub usage_pricer: Mutex<Option<Arc<dyn foreman_domain::usage_ingest::UsagePricer>>>,
    pub connectivity: Mutex<Option<Arc<dyn Connectivity>>>,
    /// The server's own log lines as they are stored (`/api/logs?follow=true`).
    pub log_feed: Mutex<Option<foreman_events::logs::LogFeed>>,
    /// The process's run and daemon (`/api/status`, drain, stop); `None`: not known.
    pub daemon_control: Mutex<Option<Arc<dyn foreman_domain::runs::DaemonControl>>>,
    /// What tickets changed (`GET /api/tickets/{id}/diff`); `None`: no repository.
    pub diff_source: Mutex<Option<Arc<dyn foreman_domain::checkpoint::DiffSource>>>,
    /// Moves ticket branches back on a rollback; `None`: no repository.
    pub branch_rewind: Mutex<Option<Arc<dyn foreman_domain::checkpoint::BranchRewind>>>,
    /// The execution slots of the daemon running beside the API (`/api/workers`, `/api/stats`);
    /// `None`: no daemon here.
    pub worker_slots: Mutex<Option<Arc<dyn foreman_domain::WorkerSlots>>>,
    /// The skill files (`/api/skills`); `None`: no catalog, nothing listed.
    pub skills: Mutex<Option<Arc<dyn foreman_domain::skill::SkillCatalog>>>,
    /// Set when the server shuts down; live streams end.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// Submissions waiting for their group commit.
    pub submissions: crate::submit_queue::SubmitQueue,
    /// The audit trail's writer and signing key.
    pub audit: crate::audit_log::AuditLog,
    /// The MCP endpoint's open sessions.
    pub mcp_sessions: crate::mcp_sessions::Sessions,
    /// Serialises writes of validation rules (read, change, write through the settings port).
    pub rule_writes: tokio::sync::Mutex<()>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub(crate) fn new(store: Arc<dyn Store>, hub: EventHub, config: ApiConfig) -> Self {
        let log: Arc<dyn EventLog> = store.clone();
        let events = Arc::new(PublishingEventLog::new(log, hub.clone()));
        let static_token_hash = config
            .auth_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(foreman_domain::hash_token);
        let live = Live::new(store.clone(), hub, config.live_buffer);
        let rate = RateLimits::new(
            config.requests_per_minute,
            config.write_requests_per_minute,
            config.trusted_proxies.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                store,
                events,
                config,
                static_token_hash,
                started: Instant::now(),
                metrics: crate::metrics::handle(),
                token_touches: Mutex::new(HashMap::new()),
                rendered: RenderedResponses::default(),
                queue: crate::queue::QueueCache::default(),
                live,
                rate,
                http: HttpMetrics::default(),
                usage_source: Mutex::new(None),
                usage_pricer: Mutex::new(None),
                connectivity: Mutex::new(None),
                log_feed: Mutex::new(None),
                daemon_control: Mutex::new(None),
                diff_source: Mutex::new(None),
                branch_rewind: Mutex::new(None),
                worker_slots: Mutex::new(None),
                skills: Mutex::new(None),
                closing: tokio::sync::watch::Sender::new(false),
                submissions: crate::submit_queue::SubmitQueue::default(),
                audit: crate::audit_log::AuditLog::default(),
                mcp_sessions: crate::mcp_sessions::Sessions::default(),
                rule_writes: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The process's run and daemon, when the server handed them over.
    pub(crate) fn daemon_control(&self) -> Option<Arc<dyn foreman_domain::runs::DaemonControl>> {
        self.inner
            .daemon_control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// The price table of reported usage, when the server installed one.
    pub(crate) fn usage_pricer(
        &self,
    ) -> Option<Arc<dyn foreman_domain::usage_ingest::UsagePricer>> {
        self.inner
            .usage_pricer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The skill catalog, when the server installed one.
    pub(crate) fn skills(&self) -> Option<Arc<dyn foreman_domain::skill::SkillCatalog>> {
        self.inner
            .skills
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The daemon's execution slots, when a daemon runs beside the API.
    pub(crate) fn worker_slots(&self) -> Option<Arc<dyn foreman_domain::WorkerSlots>> {
        self.inner
            .worker_slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Appends an event through the publishing log; failures are logged, not returned, because
    /// the change the event reports has already happened.
    pub(crate) async fn emit(&self, event: NewEvent) {
        let event_type = event.event_type;
        if let Err(e) = self.inner.events.append(event).await {
            tracing::warn!(event_type = %event_type, error = %e, "could not record event");
        }
    }
}
