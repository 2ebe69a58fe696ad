//! `TaskStore` on SQL. Fences are checked against the owning ticket inside the write
//! transaction.

use std::collections::HashSet;

use async_trait::async_trait;
use foreman_domain::transition::{CompletedAt, check_task_transition, requeued_task};
use foreman_domain::{
    FencingToken, NewTask, StoreError, StoreResult, Task, TaskId, TaskPatch, TaskRequeue,
    TaskStatus, TaskStore, TicketId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::convert::{all, task_row, to_json, ts};
use crate::entity::tasks;
use crate::rows::{fenced_ticket, load_task, require_task, write_task_reset};
use crate::{SqlStore, be, db_err};

use tasks::Column as C;

#[async_trait]
impl TaskStore for SqlStore {
    async fn create_tasks(
        &self,
        ticket_id: &TicketId,
        new: Vec<NewTask>,
        fence: Option<FencingToken>,
    ) -> StoreResult<Vec<Task>> {
        let mut seen = HashSet::new();
        for n in &new {
            if !seen.insert(n.sequence) {
                return Err(StoreError::Duplicate {
                    entity: "task",
                    key: format!("sequence {} of ticket {ticket_id}", n.sequence),
                });
            }
        }
        let now = foreman_domain::now();
        let created: Vec<Task> = new
            .into_iter()
            .map(|n| Task::from_new(ticket_id.clone(), n, now))
            .collect();
        let rows = created
            .iter()
            .map(task_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let txn = self.write().await?;
        fenced_ticket(&txn, ticket_id.as_str(), fence).await?;
        if !rows.is_empty() {
            tasks::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await
                .map_err(db_err("task", || {
                    format!("a sequence already used by ticket {ticket_id}")
                }))?;
        }
        self.commit(txn).await?;
        Ok(created)
    }

    async fn get_task(&self, id: &TaskId) -> StoreResult<Option<Task>> {
        load_task(self.reader(), id.as_str()).await
    }

    async fn list_tasks(&self, ticket_id: &TicketId) -> StoreResult<Vec<Task>> {
        let rows = tasks::Entity::find()
            .filter(C::TicketId.eq(ticket_id.as_str()))
            .order_by_asc(C::Sequence)
            .limit(10_000)
            .all(self.reader())
            .await
            .map_err(be)?;
        all(rows)
    }

    async fn transition_task(
        &self,
        id: &TaskId,
        from: TaskStatus,
        to: TaskStatus,
        fence: Option<FencingToken>,
    ) -> StoreResult<Task> {
        let txn = self.write().await?;
        let task = require_task(&txn, id.as_str()).await?;
        if fence.is_some() {
            fenced_ticket(&txn, task.ticket_id.as_str(), fence).await?;
        }
        check_task_transition(&task, from, to)?;
        let now = ts(foreman_domain::now());
        let mut u = tasks::Entity::update_many()
            .col_expr(C::Status, Expr::val(to.as_str()))
            .filter(C::Id.eq(id.as_str()))
            .filter(C::Status.eq(from.as_str()));
        if to == TaskStatus::Implementing && task.started_at.is_none() {
            u = u.col_expr(C::StartedAt, Expr::val(now));
        }
        match CompletedAt::of(from.is_terminal(), to.is_terminal()) {
            CompletedAt::Set => u = u.col_expr(C::CompletedAt, Expr::val(now)),
            CompletedAt::Clear => u = u.col_expr(C::CompletedAt, Expr::val(Option::<i64>::None)),
            CompletedAt::Keep => {}
        }
        if u.exec(&txn).await.map_err(be)?.rows_affected != 1 {
            let current = require_task(&txn, id.as_str()).await?;
            return Err(StoreError::Conflict {
                entity: "task",
                id: id.to_string(),
                current: current.status.to_string(),
                expected: from.to_string(),
            });
        }
        let task = require_task(&txn, id.as_str()).await?;
        self.commit(txn).await?;
        tracing::debug!(task_id = %id, from = %from, to = %to, "task transitioned");
        Ok(task)
    }

    async fn requeue_task(
        &self,
        id: &TaskId,
        fence: Option<FencingToken>,
    ) -> StoreResult<TaskRequeue> {
        let now = foreman_domain::now();
        let txn = self.write().await?;
        let before = require_task(&txn, id.as_str()).await?;
        if fence.is_some() {
            fenced_ticket(&txn, before.ticket_id.as_str(), fence).await?;
        }
        let after = requeued_task(&before, now)?;
        if !write_task_reset(&txn, &before, &after).await? {
            // A concurrent writer moved it between the read and the write.
            let current = require_task(&txn, id.as_str()).await?;
            requeued_task(&current, now)?;
            return Err(StoreError::Conflict {
                entity: "task",
                id: id.to_string(),
                current: current.status.to_string(),
                expected: before.status.to_string(),
            });
        }
        let task = require_task(&txn, id.as_str()).await?;
        self.commit(txn).await?;
        tracing::info!(task_id = %id, from = %before.status, "task requeued");
        Ok(TaskRequeue {
            task,
            from: before.status,
        })
    }

    async fn update_task(
        &self,
        id: &TaskId,
        patch: TaskPatch,
        fence: Option<FencingToken>,
    ) -> StoreResult<Task> {
        let TaskPatch {
            implementation_attempts,
            spec_review_attempts,
            quality_review_attempts,
            commit_sha,
            context,
            last_error,
            started_at,
            checkpoint,
        } = patch;
        let txn = self.write().await?;
        let task = require_task(&txn, id.as_str()).await?;
        if fence.is_some() {
            fenced_ticket(&txn, task.ticket_id.as_str(), fence).await?;
        }
        let mut sets: Vec<(C, sea_orm::Value)> = Vec::new();
        if let Some(v) = implementation_attempts {
            sets.push((C::ImplementationAttempts, v.into()));
        }
        if let Some(v) = spec_review_attempts {
            sets.push((C::SpecReviewAttempts, v.into()));
        }
        if let Some(v) = quality_review_attempts {
            sets.push((C::QualityReviewAttempts, v.into()));
        }
        if let Some(v) = commit_sha {
            sets.push((C::CommitSha, v.into()));
        }
        if let Some(v) = context {
            sets.push((C::Context, Some(to_json(&v)?).into()));
        }
        if let Some(v) = last_error {
            sets.push((C::LastError, v.into()));
        }
        if let Some(v) = started_at {
            sets.push((C::StartedAt, v.map(ts).into()));
        }
        if let Some(c) = checkpoint {
            sets.push((C::Phase, c.phase.as_str().into()));
            sets.push((C::RedProven, c.red_proven.into()));
            sets.push((C::CheckpointSha, c.sha.into()));
            let feedback = c.feedback.as_ref().map(to_json).transpose()?;
            sets.push((C::Feedback, feedback.into()));
        }
        let changed = !sets.is_empty();
        let mut u = tasks::Entity::update_many().filter(C::Id.eq(id.as_str()));
        for (col, v) in sets {
            u = u.col_expr(col, Expr::val(v));
        }
        if changed {
            u.exec(&txn).await.map_err(be)?;
        }
        let task = require_task(&txn, id.as_str()).await?;
        self.commit(txn).await?;
        Ok(task)
    }
}
