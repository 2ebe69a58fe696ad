//! Worktrees, commits, diffs, merges, rebases and pushes against a local bare remote.

use std::process::Command;
use std::time::Duration;

use foreman_domain::TicketId;
use foreman_domain::git::{
    DiffSpec, GitError, GitRepo, Lease, MergeOutcome, RebaseOutcome, Worktree, task_branch_name,
    ticket_branch_name,
};
use foreman_git::{GitRepository, Identity};

use crate::support::{Fixture, git, spec, write};

const BRANCH: &str = "foreman/DEMO-1-add-feature";

async fn ticket_worktree(repo: &GitRepository, ticket: &TicketId) -> Worktree {
    repo.add_worktree(&spec(ticket, "ticket", BRANCH, "origin/main"))
        .await
        .expect("ticket worktree")
}

#[tokio::test]
async fn sync_clones_once_then_fetches() {
    let f = Fixture::new();
    let repo = f.repo().await;
    assert!(repo.repo_dir().join("HEAD").exists());
    let first = git(repo.repo_dir(), &["rev-parse", "refs/remotes/origin/main"]);

    f.write("NEW.md", "x\n");
    let second = f.commit_and_push("second");
    assert_ne!(first, second);
    repo.sync().await.unwrap();
    assert_eq!(
        git(repo.repo_dir(), &["rev-parse", "refs/remotes/origin/main"]),
        second
    );
}

/// Syncs that wait while a fetch runs share the next one; a sync never returns a remote older
/// than when it was called.
#[tokio::test]
async fn concurrent_syncs_share_fetches() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let log = f.work.join("git.log");
    let wrapper = f.work.join("git-counting");
    std::fs::create_dir_all(&f.work).unwrap();
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec git \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = f.config();
    config.git_program = wrapper;
    let repo = std::sync::Arc::new(GitRepository::new(config).unwrap());
    let fetches = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(" fetch "))
            .count()
    };
    repo.sync().await.unwrap();
    assert_eq!(fetches(), 1);

    let syncs: Vec<_> = (0..8)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.sync().await })
        })
        .collect();
    for s in syncs {
        s.await.unwrap().unwrap();
    }
    let shared = fetches() - 1;
    assert!(
        (1..=2).contains(&shared),
        "8 concurrent syncs ran {shared} fetches"
    );

    // one after the other, each sees what was pushed before it was called
    let before = fetches();
    f.write("LATER.md", "x\n");
    let pushed = f.commit_and_push("later");
    repo.sync().await.unwrap();
    assert_eq!(fetches(), before + 1);
    assert_eq!(
        git(repo.repo_dir(), &["rev-parse", "refs/remotes/origin/main"]),
        pushed
    );
}

#[tokio::test]
async fn worktrees_live_inside_the_work_dir_and_reopen_as_they_are() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let ticket = TicketId::new();
    let wt = ticket_worktree(&repo, &ticket).await;
    assert!(wt.path.starts_with(&f.work));
    assert!(wt.path.join("README.md").exists());
    assert_eq!(wt.branch, BRANCH);

    write(&wt, "feature.txt", "hello\n");
    let sha = repo
        .commit_all(&wt, "add feature")
        .await
        .unwrap()
        .expect("a commit");
    let again = ticket_worktree(&repo, &ticket).await;
    assert_eq!(again.path, wt.path);
    assert_eq!(again.head, sha, "reopening keeps the work");

    let listed = repo.ticket_worktrees(&ticket).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        repo.ticket_worktrees(&TicketId::new())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn build_artifacts_left_by_test_runs_are_never_committed() {
    let f = Fixture::new();
    let repo = GitRepository::new(f.config()).unwrap();
    repo.sync().await.unwrap();
    let wt = ticket_worktree(&repo, &TicketId::new()).await;
    write(&wt, "__pycache__/calc.cpython-311.pyc", "bytecode");
    write(&wt, "tests/__pycache__/t.cpython-311.pyc", "bytecode");
    write(&wt, "node_modules/x/index.js", "x");
    assert_eq!(repo.commit_all(&wt, "artifacts only").await.unwrap(), None);
    write(&wt, "calc.py", "x = 1\n");
    repo.commit_all(&wt, "source").await.unwrap().unwrap();
    let files = git(&wt.path, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.trim(), "calc.py");
    // A second sync keeps one copy of the patterns.
    repo.sync().await.unwrap();
    let common = git(&wt.path, &["rev-parse", "--git-common-dir"]);
    let exclude =
        std::fs::read_to_string(wt.path.join(common.trim()).join("info/exclude")).unwrap();
    assert_eq!(exclude.matches("# foreman build artifacts").count(), 1);
}

#[tokio::test]
async fn commits_use_the_configured_identity_and_skip_empty_changes() {
    let f = Fixture::new();
    let mut cfg = f.config();
    cfg.author = Identity {
        name: "Foreman Bot".into(),
        email: "bot@example.com".into(),
    };
    let repo = GitRepository::new(cfg).unwrap();
    repo.sync().await.unwrap();
    let wt = ticket_worktree(&repo, &TicketId::new()).await;
    assert_eq!(repo.commit_all(&wt, "nothing").await.unwrap(), None);

    write(&wt, "a.txt", "a\n");
    repo.commit_all(&wt, "add a").await.unwrap().unwrap();
    let author = git(&wt.path, &["log", "-1", "--format=%an <%ae>|%cn|%s"]);
    assert_eq!(author, "Foreman Bot <bot@example.com>|Foreman Bot|add a");
    assert!(matches!(
        repo.commit_all(&wt, "  ").await,
        Err(GitError::Invalid(_))
    ));
}

