//! Git ports: the working copy of a repository ([`GitRepo`]) and the host that holds its pull
//! requests ([`GitHost`]: open, find, read, comment, merge with a [`MergeMethod`]), with the
//! names, outcomes and errors they speak in.
//!
//! Everything here is pure: the adapters in `foreman-git` run the real `git` binary and talk to
//! GitHub or GitLab; the pipeline only sees these traits.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::TicketId;

/// Set to `1` in the environment of every process Foreman starts (git, test commands, agents),
/// so a resumed run can tell the orphans of a dead run apart from anyone else's processes.
pub const CHILD_MARKER_ENV: &str = "FOREMAN_CHILD";

/// Longest slug kept in a ticket branch name (characters).
pub const MAX_SLUG_LEN: usize = 40;

/// Longest branch name produced by [`ticket_branch_name`].
pub const MAX_BRANCH_LEN: usize = 120;

/// The ticket branch for a ticket: `<prefix>/<EXTERNAL-ID>-<slug>`.
///
/// The prefix gets a `/` appended unless it is empty or already ends in `/` or `-`. Every part
/// is sanitised to `[A-Za-z0-9_-]` (the slug is lowercased), so the result is always a valid
/// branch name that cannot climb out of a directory when used as a path: no `..`, no leading
/// `-` or `/`, no empty components, at most [`MAX_BRANCH_LEN`] bytes.
#[must_use]
pub fn ticket_branch_name(prefix: &str, external_id: &str, title: &str) -> String {
    let prefix: Vec<String> = prefix
        .split('/')
        .map(|c| sanitise(c, false))
        .filter(|c| !c.is_empty())
        .collect();
    let mut out = prefix.join("/");
    // the prefix keeps a trailing `-` of its own; anything else gets a `/`
    if !out.is_empty() && !out.ends_with('-') {
        out.push('/');
    }
    let id = sanitise(external_id, false);
    let mut slug = sanitise(title, true);
    if slug.len() > MAX_SLUG_LEN {
        slug.truncate(MAX_SLUG_LEN);
        if let Some(cut) = slug.rfind('-').filter(|&i| i >= MAX_SLUG_LEN / 2) {
            slug.truncate(cut);
        }
        slug = slug.trim_end_matches('-').to_owned();
    }
    let tail = match (id.is_empty(), slug.is_empty()) {
        (false, false) => format!("{id}-{slug}"),
        (false, true) => id,
        (true, false) => slug,
        (true, true) => "ticket".to_owned(),
    };
    out.push_str(&tail);
    finish_ref(out)
}

/// The branch of a task: the ticket branch with `--task-<sequence>` appended (a sibling, not a
/// child, so the two refs never clash as file and directory).
#[must_use]
pub fn task_branch_name(ticket_branch: &str, sequence: i32) -> String {
    format!("{ticket_branch}--task-{sequence}")
}

/// Makes `s` safe as one path component or branch component: `[A-Za-z0-9_-]` only (runs of
/// anything else become one `-`), no leading or trailing `-`. With `lower`, ASCII letters are
/// lowercased. May return an empty string.
#[must_use]
pub fn sanitise(s: &str, lower: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(if lower { c.to_ascii_lowercase() } else { c });
        } else {
            dash = true;
        }
    }
    // keep a trailing dash only when the input ended with a literal '-' (prefix style `foreman-`)
    if dash && !out.is_empty() && s.ends_with('-') {
        out.push('-');
    }
    out
}

fn finish_ref(mut s: String) -> String {
    if s.len() > MAX_BRANCH_LEN {
        s.truncate(MAX_BRANCH_LEN);
    }
    while s.ends_with(['-', '/']) {
        s.pop();
    }
    let s = s.trim_start_matches(['-', '/']).to_owned();
    if s.is_empty() { "ticket".to_owned() } else { s }
}

/// Whether `name` is a branch name Foreman would produce or accept for a worktree: non-empty,
/// at most [`MAX_BRANCH_LEN`] bytes, components of `[A-Za-z0-9._-]` that do not start with `.`
/// or `-` and do not end in `.lock`, and no `..`.
#[must_use]
pub fn is_safe_branch_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_BRANCH_LEN
        && !name.contains("..")
        && name.split('/').all(|c| {
            !c.is_empty()
                && !c.starts_with(['.', '-'])
                && !c.ends_with(".lock")
                && !c.ends_with('.')
                && c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
        })
}

