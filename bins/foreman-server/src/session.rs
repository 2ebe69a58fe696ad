//! The server's session: its run (opened at start-up, touched while alive, closed at shutdown;
//! a run left open by a crash is closed as `crashed` at the next start), its own log lines
//! (captured by `foreman_events::logs` from the first line on, stored once the store is open),
//! the [`DaemonControl`] the API drains and stops the process through, and the notifier
//! (with the retrospectives) that watches the process's events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use foreman_config::{Config, LogsConfig};
use foreman_domain::runs::{
    DaemonControl, DaemonSnapshot, LogLevel, LogStore, NewRun, Run, RunId, RunStore,
};
use foreman_domain::{EventLog, Store};
use foreman_events::logs::{LogFeed, LogIntake, LogLayer, LogRetention, LogWriter};
use foreman_pipeline::WorkGate;
use foreman_pipeline::notify::{Notifier, NotifySettings};
use foreman_pipeline::retrospective::Retrospectives;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the server records a sign of life on its run (a crashed run ends at the last).
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// The capture installed with the process's subscriber, waiting for the store.
static INTAKE: Mutex<Option<LogIntake>> = Mutex::new(None);

/// A layer capturing log lines as `[logs]` asks (`None` when `enabled = false`); its intake
/// waits for [`start_log_writer`].
#[must_use]
pub fn log_layer(logs: &LogsConfig) -> Option<LogLayer> {
    if !logs.enabled {
        return None;
    }
    let level = logs.level.parse::<LogLevel>().unwrap_or(LogLevel::Info);
    let buffer = usize::try_from(logs.buffer).unwrap_or(usize::MAX);
    let (layer, intake) = foreman_events::logs::capture(level, buffer);
    *INTAKE.lock().unwrap_or_else(PoisonError::into_inner) = Some(intake);
    Some(layer)
}

/// Starts storing the captured log lines (stamped with `run`) with `[logs]`' retention, when
/// a layer was installed in this process; the feed carries each stored line to live
/// followers.
#[must_use]
pub fn start_log_writer(
    config: &Config,
    store: Arc<dyn LogStore>,
    run: &RunId,
) -> Option<(LogWriter, LogFeed)> {
    let intake = INTAKE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()?;
    intake.set_run(run.clone());
    let feed = LogFeed::default();
    let retention = LogRetention {
        max_lines: config.logs.max_lines,
        max_age: config.logs.max_age(),
        every: Duration::from_secs(60),
    };
    Some((intake.spawn_writer(store, feed.clone(), retention), feed))
}

/// Opens this node's run, closing the runs its previous process left open as crashed.
///
/// # Errors
/// Store failures.
pub async fn start_run(store: &dyn RunStore, node_id: &str) -> Result<Run> {
    let start = store
        .start_run(NewRun {
            node_id: node_id.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
        .await
        .context("cannot record the run")?;
    for run in &start.crashed {
        tracing::warn!(run = %run.id, started_at = %run.started_at, "the previous run ended without stopping; recorded as crashed");
    }
    tracing::info!(run = %start.run.id, "run started");
    Ok(start.run)
}

/// Touches the run every [`HEARTBEAT`] until `cancel`.
pub fn spawn_heartbeat(store: Arc<dyn RunStore>, run: RunId, cancel: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(HEARTBEAT) => {}
            }
            if let Err(e) = store.touch_run(&run).await {
                tracing::warn!(error = %e, "cannot record the run's heartbeat");
            }
        }
    });
}

/// The notifier's settings from `[notifications]` and the budgets of `[cost]` (`Config::validate`
/// has checked the intervals; an unparsable one falls back to its default).
#[must_use]
pub fn notify_settings(config: &Config) -> NotifySettings {
    let defaults = NotifySettings::default();
    let interval = |value: &str, default: Duration| {
        foreman_config::parse_duration(value)
            .ok()
            .filter(|d| !d.is_zero())
            .unwrap_or(default)
    };
    NotifySettings {
        poll_interval: interval(&config.notifications.poll_interval, defaults.poll_interval),
        budget_interval: interval(
            &config.notifications.budget_interval,
            defaults.budget_interval,
        ),
        limits: config.cost.limits(),
    }
}

