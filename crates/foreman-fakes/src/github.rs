//! A fake GitHub REST v3: one repository's issues (pull requests included, as GitHub lists
//! them), labels, comments, pull requests, requested reviewers, merges, commit statuses and
//! check runs.
//!
//! `PUT /pulls/{number}/merge` merges like GitHub: `405` for a closed, merged, draft or
//! unmergeable pull request ([`FakeGitHub::set_mergeable`]), `409` when `sha` is not the head,
//! `422` for an unknown `merge_method`.
//!
//! `PATCH /pulls/{number}` edits the title, body and state (the draft flag is not a REST field,
//! as on GitHub). `POST /graphql` understands exactly two mutations,
//! `markPullRequestReadyForReview` and `convertPullRequestToDraft`, addressed by the pull
//! request's `node_id` (from `variables` or written inline); like GitHub it answers errors with
//! HTTP 200 and an `errors` array. [`FakeGitHub::set_drafts_supported`] makes drafts
//! unavailable, as on a private repository of a free plan.
//!
//! Speaks GitHub's shapes: `Authorization: Bearer|token`, `Link` pagination with `per_page` and
//! `page`, weak `ETag`s with `304 Not Modified` for `If-None-Match`, `422 Validation Failed`
//! bodies, and `403`/`429` rate limits through [`crate::Fault`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{self, Control, Gate, Running, json_with, now, paginate};

/// An issue or pull request's issue side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Number.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Body (`None` renders as `null`, as GitHub does for empty bodies).
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Why it was closed (`completed`, `not_planned`).
    pub state_reason: Option<String>,
    /// Label names.
    pub labels: Vec<String>,
    /// Author login.
    pub user: String,
    /// Assignee logins.
    pub assignees: Vec<String>,
    /// Whether this is a pull request.
    pub is_pr: bool,
    /// Comments.
    pub comments: Vec<Comment>,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// A comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Id.
    pub id: i64,
    /// Author login.
    pub user: String,
    /// Text.
    pub body: String,
    /// Created.
    pub created_at: String,
}

/// A pull request's own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    /// Number (shared with issues).
    pub number: i64,
    /// Head branch.
    pub head: String,
    /// Head commit.
    pub head_sha: String,
    /// Base branch.
    pub base: String,
    /// Draft.
    pub draft: bool,
    /// Merged.
    pub merged: bool,
    /// Whether it can be merged (`false`: conflicts, reported as `mergeable_state: dirty`).
    pub mergeable: bool,
    /// The `merge_method` it was merged with through the API.
    pub merge_method: Option<String>,
    /// The commit its merge made.
    pub merge_commit_sha: Option<String>,
    /// Requested reviewer logins.
    pub reviewers: Vec<String>,
}

/// The repository's state.
#[derive(Debug, Default)]
pub struct GitHubState {
    base_url: String,
    owner: String,
    repo: String,
    next_number: i64,
    next_comment: i64,
    /// Issues and pull requests by number.
    pub issues: BTreeMap<i64, Issue>,
    /// Pull request details by number.
    pub pulls: BTreeMap<i64, Pull>,
    /// Commit statuses by SHA: (context, state).
    pub statuses: HashMap<String, Vec<(String, String)>>,
    /// Check runs by SHA: (name, status, conclusion).
    pub check_runs: HashMap<String, Vec<(String, String, Option<String>)>>,
    /// Every merge request body by pull request number, in order.
    pub merge_calls: Vec<(i64, Value)>,
    /// Head commits to push to a pull request just before its next merge is handled (a push
    /// racing the merge).
    pub race_pushes: HashMap<i64, String>,
    /// Every GraphQL request body, in order.
    pub graphql_calls: Vec<Value>,
    /// Drafts are unavailable: creating one is refused (422), converting to one fails.
    pub drafts_unsupported: bool,
}

type Shared = Arc<Mutex<GitHubState>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, GitHubState> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake GitHub for one repository.
#[derive(Debug)]
pub struct FakeGitHub {
    server: Running,
    state: Shared,
    /// Failure injection and the request log.
    pub control: Arc<Control>,
    /// The token it accepts.
    pub token: String,
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
}

