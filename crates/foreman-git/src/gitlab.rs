//! GitLab REST v4: the [`GitLabClient`] (shared with the GitLab Issues tracker) and
//! [`GitLabHost`], the merge request adapter.
//!
//! Merging is `PUT /projects/:id/merge_requests/:iid/merge` with the head `sha` read just before
//! and `squash` for [`MergeMethod::Squash`]. Whether a merge makes a merge commit or
//! fast-forwards is the project's merge method setting, so [`MergeMethod::Rebase`] is refused
//! as [`HostError::Invalid`] (configure the project for fast-forward merges and use
//! [`MergeMethod::Merge`]). GitLab's 405 (cannot be merged now), 406 (conflicts), 409 (the head
//! moved) and 422 answers become [`HostError::Rejected`] with an explanation.
//!
//! GitLab has no separate draft flag to set: a merge request is a draft when its title starts
//! with `Draft:`, `[Draft]` or `(Draft)`. Creating and updating ([`GitHost::update_pr`],
//! `PUT /projects/:id/merge_requests/:iid` with `title` and `description`) therefore write the
//! title as `draft_title` renders it, and the pull request is read back with GitLab's own
//! `draft` field and its title as stored (prefix included).

use async_trait::async_trait;
use foreman_domain::git::{
    ChecksStatus, GitHost, HostError, HostResult, MergeMethod, NewPullRequest, PrState, PullRequest,
};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::http::{Auth, HttpClient, HttpConfig, HttpError};

/// The public API root.
pub const DEFAULT_API_URL: &str = "https://gitlab.com/api/v4";

/// Where and how to reach one GitLab project.
#[derive(Debug, Clone)]
pub struct GitLabConfig {
    /// API root (`https://gitlab.com/api/v4`, or a self-managed instance's).
    pub api_url: String,
    /// The project's path (`group/project`) or numeric id.
    pub project: String,
    /// A token with the `api` scope.
    pub token: String,
}

/// GitLab's JSON, as much of it as Foreman reads.
pub mod wire {
    use serde::Deserialize;

    /// A user reference.
    #[derive(Debug, Clone, Deserialize)]
    pub struct User {
        /// Username.
        pub username: String,
    }

    /// An issue.
    #[derive(Debug, Clone, Deserialize)]
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
        #[serde(default)]
        pub labels: Vec<String>,
        /// Author.
        pub author: Option<User>,
        /// Assignee.
        pub assignee: Option<User>,
        /// Web URL.
        pub web_url: String,
        /// Last change.
        pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    }

    /// A note (comment); system notes record changes, not people.
    #[derive(Debug, Clone, Deserialize)]
    pub struct Note {
        /// Id.
        pub id: i64,
        /// Text.
        pub body: String,
        /// Whether GitLab wrote it.
        #[serde(default)]
        pub system: bool,
        /// Author.
        pub author: Option<User>,
        /// Created.
        pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    }
}

#[derive(Debug, Deserialize)]
struct MergeRequest {
    iid: i64,
    title: String,
    state: String,
    #[serde(default)]
    draft: bool,
    source_branch: String,
    target_branch: String,
    sha: Option<String>,
    web_url: String,
    head_pipeline: Option<Pipeline>,
    #[serde(default)]
    has_conflicts: bool,
    /// `mergeable`, `conflict`, `draft_status`, `ci_must_pass`, `not_approved`, ...
    #[serde(default)]
    detailed_merge_status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Pipeline {
    status: String,
}

#[derive(Debug, Deserialize)]
struct UserId {
    id: i64,
}

/// A REST client bound to one project.
#[derive(Debug, Clone)]
pub struct GitLabClient {
    http: HttpClient,
    project: String,
}

impl GitLabClient {
    /// Builds a client with `PRIVATE-TOKEN` auth.
    ///
    /// # Errors
    /// [`HttpError::Invalid`] for an unusable URL, or an empty project or token.
    pub fn new(config: &GitLabConfig) -> Result<Self, HttpError> {
        let http = HttpConfig::new(
            "gitlab",
            &config.api_url,
            Auth::Header {
                name: "private-token".to_owned(),
                value: config.token.clone(),
            },
        );
        Self::with_http(http, config)
    }