#[tokio::test]
async fn working_tree_diff_sees_untracked_files_and_leaves_the_index_alone() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let wt = ticket_worktree(&repo, &TicketId::new()).await;
    write(&wt, "src/lib.txt", "line 1\nline two\nline 3\n");
    write(&wt, "new.txt", "brand new\n");

    let diff = repo.diff(&wt, &DiffSpec::WorkingTree).await.unwrap();
    assert!(!diff.truncated);
    assert!(diff.text.contains("+line two"), "{}", diff.text);
    assert!(diff.text.contains("+++ b/new.txt"));
    let stat = repo.diff_stat(&wt, &DiffSpec::WorkingTree).await.unwrap();
    assert_eq!(stat.files.len(), 2);
    assert_eq!((stat.insertions, stat.deletions), (2, 1));

    let status = git(&wt.path, &["status", "--porcelain"]);
    assert!(status.contains("?? new.txt"), "index untouched: {status}");
}

/// `Since`: what the branch committed since it left the base and what it has not committed
/// yet, as one diff; the base moving on does not show, and the index is untouched.
#[tokio::test]
async fn a_diff_since_the_base_holds_committed_and_pending_work() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let wt = ticket_worktree(&repo, &TicketId::new()).await;
    write(&wt, "feature.txt", "one\ntwo\n");
    repo.commit_all(&wt, "feature").await.unwrap();
    write(&wt, "feature.txt", "one\ntwo\nthree\n");
    write(&wt, "untracked.txt", "new\n");
    f.write("OTHER.md", "elsewhere\n");
    f.commit_and_push("unrelated");
    repo.sync().await.unwrap();

    let spec = DiffSpec::Since {
        base: "origin/main".into(),
    };
    let diff = repo.diff(&wt, &spec).await.unwrap();
    assert!(diff.text.contains("+three"), "{}", diff.text);
    assert!(diff.text.contains("+one"), "committed work: {}", diff.text);
    assert!(diff.text.contains("+++ b/untracked.txt"), "{}", diff.text);
    assert!(!diff.text.contains("OTHER.md"), "{}", diff.text);
    let stat = repo.diff_stat(&wt, &spec).await.unwrap();
    let mut files: Vec<&str> = stat.files.iter().map(|f| f.path.as_str()).collect();
    files.sort_unstable();
    assert_eq!(files, ["feature.txt", "untracked.txt"]);
    let status = git(&wt.path, &["status", "--porcelain"]);
    assert!(
        status.contains("?? untracked.txt"),
        "index untouched: {status}"
    );
    let bad = DiffSpec::Since {
        base: "--output=/tmp/x".into(),
    };
    assert!(matches!(
        repo.diff(&wt, &bad).await,
        Err(GitError::Invalid(_))
    ));
}

#[tokio::test]
async fn range_diff_is_what_a_pull_request_shows() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let wt = ticket_worktree(&repo, &TicketId::new()).await;
    write(&wt, "feature.txt", "one\ntwo\n");
    repo.commit_all(&wt, "feature").await.unwrap();
    // the base moving on does not show up in the pull request's diff
    f.write("OTHER.md", "elsewhere\n");
    f.commit_and_push("unrelated");
    repo.sync().await.unwrap();

    let spec = DiffSpec::Range {
        base: "origin/main".into(),
        head: "HEAD".into(),
    };
    let stat = repo.diff_stat(&wt, &spec).await.unwrap();
    assert_eq!(stat.files.len(), 1);
    assert_eq!(stat.files[0].path, "feature.txt");
    assert_eq!(stat.insertions, 2);
    let bad = DiffSpec::Range {
        base: "--output=/tmp/x".into(),
        head: "HEAD".into(),
    };
    assert!(matches!(
        repo.diff(&wt, &bad).await,
        Err(GitError::Invalid(_))
    ));
}

#[tokio::test]
async fn huge_diffs_are_cut_with_a_note() {
    let f = Fixture::new();
    let mut cfg = f.config();
    cfg.max_diff_bytes = 64 * 1024;
    let repo = GitRepository::new(cfg).unwrap();
    repo.sync().await.unwrap();
    let wt = ticket_worktree(&repo, &TicketId::new()).await;
    let big: String = (0..100_000)
        .map(|i| format!("generated line {i}\n"))
        .collect();
    write(&wt, "big.txt", &big);

    let diff = repo.diff(&wt, &DiffSpec::WorkingTree).await.unwrap();
    assert!(diff.truncated);
    assert!(diff.total_bytes > 1_500_000, "{}", diff.total_bytes);
    assert!(diff.text.len() < 70 * 1024);
    assert!(
        diff.text
            .ends_with(&format!("of {} bytes]\n", diff.total_bytes))
    );
    let stat = repo.diff_stat(&wt, &DiffSpec::WorkingTree).await.unwrap();
    assert_eq!(stat.insertions, 100_000, "stats are never truncated");
}

