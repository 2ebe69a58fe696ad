//! What a task attempt runs: the implementer agent (with the phase's instruction and the
//! feedback of the last attempt, which the task's checkpoint keeps until the agent has
//! answered it) and the project's test command.

use foreman_domain::agent::{AgentOutcome, AgentRequest, AgentStopReason, AgentTask};
use foreman_domain::git::Worktree;
use foreman_domain::pipeline::Phase;
use foreman_domain::{EventType, NewEvent, Task, TaskPatch};
use serde_json::json;

use super::implement::{Feedback, TaskRun, event};
use super::llm::Instruction;
use crate::classify::{TestOutcome, classify_test_run};
use crate::error::{PipelineError, PipelineResult};

impl TaskRun {
    /// Records a verdict of the red→green proof: `foreman_tdd_verify_total{result}` and its
    /// event.
    pub(super) async fn tdd_verdict(&self, result: &'static str, event: NewEvent) {
        metrics::counter!("foreman_tdd_verify_total", "result" => result).increment(1);
        self.ctx.emit(event).await;
    }

    /// Runs the project's test command in the task's worktree and classifies the run.
    pub(super) async fn run_tests(&self, wt: &Worktree) -> PipelineResult<(TestOutcome, String)> {
        let ctx = &self.ctx;
        let out = ctx
            .interruptible(ctx.engine.ports.commands.run(
                &wt.path,
                &ctx.project.test_command_for(&wt.path),
                ctx.settings().command_timeout,
            ))
            .await??;
        let exit = if out.timed_out { None } else { out.exit_code };
        let outcome = classify_test_run(exit, &out.output);
        metrics::counter!("foreman_test_runs_total", "result" => match outcome {
            TestOutcome::Passed => "pass",
            TestOutcome::AssertionFailure => "fail",
            TestOutcome::BuildFailure => "error",
            TestOutcome::NoTests => "no_tests",
            TestOutcome::TimedOut => "timeout",
        })
        .increment(1);
        Ok((outcome, out.output))
    }

    /// Runs the implementer in `phase`, with the phase's instruction before any feedback.
    pub(super) async fn agent(
        &self,
        task: &Task,
        wt: &Worktree,
        phase: Phase,
        feedback: Option<Feedback>,
    ) -> PipelineResult<AgentOutcome> {
        let ctx = &self.ctx;
        let settings = ctx.settings();
        ctx.check()?;
        if task.total_llm_calls >= settings.max_llm_calls_per_task {
            return Err(PipelineError::LimitReached(format!(
                "task {} made {} LLM calls (max_llm_calls_per_task = {})",
                task.sequence, task.total_llm_calls, settings.max_llm_calls_per_task
            )));
        }
        let mut spec = AgentTask::from_task(&self.ticket, task);
        let instructions =
            ctx.instruction(Instruction::ImplementerPhase, &json!({"phase": phase}))?;
        spec.feedback = Some(match feedback {
            Some(f) => format!("{instructions}\n\n{}", f.text),
            None => instructions,
        });
        // The last implementation attempt may run on a stronger model.
        let last_attempt = phase == Phase::Implement
            && u32::try_from(task.implementation_attempts).unwrap_or(0)
                >= settings.max_implementation_retries
            && settings.max_implementation_retries > 1;
        let model = settings.escalation_model.clone().filter(|_| last_attempt);
        if let Some(m) = &model {
            ctx.emit(
                event(
                    EventType::TaskEscalated,
                    format!("task {}: last attempt escalated to {m}", task.sequence),
                    task,
                )
                .details(json!({"escalation_model": m})),
            )
            .await;
        }
        let request = AgentRequest::new(spec, &wt.path)
            .with_limits(settings.agent_limits.clone())
            .with_model(model);
        let outcome = ctx
            .interruptible(
                ctx.engine
                    .ports
                    .agent
                    .run(&request, &foreman_domain::agent::NoAgentProgress),
            )
            .await??;
        let mut stats = outcome.context;
        stats.files_touched = i64::try_from(outcome.files_changed.len()).unwrap_or(i64::MAX);
        ctx.patch_task(
            task,
            TaskPatch {
                context: Some(stats),
                ..TaskPatch::default()
            },
        )
        .await?;
        if outcome.stop_reason == AgentStopReason::CostBudget {
            return Err(PipelineError::BudgetExhausted(
                outcome
                    .error
                    .unwrap_or_else(|| "the agent ran out of budget".into()),
            ));
        }
        Ok(outcome)
    }
}
