//! GitHub REST v3: [`GitHubHost`], the pull request adapter over `foreman-rest`'s
//! [`GitHubClient`] (shared with the GitHub Issues tracker).
//!
//! Merging is `PUT /repos/{owner}/{repo}/pulls/{number}/merge` with `merge_method` and the head
//! `sha` read just before, so a push that races the merge is refused (409) instead of merged
//! unseen; a 405 (not mergeable) is explained from the pull request's `mergeable_state`
//! (`dirty`: a merge conflict; `blocked`: branch protection; `behind`).
//!
//! Updating is `PATCH /repos/{owner}/{repo}/pulls/{number}` for the title and body. REST cannot
//! change the draft flag, so when it changes the GraphQL API is asked
//! (`markPullRequestReadyForReview` or `convertPullRequestToDraft` with the pull request's
//! `node_id`); GraphQL errors arrive with HTTP 200 and an `errors` array and are reported as
//! [`HostError`]s.

use async_trait::async_trait;
use foreman_domain::git::{
    ChecksStatus, GitHost, HostError, HostResult, MergeMethod, NewPullRequest, PrState, PullRequest,
};
use foreman_rest::Method;
use serde::Deserialize;
use serde_json::json;

use foreman_rest::RemoteError;
pub use foreman_rest::github::{
    DEFAULT_API_URL, GitHubClient, GitHubConfig, graphql_error, graphql_url, wire,
};

/// Marks a draft pull request ready for review.
const MARK_READY: &str = "mutation MarkReady($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }";

/// Turns a pull request back into a draft.
const CONVERT_TO_DRAFT: &str = "mutation ConvertToDraft($id: ID!) { convertPullRequestToDraft(input: {pullRequestId: $id}) { pullRequest { isDraft } } }";

#[derive(Debug, Deserialize)]
struct BranchRef {
    #[serde(rename = "ref")]
    name: String,
    sha: String,
}

#[derive(Debug, Deserialize)]
struct Pull {
    number: i64,
    /// The GraphQL id (what mutations take).
    #[serde(default)]
    node_id: Option<String>,
    html_url: String,
    title: Option<String>,
    state: String,
    #[serde(default)]
    draft: bool,
    merged: Option<bool>,
    merged_at: Option<String>,
    head: BranchRef,
    base: BaseRef,
    /// `null` while GitHub is still computing it.
    #[serde(default)]
    mergeable: Option<bool>,
    /// `clean`, `dirty` (conflicts), `blocked`, `behind`, `unstable`, `draft`, `unknown`.
    #[serde(default)]
    mergeable_state: Option<String>,
}

impl Pull {
    fn pr_state(&self) -> HostResult<PrState> {
        let merged = self.merged.unwrap_or(false) || self.merged_at.is_some();
        match (merged, self.state.as_str()) {
            (true, _) => Ok(PrState::Merged),
            (false, "open") => Ok(PrState::Open),
            (false, "closed") => Ok(PrState::Closed),
            (false, other) => Err(HostError::Remote(RemoteError::Decode {
                service: "github",
                message: format!("unknown pull request state {other:?}"),
            })),
        }
    }
}

/// The answer to a merge.
#[derive(Debug, Deserialize)]
struct MergeResult {
    #[serde(default)]
    merged: bool,
}

#[derive(Debug, Deserialize)]
struct BaseRef {
    #[serde(rename = "ref")]
    name: String,
}

#[derive(Debug, Deserialize)]
struct CombinedStatus {
    state: String,
    total_count: i64,
}

#[derive(Debug, Deserialize)]
struct CheckRuns {
    #[serde(default)]
    check_runs: Vec<CheckRun>,
}

#[derive(Debug, Deserialize)]
struct CheckRun {
    status: String,
    conclusion: Option<String>,
}

/// Pull requests on GitHub.
#[derive(Debug, Clone)]
pub struct GitHubHost {
    client: GitHubClient,
}

