//! `FileReservationStore` in memory: all or nothing under the store's lock, with takeover of
//! holders no longer worked on.

use std::collections::BTreeSet;

use async_trait::async_trait;
use foreman_domain::file_reservation::{holder_blocks, normalise_paths};
use foreman_domain::{
    FileReservation, FileReservationOutcome, FileReservationStore, StoreError, StoreResult,
    TicketId,
};

use super::MemoryStore;

#[async_trait]
impl FileReservationStore for MemoryStore {
    async fn try_reserve(
        &self,
        project: &str,
        ticket: &TicketId,
        files: &BTreeSet<String>,
    ) -> StoreResult<FileReservationOutcome> {
        let paths = normalise_paths(files);
        let now = foreman_domain::now();
        let mut s = self.lock();
        let owner = s.ticket(ticket)?;
        if owner.project != project {
            return Err(StoreError::Invalid(format!(
                "ticket {ticket} belongs to project {}, not {project}",
                owner.project
            )));
        }
        for path in &paths {
            if let Some((holder, _)) = s.files.get(&(project.to_owned(), path.clone()))
                && holder != ticket
                && s.tickets.get(holder).is_some_and(|h| holder_blocks(h, now))
            {
                return Ok(FileReservationOutcome::Held {
                    path: path.clone(),
                    holder: holder.clone(),
                });
            }
        }
        for path in paths {
            let held = s
                .files
                .entry((project.to_owned(), path))
                .or_insert_with(|| (ticket.clone(), now));
            if held.0 != *ticket {
                *held = (ticket.clone(), now);
            }
        }
        Ok(FileReservationOutcome::Granted)
    }

    async fn release_files(&self, ticket: &TicketId) -> StoreResult<u64> {
        let mut s = self.lock();
        let before = s.files.len();
        s.files.retain(|_, (holder, _)| holder != ticket);
        Ok((before - s.files.len()) as u64)
    }

    async fn list_reservations(&self, project: Option<&str>) -> StoreResult<Vec<FileReservation>> {
        Ok(self
            .lock()
            .files
            .iter()
            .filter(|((p, _), _)| project.is_none_or(|want| want == p))
            .map(
                |((project, path), (ticket_id, created_at))| FileReservation {
                    project: project.clone(),
                    path: path.clone(),
                    ticket_id: ticket_id.clone(),
                    created_at: *created_at,
                },
            )
            .collect())
    }
}
