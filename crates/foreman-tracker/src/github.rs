//! GitHub Issues.
//!
//! Ready tickets are open issues carrying the pickup label; pull requests (which GitHub lists
//! as issues) are skipped. Every page of the ready list is fetched with `If-None-Match`, so an
//! unchanged poll costs only `304 Not Modified` answers, which GitHub does not count against the
//! rate limit. GitHub issues are only open or closed, so statuses are labels
//! ([`StatusLabels`]), and `done` closes the issue.

#[cfg(any(feature = "github", feature = "gitlab"))]
use foreman_domain::tracker::TrackerStatus as Reported;
use foreman_domain::tracker::{TrackerError, TrackerResult};

// The GitHub Issues adapter itself (everything below but `StatusLabels` and `check_label`,
// which the other trackers share).
#[cfg(feature = "github")]
use {
    crate::text::{self, RawIssue},
    async_trait::async_trait,
    foreman_domain::tracker::{
        DEFAULT_PICKUP_LABEL, NewTrackerTicket, Tracker, TrackerComment, TrackerStatus,
        TrackerTicket, join_acceptance_criteria,
    },
    foreman_rest::github::{GitHubClient, wire},
    foreman_rest::{RemoteError, Request},
    reqwest::{Method, StatusCode},
    serde_json::json,
    std::collections::HashMap,
};

/// The labels that stand for Foreman's statuses on GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLabels {
    /// In progress.
    pub in_progress: String,
    /// In review.
    pub in_review: String,
    /// Blocked.
    pub blocked: String,
    /// Failed.
    pub failed: String,
}

impl Default for StatusLabels {
    fn default() -> Self {
        Self {
            in_progress: "foreman-in-progress".to_owned(),
            in_review: "foreman-in-review".to_owned(),
            blocked: "foreman-blocked".to_owned(),
            failed: "foreman-failed".to_owned(),
        }
    }
}

#[cfg(any(feature = "github", feature = "gitlab"))]
impl StatusLabels {
    /// Every status label (empty ones left out).
    pub(crate) fn all(&self) -> Vec<&str> {
        [
            &self.in_progress,
            &self.in_review,
            &self.blocked,
            &self.failed,
        ]
        .into_iter()
        .map(String::as_str)
        .filter(|l| !l.trim().is_empty())
        .collect()
    }

    /// The label of `s` (`None` for done, which closes the issue, and for an empty label).
    pub(crate) fn for_status(&self, s: Reported) -> Option<&str> {
        let label = match s {
            Reported::InProgress => &self.in_progress,
            Reported::InReview => &self.in_review,
            Reported::Blocked => &self.blocked,
            Reported::Failed => &self.failed,
            Reported::Done => return None,
        };
        (!label.trim().is_empty()).then_some(label.as_str())
    }
}

#[cfg(feature = "github")]
#[derive(Debug, Clone)]
struct CachedPage {
    etag: String,
    issues: Vec<wire::Issue>,
    next: Option<String>,
}

#[cfg(feature = "github")]
/// GitHub Issues as a [`Tracker`].
#[derive(Debug)]
pub struct GitHubTracker {
    client: GitHubClient,
    pickup_label: String,
    status_labels: StatusLabels,
    pages: tokio::sync::Mutex<HashMap<String, CachedPage>>,
}

#[cfg(feature = "github")]
/// Parses `#42` or `42`.
fn number(external_id: &str) -> TrackerResult<i64> {
    external_id
        .trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            TrackerError::Invalid(format!("{external_id:?} is not a GitHub issue number"))
        })
}

#[cfg(feature = "github")]
fn not_found(e: RemoteError, external_id: &str) -> TrackerError {
    match e {
        RemoteError::NotFound { service, .. } => TrackerError::Remote(RemoteError::NotFound {
            service,
            what: format!("issue {external_id}"),
        }),
        e => e.into(),
    }
}

#[cfg(feature = "github")]
fn to_ticket(i: &wire::Issue) -> TrackerTicket {
    text::ticket(RawIssue {
        external_id: format!("#{}", i.number),
        title: i.title.clone(),
        body: i.body.clone().unwrap_or_default(),
        criteria_field: None,
        labels: i.labels.iter().map(|l| l.name.clone()).collect(),
        priority_name: None,
        priority: None,
        assignee: i.assignee.as_ref().map(|u| u.login.clone()),
        reporter: i.user.as_ref().map(|u| u.login.clone()),
        url: i.html_url.clone(),
        state: i.state.clone(),
        updated_at: i.updated_at,
    })
}