impl GitHubHost {
    /// A host over a client.
    #[must_use]
    pub fn new(client: GitHubClient) -> Self {
        Self { client }
    }

    async fn checks(&self, sha: &str) -> HostResult<ChecksStatus> {
        let status: CombinedStatus = self
            .client
            .http()
            .get_json(&self.client.path(&format!("/commits/{sha}/status")), &[])
            .await?;
        let runs: CheckRuns = self
            .client
            .http()
            .get_json(
                &self.client.path(&format!("/commits/{sha}/check-runs")),
                &[("per_page", "100".to_owned())],
            )
            .await?;
        let mut all = Vec::new();
        if status.total_count > 0 {
            all.push(match status.state.as_str() {
                "success" => ChecksStatus::Success,
                "pending" => ChecksStatus::Pending,
                _ => ChecksStatus::Failure,
            });
        }
        for run in runs.check_runs {
            all.push(if run.status == "completed" {
                match run.conclusion.as_deref() {
                    Some("success" | "neutral" | "skipped") => ChecksStatus::Success,
                    _ => ChecksStatus::Failure,
                }
            } else {
                ChecksStatus::Pending
            });
        }
        Ok(ChecksStatus::combine(all))
    }

    /// The pull request as GitHub stores it (no checks).
    async fn pull(&self, number: i64) -> HostResult<Pull> {
        self.client
            .http()
            .get_json(&self.client.path(&format!("/pulls/{number}")), &[])
            .await
            .map_err(|e| not_found_as_pr(e, number))
    }

    /// Runs one GraphQL mutation with `variables` and returns its `data.<field>`.
    async fn graphql(
        &self,
        query: &str,
        variables: serde_json::Value,
        field: &str,
        what: &str,
    ) -> HostResult<serde_json::Value> {
        let answer: serde_json::Value = self
            .client
            .graphql()
            .send_json(
                Method::POST,
                "",
                &json!({ "query": query, "variables": variables }),
            )
            .await?;
        if let Some(errors) = answer
            .get("errors")
            .and_then(serde_json::Value::as_array)
            .filter(|e| !e.is_empty())
        {
            return Err(graphql_error(errors, what).into());
        }
        match answer.pointer(&format!("/data/{field}")) {
            Some(v) if !v.is_null() => Ok(v.clone()),
            _ => Err(HostError::Remote(RemoteError::Decode {
                service: "github",
                message: format!("graphql answer without data.{field}"),
            })),
        }
    }

    /// Marks a pull request ready for review (`draft: false`) or converts it to a draft, and
    /// returns the draft flag GitHub reports afterwards.
    async fn set_draft(&self, p: &Pull, draft: bool) -> HostResult<bool> {
        let Some(id) = p.node_id.as_deref().filter(|id| !id.is_empty()) else {
            return Err(HostError::Remote(RemoteError::Decode {
                service: "github",
                message: format!("pull request #{} has no node_id", p.number),
            }));
        };
        let (query, field) = if draft {
            (CONVERT_TO_DRAFT, "convertPullRequestToDraft")
        } else {
            (MARK_READY, "markPullRequestReadyForReview")
        };
        let what = format!("pull request #{}", p.number);
        let data = self
            .graphql(query, json!({ "id": id }), field, &what)
            .await?;
        data.pointer("/pullRequest/isDraft")
            .and_then(serde_json::Value::as_bool)
            .ok_or_else(|| {
                HostError::Remote(RemoteError::Decode {
                    service: "github",
                    message: format!("{field} answer without pullRequest.isDraft"),
                })
            })
    }

    async fn to_pr(&self, p: Pull) -> HostResult<PullRequest> {
        let state = p.pr_state()?;
        Ok(PullRequest {
            number: p.number,
            url: p.html_url,
            title: p.title.unwrap_or_default(),
            checks: self.checks(&p.head.sha).await?,
            head: p.head.name,
            base: p.base.name,
            head_sha: p.head.sha,
            state,
            draft: p.draft,
        })
    }