    /// Builds a client with explicit HTTP settings.
    ///
    /// # Errors
    /// As [`GitLabClient::new`].
    pub fn with_http(http: HttpConfig, config: &GitLabConfig) -> Result<Self, HttpError> {
        let invalid = |message: String| HttpError::Invalid {
            service: "gitlab",
            message,
        };
        if config.project.trim().is_empty() || config.project.contains("..") {
            return Err(invalid(format!("bad project {:?}", config.project)));
        }
        if config.token.trim().is_empty() {
            return Err(invalid("no token configured".to_owned()));
        }
        Ok(Self {
            http: HttpClient::new(http)?,
            project: encode_path(&config.project),
        })
    }

    /// The HTTP client.
    #[must_use]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `/projects/<id><rest>`.
    #[must_use]
    pub fn path(&self, rest: &str) -> String {
        format!("/projects/{}{rest}", self.project)
    }

    /// Checks the project is visible with this token.
    ///
    /// # Errors
    /// [`HttpError`].
    pub async fn check(&self) -> Result<(), HttpError> {
        self.http
            .get_json::<serde_json::Value>(&self.path(""), &[])
            .await
            .map(|_| ())
    }
}

/// Percent-encodes a project path (`group/project` → `group%2Fproject`).
fn encode_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.trim().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Title prefixes GitLab reads as "draft" (case-insensitive), and the older `WIP` ones.
const DRAFT_PREFIXES: [&str; 5] = ["draft:", "[draft]", "(draft)", "wip:", "[wip]"];

/// A title without its draft prefixes (`Draft: [Draft] x` → `x`).
fn strip_draft_prefix(title: &str) -> &str {
    let mut t = title.trim_start();
    while let Some(p) = DRAFT_PREFIXES
        .iter()
        .find(|p| t.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
    {
        t = t[p.len()..].trim_start();
    }
    t
}

/// The title to send GitLab for a merge request that should (not) be a draft: `Draft: <title>`
/// or the bare title, any draft prefix the caller wrote replaced.
fn draft_title(title: &str, draft: bool) -> String {
    let bare = strip_draft_prefix(title);
    if draft {
        format!("Draft: {bare}")
    } else {
        bare.to_owned()
    }
}

fn not_found_as_mr(e: HttpError, number: i64) -> HostError {
    match e {
        HttpError::NotFound { service, .. } => HostError::NotFound {
            service,
            what: format!("merge request !{number}"),
        },
        e => e.into(),
    }
}

/// Merge requests on GitLab.
#[derive(Debug, Clone)]
pub struct GitLabHost {
    client: GitLabClient,
}

impl GitLabHost {
    /// A host over a client.
    #[must_use]
    pub fn new(client: GitLabClient) -> Self {
        Self { client }
    }

    fn pr_state(m: &MergeRequest) -> HostResult<PrState> {
        match m.state.as_str() {
            "opened" | "locked" => Ok(PrState::Open),
            "merged" => Ok(PrState::Merged),
            "closed" => Ok(PrState::Closed),
            other => Err(HostError::BadResponse {
                service: "gitlab",
                message: format!("unknown merge request state {other:?}"),
            }),
        }
    }

    /// The merge request as GitLab stores it.
    async fn merge_request(&self, number: i64) -> HostResult<MergeRequest> {
        self.client
            .http
            .get_json(&self.client.path(&format!("/merge_requests/{number}")), &[])
            .await
            .map_err(|e| not_found_as_mr(e, number))
    }

    fn to_pr(m: MergeRequest) -> HostResult<PullRequest> {
        let state = Self::pr_state(&m)?;
        let checks = match m.head_pipeline.as_ref().map(|p| p.status.as_str()) {
            None => ChecksStatus::None,
            Some("success") => ChecksStatus::Success,
            Some("failed" | "canceled") => ChecksStatus::Failure,
            Some("skipped") => ChecksStatus::None,
            Some(_) => ChecksStatus::Pending,
        };
        Ok(PullRequest {
            number: m.iid,
            url: m.web_url,
            title: m.title,
            head: m.source_branch,
            base: m.target_branch,
            head_sha: m.sha.unwrap_or_default(),
            state,
            draft: m.draft,
            checks,
        })
    }

    async fn reviewer_ids(&self, names: &[String]) -> HostResult<Vec<i64>> {
        let mut ids = Vec::new();
        for n in names {
            let found: Vec<UserId> = self
                .client
                .http
                .get_json("/users", &[("username", n.clone())])
                .await?;
            match found.first() {
                Some(u) => ids.push(u.id),
                None => {
                    return Err(HostError::Invalid(format!("no gitlab user named {n:?}")));
                }
            }
        }
        Ok(ids)
    }
}

#[async_trait]
impl GitHost for GitLabHost {
    fn name(&self) -> &'static str {
        "gitlab"
    }

    async fn create_pr(&self, new: &NewPullRequest) -> HostResult<PullRequest> {
        if strip_draft_prefix(&new.title).is_empty() {
            return Err(HostError::Invalid("pull request title is empty".to_owned()));
        }
        for b in [&new.head, &new.base] {
            if !foreman_domain::git::is_safe_branch_name(b) {
                return Err(HostError::Invalid(format!("unsafe branch name {b:?}")));
            }
        }
        if new.head == new.base {
            return Err(HostError::Invalid(
                "head and base are the same branch".to_owned(),
            ));
        }
        if let Some(existing) = self
            .find_pr(&new.head)
            .await?
            .filter(|p| p.state == PrState::Open)
        {
            return Ok(existing);
        }
        let reviewer_ids = self.reviewer_ids(&new.reviewers).await?;
        let title = draft_title(&new.title, new.draft);
        let body = json!({
            "source_branch": new.head,
            "target_branch": new.base,
            "title": title,
            "description": new.body,
            "labels": new.labels.join(","),
            "reviewer_ids": reviewer_ids,
            "remove_source_branch": false,
        });
        let created: Result<MergeRequest, HttpError> = self
            .client
            .http
            .send_json(Method::POST, &self.client.path("/merge_requests"), &body)
            .await;
        match created {
            Ok(m) => {
                tracing::info!(iid = m.iid, head = %new.head, "gitlab merge request opened");
                Self::to_pr(m)
            }
            Err(HttpError::Rejected {
                status: 409,
                message,
                ..
            }) => match self.find_pr(&new.head).await? {
                Some(p) => Ok(p),
                None => Err(HostError::Rejected {
                    service: "gitlab",
                    status: 409,
                    message,
                }),
            },
            Err(e) => Err(e.into()),
        }
    }

    async fn find_pr(&self, head: &str) -> HostResult<Option<PullRequest>> {
        let list: Vec<MergeRequest> = self
            .client
            .http
            .get_all_pages(
                &self.client.path("/merge_requests"),
                &[
                    ("source_branch", head.to_owned()),
                    ("state", "all".to_owned()),
                    ("per_page", "100".to_owned()),
                ],
            )
            .await?;
        let pick = list
            .iter()
            .position(|m| m.state == "opened" && m.source_branch == head)
            .or_else(|| list.iter().position(|m| m.source_branch == head));
        match pick {
            // the list omits the head pipeline; read the merge request itself
            Some(i) => Ok(Some(self.get_pr(list[i].iid).await?)),
            None => Ok(None),
        }
    }

    async fn get_pr(&self, number: i64) -> HostResult<PullRequest> {
        Self::to_pr(self.merge_request(number).await?)
    }

    async fn merge_pr(&self, number: i64, method: MergeMethod) -> HostResult<PullRequest> {
        let m = self.merge_request(number).await?;
        match Self::pr_state(&m)? {
            PrState::Merged => return Self::to_pr(m),
            PrState::Closed => {
                return Err(HostError::Rejected {
                    service: "gitlab",
                    status: 405,
                    message: format!(
                        "merge request !{number} is closed without merging; it cannot be merged"
                    ),
                });
            }
            PrState::Open => {}
        }
        if m.draft {
            return Err(HostError::Invalid(format!(
                "merge request !{number} is a draft; mark it ready before merging"
            )));
        }
        if method == MergeMethod::Rebase {
            return Err(HostError::Invalid(
                "gitlab cannot rebase-merge per request: set the project's merge method to fast-forward and merge with `merge`".to_owned(),
            ));
        }
        let expected = m.sha.clone().unwrap_or_default();
        let mut body = json!({
            "squash": method == MergeMethod::Squash,
            "should_remove_source_branch": false,
        });
        if !expected.is_empty() {
            body["sha"] = json!(expected);
        }
        let answer: Result<serde_json::Value, HttpError> = self
            .client
            .http
            .send_json(
                Method::PUT,
                &self.client.path(&format!("/merge_requests/{number}/merge")),
                &body,
            )
            .await;
        match answer {
            Ok(_) => {
                tracing::info!(iid = number, method = %method, sha = %expected, "gitlab merge request merged");
                self.get_pr(number).await
            }
            Err(HttpError::Rejected {
                status: status @ (405 | 406 | 409 | 422),
                message,
                ..
            }) => {
                // merged meanwhile (a concurrent call, a person): that is success
                let now = self.merge_request(number).await?;
                let state = Self::pr_state(&now)?;
                if state == PrState::Merged {
                    return Self::to_pr(now);
                }
                let target = &now.target_branch;
                let moved = now.sha.as_deref().is_some_and(|s| s != expected);
                let message = if state == PrState::Closed {
                    format!("merge request !{number} was closed without merging ({message})")
                } else if status == 409 || moved {
                    format!(
                        "the head of merge request !{number} moved from {expected} to {} while merging; review the new head first ({message})",
                        now.sha.as_deref().unwrap_or("?")
                    )
                } else if status == 406
                    || now.has_conflicts
                    || now.detailed_merge_status.as_deref() == Some("conflict")
                {
                    format!(
                        "merge conflict: merge request !{number} conflicts with {target}; resolve it on the source branch ({message})"
                    )
                } else {
                    let why = now.detailed_merge_status.as_deref().unwrap_or("unknown");
                    format!("merge request !{number} cannot be merged ({why}): {message}")
                };
                Err(HostError::Rejected {
                    service: "gitlab",
                    status,
                    message,
                })
            }
            Err(e) => Err(not_found_as_mr(e, number)),
        }
    }

    async fn update_pr(
        &self,
        number: i64,
        title: &str,
        body: &str,
        draft: bool,
    ) -> HostResult<PullRequest> {
        if strip_draft_prefix(title).is_empty() {
            return Err(HostError::Invalid("pull request title is empty".to_owned()));
        }
        let m = self.merge_request(number).await?;
        HostError::unless_open(
            "gitlab",
            &format!("merge request !{number}"),
            Self::pr_state(&m)?,
        )?;
        let updated: MergeRequest = self
            .client
            .http
            .send_json(
                Method::PUT,
                &self.client.path(&format!("/merge_requests/{number}")),
                &json!({ "title": draft_title(title, draft), "description": body }),
            )
            .await
            .map_err(|e| not_found_as_mr(e, number))?;
        if updated.draft != m.draft {
            tracing::info!(
                iid = number,
                draft = updated.draft,
                "gitlab merge request draft flag changed"
            );
        }
        Self::to_pr(updated)
    }

    async fn comment_pr(&self, number: i64, body: &str) -> HostResult<()> {
        if body.trim().is_empty() {
            return Err(HostError::Invalid("empty comment".to_owned()));
        }
        self.client
            .http
            .send_json::<serde_json::Value>(
                Method::POST,
                &self.client.path(&format!("/merge_requests/{number}/notes")),
                &json!({ "body": body }),
            )
            .await
            .map_err(|e| match e {
                HttpError::NotFound { service, .. } => HostError::NotFound {
                    service,
                    what: format!("merge request !{number}"),
                },
                e => e.into(),
            })?;
        Ok(())
    }

    async fn check(&self) -> HostResult<()> {
        Ok(self.client.check().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft_titles_follow_gitlab_prefixes() {
        assert_eq!(draft_title("Add auth", true), "Draft: Add auth");
        assert_eq!(draft_title("Draft: Add auth", true), "Draft: Add auth");
        assert_eq!(draft_title("[Draft] Add auth", true), "Draft: Add auth");
        for t in [
            "Draft: Add auth",
            "draft:Add auth",
            "[Draft] Add auth",
            "(draft) Add auth",
            "WIP: Add auth",
            "[WIP] Draft: Add auth",
            "Add auth",
        ] {
            assert_eq!(draft_title(t, false), "Add auth", "{t}");
        }
        // not a prefix: left alone
        assert_eq!(draft_title("Drafting rules", false), "Drafting rules");
        assert_eq!(strip_draft_prefix("Draft: "), "");
    }

    #[test]
    fn project_paths_are_encoded() {
        assert_eq!(encode_path("group/sub/project"), "group%2Fsub%2Fproject");
        assert_eq!(encode_path("42"), "42");
    }
}
