//! A fake Jira Cloud REST v3: one project's issues with ADF descriptions and comments, labels,
//! a workflow with transitions, remote links, and the enhanced JQL search.
//!
//! Speaks Jira's shapes: Basic auth with e-mail and API token, `errorMessages`/`errors` bodies,
//! `204 No Content` for edits and transitions, `nextPageToken` search pages, `startAt` comment
//! pages. The JQL it understands is the query Foreman sends
//! (`project = "K" AND labels = "L" AND statusCategory != Done ORDER BY created ASC`); anything
//! else is a `400` as from a real site with a query it cannot parse.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::common::{self, Control, Gate, Running, base64};

/// The workflow: status name, category key, transition id.
pub const WORKFLOW: &[(&str, &str, &str)] = &[
    ("To Do", "new", "11"),
    ("In Progress", "indeterminate", "21"),
    ("In Review", "indeterminate", "31"),
    ("Blocked", "indeterminate", "41"),
    ("Done", "done", "51"),
];

/// An issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// Key (`PROJ-1`).
    pub key: String,
    /// Summary.
    pub summary: String,
    /// Description (ADF) or null.
    pub description: Value,
    /// Labels.
    pub labels: Vec<String>,
    /// Status name.
    pub status: String,
    /// Priority name.
    pub priority: Option<String>,
    /// Reporter display name.
    pub reporter: String,
    /// Comments: (id, ADF body).
    pub comments: Vec<(String, Value)>,
    /// Remote links: (global id, url, title).
    pub links: Vec<(String, String, String)>,
    /// Parent key.
    pub parent: Option<String>,
    /// Issue type name.
    pub issue_type: String,
    /// Custom fields.
    pub custom: HashMap<String, Value>,
}

#[derive(Debug, Default)]
struct JiraState {
    base_url: String,
    project: String,
    next: i64,
    next_comment: i64,
    issues: BTreeMap<i64, Issue>,
    disabled_transitions: Vec<String>,
}

type Shared = Arc<Mutex<JiraState>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, JiraState> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake Jira site with one project.
#[derive(Debug)]
pub struct FakeJira {
    server: Running,
    state: Shared,
    /// Failure injection and the request log.
    pub control: Arc<Control>,
    /// The account e-mail it accepts.
    pub email: String,
    /// The API token it accepts.
    pub token: String,
    /// The project key.
    pub project: String,
}

/// A plain-text paragraph document.
#[must_use]
pub fn adf_paragraphs(text: &str) -> Value {
    let content: Vec<Value> = text
        .split("\n\n")
        .filter(|p| !p.is_empty())
        .map(|p| json!({"type": "paragraph", "content": [{"type": "text", "text": p}]}))
        .collect();
    json!({"type": "doc", "version": 1, "content": content})
}

impl FakeJira {
    /// Starts a fake site with project `project`, accepting `email` and `token`.
    pub async fn start(project: &str, email: &str, token: &str) -> Self {
        let state: Shared = Arc::new(Mutex::new(JiraState {
            project: project.to_owned(),
            next: 1,
            next_comment: 10_000,
            ..JiraState::default()
        }));
        let control = Arc::new(Control::default());
        let expected = format!("Basic {}", base64(format!("{email}:{token}").as_bytes()));
        let gate = Gate {
            control: control.clone(),
            authorised: Arc::new(move |h: &HeaderMap| {
                h.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
            }),
            error_body: |status, message| {
                let message = match status {
                    401 => "Client must be authenticated to access this resource.",
                    404 => "Issue does not exist or you do not have permission to see it.",
                    _ => message,
                };
                json!({"errorMessages": [message], "errors": {}})
            },
        };
        let router = Router::new()
            .route("/rest/api/3/myself", get(myself))
            .route("/rest/api/3/project/{key}", get(get_project))
            .route("/rest/api/3/project/{key}/statuses", get(project_statuses))
            .route("/rest/api/3/search/jql", post(search))
            .route("/rest/api/3/issue", post(create_issue))
            .route("/rest/api/3/issue/{key}", get(get_issue).put(edit_issue))
            .route(
                "/rest/api/3/issue/{key}/comment",
                get(list_comments).post(add_comment),
            )
            .route(
                "/rest/api/3/issue/{key}/transitions",
                get(list_transitions).post(do_transition),
            )
            .route("/rest/api/3/issue/{key}/remotelink", post(add_link))
            .with_state(state.clone());
        let server = common::serve(router, gate).await;
        lock(&state).base_url.clone_from(&server.url);
        Self {
            server,
            state,
            control,
            email: email.to_owned(),
            token: token.to_owned(),
            project: project.to_owned(),
        }
    }

