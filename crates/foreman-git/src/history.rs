//! What tickets changed, read from each project's cached clone: the
//! [`foreman_domain::checkpoint::DiffSource`] and [`foreman_domain::checkpoint::BranchRewind`]
//! ports over [`GitRepository`], for the API (`GET /api/tickets/{id}/diff`, rollback).
//!
//! Diffs are read from the clone's refs: a ticket branch as this node has it (`refs/heads`),
//! else as last fetched from the remote (`refs/remotes/origin`), against its merge base with
//! the remote's default branch. Nothing here touches a worktree.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use foreman_domain::checkpoint::{BranchRewind, DiffSource};
use foreman_domain::git::{Diff, GitError, GitRepo, GitResult, Lease, is_safe_branch_name};

use crate::repo::GitRepository;

/// Every project's repository, by project name.
#[derive(Debug, Default, Clone)]
pub struct ProjectHistory {
    repos: BTreeMap<String, Arc<GitRepository>>,
}

fn is_commit_id(s: &str) -> bool {
    (4..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn invalid(what: &str, value: &str) -> GitError {
    GitError::Invalid(format!("{what} {value:?} is not valid"))
}

impl ProjectHistory {
    /// No projects.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a project's repository.
    #[must_use]
    pub fn with_repo(mut self, project: impl Into<String>, repo: Arc<GitRepository>) -> Self {
        self.repos.insert(project.into(), repo);
        self
    }

    fn repo(&self, project: &str) -> GitResult<&GitRepository> {
        self.repos
            .get(project)
            .map(Arc::as_ref)
            .ok_or_else(|| GitError::NotFound {
                what: format!("project {project}"),
            })
    }
}

/// The commit `rev` names in the clone, if any.
async fn resolve(repo: &GitRepository, rev: &str) -> GitResult<Option<String>> {
    let spec = format!("{rev}^{{commit}}");
    let out = repo
        .in_clone(&["rev-parse", "--verify", "--quiet", &spec], 4096)
        .await?;
    Ok(out.success().then(|| out.stdout.trim().to_owned()))
}

/// The merge base of `a` and `b`, if they have one.
async fn merge_base(repo: &GitRepository, a: &str, b: &str) -> GitResult<Option<String>> {
    let out = repo.in_clone(&["merge-base", a, b], 4096).await?;
    Ok(out.success().then(|| out.stdout.trim().to_owned()))
}

/// `git diff base head`, capped at `max_bytes` (cut at a line end, with a note).
async fn capped_diff(
    repo: &GitRepository,
    base: &str,
    head: &str,
    max_bytes: usize,
) -> GitResult<Diff> {
    let args = [
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "-M",
        "--patch",
        base,
        head,
        "--",
    ];
    let out = repo.in_clone(&args, max_bytes).await?;
    if !out.success() {
        return Err(GitError::Invalid(format!(
            "cannot diff {base}..{head}: {}",
            out.stderr.trim()
        )));
    }
    Ok(crate::cmd::capped(out))
}

/// `head` against its merge base with the remote's default branch (the default branch itself
/// when they share none). Once `head` was merged, the default branch contains it and that base
/// is `head` itself: the base is then taken where the merge found the default branch (the
/// merge base of the merge commit's first parent and `head`), so a merged pull request still
/// shows what it changed.
async fn against_default(repo: &GitRepository, head: &str, max_bytes: usize) -> GitResult<Diff> {
    let default = format!("refs/remotes/origin/{}", repo.default_branch());
    let mut base = merge_base(repo, &default, head).await?;
    if base.as_deref() == Some(head)
        && let Some(merge) = merged_by(repo, head, &default).await?
    {
        base = merge_base(repo, &format!("{merge}^1"), head)
            .await?
            .or(base);
    }
    capped_diff(repo, &base.unwrap_or(default), head, max_bytes).await
}

/// The merge commit that brought `head` into `into`: the first merge descending from `head`
/// that has it as a merged-in parent, else the first merge descending from it at all (`head`
/// came in through a branch merged later). `None` when no merge did (a fast-forward).
async fn merged_by(repo: &GitRepository, head: &str, into: &str) -> GitResult<Option<String>> {
    let range = format!("{head}..{into}");
    let out = repo
        .in_clone(
            &[
                "rev-list",
                "--merges",
                "--ancestry-path",
                "--reverse",
                "--parents",
                &range,
                "--",
            ],
            1 << 20,
        )
        .await?;
    if !out.success() {
        return Ok(None);
    }
    let merges: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|ids: &Vec<&str>| ids.len() > 2)
        .collect();
    let direct = merges.iter().find(|ids| ids[2..].contains(&head));
    Ok(direct
        .or_else(|| merges.first())
        .map(|ids| ids[0].to_owned()))
}

#[async_trait]
impl DiffSource for ProjectHistory {
    async fn branch_diff(&self, project: &str, branch: &str, max_bytes: usize) -> GitResult<Diff> {
        let repo = self.repo(project)?;
        if !is_safe_branch_name(branch) {
            return Err(invalid("branch", branch));
        }
        let mut head = None;
        for rev in [
            format!("refs/heads/{branch}"),
            format!("refs/remotes/origin/{branch}"),
        ] {
            if let Some(sha) = resolve(repo, &rev).await? {
                head = Some(sha);
                break;
            }
        }
        let head = head.ok_or_else(|| GitError::NotFound {
            what: format!("branch {branch}"),
        })?;
        against_default(repo, &head, max_bytes).await
    }

    async fn commit_diff(
        &self,
        project: &str,
        head: &str,
        after: Option<&str>,
        max_bytes: usize,
    ) -> GitResult<Diff> {
        let repo = self.repo(project)?;
        if !is_commit_id(head) {
            return Err(invalid("commit", head));
        }
        let head = resolve(repo, head)
            .await?
            .ok_or_else(|| GitError::NotFound {
                what: format!("commit {head}"),
            })?;
        if let Some(after) = after.filter(|a| is_commit_id(a))
            && after != head
        {
            let out = repo
                .in_clone(&["merge-base", "--is-ancestor", after, &head], 4096)
                .await?;
            if out.success() {
                return capped_diff(repo, after, &head, max_bytes).await;
            }
        }
        against_default(repo, &head, max_bytes).await
    }
}

#[async_trait]
impl BranchRewind for ProjectHistory {
    async fn rewind_branch(&self, project: &str, branch: &str, sha: &str) -> GitResult<()> {
        let repo = self.repo(project)?;
        if !is_safe_branch_name(branch) {
            return Err(invalid("branch", branch));
        }
        if !is_commit_id(sha) {
            return Err(invalid("commit", sha));
        }
        let target = resolve(repo, sha)
            .await?
            .ok_or_else(|| GitError::NotFound {
                what: format!("commit {sha}"),
            })?;
        // A worktree that has the branch checked out is left with changes against its new
        // head; the pipeline recovers a ticket's worktree (discarding them) before using it.
        let local = format!("refs/heads/{branch}");
        let out = repo
            .in_clone(
                &["update-ref", "-m", "foreman rollback", &local, &target],
                4096,
            )
            .await?;
        if !out.success() {
            return Err(GitError::Invalid(format!(
                "cannot move {branch}: {}",
                out.stderr.trim()
            )));
        }
        if resolve(repo, &format!("refs/remotes/origin/{branch}"))
            .await?
            .is_some()
        {
            repo.push(branch, &Lease::Tracking).await?;
        }
        tracing::info!(project, branch, sha = %target, "branch rewound");
        Ok(())
    }
}
