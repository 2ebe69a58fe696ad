//! The server's own log lines: captured from `tracing`, stored, and fanned out live.
//!
//! [`capture`] returns a [`LogLayer`] to install in the process's subscriber and the
//! [`LogIntake`] that receives what it captures. The layer never blocks the thread that logs:
//! each event becomes a [`NewLogLine`] handed over with `try_send` on a bounded channel, and a
//! full channel drops the line and counts it ([`LogIntake::dropped`], the
//! `foreman_log_lines_dropped_total` counter). Lines logged before the store is open wait in
//! the channel. [`LogIntake::spawn_writer`] starts the task that drains the channel in batches
//! (whatever has arrived since the last write, up to [`MAX_BATCH`]), stores each batch through
//! the [`LogStore`] port in one transaction, publishes the stored lines (with their ids) to the
//! [`LogFeed`] for live followers, and prunes by age and count on a period.
//!
//! Lines from the storage stack (`sqlx`, `sea_orm`) and from this module are not captured, so
//! storing a line can never produce more lines to store.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use foreman_domain::TicketId;
use foreman_domain::runs::{LogLevel, LogLine, LogStore, NewLogLine, RunId};
use tokio::sync::{Notify, mpsc};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

use crate::hub::{Broadcast, Subscription};

/// The most lines written in one transaction.
pub const MAX_BATCH: usize = 512;

/// Targets whose lines are never captured (the store's own stack, and this module).
const NOT_CAPTURED: &[&str] = &["sqlx", "sea_orm", "sea_query", "foreman_events::logs"];

/// Live fan-out of stored log lines. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LogFeed {
    inner: Broadcast<Arc<LogLine>>,
}

impl Default for LogFeed {
    fn default() -> Self {
        Self {
            inner: Broadcast::new(crate::DEFAULT_CAPACITY),
        }
    }
}

impl LogFeed {
    /// A subscriber that receives every line stored from now on.
    #[must_use]
    pub fn subscribe(&self) -> Subscription<Arc<LogLine>> {
        self.inner.subscribe()
    }

    /// Publishes a stored line.
    pub fn publish(&self, line: Arc<LogLine>) {
        self.inner.send(line);
    }
}

/// State the layer and the intake share.
#[derive(Debug, Default)]
struct Shared {
    dropped: AtomicU64,
    run: OnceLock<RunId>,
}

/// The `tracing` layer that captures log lines (see the module documentation).
pub struct LogLayer {
    tx: mpsc::Sender<NewLogLine>,
    level: LogLevel,
    shared: Arc<Shared>,
}

impl fmt::Debug for LogLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogLayer")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

/// The receiving end of a [`LogLayer`].
pub struct LogIntake {
    rx: mpsc::Receiver<NewLogLine>,
    shared: Arc<Shared>,
}

impl fmt::Debug for LogIntake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogIntake")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// A layer that captures lines at `level` or more severe, holding up to `buffer` lines for the
/// writer, and the intake that receives them.
#[must_use]
pub fn capture(level: LogLevel, buffer: usize) -> (LogLayer, LogIntake) {
    let (tx, rx) = mpsc::channel(buffer.max(1));
    let shared = Arc::new(Shared::default());
    (
        LogLayer {
            tx,
            level,
            shared: shared.clone(),
        },
        LogIntake { rx, shared },
    )
}

fn level_of(level: tracing::Level) -> LogLevel {
    match level {
        tracing::Level::ERROR => LogLevel::Error,
        tracing::Level::WARN => LogLevel::Warn,
        tracing::Level::INFO => LogLevel::Info,
        tracing::Level::DEBUG => LogLevel::Debug,
        tracing::Level::TRACE => LogLevel::Trace,
    }
}