    /// The site URL (`https://acme.atlassian.net` in production).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Adds an issue in `To Do`; returns its key.
    pub fn add_issue(
        &self,
        summary: &str,
        description: Value,
        labels: &[&str],
        priority: Option<&str>,
    ) -> String {
        let mut s = lock(&self.state);
        let n = s.next;
        s.next += 1;
        let key = format!("{}-{n}", s.project);
        s.issues.insert(
            n,
            Issue {
                key: key.clone(),
                summary: summary.to_owned(),
                description,
                labels: labels.iter().map(|l| (*l).to_owned()).collect(),
                status: "To Do".to_owned(),
                priority: priority.map(str::to_owned),
                reporter: "Ada Lovelace".to_owned(),
                comments: Vec::new(),
                links: Vec::new(),
                parent: None,
                issue_type: "Task".to_owned(),
                custom: HashMap::new(),
            },
        );
        key
    }

    /// Sets a custom field on an issue.
    pub fn set_custom(&self, key: &str, field: &str, value: Value) {
        let mut s = lock(&self.state);
        if let Some(i) = find_mut(&mut s, key) {
            i.custom.insert(field.to_owned(), value);
        }
    }

    /// An issue by key.
    #[must_use]
    pub fn issue(&self, key: &str) -> Option<Issue> {
        let s = lock(&self.state);
        s.issues.values().find(|i| i.key == key).cloned()
    }

    /// Removes the transition into `status` from the workflow (a site without that status).
    pub fn disable_transition_to(&self, status: &str) {
        lock(&self.state)
            .disabled_transitions
            .push(status.to_owned());
    }
}

fn find_mut<'a>(s: &'a mut JiraState, key: &str) -> Option<&'a mut Issue> {
    s.issues.values_mut().find(|i| i.key == key)
}

fn err(status: StatusCode, messages: &[&str], errors: Value) -> Response {
    common::json(status, json!({"errorMessages": messages, "errors": errors}))
}

fn not_found() -> Response {
    err(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
        json!({}),
    )
}

fn is_adf(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("doc")
        && v.get("version").and_then(Value::as_i64) == Some(1)
        && v.get("content").is_some_and(Value::is_array)
}

fn category(status: &str) -> &'static str {
    WORKFLOW
        .iter()
        .find(|(n, ..)| *n == status)
        .map_or("new", |(_, c, _)| c)
}

fn issue_json(s: &JiraState, i: &Issue, fields: Option<&[String]>) -> Value {
    let mut f = json!({
        "summary": i.summary,
        "description": i.description,
        "labels": i.labels,
        "priority": i.priority.as_ref().map(|p| json!({"name": p})),
        "assignee": Value::Null,
        "reporter": {"displayName": i.reporter, "accountId": "557058:reporter"},
        "status": {"name": i.status, "statusCategory": {"key": category(&i.status)}},
        "updated": "2026-03-05T10:00:00.000+0000",
        "issuetype": {"name": i.issue_type},
        "parent": i.parent.as_ref().map(|p| json!({"key": p})),
    });
    for (k, v) in &i.custom {
        f[k] = v.clone();
    }
    if let (Some(wanted), Some(obj)) = (fields, f.as_object_mut()) {
        obj.retain(|k, _| wanted.iter().any(|w| w == k || w == "*all"));
    }
    json!({"id": i.key.split('-').next_back(), "key": i.key, "self": format!("{}/rest/api/3/issue/{}", s.base_url, i.key), "fields": f})
}

