//! Foreman's REST layer: one HTTP client for every adapter that talks to a remote service.
//!
//! This crate owns:
//! - [`HttpClient`] ([`client`]): authentication, timeouts, capped bodies, links kept on the
//!   service, and errors classified into [`foreman_domain::remote::RemoteError`];
//! - [`retry`]: `Retry-After` (delay-seconds and HTTP-date) and reset headers, and which
//!   failures are tried again after how long;
//! - [`page`]: pagination by `Link` header, GitLab's `X-Next-Page`, and body cursors;
//! - the GitHub ([`github`]) and GitLab ([`gitlab`]) REST clients and wire types, used by both
//!   the git host adapters (`foreman-git`) and the tracker adapters (`foreman-tracker`).
//!
//! Cargo features (both on by default): `github` and `gitlab` bring in those two clients; the
//! HTTP client, retries and pagination are always there (Jira and Linear need only them).
//!
//! It must not know about any other adapter crate, the pipeline or storage: it depends on
//! `foreman-domain` only (for `RemoteError`), so the host and tracker adapters can share it
//! without depending on each other (checked by `cargo xtask tidy`).

pub mod client;
#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;
pub mod page;
pub mod retry;

pub use client::{Auth, HttpClient, HttpConfig, Request, Response, USER_AGENT};
pub use foreman_domain::remote::RemoteError;
pub use page::{MAX_PAGES, NextPage};
pub use reqwest::Method;
