//! The error every storage port returns.

use crate::budget::BudgetExceeded;
use crate::ids::FencingToken;

/// A storage failure callers can branch on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The entity does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// `ticket`, `task`, `token`, ...
        entity: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A compare-and-set lost: the entity is not in the expected state.
    #[error("{entity} {id} is {current}, expected {expected}")]
    Conflict {
        /// `ticket` or `task`.
        entity: &'static str,
        /// Its id.
        id: String,
        /// Its current status.
        current: String,
        /// What the writer expected.
        expected: String,
    },
    /// The requested status change is not an edge of the status machine.
    #[error("{entity} {id}: transition {from} -> {to} is not allowed")]
    InvalidTransition {
        /// `ticket` or `task`.
        entity: &'static str,
        /// Its id.
        id: String,
        /// From.
        from: String,
        /// To.
        to: String,
    },
    /// A write presented a fencing token older than the current lease.
    #[error("ticket {ticket_id}: stale fencing token {presented:?}, current {current:?}")]
    StaleFence {
        /// The ticket.
        ticket_id: String,
        /// What the writer presented.
        presented: FencingToken,
        /// The current token.
        current: FencingToken,
    },
    /// The lease is not held by this worker (expired and taken, or released).
    #[error("ticket {ticket_id}: lease not held by {worker_id}")]
    LeaseNotHeld {
        /// The ticket.
        ticket_id: String,
        /// The worker.
        worker_id: String,
    },
    /// A unique key is taken.
    #[error("{entity} with {key} already exists")]
    Duplicate {
        /// The entity.
        entity: &'static str,
        /// The key.
        key: String,
    },
    /// A budget refused the reservation.
    #[error(transparent)]
    BudgetExceeded(#[from] BudgetExceeded),
    /// The caller passed something the store cannot accept.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A stored value could not be read back (unknown enum string, bad JSON).
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// Which column or field.
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// The backend failed (connection, I/O, SQL).
    #[error("storage backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// A transport-neutral code for APIs and logs.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::StaleFence { .. } => "stale_fence",
            Self::LeaseNotHeld { .. } => "lease_not_held",
            Self::Duplicate { .. } => "duplicate",
            Self::BudgetExceeded(_) => "budget_exceeded",
            Self::Invalid(_) => "invalid",
            Self::Corrupt { .. } => "corrupt",
            Self::Backend(_) => "backend",
        }
    }

    /// Shorthand for [`StoreError::NotFound`].
    #[must_use]
    pub fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            entity,
            id: id.into(),
        }
    }

    /// Wraps a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }

    /// Shorthand for [`StoreError::Corrupt`].
    #[must_use]
    pub fn corrupt(what: impl Into<String>, detail: impl ToString) -> Self {
        Self::Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

/// Result alias for the ports.
pub type StoreResult<T> = Result<T, StoreError>;