/// Reads a JQL double-quoted string at the start of `s`; returns it and the rest.
fn quoted(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

fn parse_jql(jql: &str) -> Option<(String, String)> {
    let rest = jql.trim().strip_prefix("project =")?;
    let (project, rest) = quoted(rest)?;
    let rest = rest.trim_start().strip_prefix("AND labels =")?;
    let (label, rest) = quoted(rest)?;
    let rest = rest.trim();
    (rest == "AND statusCategory != Done ORDER BY created ASC").then_some((project, label))
}

async fn myself() -> Response {
    common::json(
        StatusCode::OK,
        json!({"accountId": "557058:foreman", "displayName": "Foreman Bot", "active": true}),
    )
}

async fn get_project(State(st): State<Shared>, Path(key): Path<String>) -> Response {
    let s = lock(&st);
    if key != s.project {
        return no_project(&key);
    }
    common::json(
        StatusCode::OK,
        json!({"key": key, "name": "Project", "id": "10000"}),
    )
}

fn no_project(key: &str) -> Response {
    err(
        StatusCode::NOT_FOUND,
        &[&format!("No project could be found with key '{key}'.")],
        json!({}),
    )
}

/// The statuses of the project's one issue type: the workflow without its disabled statuses.
async fn project_statuses(State(st): State<Shared>, Path(key): Path<String>) -> Response {
    let s = lock(&st);
    if key != s.project {
        return no_project(&key);
    }
    let statuses: Vec<Value> = WORKFLOW
        .iter()
        .filter(|(n, ..)| !s.disabled_transitions.iter().any(|d| d == n))
        .map(|(n, c, id)| json!({"id": id, "name": n, "statusCategory": {"key": c}}))
        .collect();
    common::json(
        StatusCode::OK,
        json!([{"id": "10001", "name": "Task", "subtask": false, "statuses": statuses}]),
    )
}

async fn search(State(st): State<Shared>, body: axum::Json<Value>) -> Response {
    let s = lock(&st);
    let Some(jql) = body.get("jql").and_then(Value::as_str) else {
        return err(
            StatusCode::BAD_REQUEST,
            &["The JQL query is missing."],
            json!({}),
        );
    };
    let Some((project, label)) = parse_jql(jql) else {
        return err(
            StatusCode::BAD_REQUEST,
            &[&format!("Error in the JQL Query: cannot parse {jql:?}")],
            json!({}),
        );
    };
    let fields: Vec<String> = body
        .get("fields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| vec!["*all".to_owned()]);
    let max = body
        .get("maxResults")
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(1, 100);
    let offset: usize = body
        .get("nextPageToken")
        .and_then(Value::as_str)
        .and_then(|t| t.strip_prefix("tok-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let matching: Vec<&Issue> = s
        .issues
        .values()
        .filter(|i| {
            project == s.project && i.labels.contains(&label) && category(&i.status) != "done"
        })
        .collect();
    let max = usize::try_from(max).unwrap_or(100);
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(max)
        .map(|i| issue_json(&s, i, Some(&fields)))
        .collect();
    let next = offset + max;
    let mut out = json!({"issues": page, "isLast": next >= matching.len()});
    if next < matching.len() {
        out["nextPageToken"] = json!(format!("tok-{next}"));
    }
    common::json(StatusCode::OK, out)
}

async fn get_issue(
    State(st): State<Shared>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let s = lock(&st);
    let fields: Option<Vec<String>> = q
        .get("fields")
        .map(|f| f.split(',').map(str::to_owned).collect());
    match s.issues.values().find(|i| i.key == key) {
        Some(i) => common::json(StatusCode::OK, issue_json(&s, i, fields.as_deref())),
        None => not_found(),
    }
}

async fn edit_issue(
    State(st): State<Shared>,
    Path(key): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    let Some(i) = find_mut(&mut s, &key) else {
        return not_found();
    };
    for op in body
        .pointer("/update/labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(l) = op.get("add").and_then(Value::as_str) {
            if l.contains(' ') {
                return err(
                    StatusCode::BAD_REQUEST,
                    &[],
                    json!({"labels": "The label 'x y' contains spaces which is invalid."}),
                );
            }
            if !i.labels.iter().any(|x| x == l) {
                i.labels.push(l.to_owned());
            }
        }
        if let Some(l) = op.get("remove").and_then(Value::as_str) {
            i.labels.retain(|x| x != l);
        }
    }
    if let Some(summary) = body.pointer("/fields/summary").and_then(Value::as_str) {
        summary.clone_into(&mut i.summary);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn create_issue(State(st): State<Shared>, body: axum::Json<Value>) -> Response {
    let mut s = lock(&st);
    let Some(f) = body.get("fields") else {
        return err(StatusCode::BAD_REQUEST, &["fields are required"], json!({}));
    };
    let mut errors = serde_json::Map::new();
    if f.pointer("/project/key").and_then(Value::as_str) != Some(s.project.as_str()) {
        errors.insert("project".into(), json!("valid project is required"));
    }
    let summary = f.get("summary").and_then(Value::as_str).unwrap_or_default();
    if summary.trim().is_empty() {
        errors.insert(
            "summary".into(),
            json!("You must specify a summary of the issue."),
        );
    }
    let issue_type = f
        .pointer("/issuetype/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !["Task", "Bug", "Story", "Sub-task"].contains(&issue_type) {
        errors.insert("issuetype".into(), json!("Specify a valid issue type"));
    }
    let description = f.get("description").cloned().unwrap_or(Value::Null);
    if !description.is_null() && !is_adf(&description) {
        errors.insert(
            "description".into(),
            json!(
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            ),
        );
    }
    if !errors.is_empty() {
        return err(StatusCode::BAD_REQUEST, &[], Value::Object(errors));
    }
    let n = s.next;
    s.next += 1;
    let key = format!("{}-{n}", s.project);
    let mut custom = HashMap::new();
    if let Some(obj) = f.as_object() {
        for (k, v) in obj.iter().filter(|(k, _)| k.starts_with("customfield_")) {
            custom.insert(k.clone(), v.clone());
        }
    }
    s.issues.insert(
        n,
        Issue {
            key: key.clone(),
            summary: summary.to_owned(),
            description,
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
            status: "To Do".to_owned(),
            priority: None,
            reporter: "Foreman Bot".to_owned(),
            comments: Vec::new(),
            links: Vec::new(),
            parent: f
                .pointer("/parent/key")
                .and_then(Value::as_str)
                .map(str::to_owned),
            issue_type: issue_type.to_owned(),
            custom,
        },
    );
    common::json(
        StatusCode::CREATED,
        json!({"id": n.to_string(), "key": key, "self": format!("{}/rest/api/3/issue/{key}", s.base_url)}),
    )
}

async fn list_comments(
    State(st): State<Shared>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let s = lock(&st);
    let Some(i) = s.issues.values().find(|i| i.key == key) else {
        return not_found();
    };
    let start: usize = q.get("startAt").and_then(|v| v.parse().ok()).unwrap_or(0);
    let max: usize = q
        .get("maxResults")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let page: Vec<Value> = i
        .comments
        .iter()
        .skip(start)
        .take(max)
        .map(|(id, body)| json!({"id": id, "body": body, "author": {"displayName": "Foreman Bot"}, "created": "2026-03-05T10:00:00.000+0000"}))
        .collect();
    common::json(
        StatusCode::OK,
        json!({"startAt": start, "maxResults": max, "total": i.comments.len(), "comments": page}),
    )
}

async fn add_comment(
    State(st): State<Shared>,
    Path(key): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    let Some(b) = body.get("body").filter(|b| is_adf(b)).cloned() else {
        return err(
            StatusCode::BAD_REQUEST,
            &["Comment body is not valid!"],
            json!({}),
        );
    };
    s.next_comment += 1;
    let id = s.next_comment.to_string();
    let Some(i) = find_mut(&mut s, &key) else {
        return not_found();
    };
    i.comments.push((id.clone(), b.clone()));
    common::json(
        StatusCode::CREATED,
        json!({"id": id, "body": b, "author": {"displayName": "Foreman Bot"}, "created": "2026-03-05T10:00:00.000+0000"}),
    )
}

async fn list_transitions(State(st): State<Shared>, Path(key): Path<String>) -> Response {
    let s = lock(&st);
    let Some(i) = s.issues.values().find(|i| i.key == key) else {
        return not_found();
    };
    let list: Vec<Value> = WORKFLOW
        .iter()
        .filter(|(n, ..)| *n != i.status && !s.disabled_transitions.iter().any(|d| d == n))
        .map(|(n, c, id)| json!({"id": id, "name": format!("Move to {n}"), "to": {"name": n, "statusCategory": {"key": c}}}))
        .collect();
    common::json(
        StatusCode::OK,
        json!({"expand": "transitions", "transitions": list}),
    )
}

async fn do_transition(
    State(st): State<Shared>,
    Path(key): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    let id = body
        .pointer("/transition/id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let disabled = s.disabled_transitions.clone();
    let Some(i) = find_mut(&mut s, &key) else {
        return not_found();
    };
    match WORKFLOW
        .iter()
        .find(|(n, _, tid)| *tid == id && *n != i.status && !disabled.iter().any(|d| d == n))
    {
        Some((n, ..)) => {
            (*n).clone_into(&mut i.status);
            StatusCode::NO_CONTENT.into_response()
        }
        None => err(
            StatusCode::BAD_REQUEST,
            &[&format!(
                "Transition id '{id}' is not valid for this issue."
            )],
            json!({}),
        ),
    }
}

async fn add_link(
    State(st): State<Shared>,
    Path(key): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    let Some(i) = find_mut(&mut s, &key) else {
        return not_found();
    };
    let (Some(url), title) = (
        body.pointer("/object/url").and_then(Value::as_str),
        body.pointer("/object/title")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    ) else {
        return err(
            StatusCode::BAD_REQUEST,
            &[],
            json!({"object": "url is required"}),
        );
    };
    let global = body
        .get("globalId")
        .and_then(Value::as_str)
        .unwrap_or(url)
        .to_owned();
    if let Some(existing) = i.links.iter_mut().find(|l| l.0 == global) {
        *existing = (global, url.to_owned(), title.to_owned());
        return common::json(StatusCode::OK, json!({"id": 1}));
    }
    i.links.push((global, url.to_owned(), title.to_owned()));
    common::json(StatusCode::CREATED, json!({"id": i.links.len()}))
}