impl FakeGitHub {
    /// Starts a fake serving `owner/repo`, accepting `token`.
    pub async fn start(owner: &str, repo: &str, token: &str) -> Self {
        let state: Shared = Arc::new(Mutex::new(GitHubState {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            next_number: 1,
            next_comment: 1000,
            ..GitHubState::default()
        }));
        let control = Arc::new(Control::default());
        let expected = token.to_owned();
        let gate = Gate {
            control: control.clone(),
            authorised: Arc::new(move |h: &HeaderMap| {
                h.get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        v.strip_prefix("Bearer ")
                            .or_else(|| v.strip_prefix("token "))
                    })
                    .is_some_and(|t| t == expected)
            }),
            error_body: |status, message| {
                let message = if status == 404 { "Not Found" } else { message };
                json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()})
            },
        };
        let router = Router::new()
            .route("/repos/{owner}/{repo}", get(get_repo))
            .route(
                "/repos/{owner}/{repo}/issues",
                get(list_issues).post(create_issue),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}",
                get(get_issue).patch(patch_issue),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                get(list_comments).post(add_comment),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/labels",
                post(add_labels),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
                delete(remove_label),
            )
            .route(
                "/repos/{owner}/{repo}/pulls",
                get(list_pulls).post(create_pull),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}",
                get(get_pull).patch(patch_pull),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/merge",
                put(merge_pull),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
                post(request_reviewers),
            )
            .route(
                "/repos/{owner}/{repo}/commits/{sha}/status",
                get(combined_status),
            )
            .route(
                "/repos/{owner}/{repo}/commits/{sha}/check-runs",
                get(check_runs),
            )
            .route("/graphql", post(graphql))
            .with_state(state.clone());
        let server = common::serve(router, gate).await;
        lock(&state).base_url.clone_from(&server.url);
        Self {
            server,
            state,
            control,
            token: token.to_owned(),
            owner: owner.to_owned(),
            repo: repo.to_owned(),
        }
    }

    /// The API base URL (what `https://api.github.com` is in production).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Adds an open issue; returns its number.
    pub fn add_issue(&self, title: &str, body: Option<&str>, labels: &[&str], user: &str) -> i64 {
        let mut s = lock(&self.state);
        insert_issue(
            &mut s,
            title,
            body.map(str::to_owned),
            labels.iter().map(|l| (*l).to_owned()).collect(),
            user,
            false,
        )
    }

    /// Adds an open pull request (issue side and pull side); returns its number.
    pub fn add_pull(&self, title: &str, head: &str, base: &str, labels: &[&str]) -> i64 {
        let mut s = lock(&self.state);
        let n = insert_issue(
            &mut s,
            title,
            None,
            labels.iter().map(|l| (*l).to_owned()).collect(),
            "someone",
            true,
        );
        s.pulls.insert(n, new_pull(n, head, base, false));
        n
    }

    /// An issue (or a pull request's issue side).
    #[must_use]
    pub fn issue(&self, number: i64) -> Option<Issue> {
        lock(&self.state).issues.get(&number).cloned()
    }

    /// A pull request's own fields.
    #[must_use]
    pub fn pull(&self, number: i64) -> Option<Pull> {
        lock(&self.state).pulls.get(&number).cloned()
    }

    /// Every pull request, by number.
    #[must_use]
    pub fn pulls(&self) -> Vec<Pull> {
        lock(&self.state).pulls.values().cloned().collect()
    }

    /// Merges a pull request.
    pub fn merge_pull(&self, number: i64) {
        let mut s = lock(&self.state);
        if let Some(p) = s.pulls.get_mut(&number) {
            p.merged = true;
        }
        if let Some(i) = s.issues.get_mut(&number) {
            "closed".clone_into(&mut i.state);
            i.updated_at = now();
        }
    }

    /// Marks a pull request (un)mergeable; unmergeable ones report `mergeable: false`,
    /// `mergeable_state: dirty` and refuse merges with 405.
    pub fn set_mergeable(&self, number: i64, mergeable: bool) {
        if let Some(p) = lock(&self.state).pulls.get_mut(&number) {
            p.mergeable = mergeable;
        }
    }

    /// Moves a pull request's head to `sha` just before its next merge is handled, as a push
    /// that races the merge would.
    pub fn push_before_next_merge(&self, number: i64, sha: &str) {
        lock(&self.state).race_pushes.insert(number, sha.to_owned());
    }

    /// Every merge request body received, with its pull request number.
    #[must_use]
    pub fn merge_calls(&self) -> Vec<(i64, Value)> {
        lock(&self.state).merge_calls.clone()
    }

    /// Every GraphQL request body received, in order.
    #[must_use]
    pub fn graphql_calls(&self) -> Vec<Value> {
        lock(&self.state).graphql_calls.clone()
    }

    /// The GraphQL id of a pull request (its `node_id`).
    #[must_use]
    pub fn node_id(&self, number: i64) -> String {
        node_id(&lock(&self.state), number)
    }

    /// Makes drafts (un)available in the repository, as GitHub's plans do: without them,
    /// creating a draft answers 422 and `convertPullRequestToDraft` an error.
    pub fn set_drafts_supported(&self, supported: bool) {
        lock(&self.state).drafts_unsupported = !supported;
    }

    /// Closes a pull request without merging.
    pub fn close_pull(&self, number: i64) {
        if let Some(i) = lock(&self.state).issues.get_mut(&number) {
            "closed".clone_into(&mut i.state);
        }
    }

    /// Moves a pull request's head to a new commit.
    pub fn push_to_pull(&self, number: i64, sha: &str) {
        if let Some(p) = lock(&self.state).pulls.get_mut(&number) {
            sha.clone_into(&mut p.head_sha);
        }
    }

    /// Reports a commit status.
    pub fn add_status(&self, sha: &str, context: &str, state: &str) {
        lock(&self.state)
            .statuses
            .entry(sha.to_owned())
            .or_default()
            .push((context.to_owned(), state.to_owned()));
    }

    /// Reports a check run.
    pub fn add_check_run(&self, sha: &str, name: &str, status: &str, conclusion: Option<&str>) {
        lock(&self.state)
            .check_runs
            .entry(sha.to_owned())
            .or_default()
            .push((
                name.to_owned(),
                status.to_owned(),
                conclusion.map(str::to_owned),
            ));
    }
}

