//! `TestApp`: the real router on a real port with an in-memory store.

use std::net::SocketAddr;
use std::sync::Arc;

use foreman_api::ApiConfig;
use foreman_domain::WorkerSlots;
use foreman_domain::checkpoint::{BranchRewind, DiffSource};
use foreman_domain::runs::DaemonControl;
use foreman_domain::usage_source::UsageSource;
use foreman_domain::webhook::WebhookSink;
use foreman_domain::{EventLog, EventType, NewApiToken, NewEvent, NewTicket, Scope, Store, Ticket};
use foreman_events::logs::LogFeed;
use foreman_events::{EventHub, PublishingEventLog};
use foreman_testkit::MemoryStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server for one test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    /// Appends through the hub, like the pipeline does.
    pub events: Arc<PublishingEventLog>,
    /// An admin token.
    pub token: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

pub struct TestAppBuilder {
    config: ApiConfig,
    store: Option<Arc<dyn Store>>,
    webhooks: Option<Arc<dyn WebhookSink>>,
    usage_source: Option<Arc<dyn UsageSource>>,
    usage_pricer: Option<Arc<dyn foreman_domain::usage_ingest::UsagePricer>>,
    worker_slots: Option<Arc<dyn WorkerSlots>>,
    repositories: Option<(Arc<dyn DiffSource>, Arc<dyn BranchRewind>)>,
    daemon_control: Option<Arc<dyn DaemonControl>>,
    log_feed: Option<LogFeed>,
    skills: Option<Arc<dyn foreman_domain::skill::SkillCatalog>>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            config: ApiConfig::default(),
            store: None,
            webhooks: None,
            usage_source: None,
            usage_pricer: None,
            worker_slots: None,
            repositories: None,
            daemon_control: None,
            log_feed: None,
            skills: None,
        }
    }

    /// A server with default configuration and an admin token.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A GET with the admin token.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&self.token)
    }

    /// A POST with the admin token.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(&self.token)
    }

    /// A PUT with the admin token.
    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.put(self.url(path)).bearer_auth(&self.token)
    }

    /// A DELETE with the admin token.
    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(&self.token)
    }

    /// A GET returning the status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.get(path).send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// A stored token with these scopes; returns its secret.
    pub async fn token_with(&self, name: &str, scopes: Vec<Scope>) -> String {
        let (new, secret) = NewApiToken::generate(name, scopes, None);
        self.store.create_token(new).await.expect("token");
        secret.expose().to_owned()
    }

    /// Seeds a ticket directly in the store.
    pub async fn ticket(&self, external_id: &str, title: &str) -> Ticket {
        self.store
            .create_ticket(NewTicket {
                external_id: external_id.to_owned(),
                title: title.to_owned(),
                description: format!("{title} in detail"),
                acceptance_criteria: "it works".to_owned(),
                submitter: Some("alice@example.com".to_owned()),
                ..Default::default()
            })
            .await
            .expect("ticket")
    }

    /// Appends an event through the publishing log (stored, then published live).
    pub async fn publish(
        &self,
        ticket: Option<&Ticket>,
        event_type: EventType,
        message: &str,
    ) -> i64 {
        let mut e = NewEvent::new(event_type, message);
        if let Some(t) = ticket {
            e = e.ticket(&t.id);
        }
        self.events.append(e).await.expect("append").seq
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.expect("join").expect("serve");
        }
    }
}

impl TestAppBuilder {
    pub fn config(mut self, f: impl FnOnce(&mut ApiConfig)) -> Self {
        f(&mut self.config);
        self
    }

    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Receives webhooks through `sink`.
    pub fn webhooks(mut self, sink: Arc<dyn WebhookSink>) -> Self {
        self.webhooks = Some(sink);
        self
    }

    /// Reports usage recorded outside Foreman from `source`.
    pub fn usage_source(mut self, source: Arc<dyn UsageSource>) -> Self {
        self.usage_source = Some(source);
        self
    }

    /// Prices reported usage sent without a cost with `pricer`.
    pub fn usage_pricer(
        mut self,
        pricer: Arc<dyn foreman_domain::usage_ingest::UsagePricer>,
    ) -> Self {
        self.usage_pricer = Some(pricer);
        self
    }

    /// The daemon's execution slots.
    pub fn worker_slots(mut self, slots: Arc<dyn WorkerSlots>) -> Self {
        self.worker_slots = Some(slots);
        self
    }

    /// Reads diffs through `diffs` and rewinds branches through `rewind`.
    pub fn repositories(
        mut self,
        diffs: Arc<dyn DiffSource>,
        rewind: Arc<dyn BranchRewind>,
    ) -> Self {
        self.repositories = Some((diffs, rewind));
        self
    }

    /// The process's run and daemon.
    pub fn daemon_control(mut self, control: Arc<dyn DaemonControl>) -> Self {
        self.daemon_control = Some(control);
        self
    }

    /// Publishes stored log lines live through `feed`.
    pub fn log_feed(mut self, feed: LogFeed) -> Self {
        self.log_feed = Some(feed);
        self
    }

    /// Lists the skill files of `catalog` at `/api/skills`.
    pub fn skills(mut self, catalog: Arc<dyn foreman_domain::skill::SkillCatalog>) -> Self {
        self.skills = Some(catalog);
        self
    }

    pub async fn start(self) -> TestApp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = self.store.unwrap_or_else(|| MemoryStore::new().shared());
        let hub = EventHub::default();
        let log: Arc<dyn EventLog> = store.clone();
        let events = Arc::new(PublishingEventLog::new(log, hub.clone()));
        let mut app = foreman_api::app(store.clone(), hub.clone(), self.config);
        if let Some(sink) = self.webhooks {
            app = app.with_webhooks(sink);
        }
        if let Some(source) = self.usage_source {
            app = app.with_usage_source(source);
        }
        if let Some(pricer) = self.usage_pricer {
            app = app.with_usage_pricer(pricer);
        }
        if let Some(slots) = self.worker_slots {
            app = app.with_worker_slots(slots);
        }
        if let Some((diffs, rewind)) = self.repositories {
            app = app.with_repositories(diffs, rewind);
        }
        if let Some(control) = self.daemon_control {
            app = app.with_daemon_control(control);
        }
        if let Some(feed) = self.log_feed {
            app = app.with_log_feed(feed);
        }
        if let Some(catalog) = self.skills {
            app = app.with_skills(catalog);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(foreman_api::serve(listener, app, async move {
            let _ = rx.await;
        }));
        let (new, secret) = NewApiToken::generate("test-admin", vec![Scope::Admin], None);
        store.create_token(new).await.expect("token");
        TestApp {
            addr,
            store,
            events,
            token: secret.expose().to_owned(),
            client: reqwest::Client::builder().build().expect("client"),
            shutdown: Some(tx),
            server: Some(server),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