#[tokio::test]
async fn task_branches_merge_into_the_ticket_branch() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let ticket = TicketId::new();
    let tw = ticket_worktree(&repo, &ticket).await;
    let b1 = task_branch_name(BRANCH, 1);
    let task = repo
        .add_worktree(&spec(&ticket, "task-1", &b1, BRANCH))
        .await
        .unwrap();
    write(&task, "one.txt", "1\n");
    repo.commit_all(&task, "task 1").await.unwrap();

    let out = repo.merge(&tw, &b1, "merge task 1").await.unwrap();
    let MergeOutcome::Merged { head } = out else {
        panic!("expected a clean merge, got {out:?}")
    };
    assert_eq!(head, repo.head(&tw).await.unwrap());
    assert!(tw.path.join("one.txt").exists());
    // the ticket branch had nothing of its own: a fast-forward, no merge commit
    assert_eq!(git(&tw.path, &["log", "-1", "--format=%s"]), "task 1");
    assert_eq!(head, git(&task.path, &["rev-parse", "HEAD"]));

    // a second task started before the first was merged: now a merge commit is needed
    let b2 = task_branch_name(BRANCH, 2);
    let task2 = repo
        .add_worktree(&spec(&ticket, "task-2", &b2, &format!("{head}~1")))
        .await
        .unwrap();
    write(&task2, "two.txt", "2\n");
    repo.commit_all(&task2, "task 2").await.unwrap();
    let MergeOutcome::Merged { head: merged } = repo.merge(&tw, &b2, "merge task 2").await.unwrap()
    else {
        panic!("expected a clean merge")
    };
    assert_eq!(git(&tw.path, &["log", "-1", "--format=%s"]), "merge task 2");
    assert_eq!(
        git(&tw.path, &["rev-list", "--parents", "-n", "1", "HEAD"])
            .split_whitespace()
            .count(),
        3,
        "a merge commit has two parents"
    );
    assert_eq!(merged, repo.head(&tw).await.unwrap());
    repo.remove_worktree(&task2, true).await.unwrap();

    repo.remove_worktree(&task, true).await.unwrap();
    assert!(!task.path.exists());
    assert!(git(repo.repo_dir(), &["branch", "--list", &b1]).is_empty());
    assert_eq!(repo.ticket_worktrees(&ticket).await.unwrap().len(), 1);
}

#[tokio::test]
async fn merge_conflicts_are_reported_with_markers_and_can_be_resolved_or_aborted() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let ticket = TicketId::new();
    let tw = ticket_worktree(&repo, &ticket).await;
    for (n, text) in [(1, "task one\n"), (2, "task two\n")] {
        let b = task_branch_name(BRANCH, n);
        let wt = repo
            .add_worktree(&spec(&ticket, &format!("task-{n}"), &b, BRANCH))
            .await
            .unwrap();
        write(&wt, "src/lib.txt", text);
        repo.commit_all(&wt, &format!("task {n}")).await.unwrap();
    }
    let before = repo.head(&tw).await.unwrap();
    assert!(matches!(
        repo.merge(&tw, &task_branch_name(BRANCH, 1), "m1")
            .await
            .unwrap(),
        MergeOutcome::Merged { .. }
    ));
    let MergeOutcome::Conflicts { files } = repo
        .merge(&tw, &task_branch_name(BRANCH, 2), "m2")
        .await
        .unwrap()
    else {
        panic!("expected conflicts")
    };
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].path, "src/lib.txt");
    let content = files[0].content.as_deref().unwrap();
    assert!(
        content.contains("<<<<<<<") && content.contains(">>>>>>>"),
        "{content}"
    );

    // markers left in place are refused
    let err = repo.conclude_merge(&tw).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("conflict markers remain in src/lib.txt"),
        "{err}"
    );

    write(&tw, "src/lib.txt", "task one\ntask two\n");
    let head = repo.conclude_merge(&tw).await.unwrap();
    assert_ne!(head, before);
    assert_eq!(
        git(
            &tw.path,
            &["rev-list", "--count", &format!("{before}..HEAD")]
        ),
        "3",
        "task 1 (fast-forwarded), task 2 and the merge commit"
    );

    // and the abort path
    let b3 = task_branch_name(BRANCH, 3);
    let wt3 = repo
        .add_worktree(&spec(&ticket, "task-3", &b3, &before))
        .await
        .unwrap();
    write(&wt3, "src/lib.txt", "task three\n");
    repo.commit_all(&wt3, "task 3").await.unwrap();
    assert!(matches!(
        repo.merge(&tw, &b3, "m3").await.unwrap(),
        MergeOutcome::Conflicts { .. }
    ));
    repo.abort_merge(&tw).await.unwrap();
    assert_eq!(repo.head(&tw).await.unwrap(), head);
    assert!(git(&tw.path, &["status", "--porcelain"]).is_empty());
}

