//! Following the log: replay from storage, then live delivery, without gaps or duplicates.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use foreman_domain::{Event, EventFilter, EventLog, EventType, StoreResult, TicketId};

use crate::hub::{Delivery, Subscription};

/// How many events one catch-up read fetches from the log.
pub const BACKFILL_PAGE: u32 = 500;

/// Something with a position in the global event log.
pub trait Sequenced {
    /// The event's `seq`.
    fn seq(&self) -> i64;
}

impl Sequenced for Event {
    fn seq(&self) -> i64 {
        self.seq
    }
}

impl<T: Sequenced + ?Sized> Sequenced for Arc<T> {
    fn seq(&self) -> i64 {
        (**self).seq()
    }
}

/// Where a [`Follower`] reads the events it did not receive live.
#[async_trait]
pub trait Backfill<T>: Send + Sync {
    /// Up to `limit` items with `seq > after_seq` that the follower wants, by `seq` ascending.
    async fn after(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<T>>;

    /// The highest committed `seq` of the log (0 when empty).
    async fn latest_seq(&self) -> StoreResult<i64>;
}

/// Reads missed events from an [`EventLog`], optionally for one ticket and some types.
pub struct EventLogBackfill {
    log: Arc<dyn EventLog>,
    ticket_id: Option<TicketId>,
    types: Vec<EventType>,
}

impl fmt::Debug for EventLogBackfill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLogBackfill")
            .field("ticket_id", &self.ticket_id)
            .field("types", &self.types)
            .finish_non_exhaustive()
    }
}

impl EventLogBackfill {
    /// Every event of the log.
    #[must_use]
    pub fn new(log: Arc<dyn EventLog>) -> Self {
        Self {
            log,
            ticket_id: None,
            types: Vec::new(),
        }
    }

    /// Only this ticket's events.
    #[must_use]
    pub fn ticket(mut self, ticket_id: Option<TicketId>) -> Self {
        self.ticket_id = ticket_id;
        self
    }

    /// Only these types (empty: all).
    #[must_use]
    pub fn types(mut self, types: Vec<EventType>) -> Self {
        self.types = types;
        self
    }
}

#[async_trait]
impl Backfill<Arc<Event>> for EventLogBackfill {
    async fn after(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<Arc<Event>>> {
        let filter = EventFilter {
            ticket_id: self.ticket_id.clone(),
            after_seq: Some(after_seq),
            types: self.types.clone(),
            limit,
            offset: 0,
            newest_first: false,
        };
        Ok(self
            .log
            .list_events(&filter)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect())
    }

    async fn latest_seq(&self) -> StoreResult<i64> {
        self.log.latest_seq().await
    }
}

/// What a [`Follower`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowItem<T> {
    /// The next event, in `seq` order.
    Item(T),
    /// The follower fell this many live events behind; the events it had not yet yielded follow
    /// from the log. Reported only when the log had events the follower had not yielded.
    Dropped(u64),
}

type Accept<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

/// A subscription turned into an ordered stream that never skips or repeats an event.
///
/// A follower always knows where it stands in the log: it yields every event after a start
/// `seq`. Events committed before its subscription are read from the log, events published
/// after it arrive live, and live events at or below the last `seq` already yielded are
/// skipped. When the subscriber lags, the follower reports [`FollowItem::Dropped`] and then reads
/// the missed events from the log before going live again.
pub struct Follower<T> {
    sub: Subscription<T>,
    backfill: Arc<dyn Backfill<T>>,
    accept: Accept<T>,
    last_seq: i64,
    backlog: VecDeque<T>,
    catching_up: bool,
    /// Live events skipped since the last catch-up, reported once the log has them.
    pending_drop: u64,
    page: u32,
}

impl<T> fmt::Debug for Follower<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower")
            .field("last_seq", &self.last_seq)
            .field("backlog", &self.backlog.len())
            .field("catching_up", &self.catching_up)
            .finish_non_exhaustive()
    }
}

