//! `TicketStore` on SQL: compare-and-set transitions, fenced patches, keyset listing, leases.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::fence::{cancelled_ticket, lease_expiry};
use foreman_domain::transition::{CompletedAt, check_ticket_transition, requeued_ticket};
use foreman_domain::{
    Claim, ClaimRequest, FencingToken, NewTicket, Page, StoreError, StoreResult, TaskStatus,
    Ticket, TicketCursor, TicketFilter, TicketId, TicketPatch, TicketRequeue, TicketSort,
    TicketStatus, TicketStore,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, UpdateMany,
};

use crate::convert::{all, ticket_row, to_json, ts};
use crate::entity::{cost_reservations, events, llm_calls, tasks, tickets};
use crate::rows::{checked_ticket, load_ticket, require_ticket, write_task_reset};
use crate::{Backend, SqlStore, be, db_err};

use tickets::Column as C;

/// Releases the ticket's budget reservations inside `txn`: they belong to its lease.
async fn release_reservations(txn: &DatabaseTransaction, ticket: &str) -> StoreResult<u64> {
    Ok(cost_reservations::Entity::delete_many()
        .filter(cost_reservations::Column::TicketId.eq(ticket))
        .exec(txn)
        .await
        .map_err(be)?
        .rows_affected)
}

/// `u` writing the outcome fields of `after` (status, error, completion, last change).
fn with_outcome(u: UpdateMany<tickets::Entity>, after: &Ticket) -> UpdateMany<tickets::Entity> {
    u.col_expr(C::Status, Expr::val(after.status.as_str()))
        .col_expr(C::LastError, Expr::val(after.last_error.clone()))
        .col_expr(C::LastErrorType, Expr::val(after.last_error_type.clone()))
        .col_expr(C::CompletedAt, Expr::val(after.completed_at.map(ts)))
        .col_expr(C::UpdatedAt, Expr::val(ts(after.updated_at)))
}

fn lease_free(now: i64) -> Condition {
    Condition::any()
        .add(C::LeaseOwner.is_null())
        .add(C::LeaseExpiresAt.is_null())
        .add(C::LeaseExpiresAt.lte(now))
}

fn like_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for ch in needle.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

fn sort_column(sort: TicketSort) -> C {
    match sort {
        TicketSort::CreatedDesc | TicketSort::CreatedAsc => C::CreatedAt,
        TicketSort::UpdatedDesc => C::UpdatedAt,
    }
}

