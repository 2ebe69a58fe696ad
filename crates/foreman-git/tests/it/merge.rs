//! Merging on the remote for real: `GitRepository::merge_branch_into` and the `local` host's
//! `merge_pr`, against a bare remote in a temporary directory.

use std::sync::Arc;

use foreman_domain::TicketId;
use foreman_domain::git::{
    GitError, GitHost, GitRepo, HostError, Lease, MergeMethod, NewPullRequest, PrState,
};
use foreman_git::{GitRepository, LocalHost};
use foreman_testkit::MemoryStore;

use crate::support::{Fixture, git, spec, write};

/// Pushes `branch` (from `origin/main`) with one commit per `(path, content)`, each with its
/// own message; returns the branch head.
async fn push_commits(repo: &GitRepository, branch: &str, files: &[(&str, &str)]) -> String {
    let wt = repo
        .add_worktree(&spec(&TicketId::new(), "ticket", branch, "origin/main"))
        .await
        .unwrap();
    for (path, content) in files {
        write(&wt, path, content);
        repo.commit_all(&wt, &format!("change {path}"))
            .await
            .unwrap()
            .expect("something to commit");
    }
    repo.push(branch, &Lease::Absent).await.unwrap();
    repo.head(&wt).await.unwrap()
}

fn parents(dir: &std::path::Path, rev: &str) -> Vec<String> {
    git(dir, &["rev-list", "--parents", "-n", "1", rev])
        .split_whitespace()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

/// No temporary merge worktree is left registered or on disk.
fn assert_no_merge_worktrees(repo: &GitRepository) {
    let list = git(repo.repo_dir(), &["worktree", "list", "--porcelain"]);
    assert!(!list.contains("/merges/"), "{list}");
    let merges = repo.project_dir().join("merges");
    if merges.exists() {
        assert_eq!(std::fs::read_dir(&merges).unwrap().count(), 0);
    }
}

/// The seed clone changes `src/lib.txt` line 2 on `main`; the branch changes it differently.
async fn conflicting_branch(f: &Fixture, repo: &GitRepository, branch: &str) -> String {
    push_commits(
        repo,
        branch,
        &[("src/lib.txt", "line 1\nline 2 (theirs)\nline 3\n")],
    )
    .await;
    git(
        &f.seed,
        &["pull", "--quiet", "--no-rebase", "origin", "main"],
    );
    f.write("src/lib.txt", "line 1\nline 2 (ours)\nline 3\n");
    f.commit_and_push("ours")
}

#[tokio::test]
async fn merge_commits_land_on_the_remote_base() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let head = push_commits(&repo, "foreman/A-1", &[("feature.txt", "feature\n")]).await;
    // main moves on meanwhile, so this is a real two-parent merge
    f.write("other.txt", "other\n");
    let before = f.commit_and_push("unrelated");
    // a merge worktree left behind by a crash is cleared
    std::fs::create_dir_all(repo.project_dir().join("merges/stale-1")).unwrap();

    let sha = repo
        .merge_branch_into("foreman/A-1", "main", "Merge A-1", MergeMethod::Merge)
        .await
        .unwrap();
    assert_eq!(f.origin_head("main").as_deref(), Some(sha.as_str()));
    assert_eq!(parents(&f.origin, "main"), [before.clone(), head]);
    assert_eq!(git(&f.origin, &["show", "main:feature.txt"]), "feature");
    assert_eq!(git(&f.origin, &["show", "main:other.txt"]), "other");
    assert_eq!(
        git(&f.origin, &["log", "-1", "--format=%s|%an", "main"]),
        "Merge A-1|Foreman"
    );
    assert_no_merge_worktrees(&repo);
    // the cached clone saw its own push
    assert_eq!(
        git(repo.repo_dir(), &["rev-parse", "refs/remotes/origin/main"]),
        sha
    );

    // idempotent: nothing new is committed or pushed
    let again = repo
        .merge_branch_into("foreman/A-1", "main", "Merge A-1", MergeMethod::Merge)
        .await
        .unwrap();
    assert_eq!(again, sha);
    assert_eq!(f.origin_head("main").as_deref(), Some(sha.as_str()));
    assert_no_merge_worktrees(&repo);
}

#[tokio::test]
async fn squash_merges_make_one_commit_and_are_idempotent() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let before = f.origin_head("main").unwrap();
    let head = push_commits(&repo, "foreman/S-1", &[("a.txt", "a\n"), ("b.txt", "b\n")]).await;

    let sha = repo
        .merge_branch_into(
            "foreman/S-1",
            "main",
            "Add a and b (#1)",
            MergeMethod::Squash,
        )
        .await
        .unwrap();
    assert_eq!(f.origin_head("main").as_deref(), Some(sha.as_str()));
    assert_eq!(parents(&f.origin, "main"), [before]);
    assert_eq!(
        git(&f.origin, &["log", "-1", "--format=%s", "main"]),
        "Add a and b (#1)"
    );
    assert_eq!(git(&f.origin, &["show", "main:a.txt"]), "a");
    assert_eq!(git(&f.origin, &["show", "main:b.txt"]), "b");
    // a squash leaves the head out of the base's history
    assert!(
        !repo
            .is_ancestor(&head, "refs/remotes/origin/main")
            .await
            .unwrap()
    );

    // squashing again adds nothing, so nothing is committed
    let again = repo
        .merge_branch_into(
            "foreman/S-1",
            "main",
            "Add a and b (#1)",
            MergeMethod::Squash,
        )
        .await
        .unwrap();
    assert_eq!(again, sha);
    assert_eq!(f.origin_head("main").as_deref(), Some(sha.as_str()));
    assert_no_merge_worktrees(&repo);
}

