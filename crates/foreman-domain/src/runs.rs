//! Runs and the server's own log lines.
//!
//! A **run** is one server session, from start-up to shutdown: its window of time, how it
//! ended (`stopped`, or `crashed` when the next start found it still open), and what happened
//! in it (tickets finished and failed, LLM calls, spend). Totals are the work the store
//! recorded inside the window, so they need no bookkeeping in the pipeline; they are frozen
//! on the row when the run closes.
//!
//! **Log lines** are the server's structured `tracing` output, kept in the store with bounded
//! retention so `/api/logs` can page and follow them.
//!
//! [`DaemonControl`] is what the API asks of the running process: which run is current, why the
//! daemon takes no work, drain and stop.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::ids::TicketId;
use crate::money::Micros;
use crate::ticket::Page;

/// A run's id: a UUID v7 string, so ids sort by start time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// A fresh, time-ordered id.
    #[must_use]
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Wraps an id that came from storage or from a client.
    #[must_use]
    pub fn from_string(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The id as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The server is up.
    Running,
    /// The server shut down cleanly.
    Stopped,
    /// The server ended without closing the run (killed, crashed); found at the next start.
    Crashed,
}

impl RunStatus {
    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::Crashed => "crashed",
        }
    }
}

impl FromStr for RunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "running" => Ok(Self::Running),
            "stopped" => Ok(Self::Stopped),
            "crashed" => Ok(Self::Crashed),
            other => Err(format!("unknown run status {other:?}")),
        }
    }
}

/// What happened inside a run's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunTotals {
    /// Tickets that reached `merged` or `done` in the window.
    pub tickets_done: i64,
    /// Tickets that reached `failed` or `blocked` in the window.
    pub tickets_failed: i64,
    /// LLM calls recorded in the window.
    pub llm_calls: i64,
    /// Their cost.
    pub cost: Micros,
}

/// One server session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Id.
    pub id: RunId,
    /// The node that ran it (its `node_id`).
    pub node_id: String,
    /// The server version.
    pub version: String,
    /// Running, stopped or crashed.
    pub status: RunStatus,
    /// Start-up.
    pub started_at: DateTime<Utc>,
    /// Last sign of life (the server touches its run periodically); a crashed run ended here.
    pub last_seen_at: DateTime<Utc>,
    /// When it ended; `None` while running.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Work recorded in `[started_at, stopped_at or now]`.
    pub totals: RunTotals,
}

impl Run {
    /// The end of the run's window: its stop, or `now` while it runs.
    #[must_use]
    pub fn window_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.stopped_at.unwrap_or(now)
    }
}

/// A run to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// The node starting it.
    pub node_id: String,
    /// The server version.
    pub version: String,
}

/// What opening a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    /// The new run.
    pub run: Run,
    /// Runs of the same node that were still open and are now closed as crashed.
    pub crashed: Vec<Run>,
}

/// The largest page of runs.
pub const MAX_RUN_PAGE: u32 = 100;

/// Runs.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Opens a run for `new.node_id`, closing first (in the same transaction) that node's runs
    /// still open as [`RunStatus::Crashed`], ended at their `last_seen_at`, totals frozen.
    async fn start_run(&self, new: NewRun) -> StoreResult<RunStart>;

    /// Records a sign of life of an open run. [`crate::StoreError::NotFound`] when unknown.
    async fn touch_run(&self, id: &RunId) -> StoreResult<()>;

    /// Closes an open run as `status` (stopped or crashed) now, freezing its totals.
    /// [`crate::StoreError::NotFound`] when unknown; [`crate::StoreError::Conflict`] when it
    /// is already closed; [`crate::StoreError::Invalid`] for `running`.
    async fn finish_run(&self, id: &RunId, status: RunStatus) -> StoreResult<Run>;

    /// A run by id, with its totals (computed up to now while it runs).
    async fn get_run(&self, id: &RunId) -> StoreResult<Option<Run>>;

    /// Runs, newest first. `limit` 0 means 20, capped at [`MAX_RUN_PAGE`]; `cursor` is the
    /// `next_cursor` of the previous page ([`crate::StoreError::Invalid`] when garbled).
    async fn list_runs(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<Run>>;
}

