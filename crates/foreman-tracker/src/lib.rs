//! Foreman's trackers: where tickets come from and where progress is reported.
//!
//! This crate owns the [`foreman_domain::tracker::Tracker`] adapters:
//! - [`GitHubTracker`] (GitHub Issues) and [`GitLabTracker`] (GitLab Issues), over the REST
//!   clients of `foreman-rest` (the git hosts use the same ones);
//! - [`JiraTracker`] (Jira Cloud REST v3, bodies converted by [`adf`]);
//! - [`LinearTracker`] (Linear GraphQL, inputs always as variables);
//! - [`LocalTracker`] (tickets in Foreman's own database);
//!
//! plus the pure webhook functions ([`webhook`]) that verify signatures and parse payloads, and
//! [`WebhookIntake`], the `foreman_domain::webhook::WebhookSink` the API's webhook routes hand
//! deliveries to. Turning ready issues into Foreman tickets is not done here: the receiver
//! hands that to the `foreman_domain::tracker::TicketIntake` port (`foreman-pipeline`'s
//! `Intake`, the same path the daemon polls with).
//!
//! Cargo features (all on by default): `github`, `gitlab`, `jira` and `linear`, one per
//! adapter above. [`LocalTracker`], the webhook functions and [`WebhookIntake`] are always there,
//! as are [`StatusLabels`] and the label check the adapters share (in `github.rs`).
//!
//! It must not know about the pipeline, git or git hosts, or the HTTP server: it sees storage
//! and intake only through the ports of `foreman-domain`, reaches remote APIs through
//! `foreman-rest`, and hands the API functions rather than routes.

pub mod adf;
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;
#[cfg(feature = "jira")]
pub mod jira;
#[cfg(feature = "linear")]
pub mod linear;
pub mod local;
pub mod receiver;
pub mod text;
pub mod webhook;

#[cfg(feature = "github")]
pub use github::GitHubTracker;
pub use github::StatusLabels;
#[cfg(feature = "gitlab")]
pub use gitlab::GitLabTracker;
#[cfg(feature = "jira")]
pub use jira::{JiraConfig, JiraStatuses, JiraTracker};
#[cfg(feature = "linear")]
pub use linear::{LinearConfig, LinearStates, LinearTracker};
pub use local::LocalTracker;
pub use receiver::{HostRoute, TrackerRoute, WebhookIntake};
pub use text::StatusNames;
