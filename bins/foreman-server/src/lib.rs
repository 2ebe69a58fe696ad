//! The composition root of the Foreman server.
//!
//! This is the one place that knows every adapter: it loads the configuration, opens the store
//! (SQLite by default, PostgreSQL when configured), migrates it, makes sure an admin token exists,
//! and serves the API beside the daemon until SIGINT or SIGTERM. End-to-end tests start the
//! server through [`launch_with_listener`], the same wiring `main` uses.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use foreman_config::Config;
use foreman_domain::{EventLog, NewApiToken, Scope, Store};
use foreman_store::SqlStore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub mod adapters;
pub mod audit_key;
pub mod channels;
pub mod compose;
pub mod demo;
pub mod doctor;
pub mod mcp;
pub mod outbound;
pub mod session;
pub mod skills;
pub mod webhooks;

/// Command-line flags.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "foreman-server",
    version,
    about = "Foreman: API, dashboard and daemon"
)]
pub struct Cli {
    /// Configuration file (TOML). Without it, defaults and FOREMAN_* variables apply.
    #[arg(long, env = "FOREMAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Bind address (overrides dashboard.host).
    #[arg(long)]
    pub host: Option<String>,
    /// Port (overrides dashboard.port; 0 picks a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Directory for the SQLite database, the token file and work trees.
    #[arg(long, env = "FOREMAN_DATA_DIR", default_value = ".foreman")]
    pub data_dir: PathBuf,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// Run the demo: a sample repository in the data directory, a local ticket, the scripted
    /// provider (unless an API key is set) and a local git host that merges.
    #[arg(long)]
    pub demo: bool,
    /// Subcommand (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands besides serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print the OpenAPI document and exit.
    Openapi,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// Loads the configuration and applies flag overrides.
///
/// # Errors
/// Configuration errors, naming the key and file.
pub fn load_config(cli: &Cli) -> Result<Config> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(host) = &cli.host {
        config.dashboard.host.clone_from(host);
    }
    if let Some(port) = cli.port {
        config.dashboard.port = port;
    }
    config.validate()?;
    Ok(config)
}

/// Runs the server until a shutdown signal.
///
/// # Errors
/// Start-up failures (configuration, database, binding the port).
pub async fn run(cli: Cli) -> Result<()> {
    let config = load_config(&cli)?;
    init_tracing(cli.log_format, &config.daemon.log_level, &config.logs);
    let addr = format!("{}:{}", config.dashboard.host, config.dashboard.port);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let options = LaunchOptions { demo: cli.demo };
    launch(listener, config, &cli.data_dir, options, shutdown_signal()).await
}

/// Start-up choices beyond the configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaunchOptions {
    /// Set up and run the demo (see [`demo`]).
    pub demo: bool,
}

/// Opens the store the configuration names and migrates it.
///
/// # Errors
/// Connection or migration failures.
pub async fn open_store(config: &Config, data_dir: &Path) -> Result<Arc<SqlStore>> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let url = config.database.connection_url(data_dir);
    let store = SqlStore::connect(&url)
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(Arc::new(store))
}

/// The file the first admin token is written to.
#[must_use]
pub fn token_file(data_dir: &Path) -> PathBuf {
    data_dir.join("dashboard_token")
}

/// On first start (no tokens stored) creates an admin token, writes it to
/// `<data_dir>/dashboard_token` with mode 0600 and returns it so it can be shown once.
///
/// # Errors
/// Store or file errors.
pub async fn ensure_admin_token(store: &dyn Store, data_dir: &Path) -> Result<Option<String>> {
    if !store.list_tokens().await?.is_empty() {
        return Ok(None);
    }
    let (record, secret) = NewApiToken::generate("admin", vec![Scope::Admin], None);
    store.create_token(record).await?;
    let path = token_file(data_dir);
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    let mut f = file
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(f, "{}", secret.expose())?;
    Ok(Some(secret.expose().to_owned()))
}

/// Serves on an already bound listener until `shutdown` completes. Tests bind port 0 and call
/// this; `main` calls it through [`run`].
///
/// # Errors
/// Store or server failures.
pub async fn launch_with_listener(
    listener: TcpListener,
    config: Config,
    data_dir: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    launch(
        listener,
        config,
        data_dir,
        LaunchOptions::default(),
        shutdown,
    )
    .await
}

