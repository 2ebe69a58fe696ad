//! Fencing tokens and leases: the checks every store makes before a write under a lease.
//!
//! A claim bumps the ticket's fencing token; a writer presents the token it got and is refused
//! with [`StoreError::StaleFence`] when the ticket has moved on. Stores read the ticket inside
//! their transaction (or critical section) and call these functions, so the rule is written once.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{StoreError, StoreResult};
use crate::ids::FencingToken;
use crate::ticket::Ticket;

/// Checks the token a writer presents against the ticket's current one. `None` skips the check
/// (a person acting through the API holds no lease).
///
/// # Errors
/// [`StoreError::StaleFence`] when `presented` is not the ticket's current token.
pub fn check_fence(ticket: &Ticket, presented: Option<FencingToken>) -> StoreResult<()> {
    match presented {
        Some(presented) if presented != ticket.fencing_token => Err(StoreError::StaleFence {
            ticket_id: ticket.id.to_string(),
            presented,
            current: ticket.fencing_token,
        }),
        _ => Ok(()),
    }
}

/// When a lease of length `lease` taken at `now` expires, truncated to the microseconds every
/// store keeps.
///
/// # Errors
/// [`StoreError::Invalid`] when the expiry does not fit a timestamp.
pub fn lease_expiry(now: DateTime<Utc>, lease: Duration) -> StoreResult<DateTime<Utc>> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .map(|t| crate::micros_to_time(crate::time_to_micros(t)))
        .ok_or_else(|| StoreError::Invalid(format!("lease of {lease:?} is too long")))
}

/// Whether the ticket's lease may be claimed at `now`: nobody holds it, or it has expired.
#[must_use]
pub fn lease_is_free(ticket: &Ticket, now: DateTime<Utc>) -> bool {
    ticket.lease_owner.is_none() || ticket.lease_expires_at.is_none_or(|e| e <= now)
}

/// Checks that `worker_id` still holds the ticket's lease under `fence`. With `now`, an expired
/// lease counts as lost even if nobody has claimed the ticket since (renewals); without it
/// only the holder and the token are compared (releases).
///
/// # Errors
/// [`StoreError::LeaseNotHeld`] otherwise.
pub fn check_lease_held(
    ticket: &Ticket,
    worker_id: &str,
    fence: FencingToken,
    now: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    let expired = now.is_some_and(|now| ticket.lease_expires_at.is_none_or(|e| e <= now));
    if ticket.lease_owner.as_deref() != Some(worker_id) || ticket.fencing_token != fence || expired
    {
        return Err(StoreError::LeaseNotHeld {
            ticket_id: ticket.id.to_string(),
            worker_id: worker_id.to_owned(),
        });
    }
    Ok(())
}

/// The `last_error_type` (and `last_error`) of a cancelled ticket.
pub const CANCELLED: &str = "cancelled";