/// A git failure callers can branch on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// The `git` binary could not be started.
    #[error("git binary not available: {detail}")]
    NotInstalled {
        /// What went wrong starting it.
        detail: String,
    },
    /// A git command ran longer than its timeout and was killed.
    #[error("git {command} timed out after {after:?}")]
    Timeout {
        /// The subcommand and its arguments.
        command: String,
        /// The timeout.
        after: Duration,
    },
    /// A git command exited with an error.
    #[error("git {command} failed (exit {status:?}): {stderr}")]
    Failed {
        /// The subcommand and its arguments.
        command: String,
        /// Exit code, if it exited.
        status: Option<i32>,
        /// What git printed on stderr (trimmed, capped).
        stderr: String,
    },
    /// The remote could not be reached or does not exist.
    #[error("remote {remote} unreachable: {stderr}")]
    RemoteUnreachable {
        /// The remote URL or name.
        remote: String,
        /// What git printed.
        stderr: String,
    },
    /// The remote refused the credentials.
    #[error("authentication to the remote failed: {stderr}")]
    AuthFailed {
        /// What git printed.
        stderr: String,
    },
    /// A `--force-with-lease` push found the remote branch somewhere else than expected.
    #[error("push of {branch} rejected: the remote branch moved (stale lease): {stderr}")]
    StaleLease {
        /// The branch.
        branch: String,
        /// What git printed.
        stderr: String,
    },
    /// The remote rejected a push for another reason (hook, protection, non-fast-forward).
    #[error("push of {branch} rejected: {stderr}")]
    PushRejected {
        /// The branch.
        branch: String,
        /// What git printed.
        stderr: String,
    },
    /// The repository's worktrees would exceed its disk quota.
    #[error("disk quota exceeded: {used_bytes} bytes used of {quota_bytes}")]
    QuotaExceeded {
        /// Bytes in use now.
        used_bytes: u64,
        /// The quota.
        quota_bytes: u64,
    },
    /// A branch, ref or worktree does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// Merging one branch into another stopped on conflicting changes; the merge was aborted
    /// and nothing was pushed. ([`GitRepo::merge`] instead leaves a conflict in its worktree,
    /// to be resolved.)
    #[error("merging {head} into {base} conflicts in {}", files.join(", "))]
    Conflict {
        /// The branch being merged.
        head: String,
        /// The branch it was merged into.
        base: String,
        /// The conflicted paths.
        files: Vec<String>,
    },
    /// The caller passed something unusable (unsafe branch name, path outside the work dir).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// File system trouble around git (creating directories, reading conflicted files).
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Something other than Foreman changed the repository's administrative files (its config,
    /// a worktree's `.git` pointer or admin dir, hooks): git is not run on it.
    #[error("refusing to run git: {what} was changed outside foreman: {detail}")]
    Tampered {
        /// What changed (`repository config`, `worktree .git pointer`, `hooks`, ...).
        what: String,
        /// How it differs from what Foreman wrote.
        detail: String,
    },
    /// A commit would have included paths the commit policy forbids (secret files, files the
    /// plan did not declare); nothing was committed and the paths were unstaged.
    #[error("commit refused: {}", violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    CommitRefused {
        /// One entry per offending path.
        violations: Vec<crate::commit_policy::Violation>,
    },
}

impl GitError {
    /// A transport-neutral code for APIs, events and logs.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotInstalled { .. } => "git_not_installed",
            Self::Timeout { .. } => "timeout",
            Self::Failed { .. } => "git_failed",
            Self::RemoteUnreachable { .. } => "remote_unreachable",
            Self::AuthFailed { .. } => "auth_failed",
            Self::StaleLease { .. } => "stale_lease",
            Self::PushRejected { .. } => "push_rejected",
            Self::QuotaExceeded { .. } => "disk_quota_exceeded",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "merge_conflict",
            Self::Invalid(_) => "invalid",
            Self::Io { .. } => "io",
            Self::Tampered { .. } => "tampered",
            Self::CommitRefused { .. } => "commit_refused",
        }
    }
}