#[tokio::test]
async fn rebase_merges_replay_the_commits_onto_the_base() {
    let f = Fixture::new();
    let repo = f.repo().await;
    push_commits(&repo, "foreman/R-1", &[("a.txt", "a\n"), ("b.txt", "b\n")]).await;
    f.write("other.txt", "other\n");
    let before = f.commit_and_push("unrelated");

    let sha = repo
        .merge_branch_into("foreman/R-1", "main", "unused", MergeMethod::Rebase)
        .await
        .unwrap();
    assert_eq!(f.origin_head("main").as_deref(), Some(sha.as_str()));
    // linear: the two commits on top of the old base, no merge commit
    assert_eq!(git(&f.origin, &["rev-list", "--merges", "main"]), "");
    assert_eq!(
        git(
            &f.origin,
            &["log", "--format=%s", &format!("{before}..main")]
        ),
        "change b.txt\nchange a.txt"
    );
    assert_eq!(git(&f.origin, &["show", "main:b.txt"]), "b");
    assert_eq!(git(&f.origin, &["show", "main:other.txt"]), "other");

    // replaying again finds every commit upstream already
    let again = repo
        .merge_branch_into("foreman/R-1", "main", "unused", MergeMethod::Rebase)
        .await
        .unwrap();
    assert_eq!(again, sha);
    assert_no_merge_worktrees(&repo);
}

#[tokio::test]
async fn conflicts_are_aborted_and_nothing_is_pushed() {
    let f = Fixture::new();
    let repo = f.repo().await;
    let ours = conflicting_branch(&f, &repo, "foreman/C-1").await;
    for method in [MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase] {
        let err = repo
            .merge_branch_into("foreman/C-1", "main", "Merge C-1", method)
            .await
            .unwrap_err();
        let GitError::Conflict { head, base, files } = &err else {
            panic!("{method}: {err:?}")
        };
        assert_eq!((head.as_str(), base.as_str()), ("foreman/C-1", "main"));
        assert_eq!(files, &["src/lib.txt"], "{method}");
        assert_eq!(err.code(), "merge_conflict");
        assert_eq!(f.origin_head("main").as_deref(), Some(ours.as_str()));
        assert_no_merge_worktrees(&repo);
    }
}

#[tokio::test]
async fn merge_input_is_checked() {
    let f = Fixture::new();
    let repo = f.repo().await;
    push_commits(&repo, "foreman/I-1", &[("x.txt", "x\n")]).await;
    let merge = |head: &'static str, base: &'static str, message: &'static str| {
        let repo = &repo;
        async move {
            repo.merge_branch_into(head, base, message, MergeMethod::Merge)
                .await
        }
    };
    assert!(matches!(
        merge("main", "main", "m").await,
        Err(GitError::Invalid(_))
    ));
    assert!(matches!(
        merge("../x", "main", "m").await,
        Err(GitError::Invalid(_))
    ));
    assert!(matches!(
        merge("foreman/I-1", "main", "  ").await,
        Err(GitError::Invalid(_))
    ));
    let err = merge("foreman/none", "main", "m").await.unwrap_err();
    assert!(
        matches!(&err, GitError::NotFound { what } if what.contains("foreman/none")),
        "{err:?}"
    );
    let err = merge("foreman/I-1", "release", "m").await.unwrap_err();
    assert!(matches!(err, GitError::NotFound { .. }), "{err:?}");
}

fn request(head: &str) -> NewPullRequest {
    NewPullRequest {
        title: format!("Implement {head}"),
        body: String::new(),
        head: head.into(),
        base: "main".into(),
        draft: false,
        labels: Vec::new(),
        reviewers: Vec::new(),
    }
}

#[tokio::test]
async fn local_host_records_how_it_merged() {
    let f = Fixture::new();
    let repo = Arc::new(f.repo().await);
    let host = LocalHost::new(Arc::new(MemoryStore::new()), repo.clone());
    push_commits(&repo, "foreman/L-1", &[("l.txt", "l\n")]).await;
    let pr = host.create_pr(&request("foreman/L-1")).await.unwrap();

    let merged = host.merge_pr(pr.number, MergeMethod::Squash).await.unwrap();
    assert_eq!(merged.state, PrState::Merged);
    let record = host.record(pr.number).await.unwrap();
    assert_eq!(record.merge_method, Some(MergeMethod::Squash));
    assert_eq!(record.merge_commit, f.origin_head("main"));
    assert_eq!(
        git(&f.origin, &["log", "-1", "--format=%s", "main"]),
        format!("Implement foreman/L-1 (#{})", pr.number)
    );
    // a squash leaves the head out of main's history, yet the pull request stays merged
    assert_eq!(host.get_pr(pr.number).await.unwrap().state, PrState::Merged);
    assert_eq!(
        host.find_pr("foreman/L-1").await.unwrap().unwrap().state,
        PrState::Merged
    );
    let again = host.merge_pr(pr.number, MergeMethod::Merge).await.unwrap();
    assert_eq!(again.state, PrState::Merged);
    assert_eq!(
        host.record(pr.number).await.unwrap().merge_method,
        Some(MergeMethod::Squash),
        "the retry changed nothing"
    );
}

