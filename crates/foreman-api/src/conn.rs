//! The connections a server is serving, for its connection cap and keep-alive timeout: which
//! are open (oldest first), which have a request in flight (a response still being written, or
//! an upgraded WebSocket), and since when the others are idle.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use hyper::body::{Frame, SizeHint};
use tokio::sync::Notify;

/// The connections being served, oldest first.
#[derive(Debug)]
pub(crate) struct Tracker {
    max: usize,
    started: Instant,
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Slot>>>,
}

/// What the server knows of one connection.
#[derive(Debug)]
pub(crate) struct Slot {
    id: u64,
    /// Requests whose response has not been written completely, and upgraded WebSockets.
    in_flight: AtomicUsize,
    /// Whether a response has been written: before that only the header-read timeout applies.
    answered: AtomicBool,
    /// When the last response was written, in ms since the tracker started.
    idle_since_ms: AtomicU64,
    started: Instant,
    /// Woken when the connection must close to make room for a new one.
    pub(crate) evict: Notify,
}

impl Slot {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// `None` when the connection has been idle after a response for `keep_alive` or longer,
    /// else how long to wait before looking again.
    pub(crate) fn idle_for(&self, keep_alive: Duration) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 || !self.answered.load(Ordering::Acquire) {
            return Some(keep_alive);
        }
        let idle = Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.idle_since_ms.load(Ordering::Acquire)),
        );
        keep_alive.checked_sub(idle).filter(|d| !d.is_zero())
    }
}

impl Tracker {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            started: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
        }
    }

    /// A place for a new connection: free, or taken from the longest-open idle connection
    /// (which is told to close); `None` when every connection is busy.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Arc<Permit>> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.max > 0 && open.len() >= self.max {
            let idle = open
                .iter()
                .find(|(_, slot)| slot.in_flight.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)?;
            if let Some(slot) = open.remove(&idle) {
                slot.evict.notify_one();
            }
        }
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            in_flight: AtomicUsize::new(0),
            answered: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(0),
            started: self.started,
            evict: Notify::new(),
        });
        open.insert(slot.id, slot.clone());
        Some(Arc::new(Permit {
            slot,
            tracker: self.clone(),
        }))
    }
}

/// A connection's place under the cap, released when the connection (and any WebSocket
/// upgraded from it) is gone.
#[derive(Debug)]
pub(crate) struct Permit {
    pub(crate) slot: Arc<Slot>,
    tracker: Arc<Tracker>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.tracker
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.slot.id);
    }
}

/// The connection a request came on, as a request extension: a WebSocket keeps it (and
/// [`ConnectionLease::busy`]) for as long as it runs, so it counts under the cap and is never
/// taken as idle.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionLease(pub(crate) Arc<Permit>);

impl ConnectionLease {
    /// Marks the connection busy until the guard is dropped.
    pub fn busy(&self) -> Busy {
        Busy::new(&self.0)
    }
}

/// A request (or upgraded WebSocket) in flight on a connection.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Permit>);

impl Busy {
    pub(crate) fn new(permit: &Arc<Permit>) -> Self {
        permit.slot.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(permit.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let slot = &self.0.slot;
        slot.idle_since_ms.store(slot.now_ms(), Ordering::Release);
        slot.answered.store(true, Ordering::Release);
        slot.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection busy until it has been written (or dropped).
pub(crate) struct Tracked {
    pub(crate) body: Body,
    pub(crate) _busy: Busy,
}

impl hyper::body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy_all(permits: &[Arc<Permit>]) -> Vec<Busy> {
        permits.iter().map(Busy::new).collect()
    }

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room() {
        let tracker = Arc::new(Tracker::new(3));
        let permits: Vec<_> = (0..3).map(|_| tracker.admit().unwrap()).collect();
        // every connection busy: no room
        let busy = busy_all(&permits);
        assert!(tracker.admit().is_none());
        // the second goes idle: it is the one taken
        drop(busy);
        let _busy0 = Busy::new(&permits[0]);
        let _busy2 = Busy::new(&permits[2]);
        let fourth = tracker.admit().expect("room made");
        let open: Vec<u64> = tracker.open.lock().unwrap().keys().copied().collect();
        assert_eq!(
            open,
            [permits[0].slot.id, permits[2].slot.id, fourth.slot.id]
        );
        // a closed connection frees its place
        drop(fourth);
        assert_eq!(tracker.open.lock().unwrap().len(), 2);
        // control: without a cap nothing is ever refused or taken
        let unlimited = Arc::new(Tracker::new(0));
        let all: Vec<_> = (0..100).map(|_| unlimited.admit().unwrap()).collect();
        assert_eq!(unlimited.open.lock().unwrap().len(), all.len());
    }

    #[test]
    fn keep_alive_counts_from_the_last_response() {
        let tracker = Arc::new(Tracker::new(0));
        let permit = tracker.admit().unwrap();
        let ka = Duration::from_secs(5);
        // never answered: only the header-read timeout applies
        assert_eq!(permit.slot.idle_for(ka), Some(ka));
        drop(Busy::new(&permit));
        assert!(permit.slot.idle_for(ka).is_some());
    }
}
