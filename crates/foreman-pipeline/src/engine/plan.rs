//! `planning`, `plan_validating` and `decomposing`: the planner's plan, validated against the
//! checkout (re-planned with the errors when it fails), stored as tasks; or, for a ticket too
//! large for one pull request, split into child tickets.

use std::path::PathBuf;

use foreman_domain::pipeline::{FailureClass, Role};
use foreman_domain::tracker::NewTrackerTicket;
use foreman_domain::{EventType, NewEvent, NewTicket, Ticket, TicketStatus};
use serde_json::json;

use super::base::Step;
use super::context::Ctx;
use super::llm::{Tool, ticket_brief};
use crate::error::PipelineResult;
use crate::plan::{Plan, PlanLimits, is_safe_repo_path};

/// Most repository files listed to the planner.
const MAX_LISTED_FILES: usize = 400;

pub(super) async fn plan(ctx: &Ctx, t: &Ticket) -> PipelineResult<Step> {
    let tasks = ctx.store().list_tasks(&t.id).await?;
    let mut t = t.clone();
    if !tasks.is_empty() {
        // The plan was validated and stored before a crash: move on.
        if t.status == TicketStatus::Planning {
            t = ctx.move_to(&t, TicketStatus::PlanValidating).await?;
        }
        ctx.move_to(&t, TicketStatus::Implementing).await?;
        return Ok(Step::Continue);
    }
    if t.status == TicketStatus::PlanValidating {
        t = ctx.move_to(&t, TicketStatus::Planning).await?;
    }
    let (t2, wt) = ctx.ticket_worktree(&t).await?;
    t = t2;
    let files = list_files(wt.path.clone(), MAX_LISTED_FILES).await;
    ctx.emit(NewEvent::new(EventType::PlanningStarted, "planning").ticket(&t.id))
        .await;
    ctx.pre_plan_hook(&t, &wt).await?;
    let limits = PlanLimits {
        max_tasks: ctx.settings().max_tasks_per_ticket,
    };
    let mut feedback: Option<String> = None;
    for round in 0..=ctx.settings().max_replans {
        let mut brief = format!(
            "{}\n\n## Repository files\n{}",
            ticket_brief(&t),
            files
                .iter()
                .map(|f| format!("- {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        if let Some(f) = &feedback {
            brief.push_str(&format!(
                "\n\n## Your previous plan was rejected\n{f}\nReturn a corrected plan."
            ));
        }
        let plan: Plan = ctx
            .ask(
                Role::Planner,
                &t,
                None,
                brief,
                Tool::new(
                    "submit_plan",
                    "Submit the implementation plan.",
                    Plan::json_schema(),
                ),
            )
            .await?;
        ctx.emit(
                NewEvent::new(EventType::PlanCreated, format!("plan with {} tasks", plan.tasks.len()))
                    .ticket(&t.id)
                    .details(json!({"summary": plan.summary, "tasks": plan.tasks.len(), "too_large": plan.too_large, "round": round + 1})),
            )
            .await;
        t = ctx.move_to(&t, TicketStatus::PlanValidating).await?;
        let root = wt.path.clone();
        let errors = plan.validate(&limits, |p| is_safe_repo_path(p) && root.join(p).exists());
        if errors.is_empty() {
            if plan.too_large {
                store_children_plan(ctx, &t, &plan).await?;
                ctx.move_to(&t, TicketStatus::Decomposing).await?;
                return Ok(Step::Continue);
            }
            let created = ctx
                .store()
                .create_tasks(&t.id, plan.to_new_tasks(), Some(ctx.fence()))
                .await?;
            for task in &created {
                ctx.emit(
                    NewEvent::new(
                        EventType::TaskCreated,
                        format!("task {}: {}", task.sequence, task.title),
                    )
                    .ticket(&t.id)
                    .task(&task.id),
                )
                .await;
            }
            ctx.emit(NewEvent::new(EventType::PlanValidated, "plan validated").ticket(&t.id))
                .await;
            ctx.move_to(&t, TicketStatus::Implementing).await?;
            return Ok(Step::Continue);
        }
        let text = errors
            .iter()
            .map(|e| format!("- {e}"))
            .collect::<Vec<_>>()
            .join("\n");
        if round == ctx.settings().max_replans {
            ctx.emit(
                NewEvent::new(
                    EventType::TicketPlanValidationFailed,
                    "the plan failed validation",
                )
                .ticket(&t.id)
                .details(
                    json!({"errors": errors.iter().map(ToString::to_string).collect::<Vec<_>>()}),
                ),
            )
            .await;
            ctx.fail_ticket(
                &t.id,
                FailureClass::Plan,
                &format!("plan validation failed:\n{text}"),
            )
            .await?;
            return Ok(Step::Release);
        }
        ctx.emit(
            NewEvent::new(
                EventType::PlanRejected,
                "plan rejected; asking the planner again",
            )
            .ticket(&t.id)
            .details(json!({"errors": errors.iter().map(ToString::to_string).collect::<Vec<_>>()})),
        )
        .await;
        t = ctx.move_to(&t, TicketStatus::Planning).await?;
        feedback = Some(text);
    }
    Ok(Step::Continue)
}

async fn store_children_plan(ctx: &Ctx, t: &Ticket, plan: &Plan) -> PipelineResult<()> {
    let key = format!("decompose:{}", t.id);
    ctx.store()
        .enqueue(
            &key,
            Some(&t.id),
            "decompose",
            json!({"children": plan.children}),
        )
        .await?;
    Ok(())
}

pub(super) async fn decompose(ctx: &Ctx, t: &Ticket) -> PipelineResult<Step> {
    let key = format!("decompose:{}", t.id);
    let entry = ctx.store().get_outbox(&key).await?;
    let children: Vec<crate::plan::ChildTicket> = entry
        .as_ref()
        .and_then(|e| serde_json::from_value(e.payload["children"].clone()).ok())
        .unwrap_or_default();
    ctx.emit(
        NewEvent::new(
            EventType::DecompositionStarted,
            format!("splitting into {} tickets", children.len()),
        )
        .ticket(&t.id),
    )
    .await;
    for (i, child) in children.iter().enumerate() {
        let child_key = format!("{key}:{i}");
        if let Some(done) = ctx.store().get_outbox(&child_key).await?
            && done.state == "done"
        {
            continue;
        }
        ctx.store()
            .enqueue(
                &child_key,
                Some(&t.id),
                "create_child",
                json!({"title": child.title}),
            )
            .await?;
        let created = ctx
            .project
            .tracker
            .create_ticket(&NewTrackerTicket {
                title: child.title.clone(),
                description: format!("{}\n\nPart of {}.", child.description, t.external_id),
                acceptance_criteria: child.acceptance_criteria.clone(),
                labels: t.labels.clone(),
                parent: Some(t.external_id.clone()),
            })
            .await?;
        let local = ctx
            .store()
            .create_ticket(NewTicket {
                project: t.project.clone(),
                external_id: created.external_id.clone(),
                title: child.title.clone(),
                description: child.description.clone(),
                acceptance_criteria: child.acceptance_criteria.clone(),
                priority: t.priority,
                labels: t.labels.clone(),
                submitter: t.submitter.clone(),
                parent_id: Some(t.id.clone()),
            })
            .await;
        let child_id = match local {
            Ok(c) => c.id,
            Err(foreman_domain::StoreError::Duplicate { .. }) => ctx
                .store()
                .get_ticket_by_external_id(&t.project, &created.external_id)
                .await?
                .map(|c| c.id)
                .unwrap_or_default(),
            Err(e) => return Err(e.into()),
        };
        ctx.store()
            .complete_outbox(
                &child_key,
                json!({"external_id": created.external_id, "ticket_id": child_id}),
            )
            .await?;
        ctx.emit(
            NewEvent::new(
                EventType::ChildTicketCreated,
                format!("created {}", created.external_id),
            )
            .ticket(&t.id)
            .details(json!({"child_ticket_id": child_id, "external_id": created.external_id})),
        )
        .await;
    }
    ctx.store()
        .complete_outbox(&key, json!({"children": children.len()}))
        .await?;
    ctx.move_to(t, TicketStatus::Decomposed).await?;
    ctx.emit(NewEvent::new(EventType::TicketDecomposed, "split into child tickets").ticket(&t.id))
        .await;
    Ok(Step::Release)
}

/// Files of a worktree for the planner: relative paths, sorted, at most `max`. `.git`,
/// `node_modules` and `target` are skipped and symbolic links are never followed; the walk
/// (on the blocking pool) goes through directories in name order and stops at the cap.
async fn list_files(root: PathBuf, max: usize) -> Vec<String> {
    tokio::task::spawn_blocking(move || walk_files(&root, max))
        .await
        .unwrap_or_default()
}

fn walk_files(root: &std::path::Path, max: usize) -> Vec<String> {
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .sort_by_file_name(Ord::cmp)
        .filter_entry(|e| {
            e.depth() == 0
                || !matches!(
                    e.file_name().to_str(),
                    Some(".git" | "node_modules" | "target")
                )
        })
        .build();
    let mut out = Vec::new();
    for entry in walker {
        if out.len() >= max {
            break;
        }
        let Ok(entry) = entry else {
            continue;
        };
        if entry.file_type().is_none_or(|t| t.is_dir()) {
            continue;
        }
        if let Ok(rel) = entry.path().strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_symlink_loop_is_listed_once_and_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::write(root.join("src/lib.rs"), "").unwrap();
        std::fs::write(root.join("src/deep/mod.rs"), "").unwrap();
        // src/deep/loop -> src: following it would walk src/deep/loop/deep/loop/... forever
        std::os::unix::fs::symlink(root.join("src"), root.join("src/deep/loop")).unwrap();
        std::os::unix::fs::symlink(root, root.join("self")).unwrap();
        std::fs::create_dir_all(root.join(".git/objects")).unwrap();
        std::fs::write(root.join(".git/HEAD"), "").unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::write(root.join("target/debug/x"), "").unwrap();
        let files = list_files(root.to_path_buf(), 400).await;
        assert_eq!(
            files,
            ["self", "src/deep/loop", "src/deep/mod.rs", "src/lib.rs"]
        );
    }

    #[tokio::test]
    async fn a_tree_bigger_than_the_cap_is_cut_at_the_cap_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["a", "m", "z"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
            for i in 0..300 {
                std::fs::write(root.join(d).join(format!("f{i:03}.txt")), "").unwrap();
            }
        }
        let files = list_files(root.to_path_buf(), 400).await;
        assert_eq!(files.len(), 400);
        assert_eq!(files.first().map(String::as_str), Some("a/f000.txt"));
        assert_eq!(files.last().map(String::as_str), Some("m/f099.txt"));
        assert!(files.windows(2).all(|w| w[0] < w[1]));
        assert!(files.iter().all(|f| !f.starts_with('z')));
        assert_eq!(walk_files(root, 0), Vec::<String>::new());
    }
}