#[tokio::test]
async fn rebase_conflicts_are_reported_and_abort_restores_the_branch() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let tw = ticket_worktree(&repo, &TicketId::new()).await;
    write(&tw, "src/lib.txt", "line 1\nours\nline 3\n");
    let ours = repo.commit_all(&tw, "ours").await.unwrap().unwrap();
    f.write("src/lib.txt", "line 1\ntheirs\nline 3\n");
    f.commit_and_push("theirs");
    repo.sync().await.unwrap();

    let RebaseOutcome::Conflicts { stopped_at, files } =
        repo.rebase(&tw, "origin/main").await.unwrap()
    else {
        panic!("expected conflicts")
    };
    assert_eq!(stopped_at.as_deref(), Some(ours.as_str()));
    assert_eq!(files[0].path, "src/lib.txt");
    let c = files[0].content.as_deref().unwrap();
    assert!(
        c.contains("<<<<<<<") && c.contains("theirs") && c.contains("ours"),
        "{c}"
    );

    repo.abort_rebase(&tw).await.unwrap();
    assert_eq!(repo.head(&tw).await.unwrap(), ours);
    assert!(matches!(
        repo.continue_rebase(&tw).await,
        Err(GitError::Invalid(_))
    ));

    // resolving and continuing lands the commit on top of the new base
    assert!(matches!(
        repo.rebase(&tw, "origin/main").await.unwrap(),
        RebaseOutcome::Conflicts { .. }
    ));
    write(&tw, "src/lib.txt", "line 1\ntheirs and ours\nline 3\n");
    let RebaseOutcome::Rebased { head } = repo.continue_rebase(&tw).await.unwrap() else {
        panic!("expected the rebase to finish")
    };
    let base = git(repo.repo_dir(), &["rev-parse", "refs/remotes/origin/main"]);
    assert_eq!(git(&tw.path, &["rev-parse", "HEAD~1"]), base);
    assert_eq!(head, repo.head(&tw).await.unwrap());
}

/// A run killed mid-rebase leaves the rebase stopped, a stale `index.lock`, stray edits and an
/// orphaned child still working in the worktree; recovery brings back the branch's last commit.
#[tokio::test]
async fn recovery_undoes_what_an_interrupted_run_left_behind() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let tw = ticket_worktree(&repo, &TicketId::new()).await;
    assert!(
        repo.recover_worktree(&tw).await.unwrap().is_empty(),
        "a clean worktree needs nothing"
    );

    write(&tw, "src/lib.txt", "line 1\nours\nline 3\n");
    let ours = repo.commit_all(&tw, "ours").await.unwrap().unwrap();
    f.write("src/lib.txt", "line 1\ntheirs\nline 3\n");
    f.commit_and_push("theirs");
    repo.sync().await.unwrap();
    assert!(matches!(
        repo.rebase(&tw, "origin/main").await.unwrap(),
        RebaseOutcome::Conflicts { .. }
    ));
    write(&tw, "half-done.txt", "x\n");
    let git_dir = git(&tw.path, &["rev-parse", "--absolute-git-dir"]);
    std::fs::write(std::path::Path::new(&git_dir).join("index.lock"), "").unwrap();
    // an orphan of the dead run (marked like every child Foreman starts), and a stranger's
    // process that is not ours to kill
    let orphan = |marked: bool| -> i32 {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 60 >/dev/null 2>&1 & echo $!"])
            .current_dir(&tw.path);
        if marked {
            cmd.env(foreman_domain::git::CHILD_MARKER_ENV, "1");
        } else {
            cmd.env_remove(foreman_domain::git::CHILD_MARKER_ENV);
        }
        String::from_utf8(cmd.output().unwrap().stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let stray = orphan(true);
    let stranger = orphan(false);
    let alive = |pid: i32| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok();
    assert!(alive(stray) && alive(stranger));

    let repaired = repo.recover_worktree(&tw).await.unwrap();
    let text = repaired.join("; ");
    for expected in ["killed 1 process", "index.lock", "rebase", "uncommitted"] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from {text:?}"
        );
    }
    assert!(!alive(stray), "the orphan was killed");
    assert!(alive(stranger), "an unmarked process is left alone");
    let _ = Command::new("kill")
        .args(["-9", &stranger.to_string()])
        .status();
    assert_eq!(repo.head(&tw).await.unwrap(), ours);
    assert_eq!(
        git(&tw.path, &["rev-parse", "--abbrev-ref", "HEAD"]),
        BRANCH
    );
    assert!(git(&tw.path, &["status", "--porcelain"]).is_empty());
    // and the rebase that failed before now runs
    assert!(matches!(
        repo.rebase(&tw, "origin/main").await.unwrap(),
        RebaseOutcome::Conflicts { .. }
    ));
    repo.abort_rebase(&tw).await.unwrap();
    assert!(repo.recover_worktree(&tw).await.unwrap().is_empty());
}

#[tokio::test]
async fn clean_rebase_moves_the_branch() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let tw = ticket_worktree(&repo, &TicketId::new()).await;
    write(&tw, "mine.txt", "m\n");
    repo.commit_all(&tw, "mine").await.unwrap();
    f.write("theirs.txt", "t\n");
    f.commit_and_push("theirs");
    repo.sync().await.unwrap();
    assert!(matches!(
        repo.rebase(&tw, "origin/main").await.unwrap(),
        RebaseOutcome::Rebased { .. }
    ));
    assert!(tw.path.join("theirs.txt").exists());
    assert!(matches!(
        repo.rebase(&tw, "origin/nope").await,
        Err(GitError::NotFound { .. })
    ));
}

