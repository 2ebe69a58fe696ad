//! Integration tests for `foreman-tracker`: one contract suite run against every tracker, each
//! backed by its fake server (or the in-memory store for `local`), then each tracker's own
//! failure modes, the polling intake and the webhook intake.

mod contract;
mod github;
mod gitlab;
mod intake;
mod jira;
mod linear;
mod local;
mod webhooks;
