//! Submission's write path on SQL: a batch in one transaction, with its `LOCAL-<n>` numbers
//! from a counter row per project (`counters`, `submitted/<project>`) moved in the same
//! transaction.
//!
//! The counter row is locked by its `UPDATE` (PostgreSQL) or covered by the single writer
//! (SQLite) until commit, so concurrent batches of one project number one after the other and
//! never hand out a number twice; a rolled-back batch gives its numbers back with the rest. The
//! counters of a batch are always taken in project order, so two batches cannot deadlock.
//!
//! First every ticket goes in with one multi-row `INSERT`. When an id is taken (a number that
//! a ticket created another way already has, or an id an item gives itself), the transaction
//! is rolled back and done again row by row: a numbered ticket is inserted with `ON CONFLICT
//! DO NOTHING` and takes the next number until one is free; an item's own taken id is the
//! batch's [`StoreError::Duplicate`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use foreman_domain::ticket_submission::{
    CounterMove, GENERATED_ID_PREFIX, Submission, check_numbered_batch, first_count,
};
use foreman_domain::{StoreError, StoreResult, Ticket, TicketId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, SqlErr, TransactionTrait, TryInsertResult,
};

use super::{Sql, options_row};
use crate::convert::ticket_row;
use crate::entity::{ticket_options, tickets};
use crate::rows::require_ticket;
use crate::{SqlStore, be, db_err};

/// Numbers a numbered ticket tries before the batch gives up.
const NUMBER_ATTEMPTS: usize = 10_000;

/// How the tickets of a batch are inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One `INSERT` of every ticket; a taken id fails it.
    AllAtOnce,
    /// One row at a time, numbered tickets skipping taken numbers.
    RowByRow,
}

/// Why an attempt did not commit.
enum Failed {
    /// An id was taken: try row by row.
    Taken,
    /// Anything else: the batch's error.
    Error(StoreError),
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Self::Error(e)
    }
}

/// The name of a project's counter row.
fn counter_name(project: &str) -> String {
    format!("submitted/{project}")
}

impl SqlStore {
    /// Creates a checked batch (see `SubmissionStore::submit_numbered`): `generated[i]` says
    /// item `i` is to be numbered, `moves` are the counters the batch moves, by project.
    pub(crate) async fn insert_numbered(
        &self,
        items: Vec<Submission>,
        projects: Vec<String>,
        generated: &[bool],
        moves: &[CounterMove],
    ) -> StoreResult<Vec<Ticket>> {
        let tickets = new_tickets(&items, projects, foreman_domain::now());
        match self
            .attempt(&items, tickets.clone(), generated, moves, Mode::AllAtOnce)
            .await
        {
            Ok(created) => return Ok(created),
            Err(Failed::Error(e)) => return Err(e),
            Err(Failed::Taken) => {}
        }
        match self
            .attempt(&items, tickets, generated, moves, Mode::RowByRow)
            .await
        {
            Ok(created) => Ok(created),
            Err(Failed::Error(e)) => Err(e),
            Err(Failed::Taken) => Err(StoreError::Invalid(
                "a ticket id was taken while inserting row by row".into(),
            )),
        }
    }

    /// One transaction of [`SqlStore::insert_numbered`].
    async fn attempt(
        &self,
        items: &[Submission],
        tickets: Vec<Ticket>,
        generated: &[bool],
        moves: &[CounterMove],
        mode: Mode,
    ) -> Result<Vec<Ticket>, Failed> {
        let txn = self.write().await?;
        let created = match self
            .insert_in(&txn, items, tickets, generated, moves, mode)
            .await
        {
            Ok(created) => created,
            Err(Failed::Taken) => {
                txn.rollback().await.map_err(be)?;
                return Err(Failed::Taken);
            }
            // dropping `txn` rolls every insert back
            Err(e) => return Err(e),
        };
        self.commit(txn).await?;
        tracing::debug!(count = created.len(), "tickets submitted");
        Ok(created)
    }