impl SqlStore {
    /// `list_tickets` without the cache: one keyset query.
    async fn query_tickets(&self, filter: &TicketFilter) -> StoreResult<Page<Ticket>> {
        let cursor = filter
            .cursor
            .as_deref()
            .map(|c| TicketCursor::decode(c, filter.sort))
            .transpose()?;
        let limit = filter.effective_limit();
        let key = sort_column(filter.sort);
        let mut q = tickets::Entity::find();
        if let Some(p) = &filter.project {
            q = q.filter(C::Project.eq(p.as_str()));
        }
        match filter.statuses.as_slice() {
            [] => {}
            [one] => q = q.filter(C::Status.eq(one.as_str())),
            many => q = q.filter(C::Status.is_in(many.iter().map(|s| s.as_str()))),
        }
        if let Some(s) = filter.submitter.as_deref() {
            q = q.filter(C::Submitter.eq(s));
        }
        if let Some(p) = &filter.parent_id {
            q = q.filter(C::ParentId.eq(p.as_str()));
        }
        if let Some(needle) = filter.search.as_deref().filter(|s| !s.is_empty()) {
            let pattern = like_pattern(needle);
            q = q.filter(
                Condition::any()
                    .add(
                        Expr::expr(Func::lower(Expr::col(C::Title)))
                            .like(LikeExpr::new(pattern.clone()).escape('\\')),
                    )
                    .add(
                        Expr::expr(Func::lower(Expr::col(C::ExternalId)))
                            .like(LikeExpr::new(pattern).escape('\\')),
                    ),
            );
        }
        let order = if filter.sort.is_descending() {
            Order::Desc
        } else {
            Order::Asc
        };
        if let Some(c) = &cursor {
            let row = Expr::tuple([Expr::col(key), Expr::col(C::Id)]);
            let at = Expr::tuple([Expr::val(c.at_micros), Expr::val(c.id.as_str())]);
            q = q.filter(if filter.sort.is_descending() {
                row.lt(at)
            } else {
                row.gt(at)
            });
        } else if filter.offset > 0 {
            q = q.offset(crate::sql_offset(filter.offset));
        }
        let rows = q
            .order_by(key, order.clone())
            .order_by(C::Id, order)
            .limit(u64::from(limit) + 1)
            .all(self.reader())
            .await
            .map_err(be)?;
        let mut items: Vec<Ticket> = all(rows)?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|t| TicketCursor::after(t, filter.sort).encode())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl TicketStore for SqlStore {
    async fn create_ticket(&self, new: NewTicket) -> StoreResult<Ticket> {
        let project = new.validate()?;
        let ticket = Ticket::from_new(TicketId::new(), project, new, foreman_domain::now());
        let row = ticket_row(&ticket)?;
        let txn = self.write().await?;
        if let Some(parent) = &ticket.parent_id {
            require_ticket(&txn, parent.as_str()).await?;
        }
        tickets::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(db_err("ticket", || {
                format!(
                    "external_id {} in project {}",
                    ticket.external_id, ticket.project
                )
            }))?;
        self.commit(txn).await?;
        tracing::debug!(ticket_id = %ticket.id, project = %ticket.project, "ticket created");
        Ok(ticket)
    }

    async fn get_ticket(&self, id: &TicketId) -> StoreResult<Option<Ticket>> {
        let Some(generation) = self.cache().generation().await else {
            return load_ticket(self.reader(), id.as_str()).await;
        };
        if let Some(hit) = self.cache().ticket(generation, id.as_str()) {
            return Ok(Option::clone(&hit));
        }
        let ticket = load_ticket(self.reader(), id.as_str()).await?;
        self.cache()
            .put_ticket(generation, id.as_str(), ticket.clone());
        Ok(ticket)
    }

    async fn get_ticket_by_external_id(
        &self,
        project: &str,
        external_id: &str,
    ) -> StoreResult<Option<Ticket>> {
        tickets::Entity::find()
            .filter(C::Project.eq(project))
            .filter(C::ExternalId.eq(external_id))
            .one(self.reader())
            .await
            .map_err(be)?
            .map(Ticket::try_from)
            .transpose()
    }

    async fn list_tickets(&self, filter: &TicketFilter) -> StoreResult<Page<Ticket>> {
        let Some(generation) = self.cache().generation().await else {
            return self.query_tickets(filter).await;
        };
        if let Some(hit) = self.cache().list(generation, filter) {
            return Ok(Page::clone(&hit));
        }
        let page = self.query_tickets(filter).await?;
        self.cache().put_list(generation, filter, page.clone());
        Ok(page)
    }

    async fn tickets_generation(&self) -> StoreResult<Option<u64>> {
        Ok(self.cache().generation().await)
    }

    async fn count_tickets_by_status(
        &self,
        project: Option<&str>,
    ) -> StoreResult<Vec<(TicketStatus, i64)>> {
        let mut q = tickets::Entity::find()
            .select_only()
            .column(C::Status)
            .column_as(Expr::col(C::Id).count(), "n")
            .group_by(C::Status);
        if let Some(p) = project {
            q = q.filter(C::Project.eq(p));
        }
        let rows: Vec<(String, i64)> = q.into_tuple().all(self.reader()).await.map_err(be)?;
        let mut out = rows
            .into_iter()
            .map(|(s, n)| {
                s.parse::<TicketStatus>()
                    .map(|s| (s, n))
                    .map_err(|e| StoreError::corrupt("tickets.status", e))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort();
        Ok(out)
    }

    async fn transition_ticket(
        &self,
        id: &TicketId,
        from: TicketStatus,
        to: TicketStatus,
        fence: Option<FencingToken>,
    ) -> StoreResult<Ticket> {
        let txn = self.write().await?;
        if TicketStatus::can_transition(from, to) {
            let now = ts(foreman_domain::now());
            let mut u = tickets::Entity::update_many()
                .col_expr(C::Status, Expr::val(to.as_str()))
                .col_expr(C::UpdatedAt, Expr::val(now))
                .filter(C::Id.eq(id.as_str()))
                .filter(C::Status.eq(from.as_str()));
            match CompletedAt::of(from.is_terminal(), to.is_terminal()) {
                CompletedAt::Set => u = u.col_expr(C::CompletedAt, Expr::val(now)),
                CompletedAt::Clear => {
                    u = u.col_expr(C::CompletedAt, Expr::val(Option::<i64>::None));
                }
                CompletedAt::Keep => {}
            }
            if let Some(f) = fence {
                u = u.filter(C::FencingToken.eq(f.0));
            }
            if u.exec(&txn).await.map_err(be)?.rows_affected == 1 {
                let t = require_ticket(&txn, id.as_str()).await?;
                self.commit(txn).await?;
                tracing::debug!(ticket_id = %id, from = %from, to = %to, "ticket transitioned");
                return Ok(t);
            }
        }
        // Nothing changed: say why, by the same rules the memory store applies.
        let current = checked_ticket(&txn, id.as_str(), fence).await?;
        check_ticket_transition(&current, from, to)?;
        Err(StoreError::Conflict {
            entity: "ticket",
            id: id.to_string(),
            current: current.status.to_string(),
            expected: from.to_string(),
        })
    }

    async fn requeue_ticket(
        &self,
        id: &TicketId,
        fence: Option<FencingToken>,
    ) -> StoreResult<TicketRequeue> {
        let now = foreman_domain::now();
        let txn = self.write().await?;
        let before = checked_ticket(&txn, id.as_str(), fence).await?;
        let after = requeued_ticket(&before, now)?;
        // Compare-and-set on the status and token read above: of concurrent requeuers, the
        // first to write wins; the others match no row (PostgreSQL re-reads the row once the
        // winner commits; SQLite's single writer runs them one after the other).
        let written = with_outcome(tickets::Entity::update_many(), &after)
            .filter(C::Id.eq(id.as_str()))
            .filter(C::Status.eq(before.status.as_str()))
            .filter(C::FencingToken.eq(before.fencing_token.0))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        if written != 1 {
            let current = checked_ticket(&txn, id.as_str(), fence).await?;
            requeued_ticket(&current, now)?;
            return Err(StoreError::Conflict {
                entity: "ticket",
                id: id.to_string(),
                current: current.status.to_string(),
                expected: before.status.to_string(),
            });
        }
        let resets: Vec<&str> = TaskStatus::ALL
            .iter()
            .filter(|s| foreman_domain::transition::resets_with_ticket(**s))
            .map(|s| s.as_str())
            .collect();
        let rows = tasks::Entity::find()
            .filter(tasks::Column::TicketId.eq(id.as_str()))
            .filter(tasks::Column::Status.is_in(resets))
            .order_by_asc(tasks::Column::Sequence)
            .all(&txn)
            .await
            .map_err(be)?;
        let mut tasks_reset = Vec::with_capacity(rows.len());
        for task in all::<_, foreman_domain::Task>(rows)? {
            let reset = foreman_domain::transition::reset_task(&task, now);
            if write_task_reset(&txn, &task, &reset).await? {
                tasks_reset.push(task.id);
            }
        }
        let ticket = require_ticket(&txn, id.as_str()).await?;
        self.commit(txn).await?;
        tracing::info!(ticket_id = %id, from = %before.status, tasks_reset = tasks_reset.len(), "ticket requeued");
        Ok(TicketRequeue {
            ticket,
            from: before.status,
            tasks_reset,
        })
    }

    async fn update_ticket(
        &self,
        id: &TicketId,
        patch: TicketPatch,
        fence: Option<FencingToken>,
    ) -> StoreResult<Ticket> {
        let TicketPatch {
            title,
            description,
            acceptance_criteria,
            priority,
            labels,
            branch_name,
            pr_url,
            pr_number,
            is_partial,
            last_completed_task_seq,
            last_error,
            last_error_type,
            started_at,
        } = patch;
        let mut u = tickets::Entity::update_many()
            .col_expr(C::UpdatedAt, Expr::val(ts(foreman_domain::now())))
            .filter(C::Id.eq(id.as_str()));
        if let Some(v) = title {
            u = u.col_expr(C::Title, Expr::val(v));
        }
        if let Some(v) = description {
            u = u.col_expr(C::Description, Expr::val(v));
        }
        if let Some(v) = acceptance_criteria {
            u = u.col_expr(C::AcceptanceCriteria, Expr::val(v));
        }
        if let Some(v) = priority {
            u = u.col_expr(C::Priority, Expr::val(v));
        }
        if let Some(v) = labels {
            u = u.col_expr(C::Labels, Expr::val(to_json(&v)?));
        }
        if let Some(v) = branch_name {
            u = u.col_expr(C::BranchName, Expr::val(v));
        }
        if let Some(v) = pr_url {
            u = u.col_expr(C::PrUrl, Expr::val(v));
        }
        if let Some(v) = pr_number {
            u = u.col_expr(C::PrNumber, Expr::val(v));
        }
        if let Some(v) = is_partial {
            u = u.col_expr(C::IsPartial, Expr::val(v));
        }
        if let Some(v) = last_completed_task_seq {
            u = u.col_expr(C::LastCompletedTaskSeq, Expr::val(v));
        }
        if let Some(v) = last_error {
            u = u.col_expr(C::LastError, Expr::val(v));
        }
        if let Some(v) = last_error_type {
            u = u.col_expr(C::LastErrorType, Expr::val(v));
        }
        if let Some(v) = started_at {
            u = u.col_expr(C::StartedAt, Expr::val(v.map(ts)));
        }
        if let Some(f) = fence {
            u = u.filter(C::FencingToken.eq(f.0));
        }
        let txn = self.write().await?;
        if u.exec(&txn).await.map_err(be)?.rows_affected == 0 {
            // Not found or stale: say which.
            checked_ticket(&txn, id.as_str(), fence).await?;
            return Err(StoreError::not_found("ticket", id.as_str()));
        }
        let t = require_ticket(&txn, id.as_str()).await?;
        self.commit(txn).await?;
        Ok(t)
    }

    async fn delete_ticket(&self, id: &TicketId) -> StoreResult<bool> {
        let txn = self.write().await?;
        events::Entity::delete_many()
            .filter(events::Column::TicketId.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(be)?;
        // The calls stay, as tombstones (`LlmCall::tombstoned`): what was spent stays spent.
        llm_calls::Entity::update_many()
            .col_expr(
                llm_calls::Column::DeletedTicketId,
                Expr::col(llm_calls::Column::TicketId),
            )
            .col_expr(
                llm_calls::Column::TicketId,
                Expr::val(Option::<String>::None),
            )
            .col_expr(llm_calls::Column::TaskId, Expr::val(Option::<String>::None))
            .filter(llm_calls::Column::TicketId.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(be)?;
        // Tasks, budget and file reservations go by ON DELETE CASCADE; children lose their
        // parent by ON DELETE SET NULL.
        let deleted = tickets::Entity::delete_by_id(id.to_string())
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        self.commit(txn).await?;
        if deleted > 0 {
            tracing::info!(ticket_id = %id, "ticket deleted");
        }
        Ok(deleted > 0)
    }

    async fn claim_next(&self, req: &ClaimRequest) -> StoreResult<Option<Claim>> {
        if req.worker_id.is_empty() {
            return Err(StoreError::Invalid("worker_id must not be empty".into()));
        }
        if req.statuses.is_empty() {
            return Err(StoreError::Invalid(
                "claim needs at least one status to claim from".into(),
            ));
        }
        let now_t = foreman_domain::now();
        let now = ts(now_t);
        let expires_at = lease_expiry(now_t, req.lease)?;
        let statuses = || C::Status.is_in(req.statuses.iter().map(|s| s.as_str()));
        let txn = self.write().await?;
        let mut q = tickets::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(statuses())
            .filter(lease_free(now));
        if let Some(p) = &req.project {
            q = q.filter(C::Project.eq(p.as_str()));
        }
        q = q
            .order_by(C::Priority, Order::Desc)
            .order_by(C::CreatedAt, Order::Asc)
            .order_by(C::Id, Order::Asc)
            .limit(1);
        if self.backend == Backend::Postgres {
            // Rows another claimer holds are skipped, not waited for.
            q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let Some(id) = q.into_tuple::<String>().one(&txn).await.map_err(be)? else {
            return Ok(None);
        };
        let claimed = tickets::Entity::update_many()
            .col_expr(C::FencingToken, Expr::col(C::FencingToken).add(1))
            .col_expr(C::LeaseOwner, Expr::val(req.worker_id.as_str()))
            .col_expr(C::LeaseExpiresAt, Expr::val(ts(expires_at)))
            .col_expr(C::UpdatedAt, Expr::val(now))
            .filter(C::Id.eq(id.as_str()))
            .filter(statuses())
            .filter(lease_free(now))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        if claimed != 1 {
            // The row changed between the select and the update (cannot happen under the
            // row lock or the single writer, but never hand out a lease we did not take).
            return Ok(None);
        }
        let released = release_reservations(&txn, &id).await?;
        let ticket = require_ticket(&txn, &id).await?;
        self.commit(txn).await?;
        if released > 0 {
            tracing::info!(ticket_id = %ticket.id, released, "budget reservations of the previous lease released");
        }
        tracing::debug!(ticket_id = %ticket.id, worker_id = %req.worker_id, fencing_token = ticket.fencing_token.0, "ticket claimed");
        Ok(Some(Claim {
            fencing_token: ticket.fencing_token,
            expires_at,
            ticket,
        }))
    }

    async fn renew_lease(
        &self,
        id: &TicketId,
        worker_id: &str,
        fence: FencingToken,
        lease: Duration,
    ) -> StoreResult<DateTime<Utc>> {
        let now = foreman_domain::now();
        let expires_at = lease_expiry(now, lease)?;
        let txn = self.write().await?;
        let n = tickets::Entity::update_many()
            .col_expr(C::LeaseExpiresAt, Expr::val(ts(expires_at)))
            .filter(C::Id.eq(id.as_str()))
            .filter(C::LeaseOwner.eq(worker_id))
            .filter(C::FencingToken.eq(fence.0))
            // an expired lease is lost even if nobody has claimed the ticket since
            .filter(C::LeaseExpiresAt.gt(ts(now)))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        if n == 0 {
            require_ticket(&txn, id.as_str()).await?;
            return Err(StoreError::LeaseNotHeld {
                ticket_id: id.to_string(),
                worker_id: worker_id.to_owned(),
            });
        }
        self.commit(txn).await?;
        Ok(expires_at)
    }

    async fn release_lease(
        &self,
        id: &TicketId,
        worker_id: &str,
        fence: FencingToken,
    ) -> StoreResult<()> {
        let txn = self.write().await?;
        let n = tickets::Entity::update_many()
            .col_expr(C::LeaseOwner, Expr::val(Option::<String>::None))
            .col_expr(C::LeaseExpiresAt, Expr::val(Option::<i64>::None))
            .filter(C::Id.eq(id.as_str()))
            .filter(C::LeaseOwner.eq(worker_id))
            .filter(C::FencingToken.eq(fence.0))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        if n == 0 {
            require_ticket(&txn, id.as_str()).await?;
            return Err(StoreError::LeaseNotHeld {
                ticket_id: id.to_string(),
                worker_id: worker_id.to_owned(),
            });
        }
        release_reservations(&txn, id.as_str()).await?;
        self.commit(txn).await?;
        Ok(())
    }

    async fn cancel_ticket(&self, id: &TicketId) -> StoreResult<Ticket> {
        let now = foreman_domain::now();
        let txn = self.write().await?;
        let before = require_ticket(&txn, id.as_str()).await?;
        let after = cancelled_ticket(&before, now)?;
        // compare-and-set on what was read: a concurrent claim or move makes this a conflict
        let n = with_outcome(tickets::Entity::update_many(), &after)
            .col_expr(C::LeaseOwner, Expr::val(Option::<String>::None))
            .col_expr(C::LeaseExpiresAt, Expr::val(Option::<i64>::None))
            .col_expr(C::FencingToken, Expr::val(after.fencing_token.0))
            .filter(C::Id.eq(id.as_str()))
            .filter(C::Status.eq(before.status.as_str()))
            .filter(C::FencingToken.eq(before.fencing_token.0))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        if n != 1 {
            let current = require_ticket(&txn, id.as_str()).await?;
            cancelled_ticket(&current, now)?;
            return Err(StoreError::Conflict {
                entity: "ticket",
                id: id.to_string(),
                current: current.status.to_string(),
                expected: before.status.to_string(),
            });
        }
        release_reservations(&txn, id.as_str()).await?;
        let t = require_ticket(&txn, id.as_str()).await?;
        self.commit(txn).await?;
        tracing::info!(ticket_id = %id, from = %before.status, "ticket cancelled");
        Ok(t)
    }
}
