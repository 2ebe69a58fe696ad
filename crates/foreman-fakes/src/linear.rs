//! A fake Linear GraphQL API: one team's issues, labels, workflow states, comments and
//! attachments.
//!
//! It recognises the operations Foreman sends by `operationName` (as Linear would execute any
//! document; the fake cannot, so an unknown operation is a validation error), reads every input
//! from `variables`, and refuses a document that has a variable's value spelled into its text
//! (a string-built query). Errors come in GraphQL's shape: `{"errors": [{"message",
//! "extensions": {"code"}}]}`, with Linear's `RATELIMITED` answered as HTTP 400.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use crate::common::{self, Control, Gate, Running, now};

/// Workflow states: id, name, type.
pub const STATES: &[(&str, &str, &str)] = &[
    ("st-backlog", "Backlog", "backlog"),
    ("st-todo", "Todo", "unstarted"),
    ("st-progress", "In Progress", "started"),
    ("st-review", "In Review", "started"),
    ("st-blocked", "Blocked", "started"),
    ("st-done", "Done", "completed"),
    ("st-canceled", "Canceled", "canceled"),
];

/// An issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Id.
    pub id: String,
    /// Identifier (`ENG-1`).
    pub identifier: String,
    /// Title.
    pub title: String,
    /// Markdown description.
    pub description: Option<String>,
    /// 0 none, 1 urgent ... 4 low.
    pub priority: i64,
    /// Label ids.
    pub label_ids: Vec<String>,
    /// Workflow state id.
    pub state_id: String,
    /// Comments: (id, body).
    pub comments: Vec<(String, String)>,
    /// Attachments: (url, title).
    pub attachments: Vec<(String, String)>,
    /// Parent issue id.
    pub parent_id: Option<String>,
}

#[derive(Debug, Default)]
struct LinearState {
    base_url: String,
    team_key: String,
    next: i64,
    next_id: i64,
    issues: BTreeMap<i64, Issue>,
    labels: Vec<(String, String)>,
    rate_limit_next: bool,
}

type Shared = Arc<Mutex<LinearState>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, LinearState> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake Linear workspace with one team.
#[derive(Debug)]
pub struct FakeLinear {
    server: Running,
    state: Shared,
    /// Failure injection and the request log.
    pub control: Arc<Control>,
    /// The API key it accepts.
    pub api_key: String,
    /// The team key.
    pub team_key: String,
}

impl FakeLinear {
    /// Starts a fake workspace with team `team_key` (id `team-1`), accepting `api_key`.
    pub async fn start(team_key: &str, api_key: &str) -> Self {
        let state: Shared = Arc::new(Mutex::new(LinearState {
            team_key: team_key.to_owned(),
            next: 1,
            next_id: 1,
            ..LinearState::default()
        }));
        let control = Arc::new(Control::default());
        let expected = api_key.to_owned();
        let gate = Gate {
            control: control.clone(),
            authorised: Arc::new(move |h: &HeaderMap| {
                h.get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.strip_prefix("Bearer ").unwrap_or(v))
                    .is_some_and(|t| t == expected)
            }),
            error_body: |status, message| {
                let code = match status {
                    401 => "AUTHENTICATION_ERROR",
                    429 => "RATELIMITED",
                    _ => "INTERNAL_SERVER_ERROR",
                };
                json!({"errors": [{"message": message, "extensions": {"code": code}}]})
            },
        };
        let router = Router::new()
            .route("/graphql", post(graphql))
            .with_state(state.clone());
        let server = common::serve(router, gate).await;
        lock(&state).base_url.clone_from(&server.url);
        Self {
            server,
            state,
            control,
            api_key: api_key.to_owned(),
            team_key: team_key.to_owned(),
        }
    }

    /// The GraphQL endpoint (`https://api.linear.app/graphql` in production).
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("{}/graphql", self.server.url)
    }

    /// Adds an issue in `Todo`; returns its identifier.
    pub fn add_issue(
        &self,
        title: &str,
        description: Option<&str>,
        labels: &[&str],
        priority: i64,
    ) -> String {
        let mut s = lock(&self.state);
        let label_ids = labels.iter().map(|l| label_id(&mut s, l)).collect();
        let n = s.next;
        s.next += 1;
        let identifier = format!("{}-{n}", s.team_key);
        s.issues.insert(
            n,
            Issue {
                id: format!("iss-{n}"),
                identifier: identifier.clone(),
                title: title.to_owned(),
                description: description.map(str::to_owned),
                priority,
                label_ids,
                state_id: "st-todo".to_owned(),
                comments: Vec::new(),
                attachments: Vec::new(),
                parent_id: None,
            },
        );
        identifier
    }

    /// An issue by identifier.
    #[must_use]
    pub fn issue(&self, identifier: &str) -> Option<Issue> {
        lock(&self.state)
            .issues
            .values()
            .find(|i| i.identifier == identifier)
            .cloned()
    }

    /// The name of a workflow state id.
    #[must_use]
    pub fn state_name(id: &str) -> &'static str {
        STATES.iter().find(|s| s.0 == id).map_or("?", |s| s.1)
    }

    /// Label names of an issue.
    #[must_use]
    pub fn label_names(&self, identifier: &str) -> Vec<String> {
        let s = lock(&self.state);
        let Some(i) = s.issues.values().find(|i| i.identifier == identifier) else {
            return Vec::new();
        };
        i.label_ids
            .iter()
            .filter_map(|id| s.labels.iter().find(|l| &l.0 == id).map(|l| l.1.clone()))
            .collect()
    }

    /// Answers the next request with Linear's rate-limit error (HTTP 400, `RATELIMITED`).
    pub fn rate_limit_next(&self) {
        lock(&self.state).rate_limit_next = true;
    }
}

