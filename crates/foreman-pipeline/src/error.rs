//! Why a pipeline step stopped.

use foreman_domain::StoreError;
use foreman_domain::agent::AgentError;
use foreman_domain::exec::CommandError;
use foreman_domain::git::{GitError, HostError};
use foreman_domain::llm::LlmError;
use foreman_domain::prompt::PromptError;
use foreman_domain::tracker::TrackerError;

use foreman_domain::pipeline::{FailureClass, Role};

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
    /// A budget ran out while the agent worked.
    #[error("budget exhausted: {0}")]
    BudgetExhausted(String),
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
    /// How the failure is recorded as `last_error_type`.
    #[must_use]
    pub fn class(&self) -> FailureClass {
        match self {
            Self::Llm(LlmError::BudgetExceeded(_)) => FailureClass::Budget,
            Self::Llm(LlmError::RateLimited { .. }) => FailureClass::RateLimit,
            Self::Store(StoreError::BudgetExceeded(_)) | Self::BudgetExhausted(_) => {
                FailureClass::Budget
            }
            Self::LimitReached(_) => FailureClass::Limit,
            // the repository was changed outside Foreman, or a commit broke the path policy
            Self::Git(GitError::Tampered { .. } | GitError::CommitRefused { .. }) => {
                FailureClass::SandboxViolation
            }
            Self::MissingToolOutput { .. } => FailureClass::Unknown,
            _ => FailureClass::Infrastructure,
        }
    }

    /// Whether the ticket should simply be left for another attempt later (not failed).
    #[must_use]
    pub fn is_interruption(&self) -> bool {
        matches!(
            self,
            Self::LeaseLost
                | Self::Stopped(_)
                | Self::Store(StoreError::StaleFence { .. } | StoreError::LeaseNotHeld { .. })
        )
    }
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
            command: "push".into(),
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
}