    /// Several batches in one transaction, each inside a savepoint of its own (see
    /// `SubmissionStore::submit_groups`).
    pub(crate) async fn insert_groups(
        &self,
        mut groups: Vec<Vec<Submission>>,
    ) -> StoreResult<Vec<StoreResult<Vec<Ticket>>>> {
        // a group of one needs no savepoint
        if groups.len() == 1
            && let Some(mut items) = groups.pop()
        {
            let outcome = match check_numbered_batch(&mut items) {
                Ok((projects, generated, moves)) => {
                    self.insert_numbered(items, projects, &generated, &moves)
                        .await
                }
                Err(e) => Err(e),
            };
            return Ok(vec![outcome]);
        }
        let now = foreman_domain::now();
        let txn = self.write().await?;
        let mut out = Vec::with_capacity(groups.len());
        for mut items in groups {
            let (projects, generated, moves) = match check_numbered_batch(&mut items) {
                Ok(checked) => checked,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            let tickets = new_tickets(&items, projects, now);
            let mut outcome = Err(StoreError::Invalid(
                "a ticket id was taken while inserting row by row".into(),
            ));
            for mode in [Mode::AllAtOnce, Mode::RowByRow] {
                let savepoint = txn.begin().await.map_err(be)?;
                match self
                    .insert_in(
                        &savepoint,
                        &items,
                        tickets.clone(),
                        &generated,
                        &moves,
                        mode,
                    )
                    .await
                {
                    Ok(created) => {
                        savepoint.commit().await.map_err(be)?;
                        outcome = Ok(created);
                        break;
                    }
                    Err(Failed::Taken) => savepoint.rollback().await.map_err(be)?,
                    Err(Failed::Error(e)) => {
                        savepoint.rollback().await.map_err(be)?;
                        outcome = Err(e);
                        break;
                    }
                }
            }
            out.push(outcome);
        }
        self.commit(txn).await?;
        tracing::debug!(groups = out.len(), "ticket batches submitted together");
        Ok(out)
    }

    /// The inserts of one batch inside `txn` (a transaction or a savepoint), which the caller
    /// commits; [`Failed::Taken`] when an id was taken (`txn` is then to be rolled back).
    async fn insert_in(
        &self,
        txn: &DatabaseTransaction,
        items: &[Submission],
        mut tickets: Vec<Ticket>,
        generated: &[bool],
        moves: &[CounterMove],
        mode: Mode,
    ) -> Result<Vec<Ticket>, Failed> {
        // the counter of each project after this batch, and the next number it hands out
        let mut counters: HashMap<&str, (i64, i64)> = HashMap::new();
        for m in moves {
            if let Some(value) = self.move_counter(txn, m).await? {
                counters.insert(m.project.as_str(), (value, value - m.tickets + 1));
            }
        }
        for ticket in &tickets {
            if let Some(parent) = &ticket.parent_id {
                require_ticket(txn, parent.as_str()).await?;
            }
        }
        match mode {
            Mode::AllAtOnce => {
                for (ticket, generated) in tickets.iter_mut().zip(generated) {
                    if *generated {
                        let (_, next) = counters
                            .get_mut(ticket.project.as_str())
                            .ok_or_else(|| StoreError::corrupt("counters", "no counter moved"))?;
                        ticket.external_id = format!("{GENERATED_ID_PREFIX}{next}");
                        *next += 1;
                    }
                }
                let rows = tickets
                    .iter()
                    .map(ticket_row)
                    .collect::<StoreResult<Vec<_>>>()?;
                if let Err(e) = tickets::Entity::insert_many(rows)
                    .exec_without_returning(txn)
                    .await
                {
                    return Err(match e.sql_err() {
                        Some(SqlErr::UniqueConstraintViolation(_)) => Failed::Taken,
                        _ => Failed::Error(be(e)),
                    });
                }
            }
            Mode::RowByRow => {
                for (i, (ticket, generated)) in tickets.iter_mut().zip(generated).enumerate() {
                    if *generated {
                        let (_, next) = counters
                            .get_mut(ticket.project.as_str())
                            .ok_or_else(|| StoreError::corrupt("counters", "no counter moved"))?;
                        insert_numbered_row(txn, ticket, next, i).await?;
                    } else {
                        tickets::Entity::insert(ticket_row(ticket)?)
                            .exec_without_returning(txn)
                            .await
                            .map_err(db_err("ticket", || {
                                format!(
                                    "items[{i}]: external_id {} in project {}",
                                    ticket.external_id, ticket.project
                                )
                            }))?;
                    }
                }
            }
        }
        let options = tickets
            .iter()
            .zip(items)
            .filter(|(_, item)| !item.options.is_empty())
            .map(|(t, item)| options_row(&t.id, &item.options))
            .collect::<StoreResult<Vec<_>>>()?;
        if !options.is_empty() {
            ticket_options::Entity::insert_many(options)
                .exec_without_returning(txn)
                .await
                .map_err(be)?;
        }
        for m in moves {
            if let Some((value, next)) = counters.get(m.project.as_str()) {
                let end = (next - 1).max(m.highest_given.unwrap_or(0));
                if end > *value {
                    self.raise_counter(txn, &m.project, end).await?;
                }
            }
        }
        Ok(tickets)
    }

    /// Moves a project's counter on by the batch's tickets and returns its new value; creates
    /// it at [`first_count`] when the batch numbers tickets and the project has no counter yet.
    /// `None`: no counter, and none needed.
    async fn move_counter(
        &self,
        txn: &DatabaseTransaction,
        m: &CounterMove,
    ) -> StoreResult<Option<i64>> {
        let name = counter_name(&m.project);
        if let Some(value) = self.bump(txn, &name, m.tickets).await? {
            return Ok(Some(value));
        }
        if m.generated == 0 {
            return Ok(None);
        }
        let count = tickets::Entity::find()
            .filter(tickets::Column::Project.eq(m.project.as_str()))
            .count(txn)
            .await
            .map_err(be)?;
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let ids: Vec<String> = tickets::Entity::find()
            .select_only()
            .column(tickets::Column::ExternalId)
            .filter(tickets::Column::Project.eq(m.project.as_str()))
            .filter(tickets::Column::ExternalId.like(format!("{GENERATED_ID_PREFIX}%")))
            .into_tuple()
            .all(txn)
            .await
            .map_err(be)?;
        let start = first_count(count, ids.iter().map(String::as_str));
        let mut sql = Sql::new(self.backend());
        sql.push("INSERT INTO counters (name, value) VALUES (")
            .bind(name.as_str())
            .push(", ")
            .bind(start)
            .push(") ON CONFLICT (name) DO NOTHING");
        txn.execute_raw(sql.statement()).await.map_err(be)?;
        self.bump(txn, &name, m.tickets)
            .await?
            .map(Some)
            .ok_or_else(|| {
                StoreError::corrupt("counters", "the counter row just created is missing")
            })
    }

    /// `UPDATE … RETURNING` of one counter; `None` when the row does not exist.
    async fn bump(
        &self,
        txn: &DatabaseTransaction,
        name: &str,
        by: i64,
    ) -> StoreResult<Option<i64>> {
        let mut sql = Sql::new(self.backend());
        sql.push("UPDATE counters SET value = value + ")
            .bind(by)
            .push(" WHERE name = ")
            .bind(name)
            .push(" RETURNING value");
        let row = txn.query_one_raw(sql.statement()).await.map_err(be)?;
        row.map(|r| r.try_get::<i64>("", "value").map_err(be))
            .transpose()
    }

    /// Raises a project's counter to `to` (a number handed out or given past its end).
    async fn raise_counter(
        &self,
        txn: &DatabaseTransaction,
        project: &str,
        to: i64,
    ) -> StoreResult<()> {
        let mut sql = Sql::new(self.backend());
        sql.push("UPDATE counters SET value = ")
            .bind(to)
            .push(" WHERE name = ")
            .bind(counter_name(project))
            .push(" AND value < ")
            .bind(to);
        txn.execute_raw(sql.statement()).await.map_err(be)?;
        Ok(())
    }
}

/// The tickets of a checked batch, numbered ones still to be numbered.
fn new_tickets(items: &[Submission], projects: Vec<String>, now: DateTime<Utc>) -> Vec<Ticket> {
    items
        .iter()
        .zip(projects)
        .map(|(item, project)| Ticket::from_new(TicketId::new(), project, item.ticket.clone(), now))
        .collect()
}

/// Inserts a numbered ticket under the next free number from `next`, moving `next` past it.
async fn insert_numbered_row(
    txn: &DatabaseTransaction,
    ticket: &mut Ticket,
    next: &mut i64,
    index: usize,
) -> StoreResult<()> {
    for _ in 0..NUMBER_ATTEMPTS {
        ticket.external_id = format!("{GENERATED_ID_PREFIX}{next}");
        *next += 1;
        let inserted = tickets::Entity::insert(ticket_row(ticket)?)
            .on_conflict_do_nothing_on([tickets::Column::Project, tickets::Column::ExternalId])
            .exec_without_returning(txn)
            .await
            .map_err(be)?;
        if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
            return Ok(());
        }
    }
    Err(StoreError::Duplicate {
        entity: "ticket",
        key: format!(
            "items[{index}]: no free {GENERATED_ID_PREFIX}<n> id in project {}",
            ticket.project
        ),
    })
}
