//! A fake GitLab REST v4: one project's issues, notes (system notes included), labels, merge
//! requests with their head pipeline, and users.
//!
//! Speaks GitLab's shapes: `PRIVATE-TOKEN` or `Authorization: Bearer`, projects addressed by id
//! or URL-encoded path, `page`/`per_page` pagination with `Link`, `X-Next-Page`, `X-Total`
//! headers, labels as comma-separated strings on input and arrays on output, `state_event`,
//! `add_labels`/`remove_labels`, and `409` for a second open merge request from one branch.
//!
//! `PUT /merge_requests/:iid/merge` merges like GitLab: `405` for a merge request that is not
//! open or is a draft, `406` when it has conflicts ([`FakeGitLab::set_conflicts`]), `409` when
//! `sha` is not the head; `squash` is recorded.
//!
//! `PUT /merge_requests/:iid` edits the title, description and state (`state_event`). As on
//! GitLab, whether a merge request is a draft follows its title: it is one when the title
//! starts with `Draft:`, `[Draft]` or `(Draft)` (any case).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{self, Control, Gate, Running, json_with, now, paginate};

/// An issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Project-scoped number.
    pub iid: i64,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// `opened` or `closed`.
    pub state: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Author username.
    pub author: String,
    /// Notes: (id, author, body, system).
    pub notes: Vec<(i64, String, String, bool)>,
    /// Updated.
    pub updated_at: String,
}

/// A merge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequest {
    /// Project-scoped number.
    pub iid: i64,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Source branch.
    pub source_branch: String,
    /// Target branch.
    pub target_branch: String,
    /// `opened`, `closed` or `merged`.
    pub state: String,
    /// Draft (follows the title's prefix).
    pub draft: bool,
    /// Head commit.
    pub sha: String,
    /// Head pipeline status, if any.
    pub pipeline: Option<String>,
    /// Labels.
    pub labels: Vec<String>,
    /// Reviewer user ids.
    pub reviewer_ids: Vec<i64>,
    /// Note bodies.
    pub notes: Vec<String>,
    /// Whether it conflicts with its target branch.
    pub has_conflicts: bool,
    /// Whether it was squashed when merged through the API.
    pub squash: bool,
    /// The commit its merge made.
    pub merge_commit_sha: Option<String>,
}

#[derive(Debug, Default)]
struct GitLabState {
    base_url: String,
    path: String,
    next_issue: i64,
    next_mr: i64,
    next_note: i64,
    issues: BTreeMap<i64, Issue>,
    mrs: BTreeMap<i64, MergeRequest>,
    users: HashMap<String, i64>,
    merge_calls: Vec<(i64, Value)>,
    race_pushes: HashMap<i64, String>,
}

type Shared = Arc<Mutex<GitLabState>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, GitLabState> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake GitLab for one project.
#[derive(Debug)]
pub struct FakeGitLab {
    server: Running,
    state: Shared,
    /// Failure injection and the request log.
    pub control: Arc<Control>,
    /// The token it accepts.
    pub token: String,
    /// The project path (`group/project`); its numeric id is 1.
    pub project: String,
}

impl FakeGitLab {
    /// Starts a fake serving project `path` (id 1), accepting `token`; users `octocat` (id 7)
    /// and `reviewer` (id 8) exist.
    pub async fn start(path: &str, token: &str) -> Self {
        let state: Shared = Arc::new(Mutex::new(GitLabState {
            path: path.to_owned(),
            next_issue: 1,
            next_mr: 1,
            next_note: 500,
            users: HashMap::from([("octocat".to_owned(), 7), ("reviewer".to_owned(), 8)]),
            ..GitLabState::default()
        }));
        let control = Arc::new(Control::default());
        let expected = token.to_owned();
        let gate = Gate {
            control: control.clone(),
            authorised: Arc::new(move |h: &HeaderMap| {
                let private = h.get("private-token").and_then(|v| v.to_str().ok());
                let bearer = h
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                private.or(bearer).is_some_and(|t| t == expected)
            }),
            error_body: |status, message| match status {
                401 => json!({"message": "401 Unauthorized"}),
                404 => json!({"message": "404 Not Found"}),
                429 => json!({"message": "429 Too Many Requests"}),
                _ => json!({"message": message}),
            },
        };
        let p = "/api/v4/projects/{id}";
        let router = Router::new()
            .route(p, get(get_project))
            .route(&format!("{p}/issues"), get(list_issues).post(create_issue))
            .route(
                &format!("{p}/issues/{{iid}}"),
                get(get_issue).put(update_issue),
            )
            .route(
                &format!("{p}/issues/{{iid}}/notes"),
                get(list_notes).post(add_issue_note),
            )
            .route(
                &format!("{p}/merge_requests"),
                get(list_mrs).post(create_mr),
            )
            .route(
                &format!("{p}/merge_requests/{{iid}}"),
                get(get_mr).put(update_mr),
            )
            .route(
                &format!("{p}/merge_requests/{{iid}}/merge"),
                axum::routing::put(merge_mr),
            )
            .route(
                &format!("{p}/merge_requests/{{iid}}/notes"),
                axum::routing::post(add_mr_note),
            )
            .route("/api/v4/users", get(find_users))
            .with_state(state.clone());
        let server = common::serve(router, gate).await;
        lock(&state).base_url.clone_from(&server.url);
        Self {
            server,
            state,
            control,
            token: token.to_owned(),
            project: path.to_owned(),
        }
    }