/// Like [`launch_with_listener`], with [`LaunchOptions`]: opens the store, serves the API and
/// the dashboard, and runs the daemon beside them; on `shutdown` the daemon drains (running
/// steps get the configured grace period, leases are released) and the server stops.
///
/// # Errors
/// Configuration, store or server failures.
pub async fn launch(
    listener: TcpListener,
    mut config: Config,
    data_dir: &Path,
    options: LaunchOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let data_dir = data_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", data_dir.display()))?;
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    if options.demo {
        demo::configure(&mut config, &data_dir, &env)?;
    }
    let runner_mode = compose::report_isolation(&config, &data_dir);
    let store = open_store(&config, &data_dir).await?;
    if let Some(token) = ensure_admin_token(store.as_ref(), &data_dir).await? {
        println!(
            "Created an admin API token (shown once; also saved to {}):\n\n    {token}\n",
            token_file(&data_dir).display()
        );
    }
    let local: SocketAddr = listener.local_addr()?;
    let tls = !config.dashboard.tls_cert.is_empty();
    let hub = foreman_events::EventHub::default();
    let store: Arc<dyn Store> = store;
    let events: Arc<dyn EventLog> = Arc::new(foreman_events::PublishingEventLog::new(
        store.clone(),
        hub.clone(),
    ));
    if options.demo {
        demo::seed_ticket(store.as_ref(), events.as_ref()).await?;
    }

    let cancel = CancellationToken::new();
    let run_store: Arc<dyn foreman_domain::runs::RunStore> = store.clone();
    let run = session::start_run(run_store.as_ref(), &compose::node_id(&data_dir)?).await?;
    session::spawn_heartbeat(run_store.clone(), run.id.clone(), cancel.clone());
    let log_writer = session::start_log_writer(&config, store.clone(), &run.id);
    // Stopped after the daemon, so its last pass sees the daemon's `daemon_stopping`.
    let notifier_stop = CancellationToken::new();
    let notifier = session::spawn_notifier(
        &config,
        store.clone(),
        events.clone(),
        notifier_stop.clone(),
    );
    // a start-up failure below stops it too
    let _notifier_guard = notifier_stop.clone().drop_guard();
    // Outbound webhooks: the delivery worker, stopped after the daemon like the notifier.
    let webhook_stop = CancellationToken::new();
    let webhook_worker = outbound::spawn_worker(
        &config,
        store.clone(),
        events.clone(),
        &hub,
        webhook_stop.clone(),
    );
    let _webhook_guard = webhook_stop.clone().drop_guard();
    let stop_requested = CancellationToken::new();
    let mut work_gate = None;
    let mut pr_watch = None;
    let mut worker_slots = None;
    let mut history = None;
    // MCP servers run for the life of the server; their tools go to the built-in agent
    let mcp_servers = mcp::start(&config, &data_dir, &env)?;
    // skill files: built in, in the data dir, and in each project's repository (attached by
    // compose::build); one catalog for the hooks and GET /api/skills
    let skill_catalog = skills::build_catalog(&config, &data_dir);
    skills::log_problems_at_start(&skill_catalog);
    let daemon = if config.daemon.enabled {
        let inputs = compose::Inputs {
            store: store.clone(),
            events: events.clone(),
            data_dir: data_dir.clone(),
            env,
            mcp_tools: mcp_servers
                .clone()
                .map(|m| m as Arc<dyn foreman_domain::mcp::ExternalTools>),
            skills: skill_catalog.clone(),
        };
        match compose::build(&config, &inputs)? {
            compose::Pipeline::Ready(engine, repos) => {
                history = Some(compose::history(&repos));
                // Worktrees of finished tickets and orphans: swept now and every 5 minutes.
                for repo in repos {
                    let tickets: Arc<dyn foreman_domain::TicketStore> = store.clone();
                    foreman_git::hygiene::spawn_janitor(
                        repo,
                        tickets,
                        std::time::Duration::from_secs(300),
                        cancel.clone(),
                    );
                }
                let daemon = foreman_pipeline::Daemon::new(*engine);
                work_gate = Some(daemon.work_gate());
                pr_watch = Some(daemon.pull_request_watch());
                worker_slots = Some(daemon.worker_slots());
                spawn_daemon_waker(&hub, daemon.waker(), cancel.clone());
                Some(tokio::spawn(daemon.run(cancel.clone())))
            }
            compose::Pipeline::Idle(reason) => {
                tracing::warn!("{reason}");
                None
            }
        }
    } else {
        tracing::info!("daemon disabled ([daemon] enabled = false); serving the API only");
        None
    };

    // chat channels run beside the daemon, and stop after it
    let chat_channels = channels::spawn(&config, store.clone(), events.clone())?;
    let webhooks = webhooks::build(&config, store.clone(), events.clone(), pr_watch);
    let mut api = api_config(&config, &data_dir);
    api.runner_mode = runner_mode;
    let mut app =
        foreman_api::app(store, hub, api).with_usage_source(compose::usage_source(&config));
    app = app.with_usage_pricer(compose::usage_pricer(&config));
    app = app.with_skills(skill_catalog);
    let audit_key = audit_key::load_or_create(&config.audit.signing_key_path(&data_dir))?;
    app = app.with_audit(audit_key, config.audit.retention());
    if let Some(slots) = worker_slots {
        app = app.with_worker_slots(slots);
    }
    if let Some(sink) = webhooks {
        app = app.with_webhooks(sink);
    }
    if let Some(h) = history {
        app = app.with_repositories(h.clone(), h);
    }
    if config.dashboard.enabled {
        app = app.with_ui(foreman_web::router());
    }
    if let Some(c) = &chat_channels {
        app = app.with_connectivity(c.connectivity());
    }
    if let Some(m) = &mcp_servers {
        app = app.with_connectivity(Arc::new(mcp::StatusProbe::new(
            chat_channels.as_ref().map(channels::Channels::connectivity),
            m.clone(),
        )));
    }
    app = app.with_daemon_control(Arc::new(session::ServerControl::new(
        run.id.clone(),
        work_gate,
        stop_requested.clone(),
    )));
    if let Some((_, feed)) = &log_writer {
        app = app.with_log_feed(feed.clone());
    }
    tracing::info!(address = %local, tls, demo = options.demo, "foreman-server listening");
    if options.demo {
        println!(
            "Demo: open http://{local}/ (token in {}) and watch DEMO-1 go from queued to merged.",
            token_file(&data_dir).display()
        );
    }
    let stop = cancel.clone();
    let daemon = Arc::new(std::sync::Mutex::new(daemon));
    let draining = daemon.clone();
    let signal = shutdown;
    let shutdown = async move {
        tokio::select! {
            () = signal => {}
            () = stop_requested.cancelled() => {}
        }
        stop.cancel();
        // The API answers (status shows the drain) until the daemon has drained.
        let handle = draining
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    };
    let served = foreman_api::serve(listener, app, shutdown).await;
    cancel.cancel();
    let handle = daemon
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(handle) = handle {
        let _ = handle.await;
    }
    if let Some(c) = chat_channels {
        c.stop().await;
    }
    if let Some(m) = mcp_servers {
        m.shutdown().await;
    }
    notifier_stop.cancel();
    if let Some(notifier) = notifier {
        let _ = notifier.await;
    }
    webhook_stop.cancel();
    if let Some(worker) = webhook_worker {
        let _ = worker.await;
    }
    if let Err(e) = run_store
        .finish_run(&run.id, foreman_domain::runs::RunStatus::Stopped)
        .await
    {
        tracing::warn!(run = %run.id, error = %e, "cannot close the run");
    }
    tracing::info!("foreman-server stopped");
    if let Some((writer, _)) = log_writer {
        writer.close().await;
    }
    served.context("server failed")?;
    Ok(())
}