/// Collects an event's message and fields.
#[derive(Default)]
struct Fields {
    message: String,
    ticket: Option<String>,
    rest: serde_json::Map<String, serde_json::Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        match field.name() {
            "message" => {
                self.message = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
            }
            name => {
                if matches!(name, "ticket" | "ticket_id")
                    && let serde_json::Value::String(s) = &value
                {
                    self.ticket = Some(s.clone());
                }
                self.rest.insert(name.to_owned(), value);
            }
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, serde_json::Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, serde_json::Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, serde_json::Value::String(value.to_string()));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = level_of(*meta.level());
        if level > self.level {
            return;
        }
        let target = meta.target();
        if NOT_CAPTURED
            .iter()
            .any(|t| target == *t || target.strip_prefix(t).is_some_and(|r| r.starts_with("::")))
        {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = NewLogLine {
            at: foreman_domain::now(),
            level,
            target: target.to_owned(),
            message: fields.message,
            fields: (!fields.rest.is_empty()).then_some(serde_json::Value::Object(fields.rest)),
            ticket_id: fields.ticket.map(TicketId::from),
            run_id: self.shared.run.get().cloned(),
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(line) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("foreman_log_lines_dropped_total").increment(1);
        }
    }
}

/// How long lines are kept and how often that is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRetention {
    /// At most this many lines.
    pub max_lines: u64,
    /// None older than this.
    pub max_age: Duration,
    /// How often lines beyond either bound are deleted.
    pub every: Duration,
}

impl Default for LogRetention {
    fn default() -> Self {
        Self {
            max_lines: 100_000,
            max_age: Duration::from_secs(7 * 86_400),
            every: Duration::from_secs(60),
        }
    }
}

impl LogIntake {
    /// Lines dropped so far because the channel was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Stamps every line captured from now on with `run` (the first call wins).
    pub fn set_run(&self, run: RunId) {
        let _ = self.shared.run.set(run);
    }

    /// Starts the writer: stores captured lines in batches, publishes them to `feed` and
    /// prunes on `retention`'s period. [`LogWriter::close`] stores what is still waiting and
    /// ends it.
    #[must_use]
    pub fn spawn_writer(
        self,
        store: Arc<dyn LogStore>,
        feed: LogFeed,
        retention: LogRetention,
    ) -> LogWriter {
        let stop = Arc::new(Notify::new());
        let shared = self.shared.clone();
        let join = tokio::spawn(write_loop(self.rx, store, feed, retention, stop.clone()));
        LogWriter { stop, join, shared }
    }
}

/// The running writer.
#[derive(Debug)]
pub struct LogWriter {
    stop: Arc<Notify>,
    join: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

impl LogWriter {
    /// Lines dropped so far because the channel was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Stores the lines still waiting, then ends the writer.
    pub async fn close(self) {
        self.stop.notify_one();
        let _ = self.join.await;
    }
}

async fn write_loop(
    mut rx: mpsc::Receiver<NewLogLine>,
    store: Arc<dyn LogStore>,
    feed: LogFeed,
    retention: LogRetention,
    stop: Arc<Notify>,
) {
    let mut prune = tokio::time::interval(retention.every.max(Duration::from_millis(10)));
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            line = rx.recv() => line,
            () = stop.notified() => break,
            _ = prune.tick() => {
                prune_once(store.as_ref(), retention).await;
                continue;
            }
        };
        let Some(first) = first else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(line) => batch.push(line),
                Err(_) => break,
            }
        }
        if !write(store.as_ref(), &feed, batch).await {
            // The store refused: wait a little rather than spin on a database that is down.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    // Closing: store what is still waiting.
    rx.close();
    let mut rest = Vec::new();
    while let Ok(line) = rx.try_recv() {
        rest.push(line);
        if rest.len() == MAX_BATCH {
            write(store.as_ref(), &feed, std::mem::take(&mut rest)).await;
        }
    }
    write(store.as_ref(), &feed, rest).await;
}