/// Tests that start a notifier run one at a time (one runs per process).
#[cfg(test)]
pub(crate) static ONE_NOTIFIER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether this process runs a notifier now (one at a time, however often the server is
/// launched in it).
static NOTIFIER_RUNNING: AtomicBool = AtomicBool::new(false);

/// Clears [`NOTIFIER_RUNNING`] when the notifier's task ends, however it ends.
struct NotifierSlot;

impl Drop for NotifierSlot {
    fn drop(&mut self) {
        NOTIFIER_RUNNING.store(false, Ordering::SeqCst);
    }
}

/// Starts this process's one notifier (`[notifications] enabled`), writing retrospectives too
/// (`[retrospectives] enabled`), until `stop`. Fire it only once the daemon has stopped: the
/// notifier's last pass then reads the daemon's `daemon_stopping` and fires `daemon_stopped`.
///
/// Store errors are logged by the notifier, which goes on at its next tick; should it panic, it
/// is logged and started again from its stored cursor after one poll interval, so at most one
/// runs at a time. With notifications off and retrospectives on, only the retrospectives run
/// (every poll interval). `None` when both are off, or when a notifier already runs in this
/// process (until it stops).
#[must_use]
pub fn spawn_notifier(
    config: &Config,
    store: Arc<dyn Store>,
    events: Arc<dyn EventLog>,
    stop: CancellationToken,
) -> Option<JoinHandle<()>> {
    let settings = notify_settings(config);
    let notifications = config.notifications.enabled;
    let every = config
        .retrospectives
        .enabled
        .then_some(config.retrospectives.every);
    if !notifications && every.is_none() {
        tracing::info!("notifications and retrospectives are off");
        return None;
    }
    if NOTIFIER_RUNNING.swap(true, Ordering::SeqCst) {
        tracing::warn!("a notifier already runs in this process; not starting another");
        return None;
    }
    let slot = NotifierSlot;
    Some(tokio::spawn(async move {
        let _slot = slot;
        loop {
            let retrospectives =
                every.map(|n| Retrospectives::new(store.clone(), events.clone(), n));
            let run = if notifications {
                let mut notifier = Notifier::new(store.clone(), events.clone(), settings);
                if let Some(r) = retrospectives {
                    notifier = notifier.with_retrospectives(r);
                }
                tokio::spawn(notifier.run(stop.clone()))
            } else {
                let r = retrospectives
                    .unwrap_or_else(|| Retrospectives::new(store.clone(), events.clone(), 20));
                tokio::spawn(retrospectives_only(r, settings.poll_interval, stop.clone()))
            };
            match run.await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(error = %e, "the notifier stopped unexpectedly; starting it again")
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(settings.poll_interval) => {}
            }
        }
    }))
}