/// Wakes the daemon for every published event that may have made a ticket claimable (a ticket
/// created through the API or a tracker, a retry, a resume), so work starts within moments
/// while an idle daemon polls the store only every `poll_interval`. A lagging subscription
/// wakes it too (one of the missed events may have been such an event).
fn spawn_daemon_waker(
    hub: &foreman_events::EventHub,
    waker: foreman_pipeline::DaemonWaker,
    cancel: CancellationToken,
) {
    let mut events = hub.subscribe();
    tokio::spawn(async move {
        loop {
            let delivery = tokio::select! {
                () = cancel.cancelled() => return,
                d = events.recv() => d,
            };
            match delivery {
                None => return,
                Some(foreman_events::Delivery::Item(e)) => {
                    if foreman_pipeline::wakes_daemon(&e) {
                        waker.wake();
                    }
                }
                Some(foreman_events::Delivery::Lagged(_)) => waker.wake(),
            }
        }
    });
}

/// Translates configuration into the API's settings.
#[must_use]
pub fn api_config(config: &Config, data_dir: &Path) -> foreman_api::ApiConfig {
    let d = &config.dashboard;
    let [
        header_read_timeout,
        keep_alive_timeout,
        write_timeout,
        ws_pong_timeout,
    ] = config.serving_timeouts();
    foreman_api::ApiConfig {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        cors_allowed_origins: d.cors_allowed_origins.clone(),
        body_limit_bytes: usize::try_from(d.body_limit_bytes).unwrap_or(usize::MAX),
        request_timeout: config.request_timeout(),
        budgets: config.cost.limits(),
        config_summary: config.summary(data_dir),
        tls: (!d.tls_cert.is_empty()).then(|| foreman_api::TlsFiles {
            cert: PathBuf::from(&d.tls_cert),
            key: PathBuf::from(&d.tls_key),
        }),
        auth_token: (!d.auth_token.is_empty()).then(|| d.auth_token.clone()),
        requests_per_minute: d.requests_per_minute,
        write_requests_per_minute: d.write_requests_per_minute,
        // `Config::validate` has rejected entries that do not parse
        trusted_proxies: foreman_api::parse_trusted_proxies(&d.trusted_proxies).unwrap_or_default(),
        header_read_timeout,
        keep_alive_timeout,
        write_timeout,
        max_connections: usize::try_from(d.max_connections).unwrap_or(usize::MAX),
        ws_pong_timeout,
        runner_mode: config.runner.effective_mode().to_owned(),
        execution_slots: config.daemon.max_parallel_tickets.max(1) as usize,
        agent_runners: agent_runner_names(config),
        projects: config.project_names(),
        pricing: foreman_llm::PricingTable::from_config(&compose::pricing(config)).view(),
        ..Default::default()
    }
}

