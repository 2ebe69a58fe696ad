//! An [`EventLog`] that publishes what it stores.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use foreman_domain::{Event, EventFilter, EventLog, NewEvent, StoreResult};
use tokio::sync::Mutex;

use crate::hub::EventHub;

/// Wraps an [`EventLog`]: every append is committed to the wrapped log first and then published
/// to the hub, so live subscribers only ever see stored events.
///
/// Appends through one `PublishingEventLog` are serialised, which makes the publish order equal
/// the commit order (`seq` ascending). Subscribers rely on that to merge replay and live events
/// without gaps or duplicates. Publishing never waits for a subscriber.
///
/// Events appended by another process (or by another `EventLog` over the same database) are not
/// published here; clients still see them through replay.
pub struct PublishingEventLog {
    inner: Arc<dyn EventLog>,
    hub: EventHub,
    order: Mutex<()>,
}

impl fmt::Debug for PublishingEventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishingEventLog")
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

impl PublishingEventLog {
    /// Publishes what `inner` stores to `hub`.
    #[must_use]
    pub fn new(inner: Arc<dyn EventLog>, hub: EventHub) -> Self {
        Self {
            inner,
            hub,
            order: Mutex::new(()),
        }
    }

    /// The hub events go to.
    #[must_use]
    pub fn hub(&self) -> &EventHub {
        &self.hub
    }

    fn published(&self, event: &Event) {
        metrics::counter!(
            "foreman_events_total",
            "event_type" => event.event_type.as_str(),
            "severity" => event.severity.as_str(),
        )
        .increment(1);
    }
}

#[async_trait]
impl EventLog for PublishingEventLog {
    async fn append(&self, event: NewEvent) -> StoreResult<Event> {
        let _turn = self.order.lock().await;
        let stored = self.inner.append(event).await?;
        self.published(&stored);
        self.hub.publish(stored.clone());
        Ok(stored)
    }

    async fn append_batch(&self, events: Vec<NewEvent>) -> StoreResult<Vec<Event>> {
        let _turn = self.order.lock().await;
        let stored = self.inner.append_batch(events).await?;
        for event in &stored {
            self.published(event);
            self.hub.publish(event.clone());
        }
        Ok(stored)
    }

    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<Event>> {
        self.inner.list_events(filter).await
    }

    async fn latest_seq(&self) -> StoreResult<i64> {
        self.inner.latest_seq().await
    }
}
