//! In-process fake GitHub, GitLab, Jira and Linear servers for tests.
//!
//! Each fake binds `127.0.0.1:0`, keeps real state (issues, labels, comments, pull requests,
//! transitions), speaks the service's request and response shapes, auth headers and pagination,
//! and lets a test inject failures through its [`Control`]: revoked tokens (401), statuses such
//! as 404 or 500, rate limits with `Retry-After`, empty pages and malformed bodies, or a random
//! share of every request ([`FaultPlan`]: 429, overload, 5xx, timeouts, malformed JSON,
//! connection resets). [`llm::FakeModel`] is a model API (Anthropic's Messages) whose answers
//! a test computes from each request, with the same fault injection and a count of the usage it
//! billed. [`telegram::FakeTelegram`] is Telegram's Bot API (long-polled `getUpdates`,
//! `sendMessage`) with users a test plays.
//!
//! This crate is test support: it is a dev-dependency only and must not know about Foreman's
//! adapters or domain; it only knows the wire formats.

mod common;
pub mod faults;
pub mod github;
pub mod gitlab;
pub mod jira;
pub mod linear;
pub mod llm;
pub mod telegram;

pub use common::{Control, Fault, Running, Seen, base64};
pub use faults::{FaultKind, FaultPlan};
pub use github::FakeGitHub;
pub use gitlab::FakeGitLab;
pub use jira::FakeJira;
pub use linear::FakeLinear;
pub use telegram::FakeTelegram;