/// Result alias for [`GitRepo`].
pub type GitResult<T> = Result<T, GitError>;

/// A checked-out worktree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worktree {
    /// Absolute path, always inside the work dir.
    pub path: PathBuf,
    /// The branch checked out in it.
    pub branch: String,
    /// The commit it was at when opened.
    pub head: String,
}

/// A worktree to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeSpec {
    /// The ticket it belongs to (names its directory, and lets hygiene find its owner).
    pub ticket_id: TicketId,
    /// Its name within the ticket: `ticket` for the integration worktree, `task-3`, ...
    pub name: String,
    /// The branch to check out; created from `start_point` when it does not exist yet.
    pub branch: String,
    /// Where a new branch starts (`origin/main`, the ticket branch, a SHA).
    pub start_point: String,
}

/// What to diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffSpec {
    /// The worktree (including untracked files) against its `HEAD`.
    WorkingTree,
    /// `head` against its merge base with `base` (what a pull request shows).
    Range {
        /// The base ref.
        base: String,
        /// The head ref.
        head: String,
    },
    /// The worktree (including untracked files) against the merge base of `base` and its
    /// `HEAD`: what the branch committed since it left `base` and what it has not committed
    /// yet, as one diff.
    Since {
        /// The base ref.
        base: String,
    },
}

/// A unified diff, capped in size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    /// The diff text (the first bytes when truncated, cut at a line end, with a note).
    pub text: String,
    /// Whether `text` was cut.
    pub truncated: bool,
    /// The size of the full diff in bytes.
    pub total_bytes: u64,
}

/// Per-file line counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// Path relative to the repository root (the new path for renames).
    pub path: String,
    /// Lines added (`None` for binary files).
    pub insertions: Option<u64>,
    /// Lines removed (`None` for binary files).
    pub deletions: Option<u64>,
}

/// A diff's size.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DiffStat {
    /// Per file.
    pub files: Vec<FileStat>,
    /// Total lines added.
    pub insertions: u64,
    /// Total lines removed.
    pub deletions: u64,
}

/// A file left conflicted by a merge or rebase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictFile {
    /// Path relative to the worktree.
    pub path: String,
    /// The file as left in the worktree, with its `<<<<<<<`/`=======`/`>>>>>>>` markers
    /// (`None` when deleted on one side or not valid UTF-8).
    pub content: Option<String>,
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MergeOutcome {
    /// Merged (or already contained); the new `HEAD`.
    Merged {
        /// The resulting commit.
        head: String,
    },
    /// The merge stopped with conflicts; it is still in progress in the worktree. Resolve and
    /// call [`GitRepo::conclude_merge`], or call [`GitRepo::abort_merge`].
    Conflicts {
        /// The conflicted files.
        files: Vec<ConflictFile>,
    },
}

/// What a rebase did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RebaseOutcome {
    /// Rebased; the new `HEAD`.
    Rebased {
        /// The resulting commit.
        head: String,
    },
    /// The rebase stopped with conflicts; it is still in progress. Resolve and call
    /// [`GitRepo::continue_rebase`], or give up with [`GitRepo::abort_rebase`].
    Conflicts {
        /// The commit being replayed when it stopped.
        stopped_at: Option<String>,
        /// The conflicted files.
        files: Vec<ConflictFile>,
    },
}

/// What a `--force-with-lease` push expects of the remote branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// Where the last fetch saw it (absent if it never did).
    Tracking,
    /// Exactly this commit.
    Expect(String),
    /// It must not exist yet.
    Absent,
}

/// What `git` and the remote look like, for `foreman doctor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitHealth {
    /// `git --version` output, e.g. `2.47.3`.
    pub version: String,
    /// The remote's default branch head, as `ls-remote` reported it.
    pub remote_head: Option<String>,
}

/// A repository's working copies: one cached clone per repository, a worktree per ticket and
/// task, and the commits, diffs, merges, rebases and pushes between them.
///
/// Worktree paths are chosen by the adapter and always lie inside its work dir; methods that
/// take a worktree refuse paths outside it.
#[async_trait]
pub trait GitRepo: Send + Sync {
    /// The branch pull requests target.
    fn default_branch(&self) -> &str;

    /// Clones the repository on first use, then fetches every branch.
    async fn sync(&self) -> GitResult<()>;

