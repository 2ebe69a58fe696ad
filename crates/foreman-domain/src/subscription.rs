//! Outbound webhooks: subscriptions to the event log, their deliveries, and the pure rules both
//! stores and the delivery worker apply.
//!
//! A [`WebhookSubscription`] names a URL, glob patterns over event type strings (`ticket_*`,
//! `task_*_fail`, `*`), an optional ticket or project filter and a secret. Fan-out turns each
//! event of the log, in `seq` order and past a durable cursor, into one [`Delivery`] per
//! matching subscription ([`matching`]); a delivery is claimed, sent, and its outcome recorded
//! ([`apply_attempt`]): delivered, retried later on an exponential schedule with jitter
//! ([`RetryPolicy`]), or given up (`dead`) once it is older than the policy's limit. A
//! subscription whose deliveries fail [`RetryPolicy::disable_after`] times in a row is disabled
//! until an update enables it again.
//!
//! Every request carries `X-Foreman-Signature: sha256=<hex>`, the HMAC-SHA256 of
//! `"{timestamp}.{body}"` under the subscription's secret ([`sign`]); [`verify`] is the
//! receiver's check (signature, then a timestamp no older than the tolerance), as documented in
//! `docs/webhooks.md`.
//!
//! A ticket submitted with a `webhook_url` has an implicit subscription ([`SubscriptionSource::
//! Ticket`], id [`SubscriptionId::for_ticket`]) to [`TICKET_WEBHOOK_EVENTS`] of that ticket;
//! it has no secret of its own and is signed with the server's `[webhooks] ticket_secret` when
//! one is configured, unsigned otherwise.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{StoreError, StoreResult};
use crate::event::{Event, EventType};
use crate::ids::TicketId;
use crate::ticket_submission::is_http_url;
use crate::wire::wire_enum;

/// Patterns per subscription.
pub const MAX_PATTERNS: usize = 32;
/// Characters per pattern.
pub const MAX_PATTERN_CHARS: usize = 100;
/// Characters of a secret.
pub const MAX_SECRET_CHARS: usize = 256;
/// Shortest secret a client may choose.
pub const MIN_SECRET_CHARS: usize = 16;
/// The event type of a test delivery (`POST …/{id}/test`).
pub const PING: &str = "ping";
/// The events an implicit per-ticket subscription receives.
pub const TICKET_WEBHOOK_EVENTS: &[&str] = &[
    "ticket_*",
    "clarification_*",
    "pr_*",
    "task_done",
    "task_failed",
    "notification_created",
];
/// Longest error text kept on a delivery.
pub const MAX_ERROR_CHARS: usize = 500;
/// Largest page of deliveries.
pub const MAX_DELIVERIES_PAGE: u32 = 200;
/// How old a signed timestamp a receiver accepts, by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// A fresh UUIDv7.
            #[must_use]
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// The id as a string slice.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id! {
    /// A subscription's id: a UUIDv7, or `ticket-<ticket id>` for a ticket's implicit one.
    SubscriptionId
}

string_id! {
    /// A delivery's id (a UUIDv7), sent as `X-Foreman-Delivery`: the same on every attempt, so
    /// receivers deduplicate on it.
    DeliveryId
}

impl SubscriptionId {
    /// The id of a ticket's implicit subscription.
    #[must_use]
    pub fn for_ticket(ticket: &TicketId) -> Self {
        Self(format!("ticket-{ticket}"))
    }
}

wire_enum! {
    /// Where a subscription came from.
    SubscriptionSource, "subscription source" {
        /// Created through the API.
        Api = "api",
        /// A ticket's `webhook_url`.
        Ticket = "ticket",
    }
}

wire_enum! {
    /// Where a delivery stands.
    DeliveryStatus, "delivery status" {
        /// Not yet attempted.
        Pending = "pending",
        /// A receiver answered 2xx.
        Delivered = "delivered",
        /// The last attempt failed; another is scheduled.
        Failed = "failed",
        /// Given up: failed past the retry window.
        Dead = "dead",
    }
}