fn insert_issue(
    s: &mut GitHubState,
    title: &str,
    body: Option<String>,
    labels: Vec<String>,
    user: &str,
    is_pr: bool,
) -> i64 {
    let n = s.next_number;
    s.next_number += 1;
    let t = now();
    s.issues.insert(
        n,
        Issue {
            number: n,
            title: title.to_owned(),
            body,
            state: "open".to_owned(),
            state_reason: None,
            labels,
            user: user.to_owned(),
            assignees: Vec::new(),
            is_pr,
            comments: Vec::new(),
            created_at: t.clone(),
            updated_at: t,
        },
    );
    n
}

fn new_pull(n: i64, head: &str, base: &str, draft: bool) -> Pull {
    let digest = Sha256::digest(format!("{head}:{n}").as_bytes());
    Pull {
        number: n,
        head: head.to_owned(),
        head_sha: hex::encode(digest)[..40].to_owned(),
        base: base.to_owned(),
        draft,
        merged: false,
        mergeable: true,
        merge_method: None,
        merge_commit_sha: None,
        reviewers: Vec::new(),
    }
}

/// An opaque GraphQL id, as GitHub's `PR_kwDO...` ones are.
fn node_id(s: &GitHubState, number: i64) -> String {
    let raw = format!("{}/{}#{number}", s.owner, s.repo);
    format!(
        "PR_kwDO{}",
        common::base64(raw.as_bytes()).trim_end_matches('=')
    )
}

fn not_found() -> Response {
    common::json(
        StatusCode::NOT_FOUND,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
    )
}

fn validation(message: &str) -> Response {
    common::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "custom", "message": message}]}),
    )
}

fn repo_matches(s: &GitHubState, owner: &str, repo: &str) -> bool {
    s.owner == owner && s.repo == repo
}

fn label_json(name: &str) -> Value {
    let id = i64::from(u32::from_be_bytes(
        Sha256::digest(name.as_bytes())[..4]
            .try_into()
            .unwrap_or([0; 4]),
    ));
    json!({"id": id, "name": name, "color": "ededed", "default": false})
}

