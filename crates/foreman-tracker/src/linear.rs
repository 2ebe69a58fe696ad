//! Linear (GraphQL).
//!
//! Every request is a named operation from [`ops`] with its inputs passed as GraphQL
//! variables; no user data is ever spliced into query text. Ready tickets are the team's issues
//! with the pickup label whose workflow state is neither completed nor canceled (cursor
//! paged). Statuses move to the workflow states named in [`LinearStates`]; labels are resolved
//! to ids (and created on the team when missing); the pull request becomes an attachment.

use std::collections::HashMap;

use async_trait::async_trait;
use foreman_domain::tracker::{
    DEFAULT_PICKUP_LABEL, NewTrackerTicket, Tracker, TrackerComment, TrackerError, TrackerResult,
    TrackerStatus, TrackerTicket, join_acceptance_criteria, priority,
};
use foreman_rest::page::collect_cursor_pages;
use foreman_rest::{Auth, HttpClient, HttpConfig, RemoteError};
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::github::check_label;
use crate::text::StatusNames;
use crate::text::{self, RawIssue};

/// The public API endpoint.
pub const DEFAULT_API_URL: &str = "https://api.linear.app/graphql";

/// The GraphQL documents Foreman sends, one operation each.
pub mod ops {
    const ISSUE_FIELDS: &str = "id identifier title description priority url labels { nodes { id name } } assignee { name } creator { name } state { id name type } updatedAt";

    /// The current user (health check).
    pub const VIEWER: &str = "query Viewer { viewer { id name } }";
    /// A team by key.
    pub const TEAM: &str = "query Team($key: String!) { teams(filter: { key: { eq: $key } }) { nodes { id key name } } }";
    /// The team's workflow states.
    pub const WORKFLOW_STATES: &str = "query WorkflowStates($teamId: ID!) { workflowStates(filter: { team: { id: { eq: $teamId } } }) { nodes { id name type } } }";
    /// A label by name.
    pub const ISSUE_LABEL: &str = "query IssueLabel($name: String!) { issueLabels(filter: { name: { eq: $name } }) { nodes { id name } } }";
    /// Creates a label.
    pub const LABEL_CREATE: &str = "mutation LabelCreate($input: IssueLabelCreateInput!) { issueLabelCreate(input: $input) { success issueLabel { id name } } }";
    /// Adds a label to an issue.
    pub const ISSUE_ADD_LABEL: &str = "mutation IssueAddLabel($id: String!, $labelId: String!) { issueAddLabel(id: $id, labelId: $labelId) { success } }";
    /// Removes a label from an issue.
    pub const ISSUE_REMOVE_LABEL: &str = "mutation IssueRemoveLabel($id: String!, $labelId: String!) { issueRemoveLabel(id: $id, labelId: $labelId) { success } }";
    /// Changes an issue.
    pub const ISSUE_UPDATE: &str = "mutation IssueUpdate($id: String!, $input: IssueUpdateInput!) { issueUpdate(id: $id, input: $input) { success } }";
    /// Comments on an issue.
    pub const COMMENT_CREATE: &str = "mutation CommentCreate($input: CommentCreateInput!) { commentCreate(input: $input) { success comment { id body createdAt user { name } } } }";
    /// Links a URL to an issue.
    pub const ATTACHMENT_LINK: &str = "mutation AttachmentLink($issueId: String!, $url: String!, $title: String) { attachmentLinkURL(issueId: $issueId, url: $url, title: $title) { success } }";

