//! The `local` tracker: tickets that live in Foreman's own database, created through the API,
//! the CLI or the dashboard (ids `LOCAL-1`, `LOCAL-2`, ...).
//!
//! Labels, the pull request link and the ticket itself are the stored ticket's fields; comments
//! are `tracker_comment_posted` events; the reported tracker status is a setting.

use std::sync::Arc;

use async_trait::async_trait;
use foreman_domain::event::{EventFilter, EventType, NewEvent};
use foreman_domain::remote::RemoteError;
use foreman_domain::tracker::{
    MAX_TEXT_BYTES, NewTrackerTicket, Tracker, TrackerComment, TrackerError, TrackerResult,
    TrackerStatus, TrackerTicket, split_acceptance_criteria, truncate_with_note,
};
use foreman_domain::{
    EventLog, NewTicket, SettingsStore, StoreError, Ticket, TicketFilter, TicketPatch,
    TicketStatus, TicketStore,
};

/// The prefix of local ticket ids.
pub const LOCAL_PREFIX: &str = "LOCAL-";

/// Tickets in Foreman's database as a [`Tracker`].
pub struct LocalTracker {
    project: String,
    tickets: Arc<dyn TicketStore>,
    events: Arc<dyn EventLog>,
    settings: Arc<dyn SettingsStore>,
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for LocalTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTracker")
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

impl LocalTracker {
    /// A tracker over the store's ports for one project.
    #[must_use]
    pub fn new(
        project: &str,
        tickets: Arc<dyn TicketStore>,
        events: Arc<dyn EventLog>,
        settings: Arc<dyn SettingsStore>,
    ) -> Self {
        Self {
            project: project.to_owned(),
            tickets,
            events,
            settings,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn status_key(&self, external_id: &str) -> String {
        format!("local_tracker/{}/status/{external_id}", self.project)
    }

    async fn stored(&self, external_id: &str) -> TrackerResult<Ticket> {
        self.tickets
            .get_ticket_by_external_id(&self.project, external_id.trim())
            .await?
            .ok_or_else(|| {
                TrackerError::Remote(RemoteError::NotFound {
                    service: "local",
                    what: format!("ticket {external_id}"),
                })
            })
    }

    async fn render(&self, t: &Ticket) -> TrackerResult<TrackerTicket> {
        let state = self
            .settings
            .get_setting(&self.status_key(&t.external_id))
            .await?
            .unwrap_or_else(|| "open".to_owned());
        // criteria written into the body (as people do through the API or CLI) are split out
        let (description, criteria) = if t.acceptance_criteria.trim().is_empty() {
            split_acceptance_criteria(&t.description)
        } else {
            (t.description.clone(), t.acceptance_criteria.clone())
        };
        let (description, cut_d) = truncate_with_note(&description, MAX_TEXT_BYTES);
        let (criteria, cut_c) = truncate_with_note(&criteria, MAX_TEXT_BYTES);
        Ok(TrackerTicket {
            external_id: t.external_id.clone(),
            title: t.title.clone(),
            description,
            acceptance_criteria: criteria,
            labels: t.labels.clone(),
            priority: t.priority,
            assignee: None,
            reporter: t.submitter.clone(),
            url: format!("foreman://{}/tickets/{}", t.project, t.id),
            state,
            comments: Vec::new(),
            truncated: cut_d || cut_c,
            updated_at: Some(t.updated_at),
        })
    }

    async fn set_labels(
        &self,
        external_id: &str,
        f: impl FnOnce(&mut Vec<String>),
    ) -> TrackerResult<()> {
        let _guard = self.lock.lock().await;
        let t = self.stored(external_id).await?;
        let mut labels = t.labels.clone();
        f(&mut labels);
        if labels != t.labels {
            self.tickets
                .update_ticket(
                    &t.id,
                    TicketPatch {
                        labels: Some(labels),
                        ..TicketPatch::default()
                    },
                    None,
                )
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Tracker for LocalTracker {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn fetch_ready(&self) -> TrackerResult<Vec<TrackerTicket>> {
        let mut out = Vec::new();
        let mut filter = TicketFilter {
            project: Some(self.project.clone()),
            statuses: vec![TicketStatus::Queued],
            limit: foreman_domain::MAX_PAGE_LIMIT,
            ..TicketFilter::default()
        };
        loop {
            let page = self.tickets.list_tickets(&filter).await?;
            for t in page
                .items
                .iter()
                .filter(|t| t.external_id.starts_with(LOCAL_PREFIX))
            {
                out.push(self.render(t).await?);
            }
            match page.next_cursor {
                Some(c) => filter.cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    async fn get_ticket(&self, external_id: &str) -> TrackerResult<TrackerTicket> {
        let t = self.stored(external_id).await?;
        let mut out = self.render(&t).await?;
        let events = self
            .events
            .list_events(&EventFilter {
                ticket_id: Some(t.id.clone()),
                types: vec![EventType::TrackerCommentPosted],
                limit: foreman_domain::MAX_PAGE_LIMIT,
                ..EventFilter::default()
            })
            .await?;
        out.comments = events
            .into_iter()
            .map(|e| {
                let details = e.details.unwrap_or_default();
                TrackerComment {
                    id: e.id.to_string(),
                    author: details
                        .get("author")
                        .and_then(|a| a.as_str())
                        .map(str::to_owned),
                    body: details
                        .get("body")
                        .and_then(|b| b.as_str())
                        .map_or(e.message, str::to_owned),
                    created_at: Some(e.created_at),
                }
            })
            .collect();
        Ok(out)
    }

    async fn add_comment(&self, external_id: &str, body: &str) -> TrackerResult<TrackerComment> {
        if body.trim().is_empty() {
            return Err(TrackerError::Invalid("empty comment".to_owned()));
        }
        let t = self.stored(external_id).await?;
        let e = self
            .events
            .append(
                NewEvent::new(EventType::TrackerCommentPosted, "comment posted")
                    .ticket(&t.id)
                    .details(serde_json::json!({ "body": body, "author": "foreman" })),
            )
            .await?;
        Ok(TrackerComment {
            id: e.id.to_string(),
            author: Some("foreman".to_owned()),
            body: body.to_owned(),
            created_at: Some(e.created_at),
        })
    }

    async fn add_label(&self, external_id: &str, label: &str) -> TrackerResult<()> {
        crate::github::check_label(label)?;
        self.set_labels(external_id, |l| {
            if !l.iter().any(|x| x == label) {
                l.push(label.to_owned());
            }
        })
        .await
    }

    async fn remove_label(&self, external_id: &str, label: &str) -> TrackerResult<()> {
        crate::github::check_label(label)?;
        self.set_labels(external_id, |l| l.retain(|x| x != label))
            .await
    }

    async fn update_status(&self, external_id: &str, status: TrackerStatus) -> TrackerResult<()> {
        let t = self.stored(external_id).await?;
        self.settings
            .put_setting(&self.status_key(&t.external_id), status.as_str())
            .await?;
        Ok(())
    }

    async fn attach_pr(&self, external_id: &str, url: &str, _title: &str) -> TrackerResult<()> {
        if url.trim().is_empty() {
            return Err(TrackerError::Invalid("empty pull request url".to_owned()));
        }
        let t = self.stored(external_id).await?;
        self.tickets
            .update_ticket(
                &t.id,
                TicketPatch {
                    pr_url: Some(url.to_owned()),
                    ..TicketPatch::default()
                },
                None,
            )
            .await?;
        Ok(())
    }

    async fn create_ticket(&self, new: &NewTrackerTicket) -> TrackerResult<TrackerTicket> {
        if new.title.trim().is_empty() {
            return Err(TrackerError::Invalid("ticket title is empty".to_owned()));
        }
        let parent_id = match &new.parent {
            Some(p) => Some(self.stored(p).await?.id),
            None => None,
        };
        let _guard = self.lock.lock().await;
        let key = format!("local_tracker/{}/next", self.project);
        let mut next = match self.settings.get_setting(&key).await? {
            Some(n) => n
                .parse::<u64>()
                .map_err(|e| TrackerError::Store(StoreError::corrupt(key.clone(), e)))?,
            None => 1,
        };
        // another process may have taken numbers; skip over them
        for _ in 0..1000 {
            let external_id = format!("{LOCAL_PREFIX}{next}");
            next += 1;
            let created = self
                .tickets
                .create_ticket(NewTicket {
                    project: self.project.clone(),
                    external_id,
                    title: new.title.trim().to_owned(),
                    description: new.description.clone(),
                    acceptance_criteria: new.acceptance_criteria.clone(),
                    priority: 0,
                    labels: new.labels.clone(),
                    submitter: None,
                    parent_id: parent_id.clone(),
                })
                .await;
            match created {
                Ok(t) => {
                    self.settings.put_setting(&key, &next.to_string()).await?;
                    return self.render(&t).await;
                }
                Err(StoreError::Duplicate { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(TrackerError::Invalid(
            "could not allocate a local ticket id".to_owned(),
        ))
    }

    async fn check(&self) -> TrackerResult<()> {
        self.settings
            .get_setting(&format!("local_tracker/{}/next", self.project))
            .await?;
        Ok(())
    }
}
