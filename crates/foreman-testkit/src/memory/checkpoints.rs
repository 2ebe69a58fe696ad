//! `CheckpointStore` in memory: the rollback is one critical section, like the SQL
//! transaction, on the same domain rules.

use async_trait::async_trait;
use foreman_domain::checkpoint::{
    Checkpoint, CheckpointStore, NewCheckpoint, Rollback, check_rollback, plan_rollback,
    rolled_back_ticket,
};
use foreman_domain::fence::check_fence;
use foreman_domain::{FencingToken, StoreResult, Task, TicketId};

use super::{MemoryStore, State};

impl State {
    fn ticket_checkpoints(&self, ticket: &TicketId) -> Vec<Checkpoint> {
        let mut out: Vec<Checkpoint> = self
            .checkpoints
            .iter()
            .filter(|c| c.ticket_id == *ticket)
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        out
    }
}

#[async_trait]
impl CheckpointStore for MemoryStore {
    async fn record_checkpoint(
        &self,
        new: NewCheckpoint,
        fence: Option<FencingToken>,
    ) -> StoreResult<Checkpoint> {
        let mut s = self.lock();
        check_fence(s.ticket(&new.ticket_id)?, fence)?;
        s.task(&new.task_id)?;
        if let Some(c) = s.checkpoints.iter_mut().find(|c| c.task_id == new.task_id) {
            c.commit_sha = new.commit_sha;
            c.branch = new.branch;
            c.title = new.title;
            c.ticket_status = new.ticket_status;
            return Ok(c.clone());
        }
        let c = Checkpoint::from_new(new, foreman_domain::now());
        s.checkpoints.push(c.clone());
        Ok(c)
    }

    async fn list_checkpoints(&self, ticket_id: &TicketId) -> StoreResult<Vec<Checkpoint>> {
        let s = self.lock();
        s.ticket(ticket_id)?;
        Ok(s.ticket_checkpoints(ticket_id))
    }

    async fn rollback_ticket(
        &self,
        ticket_id: &TicketId,
        checkpoint_id: &str,
    ) -> StoreResult<Rollback> {
        let now = foreman_domain::now();
        let mut s = self.lock();
        let before = s.ticket(ticket_id)?.clone();
        check_rollback(&before, now)?;
        let checkpoints = s.ticket_checkpoints(ticket_id);
        let mut tasks: Vec<Task> = s
            .tasks
            .values()
            .filter(|t| t.ticket_id == *ticket_id)
            .cloned()
            .collect();
        tasks.sort_by_key(|t| t.sequence);
        let plan = plan_rollback(&checkpoints, &tasks, checkpoint_id, now)?;
        let after = rolled_back_ticket(&before, &plan, now);
        *s.ticket_mut(ticket_id)? = after.clone();
        let mut tasks_reset = Vec::with_capacity(plan.resets.len());
        for (_, reset) in &plan.resets {
            s.tasks.insert(reset.id.clone(), reset.clone());
            tasks_reset.push(reset.id.clone());
        }
        let dropped: Vec<String> = plan.dropped.iter().map(|c| c.id.clone()).collect();
        s.checkpoints.retain(|c| !dropped.contains(&c.id));
        Ok(Rollback {
            ticket: after,
            from: before.status,
            checkpoint: plan.target,
            tasks_reset,
            checkpoints_dropped: dropped,
        })
    }
}