/// A branch that already contains `onto` is left as it is (no rebase runs, so nothing is
/// rewritten), merge commits included; once `onto` moved on, it is rebased (flattened, as
/// `git rebase` does).
#[tokio::test]
async fn rebase_leaves_a_branch_that_contains_its_base_alone() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let ticket = TicketId::new();
    let tw = ticket_worktree(&repo, &ticket).await;
    assert!(
        matches!(
            repo.rebase(&tw, "origin/main").await.unwrap(),
            RebaseOutcome::Rebased { .. }
        ),
        "no commits of its own"
    );
    write(&tw, "a.txt", "a\n");
    let a = repo.commit_all(&tw, "a").await.unwrap().unwrap();
    let reflog_before = git(&tw.path, &["reflog", "--format=%H", "-n", "100", "HEAD"]);
    let RebaseOutcome::Rebased { head } = repo.rebase(&tw, "origin/main").await.unwrap() else {
        panic!("expected nothing to do")
    };
    assert_eq!(head, a);
    assert_eq!(
        git(&tw.path, &["reflog", "--format=%H", "-n", "100", "HEAD"]),
        reflog_before,
        "git rebase did not run"
    );

    // a merge commit in a branch that contains its base: left as it is (a rebase would
    // flatten the merge and meet whatever conflict it resolved again)
    let b1 = task_branch_name(BRANCH, 1);
    let task = repo
        .add_worktree(&spec(&ticket, "task-1", &b1, "origin/main"))
        .await
        .unwrap();
    write(&task, "b.txt", "b\n");
    repo.commit_all(&task, "b").await.unwrap();
    let MergeOutcome::Merged { head: merged } = repo.merge(&tw, &b1, "merge b").await.unwrap()
    else {
        panic!("expected a merge")
    };
    let reflog_before = git(&tw.path, &["reflog", "--format=%H", "-n", "100", "HEAD"]);
    let RebaseOutcome::Rebased { head } = repo.rebase(&tw, "origin/main").await.unwrap() else {
        panic!("expected nothing to do")
    };
    assert_eq!(head, merged);
    assert_eq!(
        git(&tw.path, &["reflog", "--format=%H", "-n", "100", "HEAD"]),
        reflog_before,
        "git rebase did not run"
    );
    assert_eq!(
        git(
            &tw.path,
            &[
                "rev-list",
                "--min-parents=2",
                "--count",
                "origin/main..HEAD"
            ]
        ),
        "1",
        "the merge commit is kept"
    );

    // a base that moved on: rebased
    f.write("theirs.txt", "t\n");
    let theirs = f.commit_and_push("theirs");
    repo.sync_default().await.unwrap();
    let RebaseOutcome::Rebased { head } = repo.rebase(&tw, "origin/main").await.unwrap() else {
        panic!("expected a rebase")
    };
    assert_eq!(git(&tw.path, &["rev-parse", "HEAD~2"]), theirs);
    assert_eq!(head, repo.head(&tw).await.unwrap());
}

/// `sync_default` fetches the default branch only; `sync_branch` adds a branch and the
/// branches named after it, and forgets those deleted on the remote.
#[tokio::test]
async fn scoped_syncs_fetch_only_what_they_name() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let tracking = |b: &str| {
        git(
            repo.repo_dir(),
            &[
                "for-each-ref",
                "--format=%(refname)",
                &format!("refs/remotes/origin/{b}"),
            ],
        )
    };
    f.write("x.txt", "x\n");
    let main = f.commit_and_push("x");
    for b in [BRANCH, &task_branch_name(BRANCH, 1), "someone/else"] {
        git(
            &f.seed,
            &["push", "--quiet", "origin", &format!("HEAD:refs/heads/{b}")],
        );
    }

    repo.sync_default().await.unwrap();
    assert_eq!(
        git(repo.repo_dir(), &["rev-parse", "refs/remotes/origin/main"]),
        main
    );
    assert!(tracking(BRANCH).is_empty(), "only the default branch");

    repo.sync_branch(BRANCH).await.unwrap();
    assert_eq!(tracking(BRANCH), format!("refs/remotes/origin/{BRANCH}"));
    assert_eq!(
        tracking(&task_branch_name(BRANCH, 1)),
        format!("refs/remotes/origin/{}", task_branch_name(BRANCH, 1))
    );
    assert!(
        tracking("someone/else").is_empty(),
        "not named after the branch"
    );

    git(
        &f.seed,
        &[
            "push",
            "--quiet",
            "origin",
            "--delete",
            &task_branch_name(BRANCH, 1),
        ],
    );
    repo.sync_branch(BRANCH).await.unwrap();
    assert!(tracking(&task_branch_name(BRANCH, 1)).is_empty(), "pruned");
    assert!(!tracking(BRANCH).is_empty());

    assert!(matches!(
        repo.sync_branch("-bad").await,
        Err(GitError::Invalid(_))
    ));
    repo.sync().await.unwrap();
    assert!(
        !tracking("someone/else").is_empty(),
        "a full sync fetches everything"
    );
}

