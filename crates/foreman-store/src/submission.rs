//! `SubmissionStore` on SQL: batches of tickets with their options and `LOCAL-<n>` numbers in
//! one transaction (`numbering`), the options of a ticket, and the queue as claims see it,
//! whole or counted for some tickets (`places`).

use async_trait::async_trait;
use foreman_domain::ticket_submission::{
    QueuePlaces, QueueSnapshot, RECENT_DURATIONS, Submission, SubmissionStore, TicketOptions,
    check_batch, check_numbered_batch, mean_duration,
};
use foreman_domain::{
    Micros, StoreError, StoreResult, Ticket, TicketId, TicketStatus, micros_to_time,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, Value,
};

use crate::convert::{from_json, to_json, ts};
use crate::entity::{ticket_options, tickets};
use crate::{Backend, SqlStore, be};

use tickets::Column as C;

mod numbering;
mod places;

/// A raw statement with its values, its placeholders written for the backend (`?` on SQLite,
/// `$<n>` on PostgreSQL).
struct Sql {
    backend: Backend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: Backend) -> Self {
        Self {
            backend,
            text: String::new(),
            values: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
        }
        self
    }

    fn statement(&mut self) -> Statement {
        let backend = match self.backend {
            Backend::Sqlite => sea_orm::DbBackend::Sqlite,
            Backend::Postgres => sea_orm::DbBackend::Postgres,
        };
        Statement::from_sql_and_values(
            backend,
            std::mem::take(&mut self.text),
            std::mem::take(&mut self.values),
        )
    }
}

fn options_row(id: &TicketId, o: &TicketOptions) -> StoreResult<ticket_options::ActiveModel> {
    Ok(ticket_options::ActiveModel {
        ticket_id: Set(id.to_string()),
        timeout_secs: Set(o.timeout_secs.map(|t| i32::try_from(t).unwrap_or(i32::MAX))),
        max_budget_micros: Set(o.max_budget.map(|m| m.0)),
        tags: Set(to_json(&o.tags)?),
        webhook_url: Set(o.webhook_url.clone()),
        agent: Set(o.agent.clone()),
    })
}

impl TryFrom<ticket_options::Model> for TicketOptions {
    type Error = StoreError;

    fn try_from(m: ticket_options::Model) -> Result<Self, Self::Error> {
        Ok(Self {
            timeout_secs: m.timeout_secs.and_then(|t| u32::try_from(t).ok()),
            max_budget: m.max_budget_micros.map(Micros),
            tags: from_json("ticket_options.tags", &m.tags)?,
            webhook_url: m.webhook_url,
            agent: m.agent,
        })
    }
}

impl SqlStore {
    /// The ticket's own budget limit, read inside a reservation's transaction.
    pub(crate) async fn own_ticket_limit(
        txn: &impl sea_orm::ConnectionTrait,
        ticket: &str,
    ) -> StoreResult<Option<Micros>> {
        Ok(ticket_options::Entity::find_by_id(ticket.to_owned())
            .select_only()
            .column(ticket_options::Column::MaxBudgetMicros)
            .into_tuple::<Option<i64>>()
            .one(txn)
            .await
            .map_err(be)?
            .flatten()
            .map(Micros))
    }
}

#[async_trait]
impl SubmissionStore for SqlStore {
    async fn submit_tickets(&self, items: Vec<Submission>) -> StoreResult<Vec<Ticket>> {
        // every item names its id; the numbered path moves the project counters all the same
        check_batch(&items)?;
        self.submit_numbered(items).await
    }

    async fn submit_numbered(&self, mut items: Vec<Submission>) -> StoreResult<Vec<Ticket>> {
        let (projects, generated, moves) = check_numbered_batch(&mut items)?;
        self.insert_numbered(items, projects, &generated, &moves)
            .await
    }

    async fn submit_groups(
        &self,
        groups: Vec<Vec<Submission>>,
    ) -> StoreResult<Vec<StoreResult<Vec<Ticket>>>> {
        self.insert_groups(groups).await
    }

    async fn queue_places(&self, ids: &[TicketId]) -> StoreResult<QueuePlaces> {
        self.places(ids).await
    }

    async fn ticket_options(&self, id: &TicketId) -> StoreResult<TicketOptions> {
        ticket_options::Entity::find_by_id(id.to_string())
            .one(self.reader())
            .await
            .map_err(be)?
            .map_or_else(|| Ok(TicketOptions::default()), TicketOptions::try_from)
    }

    async fn queue_snapshot(&self) -> StoreResult<QueueSnapshot> {
        let queued: Vec<String> = tickets::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::Status.eq(TicketStatus::Queued.as_str()))
            .order_by(C::Priority, Order::Desc)
            .order_by(C::CreatedAt, Order::Asc)
            .order_by(C::Id, Order::Asc)
            .into_tuple()
            .all(self.reader())
            .await
            .map_err(be)?;
        let active: Vec<&str> = TicketStatus::ALL
            .iter()
            .filter(|s| s.is_active())
            .map(|s| s.as_str())
            .collect();
        let running = tickets::Entity::find()
            .filter(C::Status.is_in(active))
            .filter(C::LeaseOwner.is_not_null())
            .filter(C::LeaseExpiresAt.gt(ts(foreman_domain::now())))
            .count(self.reader())
            .await
            .map_err(be)?;
        let spans: Vec<(i64, i64)> = tickets::Entity::find()
            .select_only()
            .column(C::StartedAt)
            .column(C::CompletedAt)
            .filter(C::CompletedAt.is_not_null())
            .filter(C::StartedAt.is_not_null())
            .filter(Expr::col(C::CompletedAt).gte(Expr::col(C::StartedAt)))
            .order_by(C::CompletedAt, Order::Desc)
            .limit(RECENT_DURATIONS)
            .into_tuple()
            .all(self.reader())
            .await
            .map_err(be)?;
        let spans: Vec<_> = spans
            .into_iter()
            .map(|(s, c)| (micros_to_time(s), micros_to_time(c)))
            .collect();
        Ok(QueueSnapshot {
            queued: queued.into_iter().map(TicketId::from).collect(),
            running: usize::try_from(running).unwrap_or(usize::MAX),
            mean_duration: mean_duration(&spans),
        })
    }
}
