//! `reviewing`: the done tasks' branches merged into the ticket branch (conflicts go to the
//! conflict resolver), a rebase onto the default branch, the full test suite and the final
//! review of the whole change; then the pull request.

use foreman_domain::agent::{AgentRequest, AgentRole, AgentTask};
use foreman_domain::git::{DiffSpec, MergeOutcome, RebaseOutcome, Worktree, task_branch_name};
use foreman_domain::pipeline::{FailureClass, Role};
use foreman_domain::{EventFilter, EventType, NewEvent, TaskStatus, Ticket};
use serde_json::{Value, json};

use super::base::{Step, kept_tail};
use super::context::Ctx;
use super::llm::{Instruction, Review, Tool, ticket_brief};
use super::pull_request::open_pr;
use crate::error::PipelineResult;
use crate::pr_body::TestEvidence;

/// Most rounds of rebase conflicts resolved before integration gives up.
const MAX_REBASE_ROUNDS: u32 = 5;

/// Where conflict markers came from.
#[derive(Debug, Clone, Copy)]
enum Conflict {
    /// Merging a task branch into the ticket branch.
    Merge,
    /// Rebasing the ticket branch onto the default branch.
    Rebase,
}

impl Conflict {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Rebase => "rebase",
        }
    }
}

pub(super) async fn integrate(ctx: &Ctx, t: &Ticket) -> PipelineResult<Step> {
    let (t, wt) = ctx.ticket_worktree(t).await?;
    let repo = &ctx.project.repo;
    let mut tasks = ctx.store().list_tasks(&t.id).await?;
    tasks.sort_by_key(|x| x.sequence);
    // A run stopped after the merges and the rebase (a crash, a lost lease, a transient fault)
    // left the ticket branch integrated: merging the task branches again would meet their
    // conflicts again, since the rebase rewrote the commits the merges brought in.
    let merged = merged_tasks(&tasks);
    let integrated = integrated_before(ctx, &t, &repo.head(&wt).await?, &merged).await;
    for task in tasks
        .iter()
        .filter(|x| x.status == TaskStatus::Done && !integrated)
    {
        ctx.check()?;
        let branch = task_branch_name(&ctx.ticket_branch(&t), task.sequence);
        let outcome = repo
            .merge(
                &wt,
                &branch,
                &format!("Merge task {}: {}", task.sequence, task.title),
            )
            .await?;
        if let MergeOutcome::Conflicts { files } = outcome {
            ctx.emit(
                NewEvent::new(
                    EventType::MergeConflict,
                    format!("task {} conflicts", task.sequence),
                )
                .ticket(&t.id)
                .task(&task.id)
                .details(
                    json!({"files": files.iter().map(|f| f.path.clone()).collect::<Vec<_>>()}),
                ),
            )
            .await;
            let resolved = resolve_conflicts(
                ctx,
                &t,
                &wt,
                &files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
                Conflict::Merge,
            )
            .await?;
            if resolved {
                repo.conclude_merge(&wt).await?;
                ctx.emit(
                    NewEvent::new(
                        EventType::MergeConflictResolved,
                        format!("task {} merged after resolution", task.sequence),
                    )
                    .ticket(&t.id)
                    .task(&task.id),
                )
                .await;
            } else {
                repo.abort_merge(&wt).await?;
                ctx.fail_ticket(
                    &t.id,
                    FailureClass::Conflict,
                    &format!("task {} could not be merged", task.sequence),
                )
                .await?;
                return Ok(Step::Release);
            }
        }
    }
    // Rebase onto the updated default branch.
    repo.sync_default().await?;
    let onto = format!("origin/{}", repo.default_branch());
    let mut outcome = repo.rebase(&wt, &onto).await?;
    let mut rounds = 0;
    while let RebaseOutcome::Conflicts { files, .. } = &outcome {
        rounds += 1;
        ctx.emit(
            NewEvent::new(
                EventType::RebaseConflict,
                "rebase onto the default branch conflicts",
            )
            .ticket(&t.id),
        )
        .await;
        let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
        if rounds > MAX_REBASE_ROUNDS
            || !resolve_conflicts(ctx, &t, &wt, &paths, Conflict::Rebase).await?
        {
            repo.abort_rebase(&wt).await?;
            ctx.fail_ticket(
                &t.id,
                FailureClass::Conflict,
                "rebase onto the default branch could not be resolved",
            )
            .await?;
            return Ok(Step::Release);
        }
        ctx.emit(
            NewEvent::new(
                EventType::RebaseConflictResolved,
                "rebase conflict resolved",
            )
            .ticket(&t.id),
        )
        .await;
        outcome = repo.continue_rebase(&wt).await?;
    }
    ctx.emit(
        NewEvent::new(
            EventType::TicketIntegrated,
            "task branches merged and rebased onto the default branch",
        )
        .ticket(&t.id)
        .details(json!({"head": repo.head(&wt).await?, "tasks": merged})),
    )
    .await;
    // The whole change, and whether a run stopped after passing it (a transient fault while
    // opening the pull request) already tested and reviewed exactly this change.
    let diff = repo
        .diff(
            &wt,
            &DiffSpec::Range {
                base: onto.clone(),
                head: "HEAD".into(),
            },
        )
        .await?;
    let change = change_id(&diff.text);
    if let Some(evidence) = passed_before(ctx, &t, &change).await {
        return open_pr(ctx, &t, &wt, &tasks, &evidence).await;
    }
    // The full suite.
    let test_command = ctx.project.test_command_for(&wt.path);
    let run = ctx
        .engine
        .ports
        .commands
        .run(&wt.path, &test_command, ctx.settings().command_timeout)
        .await?;
    let passed = run.success();
    metrics::counter!("foreman_test_runs_total", "result" => if passed { "pass" } else { "fail" })
        .increment(1);
    ctx.emit(
            NewEvent::new(if passed { EventType::FullTestPass } else { EventType::FullTestFail }, format!("full test suite {}", if passed { "passed" } else { "failed" }))
                .ticket(&t.id)
                .details(json!({"command": test_command, "exit_code": run.exit_code, "output_tail": kept_tail(&run.output, 2000)})),
        )
        .await;
    if !passed {
        ctx.fail_ticket(
            &t.id,
            FailureClass::TestAssertion,
            &format!("full test suite failed:\n{}", kept_tail(&run.output, 1500)),
        )
        .await?;
        return Ok(Step::Release);
    }
    let evidence = TestEvidence {
        command: test_command.clone(),
        passed,
        summary: kept_tail(&run.output, 800),
    };
    // The final review of the whole change.
    let review: Review = ctx
        .ask(
            Role::FinalReviewer,
            &t,
            None,
            format!(
                "{}\n\n## The whole change\n```diff\n{}\n```",
                ticket_brief(&t),
                diff.text
            ),
            Tool::review(),
        )
        .await?;
    if !review.approved {
        ctx.emit(
            NewEvent::new(
                EventType::FinalReviewFail,
                "final review rejected the change",
            )
            .ticket(&t.id)
            .details(json!({"issues": review.issues, "summary": review.summary})),
        )
        .await;
        ctx.fail_ticket(
            &t.id,
            FailureClass::Quality,
            &format!("final review: {}", review.issues.join("; ")),
        )
        .await?;
        return Ok(Step::Release);
    }
    ctx.emit(
        NewEvent::new(EventType::FinalReviewPass, "final review passed")
            .ticket(&t.id)
            .details(json!({
                "summary": review.summary,
                "change": change,
                "test_command": evidence.command,
                "test_summary": evidence.summary,
            })),
    )
    .await;
    open_pr(ctx, &t, &wt, &tasks, &evidence).await
}

