//! Outbound webhooks: the delivery worker, the HTTP client that signs and sends a delivery,
//! and the SSRF guard.
//!
//! The worker ([`Worker`]) turns the event log into deliveries (`WebhookStore::fan_out`),
//! claims due ones (one run per subscription at a time, in `seq` order) and sends them with
//! bounded concurrency across subscriptions, recording each attempt; a subscription disabled by
//! failures in a row is announced with a `webhook_disabled` event, which the notifier turns into
//! a notification. The queue lives in the store, so deliveries survive restarts (at least once;
//! receivers deduplicate on `X-Foreman-Delivery`).
//!
//! The client ([`Sender`]) checks every address a URL resolves to against [`AddressPolicy`]
//! (loopback, private, link-local and cloud metadata, CGNAT, multicast, unspecified, reserved,
//! IPv6 unique-local and link-local, and IPv4 addresses embedded in IPv6 are refused unless
//! allowed by `[webhooks] allow_private`), resolves once and connects to the checked addresses
//! (its own DNS resolver), never follows redirects and uses no proxy.
//!
//! It must not know the pipeline, HTTP serving or a storage engine: it sees the `WebhookStore`
//! and `EventLog` ports only.

mod guard;
mod send;
mod worker;

pub use guard::{AddressPolicy, Refused};
pub use send::{Sender, SenderSettings};
pub use worker::{DeliverySettings, Worker};