fn label_id(s: &mut LinearState, name: &str) -> String {
    if let Some(l) = s.labels.iter().find(|l| l.1 == name) {
        return l.0.clone();
    }
    let id = format!("lbl-{}", s.labels.len() + 1);
    s.labels.push((id.clone(), name.to_owned()));
    id
}

fn gql_error(status: StatusCode, message: &str, code: &str) -> Response {
    common::json(
        status,
        json!({"errors": [{"message": message, "extensions": {"code": code, "userPresentableMessage": message}}], "data": null}),
    )
}

fn data(field: &str, value: Value) -> Response {
    common::json(StatusCode::OK, json!({"data": {field: value}}))
}

fn state_json(id: &str) -> Value {
    let (id, name, ty) = STATES
        .iter()
        .find(|s| s.0 == id)
        .copied()
        .unwrap_or(STATES[1]);
    json!({"id": id, "name": name, "type": ty})
}

fn issue_json(s: &LinearState, i: &Issue, with_comments: bool) -> Value {
    let labels: Vec<Value> = i
        .label_ids
        .iter()
        .filter_map(|id| s.labels.iter().find(|l| &l.0 == id))
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    let mut v = json!({
        "id": i.id,
        "identifier": i.identifier,
        "title": i.title,
        "description": i.description,
        "priority": i.priority,
        "url": format!("{}/issue/{}", s.base_url, i.identifier),
        "labels": {"nodes": labels},
        "assignee": null,
        "creator": {"name": "Grace Hopper"},
        "state": state_json(&i.state_id),
        "updatedAt": now(),
    });
    if with_comments {
        v["comments"] = json!({"nodes": i.comments.iter().map(|(id, body)| json!({"id": id, "body": body, "createdAt": now(), "user": {"name": "Foreman Bot"}})).collect::<Vec<_>>()});
    }
    v
}

fn find<'a>(s: &'a LinearState, id: &str) -> Option<&'a Issue> {
    s.issues.values().find(|i| i.id == id || i.identifier == id)
}

fn find_mut<'a>(s: &'a mut LinearState, id: &str) -> Option<&'a mut Issue> {
    s.issues
        .values_mut()
        .find(|i| i.id == id || i.identifier == id)
}

/// Every string value inside the variables.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn not_found(what: &str) -> Response {
    gql_error(
        StatusCode::OK,
        &format!("Entity not found: {what}"),
        "INVALID_INPUT",
    )
}

