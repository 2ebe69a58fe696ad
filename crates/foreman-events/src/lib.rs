//! Live delivery of Foreman's events.
//!
//! This crate owns the in-process fan-out of the event log: [`EventHub`] broadcasts every stored
//! event to live subscribers, [`PublishingEventLog`] wraps any [`EventLog`] so that each event is
//! first committed and then published, and [`Follower`] turns a subscription into a gap-free,
//! duplicate-free stream ordered by `seq`, replaying from the database when a subscriber asks to
//! resume or falls behind. [`TypeFilter`] parses the glob lists (`ticket_*,task_*`) clients use
//! to pick event types.
//!
//! It must not know about transports (HTTP, WebSocket, SSE) or about any storage adapter: it
//! speaks only the `foreman-domain` ports. Publishing never waits for a subscriber: buffers are
//! bounded, and a subscriber that falls behind is told how many events it missed and catches up
//! from the log.
//!
//! [`EventLog`]: foreman_domain::EventLog

mod follow;
mod glob;
mod hub;
pub mod logs;
mod publishing;

pub use follow::{BACKFILL_PAGE, Backfill, EventLogBackfill, FollowItem, Follower, Sequenced};
pub use glob::{GlobError, TypeFilter, glob_match};
pub use hub::{Broadcast, DEFAULT_CAPACITY, Delivery, EventHub, Subscription};
pub use publishing::PublishingEventLog;
