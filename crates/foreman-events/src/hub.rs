//! Bounded broadcast channels.

use std::fmt;
use std::sync::Arc;

use foreman_domain::Event;
use tokio::sync::broadcast;

/// How many events a subscriber may fall behind before it is told it lagged.
pub const DEFAULT_CAPACITY: usize = 4096;

/// A bounded, lossy-for-laggards broadcast of `T` to any number of subscribers.
///
/// Sending never waits. Each subscriber reads at its own pace from a shared ring of `capacity`
/// items; one that falls more than `capacity` behind skips ahead and is told how many it missed
/// ([`Delivery::Lagged`]). Cloning shares the channel.
pub struct Broadcast<T> {
    tx: broadcast::Sender<T>,
    capacity: usize,
}

impl<T> Clone for Broadcast<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            capacity: self.capacity,
        }
    }
}

impl<T> fmt::Debug for Broadcast<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcast")
            .field("capacity", &self.capacity)
            .field("subscribers", &self.tx.receiver_count())
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static> Broadcast<T> {
    /// A channel that holds up to `capacity` unread items per subscriber (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (tx, _) = broadcast::channel(capacity);
        Self { tx, capacity }
    }

    /// Sends to every current subscriber without waiting; returns how many there were.
    pub fn send(&self, item: T) -> usize {
        self.tx.send(item).unwrap_or(0)
    }

    /// A new subscriber that sees everything sent from now on.
    #[must_use]
    pub fn subscribe(&self) -> Subscription<T> {
        Subscription {
            rx: self.tx.subscribe(),
        }
    }

    /// How many subscribers are listening.
    #[must_use]
    pub fn subscriber_count(&self) -> usize {
        self.tx.receiver_count()
    }

    /// The per-subscriber buffer size.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery<T> {
    /// The next item.
    Item(T),
    /// The subscriber fell behind and this many items were skipped.
    Lagged(u64),
}

/// One subscriber's end of a [`Broadcast`].
pub struct Subscription<T> {
    rx: broadcast::Receiver<T>,
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("pending", &self.rx.len())
            .finish()
    }
}

impl<T: Clone> Subscription<T> {
    /// Waits for the next item; `None` once every sender is gone and the buffer is drained.
    pub async fn recv(&mut self) -> Option<Delivery<T>> {
        match self.rx.recv().await {
            Ok(item) => Some(Delivery::Item(item)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Delivery::Lagged(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next item if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Delivery<T>> {
        match self.rx.try_recv() {
            Ok(item) => Some(Delivery::Item(item)),
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Delivery::Lagged(n)),
            Err(_) => None,
        }
    }
}

/// The hub every stored event is published to; subscribers receive them live.
///
/// Cheap to clone (clones share the hub). Events are shared as `Arc<Event>` so fan-out to many
/// subscribers copies nothing.
#[derive(Debug, Clone)]
pub struct EventHub {
    inner: Broadcast<Arc<Event>>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl EventHub {
    /// A hub whose subscribers may each fall `capacity` events behind before lagging.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Broadcast::new(capacity),
        }
    }

    /// Publishes a stored event to every subscriber without waiting.
    ///
    /// Call it only for events already committed to the log (see [`crate::PublishingEventLog`]),
    /// in `seq` order, so that replay from the log and live delivery agree.
    pub fn publish(&self, event: Event) {
        self.publish_arc(Arc::new(event));
    }

    /// Publishes an already shared event.
    pub fn publish_arc(&self, event: Arc<Event>) {
        self.inner.send(event);
    }

    /// A subscriber that receives every event published from now on.
    #[must_use]
    pub fn subscribe(&self) -> Subscription<Arc<Event>> {
        self.inner.subscribe()
    }

    /// How many subscribers are listening.
    #[must_use]
    pub fn subscriber_count(&self) -> usize {
        self.inner.subscriber_count()
    }

    /// The underlying channel.
    #[must_use]
    pub fn channel(&self) -> &Broadcast<Arc<Event>> {
        &self.inner
    }
}