#[allow(
    clippy::too_many_lines,
    reason = "one match arm per operation reads better than a table of closures"
)]
async fn graphql(State(st): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = lock(&st);
    if std::mem::take(&mut s.rate_limit_next) {
        return gql_error(
            StatusCode::BAD_REQUEST,
            "Rate limit exceeded",
            "RATELIMITED",
        );
    }
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let op = body
        .get("operationName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let vars = body.get("variables").cloned().unwrap_or_else(|| json!({}));
    let mut values = Vec::new();
    strings(&vars, &mut values);
    if let Some(v) = values
        .iter()
        .find(|v| v.len() >= 3 && query.contains(v.as_str()))
    {
        return gql_error(
            StatusCode::BAD_REQUEST,
            &format!("value {v:?} is spelled into the document; pass it as a variable"),
            "GRAPHQL_VALIDATION_FAILED",
        );
    }
    if !query.contains(&format!(" {op}")) {
        return gql_error(
            StatusCode::BAD_REQUEST,
            "operationName does not match the document",
            "GRAPHQL_VALIDATION_FAILED",
        );
    }
    let var = |k: &str| vars.get(k).and_then(Value::as_str).map(str::to_owned);
    match op {
        "Viewer" => data("viewer", json!({"id": "user-1", "name": "Foreman Bot"})),
        "Team" => {
            let nodes: Vec<Value> = (var("key").as_deref() == Some(s.team_key.as_str()))
                .then(|| json!({"id": "team-1", "key": s.team_key, "name": "Engineering"}))
                .into_iter()
                .collect();
            data("teams", json!({"nodes": nodes}))
        }
        "WorkflowStates" => {
            if var("teamId").as_deref() != Some("team-1") {
                return data("workflowStates", json!({"nodes": []}));
            }
            data(
                "workflowStates",
                json!({"nodes": STATES.iter().map(|(id, ..)| state_json(id)).collect::<Vec<_>>()}),
            )
        }
        "IssueLabel" => {
            let name = var("name").unwrap_or_default();
            let nodes: Vec<Value> = s
                .labels
                .iter()
                .filter(|l| l.1 == name)
                .map(|(id, n)| json!({"id": id, "name": n}))
                .collect();
            data("issueLabels", json!({"nodes": nodes}))
        }
        "LabelCreate" => {
            let Some(name) = vars
                .pointer("/input/name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            else {
                return gql_error(StatusCode::BAD_REQUEST, "name is required", "INVALID_INPUT");
            };
            let id = label_id(&mut s, name);
            data(
                "issueLabelCreate",
                json!({"success": true, "issueLabel": {"id": id, "name": name}}),
            )
        }
        "ReadyIssues" => {
            let (Some(team), Some(label)) = (var("teamKey"), var("label")) else {
                return gql_error(
                    StatusCode::BAD_REQUEST,
                    "Variable \"$label\" of required type \"String!\" was not provided.",
                    "GRAPHQL_VALIDATION_FAILED",
                );
            };
            let offset: usize = var("after")
                .and_then(|a| a.strip_prefix("cur-").and_then(|n| n.parse().ok()))
                .unwrap_or(0);
            let label_id = s.labels.iter().find(|l| l.1 == label).map(|l| l.0.clone());
            let matching: Vec<&Issue> = s
                .issues
                .values()
                .filter(|_| team == s.team_key)
                .filter(|i| label_id.as_ref().is_some_and(|l| i.label_ids.contains(l)))
                .filter(|i| {
                    !matches!(
                        state_json(&i.state_id)["type"].as_str(),
                        Some("completed" | "canceled")
                    )
                })
                .collect();
            let page: Vec<Value> = matching
                .iter()
                .skip(offset)
                .take(100)
                .map(|i| issue_json(&s, i, false))
                .collect();
            let end = offset + page.len();
            data(
                "issues",
                json!({"nodes": page, "pageInfo": {"hasNextPage": end < matching.len(), "endCursor": format!("cur-{end}")}}),
            )
        }
        "Issue" => {
            let Some(id) = var("id") else {
                return gql_error(
                    StatusCode::BAD_REQUEST,
                    "Variable \"$id\" was not provided.",
                    "GRAPHQL_VALIDATION_FAILED",
                );
            };
            match find(&s, &id) {
                Some(i) => data("issue", issue_json(&s, i, true)),
                None => not_found("Issue"),
            }
        }
        "CommentCreate" => {
            let id = vars
                .pointer("/input/issueId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let body = vars
                .pointer("/input/body")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            s.next_id += 1;
            let cid = format!("cmt-{}", s.next_id);
            let Some(i) = find_mut(&mut s, &id) else {
                return not_found("Issue");
            };
            i.comments.push((cid.clone(), body.clone()));
            data(
                "commentCreate",
                json!({"success": true, "comment": {"id": cid, "body": body, "createdAt": now(), "user": {"name": "Foreman Bot"}}}),
            )
        }
        "IssueAddLabel" | "IssueRemoveLabel" => {
            let (Some(id), Some(label)) = (var("id"), var("labelId")) else {
                return gql_error(
                    StatusCode::BAD_REQUEST,
                    "id and labelId are required",
                    "GRAPHQL_VALIDATION_FAILED",
                );
            };
            if !s.labels.iter().any(|l| l.0 == label) {
                return not_found("IssueLabel");
            }
            let Some(i) = find_mut(&mut s, &id) else {
                return not_found("Issue");
            };
            if op == "IssueAddLabel" {
                if !i.label_ids.contains(&label) {
                    i.label_ids.push(label);
                }
                data("issueAddLabel", json!({"success": true}))
            } else {
                i.label_ids.retain(|l| *l != label);
                data("issueRemoveLabel", json!({"success": true}))
            }
        }
        "IssueUpdate" => {
            let id = var("id").unwrap_or_default();
            let state_id = vars
                .pointer("/input/stateId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if state_id
                .as_ref()
                .is_some_and(|sid| !STATES.iter().any(|st| st.0 == sid))
            {
                return not_found("WorkflowState");
            }
            let Some(i) = find_mut(&mut s, &id) else {
                return not_found("Issue");
            };
            if let Some(sid) = state_id {
                i.state_id = sid;
            }
            data("issueUpdate", json!({"success": true}))
        }
        "AttachmentLink" => {
            let (Some(id), Some(url)) = (var("issueId"), var("url")) else {
                return gql_error(
                    StatusCode::BAD_REQUEST,
                    "issueId and url are required",
                    "GRAPHQL_VALIDATION_FAILED",
                );
            };
            let title = var("title").unwrap_or_default();
            let Some(i) = find_mut(&mut s, &id) else {
                return not_found("Issue");
            };
            if !i.attachments.iter().any(|a| a.0 == url) {
                i.attachments.push((url, title));
            }
            data("attachmentLinkURL", json!({"success": true}))
        }
        "IssueCreate" => {
            let input = vars.get("input").cloned().unwrap_or_default();
            if input.get("teamId").and_then(Value::as_str) != Some("team-1") {
                return gql_error(
                    StatusCode::BAD_REQUEST,
                    "teamId is invalid",
                    "INVALID_INPUT",
                );
            }
            let Some(title) = input
                .get("title")
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())
            else {
                return gql_error(
                    StatusCode::BAD_REQUEST,
                    "title must not be empty",
                    "INVALID_INPUT",
                );
            };
            let n = s.next;
            s.next += 1;
            let issue = Issue {
                id: format!("iss-{n}"),
                identifier: format!("{}-{n}", s.team_key),
                title: title.to_owned(),
                description: input
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                priority: input.get("priority").and_then(Value::as_i64).unwrap_or(0),
                label_ids: input
                    .get("labelIds")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                state_id: "st-todo".to_owned(),
                comments: Vec::new(),
                attachments: Vec::new(),
                parent_id: input
                    .get("parentId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            };
            let v = issue_json(&s, &issue, false);
            s.issues.insert(n, issue);
            data("issueCreate", json!({"success": true, "issue": v}))
        }
        other => gql_error(
            StatusCode::BAD_REQUEST,
            &format!("Unknown operation {other:?}"),
            "GRAPHQL_VALIDATION_FAILED",
        ),
    }
}
