//! The state types of the memory store's larger parts, kept in a leaf module so that `mod.rs`
//! (which holds them in `State`) and the modules that implement them do not import each other.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use foreman_domain::audit::{AuditCheckpoint, AuditEntry};
use foreman_domain::subscription::{Delivery, WebhookSubscription};

/// A claimed delivery's lease: its token and until when it holds.
pub(super) type Lease = Option<(String, DateTime<Utc>)>;

/// Webhook state (`MemoryStore`'s share of it; `subscriptions.rs` implements it).
#[derive(Debug, Default)]
pub(super) struct Webhooks {
    /// Subscriptions in creation order.
    pub(super) subs: Vec<WebhookSubscription>,
    /// Deliveries by `pos`, with their lease (token, until).
    pub(super) deliveries: BTreeMap<i64, (Delivery, Lease)>,
    pub(super) last_pos: i64,
    /// The fan-out cursor (a fresh store starts at 0, as a freshly migrated database does).
    pub(super) cursor: i64,
}

/// The audit trail: entries oldest first, checkpoints oldest first (`audit.rs` implements it).
#[derive(Debug, Default)]
pub(super) struct Audit {
    pub(super) entries: Vec<AuditEntry>,
    pub(super) checkpoints: Vec<AuditCheckpoint>,
}
