//! Tickets: the unit of work Foreman takes from a tracker and turns into a pull request.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
pub use crate::ids::FencingToken;
use crate::ids::TicketId;
use crate::money::Micros;
use crate::status::TicketStatus;

/// The largest page any list query returns.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// A ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// Internal id.
    pub id: TicketId,
    /// The project (repository) it belongs to.
    pub project: String,
    /// The tracker's id (`PROJ-123`, `#42`, ...).
    pub external_id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub description: String,
    /// Acceptance criteria, as text.
    pub acceptance_criteria: String,
    /// Lifecycle status.
    pub status: TicketStatus,
    /// Higher runs first.
    pub priority: i32,
    /// Tracker labels.
    pub labels: Vec<String>,
    /// Who asked for it (tracker reporter, chat id, API token name).
    pub submitter: Option<String>,
    /// The parent ticket when this one came from a decomposition.
    pub parent_id: Option<TicketId>,
    /// The ticket branch, once created.
    pub branch_name: String,
    /// The pull request URL, once opened (empty before).
    pub pr_url: String,
    /// The pull request number at the host.
    pub pr_number: Option<i64>,
    /// Total spend.
    pub cost: Micros,
    /// Total input tokens.
    pub tokens_input: i64,
    /// Total output tokens.
    pub tokens_output: i64,
    /// Number of LLM calls recorded.
    pub total_llm_calls: i64,
    /// Whether its pull request is partial.
    pub is_partial: bool,
    /// The highest task sequence completed (for resume).
    pub last_completed_task_seq: i32,
    /// The last error, for people.
    pub last_error: Option<String>,
    /// The last error's class (`compile`, `test`, `budget`, ...).
    pub last_error_type: Option<String>,
    /// Bumped on every claim; writes under a lease present it.
    pub fencing_token: FencingToken,
    /// The worker holding the lease, if any.
    pub lease_owner: Option<String>,
    /// When the lease runs out.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// When work began.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a terminal status.
    pub completed_at: Option<DateTime<Utc>>,
}

impl Ticket {
    /// The ticket a store creates from `new` (checked with [`NewTicket::validate`], which gave
    /// `project`): queued, nothing spent, no branch, pull request or lease yet.
    #[must_use]
    pub fn from_new(id: TicketId, project: String, new: NewTicket, now: DateTime<Utc>) -> Self {
        Self {
            id,
            project,
            external_id: new.external_id,
            title: new.title,
            description: new.description,
            acceptance_criteria: new.acceptance_criteria,
            status: TicketStatus::Queued,
            priority: new.priority,
            labels: new.labels,
            submitter: new.submitter,
            parent_id: new.parent_id,
            branch_name: String::new(),
            pr_url: String::new(),
            pr_number: None,
            cost: Micros::ZERO,
            tokens_input: 0,
            tokens_output: 0,
            total_llm_calls: 0,
            is_partial: false,
            last_completed_task_seq: 0,
            last_error: None,
            last_error_type: None,
            fencing_token: FencingToken(0),
            lease_owner: None,
            lease_expires_at: None,
            created_at: now,
            updated_at: now,
            started_at: None,
            completed_at: None,
        }
    }
}

impl NewTicket {
    /// Checks what every store requires and returns the ticket's project
    /// ([`crate::DEFAULT_PROJECT`] when none is named).
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an invalid project name or an empty `external_id`.
    pub fn validate(&self) -> StoreResult<String> {
        let project = if self.project.is_empty() {
            crate::DEFAULT_PROJECT.to_owned()
        } else {
            self.project.clone()
        };
        if !crate::project::is_valid_project_name(&project) {
            return Err(StoreError::Invalid(format!(
                "project {project:?} is not a valid project name"
            )));
        }
        if self.external_id.trim().is_empty() {
            return Err(StoreError::Invalid("external_id must not be empty".into()));
        }
        Ok(project)
    }
}

/// A ticket to create.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NewTicket {
    /// Project slug ([`crate::DEFAULT_PROJECT`] when empty).
    pub project: String,
    /// The tracker's id; unique within a project.
    pub external_id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub description: String,
    /// Acceptance criteria.
    pub acceptance_criteria: String,
    /// Higher runs first.
    pub priority: i32,
    /// Labels.
    pub labels: Vec<String>,
    /// Who asked for it.
    pub submitter: Option<String>,
    /// Parent ticket for decomposition children.
    pub parent_id: Option<TicketId>,
}

/// Field changes to a ticket; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TicketPatch {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New acceptance criteria.
    pub acceptance_criteria: Option<String>,
    /// New priority.
    pub priority: Option<i32>,
    /// New labels.
    pub labels: Option<Vec<String>>,
    /// New branch name.
    pub branch_name: Option<String>,
    /// New pull request URL.
    pub pr_url: Option<String>,
    /// New pull request number.
    pub pr_number: Option<Option<i64>>,
    /// New partial flag.
    pub is_partial: Option<bool>,
    /// New resume point.
    pub last_completed_task_seq: Option<i32>,
    /// New last error.
    pub last_error: Option<Option<String>>,
    /// New last error class.
    pub last_error_type: Option<Option<String>>,
    /// New start time.
    pub started_at: Option<Option<DateTime<Utc>>>,
}