impl DeliveryStatus {
    /// Whether the delivery still waits to be delivered (pending or failed).
    #[must_use]
    pub const fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Failed)
    }
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSubscription {
    /// Its id.
    pub id: SubscriptionId,
    /// Where deliveries go (`http` or `https`).
    pub url: String,
    /// Glob patterns over event type strings; an event matching any is delivered.
    pub events: Vec<String>,
    /// Only this ticket's events.
    pub ticket_id: Option<TicketId>,
    /// Only events of tickets in this project.
    pub project: Option<String>,
    /// The signing secret (`None`: the server's ticket secret, or unsigned).
    pub secret: Option<String>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// Why it was disabled automatically.
    pub disabled_reason: Option<String>,
    /// Where it came from.
    pub source: SubscriptionSource,
    /// The last event `seq` before it existed: it receives later events only.
    pub after_seq: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl WebhookSubscription {
    /// Whether `event` (of a ticket in `project`) is for this subscription.
    #[must_use]
    pub fn wants(&self, event: &Event, project: Option<&str>) -> bool {
        if !self.enabled || event.seq <= self.after_seq {
            return false;
        }
        if let Some(t) = &self.ticket_id
            && event.ticket_id.as_ref() != Some(t)
        {
            return false;
        }
        if let Some(p) = &self.project
            && project != Some(p.as_str())
        {
            return false;
        }
        self.events
            .iter()
            .any(|p| glob_match(p, event.event_type.as_str()))
    }

    /// The first characters of the secret, for people to tell secrets apart.
    #[must_use]
    pub fn secret_prefix(&self) -> Option<String> {
        self.secret.as_ref().map(|s| s.chars().take(6).collect())
    }
}

/// A subscription to create.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewSubscription {
    /// Where deliveries go.
    pub url: String,
    /// Glob patterns.
    pub events: Vec<String>,
    /// Only this ticket's events.
    pub ticket_id: Option<TicketId>,
    /// Only this project's events.
    pub project: Option<String>,
    /// The secret (required for API subscriptions).
    pub secret: Option<String>,
    /// Whether deliveries are made (default on).
    pub enabled: bool,
}

impl NewSubscription {
    /// Checks every field; the error names the field.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] naming the bad field.
    pub fn check(&self) -> StoreResult<()> {
        check_url(&self.url)?;
        check_patterns(&self.events)?;
        check_filters(self.ticket_id.as_ref(), self.project.as_deref())?;
        match &self.secret {
            Some(s) => check_secret(s),
            None => Err(invalid("secret", "is required")),
        }
    }
}

/// A change to a subscription; absent fields stay as they are.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubscriptionPatch {
    /// New URL.
    pub url: Option<String>,
    /// New patterns.
    pub events: Option<Vec<String>>,
    /// New ticket filter (`Some(None)` clears it).
    pub ticket_id: Option<Option<TicketId>>,
    /// New project filter (`Some(None)` clears it).
    pub project: Option<Option<String>>,
    /// New secret.
    pub secret: Option<String>,
    /// Enable (resetting the failure count and the reason) or disable.
    pub enabled: Option<bool>,
}

impl SubscriptionPatch {
    /// Checks every given field; the error names the field.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] naming the bad field.
    pub fn check(&self) -> StoreResult<()> {
        if let Some(u) = &self.url {
            check_url(u)?;
        }
        if let Some(e) = &self.events {
            check_patterns(e)?;
        }
        if let Some(t) = &self.ticket_id {
            check_filters(t.as_ref(), None)?;
        }
        if let Some(p) = &self.project {
            check_filters(None, p.as_deref())?;
        }
        if let Some(s) = &self.secret {
            check_secret(s)?;
        }
        Ok(())
    }