#[tokio::test]
async fn push_with_lease_refuses_to_overwrite_someone_elses_work() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let tw = ticket_worktree(&repo, &TicketId::new()).await;
    write(&tw, "a.txt", "a\n");
    let first = repo.commit_all(&tw, "a").await.unwrap().unwrap();

    repo.push(BRANCH, &Lease::Absent).await.unwrap();
    assert_eq!(f.origin_head(BRANCH).as_deref(), Some(first.as_str()));
    // pushing what the remote already has is a no-op whatever the lease
    repo.push(BRANCH, &Lease::Absent).await.unwrap();

    // amending and force-pushing over our own last push is fine, but not as a "first push"
    write(&tw, "a.txt", "a2\n");
    git(
        &tw.path,
        &[
            "-c",
            "user.name=x",
            "-c",
            "user.email=x@x",
            "commit",
            "-qam",
            "amend",
            "--amend",
        ],
    );
    let amended = repo.head(&tw).await.unwrap();
    assert!(matches!(
        repo.push(BRANCH, &Lease::Absent).await,
        Err(GitError::StaleLease { .. })
    ));
    assert_eq!(f.origin_head(BRANCH).as_deref(), Some(first.as_str()));
    repo.push(BRANCH, &Lease::Tracking).await.unwrap();
    assert_eq!(f.origin_head(BRANCH).as_deref(), Some(amended.as_str()));

    // someone else pushes to the branch; our lease is now stale
    git(&f.seed, &["fetch", "--quiet", "origin"]);
    git(
        &f.seed,
        &[
            "checkout",
            "--quiet",
            "-b",
            "other",
            &format!("origin/{BRANCH}"),
        ],
    );
    f.write("theirs.txt", "t\n");
    git(&f.seed, &["add", "-A"]);
    git(&f.seed, &["commit", "--quiet", "-m", "theirs"]);
    git(
        &f.seed,
        &["push", "--quiet", "origin", &format!("HEAD:{BRANCH}")],
    );
    let theirs = f.origin_head(BRANCH).unwrap();

    write(&tw, "b.txt", "b\n");
    repo.commit_all(&tw, "b").await.unwrap();
    let err = repo.push(BRANCH, &Lease::Tracking).await.unwrap_err();
    assert!(matches!(err, GitError::StaleLease { .. }), "{err:?}");
    assert_eq!(err.code(), "stale_lease");
    assert_eq!(
        f.origin_head(BRANCH).as_deref(),
        Some(theirs.as_str()),
        "their work survives"
    );
    assert!(matches!(
        repo.push(BRANCH, &Lease::Expect(amended.clone())).await,
        Err(GitError::StaleLease { .. })
    ));
    assert!(matches!(
        repo.push("foreman/never-made", &Lease::Absent).await,
        Err(GitError::NotFound { .. })
    ));
}

/// A push whose answer was lost (killed after the remote took it) leaves the tracking ref
/// behind the remote: the next `Tracking` push finds the remote at an earlier commit of its own
/// branch and pushes over it, where it used to fail the task as a stale lease.
#[tokio::test]
async fn a_tracking_push_goes_over_its_own_earlier_push_whose_answer_was_lost() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let tw = ticket_worktree(&repo, &TicketId::new()).await;
    write(&tw, "a.txt", "a\n");
    let first = repo.commit_all(&tw, "a").await.unwrap().unwrap();
    repo.push(BRANCH, &Lease::Absent).await.unwrap();
    write(&tw, "b.txt", "b\n");
    let second = repo.commit_all(&tw, "b").await.unwrap().unwrap();
    repo.push(BRANCH, &Lease::Tracking).await.unwrap();
    assert_eq!(f.origin_head(BRANCH).as_deref(), Some(second.as_str()));

    // the second push's tracking update was lost: the ref still names the first commit
    let clone = f.work.join("demo").join("repo");
    let tracking = format!("refs/remotes/origin/{BRANCH}");
    git(&clone, &["update-ref", &tracking, &first]);
    write(&tw, "c.txt", "c\n");
    let third = repo.commit_all(&tw, "c").await.unwrap().unwrap();
    // control: the lease as written (the tracking ref) is stale
    let lease = format!("--force-with-lease=refs/heads/{BRANCH}:{first}");
    let refspec = format!("refs/heads/{BRANCH}:refs/heads/{BRANCH}");
    let out = Command::new("git")
        .current_dir(&clone)
        .args([
            "push",
            "--porcelain",
            "--dry-run",
            "origin",
            &lease,
            &refspec,
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("stale info"),
        "{out:?}"
    );
    repo.push(BRANCH, &Lease::Tracking).await.unwrap();
    assert_eq!(f.origin_head(BRANCH).as_deref(), Some(third.as_str()));

    // lost both ways: the tracking ref is gone too; still our own history on the remote
    git(&clone, &["update-ref", "-d", &tracking]);
    write(&tw, "d.txt", "d\n");
    let fourth = repo.commit_all(&tw, "d").await.unwrap().unwrap();
    repo.push(BRANCH, &Lease::Tracking).await.unwrap();
    assert_eq!(f.origin_head(BRANCH).as_deref(), Some(fourth.as_str()));
}

#[tokio::test]
async fn a_missing_remote_is_reported_as_unreachable() {
    let f = Fixture::new();
    let mut cfg = f.config();
    cfg.clone_url = f
        .dir
        .path()
        .join("no-such.git")
        .to_string_lossy()
        .into_owned();
    let repo = GitRepository::new(cfg).unwrap();
    let err = repo.sync().await.unwrap_err();
    assert!(matches!(err, GitError::RemoteUnreachable { .. }), "{err:?}");
    assert_eq!(err.code(), "remote_unreachable");
    assert!(matches!(
        repo.check().await,
        Err(GitError::RemoteUnreachable { .. })
    ));

    // a remote that exists but lacks the default branch
    let mut cfg = f.config();
    cfg.default_branch = "trunk".into();
    cfg.project = "other".into();
    let repo = GitRepository::new(cfg).unwrap();
    assert!(matches!(repo.sync().await, Err(GitError::NotFound { .. })));
}

