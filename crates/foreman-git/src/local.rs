//! The `local` git host: no GitHub or GitLab. The ticket branch is pushed to the configured
//! remote as usual, and the pull request is a record in Foreman's database (through the
//! [`SettingsStore`] port), so Foreman works air-gapped and in the demo.
//!
//! A local pull request is merged when its head commit is contained in the remote's base
//! branch (someone merged it with plain git) or when [`GitHost::merge_pr`] merged it: that
//! merges the head branch into the base branch on the remote for real, with the `git` binary
//! ([`GitRepository::merge_branch_into`]), and records the merge. It is closed when its head
//! branch disappears from the remote unmerged or [`LocalHost::close_pr`] is called.
//!
//! Following many open pull requests stays cheap: reads share one view of the remote (one
//! `fetch` and one `for-each-ref`, reused for [`LocalHost::with_view_ttl`], 2 s by default), and
//! a pull request whose head and base commits are the ones it was last checked against is not
//! checked again. Merging and updating always read the remote afresh.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foreman_domain::SettingsStore;
use foreman_domain::git::{
    ChecksStatus, GitError, GitHost, GitRepo, HostError, HostResult, MergeMethod, NewPullRequest,
    PrState, PullRequest,
};
use foreman_domain::remote::RemoteError;
use serde::{Deserialize, Serialize};

use crate::repo::GitRepository;

/// A comment on a local pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalComment {
    /// Text.
    pub body: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A local pull request as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalPr {
    /// Number within the project.
    pub number: i64,
    /// What was asked for.
    pub request: NewPullRequest,
    /// The head commit last seen on the remote.
    pub head_sha: String,
    /// State.
    pub state: PrState,
    /// Comments.
    pub comments: Vec<LocalComment>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The base branch's commit after [`GitHost::merge_pr`] merged it (`None` when it was
    /// merged outside Foreman, or not yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_commit: Option<String>,
    /// How [`GitHost::merge_pr`] merged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_method: Option<MergeMethod>,
    /// The base branch's commit that `head_sha` was last found not to be merged into (so an
    /// unchanged pair is not checked again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmerged_base: Option<String>,
}

/// How long one read of the remote serves [`GitHost::get_pr`] and [`GitHost::find_pr`] by
/// default.
pub const DEFAULT_VIEW_TTL: Duration = Duration::from_secs(2);

/// The remote's branches as read at one moment.
#[derive(Debug)]
struct RemoteView {
    read_at: Instant,
    /// Branch name → commit.
    heads: HashMap<String, String>,
}

/// Pull requests recorded in Foreman's own database.
pub struct LocalHost {
    settings: Arc<dyn SettingsStore>,
    repo: Arc<GitRepository>,
    // numbers are allocated read-modify-write; one host per project per process keeps it safe
    lock: tokio::sync::Mutex<()>,
    // concurrent readers wait for one read of the remote instead of each fetching
    view: tokio::sync::Mutex<Option<Arc<RemoteView>>>,
    view_ttl: Duration,
}

impl std::fmt::Debug for LocalHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalHost")
            .field("project", &self.project())
            .finish_non_exhaustive()
    }
}

impl LocalHost {
    /// A host recording into `settings`, checking branches on `repo`'s remote.
    #[must_use]
    pub fn new(settings: Arc<dyn SettingsStore>, repo: Arc<GitRepository>) -> Self {
        Self {
            settings,
            repo,
            lock: tokio::sync::Mutex::new(()),
            view: tokio::sync::Mutex::new(None),
            view_ttl: DEFAULT_VIEW_TTL,
        }
    }

    /// Sets how long one read of the remote serves reads of pull requests (zero: every read
    /// fetches).
    #[must_use]
    pub fn with_view_ttl(mut self, ttl: Duration) -> Self {
        self.view_ttl = ttl;
        self
    }

    /// The remote's branches: fetched now when `fresh` or when the last read is older than the
    /// view's time to live.
    async fn remote(&self, fresh: bool) -> HostResult<Arc<RemoteView>> {
        let mut view = self.view.lock().await;
        if !fresh
            && let Some(v) = view.as_ref()
            && v.read_at.elapsed() < self.view_ttl
        {
            return Ok(v.clone());
        }
        let read_at = Instant::now();
        self.repo.sync().await?;
        let heads = self.repo.remote_heads().await?;
        let v = Arc::new(RemoteView { read_at, heads });
        *view = Some(v.clone());
        Ok(v)
    }

    /// Adds a branch head just read from the remote to the cached view, so a pull request
    /// opened after the view was read is not taken for closed (nor read afresh to learn
    /// otherwise).
    async fn note_branch(&self, branch: &str, sha: &str) {
        let mut view = self.view.lock().await;
        if let Some(v) = view.as_ref()
            && v.heads.get(branch).map(String::as_str) != Some(sha)
        {
            let mut heads = v.heads.clone();
            heads.insert(branch.to_owned(), sha.to_owned());
            *view = Some(Arc::new(RemoteView {
                read_at: v.read_at,
                heads,
            }));
        }
    }

    fn project(&self) -> &str {
        &self.repo.config().project
    }

