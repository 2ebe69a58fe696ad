//! `TaskStore` in memory. Fences are checked against the owning ticket under the same lock.

use async_trait::async_trait;
use foreman_domain::fence::check_fence;
use foreman_domain::transition::{check_task_transition, requeued_task, transitioned_task};
use foreman_domain::{
    FencingToken, NewTask, StoreError, StoreResult, Task, TaskId, TaskPatch, TaskRequeue,
    TaskStatus, TaskStore, TicketId,
};

use super::MemoryStore;

#[async_trait]
impl TaskStore for MemoryStore {
    async fn create_tasks(
        &self,
        ticket_id: &TicketId,
        tasks: Vec<NewTask>,
        fence: Option<FencingToken>,
    ) -> StoreResult<Vec<Task>> {
        let mut s = self.lock();
        check_fence(s.ticket(ticket_id)?, fence)?;
        let mut taken: Vec<i32> = s
            .tasks
            .values()
            .filter(|t| t.ticket_id == *ticket_id)
            .map(|t| t.sequence)
            .collect();
        for n in &tasks {
            if taken.contains(&n.sequence) {
                return Err(StoreError::Duplicate {
                    entity: "task",
                    key: format!("sequence {} of ticket {ticket_id}", n.sequence),
                });
            }
            taken.push(n.sequence);
        }
        let now = foreman_domain::now();
        let mut out = Vec::with_capacity(tasks.len());
        for n in tasks {
            let task = Task::from_new(ticket_id.clone(), n, now);
            s.tasks.insert(task.id.clone(), task.clone());
            out.push(task);
        }
        Ok(out)
    }

    async fn get_task(&self, id: &TaskId) -> StoreResult<Option<Task>> {
        Ok(self.lock().tasks.get(id).cloned())
    }

    async fn list_tasks(&self, ticket_id: &TicketId) -> StoreResult<Vec<Task>> {
        let s = self.lock();
        let mut tasks: Vec<Task> = s
            .tasks
            .values()
            .filter(|t| t.ticket_id == *ticket_id)
            .cloned()
            .collect();
        tasks.sort_by_key(|t| t.sequence);
        Ok(tasks)
    }

    async fn transition_task(
        &self,
        id: &TaskId,
        from: TaskStatus,
        to: TaskStatus,
        fence: Option<FencingToken>,
    ) -> StoreResult<Task> {
        let mut s = self.lock();
        let task = s.task(id)?;
        s.task_fence(task, fence)?;
        check_task_transition(task, from, to)?;
        let after = transitioned_task(task, to, foreman_domain::now());
        s.tasks.insert(id.clone(), after.clone());
        Ok(after)
    }

    async fn requeue_task(
        &self,
        id: &TaskId,
        fence: Option<FencingToken>,
    ) -> StoreResult<TaskRequeue> {
        let mut s = self.lock();
        let before = s.task(id)?;
        s.task_fence(before, fence)?;
        let after = requeued_task(before, foreman_domain::now())?;
        let from = before.status;
        s.tasks.insert(id.clone(), after.clone());
        Ok(TaskRequeue { task: after, from })
    }

    async fn update_task(
        &self,
        id: &TaskId,
        patch: TaskPatch,
        fence: Option<FencingToken>,
    ) -> StoreResult<Task> {
        let mut s = self.lock();
        let task = s.task(id)?;
        s.task_fence(task, fence)?;
        let task = s
            .tasks
            .get_mut(id)
            .ok_or_else(|| StoreError::not_found("task", id.as_str()))?;
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
        if let Some(v) = implementation_attempts {
            task.implementation_attempts = v;
        }
        if let Some(v) = spec_review_attempts {
            task.spec_review_attempts = v;
        }
        if let Some(v) = quality_review_attempts {
            task.quality_review_attempts = v;
        }
        if let Some(v) = commit_sha {
            task.commit_sha = v;
        }
        if let Some(v) = context {
            task.context = Some(v);
        }
        if let Some(v) = last_error {
            task.last_error = v;
        }
        if let Some(v) = started_at {
            task.started_at = v.map(|d| foreman_domain::micros_to_time(d.timestamp_micros()));
        }
        if let Some(v) = checkpoint {
            task.checkpoint = v;
        }
        Ok(task.clone())
    }
}