#[tokio::test]
async fn check_reports_version_and_remote_head() {
    let f = Fixture::new();
    let repo = GitRepository::new(f.config()).unwrap();
    let before_clone = repo.check().await.unwrap();
    assert!(before_clone.version.starts_with('2'), "{before_clone:?}");
    let main = f.origin_head("main").unwrap();
    assert_eq!(before_clone.remote_head.as_deref(), Some(main.as_str()));
    repo.sync().await.unwrap();
    assert_eq!(repo.check().await.unwrap(), before_clone);
}

#[tokio::test]
async fn bad_input_is_refused() {
    let f = Fixture::new();
    let mut cfg = f.config();
    cfg.clone_url = "https://x-access-token:secret@example.com/o/r.git".into();
    assert!(matches!(GitRepository::new(cfg), Err(GitError::Invalid(_))));
    let mut cfg = f.config();
    cfg.work_dir = "relative/work".into();
    assert!(matches!(GitRepository::new(cfg), Err(GitError::Invalid(_))));
    let mut cfg = f.config();
    cfg.project = "../etc".into();
    assert!(matches!(GitRepository::new(cfg), Err(GitError::Invalid(_))));

    let repo = f.repo().await;
    let t = TicketId::new();
    for branch in ["../../escape", "-f", "a..b", "with space"] {
        let err = repo
            .add_worktree(&spec(&t, "ticket", branch, "origin/main"))
            .await
            .unwrap_err();
        assert!(matches!(err, GitError::Invalid(_)), "{branch}: {err:?}");
    }
    let err = repo
        .add_worktree(&spec(&t, "ticket", "ok-branch", "--orphan"))
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::Invalid(_)));
    let err = repo
        .add_worktree(&spec(&t, "ticket", "ok-branch", "origin/nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::NotFound { .. }));

    // names that try to climb out land inside the worktrees directory anyway
    let wt = repo
        .add_worktree(&spec(
            &TicketId::from("../../x"),
            "../../../y",
            "ok-branch",
            "origin/main",
        ))
        .await
        .unwrap();
    assert!(
        wt.path.starts_with(repo.worktrees_dir()),
        "{}",
        wt.path.display()
    );

    let outside = Worktree {
        path: f.seed.clone(),
        branch: "main".into(),
        head: String::new(),
    };
    assert!(matches!(
        repo.commit_all(&outside, "x").await,
        Err(GitError::Invalid(_))
    ));
    assert!(matches!(
        repo.remove_worktree(&outside, false).await,
        Err(GitError::Invalid(_))
    ));
}

#[tokio::test]
async fn ticket_branch_names_are_valid_refs_for_git() {
    let f = Fixture::new();
    for (prefix, id, title) in [
        ("foreman", "PROJ-123", "Add user authentication"),
        ("foreman/", "#42", "Ünïcödé & emoji 🚀 title"),
        ("a b/c", "x/../y", ".hidden.lock"),
    ] {
        let b = ticket_branch_name(prefix, id, title);
        git(f.dir.path(), &["check-ref-format", "--branch", &b]);
    }
}

#[tokio::test]
async fn hung_or_missing_git_binaries_are_typed_errors() {
    let f = Fixture::new();
    let script = f.dir.path().join("slow-git");
    std::fs::write(&script, "#!/bin/sh\nsleep 30\n").unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();

    let mut cfg = f.config();
    cfg.git_program = script;
    cfg.local_timeout = Duration::from_millis(200);
    let repo = GitRepository::new(cfg).unwrap();
    let started = std::time::Instant::now();
    let err = repo.check().await.unwrap_err();
    assert!(matches!(err, GitError::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the child was killed, not awaited"
    );

    let mut cfg = f.config();
    cfg.git_program = "/nonexistent/git".into();
    let repo = GitRepository::new(cfg).unwrap();
    assert!(matches!(
        repo.check().await,
        Err(GitError::NotInstalled { .. })
    ));
}

/// The janitor's maintenance runs on a clone with history, and does nothing (and creates
/// nothing) before the first sync.
#[tokio::test]
async fn maintenance_runs_on_the_cached_clone() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let tw = ticket_worktree(&repo, &TicketId::new()).await;
    for n in 0..3 {
        write(&tw, &format!("f{n}.txt"), "x\n");
        repo.commit_all(&tw, &format!("c{n}")).await.unwrap();
    }
    repo.maintain().await.unwrap();
    assert_eq!(
        git(repo.repo_dir(), &["config", "--get", "remote.origin.url"]),
        f.origin.to_str().unwrap()
    );

    let fresh = Fixture::new();
    let unsynced = GitRepository::new(fresh.config()).unwrap();
    unsynced.maintain().await.unwrap();
    assert!(!unsynced.repo_dir().exists());
}

/// A worktree switches between branches: `start_point` creates or resets one, and without it
/// a branch known only from the remote (another node's checkpoint) is created from there.
#[tokio::test]
async fn switch_branch_moves_a_worktree_between_branches() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let tw = ticket_worktree(&repo, &TicketId::new()).await;
    let base = repo.head(&tw).await.unwrap();
    let task = task_branch_name(BRANCH, 1);

    let on_task = repo.switch_branch(&tw, &task, Some(BRANCH)).await.unwrap();
    assert_eq!(on_task.branch, task);
    assert_eq!(on_task.head, base);
    assert_eq!(git(&tw.path, &["rev-parse", "--abbrev-ref", "HEAD"]), task);
    write(&on_task, "t.txt", "t\n");
    let commit = repo.commit_all(&on_task, "task").await.unwrap().unwrap();

    // back to the ticket branch, which has not moved, and to the task branch with its commit
    let back = repo.switch_branch(&on_task, BRANCH, None).await.unwrap();
    assert_eq!(back.head, base);
    assert!(!tw.path.join("t.txt").exists());
    let again = repo.switch_branch(&back, &task, None).await.unwrap();
    assert_eq!(again.head, commit);

    // with a start point the branch restarts there, dropping what it had
    let fresh = repo
        .switch_branch(&again, &task, Some(BRANCH))
        .await
        .unwrap();
    assert_eq!(fresh.head, base);
    assert!(!tw.path.join("t.txt").exists());

    // a branch only the remote has (pushed by another node) is created from its tracking ref
    let other = task_branch_name(BRANCH, 2);
    f.write("other.txt", "o\n");
    git(&f.seed, &["add", "-A"]);
    git(&f.seed, &["commit", "--quiet", "-m", "elsewhere"]);
    git(
        &f.seed,
        &[
            "push",
            "--quiet",
            "origin",
            &format!("HEAD:refs/heads/{other}"),
        ],
    );
    let elsewhere = git(&f.seed, &["rev-parse", "HEAD"]);
    repo.sync_branch(BRANCH).await.unwrap();
    let checked = repo.switch_branch(&fresh, &other, None).await.unwrap();
    assert_eq!(checked.head, elsewhere);
    assert!(tw.path.join("other.txt").exists());

    assert!(matches!(
        repo.switch_branch(&checked, "no such branch", None).await,
        Err(GitError::Invalid(_))
    ));
    assert!(
        repo.switch_branch(&checked, "missing/branch", None)
            .await
            .is_err()
    );
}

