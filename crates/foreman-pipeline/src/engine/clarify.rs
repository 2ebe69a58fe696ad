//! `queued`: ask the clarifier whether the ticket can be implemented as written (when enabled),
//! post its questions to the tracker, or start the pipeline.

use foreman_domain::pipeline::Role;
use foreman_domain::{EventType, NewEvent, Ticket, TicketPatch, TicketStatus};
use serde::Deserialize;
use serde_json::json;

use super::base::Step;
use super::context::Ctx;
use super::llm::{Tool, ticket_brief};
use crate::error::PipelineResult;

/// The label of a ticket whose questions were answered.
const CLARIFIED_LABEL: &str = "foreman-clarified";

/// A clarifier verdict.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Clarification {
    clear: bool,
    questions: Vec<String>,
}

/// Clarifies (when enabled and not done yet), then moves the ticket to `planning`.
pub(super) async fn start(ctx: &Ctx, t: &Ticket) -> PipelineResult<Step> {
    if ctx.settings().enable_clarification && !t.labels.iter().any(|l| l == CLARIFIED_LABEL) {
        let verdict: Clarification = ctx
            .ask(
                Role::Clarifier,
                t,
                None,
                ticket_brief(t),
                Tool::new(
                    "submit_clarification",
                    "Say whether the ticket can be implemented as written, or ask questions.",
                    json!({"type": "object", "required": ["clear"], "properties": {
                        "clear": {"type": "boolean"},
                        "questions": {"type": "array", "items": {"type": "string"}}
                    }}),
                ),
            )
            .await?;
        if !verdict.clear && !verdict.questions.is_empty() {
            ask_the_tracker(ctx, t, &verdict.questions).await?;
            return Ok(Step::Release);
        }
    }
    let t = ctx
        .patch(
            &t.id,
            TicketPatch {
                started_at: Some(Some(foreman_domain::now())),
                ..TicketPatch::default()
            },
        )
        .await?;
    ctx.move_to(&t, TicketStatus::Planning).await?;
    ctx.emit(NewEvent::new(EventType::PipelineStarted, "pipeline started").ticket(&t.id))
        .await;
    Ok(Step::Continue)
}

/// Posts the questions, labels the ticket and waits for answers.
async fn ask_the_tracker(ctx: &Ctx, t: &Ticket, questions: &[String]) -> PipelineResult<()> {
    let body = format!(
        "Foreman needs answers before it can start:\n\n{}\n\nReply in a comment; the ticket is picked up again when you do.",
        questions
            .iter()
            .map(|q| format!("- {q}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let tracker = &ctx.project.tracker;
    tracker.add_comment(&t.external_id, &body).await?;
    tracker
        .add_label(&t.external_id, &ctx.settings().clarification_label)
        .await?;
    ctx.move_to(t, TicketStatus::ClarificationNeeded).await?;
    metrics::counter!("foreman_clarifications_total").increment(1);
    ctx.emit(
        NewEvent::new(
            EventType::ClarificationRequested,
            "questions posted to the tracker",
        )
        .ticket(&t.id)
        .details(json!({"questions": questions})),
    )
    .await;
    Ok(())
}