    /// The API root (`https://gitlab.com/api/v4` in production).
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.server.url)
    }

    /// Adds an open issue; returns its iid.
    pub fn add_issue(
        &self,
        title: &str,
        description: Option<&str>,
        labels: &[&str],
        author: &str,
    ) -> i64 {
        let mut s = lock(&self.state);
        let iid = s.next_issue;
        s.next_issue += 1;
        s.issues.insert(
            iid,
            Issue {
                iid,
                title: title.to_owned(),
                description: description.map(str::to_owned),
                state: "opened".to_owned(),
                labels: labels.iter().map(|l| (*l).to_owned()).collect(),
                author: author.to_owned(),
                notes: Vec::new(),
                updated_at: now(),
            },
        );
        iid
    }

    /// Adds a system note (GitLab's "changed the label" lines) to an issue.
    pub fn add_system_note(&self, iid: i64, body: &str) {
        let mut s = lock(&self.state);
        s.next_note += 1;
        let id = s.next_note;
        if let Some(i) = s.issues.get_mut(&iid) {
            i.notes
                .push((id, "gitlab".to_owned(), body.to_owned(), true));
        }
    }

    /// An issue.
    #[must_use]
    pub fn issue(&self, iid: i64) -> Option<Issue> {
        lock(&self.state).issues.get(&iid).cloned()
    }

    /// A merge request.
    #[must_use]
    pub fn merge_request(&self, iid: i64) -> Option<MergeRequest> {
        lock(&self.state).mrs.get(&iid).cloned()
    }

    /// Sets a merge request's state (`merged`, `closed`).
    pub fn set_mr_state(&self, iid: i64, state: &str) {
        if let Some(m) = lock(&self.state).mrs.get_mut(&iid) {
            state.clone_into(&mut m.state);
        }
    }

    /// Marks a merge request as conflicting (or not) with its target: it reports
    /// `has_conflicts` and `detailed_merge_status: conflict`, and merging it answers 406.
    pub fn set_conflicts(&self, iid: i64, conflicts: bool) {
        if let Some(m) = lock(&self.state).mrs.get_mut(&iid) {
            m.has_conflicts = conflicts;
        }
    }

    /// Moves a merge request's head to a new commit.
    pub fn push_to_mr(&self, iid: i64, sha: &str) {
        if let Some(m) = lock(&self.state).mrs.get_mut(&iid) {
            sha.clone_into(&mut m.sha);
        }
    }

    /// Moves a merge request's head to `sha` just before its next merge is handled, as a push
    /// that races the merge would.
    pub fn push_before_next_merge(&self, iid: i64, sha: &str) {
        lock(&self.state).race_pushes.insert(iid, sha.to_owned());
    }

    /// Every merge request body received, with its iid.
    #[must_use]
    pub fn merge_calls(&self) -> Vec<(i64, Value)> {
        lock(&self.state).merge_calls.clone()
    }

    /// Sets a merge request's head pipeline status (`running`, `success`, `failed`, ...).
    pub fn set_pipeline(&self, iid: i64, status: Option<&str>) {
        if let Some(m) = lock(&self.state).mrs.get_mut(&iid) {
            m.pipeline = status.map(str::to_owned);
        }
    }
}

/// Whether GitLab reads `title` as a draft's: it starts with `Draft:`, `[Draft]` or `(Draft)`,
/// in any case.
fn is_draft_title(title: &str) -> bool {
    ["draft:", "[draft]", "(draft)"].iter().any(|p| {
        title
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    })
}

fn not_found() -> Response {
    common::json(StatusCode::NOT_FOUND, json!({"message": "404 Not Found"}))
}