impl<T: Sequenced + Clone + Send + Sync + 'static> Follower<T> {
    /// Yields every event after `after_seq`: first those in `backfill`, then live ones from
    /// `sub`. Create `sub` before calling this (and before anything the follower must see is
    /// published).
    #[must_use]
    pub fn new(sub: Subscription<T>, backfill: Arc<dyn Backfill<T>>, after_seq: i64) -> Self {
        Self {
            sub,
            backfill,
            accept: Box::new(|_| true),
            last_seq: after_seq.max(0),
            backlog: VecDeque::new(),
            catching_up: true,
            pending_drop: 0,
            page: BACKFILL_PAGE,
        }
    }

    /// Yields every event committed from now on: reads the log's latest `seq`, then subscribes
    /// with `subscribe`, so events committed in between are read from the log rather than lost.
    ///
    /// # Errors
    /// Reading the latest `seq` failed.
    pub async fn from_now(
        subscribe: impl FnOnce() -> Subscription<T>,
        backfill: Arc<dyn Backfill<T>>,
    ) -> StoreResult<Self> {
        let latest = backfill.latest_seq().await?;
        Ok(Self::new(subscribe(), backfill, latest))
    }

    /// Starts after `since_seq` when given, otherwise [`Follower::from_now`].
    ///
    /// # Errors
    /// Reading the latest `seq` failed.
    pub async fn since(
        subscribe: impl FnOnce() -> Subscription<T>,
        backfill: Arc<dyn Backfill<T>>,
        since_seq: Option<i64>,
    ) -> StoreResult<Self> {
        match since_seq {
            Some(seq) => Ok(Self::new(subscribe(), backfill, seq)),
            None => Self::from_now(subscribe, backfill).await,
        }
    }

    /// Yields only live events `accept` approves (the backfill must apply the same filter).
    #[must_use]
    pub fn filter(mut self, accept: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.accept = Box::new(accept);
        self
    }

    /// Reads the log in pages of `page` events (at least 1).
    #[must_use]
    pub fn page_size(mut self, page: u32) -> Self {
        self.page = page.max(1);
        self
    }

    /// The `seq` of the last event yielded or skipped.
    #[must_use]
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// The next item; `Ok(None)` once the hub is gone.
    ///
    /// # Errors
    /// Reading the log failed; the follower can be polled again to retry.
    pub async fn next(&mut self) -> StoreResult<Option<FollowItem<T>>> {
        loop {
            if let Some(item) = self.pop_backlog() {
                return Ok(Some(FollowItem::Item(item)));
            }
            if self.catching_up {
                let page = self.backfill.after(self.last_seq, self.page).await?;
                if page.len() < self.page as usize {
                    self.catching_up = false;
                }
                let found = !page.is_empty();
                self.backlog.extend(page);
                // A lag is worth reporting only if it hid events not yielded yet.
                let dropped = std::mem::take(&mut self.pending_drop);
                if found && dropped > 0 {
                    return Ok(Some(FollowItem::Dropped(dropped)));
                }
                continue;
            }
            let Some(delivery) = self.sub.recv().await else {
                return Ok(None);
            };
            if let Some(item) = self.take(delivery) {
                return Ok(Some(item));
            }
        }
    }

    /// The next item if it is ready without waiting or reading the log.
    pub fn try_next(&mut self) -> Option<FollowItem<T>> {
        loop {
            if let Some(item) = self.pop_backlog() {
                return Some(FollowItem::Item(item));
            }
            if self.catching_up {
                return None;
            }
            let delivery = self.sub.try_recv()?;
            if let Some(item) = self.take(delivery) {
                return Some(item);
            }
            if self.catching_up {
                // Lagged: the log must be read, which needs `next`.
                return None;
            }
        }
    }

    fn pop_backlog(&mut self) -> Option<T> {
        while let Some(item) = self.backlog.pop_front() {
            if item.seq() > self.last_seq {
                self.last_seq = item.seq();
                if (self.accept)(&item) {
                    return Some(item);
                }
            }
        }
        None
    }

    fn take(&mut self, delivery: Delivery<T>) -> Option<FollowItem<T>> {
        match delivery {
            Delivery::Item(item) => {
                if item.seq() <= self.last_seq {
                    return None;
                }
                self.last_seq = item.seq();
                (self.accept)(&item).then_some(FollowItem::Item(item))
            }
            Delivery::Lagged(n) => {
                metrics::counter!("foreman_events_lagged_total").increment(n);
                tracing::debug!(missed = n, last_seq = self.last_seq, "subscriber lagged");
                self.catching_up = true;
                self.pending_drop += n;
                None
            }
        }
    }
}
