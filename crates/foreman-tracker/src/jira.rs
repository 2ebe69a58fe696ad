//! Jira Cloud (REST v3).
//!
//! Ready tickets come from an enhanced JQL search (`/rest/api/3/search/jql`, paged with
//! `nextPageToken`): the project's issues with the pickup label whose status category is not
//! done. Bodies and comments are Atlassian Document Format, converted with [`crate::adf`].
//! Statuses move through the issue's transitions to the status names configured in
//! [`JiraStatuses`]. Acceptance criteria come from a custom field when one is configured,
//! otherwise from a body section.

use async_trait::async_trait;
use foreman_domain::tracker::{
    DEFAULT_PICKUP_LABEL, NewTrackerTicket, Tracker, TrackerComment, TrackerError, TrackerResult,
    TrackerStatus, TrackerTicket, join_acceptance_criteria,
};
use foreman_rest::{Auth, HttpClient, HttpConfig, RemoteError, Request};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::adf;
use crate::github::check_label;
use crate::text::StatusNames;
use crate::text::{self, RawIssue};

/// The Jira status names Foreman's statuses move to ([`StatusNames`]; an empty name: that
/// status is not reported to Jira).
pub type JiraStatuses = StatusNames;

/// Where and how to reach one Jira project.
#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// The site, e.g. `https://acme.atlassian.net`.
    pub site_url: String,
    /// The account's e-mail (Basic auth user).
    pub email: String,
    /// An API token.
    pub api_token: String,
    /// The project key (`PROJ`).
    pub project_key: String,
    /// The pickup label ([`DEFAULT_PICKUP_LABEL`] when empty).
    pub pickup_label: String,
    /// The issue type of created tickets (default `Task`).
    pub issue_type: String,
    /// Status names per Foreman status.
    pub statuses: JiraStatuses,
    /// A custom field holding acceptance criteria (`customfield_10042`), if the site has one.
    pub criteria_field: Option<String>,
}

