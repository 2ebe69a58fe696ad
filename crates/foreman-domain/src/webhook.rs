//! The webhook port: what the API's receivers (`POST /api/webhooks/{provider}`) hand a request
//! to, and what they get back.
//!
//! A [`WebhookSink`] verifies the request's signature, parses the payload and acts on it (takes
//! a ready ticket in, refreshes a queued one, ...). The API only maps the result to HTTP:
//! [`WebhookError::Unauthorized`] is 401, [`WebhookError::Malformed`] 400,
//! [`WebhookError::NotConfigured`] 404, [`WebhookError::Store`] 500, and an outcome is 200.
//! A sink must store nothing before the signature is verified.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::git::PrState;
use crate::ids::TicketId;

/// The services whose webhooks Foreman receives, as they appear in the route.
pub const WEBHOOK_PROVIDERS: &[&str] = &["github", "gitlab", "jira", "linear"];

/// What a webhook led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAction {
    /// A new ticket was created in `queued`.
    Queued,
    /// A queued ticket's title, description, criteria, labels or priority were refreshed from
    /// the tracker.
    Updated,
    /// Nothing changed, but the webhook concerns a known ticket and is worth recording on it
    /// (e.g. the pickup label was removed from a ticket that is still queued).
    Recorded,
    /// Nothing to do (a comment, a ping, a ticket that is not ready, ...).
    Ignored,
    /// The tracker could not be asked in time or failed; the next poll takes care of it.
    Deferred,
}

impl WebhookAction {
    /// Every action.
    pub const ALL: &'static [Self] = &[
        Self::Queued,
        Self::Updated,
        Self::Recorded,
        Self::Ignored,
        Self::Deferred,
    ];

    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Updated => "updated",
            Self::Recorded => "recorded",
            Self::Ignored => "ignored",
            Self::Deferred => "deferred",
        }
    }
}

impl fmt::Display for WebhookAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pull or merge request that was merged or closed, as a git host's webhook reported it, so
/// the daemon can act before its next merge-tracking poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestChange {
    /// The host's number (GitHub) or iid (GitLab).
    pub number: i64,
    /// `merged` or `closed` (an open state is never reported).
    pub state: PrState,
}

/// What a sink did with a verified webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookOutcome {
    /// What happened.
    pub action: WebhookAction,
    /// The Foreman project the webhook was routed to, when one was.
    pub project: Option<String>,
    /// What the payload was about: `issue`, `comment`, `pull_request`, `ping` or `other`.
    pub kind: String,
    /// The service's own action or event name (`labeled`, `update`, `jira:issue_updated`).
    pub event: String,
    /// The tracker ticket (or pull request, for host events) the payload names.
    pub external_id: Option<String>,
    /// The Foreman ticket it concerns, when there is one.
    pub ticket_id: Option<TicketId>,
    /// One line for people: why this action.
    pub reason: String,
    /// For merged or closed pull requests: which and how.
    pub pull_request: Option<PullRequestChange>,
}

impl WebhookOutcome {
    /// An outcome with only an action and a reason.
    #[must_use]
    pub fn new(action: WebhookAction, reason: impl Into<String>) -> Self {
        Self {
            action,
            project: None,
            kind: "other".to_owned(),
            event: String::new(),
            external_id: None,
            ticket_id: None,
            reason: reason.into(),
            pull_request: None,
        }
    }
}

/// Why a webhook was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// No project receives this provider's webhooks (no secret configured for it), or the
    /// provider is not one Foreman knows.
    #[error("webhooks from {provider} are not configured")]
    NotConfigured {
        /// The provider named in the route.
        provider: String,
    },
    /// The signature or token is missing, malformed, wrong or stale. Nothing was stored.
    #[error("webhook signature refused: {reason}")]
    Unauthorized {
        /// What was wrong (`signature mismatch`, `missing x-hub-signature-256 header`, ...);
        /// never secret material.
        reason: String,
    },
    /// The signature is valid but the body is not the service's payload.
    #[error("malformed webhook payload: {reason}")]
    Malformed {
        /// What was wrong.
        reason: String,
    },
    /// Storage failed while acting on a verified webhook.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WebhookError {
    /// A transport-neutral code for APIs, metrics and logs.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotConfigured { .. } => "not_configured",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Malformed { .. } => "malformed",
            Self::Store(_) => "store",
        }
    }
}

/// Receives webhooks for every configured provider.
#[async_trait]
pub trait WebhookSink: Send + Sync {
    /// Verifies, parses and acts on one delivery. `provider` is the route's last segment
    /// (`github`, `gitlab`, `jira`, `linear`); `headers` are the request's headers with
    /// lowercase names (values that are not visible ASCII left out); `body` is the raw body
    /// the signature covers.
    ///
    /// # Errors
    /// See [`WebhookError`]; with [`WebhookError::Unauthorized`] and
    /// [`WebhookError::NotConfigured`] nothing was stored.
    async fn receive(
        &self,
        provider: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<WebhookOutcome, WebhookError>;
}

/// Told when a git host's webhook concerns the pull request of a known ticket (opened, pushed
/// to, checks finished, merged, closed), so merge tracking reads that pull request at once
/// instead of at its next poll. The host stays the source of truth: the watcher reads the pull
/// request from the host rather than trusting the payload.
pub trait PullRequestWatch: Send + Sync + fmt::Debug {
    /// Asks for the ticket's pull request to be read soon. Never blocks; a watcher that is
    /// busy may drop the hint (the next poll covers it).
    fn pull_request_changed(&self, ticket: &TicketId);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_serialise_as_their_wire_strings() {
        for &a in WebhookAction::ALL {
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::Value::String(a.as_str().to_owned())
            );
        }
    }

    #[test]
    fn error_codes_are_distinct() {
        let errors = [
            WebhookError::NotConfigured {
                provider: "x".into(),
            },
            WebhookError::Unauthorized { reason: "r".into() },
            WebhookError::Malformed { reason: "r".into() },
            WebhookError::Store(StoreError::Invalid("x".into())),
        ];
        let mut codes: Vec<_> = errors.iter().map(WebhookError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert_eq!(errors[0].to_string(), "webhooks from x are not configured");
    }
}
