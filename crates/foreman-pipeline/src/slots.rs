//! The daemon's execution slots: which ticket each runs, since when, and how many it has
//! finished. The daemon takes a slot for each ticket it starts and the slot is freed when the
//! ticket's run ends, however it ends (the guard is dropped with the run's task). Others read
//! it through the domain's [`WorkerSlots`] port.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use foreman_domain::{SlotSnapshot, TicketId, WorkerSlots};

#[derive(Debug, Clone)]
struct Slot {
    name: String,
    ticket: Option<(TicketId, DateTime<Utc>)>,
    completed: u64,
}

/// The slots of one daemon. Cheap to clone: clones share the slots.
#[derive(Debug, Clone)]
pub struct SlotBoard {
    slots: Arc<Mutex<Vec<Slot>>>,
}

/// A slot held by a running ticket; dropping it frees the slot and counts the ticket.
#[derive(Debug)]
pub struct SlotGuard {
    slots: Arc<Mutex<Vec<Slot>>>,
    index: usize,
}

impl SlotBoard {
    /// `count` free slots named `<worker_id>/slot-<n>` (1-based).
    #[must_use]
    pub fn new(worker_id: &str, count: usize) -> Self {
        let slots = (1..=count)
            .map(|n| Slot {
                name: format!("{worker_id}/slot-{n}"),
                ticket: None,
                completed: 0,
            })
            .collect();
        Self {
            slots: Arc::new(Mutex::new(slots)),
        }
    }

    /// Takes the first free slot for `ticket` (a slot is added should every one be busy, which
    /// the daemon's own limit prevents).
    #[must_use]
    pub fn take(&self, ticket: &TicketId) -> SlotGuard {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let held = Some((ticket.clone(), foreman_domain::now()));
        let index = if let Some(i) = slots.iter().position(|s| s.ticket.is_none()) {
            slots[i].ticket = held;
            i
        } else {
            let name = match slots.first() {
                Some(first) => {
                    let prefix = first.name.rsplit_once("/slot-").map_or("", |(p, _)| p);
                    format!("{prefix}/slot-{}", slots.len() + 1)
                }
                None => format!("slot-{}", slots.len() + 1),
            };
            slots.push(Slot {
                name,
                ticket: held,
                completed: 0,
            });
            slots.len() - 1
        };
        SlotGuard {
            slots: self.slots.clone(),
            index,
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get_mut(self.index) {
            slot.ticket = None;
            slot.completed += 1;
        }
    }
}

impl WorkerSlots for SlotBoard {
    fn snapshot(&self) -> Vec<SlotSnapshot> {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|s| SlotSnapshot {
                name: s.name.clone(),
                ticket_id: s.ticket.as_ref().map(|(t, _)| t.clone()),
                started_at: s.ticket.as_ref().map(|(_, at)| *at),
                completed: s.completed,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_in_order_and_freed_with_their_guard() {
        let board = SlotBoard::new("node", 2);
        let a = TicketId::from("a");
        let b = TicketId::from("b");
        let ga = board.take(&a);
        let gb = board.take(&b);
        let s = board.snapshot();
        assert_eq!(s[0].name, "node/slot-1");
        assert_eq!(s[0].ticket_id.as_ref(), Some(&a));
        assert_eq!(s[1].ticket_id.as_ref(), Some(&b));
        assert!(s.iter().all(|s| s.busy() && s.started_at.is_some()));
        drop(ga);
        let s = board.snapshot();
        assert!(!s[0].busy() && s[0].completed == 1 && s[0].started_at.is_none());
        let c = TicketId::from("c");
        let _gc = board.take(&c);
        assert_eq!(
            board.snapshot()[0].ticket_id.as_ref(),
            Some(&c),
            "the free slot is reused"
        );
        let _gd = board.take(&TicketId::from("d"));
        let s = board.snapshot();
        assert_eq!(s.len(), 3);
        assert_eq!(s[2].name, "node/slot-3");
        drop(gb);
        assert_eq!(board.snapshot()[1].completed, 1);
    }
}
