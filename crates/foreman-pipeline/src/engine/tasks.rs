//! `implementing`: runs the ticket's tasks in dependency order, several at once, each through
//! [`super::implement`]; then moves the ticket on to review, to a partial pull request, or to
//! failure.

use foreman_domain::pipeline::FailureClass;
use foreman_domain::{EventType, NewEvent, Task, TaskStatus, Ticket, TicketPatch, TicketStatus};
use serde_json::json;

use super::base::Step;
use super::context::{Ctx, TicketRun};
use super::implement::TaskRun;
use crate::dag::{Node, schedule};
use crate::error::{PipelineError, PipelineResult};

/// Waits until no other ticket of the project holds a file this ticket's open tasks will
/// modify, then reserves them (released when this run ends).
async fn reserve_files(ctx: &Ctx, t: &Ticket) -> PipelineResult<()> {
    let files = crate::reservations::planned_files(&ctx.store().list_tasks(&t.id).await?);
    if files.is_empty() {
        return Ok(());
    }
    let mut announced = false;
    loop {
        match ctx.store().try_reserve(&t.project, &t.id, &files).await? {
            foreman_domain::FileReservationOutcome::Granted => return Ok(()),
            foreman_domain::FileReservationOutcome::Held { path, holder } => {
                if !announced {
                    announced = true;
                    ctx.emit(
                        NewEvent::new(
                            EventType::TaskWaitingForFiles,
                            format!("waiting for {path}, which another ticket is changing"),
                        )
                        .ticket(&t.id)
                        .details(json!({"path": path, "held_by": holder})),
                    )
                    .await;
                }
                ctx.check()?;
                tokio::time::sleep(ctx.settings().poll_interval).await;
            }
        }
    }
}

pub(super) async fn implement(run: &TicketRun<'_>, t: &Ticket) -> PipelineResult<Step> {
    let ctx = &run.ctx;
    reserve_files(ctx, t).await?;
    let (t, _ticket_wt) = ctx.ticket_worktree(t).await?;
    let timeout = ctx.store().ticket_options(&t.id).await?.timeout();
    let mut running: tokio::task::JoinSet<(i32, PipelineResult<()>)> = tokio::task::JoinSet::new();
    let mut in_flight: Vec<i32> = Vec::new();
    loop {
        ctx.check()?;
        let tasks = ctx.store().list_tasks(&t.id).await?;
        let nodes: Vec<Node> = tasks.iter().map(Node::from).collect();
        let plan = schedule(&nodes);
        for seq in &plan.skip {
            if let Some(task) = tasks.iter().find(|x| x.sequence == *seq) {
                ctx.store()
                    .transition_task(
                        &task.id,
                        task.status,
                        TaskStatus::Skipped,
                        Some(ctx.fence()),
                    )
                    .await?;
                metrics::counter!("foreman_tasks_total", "status" => "skipped").increment(1);
                ctx.emit(
                    NewEvent::new(
                        EventType::TaskSkipped,
                        format!("task {} skipped: a dependency failed", task.sequence),
                    )
                    .ticket(&t.id)
                    .task(&task.id),
                )
                .await;
            }
        }
        if plan.finished && running.is_empty() {
            break;
        }
        let stop_starting = (run.paused)();
        // Tasks left mid-way by a crash are resumed like ready ones.
        let resumable = plan
            .running
            .iter()
            .filter(|s| !in_flight.contains(s))
            .copied();
        let startable: Vec<i32> = resumable.chain(plan.ready.iter().copied()).collect();
        for seq in startable {
            if stop_starting || running.len() >= ctx.settings().max_parallel_tasks {
                break;
            }
            if in_flight.contains(&seq) {
                continue;
            }
            let Some(task) = tasks.iter().find(|x| x.sequence == seq).cloned() else {
                continue;
            };
            in_flight.push(seq);
            let runner = TaskRun::new(ctx.clone(), t.clone());
            let bounded = ctx.clone();
            running.spawn(async move {
                let work = runner.run(task.clone());
                (seq, bounded.within_task_timeout(&task, timeout, work).await)
            });
        }
        if running.is_empty() {
            if stop_starting {
                return Err(PipelineError::Stopped("daemon paused"));
            }
            if plan.finished {
                break;
            }
            // Nothing startable and nothing running: wait for the next poll.
            tokio::time::sleep(ctx.settings().poll_interval).await;
            continue;
        }
        if let Some(joined) = running.join_next().await {
            let (seq, result) = joined.map_err(|e| {
                PipelineError::Stopped(if e.is_cancelled() {
                    "task cancelled"
                } else {
                    "task panicked"
                })
            })?;
            in_flight.retain(|s| *s != seq);
            if let Err(e) = result {
                if e.is_interruption() {
                    running.abort_all();
                    return Err(e);
                }
                if e.class() == FailureClass::Budget {
                    running.abort_all();
                    return Err(e);
                }
                tracing::warn!(ticket = %t.id, task = seq, error = %e, "task failed");
            }
        }
    }
    let tasks = ctx.store().list_tasks(&t.id).await?;
    let done = tasks
        .iter()
        .filter(|x| x.status == TaskStatus::Done)
        .count();
    let t = ctx.ticket(&t.id).await?;
    if done == tasks.len() {
        let t = if t.is_partial {
            // a retried partial ticket is complete now
            ctx.patch(
                &t.id,
                TicketPatch {
                    is_partial: Some(false),
                    ..TicketPatch::default()
                },
            )
            .await?
        } else {
            t
        };
        ctx.move_to(&t, TicketStatus::Reviewing).await?;
    } else if done > 0 && ctx.settings().enable_partial_pr {
        let t = ctx
            .patch(
                &t.id,
                TicketPatch {
                    is_partial: Some(true),
                    ..TicketPatch::default()
                },
            )
            .await?;
        ctx.move_to(&t, TicketStatus::Reviewing).await?;
    } else {
        let failed: Vec<String> = tasks
            .iter()
            .filter(|x| x.status != TaskStatus::Done)
            .map(|x| {
                format!(
                    "task {} {}: {}",
                    x.sequence,
                    x.status,
                    x.last_error.clone().unwrap_or_default()
                )
            })
            .collect();
        let class = ticket_failure_class(ctx, &tasks).await;
        ctx.fail_ticket(&t.id, class, &failed.join("\n")).await?;
        return Ok(Step::Release);
    }
    Ok(Step::Continue)
}

/// The class a ticket fails under when too few of its tasks were done: that of the first task
/// (in plan order) whose recorded failure names the task's own work, else a test failure.
async fn ticket_failure_class(ctx: &Ctx, tasks: &[Task]) -> FailureClass {
    // A task that failed on its own work, its gates, its reviews or its infrastructure; a
    // task stopped by a limit (or skipped) does not say why the ticket failed.
    const TASK_CLASSES: &[FailureClass] = &[
        FailureClass::Compile,
        FailureClass::TestAssertion,
        FailureClass::Lint,
        FailureClass::Spec,
        FailureClass::Quality,
        FailureClass::Budget,
        FailureClass::RateLimit,
        FailureClass::Infrastructure,
        FailureClass::SandboxViolation,
        FailureClass::Secret,
        FailureClass::Timeout,
    ];
    for task in tasks.iter().filter(|x| x.status != TaskStatus::Done) {
        if task.last_error.is_none() {
            continue;
        }
        if let Some(class) = ctx.task_failure_class(task).await
            && TASK_CLASSES.contains(&class)
        {
            return class;
        }
    }
    FailureClass::TestAssertion
}
