//! Live events for WebSocket and SSE clients.
//!
//! One relay task follows the [`EventHub`], enriches each event with its ticket's title and
//! submitter (from a small cache, so the store is asked once per ticket, not per event and
//! subscriber), serialises it once, keeps it in a ring of recent events and rebroadcasts the
//! JSON. Each client follows that rebroadcast with its own [`Follower`]: replay after
//! `since_seq`, then live, without gaps or duplicates, and a catch-up when it lags. Catch-ups
//! within the ring are served from memory, already enriched and serialised, so a thousand
//! lagging clients do not each read and enrich the same events from the log; older ranges are
//! read from the log.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Bytes;
use foreman_domain::{Event, EventLog, EventType, Store, StoreResult, TicketId, TicketStore};
use foreman_events::{
    Backfill, Broadcast, EventHub, EventLogBackfill, FollowItem, Follower, Sequenced, Subscription,
    TypeFilter,
};
use futures::StreamExt;

use crate::dto::LiveEventDto;

/// How long a cached ticket title and submitter are trusted.
const TICKET_CACHE_TTL: Duration = Duration::from_secs(30);
/// Cached tickets before the cache starts over.
const TICKET_CACHE_MAX: usize = 10_000;
/// Ticket lookups in flight at once when a burst of events names many uncached tickets.
const WARM_CONCURRENCY: usize = 16;
/// Events the relay takes at once: their tickets are looked up together.
const RELAY_BATCH: usize = 1024;

/// An enriched, serialised event ready to send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LiveEvent {
    pub seq: i64,
    pub ticket_id: Option<TicketId>,
    pub event_type: EventType,
    pub json: Arc<str>,
    /// The JSON as a complete WebSocket text frame, encoded once for every subscriber.
    pub frame: Bytes,
}

impl Sequenced for LiveEvent {
    fn seq(&self) -> i64 {
        self.seq
    }
}

/// A ticket's title and submitter, for enrichment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TicketInfo {
    pub title: Option<String>,
    pub submitter: Option<String>,
}

/// Ticket lookups shared by the relay, replays and the global feed.
pub(crate) struct TicketCache {
    store: Arc<dyn TicketStore>,
    entries: Mutex<HashMap<TicketId, (TicketInfo, Instant)>>,
}

impl fmt::Debug for TicketCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketCache").finish_non_exhaustive()
    }
}

impl TicketCache {
    pub fn new(store: Arc<dyn TicketStore>) -> Self {
        Self {
            store,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, id: &TicketId) -> Option<TicketInfo> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(id)
            .filter(|(_, at)| at.elapsed() < TICKET_CACHE_TTL)
            .map(|(info, _)| info.clone())
    }

    /// The ticket's title and submitter; empty when it does not exist (any more).
    pub async fn get(&self, id: &TicketId) -> StoreResult<TicketInfo> {
        if let Some(info) = self.cached(id) {
            return Ok(info);
        }
        let info = self
            .store
            .get_ticket(id)
            .await?
            .map(|t| TicketInfo {
                title: Some(t.title),
                submitter: t.submitter,
            })
            .unwrap_or_default();
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= TICKET_CACHE_MAX {
            entries.clear();
        }
        entries.insert(id.clone(), (info.clone(), Instant::now()));
        Ok(info)
    }

    /// Looks up, a few at a time, the tickets of `ids` not cached yet, so that enriching a burst
    /// of events about many tickets waits for the slowest lookup, not for their sum. Failures
    /// are left for [`TicketCache::enrich`] to report.
    pub async fn warm(&self, mut ids: Vec<TicketId>) {
        ids.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        ids.dedup();
        ids.retain(|id| self.cached(id).is_none());
        futures::stream::iter(ids)
            .map(|id| async move {
                let _ = self.get(&id).await;
            })
            .buffer_unordered(WARM_CONCURRENCY)
            .collect::<()>()
            .await;
    }

