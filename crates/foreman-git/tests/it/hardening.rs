//! Host git that model-written code cannot turn against the server: hooks, fsmonitor and other
//! config-driven commands do not run through Foreman's git, a swapped `.git` pointer or a
//! changed repository config is refused, and commits refuse secret files and undeclared files.
//! Every attack is first shown working with plain `git` (the control).

#![allow(
    clippy::print_stdout,
    reason = "the cost measurement reports its figures"
)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use foreman_domain::TicketId;
use foreman_domain::commit_policy::{CommitRules, Violation};
use foreman_domain::git::{DiffSpec, GitError, GitRepo, Worktree};
use foreman_git::GitRepository;

use crate::support::{Fixture, spec, write};

const BRANCH: &str = "foreman/DEMO-9-harden";

/// A repository synced from the fixture and one worktree of it.
async fn setup(f: &Fixture) -> (GitRepository, Worktree) {
    let repo = f.repo().await;
    let ticket = TicketId::from_string("T-HARD");
    let wt = repo
        .add_worktree(&spec(&ticket, "ticket", BRANCH, "origin/main"))
        .await
        .expect("worktree");
    (repo, wt)
}

/// Plain git as a person (or a test the model wrote) would run it in `dir`: the repository is
/// found from the directory, the machine's global config ignored.
fn plain_git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args([
            "-c",
            "user.name=Model",
            "-c",
            "user.email=model@example.com",
        ])
        .args(args)
        .output()
        .expect("git runs")
}

