//! `CheckpointStore` on SQL: a checkpoint per completed task, and the rollback to one of them
//! as one compare-and-set transaction.

use async_trait::async_trait;
use foreman_domain::checkpoint::{
    Checkpoint, CheckpointStore, NewCheckpoint, Rollback, check_rollback, plan_rollback,
    rolled_back_ticket,
};
use foreman_domain::{
    FencingToken, StoreError, StoreResult, Task, TicketId, TicketStatus, micros_to_time,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder,
};

use crate::convert::{all, to_json, ts};
use crate::entity::{tasks, tickets};
use crate::rows::{fenced_ticket, load_ticket, require_ticket, write_task_reset};
use crate::{SqlStore, be};

/// The `ticket_checkpoints` table (migration `m20261207_000014_rollback_transcripts`).
pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ticket_checkpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub ticket_id: String,
        pub task_id: String,
        pub sequence: i32,
        pub title: String,
        pub commit_sha: String,
        pub branch: String,
        pub ticket_status: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::Column as K;

impl TryFrom<entity::Model> for Checkpoint {
    type Error = StoreError;
    fn try_from(m: entity::Model) -> Result<Self, StoreError> {
        Ok(Self {
            ticket_status: m
                .ticket_status
                .parse::<TicketStatus>()
                .map_err(|e| StoreError::corrupt("ticket_checkpoints.ticket_status", e))?,
            id: m.id,
            ticket_id: TicketId::from(m.ticket_id),
            task_id: m.task_id.into(),
            sequence: m.sequence,
            title: m.title,
            commit_sha: m.commit_sha,
            branch: m.branch,
            created_at: micros_to_time(m.created_at),
        })
    }
}

async fn ticket_checkpoints(
    c: &impl ConnectionTrait,
    ticket: &str,
) -> StoreResult<Vec<Checkpoint>> {
    let rows = entity::Entity::find()
        .filter(K::TicketId.eq(ticket))
        .order_by_asc(K::CreatedAt)
        .order_by_asc(K::Id)
        .all(c)
        .await
        .map_err(be)?;
    all(rows)
}

/// Writes a rolled-back task over `before` if it is still in `before`'s status: the reset
/// ([`write_task_reset`]), then the commit, start and phase checkpoint it drops.
async fn write_rolled_back_task(
    txn: &DatabaseTransaction,
    before: &Task,
    after: &Task,
) -> StoreResult<bool> {
    use tasks::Column as C;
    if !write_task_reset(txn, before, after).await? {
        return Ok(false);
    }
    tasks::Entity::update_many()
        .col_expr(C::CommitSha, Expr::val(after.commit_sha.clone()))
        .col_expr(C::StartedAt, Expr::val(after.started_at.map(ts)))
        .col_expr(C::Phase, Expr::val(after.checkpoint.phase.as_str()))
        .col_expr(C::RedProven, Expr::val(after.checkpoint.red_proven))
        .col_expr(C::CheckpointSha, Expr::val(after.checkpoint.sha.clone()))
        .col_expr(
            C::Feedback,
            Expr::val(
                after
                    .checkpoint
                    .feedback
                    .as_ref()
                    .map(to_json)
                    .transpose()?,
            ),
        )
        .filter(C::Id.eq(before.id.as_str()))
        .exec(txn)
        .await
        .map_err(be)?;
    Ok(true)
}

#[async_trait]
impl CheckpointStore for SqlStore {
    async fn record_checkpoint(
        &self,
        new: NewCheckpoint,
        fence: Option<FencingToken>,
    ) -> StoreResult<Checkpoint> {
        let now = foreman_domain::now();
        let txn = self.write().await?;
        fenced_ticket(&txn, new.ticket_id.as_str(), fence).await?;
        let existing = entity::Entity::find()
            .filter(K::TaskId.eq(new.task_id.as_str()))
            .one(&txn)
            .await
            .map_err(be)?;
        let cp = match existing {
            Some(row) => {
                let mut cp = Checkpoint::try_from(row)?;
                entity::Entity::update_many()
                    .col_expr(K::CommitSha, Expr::val(new.commit_sha.clone()))
                    .col_expr(K::Branch, Expr::val(new.branch.clone()))
                    .col_expr(K::Title, Expr::val(new.title.clone()))
                    .col_expr(K::TicketStatus, Expr::val(new.ticket_status.as_str()))
                    .filter(K::Id.eq(cp.id.as_str()))
                    .exec(&txn)
                    .await
                    .map_err(be)?;
                cp.commit_sha = new.commit_sha;
                cp.branch = new.branch;
                cp.title = new.title;
                cp.ticket_status = new.ticket_status;
                cp
            }
            None => {
                let cp = Checkpoint::from_new(new, now);
                entity::Entity::insert(entity::ActiveModel {
                    id: Set(cp.id.clone()),
                    ticket_id: Set(cp.ticket_id.to_string()),
                    task_id: Set(cp.task_id.to_string()),
                    sequence: Set(cp.sequence),
                    title: Set(cp.title.clone()),
                    commit_sha: Set(cp.commit_sha.clone()),
                    branch: Set(cp.branch.clone()),
                    ticket_status: Set(cp.ticket_status.as_str().to_owned()),
                    created_at: Set(ts(cp.created_at)),
                })
                .exec_without_returning(&txn)
                .await
                .map_err(be)?;
                cp
            }
        };
        self.commit(txn).await?;
        Ok(cp)
    }

