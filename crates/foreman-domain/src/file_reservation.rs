//! File reservations: two tickets of one project never change the same files at once.
//!
//! Before its tasks start, a ticket reserves every file its open tasks' plans name, all or
//! nothing. The reservations live in the store, so every node sharing a database sees them.
//! A holder blocks others only while it is being worked on ([`holder_blocks`]: a live lease
//! in a working status); the rows of a ticket whose run crashed or ended without releasing are
//! taken over by the next ticket that asks, so a dead node never blocks a file for ever.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::ids::TicketId;
use crate::ticket::Ticket;

/// One reserved path, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReservation {
    /// The project whose repository the path belongs to.
    pub project: String,
    /// The path, normalised by [`normalise_path`].
    pub path: String,
    /// The holder.
    pub ticket_id: TicketId,
    /// When the holder reserved (or took over) the path.
    pub created_at: DateTime<Utc>,
}

/// What [`FileReservationStore::try_reserve`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FileReservationOutcome {
    /// Every path is now held by the ticket.
    Granted,
    /// Nothing was reserved: `path` (normalised) is held by `holder`, which is still being
    /// worked on.
    Held {
        /// The first such path, in path order.
        path: String,
        /// The ticket holding it.
        holder: TicketId,
    },
}

/// The form a path is reserved under: surrounding whitespace and leading `./` removed, so
/// `./src/lib.rs` and `src/lib.rs` are one file.
#[must_use]
pub fn normalise_path(path: &str) -> String {
    let mut p = path.trim();
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.to_owned()
}

/// The normalised paths of `files`, without duplicates and without paths that normalise to
/// nothing.
#[must_use]
pub fn normalise_paths<'a>(files: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    files
        .into_iter()
        .map(|f| normalise_path(f))
        .filter(|p| !p.is_empty())
        .collect()
}

/// Whether the reservations of `holder` still keep other tickets out at `now`: its lease is
/// held and unexpired, and it is in a status the daemon works in
/// ([`crate::TicketStatus::is_active`]). A terminal or waiting ticket, or one whose lease was
/// released or expired (a crashed node), blocks nothing.
#[must_use]
pub fn holder_blocks(holder: &Ticket, now: DateTime<Utc>) -> bool {
    holder.status.is_active()
        && holder.lease_owner.is_some()
        && holder.lease_expires_at.is_some_and(|e| e > now)
}

/// File reservations shared by every node using the store.
#[async_trait]
pub trait FileReservationStore: Send + Sync {
    /// Reserves every path of `files` (normalised by [`normalise_path`]) in `project` for
    /// `ticket`, or none, in one transaction. Paths the ticket already holds are fine; a path
    /// held by a ticket that [`holder_blocks`] refuses the whole request with
    /// [`FileReservationOutcome::Held`]; paths held by any other ticket are taken over.
    /// [`crate::StoreError::NotFound`] for an unknown ticket, [`crate::StoreError::Invalid`]
    /// when `project` is not the ticket's. Correct under concurrency: of two tickets asking for
    /// the same path at once, at most one is granted it while the other is worked on.
    async fn try_reserve(
        &self,
        project: &str,
        ticket: &TicketId,
        files: &BTreeSet<String>,
    ) -> StoreResult<FileReservationOutcome>;

    /// Releases everything `ticket` holds; returns how many paths that was.
    async fn release_files(&self, ticket: &TicketId) -> StoreResult<u64>;

    /// Stored reservations (of one project, or all), by project and path. Rows of holders
    /// that no longer block are listed until they are released or taken over.
    async fn list_reservations(&self, project: Option<&str>) -> StoreResult<Vec<FileReservation>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewTicket, TicketStatus};

    #[test]
    fn paths_normalise_to_one_spelling() {
        assert_eq!(normalise_path(" ./src/lib.rs "), "src/lib.rs");
        assert_eq!(normalise_path("././a.py"), "a.py");
        assert_eq!(normalise_path("a/./b.py"), "a/./b.py");
        let files = ["./calc.py", "calc.py", " ", "./", "tests/t.py"].map(String::from);
        let set = normalise_paths(&files);
        assert_eq!(
            set.into_iter().collect::<Vec<_>>(),
            ["calc.py", "tests/t.py"]
        );
    }

    #[test]
    fn only_a_live_lease_in_a_working_status_blocks() {
        let now = crate::now();
        let new = NewTicket {
            external_id: "X-1".into(),
            title: "t".into(),
            ..NewTicket::default()
        };
        let mut t = Ticket::from_new(TicketId::new(), "p".into(), new, now);
        t.status = TicketStatus::Implementing;
        assert!(!holder_blocks(&t, now), "no lease");
        t.lease_owner = Some("node".into());
        t.lease_expires_at = Some(now + chrono::Duration::seconds(30));
        assert!(holder_blocks(&t, now));
        assert!(
            !holder_blocks(&t, now + chrono::Duration::seconds(30)),
            "expired"
        );
        for status in [
            TicketStatus::AwaitingMerge,
            TicketStatus::Failed,
            TicketStatus::Queued,
        ] {
            t.status = status;
            assert!(!holder_blocks(&t, now), "{status}");
        }
        t.status = TicketStatus::Reviewing;
        assert!(holder_blocks(&t, now));
    }
}
