//! The red and green proofs of a task's tests, each a run of the project's test command in the
//! task's worktree, classified and recorded in the transcript. Red (`TaskRun::prove_red`): the
//! tests the implementer wrote first must fail on an assertion before the change — passing, or
//! failing to build, sends the attempt back. Green (`TaskRun::prove_green`): after the change
//! the tests pass. With TDD verification on, each verdict is counted and reported as a
//! `task_tdd_verify_*` event.

use foreman_domain::git::Worktree;
use foreman_domain::pipeline::FailureClass;
use foreman_domain::transcript::RecordKind;
use foreman_domain::{EventType, Task, TaskPatch, TaskPhase, TaskStatus};
use serde_json::json;

use super::base::kept_tail;
use super::implement::{Next, TaskRun, Why, event};
use super::transcript::{MAX_TRANSCRIPT_OUTPUT, record};
use crate::classify::TestOutcome;
use crate::error::PipelineResult;

impl TaskRun {
    /// Red: the tests the implementer wrote must fail on an assertion before the change.
    pub(super) async fn prove_red(&self, task: &mut Task, wt: &Worktree) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        *task = ctx
            .set_task_status(&ctx.task(&task.id).await?, TaskStatus::Verifying)
            .await?;
        let (red, output) = self.run_tests(wt).await?;
        self.transcribe_tests(task, "red", red, &output).await;
        let why = match red {
            TestOutcome::AssertionFailure => {
                return self
                    .reach(task, TaskPhase::RedProven, TaskPatch::default())
                    .await;
            }
            TestOutcome::Passed | TestOutcome::NoTests => {
                self.tdd_verdict(
                    "fail",
                    event(
                        EventType::TaskTddVerifyFail,
                        format!(
                            "task {}: the new tests pass before the change",
                            task.sequence
                        ),
                        task,
                    ),
                )
                .await;
                Why::RedPasses
            }
            TestOutcome::BuildFailure | TestOutcome::TimedOut => {
                self.tdd_verdict(
                    "invalid_red",
                    event(
                        EventType::TaskTddVerifyInvalidRed,
                        format!(
                            "task {}: the new tests fail for a build or import reason",
                            task.sequence
                        ),
                        task,
                    )
                    .details(json!({"output_tail": kept_tail(&output, 1500)})),
                )
                .await;
                Why::RedInvalid
            }
        };
        Ok(Next::Retry(self.feedback(
            why,
            FailureClass::TestAssertion,
            json!({"output": kept_tail(&output, 3000)}),
        )?))
    }

    /// Records a test run in the transcript: the output's tail (redacted), what it showed.
    async fn transcribe_tests(&self, task: &Task, phase: &str, outcome: TestOutcome, output: &str) {
        let passed = outcome == TestOutcome::Passed;
        self.ctx
            .transcribe(vec![record(
                task,
                0,
                RecordKind::TestRun,
                None,
                &kept_tail(output, MAX_TRANSCRIPT_OUTPUT),
                (phase == "green") != passed,
                json!({"phase": phase, "outcome": outcome, "output_bytes": output.len()}),
            )])
            .await;
    }

    /// Green: after the implementer's change, the tests pass.
    pub(super) async fn prove_green(&self, task: &mut Task, wt: &Worktree) -> PipelineResult<Next> {
        let ctx = &self.ctx;
        let tdd = ctx.settings().enable_tdd_verification;
        *task = ctx
            .set_task_status(&ctx.task(&task.id).await?, TaskStatus::Verifying)
            .await?;
        let (green, output) = self.run_tests(wt).await?;
        self.transcribe_tests(task, "green", green, &output).await;
        let passed = green == TestOutcome::Passed;
        let (result, tdd_event, tdd_message, tests_event, tests_message) = if passed {
            (
                "pass",
                EventType::TaskTddVerifyPass,
                "red → green verified",
                EventType::TaskTestsPass,
                "tests pass",
            )
        } else {
            (
                "fail",
                EventType::TaskTddVerifyFail,
                "tests still fail after the change",
                EventType::TaskTestsFail,
                "tests fail",
            )
        };
        let message = |m: &str| format!("task {}: {m}", task.sequence);
        if tdd {
            self.tdd_verdict(result, event(tdd_event, message(tdd_message), task))
                .await;
        }
        let tests = event(tests_event, message(tests_message), task);
        if passed {
            ctx.emit(tests).await;
            return self
                .reach(task, TaskPhase::GreenProven, TaskPatch::default())
                .await;
        }
        ctx.emit(tests.details(json!({"output_tail": kept_tail(&output, 1500)})))
            .await;
        Ok(Next::Retry(self.feedback(
            Why::GreenFails,
            FailureClass::TestAssertion,
            json!({"output": kept_tail(&output, 3000)}),
        )?))
    }
}
