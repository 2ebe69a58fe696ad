//! [`RemoteError`]: how a remote service (a git host's or a tracker's REST or GraphQL API)
//! failed, once for every adapter that talks to one.
//!
//! [`crate::git::HostError`] and [`crate::tracker::TrackerError`] wrap it as their `Remote`
//! variant, so a caller branches on the same variants whichever port failed, and the wire
//! codes ([`RemoteError::code`]) are the same for hosts and trackers.

use std::time::Duration;

/// A remote service refused or failed a request. Each variant names the service (`github`,
/// `gitlab`, `jira`, `linear`, `local`) it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The credentials are missing, wrong or revoked (HTTP 401).
    #[error("{service}: credentials rejected")]
    Unauthorized {
        /// The service.
        service: &'static str,
    },
    /// The credentials lack a permission (HTTP 403 that is not a rate limit).
    #[error("{service}: forbidden: {message}")]
    Forbidden {
        /// The service.
        service: &'static str,
        /// The service's message.
        message: String,
    },
    /// What was asked for does not exist (HTTP 404 or 410).
    #[error("{service}: {what} not found")]
    NotFound {
        /// The service.
        service: &'static str,
        /// What was asked for (a URL, or `pull request #4`).
        what: String,
    },
    /// A rate limit was hit and the wait is longer than the client is willing to sleep, or it
    /// was still hit after the retries.
    #[error("{service}: rate limited, retry after {retry_after:?}")]
    RateLimited {
        /// The service.
        service: &'static str,
        /// How long the service asked to wait (`Retry-After`, `X-RateLimit-Reset`).
        retry_after: Option<Duration>,
    },
    /// The request conflicts with the resource's current state (HTTP 409: a head that moved,
    /// a pull request that is no longer open).
    #[error("{service}: rejected (http 409): {message}")]
    Conflict {
        /// The service.
        service: &'static str,
        /// The service's message.
        message: String,
    },
    /// Any other unsuccessful status: a 4xx refusal (validation, not mergeable; 200 for a
    /// GraphQL error) or a 5xx failure.
    #[error("{service}: {}", status_text(*.status, .message))]
    Status {
        /// The service.
        service: &'static str,
        /// The HTTP status.
        status: u16,
        /// The service's message.
        message: String,
    },
    /// The request never got an answer: connection refused, TLS failure, timeout.
    #[error("{service}: unavailable: {message}")]
    Transport {
        /// The service.
        service: &'static str,
        /// What happened.
        message: String,
    },
    /// The answer is not what the service documents (bad JSON, an unknown state, a body over
    /// the size limit, a link leading off the service).
    #[error("{service}: unexpected response: {message}")]
    Decode {
        /// The service.
        service: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The request could not be built (an unusable base URL, header or repository name).
    #[error("{service}: invalid request: {message}")]
    Invalid {
        /// The service.
        service: &'static str,
        /// What was wrong.
        message: String,
    },
}

fn status_text(status: u16, message: &str) -> String {
    if status >= 500 {
        format!("unavailable: http {status}: {message}")
    } else {
        format!("rejected (http {status}): {message}")
    }
}

impl RemoteError {
    /// A refusal with an HTTP status: [`RemoteError::Conflict`] for 409, else
    /// [`RemoteError::Status`].
    #[must_use]
    pub fn refused(service: &'static str, status: u16, message: String) -> Self {
        if status == 409 {
            Self::Conflict { service, message }
        } else {
            Self::Status {
                service,
                status,
                message,
            }
        }
    }

    /// The status and message of a refusal ([`RemoteError::Conflict`] or
    /// [`RemoteError::Status`]), for callers that explain particular statuses.
    #[must_use]
    pub fn refusal(&self) -> Option<(u16, &str)> {
        match self {
            Self::Conflict { message, .. } => Some((409, message)),
            Self::Status {
                status, message, ..
            } => Some((*status, message)),
            _ => None,
        }
    }

    /// A transport-neutral code for APIs, events and logs: `unauthorized`, `forbidden`,
    /// `not_found`, `rate_limited`, `conflict`, `rejected` (another 4xx), `unavailable` (5xx or
    /// no answer), `bad_response`, `invalid`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::RateLimited { .. } => "rate_limited",
            Self::Conflict { .. } => "conflict",
            Self::Status { status, .. } if *status >= 500 => "unavailable",
            Self::Status { .. } => "rejected",
            Self::Transport { .. } => "unavailable",
            Self::Decode { .. } => "bad_response",
            Self::Invalid { .. } => "invalid",
        }
    }

    /// Whether the same request may succeed later unchanged: rate limits, 5xx answers (and
    /// 408), transport failures, and answers that could not be read (malformed JSON or a body
    /// cut off by a proxy or a dropped connection look the same as a permanent change of
    /// format, so callers bound their retries).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Transport { .. } | Self::Decode { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }

    /// The service the error concerns.
    #[must_use]
    pub fn service(&self) -> &'static str {
        match self {
            Self::Unauthorized { service }
            | Self::Forbidden { service, .. }
            | Self::NotFound { service, .. }
            | Self::RateLimited { service, .. }
            | Self::Conflict { service, .. }
            | Self::Status { service, .. }
            | Self::Transport { service, .. }
            | Self::Decode { service, .. }
            | Self::Invalid { service, .. } => service,
        }
    }

    /// How long the service asked to wait, for a rate limit that said so.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status the error stands for, where there was one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::RateLimited { .. } => Some(429),
            Self::Conflict { .. } => Some(409),
            Self::Status { status, .. } => Some(*status),
            Self::Transport { .. } | Self::Decode { .. } | Self::Invalid { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_transience() {
        let s = |status| RemoteError::Status {
            service: "github",
            status,
            message: "m".into(),
        };
        assert_eq!(s(422).code(), "rejected");
        assert!(!s(422).is_transient());
        assert_eq!(s(502).code(), "unavailable");
        assert!(s(502).is_transient());
        assert_eq!(
            s(502).to_string(),
            "github: unavailable: http 502: m",
            "5xx keeps the wording of an outage"
        );
        assert_eq!(s(422).to_string(), "github: rejected (http 422): m");
        let limited = RemoteError::RateLimited {
            service: "jira",
            retry_after: Some(Duration::from_secs(7)),
        };
        assert!(limited.is_transient());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(limited.service(), "jira");
        let gone = RemoteError::NotFound {
            service: "gitlab",
            what: "merge request !3".into(),
        };
        assert!(!gone.is_transient());
        assert!(
            RemoteError::Decode {
                service: "github",
                message: "expected value".into()
            }
            .is_transient()
        );
        assert_eq!(gone.to_string(), "gitlab: merge request !3 not found");
        assert_eq!(gone.status(), Some(404));
        let conflict = RemoteError::Conflict {
            service: "local",
            message: "pull request #1 is merged".into(),
        };
        assert_eq!(conflict.code(), "conflict");
        assert_eq!(conflict.refusal(), Some((409, "pull request #1 is merged")));
        assert_eq!(
            RemoteError::refused("local", 409, "x".into()).code(),
            "conflict"
        );
        assert_eq!(
            RemoteError::refused("local", 405, "x".into()).refusal(),
            Some((405, "x"))
        );
        assert_eq!(conflict.status(), Some(409));
    }
}
