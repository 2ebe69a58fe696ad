//! Ticket submission: `POST /api/tickets` and `POST /api/tickets/batch`.
//!
//! Submissions are committed in groups: one writer task per server takes every submission
//! waiting (up to `GROUP_TICKETS` tickets) and creates them in one store transaction, each
//! batch still all-or-nothing on its own (`SubmissionStore::submit_groups`; `LOCAL-<n>`
//! numbers come from the project's counter in that transaction). An announcer task then
//! appends the `ticket_created` events of every group committed meanwhile together (one
//! transaction, published to live clients as it commits), counts the new tickets' places in
//! the queue with one store call, and answers each request, while the writer commits the next
//! group. One request alone is a group of one; under concurrent load the transactions per
//! ticket fall with the group size. A request whose client goes away is still created and
//! announced.

use std::sync::{Arc, Weak};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tokio::sync::{mpsc, oneshot};

use foreman_domain::ticket_submission::{GENERATED_ID_PREFIX, QueuePlaces, estimate_start};
use foreman_domain::{
    EventLog, EventType, NewEvent, NewTicket, StoreError, StoreResult, Submission, Ticket,
    TicketOptions,
};

use crate::auth::WriteAuth;
use crate::dto::{CreateTicket, CreateTicketBatch, QueueEntry, TicketBatchCreated, TicketDetail};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::{AppState, Inner};
use crate::submit_queue::Waiting;
use crate::validate::{BudgetUsd, HttpUrl, ProjectName, Tags};

