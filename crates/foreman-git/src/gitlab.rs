//! GitLab REST v4: [`GitLabHost`], the merge request adapter over `foreman-rest`'s
//! [`GitLabClient`] (shared with the GitLab Issues tracker).
//!
//! Merging is `PUT /projects/:id/merge_requests/:iid/merge` with the head `sha` read just before
//! and `squash` for [`MergeMethod::Squash`]. Whether a merge makes a merge commit or
//! fast-forwards is the project's merge method setting, so [`MergeMethod::Rebase`] is refused
//! as [`HostError::Invalid`] (configure the project for fast-forward merges and use
//! [`MergeMethod::Merge`]). GitLab's 405 (cannot be merged now), 406 (conflicts), 409 (the head
//! moved: [`RemoteError::Conflict`]) and 422 answers become [`HostError::Remote`] refusals with an
//! explanation.
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
use foreman_rest::Method;
use serde::Deserialize;
use serde_json::json;

use foreman_rest::RemoteError;
pub use foreman_rest::gitlab::{DEFAULT_API_URL, GitLabClient, GitLabConfig, encode_path, wire};

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

fn not_found_as_mr(e: RemoteError, number: i64) -> HostError {
    match e {
        RemoteError::NotFound { service, .. } => HostError::Remote(RemoteError::NotFound {
            service,
            what: format!("merge request !{number}"),
        }),
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
            other => Err(HostError::Remote(RemoteError::Decode {
                service: "gitlab",
                message: format!("unknown merge request state {other:?}"),
            })),
        }
    }

    /// The merge request as GitLab stores it.
    async fn merge_request(&self, number: i64) -> HostResult<MergeRequest> {
        self.client
            .http()
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
                .http()
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
        let created: Result<MergeRequest, RemoteError> = self
            .client
            .http()
            .send_json(Method::POST, &self.client.path("/merge_requests"), &body)
            .await;
        match created {
            Ok(m) => {
                tracing::info!(iid = m.iid, head = %new.head, "gitlab merge request opened");
                Self::to_pr(m)
            }
            Err(RemoteError::Conflict { message, .. }) => match self.find_pr(&new.head).await? {
                Some(p) => Ok(p),
                None => Err(HostError::Remote(RemoteError::Conflict {
                    service: "gitlab",
                    message,
                })),
            },
            Err(e) => Err(e.into()),
        }
    }

    async fn find_pr(&self, head: &str) -> HostResult<Option<PullRequest>> {
        let list: Vec<MergeRequest> = self
            .client
            .http()
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
                return Err(HostError::Remote(RemoteError::refused(
                    "gitlab",
                    405,
                    format!(
                        "merge request !{number} is closed without merging; it cannot be merged"
                    ),
                )));
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
        let answer: Result<serde_json::Value, RemoteError> = self
            .client
            .http()
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
            Err(e) if matches!(e.refusal(), Some((405 | 406 | 409 | 422, _))) => {
                let (status, message) = e
                    .refusal()
                    .map(|(s, m)| (s, m.to_owned()))
                    .unwrap_or_default();
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
                Err(HostError::Remote(RemoteError::refused(
                    "gitlab", status, message,
                )))
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
            .http()
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
            .http()
            .send_json::<serde_json::Value>(
                Method::POST,
                &self.client.path(&format!("/merge_requests/{number}/notes")),
                &json!({ "body": body }),
            )
            .await
            .map_err(|e| not_found_as_mr(e, number))?;
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
}