/// An executable script that creates `marker` when it runs.
fn marker_script(path: &Path, marker: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        format!("#!/bin/sh\ntouch '{}'\nexit 0\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn set_repo_config(repo: &GitRepository, key: &str, value: &str) {
    let out = Command::new("git")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(["config", "--file"])
        .arg(repo.repo_dir().join("config"))
        .args([key, value])
        .output()
        .unwrap();
    assert!(out.status.success());
}

fn unset_repo_config(repo: &GitRepository, key: &str) {
    let out = Command::new("git")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(["config", "--file"])
        .arg(repo.repo_dir().join("config"))
        .args(["--unset", key])
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[track_caller]
fn assert_tampered(result: Result<impl std::fmt::Debug, GitError>, what: &str) {
    match result {
        Err(GitError::Tampered { what: w, detail }) => {
            assert!(
                w.contains(what),
                "tampered with {w:?} ({detail}), expected {what:?}"
            );
            let e = GitError::Tampered { what: w, detail };
            assert_eq!(e.code(), "tampered");
        }
        other => panic!("expected Tampered({what}), got {other:?}"),
    }
}

fn head_of(wt: &Worktree) -> String {
    String::from_utf8(plain_git(&wt.path, &["rev-parse", "HEAD"]).stdout)
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn a_hook_planted_in_the_repository_runs_for_plain_git_not_for_foreman() {
    let f = Fixture::new();
    let (repo, wt) = setup(&f).await;
    let marker = f.dir.path().join("hook-ran");
    marker_script(&repo.repo_dir().join("hooks/post-commit"), &marker);

    // control: plain git in the worktree runs the hook
    write(&wt, "a.txt", "a\n");
    assert!(plain_git(&wt.path, &["add", "-A"]).status.success());
    assert!(
        plain_git(&wt.path, &["commit", "-q", "-m", "plain"])
            .status
            .success()
    );
    assert!(
        marker.exists(),
        "control: plain git commit runs the planted hook"
    );
    std::fs::remove_file(&marker).unwrap();

    // Foreman refuses to work on a repository someone planted a hook in, and runs nothing
    write(&wt, "b.txt", "b\n");
    let before = head_of(&wt);
    assert_tampered(repo.commit_all(&wt, "foreman").await, "hooks");
    assert!(!marker.exists());
    assert_eq!(head_of(&wt), before);

    // once the hook is gone, Foreman commits (and the hook path stays Foreman's empty one)
    std::fs::remove_file(repo.repo_dir().join("hooks/post-commit")).unwrap();
    repo.commit_all(&wt, "foreman").await.unwrap().unwrap();
    assert!(!marker.exists());
}

#[tokio::test]
async fn a_hooks_path_in_the_repository_config_runs_for_plain_git_not_for_foreman() {
    let f = Fixture::new();
    let (repo, wt) = setup(&f).await;
    let marker = f.dir.path().join("hook-ran");
    let hooks = f.dir.path().join("evil-hooks");
    marker_script(&hooks.join("post-commit"), &marker);
    set_repo_config(&repo, "core.hooksPath", hooks.to_str().unwrap());

    write(&wt, "a.txt", "a\n");
    assert!(plain_git(&wt.path, &["add", "-A"]).status.success());
    assert!(
        plain_git(&wt.path, &["commit", "-q", "-m", "plain"])
            .status
            .success()
    );
    assert!(marker.exists(), "control: plain git commit runs the hook");
    std::fs::remove_file(&marker).unwrap();

    write(&wt, "b.txt", "b\n");
    assert_tampered(repo.commit_all(&wt, "foreman").await, "repository config");
    assert!(!marker.exists());
}

#[tokio::test]
async fn fsmonitor_in_the_repository_config_runs_for_plain_git_not_for_foreman() {
    let f = Fixture::new();
    let (repo, wt) = setup(&f).await;
    let marker = f.dir.path().join("fsmonitor-ran");
    let monitor = f.dir.path().join("monitor.sh");
    marker_script(&monitor, &marker);
    set_repo_config(&repo, "core.fsmonitor", monitor.to_str().unwrap());

    write(&wt, "a.txt", "a\n");
    let _ = plain_git(&wt.path, &["status", "--porcelain"]);
    assert!(
        marker.exists(),
        "control: plain git status runs the fsmonitor command"
    );
    std::fs::remove_file(&marker).unwrap();

    assert_tampered(
        repo.diff_stat(&wt, &DiffSpec::WorkingTree).await,
        "repository config",
    );
    assert_tampered(repo.commit_all(&wt, "foreman").await, "repository config");
    assert_tampered(repo.sync().await, "repository config");
    assert!(!marker.exists());

    // removed again, Foreman works as before
    unset_repo_config(&repo, "core.fsmonitor");
    repo.commit_all(&wt, "foreman").await.unwrap().unwrap();
    assert!(!marker.exists());
}

#[tokio::test]
async fn a_filter_driver_in_the_config_runs_for_plain_git_not_for_foreman() {
    let f = Fixture::new();
    let (repo, wt) = setup(&f).await;
    let marker = f.dir.path().join("filter-ran");
    let filter = f.dir.path().join("filter.sh");
    // a clean filter must pass the content through
    std::fs::write(
        &filter,
        format!("#!/bin/sh\ntouch '{}'\ncat\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&filter, std::fs::Permissions::from_mode(0o755)).unwrap();
    set_repo_config(&repo, "filter.evil.clean", filter.to_str().unwrap());
    write(&wt, ".gitattributes", "* filter=evil\n");
    write(&wt, "a.txt", "a\n");

    assert!(plain_git(&wt.path, &["add", "-A"]).status.success());
    assert!(
        marker.exists(),
        "control: plain git add runs the clean filter"
    );
    // (a plain reset refreshes the index, running the filter again)
    assert!(plain_git(&wt.path, &["reset", "-q"]).status.success());
    std::fs::remove_file(&marker).unwrap();

    assert_tampered(repo.commit_all(&wt, "foreman").await, "repository config");
    assert!(!marker.exists());
}

#[tokio::test]
async fn other_config_changes_are_refused() {
    let f = Fixture::new();
    let (repo, wt) = setup(&f).await;
    for (key, value) in [
        ("core.sshCommand", "touch /tmp/foreman-never"),
        ("core.pager", "touch /tmp/foreman-never"),
        ("credential.helper", "!touch /tmp/foreman-never"),
        ("include.path", "/tmp/elsewhere.gitconfig"),
        ("diff.evil.textconv", "touch /tmp/foreman-never"),
        ("remote.origin.url", "/tmp/another-origin.git"),
        ("core.worktree", "/"),
    ] {
        let original = std::fs::read(repo.repo_dir().join("config")).unwrap();
        set_repo_config(&repo, key, value);
        assert_tampered(repo.head(&wt).await, "repository config");
        assert_tampered(repo.sync().await, "repository config");
        std::fs::write(repo.repo_dir().join("config"), original).unwrap();
        repo.head(&wt)
            .await
            .unwrap_or_else(|e| panic!("after {key}: {e}"));
    }
}

#[tokio::test]
async fn a_swapped_git_pointer_is_followed_by_plain_git_and_refused_by_foreman() {
    let f = Fixture::new();
    let (repo, wt) = setup(&f).await;
    // another repository, with a hook of its own
    let evil = f.dir.path().join("evil");
    assert!(
        plain_git(f.dir.path(), &["init", "-q", evil.to_str().unwrap()])
            .status
            .success()
    );
    let marker = f.dir.path().join("evil-hook-ran");
    marker_script(&evil.join(".git/hooks/post-commit"), &marker);
    let evil_git = evil.join(".git");
    std::fs::write(
        wt.path.join(".git"),
        format!("gitdir: {}\n", evil_git.display()),
    )
    .unwrap();

    // control: plain git follows the pointer
    let out = plain_git(&wt.path, &["rev-parse", "--absolute-git-dir"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        evil_git.to_str().unwrap()
    );
    write(&wt, "a.txt", "a\n");
    assert!(plain_git(&wt.path, &["add", "a.txt"]).status.success());
    assert!(
        plain_git(&wt.path, &["commit", "-q", "-m", "x"])
            .status
            .success()
    );
    assert!(
        marker.exists(),
        "control: plain git commits into the other repository"
    );
    std::fs::remove_file(&marker).unwrap();

    assert_tampered(repo.commit_all(&wt, "foreman").await, ".git pointer");
    assert_tampered(repo.head(&wt).await, ".git pointer");
    assert_tampered(repo.diff(&wt, &DiffSpec::WorkingTree).await, ".git pointer");
    assert!(!marker.exists());

    // a directory in its place is refused too
    std::fs::remove_file(wt.path.join(".git")).unwrap();
    std::fs::create_dir(wt.path.join(".git")).unwrap();
    assert_tampered(repo.commit_all(&wt, "foreman").await, ".git pointer");

    // the tampered worktree can still be removed
    repo.remove_worktree(&wt, true).await.unwrap();
    assert!(!wt.path.exists());
    let again = repo
        .add_worktree(&spec(
            &TicketId::from_string("T-HARD"),
            "ticket",
            BRANCH,
            "origin/main",
        ))
        .await
        .unwrap();
    repo.head(&again).await.unwrap();
}

#[tokio::test]
async fn a_changed_administrative_directory_is_refused() {
    let f = Fixture::new();
    let (repo, wt) = setup(&f).await;
    let admin = repo.repo_dir().join("worktrees/ticket");
    assert!(admin.join("gitdir").exists());

    std::fs::write(admin.join("commondir"), "/tmp\n").unwrap();
    assert_tampered(repo.head(&wt).await, "administrative directory");
    std::fs::write(admin.join("commondir"), "../..\n").unwrap();
    repo.head(&wt).await.unwrap();

    std::fs::write(admin.join("config.worktree"), "[core]\n\tfsmonitor = x\n").unwrap();
    assert_tampered(repo.head(&wt).await, "administrative directory");
    std::fs::remove_file(admin.join("config.worktree")).unwrap();

    let marker = f.dir.path().join("m");
    marker_script(&admin.join("hooks/post-commit"), &marker);
    assert_tampered(repo.head(&wt).await, "hooks");
    std::fs::remove_dir_all(admin.join("hooks")).unwrap();

    // Foreman's own empty directory (hooks path, HOME) must stay empty
    let empty = repo.project_dir().join("foreman/empty");
    std::fs::write(empty.join(".gitconfig"), "[core]\n\tfsmonitor = x\n").unwrap();
    assert_tampered(repo.head(&wt).await, "empty directory");
    std::fs::remove_file(empty.join(".gitconfig")).unwrap();
    repo.head(&wt).await.unwrap();
}

#[tokio::test]
async fn secret_files_are_never_committed() {
    let f = Fixture::new();
    let (repo, wt) = setup(&f).await;
    let before = head_of(&wt);
    for secret in [
        ".env",
        "keys/id_rsa",
        "config/api_token.txt",
        "certs/server.pem",
    ] {
        write(&wt, "ok.txt", secret);
        write(&wt, secret, "SECRET=1\n");
        match repo.commit_all(&wt, "with a secret").await {
            Err(GitError::CommitRefused { violations }) => {
                assert_eq!(
                    violations,
                    vec![Violation::SecretFile {
                        path: secret.to_owned()
                    }]
                );
            }
            other => panic!("{secret}: expected CommitRefused, got {other:?}"),
        }
        assert_eq!(head_of(&wt), before, "nothing was committed");
        let staged = repo.staged_paths(&wt).await.unwrap();
        assert!(staged.is_empty(), "nothing stays staged: {staged:?}");
        assert!(
            wt.path.join(secret).exists(),
            "the file stays in the worktree"
        );
        std::fs::remove_file(wt.path.join(secret)).unwrap();
    }
    // without the secret the same change commits
    let sha = repo.commit_all(&wt, "fine").await.unwrap().unwrap();
    assert_ne!(sha, before);
}

#[tokio::test]
async fn files_outside_the_declared_ones_need_permission() {
    let f = Fixture::new();
    let (repo, wt) = setup(&f).await;
    let rules = CommitRules::new(["src/lib.txt"]);
    write(&wt, "src/lib.txt", "changed\n");
    write(&wt, "tests/lib_test.txt", "a test\n");
    write(&wt, "src/other.txt", "not declared\n");
    let before = head_of(&wt);
    match repo.commit_checked(&wt, "task", &rules).await {
        Err(e @ GitError::CommitRefused { .. }) => {
            assert_eq!(e.code(), "commit_refused");
            let GitError::CommitRefused { violations } = e else {
                unreachable!()
            };
            assert_eq!(
                violations,
                vec![Violation::Undeclared {
                    path: "src/other.txt".to_owned()
                }]
            );
        }
        other => panic!("expected CommitRefused, got {other:?}"),
    }
    assert_eq!(head_of(&wt), before);

    // allowed by the plan, the same change commits (declared file, test and extra file)
    let sha = repo
        .commit_checked(&wt, "task", &rules.clone().with_extra(true))
        .await
        .unwrap()
        .unwrap();
    let files = plain_git(&wt.path, &["show", "--name-only", "--format=", &sha]);
    let files = String::from_utf8_lossy(&files.stdout);
    assert!(files.contains("src/other.txt") && files.contains("tests/lib_test.txt"));

    // a deletion of an undeclared file is not an addition of it
    std::fs::remove_file(wt.path.join("src/other.txt")).unwrap();
    write(&wt, "src/lib.txt", "again\n");
    repo.commit_checked(&wt, "task", &rules)
        .await
        .unwrap()
        .unwrap();
}

/// A repository inside the worktree, once committed as a gitlink, makes git look into it for
/// changes, running the filter its own config defines: Foreman never commits one.
#[tokio::test]
async fn a_repository_inside_the_worktree_is_never_committed() {
    let f = Fixture::new();
    let (repo, wt) = setup(&f).await;
    let marker = f.dir.path().join("nested-filter-ran");
    let nested = wt.path.join("vendor/nested");
    std::fs::create_dir_all(&nested).unwrap();
    assert!(plain_git(&nested, &["init", "-q"]).status.success());
    write(&wt, "vendor/nested/.gitattributes", "* filter=evil\n");
    write(&wt, "vendor/nested/f.txt", "x\n");
    assert!(plain_git(&nested, &["add", "-A"]).status.success());
    assert!(
        plain_git(&nested, &["commit", "-q", "-m", "nested"])
            .status
            .success()
    );
    let filter = format!("touch '{}'; cat", marker.display());
    assert!(
        plain_git(&nested, &["config", "filter.evil.clean", &filter])
            .status
            .success()
    );

    // control, in a copy of the situation: once the gitlink is committed, plain git status
    // looks into the nested repository and its filter runs
    let control = f.dir.path().join("control");
    assert!(
        plain_git(f.dir.path(), &["init", "-q", control.to_str().unwrap()])
            .status
            .success()
    );
    let copy = Command::new("cp")
        .args(["-a"])
        .arg(&nested)
        .arg(control.join("nested"))
        .status()
        .unwrap();
    assert!(copy.success());
    assert!(plain_git(&control, &["add", "-A"]).status.success());
    assert!(
        plain_git(&control, &["commit", "-q", "-m", "gitlink"])
            .status
            .success()
    );
    std::fs::write(control.join("nested/f.txt"), "changed\n").unwrap();
    let _ = plain_git(&control, &["status", "--porcelain"]);
    assert!(
        marker.exists(),
        "control: git status ran the nested repository's filter"
    );
    std::fs::remove_file(&marker).unwrap();

    write(&wt, "src/ok.txt", "fine\n");
    repo.diff_stat(&wt, &DiffSpec::WorkingTree).await.unwrap();
    match repo.commit_all(&wt, "with a nested repository").await {
        Err(GitError::CommitRefused { violations }) => assert_eq!(
            violations,
            vec![Violation::EmbeddedRepository {
                path: "vendor/nested".to_owned()
            }]
        ),
        other => panic!("expected CommitRefused, got {other:?}"),
    }
    std::fs::write(nested.join("f.txt"), "changed\n").unwrap();
    repo.diff_stat(&wt, &DiffSpec::WorkingTree).await.unwrap();
    assert!(matches!(
        repo.commit_all(&wt, "again").await,
        Err(GitError::CommitRefused { .. })
    ));
    assert!(
        !marker.exists(),
        "the nested repository's filter ran through Foreman's git"
    );
}

/// The server's own environment (`GIT_DIR`, `GIT_CONFIG_*`, a `HOME` with a global config)
/// does not reach Foreman's git. Runs itself again as a child process with that environment
/// (the tests cannot change their own environment: `unsafe` is forbidden).
#[test]
fn the_servers_git_environment_does_not_leak_into_foremans_git() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("env-hook-ran");
    let hooks = dir.path().join("hooks");
    marker_script(&hooks.join("post-commit"), &marker);
    let monitor = dir.path().join("monitor.sh");
    marker_script(&monitor, &marker);
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join(".gitconfig"),
        format!(
            "[core]\n\thooksPath = {}\n\tfsmonitor = {}\n",
            hooks.display(),
            monitor.display()
        ),
    )
    .unwrap();
    let stray = dir.path().join("stray");
    assert!(
        plain_git(dir.path(), &["init", "-q", stray.to_str().unwrap()])
            .status
            .success()
    );
    let env = [
        ("GIT_DIR", stray.join(".git").into_os_string()),
        ("GIT_WORK_TREE", stray.clone().into_os_string()),
        ("GIT_INDEX_FILE", stray.join("index").into_os_string()),
        ("GIT_CONFIG_COUNT", "1".into()),
        ("GIT_CONFIG_KEY_0", "core.hooksPath".into()),
        ("GIT_CONFIG_VALUE_0", hooks.clone().into_os_string()),
        (
            "GIT_CONFIG_PARAMETERS",
            format!("'core.fsmonitor'='{}'", monitor.display()).into(),
        ),
        (
            "GIT_CONFIG_GLOBAL",
            home.join(".gitconfig").into_os_string(),
        ),
        ("HOME", home.clone().into_os_string()),
        ("FOREMAN_TEST_MARKER", marker.clone().into_os_string()),
    ];

    // control: plain git in a fresh repository with this environment runs the hook
    let control = dir.path().join("control");
    assert!(
        plain_git(dir.path(), &["init", "-q", control.to_str().unwrap()])
            .status
            .success()
    );
    std::fs::write(control.join("a"), "a").unwrap();
    let out = Command::new("git")
        .current_dir(&control)
        .envs(
            env.iter()
                .filter(|(k, _)| {
                    !k.starts_with("GIT_DIR")
                        && !k.starts_with("GIT_WORK_TREE")
                        && !k.starts_with("GIT_INDEX")
                })
                .cloned(),
        )
        .args(["-c", "user.name=a", "-c", "user.email=a@b"])
        .args(["commit", "-q", "--allow-empty", "-m", "x"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        marker.exists(),
        "control: the environment's hooks path applies to plain git"
    );
    std::fs::remove_file(&marker).unwrap();

    let out = Command::new(std::env::current_exe().unwrap())
        .envs(env.iter().cloned())
        .args([
            "--exact",
            "hardening::foreman_git_under_a_hostile_environment",
            "--ignored",
            "--nocapture",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !marker.exists(),
        "a hook or fsmonitor of the environment ran"
    );
    // and the stray repository named by GIT_DIR was not touched
    let log = plain_git(&stray, &["log", "--oneline"]);
    assert!(!log.status.success(), "the stray repository has no commits");
}

/// The child of [`the_servers_git_environment_does_not_leak_into_foremans_git`].
#[tokio::test]
#[ignore = "run by the_servers_git_environment_does_not_leak_into_foremans_git"]
async fn foreman_git_under_a_hostile_environment() {
    let marker = PathBuf::from(std::env::var_os("FOREMAN_TEST_MARKER").expect("run by its parent"));
    for isolate in [true, false] {
        let f = Fixture::new();
        let mut config = f.config();
        config.isolate_config = isolate;
        let repo = GitRepository::new(config).unwrap();
        repo.sync().await.unwrap();
        let wt = repo
            .add_worktree(&spec(
                &TicketId::from_string("T-ENV"),
                "ticket",
                BRANCH,
                "origin/main",
            ))
            .await
            .unwrap();
        write(&wt, "a.txt", "a\n");
        repo.diff_stat(&wt, &DiffSpec::WorkingTree).await.unwrap();
        let sha = repo.commit_all(&wt, "foreman").await.unwrap().unwrap();
        assert_eq!(repo.head(&wt).await.unwrap(), sha);
        assert!(
            !marker.exists(),
            "isolate_config = {isolate}: something ran"
        );
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The cost of Foreman's git commands (`cargo nextest run -p foreman-git --run-ignored only
/// cost_of`): 200 working-tree diff stats (`read-tree`, `add -A`, `diff`) and 200 commits
/// (`add -A`, staged paths, `commit`), 200 `head` reads (files only: the checks' own cost), and
/// 200 plain `git status` for scale, per call.
#[tokio::test]
#[ignore = "a measurement, not a check; run on demand"]
async fn cost_of_git_commands() {
    const RUNS: usize = 200;
    let f = Fixture::new();
    let repo = f.repo().await;
    let ticket = TicketId::from_string("T-COST");
    let wt = repo
        .add_worktree(&spec(&ticket, "ticket", BRANCH, "origin/main"))
        .await
        .unwrap();
    let mut stat = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        write(&wt, "src/lib.txt", &format!("line {i}\n"));
        let t = Instant::now();
        repo.diff_stat(&wt, &DiffSpec::WorkingTree).await.unwrap();
        stat.push(t.elapsed());
    }
    let mut commit = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        write(&wt, "src/lib.txt", &format!("commit {i}\n"));
        let t = Instant::now();
        repo.commit_all(&wt, &format!("c{i}"))
            .await
            .unwrap()
            .unwrap();
        commit.push(t.elapsed());
    }
    let mut head = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        repo.head(&wt).await.unwrap();
        head.push(t.elapsed());
    }
    let mut plain = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let ok = Command::new("git")
            .current_dir(&wt.path)
            .args(["status", "--porcelain"])
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok);
        plain.push(t.elapsed());
    }
    let total = |v: &[Duration]| v.iter().sum::<Duration>();
    println!(
        "| diff_stat (working tree) | {RUNS} | {:.2} ms | {:.2} ms |",
        median(stat.clone()).as_secs_f64() * 1e3,
        total(&stat).as_secs_f64() * 1e3 / RUNS as f64
    );
    println!(
        "| commit_all | {RUNS} | {:.2} ms | {:.2} ms |",
        median(commit.clone()).as_secs_f64() * 1e3,
        total(&commit).as_secs_f64() * 1e3 / RUNS as f64
    );
    println!(
        "| head (files only, no git process) | {RUNS} | {:.3} ms | {:.3} ms |",
        median(head.clone()).as_secs_f64() * 1e3,
        total(&head).as_secs_f64() * 1e3 / RUNS as f64
    );
    println!(
        "| plain `git status --porcelain` | {RUNS} | {:.2} ms | {:.2} ms |",
        median(plain.clone()).as_secs_f64() * 1e3,
        total(&plain).as_secs_f64() * 1e3 / RUNS as f64
    );
}
