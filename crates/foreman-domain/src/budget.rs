//! Budgets: limits on spend per task, ticket, day and month, and the reservations that keep
//! concurrent callers inside them.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ReservationId, TaskId, TicketId};
use crate::money::Micros;

/// Which budget a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetScope {
    /// One task.
    Task,
    /// One ticket.
    Ticket,
    /// One UTC day, across all tickets.
    Daily,
    /// One UTC calendar month, across all tickets.
    Monthly,
}

impl BudgetScope {
    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Ticket => "ticket",
            Self::Daily => "daily",
            Self::Monthly => "monthly",
        }
    }
}

impl fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Spending limits; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BudgetLimits {
    /// Per task.
    pub task: Option<Micros>,
    /// Per ticket.
    pub ticket: Option<Micros>,
    /// Per UTC day.
    pub daily: Option<Micros>,
    /// Per UTC month.
    pub monthly: Option<Micros>,
    /// Percentage of a limit at which `cost_alert` is emitted.
    pub alert_threshold_pct: u8,
}

/// A request to hold back money for a call before making it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRequest {
    /// The ticket the call is for.
    pub ticket_id: Option<TicketId>,
    /// The task the call is for.
    pub task_id: Option<TaskId>,
    /// Worst-case cost of the call.
    pub amount: Micros,
    /// The limits to check.
    pub limits: BudgetLimits,
    /// The current time (decides the day and month).
    pub at: DateTime<Utc>,
}

/// A held reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Id, for settling or releasing.
    pub id: ReservationId,
    /// Amount held.
    pub amount: Micros,
    /// Spend (recorded plus reserved, including this one) per scope after reserving, for alerts.
    pub committed: Vec<(BudgetScope, Micros)>,
}

/// A refusal: the call would take a budget past its limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{scope} budget exceeded: {spent} spent or reserved of {limit}, {requested} requested")]
pub struct BudgetExceeded {
    /// Which budget.
    pub scope: BudgetScope,
    /// Its limit.
    pub limit: Micros,
    /// Already spent or reserved.
    pub spent: Micros,
    /// What the call asked for.
    pub requested: Micros,
}

/// Spend on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailySpend {
    /// The day.
    pub date: NaiveDate,
    /// Recorded spend.
    pub cost: Micros,
}

impl BudgetLimits {
    /// Checks `requested` against each limit given what is already committed per scope; the
    /// first limit it would pass is the refusal.
    ///
    /// # Errors
    /// [`BudgetExceeded`] naming the scope.
    pub fn admit(
        &self,
        committed: &[(BudgetScope, Micros)],
        requested: Micros,
    ) -> Result<(), BudgetExceeded> {
        for &(scope, spent) in committed {
            let limit = match scope {
                BudgetScope::Task => self.task,
                BudgetScope::Ticket => self.ticket,
                BudgetScope::Daily => self.daily,
                BudgetScope::Monthly => self.monthly,
            };
            if let Some(limit) = limit
                && spent + requested > limit
            {
                return Err(BudgetExceeded {
                    scope,
                    limit,
                    spent,
                    requested,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn refuses_the_first_limit_passed() {
        let limits = BudgetLimits {
            ticket: Some(Micros(100)),
            daily: Some(Micros(1_000)),
            ..Default::default()
        };
        let committed = [
            (BudgetScope::Ticket, Micros(90)),
            (BudgetScope::Daily, Micros(10)),
        ];
        assert!(limits.admit(&committed, Micros(10)).is_ok());
        let err = limits.admit(&committed, Micros(11)).unwrap_err();
        assert_eq!(err.scope, BudgetScope::Ticket);
        assert_eq!(err.limit, Micros(100));
    }

    proptest! {
        #[test]
        fn admitted_spend_never_passes_a_limit(limit in 0i64..1_000_000, asks in proptest::collection::vec(0i64..10_000, 0..300)) {
            let limits = BudgetLimits { daily: Some(Micros(limit)), ..Default::default() };
            let mut spent = Micros::ZERO;
            for a in asks {
                if limits.admit(&[(BudgetScope::Daily, spent)], Micros(a)).is_ok() {
                    spent += Micros(a);
                }
            }
            prop_assert!(spent.0 <= limit);
        }
    }
}
