//! `queued`: ask the clarifier whether the ticket can be implemented as written (when enabled),
//! post its questions to the tracker, or start the pipeline.

use foreman_domain::pipeline::Role;
use foreman_domain::tracker::TrackerStatus;
use foreman_domain::{EventType, NewEvent, Ticket, TicketPatch, TicketStatus};
use serde::Deserialize;
use serde_json::json;

use super::base::Step;
use super::context::Ctx;
use super::llm::{Tool, ticket_brief};
use crate::clarification::CLARIFIED_LABEL;
use crate::error::PipelineResult;
use crate::outbox::{TrackerEffect, write_to_tracker};

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
    // before the move, so a run that dies in between tells it again (an unchanged status is a
    // no-op at every tracker) rather than never
    ctx.engine.tell_tracker(&t, TrackerStatus::InProgress).await;
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
    // one outbox entry each, retried by the drain when the tracker fails; the occasion is the
    // ticket as the clarifier saw it, so a run that comes back here finds its writes done
    let occasion = format!("clarify{}", t.updated_at.timestamp_millis());
    for effect in [
        TrackerEffect::Comment { body },
        TrackerEffect::AddLabel {
            label: ctx.settings().clarification_label.clone(),
        },
    ] {
        write_to_tracker(ctx.engine.ports(), &ctx.project, t, &occasion, effect).await?;
    }
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