    fn key(&self, rest: &str) -> String {
        format!("local_host/{}/{rest}", self.project())
    }

    /// The URL a local pull request is known by.
    #[must_use]
    pub fn pr_url(&self, number: i64) -> String {
        format!("foreman://{}/pulls/{number}", self.project())
    }

    async fn load(&self, number: i64) -> HostResult<LocalPr> {
        let raw = self
            .settings
            .get_setting(&self.key(&format!("pr/{number}")))
            .await?
            .ok_or_else(|| {
                HostError::Remote(RemoteError::NotFound {
                    service: "local",
                    what: format!("pull request #{number}"),
                })
            })?;
        serde_json::from_str(&raw).map_err(|e| {
            HostError::Store(foreman_domain::StoreError::corrupt("local pull request", e))
        })
    }

    async fn save(&self, pr: &LocalPr) -> HostResult<()> {
        let raw = serde_json::to_string(pr).map_err(|e| HostError::Invalid(e.to_string()))?;
        self.settings
            .put_setting(&self.key(&format!("pr/{}", pr.number)), &raw)
            .await?;
        self.settings
            .put_setting(
                &self.key(&format!("head/{}", pr.request.head)),
                &pr.number.to_string(),
            )
            .await?;
        Ok(())
    }

    fn render(&self, pr: &LocalPr) -> PullRequest {
        PullRequest {
            number: pr.number,
            url: self.pr_url(pr.number),
            title: pr.request.title.clone(),
            head: pr.request.head.clone(),
            base: pr.request.base.clone(),
            head_sha: pr.head_sha.clone(),
            state: pr.state,
            draft: pr.request.draft,
            checks: ChecksStatus::None,
        }
    }

    /// Closes a local pull request without merging (from the API or the CLI).
    ///
    /// # Errors
    /// [`RemoteError::NotFound`] for an unknown number; storage failures.
    pub async fn close_pr(&self, number: i64) -> HostResult<PullRequest> {
        let mut pr = self.load(number).await?;
        if pr.state == PrState::Open {
            pr.state = PrState::Closed;
            self.save(&pr).await?;
        }
        Ok(self.render(&pr))
    }

    /// A stored pull request with everything Foreman recorded (comments, how it was merged).
    ///
    /// # Errors
    /// As [`LocalHost::close_pr`].
    pub async fn record(&self, number: i64) -> HostResult<LocalPr> {
        self.load(number).await
    }

    /// Every comment of a local pull request.
    ///
    /// # Errors
    /// As [`LocalHost::close_pr`].
    pub async fn comments(&self, number: i64) -> HostResult<Vec<LocalComment>> {
        Ok(self.load(number).await?.comments)
    }

    /// Refreshes an open pull request from the remote (read afresh when `fresh`). A cached
    /// read of the remote may predate the pull request's last push (its branch missing, or an
    /// older head): a new state or head that a cached read suggests is confirmed on a fresh
    /// read before it is believed, so only unchanged pull requests are served from the cache.
    async fn refresh(&self, pr: LocalPr, fresh: bool) -> HostResult<LocalPr> {
        if pr.state != PrState::Open {
            return Ok(pr);
        }
        let asked = Instant::now();
        let view = self.remote(fresh).await?;
        let (mut next, mut changed) = self.judge(&pr, &view).await?;
        let moved = next.state != pr.state || next.head_sha != pr.head_sha;
        if moved && view.read_at < asked {
            let view = self.remote(true).await?;
            (next, changed) = self.judge(&pr, &view).await?;
        }
        if changed {
            self.save(&next).await?;
        }
        Ok(next)
    }

    /// The pull request as `view` shows it, and whether that differs from what is recorded.
    async fn judge(&self, pr: &LocalPr, view: &RemoteView) -> HostResult<(LocalPr, bool)> {
        let mut pr = pr.clone();
        let head = view.heads.get(&pr.request.head).cloned();
        let base = view.heads.get(&pr.request.base).cloned();
        let merged_sha = head.clone().unwrap_or_else(|| pr.head_sha.clone());
        let merged = match &base {
            None => false,
            // the same two commits as last time: still not merged
            Some(b) if merged_sha == pr.head_sha && pr.unmerged_base.as_ref() == Some(b) => false,
            Some(b) => self.repo.is_ancestor(&merged_sha, b).await?,
        };
        let new_state = if merged {
            PrState::Merged
        } else if head.is_none() {
            PrState::Closed
        } else {
            PrState::Open
        };
        let unmerged_base = if merged { None } else { base };
        let changed = new_state != pr.state
            || head.as_ref().is_some_and(|h| *h != pr.head_sha)
            || unmerged_base != pr.unmerged_base;
        if let Some(h) = head {
            pr.head_sha = h;
        }
        pr.state = new_state;
        pr.unmerged_base = unmerged_base;
        Ok((pr, changed))
    }
}