/// Writes the retrospectives due every `every` until `stop` (when notifications are off).
async fn retrospectives_only(r: Retrospectives, every: Duration, stop: CancellationToken) {
    loop {
        if let Err(e) = r.catch_up().await {
            tracing::warn!(error = %e, "retrospectives could not catch up");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// The API's handle on this process: its run, its daemon's drain switch, and the stop.
#[derive(Debug)]
pub struct ServerControl {
    run: RunId,
    gate: Option<WorkGate>,
    stopping: AtomicBool,
    stop: CancellationToken,
}

impl ServerControl {
    /// A control over `run` and the daemon's `gate` (`None`: no daemon runs); `stop` fires
    /// when a stop is asked for.
    #[must_use]
    pub fn new(run: RunId, gate: Option<WorkGate>, stop: CancellationToken) -> Self {
        Self {
            run,
            gate,
            stopping: AtomicBool::new(false),
            stop,
        }
    }
}

impl DaemonControl for ServerControl {
    fn run_id(&self) -> Option<RunId> {
        Some(self.run.clone())
    }

    fn snapshot(&self) -> DaemonSnapshot {
        let (busy_slots, slots) = self.gate.as_ref().map_or((0, 0), WorkGate::slots);
        DaemonSnapshot {
            present: self.gate.is_some(),
            draining: self.gate.as_ref().is_some_and(WorkGate::is_draining),
            stopping: self.stopping.load(Ordering::Relaxed),
            busy_slots,
            slots,
        }
    }

    fn set_draining(&self, on: bool) {
        // a stopping server stays drained
        if !on && self.stopping.load(Ordering::Relaxed) {
            return;
        }
        if let Some(gate) = &self.gate {
            gate.set_draining(on);
        }
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        if let Some(gate) = &self.gate {
            gate.set_draining(true);
        }
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use foreman_domain::notification::{NotificationFilter, TriggerId};
    use foreman_domain::{EventType, NewEvent};
    use foreman_pipeline::notify::NOTIFIER_SEQ_KEY;
    use foreman_testkit::MemoryStore;

    use super::*;

    #[test]
    fn notifier_settings_come_from_the_config() {
        let mut config = Config::default();
        config.notifications.poll_interval = "5s".into();
        config.notifications.budget_interval = "2m".into();
        config.cost.daily_budget = 10.0;
        let s = notify_settings(&config);
        assert_eq!(s.poll_interval, Duration::from_secs(5));
        assert_eq!(s.budget_interval, Duration::from_secs(120));
        assert_eq!(s.limits, config.cost.limits());
        assert!(s.limits.daily.is_some());
    }

    #[tokio::test]
    async fn the_notifier_records_the_daemon_stop_in_its_last_pass_and_can_be_off() {
        let _one = ONE_NOTIFIER.lock().await;
        let store = MemoryStore::new().shared();
        // read from the log's start, so the event below is not taken for history
        store.put_setting(NOTIFIER_SEQ_KEY, "0").await.unwrap();
        let stop = CancellationToken::new();
        let handle = spawn_notifier(
            &Config::default(),
            store.clone(),
            store.clone(),
            stop.clone(),
        )
        .expect("on by default");
        store
            .append(NewEvent::new(EventType::DaemonStopping, "daemon draining"))
            .await
            .unwrap();
        // one per process while it runs
        assert!(
            spawn_notifier(
                &Config::default(),
                store.clone(),
                store.clone(),
                CancellationToken::new()
            )
            .is_none()
        );
        stop.cancel();
        handle.await.unwrap();
        let notes = store
            .list_notifications(&NotificationFilter::default())
            .await
            .unwrap();
        let stopped = notes
            .iter()
            .filter(|n| n.trigger == TriggerId::DaemonStopped)
            .count();
        assert_eq!(stopped, 1, "{notes:?}");
        let mut off = Config::default();
        off.notifications.enabled = false;
        off.retrospectives.enabled = false;
        assert!(
            spawn_notifier(&off, store.clone(), store.clone(), CancellationToken::new()).is_none()
        );
        // once it stopped, a new one may start
        let stop = CancellationToken::new();
        let again = spawn_notifier(
            &Config::default(),
            store.clone(),
            store.clone(),
            stop.clone(),
        )
        .expect("the first one stopped");
        stop.cancel();
        again.await.unwrap();
    }

    #[tokio::test]
    async fn with_notifications_off_retrospectives_are_still_written() {
        let _one = ONE_NOTIFIER.lock().await;
        let store = MemoryStore::new().shared();
        let t = store
            .create_ticket(foreman_domain::NewTicket {
                project: "default".into(),
                external_id: "R-1".into(),
                title: "r".into(),
                ..foreman_domain::NewTicket::default()
            })
            .await
            .unwrap();
        store
            .transition_ticket(
                &t.id,
                foreman_domain::TicketStatus::Queued,
                foreman_domain::TicketStatus::Failed,
                None,
            )
            .await
            .unwrap();
        // a notifier (were it running) would read this from the log's start and fire
        store.put_setting(NOTIFIER_SEQ_KEY, "0").await.unwrap();
        store
            .append(NewEvent::new(EventType::DaemonStopping, "stop"))
            .await
            .unwrap();
        let mut config = Config::default();
        config.notifications.enabled = false;
        config.notifications.poll_interval = "20ms".into();
        config.retrospectives.every = 1;
        let stop = CancellationToken::new();
        let handle = spawn_notifier(&config, store.clone(), store.clone(), stop.clone())
            .expect("retrospectives run");
        let mut written = Vec::new();
        for _ in 0..400 {
            written = store.list_retrospectives(10, None).await.unwrap();
            if !written.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.cancel();
        handle.await.unwrap();
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].ticket_ids, vec![t.id]);
        // nothing is notified with notifications off
        assert!(
            store
                .list_notifications(&NotificationFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn stop_drains_for_good_and_fires_the_token() {
        let gate = WorkGate::default();
        let stop = CancellationToken::new();
        let c = ServerControl::new(RunId::new(), Some(gate.clone()), stop.clone());
        c.set_draining(true);
        assert!(c.snapshot().draining && gate.is_draining());
        c.set_draining(false);
        assert!(!gate.is_draining());
        c.stop();
        assert!(stop.is_cancelled());
        c.set_draining(false);
        let s = c.snapshot();
        assert!(s.present && s.stopping && s.draining, "{s:?}");
        let none = ServerControl::new(RunId::new(), None, CancellationToken::new());
        assert!(!none.snapshot().present);
    }
}
