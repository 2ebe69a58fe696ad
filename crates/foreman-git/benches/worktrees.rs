//! Worktree create + remove time on a repository of 10,000 files.
//!
//! Run with `cargo bench -p foreman-git --bench worktrees`; prints a Markdown table row for
//! `docs/benchmarks.md`.

#![allow(clippy::print_stdout, reason = "a benchmark reports to the terminal")]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use foreman_domain::TicketId;
use foreman_domain::git::{GitRepo, WorktreeSpec};
use foreman_git::{GitRepository, RepoConfig};

const FILES: usize = 10_000;
const ROUNDS: usize = 10;

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .status()
        .expect("git runs")
        .success();
    assert!(ok, "git {args:?}");
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let origin = dir.path().join("origin.git");
    let seed = dir.path().join("seed");
    git(
        dir.path(),
        &["init", "--bare", "--quiet", origin.to_str().unwrap()],
    );
    git(dir.path(), &["init", "--quiet", seed.to_str().unwrap()]);
    for i in 0..FILES {
        let p = seed.join(format!("src/m{:03}/f{i}.rs", i % 100));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            p,
            format!("// file {i}\npub fn f{i}() -> usize {{ {i} }}\n"),
        )
        .unwrap();
    }
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "--quiet", "-m", "10k files"]);
    git(
        &seed,
        &["push", "--quiet", origin.to_str().unwrap(), "HEAD:main"],
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let repo = GitRepository::new(RepoConfig::new(
            "bench",
            origin.to_str().unwrap(),
            "main",
            dir.path().join("work"),
        ))
        .unwrap();
        repo.sync().await.unwrap();
        let mut create = Vec::new();
        let mut remove = Vec::new();
        for round in 0..ROUNDS {
            let spec = WorktreeSpec {
                ticket_id: TicketId::new(),
                name: "ticket".into(),
                branch: format!("foreman/BENCH-{round}"),
                start_point: "origin/main".into(),
            };
            let t = Instant::now();
            let wt = repo.add_worktree(&spec).await.unwrap();
            create.push(t.elapsed());
            let t = Instant::now();
            repo.remove_worktree(&wt, true).await.unwrap();
            remove.push(t.elapsed());
        }
        // the same work with plain git on the same clone, for comparison with the machine
        let mut plain = Vec::new();
        let target = dir.path().join("plain-worktree");
        for round in 0..ROUNDS {
            let t = Instant::now();
            git(repo.repo_dir(), &["worktree", "add", "--quiet", "-b", &format!("plain-{round}"), target.to_str().unwrap(), "origin/main"]);
            git(repo.repo_dir(), &["worktree", "remove", "--force", target.to_str().unwrap()]);
            plain.push(t.elapsed());
        }
        let total: Vec<Duration> = create.iter().zip(&remove).map(|(a, b)| *a + *b).collect();
        println!("| files | rounds | create median | remove median | create+remove median | create+remove p90 | plain git add+remove median |");
        println!("|---|---|---|---|---|---|---|");
        println!(
            "| {FILES} | {ROUNDS} | {} | {} | {} | {} | {} |",
            ms(median(&create)),
            ms(median(&remove)),
            ms(median(&total)),
            ms(pct(&total, 90)),
            ms(median(&plain)),
        );
    });
}

fn median(v: &[Duration]) -> Duration {
    pct(v, 50)
}

fn pct(v: &[Duration], p: usize) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[(s.len() - 1) * p / 100]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
