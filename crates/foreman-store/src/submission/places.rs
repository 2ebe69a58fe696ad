//! Where some tickets stand in the queue, by counting: for each distinct `(priority,
//! created_at)` of the tickets asked about, the queued tickets ahead of it (two range counts on
//! `ix_tickets_claim`, `(status, priority DESC, created_at, id)`, which read the index only)
//! and the queued tickets that share it (normally just the tickets themselves), instead of
//! every queued id.

use std::collections::BTreeMap;
use std::time::Duration;

use foreman_domain::ticket_submission::{QueuePlaces, RECENT_DURATIONS};
use foreman_domain::{StoreResult, TicketId, TicketStatus};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
};

use super::Sql;
use crate::convert::ts;
use crate::entity::tickets;
use crate::{SqlStore, be};

use tickets::Column as C;

impl SqlStore {
    /// `SubmissionStore::queue_places` on SQL.
    pub(crate) async fn places(&self, ids: &[TicketId]) -> StoreResult<QueuePlaces> {
        let queued = TicketStatus::Queued.as_str();
        let keys: Vec<(String, String, i32, i64)> = if ids.is_empty() {
            Vec::new()
        } else {
            tickets::Entity::find()
                .select_only()
                .columns([C::Id, C::Status, C::Priority, C::CreatedAt])
                .filter(C::Id.is_in(ids.iter().map(TicketId::as_str)))
                .into_tuple()
                .all(self.reader())
                .await
                .map_err(be)?
        };
        // (priority, created_at) → the queued tickets ahead of that key, and the ids of the
        // queued tickets with exactly that key
        let mut groups: BTreeMap<(i32, i64), (i64, Vec<String>)> = BTreeMap::new();
        for (_, status, priority, created_at) in &keys {
            if status == queued {
                groups.entry((*priority, *created_at)).or_default();
            }
        }
        for (&(priority, created_at), (ahead, same)) in &mut groups {
            let mut sql = Sql::new(self.backend());
            sql.push("SELECT (SELECT COUNT(*) FROM tickets WHERE status = ")
                .bind(queued)
                .push(" AND priority > ")
                .bind(priority)
                .push(") + (SELECT COUNT(*) FROM tickets WHERE status = ")
                .bind(queued)
                .push(" AND priority = ")
                .bind(priority)
                .push(" AND created_at < ")
                .bind(created_at)
                .push(") AS ahead");
            *ahead = match self
                .reader()
                .query_one_raw(sql.statement())
                .await
                .map_err(be)?
            {
                Some(row) => row.try_get::<i64>("", "ahead").map_err(be)?,
                None => 0,
            };
            *same = tickets::Entity::find()
                .select_only()
                .column(C::Id)
                .filter(C::Status.eq(queued))
                .filter(C::Priority.eq(priority))
                .filter(C::CreatedAt.eq(created_at))
                .order_by(C::Id, Order::Asc)
                .into_tuple()
                .all(self.reader())
                .await
                .map_err(be)?;
        }
        let positions = ids
            .iter()
            .map(|id| {
                let (_, _, priority, created_at) = keys
                    .iter()
                    .find(|(k, status, _, _)| k == id.as_str() && status == queued)?;
                let (ahead, same) = groups.get(&(*priority, *created_at))?;
                // its place among the tickets of its key in the database's order of ids
                let tied = same
                    .iter()
                    .position(|s| s == id.as_str())
                    .unwrap_or_else(|| same.iter().filter(|s| s.as_str() < id.as_str()).count());
                Some(usize::try_from(*ahead).unwrap_or(usize::MAX) + tied + 1)
            })
            .collect();
        let (running, mean_duration) = self.running_and_mean().await?;
        Ok(QueuePlaces {
            positions,
            running,
            mean_duration,
        })
    }

    /// The tickets under a live lease in an active status, and the mean duration of the last
    /// [`RECENT_DURATIONS`] finished ones, in one statement.
    async fn running_and_mean(&self) -> StoreResult<(usize, Option<Duration>)> {
        let active: Vec<&str> = TicketStatus::ALL
            .iter()
            .filter(|s| s.is_active())
            .map(|s| s.as_str())
            .collect();
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT a.running, b.n, b.total FROM (SELECT COUNT(*) AS running FROM tickets WHERE status IN (");
        for (i, status) in active.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(*status);
        }
        // a span's milliseconds are truncated before they are summed, as `mean_duration` does
        sql.push(") AND lease_owner IS NOT NULL AND lease_expires_at > ")
            .bind(ts(foreman_domain::now()))
            .push(
                ") a CROSS JOIN (SELECT COUNT(*) AS n, CAST(COALESCE(SUM(d), 0) AS BIGINT) AS total \
                 FROM (SELECT (completed_at - started_at) / 1000 AS d FROM tickets \
                 WHERE completed_at IS NOT NULL AND started_at IS NOT NULL \
                 AND completed_at >= started_at ORDER BY completed_at DESC LIMIT ",
            )
            .bind(i64::try_from(RECENT_DURATIONS).unwrap_or(i64::MAX))
            .push(") r) b");
        let Some(row) = self
            .reader()
            .query_one_raw(sql.statement())
            .await
            .map_err(be)?
        else {
            return Ok((0, None));
        };
        let running = row.try_get::<i64>("", "running").map_err(be)?;
        let n = row.try_get::<i64>("", "n").map_err(be)?;
        let total = row.try_get::<i64>("", "total").map_err(be)?;
        let mean = (n > 0)
            .then(|| u64::try_from(total / n).ok().map(Duration::from_millis))
            .flatten();
        Ok((usize::try_from(running).unwrap_or(usize::MAX), mean))
    }
}
