//! Answers to a clarification, wherever they came from (the tracker's comments, a chat reply):
//! the one step that writes them into the ticket and queues it again.

use foreman_domain::{EventLog, EventType, NewEvent, Store, Ticket, TicketPatch, TicketStatus};

/// The label of a ticket whose questions were answered (the clarifier does not ask again).
pub(crate) const CLARIFIED_LABEL: &str = "foreman-clarified";

/// Appends `answers` to the description of `t` (waiting in `clarification_needed`) under
/// "## Answers to the clarification", labels it clarified and moves it back to `queued`,
/// announcing `clarification_received`. Returns whether this call re-queued it (`false`: the
/// ticket had moved on meanwhile, and someone else's transition won).
///
/// # Errors
/// Store errors.
pub(crate) async fn apply_answers(
    store: &dyn Store,
    events: &dyn EventLog,
    t: &Ticket,
    answers: &[String],
) -> Result<bool, crate::PipelineError> {
    let mut description = t.description.clone();
    if !answers.is_empty() {
        description.push_str("\n\n## Answers to the clarification\n");
        for a in answers {
            description.push_str(&format!("\n{a}\n"));
        }
    }
    let mut labels = t.labels.clone();
    labels.push(CLARIFIED_LABEL.into());
    store
        .update_ticket(
            &t.id,
            TicketPatch {
                description: Some(description),
                labels: Some(labels),
                ..TicketPatch::default()
            },
            None,
        )
        .await?;
    if store
        .transition_ticket(&t.id, t.status, TicketStatus::Queued, None)
        .await
        .is_err()
    {
        return Ok(false);
    }
    let event = NewEvent::new(
        EventType::ClarificationReceived,
        "answers received; re-queued",
    )
    .ticket(&t.id);
    if let Err(e) = events.append(event).await {
        tracing::warn!(error = %e, "cannot append event");
    }
    Ok(true)
}
