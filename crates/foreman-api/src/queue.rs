//! Where queued tickets stand: one [`QueueSnapshot`] of the store per ticket generation, at
//! most [`FRESH_FOR`] old, shared by every request that renders a queued ticket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use foreman_domain::ticket_submission::estimate_start;
use foreman_domain::{QueueSnapshot, Store, TicketId};

use crate::dto::QueueEntry;
use crate::error::ApiResult;

/// How long a snapshot (and a response rendered from it) is served while no ticket changes
/// before the store is asked again (the number of tickets under a live lease can change
/// without a write).
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(1);

/// The queue as of one moment.
#[derive(Debug)]
pub(crate) struct QueueView {
    positions: HashMap<TicketId, usize>,
    snapshot: QueueSnapshot,
    slots: usize,
    generation: Option<u64>,
    at: DateTime<Utc>,
    taken: Instant,
}

impl QueueView {
    /// Where `id` stands; `None` when it is not queued.
    pub(crate) fn entry(&self, id: &TicketId) -> Option<QueueEntry> {
        let position = *self.positions.get(id)?;
        Some(QueueEntry {
            position: u32::try_from(position).unwrap_or(u32::MAX),
            estimated_start: estimate_start(
                position,
                self.slots,
                self.snapshot.running,
                self.snapshot.mean_duration,
                self.at,
            ),
        })
    }

    /// Whether a response rendered from this view may still be served.
    pub(crate) fn is_fresh(&self) -> bool {
        self.taken.elapsed() < FRESH_FOR
    }
}

/// The latest [`QueueView`].
#[derive(Debug, Default)]
pub(crate) struct QueueCache {
    latest: Mutex<Option<Arc<QueueView>>>,
    /// One request at a time asks the store again; the others wait for its view instead of
    /// each taking a snapshot (every connection's request at once, when a view goes stale).
    refresh: tokio::sync::Mutex<()>,
}

impl QueueCache {
    /// The queue at `generation` (the store's ticket generation read before the tickets being
    /// rendered), read again when the store moved, it cannot tell, or the view is stale.
    pub(crate) async fn view(
        &self,
        store: &dyn Store,
        slots: usize,
        generation: Option<u64>,
    ) -> ApiResult<Arc<QueueView>> {
        let current = |known: &Option<Arc<QueueView>>| {
            known
                .as_ref()
                .filter(|v| generation.is_some() && v.generation == generation && v.is_fresh())
                .cloned()
        };
        let latest = || {
            self.latest
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        };
        if let Some(v) = current(&latest()) {
            return Ok(v);
        }
        let _turn = self.refresh.lock().await;
        // a request that had the turn before may have taken the view this one needs
        let known = latest();
        if let Some(v) = current(&known) {
            return Ok(v);
        }
        let snapshot = store.queue_snapshot().await?;
        // Estimates count from the moment the queue took its present shape, not from each
        // request: while nothing changes they stay put, and so do the bodies and their ETags
        // (a store that reports no generation is compared by its snapshot).
        let at = known
            .as_ref()
            .filter(|v| v.snapshot == snapshot && v.slots == slots)
            .map_or_else(foreman_domain::now, |v| v.at);
        let positions = snapshot
            .queued
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i + 1))
            .collect();
        let view = Arc::new(QueueView {
            positions,
            snapshot,
            slots,
            generation,
            at,
            taken: Instant::now(),
        });
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(view.clone());
        Ok(view)
    }
}