#[async_trait]
impl GitHost for LocalHost {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn create_pr(&self, new: &NewPullRequest) -> HostResult<PullRequest> {
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
        let _guard = self.lock.lock().await;
        if let Some(existing) = self
            .find_pr(&new.head)
            .await?
            .filter(|p| p.state == PrState::Open)
        {
            return Ok(existing);
        }
        let Some(head_sha) = self.repo.remote_branch_head(&new.head).await? else {
            return Err(HostError::Remote(RemoteError::NotFound {
                service: "local",
                what: format!("branch {} on the remote (push it first)", new.head),
            }));
        };
        let next_key = self.key("next");
        let number = match self.settings.get_setting(&next_key).await? {
            Some(n) => n.parse::<i64>().map_err(|e| {
                HostError::Store(foreman_domain::StoreError::corrupt(next_key.clone(), e))
            })?,
            None => 1,
        };
        self.settings
            .put_setting(&next_key, &(number + 1).to_string())
            .await?;
        let pr = LocalPr {
            number,
            request: new.clone(),
            head_sha,
            state: PrState::Open,
            comments: Vec::new(),
            created_at: foreman_domain::now(),
            merge_commit: None,
            merge_method: None,
            unmerged_base: None,
        };
        self.save(&pr).await?;
        self.note_branch(&new.head, &pr.head_sha).await;
        tracing::info!(project = %self.project(), number, head = %new.head, "local pull request recorded");
        Ok(self.render(&pr))
    }

    async fn find_pr(&self, head: &str) -> HostResult<Option<PullRequest>> {
        let Some(raw) = self
            .settings
            .get_setting(&self.key(&format!("head/{head}")))
            .await?
        else {
            return Ok(None);
        };
        let number = raw.parse::<i64>().map_err(|e| {
            HostError::Store(foreman_domain::StoreError::corrupt(
                "local pull request head",
                e,
            ))
        })?;
        let pr = self.refresh(self.load(number).await?, false).await?;
        Ok(Some(self.render(&pr)))
    }

    async fn get_pr(&self, number: i64) -> HostResult<PullRequest> {
        let pr = self.refresh(self.load(number).await?, false).await?;
        Ok(self.render(&pr))
    }

    async fn comment_pr(&self, number: i64, body: &str) -> HostResult<()> {
        if body.trim().is_empty() {
            return Err(HostError::Invalid("empty comment".to_owned()));
        }
        let _guard = self.lock.lock().await;
        let mut pr = self.load(number).await?;
        pr.comments.push(LocalComment {
            body: body.to_owned(),
            created_at: foreman_domain::now(),
        });
        self.save(&pr).await
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
        let _guard = self.lock.lock().await;
        let mut pr = self.refresh(self.load(number).await?, true).await?;
        HostError::unless_open("local", &format!("pull request #{number}"), pr.state)?;
        title.clone_into(&mut pr.request.title);
        body.clone_into(&mut pr.request.body);
        pr.request.draft = draft;
        self.save(&pr).await?;
        Ok(self.render(&pr))
    }

    async fn merge_pr(&self, number: i64, method: MergeMethod) -> HostResult<PullRequest> {
        // one merge (or record change) at a time: a second concurrent call waits, then finds
        // the pull request merged
        let _guard = self.lock.lock().await;
        let mut pr = self.refresh(self.load(number).await?, true).await?;
        match pr.state {
            PrState::Merged => return Ok(self.render(&pr)),
            PrState::Closed => {
                return Err(HostError::Remote(RemoteError::Status {
                    service: "local",
                    status: 405,
                    message: format!(
                        "pull request #{number} is closed without merging; it cannot be merged"
                    ),
                }));
            }
            PrState::Open => {}
        }
        if pr.request.draft {
            return Err(HostError::Invalid(format!(
                "pull request #{number} is a draft; mark it ready for review before merging"
            )));
        }
        let message = match method {
            MergeMethod::Squash => format!("{} (#{number})", pr.request.title),
            MergeMethod::Merge | MergeMethod::Rebase => format!(
                "Merge pull request #{number} from {}\n\n{}",
                pr.request.head, pr.request.title
            ),
        };
        let commit = self
            .repo
            .merge_branch_into(&pr.request.head, &pr.request.base, &message, method)
            .await
            .map_err(|e| match e {
                GitError::Conflict { files, base, .. } => {
                    HostError::Remote(RemoteError::Conflict {
                        service: "local",
                        message: format!(
                            "merge conflict: pull request #{number} conflicts with {base} in {}",
                            files.join(", ")
                        ),
                    })
                }
                GitError::NotFound { what } => HostError::Remote(RemoteError::NotFound {
                    service: "local",
                    what,
                }),
                e => HostError::Git(e),
            })?;
        pr.state = PrState::Merged;
        pr.merge_commit = Some(commit.clone());
        pr.merge_method = Some(method);
        pr.unmerged_base = None;
        self.save(&pr).await?;
        // the base branch moved: the next read looks again
        *self.view.lock().await = None;
        tracing::info!(project = %self.project(), number, method = %method, commit = %commit, "local pull request merged");
        Ok(self.render(&pr))
    }

    async fn check(&self) -> HostResult<()> {
        self.settings.get_setting(&self.key("next")).await?;
        self.repo.check().await?;
        Ok(())
    }
}