/// Create a local ticket (not from a tracker); it starts `queued`.
///
/// Give a `title`, or a `prompt` (quick submission: its first line is the title). Without
/// `external_id`, one is generated as `LOCAL-<n>`. The submitter is the token's name. The
/// answer carries the ticket's `queue_position` and `estimated_start`. Every invalid field is
/// a 400 naming it.
#[utoipa::path(post, path = "/api/tickets", tag = "tickets", request_body = CreateTicket,
    responses((status = 201, description = "created", body = TicketDetail),
        (status = 400, description = "a field is invalid (the message names it)", body = ErrorBody),
        (status = 409, description = "external_id already used in the project", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn create_ticket(
    auth: WriteAuth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateTicket>,
) -> ApiResult<impl IntoResponse> {
    // the field types were checked while the body was read (`crate::validate`); what spans
    // fields or needs the configuration is checked here
    let item = submission(&state, &auth, body).map_err(|e| ApiError::BadRequest(e.message("")))?;
    let mut details = submit(&state, &auth, vec![item]).await?;
    Ok((StatusCode::CREATED, Json(details.remove(0))))
}

/// Create 1 to 20 tickets at once, all or none.
///
/// Each item is a `POST /api/tickets` body; `defaults` fill what an item leaves out. Every
/// item is checked before any is created, and all are created in one transaction: a 400 names
/// the item (`items[3].priority: ...`) and nothing is created.
#[utoipa::path(post, path = "/api/tickets/batch", tag = "tickets", request_body = CreateTicketBatch,
    responses((status = 201, description = "every ticket created", body = TicketBatchCreated),
        (status = 400, description = "an item is invalid (the message names its index and field)", body = ErrorBody),
        (status = 409, description = "an item's external_id is already used in its project", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not json", body = ErrorBody)))]
pub(crate) async fn create_ticket_batch(
    auth: WriteAuth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateTicketBatch>,
) -> ApiResult<impl IntoResponse> {
    let defaults = body.defaults.unwrap_or_default();
    let items = body
        .items
        .into_vec()
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            submission(&state, &auth, item.with_defaults(&defaults))
                .map_err(|e| ApiError::BadRequest(e.message(&format!("items[{i}]."))))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let tickets = submit(&state, &auth, items).await?;
    Ok((StatusCode::CREATED, Json(TicketBatchCreated { tickets })))
}

/// A field of a submission that its type alone could not check.
struct FieldError {
    field: &'static str,
    why: String,
}

impl FieldError {
    fn message(&self, prefix: &str) -> String {
        format!("invalid request body: {prefix}{}: {}", self.field, self.why)
    }
}

/// Characters of a title derived from a prompt.
const PROMPT_TITLE_CHARS: usize = 120;

/// The title of a quick submission: the prompt's first line that is not blank, trimmed and
/// cut at [`PROMPT_TITLE_CHARS`] characters (the last one an ellipsis when cut).
fn title_of_prompt(prompt: &str) -> String {
    let line = prompt
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    if line.chars().count() <= PROMPT_TITLE_CHARS {
        return line.to_owned();
    }
    let mut title: String = line.chars().take(PROMPT_TITLE_CHARS - 1).collect();
    title.truncate(title.trim_end().len());
    title.push('…');
    title
}

/// A request body as a ticket and its options (external id still to be generated when empty).
fn submission(
    state: &AppState,
    auth: &WriteAuth,
    body: CreateTicket,
) -> Result<(Submission, bool), FieldError> {
    let (title, description) = match (body.title, body.prompt) {
        (Some(title), None) => (title.trimmed().to_owned(), body.description),
        (Some(title), Some(prompt)) if body.description.is_empty() => {
            (title.trimmed().to_owned(), prompt.trimmed().to_owned())
        }
        (None, Some(prompt)) if body.description.is_empty() => (
            title_of_prompt(prompt.trimmed()),
            prompt.trimmed().to_owned(),
        ),
        (_, Some(_)) => {
            return Err(FieldError {
                field: "prompt",
                why: "give a prompt or a description, not both".into(),
            });
        }
        (None, None) => {
            return Err(FieldError {
                field: "title",
                why: "required unless a prompt is given".into(),
            });
        }
    };
    if let Some(agent) = &body.agent
        && !state.config().agent_runners.iter().any(|a| a == agent)
    {
        return Err(FieldError {
            field: "agent",
            why: format!(
                "unknown agent runner {agent:?}; configured: {}",
                state.config().agent_runners.join(", ")
            ),
        });
    }
    let project = body
        .project
        .as_ref()
        .and_then(ProjectName::get)
        .map_or_else(|| state.config().default_project.clone(), str::to_owned);
    let external_id = body
        .external_id
        .map(|e| e.trimmed().to_owned())
        .unwrap_or_default();
    let generated = external_id.is_empty();
    let ticket = NewTicket {
        project,
        external_id,
        title,
        description,
        acceptance_criteria: body.acceptance_criteria,
        priority: body.priority.unwrap_or_default().get(),
        labels: body.labels,
        submitter: Some(auth.caller.name.clone()),
        parent_id: None,
    };
    let options = TicketOptions {
        timeout_secs: body
            .timeout
            .map(|t| u32::try_from(t.get()).unwrap_or(u32::MAX)),
        max_budget: body.max_budget_usd.map(BudgetUsd::micros),
        tags: body.tags.map(Tags::into_vec).unwrap_or_default(),
        webhook_url: body.webhook_url.map(HttpUrl::into_string),
        agent: body.agent,
    };
    Ok((Submission { ticket, options }, generated))
}

/// Tickets a group commit takes at most.
const GROUP_TICKETS: usize = 200;

/// Creates the submissions (those without an external id numbered `LOCAL-<n>`), records
/// their events and renders them, through the server's group commit.
async fn submit(
    state: &AppState,
    auth: &WriteAuth,
    items: Vec<(Submission, bool)>,
) -> ApiResult<Vec<TicketDetail>> {
    let (reply, answer) = oneshot::channel();
    let waiting = Waiting {
        items,
        submitter: auth.caller.name.clone(),
        reply,
    };
    if committer(state).send(waiting).is_err() {
        return Err(stopped());
    }
    answer.await.unwrap_or_else(|_| Err(stopped()))
}

fn stopped() -> ApiError {
    ApiError::internal(std::io::Error::other("the submission writer stopped"))
}

/// The queue of the server's submission writer, started with the first submission (the
/// writer holds the state weakly, and ends when the state and its queue are gone).
fn committer(state: &AppState) -> mpsc::UnboundedSender<Waiting> {
    state.inner.submissions.get_or_start(|| {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(Arc::downgrade(&state.inner), waiting));
        queue
    })
}

/// A group as the store left it.
struct Committed {
    group: Vec<Waiting>,
    outcomes: StoreResult<Vec<StoreResult<Vec<Ticket>>>>,
}

/// The writer: each turn takes what is waiting and commits it as one group, then hands it to
/// the announcer and goes on with the next group while that one is announced and answered.
async fn write_groups(state: Weak<Inner>, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    let (committed, to_announce) = mpsc::unbounded_channel();
    tokio::spawn(answer_groups(state.clone(), to_announce));
    while let Some(first) = waiting.recv().await {
        let mut tickets = first.items.len();
        let mut group = vec![first];
        while tickets < GROUP_TICKETS {
            let Ok(next) = waiting.try_recv() else { break };
            tickets += next.items.len();
            group.push(next);
        }
        let Some(inner) = state.upgrade() else { break };
        let batches = group
            .iter()
            .map(|w| w.items.iter().map(|(s, _)| s.clone()).collect())
            .collect();
        let outcomes = inner.store.submit_groups(batches).await;
        drop(inner);
        if committed.send(Committed { group, outcomes }).is_err() {
            break;
        }
    }
}

/// The announcer: takes every committed group waiting, appends their events together,
/// counts their tickets' places with one store call and answers each request. Groups are
/// announced in the order they were committed.
async fn answer_groups(state: Weak<Inner>, mut committed: mpsc::UnboundedReceiver<Committed>) {
    while let Some(first) = committed.recv().await {
        let mut groups = vec![first];
        while let Ok(next) = committed.try_recv() {
            groups.push(next);
        }
        let Some(inner) = state.upgrade() else { break };
        answer(&AppState { inner }, groups).await;
    }
}

/// Announces and renders what the groups created and answers every request.
async fn answer(state: &AppState, groups: Vec<Committed>) {
    let mut done: Vec<(Waiting, StoreResult<Vec<Ticket>>)> = Vec::new();
    for Committed { group, outcomes } in groups {
        match outcomes {
            Ok(outcomes) => done.extend(group.into_iter().zip(outcomes)),
            Err(e) => {
                tracing::warn!(error = %e, "a group of submissions failed");
                let why = e.to_string();
                for w in group {
                    let _ = w
                        .reply
                        .send(Err(ApiError::internal(std::io::Error::other(why.clone()))));
                }
            }
        }
    }
    let created: Vec<(&Ticket, &str)> = done
        .iter()
        .filter_map(|(w, o)| o.as_ref().ok().map(|t| (t, w.submitter.as_str())))
        .flat_map(|(tickets, submitter)| tickets.iter().map(move |t| (t, submitter)))
        .collect();
    let places = if created.is_empty() {
        Ok(QueuePlaces::default())
    } else {
        let ids: Vec<_> = created.iter().map(|(t, _)| t.id.clone()).collect();
        let ((), places) =
            tokio::join!(announce(state, &created), state.store().queue_places(&ids));
        places
    };
    let now = foreman_domain::now();
    let slots = state.config().execution_slots;
    let mut at = 0;
    for (w, outcome) in done {
        let answer = match (outcome, &places) {
            (Ok(tickets), Ok(places)) => {
                let details = tickets
                    .iter()
                    .zip(&w.items)
                    .zip(&places.positions[at..])
                    .map(|((t, (item, _)), position)| {
                        let entry = position.map(|position| QueueEntry {
                            position: u32::try_from(position).unwrap_or(u32::MAX),
                            estimated_start: estimate_start(
                                position,
                                slots,
                                places.running,
                                places.mean_duration,
                                now,
                            ),
                        });
                        TicketDetail::from(t).submitted(&item.options, entry)
                    })
                    .collect();
                at += tickets.len();
                Ok(details)
            }
            (Ok(tickets), Err(e)) => {
                at += tickets.len();
                Err(ApiError::internal(std::io::Error::other(e.to_string())))
            }
            (Err(e), _) => Err(refusal(e, &w.items)),
        };
        let _ = w.reply.send(answer);
    }
}

/// The answer to a batch the store refused: a taken id the caller gave is theirs to change
/// (409 naming it); a generated one that found no free number, a 409 too.
fn refusal(e: StoreError, items: &[(Submission, bool)]) -> ApiError {
    let key = match e {
        StoreError::Duplicate { key, .. } => key,
        other => return other.into(),
    };
    let index = key
        .strip_prefix("items[")
        .and_then(|r| r.split(']').next())
        .and_then(|i| i.parse::<usize>().ok());
    if index.is_none_or(|i| !items.get(i).is_some_and(|(_, generated)| *generated)) {
        return ApiError::Conflict(format!("{} already exists", key.replace("items[0]: ", "")));
    }
    ApiError::Conflict(format!(
        "could not find a free {GENERATED_ID_PREFIX}<n> id; pass external_id"
    ))
}

/// One `ticket_created` event per created ticket, appended together (one transaction) and
/// published as they commit; a failure is logged, not returned, because the tickets exist.
async fn announce(state: &AppState, created: &[(&Ticket, &str)]) {
    let events = created
        .iter()
        .map(|(ticket, submitter)| {
            NewEvent::new(
                EventType::TicketCreated,
                format!("ticket {} created through the api", ticket.external_id),
            )
            .ticket(&ticket.id)
            .details(serde_json::json!({ "source": "api", "submitter": submitter }))
        })
        .collect();
    if let Err(e) = state.inner.events.append_batch(events).await {
        tracing::warn!(
            event_type = %EventType::TicketCreated,
            error = %e,
            "could not record event"
        );
    }
}
