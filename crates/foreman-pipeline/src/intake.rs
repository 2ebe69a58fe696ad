//! Intake: tickets from a tracker become Foreman tickets, once each.

use foreman_domain::{EventType, NewEvent, StoreError};

use crate::engine::Engine;
use crate::error::PipelineResult;
use crate::settings::ProjectRuntime;

/// Fetches the tracker's ready tickets and stores the new ones; returns how many were new.
///
/// # Errors
/// Tracker or store failures.
pub async fn intake(engine: &Engine, project: &ProjectRuntime) -> PipelineResult<usize> {
    let ready = project.tracker.fetch_ready().await?;
    let store = &engine.ports().store;
    let mut created = 0;
    for remote in ready {
        if store
            .get_ticket_by_external_id(&project.name, &remote.external_id)
            .await?
            .is_some()
        {
            continue;
        }
        match store
            .create_ticket(remote.to_new_ticket(&project.name))
            .await
        {
            Ok(t) => {
                created += 1;
                engine
                    .emit(
                        NewEvent::new(
                            EventType::TicketCreated,
                            format!("{} from the tracker", t.external_id),
                        )
                        .ticket(&t.id)
                        .details(serde_json::json!({"url": remote.url})),
                    )
                    .await;
            }
            Err(StoreError::Duplicate { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(created)
}
