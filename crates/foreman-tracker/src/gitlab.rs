//! GitLab Issues.
//!
//! Ready tickets are opened issues carrying the pickup label. Statuses are labels (scoped
//! labels such as `workflow::in progress` work too), `done` closes the issue. System notes
//! (GitLab's own "added label" lines) are not comments.

use async_trait::async_trait;
use foreman_domain::tracker::{
    DEFAULT_PICKUP_LABEL, NewTrackerTicket, Tracker, TrackerComment, TrackerError, TrackerResult,
    TrackerStatus, TrackerTicket, join_acceptance_criteria,
};
use foreman_rest::RemoteError;
use foreman_rest::gitlab::{GitLabClient, wire};
use reqwest::Method;
use serde_json::json;

use crate::github::{StatusLabels, check_label};
use crate::text::{self, RawIssue};

/// GitLab Issues as a [`Tracker`].
#[derive(Debug)]
pub struct GitLabTracker {
    client: GitLabClient,
    pickup_label: String,
    status_labels: StatusLabels,
}

fn iid(external_id: &str) -> TrackerResult<i64> {
    external_id
        .trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            TrackerError::Invalid(format!("{external_id:?} is not a GitLab issue number"))
        })
}

fn not_found(e: RemoteError, external_id: &str) -> TrackerError {
    match e {
        RemoteError::NotFound { service, .. } => TrackerError::Remote(RemoteError::NotFound {
            service,
            what: format!("issue {external_id}"),
        }),
        e => e.into(),
    }
}

fn to_ticket(i: &wire::Issue) -> TrackerTicket {
    text::ticket(RawIssue {
        external_id: format!("#{}", i.iid),
        title: i.title.clone(),
        body: i.description.clone().unwrap_or_default(),
        criteria_field: None,
        labels: i.labels.clone(),
        priority_name: None,
        priority: None,
        assignee: i.assignee.as_ref().map(|u| u.username.clone()),
        reporter: i.author.as_ref().map(|u| u.username.clone()),
        url: i.web_url.clone(),
        state: i.state.clone(),
        updated_at: i.updated_at,
    })
}

impl GitLabTracker {
    /// A tracker over a client, picking up issues labelled `pickup_label`
    /// ([`DEFAULT_PICKUP_LABEL`] when empty).
    #[must_use]
    pub fn new(client: GitLabClient, pickup_label: &str, status_labels: StatusLabels) -> Self {
        let pickup_label = if pickup_label.trim().is_empty() {
            DEFAULT_PICKUP_LABEL.to_owned()
        } else {
            pickup_label.trim().to_owned()
        };
        Self {
            client,
            pickup_label,
            status_labels,
        }
    }

    async fn issue(&self, n: i64) -> TrackerResult<wire::Issue> {
        self.client
            .http()
            .get_json(&self.client.path(&format!("/issues/{n}")), &[])
            .await
            .map_err(|e| not_found(e, &format!("#{n}")))
    }

    async fn update(&self, n: i64, body: serde_json::Value) -> TrackerResult<wire::Issue> {
        self.client
            .http()
            .send_json(
                Method::PUT,
                &self.client.path(&format!("/issues/{n}")),
                &body,
            )
            .await
            .map_err(|e| not_found(e, &format!("#{n}")))
    }
}

