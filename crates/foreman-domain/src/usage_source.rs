//! The port to LLM usage recorded outside Foreman: a coding tool's own session logs (Claude
//! Code's, today), which the API reports next to Foreman's own spend.
//!
//! An adapter reads wherever the tool keeps its records and prices them with Foreman's one
//! price table; the API sees only [`UsageSource`] and turns an [`ExternalUsage`] into its
//! response.

use std::collections::BTreeMap;
use std::fmt::Debug;

use chrono::NaiveDate;

use crate::Micros;

/// Spend recorded outside Foreman, per session and UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalUsage {
    /// The estimated cost of each `(session id, UTC day)` with any usage.
    pub by_session_day: BTreeMap<(String, NaiveDate), Micros>,
}

/// Reads usage a tool recorded outside Foreman.
///
/// Reading may block on file I/O: call it from a blocking thread.
pub trait UsageSource: Send + Sync + Debug {
    /// Everything recorded so far, or `None` when there is nothing to read (no logs at all).
    /// Unreadable records are skipped, never an error: the result is an estimate.
    fn read(&self) -> Option<ExternalUsage>;
}