fn issue_json(s: &GitHubState, i: &Issue) -> Value {
    let web = format!("{}/{}/{}", s.base_url, s.owner, s.repo);
    let mut v = json!({
        "id": i.number * 1000,
        "number": i.number,
        "title": i.title,
        "body": i.body,
        "state": i.state,
        "state_reason": i.state_reason,
        "html_url": format!("{web}/{}/{}", if i.is_pr { "pull" } else { "issues" }, i.number),
        "url": format!("{}/repos/{}/{}/issues/{}", s.base_url, s.owner, s.repo, i.number),
        "user": {"login": i.user, "id": 1, "type": "User"},
        "assignee": i.assignees.first().map(|a| json!({"login": a})),
        "assignees": i.assignees.iter().map(|a| json!({"login": a})).collect::<Vec<_>>(),
        "labels": i.labels.iter().map(|l| label_json(l)).collect::<Vec<_>>(),
        "comments": i.comments.len(),
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_at": Value::Null,
        "locked": false,
    });
    if i.is_pr {
        v["pull_request"] = json!({
            "url": format!("{}/repos/{}/{}/pulls/{}", s.base_url, s.owner, s.repo, i.number),
            "html_url": format!("{web}/pull/{}", i.number),
        });
    }
    v
}

fn pull_json(s: &GitHubState, p: &Pull, detailed: bool) -> Value {
    let issue = s.issues.get(&p.number);
    let mut v = json!({
        "number": p.number,
        "id": p.number * 1000 + 1,
        "node_id": node_id(s, p.number),
        "html_url": format!("{}/{}/{}/pull/{}", s.base_url, s.owner, s.repo, p.number),
        "title": issue.map(|i| i.title.clone()),
        "body": issue.and_then(|i| i.body.clone()),
        "state": issue.map_or("open", |i| i.state.as_str()),
        "draft": p.draft,
        "merged_at": p.merged.then(now),
        "head": {"ref": p.head, "sha": p.head_sha, "label": format!("{}:{}", s.owner, p.head)},
        "base": {"ref": p.base, "label": format!("{}:{}", s.owner, p.base)},
        "requested_reviewers": p.reviewers.iter().map(|r| json!({"login": r})).collect::<Vec<_>>(),
        "labels": issue.map(|i| i.labels.iter().map(|l| label_json(l)).collect::<Vec<_>>()).unwrap_or_default(),
        "user": {"login": issue.map_or("someone", |i| i.user.as_str())},
    });
    if detailed {
        let state = issue.map_or("open", |i| i.state.as_str());
        v["merged"] = json!(p.merged);
        v["merge_commit_sha"] = json!(p.merge_commit_sha);
        // GitHub reports `mergeable: null` once a pull request is no longer open
        v["mergeable"] = if state == "open" {
            json!(p.mergeable)
        } else {
            Value::Null
        };
        v["mergeable_state"] = json!(if state != "open" {
            "unknown"
        } else if !p.mergeable {
            "dirty"
        } else if p.draft {
            "draft"
        } else {
            "clean"
        });
    }
    v
}

fn comment_json(s: &GitHubState, number: i64, c: &Comment) -> Value {
    json!({
        "id": c.id,
        "body": c.body,
        "user": {"login": c.user},
        "created_at": c.created_at,
        "updated_at": c.created_at,
        "html_url": format!("{}/{}/{}/issues/{number}#issuecomment-{}", s.base_url, s.owner, s.repo, c.id),
    })
}

fn page_params(q: &HashMap<String, String>) -> (usize, usize, String) {
    let page = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let per_page = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
    let mut rest: Vec<(&String, &String)> = q
        .iter()
        .filter(|(k, _)| *k != "page" && *k != "per_page")
        .collect();
    rest.sort();
    let rest = rest
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    (page, per_page, rest)
}