/// The configured coding agent runners, each once: the top-level one and each project's.
fn agent_runner_names(config: &Config) -> Vec<String> {
    let mut names = vec![config.agent_runner.provider_name().to_owned()];
    for p in &config.projects {
        if let Some(a) = &p.agent_runner
            && !names.iter().any(|n| n == a.provider_name())
        {
            names.push(a.provider_name().to_owned());
        }
    }
    names
}

/// Logs to stdout, and (unless `[logs] enabled = false`) into the store through
/// [`session::log_layer`].
fn init_tracing(format: LogFormat, level: &str, logs: &foreman_config::LogsConfig) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},sqlx=warn,sea_orm_migration=warn"))
    });
    let (json, pretty) = match format {
        LogFormat::Json => (Some(tracing_subscriber::fmt::layer().json()), None),
        LogFormat::Pretty => (None, Some(tracing_subscriber::fmt::layer())),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(pretty)
        .with(session::log_layer(logs))
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use foreman_domain::notification::{NotificationFilter, TriggerId};
    use foreman_domain::{EventType, Store};
    use foreman_pipeline::notify::NOTIFIER_SEQ_KEY;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_launched_server_that_stops_records_the_daemon_stop() {
        let _one = session::ONE_NOTIFIER.lock().await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.daemon.shutdown_grace = "1s".into();
        config.daemon.poll_interval = "100ms".into();
        config.notifications.poll_interval = "50ms".into();
        config.dashboard.enabled = false;
        // the demo's ticket never reaches a real model, whatever the environment holds
        config.llm.provider = "scripted".into();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = {
            let config = config.clone();
            let data = dir.path().to_owned();
            tokio::spawn(async move {
                launch(
                    listener,
                    config,
                    &data,
                    LaunchOptions { demo: true },
                    async move {
                        let _ = stopped.await;
                    },
                )
                .await
            })
        };
        // the demo's daemon runs, and the notifier has read its first events
        let store: Arc<dyn Store> = open_store(&config, dir.path()).await.unwrap();
        let mut ready = false;
        for _ in 0..400 {
            if store.get_setting(NOTIFIER_SEQ_KEY).await.unwrap().is_some() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(ready, "the notifier runs");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        let notes = store
            .list_notifications(&NotificationFilter::default())
            .await
            .unwrap();
        let stopped: Vec<_> = notes
            .iter()
            .filter(|n| n.trigger == TriggerId::DaemonStopped)
            .collect();
        assert_eq!(stopped.len(), 1, "{notes:?}");
        let stopping = store
            .list_events(&foreman_domain::EventFilter {
                types: vec![EventType::DaemonStopping],
                ..foreman_domain::EventFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(stopping.len(), 1);
    }
}
