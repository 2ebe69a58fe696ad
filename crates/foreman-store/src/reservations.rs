//! `FileReservationStore` on SQL: all-or-nothing file reservations shared by every node, with
//! takeover of rows whose holder is no longer worked on.
//!
//! `try_reserve` runs in one write transaction. On PostgreSQL it first takes an advisory lock
//! for the project, so reservers of one project run one at a time while other projects go on;
//! on SQLite the single writer serializes it. It then inserts the missing rows
//! (`ON CONFLICT DO NOTHING`), reads every requested row back (`FOR UPDATE` on PostgreSQL, so a
//! concurrent `release_files` cannot delete a row it is about to take over), and either refuses
//! (rolling its inserts back) because a blocking holder has one, or takes over the rows of holders
//! that no longer block.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use async_trait::async_trait;
use foreman_domain::file_reservation::{holder_blocks, normalise_paths};
use foreman_domain::{
    FileReservation, FileReservationOutcome, FileReservationStore, StoreError, StoreResult, Ticket,
    TicketId,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use crate::convert::ts;
use crate::entity::{file_reservations, tickets};
use crate::rows::require_ticket;
use crate::{Backend, SqlStore, be, locks};

use file_reservations::Column as F;

fn row(project: &str, path: &str, ticket: &TicketId, now: i64) -> file_reservations::ActiveModel {
    file_reservations::ActiveModel {
        project: Set(project.to_owned()),
        path: Set(path.to_owned()),
        ticket_id: Set(ticket.to_string()),
        created_at: Set(now),
    }
}

impl SqlStore {
    /// On PostgreSQL, a transaction-scoped advisory lock for file reservations in `project`
    /// (the two-key form, so it never meets the single-key locks of [`locks`]).
    async fn serialize_project(&self, txn: &DatabaseTransaction, project: &str) -> StoreResult<()> {
        if self.backend == Backend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                [locks::FILE_RESERVATIONS.into(), project.into()],
            ))
            .await
            .map_err(be)?;
        }
        Ok(())
    }
}

#[async_trait]
impl FileReservationStore for SqlStore {
    async fn try_reserve(
        &self,
        project: &str,
        ticket: &TicketId,
        files: &BTreeSet<String>,
    ) -> StoreResult<FileReservationOutcome> {
        let paths = normalise_paths(files);
        let now_t = foreman_domain::now();
        let now = ts(now_t);
        let txn = self.write().await?;
        let owner = require_ticket(&txn, ticket.as_str()).await?;
        if owner.project != project {
            return Err(StoreError::Invalid(format!(
                "ticket {ticket} belongs to project {}, not {project}",
                owner.project
            )));
        }
        if paths.is_empty() {
            return Ok(FileReservationOutcome::Granted);
        }
        self.serialize_project(&txn, project).await?;
        // Sorted, so concurrent inserters meet their conflicts in one order.
        file_reservations::Entity::insert_many(paths.iter().map(|p| row(project, p, ticket, now)))
            .on_conflict(
                OnConflict::columns([F::Project, F::Path])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(be)?;
        let mut q = file_reservations::Entity::find()
            .filter(F::Project.eq(project))
            .filter(F::Path.is_in(paths.iter().map(String::as_str)))
            .order_by_asc(F::Path);
        if self.backend == Backend::Postgres {
            q = q.lock_exclusive();
        }
        let rows = q.all(&txn).await.map_err(be)?;
        // A row released between the insert and the read: the path is free again.
        let found: HashSet<&str> = rows.iter().map(|r| r.path.as_str()).collect();
        let missing: Vec<&String> = paths
            .iter()
            .filter(|p| !found.contains(p.as_str()))
            .collect();
        if !missing.is_empty() {
            file_reservations::Entity::insert_many(
                missing.into_iter().map(|p| row(project, p, ticket, now)),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(be)?;
        }
        let others: BTreeMap<&str, &str> = rows
            .iter()
            .filter(|r| r.ticket_id != ticket.as_str())
            .map(|r| (r.path.as_str(), r.ticket_id.as_str()))
            .collect();
        if others.is_empty() {
            self.commit(txn).await?;
            return Ok(FileReservationOutcome::Granted);
        }
        let holders: BTreeSet<&str> = others.values().copied().collect();
        let mut blocking = HashSet::new();
        for m in tickets::Entity::find()
            .filter(tickets::Column::Id.is_in(holders.iter().copied()))
            .all(&txn)
            .await
            .map_err(be)?
        {
            let holder = Ticket::try_from(m)?;
            if holder_blocks(&holder, now_t) {
                blocking.insert(holder.id.to_string());
            }
        }
        if let Some((path, holder)) = others.iter().find(|(_, h)| blocking.contains(**h)) {
            let outcome = FileReservationOutcome::Held {
                path: (*path).to_owned(),
                holder: TicketId::from((*holder).to_owned()),
            };
            // All or nothing: the inserts go, and the locks are free before the caller waits.
            txn.rollback().await.map_err(be)?;
            return Ok(outcome);
        }
        let taken = file_reservations::Entity::update_many()
            .col_expr(F::TicketId, Expr::val(ticket.as_str()))
            .col_expr(F::CreatedAt, Expr::val(now))
            .filter(F::Project.eq(project))
            .filter(F::Path.is_in(others.keys().copied()))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        self.commit(txn).await?;
        tracing::info!(ticket_id = %ticket, project, taken, previous = ?holders, "took over file reservations of tickets no longer worked on");
        Ok(FileReservationOutcome::Granted)
    }

    async fn release_files(&self, ticket: &TicketId) -> StoreResult<u64> {
        let txn = self.write().await?;
        let n = file_reservations::Entity::delete_many()
            .filter(F::TicketId.eq(ticket.as_str()))
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        self.commit(txn).await?;
        Ok(n)
    }

    async fn list_reservations(&self, project: Option<&str>) -> StoreResult<Vec<FileReservation>> {
        let mut q = file_reservations::Entity::find();
        if let Some(p) = project {
            q = q.filter(F::Project.eq(p));
        }
        Ok(q.order_by_asc(F::Project)
            .order_by_asc(F::Path)
            .all(self.reader())
            .await
            .map_err(be)?
            .into_iter()
            .map(|m| FileReservation {
                project: m.project,
                path: m.path,
                ticket_id: TicketId::from(m.ticket_id),
                created_at: foreman_domain::micros_to_time(m.created_at),
            })
            .collect())
    }
}