/// A JSON page with `Link` and a weak `ETag`, or `304` when the client's tag matches.
fn page_response(
    base: &str,
    uri: &OriginalUri,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    items: &[Value],
) -> Response {
    let (page, per_page, rest) = page_params(q);
    let self_url = format!("{base}{}", uri.path());
    let (slice, link) = paginate(items, page, per_page, &self_url, &rest);
    let body = Value::Array(slice);
    let etag = format!(
        "W/\"{}\"",
        hex::encode(Sha256::digest(body.to_string().as_bytes()))
    );
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    let mut extra = vec![("etag", etag), ("x-ratelimit-remaining", "4999".to_owned())];
    if let Some(l) = link {
        extra.push(("link", l));
    }
    json_with(StatusCode::OK, &body, extra)
}

async fn get_repo(
    State(st): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    common::json(
        StatusCode::OK,
        json!({"full_name": format!("{owner}/{repo}"), "name": repo, "default_branch": "main", "private": true,
               "permissions": {"admin": false, "push": true, "pull": true}}),
    )
}

async fn list_issues(
    State(st): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    let s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    let want_state = q.get("state").map_or("open", String::as_str);
    let labels: Vec<&str> = q
        .get("labels")
        .map(|l| l.split(',').filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let mut matching: Vec<&Issue> = s
        .issues
        .values()
        .filter(|i| want_state == "all" || i.state == want_state)
        .filter(|i| labels.iter().all(|l| i.labels.iter().any(|x| x == l)))
        .collect();
    if q.get("sort").is_some_and(|s| s == "updated") {
        matching.sort_by(|a, b| {
            a.updated_at
                .cmp(&b.updated_at)
                .then(a.number.cmp(&b.number))
        });
    }
    // newest first unless asked otherwise, as GitHub does
    if q.get("direction").is_none_or(|d| d != "asc") {
        matching.reverse();
    }
    let items: Vec<Value> = matching.into_iter().map(|i| issue_json(&s, i)).collect();
    page_response(&s.base_url, &uri, &headers, &q, &items)
}

async fn create_issue(
    State(st): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    let Some(title) = body
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
    else {
        return validation("title is missing");
    };
    let labels = body
        .get("labels")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let text = body.get("body").and_then(Value::as_str).map(str::to_owned);
    let n = insert_issue(&mut s, title, text, labels, "foreman-bot", false);
    if let (Some(a), Some(i)) = (
        body.get("assignees").and_then(Value::as_array),
        s.issues.get_mut(&n),
    ) {
        i.assignees = a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    let v = issue_json(&s, &s.issues[&n]);
    common::json(StatusCode::CREATED, v)
}

async fn get_issue(
    State(st): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
) -> Response {
    let s = lock(&st);
    match s
        .issues
        .get(&number)
        .filter(|_| repo_matches(&s, &owner, &repo))
    {
        Some(i) => common::json(StatusCode::OK, issue_json(&s, i)),
        None => not_found(),
    }
}

async fn patch_issue(
    State(st): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    let Some(i) = s.issues.get_mut(&number) else {
        return not_found();
    };
    if let Some(state) = body.get("state").and_then(Value::as_str) {
        if state != "open" && state != "closed" {
            return validation("state must be open or closed");
        }
        state.clone_into(&mut i.state);
        i.state_reason = body
            .get("state_reason")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    if let Some(t) = body.get("title").and_then(Value::as_str) {
        t.clone_into(&mut i.title);
    }
    if let Some(b) = body.get("body").and_then(Value::as_str) {
        i.body = Some(b.to_owned());
    }
    if let Some(l) = body.get("labels").and_then(Value::as_array) {
        i.labels = l
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    i.updated_at = now();
    let i = i.clone();
    common::json(StatusCode::OK, issue_json(&s, &i))
}

async fn list_comments(
    State(st): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    Query(q): Query<HashMap<String, String>>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    let s = lock(&st);
    let Some(i) = s
        .issues
        .get(&number)
        .filter(|_| repo_matches(&s, &owner, &repo))
    else {
        return not_found();
    };
    let items: Vec<Value> = i
        .comments
        .iter()
        .map(|c| comment_json(&s, number, c))
        .collect();
    page_response(&s.base_url, &uri, &headers, &q, &items)
}

async fn add_comment(
    State(st): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !repo_matches(&s, &owner, &repo) || !s.issues.contains_key(&number) {
        return not_found();
    }
    let Some(text) = body
        .get("body")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty())
    else {
        return validation("body is missing");
    };
    s.next_comment += 1;
    let c = Comment {
        id: s.next_comment,
        user: "foreman-bot".to_owned(),
        body: text.to_owned(),
        created_at: now(),
    };
    if let Some(i) = s.issues.get_mut(&number) {
        i.comments.push(c.clone());
        i.updated_at = now();
    }
    common::json(StatusCode::CREATED, comment_json(&s, number, &c))
}

async fn add_labels(
    State(st): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    let Some(i) = s.issues.get_mut(&number) else {
        return not_found();
    };
    let Some(new) = body.get("labels").and_then(Value::as_array) else {
        return validation("labels must be an array");
    };
    for l in new.iter().filter_map(Value::as_str) {
        if !i.labels.iter().any(|x| x == l) {
            i.labels.push(l.to_owned());
        }
    }
    i.updated_at = now();
    let v: Vec<Value> = i.labels.iter().map(|l| label_json(l)).collect();
    common::json(StatusCode::OK, Value::Array(v))
}

async fn remove_label(
    State(st): State<Shared>,
    Path((owner, repo, number, name)): Path<(String, String, i64, String)>,
) -> Response {
    let mut s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    let Some(i) = s.issues.get_mut(&number) else {
        return not_found();
    };
    let before = i.labels.len();
    i.labels.retain(|l| *l != name);
    if i.labels.len() == before {
        return common::json(
            StatusCode::NOT_FOUND,
            json!({"message": "Label does not exist", "documentation_url": "https://docs.github.com/rest"}),
        );
    }
    i.updated_at = now();
    let v: Vec<Value> = i.labels.iter().map(|l| label_json(l)).collect();
    common::json(StatusCode::OK, Value::Array(v))
}

async fn list_pulls(
    State(st): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    let s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    let want_state = q.get("state").map_or("open", String::as_str);
    let head = q
        .get("head")
        .map(|h| h.split_once(':').map_or(h.as_str(), |(_, b)| b).to_owned());
    let items: Vec<Value> = s
        .pulls
        .values()
        .rev()
        .filter(|p| head.as_deref().is_none_or(|h| p.head == h))
        .filter(|p| q.get("base").is_none_or(|b| &p.base == b))
        .filter(|p| {
            let state = s.issues.get(&p.number).map_or("open", |i| i.state.as_str());
            want_state == "all" || state == want_state
        })
        .map(|p| pull_json(&s, p, false))
        .collect();
    page_response(&s.base_url, &uri, &headers, &q, &items)
}

async fn create_pull(
    State(st): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .filter(|v| !v.is_empty())
    };
    let (Some(title), Some(head), Some(base)) = (field("title"), field("head"), field("base"))
    else {
        return validation("title, head and base are required");
    };
    let head = head
        .split_once(':')
        .map_or(head.clone(), |(_, b)| b.to_owned());
    if head == base {
        return validation(&format!("No commits between {base} and {head}"));
    }
    let open_exists = s
        .pulls
        .values()
        .any(|p| p.head == head && s.issues.get(&p.number).is_some_and(|i| i.state == "open"));
    if open_exists {
        return common::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom",
                   "message": format!("A pull request already exists for {}:{head}.", s.owner)}]}),
        );
    }
    let draft = body.get("draft").and_then(Value::as_bool).unwrap_or(false);
    if draft && s.drafts_unsupported {
        return validation("Draft pull requests are not supported in this repository.");
    }
    let n = insert_issue(
        &mut s,
        &title,
        field("body"),
        Vec::new(),
        "foreman-bot",
        true,
    );
    s.pulls.insert(n, new_pull(n, &head, &base, draft));
    let v = pull_json(&s, &s.pulls[&n], true);
    common::json(StatusCode::CREATED, v)
}