/// How list results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketSort {
    /// Newest first (the default).
    #[default]
    CreatedDesc,
    /// Oldest first.
    CreatedAsc,
    /// Most recently changed first.
    UpdatedDesc,
}

/// Which tickets to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TicketFilter {
    /// Only this project.
    pub project: Option<String>,
    /// Only these statuses (empty: all).
    pub statuses: Vec<TicketStatus>,
    /// Case-insensitive substring of title or external id.
    pub search: Option<String>,
    /// Only this submitter.
    pub submitter: Option<String>,
    /// Only children of this ticket.
    pub parent_id: Option<TicketId>,
    /// Order.
    pub sort: TicketSort,
    /// At most this many (capped at [`MAX_PAGE_LIMIT`]; 0 means 50).
    pub limit: u32,
    /// Skip this many (ignored when `cursor` is set).
    pub offset: u64,
    /// Keyset cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl TicketFilter {
    /// The effective page size.
    #[must_use]
    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => 50,
            n => n.min(MAX_PAGE_LIMIT),
        }
    }
}

/// A keyset position in a ticket listing: the sort key and id of the last ticket of a page.
///
/// Encoded as an opaque string for [`Page::next_cursor`] and [`TicketFilter::cursor`]. The
/// encoding names the sort it belongs to, so a cursor from one order is refused by another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketCursor {
    /// The order the cursor was made for.
    pub sort: TicketSort,
    /// The last ticket's sort timestamp (`created_at` or `updated_at`) in microseconds.
    pub at_micros: i64,
    /// The last ticket's id (the tie-breaker).
    pub id: TicketId,
}

impl TicketSort {
    /// The timestamp this order sorts by, in microseconds.
    #[must_use]
    pub fn key_micros(self, ticket: &Ticket) -> i64 {
        match self {
            Self::CreatedDesc | Self::CreatedAsc => ticket.created_at.timestamp_micros(),
            Self::UpdatedDesc => ticket.updated_at.timestamp_micros(),
        }
    }

    /// Whether the order is descending.
    #[must_use]
    pub const fn is_descending(self) -> bool {
        matches!(self, Self::CreatedDesc | Self::UpdatedDesc)
    }

    const fn tag(self) -> char {
        match self {
            Self::CreatedDesc => 'c',
            Self::CreatedAsc => 'a',
            Self::UpdatedDesc => 'u',
        }
    }
}

impl TicketCursor {
    /// The cursor that continues after `ticket` in `sort` order.
    #[must_use]
    pub fn after(ticket: &Ticket, sort: TicketSort) -> Self {
        Self {
            sort,
            at_micros: sort.key_micros(ticket),
            id: ticket.id.clone(),
        }
    }

    /// The opaque string form.
    #[must_use]
    pub fn encode(&self) -> String {
        format!("{}{}_{}", self.sort.tag(), self.at_micros, self.id)
    }

    /// Parses a cursor for a listing in `sort` order.
    ///
    /// # Errors
    /// [`crate::StoreError::Invalid`] when the string is not a cursor or belongs to another
    /// order.
    pub fn decode(s: &str, sort: TicketSort) -> Result<Self, StoreError> {
        let bad = || StoreError::Invalid(format!("malformed cursor {s:?}"));
        let mut chars = s.chars();
        let tag = chars.next().ok_or_else(bad)?;
        if tag != sort.tag() {
            return Err(StoreError::Invalid(format!(
                "cursor {s:?} belongs to another sort order"
            )));
        }
        let (at, id) = chars.as_str().split_once('_').ok_or_else(bad)?;
        let at_micros = at.parse::<i64>().map_err(|_| bad())?;
        if id.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            sort,
            at_micros,
            id: TicketId::from(id),
        })
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A request to claim the next ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// Who claims (node and worker).
    pub worker_id: String,
    /// How long the lease lasts unless renewed.
    pub lease: Duration,
    /// Claim only tickets in these statuses (typically `queued` plus the active ones, whose
    /// leases are reclaimable once expired).
    pub statuses: Vec<TicketStatus>,
    /// Only this project.
    pub project: Option<String>,
}

/// A held lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The ticket as claimed (with the new fencing token and lease).
    pub ticket: Ticket,
    /// Present this on every write for the ticket.
    pub fencing_token: FencingToken,
    /// When the lease runs out unless renewed.
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_name_their_order() {
        let c = TicketCursor {
            sort: TicketSort::CreatedAsc,
            at_micros: 1_700_000_000_123_456,
            id: TicketId::from("0190aaaa-bbbb-7ccc-8ddd-eeeeffff0000"),
        };
        let s = c.encode();
        assert_eq!(TicketCursor::decode(&s, TicketSort::CreatedAsc).unwrap(), c);
        let other = TicketCursor::decode(&s, TicketSort::CreatedDesc).unwrap_err();
        assert_eq!(other.code(), "invalid");
        for bad in ["", "a", "a12", "a12_", "ax_id", "z1_id"] {
            assert!(
                TicketCursor::decode(bad, TicketSort::CreatedAsc).is_err(),
                "{bad:?}"
            );
        }
    }
}
