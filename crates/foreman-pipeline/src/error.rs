//! Why a pipeline step stopped.

use foreman_domain::StoreError;
use foreman_domain::agent::AgentError;
use foreman_domain::exec::CommandError;
use foreman_domain::git::{GitError, HostError};
use foreman_domain::llm::LlmError;
use foreman_domain::prompt::PromptError;
use foreman_domain::tracker::TrackerError;

use foreman_domain::pipeline::{FailureClass, Role};
use foreman_domain::remote::RemoteError;

/// A step of the pipeline could not go on.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Another worker holds the ticket now; this one must stop touching it.
    #[error("lease lost")]
    LeaseLost,
    /// The daemon was paused or is shutting down; the ticket was released mid-way.
    #[error("stopped: {0}")]
    Stopped(&'static str),
    /// The ticket names a project that is not configured.
    #[error("project {0:?} is not configured")]
    UnknownProject(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Git failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The git host failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The tracker failed.
    #[error(transparent)]
    Tracker(#[from] TrackerError),
    /// An LLM call failed (after the provider's own retries).
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// The agent could not run.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// A command could not start.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A prompt could not be rendered.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// A per-task limit was reached.
    #[error("limit reached: {0}")]
    LimitReached(String),
    /// A task ran past the per-task timeout its ticket was submitted with.
    #[error("timed out: {0}")]
    TaskTimedOut(String),
    /// A budget ran out while the agent worked.
    #[error("budget exhausted: {0}")]
    BudgetExhausted(String),
    /// A blocking hook failed at a point of the ticket (`post_clone`, `pre_plan`, `pre_pr`,
    /// `post_pr`); the ticket fails with it.
    #[error("{0}")]
    HookFailed(String),
    /// What the `pre_pr` hooks wrote adds a secret; it is not committed.
    #[error("{0}")]
    HookSecret(String),
    /// What the `pre_pr` hooks wrote is refused by the commit path policy.
    #[error("{0}")]
    HookPolicy(String),
    /// A model answered without the structured output it was asked for.
    #[error("{role} returned no {tool} call")]
    MissingToolOutput {
        /// Pipeline role.
        role: Role,
        /// Tool expected.
        tool: &'static str,
    },
}

impl PipelineError {
    /// How the failure is recorded as `last_error_type`, and so what happens next: a
    /// transient class ([`FailureClass::is_transient`]) is retried by the engine, any other
    /// fails (or, for a budget, blocks) the ticket.
    #[must_use]
    pub fn class(&self) -> FailureClass {
        match self {
            Self::Llm(LlmError::BudgetExceeded(_)) => FailureClass::Budget,
            Self::Llm(LlmError::RateLimited { .. }) => FailureClass::RateLimit,
            Self::Llm(e) if e.is_retryable() || matches!(e, LlmError::Unavailable { .. }) => {
                FailureClass::ProviderUnavailable
            }
            Self::Git(e) | Self::Host(HostError::Git(e)) if git_is_transient(e) => {
                FailureClass::GitRemote
            }
            Self::Host(HostError::Remote(e)) | Self::Tracker(TrackerError::Remote(e))
                if remote_is_transient(e) =>
            {
                FailureClass::RemoteUnavailable
            }
            Self::Store(StoreError::BudgetExceeded(_)) | Self::BudgetExhausted(_) => {
                FailureClass::Budget
            }
            Self::LimitReached(_) => FailureClass::Limit,
            Self::TaskTimedOut(_) => FailureClass::Timeout,
            // the repository was changed outside Foreman, or a commit broke the path policy
            Self::Git(GitError::Tampered { .. } | GitError::CommitRefused { .. }) => {
                FailureClass::SandboxViolation
            }
            Self::MissingToolOutput { .. } => FailureClass::Unknown,
            Self::HookSecret(_) => FailureClass::Secret,
            Self::HookPolicy(_) => FailureClass::SandboxViolation,
            _ => FailureClass::Infrastructure,
        }
    }

    /// Whether the step may succeed if it is simply run again later (a transient class).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        self.class().is_transient()
    }

    /// Whether this worker must stop touching the ticket: the lease was lost or the daemon
    /// stopped. The ticket is left as it is for whoever claims it next.
    #[must_use]
    pub fn is_lease_interruption(&self) -> bool {
        matches!(
            self,
            Self::LeaseLost
                | Self::Stopped(_)
                | Self::Store(StoreError::StaleFence { .. } | StoreError::LeaseNotHeld { .. })
        )
    }

    /// Whether the work should simply stop here and be taken up again later rather than be
    /// recorded as a failure of the task or the ticket: a lease interruption, or a transient
    /// fault, which `Engine::run_ticket` retries from the ticket's last completed step.
    #[must_use]
    pub fn is_interruption(&self) -> bool {
        self.is_lease_interruption() || self.is_transient()
    }
}

/// Whether a git failure is the network's (a push, fetch or `ls-remote` that failed or timed
/// out, an unreachable remote) rather than the repository's or the credentials'.
fn git_is_transient(e: &GitError) -> bool {
    let network = |command: &str| {
        matches!(
            command.split_whitespace().next(),
            Some("fetch" | "push" | "ls-remote" | "clone")
        )
    };
    match e {
        GitError::RemoteUnreachable { .. } => true,
        GitError::Timeout { command, .. } | GitError::Failed { command, .. } => network(command),
        _ => false,
    }
}

/// Whether a remote API failure may heal by waiting ([`RemoteError::is_transient`]: 5xx, 408,
/// 429, no answer, an answer that could not be read).
fn remote_is_transient(e: &RemoteError) -> bool {
    e.is_transient()
}

/// Result alias.
pub type PipelineResult<T> = Result<T, PipelineError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_come_from_the_variant() {
        let tampered = PipelineError::Git(GitError::Tampered {
            what: "hooks".into(),
            detail: "pre-commit added".into(),
        });
        assert_eq!(tampered.class(), FailureClass::SandboxViolation);
        let refused = PipelineError::Git(GitError::CommitRefused {
            violations: vec![foreman_domain::commit_policy::Violation::SecretFile {
                path: ".env".into(),
            }],
        });
        assert_eq!(refused.class(), FailureClass::SandboxViolation);
        // control: other git failures stay infrastructure
        let failed = PipelineError::Git(GitError::Failed {
            command: "commit -m x".into(),
            status: Some(1),
            stderr: "rejected".into(),
        });
        assert_eq!(failed.class(), FailureClass::Infrastructure);
        assert_eq!(
            PipelineError::LimitReached("calls".into()).class(),
            FailureClass::Limit
        );
        assert_eq!(
            PipelineError::BudgetExhausted("day".into()).class(),
            FailureClass::Budget
        );
        assert_eq!(
            PipelineError::MissingToolOutput {
                role: Role::Planner,
                tool: "submit_plan"
            }
            .to_string(),
            "planner returned no submit_plan call"
        );
    }

    #[test]
    fn transient_faults_are_retried_and_the_rest_are_not() {
        let remote = |e: RemoteError| PipelineError::Tracker(TrackerError::Remote(e));
        let transient = [
            (
                PipelineError::Git(GitError::Failed {
                    command: "push --force-with-lease=refs/heads/b:x origin b".into(),
                    status: Some(128),
                    stderr: "the remote end hung up unexpectedly".into(),
                }),
                FailureClass::GitRemote,
            ),
            (
                PipelineError::Host(HostError::Git(GitError::RemoteUnreachable {
                    remote: "origin".into(),
                    stderr: "connection refused".into(),
                })),
                FailureClass::GitRemote,
            ),
            (
                remote(RemoteError::Status {
                    service: "jira",
                    status: 502,
                    message: "bad gateway".into(),
                }),
                FailureClass::RemoteUnavailable,
            ),
            (
                PipelineError::Host(HostError::Remote(RemoteError::RateLimited {
                    service: "github",
                    retry_after: None,
                })),
                FailureClass::RemoteUnavailable,
            ),
            (
                remote(RemoteError::Decode {
                    service: "github",
                    message: "expected value at line 1".into(),
                }),
                FailureClass::RemoteUnavailable,
            ),
            (
                PipelineError::Llm(LlmError::Overloaded {
                    retry_after: None,
                    message: "overloaded".into(),
                }),
                FailureClass::ProviderUnavailable,
            ),
            (
                PipelineError::Llm(LlmError::Timeout {
                    after: std::time::Duration::from_secs(1),
                }),
                FailureClass::ProviderUnavailable,
            ),
            (
                PipelineError::Llm(LlmError::RateLimited {
                    retry_after: None,
                    message: "slow down".into(),
                }),
                FailureClass::RateLimit,
            ),
        ];
        for (e, class) in transient {
            assert_eq!(e.class(), class, "{e}");
            assert!(e.is_transient() && e.is_interruption(), "{e}");
            assert!(!e.is_lease_interruption(), "{e}");
        }
        // control: refusals, misconfiguration and the work's own failures are not faults
        let permanent = [
            remote(RemoteError::Status {
                service: "jira",
                status: 400,
                message: "bad".into(),
            }),
            remote(RemoteError::Unauthorized { service: "linear" }),
            PipelineError::Tracker(TrackerError::Misconfigured {
                service: "jira",
                message: "no transition".into(),
            }),
            PipelineError::Git(GitError::AuthFailed {
                stderr: "denied".into(),
            }),
            PipelineError::Llm(LlmError::Authentication {
                message: "bad key".into(),
            }),
            PipelineError::LimitReached("calls".into()),
        ];
        for e in permanent {
            assert!(!e.is_transient() && !e.is_interruption(), "{e}");
        }
        assert!(PipelineError::LeaseLost.is_lease_interruption());
    }
}