fn bad_request(message: &str) -> Response {
    common::json(StatusCode::BAD_REQUEST, json!({"message": message}))
}

fn project_ok(s: &GitLabState, id: &str) -> bool {
    id == "1" || id == s.path
}

fn issue_json(s: &GitLabState, i: &Issue) -> Value {
    json!({
        "id": 10_000 + i.iid,
        "iid": i.iid,
        "project_id": 1,
        "title": i.title,
        "description": i.description,
        "state": i.state,
        "labels": i.labels,
        "author": {"id": 1, "username": i.author, "name": i.author},
        "assignee": Value::Null,
        "assignees": [],
        "web_url": format!("{}/{}/-/issues/{}", s.base_url, s.path, i.iid),
        "created_at": i.updated_at,
        "updated_at": i.updated_at,
        "user_notes_count": i.notes.iter().filter(|n| !n.3).count(),
    })
}

fn mr_json(s: &GitLabState, m: &MergeRequest) -> Value {
    json!({
        "id": 20_000 + m.iid,
        "iid": m.iid,
        "project_id": 1,
        "title": m.title,
        "description": m.description,
        "state": m.state,
        "draft": m.draft,
        "work_in_progress": m.draft,
        "source_branch": m.source_branch,
        "target_branch": m.target_branch,
        "sha": m.sha,
        "labels": m.labels,
        "reviewers": m.reviewer_ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
        "web_url": format!("{}/{}/-/merge_requests/{}", s.base_url, s.path, m.iid),
        "head_pipeline": m.pipeline.as_ref().map(|p| json!({"id": 1, "status": p, "sha": m.sha})),
        "has_conflicts": m.has_conflicts,
        "detailed_merge_status": if m.state != "opened" {
            "not_open"
        } else if m.draft {
            "draft_status"
        } else if m.has_conflicts {
            "conflict"
        } else {
            "mergeable"
        },
        "squash": m.squash,
        "merge_commit_sha": m.merge_commit_sha,
    })
}

/// Accepts GitLab's label lists: a comma-separated string or an array.
fn label_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn page(base: &str, uri: &OriginalUri, q: &HashMap<String, String>, items: &[Value]) -> Response {
    let pg: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let per_page: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(20);
    let mut rest: Vec<String> = q
        .iter()
        .filter(|(k, _)| *k != "page" && *k != "per_page")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    rest.sort();
    let (slice, link) = paginate(
        items,
        pg,
        per_page,
        &format!("{base}{}", uri.path()),
        &rest.join("&"),
    );
    let per = per_page.clamp(1, 100);
    let has_next = pg * per < items.len();
    let mut headers = vec![
        ("x-page", pg.to_string()),
        ("x-per-page", per.to_string()),
        ("x-total", items.len().to_string()),
        (
            "x-next-page",
            if has_next {
                (pg + 1).to_string()
            } else {
                String::new()
            },
        ),
    ];
    if let Some(l) = link {
        headers.push(("link", l));
    }
    json_with(StatusCode::OK, &Value::Array(slice), headers)
}

async fn get_project(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let s = lock(&st);
    if !project_ok(&s, &id) {
        return not_found();
    }
    common::json(
        StatusCode::OK,
        json!({"id": 1, "path_with_namespace": s.path, "default_branch": "main", "web_url": format!("{}/{}", s.base_url, s.path)}),
    )
}

async fn list_issues(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: OriginalUri,
) -> Response {
    let s = lock(&st);
    if !project_ok(&s, &id) {
        return not_found();
    }
    let state = q.get("state").map_or("all", String::as_str);
    let labels: Vec<&str> = q
        .get("labels")
        .map(|l| l.split(',').collect())
        .unwrap_or_default();
    let mut items: Vec<&Issue> = s
        .issues
        .values()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| labels.iter().all(|l| i.labels.iter().any(|x| x == l)))
        .collect();
    if q.get("sort").is_none_or(|d| d != "asc") {
        items.reverse();
    }
    let items: Vec<Value> = items.into_iter().map(|i| issue_json(&s, i)).collect();
    page(&s.base_url, &uri, &q, &items)
}

async fn create_issue(
    State(st): State<Shared>,
    Path(id): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !project_ok(&s, &id) {
        return not_found();
    }
    let Some(title) = body
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
    else {
        return bad_request("title is missing");
    };
    let iid = s.next_issue;
    s.next_issue += 1;
    let issue = Issue {
        iid,
        title: title.to_owned(),
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        state: "opened".to_owned(),
        labels: label_list(body.get("labels")),
        author: "foreman-bot".to_owned(),
        notes: Vec::new(),
        updated_at: now(),
    };
    let v = issue_json(&s, &issue);
    s.issues.insert(iid, issue);
    common::json(StatusCode::CREATED, v)
}