/// A log line's level, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Errors.
    Error,
    /// Warnings.
    Warn,
    /// Information.
    Info,
    /// Debugging detail.
    Debug,
    /// Tracing detail.
    Trace,
}

impl LogLevel {
    /// Every level, most severe first.
    pub const ALL: [Self; 5] = [
        Self::Error,
        Self::Warn,
        Self::Info,
        Self::Debug,
        Self::Trace,
    ];

    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }

    /// 1 (error) to 5 (trace): what the stores keep, so "at least as severe as" is `<=`.
    #[must_use]
    pub const fn rank(self) -> i16 {
        match self {
            Self::Error => 1,
            Self::Warn => 2,
            Self::Info => 3,
            Self::Debug => 4,
            Self::Trace => 5,
        }
    }

    /// The level of a rank; `None` outside 1..=5.
    #[must_use]
    pub const fn from_rank(rank: i16) -> Option<Self> {
        match rank {
            1 => Some(Self::Error),
            2 => Some(Self::Warn),
            3 => Some(Self::Info),
            4 => Some(Self::Debug),
            5 => Some(Self::Trace),
            _ => None,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| "expected error, warn, info, debug or trace".to_owned())
    }
}

/// The longest message a log line keeps (longer ones are cut at a character boundary).
pub const MAX_LOG_MESSAGE_BYTES: usize = 8 * 1024;

/// A log line to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLogLine {
    /// When it was emitted.
    pub at: DateTime<Utc>,
    /// Level.
    pub level: LogLevel,
    /// The emitting module (`foreman_pipeline::daemon`).
    pub target: String,
    /// The message.
    pub message: String,
    /// The other fields of the event, as a JSON object (`None` when there were none).
    pub fields: Option<serde_json::Value>,
    /// The ticket the line is about (its `ticket` or `ticket_id` field).
    pub ticket_id: Option<TicketId>,
    /// The run that emitted it.
    pub run_id: Option<RunId>,
}

impl NewLogLine {
    /// Cuts the message to [`MAX_LOG_MESSAGE_BYTES`].
    #[must_use]
    pub fn bounded(mut self) -> Self {
        if self.message.len() > MAX_LOG_MESSAGE_BYTES {
            let mut end = MAX_LOG_MESSAGE_BYTES;
            while !self.message.is_char_boundary(end) {
                end -= 1;
            }
            self.message.truncate(end);
        }
        self
    }
}

/// A stored log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Increases with every stored line (in commit order).
    pub id: i64,
    /// When it was emitted.
    pub at: DateTime<Utc>,
    /// Level.
    pub level: LogLevel,
    /// The emitting module.
    pub target: String,
    /// The message.
    pub message: String,
    /// The other fields, as a JSON object.
    pub fields: Option<serde_json::Value>,
    /// The ticket the line is about.
    pub ticket_id: Option<TicketId>,
    /// The run that emitted it.
    pub run_id: Option<RunId>,
}

impl LogLine {
    /// Whether the line passes `filter`'s level, ticket and time conditions (not its id bounds).
    #[must_use]
    pub fn matches(&self, filter: &LogFilter) -> bool {
        filter.level.is_none_or(|l| self.level <= l)
            && filter
                .ticket_id
                .as_ref()
                .is_none_or(|t| self.ticket_id.as_ref() == Some(t))
            && filter.since.is_none_or(|s| self.at >= s)
    }
}

/// Which log lines to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogFilter {
    /// At least this severe (`warn` keeps errors and warnings).
    pub level: Option<LogLevel>,
    /// Only this ticket's lines.
    pub ticket_id: Option<TicketId>,
    /// Emitted at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only ids below this (paging back through older lines).
    pub before_id: Option<i64>,
    /// Only ids above this (catching up on newer lines).
    pub after_id: Option<i64>,
    /// Newest first (otherwise oldest first).
    pub newest_first: bool,
    /// At most this many; 0 means 100, capped at [`MAX_LOG_PAGE`].
    pub limit: u32,
}

/// The largest page of log lines.
pub const MAX_LOG_PAGE: u32 = 1000;

/// The page size a [`LogFilter::limit`] asks for.
#[must_use]
pub fn log_page_size(limit: u32) -> u32 {
    match limit {
        0 => 100,
        n => n.min(MAX_LOG_PAGE),
    }
}