/// Stores one batch and publishes it; `false` when the store refused (the lines are lost and
/// counted).
async fn write(store: &dyn LogStore, feed: &LogFeed, batch: Vec<NewLogLine>) -> bool {
    if batch.is_empty() {
        return true;
    }
    let n = batch.len() as u64;
    match store.append_logs(batch).await {
        Ok(stored) => {
            metrics::counter!("foreman_log_lines_stored_total").increment(n);
            for line in stored {
                feed.publish(Arc::new(line));
            }
            true
        }
        Err(e) => {
            metrics::counter!("foreman_log_lines_dropped_total").increment(n);
            tracing::warn!(error = %e, lines = n, "cannot store log lines");
            false
        }
    }
}

async fn prune_once(store: &dyn LogStore, retention: LogRetention) {
    let age = chrono::Duration::from_std(retention.max_age).unwrap_or(chrono::Duration::MAX);
    let older_than = foreman_domain::now()
        .checked_sub_signed(age)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    if let Err(e) = store.prune_logs(retention.max_lines, older_than).await {
        tracing::warn!(error = %e, "cannot prune log lines");
    }
}

#[cfg(test)]
mod tests {
    use foreman_domain::runs::LogFilter;
    use foreman_testkit::MemoryStore;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    // The events of these tests name a target of their own: this module's (under
    // `foreman_events::logs`) is never captured, so the writer's own warnings cannot feed it.

    #[tokio::test]
    async fn captured_lines_are_stored_published_and_stamped() {
        let store = MemoryStore::new();
        let feed = LogFeed::default();
        let mut live = feed.subscribe();
        let (layer, intake) = capture(LogLevel::Info, 64);
        intake.set_run(RunId::from_string("run-1"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "foreman_pipeline", ticket = "t-1", attempt = 2, "planning started");
            tracing::debug!(target: "foreman_pipeline", "too verbose to keep");
            tracing::warn!(target: "sqlx::query", "never captured");
        });
        let writer = intake.spawn_writer(
            Arc::new(store.clone()),
            feed.clone(),
            LogRetention::default(),
        );
        let Some(crate::Delivery::Item(line)) = live.recv().await else {
            panic!("a published line")
        };
        assert_eq!(line.message, "planning started");
        assert_eq!(line.level, LogLevel::Info);
        assert_eq!(line.ticket_id, Some(TicketId::from("t-1")));
        assert_eq!(line.run_id, Some(RunId::from_string("run-1")));
        assert_eq!(
            line.fields,
            Some(serde_json::json!({"ticket": "t-1", "attempt": 2}))
        );
        writer.close().await;
        let stored = store.list_logs(&LogFilter::default()).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0], *line);
    }

    #[tokio::test]
    async fn a_full_channel_drops_and_counts_without_blocking() {
        let (layer, intake) = capture(LogLevel::Trace, 2);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..5 {
                tracing::info!(target: "foreman_pipeline", i, "line");
            }
        });
        assert_eq!(intake.dropped(), 3);
        let store = MemoryStore::new();
        let writer = intake.spawn_writer(
            Arc::new(store.clone()),
            LogFeed::default(),
            LogRetention::default(),
        );
        writer.close().await;
        let stored = store.list_logs(&LogFilter::default()).await.unwrap();
        assert_eq!(stored.len(), 2, "what fitted is stored on close");
    }

    #[tokio::test]
    async fn the_writer_prunes_on_its_period() {
        let store = MemoryStore::new();
        let (layer, intake) = capture(LogLevel::Info, 64);
        // the layer (the channel's sender) lives as long as the test, as it does in a server:
        // a writer whose senders are all gone stores what is left and ends
        let _capturing =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        for i in 0..10 {
            tracing::info!(target: "foreman_pipeline", i, "line");
        }
        let writer = intake.spawn_writer(
            Arc::new(store.clone()),
            LogFeed::default(),
            LogRetention {
                max_lines: 4,
                max_age: Duration::from_secs(3600),
                every: Duration::from_millis(20),
            },
        );
        let mut left = usize::MAX;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            left = store.list_logs(&LogFilter::default()).await.unwrap().len();
            if left == 4 {
                break;
            }
        }
        writer.close().await;
        assert_eq!(left, 4);
    }
}
