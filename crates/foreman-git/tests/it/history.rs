//! `ProjectHistory`: a ticket branch's diff as its pull request shows it, before and after the
//! merge, per task commit, and capped.

use std::sync::Arc;

use foreman_domain::checkpoint::DiffSource;
use foreman_domain::git::GitRepo;
use foreman_git::ProjectHistory;

use crate::support::{Fixture, git};

const BRANCH: &str = "foreman/t-1";

/// An origin with a ticket branch of two commits (each a task's change to `src/lib.txt`) and a
/// later unrelated commit on `main`; the clone has fetched both. Returns the two commits.
async fn ticket_branch(f: &Fixture) -> (Arc<foreman_git::GitRepository>, String, String) {
    git(&f.seed, &["checkout", "--quiet", "-b", BRANCH]);
    f.write(
        "src/lib.txt",
        "line 1\nline 2\nline 3\nline 4 of task one\n",
    );
    git(&f.seed, &["commit", "--quiet", "-am", "task one"]);
    let one = git(&f.seed, &["rev-parse", "HEAD"]);
    f.write(
        "src/lib.txt",
        "line 1\nline 2\nline 3\nline 4 of task one\nline 5 of task two\n",
    );
    git(&f.seed, &["commit", "--quiet", "-am", "task two"]);
    let two = git(&f.seed, &["rev-parse", "HEAD"]);
    git(&f.seed, &["push", "--quiet", "origin", BRANCH]);
    git(&f.seed, &["checkout", "--quiet", "main"]);
    f.write("README.md", "# demo, moved on\n");
    f.commit_and_push("main moves on");
    let repo = Arc::new(f.repo().await);
    repo.sync_branch(BRANCH).await.unwrap();
    (repo, one, two)
}

#[tokio::test]
async fn a_branch_shows_its_own_change_before_and_after_its_merge() {
    let f = Fixture::new();
    let (repo, one, two) = ticket_branch(&f).await;
    let history = ProjectHistory::new().with_repo("demo", repo.clone());

    let before = history.branch_diff("demo", BRANCH, 1 << 20).await.unwrap();
    assert!(
        before.text.contains("+line 4 of task one"),
        "{}",
        before.text
    );
    assert!(before.text.contains("+line 5 of task two"));
    assert!(
        !before.text.contains("README"),
        "main's own later change is not the branch's"
    );
    assert!(!before.truncated);

    // the pull request merges (a merge commit on main), the clone fetches it
    git(
        &f.seed,
        &[
            "merge",
            "--quiet",
            "--no-ff",
            "-m",
            "merge the ticket",
            BRANCH,
        ],
    );
    git(&f.seed, &["push", "--quiet", "origin", "main"]);
    repo.sync().await.unwrap();
    let after = history.branch_diff("demo", BRANCH, 1 << 20).await.unwrap();
    assert_eq!(
        after.text, before.text,
        "a merged pull request still shows what it changed"
    );

    // each task's commit on its own: the first against the base, the second against the first
    let first = history
        .commit_diff("demo", &one, None, 1 << 20)
        .await
        .unwrap();
    assert!(first.text.contains("+line 4 of task one"), "{}", first.text);
    assert!(!first.text.contains("task two"));
    let second = history
        .commit_diff("demo", &two, Some(&one), 1 << 20)
        .await
        .unwrap();
    assert!(second.text.contains("+line 5 of task two"));
    assert!(!second.text.contains("+line 4 of task one"));
}

#[tokio::test]
async fn a_large_diff_is_cut_at_a_line_end_with_a_note() {
    let f = Fixture::new();
    let (repo, _, _) = ticket_branch(&f).await;
    let history = ProjectHistory::new().with_repo("demo", repo);
    let full = history.branch_diff("demo", BRANCH, 1 << 20).await.unwrap();
    let cut = history.branch_diff("demo", BRANCH, 64).await.unwrap();
    assert!(cut.truncated);
    assert_eq!(cut.total_bytes, full.total_bytes);
    assert!(cut.text.contains("[diff truncated by foreman: showing"));
    let kept = cut.text.split("\n[diff truncated").next().unwrap();
    assert!(full.text.starts_with(kept) && kept.ends_with('\n'));
}

#[tokio::test]
async fn unknown_projects_branches_and_commits_are_refused() {
    let f = Fixture::new();
    let (repo, _, _) = ticket_branch(&f).await;
    let history = ProjectHistory::new().with_repo("demo", repo);
    assert!(history.branch_diff("other", BRANCH, 1024).await.is_err());
    assert!(history.branch_diff("demo", "no/such", 1024).await.is_err());
    assert!(history.branch_diff("demo", "../x", 1024).await.is_err());
    assert!(
        history
            .commit_diff("demo", "--output=/tmp/x", None, 1024)
            .await
            .is_err()
    );
    assert!(
        history
            .commit_diff("demo", "deadbeefdeadbeef", None, 1024)
            .await
            .is_err()
    );
}