#[tokio::test]
async fn local_host_merge_conflicts_are_rejected_naming_the_files() {
    let f = Fixture::new();
    let repo = Arc::new(f.repo().await);
    let host = LocalHost::new(Arc::new(MemoryStore::new()), repo.clone());
    let ours = conflicting_branch(&f, &repo, "foreman/LC-1").await;
    let pr = host.create_pr(&request("foreman/LC-1")).await.unwrap();

    let err = host
        .merge_pr(pr.number, MergeMethod::Merge)
        .await
        .unwrap_err();
    let HostError::Remote(foreman_domain::remote::RemoteError::Conflict {
        service: "local",
        message,
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.starts_with("merge conflict"), "{message}");
    assert!(message.contains("src/lib.txt"), "{message}");
    assert!(message.contains("main"), "{message}");
    assert_eq!(f.origin_head("main").as_deref(), Some(ours.as_str()));
    let still = host.get_pr(pr.number).await.unwrap();
    assert_eq!(still.state, PrState::Open);
    assert_eq!(host.record(pr.number).await.unwrap().merge_commit, None);
}

#[tokio::test]
async fn concurrent_merges_of_one_pull_request_merge_it_once() {
    let f = Fixture::new();
    let repo = Arc::new(f.repo().await);
    let store = Arc::new(MemoryStore::new());
    // two hosts over one store and one clone (two workers of one daemon), plus a retry
    let a = LocalHost::new(store.clone(), repo.clone());
    let b = LocalHost::new(store, repo.clone());
    push_commits(&repo, "foreman/CC-1", &[("cc.txt", "cc\n")]).await;
    f.write("other.txt", "other\n");
    f.commit_and_push("unrelated");
    let pr = a.create_pr(&request("foreman/CC-1")).await.unwrap();

    let (x, y, z) = tokio::join!(
        a.merge_pr(pr.number, MergeMethod::Merge),
        b.merge_pr(pr.number, MergeMethod::Merge),
        a.merge_pr(pr.number, MergeMethod::Merge),
    );
    for r in [x, y, z] {
        assert_eq!(r.unwrap().state, PrState::Merged);
    }
    let merges = git(&f.origin, &["rev-list", "--merges", "main"]);
    assert_eq!(merges.lines().count(), 1, "{merges}");
    assert_eq!(git(&f.origin, &["show", "main:cc.txt"]), "cc");
    assert_eq!(b.get_pr(pr.number).await.unwrap().state, PrState::Merged);
    assert_no_merge_worktrees(&repo);
}

#[cfg(unix)]
#[tokio::test]
async fn a_base_that_moves_during_the_merge_is_merged_again_on_top() {
    use std::os::unix::fs::PermissionsExt;

    let f = Fixture::new();
    let repo = f.repo().await;
    let head = push_commits(&repo, "foreman/RACE-1", &[("feature.txt", "feature\n")]).await;
    // someone pushes to main right after Foreman's first merge, before its push: a `git`
    // wrapper does it once its first merge finished (hooks never run for Foreman's git)
    let marker = f.dir.path().join("raced");
    let wrapper = f.dir.path().join("git-racing");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n\
             git \"$@\"; rc=$?\n\
             case \" $* \" in *\" merge --no-ff \"*) ;; *) exit $rc ;; esac\n\
             [ -e '{marker}' ] && exit $rc\n\
             touch '{marker}'\n\
             (cd '{seed}' && echo racer > racer.txt && git add racer.txt \\\n\
               && git -c user.name=Racer -c user.email=r@example.com commit --quiet -m racer \\\n\
               && git push --quiet origin HEAD:main) >/dev/null 2>&1\n\
             exit $rc\n",
            marker = marker.display(),
            seed = f.seed.display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = f.config();
    config.git_program = wrapper;
    let repo = GitRepository::new(config).unwrap();

    let sha = repo
        .merge_branch_into("foreman/RACE-1", "main", "Merge RACE-1", MergeMethod::Merge)
        .await
        .unwrap();
    assert!(marker.exists(), "the racing push happened");
    assert_eq!(f.origin_head("main").as_deref(), Some(sha.as_str()));
    let racer = git(&f.seed, &["rev-parse", "HEAD"]);
    assert_eq!(parents(&f.origin, "main"), [racer, head]);
    assert_eq!(git(&f.origin, &["show", "main:racer.txt"]), "racer");
    assert_eq!(git(&f.origin, &["show", "main:feature.txt"]), "feature");
    assert_no_merge_worktrees(&repo);
}