    /// The ready list, one page.
    #[must_use]
    pub fn ready_issues() -> String {
        format!(
            "query ReadyIssues($teamKey: String!, $label: String!, $after: String) {{ issues(first: 100, after: $after, orderBy: createdAt, filter: {{ team: {{ key: {{ eq: $teamKey }} }}, labels: {{ name: {{ eq: $label }} }}, state: {{ type: {{ nin: [\"completed\", \"canceled\"] }} }} }}) {{ nodes {{ {ISSUE_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
    }

    /// One issue with its comments.
    #[must_use]
    pub fn issue() -> String {
        format!(
            "query Issue($id: String!) {{ issue(id: $id) {{ {ISSUE_FIELDS} comments(first: 250) {{ nodes {{ id body createdAt user {{ name }} }} }} }} }}"
        )
    }

    /// Creates an issue.
    #[must_use]
    pub fn issue_create() -> String {
        format!(
            "mutation IssueCreate($input: IssueCreateInput!) {{ issueCreate(input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }} }}"
        )
    }
}

/// The workflow state names Foreman's statuses move to ([`StatusNames`]; Linear's
/// `Canceled` is another choice for failed).
pub type LinearStates = StatusNames;

/// Where and how to reach one Linear team.
#[derive(Debug, Clone)]
pub struct LinearConfig {
    /// The GraphQL endpoint.
    pub api_url: String,
    /// A personal API key (`lin_api_...`, sent as is) or an OAuth token (`lin_oauth_...`,
    /// sent as a bearer token).
    pub api_key: String,
    /// The team key (`ENG`).
    pub team_key: String,
    /// The pickup label ([`DEFAULT_PICKUP_LABEL`] when empty).
    pub pickup_label: String,
    /// State names per Foreman status.
    pub states: LinearStates,
}

impl LinearConfig {
    /// A config with defaults for the optional parts.
    #[must_use]
    pub fn new(api_url: &str, api_key: &str, team_key: &str) -> Self {
        Self {
            api_url: api_url.to_owned(),
            api_key: api_key.to_owned(),
            team_key: team_key.to_owned(),
            pickup_label: String::new(),
            states: LinearStates::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Nodes<T> {
    nodes: Vec<T>,
}

#[derive(Debug, Clone, Deserialize)]
struct NameOnly {
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
struct IdName {
    id: String,
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinearIssue {
    id: String,
    identifier: String,
    title: String,
    description: Option<String>,
    priority: Option<i64>,
    url: String,
    labels: Nodes<IdName>,
    assignee: Option<NameOnly>,
    creator: Option<NameOnly>,
    state: Option<State>,
    updated_at: Option<chrono::DateTime<chrono::Utc>>,
    comments: Option<Nodes<LinearComment>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinearComment {
    id: String,
    body: String,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    user: Option<NameOnly>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct TeamCache {
    team_id: Option<String>,
    states: Vec<State>,
    labels: HashMap<String, String>,
}

/// Linear as a [`Tracker`].
#[derive(Debug)]
pub struct LinearTracker {
    http: HttpClient,
    config: LinearConfig,
    cache: tokio::sync::Mutex<TeamCache>,
}

/// Maps Linear's 0–4 priority (0 none, 1 urgent, 4 low) to Foreman's scale.
#[must_use]
pub fn priority_from_linear(p: i64) -> i32 {
    match p {
        1 => priority::URGENT,
        2 => priority::HIGH,
        3 => priority::MEDIUM,
        4 => priority::LOW,
        _ => priority::NONE,
    }
}

/// Turns GraphQL `errors` into a tracker error.
fn graphql_error(errors: &Value, http_status: u16) -> TrackerError {
    let first = errors.get(0).cloned().unwrap_or_default();
    let message = first
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("unknown graphql error")
        .to_owned();
    let code = first
        .pointer("/extensions/code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match code {
        "RATELIMITED" => TrackerError::Remote(RemoteError::RateLimited {
            service: "linear",
            retry_after: None,
        }),
        "AUTHENTICATION_ERROR" => {
            TrackerError::Remote(RemoteError::Unauthorized { service: "linear" })
        }
        "FORBIDDEN" => TrackerError::Remote(RemoteError::Forbidden {
            service: "linear",
            message,
        }),
        _ if message.to_ascii_lowercase().contains("not found") => {
            TrackerError::Remote(RemoteError::NotFound {
                service: "linear",
                what: message,
            })
        }
        _ => TrackerError::Remote(RemoteError::Status {
            service: "linear",
            status: http_status,
            message,
        }),
    }
}

impl LinearTracker {
    /// Builds the tracker.
    ///
    /// # Errors
    /// [`TrackerError::Invalid`] for missing settings or an unusable URL.
    pub fn new(config: LinearConfig) -> TrackerResult<Self> {
        let auth = if config.api_key.starts_with("lin_oauth") {
            Auth::Bearer(config.api_key.clone())
        } else {
            Auth::Header {
                name: "authorization".to_owned(),
                value: config.api_key.clone(),
            }
        };
        let http = HttpConfig::new("linear", &config.api_url, auth);
        Self::with_http(http, config)
    }

    /// Builds the tracker with explicit HTTP settings.
    ///
    /// # Errors
    /// As [`LinearTracker::new`].
    pub fn with_http(http: HttpConfig, mut config: LinearConfig) -> TrackerResult<Self> {
        if config.api_key.trim().is_empty() {
            return Err(TrackerError::Invalid(
                "linear api key is not configured".to_owned(),
            ));
        }
        if config.team_key.trim().is_empty() {
            return Err(TrackerError::Invalid(
                "linear team key is not configured".to_owned(),
            ));
        }
        if config.pickup_label.trim().is_empty() {
            DEFAULT_PICKUP_LABEL.clone_into(&mut config.pickup_label);
        }
        Ok(Self {
            http: HttpClient::new(http)?,
            config,
            cache: tokio::sync::Mutex::new(TeamCache::default()),
        })
    }

    /// Runs one operation; `data` must hold `field`.
    async fn run<T: DeserializeOwned>(
        &self,
        operation: &str,
        query: &str,
        variables: Value,
        field: &str,
    ) -> TrackerResult<T> {
        let body = json!({ "query": query, "variables": variables, "operationName": operation });
        let resp: Value = match self.http.send_json(Method::POST, "", &body).await {
            Ok(v) => v,
            Err(RemoteError::Status {
                status, message, ..
            }) => {
                // Linear answers 400 with GraphQL errors (rate limits included)
                return Err(match serde_json::from_str::<Value>(&message) {
                    Ok(errors) if errors.is_array() => graphql_error(&errors, status),
                    _ => TrackerError::Remote(RemoteError::Status {
                        service: "linear",
                        status,
                        message,
                    }),
                });
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(errors) = resp
            .get("errors")
            .filter(|e| e.as_array().is_some_and(|a| !a.is_empty()))
        {
            return Err(graphql_error(errors, 200));
        }
        let data = resp
            .pointer(&format!("/data/{field}"))
            .cloned()
            .unwrap_or(Value::Null);
        serde_json::from_value(data).map_err(|e| {
            TrackerError::Remote(RemoteError::Decode {
                service: "linear",
                message: format!("{operation}: {e}"),
            })
        })
    }

    async fn team_id(&self) -> TrackerResult<String> {
        if let Some(id) = self.cache.lock().await.team_id.clone() {
            return Ok(id);
        }
        let teams: Nodes<IdName> = self
            .run(
                "Team",
                ops::TEAM,
                json!({ "key": self.config.team_key }),
                "teams",
            )
            .await?;
        let id = teams.nodes.first().map(|t| t.id.clone()).ok_or_else(|| {
            TrackerError::Remote(RemoteError::NotFound {
                service: "linear",
                what: format!("team {}", self.config.team_key),
            })
        })?;
        self.cache.lock().await.team_id = Some(id.clone());
        Ok(id)
    }

    async fn states(&self) -> TrackerResult<Vec<State>> {
        if !self.cache.lock().await.states.is_empty() {
            return Ok(self.cache.lock().await.states.clone());
        }
        let team_id = self.team_id().await?;
        let states: Nodes<State> = self
            .run(
                "WorkflowStates",
                ops::WORKFLOW_STATES,
                json!({ "teamId": team_id }),
                "workflowStates",
            )
            .await?;
        self.cache.lock().await.states.clone_from(&states.nodes);
        Ok(states.nodes)
    }

    /// The id of a label, created on the team when `create` and missing.
    async fn label_id(&self, name: &str, create: bool) -> TrackerResult<Option<String>> {
        if let Some(id) = self.cache.lock().await.labels.get(name).cloned() {
            return Ok(Some(id));
        }
        let found: Nodes<IdName> = self
            .run(
                "IssueLabel",
                ops::ISSUE_LABEL,
                json!({ "name": name }),
                "issueLabels",
            )
            .await?;
        let id = match found.nodes.into_iter().find(|l| l.name == name) {
            Some(l) => l.id,
            None if create => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Created {
                    issue_label: IdName,
                }
                let team_id = self.team_id().await?;
                let c: Created = self
                    .run(
                        "LabelCreate",
                        ops::LABEL_CREATE,
                        json!({ "input": { "name": name, "teamId": team_id } }),
                        "issueLabelCreate",
                    )
                    .await?;
                c.issue_label.id
            }
            None => return Ok(None),
        };
        self.cache
            .lock()
            .await
            .labels
            .insert(name.to_owned(), id.clone());
        Ok(Some(id))
    }

    fn to_ticket(&self, i: &LinearIssue) -> TrackerTicket {
        let mut t = text::ticket(RawIssue {
            external_id: i.identifier.clone(),
            title: i.title.clone(),
            body: i.description.clone().unwrap_or_default(),
            criteria_field: None,
            labels: i.labels.nodes.iter().map(|l| l.name.clone()).collect(),
            priority_name: None,
            priority: i.priority.map(priority_from_linear),
            assignee: i.assignee.as_ref().map(|a| a.name.clone()),
            reporter: i.creator.as_ref().map(|a| a.name.clone()),
            url: i.url.clone(),
            state: i.state.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
            updated_at: i.updated_at,
        });
        if let Some(c) = &i.comments {
            let comments = c
                .nodes
                .iter()
                .map(|c| {
                    text::comment(
                        c.id.clone(),
                        c.user.as_ref().map(|u| u.name.clone()),
                        &c.body,
                        c.created_at,
                    )
                })
                .collect();
            text::with_comments(&mut t, comments);
        }
        t
    }

    async fn issue(&self, external_id: &str) -> TrackerResult<LinearIssue> {
        let id = identifier(external_id)?;
        let issue: Option<LinearIssue> = self
            .run("Issue", &ops::issue(), json!({ "id": id }), "issue")
            .await?;
        issue.ok_or_else(|| {
            TrackerError::Remote(RemoteError::NotFound {
                service: "linear",
                what: format!("issue {id}"),
            })
        })
    }

    async fn success(
        &self,
        operation: &str,
        query: &str,
        variables: Value,
        field: &str,
    ) -> TrackerResult<()> {
        #[derive(Deserialize)]
        struct Success {
            success: bool,
        }
        let s: Success = self.run(operation, query, variables, field).await?;
        if s.success {
            Ok(())
        } else {
            Err(TrackerError::Remote(RemoteError::Status {
                service: "linear",
                status: 200,
                message: format!("{operation} was not successful"),
            }))
        }
    }
}

/// Checks a Linear identifier (`ENG-12`).
fn identifier(external_id: &str) -> TrackerResult<&str> {
    let k = external_id.trim();
    let ok = k.split_once('-').is_some_and(|(p, n)| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_alphanumeric())
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
    });
    if ok {
        Ok(k)
    } else {
        Err(TrackerError::Invalid(format!(
            "{external_id:?} is not a Linear issue identifier"
        )))
    }
}

#[async_trait]
impl Tracker for LinearTracker {
    fn name(&self) -> &'static str {
        "linear"
    }

    async fn fetch_ready(&self) -> TrackerResult<Vec<TrackerTicket>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            nodes: Vec<LinearIssue>,
            page_info: PageInfo,
        }
        let query = ops::ready_issues();
        let pages = collect_cursor_pages("linear", |after| {
            let query = &query;
            async move {
                let page: Page = self
                    .run(
                        "ReadyIssues",
                        query,
                        json!({ "teamKey": self.config.team_key, "label": self.config.pickup_label, "after": after }),
                        "issues",
                    )
                    .await?;
                let next = page
                    .page_info
                    .end_cursor
                    .filter(|_| page.page_info.has_next_page && !page.nodes.is_empty());
                Ok::<_, TrackerError>((page.nodes, next))
            }
        })
        .await?;
        Ok(pages.iter().map(|i| self.to_ticket(i)).collect())
    }

    async fn get_ticket(&self, external_id: &str) -> TrackerResult<TrackerTicket> {
        Ok(self.to_ticket(&self.issue(external_id).await?))
    }

    async fn add_comment(&self, external_id: &str, body: &str) -> TrackerResult<TrackerComment> {
        if body.trim().is_empty() {
            return Err(TrackerError::Invalid("empty comment".to_owned()));
        }
        let issue = self.issue(external_id).await?;
        #[derive(Deserialize)]
        struct Created {
            comment: LinearComment,
        }
        let c: Created = self
            .run(
                "CommentCreate",
                ops::COMMENT_CREATE,
                json!({ "input": { "issueId": issue.id, "body": body } }),
                "commentCreate",
            )
            .await?;
        Ok(TrackerComment {
            id: c.comment.id,
            author: c.comment.user.map(|u| u.name),
            body: c.comment.body,
            created_at: c.comment.created_at,
        })
    }

    async fn add_label(&self, external_id: &str, label: &str) -> TrackerResult<()> {
        check_label(label)?;
        let issue = self.issue(external_id).await?;
        if issue.labels.nodes.iter().any(|l| l.name == label) {
            return Ok(());
        }
        let label_id = self.label_id(label, true).await?.unwrap_or_default();
        self.success(
            "IssueAddLabel",
            ops::ISSUE_ADD_LABEL,
            json!({ "id": issue.id, "labelId": label_id }),
            "issueAddLabel",
        )
        .await
    }

    async fn remove_label(&self, external_id: &str, label: &str) -> TrackerResult<()> {
        check_label(label)?;
        let issue = self.issue(external_id).await?;
        let Some(l) = issue.labels.nodes.iter().find(|l| l.name == label) else {
            return Ok(());
        };
        self.success(
            "IssueRemoveLabel",
            ops::ISSUE_REMOVE_LABEL,
            json!({ "id": issue.id, "labelId": l.id }),
            "issueRemoveLabel",
        )
        .await
    }

    async fn update_status(&self, external_id: &str, status: TrackerStatus) -> TrackerResult<()> {
        let want = self.config.states.name(status);
        if want.trim().is_empty() {
            return Ok(());
        }
        let states = self.states().await?;
        let Some(state) = states.iter().find(|st| st.name.eq_ignore_ascii_case(want)) else {
            let names: Vec<&str> = states.iter().map(|st| st.name.as_str()).collect();
            return Err(TrackerError::Misconfigured {
                service: "linear",
                message: format!(
                    "team {} has no workflow state {want:?} (states: {})",
                    self.config.team_key,
                    names.join(", ")
                ),
            });
        };
        let issue = self.issue(external_id).await?;
        if issue.state.as_ref().is_some_and(|s| s.id == state.id) {
            return Ok(());
        }
        tracing::debug!(issue = %issue.identifier, state = %state.name, kind = %state.kind, "linear state change");
        self.success(
            "IssueUpdate",
            ops::ISSUE_UPDATE,
            json!({ "id": issue.id, "input": { "stateId": state.id } }),
            "issueUpdate",
        )
        .await
    }

    async fn attach_pr(&self, external_id: &str, url: &str, title: &str) -> TrackerResult<()> {
        if url.trim().is_empty() {
            return Err(TrackerError::Invalid("empty pull request url".to_owned()));
        }
        let issue = self.issue(external_id).await?;
        self.success(
            "AttachmentLink",
            ops::ATTACHMENT_LINK,
            json!({ "issueId": issue.id, "url": url, "title": title }),
            "attachmentLinkURL",
        )
        .await
    }

    async fn create_ticket(&self, new: &NewTrackerTicket) -> TrackerResult<TrackerTicket> {
        if new.title.trim().is_empty() {
            return Err(TrackerError::Invalid("ticket title is empty".to_owned()));
        }
        let team_id = self.team_id().await?;
        let mut label_ids = Vec::new();
        for l in &new.labels {
            check_label(l)?;
            label_ids.push(self.label_id(l, true).await?.unwrap_or_default());
        }
        let mut input = json!({
            "teamId": team_id,
            "title": new.title.trim(),
            "description": join_acceptance_criteria(&new.description, &new.acceptance_criteria),
            "labelIds": label_ids,
        });
        if let Some(p) = &new.parent {
            input["parentId"] = json!(self.issue(p).await?.id);
        }
        #[derive(Deserialize)]
        struct Created {
            issue: LinearIssue,
        }
        let c: Created = self
            .run(
                "IssueCreate",
                &ops::issue_create(),
                json!({ "input": input }),
                "issueCreate",
            )
            .await?;
        Ok(self.to_ticket(&c.issue))
    }

    async fn check(&self) -> TrackerResult<()> {
        let _: Value = self.run("Viewer", ops::VIEWER, json!({}), "viewer").await?;
        self.team_id().await?;
        Ok(())
    }

    async fn check_statuses(&self) -> TrackerResult<Vec<String>> {
        let available: Vec<String> = self.states().await?.into_iter().map(|s| s.name).collect();
        Ok(self
            .config
            .states
            .missing_from(&available, &format!("team {}", self.config.team_key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_take_every_input_as_a_variable() {
        for q in [ops::ready_issues(), ops::issue(), ops::issue_create()] {
            assert!(q.contains('$'), "{q}");
        }
        for q in [
            ops::TEAM,
            ops::ISSUE_LABEL,
            ops::ISSUE_UPDATE,
            ops::COMMENT_CREATE,
            ops::ATTACHMENT_LINK,
        ] {
            assert!(q.contains('$'));
        }
        assert!(ops::issue().contains("issue(id: $id)"));
    }

    #[test]
    fn errors_map_by_code() {
        let e = graphql_error(
            &json!([{"message": "ratelimited", "extensions": {"code": "RATELIMITED"}}]),
            400,
        );
        assert_eq!(e.code(), "rate_limited");
        let e = graphql_error(
            &json!([{"message": "Entity not found: Issue", "extensions": {"code": "INVALID_INPUT"}}]),
            200,
        );
        assert_eq!(e.code(), "not_found");
        let e = graphql_error(
            &json!([{"message": "bad", "extensions": {"code": "AUTHENTICATION_ERROR"}}]),
            400,
        );
        assert_eq!(e.code(), "unauthorized");
    }

    #[test]
    fn priorities_and_identifiers() {
        assert_eq!(priority_from_linear(1), priority::URGENT);
        assert_eq!(priority_from_linear(0), priority::NONE);
        assert!(identifier("ENG-12").is_ok());
        assert!(identifier("ENG-12\" } }").is_err());
    }
}