    /// Drops a ticket (after it changed or was deleted).
    pub fn forget(&self, id: &TicketId) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }

    /// Enriches and serialises one event.
    pub async fn enrich(&self, event: &Event) -> StoreResult<LiveEvent> {
        if matches!(
            event.event_type,
            EventType::TicketDeleted | EventType::TicketCreated
        ) && let Some(id) = &event.ticket_id
        {
            self.forget(id);
        }
        let info = match &event.ticket_id {
            Some(id) => self.get(id).await?,
            None => TicketInfo::default(),
        };
        let dto = LiveEventDto::from_event(event, info.title, info.submitter);
        let json = serde_json::to_string(&dto).unwrap_or_else(|_| "{}".to_owned());
        Ok(LiveEvent {
            seq: event.seq,
            ticket_id: event.ticket_id.clone(),
            event_type: event.event_type,
            frame: crate::ws::frame(crate::ws::opcode::TEXT, json.as_bytes()),
            json: Arc::from(json),
        })
    }
}

/// How many recent events the ring keeps, per event a subscriber may buffer.
const RECENT_PER_BUFFERED: usize = 4;

/// The most recent relayed events, oldest first, with consecutive `seq`s: the range a lagging
/// subscriber catches up from without reading the log.
#[derive(Debug)]
pub(crate) struct Recent {
    events: Mutex<VecDeque<Arc<LiveEvent>>>,
    capacity: usize,
}