    /// Applies the patch to `sub` at `at`.
    pub fn apply(&self, sub: &mut WebhookSubscription, at: DateTime<Utc>) {
        if let Some(u) = &self.url {
            sub.url.clone_from(u);
        }
        if let Some(e) = &self.events {
            sub.events.clone_from(e);
        }
        if let Some(t) = &self.ticket_id {
            sub.ticket_id.clone_from(t);
        }
        if let Some(p) = &self.project {
            sub.project.clone_from(p);
        }
        if let Some(s) = &self.secret {
            sub.secret = Some(s.clone());
        }
        match self.enabled {
            Some(true) => {
                sub.enabled = true;
                sub.consecutive_failures = 0;
                sub.disabled_reason = None;
            }
            Some(false) => sub.enabled = false,
            None => {}
        }
        sub.updated_at = at;
    }
}

fn invalid(field: &str, why: &str) -> StoreError {
    StoreError::Invalid(format!("{field}: {why}"))
}

fn check_url(url: &str) -> StoreResult<()> {
    if is_http_url(url) {
        Ok(())
    } else {
        Err(invalid(
            "url",
            "must be an absolute http or https URL of at most 2048 characters",
        ))
    }
}

fn check_secret(s: &str) -> StoreResult<()> {
    let n = s.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&n) || s.chars().any(char::is_control) {
        return Err(invalid(
            "secret",
            "must be 16 to 256 characters without control characters",
        ));
    }
    Ok(())
}

fn check_filters(ticket: Option<&TicketId>, project: Option<&str>) -> StoreResult<()> {
    if ticket.is_some_and(|t| t.as_str().is_empty() || t.as_str().len() > 200) {
        return Err(invalid("ticket_id", "must be 1 to 200 characters"));
    }
    if project.is_some_and(|p| p.is_empty() || p.len() > 200) {
        return Err(invalid("project", "must be 1 to 200 characters"));
    }
    Ok(())
}

/// Checks a pattern list: 1 to [`MAX_PATTERNS`] patterns, each of `a-z`, `0-9`, `_` and `*`,
/// and each matching at least one event type (or `ping`). The error names the pattern
/// (`events[2]`).
///
/// # Errors
/// [`StoreError::Invalid`] naming the field.
pub fn check_patterns(patterns: &[String]) -> StoreResult<()> {
    if patterns.is_empty() {
        return Err(invalid("events", "must list at least one pattern"));
    }
    if patterns.len() > MAX_PATTERNS {
        return Err(invalid("events", "at most 32 patterns"));
    }
    for (i, p) in patterns.iter().enumerate() {
        let field = format!("events[{i}]");
        if p.is_empty() || p.len() > MAX_PATTERN_CHARS {
            return Err(invalid(&field, "must be 1 to 100 characters"));
        }
        if !p
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '*')
        {
            return Err(invalid(
                &field,
                "may contain only a-z, 0-9, _ and * (any characters)",
            ));
        }
        let known = EventType::ALL
            .iter()
            .map(|t| t.as_str())
            .chain([PING])
            .any(|t| glob_match(p, t));
        if !known {
            return Err(invalid(&field, "matches no event type"));
        }
    }
    Ok(())
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters (also none)
/// and every other character for itself.
#[must_use]
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // the last `*` seen and the text position it was tried at
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// A fresh random secret (`whsec_` and 40 alphanumeric characters) for a subscription created
/// without one.
#[must_use]
pub fn generate_secret() -> String {
    use rand::Rng;
    let body: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("whsec_{body}")
}

/// The JSON body of an event's delivery.
#[must_use]
pub fn event_body(event: &Event) -> serde_json::Value {
    serde_json::json!({
        "id": event.id,
        "seq": event.seq,
        "type": event.event_type.as_str(),
        "ticket_id": event.ticket_id,
        "task_id": event.task_id,
        "severity": event.severity.as_str(),
        "message": event.message,
        "details": event.details,
        "created_at": event.created_at,
    })
}