impl JiraConfig {
    /// A config with defaults for the optional parts.
    #[must_use]
    pub fn new(site_url: &str, email: &str, api_token: &str, project_key: &str) -> Self {
        Self {
            site_url: site_url.to_owned(),
            email: email.to_owned(),
            api_token: api_token.to_owned(),
            project_key: project_key.to_owned(),
            pickup_label: String::new(),
            issue_type: "Task".to_owned(),
            statuses: JiraStatuses::default(),
            criteria_field: None,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Named {
    name: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IssueJson {
    key: String,
    fields: Value,
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    issues: Vec<IssueJson>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
    #[serde(rename = "isLast")]
    is_last: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct CommentJson {
    id: String,
    body: Value,
    author: Option<Named>,
    created: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CommentPage {
    #[serde(default)]
    comments: Vec<CommentJson>,
    #[serde(rename = "startAt", default)]
    start_at: u64,
    #[serde(default)]
    total: u64,
}

#[derive(Debug, Deserialize)]
struct Transitions {
    #[serde(default)]
    transitions: Vec<Transition>,
}

#[derive(Debug, Deserialize)]
struct Transition {
    id: String,
    to: Named,
}

/// Jira Cloud as a [`Tracker`].
#[derive(Debug)]
pub struct JiraTracker {
    http: HttpClient,
    config: JiraConfig,
    site: String,
}

/// Escapes a value for a JQL double-quoted string.
#[must_use]
pub fn jql_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn parse_time(s: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    let s = s?;
    chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn person(v: &Value) -> Option<String> {
    v.get("displayName")
        .or_else(|| v.get("emailAddress"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Checks a Jira key (`PROJ-123`).
fn key(external_id: &str) -> TrackerResult<&str> {
    let k = external_id.trim();
    let ok = k.split_once('-').is_some_and(|(p, n)| {
        !p.is_empty()
            && p.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && p.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
    });
    if ok {
        Ok(k)
    } else {
        Err(TrackerError::Invalid(format!(
            "{external_id:?} is not a Jira issue key"
        )))
    }
}

impl JiraTracker {
    /// Builds the tracker with Basic auth (e-mail and API token).
    ///
    /// # Errors
    /// [`TrackerError::Invalid`] for missing settings or an unusable URL.
    pub fn new(config: JiraConfig) -> TrackerResult<Self> {
        let http = HttpConfig::new(
            "jira",
            &config.site_url,
            Auth::Basic {
                user: config.email.clone(),
                password: config.api_token.clone(),
            },
        );
        Self::with_http(http, config)
    }

    /// Builds the tracker with explicit HTTP settings.
    ///
    /// # Errors
    /// As [`JiraTracker::new`].
    pub fn with_http(http: HttpConfig, mut config: JiraConfig) -> TrackerResult<Self> {
        for (what, v) in [
            ("email", &config.email),
            ("api token", &config.api_token),
            ("project key", &config.project_key),
        ] {
            if v.trim().is_empty() {
                return Err(TrackerError::Invalid(format!(
                    "jira {what} is not configured"
                )));
            }
        }
        if config.pickup_label.trim().is_empty() {
            DEFAULT_PICKUP_LABEL.clone_into(&mut config.pickup_label);
        }
        if config.issue_type.trim().is_empty() {
            "Task".clone_into(&mut config.issue_type);
        }
        let site = config.site_url.trim_end_matches('/').to_owned();
        Ok(Self {
            http: HttpClient::new(http)?,
            config,
            site,
        })
    }

    fn fields(&self) -> Vec<String> {
        let mut f: Vec<String> = [
            "summary",
            "description",
            "labels",
            "priority",
            "assignee",
            "reporter",
            "status",
            "updated",
            "parent",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if let Some(c) = &self.config.criteria_field {
            f.push(c.clone());
        }
        f
    }

    fn to_ticket(&self, i: &IssueJson) -> TrackerTicket {
        let f = &i.fields;
        let criteria = self
            .config
            .criteria_field
            .as_ref()
            .and_then(|c| f.get(c))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                doc => adf::to_text(doc),
            });
        text::ticket(RawIssue {
            external_id: i.key.clone(),
            title: f
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            body: f.get("description").map(adf::to_text).unwrap_or_default(),
            criteria_field: criteria,
            labels: f
                .get("labels")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            priority_name: f
                .get("priority")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            priority: None,
            assignee: f.get("assignee").and_then(person),
            reporter: f.get("reporter").and_then(person),
            url: format!("{}/browse/{}", self.site, i.key),
            state: f
                .get("status")
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            updated_at: parse_time(f.get("updated").and_then(Value::as_str)),
        })
    }

    fn not_found(e: RemoteError, k: &str) -> TrackerError {
        match e {
            RemoteError::NotFound { service, .. } => TrackerError::Remote(RemoteError::NotFound {
                service,
                what: format!("issue {k}"),
            }),
            e => e.into(),
        }
    }

    async fn issue(&self, k: &str) -> TrackerResult<IssueJson> {
        self.http
            .get_json(
                &format!("/rest/api/3/issue/{k}"),
                &[("fields", self.fields().join(","))],
            )
            .await
            .map_err(|e| Self::not_found(e, k))
    }

    /// A request whose answer may be `204 No Content`.
    async fn send(&self, method: Method, path: &str, body: &Value, k: &str) -> TrackerResult<()> {
        self.http
            .send(&Request::with_body(method, path, body))
            .await
            .map(|_| ())
            .map_err(|e| Self::not_found(e, k))
    }
}

#[async_trait]
impl Tracker for JiraTracker {
    fn name(&self) -> &'static str {
        "jira"
    }

    async fn fetch_ready(&self) -> TrackerResult<Vec<TrackerTicket>> {
        let jql = format!(
            "project = {} AND labels = {} AND statusCategory != Done ORDER BY created ASC",
            jql_quote(&self.config.project_key),
            jql_quote(&self.config.pickup_label)
        );
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..foreman_rest::MAX_PAGES {
            let mut body = json!({ "jql": jql, "fields": self.fields(), "maxResults": 100 });
            if let Some(t) = &token {
                body["nextPageToken"] = json!(t);
            }
            let page: SearchPage = self
                .http
                .send_json(Method::POST, "/rest/api/3/search/jql", &body)
                .await?;
            let empty = page.issues.is_empty();
            out.extend(page.issues.iter().map(|i| self.to_ticket(i)));
            match page.next_page_token {
                Some(t) if !empty && page.is_last != Some(true) => token = Some(t),
                _ => return Ok(out),
            }
        }
        Err(TrackerError::Remote(RemoteError::Decode {
            service: "jira",
            message: "too many pages".to_owned(),
        }))
    }

    async fn get_ticket(&self, external_id: &str) -> TrackerResult<TrackerTicket> {
        let k = key(external_id)?;
        let mut t = self.to_ticket(&self.issue(k).await?);
        let mut comments = Vec::new();
        let mut start = 0u64;
        loop {
            let page: CommentPage = self
                .http
                .get_json(
                    &format!("/rest/api/3/issue/{k}/comment"),
                    &[
                        ("startAt", start.to_string()),
                        ("maxResults", "100".to_owned()),
                        ("orderBy", "created".to_owned()),
                    ],
                )
                .await
                .map_err(|e| Self::not_found(e, k))?;
            let n = page.comments.len() as u64;
            for c in &page.comments {
                comments.push(text::comment(
                    c.id.clone(),
                    c.author
                        .as_ref()
                        .and_then(|a| a.display_name.clone().or_else(|| a.name.clone())),
                    &adf::to_text(&c.body),
                    parse_time(c.created.as_deref()),
                ));
            }
            start = page.start_at + n;
            if n == 0 || start >= page.total || comments.len() > 10_000 {
                break;
            }
        }
        text::with_comments(&mut t, comments);
        Ok(t)
    }

    async fn add_comment(&self, external_id: &str, body: &str) -> TrackerResult<TrackerComment> {
        let k = key(external_id)?;
        if body.trim().is_empty() {
            return Err(TrackerError::Invalid("empty comment".to_owned()));
        }
        let c: CommentJson = self
            .http
            .send_json(
                Method::POST,
                &format!("/rest/api/3/issue/{k}/comment"),
                &json!({ "body": adf::from_text(body) }),
            )
            .await
            .map_err(|e| Self::not_found(e, k))?;
        Ok(TrackerComment {
            id: c.id,
            author: c.author.and_then(|a| a.display_name),
            body: adf::to_text(&c.body),
            created_at: parse_time(c.created.as_deref()),
        })
    }

    async fn add_label(&self, external_id: &str, label: &str) -> TrackerResult<()> {
        let k = key(external_id)?;
        check_label(label)?;
        if label.contains(' ') {
            return Err(TrackerError::Invalid(format!(
                "jira labels cannot contain spaces: {label:?}"
            )));
        }
        let body = json!({ "update": { "labels": [{ "add": label }] } });
        self.send(Method::PUT, &format!("/rest/api/3/issue/{k}"), &body, k)
            .await
    }

    async fn remove_label(&self, external_id: &str, label: &str) -> TrackerResult<()> {
        let k = key(external_id)?;
        check_label(label)?;
        let body = json!({ "update": { "labels": [{ "remove": label }] } });
        self.send(Method::PUT, &format!("/rest/api/3/issue/{k}"), &body, k)
            .await
    }

    async fn update_status(&self, external_id: &str, status: TrackerStatus) -> TrackerResult<()> {
        let k = key(external_id)?;
        let want = self.config.statuses.name(status);
        if want.trim().is_empty() {
            return Ok(());
        }
        let current = self.to_ticket(&self.issue(k).await?).state;
        if current.eq_ignore_ascii_case(want) {
            return Ok(());
        }
        let list: Transitions = self
            .http
            .get_json(&format!("/rest/api/3/issue/{k}/transitions"), &[])
            .await
            .map_err(|e| Self::not_found(e, k))?;
        let Some(t) = list.transitions.iter().find(|t| {
            t.to.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(want))
        }) else {
            let available: Vec<&str> = list
                .transitions
                .iter()
                .filter_map(|t| t.to.name.as_deref())
                .collect();
            return Err(TrackerError::Misconfigured {
                service: "jira",
                message: format!(
                    "no transition from {current:?} to {want:?} for {k} (available: {})",
                    available.join(", ")
                ),
            });
        };
        self.send(
            Method::POST,
            &format!("/rest/api/3/issue/{k}/transitions"),
            &json!({ "transition": { "id": t.id } }),
            k,
        )
        .await
    }

    async fn attach_pr(&self, external_id: &str, url: &str, title: &str) -> TrackerResult<()> {
        let k = key(external_id)?;
        if url.trim().is_empty() {
            return Err(TrackerError::Invalid("empty pull request url".to_owned()));
        }
        // globalId makes the link idempotent: posting it again updates the same link
        let body = json!({ "globalId": url, "object": { "url": url, "title": title } });
        self.send(
            Method::POST,
            &format!("/rest/api/3/issue/{k}/remotelink"),
            &body,
            k,
        )
        .await
    }

    async fn create_ticket(&self, new: &NewTrackerTicket) -> TrackerResult<TrackerTicket> {
        if new.title.trim().is_empty() {
            return Err(TrackerError::Invalid("ticket title is empty".to_owned()));
        }
        let body_text = match &self.config.criteria_field {
            Some(_) => new.description.clone(),
            None => join_acceptance_criteria(&new.description, &new.acceptance_criteria),
        };
        let mut fields = json!({
            "project": { "key": self.config.project_key },
            "summary": new.title.trim(),
            "issuetype": { "name": self.config.issue_type },
            "description": adf::from_text(&body_text),
            "labels": new.labels,
        });
        if let Some(c) = &self.config.criteria_field {
            fields[c] = adf::from_text(&new.acceptance_criteria);
        }
        if let Some(p) = &new.parent {
            fields["parent"] = json!({ "key": key(p)? });
        }
        #[derive(Deserialize)]
        struct Created {
            key: String,
        }
        let created: Created = self
            .http
            .send_json(
                Method::POST,
                "/rest/api/3/issue",
                &json!({ "fields": fields }),
            )
            .await?;
        self.get_ticket(&created.key).await
    }

    async fn check(&self) -> TrackerResult<()> {
        self.http
            .get_json::<Value>("/rest/api/3/myself", &[])
            .await?;
        self.http
            .get_json::<Value>(
                &format!("/rest/api/3/project/{}", self.config.project_key),
                &[],
            )
            .await
            .map_err(|e| match e {
                RemoteError::NotFound { service, .. } => {
                    TrackerError::Remote(RemoteError::NotFound {
                        service,
                        what: format!("project {}", self.config.project_key),
                    })
                }
                e => e.into(),
            })?;
        Ok(())
    }

    async fn check_statuses(&self) -> TrackerResult<Vec<String>> {
        #[derive(Deserialize)]
        struct IssueTypeStatuses {
            #[serde(default)]
            statuses: Vec<Named>,
        }
        let types: Vec<IssueTypeStatuses> = self
            .http
            .get_json(
                &format!("/rest/api/3/project/{}/statuses", self.config.project_key),
                &[],
            )
            .await?;
        let mut available: Vec<String> = types
            .iter()
            .flat_map(|t| t.statuses.iter().filter_map(|s| s.name.clone()))
            .collect();
        available.sort();
        available.dedup();
        Ok(self
            .config
            .statuses
            .missing_from(&available, &format!("project {}", self.config.project_key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jql_values_are_quoted() {
        assert_eq!(jql_quote("foreman-ready"), "\"foreman-ready\"");
        assert_eq!(jql_quote("a\" OR 1=1 \\"), "\"a\\\" OR 1=1 \\\\\"");
    }

    #[test]
    fn keys_are_checked() {
        assert!(key("PROJ-12").is_ok());
        assert!(key("AB_2-1").is_ok());
        for bad in ["proj-1", "PROJ", "PROJ-", "-1", "PROJ-1/../x", "#4"] {
            assert!(key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jira_timestamps_parse() {
        assert!(parse_time(Some("2026-03-05T10:00:00.000+0000")).is_some());
        assert!(parse_time(Some("2026-03-05T10:00:00Z")).is_some());
        assert!(parse_time(Some("yesterday")).is_none());
    }
}