impl Recent {
    pub fn new(capacity: usize) -> Self {
        Self {
            events: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<LiveEvent>>> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends the next relayed event. An event that does not directly follow the newest one
    /// (events appended by another process never reach the hub) starts the ring over, so the
    /// ring never hides a gap.
    pub fn push(&self, event: Arc<LiveEvent>) {
        let mut events = self.lock();
        // a deleted ticket's events are gone from the log: the ring must not serve them
        if events.back().is_some_and(|last| event.seq != last.seq + 1)
            || event.event_type == EventType::TicketDeleted
        {
            events.clear();
        }
        if events.len() >= self.capacity {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// The newest events that `accept` takes, newest first, after skipping `offset` of them,
    /// with the newest `seq` the ring holds; `None` when the ring cannot tell: it is empty, or
    /// it ran out before `offset + limit` while the log may hold older events than the ring.
    pub fn newest(
        &self,
        offset: usize,
        limit: usize,
        accept: impl Fn(&LiveEvent) -> bool,
    ) -> Option<(i64, Vec<Arc<LiveEvent>>)> {
        let events = self.lock();
        let newest = events.back()?.seq;
        let first = events.front()?.seq;
        let page: Vec<Arc<LiveEvent>> = events
            .iter()
            .rev()
            .filter(|e| accept(e))
            .skip(offset)
            .take(limit)
            .cloned()
            .collect();
        (page.len() == limit || first <= 1).then_some((newest, page))
    }

    /// Up to `limit` events with `seq > after_seq` that `accept` takes, by `seq` ascending, when
    /// the ring holds every event after `after_seq`; `None` when some are older than the ring.
    /// Fewer than `limit` means the ring had no more: later events are still to be relayed.
    pub fn after(
        &self,
        after_seq: i64,
        limit: usize,
        accept: impl Fn(&LiveEvent) -> bool,
    ) -> Option<Vec<Arc<LiveEvent>>> {
        let events = self.lock();
        let first = events.front()?.seq;
        if after_seq < first - 1 {
            return None;
        }
        let skip = usize::try_from(after_seq + 1 - first).unwrap_or(usize::MAX);
        Some(
            events
                .iter()
                .skip(skip)
                .filter(|e| accept(e))
                .take(limit)
                .cloned()
                .collect(),
        )
    }
}

/// Ticket channels kept before those without subscribers are swept.
const TICKET_CHANNELS_SWEEP: usize = 1024;

/// Where enriched events go: one channel for subscribers of every ticket, and one per ticket
/// that someone follows, so a client watching one ticket is woken only for that ticket's
/// events instead of for every event of every ticket.
#[derive(Debug)]
pub(crate) struct Channels {
    all: Broadcast<Arc<LiveEvent>>,
    by_ticket: Mutex<HashMap<TicketId, Broadcast<Arc<LiveEvent>>>>,
    buffer: usize,
}

impl Channels {
    fn new(buffer: usize) -> Self {
        Self {
            all: Broadcast::new(buffer),
            by_ticket: Mutex::new(HashMap::new()),
            buffer,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TicketId, Broadcast<Arc<LiveEvent>>>> {
        self.by_ticket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends to the subscribers of every ticket and to those of the event's ticket, never
    /// waiting.
    fn send(&self, event: Arc<LiveEvent>) {
        if let Some(id) = &event.ticket_id {
            let mut by_ticket = self.lock();
            if let Some(channel) = by_ticket.get(id)
                && channel.send(event.clone()) == 0
            {
                by_ticket.remove(id);
            }
        }
        self.all.send(event);
    }

    /// A subscription to one ticket's events, or to every event.
    fn subscribe(&self, ticket: Option<&TicketId>) -> Subscription<Arc<LiveEvent>> {
        let Some(id) = ticket else {
            return self.all.subscribe();
        };
        let mut by_ticket = self.lock();
        if by_ticket.len() >= TICKET_CHANNELS_SWEEP {
            by_ticket.retain(|_, c| c.subscriber_count() > 0);
        }
        by_ticket
            .entry(id.clone())
            .or_insert_with(|| Broadcast::new(self.buffer))
            .subscribe()
    }
}

/// The live feed: the hub, the rebroadcast of enriched events and the relay between them.
pub(crate) struct Live {
    store: Arc<dyn Store>,
    hub: EventHub,
    channels: Arc<Channels>,
    recent: Arc<Recent>,
    pub cache: Arc<TicketCache>,
    relay: OnceLock<()>,
    /// True once the relay is subscribed to the hub; clients wait for it so that nothing
    /// committed after they connect can slip between the relay's start and theirs.
    relay_ready: tokio::sync::watch::Sender<bool>,
}

impl fmt::Debug for Live {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live")
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

/// Which events a client wants, and from where.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveFilter {
    pub ticket_id: Option<TicketId>,
    pub types: TypeFilter,
    pub since_seq: Option<i64>,
}

impl Live {
    pub fn new(store: Arc<dyn Store>, hub: EventHub, buffer: usize) -> Arc<Self> {
        let tickets: Arc<dyn TicketStore> = store.clone();
        let live = Arc::new(Self {
            store,
            hub,
            channels: Arc::new(Channels::new(buffer)),
            recent: Arc::new(Recent::new(
                buffer.max(1).saturating_mul(RECENT_PER_BUFFERED),
            )),
            cache: Arc::new(TicketCache::new(tickets)),
            relay: OnceLock::new(),
            relay_ready: tokio::sync::watch::Sender::new(false),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            live.start_relay();
        }
        live
    }

    /// Starts the relay once (needs a Tokio runtime).
    fn start_relay(&self) {
        self.relay.get_or_init(|| {
            let log: Arc<dyn EventLog> = self.store.clone();
            let backfill = Arc::new(EventLogBackfill::new(log));
            let hub = self.hub.clone();
            let channels = self.channels.clone();
            let recent = self.recent.clone();
            let cache = self.cache.clone();
            let ready = self.relay_ready.clone();
            tokio::spawn(async move {
                // The relay must not keep the hub alive, or it would never stop: it holds only
                // its subscription once started.
                let mut follower = loop {
                    let hub = hub.clone();
                    match Follower::from_now(move || hub.subscribe(), backfill.clone()).await {
                        Ok(f) => break f,
                        Err(e) => {
                            tracing::warn!(error = %e, "live relay could not read the event log; retrying");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                };
                drop(hub);
                ready.send_replace(true);
                loop {
                    match follower.next().await {
                        Ok(Some(first)) => {
                            let mut batch = vec![first];
                            while batch.len() < RELAY_BATCH
                                && let Some(item) = follower.try_next()
                            {
                                batch.push(item);
                            }
                            let tickets = batch
                                .iter()
                                .filter_map(|item| match item {
                                    FollowItem::Item(e) => e.ticket_id.clone(),
                                    FollowItem::Dropped(_) => None,
                                })
                                .collect();
                            cache.warm(tickets).await;
                            for item in batch {
                                relay(&cache, &recent, &channels, item).await;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "live relay could not read the log; retrying");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
                tracing::debug!("live relay stopped: the hub is gone");
            });
        });
    }

    /// The ring of recently relayed events.
    pub fn recent(&self) -> &Recent {
        &self.recent
    }

    /// A follower for one client: every event after `since_seq`, or from now on.
    pub async fn follow(&self, filter: LiveFilter) -> StoreResult<Follower<Arc<LiveEvent>>> {
        self.start_relay();
        let _ = self.relay_ready.subscribe().wait_for(|r| *r).await;
        let channels = self.channels.clone();
        let backfill = Arc::new(LiveBackfill {
            log: self.store.clone(),
            cache: self.cache.clone(),
            recent: self.recent.clone(),
            ticket_id: filter.ticket_id.clone(),
            types: filter.types.clone(),
        });
        let LiveFilter {
            ticket_id, types, ..
        } = filter.clone();
        // The relay puts an event into the ring before it sends it, and looks up the ticket's
        // channel under the same lock as this subscription: whatever this follower does not
        // receive live, the ring (or the log) has.
        let ticket = filter.ticket_id.clone();
        let follower = Follower::since(
            move || channels.subscribe(ticket.as_ref()),
            backfill,
            filter.since_seq,
        )
        .await?;
        Ok(follower.filter(move |e: &Arc<LiveEvent>| {
            ticket_id
                .as_ref()
                .is_none_or(|t| e.ticket_id.as_ref() == Some(t))
                && types.matches(e.event_type)
        }))
    }
}

/// Enriches one event and hands it to the ring and to every subscriber.
async fn relay(
    cache: &TicketCache,
    recent: &Recent,
    channels: &Channels,
    item: FollowItem<Arc<Event>>,
) {
    match item {
        FollowItem::Item(event) => match cache.enrich(&event).await {
            Ok(live) => {
                let live = Arc::new(live);
                // Into the ring first: a subscriber that misses the send below finds it there.
                recent.push(live.clone());
                channels.send(live);
            }
            Err(e) => {
                tracing::warn!(seq = event.seq, error = %e, "could not enrich live event");
            }
        },
        FollowItem::Dropped(n) => {
            tracing::warn!(missed = n, "live relay lagged; catching up from the log");
        }
    }
}

/// Replays enriched events: from the ring of recent events when it covers the range, else
/// from the log.
struct LiveBackfill {
    log: Arc<dyn Store>,
    cache: Arc<TicketCache>,
    recent: Arc<Recent>,
    ticket_id: Option<TicketId>,
    types: TypeFilter,
}

impl LiveBackfill {
    fn wants(&self, e: &LiveEvent) -> bool {
        self.ticket_id
            .as_ref()
            .is_none_or(|t| e.ticket_id.as_ref() == Some(t))
            && self.types.matches(e.event_type)
    }
}

#[async_trait]
impl Backfill<Arc<LiveEvent>> for LiveBackfill {
    async fn after(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<Arc<LiveEvent>>> {
        let max = usize::try_from(limit).unwrap_or(usize::MAX);
        if let Some(events) = self.recent.after(after_seq, max, |e| self.wants(e)) {
            return Ok(events);
        }
        let log: Arc<dyn EventLog> = self.log.clone();
        let raw = EventLogBackfill::new(log)
            .ticket(self.ticket_id.clone())
            .types(self.types.to_vec())
            .after(after_seq, limit)
            .await?;
        self.cache
            .warm(raw.iter().filter_map(|e| e.ticket_id.clone()).collect())
            .await;
        let mut out = Vec::with_capacity(raw.len());
        for event in raw {
            out.push(Arc::new(self.cache.enrich(&event).await?));
        }
        Ok(out)
    }

    async fn latest_seq(&self) -> StoreResult<i64> {
        self.log.latest_seq().await
    }
}

/// The message a lagging client receives before the missed events are replayed.
pub(crate) fn dropped_message(count: u64) -> String {
    serde_json::json!({ "event_type": "events_dropped", "count": count }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, ticket: &str) -> Arc<LiveEvent> {
        let json = format!("{{\"seq\":{seq}}}");
        Arc::new(LiveEvent {
            seq,
            ticket_id: Some(TicketId::from(ticket)),
            event_type: EventType::AgentTurn,
            frame: crate::ws::frame(crate::ws::opcode::TEXT, json.as_bytes()),
            json: Arc::from(json),
        })
    }

    fn seqs(events: &[Arc<LiveEvent>]) -> Vec<i64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn the_ring_serves_what_follows_a_seq_it_covers() {
        let ring = Recent::new(8);
        assert_eq!(ring.after(0, 10, |_| true), None, "empty: read the log");
        for seq in 10..=15 {
            ring.push(event(seq, if seq % 2 == 0 { "a" } else { "b" }));
        }
        assert_eq!(
            seqs(&ring.after(9, 10, |_| true).unwrap()),
            [10, 11, 12, 13, 14, 15]
        );
        assert_eq!(seqs(&ring.after(12, 10, |_| true).unwrap()), [13, 14, 15]);
        assert_eq!(
            seqs(&ring.after(9, 2, |_| true).unwrap()),
            [10, 11],
            "limit"
        );
        let only_a = |e: &LiveEvent| e.ticket_id.as_ref().is_some_and(|t| t.as_str() == "a");
        assert_eq!(seqs(&ring.after(9, 10, only_a).unwrap()), [10, 12, 14]);
        assert!(
            ring.after(15, 10, |_| true).unwrap().is_empty(),
            "caught up"
        );
        assert!(
            ring.after(40, 10, |_| true).unwrap().is_empty(),
            "not relayed yet"
        );
        assert_eq!(
            ring.after(8, 10, |_| true),
            None,
            "seq 9 is older than the ring"
        );
    }

    #[test]
    fn the_ring_answers_the_newest_page_only_when_it_holds_it() {
        let ring = Recent::new(8);
        assert_eq!(ring.newest(0, 5, |_| true), None, "empty");
        for seq in 1..=6 {
            ring.push(event(seq, if seq % 2 == 0 { "a" } else { "b" }));
        }
        let page = |r: Option<(i64, Vec<Arc<LiveEvent>>)>| r.map(|(n, p)| (n, seqs(&p)));
        assert_eq!(page(ring.newest(0, 3, |_| true)), Some((6, vec![6, 5, 4])));
        assert_eq!(page(ring.newest(2, 3, |_| true)), Some((6, vec![4, 3, 2])));
        let only_a = |e: &LiveEvent| e.ticket_id.as_ref().is_some_and(|t| t.as_str() == "a");
        assert_eq!(page(ring.newest(0, 2, only_a)), Some((6, vec![6, 4])));
        // the ring starts at seq 1, so it holds the whole log: a short page is the whole answer
        assert_eq!(page(ring.newest(0, 50, only_a)), Some((6, vec![6, 4, 2])));
        for seq in 7..=10 {
            ring.push(event(seq, "a"));
        }
        // seqs 1 and 2 are gone: a page reaching past the ring is the log's to answer
        assert_eq!(
            page(ring.newest(0, 8, |_| true)),
            Some((10, (3..=10).rev().collect()))
        );
        assert_eq!(ring.newest(0, 9, |_| true), None);
        assert_eq!(ring.newest(6, 3, |_| true), None);
        // a deleted ticket's events must not be served: the ring starts over
        let mut deleted = (*event(11, "a")).clone();
        deleted.event_type = EventType::TicketDeleted;
        ring.push(Arc::new(deleted));
        assert_eq!(page(ring.newest(0, 1, |_| true)), Some((11, vec![11])));
        assert_eq!(ring.newest(0, 2, |_| true), None);
    }

    #[test]
    fn the_ring_forgets_the_oldest_and_never_hides_a_gap() {
        let ring = Recent::new(4);
        for seq in 1..=6 {
            ring.push(event(seq, "a"));
        }
        assert_eq!(
            ring.after(1, 10, |_| true),
            None,
            "seqs 1 and 2 were dropped"
        );
        assert_eq!(seqs(&ring.after(2, 10, |_| true).unwrap()), [3, 4, 5, 6]);
        // Seq 7 was appended elsewhere and never relayed: the ring starts over at 8.
        ring.push(event(8, "a"));
        assert_eq!(ring.after(6, 10, |_| true), None);
        assert_eq!(seqs(&ring.after(7, 10, |_| true).unwrap()), [8]);
    }

    #[test]
    fn ticket_subscribers_see_only_their_ticket_and_idle_channels_go() {
        use foreman_events::Delivery;

        let channels = Channels::new(16);
        let mut all = channels.subscribe(None);
        let mut a = channels.subscribe(Some(&TicketId::from("a")));
        channels.send(event(1, "b"));
        channels.send(event(2, "a"));
        let got = |d: Option<Delivery<Arc<LiveEvent>>>| match d {
            Some(Delivery::Item(e)) => Some(e.seq),
            _ => None,
        };
        assert_eq!(got(a.try_recv()), Some(2));
        assert_eq!(
            got(a.try_recv()),
            None,
            "b's event never reached a's subscriber"
        );
        assert_eq!(got(all.try_recv()), Some(1));
        assert_eq!(got(all.try_recv()), Some(2));
        drop(a);
        channels.send(event(3, "a"));
        assert!(
            channels.lock().is_empty(),
            "a channel nobody follows is dropped"
        );
    }
}
