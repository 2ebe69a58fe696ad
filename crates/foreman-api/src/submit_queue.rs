//! The queue in front of the server's submission writer (`routes::tickets::submit`): each
//! `POST /api/tickets` and `POST /api/tickets/batch` waits here for its group commit. Held by
//! the server's state; the writer starts with the first submission and ends with the state.

use std::sync::OnceLock;

use foreman_domain::Submission;
use tokio::sync::{mpsc, oneshot};

use crate::dto::TicketDetail;
use crate::error::ApiResult;

/// A submission waiting for its group commit.
pub(crate) struct Waiting {
    /// The tickets, each with whether its id was generated (`LOCAL-<n>`).
    pub items: Vec<(Submission, bool)>,
    /// The token's name.
    pub submitter: String,
    /// Where the rendered tickets (or the refusal) go.
    pub reply: oneshot::Sender<ApiResult<Vec<TicketDetail>>>,
}

/// The writer's queue, made (and the writer started) by the first submission.
#[derive(Default)]
pub(crate) struct SubmitQueue(OnceLock<mpsc::UnboundedSender<Waiting>>);

impl SubmitQueue {
    /// The queue; `start` starts the writer and gives its queue, once.
    pub(crate) fn get_or_start(
        &self,
        start: impl FnOnce() -> mpsc::UnboundedSender<Waiting>,
    ) -> mpsc::UnboundedSender<Waiting> {
        self.0.get_or_init(start).clone()
    }
}