    /// Like [`GitRepo::sync`], but fetches only the default branch: enough to start from it or
    /// rebase onto it, and much cheaper than fetching every branch of a busy remote.
    async fn sync_default(&self) -> GitResult<()>;

    /// Like [`GitRepo::sync_default`], and also fetches `branch` and every branch named after
    /// it (a ticket branch and its task branches), so that work checkpointed on the remote by
    /// another node is known here.
    async fn sync_branch(&self, branch: &str) -> GitResult<()>;

    /// Opens a worktree, creating its branch from `spec.start_point` when new. Opening one that
    /// exists returns it as it is (so a resumed ticket keeps its work). Fails with
    /// [`GitError::QuotaExceeded`] when the repository is over its disk quota.
    async fn add_worktree(&self, spec: &WorktreeSpec) -> GitResult<Worktree>;

    /// Removes a worktree and, with `delete_branch`, its local branch. Missing ones are fine.
    async fn remove_worktree(&self, worktree: &Worktree, delete_branch: bool) -> GitResult<()>;

    /// Makes a worktree an interrupted run left behind fit to work in again: kills the processes
    /// that run still has working in it, gives up a rebase, merge or cherry-pick in progress,
    /// drops a stale `index.lock` and discards uncommitted changes, so the worktree is exactly
    /// its branch's last commit. Returns what was repaired (empty when it was clean).
    async fn recover_worktree(&self, worktree: &Worktree) -> GitResult<Vec<String>>;

    /// Every worktree of a ticket.
    async fn ticket_worktrees(&self, ticket_id: &TicketId) -> GitResult<Vec<Worktree>>;

    /// Checks `branch` out in an existing, clean worktree (see
    /// [`GitRepo::recover_worktree`]) and returns the worktree on it. With `start_point` the
    /// branch is created there, or reset to it when it exists (`git checkout -B`); without, a
    /// branch known only from the remote (checkpointed by another node, fetched with
    /// [`GitRepo::sync_branch`]) is created from it. Switching a worktree is much cheaper than
    /// adding one.
    async fn switch_branch(
        &self,
        worktree: &Worktree,
        branch: &str,
        start_point: Option<&str>,
    ) -> GitResult<Worktree>;

    /// The commit checked out in a worktree.
    async fn head(&self, worktree: &Worktree) -> GitResult<String>;

    /// Stages everything and commits with the configured author; `None` when nothing changed.
    async fn commit_all(&self, worktree: &Worktree, message: &str) -> GitResult<Option<String>>;

    /// A unified diff, capped at the adapter's limit.
    async fn diff(&self, worktree: &Worktree, spec: &DiffSpec) -> GitResult<Diff>;

    /// Line counts per file.
    async fn diff_stat(&self, worktree: &Worktree, spec: &DiffSpec) -> GitResult<DiffStat>;

    /// Merges `branch` into the worktree's branch: a fast-forward when the worktree's branch
    /// has no commits of its own, else a merge commit.
    async fn merge(
        &self,
        worktree: &Worktree,
        branch: &str,
        message: &str,
    ) -> GitResult<MergeOutcome>;

    /// Commits a merge whose conflicts were resolved in the worktree.
    async fn conclude_merge(&self, worktree: &Worktree) -> GitResult<String>;

    /// Gives up a merge in progress.
    async fn abort_merge(&self, worktree: &Worktree) -> GitResult<()>;

    /// Rebases the worktree's branch onto `onto` (e.g. `origin/main` after [`GitRepo::sync`]).
    /// A branch that already contains `onto` is left as it is, merge commits included (a
    /// rebase would flatten them and meet their resolved conflicts again).
    async fn rebase(&self, worktree: &Worktree, onto: &str) -> GitResult<RebaseOutcome>;

    /// Continues a rebase whose conflicts were resolved in the worktree.
    async fn continue_rebase(&self, worktree: &Worktree) -> GitResult<RebaseOutcome>;

    /// Gives up a rebase in progress (`git rebase --abort`).
    async fn abort_rebase(&self, worktree: &Worktree) -> GitResult<()>;

    /// Pushes a local branch to the remote with `--force-with-lease`.
    async fn push(&self, branch: &str, lease: &Lease) -> GitResult<()>;