async fn get_pull(
    State(st): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
) -> Response {
    let s = lock(&st);
    match s
        .pulls
        .get(&number)
        .filter(|_| repo_matches(&s, &owner, &repo))
    {
        Some(p) => common::json(StatusCode::OK, pull_json(&s, p, true)),
        None => not_found(),
    }
}

async fn patch_pull(
    State(st): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !repo_matches(&s, &owner, &repo) || !s.pulls.contains_key(&number) {
        return not_found();
    }
    let merged = s.pulls.get(&number).is_some_and(|p| p.merged);
    let Some(i) = s.issues.get_mut(&number) else {
        return not_found();
    };
    if let Some(t) = body.get("title") {
        match t.as_str().filter(|t| !t.trim().is_empty()) {
            Some(t) => t.clone_into(&mut i.title),
            None => return validation("title can't be blank"),
        }
    }
    match body.get("body") {
        Some(Value::Null) => i.body = None,
        Some(Value::String(b)) => i.body = Some(b.clone()),
        Some(_) => return validation("body must be a string"),
        None => {}
    }
    match body.get("state").and_then(Value::as_str) {
        Some("open") if merged => {
            return validation("state cannot be changed. The pull request has been merged.");
        }
        Some(state @ ("open" | "closed")) => state.clone_into(&mut i.state),
        Some(_) => return validation("state must be open or closed"),
        None => {}
    }
    // `draft` is not a REST field: GitHub ignores it, and so does the fake
    i.updated_at = now();
    let v = pull_json(&s, &s.pulls[&number], true);
    common::json(StatusCode::OK, v)
}