/// `files_at` reads the default branch as fetched: only files of that name below the
/// directory, as committed, capped, never the worktrees' files.
#[tokio::test]
async fn files_at_reads_committed_files_of_the_default_branch() {
    let f = Fixture::new();
    let fresh = GitRepository::new(f.config()).unwrap();
    assert_eq!(
        fresh.default_branch_commit().await.unwrap(),
        None,
        "not cloned yet"
    );

    f.write(".foreman/skills/a/SKILL.md", "---\nname: a\n---\n");
    f.write(".foreman/skills/a/notes.md", "not a skill file\n");
    f.write(".foreman/skills/big/SKILL.md", &"x".repeat(100));
    f.write(".foreman/other/SKILL.md", "elsewhere\n");
    f.write("SKILL.md", "at the root\n");
    let head = f.commit_and_push("skills");
    let repo = f.repo().await;
    let commit = repo.default_branch_commit().await.unwrap().unwrap();
    assert_eq!(commit, head);

    let files = repo
        .files_at(&commit, ".foreman/skills", "SKILL.md", 50)
        .await
        .unwrap();
    let paths: Vec<_> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [".foreman/skills/a/SKILL.md", ".foreman/skills/big/SKILL.md"]
    );
    assert_eq!(files[0].1, b"---\nname: a\n---\n");
    assert_eq!(
        files[1].1.len(),
        51,
        "a file over the cap comes back one byte over it"
    );

    // a worktree's uncommitted (model-written) file is not read
    let wt = ticket_worktree(&repo, &TicketId::from("t-files")).await;
    write(
        &wt,
        ".foreman/skills/evil/SKILL.md",
        "---\nname: evil\n---\n",
    );
    let again = repo
        .files_at(&commit, ".foreman/skills", "SKILL.md", 50)
        .await
        .unwrap();
    assert_eq!(again.len(), 2);

    // a later push is seen once fetched
    f.write(".foreman/skills/c/SKILL.md", "c\n");
    let newer = f.commit_and_push("another skill");
    assert_eq!(
        repo.default_branch_commit().await.unwrap(),
        Some(commit.clone())
    );
    repo.sync().await.unwrap();
    assert_eq!(
        repo.default_branch_commit().await.unwrap(),
        Some(newer.clone())
    );
    let files = repo
        .files_at(&newer, ".foreman/skills", "SKILL.md", 50)
        .await
        .unwrap();
    assert_eq!(files.len(), 3);

    // a missing directory is empty; a revision that is not a commit id, or a path that climbs,
    // is refused
    assert!(
        repo.files_at(&newer, "nowhere", "SKILL.md", 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        repo.files_at("--output=/tmp/x", ".foreman/skills", "SKILL.md", 50)
            .await,
        Err(GitError::Invalid(_))
    ));
    assert!(matches!(
        repo.files_at(&newer, "../x", "SKILL.md", 50).await,
        Err(GitError::Invalid(_))
    ));
}