    async fn decorate(&self, number: i64, new: &NewPullRequest) -> HostResult<()> {
        if !new.labels.is_empty() {
            self.client.add_labels(number, &new.labels).await?;
        }
        if !new.reviewers.is_empty() {
            self.client
                .http()
                .send_json::<serde_json::Value>(
                    Method::POST,
                    &self
                        .client
                        .path(&format!("/pulls/{number}/requested_reviewers")),
                    &json!({ "reviewers": new.reviewers }),
                )
                .await?;
        }
        Ok(())
    }
}

fn not_found_as_pr(e: RemoteError, number: i64) -> HostError {
    match e {
        RemoteError::NotFound { service, .. } => HostError::Remote(RemoteError::NotFound {
            service,
            what: format!("pull request #{number}"),
        }),
        e => e.into(),
    }
}

/// Explains a 405 from the merge endpoint by the pull request's `mergeable_state`.
fn not_mergeable(number: i64, p: &Pull, github: &str) -> String {
    let base = &p.base.name;
    // `mergeable: false` is GitHub's word for a conflict, even before `mergeable_state` says so
    let state = match (p.mergeable, p.mergeable_state.as_deref()) {
        (Some(false), None | Some("unknown")) => Some("dirty"),
        (_, state) => state,
    };
    match state {
        Some("dirty") => format!(
            "merge conflict: pull request #{number} conflicts with {base}; resolve it on the head branch ({github})"
        ),
        Some("blocked") => format!(
            "pull request #{number} is blocked by branch protection: required reviews or checks are missing ({github})"
        ),
        Some("behind") => format!(
            "pull request #{number} is behind {base} and branch protection requires it up to date ({github})"
        ),
        Some("draft") => format!("pull request #{number} is a draft ({github})"),
        _ => format!("pull request #{number} is not mergeable: {github}"),
    }
}