    async fn list_checkpoints(&self, ticket_id: &TicketId) -> StoreResult<Vec<Checkpoint>> {
        if load_ticket(self.reader(), ticket_id.as_str())
            .await?
            .is_none()
        {
            return Err(StoreError::not_found("ticket", ticket_id.as_str()));
        }
        ticket_checkpoints(self.reader(), ticket_id.as_str()).await
    }

    async fn rollback_ticket(
        &self,
        ticket_id: &TicketId,
        checkpoint_id: &str,
    ) -> StoreResult<Rollback> {
        let now = foreman_domain::now();
        let txn = self.write().await?;
        let before = require_ticket(&txn, ticket_id.as_str()).await?;
        check_rollback(&before, now)?;
        let checkpoints = ticket_checkpoints(&txn, ticket_id.as_str()).await?;
        let task_rows = tasks::Entity::find()
            .filter(tasks::Column::TicketId.eq(ticket_id.as_str()))
            .order_by_asc(tasks::Column::Sequence)
            .all(&txn)
            .await
            .map_err(be)?;
        let tasks: Vec<Task> = all(task_rows)?;
        let plan = plan_rollback(&checkpoints, &tasks, checkpoint_id, now)?;
        let after = rolled_back_ticket(&before, &plan, now);
        use tickets::Column as C;
        // Compare-and-set on the status and token read above, and on a free lease: a claim or
        // a status change committed since makes this match nothing.
        let written = tickets::Entity::update_many()
            .col_expr(C::Status, Expr::val(after.status.as_str()))
            .col_expr(C::LastError, Expr::val(Option::<String>::None))
            .col_expr(C::LastErrorType, Expr::val(Option::<String>::None))
            .col_expr(C::CompletedAt, Expr::val(after.completed_at.map(ts)))
            .col_expr(C::UpdatedAt, Expr::val(ts(after.updated_at)))
            .col_expr(C::IsPartial, Expr::val(after.is_partial))
            .col_expr(
                C::LastCompletedTaskSeq,
                Expr::val(after.last_completed_task_seq),
            )
            .col_expr(C::LeaseOwner, Expr::val(Option::<String>::None))
            .col_expr(C::LeaseExpiresAt, Expr::val(Option::<i64>::None))
            .col_expr(C::FencingToken, Expr::val(after.fencing_token.0))
            .filter(C::Id.eq(ticket_id.as_str()))
            .filter(C::Status.eq(before.status.as_str()))
            .filter(C::FencingToken.eq(before.fencing_token.0))
            .filter(
                Condition::any()
                    .add(C::LeaseOwner.is_null())
                    .add(C::LeaseExpiresAt.is_null())
                    .add(C::LeaseExpiresAt.lte(ts(now))),
            )
            .exec(&txn)
            .await
            .map_err(be)?
            .rows_affected;
        if written != 1 {
            let current = require_ticket(&txn, ticket_id.as_str()).await?;
            check_rollback(&current, now)?;
            return Err(StoreError::Conflict {
                entity: "ticket",
                id: ticket_id.to_string(),
                current: current.status.to_string(),
                expected: before.status.to_string(),
            });
        }
        let mut tasks_reset = Vec::with_capacity(plan.resets.len());
        for (before_task, after_task) in &plan.resets {
            if write_rolled_back_task(&txn, before_task, after_task).await? {
                tasks_reset.push(before_task.id.clone());
            }
        }
        let dropped: Vec<String> = plan.dropped.iter().map(|c| c.id.clone()).collect();
        if !dropped.is_empty() {
            entity::Entity::delete_many()
                .filter(K::Id.is_in(dropped.iter().map(String::as_str)))
                .exec(&txn)
                .await
                .map_err(be)?;
        }
        let ticket = require_ticket(&txn, ticket_id.as_str()).await?;
        self.commit(txn).await?;
        tracing::info!(ticket_id = %ticket_id, checkpoint = checkpoint_id, from = %before.status, tasks_reset = tasks_reset.len(), "ticket rolled back");
        Ok(Rollback {
            ticket,
            from: before.status,
            checkpoint: plan.target,
            tasks_reset,
            checkpoints_dropped: dropped,
        })
    }
}