async fn get_issue(State(st): State<Shared>, Path((id, iid)): Path<(String, i64)>) -> Response {
    let s = lock(&st);
    match s.issues.get(&iid).filter(|_| project_ok(&s, &id)) {
        Some(i) => common::json(StatusCode::OK, issue_json(&s, i)),
        None => not_found(),
    }
}

async fn update_issue(
    State(st): State<Shared>,
    Path((id, iid)): Path<(String, i64)>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !project_ok(&s, &id) {
        return not_found();
    }
    let Some(i) = s.issues.get_mut(&iid) else {
        return not_found();
    };
    if body.get("labels").is_some() {
        i.labels = label_list(body.get("labels"));
    }
    for l in label_list(body.get("add_labels")) {
        if !i.labels.contains(&l) {
            i.labels.push(l);
        }
    }
    let remove = label_list(body.get("remove_labels"));
    i.labels.retain(|l| !remove.contains(l));
    match body.get("state_event").and_then(Value::as_str) {
        Some("close") => "closed".clone_into(&mut i.state),
        Some("reopen") => "opened".clone_into(&mut i.state),
        Some(other) => return bad_request(&format!("state_event {other} is invalid")),
        None => {}
    }
    if let Some(t) = body.get("title").and_then(Value::as_str) {
        t.clone_into(&mut i.title);
    }
    i.updated_at = now();
    let i = i.clone();
    common::json(StatusCode::OK, issue_json(&s, &i))
}

async fn list_notes(
    State(st): State<Shared>,
    Path((id, iid)): Path<(String, i64)>,
    Query(q): Query<HashMap<String, String>>,
    uri: OriginalUri,
) -> Response {
    let s = lock(&st);
    let Some(i) = s.issues.get(&iid).filter(|_| project_ok(&s, &id)) else {
        return not_found();
    };
    let items: Vec<Value> = i
        .notes
        .iter()
        .map(|(nid, author, body, system)| {
            json!({"id": nid, "body": body, "system": system, "author": {"username": author}, "created_at": now()})
        })
        .collect();
    page(&s.base_url, &uri, &q, &items)
}

async fn add_issue_note(
    State(st): State<Shared>,
    Path((id, iid)): Path<(String, i64)>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !project_ok(&s, &id) || !s.issues.contains_key(&iid) {
        return not_found();
    }
    let Some(text) = body
        .get("body")
        .and_then(Value::as_str)
        .filter(|b| !b.trim().is_empty())
    else {
        return bad_request("body is missing");
    };
    s.next_note += 1;
    let nid = s.next_note;
    if let Some(i) = s.issues.get_mut(&iid) {
        i.notes
            .push((nid, "foreman-bot".to_owned(), text.to_owned(), false));
    }
    common::json(
        StatusCode::CREATED,
        json!({"id": nid, "body": text, "system": false, "author": {"username": "foreman-bot"}, "created_at": now()}),
    )
}

async fn list_mrs(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: OriginalUri,
) -> Response {
    let s = lock(&st);
    if !project_ok(&s, &id) {
        return not_found();
    }
    let state = q.get("state").map_or("all", String::as_str);
    let items: Vec<Value> = s
        .mrs
        .values()
        .rev()
        .filter(|m| state == "all" || m.state == state)
        .filter(|m| q.get("source_branch").is_none_or(|b| &m.source_branch == b))
        .map(|m| mr_json(&s, m))
        .collect();
    page(&s.base_url, &uri, &q, &items)
}

async fn create_mr(
    State(st): State<Shared>,
    Path(id): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !project_ok(&s, &id) {
        return not_found();
    }
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (Some(title), Some(source), Some(target)) = (
        field("title"),
        field("source_branch"),
        field("target_branch"),
    ) else {
        return bad_request("title, source_branch and target_branch are required");
    };
    if let Some(existing) = s
        .mrs
        .values()
        .find(|m| m.source_branch == source && m.state == "opened")
    {
        return common::json(
            StatusCode::CONFLICT,
            json!({"message": [format!("Another open merge request already exists for this source branch: !{}", existing.iid)]}),
        );
    }
    let iid = s.next_mr;
    s.next_mr += 1;
    let draft =
        is_draft_title(&title) || body.get("draft").and_then(Value::as_bool).unwrap_or(false);
    let mr = MergeRequest {
        iid,
        title,
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        sha: hex::encode(Sha256::digest(format!("{source}:{iid}").as_bytes()))[..40].to_owned(),
        source_branch: source,
        target_branch: target,
        state: "opened".to_owned(),
        draft,
        pipeline: None,
        labels: label_list(body.get("labels")),
        reviewer_ids: body
            .get("reviewer_ids")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default(),
        notes: Vec::new(),
        has_conflicts: false,
        squash: false,
        merge_commit_sha: None,
    };
    let v = mr_json(&s, &mr);
    s.mrs.insert(iid, mr);
    common::json(StatusCode::CREATED, v)
}