/// The two mutations the fake understands, and GitHub's answers.
const MUTATIONS: [&str; 2] = ["markPullRequestReadyForReview", "convertPullRequestToDraft"];

/// A GraphQL error answer: HTTP 200, `errors`, and `data.<field>: null` when one is known.
fn gql_error(field: Option<&str>, kind: Option<&str>, message: &str) -> Response {
    let mut error = json!({"message": message, "locations": [{"line": 1, "column": 1}]});
    if let Some(k) = kind {
        error["type"] = json!(k);
    }
    let mut v = json!({"errors": [error]});
    if let Some(f) = field {
        v["errors"][0]["path"] = json!([f]);
        v["data"] = json!({ f: Value::Null });
    }
    common::json(StatusCode::OK, v)
}

/// The `pullRequestId` argument: a `$variable` looked up in `variables`, or an inline string.
fn pull_request_id(query: &str, variables: &Value) -> Option<String> {
    let (_, rest) = query.split_once("pullRequestId")?;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    if let Some(var) = rest.strip_prefix('$') {
        let name: String = var
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        return variables.get(&name)?.as_str().map(str::to_owned);
    }
    let inline = rest.strip_prefix('"')?;
    inline.split_once('"').map(|(id, _)| id.to_owned())
}

async fn graphql(State(st): State<Shared>, axum::Json(body): axum::Json<Value>) -> Response {
    let mut s = lock(&st);
    s.graphql_calls.push(body.clone());
    let Some(query) = body.get("query").and_then(Value::as_str) else {
        return gql_error(
            None,
            None,
            "A query attribute must be specified and must be a string.",
        );
    };
    let Some(field) = MUTATIONS.into_iter().find(|m| query.contains(m)) else {
        return gql_error(
            None,
            None,
            "the fake GitHub GraphQL API only knows markPullRequestReadyForReview and convertPullRequestToDraft",
        );
    };
    let variables = body.get("variables").cloned().unwrap_or(Value::Null);
    let Some(id) = pull_request_id(query, &variables) else {
        return gql_error(
            Some(field),
            None,
            "Argument 'pullRequestId' on InputObject is required. Expected type ID!",
        );
    };
    let Some(number) = s.pulls.keys().copied().find(|n| node_id(&s, *n) == id) else {
        return gql_error(
            Some(field),
            Some("NOT_FOUND"),
            &format!("Could not resolve to a node with the global id of '{id}'."),
        );
    };
    let open = s.issues.get(&number).is_some_and(|i| i.state == "open");
    let draft = field == "convertPullRequestToDraft";
    if draft && s.drafts_unsupported {
        return gql_error(
            Some(field),
            Some("UNPROCESSABLE"),
            "Draft pull requests are not supported in this repository.",
        );
    }
    let Some(p) = s.pulls.get_mut(&number) else {
        return gql_error(Some(field), Some("NOT_FOUND"), "pull request vanished");
    };
    if p.merged || !open {
        return gql_error(
            Some(field),
            Some("UNPROCESSABLE"),
            &format!("Pull request #{number} is closed"),
        );
    }
    p.draft = draft;
    if let Some(i) = s.issues.get_mut(&number) {
        i.updated_at = now();
    }
    common::json(
        StatusCode::OK,
        json!({"data": {field: {"pullRequest": {"id": id, "number": number, "isDraft": draft}}}}),
    )
}

