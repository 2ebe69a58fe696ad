//! The pull request: opened once (through the outbox) from the integrated ticket branch; then,
//! in `pr_created`, the tracker told (comment, link, status: one outbox entry each) before the
//! ticket waits for the merge.

use foreman_domain::git::{Lease as PushLease, NewPullRequest, PullRequest, Worktree};
use foreman_domain::tracker::TrackerStatus;
use foreman_domain::{EventType, NewEvent, Task, Ticket, TicketPatch, TicketStatus};
use serde_json::{Value, json};

use super::base::Step;
use super::context::Ctx;
use crate::error::PipelineResult;
use crate::outbox::{TrackerEffect, write_to_tracker};
use crate::pr_body::{self, TestEvidence};

/// Pushes the ticket branch and opens (or brings up to date) its pull request.
pub(super) async fn open_pr(
    ctx: &Ctx,
    t: &Ticket,
    wt: &Worktree,
    tasks: &[Task],
    evidence: &TestEvidence,
) -> PipelineResult<Step> {
    let repo = &ctx.project.repo;
    ctx.pre_pr_hook(t, wt).await?;
    repo.push(&wt.branch, &PushLease::Tracking).await?;
    let t = ctx.ticket(&t.id).await?;
    let partial = t.is_partial;
    let warnings = pr_body::rule_warnings(tasks, &ctx.rule_warnings(&t.id).await);
    let new = NewPullRequest {
        title: pr_body::title(&t, partial),
        body: pr_body::body(&t, None, tasks, evidence) + &warnings,
        head: wt.branch.clone(),
        base: repo.default_branch().to_owned(),
        draft: partial,
        labels: vec!["foreman".into()],
        reviewers: Vec::new(),
    };
    let mut pr = create_pr_once(ctx, &t, &new).await?;
    if pr.draft != new.draft || pr.title != new.title {
        // the pull request of an earlier (partial) run: bring it up to date
        match ctx
            .project
            .host
            .update_pr(pr.number, &new.title, &new.body, new.draft)
            .await
        {
            Ok(updated) => pr = updated,
            Err(e) => {
                ctx.emit(
                    NewEvent::new(
                        EventType::PrUpdated,
                        format!("pull request #{} could not be updated: {e}", pr.number),
                    )
                    .ticket(&t.id)
                    .details(json!({"error": e.code()})),
                )
                .await;
            }
        }
    }
    let t = ctx
        .patch(
            &t.id,
            TicketPatch {
                pr_url: Some(pr.url.clone()),
                pr_number: Some(Some(pr.number)),
                ..TicketPatch::default()
            },
        )
        .await?;
    let (event, msg) = if partial {
        metrics::counter!("foreman_partial_prs_total").increment(1);
        (
            EventType::PartialPrCreated,
            format!("draft partial pull request #{} opened", pr.number),
        )
    } else {
        (
            EventType::PrCreated,
            format!("pull request #{} opened", pr.number),
        )
    };
    // once: a run that died before the status change below comes back through here
    ctx.emit_once(
        NewEvent::new(event, msg)
            .ticket(&t.id)
            .details(json!({"url": pr.url, "number": pr.number, "head_sha": pr.head_sha})),
    )
    .await;
    ctx.post_pr_hook(&t, wt).await?;
    ctx.move_to(&t, TicketStatus::PrCreated).await?;
    Ok(Step::Continue)
}

/// Creates the pull request through the outbox: a crash between "created at the host" and
/// "recorded here" finds the existing pull request instead of opening a second one.
async fn create_pr_once(
    ctx: &Ctx,
    t: &Ticket,
    new: &NewPullRequest,
) -> PipelineResult<PullRequest> {
    let key = format!("pr:{}", t.id);
    let entry = ctx
        .store()
        .enqueue(
            &key,
            Some(&t.id),
            "create_pr",
            serde_json::to_value(new).unwrap_or(Value::Null),
        )
        .await?;
    if entry.state == "done"
        && let Some(result) = entry.result
        && let Ok(pr) = serde_json::from_value::<PullRequest>(result)
    {
        return Ok(pr);
    }
    let host = &ctx.project.host;
    let pr = match host.find_pr(&new.head).await? {
        Some(existing) => existing,
        None => host.create_pr(new).await?,
    };
    ctx.store()
        .complete_outbox(&key, serde_json::to_value(&pr).unwrap_or(Value::Null))
        .await?;
    Ok(pr)
}

/// Tells the tracker about the open pull request — the comment with its link, the link itself
/// and the `in_review` status, each its own outbox entry (so a retry after a partial failure
/// repeats only what failed) — then waits for the merge. A tracker that fails does not stop the
/// ticket: the write is retried from the outbox and reported (`tracker_update_failed`).
pub(super) async fn after_pr(ctx: &Ctx, t: &Ticket) -> PipelineResult<Step> {
    // the occasion is the pull request: a run that comes back here (a crash, a lost lease)
    // finds its writes done; a retried partial ticket keeps its pull request and so its writes
    let occasion = format!("pr{}", t.pr_number.unwrap_or_default());
    for effect in [
        TrackerEffect::Comment {
            body: format!("Foreman opened a pull request: {}", t.pr_url),
        },
        TrackerEffect::AttachPr {
            url: t.pr_url.clone(),
            title: t.title.clone(),
        },
        TrackerEffect::Status {
            status: TrackerStatus::InReview,
        },
    ] {
        write_to_tracker(ctx.engine.ports(), &ctx.project, t, &occasion, effect).await?;
    }
    let to = if t.is_partial {
        TicketStatus::Partial
    } else {
        TicketStatus::AwaitingMerge
    };
    ctx.move_to(t, to).await?;
    // the work is on pushed branches (a retry checks them out again), and every live
    // worktree makes git's worktree bookkeeping, which scans them all, slower
    ctx.engine.remove_worktrees(t).await;
    Ok(Step::Release)
}