/// The server's log lines.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Stores lines in one transaction, in order, each with an id above every stored one;
    /// returns them as stored.
    async fn append_logs(&self, lines: Vec<NewLogLine>) -> StoreResult<Vec<LogLine>>;

    /// Lines matching the filter.
    async fn list_logs(&self, filter: &LogFilter) -> StoreResult<Vec<LogLine>>;

    /// Deletes lines emitted before `older_than` and all but the newest `keep` lines; returns
    /// how many went.
    async fn prune_logs(&self, keep: u64, older_than: DateTime<Utc>) -> StoreResult<u64>;
}

/// Why the daemon takes no new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdleReason {
    /// The server is stopping (`POST /api/daemon/stop` or a signal).
    Stopping,
    /// Drained: running tickets go on, nothing new starts.
    Draining,
    /// Paused.
    Paused,
    /// A daily or monthly budget is spent.
    BudgetExhausted,
    /// Every slot holds a ticket.
    NoSlots,
    /// No daemon runs in this process (disabled, or nothing to work on).
    NoDaemon,
}

impl IdleReason {
    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stopping => "stopping",
            Self::Draining => "draining",
            Self::Paused => "paused",
            Self::BudgetExhausted => "budget_exhausted",
            Self::NoSlots => "no_slots",
            Self::NoDaemon => "no_daemon",
        }
    }
}

/// What the running process says about its daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DaemonSnapshot {
    /// A daemon runs in this process.
    pub present: bool,
    /// Drained (no new work until resumed).
    pub draining: bool,
    /// Stopping (the process exits once the daemon has drained).
    pub stopping: bool,
    /// Tickets being worked on.
    pub busy_slots: usize,
    /// How many tickets may be worked on at once.
    pub slots: usize,
}

/// The running process's handle on its run and daemon, for the API.
pub trait DaemonControl: Send + Sync {
    /// The current run.
    fn run_id(&self) -> Option<RunId>;

    /// The daemon's state now.
    fn snapshot(&self) -> DaemonSnapshot;

    /// Drains (`true`: no new work, running tickets go on) or ends a drain (`false`).
    fn set_draining(&self, on: bool);

    /// Drains, then stops the process: running steps get the shutdown grace period to
    /// finish or checkpoint, then the server exits. Returns at once.
    fn stop(&self);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_order_and_rank() {
        for l in LogLevel::ALL {
            assert_eq!(l.as_str().parse::<LogLevel>(), Ok(l));
            assert_eq!(LogLevel::from_rank(l.rank()), Some(l));
        }
        assert_eq!("WARN".parse::<LogLevel>(), Ok(LogLevel::Warn));
        assert!("verbose".parse::<LogLevel>().is_err());
        assert!(LogLevel::Error < LogLevel::Warn);
        assert_eq!(LogLevel::from_rank(0), None);
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let line = NewLogLine {
            at: crate::now(),
            level: LogLevel::Info,
            target: "t".into(),
            message: "é".repeat(MAX_LOG_MESSAGE_BYTES),
            fields: None,
            ticket_id: None,
            run_id: None,
        }
        .bounded();
        assert!(line.message.len() <= MAX_LOG_MESSAGE_BYTES);
        assert!(line.message.len() > MAX_LOG_MESSAGE_BYTES - 2);
    }

    #[test]
    fn filters_match_level_ticket_and_time() {
        let at = crate::now();
        let line = LogLine {
            id: 1,
            at,
            level: LogLevel::Warn,
            target: "t".into(),
            message: "m".into(),
            fields: None,
            ticket_id: Some(TicketId::from("a")),
            run_id: None,
        };
        assert!(line.matches(&LogFilter::default()));
        assert!(line.matches(&LogFilter {
            level: Some(LogLevel::Warn),
            ..LogFilter::default()
        }));
        assert!(!line.matches(&LogFilter {
            level: Some(LogLevel::Error),
            ..LogFilter::default()
        }));
        assert!(!line.matches(&LogFilter {
            ticket_id: Some(TicketId::from("b")),
            ..LogFilter::default()
        }));
        assert!(!line.matches(&LogFilter {
            since: Some(at + chrono::Duration::seconds(1)),
            ..LogFilter::default()
        }));
    }
}