fn check_new(new: &NewPullRequest) -> HostResult<()> {
    if new.title.trim().is_empty() {
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
    Ok(())
}

#[async_trait]
impl GitHost for GitHubHost {
    fn name(&self) -> &'static str {
        "github"
    }

    async fn create_pr(&self, new: &NewPullRequest) -> HostResult<PullRequest> {
        check_new(new)?;
        if let Some(existing) = self
            .find_pr(&new.head)
            .await?
            .filter(|p| p.state == PrState::Open)
        {
            self.decorate(existing.number, new).await?;
            return Ok(existing);
        }
        let body = json!({
            "title": new.title,
            "body": new.body,
            "head": new.head,
            "base": new.base,
            "draft": new.draft,
        });
        let created: Result<Pull, RemoteError> = self
            .client
            .http()
            .send_json(Method::POST, &self.client.path("/pulls"), &body)
            .await;
        let number = match created {
            Ok(p) => p.number,
            // created concurrently (or before a crash) between our lookup and our create
            Err(RemoteError::Status {
                status: 422,
                message,
                ..
            }) if message.contains("already exists") => match self.find_pr(&new.head).await? {
                Some(p) => p.number,
                None => {
                    return Err(HostError::Remote(RemoteError::refused(
                        "github", 422, message,
                    )));
                }
            },
            Err(e) => return Err(e.into()),
        };
        self.decorate(number, new).await?;
        tracing::info!(number, head = %new.head, "github pull request opened");
        self.get_pr(number).await
    }

    async fn find_pr(&self, head: &str) -> HostResult<Option<PullRequest>> {
        let list: Vec<Pull> = self
            .client
            .http()
            .get_all_pages(
                &self.client.path("/pulls"),
                &[
                    ("head", format!("{}:{head}", self.client.owner())),
                    ("state", "all".to_owned()),
                    ("per_page", "100".to_owned()),
                ],
            )
            .await?;
        let pick = list
            .iter()
            .position(|p| p.state == "open" && p.head.name == head)
            .or_else(|| list.iter().position(|p| p.head.name == head));
        match pick {
            Some(i) => Ok(Some(self.get_pr(list[i].number).await?)),
            None => Ok(None),
        }
    }

    async fn get_pr(&self, number: i64) -> HostResult<PullRequest> {
        let p = self.pull(number).await?;
        self.to_pr(p).await
    }

    async fn merge_pr(&self, number: i64, method: MergeMethod) -> HostResult<PullRequest> {
        let p = self.pull(number).await?;
        match p.pr_state()? {
            PrState::Merged => return self.to_pr(p).await,
            PrState::Closed => {
                return Err(HostError::Remote(RemoteError::refused(
                    "github",
                    405,
                    format!(
                        "pull request #{number} is closed without merging; it cannot be merged"
                    ),
                )));
            }
            PrState::Open => {}
        }
        if p.draft {
            return Err(HostError::Invalid(format!(
                "pull request #{number} is a draft; mark it ready for review before merging"
            )));
        }
        let expected = p.head.sha.clone();
        let body = json!({ "merge_method": method.as_str(), "sha": expected });
        let answer: Result<MergeResult, RemoteError> = self
            .client
            .http()
            .send_json(
                Method::PUT,
                &self.client.path(&format!("/pulls/{number}/merge")),
                &body,
            )
            .await;
        match answer {
            Ok(done) => {
                tracing::info!(number, method = %method, sha = %expected, "github pull request merged");
                let mut pr = self.get_pr(number).await?;
                // the merge answer is authoritative; a read right after it may lag
                if done.merged && pr.state == PrState::Open {
                    pr.state = PrState::Merged;
                }
                Ok(pr)
            }
            Err(e) if matches!(e.refusal(), Some((405 | 409, _))) => {
                let (status, message) = e
                    .refusal()
                    .map(|(s, m)| (s, m.to_owned()))
                    .unwrap_or_default();
                // merged meanwhile (a concurrent call, a person): that is success
                let now = self.pull(number).await?;
                if now.pr_state()? == PrState::Merged {
                    return self.to_pr(now).await;
                }
                let message = if now.pr_state()? == PrState::Closed {
                    format!("pull request #{number} was closed without merging ({message})")
                } else if status == 409 || now.head.sha != expected {
                    format!(
                        "the head of pull request #{number} moved from {expected} to {} while merging; review the new head first ({message})",
                        now.head.sha
                    )
                } else {
                    not_mergeable(number, &now, &message)
                };
                Err(HostError::Remote(RemoteError::refused(
                    "github", status, message,
                )))
            }
            Err(e) => Err(not_found_as_pr(e, number)),
        }
    }

    async fn update_pr(
        &self,
        number: i64,
        title: &str,
        body: &str,
        draft: bool,
    ) -> HostResult<PullRequest> {
        if title.trim().is_empty() {
            return Err(HostError::Invalid("pull request title is empty".to_owned()));
        }
        let p = self.pull(number).await?;
        HostError::unless_open("github", &format!("pull request #{number}"), p.pr_state()?)?;
        let patched: Pull = self
            .client
            .http()
            .send_json(
                Method::PATCH,
                &self.client.path(&format!("/pulls/{number}")),
                &json!({ "title": title, "body": body }),
            )
            .await
            .map_err(|e| not_found_as_pr(e, number))?;
        // REST leaves the draft flag alone; GraphQL is asked only when it changes
        let is_draft = if patched.draft == draft {
            draft
        } else {
            let now = self.set_draft(&patched, draft).await?;
            tracing::info!(
                number,
                draft = now,
                "github pull request draft flag changed"
            );
            now
        };
        let mut pr = self.to_pr(patched).await?;
        pr.draft = is_draft;
        Ok(pr)
    }

    async fn comment_pr(&self, number: i64, body: &str) -> HostResult<()> {
        if body.trim().is_empty() {
            return Err(HostError::Invalid("empty comment".to_owned()));
        }
        self.client.comment(number, body).await?;
        Ok(())
    }

    async fn check(&self) -> HostResult<()> {
        Ok(self.client.check().await?)
    }
}