fn not_mergeable(message: &str) -> Response {
    common::json(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}),
    )
}

async fn merge_pull(
    State(st): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !repo_matches(&s, &owner, &repo) || !s.pulls.contains_key(&number) {
        return not_found();
    }
    s.merge_calls.push((number, body.clone()));
    if let Some(sha) = s.race_pushes.remove(&number)
        && let Some(p) = s.pulls.get_mut(&number)
    {
        p.head_sha = sha;
    }
    let method = body
        .get("merge_method")
        .and_then(Value::as_str)
        .unwrap_or("merge")
        .to_owned();
    if !matches!(method.as_str(), "merge" | "squash" | "rebase") {
        return validation(&format!(
            "merge_method {method} is not one of merge, squash, rebase"
        ));
    }
    let open = s.issues.get(&number).is_some_and(|i| i.state == "open");
    let Some(p) = s.pulls.get_mut(&number) else {
        return not_found();
    };
    if p.merged || !open || !p.mergeable {
        return not_mergeable("Pull Request is not mergeable");
    }
    if p.draft {
        return not_mergeable("Pull Request is still a draft");
    }
    if let Some(sha) = body.get("sha").and_then(Value::as_str)
        && sha != p.head_sha
    {
        return common::json(
            StatusCode::CONFLICT,
            json!({"message": "Head branch was modified. Review and try the merge again.", "documentation_url": "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}),
        );
    }
    let digest = Sha256::digest(format!("merge:{}:{method}", p.head_sha).as_bytes());
    let merge_sha = hex::encode(digest)[..40].to_owned();
    p.merged = true;
    p.merge_method = Some(method);
    p.merge_commit_sha = Some(merge_sha.clone());
    if let Some(i) = s.issues.get_mut(&number) {
        "closed".clone_into(&mut i.state);
        i.updated_at = now();
    }
    common::json(
        StatusCode::OK,
        json!({"sha": merge_sha, "merged": true, "message": "Pull Request successfully merged"}),
    )
}

async fn request_reviewers(
    State(st): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, i64)>,
    body: axum::Json<Value>,
) -> Response {
    let mut s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    let Some(p) = s.pulls.get_mut(&number) else {
        return not_found();
    };
    for r in body
        .get("reviewers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if r == "ghost" {
            return common::json(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the repository."}),
            );
        }
        if !p.reviewers.iter().any(|x| x == r) {
            p.reviewers.push(r.to_owned());
        }
    }
    let p = p.clone();
    common::json(StatusCode::CREATED, pull_json(&s, &p, true))
}

async fn combined_status(
    State(st): State<Shared>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
) -> Response {
    let s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    let list = s.statuses.get(&sha).cloned().unwrap_or_default();
    let state = if list.iter().any(|(_, st)| st == "failure" || st == "error") {
        "failure"
    } else if list.is_empty() || list.iter().any(|(_, st)| st == "pending") {
        "pending"
    } else {
        "success"
    };
    common::json(
        StatusCode::OK,
        json!({"state": state, "sha": sha, "total_count": list.len(),
               "statuses": list.iter().map(|(c, st)| json!({"context": c, "state": st})).collect::<Vec<_>>()}),
    )
}

async fn check_runs(
    State(st): State<Shared>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
) -> Response {
    let s = lock(&st);
    if !repo_matches(&s, &owner, &repo) {
        return not_found();
    }
    let list = s.check_runs.get(&sha).cloned().unwrap_or_default();
    common::json(
        StatusCode::OK,
        json!({"total_count": list.len(),
               "check_runs": list.iter().map(|(n, status, c)| json!({"name": n, "status": status, "conclusion": c})).collect::<Vec<_>>()}),
    )
}
