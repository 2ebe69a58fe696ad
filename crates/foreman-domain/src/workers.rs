//! The daemon's execution slots as others may see them: the [`WorkerSlots`] port.
//!
//! The daemon runs at most its configured number of tickets at once; each runs in a slot. The
//! pipeline implements the port over its live slots; the API reads it for `/api/workers` and
//! `/api/stats` without knowing the daemon.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::TicketId;

/// One execution slot at the moment of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSnapshot {
    /// `<worker id>/slot-<n>`, stable for the daemon's life.
    pub name: String,
    /// The ticket it runs; `None` when free.
    pub ticket_id: Option<TicketId>,
    /// When it took the ticket it runs.
    pub started_at: Option<DateTime<Utc>>,
    /// Tickets it has finished running (any outcome) since the daemon started.
    pub completed: u64,
}

impl SlotSnapshot {
    /// Whether the slot runs a ticket.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.ticket_id.is_some()
    }
}

/// The daemon's slots.
pub trait WorkerSlots: Send + Sync {
    /// Every slot, in order. Empty when the daemon runs nothing at all (disabled).
    fn snapshot(&self) -> Vec<SlotSnapshot>;
}