    /// Deletes a local branch (a missing one is fine).
    async fn delete_branch(&self, branch: &str) -> GitResult<()>;

    /// Checks that git runs and the remote answers.
    async fn check(&self) -> GitResult<GitHealth>;

    /// The commit the default branch was at when it was last fetched (the remote-tracking
    /// ref, never a worktree's), `None` before the first fetch. Reads nothing from the remote.
    /// The default answers `None`: an adapter without committed files to read has none.
    async fn default_branch_commit(&self) -> GitResult<Option<String>> {
        Ok(None)
    }

    /// The files named `file_name` anywhere under `dir` as committed at `commit` (paths
    /// relative to the repository's root, in path order), at most [`MAX_COMMITTED_FILES`] of
    /// them. A file larger than `max_bytes` comes back cut to `max_bytes + 1` bytes, so the
    /// caller can tell it is too large without reading all of it. A missing `dir` is an empty
    /// list. The default answers an empty list.
    async fn files_at(
        &self,
        commit: &str,
        dir: &str,
        file_name: &str,
        max_bytes: usize,
    ) -> GitResult<Vec<(String, Vec<u8>)>> {
        let _ = (commit, dir, file_name, max_bytes);
        Ok(Vec::new())
    }
}

/// The most files [`GitRepo::files_at`] returns.
pub const MAX_COMMITTED_FILES: usize = 200;

/// Where a pull request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrState {
    /// Open (drafts included).
    Open,
    /// Merged.
    Merged,
    /// Closed without merging.
    Closed,
}

impl PrState {
    /// The wire string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Merged => "merged",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for PrState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The combined result of a pull request's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksStatus {
    /// No checks reported.
    None,
    /// Some still running.
    Pending,
    /// All passed.
    Success,
    /// At least one failed.
    Failure,
}

impl ChecksStatus {
    /// Combines individual check results: any failure wins, then anything pending.
    #[must_use]
    pub fn combine(items: impl IntoIterator<Item = Self>) -> Self {
        let mut out = Self::None;
        for s in items {
            out = match (out, s) {
                (Self::Failure, _) | (_, Self::Failure) => Self::Failure,
                (Self::Pending, _) | (_, Self::Pending) => Self::Pending,
                (Self::Success, _) | (_, Self::Success) => Self::Success,
                (Self::None, Self::None) => Self::None,
            };
        }
        out
    }
}

/// How [`GitHost::merge_pr`] brings a pull request's changes into its base branch.
///
/// The three methods GitHub offers; GitLab and the `local` host document how they map them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeMethod {
    /// A merge commit with both histories as parents (`git merge --no-ff`).
    #[default]
    Merge,
    /// One new commit on the base with the whole change (`git merge --squash`).
    Squash,
    /// The head's commits replayed onto the base, which fast-forwards to them (no merge
    /// commit).
    Rebase,
}

impl MergeMethod {
    /// The wire string (`merge`, `squash`, `rebase`), as GitHub's `merge_method` spells it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Squash => "squash",
            Self::Rebase => "rebase",
        }
    }
}

impl fmt::Display for MergeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MergeMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "merge" => Ok(Self::Merge),
            "squash" => Ok(Self::Squash),
            "rebase" => Ok(Self::Rebase),
            other => Err(format!(
                "unknown merge method {other:?} (expected merge, squash or rebase)"
            )),
        }
    }
}

/// A pull request to open.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewPullRequest {
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: String,
    /// The branch with the changes.
    pub head: String,
    /// The branch to merge into.
    pub base: String,
    /// Open as a draft.
    pub draft: bool,
    /// Labels to add.
    pub labels: Vec<String>,
    /// Reviewers to request (user names).
    pub reviewers: Vec<String>,
}

/// A pull request (GitLab: merge request) as the host reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// The host's number (`#12`, `!12`).
    pub number: i64,
    /// Where people see it.
    pub url: String,
    /// Title.
    pub title: String,
    /// Head branch.
    pub head: String,
    /// Base branch.
    pub base: String,
    /// The head commit.
    pub head_sha: String,
    /// Open, merged or closed.
    pub state: PrState,
    /// Whether it is a draft.
    pub draft: bool,
    /// Combined checks.
    pub checks: ChecksStatus,
}