#[cfg(feature = "github")]
impl GitHubTracker {
    /// A tracker over a client, picking up issues labelled `pickup_label`
    /// ([`DEFAULT_PICKUP_LABEL`] when empty).
    #[must_use]
    pub fn new(client: GitHubClient, pickup_label: &str, status_labels: StatusLabels) -> Self {
        let pickup_label = if pickup_label.trim().is_empty() {
            DEFAULT_PICKUP_LABEL.to_owned()
        } else {
            pickup_label.trim().to_owned()
        };
        Self {
            client,
            pickup_label,
            status_labels,
            pages: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// One page of the ready list, conditionally.
    async fn page(&self, url: &str, first: bool) -> TrackerResult<CachedPage> {
        let query: Vec<(&str, String)> = if first {
            vec![
                ("labels", self.pickup_label.clone()),
                ("state", "open".to_owned()),
                ("sort", "created".to_owned()),
                ("direction", "asc".to_owned()),
                ("per_page", "100".to_owned()),
            ]
        } else {
            Vec::new()
        };
        let cached = self.pages.lock().await.get(url).cloned();
        let headers: Vec<(&str, String)> = cached
            .iter()
            .map(|c| ("if-none-match", c.etag.clone()))
            .collect();
        let resp = self
            .client
            .http()
            .send(&Request::get(url).query(&query).headers(&headers))
            .await?;
        if resp.status == StatusCode::NOT_MODIFIED {
            if let Some(c) = cached {
                return Ok(c);
            }
            return Err(TrackerError::Remote(RemoteError::Decode {
                service: "github",
                message: "304 for a request without If-None-Match".to_owned(),
            }));
        }
        let page = CachedPage {
            etag: resp.header("etag").unwrap_or_default().to_owned(),
            next: resp.next_link(),
            issues: resp.json()?,
        };
        if !page.etag.is_empty() {
            self.pages.lock().await.insert(url.to_owned(), page.clone());
        }
        Ok(page)
    }

    async fn comments(&self, n: i64) -> TrackerResult<Vec<(TrackerComment, bool)>> {
        let list: Vec<wire::Comment> = self
            .client
            .http()
            .get_all_pages(
                &self.client.path(&format!("/issues/{n}/comments")),
                &[("per_page", "100".to_owned())],
            )
            .await
            .map_err(|e| not_found(e, &format!("#{n}")))?;
        Ok(list
            .iter()
            .map(|c| {
                text::comment(
                    c.id.to_string(),
                    c.user.as_ref().map(|u| u.login.clone()),
                    c.body.as_deref().unwrap_or_default(),
                    c.created_at,
                )
            })
            .collect())
    }

    async fn issue(&self, n: i64) -> TrackerResult<wire::Issue> {
        let issue: wire::Issue = self
            .client
            .http()
            .get_json(&self.client.path(&format!("/issues/{n}")), &[])
            .await
            .map_err(|e| not_found(e, &format!("#{n}")))?;
        if issue.pull_request.is_some() {
            return Err(TrackerError::Remote(RemoteError::NotFound {
                service: "github",
                what: format!("issue #{n} (it is a pull request)"),
            }));
        }
        Ok(issue)
    }

    async fn set_labels(&self, n: i64, add: Option<&str>, remove: &[&str]) -> TrackerResult<()> {
        for r in remove {
            let path = self
                .client
                .path(&format!("/issues/{n}/labels/{}", encode_segment(r)));
            match self
                .client
                .http()
                .send(&Request {
                    method: Method::DELETE,
                    ..Request::get(&path)
                })
                .await
            {
                Ok(_) => {}
                Err(RemoteError::NotFound { .. }) => {
                    // GitHub answers 404 both for an absent label and a missing issue
                    self.issue(n).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(a) = add {
            self.client
                .add_labels(n, &[a.to_owned()])
                .await
                .map_err(|e| not_found(e, &format!("#{n}")))?;
        }
        Ok(())
    }
}

#[cfg(feature = "github")]
/// Percent-encodes one URL path segment.
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(feature = "github")]
#[async_trait]
impl Tracker for GitHubTracker {
    fn name(&self) -> &'static str {
        "github"
    }

    async fn fetch_ready(&self) -> TrackerResult<Vec<TrackerTicket>> {
        let mut url = self.client.path("/issues");
        let mut first = true;
        let mut out = Vec::new();
        for _ in 0..foreman_rest::MAX_PAGES {
            let page = self.page(&url, first).await?;
            let empty = page.issues.is_empty();
            out.extend(
                page.issues
                    .iter()
                    .filter(|i| i.pull_request.is_none() && i.state == "open")
                    .map(to_ticket),
            );
            match page.next {
                Some(next) if !empty => {
                    url = next;
                    first = false;
                }
                _ => return Ok(out),
            }
        }
        Err(TrackerError::Remote(RemoteError::Decode {
            service: "github",
            message: "too many pages".to_owned(),
        }))
    }

    async fn get_ticket(&self, external_id: &str) -> TrackerResult<TrackerTicket> {
        let n = number(external_id)?;
        let issue = self.issue(n).await?;
        let mut t = to_ticket(&issue);
        text::with_comments(&mut t, self.comments(n).await?);
        Ok(t)
    }

    async fn add_comment(&self, external_id: &str, body: &str) -> TrackerResult<TrackerComment> {
        let n = number(external_id)?;
        if body.trim().is_empty() {
            return Err(TrackerError::Invalid("empty comment".to_owned()));
        }
        let c = self
            .client
            .comment(n, body)
            .await
            .map_err(|e| not_found(e, external_id))?;
        Ok(TrackerComment {
            id: c.id.to_string(),
            author: c.user.map(|u| u.login),
            body: c.body.unwrap_or_default(),
            created_at: c.created_at,
        })
    }

    async fn add_label(&self, external_id: &str, label: &str) -> TrackerResult<()> {
        check_label(label)?;
        self.set_labels(number(external_id)?, Some(label), &[])
            .await
    }

    async fn remove_label(&self, external_id: &str, label: &str) -> TrackerResult<()> {
        check_label(label)?;
        self.set_labels(number(external_id)?, None, &[label]).await
    }

    async fn update_status(&self, external_id: &str, status: TrackerStatus) -> TrackerResult<()> {
        let n = number(external_id)?;
        let target = self.status_labels.for_status(status);
        let issue = self.issue(n).await?;
        if issue.state == "closed" && status != TrackerStatus::Done {
            // closed is done (by Foreman on a merge, or by a person): a late update of an
            // earlier status, retried from the outbox, must not reopen it
            return Ok(());
        }
        let present: Vec<&str> = self
            .status_labels
            .all()
            .into_iter()
            .filter(|l| Some(*l) != target && issue.labels.iter().any(|x| x.name == *l))
            .collect();
        let add = target.filter(|t| !issue.labels.iter().any(|x| x.name == *t));
        self.set_labels(n, add, &present).await?;
        let want_state = if status == TrackerStatus::Done {
            "closed"
        } else {
            "open"
        };
        if issue.state != want_state {
            let mut body = json!({ "state": want_state });
            if status == TrackerStatus::Done {
                body["state_reason"] = json!("completed");
            }
            self.client
                .http()
                .send_json::<serde_json::Value>(
                    Method::PATCH,
                    &self.client.path(&format!("/issues/{n}")),
                    &body,
                )
                .await
                .map_err(|e| not_found(e, external_id))?;
        }
        Ok(())
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
            description.push_str(&format!("\n\nPart of #{}", number(parent)?));
        }
        let body = join_acceptance_criteria(&description, &new.acceptance_criteria);
        let issue: wire::Issue = self
            .client
            .http()
            .send_json(
                Method::POST,
                &self.client.path("/issues"),
                &json!({ "title": new.title, "body": body, "labels": new.labels }),
            )
            .await?;
        Ok(to_ticket(&issue))
    }

    async fn check(&self) -> TrackerResult<()> {
        Ok(self.client.check().await?)
    }
}

pub(crate) fn check_label(label: &str) -> TrackerResult<()> {
    if label.trim().is_empty() || label.len() > 100 {
        return Err(TrackerError::Invalid(format!("bad label {label:?}")));
    }
    Ok(())
}
