//! The tracker port (`foreman_domain::tracker::Tracker`) as a program embedding Foreman may
//! implement it: one ticket held in memory, and a log of every write-back the pipeline sends.

use std::sync::Mutex;

use async_trait::async_trait;
use foreman_domain::tracker::{NewTrackerTicket, Tracker, TrackerComment, TrackerError};
use foreman_domain::tracker::{TrackerResult, TrackerStatus, TrackerTicket};

/// A tracker holding one ticket; it never changes the ticket, only records what it is told.
pub struct InCodeTracker {
    /// The one ticket.
    pub ticket: TrackerTicket,
    /// The write-backs received, in order (`status done`, `pull request <url>`, ...).
    pub writes: Mutex<Vec<String>>,
}

impl InCodeTracker {
    fn record(&self, write: String) -> TrackerResult<()> {
        self.writes.lock().unwrap().push(write);
        Ok(())
    }
}

#[async_trait]
impl Tracker for InCodeTracker {
    fn name(&self) -> &'static str {
        "in-code"
    }
    // Intake asks for the ready tickets; Foreman creates each external id once.
    async fn fetch_ready(&self) -> TrackerResult<Vec<TrackerTicket>> {
        Ok(vec![self.ticket.clone()])
    }
    async fn get_ticket(&self, _id: &str) -> TrackerResult<TrackerTicket> {
        Ok(self.ticket.clone())
    }
    async fn add_comment(&self, _id: &str, body: &str) -> TrackerResult<TrackerComment> {
        self.record(format!("comment: {body}"))?;
        Ok(TrackerComment {
            id: "1".into(),
            author: None,
            body: body.into(),
            created_at: None,
        })
    }
    async fn add_label(&self, _id: &str, label: &str) -> TrackerResult<()> {
        self.record(format!("label +{label}"))
    }
    async fn remove_label(&self, _id: &str, label: &str) -> TrackerResult<()> {
        self.record(format!("label -{label}"))
    }
    async fn update_status(&self, _id: &str, status: TrackerStatus) -> TrackerResult<()> {
        self.record(format!("status {status}"))
    }
    async fn attach_pr(&self, _id: &str, url: &str, _title: &str) -> TrackerResult<()> {
        self.record(format!("pull request {url}"))
    }
    // Asked for only when the planner splits a ticket that is too large.
    async fn create_ticket(&self, _new: &NewTrackerTicket) -> TrackerResult<TrackerTicket> {
        Err(TrackerError::Invalid("one ticket only".into()))
    }
    async fn check(&self) -> TrackerResult<()> {
        Ok(())
    }
}