/// The ticket cancelled at `now`: `failed` with the error `cancelled`, `completed_at` set, its
/// lease taken away and its fencing token bumped, so a worker still running it is refused
/// (`StaleFence`) at its next write and stops. Its tasks, calls, costs and events are kept.
///
/// # Errors
/// [`StoreError::Conflict`] naming the current status when the ticket cannot move to `failed`
/// (it is finished, already failed or blocked).
pub fn cancelled_ticket(ticket: &Ticket, now: DateTime<Utc>) -> StoreResult<Ticket> {
    use crate::status::TicketStatus;
    if !TicketStatus::can_transition(ticket.status, TicketStatus::Failed) {
        return Err(StoreError::Conflict {
            entity: "ticket",
            id: ticket.id.to_string(),
            current: ticket.status.to_string(),
            expected: "a status that can still fail".to_owned(),
        });
    }
    let mut t = crate::transition::transitioned_ticket(ticket, TicketStatus::Failed, now);
    t.last_error = Some(CANCELLED.to_owned());
    t.last_error_type = Some(CANCELLED.to_owned());
    t.lease_owner = None;
    t.lease_expires_at = None;
    t.fencing_token = FencingToken(ticket.fencing_token.0 + 1);
    Ok(t)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ids::TicketId;
    use crate::ticket::NewTicket;

    fn ticket(token: i64) -> Ticket {
        let mut t = Ticket::from_new(
            TicketId::new(),
            crate::DEFAULT_PROJECT.to_owned(),
            NewTicket {
                external_id: "F-1".into(),
                ..NewTicket::default()
            },
            crate::micros_to_time(1_700_000_000_000_000),
        );
        t.fencing_token = FencingToken(token);
        t
    }

    #[test]
    fn no_token_skips_the_check() {
        assert!(check_fence(&ticket(7), None).is_ok());
    }

    #[test]
    fn stale_token_names_both() {
        let t = ticket(7);
        match check_fence(&t, Some(FencingToken(6))) {
            Err(StoreError::StaleFence {
                ticket_id,
                presented,
                current,
            }) => {
                assert_eq!(ticket_id, t.id.to_string());
                assert_eq!(presented, FencingToken(6));
                assert_eq!(current, FencingToken(7));
            }
            other => panic!("expected a stale fence, got {other:?}"),
        }
    }

    #[test]
    fn lease_expiry_truncates_and_refuses_overflow() {
        let now = crate::micros_to_time(1_000_000);
        let until = lease_expiry(now, Duration::from_nanos(1_500)).unwrap();
        assert_eq!(crate::time_to_micros(until), 1_000_001);
        assert!(matches!(
            lease_expiry(now, Duration::MAX),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn leases_are_free_when_unowned_or_expired() {
        let now = crate::micros_to_time(2_000_000);
        let mut t = ticket(1);
        assert!(lease_is_free(&t, now));
        t.lease_owner = Some("w".into());
        t.lease_expires_at = Some(crate::micros_to_time(3_000_000));
        assert!(!lease_is_free(&t, now));
        t.lease_expires_at = Some(now);
        assert!(lease_is_free(&t, now));
    }

    #[test]
    fn held_leases_need_holder_token_and_time() {
        let now = crate::micros_to_time(2_000_000);
        let mut t = ticket(3);
        t.lease_owner = Some("w".into());
        t.lease_expires_at = Some(crate::micros_to_time(3_000_000));
        assert!(check_lease_held(&t, "w", FencingToken(3), Some(now)).is_ok());
        for (worker, token) in [("x", 3), ("w", 2)] {
            assert!(matches!(
                check_lease_held(&t, worker, FencingToken(token), Some(now)),
                Err(StoreError::LeaseNotHeld { .. })
            ));
        }
        let later = crate::micros_to_time(3_000_000);
        assert!(check_lease_held(&t, "w", FencingToken(3), Some(later)).is_err());
        assert!(check_lease_held(&t, "w", FencingToken(3), None).is_ok());
    }

    #[test]
    fn a_cancel_fails_the_ticket_and_fences_its_worker_out() {
        let now = crate::micros_to_time(5_000_000);
        let mut t = ticket(4);
        t.status = crate::status::TicketStatus::Implementing;
        t.lease_owner = Some("w".into());
        t.lease_expires_at = Some(crate::micros_to_time(9_000_000));
        let c = cancelled_ticket(&t, now).unwrap();
        assert_eq!(c.status, crate::status::TicketStatus::Failed);
        assert_eq!(c.last_error_type.as_deref(), Some(CANCELLED));
        assert_eq!((&c.lease_owner, c.lease_expires_at), (&None, None));
        assert!(check_fence(&c, Some(FencingToken(4))).is_err());
        assert_eq!(c.completed_at, Some(now));
        t.status = crate::status::TicketStatus::Merged;
        assert!(matches!(
            cancelled_ticket(&t, now),
            Err(StoreError::Conflict { .. })
        ));
    }

    proptest! {
        #[test]
        fn only_the_current_token_passes(current in 0i64..1_000, presented in 0i64..1_000) {
            let ok = check_fence(&ticket(current), Some(FencingToken(presented))).is_ok();
            prop_assert_eq!(ok, current == presented);
        }
    }
}