/// The JSON body of a test delivery.
#[must_use]
pub fn ping_body(sub: &SubscriptionId, at: DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({
        "type": PING,
        "subscription_id": sub,
        "message": "test delivery",
        "created_at": at,
    })
}

/// A delivery to insert at fan-out.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// The event.
    pub event_seq: i64,
    /// Its type.
    pub event_type: String,
    /// The body.
    pub body: serde_json::Value,
}

/// The deliveries `event` makes for `subs`, in the order of `subs`.
#[must_use]
pub fn matching(
    event: &Event,
    project: Option<&str>,
    subs: &[WebhookSubscription],
) -> Vec<NewDelivery> {
    let wanted: Vec<&WebhookSubscription> =
        subs.iter().filter(|s| s.wants(event, project)).collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let body = event_body(event);
    wanted
        .into_iter()
        .map(|s| NewDelivery {
            subscription_id: s.id.clone(),
            event_seq: event.seq,
            event_type: event.event_type.as_str().to_owned(),
            body: body.clone(),
        })
        .collect()
}

/// A ticket's implicit subscription, created when fan-out first sees an event of a ticket
/// submitted with a `webhook_url`.
#[must_use]
pub fn ticket_subscription(
    ticket: &TicketId,
    url: &str,
    after_seq: i64,
    at: DateTime<Utc>,
) -> WebhookSubscription {
    WebhookSubscription {
        id: SubscriptionId::for_ticket(ticket),
        url: url.to_owned(),
        events: TICKET_WEBHOOK_EVENTS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        ticket_id: Some(ticket.clone()),
        project: None,
        secret: None,
        enabled: true,
        consecutive_failures: 0,
        disabled_reason: None,
        source: SubscriptionSource::Ticket,
        after_seq,
        created_at: at,
        updated_at: at,
    }
}

/// One delivery of one event (or ping) to one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id (`X-Foreman-Delivery`).
    pub id: DeliveryId,
    /// Its place in the queue: increasing in insertion order, which per subscription is `seq`
    /// order.
    pub pos: i64,
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// The event's `seq` (`None` for a ping).
    pub event_seq: Option<i64>,
    /// The event type (`ping` for a test).
    pub event_type: String,
    /// The JSON body sent.
    pub body: serde_json::Value,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempt: u32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// The last answer's status code.
    pub last_status: Option<u16>,
    /// The last attempt's duration.
    pub latency_ms: Option<u64>,
    /// The last failure.
    pub error: Option<String>,
    /// Queued.
    pub created_at: DateTime<Utc>,
    /// Delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A delivery claimed for sending, with what sending needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// The subscription's URL.
    pub url: String,
    /// The subscription's secret.
    pub secret: Option<String>,
    /// Where the subscription came from.
    pub source: SubscriptionSource,
    /// The claim's token: recording the outcome presents it.
    pub lease: String,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered {
        /// The status code.
        status: u16,
        /// The duration.
        latency_ms: u64,
    },
    /// Anything else: a non-2xx answer, a refused address, a timeout, a connection failure.
    Failed {
        /// The status code, when an answer came.
        status: Option<u16>,
        /// The duration.
        latency_ms: Option<u64>,
        /// Why.
        error: String,
    },
}

