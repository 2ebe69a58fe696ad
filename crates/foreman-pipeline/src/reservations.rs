//! File reservations: two tickets of one project never edit the same files at once. A ticket
//! reserves the files its plan will modify before its tasks start; a ticket whose files are
//! held waits (with a `task_waiting_for_files` event) until the holder's run ends.
//!
//! The registry lives in the daemon's process: it serialises the tickets one node works on.
//! Nodes sharing a database do not see each other's reservations; their overlapping changes
//! meet at merge time, where conflict resolution takes over.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use foreman_domain::TicketId;

/// Held reservations, by project and path.
#[derive(Debug, Default)]
pub struct FileReservations {
    held: Mutex<HashMap<(String, String), TicketId>>,
}

impl FileReservations {
    /// Reserves every path in `files` for `ticket`, or none: when another ticket holds one of
    /// them, returns that path and its holder. Paths the ticket already holds are fine.
    ///
    /// # Errors
    /// `(path, holder)` of the first path held by another ticket.
    pub fn try_reserve(
        &self,
        project: &str,
        ticket: &TicketId,
        files: &BTreeSet<String>,
    ) -> Result<(), (String, TicketId)> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for f in files {
            if let Some(holder) = held.get(&(project.to_owned(), normalise(f)))
                && holder != ticket
            {
                return Err((f.clone(), holder.clone()));
            }
        }
        for f in files {
            held.insert((project.to_owned(), normalise(f)), ticket.clone());
        }
        Ok(())
    }

    /// Releases everything `ticket` holds.
    pub fn release(&self, ticket: &TicketId) {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, holder| holder != ticket);
    }

    /// How many paths are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn normalise(path: &str) -> String {
    path.trim().trim_start_matches("./").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn overlapping_tickets_wait_and_disjoint_ones_do_not() {
        let r = FileReservations::default();
        let (a, b, c) = (TicketId::new(), TicketId::new(), TicketId::new());
        r.try_reserve("p", &a, &set(&["calc.py", "tests/t.py"]))
            .unwrap();
        let err = r
            .try_reserve("p", &b, &set(&["./calc.py", "x.py"]))
            .unwrap_err();
        assert_eq!(err, ("./calc.py".to_owned(), a.clone()));
        // all or nothing: b holds nothing after the refusal
        r.try_reserve("p", &c, &set(&["x.py"])).unwrap();
        // another project is independent; a holder may reserve again
        r.try_reserve("q", &b, &set(&["calc.py"])).unwrap();
        r.try_reserve("p", &a, &set(&["calc.py"])).unwrap();
        r.release(&a);
        r.try_reserve("p", &b, &set(&["calc.py"])).unwrap();
        assert_eq!(r.len(), 3);
    }
}