async fn get_mr(State(st): State<Shared>, Path((id, iid)): Path<(String, i64)>) -> Response {
    let s = lock(&st);
    match s.mrs.get(&iid).filter(|_| project_ok(&s, &id)) {
        Some(m) => common::json(StatusCode::OK, mr_json(&s, m)),
        None => not_found(),
    }
}

async fn update_mr(
    State(st): State<Shared>,
    Path((id, iid)): Path<(String, i64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !project_ok(&s, &id) {
        return not_found();
    }
    let Some(m) = s.mrs.get_mut(&iid) else {
        return not_found();
    };
    if ["title", "description", "state_event"]
        .iter()
        .all(|k| body.get(k).is_none())
    {
        return common::json(
            StatusCode::BAD_REQUEST,
            json!({"error": "title, description, state_event are missing, at least one parameter must be provided"}),
        );
    }
    if let Some(t) = body.get("title") {
        let Some(t) = t.as_str().filter(|t| !t.trim().is_empty()) else {
            return common::json(
                StatusCode::BAD_REQUEST,
                json!({"message": {"title": ["can't be blank"]}}),
            );
        };
        t.clone_into(&mut m.title);
        m.draft = is_draft_title(t);
    }
    if let Some(d) = body.get("description") {
        m.description = d.as_str().map(str::to_owned);
    }
    match body.get("state_event").and_then(Value::as_str) {
        Some("close") if m.state == "opened" => "closed".clone_into(&mut m.state),
        Some("reopen") if m.state == "closed" => "opened".clone_into(&mut m.state),
        Some("close" | "reopen") | None => {}
        Some(other) => return bad_request(&format!("state_event {other} is invalid")),
    }
    let m = m.clone();
    common::json(StatusCode::OK, mr_json(&s, &m))
}

async fn merge_mr(
    State(st): State<Shared>,
    Path((id, iid)): Path<(String, i64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !project_ok(&s, &id) || !s.mrs.contains_key(&iid) {
        return not_found();
    }
    s.merge_calls.push((iid, body.clone()));
    let race = s.race_pushes.remove(&iid);
    let Some(m) = s.mrs.get_mut(&iid) else {
        return not_found();
    };
    if let Some(sha) = race {
        m.sha = sha;
    }
    if m.state != "opened" || m.draft {
        return common::json(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": "405 Method Not Allowed"}),
        );
    }
    if m.has_conflicts {
        return common::json(
            StatusCode::NOT_ACCEPTABLE,
            json!({"message": "Branch cannot be merged"}),
        );
    }
    if let Some(sha) = body.get("sha").and_then(Value::as_str)
        && sha != m.sha
    {
        return common::json(
            StatusCode::CONFLICT,
            json!({"message": format!("SHA does not match HEAD of source branch: {}", m.sha)}),
        );
    }
    m.squash = body.get("squash").and_then(Value::as_bool).unwrap_or(false);
    "merged".clone_into(&mut m.state);
    m.merge_commit_sha =
        Some(hex::encode(Sha256::digest(format!("merge:{}", m.sha).as_bytes()))[..40].to_owned());
    let m = m.clone();
    common::json(StatusCode::OK, mr_json(&s, &m))
}

async fn add_mr_note(
    State(st): State<Shared>,
    Path((id, iid)): Path<(String, i64)>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !project_ok(&s, &id) {
        return not_found();
    }
    let Some(text) = body
        .get("body")
        .and_then(Value::as_str)
        .filter(|b| !b.trim().is_empty())
    else {
        return bad_request("body is missing");
    };
    let Some(m) = s.mrs.get_mut(&iid) else {
        return not_found();
    };
    m.notes.push(text.to_owned());
    common::json(
        StatusCode::CREATED,
        json!({"id": 1, "body": text, "system": false}),
    )
}

async fn find_users(
    State(st): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let s = lock(&st);
    let found: Vec<Value> = q
        .get("username")
        .and_then(|u| s.users.get(u).map(|id| json!({"id": id, "username": u})))
        .into_iter()
        .collect();
    common::json(StatusCode::OK, Value::Array(found))
}