/// How failed deliveries are retried and when a subscription is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure; it doubles per attempt.
    pub base: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// A delivery failing this long after it was queued is given up.
    pub give_up_after: Duration,
    /// Failures in a row that disable a subscription.
    pub disable_after: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(10),
            max_delay: Duration::from_secs(3_600),
            give_up_after: Duration::from_secs(24 * 3_600),
            disable_after: 10,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` after `attempt` failed attempts (`attempt >= 1`):
    /// `base * 2^(attempt-1)`, capped at `max_delay`, scaled into `[0.5, 1.0]` of itself by
    /// `jitter` (in `[0, 1]`).
    #[must_use]
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << exp).min(self.max_delay);
        full.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// What recording an attempt changes.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptEffect {
    /// The delivery afterwards.
    pub delivery: Delivery,
    /// The subscription's failure count afterwards.
    pub consecutive_failures: u32,
    /// `Some(reason)` when this attempt disabled the subscription.
    pub disabled: Option<String>,
}

/// The rule both stores apply when an attempt's outcome is recorded: the delivery's new state
/// and the subscription's failure count, and whether the subscription is now disabled.
#[must_use]
pub fn apply_attempt(
    delivery: &Delivery,
    failures: u32,
    outcome: &AttemptOutcome,
    at: DateTime<Utc>,
    jitter: f64,
    policy: &RetryPolicy,
) -> AttemptEffect {
    let mut d = delivery.clone();
    d.attempt = d.attempt.saturating_add(1);
    match outcome {
        AttemptOutcome::Delivered { status, latency_ms } => {
            d.status = DeliveryStatus::Delivered;
            d.last_status = Some(*status);
            d.latency_ms = Some(*latency_ms);
            d.error = None;
            d.delivered_at = Some(at);
            AttemptEffect {
                delivery: d,
                consecutive_failures: 0,
                disabled: None,
            }
        }
        AttemptOutcome::Failed {
            status,
            latency_ms,
            error,
        } => {
            d.last_status = *status;
            d.latency_ms = *latency_ms;
            d.error = Some(error.chars().take(MAX_ERROR_CHARS).collect());
            let age = (at - d.created_at).to_std().unwrap_or_default();
            let next = at
                + chrono::Duration::from_std(policy.delay(d.attempt, jitter))
                    .unwrap_or_else(|_| chrono::Duration::hours(1));
            if age >= policy.give_up_after
                || (next - d.created_at).to_std().unwrap_or_default() > policy.give_up_after
            {
                d.status = DeliveryStatus::Dead;
            } else {
                d.status = DeliveryStatus::Failed;
                d.next_attempt_at = next;
            }
            let failures = failures.saturating_add(1);
            let disabled = (failures >= policy.disable_after).then(|| {
                format!(
                    "disabled after {failures} failed deliveries in a row; last: {}",
                    d.error.as_deref().unwrap_or("")
                )
            });
            AttemptEffect {
                delivery: d,
                consecutive_failures: failures,
                disabled,
            }
        }
    }
}

/// The signature header's value: `sha256=<hex of HMAC-SHA256(secret, "{timestamp}.{body}")>`.
#[must_use]
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac(secret, timestamp, body)))
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes keys of any length");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// Why a receiver refuses a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No signature or timestamp header.
    #[error("missing signature or timestamp")]
    Missing,
    /// The signature does not match.
    #[error("signature mismatch")]
    Mismatch,
    /// The timestamp is outside the tolerance (a replay, or a skewed clock).
    #[error("timestamp outside the tolerance")]
    Stale,
}

/// The receiver's check, as documented: the signature over `"{timestamp}.{body}"` compared in
/// constant time, then the timestamp no further than `tolerance` from `now` (Unix seconds).
///
/// # Errors
/// [`VerifyError`] saying why.
pub fn verify(
    secret: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let (Some(sig), Some(ts)) = (signature, timestamp) else {
        return Err(VerifyError::Missing);
    };
    let ts: i64 = ts.trim().parse().map_err(|_| VerifyError::Mismatch)?;
    let given = sig
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(VerifyError::Mismatch)?;
    let want = mac(secret, ts, body);
    if given.len() != want.len()
        || !bool::from(subtle::ConstantTimeEq::ct_eq(&given[..], &want[..]))
    {
        return Err(VerifyError::Mismatch);
    }
    if now.abs_diff(ts) > tolerance.as_secs() {
        return Err(VerifyError::Stale);
    }
    Ok(())
}

/// Counts of one fan-out pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FanOut {
    /// Events read.
    pub events: u64,
    /// Deliveries queued.
    pub deliveries: u64,
    /// The cursor afterwards.
    pub cursor: i64,
}

/// A page of deliveries, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryPage {
    /// Only deliveries with `pos` below this.
    pub before: Option<i64>,
    /// At most this many (0: 50; capped at [`MAX_DELIVERIES_PAGE`]).
    pub limit: u32,
}

impl DeliveryPage {
    /// The page size.
    #[must_use]
    pub fn size(&self) -> usize {
        match self.limit {
            0 => 50,
            n => n.min(MAX_DELIVERIES_PAGE) as usize,
        }
    }
}

/// Subscriptions and their durable delivery queue.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Creates a subscription (checked with [`NewSubscription::check`]); it receives events
    /// appended after now.
    async fn create_subscription(&self, new: NewSubscription) -> StoreResult<WebhookSubscription>;

    /// Every subscription, oldest first.
    async fn list_subscriptions(&self) -> StoreResult<Vec<WebhookSubscription>>;

    /// One subscription.
    async fn get_subscription(
        &self,
        id: &SubscriptionId,
    ) -> StoreResult<Option<WebhookSubscription>>;

    /// Applies a checked patch; `None` when it does not exist.
    async fn update_subscription(
        &self,
        id: &SubscriptionId,
        patch: SubscriptionPatch,
    ) -> StoreResult<Option<WebhookSubscription>>;

    /// Deletes a subscription and its deliveries; `false` when it did not exist.
    async fn delete_subscription(&self, id: &SubscriptionId) -> StoreResult<bool>;

    /// Reads up to `limit` events past the fan-out cursor in `seq` order, queues one delivery
    /// per matching enabled subscription (creating tickets' implicit subscriptions on the way)
    /// and moves the cursor, in one transaction: an event is fanned out exactly once, also
    /// with several workers.
    async fn fan_out(&self, limit: u32) -> StoreResult<FanOut>;

    /// Queues a test delivery (`ping`) behind the subscription's queued ones.
    async fn enqueue_ping(&self, id: &SubscriptionId) -> StoreResult<Delivery>;

    /// Claims deliveries to send now: for each enabled subscription whose oldest open delivery
    /// is due and not claimed, that delivery and up to `per_subscription - 1` following due
    /// ones, all under one lease of `lease` length. A subscription's deliveries are never
    /// claimed twice at once, and never ahead of an earlier open one (order by `pos`). At most
    /// `limit` subscriptions per call.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        per_subscription: u32,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>>;

    /// Records an attempt under its lease with [`apply_attempt`]; a lease that is not the
    /// delivery's current one is [`StoreError::Conflict`].
    async fn record_attempt(
        &self,
        claim: &ClaimedDelivery,
        outcome: AttemptOutcome,
        at: DateTime<Utc>,
        jitter: f64,
        policy: &RetryPolicy,
    ) -> StoreResult<AttemptEffect>;

    /// Gives claimed deliveries back unattempted (the ones after a failure in a claimed run).
    async fn release_deliveries(&self, claims: &[ClaimedDelivery]) -> StoreResult<()>;

    /// Deletes up to `limit` finished deliveries (delivered, or given up) queued before
    /// `before`, oldest first; open ones are never touched. Returns how many went. The delivery
    /// log's retention (`[webhooks] delivery_retention`).
    async fn prune_deliveries(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;

    /// A subscription's deliveries, newest first.
    async fn list_deliveries(
        &self,
        id: &SubscriptionId,
        page: DeliveryPage,
    ) -> StoreResult<Vec<Delivery>>;
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::event::Severity;
    use crate::ids::EventId;

    fn event(seq: i64, t: EventType, ticket: Option<&str>) -> Event {
        Event {
            id: EventId::new(),
            seq,
            ticket_id: ticket.map(TicketId::from),
            task_id: None,
            event_type: t,
            severity: Severity::Info,
            message: "m".into(),
            details: None,
            created_at: crate::now(),
        }
    }

    fn sub(events: &[&str]) -> WebhookSubscription {
        let mut s = ticket_subscription(&TicketId::from("t"), "https://h/", 0, crate::now());
        s.ticket_id = None;
        s.source = SubscriptionSource::Api;
        s.events = events.iter().map(|s| (*s).to_owned()).collect();
        s
    }

    #[test]
    fn globs_match_as_documented() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("ticket_*", "ticket_created"));
        assert!(!glob_match("ticket_*", "task_created"));
        assert!(glob_match("task_*_fail", "task_lint_fail"));
        assert!(glob_match("task_*_fail", "task_tdd_verify_fail"));
        assert!(!glob_match("task_*_fail", "task_failed"));
        assert!(glob_match("pr_merged", "pr_merged"));
        assert!(!glob_match("pr_merged", "pr_merged_x"));
        assert!(glob_match("*_*_*", "a_b_c"));
        assert!(!glob_match("", "a"));
    }

    proptest! {
        #[test]
        fn a_literal_matches_only_itself(a in "[a-z_]{0,12}", b in "[a-z_]{0,12}") {
            prop_assert_eq!(glob_match(&a, &b), a == b);
        }

        #[test]
        fn a_star_between_matches_any_middle(pre in "[a-z_]{0,6}", mid in "[a-z_*]{0,6}", post in "[a-z_]{0,6}") {
            let text = format!("{pre}{}{post}", mid.replace('*', ""));
            let pattern = format!("{pre}*{post}");
            prop_assert!(glob_match(&pattern, &text));
        }
    }

    #[test]
    fn patterns_are_checked_naming_the_field() {
        let err = |p: &[&str]| {
            check_patterns(&p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[]).contains("events"));
        assert!(err(&["ticket_*", "Ticket"]).contains("events[1]"));
        assert!(err(&["nothing_like_this"]).contains("events[0]: matches no event type"));
        assert!(err(&["ticket_?"]).contains("events[0]"));
        let many: Vec<&str> = std::iter::repeat_n("*", 33).collect();
        assert!(err(&many).contains("at most 32"));
        check_patterns(&["*".into(), "task_*_fail".into(), "ping".into()]).unwrap();
    }

    #[test]
    fn new_subscriptions_name_the_bad_field() {
        let ok = NewSubscription {
            url: "https://example.com/hook".into(),
            events: vec!["*".into()],
            secret: Some("0123456789abcdef".into()),
            enabled: true,
            ..NewSubscription::default()
        };
        ok.check().unwrap();
        let bad = |f: &dyn Fn(&mut NewSubscription)| {
            let mut n = ok.clone();
            f(&mut n);
            n.check().unwrap_err().to_string()
        };
        assert!(bad(&|n| n.url = "ftp://x/".into()).contains("url:"));
        assert!(bad(&|n| n.url = "javascript:alert(1)".into()).contains("url:"));
        assert!(bad(&|n| n.secret = Some("short".into())).contains("secret:"));
        assert!(bad(&|n| n.secret = None).contains("secret:"));
        assert!(bad(&|n| n.project = Some(String::new())).contains("project:"));
    }

    #[test]
    fn subscriptions_filter_by_pattern_ticket_project_and_start() {
        let mut s = sub(&["ticket_*", "task_*_fail"]);
        assert!(s.wants(&event(1, EventType::TicketCreated, Some("a")), None));
        assert!(s.wants(&event(1, EventType::TaskLintFail, None), None));
        assert!(!s.wants(&event(1, EventType::TaskDone, None), None));
        s.after_seq = 5;
        assert!(!s.wants(&event(5, EventType::TicketCreated, None), None));
        s.ticket_id = Some(TicketId::from("a"));
        assert!(s.wants(&event(6, EventType::TicketCreated, Some("a")), None));
        assert!(!s.wants(&event(6, EventType::TicketCreated, Some("b")), None));
        s.ticket_id = None;
        s.project = Some("p".into());
        assert!(s.wants(&event(6, EventType::TicketCreated, Some("b")), Some("p")));
        assert!(!s.wants(&event(6, EventType::TicketCreated, Some("b")), Some("q")));
        assert!(!s.wants(&event(6, EventType::DaemonStarted, None), None));
        s.enabled = false;
        assert!(!s.wants(&event(6, EventType::TicketCreated, Some("b")), Some("p")));
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, 1.0), Duration::from_secs(10));
        assert_eq!(p.delay(2, 1.0), Duration::from_secs(20));
        assert_eq!(p.delay(3, 0.0), Duration::from_secs(20));
        assert_eq!(p.delay(40, 1.0), Duration::from_secs(3_600));
        assert!(p.delay(5, 0.3) < p.delay(5, 0.9));
    }

    fn delivery(at: DateTime<Utc>) -> Delivery {
        Delivery {
            id: DeliveryId::new(),
            pos: 1,
            subscription_id: SubscriptionId::new(),
            event_seq: Some(1),
            event_type: "ticket_created".into(),
            body: serde_json::json!({}),
            status: DeliveryStatus::Pending,
            attempt: 0,
            next_attempt_at: at,
            last_status: None,
            latency_ms: None,
            error: None,
            created_at: at,
            delivered_at: None,
        }
    }

    #[test]
    fn attempts_retry_then_give_up_and_disable_after_ten_failures() {
        let p = RetryPolicy::default();
        let t0 = crate::now();
        let fail = AttemptOutcome::Failed {
            status: Some(500),
            latency_ms: Some(3),
            error: "status 500".into(),
        };
        let e = apply_attempt(&delivery(t0), 0, &fail, t0, 1.0, &p);
        assert_eq!(e.delivery.status, DeliveryStatus::Failed);
        assert_eq!(e.delivery.attempt, 1);
        assert_eq!(
            e.delivery.next_attempt_at,
            t0 + chrono::Duration::seconds(10)
        );
        assert_eq!(e.consecutive_failures, 1);
        assert!(e.disabled.is_none());
        let e = apply_attempt(&delivery(t0), 9, &fail, t0, 1.0, &p);
        assert!(e.disabled.unwrap().contains("10 failed deliveries"));
        let late = t0 + chrono::Duration::hours(24);
        let e = apply_attempt(&delivery(t0), 0, &fail, late, 0.0, &p);
        assert_eq!(e.delivery.status, DeliveryStatus::Dead);
        let ok = AttemptOutcome::Delivered {
            status: 204,
            latency_ms: 2,
        };
        let e = apply_attempt(&delivery(t0), 7, &ok, t0, 0.0, &p);
        assert_eq!(e.delivery.status, DeliveryStatus::Delivered);
        assert_eq!(e.consecutive_failures, 0);
    }

    #[test]
    fn the_receiver_check_accepts_only_fresh_matching_signatures() {
        let secret = b"0123456789abcdef";
        let body = br#"{"type":"ticket_created"}"#;
        let ts = 1_700_000_000;
        let sig = sign(secret, ts, body);
        let t = ts.to_string();
        let tol = DEFAULT_TOLERANCE;
        assert_eq!(
            verify(secret, Some(&sig), Some(&t), body, ts + 10, tol),
            Ok(())
        );
        assert_eq!(
            verify(b"another secret!!", Some(&sig), Some(&t), body, ts, tol),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(secret, Some(&sig), Some(&t), b"{}", ts, tol),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(secret, None, Some(&t), body, ts, tol),
            Err(VerifyError::Missing)
        );
        // a replay: the signature is right, the timestamp too old
        assert_eq!(
            verify(secret, Some(&sig), Some(&t), body, ts + 301, tol),
            Err(VerifyError::Stale)
        );
        // moving the timestamp forward breaks the signature
        let fresh = (ts + 301).to_string();
        assert_eq!(
            verify(secret, Some(&sig), Some(&fresh), body, ts + 301, tol),
            Err(VerifyError::Mismatch)
        );
    }
}
