//! Ticket and task row reads and writes that several ports share, made inside the caller's
//! transaction (or on the reader for plain lookups).

use foreman_domain::fence::check_fence;
use foreman_domain::{FencingToken, StoreError, StoreResult, Task, Ticket};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};

use crate::be;
use crate::convert::ts;
use crate::entity::{tasks, tickets};

/// A ticket by id.
pub(crate) async fn load_ticket(c: &impl ConnectionTrait, id: &str) -> StoreResult<Option<Ticket>> {
    tickets::Entity::find_by_id(id.to_owned())
        .one(c)
        .await
        .map_err(be)?
        .map(Ticket::try_from)
        .transpose()
}

/// A ticket by id; [`StoreError::NotFound`] when missing.
pub(crate) async fn require_ticket(c: &impl ConnectionTrait, id: &str) -> StoreResult<Ticket> {
    load_ticket(c, id)
        .await?
        .ok_or_else(|| StoreError::not_found("ticket", id))
}

/// Reads the ticket inside `c` and checks `fence` against it, for a write that the statement
/// itself does not fence (a ticket update whose `WHERE` names the token needs only
/// [`checked_ticket`]). With a fence, the read locks the ticket row until the transaction ends
/// (`SELECT … FOR SHARE` on PostgreSQL): under READ COMMITTED a plain read does not stop a
/// lease takeover from committing between the check and the write, which would let a worker
/// that lost its lease write after the new holder took over; with the lock the takeover waits
/// for this transaction. (SQLite takes the database's write lock at `BEGIN IMMEDIATE`, before
/// the read, so nothing can commit in between there; sea-query writes no lock clause for it.)
pub(crate) async fn fenced_ticket(
    c: &impl ConnectionTrait,
    id: &str,
    fence: Option<FencingToken>,
) -> StoreResult<Ticket> {
    let probe = crate::fence_probe::take(id);
    let lock = fence.is_some() && probe.as_ref().is_none_or(|p| p.lock);
    let mut q = tickets::Entity::find_by_id(id.to_owned());
    if lock {
        q = q.lock_shared();
    }
    let t = q
        .one(c)
        .await
        .map_err(be)?
        .map(Ticket::try_from)
        .transpose()?
        .ok_or_else(|| StoreError::not_found("ticket", id))?;
    check_fence(&t, fence)?;
    if let Some(p) = probe {
        (p.hook)().await;
    }
    Ok(t)
}

/// Reads the ticket inside `c` and checks `fence` against it, without a lock: for a write to
/// the ticket row whose statement carries the fence itself, or to say why such a write matched
/// nothing.
pub(crate) async fn checked_ticket(
    c: &impl ConnectionTrait,
    id: &str,
    fence: Option<FencingToken>,
) -> StoreResult<Ticket> {
    let t = require_ticket(c, id).await?;
    check_fence(&t, fence)?;
    Ok(t)
}

/// A task by id.
pub(crate) async fn load_task(c: &impl ConnectionTrait, id: &str) -> StoreResult<Option<Task>> {
    tasks::Entity::find_by_id(id.to_owned())
        .one(c)
        .await
        .map_err(be)?
        .map(Task::try_from)
        .transpose()
}

/// A task by id; [`StoreError::NotFound`] when missing.
pub(crate) async fn require_task(c: &impl ConnectionTrait, id: &str) -> StoreResult<Task> {
    load_task(c, id)
        .await?
        .ok_or_else(|| StoreError::not_found("task", id))
}

/// Writes a task reset (`after`, from [`foreman_domain::transition::reset_task`]) over `before`
/// if the task is still in `before`'s status; `false` when another writer moved it first.
pub(crate) async fn write_task_reset(
    txn: &DatabaseTransaction,
    before: &Task,
    after: &Task,
) -> StoreResult<bool> {
    use tasks::Column as C;
    let n = tasks::Entity::update_many()
        .col_expr(C::Status, Expr::val(after.status.as_str()))
        .col_expr(
            C::ImplementationAttempts,
            Expr::val(after.implementation_attempts),
        )
        .col_expr(C::SpecReviewAttempts, Expr::val(after.spec_review_attempts))
        .col_expr(
            C::QualityReviewAttempts,
            Expr::val(after.quality_review_attempts),
        )
        .col_expr(C::LastError, Expr::val(after.last_error.clone()))
        .col_expr(C::CompletedAt, Expr::val(after.completed_at.map(ts)))
        .filter(C::Id.eq(before.id.as_str()))
        .filter(C::Status.eq(before.status.as_str()))
        .exec(txn)
        .await
        .map_err(be)?
        .rows_affected;
    Ok(n == 1)
}
