//! Temporary repositories with a local bare remote.

use std::path::{Path, PathBuf};
use std::process::Command;

use foreman_domain::TicketId;
use foreman_domain::git::{GitRepo, Worktree, WorktreeSpec};
use foreman_git::{GitRepository, RepoConfig};
use tempfile::TempDir;

/// Runs git with the machine's config ignored; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    // the test's own environment may carry git variables (see `hardening.rs`)
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("GIT_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .args([
            "-c",
            "user.name=Seeder",
            "-c",
            "user.email=seed@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare `origin.git`, a `seed` clone that pushes to it, and a work dir.
#[derive(Debug)]
pub struct Fixture {
    pub dir: TempDir,
    pub origin: PathBuf,
    pub seed: PathBuf,
    pub work: PathBuf,
}

impl Fixture {
    /// An origin whose `main` has one commit with `README.md` and `src/lib.txt`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let origin = dir.path().join("origin.git");
        let seed = dir.path().join("seed");
        let work = dir.path().join("work");
        git(
            dir.path(),
            &["init", "--bare", "--quiet", origin.to_str().unwrap()],
        );
        git(
            dir.path(),
            &[
                "clone",
                "--quiet",
                origin.to_str().unwrap(),
                seed.to_str().unwrap(),
            ],
        );
        let f = Self {
            dir,
            origin,
            seed,
            work,
        };
        f.write("README.md", "# demo\n");
        f.write("src/lib.txt", "line 1\nline 2\nline 3\n");
        f.commit_and_push("initial");
        f
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.seed.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Commits everything in the seed clone and pushes `main`.
    pub fn commit_and_push(&self, message: &str) -> String {
        git(&self.seed, &["add", "-A"]);
        git(&self.seed, &["commit", "--quiet", "-m", message]);
        git(&self.seed, &["push", "--quiet", "origin", "HEAD:main"]);
        git(&self.seed, &["rev-parse", "HEAD"])
    }

    pub fn config(&self) -> RepoConfig {
        RepoConfig::new("demo", self.origin.to_str().unwrap(), "main", &self.work)
    }

    pub async fn repo(&self) -> GitRepository {
        let repo = GitRepository::new(self.config()).expect("config is valid");
        repo.sync().await.expect("sync");
        repo
    }

    /// The head of a branch on the origin.
    pub fn origin_head(&self, branch: &str) -> Option<String> {
        let out = Command::new("git")
            .current_dir(&self.origin)
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

pub fn spec(ticket: &TicketId, name: &str, branch: &str, start: &str) -> WorktreeSpec {
    WorktreeSpec {
        ticket_id: ticket.clone(),
        name: name.to_owned(),
        branch: branch.to_owned(),
        start_point: start.to_owned(),
    }
}

pub fn write(wt: &Worktree, rel: &str, content: &str) {
    let p = wt.path.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}
