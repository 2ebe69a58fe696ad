//! Foreman's git layer.
//!
//! This crate owns everything Foreman does with git and git hosts:
//! - [`GitRepository`], the [`foreman_domain::git::GitRepo`] port on the real `git` binary: one
//!   cached clone per repository, a worktree per ticket and task, commits, diffs, merges and
//!   rebases that report their conflicts, `--force-with-lease` pushes, with every command under
//!   a timeout and its stderr in a typed [`foreman_domain::git::GitError`];
//! - [`Credentials`], handed to git per command (never written to config or the remote URL);
//! - worktree hygiene ([`hygiene`]): disk quota, the `foreman_worktree_disk_bytes` gauge, and the
//!   janitor that removes finished tickets' worktrees;
//! - the [`foreman_domain::git::GitHost`] adapters: [`GitHubHost`] (REST v3), [`GitLabHost`]
//!   (REST v4) and [`LocalHost`] (no host: pull requests recorded in Foreman's database);
//! - merging pull requests (`auto_merge`): `GitHost::merge_pr` on GitHub's and GitLab's merge
//!   endpoints with the head commit read just before, and for [`LocalHost`] a real merge, squash
//!   or rebase pushed to the remote's base branch by [`GitRepository::merge_branch_into`]
//!   (temporary detached worktree, `--force-with-lease`, conflicts aborted and reported,
//!   idempotent, serialised per project). See `docs/git.md`;
//!
//! The REST plumbing (HTTP client, retries, pagination) and the GitHub and GitLab REST clients
//! live in `foreman-rest`, shared with the tracker adapters; [`github`] and [`gitlab`]
//! re-export the clients so callers configure a host in one place.
//!
//! Cargo features (both on by default): `github` brings in [`GitHubHost`] and [`github`],
//! `gitlab` brings in [`GitLabHost`] and [`gitlab`]; the repository, hygiene and
//! [`LocalHost`] are always there.
//!
//! It must not know about the pipeline, trackers, tickets' meaning, or any storage backend: it
//! sees storage only through the ports of `foreman-domain`.

mod cmd;
pub mod credentials;
mod disk;
#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;
mod guard;
pub mod history;
pub mod hygiene;
pub mod local;
pub mod repo;
mod strays;

pub use credentials::Credentials;
#[cfg(feature = "github")]
pub use github::GitHubHost;
#[cfg(feature = "gitlab")]
pub use gitlab::GitLabHost;
pub use history::ProjectHistory;
pub use local::LocalHost;
pub use repo::{GitRepository, Identity, RepoConfig};