/// Runs the conflict resolver on `files`; whether every conflict marker is gone after it
/// completed.
async fn resolve_conflicts(
    ctx: &Ctx,
    t: &Ticket,
    wt: &Worktree,
    files: &[String],
    kind: Conflict,
) -> PipelineResult<bool> {
    let mut task = AgentTask::new(format!("Resolve the {} conflicts", kind.as_str()));
    task.ticket_id = Some(t.id.clone());
    task.role = AgentRole::ConflictResolver;
    task.ticket_title = t.title.clone();
    task.ticket_description = t.description.clone();
    task.description = ctx.instruction(
        Instruction::ConflictResolution,
        &json!({"kind": kind.as_str(), "files": files}),
    )?;
    task.files = files.to_vec();
    let mut limits = ctx.settings().agent_limits.clone();
    limits.token_budget = ctx.settings().conflict_resolution_token_budget;
    let outcome = ctx
        .engine
        .ports
        .agent
        .run(
            &AgentRequest::new(task, &wt.path).with_limits(limits),
            &foreman_domain::agent::NoAgentProgress,
        )
        .await?;
    if !outcome.is_completed() {
        return Ok(false);
    }
    for f in files {
        let text = std::fs::read_to_string(wt.path.join(f)).unwrap_or_default();
        if text.contains("<<<<<<<") || text.contains(">>>>>>>") {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A short fingerprint of a change's diff text (stable for one build of Foreman).
fn change_id(diff: &str) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    diff.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The test evidence of a `final_review_pass` of this ticket for exactly `change`, if a run
/// recorded one: that run passed the full suite and the final review and then stopped before
/// its pull request was open, so neither is run (nor paid for) again.
async fn passed_before(ctx: &Ctx, t: &Ticket, change: &str) -> Option<TestEvidence> {
    let filter = EventFilter {
        ticket_id: Some(t.id.clone()),
        types: vec![EventType::FinalReviewPass],
        limit: 20,
        newest_first: true,
        ..EventFilter::default()
    };
    let events = ctx.engine.ports.events.list_events(&filter).await.ok()?;
    let details = events
        .into_iter()
        .filter_map(|e| e.details)
        .find(|d| d.get("change").and_then(Value::as_str) == Some(change))?;
    let text = |k: &str| details.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(TestEvidence {
        command: text("test_command")?,
        passed: true,
        summary: text("test_summary").unwrap_or_default(),
    })
}

/// The done tasks as integration merges them: each one's sequence and final commit.
fn merged_tasks(tasks: &[foreman_domain::Task]) -> Value {
    tasks
        .iter()
        .filter(|x| x.status == TaskStatus::Done)
        .map(|x| json!([x.sequence, x.commit_sha]))
        .collect()
}

/// Whether the newest `ticket_integrated` event of this ticket recorded exactly `head` as the
/// ticket branch's head and exactly `merged` as the tasks merged into it: then the task
/// branches are in and only the rebase (a no-op unless the default branch moved) runs again.
/// A retried task (a new commit) or a moved branch is integrated anew.
async fn integrated_before(ctx: &Ctx, t: &Ticket, head: &str, merged: &Value) -> bool {
    let filter = EventFilter {
        ticket_id: Some(t.id.clone()),
        types: vec![EventType::TicketIntegrated],
        limit: 1,
        newest_first: true,
        ..EventFilter::default()
    };
    let Ok(events) = ctx.engine.ports.events.list_events(&filter).await else {
        return false;
    };
    events
        .into_iter()
        .next()
        .and_then(|e| e.details)
        .is_some_and(|d| {
            d.get("head").and_then(Value::as_str) == Some(head) && d.get("tasks") == Some(merged)
        })
}