#[async_trait]
impl Tracker for GitLabTracker {
    fn name(&self) -> &'static str {
        "gitlab"
    }

    async fn fetch_ready(&self) -> TrackerResult<Vec<TrackerTicket>> {
        let list: Vec<wire::Issue> = self
            .client
            .http()
            .get_all_pages(
                &self.client.path("/issues"),
                &[
                    ("labels", self.pickup_label.clone()),
                    ("state", "opened".to_owned()),
                    ("order_by", "created_at".to_owned()),
                    ("sort", "asc".to_owned()),
                    ("per_page", "100".to_owned()),
                ],
            )
            .await?;
        Ok(list
            .iter()
            .filter(|i| i.state == "opened")
            .map(to_ticket)
            .collect())
    }

    async fn get_ticket(&self, external_id: &str) -> TrackerResult<TrackerTicket> {
        let n = iid(external_id)?;
        let mut t = to_ticket(&self.issue(n).await?);
        let notes: Vec<wire::Note> = self
            .client
            .http()
            .get_all_pages(
                &self.client.path(&format!("/issues/{n}/notes")),
                &[
                    ("sort", "asc".to_owned()),
                    ("order_by", "created_at".to_owned()),
                    ("per_page", "100".to_owned()),
                ],
            )
            .await
            .map_err(|e| not_found(e, external_id))?;
        let comments = notes
            .iter()
            .filter(|n| !n.system)
            .map(|n| {
                text::comment(
                    n.id.to_string(),
                    n.author.as_ref().map(|u| u.username.clone()),
                    &n.body,
                    n.created_at,
                )
            })
            .collect();
        text::with_comments(&mut t, comments);
        Ok(t)
    }

    async fn add_comment(&self, external_id: &str, body: &str) -> TrackerResult<TrackerComment> {
        let n = iid(external_id)?;
        if body.trim().is_empty() {
            return Err(TrackerError::Invalid("empty comment".to_owned()));
        }
        let note: wire::Note = self
            .client
            .http()
            .send_json(
                Method::POST,
                &self.client.path(&format!("/issues/{n}/notes")),
                &json!({ "body": body }),
            )
            .await
            .map_err(|e| not_found(e, external_id))?;
        Ok(TrackerComment {
            id: note.id.to_string(),
            author: note.author.map(|u| u.username),
            body: note.body,
            created_at: note.created_at,
        })
    }

    async fn add_label(&self, external_id: &str, label: &str) -> TrackerResult<()> {
        check_label(label)?;
        self.update(iid(external_id)?, json!({ "add_labels": label }))
            .await
            .map(|_| ())
    }

    async fn remove_label(&self, external_id: &str, label: &str) -> TrackerResult<()> {
        check_label(label)?;
        self.update(iid(external_id)?, json!({ "remove_labels": label }))
            .await
            .map(|_| ())
    }

    async fn update_status(&self, external_id: &str, status: TrackerStatus) -> TrackerResult<()> {
        let n = iid(external_id)?;
        let target = self.status_labels.for_status(status);
        let remove: Vec<&str> = self
            .status_labels
            .all()
            .into_iter()
            .filter(|l| Some(*l) != target)
            .collect();
        let mut body = json!({ "remove_labels": remove.join(",") });
        if let Some(t) = target {
            body["add_labels"] = json!(t);
        }
        // closed is done: only done closes, and nothing reopens (a late update of an earlier
        // status, retried from the outbox, must not undo a merge's done)
        if status == TrackerStatus::Done {
            body["state_event"] = json!("close");
        }
        self.update(n, body).await.map(|_| ())
    }

    async fn attach_pr(&self, external_id: &str, url: &str, title: &str) -> TrackerResult<()> {
        self.add_comment(external_id, &text::pr_link_comment(url, title))
            .await
            .map(|_| ())
    }

    async fn create_ticket(&self, new: &NewTrackerTicket) -> TrackerResult<TrackerTicket> {
        if new.title.trim().is_empty() {
            return Err(TrackerError::Invalid("ticket title is empty".to_owned()));
        }
        let mut description = new.description.trim().to_owned();
        if let Some(parent) = &new.parent {
            description.push_str(&format!("\n\nPart of #{}", iid(parent)?));
        }
        let issue: wire::Issue = self
            .client
            .http()
            .send_json(
                Method::POST,
                &self.client.path("/issues"),
                &json!({
                    "title": new.title,
                    "description": join_acceptance_criteria(&description, &new.acceptance_criteria),
                    "labels": new.labels.join(","),
                }),
            )
            .await?;
        Ok(to_ticket(&issue))
    }

    async fn check(&self) -> TrackerResult<()> {
        Ok(self.client.check().await?)
    }
}