/// A git host failure callers can branch on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The host's API refused or failed the request (HTTP status, rate limit, transport,
    /// decoding), the same variants a tracker reports.
    #[error(transparent)]
    Remote(crate::remote::RemoteError),
    /// The caller passed something unusable.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A git operation behind the host failed (the `local` host pushes and inspects refs).
    #[error(transparent)]
    Git(#[from] GitError),
    /// Storage behind the host failed (the `local` host keeps its records in the database).
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

impl HostError {
    /// Refuses to update a pull request that is no longer open: a 409 naming its state, the
    /// same from every host. `what` names it the host's way (`pull request #4`, `merge
    /// request !4`).
    ///
    /// # Errors
    /// [`RemoteError::Conflict`](crate::remote::RemoteError::Conflict) unless `state` is
    /// [`PrState::Open`].
    pub fn unless_open(service: &'static str, what: &str, state: PrState) -> HostResult<()> {
        if state == PrState::Open {
            Ok(())
        } else {
            Err(Self::Remote(crate::remote::RemoteError::Conflict {
                service,
                message: format!("{what} is {state}"),
            }))
        }
    }

    /// A transport-neutral code for APIs, events and logs.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Remote(e) => e.code(),
            Self::Invalid(_) => "invalid",
            Self::Git(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

impl From<crate::remote::RemoteError> for HostError {
    /// Wraps a remote failure; a request that could not even be built is the caller's
    /// [`HostError::Invalid`].
    fn from(e: crate::remote::RemoteError) -> Self {
        match e {
            crate::remote::RemoteError::Invalid { message, .. } => Self::Invalid(message),
            e => Self::Remote(e),
        }
    }
}

/// Result alias for [`GitHost`].
pub type HostResult<T> = Result<T, HostError>;

/// Where pull requests live: GitHub, GitLab, or Foreman's own database (`local`).
#[async_trait]
pub trait GitHost: Send + Sync {
    /// The adapter's name (`github`, `gitlab`, `local`).
    fn name(&self) -> &'static str;

    /// Opens a pull request, or returns the open one that already exists for `new.head` (so a
    /// crash between creating it and recording it does not open a second one).
    async fn create_pr(&self, new: &NewPullRequest) -> HostResult<PullRequest>;

    /// The most recent pull request (open first, then any) whose head is `head`.
    async fn find_pr(&self, head: &str) -> HostResult<Option<PullRequest>>;

    /// A pull request by number, with its state, head commit and checks.
    async fn get_pr(&self, number: i64) -> HostResult<PullRequest>;

    /// Posts a comment on a pull request.
    async fn comment_pr(&self, number: i64, body: &str) -> HostResult<()>;

    /// Merges an open pull request into its base branch with `method` and returns it as the
    /// host reports it afterwards (state [`PrState::Merged`]).
    ///
    /// The adapter reads the pull request first; GitHub and GitLab are sent the head commit it
    /// saw as `sha`, so a push that races the merge is refused rather than merged unseen.
    ///
    /// Idempotent: a pull request that is already merged is returned unchanged, so the
    /// pipeline may retry after a crash or a lost answer; two concurrent calls for one pull
    /// request merge it once.
    ///
    /// # Errors
    /// - [`RemoteError::NotFound`](crate::remote::RemoteError::NotFound) for an unknown number;
    /// - [`HostError::Invalid`] for a draft (mark it ready first), or a method the host cannot
    ///   apply per request (GitLab and [`MergeMethod::Rebase`]);
    /// - [`RemoteError::Status`](crate::remote::RemoteError::Status) for a pull request closed
    ///   without merging (status 405), a merge conflict (the message says `merge conflict`;
    ///   GitHub 405, GitLab 406), or anything else the host refuses (branch protection,
    ///   required checks or approvals: 405/422);
    /// - [`RemoteError::Conflict`](crate::remote::RemoteError::Conflict) (409) for a head that
    ///   moved since it was read, and for `local`'s merge conflicts (naming the files);
    /// - transport, credential and rate-limit failures as for every other call.
    async fn merge_pr(&self, number: i64, method: MergeMethod) -> HostResult<PullRequest>;

    /// Updates an open pull request's title, body and draft flag (a retried partial ticket
    /// whose tasks are now all done turns its draft into a ready pull request).
    ///
    /// # Errors
    /// [`HostError::Invalid`] from hosts that do not support it (the default).
    async fn update_pr(
        &self,
        number: i64,
        title: &str,
        body: &str,
        draft: bool,
    ) -> HostResult<PullRequest> {
        let _ = (title, body, draft);
        Err(HostError::Invalid(format!(
            "the {} host cannot update pull request #{number}",
            self.name()
        )))
    }

    /// Checks that the host answers and accepts the credentials.
    async fn check(&self) -> HostResult<()>;
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn branch_names_follow_the_contract_example() {
        assert_eq!(
            ticket_branch_name("foreman", "PROJ-123", "Add auth"),
            "foreman/PROJ-123-add-auth"
        );
        assert_eq!(
            ticket_branch_name("foreman/", "#42", "Fix: the **bug**!"),
            "foreman/42-fix-the-bug"
        );
        assert_eq!(ticket_branch_name("fm-", "ENG-7", "x"), "fm-ENG-7-x");
        assert_eq!(ticket_branch_name("", "", ""), "ticket");
        assert_eq!(ticket_branch_name("../../etc", "../x", "..//.."), "etc/x");
    }

    #[test]
    fn long_titles_are_cut_at_a_word() {
        let b = ticket_branch_name(
            "foreman",
            "A-1",
            "implement the extremely long and detailed feature request from marketing",
        );
        assert_eq!(b, "foreman/A-1-implement-the-extremely-long-and");
        assert!(b.len() <= "foreman/A-1-".len() + MAX_SLUG_LEN);
    }

    #[test]
    fn task_branches_are_siblings() {
        assert_eq!(
            task_branch_name("foreman/A-1-x", 3),
            "foreman/A-1-x--task-3"
        );
        assert!(is_safe_branch_name(&task_branch_name("foreman/A-1-x", 3)));
    }

    #[test]
    fn unsafe_branch_names_are_refused() {
        for bad in [
            "", "a..b", "-x", "a/.b", "a//b", "a/", "x.lock", "a b", "a~1", "a:b",
        ] {
            assert!(!is_safe_branch_name(bad), "{bad:?}");
        }
        assert!(is_safe_branch_name("release/1.2"));
    }

    #[test]
    fn checks_combine() {
        use ChecksStatus::*;
        assert_eq!(ChecksStatus::combine([]), None);
        assert_eq!(ChecksStatus::combine([Success, Success]), Success);
        assert_eq!(ChecksStatus::combine([Success, Pending]), Pending);
        assert_eq!(ChecksStatus::combine([Pending, Failure, Success]), Failure);
    }

    #[test]
    fn merge_methods_round_trip() {
        assert_eq!(MergeMethod::default(), MergeMethod::Merge);
        for m in [MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase] {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(serde_json::from_str::<MergeMethod>(&json).unwrap(), m);
            assert_eq!(m.to_string().parse::<MergeMethod>().unwrap(), m);
        }
        assert!(serde_json::from_str::<MergeMethod>("\"fast_forward\"").is_err());
        let err = "Squash".parse::<MergeMethod>().unwrap_err();
        assert!(err.contains("merge, squash or rebase"), "{err}");
    }

    #[test]
    fn conflicts_name_the_files() {
        let e = GitError::Conflict {
            head: "foreman/A-1".into(),
            base: "main".into(),
            files: vec!["a.txt".into(), "b.txt".into()],
        };
        assert_eq!(e.code(), "merge_conflict");
        assert_eq!(
            e.to_string(),
            "merging foreman/A-1 into main conflicts in a.txt, b.txt"
        );
    }

    proptest! {
        #[test]
        fn any_input_gives_a_safe_branch(prefix in ".{0,30}", id in ".{0,30}", title in ".{0,200}") {
            let b = ticket_branch_name(&prefix, &id, &title);
            prop_assert!(is_safe_branch_name(&b), "{b:?}");
            prop_assert!(!b.contains(".."));
        }

        #[test]
        fn sanitise_keeps_only_safe_characters(s in ".{0,100}") {
            let out = sanitise(&s, true);
            prop_assert!(out.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'));
            prop_assert!(!out.starts_with('-'));
        }
    }
}
