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
//! It must not know about the pipeline, git or git hosts, or the HTTP server: it sees storage
//! and intake only through the ports of `foreman-domain`, reaches remote APIs through
//! `foreman-rest`, and hands the API functions rather than routes.

pub mod adf;
pub mod github;
pub mod gitlab;
pub mod jira;
pub mod linear;
pub mod local;
pub mod receiver;
pub mod text;
pub mod webhook;

pub use github::{GitHubTracker, StatusLabels};
pub use gitlab::GitLabTracker;
pub use jira::{JiraConfig, JiraStatuses, JiraTracker};
pub use linear::{LinearConfig, LinearStates, LinearTracker};
pub use local::LocalTracker;
pub use receiver::{HostRoute, TrackerRoute, WebhookIntake};
